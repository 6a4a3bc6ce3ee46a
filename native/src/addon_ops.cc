// OPS section of the export table (addon.cc): single ops on caller-sized Float32Arrays, for
// the library API (sccForward, sccBackward), tests and benchmarks (runOp, opsSetThreads,
// opsInfo; opsBench is in addon_bench.cc).
// Synchronous: one op on caller-sized arrays. TypeScript (src/engine/ops.ts) validates the
// public API with zod; the readers (args.h) keep a bad direct call from touching memory it
// must not: every size is checked, every input is read before any output is allocated.
#include <napi.h>

#include <memory>
#include <string>
#include <unordered_map>

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

dsx::Conv2dShape ops_conv_shape(const OpsArgs& a) {
  dsx::Conv2dShape s{a.pos("N"), a.pos("Cin"), a.pos("H"), a.pos("W"), a.pos("Cout"), a.pos("K"),
                     a.pos("stride"), a.nonneg("pad"), a.pos("groups")};
  if (s.Cin % s.groups || s.Cout % s.groups) ops_fail(a.op, "groups must divide Cin and Cout");
  if (s.pad >= s.K || s.H + 2 * s.pad < s.K || s.W + 2 * s.pad < s.K)
    ops_fail(a.op, "kernel does not fit the padded input (or pad >= K)");
  return s;
}

dsx::PoolShape ops_pool_shape(const OpsArgs& a) {
  dsx::PoolShape s{a.pos("N"), a.pos("C"), a.pos("H"), a.pos("W"), a.pos("K"), a.pos("stride"),
                   a.nonneg("pad")};
  if (s.pad >= s.K || s.H + 2 * s.pad < s.K || s.W + 2 * s.pad < s.K)
    ops_fail(a.op, "window does not fit the padded input (or pad >= K)");
  return s;
}

// ---- runOp: one handler per op name ----
// attrs.overwrite, a bit mask over input gradients: the backward overwrites them instead of
// adding into them, as the executor asks for a gradient's first contribution.
struct OpCall {
  const OpsArgs& a;
  dsx::Backend& be;
  Napi::Object& r;
  bool ow0, ow1;
};
using OpHandler = void (*)(const OpCall&);

float* data(Napi::Float32Array& t) { return t.Data(); }

void op_sgemm(const OpCall& c) {
  const OpsArgs& a = c.a;
  const bool ta = a.num_or("transA", 0) != 0, tb = a.num_or("transB", 0) != 0;
  const int M = a.pos("M"), N = a.pos("N"), K = a.pos("K");
  const float alpha = static_cast<float>(a.num_or("alpha", 1)), beta = static_cast<float>(a.num_or("beta", 0));
  const float* A_ = a.in("A", a.size({M, K}, "A"));
  const float* B = a.in("B", a.size({K, N}, "B"));
  Napi::Float32Array C = a.out("C", a.size({M, N}, "C"));
  c.be.sgemm(ta, tb, M, N, K, alpha, A_, ta ? M : K, B, tb ? K : N, beta, data(C), N);
  c.r.Set("C", C);
}

// The shape and the tensors both directions of a conv read, in the order they are checked.
struct ConvIO {
  dsx::Conv2dShape s;
  size_t nx, nw, ny;
  const float *x, *w;
};
ConvIO conv_io(const OpsArgs& a) {
  ConvIO io;
  io.s = ops_conv_shape(a);
  const dsx::Conv2dShape& s = io.s;
  io.nx = a.size({s.N, s.Cin, s.H, s.W}, "x");
  io.nw = a.size({s.Cout, s.Cin / s.groups, s.K, s.K}, "w");
  io.ny = a.size({s.N, s.Cout, s.Ho(), s.Wo()}, "y");
  io.x = a.in("x", io.nx);
  io.w = a.in("w", io.nw);
  return io;
}

void op_conv2d_forward(const OpCall& c) {
  const ConvIO io = conv_io(c.a);
  const float* bias = c.a.opt_in("bias", io.s.Cout);
  Napi::Float32Array y = c.a.fresh("y", io.ny);
  c.be.conv2d_forward(io.s, io.x, io.w, bias, data(y));
  c.r.Set("y", y);
}

