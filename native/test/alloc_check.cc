// ctest `alloc_steady`: a CPU training step allocates no heap memory once the first step has
// run, and neither does a run of the CPU deployment executor once each batch size has run
// (check_inference: its weights are folded and packed once, at construction). The engine is built on that claim (arenas are allocated by the Net constructor, every
// op scratch buffer is grow-only, ops/workspace.h), and a stray allocation per step is both a
// slowdown and a sign that scratch is not being reused; nothing else would notice it.
//
// Every heap allocation of the process that goes through this executable is counted:
//  - the replaceable global operator new forms (libstdc++ containers included) are defined
//    here;
//  - malloc, calloc, realloc, aligned_alloc and posix_memalign are wrapped with GNU ld's
//    --wrap (see CMakeLists.txt), which redirects the calls made by code linked statically
//    into this executable: this file and dsx_core, i.e. the whole engine.
// The network covers every CPU route the zoo uses: convolutions on the wide route (dense,
// grouped, pointwise and grouped pointwise), im2col (stride 2), the direct depthwise 3x3
// kernels (stride 1 and 2) and the deployment Winograd route (dense 3x3 stride 1); SCC; BN
// with and without a fused ReLU; residual add, option-A shortcut, channel shuffle, max pool,
// GAP and linear.
// ALLOC_CHECK_TRACE=1 prints a backtrace for every allocation made during the steady steps,
// to find the call site when this test fails (addr2line -f -C -e alloc_check +0x... names it).
#include <execinfo.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "backend.h"
#include "net/infer_cpu.h"
#include "net/net.h"

namespace {

std::atomic<long> g_allocs{0};
std::atomic<bool> g_trace{false};  // set only around the steady steps, when asked
thread_local bool t_in_trace = false;

void count_alloc() {
  ++g_allocs;
  if (!g_trace.load(std::memory_order_relaxed) || t_in_trace) return;
  t_in_trace = true;
  void* frames[32];
  const int n = backtrace(frames, 32);
  static const char kHead[] = "alloc_check: allocation during a steady step at:\n";
  (void)!write(2, kHead, sizeof kHead - 1);
  backtrace_symbols_fd(frames, n, 2);  // writes straight to the fd: no malloc
  t_in_trace = false;
}

}  // namespace

// ---- C allocation functions: the __real_ symbols are the libc ones (ld --wrap) ----
extern "C" {
void* __real_malloc(size_t n);
void* __real_calloc(size_t n, size_t size);
void* __real_realloc(void* p, size_t n);
void* __real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void** out, size_t align, size_t n);

void* __wrap_malloc(size_t n) {
  count_alloc();
  return __real_malloc(n);
}
void* __wrap_calloc(size_t n, size_t size) {
  count_alloc();
  return __real_calloc(n, size);
}
void* __wrap_realloc(void* p, size_t n) {
  count_alloc();
  return __real_realloc(p, n);
}
void* __wrap_aligned_alloc(size_t align, size_t n) {
  count_alloc();
  return __real_aligned_alloc(align, n);
}
int __wrap_posix_memalign(void** out, size_t align, size_t n) {
  count_alloc();
  return __real_posix_memalign(out, align, n);
}
}  // extern "C"

// ---- global operator new/delete: counted once, through the __real_ functions ----
namespace {

void* plain_alloc(size_t n) noexcept {
  count_alloc();
  return __real_malloc(n ? n : 1);  // new must return a unique pointer even for 0 bytes
}

void* aligned_alloc_counted(size_t n, std::align_val_t al) noexcept {
  count_alloc();
  size_t a = static_cast<size_t>(al);
  if (a < sizeof(void*)) a = sizeof(void*);  // posix_memalign's minimum
  void* p = nullptr;
  return __real_posix_memalign(&p, a, n ? n : 1) == 0 ? p : nullptr;
}

void* or_throw(void* p) {
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(size_t n) { return or_throw(plain_alloc(n)); }
void* operator new[](size_t n) { return or_throw(plain_alloc(n)); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return plain_alloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return plain_alloc(n); }
void* operator new(size_t n, std::align_val_t a) { return or_throw(aligned_alloc_counted(n, a)); }
void* operator new[](size_t n, std::align_val_t a) { return or_throw(aligned_alloc_counted(n, a)); }
void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return aligned_alloc_counted(n, a);
}
void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return aligned_alloc_counted(n, a);
}

