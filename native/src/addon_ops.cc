// OPS section of the export table (addon.cc): single ops on caller-sized Float32Arrays, for
// the library API (sccForward, sccBackward), tests and benchmarks (runOp, opsSetThreads,
// opsInfo; opsBench is in addon_bench.cc).
// Synchronous: one op on caller-sized arrays. TypeScript (src/engine/ops.ts) validates the
// public API with zod; the readers (args.h) keep a bad direct call from touching memory it
// must not: every size is checked, every input is read before any output is allocated.
#include <napi.h>

#include <cstring>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "addon.h"
#include "addon_ops.h"
#include "args.h"
#include "backend.h"
#include "ops/gemm_cpu.h"

namespace dsx_addon {

namespace A = dsx::args;

namespace {

std::unique_ptr<dsx::Backend>& ops_backend_slot() {
  static std::unique_ptr<dsx::Backend> be;
  return be;
}
}  // namespace

dsx::Backend& ops_backend() {
  auto& be = ops_backend_slot();
  if (!be) be = dsx::make_cpu_backend(0);
  return *be;
}

[[noreturn]] void ops_fail(const std::string& op, const std::string& msg) { A::range_error(op + ": " + msg); }

dsx::SccShape ops_scc_shape(const std::string& op, int N, int Cin, int H, int W, int Cout, int groups,
                            int stride) {
  if (N < 1 || Cin < 1 || H < 1 || W < 1 || Cout < 1 || groups < 1)
    ops_fail(op, "batch, channels, height, width and groups must be positive");
  if (Cin % groups) ops_fail(op, "groups must divide inChannels");
  if (stride < 1 || stride > Cin / groups) ops_fail(op, "channelStride must be in [1, inChannels/groups]");
  return dsx::SccShape{N, Cin, H, W, Cout, groups, stride};
}

namespace {

// ---- runOp: one table row per op ----
// A row names the shape family that reads the op's attributes and sizes its tensors, the
// tensors it reads (in this order, all before any output is allocated), the outputs it
// writes, and the backend call. The outputs come back under their names.

// What a family reads from the attributes: the op's shape and every tensor's element count.
struct Sized {
  dsx::Conv2dShape conv{};
  dsx::SccShape scc{};
  dsx::PoolShape pool{};
  int N = 0, C = 0, HW = 0, M = 0, K = 0, In = 0, Out = 0, groups = 0;
  int Cin = 0, H = 0, W = 0, stride = 0, Cout = 0, pad_front = 0;
  float eps = 0;
  std::vector<std::pair<std::string, size_t>> sizes;

