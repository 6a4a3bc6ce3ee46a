// Planning a network into its step list (steps.h): which layers fuse into one kernel call
// while training, and what each call reads and writes.
#include "net/steps.h"

#include "net/net.h"

namespace dsx {

namespace {

// plain_step converts a LayerOp to its StepKind by value
static_assert(static_cast<int>(StepKind::Conv2d) == static_cast<int>(LayerOp::Conv2d) &&
                  static_cast<int>(StepKind::BatchNorm) == static_cast<int>(LayerOp::BatchNorm) &&
                  static_cast<int>(StepKind::Add) == static_cast<int>(LayerOp::Add) &&
                  static_cast<int>(StepKind::ShortcutA) == static_cast<int>(LayerOp::ShortcutA) &&
                  static_cast<int>(StepKind::BnRelu) == kLayerOpCount,
              "the unfused StepKinds must mirror LayerOp, and only they");

// The layer as written: one step, no fusion.
Step plain_step(const LayerSpec& l, int i) {
  Step s{};
  s.kind = static_cast<StepKind>(l.op);  // the first kinds mirror LayerOp one to one
  s.layer = i;
  s.x = l.inputs[0];
  s.y = l.output;
  s.grad_in[0] = l.inputs[0];
  if (l.op == LayerOp::Add) s.x2 = s.grad_in[1] = l.inputs[1];
  if (l.op == LayerOp::BatchNorm) s.bn = i;
  return s;
}

}  // namespace

// Training-time fusions:
//  - a BN whose output only a ReLU reads, and which shares its buffer (plan_net's bn_relu),
//    runs with it as one BnRelu step at the BN's place;
//  - such a BN+ReLU whose output has a single reader, a conv2d or scc taking it as its input,
//    is folded into that reader: the BN computes statistics only (BnReluFolded) and the
//    reader reads max(0, x*scale + shift) from the BN's input; the ReLU's output is never
//    written nor read while training;
//  - a residual tail batchnorm -> add(shortcut) -> relu, each output read once, is a BnStats
//    step at the BN's place and one BnAddRelu step at the relu's place (the BN and add
//    outputs are never written, their gradients never exist). The models put the relu right
//    after its add, so the kernel order is the layer order.
std::vector<Step> plan_steps(const NetPlan& plan, bool train, bool fuse) {
  const auto& layers = plan.spec.layers;
  const size_t L = layers.size(), T = plan.tensor_size.size();
  std::vector<Step> steps;
  steps.reserve(L);
  if (!train || !fuse) {
    for (size_t i = 0; i < L; ++i) steps.push_back(plain_step(layers[i], static_cast<int>(i)));
    return steps;
  }
  // producer of each tensor, and its reader (the only one where consumers == 1)
  std::vector<int> producer(T, -1), reader(T, -1);
  for (size_t i = 0; i < L; ++i) {
    producer[layers[i].output] = static_cast<int>(i);
    for (int in : layers[i].inputs) reader[in] = static_cast<int>(i);
  }
  std::vector<int> folded_from(L, -1);  // per conv2d/scc: the BN+ReLU folded into it
  std::vector<char> folded(L, 0);       // per BN: folded into its reader
  for (size_t i = 0; i < L; ++i) {
    if (layers[i].op != LayerOp::BatchNorm || plan.bn_relu[i] < 0) continue;
    const int r = layers[plan.bn_relu[i]].output;
    if (plan.consumers[r] != 1) continue;
    const int c = reader[r];
    if ((layers[c].op == LayerOp::Conv2d || layers[c].op == LayerOp::Scc) &&
        layers[c].inputs[0] == r) {
      folded_from[c] = static_cast<int>(i);
      folded[i] = 1;
    }
  }
  // residual tails: per layer of one, the tail's {bn, add, relu, shortcut}
  struct Tail {
    int bn, add, relu, shortcut;
  };
  std::vector<Tail> tails;
  std::vector<int> tail_of(L, -1);
  for (size_t j = 0; j < L; ++j) {
    const LayerSpec& add = layers[j];
    if (add.op != LayerOp::Add || add.inputs[0] == add.inputs[1]) continue;
    const int a = add.output;
    if (plan.consumers[a] != 1) continue;
    const int k = reader[a];
    if (layers[k].op != LayerOp::Relu || tail_of[k] >= 0) continue;
    for (int q = 0; q < 2; ++q) {
      const int z = add.inputs[q], b = producer[z];
      if (z == 0 || b < 0 || plan.consumers[z] != 1) continue;
      if (layers[b].op != LayerOp::BatchNorm || plan.bn_relu[b] >= 0 || tail_of[b] >= 0) continue;
      if (layers[b].inputs[0] == add.inputs[1 - q]) continue;  // dx and ds must be apart
      tails.push_back({b, static_cast<int>(j), k, add.inputs[1 - q]});
      tail_of[b] = tail_of[j] = tail_of[k] = static_cast<int>(tails.size()) - 1;
      break;
    }
  }

  for (size_t u = 0; u < L; ++u) {
    const int i = static_cast<int>(u);
    const LayerSpec& l = layers[i];
    if (tail_of[i] >= 0) {
      const Tail& t = tails[tail_of[i]];
      if (i == t.bn) {
        Step s = plain_step(l, i);
        s.kind = StepKind::BnStats;
        s.y = s.grad_in[0] = -1;
        s.has_backward = false;
        steps.push_back(s);
      } else if (i == t.relu) {
        Step s{};
        s.kind = StepKind::BnAddRelu;
        s.layer = i;
        s.bn = t.bn;
        s.x = s.grad_in[0] = layers[t.bn].inputs[0];
        s.x2 = s.grad_in[1] = t.shortcut;
        s.y = l.output;
        steps.push_back(s);
      }
      continue;  // the add runs in its relu's step
    }
    if (l.op == LayerOp::Relu && plan.bn_relu[i] >= 0) continue;  // runs in its BN's step
    Step s = plain_step(l, i);
    if (l.op == LayerOp::BatchNorm && plan.bn_relu[i] >= 0) {
      s.kind = folded[i] ? StepKind::BnReluFolded : StepKind::BnRelu;
      s.y = layers[plan.bn_relu[i]].output;
    }
    if (folded_from[i] >= 0) {
      s.fold_bn = folded_from[i];
      s.x = layers[s.fold_bn].inputs[0];
    }
    steps.push_back(s);
  }
  return steps;
}

}  // namespace dsx
