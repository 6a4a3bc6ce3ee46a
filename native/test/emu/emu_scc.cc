// The CUDA kernels of ops/scc_cuda.cu compiled as C++ for the emulator (cuda_emu.h).
#include "ops/scc_cuda.cu"
