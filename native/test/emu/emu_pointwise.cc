// The CUDA kernels of ops/pointwise_cuda.cu compiled as C++ for the emulator (cuda_emu.h).
#include "ops/pointwise_cuda.cu"
