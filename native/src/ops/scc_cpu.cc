// Sliding-channel convolution on the CPU (the definition: backend.h SccShape), costed by its MACs:
// every product is a banded micro-GEMM over one sliver's union window (see scc_plan.h),
// never a dense Cin-wide product with a mask.
//  forward      per (image, pixel panel): the panel of X over virtual channels (wrap rows
//               appended, so windows are contiguous) times each sliver's banded weights;
//  dX           input-centric: each sliver of input channels gathers from the start-sorted
//               output channels covering it, so every dX element has one writer;
//  dW           dY * X^T restricted to each sliver's band, per-thread partial tiles summed
//               in thread order (deterministic for a fixed thread count).
// Full pixel panels of forward and dX read X and dY in place (micro_kernel_boff over row
// offsets); only a last partial panel, or X through a folded BN+ReLU, is packed.
// When every window start is shared by a register block of outputs (SCC at high channel-group
// counts), the forward and dX take the shared-window kernels instead (scc_forward_shared):
// each input row is loaded once per block of outputs that share it, and no band zeros are
// multiplied. Every path sums each output element in the same order (one FMA chain over its
// window, or over its covering output rows in the sliver's cyclic order), so which path a
// layer takes never changes a result bit (for finite inputs: on the sliver path a band zero
// times an infinite input is NaN).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "ops/ops_cpu.h"
#include "ops/scc_index.h"
#include "ops/scc_small_planes.h"
#include "ops/transpose.h"
#include "ops/vec_lanes.h"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace dsx {

namespace {
constexpr int kPixBlock = 256;  // pixels per dW reduction block
// Shared-window kernels (scc_forward_shared): rows per register block (kShJ * kShNV + kShNV
// + 1 vector registers) and pixel vectors per block.
constexpr int kShJ = kSccRunRows;
constexpr int kShNV = 3;
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

