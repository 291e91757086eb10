// Rules of the copy, view, join, reduction, indexing, matmul and random primitives.
#include <algorithm>
#include <numeric>

#include "ember/ops/common.h"

namespace ember {

namespace {

using Arrays = std::vector<array>;
using Axes = std::vector<int>;

array batch_first(const array& x, int ax) { return ax > 0 ? moveaxis(x, ax, 0) : x; }

// The cotangent of an operand broadcast to ct's shape: summed over the broadcast dims.
array sum_to_shape(const array& ct, const Shape& in) {
  if (ct.shape() == in) return ct;
  int diff = ct.ndim() - (int)in.size();
  Axes axes;
  for (int d = 0; d < ct.ndim(); ++d)
    if (d < diff || (in[d - diff] == 1 && ct.shape()[d] != 1)) axes.push_back(d);
  return reshape(axes.empty() ? ct : sum(ct, axes, true), in);
}

}  // namespace

// ---------- creation

bool Arange::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Arange*>(&o);
  return p && p->start_ == start_ && p->stop_ == stop_ && p->step_ == step_;
}

// ---------- Copy

Arrays Copy::vjp(const Arrays&, const Arrays& ct, const Axes&, const Arrays&) { return {ct[0]}; }
Arrays Copy::jvp(const Arrays&, const Arrays& t, const Axes&) { return {t[0]}; }
std::pair<Arrays, Axes> Copy::vmap(const Arrays& in, const Axes& axes) {
  return {{copy(in[0])}, {axes[0]}};
}

// ---------- Reshape

Arrays Reshape::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays&) {
  return {reshape(ct[0], p[0].shape())};
}
Arrays Reshape::jvp(const Arrays&, const Arrays& t, const Axes&) { return {reshape(t[0], shape_)}; }
std::pair<Arrays, Axes> Reshape::vmap(const Arrays& in, const Axes& axes) {
  array x = batch_first(in[0], axes[0]);
  Shape s = shape_;
  s.insert(s.begin(), x.shape()[0]);
  return {{reshape(x, s)}, {0}};
}
bool Reshape::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Reshape*>(&o);
  return p && p->shape_ == shape_ && p->units_ == units_ && p->unit_axes_ == unit_axes_;
}

// ---------- Transpose

namespace {

// Whether `perm` keeps every axis but swaps the last two.
bool swaps_last_two(const Axes& perm) {
  int n = (int)perm.size();
  if (n < 2 || perm[n - 1] != n - 2 || perm[n - 2] != n - 1) return false;
  for (int i = 0; i < n - 2; ++i)
    if (perm[i] != i) return false;
  return true;
}

// x with its last two axes swapped; a pending swap of an array is undone rather than stacked.
array swap_last_two(const array& x) {
  if (x.has_primitive() && x.status() == array::Status::unscheduled) {
    auto* t = dynamic_cast<const Transpose*>(&x.primitive());
    if (t && swaps_last_two(t->axes_)) return x.inputs()[0];
  }
  return swapaxes(x, -1, -2);
}

}  // namespace

Arrays Transpose::vjp(const Arrays&, const Arrays& ct, const Axes&, const Arrays&) {
  Axes inv(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) inv[axes_[i]] = (int)i;
  // A cotangent that is a pending product a @ b, transposed: b^T @ a^T, which writes the
  // result in its final layout (the weight gradient of x @ w.T is then contiguous instead
  // of a transposed view that every later elementwise op reads with strides).
  const array& c = ct[0];
  if (swaps_last_two(inv) && c.has_primitive() && c.status() == array::Status::unscheduled &&
      c.inputs().size() == 2) {
    auto* mm = dynamic_cast<const Matmul*>(&c.primitive());
    const array& a = c.inputs()[0];
    const array& b = c.inputs()[1];
    if (mm && mm->alpha_ == 1.0f && a.ndim() == c.ndim() && b.ndim() == c.ndim())
      return {matmul(swap_last_two(b), swap_last_two(a))};
  }
  return {transpose(c, inv)};
}
Arrays Transpose::jvp(const Arrays&, const Arrays& t, const Axes&) { return {transpose(t[0], axes_)}; }
std::pair<Arrays, Axes> Transpose::vmap(const Arrays& in, const Axes& axes) {
  array x = batch_first(in[0], axes[0]);
  Axes perm{0};
  for (int a : axes_) perm.push_back(a + 1);
  return {{transpose(x, perm)}, {0}};
}
bool Transpose::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Transpose*>(&o);
  return p && p->axes_ == axes_;
}

