// The only N-API file: the export table of the native engine. Inputs arrive already
// validated by TypeScript (src/config, src/engine); what a direct call passes is read through
// args.h, which refuses wrong types and sizes, and every export is wrapped by guarded<>, so
// C++ errors come back as JS Errors and never take the process down.
// Long work (training, evaluation) runs in AsyncWorkers so the event loop stays free.
#include <napi.h>

#include "args.h"
#include "backend.h"
#include <dlfcn.h>  // OPS section: OpenBLAS comparison in opsBench

#include <chrono>   // OPS section
#include <cstring>  // OPS section

#include "ops/scc_index.h"  // OPS section
#include "ops/sgemm.h"      // OPS section
#include "net/trainer.h"  // NET section
#include "mapped_file.h"
#include "addon_net.h"    // shared with the binding files beside this one

namespace {

// ===== OPS section: single-op entry points (sccForward, sccBackward, runOp) =====
// Synchronous: one op on caller-sized arrays. TypeScript (src/engine/ops.ts) validates the
// public API with zod; the readers (args.h) keep a bad direct call from touching memory it
// must not: every size is checked, every input is read before any output is allocated.

namespace A = dsx::args;

// Sizes an op attribute may take: big enough for any real layer, small enough that sums
// like H + 2*pad cannot overflow an int.
constexpr int kMaxDim = 1 << 24;

std::unique_ptr<dsx::Backend>& ops_backend_slot() {
  static std::unique_ptr<dsx::Backend> be;
  return be;
}
dsx::Backend& ops_backend() {
  auto& be = ops_backend_slot();
  if (!be) be = dsx::make_cpu_backend(0);
  return *be;
}

[[noreturn]] void ops_fail(const std::string& op, const std::string& msg) { A::range_error(op + ": " + msg); }

// Reads attrs and tensors of one runOp call, checking presence, types and sizes.
struct OpsArgs {
  Napi::Env env;
  std::string op;
  Napi::Object attrs, tensors;

  std::string attr(const char* key) const { return op + ": attribute '" + key + "'"; }
  std::string tensor(const char* name) const { return op + ": tensor '" + name + "'"; }
  double num(const char* key) const { return A::number(attrs.Get(key), attr(key), -1e30, 1e30); }
  double num_or(const char* key, double dflt) const {
    Napi::Value v = attrs.Get(key);
    if (v.IsUndefined()) return dflt;
    if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1.0 : 0.0;
    return A::number(v, attr(key), -1e30, 1e30);
  }
  int pos(const char* key) const { return A::int32(attrs.Get(key), attr(key), 1, kMaxDim); }
  int nonneg(const char* key, int hi = kMaxDim) const { return A::int32(attrs.Get(key), attr(key), 0, hi); }
  // size of a tensor from its dimensions, refused when it overflows or is too large
  size_t size(std::initializer_list<long long> dims, const char* name) const {
    return A::elements(dims, tensor(name));
  }
  bool skip(const char* name) const {
    Napi::Value v = attrs.Get("skip");
    if (v.IsUndefined()) return false;
    if (!v.IsArray()) A::type_error(attr("skip") + " must be an array of names");
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i)
      if (a.Get(i).IsString() && a.Get(i).As<Napi::String>().Utf8Value() == name) return true;
    return false;
  }
  bool has(const char* name) const { return tensors.Has(name) && !tensors.Get(name).IsUndefined(); }
  const float* in(const char* name, size_t n) const { return A::f32(tensors.Get(name), tensor(name), n).Data(); }
  const float* opt_in(const char* name, size_t n) const { return has(name) ? in(name, n) : nullptr; }
  // A fresh output array: a copy of tensors[name] when given (so "adds into" can be tested),
  // zeros otherwise.
  Napi::Float32Array out(const char* name, size_t n) const {
    const float* from = opt_in(name, n);
    Napi::Float32Array a = A::new_f32(env, n, tensor(name));
    if (from && n) std::memcpy(a.Data(), from, n * sizeof(float));
    return a;
  }
  Napi::Float32Array fresh(const char* name, size_t n) const { return A::new_f32(env, n, tensor(name)); }
};

dsx::Conv2dShape ops_conv_shape(const OpsArgs& a) {
  dsx::Conv2dShape s{a.pos("N"), a.pos("Cin"), a.pos("H"), a.pos("W"), a.pos("Cout"), a.pos("K"),
                     a.pos("stride"), a.nonneg("pad"), a.pos("groups")};
  if (s.Cin % s.groups || s.Cout % s.groups) ops_fail(a.op, "groups must divide Cin and Cout");
  if (s.pad >= s.K || s.H + 2 * s.pad < s.K || s.W + 2 * s.pad < s.K)
    ops_fail(a.op, "kernel does not fit the padded input (or pad >= K)");
  return s;
}

dsx::SccShape ops_scc_shape(const std::string& op, int N, int Cin, int H, int W, int Cout, int groups,
                            int stride) {
  if (N < 1 || Cin < 1 || H < 1 || W < 1 || Cout < 1 || groups < 1)
    ops_fail(op, "batch, channels, height, width and groups must be positive");
  if (Cin % groups) ops_fail(op, "groups must divide inChannels");
  if (stride < 1 || stride > Cin / groups) ops_fail(op, "channelStride must be in [1, inChannels/groups]");
  return dsx::SccShape{N, Cin, H, W, Cout, groups, stride};
}

dsx::PoolShape ops_pool_shape(const OpsArgs& a) {
  dsx::PoolShape s{a.pos("N"), a.pos("C"), a.pos("H"), a.pos("W"), a.pos("K"), a.pos("stride"),
                   a.nonneg("pad")};
  if (s.pad >= s.K || s.H + 2 * s.pad < s.K || s.W + 2 * s.pad < s.K)
    ops_fail(a.op, "window does not fit the padded input (or pad >= K)");
  return s;
}

