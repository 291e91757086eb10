// Scalar definitions of the elementwise operations. Half types are computed in float.
#pragma once

#include <cmath>
#include <complex>
#include <limits>

#include "ember/dispatch.h"

namespace ember::cpu {

template <typename T>
inline bool isnan_(T x) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(x);
  else if constexpr (is_complex_v<T>) return std::isnan(x.real()) || std::isnan(x.imag());
  else return false;
}

float erfinv_f(float x);

template <typename C>
inline C log1p_(C x) {
  if constexpr (is_complex_v<C>) return std::log(C(1) + x);
  else return std::log1p(x);
}
template <typename C>
inline C log2_(C x) {
  if constexpr (is_complex_v<C>) return std::log(x) / C(0.69314718055994530942f);
  else return std::log2(x);
}
double erfinv_d(double x);

// Wraps a computation so that half types go through float.
#define EMBER_UNARY_FUNCTOR(NAME, EXPR)                        \
  struct NAME {                                                \
    template <typename T>                                      \
    T operator()(T in) const {                                 \
      using C = compute_t<T>;                                  \
      C x = static_cast<C>(in);                                \
      return T(EXPR);                                          \
    }                                                          \
  };

EMBER_UNARY_FUNCTOR(NegativeF, -x)
EMBER_UNARY_FUNCTOR(SquareF, x* x)
EMBER_UNARY_FUNCTOR(SqrtF, std::sqrt(x))
EMBER_UNARY_FUNCTOR(RsqrtF, C(1) / std::sqrt(x))
EMBER_UNARY_FUNCTOR(ReciprocalF, C(1) / x)
EMBER_UNARY_FUNCTOR(ExpF, std::exp(x))
EMBER_UNARY_FUNCTOR(Expm1F, std::expm1(x))
EMBER_UNARY_FUNCTOR(LogF, std::log(x))
EMBER_UNARY_FUNCTOR(Log1pF, log1p_(x))
EMBER_UNARY_FUNCTOR(Log2F, log2_(x))
EMBER_UNARY_FUNCTOR(Log10F, std::log10(x))
EMBER_UNARY_FUNCTOR(SinF, std::sin(x))
EMBER_UNARY_FUNCTOR(CosF, std::cos(x))
EMBER_UNARY_FUNCTOR(TanF, std::tan(x))
EMBER_UNARY_FUNCTOR(ArcSinF, std::asin(x))
EMBER_UNARY_FUNCTOR(ArcCosF, std::acos(x))
EMBER_UNARY_FUNCTOR(ArcTanF, std::atan(x))
EMBER_UNARY_FUNCTOR(SinhF, std::sinh(x))
EMBER_UNARY_FUNCTOR(CoshF, std::cosh(x))
EMBER_UNARY_FUNCTOR(TanhF, std::tanh(x))
EMBER_UNARY_FUNCTOR(ArcSinhF, std::asinh(x))
EMBER_UNARY_FUNCTOR(ArcCoshF, std::acosh(x))
EMBER_UNARY_FUNCTOR(ArcTanhF, std::atanh(x))
EMBER_UNARY_FUNCTOR(SigmoidF, C(1) / (C(1) + std::exp(-x)))
#undef EMBER_UNARY_FUNCTOR

struct ErfF {
  template <typename T>
  T operator()(T in) const {
    return T(std::erf(static_cast<compute_t<T>>(in)));
  }
};
struct ErfInvF {
  template <typename T>
  T operator()(T in) const {
    if constexpr (std::is_same_v<T, double>) return erfinv_d(in);
    else return T(erfinv_f(static_cast<float>(in)));
  }
};

struct AbsF {
  template <typename T>
  T operator()(T x) const {
    if constexpr (std::is_unsigned_v<T> || std::is_same_v<T, bool>) return x;
    else if constexpr (is_complex_v<T>) return T(std::abs(x));
    else if constexpr (is_half_v<T>) return T(std::fabs(static_cast<float>(x)));
    else if constexpr (std::is_floating_point_v<T>) return std::fabs(x);
    else return x < 0 ? T(-x) : x;
  }
};

