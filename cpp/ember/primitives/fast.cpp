// Rules of the `fast` primitives: their fallbacks (the same computation with ordinary ops),
// fused backward passes, batching and output shapes.
#include "ember/primitives/fast.h"

#include <cmath>
#include <limits>

#include "ember/ops/common.h"
#include "ember/ops/fast.h"
#include "ember/transforms.h"

namespace ember {

namespace {

using Arrays = std::vector<array>;
using Axes = std::vector<int>;

Dtype acc_type(Dtype t) { return t == float64 ? float64 : float32; }

// x[..., b:e:step] on the last axis.
array last_slice(const array& x, int b, int e, int step = 1) {
  Shape start(x.ndim(), 0), stop = x.shape(), strides(x.ndim(), 1);
  start.back() = b;
  stop.back() = e;
  strides.back() = step;
  return slice(x, start, stop, strides);
}

array scalar_like(double v, Dtype t) { return array(v, t); }

// `a` with its batch axis at the front; an unbatched `a` is broadcast along a new one.
array batch_front(const array& a, int ax, int B) {
  if (ax >= 0) return ax == 0 ? a : moveaxis(a, ax, 0);
  Shape s = a.shape();
  s.insert(s.begin(), B);
  return broadcast_to(expand_dims(a, 0), s);
}

int batch_size(const Arrays& in, const Axes& axes) {
  for (size_t i = 0; i < in.size(); ++i)
    if (axes[i] >= 0) return in[i].shape()[axes[i]];
  return 1;
}

}  // namespace

// ---------- rules shared through the fallback

Arrays FastPrimitive::fallback_vjp(const Arrays& primals, const Arrays& cotangents,
                                   const Axes& argnums) const {
  Arrays ps;
  for (int i : argnums) ps.push_back(primals[i]);
  auto f = [&](const Arrays& xs) {
    Arrays full = primals;
    for (size_t k = 0; k < argnums.size(); ++k) full[argnums[k]] = xs[k];
    return fallback(full);
  };
  return ember::vjp(f, ps, cotangents).second;
}

Arrays FastPrimitive::vjp(const Arrays& primals, const Arrays& cotangents, const Axes& argnums,
                          const Arrays&) {
  return fallback_vjp(primals, cotangents, argnums);
}

Arrays FastPrimitive::jvp(const Arrays& primals, const Arrays& tangents, const Axes& argnums) {
  Arrays ps;
  for (int i : argnums) ps.push_back(primals[i]);
  auto f = [&](const Arrays& xs) {
    Arrays full = primals;
    for (size_t k = 0; k < argnums.size(); ++k) full[argnums[k]] = xs[k];
    return fallback(full);
  };
  return ember::jvp(f, ps, tangents).second;
}

std::pair<Arrays, Axes> FastPrimitive::fallback_vmap(const Arrays& inputs, const Axes& axes) const {
  Fn f = [this](const Arrays& xs) { return fallback(xs); };
  Arrays outs = ember::vmap(f, axes)(inputs);
  return {outs, Axes(outs.size(), 0)};
}

std::pair<Arrays, Axes> FastPrimitive::vmap(const Arrays& inputs, const Axes& axes) {
  return fallback_vmap(inputs, axes);
}

// ---------- RMSNorm

Arrays RMSNorm::fallback(const Arrays& in) const {
  Dtype acc = acc_type(in[0].dtype());
  array x = astype(in[0], acc);
  array r = rsqrt(add(mean(square(x), std::vector<int>{-1}, true), scalar_like(eps_, acc)));
  array y = multiply(x, r);
  if (has_weight_) y = multiply(y, astype(in[1], acc));
  return {astype(y, in[0].dtype())};
}
bool RMSNorm::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const RMSNorm*>(&o);
  return p && p->eps_ == eps_ && p->has_weight_ == has_weight_;
}
std::vector<Shape> RMSNorm::output_shapes(const Arrays& in) { return {in[0].shape()}; }

