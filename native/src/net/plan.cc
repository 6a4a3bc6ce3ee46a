// Network planning (plan.h): each layer of a spec checked against the shapes of the tensors
// it reads and writes, then the size tables laid out in the order net.h describes:
// decayed weights, then BN affine parameters and biases, then running statistics.
#include "net/plan.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace dsx {

const char* layer_op_name(LayerOp op) {
  switch (op) {
    case LayerOp::Conv2d: return "conv2d";
    case LayerOp::Scc: return "scc";
    case LayerOp::BatchNorm: return "batchnorm";
    case LayerOp::Relu: return "relu";
    case LayerOp::MaxPool: return "maxpool";
    case LayerOp::Gap: return "gap";
    case LayerOp::Linear: return "linear";
    case LayerOp::Shuffle: return "shuffle";
    case LayerOp::Add: return "add";
    case LayerOp::ShortcutA: return "shortcut_a";
  }
  return "?";
}

std::string shape_str(const TensorShape& s) {
  return "[" + std::to_string(s[0]) + "," + std::to_string(s[1]) + "," + std::to_string(s[2]) +
         "]";
}

namespace {

[[noreturn]] void bad(const LayerSpec& l, const std::string& why) {
  throw std::runtime_error("model spec: layer '" + l.name + "' (" + layer_op_name(l.op) +
                           "): " + why);
}

void expect_shape(const LayerSpec& l, const TensorShape& got, const TensorShape& want,
                  const char* what) {
  if (got != want)
    bad(l, std::string(what) + " shape is " + shape_str(got) + ", expected " + shape_str(want));
}

int pooled(int size, int k, int stride, int pad) { return (size + 2 * pad - k) / stride + 1; }

// Every tensor has a positive shape; tensor 0 is the input. Fills tensor_size.
void plan_tensors(const NetSpec& spec, NetPlan& p) {
  const size_t T = spec.tensors.size();
  if (T < 2 || spec.layers.empty()) throw std::runtime_error("model spec: no layers");
  if (spec.tensors[0] != spec.input)
    throw std::runtime_error("model spec: tensors[0] must equal inputShape");
  p.tensor_size.resize(T);
  for (size_t t = 0; t < T; ++t) {
    const auto& s = spec.tensors[t];
    if (s[0] <= 0 || s[1] <= 0 || s[2] <= 0)
      throw std::runtime_error("model spec: tensor " + std::to_string(t) + " has shape " +
                               shape_str(s));
    p.tensor_size[t] = static_cast<size_t>(s[0]) * s[1] * s[2];
  }
}

// A layer reads tensors an earlier layer wrote and writes one no layer wrote before.
void check_wiring(const LayerSpec& l, std::vector<char>& written, NetPlan& p) {
  const size_t T = written.size();
  const size_t want_inputs = l.op == LayerOp::Add ? 2 : 1;
  if (l.inputs.size() != want_inputs)
    bad(l, "expects " + std::to_string(want_inputs) + " input(s), got " +
               std::to_string(l.inputs.size()));
  for (int in : l.inputs) {
    if (in < 0 || static_cast<size_t>(in) >= T || !written[in])
      bad(l, "reads tensor " + std::to_string(in) + ", which no earlier layer writes");
    p.consumers[in]++;
  }
  if (l.output <= 0 || static_cast<size_t>(l.output) >= T || written[l.output])
    bad(l, "output tensor " + std::to_string(l.output) + " is out of range or written twice");
  written[l.output] = 1;
}

// The per-op checks of a layer's attributes against its input x and output y; each returns
// the layer's weight count (0: no weights).
size_t check_conv(const LayerSpec& l, const TensorShape& x, const TensorShape& y) {
  const int C = x[0];
  if (l.in_channels != C) bad(l, "inChannels does not match the input tensor");
  if (l.groups < 1 || C % l.groups || l.out_channels % l.groups)
    bad(l, "groups must divide inChannels and outChannels");
  if (l.kernel < 1 || l.stride < 1 || l.padding < 0) bad(l, "bad kernel/stride/padding");
  expect_shape(l, y,
               {l.out_channels, pooled(x[1], l.kernel, l.stride, l.padding),
                pooled(x[2], l.kernel, l.stride, l.padding)},
               "output");
  return static_cast<size_t>(l.out_channels) * (C / l.groups) * l.kernel * l.kernel;
}

size_t check_scc(const LayerSpec& l, const TensorShape& x, const TensorShape& y) {
  const int C = x[0];
  if (l.in_channels != C) bad(l, "inChannels does not match the input tensor");
  if (l.groups < 1 || C % l.groups) bad(l, "groups (cg) must divide inChannels");
  const int D = C / l.groups;
  if (l.channel_stride < 1 || l.channel_stride > D)
    bad(l, "channelStride must be in [1, inChannels/groups = " + std::to_string(D) + "]");
  expect_shape(l, y, {l.out_channels, x[1], x[2]}, "output");
  return static_cast<size_t>(l.out_channels) * D;
}

void check_maxpool(const LayerSpec& l, const TensorShape& x, const TensorShape& y) {
  if (l.kernel < 1 || l.stride < 1 || l.padding < 0 || 2 * l.padding > l.kernel)
    bad(l, "bad kernel/stride/padding");
  expect_shape(l, y,
               {x[0], pooled(x[1], l.kernel, l.stride, l.padding),
                pooled(x[2], l.kernel, l.stride, l.padding)},
               "output");
}

size_t check_linear(const LayerSpec& l, size_t in_size, const TensorShape& y) {
  if (static_cast<size_t>(l.in_features) != in_size)
    bad(l, "inFeatures must equal C*H*W of the input (" + std::to_string(in_size) + ")");
  expect_shape(l, y, {l.out_features, 1, 1}, "output");
  return static_cast<size_t>(l.out_features) * l.in_features;
}

void check_shortcut_a(const LayerSpec& l, const TensorShape& x, const TensorShape& y) {
  if (l.stride < 1 || l.pad_front < 0 || l.pad_front + x[0] > l.out_channels)
    bad(l, "needs stride >= 1 and padFront + inChannels <= outChannels");
  expect_shape(l, y,
               {l.out_channels, (x[1] + l.stride - 1) / l.stride, (x[2] + l.stride - 1) / l.stride},
               "output");
}

size_t check_layer(const LayerSpec& l, const NetSpec& spec, const NetPlan& p) {
  const TensorShape& x = spec.tensors[l.inputs[0]];
  const TensorShape& y = spec.tensors[l.output];
  switch (l.op) {
    case LayerOp::Conv2d: return check_conv(l, x, y);
    case LayerOp::Scc: return check_scc(l, x, y);
    case LayerOp::Linear: return check_linear(l, p.tensor_size[l.inputs[0]], y);
    case LayerOp::MaxPool: check_maxpool(l, x, y); break;
    case LayerOp::ShortcutA: check_shortcut_a(l, x, y); break;
    case LayerOp::BatchNorm:
      if (l.channels != x[0]) bad(l, "channels does not match the input tensor");
      expect_shape(l, y, x, "output");
      break;
    case LayerOp::Relu: expect_shape(l, y, x, "output"); break;
    case LayerOp::Gap: expect_shape(l, y, {x[0], 1, 1}, "output"); break;
    case LayerOp::Shuffle:
      if (l.groups < 1 || x[0] % l.groups) bad(l, "groups must divide the channel count");
      expect_shape(l, y, x, "output");
      break;
    case LayerOp::Add:
      expect_shape(l, spec.tensors[l.inputs[1]], x, "second input");
      expect_shape(l, y, x, "output");
      break;
  }
  return 0;
}

// First pass: every layer checked, and the weights (the decayed region) in layer order.
void plan_layers(const NetSpec& spec, NetPlan& p) {
  std::vector<char> written(spec.tensors.size(), 0);
  written[0] = 1;
  p.consumers.assign(spec.tensors.size(), 0);
  p.layers.resize(spec.layers.size());
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    LayerPlan& lp = p.layers[i];
    check_wiring(l, written, p);
    lp.weight_size = check_layer(l, spec, p);
    if (lp.weight_size) {
      lp.weight = p.params;
      p.params += lp.weight_size;
      p.state_layout.push_back({l.name, "weight", lp.weight, lp.weight_size, true});
    }
  }
  const int last = spec.layers.back().output;
  if (spec.tensors[last] != TensorShape{spec.classes, 1, 1})
    throw std::runtime_error("model spec: the last layer must output the logits, shape [" +
                             std::to_string(spec.classes) + ",1,1]");
  p.decayed = p.params;
}

