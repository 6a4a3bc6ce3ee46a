// The small CPU ops: relu, add, max pool, global average pool, linear, channel shuffle,
// option-A shortcut, softmax cross-entropy, finiteness check and SGD. Elementwise work is
// split in static slices; every output element has exactly one writer.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/ops_cpu.h"
#include "ops/window.h"

namespace dsx {

// The elementwise loops below load every operand unconditionally and select (no branch, no
// conditional load), so the compiler turns them into vector blends; __restrict locals say
// the gradient buffers never overlap their sources. (relu forward may run in place: x == y
// is an exact elementwise overwrite, so it keeps plain pointers.)
void cpu_relu_forward(CpuCtx& ctx, size_t n, const float* x, float* y) {
  ctx.pool.parallel_for(static_cast<int64_t>(n), [&](int, int64_t b, int64_t e) {
    const float* xs = x + b;
    float* ys = y + b;
    const int64_t m = e - b;
    for (int64_t i = 0; i < m; ++i) ys[i] = xs[i] > 0.0f ? xs[i] : 0.0f;  // NaN -> 0, as before
  }, kSerialBelow);
}

// dx may be dy itself when set_dx (in place: one element read, then written).
void cpu_relu_backward(CpuCtx& ctx, size_t n, const float* y, const float* dy, float* dx,
                       bool set_dx) {
  ctx.pool.parallel_for(static_cast<int64_t>(n), [&](int, int64_t b, int64_t e) {
    const float* __restrict ys = y + b;
    const float* gs = dy + b;
    float* ds = dx + b;
    const int64_t m = e - b;
    if (set_dx)
      for (int64_t i = 0; i < m; ++i) ds[i] = ys[i] > 0.0f ? gs[i] : 0.0f;
    else
      for (int64_t i = 0; i < m; ++i) ds[i] += ys[i] > 0.0f ? gs[i] : 0.0f;
  }, kSerialBelow);
}

void cpu_add_forward(CpuCtx& ctx, size_t n, const float* a, const float* b, float* y) {
  ctx.pool.parallel_for(static_cast<int64_t>(n), [&](int, int64_t s, int64_t e) {
    const float* as = a + s;
    const float* bs = b + s;
    float* ys = y + s;
    const int64_t m = e - s;
    for (int64_t i = 0; i < m; ++i) ys[i] = as[i] + bs[i];
  }, kSerialBelow);
}

void cpu_add_backward(CpuCtx& ctx, size_t n, const float* dy, float* da, float* db, bool set_da,
                      bool set_db) {
  // One gradient at a time, so add(x, x) (da == db) sums both contributions in order. A
  // gradient may be dy's own buffer (the executor runs add's backward in place): overwriting
  // it is then nothing to do.
  auto pass = [&](float* d, bool set) {
    if (!d || (set && d == dy)) return;
    ctx.pool.parallel_for(static_cast<int64_t>(n), [&](int, int64_t s, int64_t e) {
      const float* g = dy + s;
      float* a = d + s;
      const int64_t m = e - s;
      if (set)
        std::memcpy(a, g, sizeof(float) * m);
      else
        for (int64_t i = 0; i < m; ++i) a[i] += g[i];
    }, kSerialBelow);
  };
  pass(da, set_da);
  pass(db, set_db);
}

// 2x2 windows at stride 2 (every pooling of VGG): no bounds checks, taps in scan order.
bool is_pool2(const PoolShape& s) { return s.K == 2 && s.stride == 2 && s.pad == 0; }

void cpu_maxpool_forward(CpuCtx& ctx, const PoolShape& s, const float* x, float* y) {
  const int Ho = s.Ho(), Wo = s.Wo();
  if (is_pool2(s)) {
    ctx.pool.parallel_for(static_cast<int64_t>(s.N) * s.C, [&](int, int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; ++nc)
        for (int oh = 0; oh < Ho; ++oh) {
          const float* __restrict r0 = x + nc * s.H * s.W + 2 * oh * s.W;
          const float* __restrict r1 = r0 + s.W;
          float* __restrict yr = y + (nc * Ho + oh) * Wo;
          for (int ow = 0; ow < Wo; ++ow) {
            float m = -std::numeric_limits<float>::infinity();  // as the general loop: NaN taps lose
            m = std::max(m, r0[2 * ow]);
            m = std::max(m, r0[2 * ow + 1]);
            m = std::max(m, r1[2 * ow]);
            m = std::max(m, r1[2 * ow + 1]);
            yr[ow] = m;
          }
        }
    }, 16);
    return;
  }
  ctx.pool.parallel_for(static_cast<int64_t>(s.N) * s.C, [&](int, int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const float* xp = x + nc * s.H * s.W;
      float* yp = y + nc * Ho * Wo;
      for (int oh = 0; oh < Ho; ++oh)
        for (int ow = 0; ow < Wo; ++ow) {
          float m = -std::numeric_limits<float>::infinity();
          for_each_tap(s.H, s.W, s.K, s.stride, s.pad, oh, ow,
                       [&](int ih, int iw, int, int) { m = std::max(m, xp[ih * s.W + iw]); });
          yp[oh * Wo + ow] = m;
        }
    }
  }, 64);
}