// ---------- Broadcast

// Inputs after the first (operands linked by a shapeless trace) only inform the shape.
Arrays Broadcast::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays r;
  for (int i : argnums) {
    if (i != 0) {
      r.push_back(zeros_like(p[i]));
      continue;
    }
    r.push_back(sum_to_shape(ct[0], p[0].shape()));
  }
  return r;
}
Arrays Broadcast::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  for (size_t k = 0; k < argnums.size(); ++k)
    if (argnums[k] == 0) return {broadcast_to(t[k], shape_)};
  return {zeros(shape_, p[0].dtype())};
}
std::pair<Arrays, Axes> Broadcast::vmap(const Arrays& in, const Axes& axes) {
  int B = 1;
  for (size_t i = 0; i < in.size(); ++i)
    if (axes[i] >= 0) B = in[i].shape()[axes[i]];
  array x = axes[0] >= 0 ? batch_first(in[0], axes[0]) : expand_dims(in[0], 0);
  Shape xs = x.shape();
  // Insert ones after the batch axis so the remaining dims align on the right.
  int diff = (int)shape_.size() - (x.ndim() - 1);
  xs.insert(xs.begin() + 1, diff, 1);
  Shape target = shape_;
  target.insert(target.begin(), B);
  return {{broadcast_to(reshape(x, xs), target)}, {0}};
}
bool Broadcast::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Broadcast*>(&o);
  return p && p->shape_ == shape_;
}

// ---------- Slice and SliceUpdate

Arrays Slice::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays&) {
  return {slice_update(zeros_like(p[0]), ct[0], start_, stop_, strides_)};
}
Arrays Slice::jvp(const Arrays&, const Arrays& t, const Axes&) {
  return {slice(t[0], start_, stop_, strides_)};
}
std::pair<Arrays, Axes> Slice::vmap(const Arrays& in, const Axes& axes) {
  array x = batch_first(in[0], axes[0]);
  Shape b = start_, e = stop_, s = strides_;
  b.insert(b.begin(), 0);
  e.insert(e.begin(), x.shape()[0]);
  s.insert(s.begin(), 1);
  return {{slice(x, b, e, s)}, {0}};
}
bool Slice::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Slice*>(&o);
  return p && p->start_ == start_ && p->stop_ == stop_ && p->strides_ == strides_;
}

Arrays SliceUpdate::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays r;
  for (int i : argnums) {
    if (i == 0) r.push_back(slice_update(ct[0], zeros_like(p[1]), start_, stop_, strides_));
    else r.push_back(slice(ct[0], start_, stop_, strides_));
  }
  return r;
}
Arrays SliceUpdate::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  array ts = zeros_like(p[0]), tu = zeros_like(p[1]);
  for (size_t k = 0; k < argnums.size(); ++k) (argnums[k] == 0 ? ts : tu) = t[k];
  return {slice_update(ts, tu, start_, stop_, strides_)};
}
bool SliceUpdate::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const SliceUpdate*>(&o);
  return p && p->start_ == start_ && p->stop_ == stop_ && p->strides_ == strides_;
}

// Flat positions in the (row-contiguous) input read by each output element.
static array strided_positions(const Shape& shape, const Strides& strides, size_t offset) {
  array pos = array((int64_t)offset, int64);
  for (size_t d = 0; d < shape.size(); ++d) {
    Shape s(shape.size(), 1);
    s[d] = shape[d];
    array r = reshape(multiply(arange(0.0, (double)shape[d], 1.0, int64), array(strides[d], int64)), s);
    pos = add(pos, r);
  }
  return broadcast_to(pos, shape);
}

