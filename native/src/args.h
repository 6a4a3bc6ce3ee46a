// Argument readers of the addon's export table: every value a JavaScript caller passes is
// read through these, which check its type, range and size and throw ArgError otherwise.
// TypeScript validates first (src/config, src/engine); these readers are what stands between
// a wrong direct call and a crash: no unchecked cast, no size product that can overflow, no
// allocation larger than kMaxElements, no typed array of the wrong type or length.
// Every export is registered through guarded<>, which turns ArgError (and any other C++
// exception) into a JavaScript TypeError, RangeError or Error.
#pragma once
#include <napi.h>

#include <cstddef>
#include <initializer_list>
#include <new>
#include <stdexcept>
#include <string>

namespace dsx::args {

// The one error type of the readers; `type` says TypeError (wrong kind of value) or
// RangeError (right kind, wrong size or value).
struct ArgError : std::runtime_error {
  bool type;
  ArgError(bool is_type, const std::string& msg) : std::runtime_error(msg), type(is_type) {}
};
[[noreturn]] void type_error(const std::string& msg);
[[noreturn]] void range_error(const std::string& msg);

// The largest tensor one call may ask for (1 GiB of float32): a call asking for more is
// refused before anything is allocated.
constexpr size_t kMaxElements = size_t(1) << 28;
// The largest CPU thread count a call may ask for.
constexpr int kMaxThreads = 1024;
// Sizes a layer or op attribute may take (channels, heights, kernels, ...): big enough for
// any real layer, small enough that sums like H + 2*pad cannot overflow an int.
constexpr int kMaxDim = 1 << 24;

Napi::Object object(const Napi::Value& v, const std::string& what);
// A field that must be present (neither undefined nor null).
Napi::Value required(const Napi::Object& o, const char* key, const std::string& where);
bool present(const Napi::Object& o, const char* key);

// A finite number in [lo, hi].
double number(const Napi::Value& v, const std::string& what, double lo, double hi);
// An integer in [lo, hi] (no truncation: 1.5, NaN and 2^31 are refused, not rounded or wrapped).
long long integer(const Napi::Value& v, const std::string& what, long long lo, long long hi);
int int32(const Napi::Value& v, const std::string& what, int lo, int hi);

double num_field(const Napi::Object& o, const char* key, const std::string& where, double lo, double hi);
double num_field_or(const Napi::Object& o, const char* key, const std::string& where, double lo, double hi,
                    double dflt);
int int_field(const Napi::Object& o, const char* key, const std::string& where, int lo, int hi);
int int_field_or(const Napi::Object& o, const char* key, const std::string& where, int lo, int hi, int dflt);
// Absent: dflt; present: must be a boolean (or, for op attributes, 0/1).
bool bool_field_or(const Napi::Object& o, const char* key, const std::string& where, bool dflt);
std::string str(const Napi::Value& v, const std::string& what, size_t max_length = 4096);
std::string str_field_or(const Napi::Object& o, const char* key, const std::string& where,
                         const std::string& dflt);

// "auto" | "cpu" | "cuda" | "cuda:N": the device strings the engine knows.
std::string device_field_or(const Napi::Object& o, const char* key, const std::string& where,
                            const std::string& dflt);

// Product of sizes, refused when it overflows or exceeds kMaxElements.
size_t elements(std::initializer_list<long long> dims, const std::string& what, size_t cap = kMaxElements);

// A typed array of the given type; with n != kAnyLength it must hold exactly n elements.
constexpr size_t kAnyLength = static_cast<size_t>(-1);
Napi::TypedArray typed(const Napi::Value& v, napi_typedarray_type type, const std::string& what,
                       size_t n = kAnyLength);
Napi::Float32Array f32(const Napi::Value& v, const std::string& what, size_t n = kAnyLength);
Napi::Int32Array i32(const Napi::Value& v, const std::string& what, size_t n = kAnyLength);
Napi::Uint8Array u8(const Napi::Value& v, const std::string& what);
// A fresh Float32Array of n (already checked) elements.
Napi::Float32Array new_f32(Napi::Env env, size_t n, const std::string& what);

// Wraps an export: whatever a call throws reaches JavaScript as an exception, never as a
// C++ exception escaping into Node (which would abort the process).
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const ArgError& e) {
    if (e.type) throw Napi::TypeError::New(info.Env(), e.what());
    throw Napi::RangeError::New(info.Env(), e.what());
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(info.Env(), "out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  } catch (...) {
    throw Napi::Error::New(info.Env(), "unexpected native error");
  }
}

}  // namespace dsx::args
