// Linear algebra ops: argument checks (errors name the op, as MLX words them), output
// shapes and dtypes; the factorizations become primitives, the rest is composed from them.
#include "ember/ops/linalg.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "ember/ops/common.h"
#include "ember/primitives/linalg.h"

namespace ember::linalg {

namespace {

using Arrays = std::vector<array>;

[[noreturn]] void fail(const std::string& op, const std::string& msg) {
  throw std::invalid_argument("[linalg::" + op + "] " + msg);
}

void check_ndim(const array& a, const std::string& op, const char* what = "Arrays") {
  if (a.ndim() < 2)
    fail(op, std::string(what) + " must have >= 2 dimensions. Received array with " +
                 std::to_string(a.ndim()) + " dimensions.");
}
void check_real(const array& a, const std::string& op) {
  if (a.dtype() != float32 && a.dtype() != float64)
    fail(op, std::string("Arrays must have type float32 or float64. Received array with type ") +
                 dtype_name(a.dtype()) + ".");
}
// Ops that also take complex64.
void check_real_or_complex(const array& a, const std::string& op) {
  if (a.dtype() != float32 && a.dtype() != float64 && a.dtype() != complex64)
    fail(op, std::string("Arrays must have type float32, float64 or complex64. Received array with type ") +
                 dtype_name(a.dtype()) + ".");
}
void check_square(const array& a, const std::string& op, const std::string& msg) {
  if (a.shape(-1) != a.shape(-2)) fail(op, msg);
}

array mT(const array& x, S s) { return swapaxes(x, -1, -2, s); }
array tril_k(const array& x, int k, S s) {
  return where(tri(x.shape(-2), x.shape(-1), k, bool_, s), x, zeros_like(x, s), s);
}
array triu_k(const array& x, int k, S s) {
  return where(tri(x.shape(-2), x.shape(-1), k - 1, bool_, s), zeros_like(x, s), x, s);
}
Shape batch_of(const array& a) { return Shape(a.shape().begin(), a.shape().end() - 2); }

std::string shape_text(const Shape& sh) {
  std::string r = "(";
  for (size_t i = 0; i < sh.size(); ++i) r += (i ? "," : "") + std::to_string(sh[i]);
  return r + ")";
}

}  // namespace

// ---------- inverses and factorizations

array inv(const array& a, S s) {
  check_real(a, "inv");
  check_ndim(a, "inv");
  check_square(a, "inv", "Inverses are only defined for square matrices.");
  return make_node<Inverse>(a.shape(), a.dtype(), {a}, s, false, false);
}

array tri_inv(const array& a, bool upper, S s) {
  check_real(a, "tri_inv");
  check_ndim(a, "tri_inv");
  check_square(a, "tri_inv", "Inverses are only defined for square matrices.");
  return make_node<Inverse>(a.shape(), a.dtype(), {a}, s, true, upper);
}

array cholesky(const array& a, bool upper, S s) {
  check_real(a, "cholesky");
  check_ndim(a, "cholesky");
  check_square(a, "cholesky", "Cholesky decomposition is only defined for square matrices.");
  return make_node<Cholesky>(a.shape(), a.dtype(), {a}, s, upper);
}

// A = L L^T gives A^-1 = L^-T L^-1; A = U^T U gives U^-1 U^-T.
array cholesky_inv(const array& l, bool upper, S s) {
  check_real(l, "cholesky_inv");
  check_ndim(l, "cholesky_inv");
  check_square(l, "cholesky_inv", "Cholesky inverse is only defined for square matrices.");
  array li = tri_inv(l, upper, s);
  return upper ? matmul(li, mT(li, s), s) : matmul(mT(li, s), li, s);
}

std::pair<array, array> qr(const array& a, S s) {
  check_real(a, "qr");
  check_ndim(a, "qr");
  auto prim = std::make_shared<QRF>(to_stream(s));
  Arrays outs = array::make_arrays(prim->output_shapes({a}), prim->output_dtypes({a}), prim, {a});
  return {outs[0], outs[1]};
}

std::vector<array> svd(const array& a, bool compute_uv, S s) {
  check_real_or_complex(a, "svd");
  check_ndim(a, "svd", "Input array");
  auto prim = std::make_shared<SVD>(to_stream(s), compute_uv);
  return array::make_arrays(prim->output_shapes({a}), prim->output_dtypes({a}), prim, {a});
}

namespace {
Arrays eig_impl(const array& a, bool vectors, const std::string& op, S s) {
  check_real_or_complex(a, op);
  check_ndim(a, op);
  check_square(a, op, "Only defined for square matrices.");
  auto prim = std::make_shared<Eig>(to_stream(s), vectors);
  return array::make_arrays(prim->output_shapes({a}), prim->output_dtypes({a}), prim, {a});
}
Arrays eigh_impl(const array& a, const std::string& uplo, bool vectors, const std::string& op, S s) {
  check_real_or_complex(a, op);
  check_ndim(a, op);
  check_square(a, op, "Only defined for square matrices.");
  bool upper = uplo.empty() || uplo[0] != 'L';
  auto prim = std::make_shared<Eigh>(to_stream(s), upper, vectors);
  return array::make_arrays(prim->output_shapes({a}), prim->output_dtypes({a}), prim, {a});
}
Arrays luf(const array& a, const std::string& op, S s) {
  check_real(a, op);
  check_ndim(a, op);
  auto prim = std::make_shared<LUF>(to_stream(s));
  return array::make_arrays(prim->output_shapes({a}), prim->output_dtypes({a}), prim, {a});
}
}  // namespace

std::pair<array, array> eig(const array& a, S s) {
  Arrays r = eig_impl(a, true, "eig", s);
  return {r[0], r[1]};
}
array eigvals(const array& a, S s) { return eig_impl(a, false, "eigvals", s)[0]; }
std::pair<array, array> eigh(const array& a, const std::string& UPLO, S s) {
  Arrays r = eigh_impl(a, UPLO, true, "eigh", s);
  return {r[0], r[1]};
}
array eigvalsh(const array& a, const std::string& UPLO, S s) {
  return eigh_impl(a, UPLO, false, "eigvalsh", s)[0];
}

std::vector<array> lu(const array& a, S s) {
  Arrays f = luf(a, "lu", s);
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  Shape zero(a.ndim(), 0), lstop = a.shape(), ustop = a.shape();
  lstop.back() = k;
  ustop[a.ndim() - 2] = k;
  array l = add(tril_k(slice(f[0], zero, lstop, s), -1, s), eye(m, k, 0, a.dtype(), s), s);
  array u = triu_k(slice(f[0], zero, ustop, s), 0, s);
  return {f[2], l, u};
}

std::pair<array, array> lu_factor(const array& a, S s) {
  Arrays f = luf(a, "lu_factor", s);
  return {f[0], f[1]};
}

// V diag(1/s) U^T over the singular values above max(m, n) * eps * max(s).
array pinv(const array& a, S s) {
  check_real(a, "pinv");
  check_ndim(a, "pinv");
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  Shape out_shape = batch_of(a);
  out_shape.push_back(n);
  out_shape.push_back(m);
  if (k == 0) return zeros(out_shape, a.dtype(), s);
  Arrays f = svd(a, true, s);
  Shape zero(a.ndim(), 0), ustop = f[0].shape(), vstop = f[2].shape();
  ustop.back() = k;
  vstop[a.ndim() - 2] = k;
  array uk = slice(f[0], zero, ustop, s), vtk = slice(f[2], zero, vstop, s);
  double eps = a.dtype() == float64 ? std::numeric_limits<double>::epsilon()
                                    : std::numeric_limits<float>::epsilon();
  array cutoff = multiply(max(f[1], std::vector<int>{-1}, true, s), array(std::max(m, n) * eps, a.dtype()), s);
  array keep = greater(f[1], cutoff, s);
  array sinv = where(keep, divide(array(1.0, a.dtype()), where(keep, f[1], ones_like(f[1], s), s), s),
                     zeros_like(f[1], s), s);
  return matmul(multiply(mT(vtk, s), expand_dims(sinv, -2, s), s), mT(uk, s), s);
}

// ---------- determinants

namespace {
std::pair<array, array> slogdet_impl(const array& a, const std::string& op, S s) {
  if (a.dtype() == complex64) fail(op, "Complex inputs are not supported.");
  check_ndim(a, op);
  check_square(a, op, "Only defined for square matrices.");
  Dtype out_t = is_floating_point(a.dtype()) ? a.dtype() : float32;
  array x = a.dtype() == float64 ? a : astype(a, float32, s);
  auto prim = std::make_shared<SLogDet>(to_stream(s));
  Arrays r = array::make_arrays(prim->output_shapes({x}), prim->output_dtypes({x}), prim, {x});
  if (out_t != x.dtype()) return {astype(r[0], out_t, s), astype(r[1], out_t, s)};
  return {r[0], r[1]};
}
}  // namespace

std::pair<array, array> slogdet(const array& a, S s) { return slogdet_impl(a, "slogdet", s); }

array det(const array& a, S s) {
  auto [sign, logabs] = slogdet_impl(a, "det", s);
  return multiply(sign, exp(logabs, s), s);
}

// ---------- solves

namespace {
// The common checks; returns the compute dtype.
Dtype solve_checks(const array& a, const array& b, const std::string& op) {
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (t != float32 && t != float64)
    fail(op, std::string("Input arrays must promote to float32 or float64. Received arrays with type ") +
                 dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()) + ".");
  if (a.ndim() < 2)
    fail(op, "First input must have >= 2 dimensions. Received array with " + std::to_string(a.ndim()) +
                 " dimensions.");
  if (b.ndim() < 1)
    fail(op, "Second input must have >= 1 dimensions. Received array with " + std::to_string(b.ndim()) +
                 " dimensions.");
  if (a.shape(-1) != a.shape(-2))
    fail(op, "First input must be a square matrix. Received array with shape " + shape_text(a.shape()) + ".");
  int rows = b.ndim() == 1 ? b.shape(0) : b.shape(-2);
  if (rows != a.shape(-1))
    fail(op, "Last dimension of first input with shape " + shape_text(a.shape()) +
                 " must match second to last dimension of second input with shape " + shape_text(b.shape()) + ".");
  return t;
}
}  // namespace