  void set(std::initializer_list<const char*> names, size_t n) {
    for (const char* k : names) sizes.emplace_back(k, n);
  }
  size_t of(const std::string& name) const {
    for (const auto& [k, n] : sizes)
      if (k == name) return n;
    throw std::logic_error("runOp table: no size for tensor '" + name + "'");
  }
};
using Family = Sized (*)(const OpsArgs&);

Sized sgemm_family(const OpsArgs& a) {
  Sized s;
  s.M = a.pos("M");
  s.N = a.pos("N");
  s.K = a.pos("K");
  s.set({"A"}, a.size({s.M, s.K}, "A"));
  s.set({"B"}, a.size({s.K, s.N}, "B"));
  s.set({"C"}, a.size({s.M, s.N}, "C"));
  return s;
}

Sized conv_family(const OpsArgs& a) {
  Sized s;
  dsx::Conv2dShape& c = s.conv;
  c = {a.pos("N"), a.pos("Cin"), a.pos("H"), a.pos("W"), a.pos("Cout"), a.pos("K"),
       a.pos("stride"), a.nonneg("pad"), a.pos("groups")};
  if (c.Cin % c.groups || c.Cout % c.groups) ops_fail(a.op, "groups must divide Cin and Cout");
  if (c.pad >= c.K || c.H + 2 * c.pad < c.K || c.W + 2 * c.pad < c.K)
    ops_fail(a.op, "kernel does not fit the padded input (or pad >= K)");
  s.set({"x", "dx"}, a.size({c.N, c.Cin, c.H, c.W}, "x"));
  s.set({"w", "dw"}, a.size({c.Cout, c.Cin / c.groups, c.K, c.K}, "w"));
  s.set({"y", "dy"}, a.size({c.N, c.Cout, c.Ho(), c.Wo()}, "y"));
  s.set({"bias", "dbias"}, static_cast<size_t>(c.Cout));
  return s;
}

Sized scc_family(const OpsArgs& a) {
  Sized s;
  const dsx::SccShape& c = s.scc = ops_scc_shape(a.op, a.pos("N"), a.pos("Cin"), a.pos("H"),
                                                 a.pos("W"), a.pos("Cout"), a.pos("groups"),
                                                 a.pos("stride"));
  s.set({"x", "dx"}, a.size({c.N, c.Cin, c.H, c.W}, "x"));
  s.set({"y", "dy"}, a.size({c.N, c.Cout, c.H, c.W}, "y"));
  s.set({"w", "dw"}, a.size({c.Cout, c.D()}, "w"));
  return s;
}

// N, C, HW: the attributes of the per-channel ops (batch norm, pooling, shuffle)
Sized per_channel(const OpsArgs& a) {
  Sized s;
  s.N = a.pos("N");
  s.C = a.pos("C");
  s.HW = a.pos("HW");
  return s;
}

Sized bn_family(const OpsArgs& a) {
  Sized s = per_channel(a);
  s.set({"x", "y", "dy", "dx"}, a.size({s.N, s.C, s.HW}, "x"));
  s.set({"gamma", "beta", "runningMean", "runningVar", "saveMean", "saveInvstd", "dgamma", "dbeta"},
        static_cast<size_t>(s.C));
  s.eps = static_cast<float>(a.num_or("eps", 1e-5));
  return s;
}

// Elementwise ops: n values per tensor.
Sized elementwise_family(const OpsArgs& a) {
  Sized s;
  s.set({"x", "y", "dy", "dx", "a", "b", "da", "db", "g", "p", "m"},
        static_cast<size_t>(a.nonneg("n", static_cast<int>(A::kMaxElements))));
  return s;
}

Sized pool_family(const OpsArgs& a) {
  Sized s;
  dsx::PoolShape& p = s.pool;
  p = {a.pos("N"), a.pos("C"), a.pos("H"), a.pos("W"), a.pos("K"), a.pos("stride"), a.nonneg("pad")};
  if (p.pad >= p.K || p.H + 2 * p.pad < p.K || p.W + 2 * p.pad < p.K)
    ops_fail(a.op, "window does not fit the padded input (or pad >= K)");
  s.set({"x", "dx"}, a.size({p.N, p.C, p.H, p.W}, "x"));
  s.set({"y", "dy"}, a.size({p.N, p.C, p.Ho(), p.Wo()}, "y"));
  return s;
}

Sized gap_family(const OpsArgs& a) {
  Sized s = per_channel(a);
  s.set({"x", "dx"}, a.size({s.N, s.C, s.HW}, "x"));
  s.set({"y", "dy"}, a.size({s.N, s.C}, "y"));
  return s;
}

Sized linear_family(const OpsArgs& a) {
  Sized s;
  s.N = a.pos("N");
  s.In = a.pos("In");
  s.Out = a.pos("Out");
  s.set({"x", "dx"}, a.size({s.N, s.In}, "x"));
  s.set({"w", "dw"}, a.size({s.Out, s.In}, "w"));
  s.set({"y", "dy"}, a.size({s.N, s.Out}, "y"));
  s.set({"bias", "dbias"}, static_cast<size_t>(s.Out));
  return s;
}

Sized shuffle_family(const OpsArgs& a) {
  Sized s = per_channel(a);
  s.groups = a.pos("groups");
  if (s.C % s.groups) ops_fail(a.op, "groups must divide C");
  s.set({"x", "y", "dy", "dx"}, a.size({s.N, s.C, s.HW}, "x"));
  return s;
}

Sized shortcut_family(const OpsArgs& a) {
  Sized s;
  s.N = a.pos("N");
  s.Cin = a.pos("Cin");
  s.H = a.pos("H");
  s.W = a.pos("W");
  s.stride = a.pos("stride");
  s.Cout = a.pos("Cout");
  s.pad_front = a.nonneg("padFront");
  // the input channels land at [padFront, padFront + Cin) of the output
  if (s.pad_front + s.Cin > s.Cout) ops_fail(a.op, "needs padFront + Cin <= Cout");
  const int Ho = (s.H + s.stride - 1) / s.stride, Wo = (s.W + s.stride - 1) / s.stride;
  s.set({"x", "dx"}, a.size({s.N, s.Cin, s.H, s.W}, "x"));
  s.set({"y", "dy"}, a.size({s.N, s.Cout, Ho, Wo}, "y"));
  return s;
}

Sized softmax_family(const OpsArgs& a) {
  Sized s;
  s.N = a.pos("N");
  s.K = a.pos("K");
  s.set({"logits", "dlogits"}, a.size({s.N, s.K}, "logits"));
  return s;
}

// How an output array starts: fresh (contents unspecified until the op writes it) or a copy
// of the tensor of that name when given, zeros otherwise (so "adds into" can be tested);
// kSkippable outputs are not computed (null to the backend) when attrs.skip names them.
enum OutKind { kFresh, kCopy, kSkippable };
struct Output {
  const char* name;
  OutKind kind;
};

// One call in progress: the attributes, the sized family, the inputs and outputs by name.
// attrs.overwrite, a bit mask over input gradients: the backward overwrites them instead of
// adding into them, as the executor asks for a gradient's first contribution (ow0, ow1).
struct OpCall {
  const OpsArgs& a;
  dsx::Backend& be;
  const Sized& s;
  Napi::Object& r;
  bool ow0, ow1;
  std::vector<std::pair<const char*, const float*>> ins;
  std::vector<std::pair<const char*, Napi::Float32Array>> outs;
  std::vector<const char*> skipped;

