// What the OPS files of the export table (addon_ops.cc, addon_bench.cc) share: the backend
// single ops run on and the reader of one op call's attributes and tensors.
#pragma once
#include <napi.h>

#include <cstring>
#include <initializer_list>
#include <string>

#include "args.h"
#include "backend.h"

namespace dsx_addon {

using dsx::args::kMaxDim;

// The CPU backend of the op entry points (opsSetThreads sizes it).
dsx::Backend& ops_backend();

[[noreturn]] void ops_fail(const std::string& op, const std::string& msg);

// Reads attrs and tensors of one runOp call, checking presence, types and sizes.
struct OpsArgs {
  Napi::Env env;
  std::string op;
  Napi::Object attrs, tensors;

  std::string attr(const char* key) const { return op + ": attribute '" + key + "'"; }
  std::string tensor(const char* name) const { return op + ": tensor '" + name + "'"; }
  double num(const char* key) const { return dsx::args::number(attrs.Get(key), attr(key), -1e30, 1e30); }
  double num_or(const char* key, double dflt) const {
    Napi::Value v = attrs.Get(key);
    if (v.IsUndefined()) return dflt;
    if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1.0 : 0.0;
    return dsx::args::number(v, attr(key), -1e30, 1e30);
  }
  int pos(const char* key) const { return dsx::args::int32(attrs.Get(key), attr(key), 1, kMaxDim); }
  int nonneg(const char* key, int hi = kMaxDim) const { return dsx::args::int32(attrs.Get(key), attr(key), 0, hi); }
  // size of a tensor from its dimensions, refused when it overflows or is too large
  size_t size(std::initializer_list<long long> dims, const char* name) const {
    return dsx::args::elements(dims, tensor(name));
  }
  bool skip(const char* name) const {
    Napi::Value v = attrs.Get("skip");
    if (v.IsUndefined()) return false;
    if (!v.IsArray()) dsx::args::type_error(attr("skip") + " must be an array of names");
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i)
      if (a.Get(i).IsString() && a.Get(i).As<Napi::String>().Utf8Value() == name) return true;
    return false;
  }
  bool has(const char* name) const { return tensors.Has(name) && !tensors.Get(name).IsUndefined(); }
  const float* in(const char* name, size_t n) const { return dsx::args::f32(tensors.Get(name), tensor(name), n).Data(); }
  const float* opt_in(const char* name, size_t n) const { return has(name) ? in(name, n) : nullptr; }
  // A fresh output array: a copy of tensors[name] when given (so "adds into" can be tested),
  // zeros otherwise.
  Napi::Float32Array out(const char* name, size_t n) const {
    const float* from = opt_in(name, n);
    Napi::Float32Array a = dsx::args::new_f32(env, n, tensor(name));
    if (from && n) std::memcpy(a.Data(), from, n * sizeof(float));
    return a;
  }
  Napi::Float32Array fresh(const char* name, size_t n) const { return dsx::args::new_f32(env, n, tensor(name)); }
};

// An SCC shape from its fields, refused (naming `op`) when it is not a legal SCC.
dsx::SccShape ops_scc_shape(const std::string& op, int N, int Cin, int H, int W, int Cout, int groups,
                            int stride);

}  // namespace dsx_addon