void op_conv2d_backward(const OpCall& c) {
  const OpsArgs& a = c.a;
  const ConvIO io = conv_io(a);
  const float* dy = a.in("dy", io.ny);
  const bool bias = a.num_or("bias", 0) != 0;
  Napi::Float32Array dx = a.out("dx", io.nx), dw = a.out("dw", io.nw), db = a.out("dbias", io.s.Cout);
  c.be.conv2d_backward(io.s, io.x, io.w, dy, a.skip("dx") ? nullptr : data(dx), a.skip("dw") ? nullptr : data(dw),
                       bias ? data(db) : nullptr, c.ow0);
  c.r.Set("dx", dx);
  c.r.Set("dw", dw);
  c.r.Set("dbias", db);
}

struct SccIO {
  dsx::SccShape s;
  size_t nx, ny, nw;
  const float *x, *w;
};
SccIO scc_io(const OpsArgs& a) {
  SccIO io;
  io.s = ops_scc_shape(a.op, a.pos("N"), a.pos("Cin"), a.pos("H"), a.pos("W"), a.pos("Cout"),
                       a.pos("groups"), a.pos("stride"));
  const dsx::SccShape& s = io.s;
  io.nx = a.size({s.N, s.Cin, s.H, s.W}, "x");
  io.ny = a.size({s.N, s.Cout, s.H, s.W}, "y");
  io.nw = a.size({s.Cout, s.D()}, "w");
  io.x = a.in("x", io.nx);
  io.w = a.in("w", io.nw);
  return io;
}

void op_scc_forward(const OpCall& c) {
  const SccIO io = scc_io(c.a);
  Napi::Float32Array y = c.a.fresh("y", io.ny);
  c.be.scc_forward(io.s, io.x, io.w, data(y));
  c.r.Set("y", y);
}

void op_scc_backward(const OpCall& c) {
  const OpsArgs& a = c.a;
  const SccIO io = scc_io(a);
  const float* dy = a.in("dy", io.ny);
  Napi::Float32Array dx = a.out("dx", io.nx), dw = a.out("dw", io.nw);
  c.be.scc_backward(io.s, io.x, io.w, dy, a.skip("dx") ? nullptr : data(dx), a.skip("dw") ? nullptr : data(dw),
                    c.ow0);
  c.r.Set("dx", dx);
  c.r.Set("dw", dw);
}

struct BnIO {
  int N, C, HW;
  size_t n;
  const float *x, *gamma;
  float eps;
};
BnIO bn_io(const OpsArgs& a) {
  BnIO io;
  io.N = a.pos("N");
  io.C = a.pos("C");
  io.HW = a.pos("HW");
  io.n = a.size({io.N, io.C, io.HW}, "x");
  io.x = a.in("x", io.n);
  io.gamma = a.in("gamma", io.C);
  io.eps = static_cast<float>(a.num_or("eps", 1e-5));
  return io;
}

void op_batchnorm_train(const OpCall& c) {
  const OpsArgs& a = c.a;
  const BnIO io = bn_io(a);
  const int C = io.C;
  const float* beta = a.in("beta", C);
  const float momentum = static_cast<float>(a.num_or("momentum", 0.1));
  Napi::Float32Array rm = a.out("runningMean", C), rv = a.out("runningVar", C);
  Napi::Float32Array y = a.fresh("y", io.n), sm = a.fresh("saveMean", C), si = a.fresh("saveInvstd", C);
  c.be.batchnorm_forward_train(io.N, C, io.HW, io.x, io.gamma, beta, data(y), data(sm), data(si), data(rm),
                               data(rv), momentum, io.eps);
  c.r.Set("y", y);
  c.r.Set("saveMean", sm);
  c.r.Set("saveInvstd", si);
  c.r.Set("runningMean", rm);
  c.r.Set("runningVar", rv);
}

void op_batchnorm_eval(const OpCall& c) {
  const OpsArgs& a = c.a;
  const BnIO io = bn_io(a);
  const int C = io.C;
  const float *beta = a.in("beta", C), *mean = a.in("runningMean", C), *var = a.in("runningVar", C);
  Napi::Float32Array y = a.fresh("y", io.n);
  c.be.batchnorm_forward_eval(io.N, C, io.HW, io.x, io.gamma, beta, mean, var, io.eps, data(y));
  c.r.Set("y", y);
}

