// Argument readers of the addon (args.h): type, range and size checks with one error type.
#include "args.h"

#include <cmath>
#include <limits>

namespace dsx::args {

void type_error(const std::string& msg) { throw ArgError(true, msg); }
void range_error(const std::string& msg) { throw ArgError(false, msg); }

namespace {
std::string fmt(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  std::string s = std::to_string(d);
  // 3.000000 -> 3, 0.500000 -> 0.5
  if (s.find('.') != std::string::npos) {
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
  }
  return s;
}
std::string at(const std::string& where, const char* key) {
  return where.empty() ? std::string(key) : where + "." + key;
}
}  // namespace

Napi::Object object(const Napi::Value& v, const std::string& what) {
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction()) type_error(what + " must be an object");
  return v.As<Napi::Object>();
}

bool present(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

Napi::Value required(const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) type_error("missing field '" + at(where, key) + "'");
  return v;
}

double number(const Napi::Value& v, const std::string& what, double lo, double hi) {
  if (!v.IsNumber()) type_error(what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < lo || d > hi)
    range_error(what + " must be a finite number in [" + fmt(lo) + ", " + fmt(hi) + "], got " + fmt(d));
  return d;
}

long long integer(const Napi::Value& v, const std::string& what, long long lo, long long hi) {
  if (!v.IsNumber()) type_error(what + " must be an integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  // compared as doubles before any cast: a cast of NaN or 1e300 to an integer is undefined
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(lo) || d > static_cast<double>(hi))
    range_error(what + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                fmt(d));
  return static_cast<long long>(d);
}

int int32(const Napi::Value& v, const std::string& what, int lo, int hi) {
  return static_cast<int>(integer(v, what, lo, hi));
}

double num_field(const Napi::Object& o, const char* key, const std::string& where, double lo, double hi) {
  return number(required(o, key, where), at(where, key), lo, hi);
}
double num_field_or(const Napi::Object& o, const char* key, const std::string& where, double lo, double hi,
                    double dflt) {
  return present(o, key) ? num_field(o, key, where, lo, hi) : dflt;
}
int int_field(const Napi::Object& o, const char* key, const std::string& where, int lo, int hi) {
  return int32(required(o, key, where), at(where, key), lo, hi);
}
int int_field_or(const Napi::Object& o, const char* key, const std::string& where, int lo, int hi, int dflt) {
  return present(o, key) ? int_field(o, key, where, lo, hi) : dflt;
}

bool bool_field_or(const Napi::Object& o, const char* key, const std::string& where, bool dflt) {
  if (!present(o, key)) return dflt;
  Napi::Value v = o.Get(key);
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
  if (v.IsNumber()) return int32(v, at(where, key), 0, 1) != 0;
  type_error(at(where, key) + " must be true or false");
}

std::string str(const Napi::Value& v, const std::string& what, size_t max_length) {
  if (!v.IsString()) type_error(what + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.size() > max_length) range_error(what + " is longer than " + std::to_string(max_length) + " bytes");
  return s;
}

std::string str_field_or(const Napi::Object& o, const char* key, const std::string& where,
                         const std::string& dflt) {
  return present(o, key) ? str(o.Get(key), at(where, key)) : dflt;
}

std::string device_field_or(const Napi::Object& o, const char* key, const std::string& where,
                            const std::string& dflt) {
  const std::string d = str_field_or(o, key, where, dflt);
  if (d == "auto" || d == "cpu" || d == "cuda") return d;
  bool ok = d.rfind("cuda:", 0) == 0 && d.size() > 5 && d.size() <= 8;
  for (size_t i = 5; ok && i < d.size(); ++i) ok = d[i] >= '0' && d[i] <= '9';
  if (!ok || std::stoi(d.substr(5)) > 255)
    range_error(at(where, key) + ": unknown device '" + d.substr(0, 40) + "' (auto, cpu, cuda or cuda:N, N = 0..255)");
  return d;
}

size_t elements(std::initializer_list<long long> dims, const std::string& what, size_t cap) {
  size_t n = 1;
  for (long long d : dims) {
    if (d < 0) range_error(what + ": negative size");
    const auto u = static_cast<unsigned long long>(d);
    if (u != 0 && n > cap / u) range_error(what + " would need more than " + std::to_string(cap) + " elements");
    n *= static_cast<size_t>(u);
  }
  return n;
}

namespace {
const char* type_name(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return "Float32Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint8_array: return "Uint8Array";
    default: return "typed array";
  }
}
}  // namespace

Napi::TypedArray typed(const Napi::Value& v, napi_typedarray_type type, const std::string& what, size_t n) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    type_error(what + " must be a " + type_name(type));
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  if (n != kAnyLength && a.ElementLength() != n)
    range_error(what + " has " + std::to_string(a.ElementLength()) + " values, expected " + std::to_string(n));
  return a;
}

Napi::Float32Array f32(const Napi::Value& v, const std::string& what, size_t n) {
  return typed(v, napi_float32_array, what, n).As<Napi::Float32Array>();
}
Napi::Int32Array i32(const Napi::Value& v, const std::string& what, size_t n) {
  return typed(v, napi_int32_array, what, n).As<Napi::Int32Array>();
}
Napi::Uint8Array u8(const Napi::Value& v, const std::string& what) {
  return typed(v, napi_uint8_array, what).As<Napi::Uint8Array>();
}

Napi::Float32Array new_f32(Napi::Env env, size_t n, const std::string& what) {
  if (n > kMaxElements) range_error(what + " would need more than " + std::to_string(kMaxElements) + " elements");
  return Napi::Float32Array::New(env, n);
}

}  // namespace dsx::args
