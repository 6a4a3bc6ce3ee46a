// ctest `scc_cpu`: the CPU backend's sliding-channel convolution against the naive float64
// reference (scc_ref.h), forward and both gradients, on shapes that cover grouped, dense,
// overlapping, wrap-around and Cout > Cin windows, including the paper artifact's failing
// overlaps (co = 0.33 and 0.75). Runs everywhere; needs no GPU and no Node.
#include <cstdio>
#include <string>

#include "harness.h"
#include "ops/ops_cpu.h"
#include "ops/scc_plan.h"
#include "scc_ref.h"

using namespace dsx_test;

namespace {

struct Case {
  const char* what;
  dsx::SccShape s;
};

const Case kCases[] = {
    {"grouped, no overlap", {2, 8, 3, 3, 8, 2, 4}},
    {"overlap 0.5", {2, 8, 3, 3, 8, 2, 2}},
    {"max overlap s=1", {2, 12, 4, 3, 12, 3, 1}},
    {"dense cg=1 s=D", {2, 16, 3, 3, 16, 1, 16}},
    {"Cout > Cin, wrap, s=3", {3, 10, 2, 5, 25, 2, 3}},
    {"odd sizes, Cout > Cin", {1, 9, 3, 3, 20, 3, 2}},
    {"Cout < Cin", {2, 64, 4, 4, 48, 4, 12}},
    {"cg=1 s<D wraps", {2, 6, 1, 1, 7, 1, 5}},
    {"co=0.33 (s=8, D=12)", {2, 24, 3, 3, 24, 2, 8}},
    {"co=0.75 (s=3, D=12)", {2, 24, 3, 3, 24, 2, 3}},
    {"Cout >> Cin, s=D", {2, 4, 2, 2, 17, 2, 2}},
};

// Shapes that take the shared-window kernels (scc_shared_forward / scc_shared_dx): every
// window start shared by a register block of outputs or more (SCC at high channel-group
// counts), at co 0, 0.25, 0.5 and 0.75, Cout > Cin, wrap-around windows, pixel counts that
// take every register tile (3, 2 and 1 vectors) and a scalar tail, planes under a vector that take the slivers instead (1x1, 2x2,
// batch 1), and layouts that take the shared forward but the sliver data gradient.
// fwd/dx: the paths the case must take.
struct SharedCase {
  const char* what;
  dsx::SccShape s;
  bool fwd, dx;
};
const SharedCase kShared[] = {
    {"co=0.5 g8 (the bench's layout)", {2, 128, 4, 4, 128, 8, 8}, true, true},
    {"co=0 g4, odd 7x9", {2, 32, 7, 9, 64, 4, 8}, true, true},
    {"co=0.5 g2, wrap, Cout > Cin, 1x101", {3, 32, 1, 101, 96, 2, 8}, true, true},
    // dX: slivers under AVX-512's 8-row blocks, shared segments under AVX2's 4-row ones
    {"co=0.25 g2 s=12, Cout = 2 Cin", {2, 48, 4, 4, 96, 2, 18}, true, dsx::kVecWidth == 8},
    {"co=0.75 g2 s=2 (dX by slivers)", {2, 16, 5, 5, 64, 2, 2}, true, false},
    {"co=0.5 g4 D=16 s=8, 13x3 tails", {1, 64, 13, 3, 128, 4, 8}, true, true},
    {"1x1 pixels, batch 1", {1, 64, 1, 1, 128, 4, 8}, false, false},
    {"2x2 pixels, batch 1", {1, 32, 2, 2, 64, 2, 8}, false, false},
    {"2x2 pixels, batch 5 (slivers: planes under a vector)", {5, 32, 2, 2, 64, 2, 8}, false, false},
    // batches of planes under a vector past the few-pixel forward (regrouped images,
    // scc_small_planes_cpu.cc), here also through a folded BN+ReLU and on 3 threads:
    // wrap-around windows, Cout above and below Cin, short runs
    {"2x2 pixels, batch 33, Cout > Cin, wrap", {33, 48, 2, 2, 200, 4, 6}, false, false},
    {"1x1 pixels, batch 40, Cout < Cin", {40, 64, 1, 1, 32, 2, 16}, false, false},
    {"1x3 pixels, batch 9, dense cg=1 s=D/2", {9, 64, 1, 3, 64, 1, 32}, false, false},
    // 3x3: under AVX-512's 16-lane vector (regrouped), over AVX2's 8 (shared windows)
    {"3x3 pixels, batch 7, D=64", {7, 256, 3, 3, 256, 4, 32}, dsx::kVecWidth == 8, dsx::kVecWidth == 8},
    {"cg=1 s=D/2, 2 starts", {2, 16, 6, 6, 32, 1, 8}, true, true},
    // runs of 4 (co=0.75 g4): shared under AVX2's 4-row blocks, slivers under AVX-512's 8-row ones
    {"co=0.75 g4 s=4, runs of 4, 5x7", {2, 64, 5, 7, 64, 4, 4}, dsx::kVecWidth == 8, dsx::kVecWidth == 8},
    {"co=0.75 g4 s=2, Cout = 2 Cin, wrap, 3x11 (dX by slivers)", {3, 32, 3, 11, 64, 4, 2}, dsx::kVecWidth == 8, false},
};

std::string shape_name(const dsx::SccShape& s) {
  char b[128];
  std::snprintf(b, sizeof b, "scc N%d Cin%d %dx%d Cout%d cg%d s%d", s.N, s.Cin, s.H, s.W, s.Cout,
                s.groups, s.stride);
  return b;
}

}  // namespace