array solve(const array& a0, const array& b0, S s) {
  Dtype t = solve_checks(a0, b0, "solve");
  array a = astype(a0, t, s), b = astype(b0, t, s);
  bool vec = b.ndim() == 1;
  if (vec) b = expand_dims(b, -1, s);
  Shape batch = broadcast_shapes(batch_of(a), batch_of(b));
  Shape as = batch, bs = batch;
  as.insert(as.end(), {a.shape(-2), a.shape(-1)});
  bs.insert(bs.end(), {b.shape(-2), b.shape(-1)});
  a = broadcast_to(a, as, s);
  b = broadcast_to(b, bs, s);
  array x = make_node<Solve>(bs, t, {a, b}, s);
  return vec ? squeeze(x, std::vector<int>{-1}, s) : x;
}

array solve_triangular(const array& a0, const array& b0, bool upper, S s) {
  Dtype t = solve_checks(a0, b0, "solve_triangular");
  return matmul(tri_inv(astype(a0, t, s), upper, s), astype(b0, t, s), s);
}

// ---------- cross product

array cross(const array& a, const array& b, int axis, S s) {
  int nd = std::max(a.ndim(), b.ndim());
  if (axis < -nd || axis >= nd)
    throw axis_error("[linalg::cross] Axis " + std::to_string(axis) + " is out of bounds for array with " +
                     std::to_string(nd) + " dimensions.");
  int ax = axis < 0 ? axis + nd : axis;
  // The three components of an operand (a 2-vector's third is zero), its axis taken out.
  auto parts = [&](const array& x) {
    int off = x.ndim() - nd + ax;
    int n = off >= 0 ? x.shape(off) : 1;
    if (n != 2 && n != 3) fail("cross", "The specified axis must have size 2 or 3.");
    std::vector<array> c;
    for (int i = 0; i < 3; ++i) c.push_back(i < n ? take(x, i, off, s) : zeros_like(take(x, 0, off, s), s));
    return c;
  };
  auto pa = parts(a), pb = parts(b);
  array c0 = subtract(multiply(pa[1], pb[2], s), multiply(pa[2], pb[1], s), s);
  array c1 = subtract(multiply(pa[2], pb[0], s), multiply(pa[0], pb[2], s), s);
  array c2 = subtract(multiply(pa[0], pb[1], s), multiply(pa[1], pb[0], s), s);
  auto cs = broadcast_arrays({c0, c1, c2}, s);
  return stack(cs, ax, s);
}

