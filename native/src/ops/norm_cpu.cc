// Batch norm over (N, H*W) per channel on the CPU, optionally fused with the ReLU that
// follows it (train mode: one normalise-and-clamp pass forward, and backward straight from
// the ReLU's output gradient, with no intermediate gradient tensor).
// One thread owns a channel for the whole batch, so statistics and affine gradients are
// deterministic without partial buffers.
//
// Reductions use kLanes independent float lanes (vectorisable without reassociating a single
// sum), folded lane-wise into double lanes every kFoldEvery values and across lanes once per
// channel: a channel can hold millions of values, and the order of
// every addition is fixed, whatever the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/bn_map.h"
#include "ops/ops_cpu.h"

namespace dsx {

namespace {
constexpr int kLanes = 16;

struct Lanes {
  double v[kLanes] = {};
  double sum() const {
    double s = 0.0;
    for (int l = 0; l < kLanes; ++l) s += v[l];
    return s;
  }
};

// kLanes floats as one value: the loops below are vector code whatever the auto-vectoriser
// decides. On AVX-512 one GCC/Clang vector (one zmm). Without AVX-512, GCC lowers a 64-byte
// vector through memory (the AVX2 build's BN ran 3x slower than the AVX-512 one), so there
// it is two 8-lane halves (two ymm) with the same lanes: every lane's arithmetic is the same.
#if defined(__AVX512F__)
typedef float LaneVec __attribute__((vector_size(kLanes * sizeof(float))));
// (Helpers are macros / take references: a 64-byte vector passed by value would change the
// calling convention on pre-AVX-512 targets, and GCC warns about it.)
#define lv_load(p) (*reinterpret_cast<const LaneVecU*>(p))
typedef float LaneVecU __attribute__((vector_size(kLanes * sizeof(float)), aligned(4)));
// c > 0 ? v : 0, lane by lane. By value: lv_load's operands are only 4-byte aligned, and a
// reference would let the compiler read them as aligned vectors (AVX-512 only: no ABI issue)
inline LaneVec lv_pos(LaneVec c, LaneVec v) {
  const LaneVec zero = {};
  return c > zero ? v : zero;
}
#else
typedef float LaneHalf __attribute__((vector_size(8 * sizeof(float))));
typedef float LaneHalfU __attribute__((vector_size(8 * sizeof(float)), aligned(4)));
struct LaneVec {
  LaneHalf lo{}, hi{};  // lanes 0-7, 8-15
  float& operator[](int l) { return reinterpret_cast<float*>(this)[l]; }
  float operator[](int l) const { return reinterpret_cast<const float*>(this)[l]; }
  LaneVec& operator+=(const LaneVec& o) {
    lo += o.lo;
    hi += o.hi;
    return *this;
  }
};
static_assert(sizeof(LaneVec) == kLanes * sizeof(float), "lanes are contiguous");
inline LaneVec operator+(LaneVec a, const LaneVec& b) { return a += b; }
inline LaneVec operator-(LaneVec a, const LaneVec& b) {
  a.lo -= b.lo;
  a.hi -= b.hi;
  return a;
}
inline LaneVec operator-(LaneVec a, float b) {
  a.lo -= b;
  a.hi -= b;
  return a;
}
inline LaneVec operator*(LaneVec a, const LaneVec& b) {
  a.lo *= b.lo;
  a.hi *= b.hi;
  return a;
}
inline LaneVec lv_load(const float* p) {
  LaneVec v;
  v.lo = *reinterpret_cast<const LaneHalfU*>(p);
  v.hi = *reinterpret_cast<const LaneHalfU*>(p + 8);
  return v;
}
inline LaneVec lv_pos(const LaneVec& c, const LaneVec& v) {
  const LaneHalf z = {};
  LaneVec r;
  r.lo = c.lo > z ? v.lo : z;
  r.hi = c.hi > z ? v.hi : z;
  return r;
}
#endif

// Two float lane sums, folded into double lanes every kFoldEvery values (about 64 per lane):
// often enough to keep float rounding negligible, rarely enough that small planes (8x8) do
// not pay a fold per plane. Fold points depend only on the plane size, so the order of
// additions is fixed whatever the thread count.
constexpr int kFoldEvery = 1024;
struct PairSums {
  LaneVec a = {}, b = {};
  int pending = 0;
  Lanes da, db;
  void fold() {
    for (int l = 0; l < kLanes; ++l) {
      da.v[l] += a[l];
      db.v[l] += b[l];
    }
    a = LaneVec{};
    b = LaneVec{};
    pending = 0;
  }
  void added(int n) {
    pending += n;
    if (pending >= kFoldEvery) fold();
  }
  // Totals (folds what is pending).
  double sum_a() {
    if (pending) fold();
    return da.sum();
  }
  double sum_b() {
    if (pending) fold();
    return db.sum();
  }
};

// Sum of (x - k) and of (x - k)^2 over one plane. The shift k (a value of the channel) keeps
// the one-pass variance free of cancellation for large means.
void plane_moments(const float* __restrict x, int n, float k, PairSums& s) {
  LaneVec a = s.a, b = s.b;
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const LaneVec d = lv_load(x + i) - k;
    a += d;
    b += d * d;
  }
  for (int l = 0; i < n; ++i, ++l) {  // n % kLanes tail, one element per lane
    const float d = x[i] - k;
    a[l] += d;
    b[l] += d * d;
  }
  s.a = a;
  s.b = b;
  s.added(n);
}

inline LaneVec bn_affine_v(const LaneVec& x, float sc, float sh) {
  LaneVec v;
  for (int l = 0; l < kLanes; ++l) v[l] = bn_affine(x[l], sc, sh);
  return v;
}

// Sum of g and of g * (x - mean) over one plane, g = dy, or with `relu` dy where the
// forward's y = max(0, bn_affine(x)) was positive.
template <bool kRelu>
void plane_dy_sums(const float* __restrict x, const float* __restrict dy, int n, float mean,
                   float sc, float sh, PairSums& s) {
  LaneVec a = s.a, b = s.b;
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const LaneVec xv = lv_load(x + i);
    LaneVec g = lv_load(dy + i);
    if (kRelu) g = lv_pos(bn_affine_v(xv, sc, sh), g);
    a += g;
    b += g * (xv - mean);
  }
  for (int l = 0; i < n; ++i, ++l) {
    float g = dy[i];
    if (kRelu) g = bn_affine(x[i], sc, sh) > 0.0f ? g : 0.0f;
    a[l] += g;
    b[l] += g * (x[i] - mean);
  }
  s.a = a;
  s.b = b;
  s.added(n);
}

