// Blocked SGEMM after Goto/BLIS: C is cut into MC x NC tiles (the unit of parallel work);
// for each KC slice of K a tile packs its A block into MR-row slivers and its B block into
// NR-column panels, then sweeps the micro-kernel over them. Packing makes every inner-loop
// access contiguous whatever the transposes and leading dimensions are.
#include "ops/gemm_cpu.h"
#include "ops/transpose.h"

#include <algorithm>
#include <cstring>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace dsx {

namespace {
constexpr int kMC = 120;  // multiple of kMR; A block MC x KC stays in L2
constexpr int kKC = 256;
constexpr int kNC = 512;  // multiple of kNR; B block KC x NC stays in L2
constexpr int kPackASlack = 8;  // floats past the packed A block that pack_a may scribble on

#if defined(__AVX512F__)
using vec = __m512;
inline vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, vec v) { _mm512_storeu_ps(p, v); }
inline vec vset1(float x) { return _mm512_set1_ps(x); }
inline vec vzero() { return _mm512_setzero_ps(); }
inline vec vfma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
inline vec vmul(vec a, vec b) { return _mm512_mul_ps(a, b); }
#define DSX_SIMD 1
#elif defined(__AVX2__) && defined(__FMA__)
using vec = __m256;
inline vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, vec v) { _mm256_storeu_ps(p, v); }
inline vec vset1(float x) { return _mm256_set1_ps(x); }
inline vec vzero() { return _mm256_setzero_ps(); }
inline vec vfma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
inline vec vmul(vec a, vec b) { return _mm256_mul_ps(a, b); }
#define DSX_SIMD 1
#endif

// How a micro-kernel walks its A operand: a packed/strided sliver (a[k*lda + i]) or kMR row
// pointers (rows[i][k], for operands that are contiguous along K, such as NCHW planes).
struct APacked {
  const float* a;
  int64_t lda;
  float get(int i) const { return a[i]; }
  void next() { a += lda; }
};
struct ARows {
  const float* r[kMR];
  int64_t k = 0;
  float get(int i) const { return r[i][k]; }
  void next() { ++k; }
};

// How a micro-kernel walks its B operand: rows at a fixed stride, or at per-row offsets from
// a base (shifted views of one zero-padded plane: implicit im2col).
struct BStrided {
  const float* b;
  int64_t ldb;
  const float* row() const { return b; }
  void next() { b += ldb; }
};
struct BOffsets {
  const float* base;
  const int32_t* off;
  const float* row() const { return base + *off; }
  void next() { ++off; }
};

#ifdef DSX_SIMD
// MR <= kMR rows are computed (the first MR of the sliver; mr <= MR are stored): a sliver
// with few live rows (the M edge) runs a narrower kernel instead of computing kMR rows. Every
// accumulator is the same chain of FMAs over k in order whatever MR is, so results do not
// depend on it.
template <int NV, int MR, class AP, class BP>
inline void kernel_simd(int K, AP ap, BP bp, float* const* crow, int mr, int nr, float alpha,
                        float beta) {
  vec acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = vzero();
#pragma GCC unroll 2
  for (int k = 0; k < K; ++k) {
    vec bv[NV];
    const float* b = bp.row();
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = vload(b + v * kVecWidth);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      vec av = vset1(ap.get(i));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = vfma(av, bv[v], acc[i][v]);
    }
    ap.next();
    bp.next();
  }
  const vec va = vset1(alpha);
  if (nr == NV * kVecWidth) {
    if (beta == 0.0f) {
      for (int i = 0; i < mr; ++i)
        for (int v = 0; v < NV; ++v) vstore(crow[i] + v * kVecWidth, vmul(va, acc[i][v]));
    } else {
      const vec vb = vset1(beta);
      for (int i = 0; i < mr; ++i)
        for (int v = 0; v < NV; ++v) {
          float* c = crow[i] + v * kVecWidth;
          vstore(c, vfma(vb, vload(c), vmul(va, acc[i][v])));
        }
    }
    return;
  }
  alignas(64) float tmp[MR][NV * kVecWidth];
  for (int i = 0; i < mr; ++i)
    for (int v = 0; v < NV; ++v) vstore(&tmp[i][v * kVecWidth], acc[i][v]);
  for (int i = 0; i < mr; ++i) {
    float* c = crow[i];
    if (beta == 0.0f)
      for (int j = 0; j < nr; ++j) c[j] = alpha * tmp[i][j];
    else
      for (int j = 0; j < nr; ++j) c[j] = alpha * tmp[i][j] + beta * c[j];
  }
}
#endif

