// The backend interface: every primitive the network executor needs, on one device.
// The executor (net/) only ever talks to a Backend, so one model spec runs unchanged on the
// CPU (ops/cpu_backend.cc) or a CUDA GPU (ops/cuda_backend.cu). Pointers passed to a
// backend's ops are that backend's device pointers.
//
// Conventions shared by every op (llm.c habit):
//  - tensors are float32, NCHW, contiguous;
//  - forward ops overwrite their output;
//  - backward ops ADD into every gradient they produce (dx, dw, db...), so branches that
//    reuse a tensor (residual adds) accumulate naturally; a null gradient pointer means
//    "not needed" and that gradient is skipped;
//  - for a fixed thread count every op is deterministic (no racing float accumulation).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace dsx {

struct Conv2dShape {
  int N, Cin, H, W;      // input
  int Cout, K;           // square kernel K x K
  int stride, pad, groups;
  int Ho() const { return (H + 2 * pad - K) / stride + 1; }
  int Wo() const { return (W + 2 * pad - K) / stride + 1; }
};

// Sliding-channel convolution, DESIGN.md section 1. Weight [Cout, D], D = Cin / groups.
// Output channel c reads input channels (c*stride + k) mod Cin, k < D.
struct SccShape {
  int N, Cin, H, W;
  int Cout, groups, stride;  // stride = channel stride s, 1 <= s <= D
  int D() const { return Cin / groups; }
};

