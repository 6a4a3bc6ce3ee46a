// The Backend's ops on the CUDA launchers (ops_cuda.cuh), written once and shared by the
// CUDA backend (backend_cuda.cu) and the emulated one (native/test/emu), so that the
// emulator runs exactly the op layer a GPU runs. Memory, synchronisation and device
// selection are the subclass's; every op goes through op(), which
//  - selects the device (use());
//  - fails the op at once when DSXPLORE_FAULT_OP names it (fault injection, for tests);
//  - in the checked mode (DSXPLORE_CUDA_SYNC=1) synchronises after the op, so that an
//    asynchronous device error is reported by the op (and kernel, common_cuda.cuh) that
//    caused it instead of by a later synchronisation;
//  - names the backend and the op in any error it throws.
#pragma once
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>

#include "backend.h"
#include "ops/gemm_cuda.cuh"
#include "ops/ops_cuda.cuh"
#include "ops/fault_hook.h"

namespace dsx {

class CudaOps : public Backend {
 public:
  void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
             const float* B, int ldb, float beta, float* C, int ldc) override {
    op("sgemm", [&] {
      cuda::GemmArgs g;
      g.transA = transA; g.transB = transB;
      g.M = M; g.N = N; g.K = K; g.alpha = alpha;
      g.A = A; g.lda = lda; g.B = B; g.ldb = ldb; g.beta = beta; g.C = C; g.ldc = ldc;
      ctx_.gemm->run(ctx_, g);
    });
  }