// ---------- norms

namespace {

std::string ord_text(double o) {
  if (std::isinf(o)) return o > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%g", o);
  return buf;
}

array to_float(const array& a, S s) { return is_inexact(a.dtype()) ? a : astype(a, float32, s); }

array vector_norm(const array& a0, const NormOrd& ord, const std::vector<int>& ax, bool keep, S s) {
  if (std::holds_alternative<std::string>(ord))
    fail("norm", "Norm '" + std::get<std::string>(ord) + "' only supported for matrices, but received " +
                     std::to_string(ax.size()) + " axis/axes.");
  array a = to_float(a0, s);
  array x = abs(a, s);
  if (std::holds_alternative<std::monostate>(ord)) return sqrt(sum(square(x, s), ax, keep, s), s);
  double p = std::get<double>(ord);
  if (p == 2.0) return sqrt(sum(square(x, s), ax, keep, s), s);
  if (std::isinf(p)) return p > 0 ? max(x, ax, keep, s) : min(x, ax, keep, s);
  if (p == 0.0) return astype(sum(not_equal(a, zeros_like(a, s), s), ax, keep, s), x.dtype(), s);
  if (p == 1.0) return sum(x, ax, keep, s);
  array pp = array(p, x.dtype());
  return power(sum(power(x, pp, s), ax, keep, s), reciprocal(pp, s), s);
}

// Singular values of the matrices in axes (r, c), those axes last.
array singular_values(const array& a, int r, int c, S s) {
  std::vector<int> perm;
  for (int i = 0; i < a.ndim(); ++i)
    if (i != r && i != c) perm.push_back(i);
  perm.push_back(r);
  perm.push_back(c);
  return svd(transpose(a, perm, s), false, s)[0];
}

array matrix_norm(const array& a0, const NormOrd& ord, int r, int c, bool keep, S s) {
  auto restore = [&](array v) {  // reduced over (r, c) with keepdims
    if (keep) return v;
    return squeeze(v, std::vector<int>{std::min(r, c), std::max(r, c)}, s);
  };
  if (std::holds_alternative<std::monostate>(ord) ||
      (std::holds_alternative<std::string>(ord) && std::get<std::string>(ord) == "fro")) {
    array x = abs(to_float(a0, s), s);
    return sqrt(sum(square(x, s), {r, c}, keep, s), s);
  }
  auto svals = [&](int kind) {  // 0: sum, 1: max, -1: min of the singular values
    array sv = singular_values(a0, r, c, s);
    array v = kind == 0 ? sum(sv, {-1}, false, s) : kind > 0 ? max(sv, {-1}, false, s) : min(sv, {-1}, false, s);
    if (keep) v = expand_dims(v, std::vector<int>{std::min(r, c), std::max(r, c)}, s);
    return v;
  };
  if (std::holds_alternative<std::string>(ord)) {
    const std::string& o = std::get<std::string>(ord);
    if (o == "nuc") return svals(0);
    fail("norm", "Invalid ord value '" + o + "' for matrix norm.");
  }
  double p = std::get<double>(ord);
  array x = abs(to_float(a0, s), s);
  if (p == 2.0) return svals(1);
  if (p == -2.0) return svals(-1);
  if (p == 1.0 || p == -1.0) {  // over columns, the sums down each column
    array cs = sum(x, {r}, true, s);
    return restore(p > 0 ? max(cs, {c}, true, s) : min(cs, {c}, true, s));
  }
  if (std::isinf(p)) {  // over rows, the sums along each row
    array rs = sum(x, {c}, true, s);
    return restore(p > 0 ? max(rs, {r}, true, s) : min(rs, {r}, true, s));
  }
  fail("norm", "Invalid ord " + ord_text(p) + " for matrix norm.");
}

}  // namespace

