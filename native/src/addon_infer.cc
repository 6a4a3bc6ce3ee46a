// INFER section of the export table (registered by addon.cc):
// netForward(spec, options, images: Float32Array) -> Float32Array [n, classes]: synchronous,
//   eval-mode logits of already normalised inputs, options {device, threads, state?, seed}
//   (without state the network is initialised from seed). For parity checks; keep n small.
// netLatency(spec, options) -> Promise<{seconds: number[], device, threads}>: options
//   {device, threads, batch, warmup, reps, seed, state?}; timed eval-mode forwards.
#include <algorithm>
#include <vector>

#include "addon_net.h"
#include "net/infer.h"

namespace {

int opt_int(const Napi::Object& o, const char* key, int dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : dflt;
}
std::string opt_str(const Napi::Object& o, const char* key, const char* dflt) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : dflt;
}
Napi::Object opt_obj(const Napi::CallbackInfo& info, size_t i) {
  return info[i].IsObject() ? info[i].As<Napi::Object>() : Napi::Object::New(info.Env());
}
// state (a Float32Array) copied, or empty when absent
std::vector<float> opt_state(const Napi::Object& o) {
  Napi::Value v = o.Get("state");
  if (v.IsUndefined() || v.IsNull()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(o.Env(), "state must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}
void load_state(dsx::Net& net, const std::vector<float>& state, int64_t seed) {
  if (state.empty()) {
    net.init(static_cast<uint64_t>(seed));
    return;
  }
  if (state.size() != net.plan().state_size())
    throw std::runtime_error("state has " + std::to_string(state.size()) + " values but this model needs " +
                             std::to_string(net.plan().state_size()));
  net.set_state(state.data());
}

Napi::Value NetForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dsx::NetSpec spec = dsx_addon::parse_spec(info[0]);
  Napi::Object opt = opt_obj(info, 1);
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "images must be a Float32Array (already normalised)");
  Napi::Float32Array images = info[2].As<Napi::Float32Array>();
  std::vector<float> state = opt_state(opt);
  const size_t chw = static_cast<size_t>(spec.input[0]) * spec.input[1] * spec.input[2];
  if (chw == 0 || images.ElementLength() == 0 || images.ElementLength() % chw != 0)
    throw Napi::RangeError::New(env, "images must hold n x C x H x W values");
  const int n = static_cast<int>(images.ElementLength() / chw);
  try {
    auto backend = dsx_addon::make_backend(opt_str(opt, "device", "cpu"), opt_int(opt, "threads", 0));
    dsx::Net net(spec, *backend, n);
    load_state(net, state, opt.Get("seed").IsNumber() ? opt.Get("seed").As<Napi::Number>().Int64Value() : 0);
    std::vector<float> logits = dsx::forward_logits(net, images.Data(), n);
    Napi::Float32Array out = Napi::Float32Array::New(env, logits.size());
    std::copy(logits.begin(), logits.end(), out.Data());
    return out;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

class NetLatencyWorker : public Napi::AsyncWorker {
 public:
  NetLatencyWorker(Napi::Env env, const Napi::CallbackInfo& info)
      : Napi::AsyncWorker(env, "dsxplore.latency"), deferred_(Napi::Promise::Deferred::New(env)) {
    spec_ = dsx_addon::parse_spec(info[0]);
    Napi::Object opt = opt_obj(info, 1);
    device_ = opt_str(opt, "device", "cpu");
    threads_ = opt_int(opt, "threads", 0);
    batch_ = opt_int(opt, "batch", 1);
    warmup_ = opt_int(opt, "warmup", 5);
    reps_ = opt_int(opt, "reps", 20);
    seed_ = opt_int(opt, "seed", 0);
    state_ = opt_state(opt);
    if (batch_ < 1 || warmup_ < 0 || reps_ < 1)
      throw Napi::RangeError::New(env, "batch and reps must be >= 1, warmup >= 0");
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      auto backend = dsx_addon::make_backend(device_, threads_);
      dsx::Net net(spec_, *backend, batch_);
      load_state(net, state_, seed_);
      // a deterministic, non-zero input: timings of all-zero inputs can flatter some kernels
      const auto& s = net.plan().spec;
      std::vector<float> x(static_cast<size_t>(batch_) * s.input[0] * s.input[1] * s.input[2]);
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 2654435761u) % 1000) / 500.0f - 1.0f;
      backend->upload(net.input(), x.data(), x.size() * sizeof(float));
      run_ = dsx::time_forward(net, batch_, warmup_, reps_);
      device_name_ = backend->name();
      threads_used_ = backend->threads();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object r = Napi::Object::New(env);
    Napi::Array secs = Napi::Array::New(env, run_.seconds.size());
    for (size_t i = 0; i < run_.seconds.size(); ++i) secs.Set(static_cast<uint32_t>(i), run_.seconds[i]);
    r.Set("seconds", secs);
    r.Set("device", device_name_);
    r.Set("threads", threads_used_);
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  dsx::NetSpec spec_;
  std::string device_, device_name_;
  int threads_ = 0, threads_used_ = 0, batch_ = 1, warmup_ = 5, reps_ = 20, seed_ = 0;
  std::vector<float> state_;
  dsx::LatencyRun run_;
};

Napi::Value NetLatency(const Napi::CallbackInfo& info) {
  auto* w = new NetLatencyWorker(info.Env(), info);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

}  // namespace

namespace dsx_addon {
void register_infer(Napi::Env env, Napi::Object exports) {
  exports.Set("netForward", Napi::Function::New(env, NetForward, "netForward"));
  exports.Set("netLatency", Napi::Function::New(env, NetLatency, "netLatency"));
}
}  // namespace dsx_addon
