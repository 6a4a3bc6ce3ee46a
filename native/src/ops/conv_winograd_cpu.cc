// The deployment executor's Winograd F(2x2, 3x3) convolution (Lavin and Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016): for each 2x2 output tile, the 4x4
// input patch d of each input channel becomes V = B^T d B, the weights of each (output,
// input) channel pair U = G w G^T (once per network, conv_winograd_pack), and the tile is
// Y = A^T M A with M[xi] = sum over input channels of U[xi] * V[xi] at each of the 16
// positions xi: 16 GEMMs of Cout x Cin by Cin x tiles, 16 multiplications per tile and input
// channel where the direct route does 36.
//
// Tiles are vector lanes: tile t = ty*tW + tx of an image (tH x tW tiles of 2x2 pixels, the
// last row and column cut by an odd plane). Patch row r of tile t is input row 2*ty + r - 1,
// that is row ty + di of the input's row-phase p (rows 2i + p), with (p, di) = (1, -1), (0,
// 0), (1, 0), (0, 1) for r = 0..3; columns alike. So, with each channel's four phase planes
// (rows 2i + p, columns 2j + q) stored tW wide with a zero row above and below, patch entry
// (r, c) of tile t is at t + a constant offset: one contiguous load per vector of tiles,
// whatever the tile rows inside it, masked off in the lanes whose column falls outside the
// plane (c = 0 at tx = 0, c = 3 at tx = tW - 1). The conv_direct route reads its stride-2
// phases the same way.
//
// Per image (or a few images when a plane has fewer than six vectors of tiles): stage A, per
// input channel, its phase planes (L1) and the transform of every vector of tiles, into V
// [group][xi][Cin][group's tiles]; stage B, per group of up to 3 vectors and sliver of output
// channels, the 16 GEMMs in registers (8 channels x 3 vectors on AVX-512, 4 x 3 on AVX2, the
// direct route's tiles) into a small M (L1), then the output transform, the epilogue (bias,
// residual, ReLU: ops_cpu.h Epilogue) and the stores, each output row segment once. Every
// element's arithmetic is fixed by the shape (the input channels summed in order, the
// transforms' sums in a fixed order), so the results do not depend on the thread count.
//
// Rounding: the transforms add a few float32 roundings per element (each input value enters
// a V through up to 4 additions, each output through up to 9 of M's). With ResNet-20's folded
// weights the deployment logits stay within the same tolerances of the float64 reference as
// the direct route's.
//
// Where it runs: where it measured faster than the direct route, per layer (see
// conv_winograd_preferred).
#include "ops/conv_winograd_cpu.h"

#include <algorithm>
#include <cstring>

#if defined(__AVX512F__)
#define DSX_WINO_512 1
#elif defined(__AVX2__) && defined(__FMA__)
#define DSX_WINO_256 1
#endif
#if defined(DSX_WINO_512) || defined(DSX_WINO_256)
#include <immintrin.h>
#endif