array norm(const array& a, const NormOrd& ord, const std::optional<std::vector<int>>& axis, bool keepdims, S s) {
  int nd = a.ndim();
  std::vector<int> ax;
  if (!axis) {
    if (std::holds_alternative<std::monostate>(ord)) {
      std::vector<int> all(nd);
      for (int i = 0; i < nd; ++i) all[i] = i;
      array x = abs(to_float(a, s), s);
      return sqrt(sum(square(x, s), all, keepdims, s), s);
    }
    if (nd != 1 && nd != 2) fail("norm", "Received too many axes for norm.");
    for (int i = 0; i < nd; ++i) ax.push_back(i);
  } else {
    if (axis->size() > 2 || axis->empty()) fail("norm", "Received too many axes for norm.");
    for (int v : *axis) {
      if (v < -nd || v >= nd)
        throw axis_error("[linalg::norm] Invalid axis " + std::to_string(v) + " for array with " +
                         std::to_string(nd) + " dimensions.");
      ax.push_back(v < 0 ? v + nd : v);
    }
    if (ax.size() == 2 && ax[0] == ax[1]) fail("norm", "Duplicate axes given.");
  }
  if (ax.size() == 1) return vector_norm(a, ord, ax, keepdims, s);
  return matrix_norm(a, ord, ax[0], ax[1], keepdims, s);
}

}  // namespace ember::linalg
