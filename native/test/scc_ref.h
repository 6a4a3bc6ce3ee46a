// Naive float64 sliding-channel convolution, written straight from its definition (output
// channel c reads input channels (c*s + k) mod Cin, k < D = Cin/groups) and independent of
// scc_index.h: the reference every SCC kernel (CPU and CUDA) is held to.
#pragma once
#include <vector>

#include "backend.h"

namespace dsx_test {

struct SccRef {
  std::vector<double> y, dx, dw;
};

// y = SCC(x, w); dx = dx0 + dX; dw = dw0 + dW (backward adds into the given gradients).
inline SccRef scc_reference(const dsx::SccShape& s, const std::vector<float>& x,
                            const std::vector<float>& w, const std::vector<float>& dy,
                            const std::vector<float>& dx0, const std::vector<float>& dw0) {
  const int D = s.Cin / s.groups, HW = s.H * s.W;
  SccRef r;
  r.y.assign(static_cast<size_t>(s.N) * s.Cout * HW, 0.0);
  r.dx.assign(dx0.begin(), dx0.end());
  r.dw.assign(dw0.begin(), dw0.end());
  for (int n = 0; n < s.N; ++n)
    for (int c = 0; c < s.Cout; ++c) {
      const long long start = (static_cast<long long>(c) * s.stride) % s.Cin;
      for (int k = 0; k < D; ++k) {
        const int i = static_cast<int>((start + k) % s.Cin);
        const double wk = w[static_cast<size_t>(c) * D + k];
        for (int p = 0; p < HW; ++p) {
          const size_t xi = (static_cast<size_t>(n) * s.Cin + i) * HW + p;
          const size_t yi = (static_cast<size_t>(n) * s.Cout + c) * HW + p;
          r.y[yi] += wk * x[xi];
          r.dx[xi] += wk * dy[yi];
          r.dw[static_cast<size_t>(c) * D + k] += static_cast<double>(dy[yi]) * x[xi];
        }
      }
    }
  return r;
}

inline std::vector<float> to_float(const std::vector<double>& v) {
  return std::vector<float>(v.begin(), v.end());
}

}  // namespace dsx_test
