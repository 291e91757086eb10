// Elementwise primitives with one input.
#include <algorithm>

#include "ember/backend/cpu/functors.h"
#include "ember/backend/cpu/kernels.h"
#include "ember/backend/cpu/simd.h"
#include "ember/primitives.h"

namespace ember {

using namespace cpu;

namespace {

template <typename Op>
void numeric(const array& in, array& out, Op op) {
  dispatch_all(in.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    unary_kernel<T, T>(in, out, op);
  });
}

// Floating-point (and complex, when allowed) ops; float32 contiguous spans use the
// vectorised implementation when there is one.
template <typename Op, bool Complex = true>
void floating(const array& in, array& out, Op op, simd::Op vop = simd::Op::Count) {
  if (in.dtype() == float32 && vop != simd::Op::Count && in.flags().contiguous) {
    alloc_like(out, in);
    simd::Fn fn = simd::get(vop);
    const float* src = in.data<float>();
    float* dst = out.data<float>();
    flat_for(in.data_size(), [&](size_t b, size_t e) { fn(src + b, dst + b, e - b); });
    return;
  }
  if ((in.dtype() == float16 || in.dtype() == bfloat16) && vop != simd::Op::Count && in.flags().contiguous) {
    // Half precision: blocks widened to float, through the vectorised function, narrowed back.
    alloc_like(out, in);
    simd::Fn fn = simd::get(vop);
    dispatch_float(in.dtype(), [&](auto t) {
      using T = typename decltype(t)::type;
      if constexpr (std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>) {
        const T* src = in.data<T>();
        T* dst = out.data<T>();
        flat_for(in.data_size(), [&](size_t b, size_t e) {
          float buf[1024];
          for (size_t s0 = b; s0 < e; s0 += 1024) {
            size_t w = std::min<size_t>(1024, e - s0);
            convert_span(src + s0, buf, w);
            fn(buf, buf, w);
            convert_span(buf, dst + s0, w);
          }
        });
      }
    });
    return;
  }
  auto run = [&](auto t) {
    using T = typename decltype(t)::type;
    unary_kernel<T, T>(in, out, op);
  };
  if constexpr (Complex) dispatch_inexact(in.dtype(), run);
  else dispatch_float(in.dtype(), run);
}

template <typename Pred>
void predicate(const array& in, array& out, Pred pred) {
  dispatch_all(in.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    unary_kernel<T, bool>(in, out, [&](T x) { return pred(x); });
  });
}

}  // namespace

