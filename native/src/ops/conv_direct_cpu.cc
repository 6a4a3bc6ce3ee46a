// The deployment executor's dense convolution: a direct kernel over the compact output
// plane, with output channels as the register tile's rows and output pixels as its columns.
//
// Every output pixel j = oh*Wo + ow of an image is one vector lane: a tile is 8 output
// channels x NV vectors of 16 consecutive pixels (8 x 3 on AVX-512: 24 accumulators), summed
// over taps (kh, kw) and, within a tap, over input channels, with the weights packed once per
// network in that order (8 floats per (tap, ci): one broadcast each). A tap reads, for lane j,
// input pixel (S*oh + kh - pad, S*ow + kw - pad). Written kh - pad = S*dr + p and
// kw - pad = S*dc + q, that is phase plane (p, q) of the input (rows S*i + p, columns S*j + q)
// at row oh + dr and column ow + dc. Each phase plane is stored with Wo columns and zero rows
// above and below, so along the lanes the address is j + (dr*Wo + dc): one contiguous
// (masked) load per vector, whatever the row boundaries inside the vector. Lanes whose
// column ow + dc falls outside [0, Wo) are the zero padding: the load masks them off. With
// 2*pad >= K-1 a column outside [0, Wo) is always padding (see conv_direct_applies).
// At stride 1 there is one phase, the input with its zero rows; a pointwise conv reads x in
// place. Nothing is computed for a pixel that is not an output (the wide route's padded grid
// computes (Wo+2*pad)/Wo as many), the epilogue (bias, residual, ReLU) is applied to the
// accumulators and each output vector is stored once.
// Depthwise convs use the same planes and masks, a channel at a time over 4-vector tiles;
// 3x3 stride 1 builds its left and right taps from lane shifts of the centre loads.
// On AVX-512 Zen 4 (one thread): dense 3x3 at 50-56 GMAC/s (ResNet-20's shapes, stride 2
// included; the im2col/wide routes ran 20-40), pointwise 40-50, depthwise 3x3 25-29 (the
// training route's kernel: 7-20).
// AVX2+FMA builds run the same scheme on 8-lane ymm vectors (4 output channels x 3 vectors,
// see the DSX_DIRECT_256 section), with 16 registers instead of 32: pointwise convs and dense
// convs of few (channel, tap) rows (the stems) read a copy of each 48-pixel block's inputs
// (pw_panel, dense_panel) instead of planes a page apart, which share L1 sets; depthwise
// 3x3 has kernels for planes 8, 16 and 32 wide (dw3_rows_tile), 4x4 and 2x2 planes
// (registers only), and stride 2 (plain loads on the phase planes). On Zen 4 with
// DSX_ISA=avx2, one thread: dense 3x3 at 36-46 GMAC/s, pointwise 32-50 (the GEMM route:
// 18-54, 18 at 32x32), depthwise 3x3 stride 1 21-29 (13-17 before those kernels).
#include "ops/conv_direct_cpu.h"

#include <algorithm>
#include <cstring>

#if defined(__AVX512F__)
#define DSX_DIRECT_512 1
#elif defined(__AVX2__) && defined(__FMA__)
#define DSX_DIRECT_256 1
#endif
#if defined(DSX_DIRECT_512) || defined(DSX_DIRECT_256)
#include <immintrin.h>
#endif

namespace dsx {

namespace {
#if defined(DSX_DIRECT_512)
constexpr int kRows = 8;    // output channels per register tile
constexpr int kLanes = 16;  // pixels per vector
#else
// AVX2: 16 ymm registers hold 4 x 3 accumulators, the 3 vectors of input and a broadcast
constexpr int kRows = 4;
constexpr int kLanes = 8;
#endif
constexpr int kMaxTaps = 64;

int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

struct Geom {
  int S, Ho, Wo, top, Hq, taps;
  int64_t planeq;   // one phase plane: Hq * Wo
  int64_t cstride;  // one input channel's phases: S*S * planeq
  bool in_place;    // stride 1, output plane = input plane: x is read as it is
  bool shifted;     // some tap has a column shift (its loads mask columns off)
  int32_t off[kMaxTaps];   // tap kh*K + kw: its first lane's offset into a channel's phases
  int32_t dc[kMaxTaps];    // its column shift
  int32_t drow[kMaxTaps];  // in place: its row shift dr*Wo (its loads mask rows off)
};

[[maybe_unused]] Geom geom(const Conv2dShape& s) {
  Geom g{};
  g.S = s.stride;
  g.Ho = s.Ho();
  g.Wo = s.Wo();
  // in place, rows outside the plane are masked off instead of stored as zeros
  g.in_place = s.stride == 1 && g.Ho == s.H && g.Wo == s.W;
  g.top = g.in_place ? 0 : -floor_div(-s.pad, g.S);
  const int bottom = g.in_place ? 0 : std::max(0, floor_div(s.K - 1 - s.pad, g.S));
  g.Hq = g.top + g.Ho + bottom;
  g.planeq = static_cast<int64_t>(g.Hq) * g.Wo;
  g.cstride = static_cast<int64_t>(g.S) * g.S * g.planeq;
  g.taps = s.K * s.K;
  for (int kh = 0; kh < s.K; ++kh)
    for (int kw = 0; kw < s.K; ++kw) {
      const int dr = floor_div(kh - s.pad, g.S), p = kh - s.pad - dr * g.S;
      const int dc = floor_div(kw - s.pad, g.S), q = kw - s.pad - dc * g.S;
      g.off[kh * s.K + kw] = static_cast<int32_t>((p * g.S + q) * g.planeq + (g.top + dr) * g.Wo + dc);
      g.dc[kh * s.K + kw] = dc;
      g.drow[kh * s.K + kw] = g.in_place ? dr * g.Wo : 0;
      g.shifted = g.shifted || dc != 0;
    }
  return g;
}

#if defined(__AVX2__)
[[maybe_unused]] inline __m256i lanes_below_w(int n) {  // lanes 0 .. n-1 (n may be < 0 or > 8)
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif

// Even and odd columns of row xr (W floats) into ev and od (Wo floats each, zero past W).
void deinterleave_row(const float* __restrict xr, int W, int Wo, float* __restrict ev, float* __restrict od) {
  int j = 0;
#if defined(__AVX512F__)
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (; j + 16 <= Wo && 2 * j + 32 <= W; j += 16) {
    const __m512 lo = _mm512_loadu_ps(xr + 2 * j), hi = _mm512_loadu_ps(xr + 2 * j + 16);
    _mm512_storeu_ps(ev + j, _mm512_permutex2var_ps(lo, ie, hi));
    _mm512_storeu_ps(od + j, _mm512_permutex2var_ps(lo, io, hi));
  }
  for (; j + 8 <= Wo && 2 * j + 16 <= W; j += 8) {
    const __m512 v = _mm512_loadu_ps(xr + 2 * j);
    _mm256_storeu_ps(ev + j, _mm512_castps512_ps256(_mm512_permutexvar_ps(ie, v)));
    _mm256_storeu_ps(od + j, _mm512_castps512_ps256(_mm512_permutexvar_ps(io, v)));
  }
#elif defined(DSX_DIRECT_256)
  for (; j + 8 <= Wo && 2 * j + 16 <= W; j += 8) {
    const __m256 lo = _mm256_loadu_ps(xr + 2 * j), hi = _mm256_loadu_ps(xr + 2 * j + 8);
    // per 128-bit half: lo's even (odd) lanes then hi's; then the middle quarters swapped
    const __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 o = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    _mm256_storeu_ps(ev + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0))));
    _mm256_storeu_ps(od + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0))));
  }
#endif
  for (; j < Wo; ++j) {
    ev[j] = 2 * j < W ? xr[2 * j] : 0.0f;
    od[j] = 2 * j + 1 < W ? xr[2 * j + 1] : 0.0f;
  }
}

#if defined(__AVX2__)
// fill_phases at stride 2 for rows of at most 16*CH columns (phase rows of at most 8*CH)
template <int CH>
void fill_phases2(const Conv2dShape& s, const Geom& g, const float* __restrict x, float* __restrict q) {
  const int Wo = g.Wo, W = s.W;
  __m256i mask[2 * CH];
  for (int k = 0; k < 2 * CH; ++k) mask[k] = lanes_below_w(W - 8 * k);
  float* d = q;
  for (int ci = 0; ci < s.Cin; ++ci) {
    const float* xc = x + static_cast<int64_t>(ci) * s.H * W;
    for (int p = 0; p < 2; ++p)
      for (int qq = 0; qq < 2; ++qq)
        for (int r = 0; r < g.Hq; ++r, d += Wo) {
          const int ih = 2 * (r - g.top) + p;
          const bool inside = ih >= 0 && ih < s.H;
          const float* xr = xc + static_cast<int64_t>(ih) * W;
#pragma GCC unroll 2
          for (int k = 0; k < CH; ++k) {
            __m256 v = _mm256_setzero_ps();
            if (inside) {
              const __m256 lo = _mm256_maskload_ps(xr + 16 * k, mask[2 * k]);
              const __m256 hi = _mm256_maskload_ps(xr + 16 * k + 8, mask[2 * k + 1]);
              // per 128-bit half: lo's even (odd) lanes then hi's; then the middle quarters swapped
              v = qq == 0 ? _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))
                          : _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
              v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
            }
            _mm256_storeu_ps(d + 8 * k, v);
          }
        }
  }
}
#endif

