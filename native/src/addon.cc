// The export table of the native engine, and nothing else: the handlers live in the files
// beside this one, named for what they hold (addon.h lists them). Inputs arrive already
// validated by TypeScript (src/config, src/engine); what a direct call passes is read through
// args.h, which refuses wrong types and sizes, and every export is wrapped by guarded<>, so
// C++ errors come back as JS Errors and never take the process down.
// Long work (training, evaluation, latency) runs in AsyncWorkers so the event loop stays free.
#include <napi.h>

#include "addon.h"
#include "args.h"

namespace {

using dsx::args::guarded;

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
void add(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, guarded<F>, name));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace dsx_addon;
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  // OPS: addon_ops.cc, addon_bench.cc
  add<OpsSccForward>(env, exports, "sccForward");
  add<OpsSccBackward>(env, exports, "sccBackward");
  add<OpsRunOp>(env, exports, "runOp");
  add<OpsSetThreads>(env, exports, "opsSetThreads");
  add<OpsBench>(env, exports, "opsBench");
  add<NetProfile>(env, exports, "netProfile");
  add<OpsInfo>(env, exports, "opsInfo");
  // NET: addon_net.cc
  add<NetTrain>(env, exports, "train");
  add<NetEvaluate>(env, exports, "evaluate");
  add<NetParamCount>(env, exports, "paramCount");
  add<NetStateSize>(env, exports, "stateSize");
  add<NetStateLayout>(env, exports, "stateLayout");
  add<NetDebug>(env, exports, "netDebug");
  // INFER: addon_infer.cc
  add<NetForward>(env, exports, "netForward");
  add<NetLatency>(env, exports, "netLatency");
  // DOCTOR: addon_doctor.cc
  add<DoctorBuildInfo>(env, exports, "buildInfo");
  // DATA: mapped_file.cc
  add<MapFile>(env, exports, "mapFile");
  return exports;
}

}  // namespace

NODE_API_MODULE(dsxplore, Init)
