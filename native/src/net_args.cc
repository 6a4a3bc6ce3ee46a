// Argument readers of the NET and INFER sections (net_args.h).
#include "net_args.h"

#include <algorithm>
#include <string>
#include <utility>

#include "args.h"
#include "net/plan.h"

namespace dsx_addon {

namespace {

namespace A = dsx::args;
using A::kMaxDim;
constexpr uint32_t kMaxLayers = 100000;

// Layer attributes and tensor dimensions: positive (or, for paddings, non-negative) up to kMaxDim.
int net_int(const Napi::Object& o, const char* key, const std::string& where, int lo = 1) {
  return A::int_field(o, key, where, lo, kMaxDim);
}

}  // namespace

dsx::TensorShape parse_shape(const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) A::type_error(what + " must be [c,h,w]");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != 3) A::range_error(what + " must be [c,h,w]");
  dsx::TensorShape s;
  for (uint32_t i = 0; i < 3; ++i) s[i] = A::int32(a.Get(i), what + "[" + std::to_string(i) + "]", 1, kMaxDim);
  A::elements({s[0], s[1], s[2]}, what);
  return s;
}


dsx::NetSpec parse_spec(const Napi::Value& value) {
  Napi::Object o = A::object(value, "spec");
  dsx::NetSpec s;
  s.model = A::str_field_or(o, "model", "spec", "");
  s.input = parse_shape(A::required(o, "inputShape", "spec"), "spec.inputShape");
  s.classes = net_int(o, "classes", "spec");
  Napi::Value tv = A::required(o, "tensors", "spec");
  if (!tv.IsArray()) A::type_error("spec.tensors must be an array");
  Napi::Array tensors = tv.As<Napi::Array>();
  if (tensors.Length() > kMaxLayers + 1) A::range_error("spec.tensors has more than " + std::to_string(kMaxLayers + 1) + " entries");
  for (uint32_t i = 0; i < tensors.Length(); ++i)
    s.tensors.push_back(parse_shape(tensors.Get(i), "spec.tensors[" + std::to_string(i) + "]"));
  Napi::Value lv = A::required(o, "layers", "spec");
  if (!lv.IsArray()) A::type_error("spec.layers must be an array");
  Napi::Array layers = lv.As<Napi::Array>();
  if (layers.Length() > kMaxLayers) A::range_error("spec.layers has more than " + std::to_string(kMaxLayers) + " entries");
  for (uint32_t i = 0; i < layers.Length(); ++i) {
    const std::string at = "spec.layers[" + std::to_string(i) + "]";
    Napi::Object l = A::object(layers.Get(i), at);
    dsx::LayerSpec ls;
    ls.name = A::str_field_or(l, "name", at, "layer" + std::to_string(i));
    const std::string op = A::str_field_or(l, "op", at, "");
    Napi::Value iv = A::required(l, "inputs", at);
    if (!iv.IsArray()) A::type_error(at + ".inputs must be an array");
    Napi::Array ins = iv.As<Napi::Array>();
    if (ins.Length() > 2) A::range_error(at + ".inputs has more than 2 entries");
    for (uint32_t k = 0; k < ins.Length(); ++k) ls.inputs.push_back(A::int32(ins.Get(k), at + ".inputs[" + std::to_string(k) + "]", 0, kMaxDim));
    ls.output = net_int(l, "output", at, 0);
    if (op == "conv2d") {
      ls.op = dsx::LayerOp::Conv2d;
      ls.in_channels = net_int(l, "inChannels", at);
      ls.out_channels = net_int(l, "outChannels", at);
      ls.kernel = net_int(l, "kernel", at);
      ls.stride = net_int(l, "stride", at);
      ls.padding = net_int(l, "padding", at, 0);
      ls.groups = net_int(l, "groups", at);
      ls.bias = A::bool_field_or(l, "bias", at, false);
    } else if (op == "scc") {
      ls.op = dsx::LayerOp::Scc;
      ls.in_channels = net_int(l, "inChannels", at);
      ls.out_channels = net_int(l, "outChannels", at);
      ls.groups = net_int(l, "groups", at);
      ls.channel_stride = net_int(l, "channelStride", at);
    } else if (op == "batchnorm") {
      ls.op = dsx::LayerOp::BatchNorm;
      ls.channels = net_int(l, "channels", at);
    } else if (op == "relu") {
      ls.op = dsx::LayerOp::Relu;
    } else if (op == "maxpool") {
      ls.op = dsx::LayerOp::MaxPool;
      ls.kernel = net_int(l, "kernel", at);
      ls.stride = net_int(l, "stride", at);
      ls.padding = A::int_field_or(l, "padding", at, 0, kMaxDim, 0);
    } else if (op == "gap") {
      ls.op = dsx::LayerOp::Gap;
    } else if (op == "linear") {
      ls.op = dsx::LayerOp::Linear;
      ls.in_features = net_int(l, "inFeatures", at);
      ls.out_features = net_int(l, "outFeatures", at);
      ls.bias = A::bool_field_or(l, "bias", at, false);
    } else if (op == "shuffle") {
      ls.op = dsx::LayerOp::Shuffle;
      ls.groups = net_int(l, "groups", at);
    } else if (op == "add") {
      ls.op = dsx::LayerOp::Add;
    } else if (op == "shortcut_a") {
      ls.op = dsx::LayerOp::ShortcutA;
      ls.stride = net_int(l, "stride", at);
      ls.out_channels = net_int(l, "outChannels", at);
      ls.pad_front = net_int(l, "padFront", at, 0);
    } else {
      A::type_error("layer '" + ls.name + "': unknown op '" + op.substr(0, 40) +
                    "' (conv2d, scc, batchnorm, relu, maxpool, gap, linear, shuffle, add, shortcut_a)");
    }
    s.layers.push_back(std::move(ls));
  }
  return s;
}

