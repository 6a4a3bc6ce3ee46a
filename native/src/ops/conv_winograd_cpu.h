// The deployment executor's Winograd F(2x2, 3x3) convolution (conv_winograd_cpu.cc): dense
// 3x3 convs of stride 1 and padding 1, weights transformed and packed once per network, the
// epilogue applied as each output row segment is stored. 16 products per 2x2 output tile and
// input channel instead of the direct route's 36 (2.25x fewer multiplications), for a few
// more additions in the transforms. Only CpuInference runs it: the training executor and
// `evaluate` keep cpu_conv2d_forward's routes and their rounding.
#pragma once
#include <cstddef>

#include "ops/ops_cpu.h"

namespace dsx {

// Whether the route can run s: a build with AVX-512 or AVX2+FMA; groups == 1, K == 3,
// stride 1, padding 1 (output plane = input plane).
bool conv_winograd_applies(const Conv2dShape& s);
// Whether the deployment executor should run s here rather than on the direct route: the
// shapes where it measured faster (see the .cc's header), a subset of conv_winograd_applies.
bool conv_winograd_preferred(const Conv2dShape& s);
// The transformed weights of s (U = G w G^T per output and input channel, computed in double
// and rounded once), in the route's layout: slivers of output channels (8 rows on AVX-512, 4
// on AVX2), then the 16 transform positions, then input channels. The layout is the build's:
// pack and run with the same build.
size_t conv_winograd_packed_size(const Conv2dShape& s);
void conv_winograd_pack(const Conv2dShape& s, const float* w, float* packed);
// y = epi(conv(x, w)) with w as conv_winograd_pack laid it out (the bias is epi's).
void conv_winograd_forward(CpuCtx& ctx, const Conv2dShape& s, const float* x, float* y,
                           const Epilogue& epi, const float* packed);

}  // namespace dsx
