// The asynchronous exports (train, evaluate, netLatency) each run one worker that settles
// one promise. Their arguments are parsed and checked before the worker exists: a worker
// whose constructor throws leaves node-addon-api with a dangling finaliser.
#pragma once
#include <napi.h>

#include <exception>
#include <utility>

namespace dsx_addon {

// A worker over parsed arguments `a_`: run() does the work off the main thread (whatever it
// throws rejects the promise), result() builds the value the promise resolves with.
template <class Args>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  PromiseWorker(Napi::Env env, const char* name, Args&& a)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), a_(std::move(a)) {}
  virtual void run() = 0;
  virtual Napi::Value result(Napi::Env env) = 0;

  Args a_;

 private:
  void Execute() final {
    try {
      run();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() final { deferred_.Resolve(result(Env())); }
  void OnError(const Napi::Error& e) final { deferred_.Reject(e.Value()); }

  Napi::Promise::Deferred deferred_;
};

// Parses a call's arguments (parse errors throw here, before any worker exists), then queues
// a Worker built from them and returns its promise.
template <class Worker, class Args>
Napi::Value queue_worker(const Napi::CallbackInfo& info, void (*parse)(const Napi::CallbackInfo&, Args&)) {
  Args args;
  parse(info, args);
  auto* w = new Worker(info.Env(), std::move(args));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

}  // namespace dsx_addon
