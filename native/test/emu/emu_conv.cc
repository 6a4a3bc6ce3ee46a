// The CUDA kernels of ops/conv_cuda.cu compiled as C++ for the emulator (cuda_emu.h).
#include "ops/conv_cuda.cu"
