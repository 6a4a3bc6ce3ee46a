// Built instead of the CUDA backend when the build has no CUDA compiler: the addon still
// loads and runs on the CPU, and says why CUDA is unavailable.
#include "backend.h"
#include "ops/backend_cuda_extras.cuh"

namespace dsx {

namespace {
const char* const kNoCuda =
    "this build of dsxplore has no CUDA backend (nvcc was not found at build time, or the "
    "build was configured with DSX_CUDA=OFF)";
}

std::unique_ptr<Backend> make_cuda_backend(int, std::string* why) {
  if (why) *why = kNoCuda;
  return nullptr;
}

BuildInfo build_info() {
  BuildInfo info{};
  info.cuda_compiled = false;
  info.cublas = false;
  info.cuda_device_count = 0;
  info.cuda_why = kNoCuda;
  info.cublas_why = "no CUDA backend in this build";
  return info;
}

bool cuda_channel_map(Backend&, ChannelMap, int, int, int, const float*, int, float*,
                      const int*) {
  return false;
}
std::string cuda_gemm_engine(Backend&) { return std::string(); }
bool cuda_prefer_cublas(Backend&, bool) { return false; }

}  // namespace dsx
