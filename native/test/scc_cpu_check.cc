// ctest `scc_cpu`: the CPU backend's sliding-channel convolution against the naive float64
// reference (scc_ref.h), forward and both gradients, on shapes that cover grouped, dense,
// overlapping, wrap-around and Cout > Cin windows, including the paper artifact's failing
// overlaps (co = 0.33 and 0.75). Runs everywhere; needs no GPU and no Node.
#include <cstdio>
#include <string>

#include "harness.h"
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
  std::printf("scc_cpu: %d checks, %d failed\n", rep.checks(), rep.failures());
  return rep.failures() == 0 ? 0 : 1;
}
