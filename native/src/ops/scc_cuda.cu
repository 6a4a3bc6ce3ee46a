// Sliding-channel convolution on the GPU (the definition: backend.h SccShape). Three kernels:
//  - forward: a block owns a tile of output channels x positions and stages the tile's
//    union window of input channels through shared memory once, in row chunks; the
//    wrap-around is resolved by index arithmetic on tile rows (scc_index.h), no copies;
//  - input gradient, input-centric: a thread owns dX elements and gathers from every output
//    channel whose window covers them, found over virtual channels i + j*Cin; no atomics;
//  - weight gradient: blocks reduce N*H*W slices into partials [split][Cout][D], then a
//    second pass sums the splits in a fixed order; deterministic, no atomics.
// Positions are flattened over the batch (j = n*HW + p) so small feature maps still fill
// the tiles.
#include <algorithm>

#include "ops/ops_cuda.cuh"
#include "ops/scc_index.h"

namespace dsx {
namespace cuda {

namespace {

// ---- forward ----
constexpr int FTC = 32;   // output channels per tile: 8 warps x 4
constexpr int FTP = 128;  // positions per tile: 32 lanes x 4
constexpr int FKC = 32;   // union-window rows per shared-memory chunk

__global__ void __launch_bounds__(256)
    scc_fwd_kernel(int N, int Cin, int HW, int Cout, int D, int s, const float* __restrict__ x,
                   const float* __restrict__ fold, const float* __restrict__ w,
                   float* __restrict__ y) {
  __shared__ float xs[FKC][FTP];
  const long long M = (long long)N * HW;
  const long long j0 = (long long)blockIdx.x * FTP;
  const int c0 = blockIdx.y * FTC;
  const int tc = min(FTC, Cout - c0);
  const int base = scc_start(c0, s, Cin);  // tile row 0 = input channel `base`
  // The tile's union window spans U virtual channels; past Cin it covers every channel
  // once, and rows are taken mod Cin.
  const long long U = (long long)(tc - 1) * s + D;
  const int R = U < Cin ? static_cast<int>(U) : Cin;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  // loader role: one position column, every other row
  const int lj = threadIdx.x % FTP, lr0 = threadIdx.x / FTP;
  const long long jl = j0 + lj;
  const bool lvalid = jl < M;
  size_t lbase = 0;
  if (lvalid) lbase = (size_t)(jl / HW) * Cin * HW + (size_t)(jl % HW);

  // compute role: channels warp + 8r, positions lane + 32q; rs = first tile row of a window
  int rs[4];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int cl = warp + 8 * r;
    rs[r] = cl < tc ? scc_offset(scc_start(c0 + cl, s, Cin), base, Cin) : 0;
  }
  float acc[4][4] = {};

