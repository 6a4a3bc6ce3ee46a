// Sliding-channel convolution on the CPU (the definition: backend.h SccShape), costed by its MACs:
// every product is a banded micro-GEMM over one sliver's union window (see scc_plan.h),
// never a dense Cin-wide product with a mask.
//  forward      per (image, pixel panel): the panel of X over virtual channels (wrap rows
//               appended, so windows are contiguous) times each sliver's banded weights;
//  dX           input-centric: each sliver of input channels gathers from the start-sorted
//               output channels covering it, so every dX element has one writer;
//  dW           dY * X^T restricted to each sliver's band, per-thread partial tiles summed
//               in thread order (deterministic for a fixed thread count).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "ops/ops_cpu.h"
#include "ops/scc_index.h"
#include "ops/transpose.h"

namespace dsx {

namespace {
constexpr int kPixBlock = 256;  // pixels per dW reduction block
}  // namespace

SccPlan make_scc_plan(const SccShape& sh) {
  SccPlan p;
  p.Cin = sh.Cin;
  p.Cout = sh.Cout;
  p.D = sh.D();
  p.s = sh.stride;
  const int Cin = p.Cin, Cout = p.Cout, D = p.D;
  p.order.resize(Cout);
  std::iota(p.order.begin(), p.order.end(), 0);
  std::stable_sort(p.order.begin(), p.order.end(), [&](int a, int b) {
    return scc_start(a, p.s, Cin) < scc_start(b, p.s, Cin);
  });
  p.start.resize(Cout);
  for (int r = 0; r < Cout; ++r) p.start[r] = scc_start(p.order[r], p.s, Cin);

  // Output slivers: minimise the summed union width (plus a small per-sliver cost).
  std::vector<long> best(Cout + 1, 0);
  std::vector<int> from(Cout + 1, 0);
  for (int j = 1; j <= Cout; ++j) {
    best[j] = -1;
    for (int i = std::max(0, j - kMR); i < j; ++i) {
      long c = best[i] + (p.start[j - 1] - p.start[i]) + D + 2;
      if (best[j] < 0 || c < best[j]) {
        best[j] = c;
        from[j] = i;
      }
    }
  }
  std::vector<int> cuts;
  for (int j = Cout; j > 0; j = from[j]) cuts.push_back(j);
  std::reverse(cuts.begin(), cuts.end());
  int r0 = 0;
  for (int j : cuts) {
    SccPlan::OutSliver o;
    o.r0 = r0;
    o.rows = j - r0;
    o.k0 = p.start[r0];
    o.U = p.start[j - 1] - p.start[r0] + D;
    o.Upad = (o.U + kVecWidth - 1) / kVecWidth * kVecWidth;
    o.aoff = p.out_pack;
    o.goff = p.g_size;
    p.out_pack += static_cast<size_t>(o.U) * kMR;
    p.g_size += static_cast<size_t>(o.Upad) * kMR;
    p.vext = std::max(p.vext, o.k0 + o.U);
    p.vext_pad = std::max(p.vext_pad, o.k0 + o.Upad);
    p.out.push_back(o);
    r0 = j;
  }

  // Input slivers (data gradient).
  for (int i0 = 0; i0 < Cin; i0 += kMR) {
    SccPlan::InSliver s;
    s.i0 = i0;
    s.rows = std::min(kMR, Cin - i0);
    const int L = D + s.rows - 1;  // starts that cover some channel of the sliver
    if (L >= Cin) {
      s.r0 = 0;
      s.R = Cout;
    } else {
      const int a = ((i0 - D + 1) % Cin + Cin) % Cin;
      s.r0 = static_cast<int>(std::lower_bound(p.start.begin(), p.start.end(), a) -
                              p.start.begin());
      if (s.r0 == Cout) s.r0 = 0;
      s.R = 0;
      while (s.R < Cout && scc_offset(p.start[(s.r0 + s.R) % Cout], a, Cin) < L) ++s.R;
    }
    s.aoff = p.in_pack;
    p.in_pack += static_cast<size_t>(s.R) * kMR;
    p.rext = std::max(p.rext, s.r0 + s.R);
    p.in.push_back(s);
  }
  return p;
}

const SccPlan& CpuCtx::scc_plan(const SccShape& s) {
  std::array<int, 4> key{s.Cin, s.Cout, s.groups, s.stride};
  auto it = scc_plans.find(key);
  if (it == scc_plans.end()) it = scc_plans.emplace(key, make_scc_plan(s)).first;
  return it->second;
}

namespace {

// Banded forward weights of every output sliver: U x kMR, zero outside each row's window.
// Serial: O(Cout * U) work, tiny next to the product, and one thread dispatch less per call.
void pack_forward_weights(const SccPlan& p, const float* w, float* ap) {
  {
    for (size_t si = 0; si < p.out.size(); ++si) {
      const auto& o = p.out[si];
      float* d = ap + o.aoff;
      for (int k = 0; k < o.U; ++k)
        for (int i = 0; i < kMR; ++i) {
          float v = 0.0f;
          if (i < o.rows) {
            const int r = o.r0 + i, off = o.k0 + k - p.start[r];
            if (off >= 0 && off < p.D) v = w[static_cast<int64_t>(p.order[r]) * p.D + off];
          }
          d[k * kMR + i] = v;
        }
    }
  }
}

// Transposed weights of every input sliver: R x kMR, row k = sorted output row (r0+k) mod Cout.
void pack_input_weights(const SccPlan& p, const float* w, float* ap) {
  {
    for (size_t si = 0; si < p.in.size(); ++si) {
      const auto& s = p.in[si];
      float* d = ap + s.aoff;
      for (int k = 0; k < s.R; ++k) {
        const int r = (s.r0 + k) % p.Cout;
        const float* wr = w + static_cast<int64_t>(p.order[r]) * p.D;
        for (int i = 0; i < kMR; ++i) {
          float v = 0.0f;
          if (i < s.rows) {
            const int off = scc_offset(s.i0 + i, p.start[r], p.Cin);
            if (off < p.D) v = wr[off];
          }
          d[k * kMR + i] = v;
        }
      }
    }
  }
}

// Pixel-panel width of forward and dX, in vectors. Narrow windows (short K per micro-GEMM)
// take the widest tile to amortise each call; wide windows keep the panel small enough to
// stay in L1 while every sliver sweeps it.
int panel_vectors(const SccPlan& p) { return p.D <= 64 ? kWideNV : 2; }

// Pixel panels handled (and packed) together by one work unit. Packing several panels of an
// image in one sweep reads each channel row contiguously, which streams far better than
// visiting every row once per panel; the packed chunk is kept under ~1 MB (L2).
int panels_per_unit(int N, int panels, int threads, int rows, int pw) {
  if (N < threads) return 1;  // few images: split panels across threads instead
  const int cap = std::max(1, static_cast<int>((size_t(1) << 20) / (static_cast<size_t>(rows) * pw * sizeof(float))));
  return std::min(panels, cap);
}

// Packs panels [c0, c0 + np) of `rows` rows: dst[(j*rows + r)*pw + q] = row_r[(c0+j)*pw + q],
// zero past HW. rowptr(r) gives row r's pixel 0. With `in`, row r (virtual channel r of a
// layer with Cin inputs) is read through that channel's folded BN+ReLU.
template <class RowPtr>
void pack_panels(RowPtr rowptr, int rows, int HW, int c0, int np, int pw, float* dst,
                 const InputAffine& in = {}, int Cin = 0) {
  const int p0 = c0 * pw;
  for (int r = 0; r < rows; ++r) {
    const float* src = rowptr(r) + p0;
    for (int j = 0; j < np; ++j) {
      float* d = dst + (static_cast<int64_t>(j) * rows + r) * pw;
      const int cols = std::max(0, std::min(pw, HW - p0 - j * pw));
      if (in)
        in.row(scc_channel(r, Cin), src + j * pw, d, cols);
      else
        std::memcpy(d, src + j * pw, sizeof(float) * cols);
      for (int q = cols; q < pw; ++q) d[q] = 0.0f;
    }
  }
}

// Few-pixel forward (N*H*W <= kFewPixels: batch-1 inference in the last stages, 4x4, 2x2
// and 1x1 planes). The banded GEMM would repack the whole weight band and pad every pixel
// panel to a wide tile for a handful of columns; here each output reads its own D weights
// once and its window directly: Cout*D MACs per pixel, nothing else. Every output has one
// writer and a fixed summation order, so results do not depend on the thread count.
constexpr int64_t kFewPixels = 16;

// 16 floats as one value: one AVX-512 register, or two AVX2 ones.
typedef float v16 __attribute__((vector_size(64), aligned(64)));
constexpr int kLanes = 16;
constexpr int kOutBlock = 4;  // outputs per block (see scc_rows_block)
constexpr int kRowsMinPixels = 8;  // from this many pixels the channel-major form wins
static_assert(kFewPixels <= kLanes, "one 16-lane row holds every pixel");

inline v16 load16(const float* p) {
  v16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// kRowsMinPixels or more pixels: X channel-major over virtual channels, one 16-lane row per channel
// (pixels past P zero), xv[v*16 + q]. An output's 16 pixels are then sum_k w[k] * row[start+k]:
// one broadcast FMA per weight and no horizontal sums.
// Outputs are taken in the plan's start-sorted order (SccPlan::order), so the windows of
// one block coincide or overlap and their rows stay in L1 across the block.
// Two accumulators per output (even and odd k) give 2J independent FMA chains while the J
// weight and J window pointers still fit the general registers.
// kShared: the J outputs share one window (SCC repeats each start Cout*s/Cin-fold at most,
// and the sorted order puts equal starts together), so each window row is loaded once for
// all J outputs and the weights come in as broadcast operands.
template <int J, bool kShared>
void scc_rows_block(const SccPlan& p, const float* xv, const float* w, int r0, v16* out) {
  const int D = p.D;
  const float* wj[J];
  const float* xj[J];
  v16 acc[J], acc2[J];  // locals, so that the accumulators live in registers
#pragma GCC unroll 4
  for (int j = 0; j < J; ++j) {
    acc[j] = acc2[j] = v16{};
    wj[j] = w + static_cast<int64_t>(p.order[r0 + j]) * D;
    xj[j] = xv + static_cast<int64_t>(p.start[r0 + (kShared ? 0 : j)]) * kLanes;
  }
  auto row = [&](int j, int k) { return load16(xj[j] + static_cast<int64_t>(k) * kLanes); };
  int k = 0;
  for (; k + 2 <= D; k += 2) {
    v16 a{}, b{};
    if constexpr (kShared) {
      a = row(0, k);
      b = row(0, k + 1);
    }
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j) {
      acc[j] += wj[j][k] * (kShared ? a : row(j, k));
      acc2[j] += wj[j][k + 1] * (kShared ? b : row(j, k + 1));
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < J; ++j) {
    if (k < D) acc[j] += wj[j][k] * row(j, k);
    out[j] = acc[j] + acc2[j];
  }
}

// Fewer than kRowsMinPixels pixels: X pixel-major over virtual channels, xt[q*V + v]; each output is one
// 16-lane dot product per pixel, the weight vector loaded once for all pixels.
typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));
// Pairwise, so the sum costs four dependent adds rather than fifteen.
float hsum16(v16 v) {
  v8 lo, hi;
  std::memcpy(&lo, &v, sizeof lo);
  std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
  const v8 s8 = lo + hi;
  v4 a, b;
  std::memcpy(&a, &s8, sizeof a);
  std::memcpy(&b, reinterpret_cast<const char*>(&s8) + sizeof a, sizeof b);
  const v4 s4 = a + b;
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

void scc_dots(const SccShape& s, const float* xt, int V, int P, const float* w, int c, float* out) {
  const int D = s.D(), start = scc_start(c, s.stride, s.Cin);
  const float* wc = w + static_cast<int64_t>(c) * D;
  v16 acc[kRowsMinPixels];
  for (int q = 0; q < P; ++q) acc[q] = v16{};
  int k = 0;
  for (; k + kLanes <= D; k += kLanes) {
    const v16 wv = load16(wc + k);
    for (int q = 0; q < P; ++q) acc[q] += wv * load16(xt + static_cast<int64_t>(q) * V + start + k);
  }
  for (int q = 0; q < P; ++q) {
    float t = hsum16(acc[q]);
    const float* xq = xt + static_cast<int64_t>(q) * V + start;
    for (int kk = k; kk < D; ++kk) t += wc[kk] * xq[kk];
    out[q] = t;
  }
}

void scc_forward_few_pixels(CpuCtx& ctx, const SccShape& s, const float* x, const float* w, float* y,
                            const InputAffine& in, const Epilogue& epi) {
  const int HW = s.H * s.W, Cin = s.Cin, Cout = s.Cout, D = s.D();
  const int V = Cin + D;  // virtual channels: the first D repeated, so every window is contiguous
  const int P = s.N * HW;
  float* row = ctx.ws.get(0, kWsShared2, static_cast<size_t>(HW));
  // x's channel c of image n, through the folded BN+ReLU if any
  auto channel = [&](int n, int c) {
    const float* src = x + (static_cast<int64_t>(n) * Cin + c) * HW;
    if (!in) return src;
    in.row(c, src, row, HW);
    return static_cast<const float*>(row);
  };
  auto store = [&](int64_t c, int q, float v) {
    y[(static_cast<int64_t>(q / HW) * Cout + c) * HW + q % HW] = v;
  };
  if (P >= kRowsMinPixels) {
    float* xv = ctx.ws.get(0, kWsShared, static_cast<size_t>(V) * kLanes);
    std::memset(xv, 0, sizeof(float) * static_cast<size_t>(Cin) * kLanes);
    for (int n = 0; n < s.N; ++n)
      for (int c = 0; c < Cin; ++c) std::memcpy(xv + static_cast<int64_t>(c) * kLanes + n * HW, channel(n, c), sizeof(float) * HW);
    std::memcpy(xv + static_cast<int64_t>(Cin) * kLanes, xv, sizeof(float) * static_cast<size_t>(D) * kLanes);
    const SccPlan& p = ctx.scc_plan(s);
    const int64_t blocks = (Cout + kOutBlock - 1) / kOutBlock;
    ctx.pool.parallel_for(blocks, [&](int, int64_t b, int64_t e) {
      v16 acc[kOutBlock];
      for (int64_t bi = b; bi < e; ++bi) {
        const int r0 = static_cast<int>(bi) * kOutBlock, J = std::min(kOutBlock, Cout - r0);
        if (J == kOutBlock && p.start[r0] == p.start[r0 + J - 1]) {
          scc_rows_block<kOutBlock, true>(p, xv, w, r0, acc);
        } else if (J == kOutBlock) {
          scc_rows_block<kOutBlock, false>(p, xv, w, r0, acc);
        } else {
          for (int j = 0; j < J; ++j) scc_rows_block<1, false>(p, xv, w, r0 + j, acc + j);
        }
        for (int j = 0; j < J; ++j) {
          float lanes[kLanes];
          std::memcpy(lanes, &acc[j], sizeof lanes);
          for (int n = 0; n < s.N; ++n) {
            const int c = p.order[r0 + j];
            const int64_t o = (static_cast<int64_t>(n) * Cout + c) * HW;
            std::memcpy(y + o, lanes + n * HW, sizeof(float) * HW);
            if (epi) epi.apply(c, y + o, epi.res_at(o), HW);
          }
        }
      }
    }, 4);
    return;
  }
  float* xt = ctx.ws.get(0, kWsShared, static_cast<size_t>(P) * V);
  for (int n = 0; n < s.N; ++n)
    for (int c = 0; c < Cin; ++c) {
      const float* src = channel(n, c);
      for (int q = 0; q < HW; ++q) xt[static_cast<int64_t>(n * HW + q) * V + c] = src[q];
    }
  for (int q = 0; q < P; ++q) std::memcpy(xt + static_cast<int64_t>(q) * V + Cin, xt + static_cast<int64_t>(q) * V, sizeof(float) * D);
  ctx.pool.parallel_for(Cout, [&](int, int64_t b, int64_t e) {
    float out[kRowsMinPixels];
    for (int64_t c = b; c < e; ++c) {
      scc_dots(s, xt, V, P, w, static_cast<int>(c), out);
      for (int q = 0; q < P; ++q) store(c, q, out[q]);
      for (int n = 0; epi && n < s.N; ++n) {
        const int64_t o = (static_cast<int64_t>(n) * Cout + c) * HW;
        epi.apply(static_cast<int>(c), y + o, epi.res_at(o), HW);
      }
    }
  }, 16);
}

}  // namespace

size_t scc_packed_size(CpuCtx& ctx, const SccShape& s) { return ctx.scc_plan(s).out_pack; }

void scc_pack_forward(CpuCtx& ctx, const SccShape& s, const float* w, float* packed) {
  pack_forward_weights(ctx.scc_plan(s), w, packed);
}

void cpu_scc_forward(CpuCtx& ctx, const SccShape& s, const float* x, const float* w, float* y,
                     InputAffine in, const Epilogue& epi, const float* packed) {
  if (static_cast<int64_t>(s.N) * s.H * s.W <= kFewPixels) {
    scc_forward_few_pixels(ctx, s, x, w, y, in, epi);
    return;
  }
  const SccPlan& p = ctx.scc_plan(s);
  const int HW = s.H * s.W, Cin = s.Cin, Cout = s.Cout;
  const int pnv = panel_vectors(p), pw = pnv * kVecWidth;
  const float* ap = packed;
  if (!ap) {
    float* buf = ctx.ws.get(0, kWsShared, p.out_pack);
    pack_forward_weights(p, w, buf);
    ap = buf;
  }
  const int panels = (HW + pw - 1) / pw;
  const int chunk = panels_per_unit(s.N, panels, ctx.pool.size(), p.vext, pw);
  const int chunks = (panels + chunk - 1) / chunk;
  const int64_t units = static_cast<int64_t>(s.N) * chunks;
  ctx.pool.parallel_for(units, [&](int tid, int64_t b, int64_t e) {
    float* bp = ctx.ws.get(tid, kWsLocal, static_cast<size_t>(p.vext) * pw * chunk);
    float* crow[kMR];
    for (int64_t u = b; u < e; ++u) {
      const int n = static_cast<int>(u / chunks), c0 = static_cast<int>(u % chunks) * chunk;
      const int np = std::min(chunk, panels - c0);
      const float* xn = x + static_cast<int64_t>(n) * Cin * HW;
      pack_panels([&](int v) { return xn + static_cast<int64_t>(scc_channel(v, Cin)) * HW; }, p.vext, HW,
                  c0, np, pw, bp, in, Cin);
      for (int j = 0; j < np; ++j) {
        const int p0 = (c0 + j) * pw, cols = std::min(pw, HW - p0);
        const float* bj = bp + static_cast<int64_t>(j) * p.vext * pw;
        float* yn = y + static_cast<int64_t>(n) * Cout * HW + p0;
        for (const auto& o : p.out) {
          for (int i = 0; i < o.rows; ++i) crow[i] = yn + static_cast<int64_t>(p.order[o.r0 + i]) * HW;
          micro_kernel(o.U, ap + o.aoff, kMR, bj + static_cast<int64_t>(o.k0) * pw, pw, crow, o.rows,
                       cols, 1.0f, 0.0f, pnv);
          // the tile is still in L1: the epilogue as it leaves
          for (int i = 0; epi && i < o.rows; ++i) {
            const int c = p.order[o.r0 + i];
            epi.apply(c, crow[i], epi.res_at((static_cast<int64_t>(n) * Cout + c) * HW + p0), cols);
          }
        }
      }
    }
  });
}

void cpu_scc_backward(CpuCtx& ctx, const SccShape& s, const float* x, const float* w,
                      const float* dy, float* dx, float* dw, bool set_dx, InputAffine in) {
  const SccPlan& p = ctx.scc_plan(s);
  // Every dX element has exactly one writer (an input sliver over a pixel panel; a sliver
  // no window covers multiplies over R = 0 and stores zeros), so overwriting is beta = 0.
  const float dx_beta = set_dx ? 0.0f : 1.0f;
  const int HW = s.H * s.W, Cin = s.Cin, Cout = s.Cout;
  const int pnv = panel_vectors(p), pw = pnv * kVecWidth;
  const int panels = (HW + pw - 1) / pw;
  float* ap = nullptr;
  if (dx) {
    ap = ctx.ws.get(0, kWsShared2, p.in_pack);
    pack_input_weights(p, w, ap);
  }
  // dX over units (image, chunk of pixel panels) [b, e): one writer per dX element, input-centric.
  const int chunk = panels_per_unit(s.N, panels, ctx.pool.size(), p.rext, pw);
  const int chunks = (panels + chunk - 1) / chunk;
  auto dx_units = [&](int tid, int64_t b, int64_t e) {
    float* dp = ctx.ws.get(tid, kWsLocal3, static_cast<size_t>(p.rext) * pw * chunk);
    float* crow[kMR];
    for (int64_t u = b; u < e; ++u) {
      const int n = static_cast<int>(u / chunks), c0 = static_cast<int>(u % chunks) * chunk;
      const int np = std::min(chunk, panels - c0);
      const float* dyn = dy + static_cast<int64_t>(n) * Cout * HW;
      pack_panels([&](int r) { return dyn + static_cast<int64_t>(p.order[r % Cout]) * HW; }, p.rext, HW,
                  c0, np, pw, dp);
      for (int j = 0; j < np; ++j) {
        const int p0 = (c0 + j) * pw, cols = std::min(pw, HW - p0);
        const float* dj = dp + static_cast<int64_t>(j) * p.rext * pw;
        float* dxn = dx + static_cast<int64_t>(n) * Cin * HW + p0;
        for (const auto& si : p.in) {
          for (int i = 0; i < si.rows; ++i) crow[i] = dxn + static_cast<int64_t>(si.i0 + i) * HW;
          micro_kernel(si.R, ap + si.aoff, kMR, dj + static_cast<int64_t>(si.r0) * pw, pw, crow,
                       si.rows, cols, 1.0f, dx_beta, pnv);
        }
      }
    }
  };
  const int64_t units = static_cast<int64_t>(s.N) * chunks;
  if (!dw) {
    if (dx) ctx.pool.parallel_for(units, dx_units);
    return;
  }
  const int T = std::min(ctx.pool.size(), kMaxCpuThreads);
  float* parts[kMaxCpuThreads];
  for (int t = 0; t < T; ++t) parts[t] = ctx.ws.get_zeroed(t, kWsPartial, p.g_size);
  // Row strides of the pixel-major copies: an odd number of cache lines, so the micro-kernel's
  // strided row reads spread over every L1 set instead of aliasing onto a few.
  auto odd_lines = [](int n) {
    int l = (n + 15) / 16 * 16;
    return (l / 16) % 2 == 0 ? l + 16 : l;
  };
  const int ld = odd_lines(p.vext_pad);  // xt[q][v] = X[n, v mod Cin, p0+q]
  const size_t nsl = p.out.size();
  // dW partial sums of images [b, e) into this thread's tiles.
  auto dw_images = [&](int tid, int64_t b, int64_t e) {
    float* G = parts[tid];
    float* xt = ctx.ws.get(tid, kWsLocal, static_cast<size_t>(kPixBlock) * ld);
    const size_t nptr = static_cast<size_t>(p.vext);
    const float** rows = reinterpret_cast<const float**>(
        ctx.ws.get(tid, kWsPtrs, nptr * sizeof(float*) / sizeof(float) + 1));
    float* crow[kMR];
    const float* arow[kMR];
    float* xin = in ? ctx.ws.get(tid, kWsLocal2, nptr * kPixBlock) : nullptr;  // folded rows
    // Pad columns are read by the last micro-tiles but only feed gradient-tile columns that
    // are discarded; zeroed once per call (the transposes never write them) so they hold no
    // stale NaNs or denormals.
    for (int q = 0; q < kPixBlock; ++q)
      std::memset(xt + static_cast<int64_t>(q) * ld + p.vext, 0, (ld - p.vext) * sizeof(float));
    for (int64_t n = b; n < e; ++n) {
      const float* xn = x + n * Cin * HW;
      const float* dyn = dy + n * Cout * HW;
      for (int p0 = 0; p0 < HW; p0 += kPixBlock) {
        const int kp = std::min(kPixBlock, HW - p0);
        for (int v = 0; v < p.vext; ++v) {
          const int c = scc_channel(v, Cin);
          rows[v] = xn + static_cast<int64_t>(c) * HW + p0;
          if (in) {  // through the folded BN+ReLU first: long rows, one scale per row
            float* t = xin + static_cast<int64_t>(v) * kPixBlock;
            in.row(c, rows[v], t, kp);
            rows[v] = t;
          }
        }
        transpose_rows(rows, p.vext, kp, xt, ld);
        for (size_t sl = 0; sl < nsl; ++sl) {
          const auto& o = p.out[sl];
          // dY rows straight from the NCHW planes (pixel-contiguous); rows past the sliver
          // repeat its first row and land in discarded gradient-tile rows.
          for (int i = 0; i < kMR; ++i)
            arow[i] = dyn + static_cast<int64_t>(p.order[o.r0 + (i < o.rows ? i : 0)]) * HW + p0;
          for (int q = 0; q < o.Upad;) {
            const int left = o.Upad - q;
            const int nv = left >= kWideNR ? kWideNV : left >= kNR ? 2 : 1;
            for (int i = 0; i < kMR; ++i) crow[i] = G + o.goff + static_cast<size_t>(i) * o.Upad + q;
            micro_kernel_arows(kp, arow, xt + o.k0 + q, ld, crow, kMR, nv * kVecWidth, 1.0f, 1.0f, nv);
            q += nv * kVecWidth;
          }
        }
      }
    }
  };
  if (s.N >= T) {
    // One pass per thread over its images: dX then dW partials (one dispatch, not two).
    ctx.pool.parallel_for(s.N, [&](int tid, int64_t b, int64_t e) {
      if (dx) dx_units(tid, b * chunks, e * chunks);
      dw_images(tid, b, e);
    });
  } else {
    if (dx) ctx.pool.parallel_for(units, dx_units);
    ctx.pool.parallel_for(s.N, dw_images);
  }
  // Band extraction and the cross-thread sum, in thread order.
  ctx.pool.parallel_for(static_cast<int64_t>(nsl), [&](int, int64_t b, int64_t e) {
    for (int64_t sl = b; sl < e; ++sl) {
      const auto& o = p.out[sl];
      for (int i = 0; i < o.rows; ++i) {
        const int r = o.r0 + i;
        float* dwr = dw + static_cast<int64_t>(p.order[r]) * p.D;
        const size_t base = o.goff + static_cast<size_t>(i) * o.Upad;
        for (int k = 0; k < o.U; ++k) {
          const int off = o.k0 + k - p.start[r];
          if (off < 0 || off >= p.D) continue;
          float sum = 0.0f;
          for (int t = 0; t < T; ++t) sum += parts[t][base + k];
          dwr[off] += sum;
        }
      }
    }
  }, p.g_size * T < (size_t(1) << 18) ? static_cast<int64_t>(nsl) + 1 : 1);  // small: no dispatch
}

}  // namespace dsx