// Both kinds come from malloc or posix_memalign, so free() releases every form.
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

using dsx::LayerOp;
using dsx::LayerSpec;
using dsx::NetSpec;
using dsx::TensorShape;

constexpr int kBatch = 8, kClasses = 10;

// Appends tensors and layers, checking nothing: plan_net validates the result.
struct SpecBuilder {
  NetSpec spec;
  explicit SpecBuilder(TensorShape input) {
    spec.model = "alloc-check";
    spec.input = input;
    spec.classes = kClasses;
    spec.tensors.push_back(input);
  }
  int add(LayerSpec l, std::vector<int> inputs, TensorShape out) {
    const int id = static_cast<int>(spec.tensors.size());
    l.inputs = std::move(inputs);
    l.output = id;
    spec.tensors.push_back(out);
    spec.layers.push_back(std::move(l));
    return id;
  }
  const TensorShape& shape(int t) const { return spec.tensors[t]; }

  int conv(const char* name, int x, int out, int k, int stride, int pad, int groups) {
    const TensorShape& s = shape(x);
    LayerSpec l;
    l.op = LayerOp::Conv2d;
    l.name = name;
    l.in_channels = s[0];
    l.out_channels = out;
    l.kernel = k;
    l.stride = stride;
    l.padding = pad;
    l.groups = groups;
    const int ho = (s[1] + 2 * pad - k) / stride + 1, wo = (s[2] + 2 * pad - k) / stride + 1;
    return add(l, {x}, {out, ho, wo});
  }
  int scc(const char* name, int x, int out, int groups, int channel_stride) {
    LayerSpec l;
    l.op = LayerOp::Scc;
    l.name = name;
    l.in_channels = shape(x)[0];
    l.out_channels = out;
    l.groups = groups;
    l.channel_stride = channel_stride;
    return add(l, {x}, {out, shape(x)[1], shape(x)[2]});
  }
  int bn(const char* name, int x) {
    LayerSpec l;
    l.op = LayerOp::BatchNorm;
    l.name = name;
    l.channels = shape(x)[0];
    return add(l, {x}, shape(x));
  }
  int simple(LayerOp op, const char* name, std::vector<int> inputs) {
    LayerSpec l;
    l.op = op;
    l.name = name;
    const TensorShape s = shape(inputs[0]);
    return add(l, std::move(inputs), s);
  }
  int relu(const char* name, int x) { return simple(LayerOp::Relu, name, {x}); }
  int shuffle(const char* name, int x, int groups) {
    LayerSpec l;
    l.op = LayerOp::Shuffle;
    l.name = name;
    l.groups = groups;
    return add(l, {x}, shape(x));
  }
  int add_tensors(const char* name, int a, int b) { return simple(LayerOp::Add, name, {a, b}); }
  int bn_relu(const char* name, int x) {
    return relu((std::string(name) + ".relu").c_str(), bn((std::string(name) + ".bn").c_str(), x));
  }
  int shortcut_a(const char* name, int x, int out, int stride) {
    const TensorShape& s = shape(x);
    LayerSpec l;
    l.op = LayerOp::ShortcutA;
    l.name = name;
    l.in_channels = s[0];
    l.out_channels = out;
    l.stride = stride;
    l.pad_front = (out - s[0]) / 2;  // as src/models/builder.ts
    return add(l, {x}, {out, (s[1] + stride - 1) / stride, (s[2] + stride - 1) / stride});
  }
  int maxpool(const char* name, int x, int k, int stride) {
    const TensorShape& s = shape(x);
    LayerSpec l;
    l.op = LayerOp::MaxPool;
    l.name = name;
    l.kernel = k;
    l.stride = stride;
    return add(l, {x}, {s[0], (s[1] - k) / stride + 1, (s[2] - k) / stride + 1});
  }
  int gap(const char* name, int x) {
    LayerSpec l;
    l.op = LayerOp::Gap;
    l.name = name;
    return add(l, {x}, {shape(x)[0], 1, 1});
  }
  int linear(const char* name, int x, int out) {
    LayerSpec l;
    l.op = LayerOp::Linear;
    l.name = name;
    l.in_features = shape(x)[0] * shape(x)[1] * shape(x)[2];
    l.out_features = out;
    l.bias = true;
    return add(l, {x}, {out, 1, 1});
  }
};