template <int NV, class AP, class BP>
inline void kernel_portable(int K, AP ap, BP bp, float* const* crow, int mr, int nr, float alpha,
                            float beta) {
  constexpr int NW = NV * kVecWidth;
  float acc[kMR][NW] = {};
  for (int k = 0; k < K; ++k) {
    const float* b = bp.row();
    for (int i = 0; i < kMR; ++i) {
      const float av = ap.get(i);
      for (int j = 0; j < NW; ++j) acc[i][j] += av * b[j];
    }
    ap.next();
    bp.next();
  }
  for (int i = 0; i < mr; ++i) {
    float* c = crow[i];
    if (beta == 0.0f)
      for (int j = 0; j < nr; ++j) c[j] = alpha * acc[i][j];
    else
      for (int j = 0; j < nr; ++j) c[j] = alpha * acc[i][j] + beta * c[j];
  }
}

// op(A)[i0.., k0..] (mc x kc) -> slivers of kMR rows, k-major, zero-padded rows.
void pack_a(const GemmArgs& g, int i0, int mc, int k0, int kc, float* dst) {
  for (int is = 0; is < mc; is += kMR) {
    const int rows = std::min(kMR, mc - is);
    float* d = dst + static_cast<int64_t>(is) * kc;
    if (!g.transA) {
      const float* src[8];
      for (int i = 0; i < 8; ++i) src[i] = g.A + (i0 + is + (i < rows ? i : 0)) * g.lda + k0;
      int k = 0;
#if defined(__AVX__)
      // 8 k at a time: an 8x8 register transpose of rows 0..5 (6, 7 and missing rows repeat
      // row 0) stored at a stride of kMR, each store's 2 surplus floats overwritten by the
      // next one; the last block's 2 land in the next sliver (packed after) or the buffer's
      // slack (kPackASlack).
      for (; k + 8 <= kc; k += 8) {
        const float* r[8];
        for (int i = 0; i < 8; ++i) r[i] = src[i] + k;
        transpose8x8(r, d + k * kMR, kMR);
      }
#endif
      for (int i = 0; i < rows; ++i)
        for (int kk = k; kk < kc; ++kk) d[kk * kMR + i] = src[i][kk];
    } else {
      for (int k = 0; k < kc; ++k) {
        const float* src = g.A + (k0 + k) * g.lda + i0 + is;
        for (int i = 0; i < rows; ++i) d[k * kMR + i] = src[i];
      }
    }
    for (int i = rows; i < kMR; ++i)
      for (int k = 0; k < kc; ++k) d[k * kMR + i] = 0.0f;
  }
}

// op(B)[k0.., j0..] (kc x nc) -> panels of kNR columns, k-major, zero-padded columns.
void pack_b(const GemmArgs& g, int k0, int kc, int j0, int nc, float* dst) {
  if (!g.transB) {
    // Row by row: each row of B is read front to back (one stream the prefetcher follows),
    // its kNR-column pieces going to their panels. Panel by panel would read one cache line
    // from each of kc rows in turn, every one a miss.
    const int full = nc / kNR * kNR;
    for (int k = 0; k < kc; ++k) {
      const float* src = g.B + (k0 + k) * g.ldb + j0;
      float* dk = dst + k * kNR;
      for (int js = 0; js < full; js += kNR)
        std::memcpy(dk + static_cast<int64_t>(js) * kc, src + js, kNR * sizeof(float));
      if (full < nc) {
        float* d = dk + static_cast<int64_t>(full) * kc;
        const int cols = nc - full;
        std::memcpy(d, src + full, cols * sizeof(float));
        for (int j = cols; j < kNR; ++j) d[j] = 0.0f;
      }
    }
    return;
  }
  for (int js = 0; js < nc; js += kNR) {
    const int cols = std::min(kNR, nc - js);
    float* d = dst + static_cast<int64_t>(js) * kc;
    {
      const float* rows[kNR];
      for (int j = 0; j < cols; ++j) rows[j] = g.B + (j0 + js + j) * g.ldb + k0;
      transpose_rows(rows, cols, kc, d, kNR);
      for (int k = 0; k < kc; ++k)
        for (int j = cols; j < kNR; ++j) d[k * kNR + j] = 0.0f;
    }
  }
}

