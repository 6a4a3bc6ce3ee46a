// Shared plumbing of the CUDA kernels: error checks that throw (the addon turns them into JS
// errors), launch-size helpers, a deterministic block reduction, and the per-backend context
// (stream + growable scratch buffers) that the launchers in ops_cuda.cuh receive.
#pragma once
#ifdef DSX_CUDA_EMU
// Test-only build: the kernels run on CPU threads (native/test/emu), so their index
// arithmetic is checked by ctest on machines without a GPU.
#include "cuda_emu.h"
#else
#include <cuda_runtime.h>
// Kernel launch; the emulator defines its own.
#define DSX_LAUNCH(kernel, grid, block, smem, stream) kernel<<<(grid), (block), (smem), (stream)>>>
#endif

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace dsx {
namespace cuda {

// Checked launch mode, DSXPLORE_CUDA_SYNC=1 (read once): every kernel launch is followed by a
// device synchronisation, so an asynchronous error (a bad address, a trap) is reported by the
// kernel that caused it. Slow; for finding a failing kernel.
inline bool checked_launches() {
  static const bool on = [] {
    const char* e = std::getenv("DSXPLORE_CUDA_SYNC");
    return e && *e && std::strcmp(e, "0") != 0;
  }();
  return on;
}

inline void check(cudaError_t e, const char* what, const char* file, int line) {
  if (e != cudaSuccess) {
    throw std::runtime_error(std::string("CUDA error in ") + what + " (" + file + ":" +
                             std::to_string(line) + "): " + cudaGetErrorString(e) +
                             (checked_launches()
                                  ? ""
                                  : " (an asynchronous error may come from an earlier kernel; "
                                    "DSXPLORE_CUDA_SYNC=1 names the failing one)"));
  }
}
#define DSX_CUDA_CHECK(expr) ::dsx::cuda::check((expr), #expr, __FILE__, __LINE__)

inline void launched(const char* kernel, const char* file, int line) {
  check(cudaGetLastError(), kernel, file, line);
  if (checked_launches()) check(cudaDeviceSynchronize(), kernel, file, line);
}
// After a kernel launch: catches bad launch configurations at the call site (and, checked,
// the kernel's own errors).
#define DSX_CUDA_LAUNCHED(name) ::dsx::cuda::launched(name, __FILE__, __LINE__)

constexpr int kThreads = 256;
// Block size of the block-reduction kernels (any multiple of 32 up to 1024 works); the
// emulator runs the same 256.
constexpr int kReduceThreads = 256;

// Blocks for a grid-stride loop over n elements (only for DSX_GRID_STRIDE kernels: the
// loop covers whatever the capped grid does not).
inline unsigned blocks_for(size_t n, int threads = kThreads) {
  size_t b = (n + threads - 1) / threads;
#ifdef DSX_CUDA_EMU
  const size_t cap = 64;  // the emulator pays per block; a cap also tests the striding
#else
  const size_t cap = 1048576;
#endif
  return static_cast<unsigned>(b < 1 ? 1 : (b > cap ? cap : b));
}

// Scratch device buffers in fixed slots that only grow. Ops run in stream order on one
// stream, so a slot can be reused by the next op without synchronisation.
enum ScratchSlot : int {
  kScratchA = 0,  // im2col columns, gathered activations
  kScratchB,      // transposed gradients, GEMM output before scatter
  kScratchC,      // split-K / weight-gradient partial sums
  kScratchSmall,  // per-sample loss, flags, reduction results
  kScratchSlots
};

class Scratch {
 public:
  Scratch() = default;
  ~Scratch() { release(); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  float* get(int slot, size_t n) {
    Buf& b = bufs_[slot];
    if (n > b.cap) {
      // The slot is empty before anything can throw: a failed cudaMalloc (out of memory)
      // leaves it at capacity 0, so the next call allocates again instead of handing out a
      // null pointer under the old capacity. cudaFree waits for the device, so the old
      // buffer is no longer in use.
      float* old = b.p;
      b.p = nullptr;
      b.cap = 0;
      if (old) DSX_CUDA_CHECK(cudaFree(old));
      const size_t cap = n + n / 4 + 256;
      float* p = nullptr;
      DSX_CUDA_CHECK(cudaMalloc(&p, cap * sizeof(float)));
      b.p = p;
      b.cap = cap;
    }
    return b.p;
  }
  void release() {
    for (Buf& b : bufs_) {
      if (b.p) cudaFree(b.p);
      b.p = nullptr;
      b.cap = 0;
    }
  }

 private:
  struct Buf {
    float* p = nullptr;
    size_t cap = 0;
  };
  Buf bufs_[kScratchSlots];
};

class Gemm;  // gemm_cuda.cuh

// What every launcher needs: where to enqueue, scratch memory and the GEMM engine.
struct Ctx {
  cudaStream_t stream = nullptr;
  Scratch* scratch = nullptr;
  Gemm* gemm = nullptr;
  int sms = 80;  // multiprocessors, to size grids of reductions
};

#if defined(__CUDACC__) || defined(DSX_CUDA_EMU)
// Sum over the block in a fixed order (warp shuffles, then warp 0 over the warp sums), so a
// reduction gives the same bits on every run. blockDim.x must be a multiple of 32, <= 1024.
// Every thread gets the result.
template <typename T>
__device__ inline T block_sum(T v) {
  __shared__ T warp_sums[32];
  __shared__ T total;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int nw = blockDim.x >> 5;
    T s = lane < nw ? warp_sums[lane] : T(0);
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    if (lane == 0) total = s;
  }
  __syncthreads();
  T r = total;
  __syncthreads();  // the shared slots may be reused by the next call
  return r;
}

// The affine part of train-mode BN, as the CPU computes it (ops/ops_cpu.h bn_affine: one
// fused multiply-add), so that a BN+ReLU recomputed from its affine map rounds as it did.
__device__ __forceinline__ float bn_affine(float x, float scale, float shift) {
  return fmaf(x, scale, shift);
}
// x of channel c read through a folded BN+ReLU (InputFold: scale[C] then shift[C]), or as
// it is when fold is null.
__device__ __forceinline__ float fold_in(float x, const float* fold, int C, int c) {
  if (!fold) return x;
  const float v = bn_affine(x, fold[c], fold[C + c]);
  return v > 0.f ? v : 0.f;
}

#define DSX_GRID_STRIDE(i, n)                                                      \
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (size_t)(n); \
       i += (size_t)gridDim.x * blockDim.x)
#endif

}  // namespace cuda
}  // namespace dsx
