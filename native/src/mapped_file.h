// mapFile: a read-only memory map of a file as an ArrayBuffer (see mapped_file.cc).
#pragma once
#include <napi.h>

namespace dsx {
void register_mapped_file(Napi::Env env, Napi::Object exports);
}
