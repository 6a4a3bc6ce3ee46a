// Scratch memory for CPU ops: per-thread buffers in fixed slots that only ever grow, so once
// every layer shape has been seen (after the first training step) no op allocates.
#pragma once
#include <array>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

namespace dsx {

enum WsSlot : int {
  kWsPackA = 0,  // SGEMM packed A block
  kWsPackB,      // SGEMM packed B block
  kWsCol,        // im2col / col2im
  kWsPartial,    // per-thread partial sums (weight gradients)
  kWsShared,     // op-wide shared buffer (use with tid 0 only, outside parallel regions)
  kWsShared2,
  kWsLocal,      // per-thread op scratch
  kWsLocal2,
  kWsLocal3,
  kWsPtrs,      // per-thread row-pointer tables (stored in float slots)
  kWsInput,     // an op's input materialised through a folded BN+ReLU (tid 0, op-wide)
  kWsGroupIn,   // a batch regrouped around an op (tid 0, op-wide; scc_small_planes_cpu.cc)
  kWsGroupOut,
  kWsSlots
};

class Workspace {
 public:
  explicit Workspace(int threads) : bufs_(threads < 1 ? 1 : threads) {}
  ~Workspace() {
    for (auto& t : bufs_)
      for (auto& b : t) std::free(b.p);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  // At least n floats, 64-byte aligned, contents unspecified.
  float* get(int tid, int slot, size_t n) {
    Buf& b = bufs_[tid][slot];
    if (n > b.cap) {
      // emptied first: a failed allocation leaves capacity 0, never a null buffer under the
      // old capacity
      std::free(b.p);
      b.p = nullptr;
      b.cap = 0;
      const size_t cap = n + n / 4 + 64;
      b.p = static_cast<float*>(std::aligned_alloc(64, ((cap * sizeof(float) + 63) / 64) * 64));
      if (!b.p) throw std::bad_alloc();
      b.cap = cap;
    }
    return b.p;
  }
  float* get_zeroed(int tid, int slot, size_t n) {
    float* p = get(tid, slot, n);
    std::memset(p, 0, n * sizeof(float));
    return p;
  }

 private:
  struct Buf {
    float* p = nullptr;
    size_t cap = 0;
  };
  std::vector<std::array<Buf, kWsSlots>> bufs_;
};

}  // namespace dsx
