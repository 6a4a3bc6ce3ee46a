// `cuda_check --bench`: SCC forward+backward against the same layer built three other ways,
// measured side by side in one run on Cin = Cout = 256, 32x32, batch 128, cg 1/2/4/8,
// overlap 0.5 (s = D/2):
//  - dense:   a dense 1x1 conv whose weight is zero outside the SCC windows (the masked
//             layer; GEMMs through cuBLAS when loaded, else our tiled SGEMM);
//  - grouped: a grouped 1x1 conv with groups = cg, the same MACs as the SCC (the target
//             is SCC within 1.5x of it);
//  - gather:  the paper's gather-then-grouped-conv: the r = D/s channel rotations of X are
//             gathered, each feeds a grouped 1x1 conv, and the outputs are scattered into
//             SCC channel order (backward: gather dY, grouped conv backward, scatter-add dX).
// The gather baseline's output is checked against the SCC's before anything is timed.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "../src/ops/backend_cuda_extras.cuh"
#include "harness.h"

using namespace dsx_test;
using dsx::Backend;

namespace {

struct IntBuf {
  Backend& be;
  int32_t* p;
  IntBuf(Backend& b, const std::vector<int32_t>& v) : be(b) {
    p = static_cast<int32_t*>(be.alloc_bytes(v.size() * 4));
    be.upload(p, v.data(), v.size() * 4);
  }
  ~IntBuf() { be.free_bytes(p); }
};

struct Row {
  double scc_f, scc_b, dense_f, dense_b, grp_f, grp_b, gat_f, gat_b, gather_err, gather_dx_err;
};

}  // namespace

