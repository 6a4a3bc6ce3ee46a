// Stride-1 standard and grouped convolutions as GEMMs over zero-padded planes (conv_wide_cpu.cc).
#pragma once
#include "ops/ops_cpu.h"

namespace dsx {

// Whether the wide route runs s: stride 1, neither depthwise nor an unpadded 1x1 (those have
// direct routes), pad <= K-1 (dX's padding K-1-pad must not be negative), and at least one
// image per thread (it splits images across threads; smaller batches split the GEMMs).
bool conv_wide_applies(const Conv2dShape& s, int threads);
// `in`: x is read through a folded BN+ReLU (ops_cpu.h). `epi`: applied to each output row
// (pointwise: each register tile) as it is stored. `packed`: the weights as conv_wide_pack
// laid them out (once per network, by the deployment executor); null: packed on this call.
void conv_wide_forward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                       const float* bias, float* y, const InputAffine& in,
                       const Epilogue& epi = {}, const float* packed = nullptr);
// The forward weights of s in the wide route's layout: conv_wide_packed_size(s) floats.
size_t conv_wide_packed_size(const Conv2dShape& s);
void conv_wide_pack(const Conv2dShape& s, const float* w, float* packed);
// dw accumulates (+=), dx too unless set_dx (overwrite); the bias gradient is the caller's.
void conv_wide_backward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                        const float* dy, float* dx, float* dw, bool set_dx,
                        const InputAffine& in);

}  // namespace dsx
