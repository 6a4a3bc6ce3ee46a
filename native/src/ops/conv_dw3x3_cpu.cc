// Direct depthwise 3x3 conv, pad 1, stride 1 or 2 (every DW slot of the zoo), on the CPU.
// Forward and dX are "gathers" over a zero-bordered copy of the source plane, written as
// plain loops over output columns that the compiler vectorises (no im2col, no scatter).
// Stride 2 splits the padded input rows into even and odd columns, so every tap reads a
// contiguous run. dX is the stride-1 correlation of the (zero-upsampled, for stride 2)
// padded dY with the flipped kernel. dW keeps 9 vector accumulators per channel and is
// owned by one thread per channel, summed in a fixed order.
#include <algorithm>
#include <cstring>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "ops/conv_dw3x3_cpu.h"

namespace dsx {

bool conv_dw3x3_applies(const Conv2dShape& s) {
  return s.groups == s.Cin && s.Cout == s.Cin && s.groups > 1 && s.K == 3 && s.pad == 1 &&
         (s.stride == 1 || s.stride == 2);
}

namespace {

#if defined(__AVX512F__)
constexpr int kDwL = 16;
#else
constexpr int kDwL = 8;
#endif
typedef float DwVec __attribute__((vector_size(kDwL * sizeof(float))));
typedef float DwHalf __attribute__((vector_size(8 * sizeof(float))));
template <class V>
inline V vld(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

// Asks for n floats from p into L2, a line at a time, ahead of use: the backward jumps from
// plane to plane (an image stride apart), which the hardware prefetchers do not follow.
inline void dw3_prefetch(const float* p, int64_t n) {
  for (int64_t i = 0; i < n; i += 64 / sizeof(float)) __builtin_prefetch(p + i, 0, 2);
}

// dst[0, n) = src[0, n), inline: rows of a plane are short (2 to 32 floats), and a libc
// memcpy call per row cost about as much as the row's arithmetic. (The empty asm hides where
// each value comes from, which keeps GCC from recognising the loops as a copy and calling
// memmove after all; on a pointer, so that it holds on every vector ISA.)
inline void dw3_copy_row(float* __restrict dst, const float* __restrict src, int n) {
  int i = 0;
  for (; i + kDwL <= n; i += kDwL) {
    const float* p = src + i;
    asm("" : "+r"(p));
    const DwVec v = vld<DwVec>(p);
    std::memcpy(dst + i, &v, sizeof v);
  }
  for (; i + 8 <= n; i += 8) {
    const float* p = src + i;
    asm("" : "+r"(p));
    const DwHalf v = vld<DwHalf>(p);
    std::memcpy(dst + i, &v, sizeof v);
  }
  for (; i < n; ++i) {
    const float* p = src + i;
    asm("" : "+r"(p));
    dst[i] = *p;
  }
}

// Zero-bordered plane: row r holds source row r-1 at columns [1, W], stride Wp = W + 2.
// For stride 2 the columns are split: even padded columns in [0, We), odd in [We, 2We).
struct Dw3Geom {
  int H, W, Ho, Wo, st;
  int Hp, Wp, We;  // padded rows, padded row stride, even-half width (stride 2)
  size_t plane() const { return static_cast<size_t>(Hp) * Wp; }
};
Dw3Geom dw3_geom(const Conv2dShape& s) {
  Dw3Geom g{s.H, s.W, s.Ho(), s.Wo(), s.stride, s.H + 2, s.W + 2, 0};
  if (g.st == 2) {
    g.We = (g.W + 3) / 2;  // padded columns 0..W+1 -> ceil((W+2)/2), +1 so tap 2 stays inside
    g.Wp = 2 * g.We;
  }
  return g;
}

// Copies a source plane (channel c) into the interior of a zero-bordered buffer (border
// untouched), through the folded BN+ReLU `in` when there is one.
void dw3_load(const Dw3Geom& g, const float* __restrict x, float* __restrict xp,
              const InputAffine& in, int c) {
  if (g.st == 1) {
    for (int h = 0; h < g.H; ++h) {
      float* dst = xp + (h + 1) * g.Wp + 1;
      if (in)
        in.row(c, x + h * g.W, dst, g.W);
      else
        dw3_copy_row(dst, x + h * g.W, g.W);
    }
    return;
  }
  const float sc = in ? in.scale(c) : 1.0f, sh = in ? in.shift(c) : 0.0f;
  auto f = [&](float v) { return in ? bn_relu_of(v, sc, sh) : v; };
  // padded column p = w + 1: even p (odd w) -> xe[p/2], odd p (even w) -> xo[p/2]
  for (int h = 0; h < g.H; ++h) {
    const float* __restrict xr = x + h * g.W;
    float* __restrict xe = xp + (h + 1) * g.Wp;
    float* __restrict xo = xe + g.We;
    const int half = g.W / 2;
    for (int j = 0; j < half; ++j) {
      xo[j] = f(xr[2 * j]);
      xe[j + 1] = f(xr[2 * j + 1]);
    }
    if (g.W & 1) xo[half] = f(xr[g.W - 1]);
  }
}

// y[oh][ow] = b + sum_{kh,kw} w[kh][kw] * xp[oh*st + kh][ow*st + kw]   (accumulate: y +=)
// Columns go in explicit vectors of V (16 or 8 lanes) with a scalar tail: left to the
// auto-vectoriser, rows of 8 or 16 outputs (the 8x8 and 16x16 stages) ran scalar.
template <class V, bool kAcc>
void dw3_conv_s1_v(const float* __restrict xp, int Wp, int Ho, int Wo, const float* w, float b,
                   float* __restrict y) {
  constexpr int L = sizeof(V) / sizeof(float);
  const int Wv = Wo / L * L;
  const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6],
              w7 = w[7], w8 = w[8];
  for (int oh = 0; oh < Ho; ++oh) {
    const float* __restrict r0 = xp + oh * Wp;
    const float* __restrict r1 = r0 + Wp;
    const float* __restrict r2 = r1 + Wp;
    float* __restrict yr = y + oh * Wo;
    for (int ow = 0; ow < Wv; ow += L) {
      const V a = w0 * vld<V>(r0 + ow) + w1 * vld<V>(r0 + ow + 1) + w2 * vld<V>(r0 + ow + 2);
      const V c = w3 * vld<V>(r1 + ow) + w4 * vld<V>(r1 + ow + 1) + w5 * vld<V>(r1 + ow + 2);
      const V d = w6 * vld<V>(r2 + ow) + w7 * vld<V>(r2 + ow + 1) + w8 * vld<V>(r2 + ow + 2);
      V v = (a + b) + (c + d);
      if (kAcc) v += vld<V>(yr + ow);
      std::memcpy(yr + ow, &v, sizeof(V));
    }
    for (int ow = Wv; ow < Wo; ++ow) {
      const float a = w0 * r0[ow] + w1 * r0[ow + 1] + w2 * r0[ow + 2];
      const float c = w3 * r1[ow] + w4 * r1[ow + 1] + w5 * r1[ow + 2];
      const float d = w6 * r2[ow] + w7 * r2[ow + 1] + w8 * r2[ow + 2];
      const float v = (a + b) + (c + d);
      yr[ow] = kAcc ? yr[ow] + v : v;
    }
  }
}

template <bool kAcc>
void dw3_conv_s1(const float* xp, int Wp, int Ho, int Wo, const float* w, float b, float* y) {
  if (Wo % kDwL == 0)
    dw3_conv_s1_v<DwVec, kAcc>(xp, Wp, Ho, Wo, w, b, y);
  else
    dw3_conv_s1_v<DwHalf, kAcc>(xp, Wp, Ho, Wo, w, b, y);
}

template <class V>
void dw3_conv_s2_v(const float* __restrict xp, int Wp, int We, int Ho, int Wo, const float* w,
                   float b, float* __restrict y) {
  constexpr int L = sizeof(V) / sizeof(float);
  const int Wv = Wo / L * L;
  const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6],
              w7 = w[7], w8 = w[8];
  for (int oh = 0; oh < Ho; ++oh) {
    const float* __restrict e0 = xp + 2 * oh * Wp;
    const float* __restrict e1 = e0 + Wp;
    const float* __restrict e2 = e1 + Wp;
    const float* __restrict o0 = e0 + We;
    const float* __restrict o1 = e1 + We;
    const float* __restrict o2 = e2 + We;
    float* __restrict yr = y + oh * Wo;
    for (int ow = 0; ow < Wv; ow += L) {
      const V a = w0 * vld<V>(e0 + ow) + w1 * vld<V>(o0 + ow) + w2 * vld<V>(e0 + ow + 1);
      const V c = w3 * vld<V>(e1 + ow) + w4 * vld<V>(o1 + ow) + w5 * vld<V>(e1 + ow + 1);
      const V d = w6 * vld<V>(e2 + ow) + w7 * vld<V>(o2 + ow) + w8 * vld<V>(e2 + ow + 1);
      const V v = (a + b) + (c + d);
      std::memcpy(yr + ow, &v, sizeof(V));
    }
    for (int ow = Wv; ow < Wo; ++ow) {
      const float a = w0 * e0[ow] + w1 * o0[ow] + w2 * e0[ow + 1];
      const float c = w3 * e1[ow] + w4 * o1[ow] + w5 * e1[ow + 1];
      const float d = w6 * e2[ow] + w7 * o2[ow] + w8 * e2[ow + 1];
      yr[ow] = (a + b) + (c + d);
    }
  }
}

void dw3_conv_s2(const float* xp, int Wp, int We, int Ho, int Wo, const float* w, float b,
                 float* y) {
  if (Wo % kDwL == 0)
    dw3_conv_s2_v<DwVec>(xp, Wp, We, Ho, Wo, w, b, y);
  else
    dw3_conv_s2_v<DwHalf>(xp, Wp, We, Ho, Wo, w, b, y);
}

// acc[kh*3+kw] += dY[oh][ow] * xp[oh*st + kh][ow*st + kw] over the plane, in vector lanes.
template <class V, int ST>
void dw3_wgrad(const Dw3Geom& g, const float* __restrict xp, const float* __restrict dy,
               V* __restrict acc) {
  constexpr int L = sizeof(V) / sizeof(float);
  const int Wv = g.Wo / L * L;
  for (int oh = 0; oh < g.Ho; ++oh) {
    const float* d = dy + oh * g.Wo;
    const float* r[3];
    for (int kh = 0; kh < 3; ++kh) r[kh] = xp + (oh * ST + kh) * g.Wp;
    for (int ow = 0; ow < Wv; ow += L) {
      const V gv = vld<V>(d + ow);
#pragma GCC unroll 3
      for (int kh = 0; kh < 3; ++kh) {
        if (ST == 1) {
          acc[kh * 3 + 0] += gv * vld<V>(r[kh] + ow);
          acc[kh * 3 + 1] += gv * vld<V>(r[kh] + ow + 1);
          acc[kh * 3 + 2] += gv * vld<V>(r[kh] + ow + 2);
        } else {
          acc[kh * 3 + 0] += gv * vld<V>(r[kh] + ow);
          acc[kh * 3 + 1] += gv * vld<V>(r[kh] + g.We + ow);
          acc[kh * 3 + 2] += gv * vld<V>(r[kh] + ow + 1);
        }
      }
    }
    for (int ow = Wv; ow < g.Wo; ++ow) {  // tail columns: one lane each
      const int l = ow - Wv;
      for (int kh = 0; kh < 3; ++kh) {
        const float* rr = r[kh];
        if (ST == 1) {
          acc[kh * 3 + 0][l] += d[ow] * rr[ow];
          acc[kh * 3 + 1][l] += d[ow] * rr[ow + 1];
          acc[kh * 3 + 2][l] += d[ow] * rr[ow + 2];
        } else {
          acc[kh * 3 + 0][l] += d[ow] * rr[ow];
          acc[kh * 3 + 1][l] += d[ow] * rr[g.We + ow];
          acc[kh * 3 + 2][l] += d[ow] * rr[ow + 1];
        }
      }
    }
  }
}

// Stride-1 planes with rows narrower than a vector (8x8 and smaller): row by row, loop
// overhead outweighed the arithmetic. Instead the 3x3 filter runs as a 1-D 9-tap filter over
// the flattened zero-bordered plane: out[j] = sum_t w[t] * xp[j + (t/3)*Wp + t%3] for
// j = oh*Wp + ow, where the Wp - Wo columns past each row are garbage ("wide" output).
// Planes need kDwSlack zero floats past their end (reads of the last vector).
constexpr int kDwSlack = 2 * kDwL;
bool dw3_small(const Dw3Geom& g) { return g.st == 1 && g.Wo <= kDwL; }
int dw3_wide_size(const Dw3Geom& g) { return (g.Ho * g.Wp + kDwL - 1) / kDwL * kDwL; }

void dw3_wide(const float* __restrict xp, int Wp, int nw, const float* w, float b,
              float* __restrict out) {
  const float* r0 = xp;
  const float* r1 = xp + Wp;
  const float* r2 = xp + 2 * Wp;
  for (int j = 0; j < nw; j += kDwL) {
    const DwVec a = w[0] * vld<DwVec>(r0 + j) + w[1] * vld<DwVec>(r0 + j + 1) + w[2] * vld<DwVec>(r0 + j + 2);
    const DwVec c = w[3] * vld<DwVec>(r1 + j) + w[4] * vld<DwVec>(r1 + j + 1) + w[5] * vld<DwVec>(r1 + j + 2);
    const DwVec d = w[6] * vld<DwVec>(r2 + j) + w[7] * vld<DwVec>(r2 + j + 1) + w[8] * vld<DwVec>(r2 + j + 2);
    const DwVec v = (a + b) + (c + d);
    std::memcpy(out + j, &v, sizeof(DwVec));
  }
}

// dst[oh][ow] (+)= wide[oh*Wp + ow]
template <bool kAdd>
void dw3_compact(const Dw3Geom& g, const float* __restrict wide, float* __restrict dst) {
  for (int oh = 0; oh < g.Ho; ++oh) {
    const float* src = wide + oh * g.Wp;
    float* d = dst + oh * g.Wo;
    if (kAdd)
      for (int ow = 0; ow < g.Wo; ++ow) d[ow] += src[ow];
    else
      dw3_copy_row(d, src, g.Wo);
  }
}

// Few pixels per call (N*H*W <= 16: batch-1 inference on 4x4, 2x2 and 1x1 planes): padding
// a plane costs more than its few MACs, so each plane is one 16-lane vector and each tap a
// lane permutation of it, zeroed where the tap falls on the padding.
constexpr int64_t kDwFewPixels = 16;
constexpr int kDwLanes = 16;
typedef float DwLanes __attribute__((vector_size(64)));
typedef int32_t DwIndex __attribute__((vector_size(64)));

void dw3_few_pixels(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                    const float* bias, float* y, const InputAffine& in, const Epilogue& epi) {
  const int H = s.H, W = s.W, Ho = s.Ho(), Wo = s.Wo(), st = s.stride;
  const int C = s.Cin, HW = H * W, P = Ho * Wo;
  // tap t of output pixel o reads input pixel idx[t][o], or padding where mask[t][o] is 0
  DwIndex idx[9];
  DwLanes mask[9];
  for (int t = 0; t < 9; ++t)
    for (int o = 0; o < kDwLanes; ++o) {
      const int ih = (o / Wo) * st + t / 3 - 1, iw = (o % Wo) * st + t % 3 - 1;
      const bool inside = o < P && ih >= 0 && ih < H && iw >= 0 && iw < W;
      idx[t][o] = inside ? ih * W + iw : 0;
      mask[t][o] = inside ? 1.0f : 0.0f;
    }
  ctx.pool.parallel_for(static_cast<int64_t>(s.N) * C, [&](int, int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int c = static_cast<int>(nc % C);
      DwLanes v{};
      std::memcpy(&v, x + nc * HW, sizeof(float) * HW);
      if (in) {
        v = v * in.scale(c) + in.shift(c);
        v = v > 0.0f ? v : DwLanes{};
      }
      const float* wc = w + c * 9;
      DwLanes acc = DwLanes{} + (bias ? bias[c] : 0.0f);
      for (int t = 0; t < 9; ++t) acc += wc[t] * (__builtin_shuffle(v, idx[t]) * mask[t]);
      // in the register: a pass per channel over P <= 16 values cost more than the nine taps
      if (epi) acc = epi.apply_lanes(c, acc, epi.res_at(nc * P), P);
      std::memcpy(y + nc * P, &acc, sizeof(float) * P);
    }
  }, 16);
}