// One image's phase planes: q[ci][p*S + q'][r][j] = x[ci][S*(r - top) + p][S*j + q'], zero
// outside x.
[[maybe_unused]] void fill_phases(const Conv2dShape& s, const Geom& g, const float* __restrict x, float* __restrict q) {
  const int S = g.S, Wo = g.Wo, W = s.W;
#if defined(__AVX2__)
  if (S == 2 && Wo <= 16 && W <= 32) {
    // per row, 8 columns of the phase at a time from 16 floats of x (masked past W, with the
    // masks computed once: computed per row, the row ran at half the speed), stored as 8
    // floats. Those past Wo land on the rows (and planes) after it, written later in this
    // same walk, the last channel's on the buffer's slack (qsize). Row calls (memset, a scalar
    // deinterleave of a few columns) cost more than the depthwise conv that reads the planes
    // of MobileNet's 8x8 and 4x4 stride-2 layers.
    if (Wo <= 8)
      fill_phases2<1>(s, g, x, q);
    else
      fill_phases2<2>(s, g, x, q);
    return;
  }
#endif
  for (int ci = 0; ci < s.Cin; ++ci) {
    const float* xc = x + static_cast<int64_t>(ci) * s.H * W;
    for (int p = 0; p < S; ++p)
      for (int qq = 0; qq < S; ++qq) {
        float* d = q + ci * g.cstride + (p * S + qq) * g.planeq;
        for (int r = 0; r < g.Hq; ++r, d += Wo) {
          const int ih = S * (r - g.top) + p;
          if (ih < 0 || ih >= s.H) {
            std::memset(d, 0, sizeof(float) * Wo);
            continue;
          }
          const float* xr = xc + static_cast<int64_t>(ih) * W;
          if (S == 2 && qq == 0) {  // both column phases of the row at once
            deinterleave_row(xr, W, Wo, d, d + g.planeq);
          } else if (S == 2) {
            // written with phase 0
          } else if (S == 1) {
            const int n = std::min(W, Wo);
            std::memcpy(d, xr, sizeof(float) * n);
            for (int j = n; j < Wo; ++j) d[j] = 0.0f;
          } else {
            for (int j = 0; j < Wo; ++j) {
              const int iw = S * j + qq;
              d[j] = iw < W ? xr[iw] : 0.0f;
            }
          }
        }
      }
  }
}

// Tiles of an image's nvec pixel vectors: `wide` vectors each (the dense kernel's 8 x 3, the
// depthwise's 4), the rest as one narrower tile, or as 2 + 2 when 3-wide tiles leave 1.
struct Tiles {
  int nvec, wide, nw, extra, extra_nv;
  Tiles(int64_t P, int wide_) : wide(wide_) {
    nvec = static_cast<int>((P + kLanes - 1) / kLanes);
    const int rem = nvec % wide;
    if (wide == 3 && rem == 1 && nvec > 3) {
      nw = (nvec - 4) / 3, extra = 2, extra_nv = 2;
    } else {
      nw = nvec / wide, extra = rem ? 1 : 0, extra_nv = rem;
    }
  }
  int count() const { return nw + extra; }
  int start(int t) const { return t < nw ? wide * t : wide * nw + extra_nv * (t - nw); }  // in vectors
  int width(int t) const { return t < nw ? wide : extra_nv; }
};

#if defined(__AVX2__) && defined(__FMA__)
// 8-lane helpers, also for the AVX2 kernels an AVX-512 build runs (the stride-2 depthwise)
inline __m256i lanes_below(int64_t left) {  // lanes 0 .. left-1
  const int32_t n = static_cast<int32_t>(std::min<int64_t>(std::max<int64_t>(left, 0), 8));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// bias, residual, ReLU on an output vector, stored at y (the first `left` lanes)
inline void epilogue_store(__m256 val, const Epilogue& epi, __m256 bias, const float* res, int64_t left,
                           __m256i tail, float* y) {
  if (epi.bias) val = _mm256_add_ps(val, bias);
  if (res) val = _mm256_add_ps(val, left >= 8 ? _mm256_loadu_ps(res) : _mm256_maskload_ps(res, tail));
  if (epi.relu) val = _mm256_max_ps(_mm256_setzero_ps(), val);  // as std::max(val, 0): keeps -0 and NaN
  if (left >= 8)
    _mm256_storeu_ps(y, val);
  else if (left == 4)  // planes of 4 pixels (2x2): a masked store is microcoded on Zen
    _mm_storeu_ps(y, _mm256_castps256_ps128(val));
  else
    _mm256_maskstore_ps(y, tail, val);
}

#endif

#if defined(__AVX512F__)
// Per vector v of the tile at j0: the lanes inside the plane, their columns and indices.
template <int NV>
inline void lane_setup(const Geom& g, const int32_t* owtab, int64_t j0, int64_t P, __mmask16* tail,
                       __m512i* ow, __m512i* jv) {
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int v = 0; v < NV; ++v) {
    const int64_t left = P - (j0 + 16 * v);
    tail[v] = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
    ow[v] = g.shifted ? _mm512_loadu_si512(owtab + j0 + 16 * v) : _mm512_setzero_si512();
    jv[v] = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(j0 + 16 * v)), iota);
  }
}

// The lanes tap t reads: inside the plane, and not the padding (columns outside [0, Wo);
// in place, rows outside the plane too).
template <int NV>
inline void tap_masks(const Geom& g, int t, int64_t P, const __mmask16* tail, const __m512i* ow,
                      const __m512i* jv, __mmask16* m) {
  const __m512i zero = _mm512_setzero_si512();
  const int dc = g.dc[t], dro = g.drow[t];
  for (int v = 0; v < NV; ++v) {
    __mmask16 mm = tail[v];
    if (dc != 0) {
      const __m512i o = _mm512_add_epi32(ow[v], _mm512_set1_epi32(dc));
      mm &= _mm512_cmpge_epi32_mask(o, zero) & _mm512_cmplt_epi32_mask(o, _mm512_set1_epi32(g.Wo));
    }
    if (dro != 0) {
      const __m512i o = _mm512_add_epi32(jv[v], _mm512_set1_epi32(dro));
      mm &= _mm512_cmpge_epi32_mask(o, zero) &
            _mm512_cmplt_epi32_mask(o, _mm512_set1_epi32(static_cast<int32_t>(P)));
    }
    m[v] = mm;
  }
}

// Every tap's masks of the tile at j0 (mk[t*NV + v]), once for all its slivers.
template <int NV>
void all_tap_masks(const Geom& g, const int32_t* owtab, int64_t j0, int64_t P, __mmask16* mk) {
  __mmask16 tail[NV];
  __m512i ow[NV], jv[NV];
  lane_setup<NV>(g, owtab, j0, P, tail, ow, jv);
  for (int t = 0; t < g.taps; ++t) tap_masks<NV>(g, t, P, tail, ow, jv, mk + t * NV);
}

// y[c0 + i][j0 .. j0 + 16*NV) (i < 8, c0 + i < Cout) = epi(sum over taps, ci of a * x), with
// the tap masks mk of all_tap_masks.
// bias, residual, ReLU on an output vector, stored at y (the lanes of `tail`; all 16 when it
// is full, which takes plain loads and stores)
inline void epilogue_store(__m512 val, const Epilogue& epi, __m512 bias, const float* res, __mmask16 tail,
                           float* y) {
  const bool full = tail == static_cast<__mmask16>(0xFFFF);
  if (epi.bias) val = _mm512_add_ps(val, bias);
  if (res) val = _mm512_add_ps(val, full ? _mm512_loadu_ps(res) : _mm512_maskz_loadu_ps(tail, res));
  if (epi.relu) val = _mm512_max_ps(_mm512_setzero_ps(), val);  // as std::max(val, 0): keeps -0 and NaN
  if (full)
    _mm512_storeu_ps(y, val);
  else
    _mm512_mask_storeu_ps(y, tail, val);
}

template <int NV>
void tile(const Geom& g, int Cin, const float* __restrict a, const float* __restrict base,
          const __mmask16* __restrict mk, int64_t j0, int64_t P, const Epilogue& epi, int c0,
          int Cout, float* __restrict y, const float* __restrict res) {
  __mmask16 tail[NV];
  for (int v = 0; v < NV; ++v) {
    const int64_t left = P - (j0 + 16 * v);
    tail[v] = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
  }
  __m512 acc[kRows][NV];
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  const int64_t cs = g.cstride;
  for (int t = 0; t < g.taps; ++t) {
    const float* b = base + g.off[t] + j0;
    __mmask16 m[NV];
    for (int v = 0; v < NV; ++v) m[v] = mk[t * NV + v];
    for (int ci = 0; ci < Cin; ++ci, a += kRows, b += cs) {
      __m512 bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = _mm512_maskz_loadu_ps(m[v], b + 16 * v);
#pragma GCC unroll 8
      for (int i = 0; i < kRows; ++i) {
        const __m512 av = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
      }
    }
  }
  const int rows = std::min(kRows, Cout - c0);
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i) {
    if (i >= rows) break;
    const int c = c0 + i;
    const int64_t o = static_cast<int64_t>(c) * P + j0;
    const __m512 bias = _mm512_set1_ps(epi.bias ? epi.bias[c] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      epilogue_store(acc[i][v], epi, bias, res ? res + o + 16 * v : nullptr, tail[v], y + o + 16 * v);
  }
}

// Depthwise: y[c][j0 .. j0 + 16*NV) = epi(sum over taps of w[c][t] * x) for every channel c,
// the tap masks computed once for all channels.
template <int NV>
void dw_tile(const Geom& g, int C, const float* __restrict w, const float* __restrict base,
             const int32_t* __restrict owtab, int64_t j0, int64_t P, const Epilogue& epi,
             float* __restrict y, const float* __restrict res) {
  __mmask16 tail[NV];
  __m512i ow[NV], jv[NV];
  lane_setup<NV>(g, owtab, j0, P, tail, ow, jv);
  __mmask16 m[kMaxTaps][NV];
  for (int t = 0; t < g.taps; ++t) tap_masks<NV>(g, t, P, tail, ow, jv, m[t]);
  const int taps = g.taps;
  for (int c = 0; c < C; ++c) {
    const float* xc = base + c * g.cstride + j0;
    const float* wc = w + c * taps;
    __m512 acc[NV], acc2[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[v] = acc2[v] = _mm512_setzero_ps();
    int t = 0;
    for (; t + 2 <= taps; t += 2) {
      const __m512 wv = _mm512_set1_ps(wc[t]), wv2 = _mm512_set1_ps(wc[t + 1]);
      const float* b = xc + g.off[t];
      const float* b2 = xc + g.off[t + 1];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        acc[v] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m[t][v], b + 16 * v), acc[v]);
        acc2[v] = _mm512_fmadd_ps(wv2, _mm512_maskz_loadu_ps(m[t + 1][v], b2 + 16 * v), acc2[v]);
      }
    }
    for (; t < taps; ++t) {
      const __m512 wv = _mm512_set1_ps(wc[t]);
      const float* b = xc + g.off[t];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[v] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m[t][v], b + 16 * v), acc[v]);
    }
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[v] = _mm512_add_ps(acc[v], acc2[v]);
    const int64_t o = static_cast<int64_t>(c) * P + j0;
    const __m512 bias = _mm512_set1_ps(epi.bias ? epi.bias[c] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      epilogue_store(acc[v], epi, bias, res ? res + o + 16 * v : nullptr, tail[v], y + o + 16 * v);
  }
}

