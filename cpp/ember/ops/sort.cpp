// Sorting and selection ops. The primitives (Sort, Partition, TopK, SearchSorted) do the
// ordering; unique, median, count_nonzero and minmax are built from them and from the
// reductions, so their derivatives, batching and compilation come from those pieces.
#include <numeric>

#include "ember/ops/common.h"

namespace ember {

namespace {

std::vector<int> every_axis(const array& a) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  return axes;
}

array flat(const array& a, S s) { return reshape(a, {-1}, s); }

}  // namespace

// ---------- sort

array sort(const array& a, int axis, S s) {
  axis = normalize_axis(axis, a.ndim(), "sort");
  return make_node<Sort>(a.shape(), a.dtype(), {a}, s, axis, false);
}
array sort(const array& a, S s) { return sort(flat(a, s), 0, s); }
array argsort(const array& a, int axis, S s) {
  axis = normalize_axis(axis, a.ndim(), "argsort");
  return make_node<Sort>(a.shape(), uint32, {a}, s, axis, true);
}
array argsort(const array& a, S s) { return argsort(flat(a, s), 0, s); }

// ---------- partition and top-k

static int check_kth(const array& a, int kth, int axis_in, const char* op) {
  int axis = normalize_axis(axis_in, a.ndim(), op);
  int n = a.shape()[axis];
  if (kth >= n || kth < -n)
    op_error(op, "Received invalid kth " + std::to_string(kth) + " along axis " +
                     std::to_string(axis_in) + " for array with shape: " + shape_str(a.shape()) +
                     ".");
  return kth < 0 ? kth + n : kth;
}

array partition(const array& a, int kth, int axis, S s) {
  int k = check_kth(a, kth, axis, "partition");
  axis = normalize_axis(axis, a.ndim(), "partition");
  return make_node<Partition>(a.shape(), a.dtype(), {a}, s, k, axis, false);
}
array partition(const array& a, int kth, S s) { return partition(flat(a, s), kth, 0, s); }
array argpartition(const array& a, int kth, int axis, S s) {
  int k = check_kth(a, kth, axis, "argpartition");
  axis = normalize_axis(axis, a.ndim(), "argpartition");
  return make_node<Partition>(a.shape(), uint32, {a}, s, k, axis, true);
}
array argpartition(const array& a, int kth, S s) { return argpartition(flat(a, s), kth, 0, s); }

array topk(const array& a, int k, int axis_in, S s) {
  int axis = normalize_axis(axis_in, a.ndim(), "topk");
  if (k < 0 || k > a.shape()[axis])
    op_error("topk", "Received invalid k=" + std::to_string(k) + " along axis " +
                         std::to_string(axis_in) + " for array with shape: " +
                         shape_str(a.shape()) + ".");
  Shape shape = a.shape();
  shape[axis] = k;
  return make_node<TopK>(shape, a.dtype(), {a}, s, k, axis, false);
}
array topk(const array& a, int k, S s) { return topk(flat(a, s), k, 0, s); }

// ---------- searchsorted

array searchsorted(const array& sorted, const array& values, const std::string& side, S s) {
  if (side != "left" && side != "right")
    op_error("searchsorted", "Invalid side '" + side + "'. Expected 'left' or 'right'.");
  if (sorted.ndim() != 1)
    op_error("searchsorted", "The sorted sequence must be 1-D but has " +
                                 std::to_string(sorted.ndim()) + " dimensions.");
  Dtype t = promote_types(sorted.dtype(), values.dtype());
  return make_node<SearchSorted>(values.shape(), uint32,
                                 {astype(sorted, t, s), astype(values, t, s)}, s,
                                 side == "right");
}

// ---------- unique

