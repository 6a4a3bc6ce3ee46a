// Bench-only entry points (addon.cc's export table): opsBench, op timings and the machine's
// ceilings taken in C++, so that JS allocation does not pollute the figures (bench/ops.ts
// and bench/roofline.ts print them), and netProfile, a network's per-layer times.
#include <dlfcn.h>  // OpenBLAS, loaded at run time for the side-by-side SGEMM comparison
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>  // the peak loop's vector path
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "addon.h"
#include "addon_ops.h"
#include "args.h"
#include "net/net.h"
#include "net_args.h"
#include "ops/scc_index.h"
#include "promise_worker.h"

namespace dsx_addon {

namespace A = dsx::args;

namespace {

double ops_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
// Fastest of repeated runs (at least 3, at least min_seconds in all): robust on a shared machine.
template <class F>
double ops_time(F&& f, double min_seconds) {
  f();
  double best = 1e30, start = ops_now();
  for (int i = 0; i < 3 || ops_now() - start < min_seconds; ++i) {
    double t0 = ops_now();
    f();
    best = std::min(best, ops_now() - t0);
    if (i > 1000) break;
  }
  return best;
}
std::vector<float> ops_random(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>((s >> 8) * (1.0 / 16777216.0) - 0.5);
  }
  return v;
}

// The machine's ceilings for the roofline (bench/roofline.ts), on `threads` std::threads
// running together: the FMA peak of a register-only loop and a streaming copy's bandwidth.
// Each thread times short rounds (about a millisecond) and keeps its best; the ceiling is
// the sum over the threads. On a shared machine a round long enough to be preempted is
// slower than the hardware, and a kernel timed the same way (best of short runs) could pass
// a ceiling timed over one long window.

// Runs job(tid) on `threads` threads released at once (tid 0 on the caller).
template <class Job>
void on_threads(int threads, Job job) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      job(t);
    });
  while (ready.load() < threads - 1) std::this_thread::yield();
  go.store(true, std::memory_order_release);
  job(0);
  for (auto& th : pool) th.join();
}

// Every thread runs round(tid) (which returns the work it did: flops, bytes) for at least
// min_s seconds and at least 5 times, all threads together; the sum of each thread's best
// rate (work per second).
template <class Round>
double best_rate_sum(int threads, double min_s, Round round) {
  std::vector<double> best(threads, 0.0);
  on_threads(threads, [&](int t) {
    const double start = ops_now();
    for (int i = 0; i < 5 || ops_now() - start < min_s; ++i) {
      const double t0 = ops_now();
      const double work = round(t);
      best[t] = std::max(best[t], work / (ops_now() - t0));
    }
  });
  double sum = 0;
  for (double b : best) sum += b;
  return sum;
}

// `iters` rounds of independent FMAs on registers (enough accumulators to hide the FMA
// latency on two FMA ports); returns the flops done: 2 per FMA lane.
double fma_loop(long iters, float seed) {
  volatile float sink = 0;  // the loop's result is stored, so the compiler keeps the loop
#if defined(__AVX512F__)
  constexpr int kAcc = 16, kLanes = 16;  // 16 accumulators + 2 constants of 32 zmm registers
  __m512 acc[kAcc];
  for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_set1_ps(seed + k);
  const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_fmadd_ps(acc[k], b, c);
  for (int k = 1; k < kAcc; ++k) acc[0] = _mm512_add_ps(acc[0], acc[k]);
  sink = _mm512_reduce_add_ps(acc[0]);
#elif defined(__AVX2__) && defined(__FMA__)
  constexpr int kAcc = 12, kLanes = 8;  // 12 accumulators + 2 constants of 16 ymm registers
  __m256 acc[kAcc];
  for (int k = 0; k < kAcc; ++k) acc[k] = _mm256_set1_ps(seed + k);
  const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm256_fmadd_ps(acc[k], b, c);
  for (int k = 1; k < kAcc; ++k) acc[0] = _mm256_add_ps(acc[0], acc[k]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc[0]);
  sink = lanes[0] + lanes[7];
#else
  constexpr int kAcc = 8, kLanes = 1;
  float acc[kAcc];
  for (int k = 0; k < kAcc; ++k) acc[k] = seed + k;
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < kAcc; ++k) acc[k] = std::fma(acc[k], 0.999999f, 1e-6f);
  for (int k = 0; k < kAcc; ++k) sink = sink + acc[k];