// Depthwise 3x3, stride 1, pad 1, in place: per kernel row, the tile's NV vectors and their
// neighbours are loaded once and the taps left and right of the centre are lane shifts of
// them (valignd), the padding columns zeroed by the shift's mask: a third of the loads of
// the generic tile (9 per output vector, most split across cache lines), which bound it.
// kInterior: the rows above and below and the neighbouring vectors lie inside the plane and
// every vector is full (no load or store mask); otherwise lanes outside the plane are masked.
template <int NV, bool kInterior>
void dw3_tile(const Geom& g, int C, const float* __restrict w, const float* __restrict base,
                       const int32_t* __restrict owtab, int64_t j0, int64_t P, const Epilogue& epi,
                       float* __restrict y, const float* __restrict res) {
  const int W = g.Wo;
  __mmask16 lm[NV], rm[NV];
  const __m512i zero_i = _mm512_setzero_si512(), last = _mm512_set1_epi32(W - 1);
  for (int v = 0; v < NV; ++v) {
    const __m512i ow = _mm512_loadu_si512(owtab + j0 + 16 * v);
    lm[v] = _mm512_cmpneq_epi32_mask(ow, zero_i);
    rm[v] = _mm512_cmpneq_epi32_mask(ow, last);
  }
  __mmask16 ld[3][NV + 2], tail[NV];  // lanes inside the plane (border tiles)
  if (!kInterior) {
    auto inside = [&](int64_t jj) {
      const int64_t lo = std::max<int64_t>(0, -jj), hi = std::min<int64_t>(16, P - jj);
      if (hi <= lo) return static_cast<__mmask16>(0);
      return static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
    };
    for (int kh = 0; kh < 3; ++kh)
      for (int k = 0; k < NV + 2; ++k) ld[kh][k] = inside(j0 + 16 * (k - 1) + (kh - 1) * W);
    for (int v = 0; v < NV; ++v) tail[v] = inside(j0 + 16 * v);
  }
  for (int c = 0; c < C; ++c) {
    const float* xc = base + c * g.cstride + j0;
    const float* wc = w + c * 9;
    __m512 acc[NV], acc2[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[v] = acc2[v] = _mm512_setzero_ps();
#pragma GCC unroll 3
    for (int kh = 0; kh < 3; ++kh) {
      const float* b = xc + (kh - 1) * W;
      __m512 x[NV + 2];
#pragma GCC unroll 6
      for (int k = 0; k < NV + 2; ++k)
        x[k] = kInterior ? _mm512_loadu_ps(b + 16 * (k - 1)) : _mm512_maskz_loadu_ps(ld[kh][k], b + 16 * (k - 1));
      const __m512 w0 = _mm512_set1_ps(wc[3 * kh]), w1 = _mm512_set1_ps(wc[3 * kh + 1]),
                   w2 = _mm512_set1_ps(wc[3 * kh + 2]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const __m512 l = _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(
            lm[v], _mm512_castps_si512(x[v + 1]), _mm512_castps_si512(x[v]), 15));
        const __m512 r = _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(
            rm[v], _mm512_castps_si512(x[v + 2]), _mm512_castps_si512(x[v + 1]), 1));
        acc[v] = _mm512_fmadd_ps(w1, x[v + 1], acc[v]);
        acc2[v] = _mm512_fmadd_ps(w0, l, acc2[v]);
        acc[v] = _mm512_fmadd_ps(w2, r, acc[v]);
      }
    }
    const int64_t o = static_cast<int64_t>(c) * P + j0;
    const __m512 bias = _mm512_set1_ps(epi.bias ? epi.bias[c] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      epilogue_store(_mm512_add_ps(acc[v], acc2[v]), epi, bias, res ? res + o + 16 * v : nullptr,
                     kInterior ? static_cast<__mmask16>(0xFFFF) : tail[v], y + o + 16 * v);
  }
}
#elif defined(DSX_DIRECT_256)
// AVX2 + FMA: the same kernels on 8-lane ymm vectors. A lane mask is an integer vector (all
// ones: read), its loads _mm256_maskload_ps (masked-off lanes are neither read nor faulted).
// lo <= o < hi, lane by lane
inline __m256i in_range(__m256i o, int32_t lo, int32_t hi) {
  return _mm256_and_si256(_mm256_cmpgt_epi32(o, _mm256_set1_epi32(lo - 1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), o));
}

template <int NV>
inline void lane_setup(const Geom& g, const int32_t* owtab, int64_t j0, int64_t P, __m256i* tail,
                       __m256i* ow, __m256i* jv) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int v = 0; v < NV; ++v) {
    tail[v] = lanes_below(P - (j0 + 8 * v));
    ow[v] = g.shifted ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(owtab + j0 + 8 * v))
                      : _mm256_setzero_si256();
    jv[v] = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(j0 + 8 * v)), iota);
  }
}

template <int NV>
inline void tap_masks(const Geom& g, int t, int64_t P, const __m256i* tail, const __m256i* ow,
                      const __m256i* jv, __m256i* m) {
  const int dc = g.dc[t], dro = g.drow[t];
  for (int v = 0; v < NV; ++v) {
    __m256i mm = tail[v];
    if (dc != 0) mm = _mm256_and_si256(mm, in_range(_mm256_add_epi32(ow[v], _mm256_set1_epi32(dc)), 0, g.Wo));
    if (dro != 0)
      mm = _mm256_and_si256(
          mm, in_range(_mm256_add_epi32(jv[v], _mm256_set1_epi32(dro)), 0, static_cast<int32_t>(P)));
    m[v] = mm;
  }
}

template <int NV>
void all_tap_masks(const Geom& g, const int32_t* owtab, int64_t j0, int64_t P, __m256i* mk) {
  __m256i tail[NV], ow[NV], jv[NV];
  lane_setup<NV>(g, owtab, j0, P, tail, ow, jv);
  for (int t = 0; t < g.taps; ++t) tap_masks<NV>(g, t, P, tail, ow, jv, mk + t * NV);
}

// y[c0 + i][j0 .. j0 + 8*NV) (i < kRows, c0 + i < Cout) = epi(sum over ci, taps of a * x):
// input channels outer, taps inner (the packing order on AVX2), so that a channel's 9 taps
// read the same few cache lines (taps outer, as on AVX-512, walks the Cin channels a plane
// apart, 4 KiB at 32x32, for every tap: ResNet-20's 16->16 3x3 ran at 26 GMAC/s that way,
// 36-41 this way, on Zen 4). kLoad: how a tap's lanes outside the mask are zeroed:
//   kMasked: _mm256_maskload_ps (masked-off lanes are not read: tiles at the buffer's ends;
//            on Zen 4 it cost a quarter of the speed of the 32-channel convs);
//   kAnd:    a plain load and'ed with the mask (every lane's address inside the buffer);
//   kPlain:  a plain load (every mask all ones).
// The three give the same values (masked lanes +0), whichever a tile takes.
enum LoadKind { kMasked, kAnd, kPlain };
// bc: the tile's first pixel in input channel 0, cs: the channel stride.
template <int NV, int kLoad>
void tile(const Geom& g, int Cin, const float* __restrict a, const float* __restrict bc, int64_t cs,
          const __m256i* __restrict mk, int64_t j0, int64_t P, const Epilogue& epi, int c0,
          int Cout, float* __restrict y, const float* __restrict res) {
  __m256 acc[kRows][NV];
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  const int taps = g.taps;
  for (int ci = 0; ci < Cin; ++ci, bc += cs) {
    for (int t = 0; t < taps; ++t, a += kRows) {
      const float* b = bc + g.off[t];
      const __m256i* m = mk + t * NV;
      __m256 bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        if (kLoad == kMasked)
          bv[v] = _mm256_maskload_ps(b + 8 * v, m[v]);
        else if (kLoad == kAnd)
          bv[v] = _mm256_and_ps(_mm256_loadu_ps(b + 8 * v), _mm256_castsi256_ps(m[v]));
        else
          bv[v] = _mm256_loadu_ps(b + 8 * v);
      }
#pragma GCC unroll 8
      for (int i = 0; i < kRows; ++i) {
        const __m256 av = _mm256_broadcast_ss(a + i);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
      }
    }
  }
  const int rows = std::min(kRows, Cout - c0);
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i) {
    if (i >= rows) break;
    const int c = c0 + i;
    const int64_t o = static_cast<int64_t>(c) * P + j0;
    const __m256 bias = _mm256_set1_ps(epi.bias ? epi.bias[c] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const int64_t left = P - (j0 + 8 * v);
      epilogue_store(acc[i][v], epi, bias, res ? res + o + 8 * v : nullptr, left, lanes_below(left), y + o + 8 * v);
    }
  }
}

