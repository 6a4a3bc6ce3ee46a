// The backend interface: every primitive the network executor needs, on one device.
// The executor (net/) only ever talks to a Backend, so one model spec runs unchanged on the
// CPU (ops/backend_cpu.cc) or a CUDA GPU (ops/backend_cuda.cu). Pointers passed to a
// backend's ops are that backend's device pointers.
//
// Conventions shared by every op (llm.c habit):
//  - tensors are float32, NCHW, contiguous;
//  - forward ops overwrite their output;
//  - backward ops ADD into every gradient they produce (dx, dw, db...), so branches that
//    reuse a tensor (residual adds) accumulate naturally; a null gradient pointer means
//    "not needed" and that gradient is skipped. An input gradient whose `overwrite_*` flag
//    is set is OVERWRITTEN instead: the executor sets it for the first contribution to a
//    gradient buffer, which then needs no clearing (one write pass instead of a clear, a
//    read and a write). Such a gradient of relu, batchnorm (with or without relu) and add's
//    first input may be dy's own buffer: those backwards then run in place. Parameter
//    gradients (dw, dbias, dgamma, dbeta) are always added into;
//  - conv2d and scc may read their input x through a folded BN+ReLU (InputFold below);
//  - for a fixed thread count every op is deterministic (no racing float accumulation).
//  - Every backend implements every op: there is no optional interface and no state
//    carried from one call to the next.
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

// Sliding-channel convolution (README.md, first paragraph). Weight [Cout, D], D = Cin / groups.
// Output channel c reads input channels (c*stride + k) mod Cin, k < D: a cyclic window of
// width D that slides by the channel stride.
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

// An input read through a folded BN+ReLU: the op sees max(0, x*scale[c] + shift[c]) for
// input channel c instead of x, exactly as the BN+ReLU would have written it (the scale
// and shift are the forward's save_affine: scale[channels] then shift[channels], in the
// backend's memory; zero padding stays zero). Saves writing the BN+ReLU output and reading it
// back. Null affine: x as it is.
struct InputFold {
  const float* affine = nullptr;
  int channels = 0;
  explicit operator bool() const { return affine != nullptr; }
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
  // `in` folds a BN+ReLU into the read of x (forward and the weight gradient, the parts
  // that read x).
  virtual void conv2d_forward(const Conv2dShape& s, const float* x, const float* w,
                              const float* bias, float* y, InputFold in = {}) = 0;
  virtual void conv2d_backward(const Conv2dShape& s, const float* x, const float* w,
                               const float* dy, float* dx, float* dw, float* dbias,
                               bool overwrite_dx = false, InputFold in = {}) = 0;