#endif
  (void)sink;
  return 2.0 * kLanes * kAcc * static_cast<double>(iters);
}

// GFLOP/s of the FMA loop on `threads` threads (best_rate_sum).
double peak_gflops(int threads, double min_s) {
  long iters = 1 << 10;
  while (iters < (1L << 30)) {  // a round of about a millisecond
    const double t0 = ops_now();
    fma_loop(iters, 1.0f);
    if (ops_now() - t0 > 1e-3) break;
    iters *= 2;
  }
  return 1e-9 * best_rate_sum(threads, min_s, [&](int t) { return fma_loop(iters, 1.0f + t); });
}

// One copy of n floats, split over `threads` threads in contiguous slices.
void stream_copy(int threads, const float* src, float* dst, size_t n) {
  on_threads(threads, [&](int t) {
    const size_t b = n * t / threads, e = n * (t + 1) / threads;
    std::memcpy(dst + b, src + b, (e - b) * sizeof(float));
  });
}

// GB/s of copying (bytes read + written) on `threads` threads: each copies its own slice of
// n floats in 4 MiB chunks, one chunk a round (best_rate_sum); a chunk's source and
// destination were last touched a whole slice ago, far more than the cache holds.
double stream_gbs(int threads, const float* src, float* dst, size_t n, double min_s) {
  constexpr size_t kChunk = size_t(1) << 20;  // floats
  std::vector<size_t> at(threads, 0);
  return 1e-9 * best_rate_sum(threads, min_s, [&](int t) {
    const size_t b = n * t / threads, e = n * (t + 1) / threads;
    const size_t lo = b + at[t], len = std::min(kChunk, e - lo);
    std::memcpy(dst + lo, src + lo, len * sizeof(float));
    at[t] = lo + len >= e ? 0 : at[t] + len;
    return 2.0 * len * sizeof(float);
  });
}

// Floats per buffer of the bandwidth copy: 4x the last-level cache (source and destination
// together 8x), at least 64 MiB, at most 1 GiB. The cache size comes from sysfs: glibc's
// sysconf reports a whole-package figure on some AMD parts.
size_t stream_floats() {
  size_t llc = size_t(32) << 20;
  for (const char* index : {"index3", "index2"}) {
    const std::string path = std::string("/sys/devices/system/cpu/cpu0/cache/") + index + "/size";
    if (FILE* f = std::fopen(path.c_str(), "r")) {
      unsigned long v = 0;
      char unit = 0;
      const int got = std::fscanf(f, "%lu%c", &v, &unit);
      std::fclose(f);
      if (got >= 1 && v > 0) {
        llc = v * (unit == 'K' ? 1024 : unit == 'M' ? 1 << 20 : 1);
        break;
      }
    }
  }
  const size_t bytes = std::min<size_t>(size_t(1) << 30, std::max<size_t>(size_t(64) << 20, 4 * llc));
  return bytes / sizeof(float);
}

using ops_cblas_sgemm_t = void (*)(int, int, int, int, int, int, float, const float*, int, const float*,
                                   int, float, float*, int);

}  // namespace

