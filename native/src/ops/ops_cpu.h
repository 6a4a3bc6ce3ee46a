// The CPU op library behind CpuBackend: free functions, one file per op family
// (conv_cpu.cc, scc_cpu.cc, norm_cpu.cc, pointwise_cpu.cc), all taking the backend's context
// (thread pool, grow-only scratch, cached SCC plans). Semantics are those of backend.h.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "backend.h"
#include "ops/scc_plan.h"
#include "ops/gemm_cpu.h"
#include "ops/thread_pool.h"
#include "ops/workspace.h"

namespace dsx {

struct CpuCtx {
  explicit CpuCtx(int threads) : pool(threads), ws(threads) {}
  ThreadPool pool;
  Workspace ws;
  std::map<std::array<int, 4>, SccPlan> scc_plans;  // keyed by (Cin, Cout, groups, stride)
  const SccPlan& scc_plan(const SccShape& s);
  // Tap offsets of the stride-1 conv route (conv_wide_cpu.cc), for x and for dY; grow-only.
  std::vector<int32_t> wide_offsets[2];
};

// Upper bound of CpuBackend threads (per-thread partial buffers are indexed by thread).
constexpr int kMaxCpuThreads = 256;

// Elementwise work below this size runs on the caller: dispatch costs more than it saves.
constexpr int64_t kSerialBelow = 1 << 15;

// dst[i] += sum over t < T of parts[t][i], in thread order (per-thread weight-gradient
// partials: deterministic for a given thread count).
void add_partials(CpuCtx& ctx, float* const* parts, int T, size_t n, float* dst);

// The affine part of train-mode BN, x*scale + shift, written once so that every place that
// recomputes BN+ReLU outputs (the fused backward's ReLU mask, convs reading a folded BN+ReLU
// input) rounds exactly as the forward did.
inline float bn_affine(float x, float scale, float shift) {
#if defined(__FMA__)
  return __builtin_fmaf(x, scale, shift);
#else
  return x * scale + shift;
#endif
}
inline float bn_relu_of(float x, float scale, float shift) {
  const float v = bn_affine(x, scale, shift);
  return v > 0.0f ? v : 0.0f;
}

// An input read through a folded BN+ReLU: the op sees max(0, x*scale[c] + shift[c]) for
// channel c instead of x (affine = scale[C] then shift[C]); null means x as it is.
struct InputAffine {
  const float* affine = nullptr;
  int C = 0;
  InputAffine() = default;
  InputAffine(InputFold f) : affine(f.affine), C(f.channels) {}  // NOLINT: the Backend's fold
  explicit operator bool() const { return affine != nullptr; }
  float scale(int c) const { return affine[c]; }
  float shift(int c) const { return affine[C + c]; }
  // dst[i] = f_c(src[i]) for one row of channel c
  void row(int c, const float* __restrict src, float* __restrict dst, int n) const {
    const float sc = scale(c), sh = shift(c);
    for (int i = 0; i < n; ++i) dst[i] = bn_relu_of(src[i], sc, sh);
  }
};

// What the deployment executor (net/infer_cpu.h) has a conv or SCC do to its output as it
// is stored: y = relu?(y + bias[c] + residual), with residual laid out as y. Applied to each
// output tile or plane right after it is computed, while it is still in L1/L2, instead of
// as separate BN, add and ReLU passes over memory. Empty: y as computed. Training and
// evaluate never pass one (their rounding is pinned by recorded results).
struct Epilogue {
  const float* bias = nullptr;      // [Cout], the folded BN shift
  const float* residual = nullptr;  // same layout as y
  bool relu = false;
  explicit operator bool() const { return bias || residual || relu; }
  // the residual row at offset off into y's layout (null without one)
  const float* res_at(int64_t off) const { return residual ? residual + off : nullptr; }
  // n values of channel c: d[i] = relu?(d[i] + bias[c] + r[i]); r is res_at(d's offset)
  void apply(int c, float* __restrict d, const float* __restrict r, int n) const {
    const float b = bias ? bias[c] : 0.0f;
    if (r) {
      if (relu)
        for (int i = 0; i < n; ++i) d[i] = std::max(d[i] + b + r[i], 0.0f);
      else
        for (int i = 0; i < n; ++i) d[i] = d[i] + b + r[i];
    } else if (relu) {
      for (int i = 0; i < n; ++i) d[i] = std::max(d[i] + b, 0.0f);
    } else if (bias) {
      for (int i = 0; i < n; ++i) d[i] += b;
    }
  }
  // The same arithmetic on the first n values of a register vector V (GCC vector extension)
  // of channel c, for planes of a few pixels, where a pass over memory per channel costs more
  // than the op. Call it only when the epilogue is set (*this is true).
  template <class V>
  V apply_lanes(int c, V d, const float* __restrict r, int n) const {
    d += bias ? bias[c] : 0.0f;
    if (r) {
      V rv{};
      std::memcpy(&rv, r, sizeof(float) * n);
      d += rv;
    }
    if (relu) d = d < 0.0f ? V{} : d;  // as std::max(d, 0): keeps -0 and NaN
    return d;
  }
};

// in: the input is read through a folded BN+ReLU (see InputAffine; forward and the weight
// gradient, the only parts that read x). epi: the deployment epilogue (bias is then null).
// wide_packed: w as conv_wide_pack (conv_wide_cpu.h) laid it out, used when the call takes
// the wide route; null: packed on the call if it does.
void cpu_conv2d_forward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                        const float* bias, float* y, InputAffine in = {},
                        const Epilogue& epi = {}, const float* wide_packed = nullptr);