// Pointwise (1x1, stride 1) on AVX2: y[c0 + r][j0 .. j0 + 8*NV) = epi(sum over ci of
// w[c0 + r][ci] * x[ci][...]) for the rows r < rows of SL slivers (their weights at a, Cin*kRows
// floats each), the pixels of input channel ci read at b + ci*bs (a panel, pw_panel). SL > 1
// for one-vector tiles (planes of a few pixels): 4 accumulators are 4 FMA chains, which FMA
// latency holds to half the FMA throughput. Each output is the GEMM's chain (the route
// pointwise convs took before, conv_wide_cpu.cc): FMAs over ci in order from zero, per
// reduction block of kc (kPwKC) channels, the blocks' sums added in order, then the epilogue.
// Dense convs run here too (dense_panel), their (ci, tap) rows as the channels, in one block
// (kc >= Cin: tile's chain). kFull: all NV vectors inside the plane (no lane masks).
constexpr int kPwKC = 256;  // the SGEMM's reduction block (gemm_cpu.cc kKC)
template <int NV, int SL, bool kFull>
inline void pw_tile(int Cin, int kc, const float* __restrict a, const float* __restrict b, int64_t bs, int64_t j0,
                    int64_t P, const Epilogue& epi, int c0, int rows, float* __restrict y,
                    const float* __restrict res) {
  constexpr int R = SL * kRows;
  __m256i tail[NV];
  for (int v = 0; v < NV; ++v) tail[v] = kFull ? _mm256_set1_epi32(-1) : lanes_below(P - (j0 + 8 * v));
  const bool blocks = Cin > kc;
  const int64_t as = static_cast<int64_t>(Cin) * kRows;  // one sliver's weights
  __m256 acc[R][NV];
  for (int k0 = 0; k0 < Cin; k0 += kc) {
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
    const int k1 = blocks ? std::min(Cin, k0 + kc) : Cin;
    const float* bk = b + k0 * bs;
    const float* ak = a + static_cast<int64_t>(k0) * kRows;
    for (int ci = k0; ci < k1; ++ci, bk += bs, ak += kRows) {
      // one load per vector, not one per FMA (memory operands); scalars, not an array: GCC
      // kept an array's elements under the empty asm in a stack copy, 3 stores per 12 FMAs
      __m256 b0 = _mm256_load_ps(bk), b1, b2;
      if constexpr (NV == 1) {
        asm("" : "+x"(b0));
      } else if constexpr (NV == 2) {
        b1 = _mm256_load_ps(bk + 8);
        asm("" : "+x"(b0), "+x"(b1));
      } else {
        b1 = _mm256_load_ps(bk + 8);
        b2 = _mm256_load_ps(bk + 16);
        asm("" : "+x"(b0), "+x"(b1), "+x"(b2));
      }
#pragma GCC unroll 12
      for (int i = 0; i < R; ++i) {
        const __m256 av = _mm256_broadcast_ss(ak + (i / kRows) * as + i % kRows);
        acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
        if constexpr (NV > 1) acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
        if constexpr (NV > 2) acc[i][2] = _mm256_fmadd_ps(av, b2, acc[i][2]);
      }
    }
    if (!blocks) break;
    // the running sum lives in y until the last block is in
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i) {
      if (i >= rows) break;
      float* yc = y + static_cast<int64_t>(c0 + i) * P + j0;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const bool full = kFull || P - (j0 + 8 * v) >= 8;
        if (k0 > 0)
          acc[i][v] = _mm256_add_ps(full ? _mm256_loadu_ps(yc + 8 * v) : _mm256_maskload_ps(yc + 8 * v, tail[v]),
                                    acc[i][v]);
        if (k1 == Cin) continue;
        if (full)
          _mm256_storeu_ps(yc + 8 * v, acc[i][v]);
        else
          _mm256_maskstore_ps(yc + 8 * v, tail[v], acc[i][v]);
      }
    }
  }
  // With a residual, every row's bias and residual are added before the first store: the
  // residual's rows lie a plane apart, as y's, and with planes of whole 4 KiB pages
  // (ResNet-20's) row i+1's residual has the low 12 address bits of row i of y, so loading it
  // after that store waited for the store (4K aliasing; the residual pointwise convs ran 5-10%
  // slower). The same operations in the same order (epilogue_store's), so the same values.
  Epilogue last = epi;
  if (res) {
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i) {
      if (i >= rows) break;
      const int c = c0 + i;
      const float* r = res + static_cast<int64_t>(c) * P + j0;
      const __m256 bias = _mm256_set1_ps(epi.bias ? epi.bias[c] : 0.0f);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        if (epi.bias) acc[i][v] = _mm256_add_ps(acc[i][v], bias);
        const bool full = kFull || P - (j0 + 8 * v) >= 8;
        acc[i][v] = _mm256_add_ps(acc[i][v], full ? _mm256_loadu_ps(r + 8 * v) : _mm256_maskload_ps(r + 8 * v, tail[v]));
      }
    }
    last.bias = nullptr;
  }
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) {
    if (i >= rows) break;
    const int c = c0 + i;
    const int64_t o = static_cast<int64_t>(c) * P + j0;
    const __m256 bias = _mm256_set1_ps(last.bias ? last.bias[c] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      epilogue_store(acc[i][v], last, bias, nullptr, kFull ? 8 : P - (j0 + 8 * v), tail[v], y + o + 8 * v);
  }
}

// The panel pw_tile reads: pixels [j0, j0 + 8*nv) of each of x's Cin planes (P pixels each),
// zero past P, 8*nv floats per channel. x's channels lie a plane apart (4 KiB at 32x32), so
// reading a tile's pixels from all of them in place hits one L1 set; the panel is read by
// every sliver.
void pw_panel(const float* __restrict x, int Cin, int64_t P, int64_t j0, int nv, float* __restrict panel) {
  for (int ci = 0; ci < Cin; ++ci) {
    const float* src = x + ci * P + j0;
    float* d = panel + static_cast<int64_t>(ci) * 8 * nv;
    for (int v = 0; v < nv; ++v) {
      const int64_t left = P - (j0 + 8 * v);
      _mm256_store_ps(d + 8 * v, left >= 8 ? _mm256_loadu_ps(src + 8 * v) : _mm256_maskload_ps(src + 8 * v, lanes_below(left)));
    }
  }
}

// Pixels [j0, j0 + 8*nv) (nv <= kPwBlock) of every output channel, from their panel: each
// sliver's register tiles (3 vectors, then what is left) side by side, so that the sliver's
// output rows are written in whole cache lines while they are in L1 (rows a plane apart share
// L1 sets: a line written half now and half a tile later was fetched twice).
constexpr int kPwBlock = 6;
constexpr int kDensePanelK = 640;  // dense convs with at most this many (ci, tap) rows (a panel of at most 120 KiB)
[[gnu::noinline]] void pw_block(int Cin, int kc, int Cout, const float* __restrict packed, const float* __restrict panel,
                                int64_t j0, int nv, int64_t P, const Epilogue& epi, float* __restrict y,
                                const float* __restrict res) {
  const int64_t bs = 8 * nv;
  if (nv == 1) {  // a plane of at most 8 pixels: 3 slivers at once
    const bool full = j0 + 8 <= P;
    int c0 = 0;
    for (; c0 + 3 * kRows <= Cout; c0 += 3 * kRows) {
      const float* a = packed + static_cast<int64_t>(c0) * Cin;
      full ? pw_tile<1, 3, true>(Cin, kc, a, panel, bs, j0, P, epi, c0, 3 * kRows, y, res)
           : pw_tile<1, 3, false>(Cin, kc, a, panel, bs, j0, P, epi, c0, 3 * kRows, y, res);
    }
    for (; c0 < Cout; c0 += kRows) {
      const float* a = packed + static_cast<int64_t>(c0) * Cin;
      const int rows = std::min(kRows, Cout - c0);
      full ? pw_tile<1, 1, true>(Cin, kc, a, panel, bs, j0, P, epi, c0, rows, y, res)
           : pw_tile<1, 1, false>(Cin, kc, a, panel, bs, j0, P, epi, c0, rows, y, res);
    }
    return;
  }
  for (int c0 = 0; c0 < Cout; c0 += kRows) {
    const float* a = packed + static_cast<int64_t>(c0) * Cin;
    const int rows = std::min(kRows, Cout - c0);
    for (int v0 = 0; v0 < nv;) {
      const int w = nv - v0 >= 3 ? 3 : nv - v0;
      const int64_t j = j0 + 8 * v0;
      const float* b = panel + 8 * v0;
      const bool full = j + 8 * w <= P;
#define DSX_PW(NV) full ? pw_tile<NV, 1, true>(Cin, kc, a, b, bs, j, P, epi, c0, rows, y, res) \
                        : pw_tile<NV, 1, false>(Cin, kc, a, b, bs, j, P, epi, c0, rows, y, res)
      if (w == 3)
        DSX_PW(3);
      else if (w == 2)
        DSX_PW(2);
      else
        DSX_PW(1);
#undef DSX_PW
      v0 += w;
    }
  }
}

// A dense conv's panel for pw_block: row ci*taps + t holds, for NV vectors of pixels, the
// input value tap t reads in channel ci (zero on the padding and past P), as tile loads them
// (bc: the vectors' first pixel in channel 0, cs: the channel stride, mk: the tap masks;
// kMasked: masked loads, the others and'ed loads), at a stride of bs floats.
template <int NV>
void dense_panel(const Geom& g, int Cin, const float* __restrict bc, int64_t cs, const __m256i* __restrict mk,
                 bool masked, float* __restrict panel, int64_t bs) {
  const int taps = g.taps;
  for (int ci = 0; ci < Cin; ++ci, bc += cs)
    for (int t = 0; t < taps; ++t, panel += bs) {
      const float* b = bc + g.off[t];
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v)
        _mm256_store_ps(panel + 8 * v, masked ? _mm256_maskload_ps(b + 8 * v, mk[t * NV + v])
                                             : _mm256_and_ps(_mm256_loadu_ps(b + 8 * v), _mm256_castsi256_ps(mk[t * NV + v])));
    }
}

// Depthwise 3x3, stride 2, pad 1 (on the phase planes, fill_phases): dw_tile with plain
// loads. Every tap reads inside the planes (each phase plane starts with a zero row, which
// is the padding row above; no row below is needed), only the left taps (kw = 0, the odd
// column phase shifted one column left) fall on padding, at output column 0, zeroed by an
// and; lanes past P read the planes after (or the buffer's slack) and are not stored. Same
// values and chain as dw_tile (its masked loads read +0 where these and).
template <int NV>
[[gnu::noinline]] void dw3s2_tile(const Geom& g, int C, const float* __restrict w, const float* __restrict base,
                                  const int32_t* __restrict owtab, int64_t j0, int64_t P, const Epilogue& epi,
                                  float* __restrict y, const float* __restrict res) {
  __m256 lm[NV];  // lanes whose output column is not 0
  __m256i tail[NV];
  for (int v = 0; v < NV; ++v) {
    const __m256i ow = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(owtab + j0 + 8 * v));
    lm[v] = _mm256_castsi256_ps(_mm256_cmpgt_epi32(ow, _mm256_setzero_si256()));
    tail[v] = lanes_below(P - (j0 + 8 * v));
  }
  for (int c = 0; c < C; ++c) {
    const float* xc = base + c * g.cstride + j0;
    const float* wc = w + c * 9;
    __m256 acc[NV], acc2[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[v] = acc2[v] = _mm256_setzero_ps();
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) {
      const __m256 wv = _mm256_broadcast_ss(wc + t);
      const float* b = xc + g.off[t];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        __m256 xv = _mm256_loadu_ps(b + 8 * v);
        if (t % 3 == 0) xv = _mm256_and_ps(xv, lm[v]);
        if (t % 2 == 0)
          acc[v] = _mm256_fmadd_ps(wv, xv, acc[v]);
        else
          acc2[v] = _mm256_fmadd_ps(wv, xv, acc2[v]);
      }
    }
    const int64_t o = static_cast<int64_t>(c) * P + j0;
    const __m256 bias = _mm256_set1_ps(epi.bias ? epi.bias[c] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      epilogue_store(_mm256_add_ps(acc[v], acc2[v]), epi, bias, res ? res + o + 8 * v : nullptr, P - (j0 + 8 * v),
                     tail[v], y + o + 8 * v);
  }
}

