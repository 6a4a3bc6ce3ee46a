// Every op of a GPU-side backend against the CPU backend on random data, forward and
// gradients (gradients start random, so "backward adds" is checked too), with the max
// error and the GPU time per kernel (llm.c dev/cuda style), plus bitwise determinism of the
// SCC reductions. Shared by cuda_check (a real GPU) and emu_check (the CPU emulator).
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "../src/ops/backend_cuda_extras.cuh"
#include "harness.h"
#include "op_checks.h"

using namespace dsx_test;
using dsx::Backend;

namespace {

// The same host data on the CPU backend and on the GPU.
struct Dual {
  std::vector<float> h;
  Buf c, g;
  Dual(Backend& cpu, Backend& gpu, std::vector<float> v)
      : h(std::move(v)), c(cpu, h), g(gpu, h) {}
};

struct IntDual {
  int32_t* c;
  int32_t* g;
  Backend& cb;
  Backend& gb;
  IntDual(Backend& cpu, Backend& gpu, const std::vector<int32_t>& v) : cb(cpu), gb(gpu) {
    c = static_cast<int32_t*>(cpu.alloc_bytes(v.size() * 4));
    g = static_cast<int32_t*>(gpu.alloc_bytes(v.size() * 4));
    cpu.upload(c, v.data(), v.size() * 4);
    gpu.upload(g, v.data(), v.size() * 4);
  }
  ~IntDual() {
    cb.free_bytes(c);
    gb.free_bytes(g);
  }
};

struct Ctx {
  Backend& cpu;
  Backend& gpu;
  Rng& rng;
  Report& rep;
  Dual make(size_t n, float lo = -1.f, float hi = 1.f) { return Dual(cpu, gpu, rng.vec(n, lo, hi)); }
  bool cmp(const std::string& op, const std::string& what, const Dual& d, double tol,
           double ms = -1.0) {
    return rep.check(op, what, d.g.get(), d.c.get(), tol, ms);
  }
};

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char b[256];
  va_list a;
  va_start(a, f);
  std::vsnprintf(b, sizeof b, f, a);
  va_end(a);
  return b;
}

void check_sgemm(Ctx& t, const char* engine) {
  struct G { int M, N, K; float alpha, beta; };
  const G shapes[] = {{67, 45, 131, 0.7f, 0.5f}, {48, 40, 9000, 1.f, 1.f}, {1, 300, 64, 1.f, 0.f}};
  for (const G& s : shapes)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        const int lda = ta ? s.M : s.K, ldb = tb ? s.K : s.N;
        Dual A = t.make((size_t)s.M * s.K), B = t.make((size_t)s.K * s.N);
        Dual C = t.make((size_t)s.M * s.N);
        auto run = [&](Backend& be, const Dual& a, const Dual& b, Dual& c, bool gpu) {
          be.sgemm(ta, tb, s.M, s.N, s.K, s.alpha, gpu ? a.g.p() : a.c.p(), lda,
                   gpu ? b.g.p() : b.c.p(), ldb, s.beta, gpu ? c.g.p() : c.c.p(), s.N);
        };
        run(t.cpu, A, B, C, false);
        run(t.gpu, A, B, C, true);
        t.gpu.sync();
        const double ms = time_ms(t.gpu, [&] {
          t.gpu.sgemm(ta, tb, s.M, s.N, s.K, s.alpha, A.g.p(), lda, B.g.p(), ldb, 0.f, C.g.p(),
                      s.N);
        });
        // timing ran with beta = 0, so compare a fresh run
        Dual C2 = t.make((size_t)s.M * s.N);
        run(t.cpu, A, B, C2, false);
        run(t.gpu, A, B, C2, true);
        t.cmp(fmt("sgemm[%s] %c%c M%d N%d K%d", engine, ta ? 'T' : 'N', tb ? 'T' : 'N', s.M, s.N,
                  s.K),
              "C", C2, 1e-4, ms);
      }
}

