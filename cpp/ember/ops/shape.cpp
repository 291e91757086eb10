#include <algorithm>
#include <numeric>
#include <set>

#include "ember/ops/common.h"

namespace ember {

int normalize_axis(int axis, int ndim, const char* op) {
  if (axis < -ndim || axis >= ndim)
    throw axis_error(std::string("[") + op + "] Axis " + std::to_string(axis) +
                                " is out of bounds for array with " + std::to_string(ndim) +
                                " dimensions.");
  return axis < 0 ? axis + ndim : axis;
}

std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op) {
  std::vector<int> out;
  for (int a : axes) out.push_back(normalize_axis(a, ndim, op));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    op_error(op, "Received duplicate axes.");
  return out;
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      op_error("broadcast_shapes", "Shapes " + shape_str(a) + " and " + shape_str(b) +
                                       " cannot be broadcast.");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

array reshape(const array& a, Shape shape, S s) {
  int infer = -1;
  Shape requested;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) op_error("reshape", "Can only infer one dimension.");
      infer = (int)i;
    } else if (shape[i] < 0) {
      op_error("reshape", "Invalid dimension " + std::to_string(shape[i]) + " in shape.");
    } else if (known != 0 && __builtin_mul_overflow(known, (int64_t)shape[i], &known)) {
      known = INT64_MAX;  // larger than any array: the size check below reports it
    }
  }
  if (infer >= 0) {
    requested = shape;
    if (known == 0 || (int64_t)a.size() % known != 0)
      op_error("reshape", "Cannot infer the shape of an array of size " + std::to_string(a.size()) +
                              " into shape " + shape_str(shape) + ".");
    shape[infer] = checked_dim((int64_t)a.size() / known, "reshape");
  }
  if (shape_size(shape) != (int64_t)a.size())
    op_error("reshape", "Cannot reshape array of size " + std::to_string(a.size()) +
                            " into shape " + shape_str(shape) + ".");
  if (shape == a.shape()) return a;
  return make_node<Reshape>(shape, a.dtype(), {a}, s, shape, std::move(requested));
}

array flatten(const array& a, int start_axis, int end_axis, S s) {
  int nd = a.ndim();
  if (nd == 0) return reshape(a, {1}, s);
  start_axis = normalize_axis(start_axis, nd, "flatten");
  end_axis = normalize_axis(end_axis, nd, "flatten");
  if (start_axis > end_axis) op_error("flatten", "start_axis must be less than or equal to end_axis.");
  Shape shape(a.shape().begin(), a.shape().begin() + start_axis);
  int64_t m = 1;
  for (int i = start_axis; i <= end_axis; ++i) m *= a.shape()[i];
  shape.push_back(checked_dim(m, "flatten"));
  shape.insert(shape.end(), a.shape().begin() + end_axis + 1, a.shape().end());
  return reshape(a, shape, s);
}

array unflatten(const array& a, int axis, Shape shape, S s) {
  axis = normalize_axis(axis, a.ndim(), "unflatten");
  Shape out(a.shape().begin(), a.shape().begin() + axis);
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) op_error("unflatten", "Can only infer one dimension.");
      infer = (int)i;
    } else if (shape[i] < 0) {
      op_error("unflatten", "Invalid dimension " + std::to_string(shape[i]) + " in shape.");
    } else {
      if (known != 0 && __builtin_mul_overflow(known, (int64_t)shape[i], &known)) known = INT64_MAX;
    }
  }
  if (infer >= 0) shape[infer] = known ? (int32_t)(a.shape()[axis] / known) : 0;
  if (shape_size(shape) != a.shape()[axis])
    op_error("unflatten", "Cannot unflatten axis of size " + std::to_string(a.shape()[axis]) +
                              " into shape " + shape_str(shape) + ".");
  out.insert(out.end(), shape.begin(), shape.end());
  out.insert(out.end(), a.shape().begin() + axis + 1, a.shape().end());
  return reshape(a, out, s);
}

namespace {
// A reshape that inserts or removes the unit axes `axes` (see Reshape::Units).
array unit_reshape(const array& a, Shape shape, Reshape::Units units, std::vector<int> axes, S s) {
  if (shape == a.shape()) return a;
  return make_node<Reshape>(shape, a.dtype(), {a}, s, shape, Shape{}, units, std::move(axes));
}
}  // namespace

