// The deployment executor on the CPU: what `dsxplore latency`, `bench -- infer`, a sweep's
// latency objective and netForward run when the device is the CPU. Built once per network
// from a spec and a state:
//  - every BN that alone reads a conv's or SCC's output (through a channel shuffle, too) is
//    folded into that op's weights and a bias, with the ONNX export's arithmetic
//    (src/deploy/export.ts: scale = gamma / sqrt(var + eps) and the products in double,
//    rounded to float once);
//  - the bias, a ReLU that alone reads the result, and a residual add (then its ReLU) are
//    the op's epilogue (ops_cpu.h Epilogue), applied as each output tile is stored;
//  - dense and depthwise convs of stride 1 or 2 run the direct route (ops/conv_direct_cpu.h:
//    output channels x output pixels in registers, no im2col or padded copy at stride 1),
//    the others cpu_conv2d_forward; stride-1 3x3 dense convs where it is faster, the Winograd
//    route (ops/conv_winograd_cpu.h: 2.25x fewer multiplications);
//  - weights are folded and packed here, once, and every run reuses them; activations live
//    in one arena whose buffers are shared along the schedule (by liveness), so a run
//    allocates nothing once the ops' grow-only scratch has seen the shapes;
//  - a large batch goes through the schedule a chunk of images at a time, the chunk sized
//    so that an activation of the chunk stays in L2 (every op is per image in eval mode):
//    layer after layer over the whole batch would stream every activation through memory;
//  - with several threads and at least one such chunk per thread, each thread runs whole
//    chunks through the schedule with single-threaded ops on its own copy of the chunk
//    buffers (one join per run); fewer images split each op across the threads instead.
// The folded network rounds differently from the layer-by-layer eval forward that
// `evaluate` and sweeps use for accuracy (Net::forward(n, false)), which therefore never
// runs through here. CUDA inference keeps Net::infer (its input-folded schedule): this
// executor calls the CPU op library directly.
#pragma once
#include <cstddef>
#include <cstdio>
#include <memory>
#include <vector>

#include "net/spec.h"

namespace dsx {

struct CpuCtx;

class CpuInference {
 public:
  // state: the network's state (Net::get_state layout), plan_net(spec).state_size() floats.
  // threads >= 1; capacity: the largest batch run() takes.
  CpuInference(const NetSpec& spec, const float* state, int threads, int capacity);
  ~CpuInference();
  CpuInference(const CpuInference&) = delete;
  CpuInference& operator=(const CpuInference&) = delete;

  const NetSpec& spec() const { return spec_; }
  int capacity() const { return capacity_; }
  int threads() const;
  float* input();                // [capacity, C, H, W], already normalised
  const float* output() const;   // [n, classes] of the last run
  void run(int n);
  // How many times weights have been folded or packed: at construction only, so this does
  // not change across runs (the executor's claim, checked by its tests).
  long packs() const { return packs_; }
  // Ops in the schedule and how many BNs were folded into a producer (for tests).
  int op_count() const { return static_cast<int>(ops_.size()); }
  int folded_bns() const { return folded_; }
  // Per-op time of every run so far (env DSXPLORE_PROFILE set, as for Net's profile).
  bool profiling() const { return profile_; }
  void print_profile(FILE* out) const;

 private:
  enum class Kind { Conv, Scc, Shuffle, Bn, Relu, MaxPool, Gap, Linear, Add, ShortcutA };
  static constexpr size_t kAbsent = static_cast<size_t>(-1);
  struct Op {
    Kind kind;
    int layer;          // the spec layer whose shape and parameters it runs
    int x = -1, y = -1;  // tensors read and written
    int res = -1;       // epilogue residual tensor (-1: none); add: its second input
    bool relu = false;  // epilogue ReLU
    bool direct = false;  // a conv on the direct route (conv_direct_cpu.h), `packed` its weights
    bool winograd = false;  // a conv on the Winograd route (conv_winograd_cpu.h), likewise
    size_t w = kAbsent, bias = kAbsent, packed = kAbsent;  // offsets into weights_
  };
  // tensor t's buffer; for images [i0, ...) of the batch (the input and the logits hold the
  // whole batch, every other tensor one chunk)
  // copy: whose chunk buffers (0: run's own; w: worker w's when images go to threads)
  float* buf(int t, int i0 = 0, int copy = 0) const {
    return arena_ + off_[t] +
           (whole_[t] ? static_cast<size_t>(i0) * tensor_size_[t] : static_cast<size_t>(copy) * arena_size_);
  }
  void plan_ops(const float* state);
  void plan_arena();
  void run_chunk(int i0, int n, CpuCtx& ctx, int copy);

  NetSpec spec_;
  int capacity_;
  int chunk_ = 1;  // images per pass through the schedule
  // images per pass when each thread runs whole passes on its own images (a large batch on
  // several threads): one join per run instead of one per op of every pass
  int thread_chunk_ = 1;
  std::unique_ptr<CpuCtx> ctx_;
  std::vector<std::unique_ptr<CpuCtx>> workers_;  // single-threaded contexts, one per thread
  size_t arena_size_ = 0;                         // floats of one copy of the chunk buffers
  std::vector<Op> ops_;
  std::vector<size_t> tensor_size_;  // floats per sample
  float* weights_ = nullptr;         // folded and packed weights, unfolded parameters
  size_t weights_size_ = 0;
  float* arena_ = nullptr;
  std::vector<size_t> off_;  // per tensor, into arena_
  std::vector<char> whole_;  // the tensor's buffer holds the whole batch (input, logits)
  long packs_ = 0;
  int folded_ = 0;
  bool profile_ = false;
  std::vector<double> op_seconds_;
  long runs_ = 0;
};

}  // namespace dsx
