// ctest `infer_epilogue`: every CPU conv and SCC route with the deployment epilogue (bias,
// ReLU, residual add; ops_cpu.h Epilogue) and with weights packed ahead of the call, against
// a naive float64 reference written from the definitions: y = relu?(conv(x, w) + bias[c] +
// residual). Tolerance: max |ours - ref| <= 1e-4 * max(1, max |ref|) (float32 sums of up to
// a few hundred products in another order). Shapes pick each route: depthwise 3x3 (few
// pixels, stride 1 narrow and wide planes, stride 2), generic depthwise (5x5), the wide route
// (dense 3x3, grouped, pointwise direct), im2col (stride 2, and fewer images than threads),
// SCC (few pixels, panels; wrap-around windows, Cout > Cin), at 1 and 2 threads.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "harness.h"
#include "ops/conv_direct_cpu.h"
#include "ops/conv_wide_cpu.h"
#include "ops/ops_cpu.h"
#include "scc_ref.h"

namespace {

using dsx::Conv2dShape;
using dsx::Epilogue;
using dsx::SccShape;

struct Case {
  bool relu, residual;
};
constexpr Case kCases[] = {{false, false}, {true, false}, {false, true}, {true, true}};

double finish(double v, double b, const float* res, size_t i, bool relu) {
  v += b;
  if (res) v += res[i];
  return relu ? std::max(v, 0.0) : v;
}

std::vector<double> conv_ref(const Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& bias, const float* res, bool relu) {
  const int Ho = s.Ho(), Wo = s.Wo(), cig = s.Cin / s.groups, cog = s.Cout / s.groups;
  std::vector<double> y(static_cast<size_t>(s.N) * s.Cout * Ho * Wo);
  for (int n = 0; n < s.N; ++n)
    for (int co = 0; co < s.Cout; ++co)
      for (int oh = 0; oh < Ho; ++oh)
        for (int ow = 0; ow < Wo; ++ow) {
          double acc = 0;
          const int g = co / cog;
          for (int ci = 0; ci < cig; ++ci)
            for (int kh = 0; kh < s.K; ++kh)
              for (int kw = 0; kw < s.K; ++kw) {
                const int ih = oh * s.stride - s.pad + kh, iw = ow * s.stride - s.pad + kw;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                acc += static_cast<double>(w[((static_cast<size_t>(co) * cig + ci) * s.K + kh) * s.K + kw]) *
                       x[((static_cast<size_t>(n) * s.Cin + g * cig + ci) * s.H + ih) * s.W + iw];
              }
          const size_t i = ((static_cast<size_t>(n) * s.Cout + co) * Ho + oh) * Wo + ow;
          y[i] = finish(acc, bias[co], res, i, relu);
        }
  return y;
}

int failures = 0;

void compare(const std::string& what, const std::vector<float>& got, const std::vector<double>& ref) {
  double err = 0, scale = 1;
  for (size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, std::fabs(got[i] - ref[i]));
    scale = std::max(scale, std::fabs(ref[i]));
  }
  const bool ok = err <= 1e-4 * scale;
  if (!ok) ++failures;
  std::printf("%-4s %-72s max err %.2e (scale %.2f)\n", ok ? "ok" : "FAIL", what.c_str(), err, scale);
}

std::string conv_name(const Conv2dShape& s) {
  char b[160];
  std::snprintf(b, sizeof b, "conv N%d %dx%dx%d -> %d K%d s%d p%d g%d", s.N, s.Cin, s.H, s.W, s.Cout, s.K,
                s.stride, s.pad, s.groups);
  return b;
}