namespace dsx {

namespace {

#if defined(DSX_WINO_512)
constexpr int kRows = 8;  // output channels per register tile
constexpr int kL = 16;    // tiles per vector
using vf = __m512;
using vm = __mmask16;
inline vf vld(const float* p) { return _mm512_loadu_ps(p); }
inline void vst(float* p, vf v) { _mm512_storeu_ps(p, v); }
inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
inline vf vset(float a) { return _mm512_set1_ps(a); }
inline vf vzero() { return _mm512_setzero_ps(); }
// max(0, a) as std::max(a, 0.0f): keeps -0 and NaN (the second operand wins those)
inline vf vrelu(vf a) { return _mm512_max_ps(_mm512_setzero_ps(), a); }
inline vm vmask(unsigned bits) { return static_cast<vm>(bits); }
inline vf vldz(const float* p, vm m) { return _mm512_maskz_loadu_ps(m, p); }
inline vf vldn(const float* p, int n) { return _mm512_maskz_loadu_ps(static_cast<vm>((1u << n) - 1), p); }
inline void vstn(float* p, vf v, int n) { _mm512_mask_storeu_ps(p, static_cast<vm>((1u << n) - 1), v); }
// lo = a0 b0 a1 b1 ... a7 b7, hi = a8 b8 ... a15 b15
inline void vzip(vf a, vf b, vf& lo, vf& hi) {
  const __m512i il = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i ih = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  lo = _mm512_permutex2var_ps(a, il, b);
  hi = _mm512_permutex2var_ps(a, ih, b);
}
// the inverse: even and odd lanes of the 2*kL floats lo, hi
inline void vunzip(vf lo, vf hi, vf& ev, vf& od) {
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  ev = _mm512_permutex2var_ps(lo, ie, hi);
  od = _mm512_permutex2var_ps(lo, io, hi);
}
#elif defined(DSX_WINO_256)
// AVX2: 16 ymm registers hold 4 x 3 accumulators, 3 vectors of V and a broadcast
constexpr int kRows = 4;
constexpr int kL = 8;
using vf = __m256;
using vm = __m256;
inline vf vld(const float* p) { return _mm256_loadu_ps(p); }
inline void vst(float* p, vf v) { _mm256_storeu_ps(p, v); }
inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline vf vset(float a) { return _mm256_set1_ps(a); }
inline vf vzero() { return _mm256_setzero_ps(); }
inline vf vrelu(vf a) { return _mm256_max_ps(_mm256_setzero_ps(), a); }
inline vm vmask(unsigned bits) {
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i b = _mm256_and_si256(_mm256_set1_epi32(static_cast<int>(bits)), bit);
  return _mm256_castsi256_ps(_mm256_cmpeq_epi32(b, bit));
}
// plain load, and'ed: the callers' addresses are inside their buffers
inline vf vldz(const float* p, vm m) { return _mm256_and_ps(_mm256_loadu_ps(p), m); }
inline vf vldn(const float* p, int n) {
  return _mm256_maskload_ps(p, _mm256_castps_si256(vmask((1u << n) - 1)));
}
inline void vstn(float* p, vf v, int n) {
  _mm256_maskstore_ps(p, _mm256_castps_si256(vmask((1u << n) - 1)), v);
}
inline void vzip(vf a, vf b, vf& lo, vf& hi) {
  const __m256 u0 = _mm256_unpacklo_ps(a, b), u1 = _mm256_unpackhi_ps(a, b);
  lo = _mm256_permute2f128_ps(u0, u1, 0x20);
  hi = _mm256_permute2f128_ps(u0, u1, 0x31);
}
inline void vunzip(vf lo, vf hi, vf& ev, vf& od) {
  // per 128-bit half: lo's even (odd) lanes then hi's; then the middle quarters swapped
  const __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
  const __m256 o = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
  ev = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  od = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}
#endif

#if defined(DSX_WINO_512) || defined(DSX_WINO_256)
constexpr int kXi = 16;  // transform positions (4 x 4)
constexpr int kWide = 3;  // vectors per GEMM tile

struct Geom {
  int H, W, tH, tW, T, vpi;  // tiles per image T = tH*tW, vpi vectors of them
  int64_t pl;                // one phase plane, (tH + 2) * tW
  int32_t off[16];           // patch entry (r, c): its offset from the channel's phases + t0
};

Geom geom(const Conv2dShape& s) {
  Geom g{};
  g.H = s.H, g.W = s.W;
  g.tH = (s.H + 1) / 2, g.tW = (s.W + 1) / 2;
  g.T = g.tH * g.tW;
  g.vpi = (g.T + kL - 1) / kL;
  g.pl = static_cast<int64_t>(g.tH + 2) * g.tW;
  static constexpr int kPhase[4] = {1, 0, 1, 0}, kShift[4] = {-1, 0, 0, 1};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      g.off[r * 4 + c] = static_cast<int32_t>((2 * kPhase[r] + kPhase[c]) * g.pl + (kShift[r] + 1) * g.tW + kShift[c]);
  return g;
}
// floats of one channel's phase planes, with slack for the last vector's lanes past the plane
int64_t phase_floats(const Geom& g) { return 4 * g.pl + 2 * kL; }

// Channel plane xc (H x W) into its four phase planes at q: q[(2p + q')][i + 1][j] =
// xc[2i + p][2j + q'], zero outside the plane, rows -1 and tH zero.
void fill_phases(const Geom& g, const float* __restrict xc, float* __restrict q) {
  const int W = g.W, tW = g.tW;
  // the slack, read by the lanes past the image's tiles (never stored): zeros, not garbage
  // that might be denormal
  std::memset(q + 4 * g.pl, 0, sizeof(float) * 2 * kL);
  for (int p = 0; p < 2; ++p) {
    float* ev = q + 2 * p * g.pl;
    float* od = ev + g.pl;
    for (int i = -1; i <= g.tH; ++i, ev += tW, od += tW) {
      const int row = 2 * i + p;
      if (row < 0 || row >= g.H) {
        std::memset(ev, 0, sizeof(float) * tW);
        std::memset(od, 0, sizeof(float) * tW);
        continue;
      }
      const float* xr = xc + static_cast<int64_t>(row) * W;
      int j = 0;
      for (; 2 * j + 2 * kL <= W; j += kL) {
        vf e, o;
        vunzip(vld(xr + 2 * j), vld(xr + 2 * j + kL), e, o);
        vst(ev + j, e);
        vst(od + j, o);
      }
      for (; j < tW; ++j) {
        ev[j] = xr[2 * j];  // 2j < W for j < tW
        od[j] = 2 * j + 1 < W ? xr[2 * j + 1] : 0.0f;
      }
    }
  }
}

// Vectors of tiles grouped for the GEMM: 3 each, the rest as one narrower group, or as 2 + 2
// when 3-wide groups leave 1 (conv_direct's Tiles).
struct Groups {
  int nvec, nw, extra, extra_nv;
  explicit Groups(int nvec_) : nvec(nvec_) {
    const int rem = nvec % kWide;
    if (rem == 1 && nvec > kWide) {
      nw = (nvec - 4) / kWide, extra = 2, extra_nv = 2;
    } else {
      nw = nvec / kWide, extra = rem ? 1 : 0, extra_nv = rem;
    }
  }
  int count() const { return nw + extra; }
  int start(int gi) const { return gi < nw ? kWide * gi : kWide * nw + extra_nv * (gi - nw); }
  int width(int gi) const { return gi < nw ? kWide : extra_nv; }
  // vector u's group and place in it
  void locate(int u, int& gi, int& j) const {
    if (u < kWide * nw) {
      gi = u / kWide, j = u % kWide;
    } else {
      gi = nw + (u - kWide * nw) / extra_nv, j = (u - kWide * nw) % extra_nv;
    }
  }
};

// V = B^T d B for one channel and one vector of tiles: ph is the channel's phases + t0, v
// the vector's place in its group's V (positions vs floats apart).
inline void input_transform(const Geom& g, const float* __restrict ph, vm left, vm right, float* __restrict v,
                            int64_t vs) {
  vf s[4][4];  // B^T d: s[k][c]
  for (int c = 0; c < 4; ++c) {
    vf d[4];
    for (int r = 0; r < 4; ++r) {
      const float* p = ph + g.off[r * 4 + c];
      d[r] = c == 0 ? vldz(p, left) : c == 3 ? vldz(p, right) : vld(p);
    }
    s[0][c] = vsub(d[0], d[2]);
    s[1][c] = vadd(d[1], d[2]);
    s[2][c] = vsub(d[2], d[1]);
    s[3][c] = vsub(d[1], d[3]);
  }
  for (int k = 0; k < 4; ++k) {
    float* o = v + 4 * k * vs;
    vst(o, vsub(s[k][0], s[k][2]));
    vst(o + vs, vadd(s[k][1], s[k][2]));
    vst(o + 2 * vs, vsub(s[k][2], s[k][1]));
    vst(o + 3 * vs, vsub(s[k][1], s[k][3]));
  }
}

// m[i][:] = sum over ci of u[ci][i] * v[ci][:] for kRows output channels and NV vectors
template <int NV>
inline void gemm_tile(const float* __restrict u, const float* __restrict v, int Cin, int gw, float* __restrict m) {
  // without a path that skips the loop, GCC keeps the accumulators in registers (else it
  // spills them to the stack around the loop)
  if (Cin < 1) __builtin_unreachable();
  vf acc[kRows][NV];
  for (int i = 0; i < kRows; ++i)
    for (int j = 0; j < NV; ++j) acc[i][j] = vzero();
  for (int ci = 0; ci < Cin; ++ci, u += kRows, v += gw) {
    vf x[NV];
    for (int j = 0; j < NV; ++j) {
      x[j] = vld(v + j * kL);
#if defined(DSX_WINO_256)
      // in a register: GCC otherwise folds the load into each row's FMA, and with the
      // broadcasts that is more loads than Zen 4's two per cycle (the 4 x 2 tile ran at
      // about two thirds of the FMA rate)
      asm("" : "+x"(x[j]));
#endif
    }
    for (int i = 0; i < kRows; ++i) {
      const vf b = vset(u[i]);
      for (int j = 0; j < NV; ++j) acc[i][j] = vfma(b, x[j], acc[i][j]);
    }
  }
  for (int i = 0; i < kRows; ++i)
    for (int j = 0; j < NV; ++j) vst(m + i * gw + j * kL, acc[i][j]);
}

// dst[0, n) = relu?(v + b + res) (Epilogue::apply's order), n <= kL
inline void put(float* dst, const float* res, vf v, vf b, bool relu, int n) {
  v = vadd(v, b);
  if (res) v = vadd(v, n == kL ? vld(res) : vldn(res, n));
  if (relu) v = vrelu(v);
  if (n == kL)
    vst(dst, v);
  else
    vstn(dst, v, n);
}

struct Out {
  const Geom& g;
  float* y;          // [N, Cout, H, W]
  const float* res;  // same layout, or null
  const float* bias;
  bool relu;
  int Cout;
};

// Output row r (0 or 1) of every tile of the vector at t0 (n valid lanes) of image img,
// channel co: e and o are the tiles' even and odd columns.
inline void store_row(const Out& out, int img, int co, int t0, int n, int r, vf e, vf o) {
  const Geom& g = out.g;
  const int64_t plane = (static_cast<int64_t>(img) * out.Cout + co) * g.H * g.W;
  float* yc = out.y + plane;
  const float* rc = out.res ? out.res + plane : nullptr;
  const vf b = vset(out.bias ? out.bias[co] : 0.0f);
  vf lo, hi;
  vzip(e, o, lo, hi);
  const int ty0 = t0 / g.tW, tx0 = t0 % g.tW;
  if (tx0 + n <= g.tW) {  // one tile row
    const int row = 2 * ty0 + r;
    if (row >= g.H) return;
    const int64_t at = static_cast<int64_t>(row) * g.W + 2 * tx0;
    const int nf = std::min(2 * n, g.W - 2 * tx0);
    put(yc + at, rc ? rc + at : nullptr, lo, b, out.relu, std::min(nf, kL));
    if (nf > kL) put(yc + at + kL, rc ? rc + at + kL : nullptr, hi, b, out.relu, nf - kL);
    return;
  }
  alignas(64) float tmp[3 * kL];
  vst(tmp, lo);
  vst(tmp + kL, hi);
  // segments of tiles in one tile row
  for (int t = t0; t < t0 + n;) {
    const int ty = t / g.tW, tx = t % g.tW, k = std::min(g.tW - tx, t0 + n - t);
    const int row = 2 * ty + r;
    if (row < g.H) {
      const int64_t at = static_cast<int64_t>(row) * g.W + 2 * tx;
      const int nf = std::min(2 * k, g.W - 2 * tx);
      const float* src = tmp + 2 * (t - t0);
      for (int f = 0; f < nf; f += kL) {
        const int m = std::min(kL, nf - f);
        put(yc + at + f, rc ? rc + at + f : nullptr, m == kL ? vld(src + f) : vldn(src + f, m), b, out.relu, m);
      }
    }
    t += k;
  }
}

// How a vector of tiles is stored: a whole vector whose output rows are contiguous in y (the
// plane's rows, W even, all rows inside it): one tile row (tW a multiple of kL: 2 + 2
// vectors, rows 2ty and 2ty + 1), or kL / tW tile rows of tW = kL/2 or kL/4 (4 vectors, the
// zipped rows reordered); else row segment by segment (store_row).
enum Layout { kSegments, kRowPair, kBlockHalf, kBlockQuarter };

Layout layout(const Geom& g, int t0) {
  if (t0 + kL > g.T || g.W % 2) return kSegments;
  const int ty0 = t0 / g.tW;
  if (g.tW % kL == 0) return 2 * ty0 + 2 <= g.H ? kRowPair : kSegments;
  const int rows = kL / g.tW;  // tile rows in the vector (t0 is a multiple of kL)
  if (2 * (ty0 + rows) > g.H) return kSegments;
  return 2 * g.tW == kL ? kBlockHalf : 4 * g.tW == kL ? kBlockQuarter : kSegments;
}

// the halves of a and b: low halves (lo = true) or high halves, a's first
inline vf halves(vf a, vf b, bool lo) {
#if defined(DSX_WINO_512)
  return lo ? _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)) : _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2));
