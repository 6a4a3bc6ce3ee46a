// Blocked float transposes for packing: 8x8 register transposes (AVX) with a scalar edge.
// Used where an operand must be re-laid out pixel-major (SCC weight gradient), where a
// scalar strided copy would cost more than the arithmetic it feeds.
#pragma once
#include <cstdint>

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace dsx {

// dst[j*ldd + i] = rows[i][j] for i < 8, j < 8.
inline void transpose8x8(const float* const* rows, float* dst, int64_t ldd) {
#if defined(__AVX__)
  __m256 r0 = _mm256_loadu_ps(rows[0]), r1 = _mm256_loadu_ps(rows[1]);
  __m256 r2 = _mm256_loadu_ps(rows[2]), r3 = _mm256_loadu_ps(rows[3]);
  __m256 r4 = _mm256_loadu_ps(rows[4]), r5 = _mm256_loadu_ps(rows[5]);
  __m256 r6 = _mm256_loadu_ps(rows[6]), r7 = _mm256_loadu_ps(rows[7]);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(dst + 0 * ldd, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + 1 * ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
#else
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) dst[j * ldd + i] = rows[i][j];
#endif
}

// dst[j*ldd + i] = rows[i][j] for i < nrows, j < ncols.
inline void transpose_rows(const float* const* rows, int nrows, int ncols, float* dst, int64_t ldd) {
  int i0 = 0;
  for (; i0 + 8 <= nrows; i0 += 8) {
    const float* r[8];
    for (int i = 0; i < 8; ++i) r[i] = rows[i0 + i];
    int j = 0;
    for (; j + 8 <= ncols; j += 8) {
      const float* rj[8];
      for (int i = 0; i < 8; ++i) rj[i] = r[i] + j;
      transpose8x8(rj, dst + j * ldd + i0, ldd);
    }
    for (; j < ncols; ++j)
      for (int i = 0; i < 8; ++i) dst[j * ldd + i0 + i] = r[i][j];
  }
  for (; i0 < nrows; ++i0)
    for (int j = 0; j < ncols; ++j) dst[j * ldd + i0] = rows[i0][j];
}

}  // namespace dsx
