// The only N-API file: the export table of the native engine. Inputs arrive already
// validated by TypeScript (src/config, src/engine); C++ errors come back as JS Errors.
// Long work (training, evaluation) runs in AsyncWorkers so the event loop stays free.
#include <napi.h>

#include "backend.h"
#include <dlfcn.h>  // OPS section: OpenBLAS comparison in opsBench

#include <chrono>   // OPS section
#include <cstring>  // OPS section

#include "ops/scc_index.h"  // OPS section
#include "ops/sgemm.h"      // OPS section
#include "net/trainer.h"  // NET section

namespace {

// ===== OPS section: single-op entry points (sccForward, sccBackward, runOp) =====
// Synchronous: one op on caller-sized arrays. TypeScript (src/engine/ops.ts) validates the
// public API with zod; the checks here only keep a bad call from touching memory it must not.

std::unique_ptr<dsx::Backend>& ops_backend_slot() {
  static std::unique_ptr<dsx::Backend> be;
  return be;
}
dsx::Backend& ops_backend() {
  auto& be = ops_backend_slot();
  if (!be) be = dsx::make_cpu_backend(0);
  return *be;
}

[[noreturn]] void ops_fail(Napi::Env env, const std::string& op, const std::string& msg) {
  throw Napi::RangeError::New(env, op + ": " + msg);
}

// Reads attrs and tensors of one runOp call, checking presence and sizes.
struct OpsArgs {
  Napi::Env env;
  std::string op;
  Napi::Object attrs, tensors;

  double num(const char* key) const {
    Napi::Value v = attrs.Get(key);
    if (!v.IsNumber()) ops_fail(env, op, std::string("attribute '") + key + "' must be a number");
    return v.As<Napi::Number>().DoubleValue();
  }
  double num_or(const char* key, double dflt) const {
    Napi::Value v = attrs.Get(key);
    if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1.0 : 0.0;
    return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : dflt;
  }
  int pos(const char* key) const {  // a positive integer
    double d = num(key);
    if (d < 1 || d != static_cast<int>(d))
      ops_fail(env, op, std::string("attribute '") + key + "' must be a positive integer");
    return static_cast<int>(d);
  }
  int nonneg(const char* key) const {
    double d = num(key);
    if (d < 0 || d != static_cast<int>(d))
      ops_fail(env, op, std::string("attribute '") + key + "' must be a non-negative integer");
    return static_cast<int>(d);
  }
  bool skip(const char* name) const {
    Napi::Value v = attrs.Get("skip");
    if (!v.IsArray()) return false;
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i)
      if (a.Get(i).IsString() && a.Get(i).As<Napi::String>().Utf8Value() == name) return true;
    return false;
  }
  bool has(const char* name) const { return tensors.Has(name) && !tensors.Get(name).IsUndefined(); }
  const float* in(const char* name, size_t n) const {
    Napi::Value v = tensors.Get(name);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      ops_fail(env, op, std::string("tensor '") + name + "' must be a Float32Array");
    Napi::Float32Array a = v.As<Napi::Float32Array>();
    if (a.ElementLength() != n)
      ops_fail(env, op, std::string("tensor '") + name + "' has " + std::to_string(a.ElementLength()) +
                            " values, expected " + std::to_string(n));
    return a.Data();
  }
  const float* opt_in(const char* name, size_t n) const { return has(name) ? in(name, n) : nullptr; }
  // A fresh output array: a copy of tensors[name] when given (so "adds into" can be tested),
  // zeros otherwise.
  Napi::Float32Array out(const char* name, size_t n) const {
    Napi::Float32Array a = Napi::Float32Array::New(env, n);
    if (has(name)) std::memcpy(a.Data(), in(name, n), n * sizeof(float));
    return a;
  }
};

dsx::Conv2dShape ops_conv_shape(const OpsArgs& a) {
  dsx::Conv2dShape s{a.pos("N"), a.pos("Cin"), a.pos("H"), a.pos("W"), a.pos("Cout"), a.pos("K"),
                     a.pos("stride"), a.nonneg("pad"), a.pos("groups")};
  if (s.Cin % s.groups || s.Cout % s.groups) ops_fail(a.env, a.op, "groups must divide Cin and Cout");
  if (s.pad >= s.K || s.H + 2 * s.pad < s.K || s.W + 2 * s.pad < s.K)
    ops_fail(a.env, a.op, "kernel does not fit the padded input (or pad >= K)");
  return s;
}

dsx::SccShape ops_scc_shape(Napi::Env env, const std::string& op, int N, int Cin, int H, int W,
                            int Cout, int groups, int stride) {
  if (N < 1 || Cin < 1 || H < 1 || W < 1 || Cout < 1 || groups < 1)
    ops_fail(env, op, "batch, channels, height, width and groups must be positive");
  if (Cin % groups) ops_fail(env, op, "groups must divide inChannels");
  if (stride < 1 || stride > Cin / groups)
    ops_fail(env, op, "channelStride must be in [1, inChannels/groups]");
  return dsx::SccShape{N, Cin, H, W, Cout, groups, stride};
}

dsx::PoolShape ops_pool_shape(const OpsArgs& a) {
  dsx::PoolShape s{a.pos("N"), a.pos("C"), a.pos("H"), a.pos("W"), a.pos("K"), a.pos("stride"),
                   a.nonneg("pad")};
  if (s.pad >= s.K || s.H + 2 * s.pad < s.K || s.W + 2 * s.pad < s.K)
    ops_fail(a.env, a.op, "window does not fit the padded input (or pad >= K)");
  return s;
}

