// Dispatch on dtype to a generic lambda taking a type tag, and value conversion.
#pragma once

#include <stdexcept>
#include <cmath>
#include <cstring>
#include <string>

#include "ember/dtype.h"

namespace ember {

template <typename T>
struct type_tag {
  using type = T;
};

#define EMBER_CASE(D, T) \
  case Dtype::D:         \
    return f(type_tag<T>{});

// All fourteen dtypes.
template <typename F>
decltype(auto) dispatch_all(Dtype t, F&& f) {
  switch (t) {
    EMBER_CASE(Bool, bool)
    EMBER_CASE(UInt8, uint8_t)
    EMBER_CASE(UInt16, uint16_t)
    EMBER_CASE(UInt32, uint32_t)
    EMBER_CASE(UInt64, uint64_t)
    EMBER_CASE(Int8, int8_t)
    EMBER_CASE(Int16, int16_t)
    EMBER_CASE(Int32, int32_t)
    EMBER_CASE(Int64, int64_t)
    EMBER_CASE(Float16, float16_t)
    EMBER_CASE(BFloat16, bfloat16_t)
    EMBER_CASE(Float32, float)
    EMBER_CASE(Float64, double)
    EMBER_CASE(Complex64, complex64_t)
  }
  throw std::invalid_argument("Unknown dtype.");
}

// Real (non-complex) dtypes.
template <typename F>
decltype(auto) dispatch_real(Dtype t, F&& f) {
  switch (t) {
    EMBER_CASE(Bool, bool)
    EMBER_CASE(UInt8, uint8_t)
    EMBER_CASE(UInt16, uint16_t)
    EMBER_CASE(UInt32, uint32_t)
    EMBER_CASE(UInt64, uint64_t)
    EMBER_CASE(Int8, int8_t)
    EMBER_CASE(Int16, int16_t)
    EMBER_CASE(Int32, int32_t)
    EMBER_CASE(Int64, int64_t)
    EMBER_CASE(Float16, float16_t)
    EMBER_CASE(BFloat16, bfloat16_t)
    EMBER_CASE(Float32, float)
    EMBER_CASE(Float64, double)
    default:
      throw std::invalid_argument(std::string("Operation not supported for dtype ") +
                                  dtype_name(t) + ".");
  }
}

// Floating-point and complex dtypes.
template <typename F>
decltype(auto) dispatch_inexact(Dtype t, F&& f) {
  switch (t) {
    EMBER_CASE(Float16, float16_t)
    EMBER_CASE(BFloat16, bfloat16_t)
    EMBER_CASE(Float32, float)
    EMBER_CASE(Float64, double)
    EMBER_CASE(Complex64, complex64_t)
    default:
      throw std::invalid_argument(std::string("Operation not supported for dtype ") +
                                  dtype_name(t) + ".");
  }
}

// Floating-point dtypes only.
template <typename F>
decltype(auto) dispatch_float(Dtype t, F&& f) {
  switch (t) {
    EMBER_CASE(Float16, float16_t)
    EMBER_CASE(BFloat16, bfloat16_t)
    EMBER_CASE(Float32, float)
    EMBER_CASE(Float64, double)
    default:
      throw std::invalid_argument(std::string("Operation not supported for dtype ") +
                                  dtype_name(t) + ".");
  }
}

// Integer and boolean dtypes.
template <typename F>
decltype(auto) dispatch_integer(Dtype t, F&& f) {
  switch (t) {
    EMBER_CASE(Bool, bool)
    EMBER_CASE(UInt8, uint8_t)
    EMBER_CASE(UInt16, uint16_t)
    EMBER_CASE(UInt32, uint32_t)
    EMBER_CASE(UInt64, uint64_t)
    EMBER_CASE(Int8, int8_t)
    EMBER_CASE(Int16, int16_t)
    EMBER_CASE(Int32, int32_t)
    EMBER_CASE(Int64, int64_t)
    default:
      throw std::invalid_argument(std::string("Operation not supported for dtype ") +
                                  dtype_name(t) + ".");
  }
}
#undef EMBER_CASE

template <typename T>
constexpr bool is_half_v = std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>;
template <typename T>
constexpr bool is_complex_v = std::is_same_v<T, complex64_t>;

// The type arithmetic on T is carried out in.
template <typename T>
using compute_t = std::conditional_t<is_half_v<T>, float, T>;

template <typename To, typename From>
inline To cast_to(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (is_complex_v<From>) {
    if constexpr (std::is_same_v<To, bool>) return v != complex64_t(0);
    else return cast_to<To>(v.real());
  } else if constexpr (is_half_v<From>) {
    return cast_to<To>(static_cast<float>(v));
  } else if constexpr (is_complex_v<To>) {
    return complex64_t(static_cast<float>(v), 0.0f);
  } else if constexpr (is_half_v<To> && std::is_same_v<From, double>) {
    // Round to odd into float first so that the final rounding to 16 bits is exact.
    float f = static_cast<float>(v);
    if (static_cast<double>(f) != v && v == v) {
      uint32_t b;
      std::memcpy(&b, &f, 4);
      if (std::fabs(static_cast<double>(f)) > std::fabs(v)) --b;
      b |= 1u;
      std::memcpy(&f, &b, 4);
    }
    return To(f);
  } else if constexpr (is_half_v<To>) {
    return To(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace ember