// The same with the ReLU mask taken from the output y of relu(bn(x) + shortcut); when
// g_out is given the masked gradient g is stored there too.
void plane_dy_sums_ymask(const float* __restrict x, const float* __restrict y,
                         const float* __restrict dy, float* __restrict g_out, int n, float mean,
                         PairSums& s) {
  LaneVec a = s.a, b = s.b;
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const LaneVec xv = lv_load(x + i);
    const LaneVec g = lv_pos(lv_load(y + i), lv_load(dy + i));
    if (g_out) std::memcpy(g_out + i, &g, sizeof g);
    a += g;
    b += g * (xv - mean);
  }
  for (int l = 0; i < n; ++i, ++l) {
    const float g = y[i] > 0.0f ? dy[i] : 0.0f;
    if (g_out) g_out[i] = g;
    a[l] += g;
    b[l] += g * (x[i] - mean);
  }
  s.a = a;
  s.b = b;
  s.added(n);
}

// Per-channel BN backward from the channel's sums of g and g*(x - mean): accumulates dbeta and
// dgamma, and gives dx = gamma*invstd * (g - mean(g) - xhat*mean(g*xhat)) as kg*g + kx*x + k0.
struct BnGrad {
  float kg, kx, k0;
  BnGrad(PairSums& ps, double M, float gamma, float mean, float invstd, float* dgamma,
         float* dbeta) {
    const double sdy = ps.sum_a(), sdyx = ps.sum_b() * invstd;  // sum g, sum g * xhat
    if (dbeta) *dbeta += static_cast<float>(sdy);
    if (dgamma) *dgamma += static_cast<float>(sdyx);
    const double kd = static_cast<double>(gamma) * invstd;
    const double mdy = sdy / M, mdyx = sdyx / M;
    kg = static_cast<float>(kd);
    kx = static_cast<float>(-kd * invstd * mdyx);
    k0 = static_cast<float>(-kd * mdy + kd * invstd * mdyx * mean);
  }
};

// Planes of fewer than kLanes values that divide it (2x2, 1x1: MobileNetV1's last stage):
// channel by channel, each plane was a call over 4 values into a few of the lanes. Here
// kLanes / HW consecutive channels of an image (contiguous) fill one vector, lane
// j*HW + i holding channel j's value i, exactly the lane i it had in its channel's own
// vector; sums, fold points (every kFoldEvery values of a channel) and the per-channel
// results are those of the per-channel route, so every result is bit-identical.
bool bn_packed(int C, int HW) { return HW < kLanes && kLanes % HW == 0 && C % (kLanes / HW) == 0; }

