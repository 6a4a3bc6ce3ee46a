// GEMM engine of the CUDA backend: cuBLAS when the library can be loaded at run time
// (dlopen, never a link dependency, so the addon loads on machines without it), our own
// tiled SGEMM otherwise. Row-major, BLAS semantics (beta == 0 ignores C's contents).
// Batched calls use a two-level batch index z = z1 * inner + z2 so grouped convolutions
// over a whole mini-batch are one launch: offset(X) = z1 * strideX1 + z2 * strideX2.
#pragma once
#include <string>

#include "ops/common_cuda.cuh"

namespace dsx {
namespace cuda {

struct GemmArgs {
  bool transA = false, transB = false;
  int M = 0, N = 0, K = 0;
  float alpha = 1.f;
  const float* A = nullptr;
  int lda = 0;
  const float* B = nullptr;
  int ldb = 0;
  float beta = 0.f;
  float* C = nullptr;
  int ldc = 0;
  int batch = 1, inner = 1;  // batch = outer * inner
  long long sA1 = 0, sA2 = 0, sB1 = 0, sB2 = 0, sC1 = 0, sC2 = 0;
};

class Gemm {
 public:
  // Loads cuBLAS unless DSXPLORE_CUBLAS=0, in FP32 math unless DSXPLORE_CUBLAS_TF32=1; the
  // current device must already be set.
  Gemm();
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  bool has_cublas() const { return handle_ != nullptr; }
  // "cublas (/usr/local/cuda/lib64/libcublas.so.12, FP32 math)" or
  // "own tiled sgemm (cuBLAS not used: <why>)"
  std::string engine() const;
  // Route GEMMs through cuBLAS (when loaded) or force our kernel, e.g. for benchmarks.
  void set_prefer_cublas(bool on) { prefer_cublas_ = on; }

  void run(const Ctx& ctx, const GemmArgs& g);
  void run_own(const Ctx& ctx, const GemmArgs& g);

 private:
  void* handle_ = nullptr;
  std::string lib_name_;  // the path of the library loaded
  std::string why_;       // why cuBLAS is not used, when handle_ is null
  bool tf32_ = false;
  bool prefer_cublas_ = true;
  int sms_ = 80;
};

// Loads cuBLAS once per process (unless DSXPLORE_CUBLAS=0) without creating a handle: the
// loader's path first, then the CUDA toolkit's lib64 and the pip wheels nvidia-cublas-*.
// True when loaded, with its path in *path; false with the reason in *why.
bool cublas_loadable(std::string* path, std::string* why);

}  // namespace cuda
}  // namespace dsx