// Planes of at most 16 pixels (4x4, 2x2, 1x1: MobileNet's last stages) on batches past the
// few-pixel route: a zero-bordered copy, a wide grid and a compaction per plane cost more
// than the plane's 144 multiply-adds. Each plane is one 16-lane register and each tap a lane
// permutation of it, zeroed where it falls on the padding (few-pixel route's idea), but every
// output, input gradient and weight-gradient lane is computed with the arithmetic of the
// route it replaces, term for term: the same nine products summed as (a + b) + (c + d),
// and the weight gradient in the same accumulator lanes in the same order (the wide grid's
// lane j % kDwL of a stride-1 plane, the output column of a stride-2 one), so results are
// bit-identical to the padded-plane route's.
constexpr int kDwPlaneMax = 16;
// (stride 1 also needs the wide grid's route, rows of at most kDwL: always on AVX-512.)
// AVX-512 builds only: without it GCC lowers the 64-byte register through memory, and the
// route ran 4-6x slower than the padded planes on an AVX2 build (MobileNetV1's 4x4 layers).
bool dw3_plane_in_register(const Conv2dShape& s) {
#if defined(__AVX512F__)
  return static_cast<int64_t>(s.H) * s.W <= kDwPlaneMax && (s.stride == 2 || s.W <= kDwL);
#else
  (void)s;
  return false;
#endif
}