  for (int r = 0; r < Cout;) {
    int e = r + 1;
    while (e < Cout && p.start[e] == p.start[r]) ++e;
    const int blocks = (e - r + kShJ - 1) / kShJ, dpad = (D + kVecWidth - 1) / kVecWidth * kVecWidth;
    p.runs.push_back({r, e - r, p.run_pack, p.run_g_size});
    p.run_pack += static_cast<size_t>(blocks) * D * kShJ;
    p.run_g_size += static_cast<size_t>(blocks) * kShJ * dpad;
    p.run_ext = std::max(p.run_ext, p.start[r] + dpad);
    p.min_run = r == 0 ? e - r : std::min(p.min_run, e - r);
    r = e;
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

  // Data-gradient segments: channel i's ordered rows, from its input sliver's cyclic order.
  {
    std::vector<int> prev, cur;
    for (const auto& si : p.in)
      for (int i = si.i0; i < si.i0 + si.rows; ++i) {
        cur.clear();
        for (int k = 0; k < si.R; ++k) {
          const int r = (si.r0 + k) % Cout;
          if (scc_offset(i, p.start[r], Cin) < D) cur.push_back(r);
        }
        if (i > 0 && cur == prev) {
          ++p.segs.back().len;
        } else {
          p.segs.push_back({i, 1, static_cast<int>(cur.size()), p.seg_rows.size(), 0});
          p.seg_rows.insert(p.seg_rows.end(), cur.begin(), cur.end());
        }
        std::swap(prev, cur);
      }
    p.min_seg = Cin;
    for (auto& g : p.segs) {
      g.aoff = p.seg_pack;
      p.seg_pack += static_cast<size_t>((g.len + kShJ - 1) / kShJ) * g.K * kShJ;
      p.min_seg = std::min(p.min_seg, g.len);
    }
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
      std::memset(d, 0, sizeof(float) * static_cast<size_t>(o.U) * kMR);
      // row i's window starts start[r] - k0 columns into the sliver's union window
      for (int i = 0; i < o.rows; ++i) {
        const int r = o.r0 + i, base = p.start[r] - o.k0;
        const float* wr = w + static_cast<int64_t>(p.order[r]) * p.D;
        for (int k = 0; k < p.D; ++k) d[(base + k) * kMR + i] = wr[k];
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

// Row offsets of an in-place panel read (micro_kernel_boff): off[r] = plane(r) * HW, in the
// op-wide kWsCol slot (tid 0, filled before any parallel region reads it).
template <class Plane>
const int32_t* scc_row_offsets(CpuCtx& ctx, int rows, int HW, Plane plane) {
  static_assert(sizeof(int32_t) == sizeof(float), "offsets stored in float slots");
  int32_t* off = reinterpret_cast<int32_t*>(ctx.ws.get(0, kWsCol, static_cast<size_t>(rows)));
  for (int r = 0; r < rows; ++r) off[r] = plane(r) * HW;
  return off;
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
constexpr int64_t kFewPixels = kSccFewPixels;

// 16 floats as one value: one AVX-512 register. Without AVX-512, GCC lowers a 64-byte vector
// through memory (stores and reloads around every operation, about 10x slower), so the AVX2
// build runs the kernels below on two 8-lane halves, v8, each lane the same chain.
typedef float v16 __attribute__((vector_size(64), aligned(64)));
typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));
constexpr int kLanes = 16;
constexpr int kOutBlock = 4;  // outputs per block (see scc_rows_block)
constexpr int kRowsMinPixels = 8;  // from this many pixels the channel-major form wins
static_assert(kFewPixels <= kLanes, "one 16-lane row holds every pixel");

template <class VT = v16>
inline VT load16(const float* p) {
  VT v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// One output's 16 pixel lanes as the row kernels leave them: one register on AVX-512, two
// 8-lane halves otherwise (joined, they would go through memory; see above).
#if defined(__AVX512F__)
typedef v16 RowsOut;
#else
struct RowsOut {
  v8 lo, hi;
};
#endif

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
// VT: v16 (all lanes), or v8 with lane0 0 or 8 (one half of them).
template <int J, bool kShared, class VT>
void scc_rows_block_lanes(const SccPlan& p, const float* xv, const float* w, int r0, int lane0, VT* out) {
  const int D = p.D;
  const float* wj[J];
  const float* xj[J];
  VT acc[J], acc2[J];  // locals, so that the accumulators live in registers
#pragma GCC unroll 4
  for (int j = 0; j < J; ++j) {
    acc[j] = acc2[j] = VT{};
    wj[j] = w + static_cast<int64_t>(p.order[r0 + j]) * D;
    xj[j] = xv + static_cast<int64_t>(p.start[r0 + (kShared ? 0 : j)]) * kLanes + lane0;
  }
  auto row = [&](int j, int k) { return load16<VT>(xj[j] + static_cast<int64_t>(k) * kLanes); };
  int k = 0;
  for (; k + 2 <= D; k += 2) {
    VT a{}, b{};
    if constexpr (kShared) {
      a = row(0, k);
      b = row(0, k + 1);
      // held in registers: folded into each of the J FMAs, the row would be loaded J times
      // and the loop bound by loads (AVX2 has no embedded broadcast for the weights either)
#if defined(__AVX2__) && !defined(__AVX512F__)
      asm("" : "+x"(a), "+x"(b));
#endif
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

template <int J, bool kShared>
void scc_rows_block(const SccPlan& p, const float* xv, const float* w, int r0, RowsOut* out) {
#if defined(__AVX512F__)
  scc_rows_block_lanes<J, kShared, v16>(p, xv, w, r0, 0, out);
#else
  v8 lo[J], hi[J];
  scc_rows_block_lanes<J, kShared, v8>(p, xv, w, r0, 0, lo);
  scc_rows_block_lanes<J, kShared, v8>(p, xv, w, r0, 8, hi);
  for (int j = 0; j < J; ++j) out[j] = {lo[j], hi[j]};
#endif
}

// The first n <= 16 lanes of an output through the epilogue (Epilogue::apply_lanes, lane by
// lane the same arithmetic on either form) into dst; r: its residual (or null).
inline void store_rows_out(const Epilogue& epi, int c, RowsOut v, const float* r, int n, float* dst) {
#if defined(__AVX512F__)
  if (epi) v = epi.apply_lanes(c, v, r, n);
  std::memcpy(dst, &v, sizeof(float) * n);
#else
  const int nl = std::min(n, 8);
  if (epi) {
    v.lo = epi.apply_lanes(c, v.lo, r, nl);
    if (n > 8) v.hi = epi.apply_lanes(c, v.hi, r ? r + 8 : nullptr, n - 8);
  }
  std::memcpy(dst, &v.lo, sizeof(float) * nl);
  if (n > 8) std::memcpy(dst + 8, &v.hi, sizeof(float) * (n - 8));
#endif
}

// Fewer than kRowsMinPixels pixels: X pixel-major over virtual channels, xt[q*V + v]; each output is one
// 16-lane dot product per pixel, the weight vector loaded once for all pixels.
// Pairwise, so the sum costs four dependent adds rather than fifteen; lo and hi are lanes
// 0-7 and 8-15 of the 16-lane sum.
float hsum16(v8 lo, v8 hi) {
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
  int k = 0;
#if defined(__AVX512F__)
  v16 acc[kRowsMinPixels];
  for (int q = 0; q < P; ++q) acc[q] = v16{};
  for (; k + kLanes <= D; k += kLanes) {
    const v16 wv = load16(wc + k);
    for (int q = 0; q < P; ++q) acc[q] += wv * load16(xt + static_cast<int64_t>(q) * V + start + k);
  }
  auto sum = [&](int q) {
    v8 lo, hi;
    std::memcpy(&lo, &acc[q], sizeof lo);
    std::memcpy(&hi, reinterpret_cast<const char*>(&acc[q]) + sizeof lo, sizeof hi);
    return hsum16(lo, hi);
  };
#else
  v8 lo[kRowsMinPixels], hi[kRowsMinPixels];
  for (int q = 0; q < P; ++q) lo[q] = hi[q] = v8{};
  for (; k + kLanes <= D; k += kLanes) {
    const v8 wl = load16<v8>(wc + k), wh = load16<v8>(wc + k + 8);
    for (int q = 0; q < P; ++q) {
      const float* xq = xt + static_cast<int64_t>(q) * V + start + k;
      lo[q] += wl * load16<v8>(xq);
      hi[q] += wh * load16<v8>(xq + 8);
    }
  }
  auto sum = [&](int q) { return hsum16(lo[q], hi[q]); };
#endif
  for (int q = 0; q < P; ++q) {
    float t = sum(q);
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
    if (P < kLanes) std::memset(xv, 0, sizeof(float) * static_cast<size_t>(Cin) * kLanes);
    for (int n = 0; n < s.N; ++n)
      for (int c = 0; c < Cin; ++c) std::memcpy(xv + static_cast<int64_t>(c) * kLanes + n * HW, channel(n, c), sizeof(float) * HW);
    std::memcpy(xv + static_cast<int64_t>(Cin) * kLanes, xv, sizeof(float) * static_cast<size_t>(D) * kLanes);
    const SccPlan& p = ctx.scc_plan(s);
    const int64_t blocks = (Cout + kOutBlock - 1) / kOutBlock;
    ctx.pool.parallel_for(blocks, [&](int, int64_t b, int64_t e) {
      RowsOut acc[kOutBlock];
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
          if (s.N == 1) {
            // one image: its HW lanes are the output plane, so the epilogue runs in the
            // register (Epilogue::apply's arithmetic) and the plane is stored once
            const int c = p.order[r0 + j];
            store_rows_out(epi, c, acc[j], epi.res_at(static_cast<int64_t>(c) * HW), HW, y + static_cast<int64_t>(c) * HW);
            continue;
          }
          float lanes[kLanes];
          store_rows_out(Epilogue{}, 0, acc[j], nullptr, kLanes, lanes);
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

// ---- Forward by shared windows ---------------------------------------------------------
// When every window start is shared by at least kShJ output channels (SCC at high channel-
// group counts: each start repeats Cout*s/Cin-fold), the rows of one start form a run and
// read the same D input rows. A run is computed in blocks of kShJ rows x kShNV vectors of
// pixels, accumulators in registers, the window's rows read in place (or through the
// folded BN+ReLU, materialised once per window): each input row is loaded once per block
// of outputs that share it, there are no band zeros and no padded rows, and every output is
// the same FMA chain over its window, k = 0..D-1 from zero, as the banded micro-GEMM runs it
// (whose band zeros add nothing), so results are bit-identical to the sliver path
// (vf, loadv, fmav: ops/vec_lanes.h).
inline float fmas(float a, float b, float c) {
#if defined(__FMA__)
  return __builtin_fmaf(a, b, c);
#else
  return c + a * b;
#endif
}

// C rows j < kShJ, pixels [0, NV*kVecWidth): c[j] = beta ? c[j] + acc : acc, where
// acc[j] = sum_k a[k*kShJ + j] * brow[k][..], one FMA chain in k.
template <int NV>
inline void sh_tile(int K, const float* __restrict a, const float* const* brow, int64_t boff,
                    float* const* crow, int64_t coff, bool add) {
  vf acc[kShJ][NV];
#pragma GCC unroll 8
  for (int j = 0; j < kShJ; ++j)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[j][v] = vf{};
  for (int k = 0; k < K; ++k) {
    const float* b = brow[k] + boff;
    vf bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = loadv(b + v * kVecWidth);
    const float* ak = a + static_cast<int64_t>(k) * kShJ;
#pragma GCC unroll 8
    for (int j = 0; j < kShJ; ++j) {
      const float w = ak[j];
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[j][v] = fmav(w, bv[v], acc[j][v]);
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < kShJ; ++j)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      float* c = crow[j] + coff + v * kVecWidth;
      vf r = acc[j][v];
      if (add) r = loadv(c) + r;
      std::memcpy(c, &r, sizeof r);
    }
}

// The last n < kVecWidth pixels of the rows, one scalar FMA chain each.
inline void sh_tail(int K, const float* a, const float* const* brow, int64_t boff, float* const* crow,
                    int64_t coff, int n, bool add) {
  for (int j = 0; j < kShJ; ++j)
    for (int q = 0; q < n; ++q) {
      float acc = 0.0f;
      for (int k = 0; k < K; ++k) acc = fmas(a[k * kShJ + j], brow[k][boff + q], acc);
      float* c = crow[j] + coff + q;
      *c = add ? *c + acc : acc;
    }
}

// Vectors of the next register tile with `left` vectors to go: 3 (kShNV) while that leaves
// no single-vector tile (8 accumulators, half the FMA work per load), else 2 or 1.
inline int sh_tile_vectors(int left) {
  static_assert(kShNV == 3, "tiles of 3, 2 and 1 vectors");
  if (left >= 3 && left != 4) return 3;
  return left >= 2 ? 2 : 1;
}

// Prefetches into L2 paced by the register tiles: up to two ranges of floats, `per` cache
// lines from each every time step() is called (once per tile). A later image's planes then
// stream in at the pace of the arithmetic; the same lines requested in one burst per unit
// overflow the miss queues, and the forward at 16x16 planes, batch 64, ran 7-12% slower so.
struct PfPump {
  const char* p[2] = {nullptr, nullptr};
  const char* e[2] = {nullptr, nullptr};
  int per = 0;
  void set(int i, const float* b, size_t n) {
    p[i] = reinterpret_cast<const char*>(b);
    e[i] = p[i] + n * sizeof(float);
  }
  void step() {
    for (int i = 0; i < 2; ++i)
      for (int k = 0; k < per && p[i] < e[i]; ++k, p[i] += 64) __builtin_prefetch(p[i], 0, 2);
  }
};

// Register tiles sh_rows runs over `cols` pixels (3-, 2- and 1-vector tiles and a scalar tail).
inline int sh_tiles(int cols) {
  int t = 0, q = 0;
  for (int left; (left = (cols - q) / kVecWidth) > 0; ++t) q += sh_tile_vectors(left) * kVecWidth;
  return t + (q < cols ? 1 : 0);
}

// Rows [0, kShJ) of one block over `cols` pixels; pump (if any) steps before each vector tile.
inline void sh_rows(int K, const float* a, const float* const* brow, float* const* crow, int cols,
                    bool add, PfPump* pump = nullptr) {
  int q = 0;
  for (int left; (left = (cols - q) / kVecWidth) > 0;) {
    if (pump) pump->step();
    const int nv = sh_tile_vectors(left);
    if (nv == 3)
      sh_tile<3>(K, a, brow, q, crow, q, add);
    else if (nv == 2)
      sh_tile<2>(K, a, brow, q, crow, q, add);
    else
      sh_tile<1>(K, a, brow, q, crow, q, add);
    q += nv * kVecWidth;
  }
  if (q < cols) sh_tail(K, a, brow, q, crow, q, cols - q, add);
}


// Weight-gradient block of one run: c[j][..] += sum_{q<K} arow[j][q] * b[q*ldb + ..] over NV
// vectors of window columns, one FMA chain in q from zero, added to c once (as
// micro_kernel_arows with beta 1 does).
template <int NV>
inline void shw_tile(int K, const float* const* arow, const float* b, int64_t ldb, float* const* crow,
                     int64_t coff) {
  vf acc[kShJ][NV];
#pragma GCC unroll 8
  for (int j = 0; j < kShJ; ++j)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[j][v] = vf{};
  for (int q = 0; q < K; ++q) {
    const float* bq = b + static_cast<int64_t>(q) * ldb;
    vf bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = loadv(bq + v * kVecWidth);
#pragma GCC unroll 8
    for (int j = 0; j < kShJ; ++j) {
      const float a = arow[j][q];
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[j][v] = fmav(a, bv[v], acc[j][v]);
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < kShJ; ++j)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      float* c = crow[j] + coff + v * kVecWidth;
      const vf r = loadv(c) + acc[j][v];
      std::memcpy(c, &r, sizeof r);
    }
}

// Prefetches part i of n of the floats [p, p + len) into L2: a later pass's input, streamed
// in while this pass computes.
inline void prefetch_part(const float* p, size_t len, int64_t i, int64_t n) {
  if (!p) return;
  const size_t b = len * i / n, e = len * (i + 1) / n;
  for (size_t q = b; q < e; q += 64 / sizeof(float)) __builtin_prefetch(p + q, 0, 2);
}

// Blocks of a run: ceil(len / kShJ); its packed weights of block b at Run::aoff + b * D * kShJ.
int sh_blocks(const SccPlan::Run& r) { return (r.len + kShJ - 1) / kShJ; }

void scc_forward_shared(CpuCtx& ctx, const SccShape& s, const SccPlan& p, const float* x, const float* w,
                        float* y, const InputAffine& in, const Epilogue& epi) {
  const int HW = s.H * s.W, Cin = s.Cin, Cout = s.Cout, D = p.D;
  const int R = static_cast<int>(p.runs.size());
  // weights, block-major: a[(block)(k)(j)] = w[order[r0 + j]][k], rows past the run zero
  float* ap = ctx.ws.get(0, kWsShared, p.run_pack);
  for (int i = 0; i < R; ++i) {
    const auto& run = p.runs[i];
    for (int b = 0; b < sh_blocks(run); ++b) {
      float* d = ap + run.aoff + static_cast<size_t>(b) * D * kShJ;
      for (int j = 0; j < kShJ; ++j) {
        const int r = run.r0 + b * kShJ + j;
        const float* wr = r < run.r0 + run.len ? w + static_cast<int64_t>(p.order[r]) * D : nullptr;
        for (int k = 0; k < D; ++k) d[k * kShJ + j] = wr ? wr[k] : 0.0f;
      }
    }
  }
  // units: (image, run)
  const int64_t units = static_cast<int64_t>(s.N) * R;
  ctx.pool.parallel_for(units, [&](int tid, int64_t ub, int64_t ue) {
    const float** brow = reinterpret_cast<const float**>(
        ctx.ws.get(tid, kWsPtrs, static_cast<size_t>(D) * sizeof(float*) / sizeof(float) + 1));
    float* xin = in ? ctx.ws.get(tid, kWsLocal2, static_cast<size_t>(D) * HW) : nullptr;
    float* dummy = ctx.ws.get(tid, kWsLocal3, static_cast<size_t>(HW));
    float* crow[kShJ];
    for (int64_t u = ub; u < ue; ++u) {
      const int n = static_cast<int>(u / R), ri = static_cast<int>(u % R);
      const auto& run = p.runs[ri];
      const int st = p.start[run.r0];
      const float* xn = x + static_cast<int64_t>(n) * Cin * HW;
      for (int k = 0; k < D; ++k) {
        const int c = scc_channel(st + k, Cin);
        brow[k] = xn + static_cast<int64_t>(c) * HW;
        if (in) {
          float* t = xin + static_cast<int64_t>(k) * HW;
          in.row(c, brow[k], t, HW);
          brow[k] = t;
        }
      }
      float* yn = y + static_cast<int64_t>(n) * Cout * HW;
      const int nb = sh_blocks(run);
      // the next image's X and Y (whose lines a read leaves exclusive, so writing them later
      // needs no further transfer) into L2: this unit's share (1/R of each plane set), paced
      // over the first half of its tiles
      PfPump pump;
      if (n + 1 < s.N && (n + 1) * R < ue) {
        const size_t xs = static_cast<size_t>(Cin) * HW, ys = static_cast<size_t>(Cout) * HW;
        pump.set(0, x + static_cast<int64_t>(n + 1) * xs + xs * ri / R, xs * (ri + 1) / R - xs * ri / R);
        pump.set(1, y + static_cast<int64_t>(n + 1) * ys + ys * ri / R, ys * (ri + 1) / R - ys * ri / R);
        const size_t lines = std::max(xs, ys) / R * sizeof(float) / 64 + 1;
        const size_t tiles = static_cast<size_t>(nb) * sh_tiles(HW);
        pump.per = 2 * static_cast<int>((lines + tiles - 1) / tiles);
      }
      // the next unit's window, spread over this unit's blocks: the rows stream in from
      // memory while these blocks compute
      const int64_t un = u + 1 < units ? u + 1 : u;
      const float* xnn = x + (un / R) * Cin * HW;
      const int stn = p.start[p.runs[un % R].r0];
      for (int b = 0; b < nb; ++b) {
        const int rows = std::min(kShJ, run.len - b * kShJ);
        for (int j = 0; j < kShJ; ++j)
          crow[j] = j < rows ? yn + static_cast<int64_t>(p.order[run.r0 + b * kShJ + j]) * HW : dummy;
        if (un != u)
          for (int k = b * D / nb; k < (b + 1) * D / nb; ++k) {
            const float* r = xnn + static_cast<int64_t>(scc_channel(stn + k, Cin)) * HW;
            for (int q = 0; q < HW; q += 64 / static_cast<int>(sizeof(float))) __builtin_prefetch(r + q, 0, 3);
          }
        sh_rows(D, ap + run.aoff + static_cast<size_t>(b) * D * kShJ, brow, crow, HW, false, &pump);
        for (int j = 0; epi && j < rows; ++j) {
          const int c = p.order[run.r0 + b * kShJ + j];
          epi.apply(c, crow[j], epi.res_at((static_cast<int64_t>(n) * Cout + c) * HW), HW);
        }
      }
    }
  });
}

}  // namespace

// Planes of fewer pixels than a vector (2x2, 1x1: MobileNetV1's last stages at batch 128)
// would run the shared kernels' scalar tails only, 5-8x slower than the slivers' panels.
bool scc_shared_forward(const SccPlan& p, int HW) { return p.min_run >= kShJ && HW >= kVecWidth; }
bool scc_shared_dx(const SccPlan& p, int HW) { return p.min_seg >= kShJ && HW >= kVecWidth; }

size_t scc_packed_size(CpuCtx& ctx, const SccShape& s) { return ctx.scc_plan(s).out_pack; }

void scc_pack_forward(CpuCtx& ctx, const SccShape& s, const float* w, float* packed) {
  pack_forward_weights(ctx.scc_plan(s), w, packed);
}

void cpu_scc_forward(CpuCtx& ctx, const SccShape& s, const float* x, const float* w, float* y,
                     InputAffine in, const Epilogue& epi, const float* packed) {
  if (scc_small_planes(s)) {
    scc_small_forward(ctx, s, x, w, y, in, epi, packed);
    return;
  }
  if (static_cast<int64_t>(s.N) * s.H * s.W <= kFewPixels) {
    scc_forward_few_pixels(ctx, s, x, w, y, in, epi);
    return;
  }
  const SccPlan& p = ctx.scc_plan(s);
  if (scc_shared_forward(p, s.H * s.W)) {
    scc_forward_shared(ctx, s, p, x, w, y, in, epi);
    return;
  }
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
  // Without a folded BN+ReLU, full panels read X in place: virtual channel v's row of the
  // panel is at xn + off[v] + p0 (micro_kernel_boff), so nothing is copied per image and each
  // sliver sweeps its window's rows and writes its output rows contiguously, panel after panel.
  const int32_t* off = in ? nullptr : scc_row_offsets(ctx, p.vext, HW, [&](int v) { return scc_channel(v, Cin); });
  ctx.pool.parallel_for(units, [&](int tid, int64_t b, int64_t e) {
    float* crow[kMR];
    for (int64_t u = b; u < e; ++u) {
      const int n = static_cast<int>(u / chunks), c0 = static_cast<int>(u % chunks) * chunk;
      const int np = std::min(chunk, panels - c0);
      const float* xn = x + static_cast<int64_t>(n) * Cin * HW;
      float* yn0 = y + static_cast<int64_t>(n) * Cout * HW;
      // the sliver's micro-GEMM over panel c0 + j, B rows from `bj` (offsets) or packed
      auto tile = [&](const SccPlan::OutSliver& o, int j, const float* bj, bool packed_b) {
        const int p0 = (c0 + j) * pw, cols = std::min(pw, HW - p0);
        float* yn = yn0 + p0;
        for (int i = 0; i < o.rows; ++i) crow[i] = yn + static_cast<int64_t>(p.order[o.r0 + i]) * HW;
        if (packed_b)
          micro_kernel(o.U, ap + o.aoff, kMR, bj + static_cast<int64_t>(o.k0) * pw, pw, crow, o.rows,
                       cols, 1.0f, 0.0f, pnv);
        else
          micro_kernel_boff(o.U, ap + o.aoff, bj, off + o.k0, crow, o.rows, cols, 1.0f, 0.0f, pnv);
        // the tile is still in L1: the epilogue as it leaves
        for (int i = 0; epi && i < o.rows; ++i) {
          const int c = p.order[o.r0 + i];
          epi.apply(c, crow[i], epi.res_at((static_cast<int64_t>(n) * Cout + c) * HW + p0), cols);
        }
      };
      // panels read in place: full ones (every row readable for pw floats)
      const int inplace = off ? std::max(0, std::min(np, HW / pw - c0)) : 0;
      if (inplace > 0)
        for (const auto& o : p.out)
          for (int j = 0; j < inplace; ++j) tile(o, j, xn + (c0 + j) * pw, false);
      if (inplace == np) continue;
      float* bp = ctx.ws.get(tid, kWsLocal, static_cast<size_t>(p.vext) * pw * (np - inplace));
      pack_panels([&](int v) { return xn + static_cast<int64_t>(scc_channel(v, Cin)) * HW; }, p.vext, HW,
                  c0 + inplace, np - inplace, pw, bp, in, Cin);
      for (int j = inplace; j < np; ++j) {
        const float* bj = bp + static_cast<int64_t>(j - inplace) * p.vext * pw;
        for (const auto& o : p.out) tile(o, j, bj, true);
      }
    }
  });
}

void scc_add_run_partials(CpuCtx& ctx, const SccPlan& p, float* const* parts, int T, float* dw) {
  const int Dpad = scc_run_dpad(p.D);
  const int64_t nr = static_cast<int64_t>(p.runs.size());
  ctx.pool.parallel_for(nr, [&](int, int64_t b, int64_t e) {
    for (int64_t ri = b; ri < e; ++ri) {
      const auto& run = p.runs[ri];
      for (int j = 0; j < run.len; ++j) {
        float* dwr = dw + static_cast<int64_t>(p.order[run.r0 + j]) * p.D;
        const size_t base = run.goff + static_cast<size_t>(j) * Dpad;
        for (int k = 0; k < p.D; ++k) {
          float sum = 0.0f;
          for (int t = 0; t < T; ++t) sum += parts[t][base + k];
          dwr[k] += sum;
        }
      }
    }
  }, p.run_g_size * T < (size_t(1) << 18) ? nr + 1 : 1);
}

void cpu_scc_backward(CpuCtx& ctx, const SccShape& s, const float* x, const float* w,
                      const float* dy, float* dx, float* dw, bool set_dx, InputAffine in) {
  const SccPlan& p = ctx.scc_plan(s);
  if (scc_small_planes(s) && (!dw || scc_small_planes_dw(p))) {
    scc_small_backward(ctx, s, p, x, w, dy, dx, dw, set_dx, in);
    return;
  }
  // Every dX element has exactly one writer (an input sliver over a pixel panel; a sliver
  // no window covers multiplies over R = 0 and stores zeros), so overwriting is beta = 0.
  const float dx_beta = set_dx ? 0.0f : 1.0f;
  const int HW = s.H * s.W, Cin = s.Cin, Cout = s.Cout;
  const int pnv = panel_vectors(p), pw = pnv * kVecWidth;
  const int panels = (HW + pw - 1) / pw;
  float* ap = nullptr;
  if (dx && !scc_shared_dx(p, HW)) {
    ap = ctx.ws.get(0, kWsShared2, p.in_pack);
    pack_input_weights(p, w, ap);
  }
  // dX over units (image, chunk of pixel panels) [b, e): one writer per dX element, input-centric.
  const int chunk = panels_per_unit(s.N, panels, ctx.pool.size(), p.rext, pw);
  const int chunks = (panels + chunk - 1) / chunk;
  // Full panels read dY in place (sorted output row r at dyn + off[r] + p0), as the forward
  // reads X; a last partial panel is packed.
  const int32_t* off = dx ? scc_row_offsets(ctx, p.rext, HW, [&](int r) { return p.order[r % Cout]; }) : nullptr;
  auto dx_units = [&](int tid, int64_t b, int64_t e) {
    float* crow[kMR];
    for (int64_t u = b; u < e; ++u) {
      const int n = static_cast<int>(u / chunks), c0 = static_cast<int>(u % chunks) * chunk;
      const int np = std::min(chunk, panels - c0);
      const float* dyn = dy + static_cast<int64_t>(n) * Cout * HW;
      float* dxn0 = dx + static_cast<int64_t>(n) * Cin * HW;
      auto tile = [&](const SccPlan::InSliver& si, int j, const float* dj, bool packed_b) {
        const int p0 = (c0 + j) * pw, cols = std::min(pw, HW - p0);
        float* dxn = dxn0 + p0;
        for (int i = 0; i < si.rows; ++i) crow[i] = dxn + static_cast<int64_t>(si.i0 + i) * HW;
        if (packed_b)
          micro_kernel(si.R, ap + si.aoff, kMR, dj + static_cast<int64_t>(si.r0) * pw, pw, crow,
                       si.rows, cols, 1.0f, dx_beta, pnv);
        else
          micro_kernel_boff(si.R, ap + si.aoff, dj, off + si.r0, crow, si.rows, cols, 1.0f, dx_beta, pnv);
      };
      const int inplace = std::max(0, std::min(np, HW / pw - c0));
      if (inplace > 0)
        for (const auto& si : p.in)
          for (int j = 0; j < inplace; ++j) tile(si, j, dyn + (c0 + j) * pw, false);
      if (inplace == np) continue;
      float* dp = ctx.ws.get(tid, kWsLocal3, static_cast<size_t>(p.rext) * pw * (np - inplace));
      pack_panels([&](int r) { return dyn + static_cast<int64_t>(p.order[r % Cout]) * HW; }, p.rext, HW,
                  c0 + inplace, np - inplace, pw, dp);
      for (int j = inplace; j < np; ++j) {
        const float* dj = dp + static_cast<int64_t>(j - inplace) * p.rext * pw;
        for (const auto& si : p.in) tile(si, j, dj, true);
      }
    }
  };
  // Shared-window data gradient: every segment at least kShJ channels long (see
  // scc_forward_shared; the same FMA chains as the sliver path's, without its band zeros).
  const bool dx_shared = dx && scc_shared_dx(p, HW);
  float* sp = nullptr;
  if (dx_shared) {
    sp = ctx.ws.get(0, kWsShared, p.seg_pack);
    for (const auto& g : p.segs)
      for (int b = 0; b * kShJ < g.len; ++b) {
        float* d = sp + g.aoff + static_cast<size_t>(b) * g.K * kShJ;
        for (int k = 0; k < g.K; ++k) {
          const int r = p.seg_rows[g.roff + k];
          const float* wr = w + static_cast<int64_t>(p.order[r]) * p.D;
          for (int j = 0; j < kShJ; ++j) {
            const int i = g.i0 + b * kShJ + j;
            d[k * kShJ + j] = i < g.i0 + g.len ? wr[scc_offset(i, p.start[r], Cin)] : 0.0f;
          }
        }
      }
  }
  const int nseg = static_cast<int>(p.segs.size());
  // pf: the floats of image n's X to prefetch for the dW pass that follows (or null)
  auto dx_seg_units = [&](int tid, int64_t b, int64_t e, const float* pf) {
    const float** brow = reinterpret_cast<const float**>(
        ctx.ws.get(tid, kWsPtrs, static_cast<size_t>(Cout) * sizeof(float*) / sizeof(float) + 1));
    float* dummy = ctx.ws.get(tid, kWsLocal3, static_cast<size_t>(HW));
    // AVX2 (8-lane tiles, 12 FMAs per 3 row loads): a segment's dY rows are whole runs of
    // same-start outputs, channels Cin/gcd(s, Cin) apart, so at 16x16 planes they sit 8 KB
    // apart and fall in one L1 set; the image's dY copied once in sorted-row order makes them
    // contiguous (256->256 16x16 cg4 in L2: dX 0.278 -> 0.184 ms per 2 images). AVX-512's
    // 24 FMAs per 3 loads hide those misses, and there the copy costs more than it saves.
    float* dys = kVecWidth == 8 ? ctx.ws.get(tid, kWsLocal2, static_cast<size_t>(Cout) * HW) : nullptr;
    int64_t dys_n = -1;
    float* crow[kShJ];
    for (int64_t u = b; u < e; ++u) {
      const int n = static_cast<int>(u / nseg);
      const auto& g = p.segs[u % nseg];
      const float* dyn = dy + static_cast<int64_t>(n) * Cout * HW;
      float* dxn = dx + static_cast<int64_t>(n) * Cin * HW;
      if (dys) {
        if (dys_n != n) {
          for (int r = 0; r < Cout; ++r)
            std::memcpy(dys + static_cast<int64_t>(r) * HW, dyn + static_cast<int64_t>(p.order[r]) * HW, sizeof(float) * HW);
          dys_n = n;
        }
        for (int k = 0; k < g.K; ++k) brow[k] = dys + static_cast<int64_t>(p.seg_rows[g.roff + k]) * HW;
      } else {
        for (int k = 0; k < g.K; ++k) brow[k] = dyn + static_cast<int64_t>(p.order[p.seg_rows[g.roff + k]]) * HW;
      }
      prefetch_part(pf, static_cast<size_t>(Cin) * HW, u % nseg, nseg);
      if (u + 1 < e) {  // the next unit's dX rows, for writing
        const auto& gn = p.segs[(u + 1) % nseg];
        float* dxx = dx + (u + 1) / nseg * Cin * HW + static_cast<int64_t>(gn.i0) * HW;
        for (int64_t q = 0; q < static_cast<int64_t>(gn.len) * HW; q += 64 / sizeof(float))
          __builtin_prefetch(dxx + q, 1, 3);
      }
      for (int bb = 0; bb * kShJ < g.len; ++bb) {
        for (int j = 0; j < kShJ; ++j) {
          const int i = g.i0 + bb * kShJ + j;
          crow[j] = i < g.i0 + g.len ? dxn + static_cast<int64_t>(i) * HW : dummy;
        }
        sh_rows(g.K, sp + g.aoff + static_cast<size_t>(bb) * g.K * kShJ, brow, crow, HW, !set_dx);
      }
    }
  };
  // dX of images [b, e) (per_image units each)
  const int64_t per_image = dx_shared ? nseg : chunks;
  auto dx_images = [&](int tid, int64_t b, int64_t e, const float* pf = nullptr) {
    if (dx_shared)
      dx_seg_units(tid, b, e, pf);
    else
      dx_units(tid, b, e);
  };
  const int64_t units = static_cast<int64_t>(s.N) * per_image;
  if (!dw) {
    if (dx) ctx.pool.parallel_for(units, [&](int tid, int64_t b, int64_t e) { dx_images(tid, b, e); });
    return;
  }
  const int T = std::min(ctx.pool.size(), kMaxCpuThreads);
  float* parts[kMaxCpuThreads];
  // Row strides of the pixel-major copies: an odd number of cache lines, so the micro-kernel's
  // strided row reads spread over every L1 set instead of aliasing onto a few.
  auto odd_lines = [](int n) {
    int l = (n + 15) / 16 * 16;
    return (l / 16) % 2 == 0 ? l + 16 : l;
  };
  // Shared windows (scc_shared_forward): runs of same-start rows in kShJ-row blocks over the
  // whole window, tiles [kShJ][Dpad] per block (at Run::goff) in place of the slivers'.
  const bool dw_shared = scc_shared_forward(p, HW);
  const int Dpad = scc_run_dpad(p.D);
  const size_t g_size = dw_shared ? p.run_g_size : p.g_size;
  const int ld = odd_lines(dw_shared ? std::max(p.vext_pad, p.run_ext) : p.vext_pad);  // xt[q][v] = X[n, v mod Cin, p0+q]
  const size_t nsl = p.out.size();
  for (int t = 0; t < T; ++t) parts[t] = ctx.ws.get_zeroed(t, kWsPartial, g_size);
  // dW partial sums of images [b, e) into this thread's tiles.
  // pf: the floats of the next image's dY to prefetch for its dX pass (or null)
  // Register tiles of one image's shared-window weight-gradient pass (runs' blocks x window
  // column tiles x pixel blocks): the pace of its prefetches.
  int dw_tiles = 0;
  if (dw_shared) {
    int per_block = 0;
    for (int q = 0; q < Dpad; q += sh_tile_vectors((Dpad - q) / kVecWidth) * kVecWidth) ++per_block;
    for (const auto& run : p.runs) dw_tiles += sh_blocks(run) * per_block;
    dw_tiles *= (HW + kPixBlock - 1) / kPixBlock;
  }
  auto dw_images = [&](int tid, int64_t b, int64_t e, const float* pf = nullptr) {
    // shared windows: the next image's dY (pf) into L2, paced over the first half of this
    // pass's tiles (as scc_forward_shared paces X and Y; in one burst per run it ran ~4%
    // slower at 256->256 16x16 b64 cg4)
    PfPump pump;
    if (pf && dw_shared) {
      pump.set(0, pf, static_cast<size_t>(Cout) * HW);
      const size_t lines = static_cast<size_t>(Cout) * HW * sizeof(float) / 64 + 1;
      pump.per = 2 * static_cast<int>((lines + dw_tiles - 1) / dw_tiles);
    }
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
        if (dw_shared) {
          for (size_t ri = 0; ri < p.runs.size(); ++ri) {
            const auto& run = p.runs[ri];
            const float* bx = xt + p.start[run.r0];
            for (int bb = 0; bb < sh_blocks(run); ++bb) {
              // rows past the run repeat its first row and land in discarded tile rows
              const float* ar[kShJ];
              float* cr[kShJ];
              for (int j = 0; j < kShJ; ++j) {
                const int r = run.r0 + bb * kShJ + j;
                ar[j] = dyn + static_cast<int64_t>(p.order[r < run.r0 + run.len ? r : run.r0]) * HW + p0;
                cr[j] = G + run.goff + (static_cast<size_t>(bb) * kShJ + j) * Dpad;
              }
              for (int q = 0; q < Dpad;) {
                const int nv = sh_tile_vectors((Dpad - q) / kVecWidth);
                pump.step();
                if (nv == 3)
                  shw_tile<3>(kp, ar, bx + q, ld, cr, q);
                else if (nv == 2)
                  shw_tile<2>(kp, ar, bx + q, ld, cr, q);
                else
                  shw_tile<1>(kp, ar, bx + q, ld, cr, q);
                q += nv * kVecWidth;
              }
            }
          }
          continue;
        }
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
    // One pass per thread over its images, dX then dW partials image by image (one dispatch,
    // not two), so the image's dY planes are still in L2 when dW reads them again.
    ctx.pool.parallel_for(s.N, [&](int tid, int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) {
        if (dx) dx_images(tid, n * per_image, (n + 1) * per_image, in ? nullptr : x + n * Cin * HW);
        dw_images(tid, n, n + 1, n + 1 < e && dx ? dy + (n + 1) * Cout * HW : nullptr);
      }
    });
  } else {
    if (dx) ctx.pool.parallel_for(units, [&](int tid, int64_t b, int64_t e) { dx_images(tid, b, e); });
    ctx.pool.parallel_for(s.N, [&](int tid, int64_t b, int64_t e) { dw_images(tid, b, e); });
  }
  // Band extraction and the cross-thread sum, in thread order.
  if (dw_shared) {
    scc_add_run_partials(ctx, p, parts, T, dw);
    return;
  }
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
