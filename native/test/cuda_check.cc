// ctest `cuda_ops`: the CUDA backend against the CPU backend, op by op (op_checks.cc), then
// whole networks trained on both (net_checks.cc, the specs in native/test/nets).
// Without a usable device it prints `skip: no CUDA device` and exits 0.
// `cuda_check --bench [--batch N] [--reps R]` runs the SCC benchmark (cuda_bench.cc).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "harness.h"
#include "net_checks.h"
#include "op_checks.h"

using dsx::Backend;

int run_bench(Backend& gpu, int batch, int reps, int C, int H);  // cuda_bench.cc

int main(int argc, char** argv) {
  bool bench = false;
  int batch = 128, reps = 10;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--bench")) bench = true;
    else if (!std::strcmp(argv[i], "--batch") && i + 1 < argc) batch = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: cuda_check [--bench [--batch N] [--reps R]]\n");
      return 2;
    }
  }
  const dsx::BuildInfo info = dsx::build_info();
  std::printf("build: cuda %s, archs [%s], cuBLAS %s\n", info.cuda_compiled ? "yes" : "no",
              info.cuda_archs.c_str(),
              info.cublas ? info.cublas_library.c_str()
                          : ("not used, own tiled sgemm: " + info.cublas_why).c_str());
  std::string why;
  auto gpu = dsx::make_cuda_backend(0, &why);
  if (!gpu) {
    std::printf("skip: no CUDA device (%s)\n", why.c_str());
    return 0;
  }
  std::printf("device: %s\n", info.cuda_devices.c_str());
  if (bench) return run_bench(*gpu, batch, reps, 256, 32);

  auto cpu = dsx::make_cpu_backend(0);
  // Each part reports per check and prints its own count line ("<backend>: N checks, M
  // failed"), even after a CUDA error; what escapes them still ends in a count, not in
  // std::terminate.
  int ops = 1, nets = 1;
  try {
    ops = run_op_checks(*cpu, *gpu);
  } catch (const std::exception& e) {
    std::printf("%s: op checks: FAIL: %s\n", gpu->name().c_str(), e.what());
  }
  try {
    nets = run_net_checks(*cpu, *gpu, DSX_TEST_NETS_DIR);
  } catch (const std::exception& e) {
    std::printf("%s: network checks: FAIL: %s\n", gpu->name().c_str(), e.what());
  }
  std::printf("cuda_check: op checks %s, network checks %s\n", ops == 0 ? "passed" : "FAILED",
              nets == 0 ? "passed" : "FAILED");
  return ops == 0 && nets == 0 ? 0 : 1;
}
