// Rules of the sorting and selection primitives. A value output is a gather of its input
// at the positions its `arg` twin returns, so its derivatives go through those positions:
// the tangent is gathered, the cotangent scattered back (added, for ties are distinct
// positions). The positions themselves are piecewise constant: zero derivatives.
#include "ember/ops/common.h"

namespace ember {

namespace {

using Arrays = std::vector<array>;
using Axes = std::vector<int>;

array batch_first(const array& x, int ax) { return ax > 0 ? moveaxis(x, ax, 0) : x; }

// ct scattered (added) into zeros shaped like `x` at `idx` along `axis`.
array scatter_back(const array& x, const array& idx, const array& ct, int axis, Stream s) {
  return array(x.shape(), x.dtype(), std::make_shared<ScatterAxis>(s, axis, true),
               {zeros_like(x), idx, ct});
}

}  // namespace

// ---------- Sort

Arrays Sort::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays&) {
  if (arg_) return {zeros_like(p[0])};
  return {scatter_back(p[0], argsort(p[0], axis_, stream()), ct[0], axis_, stream())};
}
Arrays Sort::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  if (arg_) return {zeros(p[0].shape(), uint32)};
  return {take_along_axis(t[0], argsort(p[0], axis_, stream()), axis_)};
}
std::pair<Arrays, Axes> Sort::vmap(const Arrays& in, const Axes& axes) {
  array x = batch_first(in[0], axes[0]);
  return {{arg_ ? argsort(x, axis_ + 1, stream()) : sort(x, axis_ + 1, stream())}, {0}};
}
bool Sort::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Sort*>(&o);
  return p && p->axis_ == axis_ && p->arg_ == arg_;
}
std::vector<Shape> Sort::output_shapes(const Arrays& in) { return {in[0].shape()}; }

// ---------- Partition

Arrays Partition::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays&) {
  if (arg_) return {zeros_like(p[0])};
  return {scatter_back(p[0], argpartition(p[0], kth_, axis_, stream()), ct[0], axis_, stream())};
}
Arrays Partition::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  if (arg_) return {zeros(p[0].shape(), uint32)};
  return {take_along_axis(t[0], argpartition(p[0], kth_, axis_, stream()), axis_)};
}
std::pair<Arrays, Axes> Partition::vmap(const Arrays& in, const Axes& axes) {
  array x = batch_first(in[0], axes[0]);
  return {{arg_ ? argpartition(x, kth_, axis_ + 1, stream()) : partition(x, kth_, axis_ + 1, stream())},
          {0}};
}
bool Partition::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Partition*>(&o);
  return p && p->kth_ == kth_ && p->axis_ == axis_ && p->arg_ == arg_;
}
std::vector<Shape> Partition::output_shapes(const Arrays& in) {
  if (kth_ >= in[0].shape()[axis_])
    throw std::invalid_argument("[partition] kth " + std::to_string(kth_) +
                                " is out of range for the new shape " + shape_str(in[0].shape()) +
                                ".");
  return {in[0].shape()};
}

// ---------- TopK

namespace {
array arg_topk(const array& x, int k, int axis, Stream s) {
  Shape shape = x.shape();
  shape[axis] = k;
  return array(shape, uint32, std::make_shared<TopK>(s, k, axis, true), {x});
}
}  // namespace

Arrays TopK::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays&) {
  if (arg_) return {zeros_like(p[0])};
  return {scatter_back(p[0], arg_topk(p[0], k_, axis_, stream()), ct[0], axis_, stream())};
}
Arrays TopK::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  array idx = arg_topk(p[0], k_, axis_, stream());
  if (arg_) return {zeros(idx.shape(), uint32)};
  return {take_along_axis(t[0], idx, axis_)};
}
std::pair<Arrays, Axes> TopK::vmap(const Arrays& in, const Axes& axes) {
  array x = batch_first(in[0], axes[0]);
  Shape shape = x.shape();
  shape[axis_ + 1] = k_;
  return {{array(shape, arg_ ? uint32 : x.dtype(), std::make_shared<TopK>(stream(), k_, axis_ + 1, arg_),
                 {x})},
          {0}};
}
bool TopK::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const TopK*>(&o);
  return p && p->k_ == k_ && p->axis_ == axis_ && p->arg_ == arg_;
}
std::vector<Shape> TopK::output_shapes(const Arrays& in) {
  Shape s = in[0].shape();
  if (k_ > s[axis_])
    throw std::invalid_argument("[topk] k=" + std::to_string(k_) +
                                " is larger than the axis in the new shape " + shape_str(s) + ".");
  s[axis_] = k_;
  return {s};
}

// ---------- SearchSorted

Arrays SearchSorted::vjp(const Arrays& p, const Arrays&, const Axes& argnums, const Arrays&) {
  Arrays r;
  for (int i : argnums) r.push_back(zeros_like(p[i]));
  return r;
}
Arrays SearchSorted::jvp(const Arrays& p, const Arrays&, const Axes&) {
  return {zeros(p[1].shape(), uint32)};
}
std::pair<Arrays, Axes> SearchSorted::vmap(const Arrays& in, const Axes& axes) {
  if (axes[0] >= 0)
    throw std::invalid_argument(
        "[searchsorted] Cannot vmap over the sorted sequence, only over the values being "
        "searched for.");
  return {{array(in[1].shape(), uint32, std::make_shared<SearchSorted>(stream(), right_), in)},
          {axes[1]}};
}
bool SearchSorted::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const SearchSorted*>(&o);
  return p && p->right_ == right_;
}

}  // namespace ember
