// Rules of the contraction and diagonal family's primitives.
#include <algorithm>

#include "ember/ops/common.h"

namespace ember {

Shape Diagonal::shape_for(const Shape& in, int offset, int axis1, int axis2) {
  Shape s;
  for (int d = 0; d < (int)in.size(); ++d)
    if (d != axis1 && d != axis2) s.push_back(in[d]);
  int64_t off1 = std::max(-(int64_t)offset, (int64_t)0), off2 = std::max((int64_t)offset, (int64_t)0);
  s.push_back((int32_t)std::max<int64_t>(0, std::min(in[axis1] - off1, in[axis2] - off2)));
  return s;
}

std::vector<Shape> Diagonal::output_shapes(const std::vector<array>& in) {
  return {shape_for(in[0].shape(), offset_, axis1_, axis2_)};
}

bool Diagonal::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Diagonal*>(&o);
  return p && p->offset_ == offset_ && p->axis1_ == axis1_ && p->axis2_ == axis2_;
}

std::vector<array> Diagonal::jvp(const std::vector<array>&, const std::vector<array>& t,
                                 const std::vector<int>&) {
  return {diagonal(t[0], offset_, axis1_, axis2_, stream())};
}

std::pair<std::vector<array>, std::vector<int>> Diagonal::vmap(const std::vector<array>& in,
                                                                const std::vector<int>& axes) {
  int b = axes[0];
  // The batch axis stays where it is among the other axes; the diagonal axes shift past it.
  int a1 = axis1_ + (axis1_ >= b), a2 = axis2_ + (axis2_ >= b);
  int out_b = b - (axis1_ < b) - (axis2_ < b);
  return {{diagonal(in[0], offset_, a1, a2, stream())}, {out_b}};
}

// The cotangent lands on the diagonal of zero planes: with the two axes last and flattened,
// the diagonal is a strided slice of each plane.
std::vector<array> Diagonal::vjp(const std::vector<array>& p, const std::vector<array>& ct,
                                 const std::vector<int>&, const std::vector<array>&) {
  const Shape& in = p[0].shape();
  S s = stream();
  const array& g = ct[0];
  int d = g.shape().back();
  if (d == 0) return {zeros_like(p[0], s)};
  int n1 = in[axis1_], n2 = in[axis2_];
  int64_t off1 = std::max(-offset_, 0), off2 = std::max(offset_, 0);
  Shape rest(g.shape().begin(), g.shape().end() - 1);
  Shape flat = rest;
  flat.push_back(checked_dim((int64_t)n1 * n2, "diagonal"));
  Shape start(flat.size(), 0), stop = flat, step(flat.size(), 1);
  start.back() = (int32_t)(off1 * n2 + off2);
  stop.back() = (int32_t)(start.back() + (int64_t)(d - 1) * (n2 + 1) + 1);
  step.back() = n2 + 1;
  array z = slice_update(zeros(flat, g.dtype(), s), g, start, stop, step, s);
  Shape planes = rest;
  planes.push_back(n1);
  planes.push_back(n2);
  z = reshape(z, planes, s);
  // Current axis k holds input axis src[k]; put each back in place.
  std::vector<int> src;
  for (int k = 0; k < (int)in.size(); ++k)
    if (k != axis1_ && k != axis2_) src.push_back(k);
  src.push_back(axis1_);
  src.push_back(axis2_);
  std::vector<int> perm(in.size());
  for (int k = 0; k < (int)src.size(); ++k) perm[src[k]] = k;
  return {transpose(z, perm, s)};
}

}  // namespace ember
