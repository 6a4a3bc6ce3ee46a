// Our own tiled SGEMM (64x64 tiles, 4x4 outputs per thread, optional deterministic split-K)
// and the run-time cuBLAS loader. Each C element is summed by one thread in a fixed order,
// and split-K partials are reduced in split order, so results are bitwise reproducible.
#include <dlfcn.h>
#include <glob.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "ops/gemm_cuda.cuh"

namespace dsx {
namespace cuda {

namespace {

constexpr int BM = 64, BN = 64, BK = 16;

// C tile (or split-K partial) of one (batch, split) slice. When `partial` is non-null the
// raw sum over this block's K range goes there and alpha/beta are applied by the reducer.
__global__ void __launch_bounds__(256)
    sgemm_tiled(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                int lda, const float* B, int ldb, float beta, float* C, int ldc, int inner,
                long long sA1, long long sA2, long long sB1, long long sB2, long long sC1,
                long long sC2, int splits, int kchunk, float* partial) {
  __shared__ float As[BK][BM + 4];
  __shared__ float Bs[BK][BN + 4];
  const int z = blockIdx.z / splits, split = blockIdx.z % splits;
  const int z1 = z / inner, z2 = z % inner;
  A += z1 * sA1 + z2 * sA2;
  B += z1 * sB1 + z2 * sB2;
  C += z1 * sC1 + z2 * sC2;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int k_begin = split * kchunk;
  const int k_end = min(K, k_begin + kchunk);
  const int t = threadIdx.x, tx = t & 15, ty = t >> 4;
  float acc[4][4] = {};
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int e = t + 256 * i;
      // index maps chosen so consecutive threads read consecutive addresses
      int m, k;
      if (!transA) { m = e / BK; k = e % BK; } else { k = e / BM; m = e % BM; }
      const int gm = m0 + m, gk = k0 + k;
      float a = 0.f;
      if (gm < M && gk < k_end) a = transA ? A[(size_t)gk * lda + gm] : A[(size_t)gm * lda + gk];
      As[k][m] = a;
      int n;
      if (!transB) { k = e / BN; n = e % BN; } else { n = e / BK; k = e % BK; }
      const int gn = n0 + n, gk2 = k0 + k;
      float b = 0.f;
      if (gn < N && gk2 < k_end) b = transB ? B[(size_t)gn * ldb + gk2] : B[(size_t)gk2 * ldb + gn];
      Bs[k][n] = b;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[k][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = Bs[k][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int gm = m0 + ty + 16 * i;
    if (gm >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int gn = n0 + tx + 16 * j;
      if (gn >= N) continue;
      if (partial) {
        partial[(((size_t)z * splits + split) * M + gm) * N + gn] = acc[i][j];
      } else {
        float* c = &C[(size_t)gm * ldc + gn];
        *c = beta == 0.f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *c;
      }
    }
  }
}

// C = alpha * (sum of the split partials, in split order) + beta * C, per batch entry.
__global__ void splitk_reduce(int M, int N, int batch, int splits, const float* partial,
                              float alpha, float beta, float* C, int ldc, int inner,
                              long long sC1, long long sC2) {
  const size_t mn = (size_t)M * N;
  DSX_GRID_STRIDE(i, mn * batch) {
    const int z = static_cast<int>(i / mn);
    const size_t r = i % mn;
    const int m = static_cast<int>(r / N), n = static_cast<int>(r % N);
    const float* p = partial + (size_t)z * splits * mn + r;
    float s = 0.f;
    for (int sp = 0; sp < splits; ++sp) s += p[(size_t)sp * mn];
    float* c = &C[(z / inner) * sC1 + (z % inner) * sC2 + (size_t)m * ldc + n];
    *c = beta == 0.f ? alpha * s : alpha * s + beta * *c;
  }
}

// ---- cuBLAS, loaded at run time: only the few entry points we call ----
using cublas_create_t = int (*)(void**);
using cublas_destroy_t = int (*)(void*);
using cublas_set_stream_t = int (*)(void*, cudaStream_t);
using cublas_set_math_mode_t = int (*)(void*, int);
using cublas_sgemm_t = int (*)(void*, int, int, int, int, int, const float*, const float*, int,
                               const float*, int, const float*, float*, int);
using cublas_sgemm_batched_t = int (*)(void*, int, int, int, int, int, const float*,
                                       const float*, int, long long, const float*, int,
                                       long long, const float*, float*, int, long long, int);
struct CublasApi {
  cublas_create_t create = nullptr;
  cublas_destroy_t destroy = nullptr;
  cublas_set_stream_t set_stream = nullptr;
  cublas_set_math_mode_t set_math_mode = nullptr;
  cublas_sgemm_t sgemm = nullptr;
  cublas_sgemm_batched_t sgemm_batched = nullptr;
};
// Per process, filled once (std::call_once: backends may be created on several threads at
// once, one per concurrent trial); the library then stays loaded. g_lib_path is the file
// loaded, g_why why none was when g_api.create is null.
CublasApi g_api;
std::string g_lib_path, g_why;
std::once_flag g_api_once;

// cublasMath_t values (cublas_api.h): the default math keeps FP32 GEMMs in FP32; TF32
// tensor-core math rounds their inputs to 10 mantissa bits and is used only when asked.
constexpr int kCublasDefaultMath = 0;
constexpr int kCublasTf32TensorOpMath = 3;

const char* const kCublasNames[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};

bool cublas_disabled() {
  const char* e = std::getenv("DSXPLORE_CUBLAS");
  return e && (std::strcmp(e, "0") == 0 || std::strcmp(e, "off") == 0);
}

bool cublas_tf32() {
  const char* e = std::getenv("DSXPLORE_CUBLAS_TF32");
  return e && std::strcmp(e, "1") == 0;
}

// Folders that hold libcublas besides the loader's own path: the CUDA toolkit's lib64
// ($CUDA_HOME, $CUDA_PATH, /usr/local/cuda*) and the pip wheels nvidia-cublas-cu12 and
// nvidia-cublas (cu13), under the site-packages of the python environments in use.
std::vector<std::string> cublas_dirs() {
  std::vector<std::string> dirs;
  auto add_glob = [&dirs](const std::string& pattern) {
    glob_t g;
    if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) dirs.emplace_back(g.gl_pathv[i]);
    globfree(&g);
  };
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"})
    if (const char* v = std::getenv(var); v && *v) add_glob(std::string(v) + "/lib64");
  add_glob("/usr/local/cuda/lib64");
  add_glob("/usr/local/cuda-*/lib64");
  std::vector<std::string> site;
  if (const char* pp = std::getenv("PYTHONPATH")) {
    std::string all(pp);
    for (size_t b = 0; b <= all.size();) {
      size_t e = all.find(':', b);
      if (e == std::string::npos) e = all.size();
      if (e > b) site.push_back(all.substr(b, e - b));
      b = e + 1;
    }
  }
  for (const char* var : {"VIRTUAL_ENV", "CONDA_PREFIX"})
    if (const char* v = std::getenv(var); v && *v) site.push_back(std::string(v) + "/lib/python3*/site-packages");
  if (const char* home = std::getenv("HOME"); home && *home)
    site.push_back(std::string(home) + "/.local/lib/python3*/site-packages");
  for (const char* d : {"/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
                        "/usr/lib/python3/dist-packages", "/opt/conda/lib/python3*/site-packages"})
    site.push_back(d);
  for (const std::string& sp : site) {
    add_glob(sp + "/nvidia/cublas/lib");
    add_glob(sp + "/nvidia/cu13/lib");
  }
  return dirs;
}

// The full path of a loaded library (what the loader resolved a bare name to).
std::string loaded_path(void* h, const char* fallback) {
  struct link_map* map = nullptr;
  if (dlinfo(h, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && *map->l_name) return map->l_name;
  return fallback;
}

// The first libcublas on the loader's path, else in cublas_dirs(); its path in *path. In a
// folder, libcublasLt (which libcublas needs, found by soname) is loaded first, since the
// toolkit's lib64 is often not on the loader's path.
void* open_cublas(std::string* path) {
  for (const char* n : kCublasNames) {
    if (void* h = dlopen(n, RTLD_NOW | RTLD_LOCAL)) {
      *path = loaded_path(h, n);
      return h;
    }
  }
  for (const std::string& dir : cublas_dirs()) {
    for (const char* n : kCublasNames) {
      const std::string file = dir + "/" + n;
      if (access(file.c_str(), R_OK) != 0) continue;
      const std::string lt = dir + "/libcublasLt" + (n + std::strlen("libcublas"));
      if (access(lt.c_str(), R_OK) == 0) dlopen(lt.c_str(), RTLD_NOW | RTLD_GLOBAL);
      if (void* h = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL)) {
        *path = loaded_path(h, file.c_str());
        return h;
      }
    }
  }
  return nullptr;
}

// Loads the library and its entry points into g_api; leaves g_api.create null (and says why
// in g_why) when either is missing.
void load_cublas_api() {
  if (cublas_disabled()) {
    g_why = "disabled by DSXPLORE_CUBLAS=0";
    return;
  }
  std::string path;
  void* lib = open_cublas(&path);
  if (!lib) {
    g_why = "no libcublas.so.13 or .12 on the loader path, in $CUDA_HOME/lib64, "
            "/usr/local/cuda*/lib64 or a python environment's nvidia-cublas wheel";
    return;
  }
  CublasApi api;
  api.create = reinterpret_cast<cublas_create_t>(dlsym(lib, "cublasCreate_v2"));
  api.destroy = reinterpret_cast<cublas_destroy_t>(dlsym(lib, "cublasDestroy_v2"));
  api.set_stream = reinterpret_cast<cublas_set_stream_t>(dlsym(lib, "cublasSetStream_v2"));
  api.set_math_mode = reinterpret_cast<cublas_set_math_mode_t>(dlsym(lib, "cublasSetMathMode"));
  api.sgemm = reinterpret_cast<cublas_sgemm_t>(dlsym(lib, "cublasSgemm_v2"));
  api.sgemm_batched =
      reinterpret_cast<cublas_sgemm_batched_t>(dlsym(lib, "cublasSgemmStridedBatched"));
  if (!api.create || !api.destroy || !api.set_stream || !api.set_math_mode || !api.sgemm ||
      !api.sgemm_batched) {
    dlclose(lib);
    g_why = path + " lacks an entry point we call (cuBLAS 11 or later is needed)";
    return;
  }
  g_api = api;
  g_lib_path = path;
}

}  // namespace

bool cublas_loadable(std::string* path, std::string* why) {
#ifdef DSX_CUDA_EMU
  if (why) *why = "emulated kernels work on host memory, which cuBLAS cannot read";
  return false;
#endif
  std::call_once(g_api_once, load_cublas_api);
  if (path) *path = g_lib_path;
  if (why) *why = g_why;
  return g_api.create != nullptr;
}

Gemm::Gemm() {
  int dev = 0;
  if (cudaGetDevice(&dev) == cudaSuccess) {
    cudaDeviceGetAttribute(&sms_, cudaDevAttrMultiProcessorCount, dev);
    if (sms_ < 1) sms_ = 80;
  }
  if (!cublas_loadable(nullptr, &why_)) return;
  if (const int st = g_api.create(&handle_); st != 0) {
    handle_ = nullptr;
    why_ = "cublasCreate failed with status " + std::to_string(st);
    return;
  }
  // Set, not left to the library's default or NVIDIA_TF32_OVERRIDE's: FP32 GEMMs stay FP32
  // (as our own SGEMM and the CPU compute them) unless DSXPLORE_CUBLAS_TF32=1 asks for TF32.
  tf32_ = cublas_tf32();
  if (const int st = g_api.set_math_mode(handle_, tf32_ ? kCublasTf32TensorOpMath : kCublasDefaultMath);
      st != 0) {
    g_api.destroy(handle_);
    handle_ = nullptr;
    why_ = "cublasSetMathMode failed with status " + std::to_string(st);
    return;
  }
  lib_name_ = g_lib_path;
}

Gemm::~Gemm() {
  if (handle_) g_api.destroy(handle_);
  // the library stays loaded: other backends in this process may still use it
}

std::string Gemm::engine() const {
  if (handle_) return "cublas (" + lib_name_ + (tf32_ ? ", TF32 math" : ", FP32 math") + ")";
  return "own tiled sgemm (cuBLAS not used: " + why_ + ")";
}

void Gemm::run(const Ctx& ctx, const GemmArgs& g) {
  if (g.M <= 0 || g.N <= 0) return;
  if (!handle_ || !prefer_cublas_) return run_own(ctx, g);
  if (g_api.set_stream(handle_, ctx.stream) != 0)
    throw std::runtime_error("cublasSetStream failed");
  // row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T
  const int opA = g.transA ? 1 : 0, opB = g.transB ? 1 : 0;
  int st = 0;
  if (g.batch == 1) {
    st = g_api.sgemm(handle_, opB, opA, g.N, g.M, g.K, &g.alpha, g.B, g.ldb, g.A, g.lda, &g.beta,
                     g.C, g.ldc);
  } else if (g.inner == 1 || g.inner == g.batch) {
    // one level of batching: a single strided-batched call
    const bool by_outer = g.inner == 1;
    st = g_api.sgemm_batched(handle_, opB, opA, g.N, g.M, g.K, &g.alpha, g.B, g.ldb,
                             by_outer ? g.sB1 : g.sB2, g.A, g.lda, by_outer ? g.sA1 : g.sA2,
                             &g.beta, g.C, g.ldc, by_outer ? g.sC1 : g.sC2, g.batch);
  } else {
    const int outer = g.batch / g.inner;
    for (int z1 = 0; z1 < outer && st == 0; ++z1) {
      st = g_api.sgemm_batched(handle_, opB, opA, g.N, g.M, g.K, &g.alpha, g.B + z1 * g.sB1,
                               g.ldb, g.sB2, g.A + z1 * g.sA1, g.lda, g.sA2, &g.beta,
                               g.C + z1 * g.sC1, g.ldc, g.sC2, g.inner);
    }
  }
  if (st != 0) throw std::runtime_error("cuBLAS sgemm failed with status " + std::to_string(st));
}

#ifdef DSX_CUDA_EMU
constexpr int kMaxGridZ = 16;  // small, so that the emulator's checks slice batches too
#else
constexpr int kMaxGridZ = 65535;  // the grid's z limit
#endif

void Gemm::run_own(const Ctx& ctx, const GemmArgs& g) {
  if (g.M <= 0 || g.N <= 0) return;
  if (g.batch > kMaxGridZ) {
    // Launch in slices so each grid stays within the z limit: whole outer indices when an
    // inner run fits, else one outer index at a time in slices of inner indices (each then a
    // one-level batch, inner = 1, which recurses no further).
    const int outer = g.batch / g.inner;
    if (g.inner <= kMaxGridZ) {
      const int per = kMaxGridZ / g.inner;
      for (int o0 = 0; o0 < outer; o0 += per) {
        GemmArgs h = g;
        h.batch = std::min(per, outer - o0) * g.inner;
        h.A += o0 * g.sA1;
        h.B += o0 * g.sB1;
        h.C += o0 * g.sC1;
        run_own(ctx, h);
      }
      return;
    }
    for (int o = 0; o < outer; ++o)
      for (int i0 = 0; i0 < g.inner; i0 += kMaxGridZ) {
        GemmArgs h = g;
        h.batch = std::min(kMaxGridZ, g.inner - i0);
        h.inner = 1;
        h.A += o * g.sA1 + i0 * g.sA2;
        h.B += o * g.sB1 + i0 * g.sB2;
        h.C += o * g.sC1 + i0 * g.sC2;
        h.sA1 = g.sA2;
        h.sB1 = g.sB2;
        h.sC1 = g.sC2;
        run_own(ctx, h);
      }
    return;
  }
  const int tiles_n = (g.N + BN - 1) / BN, tiles_m = (g.M + BM - 1) / BM;
  const long long tiles = (long long)tiles_n * tiles_m * g.batch;
  // Split K when the tile grid cannot fill the GPU (weight gradients: small M x N, K = N*H*W).
  int splits = 1;
  if (tiles < 2LL * sms_ && g.K >= 1024) {
    splits = static_cast<int>((2LL * sms_ + tiles - 1) / tiles);
    splits = std::min(splits, g.K / 512);
    splits = std::max(1, std::min(splits, std::min(64, kMaxGridZ / g.batch)));
  }
  int kchunk = (g.K + splits - 1) / splits;
  kchunk = std::max(BK, (kchunk + BK - 1) / BK * BK);
  splits = std::max(1, (g.K + kchunk - 1) / kchunk);
  float* partial = nullptr;
  if (splits > 1) partial = ctx.scratch->get(kScratchC, (size_t)g.batch * splits * g.M * g.N);
  dim3 grid(tiles_n, tiles_m, g.batch * splits);
  DSX_LAUNCH(sgemm_tiled, grid, 256, 0, ctx.stream)(g.transA, g.transB, g.M, g.N, g.K, g.alpha, g.A,
      g.lda, g.B, g.ldb, g.beta, g.C, g.ldc, g.inner, g.sA1, g.sA2, g.sB1, g.sB2, g.sC1, g.sC2,
      splits, splits > 1 ? kchunk : std::max(g.K, 1), partial);
  DSX_CUDA_LAUNCHED("sgemm_tiled");
  if (splits > 1) {
    DSX_LAUNCH(splitk_reduce, blocks_for((size_t)g.M * g.N * g.batch), kThreads, 0, ctx.stream)(g.M,
        g.N, g.batch, splits, partial, g.alpha, g.beta, g.C, g.ldc, g.inner, g.sC1, g.sC2);
    DSX_CUDA_LAUNCHED("splitk_reduce");
  }
}

}  // namespace cuda
}  // namespace dsx
