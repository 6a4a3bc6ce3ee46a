// ctest `winograd`: the deployment executor's Winograd F(2x2, 3x3) route
// (conv_winograd_cpu.h) against a naive float64 reference written from the definitions,
// y = relu?(conv(x, w) + bias[c] + residual), with and without the residual and the ReLU, at
// batch 1 and 3 (and more images than threads), 1 and 2 threads; odd planes (7x7, 5x9, 9x5,
// 3x3), planes of one tile or less (1x1, 2x2, 1x5), tiles across vector boundaries, output
// channels not a multiple of the register tile. Tolerance: max |ours - ref| <= 1e-4 *
// max(1, max |ref|), as the other deployment routes (infer_cpu_check.cc); the transforms'
// extra roundings are far below it. Also checks that 1 and 2 threads give identical bits.
// `winograd_cpu_check --bench` times the route against the direct one on ResNet-20's
// stride-1 3x3 layers (the figures behind conv_winograd_preferred).
#include <chrono>
#include <functional>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "harness.h"
#include "ops/conv_direct_cpu.h"
#include "ops/conv_winograd_cpu.h"
#include "ops/ops_cpu.h"

namespace {

using dsx::Conv2dShape;
using dsx::Epilogue;

int failures = 0;

std::vector<double> conv_ref(const Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& bias, const float* res, bool relu) {
  std::vector<double> y(static_cast<size_t>(s.N) * s.Cout * s.H * s.W);
  for (int n = 0; n < s.N; ++n)
    for (int co = 0; co < s.Cout; ++co)
      for (int oh = 0; oh < s.H; ++oh)
        for (int ow = 0; ow < s.W; ++ow) {
          double acc = 0;
          for (int ci = 0; ci < s.Cin; ++ci)
            for (int kh = 0; kh < 3; ++kh)
              for (int kw = 0; kw < 3; ++kw) {
                const int ih = oh - 1 + kh, iw = ow - 1 + kw;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                acc += static_cast<double>(w[((static_cast<size_t>(co) * s.Cin + ci) * 3 + kh) * 3 + kw]) *
                       x[((static_cast<size_t>(n) * s.Cin + ci) * s.H + ih) * s.W + iw];
              }
          const size_t i = ((static_cast<size_t>(n) * s.Cout + co) * s.H + oh) * s.W + ow;
          acc += bias[co];
          if (res) acc += res[i];
          y[i] = relu ? std::max(acc, 0.0) : acc;
        }
  return y;
}

std::string name(const Conv2dShape& s) {
  char b[120];
  std::snprintf(b, sizeof b, "winograd N%d %dx%dx%d -> %d", s.N, s.Cin, s.H, s.W, s.Cout);
  return b;
}

void check(dsx::CpuCtx* ctxs[2], Conv2dShape s, dsx_test::Rng& rng) {
  if (!dsx::conv_winograd_applies(s)) {
    std::printf("skip %-60s (no Winograd route in this build)\n", name(s).c_str());
    return;
  }
  const size_t nx = static_cast<size_t>(s.N) * s.Cin * s.H * s.W;
  const size_t ny = static_cast<size_t>(s.N) * s.Cout * s.H * s.W;
  const auto x = rng.vec(nx);
  const auto w = rng.vec(static_cast<size_t>(s.Cout) * s.Cin * 9);
  const auto bias = rng.vec(s.Cout);
  const auto res = rng.vec(ny);
  std::vector<float> packed(dsx::conv_winograd_packed_size(s));
  dsx::conv_winograd_pack(s, w.data(), packed.data());
  for (int c = 0; c < 4; ++c) {
    const bool relu = c & 1, residual = c & 2;
    Epilogue epi;
    epi.bias = bias.data();
    epi.residual = residual ? res.data() : nullptr;
    epi.relu = relu;
    const auto ref = conv_ref(s, x, w, bias, epi.residual, relu);
    std::vector<float> y1;
    for (int t = 0; t < 2; ++t) {
      std::vector<float> y(ny, 7.0f);  // overwritten, never added into
      dsx::conv_winograd_forward(*ctxs[t], s, x.data(), y.data(), epi, packed.data());
      double err = 0, scale = 1;
      for (size_t i = 0; i < ny; ++i) {
        err = std::max(err, std::fabs(y[i] - ref[i]));
        scale = std::max(scale, std::fabs(ref[i]));
      }
      bool ok = err <= 1e-4 * scale;
      if (t == 0) y1 = y;
      const bool same = t == 0 || std::memcmp(y.data(), y1.data(), ny * sizeof(float)) == 0;
      ok = ok && same;
      if (!ok) ++failures;
      std::printf("%-4s %-44s t%d%s%s max err %.2e (scale %.2f)%s\n", ok ? "ok" : "FAIL", name(s).c_str(), t + 1,
                  relu ? " relu" : "", residual ? " +res" : "", err, scale, same ? "" : " (differs from t1)");
    }
  }
}

double ms_of(const std::function<void()>& f, int reps) {
  f();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

void bench(dsx::CpuCtx& ctx, Conv2dShape s, dsx_test::Rng& rng) {
  const size_t nx = static_cast<size_t>(s.N) * s.Cin * s.H * s.W;
  const size_t ny = static_cast<size_t>(s.N) * s.Cout * s.H * s.W;
  const auto x = rng.vec(nx);
  const auto w = rng.vec(static_cast<size_t>(s.Cout) * s.Cin * 9);
  const auto bias = rng.vec(s.Cout);
  const auto res = rng.vec(ny);
  std::vector<float> y(ny);
  Epilogue epi;
  epi.bias = bias.data();
  epi.residual = res.data();
  epi.relu = true;
  std::vector<float> pw(dsx::conv_winograd_packed_size(s)), pd(dsx::conv_direct_packed_size(s));
  dsx::conv_winograd_pack(s, w.data(), pw.data());
  dsx::conv_direct_pack(s, w.data(), pd.data());
  const int reps = 30;
  const double tw = ms_of([&] { dsx::conv_winograd_forward(ctx, s, x.data(), y.data(), epi, pw.data()); }, reps);
  const double td = ms_of([&] { dsx::conv_direct_forward(ctx, s, x.data(), y.data(), epi, pd.data()); }, reps);
  const double macs = 9.0 * s.N * s.Cout * s.Cin * s.H * s.W;
  std::printf("%-40s t%d direct %8.4f ms (%5.1f GMAC/s)  winograd %8.4f ms (%5.1f eff. GMAC/s)  %.2fx\n",
              name(s).c_str(), ctx.pool.size(), td, macs / td * 1e-6, tw, macs / tw * 1e-6, td / tw);
}

}  // namespace

int main(int argc, char** argv) {
  dsx_test::Rng rng(20240607);
  dsx::CpuCtx c1(1), c2(2);
  if (argc > 1 && std::strcmp(argv[1], "--bench") == 0) {
    // --bench [N,Cin,H,W,Cout ...]: those shapes, else ResNet-20's at batch 1, 4 and 16
    std::vector<Conv2dShape> shapes;
    for (int a = 2; a < argc; ++a) {
      Conv2dShape s{1, 1, 1, 1, 1, 3, 1, 1, 1};
      if (std::sscanf(argv[a], "%d,%d,%d,%d,%d", &s.N, &s.Cin, &s.H, &s.W, &s.Cout) == 5) shapes.push_back(s);
    }
    if (shapes.empty())
      for (int N : {1, 4, 16})
        for (Conv2dShape s : {Conv2dShape{N, 16, 32, 32, 16, 3, 1, 1, 1}, Conv2dShape{N, 32, 16, 16, 32, 3, 1, 1, 1},
                              Conv2dShape{N, 64, 8, 8, 64, 3, 1, 1, 1}, Conv2dShape{N, 3, 32, 32, 16, 3, 1, 1, 1}})
          shapes.push_back(s);
    for (dsx::CpuCtx* c : {&c1, &c2})
      for (const Conv2dShape& s : shapes) bench(*c, s, rng);
    return 0;
  }
  dsx::CpuCtx* ctxs[2] = {&c1, &c2};
  for (int N : {1, 3}) {
    check(ctxs, {N, 16, 32, 32, 16, 3, 1, 1, 1}, rng);
    check(ctxs, {N, 32, 16, 16, 32, 3, 1, 1, 1}, rng);
    check(ctxs, {N, 64, 8, 8, 64, 3, 1, 1, 1}, rng);
    check(ctxs, {N, 3, 32, 32, 16, 3, 1, 1, 1}, rng);
    check(ctxs, {N, 12, 7, 7, 20, 3, 1, 1, 1}, rng);
    check(ctxs, {N, 5, 5, 9, 9, 3, 1, 1, 1}, rng);
    check(ctxs, {N, 7, 9, 5, 6, 3, 1, 1, 1}, rng);
    check(ctxs, {N, 8, 3, 3, 8, 3, 1, 1, 1}, rng);
    check(ctxs, {N, 8, 1, 1, 8, 3, 1, 1, 1}, rng);
    check(ctxs, {N, 9, 2, 2, 17, 3, 1, 1, 1}, rng);
    check(ctxs, {N, 4, 1, 5, 3, 3, 1, 1, 1}, rng);
    check(ctxs, {N, 6, 11, 34, 10, 3, 1, 1, 1}, rng);  // tile rows across vectors, wide rows
  }
  check(ctxs, {5, 8, 8, 8, 8, 3, 1, 1, 1}, rng);  // images bundled into one GEMM tile
  check(ctxs, {4, 16, 6, 10, 24, 3, 1, 1, 1}, rng);
  std::printf("%s\n", failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
