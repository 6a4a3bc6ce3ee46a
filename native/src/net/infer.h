// Inference on a built network: eval-mode logits for a batch (ONNX parity checks) and a
// timed forward loop (latency measurement). Plain C++, no Node.
#pragma once
#include <vector>

#include "net/net.h"

namespace dsx {

// Eval-mode forward of n already normalised samples ([n, C, H, W]); returns [n, classes].
std::vector<float> forward_logits(Net& net, const float* x, int n);

struct LatencyRun {
  std::vector<double> seconds;  // one per timed repetition, in order
};

// Eval-mode forwards of a batch of n samples (whatever the input arena holds): `warmup`
// untimed, then `reps` timed, each ended by a device sync.
LatencyRun time_forward(Net& net, int n, int warmup, int reps);

}  // namespace dsx