int main() {
  auto cpu = dsx::make_cpu_backend(2);
  Report rep;
  Rng rng(20210517);
  std::printf("scc_cpu: CPU sliding-channel convolution vs float64 reference\n");
  for (const Case& c : kCases) {
    const dsx::SccShape& s = c.s;
    const size_t nx = static_cast<size_t>(s.N) * s.Cin * s.H * s.W;
    const size_t ny = static_cast<size_t>(s.N) * s.Cout * s.H * s.W;
    const size_t nw = static_cast<size_t>(s.Cout) * s.D();
    auto x = rng.vec(nx), w = rng.vec(nw), dy = rng.vec(ny), dx0 = rng.vec(nx), dw0 = rng.vec(nw);
    const SccRef ref = scc_reference(s, x, w, dy, dx0, dw0);
    Buf bx(*cpu, x), bw(*cpu, w), bdy(*cpu, dy), bdx(*cpu, dx0), bdw(*cpu, dw0), by(*cpu, ny);
    const std::string name = shape_name(s) + " (" + c.what + ")";
    cpu->scc_forward(s, bx.p(), bw.p(), by.p());
    rep.check(name, "y", by.get(), to_float(ref.y), 1e-5);
    cpu->scc_backward(s, bx.p(), bw.p(), bdy.p(), bdx.p(), bdw.p());
    rep.check(name, "dx", bdx.get(), to_float(ref.dx), 1e-5);
    rep.check(name, "dw", bdw.get(), to_float(ref.dw), 1e-5);
    // a null gradient is skipped and leaves the other one unchanged
    Buf bdx2(*cpu, dx0);
    cpu->scc_backward(s, bx.p(), bw.p(), bdy.p(), bdx2.p(), nullptr);
    rep.check(name, "dx only", bdx2.get(), to_float(ref.dx), 1e-5);
  }
  // The shared-window kernels, on 1 and 2 threads: plain, overwrite_dx, and through a folded
  // BN+ReLU (the reference reads x through it).
  for (const SharedCase& c : kShared) {
    const dsx::SccShape& s = c.s;
    const dsx::SccPlan plan = dsx::make_scc_plan(s);
    const bool few = static_cast<long long>(s.N) * s.H * s.W <= 16;  // the few-pixel forward
    const std::string base = shape_name(s) + " (" + c.what + ")";
    rep.expect(base + " takes the intended kernels",
               (dsx::scc_shared_forward(plan, s.H * s.W) && !few) == c.fwd && dsx::scc_shared_dx(plan, s.H * s.W) == c.dx);
    const size_t nx = static_cast<size_t>(s.N) * s.Cin * s.H * s.W;
    const size_t ny = static_cast<size_t>(s.N) * s.Cout * s.H * s.W;
    const size_t nw = static_cast<size_t>(s.Cout) * s.D();
    auto x = rng.vec(nx), w = rng.vec(nw), dy = rng.vec(ny), dx0 = rng.vec(nx), dw0 = rng.vec(nw);
    std::vector<float> affine(2 * s.Cin);
    for (int i = 0; i < s.Cin; ++i) {
      affine[i] = rng.uniform(0.5f, 1.5f);
      affine[s.Cin + i] = rng.uniform(-0.5f, 0.5f);
    }
    std::vector<float> xf(nx);  // x through the folded BN+ReLU
    const int HW = s.H * s.W;
    for (size_t e = 0; e < nx; ++e) {
      const int ch = static_cast<int>((e / HW) % s.Cin);
      xf[e] = dsx::bn_relu_of(x[e], affine[ch], affine[s.Cin + ch]);
    }
    const SccRef ref = scc_reference(s, x, w, dy, dx0, dw0);
    const SccRef reff = scc_reference(s, xf, w, dy, dx0, dw0);
    std::vector<float> zeros(nx, 0.0f);
    const SccRef ref0 = scc_reference(s, x, w, dy, zeros, dw0);
    for (int threads : {1, 2, 3}) {
      if (threads == 3 && s.H * s.W >= dsx::kVecWidth) continue;  // planes under a vector: 3 threads too
      auto be = dsx::make_cpu_backend(threads);
      const std::string name = base + " t" + std::to_string(threads);
      Buf bx(*be, x), bw(*be, w), bdy(*be, dy), bdx(*be, dx0), bdw(*be, dw0), by(*be, ny), baff(*be, affine);
      be->scc_forward(s, bx.p(), bw.p(), by.p());
      rep.check(name, "y", by.get(), to_float(ref.y), 1e-5);
      be->scc_backward(s, bx.p(), bw.p(), bdy.p(), bdx.p(), bdw.p());
      rep.check(name, "dx", bdx.get(), to_float(ref.dx), 1e-5);
      rep.check(name, "dw", bdw.get(), to_float(ref.dw), 1e-5);
      Buf bdx2(*be, dx0), bdw2(*be, dw0);
      be->scc_backward(s, bx.p(), bw.p(), bdy.p(), bdx2.p(), bdw2.p(), true);
      rep.check(name, "dx (set)", bdx2.get(), to_float(ref0.dx), 1e-5);
      const dsx::InputFold fold{baff.p(), s.Cin};
      be->scc_forward(s, bx.p(), bw.p(), by.p(), fold);
      rep.check(name, "y (fold)", by.get(), to_float(reff.y), 1e-5);
      Buf bdw3(*be, dw0);
      be->scc_backward(s, bx.p(), bw.p(), bdy.p(), nullptr, bdw3.p(), false, fold);
      rep.check(name, "dw (fold)", bdw3.get(), to_float(reff.dw), 1e-5);
    }
  }
  std::printf("scc_cpu: %d checks, %d failed\n", rep.checks(), rep.failures());
  return rep.failures() == 0 ? 0 : 1;
}
