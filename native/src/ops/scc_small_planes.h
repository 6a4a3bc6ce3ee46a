// SCC over a batch of planes smaller than a vector, regrouped (scc_small_planes_cpu.cc):
// taken by cpu_scc_forward / cpu_scc_backward themselves, bit-identical to their per-image
// kernels.
#pragma once
#include <cstdint>

#include "ops/ops_cpu.h"

namespace dsx {

// Batches of at most this many pixels in all (N*H*W) take scc_cpu.cc's few-pixel forward.
constexpr int64_t kSccFewPixels = 16;

// s's planes hold fewer pixels than a vector, over a batch larger than the few-pixel path's.
bool scc_small_planes(const SccShape& s);
// Every run of same-start outputs fills a register block: the regrouped weight gradient applies.
bool scc_small_planes_dw(const SccPlan& p);

void scc_small_forward(CpuCtx& ctx, const SccShape& s, const float* x, const float* w, float* y,
                       InputAffine in, const Epilogue& epi, const float* packed);
// p: ctx's plan for s.
void scc_small_backward(CpuCtx& ctx, const SccShape& s, const SccPlan& p, const float* x, const float* w,
                        const float* dy, float* dx, float* dw, bool set_dx, InputAffine in);

}  // namespace dsx