Arrays RMSNorm::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays in = p;
  in.push_back(ct[0]);
  std::vector<Shape> shapes{p[0].shape()};
  std::vector<Dtype> dtypes{p[0].dtype()};
  if (has_weight_) {
    shapes.push_back(p[1].shape());
    dtypes.push_back(p[1].dtype());
  }
  Arrays g = array::make_arrays(shapes, dtypes, std::make_shared<RMSNormVJP>(stream(), eps_, has_weight_), in);
  Arrays r;
  for (int i : argnums) r.push_back(g[i]);
  return r;
}
std::pair<Arrays, Axes> RMSNorm::vmap(const Arrays& in, const Axes& axes) {
  if (has_weight_ && axes[1] >= 0) return fallback_vmap(in, axes);
  array x = in[0];
  int ax = axes[0];
  if (ax == x.ndim() - 1) {
    x = moveaxis(x, ax, 0);
    ax = 0;
  }
  Arrays ins{x};
  if (has_weight_) ins.push_back(in[1]);
  return {{array(x.shape(), x.dtype(), std::make_shared<RMSNorm>(stream(), eps_, has_weight_), ins)}, {ax}};
}

Arrays RMSNormVJP::fallback(const Arrays& in) const {
  RMSNorm fwd(stream(), eps_, has_weight_);
  Arrays primals(in.begin(), in.end() - 1);
  auto f = [&](const Arrays& xs) { return fwd.fallback(xs); };
  return ember::vjp(f, primals, {in.back()}).second;
}
bool RMSNormVJP::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const RMSNormVJP*>(&o);
  return p && p->eps_ == eps_ && p->has_weight_ == has_weight_;
}
std::vector<Shape> RMSNormVJP::output_shapes(const Arrays& in) {
  if (has_weight_) return {in[0].shape(), in[1].shape()};
  return {in[0].shape()};
}

// ---------- LayerNorm

Arrays LayerNorm::fallback(const Arrays& in) const {
  Dtype acc = acc_type(in[0].dtype());
  array x = astype(in[0], acc);
  array c = subtract(x, mean(x, std::vector<int>{-1}, true));
  array var = mean(square(c), std::vector<int>{-1}, true);
  array y = multiply(c, rsqrt(add(var, scalar_like(eps_, acc))));
  int k = 1;
  if (has_weight_) y = multiply(y, astype(in[k++], acc));
  if (has_bias_) y = add(y, astype(in[k++], acc));
  return {astype(y, in[0].dtype())};
}
bool LayerNorm::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const LayerNorm*>(&o);
  return p && p->eps_ == eps_ && p->has_weight_ == has_weight_ && p->has_bias_ == has_bias_;
}
std::vector<Shape> LayerNorm::output_shapes(const Arrays& in) { return {in[0].shape()}; }

Arrays LayerNorm::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays in{p[0]};
  if (has_weight_) in.push_back(p[1]);
  in.push_back(ct[0]);
  Shape d{p[0].shape().back()};
  std::vector<Shape> shapes{p[0].shape()};
  std::vector<Dtype> dtypes{p[0].dtype()};
  if (has_weight_) {
    shapes.push_back(d);
    dtypes.push_back(p[1].dtype());
  }
  if (has_bias_) {
    shapes.push_back(d);
    dtypes.push_back(p.back().dtype());
  }
  Arrays g = array::make_arrays(shapes, dtypes,
                                std::make_shared<LayerNormVJP>(stream(), eps_, has_weight_, has_bias_), in);
  Arrays r;
  for (int i : argnums) r.push_back(g[i]);
  return r;
}
std::pair<Arrays, Axes> LayerNorm::vmap(const Arrays& in, const Axes& axes) {
  for (size_t i = 1; i < in.size(); ++i)
    if (axes[i] >= 0) return fallback_vmap(in, axes);
  array x = in[0];
  int ax = axes[0];
  if (ax == x.ndim() - 1) {
    x = moveaxis(x, ax, 0);
    ax = 0;
  }
  Arrays ins = in;
  ins[0] = x;
  return {{array(x.shape(), x.dtype(), std::make_shared<LayerNorm>(stream(), eps_, has_weight_, has_bias_), ins)},
          {ax}};
}

Arrays LayerNormVJP::fallback(const Arrays& in) const {
  LayerNorm fwd(stream(), eps_, has_weight_, has_bias_);
  Arrays primals(in.begin(), in.end() - 1);
  if (has_bias_) primals.push_back(zeros({in[0].shape().back()}, in[0].dtype()));
  auto f = [&](const Arrays& xs) { return fwd.fallback(xs); };
  return ember::vjp(f, primals, {in.back()}).second;
}
bool LayerNormVJP::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const LayerNormVJP*>(&o);
  return p && p->eps_ == eps_ && p->has_weight_ == has_weight_ && p->has_bias_ == has_bias_;
}
std::vector<Shape> LayerNormVJP::output_shapes(const Arrays& in) {
  std::vector<Shape> s{in[0].shape()};
  if (has_weight_) s.push_back({in[0].shape().back()});
  if (has_bias_) s.push_back({in[0].shape().back()});
  return s;
}

