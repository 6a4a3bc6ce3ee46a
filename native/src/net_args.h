// Argument readers of the NET and INFER sections of the export table (addon_net.cc,
// addon_infer.cc): a JS model spec, recipe and dataset read into the engine's plain structs,
// and the whole argument lists of train() and evaluate(), parsed and checked before any
// worker exists. JS objects were validated by zod in TypeScript; these readers (on args.h)
// still refuse a missing field, a wrong type or an out-of-range value with a message naming
// it, and bound every size before plan_net sums them.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "net/spec.h"
#include "net/trainer.h"

namespace dsx_addon {

// A JS model spec (src/models/spec.ts) as its C++ mirror; throws ArgError naming the field.
dsx::NetSpec parse_spec(const Napi::Value& v);
// A [c,h,w] array, each dimension in 1..kMaxDim.
dsx::TensorShape parse_shape(const Napi::Value& v, const std::string& what);

// A dataset handed to a worker: the view plus references that keep the JS buffers alive.
struct NetData {
  dsx::DataView view;
  Napi::ObjectReference images, labels;
};

// What train(spec, recipe, trainData, testData, options, onProgress?) was given.
struct TrainArgs {
  dsx::NetSpec spec;
  dsx::Recipe recipe;
  NetData train, test;
  std::string device;
  dsx::TrainOptions options;
  Napi::FunctionReference on_progress;
};
void parse_train_args(const Napi::CallbackInfo& info, TrainArgs& a);

// What evaluate(spec, state, data, options) was given; the state is copied (its length
// checked against the spec's plan).
struct EvaluateArgs {
  dsx::NetSpec spec;
  std::vector<float> state;
  NetData data;
  std::string device;
  int threads = 0, batch = 256;
};
void parse_evaluate_args(const Napi::CallbackInfo& info, EvaluateArgs& a);

}  // namespace dsx_addon
