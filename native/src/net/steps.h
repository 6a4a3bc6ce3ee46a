// The executor's schedule: a network planned once into a list of steps, each one kernel call
// with its forward, its backward and the buffers both touch. forward() walks the list,
// backward() walks it in reverse; neither branches on per-layer side tables. Training and
// evaluation get separate lists, because training fuses (BN+ReLU, a BN+ReLU folded into its
// reader, the residual tail BN -> add -> ReLU) and evaluation runs every layer as written.
// Inference (Net::infer: latency, ONNX parity) runs the training list with each BN's eval
// affine map in place of batch statistics.
#pragma once
#include <vector>

#include "net/spec.h"

namespace dsx {

struct NetPlan;

enum class StepKind {
  Conv2d,     // conv2d (in training, maybe reading a folded BN+ReLU: Step::fold_bn)
  Scc,        // scc (likewise)
  BatchNorm,  // batchnorm alone
  Relu,       // relu alone
  MaxPool,
  Gap,
  Linear,
  Shuffle,
  Add,
  ShortcutA,
  BnRelu,        // batchnorm + the ReLU that alone reads it: y = max(0, bn(x)) in one pass
  BnReluFolded,  // as BnRelu, but its reader applies the affine map and ReLU as it loads:
                 // the forward computes statistics only, the backward is BnRelu's
  BnStats,       // the batchnorm of a residual tail: statistics only, backward in the tail
  BnAddRelu,     // the residual tail relu(bn(x) + shortcut): BN statistics from its BnStats
};

// One kernel call each way. Tensor ids index the spec's tensors (-1: none); the executor
// resolves them to activation / gradient buffers and `layer` / `bn` to parameter offsets.
struct Step {
  StepKind kind;
  int layer;    // the spec layer it runs (a tail: its relu), named in errors and the profile
  int bn = -1;  // BN kinds and the tail: the batchnorm layer whose parameters and saved
                // statistics it uses
  int fold_bn = -1;  // conv2d / scc reading a folded BN+ReLU: that BN (x is then its input)
  int x = -1;        // first input read (a folded reader: the BN's input)
  int x2 = -1;       // second input: add's, the tail's shortcut
  int y = -1;        // output (the ReLU's for BN+ReLU kinds); the backward reads its gradient
                     // as dy. BnReluFolded never writes it while training; BnStats has none
  int grad_in[2] = {-1, -1};  // tensors whose gradients the backward produces
  bool has_backward = true;

  // Backward schedule, filled by the executor's gradient planner (it depends on the arena):
  unsigned overwrite = 0;  // bit k: this is the first contribution to grad_in[k], overwrite it
  std::vector<int> clear;  // gradients to clear just before this backward (first contributor
                           // that cannot overwrite)
  bool in_place = false;   // grad_in[0]'s gradient is y's gradient buffer
};

// Builds the step list of a validated plan. train && fuse: with the training fusions; else
// one step per layer, in layer order.
std::vector<Step> plan_steps(const NetPlan& plan, bool train, bool fuse);

}  // namespace dsx