// lane l of per-channel vector v (channel c0 + l / HW)
template <class F>
inline LaneVec bn_lanes(int HW, F&& of_channel) {
  LaneVec v;
  for (int l = 0; l < kLanes; ++l) v[l] = of_channel(l / HW);
  return v;
}
inline LaneVec bn_affine_lanes(const LaneVec& x, const LaneVec& sc, const LaneVec& sh) {
  LaneVec v;
  for (int l = 0; l < kLanes; ++l) v[l] = bn_affine(x[l], sc[l], sh[l]);
  return v;
}

// Two lane sums of a channel group, folded into each channel's PairSums as its own would be.
struct PackedSums {
  LaneVec a = {}, b = {};
  int pending = 0;  // values per channel since the last fold
  void fold(PairSums* ps, int G, int HW) {
    for (int j = 0; j < G; ++j)
      for (int i = 0; i < HW; ++i) {
        ps[j].da.v[i] += a[j * HW + i];
        ps[j].db.v[i] += b[j * HW + i];
      }
    a = LaneVec{};
    b = LaneVec{};
    pending = 0;
  }
  void added(PairSums* ps, int G, int HW) {
    pending += HW;
    if (pending >= kFoldEvery) fold(ps, G, HW);
  }
  void finish(PairSums* ps, int G, int HW) {
    if (pending) fold(ps, G, HW);
  }
};

template <bool kRelu>
void bn_forward_train_packed(CpuCtx& ctx, int N, int C, int HW, const float* x,
                             const float* gamma, const float* beta, float* y, float* save_mean,
                             float* save_invstd, float* save_affine, float* running_mean,
                             float* running_var, float momentum, float eps) {
  const double M = static_cast<double>(N) * HW;
  const int G = kLanes / HW;
  ctx.pool.parallel_for(C / G, [&](int, int64_t b, int64_t e) {
    for (int64_t grp = b; grp < e; ++grp) {
      const int64_t c0 = grp * G;
      PairSums ps[kLanes];
      const LaneVec kv = bn_lanes(HW, [&](int j) { return x[(c0 + j) * HW]; });
      PackedSums s;
      for (int n = 0; n < N; ++n) {
        const LaneVec d = lv_load(x + (static_cast<int64_t>(n) * C + c0) * HW) - kv;
        s.a += d;
        s.b += d * d;
        s.added(ps, G, HW);
      }
      s.finish(ps, G, HW);
      float scs[kLanes], shs[kLanes];
      for (int j = 0; j < G; ++j) {
        const int64_t c = c0 + j;
        const double m1 = ps[j].sum_a() / M;  // mean of x - k
        const double mean = kv[j * HW] + m1;
        const double sq = std::max(0.0, ps[j].sum_b() - m1 * m1 * M);
        const double var = sq / M;
        const double invstd = bn_invstd(var, eps);
        bn_scale_shift(gamma[c], beta[c], mean, invstd, &scs[j], &shs[j]);
        if (save_affine) {
          save_affine[c] = scs[j];
          save_affine[C + c] = shs[j];
        }
        bn_keep_stats(static_cast<int>(c), mean, sq, M, invstd, momentum, save_mean, save_invstd,
                      running_mean, running_var);
      }
      if (!y) continue;  // folded into the consumer
      const LaneVec scv = bn_lanes(HW, [&](int j) { return scs[j]; });
      const LaneVec shv = bn_lanes(HW, [&](int j) { return shs[j]; });
      for (int n = 0; n < N; ++n) {
        const int64_t o = (static_cast<int64_t>(n) * C + c0) * HW;
        LaneVec v = bn_affine_lanes(lv_load(x + o), scv, shv);
        if (kRelu) v = lv_pos(v, v);
        std::memcpy(y + o, &v, sizeof v);
      }
    }
  });
}

