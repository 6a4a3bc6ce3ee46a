// The model spec as C++ plain structs: the native mirror of src/models/spec.ts. The addon
// converts the JS object into a NetSpec; the executor (net.h) builds exactly these layers.
// Only the fields the executor needs are kept (slots are a cost-model concern).
#pragma once
#include <array>
#include <string>
#include <vector>

namespace dsx {

enum class LayerOp { Conv2d, Scc, BatchNorm, Relu, MaxPool, Gap, Linear, Shuffle, Add, ShortcutA };
// How many LayerOps there are: the unfused StepKinds (steps.h) and the executor's profile
// rows follow them.
constexpr int kLayerOpCount = static_cast<int>(LayerOp::ShortcutA) + 1;

struct LayerSpec {
  LayerOp op = LayerOp::Relu;
  std::string name;
  std::vector<int> inputs;  // tensor ids; tensor 0 is the network input
  int output = -1;
  // conv2d / scc / shortcut_a / batchnorm
  int in_channels = 0, out_channels = 0;
  int kernel = 1, stride = 1, padding = 0, groups = 1;  // conv2d, maxpool; shuffle: groups
  bool bias = false;                                     // conv2d, linear
  int channel_stride = 1;                                // scc
  int channels = 0;                                      // batchnorm
  int in_features = 0, out_features = 0;                 // linear
  int pad_front = 0;                                     // shortcut_a
};

using TensorShape = std::array<int, 3>;  // [C, H, W], batch excluded

struct NetSpec {
  std::string model;
  TensorShape input{};
  int classes = 0;
  std::vector<LayerSpec> layers;
  std::vector<TensorShape> tensors;  // tensors[0] == input; last layer's output = logits
};

const char* layer_op_name(LayerOp op);
// "[C,H,W]", for messages
std::string shape_str(const TensorShape& s);

}  // namespace dsx
