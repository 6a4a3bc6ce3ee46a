// CpuBackend: the Backend interface (backend.h) on the host, delegating to the CPU op
// library (ops_cpu.h). Device memory is plain 64-byte-aligned host memory.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <utility>

#include "ops/ops_cpu.h"
#include "ops/fault_hook.h"

namespace dsx {

namespace {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : ctx_(threads) {}

  std::string name() const override { return "cpu"; }
  int threads() const override { return ctx_.pool.size(); }

  void* alloc_bytes(size_t bytes) override {
    const size_t rounded = std::max<size_t>(64, (bytes + 63) / 64 * 64);
    void* p = std::aligned_alloc(64, rounded);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, rounded);
    return p;
  }
  void free_bytes(void* p) override { std::free(p); }
  void upload(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void zero(float* p, size_t n) override { std::memset(p, 0, n * sizeof(float)); }
  void copy(float* dst, const float* src, size_t n) override {
    if (dst != src) std::memmove(dst, src, n * sizeof(float));
  }
  void sync() override {}

  void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
             const float* B, int ldb, float beta, float* C, int ldc) override {
    fault_.at(__func__);
    sgemm_parallel(GemmArgs{transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc},
                   ctx_.pool, ctx_.ws);
  }

  void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                      float* y, InputFold in) override {
    fault_.at(__func__);
    cpu_conv2d_forward(ctx_, s, x, w, bias, y, in);
  }
  void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* dbias, bool overwrite_dx,
                       InputFold in) override {
    fault_.at(__func__);
    cpu_conv2d_backward(ctx_, s, x, w, dy, dx, dw, dbias, overwrite_dx, in);
  }
  void scc_forward(const SccShape& s, const float* x, const float* w, float* y,
                   InputFold in) override {
    fault_.at(__func__);
    cpu_scc_forward(ctx_, s, x, w, y, in);
  }
  void scc_backward(const SccShape& s, const float* x, const float* w, const float* dy, float* dx,
                    float* dw, bool overwrite_dx, InputFold in) override {
    fault_.at(__func__);
    cpu_scc_backward(ctx_, s, x, w, dy, dx, dw, overwrite_dx, in);
  }

  void batchnorm_forward_train(int N, int C, int HW, const float* x, const float* gamma,
                               const float* beta, float* y, float* save_mean, float* save_invstd,
                               float* running_mean, float* running_var, float momentum,
                               float eps) override {
    fault_.at(__func__);
    cpu_bn_forward_train(ctx_, N, C, HW, x, gamma, beta, y, save_mean, save_invstd, running_mean,
                         running_var, momentum, eps);
  }
  void batchnorm_forward_eval(int N, int C, int HW, const float* x, const float* gamma,
                              const float* beta, const float* running_mean,
                              const float* running_var, float eps, float* y) override {
    fault_.at(__func__);
    cpu_bn_forward_eval(ctx_, N, C, HW, x, gamma, beta, running_mean, running_var, eps, y);
  }
  void batchnorm_backward(int N, int C, int HW, const float* x, const float* gamma,
                          const float* save_mean, const float* save_invstd, const float* dy,
                          float* dx, float* dgamma, float* dbeta, bool overwrite_dx) override {
    fault_.at(__func__);
    cpu_bn_backward(ctx_, N, C, HW, x, gamma, save_mean, save_invstd, dy, dx, dgamma, dbeta,
                    overwrite_dx);
  }

  void batchnorm_relu_forward_train(int N, int C, int HW, const float* x, const float* gamma,
                                    const float* beta, float* y, float* save_mean,
                                    float* save_invstd, float* save_affine, float* running_mean,
                                    float* running_var, float momentum, float eps) override {
    fault_.at(__func__);
    cpu_bn_relu_forward_train(ctx_, N, C, HW, x, gamma, beta, y, save_mean, save_invstd,
                              save_affine, running_mean, running_var, momentum, eps);
  }
  void batchnorm_stats_train(int N, int C, int HW, const float* x, const float* gamma,
                             const float* beta, float* save_mean, float* save_invstd,
                             float* save_affine, float* running_mean, float* running_var,
                             float momentum, float eps) override {
    fault_.at(__func__);
    cpu_bn_stats_train(ctx_, N, C, HW, x, gamma, beta, save_mean, save_invstd, save_affine,
                       running_mean, running_var, momentum, eps);
  }
  void batchnorm_add_relu_forward(int N, int C, int HW, const float* x, const float* save_affine,
                                  const float* s, float* y) override {
    fault_.at(__func__);
    cpu_bn_add_relu_forward(ctx_, N, C, HW, x, save_affine, s, y);
  }
  void batchnorm_add_relu_backward(int N, int C, int HW, const float* x, const float* y,
                                   const float* gamma, const float* save_mean,
                                   const float* save_invstd, const float* dy, float* dx,
                                   float* ds, float* dgamma, float* dbeta, bool overwrite_dx,
                                   bool overwrite_ds) override {
    fault_.at(__func__);
    cpu_bn_add_relu_backward(ctx_, N, C, HW, x, y, gamma, save_mean, save_invstd, dy, dx, ds,
                             dgamma, dbeta, overwrite_dx, overwrite_ds);
  }
  void batchnorm_relu_backward(int N, int C, int HW, const float* x, const float* save_affine,
                               const float* gamma, const float* save_mean,
                               const float* save_invstd, const float* dy, float* dx,
                               float* dgamma, float* dbeta, bool overwrite_dx) override {
    fault_.at(__func__);
    cpu_bn_relu_backward(ctx_, N, C, HW, x, save_affine, gamma, save_mean, save_invstd, dy, dx,
                         dgamma, dbeta, overwrite_dx);
  }

  void relu_forward(size_t n, const float* x, float* y) override { fault_.at(__func__); cpu_relu_forward(ctx_, n, x, y); }
  void relu_backward(size_t n, const float* y, const float* dy, float* dx,
                     bool overwrite_dx) override {
    fault_.at(__func__);
    cpu_relu_backward(ctx_, n, y, dy, dx, overwrite_dx);
  }
  void add_forward(size_t n, const float* a, const float* b, float* y) override {
    fault_.at(__func__);
    cpu_add_forward(ctx_, n, a, b, y);
  }
  void add_backward(size_t n, const float* dy, float* da, float* db, bool overwrite_da,
                    bool overwrite_db) override {
    fault_.at(__func__);
    cpu_add_backward(ctx_, n, dy, da, db, overwrite_da, overwrite_db);
  }
  void maxpool_forward(const PoolShape& s, const float* x, float* y) override {
    fault_.at(__func__);
    cpu_maxpool_forward(ctx_, s, x, y);
  }
  void maxpool_backward(const PoolShape& s, const float* x, const float* dy, float* dx,
                        bool overwrite_dx) override {
    fault_.at(__func__);
    cpu_maxpool_backward(ctx_, s, x, dy, dx, overwrite_dx);
  }
  void gap_forward(int N, int C, int HW, const float* x, float* y) override {
    fault_.at(__func__);
    cpu_gap_forward(ctx_, N, C, HW, x, y);
  }
  void gap_backward(int N, int C, int HW, const float* dy, float* dx) override {
    fault_.at(__func__);
    cpu_gap_backward(ctx_, N, C, HW, dy, dx);
  }
  void linear_forward(int N, int In, int Out, const float* x, const float* w, const float* bias,
                      float* y) override {
    fault_.at(__func__);
    cpu_linear_forward(ctx_, N, In, Out, x, w, bias, y);
  }
  void linear_backward(int N, int In, int Out, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* dbias) override {
    fault_.at(__func__);
    cpu_linear_backward(ctx_, N, In, Out, x, w, dy, dx, dw, dbias);
  }
  void shuffle_forward(int N, int C, int HW, int groups, const float* x, float* y) override {
    fault_.at(__func__);
    cpu_shuffle(ctx_, N, C, HW, groups, false, x, y);
  }
  void shuffle_backward(int N, int C, int HW, int groups, const float* dy, float* dx) override {
    fault_.at(__func__);
    cpu_shuffle(ctx_, N, C, HW, groups, true, dy, dx);
  }
  void shortcut_a_forward(int N, int Cin, int H, int W, int stride, int Cout, int padFront,
                          const float* x, float* y) override {
    fault_.at(__func__);
    cpu_shortcut_a_forward(ctx_, N, Cin, H, W, stride, Cout, padFront, x, y);
  }
  void shortcut_a_backward(int N, int Cin, int H, int W, int stride, int Cout, int padFront,
                           const float* dy, float* dx) override {
    fault_.at(__func__);
    cpu_shortcut_a_backward(ctx_, N, Cin, H, W, stride, Cout, padFront, dy, dx);
  }
  void softmax_xent(int N, int K, const float* logits, const int32_t* labels, float grad_scale,
                    float* dlogits, double* loss_sum, int* correct) override {
    fault_.at(__func__);
    cpu_softmax_xent(N, K, logits, labels, grad_scale, dlogits, loss_sum, correct);
  }
  void softmax_xent_eval(int N, int K, const float* logits, const int32_t* labels,
                         double* loss_sum, int* correct) override {
    fault_.at(__func__);
    cpu_softmax_xent(N, K, logits, labels, 0.0f, nullptr, loss_sum, correct);
  }
  bool all_finite(size_t n, const float* x) override { fault_.at(__func__); return cpu_all_finite(ctx_, n, x); }
  void sgd_step(size_t n, float* p, const float* g, float* m, float lr, float momentum, float wd,
                bool nesterov) override {
    fault_.at(__func__);
    cpu_sgd_step(ctx_, n, p, g, m, lr, momentum, wd, nesterov);
  }

 private:
  CpuCtx ctx_;
  FaultHook fault_;  // DSXPLORE_FAULT_OP (tests): makes the named op fail
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min(threads, kMaxCpuThreads);
  return std::make_unique<CpuBackend>(threads);
}

const char* cpu_isa() {
#if defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
  return "avx2+fma";
#else
  return "scalar";
#endif
}

}  // namespace dsx