template <bool kRelu>
void bn_forward_train(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                      const float* beta, float* y, float* save_mean, float* save_invstd,
                      float* save_affine, float* running_mean, float* running_var, float momentum,
                      float eps) {
  if (bn_packed(C, HW)) {
    bn_forward_train_packed<kRelu>(ctx, N, C, HW, x, gamma, beta, y, save_mean, save_invstd,
                                   save_affine, running_mean, running_var, momentum, eps);
    return;
  }
  const double M = static_cast<double>(N) * HW;
  ctx.pool.parallel_for(C, [&](int, int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const float k = x[c * HW];
      PairSums ps;
      for (int n = 0; n < N; ++n)
        plane_moments(x + (static_cast<int64_t>(n) * C + c) * HW, HW, k, ps);
      const double m1 = ps.sum_a() / M;  // mean of x - k
      const double mean = k + m1;
      const double sq = std::max(0.0, ps.sum_b() - m1 * m1 * M);  // sum of squared deviations
      const double var = sq / M;
      const double invstd = bn_invstd(var, eps);
      float sc, sh;
      bn_scale_shift(gamma[c], beta[c], mean, invstd, &sc, &sh);
      for (int n = 0; y && n < N; ++n) {  // no y: folded into the consumer
        const int64_t o = (static_cast<int64_t>(n) * C + c) * HW;
        const float* __restrict xs = x + o;
        float* __restrict ys = y + o;
        for (int i = 0; i < HW; ++i) {
          const float v = bn_affine(xs[i], sc, sh);
          ys[i] = kRelu ? (v > 0.0f ? v : 0.0f) : v;
        }
      }
      if (save_affine) {
        save_affine[c] = sc;
        save_affine[C + c] = sh;
      }
      bn_keep_stats(static_cast<int>(c), mean, sq, M, invstd, momentum, save_mean, save_invstd,
                    running_mean, running_var);
    }
  });
}

// bn_backward on packed planes (bn_packed), with the per-channel route's arithmetic
template <bool kRelu>
void bn_backward_packed(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* affine,
                        const float* gamma, const float* save_mean, const float* save_invstd,
                        const float* dy, float* dx, float* dgamma, float* dbeta, bool set_dx) {
  const double M = static_cast<double>(N) * HW;
  const int G = kLanes / HW;
  ctx.pool.parallel_for(C / G, [&](int, int64_t b, int64_t e) {
    for (int64_t grp = b; grp < e; ++grp) {
      const int64_t c0 = grp * G;
      const LaneVec meanv = bn_lanes(HW, [&](int j) { return save_mean[c0 + j]; });
      const LaneVec scv = bn_lanes(HW, [&](int j) { return kRelu ? affine[c0 + j] : 0.0f; });
      const LaneVec shv = bn_lanes(HW, [&](int j) { return kRelu ? affine[C + c0 + j] : 0.0f; });
      PairSums ps[kLanes];  // sum g, sum g * (x - mean)
      PackedSums s;
      for (int n = 0; n < N; ++n) {
        const int64_t o = (static_cast<int64_t>(n) * C + c0) * HW;
        const LaneVec xv = lv_load(x + o);
        LaneVec g = lv_load(dy + o);
        if (kRelu) g = lv_pos(bn_affine_lanes(xv, scv, shv), g);
        s.a += g;
        s.b += g * (xv - meanv);
        s.added(ps, G, HW);
      }
      s.finish(ps, G, HW);
      float kgs[kLanes], kxs[kLanes], k0s[kLanes];
      for (int j = 0; j < G; ++j) {
        const int64_t c = c0 + j;
        const BnGrad k(ps[j], M, gamma[c], save_mean[c], save_invstd[c],
                       dgamma ? dgamma + c : nullptr, dbeta ? dbeta + c : nullptr);
        kgs[j] = k.kg;
        kxs[j] = k.kx;
        k0s[j] = k.k0;
      }
      if (!dx) continue;
      const LaneVec kg = bn_lanes(HW, [&](int j) { return kgs[j]; });
      const LaneVec kx = bn_lanes(HW, [&](int j) { return kxs[j]; });
      const LaneVec k0 = bn_lanes(HW, [&](int j) { return k0s[j]; });
      for (int n = 0; n < N; ++n) {
        const int64_t o = (static_cast<int64_t>(n) * C + c0) * HW;
        const LaneVec xv = lv_load(x + o);
        LaneVec g = lv_load(dy + o);  // dx may be dy (in place) when set_dx
        if (kRelu) g = lv_pos(bn_affine_lanes(xv, scv, shv), g);
        LaneVec v;
        if (set_dx) {
          v = kg * g + (kx * xv + k0);
        } else {
          v = lv_load(dx + o);
          v += kg * g + (kx * xv + k0);
        }
        std::memcpy(dx + o, &v, sizeof v);
      }
    }
  });
}

