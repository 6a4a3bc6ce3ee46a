// Stride-1 standard and grouped convolutions (not depthwise) as GEMMs read straight from a
// zero-padded copy of each input plane, im2col implied.
//
// With padded row stride Wp, output pixel j = oh*Wp + ow reads xpad[ci][j + kh*Wp + kw]: every
// reduction index k = (ci, kh, kw) is one fixed offset into the padded planes, so the
// micro-kernel reads its B rows in place (micro_kernel_boff) and nothing is copied per image
// but the padding. Outputs live on the "wide" grid of Wp columns per row, of which the last
// Wp - Wo are discarded when compacting: (Wp - Wo)/Wp of the arithmetic is wasted (6% at
// 32x32, 20% at 8x8), against an im2col buffer K*K times the input and a packing pass.
//
// dX of a stride-1 conv is a stride-1 conv of dY padded by K-1-pad, with the kernel flipped and
// Cin/Cout swapped: it runs through the same kernel with a reduction of Cout*K*K, where the
// im2col route multiplies with a reduction of Cout and then scatters (col2im).
// dW reduces over the wide grid's pixels: dY is copied onto it with the discarded columns
// zeroed and transposed into pixel-major panels, and the padded planes' shifted rows are the
// micro-kernel's A rows as they are.
// An unpadded 1x1 conv (pointwise) needs none of the copies: its planes are their own padded
// and wide grids, so x, y, dY and dX are used in place, and only the weights are packed
// (once per call, not once per image as a general GEMM would).
// Images are split across threads; weight gradients go to per-thread partials added in thread
// order (the same fixed order as the im2col route).
#include <algorithm>
#include <cstring>

#include "ops/conv_wide_cpu.h"
#include "ops/transpose.h"