// Backward ops ADD into every gradient (backend.h), except that set_dx (set_da, set_db)
// makes them OVERWRITE that input gradient (the Backend's overwrite_* flags).
void cpu_conv2d_backward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                         const float* dy, float* dx, float* dw, float* dbias, bool set_dx = false,
                         InputAffine in = {});

// packed: the forward weights as scc_pack_forward laid them out (packed once per network by
// the deployment executor); null: packed from w on this call.
void cpu_scc_forward(CpuCtx& ctx, const SccShape& s, const float* x, const float* w, float* y,
                     InputAffine in = {}, const Epilogue& epi = {},
                     const float* packed = nullptr);
// The banded forward weights of an SCC (ctx's plan for s), scc_packed_size(ctx, s) floats.
size_t scc_packed_size(CpuCtx& ctx, const SccShape& s);
void scc_pack_forward(CpuCtx& ctx, const SccShape& s, const float* w, float* packed);
void cpu_scc_backward(CpuCtx& ctx, const SccShape& s, const float* x, const float* w,
                      const float* dy, float* dx, float* dw, bool set_dx = false,
                      InputAffine in = {});
// Train-mode BN whose output is never written (a BN+ReLU folded into its reader, or the BN
// of a fused BN+add+ReLU): statistics, running statistics and save_affine only.
void cpu_bn_stats_train(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                        const float* beta, float* save_mean, float* save_invstd,
                        float* save_affine, float* running_mean, float* running_var,
                        float momentum, float eps);
// y = max(0, bn(x) + s) from the statistics' save_affine (a residual block's tail).
void cpu_bn_add_relu_forward(CpuCtx& ctx, int N, int C, int HW, const float* x,
                             const float* affine, const float* s, float* y);
// Its backward from y and dy: dx (bn input) and ds (shortcut; never the same buffer as dx)
// overwritten when set_*, else added into; dgamma, dbeta added into.
void cpu_bn_add_relu_backward(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* y,
                              const float* gamma, const float* save_mean,
                              const float* save_invstd, const float* dy, float* dx, float* ds,
                              float* dgamma, float* dbeta, bool set_dx, bool set_ds);

void cpu_bn_forward_train(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                          const float* beta, float* y, float* save_mean, float* save_invstd,
                          float* running_mean, float* running_var, float momentum, float eps);
// Train-mode BN followed by ReLU: y = max(0, bn(x)) in one pass after the statistics.
// save_affine[2C] receives the per-channel scale and shift that produced y.
void cpu_bn_relu_forward_train(CpuCtx& ctx, int N, int C, int HW, const float* x,
                               const float* gamma, const float* beta, float* y, float* save_mean,
                               float* save_invstd, float* save_affine, float* running_mean,
                               float* running_var, float momentum, float eps);
void cpu_bn_forward_eval(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                         const float* beta, const float* running_mean, const float* running_var,
                         float eps, float* y);
void cpu_bn_backward(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                     const float* save_mean, const float* save_invstd, const float* dy, float* dx,
                     float* dgamma, float* dbeta, bool set_dx = false);

// Backward of y = max(0, bn(x)) from dy = dL/dy: the ReLU mask (y > 0) is recomputed from x
// and the forward's save_affine, bit for bit, so y itself is not read.
void cpu_bn_relu_backward(CpuCtx& ctx, int N, int C, int HW, const float* x,
                          const float* save_affine, const float* gamma, const float* save_mean,
                          const float* save_invstd, const float* dy, float* dx, float* dgamma,
                          float* dbeta, bool set_dx = false);

void cpu_relu_forward(CpuCtx& ctx, size_t n, const float* x, float* y);
void cpu_relu_backward(CpuCtx& ctx, size_t n, const float* y, const float* dy, float* dx,
                       bool set_dx = false);
void cpu_add_forward(CpuCtx& ctx, size_t n, const float* a, const float* b, float* y);
void cpu_add_backward(CpuCtx& ctx, size_t n, const float* dy, float* da, float* db,
                      bool set_da = false, bool set_db = false);
void cpu_maxpool_forward(CpuCtx& ctx, const PoolShape& s, const float* x, float* y);
void cpu_maxpool_backward(CpuCtx& ctx, const PoolShape& s, const float* x, const float* dy,
                          float* dx, bool set_dx = false);
void cpu_gap_forward(CpuCtx& ctx, int N, int C, int HW, const float* x, float* y);
void cpu_gap_backward(CpuCtx& ctx, int N, int C, int HW, const float* dy, float* dx);
void cpu_linear_forward(CpuCtx& ctx, int N, int In, int Out, const float* x, const float* w,
                        const float* bias, float* y);
void cpu_linear_backward(CpuCtx& ctx, int N, int In, int Out, const float* x, const float* w,
                         const float* dy, float* dx, float* dw, float* dbias);
void cpu_shuffle(CpuCtx& ctx, int N, int C, int HW, int groups, bool backward, const float* src,
                 float* dst);
void cpu_shortcut_a_forward(CpuCtx& ctx, int N, int Cin, int H, int W, int stride, int Cout,
                            int padFront, const float* x, float* y);
void cpu_shortcut_a_backward(CpuCtx& ctx, int N, int Cin, int H, int W, int stride, int Cout,
                             int padFront, const float* dy, float* dx);
void cpu_softmax_xent(int N, int K, const float* logits, const int32_t* labels, float grad_scale,
                      float* dlogits, double* loss_sum, int* correct);
bool cpu_all_finite(CpuCtx& ctx, size_t n, const float* x);
void cpu_sgd_step(CpuCtx& ctx, size_t n, float* p, const float* g, float* m, float lr,
                  float momentum, float wd, bool nesterov);

}  // namespace dsx
