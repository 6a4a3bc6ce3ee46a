// NET section of the export table (addon.cc): the network executor, training and evaluation.
// train(spec, recipe, trainData, testData, options, onProgress?) -> Promise<result>
// evaluate(spec, state, data, options) -> Promise<{accuracy, loss, count, seconds}>
// paramCount(spec), stateSize(spec), stateLayout(spec) -> synchronous
// netDebug(spec, options, images: Float32Array, labels: Int32Array) -> synchronous: one
//   train-mode forward/backward on given, already normalised inputs (gradient checks).
#include <napi.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "addon.h"
#include "addon_net.h"
#include "args.h"
#include "net/trainer.h"

namespace dsx_addon {

namespace {

namespace A = dsx::args;
using A::kMaxDim;

// JS spec/recipe objects were validated by zod in TypeScript; these readers (on args.h) still
// refuse a missing field, a wrong type or an out-of-range value with a message naming it,
// instead of reading garbage, and bound every size before plan_net sums them.
// Layer attributes and tensor dimensions: positive (or, for paddings, non-negative) up to kMaxDim.
int net_int(const Napi::Object& o, const char* key, const std::string& where, int lo = 1) {
  return A::int_field(o, key, where, lo, kMaxDim);
}

dsx::TensorShape net_shape(const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) A::type_error(what + " must be [c,h,w]");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != 3) A::range_error(what + " must be [c,h,w]");
  dsx::TensorShape s;
  for (uint32_t i = 0; i < 3; ++i) s[i] = A::int32(a.Get(i), what + "[" + std::to_string(i) + "]", 1, kMaxDim);
  A::elements({s[0], s[1], s[2]}, what);
  return s;
}

constexpr uint32_t kMaxLayers = 100000;

}  // namespace