std::vector<array> unique(const array& a, int size, bool return_index, bool return_inverse,
                          bool return_counts, const std::optional<array>& fill_value, S s) {
  if (size < 0) op_error("unique", "Received negative size " + std::to_string(size) + ".");
  std::optional<array> fill;
  if (fill_value) {
    if (fill_value->size() != 1)
      op_error("unique", "Fill value must have one element, but got shape " +
                             shape_str(fill_value->shape()) + ".");
    fill = astype(reshape(*fill_value, {}, s), a.dtype(), s);
  }
  int64_t n = a.size();
  if (n == 0 && size > 0 && !fill)
    op_error("unique", "A fill value is required for an empty input with a non-zero size.");

  array values = zeros({size}, a.dtype(), s), index = zeros({size}, uint32, s);
  array inverse = zeros(a.shape(), uint32, s), counts = zeros({size}, int32, s);
  if (n == 0) {
    if (size > 0) values = full({size}, *fill, a.dtype(), s);
  } else if (size > 0) {
    int32_t m = (int32_t)n;
    array x = flat(a, s);
    array perm = argsort(x, 0, s);  // stable: each group starts at its first occurrence
    array sorted = take(x, perm, 0, s);
    // is_new[i]: sorted[i] starts a group (NaNs are all distinct, as nan != nan).
    array is_new = ones({1}, bool_, s);
    if (m > 1)
      is_new = concatenate({is_new, not_equal(slice(sorted, {1}, {m}, s),
                                              slice(sorted, {0}, {m - 1}, s), s)},
                           0, s);
    array group = subtract(cumsum(astype(is_new, int32, s), 0, false, true, s), array(1, int32), s);
    array cap = array(size, int32);
    // Slot `size` of the (size + 1)-long scratch arrays takes every write that is dropped.
    array first_slot = where(logical_and(is_new, less(group, cap, s), s), group, cap, s);
    array firsts = scatter(zeros({size + 1}, uint32, s), {first_slot}, reshape(perm, {m, 1}, s),
                           {0}, s);
    array n_unique = sum(astype(is_new, int32, s), false, s);
    array valid = less(arange(0, size, 1, s), n_unique, s);
    index = where(valid, slice(firsts, {0}, {size}, s), slice(firsts, {0}, {1}, s), s);
    values = take(x, index, 0, s);
    if (fill) values = where(valid, values, *fill, s);
    if (return_counts) {
      array slot = minimum(group, cap, s);
      counts = slice(scatter_add(zeros({size + 1}, int32, s), {slot}, ones({m, 1}, int32, s),
                                 {0}, s),
                     {0}, {size}, s);
    }
    if (return_inverse) {
      array last = astype(minimum(group, array(size - 1, int32), s), uint32, s);
      inverse = reshape(scatter(zeros({m}, uint32, s), {perm}, reshape(last, {m, 1}, s), {0}, s),
                        a.shape(), s);
    }
  }
  std::vector<array> out{values};
  if (return_index) out.push_back(index);
  if (return_inverse) out.push_back(inverse);
  if (return_counts) out.push_back(counts);
  return out;
}

// ---------- median, count_nonzero, minmax

array median(const array& a, const std::vector<int>& axes_in, bool keepdims, S s) {
  if (axes_in.empty() && a.ndim() > 0) op_error("median", "Received an empty list of axes.");
  auto axes = normalize_axes(axes_in, a.ndim(), "median");
  Dtype t = is_inexact(a.dtype()) ? a.dtype() : float32;
  array x = astype(a, t, s);
  Shape out_shape;
  for (int d = 0, j = 0; d < a.ndim(); ++d) {
    if (j < (int)axes.size() && axes[j] == d) {
      ++j;
      if (keepdims) out_shape.push_back(1);
    } else {
      out_shape.push_back(a.shape()[d]);
    }
  }
  if (axes.empty()) return reshape(x, out_shape, s);
  array rows = to_last_axis(x, axes, s);
  int n = rows.shape().back();
  if (n == 0) op_error("median", "Cannot take median along empty axis.");
  int last = rows.ndim() - 1;
  array sorted = sort(rows, last, s);
  auto at = [&](int i) { return take(sorted, i, last, s); };
  array mid = at(n / 2);
  if (n % 2 == 0) mid = multiply(add(at(n / 2 - 1), mid, s), array(0.5, t), s);
  // NaNs sort last: the largest element is NaN exactly when one is present.
  if (is_floating_point(t)) {
    array top = at(n - 1);
    mid = where(isnan(top, s), top, mid, s);
  }
  return reshape(mid, out_shape, s);
}
array median(const array& a, bool keepdims, S s) { return median(a, every_axis(a), keepdims, s); }

array count_nonzero(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  array nz = not_equal(a, zeros({}, a.dtype(), s), s);
  return astype(sum(nz, axes, keepdims, s), int32, s);
}
array count_nonzero(const array& a, bool keepdims, S s) {
  return count_nonzero(a, every_axis(a), keepdims, s);
}

std::pair<array, array> minmax(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  return {min(a, axes, keepdims, s), max(a, axes, keepdims, s)};
}
std::pair<array, array> minmax(const array& a, bool keepdims, S s) {
  return minmax(a, every_axis(a), keepdims, s);
}

}  // namespace ember
