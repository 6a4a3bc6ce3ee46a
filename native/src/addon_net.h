// What addon.cc shares with the binding files beside it (addon_infer.cc): its spec reader
// and device chooser, so that every entry point reads specs and devices the same way.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "backend.h"
#include "net/spec.h"

namespace dsx_addon {
dsx::NetSpec parse_spec(const Napi::Value& v);
std::unique_ptr<dsx::Backend> make_backend(const std::string& device, int threads);
// INFER section (addon_infer.cc): netForward, netLatency
void register_infer(Napi::Env env, Napi::Object exports);
}  // namespace dsx_addon