// ---------- RoPE

Arrays RoPE::fallback(const Arrays& in) const {
  const array& x = in[0];
  Dtype acc = acc_type(x.dtype());
  int T = x.shape(-2), half = dims_ / 2;
  array inv = has_freqs_ ? reciprocal(astype(in[2], acc))
                         : exp(multiply(arange(0.0, (double)half, 1.0, acc),
                                        scalar_like(-std::log((double)base_) / half, acc)));
  array off = in[1];
  array pos = add(expand_dims(off, -1), arange(0, T, 1));  // (lead..., T) or (T,)
  pos = multiply(astype(pos, acc), scalar_like(scale_, acc));
  array theta = multiply(expand_dims(pos, -1), inv);  // (..., T, half)
  if (!forward_) theta = negative(theta);
  array c = cos(theta), s = sin(theta);
  array xf = astype(x, acc);
  array x1 = traditional_ ? last_slice(xf, 0, dims_, 2) : last_slice(xf, 0, half);
  array x2 = traditional_ ? last_slice(xf, 1, dims_, 2) : last_slice(xf, half, dims_);
  array o1 = subtract(multiply(x1, c), multiply(x2, s));
  array o2 = add(multiply(x1, s), multiply(x2, c));
  array rot;
  if (traditional_) {
    array st = stack({o1, o2}, -1);
    Shape rs = st.shape();
    rs.pop_back();
    rs.back() = dims_;
    rot = reshape(st, rs);
  } else {
    rot = concatenate({o1, o2}, -1);
  }
  if (dims_ < x.shape(-1)) rot = concatenate({rot, last_slice(xf, dims_, x.shape(-1))}, -1);
  return {astype(rot, x.dtype())};
}
bool RoPE::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const RoPE*>(&o);
  return p && p->dims_ == dims_ && p->traditional_ == traditional_ && p->base_ == base_ &&
         p->scale_ == scale_ && p->forward_ == forward_ && p->has_freqs_ == has_freqs_;
}
std::vector<Shape> RoPE::output_shapes(const Arrays& in) { return {in[0].shape()}; }

// A rotation is linear in x: its transpose is the rotation by the opposite angles.
Arrays RoPE::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays r;
  for (int i : argnums) {
    if (i == 0) {
      Arrays in = p;
      in[0] = ct[0];
      r.push_back(array(p[0].shape(), p[0].dtype(),
                        std::make_shared<RoPE>(stream(), dims_, traditional_, base_, scale_, !forward_,
                                               has_freqs_),
                        in));
    } else if (i == 2) {
      r.push_back(fallback_vjp(p, ct, {2})[0]);
    } else {
      r.push_back(zeros_like(p[i]));
    }
  }
  return r;
}
Arrays RoPE::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  if (argnums.size() != 1 || argnums[0] != 0) return FastPrimitive::jvp(p, t, argnums);
  Arrays in = p;
  in[0] = t[0];
  return {array(p[0].shape(), p[0].dtype(),
                std::make_shared<RoPE>(stream(), dims_, traditional_, base_, scale_, forward_, has_freqs_),
                in)};
}
std::pair<Arrays, Axes> RoPE::vmap(const Arrays& in, const Axes& axes) {
  if (has_freqs_ && axes[2] >= 0) return fallback_vmap(in, axes);
  int B = batch_size(in, axes);
  array x = batch_front(in[0], axes[0], B);
  array off = in[1];
  if (axes[1] >= 0) {
    off = batch_front(off, axes[1], B);
    if (off.ndim() == 1) {
      Shape s(x.ndim() - 2, 1);
      s[0] = B;
      off = reshape(off, s);
    }
  } else if (off.ndim() > 0) {
    off = expand_dims(off, 0);
  }
  Arrays ins{x, off};
  if (has_freqs_) ins.push_back(in[2]);
  return {{array(x.shape(), x.dtype(),
                 std::make_shared<RoPE>(stream(), dims_, traditional_, base_, scale_, forward_, has_freqs_),
                 ins)},
          {0}};
}

// ---------- scaled dot-product attention

