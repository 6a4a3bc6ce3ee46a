// The CUDA backend: the Backend interface (backend.h) on one GPU. It owns a stream, the
// scratch buffers, the GEMM engine and pinned staging buffers; every op is enqueued on the
// stream, so a training step stays on the device and only the loss and the finiteness flag
// come back to the host. Also build_info() for `dsxplore doctor`.
// cudart is linked statically: with no driver or device, make_cuda_backend() returns nullptr
// with the reason and the addon keeps working on the CPU.
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "backend.h"
#include "ops/backend_cuda_ops.cuh"
#include "ops/backend_cuda_extras.cuh"

#ifndef DSX_CUDA_ARCHS
#define DSX_CUDA_ARCHS ""
#endif

namespace dsx {
namespace {

// Uploads larger than this go through pinned staging buffers, so the call returns as soon
// as the host data is copied and the transfer overlaps the kernels already queued.
constexpr size_t kStageBytes = size_t(8) << 20;
constexpr size_t kDirectUploadBelow = 64 << 10;

class CudaBackend final : public CudaOps {
 public:
  // Releases whatever it created when a step fails (a destructor does not run for a
  // constructor that throws).
  explicit CudaBackend(int device) : device_(device) {
    try {
      DSX_CUDA_CHECK(cudaSetDevice(device_));
      DSX_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
      int sms = 0;
      DSX_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device_));
      gemm_ = std::make_unique<cuda::Gemm>();
      ctx_.stream = stream_;
      ctx_.scratch = &scratch_;
      ctx_.gemm = gemm_.get();
      ctx_.sms = sms > 0 ? sms : 80;
      DSX_CUDA_CHECK(
          cudaMallocHost(reinterpret_cast<void**>(&result_), sizeof(cuda::LossResult)));
      for (int i = 0; i < 2; ++i) {
        DSX_CUDA_CHECK(cudaMallocHost(&stage_[i], kStageBytes));
        DSX_CUDA_CHECK(cudaEventCreateWithFlags(&stage_done_[i], cudaEventDisableTiming));
      }
    } catch (...) {
      release();
      throw;
    }
  }

  ~CudaBackend() override { release(); }

  std::string name() const override { return "cuda:" + std::to_string(device_); }
  int threads() const override { return 1; }
  cuda::Gemm& gemm() { return *gemm_; }
  const cuda::Ctx& ctx() {
    use();
    return ctx_;
  }

  // ---- memory ----
  void* alloc_bytes(size_t bytes) override {
    use();
    if (bytes == 0) return nullptr;
    void* p = nullptr;
    DSX_CUDA_CHECK(cudaMalloc(&p, bytes));
    DSX_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream_));
    return p;
  }
  // Never throws: it runs on release paths (destructors, error cleanup), where an exception
  // would terminate the process. A failure (a device already in error) is reported once.
  void free_bytes(void* p) override {
    if (!p) return;
    cudaError_t e = cudaSetDevice(device_);
    if (e == cudaSuccess) e = cudaStreamSynchronize(stream_);
    const cudaError_t f = cudaFree(p);
    if (e == cudaSuccess) e = f;
    if (e != cudaSuccess && !free_error_reported_) {
      free_error_reported_ = true;
      std::fprintf(stderr, "dsxplore: %s: freeing device memory failed: %s\n", name().c_str(),
                   cudaGetErrorString(e));
    }
  }
  void upload(void* dst, const void* host_src, size_t bytes) override {
    use();
    if (bytes < kDirectUploadBelow) {
      // pageable source: cudaMemcpyAsync stages it before returning, so it is safe to reuse
      DSX_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream_));
      return;
    }
    const char* src = static_cast<const char*>(host_src);
    char* d = static_cast<char*>(dst);
    for (size_t off = 0; off < bytes; off += kStageBytes) {
      const size_t n = std::min(kStageBytes, bytes - off);
      const int b = next_stage_;
      next_stage_ ^= 1;
      DSX_CUDA_CHECK(cudaEventSynchronize(stage_done_[b]));  // its previous copy is done
      std::memcpy(stage_[b], src + off, n);
      DSX_CUDA_CHECK(cudaMemcpyAsync(d + off, stage_[b], n, cudaMemcpyHostToDevice, stream_));
      DSX_CUDA_CHECK(cudaEventRecord(stage_done_[b], stream_));
    }
  }
  void download(void* host_dst, const void* src, size_t bytes) override {
    use();
    if (bytes == 0) return;
    DSX_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    DSX_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void zero(float* p, size_t n) override {
    use();
    if (n) DSX_CUDA_CHECK(cudaMemsetAsync(p, 0, n * sizeof(float), stream_));
  }
  void copy(float* dst, const float* src, size_t n) override {
    use();
    if (n && dst != src)
      DSX_CUDA_CHECK(
          cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream_));
  }
  void sync() override {
    use();
    DSX_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

 protected:
  // The backend may be driven from a worker thread other than the one that made it, and
  // the current device is per host thread.
  void use() override { DSX_CUDA_CHECK(cudaSetDevice(device_)); }

 private:
  // Frees what exists, checking nothing (also after a failed constructor).
  void release() noexcept {
    cudaSetDevice(device_);
    if (stream_) cudaStreamSynchronize(stream_);
    scratch_.release();
    gemm_.reset();
    for (int i = 0; i < 2; ++i) {
      if (stage_[i]) cudaFreeHost(stage_[i]);
      if (stage_done_[i]) cudaEventDestroy(stage_done_[i]);
      stage_[i] = nullptr;
      stage_done_[i] = nullptr;
    }
    if (result_) cudaFreeHost(result_);
    result_ = nullptr;
    if (stream_) cudaStreamDestroy(stream_);
    stream_ = nullptr;
  }

  int device_;
  cudaStream_t stream_ = nullptr;
  cuda::Scratch scratch_;
  std::unique_ptr<cuda::Gemm> gemm_;
  void* stage_[2] = {nullptr, nullptr};
  cudaEvent_t stage_done_[2] = {nullptr, nullptr};
  int next_stage_ = 0;
  bool free_error_reported_ = false;
};