// runOp(name, attrs, tensors) -> { outputs }: every Backend op, forward and backward, on
// Float32Arrays. For tests and benchmarks; see src/engine/ops.ts for names and fields.
Napi::Value OpsRunOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "runOp: name must be a string");
  OpsArgs a{env, info[0].As<Napi::String>().Utf8Value(),
            info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env),
            info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env)};
  dsx::Backend& be = ops_backend();
  Napi::Object r = Napi::Object::New(env);
  const std::string& op = a.op;
  auto data = [](Napi::Float32Array& t) { return t.Data(); };
  // attrs.overwrite, a bit mask over input gradients: the backward overwrites them instead of
  // adding into them, as the executor asks for a gradient's first contribution.
  const unsigned overwrite = static_cast<unsigned>(a.num_or("overwrite", 0));
  const bool ow0 = overwrite & 1, ow1 = overwrite & 2;
  if (op == "sgemm") {
    const bool ta = a.num_or("transA", 0) != 0, tb = a.num_or("transB", 0) != 0;
    const int M = a.pos("M"), N = a.pos("N"), K = a.pos("K");
    const float* A = a.in("A", static_cast<size_t>(M) * K);
    const float* B = a.in("B", static_cast<size_t>(K) * N);
    Napi::Float32Array C = a.out("C", static_cast<size_t>(M) * N);
    be.sgemm(ta, tb, M, N, K, static_cast<float>(a.num_or("alpha", 1)), A, ta ? M : K, B, tb ? K : N,
             static_cast<float>(a.num_or("beta", 0)), data(C), N);
    r.Set("C", C);
  } else if (op == "conv2d_forward" || op == "conv2d_backward") {
    const dsx::Conv2dShape s = ops_conv_shape(a);
    const size_t nx = static_cast<size_t>(s.N) * s.Cin * s.H * s.W;
    const size_t nw = static_cast<size_t>(s.Cout) * (s.Cin / s.groups) * s.K * s.K;
    const size_t ny = static_cast<size_t>(s.N) * s.Cout * s.Ho() * s.Wo();
    const float* x = a.in("x", nx);
    const float* w = a.in("w", nw);
    if (op == "conv2d_forward") {
      Napi::Float32Array y = Napi::Float32Array::New(env, ny);
      be.conv2d_forward(s, x, w, a.opt_in("bias", s.Cout), data(y));
      r.Set("y", y);
    } else {
      const float* dy = a.in("dy", ny);
      Napi::Float32Array dx = a.out("dx", nx), dw = a.out("dw", nw), db = a.out("dbias", s.Cout);
      be.conv2d_backward(s, x, w, dy, a.skip("dx") ? nullptr : data(dx), a.skip("dw") ? nullptr : data(dw),
                         a.num_or("bias", 0) != 0 ? data(db) : nullptr, ow0);
      r.Set("dx", dx);
      r.Set("dw", dw);
      r.Set("dbias", db);
    }
  } else if (op == "scc_forward" || op == "scc_backward") {
    const dsx::SccShape s = ops_scc_shape(env, op, a.pos("N"), a.pos("Cin"), a.pos("H"), a.pos("W"),
                                          a.pos("Cout"), a.pos("groups"), a.pos("stride"));
    const size_t nx = static_cast<size_t>(s.N) * s.Cin * s.H * s.W;
    const size_t ny = static_cast<size_t>(s.N) * s.Cout * s.H * s.W;
    const size_t nw = static_cast<size_t>(s.Cout) * s.D();
    const float* x = a.in("x", nx);
    const float* w = a.in("w", nw);
    if (op == "scc_forward") {
      Napi::Float32Array y = Napi::Float32Array::New(env, ny);
      be.scc_forward(s, x, w, data(y));
      r.Set("y", y);
    } else {
      const float* dy = a.in("dy", ny);
      Napi::Float32Array dx = a.out("dx", nx), dw = a.out("dw", nw);
      be.scc_backward(s, x, w, dy, a.skip("dx") ? nullptr : data(dx), a.skip("dw") ? nullptr : data(dw),
                      ow0);
      r.Set("dx", dx);
      r.Set("dw", dw);
    }
  } else if (op == "batchnorm_train" || op == "batchnorm_eval" || op == "batchnorm_backward") {
    const int N = a.pos("N"), C = a.pos("C"), HW = a.pos("HW");
    const size_t n = static_cast<size_t>(N) * C * HW;
    const float* x = a.in("x", n);
    const float* gamma = a.in("gamma", C);
    const float eps = static_cast<float>(a.num_or("eps", 1e-5));
    if (op == "batchnorm_train") {
      const float* beta = a.in("beta", C);
      Napi::Float32Array y = Napi::Float32Array::New(env, n), sm = Napi::Float32Array::New(env, C),
                         si = Napi::Float32Array::New(env, C), rm = a.out("runningMean", C),
                         rv = a.out("runningVar", C);
      be.batchnorm_forward_train(N, C, HW, x, gamma, beta, data(y), data(sm), data(si), data(rm), data(rv),
                                 static_cast<float>(a.num_or("momentum", 0.1)), eps);
      r.Set("y", y);
      r.Set("saveMean", sm);
      r.Set("saveInvstd", si);
      r.Set("runningMean", rm);
      r.Set("runningVar", rv);
    } else if (op == "batchnorm_eval") {
      Napi::Float32Array y = Napi::Float32Array::New(env, n);
      be.batchnorm_forward_eval(N, C, HW, x, gamma, a.in("beta", C), a.in("runningMean", C),
                                a.in("runningVar", C), eps, data(y));
      r.Set("y", y);
    } else {
      Napi::Float32Array dx = a.out("dx", n), dg = a.out("dgamma", C), db = a.out("dbeta", C);
      be.batchnorm_backward(N, C, HW, x, gamma, a.in("saveMean", C), a.in("saveInvstd", C), a.in("dy", n),
                            a.skip("dx") ? nullptr : data(dx), a.skip("dgamma") ? nullptr : data(dg),
                            a.skip("dbeta") ? nullptr : data(db), ow0);
      r.Set("dx", dx);
      r.Set("dgamma", dg);
      r.Set("dbeta", db);
    }
  } else if (op == "relu_forward" || op == "relu_backward" || op == "add_forward" ||
             op == "add_backward" || op == "all_finite") {
    const size_t n = static_cast<size_t>(a.nonneg("n"));
    if (op == "relu_forward") {
      Napi::Float32Array y = Napi::Float32Array::New(env, n);
      be.relu_forward(n, a.in("x", n), data(y));
      r.Set("y", y);
    } else if (op == "relu_backward") {
      Napi::Float32Array dx = a.out("dx", n);
      be.relu_backward(n, a.in("y", n), a.in("dy", n), data(dx), ow0);
      r.Set("dx", dx);
    } else if (op == "add_forward") {
      Napi::Float32Array y = Napi::Float32Array::New(env, n);
      be.add_forward(n, a.in("a", n), a.in("b", n), data(y));
      r.Set("y", y);
    } else if (op == "add_backward") {
      Napi::Float32Array da = a.out("da", n), db = a.out("db", n);
      be.add_backward(n, a.in("dy", n), a.skip("da") ? nullptr : data(da), a.skip("db") ? nullptr : data(db),
                      ow0, ow1);
      r.Set("da", da);
      r.Set("db", db);
    } else {
      r.Set("finite", Napi::Boolean::New(env, be.all_finite(n, a.in("x", n))));
    }
  } else if (op == "maxpool_forward" || op == "maxpool_backward") {
    const dsx::PoolShape s = ops_pool_shape(a);
    const size_t nx = static_cast<size_t>(s.N) * s.C * s.H * s.W;
    const size_t ny = static_cast<size_t>(s.N) * s.C * s.Ho() * s.Wo();
    const float* x = a.in("x", nx);
    if (op == "maxpool_forward") {
      Napi::Float32Array y = Napi::Float32Array::New(env, ny);
      be.maxpool_forward(s, x, data(y));
      r.Set("y", y);
    } else {
      Napi::Float32Array dx = a.out("dx", nx);
      be.maxpool_backward(s, x, a.in("dy", ny), data(dx), ow0);
      r.Set("dx", dx);
    }
  } else if (op == "gap_forward" || op == "gap_backward") {
    const int N = a.pos("N"), C = a.pos("C"), HW = a.pos("HW");
    const size_t nx = static_cast<size_t>(N) * C * HW;
    if (op == "gap_forward") {
      Napi::Float32Array y = Napi::Float32Array::New(env, static_cast<size_t>(N) * C);
      be.gap_forward(N, C, HW, a.in("x", nx), data(y));
      r.Set("y", y);
    } else {
      Napi::Float32Array dx = a.out("dx", nx);
      be.gap_backward(N, C, HW, a.in("dy", static_cast<size_t>(N) * C), data(dx));
      r.Set("dx", dx);
    }
  } else if (op == "linear_forward" || op == "linear_backward") {
    const int N = a.pos("N"), In = a.pos("In"), Out = a.pos("Out");
    const float* x = a.in("x", static_cast<size_t>(N) * In);
    const float* w = a.in("w", static_cast<size_t>(Out) * In);
    if (op == "linear_forward") {
      Napi::Float32Array y = Napi::Float32Array::New(env, static_cast<size_t>(N) * Out);
      be.linear_forward(N, In, Out, x, w, a.opt_in("bias", Out), data(y));
      r.Set("y", y);
    } else {
      Napi::Float32Array dx = a.out("dx", static_cast<size_t>(N) * In),
                         dw = a.out("dw", static_cast<size_t>(Out) * In), db = a.out("dbias", Out);
      be.linear_backward(N, In, Out, x, w, a.in("dy", static_cast<size_t>(N) * Out),
                         a.skip("dx") ? nullptr : data(dx), a.skip("dw") ? nullptr : data(dw),
                         a.num_or("bias", 0) != 0 ? data(db) : nullptr);
      r.Set("dx", dx);
      r.Set("dw", dw);
      r.Set("dbias", db);
    }
  } else if (op == "shuffle_forward" || op == "shuffle_backward") {
    const int N = a.pos("N"), C = a.pos("C"), HW = a.pos("HW"), g = a.pos("groups");
    if (C % g) ops_fail(env, op, "groups must divide C");
    const size_t n = static_cast<size_t>(N) * C * HW;
    if (op == "shuffle_forward") {
      Napi::Float32Array y = Napi::Float32Array::New(env, n);
      be.shuffle_forward(N, C, HW, g, a.in("x", n), data(y));
      r.Set("y", y);
    } else {
      Napi::Float32Array dx = a.out("dx", n);
      be.shuffle_backward(N, C, HW, g, a.in("dy", n), data(dx));
      r.Set("dx", dx);
    }
  } else if (op == "shortcut_a_forward" || op == "shortcut_a_backward") {
    const int N = a.pos("N"), Cin = a.pos("Cin"), H = a.pos("H"), W = a.pos("W"), st = a.pos("stride"),
              Cout = a.pos("Cout"), pf = a.nonneg("padFront");
    const int Ho = (H + st - 1) / st, Wo = (W + st - 1) / st;
    const size_t nx = static_cast<size_t>(N) * Cin * H * W, ny = static_cast<size_t>(N) * Cout * Ho * Wo;
    if (op == "shortcut_a_forward") {
      Napi::Float32Array y = Napi::Float32Array::New(env, ny);
      be.shortcut_a_forward(N, Cin, H, W, st, Cout, pf, a.in("x", nx), data(y));
      r.Set("y", y);
    } else {
      Napi::Float32Array dx = a.out("dx", nx);
      be.shortcut_a_backward(N, Cin, H, W, st, Cout, pf, a.in("dy", ny), data(dx));
      r.Set("dx", dx);
    }
  } else if (op == "softmax_xent" || op == "softmax_xent_eval") {
    const int N = a.pos("N"), K = a.pos("K");
    const float* z = a.in("logits", static_cast<size_t>(N) * K);
    Napi::Value lv = a.tensors.Get("labels");
    if (!lv.IsTypedArray() || lv.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        lv.As<Napi::Int32Array>().ElementLength() != static_cast<size_t>(N))
      ops_fail(env, op, "tensor 'labels' must be an Int32Array of N values");
    Napi::Int32Array labels = lv.As<Napi::Int32Array>();
    for (int i = 0; i < N; ++i)
      if (labels[i] < 0 || labels[i] >= K) ops_fail(env, op, "labels must be in [0, K)");
    double loss = 0;
    int correct = 0;
    if (op == "softmax_xent") {
      Napi::Float32Array d = Napi::Float32Array::New(env, static_cast<size_t>(N) * K);
      be.softmax_xent(N, K, z, labels.Data(), static_cast<float>(a.num_or("gradScale", 1.0 / N)), data(d),
                      &loss, &correct);
      r.Set("dlogits", d);
    } else {
      be.softmax_xent_eval(N, K, z, labels.Data(), &loss, &correct);
    }
    r.Set("lossSum", loss);
    r.Set("correct", correct);
  } else if (op == "sgd_step") {
    const size_t n = static_cast<size_t>(a.nonneg("n"));
    Napi::Float32Array p = a.out("p", n), m = a.out("m", n);
    be.sgd_step(n, data(p), a.in("g", n), data(m), static_cast<float>(a.num("lr")),
                static_cast<float>(a.num_or("momentum", 0)), static_cast<float>(a.num_or("wd", 0)),
                a.num_or("nesterov", 0) != 0);
    r.Set("p", p);
    r.Set("m", m);
  } else {
    throw Napi::TypeError::New(env, "runOp: unknown op '" + op + "'");
  }
  return r;
}

