// The CUDA kernels of ops/cuda_conv.cu compiled as C++ for the emulator (cuda_emu.h).
#include "ops/cuda_conv.cu"
