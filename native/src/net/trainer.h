// The native trainer: epochs of seeded shuffling, host-side batch assembly (random crop with
// zero padding or random-resized crop, horizontal flip, per-channel normalisation), forward/backward/SGD on a
// backend, learning-rate schedules, evaluation, divergence detection. Mirrors TrainRecipe in
// src/engine/types.ts. Runs on whatever thread calls it (the addon uses a worker thread).
#pragma once
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "backend.h"
#include "net/net.h"

namespace dsx {

enum class Schedule { Constant, Cosine, Step };

struct Recipe {
  int epochs = 1;
  int batch_size = 128;
  double lr = 0.1, momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 5e-4;
  bool decay_bn_and_bias = false;
  Schedule schedule = Schedule::Constant;
  std::vector<double> milestones;  // epochs, for Schedule::Step
  double gamma = 0.1;
  double warmup_epochs = 0;
  uint64_t seed = 0;
  int threads = 0;
  int crop_padding = 0;
  bool flip = false;
  // random-resized crop (torchvision's RandomResizedCrop): a crop of scale in
  // [resized_crop_scale, 1] of the area and aspect ratio in [3/4, 4/3], resized bilinearly
  // to the image size; 0 = off (then crop_padding applies)
  double resized_crop_scale = 0;
};

// A dataset as the host holds it: images [count, C, H, W] uint8, labels [count] uint8.
// The memory belongs to the caller and must outlive the call.
struct DataView {
  const uint8_t* images = nullptr;
  const uint8_t* labels = nullptr;
  int count = 0;
  int C = 0, H = 0, W = 0;
  std::vector<float> mean, std;  // per channel, of pixel/255
};

struct Progress {
  int epoch, epochs, batch, batches;
  double loss, images_per_second, elapsed;
};

struct EpochMetrics {
  int epoch;
  double lr, train_loss, train_accuracy;
  bool evaluated;
  double test_accuracy, test_loss, seconds;
};

struct TrainOptions {
  bool keep_state = false;
  bool eval_last_only = false;
};

struct TrainOutcome {
  std::string status = "done";  // done | diverged
  std::string message;
  std::string device;
  int threads = 0;
  size_t params = 0;
  double test_accuracy = NAN, test_loss = NAN, train_loss = NAN, train_accuracy = NAN;
  std::vector<EpochMetrics> epochs;
  double seconds = 0, images_per_second = 0;
  std::vector<float> state;
};

struct EvalOutcome {
  double accuracy = NAN, loss = NAN;
  int count = 0;
  double seconds = 0;
};

// Learning rate at global step `step` (0-based) of a run with `steps_per_epoch` steps per epoch.
double learning_rate(const Recipe& r, long step, long steps_per_epoch);

// Number of training steps in one epoch (a last batch of one sample is dropped: BN needs two).
long steps_per_epoch(int count, int batch_size);

TrainOutcome train_net(const NetSpec& spec, Backend& backend, const Recipe& recipe,
                       const DataView& train, const DataView& test, const TrainOptions& options,
                       const std::function<void(const Progress&)>& on_progress);

// Evaluates `net` (its current state, eval mode) on `data` in batches of net.capacity().
EvalOutcome evaluate_net(Net& net, const DataView& data);

// Normalises images [first, first+n) of `data` (no augmentation) into a host batch.
void assemble_plain(const DataView& data, const int* indices, int n, float* out,
                    int32_t* labels);

}  // namespace dsx
