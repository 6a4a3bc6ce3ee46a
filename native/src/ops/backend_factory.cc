// make_backend (backend.h): a device string to a backend, the one place the engine's entry
// points (train, evaluate, inference, tests) turn --device into a CPU or CUDA backend.
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include "backend.h"

namespace dsx {

std::unique_ptr<Backend> make_backend(const std::string& device, int threads, std::string* fallback) {
  if (device == "cpu") return make_cpu_backend(threads);
  if (device == "auto") {
    std::string why;
    if (auto be = make_cuda_backend(0, &why)) return be;
    if (fallback) *fallback = why;
    return make_cpu_backend(threads);
  }
  if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
    const int index = device == "cuda" ? 0 : std::atoi(device.c_str() + 5);
    std::string why;
    if (auto be = make_cuda_backend(index, &why)) return be;
    throw std::runtime_error("CUDA device " + std::to_string(index) + " is not available: " + why +
                             " (use --device cpu, or see `dsxplore doctor`)");
  }
  throw std::runtime_error("unknown device '" + device + "' (cpu, cuda, cuda:N or auto)");
}

}  // namespace dsx
