// DSX_HOST_DEVICE marks the small functions the CPU and CUDA backends share (bn_map.h,
// window.h): host and device code under nvcc, plain inline C++ elsewhere (the CPU build
// and the emulator), so both backends compute them from one definition.
#pragma once

#if defined(__CUDACC__)
#define DSX_HOST_DEVICE __host__ __device__
#else
#define DSX_HOST_DEVICE
#endif
