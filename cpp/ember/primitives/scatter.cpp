// Rules of Scatter (its forward: backend/cpu/scatter.cpp).
//
// Inputs are a, the index arrays idx and the updates u; out = a with u combined in at idx.
// - None (overwrite): d a = ct with the written blocks zeroed, d u = ct gathered at idx.
// - Sum: d a = ct, d u = ct gathered.
// - Prod: every factor meeting at a position gets ct times the product of the others
//   (worked out without dividing by zero: see product_of_others).
// - Max / Min: the values equal to the result at their position (the winners, ties all
//   included) get the cotangent there, the others nothing.
// The jvp of each is the same linear map applied to the tangents.
#include "ember/ops/common.h"

namespace ember {

namespace {

using Arrays = std::vector<array>;
using Axes = std::vector<int>;
using Kind = Scatter::Kind;

array scatter_kind(Kind k, const array& a, const Arrays& idx, const array& u, const Axes& axes) {
  switch (k) {
    case Kind::None: return scatter(a, idx, u, axes);
    case Kind::Sum: return scatter_add(a, idx, u, axes);
    case Kind::Prod: return scatter_prod(a, idx, u, axes);
    case Kind::Max: return scatter_max(a, idx, u, axes);
    case Kind::Min: return scatter_min(a, idx, u, axes);
  }
  return scatter(a, idx, u, axes);
}

// x (shaped like a) read at every update position: shaped like the updates.
array gather_at(const array& x, const Arrays& idx, const Axes& axes, const Shape& upd_shape) {
  Shape sl = x.shape();
  for (int ax : axes) sl[ax] = 1;
  return reshape(gather(x, idx, axes, sl), upd_shape);
}

// For scatter_prod: the derivative of each position's product with respect to each of its
// factors (a's value and the updates landing there), i.e. the product of the other factors.
// With Q the product of the nonzero factors and Z the number of zero factors at a position,
// a nonzero factor f gets Q / f when Z == 0 and 0 otherwise; a zero factor gets Q when it
// is the only zero and 0 otherwise.
std::pair<array, array> product_of_others(const array& a, const Arrays& idx, const array& u,
                                          const Axes& axes) {
  array zero_a = equal(a, zeros_like(a)), zero_u = equal(u, zeros_like(u));
  array one_a = ones_like(a), one_u = ones_like(u);
  array nz_a = where(zero_a, one_a, a), nz_u = where(zero_u, one_u, u);
  array q = scatter_prod(nz_a, idx, nz_u, axes);
  array z = scatter_add(astype(zero_a, int32), idx, astype(zero_u, int32), axes);
  auto others = [&](const array& is_zero, const array& nz, const array& qv, const array& zv) {
    array none = zeros_like(nz);
    array if_zero = where(equal(zv, array(1, int32)), qv, none);
    array if_nonzero = where(equal(zv, array(0, int32)), astype(divide(qv, nz), nz.dtype()), none);
    return where(is_zero, if_zero, if_nonzero);
  };
  array da = others(zero_a, nz_a, q, z);
  array du = others(zero_u, nz_u, gather_at(q, idx, axes, u.shape()), gather_at(z, idx, axes, u.shape()));
  return {da, du};
}

// For max and min: where each factor is a winner at its position.
std::pair<array, array> winners(Kind k, const array& a, const Arrays& idx, const array& u,
                                const Axes& axes, const array& out) {
  return {equal(a, out), equal(u, gather_at(out, idx, axes, u.shape()))};
}

}  // namespace

Arrays Scatter::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays& outs) {
  Arrays idx(p.begin() + 1, p.end() - 1);
  const array& a = p[0];
  const array& u = p.back();
  const int ui = (int)p.size() - 1;
  // The cotangent at each update's position.
  auto ct_at_updates = [&] { return gather_at(ct[0], idx, axes_, u.shape()); };
  std::optional<std::pair<array, array>> scale;
  if (kind_ == Kind::Prod) scale = product_of_others(a, idx, u, axes_);
  if (kind_ == Kind::Max || kind_ == Kind::Min)
    scale = winners(kind_, a, idx, u, axes_, outs.empty() ? scatter_kind(kind_, a, idx, u, axes_) : outs[0]);
  Arrays r;
  for (int i : argnums) {
    if (i == 0) {
      switch (kind_) {
        case Kind::None: r.push_back(scatter(ct[0], idx, zeros_like(u), axes_)); break;
        case Kind::Sum: r.push_back(ct[0]); break;
        case Kind::Prod: r.push_back(multiply(ct[0], scale->first)); break;
        default: r.push_back(where(scale->first, ct[0], zeros_like(ct[0]))); break;
      }
    } else if (i == ui) {
      array g = ct_at_updates();
      if (kind_ == Kind::Prod) g = multiply(g, scale->second);
      else if (kind_ == Kind::Max || kind_ == Kind::Min) g = where(scale->second, g, zeros_like(g));
      r.push_back(g);
    } else {
      r.push_back(zeros_like(p[i]));
    }
  }
  return r;
}

Arrays Scatter::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  Arrays idx(p.begin() + 1, p.end() - 1);
  const array& a = p[0];
  const array& u = p.back();
  array ta = zeros_like(a), tu = zeros_like(u);
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 0) ta = t[k];
    if (argnums[k] == (int)p.size() - 1) tu = t[k];
  }
  switch (kind_) {
    case Kind::None: return {scatter(ta, idx, tu, axes_)};
    case Kind::Sum: return {scatter_add(ta, idx, tu, axes_)};
    case Kind::Prod: {
      auto [da, du] = product_of_others(a, idx, u, axes_);
      return {scatter_add(multiply(ta, da), idx, multiply(tu, du), axes_)};
    }
    default: {
      auto [wa, wu] = winners(kind_, a, idx, u, axes_, scatter_kind(kind_, a, idx, u, axes_));
      return {scatter_add(where(wa, ta, zeros_like(ta)), idx, where(wu, tu, zeros_like(tu)), axes_)};
    }
  }
}

std::pair<Arrays, Axes> Scatter::vmap(const Arrays& in, const Axes& axes) {
  // Batch every input in front, then index the batch axis with a broadcast arange.
  int B = 1;
  for (size_t i = 0; i < in.size(); ++i)
    if (axes[i] >= 0) B = in[i].shape()[axes[i]];
  Arrays x;
  for (size_t i = 0; i < in.size(); ++i) {
    if (axes[i] >= 0) {
      x.push_back(axes[i] == 0 ? in[i] : moveaxis(in[i], axes[i], 0));
    } else {
      Shape s = in[i].shape();
      s.insert(s.begin(), B);
      x.push_back(broadcast_to(expand_dims(in[i], 0), s));
    }
  }
  Arrays idx(x.begin() + 1, x.end() - 1);
  array upd = x.back();  // (B, idx..., slice...)
  int ni = idx.empty() ? 0 : idx[0].ndim() - 1;
  Shape bs(ni + 1, 1);
  bs[0] = B;
  Shape full = idx.empty() ? Shape{B} : idx[0].shape();
  idx.insert(idx.begin(), broadcast_to(reshape(arange(0, B, 1), bs), full));
  Axes ax{0};
  for (int a : axes_) ax.push_back(a + 1);
  // Updates need a size-1 slice entry for the batch axis: (B, idx..., 1, slice...).
  upd = expand_dims(upd, ni + 1);
  return {{scatter_kind(kind_, x[0], idx, upd, ax)}, {0}};
}

bool Scatter::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Scatter*>(&o);
  return p && p->kind_ == kind_ && p->axes_ == axes_;
}

}  // namespace ember