void check_conv(Ctx& t) {
  struct S { dsx::Conv2dShape s; bool bias; };
  const S shapes[] = {
      {{4, 16, 12, 12, 32, 3, 1, 1, 1}, true},   {{4, 16, 12, 12, 32, 3, 2, 1, 1}, false},
      {{4, 32, 10, 10, 32, 3, 1, 1, 32}, false}, {{2, 32, 9, 9, 64, 3, 2, 1, 32}, true},
      {{4, 32, 8, 8, 32, 3, 1, 1, 4}, false},    {{4, 24, 8, 8, 40, 1, 1, 0, 1}, true},
      {{4, 24, 8, 8, 40, 1, 1, 0, 2}, false},    {{2, 3, 16, 16, 16, 7, 2, 3, 1}, false},
      {{2, 8, 6, 6, 12, 1, 2, 0, 1}, true},
  };
  for (const S& sh : shapes) {
    const dsx::Conv2dShape& s = sh.s;
    const std::string name = fmt("conv2d N%d %d->%d %dx%d k%d s%d p%d g%d%s", s.N, s.Cin, s.Cout,
                                 s.H, s.W, s.K, s.stride, s.pad, s.groups, sh.bias ? " +b" : "");
    const size_t nx = (size_t)s.N * s.Cin * s.H * s.W;
    const size_t ny = (size_t)s.N * s.Cout * s.Ho() * s.Wo();
    const size_t nw = (size_t)s.Cout * (s.Cin / s.groups) * s.K * s.K;
    Dual x = t.make(nx), w = t.make(nw), b = t.make(s.Cout), y = t.make(ny), dy = t.make(ny);
    Dual dx = t.make(nx), dw = t.make(nw), db = t.make(s.Cout);
    const float* bc = sh.bias ? b.c.p() : nullptr;
    const float* bg = sh.bias ? b.g.p() : nullptr;
    t.cpu.conv2d_forward(s, x.c.p(), w.c.p(), bc, y.c.p());
    t.gpu.conv2d_forward(s, x.g.p(), w.g.p(), bg, y.g.p());
    t.cmp(name, "y", y, 1e-4,
          time_ms(t.gpu, [&] { t.gpu.conv2d_forward(s, x.g.p(), w.g.p(), bg, y.g.p()); }));
    t.cpu.conv2d_backward(s, x.c.p(), w.c.p(), dy.c.p(), dx.c.p(), dw.c.p(),
                          sh.bias ? db.c.p() : nullptr);
    t.gpu.conv2d_backward(s, x.g.p(), w.g.p(), dy.g.p(), dx.g.p(), dw.g.p(),
                          sh.bias ? db.g.p() : nullptr);
    t.cmp(name, "dx", dx, 1e-4);
    t.cmp(name, "dw", dw, 1e-4);
    if (sh.bias) t.cmp(name, "db", db, 1e-4);
    Dual dx2 = t.make(nx), dw2 = t.make(nw);
    const double ms = time_ms(t.gpu, [&] {
      t.gpu.conv2d_backward(s, x.g.p(), w.g.p(), dy.g.p(), dx2.g.p(), dw2.g.p(), nullptr);
    });
    if (ms >= 0) std::printf("  %-52s %-8s %39.4f ms\n", name.c_str(), "bwd time", ms);
  }
}

struct SccCase {
  dsx::SccShape s;
  const char* what;
};

void check_scc(Ctx& t) {
  const SccCase cases[] = {
      {{2, 8, 3, 3, 8, 2, 4}, "grouped"},
      {{2, 12, 4, 3, 12, 3, 1}, "max overlap"},
      {{2, 16, 3, 3, 16, 1, 16}, "dense"},
      {{3, 10, 2, 5, 25, 2, 3}, "Cout>Cin wrap"},
      {{2, 24, 3, 3, 24, 2, 8}, "co=0.33"},
      {{2, 24, 3, 3, 24, 2, 3}, "co=0.75"},
      {{8, 64, 8, 8, 64, 4, 8}, "co=0.5"},
      {{4, 256, 8, 8, 256, 4, 32}, "co=0.5 wide"},
      {{2, 512, 4, 4, 512, 2, 100}, "D=256 s=100"},
      {{2, 96, 5, 5, 200, 3, 7}, "Cout>Cin tiles"},
      {{1, 2048, 2, 2, 16, 1, 2048}, "D=2048"},
      {{16, 32, 16, 16, 48, 2, 5}, "many splits"},
      {{3, 7, 3, 3, 5, 7, 1}, "D=1"},
  };
  for (const SccCase& c : cases) {
    const dsx::SccShape& s = c.s;
    const std::string name = fmt("scc N%d Cin%d %dx%d Cout%d cg%d s%d %s", s.N, s.Cin, s.H, s.W,
                                 s.Cout, s.groups, s.stride, c.what);
    const size_t nx = (size_t)s.N * s.Cin * s.H * s.W, ny = (size_t)s.N * s.Cout * s.H * s.W;
    const size_t nw = (size_t)s.Cout * s.D();
    Dual x = t.make(nx), w = t.make(nw), y = t.make(ny), dy = t.make(ny);
    Dual dx = t.make(nx), dw = t.make(nw);
    t.cpu.scc_forward(s, x.c.p(), w.c.p(), y.c.p());
    t.gpu.scc_forward(s, x.g.p(), w.g.p(), y.g.p());
    t.cmp(name, "y", y, 1e-4, time_ms(t.gpu, [&] { t.gpu.scc_forward(s, x.g.p(), w.g.p(), y.g.p()); }));
    t.cpu.scc_backward(s, x.c.p(), w.c.p(), dy.c.p(), dx.c.p(), dw.c.p());
    t.gpu.scc_backward(s, x.g.p(), w.g.p(), dy.g.p(), dx.g.p(), dw.g.p());
    Dual tdx = t.make(nx), tdw = t.make(nw);
    t.cmp(name, "dx", dx, 1e-4, time_ms(t.gpu, [&] {
            t.gpu.scc_backward(s, x.g.p(), w.g.p(), dy.g.p(), tdx.g.p(), nullptr);
          }));
    t.cmp(name, "dw", dw, 1e-4, time_ms(t.gpu, [&] {
            t.gpu.scc_backward(s, x.g.p(), w.g.p(), dy.g.p(), nullptr, tdw.g.p());
          }));
    // deterministic: two runs from zero give the same bits
    Buf a(t.gpu, nw), b(t.gpu, nw), ax(t.gpu, nx), bx(t.gpu, nx);
    t.gpu.scc_backward(s, x.g.p(), w.g.p(), dy.g.p(), ax.p(), a.p());
    t.gpu.scc_backward(s, x.g.p(), w.g.p(), dy.g.p(), bx.p(), b.p());
    const auto va = a.get(), vb = b.get(), vax = ax.get(), vbx = bx.get();
    t.rep.expect(name + " bitwise repeatable",
                 std::memcmp(va.data(), vb.data(), nw * 4) == 0 &&
                     std::memcmp(vax.data(), vbx.data(), nx * 4) == 0);
  }
}

