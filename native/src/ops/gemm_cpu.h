// Our own single-precision GEMM (no system BLAS): packed panels, a register-tiled MR x NR
// micro-kernel (AVX-512 or AVX2/FMA intrinsics when the compiler targets them, portable C++
// otherwise), multi-threaded over independent output tiles. Each output element is summed by
// exactly one thread in a fixed K order, so results do not depend on the thread count.
#pragma once
#include <cstdint>

#include "ops/thread_pool.h"
#include "ops/workspace.h"

namespace dsx {

#if defined(__AVX512F__)
constexpr int kVecWidth = 16;
#else
constexpr int kVecWidth = 8;
#endif
constexpr int kMR = 6;                 // micro-tile rows
constexpr int kNR = 2 * kVecWidth;     // micro-tile columns
// Widest micro-tile the register file holds (6 x 4 vectors on AVX-512): for short-K products
// such as SCC windows, where a wider tile halves the per-call overhead.
constexpr int kWideNV = kVecWidth == 16 ? 4 : 2;
constexpr int kWideNR = kWideNV * kVecWidth;

const char* sgemm_kernel_name();

// The micro-kernel, exposed so SCC can drive it over banded blocks:
//   acc[i][j] = sum_{k<K} a[k*lda + i] * b[k*ldb + j]   (i < kMR, j < nv*kVecWidth)
//   crow[i][j] = alpha*acc[i][j] + beta*crow[i][j]    for i < mr, j < nr (beta == 0: overwrite)
// b must be readable for nv*kVecWidth floats per k; nv is 1, 2 or kWideNV (nr <= nv*kVecWidth).
// Packed A has lda == kMR; a must be readable for kMR floats per k.
void micro_kernel(int K, const float* a, int64_t lda, const float* b, int64_t ldb, float* const* crow,
                  int mr, int nr, float alpha, float beta, int nv = 2);
// The same with A given as kMR row pointers, contiguous along K: a[k][i] = arow[i][k]
// (every arow[i] readable for K floats, rows past mr included). Saves transposing operands
// that are laid out K-contiguous, such as dY planes reduced over pixels.
void micro_kernel_arows(int K, const float* const* arow, const float* b, int64_t ldb,
                        float* const* crow, int mr, int nr, float alpha, float beta, int nv = 2);

// The same with packed A (lda == kMR) and B row k at base + off[k] (every row readable for
// nv*kVecWidth floats): a GEMM over shifted views of one zero-padded plane, im2col implied.
void micro_kernel_boff(int K, const float* a, const float* base, const int32_t* off,
                       float* const* crow, int mr, int nr, float alpha, float beta, int nv = 2);

// C = alpha*op(A)*op(B) + beta*C, row-major. op(A) is M x K, op(B) is K x N.
struct GemmArgs {
  bool transA, transB;
  int M, N, K;
  float alpha;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float beta;
  float* C;
  int64_t ldc;
};

// On the calling thread only, with its own scratch (for use inside parallel regions).
void sgemm_serial(const GemmArgs& g, Workspace& ws, int tid);
// Split over the pool's threads.
void sgemm_parallel(const GemmArgs& g, ThreadPool& pool, Workspace& ws);

}  // namespace dsx