struct SignF {
  template <typename T>
  T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>) return x;
    else if constexpr (std::is_unsigned_v<T>) return T(x != 0);
    else if constexpr (is_complex_v<T>) {
      float m = std::abs(x);
      return m == 0 ? T(0) : x / m;
    } else {
      using C = compute_t<T>;
      C v = static_cast<C>(x);
      if (isnan_(v)) return x;
      return T(C((v > C(0)) - (v < C(0))));
    }
  }
};

struct FloorF {
  template <typename T>
  T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) return x;
    else return T(std::floor(static_cast<compute_t<T>>(x)));
  }
};
struct CeilF {
  template <typename T>
  T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) return x;
    else return T(std::ceil(static_cast<compute_t<T>>(x)));
  }
};
// Round half to even, like numpy.
struct RoundF {
  template <typename T>
  T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) return x;
    else if constexpr (is_complex_v<T>)
      return T(std::nearbyint(x.real()), std::nearbyint(x.imag()));
    else return T(std::nearbyint(static_cast<compute_t<T>>(x)));
  }
};

// ---------- binary

#define EMBER_BINARY_FUNCTOR(NAME, EXPR)                              \
  struct NAME {                                                       \
    template <typename T>                                             \
    auto operator()(T ia, T ib) const {                               \
      using C = compute_t<T>;                                         \
      C a = static_cast<C>(ia), b = static_cast<C>(ib);               \
      return EXPR;                                                    \
    }                                                                 \
  };

EMBER_BINARY_FUNCTOR(AddF, T(a + b))
EMBER_BINARY_FUNCTOR(SubtractF, T(a - b))
EMBER_BINARY_FUNCTOR(MultiplyF, T(a* b))
EMBER_BINARY_FUNCTOR(DivideF, T(a / b))
EMBER_BINARY_FUNCTOR(EqualF, a == b)
EMBER_BINARY_FUNCTOR(NotEqualF, a != b)
EMBER_BINARY_FUNCTOR(LogicalAndF, a && b)
EMBER_BINARY_FUNCTOR(LogicalOrF, a || b)
EMBER_BINARY_FUNCTOR(ArcTan2F, T(std::atan2(a, b)))
#undef EMBER_BINARY_FUNCTOR

// Ordered comparisons; complex numbers compare lexicographically.
#define EMBER_COMPARE_FUNCTOR(NAME, OP)                                         \
  struct NAME {                                                                 \
    template <typename T>                                                       \
    bool operator()(T ia, T ib) const {                                         \
      if constexpr (is_complex_v<T>) {                                          \
        if (ia.real() != ib.real()) return ia.real() OP ib.real();              \
        return ia.imag() OP ib.imag();                                          \
      } else {                                                                  \
        using C = compute_t<T>;                                                 \
        return static_cast<C>(ia) OP static_cast<C>(ib);                        \
      }                                                                         \
    }                                                                           \
  };
EMBER_COMPARE_FUNCTOR(LessF, <)
EMBER_COMPARE_FUNCTOR(LessEqualF, <=)
EMBER_COMPARE_FUNCTOR(GreaterF, >)
EMBER_COMPARE_FUNCTOR(GreaterEqualF, >=)
#undef EMBER_COMPARE_FUNCTOR

struct EqualNaNF {
  template <typename T>
  bool operator()(T a, T b) const {
    using C = compute_t<T>;
    C x = static_cast<C>(a), y = static_cast<C>(b);
    return x == y || (isnan_(x) && isnan_(y));
  }
};

// NaN-propagating maximum and minimum.
struct MaximumF {
  template <typename T>
  T operator()(T ia, T ib) const {
    if constexpr (is_complex_v<T>) {
      if (isnan_(ia)) return ia;
      return (ia.real() > ib.real() || (ia.real() == ib.real() && ia.imag() > ib.imag())) ? ia : ib;
    } else {
      using C = compute_t<T>;
      C a = static_cast<C>(ia), b = static_cast<C>(ib);
      if constexpr (std::is_floating_point_v<C>) return (a > b || a != a) ? ia : ib;
      else return a > b ? ia : ib;
    }
  }
};
struct MinimumF {
  template <typename T>
  T operator()(T ia, T ib) const {
    if constexpr (is_complex_v<T>) {
      if (isnan_(ia)) return ia;
      return (ia.real() < ib.real() || (ia.real() == ib.real() && ia.imag() < ib.imag())) ? ia : ib;
    } else {
      using C = compute_t<T>;
      C a = static_cast<C>(ia), b = static_cast<C>(ib);
      if constexpr (std::is_floating_point_v<C>) return (a < b || a != a) ? ia : ib;
      else return a < b ? ia : ib;
    }
  }
};