// Second pass: BN affine parameters and biases (not decayed unless asked), BN scratch, then
// the running statistics after all parameters.
void plan_affine_and_stats(const NetSpec& spec, NetPlan& p) {
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    LayerPlan& lp = p.layers[i];
    if (l.op == LayerOp::BatchNorm) {
      const size_t C = l.channels;
      lp.gamma = p.params;
      p.state_layout.push_back({l.name, "gamma", lp.gamma, C, false});
      lp.bias = p.params + C;
      p.state_layout.push_back({l.name, "beta", lp.bias, C, false});
      p.params += 2 * C;
      lp.running = p.stats;
      p.stats += 2 * C;
      lp.saved = {p.scratch, p.scratch + C, p.scratch + 2 * C};  // affine: scale[C], shift[C]
      p.scratch += 4 * C;
    } else if ((l.op == LayerOp::Conv2d || l.op == LayerOp::Linear) && l.bias) {
      const size_t n = l.op == LayerOp::Conv2d ? l.out_channels : l.out_features;
      lp.bias = p.params;
      p.state_layout.push_back({l.name, "bias", lp.bias, n, false});
      p.params += n;
    }
  }
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerPlan& lp = p.layers[i];
    if (lp.running == kNone) continue;
    const size_t C = spec.layers[i].channels;
    p.state_layout.push_back({spec.layers[i].name, "running_mean", p.params + lp.running, C, false});
    p.state_layout.push_back(
        {spec.layers[i].name, "running_var", p.params + lp.running + C, C, false});
  }
}