Arrays AsStrided::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays&) {
  array pos = reshape(strided_positions(shape_, strides_, offset_), {-1});
  array flat = zeros({(int)p[0].size()}, ct[0].dtype());
  array g = array(flat.shape(), flat.dtype(), std::make_shared<ScatterAxis>(stream(), 0, true),
                  {flat, pos, reshape(ct[0], {-1})});
  return {reshape(g, p[0].shape())};
}
Arrays AsStrided::jvp(const Arrays&, const Arrays& t, const Axes&) {
  return {as_strided(t[0], shape_, strides_, offset_)};
}

bool AsStrided::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const AsStrided*>(&o);
  return p && p->shape_ == shape_ && p->strides_ == strides_ && p->offset_ == offset_;
}

// ---------- Concatenate

Arrays Concatenate::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  std::vector<int> starts{0};
  for (auto& x : p) starts.push_back(starts.back() + x.shape()[axis_]);
  Arrays r;
  for (int i : argnums) {
    Shape b(ct[0].ndim(), 0), e = ct[0].shape();
    b[axis_] = starts[i];
    e[axis_] = starts[i + 1];
    r.push_back(slice(ct[0], b, e));
  }
  return r;
}
Arrays Concatenate::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  Arrays parts;
  for (auto& x : p) parts.push_back(zeros_like(x));
  for (size_t k = 0; k < argnums.size(); ++k) parts[argnums[k]] = t[k];
  return {concatenate(parts, axis_)};
}
std::pair<Arrays, Axes> Concatenate::vmap(const Arrays& in, const Axes& axes) {
  int B = 1;
  for (size_t i = 0; i < in.size(); ++i)
    if (axes[i] >= 0) B = in[i].shape()[axes[i]];
  Arrays xs;
  for (size_t i = 0; i < in.size(); ++i) {
    if (axes[i] >= 0) {
      xs.push_back(batch_first(in[i], axes[i]));
    } else {
      Shape s = in[i].shape();
      s.insert(s.begin(), B);
      xs.push_back(broadcast_to(expand_dims(in[i], 0), s));
    }
  }
  return {{concatenate(xs, axis_ + 1)}, {0}};
}
bool Concatenate::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Concatenate*>(&o);
  return p && p->axis_ == axis_;
}

// ---------- Reduce

namespace {

// For each element, the product of the other elements of its reduction group (the derivative of
// the group's product), from exclusive products in both directions: no division, so zeros are
// exact. The reduced axes are moved last and flattened, then put back.
array product_of_others(const array& x, const Axes& axes) {
  std::vector<int> perm = axes_last_perm(x.ndim(), axes);
  array flat = to_last_axis(x, axes);
  array r = multiply(cumprod(flat, -1, false, false), cumprod(flat, -1, true, false));
  Shape tshape;
  for (int p : perm) tshape.push_back(x.shape()[p]);
  Axes inv(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inv[perm[i]] = (int)i;
  return transpose(reshape(r, tshape), inv);
}

}  // namespace

Arrays Reduce::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays& outs) {
  const array& x = p[0];
  const array& c = ct[0];
  switch (type_) {
    case ReduceType::Sum:
      return {broadcast_to(c, x.shape())};
    case ReduceType::Prod:
      // conj: a complex VJP is ct * conj(dy/dx), as for the elementwise primitives.
      return {multiply(broadcast_to(c, x.shape()), conjugate(product_of_others(x, axes_)))};
    case ReduceType::Max:
    case ReduceType::Min: {
      array mask = astype(equal(x, outs[0]), c.dtype());
      array count = sum(mask, axes_, true);
      return {multiply(broadcast_to(c, x.shape()), divide(mask, count))};
    }
    default:
      return {zeros_like(x)};
  }
}
Arrays Reduce::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  const array& x = p[0];
  switch (type_) {
    case ReduceType::Sum:
      return {sum(t[0], axes_, true)};
    case ReduceType::Prod:
      return {sum(multiply(t[0], product_of_others(x, axes_)), axes_, true)};
    case ReduceType::Max:
    case ReduceType::Min: {
      array o = type_ == ReduceType::Max ? max(x, axes_, true) : min(x, axes_, true);
      array mask = astype(equal(x, o), t[0].dtype());
      return {divide(sum(multiply(mask, t[0]), axes_, true), sum(mask, axes_, true))};
    }
    default:
      return {zeros(reduced_keepdims_shape(x.shape()), bool_)};
  }
}
std::pair<Arrays, Axes> Reduce::vmap(const Arrays& in, const Axes& axes) {
  array x = batch_first(in[0], axes[0]);
  Axes ax;
  for (int a : axes_) ax.push_back(a + 1);
  Shape kept = x.shape();
  for (int a : ax) kept[a] = 1;
  return {{array(kept, x.dtype(), std::make_shared<Reduce>(stream(), type_, ax), {x})}, {0}};
}
bool Reduce::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Reduce*>(&o);
  return p && p->type_ == type_ && p->axes_ == axes_;
}
Shape Reduce::reduced_keepdims_shape(Shape s) const {
  for (int a : axes_) s[a] = 1;
  return s;
}