void scale_c(const GemmArgs& g, int i0, int mc, int j0, int nc) {
  for (int i = i0; i < i0 + mc; ++i) {
    float* c = g.C + i * g.ldc + j0;
    if (g.beta == 0.0f)
      std::memset(c, 0, nc * sizeof(float));
    else if (g.beta != 1.0f)
      for (int j = 0; j < nc; ++j) c[j] *= g.beta;
  }
}

// C[i0.., j0..] (mc x nc) += op(A) block * packed op(B) block, one KC slice (beta on slice 0).
void macro(const GemmArgs& g, int i0, int mc, int j0, int nc, int kc, float beta, const float* pa,
           const float* pb) {
  float* crow[kMR];
  for (int js = 0; js < nc; js += kNR) {
    const int cols = std::min(kNR, nc - js);
    const float* bp = pb + static_cast<int64_t>(js) * kc;
    for (int is = 0; is < mc; is += kMR) {
      const int rows = std::min(kMR, mc - is);
      for (int i = 0; i < rows; ++i) crow[i] = g.C + (i0 + is + i) * g.ldc + j0 + js;
      micro_kernel(kc, pa + static_cast<int64_t>(is) * kc, kMR, bp, kNR, crow, rows, cols, g.alpha,
                   beta, 2);
    }
  }
}

struct Tiling {
  int mt, nt, mc, nc;
};

Tiling tiling(const GemmArgs& g, int threads) {
  Tiling t{0, 0, kMC, kNC};
  if (threads > 1) {
    if (g.N <= kNC && g.M > kMR) {
      // One column block: M cut into one row group of whole slivers per thread (run in kMC
      // blocks). Each thread packs all of B and its rows of A, and the work splits within a
      // sliver (512^3: 258 + 254 rows; 64x64: 36 + 28). Narrower column blocks instead would
      // have every thread pack all of A, and tiles of kMC rows would split 5 blocks 2 + 3.
      const int slivers = (g.M + kMR - 1) / kMR;
      t.mc = (slivers + threads - 1) / threads * kMR;
    } else {
      // Enough tiles to feed every thread, but never tiles so thin that packing dominates.
      while (((g.M + t.mc - 1) / t.mc) * ((g.N + t.nc - 1) / t.nc) < 2 * threads && t.nc > 4 * kNR)
        t.nc /= 2;
    }
  }
  t.mt = (g.M + t.mc - 1) / t.mc;
  t.nt = (g.N + t.nc - 1) / t.nc;
  return t;
}

// Tiles b..e-1 (tile u is row block u % mt of column block u / mt; a row block taller than
// kMC runs as kMC-row blocks, each packing its A). The tiles of one column block share its
// packed B: for each KC slice, B is packed once and every row block of the range runs
// against it. Each output element still sums its KC slices in order, so the loop
// order changes nothing in the results.
void run_tiles(const GemmArgs& g, const Tiling& t, int64_t b, int64_t e, float* pa, float* pb) {
  while (b < e) {
    const int tj = static_cast<int>(b / t.mt);
    const int ti0 = static_cast<int>(b % t.mt);
    const int ti1 = static_cast<int>(std::min<int64_t>(e - static_cast<int64_t>(tj) * t.mt, t.mt));
    b = static_cast<int64_t>(tj) * t.mt + ti1;
    const int j0 = tj * t.nc, nc = std::min(t.nc, g.N - j0);
    if (g.K == 0 || g.alpha == 0.0f) {
      for (int ti = ti0; ti < ti1; ++ti)
        scale_c(g, ti * t.mc, std::min(t.mc, g.M - ti * t.mc), j0, nc);
      continue;
    }
    for (int k0 = 0; k0 < g.K; k0 += kKC) {
      const int kc = std::min(kKC, g.K - k0);
      const float beta = k0 == 0 ? g.beta : 1.0f;
      pack_b(g, k0, kc, j0, nc, pb);
      for (int ti = ti0; ti < ti1; ++ti) {
        const int r1 = std::min((ti + 1) * t.mc, g.M);
        for (int i0 = ti * t.mc; i0 < r1; i0 += kMC) {
          const int mc = std::min(kMC, r1 - i0);
          pack_a(g, i0, mc, k0, kc, pa);
          macro(g, i0, mc, j0, nc, kc, beta, pa, pb);
        }
      }
    }
  }
}
}  // namespace

