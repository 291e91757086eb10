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

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    // zero or subnormal: value = man * 2^-24
    float v = (float)man * 5.9604644775390625e-08f;
    return sign ? -v : v;
  }
  return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

inline uint16_t float_to_half(float f) {
  uint32_t x = f32_bits(f);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);  // overflow -> inf
  if (ax < 0x38800000u) {
    // subnormal half (or zero): round to nearest even via float add
    float v = bits_f32(ax) + 0.5f;
    return (uint16_t)(sign | (f32_bits(v) - f32_bits(0.5f)));
  }
  uint32_t mant_odd = (ax >> 13) & 1;
  ax += 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round to nearest even
  return (uint16_t)(sign | (ax >> 13));
}

inline float bf16_to_float(uint16_t b) { return bits_f32((uint32_t)b << 16); }
inline uint16_t float_to_bf16(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return (uint16_t)(x >> 16);
}

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