namespace dsx {

namespace {
constexpr int kKC = 256;  // reduction block: the A block (M x kKC) stays in L2

struct WideGeom {
  int H, W, pad, K;
  int Hp, Wp, Ho, Wo;
  int64_t plane;  // Hp * Wp
  int64_t nw;     // Ho * Wp: pixels of the wide output grid
  // pointwise: the planes are used as they are (no padded copy, no compaction)
  bool direct() const { return K == 1 && pad == 0; }
  // Floats past the last plane that kernels may read: B rows are read kNR wide from any
  // panel start, and the last tap starts K-1 past the last wide pixel.
  int64_t slack() const { return K + 2 * kNR; }
};

WideGeom wide_geom(int H, int W, int K, int pad) {
  WideGeom g{H, W, pad, K, H + 2 * pad, W + 2 * pad, 0, 0, 0, 0};
  g.Ho = g.Hp - K + 1;
  g.Wo = g.Wp - K + 1;
  g.plane = static_cast<int64_t>(g.Hp) * g.Wp;
  g.nw = static_cast<int64_t>(g.Ho) * g.Wp;
  return g;
}

// off[(c*K + kh)*K + kw] = c*plane + kh*Wp + kw for c < C.
void fill_offsets(const WideGeom& g, int C, std::vector<int32_t>& off) {
  off.resize(static_cast<size_t>(C) * g.K * g.K);
  size_t k = 0;
  for (int c = 0; c < C; ++c)
    for (int kh = 0; kh < g.K; ++kh)
      for (int kw = 0; kw < g.K; ++kw) off[k++] = static_cast<int32_t>(c * g.plane + kh * g.Wp + kw);
}

// Interior of C zero-bordered planes (borders and slack are zeroed once per op call),
// through the folded BN+ReLU `in` when there is one.
void pad_planes(const WideGeom& g, int C, const float* __restrict x, float* __restrict xp,
                const InputAffine& in = {}) {
  for (int c = 0; c < C; ++c) {
    const float* xc = x + static_cast<int64_t>(c) * g.H * g.W;
    float* dc = xp + c * g.plane + static_cast<int64_t>(g.pad) * g.Wp + g.pad;
    for (int h = 0; h < g.H; ++h) {
      if (in)
        in.row(c, xc + h * g.W, dc + static_cast<int64_t>(h) * g.Wp, g.W);
      else
        std::memcpy(dc + static_cast<int64_t>(h) * g.Wp, xc + h * g.W, sizeof(float) * g.W);
    }
  }
}

// Zeroes what pad_planes leaves alone: each plane's border and the slack after the last plane
// (an eighth of a full clear at 32x32, where clearing and padding cost as much as the GEMM of
// a batch-1 layer).
void zero_borders(const WideGeom& g, int C, float* xp) {
  if (g.pad > 0) {
    const int right = g.Wp - g.pad - g.W;  // columns right of the interior
    for (int c = 0; c < C; ++c) {
      float* p = xp + c * g.plane;
      std::memset(p, 0, sizeof(float) * g.pad * g.Wp);
      // side columns by plain stores: a call per border would cost more than the zeros
      for (int h = 0; h < g.H; ++h) {
        float* row = p + static_cast<int64_t>(g.pad + h) * g.Wp;
        for (int i = 0; i < g.pad; ++i) row[i] = 0.0f;
        for (int i = 0; i < right; ++i) row[g.pad + g.W + i] = 0.0f;
      }
      std::memset(p + static_cast<int64_t>(g.pad + g.H) * g.Wp, 0, sizeof(float) * (g.Hp - g.pad - g.H) * g.Wp);
    }
  }
  std::memset(xp + C * g.plane, 0, sizeof(float) * g.slack());
}

// Rows of A (M x Kg, element a(m, k)) into kMR-row slivers, k-major, rows past M zeroed.
template <class F>
void pack_slivers(int M, int Kg, F a, float* dst) {
  for (int s = 0; s < M; s += kMR) {
    float* d = dst + static_cast<int64_t>(s) * Kg;
    for (int k = 0; k < Kg; ++k)
      for (int i = 0; i < kMR; ++i) d[k * kMR + i] = s + i < M ? a(s + i, k) : 0.0f;
  }
}
int64_t sliver_size(int M, int Kg) { return static_cast<int64_t>((M + kMR - 1) / kMR) * kMR * Kg; }

// out[m][j] (+)= sum_k A[m][k] * base[off[k] + j] for m < M, j < nw (out's row stride nw;
// beta0 = 0 overwrites, 1 adds). Without slack past the planes (direct sources), a last
// panel narrower than a vector is copied into `tail` (kKC x kVecWidth) instead of read past nw.
// epi (pointwise outputs, which are y itself): applied to each tile once its last reduction
// block is in, to rows of channel c0 + m; res: the residual laid out as out.
void wide_gemm(const float* pa, int M, int Kg, const float* base, const int32_t* off, int64_t nw,
               float* out, float beta0, bool slack, float* tail, const Epilogue* epi = nullptr,
               int c0 = 0, const float* res = nullptr) {
  float* crow[kMR];
  for (int k0 = 0; k0 < Kg; k0 += kKC) {
    const int kc = std::min(kKC, Kg - k0);
    const float beta = k0 == 0 ? beta0 : 1.0f;
    for (int64_t j0 = 0; j0 < nw;) {
      // the widest tile the register file holds while columns remain
      const int64_t left = nw - j0;
      const int nv = left >= kWideNR ? kWideNV : left >= kNR ? 2 : 1;
      const int cols = static_cast<int>(std::min<int64_t>(nv * kVecWidth, left));
      const bool copy = !slack && cols < nv * kVecWidth;
      if (copy)
        for (int k = 0; k < kc; ++k) {
          const float* src = base + off[k0 + k] + j0;
          for (int j = 0; j < kVecWidth; ++j) tail[k * kVecWidth + j] = j < cols ? src[j] : 0.0f;
        }
      for (int s = 0; s < M; s += kMR) {
        const int rows = std::min(kMR, M - s);
        for (int i = 0; i < rows; ++i) crow[i] = out + (s + i) * nw + j0;
        const float* a = pa + static_cast<int64_t>(s) * Kg + static_cast<int64_t>(k0) * kMR;
        if (copy)
          micro_kernel(kc, a, kMR, tail, kVecWidth, crow, rows, cols, 1.0f, beta, 1);
        else
          micro_kernel_boff(kc, a, base + j0, off + k0, crow, rows, cols, 1.0f, beta, nv);
        if (epi && k0 + kc == Kg)
          for (int i = 0; i < rows; ++i)
            epi->apply(c0 + s + i, crow[i], res ? res + (s + i) * nw + j0 : nullptr, cols);
      }
      j0 += cols;
    }
  }
}

// dst[c][oh][ow] (+)= wide[c][oh*Wp + ow] (+ bias[c]), then the epilogue on each row (res:
// the residual laid out as dst).
template <bool kAdd>
void compact(const WideGeom& g, int C, const float* __restrict wide, const float* bias,
             float* __restrict dst, const Epilogue& epi = {}, const float* res = nullptr) {
  for (int c = 0; c < C; ++c) {
    const float b = bias ? bias[c] : 0.0f;
    for (int oh = 0; oh < g.Ho; ++oh) {
      const float* __restrict src = wide + c * g.nw + static_cast<int64_t>(oh) * g.Wp;
      const int64_t o = (static_cast<int64_t>(c) * g.Ho + oh) * g.Wo;
      float* __restrict d = dst + o;
      for (int ow = 0; ow < g.Wo; ++ow) d[ow] = kAdd ? d[ow] + src[ow] : src[ow] + b;
      if (epi) epi.apply(c, d, res ? res + o : nullptr, g.Wo);
    }
  }
}
}  // namespace

bool conv_wide_applies(const Conv2dShape& s, int threads) {
  const bool depthwise = s.groups == s.Cin && s.Cout == s.Cin && s.groups > 1;
  return s.stride == 1 && !depthwise && s.pad <= s.K - 1 && s.N >= threads;
}

size_t conv_wide_packed_size(const Conv2dShape& s) {
  const int G = s.groups, cog = s.Cout / G, Kg = s.Cin / G * s.K * s.K;
  return static_cast<size_t>(G * sliver_size(cog, Kg));
}

void conv_wide_pack(const Conv2dShape& s, const float* w, float* pa) {
  const int G = s.groups, cog = s.Cout / G, Kg = s.Cin / G * s.K * s.K;
  const int64_t psz = sliver_size(cog, Kg);
  for (int gi = 0; gi < G; ++gi) {
    const float* wg = w + static_cast<int64_t>(gi) * cog * Kg;
    pack_slivers(cog, Kg, [&](int m, int k) { return wg[static_cast<int64_t>(m) * Kg + k]; }, pa + gi * psz);
  }
}

void conv_wide_forward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                       const float* bias, float* y, const InputAffine& in, const Epilogue& epi,
                       const float* packed) {
  const WideGeom g = wide_geom(s.H, s.W, s.K, s.pad);
  const int G = s.groups, cig = s.Cin / G, cog = s.Cout / G, Kg = cig * s.K * s.K;
  fill_offsets(g, cig, ctx.wide_offsets[0]);
  const int64_t psz = sliver_size(cog, Kg);
  const float* pa = packed;
  if (!pa) {
    float* buf = ctx.ws.get(0, kWsShared, conv_wide_packed_size(s));
    conv_wide_pack(s, w, buf);
    pa = buf;
  }
  const int32_t* off = ctx.wide_offsets[0].data();
  const int64_t HW = static_cast<int64_t>(s.H) * s.W, P = static_cast<int64_t>(g.Ho) * g.Wo;
  // pointwise: y written in place; x too unless it must go through a folded BN+ReLU
  const bool direct = g.direct(), direct_x = direct && !in;
  ctx.pool.parallel_for(s.N, [&](int tid, int64_t b, int64_t e) {
    float* xp = direct_x ? nullptr : ctx.ws.get(tid, kWsCol, s.Cin * g.plane + g.slack());
    if (xp) zero_borders(g, s.Cin, xp);
    float* wide = direct ? nullptr : ctx.ws.get(tid, kWsLocal, s.Cout * g.nw);
    float* tail = ctx.ws.get(tid, kWsLocal2, static_cast<size_t>(kKC) * kVecWidth);
    for (int64_t n = b; n < e; ++n) {
      const float* src = x + n * s.Cin * HW;
      float* yn = y + n * s.Cout * P;
      if (!direct_x) pad_planes(g, s.Cin, src, xp, in);
      float* out = direct ? yn : wide;
      const float* res = epi.res_at(n * s.Cout * P);
      for (int gi = 0; gi < G; ++gi)
        wide_gemm(pa + gi * psz, cog, Kg, (direct_x ? src : xp) + gi * cig * g.plane, off, g.nw,
                  out + gi * cog * g.nw, 0.0f, !direct_x, tail, direct && epi ? &epi : nullptr,
                  gi * cog, res ? res + gi * cog * g.nw : nullptr);
      if (!direct)
        compact<false>(g, s.Cout, wide, bias, yn, epi, res);
      else if (bias)
        for (int c = 0; c < s.Cout; ++c)
          for (int64_t i = 0; i < P; ++i) yn[c * P + i] += bias[c];
    }
  });
}

