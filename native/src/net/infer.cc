// Inference on a built network (infer.h): logits for parity checks, timed forwards for
// latency. Both run the schedule a deployment would run (the CPU executor, or Net::infer on
// a GPU), so what is timed is what the ONNX parity tests check.
#include "net/infer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace dsx {

std::vector<float> forward_logits(Net& net, const float* x, int n, bool layer_by_layer) {
  const NetSpec& s = net.plan().spec;
  const size_t chw = static_cast<size_t>(s.input[0]) * s.input[1] * s.input[2];
  if (n < 1 || n > net.capacity()) throw std::runtime_error("batch size out of range");
  Backend& be = net.backend();
  be.upload(net.input(), x, n * chw * sizeof(float));
  if (layer_by_layer)
    net.forward(n, false);
  else
    net.infer(n);
  std::vector<float> out(static_cast<size_t>(n) * s.classes);
  be.download(out.data(), net.output(), out.size() * sizeof(float));
  return out;
}

std::vector<float> forward_logits(CpuInference& inf, const float* x, int n) {
  if (n < 1 || n > inf.capacity()) throw std::runtime_error("batch size out of range");
  const NetSpec& s = inf.spec();
  const size_t chw = static_cast<size_t>(s.input[0]) * s.input[1] * s.input[2];
  std::copy(x, x + n * chw, inf.input());
  inf.run(n);
  return std::vector<float>(inf.output(), inf.output() + static_cast<size_t>(n) * s.classes);
}

std::vector<float> seeded_state(const NetSpec& spec, uint64_t seed) {
  auto be = make_cpu_backend(1);
  Net net(spec, *be, 1);
  net.init(seed);
  std::vector<float> state(net.plan().state_size());
  net.get_state(state.data());
  return state;
}

LatencyRun time_forward(CpuInference& inf, int n, int warmup, int reps) {
  if (n < 1 || n > inf.capacity()) throw std::runtime_error("batch size out of range");
  if (warmup < 0 || reps < 1) throw std::runtime_error("warmup must be >= 0 and reps >= 1");
  for (int i = 0; i < warmup; ++i) inf.run(n);
  LatencyRun r;
  r.seconds.reserve(reps);
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    inf.run(n);
    r.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (inf.profiling()) inf.print_profile(stderr);
  return r;
}

LatencyRun time_forward(Net& net, int n, int warmup, int reps) {
  if (n < 1 || n > net.capacity()) throw std::runtime_error("batch size out of range");
  if (warmup < 0 || reps < 1) throw std::runtime_error("warmup must be >= 0 and reps >= 1");
  Backend& be = net.backend();
  for (int i = 0; i < warmup; ++i) net.infer(n);
  be.sync();
  LatencyRun r;
  r.seconds.reserve(reps);
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    net.infer(n);
    be.sync();
    r.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  // DSXPLORE_PROFILE: where the inference time went, as for training runs
  if (net.profiling()) net.print_profile(stderr);
  return r;
}

}  // namespace dsx