void op_batchnorm_backward(const OpCall& c) {
  const OpsArgs& a = c.a;
  const BnIO io = bn_io(a);
  const int C = io.C;
  const float *mean = a.in("saveMean", C), *invstd = a.in("saveInvstd", C), *dy = a.in("dy", io.n);
  Napi::Float32Array dx = a.out("dx", io.n), dg = a.out("dgamma", C), db = a.out("dbeta", C);
  c.be.batchnorm_backward(io.N, C, io.HW, io.x, io.gamma, mean, invstd, dy, a.skip("dx") ? nullptr : data(dx),
                          a.skip("dgamma") ? nullptr : data(dg), a.skip("dbeta") ? nullptr : data(db), c.ow0);
  c.r.Set("dx", dx);
  c.r.Set("dgamma", dg);
  c.r.Set("dbeta", db);
}

// Elementwise ops: n values per tensor.
size_t elementwise_n(const OpsArgs& a) {
  return static_cast<size_t>(a.nonneg("n", static_cast<int>(A::kMaxElements)));
}

void op_relu_forward(const OpCall& c) {
  const size_t n = elementwise_n(c.a);
  const float* x = c.a.in("x", n);
  Napi::Float32Array y = c.a.fresh("y", n);
  c.be.relu_forward(n, x, data(y));
  c.r.Set("y", y);
}

void op_relu_backward(const OpCall& c) {
  const size_t n = elementwise_n(c.a);
  const float *y = c.a.in("y", n), *dy = c.a.in("dy", n);
  Napi::Float32Array dx = c.a.out("dx", n);
  c.be.relu_backward(n, y, dy, data(dx), c.ow0);
  c.r.Set("dx", dx);
}

void op_add_forward(const OpCall& c) {
  const size_t n = elementwise_n(c.a);
  const float *x = c.a.in("a", n), *y2 = c.a.in("b", n);
  Napi::Float32Array y = c.a.fresh("y", n);
  c.be.add_forward(n, x, y2, data(y));
  c.r.Set("y", y);
}

void op_add_backward(const OpCall& c) {
  const OpsArgs& a = c.a;
  const size_t n = elementwise_n(a);
  const float* dy = a.in("dy", n);
  Napi::Float32Array da = a.out("da", n), db = a.out("db", n);
  c.be.add_backward(n, dy, a.skip("da") ? nullptr : data(da), a.skip("db") ? nullptr : data(db), c.ow0, c.ow1);
  c.r.Set("da", da);
  c.r.Set("db", db);
}

void op_all_finite(const OpCall& c) {
  const size_t n = elementwise_n(c.a);
  c.r.Set("finite", Napi::Boolean::New(c.a.env, c.be.all_finite(n, c.a.in("x", n))));
}

struct PoolIO {
  dsx::PoolShape s;
  size_t nx, ny;
  const float* x;
};
PoolIO pool_io(const OpsArgs& a) {
  PoolIO io;
  io.s = ops_pool_shape(a);
  io.nx = a.size({io.s.N, io.s.C, io.s.H, io.s.W}, "x");
  io.ny = a.size({io.s.N, io.s.C, io.s.Ho(), io.s.Wo()}, "y");
  io.x = a.in("x", io.nx);
  return io;
}

void op_maxpool_forward(const OpCall& c) {
  const PoolIO io = pool_io(c.a);
  Napi::Float32Array y = c.a.fresh("y", io.ny);
  c.be.maxpool_forward(io.s, io.x, data(y));
  c.r.Set("y", y);
}

void op_maxpool_backward(const OpCall& c) {
  const PoolIO io = pool_io(c.a);
  const float* dy = c.a.in("dy", io.ny);
  Napi::Float32Array dx = c.a.out("dx", io.nx);
  c.be.maxpool_backward(io.s, io.x, dy, data(dx), c.ow0);
  c.r.Set("dx", dx);
}

struct GapIO {
  int N, C, HW;
  size_t nx, ny;
};
GapIO gap_io(const OpsArgs& a) {
  GapIO io;
  io.N = a.pos("N");
  io.C = a.pos("C");
  io.HW = a.pos("HW");
  io.nx = a.size({io.N, io.C, io.HW}, "x");
  io.ny = a.size({io.N, io.C}, "y");
  return io;
}

void op_gap_forward(const OpCall& c) {
  const GapIO io = gap_io(c.a);
  const float* x = c.a.in("x", io.nx);
  Napi::Float32Array y = c.a.fresh("y", io.ny);
  c.be.gap_forward(io.N, io.C, io.HW, x, data(y));
  c.r.Set("y", y);
}