// ---------- ArgReduce

Arrays ArgReduce::vjp(const Arrays& p, const Arrays&, const Axes&, const Arrays&) {
  return {zeros_like(p[0])};
}
Arrays ArgReduce::jvp(const Arrays& p, const Arrays&, const Axes&) {
  Shape s = p[0].shape();
  s[axis_] = 1;
  return {zeros(s, uint32)};
}
std::pair<Arrays, Axes> ArgReduce::vmap(const Arrays& in, const Axes& axes) {
  array x = batch_first(in[0], axes[0]);
  Shape s = x.shape();
  s[axis_ + 1] = 1;
  return {{array(s, uint32, std::make_shared<ArgReduce>(stream(), is_max_, axis_ + 1), {x})}, {0}};
}
bool ArgReduce::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ArgReduce*>(&o);
  return p && p->is_max_ == is_max_ && p->axis_ == axis_;
}

// ---------- Scan

namespace {

// Moves every value one position along `axis`: toward the end (out[k] = x[k-1]) or toward the
// start (out[k] = x[k+1]); the vacated position holds zero.
array shift_along(const array& x, int axis, bool toward_end) {
  int n = x.shape()[axis];
  if (n == 0) return x;
  Shape b(x.ndim(), 0), e = x.shape();
  if (toward_end) e[axis] = n - 1;
  else b[axis] = 1;
  std::vector<std::pair<int, int>> pw(x.ndim(), {0, 0});
  pw[axis] = toward_end ? std::make_pair(1, 0) : std::make_pair(0, 1);
  return pad(slice(x, b, e), pw, array(0, x.dtype()));
}

// Position of each element along `axis`, broadcast to `shape`.
array positions(const Shape& shape, int axis) {
  Shape s(shape.size(), 1);
  s[axis] = shape[axis];
  return broadcast_to(reshape(arange(0, shape[axis], 1), s), shape);
}

// The zero structure of a cumprod's input, in scan order: `before` marks the positions ahead of
// the first zero, `first` the first zero itself, `after` it and everything later; `y1` is the
// cumprod with the first zero replaced by one.
struct ZeroSplit {
  array before, first, after, y1;
};
ZeroSplit split_at_first_zero(const array& x, int axis, bool reverse) {
  array is_zero = equal(x, array(0, x.dtype()));
  array zc = cumsum(astype(is_zero, int32), axis, reverse, true);
  array first = logical_and(is_zero, equal(zc, array(1)));
  array y1 = cumprod(where(first, array(1, x.dtype()), x), axis, reverse, true);
  return {equal(zc, array(0)), first, greater(zc, array(0)), y1};
}

// vjp and jvp of an inclusive cumprod that never divide by a zero input: ahead of the first
// zero every factor is nonzero and the quotient form is exact; at the first zero the products
// are those with it replaced by one; past it every partial derivative is zero.
array cumprod_vjp(const array& x, const array& ct, const array& y, int axis, bool reverse) {
  ZeroSplit z = split_at_first_zero(x, axis, reverse);
  array zero = array(0, ct.dtype());
  array a = cumsum(where(z.before, multiply(ct, y), zero), axis, !reverse, true);
  array b = cumsum(where(z.after, multiply(ct, z.y1), zero), axis, !reverse, true);
  array safe_x = where(z.before, x, array(1, x.dtype()));
  return where(z.before, divide(a, safe_x), where(z.first, b, zero));
}
array cumprod_jvp(const array& x, const array& t, const array& y, int axis, bool reverse) {
  ZeroSplit z = split_at_first_zero(x, axis, reverse);
  array zero = array(0, t.dtype());
  array safe_x = where(z.before, x, array(1, x.dtype()));
  array ratio = cumsum(where(z.before, divide(t, safe_x), zero), axis, reverse, true);
  array tz = cumsum(where(z.first, t, zero), axis, reverse, true);
  return where(z.before, multiply(y, ratio), multiply(tz, z.y1));
}

// log(w) where w > 0, -inf elsewhere; its derivative stays finite where w <= 0.
array log_positive(const array& w) {
  array pos = greater(w, array(0, w.dtype()));
  return where(pos, log(where(pos, w, array(1, w.dtype()))), array(-INFINITY, w.dtype()));
}

// -y, with -inf where y is -inf (a prefix of -inf inputs contributes nothing).
array negate_finite(const array& y) {
  array ninf = array(-INFINITY, y.dtype());
  return where(equal(y, ninf), ninf, negative(y));
}

// exp(offset + log sum over the scan of w_k * exp(v_k)) for a signed `w`, as the difference of
// two log-domain scans so that no term overflows on its own.
array signed_exp_scan(const array& v, const array& w, const array& offset, int axis, bool reverse) {
  array pos = logcumsumexp(add(v, log_positive(w)), axis, reverse, true);
  array neg = logcumsumexp(add(v, log_positive(negative(w))), axis, reverse, true);
  return subtract(exp(add(offset, pos)), exp(add(offset, neg)));
}

// The inclusive scan of `x` with the same type, axis and direction as `s`.
array inclusive_like(const Scan& s, const array& x) {
  return array(x.shape(), x.dtype(),
               std::make_shared<Scan>(s.stream(), s.type_, s.axis_, s.reverse_, true), {x});
}

// Which input position set each output of an inclusive cummax/cummin: the latest one.
array scan_source(const array& x, const array& y, int axis, bool reverse) {
  int n = x.shape()[axis];
  array pos = positions(x.shape(), axis);
  array hit = equal(x, y);
  return reverse ? cummin(where(hit, pos, array(n - 1)), axis, true, true)
                 : cummax(where(hit, pos, array(0)), axis, false, true);
}

}  // namespace