// tap t of lane o reads lane idx[t][o] of the source register, or 0 where keep[t][o] is 0
struct DwGather {
  DwIndex idx[9];
  DwIndex keep[9];  // all ones or zero (AND mask: the padding is +0, as a zero border is)
};
inline DwLanes dw_take(const DwLanes& v, const DwIndex& idx, const DwIndex& keep) {
  return reinterpret_cast<DwLanes>(reinterpret_cast<DwIndex>(__builtin_shuffle(v, idx)) & keep);
}
inline void dw_set(DwIndex& idx, DwIndex& keep, int o, int src) {
  idx[o] = src >= 0 ? src : 0;
  keep[o] = src >= 0 ? -1 : 0;
}

// n <= 16 consecutive floats into the first lanes of a register (the rest 0), and back
inline DwLanes dw_load_n(const float* p, int n) {
#if defined(__AVX512F__)
  return reinterpret_cast<DwLanes>(_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p));
#else
  DwLanes v{};
  std::memcpy(&v, p, sizeof(float) * n);
  return v;
#endif
}
inline void dw_store_n(float* p, const DwLanes& v, int n) {
#if defined(__AVX512F__)
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), reinterpret_cast<__m512>(v));
#else
  std::memcpy(p, &v, sizeof(float) * n);
#endif
}

