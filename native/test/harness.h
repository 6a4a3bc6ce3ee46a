// Helpers shared by the C++ checks in native/test (llm.c dev/cuda style): a seeded RNG,
// host data mirrored on a backend, "compare with a reference at a stated tolerance" with one
// printed line per check (max error and time), and a timer that syncs the device.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "backend.h"

namespace dsx_test {

using dsx::Backend;

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform(float lo = -1.f, float hi = 1.f) {
    return lo + (hi - lo) * static_cast<float>((next() >> 40) * (1.0 / 16777216.0));
  }
  std::vector<float> vec(size_t n, float lo = -1.f, float hi = 1.f) {
    std::vector<float> v(n);
    for (auto& x : v) x = uniform(lo, hi);
    return v;
  }
};

// Host data with a copy in one backend's memory.
class Buf {
 public:
  Buf(Backend& be, const std::vector<float>& host) : be_(be), n_(host.size()) {
    p_ = static_cast<float*>(be_.alloc_bytes(bytes()));
    if (n_) be_.upload(p_, host.data(), bytes());
  }
  Buf(Backend& be, size_t n) : be_(be), n_(n) { p_ = static_cast<float*>(be_.alloc_bytes(bytes())); }
  ~Buf() { be_.free_bytes(p_); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  float* p() const { return p_; }
  size_t n() const { return n_; }
  std::vector<float> get() const {
    std::vector<float> h(n_);
    if (n_) be_.download(h.data(), p_, bytes());
    return h;
  }

 private:
  size_t bytes() const { return std::max<size_t>(n_, 1) * sizeof(float); }
  Backend& be_;
  float* p_;
  size_t n_;
};

// Largest |a - b| / (1 + |b|): absolute near zero, relative for large sums.
inline double scaled_error(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]) / (1.0 + std::fabs(b[i]));
    if (!(d <= m)) m = d;  // NaN counts as the worst error
  }
  return m;
}

class Report {
 public:
  // One line: op, what was compared, max scaled error vs tolerance, time of the tested op.
  bool check(const std::string& op, const std::string& what, const std::vector<float>& got,
             const std::vector<float>& want, double tol, double ms = -1.0) {
    const double e = scaled_error(got, want);
    const bool ok = e <= tol;
    if (!ok) ++failures_;
    ++checks_;
    if (ms >= 0)
      std::printf("  %-52s %-8s max err %9.2e (tol %.0e) %9.4f ms  %s\n", op.c_str(), what.c_str(),
                  e, tol, ms, ok ? "ok" : "FAIL");
    else
      std::printf("  %-52s %-8s max err %9.2e (tol %.0e)               %s\n", op.c_str(),
                  what.c_str(), e, tol, ok ? "ok" : "FAIL");
    return ok;
  }
  bool expect(const std::string& what, bool ok) {
    if (!ok) ++failures_;
    ++checks_;
    std::printf("  %-61s %s\n", what.c_str(), ok ? "ok" : "FAIL");
    return ok;
  }
  int failures() const { return failures_; }
  int checks() const { return checks_; }

 private:
  int failures_ = 0, checks_ = 0;
};

// Off in the emulator, where times mean nothing.
inline bool& timing_enabled() {
  static bool on = true;
  return on;
}

// Milliseconds per call of f, after one warm-up call, with the device synchronised;
// -1 (and f is not run) when timing is off.
template <typename F>
double time_ms(Backend& be, F&& f, int reps = 5) {
  if (!timing_enabled()) return -1.0;
  f();
  be.sync();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  be.sync();
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::milli>(t1 - t0).count() / reps;
}

}  // namespace dsx_test
