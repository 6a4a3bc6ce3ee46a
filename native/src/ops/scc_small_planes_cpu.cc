// SCC over a batch of planes smaller than one vector (2x2, 3x3, 1x1: MobileNetV1's last stages
// at training batch sizes). Per image, such a plane is a few lanes of a vector: the banded
// micro-GEMMs of scc_cpu.cc pad every image's pixel panel to a full tile (a 2x2 plane fills 4
// of 32 lanes), and the weight gradient loads and stores its gradient tiles once per image
// for 4 products each. This file regroups the batch instead, without changing one rounding:
//  forward, dX  images side by side in groups of at least kGroupPixels pixels (one wide
//               "image" per group), run by scc_cpu.cc's kernels, and put back. Each output
//               element is one FMA chain over its window (forward) or its covering output rows
//               (dX), which no pixel layout changes.
//  dW           each thread's images in the order and partition scc_cpu.cc gives them, with
//               the gradient tile held in registers across a block of images: per image, the
//               products over its pixels are summed from zero and then added to the tile, as
//               the per-image kernels do in memory; partials summed across threads in thread
//               order. So results equal the per-image path's bit for bit (same threads, ISA).
#include <algorithm>
#include <cstring>

#include "ops/ops_cpu.h"
#include "ops/scc_index.h"
#include "ops/scc_small_planes.h"
#include "ops/transpose.h"
#include "ops/vec_lanes.h"

namespace dsx {

namespace {

// Pixels per regrouped "image": enough whole vectors for the kernels' pixel tiles.
constexpr int kGroupPixels = 64;
// Output rows per weight-gradient register block (one vector of window columns each): the
// block's tile and its per-image sums take 2 * kRows registers, plus the window row. The
// runs' tiles are laid out in blocks of this many rows.
constexpr int kRows = kSccRunRows;
// Images whose transposed inputs one pass keeps (L2-sized for 1024-channel layers).
constexpr int kImageBlock = 16;

// Images split into G groups of q or q + 1 (the first N % G groups are the larger), each at
// least kGroupPixels pixels when the batch has that many.
struct Groups {
  int G, q, big;  // groups, images per small group, groups of q + 1
  int size(int g) const { return g < big ? q + 1 : q; }
  int first(int g) const { return g < big ? g * (q + 1) : big * (q + 1) + (g - big) * q; }
};

Groups make_groups(int N, int HW) {
  const int G = std::max(1, N * HW / kGroupPixels);
  return {G, N / G, N % G};
}

// Between the batch layout [N][C][HW] and the groups' (one after another, each [C][size * HW]).
void regroup(CpuCtx& ctx, const Groups& g, int C, int HW, const float* src, float* dst, bool to_groups) {
  const int64_t plane = static_cast<int64_t>(C) * HW;
  ctx.pool.parallel_for(g.G, [&](int, int64_t b, int64_t e) {
    for (int64_t gi = b; gi < e; ++gi) {
      const int n0 = g.first(static_cast<int>(gi)), m = g.size(static_cast<int>(gi));
      for (int j = 0; j < m; ++j)
        for (int c = 0; c < C; ++c) {
          const int64_t img = (n0 + j) * plane + static_cast<int64_t>(c) * HW;
          const int64_t grp = n0 * plane + (static_cast<int64_t>(c) * m + j) * HW;
          std::memcpy(dst + (to_groups ? grp : img), src + (to_groups ? img : grp), HW * sizeof(float));
        }
    }
  }, static_cast<int64_t>(g.G) * plane * g.q < kSerialBelow ? g.G + 1 : 1);
}

// f(shape, x offset, y offset) for the groups of each size (q + 1 images, then q), each
// size's groups run as one batch of "images" of size * HW pixels.
template <class F>
void for_group_shapes(const Groups& g, const SccShape& s, F&& f) {
  const int64_t plane_in = static_cast<int64_t>(s.Cin) * s.H * s.W;
  const int64_t plane_out = static_cast<int64_t>(s.Cout) * s.H * s.W;
  if (g.big > 0) f(SccShape{g.big, s.Cin, 1, (g.q + 1) * s.H * s.W, s.Cout, s.groups, s.stride}, int64_t(0), int64_t(0));
  if (g.G > g.big)
    f(SccShape{g.G - g.big, s.Cin, 1, g.q * s.H * s.W, s.Cout, s.groups, s.stride},
      g.big * (g.q + 1) * plane_in, g.big * (g.q + 1) * plane_out);
}

}  // namespace

bool scc_small_planes(const SccShape& s) {
  const int HW = s.H * s.W;
  return HW < kVecWidth && s.N >= 2 && static_cast<int64_t>(s.N) * HW > kSccFewPixels;
}

bool scc_small_planes_dw(const SccPlan& p) { return p.min_run >= kRows; }

void scc_small_forward(CpuCtx& ctx, const SccShape& s, const float* x, const float* w, float* y,
                       InputAffine in, const Epilogue& epi, const float* packed) {
  const int HW = s.H * s.W;
  const Groups g = make_groups(s.N, HW);
  const size_t nx = static_cast<size_t>(s.N) * s.Cin * HW, ny = static_cast<size_t>(s.N) * s.Cout * HW;
  float* xg = ctx.ws.get(0, kWsGroupIn, nx);
  float* yg = ctx.ws.get(0, kWsGroupOut, ny);
  regroup(ctx, g, s.Cin, HW, x, xg, true);
  // bias and ReLU are per channel, so they run inside; a residual is laid out as y and is
  // added once the output is back in place (the same y + bias + r, then ReLU, per element).
  const Epilogue inner = epi.residual ? Epilogue{} : epi;
  for_group_shapes(g, s, [&](const SccShape& gs, int64_t xo, int64_t yo) {
    cpu_scc_forward(ctx, gs, xg + xo, w, yg + yo, in, inner, packed);
  });
  regroup(ctx, g, s.Cout, HW, yg, y, false);
  if (epi.residual) {
    const int64_t rows = static_cast<int64_t>(s.N) * s.Cout;
    ctx.pool.parallel_for(rows, [&](int, int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) epi.apply(static_cast<int>(r % s.Cout), y + r * HW, epi.residual + r * HW, HW);
    }, static_cast<int64_t>(ny) < kSerialBelow ? rows + 1 : 1);
  }
}