void check_bn(Ctx& t) {
  struct S { int N, C, HW; };
  for (const S& s : {S{8, 24, 49}, S{32, 8, 256}, S{1, 5, 1}}) {
    const std::string name = fmt("batchnorm N%d C%d HW%d", s.N, s.C, s.HW);
    const size_t n = (size_t)s.N * s.C * s.HW;
    Dual x = t.make(n, -2.f, 3.f), g = t.make(s.C, 0.5f, 1.5f), b = t.make(s.C), y = t.make(n);
    Dual sm = t.make(s.C), si = t.make(s.C), rm = t.make(s.C), rv = t.make(s.C, 0.5f, 2.f);
    t.cpu.batchnorm_forward_train(s.N, s.C, s.HW, x.c.p(), g.c.p(), b.c.p(), y.c.p(), sm.c.p(),
                                  si.c.p(), rm.c.p(), rv.c.p(), 0.1f, 1e-5f);
    t.gpu.batchnorm_forward_train(s.N, s.C, s.HW, x.g.p(), g.g.p(), b.g.p(), y.g.p(), sm.g.p(),
                                  si.g.p(), rm.g.p(), rv.g.p(), 0.1f, 1e-5f);
    t.cmp(name + " train", "y", y, 1e-4);
    t.cmp(name + " train", "mean", sm, 1e-5);
    t.cmp(name + " train", "invstd", si, 1e-4);
    t.cmp(name + " train", "run_mean", rm, 1e-5);
    t.cmp(name + " train", "run_var", rv, 1e-4);
    Dual ye = t.make(n);
    t.cpu.batchnorm_forward_eval(s.N, s.C, s.HW, x.c.p(), g.c.p(), b.c.p(), rm.c.p(), rv.c.p(),
                                 1e-5f, ye.c.p());
    t.gpu.batchnorm_forward_eval(s.N, s.C, s.HW, x.g.p(), g.g.p(), b.g.p(), rm.g.p(), rv.g.p(),
                                 1e-5f, ye.g.p());
    t.cmp(name + " eval", "y", ye, 1e-4);
    Dual dy = t.make(n), dx = t.make(n), dg = t.make(s.C), dbeta = t.make(s.C);
    t.cpu.batchnorm_backward(s.N, s.C, s.HW, x.c.p(), g.c.p(), sm.c.p(), si.c.p(), dy.c.p(),
                             dx.c.p(), dg.c.p(), dbeta.c.p());
    t.gpu.batchnorm_backward(s.N, s.C, s.HW, x.g.p(), g.g.p(), sm.g.p(), si.g.p(), dy.g.p(),
                             dx.g.p(), dg.g.p(), dbeta.g.p());
    t.cmp(name + " bwd", "dx", dx, 1e-4);
    t.cmp(name + " bwd", "dgamma", dg, 1e-4);
    t.cmp(name + " bwd", "dbeta", dbeta, 1e-4);
  }
}

