// opsBench, in the OPS section of the export table (addon.cc): op timings taken in C++, so
// that JS allocation does not pollute the figures (bench/ops.ts prints them).
#include <dlfcn.h>  // OpenBLAS, loaded at run time for the side-by-side SGEMM comparison

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "addon.h"
#include "addon_ops.h"
#include "args.h"
#include "ops/scc_index.h"

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

using ops_cblas_sgemm_t = void (*)(int, int, int, int, int, int, float, const float*, int, const float*,
                                   int, float, float*, int);

}  // namespace

// opsBench('sgemm', {M,N,K,transA,transB,minSeconds,openblas?: path}) -> {ours, openblas?} seconds
// opsBench('scc', {N,Cin,H,W,Cout,groups,stride,minSeconds}) -> seconds of scc and dense 1x1 passes
Napi::Value OpsBench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string kind = A::str(info[0], "opsBench: kind", 16);
  if (kind != "sgemm" && kind != "scc") A::type_error("opsBench: kind must be 'sgemm' or 'scc'");
  OpsArgs a{env, "opsBench(" + kind + ")", A::object(info[1], "opsBench: options"), Napi::Object::New(env)};
  dsx::Backend& be = ops_backend();
  const double min_s = a.attrs.Get("minSeconds").IsUndefined() ? 0.5 : A::number(a.attrs.Get("minSeconds"), a.attr("minSeconds"), 0, 600);
  Napi::Object r = Napi::Object::New(env);
  if (kind == "sgemm") {
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
    double best[4] = {1e30, 1e30, 1e30, 1e30};
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
    }
    r.Set("sccForward", best[0]);
    r.Set("sccBackward", best[1]);
    r.Set("denseForward", best[2]);
    r.Set("denseBackward", best[3]);
  }
  r.Set("threads", be.threads());
  return r;
}

}  // namespace dsx_addon