void conv_wide_backward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                        const float* dy, float* dx, float* dw, bool set_dx,
                        const InputAffine& in) {
  if (!dx && !dw) return;
  const int G = s.groups, cig = s.Cin / G, cog = s.Cout / G, KK = s.K * s.K, Kg = cig * KK;
  const WideGeom gx = wide_geom(s.H, s.W, s.K, s.pad);                 // x -> y (for dW)
  const WideGeom gd = wide_geom(gx.Ho, gx.Wo, s.K, s.K - 1 - s.pad);  // dY -> dX
  const int64_t HW = static_cast<int64_t>(s.H) * s.W, P = static_cast<int64_t>(gx.Ho) * gx.Wo;
  fill_offsets(gx, cig, ctx.wide_offsets[0]);
  fill_offsets(gd, cog, ctx.wide_offsets[1]);
  const int32_t* offx = ctx.wide_offsets[0].data();
  const int32_t* offd = ctx.wide_offsets[1].data();

  // dX weights: A'[ci][co*KK + t] = w[co][ci*KK + KK-1-t] per group (flipped, transposed)
  const int Kd = cog * KK;
  const int64_t psz = sliver_size(cig, Kd);
  float* pa = dx ? ctx.ws.get(0, kWsShared, static_cast<size_t>(G * psz)) : nullptr;
  for (int gi = 0; dx && gi < G; ++gi) {
    const float* wg = w + static_cast<int64_t>(gi) * cog * Kg;
    pack_slivers(cig, Kd, [&](int ci, int k) {
      const int co = k / KK, t = k % KK;
      return wg[static_cast<int64_t>(co) * Kg + ci * KK + (KK - 1 - t)];
    }, pa + gi * psz);
  }

  const int T = std::min(ctx.pool.size(), kMaxCpuThreads);
  const size_t wsize = static_cast<size_t>(s.Cout) * Kg;
  float* parts[kMaxCpuThreads];
  for (int t = 0; t < T; ++t) parts[t] = dw ? ctx.ws.get_zeroed(t, kWsPartial, wsize) : nullptr;

  const bool direct = gx.direct();  // then gd.direct() too
  const bool direct_x = direct && !in;
  const int ldT = (cog + kVecWidth - 1) / kVecWidth * kVecWidth;  // dY^T panel row stride
  ctx.pool.parallel_for(s.N, [&](int tid, int64_t b, int64_t e) {
    float* xp = dw && !direct_x ? ctx.ws.get_zeroed(tid, kWsCol, s.Cin * gx.plane + gx.slack()) : nullptr;
    float* dyw = dw && !direct ? ctx.ws.get(tid, kWsLocal2, s.Cout * gx.nw) : nullptr;
    float* pb = dw ? ctx.ws.get(tid, kWsPackB, static_cast<size_t>(kKC) * ldT) : nullptr;
    float* dyp = dx && !direct ? ctx.ws.get_zeroed(tid, kWsLocal3, s.Cout * gd.plane + gd.slack()) : nullptr;
    float* wide = dx && !direct ? ctx.ws.get(tid, kWsLocal, s.Cin * gd.nw) : nullptr;
    float* tail = ctx.ws.get(tid, kWsPtrs, static_cast<size_t>(kKC) * kVecWidth);
    const float* rows[kWideNR];
    const float* arow[kMR];
    float* crow[kMR];
    for (int64_t n = b; n < e; ++n) {
      const float* dyn = dy + n * s.Cout * P;
      if (dw) {
        const float* xsrc = direct_x ? x + n * s.Cin * HW : xp;
        const float* dysrc = direct ? dyn : dyw;
        if (!direct_x) pad_planes(gx, s.Cin, x + n * s.Cin * HW, xp, in);
        if (!direct) {
          // dY on the wide grid, discarded columns zero, so they add nothing to dW
          for (int co = 0; co < s.Cout; ++co)
            for (int oh = 0; oh < gx.Ho; ++oh) {
              float* d = dyw + co * gx.nw + static_cast<int64_t>(oh) * gx.Wp;
              std::memcpy(d, dyn + (static_cast<int64_t>(co) * gx.Ho + oh) * gx.Wo, sizeof(float) * gx.Wo);
              std::memset(d + gx.Wo, 0, sizeof(float) * (gx.Wp - gx.Wo));
            }
        }
        // part_g[k][co] += sum_j xpad[off[k] + j] * dyw[co][j]: the x rows feed the micro-kernel
        // as they are and only dY (Cout of every Cin*K*K rows) is transposed, into pixel-major
        // panels; measured faster than transposing x for every Cout of the zoo, 16 included.
        for (int gi = 0; gi < G; ++gi) {
          const float* xg = xsrc + gi * cig * gx.plane;
          float* part = parts[tid] + static_cast<int64_t>(gi) * cog * Kg;
          for (int64_t j0 = 0; j0 < gx.nw; j0 += kKC) {
            const int kc = static_cast<int>(std::min<int64_t>(kKC, gx.nw - j0));
            for (int c0 = 0; c0 < cog; c0 += kWideNR) {
              const int nr = std::min(kWideNR, cog - c0);
              for (int t = 0; t < nr; ++t)
                rows[t] = dysrc + (static_cast<int64_t>(gi) * cog + c0 + t) * gx.nw + j0;
              transpose_rows(rows, nr, kc, pb + c0, ldT);
            }
            for (int ks = 0; ks < Kg; ks += kMR) {
              const int mr = std::min(kMR, Kg - ks);
              for (int i = 0; i < kMR; ++i) arow[i] = xg + offx[ks + std::min(i, mr - 1)] + j0;
              for (int cp = 0; cp < cog;) {
                const int left = cog - cp;
                const int nv = left >= kWideNR ? kWideNV : left > kVecWidth ? 2 : 1;
                const int cols = std::min(nv * kVecWidth, left);
                for (int i = 0; i < mr; ++i) crow[i] = part + static_cast<int64_t>(ks + i) * cog + cp;
                micro_kernel_arows(kc, arow, pb + cp, ldT, crow, mr, cols, 1.0f, 1.0f, nv);
                cp += cols;
              }
            }
          }
        }
      }
      if (dx && direct) {
        float* dxn = dx + n * s.Cin * HW;
        for (int gi = 0; gi < G; ++gi)
          wide_gemm(pa + gi * psz, cig, Kd, dyn + gi * cog * gd.plane, offd, gd.nw,
                    dxn + gi * cig * gd.nw, set_dx ? 0.0f : 1.0f, false, tail);
      } else if (dx) {
        pad_planes(gd, s.Cout, dyn, dyp);
        for (int gi = 0; gi < G; ++gi)
          wide_gemm(pa + gi * psz, cig, Kd, dyp + gi * cog * gd.plane, offd, gd.nw,
                    wide + gi * cig * gd.nw, 0.0f, true, tail);
        if (set_dx)
          compact<false>(gd, s.Cin, wide, nullptr, dx + n * s.Cin * HW);
        else
          compact<true>(gd, s.Cin, wide, nullptr, dx + n * s.Cin * HW);
      }
    }
  });
  if (dw)  // partials are [group][k][co]; dw is [group][co][k]
    ctx.pool.parallel_for(static_cast<int64_t>(wsize), [&](int, int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t g = i / (static_cast<int64_t>(cog) * Kg), r = i % (static_cast<int64_t>(cog) * Kg);
        const int64_t src = g * cog * Kg + (r % Kg) * cog + r / Kg;
        float sum = 0.0f;
        for (int t = 0; t < T; ++t) sum += parts[t][src];
        dw[i] += sum;
      }
    }, kSerialBelow);
}

}  // namespace dsx