namespace {

// Output and (max, denominator) statistics of attention, written with ops. `in` holds q, k,
// v, then the mask and the sinks when present.
Arrays attention_ops(const Arrays& in, float scale, bool causal, bool has_mask, bool bool_mask,
                     bool has_sinks) {
  const array &q = in[0], &k = in[1], &v = in[2];
  Dtype out_t = q.dtype(), acc = acc_type(out_t);
  int B = q.shape(0), hq = q.shape(1), tq = q.shape(2), D = q.shape(3);
  int hkv = k.shape(1), tk = k.shape(2), dv = v.shape(3), G = hq / hkv;
  array qf = reshape(multiply(astype(q, acc), scalar_like(scale, acc)), {B, hkv, G, tq, D});
  array kf = reshape(astype(k, acc), {B, hkv, 1, tk, D});
  array vf = reshape(astype(v, acc), {B, hkv, 1, tk, dv});
  array s = reshape(matmul(qf, swapaxes(kf, -1, -2)), {B, hq, tq, tk});
  array lowest = acc == float64 ? array(std::numeric_limits<double>::lowest(), float64)
                                : array(std::numeric_limits<float>::lowest(), float32);
  if (causal) {
    array qi = reshape(arange(0, tq, 1), {tq, 1});
    array kj = reshape(arange(0, tk, 1), {1, tk});
    s = where(less_equal(kj, add(qi, array(tk - tq))), s, lowest);
  }
  int idx = 3;
  if (has_mask) {
    const array& m = in[idx++];
    s = bool_mask ? where(m, s, lowest) : add(s, astype(m, acc));
  }
  if (has_sinks) {
    array sk = broadcast_to(reshape(astype(in[idx], acc), {1, hq, 1, 1}), {B, hq, tq, 1});
    s = concatenate({sk, s}, -1);
  }
  // No keys (an empty cache): the row maximum is taken as the lowest value, so the output is
  // the empty sum, zeros.
  int tk_all = s.shape(-1);
  array m = tk_all == 0 ? broadcast_to(astype(lowest, acc), {B, hq, tq, 1})
                        : stop_gradient(max(s, std::vector<int>{-1}, true));
  array e = exp(subtract(s, m));
  array l = sum(e, std::vector<int>{-1}, true);
  array p = divide(e, l);
  if (has_sinks) p = last_slice(p, 1, tk + 1);
  array o = reshape(matmul(reshape(p, {B, hkv, G, tq, tk}), vf), {B, hq, tq, dv});
  return {astype(o, out_t), astype(concatenate({m, l}, -1), float32)};
}

}  // namespace

Arrays ScaledDotProductAttention::fallback(const Arrays& in) const {
  return attention_ops(in, scale_, causal_, has_mask_, bool_mask_, has_sinks_);
}
bool ScaledDotProductAttention::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ScaledDotProductAttention*>(&o);
  return p && p->scale_ == scale_ && p->causal_ == causal_ && p->has_mask_ == has_mask_ &&
         p->bool_mask_ == bool_mask_ && p->has_sinks_ == has_sinks_;
}
std::vector<Shape> ScaledDotProductAttention::output_shapes(const Arrays& in) {
  Shape o{in[0].shape(0), in[0].shape(1), in[0].shape(2), in[2].shape(3)};
  Shape st{in[0].shape(0), in[0].shape(1), in[0].shape(2), 2};
  return {o, st};
}

Arrays ScaledDotProductAttention::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums,
                                      const Arrays& outs) {
  int mask_i = has_mask_ ? 3 : -1;
  int sinks_i = has_sinks_ ? (has_mask_ ? 4 : 3) : -1;
  for (int i : argnums)
    if (i == mask_i && !bool_mask_) return fallback_vjp(p, ct, argnums);
  Arrays in = p;
  in.push_back(outs[0]);
  in.push_back(outs[1]);
  in.push_back(ct[0]);
  std::vector<Shape> shapes{p[0].shape(), p[1].shape(), p[2].shape()};
  std::vector<Dtype> dtypes{p[0].dtype(), p[1].dtype(), p[2].dtype()};
  if (has_sinks_) {
    shapes.push_back(p[sinks_i].shape());
    dtypes.push_back(p[sinks_i].dtype());
  }
  Arrays g = array::make_arrays(
      shapes, dtypes,
      std::make_shared<ScaledDotProductAttentionVJP>(stream(), scale_, causal_, has_mask_, bool_mask_, has_sinks_),
      in);
  Arrays r;
  for (int i : argnums) {
    if (i < 3) r.push_back(g[i]);
    else if (i == sinks_i) r.push_back(g[3]);
    else r.push_back(zeros_like(p[i]));
  }
  return r;
}