  void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                      float* y, InputFold in) override {
    op("conv2d_forward", [&] { cuda::conv2d_forward(ctx_, s, x, w, bias, y, in.affine); });
  }
  void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* dbias, bool overwrite_dx,
                       InputFold in) override {
    op("conv2d_backward", [&] {
      cuda::conv2d_backward(ctx_, s, x, w, dy, dx, dw, dbias, overwrite_dx, in.affine);
    });
  }
  void scc_forward(const SccShape& s, const float* x, const float* w, float* y,
                   InputFold in) override {
    op("scc_forward", [&] { cuda::scc_forward(ctx_, s, x, w, y, in.affine); });
  }
  void scc_backward(const SccShape& s, const float* x, const float* w, const float* dy, float* dx,
                    float* dw, bool overwrite_dx, InputFold in) override {
    op("scc_backward",
       [&] { cuda::scc_backward(ctx_, s, x, w, dy, dx, dw, overwrite_dx, in.affine); });
  }

  void batchnorm_forward_train(int N, int C, int HW, const float* x, const float* gamma,
                               const float* beta, float* y, float* save_mean, float* save_invstd,
                               float* running_mean, float* running_var, float momentum,
                               float eps) override {
    op("batchnorm_forward_train", [&] {
      cuda::batchnorm_forward_train(ctx_, N, C, HW, x, gamma, beta, y, save_mean, save_invstd,
                                    running_mean, running_var, momentum, eps);
    });
  }
  void batchnorm_forward_eval(int N, int C, int HW, const float* x, const float* gamma,
                              const float* beta, const float* running_mean,
                              const float* running_var, float eps, float* y) override {
    op("batchnorm_forward_eval", [&] {
      cuda::batchnorm_forward_eval(ctx_, N, C, HW, x, gamma, beta, running_mean, running_var,
                                   eps, y);
    });
  }
  void batchnorm_backward(int N, int C, int HW, const float* x, const float* gamma,
                          const float* save_mean, const float* save_invstd, const float* dy,
                          float* dx, float* dgamma, float* dbeta, bool overwrite_dx) override {
    op("batchnorm_backward", [&] {
      cuda::batchnorm_backward(ctx_, N, C, HW, x, gamma, save_mean, save_invstd, dy, dx, dgamma,
                               dbeta, overwrite_dx);
    });
  }
  void batchnorm_relu_forward_train(int N, int C, int HW, const float* x, const float* gamma,
                                    const float* beta, float* y, float* save_mean,
                                    float* save_invstd, float* save_affine, float* running_mean,
                                    float* running_var, float momentum, float eps) override {
    op("batchnorm_relu_forward_train", [&] {
      cuda::batchnorm_relu_forward_train(ctx_, N, C, HW, x, gamma, beta, y, save_mean,
                                         save_invstd, save_affine, running_mean, running_var,
                                         momentum, eps);
    });
  }
  void batchnorm_stats_train(int N, int C, int HW, const float* x, const float* gamma,
                             const float* beta, float* save_mean, float* save_invstd,
                             float* save_affine, float* running_mean, float* running_var,
                             float momentum, float eps) override {
    op("batchnorm_stats_train", [&] {
      cuda::batchnorm_stats_train(ctx_, N, C, HW, x, gamma, beta, save_mean, save_invstd,
                                  save_affine, running_mean, running_var, momentum, eps);
    });
  }
  void batchnorm_relu_backward(int N, int C, int HW, const float* x, const float* save_affine,
                               const float* gamma, const float* save_mean,
                               const float* save_invstd, const float* dy, float* dx,
                               float* dgamma, float* dbeta, bool overwrite_dx) override {
    op("batchnorm_relu_backward", [&] {
      cuda::batchnorm_relu_backward(ctx_, N, C, HW, x, save_affine, gamma, save_mean,
                                    save_invstd, dy, dx, dgamma, dbeta, overwrite_dx);
    });
  }
  void batchnorm_add_relu_forward(int N, int C, int HW, const float* x, const float* save_affine,
                                  const float* s, float* y) override {
    op("batchnorm_add_relu_forward",
       [&] { cuda::batchnorm_add_relu_forward(ctx_, N, C, HW, x, save_affine, s, y); });
  }
  void batchnorm_add_relu_backward(int N, int C, int HW, const float* x, const float* y,
                                   const float* gamma, const float* save_mean,
                                   const float* save_invstd, const float* dy, float* dx,
                                   float* ds, float* dgamma, float* dbeta, bool overwrite_dx,
                                   bool overwrite_ds) override {
    op("batchnorm_add_relu_backward", [&] {
      cuda::batchnorm_add_relu_backward(ctx_, N, C, HW, x, y, gamma, save_mean, save_invstd, dy,
                                        dx, ds, dgamma, dbeta, overwrite_dx, overwrite_ds);
    });
  }

  void relu_forward(size_t n, const float* x, float* y) override {
    op("relu_forward", [&] { cuda::relu_forward(ctx_, n, x, y); });
  }
  void relu_backward(size_t n, const float* y, const float* dy, float* dx,
                     bool overwrite_dx) override {
    op("relu_backward", [&] { cuda::relu_backward(ctx_, n, y, dy, dx, overwrite_dx); });
  }
  void add_forward(size_t n, const float* a, const float* b, float* y) override {
    op("add_forward", [&] { cuda::add_forward(ctx_, n, a, b, y); });
  }
  void add_backward(size_t n, const float* dy, float* da, float* db, bool overwrite_da,
                    bool overwrite_db) override {
    op("add_backward", [&] {
      // An overwritten gradient is a copy of dy (none at all when it is dy's own buffer).
      for (auto [d, set] : {std::pair<float*, bool>{da, overwrite_da}, {db, overwrite_db}}) {
        if (!d) continue;
        if (!set)
          cuda::accumulate(ctx_, n, dy, d);
        else if (d != dy && n)
          DSX_CUDA_CHECK(cudaMemcpyAsync(d, dy, n * sizeof(float), cudaMemcpyDeviceToDevice,
                                         ctx_.stream));
      }
    });
  }
  void maxpool_forward(const PoolShape& s, const float* x, float* y) override {
    op("maxpool_forward", [&] { cuda::maxpool_forward(ctx_, s, x, y); });
  }
  void maxpool_backward(const PoolShape& s, const float* x, const float* dy, float* dx,
                        bool overwrite_dx) override {
    op("maxpool_backward", [&] { cuda::maxpool_backward(ctx_, s, x, dy, dx, overwrite_dx); });
  }
  void gap_forward(int N, int C, int HW, const float* x, float* y) override {
    op("gap_forward", [&] { cuda::gap_forward(ctx_, N, C, HW, x, y); });
  }
  void gap_backward(int N, int C, int HW, const float* dy, float* dx) override {
    op("gap_backward", [&] { cuda::gap_backward(ctx_, N, C, HW, dy, dx); });
  }
  void linear_forward(int N, int In, int Out, const float* x, const float* w, const float* bias,
                      float* y) override {
    op("linear_forward", [&] { cuda::linear_forward(ctx_, N, In, Out, x, w, bias, y); });
  }
  void linear_backward(int N, int In, int Out, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* dbias) override {
    op("linear_backward",
       [&] { cuda::linear_backward(ctx_, N, In, Out, x, w, dy, dx, dw, dbias); });
  }
  void shuffle_forward(int N, int C, int HW, int groups, const float* x, float* y) override {
    op("shuffle_forward", [&] { cuda::shuffle_forward(ctx_, N, C, HW, groups, x, y); });
  }
  void shuffle_backward(int N, int C, int HW, int groups, const float* dy, float* dx) override {
    op("shuffle_backward", [&] { cuda::shuffle_backward(ctx_, N, C, HW, groups, dy, dx); });
  }
  void shortcut_a_forward(int N, int Cin, int H, int W, int stride, int Cout, int padFront,
                          const float* x, float* y) override {
    op("shortcut_a_forward", [&] {
      cuda::shortcut_a_forward(ctx_, N, Cin, H, W, stride, Cout, padFront, x, y);
    });
  }
  void shortcut_a_backward(int N, int Cin, int H, int W, int stride, int Cout, int padFront,
                           const float* dy, float* dx) override {
    op("shortcut_a_backward", [&] {
      cuda::shortcut_a_backward(ctx_, N, Cin, H, W, stride, Cout, padFront, dy, dx);
    });
  }

  void softmax_xent(int N, int K, const float* logits, const int32_t* labels, float grad_scale,
                    float* dlogits, double* loss_sum, int* correct) override {
    op("softmax_xent", [&] {
      cuda::softmax_xent(ctx_, N, K, logits, labels, grad_scale, dlogits, result_);
      DSX_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
      if (loss_sum) *loss_sum = result_->loss_sum;
      if (correct) *correct = result_->correct;
    });
  }
  void softmax_xent_eval(int N, int K, const float* logits, const int32_t* labels,
                         double* loss_sum, int* correct) override {
    softmax_xent(N, K, logits, labels, 0.f, nullptr, loss_sum, correct);
  }
  bool all_finite(size_t n, const float* x) override {
    bool ok = true;
    op("all_finite", [&] {
      cuda::all_finite(ctx_, n, x, result_);
      DSX_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
      ok = result_->nonfinite == 0;
    });
    return ok;
  }
  void sgd_step(size_t n, float* p, const float* g, float* m, float lr, float momentum, float wd,
                bool nesterov) override {
    op("sgd_step", [&] { cuda::sgd_step(ctx_, n, p, g, m, lr, momentum, wd, nesterov); });
  }

 protected:
  // Makes this backend's device current for the calling host thread.
  virtual void use() = 0;

  // Runs one op (see the file comment).
  template <typename F>
  void op(const char* name, F&& f) {
    try {
      use();
      fault_.at(name);
      f();
      if (cuda::checked_launches()) DSX_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
    } catch (const std::exception& e) {
      throw std::runtime_error(this->name() + " " + name + ": " + e.what());
    }
  }

  cuda::Ctx ctx_;
  cuda::LossResult* result_ = nullptr;  // host-visible (pinned on a GPU)
  FaultHook fault_;
};

}  // namespace dsx
