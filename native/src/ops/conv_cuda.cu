// Convolution (standard, grouped, depthwise) and linear layers on the GPU.
//  - few input channels per group (depthwise 3x3): direct kernels; the input gradient is
//    gathered per dX element and the weight gradient reduced per weight in a fixed order;
//  - 1x1 stride-1 convs: GEMMs straight on the NCHW tensors, batched over (sample, group);
//  - otherwise im2col over a chunk of samples into [Cin*K*K, P] (P = samples * Ho*Wo), one
//    group-batched GEMM, and a scatter back to NCHW; backward gathers dY into [Cout, P],
//    so the weight gradient is one GEMM over P per chunk (accumulated chunk by chunk, in
//    order) and col2im gathers per dX element (no atomics).
#include <algorithm>

#include "ops/gemm_cuda.cuh"
#include "ops/ops_cuda.cuh"
#include "ops/window.h"

namespace dsx {
namespace cuda {

namespace {

constexpr size_t kColCap = size_t(1) << 26;  // floats per im2col chunk (256 MiB)

// ---- direct kernels (few input channels per group) ----
__global__ void conv_direct_fwd(Conv2dShape s, int Ho, int Wo, const float* __restrict__ x,
                                const float* __restrict__ fold, const float* __restrict__ w,
                                const float* __restrict__ bias, float* __restrict__ y) {
  const int cig_n = s.Cin / s.groups, cog_n = s.Cout / s.groups, KK = s.K * s.K;
  DSX_GRID_STRIDE(i, (size_t)s.N * s.Cout * Ho * Wo) {
    const int ow = static_cast<int>(i % Wo), oh = static_cast<int>((i / Wo) % Ho);
    const int co = static_cast<int>((i / ((size_t)Wo * Ho)) % s.Cout);
    const size_t n = i / ((size_t)Wo * Ho * s.Cout);
    const int g = co / cog_n;
    float acc = bias ? bias[co] : 0.f;
    for (int cig = 0; cig < cig_n; ++cig) {
      const int ci = g * cig_n + cig;
      const float* xc = x + ((size_t)n * s.Cin + ci) * s.H * s.W;
      const float* wc = w + ((size_t)co * cig_n + cig) * KK;
      for_each_tap(s.H, s.W, s.K, s.stride, s.pad, oh, ow, [&](int ih, int iw, int kh, int kw) {
        acc = fmaf(__ldg(&wc[kh * s.K + kw]), fold_in(__ldg(&xc[ih * s.W + iw]), fold, s.Cin, ci),
                   acc);
      });
    }
    y[i] = acc;
  }
}

// Calls f(kh, kw, oh, ow) for every output pixel that input pixel (ih, iw) fed through tap
// (kh, kw), in kh then kw order: the gather of every dX kernel here.
template <class F>
__device__ inline void for_each_fed_output(const Conv2dShape& s, int Ho, int Wo, int ih, int iw, F f) {
  for (int kh = 0; kh < s.K; ++kh) {
    const int t = ih + s.pad - kh;
    if (t < 0 || t % s.stride) continue;
    const int oh = t / s.stride;
    if (oh >= Ho) continue;
    for (int kw = 0; kw < s.K; ++kw) {
      const int u = iw + s.pad - kw;
      if (u < 0 || u % s.stride) continue;
      const int ow = u / s.stride;
      if (ow >= Wo) continue;
      f(kh, kw, oh, ow);
    }
  }
}

// dX element (n, ci, ih, iw) gathers from every output (co in its group, oh, ow) it fed.
__global__ void conv_direct_dx(Conv2dShape s, int Ho, int Wo, const float* __restrict__ w,
                               const float* __restrict__ dy, float* __restrict__ dx, bool set_dx) {
  const int cig_n = s.Cin / s.groups, cog_n = s.Cout / s.groups, KK = s.K * s.K;
  DSX_GRID_STRIDE(i, (size_t)s.N * s.Cin * s.H * s.W) {
    const int iw = static_cast<int>(i % s.W), ih = static_cast<int>((i / s.W) % s.H);
    const int ci = static_cast<int>((i / ((size_t)s.W * s.H)) % s.Cin);
    const size_t n = i / ((size_t)s.W * s.H * s.Cin);
    const int g = ci / cig_n, cig = ci % cig_n;
    float acc = 0.f;
    for (int cg = 0; cg < cog_n; ++cg) {
      const int co = g * cog_n + cg;
      const float* dyc = dy + ((size_t)n * s.Cout + co) * Ho * Wo;
      const float* wc = w + ((size_t)co * cig_n + cig) * KK;
      for_each_fed_output(s, Ho, Wo, ih, iw, [&](int kh, int kw, int oh, int ow) {
        acc = fmaf(__ldg(&wc[kh * s.K + kw]), __ldg(&dyc[oh * Wo + ow]), acc);
      });
    }
    dx[i] = set_dx ? acc : dx[i] + acc;
  }
}

// One block per weight element: sum over (n, oh, ow) with a fixed-order block reduction.
__global__ void conv_direct_dw(Conv2dShape s, int Ho, int Wo, const float* __restrict__ x,
                               const float* __restrict__ fold, const float* __restrict__ dy,
                               float* __restrict__ dw) {
  const int cig_n = s.Cin / s.groups, cog_n = s.Cout / s.groups, KK = s.K * s.K;
  const int widx = blockIdx.x;  // [co][cig][kh][kw]
  const int kw = widx % s.K, kh = (widx / s.K) % s.K, cig = (widx / KK) % cig_n;
  const int co = widx / (KK * cig_n);
  const int ci = (co / cog_n) * cig_n + cig;
  const int HWo = Ho * Wo;
  float acc = 0.f;
  for (size_t j = threadIdx.x; j < (size_t)s.N * HWo; j += blockDim.x) {
    const size_t n = j / HWo;
    const int p = static_cast<int>(j % HWo), oh = p / Wo, ow = p % Wo;
    const int ih = oh * s.stride - s.pad + kh, iw = ow * s.stride - s.pad + kw;
    if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
    acc = fmaf(__ldg(&dy[((size_t)n * s.Cout + co) * HWo + p]),
               fold_in(__ldg(&x[(((size_t)n * s.Cin + ci) * s.H + ih) * s.W + iw]), fold, s.Cin, ci),
               acc);
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) dw[widx] += acc;
}

// ---- im2col path ----
// col[(ci*KK + kh*K + kw) * P + (n - n0) * HWo + p]
// fold: the input read through a folded BN+ReLU (padding stays zero)
__global__ void im2col_kernel(Conv2dShape s, int Ho, int Wo, int n0, int nb,
                              const float* __restrict__ x, const float* __restrict__ fold,
                              float* __restrict__ col) {
  const int KK = s.K * s.K, HWo = Ho * Wo;
  const size_t P = (size_t)nb * HWo;
  DSX_GRID_STRIDE(i, (size_t)s.Cin * KK * P) {
    const size_t row = i / P, j = i % P;
    const int ci = static_cast<int>(row / KK), kk = static_cast<int>(row % KK);
    const int kh = kk / s.K, kw = kk % s.K;
    const int nl = static_cast<int>(j / HWo), p = static_cast<int>(j % HWo);
    const int ih = (p / Wo) * s.stride - s.pad + kh, iw = (p % Wo) * s.stride - s.pad + kw;
    float v = 0.f;
    if (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W)
      v = fold_in(__ldg(&x[(((size_t)(n0 + nl) * s.Cin + ci) * s.H + ih) * s.W + iw]), fold,
                  s.Cin, ci);
    col[i] = v;
  }
}

// dx[n, ci, ih, iw] += sum of the dcol entries that im2col copied this element into.
__global__ void col2im_kernel(Conv2dShape s, int Ho, int Wo, int n0, int nb,
                              const float* __restrict__ dcol, float* __restrict__ dx,
                              bool set_dx) {
  const int KK = s.K * s.K, HWo = Ho * Wo;
  const size_t P = (size_t)nb * HWo;
  DSX_GRID_STRIDE(i, (size_t)nb * s.Cin * s.H * s.W) {
    const int iw = static_cast<int>(i % s.W), ih = static_cast<int>((i / s.W) % s.H);
    const int ci = static_cast<int>((i / ((size_t)s.W * s.H)) % s.Cin);
    const int nl = static_cast<int>(i / ((size_t)s.W * s.H * s.Cin));
    float acc = 0.f;
    for_each_fed_output(s, Ho, Wo, ih, iw, [&](int kh, int kw, int oh, int ow) {
      acc += dcol[(size_t)(ci * KK + kh * s.K + kw) * P + (size_t)nl * HWo + oh * Wo + ow];
    });
    float& d = dx[(size_t)n0 * s.Cin * s.H * s.W + i];
    d = set_dx ? acc : d + acc;
  }
}

// [nb, C, HW] slice starting at sample n0 <-> [C, nb*HW] (fold: read through a folded
// BN+ReLU, or null)
__global__ void nchw_to_cp(int C, int HW, int n0, int nb, const float* __restrict__ a,
                           const float* __restrict__ fold, float* __restrict__ t) {
  const size_t P = (size_t)nb * HW;
  DSX_GRID_STRIDE(i, (size_t)C * P) {
    const size_t c = i / P, j = i % P, nl = j / HW, p = j % HW;
    t[i] = fold_in(a[(((size_t)n0 + nl) * C + c) * HW + p], fold, C, static_cast<int>(c));
  }
}

// y = x read through a folded BN+ReLU, for the routes whose reader is a GEMM
__global__ void fold_copy(size_t n, int C, int HW, const float* __restrict__ x,
                          const float* __restrict__ fold, float* __restrict__ y) {
  DSX_GRID_STRIDE(i, n) y[i] = fold_in(x[i], fold, C, static_cast<int>((i / HW) % C));
}
__global__ void cp_to_nchw(int C, int HW, int n0, int nb, const float* __restrict__ t,
                           const float* __restrict__ bias, float* __restrict__ a) {
  const size_t P = (size_t)nb * HW;
  DSX_GRID_STRIDE(i, (size_t)C * P) {
    const size_t nl = i / ((size_t)C * HW), c = (i / HW) % C, p = i % HW;
    a[(size_t)n0 * C * HW + i] = t[c * P + nl * HW + p] + (bias ? bias[c] : 0.f);
  }
}

bool use_direct(const Conv2dShape& s) { return (s.Cin / s.groups) * s.K * s.K <= 36; }
bool is_pointwise(const Conv2dShape& s) { return s.K == 1 && s.stride == 1 && s.pad == 0; }

int chunk_samples(const Conv2dShape& s, size_t per_sample) {
  size_t nb = kColCap / std::max<size_t>(1, per_sample);
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(nb, s.N)));
}

}  // namespace

