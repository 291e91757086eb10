// Derivative and batching rules of the elementwise primitives.
//
// Each elementwise primitive states its partial derivatives once, as
// `partials(x, out, ct, argnums)` = ct * d out / d x_i for each i in argnums;
// vjp applies it to the cotangent and jvp sums it over the tangents.
#include <algorithm>
#include <cmath>

#include "ember/ops/common.h"

namespace ember {

namespace {

using Arrays = std::vector<array>;

array zeros_for(const array& x) { return zeros_like(x); }

// Batched inputs move their batch axis to the front; unbatched ones gain a leading axis of one.
// The per-example ranks may differ (a batched scalar beside a batched matrix), so each input's
// per-example dims are padded with ones after the batch axis before broadcasting.
std::pair<Arrays, Shape> align_batch(const Arrays& inputs, const std::vector<int>& axes) {
  int B = -1, rank = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] >= 0) B = inputs[i].shape()[axes[i]];
    rank = std::max(rank, inputs[i].ndim() - (axes[i] >= 0 ? 1 : 0));
  }
  Arrays moved;
  Shape shape(rank + 1, 1);
  for (size_t i = 0; i < inputs.size(); ++i) {
    array x = axes[i] >= 0 ? moveaxis(inputs[i], axes[i], 0) : expand_dims(inputs[i], 0);
    if (x.ndim() < rank + 1) {
      Shape s = x.shape();
      s.insert(s.begin() + 1, rank + 1 - x.ndim(), 1);
      x = reshape(x, s);
    }
    moved.push_back(x);
    shape = broadcast_shapes(shape, x.shape());
  }
  if (B >= 0) shape[0] = B;
  Arrays out;
  for (auto& x : moved) out.push_back(broadcast_to(x, shape));
  return {out, shape};
}

}  // namespace

std::pair<std::vector<array>, std::vector<int>> Elementwise::vmap(const std::vector<array>& inputs,
                                                                   const std::vector<int>& axes) {
  auto [ins, shape] = align_batch(inputs, axes);
  return {{array(shape, output_dtype(ins), clone(stream()), ins)}, {0}};
}

std::vector<Shape> Elementwise::output_shapes(const std::vector<array>& inputs) {
  Shape s;
  for (auto& in : inputs) s = broadcast_shapes(s, in.shape());
  return {s};
}

}  // namespace ember

namespace ember {

namespace {

using Arrays = std::vector<array>;
using PartialsFn = Arrays (*)(const Arrays&, const array&, const array&, const std::vector<int>&);

array sum_tangents(const Arrays& x, const array& out, const Arrays& tangents,
                   const std::vector<int>& argnums, PartialsFn fn) {
  array total;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array d = fn(x, out, tangents[k], {argnums[k]})[0];
    total = total.valid() ? add(total, d) : d;
  }
  return total;
}

// Applies f(i) for each requested input.
template <typename F>
Arrays each(const std::vector<int>& argnums, F f) {
  Arrays r;
  for (int i : argnums) r.push_back(f(i));
  return r;
}

Arrays no_grad(const Arrays& x, const std::vector<int>& argnums) {
  return each(argnums, [&](int i) { return zeros_like(x[i]); });
}

array scalar_like(double v, const array& like) { return astype(array(v, float64), like.dtype()); }

// Complex derivatives: the JVP of a holomorphic f is t * f'(z) and its VJP is ct * conj(f'(z)),
// so that the gradient of a real-valued loss is dL/dx + i dL/dy (the steepest-ascent direction).
// The partials give ct * f'(z); conj(partials(conj(ct))) is the VJP for any input being complex.
Arrays vjp_from_partials(const Arrays& x, const array& out, const array& ct,
                         const std::vector<int>& argnums, PartialsFn fn) {
  bool cplx = is_complex(ct.dtype());
  for (auto& a : x) cplx = cplx || is_complex(a.dtype());
  if (!cplx) return fn(x, out, ct, argnums);
  Arrays r = fn(x, out, conjugate(ct), argnums);
  for (auto& a : r) a = conjugate(a);
  return r;
}

}  // namespace