// Depthwise: y[c][j0 .. j0 + 8*NV) = epi(sum over taps of w[c][t] * x) for every channel c
template <int NV>
[[gnu::noinline]] void dw_tile(const Geom& g, int C, const float* __restrict w, const float* __restrict base,
             const int32_t* __restrict owtab, int64_t j0, int64_t P, const Epilogue& epi,
             float* __restrict y, const float* __restrict res) {
  __m256i tail[NV], ow[NV], jv[NV];
  lane_setup<NV>(g, owtab, j0, P, tail, ow, jv);
  __m256i m[kMaxTaps][NV];
  for (int t = 0; t < g.taps; ++t) tap_masks<NV>(g, t, P, tail, ow, jv, m[t]);
  const int taps = g.taps;
  for (int c = 0; c < C; ++c) {
    const float* xc = base + c * g.cstride + j0;
    const float* wc = w + c * taps;
    __m256 acc[NV], acc2[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[v] = acc2[v] = _mm256_setzero_ps();
    int t = 0;
    for (; t + 2 <= taps; t += 2) {
      const __m256 wv = _mm256_broadcast_ss(wc + t), wv2 = _mm256_broadcast_ss(wc + t + 1);
      const float* b = xc + g.off[t];
      const float* b2 = xc + g.off[t + 1];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        acc[v] = _mm256_fmadd_ps(wv, _mm256_maskload_ps(b + 8 * v, m[t][v]), acc[v]);
        acc2[v] = _mm256_fmadd_ps(wv2, _mm256_maskload_ps(b2 + 8 * v, m[t + 1][v]), acc2[v]);
      }
    }
    for (; t < taps; ++t) {
      const __m256 wv = _mm256_broadcast_ss(wc + t);
      const float* b = xc + g.off[t];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[v] = _mm256_fmadd_ps(wv, _mm256_maskload_ps(b + 8 * v, m[t][v]), acc[v]);
    }
    const int64_t o = static_cast<int64_t>(c) * P + j0;
    const __m256 bias = _mm256_set1_ps(epi.bias ? epi.bias[c] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const int64_t left = P - (j0 + 8 * v);
      epilogue_store(_mm256_add_ps(acc[v], acc2[v]), epi, bias, res ? res + o + 8 * v : nullptr, left, tail[v],
                     y + o + 8 * v);
    }
  }
}

// Depthwise 3x3, stride 1, pad 1, in place, on an interior tile (full vectors; the rows above
// and below and one pixel either side inside the plane): the left and right taps are plain
// loads one pixel off, their padding columns (ow == 0, ow == Wo-1) zeroed by an and-not. On
// 256-bit vectors a load costs less than the lane shift (a cross-lane permute and an alignr)
// and only a quarter of the off-by-one loads split a cache line. Border tiles run dw_tile.
template <int NV>
[[gnu::noinline]] void dw3_tile(const Geom& g, int C, const float* __restrict w, const float* __restrict base,
              const int32_t* __restrict owtab, int64_t j0, int64_t P, const Epilogue& epi,
              float* __restrict y, const float* __restrict res) {
  const int W = g.Wo;
  __m256 lz[NV], rz[NV];  // all ones on the lanes whose left (right) neighbour is padding
  for (int v = 0; v < NV; ++v) {
    const __m256i ow = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(owtab + j0 + 8 * v));
    lz[v] = _mm256_castsi256_ps(_mm256_cmpeq_epi32(ow, _mm256_setzero_si256()));
    rz[v] = _mm256_castsi256_ps(_mm256_cmpeq_epi32(ow, _mm256_set1_epi32(W - 1)));
  }
  for (int c = 0; c < C; ++c) {
    const float* xc = base + c * g.cstride + j0;
    const float* wc = w + c * 9;
    __m256 acc[NV], acc2[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[v] = acc2[v] = _mm256_setzero_ps();
#pragma GCC unroll 3
    for (int kh = 0; kh < 3; ++kh) {
      const float* b = xc + (kh - 1) * W;
      const __m256 w0 = _mm256_broadcast_ss(wc + 3 * kh), w1 = _mm256_broadcast_ss(wc + 3 * kh + 1),
                   w2 = _mm256_broadcast_ss(wc + 3 * kh + 2);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const __m256 l = _mm256_andnot_ps(lz[v], _mm256_loadu_ps(b + 8 * v - 1));
        const __m256 r = _mm256_andnot_ps(rz[v], _mm256_loadu_ps(b + 8 * v + 1));
        acc[v] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(b + 8 * v), acc[v]);
        acc2[v] = _mm256_fmadd_ps(w0, l, acc2[v]);
        acc[v] = _mm256_fmadd_ps(w2, r, acc[v]);
      }
    }
    const int64_t o = static_cast<int64_t>(c) * P + j0;
    const __m256 bias = _mm256_set1_ps(epi.bias ? epi.bias[c] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      epilogue_store(_mm256_add_ps(acc[v], acc2[v]), epi, bias, res ? res + o + 8 * v : nullptr, 8,
                     _mm256_setzero_si256(), y + o + 8 * v);
  }
}

// Depthwise 3x3, stride 1, pad 1, in place, on a 4-vector tile of a plane whose rows are 8,
// 16 or 32 pixels (W8 = W/8: every vector lies in one row, tiles start on a row): which lanes
// are padding is known when compiling. A vector that starts (ends) a row takes its left
// (right) tap from its centre load by a lane permute with lane 0 (7) zeroed; the others load
// one pixel off and need no mask (dw3_tile keeps 8 mask vectors, which spilled). Rows above
// the plane's first row and below its last are padding and skipped: kTB bit 0, the tile holds
// the first row; bit 1, the last. Each output keeps the chain the route gave it before this
// kernel (so results did not change): interior tiles (kDw3) dw3_tile's, border tiles
// dw_tile's (taps 0, 2, 4, 6, 8 in one accumulator, 1, 3, 5, 7 in the other). A skipped tap
// is a zero product, which leaves those sums unchanged (they start at +0 and never reach -0).
template <int W8, int kTB, bool kDw3>
[[gnu::noinline]] void dw3_rows_tile(const Geom& g, int C, const float* __restrict w, const float* __restrict base,
                                     int64_t j0, int64_t P, const Epilogue& epi, float* __restrict y,
                                     const float* __restrict res) {
  constexpr int NV = 4, W = 8 * W8;
  constexpr unsigned L = W8 == 1 ? 0xF : W8 == 2 ? 0x5 : 0x1;  // vectors starting a row
  constexpr unsigned R = W8 == 1 ? 0xF : W8 == 2 ? 0xA : 0x8;  // vectors ending a row
  constexpr unsigned T = kTB & 1 ? (W8 == 1 ? 0x1 : W8 == 2 ? 0x3 : 0xF) : 0;  // in the first row
  constexpr unsigned B = kTB & 2 ? (W8 == 1 ? 0x8 : W8 == 2 ? 0xC : 0xF) : 0;  // in the last row
  const __m256i shr = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6), shl = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7);
  const __m256 zero = _mm256_setzero_ps();
  for (int c = 0; c < C; ++c) {
    const float* xc = base + c * g.cstride + j0;
    const float* wc = w + c * 9;
    __m256 acc[NV], acc2[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[v] = acc2[v] = zero;
#pragma GCC unroll 3
    for (int kh = 0; kh < 3; ++kh) {
      const float* b = xc + (kh - 1) * W;
      const __m256 w0 = _mm256_broadcast_ss(wc + 3 * kh), w1 = _mm256_broadcast_ss(wc + 3 * kh + 1),
                   w2 = _mm256_broadcast_ss(wc + 3 * kh + 2);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        if ((kh == 0 && (T >> v & 1)) || (kh == 2 && (B >> v & 1))) continue;
        const __m256 x = _mm256_loadu_ps(b + 8 * v);
        const __m256 l = L >> v & 1 ? _mm256_blend_ps(_mm256_permutevar8x32_ps(x, shr), zero, 0x01)
                                    : _mm256_loadu_ps(b + 8 * v - 1);
        const __m256 r = R >> v & 1 ? _mm256_blend_ps(_mm256_permutevar8x32_ps(x, shl), zero, 0x80)
                                    : _mm256_loadu_ps(b + 8 * v + 1);
        if (kDw3) {
          acc[v] = _mm256_fmadd_ps(w1, x, acc[v]);
          acc2[v] = _mm256_fmadd_ps(w0, l, acc2[v]);
          acc[v] = _mm256_fmadd_ps(w2, r, acc[v]);
        } else if (kh == 1) {  // taps 3, 4, 5
          acc2[v] = _mm256_fmadd_ps(w0, l, acc2[v]);
          acc[v] = _mm256_fmadd_ps(w1, x, acc[v]);
          acc2[v] = _mm256_fmadd_ps(w2, r, acc2[v]);
        } else {  // taps 0, 1, 2 or 6, 7, 8
          acc[v] = _mm256_fmadd_ps(w0, l, acc[v]);
          acc2[v] = _mm256_fmadd_ps(w1, x, acc2[v]);
          acc[v] = _mm256_fmadd_ps(w2, r, acc[v]);
        }
      }
    }
    const int64_t o = static_cast<int64_t>(c) * P + j0;
    const __m256 bias = _mm256_set1_ps(epi.bias ? epi.bias[c] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      epilogue_store(_mm256_add_ps(acc[v], acc2[v]), epi, bias, res ? res + o + 8 * v : nullptr, 8,
                     _mm256_setzero_si256(), y + o + 8 * v);
  }
}