void check_small_ops(Ctx& t) {
  const size_t n = 100003;
  {
    Dual x = t.make(n), y = t.make(n), dy = t.make(n), dx = t.make(n);
    t.cpu.relu_forward(n, x.c.p(), y.c.p());
    t.gpu.relu_forward(n, x.g.p(), y.g.p());
    t.cmp("relu", "y", y, 0, time_ms(t.gpu, [&] { t.gpu.relu_forward(n, x.g.p(), y.g.p()); }));
    t.cpu.relu_backward(n, y.c.p(), dy.c.p(), dx.c.p());
    t.gpu.relu_backward(n, y.g.p(), dy.g.p(), dx.g.p());
    t.cmp("relu", "dx", dx, 0);
  }
  {
    Dual a = t.make(n), b = t.make(n), y = t.make(n), dy = t.make(n), da = t.make(n), db = t.make(n);
    t.cpu.add_forward(n, a.c.p(), b.c.p(), y.c.p());
    t.gpu.add_forward(n, a.g.p(), b.g.p(), y.g.p());
    t.cmp("add", "y", y, 0);
    t.cpu.add_backward(n, dy.c.p(), da.c.p(), db.c.p());
    t.gpu.add_backward(n, dy.g.p(), da.g.p(), db.g.p());
    t.cmp("add", "da", da, 0);
    t.cmp("add", "db", db, 0);
  }
  for (const dsx::PoolShape& s : {dsx::PoolShape{4, 8, 11, 11, 3, 2, 1}, dsx::PoolShape{4, 8, 8, 8, 2, 2, 0}}) {
    const std::string name = fmt("maxpool %dx%d k%d s%d p%d", s.H, s.W, s.K, s.stride, s.pad);
    const size_t nx = (size_t)s.N * s.C * s.H * s.W, ny = (size_t)s.N * s.C * s.Ho() * s.Wo();
    std::vector<float> xv = t.rng.vec(nx);
    for (size_t i = 0; i < nx; i += 7) xv[i] = 0.25f;  // ties: the first maximum wins
    Dual x(t.cpu, t.gpu, xv), y = t.make(ny), dy = t.make(ny), dx = t.make(nx);
    t.cpu.maxpool_forward(s, x.c.p(), y.c.p());
    t.gpu.maxpool_forward(s, x.g.p(), y.g.p());
    t.cmp(name, "y", y, 0);
    t.cpu.maxpool_backward(s, x.c.p(), dy.c.p(), dx.c.p());
    t.gpu.maxpool_backward(s, x.g.p(), dy.g.p(), dx.g.p());
    t.cmp(name, "dx", dx, 1e-6);
  }
  {
    const int N = 8, C = 20, HW = 49;
    Dual x = t.make((size_t)N * C * HW), y = t.make(N * C), dy = t.make(N * C);
    Dual dx = t.make((size_t)N * C * HW);
    t.cpu.gap_forward(N, C, HW, x.c.p(), y.c.p());
    t.gpu.gap_forward(N, C, HW, x.g.p(), y.g.p());
    t.cmp("gap", "y", y, 1e-5);
    t.cpu.gap_backward(N, C, HW, dy.c.p(), dx.c.p());
    t.gpu.gap_backward(N, C, HW, dy.g.p(), dx.g.p());
    t.cmp("gap", "dx", dx, 1e-6);
  }
  {
    const int N = 33, In = 70, Out = 10;
    Dual x = t.make((size_t)N * In), w = t.make((size_t)Out * In), b = t.make(Out);
    Dual y = t.make((size_t)N * Out), dy = t.make((size_t)N * Out), dx = t.make((size_t)N * In);
    Dual dw = t.make((size_t)Out * In), db = t.make(Out);
    t.cpu.linear_forward(N, In, Out, x.c.p(), w.c.p(), b.c.p(), y.c.p());
    t.gpu.linear_forward(N, In, Out, x.g.p(), w.g.p(), b.g.p(), y.g.p());
    t.cmp("linear 70->10", "y", y, 1e-5);
    t.cpu.linear_backward(N, In, Out, x.c.p(), w.c.p(), dy.c.p(), dx.c.p(), dw.c.p(), db.c.p());
    t.gpu.linear_backward(N, In, Out, x.g.p(), w.g.p(), dy.g.p(), dx.g.p(), dw.g.p(), db.g.p());
    t.cmp("linear 70->10", "dx", dx, 1e-5);
    t.cmp("linear 70->10", "dw", dw, 1e-5);
    t.cmp("linear 70->10", "db", db, 1e-5);
  }
  {
    const int N = 4, C = 24, HW = 9, G = 3;
    Dual x = t.make((size_t)N * C * HW), y = t.make((size_t)N * C * HW);
    Dual dy = t.make((size_t)N * C * HW), dx = t.make((size_t)N * C * HW);
    t.cpu.shuffle_forward(N, C, HW, G, x.c.p(), y.c.p());
    t.gpu.shuffle_forward(N, C, HW, G, x.g.p(), y.g.p());
    t.cmp("shuffle g3", "y", y, 0);
    t.cpu.shuffle_backward(N, C, HW, G, dy.c.p(), dx.c.p());
    t.gpu.shuffle_backward(N, C, HW, G, dy.g.p(), dx.g.p());
    t.cmp("shuffle g3", "dx", dx, 0);
  }
  struct Sc { int N, Cin, H, W, stride, Cout, pad; };
  for (const Sc& s : {Sc{4, 16, 8, 8, 2, 32, 8}, Sc{2, 16, 7, 7, 2, 24, 3}, Sc{2, 16, 5, 5, 1, 16, 0}}) {
    const int Ho = (s.H + s.stride - 1) / s.stride, Wo = (s.W + s.stride - 1) / s.stride;
    const std::string name = fmt("shortcut_a %dx%d s%d %d->%d", s.H, s.W, s.stride, s.Cin, s.Cout);
    const size_t nx = (size_t)s.N * s.Cin * s.H * s.W, ny = (size_t)s.N * s.Cout * Ho * Wo;
    Dual x = t.make(nx), y = t.make(ny), dy = t.make(ny), dx = t.make(nx);
    t.cpu.shortcut_a_forward(s.N, s.Cin, s.H, s.W, s.stride, s.Cout, s.pad, x.c.p(), y.c.p());
    t.gpu.shortcut_a_forward(s.N, s.Cin, s.H, s.W, s.stride, s.Cout, s.pad, x.g.p(), y.g.p());
    t.cmp(name, "y", y, 0);
    t.cpu.shortcut_a_backward(s.N, s.Cin, s.H, s.W, s.stride, s.Cout, s.pad, dy.c.p(), dx.c.p());
    t.gpu.shortcut_a_backward(s.N, s.Cin, s.H, s.W, s.stride, s.Cout, s.pad, dy.g.p(), dx.g.p());
    t.cmp(name, "dx", dx, 0);
  }
  {
    const int N = 37, K = 10;
    Dual z = t.make((size_t)N * K, -4.f, 4.f), d = t.make((size_t)N * K);
    std::vector<int32_t> lab(N);
    for (int i = 0; i < N; ++i) lab[i] = static_cast<int32_t>(t.rng.next() % K);
    IntDual l(t.cpu, t.gpu, lab);
    double lc = 0, lg = 0;
    int cc = -1, cg = -2;
    t.cpu.softmax_xent(N, K, z.c.p(), l.c, 1.f / N, d.c.p(), &lc, &cc);
    t.gpu.softmax_xent(N, K, z.g.p(), l.g, 1.f / N, d.g.p(), &lg, &cg);
    t.cmp("softmax_xent", "dlogits", d, 1e-6);
    t.rep.expect(fmt("softmax_xent loss %.6f vs %.6f, correct %d vs %d", lg, lc, cg, cc),
                 std::fabs(lg - lc) <= 1e-5 * (1 + std::fabs(lc)) && cc == cg);
    lg = 0;
    cg = -2;
    t.gpu.softmax_xent_eval(N, K, z.g.p(), l.g, &lg, &cg);
    t.rep.expect("softmax_xent_eval matches", std::fabs(lg - lc) <= 1e-5 * (1 + std::fabs(lc)) && cc == cg);
  }
  {
    std::vector<float> v = t.rng.vec(n);
    Buf ok(t.gpu, v);
    v[n / 2] = std::numeric_limits<float>::quiet_NaN();
    Buf nan(t.gpu, v);
    v[n / 2] = 1.f;
    v[n - 1] = std::numeric_limits<float>::infinity();
    Buf inf(t.gpu, v);
    t.rep.expect("all_finite: finite, NaN, inf",
                 t.gpu.all_finite(n, ok.p()) && !t.gpu.all_finite(n, nan.p()) &&
                     !t.gpu.all_finite(n, inf.p()));
  }
  for (bool nesterov : {false, true}) {
    Dual p = t.make(n), g = t.make(n), m = t.make(n);
    t.cpu.sgd_step(n, p.c.p(), g.c.p(), m.c.p(), 0.1f, 0.9f, 5e-4f, nesterov);
    t.gpu.sgd_step(n, p.g.p(), g.g.p(), m.g.p(), 0.1f, 0.9f, 5e-4f, nesterov);
    t.cmp(nesterov ? "sgd nesterov" : "sgd", "p", p, 1e-6);
    t.cmp(nesterov ? "sgd nesterov" : "sgd", "m", m, 1e-6);
  }
  {
    // upload through the pinned staging buffers (> 8 MiB), copy, zero, download
    const size_t big = 3u << 20;
    std::vector<float> v = t.rng.vec(big);
    Buf a(t.gpu, v), b(t.gpu, big);
    t.gpu.copy(b.p(), a.p(), big);
    t.rep.check("upload/copy/download 12 MiB", "data", b.get(), v, 0);
    t.gpu.zero(b.p(), big);
    t.rep.check("zero 12 MiB", "data", b.get(), std::vector<float>(big, 0.f), 0);
  }
}