void op_gap_backward(const OpCall& c) {
  const GapIO io = gap_io(c.a);
  const float* dy = c.a.in("dy", io.ny);
  Napi::Float32Array dx = c.a.out("dx", io.nx);
  c.be.gap_backward(io.N, io.C, io.HW, dy, data(dx));
  c.r.Set("dx", dx);
}

struct LinearIO {
  int N, In, Out;
  size_t nx, nw, ny;
  const float *x, *w;
};
LinearIO linear_io(const OpsArgs& a) {
  LinearIO io;
  io.N = a.pos("N");
  io.In = a.pos("In");
  io.Out = a.pos("Out");
  io.nx = a.size({io.N, io.In}, "x");
  io.nw = a.size({io.Out, io.In}, "w");
  io.ny = a.size({io.N, io.Out}, "y");
  io.x = a.in("x", io.nx);
  io.w = a.in("w", io.nw);
  return io;
}

void op_linear_forward(const OpCall& c) {
  const LinearIO io = linear_io(c.a);
  const float* bias = c.a.opt_in("bias", io.Out);
  Napi::Float32Array y = c.a.fresh("y", io.ny);
  c.be.linear_forward(io.N, io.In, io.Out, io.x, io.w, bias, data(y));
  c.r.Set("y", y);
}

void op_linear_backward(const OpCall& c) {
  const OpsArgs& a = c.a;
  const LinearIO io = linear_io(a);
  const float* dy = a.in("dy", io.ny);
  const bool bias = a.num_or("bias", 0) != 0;
  Napi::Float32Array dx = a.out("dx", io.nx), dw = a.out("dw", io.nw), db = a.out("dbias", io.Out);
  c.be.linear_backward(io.N, io.In, io.Out, io.x, io.w, dy, a.skip("dx") ? nullptr : data(dx),
                       a.skip("dw") ? nullptr : data(dw), bias ? data(db) : nullptr);
  c.r.Set("dx", dx);
  c.r.Set("dw", dw);
  c.r.Set("dbias", db);
}

struct ShuffleIO {
  int N, C, HW, g;
  size_t n;
};
ShuffleIO shuffle_io(const OpsArgs& a) {
  ShuffleIO io;
  io.N = a.pos("N");
  io.C = a.pos("C");
  io.HW = a.pos("HW");
  io.g = a.pos("groups");
  if (io.C % io.g) ops_fail(a.op, "groups must divide C");
  io.n = a.size({io.N, io.C, io.HW}, "x");
  return io;
}

void op_shuffle_forward(const OpCall& c) {
  const ShuffleIO io = shuffle_io(c.a);
  const float* x = c.a.in("x", io.n);
  Napi::Float32Array y = c.a.fresh("y", io.n);
  c.be.shuffle_forward(io.N, io.C, io.HW, io.g, x, data(y));
  c.r.Set("y", y);
}

void op_shuffle_backward(const OpCall& c) {
  const ShuffleIO io = shuffle_io(c.a);
  const float* dy = c.a.in("dy", io.n);
  Napi::Float32Array dx = c.a.out("dx", io.n);
  c.be.shuffle_backward(io.N, io.C, io.HW, io.g, dy, data(dx));
  c.r.Set("dx", dx);
}

struct ShortcutIO {
  int N, Cin, H, W, st, Cout, pf;
  size_t nx, ny;
};
ShortcutIO shortcut_io(const OpsArgs& a) {
  ShortcutIO io;
  io.N = a.pos("N");
  io.Cin = a.pos("Cin");
  io.H = a.pos("H");
  io.W = a.pos("W");
  io.st = a.pos("stride");
  io.Cout = a.pos("Cout");
  io.pf = a.nonneg("padFront");
  // the input channels land at [padFront, padFront + Cin) of the output
  if (io.pf + io.Cin > io.Cout) ops_fail(a.op, "needs padFront + Cin <= Cout");
  const int Ho = (io.H + io.st - 1) / io.st, Wo = (io.W + io.st - 1) / io.st;
  io.nx = a.size({io.N, io.Cin, io.H, io.W}, "x");
  io.ny = a.size({io.N, io.Cout, Ho, Wo}, "y");
  return io;
}