#else
  return lo ? _mm256_permute2f128_ps(a, b, 0x20) : _mm256_permute2f128_ps(a, b, 0x31);
#endif
}

// Y = A^T M A for the kRows channels from c0 and the group's vectors, then stored
void output_transform(const Out& out, const float* __restrict m, int gw, int c0, const int* img, const int* t0,
                      int nv) {
  const Geom& g = out.g;
  const int64_t xs = static_cast<int64_t>(kRows) * gw;  // one position of m
  const int64_t HW = static_cast<int64_t>(g.H) * g.W;
  const int rows = std::min(kRows, out.Cout - c0);
  for (int j = 0; j < nv; ++j) {
    const Layout lay = layout(g, t0[j]);
    const int n = std::min(kL, g.T - t0[j]);
    const int64_t at = 2 * static_cast<int64_t>(t0[j] / g.tW) * g.W + 2 * (t0[j] % g.tW);
    for (int i = 0; i < rows; ++i) {
      const float* p = m + i * gw + j * kL;
      vf a0[4], a1[4];  // A^T M
      for (int c = 0; c < 4; ++c) {
        const vf m0 = vld(p + c * xs), m1 = vld(p + (4 + c) * xs), m2 = vld(p + (8 + c) * xs),
                 m3 = vld(p + (12 + c) * xs);
        a0[c] = vadd(vadd(m0, m1), m2);
        a1[c] = vsub(vsub(m1, m2), m3);
      }
      const vf e0 = vadd(vadd(a0[0], a0[1]), a0[2]), o0 = vsub(vsub(a0[1], a0[2]), a0[3]);
      const vf e1 = vadd(vadd(a1[0], a1[1]), a1[2]), o1 = vsub(vsub(a1[1], a1[2]), a1[3]);
      const int co = c0 + i;
      if (lay == kSegments) {
        store_row(out, img[j], co, t0[j], n, 0, e0, o0);
        store_row(out, img[j], co, t0[j], n, 1, e1, o1);
        continue;
      }
      const int64_t off = (static_cast<int64_t>(img[j]) * out.Cout + co) * HW + at;
      float* d = out.y + off;
      const float* r = out.res ? out.res + off : nullptr;
      const vf b = vset(out.bias ? out.bias[co] : 0.0f);
      vf lo0, hi0, lo1, hi1;
      vzip(e0, o0, lo0, hi0);
      vzip(e1, o1, lo1, hi1);
      vf v[4];
      int64_t o[4] = {0, kL, 2 * kL, 3 * kL};
      if (lay == kRowPair) {
        v[0] = lo0, v[1] = hi0, v[2] = lo1, v[3] = hi1;
        o[2] = g.W, o[3] = g.W + kL;
      } else if (lay == kBlockHalf) {
        v[0] = lo0, v[1] = lo1, v[2] = hi0, v[3] = hi1;
      } else {
        v[0] = halves(lo0, lo1, true), v[1] = halves(lo0, lo1, false);
        v[2] = halves(hi0, hi1, true), v[3] = halves(hi0, hi1, false);
      }
      for (int k = 0; k < 4; ++k) put(d + o[k], r ? r + o[k] : nullptr, v[k], b, out.relu, kL);
    }
  }
}
#endif

}  // namespace

