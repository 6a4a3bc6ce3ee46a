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

namespace dsx {

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
  size_t in_pack = 0;
  int rext = 0;  // rows an extended (cyclic) dY panel must hold: max(r0 + R)
};

SccPlan make_scc_plan(const SccShape& s);

}  // namespace dsx