// The nine-tap sum of the padded-plane routes (dw3_conv_s1_v, dw3_conv_s2_v, dw3_wide),
// written as they write it so that it rounds (and contracts into FMAs) as they do.
inline DwLanes dw_taps9(const DwLanes* s, const float* w, float b) {
  const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6],
              w7 = w[7], w8 = w[8];
  const DwLanes a = w0 * s[0] + w1 * s[1] + w2 * s[2];
  const DwLanes c = w3 * s[3] + w4 * s[4] + w5 * s[5];
  const DwLanes d = w6 * s[6] + w7 * s[7] + w8 * s[8];
  return (a + b) + (c + d);
}

// x through the folded BN+ReLU, as bn_relu_of rounds it
inline DwLanes dw_in(const DwLanes& v, const InputAffine& in, int c) {
  if (!in) return v;
  const DwLanes a = v * in.scale(c) + in.shift(c);
  return a > 0.0f ? a : DwLanes{};
}

// Output lane o = oh*Wo + ow, tap (kh, kw): input pixel (oh*st + kh - 1, ow*st + kw - 1).
DwGather dw3_forward_gather(const Conv2dShape& s) {
  DwGather g;
  const int Ho = s.Ho(), Wo = s.Wo();
  for (int t = 0; t < 9; ++t)
    for (int o = 0; o < kDwLanes; ++o) {
      const int ih = (o / Wo) * s.stride + t / 3 - 1, iw = (o % Wo) * s.stride + t % 3 - 1;
      const bool in = o < Ho * Wo && ih >= 0 && ih < s.H && iw >= 0 && iw < s.W;
      dw_set(g.idx[t], g.keep[t], o, in ? ih * s.W + iw : -1);
    }
  return g;
}