  const float* in(const char* name) const {
    for (const auto& [k, p] : ins)
      if (!std::strcmp(k, name)) return p;
    throw std::logic_error(std::string("runOp table: no input '") + name + "'");
  }
  float* out(const char* name) {
    for (const char* k : skipped)
      if (!std::strcmp(k, name)) return nullptr;
    for (auto& [k, t] : outs)
      if (!std::strcmp(k, name)) return t.Data();
    throw std::logic_error(std::string("runOp table: no output '") + name + "'");
  }
  bool flag(const char* key) const { return a.num_or(key, 0) != 0; }
};

struct OpRow {
  Family family;
  std::vector<const char*> inputs;  // required
  std::vector<const char*> optional;  // null to the backend when absent
  std::vector<Output> outputs;
  void (*call)(OpCall&);
};

// softmax_xent (with dlogits) and softmax_xent_eval (loss and count only)
template <bool kTrain>
void softmax_xent_call(OpCall& c) {
  const int N = c.s.N, K = c.s.K;
  Napi::Int32Array labels = A::i32(c.a.tensors.Get("labels"), c.a.tensor("labels"), static_cast<size_t>(N));
  for (int i = 0; i < N; ++i)
    if (labels[i] < 0 || labels[i] >= K) ops_fail(c.a.op, "labels must be in [0, K)");
  double loss = 0;
  int correct = 0;
  if (kTrain) {  // dlogits made here, after the labels (an input) are read
    const float scale = static_cast<float>(c.a.num_or("gradScale", 1.0 / N));
    Napi::Float32Array d = c.a.fresh("dlogits", c.s.of("dlogits"));
    c.be.softmax_xent(N, K, c.in("logits"), labels.Data(), scale, d.Data(), &loss, &correct);
    c.r.Set("dlogits", d);
  } else {
    c.be.softmax_xent_eval(N, K, c.in("logits"), labels.Data(), &loss, &correct);
  }
  c.r.Set("lossSum", loss);
  c.r.Set("correct", correct);
}

// The names src/engine/ops.ts may pass to runOp.
const std::unordered_map<std::string, OpRow>& op_table() {
  static const std::unordered_map<std::string, OpRow> table = {
      {"sgemm", {sgemm_family, {"A", "B"}, {}, {{"C", kCopy}}, [](OpCall& c) {
         const bool ta = c.flag("transA"), tb = c.flag("transB");
         const auto& s = c.s;
         c.be.sgemm(ta, tb, s.M, s.N, s.K, static_cast<float>(c.a.num_or("alpha", 1)), c.in("A"),
                    ta ? s.M : s.K, c.in("B"), tb ? s.K : s.N,
                    static_cast<float>(c.a.num_or("beta", 0)), c.out("C"), s.N);
       }}},
      {"conv2d_forward", {conv_family, {"x", "w"}, {"bias"}, {{"y", kFresh}}, [](OpCall& c) {
         c.be.conv2d_forward(c.s.conv, c.in("x"), c.in("w"), c.in("bias"), c.out("y"));
       }}},
      {"conv2d_backward", {conv_family, {"x", "w", "dy"}, {}, {{"dx", kSkippable}, {"dw", kSkippable}, {"dbias", kCopy}},
       [](OpCall& c) {
         c.be.conv2d_backward(c.s.conv, c.in("x"), c.in("w"), c.in("dy"), c.out("dx"), c.out("dw"),
                              c.flag("bias") ? c.out("dbias") : nullptr, c.ow0);
       }}},
      {"scc_forward", {scc_family, {"x", "w"}, {}, {{"y", kFresh}}, [](OpCall& c) {
         c.be.scc_forward(c.s.scc, c.in("x"), c.in("w"), c.out("y"));
       }}},
      {"scc_backward", {scc_family, {"x", "w", "dy"}, {}, {{"dx", kSkippable}, {"dw", kSkippable}}, [](OpCall& c) {
         c.be.scc_backward(c.s.scc, c.in("x"), c.in("w"), c.in("dy"), c.out("dx"), c.out("dw"), c.ow0);
       }}},
      {"batchnorm_train",
       {bn_family, {"x", "gamma", "beta"}, {},
        {{"runningMean", kCopy}, {"runningVar", kCopy}, {"y", kFresh}, {"saveMean", kFresh}, {"saveInvstd", kFresh}},
        [](OpCall& c) {
          c.be.batchnorm_forward_train(c.s.N, c.s.C, c.s.HW, c.in("x"), c.in("gamma"), c.in("beta"), c.out("y"),
                                       c.out("saveMean"), c.out("saveInvstd"), c.out("runningMean"),
                                       c.out("runningVar"), static_cast<float>(c.a.num_or("momentum", 0.1)), c.s.eps);
        }}},
      {"batchnorm_eval",
       {bn_family, {"x", "gamma", "beta", "runningMean", "runningVar"}, {}, {{"y", kFresh}}, [](OpCall& c) {
          c.be.batchnorm_forward_eval(c.s.N, c.s.C, c.s.HW, c.in("x"), c.in("gamma"), c.in("beta"),
                                      c.in("runningMean"), c.in("runningVar"), c.s.eps, c.out("y"));
        }}},
      {"batchnorm_backward",
       {bn_family, {"x", "gamma", "saveMean", "saveInvstd", "dy"}, {},
        {{"dx", kSkippable}, {"dgamma", kSkippable}, {"dbeta", kSkippable}}, [](OpCall& c) {
          c.be.batchnorm_backward(c.s.N, c.s.C, c.s.HW, c.in("x"), c.in("gamma"), c.in("saveMean"),
                                  c.in("saveInvstd"), c.in("dy"), c.out("dx"), c.out("dgamma"), c.out("dbeta"),
                                  c.ow0);
        }}},
      {"relu_forward", {elementwise_family, {"x"}, {}, {{"y", kFresh}}, [](OpCall& c) {
         c.be.relu_forward(c.s.of("x"), c.in("x"), c.out("y"));
       }}},
      {"relu_backward", {elementwise_family, {"y", "dy"}, {}, {{"dx", kCopy}}, [](OpCall& c) {
         c.be.relu_backward(c.s.of("x"), c.in("y"), c.in("dy"), c.out("dx"), c.ow0);
       }}},
      {"add_forward", {elementwise_family, {"a", "b"}, {}, {{"y", kFresh}}, [](OpCall& c) {
         c.be.add_forward(c.s.of("x"), c.in("a"), c.in("b"), c.out("y"));
       }}},
      {"add_backward", {elementwise_family, {"dy"}, {}, {{"da", kSkippable}, {"db", kSkippable}}, [](OpCall& c) {
         c.be.add_backward(c.s.of("x"), c.in("dy"), c.out("da"), c.out("db"), c.ow0, c.ow1);
       }}},
      {"all_finite", {elementwise_family, {"x"}, {}, {}, [](OpCall& c) {
         c.r.Set("finite", Napi::Boolean::New(c.a.env, c.be.all_finite(c.s.of("x"), c.in("x"))));
       }}},
      {"maxpool_forward", {pool_family, {"x"}, {}, {{"y", kFresh}}, [](OpCall& c) {
         c.be.maxpool_forward(c.s.pool, c.in("x"), c.out("y"));
       }}},
      {"maxpool_backward", {pool_family, {"x", "dy"}, {}, {{"dx", kCopy}}, [](OpCall& c) {
         c.be.maxpool_backward(c.s.pool, c.in("x"), c.in("dy"), c.out("dx"), c.ow0);
       }}},
      {"gap_forward", {gap_family, {"x"}, {}, {{"y", kFresh}}, [](OpCall& c) {
         c.be.gap_forward(c.s.N, c.s.C, c.s.HW, c.in("x"), c.out("y"));
       }}},
      {"gap_backward", {gap_family, {"dy"}, {}, {{"dx", kCopy}}, [](OpCall& c) {
         c.be.gap_backward(c.s.N, c.s.C, c.s.HW, c.in("dy"), c.out("dx"));
       }}},
      {"linear_forward", {linear_family, {"x", "w"}, {"bias"}, {{"y", kFresh}}, [](OpCall& c) {
         c.be.linear_forward(c.s.N, c.s.In, c.s.Out, c.in("x"), c.in("w"), c.in("bias"), c.out("y"));
       }}},
      {"linear_backward",
       {linear_family, {"x", "w", "dy"}, {}, {{"dx", kSkippable}, {"dw", kSkippable}, {"dbias", kCopy}},
        [](OpCall& c) {
          c.be.linear_backward(c.s.N, c.s.In, c.s.Out, c.in("x"), c.in("w"), c.in("dy"), c.out("dx"), c.out("dw"),
                               c.flag("bias") ? c.out("dbias") : nullptr);
        }}},
      {"shuffle_forward", {shuffle_family, {"x"}, {}, {{"y", kFresh}}, [](OpCall& c) {
         c.be.shuffle_forward(c.s.N, c.s.C, c.s.HW, c.s.groups, c.in("x"), c.out("y"));
       }}},
      {"shuffle_backward", {shuffle_family, {"dy"}, {}, {{"dx", kFresh}}, [](OpCall& c) {
         c.be.shuffle_backward(c.s.N, c.s.C, c.s.HW, c.s.groups, c.in("dy"), c.out("dx"));
       }}},
      {"shortcut_a_forward", {shortcut_family, {"x"}, {}, {{"y", kFresh}}, [](OpCall& c) {
         const Sized& s = c.s;
         c.be.shortcut_a_forward(s.N, s.Cin, s.H, s.W, s.stride, s.Cout, s.pad_front, c.in("x"), c.out("y"));
       }}},
      {"shortcut_a_backward", {shortcut_family, {"dy"}, {}, {{"dx", kCopy}}, [](OpCall& c) {
         const Sized& s = c.s;
         c.be.shortcut_a_backward(s.N, s.Cin, s.H, s.W, s.stride, s.Cout, s.pad_front, c.in("dy"), c.out("dx"));
       }}},
      {"softmax_xent", {softmax_family, {"logits"}, {}, {}, softmax_xent_call<true>}},
      {"softmax_xent_eval", {softmax_family, {"logits"}, {}, {}, softmax_xent_call<false>}},
      {"sgd_step", {elementwise_family, {"g"}, {}, {{"p", kCopy}, {"m", kCopy}}, [](OpCall& c) {
         c.be.sgd_step(c.s.of("x"), c.out("p"), c.in("g"), c.out("m"), static_cast<float>(c.a.num("lr")),
                       static_cast<float>(c.a.num_or("momentum", 0)), static_cast<float>(c.a.num_or("wd", 0)),
                       c.flag("nesterov"));
       }}},
  };
  return table;
}

// Reads the inputs (all before any output exists), makes the outputs, calls the backend and
// returns the outputs by name.
void run_row(const OpRow& row, OpCall& c) {
  for (const char* k : row.inputs) c.ins.emplace_back(k, c.a.in(k, c.s.of(k)));
  for (const char* k : row.optional) c.ins.emplace_back(k, c.a.opt_in(k, c.s.of(k)));
  for (const Output& o : row.outputs) {
    const size_t n = c.s.of(o.name);
    c.outs.emplace_back(o.name, o.kind == kFresh ? c.a.fresh(o.name, n) : c.a.out(o.name, n));
    if (o.kind == kSkippable && c.a.skip(o.name)) c.skipped.push_back(o.name);
  }
  row.call(c);
  for (auto& [k, t] : c.outs) c.r.Set(k, t);
}

}  // namespace

// runOp(name, attrs, tensors) -> { outputs }: every Backend op, forward and backward, on
// Float32Arrays. For tests and benchmarks; see src/engine/ops.ts for names and fields.
Napi::Value OpsRunOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpsArgs a{env, A::str(info[0], "runOp: name", 64),
            info[1].IsUndefined() ? Napi::Object::New(env) : A::object(info[1], "runOp: attrs"),
            info[2].IsUndefined() ? Napi::Object::New(env) : A::object(info[2], "runOp: tensors")};
  dsx::Backend& be = ops_backend();
  Napi::Object r = Napi::Object::New(env);
  const unsigned overwrite = a.attrs.Get("overwrite").IsUndefined() ? 0u : static_cast<unsigned>(a.nonneg("overwrite", 3));
  const auto& table = op_table();
  const auto it = table.find(a.op);
  if (it == table.end()) A::type_error("runOp: unknown op '" + a.op + "'");
  const Sized sized = it->second.family(a);
  OpCall call{a, be, sized, r, (overwrite & 1) != 0, (overwrite & 2) != 0, {}, {}, {}};
  run_row(it->second, call);
  return r;
}

namespace {

// The SCC library API: sccForward(x, w, shape) and sccBackward(x, w, dy, shape), shape =
// {batch, inChannels, height, width, outChannels, groups, channelStride}.
dsx::SccShape ops_api_shape(const Napi::Value& v, const char* fn) {
  Napi::Object o = A::object(v, std::string(fn) + ": shape");
  const std::string where = std::string(fn) + ": shape";
  auto field = [&](const char* k) { return A::int_field(o, k, where, 1, kMaxDim); };
  return ops_scc_shape(fn, field("batch"), field("inChannels"), field("height"), field("width"),
                       field("outChannels"), field("groups"), field("channelStride"));
}

}  // namespace

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

Napi::Value OpsInfo(const Napi::CallbackInfo& info) {
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("sgemmKernel", dsx::sgemm_kernel_name());
  r.Set("threads", ops_backend().threads());
  return r;
}

}  // namespace dsx_addon