// The gradient goes to the first maximum in scan order, matching the forward's choice.
void cpu_maxpool_backward(CpuCtx& ctx, const PoolShape& s, const float* x, const float* dy,
                          float* dx, bool set_dx) {
  const int Ho = s.Ho(), Wo = s.Wo();
  if (is_pool2(s)) {
    // Windows tile the plane: each dX pixel has at most one window (none in an odd last
    // row or column, which an overwrite must still clear).
    ctx.pool.parallel_for(static_cast<int64_t>(s.N) * s.C, [&](int, int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; ++nc) {
        float* dxp = dx + nc * s.H * s.W;
        if (set_dx && (s.H % 2 || s.W % 2)) std::memset(dxp, 0, sizeof(float) * s.H * s.W);
        for (int oh = 0; oh < Ho; ++oh) {
          const float* __restrict r0 = x + nc * s.H * s.W + 2 * oh * s.W;
          const float* __restrict r1 = r0 + s.W;
          float* __restrict d0 = dxp + 2 * oh * s.W;
          float* __restrict d1 = d0 + s.W;
          const float* __restrict g = dy + (nc * Ho + oh) * Wo;
          for (int ow = 0; ow < Wo; ++ow) {  // selects only, so that it vectorises
            const float v0 = r0[2 * ow], v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
            const int a1 = v1 > v0 ? 1 : 0;
            const float m1 = a1 ? v1 : v0;
            const int a2 = v2 > m1 ? 2 : a1;
            const float m2 = a2 == 2 ? v2 : m1;
            const int arg = v3 > m2 ? 3 : a2;
            const float gv = g[ow];
            const float o0 = arg == 0 ? gv : 0.0f, o1 = arg == 1 ? gv : 0.0f;
            const float o2 = arg == 2 ? gv : 0.0f, o3 = arg == 3 ? gv : 0.0f;
            if (set_dx) {
              d0[2 * ow] = o0, d0[2 * ow + 1] = o1, d1[2 * ow] = o2, d1[2 * ow + 1] = o3;
            } else {
              d0[2 * ow] += o0, d0[2 * ow + 1] += o1, d1[2 * ow] += o2, d1[2 * ow + 1] += o3;
            }
          }
        }
      }
    }, 16);
    return;
  }
  ctx.pool.parallel_for(static_cast<int64_t>(s.N) * s.C, [&](int, int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const float* xp = x + nc * s.H * s.W;
      float* dxp = dx + nc * s.H * s.W;
      if (set_dx) std::memset(dxp, 0, sizeof(float) * s.H * s.W);
      const float* dyp = dy + nc * Ho * Wo;
      for (int oh = 0; oh < Ho; ++oh)
        for (int ow = 0; ow < Wo; ++ow) {
          float m;
          const int arg = pool_argmax(s, xp, oh, ow, &m);
          if (arg >= 0) dxp[arg] += dyp[oh * Wo + ow];
        }
    }
  }, 64);
}

void cpu_gap_forward(CpuCtx& ctx, int N, int C, int HW, const float* x, float* y) {
  ctx.pool.parallel_for(static_cast<int64_t>(N) * C, [&](int, int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const float* xp = x + nc * HW;
      float s = 0.0f;
      for (int i = 0; i < HW; ++i) s += xp[i];
      y[nc] = s / HW;
    }
  }, 1024);
}

void cpu_gap_backward(CpuCtx& ctx, int N, int C, int HW, const float* dy, float* dx) {
  ctx.pool.parallel_for(static_cast<int64_t>(N) * C, [&](int, int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const float g = dy[nc] / HW;
      float* d = dx + nc * HW;
      for (int i = 0; i < HW; ++i) d[i] += g;
    }
  }, 1024);
}

void cpu_linear_forward(CpuCtx& ctx, int N, int In, int Out, const float* x, const float* w,
                        const float* bias, float* y) {
  sgemm_parallel(GemmArgs{false, true, N, Out, In, 1.0f, x, In, w, In, 0.0f, y, Out}, ctx.pool,
                 ctx.ws);
  if (bias)
    for (int n = 0; n < N; ++n)
      for (int o = 0; o < Out; ++o) y[static_cast<int64_t>(n) * Out + o] += bias[o];
}