namespace {

// One register tile (kRows rows x one vector of window columns, t) over nb images: per image,
// the products over its HW pixels summed from zero (q in order), then added to the tile.
// ab: the rows' dY values [(j * HW + q) * kRows + i]; xb: the images' transposed X at the
// tile's first column, rows ld apart, images HW * ld apart. HWc: HW fixed at compile time (0:
// the runtime HW).
template <int HWc>
inline void dw_images_tile(int hw, int nb, const float* ab, const float* xb, int64_t ld, vf* t) {
  const int HW = HWc ? HWc : hw;
  for (int j = 0; j < nb; ++j) {
    const float* aj = ab + static_cast<int64_t>(j) * HW * kRows;
    const float* bj = xb + static_cast<int64_t>(j) * HW * ld;
    vf acc[kRows];
    for (int i = 0; i < kRows; ++i) acc[i] = vf{};
    for (int q = 0; q < HW; ++q) {
      const vf bv = loadv(bj + static_cast<int64_t>(q) * ld);
      for (int i = 0; i < kRows; ++i) acc[i] = fmav(aj[q * kRows + i], bv, acc[i]);
    }
    for (int i = 0; i < kRows; ++i) t[i] = t[i] + acc[i];
  }
}

// This thread's images [b, e) into its weight-gradient tiles G (per run at Run::goff, blocks
// of kRows rows of Dpad columns), images kImageBlock at a time.
void small_dw_images(CpuCtx& ctx, int tid, const SccShape& s, const SccPlan& p, const float* x,
                     const float* dy, const InputAffine& in, float* G, int64_t b, int64_t e) {
  const int HW = s.H * s.W, Cin = s.Cin, Cout = s.Cout, Dp = scc_run_dpad(p.D);
  // xt[(j * HW + q) * ld + v] = X[n0 + j, v mod Cin, q]: every window's columns contiguous.
  // Rows an odd number of cache lines long: whole-vector loads stay aligned, and the rows of
  // a block do not all map to the same few L1 sets.
  const int lines = (p.run_ext + 15) / 16;
  const int ld = (lines % 2 ? lines : lines + 1) * 16;
  float* xt = ctx.ws.get(tid, kWsLocal, static_cast<size_t>(kImageBlock) * HW * ld);
  const float** rows = reinterpret_cast<const float**>(
      ctx.ws.get(tid, kWsPtrs, static_cast<size_t>(p.run_ext) * sizeof(float*) / sizeof(float) + 1));
  float* xin = in ? ctx.ws.get(tid, kWsLocal2, static_cast<size_t>(p.run_ext) * HW) : nullptr;
  float* ab = ctx.ws.get(tid, kWsLocal3, static_cast<size_t>(kImageBlock) * HW * kRows);
  for (int64_t n0 = b; n0 < e; n0 += kImageBlock) {
    const int nb = static_cast<int>(std::min<int64_t>(kImageBlock, e - n0));
    for (int j = 0; j < nb; ++j) {
      const float* xn = x + (n0 + j) * Cin * HW;
      for (int v = 0; v < p.run_ext; ++v) {
        const int c = scc_channel(v, Cin);
        rows[v] = xn + static_cast<int64_t>(c) * HW;
        if (in) {
          float* t = xin + static_cast<int64_t>(v) * HW;
          in.row(c, rows[v], t, HW);
          rows[v] = t;
        }
      }
      transpose_rows(rows, p.run_ext, HW, xt + static_cast<int64_t>(j) * HW * ld, ld);
    }
    for (size_t ri = 0; ri < p.runs.size(); ++ri) {
      const auto& run = p.runs[ri];
      const int st = p.start[run.r0];
      for (int r0 = 0; r0 < run.len; r0 += kRows) {
        // the block's dY rows (rows past the run repeat its first: discarded tile rows)
        int orow[kRows];
        for (int i = 0; i < kRows; ++i) orow[i] = p.order[run.r0 + (r0 + i < run.len ? r0 + i : 0)];
        // their values, image by image and pixel by pixel: ab[(j * HW + q) * kRows + i]
        for (int j = 0; j < nb; ++j) {
          const float* dyn = dy + (n0 + j) * Cout * HW;
          for (int q = 0; q < HW; ++q)
            for (int i = 0; i < kRows; ++i) ab[(j * HW + q) * kRows + i] = dyn[static_cast<int64_t>(orow[i]) * HW + q];
        }
        float* gb = G + run.goff + static_cast<size_t>(r0) * Dp;
        for (int col = 0; col < Dp; col += kVecWidth) {
          vf t[kRows];
          for (int i = 0; i < kRows; ++i) t[i] = loadv(gb + static_cast<size_t>(i) * Dp + col);
          const float* bx = xt + st + col;
          switch (HW) {  // whole plane sizes unrolled: MobileNet's 2x2 and 1x1, 3x3
            case 1: dw_images_tile<1>(HW, nb, ab, bx, ld, t); break;
            case 4: dw_images_tile<4>(HW, nb, ab, bx, ld, t); break;
            case 9: dw_images_tile<9>(HW, nb, ab, bx, ld, t); break;
            default: dw_images_tile<0>(HW, nb, ab, bx, ld, t);
          }
          for (int i = 0; i < kRows; ++i) std::memcpy(gb + static_cast<size_t>(i) * Dp + col, &t[i], sizeof(vf));
        }
      }
    }
  }
}

}  // namespace