// The SCC library API: sccForward(x, w, shape) and sccBackward(x, w, dy, shape), shape =
// {batch, inChannels, height, width, outChannels, groups, channelStride}.
dsx::SccShape ops_api_shape(Napi::Env env, const Napi::Value& v, const char* fn) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, std::string(fn) + ": shape must be an object");
  Napi::Object o = v.As<Napi::Object>();
  auto field = [&](const char* k) {
    Napi::Value f = o.Get(k);
    if (!f.IsNumber()) throw Napi::TypeError::New(env, std::string(fn) + ": shape." + k + " must be an integer");
    double d = f.As<Napi::Number>().DoubleValue();
    if (d != static_cast<int>(d)) throw Napi::TypeError::New(env, std::string(fn) + ": shape." + k + " must be an integer");
    return static_cast<int>(d);
  };
  return ops_scc_shape(env, fn, field("batch"), field("inChannels"), field("height"), field("width"),
                       field("outChannels"), field("groups"), field("channelStride"));
}

const float* ops_api_array(Napi::Env env, const Napi::Value& v, const char* fn, const char* name, size_t n) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, std::string(fn) + ": " + name + " must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  if (a.ElementLength() != n)
    throw Napi::RangeError::New(env, std::string(fn) + ": " + name + " has " + std::to_string(a.ElementLength()) +
                                         " values, expected " + std::to_string(n));
  return a.Data();
}

