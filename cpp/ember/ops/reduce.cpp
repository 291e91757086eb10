#include <cmath>
#include <numeric>

#include "ember/ops/common.h"

namespace ember {

namespace {

std::vector<int> all_axes(const array& a) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  return axes;
}

Shape reduced_shape(const Shape& shape, const std::vector<int>& axes, bool keepdims) {
  Shape out;
  size_t j = 0;
  for (int i = 0; i < (int)shape.size(); ++i) {
    if (j < axes.size() && axes[j] == i) {
      ++j;
      if (keepdims) out.push_back(1);
    } else {
      out.push_back(shape[i]);
    }
  }
  return out;
}

array reduce(const array& a, const std::vector<int>& axes_in, bool keepdims, ReduceType t,
             Dtype out_dtype, const char* op, S s) {
  auto axes = normalize_axes(axes_in, a.ndim(), op);
  array x = astype(a, out_dtype, s);
  if (axes.empty()) return x;
  Shape kept = reduced_shape(a.shape(), axes, true);
  array r = make_node<Reduce>(kept, out_dtype, {x}, s, t, axes);
  return keepdims ? r : reshape(r, reduced_shape(a.shape(), axes, false), s);
}

Dtype sum_dtype(Dtype t) {
  // Booleans and narrow integers accumulate in 32 bits.
  if (t == bool_ || t == int8 || t == int16) return int32;
  if (t == uint8 || t == uint16) return uint32;
  return t;
}

}  // namespace

array sum(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  return reduce(a, axes, keepdims, ReduceType::Sum, sum_dtype(a.dtype()), "sum", s);
}
array sum(const array& a, bool keepdims, S s) { return sum(a, all_axes(a), keepdims, s); }
array prod(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  return reduce(a, axes, keepdims, ReduceType::Prod, sum_dtype(a.dtype()), "prod", s);
}
array prod(const array& a, bool keepdims, S s) { return prod(a, all_axes(a), keepdims, s); }

static void check_nonempty(const array& a, const std::vector<int>& axes, const char* op) {
  for (int ax : normalize_axes(axes, a.ndim(), op))
    if (a.shape()[ax] == 0) op_error(op, "Cannot reduce over an empty axis (no identity).");
}
array max(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  check_nonempty(a, axes, "max");
  return reduce(a, axes, keepdims, ReduceType::Max, a.dtype(), "max", s);
}
array max(const array& a, bool keepdims, S s) { return max(a, all_axes(a), keepdims, s); }
array min(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  check_nonempty(a, axes, "min");
  return reduce(a, axes, keepdims, ReduceType::Min, a.dtype(), "min", s);
}
array min(const array& a, bool keepdims, S s) { return min(a, all_axes(a), keepdims, s); }
array all(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  return reduce(a, axes, keepdims, ReduceType::And, bool_, "all", s);
}
array all(const array& a, bool keepdims, S s) { return all(a, all_axes(a), keepdims, s); }
array any(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  return reduce(a, axes, keepdims, ReduceType::Or, bool_, "any", s);
}
array any(const array& a, bool keepdims, S s) { return any(a, all_axes(a), keepdims, s); }

array mean(const array& a, const std::vector<int>& axes_in, bool keepdims, S s) {
  auto axes = normalize_axes(axes_in, a.ndim(), "mean");
  int64_t n = 1;
  for (int ax : axes) n *= a.shape()[ax];
  Dtype t = is_inexact(a.dtype()) ? a.dtype() : float32;
  array total = sum(astype(a, t, s), axes, keepdims, s);
  return multiply(total, astype(array(n ? 1.0 / (double)n : NAN, float64), t, s), s);
}
array mean(const array& a, bool keepdims, S s) { return mean(a, all_axes(a), keepdims, s); }

array var(const array& a, const std::vector<int>& axes_in, bool keepdims, int ddof, S s) {
  auto axes = normalize_axes(axes_in, a.ndim(), "var");
  int64_t n = 1;
  for (int ax : axes) n *= a.shape()[ax];
  Dtype t = is_inexact(a.dtype()) ? a.dtype() : float32;
  array x = astype(a, t, s);
  array mu = mean(x, axes, true, s);
  array d = subtract(x, mu, s);
  array sq = t == complex64 ? square(abs(d, s), s) : multiply(d, d, s);
  if (t == complex64) t = float32;
  array ss = sum(sq, axes, keepdims, s);
  double denom = (double)(n - ddof);
  return multiply(ss, astype(array(denom > 0 ? 1.0 / denom : INFINITY, float64), t, s), s);
}
array var(const array& a, bool keepdims, int ddof, S s) { return var(a, all_axes(a), keepdims, ddof, s); }
array std(const array& a, const std::vector<int>& axes, bool keepdims, int ddof, S s) {
  return sqrt(var(a, axes, keepdims, ddof, s), s);
}
array std(const array& a, bool keepdims, int ddof, S s) { return std(a, all_axes(a), keepdims, ddof, s); }

// The permutation that moves the (sorted) `axes` after all the others.
std::vector<int> axes_last_perm(int ndim, const std::vector<int>& axes) {
  std::vector<int> perm;
  size_t j = 0;
  for (int i = 0; i < ndim; ++i) {
    if (j < axes.size() && axes[j] == i) ++j;
    else perm.push_back(i);
  }
  perm.insert(perm.end(), axes.begin(), axes.end());
  return perm;
}

// Moves `axes` to the end and flattens them into one axis.
array to_last_axis(const array& a, const std::vector<int>& axes, S s) {
  array t = transpose(a, axes_last_perm(a.ndim(), axes), s);
  Shape shape(t.shape().begin(), t.shape().end() - axes.size());
  shape.push_back(-1);
  if (t.size() == 0) {
    int64_t m = 1;
    for (int ax : axes) m *= a.shape()[ax];
    shape.back() = (int32_t)m;
  }
  return reshape(t, shape, s);
}

