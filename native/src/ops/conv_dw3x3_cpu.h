// Direct depthwise 3x3 convs, the route conv_cpu.cc takes for every DW slot of the zoo
// (conv_dw3x3_cpu.cc).
#pragma once
#include "ops/ops_cpu.h"

namespace dsx {

// Depthwise (groups == Cin == Cout > 1), K 3, pad 1, stride 1 or 2.
bool conv_dw3x3_applies(const Conv2dShape& s);
// `in`: x is read through a folded BN+ReLU (ops_cpu.h). The bias may be null. `epi`: applied
// to each output plane as soon as it is computed.
void conv_dw3x3_forward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                        const float* bias, float* y, const InputAffine& in,
                        const Epilogue& epi = {});
// dw accumulates (+=), dx too unless set_dx (overwrite); the bias gradient is the caller's.
void conv_dw3x3_backward(CpuCtx& ctx, const Conv2dShape& s, const float* x, const float* w,
                         const float* dy, float* dx, float* dw, bool set_dx,
                         const InputAffine& in);

}  // namespace dsx
