// conv2d on the CPU, by route:
//  - depthwise (groups == Cin == Cout): direct kernels, since it is memory-bound and im2col
//    would only add traffic (3x3 pad 1, every depthwise conv of the zoo, has its own in
//    conv_dw3x3_cpu.cc);
//  - stride 1 with at least one image per thread: GEMMs read straight from zero-padded
//    planes (conv_wide_cpu.cc), pointwise convs in place;
//  - the rest (stride 2, or fewer images than threads): im2col + our SGEMM (1x1 stride-1
//    unpadded convs use the input directly). Images are split across threads (each with
//    its own im2col buffer and a serial SGEMM); with fewer images than threads the SGEMMs
//    are split instead.
// Weight gradients use per-thread partial buffers added in thread order.
#include <algorithm>
#include <cstring>

#include "ops/conv_dw3x3_cpu.h"
#include "ops/conv_wide_cpu.h"
#include "ops/ops_cpu.h"

namespace dsx {

namespace {

bool is_pointwise(const Conv2dShape& s) { return s.K == 1 && s.stride == 1 && s.pad == 0; }
bool is_depthwise(const Conv2dShape& s) { return s.groups == s.Cin && s.Cout == s.Cin && s.groups > 1; }

// col[(ci*K + kh)*K + kw][oh*Wo + ow] for channels [c0, c0 + cn) of one image.
void im2col(const Conv2dShape& s, const float* x, int c0, int cn, float* col) {
  const int Ho = s.Ho(), Wo = s.Wo(), K = s.K;
  for (int ci = 0; ci < cn; ++ci) {
    const float* xc = x + static_cast<int64_t>(c0 + ci) * s.H * s.W;
    for (int kh = 0; kh < K; ++kh)
      for (int kw = 0; kw < K; ++kw) {
        float* d = col + (static_cast<int64_t>((ci * K + kh) * K + kw)) * Ho * Wo;
        for (int oh = 0; oh < Ho; ++oh) {
          const int ih = oh * s.stride - s.pad + kh;
          float* drow = d + oh * Wo;
          if (ih < 0 || ih >= s.H) {
            std::memset(drow, 0, Wo * sizeof(float));
            continue;
          }
          const float* xr = xc + ih * s.W;
          for (int ow = 0; ow < Wo; ++ow) {
            const int iw = ow * s.stride - s.pad + kw;
            drow[ow] = (iw >= 0 && iw < s.W) ? xr[iw] : 0.0f;
          }
        }
      }
  }
}

// dx[channels c0..] += col2im(col)
void col2im_add(const Conv2dShape& s, const float* col, int c0, int cn, float* dx) {
  const int Ho = s.Ho(), Wo = s.Wo(), K = s.K;
  for (int ci = 0; ci < cn; ++ci) {
    float* xc = dx + static_cast<int64_t>(c0 + ci) * s.H * s.W;
    for (int kh = 0; kh < K; ++kh)
      for (int kw = 0; kw < K; ++kw) {
        const float* d = col + (static_cast<int64_t>((ci * K + kh) * K + kw)) * Ho * Wo;
        for (int oh = 0; oh < Ho; ++oh) {
          const int ih = oh * s.stride - s.pad + kh;
          if (ih < 0 || ih >= s.H) continue;
          float* xr = xc + ih * s.W;
          const float* drow = d + oh * Wo;
          for (int ow = 0; ow < Wo; ++ow) {
            const int iw = ow * s.stride - s.pad + kw;
            if (iw >= 0 && iw < s.W) xr[iw] += drow[ow];
          }
        }
      }
  }
}

// Depthwise planes work on a zero-padded copy of the input plane ((H+2p) x (W+2p), per-thread
// scratch), so the inner loops have no bounds checks and vectorise over output columns.
// The plane kernels are stride 1: a strided conv is the stride-1 conv subsampled (forward) or
// fed a zero-upsampled dY (backward). That spends stride^2 more multiply-adds, but in
// contiguous vector loops, which beat the gathers and scatters of a strided loop here.
struct PaddedPlane {
  int Hp, Wp;
};
inline PaddedPlane padded(const Conv2dShape& s) { return {s.H + 2 * s.pad, s.W + 2 * s.pad}; }

void pad_plane(const Conv2dShape& s, const float* __restrict x, float* __restrict xp) {
  const PaddedPlane pp = padded(s);
  std::memset(xp, 0, sizeof(float) * pp.Hp * pp.Wp);
  for (int h = 0; h < s.H; ++h)
    std::memcpy(xp + (h + s.pad) * pp.Wp + s.pad, x + h * s.W, sizeof(float) * s.W);
}

// s.stride must be 1.
void depthwise_plane_forward(const Conv2dShape& s, const float* __restrict xp, const float* __restrict w,
                             float b, float* __restrict y) {
  const int Ho = s.Ho(), Wo = s.Wo(), K = s.K, Wp = padded(s).Wp;
  for (int oh = 0; oh < Ho; ++oh) {
    float* __restrict yr = y + oh * Wo;
    for (int ow = 0; ow < Wo; ++ow) yr[ow] = b;
    for (int kh = 0; kh < K; ++kh) {
      const float* __restrict xr = xp + (oh + kh) * Wp;
      for (int kw = 0; kw < K; ++kw) {
        const float wv = w[kh * K + kw];
        const float* __restrict xk = xr + kw;
        for (int ow = 0; ow < Wo; ++ow) yr[ow] += wv * xk[ow];
      }
    }
  }
}

// s.stride must be 1. dxp: padded gradient plane (zeroed by the caller); dw accumulates
// this plane's terms.
void depthwise_plane_backward(const Conv2dShape& s, const float* __restrict xp, const float* __restrict w,
                              const float* __restrict dy, float* __restrict dxp, float* __restrict dw) {
  const int Ho = s.Ho(), Wo = s.Wo(), K = s.K, Wp = padded(s).Wp;
  for (int kh = 0; kh < K; ++kh)
    for (int kw = 0; kw < K; ++kw) {
      const float wv = w[kh * K + kw];
      float acc[16] = {};  // independent lanes: vectorisable, no serial add chain, fixed order
      for (int oh = 0; oh < Ho; ++oh) {
        const float* __restrict dyr = dy + oh * Wo;
        const int base = (oh + kh) * Wp + kw;
        if (dxp) {
          float* __restrict d = dxp + base;
          for (int ow = 0; ow < Wo; ++ow) d[ow] += wv * dyr[ow];
        }
        if (dw) {
          const float* __restrict xr = xp + base;
          int ow = 0;
          for (; ow + 16 <= Wo; ow += 16)
            for (int l = 0; l < 16; ++l) acc[l] += xr[ow + l] * dyr[ow + l];
          for (; ow < Wo; ++ow) acc[ow & 15] += xr[ow] * dyr[ow];
        }
      }
      if (dw) {
        float sum = 0.0f;
        for (int l = 0; l < 16; ++l) sum += acc[l];
        dw[kh * K + kw] += sum;
      }
    }
}

// Routes without a folded-input path get the BN+ReLU output materialised in scratch.
const float* materialize(CpuCtx& ctx, const Conv2dShape& s, const float* x, const InputAffine& in) {
  const int64_t HW = static_cast<int64_t>(s.H) * s.W;
  float* t = ctx.ws.get(0, kWsInput, static_cast<size_t>(s.N) * s.Cin * HW);
  ctx.pool.parallel_for(static_cast<int64_t>(s.N) * s.Cin, [&](int, int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc)
      in.row(static_cast<int>(nc % s.Cin), x + nc * HW, t + nc * HW, static_cast<int>(HW));
  }, 16);
  return t;
}
}  // namespace