// Depthwise 3x3, stride 1, pad 1 on 4x4 planes (MobileNet's 512-channel stage at 32x32
// input), a channel per call's iteration in two vectors of two rows each: the rows above and
// below are 128-bit lane moves of them (zero past the plane), the left and right taps in-lane
// shuffles with the padding column zeroed by an immediate blend. dw_tile ran these planes at
// 9 masked loads per vector. The chain is dw_tile's (the tile is a border tile: taps 0, 2, 4,
// 6, 8 in one accumulator, 1, 3, 5, 7 in the other, padding taps as zero products).
[[gnu::noinline]] void dw3_plane4x4(int C, int64_t cs, const float* __restrict w, const float* __restrict base,
                                   const Epilogue& epi, float* __restrict y, const float* __restrict res) {
  const __m256 zero = _mm256_setzero_ps();
  for (int c = 0; c < C; ++c) {
    const float* xc = base + c * cs;
    const float* wc = w + c * 9;
    const __m256 x0 = _mm256_loadu_ps(xc), x1 = _mm256_loadu_ps(xc + 8);  // rows 0-1, 2-3
    // per output vector o (rows 2o, 2o+1): rows[kh][o] = input rows 2o+kh-1, 2o+kh
    const __m256 mid = _mm256_permute2f128_ps(x0, x1, 0x21);  // rows 1-2
    const __m256 rows[3][2] = {{_mm256_permute2f128_ps(x0, x0, 0x08), mid},
                               {x0, x1},
                               {mid, _mm256_permute2f128_ps(x1, x1, 0x81)}};
    __m256 acc[2] = {zero, zero}, acc2[2] = {zero, zero};
#pragma GCC unroll 3
    for (int kh = 0; kh < 3; ++kh) {
      const __m256 w0 = _mm256_broadcast_ss(wc + 3 * kh), w1 = _mm256_broadcast_ss(wc + 3 * kh + 1),
                   w2 = _mm256_broadcast_ss(wc + 3 * kh + 2);
#pragma GCC unroll 2
      for (int o = 0; o < 2; ++o) {
        const __m256 x = rows[kh][o];
        const __m256 l = _mm256_blend_ps(_mm256_permute_ps(x, _MM_SHUFFLE(2, 1, 0, 0)), zero, 0x11);
        const __m256 r = _mm256_blend_ps(_mm256_permute_ps(x, _MM_SHUFFLE(3, 3, 2, 1)), zero, 0x88);
        if (kh == 1) {  // taps 3, 4, 5
          acc2[o] = _mm256_fmadd_ps(w0, l, acc2[o]);
          acc[o] = _mm256_fmadd_ps(w1, x, acc[o]);
          acc2[o] = _mm256_fmadd_ps(w2, r, acc2[o]);
        } else {  // taps 0, 1, 2 or 6, 7, 8
          acc[o] = _mm256_fmadd_ps(w0, l, acc[o]);
          acc2[o] = _mm256_fmadd_ps(w1, x, acc2[o]);
          acc[o] = _mm256_fmadd_ps(w2, r, acc[o]);
        }
      }
    }
    const int64_t o = static_cast<int64_t>(c) * 16;
    const __m256 bias = _mm256_set1_ps(epi.bias ? epi.bias[c] : 0.0f);
    for (int v = 0; v < 2; ++v)
      epilogue_store(_mm256_add_ps(acc[v], acc2[v]), epi, bias, res ? res + o + 8 * v : nullptr, 8,
                     _mm256_setzero_si256(), y + o + 8 * v);
  }
}

// Depthwise 3x3, stride 1, pad 1 on 2x2 planes (MobileNet's 1024-channel stage at 32x32
// input): two channels per vector (a 128-bit half each; the planes are contiguous), every tap
// an in-lane shuffle of the plane with the lanes that fall on the padding zeroed by an
// immediate blend. dw_tile ran each plane in a vector of 4 live lanes of 8. Chain: dw_tile's,
// as in dw3_plane4x4.
template <int kTap>
inline __m256 dw3_2x2_tap(__m256 x, __m256 zero) {
  // output lane (oh, ow) = 2*oh + ow reads input (oh + kh - 1, ow + kw - 1), or padding
  constexpr int kh = kTap / 3, kw = kTap % 3;
  constexpr auto src = [](int lane) {
    const int ih = lane / 2 + kh - 1, iw = lane % 2 + kw - 1;
    return ih >= 0 && ih < 2 && iw >= 0 && iw < 2 ? 2 * ih + iw : -1;
  };
  constexpr int sel = (src(0) < 0 ? 0 : src(0)) | (src(1) < 0 ? 0 : src(1)) << 2 |
                      (src(2) < 0 ? 0 : src(2)) << 4 | (src(3) < 0 ? 0 : src(3)) << 6;
  constexpr int pad = (src(0) < 0) | (src(1) < 0) << 1 | (src(2) < 0) << 2 | (src(3) < 0) << 3;
  return _mm256_blend_ps(_mm256_permute_ps(x, sel), zero, pad | pad << 4);
}

[[gnu::noinline]] void dw3_plane2x2(int C, int64_t cs, const float* __restrict w, const float* __restrict base,
                                   const Epilogue& epi, float* __restrict y, const float* __restrict res) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256i lo4 = _mm256_setr_epi32(-1, -1, -1, -1, 0, 0, 0, 0);
  for (int c = 0; c < C; c += 2) {
    const bool pair = c + 1 < C;  // else the upper half is a copy of channel c, never stored
    const int c1 = pair ? c + 1 : c;
    const float* xc = base + c * cs;
    const __m256 x = pair && cs == 4 ? _mm256_loadu_ps(xc)
                                     : _mm256_setr_m128(_mm_loadu_ps(xc), _mm_loadu_ps(base + c1 * cs));
    const float* w0 = w + c * 9;
    const float* w1 = w + c1 * 9;
    auto wt = [&](int t) { return _mm256_setr_m128(_mm_broadcast_ss(w0 + t), _mm_broadcast_ss(w1 + t)); };
    __m256 acc = zero, acc2 = zero;
    acc = _mm256_fmadd_ps(wt(0), dw3_2x2_tap<0>(x, zero), acc);
    acc2 = _mm256_fmadd_ps(wt(1), dw3_2x2_tap<1>(x, zero), acc2);
    acc = _mm256_fmadd_ps(wt(2), dw3_2x2_tap<2>(x, zero), acc);
    acc2 = _mm256_fmadd_ps(wt(3), dw3_2x2_tap<3>(x, zero), acc2);
    acc = _mm256_fmadd_ps(wt(4), x, acc);
    acc2 = _mm256_fmadd_ps(wt(5), dw3_2x2_tap<5>(x, zero), acc2);
    acc = _mm256_fmadd_ps(wt(6), dw3_2x2_tap<6>(x, zero), acc);
    acc2 = _mm256_fmadd_ps(wt(7), dw3_2x2_tap<7>(x, zero), acc2);
    acc = _mm256_fmadd_ps(wt(8), dw3_2x2_tap<8>(x, zero), acc);
    __m256 val = _mm256_add_ps(acc, acc2);
    // the epilogue_store arithmetic, a channel per half
    const int64_t o = static_cast<int64_t>(c) * 4;
    if (epi.bias) val = _mm256_add_ps(val, _mm256_setr_m128(_mm_broadcast_ss(epi.bias + c), _mm_broadcast_ss(epi.bias + c1)));
    if (res) val = _mm256_add_ps(val, pair ? _mm256_loadu_ps(res + o) : _mm256_maskload_ps(res + o, lo4));
    if (epi.relu) val = _mm256_max_ps(_mm256_setzero_ps(), val);
    if (pair)
      _mm256_storeu_ps(y + o, val);
    else
      _mm_storeu_ps(y + o, _mm256_castps256_ps128(val));
  }
}

// dw3_rows_tile for the tile at j0 (4 vectors, W in {8, 16, 32}, interior as run_tile decides)
template <int W8>
void dw3_rows(const Geom& g, int C, const float* w, const float* base, int64_t j0, int64_t P, bool interior,
              const Epilogue& epi, float* y, const float* res) {
  const int tb = (j0 == 0 ? 1 : 0) | (j0 + 32 == P ? 2 : 0);
  if (interior)
    dw3_rows_tile<W8, 0, true>(g, C, w, base, j0, P, epi, y, res);
  else if (tb == 0)
    dw3_rows_tile<W8, 0, false>(g, C, w, base, j0, P, epi, y, res);
  else if (tb == 1)
    dw3_rows_tile<W8, 1, false>(g, C, w, base, j0, P, epi, y, res);
  else if (tb == 2)
    dw3_rows_tile<W8, 2, false>(g, C, w, base, j0, P, epi, y, res);
  else
    dw3_rows_tile<W8, 3, false>(g, C, w, base, j0, P, epi, y, res);
}
#endif

#if defined(__AVX2__) && defined(__FMA__)
// Stride-2 depthwise kernels that read x in place, on 8-lane vectors on both ISAs (the AVX-512
// build gets the same values: dw_tile's chain)
// Depthwise 3x3, stride 2, pad 1 from 4x4 planes (2x2 out: MobileNet's last stride-2 layer),
// read in place, a channel per iteration: its rows 0-1 and 2-3 in two registers, each 128-bit
// half an input row; for kernel row kh the output rows 0 and 1 read input rows kh-1 and kh+1,
// one register made by a 128-bit lane move (row -1 is zero), and columns 2*ow + kw - 1 by an
// in-lane shuffle (column -1 zeroed by a blend). Output lanes 0-1 and 4-5, compacted to 4
// floats. Without phase planes, whose fill cost more than the conv. Chain: dw_tile's.
[[gnu::noinline]] void dw3s2_plane4x4(int C, const float* __restrict w, const float* __restrict x,
                                     const Epilogue& epi, float* __restrict y, const float* __restrict res) {
  const __m256 zero = _mm256_setzero_ps();
  for (int c = 0; c < C; ++c) {
    const float* xc = x + c * 16;
    const float* wc = w + c * 9;
    const __m256 x0 = _mm256_loadu_ps(xc), x1 = _mm256_loadu_ps(xc + 8);
    const __m256 rows[3] = {_mm256_permute2f128_ps(x0, x0, 0x18), _mm256_permute2f128_ps(x0, x1, 0x20),
                            _mm256_permute2f128_ps(x0, x1, 0x31)};
    __m256 acc = zero, acc2 = zero;
#pragma GCC unroll 3
    for (int kh = 0; kh < 3; ++kh) {
      const __m256 r = rows[kh];
      const __m256 l = _mm256_blend_ps(_mm256_permute_ps(r, _MM_SHUFFLE(3, 3, 1, 0)), zero, 0x11);  // cols -1, 1
      const __m256 m = _mm256_permute_ps(r, _MM_SHUFFLE(3, 3, 2, 0));                               // cols 0, 2
      const __m256 rr = _mm256_permute_ps(r, _MM_SHUFFLE(3, 3, 3, 1));                              // cols 1, 3
      const __m256 w0 = _mm256_broadcast_ss(wc + 3 * kh), w1 = _mm256_broadcast_ss(wc + 3 * kh + 1),
                   w2 = _mm256_broadcast_ss(wc + 3 * kh + 2);
      if (kh == 1) {  // taps 3, 4, 5
        acc2 = _mm256_fmadd_ps(w0, l, acc2);
        acc = _mm256_fmadd_ps(w1, m, acc);
        acc2 = _mm256_fmadd_ps(w2, rr, acc2);
      } else {  // taps 0, 1, 2 or 6, 7, 8
        acc = _mm256_fmadd_ps(w0, l, acc);
        acc2 = _mm256_fmadd_ps(w1, m, acc2);
        acc = _mm256_fmadd_ps(w2, rr, acc);
      }
    }
    const __m256 sum = _mm256_add_ps(acc, acc2);
    __m128 val = _mm_castpd_ps(_mm_unpacklo_pd(_mm_castps_pd(_mm256_castps256_ps128(sum)),
                                               _mm_castps_pd(_mm256_extractf128_ps(sum, 1))));
    // epilogue_store's arithmetic on the 4 outputs
    if (epi.bias) val = _mm_add_ps(val, _mm_set1_ps(epi.bias[c]));
    if (res) val = _mm_add_ps(val, _mm_loadu_ps(res + c * 4));
    if (epi.relu) val = _mm_max_ps(_mm_setzero_ps(), val);
    _mm_storeu_ps(y + c * 4, val);
  }
}

