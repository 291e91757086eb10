// Rules of the collective primitives. Derivatives are local, as in MLX: each rank's
// cotangent flows back to its own input only, as when every rank computes the same loss
// (tensor parallelism). So the vjp of all_sum passes the cotangent through, all_gather's
// takes this rank's slice of it and sum_scatter's places it at this rank's block. Code that
// sums a loss over ranks (data parallelism) reduces the gradients itself, e.g. with
// nn.utils.average_gradients. Sums, gathers and scatters are linear, so their jvp is the op
// applied to the tangent.
#include "ember/ops/common.h"
#include "ember/primitives/distributed.h"

namespace ember {

namespace {

using Arrays = std::vector<array>;
using Axes = std::vector<int>;
namespace dist = distributed;

bool same_group(const DistPrimitive& a, const Primitive& o) {
  auto* p = dynamic_cast<const DistPrimitive*>(&o);
  return p && p->group().impl() == a.group().impl();
}

// x with its batch axis moved to position 1 (a batched scalar becomes (1, B)), so that the
// collective's first axis is the unbatched array's first axis.
array batch_second(const array& x, int ax) {
  if (x.ndim() == 1) return expand_dims(x, 0);
  return ax == 1 ? x : moveaxis(x, ax, 1);
}

// Block r (of length n along the first axis) of an array shaped `shape`.
std::pair<Shape, Shape> block(const Shape& shape, int r, int n) {
  Shape start(shape.size(), 0), stop = shape;
  start[0] = r * n;
  stop[0] = (r + 1) * n;
  return {start, stop};
}

}  // namespace

// ---------- AllReduce

Arrays AllReduce::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays& outs) {
  if (op_ == Op::Sum) return {ct[0]};
  // The cotangent reaches the ranks that hold the extreme value.
  return {where(equal(p[0], outs[0], stream()), ct[0], zeros_like(ct[0]), stream())};
}

Arrays AllReduce::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  if (op_ == Op::Sum) return {dist::all_sum(t[0], group_, stream())};
  array out = op_ == Op::Max ? dist::all_max(p[0], group_, stream())
                             : dist::all_min(p[0], group_, stream());
  array hit = equal(p[0], out, stream());
  array num = dist::all_sum(where(hit, t[0], zeros_like(t[0]), stream()), group_, stream());
  array count = dist::all_sum(astype(hit, t[0].dtype(), stream()), group_, stream());
  return {divide(num, count, stream())};
}

std::pair<Arrays, Axes> AllReduce::vmap(const Arrays& in, const Axes& axes) {
  return {{array(in[0].shape(), in[0].dtype(), std::make_shared<AllReduce>(stream(), group_, op_),
                 {in[0]})},
          {axes[0]}};
}

bool AllReduce::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const AllReduce*>(&o);
  return p && p->op_ == op_ && same_group(*this, o);
}

// ---------- AllGather

Arrays AllGather::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays&) {
  int n = p[0].ndim() == 0 ? 1 : p[0].shape()[0];
  int r = group_.rank();
  auto [start, stop] = block(ct[0].shape(), r, n);
  array g = slice(ct[0], start, stop, stream());
  return {reshape(g, p[0].shape(), stream())};
}

Arrays AllGather::jvp(const Arrays&, const Arrays& t, const Axes&) {
  return {dist::all_gather(t[0], group_, stream())};
}

std::pair<Arrays, Axes> AllGather::vmap(const Arrays& in, const Axes& axes) {
  array x = batch_second(in[0], axes[0]);
  return {{dist::all_gather(x, group_, stream())}, {1}};
}

bool AllGather::is_equivalent(const Primitive& o) const {
  return dynamic_cast<const AllGather*>(&o) && same_group(*this, o);
}

std::vector<Shape> AllGather::output_shapes(const Arrays& in) {
  Shape s = in[0].shape();
  if (s.empty())
    s.push_back(group_.size());
  else
    s[0] *= group_.size();
  return {s};
}

// ---------- SumScatter

Arrays SumScatter::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays&) {
  int n = ct[0].shape()[0];
  int r = group_.rank();
  auto [start, stop] = block(p[0].shape(), r, n);
  return {slice_update(zeros_like(p[0], stream()), ct[0], start, stop, Shape(start.size(), 1),
                       stream())};
}

Arrays SumScatter::jvp(const Arrays&, const Arrays& t, const Axes&) {
  return {dist::sum_scatter(t[0], group_, stream())};
}

std::pair<Arrays, Axes> SumScatter::vmap(const Arrays& in, const Axes& axes) {
  if (in[0].ndim() < 2)
    throw std::invalid_argument("[sum_scatter] The unbatched input must have at least one axis.");
  array x = batch_second(in[0], axes[0]);
  return {{dist::sum_scatter(x, group_, stream())}, {1}};
}

bool SumScatter::is_equivalent(const Primitive& o) const {
  return dynamic_cast<const SumScatter*>(&o) && same_group(*this, o);
}

std::vector<Shape> SumScatter::output_shapes(const Arrays& in) {
  Shape s = in[0].shape();
  if (s.empty() || s[0] % group_.size() != 0)
    throw std::invalid_argument("[sum_scatter] The first axis of the input (shape " +
                                shape_str(s) + ") must be divisible by the group size.");
  s[0] /= group_.size();
  return {s};
}

// ---------- Send and Recv

// The output of a send is its input: derivatives pass through it unchanged.
Arrays Send::vjp(const Arrays&, const Arrays& ct, const Axes&, const Arrays&) { return {ct[0]}; }
Arrays Send::jvp(const Arrays&, const Arrays& t, const Axes&) { return {t[0]}; }
std::pair<Arrays, Axes> Send::vmap(const Arrays& in, const Axes& axes) {
  return {{dist::send(in[0], peer_, group_, stream())}, {axes[0]}};
}

// A received array depends on no input of this process.
Arrays Recv::jvp(const Arrays&, const Arrays&, const Axes&) { return {}; }

}  // namespace ember
