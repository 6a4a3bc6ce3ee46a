// DOCTOR section of the export table (addon.cc): what this build contains and which CUDA
// devices it sees, for `dsxplore doctor` (src/engine/doctor.ts).
// buildInfo() never throws for a missing driver or device: that is reported in cudaWhy.
#include <string>

#include "addon.h"
#include "backend.h"

namespace dsx_addon {

namespace {

Napi::Array DoctorSplit(Napi::Env env, const std::string& s, char sep) {
  Napi::Array a = Napi::Array::New(env);
  uint32_t n = 0;
  size_t b = 0;
  while (b < s.size()) {
    size_t e = s.find(sep, b);
    if (e == std::string::npos) e = s.size();
    if (e > b) a.Set(n++, Napi::String::New(env, s.substr(b, e - b)));
    b = e + 1;
  }
  return a;
}

}  // namespace

Napi::Value DoctorBuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dsx::BuildInfo b = dsx::build_info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("cudaCompiled", Napi::Boolean::New(env, b.cuda_compiled));
  o.Set("cublas", Napi::Boolean::New(env, b.cublas));
  o.Set("cublasLibrary", Napi::String::New(env, b.cublas_library));
  o.Set("cublasWhy", Napi::String::New(env, b.cublas_why));
  o.Set("cudaArchs", DoctorSplit(env, b.cuda_archs, ','));
  o.Set("cudaDeviceCount", Napi::Number::New(env, b.cuda_device_count));
  o.Set("cudaDevices", DoctorSplit(env, b.cuda_devices, '\n'));
  o.Set("cudaWhy", Napi::String::New(env, b.cuda_why));
  o.Set("cpuIsa", Napi::String::New(env, dsx::cpu_isa()));
#ifndef DSX_ISA_TARGET
#define DSX_ISA_TARGET "native"
#endif
  // what the build asked for (DSX_ISA): native follows the building CPU, avx2/avx512 do not
  o.Set("isaTarget", Napi::String::New(env, DSX_ISA_TARGET));
  return o;
}

}  // namespace dsx_addon
