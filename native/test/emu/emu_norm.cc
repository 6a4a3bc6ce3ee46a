// The CUDA kernels of ops/cuda_norm.cu compiled as C++ for the emulator (cuda_emu.h).
#include "ops/cuda_norm.cu"
