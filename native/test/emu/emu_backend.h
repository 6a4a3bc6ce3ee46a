// The CUDA kernels behind the Backend interface, run by the CPU emulator (emu_backend.cc).
#pragma once
#include <memory>

#include "backend.h"

namespace dsx {
std::unique_ptr<Backend> make_emu_backend();
}