void dw3_plane_forward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                       const float* bias, float* y, const InputAffine& in, const Epilogue& epi) {
  const DwGather tg = dw3_forward_gather(s);
  const int C = s.Cin, HW = s.H * s.W, P = s.Ho() * s.Wo();
  ctx.pool.parallel_for(static_cast<int64_t>(s.N) * C, [&](int, int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int c = static_cast<int>(nc % C);
      const DwLanes v = dw_in(dw_load_n(x + nc * HW, HW), in, c);
      DwLanes tap[9];
      for (int t = 0; t < 9; ++t) tap[t] = dw_take(v, tg.idx[t], tg.keep[t]);
      DwLanes acc = dw_taps9(tap, w + c * 9, bias ? bias[c] : 0.0f);
      if (epi) acc = epi.apply_lanes(c, acc, epi.res_at(nc * P), P);
      dw_store_n(y + nc * P, acc, P);
    }
  }, 16);
}

// Weight gradient chunks: the vectors the padded-plane route multiplies dY by. Stride 1 (the
// wide grid, dw3_wgrad_wide): chunk k holds wide positions j = k*kDwL + l, output pixel
// (j / Wp, j % Wp) where that column is < Wo (else dY is 0), taps at padded flat index
// j + kh*Wp + kw. Stride 2 (dw3_wgrad, rows of at most 8 columns in 8 lanes): chunk k is
// output row k, lane l its column l. Lanes past the route's accumulator width stay 0.
struct DwWgradChunks {
  int n = 0;          // chunks per plane
  int lanes = 0;      // accumulator lanes the route sums (kDwL, or 8 for stride 2)
  DwIndex dy_idx[16], dy_keep[16];
  DwGather x[16];
};
DwWgradChunks dw3_wgrad_chunks(const Conv2dShape& s) {
  DwWgradChunks ch;
  const int H = s.H, W = s.W, Ho = s.Ho(), Wo = s.Wo();
  auto xpad = [&](int r, int col) {  // padded (row, column) -> input pixel or -1
    return r >= 1 && r <= H && col >= 1 && col <= W ? (r - 1) * W + (col - 1) : -1;
  };
  if (s.stride == 1) {
    const int Wp = W + 2, nw = Ho * Wp;
    ch.lanes = kDwL;
    ch.n = (nw + kDwL - 1) / kDwL;
    for (int k = 0; k < ch.n; ++k)
      for (int l = 0; l < kDwLanes; ++l) {
        const int j = k * kDwL + l;
        const bool lane = l < kDwL;
        const int oh = j / Wp, ow = j % Wp;
        dw_set(ch.dy_idx[k], ch.dy_keep[k], l, lane && oh < Ho && ow < Wo ? oh * Wo + ow : -1);
        for (int t = 0; t < 9; ++t) {
          const int q = j + (t / 3) * Wp + t % 3;
          dw_set(ch.x[k].idx[t], ch.x[k].keep[t], l, lane ? xpad(q / Wp, q % Wp) : -1);
        }
      }
  } else {
    ch.lanes = 8;
    ch.n = Ho;
    for (int k = 0; k < ch.n; ++k)
      for (int l = 0; l < kDwLanes; ++l) {
        const bool lane = l < Wo;
        dw_set(ch.dy_idx[k], ch.dy_keep[k], l, lane ? k * Wo + l : -1);
        for (int t = 0; t < 9; ++t)
          dw_set(ch.x[k].idx[t], ch.x[k].keep[t], l,
                 lane ? xpad(2 * k + t / 3, 2 * l + t % 3) : -1);
      }
  }
  return ch;
}