// Python semantics: the result takes the sign of the divisor.
struct FloorDivideF {
  template <typename T>
  T operator()(T ia, T ib) const {
    if constexpr (std::is_same_v<T, bool>) {
      return ia && ib;
    } else if constexpr (std::is_integral_v<T>) {
      if (ib == 0) return T(0);
      if constexpr (std::is_signed_v<T>) {
        if (ib == T(-1)) return T(-ia);
        T q = ia / ib;
        if ((ia % ib != 0) && ((ia < 0) != (ib < 0))) --q;
        return q;
      } else {
        return T(ia / ib);
      }
    } else {
      using C = compute_t<T>;
      return T(std::floor(static_cast<C>(ia) / static_cast<C>(ib)));
    }
  }
};
struct RemainderF {
  template <typename T>
  T operator()(T ia, T ib) const {
    if constexpr (std::is_same_v<T, bool>) {
      return false;
    } else if constexpr (std::is_integral_v<T>) {
      if (ib == 0) return T(0);
      if constexpr (std::is_signed_v<T>) {
        if (ib == T(-1)) return T(0);
        T r = ia % ib;
        if (r != 0 && ((r < 0) != (ib < 0))) r += ib;
        return r;
      } else {
        return T(ia % ib);
      }
    } else {
      using C = compute_t<T>;
      C a = static_cast<C>(ia), b = static_cast<C>(ib);
      C r = std::fmod(a, b);
      if (r != 0 && ((r < 0) != (b < 0))) r += b;
      return T(r);
    }
  }
};
struct PowerF {
  template <typename T>
  T operator()(T ia, T ib) const {
    if constexpr (std::is_same_v<T, bool>) {
      return ia || !ib;
    } else if constexpr (std::is_integral_v<T>) {
      if constexpr (std::is_signed_v<T>) {
        if (ib < 0) return T(ia == 1 ? 1 : (ia == -1 ? ((ib & 1) ? -1 : 1) : 0));
      }
      T res = 1, base = ia;
      auto e = ib;
      while (e) {
        if (e & 1) res *= base;
        base *= base;
        e >>= 1;
      }
      return res;
    } else {
      using C = compute_t<T>;
      return T(std::pow(static_cast<C>(ia), static_cast<C>(ib)));
    }
  }
};
struct LogAddExpF {
  template <typename T>
  T operator()(T ia, T ib) const {
    using C = compute_t<T>;
    C a = static_cast<C>(ia), b = static_cast<C>(ib);
    if constexpr (is_complex_v<C>) {
      C m = a.real() > b.real() ? a : b;
      C o = a.real() > b.real() ? b : a;
      return T(m + std::log(C(1) + std::exp(o - m)));
    } else {
    if (std::isnan(a) || std::isnan(b)) return T(std::numeric_limits<C>::quiet_NaN());
    C m = a > b ? a : b;
    if (std::isinf(m) && m < 0) return T(m);
    if (std::isinf(m)) return T(m);
    return T(m + std::log1p(std::exp(-std::fabs(a - b))));
    }
  }
};

#define EMBER_INT_FUNCTOR(NAME, EXPR)     \
  struct NAME {                           \
    template <typename T>                 \
    T operator()(T a, T b) const {        \
      return T(EXPR);                     \
    }                                     \
  };
EMBER_INT_FUNCTOR(BitwiseAndF, a& b)
EMBER_INT_FUNCTOR(BitwiseOrF, a | b)
EMBER_INT_FUNCTOR(BitwiseXorF, a ^ b)
EMBER_INT_FUNCTOR(LeftShiftF, (b < 0 || b >= (T)(8 * sizeof(T))) ? T(0) : T(a << b))
EMBER_INT_FUNCTOR(RightShiftF, (b < 0 || b >= (T)(8 * sizeof(T))) ? T(a < 0 ? -1 : 0) : T(a >> b))
#undef EMBER_INT_FUNCTOR

}  // namespace ember::cpu
