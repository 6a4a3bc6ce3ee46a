// The CUDA kernels of ops/gemm_cuda.cu compiled as C++ for the emulator (cuda_emu.h).
#include "ops/gemm_cuda.cu"