// Input gradient: dx[ih][iw] = sum_t wf[t] * dyp[ih + kh][iw + kw] over the zero-bordered
// (stride 2: zero-upsampled) dY of the padded-plane route, wf the flipped kernel.
DwGather dw3_dx_gather(const Conv2dShape& s) {
  DwGather g;
  const int H = s.H, W = s.W, Ho = s.Ho(), Wo = s.Wo();
  for (int t = 0; t < 9; ++t)
    for (int i = 0; i < kDwLanes; ++i) {
      const int R = i / W + t / 3, Cc = i % W + t % 3;  // padded dY row and column
      int src = -1;
      if (i < H * W) {
        if (s.stride == 1) {
          if (R >= 1 && R <= Ho && Cc >= 1 && Cc <= Wo) src = (R - 1) * Wo + (Cc - 1);
        } else if ((R & 1) && (Cc & 1) && (R - 1) / 2 < Ho && (Cc - 1) / 2 < Wo) {
          src = (R - 1) / 2 * Wo + (Cc - 1) / 2;
        }
      }
      dw_set(g.idx[t], g.keep[t], i, src);
    }
  return g;
}

// Channels go in blocks of kDwPlaneBlock, image by image: consecutive planes of one image
// are contiguous, where one channel's planes across images are a tensor's image stride apart
// (a page or more: channel by channel, every plane read was a cache and TLB miss). Each
// channel's weight gradient still sums its images in order, on one thread.
constexpr int kDwPlaneBlock = 16;

void dw3_plane_backward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                        const float* dy, float* dx, float* dw, bool set_dx,
                        const InputAffine& in) {
  const int C = s.Cin, HW = s.H * s.W, P = s.Ho() * s.Wo();
  const DwGather dg = dw3_dx_gather(s);
  const DwWgradChunks ch = dw3_wgrad_chunks(s);
  const int64_t blocks = (C + kDwPlaneBlock - 1) / kDwPlaneBlock;
  ctx.pool.parallel_for(blocks, [&](int, int64_t b, int64_t e) {
    DwLanes acc[kDwPlaneBlock][9];
    for (int64_t blk = b; blk < e; ++blk) {
      const int c0 = static_cast<int>(blk) * kDwPlaneBlock;
      const int nb = std::min(kDwPlaneBlock, C - c0);
      for (int i = 0; i < nb; ++i)
        for (auto& a : acc[i]) a = DwLanes{};
      for (int n = 0; n < s.N; ++n) {
        for (int i = 0; i < nb; ++i) {
          const int c = c0 + i;
          const int64_t nc = static_cast<int64_t>(n) * C + c;
          const DwLanes g = dw_load_n(dy + nc * P, P);
          if (dw) {
            const DwLanes xv = dw_in(dw_load_n(x + nc * HW, HW), in, c);
            DwLanes a[9];
            for (int t = 0; t < 9; ++t) a[t] = acc[i][t];
            for (int k = 0; k < ch.n; ++k) {
              const DwLanes gv = dw_take(g, ch.dy_idx[k], ch.dy_keep[k]);
              for (int t = 0; t < 9; ++t) a[t] += gv * dw_take(xv, ch.x[k].idx[t], ch.x[k].keep[t]);
            }
            for (int t = 0; t < 9; ++t) acc[i][t] = a[t];
          }
          if (dx) {
            const float* wc = w + c * 9;
            const float wf[9] = {wc[8], wc[7], wc[6], wc[5], wc[4], wc[3], wc[2], wc[1], wc[0]};
            DwLanes tap[9];
            for (int t = 0; t < 9; ++t) tap[t] = dw_take(g, dg.idx[t], dg.keep[t]);
            DwLanes v = dw_taps9(tap, wf, 0.0f);
            if (!set_dx) v = dw_load_n(dx + nc * HW, HW) + v;
            dw_store_n(dx + nc * HW, v, HW);
          }
        }
      }
      for (int i = 0; dw && i < nb; ++i) {
        float* d = dw + (c0 + i) * 9;
        for (int t = 0; t < 9; ++t) {
          float sum = 0.0f;
          for (int l = 0; l < ch.lanes; ++l) sum += acc[i][t][l];
          d[t] += sum;
        }
      }
    }
  });
}

}  // namespace