NetSpec make_spec() {
  SpecBuilder b({3, 16, 16});
  const int stem = b.bn_relu("stem", b.conv("stem.conv", 0, 16, 3, 1, 1, 1));  // wide route
  int x = b.bn_relu("dw1", b.conv("dw1.conv", stem, 16, 3, 1, 1, 16));           // depthwise s1
  x = b.bn_relu("dense", b.conv("dense.conv", x, 16, 3, 1, 1, 1));  // dense 3x3 s1: Winograd
  x = b.bn("scc.bn", b.scc("scc", x, 16, 2, 4));  // BN without a ReLU to fuse
  const int res = b.relu("res.relu", b.add_tensors("res.add", x, stem));
  x = b.bn_relu("pw", b.conv("pw.conv", res, 32, 1, 1, 0, 1));  // pointwise
  x = b.bn_relu("down", b.conv("down.conv", x, 32, 3, 2, 1, 1));  // stride 2: im2col
  x = b.add_tensors("down.add", x, b.shortcut_a("down.shortcut", res, 32, 2));
  x = b.conv("gc.conv", x, 32, 3, 1, 1, 2);  // grouped 3x3 then shuffle (gc-shuffle)
  x = b.bn_relu("gc", b.shuffle("gc.shuffle", x, 2));
  x = b.bn_relu("gpw", b.conv("gpw.conv", x, 32, 1, 1, 0, 4));  // grouped pointwise (dw-gpw)
  x = b.bn_relu("dw2", b.conv("dw2.conv", x, 32, 3, 2, 1, 32));  // depthwise s2
  x = b.maxpool("pool", x, 2, 2);
  b.linear("fc", b.gap("gap", x), kClasses);
  return b.spec;
}

struct StepResult {
  double loss = 0;
  int correct = 0;
};

StepResult train_step(dsx::Net& net) {
  StepResult r;
  net.forward(kBatch, true);
  net.backward(kBatch, &r.loss, &r.correct);
  net.sgd_step(0.01f, 0.9f, 5e-4f, false, false);
  return r;
}

int fail(const char* why) {
  std::printf("alloc_check: FAIL: %s\n", why);
  return 1;
}

// The CPU deployment executor (net/infer_cpu.h) on the trained state: weights are folded
// and packed once, at construction, so runs after the first of each batch size allocate
// and pack nothing, and repeated runs give identical logits; those logits are the unfused
// eval forward's within float32 rounding (1e-4 of the largest logit).
int check_inference(dsx::Net& net, bool trace) {
  std::vector<float> state(net.plan().state_size());
  net.get_state(state.data());
  net.forward(kBatch, false);
  std::vector<float> ref(net.output(), net.output() + kBatch * kClasses);
  dsx::CpuInference inf(net.plan().spec, state.data(), 2, kBatch);
  const size_t n_in = static_cast<size_t>(kBatch) * 3 * 16 * 16;
  std::copy(net.input(), net.input() + n_in, inf.input());
  const long packs = inf.packs();
  inf.run(kBatch);
  inf.run(1);  // fewer images than threads: other routes, their scratch grown here
  inf.run(kBatch);
  const std::vector<float> first(inf.output(), inf.output() + kBatch * kClasses);
  const long before = g_allocs.load();
  if (trace) g_trace = true;
  inf.run(1);
  inf.run(kBatch);
  g_trace = false;
  const long steady = g_allocs.load() - before;
  const std::vector<float> second(inf.output(), inf.output() + kBatch * kClasses);
  double diff = 0, scale = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(first[i]) - ref[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(ref[i])));
  }
  std::printf("alloc_check: inference: %d ops, %d BNs folded, %ld packs; steady runs made %ld "
              "allocations; max |folded - unfused| / max |logit| = %.2e\n",
              inf.op_count(), inf.folded_bns(), inf.packs(), steady, diff / scale);
  if (inf.folded_bns() != 9) return fail("expected the 9 BNs that follow a conv or SCC to fold");
  if (inf.packs() != packs) return fail("inference runs packed weights again");
  if (steady != 0) return fail("steady inference runs allocate; rerun with ALLOC_CHECK_TRACE=1");
  if (first != second) return fail("two inference runs of the same input differ");
  if (!(scale > 0) || !(diff <= 1e-4 * scale)) return fail("folded logits differ from the unfused eval forward");
  std::printf("alloc_check: ok\n");
  return 0;
}

}  // namespace

