// INFER section of the export table (addon.cc):
// netForward(spec, options, images: Float32Array) -> Float32Array [n, classes]: synchronous,
//   eval-mode logits of already normalised inputs, options {device, threads, state?, seed}
//   (without state the network is initialised from seed). For parity checks; keep n small.
//   options.schedule "evaluate" runs the unfused layer-by-layer eval pass instead (the
//   reference the deployment schedules are tested against).
// Both run what a deployment runs: on the CPU the folded executor (net/infer_cpu.h), on a
// GPU Net::infer.
// netLatency(spec, options) -> Promise<{seconds: number[], device, threads}>: options
//   {device, threads, batch, warmup, reps, seed, state?}; timed eval-mode forwards.
#include <algorithm>
#include <memory>
#include <vector>

#include "addon.h"
#include "args.h"
#include "net/infer.h"
#include "net_args.h"
#include "promise_worker.h"

namespace dsx_addon {

namespace {

namespace A = dsx::args;

// The options both exports take, read with the addon's one family of argument readers
// before anything is built or any worker exists (promise_worker.h).
struct InferOptions {
  std::string device = "cpu";
  int threads = 0, batch = 1, warmup = 5, reps = 20;
  uint64_t seed = 0;
  std::vector<float> state;  // empty: initialise from seed
  bool evaluate = false;     // netForward: the unfused eval pass, not the deployment one
};

InferOptions parse_options(const Napi::Value& v, const dsx::NetSpec& spec) {
  InferOptions o;
  if (v.IsUndefined() || v.IsNull()) return o;
  Napi::Object opt = A::object(v, "options");
  o.device = A::device_field_or(opt, "device", "options", "cpu");
  o.threads = A::int_field_or(opt, "threads", "options", 0, A::kMaxThreads, 0);
  o.batch = A::int_field_or(opt, "batch", "options", 1, 65536, 1);
  o.warmup = A::int_field_or(opt, "warmup", "options", 0, 1000000, 5);
  o.reps = A::int_field_or(opt, "reps", "options", 1, 1000000, 20);
  if (A::present(opt, "seed")) o.seed = static_cast<uint64_t>(A::integer(opt.Get("seed"), "options.seed", 0, 1LL << 53));
  const std::string sch = A::str_field_or(opt, "schedule", "options", "deploy");
  if (sch != "deploy" && sch != "evaluate") A::range_error("options.schedule must be \"deploy\" or \"evaluate\"");
  o.evaluate = sch == "evaluate";
  Napi::Value sv = opt.Get("state");
  if (!sv.IsUndefined() && !sv.IsNull()) {
    Napi::Float32Array st = A::f32(sv, "options.state");
    const size_t need = dsx::plan_net(spec).state_size();
    if (st.ElementLength() != need)
      A::range_error("options.state has " + std::to_string(st.ElementLength()) + " values, the model needs " + std::to_string(need));
    o.state.assign(st.Data(), st.Data() + st.ElementLength());
  }
  return o;
}

void load_state(dsx::Net& net, const InferOptions& o) {
  if (o.state.empty())
    net.init(o.seed);
  else
    net.set_state(o.state.data());
}

// The CPU runs the deployment executor (BN folded, epilogues, weights packed once:
// net/infer_cpu.h); a GPU runs Net::infer. Null when the backend is not the CPU.
std::unique_ptr<dsx::CpuInference> cpu_inference(const dsx::NetSpec& spec, const InferOptions& o,
                                                 const dsx::Backend& backend, int capacity) {
  if (backend.name() != "cpu") return nullptr;
  const std::vector<float> seeded = o.state.empty() ? dsx::seeded_state(spec, o.seed) : std::vector<float>{};
  const float* state = o.state.empty() ? seeded.data() : o.state.data();
  return std::make_unique<dsx::CpuInference>(spec, state, backend.threads(), capacity);
}

}  // namespace

Napi::Value NetForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dsx::NetSpec spec = parse_spec(info[0]);
  const InferOptions o = parse_options(info[1], spec);
  Napi::Float32Array images = A::f32(info[2], "images (already normalised)");
  const size_t chw = A::elements({spec.input[0], spec.input[1], spec.input[2]}, "spec.inputShape");
  if (images.ElementLength() == 0 || images.ElementLength() % chw != 0 || images.ElementLength() / chw > 65536)
    A::range_error("images must hold n x C x H x W values, n in 1..65536");
  const int n = static_cast<int>(images.ElementLength() / chw);
  auto backend = dsx::make_backend(o.device, o.threads);
  std::vector<float> logits;
  std::unique_ptr<dsx::CpuInference> inf;
  if (!o.evaluate) inf = cpu_inference(spec, o, *backend, n);
  if (inf) {
    backend.reset();  // its thread pool is not needed
    logits = dsx::forward_logits(*inf, images.Data(), n);
  } else {
    dsx::Net net(spec, *backend, n);
    load_state(net, o);
    logits = dsx::forward_logits(net, images.Data(), n, o.evaluate);
  }
  Napi::Float32Array out = Napi::Float32Array::New(env, logits.size());
  std::copy(logits.begin(), logits.end(), out.Data());
  return out;
}

namespace {

struct LatencyArgs {
  dsx::NetSpec spec;
  InferOptions o;
};

class NetLatencyWorker : public PromiseWorker<LatencyArgs> {
 public:
  NetLatencyWorker(Napi::Env env, LatencyArgs&& a) : PromiseWorker(env, "dsxplore.latency", std::move(a)) {}

 protected:
  void run() override {
    const InferOptions& o = a_.o;
    auto backend = dsx::make_backend(o.device, o.threads);
    device_name_ = backend->name();
    threads_used_ = backend->threads();
    // a deterministic, non-zero input: timings of all-zero inputs can flatter some kernels
    const auto& s = a_.spec;
    std::vector<float> x(static_cast<size_t>(o.batch) * s.input[0] * s.input[1] * s.input[2]);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    if (auto inf = cpu_inference(a_.spec, o, *backend, o.batch)) {
      backend.reset();
      std::copy(x.begin(), x.end(), inf->input());
      run_ = dsx::time_forward(*inf, o.batch, o.warmup, o.reps);
      return;
    }
    dsx::Net net(a_.spec, *backend, o.batch);
    load_state(net, o);
    backend->upload(net.input(), x.data(), x.size() * sizeof(float));
    run_ = dsx::time_forward(net, o.batch, o.warmup, o.reps);
  }
  Napi::Value result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    Napi::Array secs = Napi::Array::New(env, run_.seconds.size());
    for (size_t i = 0; i < run_.seconds.size(); ++i) secs.Set(static_cast<uint32_t>(i), run_.seconds[i]);
    r.Set("seconds", secs);
    r.Set("device", device_name_);
    r.Set("threads", threads_used_);
    return r;
  }

 private:
  std::string device_name_;
  int threads_used_ = 0;
  dsx::LatencyRun run_;
};

void parse_latency_args(const Napi::CallbackInfo& info, LatencyArgs& a) {
  a.spec = parse_spec(info[0]);
  a.o = parse_options(info[1], a.spec);
}

}  // namespace

Napi::Value NetLatency(const Napi::CallbackInfo& info) {
  return queue_worker<NetLatencyWorker>(info, parse_latency_args);
}

}  // namespace dsx_addon