// The fused ops and the contract's explicit parameters: BN+ReLU, BN statistics only, the
// residual tail, inputs read through a folded BN+ReLU, first contributions that overwrite
// (also in place, dx = dy). Backward inputs (affine maps included) are the same data on both
// backends, so a ReLU mask cannot differ by a rounding of its own.
void check_fused(Ctx& t) {
  struct S { int N, C, HW; };
  for (const S& s : {S{8, 24, 49}, S{4, 40, 64}, S{1, 5, 1}}) {
    const std::string name = fmt("fused bn N%d C%d HW%d", s.N, s.C, s.HW);
    const size_t n = (size_t)s.N * s.C * s.HW;
    Dual x = t.make(n, -2.f, 3.f), g = t.make(s.C, 0.5f, 1.5f), b = t.make(s.C), y = t.make(n);
    Dual sm = t.make(s.C), si = t.make(s.C), aff = t.make(2 * s.C), rm = t.make(s.C),
         rv = t.make(s.C, 0.5f, 2.f);
    t.cpu.batchnorm_relu_forward_train(s.N, s.C, s.HW, x.c.p(), g.c.p(), b.c.p(), y.c.p(),
                                       sm.c.p(), si.c.p(), aff.c.p(), rm.c.p(), rv.c.p(), 0.1f,
                                       1e-5f);
    t.gpu.batchnorm_relu_forward_train(s.N, s.C, s.HW, x.g.p(), g.g.p(), b.g.p(), y.g.p(),
                                       sm.g.p(), si.g.p(), aff.g.p(), rm.g.p(), rv.g.p(), 0.1f,
                                       1e-5f);
    t.cmp(name + " bn+relu", "y", y, 1e-4);
    t.cmp(name + " bn+relu", "mean", sm, 1e-5);
    t.cmp(name + " bn+relu", "invstd", si, 1e-4);
    t.cmp(name + " bn+relu", "affine", aff, 1e-4);
    t.cmp(name + " bn+relu", "run_mean", rm, 1e-5);
    t.cmp(name + " bn+relu", "run_var", rv, 1e-4);
    Dual aff2 = t.make(2 * s.C), sm2 = t.make(s.C), si2 = t.make(s.C);
    t.cpu.batchnorm_stats_train(s.N, s.C, s.HW, x.c.p(), g.c.p(), b.c.p(), sm2.c.p(), si2.c.p(),
                                aff2.c.p(), nullptr, nullptr, 0.1f, 1e-5f);
    t.gpu.batchnorm_stats_train(s.N, s.C, s.HW, x.g.p(), g.g.p(), b.g.p(), sm2.g.p(), si2.g.p(),
                                aff2.g.p(), nullptr, nullptr, 0.1f, 1e-5f);
    t.cmp(name + " stats", "affine", aff2, 1e-4);
    t.cmp(name + " stats", "invstd", si2, 1e-4);

    // backward inputs: the CPU's statistics and affine map on both sides
    const std::vector<float> hm = sm.c.get(), hi = si.c.get(), ha = aff.c.get();
    Dual m(t.cpu, t.gpu, hm), is(t.cpu, t.gpu, hi), af(t.cpu, t.gpu, ha);
    for (bool ow : {false, true}) {
      const std::string w = name + (ow ? " overwrite" : " add");
      Dual dy = t.make(n), dx = t.make(n), dg = t.make(s.C), db = t.make(s.C);
      t.cpu.batchnorm_relu_backward(s.N, s.C, s.HW, x.c.p(), af.c.p(), g.c.p(), m.c.p(), is.c.p(),
                                    dy.c.p(), dx.c.p(), dg.c.p(), db.c.p(), ow);
      t.gpu.batchnorm_relu_backward(s.N, s.C, s.HW, x.g.p(), af.g.p(), g.g.p(), m.g.p(), is.g.p(),
                                    dy.g.p(), dx.g.p(), dg.g.p(), db.g.p(), ow);
      t.cmp(w + " bn+relu bwd", "dx", dx, 1e-4);
      t.cmp(w + " bn+relu bwd", "dgamma", dg, 1e-4);
      t.cmp(w + " bn+relu bwd", "dbeta", db, 1e-4);
      Dual dx2 = t.make(n);
      t.cpu.batchnorm_backward(s.N, s.C, s.HW, x.c.p(), g.c.p(), m.c.p(), is.c.p(), dy.c.p(),
                               dx2.c.p(), nullptr, nullptr, ow);
      t.gpu.batchnorm_backward(s.N, s.C, s.HW, x.g.p(), g.g.p(), m.g.p(), is.g.p(), dy.g.p(),
                               dx2.g.p(), nullptr, nullptr, ow);
      t.cmp(w + " bn bwd", "dx", dx2, 1e-4);
      // the residual tail, y from its own forward
      Dual sc = t.make(n), yt = t.make(n), dxs = t.make(n), dss = t.make(n);
      Dual dgt = t.make(s.C), dbt = t.make(s.C);
      t.cpu.batchnorm_add_relu_forward(s.N, s.C, s.HW, x.c.p(), af.c.p(), sc.c.p(), yt.c.p());
      t.gpu.batchnorm_add_relu_forward(s.N, s.C, s.HW, x.g.p(), af.g.p(), sc.g.p(), yt.g.p());
      t.cmp(w + " bn+add+relu", "y", yt, 1e-5);
      const std::vector<float> hy = yt.c.get();
      Dual yy(t.cpu, t.gpu, hy);
      t.cpu.batchnorm_add_relu_backward(s.N, s.C, s.HW, x.c.p(), yy.c.p(), g.c.p(), m.c.p(),
                                        is.c.p(), dy.c.p(), dxs.c.p(), dss.c.p(), dgt.c.p(),
                                        dbt.c.p(), ow, ow);
      t.gpu.batchnorm_add_relu_backward(s.N, s.C, s.HW, x.g.p(), yy.g.p(), g.g.p(), m.g.p(),
                                        is.g.p(), dy.g.p(), dxs.g.p(), dss.g.p(), dgt.g.p(),
                                        dbt.g.p(), ow, ow);
      t.cmp(w + " bn+add+relu bwd", "dx", dxs, 1e-4);
      t.cmp(w + " bn+add+relu bwd", "ds", dss, 1e-6);
      t.cmp(w + " bn+add+relu bwd", "dgamma", dgt, 1e-4);
      t.cmp(w + " bn+add+relu bwd", "dbeta", dbt, 1e-4);
    }
    {  // in place: dx is dy's buffer
      Dual d = t.make(n);
      t.cpu.batchnorm_relu_backward(s.N, s.C, s.HW, x.c.p(), af.c.p(), g.c.p(), m.c.p(), is.c.p(),
                                    d.c.p(), d.c.p(), nullptr, nullptr, true);
      t.gpu.batchnorm_relu_backward(s.N, s.C, s.HW, x.g.p(), af.g.p(), g.g.p(), m.g.p(), is.g.p(),
                                    d.g.p(), d.g.p(), nullptr, nullptr, true);
      t.cmp(name + " in place bn+relu bwd", "dx", d, 1e-4);
    }
  }
  {  // elementwise overwrites, in place where the executor does it
    const size_t n = 5003;
    Dual y = t.make(n), d = t.make(n), dx = t.make(n);
    t.cpu.relu_backward(n, y.c.p(), d.c.p(), dx.c.p(), true);
    t.gpu.relu_backward(n, y.g.p(), d.g.p(), dx.g.p(), true);
    t.cmp("relu bwd overwrite", "dx", dx, 0);
    t.cpu.relu_backward(n, y.c.p(), d.c.p(), d.c.p(), true);
    t.gpu.relu_backward(n, y.g.p(), d.g.p(), d.g.p(), true);
    t.cmp("relu bwd in place", "dx", d, 0);
    Dual dy = t.make(n), db = t.make(n), da = t.make(n);
    t.cpu.add_backward(n, dy.c.p(), dy.c.p(), db.c.p(), true, true);
    t.gpu.add_backward(n, dy.g.p(), dy.g.p(), db.g.p(), true, true);
    t.cmp("add bwd in place + overwrite", "da", dy, 0);
    t.cmp("add bwd in place + overwrite", "db", db, 0);
    t.cpu.add_backward(n, dy.c.p(), da.c.p(), db.c.p(), true, false);
    t.gpu.add_backward(n, dy.g.p(), da.g.p(), db.g.p(), true, false);
    t.cmp("add bwd overwrite a, add b", "da", da, 0);
    t.cmp("add bwd overwrite a, add b", "db", db, 0);
    const dsx::PoolShape ps{4, 8, 11, 11, 3, 2, 1};
    const size_t nx = (size_t)ps.N * ps.C * ps.H * ps.W, ny = (size_t)ps.N * ps.C * ps.Ho() * ps.Wo();
    Dual px = t.make(nx), pdy = t.make(ny), pdx = t.make(nx);
    t.cpu.maxpool_backward(ps, px.c.p(), pdy.c.p(), pdx.c.p(), true);
    t.gpu.maxpool_backward(ps, px.g.p(), pdy.g.p(), pdx.g.p(), true);
    t.cmp("maxpool bwd overwrite", "dx", pdx, 1e-6);
  }
  // convs reading a folded BN+ReLU: every route (direct, im2col, 1x1 GEMM), dx overwritten
  const dsx::Conv2dShape convs[] = {
      {4, 16, 8, 8, 16, 3, 1, 1, 16}, {2, 16, 9, 9, 16, 3, 2, 1, 16}, {4, 16, 8, 8, 24, 3, 1, 1, 1},
      {2, 8, 7, 7, 12, 3, 2, 1, 2},   {4, 24, 6, 6, 40, 1, 1, 0, 1},  {4, 24, 6, 6, 40, 1, 1, 0, 2},
  };
  for (const dsx::Conv2dShape& s : convs) {
    const std::string name = fmt("folded conv2d %d->%d %dx%d k%d s%d g%d", s.Cin, s.Cout, s.H, s.W,
                                 s.K, s.stride, s.groups);
    const size_t nx = (size_t)s.N * s.Cin * s.H * s.W, ny = (size_t)s.N * s.Cout * s.Ho() * s.Wo();
    const size_t nw = (size_t)s.Cout * (s.Cin / s.groups) * s.K * s.K;
    std::vector<float> ha = t.rng.vec(2 * s.Cin, -1.f, 1.f);
    Dual x = t.make(nx), w = t.make(nw), af(t.cpu, t.gpu, ha), y = t.make(ny), dy = t.make(ny);
    Dual dx = t.make(nx), dw = t.make(nw);
    const dsx::InputFold fc{af.c.p(), s.Cin}, fg{af.g.p(), s.Cin};
    t.cpu.conv2d_forward(s, x.c.p(), w.c.p(), nullptr, y.c.p(), fc);
    t.gpu.conv2d_forward(s, x.g.p(), w.g.p(), nullptr, y.g.p(), fg);
    t.cmp(name, "y", y, 1e-4);
    t.cpu.conv2d_backward(s, x.c.p(), w.c.p(), dy.c.p(), dx.c.p(), dw.c.p(), nullptr, true, fc);
    t.gpu.conv2d_backward(s, x.g.p(), w.g.p(), dy.g.p(), dx.g.p(), dw.g.p(), nullptr, true, fg);
    t.cmp(name, "dx", dx, 1e-4);
    t.cmp(name, "dw", dw, 1e-4);
  }
  const dsx::SccShape sccs[] = {{4, 16, 4, 4, 32, 2, 4}, {2, 24, 3, 3, 24, 2, 3}, {2, 12, 5, 5, 20, 3, 1}};
  for (const dsx::SccShape& s : sccs) {
    const std::string name = fmt("folded scc Cin%d Cout%d cg%d s%d", s.Cin, s.Cout, s.groups, s.stride);
    const size_t nx = (size_t)s.N * s.Cin * s.H * s.W, ny = (size_t)s.N * s.Cout * s.H * s.W;
    const size_t nw = (size_t)s.Cout * s.D();
    std::vector<float> ha = t.rng.vec(2 * s.Cin, -1.f, 1.f);
    Dual x = t.make(nx), w = t.make(nw), af(t.cpu, t.gpu, ha), y = t.make(ny), dy = t.make(ny);
    Dual dx = t.make(nx), dw = t.make(nw);
    const dsx::InputFold fc{af.c.p(), s.Cin}, fg{af.g.p(), s.Cin};
    t.cpu.scc_forward(s, x.c.p(), w.c.p(), y.c.p(), fc);
    t.gpu.scc_forward(s, x.g.p(), w.g.p(), y.g.p(), fg);
    t.cmp(name, "y", y, 1e-4);
    t.cpu.scc_backward(s, x.c.p(), w.c.p(), dy.c.p(), dx.c.p(), dw.c.p(), true, fc);
    t.gpu.scc_backward(s, x.g.p(), w.g.p(), dy.g.p(), dx.g.p(), dw.g.p(), true, fg);
    t.cmp(name, "dx", dx, 1e-4);
    t.cmp(name, "dw", dw, 1e-4);
  }
}

