// Whole-network GPU parity: each network of native/test/nets trains from identical weights on
// the CPU backend and on a GPU-side backend (the CUDA emulator in CI, a real GPU in
// gpu-check.sh) for kSteps SGD steps on the same random batches, with the training-time
// fusions both backends run (folded BN+ReLU readers, residual tails, first contributions
// that overwrite). Checked, at the tolerances below (|gpu - cpu| / (1 + |cpu|)):
//  - every parameter gradient of the first step: same weights, same data, so only the order
//    of float sums differs. The tight check: a wrong index, mask, fold or overwrite shows
//    here at 1e-2 or more, float reordering at 1e-5;
//  - the loss at every step, and every parameter and running statistic after the last step.
//    These drift: networks with depthwise convs followed by BN amplify rounding differences
//    quickly (the CPU against itself at 1 and 3 threads, `emu_check nets-cpu`, already
//    differs by 4e-5 in loss and 5e-3 in state after 3 steps on resnet20-dw-scc), so their
//    tolerances are looser, and the learning rate small.
#include "net_checks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "harness.h"
#include "net/net.h"
#include "spec_text.h"

namespace {

constexpr int kBatch = 8;
constexpr int kSteps = 3;
// |a - b| / (1 + |b|), CPU as b
constexpr double kLossTol = 2e-3;   // per step
constexpr double kStateTol = 2e-2;  // every parameter and running statistic after the last step
constexpr double kGradTol = 1e-4;   // every parameter gradient of the first step
constexpr float kLr = 0.002f;

const char* const kNets[] = {"resnet20-dw-scc", "resnet20-std", "vgg11-dw-gpw",
                             "mobilenet-gc-shuffle", "resnet20-dw-gpw-shuffle"};

double rel(double a, double b) { return std::fabs(a - b) / (1.0 + std::fabs(b)); }

}  // namespace

// The largest scaled difference between two state-shaped vectors, and the tensor it is in.
std::pair<double, std::string> worst_tensor(const dsx::NetPlan& plan, const std::vector<float>& got,
                                            const std::vector<float>& want, size_t limit) {
  double worst = 0.0;
  std::string where = "-";
  for (const auto& entry : plan.state_layout) {
    if (entry.offset + entry.size > limit) continue;
    const std::vector<float> a(got.begin() + entry.offset, got.begin() + entry.offset + entry.size);
    const std::vector<float> b(want.begin() + entry.offset, want.begin() + entry.offset + entry.size);
    const double e = dsx_test::scaled_error(a, b);
    if (std::getenv("DSX_NETS_VERBOSE") && e > 1e-6)
      std::printf("    %-40s %.2e\n", (entry.layer + "." + entry.kind).c_str(), e);
    if (e > worst) {
      worst = e;
      where = entry.layer + "." + entry.kind;
    }
  }
  return {worst, where};
}

namespace {

// One network of `dir` trained on both backends; its checks go to `rep`.
void check_net(dsx::Backend& cpu, dsx::Backend& gpu, const std::string& dir, const char* file,
               dsx_test::Report& rep) {
  const dsx::NetSpec spec = dsx_test::read_spec_text(dir + "/" + file + ".spec");
  dsx::Net a(spec, cpu, kBatch), b(spec, gpu, kBatch);
  a.init(42);
  std::vector<float> state(a.plan().state_size());
  a.get_state(state.data());
  b.set_state(state.data());
  dsx_test::Rng rng(7);
  const auto& in = spec.input;
  const size_t nx = static_cast<size_t>(kBatch) * in[0] * in[1] * in[2];
  double max_loss = 0.0;
  std::string losses;
  for (int step = 0; step < kSteps; ++step) {
    const std::vector<float> x = rng.vec(nx, -2.f, 2.f);
    std::vector<int32_t> labels(kBatch);
    for (auto& l : labels) l = static_cast<int32_t>(rng.next() % spec.classes);
    double loss[2];
    int correct[2];
    dsx::Net* nets[2] = {&a, &b};
    for (int k = 0; k < 2; ++k) {
      dsx::Net& n = *nets[k];
      n.backend().upload(n.input(), x.data(), nx * sizeof(float));
      n.backend().upload(n.labels(), labels.data(), kBatch * sizeof(int32_t));
      n.forward(kBatch, true);
      n.backward(kBatch, &loss[k], &correct[k]);
    }
    if (step == 0) {  // the first gradients, before any drift: same weights, same data
      const size_t np = a.plan().params;
      std::vector<float> ga(np), gb(np);
      cpu.download(ga.data(), a.grads(), np * sizeof(float));
      gpu.download(gb.data(), b.grads(), np * sizeof(float));
      const auto [e, where] = worst_tensor(a.plan(), gb, ga, np);
      std::printf("  %s first gradients: max diff %.2e (%s)\n", file, e, where.c_str());
      rep.check(std::string(file) + " first gradients", "grads", gb, ga, kGradTol);
    }
    for (dsx::Net* n : nets) n->sgd_step(kLr, 0.9f, 5e-4f, false, false);
    const double e = rel(loss[1] / kBatch, loss[0] / kBatch);
    max_loss = std::max(max_loss, e);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%.6f/%.6f", step ? " " : "", loss[0] / kBatch,
                  loss[1] / kBatch);
    losses += buf;
    rep.expect(std::string(file) + " step " + std::to_string(step + 1) + " loss " + buf,
               e <= kLossTol && correct[0] == correct[1]);
  }
  std::vector<float> sa(a.plan().state_size()), sb(sa.size());
  a.get_state(sa.data());
  b.get_state(sb.data());
  const auto [worst, where] = worst_tensor(a.plan(), sb, sa, sa.size());
  const double state_err = dsx_test::scaled_error(sb, sa);
  (void)worst;
  std::printf("  parity %-22s max loss diff %.2e  max state diff %.2e (%s)\n", file, max_loss,
              state_err, where.c_str());
  rep.check(std::string(file) + " after " + std::to_string(kSteps) + " steps", "state", sb, sa,
            kStateTol);
}

}  // namespace

int run_net_checks(dsx::Backend& cpu, dsx::Backend& gpu, const std::string& dir,
                   const std::string& only) {
  dsx_test::Report rep;
  std::printf("%s: whole networks vs CPU, batch %d, %d SGD steps (lr %.3g, momentum 0.9, "
              "wd 5e-4); tolerances: loss %.0e, first gradients %.0e, state %.0e\n",
              gpu.name().c_str(), kBatch, kSteps, kLr, kLossTol, kGradTol, kStateTol);
  for (const char* file : kNets) {
    if (!only.empty() && only != file) continue;
    // A network that throws (a CUDA error, a missing spec) counts as one failed check and
    // the others still run, so the summary line below is always printed.
    try {
      check_net(cpu, gpu, dir, file, rep);
    } catch (const std::exception& e) {
      rep.expect(std::string(file) + ": threw: " + e.what(), false);
    }
  }
  std::printf("%s: %d network checks, %d failed\n", gpu.name().c_str(), rep.checks(),
              rep.failures());
  return rep.failures() == 0 ? 0 : 1;
}