const char* sgemm_kernel_name() {
#if defined(__AVX512F__)
  return "avx512 6x32";
#elif defined(DSX_SIMD)
  return "avx2-fma 6x16";
#else
  return "portable 6x16";
#endif
}

namespace {
#ifdef DSX_SIMD
// The sliver's live rows pick the kernel's height: 6, 4 or 2 rows computed.
template <int NV, class AP, class BP>
inline void kernel_rows(int K, const AP& ap, const BP& bp, float* const* crow, int mr, int nr,
                        float alpha, float beta) {
  if (mr > 4)
    kernel_simd<NV, kMR>(K, ap, bp, crow, mr, nr, alpha, beta);
  else if (mr > 2)
    kernel_simd<NV, 4>(K, ap, bp, crow, mr, nr, alpha, beta);
  else
    kernel_simd<NV, 2>(K, ap, bp, crow, mr, nr, alpha, beta);
}
#endif

template <class AP, class BP>
void dispatch_kernel(int K, const AP& ap, const BP& bp, float* const* crow, int mr, int nr,
                     float alpha, float beta, int nv) {
#ifdef DSX_SIMD
  if (nv == 1)
    kernel_rows<1>(K, ap, bp, crow, mr, nr, alpha, beta);
  else if (nv == 2 || kWideNV == 2)
    kernel_rows<2>(K, ap, bp, crow, mr, nr, alpha, beta);
  else
    kernel_rows<kWideNV>(K, ap, bp, crow, mr, nr, alpha, beta);
#else
  if (nv == 1)
    kernel_portable<1>(K, ap, bp, crow, mr, nr, alpha, beta);
  else
    kernel_portable<2>(K, ap, bp, crow, mr, nr, alpha, beta);  // portable: kWideNV == 2
#endif
}
}  // namespace

void micro_kernel(int K, const float* a, int64_t lda, const float* b, int64_t ldb, float* const* crow,
                  int mr, int nr, float alpha, float beta, int nv) {
  dispatch_kernel(K, APacked{a, lda}, BStrided{b, ldb}, crow, mr, nr, alpha, beta, nv);
}

void micro_kernel_boff(int K, const float* a, const float* base, const int32_t* off,
                       float* const* crow, int mr, int nr, float alpha, float beta, int nv) {
  dispatch_kernel(K, APacked{a, kMR}, BOffsets{base, off}, crow, mr, nr, alpha, beta, nv);
}

void micro_kernel_arows(int K, const float* const* arow, const float* b, int64_t ldb,
                        float* const* crow, int mr, int nr, float alpha, float beta, int nv) {
  ARows ap;
  for (int i = 0; i < kMR; ++i) ap.r[i] = arow[i];
  dispatch_kernel(K, ap, BStrided{b, ldb}, crow, mr, nr, alpha, beta, nv);
}

void sgemm_serial(const GemmArgs& g, Workspace& ws, int tid) {
  if (g.M <= 0 || g.N <= 0) return;
  const Tiling t = tiling(g, 1);
  float* pa = ws.get(tid, kWsPackA, static_cast<size_t>(std::min(t.mc, kMC)) * kKC + kPackASlack);
  float* pb = ws.get(tid, kWsPackB, static_cast<size_t>(kKC) * (t.nc + kNR));
  run_tiles(g, t, 0, static_cast<int64_t>(t.mt) * t.nt, pa, pb);
}

void sgemm_parallel(const GemmArgs& g, ThreadPool& pool, Workspace& ws) {
  if (g.M <= 0 || g.N <= 0) return;
  const Tiling t = tiling(g, pool.size());
  const int64_t units = static_cast<int64_t>(t.mt) * t.nt;
  const int64_t flops = static_cast<int64_t>(g.M) * g.N * g.K;
  pool.parallel_for(
      units,
      [&](int tid, int64_t b, int64_t e) {
        float* pa = ws.get(tid, kWsPackA, static_cast<size_t>(std::min(t.mc, kMC)) * kKC + kPackASlack);
        float* pb = ws.get(tid, kWsPackB, static_cast<size_t>(kKC) * (t.nc + kNR));
        run_tiles(g, t, b, e, pa, pb);
      },
      flops < (1 << 16) ? units + 1 : 2);
}

}  // namespace dsx