void check_conv(dsx::CpuCtx& ctx, Conv2dShape s, dsx_test::Rng& rng) {
  const size_t nx = static_cast<size_t>(s.N) * s.Cin * s.H * s.W;
  const size_t ny = static_cast<size_t>(s.N) * s.Cout * s.Ho() * s.Wo();
  const auto x = rng.vec(nx);
  const auto w = rng.vec(static_cast<size_t>(s.Cout) * (s.Cin / s.groups) * s.K * s.K);
  const auto bias = rng.vec(s.Cout);
  const auto res = rng.vec(ny);
  std::vector<float> packed(dsx::conv_wide_packed_size(s));
  dsx::conv_wide_pack(s, w.data(), packed.data());
  for (const Case& c : kCases)
    for (bool prepacked : {false, true}) {
      if (prepacked && (c.relu != c.residual)) continue;  // packing is independent of the epilogue
      Epilogue epi;
      epi.bias = bias.data();
      epi.residual = c.residual ? res.data() : nullptr;
      epi.relu = c.relu;
      std::vector<float> y(ny, 7.0f);  // overwritten, never added into
      dsx::cpu_conv2d_forward(ctx, s, x.data(), w.data(), nullptr, y.data(), {}, epi,
                              prepacked ? packed.data() : nullptr);
      compare(conv_name(s) + " t" + std::to_string(ctx.pool.size()) + (c.relu ? " relu" : "") +
                  (c.residual ? " +res" : "") + (prepacked ? " packed" : ""),
              y, conv_ref(s, x, w, bias, c.residual ? res.data() : nullptr, c.relu));
    }
}

// The deployment executor's direct route (conv_direct_cpu.h): weights always prepacked.
void check_direct(dsx::CpuCtx& ctx, Conv2dShape s, dsx_test::Rng& rng) {
  if (!dsx::conv_direct_applies(s)) {
    std::printf("skip %-72s (direct route not in this build or shape)\n", conv_name(s).c_str());
    return;
  }
  const size_t nx = static_cast<size_t>(s.N) * s.Cin * s.H * s.W;
  const size_t ny = static_cast<size_t>(s.N) * s.Cout * s.Ho() * s.Wo();
  const auto x = rng.vec(nx);
  const auto w = rng.vec(static_cast<size_t>(s.Cout) * (s.Cin / s.groups) * s.K * s.K);
  const auto bias = rng.vec(s.Cout);
  const auto res = rng.vec(ny);
  std::vector<float> packed(dsx::conv_direct_packed_size(s));
  dsx::conv_direct_pack(s, w.data(), packed.data());
  for (const Case& c : kCases)
    for (bool with_bias : {false, true}) {
      if (!with_bias && (c.relu || c.residual)) continue;  // the bare conv once
      const std::vector<float> zero_bias(s.Cout, 0.0f);
      Epilogue epi;
      epi.bias = with_bias ? bias.data() : nullptr;
      epi.residual = c.residual ? res.data() : nullptr;
      epi.relu = c.relu;
      std::vector<float> y(ny, 7.0f);  // overwritten, never added into
      dsx::conv_direct_forward(ctx, s, x.data(), y.data(), epi, packed.data());
      compare("direct " + conv_name(s) + " t" + std::to_string(ctx.pool.size()) + (with_bias ? " bias" : "") +
                  (c.relu ? " relu" : "") + (c.residual ? " +res" : ""),
              y, conv_ref(s, x, w, with_bias ? bias : zero_bias, c.residual ? res.data() : nullptr, c.relu));
    }
}