// Grouped convolutions with more groups than a grid's z dimension takes: the GEMM slices
// the batch (the emulator's limit is small, so small shapes reach every slicing branch).
void check_gemm_slicing(Ctx& t) {
  const dsx::Conv2dShape convs[] = {{3, 800, 2, 2, 800, 1, 1, 0, 20}, {40, 80, 3, 3, 80, 1, 1, 0, 2}};
  for (const dsx::Conv2dShape& s : convs) {
    const std::string name = fmt("sliced gemm conv2d N%d %d->%d g%d", s.N, s.Cin, s.Cout, s.groups);
    const size_t nx = (size_t)s.N * s.Cin * s.H * s.W, ny = (size_t)s.N * s.Cout * s.Ho() * s.Wo();
    const size_t nw = (size_t)s.Cout * (s.Cin / s.groups);
    Dual x = t.make(nx), w = t.make(nw), y = t.make(ny);
    t.cpu.conv2d_forward(s, x.c.p(), w.c.p(), nullptr, y.c.p());
    t.gpu.conv2d_forward(s, x.g.p(), w.g.p(), nullptr, y.g.p());
    t.cmp(name, "y", y, 1e-5);
  }
}

}  // namespace


int run_op_checks(Backend& cpu, Backend& gpu) {
  Rng rng(1234);
  Report rep;
  Ctx t{cpu, gpu, rng, rep};
  const std::string engine = dsx::cuda_gemm_engine(gpu);
  const bool cublas = engine.rfind("cublas", 0) == 0;
  std::printf("%s: %s backend vs CPU backend (GEMM: %s)\n", gpu.name().c_str(),
              gpu.name().c_str(), engine.empty() ? "own tiled sgemm" : engine.c_str());
  // A check that throws (any CUDA error comes back as an exception) counts as one failure
  // and the rest still run: the count line below is what gpu-check.sh reads.
  auto run = [&](const char* name, auto&& check) {
    try {
      check();
    } catch (const std::exception& e) {
      rep.expect(std::string(name) + ": threw: " + e.what(), false);
    }
  };
  run("sgemm", [&] { check_sgemm(t, cublas ? "cublas" : "own"); });
  if (cublas) {
    run("own sgemm and convs", [&] {
      dsx::cuda_prefer_cublas(gpu, false);  // our kernel too, and the convs through it
      check_sgemm(t, "own");
      check_conv(t);
    });
    dsx::cuda_prefer_cublas(gpu, true);
  }
  run("conv", [&] { check_conv(t); });
  run("scc", [&] { check_scc(t); });
  run("batchnorm", [&] { check_bn(t); });
  run("small ops", [&] { check_small_ops(t); });
  run("fused", [&] { check_fused(t); });
  run("gemm slicing", [&] { check_gemm_slicing(t); });
  std::printf("%s: %d checks, %d failed\n", gpu.name().c_str(), rep.checks(), rep.failures());
  return rep.failures() == 0 ? 0 : 1;
}
