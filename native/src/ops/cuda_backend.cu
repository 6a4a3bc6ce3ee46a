// The CUDA backend: the Backend interface (backend.h) on one GPU. It owns a stream, the
// scratch buffers, the GEMM engine and pinned staging buffers; every op is enqueued on the
// stream, so a training step stays on the device and only the loss and the finiteness flag
// come back to the host. Also build_info() for `dsxplore doctor`.
// cudart is linked statically: with no driver or device, make_cuda_backend() returns nullptr
// with the reason and the addon keeps working on the CPU.
#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "backend.h"
#include "ops/cuda_extras.cuh"
#include "ops/cuda_gemm.cuh"
#include "ops/cuda_kernels.cuh"

#ifndef DSX_CUDA_ARCHS
#define DSX_CUDA_ARCHS ""
#endif

namespace dsx {
namespace {

using cuda::Ctx;

// Uploads larger than this go through pinned staging buffers, so the call returns as soon
// as the host data is copied and the transfer overlaps the kernels already queued.
constexpr size_t kStageBytes = size_t(8) << 20;
constexpr size_t kDirectUploadBelow = 64 << 10;

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    DSX_CUDA_CHECK(cudaSetDevice(device_));
    DSX_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    int sms = 0;
    DSX_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device_));
    gemm_ = new cuda::Gemm();
    ctx_.stream = stream_;
    ctx_.scratch = &scratch_;
    ctx_.gemm = gemm_;
    ctx_.sms = sms > 0 ? sms : 80;
    DSX_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&result_), sizeof(cuda::LossResult)));
    for (int i = 0; i < 2; ++i) {
      DSX_CUDA_CHECK(cudaMallocHost(&stage_[i], kStageBytes));
      DSX_CUDA_CHECK(cudaEventCreateWithFlags(&stage_done_[i], cudaEventDisableTiming));
    }
  }

  ~CudaBackend() override {
    cudaSetDevice(device_);
    cudaStreamSynchronize(stream_);
    scratch_.release();
    delete gemm_;
    for (int i = 0; i < 2; ++i) {
      if (stage_[i]) cudaFreeHost(stage_[i]);
      if (stage_done_[i]) cudaEventDestroy(stage_done_[i]);
    }
    if (result_) cudaFreeHost(result_);
    cudaStreamDestroy(stream_);
  }

  std::string name() const override { return "cuda:" + std::to_string(device_); }
  int threads() const override { return 1; }
  cuda::Gemm& gemm() { return *gemm_; }
  const Ctx& ctx() {
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
  void free_bytes(void* p) override {
    if (!p) return;
    use();
    DSX_CUDA_CHECK(cudaStreamSynchronize(stream_));
    DSX_CUDA_CHECK(cudaFree(p));
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

  void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
             const float* B, int ldb, float beta, float* C, int ldc) override {
    use();
    cuda::GemmArgs g;
    g.transA = transA; g.transB = transB;
    g.M = M; g.N = N; g.K = K; g.alpha = alpha;
    g.A = A; g.lda = lda; g.B = B; g.ldb = ldb; g.beta = beta; g.C = C; g.ldc = ldc;
    gemm_->run(ctx_, g);
  }

  void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                      float* y) override {
    use();
    cuda::conv2d_forward(ctx_, s, x, w, bias, y);
  }
  void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* dbias) override {
    use();
    cuda::conv2d_backward(ctx_, s, x, w, dy, dx, dw, dbias);
  }
  void scc_forward(const SccShape& s, const float* x, const float* w, float* y) override {
    use();
    cuda::scc_forward(ctx_, s, x, w, y);
  }
  void scc_backward(const SccShape& s, const float* x, const float* w, const float* dy, float* dx,
                    float* dw) override {
    use();
    cuda::scc_backward(ctx_, s, x, w, dy, dx, dw);
  }

  void batchnorm_forward_train(int N, int C, int HW, const float* x, const float* gamma,
                               const float* beta, float* y, float* save_mean, float* save_invstd,
                               float* running_mean, float* running_var, float momentum,
                               float eps) override {
    use();
    cuda::batchnorm_forward_train(ctx_, N, C, HW, x, gamma, beta, y, save_mean, save_invstd,
                                  running_mean, running_var, momentum, eps);
  }
  void batchnorm_forward_eval(int N, int C, int HW, const float* x, const float* gamma,
                              const float* beta, const float* running_mean,
                              const float* running_var, float eps, float* y) override {
    use();
    cuda::batchnorm_forward_eval(ctx_, N, C, HW, x, gamma, beta, running_mean, running_var, eps,
                                 y);
  }
  void batchnorm_backward(int N, int C, int HW, const float* x, const float* gamma,
                          const float* save_mean, const float* save_invstd, const float* dy,
                          float* dx, float* dgamma, float* dbeta) override {
    use();
    cuda::batchnorm_backward(ctx_, N, C, HW, x, gamma, save_mean, save_invstd, dy, dx, dgamma,
                             dbeta);
  }

  void relu_forward(size_t n, const float* x, float* y) override {
    use();
    cuda::relu_forward(ctx_, n, x, y);
  }
  void relu_backward(size_t n, const float* y, const float* dy, float* dx) override {
    use();
    cuda::relu_backward(ctx_, n, y, dy, dx);
  }
  void add_forward(size_t n, const float* a, const float* b, float* y) override {
    use();
    cuda::add_forward(ctx_, n, a, b, y);
  }
  void add_backward(size_t n, const float* dy, float* da, float* db) override {
    use();
    if (da) cuda::accumulate(ctx_, n, dy, da);
    if (db) cuda::accumulate(ctx_, n, dy, db);
  }
  void maxpool_forward(const PoolShape& s, const float* x, float* y) override {
    use();
    cuda::maxpool_forward(ctx_, s, x, y);
  }
  void maxpool_backward(const PoolShape& s, const float* x, const float* dy, float* dx) override {
    use();
    cuda::maxpool_backward(ctx_, s, x, dy, dx);
  }
  void gap_forward(int N, int C, int HW, const float* x, float* y) override {
    use();
    cuda::gap_forward(ctx_, N, C, HW, x, y);
  }
  void gap_backward(int N, int C, int HW, const float* dy, float* dx) override {
    use();
    cuda::gap_backward(ctx_, N, C, HW, dy, dx);
  }
  void linear_forward(int N, int In, int Out, const float* x, const float* w, const float* bias,
                      float* y) override {
    use();
    cuda::linear_forward(ctx_, N, In, Out, x, w, bias, y);
  }
  void linear_backward(int N, int In, int Out, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* dbias) override {
    use();
    cuda::linear_backward(ctx_, N, In, Out, x, w, dy, dx, dw, dbias);
  }
  void shuffle_forward(int N, int C, int HW, int groups, const float* x, float* y) override {
    use();
    cuda::shuffle_forward(ctx_, N, C, HW, groups, x, y);
  }
  void shuffle_backward(int N, int C, int HW, int groups, const float* dy, float* dx) override {
    use();
    cuda::shuffle_backward(ctx_, N, C, HW, groups, dy, dx);
  }
  void shortcut_a_forward(int N, int Cin, int H, int W, int stride, int Cout, int padFront,
                          const float* x, float* y) override {
    use();
    cuda::shortcut_a_forward(ctx_, N, Cin, H, W, stride, Cout, padFront, x, y);
  }
  void shortcut_a_backward(int N, int Cin, int H, int W, int stride, int Cout, int padFront,
                           const float* dy, float* dx) override {
    use();
    cuda::shortcut_a_backward(ctx_, N, Cin, H, W, stride, Cout, padFront, dy, dx);
  }

  void softmax_xent(int N, int K, const float* logits, const int32_t* labels, float grad_scale,
                    float* dlogits, double* loss_sum, int* correct) override {
    use();
    cuda::softmax_xent(ctx_, N, K, logits, labels, grad_scale, dlogits, result_);
    DSX_CUDA_CHECK(cudaStreamSynchronize(stream_));
    if (loss_sum) *loss_sum = result_->loss_sum;
    if (correct) *correct = result_->correct;
  }
  void softmax_xent_eval(int N, int K, const float* logits, const int32_t* labels,
                         double* loss_sum, int* correct) override {
    softmax_xent(N, K, logits, labels, 0.f, nullptr, loss_sum, correct);
  }
  bool all_finite(size_t n, const float* x) override {
    use();
    cuda::all_finite(ctx_, n, x, result_);
    DSX_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return result_->nonfinite == 0;
  }

  void sgd_step(size_t n, float* p, const float* g, float* m, float lr, float momentum, float wd,
                bool nesterov) override {
    use();
    cuda::sgd_step(ctx_, n, p, g, m, lr, momentum, wd, nesterov);
  }

 private:
  // The backend may be driven from a worker thread other than the one that made it, and
  // the current device is per host thread.
  void use() { DSX_CUDA_CHECK(cudaSetDevice(device_)); }

  int device_;
  cudaStream_t stream_ = nullptr;
  cuda::Scratch scratch_;
  cuda::Gemm* gemm_ = nullptr;
  Ctx ctx_;
  cuda::LossResult* result_ = nullptr;  // pinned
  void* stage_[2] = {nullptr, nullptr};
  cudaEvent_t stage_done_[2] = {nullptr, nullptr};
  int next_stage_ = 0;
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

BuildInfo build_info() {
  BuildInfo info{true, false, DSX_CUDA_ARCHS, 0, "", ""};
  info.cublas = cuda::cublas_loadable(&info.cublas_library);
  info.cuda_device_count = device_count(&info.cuda_why);
  for (int i = 0; i < info.cuda_device_count; ++i) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    if (!info.cuda_devices.empty()) info.cuda_devices += "\n";
    info.cuda_devices += std::to_string(i) + ": " + p.name + " (sm_" + std::to_string(p.major) +
                         std::to_string(p.minor) + ", " +
                         std::to_string(p.totalGlobalMem >> 30) + " GiB, " +
                         std::to_string(p.multiProcessorCount) + " SMs)";
  }
  return info;
}

}  // namespace dsx