void check_scc(dsx::CpuCtx& ctx, SccShape s, dsx_test::Rng& rng) {
  const int HW = s.H * s.W;
  const size_t nx = static_cast<size_t>(s.N) * s.Cin * HW, ny = static_cast<size_t>(s.N) * s.Cout * HW;
  const auto x = rng.vec(nx);
  const auto w = rng.vec(static_cast<size_t>(s.Cout) * s.D());
  const auto bias = rng.vec(s.Cout);
  const auto res = rng.vec(ny);
  const std::vector<float> zeros_y(ny, 0.0f), zeros_x(nx, 0.0f), zeros_w(w.size(), 0.0f);
  const dsx_test::SccRef plain = dsx_test::scc_reference(s, x, w, zeros_y, zeros_x, zeros_w);
  std::vector<float> packed(dsx::scc_packed_size(ctx, s));
  dsx::scc_pack_forward(ctx, s, w.data(), packed.data());
  for (const Case& c : kCases)
    for (bool prepacked : {false, true}) {
      if (prepacked && (c.relu != c.residual)) continue;
      Epilogue epi;
      epi.bias = bias.data();
      epi.residual = c.residual ? res.data() : nullptr;
      epi.relu = c.relu;
      std::vector<double> ref(ny);
      for (size_t i = 0; i < ny; ++i)
        ref[i] = finish(plain.y[i], bias[(i / HW) % s.Cout], c.residual ? res.data() : nullptr, i, c.relu);
      std::vector<float> y(ny, 7.0f);
      dsx::cpu_scc_forward(ctx, s, x.data(), w.data(), y.data(), {}, epi, prepacked ? packed.data() : nullptr);
      char b[160];
      std::snprintf(b, sizeof b, "scc N%d %dx%dx%d -> %d g%d s%d t%d%s%s%s", s.N, s.Cin, s.H, s.W, s.Cout,
                    s.groups, s.stride, ctx.pool.size(), c.relu ? " relu" : "", c.residual ? " +res" : "",
                    prepacked ? " packed" : "");
      compare(b, y, ref);
    }
}

}  // namespace