void add_partials(CpuCtx& ctx, float* const* parts, int T, size_t n, float* dst) {
  ctx.pool.parallel_for(static_cast<int64_t>(n), [&](int, int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float sum = 0.0f;
      for (int t = 0; t < T; ++t) sum += parts[t][i];
      dst[i] += sum;
    }
  }, kSerialBelow);
}

void cpu_conv2d_forward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                        const float* bias, float* y, InputAffine in, const Epilogue& epi,
                        const float* wide_packed) {
  const int Ho = s.Ho(), Wo = s.Wo(), P = Ho * Wo, HW = s.H * s.W;
  if (conv_dw3x3_applies(s)) {
    conv_dw3x3_forward(ctx, s, x, w, bias, y, in, epi);
    return;
  }
  if (conv_wide_applies(s, ctx.pool.size())) {
    conv_wide_forward(ctx, s, x, w, bias, y, in, epi, wide_packed);
    return;
  }
  if (in) {
    x = materialize(ctx, s, x, in);
    in = {};
  }
  if (is_depthwise(s)) {
    const int KK = s.K * s.K;
    const PaddedPlane pp = padded(s);
    Conv2dShape s1 = s;
    s1.stride = 1;
    const int Wo1 = s1.Wo(), st = s.stride;
    ctx.pool.parallel_for(static_cast<int64_t>(s.N) * s.Cin, [&](int tid, int64_t b, int64_t e) {
      float* xp = ctx.ws.get(tid, kWsCol, static_cast<size_t>(pp.Hp) * pp.Wp);
      float* full = st > 1 ? ctx.ws.get(tid, kWsLocal2, static_cast<size_t>(s1.Ho()) * Wo1) : nullptr;
      for (int64_t nc = b; nc < e; ++nc) {
        const int c = static_cast<int>(nc % s.Cin);
        pad_plane(s, x + nc * HW, xp);
        float* yp = y + nc * P;
        if (st == 1) {
          depthwise_plane_forward(s1, xp, w + c * KK, bias ? bias[c] : 0.0f, yp);
        } else {
          depthwise_plane_forward(s1, xp, w + c * KK, bias ? bias[c] : 0.0f, full);
          for (int oh = 0; oh < Ho; ++oh)
            for (int ow = 0; ow < Wo; ++ow) yp[oh * Wo + ow] = full[(oh * st) * Wo1 + ow * st];
        }
        if (epi) epi.apply(c, yp, epi.res_at(nc * P), P);
      }
    });
    return;
  }
  const int G = s.groups, cig = s.Cin / G, cog = s.Cout / G, Kg = cig * s.K * s.K;
  const bool pw = is_pointwise(s);
  auto image = [&](int n, bool parallel_gemm, int tid) {
    const float* xn = x + static_cast<int64_t>(n) * s.Cin * HW;
    float* yn = y + static_cast<int64_t>(n) * s.Cout * P;
    for (int g = 0; g < G; ++g) {
      const float* b;
      int64_t ldb = P;
      if (pw) {
        b = xn + static_cast<int64_t>(g) * cig * HW;
      } else {
        float* col = ctx.ws.get(tid, kWsCol, static_cast<size_t>(Kg) * P);
        im2col(s, xn, g * cig, cig, col);
        b = col;
      }
      GemmArgs ga{false, false, cog, P, Kg, 1.0f, w + static_cast<int64_t>(g) * cog * Kg, Kg, b,
                  ldb, 0.0f, yn + static_cast<int64_t>(g) * cog * P, P};
      if (parallel_gemm)
        sgemm_parallel(ga, ctx.pool, ctx.ws);
      else
        sgemm_serial(ga, ctx.ws, tid);
    }
    if (bias)
      for (int c = 0; c < s.Cout; ++c) {
        float* yc = yn + static_cast<int64_t>(c) * P;
        for (int i = 0; i < P; ++i) yc[i] += bias[c];
      }
    // the image's output is still in cache: the epilogue now, not as a pass of its own
    if (epi)
      for (int c = 0; c < s.Cout; ++c) {
        const int64_t o = (static_cast<int64_t>(n) * s.Cout + c) * P;
        epi.apply(c, y + o, epi.res_at(o), P);
      }
  };
  if (s.N >= ctx.pool.size()) {
    ctx.pool.parallel_for(s.N, [&](int tid, int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) image(static_cast<int>(n), false, tid);
    });
  } else {
    for (int n = 0; n < s.N; ++n) image(n, true, 0);
  }
}

