// The static plan of a network (plan.cc): the spec validated layer by layer and laid out
// into size tables: where every parameter, running statistic and BN scratch value lives,
// which tensors share an activation buffer, which BN+ReLU pairs fuse. Needs no backend.
// Layout rules: net.h.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "net/spec.h"

namespace dsx {

constexpr size_t kNone = static_cast<size_t>(-1);

// Where a BN layer's training forward saves what its backward and its readers use (scratch
// arena offsets): batch mean[C], 1/std[C], and the affine map scale[C], shift[C] it applied
// (or that its folded reader applies).
struct BnScratch {
  size_t mean = kNone, invstd = kNone, affine = kNone;
};

// Where one layer's parameters, statistics and scratch live (element offsets; kNone = absent).
struct LayerPlan {
  size_t weight = kNone, weight_size = 0;  // params arena (decayed region)
  size_t bias = kNone;                     // params arena: conv/linear bias or BN beta
  size_t gamma = kNone;                    // params arena: BN gamma
  size_t running = kNone;                  // stats buffer: mean[C] then var[C]
  BnScratch saved;                         // BN: scratch arena
};

// One named block of the state vector, for tests, saved files and debugging.
struct StateEntry {
  std::string layer;
  std::string kind;  // weight | bias | gamma | beta | running_mean | running_var
  size_t offset, size;
  bool decayed;  // in the always-decayed region
};

// The static plan of a spec: validated shapes and all size tables. Needs no backend, so
// paramCount/stateSize are answered without allocating anything.
struct NetPlan {
  NetSpec spec;
  std::vector<LayerPlan> layers;
  std::vector<size_t> tensor_size;  // elements per sample
  std::vector<int> consumers;       // number of layer inputs reading each tensor
  std::vector<int> alias;           // tensor whose activation buffer this tensor shares
  // Train-mode fusion of a BN with the ReLU that alone reads its output: for a BN layer the
  // index of that ReLU layer, for the ReLU the index of its BN; -1 elsewhere.
  std::vector<int> bn_relu;
  size_t params = 0, decayed = 0, stats = 0, scratch = 0;
  std::vector<StateEntry> state_layout;
  size_t state_size() const { return params + stats; }
};

// Validates the spec (shapes, tensor ids, channel arithmetic) and lays it out; throws
// std::runtime_error naming the offending layer.
NetPlan plan_net(const NetSpec& spec);

}  // namespace dsx
