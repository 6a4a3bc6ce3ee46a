// The handlers of the addon's export table (addon.cc), by section and by the file that holds
// them. Each reads its arguments with args.h and is registered through args::guarded<>.
#pragma once
#include <napi.h>

namespace dsx_addon {

// OPS (addon_ops.cc): single ops on caller-sized Float32Arrays
Napi::Value OpsSccForward(const Napi::CallbackInfo& info);
Napi::Value OpsSccBackward(const Napi::CallbackInfo& info);
Napi::Value OpsRunOp(const Napi::CallbackInfo& info);
Napi::Value OpsSetThreads(const Napi::CallbackInfo& info);
Napi::Value OpsInfo(const Napi::CallbackInfo& info);
// OPS (addon_bench.cc): op timings and the machine's ceilings; a network's per-layer profile
Napi::Value OpsBench(const Napi::CallbackInfo& info);
Napi::Value NetProfile(const Napi::CallbackInfo& info);

// NET (addon_net.cc): training and evaluation workers, synchronous plan queries, netDebug
Napi::Value NetTrain(const Napi::CallbackInfo& info);
Napi::Value NetEvaluate(const Napi::CallbackInfo& info);
Napi::Value NetParamCount(const Napi::CallbackInfo& info);
Napi::Value NetStateSize(const Napi::CallbackInfo& info);
Napi::Value NetStateLayout(const Napi::CallbackInfo& info);
Napi::Value NetDebug(const Napi::CallbackInfo& info);

// INFER (addon_infer.cc): eval-mode forwards and latency
Napi::Value NetForward(const Napi::CallbackInfo& info);
Napi::Value NetLatency(const Napi::CallbackInfo& info);

// DOCTOR (addon_doctor.cc): what this build contains and which CUDA devices it sees
Napi::Value DoctorBuildInfo(const Napi::CallbackInfo& info);

// DATA (mapped_file.cc): read-only memory maps of dataset files
Napi::Value MapFile(const Napi::CallbackInfo& info);

}  // namespace dsx_addon
