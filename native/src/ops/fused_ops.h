// Optional fused ops a backend may offer besides the Backend interface (backend.h). The
// executor asks for them with dynamic_cast and falls back to the separate ops when a backend
// does not implement them, so a backend (CUDA included) needs no change to stay correct.
// Semantics are exactly those of the op sequence each replaces, up to float rounding.
#pragma once

namespace dsx {

class FusedOps {
 public:
  virtual ~FusedOps() = default;
  // batchnorm_forward_train then relu_forward in place on y: y = max(0, bn(x)). Also saves
  // the per-channel affine map it applied (save_affine: scale[C] then shift[C]).
  virtual void batchnorm_relu_forward_train(int N, int C, int HW, const float* x,
                                            const float* gamma, const float* beta, float* y,
                                            float* save_mean, float* save_invstd,
                                            float* save_affine, float* running_mean,
                                            float* running_var, float momentum, float eps) = 0;
  // batchnorm_forward_train without writing y: the statistics, running statistics and
  // save_affine only, for a BN+ReLU folded into its single consumer (see below) or the BN
  // of a BN+add+ReLU.
  virtual void batchnorm_stats_train(int N, int C, int HW, const float* x, const float* gamma,
                                     const float* beta, float* save_mean, float* save_invstd,
                                     float* save_affine, float* running_mean,
                                     float* running_var, float momentum, float eps) = 0;
  // A residual block's tail, batchnorm then add(shortcut s) then relu, as one pass:
  // y = max(0, x*scale + shift + s) with save_affine from batchnorm_stats_train.
  virtual void batchnorm_add_relu_forward(int N, int C, int HW, const float* x,
                                          const float* save_affine, const float* s,
                                          float* y) = 0;
  // Its backward given x, y and dy: ADDS into dx, ds (unless overwrite_next_backward: bit 0
  // dx, bit 1 ds), dgamma and dbeta.
  virtual void batchnorm_add_relu_backward(int N, int C, int HW, const float* x, const float* y,
                                           const float* gamma, const float* save_mean,
                                           const float* save_invstd, const float* dy, float* dx,
                                           float* ds, float* dgamma, float* dbeta) = 0;
  // The next conv2d or scc call (forward or backward) reads its input x through a folded
  // BN+ReLU: as max(0, x*scale[c] + shift[c]) per input channel c (affine: the forward's
  // save_affine, scale[channels] then shift[channels]), exactly as the BN+ReLU would have
  // written it. Consumed by that call. Saves writing the BN+ReLU output and reading it back.
  virtual void fold_next_input(const float* affine, int channels) = 0;
  // Backward of y = max(0, bn(x)) given x, the forward's save_affine (which yields the ReLU
  // mask without reading y) and dy = dL/dy: ADDS into dx, dgamma, dbeta, as relu_backward
  // into a zeroed buffer followed by batchnorm_backward would.
  virtual void batchnorm_relu_backward(int N, int C, int HW, const float* x,
                                       const float* save_affine, const float* gamma,
                                       const float* save_mean, const float* save_invstd,
                                       const float* dy, float* dx, float* dgamma,
                                       float* dbeta) = 0;
  // The next backward call OVERWRITES the gradients of the inputs whose bits are set (bit i:
  // input i; add has two) instead of adding into them. Honoured by conv2d, scc, batchnorm
  // (with or without relu), relu, add and maxpool backward, and consumed by every backward call. The
  // executor sets it for the first contribution to a gradient, which then needs no clearing:
  // one write pass over the tensor instead of a clear, a read and a write. An overwritten
  // gradient of relu, batchnorm (with or without relu) and add's first input may be dy's own
  // buffer: those backwards then run in place.
  virtual void overwrite_next_backward(unsigned inputs) = 0;
};

}  // namespace dsx