// Depthwise 3x3, stride 2, pad 1 from planes 8, 16 or 32 wide (W8 = W/8; output rows of 4, 8
// or 16), read in place, output vectors [u0, u0 + nv) of every channel: an output vector is two
// output rows (W 8), one (W 16) or half of one (W 32); for kernel row kh each of its output
// rows reads input row 2*oh + kh - 1 (row -1 is zero), 16 floats in two registers, whose even
// columns are tap kw = 1, odd ones kw = 2 and odd ones one column left kw = 0 (column -1
// zeroed by a blend, or the column before the 16).
// Without phase planes, whose fill cost more than the conv. Chain: dw_tile's.
template <int W8>
[[gnu::noinline]] void dw3s2_rows(int C, int H, const float* __restrict w, const float* __restrict x, int u0, int nv,
                                  const Epilogue& epi, float* __restrict y, const float* __restrict res) {
  constexpr int W = 8 * W8;
  const int64_t HW = static_cast<int64_t>(H) * W, P = HW / 4;
  const __m256 zero = _mm256_setzero_ps();
  const __m256i shr = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6);
  for (int c = 0; c < C; ++c) {
    const float* xc = x + c * HW;
    const float* wc = w + c * 9;
    for (int u = u0; u < u0 + nv; ++u) {
      __m256 acc = zero, acc2 = zero;
#pragma GCC unroll 3
      for (int kh = 0; kh < 3; ++kh) {
        // the two 8-float halves whose evens and odds are this vector's taps
        __m256 lo, hi, left = zero;
        if (W8 == 1) {  // output rows 2u, 2u+1: input rows 4u + kh - 1 and 4u + kh + 1
          const int ih = 4 * u + kh - 1;
          lo = ih >= 0 ? _mm256_loadu_ps(xc + ih * W) : zero;
          hi = _mm256_loadu_ps(xc + (ih + 2) * W);
        } else {  // output row u / (W8/2), columns 8*(u % (W8/2)) on: input row 2*oh + kh - 1
          const int ih = 2 * (u / (W8 / 2)) + kh - 1, col = 16 * (u % (W8 / 2));
          lo = ih >= 0 ? _mm256_loadu_ps(xc + ih * W + col) : zero;
          hi = ih >= 0 ? _mm256_loadu_ps(xc + ih * W + col + 8) : zero;
          // the column left of the first (kw = 0 of output column 8*k): padding, or x
          left = ih >= 0 && col > 0 ? _mm256_broadcast_ss(xc + ih * W + col - 1) : zero;
        }
        // per 128-bit half: lo's even (odd) lanes then hi's; then the middle quarters swapped
        const __m256 e = _mm256_castpd_ps(_mm256_permute4x64_pd(
            _mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))), _MM_SHUFFLE(3, 1, 2, 0)));
        const __m256 o = _mm256_castpd_ps(_mm256_permute4x64_pd(
            _mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))), _MM_SHUFFLE(3, 1, 2, 0)));
        // W 8: each 128-bit half an output row; W 16: the register one row
        const __m256 l = W8 == 1 ? _mm256_blend_ps(_mm256_permute_ps(o, _MM_SHUFFLE(2, 1, 0, 0)), zero, 0x11)
                                 : _mm256_blend_ps(_mm256_permutevar8x32_ps(o, shr), left, 0x01);
        const __m256 w0 = _mm256_broadcast_ss(wc + 3 * kh), w1 = _mm256_broadcast_ss(wc + 3 * kh + 1),
                     w2 = _mm256_broadcast_ss(wc + 3 * kh + 2);
        if (kh == 1) {  // taps 3, 4, 5
          acc2 = _mm256_fmadd_ps(w0, l, acc2);
          acc = _mm256_fmadd_ps(w1, e, acc);
          acc2 = _mm256_fmadd_ps(w2, o, acc2);
        } else {  // taps 0, 1, 2 or 6, 7, 8
          acc = _mm256_fmadd_ps(w0, l, acc);
          acc2 = _mm256_fmadd_ps(w1, e, acc2);
          acc = _mm256_fmadd_ps(w2, o, acc);
        }
      }
      const int64_t off = static_cast<int64_t>(c) * P + 8 * u;
      epilogue_store(_mm256_add_ps(acc, acc2), epi, _mm256_set1_ps(epi.bias ? epi.bias[c] : 0.0f),
                     res ? res + off : nullptr, 8, _mm256_setzero_si256(), y + off);
    }
  }
}

#endif

bool depthwise(const Conv2dShape& s) { return s.groups == s.Cin && s.Cout == s.Cin && s.groups > 1; }
}  // namespace

bool conv_direct_applies(const Conv2dShape& s) {
#if defined(DSX_DIRECT_256) && !defined(DSX_DIRECT_512)
  // AVX2: strided pointwise convs keep the GEMM route (the dense tile ran them at about 20
  // GMAC/s, against 23-37 there)
  if (s.K == 1 && s.stride != 1) return false;
#endif
#if defined(DSX_DIRECT_512) || defined(DSX_DIRECT_256)
  return ((s.groups == 1 && s.Cout >= 8) || depthwise(s)) && (s.stride == 1 || s.stride == 2) &&
         2 * s.pad >= s.K - 1 && s.pad < s.K && s.K * s.K <= kMaxTaps && s.Ho() > 0 && s.Wo() > 0;
#else
  (void)s;
  return false;
#endif
}

size_t conv_direct_packed_size(const Conv2dShape& s) {
  if (depthwise(s)) return static_cast<size_t>(s.Cout) * s.K * s.K;
  const size_t slivers = static_cast<size_t>((s.Cout + kRows - 1) / kRows);
  return slivers * kRows * s.K * s.K * s.Cin;
}

void conv_direct_pack(const Conv2dShape& s, const float* w, float* packed) {
  if (depthwise(s)) {
    std::copy(w, w + conv_direct_packed_size(s), packed);
    return;
  }
  const int KK = s.K * s.K, slivers = (s.Cout + kRows - 1) / kRows;
  float* d = packed;
#if defined(DSX_DIRECT_256)
  // AVX2: input channels, then taps (the order tile sums them in)
  for (int sl = 0; sl < slivers; ++sl)
    for (int ci = 0; ci < s.Cin; ++ci)
      for (int t = 0; t < KK; ++t)
        for (int i = 0; i < kRows; ++i) {
          const int c = sl * kRows + i;
          *d++ = c < s.Cout ? w[(static_cast<int64_t>(c) * s.Cin + ci) * KK + t] : 0.0f;
        }
#else
  for (int sl = 0; sl < slivers; ++sl)
    for (int t = 0; t < KK; ++t)
      for (int ci = 0; ci < s.Cin; ++ci)
        for (int i = 0; i < kRows; ++i) {
          const int c = sl * kRows + i;
          *d++ = c < s.Cout ? w[(static_cast<int64_t>(c) * s.Cin + ci) * KK + t] : 0.0f;
        }
#endif
}