  // ---- sliding-channel convolution ----
  virtual void scc_forward(const SccShape& s, const float* x, const float* w, float* y,
                           InputFold in = {}) = 0;
  virtual void scc_backward(const SccShape& s, const float* x, const float* w, const float* dy,
                            float* dx, float* dw, bool overwrite_dx = false,
                            InputFold in = {}) = 0;

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
                                  const float* dy, float* dx, float* dgamma, float* dbeta,
                                  bool overwrite_dx = false) = 0;

  // ---- fused batch norm (training), same numerics as the separate ops ----
  // Statistics in double; the per-channel affine map actually applied, scale[C] then
  // shift[C], goes to save_affine so that readers (InputFold) and backward recompute the
  // BN+ReLU output bit for bit.
  // batchnorm_forward_train then relu in place on y: y = max(0, bn(x)).
  virtual void batchnorm_relu_forward_train(int N, int C, int HW, const float* x,
                                            const float* gamma, const float* beta, float* y,
                                            float* save_mean, float* save_invstd,
                                            float* save_affine, float* running_mean,
                                            float* running_var, float momentum, float eps) = 0;
  // The statistics, running statistics and save_affine only, y never written: for a BN+ReLU
  // folded into its single reader, or the BN of a residual tail.
  virtual void batchnorm_stats_train(int N, int C, int HW, const float* x, const float* gamma,
                                     const float* beta, float* save_mean, float* save_invstd,
                                     float* save_affine, float* running_mean,
                                     float* running_var, float momentum, float eps) = 0;
  // Backward of y = max(0, bn(x)) from dy = dL/dy: the ReLU mask is recomputed from x and
  // save_affine, so y is not read. Into dx, dgamma, dbeta.
  virtual void batchnorm_relu_backward(int N, int C, int HW, const float* x,
                                       const float* save_affine, const float* gamma,
                                       const float* save_mean, const float* save_invstd,
                                       const float* dy, float* dx, float* dgamma, float* dbeta,
                                       bool overwrite_dx = false) = 0;
  // A residual block's tail, batchnorm -> add(shortcut s) -> relu, as one pass:
  // y = max(0, x*scale + shift + s), save_affine from batchnorm_stats_train.
  virtual void batchnorm_add_relu_forward(int N, int C, int HW, const float* x,
                                          const float* save_affine, const float* s,
                                          float* y) = 0;
  // Its backward from x, y and dy: into dx (BN input), ds (shortcut; never dx's buffer),
  // dgamma and dbeta.
  virtual void batchnorm_add_relu_backward(int N, int C, int HW, const float* x, const float* y,
                                           const float* gamma, const float* save_mean,
                                           const float* save_invstd, const float* dy, float* dx,
                                           float* ds, float* dgamma, float* dbeta,
                                           bool overwrite_dx = false,
                                           bool overwrite_ds = false) = 0;

  // ---- pointwise and shape ops ----
  virtual void relu_forward(size_t n, const float* x, float* y) = 0;
  virtual void relu_backward(size_t n, const float* y, const float* dy, float* dx,
                             bool overwrite_dx = false) = 0;
  virtual void add_forward(size_t n, const float* a, const float* b, float* y) = 0;
  virtual void add_backward(size_t n, const float* dy, float* da, float* db,
                            bool overwrite_da = false, bool overwrite_db = false) = 0;
  virtual void maxpool_forward(const PoolShape& s, const float* x, float* y) = 0;
  virtual void maxpool_backward(const PoolShape& s, const float* x, const float* dy, float* dx,
                                bool overwrite_dx = false) = 0;
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
// (not compiled, no driver, no device). Defined in ops/backend_cuda.cu, or in
// ops/backend_cuda_stub.cc when the build has no CUDA.
std::unique_ptr<Backend> make_cuda_backend(int index, std::string* why);

// The backend a device string names (ops/backend_factory.cc): "cpu", "cuda" (device 0),
// "cuda:N", or "auto" (CUDA device 0 when usable, else the CPU, with *fallback, if given,
// set to why CUDA was not used). Throws std::runtime_error for an unusable CUDA device or an
// unknown string, with what to do instead.
std::unique_ptr<Backend> make_backend(const std::string& device, int threads,
                                      std::string* fallback = nullptr);

// What the build contains, for `dsxplore doctor`.
struct BuildInfo {
  bool cuda_compiled;
  bool cublas;
  std::string cuda_archs;    // e.g. "70;80;90"
  int cuda_device_count;     // devices where a probe kernel ran; 0 when none or not compiled
  std::string cuda_devices;  // human-readable, one per line, each with its probe's result
  std::string cuda_why;      // why CUDA is unavailable, empty when available
  std::string cublas_library;  // the path of the cuBLAS loaded at run time, empty when none
  std::string cublas_why;      // why our own SGEMM is used instead, empty when cuBLAS is
};
BuildInfo build_info();

// The vector ISA the CPU kernels were compiled for ("avx512", "avx2+fma" or "scalar"):
// -march=native picks it at build time, so an addon built on an AVX-512 machine and one
// built on an AVX2 machine run different kernels and round differently.
const char* cpu_isa();

}  // namespace dsx