void conv_dw3x3_forward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                        const float* bias, float* y, const InputAffine& in,
                        const Epilogue& epi) {
  if (static_cast<int64_t>(s.N) * s.H * s.W <= kDwFewPixels) {
    dw3_few_pixels(ctx, s, x, w, bias, y, in, epi);
    return;
  }
  if (dw3_plane_in_register(s)) {
    dw3_plane_forward(ctx, s, x, w, bias, y, in, epi);
    return;
  }
  const Dw3Geom g = dw3_geom(s);
  const int64_t HW = static_cast<int64_t>(s.H) * s.W, P = static_cast<int64_t>(g.Ho) * g.Wo;
  const bool small = dw3_small(g);
  ctx.pool.parallel_for(static_cast<int64_t>(s.N) * s.Cin, [&](int tid, int64_t b, int64_t e) {
    float* xp = ctx.ws.get_zeroed(tid, kWsCol, g.plane() + kDwSlack);
    float* wide = small ? ctx.ws.get(tid, kWsLocal, dw3_wide_size(g)) : nullptr;
    for (int64_t nc = b; nc < e; ++nc) {
      const int c = static_cast<int>(nc % s.Cin);
      dw3_load(g, x + nc * HW, xp, in, c);
      const float bb = bias ? bias[c] : 0.0f;
      if (small) {
        dw3_wide(xp, g.Wp, g.Ho * g.Wp, w + c * 9, bb, wide);
        dw3_compact<false>(g, wide, y + nc * P);
      } else if (g.st == 1) {
        dw3_conv_s1<false>(xp, g.Wp, g.Ho, g.Wo, w + c * 9, bb, y + nc * P);
      } else {
        dw3_conv_s2(xp, g.Wp, g.We, g.Ho, g.Wo, w + c * 9, bb, y + nc * P);
      }
      if (epi) epi.apply(c, y + nc * P, epi.res_at(nc * P), static_cast<int>(P));
    }
  }, 2);
}

