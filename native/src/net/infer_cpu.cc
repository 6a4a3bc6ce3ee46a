// The CPU deployment executor (infer_cpu.h): BN folded into producers, epilogues, weights
// packed once, one activation arena.
#include "net/infer_cpu.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "net/arena_blocks.h"
#include "net/plan.h"
#include "ops/conv_direct_cpu.h"
#include "ops/conv_wide_cpu.h"
#include "ops/conv_winograd_cpu.h"
#include "ops/ops_cpu.h"

namespace dsx {

namespace {

constexpr double kBnEps = 1e-5;  // Net's and the ONNX export's BN epsilon

float* aligned_floats(size_t n) {
  const size_t bytes = std::max<size_t>(64, (n * sizeof(float) + 63) / 64 * 64);
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return static_cast<float*>(p);
}

// Where a channel shuffle sends its input channels: shuffled channel o holds channel
// (o % groups) * (C / groups) + o / groups (cpu_shuffle, the export's permutation).
int shuffle_source(int o, int C, int groups) { return (o % groups) * (C / groups) + o / groups; }

}  // namespace

CpuInference::CpuInference(const NetSpec& spec, const float* state, int threads, int capacity)
    : spec_(spec), capacity_(capacity) {
  if (capacity < 1) throw std::runtime_error("batch capacity must be >= 1");
  ctx_ = std::make_unique<CpuCtx>(threads);
  profile_ = std::getenv("DSXPLORE_PROFILE") != nullptr;
  try {
    plan_ops(state);
    plan_arena();
  } catch (...) {
    std::free(weights_);
    std::free(arena_);
    throw;
  }
}

CpuInference::~CpuInference() {
  std::free(weights_);
  std::free(arena_);
}

int CpuInference::threads() const { return ctx_->pool.size(); }
float* CpuInference::input() { return buf(0); }
const float* CpuInference::output() const { return buf(spec_.layers.back().output); }

void CpuInference::plan_ops(const float* state) {
  const NetPlan plan = plan_net(spec_);
  spec_ = plan.spec;
  tensor_size_ = plan.tensor_size;
  const auto& layers = spec_.layers;
  const int L = static_cast<int>(layers.size());
  std::vector<std::vector<int>> readers(spec_.tensors.size());
  for (int i = 0; i < L; ++i)
    for (int t : layers[i].inputs) readers[t].push_back(i);
  // the one layer of kind `op` that alone reads t, or -1
  std::vector<char> absorbed(L, 0);  // run inside a fused op
  auto sole = [&](int t, LayerOp op) {
    return readers[t].size() == 1 && layers[readers[t][0]].op == op && !absorbed[readers[t][0]]
               ? readers[t][0]
               : -1;
  };

  std::vector<float> host;  // weights_, built here and copied once
  auto take = [&](size_t n) {
    const size_t at = host.size();
    host.resize(at + (n + 15) / 16 * 16, 0.0f);  // 64-byte aligned starts
    return at;
  };
  const float* P = state;
  const float* S = state + plan.params;  // running statistics

  // A residual add read by two folded branches (a projection shortcut's BN and the block's
  // last BN) goes to the branch that claims it first; the other ends at its BN.
  std::vector<std::vector<Op>> emit_at(L);  // fused ops, emitted where their chain ends
  for (int i = 0; i < L; ++i) {
    const LayerSpec& l = layers[i];
    if (l.op != LayerOp::Conv2d && l.op != LayerOp::Scc) continue;
    // the chain: [shuffle] -> BN -> [add] -> [ReLU], each the sole reader of what precedes it
    int u = l.output, shuffle = sole(u, LayerOp::Shuffle);
    const int bn = sole(shuffle >= 0 ? layers[shuffle].output : u, LayerOp::BatchNorm);
    if (bn < 0) continue;  // nothing to fold: run as written
    u = layers[bn].output;
    int last = bn, add = -1, relu = -1, res = -1;
    if ((relu = sole(u, LayerOp::Relu)) < 0 && (add = sole(u, LayerOp::Add)) >= 0) {
      const auto& in = layers[add].inputs;
      res = in[0] == u ? in[1] : in[0];
      if (res == u) add = -1, res = -1;  // x + x: not a residual
    }
    if (add >= 0) {
      u = layers[add].output;
      last = add;
      relu = sole(u, LayerOp::Relu);
    }
    if (relu >= 0) {
      u = layers[relu].output;
      last = relu;
    }

    // fold: row c of the weights and the bias scaled by the BN channel that reads it
    const LayerPlan& lp = plan.layers[i];
    const LayerPlan& bp = plan.layers[bn];
    const int Cout = l.out_channels;
    const size_t row = lp.weight_size / Cout;
    Op op;
    op.kind = l.op == LayerOp::Conv2d ? Kind::Conv : Kind::Scc;
    op.layer = i;
    op.x = l.inputs[0];
    op.w = take(lp.weight_size);
    op.bias = take(Cout);
    for (int o = 0; o < Cout; ++o) {
      const int c = shuffle >= 0 ? shuffle_source(o, Cout, layers[shuffle].groups) : o;
      const double scale = static_cast<double>(P[bp.gamma + o]) /
                           std::sqrt(static_cast<double>(S[bp.running + Cout + o]) + kBnEps);
      const double shift = P[bp.bias + o] - static_cast<double>(S[bp.running + o]) * scale;
      for (size_t k = 0; k < row; ++k)
        host[op.w + c * row + k] = static_cast<float>(P[lp.weight + c * row + k] * scale);
      const double b = lp.bias == kNone ? 0.0 : P[lp.bias + c] * scale;
      host[op.bias + c] = static_cast<float>(shift + b);
    }
    ++packs_;
    ++folded_;
    absorbed[i] = absorbed[bn] = 1;
    if (shuffle >= 0) absorbed[shuffle] = 1;
    if (add >= 0) absorbed[add] = 1;
    if (relu >= 0) absorbed[relu] = 1;
    if (shuffle < 0) {
      op.y = u;
      op.res = res;
      op.relu = relu >= 0;
      emit_at[last].push_back(op);
    } else {
      // the shuffle moves whole channels: the ReLU commutes with it, the residual (in
      // shuffled order) is added by the shuffle as it copies
      op.y = l.output;
      op.relu = relu >= 0 && res < 0;
      emit_at[last].push_back(op);
      Op sh;
      sh.kind = Kind::Shuffle;
      sh.layer = shuffle;
      sh.x = l.output;
      sh.y = u;
      sh.res = res;
      sh.relu = relu >= 0 && res >= 0;
      emit_at[last].push_back(sh);
    }
  }

  for (int i = 0; i < L; ++i) {
    for (const Op& op : emit_at[i]) ops_.push_back(op);
    if (absorbed[i]) continue;
    const LayerSpec& l = layers[i];
    const LayerPlan& lp = plan.layers[i];
    Op op;
    op.layer = i;
    op.x = l.inputs[0];
    op.y = l.output;
    switch (l.op) {
      case LayerOp::Conv2d:
      case LayerOp::Scc:
        op.kind = l.op == LayerOp::Conv2d ? Kind::Conv : Kind::Scc;
        op.w = take(lp.weight_size);
        std::copy(P + lp.weight, P + lp.weight + lp.weight_size, host.begin() + op.w);
        if (lp.bias != kNone) {
          op.bias = take(l.out_channels);
          std::copy(P + lp.bias, P + lp.bias + l.out_channels, host.begin() + op.bias);
        }
        ++packs_;
        break;
      case LayerOp::BatchNorm: {  // no producer to fold into: its eval map, as scale and shift
        const int C = l.channels;
        op.kind = Kind::Bn;
        op.w = take(2 * C);
        for (int c = 0; c < C; ++c) {
          const double scale = static_cast<double>(P[lp.gamma + c]) /
                               std::sqrt(static_cast<double>(S[lp.running + C + c]) + kBnEps);
          host[op.w + c] = static_cast<float>(scale);
          host[op.w + C + c] =
              static_cast<float>(P[lp.bias + c] - static_cast<double>(S[lp.running + c]) * scale);
        }
        op.relu = sole(l.output, LayerOp::Relu) >= 0;
        if (op.relu) {
          const int r = sole(l.output, LayerOp::Relu);
          absorbed[r] = 1;
          op.y = layers[r].output;
        }
        break;
      }
      case LayerOp::Relu: op.kind = Kind::Relu; break;
      case LayerOp::MaxPool: op.kind = Kind::MaxPool; break;
      case LayerOp::Gap: op.kind = Kind::Gap; break;
      case LayerOp::Linear:
        op.kind = Kind::Linear;
        op.w = take(lp.weight_size);
        std::copy(P + lp.weight, P + lp.weight + lp.weight_size, host.begin() + op.w);
        if (lp.bias != kNone) {
          op.bias = take(l.out_features);
          std::copy(P + lp.bias, P + lp.bias + l.out_features, host.begin() + op.bias);
        }
        break;
      case LayerOp::Shuffle: op.kind = Kind::Shuffle; break;
      case LayerOp::Add:
        op.kind = Kind::Add;
        op.res = l.inputs[1];
        break;
      case LayerOp::ShortcutA: op.kind = Kind::ShortcutA; break;
    }
    ops_.push_back(op);
  }

  // packed forward weights, once: the Winograd route's transformed weights (the stride-1 3x3
  // dense convs where it is faster), the direct route's slivers (dense convs, stride 1 and
  // 2), else the wide route's (used whenever a call takes that route), and the SCC bands
  for (Op& op : ops_) {
    const LayerSpec& l = layers[op.layer];
    const TensorShape& xs = spec_.tensors[op.x];
    if (op.kind == Kind::Conv) {
      const Conv2dShape sh{capacity_, xs[0], xs[1], xs[2], l.out_channels, l.kernel, l.stride, l.padding, l.groups};
      if (conv_winograd_preferred(sh)) {
        op.winograd = true;
        op.packed = take(conv_winograd_packed_size(sh));
        conv_winograd_pack(sh, host.data() + op.w, host.data() + op.packed);
        continue;
      }
      if (conv_direct_applies(sh)) {
        op.direct = true;
        op.packed = take(conv_direct_packed_size(sh));
        conv_direct_pack(sh, host.data() + op.w, host.data() + op.packed);
        continue;
      }
      Conv2dShape big = sh;
      big.N = 1 << 20;  // the route for batches of at least one image per thread
      if (!conv_wide_applies(big, 1)) continue;
      op.packed = take(conv_wide_packed_size(sh));
      conv_wide_pack(sh, host.data() + op.w, host.data() + op.packed);
    } else if (op.kind == Kind::Scc) {
      const SccShape sh{capacity_, xs[0], xs[1], xs[2], l.out_channels, l.groups, l.channel_stride};
      op.packed = take(scc_packed_size(*ctx_, sh));
      scc_pack_forward(*ctx_, sh, host.data() + op.w, host.data() + op.packed);
    }
  }
  weights_size_ = host.size();
  weights_ = aligned_floats(weights_size_);
  std::copy(host.begin(), host.end(), weights_);
}

// Activation buffers by liveness along ops_: a tensor's buffer is free for reuse once the
// last op reading it has run (best fit, never split). The input and the logits keep theirs.
void CpuInference::plan_arena() {
  const size_t T = spec_.tensors.size();
  // the chunk: the batch's largest activation at most kChunkBytes, at least one image per
  // thread (the conv routes split images across threads)
  constexpr size_t kChunkBytes = 256 * 1024;
  size_t widest = 1;
  for (size_t t = 1; t < T; ++t) widest = std::max(widest, tensor_size_[t] * sizeof(float));
  chunk_ = static_cast<int>(std::max<size_t>(1, kChunkBytes / widest));
  thread_chunk_ = std::min(capacity_, chunk_);
  chunk_ = std::min(capacity_, std::max(chunk_, threads()));
  whole_.assign(T, 0);
  whole_[0] = whole_[spec_.layers.back().output] = 1;
  const int n_ops = static_cast<int>(ops_.size());
  constexpr int kForever = 1 << 30;
  std::vector<int> last(T, -1);
  for (int k = 0; k < n_ops; ++k)
    for (int t : {ops_[k].x, ops_[k].res})
      if (t >= 0) last[t] = k;
  last[0] = kForever;
  last[spec_.layers.back().output] = kForever;
  off_.assign(T, 0);
  ArenaBlocks blocks;
  std::vector<size_t> block_size(T, 0);
  std::vector<int> live;  // tensors holding a block
  auto place = [&](int t) {
    // a whole-batch tensor outlives the chunk that writes it: never in a shared block, which
    // the next chunk's earlier ops would overwrite
    // New blocks 256 bytes past a multiple of 64 bytes apart: activations are often whole
    // multiples of 4 KiB (16 channels of 32x32), and an op whose input, output and residual
    // sit a multiple of 4 KiB apart has its loads wait on unrelated stores (4K aliasing; the
    // AVX2 build's 16-channel depthwise ran 10-18% slower for it).
    const ArenaBlocks::Block b = blocks.take(tensor_size_[t] * (whole_[t] ? capacity_ : chunk_), !whole_[t], 16, 64);
    off_[t] = b.off;
    block_size[t] = b.size;
    live.push_back(t);
  };
  place(0);
  for (int k = 0; k < n_ops; ++k) {
    // blocks of tensors last read before this op are free (not this op's inputs: an op never
    // writes over what it reads)
    for (size_t j = 0; j < live.size();) {
      const int t = live[j];
      if (last[t] < k) {
        blocks.give({off_[t], block_size[t]});
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(j));
      } else {
        ++j;
      }
    }
    const int y = ops_[k].y;
    if (last[y] < 0) last[y] = k;  // written, never read (cannot happen in a valid spec)
    place(y);
  }
  // with several threads, a copy of every buffer per thread for the chunks they run alone
  // (only the chunk buffers of copies past the first are used: the whole-batch input and
  // logits are the first copy's)
  arena_size_ = (blocks.total() + 15) / 16 * 16;
  const int copies = threads();
  arena_ = aligned_floats(arena_size_ * copies);
  if (copies > 1)
    for (int t = 0; t < copies; ++t) workers_.push_back(std::make_unique<CpuCtx>(1));
}

