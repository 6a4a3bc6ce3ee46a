// A Backend whose ops are the CUDA backend's own op layer (ops/backend_cuda_ops.cuh) and
// launchers, running under the CPU emulator (cuda_emu.h) on host memory: op_checks.cc and
// net_checks.cc then hold the CUDA code to the CPU backend without a GPU. Memory ops are
// plain host copies.
#include <cstdlib>
#include <cstring>

#include "emu_backend.h"
#include "ops/backend_cuda_ops.cuh"
#include "ops/backend_cuda_extras.cuh"

namespace dsx {
namespace {

class EmuBackend final : public CudaOps {
 public:
  EmuBackend() {
    ctx_.stream = nullptr;
    ctx_.scratch = &scratch_;
    ctx_.gemm = &gemm_;
    ctx_.sms = dsx_emu::sm_count();
    result_ = &res_;
  }
  std::string name() const override { return "cuda-emu"; }
  const cuda::Ctx& ctx() const { return ctx_; }
  int threads() const override { return 1; }
  void* alloc_bytes(size_t bytes) override { return std::calloc(bytes ? bytes : 1, 1); }
  void free_bytes(void* p) override { std::free(p); }
  void upload(void* d, const void* s, size_t n) override { std::memcpy(d, s, n); }
  void download(void* d, const void* s, size_t n) override { std::memcpy(d, s, n); }
  void zero(float* p, size_t n) override { std::memset(p, 0, n * sizeof(float)); }
  void copy(float* d, const float* s, size_t n) override { std::memmove(d, s, n * sizeof(float)); }
  void sync() override {}

 protected:
  void use() override {}

 private:
  cuda::Scratch scratch_;
  cuda::Gemm gemm_;
  cuda::LossResult res_{};
};

}  // namespace

std::unique_ptr<Backend> make_emu_backend() { return std::make_unique<EmuBackend>(); }

// This build's stand-ins for ops/backend_cuda.cu (and ops/backend_cuda_stub.cc): no real device;
// the CUDA extras work on the emulated backend, so the benchmark's baselines run here too.
std::unique_ptr<Backend> make_cuda_backend(int, std::string* why) {
  if (why) *why = "emulator build: kernels run on CPU threads, there is no CUDA device";
  return nullptr;
}

BuildInfo build_info() {
  BuildInfo info{};
  info.cuda_why = "emulator build";
  return info;
}

bool cuda_channel_map(Backend& be, ChannelMap mode, int N, int HW, int Cx, const float* x,
                      int Cy, float* y, const int* map) {
  auto* eb = dynamic_cast<EmuBackend*>(&be);
  if (!eb) return false;
  cuda::channel_map(eb->ctx(), static_cast<int>(mode), N, HW, Cx, x, Cy, y, map);
  return true;
}

std::string cuda_gemm_engine(Backend& be) {
  return dynamic_cast<EmuBackend*>(&be) ? "own tiled sgemm (emulated)" : "";
}

bool cuda_prefer_cublas(Backend&, bool) { return false; }

}  // namespace dsx