namespace {

// acc[t] += sum_j dyw[j] * xp[j + (t/3)*Wp + t%3] over a small plane's wide grid; dyw is the
// zero-bordered dY plane seen from its first interior pixel, so its garbage columns (the
// right and left borders) and everything past the last row are zeros.
void dw3_wgrad_wide(const float* __restrict xp, const float* __restrict dyw, int Wp, int nw,
                    DwVec* __restrict acc) {
  for (int j = 0; j < nw; j += kDwL) {
    const DwVec gv = vld<DwVec>(dyw + j);
#pragma GCC unroll 3
    for (int kh = 0; kh < 3; ++kh) {
      const float* r = xp + kh * Wp + j;
      acc[kh * 3 + 0] += gv * vld<DwVec>(r);
      acc[kh * 3 + 1] += gv * vld<DwVec>(r + 1);
      acc[kh * 3 + 2] += gv * vld<DwVec>(r + 2);
    }
  }
}

constexpr int kDwBlock = 16;  // channels per block of the backward (at most)

template <class V>
void dw3_backward_v(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                    const float* dy, float* dx, float* dw, bool set_dx, const InputAffine& in) {
  constexpr int L = sizeof(V) / sizeof(float);
  const Dw3Geom g = dw3_geom(s);
  const int64_t HW = static_cast<int64_t>(s.H) * s.W, P = static_cast<int64_t>(g.Ho) * g.Wo;
  // dX: dY zero-bordered (stride 2: zero-upsampled too) on an (H+2) x (W+2) grid, so that
  // dx[ih][iw] = sum_{a,b} w[2-a][2-b] * dyp[ih+a][iw+b].
  const int Dp = s.W + 2;
  const size_t dplane = static_cast<size_t>(s.H + 2) * Dp;
  // Small stride-1 planes run on the wide grid (dw3_wide); stride 1 makes the dY and x
  // planes the same zero-bordered geometry.
  const bool small = dw3_small(g);
  const bool need_dyp = dx || (dw && small);
  // One thread owns a channel across all images: dw[c] needs no cross-thread sum. Channels
  // go in blocks, image by image (consecutive planes of an image are contiguous; channel by
  // channel, every plane was a tensor's image stride from the last); each channel still sums
  // its images in order, so the block size changes no result.
  const int64_t cb = std::clamp<int64_t>(s.Cin / (4 * ctx.pool.size()), 1, kDwBlock);
  ctx.pool.parallel_for((s.Cin + cb - 1) / cb, [&](int tid, int64_t b, int64_t e) {
    float* xp = dw ? ctx.ws.get_zeroed(tid, kWsCol, g.plane() + kDwSlack) : nullptr;
    float* dyp = need_dyp ? ctx.ws.get_zeroed(tid, kWsLocal, dplane + kDwSlack) : nullptr;
    float* wide = dx && small ? ctx.ws.get(tid, kWsLocal2, dw3_wide_size(g)) : nullptr;
    V accs[kDwBlock][9];
    for (int64_t blk = b; blk < e; ++blk) {
      const int64_t c0 = blk * cb, c1 = std::min<int64_t>(s.Cin, c0 + cb);
      for (int64_t c = c0; c < c1; ++c)
        for (auto& a : accs[c - c0]) a = V{};
      for (int n = 0; n < s.N; ++n) {
        for (int64_t c = c0; c < c1; ++c) {
          V* acc = accs[c - c0];
          const float* wc = w + c * 9;
          const float wf[9] = {wc[8], wc[7], wc[6], wc[5], wc[4], wc[3], wc[2], wc[1], wc[0]};
          const int64_t nc = static_cast<int64_t>(n) * s.Cin + c;
          const float* g_ = dy + nc * P;
          {  // the next plane of this block's walk
            const int64_t nx = c + 1 < c1 ? nc + 1 : nc + s.Cin - (c - c0);
            if (nx < static_cast<int64_t>(s.N) * s.Cin) {
              dw3_prefetch(dy + nx * P, P);
              if (dw) dw3_prefetch(x + nx * HW, HW);
              if (dx && !set_dx) dw3_prefetch(dx + nx * HW, HW);
            }
          }
          if (small) {
            for (int oh = 0; oh < g.Ho; ++oh)
              dw3_copy_row(dyp + (oh + 1) * Dp + 1, g_ + oh * g.Wo, g.Wo);
            if (dw) {
              dw3_load(g, x + nc * HW, xp, in, static_cast<int>(c));
              if constexpr (L == kDwL) dw3_wgrad_wide(xp, dyp + Dp + 1, g.Wp, g.Ho * g.Wp, acc);
            }
            if (dx) {
              dw3_wide(dyp, Dp, s.H * Dp, wf, 0.0f, wide);
              if (set_dx)
                dw3_compact<false>(g, wide, dx + nc * HW);
              else
                dw3_compact<true>(g, wide, dx + nc * HW);
            }
            continue;
          }
          if (dw) {
            dw3_load(g, x + nc * HW, xp, in, static_cast<int>(c));
            if (g.st == 1)
              dw3_wgrad<V, 1>(g, xp, g_, acc);
            else
              dw3_wgrad<V, 2>(g, xp, g_, acc);
          }
          if (dx) {
            if (g.st == 1) {
              for (int oh = 0; oh < g.Ho; ++oh)
                dw3_copy_row(dyp + (oh + 1) * Dp + 1, g_ + oh * g.Wo, g.Wo);
            } else {
              for (int oh = 0; oh < g.Ho; ++oh) {
                float* __restrict dr = dyp + (2 * oh + 1) * Dp + 1;
                const float* __restrict gr = g_ + oh * g.Wo;
                for (int ow = 0; ow < g.Wo; ++ow) dr[2 * ow] = gr[ow];
              }
            }
            if (set_dx)
              dw3_conv_s1<false>(dyp, Dp, s.H, s.W, wf, 0.0f, dx + nc * HW);
            else
              dw3_conv_s1<true>(dyp, Dp, s.H, s.W, wf, 0.0f, dx + nc * HW);
          }
        }
      }
      for (int64_t c = c0; dw && c < c1; ++c) {
        const V* acc = accs[c - c0];
        float* d = dw + c * 9;
        for (int t = 0; t < 9; ++t) {
          float sum = 0.0f;
          for (int l = 0; l < L; ++l) sum += acc[t][l];
          d[t] += sum;
        }
      }
    }
  });
}

}  // namespace

void conv_dw3x3_backward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                         const float* dy, float* dx, float* dw, bool set_dx,
                         const InputAffine& in) {
  if (dw3_plane_in_register(s)) {
    dw3_plane_backward(ctx, s, x, w, dy, dx, dw, set_dx, in);
    return;
  }
  // full vectors: rows that fill them, or small planes (wide grid)
  if (s.Wo() % kDwL == 0 || kDwL == 8 || dw3_small(dw3_geom(s)))
    dw3_backward_v<DwVec>(ctx, s, x, w, dy, dx, dw, set_dx, in);
  else
    dw3_backward_v<DwHalf>(ctx, s, x, w, dy, dx, dw, set_dx, in);
}

}  // namespace dsx
