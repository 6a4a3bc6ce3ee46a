// A CPU emulation of the small part of CUDA our kernels use, so that the kernel sources
// (native/src/ops/cuda_*.cu) compile as C++ and run on the host: one fiber (a stack and a
// context, switched in user space on one OS thread) per CUDA thread of a block, blocks one
// after another, __syncthreads as a block barrier, warp shuffles through a per-warp
// barrier, __shared__ as static storage (one block at a time).
// Slow, and blind to races and timing, but it executes exactly our index arithmetic, tiling
// and reduction orders, so ctest checks them on machines with no GPU. Test-only: included
// by ops/common_cuda.cuh when DSX_CUDA_EMU is defined (native/test/CMakeLists.txt).
#pragma once
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <type_traits>

// ---- runtime API subset (host memory stands in for device memory) ----
enum cudaError_t { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 };
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3
};
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16 };
using cudaStream_t = void*;

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};

inline const char* cudaGetErrorString(cudaError_t) { return "emulated CUDA error"; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* d) {
  *d = 0;
  return cudaSuccess;
}
// The emulated GPU's multiprocessor count, which sizes split-K and the multi-block
// reductions: DSX_EMU_SMS (132 as on an H200, 8 as on a small GPU...), 8 by default.
namespace dsx_emu {
int sm_count();
}
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr, int) {
  *v = dsx_emu::sm_count();
  return cudaSuccess;
}
// Kernels run synchronously: there is nothing to wait for.
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
template <typename T>
inline cudaError_t cudaMalloc(T** p, size_t bytes) {
  *p = static_cast<T*>(std::malloc(bytes ? bytes : 1));
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t = nullptr) {
  std::memset(p, v, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind,
                                   cudaStream_t = nullptr) {
  std::memmove(d, s, n);
  return cudaSuccess;
}

// ---- device-side language ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

namespace dsx_emu {
struct ThreadState {
  dim3 thread, block, block_dim, grid_dim;
  uint64_t* warp_buf = nullptr;  // 32 slots of this thread's warp
  int lane = 0;
};
// The CUDA thread (fiber) running now on this OS thread.
extern thread_local ThreadState* cur;
// Barriers: the calling fiber waits until every thread of its block (of its warp) arrives.
void block_sync();
void warp_sync();

// Runs body once per CUDA thread of every block of the grid. With DSX_EMU_PROFILE set,
// the wall time per kernel name is printed at exit.
void run_grid(const char* name, dim3 grid, dim3 block, const std::function<void()>& body);

template <typename K>
struct Launcher {
  K kernel;
  dim3 grid, block;
  const char* name;
  template <typename... A>
  void operator()(A... args) const {
    run_grid(name, grid, block, [&] { kernel(args...); });
  }
};
template <typename K>
Launcher<K> launch(K k, dim3 g, dim3 b, const char* name) {
  return Launcher<K>{k, g, b, name};
}
}  // namespace dsx_emu

#define DSX_LAUNCH(kernel, grid, block, smem, stream) \
  ::dsx_emu::launch(kernel, dim3(grid), dim3(block), #kernel)
#define threadIdx (::dsx_emu::cur->thread)
#define blockIdx (::dsx_emu::cur->block)
#define blockDim (::dsx_emu::cur->block_dim)
#define gridDim (::dsx_emu::cur->grid_dim)

inline void __syncthreads() { dsx_emu::block_sync(); }

template <typename T>
inline T __shfl_down_sync(unsigned, T v, int offset) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>);
  dsx_emu::ThreadState& t = *dsx_emu::cur;
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  t.warp_buf[t.lane] = bits;
  dsx_emu::warp_sync();
  T r = v;
  if (t.lane + offset < 32) std::memcpy(&r, &t.warp_buf[t.lane + offset], sizeof(T));
  dsx_emu::warp_sync();
  return r;
}

template <typename T>
inline T __ldg(const T* p) {
  return *p;
}
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }

template <typename A, typename B>
inline std::common_type_t<A, B> min(A a, B b) {
  return b < a ? b : a;
}
template <typename A, typename B>
inline std::common_type_t<A, B> max(A a, B b) {
  return a < b ? b : a;
}
using std::isfinite;