struct PoolShape {  // max pool, square window
  int N, C, H, W, K, stride, pad;
  int Ho() const { return (H + 2 * pad - K) / stride + 1; }
  int Wo() const { return (W + 2 * pad - K) / stride + 1; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "cpu" or "cuda:0"
  virtual int threads() const = 0;       // CPU worker threads used by this backend

  // ---- memory (device memory of this backend) ----
  virtual void* alloc_bytes(size_t bytes) = 0;  // zero-initialised
  virtual void free_bytes(void* p) = 0;
  virtual void upload(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void download(void* host_dst, const void* src, size_t bytes) = 0;
  virtual void zero(float* p, size_t n) = 0;
  virtual void copy(float* dst, const float* src, size_t n) = 0;
  virtual void sync() = 0;

  // ---- dense linear algebra: C = alpha * op(A) * op(B) + beta * C, row-major ----
  virtual void sgemm(bool transA, bool transB, int M, int N, int K, float alpha,
                     const float* A, int lda, const float* B, int ldb, float beta, float* C,
                     int ldc) = 0;

  // ---- convolution (standard, grouped and depthwise via groups). bias may be null ----
  virtual void conv2d_forward(const Conv2dShape& s, const float* x, const float* w,
                              const float* bias, float* y) = 0;
  virtual void conv2d_backward(const Conv2dShape& s, const float* x, const float* w,
                               const float* dy, float* dx, float* dw, float* dbias) = 0;

  // ---- sliding-channel convolution ----
  virtual void scc_forward(const SccShape& s, const float* x, const float* w, float* y) = 0;
  virtual void scc_backward(const SccShape& s, const float* x, const float* w, const float* dy,
                            float* dx, float* dw) = 0;

  // ---- batch norm over (N, H*W) per channel ----
  // train: uses batch statistics, writes save_mean/save_invstd [C] for backward, and updates
  // running stats: r = (1-momentum)*r + momentum*batch (running_var uses the unbiased var).
  virtual void batchnorm_forward_train(int N, int C, int HW, const float* x, const float* gamma,
                                       const float* beta, float* y, float* save_mean,
                                       float* save_invstd, float* running_mean,
                                       float* running_var, float momentum, float eps) = 0;
  virtual void batchnorm_forward_eval(int N, int C, int HW, const float* x, const float* gamma,
                                      const float* beta, const float* running_mean,
                                      const float* running_var, float eps, float* y) = 0;
  virtual void batchnorm_backward(int N, int C, int HW, const float* x, const float* gamma,
                                  const float* save_mean, const float* save_invstd,
                                  const float* dy, float* dx, float* dgamma, float* dbeta) = 0;

  // ---- pointwise and shape ops ----
  virtual void relu_forward(size_t n, const float* x, float* y) = 0;
  virtual void relu_backward(size_t n, const float* y, const float* dy, float* dx) = 0;
  virtual void add_forward(size_t n, const float* a, const float* b, float* y) = 0;
  virtual void add_backward(size_t n, const float* dy, float* da, float* db) = 0;
  virtual void maxpool_forward(const PoolShape& s, const float* x, float* y) = 0;
  virtual void maxpool_backward(const PoolShape& s, const float* x, const float* dy,
                                float* dx) = 0;
  // global average pool [N,C,H,W] -> [N,C]
  virtual void gap_forward(int N, int C, int HW, const float* x, float* y) = 0;
  virtual void gap_backward(int N, int C, int HW, const float* dy, float* dx) = 0;
  // y[N,Out] = x[N,In] * w[Out,In]^T + bias (bias may be null)
  virtual void linear_forward(int N, int In, int Out, const float* x, const float* w,
                              const float* bias, float* y) = 0;
  virtual void linear_backward(int N, int In, int Out, const float* x, const float* w,
                               const float* dy, float* dx, float* dw, float* dbias) = 0;
  // channel shuffle (ShuffleNet): view C as [groups, C/groups], transpose to [C/groups, groups]
  virtual void shuffle_forward(int N, int C, int HW, int groups, const float* x, float* y) = 0;
  virtual void shuffle_backward(int N, int C, int HW, int groups, const float* dy,
                                float* dx) = 0;
  // He et al. option-A shortcut: y = zero-pad channels (padFront before, rest after) of
  // x[:, :, ::stride, ::stride]. Output [N, Cout, Ho, Wo], Ho = ceil(H/stride).
  virtual void shortcut_a_forward(int N, int Cin, int H, int W, int stride, int Cout,
                                  int padFront, const float* x, float* y) = 0;
  virtual void shortcut_a_backward(int N, int Cin, int H, int W, int stride, int Cout,
                                   int padFront, const float* dy, float* dx) = 0;

  // ---- loss: mean softmax cross-entropy over the batch ----
  // Writes dlogits = (softmax - onehot) * grad_scale (overwrites), and on the host
  // returns sum of per-sample losses and number of argmax hits via the out-params.
  // labels are int32 device pointers.
  virtual void softmax_xent(int N, int K, const float* logits, const int32_t* labels,
                            float grad_scale, float* dlogits, double* loss_sum,
                            int* correct) = 0;
  // eval only: loss sum and hits, no gradient
  virtual void softmax_xent_eval(int N, int K, const float* logits, const int32_t* labels,
                                 double* loss_sum, int* correct) = 0;
  // sum of squares of n values and whether all are finite (for divergence checks)
  virtual bool all_finite(size_t n, const float* x) = 0;

  // ---- optimizer: SGD with momentum, L2 weight decay, optional Nesterov ----
  // g' = g + wd*p;  m = momentum*m + g';  p -= lr * (nesterov ? g' + momentum*m : m)
  virtual void sgd_step(size_t n, float* p, const float* g, float* m, float lr, float momentum,
                        float wd, bool nesterov) = 0;
};

// CPU backend, multi-threaded over `threads` workers (0 = all hardware threads).
std::unique_ptr<Backend> make_cpu_backend(int threads);

// CUDA backend on device `index`; returns nullptr and sets *why when unavailable
// (not compiled, no driver, no device). Defined in ops/cuda_backend.cu, or in
// ops/cuda_stub.cc when the build has no CUDA.
std::unique_ptr<Backend> make_cuda_backend(int index, std::string* why);

// What the build contains, for `dsxplore doctor`.
struct BuildInfo {
  bool cuda_compiled;
  bool cublas;
  std::string cuda_archs;    // e.g. "70;80;90"
  int cuda_device_count;     // 0 when none or not compiled
  std::string cuda_devices;  // human-readable, one per line
  std::string cuda_why;      // why CUDA is unavailable, empty when available
  std::string cublas_library;  // the cuBLAS found at run time (dlopen), empty when none
};
BuildInfo build_info();

}  // namespace dsx
