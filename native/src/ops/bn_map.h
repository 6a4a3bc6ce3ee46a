// The affine map of batch norm, y = x * scale + shift, computed in one place for every
// backend and the executor: train mode from the batch statistics (norm_cpu.cc, norm_cuda.cu,
// which also keep those statistics here: bn_keep_stats), eval mode from the running
// statistics (both backends' batchnorm_forward_eval and Net::prepare_inference, whose folded
// maps must round exactly as the eval op does). invstd is 1 / sqrt(var + eps) in double;
// scale and shift are rounded to float once. Host and device code (and the emulator) share
// these functions, so CPU and CUDA cannot drift apart.
#pragma once
#include <cmath>

#include "ops/host_device.h"

namespace dsx {

DSX_HOST_DEVICE inline double bn_invstd(double var, float eps) { return 1.0 / sqrt(var + eps); }

// Mean is double for batch statistics (summed in double) and float for running statistics;
// mean * gamma is then a float product, as the eval op has always rounded it.
template <class Mean>
DSX_HOST_DEVICE inline void bn_scale_shift(float gamma, float beta, Mean mean, double invstd,
                                           float* scale, float* shift) {
  *scale = static_cast<float>(gamma * invstd);
  *shift = static_cast<float>(beta - mean * gamma * invstd);
}

// What a train-mode BN keeps of channel c's batch statistics (mean, and sq, the sum of squared
// deviations over M values): the mean and invstd its backward reads, and the running
// statistics moved by momentum towards the batch's (the variance unbiased, as PyTorch keeps
// it). Null pointers are skipped.
DSX_HOST_DEVICE inline void bn_keep_stats(int c, double mean, double sq, double M, double invstd,
                                          float momentum, float* save_mean, float* save_invstd,
                                          float* running_mean, float* running_var) {
  if (save_mean) save_mean[c] = static_cast<float>(mean);
  if (save_invstd) save_invstd[c] = static_cast<float>(invstd);
  if (running_mean)
    running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * mean);
  if (running_var) {
    const double unbiased = M > 1 ? sq / (M - 1) : sq / M;
    running_var[c] = static_cast<float>((1.0 - momentum) * running_var[c] + momentum * unbiased);
  }
}

// Eval mode: the map from the running statistics.
DSX_HOST_DEVICE inline void bn_eval_map(float gamma, float beta, float running_mean,
                                        float running_var, float eps, float* scale, float* shift) {
  bn_scale_shift(gamma, beta, running_mean, bn_invstd(static_cast<double>(running_var), eps), scale,
                 shift);
}

}  // namespace dsx
