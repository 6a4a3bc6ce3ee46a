// Network executor: arenas, init, forward, backward, SGD (the plan it runs: plan.cc).
// See net.h for the layout rules.
#include "net/net.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "net/arena_blocks.h"
#include "net/rng.h"
#include "ops/bn_map.h"

namespace dsx {

namespace {

constexpr int kOpCount = kLayerOpCount;
// Profile rows past the layer ops: the fused BN + ReLU, clearing activation/parameter
// gradients before they are accumulated into, and the optimiser step.
constexpr int kBnReluRow = kOpCount;
constexpr int kClearRow = kOpCount + 1;
constexpr int kSgdRow = kOpCount + 2;
constexpr int kTailRow = kOpCount + 3;  // fused BN + add + ReLU
constexpr int kProfileRows = kOpCount + 4;
constexpr float kBnMomentum = 0.1f;  // PyTorch defaults
constexpr float kBnEps = 1e-5f;

}  // namespace

Net::Net(const NetSpec& spec, Backend& backend, int capacity)
    : plan_(plan_net(spec)), be_(backend), capacity_(capacity) {
  if (capacity < 1) throw std::runtime_error("batch capacity must be >= 1");
  const char* prof = std::getenv("DSXPLORE_PROFILE");
  profile_ = prof && (prof[0] == '1' || std::strcmp(prof, "layers") == 0);
  profile_layers_ = prof && std::strcmp(prof, "layers") == 0;
  const char* nofuse = std::getenv("DSXPLORE_NO_FUSION");
  fuse_ = !(nofuse && nofuse[0] == '1');
  train_steps_ = plan_steps(plan_, true, fuse_);
  eval_steps_ = plan_steps(plan_, false, fuse_);
  times_.resize(kProfileRows);
  layer_times_.resize(plan_.spec.layers.size());
  const size_t T = plan_.tensor_size.size();
  act_off_.assign(T, 0);
  size_t total = 0;
  for (size_t t = 0; t < T; ++t) {
    if (plan_.alias[t] != static_cast<int>(t)) continue;
    act_off_[t] = total;
    total += plan_.tensor_size[t] * capacity;
  }
  const size_t gtotal = plan_gradients(capacity);
  plan_backward();
  auto fl = [&](size_t n) { return static_cast<float*>(be_.alloc_bytes(std::max<size_t>(n, 1) * sizeof(float))); };
  try {
    params_ = fl(plan_.params);
    grads_ = fl(plan_.params);
    momentum_ = fl(plan_.params);
    stats_ = fl(plan_.stats);
    scratch_ = fl(plan_.scratch);
    acts_ = fl(total);
    dacts_ = fl(gtotal);
    labels_ = static_cast<int32_t*>(be_.alloc_bytes(sizeof(int32_t) * capacity));
  } catch (...) {
    release();  // out of (device) memory: the destructor will not run
    throw;
  }
}

// Activation gradients are only live during part of the backward pass: from the backward of
// a tensor's last reader (where it is cleared) to the backward of its producer (where it is
// read as dy). Buffers are reused along that schedule (best fit, no splitting), so the
// gradient arena is a few tensors deep instead of the whole network: less memory, and a
// working set that stays warmer in cache. As backends overwrite first contributions, an
// elementwise layer that is the first contributor to its input's gradient
// writes it into its own dy buffer (in place): no second buffer, and for add no copy at all.
// Returns the arena size in floats.
size_t Net::plan_gradients(int capacity) {
  const auto& layers = plan_.spec.layers;
  const size_t T = plan_.tensor_size.size();
  grad_off_.assign(T, kNone);
  std::vector<size_t> block_size(T, 0);  // a recycled block may be larger than its tensor
  ArenaBlocks blocks;
  auto take = [&](int t) {
    if (t <= 0 || grad_off_[t] != kNone) return;
    const ArenaBlocks::Block b = blocks.take(plan_.tensor_size[t] * capacity);
    grad_off_[t] = b.off;
    block_size[t] = b.size;
  };
  // live from the start of backward: the logits (written by the loss) and unread tensors
  take(layers.back().output);
  for (size_t t = 1; t < T; ++t)
    if (plan_.consumers[t] == 0) take(static_cast<int>(t));
  for (auto it = train_steps_.rbegin(); it != train_steps_.rend(); ++it) {
    Step& s = *it;
    // A BN+ReLU's dy is its ReLU's output gradient; the ReLU's input gradient never exists.
    if (!s.has_backward) continue;
    const int out = s.y, in0 = s.grad_in[0];
    const bool elementwise = s.kind == StepKind::Relu || s.kind == StepKind::BatchNorm ||
                             s.kind == StepKind::BnRelu || s.kind == StepKind::BnReluFolded ||
                             s.kind == StepKind::Add;
    if (fuse_ && elementwise && in0 > 0 && grad_off_[in0] == kNone &&
        plan_.tensor_size[in0] == plan_.tensor_size[out]) {
      grad_off_[in0] = grad_off_[out];  // out's block passes to in0
      block_size[in0] = block_size[out];
      s.in_place = true;
      for (int in : s.grad_in) take(in);
      continue;
    }
    for (int in : s.grad_in) take(in);
    // after this backward nobody reads the gradient of its output again
    blocks.give({grad_off_[out], block_size[out]});
  }
  return blocks.total();
}

// The first contribution (in backward order) to an input gradient overwrites it where the
// step's backward can; otherwise the gradient is cleared just before it, while it is about to
// be touched anyway. Gradients of tensors nobody reads (other than the logits, which the
// loss overwrites) are cleared before the backward starts.
void Net::plan_backward() {
  const size_t T = plan_.tensor_size.size();
  std::vector<char> zeroed(T, 0);
  zeroed[plan_.spec.layers.back().output] = 1;
  clear_first_.clear();
  for (size_t t = 1; t < T; ++t)
    if (plan_.consumers[t] == 0 && !zeroed[t]) {
      clear_first_.push_back(static_cast<int>(t));
      zeroed[t] = 1;
    }
  for (auto it = train_steps_.rbegin(); it != train_steps_.rend(); ++it) {
    Step& s = *it;
    if (!s.has_backward) continue;
    const bool can_overwrite =
        fuse_ && (s.kind == StepKind::Conv2d || s.kind == StepKind::Scc ||
                  s.kind == StepKind::BatchNorm || s.kind == StepKind::BnRelu ||
                  s.kind == StepKind::BnReluFolded || s.kind == StepKind::BnAddRelu ||
                  s.kind == StepKind::Relu || s.kind == StepKind::Add ||
                  s.kind == StepKind::MaxPool);
    for (int k = 0; k < 2; ++k) {
      const int in = s.grad_in[k];
      if (in <= 0 || zeroed[in]) continue;
      zeroed[in] = 1;
      if (can_overwrite)
        s.overwrite |= 1u << k;
      else
        s.clear.push_back(in);
    }
    // in place is only sound when overwriting
    if (s.in_place && !(s.overwrite & 1))
      throw std::logic_error("in-place backward without overwrite");
  }
}

Net::~Net() { release(); }

void Net::release() {
  for (void* p : {static_cast<void*>(params_), static_cast<void*>(grads_),
                  static_cast<void*>(momentum_), static_cast<void*>(stats_),
                  static_cast<void*>(scratch_), static_cast<void*>(acts_),
                  static_cast<void*>(dacts_), static_cast<void*>(labels_)})
    if (p) be_.free_bytes(p);
  params_ = grads_ = momentum_ = stats_ = scratch_ = acts_ = dacts_ = nullptr;
  labels_ = nullptr;
}

void Net::init(uint64_t seed) {
  Rng rng(seed);
  std::vector<float> host(plan_.state_size(), 0.0f);
  for (size_t i = 0; i < plan_.spec.layers.size(); ++i) {
    const LayerSpec& l = plan_.spec.layers[i];
    const LayerPlan& lp = plan_.layers[i];
    switch (l.op) {
      case LayerOp::Conv2d:
      case LayerOp::Scc: {
        // torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu"):
        // std = sqrt(2 / fan_out), fan_out = out_channels * kernel area (groups ignored).
        const int K = l.op == LayerOp::Conv2d ? l.kernel : 1;
        const double stdv = std::sqrt(2.0 / (static_cast<double>(l.out_channels) * K * K));
        for (size_t k = 0; k < lp.weight_size; ++k)
          host[lp.weight + k] = static_cast<float>(rng.normal() * stdv);
        break;  // a conv bias (rare) starts at zero, as torchvision does
      }
      case LayerOp::Linear: {
        // PyTorch nn.Linear default: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)).
        const double bound = 1.0 / std::sqrt(static_cast<double>(l.in_features));
        for (size_t k = 0; k < lp.weight_size; ++k)
          host[lp.weight + k] = static_cast<float>((2.0 * rng.uniform() - 1.0) * bound);
        if (lp.bias != kNone)
          for (int k = 0; k < l.out_features; ++k)
            host[lp.bias + k] = static_cast<float>((2.0 * rng.uniform() - 1.0) * bound);
        break;
      }
      case LayerOp::BatchNorm:
        for (int c = 0; c < l.channels; ++c) {
          host[lp.gamma + c] = 1.0f;
          host[lp.bias + c] = 0.0f;
          host[plan_.params + lp.running + c] = 0.0f;
          host[plan_.params + lp.running + l.channels + c] = 1.0f;
        }
        break;
      default:
        break;
    }
  }
  set_state(host.data());
}

void Net::set_state(const float* host) {
  infer_ready_ = false;
  if (plan_.params) be_.upload(params_, host, plan_.params * sizeof(float));
  if (plan_.stats) be_.upload(stats_, host + plan_.params, plan_.stats * sizeof(float));
  be_.zero(momentum_, plan_.params);
}

void Net::get_state(float* host) {
  if (plan_.params) be_.download(host, params_, plan_.params * sizeof(float));
  if (plan_.stats) be_.download(host + plan_.params, stats_, plan_.stats * sizeof(float));
}

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

// An op that fails (a device error, an injected fault) fails the step with the layer and
// the op named; the executor's buffers stay valid and are released by the destructor.
[[noreturn]] void Net::layer_failed(int i, const char* pass, const std::exception& e) const {
  const LayerSpec& l = plan_.spec.layers[i];
  throw std::runtime_error("layer '" + l.name + "' (" + layer_op_name(l.op) + ") " + pass + ": " +
                           e.what());
}

namespace {
// The profile row of a step: its layer op's, or one of the fused rows.
int profile_row(const Step& s) {
  switch (s.kind) {
    case StepKind::BnRelu:
    case StepKind::BnReluFolded: return kBnReluRow;
    case StepKind::BnStats: return static_cast<int>(LayerOp::BatchNorm);
    case StepKind::BnAddRelu: return kTailRow;
    default: return static_cast<int>(s.kind);  // the unfused kinds mirror LayerOp
  }
}
}  // namespace

void Net::time_step(const Step& s, bool bwd, double dt) {
  OpTime& t = times_[profile_row(s)];
  OpTime& l = layer_times_[s.layer];
  (bwd ? t.bwd : t.fwd) += dt;
  (bwd ? t.calls_bwd : t.calls_fwd)++;
  (bwd ? l.bwd : l.fwd) += dt;
  (bwd ? l.calls_bwd : l.calls_fwd)++;
}

template <class Run>
void Net::walk_forward(const std::vector<Step>& steps, Run run) {
  for (const Step& s : steps) try {
    if (!profile_) {
      run(s);
      continue;
    }
    be_.sync();
    const double t0 = now_s();
    run(s);
    be_.sync();
    time_step(s, false, now_s() - t0);
  } catch (const std::exception& e) {
    layer_failed(s.layer, "forward", e);
  }
}

void Net::forward(int n, bool train) {
  if (n < 1 || n > capacity_) throw std::runtime_error("batch size out of range");
  if (train) infer_ready_ = false;  // batch statistics overwrite the affine slots
  walk_forward(train ? train_steps_ : eval_steps_, [&](const Step& s) { forward_step(s, n, train); });
}

void Net::infer(int n) {
  if (n < 1 || n > capacity_) throw std::runtime_error("batch size out of range");
  if (!infer_ready_) prepare_inference();
  // the training schedule's fusions, when fusing is on, with eval maps for batch statistics
  walk_forward(fuse_ ? train_steps_ : eval_steps_, [&](const Step& s) { infer_step(s, n); });
}

void Net::prepare_inference() {
  // The map batchnorm_forward_eval applies (ops/bn_map.h).
  std::vector<float> gamma, beta, running, affine;
  for (size_t i = 0; i < plan_.spec.layers.size(); ++i) {
    const LayerSpec& l = plan_.spec.layers[i];
    if (l.op != LayerOp::BatchNorm) continue;
    const LayerPlan& lp = plan_.layers[i];
    const int C = l.channels;
    gamma.resize(C);
    beta.resize(C);
    running.resize(2 * C);
    affine.resize(2 * C);
    be_.download(gamma.data(), params_ + lp.gamma, C * sizeof(float));
    be_.download(beta.data(), params_ + lp.bias, C * sizeof(float));
    be_.download(running.data(), stats_ + lp.running, 2 * C * sizeof(float));
    for (int c = 0; c < C; ++c)
      bn_eval_map(gamma[c], beta[c], running[c], running[C + c], kBnEps, &affine[c], &affine[C + c]);
    be_.upload(bn_saved(static_cast<int>(i)).affine, affine.data(), 2 * C * sizeof(float));
  }
  infer_ready_ = true;
}

// One step of infer(): the fused schedule with eval affine maps, so the BN kinds that only
// computed batch statistics have nothing left to do.
void Net::infer_step(const Step& s, int n) {
  switch (s.kind) {
    case StepKind::BnReluFolded:  // its reader applies the map
    case StepKind::BnStats:       // its tail applies the map
      return;
    case StepKind::BnRelu: {  // no reader to fold into (pooling, several readers): BN, ReLU
      const LayerSpec& l = plan_.spec.layers[s.layer];
      const LayerPlan& lp = plan_.layers[s.layer];
      const TensorShape& xs = plan_.spec.tensors[l.inputs[0]];
      const int C = xs[0], HW = xs[1] * xs[2];
      float* y = act(s.y);
      const float* rm = stats_ + lp.running;
      be_.batchnorm_forward_eval(n, C, HW, act(s.x), params_ + lp.gamma, params_ + lp.bias, rm,
                                 rm + C, kBnEps, y);
      be_.relu_forward(static_cast<size_t>(n) * C * HW, y, y);
      return;
    }
    default:
      forward_step(s, n, false);
  }
}

void Net::forward_step(const Step& s, int n, bool train) {
  const LayerSpec& l = plan_.spec.layers[s.layer];
  const LayerPlan& lp = plan_.layers[s.layer];
  const TensorShape& xs = plan_.spec.tensors[l.inputs[0]];
  const int C = xs[0], H = xs[1], W = xs[2], HW = H * W;
  const float* x = act(s.x);
  float* P = params_;
  // a reader of a folded BN+ReLU reads the BN's input through the BN's saved affine map
  const InputFold in = fold_of(s);
  switch (s.kind) {
    case StepKind::Conv2d: {
      const Conv2dShape sh{n, C, H, W, l.out_channels, l.kernel, l.stride, l.padding, l.groups};
      be_.conv2d_forward(sh, x, P + lp.weight, lp.bias == kNone ? nullptr : P + lp.bias,
                         act(s.y), in);
      break;
    }
    case StepKind::Scc: {
      const SccShape sh{n, C, H, W, l.out_channels, l.groups, l.channel_stride};
      be_.scc_forward(sh, x, P + lp.weight, act(s.y), in);
      break;
    }
    case StepKind::BatchNorm:
    case StepKind::BnRelu:
    case StepKind::BnReluFolded:
    case StepKind::BnStats: {
      const BnSaved sv = bn_saved(s.layer);
      float* rm = stats_ + lp.running;
      float* rv = rm + C;
      if (s.kind == StepKind::BnReluFolded || s.kind == StepKind::BnStats)  // output not written
        be_.batchnorm_stats_train(n, C, HW, x, P + lp.gamma, P + lp.bias, sv.mean, sv.invstd,
                                  sv.affine, rm, rv, kBnMomentum, kBnEps);
      else if (s.kind == StepKind::BnRelu)  // y = max(0, bn(x)) into the ReLU's output
        be_.batchnorm_relu_forward_train(n, C, HW, x, P + lp.gamma, P + lp.bias, act(s.y),
                                         sv.mean, sv.invstd, sv.affine, rm, rv, kBnMomentum,
                                         kBnEps);
      else if (train)
        be_.batchnorm_forward_train(n, C, HW, x, P + lp.gamma, P + lp.bias, act(s.y), sv.mean,
                                    sv.invstd, rm, rv, kBnMomentum, kBnEps);
      else
        be_.batchnorm_forward_eval(n, C, HW, x, P + lp.gamma, P + lp.bias, rm, rv, kBnEps,
                                   act(s.y));
      break;
    }
    case StepKind::Relu:
      be_.relu_forward(static_cast<size_t>(n) * C * HW, x, act(s.y));
      break;
    case StepKind::MaxPool: {
      const PoolShape sh{n, C, H, W, l.kernel, l.stride, l.padding};
      be_.maxpool_forward(sh, x, act(s.y));
      break;
    }
    case StepKind::Gap:
      be_.gap_forward(n, C, HW, x, act(s.y));
      break;
    case StepKind::Linear:
      be_.linear_forward(n, l.in_features, l.out_features, x, P + lp.weight,
                         lp.bias == kNone ? nullptr : P + lp.bias, act(s.y));
      break;
    case StepKind::Shuffle:
      be_.shuffle_forward(n, C, HW, l.groups, x, act(s.y));
      break;
    case StepKind::Add:
      be_.add_forward(static_cast<size_t>(n) * C * HW, x, act(s.x2), act(s.y));
      break;
    case StepKind::BnAddRelu:
      be_.batchnorm_add_relu_forward(n, C, HW, x, bn_saved(s.bn).affine, act(s.x2), act(s.y));
      break;
    case StepKind::ShortcutA:
      be_.shortcut_a_forward(n, C, H, W, l.stride, l.out_channels, l.pad_front, x, act(s.y));
      break;
  }
}

void Net::backward(int n, double* loss_sum, int* correct) {
  const int logits = plan_.spec.layers.back().output;
  // softmax_xent overwrites dlogits, so the logits gradient needs no clearing
  be_.softmax_xent(n, plan_.spec.classes, act(logits), labels_, 1.0f / n, dact(logits), loss_sum,
                   correct);
  {
    Timed clear(*this, kClearRow);
    be_.zero(grads_, plan_.params);
    for (int t : clear_first_) be_.zero(dact(t), plan_.tensor_size[t] * n);
  }
  for (auto it = train_steps_.rbegin(); it != train_steps_.rend(); ++it) try {
    const Step& s = *it;
    if (!s.has_backward) continue;
    for (int t : s.clear) {
      Timed clear(*this, kClearRow);
      be_.zero(dact(t), plan_.tensor_size[t] * n);
    }
    if (!profile_) {
      backward_step(s, n);
      continue;
    }
    be_.sync();
    const double t0 = now_s();
    backward_step(s, n);
    be_.sync();
    time_step(s, true, now_s() - t0);
  } catch (const std::exception& e) {
    layer_failed(it->layer, "backward", e);
  }
}

Net::Timed::Timed(Net& net, int row) : net_(net), row_(row) {
  if (!net_.profile_) return;
  net_.be_.sync();
  t0_ = now_s();
}

Net::Timed::~Timed() {
  if (!net_.profile_) return;
  net_.be_.sync();
  auto& t = net_.times_[row_];
  t.bwd += now_s() - t0_;
  t.calls_bwd++;
}

// Step::overwrite bit k set: the gradient of grad_in[k] is overwritten, not added into.
void Net::backward_step(const Step& s, int n) {
  const bool ow0 = s.overwrite & 1, ow1 = s.overwrite & 2;
  const LayerSpec& l = plan_.spec.layers[s.layer];
  const LayerPlan& lp = plan_.layers[s.layer];
  const TensorShape& xs = plan_.spec.tensors[l.inputs[0]];
  const int C = xs[0], H = xs[1], W = xs[2], HW = H * W;
  const float* x = act(s.x);
  const float* dy = dact(s.y);
  float* dx = dact(s.grad_in[0]);
  float* P = params_;
  float* G = grads_;
  const InputFold in = fold_of(s);
  switch (s.kind) {
    case StepKind::Conv2d: {
      const Conv2dShape sh{n, C, H, W, l.out_channels, l.kernel, l.stride, l.padding, l.groups};
      be_.conv2d_backward(sh, x, P + lp.weight, dy, dx, G + lp.weight,
                          lp.bias == kNone ? nullptr : G + lp.bias, ow0, in);
      break;
    }
    case StepKind::Scc: {
      const SccShape sh{n, C, H, W, l.out_channels, l.groups, l.channel_stride};
      be_.scc_backward(sh, x, P + lp.weight, dy, dx, G + lp.weight, ow0, in);
      break;
    }
    case StepKind::BnRelu:
    case StepKind::BnReluFolded: {
      const BnSaved sv = bn_saved(s.layer);
      be_.batchnorm_relu_backward(n, C, HW, x, sv.affine, P + lp.gamma, sv.mean, sv.invstd, dy,
                                  dx, G + lp.gamma, G + lp.bias, ow0);
      break;
    }
    case StepKind::BatchNorm: {
      const BnSaved sv = bn_saved(s.layer);
      be_.batchnorm_backward(n, C, HW, x, P + lp.gamma, sv.mean, sv.invstd, dy, dx, G + lp.gamma,
                             G + lp.bias, ow0);
      break;
    }
    case StepKind::BnStats:
      break;  // its backward is the tail's
    case StepKind::BnAddRelu: {
      const LayerPlan& bp = plan_.layers[s.bn];
      const BnSaved sv = bn_saved(s.bn);
      be_.batchnorm_add_relu_backward(n, plan_.spec.layers[s.bn].channels, HW, x, act(s.y),
                                      P + bp.gamma, sv.mean, sv.invstd, dy, dx, dact(s.grad_in[1]),
                                      G + bp.gamma, G + bp.bias, ow0, ow1);
      break;
    }
    case StepKind::Relu:
      if (dx) be_.relu_backward(static_cast<size_t>(n) * C * HW, act(s.y), dy, dx, ow0);
      break;
    case StepKind::MaxPool: {
      const PoolShape sh{n, C, H, W, l.kernel, l.stride, l.padding};
      if (dx) be_.maxpool_backward(sh, x, dy, dx, ow0);
      break;
    }
    case StepKind::Gap:
      if (dx) be_.gap_backward(n, C, HW, dy, dx);
      break;
    case StepKind::Linear:
      be_.linear_backward(n, l.in_features, l.out_features, x, P + lp.weight, dy, dx,
                          G + lp.weight, lp.bias == kNone ? nullptr : G + lp.bias);
      break;
    case StepKind::Shuffle:
      if (dx) be_.shuffle_backward(n, C, HW, l.groups, dy, dx);
      break;
    case StepKind::Add: {
      float* db = dact(s.grad_in[1]);
      if (dx || db) be_.add_backward(static_cast<size_t>(n) * C * HW, dy, dx, db, ow0, ow1);
      break;
    }
    case StepKind::ShortcutA:
      if (dx) be_.shortcut_a_backward(n, C, H, W, l.stride, l.out_channels, l.pad_front, dy, dx);
      break;
  }
}

void Net::eval_loss(int n, double* loss_sum, int* correct) {
  const int logits = plan_.spec.layers.back().output;
  be_.softmax_xent_eval(n, plan_.spec.classes, act(logits), labels_, loss_sum, correct);
}

void Net::sgd_step(float lr, float momentum, float weight_decay, bool decay_bn_and_bias,
                   bool nesterov) {
  Timed timed(*this, kSgdRow);
  infer_ready_ = false;
  if (decay_bn_and_bias || plan_.decayed == plan_.params) {
    be_.sgd_step(plan_.params, params_, grads_, momentum_, lr, momentum, weight_decay, nesterov);
    return;
  }
  be_.sgd_step(plan_.decayed, params_, grads_, momentum_, lr, momentum, weight_decay, nesterov);
  const size_t d = plan_.decayed;
  be_.sgd_step(plan_.params - d, params_ + d, grads_ + d, momentum_ + d, lr, momentum, 0.0f,
               nesterov);
}

bool Net::params_finite() { return be_.all_finite(plan_.params, params_); }

void Net::reset_profile() {
  std::fill(times_.begin(), times_.end(), OpTime{});
  std::fill(layer_times_.begin(), layer_times_.end(), OpTime{});
}
Net::OpTime Net::clear_time() const { return times_[kClearRow]; }
Net::OpTime Net::sgd_time() const { return times_[kSgdRow]; }

void Net::print_profile(FILE* out) const {
  double total = 0;
  for (const auto& t : times_) total += t.fwd + t.bwd;
  std::fprintf(out, "dsxplore profile (%s, %d thread(s)): per op, synchronised\n",
               be_.name().c_str(), be_.threads());
  std::fprintf(out, "  %-11s %9s %11s %11s %7s\n", "op", "calls", "forward s", "backward s", "share");
  for (int k = 0; k < kProfileRows; ++k) {
    const auto& t = times_[k];
    if (!t.calls_fwd && !t.calls_bwd) continue;
    const char* name = k == kBnReluRow  ? "bn+relu"
                       : k == kClearRow ? "clear grad"
                       : k == kSgdRow   ? "sgd step"
                       : k == kTailRow  ? "bn+add+relu"
                                        : layer_op_name(static_cast<LayerOp>(k));
    std::fprintf(out, "  %-11s %9ld %11.3f %11.3f %6.1f%%\n", name, std::max(t.calls_fwd, t.calls_bwd),
                 t.fwd, t.bwd, total > 0 ? 100.0 * (t.fwd + t.bwd) / total : 0.0);
  }
  std::fprintf(out, "  %-11s %9s %11s %11.3f\n", "total", "", "", total);
  if (!profile_layers_) return;
  // per layer (DSXPLORE_PROFILE=layers): where a slow op kind spends its time
  std::fprintf(out, "  %4s %-11s %-16s %-16s %11s %11s %7s\n", "#", "op", "input", "output",
               "forward s", "backward s", "share");
  const auto& layers = plan_.spec.layers;
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& t = layer_times_[i];
    if (!t.calls_fwd && !t.calls_bwd) continue;
    const LayerSpec& l = layers[i];
    std::string op = layer_op_name(l.op);
    if (l.op == LayerOp::Conv2d || l.op == LayerOp::MaxPool)
      op += " " + std::to_string(l.kernel) + "x" + std::to_string(l.kernel) + "/" + std::to_string(l.stride);
    if ((l.op == LayerOp::Conv2d || l.op == LayerOp::Scc) && l.groups > 1) op += " g" + std::to_string(l.groups);
    if (l.op == LayerOp::BatchNorm && fuse_ && plan_.bn_relu[i] >= 0) op += "+relu";
    std::fprintf(out, "  %4zu %-11s %-16s %-16s %11.3f %11.3f %6.1f%%\n", i, op.c_str(),
                 shape_str(plan_.spec.tensors[l.inputs[0]]).c_str(),
                 shape_str(plan_.spec.tensors[l.output]).c_str(), t.fwd, t.bwd,
                 total > 0 ? 100.0 * (t.fwd + t.bwd) / total : 0.0);
  }
}

}  // namespace dsx