dsx::NetSpec parse_spec(const Napi::Value& value) {
  Napi::Object o = A::object(value, "spec");
  dsx::NetSpec s;
  s.model = A::str_field_or(o, "model", "spec", "");
  s.input = net_shape(A::required(o, "inputShape", "spec"), "spec.inputShape");
  s.classes = net_int(o, "classes", "spec");
  Napi::Value tv = A::required(o, "tensors", "spec");
  if (!tv.IsArray()) A::type_error("spec.tensors must be an array");
  Napi::Array tensors = tv.As<Napi::Array>();
  if (tensors.Length() > kMaxLayers + 1) A::range_error("spec.tensors has more than " + std::to_string(kMaxLayers + 1) + " entries");
  for (uint32_t i = 0; i < tensors.Length(); ++i)
    s.tensors.push_back(net_shape(tensors.Get(i), "spec.tensors[" + std::to_string(i) + "]"));
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

// plan_net throws std::runtime_error for an inconsistent spec; guarded<> surfaces it as a JS Error.
dsx::NetPlan net_plan(const Napi::Value& spec) { return dsx::plan_net(parse_spec(spec)); }

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

// A dataset handed to a worker: the view plus references that keep the JS buffers alive.
struct NetData {
  dsx::DataView view;
  Napi::ObjectReference images, labels;
};

void net_parse_data(const Napi::Value& value, const char* what, NetData& d) {
  const std::string w(what);
  Napi::Object o = A::object(value, w);
  Napi::Uint8Array images = A::u8(A::required(o, "images", w), w + ".images");
  Napi::Uint8Array labels = A::u8(A::required(o, "labels", w), w + ".labels");
  const dsx::TensorShape shape = net_shape(A::required(o, "shape", w), w + ".shape");
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

std::unique_ptr<dsx::Backend> make_backend(const std::string& device, int threads,
                                           std::string* fallback) {
  if (device == "cpu") return dsx::make_cpu_backend(threads);
  if (device == "auto") {
    std::string why;
    if (auto be = dsx::make_cuda_backend(0, &why)) return be;
    if (fallback) *fallback = why;
    return dsx::make_cpu_backend(threads);
  }
  if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
    const int index = device == "cuda" ? 0 : std::atoi(device.c_str() + 5);
    std::string why;
    if (auto be = dsx::make_cuda_backend(index, &why)) return be;
    throw std::runtime_error("CUDA device " + std::to_string(index) + " is not available: " + why +
                             " (use --device cpu, or see `dsxplore doctor`)");
  }
  throw std::runtime_error("unknown device '" + device + "' (cpu, cuda, cuda:N or auto)");
}

namespace {

Napi::Object net_progress_object(Napi::Env env, const dsx::Progress& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("epoch", p.epoch);
  o.Set("epochs", p.epochs);
  o.Set("batch", p.batch);
  o.Set("batches", p.batches);
  o.Set("loss", p.loss);
  o.Set("imagesPerSecond", p.images_per_second);
  o.Set("elapsed", p.elapsed);
  return o;
}

Napi::Float32Array net_float_array(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

// What train() was given, parsed and checked before the worker exists: a progress worker
// whose constructor throws leaves its thread-safe function's finalizer pointing at freed
// memory (node-addon-api aborts the function in the destructor and finalizes later).
struct NetTrainArgs {
  dsx::NetSpec spec;
  dsx::Recipe recipe;
  NetData train, test;
  std::string device;
  dsx::TrainOptions options;
  Napi::FunctionReference on_progress;
};

void net_parse_train(const Napi::CallbackInfo& info, NetTrainArgs& a) {
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

// A queue worker, not the coalescing AsyncProgressWorker: every report the trainer sends (at
// most ~4 a second plus one per epoch end) reaches JS, even when the main thread is busy.
class NetTrainWorker : public Napi::AsyncProgressQueueWorker<dsx::Progress> {
 public:
  NetTrainWorker(Napi::Env env, NetTrainArgs&& a)
      : Napi::AsyncProgressQueueWorker<dsx::Progress>(env, "dsxplore.train"),
        deferred_(Napi::Promise::Deferred::New(env)),
        spec_(std::move(a.spec)),
        recipe_(a.recipe),
        train_(std::move(a.train)),
        test_(std::move(a.test)),
        device_(std::move(a.device)),
        options_(a.options),
        on_progress_(std::move(a.on_progress)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    try {
      auto backend = make_backend(device_, recipe_.threads, &fallback_);
      std::function<void(const dsx::Progress&)> cb;
      if (!on_progress_.IsEmpty()) cb = [&progress](const dsx::Progress& p) { progress.Send(&p, 1); };
      out_ = dsx::train_net(spec_, *backend, recipe_, train_.view, test_.view, options_, cb);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnProgress(const dsx::Progress* data, size_t count) override {
    if (!data || !count || on_progress_.IsEmpty()) return;
    Napi::HandleScope scope(Env());
    try {
      for (size_t i = 0; i < count; ++i) on_progress_.Call({net_progress_object(Env(), data[i])});
    } catch (const Napi::Error&) {
      // A throwing progress callback must not abort training; the error is dropped here and
      // the promise still settles with the result.
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object r = Napi::Object::New(env);
    r.Set("status", out_.status);
    if (!out_.message.empty()) r.Set("message", out_.message);
    r.Set("device", out_.device);
    if (!fallback_.empty()) r.Set("deviceFallback", fallback_);
    r.Set("threads", out_.threads);
    r.Set("params", static_cast<double>(out_.params));
    r.Set("testAccuracy", out_.test_accuracy);
    r.Set("testLoss", out_.test_loss);
    r.Set("trainLoss", out_.train_loss);
    r.Set("trainAccuracy", out_.train_accuracy);
    r.Set("seconds", out_.seconds);
    r.Set("imagesPerSecond", out_.images_per_second);
    Napi::Array epochs = Napi::Array::New(env, out_.epochs.size());
    for (size_t i = 0; i < out_.epochs.size(); ++i) {
      const auto& m = out_.epochs[i];
      Napi::Object e = Napi::Object::New(env);
      e.Set("epoch", m.epoch);
      e.Set("lr", m.lr);
      e.Set("trainLoss", m.train_loss);
      e.Set("trainAccuracy", m.train_accuracy);
      if (m.evaluated) {
        e.Set("testAccuracy", m.test_accuracy);
        e.Set("testLoss", m.test_loss);
      }
      e.Set("seconds", m.seconds);
      epochs.Set(static_cast<uint32_t>(i), e);
    }
    r.Set("epochs", epochs);
    if (!out_.state.empty()) r.Set("state", net_float_array(env, out_.state));
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  dsx::NetSpec spec_;
  dsx::Recipe recipe_;
  NetData train_, test_;
  std::string device_;
  std::string fallback_;  // why --device auto did not use CUDA
  dsx::TrainOptions options_;
  Napi::FunctionReference on_progress_;
  dsx::TrainOutcome out_;
};

}  // namespace

Napi::Value NetTrain(const Napi::CallbackInfo& info) {
  NetTrainArgs args;
  net_parse_train(info, args);  // parse errors throw here, before any worker exists
  auto* w = new NetTrainWorker(info.Env(), std::move(args));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

namespace {

class NetEvaluateWorker : public Napi::AsyncWorker {
 public:
  NetEvaluateWorker(Napi::Env env, const Napi::CallbackInfo& info)
      : Napi::AsyncWorker(env, "dsxplore.evaluate"), deferred_(Napi::Promise::Deferred::New(env)) {
    spec_ = parse_spec(info[0]);
    Napi::Float32Array st = A::f32(info[1], "state");
    net_parse_data(info[2], "data", data_);
    net_check_shape(data_, spec_, "data");
    net_check_labels(data_, spec_.classes, "data");
    Napi::Object opt = info[3].IsUndefined() ? Napi::Object::New(env) : A::object(info[3], "options");
    device_ = A::device_field_or(opt, "device", "options", "auto");
    threads_ = A::int_field_or(opt, "threads", "options", 0, A::kMaxThreads, 0);
    batch_ = A::int_field_or(opt, "batchSize", "options", 1, 65536, 256);
    // checked here, before the copy, against the plan (which the worker builds again)
    const size_t need = dsx::plan_net(spec_).state_size();
    if (st.ElementLength() != need)
      A::range_error("state has " + std::to_string(st.ElementLength()) + " values but this model needs " + std::to_string(need));
    state_.assign(st.Data(), st.Data() + st.ElementLength());
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      auto backend = make_backend(device_, threads_);
      dsx::Net net(spec_, *backend, std::max(1, std::min(batch_, data_.view.count)));
      if (state_.size() != net.plan().state_size())
        throw std::runtime_error("state has " + std::to_string(state_.size()) +
                                 " values but this model needs " +
                                 std::to_string(net.plan().state_size()) +
                                 " (was it saved from a different model spec?)");
      net.set_state(state_.data());
      out_ = dsx::evaluate_net(net, data_.view);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Object r = Napi::Object::New(Env());
    r.Set("accuracy", out_.accuracy);
    r.Set("loss", out_.loss);
    r.Set("count", out_.count);
    r.Set("seconds", out_.seconds);
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  dsx::NetSpec spec_;
  std::vector<float> state_;
  NetData data_;
  std::string device_;
  int threads_ = 0, batch_ = 256;
  dsx::EvalOutcome out_;
};

}  // namespace

Napi::Value NetEvaluate(const Napi::CallbackInfo& info) {
  auto* w = new NetEvaluateWorker(info.Env(), info);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Value NetParamCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(net_plan(info[0]).params));
}

Napi::Value NetStateSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(net_plan(info[0]).state_size()));
}

namespace {

Napi::Object net_layout_object(Napi::Env env, const dsx::NetPlan& plan) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("params", static_cast<double>(plan.params));
  r.Set("decayed", static_cast<double>(plan.decayed));
  r.Set("stateSize", static_cast<double>(plan.state_size()));
  Napi::Array entries = Napi::Array::New(env, plan.state_layout.size());
  for (size_t i = 0; i < plan.state_layout.size(); ++i) {
    const auto& e = plan.state_layout[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("layer", e.layer);
    o.Set("kind", e.kind);
    o.Set("offset", static_cast<double>(e.offset));
    o.Set("size", static_cast<double>(e.size));
    o.Set("decayed", e.decayed);
    entries.Set(static_cast<uint32_t>(i), o);
  }
  r.Set("entries", entries);
  return r;
}

}  // namespace

Napi::Value NetStateLayout(const Napi::CallbackInfo& info) {
  return net_layout_object(info.Env(), net_plan(info[0]));
}

// Synchronous and for small inputs only (tests): options {device, threads, seed, state?, train?}.
Napi::Value NetDebug(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dsx::NetSpec spec = parse_spec(info[0]);
  Napi::Object opt = A::object(info[1], "options");
  Napi::Float32Array images = A::f32(info[2], "images (already normalised)");
  Napi::Int32Array labels = A::i32(info[3], "labels");
  const size_t n_labels = labels.ElementLength();
  if (n_labels < 1 || n_labels > 65536) A::range_error("labels must hold 1..65536 values");
  const int n = static_cast<int>(n_labels);
  const size_t chw = A::elements({spec.input[0], spec.input[1], spec.input[2]}, "spec.inputShape");
  if (images.ElementLength() != A::elements({n, spec.input[0], spec.input[1], spec.input[2]}, "images"))
    A::range_error("images must hold labels.length x C x H x W values");
  for (int i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= spec.classes) A::range_error("labels[" + std::to_string(i) + "] is out of range");
  const std::string device = A::device_field_or(opt, "device", "options", "cpu");
  const int threads = A::int_field_or(opt, "threads", "options", 0, A::kMaxThreads, 0);
  const bool train = A::bool_field_or(opt, "train", "options", true);
  Napi::Value sv = opt.Get("state");
  const bool has_state = !sv.IsUndefined() && !sv.IsNull();
  Napi::Float32Array st = has_state ? A::f32(sv, "options.state") : Napi::Float32Array();
  const uint64_t seed = A::present(opt, "seed") ? static_cast<uint64_t>(A::integer(opt.Get("seed"), "options.seed", 0, 1LL << 53)) : 0;
  const size_t state_size = dsx::plan_net(spec).state_size();
  if (has_state && st.ElementLength() != state_size)
    A::range_error("options.state has " + std::to_string(st.ElementLength()) + " values, the model needs " + std::to_string(state_size));
  auto backend = make_backend(device, threads);
  dsx::Net net(spec, *backend, n);
  if (has_state)
    net.set_state(st.Data());
  else
    net.init(seed);
  backend->upload(net.input(), images.Data(), chw * n * sizeof(float));
  backend->upload(net.labels(), labels.Data(), n * sizeof(int32_t));
  net.forward(n, train);
  double loss = 0;
  int correct = 0;
  if (train)
    net.backward(n, &loss, &correct);
  else
    net.eval_loss(n, &loss, &correct);
  std::vector<float> state(net.plan().state_size()), grads(net.plan().params);
  net.get_state(state.data());  // after a train forward: running stats updated once
  if (train && !grads.empty()) backend->download(grads.data(), net.grads(), grads.size() * sizeof(float));
  Napi::Object r = Napi::Object::New(env);
  r.Set("loss", loss / n);
  r.Set("correct", correct);
  r.Set("device", backend->name());
  r.Set("state", net_float_array(env, state));
  if (train) r.Set("grads", net_float_array(env, grads));
  r.Set("layout", net_layout_object(env, net.plan()));
  return r;
}

}  // namespace dsx_addon