// opsBench('sgemm', {M,N,K,transA,transB,minSeconds,openblas?: path}) -> {ours, openblas?} seconds
// opsBench('scc', {N,Cin,H,W,Cout,groups,stride,minSeconds,split?}) -> seconds of scc and dense 1x1
//   passes; with split, also the backward's two halves alone (sccBackwardData, sccBackwardWeights)
// opsBench('peak', {minSeconds}) -> {gflops, isa}: the FMA loop's best GFLOP/s
// opsBench('stream', {minSeconds}) -> {gbs, bufferBytes}: copy GB/s (bytes read + written)
// opsBench('copy', {src, dst}) -> {seconds}: the stream's copy once, of caller-sized arrays
// All on the ops backend's thread count (opsSetThreads), returned as threads.
Napi::Value OpsBench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string kind = A::str(info[0], "opsBench: kind", 16);
  if (kind != "sgemm" && kind != "scc" && kind != "peak" && kind != "stream" && kind != "copy")
    A::type_error("opsBench: kind must be 'sgemm', 'scc', 'peak', 'stream' or 'copy'");
  OpsArgs a{env, "opsBench(" + kind + ")", A::object(info[1], "opsBench: options"), Napi::Object::New(env)};
  dsx::Backend& be = ops_backend();
  const double min_s = a.attrs.Get("minSeconds").IsUndefined() ? 0.5 : A::number(a.attrs.Get("minSeconds"), a.attr("minSeconds"), 0, 600);
  Napi::Object r = Napi::Object::New(env);
  const int threads = be.threads();
  if (kind == "peak") {
    r.Set("gflops", peak_gflops(threads, min_s));
    r.Set("isa", dsx::cpu_isa());
  } else if (kind == "stream") {
    const size_t n = stream_floats();
    std::vector<float> src(n, 1.0f), dst(n, 0.0f);  // touched: no page faults while timed
    r.Set("gbs", stream_gbs(threads, src.data(), dst.data(), n, min_s));
    r.Set("bufferBytes", static_cast<double>(n * sizeof(float)));
  } else if (kind == "copy") {
    Napi::Float32Array src = A::f32(a.attrs.Get("src"), a.attr("src"));
    Napi::Float32Array dst = A::f32(a.attrs.Get("dst"), a.attr("dst"));
    if (src.ElementLength() != dst.ElementLength()) ops_fail(a.op, "src and dst must have the same length");
    const double t0 = ops_now();
    stream_copy(threads, src.Data(), dst.Data(), src.ElementLength());
    r.Set("seconds", ops_now() - t0);
  } else if (kind == "sgemm") {
    const int M = a.pos("M"), N = a.pos("N"), K = a.pos("K");
    const bool ta = a.num_or("transA", 0) != 0, tb = a.num_or("transB", 0) != 0;
    const size_t nA = a.size({M, K}, "A"), nB = a.size({K, N}, "B"), nC = a.size({M, N}, "C");
    auto A = ops_random(nA, 1), B = ops_random(nB, 2);
    std::vector<float> C(nC);
    auto ours = [&] { be.sgemm(ta, tb, M, N, K, 1.0f, A.data(), ta ? M : K, B.data(), tb ? K : N, 0.0f, C.data(), N); };
    Napi::Value lib = a.attrs.Get("openblas");
    if (!lib.IsString()) {
      r.Set("ours", ops_time(ours, min_s));
    } else {
      void* h = dlopen(lib.As<Napi::String>().Utf8Value().c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) ops_fail(a.op, std::string("cannot load OpenBLAS: ") + dlerror());
      auto gemm = reinterpret_cast<ops_cblas_sgemm_t>(dlsym(h, "cblas_sgemm"));
      auto set_threads = reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"));
      if (!gemm) ops_fail(a.op, "the OpenBLAS library has no cblas_sgemm");
      if (set_threads) set_threads(be.threads());
      // CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112
      auto theirs = [&] { gemm(101, ta ? 112 : 111, tb ? 112 : 111, M, N, K, 1.0f, A.data(), ta ? M : K, B.data(), tb ? K : N, 0.0f, C.data(), N); };
      // Interleaved, fastest of each, so both see the same machine conditions.
      ours();
      theirs();
      double best_ours = 1e30, best_theirs = 1e30;
      const double start = ops_now();
      for (int round = 0; round < 3 || (ops_now() - start < 2 * min_s && round < 1000); ++round) {
        double t0 = ops_now();
        ours();
        best_ours = std::min(best_ours, ops_now() - t0);
        t0 = ops_now();
        theirs();
        best_theirs = std::min(best_theirs, ops_now() - t0);
      }
      r.Set("ours", best_ours);
      r.Set("openblas", best_theirs);
      // the library stays loaded: unloading OpenBLAS while its threads idle is unsafe
    }
  } else if (kind == "scc") {
    const dsx::SccShape s = ops_scc_shape(a.op, a.pos("N"), a.pos("Cin"), a.pos("H"), a.pos("W"),
                                          a.pos("Cout"), a.pos("groups"), a.pos("stride"));
    const size_t nx = a.size({s.N, s.Cin, s.H, s.W}, "x"), ny = a.size({s.N, s.Cout, s.H, s.W}, "y");
    const size_t nw = a.size({s.Cout, s.D()}, "w"), nd = a.size({s.Cout, s.Cin}, "dense weight");
    const int D = s.D();
    auto x = ops_random(nx, 3), dy = ops_random(ny, 4), w = ops_random(nw, 5);
    std::vector<float> y(ny), dx(nx), dw(w.size()), dense(nd, 0.0f),
        ddense(dense.size());
    for (int c = 0; c < s.Cout; ++c)
      for (int k = 0; k < D; ++k)
        dense[static_cast<size_t>(c) * s.Cin + (dsx::scc_start(c, s.stride, s.Cin) + k) % s.Cin] = w[c * D + k];
    const dsx::Conv2dShape cs{s.N, s.Cin, s.H, s.W, s.Cout, 1, 1, 0, 1};
    // Interleaved rounds, fastest of each: SCC and dense see the same machine conditions.
    const bool split = a.num_or("split", 0) != 0;
    double best[6] = {1e30, 1e30, 1e30, 1e30, 1e30, 1e30};
    auto timed = [&](int slot, auto&& f) {
      const double t0 = ops_now();
      f();
      best[slot] = std::min(best[slot], ops_now() - t0);
    };
    const double start = ops_now();
    for (int round = 0; round < 4 || (ops_now() - start < 4 * min_s && round < 200); ++round) {
      timed(0, [&] { be.scc_forward(s, x.data(), w.data(), y.data()); });
      timed(1, [&] { be.scc_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data()); });
      timed(2, [&] { be.conv2d_forward(cs, x.data(), dense.data(), nullptr, y.data()); });
      timed(3, [&] { be.conv2d_backward(cs, x.data(), dense.data(), dy.data(), dx.data(), ddense.data(), nullptr); });
      if (!split) continue;
      timed(4, [&] { be.scc_backward(s, x.data(), w.data(), dy.data(), dx.data(), nullptr); });
      timed(5, [&] { be.scc_backward(s, x.data(), w.data(), dy.data(), nullptr, dw.data()); });
    }
    r.Set("sccForward", best[0]);
    r.Set("sccBackward", best[1]);
    r.Set("denseForward", best[2]);
    r.Set("denseBackward", best[3]);
    if (split) {
      r.Set("sccBackwardData", best[4]);
      r.Set("sccBackwardWeights", best[5]);
    }
  }
  r.Set("threads", be.threads());
  return r;
}

