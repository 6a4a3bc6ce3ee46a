// Inference on a built network: eval-mode logits for a batch (ONNX parity checks) and a
// timed forward loop (latency measurement), on the CPU deployment executor (infer_cpu.h)
// or, on a GPU, on Net::infer. Plain C++, no Node.
#pragma once
#include <cstdint>
#include <vector>

#include "net/infer_cpu.h"
#include "net/net.h"

namespace dsx {

// Eval-mode forward of n already normalised samples ([n, C, H, W]); returns [n, classes].
// layer_by_layer: Net::forward(n, false), the unfused pass `evaluate` runs (the reference
// the deployment schedules are checked against), instead of Net::infer.
std::vector<float> forward_logits(Net& net, const float* x, int n, bool layer_by_layer = false);
std::vector<float> forward_logits(CpuInference& inf, const float* x, int n);

// The state Net::init(seed) gives the spec (for runs without trained weights).
std::vector<float> seeded_state(const NetSpec& spec, uint64_t seed);

struct LatencyRun {
  std::vector<double> seconds;  // one per timed repetition, in order
};

// Eval-mode forwards of a batch of n samples (whatever the input arena holds): `warmup`
// untimed, then `reps` timed, each ended by a device sync.
LatencyRun time_forward(Net& net, int n, int warmup, int reps);
LatencyRun time_forward(CpuInference& inf, int n, int warmup, int reps);

}  // namespace dsx
