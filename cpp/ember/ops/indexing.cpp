#include <algorithm>
#include <numeric>

#include "ember/ops/common.h"

namespace ember {

static void check_index_dtype(const array& idx, const char* op) {
  if (!is_integral(idx.dtype()))
    op_error(op, std::string("Indices must be integers, got ") + dtype_name(idx.dtype()) + ".");
}

array gather(const array& a, const std::vector<array>& indices, const std::vector<int>& axes_in,
             const Shape& slice_sizes, S s) {
  if (indices.size() != axes_in.size())
    op_error("gather", "Number of index arrays does not match number of axes.");
  if ((int)slice_sizes.size() != a.ndim())
    op_error("gather", "Slice sizes must have one entry per dimension.");
  std::vector<int> axes;
  for (int ax : axes_in) axes.push_back(normalize_axis(ax, a.ndim(), "gather"));
  for (int i = 0; i < a.ndim(); ++i)
    if (slice_sizes[i] < 0 || slice_sizes[i] > a.shape()[i])
      op_error("gather", "Slice sizes must be in [0, shape[i]].");
  for (auto& idx : indices) check_index_dtype(idx, "gather");
  std::vector<array> idx = broadcast_arrays(indices, s);
  Shape out = idx.empty() ? Shape{} : idx[0].shape();
  out.insert(out.end(), slice_sizes.begin(), slice_sizes.end());
  std::vector<array> ins{a};
  ins.insert(ins.end(), idx.begin(), idx.end());
  for (int ax : axes)
    if (a.shape()[ax] == 0 && !idx.empty() && idx[0].size() > 0)
      throw std::out_of_range("[gather] Cannot index into an empty axis.");
  return make_node<Gather>(out, a.dtype(), ins, s, axes, slice_sizes);
}

static array scatter_impl(const array& a, const std::vector<array>& indices, const array& updates,
                          const std::vector<int>& axes_in, Scatter::Kind kind, const char* op, S s) {
  if (indices.size() != axes_in.size()) op_error(op, "Number of index arrays does not match axes.");
  std::vector<int> axes;
  for (int ax : axes_in) axes.push_back(normalize_axis(ax, a.ndim(), op));
  for (auto& idx : indices) check_index_dtype(idx, op);
  std::vector<array> idx = broadcast_arrays(indices, s);
  Shape ushape = idx.empty() ? Shape{} : idx[0].shape();
  Shape slice = a.shape();
  for (int ax : axes) slice[ax] = 1;
  ushape.insert(ushape.end(), slice.begin(), slice.end());
  array upd;
  try {
    upd = broadcast_to(astype(updates, a.dtype(), s), ushape, s);
  } catch (const std::invalid_argument&) {
    op_error(op, "Updates of shape " + shape_str(updates.shape()) +
                     " cannot be broadcast to the indexed shape " + shape_str(ushape) + ".");
  }
  std::vector<array> ins{a};
  ins.insert(ins.end(), idx.begin(), idx.end());
  ins.push_back(upd);
  return make_node<Scatter>(a.shape(), a.dtype(), ins, s, kind, axes);
}

array scatter(const array& a, const std::vector<array>& indices, const array& updates,
              const std::vector<int>& axes, S s) {
  return scatter_impl(a, indices, updates, axes, Scatter::Kind::None, "scatter", s);
}
array scatter_add(const array& a, const std::vector<array>& indices, const array& updates,
                  const std::vector<int>& axes, S s) {
  return scatter_impl(a, indices, updates, axes, Scatter::Kind::Sum, "scatter_add", s);
}
array scatter_prod(const array& a, const std::vector<array>& indices, const array& updates,
                   const std::vector<int>& axes, S s) {
  return scatter_impl(a, indices, updates, axes, Scatter::Kind::Prod, "scatter_prod", s);
}
array scatter_max(const array& a, const std::vector<array>& indices, const array& updates,
                  const std::vector<int>& axes, S s) {
  return scatter_impl(a, indices, updates, axes, Scatter::Kind::Max, "scatter_max", s);
}
array scatter_min(const array& a, const std::vector<array>& indices, const array& updates,
                  const std::vector<int>& axes, S s) {
  return scatter_impl(a, indices, updates, axes, Scatter::Kind::Min, "scatter_min", s);
}

array masked_scatter(const array& a, const array& mask, const array& source, S s) {
  const char* op = "masked_scatter";
  if (mask.dtype() != bool_) op_error(op, "The mask must be a boolean array.");
  const int k = mask.ndim(), n = a.ndim(), t = n - k;
  bool prefix = k <= n;
  for (int d = 0; prefix && d < k; ++d) prefix = mask.shape()[d] == a.shape()[d];
  if (!prefix)
    op_error(op, "The boolean mask should have the same shape as the beginning of the indexed "
                 "array but the mask has shape " + shape_str(mask.shape()) +
                 " and the array has shape " + shape_str(a.shape()) + ".");
  array src = astype(source, a.dtype(), s);
  Shape trailing(a.shape().begin() + k, a.shape().end());
  Shape mask_b = mask.shape();
  mask_b.insert(mask_b.end(), t, 1);
  array m = reshape(mask, mask_b, s);
  auto broadcast_or_fail = [&](const array& x, const Shape& to) {
    try {
      return broadcast_to(x, to, s);
    } catch (const std::invalid_argument&) {
      op_error(op, "Values of shape " + shape_str(source.shape()) +
                       " cannot be broadcast to the indexed shape " + shape_str(to) + ".");
    }
  };
  if (src.ndim() <= t) {
    // One value (block) for every selected position.
    return where(m, broadcast_or_fail(src, a.shape()), a, s);
  }
  if (src.ndim() != t + 1)
    op_error(op, "Value array shape must be broadcastable with the last " + std::to_string(t) +
                     " dimensions of the input, or have one more dimension; got values of "
                     "shape " + shape_str(source.shape()) + ".");
  // The selected positions take the source's rows in order: row j goes to the j-th
  // selected position (found with a running count of the mask).
  const int N = src.shape()[0];
  Shape rows_shape = trailing;
  rows_shape.insert(rows_shape.begin(), N);
  src = broadcast_or_fail(src, rows_shape);
  if (N == 0) {
    rows_shape[0] = 1;
    src = zeros(rows_shape, a.dtype(), s);
  }
  array flat = reshape(mask, {-1}, s);
  array pos = subtract(cumsum(astype(flat, int32, s), 0, false, true, s), array(1, int32), s);
  pos = where(flat, pos, zeros_like(pos, s), s);
  array rows = take(src, pos, 0, s);
  return where(m, reshape(rows, a.shape(), s), a, s);
}

namespace {

// Checked, normalised axes of a dynamic slice and its start positions as one clamped index
// array per axis, shaped (1, .., size_k, .., 1) over len(axes) dims.
std::vector<array> block_indices(const array& a, const array& start, const std::vector<int>& axes,
                                 const Shape& block, const char* op, S s) {
  if (!is_integral(start.dtype()))
    op_error(op, std::string("Start indices must be integers, got type ") + dtype_name(start.dtype()) + ".");
  if (start.size() != axes.size())
    op_error(op, "Number of starting indices " + std::to_string(start.size()) +
                     " does not match number of axes " + std::to_string(axes.size()) + ".");
  array st = astype(reshape(start, {-1}, s), int64, s);
  const int nk = (int)axes.size();
  std::vector<array> idx;
  for (int k = 0; k < nk; ++k) {
    const int dim = a.shape()[axes[k]], size = block[axes[k]];
    array sk = reshape(slice(st, {k}, {k + 1}, s), {}, s);
    // Negative starts count from the end; the block is then kept inside the array.
    sk = where(less(sk, array(0, int64), s), add(sk, array((int64_t)dim, int64), s), sk, s);
    sk = maximum(minimum(sk, array((int64_t)(dim - size), int64), s), array(0, int64), s);
    Shape sh(nk, 1);
    sh[k] = size;
    idx.push_back(reshape(add(sk, arange(0.0, (double)size, 1.0, int64, s), s), sh, s));
  }
  return idx;
}

std::vector<int> unique_axes(const std::vector<int>& axes_in, int ndim, const char* op) {
  std::vector<int> axes;
  for (int ax : axes_in) {
    int d = normalize_axis(ax, ndim, op);
    if (std::find(axes.begin(), axes.end(), d) != axes.end()) op_error(op, "Repeated axis in axes.");
    axes.push_back(d);
  }
  return axes;
}

}  // namespace

array dynamic_slice(const array& a, const array& start, const std::vector<int>& axes_in,
                    const Shape& slice_size, S s) {
  const char* op = "slice";
  if ((int)slice_size.size() != a.ndim())
    op_error(op, "Invalid slice size for array with " + std::to_string(a.ndim()) + " dimensions.");
  for (int d = 0; d < a.ndim(); ++d)
    if (slice_size[d] < 0 || slice_size[d] > a.shape()[d])
      op_error(op, "Invalid slice size " + shape_str(slice_size) + " for array with shape " +
                       shape_str(a.shape()) + ".");
  std::vector<int> axes = unique_axes(axes_in, a.ndim(), op);
  std::vector<array> idx = block_indices(a, start, axes, slice_size, op, s);
  // The block starts at 0 along the axes not listed.
  Shape stop = slice_size;
  for (int ax : axes) stop[ax] = a.shape()[ax];
  if (stop != a.shape()) return dynamic_slice(slice(a, Shape(a.ndim(), 0), stop, s), start, axes, slice_size, s);
  if (axes.empty()) return a;
  Shape sl = slice_size;
  for (int ax : axes) sl[ax] = 1;
  const int nk = (int)axes.size();
  array g = gather(a, idx, axes, sl, s);  // (block along axes..., sl...)
  std::vector<int> drop;
  for (int ax : axes) drop.push_back(nk + ax);
  g = squeeze(g, drop, s);  // (block along axes..., the other axes...)
  std::vector<int> perm;
  int other = nk;
  for (int d = 0; d < a.ndim(); ++d) {
    auto it = std::find(axes.begin(), axes.end(), d);
    perm.push_back(it != axes.end() ? (int)(it - axes.begin()) : other++);
  }
  return transpose(g, perm, s);
}

array dynamic_slice_update(const array& a, const array& update, const array& start,
                           const std::vector<int>& axes_in, S s) {
  const char* op = "slice_update";
  if (update.ndim() > a.ndim())
    op_error(op, "Update array of shape " + shape_str(update.shape()) +
                     " has more dimensions than the array of shape " + shape_str(a.shape()) + ".");
  std::vector<int> axes = unique_axes(axes_in, a.ndim(), op);
  // The block has the update's shape; dimensions the update lacks span the whole axis.
  const int missing = a.ndim() - update.ndim();
  Shape us = update.shape();
  us.insert(us.begin(), missing, 1);
  Shape block = us;
  for (int d = 0; d < missing; ++d)
    if (std::find(axes.begin(), axes.end(), d) == axes.end()) block[d] = a.shape()[d];
  for (int d = 0; d < a.ndim(); ++d)
    if (block[d] > a.shape()[d])
      op_error(op, "Update of shape " + shape_str(update.shape()) + " does not fit in the array of shape " +
                       shape_str(a.shape()) + ".");
  // The block starts at 0 along the axes not listed.
  Shape stop = block;
  for (int ax : axes) stop[ax] = a.shape()[ax];
  if (stop != a.shape()) {
    Shape zero(a.ndim(), 0);
    array part = dynamic_slice_update(slice(a, zero, stop, s), broadcast_to(reshape(update, us, s), block, s),
                                      start, axes, s);
    return slice_update(a, part, zero, stop, Shape(a.ndim(), 1), s);
  }
  array ub;
  try {
    ub = broadcast_to(astype(reshape(update, us, s), a.dtype(), s), block, s);
  } catch (const std::invalid_argument&) {
    op_error(op, "Update of shape " + shape_str(update.shape()) +
                     " cannot be broadcast to the updated block " + shape_str(block) + ".");
  }
  std::vector<array> idx = block_indices(a, start, axes, block, op, s);
  if (axes.empty()) return ub;
  // (block along axes..., the other axes...) then size-1 entries for the indexed axes.
  std::vector<int> perm(axes.begin(), axes.end());
  for (int d = 0; d < a.ndim(); ++d)
    if (std::find(axes.begin(), axes.end(), d) == axes.end()) perm.push_back(d);
  ub = transpose(ub, perm, s);
  Shape target;
  for (int ax : axes) target.push_back(block[ax]);
  for (int d = 0; d < a.ndim(); ++d)
    target.push_back(std::find(axes.begin(), axes.end(), d) != axes.end() ? 1 : block[d]);
  return scatter(a, idx, reshape(ub, target, s), axes, s);
}

array take(const array& a, const array& indices, int axis, S s) {
  if (a.ndim() == 0) op_error("take", "Cannot take from a 0-dimensional array.");
  axis = normalize_axis(axis, a.ndim(), "take");
  check_index_dtype(indices, "take");
  Shape slice = a.shape();
  slice[axis] = 1;
  array g = gather(a, {indices}, {axis}, slice, s);
  // (idx..., a_pre..., 1, a_post...) -> (a_pre..., idx..., a_post...)
  int ni = indices.ndim();
  g = squeeze(g, {ni + axis}, s);
  std::vector<int> perm;
  for (int i = 0; i < axis; ++i) perm.push_back(ni + i);
  for (int i = 0; i < ni; ++i) perm.push_back(i);
  for (int i = ni + axis; i < g.ndim(); ++i) perm.push_back(i);
  return transpose(g, perm, s);
}
array take(const array& a, const array& indices, S s) {
  return take(reshape(a, {-1}, s), indices, 0, s);
}
array take(const array& a, int index, int axis, S s) {
  axis = normalize_axis(axis, a.ndim(), "take");
  int n = a.shape()[axis];
  if (index < -n || index >= n)
    throw std::out_of_range("[take] Index " + std::to_string(index) + " is out of bounds for axis " +
                            std::to_string(axis) + " with size " + std::to_string(n) + ".");
  if (index < 0) index += n;
  Shape b(a.ndim(), 0), e = a.shape();
  b[axis] = index;
  e[axis] = index + 1;
  return squeeze(slice(a, b, e, s), {axis}, s);
}

static void check_same_rank(const array& a, const array& idx, const char* op) {
  if (idx.ndim() != a.ndim())
    op_error(op, "Indices of dimension " + std::to_string(idx.ndim()) +
                     " does not match array of dimension " + std::to_string(a.ndim()) + ".");
}

static std::pair<array, array> broadcast_along(const array& a, const array& idx, int axis,
                                               const char* op) {
  check_same_rank(a, idx, op);
  Shape as = a.shape(), is = idx.shape();
  as[axis] = 1;
  is[axis] = 1;
  Shape bs = broadcast_shapes(as, is);
  Shape ab = bs, ib = bs;
  ab[axis] = a.shape()[axis];
  ib[axis] = idx.shape()[axis];
  return {broadcast_to(a, ab), broadcast_to(idx, ib)};
}

array take_along_axis(const array& a, const array& indices, int axis, S s) {
  axis = normalize_axis(axis, a.ndim(), "take_along_axis");
  check_index_dtype(indices, "take_along_axis");
  auto [ab, ib] = broadcast_along(a, indices, axis, "take_along_axis");
  return make_node<GatherAxis>(ib.shape(), a.dtype(), {ab, ib}, s, axis);
}

array put_along_axis(const array& a, const array& indices, const array& values, int axis, S s) {
  axis = normalize_axis(axis, a.ndim(), "put_along_axis");
  check_index_dtype(indices, "put_along_axis");
  check_same_rank(a, indices, "put_along_axis");
  Shape is = indices.shape();
  Shape as = a.shape();
  as[axis] = is[axis];
  array ib = broadcast_to(indices, broadcast_shapes(is, as), s);
  array vb = broadcast_to(astype(values, a.dtype(), s), ib.shape(), s);
  return make_node<ScatterAxis>(a.shape(), a.dtype(), {a, ib, vb}, s, axis, false);
}

// ---------- linear algebra

static array matmul_impl(const array& c, const array& a_in, const array& b_in, float alpha,
                         float beta, bool with_c, const char* op, S s) {
  if (a_in.ndim() == 0 || b_in.ndim() == 0)
    op_error(op, "Got 0 dimension input. Inputs must have at least one dimension.");
  array a = a_in.ndim() == 1 ? reshape(a_in, {1, a_in.shape()[0]}, s) : a_in;
  array b = b_in.ndim() == 1 ? reshape(b_in, {b_in.shape()[0], 1}, s) : b_in;
  int K = a.shape().back();
  if (b.shape()[b.ndim() - 2] != K)
    op_error(op, "Last dimension of first input with shape " + shape_str(a_in.shape()) +
                     " must match second to last dimension of second input with shape " +
                     shape_str(b_in.shape()) + ".");
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (with_c) t = promote_types(t, c.dtype());
  Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(ab, bb);
  } catch (const std::invalid_argument&) {
    op_error(op, "Batch dimensions " + shape_str(ab) + " and " + shape_str(bb) + " cannot be broadcast.");
  }
  Shape as = batch, bs = batch, out = batch;
  as.insert(as.end(), a.shape().end() - 2, a.shape().end());
  bs.insert(bs.end(), b.shape().end() - 2, b.shape().end());
  out.push_back(a.shape()[a.ndim() - 2]);
  out.push_back(b.shape().back());
  std::vector<array> ins{broadcast_to(astype(a, t, s), as, s), broadcast_to(astype(b, t, s), bs, s)};
  if (with_c) {
    // c broadcasts to the result's shape (without the axes 1-D operands add), then takes
    // those axes back.
    Shape final_shape = out;
    if (b_in.ndim() == 1) final_shape.erase(final_shape.end() - 1);
    if (a_in.ndim() == 1) final_shape.erase(final_shape.end() - (b_in.ndim() == 1 ? 1 : 2));
    array cb = c;
    try {
      cb = broadcast_to(astype(c, t, s), final_shape, s);
    } catch (const std::invalid_argument&) {
      op_error(op, "Input c of shape " + shape_str(c.shape()) + " cannot be broadcast to the "
                   "output shape " + shape_str(final_shape) + ".");
    }
    if (a_in.ndim() == 1) cb = expand_dims(cb, b_in.ndim() == 1 ? -1 : -2, s);
    if (b_in.ndim() == 1) cb = expand_dims(cb, -1, s);
    ins.push_back(broadcast_to(cb, out, s));
  }
  array r = make_node<Matmul>(out, t, ins, s, alpha, with_c ? beta : 0.0f);
  // Drop the dimensions that 1-D operands added.
  if (a_in.ndim() == 1 && b_in.ndim() == 1) return reshape(r, {}, s);
  if (a_in.ndim() == 1) return squeeze(r, {r.ndim() - 2}, s);
  if (b_in.ndim() == 1) return squeeze(r, {r.ndim() - 1}, s);
  return r;
}