// An exclusive scan is the inclusive scan shifted by one position: its rules are the inclusive
// rules with the cotangent shifted back (vjp) or the tangent shifted forward (jvp).
// A complex VJP is ct * conj(dy/dx) (as for the elementwise primitives): the rules below give
// ct * dy/dx, so for complex input they run on conj(ct) and their result is conjugated.
Arrays Scan::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays& outs) {
  const array& x = p[0];
  array c = inclusive_ ? ct[0] : shift_along(ct[0], axis_, reverse_);
  array y = inclusive_ ? outs[0] : inclusive_like(*this, x);
  switch (type_) {
    case ScanType::Sum:
      return {cumsum(c, axis_, !reverse_, true)};
    case ScanType::Prod:
      return {conjugate(cumprod_vjp(x, conjugate(c), y, axis_, reverse_))};
    case ScanType::LogAddExp:
      // d y_k / d x_i = exp(x_i - y_k) for every i in the prefix of k.
      return {conjugate(signed_exp_scan(negate_finite(y), conjugate(c), x, axis_, !reverse_))};
    default:
      return {array(x.shape(), x.dtype(), std::make_shared<ScatterAxis>(stream(), axis_, true),
                    {zeros_like(x), scan_source(x, y, axis_, reverse_), c})};
  }
}
Arrays Scan::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  const array& x = p[0];
  array y = inclusive_like(*this, x);
  array r;
  switch (type_) {
    case ScanType::Sum:
      r = cumsum(t[0], axis_, reverse_, true);
      break;
    case ScanType::Prod:
      r = cumprod_jvp(x, t[0], y, axis_, reverse_);
      break;
    case ScanType::LogAddExp:
      r = signed_exp_scan(x, t[0], negate_finite(y), axis_, reverse_);
      break;
    default:
      r = take_along_axis(t[0], scan_source(x, y, axis_, reverse_), axis_);
  }
  return {inclusive_ ? r : shift_along(r, axis_, !reverse_)};
}
std::pair<Arrays, Axes> Scan::vmap(const Arrays& in, const Axes& axes) {
  array x = batch_first(in[0], axes[0]);
  return {{array(x.shape(), x.dtype(),
                 std::make_shared<Scan>(stream(), type_, axis_ + 1, reverse_, inclusive_), {x})},
          {0}};
}
bool Scan::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Scan*>(&o);
  return p && p->type_ == type_ && p->axis_ == axis_ && p->reverse_ == reverse_ &&
         p->inclusive_ == inclusive_;
}

