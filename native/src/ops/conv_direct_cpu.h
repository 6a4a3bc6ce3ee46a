// The deployment executor's dense and depthwise convolutions (conv_direct_cpu.cc): stride 1
// or 2, weights packed once per network, the epilogue applied in registers. Only
// CpuInference runs them: the training executor and `evaluate` keep cpu_conv2d_forward's
// routes and their rounding.
#pragma once
#include <cstddef>

#include "ops/ops_cpu.h"

namespace dsx {

// Whether the direct route runs s: a build with AVX-512 or AVX2+FMA (else the old routes
// run); dense (groups == 1, at least 8
// output channels) or depthwise (groups == Cin == Cout); stride 1 or 2; padding at least
// "same" (2*pad >= K-1, pad < K); K*K <= 64.
bool conv_direct_applies(const Conv2dShape& s);
// The weights of s in the route's layout (conv_direct_packed_size(s) floats): dense, slivers
// of output channels (8 rows on AVX-512, 4 on AVX2), then taps, then input channels (AVX2:
// input channels, then taps); depthwise, as they are. The layout is the build's: pack and
// run with the same build.
size_t conv_direct_packed_size(const Conv2dShape& s);
void conv_direct_pack(const Conv2dShape& s, const float* w, float* packed);
// y = epi(conv(x, w)) with w as conv_direct_pack laid it out (the bias is epi's).
void conv_direct_forward(CpuCtx& ctx, const Conv2dShape& s, const float* x, float* y,
                         const Epilogue& epi, const float* packed);

}  // namespace dsx
