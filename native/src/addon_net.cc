// NET section of the export table (addon.cc): the network executor, training and evaluation.
// train(spec, recipe, trainData, testData, options, onProgress?) -> Promise<result>
// evaluate(spec, state, data, options) -> Promise<{accuracy, loss, count, seconds}>
// paramCount(spec), stateSize(spec), stateLayout(spec) -> synchronous
// netDebug(spec, options, images: Float32Array, labels: Int32Array) -> synchronous: one
//   train-mode forward/backward on given, already normalised inputs (gradient checks).
// The workers and queries only: their arguments are read by net_args.cc, the backend a
// device string names is made by dsx::make_backend (ops/backend_factory.cc).
#include <napi.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "addon.h"
#include "args.h"
#include "net_args.h"
#include "promise_worker.h"
#include "net/trainer.h"

namespace dsx_addon {

namespace {

namespace A = dsx::args;

// plan_net throws std::runtime_error for an inconsistent spec; guarded<> surfaces it as a JS Error.
dsx::NetPlan net_plan(const Napi::Value& spec) { return dsx::plan_net(parse_spec(spec)); }

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

// train()'s arguments are parsed and checked (parse_train_args) before the worker exists:
// a progress worker whose constructor throws leaves its thread-safe function's finalizer
// pointing at freed memory (node-addon-api aborts the function in the destructor and
// finalizes later).

// A queue worker, not the coalescing AsyncProgressWorker: every report the trainer sends (at
// most ~4 a second plus one per epoch end) reaches JS, even when the main thread is busy.
class NetTrainWorker : public Napi::AsyncProgressQueueWorker<dsx::Progress> {
 public:
  NetTrainWorker(Napi::Env env, TrainArgs&& a)
      : Napi::AsyncProgressQueueWorker<dsx::Progress>(env, "dsxplore.train"),
        deferred_(Napi::Promise::Deferred::New(env)),
        a_(std::move(a)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    try {
      auto backend = dsx::make_backend(a_.device, a_.recipe.threads, &fallback_);
      std::function<void(const dsx::Progress&)> cb;
      if (!a_.on_progress.IsEmpty()) cb = [&progress](const dsx::Progress& p) { progress.Send(&p, 1); };
      out_ = dsx::train_net(a_.spec, *backend, a_.recipe, a_.train.view, a_.test.view, a_.options, cb);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnProgress(const dsx::Progress* data, size_t count) override {
    if (!data || !count || a_.on_progress.IsEmpty()) return;
    Napi::HandleScope scope(Env());
    try {
      for (size_t i = 0; i < count; ++i) a_.on_progress.Call({net_progress_object(Env(), data[i])});
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
  TrainArgs a_;
  std::string fallback_;  // why --device auto did not use CUDA
  dsx::TrainOutcome out_;
};

}  // namespace

Napi::Value NetTrain(const Napi::CallbackInfo& info) {
  return queue_worker<NetTrainWorker>(info, parse_train_args);
}

namespace {

class NetEvaluateWorker : public PromiseWorker<EvaluateArgs> {
 public:
  NetEvaluateWorker(Napi::Env env, EvaluateArgs&& a)
      : PromiseWorker(env, "dsxplore.evaluate", std::move(a)) {}

 protected:
  void run() override {
    auto backend = dsx::make_backend(a_.device, a_.threads);
    dsx::Net net(a_.spec, *backend, std::max(1, std::min(a_.batch, a_.data.view.count)));
    if (a_.state.size() != net.plan().state_size())
      throw std::runtime_error("state has " + std::to_string(a_.state.size()) +
                               " values but this model needs " +
                               std::to_string(net.plan().state_size()) +
                               " (was it saved from a different model spec?)");
    net.set_state(a_.state.data());
    out_ = dsx::evaluate_net(net, a_.data.view);
  }
  Napi::Value result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    r.Set("accuracy", out_.accuracy);
    r.Set("loss", out_.loss);
    r.Set("count", out_.count);
    r.Set("seconds", out_.seconds);
    return r;
  }

 private:
  dsx::EvalOutcome out_;
};

}  // namespace

Napi::Value NetEvaluate(const Napi::CallbackInfo& info) {
  return queue_worker<NetEvaluateWorker>(info, parse_evaluate_args);
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
  auto backend = dsx::make_backend(device, threads);
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