void conv2d_forward(const Ctx& ctx, const Conv2dShape& s, const float* x, const float* w,
                    const float* bias, float* y, const float* fold) {
  const int Ho = s.Ho(), Wo = s.Wo(), HWo = Ho * Wo, HW = s.H * s.W;
  const int cig = s.Cin / s.groups, cog = s.Cout / s.groups, KK = s.K * s.K;
  const size_t ny = (size_t)s.N * s.Cout * HWo;
  if (ny == 0) return;
  if (use_direct(s)) {
    DSX_LAUNCH(conv_direct_fwd, blocks_for(ny), kThreads, 0, ctx.stream)(s, Ho, Wo, x, fold, w,
        bias, y);
    DSX_CUDA_LAUNCHED("conv_direct_fwd");
    return;
  }
  if (is_pointwise(s)) {
    if (fold) {  // the GEMM reads x as it is: materialise the folded input once
      const size_t nx = (size_t)s.N * s.Cin * HW;
      float* xf = ctx.scratch->get(kScratchA, nx);
      DSX_LAUNCH(fold_copy, blocks_for(nx), kThreads, 0, ctx.stream)(nx, s.Cin, HW, x, fold, xf);
      DSX_CUDA_LAUNCHED("fold_copy");
      x = xf;
    }
    GemmArgs g;
    g.M = cog; g.N = HW; g.K = cig;
    g.A = w; g.lda = cig; g.sA1 = 0; g.sA2 = (long long)cog * cig;
    g.B = x; g.ldb = HW; g.sB1 = (long long)s.Cin * HW; g.sB2 = (long long)cig * HW;
    g.C = y; g.ldc = HW; g.sC1 = (long long)s.Cout * HW; g.sC2 = (long long)cog * HW;
    g.batch = s.N * s.groups; g.inner = s.groups;
    ctx.gemm->run(ctx, g);
    if (bias) add_bias(ctx, (size_t)s.N * s.Cout, HW, s.Cout, true, bias, y);
    return;
  }
  const int nb_max = chunk_samples(s, (size_t)s.Cin * KK * HWo);
  for (int n0 = 0; n0 < s.N; n0 += nb_max) {
    const int nb = std::min(nb_max, s.N - n0);
    const size_t P = (size_t)nb * HWo;
    float* col = ctx.scratch->get(kScratchA, (size_t)s.Cin * KK * P);
    float* tmp = ctx.scratch->get(kScratchB, (size_t)s.Cout * P);
    DSX_LAUNCH(im2col_kernel, blocks_for((size_t)s.Cin * KK * P), kThreads, 0, ctx.stream)(s, Ho,
        Wo, n0, nb, x, fold, col);
    DSX_CUDA_LAUNCHED("im2col_kernel");
    GemmArgs g;
    g.M = cog; g.N = static_cast<int>(P); g.K = cig * KK;
    g.A = w; g.lda = cig * KK; g.sA2 = (long long)cog * cig * KK;
    g.B = col; g.ldb = static_cast<int>(P); g.sB2 = (long long)cig * KK * P;
    g.C = tmp; g.ldc = static_cast<int>(P); g.sC2 = (long long)cog * P;
    g.batch = s.groups; g.inner = s.groups;
    ctx.gemm->run(ctx, g);
    DSX_LAUNCH(cp_to_nchw, blocks_for((size_t)s.Cout * P), kThreads, 0, ctx.stream)(s.Cout, HWo, n0,
        nb, tmp, bias, y);
    DSX_CUDA_LAUNCHED("cp_to_nchw");
  }
}