bool conv_winograd_applies(const Conv2dShape& s) {
#if defined(DSX_WINO_512) || defined(DSX_WINO_256)
  return s.groups == 1 && s.K == 3 && s.stride == 1 && s.pad == 1 && s.Cin >= 1 && s.Cout >= 1 && s.H >= 1 &&
         s.W >= 1;
#else
  (void)s;
  return false;
#endif
}

bool conv_winograd_preferred(const Conv2dShape& s) {
#if defined(DSX_WINO_512) || defined(DSX_WINO_256)
  // Zen 4, one thread, Winograd vs direct (winograd_cpu_check --bench, epilogue bias +
  // residual + ReLU), AVX-512 / AVX2 builds, batch 1 and 4:
  //   16x32x32 -> 16: 1.46 1.45 / 1.70 1.73   32x16x16 -> 32: 1.43 1.56 / 1.94 2.00
  //   64x8x8 -> 64:   1.72 1.69 / 1.68 1.94   3x32x32 -> 16 (a stem): 1.09 1.12 / 1.24 1.19
  //   8x32x32 -> 8 (batch 4): 1.23 / 1.38     64x32x32 -> 64: 1.85 / 2.31
  //   128x8x8 -> 128: 1.97 / 2.06
  // and slower where the vectors of tiles are partly empty or cut by an odd plane: 16x9x9,
  // 32x5x5: 0.68-0.74 / 0.72-0.76; 64x4x4, 256x4x4: 0.41-0.51 / 0.61-0.71; 512x2x2: 0.41 /
  // 0.33. In the deployment executor (ResNet-20 dw-pw, DSXPLORE_PROFILE) the 3-channel stem
  // gained on AVX2 (batch 1: 15.8 -> 12.9 us, batch 64: 1.00 -> 0.89 ms) but not on AVX-512
  // (10.7 -> 10.7 us, 0.67 -> 0.70 ms). So: even planes whose tiles fill whole vectors, at
  // least 8 input channels (AVX2: 3; fewer were not measured) and 8 output channels (the
  // direct route's least). Large planes win too (batch 1: 64x56x56: 1.73 / 1.28,
  // 32x112x112: 1.51 / 1.37, 256x16x16: 2.10 / 1.81, the AVX2 figures before its GEMM tile
  // kept V in registers) with an image's V of several MB (16 * Cin * tiles floats, 6.4 MB at
  // 32x112x112), held per thread: at most 16 MB, else the direct route.
  const int64_t tiles = static_cast<int64_t>(s.H / 2) * (s.W / 2);
#if defined(DSX_WINO_512)
  constexpr int kMinCin = 8;
#else
  constexpr int kMinCin = 3;
#endif
  return conv_winograd_applies(s) && s.Cin >= kMinCin && s.Cout >= 8 && s.H % 2 == 0 && s.W % 2 == 0 &&
         tiles % kL == 0 && kXi * s.Cin * tiles * sizeof(float) <= (size_t{16} << 20);
#else
  (void)s;
  return false;
#endif
}