namespace {

// netProfile(spec, {threads, batch, mode, warmup, steps, seed}) -> Promise<{threads, batch,
// mode, stepSeconds[], stepLayerSeconds[], layers: [{forward, backward, forwardCalls,
// backwardCalls}] per spec layer, clear, sgd}>: the
// executor's profile (each step synchronised and timed, net.h) of `steps` training steps
// (forward, backward, SGD) or inference forwards (Net::infer) on the CPU, after `warmup`
// untimed ones; times are summed over the steps, stepSeconds is each step's wall time, and
// stepLayerSeconds each step's time per layer, then clearing, then SGD (a Float64Array).
struct ProfileArgs {
  dsx::NetSpec spec;
  int threads = 0, batch = 1, warmup = 1, steps = 3;
  bool train = true;
  uint64_t seed = 0;
};

void parse_profile_args(const Napi::CallbackInfo& info, ProfileArgs& a) {
  a.spec = parse_spec(info[0]);
  Napi::Object o = A::object(info[1], "options");
  a.threads = A::int_field_or(o, "threads", "options", 0, A::kMaxThreads, 0);
  a.batch = A::int_field_or(o, "batch", "options", 1, 65536, 1);
  a.warmup = A::int_field_or(o, "warmup", "options", 0, 1000, 1);
  a.steps = A::int_field_or(o, "steps", "options", 1, 1000, 3);
  const std::string mode = A::str_field_or(o, "mode", "options", "train");
  if (mode != "train" && mode != "infer") A::range_error("options.mode must be 'train' or 'infer'");
  a.train = mode == "train";
  if (A::present(o, "seed")) a.seed = static_cast<uint64_t>(A::integer(o.Get("seed"), "options.seed", 0, 1LL << 53));
}

class NetProfileWorker : public PromiseWorker<ProfileArgs> {
 public:
  NetProfileWorker(Napi::Env env, ProfileArgs&& a) : PromiseWorker(env, "dsxplore.profile", std::move(a)) {}