  for (int lo = 0; lo < R; lo += FKC) {
    for (int rr = lr0; rr < FKC; rr += 256 / FTP) {
      const int row = lo + rr;
      float v = 0.f;
      if (row < R && lvalid) {
        const int ch = scc_channel(base + row, Cin);
        v = fold_in(__ldg(&x[lbase + (size_t)ch * HW]), fold, Cin, ch);
      }
      xs[rr][lj] = v;
    }
    __syncthreads();
    const int hi = min(lo + FKC, R);
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int cl = warp + 8 * r;
      if (cl >= tc) continue;  // warp-uniform
      const float* wc = w + (size_t)(c0 + cl) * D;
      // rows [rs, rs + D) of the window; the part past R wraps to rows [0, rs + D - R)
      const int a1 = max(lo, rs[r]), b1 = min(hi, min(rs[r] + D, R));
      for (int row = a1; row < b1; ++row) {
        const float wk = __ldg(&wc[row - rs[r]]);
#pragma unroll
        for (int q = 0; q < 4; ++q) acc[r][q] = fmaf(wk, xs[row - lo][lane + 32 * q], acc[r][q]);
      }
      if (rs[r] + D > R) {
        const int b2 = min(hi, rs[r] + D - R);
        for (int row = lo; row < b2; ++row) {
          const float wk = __ldg(&wc[row + R - rs[r]]);
#pragma unroll
          for (int q = 0; q < 4; ++q)
            acc[r][q] = fmaf(wk, xs[row - lo][lane + 32 * q], acc[r][q]);
        }
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const long long j = j0 + lane + 32 * q;
    if (j >= M) continue;
    const size_t ob = (size_t)(j / HW) * Cout * HW + (size_t)(j % HW);
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int cl = warp + 8 * r;
      if (cl < tc) y[ob + (size_t)(c0 + cl) * HW] = acc[r][q];
    }
  }
}

// ---- input gradient (input-centric) ----
constexpr int XTC = 32, XTP = 128;

__global__ void __launch_bounds__(256, 4)
    scc_bwd_dx_kernel(int N, int Cin, int HW, int Cout, int D, int s,
                      const float* __restrict__ w, const float* __restrict__ dy,
                      float* __restrict__ dx, bool set_dx) {
  const long long M = (long long)N * HW;
  const long long j0 = (long long)blockIdx.x * XTP;
  const int i0 = blockIdx.y * XTC;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  size_t dyb[4], dxb[4];
  bool valid[4];
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const long long j = j0 + lane + 32 * q;
    valid[q] = j < M;
    const long long n = valid[q] ? j / HW : 0, p = valid[q] ? j % HW : 0;
    dyb[q] = (size_t)n * Cout * HW + p;
    dxb[q] = (size_t)n * Cin * HW + p;
  }
  // Output channel c's window is virtual channels [c*s, c*s + D); virtual channel v is
  // input channel v mod Cin. So channel i is read, with weight index k = v - c*s, by every
  // c with c*s <= v < c*s + D for some v = i + j*Cin.
  // (virtual channels stay below Cout*s + D, far inside int range for real layers)
  const int vmax = (Cout - 1) * s + D;  // one past the last virtual channel
#pragma unroll 1
  for (int r = 0; r < XTC / 8; ++r) {
    const int i = i0 + warp + 8 * r;
    if (i >= Cin) break;  // warp-uniform
    float acc[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll 1
    for (int v = i; v < vmax; v += Cin) {
      const int c_lo = v >= D ? (v - D) / s + 1 : 0;
      const int c_hi = min(Cout - 1, v / s);
#pragma unroll 1
      for (int c = c_lo; c <= c_hi; ++c) {
        const float wk = __ldg(&w[(size_t)c * D + (v - c * s)]);
        const float* dyc = dy + (size_t)c * HW;
#pragma unroll
        for (int q = 0; q < 4; ++q)
          if (valid[q]) acc[q] = fmaf(wk, __ldg(&dyc[dyb[q]]), acc[q]);
      }
    }
#pragma unroll
    for (int q = 0; q < 4; ++q)
      if (valid[q]) {
        float& d = dx[dxb[q] + (size_t)i * HW];
        d = set_dx ? acc[q] : d + acc[q];
      }
  }
}

// ---- weight gradient, pass 1: per-block partial sums over a slice of positions ----
constexpr int WTP = 16;   // positions staged per step
constexpr int WKR = 256;  // union-window rows per shared-memory chunk
constexpr int WPAIRS = 4; // (channel, k) pairs per thread: 1024 per block

__global__ void __launch_bounds__(256)
    scc_bwd_dw_partial_kernel(int N, int Cin, int HW, int Cout, int D, int s, int tcw, int kb,
                              long long chunk, const float* __restrict__ x,
                              const float* __restrict__ fold, const float* __restrict__ dy,
                              float* __restrict__ partial) {
  __shared__ float xs[WKR][WTP + 1];
  __shared__ float dys[16][WTP];
  __shared__ size_t xb[WTP], dyb[WTP];
  const long long M = (long long)N * HW;
  const int split = blockIdx.x;
  const int c0 = blockIdx.y * tcw, tc = min(tcw, Cout - c0);
  const int k0 = blockIdx.z * kb, kn = min(kb, D - k0);
  const long long jb = split * chunk, je = min(M, jb + chunk);
  const int t = threadIdx.x;
  // Tile row 0 is input channel (start(c0) + k0) mod Cin; pair (c, k) reads tile row
  // offset(start(c), start(c0)) + k - k0, taken mod Cin when the union covers every channel.
  const int start0 = scc_start(c0, s, Cin);
  const int tb = static_cast<int>(((long long)start0 + k0) % Cin);
  const long long U = (long long)(tc - 1) * s + kn;
  const int R = U < Cin ? static_cast<int>(U) : Cin;
  int prow[WPAIRS], pcl[WPAIRS];
#pragma unroll
  for (int e = 0; e < WPAIRS; ++e) {
    const int q = t + 256 * e;
    const int cl = q / kn, kk = q % kn;
    pcl[e] = cl < tc ? cl : -1;
    int row = 0;
    if (cl < tc) {
      row = scc_offset(scc_start(c0 + cl, s, Cin), start0, Cin) + kk;
      if (row >= R) row -= R;
    }
    prow[e] = row;
  }
  float acc[WPAIRS] = {};
  for (long long j0 = jb; j0 < je; j0 += WTP) {
    __syncthreads();  // previous step's readers are done with xb/dys/xs
    if (t < WTP) {
      const long long j = j0 + t;
      if (j < je) {
        xb[t] = (size_t)(j / HW) * Cin * HW + (size_t)(j % HW);
        dyb[t] = (size_t)(j / HW) * Cout * HW + (size_t)(j % HW);
      } else {
        xb[t] = dyb[t] = ~(size_t)0;
      }
    }
    __syncthreads();
    for (int e = t; e < 16 * WTP; e += 256) {
      const int cl = e / WTP, pp = e % WTP;
      float v = 0.f;
      if (cl < tc && dyb[pp] != ~(size_t)0) v = __ldg(&dy[dyb[pp] + (size_t)(c0 + cl) * HW]);
      dys[cl][pp] = v;
    }
    for (int lo = 0; lo < R; lo += WKR) {
      if (lo > 0) __syncthreads();
      for (int e = t; e < WKR * WTP; e += 256) {
        const int rr = e / WTP, pp = e % WTP, row = lo + rr;
        float v = 0.f;
        if (row < R && xb[pp] != ~(size_t)0) {
          const int ch = scc_channel(tb + row, Cin);
          v = fold_in(__ldg(&x[xb[pp] + (size_t)ch * HW]), fold, Cin, ch);
        }
        xs[rr][pp] = v;
      }
      __syncthreads();
#pragma unroll
      for (int e = 0; e < WPAIRS; ++e) {
        const int rr = prow[e] - lo;
        if (pcl[e] < 0 || rr < 0 || rr >= WKR) continue;
        float a = acc[e];
#pragma unroll
        for (int pp = 0; pp < WTP; ++pp) a = fmaf(dys[pcl[e]][pp], xs[rr][pp], a);
        acc[e] = a;
      }
    }
  }
#pragma unroll
  for (int e = 0; e < WPAIRS; ++e) {
    if (pcl[e] < 0) continue;
    const int q = t + 256 * e, kk = q % kn;
    partial[((size_t)split * Cout + c0 + pcl[e]) * D + k0 + kk] = acc[e];
  }
}

// pass 2: dw += sum of the splits, always in split order
__global__ void scc_bwd_dw_reduce_kernel(size_t n, int splits, const float* partial, float* dw) {
  DSX_GRID_STRIDE(i, n) {
    float s = 0.f;
    for (int sp = 0; sp < splits; ++sp) s += partial[(size_t)sp * n + i];
    dw[i] += s;
  }
}

}  // namespace

void scc_forward(const Ctx& ctx, const SccShape& s, const float* x, const float* w, float* y,
                 const float* fold) {
  const long long M = (long long)s.N * s.H * s.W;
  if (M == 0 || s.Cout == 0) return;
  dim3 grid(static_cast<unsigned>((M + FTP - 1) / FTP), (s.Cout + FTC - 1) / FTC);
  DSX_LAUNCH(scc_fwd_kernel, grid, 256, 0, ctx.stream)(s.N, s.Cin, s.H * s.W, s.Cout, s.D(),
      s.stride, x, fold, w, y);
  DSX_CUDA_LAUNCHED("scc_fwd_kernel");
}

void scc_backward(const Ctx& ctx, const SccShape& s, const float* x, const float* w,
                  const float* dy, float* dx, float* dw, bool overwrite_dx, const float* fold) {
  const long long M = (long long)s.N * s.H * s.W;
  const int D = s.D(), HW = s.H * s.W;
  if (M == 0 || s.Cout == 0) return;
  if (dx) {
    dim3 grid(static_cast<unsigned>((M + XTP - 1) / XTP), (s.Cin + XTC - 1) / XTC);
    DSX_LAUNCH(scc_bwd_dx_kernel, grid, 256, 0, ctx.stream)(s.N, s.Cin, HW, s.Cout, D, s.stride, w,
        dy, dx, overwrite_dx);
    DSX_CUDA_LAUNCHED("scc_bwd_dx_kernel");
  }
  if (dw) {
    const int kb = std::min(D, 256 * WPAIRS);
    const int tcw = std::max(1, std::min(16, 256 * WPAIRS / kb));
    const int ctiles = (s.Cout + tcw - 1) / tcw, ktiles = (D + kb - 1) / kb;
    // enough position splits for ~4 blocks per multiprocessor, each at least a few steps
    long long splits = (4LL * ctx.sms + ctiles * ktiles - 1) / (ctiles * ktiles);
    splits = std::max(1LL, std::min(splits, (M + 4 * WTP - 1) / (4 * WTP)));
    splits = std::min(splits, 65535LL);
    long long chunk = (M + splits - 1) / splits;
    chunk = (chunk + WTP - 1) / WTP * WTP;
    splits = (M + chunk - 1) / chunk;
    const size_t n = (size_t)s.Cout * D;
    float* partial = ctx.scratch->get(kScratchC, n * splits);
    dim3 grid(static_cast<unsigned>(splits), ctiles, ktiles);
    DSX_LAUNCH(scc_bwd_dw_partial_kernel, grid, 256, 0, ctx.stream)(s.N, s.Cin, HW, s.Cout, D,
        s.stride, tcw, kb, chunk, x, fold, dy, partial);
    DSX_CUDA_LAUNCHED("scc_bwd_dw_partial_kernel");
    DSX_LAUNCH(scc_bwd_dw_reduce_kernel, blocks_for(n), kThreads, 0, ctx.stream)(n,
        static_cast<int>(splits), partial, dw);
    DSX_CUDA_LAUNCHED("scc_bwd_dw_reduce_kernel");
  }
}

}  // namespace cuda
}  // namespace dsx