// The layer that writes each tensor (-1 for the input).
std::vector<int> producers(const NetSpec& spec) {
  std::vector<int> producer(spec.tensors.size(), -1);
  for (size_t i = 0; i < spec.layers.size(); ++i) producer[spec.layers[i].output] = static_cast<int>(i);
  return producer;
}

// A ReLU that is the only reader of its input, whose producer does not need its own output
// for backward (everything but another ReLU), runs in place: one activation buffer less.
// Gradients keep separate buffers because backward ops add into them.
void plan_aliases(const NetSpec& spec, const std::vector<int>& producer, NetPlan& p) {
  const size_t T = spec.tensors.size();
  p.alias.resize(T);
  for (size_t t = 0; t < T; ++t) p.alias[t] = static_cast<int>(t);
  for (const LayerSpec& l : spec.layers) {
    if (l.op != LayerOp::Relu) continue;
    const int in = l.inputs[0];
    if (in == 0 || p.consumers[in] != 1) continue;
    if (spec.layers[producer[in]].op == LayerOp::Relu) continue;
    p.alias[l.output] = p.alias[in];
  }
}

// A BN whose output only an in-place ReLU reads fuses with it in training.
void plan_bn_relu(const NetSpec& spec, const std::vector<int>& producer, NetPlan& p) {
  p.bn_relu.assign(spec.layers.size(), -1);
  for (size_t j = 0; j < spec.layers.size(); ++j) {
    const LayerSpec& l = spec.layers[j];
    if (l.op != LayerOp::Relu) continue;
    const int in = l.inputs[0];
    if (in == 0 || p.consumers[in] != 1) continue;
    const int i = producer[in];
    if (spec.layers[i].op != LayerOp::BatchNorm || p.alias[l.output] != p.alias[in]) continue;
    p.bn_relu[i] = static_cast<int>(j);
    p.bn_relu[j] = i;
  }
}

}  // namespace

NetPlan plan_net(const NetSpec& spec) {
  NetPlan p;
  p.spec = spec;
  plan_tensors(spec, p);
  plan_layers(spec, p);
  plan_affine_and_stats(spec, p);
  const std::vector<int> producer = producers(spec);
  plan_aliases(spec, producer, p);
  plan_bn_relu(spec, producer, p);
  return p;
}

}  // namespace dsx
