// ctest `cuda_emu*`: the CUDA backend's op layer and kernels, compiled as C++ and run by the
// CPU emulator (cuda_emu.h), against the CPU backend. Runs on every machine, GPU or not: it
// checks the kernels' index arithmetic, tiling, wrap-around handling and reduction orders,
// the benchmark's baselines, whole networks trained on both backends, and the host-side
// failure paths; speed and races are for cuda_check on a real GPU.
//   emu_check ops          every op vs the CPU (op_checks.cc), the benchmark baselines
//   emu_check nets <dir> [name]  whole-network parity (net_checks.cc) on the specs in <dir>
//   emu_check faults <dir> an injected device fault fails its op by name, and nothing crashes;
//                          the process-ending modes (abort, segv, hang) end a forked child
// DSX_EMU_SMS sets the emulated multiprocessor count (132 as on an H200, 8 by default).
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
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
  // DSXPLORE_FAULT_MODE=abort|segv|hang end or stop the process: each runs in a forked
  // child, whose end (signal, or still blocked after a second) and stderr are checked
  struct Ending {
    const char* mode;
    int signal;  // the signal that ends the child; SIGKILL: ours, after it hung
  };
  for (const Ending& m : {Ending{"abort", SIGABRT}, Ending{"segv", SIGSEGV}, Ending{"hang", SIGKILL}}) {
    int fds[2];
    if (pipe(fds) != 0) {
      rep.expect("pipe for the forked fault child", false);
      continue;
    }
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      dup2(fds[1], 2);
      setenv("DSXPLORE_FAULT_OP", "conv2d_forward", 1);
      setenv("DSXPLORE_FAULT_MODE", m.mode, 1);
      try {
        auto faulty = dsx::make_emu_backend();
        step(*faulty);
      } catch (...) {
      }
      _exit(0);  // reached only when the fault did not fire
    }
    close(fds[1]);
    int status = 0;
    bool ended = false;
    for (int i = 0; i < 300 && !ended; ++i) {  // up to 30 s for abort and segv
      ended = waitpid(pid, &status, WNOHANG) == pid;
      if (!ended) usleep(100000);
      if (!ended && m.signal == SIGKILL && i == 9) break;  // a hang: one second is enough
    }
    const bool blocked = !ended;
    if (!ended) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
    std::string err;
    char buf[512];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    const bool by = WIFSIGNALED(status) && WTERMSIG(status) == m.signal;
    std::printf("  DSXPLORE_FAULT_MODE=%s: child %s by signal %d; stderr \"%s\"\n", m.mode,
                blocked ? "blocked, then killed" : "ended", WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                err.substr(0, err.find('\n')).c_str());
    rep.expect(std::string("fault mode ") + m.mode + " ends the process as it should",
               by && blocked == (m.signal == SIGKILL));
    rep.expect(std::string("fault mode ") + m.mode + " names the op on stderr",
               err.find("injected fault in conv2d_forward") != std::string::npos);
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