// ---------- Softmax and LogSumExp (last axis)

Arrays Softmax::vjp(const Arrays&, const Arrays& ct, const Axes&, const Arrays& outs) {
  const array& s = outs[0];
  return {multiply(s, subtract(ct[0], sum(multiply(ct[0], s), std::vector<int>{-1}, true)))};
}
Arrays Softmax::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  array s = softmax(p[0], std::vector<int>{-1}, precise_);
  return {multiply(s, subtract(t[0], sum(multiply(t[0], s), std::vector<int>{-1}, true)))};
}
std::pair<Arrays, Axes> Softmax::vmap(const Arrays& in, const Axes& axes) {
  int ax = axes[0];
  array x = in[0];
  if (ax == x.ndim() - 1) {
    x = moveaxis(x, ax, 0);
    ax = 0;
  }
  return {{array(x.shape(), x.dtype(), std::make_shared<Softmax>(stream(), precise_), {x})}, {ax}};
}
bool Softmax::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Softmax*>(&o);
  return p && p->precise_ == precise_;
}

Arrays LogSumExp::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays& outs) {
  return {multiply(ct[0], exp(subtract(p[0], outs[0])))};
}
Arrays LogSumExp::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  return {sum(multiply(t[0], softmax(p[0], std::vector<int>{-1})), std::vector<int>{-1}, true)};
}
std::pair<Arrays, Axes> LogSumExp::vmap(const Arrays& in, const Axes& axes) {
  int ax = axes[0];
  array x = in[0];
  if (ax == x.ndim() - 1) {
    x = moveaxis(x, ax, 0);
    ax = 0;
  }
  Shape s = x.shape();
  s.back() = 1;
  return {{array(s, x.dtype(), std::make_shared<LogSumExp>(stream()), {x})}, {ax}};
}

// ---------- indexing

Arrays Gather::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays r;
  for (int i : argnums) {
    if (i != 0) {
      r.push_back(zeros_like(p[i]));
      continue;
    }
    Arrays idx(p.begin() + 1, p.end());
    // Scatter-add expects updates of shape idx + slice with indexed axes of size 1.
    Shape us = idx.empty() ? Shape{} : idx[0].shape();
    Shape sl = slice_sizes_;
    us.insert(us.end(), sl.begin(), sl.end());
    bool full_slices = true;
    for (int d = 0; d < p[0].ndim(); ++d) {
      bool indexed = std::find(axes_.begin(), axes_.end(), d) != axes_.end();
      if (!indexed && sl[d] != p[0].shape()[d]) full_slices = false;
      if (indexed && sl[d] != 1) full_slices = false;
    }
    if (!full_slices)
      throw std::invalid_argument("[Gather] vjp needs full slices on the non-indexed axes.");
    r.push_back(scatter_add(zeros_like(p[0]), idx, ct[0], axes_));
  }
  return r;
}
Arrays Gather::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  for (size_t k = 0; k < argnums.size(); ++k)
    if (argnums[k] == 0) return {gather(t[k], Arrays(p.begin() + 1, p.end()), axes_, slice_sizes_)};
  Shape s = p.size() > 1 ? p[1].shape() : Shape{};
  s.insert(s.end(), slice_sizes_.begin(), slice_sizes_.end());
  return {zeros(s, p[0].dtype())};
}
bool Gather::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Gather*>(&o);
  return p && p->axes_ == axes_ && p->slice_sizes_ == slice_sizes_;
}