void conv2d_backward(const Ctx& ctx, const Conv2dShape& s, const float* x, const float* w,
                     const float* dy, float* dx, float* dw, float* dbias, bool overwrite_dx,
                     const float* fold) {
  const int Ho = s.Ho(), Wo = s.Wo(), HWo = Ho * Wo, HW = s.H * s.W;
  const int cig = s.Cin / s.groups, cog = s.Cout / s.groups, KK = s.K * s.K;
  if ((size_t)s.N * s.Cout * HWo == 0) return;
  if (dbias) channel_sum_add(ctx, s.N, s.Cout, HWo, dy, dbias);
  if (use_direct(s)) {
    if (dx) {
      const size_t nx = (size_t)s.N * s.Cin * HW;
      DSX_LAUNCH(conv_direct_dx, blocks_for(nx), kThreads, 0, ctx.stream)(s, Ho, Wo, w, dy, dx,
          overwrite_dx);
      DSX_CUDA_LAUNCHED("conv_direct_dx");
    }
    if (dw) {
      DSX_LAUNCH(conv_direct_dw, s.Cout * cig * KK, kReduceThreads, 0, ctx.stream)(s, Ho, Wo, x,
          fold, dy, dw);
      DSX_CUDA_LAUNCHED("conv_direct_dw");
    }
    return;
  }
  if (is_pointwise(s) && dx) {
    // dx[n, g] += W_g^T dy[n, g]
    GemmArgs g;
    g.transA = true;
    g.M = cig; g.N = HW; g.K = cog; g.beta = overwrite_dx ? 0.f : 1.f;
    g.A = w; g.lda = cig; g.sA2 = (long long)cog * cig;
    g.B = dy; g.ldb = HW; g.sB1 = (long long)s.Cout * HW; g.sB2 = (long long)cog * HW;
    g.C = dx; g.ldc = HW; g.sC1 = (long long)s.Cin * HW; g.sC2 = (long long)cig * HW;
    g.batch = s.N * s.groups; g.inner = s.groups;
    ctx.gemm->run(ctx, g);
    if (!dw) return;
  }
  if (!dx && !dw) return;
  const bool pw = is_pointwise(s);
  const size_t col_rows = (size_t)s.Cin * KK;
  const int nb_max = chunk_samples(s, (col_rows + s.Cout) * HWo);
  for (int n0 = 0; n0 < s.N; n0 += nb_max) {
    const int nb = std::min(nb_max, s.N - n0);
    const size_t P = (size_t)nb * HWo;
    float* col = ctx.scratch->get(kScratchA, col_rows * P);
    float* dyt = ctx.scratch->get(kScratchB, (size_t)s.Cout * P);
    DSX_LAUNCH(nchw_to_cp, blocks_for((size_t)s.Cout * P), kThreads, 0, ctx.stream)(s.Cout, HWo, n0,
        nb, dy, nullptr, dyt);
    DSX_CUDA_LAUNCHED("nchw_to_cp");
    if (dw) {
      if (pw) {
        DSX_LAUNCH(nchw_to_cp, blocks_for(col_rows * P), kThreads, 0, ctx.stream)(s.Cin, HW, n0, nb,
            x, fold, col);
        DSX_CUDA_LAUNCHED("nchw_to_cp");
      } else {
        DSX_LAUNCH(im2col_kernel, blocks_for(col_rows * P), kThreads, 0, ctx.stream)(s, Ho, Wo, n0,
            nb, x, fold, col);
        DSX_CUDA_LAUNCHED("im2col_kernel");
      }
      // dW_g += dYt_g [cog, P] * col_g^T [P, cig*KK]
      GemmArgs g;
      g.transB = true;
      g.M = cog; g.N = cig * KK; g.K = static_cast<int>(P); g.beta = 1.f;
      g.A = dyt; g.lda = static_cast<int>(P); g.sA2 = (long long)cog * P;
      g.B = col; g.ldb = static_cast<int>(P); g.sB2 = (long long)cig * KK * P;
      g.C = dw; g.ldc = cig * KK; g.sC2 = (long long)cog * cig * KK;
      g.batch = s.groups; g.inner = s.groups;
      ctx.gemm->run(ctx, g);
    }
    if (dx && !pw) {
      // dcol_g [cig*KK, P] = W_g^T dYt_g, reusing the column buffer (stream-ordered)
      GemmArgs g;
      g.transA = true;
      g.M = cig * KK; g.N = static_cast<int>(P); g.K = cog;
      g.A = w; g.lda = cig * KK; g.sA2 = (long long)cog * cig * KK;
      g.B = dyt; g.ldb = static_cast<int>(P); g.sB2 = (long long)cog * P;
      g.C = col; g.ldc = static_cast<int>(P); g.sC2 = (long long)cig * KK * P;
      g.batch = s.groups; g.inner = s.groups;
      ctx.gemm->run(ctx, g);
      const size_t nx = (size_t)nb * s.Cin * HW;
      DSX_LAUNCH(col2im_kernel, blocks_for(nx), kThreads, 0, ctx.stream)(s, Ho, Wo, n0, nb, col,
          dx, overwrite_dx);
      DSX_CUDA_LAUNCHED("col2im_kernel");
    }
  }
}