// runOp(name, attrs, tensors) -> { outputs }: every Backend op, forward and backward, on
// Float32Arrays. For tests and benchmarks; see src/engine/ops.ts for names and fields.
Napi::Value OpsRunOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpsArgs a{env, A::str(info[0], "runOp: name", 64),
            info[1].IsUndefined() ? Napi::Object::New(env) : A::object(info[1], "runOp: attrs"),
            info[2].IsUndefined() ? Napi::Object::New(env) : A::object(info[2], "runOp: tensors")};
  dsx::Backend& be = ops_backend();
  Napi::Object r = Napi::Object::New(env);
  const std::string& op = a.op;
  auto data = [](Napi::Float32Array& t) { return t.Data(); };
  // attrs.overwrite, a bit mask over input gradients: the backward overwrites them instead of
  // adding into them, as the executor asks for a gradient's first contribution.
  const unsigned overwrite = a.attrs.Get("overwrite").IsUndefined() ? 0u : static_cast<unsigned>(a.nonneg("overwrite", 3));
  const bool ow0 = overwrite & 1, ow1 = overwrite & 2;
  if (op == "sgemm") {
    const bool ta = a.num_or("transA", 0) != 0, tb = a.num_or("transB", 0) != 0;
    const int M = a.pos("M"), N = a.pos("N"), K = a.pos("K");
    const float alpha = static_cast<float>(a.num_or("alpha", 1)), beta = static_cast<float>(a.num_or("beta", 0));
    const float* A_ = a.in("A", a.size({M, K}, "A"));
    const float* B = a.in("B", a.size({K, N}, "B"));
    Napi::Float32Array C = a.out("C", a.size({M, N}, "C"));
    be.sgemm(ta, tb, M, N, K, alpha, A_, ta ? M : K, B, tb ? K : N, beta, data(C), N);
    r.Set("C", C);
  } else if (op == "conv2d_forward" || op == "conv2d_backward") {
    const dsx::Conv2dShape s = ops_conv_shape(a);
    const size_t nx = a.size({s.N, s.Cin, s.H, s.W}, "x");
    const size_t nw = a.size({s.Cout, s.Cin / s.groups, s.K, s.K}, "w");
    const size_t ny = a.size({s.N, s.Cout, s.Ho(), s.Wo()}, "y");
    const float* x = a.in("x", nx);
    const float* w = a.in("w", nw);
    if (op == "conv2d_forward") {
      const float* bias = a.opt_in("bias", s.Cout);
      Napi::Float32Array y = a.fresh("y", ny);
      be.conv2d_forward(s, x, w, bias, data(y));
      r.Set("y", y);
    } else {
      const float* dy = a.in("dy", ny);
      const bool bias = a.num_or("bias", 0) != 0;
      Napi::Float32Array dx = a.out("dx", nx), dw = a.out("dw", nw), db = a.out("dbias", s.Cout);
      be.conv2d_backward(s, x, w, dy, a.skip("dx") ? nullptr : data(dx), a.skip("dw") ? nullptr : data(dw),
                         bias ? data(db) : nullptr, ow0);
      r.Set("dx", dx);
      r.Set("dw", dw);
      r.Set("dbias", db);
    }
  } else if (op == "scc_forward" || op == "scc_backward") {
    const dsx::SccShape s = ops_scc_shape(op, a.pos("N"), a.pos("Cin"), a.pos("H"), a.pos("W"), a.pos("Cout"),
                                          a.pos("groups"), a.pos("stride"));
    const size_t nx = a.size({s.N, s.Cin, s.H, s.W}, "x");
    const size_t ny = a.size({s.N, s.Cout, s.H, s.W}, "y");
    const size_t nw = a.size({s.Cout, s.D()}, "w");
    const float* x = a.in("x", nx);
    const float* w = a.in("w", nw);
    if (op == "scc_forward") {
      Napi::Float32Array y = a.fresh("y", ny);
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
    const size_t n = a.size({N, C, HW}, "x");
    const float* x = a.in("x", n);
    const float* gamma = a.in("gamma", C);
    const float eps = static_cast<float>(a.num_or("eps", 1e-5));
    if (op == "batchnorm_train") {
      const float* beta = a.in("beta", C);
      const float momentum = static_cast<float>(a.num_or("momentum", 0.1));
      Napi::Float32Array rm = a.out("runningMean", C), rv = a.out("runningVar", C);
      Napi::Float32Array y = a.fresh("y", n), sm = a.fresh("saveMean", C), si = a.fresh("saveInvstd", C);
      be.batchnorm_forward_train(N, C, HW, x, gamma, beta, data(y), data(sm), data(si), data(rm), data(rv), momentum,
                                 eps);
      r.Set("y", y);
      r.Set("saveMean", sm);
      r.Set("saveInvstd", si);
      r.Set("runningMean", rm);
      r.Set("runningVar", rv);
    } else if (op == "batchnorm_eval") {
      const float *beta = a.in("beta", C), *mean = a.in("runningMean", C), *var = a.in("runningVar", C);
      Napi::Float32Array y = a.fresh("y", n);
      be.batchnorm_forward_eval(N, C, HW, x, gamma, beta, mean, var, eps, data(y));
      r.Set("y", y);
    } else {
      const float *mean = a.in("saveMean", C), *invstd = a.in("saveInvstd", C), *dy = a.in("dy", n);
      Napi::Float32Array dx = a.out("dx", n), dg = a.out("dgamma", C), db = a.out("dbeta", C);
      be.batchnorm_backward(N, C, HW, x, gamma, mean, invstd, dy, a.skip("dx") ? nullptr : data(dx),
                            a.skip("dgamma") ? nullptr : data(dg), a.skip("dbeta") ? nullptr : data(db), ow0);
      r.Set("dx", dx);
      r.Set("dgamma", dg);
      r.Set("dbeta", db);
    }
  } else if (op == "relu_forward" || op == "relu_backward" || op == "add_forward" ||
             op == "add_backward" || op == "all_finite") {
    const size_t n = static_cast<size_t>(a.nonneg("n", static_cast<int>(A::kMaxElements)));
    if (op == "relu_forward") {
      const float* x = a.in("x", n);
      Napi::Float32Array y = a.fresh("y", n);
      be.relu_forward(n, x, data(y));
      r.Set("y", y);
    } else if (op == "relu_backward") {
      const float *y = a.in("y", n), *dy = a.in("dy", n);
      Napi::Float32Array dx = a.out("dx", n);
      be.relu_backward(n, y, dy, data(dx), ow0);
      r.Set("dx", dx);
    } else if (op == "add_forward") {
      const float *x = a.in("a", n), *y2 = a.in("b", n);
      Napi::Float32Array y = a.fresh("y", n);
      be.add_forward(n, x, y2, data(y));
      r.Set("y", y);
    } else if (op == "add_backward") {
      const float* dy = a.in("dy", n);
      Napi::Float32Array da = a.out("da", n), db = a.out("db", n);
      be.add_backward(n, dy, a.skip("da") ? nullptr : data(da), a.skip("db") ? nullptr : data(db), ow0, ow1);
      r.Set("da", da);
      r.Set("db", db);
    } else {
      r.Set("finite", Napi::Boolean::New(env, be.all_finite(n, a.in("x", n))));
    }
  } else if (op == "maxpool_forward" || op == "maxpool_backward") {
    const dsx::PoolShape s = ops_pool_shape(a);
    const size_t nx = a.size({s.N, s.C, s.H, s.W}, "x");
    const size_t ny = a.size({s.N, s.C, s.Ho(), s.Wo()}, "y");
    const float* x = a.in("x", nx);
    if (op == "maxpool_forward") {
      Napi::Float32Array y = a.fresh("y", ny);
      be.maxpool_forward(s, x, data(y));
      r.Set("y", y);
    } else {
      const float* dy = a.in("dy", ny);
      Napi::Float32Array dx = a.out("dx", nx);
      be.maxpool_backward(s, x, dy, data(dx), ow0);
      r.Set("dx", dx);
    }
  } else if (op == "gap_forward" || op == "gap_backward") {
    const int N = a.pos("N"), C = a.pos("C"), HW = a.pos("HW");
    const size_t nx = a.size({N, C, HW}, "x"), ny = a.size({N, C}, "y");
    if (op == "gap_forward") {
      const float* x = a.in("x", nx);
      Napi::Float32Array y = a.fresh("y", ny);
      be.gap_forward(N, C, HW, x, data(y));
      r.Set("y", y);
    } else {
      const float* dy = a.in("dy", ny);
      Napi::Float32Array dx = a.out("dx", nx);
      be.gap_backward(N, C, HW, dy, data(dx));
      r.Set("dx", dx);
    }
  } else if (op == "linear_forward" || op == "linear_backward") {
    const int N = a.pos("N"), In = a.pos("In"), Out = a.pos("Out");
    const size_t nx = a.size({N, In}, "x"), nw = a.size({Out, In}, "w"), ny = a.size({N, Out}, "y");
    const float* x = a.in("x", nx);
    const float* w = a.in("w", nw);
    if (op == "linear_forward") {
      const float* bias = a.opt_in("bias", Out);
      Napi::Float32Array y = a.fresh("y", ny);
      be.linear_forward(N, In, Out, x, w, bias, data(y));
      r.Set("y", y);
    } else {
      const float* dy = a.in("dy", ny);
      const bool bias = a.num_or("bias", 0) != 0;
      Napi::Float32Array dx = a.out("dx", nx), dw = a.out("dw", nw), db = a.out("dbias", Out);
      be.linear_backward(N, In, Out, x, w, dy, a.skip("dx") ? nullptr : data(dx), a.skip("dw") ? nullptr : data(dw),
                         bias ? data(db) : nullptr);
      r.Set("dx", dx);
      r.Set("dw", dw);
      r.Set("dbias", db);
    }
  } else if (op == "shuffle_forward" || op == "shuffle_backward") {
    const int N = a.pos("N"), C = a.pos("C"), HW = a.pos("HW"), g = a.pos("groups");
    if (C % g) ops_fail(op, "groups must divide C");
    const size_t n = a.size({N, C, HW}, "x");
    if (op == "shuffle_forward") {
      const float* x = a.in("x", n);
      Napi::Float32Array y = a.fresh("y", n);
      be.shuffle_forward(N, C, HW, g, x, data(y));
      r.Set("y", y);
    } else {
      const float* dy = a.in("dy", n);
      Napi::Float32Array dx = a.out("dx", n);
      be.shuffle_backward(N, C, HW, g, dy, data(dx));
      r.Set("dx", dx);
    }
  } else if (op == "shortcut_a_forward" || op == "shortcut_a_backward") {
    const int N = a.pos("N"), Cin = a.pos("Cin"), H = a.pos("H"), W = a.pos("W"), st = a.pos("stride"),
              Cout = a.pos("Cout"), pf = a.nonneg("padFront");
    // the input channels land at [padFront, padFront + Cin) of the output
    if (pf + Cin > Cout) ops_fail(op, "needs padFront + Cin <= Cout");
    const int Ho = (H + st - 1) / st, Wo = (W + st - 1) / st;
    const size_t nx = a.size({N, Cin, H, W}, "x"), ny = a.size({N, Cout, Ho, Wo}, "y");
    if (op == "shortcut_a_forward") {
      const float* x = a.in("x", nx);
      Napi::Float32Array y = a.fresh("y", ny);
      be.shortcut_a_forward(N, Cin, H, W, st, Cout, pf, x, data(y));
      r.Set("y", y);
    } else {
      const float* dy = a.in("dy", ny);
      Napi::Float32Array dx = a.out("dx", nx);
      be.shortcut_a_backward(N, Cin, H, W, st, Cout, pf, dy, data(dx));
      r.Set("dx", dx);
    }
  } else if (op == "softmax_xent" || op == "softmax_xent_eval") {
    const int N = a.pos("N"), K = a.pos("K");
    const size_t nz = a.size({N, K}, "logits");
    const float* z = a.in("logits", nz);
    Napi::Int32Array labels = A::i32(a.tensors.Get("labels"), a.tensor("labels"), static_cast<size_t>(N));
    for (int i = 0; i < N; ++i)
      if (labels[i] < 0 || labels[i] >= K) ops_fail(op, "labels must be in [0, K)");
    double loss = 0;
    int correct = 0;
    if (op == "softmax_xent") {
      const float scale = static_cast<float>(a.num_or("gradScale", 1.0 / N));
      Napi::Float32Array d = a.fresh("dlogits", nz);
      be.softmax_xent(N, K, z, labels.Data(), scale, data(d), &loss, &correct);
      r.Set("dlogits", d);
    } else {
      be.softmax_xent_eval(N, K, z, labels.Data(), &loss, &correct);
    }
    r.Set("lossSum", loss);
    r.Set("correct", correct);
  } else if (op == "sgd_step") {
    const size_t n = static_cast<size_t>(a.nonneg("n", static_cast<int>(A::kMaxElements)));
    const float* g = a.in("g", n);
    const float lr = static_cast<float>(a.num("lr")), momentum = static_cast<float>(a.num_or("momentum", 0)),
                wd = static_cast<float>(a.num_or("wd", 0));
    const bool nesterov = a.num_or("nesterov", 0) != 0;
    Napi::Float32Array p = a.out("p", n), m = a.out("m", n);
    be.sgd_step(n, data(p), g, data(m), lr, momentum, wd, nesterov);
    r.Set("p", p);
    r.Set("m", m);
  } else {
    A::type_error("runOp: unknown op '" + op + "'");
  }
  return r;
}