Arrays GatherAxis::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays r;
  for (int i : argnums) {
    if (i == 0)
      r.push_back(array(p[0].shape(), p[0].dtype(), std::make_shared<ScatterAxis>(stream(), axis_, true),
                        {zeros_like(p[0]), p[1], ct[0]}));
    else r.push_back(zeros_like(p[1]));
  }
  return r;
}
Arrays GatherAxis::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  for (size_t k = 0; k < argnums.size(); ++k)
    if (argnums[k] == 0) return {take_along_axis(t[k], p[1], axis_)};
  return {zeros(p[1].shape(), p[0].dtype())};
}
bool GatherAxis::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const GatherAxis*>(&o);
  return p && p->axis_ == axis_;
}

Arrays ScatterAxis::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  array ta = zeros_like(p[0]), tv = zeros_like(p[2]);
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 0) ta = t[k];
    if (argnums[k] == 2) tv = t[k];
  }
  return {array(p[0].shape(), p[0].dtype(), std::make_shared<ScatterAxis>(stream(), axis_, add_),
                {ta, p[1], tv})};
}

Arrays ScatterAxis::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays r;
  for (int i : argnums) {
    if (i == 0) r.push_back(add_ ? ct[0] : put_along_axis(ct[0], p[1], zeros_like(p[2]), axis_));
    else if (i == 2) r.push_back(take_along_axis(ct[0], p[1], axis_));
    else r.push_back(zeros_like(p[i]));
  }
  return r;
}
bool ScatterAxis::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ScatterAxis*>(&o);
  return p && p->axis_ == axis_ && p->add_ == add_;
}

// ---------- Matmul: out = alpha * a @ b (+ beta * c)

Arrays Matmul::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays r;
  array g = alpha_ != 1.0f ? multiply(ct[0], astype(array(alpha_), ct[0].dtype())) : ct[0];
  for (int i : argnums) {
    // Complex: ct * conj(dy/dx), hence the conjugate transposes.
    if (i == 0) r.push_back(matmul(g, conjugate(swapaxes(p[1], -1, -2))));
    else if (i == 1) r.push_back(matmul(conjugate(swapaxes(p[0], -1, -2)), g));
    else r.push_back(sum_to_shape(multiply(ct[0], astype(array(beta_), ct[0].dtype())), p[2].shape()));
  }
  return r;
}
Arrays Matmul::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  array total;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array d;
    if (argnums[k] == 0) d = matmul(t[k], p[1]);
    else if (argnums[k] == 1) d = matmul(p[0], t[k]);
    else d = multiply(t[k], astype(array(beta_ / alpha_), t[k].dtype()));
    total = total.valid() ? add(total, d) : d;
  }
  Shape out = p[0].shape();
  out.back() = p[1].shape().back();
  if (total.shape() != out) total = broadcast_to(total, out);
  if (alpha_ != 1.0f) total = multiply(total, astype(array(alpha_), total.dtype()));
  return {total};
}
bool Matmul::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Matmul*>(&o);
  return p && p->alpha_ == alpha_ && p->beta_ == beta_;
}

// ---------- RandomBits