// The batch axis joins B: (V, B, ...) -> (V * B, ...).
std::pair<Arrays, Axes> ScaledDotProductAttention::vmap(const Arrays& in, const Axes& axes) {
  int sinks_i = has_sinks_ ? (has_mask_ ? 4 : 3) : -1;
  if (sinks_i >= 0 && axes[sinks_i] >= 0) return fallback_vmap(in, axes);
  int V = batch_size(in, axes);
  int n = has_mask_ ? 4 : 3;
  Arrays ins;
  for (int i = 0; i < n; ++i) {
    array a = batch_front(in[i], axes[i], V);
    Shape s(a.shape().begin() + 1, a.shape().end());
    s[0] *= V;
    ins.push_back(reshape(a, s));
  }
  if (has_sinks_) ins.push_back(in[sinks_i]);
  auto prim = std::make_shared<ScaledDotProductAttention>(stream(), scale_, causal_, has_mask_, bool_mask_,
                                                          has_sinks_);
  std::vector<Shape> shapes = prim->output_shapes(ins);
  Arrays outs = array::make_arrays(shapes, {ins[0].dtype(), float32}, prim, ins);
  Arrays r;
  for (auto& o : outs) {
    Shape s = o.shape();
    s[0] /= V;
    s.insert(s.begin(), V);
    r.push_back(reshape(o, s));
  }
  return {r, {0, 0}};
}

Arrays ScaledDotProductAttentionVJP::fallback(const Arrays& in) const {
  int n = 3 + (has_mask_ ? 1 : 0) + (has_sinks_ ? 1 : 0);
  Arrays fwd(in.begin(), in.begin() + n);
  const array& ct = in.back();
  Axes argnums{0, 1, 2};
  if (has_sinks_) argnums.push_back(n - 1);
  Arrays ps;
  for (int i : argnums) ps.push_back(fwd[i]);
  float scale = scale_;
  bool causal = causal_, has_mask = has_mask_, bool_mask = bool_mask_, has_sinks = has_sinks_;
  auto f = [&](const Arrays& xs) {
    Arrays full = fwd;
    for (size_t k = 0; k < argnums.size(); ++k) full[argnums[k]] = xs[k];
    return Arrays{attention_ops(full, scale, causal, has_mask, bool_mask, has_sinks)[0]};
  };
  return ember::vjp(f, ps, {ct}).second;
}
bool ScaledDotProductAttentionVJP::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ScaledDotProductAttentionVJP*>(&o);
  return p && p->scale_ == scale_ && p->causal_ == causal_ && p->has_mask_ == has_mask_ &&
         p->bool_mask_ == bool_mask_ && p->has_sinks_ == has_sinks_;
}
std::vector<Shape> ScaledDotProductAttentionVJP::output_shapes(const Arrays& in) {
  std::vector<Shape> s{in[0].shape(), in[1].shape(), in[2].shape()};
  if (has_sinks_) s.push_back(in[has_mask_ ? 4 : 3].shape());
  return s;
}

// ---------- CrossEntropy

Arrays CrossEntropy::fallback(const Arrays& in) const {
  Dtype acc = acc_type(in[0].dtype());
  array x = astype(in[0], acc);
  array picked = squeeze(take_along_axis(x, expand_dims(in[1], -1), -1), {-1});
  return {astype(subtract(logsumexp(x, std::vector<int>{-1}), picked), float32)};
}
bool CrossEntropy::is_equivalent(const Primitive& o) const { return typeid(o) == typeid(*this); }
std::vector<Shape> CrossEntropy::output_shapes(const Arrays& in) {
  Shape s = in[0].shape();
  s.pop_back();
  return {s};
}
Arrays CrossEntropy::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays r;
  for (int i : argnums) {
    if (i != 0) {
      r.push_back(zeros_like(p[i]));
      continue;
    }
    Dtype acc = acc_type(p[0].dtype());
    array x = astype(p[0], acc);
    int C = x.shape(-1);
    array onehot = astype(equal(expand_dims(p[1], -1), arange(0, C, 1)), acc);
    array g = multiply(expand_dims(astype(ct[0], acc), -1), subtract(softmax(x, std::vector<int>{-1}), onehot));
    r.push_back(astype(g, p[0].dtype()));
  }
  return r;
}
std::pair<Arrays, Axes> CrossEntropy::vmap(const Arrays& in, const Axes& axes) {
  int B = batch_size(in, axes);
  array x = batch_front(in[0], axes[0], B), t = batch_front(in[1], axes[1], B);
  Shape s = x.shape();
  s.pop_back();
  return {{array(s, float32, std::make_shared<CrossEntropy>(stream()), {x, t})}, {0}};
}

}  // namespace ember
