// Small ops composed from the others (see misc.h).
#include "ember/ops/misc.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>

#include "ember/ops/common.h"
#include "ember/primitives/misc.h"

namespace ember {

namespace {

constexpr double kPi = 3.141592653589793238462643383279502884;

// The largest finite value of a floating dtype.
double finite_max(Dtype t) {
  switch (t) {
    case float16: return 65504.0;
    case bfloat16: return 3.3895313892515355e+38;
    case float64: return std::numeric_limits<double>::max();
    default: return std::numeric_limits<float>::max();
  }
}

// `a` rolled by `shift` along one (normalised) axis: the last `shift` entries come first.
array roll_axis(const array& a, int64_t shift, int axis, S s) {
  int n = a.shape(axis);
  if (n == 0) return a;
  int64_t k = shift % n;
  if (k < 0) k += n;
  if (k == 0) return a;
  Shape lo(a.ndim(), 0), hi = a.shape();
  Shape tail_lo = lo, head_hi = hi;
  tail_lo[axis] = n - (int)k;
  head_hi[axis] = n - (int)k;
  return concatenate({slice(a, tail_lo, hi, s), slice(a, lo, head_hi, s)}, axis, s);
}

int64_t total(const std::vector<int>& v) { return std::accumulate(v.begin(), v.end(), int64_t(0)); }

}  // namespace

// ---------- elementwise

array positive(const array& a, S s) { return copy(a, s); }

array trunc(const array& a, S s) {
  if (a.dtype() == complex64) op_error("trunc", "Not supported for complex64.");
  if (!is_floating_point(a.dtype())) return copy(a, s);
  // sign(x) * floor(|x|): three plain elementwise kernels (nan and the infinities carry
  // through); the magnitude rounds down, the sign is put back.
  return multiply(sign(a, s), floor(abs(a, s), s), s);
}

array degrees(const array& a, S s) {
  array x = to_inexact(a, s);
  return multiply(x, array(180.0 / kPi, x.dtype()), s);
}

array radians(const array& a, S s) {
  array x = to_inexact(a, s);
  return multiply(x, array(kPi / 180.0, x.dtype()), s);
}

array logical_xor(const array& a, const array& b, S s) {
  return not_equal(astype(a, bool_, s), astype(b, bool_, s), s);
}

array nan_to_num(const array& a, float nan, std::optional<float> posinf,
                 std::optional<float> neginf, S s) {
  Dtype t = a.dtype();
  // As MLX: float64 only with both replacements for infinities given, complex64 never.
  if (t == complex64 || (t == float64 && !(posinf && neginf)))
    op_error("nan_to_num", std::string("Does not yet support given type: ") + dtype_name(t) + ".");
  if (!is_floating_point(t)) return a;
  double hi = posinf ? (double)*posinf : finite_max(t);
  double lo = neginf ? (double)*neginf : -finite_max(t);
  array out = where(isnan(a, s), array(nan, t), a, s);
  out = where(isposinf(a, s), array(hi, t), out, s);
  return where(isneginf(a, s), array(lo, t), out, s);
}

// ---------- rolls, flips, differences

array roll(const array& a, int shift, S s) { return roll(a, std::vector<int>{shift}, s); }

array roll(const array& a, const std::vector<int>& shift, S s) {
  return reshape(roll_axis(reshape(a, {-1}, s), total(shift), 0, s), a.shape(), s);
}

array roll(const array& a, int shift, int axis, S s) {
  return roll(a, std::vector<int>{shift}, std::vector<int>{axis}, s);
}

array roll(const array& a, int shift, const std::vector<int>& axes, S s) {
  return roll(a, std::vector<int>(axes.size(), shift), axes, s);
}

array roll(const array& a, const std::vector<int>& shift, int axis, S s) {
  return roll(a, std::vector<int>{(int)total(shift)}, std::vector<int>{axis}, s);
}

array roll(const array& a, const std::vector<int>& shift, const std::vector<int>& axes, S s) {
  if (shift.size() < axes.size())
    op_error("roll", "At least one shift value per axis is required, " +
                         std::to_string(shift.size()) + " provided for " +
                         std::to_string(axes.size()) + " axes.");
  std::vector<int> ax;
  for (int v : axes) ax.push_back(normalize_axis(v, a.ndim(), "roll"));
  array out = a;
  for (size_t i = 0; i < ax.size(); ++i) out = roll_axis(out, shift[i], ax[i], s);
  return out;
}

array flip(const array& a, S s) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  return flip(a, axes, s);
}

array flip(const array& a, const std::vector<int>& axes, S s) {
  int nd = a.ndim();
  Shape start(nd, 0), stop = a.shape(), step(nd, 1);
  bool any = false;
  for (int v : axes) {
    int d = normalize_axis(v, nd, "flip");
    start[d] = -1;
    stop[d] = -a.shape(d) - 1;
    step[d] = -1;
    any = true;
  }
  return any ? slice(a, start, stop, step, s) : a;
}

