// Cyclic index arithmetic of sliding-channel convolution (README.md, first paragraph), shared by
// the CPU and CUDA kernels. Output channel c reads the window of D input channels that
// starts at (c*s) mod Cin and wraps; a window is addressed by "virtual channels" v in
// [start, start + D), and virtual channel v is real channel v mod Cin (v < 2*Cin, since
// start < Cin and D <= Cin), so wrap-around never needs copying or padding tensors.
#pragma once

#ifdef __CUDACC__
#define DSX_HD __host__ __device__
#else
#define DSX_HD
#endif

namespace dsx {

DSX_HD inline int scc_gcd(int a, int b) {
  while (b != 0) {
    int t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// First virtual channel of output channel c's window.
DSX_HD inline int scc_start(int c, int s, int Cin) {
  return static_cast<int>((static_cast<long long>(c) * s) % Cin);
}

// Real channel of virtual channel v, for 0 <= v < 2*Cin.
DSX_HD inline int scc_channel(int v, int Cin) { return v >= Cin ? v - Cin : v; }

// Position of input channel i inside the window that starts at `start`: (i - start) mod Cin.
// Input channel i is read by that window, with weight index k = offset, iff offset < D.
DSX_HD inline int scc_offset(int i, int start, int Cin) {
  int d = i - start;
  return d < 0 ? d + Cin : d;
}

DSX_HD inline bool scc_covers(int i, int start, int D, int Cin) {
  return scc_offset(i, start, Cin) < D;
}

// Window starts take Cin / gcd(s, Cin) distinct values, consecutive ones gcd(s, Cin) apart;
// output channels c and c' share a window iff c = c' (mod distinct starts).
DSX_HD inline int scc_distinct_starts(int s, int Cin) { return Cin / scc_gcd(s, Cin); }

}  // namespace dsx
