// ctest `cuda_emu*`: the CUDA backend's op layer and kernels, compiled as C++ and run by the
// CPU emulator (cuda_emu.h), against the CPU backend. Runs on every machine, GPU or not: it
// checks the kernels' index arithmetic, tiling, wrap-around handling and reduction orders,
// the benchmark's baselines, whole networks trained on both backends, and the host-side
// failure paths; speed and races are for cuda_check on a real GPU.
//   emu_check ops          every op vs the CPU (op_checks.cc), the benchmark baselines
//   emu_check nets <dir> [name]  whole-network parity (net_checks.cc) on the specs in <dir>
//   emu_check faults <dir> an injected device fault fails its op by name, and nothing crashes
// DSX_EMU_SMS sets the emulated multiprocessor count (132 as on an H200, 8 by default).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../harness.h"
#include "../net_checks.h"
#include "../op_checks.h"
#include "../spec_text.h"
#include "emu_backend.h"
#include "net/net.h"

int run_bench(dsx::Backend& gpu, int batch, int reps, int C, int H);  // cuda_bench.cc

namespace {

// DSXPLORE_FAULT_OP makes the named op throw on backends created while it is set: the error
// must name the op, leave the executor destructible, and a fresh backend must work again.
int run_fault_checks(dsx::Backend& cpu, const std::string& dir) {
  dsx_test::Report rep;
  const dsx::NetSpec spec = dsx_test::read_spec_text(dir + "/resnet20-dw-scc.spec");
  const size_t nx = 2ul * spec.input[0] * spec.input[1] * spec.input[2];
  const std::vector<float> x(nx, 0.5f);
  const std::vector<int32_t> labels = {1, 2};
  auto step = [&](dsx::Backend& be) {
    dsx::Net net(spec, be, 2);
    net.init(1);
    be.upload(net.input(), x.data(), nx * sizeof(float));
    be.upload(net.labels(), labels.data(), labels.size() * sizeof(int32_t));
    net.forward(2, true);
    double loss = 0;
    int correct = 0;
    net.backward(2, &loss, &correct);
    net.sgd_step(0.1f, 0.9f, 0.f, false, false);
  };
  for (const char* op : {"scc_backward", "batchnorm_add_relu_forward", "conv2d_forward"}) {
    setenv("DSXPLORE_FAULT_OP", op, 1);
    auto faulty = dsx::make_emu_backend();
    unsetenv("DSXPLORE_FAULT_OP");
    std::string what;
    try {
      step(*faulty);
    } catch (const std::exception& e) {
      what = e.what();
    }
    std::printf("  injected fault in %s: \"%s\"\n", op, what.c_str());
    rep.expect(std::string("fault in ") + op + " fails the step with an error naming it",
               what.find(op) != std::string::npos && what.find("cuda-emu") != std::string::npos);
  }
  auto healthy = dsx::make_emu_backend();
  bool ok = true;
  try {
    step(*healthy);
  } catch (const std::exception& e) {
    std::printf("  %s\n", e.what());
    ok = false;
  }
  rep.expect("a fresh backend trains after the faults", ok);
  (void)cpu;
  std::printf("cuda-emu: %d fault checks, %d failed\n", rep.checks(), rep.failures());
  return rep.failures() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  dsx_test::timing_enabled() = false;
  const std::string mode = argc > 1 ? argv[1] : "ops";
  auto cpu = dsx::make_cpu_backend(0);
  auto emu = dsx::make_emu_backend();
  std::printf("cuda-emu: %s, %s emulated multiprocessors\n", mode.c_str(),
              std::getenv("DSX_EMU_SMS") ? std::getenv("DSX_EMU_SMS") : "8");
  try {
    if (mode == "nets-cpu" && argc > 2) {  // control: CPU against CPU, other thread counts
      auto one = dsx::make_cpu_backend(1), three = dsx::make_cpu_backend(3);
      return run_net_checks(*one, *three, argv[2], argc > 3 ? argv[3] : "");
    }
    if (mode == "nets" && argc > 2) return run_net_checks(*cpu, *emu, argv[2], argc > 3 ? argv[3] : "");
    if (mode == "faults" && argc > 2) return run_fault_checks(*cpu, argv[2]);
    if (mode != "ops") {
      std::fprintf(stderr, "usage: emu_check [ops | nets <spec dir> | faults <spec dir>]\n");
      return 2;
    }
  } catch (const std::exception& e) {
    std::printf("cuda-emu: FAIL: %s\n", e.what());
    return 1;
  }
  const int ops = run_op_checks(*cpu, *emu);
  // the benchmark at toy size: checks its gather-then-grouped baseline against the SCC
  // (the times it prints mean nothing here)
  const int bench = run_bench(*emu, 2, 1, 64, 8);
  std::printf("cuda-emu: benchmark baselines %s\n", bench == 0 ? "ok" : "FAIL");
  return ops == 0 && bench == 0 ? 0 : 1;
}
