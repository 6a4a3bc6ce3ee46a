// Elementwise and data-movement ops on the GPU: relu, add, max pool, channel shuffle,
// option-A shortcut, SGD, bias adds and column sums. Every output (or gradient) element has
// exactly one writing thread; backward ops are gathers from the forward's index map.

#include "ops/ops_cuda.cuh"
#include "ops/window.h"

namespace dsx {
namespace cuda {

namespace {

__global__ void relu_fwd(size_t n, const float* __restrict__ x, float* __restrict__ y) {
  DSX_GRID_STRIDE(i, n) y[i] = x[i] > 0.f ? x[i] : 0.f;
}
// dx may be dy's buffer (in place)
__global__ void relu_bwd(size_t n, const float* __restrict__ y, const float* dy, float* dx,
                         bool set) {
  DSX_GRID_STRIDE(i, n) {
    const float g = y[i] > 0.f ? dy[i] : 0.f;
    dx[i] = set ? g : dx[i] + g;
  }
}
__global__ void add_fwd(size_t n, const float* a, const float* b, float* y) {
  DSX_GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}
__global__ void accumulate_k(size_t n, const float* __restrict__ src, float* __restrict__ dst) {
  DSX_GRID_STRIDE(i, n) dst[i] += src[i];
}

__global__ void maxpool_fwd(PoolShape s, int Ho, int Wo, const float* __restrict__ x,
                            float* __restrict__ y) {
  DSX_GRID_STRIDE(i, (size_t)s.N * s.C * Ho * Wo) {
    const int ow = static_cast<int>(i % Wo), oh = static_cast<int>((i / Wo) % Ho);
    const size_t nc = i / ((size_t)Wo * Ho);
    float m;
    const int arg = pool_argmax(s, x + nc * s.H * s.W, oh, ow, &m);
    y[i] = arg < 0 ? -INFINITY : m;
  }
}

// dX element gathers dY from every window whose first maximum it is.
__global__ void maxpool_bwd(PoolShape s, int Ho, int Wo, const float* __restrict__ x,
                            const float* __restrict__ dy, float* __restrict__ dx, bool set) {
  DSX_GRID_STRIDE(i, (size_t)s.N * s.C * s.H * s.W) {
    const int iw = static_cast<int>(i % s.W), ih = static_cast<int>((i / s.W) % s.H);
    const size_t nc = i / ((size_t)s.W * s.H);
    const float* xp = x + nc * s.H * s.W;
    const float* dyp = dy + nc * Ho * Wo;
    const int me = ih * s.W + iw;
    // windows covering ih: oh*stride - pad <= ih <= oh*stride - pad + K - 1
    const int oh_lo = max(0, (ih + s.pad - s.K + s.stride) / s.stride);
    const int oh_hi = min(Ho - 1, (ih + s.pad) / s.stride);
    const int ow_lo = max(0, (iw + s.pad - s.K + s.stride) / s.stride);
    const int ow_hi = min(Wo - 1, (iw + s.pad) / s.stride);
    float acc = 0.f;
    for (int oh = oh_lo; oh <= oh_hi; ++oh)
      for (int ow = ow_lo; ow <= ow_hi; ++ow) {
        float m;
        if (pool_argmax(s, xp, oh, ow, &m) == me) acc += dyp[oh * Wo + ow];
      }
    dx[i] = set ? acc : dx[i] + acc;
  }
}

// shuffled channel o <- channel (o % groups) * cpg + o / groups
__global__ void shuffle_fwd(size_t n, int C, int HW, int groups, const float* __restrict__ x,
                            float* __restrict__ y) {
  const int cpg = C / groups;
  DSX_GRID_STRIDE(i, n) {
    const size_t p = i % HW, nc = i / HW, nn = nc / C;
    const int o = static_cast<int>(nc % C);
    const int src = (o % groups) * cpg + o / groups;
    y[i] = x[(nn * C + src) * HW + p];
  }
}
// dx channel c = g*cpg + j came from shuffled channel j*groups + g
__global__ void shuffle_bwd(size_t n, int C, int HW, int groups, const float* __restrict__ dy,
                            float* __restrict__ dx) {
  const int cpg = C / groups;
  DSX_GRID_STRIDE(i, n) {
    const size_t p = i % HW, nc = i / HW, nn = nc / C;
    const int c = static_cast<int>(nc % C);
    const int o = (c % cpg) * groups + c / cpg;
    dx[i] += dy[(nn * C + o) * HW + p];
  }
}

__global__ void shortcut_fwd(size_t n, int Cin, int H, int W, int stride, int Cout, int padFront,
                             int Ho, int Wo, const float* __restrict__ x, float* __restrict__ y) {
  DSX_GRID_STRIDE(i, n) {
    const int ow = static_cast<int>(i % Wo), oh = static_cast<int>((i / Wo) % Ho);
    const int co = static_cast<int>((i / ((size_t)Wo * Ho)) % Cout);
    const size_t nn = i / ((size_t)Wo * Ho * Cout);
    const int ci = co - padFront;
    y[i] = (ci < 0 || ci >= Cin)
               ? 0.f
               : x[((nn * Cin + ci) * H + (size_t)oh * stride) * W + (size_t)ow * stride];
  }
}
__global__ void shortcut_bwd(size_t n, int Cin, int H, int W, int stride, int Cout, int padFront,
                             int Ho, int Wo, const float* __restrict__ dy,
                             float* __restrict__ dx) {
  DSX_GRID_STRIDE(i, n) {
    const int iw = static_cast<int>(i % W), ih = static_cast<int>((i / W) % H);
    const int ci = static_cast<int>((i / ((size_t)W * H)) % Cin);
    const size_t nn = i / ((size_t)W * H * Cin);
    const int co = ci + padFront;
    if (co < 0 || co >= Cout || ih % stride || iw % stride) continue;
    dx[i] += dy[((nn * Cout + co) * Ho + ih / stride) * Wo + iw / stride];
  }
}

// Same operation order as the CPU backend (pointwise_cpu.cc).
__global__ void sgd_k(size_t n, float* __restrict__ p, const float* __restrict__ g,
                      float* __restrict__ m, float lr, float momentum, float wd, bool nesterov) {
  DSX_GRID_STRIDE(i, n) {
    const float gi = g[i] + wd * p[i];
    const float mi = momentum * m[i] + gi;
    m[i] = mi;
    p[i] -= lr * (nesterov ? gi + momentum * mi : mi);
  }
}

__global__ void add_bias_k(size_t n, int cols, int C, bool per_row, const float* __restrict__ b,
                           float* __restrict__ y) {
  DSX_GRID_STRIDE(i, n) {
    const size_t r = i / cols;
    y[i] += per_row ? b[r % C] : b[i % cols];
  }
}

__global__ void column_sum_k(int rows, int cols, const float* __restrict__ a,
                             float* __restrict__ dst) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  float s = 0.f;
  for (int r = 0; r < rows; ++r) s += a[(size_t)r * cols + c];
  dst[c] += s;
}

__global__ void channel_map_k(size_t n, int mode, int HW, int Cx, int Cy, int Cm,
                              const float* __restrict__ x, float* __restrict__ y,
                              const int* __restrict__ map) {
  DSX_GRID_STRIDE(i, n) {  // i over [N, Cm, HW], Cm = the mapped side's channels
    const size_t p = i % HW, nc = i / HW, nn = nc / Cm;
    const int o = static_cast<int>(nc % Cm);
    if (mode == 0) {
      y[(nn * Cy + o) * HW + p] = x[(nn * Cx + map[o]) * HW + p];
    } else {
      float* d = &y[(nn * Cy + map[o]) * HW + p];
      const float v = x[(nn * Cx + o) * HW + p];
      *d = mode == 1 ? v : *d + v;
    }
  }
}

}  // namespace

#define DSX_ELEMENTWISE(kernel, n, ...)                                          \
  do {                                                                           \
    if ((n) == 0) return;                                                        \
    DSX_LAUNCH(kernel, blocks_for(n), kThreads, 0, ctx.stream)((n), __VA_ARGS__);       \
    DSX_CUDA_LAUNCHED(#kernel);                                                  \
  } while (0)

void relu_forward(const Ctx& ctx, size_t n, const float* x, float* y) {
  DSX_ELEMENTWISE(relu_fwd, n, x, y);
}
void relu_backward(const Ctx& ctx, size_t n, const float* y, const float* dy, float* dx,
                   bool overwrite_dx) {
  DSX_ELEMENTWISE(relu_bwd, n, y, dy, dx, overwrite_dx);
}
void add_forward(const Ctx& ctx, size_t n, const float* a, const float* b, float* y) {
  DSX_ELEMENTWISE(add_fwd, n, a, b, y);
}
void accumulate(const Ctx& ctx, size_t n, const float* src, float* dst) {
  DSX_ELEMENTWISE(accumulate_k, n, src, dst);
}

void maxpool_forward(const Ctx& ctx, const PoolShape& s, const float* x, float* y) {
  const int Ho = s.Ho(), Wo = s.Wo();
  const size_t n = (size_t)s.N * s.C * Ho * Wo;
  if (n == 0) return;
  DSX_LAUNCH(maxpool_fwd, blocks_for(n), kThreads, 0, ctx.stream)(s, Ho, Wo, x, y);
  DSX_CUDA_LAUNCHED("maxpool_fwd");
}
void maxpool_backward(const Ctx& ctx, const PoolShape& s, const float* x, const float* dy,
                      float* dx, bool overwrite_dx) {
  const size_t n = (size_t)s.N * s.C * s.H * s.W;
  if (n == 0) return;
  DSX_LAUNCH(maxpool_bwd, blocks_for(n), kThreads, 0, ctx.stream)(s, s.Ho(), s.Wo(), x, dy, dx,
      overwrite_dx);
  DSX_CUDA_LAUNCHED("maxpool_bwd");
}

void shuffle_forward(const Ctx& ctx, int N, int C, int HW, int groups, const float* x, float* y) {
  const size_t n = (size_t)N * C * HW;
  DSX_ELEMENTWISE(shuffle_fwd, n, C, HW, groups, x, y);
}
void shuffle_backward(const Ctx& ctx, int N, int C, int HW, int groups, const float* dy,
                      float* dx) {
  const size_t n = (size_t)N * C * HW;
  DSX_ELEMENTWISE(shuffle_bwd, n, C, HW, groups, dy, dx);
}

void shortcut_a_forward(const Ctx& ctx, int N, int Cin, int H, int W, int stride, int Cout,
                        int padFront, const float* x, float* y) {
  const int Ho = (H + stride - 1) / stride, Wo = (W + stride - 1) / stride;
  const size_t n = (size_t)N * Cout * Ho * Wo;
  DSX_ELEMENTWISE(shortcut_fwd, n, Cin, H, W, stride, Cout, padFront, Ho, Wo, x, y);
}
void shortcut_a_backward(const Ctx& ctx, int N, int Cin, int H, int W, int stride, int Cout,
                         int padFront, const float* dy, float* dx) {
  const int Ho = (H + stride - 1) / stride, Wo = (W + stride - 1) / stride;
  const size_t n = (size_t)N * Cin * H * W;
  DSX_ELEMENTWISE(shortcut_bwd, n, Cin, H, W, stride, Cout, padFront, Ho, Wo, dy, dx);
}

void sgd_step(const Ctx& ctx, size_t n, float* p, const float* g, float* m, float lr,
              float momentum, float wd, bool nesterov) {
  DSX_ELEMENTWISE(sgd_k, n, p, g, m, lr, momentum, wd, nesterov);
}

void add_bias(const Ctx& ctx, size_t rows, int cols, int C, bool per_row, const float* bias,
              float* y) {
  const size_t n = rows * cols;
  DSX_ELEMENTWISE(add_bias_k, n, cols, C, per_row, bias, y);
}

void column_sum_add(const Ctx& ctx, int rows, int cols, const float* a, float* dst) {
  if (cols <= 0) return;
  DSX_LAUNCH(column_sum_k, (cols + 127) / 128, 128, 0, ctx.stream)(rows, cols, a, dst);
  DSX_CUDA_LAUNCHED("column_sum_k");
}

void channel_map(const Ctx& ctx, int mode, int N, int HW, int Cx, const float* x, int Cy,
                 float* y, const int* map) {
  const int Cm = mode == 0 ? Cy : Cx;
  const size_t n = (size_t)N * Cm * HW;
  DSX_ELEMENTWISE(channel_map_k, n, mode, HW, Cx, Cy, Cm, x, y, map);
}

}  // namespace cuda
}  // namespace dsx