void Negative::eval_cpu(const std::vector<array>& in, array& out) { numeric(in[0], out, NegativeF{}); }
void Abs::eval_cpu(const std::vector<array>& in, array& out) {
  if (in[0].dtype() == complex64) {
    unary_kernel<complex64_t, float>(in[0], out, [](complex64_t x) { return std::abs(x); });
    return;
  }
  numeric(in[0], out, AbsF{});
}
void Sign::eval_cpu(const std::vector<array>& in, array& out) { numeric(in[0], out, SignF{}); }
void Square::eval_cpu(const std::vector<array>& in, array& out) { numeric(in[0], out, SquareF{}); }
void Sqrt::eval_cpu(const std::vector<array>& in, array& out) { floating(in[0], out, SqrtF{}); }
void Rsqrt::eval_cpu(const std::vector<array>& in, array& out) { floating(in[0], out, RsqrtF{}); }
void Reciprocal::eval_cpu(const std::vector<array>& in, array& out) {
  floating(in[0], out, ReciprocalF{});
}
void Exp::eval_cpu(const std::vector<array>& in, array& out) {
  floating(in[0], out, ExpF{}, simd::Op::Exp);
}
void Expm1::eval_cpu(const std::vector<array>& in, array& out) {
  floating<Expm1F, false>(in[0], out, Expm1F{}, simd::Op::Expm1);
}
void Log::eval_cpu(const std::vector<array>& in, array& out) {
  floating(in[0], out, LogF{}, simd::Op::Log);
}
void Log1p::eval_cpu(const std::vector<array>& in, array& out) {
  floating(in[0], out, Log1pF{}, simd::Op::Log1p);
}
void Log2::eval_cpu(const std::vector<array>& in, array& out) {
  floating(in[0], out, Log2F{}, simd::Op::Log2);
}
void Log10::eval_cpu(const std::vector<array>& in, array& out) {
  floating(in[0], out, Log10F{}, simd::Op::Log10);
}
void Sin::eval_cpu(const std::vector<array>& in, array& out) {
  floating(in[0], out, SinF{}, simd::Op::Sin);
}
void Cos::eval_cpu(const std::vector<array>& in, array& out) {
  floating(in[0], out, CosF{}, simd::Op::Cos);
}
void Tan::eval_cpu(const std::vector<array>& in, array& out) { floating(in[0], out, TanF{}); }
void ArcSin::eval_cpu(const std::vector<array>& in, array& out) { floating(in[0], out, ArcSinF{}); }
void ArcCos::eval_cpu(const std::vector<array>& in, array& out) { floating(in[0], out, ArcCosF{}); }
void ArcTan::eval_cpu(const std::vector<array>& in, array& out) { floating(in[0], out, ArcTanF{}); }
void Sinh::eval_cpu(const std::vector<array>& in, array& out) { floating(in[0], out, SinhF{}); }
void Cosh::eval_cpu(const std::vector<array>& in, array& out) { floating(in[0], out, CoshF{}); }
void Tanh::eval_cpu(const std::vector<array>& in, array& out) {
  floating(in[0], out, TanhF{}, simd::Op::Tanh);
}
void ArcSinh::eval_cpu(const std::vector<array>& in, array& out) {
  floating(in[0], out, ArcSinhF{});
}
void ArcCosh::eval_cpu(const std::vector<array>& in, array& out) {
  floating(in[0], out, ArcCoshF{});
}
void ArcTanh::eval_cpu(const std::vector<array>& in, array& out) {
  floating(in[0], out, ArcTanhF{});
}
void Sigmoid::eval_cpu(const std::vector<array>& in, array& out) {
  floating(in[0], out, SigmoidF{}, simd::Op::Sigmoid);
}
void Erf::eval_cpu(const std::vector<array>& in, array& out) {
  floating<ErfF, false>(in[0], out, ErfF{});
}
void ErfInv::eval_cpu(const std::vector<array>& in, array& out) {
  floating<ErfInvF, false>(in[0], out, ErfInvF{});
}
void Floor::eval_cpu(const std::vector<array>& in, array& out) {
  dispatch_real(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    unary_kernel<T, T>(in[0], out, FloorF{});
  });
}
void Ceil::eval_cpu(const std::vector<array>& in, array& out) {
  dispatch_real(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    unary_kernel<T, T>(in[0], out, CeilF{});
  });
}
void Round::eval_cpu(const std::vector<array>& in, array& out) { numeric(in[0], out, RoundF{}); }
void LogicalNot::eval_cpu(const std::vector<array>& in, array& out) {
  predicate(in[0], out, [](auto x) { return !cast_to<bool>(x); });
}
void IsNaN::eval_cpu(const std::vector<array>& in, array& out) {
  predicate(in[0], out, [](auto x) { return isnan_(static_cast<compute_t<decltype(x)>>(x)); });
}
void IsInf::eval_cpu(const std::vector<array>& in, array& out) {
  predicate(in[0], out, [](auto x) {
    using C = compute_t<decltype(x)>;
    if constexpr (std::is_floating_point_v<C>) return std::isinf(static_cast<C>(x));
    else if constexpr (is_complex_v<C>) return std::isinf(x.real()) || std::isinf(x.imag());
    else return false;
  });
}
void IsPosInf::eval_cpu(const std::vector<array>& in, array& out) {
  predicate(in[0], out, [](auto x) {
    using C = compute_t<decltype(x)>;
    if constexpr (std::is_floating_point_v<C>) {
      C v = static_cast<C>(x);
      return std::isinf(v) && v > 0;
    } else return false;
  });
}
void IsNegInf::eval_cpu(const std::vector<array>& in, array& out) {
  predicate(in[0], out, [](auto x) {
    using C = compute_t<decltype(x)>;
    if constexpr (std::is_floating_point_v<C>) {
      C v = static_cast<C>(x);
      return std::isinf(v) && v < 0;
    } else return false;
  });
}
void Real::eval_cpu(const std::vector<array>& in, array& out) {
  unary_kernel<complex64_t, float>(in[0], out, [](complex64_t x) { return x.real(); });
}
void Imag::eval_cpu(const std::vector<array>& in, array& out) {
  unary_kernel<complex64_t, float>(in[0], out, [](complex64_t x) { return x.imag(); });
}
void Conjugate::eval_cpu(const std::vector<array>& in, array& out) {
  unary_kernel<complex64_t, complex64_t>(in[0], out, [](complex64_t x) { return std::conj(x); });
}
void BitwiseInvert::eval_cpu(const std::vector<array>& in, array& out) {
  dispatch_integer(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    if constexpr (std::is_same_v<T, bool>)
      unary_kernel<T, T>(in[0], out, [](T x) { return !x; });
    else
      unary_kernel<T, T>(in[0], out, [](T x) { return T(~x); });
  });
}
void StopGradient::eval_cpu(const std::vector<array>& in, array& out) {
  out.copy_shared_buffer(in[0]);
}

// Inverse error function: a rational initial guess refined by Newton steps on erf.
double cpu::erfinv_d(double y) {
  if (std::isnan(y) || y < -1 || y > 1) return std::numeric_limits<double>::quiet_NaN();
  if (y == 1) return std::numeric_limits<double>::infinity();
  if (y == -1) return -std::numeric_limits<double>::infinity();
  // Giles' single-precision approximation as a starting point.
  double w = -std::log((1.0 - y) * (1.0 + y)), x;
  if (w < 5.0) {
    w -= 2.5;
    double p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
    x = p * y;
  } else {
    w = std::sqrt(w) - 3.0;
    double p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
    x = p * y;
  }
  const double k = 1.1283791670955126;  // 2 / sqrt(pi)
  for (int i = 0; i < 2; ++i) {
    double err = std::erf(x) - y;
    x -= err / (k * std::exp(-x * x));
  }
  return x;
}
float cpu::erfinv_f(float y) { return (float)cpu::erfinv_d((double)y); }

}  // namespace ember