// The SCC library API: sccForward(x, w, shape) and sccBackward(x, w, dy, shape), shape =
// {batch, inChannels, height, width, outChannels, groups, channelStride}.
dsx::SccShape ops_api_shape(const Napi::Value& v, const char* fn) {
  Napi::Object o = A::object(v, std::string(fn) + ": shape");
  const std::string where = std::string(fn) + ": shape";
  auto field = [&](const char* k) { return A::int_field(o, k, where, 1, kMaxDim); };
  return ops_scc_shape(fn, field("batch"), field("inChannels"), field("height"), field("width"),
                       field("outChannels"), field("groups"), field("channelStride"));
}

Napi::Value OpsSccForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dsx::SccShape s = ops_api_shape(info[2], "sccForward");
  const size_t nx = A::elements({s.N, s.Cin, s.H, s.W}, "sccForward: input");
  const size_t nw = A::elements({s.Cout, s.D()}, "sccForward: weight");
  const size_t ny = A::elements({s.N, s.Cout, s.H, s.W}, "sccForward: output");
  const float* x = A::f32(info[0], "sccForward: input", nx).Data();
  const float* w = A::f32(info[1], "sccForward: weight", nw).Data();
  Napi::Float32Array y = A::new_f32(env, ny, "sccForward: output");
  ops_backend().scc_forward(s, x, w, y.Data());
  return y;
}