int main() {
  const char* trace = std::getenv("ALLOC_CHECK_TRACE");
  if (trace && trace[0] == '1') {
    void* f[1];
    backtrace(f, 1);  // the first call loads libgcc: do it before anything is counted
  }
  // Fusion and profiling change the executed route; say which one ran.
  const char* nofuse = std::getenv("DSXPLORE_NO_FUSION");
  const char* prof = std::getenv("DSXPLORE_PROFILE");
  std::printf("alloc_check: CPU, 2 threads, batch %d, fusion %s, profile %s\n", kBatch,
              nofuse && nofuse[0] == '1' ? "off" : "on", prof ? prof : "unset");

  const long at_start = g_allocs.load();
  auto backend = dsx::make_cpu_backend(2);
  dsx::Net net(make_spec(), *backend, kBatch);
  net.init(1);
  float* in = net.input();  // host memory on the CPU backend
  const size_t n_in = static_cast<size_t>(kBatch) * 3 * 16 * 16;
  for (size_t i = 0; i < n_in; ++i)
    in[i] = static_cast<float>(static_cast<int>((i * 2654435761u) % 2001) - 1000) / 1000.0f;
  for (int i = 0; i < kBatch; ++i) net.labels()[i] = (i * 7 + 3) % kClasses;

  // No I/O and nothing else in the measured windows: only the training steps.
  const long before_step1 = g_allocs.load();
  std::vector<StepResult> steps(5);
  steps[0] = train_step(net);
  const long after_step1 = g_allocs.load();
  if (trace && trace[0] == '1') g_trace = true;
  for (int s = 1; s < 5; ++s) steps[s] = train_step(net);
  g_trace = false;
  const long after_steps = g_allocs.load();

  // The counter must see an allocation we know happens, or a pass would prove nothing. The
  // volatile store keeps the compiler from eliding the vector's new/delete pair.
  [[maybe_unused]] static float* volatile sink = nullptr;
  {
    std::vector<float> v(10);
    sink = v.data();
  }
  const long after_vector = g_allocs.load();

  const long setup = before_step1 - at_start, first = after_step1 - before_step1,
             steady = after_steps - after_step1;
  std::printf("alloc_check: net setup made %ld allocations (%zu parameters)\n", setup,
              net.plan().params);
  for (int s = 0; s < 5; ++s)
    std::printf("alloc_check: step %d loss %.4f, %d/%d correct\n", s + 1, steps[s].loss / kBatch,
                steps[s].correct, kBatch);
  std::printf("alloc_check: step 1 made %ld allocations; steps 2-5 made %ld\n", first, steady);

  if (setup + first <= 0) return fail("nothing counted in setup and step 1: counter broken");
  if (after_vector <= after_steps) return fail("a std::vector was not counted: counter broken");
  for (const StepResult& r : steps)
    if (!std::isfinite(r.loss)) return fail("non-finite loss");
  if (!net.params_finite()) return fail("non-finite parameters after 5 steps");
  if (steady != 0) {
    std::printf("alloc_check: FAIL: steady steps allocate (%ld in 4 steps); rerun with "
                "ALLOC_CHECK_TRACE=1 for the call sites\n", steady);
    return 1;
  }
  return check_inference(net, trace && trace[0] == '1');
}
