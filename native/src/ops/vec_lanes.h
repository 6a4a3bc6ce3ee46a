// One vector of kVecWidth floats as a GCC vector value, and the FMA the CPU kernels' bit-for-bit
// equalities rest on: c + a*b rounded once where the target has FMA, as the SGEMM
// micro-kernel's vfma (gemm_cpu.cc), with a broadcast scalar a.
#pragma once
#include <cstring>

#include "ops/gemm_cpu.h"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace dsx {

typedef float vf __attribute__((vector_size(kVecWidth * 4)));

inline vf loadv(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline vf fmav(float a, vf b, vf c) {
#if defined(__AVX512F__)
  return reinterpret_cast<vf>(_mm512_fmadd_ps(_mm512_set1_ps(a), reinterpret_cast<__m512>(b),
                                              reinterpret_cast<__m512>(c)));
#elif defined(__AVX2__) && defined(__FMA__)
  return reinterpret_cast<vf>(_mm256_fmadd_ps(_mm256_set1_ps(a), reinterpret_cast<__m256>(b),
                                              reinterpret_cast<__m256>(c)));
#else
  return c + a * b;
#endif
}

}  // namespace dsx