Napi::Value OpsSccBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dsx::SccShape s = ops_api_shape(info[3], "sccBackward");
  const size_t nx = A::elements({s.N, s.Cin, s.H, s.W}, "sccBackward: input");
  const size_t nw = A::elements({s.Cout, s.D()}, "sccBackward: weight");
  const size_t ny = A::elements({s.N, s.Cout, s.H, s.W}, "sccBackward: gradOutput");
  const float* x = A::f32(info[0], "sccBackward: input", nx).Data();
  const float* w = A::f32(info[1], "sccBackward: weight", nw).Data();
  const float* dy = A::f32(info[2], "sccBackward: gradOutput", ny).Data();
  Napi::Float32Array dx = A::new_f32(env, nx, "sccBackward: gradInput"), dw = A::new_f32(env, nw, "sccBackward: gradWeight");
  ops_backend().scc_backward(s, x, w, dy, dx.Data(), dw.Data());
  Napi::Object r = Napi::Object::New(env);
  r.Set("gradInput", dx);
  r.Set("gradWeight", dw);
  return r;
}

// opsSetThreads(n): the CPU threads of the op entry points (0 = all cores); returns the count.
Napi::Value OpsSetThreads(const Napi::CallbackInfo& info) {
  const int n = A::int32(info[0], "opsSetThreads: threads", 0, A::kMaxThreads);
  ops_backend_slot() = dsx::make_cpu_backend(n);
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
  const std::string kind = A::str(info[0], "opsBench: kind", 16);
  if (kind != "sgemm" && kind != "scc") A::type_error("opsBench: kind must be 'sgemm' or 'scc'");
  OpsArgs a{env, "opsBench(" + kind + ")", A::object(info[1], "opsBench: options"), Napi::Object::New(env)};
  dsx::Backend& be = ops_backend();
  const double min_s = a.attrs.Get("minSeconds").IsUndefined() ? 0.5 : A::number(a.attrs.Get("minSeconds"), a.attr("minSeconds"), 0, 600);
  Napi::Object r = Napi::Object::New(env);
  if (kind == "sgemm") {
    const int M = a.pos("M"), N = a.pos("N"), K = a.pos("K");
    const bool ta = a.num_or("transA", 0) != 0, tb = a.num_or("transB", 0) != 0;
    const size_t nA = a.size({M, K}, "A"), nB = a.size({K, N}, "B"), nC = a.size({M, N}, "C");
    auto A = ops_random(nA, 1), B = ops_random(nB, 2);
    std::vector<float> C(nC);
    auto ours = [&] { be.sgemm(ta, tb, M, N, K, 1.0f, A.data(), ta ? M : K, B.data(), tb ? K : N, 0.0f, C.data(), N); };
    Napi::Value lib = a.attrs.Get("openblas");
    if (!lib.IsString()) {
      r.Set("ours", ops_time(ours, min_s));
    } else {
      void* h = dlopen(lib.As<Napi::String>().Utf8Value().c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) ops_fail(a.op, std::string("cannot load OpenBLAS: ") + dlerror());
      auto gemm = reinterpret_cast<ops_cblas_sgemm_t>(dlsym(h, "cblas_sgemm"));
      auto set_threads = reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"));
      if (!gemm) ops_fail(a.op, "the OpenBLAS library has no cblas_sgemm");
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
    const dsx::SccShape s = ops_scc_shape(a.op, a.pos("N"), a.pos("Cin"), a.pos("H"), a.pos("W"),
                                          a.pos("Cout"), a.pos("groups"), a.pos("stride"));
    const size_t nx = a.size({s.N, s.Cin, s.H, s.W}, "x"), ny = a.size({s.N, s.Cout, s.H, s.W}, "y");
    const size_t nw = a.size({s.Cout, s.D()}, "w"), nd = a.size({s.Cout, s.Cin}, "dense weight");
    const int D = s.D();
    auto x = ops_random(nx, 3), dy = ops_random(ny, 4), w = ops_random(nw, 5);
    std::vector<float> y(ny), dx(nx), dw(w.size()), dense(nd, 0.0f),
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

// JS spec/recipe objects were validated by zod in TypeScript; these readers (on args.h) still
// refuse a missing field, a wrong type or an out-of-range value with a message naming it,
// instead of reading garbage, and bound every size before plan_net sums them.
// Layer attributes and tensor dimensions: positive (or, for paddings, non-negative) up to kMaxDim.
int net_int(const Napi::Object& o, const char* key, const std::string& where, int lo = 1) {
  return A::int_field(o, key, where, lo, kMaxDim);
}

dsx::TensorShape net_shape(const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) A::type_error(what + " must be [c,h,w]");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != 3) A::range_error(what + " must be [c,h,w]");
  dsx::TensorShape s;
  for (uint32_t i = 0; i < 3; ++i) s[i] = A::int32(a.Get(i), what + "[" + std::to_string(i) + "]", 1, kMaxDim);
  A::elements({s[0], s[1], s[2]}, what);
  return s;
}

constexpr uint32_t kMaxLayers = 100000;

dsx::NetSpec net_parse_spec(const Napi::Value& value) {
  Napi::Object o = A::object(value, "spec");
  dsx::NetSpec s;
  s.model = A::str_field_or(o, "model", "spec", "");
  s.input = net_shape(A::required(o, "inputShape", "spec"), "spec.inputShape");
  s.classes = net_int(o, "classes", "spec");
  Napi::Value tv = A::required(o, "tensors", "spec");
  if (!tv.IsArray()) A::type_error("spec.tensors must be an array");
  Napi::Array tensors = tv.As<Napi::Array>();
  if (tensors.Length() > kMaxLayers + 1) A::range_error("spec.tensors has more than " + std::to_string(kMaxLayers + 1) + " entries");
  for (uint32_t i = 0; i < tensors.Length(); ++i)
    s.tensors.push_back(net_shape(tensors.Get(i), "spec.tensors[" + std::to_string(i) + "]"));
  Napi::Value lv = A::required(o, "layers", "spec");
  if (!lv.IsArray()) A::type_error("spec.layers must be an array");
  Napi::Array layers = lv.As<Napi::Array>();
  if (layers.Length() > kMaxLayers) A::range_error("spec.layers has more than " + std::to_string(kMaxLayers) + " entries");
  for (uint32_t i = 0; i < layers.Length(); ++i) {
    const std::string at = "spec.layers[" + std::to_string(i) + "]";
    Napi::Object l = A::object(layers.Get(i), at);
    dsx::LayerSpec ls;
    ls.name = A::str_field_or(l, "name", at, "layer" + std::to_string(i));
    const std::string op = A::str_field_or(l, "op", at, "");
    Napi::Value iv = A::required(l, "inputs", at);
    if (!iv.IsArray()) A::type_error(at + ".inputs must be an array");
    Napi::Array ins = iv.As<Napi::Array>();
    if (ins.Length() > 2) A::range_error(at + ".inputs has more than 2 entries");
    for (uint32_t k = 0; k < ins.Length(); ++k) ls.inputs.push_back(A::int32(ins.Get(k), at + ".inputs[" + std::to_string(k) + "]", 0, kMaxDim));
    ls.output = net_int(l, "output", at, 0);
    if (op == "conv2d") {
      ls.op = dsx::LayerOp::Conv2d;
      ls.in_channels = net_int(l, "inChannels", at);
      ls.out_channels = net_int(l, "outChannels", at);
      ls.kernel = net_int(l, "kernel", at);
      ls.stride = net_int(l, "stride", at);
      ls.padding = net_int(l, "padding", at, 0);
      ls.groups = net_int(l, "groups", at);
      ls.bias = A::bool_field_or(l, "bias", at, false);
    } else if (op == "scc") {
      ls.op = dsx::LayerOp::Scc;
      ls.in_channels = net_int(l, "inChannels", at);
      ls.out_channels = net_int(l, "outChannels", at);
      ls.groups = net_int(l, "groups", at);
      ls.channel_stride = net_int(l, "channelStride", at);
    } else if (op == "batchnorm") {
      ls.op = dsx::LayerOp::BatchNorm;
      ls.channels = net_int(l, "channels", at);
    } else if (op == "relu") {
      ls.op = dsx::LayerOp::Relu;
    } else if (op == "maxpool") {
      ls.op = dsx::LayerOp::MaxPool;
      ls.kernel = net_int(l, "kernel", at);
      ls.stride = net_int(l, "stride", at);
      ls.padding = A::int_field_or(l, "padding", at, 0, kMaxDim, 0);
    } else if (op == "gap") {
      ls.op = dsx::LayerOp::Gap;
    } else if (op == "linear") {
      ls.op = dsx::LayerOp::Linear;
      ls.in_features = net_int(l, "inFeatures", at);
      ls.out_features = net_int(l, "outFeatures", at);
      ls.bias = A::bool_field_or(l, "bias", at, false);
    } else if (op == "shuffle") {
      ls.op = dsx::LayerOp::Shuffle;
      ls.groups = net_int(l, "groups", at);
    } else if (op == "add") {
      ls.op = dsx::LayerOp::Add;
    } else if (op == "shortcut_a") {
      ls.op = dsx::LayerOp::ShortcutA;
      ls.stride = net_int(l, "stride", at);
      ls.out_channels = net_int(l, "outChannels", at);
      ls.pad_front = net_int(l, "padFront", at, 0);
    } else {
      A::type_error("layer '" + ls.name + "': unknown op '" + op.substr(0, 40) +
                    "' (conv2d, scc, batchnorm, relu, maxpool, gap, linear, shuffle, add, shortcut_a)");
    }
    s.layers.push_back(std::move(ls));
  }
  return s;
}

// plan_net throws std::runtime_error for an inconsistent spec; guarded<> surfaces it as a JS Error.
dsx::NetPlan net_plan(const Napi::Value& spec) { return dsx::plan_net(net_parse_spec(spec)); }

dsx::Recipe net_parse_recipe(const Napi::Value& value) {
  Napi::Object o = A::object(value, "recipe");
  const std::string w = "recipe";
  constexpr double kBig = 1e30;
  dsx::Recipe r;
  r.epochs = A::int_field(o, "epochs", w, 1, 1000000);
  r.batch_size = A::int_field(o, "batchSize", w, 1, 65536);
  r.lr = A::num_field(o, "lr", w, 0, kBig);
  r.momentum = A::num_field(o, "momentum", w, 0, 1);
  r.nesterov = A::bool_field_or(o, "nesterov", w, false);
  r.weight_decay = A::num_field(o, "weightDecay", w, 0, kBig);
  r.decay_bn_and_bias = A::bool_field_or(o, "decayBnAndBias", w, false);
  r.warmup_epochs = A::num_field_or(o, "warmupEpochs", w, 0, 1000000, 0.0);
  r.seed = static_cast<uint64_t>(A::integer(A::required(o, "seed", w), "recipe.seed", 0, 1LL << 53));
  r.threads = A::int_field_or(o, "threads", w, 0, A::kMaxThreads, 0);
  Napi::Object sched = A::object(A::required(o, "schedule", w), "recipe.schedule");
  const std::string kind = A::str(A::required(sched, "kind", "recipe.schedule"), "recipe.schedule.kind", 16);
  if (kind == "constant") {
    r.schedule = dsx::Schedule::Constant;
  } else if (kind == "cosine") {
    r.schedule = dsx::Schedule::Cosine;
  } else if (kind == "step") {
    r.schedule = dsx::Schedule::Step;
    Napi::Value mv = A::required(sched, "milestones", "recipe.schedule");
    if (!mv.IsArray()) A::type_error("recipe.schedule.milestones must be an array");
    Napi::Array ms = mv.As<Napi::Array>();
    if (ms.Length() > 10000) A::range_error("recipe.schedule.milestones has more than 10000 entries");
    for (uint32_t i = 0; i < ms.Length(); ++i)
      r.milestones.push_back(A::number(ms.Get(i), "recipe.schedule.milestones[" + std::to_string(i) + "]", 0, 1000000));
    r.gamma = A::num_field(sched, "gamma", "recipe.schedule", 0, kBig);
  } else {
    A::range_error("recipe.schedule.kind must be constant, cosine or step, got '" + kind.substr(0, 40) + "'");
  }
  Napi::Value av = o.Get("augment");
  if (!av.IsUndefined() && !av.IsNull()) {
    Napi::Object a = A::object(av, "recipe.augment");
    r.crop_padding = A::int_field_or(a, "cropPadding", "recipe.augment", 0, 128, 0);
    r.flip = A::bool_field_or(a, "flip", "recipe.augment", false);
    r.resized_crop_scale = A::num_field_or(a, "resizedCropScale", "recipe.augment", 0, 1, 0);
  }
  return r;
}

// A dataset handed to a worker: the view plus references that keep the JS buffers alive.
struct NetData {
  dsx::DataView view;
  Napi::ObjectReference images, labels;
};

void net_parse_data(const Napi::Value& value, const char* what, NetData& d) {
  const std::string w(what);
  Napi::Object o = A::object(value, w);
  Napi::Uint8Array images = A::u8(A::required(o, "images", w), w + ".images");
  Napi::Uint8Array labels = A::u8(A::required(o, "labels", w), w + ".labels");
  const dsx::TensorShape shape = net_shape(A::required(o, "shape", w), w + ".shape");
  d.view.count = A::int_field(o, "count", w, 0, 0x7fffffff);
  d.view.C = shape[0];
  d.view.H = shape[1];
  d.view.W = shape[2];
  // the bytes already exist on the JS side, so no allocation cap: only an overflow-safe product
  const size_t need = A::elements({d.view.count, shape[0], shape[1], shape[2]}, w + ": count x shape", size_t(1) << 53);
  if (images.ElementLength() < need || labels.ElementLength() < static_cast<size_t>(d.view.count))
    A::range_error(w + ": images/labels are shorter than count x shape");
  for (const char* key : {"mean", "std"}) {
    Napi::Value v = A::required(o, key, w);
    if (!v.IsArray()) A::type_error(w + "." + key + " must be an array");
    Napi::Array a = v.As<Napi::Array>();
    if (a.Length() > 4096) A::range_error(w + "." + key + " has more than 4096 values");
    const bool is_std = std::string(key) == "std";
    auto& dst = is_std ? d.view.std : d.view.mean;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      const std::string at = w + "." + key + "[" + std::to_string(i) + "]";
      const double x = A::number(a.Get(i), at, is_std ? 1e-12 : -1e6, 1e6);
      dst.push_back(static_cast<float>(x));
    }
  }
  d.view.images = images.Data();
  d.view.labels = labels.Data();
  d.images = Napi::Persistent(images.As<Napi::Object>());
  d.labels = Napi::Persistent(labels.As<Napi::Object>());
}