Napi::Value OpsSccForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dsx::SccShape s = ops_api_shape(env, info[2], "sccForward");
  const size_t nx = static_cast<size_t>(s.N) * s.Cin * s.H * s.W;
  const float* x = ops_api_array(env, info[0], "sccForward", "input", nx);
  const float* w = ops_api_array(env, info[1], "sccForward", "weight", static_cast<size_t>(s.Cout) * s.D());
  Napi::Float32Array y = Napi::Float32Array::New(env, static_cast<size_t>(s.N) * s.Cout * s.H * s.W);
  ops_backend().scc_forward(s, x, w, y.Data());
  return y;
}

Napi::Value OpsSccBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dsx::SccShape s = ops_api_shape(env, info[3], "sccBackward");
  const size_t nx = static_cast<size_t>(s.N) * s.Cin * s.H * s.W;
  const size_t nw = static_cast<size_t>(s.Cout) * s.D();
  const float* x = ops_api_array(env, info[0], "sccBackward", "input", nx);
  const float* w = ops_api_array(env, info[1], "sccBackward", "weight", nw);
  const float* dy = ops_api_array(env, info[2], "sccBackward", "gradOutput",
                                  static_cast<size_t>(s.N) * s.Cout * s.H * s.W);
  Napi::Float32Array dx = Napi::Float32Array::New(env, nx), dw = Napi::Float32Array::New(env, nw);
  ops_backend().scc_backward(s, x, w, dy, dx.Data(), dw.Data());
  Napi::Object r = Napi::Object::New(env);
  r.Set("gradInput", dx);
  r.Set("gradWeight", dw);
  return r;
}

// opsSetThreads(n): the CPU threads of the op entry points (0 = all cores); returns the count.
Napi::Value OpsSetThreads(const Napi::CallbackInfo& info) {
  const int n = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  ops_backend_slot() = dsx::make_cpu_backend(n < 0 ? 0 : n);
  return Napi::Number::New(info.Env(), ops_backend().threads());
}

// ---- benchmarks: timed in C++ so JS allocation does not pollute the figures ----
double ops_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
// Fastest of repeated runs (at least 3, at least min_seconds in all): robust on a shared machine.
template <class F>
double ops_time(F&& f, double min_seconds) {
  f();
  double best = 1e30, start = ops_now();
  for (int i = 0; i < 3 || ops_now() - start < min_seconds; ++i) {
    double t0 = ops_now();
    f();
    best = std::min(best, ops_now() - t0);
    if (i > 1000) break;
  }
  return best;
}
std::vector<float> ops_random(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>((s >> 8) * (1.0 / 16777216.0) - 0.5);
  }
  return v;
}

using ops_cblas_sgemm_t = void (*)(int, int, int, int, int, int, float, const float*, int, const float*,
                                   int, float, float*, int);

// opsBench('sgemm', {M,N,K,transA,transB,minSeconds,openblas?: path}) -> {ours, openblas?} seconds
// opsBench('scc', {N,Cin,H,W,Cout,groups,stride,minSeconds}) -> seconds of scc and dense 1x1 passes
Napi::Value OpsBench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string kind = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  OpsArgs a{env, "opsBench(" + kind + ")", info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env),
            Napi::Object::New(env)};
  dsx::Backend& be = ops_backend();
  const double min_s = a.num_or("minSeconds", 0.5);
  Napi::Object r = Napi::Object::New(env);
  if (kind == "sgemm") {
    const int M = a.pos("M"), N = a.pos("N"), K = a.pos("K");
    const bool ta = a.num_or("transA", 0) != 0, tb = a.num_or("transB", 0) != 0;
    auto A = ops_random(static_cast<size_t>(M) * K, 1), B = ops_random(static_cast<size_t>(K) * N, 2);
    std::vector<float> C(static_cast<size_t>(M) * N);
    auto ours = [&] { be.sgemm(ta, tb, M, N, K, 1.0f, A.data(), ta ? M : K, B.data(), tb ? K : N, 0.0f, C.data(), N); };
    Napi::Value lib = a.attrs.Get("openblas");
    if (!lib.IsString()) {
      r.Set("ours", ops_time(ours, min_s));
    } else {
      void* h = dlopen(lib.As<Napi::String>().Utf8Value().c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) ops_fail(env, a.op, std::string("cannot load OpenBLAS: ") + dlerror());
      auto gemm = reinterpret_cast<ops_cblas_sgemm_t>(dlsym(h, "cblas_sgemm"));
      auto set_threads = reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"));
      if (!gemm) ops_fail(env, a.op, "the OpenBLAS library has no cblas_sgemm");
      if (set_threads) set_threads(be.threads());
      // CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112
      auto theirs = [&] { gemm(101, ta ? 112 : 111, tb ? 112 : 111, M, N, K, 1.0f, A.data(), ta ? M : K, B.data(), tb ? K : N, 0.0f, C.data(), N); };
      // Interleaved, fastest of each, so both see the same machine conditions.
      ours();
      theirs();
      double best_ours = 1e30, best_theirs = 1e30;
      const double start = ops_now();
      for (int round = 0; round < 3 || (ops_now() - start < 2 * min_s && round < 1000); ++round) {
        double t0 = ops_now();
        ours();
        best_ours = std::min(best_ours, ops_now() - t0);
        t0 = ops_now();
        theirs();
        best_theirs = std::min(best_theirs, ops_now() - t0);
      }
      r.Set("ours", best_ours);
      r.Set("openblas", best_theirs);
      // the library stays loaded: unloading OpenBLAS while its threads idle is unsafe
    }
  } else if (kind == "scc") {
    const dsx::SccShape s = ops_scc_shape(env, a.op, a.pos("N"), a.pos("Cin"), a.pos("H"), a.pos("W"),
                                          a.pos("Cout"), a.pos("groups"), a.pos("stride"));
    const size_t HW = static_cast<size_t>(s.H) * s.W, nx = s.N * s.Cin * HW, ny = s.N * s.Cout * HW;
    const int D = s.D();
    auto x = ops_random(nx, 3), dy = ops_random(ny, 4), w = ops_random(static_cast<size_t>(s.Cout) * D, 5);
    std::vector<float> y(ny), dx(nx), dw(w.size()), dense(static_cast<size_t>(s.Cout) * s.Cin, 0.0f),
        ddense(dense.size());
    for (int c = 0; c < s.Cout; ++c)
      for (int k = 0; k < D; ++k)
        dense[static_cast<size_t>(c) * s.Cin + (dsx::scc_start(c, s.stride, s.Cin) + k) % s.Cin] = w[c * D + k];
    const dsx::Conv2dShape cs{s.N, s.Cin, s.H, s.W, s.Cout, 1, 1, 0, 1};
    // Interleaved rounds, fastest of each: SCC and dense see the same machine conditions.
    double best[4] = {1e30, 1e30, 1e30, 1e30};
    auto timed = [&](int slot, auto&& f) {
      const double t0 = ops_now();
      f();
      best[slot] = std::min(best[slot], ops_now() - t0);
    };
    const double start = ops_now();
    for (int round = 0; round < 4 || (ops_now() - start < 4 * min_s && round < 200); ++round) {
      timed(0, [&] { be.scc_forward(s, x.data(), w.data(), y.data()); });
      timed(1, [&] { be.scc_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data()); });
      timed(2, [&] { be.conv2d_forward(cs, x.data(), dense.data(), nullptr, y.data()); });
      timed(3, [&] { be.conv2d_backward(cs, x.data(), dense.data(), dy.data(), dx.data(), ddense.data(), nullptr); });
    }
    r.Set("sccForward", best[0]);
    r.Set("sccBackward", best[1]);
    r.Set("denseForward", best[2]);
    r.Set("denseBackward", best[3]);
  } else {
    throw Napi::TypeError::New(env, "opsBench: kind must be 'sgemm' or 'scc'");
  }
  r.Set("threads", be.threads());
  return r;
}