std::pair<Arrays, Axes> RandomBits::vmap(const Arrays& in, const Axes& axes) {
  array k = batch_first(in[0], axes[0]);
  Shape s(k.shape().begin(), k.shape().end() - 1);
  s.insert(s.end(), shape_.begin(), shape_.end());
  return {{array(s, width_ == 1 ? uint8 : width_ == 2 ? uint16 : width_ == 4 ? uint32 : uint64,
                 std::make_shared<RandomBits>(stream(), shape_, width_), {k})},
          {0}};
}
bool RandomBits::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const RandomBits*>(&o);
  return p && p->shape_ == shape_ && p->width_ == width_;
}

}  // namespace ember

// ---------- batching rules of multi-input structural primitives

namespace ember {

namespace {

using Arrays = std::vector<array>;
using Axes = std::vector<int>;

// Batch axis to the front for batched inputs; unbatched inputs get a broadcast one.
Arrays batch_all(const Arrays& in, const Axes& axes, int& B) {
  B = 1;
  for (size_t i = 0; i < in.size(); ++i)
    if (axes[i] >= 0) B = in[i].shape()[axes[i]];
  Arrays out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (axes[i] >= 0) {
      out.push_back(axes[i] == 0 ? in[i] : moveaxis(in[i], axes[i], 0));
    } else {
      Shape s = in[i].shape();
      s.insert(s.begin(), B);
      out.push_back(broadcast_to(expand_dims(in[i], 0), s));
    }
  }
  return out;
}

// An index array selecting the batch entry, shaped to broadcast with `like`.
array batch_index(int B, const array& like) {
  Shape s(like.ndim(), 1);
  s[0] = B;
  return broadcast_to(reshape(arange(0, B, 1), s), like.shape());
}

}  // namespace

std::pair<Arrays, Axes> SliceUpdate::vmap(const Arrays& in, const Axes& axes) {
  int B;
  Arrays x = batch_all(in, axes, B);
  Shape b = start_, e = stop_, s = strides_;
  b.insert(b.begin(), 0);
  e.insert(e.begin(), B);
  s.insert(s.begin(), 1);
  return {{slice_update(x[0], x[1], b, e, s)}, {0}};
}

std::pair<Arrays, Axes> Matmul::vmap(const Arrays& in, const Axes& axes) {
  int B;
  Arrays x = batch_all(in, axes, B);
  if (x.size() == 3 && x[2].ndim() < x[0].ndim()) {
    // c of a lower rank than the product (a shapeless trace keeps it unbroadcast).
    Shape cs = x[2].shape();
    cs.insert(cs.begin() + 1, x[0].ndim() - x[2].ndim(), 1);
    x[2] = reshape(x[2], cs);
  }
  array r = x.size() == 3 ? addmm(x[2], x[0], x[1], alpha_, beta_) : matmul(x[0], x[1]);
  if (x.size() == 2 && alpha_ != 1.0f) r = multiply(r, astype(array(alpha_), r.dtype()));
  return {{r}, {0}};
}

std::pair<Arrays, Axes> Gather::vmap(const Arrays& in, const Axes& axes) {
  int B;
  Arrays x = batch_all(in, axes, B);
  Arrays idx(x.begin() + 1, x.end());
  Axes ax{0};
  for (int a : axes_) ax.push_back(a + 1);
  idx.insert(idx.begin(), batch_index(B, idx.empty() ? x[0] : idx[0]));
  Shape sl = slice_sizes_;
  sl.insert(sl.begin(), 1);
  array g = gather(x[0], idx, ax, sl);
  // (B, idx..., 1, slice...) -> (B, idx..., slice...)
  return {{squeeze(g, {idx[0].ndim()})}, {0}};
}

std::pair<Arrays, Axes> GatherAxis::vmap(const Arrays& in, const Axes& axes) {
  int B;
  Arrays x = batch_all(in, axes, B);
  return {{take_along_axis(x[0], x[1], axis_ + 1)}, {0}};
}

std::pair<Arrays, Axes> ScatterAxis::vmap(const Arrays& in, const Axes& axes) {
  int B;
  Arrays x = batch_all(in, axes, B);
  return {{array(x[0].shape(), x[0].dtype(), std::make_shared<ScatterAxis>(stream(), axis_ + 1, add_),
                 x)},
          {0}};
}

}  // namespace ember
