// Reductions on the GPU: batch norm, per-channel sums (conv bias gradients), global average
// pooling, softmax cross-entropy and the finiteness check. Every float reduction is
// deterministic: blocks write partial sums (in double, like the CPU's statistics) over fixed
// slices, and a second kernel adds the partials in slice order; no float atomics.
#include <algorithm>
#include <cmath>

#include "ops/bn_map.h"
#include "ops/ops_cuda.cuh"

namespace dsx {
namespace cuda {

namespace {

enum PartialMode : int {
  kSum = 0,        // s1 = sum a
  kSqDev = 1,      // s1 = sum (a - mean_d[c])^2
  kBnBwd = 2,      // s1 = sum g, s2 = sum g * (b - mean_f[c]), g = a
  kBnReluBwd = 3,  // the same with g = a where bn_affine(b) > 0 (mask = the forward's affine)
  kTailBwd = 4,    // the same with g = a where mask[idx] > 0 (mask = relu(bn(b) + s) output)
};

// part[(c * S + split) * 2 + {0, 1}] = the two sums over positions of channel c in the
// split's slice of the flattened (n, p) range.
__global__ void chan_partial(int mode, int N, int C, int HW, int S, long long chunk,
                             const float* __restrict__ a, const float* __restrict__ b,
                             const double* __restrict__ mean_d, const float* __restrict__ mean_f,
                             const float* __restrict__ mask, double* __restrict__ part) {
  const int split = blockIdx.x, c = blockIdx.y;
  const long long M = (long long)N * HW;
  const long long jb = split * chunk, je = min(M, jb + chunk);
  const double md = mode == kSqDev ? mean_d[c] : 0.0;
  const float mf = mode >= kBnBwd ? mean_f[c] : 0.f;
  const float sc = mode == kBnReluBwd ? mask[c] : 0.f, sh = mode == kBnReluBwd ? mask[C + c] : 0.f;
  double s1 = 0.0, s2 = 0.0;
  for (long long j = jb + threadIdx.x; j < je; j += blockDim.x) {
    const size_t idx = ((size_t)(j / HW) * C + c) * HW + (size_t)(j % HW);
    float v = a[idx];
    if (mode == kSum) {
      s1 += v;
    } else if (mode == kSqDev) {
      const double d = v - md;
      s1 += d * d;
    } else {
      const float xb = b[idx];
      if (mode == kBnReluBwd && !(bn_affine(xb, sc, sh) > 0.f)) v = 0.f;
      if (mode == kTailBwd && !(mask[idx] > 0.f)) v = 0.f;
      s1 += v;
      s2 += (double)v * (xb - mf);
    }
  }
  s1 = block_sum(s1);
  s2 = block_sum(s2);
  if (threadIdx.x == 0) {
    part[((size_t)c * S + split) * 2] = s1;
    part[((size_t)c * S + split) * 2 + 1] = s2;
  }
}

__device__ inline void sum_splits(const double* part, int c, int S, double* s1, double* s2) {
  double a = 0.0, b = 0.0;
  for (int i = 0; i < S; ++i) {
    a += part[((size_t)c * S + i) * 2];
    b += part[((size_t)c * S + i) * 2 + 1];
  }
  *s1 = a;
  *s2 = b;
}

__global__ void fin_mean(int C, int S, double M, const double* part, double* mean_d) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double s1, s2;
  sum_splits(part, c, S, &s1, &s2);
  mean_d[c] = s1 / M;
}

// Same formulas and roundings as the CPU backend (norm_cpu.cc).
__global__ void fin_var(int C, int S, double M, const double* part, const double* mean_d,
                        const float* gamma, const float* beta, float eps, float momentum,
                        float* save_mean, float* save_invstd, float* running_mean,
                        float* running_var, float* coef) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double sq, unused;
  sum_splits(part, c, S, &sq, &unused);
  const double mean = mean_d[c];
  const double var = sq / M;
  const double invstd = bn_invstd(var, eps);
  bn_scale_shift(gamma[c], beta[c], mean, invstd, &coef[c], &coef[C + c]);
  bn_keep_stats(c, mean, sq, M, invstd, momentum, save_mean, save_invstd, running_mean,
                running_var);
}

__global__ void eval_coef(int C, const float* gamma, const float* beta, const float* rm,
                          const float* rv, float eps, float* coef) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  bn_eval_map(gamma[c], beta[c], rm[c], rv[c], eps, &coef[c], &coef[C + c]);
}

