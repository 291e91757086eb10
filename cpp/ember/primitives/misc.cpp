// Rules of View and Depends.
#include "ember/primitives/misc.h"

#include "ember/ops/common.h"
#include "ember/ops/misc.h"

namespace ember {

using Arrays = std::vector<array>;
using Axes = std::vector<int>;

// ---------- View

namespace {
[[noreturn]] void view_not_differentiable(Dtype from, Dtype to) {
  throw std::invalid_argument(std::string("[view] Cannot differentiate a bit reinterpretation (") +
                              dtype_name(from) + " viewed as " + dtype_name(to) + ").");
}
}  // namespace

Arrays View::vjp(const Arrays& p, const Arrays&, const Axes&, const Arrays&) {
  view_not_differentiable(p[0].dtype(), dtype_);
}
Arrays View::jvp(const Arrays& p, const Arrays&, const Axes&) {
  view_not_differentiable(p[0].dtype(), dtype_);
}
std::pair<Arrays, Axes> View::vmap(const Arrays& in, const Axes& axes) {
  const array& x = in[0];
  int ax = axes[0];
  if (ax < 0) return {{view(x, dtype_)}, {-1}};
  bool resize = size_of(x.dtype()) != size_of(dtype_);
  if (resize && x.ndim() == 1)  // each entry is a scalar
    op_error("view", "Changing the type of a scalar is only allowed for types with the same size.");
  // The batch axis must not be the last one when the last axis changes length.
  if (resize && ax == x.ndim() - 1) {
    return {{view(moveaxis(x, ax, 0), dtype_)}, {0}};
  }
  return {{view(x, dtype_)}, {ax}};
}
bool View::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const View*>(&o);
  return p && p->dtype_ == dtype_;
}
std::vector<Shape> View::output_shapes(const Arrays& in) {
  Shape s = in[0].shape();
  int ib = size_of(in[0].dtype()), ob = size_of(dtype_);
  if (ib != ob && !s.empty()) {
    int64_t bytes = (int64_t)s.back() * ib;
    if (bytes % ob != 0)
      op_error("view", "When viewing as a larger dtype, the size in bytes of the last axis must be a "
                       "multiple of the requested type size.");
    s.back() = (int32_t)(bytes / ob);
  }
  return {s};
}

// ---------- Depends

Arrays Depends::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays r;
  for (int i : argnums) r.push_back(i < n_ ? ct[i] : zeros_like(p[i]));
  return r;
}
Arrays Depends::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  Arrays out;
  for (int i = 0; i < n_; ++i) out.push_back(zeros_like(p[i]));
  for (size_t k = 0; k < argnums.size(); ++k)
    if (argnums[k] < n_) out[argnums[k]] = t[k];
  return out;
}
std::pair<Arrays, Axes> Depends::vmap(const Arrays& in, const Axes& axes) {
  Arrays xs(in.begin(), in.begin() + n_), deps(in.begin() + n_, in.end());
  return {depends(xs, deps), Axes(axes.begin(), axes.begin() + n_)};
}
bool Depends::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Depends*>(&o);
  return p && p->n_ == n_;
}
std::vector<Shape> Depends::output_shapes(const Arrays& in) {
  std::vector<Shape> out;
  for (int i = 0; i < n_; ++i) out.push_back(in[i].shape());
  return out;
}

}  // namespace ember