int run_bench(Backend& gpu, int batch, int reps, int C, int H) {
  const int W = H, HW = H * W, N = batch;
  const size_t nt = (size_t)N * C * HW;
  std::printf("bench: SCC fwd+bwd vs alternatives, N=%d C=%d->%d %dx%d, overlap 0.5 (s = D/2), "
              "%d reps, GEMM engine: %s\n",
              N, C, C, H, W, reps, dsx::cuda_gemm_engine(gpu).c_str());
  Rng rng(7);
  Buf x(gpu, rng.vec(nt)), dy(gpu, rng.vec(nt)), y(gpu, nt), y2(gpu, nt), dx(gpu, nt);
  std::vector<Row> rows;
  const int cgs[] = {1, 2, 4, 8};
  for (int cg : cgs) {
    const int D = C / cg, s = D / 2, r = D / s;
    const dsx::SccShape ss{N, C, H, W, C, cg, s};
    Row row{};
    // ---- SCC ----
    std::vector<float> wv = rng.vec((size_t)C * D);
    Buf w(gpu, wv), dw(gpu, (size_t)C * D);
    row.scc_f = time_ms(gpu, [&] { gpu.scc_forward(ss, x.p(), w.p(), y.p()); }, reps);
    row.scc_b = time_ms(gpu, [&] { gpu.scc_backward(ss, x.p(), w.p(), dy.p(), dx.p(), dw.p()); },
                        reps);
    gpu.scc_forward(ss, x.p(), w.p(), y.p());
    // ---- dense masked 1x1 conv ----
    std::vector<float> wd((size_t)C * C, 0.f);
    for (int c = 0; c < C; ++c)
      for (int k = 0; k < D; ++k) wd[(size_t)c * C + ((size_t)c * s + k) % C] = wv[(size_t)c * D + k];
    Buf bwd(gpu, wd), dwd(gpu, (size_t)C * C);
    const dsx::Conv2dShape dense{N, C, H, W, C, 1, 1, 0, 1};
    row.dense_f = time_ms(gpu, [&] { gpu.conv2d_forward(dense, x.p(), bwd.p(), nullptr, y2.p()); },
                          reps);
    row.dense_b = time_ms(gpu, [&] {
      gpu.conv2d_backward(dense, x.p(), bwd.p(), dy.p(), dx.p(), dwd.p(), nullptr);
    }, reps);
    // ---- grouped 1x1 conv, same MACs ----
    const dsx::Conv2dShape grp{N, C, H, W, C, 1, 1, 0, cg};
    row.grp_f = time_ms(gpu, [&] { gpu.conv2d_forward(grp, x.p(), w.p(), nullptr, y2.p()); }, reps);
    row.grp_b = time_ms(gpu, [&] {
      gpu.conv2d_backward(grp, x.p(), w.p(), dy.p(), dx.p(), dw.p(), nullptr);
    }, reps);
    // ---- gather-then-grouped-conv ----
    // Copy t holds SCC channels c = m*r + t; rotated by t*s, channel c's window starts at
    // (m mod cg) * D, i.e. group g = m mod cg, position q = m / cg in that group.
    const int Ct = C / r, cog = Ct / cg;
    const dsx::Conv2dShape gc{N, C, H, W, Ct, 1, 1, 0, cg};
    std::vector<std::unique_ptr<IntBuf>> roll, outmap;
    std::vector<std::unique_ptr<Buf>> xt, wt, dwt;
    for (int t = 0; t < r; ++t) {
      std::vector<int32_t> rm(C), om(Ct);
      for (int o = 0; o < C; ++o) rm[o] = (o + t * s) % C;
      std::vector<float> wtv((size_t)Ct * D);
      for (int j = 0; j < Ct; ++j) {
        const int m = (j % cog) * cg + j / cog;
        om[j] = m * r + t;
        for (int k = 0; k < D; ++k) wtv[(size_t)j * D + k] = wv[(size_t)om[j] * D + k];
      }
      roll.emplace_back(new IntBuf(gpu, rm));
      outmap.emplace_back(new IntBuf(gpu, om));
      xt.emplace_back(new Buf(gpu, nt));
      wt.emplace_back(new Buf(gpu, wtv));
      dwt.emplace_back(new Buf(gpu, (size_t)Ct * D));
    }
    Buf yt(gpu, (size_t)N * Ct * HW), dyt(gpu, (size_t)N * Ct * HW), dxt(gpu, nt);
    using dsx::ChannelMap;
    auto gather_fwd = [&] {
      for (int t = 0; t < r; ++t) {
        dsx::cuda_channel_map(gpu, ChannelMap::kGather, N, HW, C, x.p(), C, xt[t]->p(), roll[t]->p);
        gpu.conv2d_forward(gc, xt[t]->p(), wt[t]->p(), nullptr, yt.p());
        dsx::cuda_channel_map(gpu, ChannelMap::kScatter, N, HW, Ct, yt.p(), C, y2.p(), outmap[t]->p);
      }
    };
    auto gather_bwd = [&] {
      for (int t = 0; t < r; ++t) {
        dsx::cuda_channel_map(gpu, ChannelMap::kGather, N, HW, C, dy.p(), Ct, dyt.p(), outmap[t]->p);
        gpu.zero(dxt.p(), nt);
        gpu.conv2d_backward(gc, xt[t]->p(), wt[t]->p(), dyt.p(), dxt.p(), dwt[t]->p(), nullptr);
        dsx::cuda_channel_map(gpu, ChannelMap::kScatterAdd, N, HW, C, dxt.p(), C, dx.p(), roll[t]->p);
      }
    };
    gather_fwd();
    row.gather_err = scaled_error(y2.get(), y.get());
    gpu.zero(dx.p(), nt);
    gpu.scc_backward(ss, x.p(), w.p(), dy.p(), dx.p(), nullptr);
    const std::vector<float> want_dx = dx.get();
    gpu.zero(dx.p(), nt);
    gather_bwd();
    row.gather_dx_err = scaled_error(dx.get(), want_dx);
    row.gat_f = time_ms(gpu, gather_fwd, reps);
    row.gat_b = time_ms(gpu, gather_bwd, reps);
    rows.push_back(row);
    const bool same = row.gather_err <= 1e-4 && row.gather_dx_err <= 1e-4;
    std::printf("  cg=%d D=%d s=%d: gather baseline vs SCC max err y %.2e, dx %.2e%s\n", cg, D, s,
                row.gather_err, row.gather_dx_err, same ? "" : "  (MISMATCH)");
  }
  bool ok = true;
  for (const Row& q : rows) ok = ok && q.gather_err <= 1e-4 && q.gather_dx_err <= 1e-4;
  if (!timing_enabled()) return ok ? 0 : 1;
  std::printf("\n  times in ms per call (fwd / bwd = dx + dw / total)\n");
  std::printf("  %-3s %-4s %-4s | %-23s | %-23s | %-23s | %-23s | %9s %10s %11s\n", "cg", "D", "s",
              "SCC", "dense masked 1x1", "grouped 1x1 (same MACs)", "gather+grouped",
              "dense/SCC", "gather/SCC", "SCC/grouped");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& q = rows[i];
    const int cg = cgs[i], D = C / cg;
    const double scc = q.scc_f + q.scc_b, dense = q.dense_f + q.dense_b, grp = q.grp_f + q.grp_b,
                 gat = q.gat_f + q.gat_b;
    std::printf("  %-3d %-4d %-4d | %6.3f %6.3f %8.3f | %6.3f %6.3f %8.3f | %6.3f %6.3f %8.3f | "
                "%6.3f %6.3f %8.3f | %8.2fx %9.2fx %10.2fx\n",
                cg, D, D / 2, q.scc_f, q.scc_b, scc, q.dense_f, q.dense_b, dense, q.grp_f, q.grp_b,
                grp, q.gat_f, q.gat_b, gat, dense / scc, gat / scc, scc / grp);
    if (cg == 4)
      std::printf("  targets at cg=4: dense/SCC >= 3.00x (%s), SCC/grouped <= 1.50x (%s)\n",
                  dense / scc >= 3.0 ? "met" : "NOT met", scc / grp <= 1.5 ? "met" : "NOT met");
  }
  const double gmacs = 3.0 * N * HW * (double)C * (C / 4) / 1e9;
  std::printf("  (cg=4: %.2f GMAC per fwd+bwd)\n", gmacs);
  return ok ? 0 : 1;
}