array diff(const array& a, int n, int axis, S s) {
  if (n < 0) op_error("diff", "Order `n` must be non-negative.");
  int ax = normalize_axis(axis, a.ndim(), "diff");
  array x = a;
  for (int i = 0; i < n && x.shape(ax) > 0; ++i) {
    Shape lo(x.ndim(), 0), hi = x.shape();
    Shape lo1 = lo, hi1 = hi;
    lo1[ax] = 1;
    hi1[ax] = x.shape(ax) - 1;
    array upper = slice(x, lo1, hi, s), lower = slice(x, lo, hi1, s);
    x = x.dtype() == bool_ ? not_equal(upper, lower, s) : subtract(upper, lower, s);
  }
  return x;
}

std::vector<array> unstack(const array& a, int axis, S s) {
  int ax = normalize_axis(axis, a.ndim(), "unstack");
  Shape out_shape = a.shape();
  out_shape.erase(out_shape.begin() + ax);
  std::vector<array> out;
  Shape lo(a.ndim(), 0), hi = a.shape();
  for (int i = 0; i < a.shape(ax); ++i) {
    lo[ax] = i;
    hi[ax] = i + 1;
    out.push_back(reshape(slice(a, lo, hi, s), out_shape, s));
  }
  return out;
}

// ---------- bits and dependencies

array view(const array& a, Dtype dtype, S s) {
  if (a.dtype() == dtype) return a;
  int ib = size_of(a.dtype()), ob = size_of(dtype);
  Shape shape = a.shape();
  if (ib != ob) {
    if (a.ndim() == 0)
      op_error("view", "Changing the type of a scalar is only allowed for types with the same size.");
    int64_t last_bytes = (int64_t)shape.back() * ib;
    if (ob > ib && last_bytes % ob != 0)
      op_error("view", "When viewing as a larger dtype, the size in bytes of the last axis must be a "
                       "multiple of the requested type size.");
    shape.back() = checked_dim(last_bytes / ob, "view");
  }
  return make_node<View>(std::move(shape), dtype, {a}, s, dtype);
}

std::vector<array> depends(const std::vector<array>& inputs, const std::vector<array>& deps) {
  if (inputs.empty()) return {};
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  std::vector<array> all = inputs;
  for (auto& x : inputs) {
    shapes.push_back(x.shape());
    dtypes.push_back(x.dtype());
  }
  all.insert(all.end(), deps.begin(), deps.end());
  // The outputs live on the stream of the first input.
  return array::make_arrays(std::move(shapes), std::move(dtypes),
                            std::make_shared<Depends>(to_stream({}), (int)inputs.size()),
                            std::move(all));
}

// ---------- windows

namespace {

// 2 pi n / (M - 1) for n in [0, M), as float32; M > 1.
array window_phase(int M, S s) {
  array n = arange(0.0, (double)M, 1.0, float32, s);
  return divide(multiply(n, array(2.0 * kPi, float32), s), array((float)(M - 1)), s);
}

array trivial_window(int M, S s) { return M < 1 ? zeros({0}, float32, s) : ones({1}, float32, s); }

}  // namespace

array hanning(int M, S s) {
  if (M <= 1) return trivial_window(M, s);
  return subtract(array(0.5f), multiply(array(0.5f), cos(window_phase(M, s), s), s), s);
}

array hamming(int M, S s) {
  if (M <= 1) return trivial_window(M, s);
  return subtract(array(0.54f), multiply(array(0.46f), cos(window_phase(M, s), s), s), s);
}

array blackman(int M, S s) {
  if (M <= 1) return trivial_window(M, s);
  array x = window_phase(M, s);
  // (0.42 + 0.08 cos 2x) - 0.5 cos x: exactly 0 at both ends.
  array even = add(array(0.42f), multiply(array(0.08f), cos(multiply(x, array(2.0f), s), s), s), s);
  return subtract(even, multiply(array(0.5f), cos(x, s), s), s);
}

array bartlett(int M, S s) {
  if (M <= 1) return trivial_window(M, s);
  array n = arange(0.0, (double)M, 1.0, float32, s);
  float half = (M - 1) / 2.0f;
  return subtract(array(1.0f), divide(abs(subtract(n, array(half), s), s), array(half), s), s);
}

// ---------- creation and dtypes

array empty(const Shape& shape, Dtype dtype, S s) { return zeros(shape, dtype, s); }
array empty_like(const array& a, S s) { return zeros_like(a, s); }
array zeros_like(const array& a, Dtype dtype, S s) { return zeros(a.shape(), dtype, s); }
array ones_like(const array& a, Dtype dtype, S s) { return ones(a.shape(), dtype, s); }

bool can_cast(Dtype from, Dtype to) { return promote_types(from, to) == to; }

namespace {
std::atomic<int> g_print_precision{-1};
}
void set_print_precision(int precision) { g_print_precision.store(precision); }
int print_precision() { return g_print_precision.load(); }

}  // namespace ember
