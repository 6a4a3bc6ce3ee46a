// Host-side launchers of every CUDA op, one .cu file per op family (scc_cuda.cu,
// conv_cuda.cu, norm_cuda.cu, pointwise_cuda.cu). They enqueue on ctx.stream and never
// synchronise, except the ops that return host values (softmax_xent*, all_finite).
// Semantics are those of the Backend methods of the same name (backend.h): backward
// launchers ADD into gradients and skip null ones.
#pragma once
#include <cstdint>

#include "backend.h"
#include "ops/common_cuda.cuh"

namespace dsx {
namespace cuda {

// ---- sliding-channel convolution (scc_cuda.cu) ----
// fold: a folded BN+ReLU applied to x as it is loaded (InputFold's affine, scale[Cin] then
// shift[Cin]), or null; overwrite_dx: dx is written, not added into.
void scc_forward(const Ctx& ctx, const SccShape& s, const float* x, const float* w, float* y,
                 const float* fold);
void scc_backward(const Ctx& ctx, const SccShape& s, const float* x, const float* w,
                  const float* dy, float* dx, float* dw, bool overwrite_dx, const float* fold);

// ---- convolution and linear layers, GEMM-shaped (conv_cuda.cu) ----
void conv2d_forward(const Ctx& ctx, const Conv2dShape& s, const float* x, const float* w,
                    const float* bias, float* y, const float* fold);
void conv2d_backward(const Ctx& ctx, const Conv2dShape& s, const float* x, const float* w,
                     const float* dy, float* dx, float* dw, float* dbias, bool overwrite_dx,
                     const float* fold);
void linear_forward(const Ctx& ctx, int N, int In, int Out, const float* x, const float* w,
                    const float* bias, float* y);
void linear_backward(const Ctx& ctx, int N, int In, int Out, const float* x, const float* w,
                     const float* dy, float* dx, float* dw, float* dbias);

// ---- reductions: batch norm, pooling to a vector, loss, checks (norm_cuda.cu) ----
void batchnorm_forward_train(const Ctx& ctx, int N, int C, int HW, const float* x,
                             const float* gamma, const float* beta, float* y, float* save_mean,
                             float* save_invstd, float* running_mean, float* running_var,
                             float momentum, float eps);
void batchnorm_forward_eval(const Ctx& ctx, int N, int C, int HW, const float* x,
                            const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, float eps, float* y);
void batchnorm_backward(const Ctx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                        const float* save_mean, const float* save_invstd, const float* dy,
                        float* dx, float* dgamma, float* dbeta, bool overwrite_dx);
// The fused BN ops of the Backend (backend.h), same statistics and affine map as above.
void batchnorm_relu_forward_train(const Ctx& ctx, int N, int C, int HW, const float* x,
                                  const float* gamma, const float* beta, float* y,
                                  float* save_mean, float* save_invstd, float* save_affine,
                                  float* running_mean, float* running_var, float momentum,
                                  float eps);
void batchnorm_stats_train(const Ctx& ctx, int N, int C, int HW, const float* x,
                           const float* gamma, const float* beta, float* save_mean,
                           float* save_invstd, float* save_affine, float* running_mean,
                           float* running_var, float momentum, float eps);
void batchnorm_relu_backward(const Ctx& ctx, int N, int C, int HW, const float* x,
                             const float* save_affine, const float* gamma,
                             const float* save_mean, const float* save_invstd, const float* dy,
                             float* dx, float* dgamma, float* dbeta, bool overwrite_dx);
void batchnorm_add_relu_forward(const Ctx& ctx, int N, int C, int HW, const float* x,
                                const float* save_affine, const float* s, float* y);
void batchnorm_add_relu_backward(const Ctx& ctx, int N, int C, int HW, const float* x,
                                 const float* y, const float* gamma, const float* save_mean,
                                 const float* save_invstd, const float* dy, float* dx, float* ds,
                                 float* dgamma, float* dbeta, bool overwrite_dx,
                                 bool overwrite_ds);
// dst[c] += sum over n, p of a[n, c, p]; deterministic (conv bias gradients)
void channel_sum_add(const Ctx& ctx, int N, int C, int HW, const float* a, float* dst);
void gap_forward(const Ctx& ctx, int N, int C, int HW, const float* x, float* y);
void gap_backward(const Ctx& ctx, int N, int C, int HW, const float* dy, float* dx);
// Enqueue the loss; results land in host-visible `out` (pinned) after the caller syncs.
struct LossResult {
  double loss_sum;
  int correct;
  int nonfinite;  // all_finite: count of non-finite values seen (0 or more)
};
void softmax_xent(const Ctx& ctx, int N, int K, const float* logits, const int32_t* labels,
                  float grad_scale, float* dlogits, LossResult* out_pinned);
void all_finite(const Ctx& ctx, size_t n, const float* x, LossResult* out_pinned);

// ---- elementwise and data movement (pointwise_cuda.cu) ----
void relu_forward(const Ctx& ctx, size_t n, const float* x, float* y);
void relu_backward(const Ctx& ctx, size_t n, const float* y, const float* dy, float* dx,
                   bool overwrite_dx);
void add_forward(const Ctx& ctx, size_t n, const float* a, const float* b, float* y);
// dst += src
void accumulate(const Ctx& ctx, size_t n, const float* src, float* dst);
void maxpool_forward(const Ctx& ctx, const PoolShape& s, const float* x, float* y);
void maxpool_backward(const Ctx& ctx, const PoolShape& s, const float* x, const float* dy,
                      float* dx, bool overwrite_dx);
void shuffle_forward(const Ctx& ctx, int N, int C, int HW, int groups, const float* x, float* y);
void shuffle_backward(const Ctx& ctx, int N, int C, int HW, int groups, const float* dy,
                      float* dx);
void shortcut_a_forward(const Ctx& ctx, int N, int Cin, int H, int W, int stride, int Cout,
                        int padFront, const float* x, float* y);
void shortcut_a_backward(const Ctx& ctx, int N, int Cin, int H, int W, int stride, int Cout,
                         int padFront, const float* dy, float* dx);
void sgd_step(const Ctx& ctx, size_t n, float* p, const float* g, float* m, float lr,
              float momentum, float wd, bool nesterov);
// y[r, c] += bias[c] for a [rows, cols] matrix, or per channel of [N, C, HW] (rows = N*C,
// cols = HW, bias index = row % C) when per_row is true
void add_bias(const Ctx& ctx, size_t rows, int cols, int C, bool per_row, const float* bias,
              float* y);
// dst[c] += sum over rows r of a[r, c] for a [rows, cols] matrix, rows in order
void column_sum_add(const Ctx& ctx, int rows, int cols, const float* a, float* dst);
// Per sample of x [N, Cx, HW] and y [N, Cy, HW], with map on the device:
// mode 0 gather y[o] = x[map[o]] (o < Cy); 1 scatter y[map[o]] = x[o] (o < Cx);
// 2 scatter-add y[map[o]] += x[o] (map must not repeat a channel). Used by benchmarks.
void channel_map(const Ctx& ctx, int mode, int N, int HW, int Cx, const float* x, int Cy,
                 float* y, const int* map);

}  // namespace cuda
}  // namespace dsx