Napi::Value OpsInfo(const Napi::CallbackInfo& info) {
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("sgemmKernel", dsx::sgemm_kernel_name());
  r.Set("threads", ops_backend().threads());
  return r;
}


// ===== NET section: network executor, training and evaluation =====
// train(spec, recipe, trainData, testData, options, onProgress?) -> Promise<result>
// evaluate(spec, state, data, options) -> Promise<{accuracy, loss, count, seconds}>
// paramCount(spec), stateSize(spec), stateLayout(spec) -> synchronous
// netDebug(spec, options, images: Float32Array, labels: Int32Array) -> synchronous: one
//   train-mode forward/backward on given, already normalised inputs (gradient checks).

// JS spec/recipe objects were validated by zod in TypeScript; these readers still refuse a
// missing field with a message instead of reading garbage.
Napi::Value net_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull())
    throw Napi::TypeError::New(o.Env(), std::string("missing field '") + key + "'");
  return v;
}
int net_int(const Napi::Object& o, const char* key) {
  Napi::Value v = net_field(o, key);
  if (!v.IsNumber())
    throw Napi::TypeError::New(o.Env(), std::string("field '") + key + "' must be a number");
  return v.As<Napi::Number>().Int32Value();
}
int net_int_or(const Napi::Object& o, const char* key, int dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : dflt;
}
double net_num(const Napi::Object& o, const char* key) {
  Napi::Value v = net_field(o, key);
  if (!v.IsNumber())
    throw Napi::TypeError::New(o.Env(), std::string("field '") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}
bool net_bool_or(const Napi::Object& o, const char* key, bool dflt) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : dflt;
}
std::string net_str_or(const Napi::Object& o, const char* key, const std::string& dflt) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : dflt;
}
Napi::Object net_obj(const Napi::Value& v, const char* what) {
  if (!v.IsObject())
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an object");
  return v.As<Napi::Object>();
}
dsx::TensorShape net_shape(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be [c,h,w]");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != 3) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be [c,h,w]");
  dsx::TensorShape s;
  for (uint32_t i = 0; i < 3; ++i) s[i] = a.Get(i).As<Napi::Number>().Int32Value();
  return s;
}

dsx::NetSpec net_parse_spec(const Napi::Value& value) {
  Napi::Object o = net_obj(value, "spec");
  Napi::Env env = o.Env();
  dsx::NetSpec s;
  s.model = net_str_or(o, "model", "");
  s.input = net_shape(net_field(o, "inputShape"), "spec.inputShape");
  s.classes = net_int(o, "classes");
  Napi::Value tv = net_field(o, "tensors");
  if (!tv.IsArray()) throw Napi::TypeError::New(env, "spec.tensors must be an array");
  Napi::Array tensors = tv.As<Napi::Array>();
  for (uint32_t i = 0; i < tensors.Length(); ++i)
    s.tensors.push_back(net_shape(tensors.Get(i), "spec.tensors[i]"));
  Napi::Value lv = net_field(o, "layers");
  if (!lv.IsArray()) throw Napi::TypeError::New(env, "spec.layers must be an array");
  Napi::Array layers = lv.As<Napi::Array>();
  for (uint32_t i = 0; i < layers.Length(); ++i) {
    Napi::Object l = net_obj(layers.Get(i), "spec.layers[i]");
    dsx::LayerSpec ls;
    ls.name = net_str_or(l, "name", "layer" + std::to_string(i));
    const std::string op = net_str_or(l, "op", "");
    Napi::Value iv = net_field(l, "inputs");
    if (!iv.IsArray()) throw Napi::TypeError::New(env, "layer '" + ls.name + "': inputs must be an array");
    Napi::Array ins = iv.As<Napi::Array>();
    for (uint32_t k = 0; k < ins.Length(); ++k) ls.inputs.push_back(ins.Get(k).As<Napi::Number>().Int32Value());
    ls.output = net_int(l, "output");
    if (op == "conv2d") {
      ls.op = dsx::LayerOp::Conv2d;
      ls.in_channels = net_int(l, "inChannels");
      ls.out_channels = net_int(l, "outChannels");
      ls.kernel = net_int(l, "kernel");
      ls.stride = net_int(l, "stride");
      ls.padding = net_int(l, "padding");
      ls.groups = net_int(l, "groups");
      ls.bias = net_bool_or(l, "bias", false);
    } else if (op == "scc") {
      ls.op = dsx::LayerOp::Scc;
      ls.in_channels = net_int(l, "inChannels");
      ls.out_channels = net_int(l, "outChannels");
      ls.groups = net_int(l, "groups");
      ls.channel_stride = net_int(l, "channelStride");
    } else if (op == "batchnorm") {
      ls.op = dsx::LayerOp::BatchNorm;
      ls.channels = net_int(l, "channels");
    } else if (op == "relu") {
      ls.op = dsx::LayerOp::Relu;
    } else if (op == "maxpool") {
      ls.op = dsx::LayerOp::MaxPool;
      ls.kernel = net_int(l, "kernel");
      ls.stride = net_int(l, "stride");
      ls.padding = net_int_or(l, "padding", 0);
    } else if (op == "gap") {
      ls.op = dsx::LayerOp::Gap;
    } else if (op == "linear") {
      ls.op = dsx::LayerOp::Linear;
      ls.in_features = net_int(l, "inFeatures");
      ls.out_features = net_int(l, "outFeatures");
      ls.bias = net_bool_or(l, "bias", false);
    } else if (op == "shuffle") {
      ls.op = dsx::LayerOp::Shuffle;
      ls.groups = net_int(l, "groups");
    } else if (op == "add") {
      ls.op = dsx::LayerOp::Add;
    } else if (op == "shortcut_a") {
      ls.op = dsx::LayerOp::ShortcutA;
      ls.stride = net_int(l, "stride");
      ls.out_channels = net_int(l, "outChannels");
      ls.pad_front = net_int(l, "padFront");
    } else {
      throw Napi::TypeError::New(env, "layer '" + ls.name + "': unknown op '" + op +
                                          "' (conv2d, scc, batchnorm, relu, maxpool, gap, linear, "
                                          "shuffle, add, shortcut_a)");
    }
    s.layers.push_back(std::move(ls));
  }
  return s;
}