array squeeze(const array& a, const std::vector<int>& axes, S s) {
  auto ax = normalize_axes(axes, a.ndim(), "squeeze");
  Shape shape;
  for (int i = 0, j = 0; i < a.ndim(); ++i) {
    if (j < (int)ax.size() && ax[j] == i) {
      if (a.shape()[i] != 1) op_error("squeeze", "Cannot squeeze axis with size != 1.");
      ++j;
    } else {
      shape.push_back(a.shape()[i]);
    }
  }
  return unit_reshape(a, shape, Reshape::Units::Removed, {ax.begin(), ax.end()}, s);
}
array squeeze(const array& a, S s) {
  std::vector<int> axes;
  for (int i = 0; i < a.ndim(); ++i)
    if (a.shape()[i] == 1) axes.push_back(i);
  return squeeze(a, axes, s);
}

array expand_dims(const array& a, const std::vector<int>& axes, S s) {
  int out_nd = a.ndim() + (int)axes.size();
  auto ax = normalize_axes(axes, out_nd, "expand_dims");
  Shape shape;
  size_t j = 0, k = 0;
  for (int i = 0; i < out_nd; ++i) {
    if (j < ax.size() && ax[j] == i) {
      shape.push_back(1);
      ++j;
    } else {
      shape.push_back(a.shape()[k++]);
    }
  }
  return unit_reshape(a, shape, Reshape::Units::Inserted, {ax.begin(), ax.end()}, s);
}
array expand_dims(const array& a, int axis, S s) { return expand_dims(a, std::vector<int>{axis}, s); }

