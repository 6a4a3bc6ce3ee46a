// Built instead of the CUDA backend when the build has no CUDA compiler: the addon still
// loads and runs on the CPU, and says why CUDA is unavailable.
#include "backend.h"

namespace dsx {

std::unique_ptr<Backend> make_cuda_backend(int, std::string* why) {
  if (why) *why = "this build of dsxplore has no CUDA backend (nvcc was not found at build time)";
  return nullptr;
}

BuildInfo build_info() {
  return BuildInfo{false, false, "", 0, "",
                   "this build of dsxplore has no CUDA backend (nvcc was not found at build time)"};
}

}  // namespace dsx