// plan_net throws std::runtime_error for an inconsistent spec; surface it as a JS Error.
dsx::NetPlan net_plan(Napi::Env env, const Napi::Value& spec) {
  dsx::NetSpec s = net_parse_spec(spec);
  try {
    return dsx::plan_net(s);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

dsx::Recipe net_parse_recipe(const Napi::Value& value) {
  Napi::Object o = net_obj(value, "recipe");
  dsx::Recipe r;
  r.epochs = net_int(o, "epochs");
  r.batch_size = net_int(o, "batchSize");
  r.lr = net_num(o, "lr");
  r.momentum = net_num(o, "momentum");
  r.nesterov = net_bool_or(o, "nesterov", false);
  r.weight_decay = net_num(o, "weightDecay");
  r.decay_bn_and_bias = net_bool_or(o, "decayBnAndBias", false);
  r.warmup_epochs = o.Get("warmupEpochs").IsNumber() ? net_num(o, "warmupEpochs") : 0.0;
  r.seed = static_cast<uint64_t>(net_num(o, "seed"));
  r.threads = net_int_or(o, "threads", 0);
  Napi::Object sched = net_obj(net_field(o, "schedule"), "recipe.schedule");
  const std::string kind = net_str_or(sched, "kind", "constant");
  if (kind == "constant") {
    r.schedule = dsx::Schedule::Constant;
  } else if (kind == "cosine") {
    r.schedule = dsx::Schedule::Cosine;
  } else if (kind == "step") {
    r.schedule = dsx::Schedule::Step;
    Napi::Value mv = net_field(sched, "milestones");
    if (!mv.IsArray()) throw Napi::TypeError::New(o.Env(), "schedule.milestones must be an array");
    Napi::Array ms = mv.As<Napi::Array>();
    for (uint32_t i = 0; i < ms.Length(); ++i) r.milestones.push_back(ms.Get(i).As<Napi::Number>().DoubleValue());
    r.gamma = net_num(sched, "gamma");
  } else {
    throw Napi::TypeError::New(o.Env(), "schedule.kind must be constant, cosine or step, got '" + kind + "'");
  }
  Napi::Value av = o.Get("augment");
  if (av.IsObject()) {
    Napi::Object a = av.As<Napi::Object>();
    r.crop_padding = net_int_or(a, "cropPadding", 0);
    r.flip = net_bool_or(a, "flip", false);
  }
  return r;
}

// A dataset handed to a worker: the view plus references that keep the JS buffers alive.
struct NetData {
  dsx::DataView view;
  Napi::ObjectReference images, labels;
};

void net_parse_data(const Napi::Value& value, const char* what, NetData& d) {
  Napi::Object o = net_obj(value, what);
  Napi::Env env = o.Env();
  const std::string w(what);
  Napi::Value iv = net_field(o, "images"), lv = net_field(o, "labels");
  if (!iv.IsTypedArray() || iv.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, w + ".images must be a Uint8Array");
  if (!lv.IsTypedArray() || lv.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, w + ".labels must be a Uint8Array");
  Napi::Uint8Array images = iv.As<Napi::Uint8Array>(), labels = lv.As<Napi::Uint8Array>();
  const dsx::TensorShape shape = net_shape(net_field(o, "shape"), (w + ".shape").c_str());
  d.view.count = net_int(o, "count");
  d.view.C = shape[0];
  d.view.H = shape[1];
  d.view.W = shape[2];
  const size_t need = static_cast<size_t>(d.view.count) * shape[0] * shape[1] * shape[2];
  if (d.view.count < 0 || images.ElementLength() < need || labels.ElementLength() < static_cast<size_t>(d.view.count))
    throw Napi::RangeError::New(env, w + ": images/labels are shorter than count x shape");
  for (const char* key : {"mean", "std"}) {
    Napi::Value v = net_field(o, key);
    if (!v.IsArray()) throw Napi::TypeError::New(env, w + "." + key + " must be an array");
    Napi::Array a = v.As<Napi::Array>();
    auto& dst = std::string(key) == "mean" ? d.view.mean : d.view.std;
    for (uint32_t i = 0; i < a.Length(); ++i) dst.push_back(a.Get(i).As<Napi::Number>().FloatValue());
  }
  d.view.images = images.Data();
  d.view.labels = labels.Data();
  d.images = Napi::Persistent(images.As<Napi::Object>());
  d.labels = Napi::Persistent(labels.As<Napi::Object>());
}

// "cpu" | "cuda" | "cuda:N" | "auto" -> a backend; throws std::runtime_error with the reason.
// When "auto" falls back to the CPU, *fallback (if given) receives why CUDA was not used.
std::unique_ptr<dsx::Backend> net_make_backend(const std::string& device, int threads,
                                               std::string* fallback = nullptr) {
  if (device == "cpu") return dsx::make_cpu_backend(threads);
  if (device == "auto") {
    std::string why;
    if (auto be = dsx::make_cuda_backend(0, &why)) return be;
    if (fallback) *fallback = why;
    return dsx::make_cpu_backend(threads);
  }
  if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
    const int index = device == "cuda" ? 0 : std::atoi(device.c_str() + 5);
    std::string why;
    if (auto be = dsx::make_cuda_backend(index, &why)) return be;
    throw std::runtime_error("CUDA device " + std::to_string(index) + " is not available: " + why +
                             " (use --device cpu, or see `dsxplore doctor`)");
  }
  throw std::runtime_error("unknown device '" + device + "' (cpu, cuda, cuda:N or auto)");
}

Napi::Object net_progress_object(Napi::Env env, const dsx::Progress& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("epoch", p.epoch);
  o.Set("epochs", p.epochs);
  o.Set("batch", p.batch);
  o.Set("batches", p.batches);
  o.Set("loss", p.loss);
  o.Set("imagesPerSecond", p.images_per_second);
  o.Set("elapsed", p.elapsed);
  return o;
}

Napi::Float32Array net_float_array(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

// A queue worker, not the coalescing AsyncProgressWorker: every report the trainer sends (at
// most ~4 a second plus one per epoch end) reaches JS, even when the main thread is busy.
class NetTrainWorker : public Napi::AsyncProgressQueueWorker<dsx::Progress> {
 public:
  NetTrainWorker(Napi::Env env, const Napi::CallbackInfo& info)
      : Napi::AsyncProgressQueueWorker<dsx::Progress>(env, "dsxplore.train"),
        deferred_(Napi::Promise::Deferred::New(env)) {
    spec_ = net_parse_spec(info[0]);
    recipe_ = net_parse_recipe(info[1]);
    net_parse_data(info[2], "train", train_);
    net_parse_data(info[3], "test", test_);
    Napi::Object opt = info[4].IsObject() ? info[4].As<Napi::Object>() : Napi::Object::New(env);
    device_ = net_str_or(opt, "device", "auto");
    options_.keep_state = net_bool_or(opt, "keepState", false);
    options_.eval_last_only = net_bool_or(opt, "evalLastOnly", false);
    if (info[5].IsFunction()) on_progress_ = Napi::Persistent(info[5].As<Napi::Function>());
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    try {
      auto backend = net_make_backend(device_, recipe_.threads, &fallback_);
      std::function<void(const dsx::Progress&)> cb;
      if (!on_progress_.IsEmpty()) cb = [&progress](const dsx::Progress& p) { progress.Send(&p, 1); };
      out_ = dsx::train_net(spec_, *backend, recipe_, train_.view, test_.view, options_, cb);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnProgress(const dsx::Progress* data, size_t count) override {
    if (!data || !count || on_progress_.IsEmpty()) return;
    Napi::HandleScope scope(Env());
    try {
      for (size_t i = 0; i < count; ++i) on_progress_.Call({net_progress_object(Env(), data[i])});
    } catch (const Napi::Error&) {
      // A throwing progress callback must not abort training; the error is dropped here and
      // the promise still settles with the result.
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object r = Napi::Object::New(env);
    r.Set("status", out_.status);
    if (!out_.message.empty()) r.Set("message", out_.message);
    r.Set("device", out_.device);
    if (!fallback_.empty()) r.Set("deviceFallback", fallback_);
    r.Set("threads", out_.threads);
    r.Set("params", static_cast<double>(out_.params));
    r.Set("testAccuracy", out_.test_accuracy);
    r.Set("testLoss", out_.test_loss);
    r.Set("trainLoss", out_.train_loss);
    r.Set("trainAccuracy", out_.train_accuracy);
    r.Set("seconds", out_.seconds);
    r.Set("imagesPerSecond", out_.images_per_second);
    Napi::Array epochs = Napi::Array::New(env, out_.epochs.size());
    for (size_t i = 0; i < out_.epochs.size(); ++i) {
      const auto& m = out_.epochs[i];
      Napi::Object e = Napi::Object::New(env);
      e.Set("epoch", m.epoch);
      e.Set("lr", m.lr);
      e.Set("trainLoss", m.train_loss);
      e.Set("trainAccuracy", m.train_accuracy);
      if (m.evaluated) {
        e.Set("testAccuracy", m.test_accuracy);
        e.Set("testLoss", m.test_loss);
      }
      e.Set("seconds", m.seconds);
      epochs.Set(static_cast<uint32_t>(i), e);
    }
    r.Set("epochs", epochs);
    if (!out_.state.empty()) r.Set("state", net_float_array(env, out_.state));
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  dsx::NetSpec spec_;
  dsx::Recipe recipe_;
  NetData train_, test_;
  std::string device_;
  std::string fallback_;  // why --device auto did not use CUDA
  dsx::TrainOptions options_;
  Napi::FunctionReference on_progress_;
  dsx::TrainOutcome out_;
};

Napi::Value NetTrain(const Napi::CallbackInfo& info) {
  auto* w = new NetTrainWorker(info.Env(), info);  // parse errors throw before Queue
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

class NetEvaluateWorker : public Napi::AsyncWorker {
 public:
  NetEvaluateWorker(Napi::Env env, const Napi::CallbackInfo& info)
      : Napi::AsyncWorker(env, "dsxplore.evaluate"), deferred_(Napi::Promise::Deferred::New(env)) {
    spec_ = net_parse_spec(info[0]);
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(env, "state must be a Float32Array");
    Napi::Float32Array st = info[1].As<Napi::Float32Array>();
    state_.assign(st.Data(), st.Data() + st.ElementLength());
    net_parse_data(info[2], "data", data_);
    Napi::Object opt = info[3].IsObject() ? info[3].As<Napi::Object>() : Napi::Object::New(env);
    device_ = net_str_or(opt, "device", "auto");
    threads_ = net_int_or(opt, "threads", 0);
    batch_ = net_int_or(opt, "batchSize", 256);
    if (batch_ < 1) throw Napi::RangeError::New(env, "batchSize must be >= 1");
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      auto backend = net_make_backend(device_, threads_);
      dsx::Net net(spec_, *backend, std::max(1, std::min(batch_, data_.view.count)));
      if (state_.size() != net.plan().state_size())
        throw std::runtime_error("state has " + std::to_string(state_.size()) +
                                 " values but this model needs " +
                                 std::to_string(net.plan().state_size()) +
                                 " (was it saved from a different model spec?)");
      net.set_state(state_.data());
      out_ = dsx::evaluate_net(net, data_.view);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Object r = Napi::Object::New(Env());
    r.Set("accuracy", out_.accuracy);
    r.Set("loss", out_.loss);
    r.Set("count", out_.count);
    r.Set("seconds", out_.seconds);
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  dsx::NetSpec spec_;
  std::vector<float> state_;
  NetData data_;
  std::string device_;
  int threads_ = 0, batch_ = 256;
  dsx::EvalOutcome out_;
};

Napi::Value NetEvaluate(const Napi::CallbackInfo& info) {
  auto* w = new NetEvaluateWorker(info.Env(), info);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Value NetParamCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(net_plan(info.Env(), info[0]).params));
}

Napi::Value NetStateSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(net_plan(info.Env(), info[0]).state_size()));
}

Napi::Object net_layout_object(Napi::Env env, const dsx::NetPlan& plan) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("params", static_cast<double>(plan.params));
  r.Set("decayed", static_cast<double>(plan.decayed));
  r.Set("stateSize", static_cast<double>(plan.state_size()));
  Napi::Array entries = Napi::Array::New(env, plan.state_layout.size());
  for (size_t i = 0; i < plan.state_layout.size(); ++i) {
    const auto& e = plan.state_layout[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("layer", e.layer);
    o.Set("kind", e.kind);
    o.Set("offset", static_cast<double>(e.offset));
    o.Set("size", static_cast<double>(e.size));
    o.Set("decayed", e.decayed);
    entries.Set(static_cast<uint32_t>(i), o);
  }
  r.Set("entries", entries);
  return r;
}

Napi::Value NetStateLayout(const Napi::CallbackInfo& info) {
  return net_layout_object(info.Env(), net_plan(info.Env(), info[0]));
}

// Synchronous and for small inputs only (tests): options {device, threads, seed, state?}.
Napi::Value NetDebug(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dsx::NetSpec spec = net_parse_spec(info[0]);
  Napi::Object opt = net_obj(info[1], "options");
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "images must be a Float32Array (already normalised)");
  if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(env, "labels must be an Int32Array");
  Napi::Float32Array images = info[2].As<Napi::Float32Array>();
  Napi::Int32Array labels = info[3].As<Napi::Int32Array>();
  const int n = static_cast<int>(labels.ElementLength());
  try {
    auto backend = net_make_backend(net_str_or(opt, "device", "cpu"), net_int_or(opt, "threads", 0));
    dsx::Net net(spec, *backend, std::max(n, 1));
    const size_t chw = static_cast<size_t>(spec.input[0]) * spec.input[1] * spec.input[2];
    if (n < 1 || images.ElementLength() != chw * n)
      throw std::runtime_error("images must hold labels.length x C x H x W values");
    for (int i = 0; i < n; ++i)
      if (labels[i] < 0 || labels[i] >= spec.classes) throw std::runtime_error("label out of range");
    Napi::Value sv = opt.Get("state");
    if (sv.IsTypedArray()) {
      Napi::Float32Array st = sv.As<Napi::Float32Array>();
      if (st.ElementLength() != net.plan().state_size()) throw std::runtime_error("state has the wrong size");
      net.set_state(st.Data());
    } else {
      net.init(static_cast<uint64_t>(opt.Get("seed").IsNumber() ? opt.Get("seed").As<Napi::Number>().Int64Value() : 0));
    }
    backend->upload(net.input(), images.Data(), chw * n * sizeof(float));
    backend->upload(net.labels(), labels.Data(), n * sizeof(int32_t));
    const bool train = net_bool_or(opt, "train", true);
    net.forward(n, train);
    double loss = 0;
    int correct = 0;
    if (train)
      net.backward(n, &loss, &correct);
    else
      net.eval_loss(n, &loss, &correct);
    std::vector<float> state(net.plan().state_size()), grads(net.plan().params);
    net.get_state(state.data());  // after a train forward: running stats updated once
    if (train && !grads.empty()) backend->download(grads.data(), net.grads(), grads.size() * sizeof(float));
    Napi::Object r = Napi::Object::New(env);
    r.Set("loss", loss / n);
    r.Set("correct", correct);
    r.Set("device", backend->name());
    r.Set("state", net_float_array(env, state));
    if (train) r.Set("grads", net_float_array(env, grads));
    r.Set("layout", net_layout_object(env, net.plan()));
    return r;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}


// ===== DOCTOR section: build and device information =====
// buildInfo(): what this build contains and which CUDA devices it sees (src/engine/doctor.ts).
// Never throws for a missing driver or device: that is reported in cudaWhy.

Napi::Array DoctorSplit(Napi::Env env, const std::string& s, char sep) {
  Napi::Array a = Napi::Array::New(env);
  uint32_t n = 0;
  size_t b = 0;
  while (b < s.size()) {
    size_t e = s.find(sep, b);
    if (e == std::string::npos) e = s.size();
    if (e > b) a.Set(n++, Napi::String::New(env, s.substr(b, e - b)));
    b = e + 1;
  }
  return a;
}

Napi::Value DoctorBuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dsx::BuildInfo b = dsx::build_info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("cudaCompiled", Napi::Boolean::New(env, b.cuda_compiled));
  o.Set("cublas", Napi::Boolean::New(env, b.cublas));
  o.Set("cublasLibrary", Napi::String::New(env, b.cublas_library));
  o.Set("cudaArchs", DoctorSplit(env, b.cuda_archs, ','));
  o.Set("cudaDeviceCount", Napi::Number::New(env, b.cuda_device_count));
  o.Set("cudaDevices", DoctorSplit(env, b.cuda_devices, '\n'));
  o.Set("cudaWhy", Napi::String::New(env, b.cuda_why));
  return o;
}

}  // namespace

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  // OPS exports
  exports.Set("sccForward", Napi::Function::New(env, OpsSccForward, "sccForward"));
  exports.Set("sccBackward", Napi::Function::New(env, OpsSccBackward, "sccBackward"));
  exports.Set("runOp", Napi::Function::New(env, OpsRunOp, "runOp"));
  exports.Set("opsSetThreads", Napi::Function::New(env, OpsSetThreads, "opsSetThreads"));
  exports.Set("opsBench", Napi::Function::New(env, OpsBench, "opsBench"));
  exports.Set("opsInfo", Napi::Function::New(env, OpsInfo, "opsInfo"));
  // NET exports
  exports.Set("train", Napi::Function::New(env, NetTrain, "train"));
  exports.Set("evaluate", Napi::Function::New(env, NetEvaluate, "evaluate"));
  exports.Set("paramCount", Napi::Function::New(env, NetParamCount, "paramCount"));
  exports.Set("stateSize", Napi::Function::New(env, NetStateSize, "stateSize"));
  exports.Set("stateLayout", Napi::Function::New(env, NetStateLayout, "stateLayout"));
  exports.Set("netDebug", Napi::Function::New(env, NetDebug, "netDebug"));
  // DOCTOR exports
  exports.Set("buildInfo", Napi::Function::New(env, DoctorBuildInfo, "buildInfo"));
  return exports;
}

NODE_API_MODULE(dsxplore, Init)