size_t conv_winograd_packed_size(const Conv2dShape& s) {
#if defined(DSX_WINO_512) || defined(DSX_WINO_256)
  const size_t slivers = static_cast<size_t>((s.Cout + kRows - 1) / kRows);
  return slivers * kXi * s.Cin * kRows;
#else
  (void)s;
  return 0;
#endif
}

void conv_winograd_pack(const Conv2dShape& s, const float* w, float* packed) {
#if defined(DSX_WINO_512) || defined(DSX_WINO_256)
  static constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  std::fill(packed, packed + conv_winograd_packed_size(s), 0.0f);
  for (int co = 0; co < s.Cout; ++co)
    for (int ci = 0; ci < s.Cin; ++ci) {
      const float* k = w + (static_cast<int64_t>(co) * s.Cin + ci) * 9;
      double gk[4][3];  // G k
      for (int a = 0; a < 4; ++a)
        for (int c = 0; c < 3; ++c) gk[a][c] = G[a][0] * k[c] + G[a][1] * k[3 + c] + G[a][2] * k[6 + c];
      const int sl = co / kRows, i = co % kRows;
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) {
          const double u = gk[a][0] * G[b][0] + gk[a][1] * G[b][1] + gk[a][2] * G[b][2];
          packed[((static_cast<int64_t>(sl) * kXi + a * 4 + b) * s.Cin + ci) * kRows + i] = static_cast<float>(u);
        }
    }
