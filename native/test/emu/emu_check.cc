// ctest `cuda_emu`: the CUDA kernels, compiled as C++ and run by the CPU emulator
// (cuda_emu.h), against the CPU backend, op by op (op_checks.cc). Runs on every machine,
// GPU or not: it checks the kernels' index arithmetic, tiling, wrap-around handling and
// reduction orders, and the benchmark's baselines; speed and races are for cuda_check on
// a real GPU.
#include <cstdio>

#include "../harness.h"
#include "../op_checks.h"
#include "emu_backend.h"

int run_bench(dsx::Backend& gpu, int batch, int reps, int C, int H);  // cuda_bench.cc

int main() {
  dsx_test::timing_enabled() = false;
  auto cpu = dsx::make_cpu_backend(0);
  auto emu = dsx::make_emu_backend();
  const int ops = run_op_checks(*cpu, *emu);
  // the benchmark at toy size: checks its gather-then-grouped baseline against the SCC
  // (the times it prints mean nothing here)
  const int bench = run_bench(*emu, 2, 1, 64, 8);
  std::printf("cuda-emu: benchmark baselines %s\n", bench == 0 ? "ok" : "FAIL");
  return ops == 0 && bench == 0 ? 0 : 1;
}
