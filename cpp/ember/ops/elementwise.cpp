#include <cmath>

#include "ember/ops/common.h"

namespace ember {

namespace {

template <typename P>
array unary(const array& a, Dtype out, S s) {
  return make_node<P>(a.shape(), out, {a}, s);
}
// Float-valued ops: integer inputs become float32 first.
template <typename P>
array unary_float(const array& a, S s) {
  array x = to_inexact(a, s);
  return unary<P>(x, x.dtype(), s);
}
template <typename P>
array unary_real_float(const array& a, const char* op, S s) {
  if (a.dtype() == complex64) op_error(op, "Not supported for complex64.");
  return unary_float<P>(a, s);
}

// Promote, broadcast and build a two-input node.
// Scalars (0-d) go to the kernel as they are; other operands are broadcast views.
array bcast(const array& a, const Shape& shape, S s) {
  return a.ndim() == 0 ? a : broadcast_to(a, shape, s);
}

Shape checked_broadcast(const array& a, const array& b, const char* op) {
  try {
    return broadcast_shapes(a.shape(), b.shape());
  } catch (const std::invalid_argument&) {
    op_error(op, "Shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                     " cannot be broadcast.");
  }
}

// Checks and broadcasts the operands (once), converts them and builds the node.
template <typename P>
array binary(const array& a, const array& b, Dtype compute, Dtype out, const char* op, S s) {
  Shape shape = checked_broadcast(a, b, op);
  array x = bcast(astype(a, compute, s), shape, s);
  array y = bcast(astype(b, compute, s), shape, s);
  return make_node<P>(std::move(shape), out, {x, y}, s);
}


template <typename P>
array arith(const array& a, const array& b, const char* op, S s) {
  Dtype t = promote_types(a.dtype(), b.dtype());
  return binary<P>(a, b, t, t, op, s);
}
template <typename P>
array arith_float(const array& a, const array& b, const char* op, S s) {
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (!is_inexact(t)) t = float32;
  return binary<P>(a, b, t, t, op, s);
}
template <typename P>
array compare(const array& a, const array& b, const char* op, S s) {
  Dtype t = promote_types(a.dtype(), b.dtype());
  return binary<P>(a, b, t, bool_, op, s);
}
template <typename P>
array bitwise(const array& a, const array& b, const char* op, S s) {
  Dtype t = promote_types(a.dtype(), b.dtype());
  // A RuntimeError, as MLX raises here (the Python operators reject inexact operands first,
  // with a ValueError).
  if (!is_integral(t) && t != bool_)
    throw std::runtime_error(std::string("[") + op +
                             "] Only allowed on integer or boolean types but got types " +
                             dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()) + ".");
  return binary<P>(a, b, t, t, op, s);
}

}  // namespace

array negative(const array& a, S s) {
  if (a.dtype() == bool_) op_error("negative", "The negative of a boolean array is not supported.");
  return unary<Negative>(a, a.dtype(), s);
}
array abs(const array& a, S s) {
  return unary<Abs>(a, a.dtype() == complex64 ? float32 : a.dtype(), s);
}
array sign(const array& a, S s) { return unary<Sign>(a, a.dtype(), s); }
array square(const array& a, S s) { return unary<Square>(a, a.dtype(), s); }
array sqrt(const array& a, S s) { return unary_float<Sqrt>(a, s); }
array rsqrt(const array& a, S s) { return unary_float<Rsqrt>(a, s); }
array reciprocal(const array& a, S s) { return unary_float<Reciprocal>(a, s); }
array exp(const array& a, S s) { return unary_float<Exp>(a, s); }
array expm1(const array& a, S s) { return unary_real_float<Expm1>(a, "expm1", s); }
array log(const array& a, S s) { return unary_float<Log>(a, s); }
array log1p(const array& a, S s) { return unary_float<Log1p>(a, s); }
array log2(const array& a, S s) { return unary_float<Log2>(a, s); }
array log10(const array& a, S s) { return unary_float<Log10>(a, s); }
array sin(const array& a, S s) { return unary_float<Sin>(a, s); }
array cos(const array& a, S s) { return unary_float<Cos>(a, s); }
array tan(const array& a, S s) { return unary_float<Tan>(a, s); }
array arcsin(const array& a, S s) { return unary_float<ArcSin>(a, s); }
array arccos(const array& a, S s) { return unary_float<ArcCos>(a, s); }
array arctan(const array& a, S s) { return unary_float<ArcTan>(a, s); }
array sinh(const array& a, S s) { return unary_float<Sinh>(a, s); }
array cosh(const array& a, S s) { return unary_float<Cosh>(a, s); }
array tanh(const array& a, S s) { return unary_float<Tanh>(a, s); }
array arcsinh(const array& a, S s) { return unary_float<ArcSinh>(a, s); }
array arccosh(const array& a, S s) { return unary_float<ArcCosh>(a, s); }
array arctanh(const array& a, S s) { return unary_float<ArcTanh>(a, s); }
array sigmoid(const array& a, S s) { return unary_real_float<Sigmoid>(a, "sigmoid", s); }
array erf(const array& a, S s) { return unary_real_float<Erf>(a, "erf", s); }
array erfinv(const array& a, S s) { return unary_real_float<ErfInv>(a, "erfinv", s); }
array floor(const array& a, S s) {
  if (a.dtype() == complex64) op_error("floor", "Not supported for complex64.");
  return unary<Floor>(a, a.dtype(), s);
}
array ceil(const array& a, S s) {
  if (a.dtype() == complex64) op_error("ceil", "Not supported for complex64.");
  return unary<Ceil>(a, a.dtype(), s);
}
array round(const array& a, int decimals, S s) {
  if (decimals == 0 || a.dtype() == bool_ || (is_integral(a.dtype()) && decimals > 0))
    return unary<Round>(a, a.dtype(), s);
  if (is_integral(a.dtype())) {
    array scale = array(std::pow(10.0, -decimals), float64);
    array r = multiply(unary<Round>(divide(astype(a, float64, s), scale, s), float64, s), scale, s);
    return astype(r, a.dtype(), s);
  }
  array scale = astype(array(std::pow(10.0, decimals), float64), a.dtype(), s);
  return divide(unary<Round>(multiply(a, scale, s), a.dtype(), s), scale, s);
}
array logical_not(const array& a, S s) { return unary<LogicalNot>(a, bool_, s); }
array isnan(const array& a, S s) { return unary<IsNaN>(a, bool_, s); }
array isinf(const array& a, S s) { return unary<IsInf>(a, bool_, s); }
array isposinf(const array& a, S s) { return unary<IsPosInf>(a, bool_, s); }
array isneginf(const array& a, S s) { return unary<IsNegInf>(a, bool_, s); }
array isfinite(const array& a, S s) {
  return logical_not(logical_or(isinf(a, s), isnan(a, s), s), s);
}
array real(const array& a, S s) {
  if (a.dtype() != complex64) return a;
  return unary<Real>(a, float32, s);
}
array imag(const array& a, S s) {
  if (a.dtype() != complex64) return zeros_like(a, s);
  return unary<Imag>(a, float32, s);
}
array conjugate(const array& a, S s) {
  if (a.dtype() != complex64) return a;
  return unary<Conjugate>(a, complex64, s);
}
array bitwise_invert(const array& a, S s) {
  if (!is_integral(a.dtype()) && a.dtype() != bool_)
    op_error("bitwise_invert", std::string("Not supported for ") + dtype_name(a.dtype()) + ".");
  return unary<BitwiseInvert>(a, a.dtype(), s);
}

array add(const array& a, const array& b, S s) { return arith<Add>(a, b, "add", s); }
array subtract(const array& a, const array& b, S s) { return arith<Subtract>(a, b, "subtract", s); }
array multiply(const array& a, const array& b, S s) { return arith<Multiply>(a, b, "multiply", s); }
array divide(const array& a, const array& b, S s) { return arith_float<Divide>(a, b, "divide", s); }
array floor_divide(const array& a, const array& b, S s) {
  if (promote_types(a.dtype(), b.dtype()) == complex64)
    op_error("floor_divide", "Not supported for complex64.");
  return arith<FloorDivide>(a, b, "floor_divide", s);
}
array remainder(const array& a, const array& b, S s) {
  if (promote_types(a.dtype(), b.dtype()) == complex64)
    op_error("remainder", "Not supported for complex64.");
  return arith<Remainder>(a, b, "remainder", s);
}
array power(const array& a, const array& b, S s) { return arith<Power>(a, b, "power", s); }
array maximum(const array& a, const array& b, S s) { return arith<Maximum>(a, b, "maximum", s); }
array minimum(const array& a, const array& b, S s) { return arith<Minimum>(a, b, "minimum", s); }
array arctan2(const array& a, const array& b, S s) {
  if (promote_types(a.dtype(), b.dtype()) == complex64)
    op_error("arctan2", "Not supported for complex64.");
  return arith_float<ArcTan2>(a, b, "arctan2", s);
}
array logaddexp(const array& a, const array& b, S s) {
  return arith_float<LogAddExp>(a, b, "logaddexp", s);
}
array equal(const array& a, const array& b, S s) { return compare<Equal>(a, b, "equal", s); }
array not_equal(const array& a, const array& b, S s) {
  return compare<NotEqual>(a, b, "not_equal", s);
}
array less(const array& a, const array& b, S s) { return compare<Less>(a, b, "less", s); }
array less_equal(const array& a, const array& b, S s) {
  return compare<LessEqual>(a, b, "less_equal", s);
}
array greater(const array& a, const array& b, S s) { return compare<Greater>(a, b, "greater", s); }
array greater_equal(const array& a, const array& b, S s) {
  return compare<GreaterEqual>(a, b, "greater_equal", s);
}
array logical_and(const array& a, const array& b, S s) {
  return binary<LogicalAnd>(a, b, bool_, bool_, "logical_and", s);
}
array logical_or(const array& a, const array& b, S s) {
  return binary<LogicalOr>(a, b, bool_, bool_, "logical_or", s);
}
array bitwise_and(const array& a, const array& b, S s) {
  return bitwise<BitwiseAnd>(a, b, "bitwise_and", s);
}
array bitwise_or(const array& a, const array& b, S s) {
  return bitwise<BitwiseOr>(a, b, "bitwise_or", s);
}
array bitwise_xor(const array& a, const array& b, S s) {
  return bitwise<BitwiseXor>(a, b, "bitwise_xor", s);
}
array left_shift(const array& a, const array& b, S s) {
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (t == bool_) return left_shift(astype(a, uint8, s), astype(b, uint8, s), s);
  return bitwise<LeftShift>(a, b, "left_shift", s);
}
array right_shift(const array& a, const array& b, S s) {
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (t == bool_) return right_shift(astype(a, uint8, s), astype(b, uint8, s), s);
  return bitwise<RightShift>(a, b, "right_shift", s);
}

array where(const array& cond, const array& x, const array& y, S s) {
  Shape shape;
  try {
    shape = broadcast_shapes(broadcast_shapes(cond.shape(), x.shape()), y.shape());
  } catch (const std::invalid_argument&) {
    op_error("where", "Shapes " + shape_str(cond.shape()) + ", " + shape_str(x.shape()) + " and " +
                          shape_str(y.shape()) + " cannot be broadcast.");
  }
  Dtype t = promote_types(x.dtype(), y.dtype());
  return make_node<Select>(shape, t,
                           {bcast(astype(cond, bool_, s), shape, s), bcast(astype(x, t, s), shape, s),
                            bcast(astype(y, t, s), shape, s)},
                           s);
}

array clip(const array& a, const std::optional<array>& lo, const std::optional<array>& hi, S s) {
  if (!lo && !hi) op_error("clip", "At most one of a_min and a_max may be None.");
  array r = a;
  if (lo) r = maximum(r, *lo, s);
  if (hi) r = minimum(r, *hi, s);
  return r;
}

array isclose(const array& a, const array& b, double rtol, double atol, bool equal_nan, S s) {
  // |a - b| <= atol + rtol * |b|, infinities equal only to themselves.
  array diff = abs(subtract(a, b, s), s);
  array tol = add(array(atol, float32), multiply(array(rtol, float32), abs(b, s), s), s);
  array out = less_equal(diff, tol, s);
  array both_inf = logical_and(logical_or(isinf(a, s), isinf(b, s), s), equal(a, b, s), s);
  out = logical_or(logical_and(out, logical_not(logical_or(isinf(a, s), isinf(b, s), s), s), s),
                   both_inf, s);
  if (equal_nan) out = logical_or(out, logical_and(isnan(a, s), isnan(b, s), s), s);
  return out;
}

bool allclose(const array& a, const array& b, double rtol, double atol, bool equal_nan) {
  return all(isclose(a, b, rtol, atol, equal_nan)).item<bool>();
}

bool array_equal(const array& a, const array& b, bool equal_nan) {
  if (a.shape() != b.shape()) return false;
  if (!equal_nan) return all(equal(a, b)).item<bool>();
  Dtype t = promote_types(a.dtype(), b.dtype());
  array eq = make_node<EqualNaN>(a.shape(), bool_, {astype(a, t), astype(b, t)}, {});
  return all(eq).item<bool>();
}

#define EMBER_DEFINE_BINOP(op, fn) \
  array operator op(const array& a, const array& b) { return fn(a, b); }
EMBER_DEFINE_BINOP(+, add)
EMBER_DEFINE_BINOP(-, subtract)
EMBER_DEFINE_BINOP(*, multiply)
EMBER_DEFINE_BINOP(/, divide)
EMBER_DEFINE_BINOP(%, remainder)
EMBER_DEFINE_BINOP(==, equal)
EMBER_DEFINE_BINOP(!=, not_equal)
EMBER_DEFINE_BINOP(<, less)
EMBER_DEFINE_BINOP(<=, less_equal)
EMBER_DEFINE_BINOP(>, greater)
EMBER_DEFINE_BINOP(>=, greater_equal)
EMBER_DEFINE_BINOP(&&, logical_and)
EMBER_DEFINE_BINOP(||, logical_or)
EMBER_DEFINE_BINOP(&, bitwise_and)
EMBER_DEFINE_BINOP(|, bitwise_or)
EMBER_DEFINE_BINOP(^, bitwise_xor)
EMBER_DEFINE_BINOP(<<, left_shift)
EMBER_DEFINE_BINOP(>>, right_shift)
#undef EMBER_DEFINE_BINOP
array operator-(const array& a) { return negative(a); }
array operator!(const array& a) { return logical_not(a); }
array operator~(const array& a) { return bitwise_invert(a); }

}  // namespace ember