array matmul(const array& a, const array& b, S s) {
  return matmul_impl(a, a, b, 1.0f, 0.0f, false, "matmul", s);
}
array addmm(const array& c, const array& a, const array& b, float alpha, float beta, S s) {
  return matmul_impl(c, a, b, alpha, beta, true, "addmm", s);
}
array outer(const array& a, const array& b, S s) {
  return multiply(reshape(a, {-1, 1}, s), reshape(b, {1, -1}, s), s);
}
array inner(const array& a, const array& b, S s) {
  if (a.ndim() == 0 || b.ndim() == 0) return multiply(a, b, s);
  int k = a.shape().back();
  if (k != b.shape().back()) op_error("inner", "Last dimensions of the inputs must match.");
  Shape out(a.shape().begin(), a.shape().end() - 1);
  out.insert(out.end(), b.shape().begin(), b.shape().end() - 1);
  array r = matmul(reshape(a, {-1, k}, s), transpose(reshape(b, {-1, k}, s), s), s);
  return reshape(r, out, s);
}
array tensordot(const array& a, const array& b, int axes, S s) {
  if (axes < 0 || axes > a.ndim() || axes > b.ndim())
    op_error("tensordot", "axes must be between 0 and the arrays' dimensions.");
  int64_t k = 1;
  for (int i = 0; i < axes; ++i) {
    int da = a.shape()[a.ndim() - axes + i], db = b.shape()[i];
    if (da != db) op_error("tensordot", "Contracted dimensions must match.");
    k *= da;
  }
  Shape ao(a.shape().begin(), a.shape().end() - axes), bo(b.shape().begin() + axes, b.shape().end());
  array am = reshape(a, {(int)shape_size(ao), (int)k}, s);
  array bm = reshape(b, {(int)k, (int)shape_size(bo)}, s);
  Shape out = ao;
  out.insert(out.end(), bo.begin(), bo.end());
  return reshape(matmul(am, bm, s), out, s);
}

}  // namespace ember