// y = bn_affine(x) (relu: clamped at 0), coef = scale[C] then shift[C]
__global__ void bn_apply(size_t n, int C, int HW, bool relu, const float* __restrict__ x,
                         const float* __restrict__ coef, float* __restrict__ y) {
  DSX_GRID_STRIDE(i, n) {
    const int c = static_cast<int>((i / HW) % C);
    const float v = bn_affine(x[i], coef[c], coef[C + c]);
    y[i] = relu && !(v > 0.f) ? 0.f : v;
  }
}

// A residual tail: y = max(0, bn_affine(x) + s), rounded as bn, add and relu would.
__global__ void bn_add_relu_fwd(size_t n, int C, int HW, const float* __restrict__ x,
                                const float* __restrict__ coef, const float* __restrict__ s,
                                float* __restrict__ y) {
  DSX_GRID_STRIDE(i, n) {
    const int c = static_cast<int>((i / HW) % C);
    const float v = bn_affine(x[i], coef[c], coef[C + c]) + s[i];
    y[i] = v > 0.f ? v : 0.f;
  }
}

__global__ void fin_bwd(int C, int S, double M, const double* part, const float* gamma,
                        const float* save_invstd, float* dgamma, float* dbeta, float* coef) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double sdy, sdyx;
  sum_splits(part, c, S, &sdy, &sdyx);
  const float invstd = save_invstd[c];
  sdyx *= invstd;
  if (dbeta) dbeta[c] += static_cast<float>(sdy);
  if (dgamma) dgamma[c] += static_cast<float>(sdyx);
  coef[c] = gamma[c] * invstd;
  coef[C + c] = static_cast<float>(sdy / M);
  coef[2 * C + c] = static_cast<float>(sdyx / M);
}

// dx (+)= gamma*invstd * (g - mean(g) - xhat * mean(g*xhat)), g = dy masked as in
// chan_partial's mode (kBnBwd: none; kBnReluBwd: by the forward's affine; kTailBwd: by y),
// and for the tail ds (+)= g. dx may be dy's buffer (in place: each element is read, then
// written, by one thread), so no __restrict__ on those two.
__global__ void bn_bwd_dx(size_t n, int mode, int C, int HW, const float* __restrict__ x,
                          const float* dy, const float* __restrict__ mask,
                          const float* __restrict__ mean, const float* __restrict__ invstd,
                          const float* __restrict__ coef, float* dx, bool set_dx, float* ds,
                          bool set_ds) {
  DSX_GRID_STRIDE(i, n) {
    const int c = static_cast<int>((i / HW) % C);
    const float xi = x[i];
    float g = dy[i];
    if (mode == kBnReluBwd && !(bn_affine(xi, mask[c], mask[C + c]) > 0.f)) g = 0.f;
    if (mode == kTailBwd && !(mask[i] > 0.f)) g = 0.f;
    if (ds) ds[i] = set_ds ? g : ds[i] + g;
    if (dx) {
      const float xhat = (xi - mean[c]) * invstd[c];
      const float v = coef[c] * (g - coef[C + c] - xhat * coef[2 * C + c]);
      dx[i] = set_dx ? v : dx[i] + v;
    }
  }
}

__global__ void fin_sum_add(int C, int S, const double* part, float* dst) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double s1, s2;
  sum_splits(part, c, S, &s1, &s2);
  dst[c] += static_cast<float>(s1);
}

// one warp per (n, c), lanes summed in a fixed shuffle order
__global__ void gap_fwd(int NC, int HW, const float* __restrict__ x, float* __restrict__ y) {
  const int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
  if (warp >= NC) return;
  const float* xp = x + (size_t)warp * HW;
  float s = 0.f;
  for (int i = lane; i < HW; i += 32) s += xp[i];
  for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
  if (lane == 0) y[warp] = s / HW;
}

__global__ void gap_bwd(size_t n, int HW, const float* __restrict__ dy, float* __restrict__ dx) {
  DSX_GRID_STRIDE(i, n) dx[i] += dy[i / HW] / HW;
}

// one thread per sample, in double like the CPU; dlogits may be null (evaluation)
__global__ void xent_rows(int N, int K, const float* __restrict__ logits,
                          const int32_t* __restrict__ labels, float grad_scale,
                          float* __restrict__ dlogits, double* __restrict__ loss,
                          int* __restrict__ hit) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= N) return;
  const float* z = logits + (size_t)n * K;
  int arg = 0;
  for (int k = 1; k < K; ++k)
    if (z[k] > z[arg]) arg = k;
  const double mx = z[arg];
  double se = 0.0;
  for (int k = 0; k < K; ++k) se += exp(static_cast<double>(z[k]) - mx);
  const int y = labels[n];
  loss[n] = log(se) + mx - z[y];
  hit[n] = arg == y ? 1 : 0;
  if (dlogits) {
    float* d = dlogits + (size_t)n * K;
    for (int k = 0; k < K; ++k) {
      const double p = exp(static_cast<double>(z[k]) - mx) / se;
      d[k] = static_cast<float>((p - (k == y ? 1.0 : 0.0)) * grad_scale);
    }
  }
}