void scc_small_backward(CpuCtx& ctx, const SccShape& s, const SccPlan& p, const float* x, const float* w,
                        const float* dy, float* dx, float* dw, bool set_dx, InputAffine in) {
  const int HW = s.H * s.W;
  if (dx) {
    const Groups g = make_groups(s.N, HW);
    const size_t nx = static_cast<size_t>(s.N) * s.Cin * HW, ny = static_cast<size_t>(s.N) * s.Cout * HW;
    float* dyg = ctx.ws.get(0, kWsGroupOut, ny);
    float* dxg = ctx.ws.get(0, kWsGroupIn, nx);
    regroup(ctx, g, s.Cout, HW, dy, dyg, true);
    if (!set_dx) regroup(ctx, g, s.Cin, HW, dx, dxg, true);  // the gradient adds to what is there
    for_group_shapes(g, s, [&](const SccShape& gs, int64_t xo, int64_t yo) {
      cpu_scc_backward(ctx, gs, nullptr, w, dyg + yo, dxg + xo, nullptr, set_dx, in);
    });
    regroup(ctx, g, s.Cin, HW, dxg, dx, false);
  }
  if (!dw) return;
  // the runs' tiles as scc_cpu.cc lays them out (Run::goff, blocks of kRows == its register
  // block), so that its thread-order sum applies
  const int T = std::min(ctx.pool.size(), kMaxCpuThreads);
  float* parts[kMaxCpuThreads];
  for (int t = 0; t < T; ++t) parts[t] = ctx.ws.get_zeroed(t, kWsPartial, p.run_g_size);
  // images split over threads as scc_cpu.cc splits them (parallel_for over N): the partials,
  // and so their sum, are the same
  ctx.pool.parallel_for(s.N, [&](int tid, int64_t b, int64_t e) {
    small_dw_images(ctx, tid, s, p, x, dy, in, parts[tid], b, e);
  });
  scc_add_run_partials(ctx, p, parts, T, dw);
}

}  // namespace dsx