#else
  (void)s, (void)w, (void)packed;
#endif
}

void conv_winograd_forward(CpuCtx& ctx, const Conv2dShape& s, const float* x, float* y, const Epilogue& epi,
                           const float* packed) {
#if defined(DSX_WINO_512) || defined(DSX_WINO_256)
  const Geom g = geom(s);
  const int Cin = s.Cin, slivers = (s.Cout + kRows - 1) / kRows;
  const int64_t HW = static_cast<int64_t>(s.H) * s.W, usl = static_cast<int64_t>(kXi) * Cin * kRows;
  const int64_t vper = static_cast<int64_t>(kXi) * Cin * kL;  // V floats per vector of tiles
  const int64_t msize = static_cast<int64_t>(kXi) * kRows * kWide * kL;
  const Out out{g, y, epi.residual, epi.bias, epi.relu, s.Cout};

  // tab: per vector of an image, its edge masks' bits; then per vector of the nb images, its
  // place (its group's first vector * kL + its place in the group, < kWide) and its group's
  // width in floats
  auto set_table = [&](int nb, const Groups& gr, int32_t* tab) {
    for (int v = 0; v < g.vpi; ++v) {
      unsigned l = 0, r = 0;
      const int t0 = v * kL, n = std::min(kL, g.T - t0);
      for (int i = 0, tx = t0 % g.tW; i < n; ++i) {
        if (tx != 0) l |= 1u << i;
        if (tx != g.tW - 1) r |= 1u << i;
        if (++tx == g.tW) tx = 0;
      }
      tab[2 * v] = static_cast<int32_t>(l), tab[2 * v + 1] = static_cast<int32_t>(r);
    }
    int32_t* place = tab + 2 * g.vpi;
    for (int u = 0; u < nb * g.vpi; ++u) {
      int gi, j;
      gr.locate(u, gi, j);
      place[2 * u] = static_cast<int32_t>(gr.start(gi) * kL + j);
      place[2 * u + 1] = gr.width(gi) * kL;
    }
  };
  // stage A for images [n0, n0 + nb), their vectors [u_b, u_e): V of those vectors
  auto stage_a = [&](int n0, int nb, const int32_t* tab, int u_b, int u_e, float* ph, float* V) {
    const int32_t* place = tab + 2 * g.vpi;
    for (int ci = 0; ci < Cin; ++ci)
      for (int k = u_b / g.vpi; k < nb && k * g.vpi < u_e; ++k) {
        fill_phases(g, x + ((static_cast<int64_t>(n0) + k) * Cin + ci) * HW, ph);
        for (int v = std::max(0, u_b - k * g.vpi); v < g.vpi && k * g.vpi + v < u_e; ++v) {
          const int u = k * g.vpi + v;
          const int64_t gw = place[2 * u + 1], start = place[2 * u] / kL, j = place[2 * u] % kL;
          float* dst = V + start * vper + ci * gw + j * kL;
          input_transform(g, ph + v * kL, vmask(static_cast<unsigned>(tab[2 * v])),
                          vmask(static_cast<unsigned>(tab[2 * v + 1])), dst, static_cast<int64_t>(Cin) * gw);
        }
      }
  };
  // stage B for group gi and sliver sl
  auto stage_b = [&](int n0, const Groups& gr, int gi, int sl, const float* V, float* m) {
    const int nv = gr.width(gi), gw = nv * kL, u0 = gr.start(gi);
    const float* vg = V + u0 * vper;
    const float* u = packed + sl * usl;
    for (int xi = 0; xi < kXi; ++xi) {
      const float* vx = vg + static_cast<int64_t>(xi) * Cin * gw;
      const float* ux = u + static_cast<int64_t>(xi) * Cin * kRows;
      float* mx = m + static_cast<int64_t>(xi) * kRows * gw;
      if (nv == 3)
        gemm_tile<3>(ux, vx, Cin, gw, mx);
      else if (nv == 2)
        gemm_tile<2>(ux, vx, Cin, gw, mx);
      else
        gemm_tile<1>(ux, vx, Cin, gw, mx);
    }
    int img[kWide], t0[kWide];
    for (int j = 0; j < nv; ++j) img[j] = n0 + (u0 + j) / g.vpi, t0[j] = (u0 + j) % g.vpi * kL;
    output_transform(out, m, gw, sl * kRows, img, t0, nv);
  };

  const int T = ctx.pool.size();
  if (s.N >= T) {
    // whole images per thread; a plane of fewer than 3 vectors of tiles goes a few images at a
    // time so that the GEMM tiles are full
    const int bundle = std::max(1, (2 * kWide + g.vpi - 1) / g.vpi);
    ctx.pool.parallel_for(s.N, [&](int tid, int64_t b, int64_t e) {
      float* ph = ctx.ws.get(tid, kWsCol, static_cast<size_t>(phase_floats(g)));
      float* m = ctx.ws.get(tid, kWsLocal2, static_cast<size_t>(msize));
      const int64_t most = std::min<int64_t>(bundle, e - b) * g.vpi;  // vectors in a bundle
      float* V = ctx.ws.get(tid, kWsLocal, static_cast<size_t>(vper * most));
      int32_t* tab = reinterpret_cast<int32_t*>(ctx.ws.get(tid, kWsLocal3, static_cast<size_t>(2 * g.vpi + 2 * most)));
      for (int64_t n0 = b; n0 < e; n0 += bundle) {
        const int nb = static_cast<int>(std::min<int64_t>(bundle, e - n0));
        const Groups gr(nb * g.vpi);
        set_table(nb, gr, tab);
        stage_a(static_cast<int>(n0), nb, tab, 0, nb * g.vpi, ph, V);
        for (int gi = 0; gi < gr.count(); ++gi)
          for (int sl = 0; sl < slivers; ++sl) stage_b(static_cast<int>(n0), gr, gi, sl, V, m);
      }
    });
    return;
  }
  // fewer images than threads: one parallel region (a join costs more than a small layer),
  // split by groups (each thread its groups' stage A and B), or when there are fewer groups
  // than threads by slivers (each thread all of stage A, in its own V, and its slivers)
  const Groups gr(s.N * g.vpi);
  int32_t* tab = reinterpret_cast<int32_t*>(ctx.ws.get(0, kWsShared2, static_cast<size_t>(2 * g.vpi + 2 * gr.nvec)));
  set_table(s.N, gr, tab);
  if (gr.count() >= T) {
    float* V = ctx.ws.get(0, kWsShared, static_cast<size_t>(vper * gr.nvec));
    ctx.pool.parallel_for(gr.count(), [&](int tid, int64_t b, int64_t e) {
      float* ph = ctx.ws.get(tid, kWsCol, static_cast<size_t>(phase_floats(g)));
      float* m = ctx.ws.get(tid, kWsLocal2, static_cast<size_t>(msize));
      const int last = static_cast<int>(e) - 1;
      stage_a(0, s.N, tab, gr.start(static_cast<int>(b)), gr.start(last) + gr.width(last), ph, V);
      for (int64_t gi = b; gi < e; ++gi)
        for (int sl = 0; sl < slivers; ++sl) stage_b(0, gr, static_cast<int>(gi), sl, V, m);
    });
    return;
  }
  ctx.pool.parallel_for(slivers, [&](int tid, int64_t b, int64_t e) {
    float* ph = ctx.ws.get(tid, kWsCol, static_cast<size_t>(phase_floats(g)));
    float* m = ctx.ws.get(tid, kWsLocal2, static_cast<size_t>(msize));
    float* V = ctx.ws.get(tid, kWsLocal, static_cast<size_t>(vper * gr.nvec));
    stage_a(0, s.N, tab, 0, gr.nvec, ph, V);
    for (int gi = 0; gi < gr.count(); ++gi)
      for (int64_t sl = b; sl < e; ++sl) stage_b(0, gr, gi, static_cast<int>(sl), V, m);
  });
#else
  (void)ctx, (void)s, (void)x, (void)y, (void)epi, (void)packed;
#endif
}

}  // namespace dsx
