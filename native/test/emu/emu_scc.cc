// The CUDA kernels of ops/cuda_scc.cu compiled as C++ for the emulator (cuda_emu.h).
#include "ops/cuda_scc.cu"
