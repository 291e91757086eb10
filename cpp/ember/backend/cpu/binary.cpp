// Arithmetic elementwise primitives with two inputs.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "ember/backend/cpu/functors.h"
#include "ember/backend/cpu/kernels.h"
#include "ember/primitives.h"

namespace ember {

using namespace cpu;

namespace {

template <typename Op>
void arith(const std::vector<array>& in, array& out, Op op) {
  dispatch_all(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    binary_kernel<T, T>(in[0], in[1], out, op);
  });
}
template <typename Op>
void real_only(const std::vector<array>& in, array& out, Op op) {
  dispatch_real(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    binary_kernel<T, T>(in[0], in[1], out, op);
  });
}
template <typename Op>
void float_only(const std::vector<array>& in, array& out, Op op) {
  dispatch_float(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    binary_kernel<T, T>(in[0], in[1], out, op);
  });
}
template <typename Op>
void integer_only(const std::vector<array>& in, array& out, Op op) {
  dispatch_integer(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    if constexpr (!std::is_same_v<T, bool>) binary_kernel<T, T>(in[0], in[1], out, op);
    else throw std::invalid_argument("Bitwise shift is not supported for bool.");
  });
}

namespace pw {
#include "ember/half_impl.h"
#include "ember/backend/cpu/simd_math_impl.h"
}  // namespace pw

// Floating x ** e with one exponent for every element: small integers and +-1/2 avoid
// pow (exactly rounded for float32 and narrower, which are computed in double).
bool pow_by_scalar(const std::vector<array>& in, array& out) {
  bool done = false;
  dispatch_float(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    double e = static_cast<double>(static_cast<compute_t<T>>(in[1].data<T>()[0]));
    int kind = pw::em_pow_kind(e);
    if (kind == 1) {
      int ie = (int)e;
      binary_kernel<T, T>(in[0], in[1], out, [ie](T x, T) {
        return T(static_cast<compute_t<T>>(pw::em_powi(static_cast<double>(x), ie)));
      });
    } else if (kind == 2) {
      bool neg = e < 0;
      binary_kernel<T, T>(in[0], in[1], out, [neg](T x, T) {
        return T(static_cast<compute_t<T>>(pw::em_pow_half(static_cast<double>(x), neg)));
      });
    }
    done = kind != 0;
  });
  return done;
}

}  // namespace

void Add::eval_cpu(const std::vector<array>& in, array& out) { arith(in, out, AddF{}); }
void Subtract::eval_cpu(const std::vector<array>& in, array& out) { arith(in, out, SubtractF{}); }
void Multiply::eval_cpu(const std::vector<array>& in, array& out) { arith(in, out, MultiplyF{}); }
void Divide::eval_cpu(const std::vector<array>& in, array& out) {
  dispatch_inexact(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    binary_kernel<T, T>(in[0], in[1], out, DivideF{});
  });
}
void FloorDivide::eval_cpu(const std::vector<array>& in, array& out) {
  real_only(in, out, FloorDivideF{});
}
void Remainder::eval_cpu(const std::vector<array>& in, array& out) {
  real_only(in, out, RemainderF{});
}
void Power::eval_cpu(const std::vector<array>& in, array& out) {
  if (is_floating_point(in[0].dtype()) && in[1].data_size() == 1 && pow_by_scalar(in, out)) return;
  if (in[0].dtype() == complex64) {
    binary_kernel<complex64_t, complex64_t>(in[0], in[1], out,
                                            [](complex64_t a, complex64_t b) { return std::pow(a, b); });
    return;
  }
  real_only(in, out, PowerF{});
}
void Maximum::eval_cpu(const std::vector<array>& in, array& out) { arith(in, out, MaximumF{}); }
void Minimum::eval_cpu(const std::vector<array>& in, array& out) { arith(in, out, MinimumF{}); }
void ArcTan2::eval_cpu(const std::vector<array>& in, array& out) { float_only(in, out, ArcTan2F{}); }
void LogAddExp::eval_cpu(const std::vector<array>& in, array& out) {
  dispatch_inexact(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    binary_kernel<T, T>(in[0], in[1], out, LogAddExpF{});
  });
}
void BitwiseAnd::eval_cpu(const std::vector<array>& in, array& out) {
  dispatch_integer(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    binary_kernel<T, T>(in[0], in[1], out, BitwiseAndF{});
  });
}
void BitwiseOr::eval_cpu(const std::vector<array>& in, array& out) {
  dispatch_integer(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    binary_kernel<T, T>(in[0], in[1], out, BitwiseOrF{});
  });
}
void BitwiseXor::eval_cpu(const std::vector<array>& in, array& out) {
  dispatch_integer(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    binary_kernel<T, T>(in[0], in[1], out, BitwiseXorF{});
  });
}
void LeftShift::eval_cpu(const std::vector<array>& in, array& out) {
  integer_only(in, out, LeftShiftF{});
}
void RightShift::eval_cpu(const std::vector<array>& in, array& out) {
  integer_only(in, out, RightShiftF{});
}

}  // namespace ember