#define EMBER_PARTIALS(NAME)                                                                  \
  static Arrays NAME##_partials(const Arrays& x, const array& out, const array& ct,          \
                                const std::vector<int>& argnums);                            \
  std::vector<array> NAME::vjp(const Arrays& p, const Arrays& ct, const std::vector<int>& an, \
                               const Arrays& outs) {                                          \
    return vjp_from_partials(p, outs[0], ct[0], an, NAME##_partials);                          \
  }                                                                                           \
  std::vector<array> NAME::jvp(const Arrays& p, const Arrays& t, const std::vector<int>& an) { \
    array out(output_shapes(p)[0], output_dtype(p), clone(stream()), p);                      \
    return {broadcast_to(sum_tangents(p, out, t, an, NAME##_partials), out.shape())};         \
  }                                                                                           \
  static Arrays NAME##_partials([[maybe_unused]] const Arrays& x,                             \
                                [[maybe_unused]] const array& out,                            \
                                [[maybe_unused]] const array& ct,                             \
                                [[maybe_unused]] const std::vector<int>& argnums)

#define EMBER_NO_GRAD(NAME) \
  EMBER_PARTIALS(NAME) { return no_grad(x, argnums); }

EMBER_PARTIALS(Negative) { return {negative(ct)}; }
EMBER_NO_GRAD(Sign)
EMBER_PARTIALS(Square) { return {multiply(ct, multiply(scalar_like(2, x[0]), x[0]))}; }
EMBER_PARTIALS(Sqrt) { return {divide(ct, multiply(scalar_like(2, out), out))}; }
EMBER_PARTIALS(Rsqrt) {
  return {multiply(ct, divide(multiply(scalar_like(-0.5, out), out), x[0]))};
}
EMBER_PARTIALS(Reciprocal) { return {negative(multiply(ct, square(out)))}; }
EMBER_PARTIALS(Exp) { return {multiply(ct, out)}; }
EMBER_PARTIALS(Expm1) { return {multiply(ct, add(out, scalar_like(1, out)))}; }
EMBER_PARTIALS(Log) { return {divide(ct, x[0])}; }
EMBER_PARTIALS(Log1p) { return {divide(ct, add(x[0], scalar_like(1, x[0])))}; }
EMBER_PARTIALS(Log2) { return {divide(ct, multiply(x[0], scalar_like(M_LN2, x[0])))}; }
EMBER_PARTIALS(Log10) { return {divide(ct, multiply(x[0], scalar_like(M_LN10, x[0])))}; }
EMBER_PARTIALS(Sin) { return {multiply(ct, cos(x[0]))}; }
EMBER_PARTIALS(Cos) { return {negative(multiply(ct, sin(x[0])))}; }
EMBER_PARTIALS(Tan) { return {multiply(ct, add(scalar_like(1, out), square(out)))}; }
EMBER_PARTIALS(ArcSin) {
  return {divide(ct, sqrt(subtract(scalar_like(1, x[0]), square(x[0]))))};
}
EMBER_PARTIALS(ArcCos) {
  return {negative(divide(ct, sqrt(subtract(scalar_like(1, x[0]), square(x[0])))))};
}
EMBER_PARTIALS(ArcTan) { return {divide(ct, add(scalar_like(1, x[0]), square(x[0])))}; }
EMBER_PARTIALS(Sinh) { return {multiply(ct, cosh(x[0]))}; }
EMBER_PARTIALS(Cosh) { return {multiply(ct, sinh(x[0]))}; }
EMBER_PARTIALS(Tanh) { return {multiply(ct, subtract(scalar_like(1, out), square(out)))}; }
EMBER_PARTIALS(ArcSinh) { return {divide(ct, sqrt(add(square(x[0]), scalar_like(1, x[0]))))}; }
EMBER_PARTIALS(ArcCosh) {
  // 1 / sqrt(x^2 - 1) for real x (as MLX and PyTorch: finite below -1, where the value is
  // NaN); sqrt(x - 1) * sqrt(x + 1) for complex x, the principal branch.
  array one = scalar_like(1, x[0]);
  if (!is_complex(x[0].dtype())) return {divide(ct, sqrt(subtract(square(x[0]), one)))};
  return {divide(ct, multiply(sqrt(subtract(x[0], one)), sqrt(add(x[0], one))))};
}
EMBER_PARTIALS(ArcTanh) { return {divide(ct, subtract(scalar_like(1, x[0]), square(x[0])))}; }
EMBER_PARTIALS(Sigmoid) {
  return {multiply(ct, multiply(out, subtract(scalar_like(1, out), out)))};
}
EMBER_PARTIALS(Erf) {
  return {multiply(ct, multiply(scalar_like(M_2_SQRTPI, x[0]), exp(negative(square(x[0])))))};
}
EMBER_PARTIALS(ErfInv) {
  return {multiply(ct, multiply(scalar_like(0.5 * std::sqrt(M_PI), out), exp(square(out))))};
}
EMBER_NO_GRAD(Floor)
EMBER_NO_GRAD(Ceil)
EMBER_NO_GRAD(Round)
EMBER_NO_GRAD(LogicalNot)
EMBER_NO_GRAD(IsNaN)
EMBER_NO_GRAD(IsInf)
EMBER_NO_GRAD(IsPosInf)
EMBER_NO_GRAD(IsNegInf)
EMBER_NO_GRAD(BitwiseInvert)
EMBER_NO_GRAD(StopGradient)

EMBER_PARTIALS(Add) { return each(argnums, [&](int) { return ct; }); }
EMBER_PARTIALS(Subtract) {
  return each(argnums, [&](int i) { return i == 0 ? ct : negative(ct); });
}
EMBER_PARTIALS(Multiply) {
  return each(argnums, [&](int i) { return multiply(ct, x[1 - i]); });
}
EMBER_PARTIALS(Divide) {
  return each(argnums, [&](int i) {
    return i == 0 ? divide(ct, x[1]) : negative(divide(multiply(ct, out), x[1]));
  });
}
EMBER_NO_GRAD(FloorDivide)
EMBER_PARTIALS(Remainder) {
  return each(argnums, [&](int i) {
    return i == 0 ? ct : negative(multiply(ct, floor_divide(x[0], x[1])));
  });
}
EMBER_PARTIALS(Power) {
  return each(argnums, [&](int i) {
    if (i == 0) {
      // y * x^(y-1), written to stay finite at x = 0 for integer-like y.
      array y = x[1];
      return multiply(ct, multiply(y, power(x[0], subtract(y, scalar_like(1, y)))));
    }
    // log(x), taken as 0 where x^y has no derivative in y (x = 0, and real x < 0).
    array ok = is_complex(x[0].dtype()) ? not_equal(x[0], scalar_like(0, x[0]))
                                        : greater(x[0], scalar_like(0, x[0]));
    array lx = where(ok, log(x[0]), zeros_like(x[0]));
    return multiply(ct, multiply(out, lx));
  });
}
// A tie sends the whole cotangent to the second operand (so relu = maximum(x, 0) has slope 0
// at 0), and a NaN on either side sends none to either.
EMBER_PARTIALS(Maximum) {
  return each(argnums, [&](int i) {
    array m = i == 0 ? greater(x[0], x[1]) : less_equal(x[0], x[1]);
    return multiply(ct, astype(m, ct.dtype()));
  });
}
EMBER_PARTIALS(Minimum) {
  return each(argnums, [&](int i) {
    array m = i == 0 ? less(x[0], x[1]) : greater_equal(x[0], x[1]);
    return multiply(ct, astype(m, ct.dtype()));
  });
}
EMBER_PARTIALS(ArcTan2) {
  array denom = add(square(x[0]), square(x[1]));
  return each(argnums, [&](int i) {
    return i == 0 ? multiply(ct, divide(x[1], denom)) : negative(multiply(ct, divide(x[0], denom)));
  });
}
EMBER_PARTIALS(LogAddExp) {
  return each(argnums, [&](int i) {
    return multiply(ct, sigmoid(subtract(x[i], x[1 - i])));
  });
}
EMBER_NO_GRAD(Equal)
EMBER_NO_GRAD(NotEqual)
EMBER_NO_GRAD(Less)
EMBER_NO_GRAD(LessEqual)
EMBER_NO_GRAD(Greater)
EMBER_NO_GRAD(GreaterEqual)
EMBER_NO_GRAD(LogicalAnd)
EMBER_NO_GRAD(LogicalOr)
EMBER_NO_GRAD(BitwiseAnd)
EMBER_NO_GRAD(BitwiseOr)
EMBER_NO_GRAD(BitwiseXor)
EMBER_NO_GRAD(LeftShift)
EMBER_NO_GRAD(RightShift)
EMBER_PARTIALS(Select) {
  return each(argnums, [&](int i) {
    if (i == 0) return zeros_like(out);  // no derivative through the condition
    array z = zeros_like(ct);
    return i == 1 ? where(x[0], ct, z) : where(x[0], z, ct);
  });
}

#undef EMBER_PARTIALS
#undef EMBER_NO_GRAD

// Abs, Real, Imag and Conjugate are not holomorphic: each states its VJP and JVP directly
// (the JVP is linear in the tangent over the reals, the VJP is its adjoint).
std::vector<array> Abs::vjp(const Arrays& p, const Arrays& ct, const std::vector<int>&,
                            const Arrays&) {
  return {multiply(ct[0], sign(p[0]))};
}
std::vector<array> Abs::jvp(const Arrays& p, const Arrays& t, const std::vector<int>&) {
  if (!is_complex(p[0].dtype())) return {multiply(t[0], sign(p[0]))};
  return {real(multiply(conjugate(sign(p[0])), t[0]))};
}
std::vector<array> Real::vjp(const Arrays&, const Arrays& ct, const std::vector<int>&,
                             const Arrays&) {
  return {astype(ct[0], complex64)};
}
std::vector<array> Real::jvp(const Arrays&, const Arrays& t, const std::vector<int>&) {
  return {real(t[0])};
}
std::vector<array> Imag::vjp(const Arrays&, const Arrays& ct, const std::vector<int>&,
                             const Arrays&) {
  return {multiply(astype(ct[0], complex64), array(complex64_t(0.0f, 1.0f)))};
}
std::vector<array> Imag::jvp(const Arrays&, const Arrays& t, const std::vector<int>&) {
  return {imag(t[0])};
}
std::vector<array> Conjugate::vjp(const Arrays&, const Arrays& ct, const std::vector<int>&,
                                  const Arrays&) {
  return {conjugate(ct[0])};
}
std::vector<array> Conjugate::jvp(const Arrays&, const Arrays& t, const std::vector<int>&) {
  return {conjugate(t[0])};
}

std::vector<array> AsType::vjp(const Arrays& p, const Arrays& ct, const std::vector<int>&,
                               const Arrays&) {
  return {astype(ct[0], p[0].dtype())};
}
std::vector<array> AsType::jvp(const Arrays&, const Arrays& t, const std::vector<int>&) {
  return {astype(t[0], dtype_)};
}

}  // namespace ember
