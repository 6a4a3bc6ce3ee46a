// The network executor (llm.c style): one model spec, one backend, and one arena each for
// parameters, gradients, momentum, activations and activation gradients, each with a size
// table of offsets. forward / backward walk the step list (steps.h); backward ADDS into
// gradients, so a tensor read by two layers (residual adds) accumulates both gradients.
//
// Parameter layout: every weight-decayed tensor (conv, scc and linear weights) first, as one
// contiguous region [0, decayed_count()), then BN affine parameters and biases; so the SGD
// step is one or two flat calls. BN running statistics live in a separate buffer.
// State (what is saved and evaluated) = parameters followed by the running statistics.
#pragma once
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend.h"
#include "net/plan.h"
#include "net/spec.h"
#include "net/steps.h"

namespace dsx {

class Net {
 public:
  // Allocates every arena for batches of up to `capacity` samples. Parameters start zeroed;
  // call init() or set_state().
  Net(const NetSpec& spec, Backend& backend, int capacity);
  ~Net();
  Net(const Net&) = delete;
  Net& operator=(const Net&) = delete;

  const NetPlan& plan() const { return plan_; }
  int capacity() const { return capacity_; }
  Backend& backend() { return be_; }

  // Kaiming-normal (fan_out) conv/scc weights, PyTorch-default linear, BN gamma=1 beta=0,
  // running mean 0 / var 1; deterministic in the seed.
  void init(uint64_t seed);
  void set_state(const float* host);  // state_size() floats
  void get_state(float* host);

  // Device buffers the trainer fills for each batch.
  float* input() { return act(0); }   // [capacity, C, H, W]
  int32_t* labels() { return labels_; }  // [capacity]
  float* output() { return act(plan_.spec.layers.back().output); }  // logits of the last forward

  void forward(int n, bool train);
  // Eval-mode forward for deployment (latency, ONNX parity): the training fusions with each
  // BN's affine map taken from its running statistics, so a BN+ReLU is applied as its reader
  // loads it and a residual tail is one pass. Same function as forward(n, false), rounded
  // differently; evaluate keeps forward(n, false), so accuracies never depend on this path.
  void infer(int n);
  // Softmax cross-entropy on the logits of the last forward (mean over n), then the whole
  // backward pass: parameter gradients are zeroed first and then accumulated.
  void backward(int n, double* loss_sum, int* correct);
  void eval_loss(int n, double* loss_sum, int* correct);
  // SGD with momentum on the whole parameter arena.
  void sgd_step(float lr, float momentum, float weight_decay, bool decay_bn_and_bias,
                bool nesterov);
  bool params_finite();

  float* params() { return params_; }
  float* grads() { return grads_; }

  // Per-op timing (env DSXPLORE_PROFILE=1, or =layers for a per-layer table as well): each
  // op is synchronised and timed, and so are gradient clearing and the optimiser step.
  bool profiling() const { return profile_; }
  void print_profile(FILE* out) const;
  // The same timings as data (the bench's netProfile reads them): profiling switched on or
  // off without the environment, the totals cleared, and what each spec layer's steps took
  // (a fused step counts at its layer: BN+ReLU at the BN, the residual tail at its ReLU),
  // gradient clearing and the optimiser step.
  struct OpTime {
    double fwd = 0, bwd = 0;
    long calls_fwd = 0, calls_bwd = 0;
  };
  void set_profiling(bool on) { profile_ = on; }
  void reset_profile();
  const std::vector<OpTime>& layer_times() const { return layer_times_; }
  OpTime clear_time() const;
  OpTime sgd_time() const;

 private:
  float* act(int t) { return acts_ + act_off_[plan_.alias[t]]; }
  // the gradient of tensor t; none for the network input and for "no tensor" (-1)
  float* dact(int t) { return t <= 0 ? nullptr : dacts_ + grad_off_[t]; }
  size_t plan_gradients(int capacity);
  void plan_backward();
  void release();
  void forward_step(const Step& s, int n, bool train);
  void infer_step(const Step& s, int n);
  // Runs each step through `run`, timed when profiling; errors name the layer.
  template <class Run>
  void walk_forward(const std::vector<Step>& steps, Run run);
  // Every BN's eval affine map (from gamma, beta and running statistics) into its scratch
  // affine slot, where infer()'s readers find it.
  void prepare_inference();
  void backward_step(const Step& s, int n);
  [[noreturn]] void layer_failed(int i, const char* pass, const std::exception& e) const;
  // Resolved views of a BN layer's saved statistics (LayerPlan::saved).
  struct BnSaved {
    float *mean, *invstd, *affine;
  };
  BnSaved bn_saved(int bn) const {
    const BnScratch& o = plan_.layers[bn].saved;
    return {scratch_ + o.mean, scratch_ + o.invstd, scratch_ + o.affine};
  }
  // What a step reading a folded BN+ReLU reads its input through (none for other steps).
  InputFold fold_of(const Step& s) const {
    if (s.fold_bn < 0) return {};
    return InputFold{bn_saved(s.fold_bn).affine, plan_.spec.layers[s.fold_bn].channels};
  }
  void time_step(const Step& s, bool bwd, double dt);

  NetPlan plan_;
  Backend& be_;
  int capacity_;
  bool profile_ = false, profile_layers_ = false;
  bool fuse_ = true;  // training-time fusions (DSXPLORE_NO_FUSION=1 turns them off)
  // The schedule (steps.h): training steps with their planned backward, evaluation steps.
  std::vector<Step> train_steps_, eval_steps_;
  // The scratch affine slots hold the eval maps of the current parameters (prepare_inference);
  // anything that changes parameters or statistics, or writes batch affines, clears it.
  bool infer_ready_ = false;
  std::vector<int> clear_first_;  // gradients of unread tensors, cleared before the backward
  std::vector<size_t> act_off_;   // activation arena, per tensor (capacity samples each)
  std::vector<size_t> grad_off_;  // activation-gradient arena, per tensor (shared by liveness)
  float *params_ = nullptr, *grads_ = nullptr, *momentum_ = nullptr, *stats_ = nullptr,
        *scratch_ = nullptr, *acts_ = nullptr, *dacts_ = nullptr;
  int32_t* labels_ = nullptr;
  std::vector<OpTime> times_;        // per LayerOp, then the extra rows of net.cc
  std::vector<OpTime> layer_times_;  // per layer
  // Times a scope into a profile row (as backward time) when profiling.
  class Timed {
   public:
    Timed(Net& net, int row);
    ~Timed();

   private:
    Net& net_;
    int row_;
    double t0_ = 0;
  };
};

}  // namespace dsx