void linear_forward(const Ctx& ctx, int N, int In, int Out, const float* x, const float* w,
                    const float* bias, float* y) {
  GemmArgs g;
  g.transB = true;
  g.M = N; g.N = Out; g.K = In;
  g.A = x; g.lda = In; g.B = w; g.ldb = In; g.C = y; g.ldc = Out;
  ctx.gemm->run(ctx, g);
  if (bias) add_bias(ctx, N, Out, Out, false, bias, y);
}

void linear_backward(const Ctx& ctx, int N, int In, int Out, const float* x, const float* w,
                     const float* dy, float* dx, float* dw, float* dbias) {
  if (dx) {
    GemmArgs g;  // dx [N, In] += dy [N, Out] * w [Out, In]
    g.M = N; g.N = In; g.K = Out; g.beta = 1.f;
    g.A = dy; g.lda = Out; g.B = w; g.ldb = In; g.C = dx; g.ldc = In;
    ctx.gemm->run(ctx, g);
  }
  if (dw) {
    GemmArgs g;  // dw [Out, In] += dy^T [Out, N] * x [N, In]
    g.transA = true;
    g.M = Out; g.N = In; g.K = N; g.beta = 1.f;
    g.A = dy; g.lda = Out; g.B = x; g.ldb = In; g.C = dw; g.ldc = In;
    ctx.gemm->run(ctx, g);
  }
  if (dbias) column_sum_add(ctx, N, Out, dy, dbias);
}

}  // namespace cuda
}  // namespace dsx