void op_shortcut_a_forward(const OpCall& c) {
  const ShortcutIO io = shortcut_io(c.a);
  const float* x = c.a.in("x", io.nx);
  Napi::Float32Array y = c.a.fresh("y", io.ny);
  c.be.shortcut_a_forward(io.N, io.Cin, io.H, io.W, io.st, io.Cout, io.pf, x, data(y));
  c.r.Set("y", y);
}

void op_shortcut_a_backward(const OpCall& c) {
  const ShortcutIO io = shortcut_io(c.a);
  const float* dy = c.a.in("dy", io.ny);
  Napi::Float32Array dx = c.a.out("dx", io.nx);
  c.be.shortcut_a_backward(io.N, io.Cin, io.H, io.W, io.st, io.Cout, io.pf, dy, data(dx));
  c.r.Set("dx", dx);
}

// softmax_xent (with dlogits) and softmax_xent_eval (loss and count only)
template <bool kTrain>
void op_softmax_xent(const OpCall& c) {
  const OpsArgs& a = c.a;
  const int N = a.pos("N"), K = a.pos("K");
  const size_t nz = a.size({N, K}, "logits");
  const float* z = a.in("logits", nz);
  Napi::Int32Array labels = A::i32(a.tensors.Get("labels"), a.tensor("labels"), static_cast<size_t>(N));
  for (int i = 0; i < N; ++i)
    if (labels[i] < 0 || labels[i] >= K) ops_fail(a.op, "labels must be in [0, K)");
  double loss = 0;
  int correct = 0;
  if (kTrain) {
    const float scale = static_cast<float>(a.num_or("gradScale", 1.0 / N));
    Napi::Float32Array d = a.fresh("dlogits", nz);
    c.be.softmax_xent(N, K, z, labels.Data(), scale, data(d), &loss, &correct);
    c.r.Set("dlogits", d);
  } else {
    c.be.softmax_xent_eval(N, K, z, labels.Data(), &loss, &correct);
  }
  c.r.Set("lossSum", loss);
  c.r.Set("correct", correct);
}

void op_sgd_step(const OpCall& c) {
  const OpsArgs& a = c.a;
  const size_t n = elementwise_n(a);
  const float* g = a.in("g", n);
  const float lr = static_cast<float>(a.num("lr")), momentum = static_cast<float>(a.num_or("momentum", 0)),
              wd = static_cast<float>(a.num_or("wd", 0));
  const bool nesterov = a.num_or("nesterov", 0) != 0;
  Napi::Float32Array p = a.out("p", n), m = a.out("m", n);
  c.be.sgd_step(n, data(p), g, data(m), lr, momentum, wd, nesterov);
  c.r.Set("p", p);
  c.r.Set("m", m);
}

// The names src/engine/ops.ts may pass to runOp.
const std::unordered_map<std::string, OpHandler>& op_handlers() {
  static const std::unordered_map<std::string, OpHandler> table = {
      {"sgemm", op_sgemm},
      {"conv2d_forward", op_conv2d_forward},
      {"conv2d_backward", op_conv2d_backward},
      {"scc_forward", op_scc_forward},
      {"scc_backward", op_scc_backward},
      {"batchnorm_train", op_batchnorm_train},
      {"batchnorm_eval", op_batchnorm_eval},
      {"batchnorm_backward", op_batchnorm_backward},
      {"relu_forward", op_relu_forward},
      {"relu_backward", op_relu_backward},
      {"add_forward", op_add_forward},
      {"add_backward", op_add_backward},
      {"all_finite", op_all_finite},
      {"maxpool_forward", op_maxpool_forward},
      {"maxpool_backward", op_maxpool_backward},
      {"gap_forward", op_gap_forward},
      {"gap_backward", op_gap_backward},
      {"linear_forward", op_linear_forward},
      {"linear_backward", op_linear_backward},
      {"shuffle_forward", op_shuffle_forward},
      {"shuffle_backward", op_shuffle_backward},
      {"shortcut_a_forward", op_shortcut_a_forward},
      {"shortcut_a_backward", op_shortcut_a_backward},
      {"softmax_xent", op_softmax_xent<true>},
      {"softmax_xent_eval", op_softmax_xent<false>},
      {"sgd_step", op_sgd_step},
  };
  return table;
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
  const auto& table = op_handlers();
  const auto it = table.find(a.op);
  if (it == table.end()) A::type_error("runOp: unknown op '" + a.op + "'");
  it->second(OpCall{a, be, r, (overwrite & 1) != 0, (overwrite & 2) != 0});
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