// affine: the forward's scale[C] then shift[C] (kRelu only: they give the ReLU mask).
template <bool kRelu>
void bn_backward(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* affine,
                 const float* gamma, const float* save_mean, const float* save_invstd,
                 const float* dy, float* dx, float* dgamma, float* dbeta, bool set_dx) {
  if (bn_packed(C, HW)) {
    bn_backward_packed<kRelu>(ctx, N, C, HW, x, affine, gamma, save_mean, save_invstd, dy, dx,
                              dgamma, dbeta, set_dx);
    return;
  }
  const double M = static_cast<double>(N) * HW;
  ctx.pool.parallel_for(C, [&](int, int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const float mean = save_mean[c], invstd = save_invstd[c];
      const float sc = kRelu ? affine[c] : 0.0f, sh = kRelu ? affine[C + c] : 0.0f;
      PairSums ps;  // sum g, sum g * (x - mean)
      for (int n = 0; n < N; ++n) {
        const int64_t o = (static_cast<int64_t>(n) * C + c) * HW;
        plane_dy_sums<kRelu>(x + o, dy + o, HW, mean, sc, sh, ps);
      }
      const BnGrad k(ps, M, gamma[c], mean, invstd, dgamma ? dgamma + c : nullptr,
                     dbeta ? dbeta + c : nullptr);
      if (!dx) continue;
      const float kg = k.kg, kx = k.kx, k0 = k.k0;
      for (int n = 0; n < N; ++n) {
        const int64_t o = (static_cast<int64_t>(n) * C + c) * HW;
        const float* __restrict xs = x + o;
        const float* gs = dy + o;  // dx may be dy (in place) when set_dx
        float* ds = dx + o;
        if (set_dx)
          for (int i = 0; i < HW; ++i) {
            float g = gs[i];
            if (kRelu) g = bn_affine(xs[i], sc, sh) > 0.0f ? g : 0.0f;
            ds[i] = kg * g + (kx * xs[i] + k0);
          }
        else
          for (int i = 0; i < HW; ++i) {
            float g = gs[i];
            if (kRelu) g = bn_affine(xs[i], sc, sh) > 0.0f ? g : 0.0f;
            ds[i] += kg * g + (kx * xs[i] + k0);
          }
      }
    }
  });
}
}  // namespace

// One plane of the BN+add+ReLU backward's second pass: g = dy where y > 0; dx (+)= kg*g +
// kx*x + k0 and ds (+)= g, with separate (non-aliasing) dx and ds so that it vectorises.
template <bool kSetDx, bool kSetDs>
void bn_add_relu_plane(const float* __restrict x, const float* __restrict y,
                       const float* __restrict dy, float* __restrict dx, float* __restrict ds,
                       int n, float kg, float kx, float k0) {
  for (int i = 0; i < n; ++i) {
    const float g = y[i] > 0.0f ? dy[i] : 0.0f;
    if (dx) {
      const float v = kg * g + (kx * x[i] + k0);
      dx[i] = kSetDx ? v : dx[i] + v;
    }
    if (ds) ds[i] = kSetDs ? g : ds[i] + g;
  }
}

void cpu_bn_add_relu_forward(CpuCtx& ctx, int N, int C, int HW, const float* x,
                             const float* affine, const float* s, float* y) {
  ctx.pool.parallel_for(static_cast<int64_t>(N) * C, [&](int, int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t c = nc % C;
      const float sc = affine[c], sh = affine[C + c];
      const float* __restrict xs = x + nc * HW;
      const float* __restrict ss = s + nc * HW;
      float* __restrict ys = y + nc * HW;
      for (int i = 0; i < HW; ++i) {
        const float v = bn_affine(xs[i], sc, sh) + ss[i];  // as bn, add, relu round it
        ys[i] = v > 0.0f ? v : 0.0f;
      }
    }
  }, 16);
}