void cpu_conv2d_backward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                         const float* dy, float* dx, float* dw, float* dbias, bool set_dx,
                         InputAffine in) {
  const int Ho = s.Ho(), Wo = s.Wo(), P = Ho * Wo, HW = s.H * s.W;
  if (dbias) {
    ctx.pool.parallel_for(s.Cout, [&](int, int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) {
        double acc = 0.0;
        for (int n = 0; n < s.N; ++n) {
          const float* d = dy + (static_cast<int64_t>(n) * s.Cout + c) * P;
          float part = 0.0f;
          for (int i = 0; i < P; ++i) part += d[i];
          acc += part;
        }
        dbias[c] += static_cast<float>(acc);
      }
    });
  }
  if (!dx && !dw) return;
  if (conv_dw3x3_applies(s)) {
    conv_dw3x3_backward(ctx, s, x, w, dy, dx, dw, set_dx, in);
    return;
  }
  if (conv_wide_applies(s, ctx.pool.size())) {
    conv_wide_backward(ctx, s, x, w, dy, dx, dw, set_dx, in);
    return;
  }
  if (in && dw) x = materialize(ctx, s, x, in);  // only the weight gradient reads x
  if (is_depthwise(s)) {
    // One thread owns a channel across all images: dw[c] needs no cross-thread sum.
    const int KK = s.K * s.K;
    const PaddedPlane pp = padded(s);
    const size_t plane = static_cast<size_t>(pp.Hp) * pp.Wp;
    Conv2dShape s1 = s;
    s1.stride = 1;
    const int Ho1 = s1.Ho(), Wo1 = s1.Wo(), st = s.stride;
    ctx.pool.parallel_for(s.Cin, [&](int tid, int64_t b, int64_t e) {
      float* xp = ctx.ws.get(tid, kWsCol, plane);
      float* dxp = ctx.ws.get(tid, kWsLocal, plane);
      float* dyu = st > 1 ? ctx.ws.get(tid, kWsLocal2, static_cast<size_t>(Ho1) * Wo1) : nullptr;
      if (dyu) std::memset(dyu, 0, sizeof(float) * Ho1 * Wo1);  // only strided positions are ever written
      for (int64_t c = b; c < e; ++c)
        for (int n = 0; n < s.N; ++n) {
          const int64_t nc = static_cast<int64_t>(n) * s.Cin + c;
          pad_plane(s, x + nc * HW, xp);
          if (dx) std::memset(dxp, 0, plane * sizeof(float));
          const float* g = dy + nc * P;
          if (dyu) {
            for (int oh = 0; oh < Ho; ++oh)
              for (int ow = 0; ow < Wo; ++ow) dyu[(oh * st) * Wo1 + ow * st] = g[oh * Wo + ow];
            g = dyu;
          }
          depthwise_plane_backward(s1, xp, w + c * KK, g, dx ? dxp : nullptr, dw ? dw + c * KK : nullptr);
          if (dx) {
            float* d = dx + nc * HW;
            for (int h = 0; h < s.H; ++h) {
              const float* src = dxp + (h + s.pad) * pp.Wp + s.pad;
              float* dr = d + h * s.W;
              if (set_dx)
                std::memcpy(dr, src, sizeof(float) * s.W);
              else
                for (int w2 = 0; w2 < s.W; ++w2) dr[w2] += src[w2];
            }
          }
        }
    });
    return;
  }
  const int G = s.groups, cig = s.Cin / G, cog = s.Cout / G, Kg = cig * s.K * s.K;
  const bool pw = is_pointwise(s);
  const size_t wsize = static_cast<size_t>(s.Cout) * Kg;
  // dw_acc: where this image's weight gradient goes (a partial buffer or dw itself).
  auto image = [&](int n, bool parallel_gemm, int tid, float* dw_acc) {
    const float* xn = x + static_cast<int64_t>(n) * s.Cin * HW;
    const float* dyn = dy + static_cast<int64_t>(n) * s.Cout * P;
    float* dxn = dx ? dx + static_cast<int64_t>(n) * s.Cin * HW : nullptr;
    // col2im only adds to pixels some tap reads: the rest of an overwritten dX must be zero
    if (dxn && set_dx && !pw) std::memset(dxn, 0, sizeof(float) * s.Cin * HW);
    const float dx_beta = set_dx && pw ? 0.0f : 1.0f;
    auto gemm = [&](const GemmArgs& ga) {
      if (parallel_gemm)
        sgemm_parallel(ga, ctx.pool, ctx.ws);
      else
        sgemm_serial(ga, ctx.ws, tid);
    };
    for (int g = 0; g < G; ++g) {
      const float* dyg = dyn + static_cast<int64_t>(g) * cog * P;
      const float* wg = w + static_cast<int64_t>(g) * cog * Kg;
      if (dw_acc) {
        const float* b;
        if (pw) {
          b = xn + static_cast<int64_t>(g) * cig * HW;
        } else {
          float* col = ctx.ws.get(tid, kWsCol, static_cast<size_t>(Kg) * P);
          im2col(s, xn, g * cig, cig, col);
          b = col;
        }
        // dW_g[cog, Kg] += dY_g[cog, P] * col[Kg, P]^T
        gemm(GemmArgs{false, true, cog, Kg, P, 1.0f, dyg, P, b, P, 1.0f,
                      dw_acc + static_cast<int64_t>(g) * cog * Kg, Kg});
      }
      if (dxn) {
        if (pw) {
          gemm(GemmArgs{true, false, Kg, P, cog, 1.0f, wg, Kg, dyg, P, dx_beta,
                        dxn + static_cast<int64_t>(g) * cig * HW, P});
        } else {
          float* dcol = ctx.ws.get(tid, kWsLocal, static_cast<size_t>(Kg) * P);
          gemm(GemmArgs{true, false, Kg, P, cog, 1.0f, wg, Kg, dyg, P, 0.0f, dcol, P});
          col2im_add(s, dcol, g * cig, cig, dxn);
        }
      }
    }
  };
  const int T = std::min(ctx.pool.size(), kMaxCpuThreads);
  if (s.N >= T && T > 1) {
    float* parts[kMaxCpuThreads];
    for (int t = 0; t < T; ++t) parts[t] = dw ? ctx.ws.get_zeroed(t, kWsPartial, wsize) : nullptr;
    ctx.pool.parallel_for(s.N, [&](int tid, int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) image(static_cast<int>(n), false, tid, parts[tid]);
    });
    if (dw) add_partials(ctx, parts, T, wsize, dw);
  } else {
    for (int n = 0; n < s.N; ++n) image(n, T > 1, 0, dw);
  }
}

}  // namespace dsx