// Labels index the logits: one past the class count would write outside them.
void net_check_labels(const NetData& d, int classes, const char* what) {
  for (int i = 0; i < d.view.count; ++i)
    if (d.view.labels[i] >= classes)
      A::range_error(std::string(what) + ".labels[" + std::to_string(i) + "] is " + std::to_string(d.view.labels[i]) +
                     ", the model has " + std::to_string(classes) + " classes");
}

// The images must be the model's input shape, with a mean and std per channel.
void net_check_shape(const NetData& d, const dsx::NetSpec& spec, const char* what) {
  auto str = [](int c, int h, int w) {
    return "[" + std::to_string(c) + "," + std::to_string(h) + "," + std::to_string(w) + "]";
  };
  if (d.view.C != spec.input[0] || d.view.H != spec.input[1] || d.view.W != spec.input[2])
    A::range_error(std::string(what) + " data images are " + str(d.view.C, d.view.H, d.view.W) +
                   " but the model expects " + str(spec.input[0], spec.input[1], spec.input[2]));
  if (d.view.mean.size() != static_cast<size_t>(d.view.C) || d.view.std.size() != static_cast<size_t>(d.view.C))
    A::range_error(std::string(what) + ".mean and .std must have one value per channel (" + std::to_string(d.view.C) + ")");
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

// What train() was given, parsed and checked before the worker exists: a progress worker
// whose constructor throws leaves its thread-safe function's finalizer pointing at freed
// memory (node-addon-api aborts the function in the destructor and finalizes later).
struct NetTrainArgs {
  dsx::NetSpec spec;
  dsx::Recipe recipe;
  NetData train, test;
  std::string device;
  dsx::TrainOptions options;
  Napi::FunctionReference on_progress;
};

void net_parse_train(const Napi::CallbackInfo& info, NetTrainArgs& a) {
  a.spec = net_parse_spec(info[0]);
  a.recipe = net_parse_recipe(info[1]);
  net_parse_data(info[2], "train", a.train);
  net_parse_data(info[3], "test", a.test);
  for (auto [d, what] : {std::pair<NetData*, const char*>{&a.train, "train"}, {&a.test, "test"}}) {
    net_check_shape(*d, a.spec, what);
    net_check_labels(*d, a.spec.classes, what);
  }
  if (a.train.view.count < 1) A::range_error("train: count must be >= 1");
  if (a.recipe.crop_padding >= std::min(a.train.view.H, a.train.view.W))
    A::range_error("recipe.augment.cropPadding must be smaller than the images");
  Napi::Object opt = info[4].IsUndefined() ? Napi::Object::New(info.Env()) : A::object(info[4], "options");
  a.device = A::device_field_or(opt, "device", "options", "auto");
  a.options.keep_state = A::bool_field_or(opt, "keepState", "options", false);
  a.options.eval_last_only = A::bool_field_or(opt, "evalLastOnly", "options", false);
  if (info[5].IsFunction())
    a.on_progress = Napi::Persistent(info[5].As<Napi::Function>());
  else if (!info[5].IsUndefined() && !info[5].IsNull())
    A::type_error("onProgress must be a function");
}

// A queue worker, not the coalescing AsyncProgressWorker: every report the trainer sends (at
// most ~4 a second plus one per epoch end) reaches JS, even when the main thread is busy.
class NetTrainWorker : public Napi::AsyncProgressQueueWorker<dsx::Progress> {
 public:
  NetTrainWorker(Napi::Env env, NetTrainArgs&& a)
      : Napi::AsyncProgressQueueWorker<dsx::Progress>(env, "dsxplore.train"),
        deferred_(Napi::Promise::Deferred::New(env)),
        spec_(std::move(a.spec)),
        recipe_(a.recipe),
        train_(std::move(a.train)),
        test_(std::move(a.test)),
        device_(std::move(a.device)),
        options_(a.options),
        on_progress_(std::move(a.on_progress)) {}
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
  NetTrainArgs args;
  net_parse_train(info, args);  // parse errors throw here, before any worker exists
  auto* w = new NetTrainWorker(info.Env(), std::move(args));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

class NetEvaluateWorker : public Napi::AsyncWorker {
 public:
  NetEvaluateWorker(Napi::Env env, const Napi::CallbackInfo& info)
      : Napi::AsyncWorker(env, "dsxplore.evaluate"), deferred_(Napi::Promise::Deferred::New(env)) {
    spec_ = net_parse_spec(info[0]);
    Napi::Float32Array st = A::f32(info[1], "state");
    net_parse_data(info[2], "data", data_);
    net_check_shape(data_, spec_, "data");
    net_check_labels(data_, spec_.classes, "data");
    Napi::Object opt = info[3].IsUndefined() ? Napi::Object::New(env) : A::object(info[3], "options");
    device_ = A::device_field_or(opt, "device", "options", "auto");
    threads_ = A::int_field_or(opt, "threads", "options", 0, A::kMaxThreads, 0);
    batch_ = A::int_field_or(opt, "batchSize", "options", 1, 65536, 256);
    // checked here, before the copy, against the plan (which the worker builds again)
    const size_t need = dsx::plan_net(spec_).state_size();
    if (st.ElementLength() != need)
      A::range_error("state has " + std::to_string(st.ElementLength()) + " values but this model needs " + std::to_string(need));
    state_.assign(st.Data(), st.Data() + st.ElementLength());
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
  return Napi::Number::New(info.Env(), static_cast<double>(net_plan(info[0]).params));
}

Napi::Value NetStateSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(net_plan(info[0]).state_size()));
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
  return net_layout_object(info.Env(), net_plan(info[0]));
}

// Synchronous and for small inputs only (tests): options {device, threads, seed, state?, train?}.
Napi::Value NetDebug(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dsx::NetSpec spec = net_parse_spec(info[0]);
  Napi::Object opt = A::object(info[1], "options");
  Napi::Float32Array images = A::f32(info[2], "images (already normalised)");
  Napi::Int32Array labels = A::i32(info[3], "labels");
  const size_t n_labels = labels.ElementLength();
  if (n_labels < 1 || n_labels > 65536) A::range_error("labels must hold 1..65536 values");
  const int n = static_cast<int>(n_labels);
  const size_t chw = A::elements({spec.input[0], spec.input[1], spec.input[2]}, "spec.inputShape");
  if (images.ElementLength() != A::elements({n, spec.input[0], spec.input[1], spec.input[2]}, "images"))
    A::range_error("images must hold labels.length x C x H x W values");
  for (int i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= spec.classes) A::range_error("labels[" + std::to_string(i) + "] is out of range");
  const std::string device = A::device_field_or(opt, "device", "options", "cpu");
  const int threads = A::int_field_or(opt, "threads", "options", 0, A::kMaxThreads, 0);
  const bool train = A::bool_field_or(opt, "train", "options", true);
  Napi::Value sv = opt.Get("state");
  const bool has_state = !sv.IsUndefined() && !sv.IsNull();
  Napi::Float32Array st = has_state ? A::f32(sv, "options.state") : Napi::Float32Array();
  const uint64_t seed = A::present(opt, "seed") ? static_cast<uint64_t>(A::integer(opt.Get("seed"), "options.seed", 0, 1LL << 53)) : 0;
  const size_t state_size = dsx::plan_net(spec).state_size();
  if (has_state && st.ElementLength() != state_size)
    A::range_error("options.state has " + std::to_string(st.ElementLength()) + " values, the model needs " + std::to_string(state_size));
  auto backend = net_make_backend(device, threads);
  dsx::Net net(spec, *backend, n);
  if (has_state)
    net.set_state(st.Data());
  else
    net.init(seed);
  backend->upload(net.input(), images.Data(), chw * n * sizeof(float));
  backend->upload(net.labels(), labels.Data(), n * sizeof(int32_t));
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

dsx::NetSpec dsx_addon::parse_spec(const Napi::Value& v) { return net_parse_spec(v); }
std::unique_ptr<dsx::Backend> dsx_addon::make_backend(const std::string& d, int t) { return net_make_backend(d, t); }

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  // OPS exports
  exports.Set("sccForward", Napi::Function::New(env, A::guarded<OpsSccForward>, "sccForward"));
  exports.Set("sccBackward", Napi::Function::New(env, A::guarded<OpsSccBackward>, "sccBackward"));
  exports.Set("runOp", Napi::Function::New(env, A::guarded<OpsRunOp>, "runOp"));
  exports.Set("opsSetThreads", Napi::Function::New(env, A::guarded<OpsSetThreads>, "opsSetThreads"));
  exports.Set("opsBench", Napi::Function::New(env, A::guarded<OpsBench>, "opsBench"));
  exports.Set("opsInfo", Napi::Function::New(env, A::guarded<OpsInfo>, "opsInfo"));
  // NET exports
  exports.Set("train", Napi::Function::New(env, A::guarded<NetTrain>, "train"));
  exports.Set("evaluate", Napi::Function::New(env, A::guarded<NetEvaluate>, "evaluate"));
  exports.Set("paramCount", Napi::Function::New(env, A::guarded<NetParamCount>, "paramCount"));
  exports.Set("stateSize", Napi::Function::New(env, A::guarded<NetStateSize>, "stateSize"));
  exports.Set("stateLayout", Napi::Function::New(env, A::guarded<NetStateLayout>, "stateLayout"));
  exports.Set("netDebug", Napi::Function::New(env, A::guarded<NetDebug>, "netDebug"));
  dsx_addon::register_infer(env, exports);  // INFER exports (addon_infer.cc)
  // DOCTOR exports
  exports.Set("buildInfo", Napi::Function::New(env, A::guarded<DoctorBuildInfo>, "buildInfo"));
  dsx::register_mapped_file(env, exports);  // mapped_file.cc: mapFile
  return exports;
}

NODE_API_MODULE(dsxplore, Init)