void cpu_bn_add_relu_backward(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* y,
                              const float* gamma, const float* save_mean,
                              const float* save_invstd, const float* dy, float* dx, float* ds,
                              float* dgamma, float* dbeta, bool set_dx, bool set_ds) {
  const double M = static_cast<double>(N) * HW;
  ctx.pool.parallel_for(C, [&](int, int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const float mean = save_mean[c], invstd = save_invstd[c];
      // When the shortcut's gradient is overwritten it is g itself: pass 1 stores it there,
      // and pass 2 reads two streams (x, g) instead of three (x, y, dy), which keeps a
      // channel's working set in L2.
      const bool g_in_ds = ds && set_ds;
      PairSums ps;  // sum g, sum g * (x - mean), g = dy where y > 0
      for (int n = 0; n < N; ++n) {
        const int64_t o = (static_cast<int64_t>(n) * C + c) * HW;
        plane_dy_sums_ymask(x + o, y + o, dy + o, g_in_ds ? ds + o : nullptr, HW, mean, ps);
      }
      const BnGrad k(ps, M, gamma[c], mean, invstd, dgamma ? dgamma + c : nullptr,
                     dbeta ? dbeta + c : nullptr);
      const float kg = k.kg, kx = k.kx, k0 = k.k0;
      for (int n = 0; n < N; ++n) {
        const int64_t o = (static_cast<int64_t>(n) * C + c) * HW;
        float* dxs = dx ? dx + o : nullptr;
        float* dss = ds ? ds + o : nullptr;
        if (g_in_ds) {
          if (!dxs) continue;
          const float* __restrict gs = dss;
          const float* __restrict xs = x + o;
          if (set_dx)
            for (int i = 0; i < HW; ++i) dxs[i] = kg * gs[i] + (kx * xs[i] + k0);
          else
            for (int i = 0; i < HW; ++i) dxs[i] += kg * gs[i] + (kx * xs[i] + k0);
        } else if (set_dx && set_ds) {
          bn_add_relu_plane<true, true>(x + o, y + o, dy + o, dxs, dss, HW, kg, kx, k0);
        } else if (set_dx) {
          bn_add_relu_plane<true, false>(x + o, y + o, dy + o, dxs, dss, HW, kg, kx, k0);
        } else if (set_ds) {
          bn_add_relu_plane<false, true>(x + o, y + o, dy + o, dxs, dss, HW, kg, kx, k0);
        } else {
          bn_add_relu_plane<false, false>(x + o, y + o, dy + o, dxs, dss, HW, kg, kx, k0);
        }
      }
    }
  });
}

void cpu_bn_forward_train(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                          const float* beta, float* y, float* save_mean, float* save_invstd,
                          float* running_mean, float* running_var, float momentum, float eps) {
  bn_forward_train<false>(ctx, N, C, HW, x, gamma, beta, y, save_mean, save_invstd, nullptr,
                          running_mean, running_var, momentum, eps);
}

void cpu_bn_relu_forward_train(CpuCtx& ctx, int N, int C, int HW, const float* x,
                               const float* gamma, const float* beta, float* y, float* save_mean,
                               float* save_invstd, float* save_affine, float* running_mean,
                               float* running_var, float momentum, float eps) {
  bn_forward_train<true>(ctx, N, C, HW, x, gamma, beta, y, save_mean, save_invstd, save_affine,
                         running_mean, running_var, momentum, eps);
}

void cpu_bn_stats_train(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                        const float* beta, float* save_mean, float* save_invstd,
                        float* save_affine, float* running_mean, float* running_var,
                        float momentum, float eps) {
  bn_forward_train<true>(ctx, N, C, HW, x, gamma, beta, nullptr, save_mean, save_invstd,
                         save_affine, running_mean, running_var, momentum, eps);
}

void cpu_bn_forward_eval(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                         const float* beta, const float* running_mean, const float* running_var,
                         float eps, float* y) {
  ctx.pool.parallel_for(static_cast<int64_t>(N) * C, [&](int, int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t c = nc % C;
      float sc, sh;
      bn_eval_map(gamma[c], beta[c], running_mean[c], running_var[c], eps, &sc, &sh);
      const float* __restrict xc = x + nc * HW;
      float* __restrict yc = y + nc * HW;
      for (int i = 0; i < HW; ++i) yc[i] = xc[i] * sc + sh;
    }
  }, 64);
}

void cpu_bn_backward(CpuCtx& ctx, int N, int C, int HW, const float* x, const float* gamma,
                     const float* save_mean, const float* save_invstd, const float* dy, float* dx,
                     float* dgamma, float* dbeta, bool set_dx) {
  bn_backward<false>(ctx, N, C, HW, x, nullptr, gamma, save_mean, save_invstd, dy, dx, dgamma,
                     dbeta, set_dx);
}

void cpu_bn_relu_backward(CpuCtx& ctx, int N, int C, int HW, const float* x,
                          const float* save_affine, const float* gamma, const float* save_mean,
                          const float* save_invstd, const float* dy, float* dx, float* dgamma,
                          float* dbeta, bool set_dx) {
  bn_backward<true>(ctx, N, C, HW, x, save_affine, gamma, save_mean, save_invstd, dy, dx, dgamma,
                    dbeta, set_dx);
}

}  // namespace dsx
