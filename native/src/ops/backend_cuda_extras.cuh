// CUDA-only entry points beyond the Backend interface, for the benchmark harness
// (native/test): plain C++ declarations, so host-compiled code can include this file.
// In a build without CUDA (ops/backend_cuda_stub.cc) they report "not a CUDA backend".
#pragma once
#include <string>

#include "backend.h"

namespace dsx {

// Per sample of x [N, Cx, HW] and y [N, Cy, HW]; `map` is an int32 array in the backend's
// memory. kGather: y[o] = x[map[o]] for o < Cy; kScatter: y[map[o]] = x[o] for o < Cx;
// kScatterAdd: y[map[o]] += x[o] (map must not repeat a channel).
enum class ChannelMap : int { kGather = 0, kScatter = 1, kScatterAdd = 2 };
// false when `be` is not a CUDA backend
bool cuda_channel_map(Backend& be, ChannelMap mode, int N, int HW, int Cx, const float* x,
                      int Cy, float* y, const int* map);

// The GEMM engine a CUDA backend uses ("cublas (<path>, FP32 math)" or "own tiled sgemm
// (cuBLAS not used: <why>)");
// empty for other backends.
std::string cuda_gemm_engine(Backend& be);
// Route that backend's GEMMs through cuBLAS when loaded (default) or always through our
// kernel; false when `be` is not a CUDA backend.
bool cuda_prefer_cublas(Backend& be, bool on);

}  // namespace dsx