void conv_direct_forward(CpuCtx& ctx, const Conv2dShape& s, const float* x, float* y,
                         const Epilogue& epi, const float* packed) {
#if defined(DSX_DIRECT_512) || defined(DSX_DIRECT_256)
  const Geom g = geom(s);
  const int64_t P = static_cast<int64_t>(g.Ho) * g.Wo, HW = static_cast<int64_t>(s.H) * s.W;
  // the column of each output pixel (lanes past P: read, then masked off), read only by
  // taps with a column shift (not by a pointwise conv)
  std::vector<int32_t>& owtab = ctx.wide_offsets[1];
  if (owtab.size() < static_cast<size_t>(P) + 16) owtab.resize(static_cast<size_t>(P) + 16);
  if (g.shifted)
    for (int64_t j = 0, c = 0; j < P + 16; ++j) {
      owtab[j] = static_cast<int32_t>(c);
      if (++c == g.Wo) c = 0;
    }
  const int32_t* ot = owtab.data();
#if defined(DSX_DIRECT_256)
  int32_t off_min = g.off[0], off_max = g.off[0];
  for (int t = 1; t < g.taps; ++t) off_min = std::min(off_min, g.off[t]), off_max = std::max(off_max, g.off[t]);
#endif
  const bool dw = depthwise(s);
  const bool dw3 = dw && g.in_place && s.K == 3 && s.pad == 1;
  [[maybe_unused]] const bool dw3s2 = dw && s.stride == 2 && s.K == 3 && s.pad == 1;
#if defined(__AVX2__) && defined(__FMA__)
  const bool plane4s2 = dw3s2 && s.H == 4 && s.W == 4;  // read in place (dw3s2_plane4x4)
  // read in place by dw3s2_rows: rows of 8 (output rows in pairs), 16 or 32, an even number
  const bool rows_s2 = dw3s2 && ((s.W == 8 && s.H % 4 == 0) || ((s.W == 16 || s.W == 32) && s.H % 2 == 0));
#else
  const bool plane4s2 = false, rows_s2 = false;
#endif
  const bool phases = !g.in_place && !plane4s2 && !rows_s2;
#if defined(DSX_DIRECT_256)
  // pointwise, stride 1: blocks of output pixels through a panel (pw_block)
  const bool pw = !dw && s.K == 1 && g.in_place;
#else
  const bool pw = false;
#endif
#if defined(DSX_DIRECT_256)
  // dense with at most kDensePanelK (ci, tap) rows (ResNet-20's 27 to 576): blocks of pixels
  // through a panel (pw_block); 16->16 3x3 as fast either way, the stems and 64->64 8x8 faster
  const bool dense_pw = !dw && !pw && s.Cin * g.taps <= kDensePanelK;
#else
  const bool dense_pw = false;
#endif
  const Tiles tiles(P, dw ? 4 : pw || dense_pw ? 6 : 3);
  const int nt = tiles.count(), slivers = (s.Cout + kRows - 1) / kRows;
  const int64_t sliver = static_cast<int64_t>(g.taps) * s.Cin * kRows;
  const int64_t qsize = s.Cin * g.cstride + 32;  // one image's phases (slack: never read)
  auto run_tile = [&](int64_t n, const float* base, int t, int tid) {
    const int64_t j0 = kLanes * static_cast<int64_t>(tiles.start(t));
    const int nv = tiles.width(t);
    float* yn = y + n * s.Cout * P;
    const float* res = epi.res_at(n * s.Cout * P);
#if defined(DSX_DIRECT_256)
    if (pw) {
      float* panel = ctx.ws.get(tid, kWsLocal, static_cast<size_t>(s.Cin) * 8 * kPwBlock);
      pw_panel(base, s.Cin, P, j0, nv, panel);
      pw_block(s.Cin, kPwKC, s.Cout, packed, panel, j0, nv, P, epi, yn, res);
      return;
    }
    if (dense_pw) {
      const int K = s.Cin * g.taps;
      float* panel = ctx.ws.get(tid, kWsLocal, static_cast<size_t>(K) * 8 * kPwBlock);
      const int64_t cs = g.cstride;
      for (int v0 = 0; v0 < nv; v0 += 3) {
        const int w = std::min(3, nv - v0);
        const int64_t j = j0 + 8 * v0;
        __m256i mk[kMaxTaps * 3];
        const int64_t lo = j + off_min, hi = (s.Cin - 1) * cs + j + 8 * w + off_max;
        const bool masked = !(lo >= 0 && hi <= s.Cin * cs);
        if (w == 3) {
          all_tap_masks<3>(g, ot, j, P, mk);
          dense_panel<3>(g, s.Cin, base + j, cs, mk, masked, panel + 8 * v0, 8 * nv);
        } else if (w == 2) {
          all_tap_masks<2>(g, ot, j, P, mk);
          dense_panel<2>(g, s.Cin, base + j, cs, mk, masked, panel + 8 * v0, 8 * nv);
        } else {
          all_tap_masks<1>(g, ot, j, P, mk);
          dense_panel<1>(g, s.Cin, base + j, cs, mk, masked, panel + 8 * v0, 8 * nv);
        }
      }
      pw_block(K, K, s.Cout, packed, panel, j0, nv, P, epi, yn, res);
      return;
    }
#else
    (void)tid;
#endif
    if (dw) {
      // 3x3 stride 1: lane shifts; unmasked on interior tiles (full vectors, the rows above
      // and below and the neighbouring vectors inside the plane)
#if defined(DSX_DIRECT_512)
      if (plane4s2) {
        dw3s2_plane4x4(s.Cout, packed, base, epi, yn, res);
        return;
      }
      if (rows_s2) {  // in 8-lane vectors
        const int u0 = static_cast<int>(j0 / 8), n8 = static_cast<int>(std::min<int64_t>(2 * nv, P / 8 - u0));
        if (s.W == 8)
          dw3s2_rows<1>(s.Cout, s.H, packed, base, u0, n8, epi, yn, res);
        else if (s.W == 16)
          dw3s2_rows<2>(s.Cout, s.H, packed, base, u0, n8, epi, yn, res);
        else
          dw3s2_rows<4>(s.Cout, s.H, packed, base, u0, n8, epi, yn, res);
        return;
      }
      if (dw3) {
        if (nv == 4 && j0 - 16 - g.Wo >= 0 && j0 + 16 * 5 + g.Wo <= P)
          dw3_tile<4, true>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res);
        else if (nv == 4)
          dw3_tile<4, false>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res);
        else if (nv == 3)
          dw3_tile<3, false>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res);
        else if (nv == 2)
          dw3_tile<2, false>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res);
        else
          dw3_tile<1, false>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res);
        return;
      }
#else
      // 3x3 stride 1 on AVX2: interior tiles (the loads one pixel and one row either side
      // inside the plane, full vectors) by dw3_tile, border tiles by dw_tile
      if (plane4s2) {
        dw3s2_plane4x4(s.Cout, packed, base, epi, yn, res);
        return;
      }
      if (rows_s2) {
        if (s.W == 8)
          dw3s2_rows<1>(s.Cout, s.H, packed, base, static_cast<int>(j0 / 8), nv, epi, yn, res);
        else if (s.W == 16)
          dw3s2_rows<2>(s.Cout, s.H, packed, base, static_cast<int>(j0 / 8), nv, epi, yn, res);
        else
          dw3s2_rows<4>(s.Cout, s.H, packed, base, static_cast<int>(j0 / 8), nv, epi, yn, res);
        return;
      }
      if (dw3s2) {
        switch (nv) {
          case 4: dw3s2_tile<4>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res); break;
          case 3: dw3s2_tile<3>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res); break;
          case 2: dw3s2_tile<2>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res); break;
          default: dw3s2_tile<1>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res); break;
        }
        return;
      }
      if (dw3 && g.Ho == 4 && g.Wo == 4) {
        dw3_plane4x4(s.Cout, g.cstride, packed, base, epi, yn, res);
        return;
      }
      if (dw3 && g.Ho == 2 && g.Wo == 2) {
        dw3_plane2x2(s.Cout, g.cstride, packed, base, epi, yn, res);
        return;
      }
      const bool interior = dw3 && j0 - 1 - g.Wo >= 0 && j0 + 8 * nv + 1 + g.Wo <= P;
      if (dw3 && nv == 4 && (g.Wo == 8 || g.Wo == 16 || g.Wo == 32)) {
        if (g.Wo == 8)
          dw3_rows<1>(g, s.Cout, packed, base, j0, P, interior, epi, yn, res);
        else if (g.Wo == 16)
          dw3_rows<2>(g, s.Cout, packed, base, j0, P, interior, epi, yn, res);
        else
          dw3_rows<4>(g, s.Cout, packed, base, j0, P, interior, epi, yn, res);
        return;
      }
      if (interior) {
        switch (nv) {
          case 4: dw3_tile<4>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res); break;
          case 3: dw3_tile<3>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res); break;
          case 2: dw3_tile<2>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res); break;
          default: dw3_tile<1>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res); break;
        }
        return;
      }
#endif
      switch (nv) {
        case 4: dw_tile<4>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res); break;
        case 3: dw_tile<3>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res); break;
        case 2: dw_tile<2>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res); break;
        default: dw_tile<1>(g, s.Cout, packed, base, ot, j0, P, epi, yn, res); break;
      }
      return;
    }
#if defined(DSX_DIRECT_512)
    __mmask16 mk[kMaxTaps * 3];
    if (nv == 3)
      all_tap_masks<3>(g, ot, j0, P, mk);
    else if (nv == 2)
      all_tap_masks<2>(g, ot, j0, P, mk);
    else
      all_tap_masks<1>(g, ot, j0, P, mk);
    for (int sl = 0; sl < slivers; ++sl) {
      const float* a = packed + sl * sliver;
      const int c0 = sl * kRows;
      if (nv == 3)
        tile<3>(g, s.Cin, a, base, mk, j0, P, epi, c0, s.Cout, yn, res);
      else if (nv == 2)
        tile<2>(g, s.Cin, a, base, mk, j0, P, epi, c0, s.Cout, yn, res);
      else
        tile<1>(g, s.Cin, a, base, mk, j0, P, epi, c0, s.Cout, yn, res);
    }
#else
    __m256i mk[kMaxTaps * 3];
    if (nv == 3)
      all_tap_masks<3>(g, ot, j0, P, mk);
    else if (nv == 2)
      all_tap_masks<2>(g, ot, j0, P, mk);
    else
      all_tap_masks<1>(g, ot, j0, P, mk);
    const float* bc = base + j0;
    const int64_t cs = g.cstride;
    // every address the tile loads inside this image's input (x, or its phases): plain
    // loads, and'ed with the masks unless those are all ones
    const int64_t lo = j0 + off_min, hi = (s.Cin - 1) * cs + j0 + 8 * nv + off_max;
    int kind = lo >= 0 && hi <= s.Cin * cs ? kAnd : kMasked;
    if (kind == kAnd) {
      __m256i all = _mm256_set1_epi32(-1);
      for (int k = 0; k < g.taps * nv; ++k) all = _mm256_and_si256(all, mk[k]);
      if (_mm256_movemask_epi8(all) == -1) kind = kPlain;
    }
    for (int sl = 0; sl < slivers; ++sl) {
      const float* a = packed + sl * sliver;
      const int c0 = sl * kRows;
#define DSX_TILE(NV, K) tile<NV, K>(g, s.Cin, a, bc, cs, mk, j0, P, epi, c0, s.Cout, yn, res)
      if (nv == 3)
        kind == kPlain ? DSX_TILE(3, kPlain) : kind == kAnd ? DSX_TILE(3, kAnd) : DSX_TILE(3, kMasked);
      else if (nv == 2)
        kind == kPlain ? DSX_TILE(2, kPlain) : kind == kAnd ? DSX_TILE(2, kAnd) : DSX_TILE(2, kMasked);
      else
        kind == kPlain ? DSX_TILE(1, kPlain) : kind == kAnd ? DSX_TILE(1, kAnd) : DSX_TILE(1, kMasked);
#undef DSX_TILE
    }
#endif
  };
  const int T = ctx.pool.size();
  if (s.N >= T) {
    ctx.pool.parallel_for(s.N, [&](int tid, int64_t b, int64_t e) {
      float* q = phases ? ctx.ws.get(tid, kWsCol, static_cast<size_t>(qsize)) : nullptr;
      for (int64_t n = b; n < e; ++n) {
        const float* xn = x + n * s.Cin * HW;
        if (q) fill_phases(s, g, xn, q);
        for (int t = 0; t < nt; ++t) run_tile(n, q ? q : xn, t, tid);
      }
    });
    return;
  }
  // fewer images than threads: the phases of every image first, then tiles across threads
  float* q = phases ? ctx.ws.get(0, kWsShared, static_cast<size_t>(qsize * s.N)) : nullptr;
  if (q)
    for (int n = 0; n < s.N; ++n) fill_phases(s, g, x + n * s.Cin * HW, q + n * qsize);
  ctx.pool.parallel_for(static_cast<int64_t>(s.N) * nt, [&](int tid, int64_t b, int64_t e) {
    for (int64_t u = b; u < e; ++u) {
      const int64_t n = u / nt;
      run_tile(n, q ? q + n * qsize : x + n * s.Cin * HW, static_cast<int>(u % nt), tid);
    }
  }, 1);
#else
  (void)ctx, (void)s, (void)x, (void)y, (void)epi, (void)packed;
#endif
}

}  // namespace dsx
