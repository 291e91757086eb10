// Element types, half-precision value types and type promotion.
#pragma once

#include <complex>
#include <cstdint>
#include <cstring>
#include <string>

namespace ember {

enum class Dtype : uint8_t {
  Bool,
  UInt8,
  UInt16,
  UInt32,
  UInt64,
  Int8,
  Int16,
  Int32,
  Int64,
  Float16,
  BFloat16,
  Float32,
  Float64,
  Complex64,
};
constexpr int kNumDtypes = 14;

constexpr Dtype bool_ = Dtype::Bool;
constexpr Dtype uint8 = Dtype::UInt8;
constexpr Dtype uint16 = Dtype::UInt16;
constexpr Dtype uint32 = Dtype::UInt32;
constexpr Dtype uint64 = Dtype::UInt64;
constexpr Dtype int8 = Dtype::Int8;
constexpr Dtype int16 = Dtype::Int16;
constexpr Dtype int32 = Dtype::Int32;
constexpr Dtype int64 = Dtype::Int64;
constexpr Dtype float16 = Dtype::Float16;
constexpr Dtype bfloat16 = Dtype::BFloat16;
constexpr Dtype float32 = Dtype::Float32;
constexpr Dtype float64 = Dtype::Float64;
constexpr Dtype complex64 = Dtype::Complex64;

enum class DtypeKind { Bool, Unsigned, Signed, Floating, Complex };

int size_of(Dtype t);
DtypeKind kind(Dtype t);
const char* dtype_name(Dtype t);
inline bool is_floating_point(Dtype t) { return kind(t) == DtypeKind::Floating; }
inline bool is_complex(Dtype t) { return kind(t) == DtypeKind::Complex; }
inline bool is_inexact(Dtype t) { return is_floating_point(t) || is_complex(t); }
inline bool is_integral(Dtype t) {
  return kind(t) == DtypeKind::Signed || kind(t) == DtypeKind::Unsigned;
}
inline bool is_unsigned(Dtype t) { return kind(t) == DtypeKind::Unsigned; }
Dtype promote_types(Dtype a, Dtype b);

// ---------- half precision value types (stored as 16 bits, computed in float)

#include "ember/half_impl.h"

inline float half_to_float(uint16_t h) { return em_h2f(h); }
inline uint16_t float_to_half(float f) { return em_f2h(f); }
inline float bf16_to_float(uint16_t b) { return em_b2f(b); }
inline uint16_t float_to_bf16(float f) { return em_f2b(f); }

struct float16_t {
  uint16_t bits;
  float16_t() = default;
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  float16_t(T v) : bits(float_to_half((float)v)) {}
  operator float() const { return half_to_float(bits); }
};

struct bfloat16_t {
  uint16_t bits;
  bfloat16_t() = default;
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  bfloat16_t(T v) : bits(float_to_bf16((float)v)) {}
  operator float() const { return bf16_to_float(bits); }
};

using complex64_t = std::complex<float>;

template <typename T>
struct dtype_of;
#define EMBER_DTYPE_OF(T, D) \
  template <>                \
  struct dtype_of<T> {       \
    static constexpr Dtype value = D; \
  };
EMBER_DTYPE_OF(bool, bool_)
EMBER_DTYPE_OF(uint8_t, uint8)
EMBER_DTYPE_OF(uint16_t, uint16)
EMBER_DTYPE_OF(uint32_t, uint32)
EMBER_DTYPE_OF(uint64_t, uint64)
EMBER_DTYPE_OF(int8_t, int8)
EMBER_DTYPE_OF(int16_t, int16)
EMBER_DTYPE_OF(int32_t, int32)
EMBER_DTYPE_OF(int64_t, int64)
EMBER_DTYPE_OF(float16_t, float16)
EMBER_DTYPE_OF(bfloat16_t, bfloat16)
EMBER_DTYPE_OF(float, float32)
EMBER_DTYPE_OF(double, float64)
EMBER_DTYPE_OF(complex64_t, complex64)
#undef EMBER_DTYPE_OF

}  // namespace ember
