// The only N-API file: the export table of the native engine. Inputs arrive already
// validated by TypeScript (src/config, src/engine); C++ errors come back as JS Errors.
// Long work (training, evaluation) runs in AsyncWorkers so the event loop stays free.
#include <napi.h>

#include "backend.h"

namespace {

// ===== OPS section: single-op entry points (sccForward, sccBackward, runOp) =====

// ===== NET section: network executor, training and evaluation =====

// ===== DOCTOR section: build and device information =====

}  // namespace

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  // OPS exports
  // NET exports
  // DOCTOR exports
  return exports;
}

NODE_API_MODULE(dsxplore, Init)
