// K x K window arithmetic shared by the CPU and CUDA backends (pointwise_cpu.cc,
// pointwise_cuda.cu, conv_cuda.cu): which input pixels an output pixel's window covers, in
// scan order, and which of them a max-pool window's gradient goes to.
#pragma once
#include "backend.h"
#include "ops/host_device.h"

namespace dsx {

// Calls tap(ih, iw, kh, kw) for every input pixel (ih, iw) of output pixel (oh, ow)'s window
// over an H x W plane (kernel K, stride, padding pad), in scan order, skipping the padding.
template <class Tap>
DSX_HOST_DEVICE inline void for_each_tap(int H, int W, int K, int stride, int pad, int oh, int ow,
                                         Tap&& tap) {
  for (int kh = 0; kh < K; ++kh) {
    const int ih = oh * stride - pad + kh;
    if (ih < 0 || ih >= H) continue;
    for (int kw = 0; kw < K; ++kw) {
      const int iw = ow * stride - pad + kw;
      if (iw < 0 || iw >= W) continue;
      tap(ih, iw, kh, kw);
    }
  }
}

// The first maximum of output pixel (oh, ow)'s max-pool window in scan order (an index into
// the plane xp), or -1 when the window covers no input pixel; its value in *best.
DSX_HOST_DEVICE inline int pool_argmax(const PoolShape& s, const float* xp, int oh, int ow,
                                       float* best) {
  float m = 0.0f;  // not read before the window's first pixel sets it
  int arg = -1;
  for_each_tap(s.H, s.W, s.K, s.stride, s.pad, oh, ow, [&](int ih, int iw, int, int) {
    const float v = xp[ih * s.W + iw];
    if (arg < 0 || v > m) {
      m = v;
      arg = ih * s.W + iw;
    }
  });
  *best = m;
  return arg;
}

}  // namespace dsx
