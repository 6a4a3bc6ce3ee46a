// The NET section's readers that the INFER section (addon_infer.cc) shares with
// addon_net.cc, so that every entry point reads specs and devices the same way.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "backend.h"
#include "net/spec.h"

namespace dsx_addon {
// A JS model spec (src/models/spec.ts) as its C++ mirror; throws ArgError naming the field.
dsx::NetSpec parse_spec(const Napi::Value& v);
// "cpu" | "cuda" | "cuda:N" | "auto" -> a backend; throws std::runtime_error with the reason.
// When "auto" falls back to the CPU, *fallback (if given) receives why CUDA was not used.
std::unique_ptr<dsx::Backend> make_backend(const std::string& device, int threads,
                                           std::string* fallback = nullptr);
}  // namespace dsx_addon
