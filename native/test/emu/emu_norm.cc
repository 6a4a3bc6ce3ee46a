// The CUDA kernels of ops/norm_cuda.cu compiled as C++ for the emulator (cuda_emu.h).
#include "ops/norm_cuda.cu"