void CpuInference::run(int n) {
  if (n < 1 || n > capacity_) throw std::runtime_error("batch size out of range");
  if (profile_) op_seconds_.resize(ops_.size(), 0.0);
  ++runs_;
  const int T = threads();
  const int passes = (n + thread_chunk_ - 1) / thread_chunk_;
  if (T > 1 && !profile_ && passes >= T) {
    // every thread its own passes, ops single-threaded, on its own copy of the buffers: the
    // per-op joins (hundreds per run of a large batch) cost more than the ops at two threads
    ctx_->pool.parallel_for(passes, [&](int tid, int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const int i0 = static_cast<int>(p) * thread_chunk_;
        run_chunk(i0, std::min(thread_chunk_, n - i0), *workers_[tid], tid);
      }
    });
    return;
  }
  for (int i0 = 0; i0 < n; i0 += chunk_) run_chunk(i0, std::min(chunk_, n - i0), *ctx_, 0);
}

void CpuInference::run_chunk(int i0, int n, CpuCtx& ctx, int copy) {
  const auto& layers = spec_.layers;
  auto t0 = std::chrono::steady_clock::now();
  for (size_t k = 0; k < ops_.size(); ++k) {
    if (profile_ && k > 0) {
      const auto t = std::chrono::steady_clock::now();
      op_seconds_[k - 1] += std::chrono::duration<double>(t - t0).count();
      t0 = t;
    }
    const Op& op = ops_[k];
    const LayerSpec& l = layers[op.layer];
    const TensorShape& xs = spec_.tensors[op.x];
    const int C = xs[0], H = xs[1], W = xs[2], HW = H * W;
    const float* x = buf(op.x, i0, copy);
    float* y = buf(op.y, i0, copy);
    const float* w = op.w == kAbsent ? nullptr : weights_ + op.w;
    const float* bias = op.bias == kAbsent ? nullptr : weights_ + op.bias;
    const float* packed = op.packed == kAbsent ? nullptr : weights_ + op.packed;
    Epilogue epi;
    epi.bias = bias;
    epi.residual = op.res >= 0 ? buf(op.res, i0, copy) : nullptr;
    epi.relu = op.relu;
    switch (op.kind) {
      case Kind::Conv: {
        const Conv2dShape sh{n, C, H, W, l.out_channels, l.kernel, l.stride, l.padding, l.groups};
        if (op.winograd)
          conv_winograd_forward(ctx, sh, x, y, epi, packed);
        else if (op.direct)
          conv_direct_forward(ctx, sh, x, y, epi, packed);
        else
          cpu_conv2d_forward(ctx, sh, x, w, nullptr, y, {}, epi, packed);
        break;
      }
      case Kind::Scc: {
        const SccShape sh{n, C, H, W, l.out_channels, l.groups, l.channel_stride};
        // an unfolded SCC has no bias of its own; a folded one has the BN's shift
        cpu_scc_forward(ctx, sh, x, w, y, {}, epi, packed);
        break;
      }
      case Kind::Shuffle: {
        // channel copies, each finished by the epilogue (residual, ReLU) while in cache
        epi.bias = nullptr;
        const int G = l.groups;
        ctx.pool.parallel_for(static_cast<int64_t>(n) * C, [&](int, int64_t b, int64_t e) {
          for (int64_t no = b; no < e; ++no) {
            const int64_t img = no / C;
            const int o = static_cast<int>(no % C);
            float* d = y + no * HW;
            std::memcpy(d, x + (img * C + shuffle_source(o, C, G)) * HW, sizeof(float) * HW);
            if (epi) epi.apply(o, d, epi.res_at(no * HW), HW);
          }
        }, 16);
        break;
      }
      case Kind::Bn: {
        const float* scale = w;
        Epilogue shift;
        shift.bias = w + C;
        shift.relu = op.relu;
        ctx.pool.parallel_for(static_cast<int64_t>(n) * C, [&](int, int64_t b, int64_t e) {
          for (int64_t nc = b; nc < e; ++nc) {
            const int c = static_cast<int>(nc % C);
            const float* s = x + nc * HW;
            float* d = y + nc * HW;
            for (int i = 0; i < HW; ++i) d[i] = s[i] * scale[c];
            shift.apply(c, d, nullptr, HW);
          }
        }, 16);
        break;
      }
      case Kind::Relu:
        cpu_relu_forward(ctx, static_cast<size_t>(n) * C * HW, x, y);
        break;
      case Kind::MaxPool: {
        const PoolShape sh{n, C, H, W, l.kernel, l.stride, l.padding};
        cpu_maxpool_forward(ctx, sh, x, y);
        break;
      }
      case Kind::Gap:
        cpu_gap_forward(ctx, n, C, HW, x, y);
        break;
      case Kind::Linear:
        cpu_linear_forward(ctx, n, l.in_features, l.out_features, x, w, bias, y);
        break;
      case Kind::Add:
        cpu_add_forward(ctx, static_cast<size_t>(n) * C * HW, x, buf(op.res, i0, copy), y);
        break;
      case Kind::ShortcutA:
        cpu_shortcut_a_forward(ctx, n, C, H, W, l.stride, l.out_channels, l.pad_front, x, y);
        break;
    }
  }
  if (profile_ && !ops_.empty())
    op_seconds_.back() += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void CpuInference::print_profile(FILE* out) const {
  static const char* const kNames[] = {"conv", "scc", "shuffle", "bn", "relu", "maxpool", "gap", "linear", "add", "shortcut_a"};
  double total = 0;
  for (double t : op_seconds_) total += t;
  std::fprintf(out, "dsxplore inference profile (cpu, %d thread(s), %ld runs): per op of the folded schedule\n",
               threads(), runs_);
  std::fprintf(out, "  %4s %-10s %-28s %-16s %-16s %4s %10s %7s\n", "#", "op", "layer", "input", "output", "epi",
               "ms/run", "share");
  for (size_t k = 0; k < op_seconds_.size(); ++k) {
    const Op& op = ops_[k];
    std::string epi = std::string(op.bias != kAbsent && op.kind != Kind::Linear ? "b" : "") +
                      (op.res >= 0 && op.kind != Kind::Add ? "+" : "") + (op.relu ? "r" : "");
    std::fprintf(out, "  %4zu %-10s %-28s %-16s %-16s %4s %10.4f %6.1f%%\n", k, kNames[static_cast<int>(op.kind)],
                 spec_.layers[op.layer].name.c_str(), shape_str(spec_.tensors[op.x]).c_str(),
                 shape_str(spec_.tensors[op.y]).c_str(), epi.c_str(), 1e3 * op_seconds_[k] / std::max<long>(runs_, 1),
                 total > 0 ? 100.0 * op_seconds_[k] / total : 0.0);
  }
  std::fprintf(out, "  total %.4f ms/run\n", 1e3 * total / std::max<long>(runs_, 1));
}

}  // namespace dsx