int main() {
  dsx_test::Rng rng(20261207);
  for (int threads : {1, 2}) {
    dsx::CpuCtx ctx(threads);
    // depthwise 3x3: few pixels (2x2), narrow stride-1 planes (7x7), wide (17x17), stride 2
    check_conv(ctx, {1, 8, 2, 2, 8, 3, 1, 1, 8}, rng);
    check_conv(ctx, {3, 8, 7, 7, 8, 3, 1, 1, 8}, rng);
    check_conv(ctx, {2, 8, 17, 17, 8, 3, 1, 1, 8}, rng);
    check_conv(ctx, {2, 8, 9, 9, 8, 3, 2, 1, 8}, rng);
    // generic depthwise (5x5, stride 1 and 2)
    check_conv(ctx, {2, 6, 9, 9, 6, 5, 1, 2, 6}, rng);
    check_conv(ctx, {2, 6, 9, 9, 6, 5, 2, 2, 6}, rng);
    // wide route (stride 1, at least one image per thread): dense 3x3 with a K over one
    // reduction block (Cin*9 > 256), grouped, pointwise direct, grouped pointwise
    check_conv(ctx, {2, 32, 9, 7, 20, 3, 1, 1, 1}, rng);
    check_conv(ctx, {2, 8, 6, 6, 12, 3, 1, 1, 2}, rng);
    check_conv(ctx, {3, 16, 5, 5, 24, 1, 1, 0, 1}, rng);
    check_conv(ctx, {2, 16, 11, 11, 16, 1, 1, 0, 4}, rng);
    // im2col: stride 2; and one image on two threads (split GEMMs)
    check_conv(ctx, {2, 8, 9, 9, 16, 3, 2, 1, 1}, rng);
    check_conv(ctx, {1, 12, 8, 8, 10, 3, 1, 1, 1}, rng);
    check_conv(ctx, {1, 16, 6, 6, 16, 1, 2, 0, 1}, rng);
    // direct route (deployment): the ResNet-20 shapes (3x3 stride 1 and 2, Cout 16/32/64,
    // 32x32 to 8x8 planes), odd planes, 1x1 and 2x2 planes, Cout not a multiple of 8,
    // pointwise in place and strided, 5x5 pad 2, pixels not a multiple of 16, batch 1 and > 1
    check_direct(ctx, {1, 16, 32, 32, 16, 3, 1, 1, 1}, rng);
    check_direct(ctx, {2, 3, 32, 32, 16, 3, 1, 1, 1}, rng);
    check_direct(ctx, {1, 16, 32, 32, 32, 3, 2, 1, 1}, rng);
    check_direct(ctx, {3, 32, 16, 16, 64, 3, 2, 1, 1}, rng);
    check_direct(ctx, {2, 64, 8, 8, 64, 3, 1, 1, 1}, rng);
    check_direct(ctx, {1, 12, 7, 5, 20, 3, 1, 1, 1}, rng);
    check_direct(ctx, {2, 12, 9, 7, 10, 3, 2, 1, 1}, rng);
    check_direct(ctx, {1, 8, 1, 1, 8, 3, 1, 1, 1}, rng);
    check_direct(ctx, {3, 8, 2, 2, 16, 3, 1, 1, 1}, rng);
    check_direct(ctx, {2, 8, 2, 2, 16, 3, 2, 1, 1}, rng);
    check_direct(ctx, {2, 24, 5, 5, 40, 1, 1, 0, 1}, rng);
    check_direct(ctx, {1, 16, 32, 32, 16, 1, 1, 0, 1}, rng);
    check_direct(ctx, {2, 16, 9, 9, 24, 1, 2, 0, 1}, rng);
    check_direct(ctx, {2, 6, 11, 10, 9, 5, 1, 2, 1}, rng);
    check_direct(ctx, {1, 6, 11, 10, 9, 5, 2, 2, 1}, rng);
    check_direct(ctx, {2, 5, 6, 6, 8, 2, 1, 1, 1}, rng);
    // pointwise, stride 1 (AVX2: pixel panels, 4-channel slivers; one-vector planes three
    // slivers at once): Cin past one 256-channel reduction block (and past two), Cout not a
    // multiple of 4 or 12, planes of 1, 4, 6 and 9 pixels and blocks of 48 with a ragged end
    check_direct(ctx, {1, 300, 4, 4, 20, 1, 1, 0, 1}, rng);
    check_direct(ctx, {3, 520, 2, 3, 14, 1, 1, 0, 1}, rng);
    check_direct(ctx, {1, 24, 1, 1, 30, 1, 1, 0, 1}, rng);
    check_direct(ctx, {3, 20, 2, 2, 26, 1, 1, 0, 1}, rng);
    check_direct(ctx, {2, 7, 3, 3, 13, 1, 1, 0, 1}, rng);
    check_direct(ctx, {1, 9, 10, 11, 10, 1, 1, 0, 1}, rng);
    // dense with at most 640 (channel, tap) rows (AVX2: through a panel of the pixel block,
    // as pointwise convs; past that the register tile reads x): odd planes, stride 2,
    // few-pixel planes, batch 3, 5x5, 720 rows
    check_direct(ctx, {1, 7, 9, 9, 10, 3, 1, 1, 1}, rng);
    check_direct(ctx, {3, 2, 2, 2, 6, 3, 1, 1, 1}, rng);
    check_direct(ctx, {2, 4, 5, 7, 13, 3, 2, 1, 1}, rng);
    check_direct(ctx, {1, 3, 1, 1, 8, 3, 1, 1, 1}, rng);
    check_direct(ctx, {1, 2, 9, 8, 8, 5, 1, 2, 1}, rng);
    check_direct(ctx, {2, 2, 9, 8, 12, 5, 2, 2, 1}, rng);
    check_direct(ctx, {1, 80, 6, 6, 16, 3, 1, 1, 1}, rng);
    // stride 2 on rows of 17 to 32 columns (two 8-column chunks per phase row, the second
    // masked), dense and depthwise
    check_direct(ctx, {1, 5, 6, 23, 9, 3, 2, 1, 1}, rng);
    check_direct(ctx, {2, 6, 5, 27, 6, 3, 2, 1, 6}, rng);
    // AVX2 (4-channel slivers): Cout 14, not a multiple of 4 or 8, stride 1 and 2
    check_direct(ctx, {1, 8, 10, 10, 14, 3, 1, 1, 1}, rng);
    check_direct(ctx, {2, 8, 10, 10, 14, 3, 2, 1, 1}, rng);
    // depthwise on the direct route: the ResNet-20 dw-pw planes (stride 1 and 2), odd and
    // tiny planes, 5x5
    check_direct(ctx, {1, 16, 32, 32, 16, 3, 1, 1, 16}, rng);
    check_direct(ctx, {2, 16, 32, 32, 16, 3, 2, 1, 16}, rng);
    check_direct(ctx, {3, 32, 16, 16, 32, 3, 1, 1, 32}, rng);
    check_direct(ctx, {1, 64, 8, 8, 64, 3, 1, 1, 64}, rng);
    check_direct(ctx, {2, 6, 7, 9, 6, 3, 1, 1, 6}, rng);
    check_direct(ctx, {2, 6, 7, 9, 6, 3, 2, 1, 6}, rng);
    check_direct(ctx, {1, 4, 1, 1, 4, 3, 1, 1, 4}, rng);
    check_direct(ctx, {3, 4, 2, 2, 4, 3, 2, 1, 4}, rng);
    check_direct(ctx, {2, 5, 11, 10, 5, 5, 1, 2, 5}, rng);
    check_direct(ctx, {1, 5, 11, 10, 5, 5, 2, 2, 5}, rng);
    // 3x3 stride 1 with interior tiles whose rows start mid-vector (13 columns: AVX2's
    // off-by-one loads and padding-column masks at every lane position)
    check_direct(ctx, {2, 8, 15, 13, 8, 3, 1, 1, 8}, rng);
    // 3x3 stride 1 on rows of 8, 16 and 32 pixels (AVX2: tiles of whole rows with the
    // padding lanes known at compile time): one tile holding the first and the last row,
    // tiles holding one of them, border tiles between, interior tiles, a 1-vector tail
    check_direct(ctx, {2, 5, 4, 8, 5, 3, 1, 1, 5}, rng);
    check_direct(ctx, {1, 3, 2, 16, 3, 3, 1, 1, 3}, rng);
    check_direct(ctx, {2, 4, 1, 32, 4, 3, 1, 1, 4}, rng);
    check_direct(ctx, {1, 6, 12, 8, 6, 3, 1, 1, 6}, rng);
    check_direct(ctx, {3, 4, 6, 16, 4, 3, 1, 1, 4}, rng);
    check_direct(ctx, {1, 3, 5, 32, 3, 3, 1, 1, 3}, rng);
    check_direct(ctx, {2, 3, 5, 8, 3, 3, 1, 1, 3}, rng);
    // 3x3 stride 2 from 4x4 (2x2 out) and 8x8 planes, rows of 8 (AVX2: read in place, output
    // rows in pairs), 16 and 32 (in place), 8 wide with an odd number of output rows (phases)
    check_direct(ctx, {3, 5, 4, 4, 5, 3, 2, 1, 5}, rng);
    check_direct(ctx, {1, 3, 8, 8, 3, 3, 2, 1, 3}, rng);
    check_direct(ctx, {3, 4, 12, 8, 4, 3, 2, 1, 4}, rng);
    check_direct(ctx, {1, 5, 6, 16, 5, 3, 2, 1, 5}, rng);
    check_direct(ctx, {2, 3, 2, 32, 3, 3, 2, 1, 3}, rng);
    check_direct(ctx, {1, 4, 6, 8, 4, 3, 2, 1, 4}, rng);
    // 3x3 stride 1 on 4x4 and 2x2 planes (AVX2: a plane in registers; 2x2 two channels per
    // vector, an odd channel count leaving one alone)
    check_direct(ctx, {3, 5, 4, 4, 5, 3, 1, 1, 5}, rng);
    check_direct(ctx, {1, 7, 2, 2, 7, 3, 1, 1, 7}, rng);
    check_direct(ctx, {2, 6, 2, 2, 6, 3, 1, 1, 6}, rng);
    // SCC: few pixels (N*H*W <= 16), panels; wrap-around windows (stride not dividing Cin),
    // Cout > Cin, one window per output group (s = D)
    check_scc(ctx, {1, 16, 2, 2, 16, 2, 4}, rng);
    check_scc(ctx, {2, 12, 3, 2, 20, 3, 3}, rng);
    check_scc(ctx, {2, 16, 9, 9, 16, 2, 6}, rng);
    check_scc(ctx, {2, 16, 8, 8, 32, 2, 4}, rng);
    check_scc(ctx, {1, 12, 7, 5, 24, 3, 4}, rng);
    check_scc(ctx, {3, 16, 6, 6, 16, 4, 4}, rng);
  }
  std::printf("infer_epilogue: %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