namespace {

dsx::Recipe net_parse_recipe(const Napi::Value& value) {
  Napi::Object o = A::object(value, "recipe");
  const std::string w = "recipe";
  constexpr double kBig = 1e30;
  dsx::Recipe r;
  r.epochs = A::int_field(o, "epochs", w, 1, 1000000);
  r.batch_size = A::int_field(o, "batchSize", w, 1, 65536);
  r.lr = A::num_field(o, "lr", w, 0, kBig);
  r.momentum = A::num_field(o, "momentum", w, 0, 1);
  r.nesterov = A::bool_field_or(o, "nesterov", w, false);
  r.weight_decay = A::num_field(o, "weightDecay", w, 0, kBig);
  r.decay_bn_and_bias = A::bool_field_or(o, "decayBnAndBias", w, false);
  r.warmup_epochs = A::num_field_or(o, "warmupEpochs", w, 0, 1000000, 0.0);
  r.seed = static_cast<uint64_t>(A::integer(A::required(o, "seed", w), "recipe.seed", 0, 1LL << 53));
  r.threads = A::int_field_or(o, "threads", w, 0, A::kMaxThreads, 0);
  Napi::Object sched = A::object(A::required(o, "schedule", w), "recipe.schedule");
  const std::string kind = A::str(A::required(sched, "kind", "recipe.schedule"), "recipe.schedule.kind", 16);
  if (kind == "constant") {
    r.schedule = dsx::Schedule::Constant;
  } else if (kind == "cosine") {
    r.schedule = dsx::Schedule::Cosine;
  } else if (kind == "step") {
    r.schedule = dsx::Schedule::Step;
    Napi::Value mv = A::required(sched, "milestones", "recipe.schedule");
    if (!mv.IsArray()) A::type_error("recipe.schedule.milestones must be an array");
    Napi::Array ms = mv.As<Napi::Array>();
    if (ms.Length() > 10000) A::range_error("recipe.schedule.milestones has more than 10000 entries");
    for (uint32_t i = 0; i < ms.Length(); ++i)
      r.milestones.push_back(A::number(ms.Get(i), "recipe.schedule.milestones[" + std::to_string(i) + "]", 0, 1000000));
    r.gamma = A::num_field(sched, "gamma", "recipe.schedule", 0, kBig);
  } else {
    A::range_error("recipe.schedule.kind must be constant, cosine or step, got '" + kind.substr(0, 40) + "'");
  }
  Napi::Value av = o.Get("augment");
  if (!av.IsUndefined() && !av.IsNull()) {
    Napi::Object a = A::object(av, "recipe.augment");
    r.crop_padding = A::int_field_or(a, "cropPadding", "recipe.augment", 0, 128, 0);
    r.flip = A::bool_field_or(a, "flip", "recipe.augment", false);
    r.resized_crop_scale = A::num_field_or(a, "resizedCropScale", "recipe.augment", 0, 1, 0);
  }
  return r;
}

void net_parse_data(const Napi::Value& value, const char* what, NetData& d) {
  const std::string w(what);
  Napi::Object o = A::object(value, w);
  Napi::Uint8Array images = A::u8(A::required(o, "images", w), w + ".images");
  Napi::Uint8Array labels = A::u8(A::required(o, "labels", w), w + ".labels");
  const dsx::TensorShape shape = parse_shape(A::required(o, "shape", w), w + ".shape");
  d.view.count = A::int_field(o, "count", w, 0, 0x7fffffff);
  d.view.C = shape[0];
  d.view.H = shape[1];
  d.view.W = shape[2];
  // the bytes already exist on the JS side, so no allocation cap: only an overflow-safe product
  const size_t need = A::elements({d.view.count, shape[0], shape[1], shape[2]}, w + ": count x shape", size_t(1) << 53);
  if (images.ElementLength() < need || labels.ElementLength() < static_cast<size_t>(d.view.count))
    A::range_error(w + ": images/labels are shorter than count x shape");
  for (const char* key : {"mean", "std"}) {
    Napi::Value v = A::required(o, key, w);
    if (!v.IsArray()) A::type_error(w + "." + key + " must be an array");
    Napi::Array a = v.As<Napi::Array>();
    if (a.Length() > 4096) A::range_error(w + "." + key + " has more than 4096 values");
    const bool is_std = std::string(key) == "std";
    auto& dst = is_std ? d.view.std : d.view.mean;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      const std::string at = w + "." + key + "[" + std::to_string(i) + "]";
      const double x = A::number(a.Get(i), at, is_std ? 1e-12 : -1e6, 1e6);
      dst.push_back(static_cast<float>(x));
    }
  }
  d.view.images = images.Data();
  d.view.labels = labels.Data();
  d.images = Napi::Persistent(images.As<Napi::Object>());
  d.labels = Napi::Persistent(labels.As<Napi::Object>());
}