__global__ void probe_kernel(int* out) { *out = 42; }

// Runs a trivial kernel: catches "no kernel image for this device" (an architecture this
// build was not compiled for) before any real work is attempted.
bool probe_device(int index, std::string* why) {
  cudaError_t e = cudaSetDevice(index);
  int* d = nullptr;
  int h = 0;
  if (e == cudaSuccess) e = cudaMalloc(&d, sizeof(int));
  if (e == cudaSuccess) {
    probe_kernel<<<1, 1>>>(d);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost);
  if (d) cudaFree(d);
  if (e == cudaSuccess && h == 42) return true;
  if (why) {
    *why = std::string("CUDA device ") + std::to_string(index) + " is not usable: " +
           (e == cudaSuccess ? "probe kernel gave a wrong result" : cudaGetErrorString(e));
    if (e == cudaErrorNoKernelImageForDevice)
      *why += std::string(" (this build has kernels for sm ") + DSX_CUDA_ARCHS + ")";
  }
  return false;
}

bool driver_installed() {
  void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (h) dlclose(h);
  return h != nullptr;
}

// Number of devices, or 0 with the reason (no driver, driver too old, no device).
int device_count(std::string* why) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    if (why) {
      if (e == cudaErrorInsufficientDriver && !driver_installed())
        *why = "no NVIDIA driver is installed (libcuda.so.1 not found)";
      else if (e == cudaErrorInsufficientDriver)
        *why = "the NVIDIA driver is older than this build's CUDA runtime " +
               std::to_string(CUDART_VERSION / 1000) + "." +
               std::to_string(CUDART_VERSION % 1000 / 10) + " (" + cudaGetErrorString(e) + ")";
      else if (e == cudaErrorNoDevice)
        *why = "no CUDA device was found";
      else
        *why = std::string("CUDA is unavailable: ") + cudaGetErrorString(e);
    }
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device was found";
  return n;
}

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int index, std::string* why) {
  std::string reason;
  const int n = device_count(&reason);
  if (n == 0) {
    if (why) *why = reason;
    return nullptr;
  }
  if (index < 0 || index >= n) {
    if (why)
      *why = "CUDA device " + std::to_string(index) + " does not exist (" + std::to_string(n) +
             " device" + (n == 1 ? "" : "s") + " found)";
    return nullptr;
  }
  if (!probe_device(index, why)) return nullptr;
  try {
    return std::make_unique<CudaBackend>(index);
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return nullptr;
  }
}

bool cuda_channel_map(Backend& be, ChannelMap mode, int N, int HW, int Cx, const float* x,
                      int Cy, float* y, const int* map) {
  auto* cb = dynamic_cast<CudaBackend*>(&be);
  if (!cb) return false;
  cuda::channel_map(cb->ctx(), static_cast<int>(mode), N, HW, Cx, x, Cy, y, map);
  return true;
}

std::string cuda_gemm_engine(Backend& be) {
  auto* cb = dynamic_cast<CudaBackend*>(&be);
  return cb ? cb->gemm().engine() : std::string();
}

bool cuda_prefer_cublas(Backend& be, bool on) {
  auto* cb = dynamic_cast<CudaBackend*>(&be);
  if (!cb) return false;
  cb->gemm().set_prefer_cublas(on);
  return true;
}

// Devices are listed with the result of a probe kernel: a device counts as usable (and
// `--device auto` picks CUDA) only when a kernel of this build actually ran on it.
BuildInfo build_info() {
  BuildInfo info{true, false, DSX_CUDA_ARCHS, 0, "", ""};
  info.cublas = cuda::cublas_loadable(&info.cublas_library, &info.cublas_why);
  const int n = device_count(&info.cuda_why);
  int usable = 0;
  std::string first_failure;
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    std::string why;
    const bool ok = probe_device(i, &why);
    if (ok) ++usable;
    else if (first_failure.empty()) first_failure = why;
    if (!info.cuda_devices.empty()) info.cuda_devices += "\n";
    info.cuda_devices += std::to_string(i) + ": " + p.name + " (sm_" + std::to_string(p.major) +
                         std::to_string(p.minor) + ", " +
                         std::to_string(p.totalGlobalMem >> 30) + " GiB, " +
                         std::to_string(p.multiProcessorCount) + " SMs), " +
                         (ok ? "probe kernel ok" : "UNUSABLE: " + why);
  }
  info.cuda_device_count = usable;
  if (n > 0 && usable == 0) info.cuda_why = first_failure;
  return info;
}

}  // namespace dsx