array logsumexp(const array& a, const std::vector<int>& axes_in, bool keepdims, S s) {
  auto axes = normalize_axes(axes_in, a.ndim(), "logsumexp");
  array x = to_inexact(a, s);
  if (axes.empty()) return x;
  if (x.dtype() == complex64) {
    // Shift by the (lexicographically) largest element for stability.
    array m = stop_gradient(max(x, axes, true, s), s);
    array r = add(log(sum(exp(subtract(x, m, s), s), axes, true, s), s), m, s);
    return keepdims ? r : squeeze(r, axes, s);
  }
  array flat = to_last_axis(x, axes, s);
  Shape kept = flat.shape();
  kept.back() = 1;
  array r = make_node<LogSumExp>(kept, x.dtype(), {flat}, s);
  return reshape(r, reduced_shape(a.shape(), axes, keepdims), s);
}
array logsumexp(const array& a, bool keepdims, S s) { return logsumexp(a, all_axes(a), keepdims, s); }

static array arg_reduce(const array& a, int axis, bool keepdims, bool is_max, S s) {
  const char* op = is_max ? "argmax" : "argmin";
  if (a.ndim() == 0) return zeros({}, uint32, s);
  axis = normalize_axis(axis, a.ndim(), op);
  if (a.shape()[axis] == 0) op_error(op, "Cannot compute the arg-reduction of an empty axis.");
  Shape kept = a.shape();
  kept[axis] = 1;
  array r = make_node<ArgReduce>(kept, uint32, {a}, s, is_max, axis);
  return keepdims ? r : squeeze(r, {axis}, s);
}
array argmax(const array& a, int axis, bool keepdims, S s) { return arg_reduce(a, axis, keepdims, true, s); }
array argmin(const array& a, int axis, bool keepdims, S s) { return arg_reduce(a, axis, keepdims, false, s); }
array argmax(const array& a, bool keepdims, S s) {
  array r = arg_reduce(reshape(a, {-1}, s), 0, false, true, s);
  return keepdims ? reshape(r, Shape(a.ndim(), 1), s) : r;
}
array argmin(const array& a, bool keepdims, S s) {
  array r = arg_reduce(reshape(a, {-1}, s), 0, false, false, s);
  return keepdims ? reshape(r, Shape(a.ndim(), 1), s) : r;
}

array softmax(const array& a, const std::vector<int>& axes_in, bool precise, S s) {
  auto axes = normalize_axes(axes_in, a.ndim(), "softmax");
  array x = to_inexact(a, s);
  if (x.dtype() == complex64) {
    array m = stop_gradient(max(real(x, s), axes, true, s), s);
    array e = exp(subtract(x, m, s), s);
    return divide(e, sum(e, axes, true, s), s);
  }
  if (axes.empty()) {
    // every element on its own: rows of one (the node's shape is its input's, for the
    // shape inference of shapeless compile and for vmap)
    array rows = reshape(x, {-1, 1}, s);
    return reshape(make_node<Softmax>(rows.shape(), x.dtype(), {rows}, s, precise), x.shape(), s);
  }
  if (axes.size() == 1 && axes[0] == a.ndim() - 1)
    return make_node<Softmax>(x.shape(), x.dtype(), {x}, s, precise);
  // Other axes: move them last, apply, move back.
  array flat = to_last_axis(x, axes, s);
  array r = make_node<Softmax>(flat.shape(), x.dtype(), {flat}, s, precise);
  std::vector<int> perm = axes_last_perm(a.ndim(), axes);
  Shape tshape;
  for (int p : perm) tshape.push_back(a.shape()[p]);
  array t = reshape(r, tshape, s);
  std::vector<int> inv(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inv[perm[i]] = (int)i;
  return transpose(t, inv, s);
}
array softmax(const array& a, bool precise, S s) {
  array r = softmax(reshape(a, {-1}, s), std::vector<int>{0}, precise, s);
  return reshape(r, a.shape(), s);
}

static array scan(const array& a, int axis, bool reverse, bool inclusive, ScanType t, const char* op,
                  S s) {
  axis = normalize_axis(axis, a.ndim(), op);
  Dtype dt = a.dtype();
  if (t == ScanType::Sum && dt == bool_) dt = int32;
  return make_node<Scan>(a.shape(), dt, {astype(a, dt, s)}, s, t, axis, reverse, inclusive);
}
array cumsum(const array& a, int axis, bool reverse, bool inclusive, S s) {
  return scan(a, axis, reverse, inclusive, ScanType::Sum, "cumsum", s);
}
array cumsum(const array& a, S s) { return cumsum(reshape(a, {-1}, s), 0, false, true, s); }
array cumprod(const array& a, int axis, bool reverse, bool inclusive, S s) {
  return scan(a, axis, reverse, inclusive, ScanType::Prod, "cumprod", s);
}
array cummax(const array& a, int axis, bool reverse, bool inclusive, S s) {
  return scan(a, axis, reverse, inclusive, ScanType::Max, "cummax", s);
}
array cummin(const array& a, int axis, bool reverse, bool inclusive, S s) {
  return scan(a, axis, reverse, inclusive, ScanType::Min, "cummin", s);
}
array logcumsumexp(const array& a, int axis, bool reverse, bool inclusive, S s) {
  return scan(to_inexact(a, s), axis, reverse, inclusive, ScanType::LogAddExp, "logcumsumexp", s);
}

}  // namespace ember
