// A Backend whose ops are the CUDA launchers (ops/cuda_kernels.cuh) running under the CPU
// emulator (cuda_emu.h) on host memory: op_checks.cc then holds the CUDA kernels to the
// CPU backend without a GPU. Memory ops are plain host copies.
#include <cstdlib>
#include <cstring>

#include "emu_backend.h"
#include "ops/cuda_extras.cuh"
#include "ops/cuda_gemm.cuh"
#include "ops/cuda_kernels.cuh"

namespace dsx {
namespace {

class EmuBackend final : public Backend {
 public:
  EmuBackend() {
    ctx_.stream = nullptr;
    ctx_.scratch = &scratch_;
    ctx_.gemm = &gemm_;
    ctx_.sms = kEmuSMs;
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

  void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
             const float* B, int ldb, float beta, float* C, int ldc) override {
    cuda::GemmArgs g;
    g.transA = ta; g.transB = tb; g.M = M; g.N = N; g.K = K; g.alpha = alpha;
    g.A = A; g.lda = lda; g.B = B; g.ldb = ldb; g.beta = beta; g.C = C; g.ldc = ldc;
    gemm_.run(ctx_, g);
  }
  void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b,
                      float* y) override {
    cuda::conv2d_forward(ctx_, s, x, w, b, y);
  }
  void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* db) override {
    cuda::conv2d_backward(ctx_, s, x, w, dy, dx, dw, db);
  }
  void scc_forward(const SccShape& s, const float* x, const float* w, float* y) override {
    cuda::scc_forward(ctx_, s, x, w, y);
  }
  void scc_backward(const SccShape& s, const float* x, const float* w, const float* dy, float* dx,
                    float* dw) override {
    cuda::scc_backward(ctx_, s, x, w, dy, dx, dw);
  }
  void batchnorm_forward_train(int N, int C, int HW, const float* x, const float* g,
                               const float* b, float* y, float* sm, float* si, float* rm,
                               float* rv, float mom, float eps) override {
    cuda::batchnorm_forward_train(ctx_, N, C, HW, x, g, b, y, sm, si, rm, rv, mom, eps);
  }
  void batchnorm_forward_eval(int N, int C, int HW, const float* x, const float* g,
                              const float* b, const float* rm, const float* rv, float eps,
                              float* y) override {
    cuda::batchnorm_forward_eval(ctx_, N, C, HW, x, g, b, rm, rv, eps, y);
  }
  void batchnorm_backward(int N, int C, int HW, const float* x, const float* g, const float* sm,
                          const float* si, const float* dy, float* dx, float* dg,
                          float* db) override {
    cuda::batchnorm_backward(ctx_, N, C, HW, x, g, sm, si, dy, dx, dg, db);
  }
  void relu_forward(size_t n, const float* x, float* y) override { cuda::relu_forward(ctx_, n, x, y); }
  void relu_backward(size_t n, const float* y, const float* dy, float* dx) override {
    cuda::relu_backward(ctx_, n, y, dy, dx);
  }
  void add_forward(size_t n, const float* a, const float* b, float* y) override {
    cuda::add_forward(ctx_, n, a, b, y);
  }
  void add_backward(size_t n, const float* dy, float* da, float* db) override {
    if (da) cuda::accumulate(ctx_, n, dy, da);
    if (db) cuda::accumulate(ctx_, n, dy, db);
  }
  void maxpool_forward(const PoolShape& s, const float* x, float* y) override {
    cuda::maxpool_forward(ctx_, s, x, y);
  }
  void maxpool_backward(const PoolShape& s, const float* x, const float* dy, float* dx) override {
    cuda::maxpool_backward(ctx_, s, x, dy, dx);
  }
  void gap_forward(int N, int C, int HW, const float* x, float* y) override {
    cuda::gap_forward(ctx_, N, C, HW, x, y);
  }
  void gap_backward(int N, int C, int HW, const float* dy, float* dx) override {
    cuda::gap_backward(ctx_, N, C, HW, dy, dx);
  }
  void linear_forward(int N, int In, int Out, const float* x, const float* w, const float* b,
                      float* y) override {
    cuda::linear_forward(ctx_, N, In, Out, x, w, b, y);
  }
  void linear_backward(int N, int In, int Out, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* db) override {
    cuda::linear_backward(ctx_, N, In, Out, x, w, dy, dx, dw, db);
  }
  void shuffle_forward(int N, int C, int HW, int g, const float* x, float* y) override {
    cuda::shuffle_forward(ctx_, N, C, HW, g, x, y);
  }
  void shuffle_backward(int N, int C, int HW, int g, const float* dy, float* dx) override {
    cuda::shuffle_backward(ctx_, N, C, HW, g, dy, dx);
  }
  void shortcut_a_forward(int N, int Cin, int H, int W, int st, int Cout, int pf, const float* x,
                          float* y) override {
    cuda::shortcut_a_forward(ctx_, N, Cin, H, W, st, Cout, pf, x, y);
  }
  void shortcut_a_backward(int N, int Cin, int H, int W, int st, int Cout, int pf,
                           const float* dy, float* dx) override {
    cuda::shortcut_a_backward(ctx_, N, Cin, H, W, st, Cout, pf, dy, dx);
  }
  void softmax_xent(int N, int K, const float* z, const int32_t* l, float gs, float* d,
                    double* loss, int* correct) override {
    cuda::softmax_xent(ctx_, N, K, z, l, gs, d, &res_);
    if (loss) *loss = res_.loss_sum;
    if (correct) *correct = res_.correct;
  }
  void softmax_xent_eval(int N, int K, const float* z, const int32_t* l, double* loss,
                         int* correct) override {
    softmax_xent(N, K, z, l, 0.f, nullptr, loss, correct);
  }
  bool all_finite(size_t n, const float* x) override {
    cuda::all_finite(ctx_, n, x, &res_);
    return res_.nonfinite == 0;
  }
  void sgd_step(size_t n, float* p, const float* g, float* m, float lr, float mom, float wd,
                bool nesterov) override {
    cuda::sgd_step(ctx_, n, p, g, m, lr, mom, wd, nesterov);
  }

 private:
  cuda::Scratch scratch_;
  cuda::Gemm gemm_;
  cuda::Ctx ctx_;
  cuda::LossResult res_{};
};

}  // namespace

std::unique_ptr<Backend> make_emu_backend() { return std::make_unique<EmuBackend>(); }

// This build's stand-ins for ops/cuda_backend.cu (and ops/cuda_stub.cc): no real device;
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