// Labels index the logits: one past the class count would write outside them.
void net_check_labels(const NetData& d, int classes, const char* what) {
  for (int i = 0; i < d.view.count; ++i)
    if (d.view.labels[i] >= classes)
      A::range_error(std::string(what) + ".labels[" + std::to_string(i) + "] is " + std::to_string(d.view.labels[i]) +
                     ", the model has " + std::to_string(classes) + " classes");
}

// The images must be the model's input shape, with a mean and std per channel.
void net_check_shape(const NetData& d, const dsx::NetSpec& spec, const char* what) {
  auto str = [](int c, int h, int w) {
    return "[" + std::to_string(c) + "," + std::to_string(h) + "," + std::to_string(w) + "]";
  };
  if (d.view.C != spec.input[0] || d.view.H != spec.input[1] || d.view.W != spec.input[2])
    A::range_error(std::string(what) + " data images are " + str(d.view.C, d.view.H, d.view.W) +
                   " but the model expects " + str(spec.input[0], spec.input[1], spec.input[2]));
  if (d.view.mean.size() != static_cast<size_t>(d.view.C) || d.view.std.size() != static_cast<size_t>(d.view.C))
    A::range_error(std::string(what) + ".mean and .std must have one value per channel (" + std::to_string(d.view.C) + ")");
}

}  // namespace

void parse_train_args(const Napi::CallbackInfo& info, TrainArgs& a) {
  a.spec = parse_spec(info[0]);
  a.recipe = net_parse_recipe(info[1]);
  net_parse_data(info[2], "train", a.train);
  net_parse_data(info[3], "test", a.test);
  for (auto [d, what] : {std::pair<NetData*, const char*>{&a.train, "train"}, {&a.test, "test"}}) {
    net_check_shape(*d, a.spec, what);
    net_check_labels(*d, a.spec.classes, what);
  }
  if (a.train.view.count < 1) A::range_error("train: count must be >= 1");
  if (a.recipe.crop_padding >= std::min(a.train.view.H, a.train.view.W))
    A::range_error("recipe.augment.cropPadding must be smaller than the images");
  Napi::Object opt = info[4].IsUndefined() ? Napi::Object::New(info.Env()) : A::object(info[4], "options");
  a.device = A::device_field_or(opt, "device", "options", "auto");
  a.options.keep_state = A::bool_field_or(opt, "keepState", "options", false);
  a.options.eval_last_only = A::bool_field_or(opt, "evalLastOnly", "options", false);
  if (info[5].IsFunction())
    a.on_progress = Napi::Persistent(info[5].As<Napi::Function>());
  else if (!info[5].IsUndefined() && !info[5].IsNull())
    A::type_error("onProgress must be a function");
}

void parse_evaluate_args(const Napi::CallbackInfo& info, EvaluateArgs& a) {
  a.spec = parse_spec(info[0]);
  Napi::Float32Array st = A::f32(info[1], "state");
  net_parse_data(info[2], "data", a.data);
  net_check_shape(a.data, a.spec, "data");
  net_check_labels(a.data, a.spec.classes, "data");
  Napi::Object opt = info[3].IsUndefined() ? Napi::Object::New(info.Env()) : A::object(info[3], "options");
  a.device = A::device_field_or(opt, "device", "options", "auto");
  a.threads = A::int_field_or(opt, "threads", "options", 0, A::kMaxThreads, 0);
  a.batch = A::int_field_or(opt, "batchSize", "options", 1, 65536, 256);
  // checked here, before the copy, against the plan (which the worker builds again)
  const size_t need = dsx::plan_net(a.spec).state_size();
  if (st.ElementLength() != need)
    A::range_error("state has " + std::to_string(st.ElementLength()) + " values but this model needs " + std::to_string(need));
  a.state.assign(st.Data(), st.Data() + st.ElementLength());
}

}  // namespace dsx_addon