__global__ void xent_total(int N, const double* loss, const int* hit, LossResult* out) {
  double s = 0.0;
  int h = 0;
  for (int i = threadIdx.x; i < N; i += blockDim.x) {
    s += loss[i];
    h += hit[i];
  }
  s = block_sum(s);
  h = block_sum(h);
  if (threadIdx.x == 0) {
    out->loss_sum = s;
    out->correct = h;
    out->nonfinite = 0;
  }
}

__global__ void count_nonfinite(size_t n, const float* __restrict__ x, LossResult* out) {
  int bad = 0;
  DSX_GRID_STRIDE(i, n) bad += isfinite(x[i]) ? 0 : 1;
  bad = block_sum(bad);
  if (threadIdx.x == 0 && bad) atomicAdd(&out->nonfinite, bad);  // integer: exact
}

// Slices per channel so that the partial kernels fill the GPU without tiny slices.
int splits_for(const Ctx& ctx, int C, long long M) {
  long long s = (4LL * ctx.sms + C - 1) / C;
  s = std::min(s, (M + 2047) / 2048);
  return static_cast<int>(std::max(1LL, std::min(s, 1024LL)));
}

struct Partials {
  int S;
  long long chunk;
  double* part;  // [C][S][2]
  double* mean;  // [C]
  float* coef;   // [3][C]
};

Partials partials(const Ctx& ctx, int C, long long M) {
  Partials p;
  p.S = splits_for(ctx, C, M);
  p.chunk = (M + p.S - 1) / p.S;
  const size_t doubles = (size_t)C * p.S * 2 + C;
  float* base = ctx.scratch->get(kScratchSmall, doubles * 2 + 3 * (size_t)C);
  p.part = reinterpret_cast<double*>(base);
  p.mean = p.part + (size_t)C * p.S * 2;
  p.coef = base + doubles * 2;
  return p;
}

unsigned per_channel_blocks(int C) { return static_cast<unsigned>((C + 127) / 128); }

}  // namespace

namespace {
// Train-mode statistics (two passes in double: mean, then squared deviations), running
// statistics, and the affine map scale[C], shift[C] into `affine` (scratch when null); then,
// when y is given, y = bn_affine(x), clamped at 0 with relu.
void bn_train(const Ctx& ctx, int N, int C, int HW, const float* x, const float* gamma,
              const float* beta, float* y, bool relu, float* save_mean, float* save_invstd,
              float* affine, float* running_mean, float* running_var, float momentum,
              float eps) {
  const long long M = (long long)N * HW;
  if (M == 0 || C == 0) return;
  Partials p = partials(ctx, C, M);
  float* coef = affine ? affine : p.coef;
  dim3 grid(p.S, C);
  DSX_LAUNCH(chan_partial, grid, kReduceThreads, 0, ctx.stream)(
      kSum, N, C, HW, p.S, p.chunk, x, nullptr, nullptr, nullptr, nullptr, p.part);
  DSX_CUDA_LAUNCHED("chan_partial");
  DSX_LAUNCH(fin_mean, per_channel_blocks(C), 128, 0, ctx.stream)(C, p.S, (double)M, p.part,
      p.mean);
  DSX_CUDA_LAUNCHED("fin_mean");
  DSX_LAUNCH(chan_partial, grid, kReduceThreads, 0, ctx.stream)(kSqDev, N, C, HW, p.S, p.chunk, x,
      nullptr, p.mean, nullptr, nullptr, p.part);
  DSX_CUDA_LAUNCHED("chan_partial");
  DSX_LAUNCH(fin_var, per_channel_blocks(C), 128, 0, ctx.stream)(C, p.S, (double)M, p.part, p.mean,
      gamma, beta, eps, momentum, save_mean, save_invstd, running_mean, running_var, coef);
  DSX_CUDA_LAUNCHED("fin_var");
  if (!y) return;
  const size_t n = (size_t)M * C;
  DSX_LAUNCH(bn_apply, blocks_for(n), kThreads, 0, ctx.stream)(n, C, HW, relu, x, coef, y);
  DSX_CUDA_LAUNCHED("bn_apply");
}

// BN backward (mode kBnBwd, kBnReluBwd or kTailBwd, see chan_partial): affine gradients,
// then dx and (tail) ds.
void bn_bwd(const Ctx& ctx, int mode, int N, int C, int HW, const float* x, const float* mask,
            const float* gamma, const float* save_mean, const float* save_invstd,
            const float* dy, float* dx, bool set_dx, float* ds, bool set_ds, float* dgamma,
            float* dbeta) {
  const long long M = (long long)N * HW;
  if (M == 0 || C == 0) return;
  Partials p = partials(ctx, C, M);
  DSX_LAUNCH(chan_partial, dim3(p.S, C), kReduceThreads, 0, ctx.stream)(
      mode, N, C, HW, p.S, p.chunk, dy, x, nullptr, save_mean, mask, p.part);
  DSX_CUDA_LAUNCHED("chan_partial");
  DSX_LAUNCH(fin_bwd, per_channel_blocks(C), 128, 0, ctx.stream)(C, p.S, (double)M, p.part, gamma,
      save_invstd, dgamma, dbeta, p.coef);
  DSX_CUDA_LAUNCHED("fin_bwd");
  if (!dx && !ds) return;
  const size_t n = (size_t)M * C;
  DSX_LAUNCH(bn_bwd_dx, blocks_for(n), kThreads, 0, ctx.stream)(n, mode, C, HW, x, dy, mask,
      save_mean, save_invstd, p.coef, dx, set_dx, ds, set_ds);
  DSX_CUDA_LAUNCHED("bn_bwd_dx");
}
}  // namespace