void cpu_linear_backward(CpuCtx& ctx, int N, int In, int Out, const float* x, const float* w,
                         const float* dy, float* dx, float* dw, float* dbias) {
  if (dx)
    sgemm_parallel(GemmArgs{false, false, N, In, Out, 1.0f, dy, Out, w, In, 1.0f, dx, In},
                   ctx.pool, ctx.ws);
  if (dw)
    sgemm_parallel(GemmArgs{true, false, Out, In, N, 1.0f, dy, Out, x, In, 1.0f, dw, In},
                   ctx.pool, ctx.ws);
  if (dbias)
    for (int o = 0; o < Out; ++o) {
      float s = 0.0f;
      for (int n = 0; n < N; ++n) s += dy[static_cast<int64_t>(n) * Out + o];
      dbias[o] += s;
    }
}

// Forward: out channel j*groups + g <- in channel g*cpg + j. Backward adds the inverse map.
void cpu_shuffle(CpuCtx& ctx, int N, int C, int HW, int groups, bool backward, const float* src,
                 float* dst) {
  const int cpg = C / groups;
  ctx.pool.parallel_for(static_cast<int64_t>(N) * C, [&](int, int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t n = nc / C;
      const int o = static_cast<int>(nc % C);          // channel of the shuffled tensor
      const int i = (o % groups) * cpg + o / groups;   // its channel before the shuffle
      if (!backward) {
        std::memcpy(dst + nc * HW, src + (n * C + i) * HW, HW * sizeof(float));
      } else {
        float* d = dst + (n * C + i) * HW;
        const float* g = src + nc * HW;
        for (int k = 0; k < HW; ++k) d[k] += g[k];
      }
    }
  }, 256);
}

void cpu_shortcut_a_forward(CpuCtx& ctx, int N, int Cin, int H, int W, int stride, int Cout,
                            int padFront, const float* x, float* y) {
  const int Ho = (H + stride - 1) / stride, Wo = (W + stride - 1) / stride;
  ctx.pool.parallel_for(static_cast<int64_t>(N) * Cout, [&](int, int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t n = nc / Cout;
      const int ci = static_cast<int>(nc % Cout) - padFront;
      float* yp = y + nc * Ho * Wo;
      if (ci < 0 || ci >= Cin) {
        std::memset(yp, 0, sizeof(float) * Ho * Wo);
        continue;
      }
      const float* xp = x + (n * Cin + ci) * H * W;
      for (int h = 0; h < Ho; ++h)
        for (int w = 0; w < Wo; ++w) yp[h * Wo + w] = xp[h * stride * W + w * stride];
    }
  }, 256);
}

void cpu_shortcut_a_backward(CpuCtx& ctx, int N, int Cin, int H, int W, int stride, int Cout,
                             int padFront, const float* dy, float* dx) {
  const int Ho = (H + stride - 1) / stride, Wo = (W + stride - 1) / stride;
  ctx.pool.parallel_for(static_cast<int64_t>(N) * Cin, [&](int, int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t n = nc / Cin;
      const int co = static_cast<int>(nc % Cin) + padFront;
      if (co < 0 || co >= Cout) continue;
      float* xp = dx + nc * H * W;
      const float* yp = dy + (n * Cout + co) * Ho * Wo;
      for (int h = 0; h < Ho; ++h)
        for (int w = 0; w < Wo; ++w) xp[h * stride * W + w * stride] += yp[h * Wo + w];
    }
  }, 256);
}

void cpu_softmax_xent(int N, int K, const float* logits, const int32_t* labels, float grad_scale,
                      float* dlogits, double* loss_sum, int* correct) {
  double loss = 0.0;
  int hits = 0;
  for (int n = 0; n < N; ++n) {
    const float* z = logits + static_cast<int64_t>(n) * K;
    int arg = 0;
    for (int k = 1; k < K; ++k)
      if (z[k] > z[arg]) arg = k;
    const double mx = z[arg];
    double se = 0.0;
    for (int k = 0; k < K; ++k) se += std::exp(static_cast<double>(z[k]) - mx);
    const int y = labels[n];
    loss += std::log(se) + mx - z[y];
    if (arg == y) ++hits;
    if (dlogits) {
      float* d = dlogits + static_cast<int64_t>(n) * K;
      for (int k = 0; k < K; ++k) {
        const double p = std::exp(static_cast<double>(z[k]) - mx) / se;
        d[k] = static_cast<float>((p - (k == y ? 1.0 : 0.0)) * grad_scale);
      }
    }
  }
  if (loss_sum) *loss_sum = loss;
  if (correct) *correct = hits;
}

bool cpu_all_finite(CpuCtx&, size_t n, const float* x) {
  bool ok = true;
  for (size_t i = 0; i < n; ++i) ok &= std::isfinite(x[i]);
  return ok;
}

void cpu_sgd_step(CpuCtx& ctx, size_t n, float* p, const float* g, float* m, float lr,
                  float momentum, float wd, bool nesterov) {
  ctx.pool.parallel_for(static_cast<int64_t>(n), [&](int, int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float gi = g[i] + wd * p[i];
      const float mi = momentum * m[i] + gi;
      m[i] = mi;
      p[i] -= lr * (nesterov ? gi + momentum * mi : mi);
    }
  }, kSerialBelow);
}

}  // namespace dsx
