// Batch norm over (N, H*W) per channel on the CPU. One thread owns a channel for the whole
// batch, so statistics and affine gradients are deterministic without partial buffers.
// Statistics accumulate in double: a channel can hold millions of values.
#include <cmath>

#include "ops/cpu_ops.h"

namespace dsx {

namespace {
// Plane reductions with 16 independent float lanes (vectorisable without reassociating a
// single sum), folded into double per plane. Deterministic: the order never changes.
constexpr int kLanes = 16;

double plane_sum(const float* x, int n) {
  float acc[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += x[i + l];
  double s = 0.0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  for (; i < n; ++i) s += x[i];
  return s;
}

double plane_sq_dev(const float* x, int n, float mean) {
  float acc[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float d = x[i + l] - mean;
      acc[l] += d * d;
    }
  double s = 0.0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  for (; i < n; ++i) s += static_cast<double>(x[i] - mean) * (x[i] - mean);
  return s;
}

// sum dy and sum dy * (x - mean) over one plane
void plane_dy_sums(const float* x, const float* dy, int n, float mean, double& sdy, double& sdyx) {
  float a[kLanes] = {}, b[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      a[l] += dy[i + l];
      b[l] += dy[i + l] * (x[i + l] - mean);
    }
  double sa = 0.0, sb = 0.0;
  for (int l = 0; l < kLanes; ++l) {
    sa += a[l];
    sb += b[l];
  }
  for (; i < n; ++i) {
    sa += dy[i];
    sb += static_cast<double>(dy[i]) * (x[i] - mean);
  }
  sdy += sa;
  sdyx += sb;
}
}  // namespace

void cpu_bn_forward_train(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                          const float* beta, float* y, float* save_mean, float* save_invstd,
                          float* running_mean, float* running_var, float momentum, float eps) {
  const double M = static_cast<double>(N) * HW;
  ctx.pool.parallel_for(C, [&](int, int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      double sum = 0.0;
      for (int n = 0; n < N; ++n) sum += plane_sum(x + (static_cast<int64_t>(n) * C + c) * HW, HW);
      const double mean = sum / M;
      // Two passes (mean, then squared deviations): no cancellation for large means.
      double sq = 0.0;
      for (int n = 0; n < N; ++n)
        sq += plane_sq_dev(x + (static_cast<int64_t>(n) * C + c) * HW, HW, static_cast<float>(mean));
      const double var = sq / M;
      const double invstd = 1.0 / std::sqrt(var + eps);
      const float sc = static_cast<float>(gamma[c] * invstd);
      const float sh = static_cast<float>(beta[c] - mean * gamma[c] * invstd);
      for (int n = 0; n < N; ++n) {
        const int64_t o = (static_cast<int64_t>(n) * C + c) * HW;
        for (int i = 0; i < HW; ++i) y[o + i] = x[o + i] * sc + sh;
      }
      if (save_mean) save_mean[c] = static_cast<float>(mean);
      if (save_invstd) save_invstd[c] = static_cast<float>(invstd);
      if (running_mean)
        running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * mean);
      if (running_var) {
        const double unbiased = M > 1 ? sq / (M - 1) : var;
        running_var[c] = static_cast<float>((1.0 - momentum) * running_var[c] + momentum * unbiased);
      }
    }
  });
}

void cpu_bn_forward_eval(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                         const float* beta, const float* running_mean, const float* running_var,
                         float eps, float* y) {
  ctx.pool.parallel_for(static_cast<int64_t>(N) * C, [&](int, int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t c = nc % C;
      const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
      const float sc = static_cast<float>(gamma[c] * invstd);
      const float sh = static_cast<float>(beta[c] - running_mean[c] * gamma[c] * invstd);
      const float* xc = x + nc * HW;
      float* yc = y + nc * HW;
      for (int i = 0; i < HW; ++i) yc[i] = xc[i] * sc + sh;
    }
  }, 64);
}

void cpu_bn_backward(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                     const float* save_mean, const float* save_invstd, const float* dy, float* dx,
                     float* dgamma, float* dbeta) {
  const double M = static_cast<double>(N) * HW;
  ctx.pool.parallel_for(C, [&](int, int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const float mean = save_mean[c], invstd = save_invstd[c];
      double sdy = 0.0, sdyx = 0.0;  // sum dy, then sum dy * xhat
      for (int n = 0; n < N; ++n) {
        const int64_t o = (static_cast<int64_t>(n) * C + c) * HW;
        plane_dy_sums(x + o, dy + o, HW, mean, sdy, sdyx);
      }
      sdyx *= invstd;
      if (dbeta) dbeta[c] += static_cast<float>(sdy);
      if (dgamma) dgamma[c] += static_cast<float>(sdyx);
      if (!dx) continue;
      // dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat))
      const float k = gamma[c] * invstd;
      const float mdy = static_cast<float>(sdy / M), mdyx = static_cast<float>(sdyx / M);
      for (int n = 0; n < N; ++n) {
        const int64_t o = (static_cast<int64_t>(n) * C + c) * HW;
        for (int i = 0; i < HW; ++i) {
          const float xhat = (x[o + i] - mean) * invstd;
          dx[o + i] += k * (dy[o + i] - mdy - xhat * mdyx);
        }
      }
    }
  });
}

}  // namespace dsx
