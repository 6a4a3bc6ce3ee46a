// How the CPU SCC kernels cut a (Cin, Cout, groups, stride) layer into dense micro-GEMMs.
// Output channels are sorted by window start; runs of up to kMR of them form "slivers" whose
// union window [k0, k0+U) (virtual channels) is the K range of one banded micro-GEMM. Slivers
// are chosen by dynamic programming to minimise total union width, so channels that share a
// window (same start) stay together and MACs wasted on the band's zeros stay small.
// For the data gradient, consecutive input channels form slivers instead (input-centric):
// each gathers from the cyclic run of start-sorted output channels whose windows cover it.
#pragma once
#include <cstddef>
#include <vector>

#include "backend.h"
#include "ops/gemm_cpu.h"

namespace dsx {

struct CpuCtx;

// Output rows per register block of the shared-window kernels, and so per block of a run's
// weight-gradient tiles (Run::goff).
constexpr int kSccRunRows = kVecWidth == 16 ? 8 : 4;
// Window columns of those tiles: D padded to whole vectors.
inline int scc_run_dpad(int D) { return (D + kVecWidth - 1) / kVecWidth * kVecWidth; }

struct SccPlan {
  int Cin = 0, Cout = 0, D = 0, s = 0;
  std::vector<int> order;  // output channels sorted by (start, c)
  std::vector<int> start;  // start[r] = window start of order[r]

  struct OutSliver {
    int r0, rows;   // sorted rows [r0, r0 + rows)
    int k0, U;      // union window, virtual channels [k0, k0 + U)
    size_t aoff;    // offset of its packed banded weights (U x kMR)
    int Upad;       // U rounded up to the vector width (weight-gradient tile width)
    size_t goff;    // offset of its weight-gradient tile (kMR x Upad)
  };
  std::vector<OutSliver> out;
  size_t out_pack = 0;  // floats of packed forward weights
  size_t g_size = 0;    // floats of one weight-gradient accumulator
  int vext = 0;         // virtual channels a forward/dW panel must hold: max(k0 + U)
  int vext_pad = 0;     // row width of the transposed input used by dW: max(k0 + Upad)

  struct InSliver {
    int i0, rows;  // input channels [i0, i0 + rows)
    int r0, R;     // sorted output rows r0 .. r0+R-1 (indices mod Cout)
    size_t aoff;   // offset of its packed transposed weights (R x kMR)
  };
  std::vector<InSliver> in;

  // Runs of sorted rows that share one window start (forward by shared windows, see
  // scc_cpu.cc scc_forward_shared): rows [r0, r0 + len); min_run is the shortest run.
  // aoff: the run's forward weights (blocks of kShJ rows, D x kShJ each); goff: its
  // weight-gradient tiles (kShJ x Dpad per block, Dpad = D in whole vectors).
  struct Run {
    int r0, len;
    size_t aoff, goff;
  };
  std::vector<Run> runs;
  int min_run = 0;
  size_t run_pack = 0, run_g_size = 0;  // floats of all runs' weights and gradient tiles
  int run_ext = 0;                      // max(start + Dpad): columns the dW transpose must hold

  // Segments of consecutive input channels whose data gradients sum the same output rows in
  // the same order (the input sliver's cyclic order, rows not covering the channel left out):
  // channels [i0, i0 + len), rows seg_rows[roff .. roff + K) (sorted indices). aoff: offset of
  // the segment's packed weights (blocks of kShJ channels, K x kShJ each).
  struct Seg {
    int i0, len, K;
    size_t roff, aoff;
  };
  std::vector<Seg> segs;
  std::vector<int> seg_rows;
  size_t seg_pack = 0;
  int min_seg = 0;
  size_t in_pack = 0;
  int rext = 0;  // rows an extended (cyclic) dY panel must hold: max(r0 + R)
};

SccPlan make_scc_plan(const SccShape& s);

// Which CPU kernels a plan's layer takes (scc_cpu.cc), for the checks that must cover each:
// the forward (and weight gradient) by shared windows (every start shared by a full register
// block of outputs, pixels beyond the few-pixel path) and the data gradient by segments
// (every segment at least a register block of input channels), both on planes of HW pixels
// holding a vector at least; otherwise the banded sliver micro-GEMMs.
bool scc_shared_forward(const SccPlan& p, int HW);
bool scc_shared_dx(const SccPlan& p, int HW);

// The runs' weight-gradient tiles (Run::goff, run_g_size floats per thread) of T threads
// summed in thread order into dw (+=), window columns only.
void scc_add_run_partials(CpuCtx& ctx, const SccPlan& p, float* const* parts, int T, float* dw);

}  // namespace dsx