void batchnorm_forward_train(const Ctx& ctx, int N, int C, int HW, const float* x,
                             const float* gamma, const float* beta, float* y, float* save_mean,
                             float* save_invstd, float* running_mean, float* running_var,
                             float momentum, float eps) {
  bn_train(ctx, N, C, HW, x, gamma, beta, y, false, save_mean, save_invstd, nullptr,
           running_mean, running_var, momentum, eps);
}

void batchnorm_relu_forward_train(const Ctx& ctx, int N, int C, int HW, const float* x,
                                  const float* gamma, const float* beta, float* y,
                                  float* save_mean, float* save_invstd, float* save_affine,
                                  float* running_mean, float* running_var, float momentum,
                                  float eps) {
  bn_train(ctx, N, C, HW, x, gamma, beta, y, true, save_mean, save_invstd, save_affine,
           running_mean, running_var, momentum, eps);
}

void batchnorm_stats_train(const Ctx& ctx, int N, int C, int HW, const float* x,
                           const float* gamma, const float* beta, float* save_mean,
                           float* save_invstd, float* save_affine, float* running_mean,
                           float* running_var, float momentum, float eps) {
  bn_train(ctx, N, C, HW, x, gamma, beta, nullptr, false, save_mean, save_invstd, save_affine,
           running_mean, running_var, momentum, eps);
}

void batchnorm_relu_backward(const Ctx& ctx, int N, int C, int HW, const float* x,
                             const float* save_affine, const float* gamma,
                             const float* save_mean, const float* save_invstd, const float* dy,
                             float* dx, float* dgamma, float* dbeta, bool overwrite_dx) {
  bn_bwd(ctx, kBnReluBwd, N, C, HW, x, save_affine, gamma, save_mean, save_invstd, dy, dx,
         overwrite_dx, nullptr, false, dgamma, dbeta);
}

void batchnorm_add_relu_forward(const Ctx& ctx, int N, int C, int HW, const float* x,
                                const float* save_affine, const float* s, float* y) {
  const size_t n = (size_t)N * C * HW;
  if (n == 0) return;
  DSX_LAUNCH(bn_add_relu_fwd, blocks_for(n), kThreads, 0, ctx.stream)(n, C, HW, x, save_affine,
      s, y);
  DSX_CUDA_LAUNCHED("bn_add_relu_fwd");
}

void batchnorm_add_relu_backward(const Ctx& ctx, int N, int C, int HW, const float* x,
                                 const float* y, const float* gamma, const float* save_mean,
                                 const float* save_invstd, const float* dy, float* dx, float* ds,
                                 float* dgamma, float* dbeta, bool overwrite_dx,
                                 bool overwrite_ds) {
  bn_bwd(ctx, kTailBwd, N, C, HW, x, y, gamma, save_mean, save_invstd, dy, dx, overwrite_dx, ds,
         overwrite_ds, dgamma, dbeta);
}