array transpose(const array& a, std::vector<int> axes, S s) {
  if ((int)axes.size() != a.ndim())
    op_error("transpose", "Received " + std::to_string(axes.size()) + " axes for array with " +
                              std::to_string(a.ndim()) + " dimensions.");
  for (auto& ax : axes) ax = normalize_axis(ax, a.ndim(), "transpose");
  std::vector<int> sorted(axes);
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    op_error("transpose", "Repeated axes.");
  bool identity = true;
  for (int i = 0; i < (int)axes.size(); ++i) identity &= axes[i] == i;
  if (identity) return a;
  Shape shape;
  for (int ax : axes) shape.push_back(a.shape()[ax]);
  return make_node<Transpose>(shape, a.dtype(), {a}, s, axes);
}
array transpose(const array& a, S s) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.rbegin(), axes.rend(), 0);
  return transpose(a, axes, s);
}
array swapaxes(const array& a, int axis1, int axis2, S s) {
  axis1 = normalize_axis(axis1, a.ndim(), "swapaxes");
  axis2 = normalize_axis(axis2, a.ndim(), "swapaxes");
  std::vector<int> axes(a.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  std::swap(axes[axis1], axes[axis2]);
  return transpose(a, axes, s);
}
array moveaxis(const array& a, int source, int destination, S s) {
  source = normalize_axis(source, a.ndim(), "moveaxis");
  destination = normalize_axis(destination, a.ndim(), "moveaxis");
  std::vector<int> axes;
  for (int i = 0; i < a.ndim(); ++i)
    if (i != source) axes.push_back(i);
  axes.insert(axes.begin() + destination, source);
  return transpose(a, axes, s);
}

array broadcast_to(const array& a, const Shape& shape, S s) {
  if (a.shape() == shape) return a;
  checked_size(shape, a.dtype(), "broadcast_to");
  Shape bs;
  bool ok = shape.size() >= a.shape().size();
  if (ok) {
    try {
      bs = broadcast_shapes(a.shape(), shape);
    } catch (const std::invalid_argument&) {
      ok = false;
    }
  }
  if (!ok || bs != shape)
    op_error("broadcast_to", "Cannot broadcast array of shape " + shape_str(a.shape()) +
                                 " into shape " + shape_str(shape) + ".");
  return make_node<Broadcast>(shape, a.dtype(), {a}, s, shape);
}

std::vector<array> broadcast_arrays(const std::vector<array>& inputs, S s) {
  Shape shape;
  for (auto& a : inputs) shape = broadcast_shapes(shape, a.shape());
  std::vector<array> out;
  for (auto& a : inputs) out.push_back(broadcast_to(a, shape, s));
  return out;
}

array concatenate(const std::vector<array>& arrays, int axis, S s) {
  if (arrays.empty()) op_error("concatenate", "No arrays provided for concatenation.");
  int nd = arrays[0].ndim();
  if (nd == 0) op_error("concatenate", "Zero-dimensional arrays cannot be concatenated.");
  axis = normalize_axis(axis, nd, "concatenate");
  Shape shape = arrays[0].shape();
  int64_t total = 0;
  Dtype t = arrays[0].dtype();
  for (auto& a : arrays) {
    if (a.ndim() != nd)
      op_error("concatenate", "All the input arrays must have the same number of dimensions.");
    for (int i = 0; i < nd; ++i)
      if (i != axis && a.shape()[i] != arrays[0].shape()[i])
        op_error("concatenate", "All the input array dimensions except the concatenation axis "
                                "must match exactly: got " + shape_str(arrays[0].shape()) + " and " +
                                    shape_str(a.shape()) + ".");
    total += a.shape()[axis];
    t = promote_types(t, a.dtype());
  }
  shape[axis] = checked_dim(total, "concatenate");
  std::vector<array> ins;
  for (auto& a : arrays) ins.push_back(astype(a, t, s));
  if (ins.size() == 1) return copy(ins[0], s);
  return make_node<Concatenate>(shape, t, ins, s, axis);
}
array concatenate(const std::vector<array>& arrays, S s) {
  std::vector<array> flat;
  for (auto& a : arrays) flat.push_back(reshape(a, {-1}, s));
  return concatenate(flat, 0, s);
}

array stack(const std::vector<array>& arrays, int axis, S s) {
  if (arrays.empty()) op_error("stack", "No arrays provided for stacking.");
  for (auto& a : arrays)
    if (a.shape() != arrays[0].shape()) op_error("stack", "All arrays must have the same shape.");
  axis = normalize_axis(axis, arrays[0].ndim() + 1, "stack");
  std::vector<array> ex;
  for (auto& a : arrays) ex.push_back(expand_dims(a, axis, s));
  return concatenate(ex, axis, s);
}

std::vector<array> split(const array& a, const Shape& indices, int axis, S s) {
  axis = normalize_axis(axis, a.ndim(), "split");
  std::vector<array> out;
  int n = a.shape()[axis];
  int prev = 0;
  for (size_t i = 0; i <= indices.size(); ++i) {
    int stop = i < indices.size() ? indices[i] : n;
    if (stop < 0) stop += n;
    stop = std::clamp(stop, 0, n);
    int start = std::min(prev, stop);
    Shape b(a.ndim(), 0), e = a.shape();
    b[axis] = start;
    e[axis] = stop;
    out.push_back(slice(a, b, e, s));
    prev = stop;  // piece i is a[indices[i-1]:indices[i]], as in numpy (unsorted indices too)
  }
  return out;
}
std::vector<array> split(const array& a, int num_splits, int axis, S s) {
  axis = normalize_axis(axis, a.ndim(), "split");
  if (num_splits <= 0) op_error("split", "Number of splits must be positive.");
  if (a.shape()[axis] % num_splits != 0)
    op_error("split", "Array split does not result in sub arrays with equal size.");
  int q = a.shape()[axis] / num_splits;
  Shape idx;
  for (int i = 1; i < num_splits; ++i) idx.push_back(i * q);
  return split(a, idx, axis, s);
}

// Elements in [start, stop) by step, in 64 bits: a step near 2^31 must not wrap.
static int64_t slice_length(int64_t start, int64_t stop, int64_t step) {
  return step > 0 ? (stop - start + step - 1) / step : (start - stop - step - 1) / (-step);
}

// Python-style normalisation of (start, stop, step) into a concrete slice.
static void normalize_slice(int n, int& start, int& stop, int step) {
  if (step > 0) {
    start = start < 0 ? std::max(start + n, 0) : std::min(start, n);
    stop = stop < 0 ? std::max(stop + n, 0) : std::min(stop, n);
  } else {
    start = start < 0 ? std::max(start + n, -1) : std::min(start, n - 1);
    stop = stop < 0 ? std::max(stop + n, -1) : std::min(stop, n - 1);
  }
}

array slice(const array& a, Shape start, Shape stop, Shape strides, S s) {
  int nd = a.ndim();
  if ((int)start.size() != nd || (int)stop.size() != nd || (int)strides.size() != nd)
    op_error("slice", "Invalid number of indices or strides for array with " +
                          std::to_string(nd) + " dimensions.");
  Shape shape(nd);
  bool trivial = true;
  for (int i = 0; i < nd; ++i) {
    if (strides[i] == 0) op_error("slice", "Slice step cannot be zero.");
    normalize_slice(a.shape()[i], start[i], stop[i], strides[i]);
    int64_t len = slice_length(start[i], stop[i], strides[i]);
    shape[i] = (int32_t)std::max<int64_t>(0, len);
    if (shape[i] == 0) start[i] = stop[i] = 0;  // empty: and stays empty when re-applied (vmap)
    if (stop[i] < 0) stop[i] = -a.shape()[i] - 1;  // "before the first element", stable when re-normalised
    trivial &= start[i] == 0 && strides[i] == 1 && shape[i] == a.shape()[i];
  }
  if (trivial) return a;
  return make_node<Slice>(std::move(shape), a.dtype(), {a}, s, std::move(start), std::move(stop),
                          std::move(strides));
}
array slice(const array& a, Shape start, Shape stop, S s) {
  return slice(a, std::move(start), std::move(stop), Shape(a.ndim(), 1), s);
}

array slice_update(const array& src, const array& update, Shape start, Shape stop, Shape strides,
                   S s) {
  int nd = src.ndim();
  if ((int)start.size() != nd || (int)stop.size() != nd || (int)strides.size() != nd)
    op_error("slice_update", "Invalid number of indices or strides.");
  Shape shape(nd);
  for (int i = 0; i < nd; ++i) {
    if (strides[i] == 0) op_error("slice_update", "Slice step cannot be zero.");
    normalize_slice(src.shape()[i], start[i], stop[i], strides[i]);
    int64_t len = slice_length(start[i], stop[i], strides[i]);
    shape[i] = (int32_t)std::max<int64_t>(0, len);
    if (stop[i] < 0) stop[i] = -src.shape()[i] - 1;
  }
  array upd;
  try {
    upd = broadcast_to(astype(update, src.dtype(), s), shape, s);
  } catch (const std::invalid_argument&) {
    op_error("slice_update", "Cannot broadcast update of shape " + shape_str(update.shape()) +
                                 " into slice of shape " + shape_str(shape) + ".");
  }
  return make_node<SliceUpdate>(src.shape(), src.dtype(), {src, upd}, s, start, stop, strides);
}

array as_strided(const array& a, Shape shape, Strides strides, size_t offset, S s) {
  if (shape.size() != strides.size())
    op_error("as_strided", "Shape and strides must have the same length.");
  for (int d : shape)
    if (d < 0) op_error("as_strided", "Negative dimensions not allowed.");
  checked_size(shape, a.dtype(), "as_strided");
  // Every element of the view must lie inside the base: a view is not allowed to reach
  // memory the array does not own.
  if (shape_size(shape) > 0) {
    __int128 lo = (__int128)offset, hi = (__int128)offset;
    for (size_t i = 0; i < shape.size(); ++i) {
      __int128 span = (__int128)strides[i] * (shape[i] - 1);
      (span < 0 ? lo : hi) += span;
    }
    if (lo < 0 || hi >= (__int128)a.size())
      op_error("as_strided", "The view of shape " + shape_str(shape) + " reaches element " +
                                 std::to_string((long long)(lo < 0 ? lo : hi)) + " of an array of " +
                                 std::to_string(a.size()) + " elements.");
  }
  array x = copy(a, s);  // row-contiguous base
  return make_node<AsStrided>(shape, a.dtype(), {x}, s, shape, strides, offset);
}

array contiguous(const array& a, bool allow_col_major, S s) {
  if (a.is_available() && (a.flags().row_contiguous || (allow_col_major && a.flags().col_contiguous)))
    return a;
  return copy(a, s);
}

array repeat(const array& a, int repeats, int axis, S s) {
  axis = normalize_axis(axis, a.ndim(), "repeat");
  if (repeats < 0) op_error("repeat", "Number of repeats cannot be negative.");
  array e = expand_dims(a, axis + 1, s);
  Shape bs = e.shape();
  bs[axis + 1] = repeats;
  Shape out = a.shape();
  out[axis] = checked_dim((int64_t)out[axis] * repeats, "repeat");
  return reshape(copy(broadcast_to(e, bs, s), s), out, s);
}
array repeat(const array& a, int repeats, S s) { return repeat(flatten(a, 0, -1, s), repeats, 0, s); }

array tile(const array& a, const std::vector<int>& reps_in, S s) {
  std::vector<int> reps = reps_in;
  int nd = std::max<int>(a.ndim(), (int)reps.size());
  while ((int)reps.size() < nd) reps.insert(reps.begin(), 1);
  Shape ashape = a.shape();
  while ((int)ashape.size() < nd) ashape.insert(ashape.begin(), 1);
  array x = reshape(a, ashape, s);
  Shape exp_shape, bshape, out;
  for (int i = 0; i < nd; ++i) {
    if (reps[i] < 0) op_error("tile", "Negative repetitions are not allowed.");
    exp_shape.push_back(1);
    exp_shape.push_back(ashape[i]);
    bshape.push_back(reps[i]);
    bshape.push_back(ashape[i]);
    out.push_back(checked_dim((int64_t)ashape[i] * reps[i], "tile"));
  }
  return reshape(copy(broadcast_to(reshape(x, exp_shape, s), bshape, s), s), out, s);
}

array pad(const array& a, const std::vector<std::pair<int, int>>& pw, const array& value, S s) {
  if ((int)pw.size() != a.ndim()) op_error("pad", "Invalid number of padding sizes.");
  Shape shape = a.shape();
  Shape start(a.ndim()), stop(a.ndim());
  for (int i = 0; i < a.ndim(); ++i) {
    if (pw[i].first < 0 || pw[i].second < 0) op_error("pad", "Negative padding is not allowed.");
    shape[i] = checked_dim((int64_t)shape[i] + pw[i].first + pw[i].second, "pad");
    start[i] = pw[i].first;
    stop[i] = (int32_t)((int64_t)pw[i].first + a.shape()[i]);
  }
  array base = full(shape, astype(value, a.dtype(), s), a.dtype(), s);
  return slice_update(base, a, start, stop, Shape(a.ndim(), 1), s);
}

// Non-constant modes read each padded position from the input: the index along every padded
// axis is worked out here (from the shape only) and gathered with take, axis by axis.
array pad(const array& a, const std::vector<std::pair<int, int>>& pw, const array& value,
          const std::string& mode, S s) {
  if (mode == "constant") return pad(a, pw, value, s);
  if (mode != "edge" && mode != "reflect" && mode != "symmetric")
    op_error("pad", "Invalid padding mode (" + mode + ") passed to pad.");
  if ((int)pw.size() != a.ndim()) op_error("pad", "Invalid number of padding sizes.");
  array out = a;
  for (int ax = 0; ax < a.ndim(); ++ax) {
    auto [lo, hi] = pw[ax];
    if (lo < 0 || hi < 0) op_error("pad", "Negative padding is not allowed.");
    if (lo == 0 && hi == 0) continue;
    int n = a.shape()[ax];
    if (n == 0)
      op_error("pad", "Cannot pad empty axis " + std::to_string(ax) + " using mode '" + mode + "'.");
    std::vector<int32_t> idx(n + lo + hi);
    for (int j = 0; j < (int)idx.size(); ++j) {
      long long i = (long long)j - lo;  // position relative to the input
      if (mode == "edge" || n == 1) {
        i = std::clamp<long long>(i, 0, n - 1);
      } else if (mode == "reflect") {  // period 2(n-1), edges not repeated
        long long m = 2LL * (n - 1);
        i = ((i % m) + m) % m;
        if (i >= n) i = m - i;
      } else {  // symmetric: period 2n, edges repeated
        long long m = 2LL * n;
        i = ((i % m) + m) % m;
        if (i >= n) i = m - 1 - i;
      }
      idx[j] = (int32_t)i;
    }
    out = take(out, array(idx.begin(), Shape{(int)idx.size()}, int32), ax, s);
  }
  return out;
}

array atleast_1d(const array& a, S s) { return a.ndim() >= 1 ? a : reshape(a, {1}, s); }
array atleast_2d(const array& a, S s) {
  if (a.ndim() >= 2) return a;
  return reshape(a, a.ndim() == 0 ? Shape{1, 1} : Shape{1, a.shape()[0]}, s);
}
array atleast_3d(const array& a, S s) {
  if (a.ndim() >= 3) return a;
  if (a.ndim() == 0) return reshape(a, {1, 1, 1}, s);
  if (a.ndim() == 1) return reshape(a, {1, a.shape()[0], 1}, s);
  return reshape(a, {a.shape()[0], a.shape()[1], 1}, s);
}

}  // namespace ember