 protected:
  void run() override {
    auto be = dsx::make_backend("cpu", a_.threads);
    dsx::Net net(a_.spec, *be, a_.batch);
    net.init(a_.seed);
    const dsx::NetSpec& s = net.plan().spec;
    const int n = a_.batch;
    // deterministic, non-zero inputs and labels, as netLatency's
    std::vector<float> x(static_cast<size_t>(n) * s.input[0] * s.input[1] * s.input[2]);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    std::vector<int32_t> y(n);
    for (int i = 0; i < n; ++i) y[i] = static_cast<int32_t>((i * 7919u) % s.classes);
    be->upload(net.input(), x.data(), x.size() * sizeof(float));
    be->upload(net.labels(), y.data(), y.size() * sizeof(int32_t));
    auto step = [&] {
      if (!a_.train) return net.infer(n);
      net.forward(n, true);
      double loss = 0;
      int correct = 0;
      net.backward(n, &loss, &correct);
      net.sgd_step(0.01f, 0.9f, 5e-4f, false, false);  // small: a few steps must not diverge
    };
    net.set_profiling(false);
    for (int i = 0; i < a_.warmup; ++i) step();
    net.set_profiling(true);
    net.reset_profile();
    for (int i = 0; i < a_.steps; ++i) {
      be->sync();
      const double t0 = ops_now();
      step();
      be->sync();
      step_seconds_.push_back(ops_now() - t0);
      // each step's seconds per layer (forward + backward), then clearing and SGD: the
      // profile's running totals, less the previous step's
      std::vector<double> cum;
      for (const auto& t : net.layer_times()) cum.push_back(t.fwd + t.bwd);
      cum.push_back(net.clear_time().bwd);
      cum.push_back(net.sgd_time().bwd);
      per_step_.push_back(cum);
    }
    for (size_t i = per_step_.size(); i-- > 1;)
      for (size_t k = 0; k < per_step_[i].size(); ++k) per_step_[i][k] -= per_step_[i - 1][k];
    layers_ = net.layer_times();
    clear_ = net.clear_time();
    sgd_ = net.sgd_time();
    threads_ = be->threads();
  }
  Napi::Value result(Napi::Env env) override {
    auto row = [&](const dsx::Net::OpTime& t) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("forward", t.fwd);
      o.Set("backward", t.bwd);
      o.Set("forwardCalls", static_cast<double>(t.calls_fwd));
      o.Set("backwardCalls", static_cast<double>(t.calls_bwd));
      return o;
    };
    Napi::Object r = Napi::Object::New(env);
    r.Set("threads", threads_);
    r.Set("batch", a_.batch);
    r.Set("mode", a_.train ? "train" : "infer");
    Napi::Array secs = Napi::Array::New(env, step_seconds_.size());
    for (size_t i = 0; i < step_seconds_.size(); ++i) secs.Set(static_cast<uint32_t>(i), step_seconds_[i]);
    r.Set("stepSeconds", secs);
    Napi::Array per = Napi::Array::New(env, per_step_.size());
    for (size_t i = 0; i < per_step_.size(); ++i) {
      Napi::Float64Array row = Napi::Float64Array::New(env, per_step_[i].size());
      std::copy(per_step_[i].begin(), per_step_[i].end(), row.Data());
      per.Set(static_cast<uint32_t>(i), row);
    }
    r.Set("stepLayerSeconds", per);
    Napi::Array layers = Napi::Array::New(env, layers_.size());
    for (size_t i = 0; i < layers_.size(); ++i) layers.Set(static_cast<uint32_t>(i), row(layers_[i]));
    r.Set("layers", layers);
    r.Set("clear", row(clear_));
    r.Set("sgd", row(sgd_));
    return r;
  }

 private:
  std::vector<double> step_seconds_;
  std::vector<std::vector<double>> per_step_;
  std::vector<dsx::Net::OpTime> layers_;
  dsx::Net::OpTime clear_, sgd_;
  int threads_ = 0;
};

}  // namespace

Napi::Value NetProfile(const Napi::CallbackInfo& info) {
  return queue_worker<NetProfileWorker>(info, parse_profile_args);
}

}  // namespace dsx_addon