void batchnorm_forward_eval(const Ctx& ctx, int N, int C, int HW, const float* x,
                            const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, float eps, float* y) {
  const size_t n = (size_t)N * C * HW;
  if (n == 0) return;
  float* coef = ctx.scratch->get(kScratchSmall, 2 * (size_t)C);
  DSX_LAUNCH(eval_coef, per_channel_blocks(C), 128, 0, ctx.stream)(C, gamma, beta, running_mean,
      running_var, eps, coef);
  DSX_CUDA_LAUNCHED("eval_coef");
  DSX_LAUNCH(bn_apply, blocks_for(n), kThreads, 0, ctx.stream)(n, C, HW, false, x, coef, y);
  DSX_CUDA_LAUNCHED("bn_apply");
}

void batchnorm_backward(const Ctx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                        const float* save_mean, const float* save_invstd, const float* dy,
                        float* dx, float* dgamma, float* dbeta, bool overwrite_dx) {
  bn_bwd(ctx, kBnBwd, N, C, HW, x, nullptr, gamma, save_mean, save_invstd, dy, dx, overwrite_dx,
         nullptr, false, dgamma, dbeta);
}

void channel_sum_add(const Ctx& ctx, int N, int C, int HW, const float* a, float* dst) {
  const long long M = (long long)N * HW;
  if (M == 0 || C == 0) return;
  Partials p = partials(ctx, C, M);
  DSX_LAUNCH(chan_partial, dim3(p.S, C), kReduceThreads, 0, ctx.stream)(
      kSum, N, C, HW, p.S, p.chunk, a, nullptr, nullptr, nullptr, nullptr, p.part);
  DSX_CUDA_LAUNCHED("chan_partial");
  DSX_LAUNCH(fin_sum_add, per_channel_blocks(C), 128, 0, ctx.stream)(C, p.S, p.part, dst);
  DSX_CUDA_LAUNCHED("fin_sum_add");
}

void gap_forward(const Ctx& ctx, int N, int C, int HW, const float* x, float* y) {
  const int NC = N * C;
  if (NC == 0) return;
  const unsigned blocks = static_cast<unsigned>(((size_t)NC * 32 + kThreads - 1) / kThreads);
  DSX_LAUNCH(gap_fwd, blocks, kThreads, 0, ctx.stream)(NC, HW, x, y);
  DSX_CUDA_LAUNCHED("gap_fwd");
}

void gap_backward(const Ctx& ctx, int N, int C, int HW, const float* dy, float* dx) {
  const size_t n = (size_t)N * C * HW;
  if (n == 0) return;
  DSX_LAUNCH(gap_bwd, blocks_for(n), kThreads, 0, ctx.stream)(n, HW, dy, dx);
  DSX_CUDA_LAUNCHED("gap_bwd");
}

void softmax_xent(const Ctx& ctx, int N, int K, const float* logits, const int32_t* labels,
                  float grad_scale, float* dlogits, LossResult* out_pinned) {
  // [N doubles][N ints][result]
  float* base = ctx.scratch->get(kScratchSmall, (size_t)N * 3 + 8);
  double* loss = reinterpret_cast<double*>(base);
  int* hit = reinterpret_cast<int*>(loss + N);
  LossResult* res = reinterpret_cast<LossResult*>(loss + N + (N + 1) / 2);
  if (N > 0) {
    DSX_LAUNCH(xent_rows, (N + 127) / 128, 128, 0, ctx.stream)(N, K, logits, labels, grad_scale,
        dlogits, loss, hit);
    DSX_CUDA_LAUNCHED("xent_rows");
  }
  DSX_LAUNCH(xent_total, 1, kThreads, 0, ctx.stream)(N, loss, hit, res);
  DSX_CUDA_LAUNCHED("xent_total");
  DSX_CUDA_CHECK(
      cudaMemcpyAsync(out_pinned, res, sizeof(LossResult), cudaMemcpyDeviceToHost, ctx.stream));
}

void all_finite(const Ctx& ctx, size_t n, const float* x, LossResult* out_pinned) {
  LossResult* res = reinterpret_cast<LossResult*>(ctx.scratch->get(kScratchSmall, 8));
  DSX_CUDA_CHECK(cudaMemsetAsync(res, 0, sizeof(LossResult), ctx.stream));
  if (n > 0) {
    const unsigned blocks = std::min<unsigned>(blocks_for(n), 4u * ctx.sms);
    DSX_LAUNCH(count_nonfinite, blocks, kThreads, 0, ctx.stream)(n, x, res);
    DSX_CUDA_LAUNCHED("count_nonfinite");
  }
  DSX_CUDA_CHECK(
      cudaMemcpyAsync(out_pinned, res, sizeof(LossResult), cudaMemcpyDeviceToHost, ctx.stream));
}

}  // namespace cuda
}  // namespace dsx
