// The `fast` ops: argument checks, output dtypes, and the nodes of the fused primitives.
#include "ember/ops/fast.h"

#include <cmath>

#include "ember/ops/common.h"
#include "ember/primitives/fast.h"

namespace ember::fast {

namespace {

std::string dims_word(int n) { return std::to_string(n) + (n == 1 ? " dimension" : " dimensions"); }

void check_float(const char* op, Dtype t) {
  if (!is_floating_point(t))
    op_error(op, std::string("Received unsupported type ") + dtype_name(t) + ".");
}

// A weight or bias of the norms: one dimension of the size of x's last axis.
void check_affine(const char* op, const std::string& what, const array& p, const array& x) {
  if (p.ndim() != 1)
    op_error(op, what + " must have 1 dimension but has " + dims_word(p.ndim()) + ".");
  if (p.shape()[0] != x.shape().back())
    op_error(op, what + " must have the same size as the last dimension of x but has " +
                     std::to_string(p.shape()[0]) + " elements.");
}

void check_input_rank(const char* op, const array& x, int min_ndim) {
  if (x.ndim() < min_ndim)
    op_error(op, "Input must have at least " + dims_word(min_ndim) + " but got input with " +
                     dims_word(x.ndim()) + ".");
}

}  // namespace

// ---------- normalisations

array rms_norm(const array& x, const std::optional<array>& weight, float eps, S s) {
  const char* op = "rms_norm";
  check_input_rank(op, x, 1);
  if (weight) check_affine(op, "(*weight)", *weight, x);
  Dtype out_t = weight ? promote_types(x.dtype(), weight->dtype()) : x.dtype();
  check_float(op, out_t);
  std::vector<array> in{astype(x, out_t, s)};
  if (weight) in.push_back(astype(*weight, out_t, s));
  return make_node<RMSNorm>(x.shape(), out_t, std::move(in), s, eps, weight.has_value());
}

array layer_norm(const array& x, const std::optional<array>& weight,
                 const std::optional<array>& bias, float eps, S s) {
  const char* op = "layer_norm";
  check_input_rank(op, x, 1);
  if (weight) check_affine(op, "weight", *weight, x);
  if (bias) check_affine(op, "bias", *bias, x);
  Dtype out_t = x.dtype();
  if (weight) {
    out_t = promote_types(out_t, weight->dtype());
    if (bias) out_t = promote_types(out_t, bias->dtype());
  }
  check_float(op, out_t);
  std::vector<array> in{astype(x, out_t, s)};
  if (weight) in.push_back(astype(*weight, out_t, s));
  if (bias) in.push_back(astype(*bias, out_t, s));
  return make_node<LayerNorm>(x.shape(), out_t, std::move(in), s, eps, weight.has_value(),
                              bias.has_value());
}

// ---------- rope

namespace {

array rope_impl(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
                array offset, const std::optional<array>& freqs, S s) {
  const char* op = "rope";
  check_input_rank(op, x, 3);
  if (!is_floating_point(x.dtype()))
    op_error(op, std::string("Input must be a floating type but got ") + dtype_name(x.dtype()) + ".");
  if (dims <= 0) op_error(op, "dims must be positive but got " + std::to_string(dims) + ".");
  if (dims % 2 != 0) op_error(op, "dims must be even but got " + std::to_string(dims) + ".");
  if (dims > x.shape().back())
    op_error(op, "dims must not exceed the input's last dimension (" + std::to_string(x.shape().back()) +
                     ") but got " + std::to_string(dims) + ".");
  if (base && freqs) op_error(op, "Only one of base or freqs can have a value.");
  if (!base && !freqs) op_error(op, "Neither base nor freqs has a value.");
  if (freqs && (freqs->ndim() != 1 || freqs->shape()[0] != dims / 2))
    op_error(op, "freqs must be one dimensional with size " + std::to_string(dims / 2) +
                     " but got shape " + shape_str(freqs->shape()) + ".");
  if (!is_integral(offset.dtype()) || offset.dtype() == bool_)
    op_error(op, std::string("offset must be an integer but got type ") + dtype_name(offset.dtype()) + ".");
  if (offset.ndim() > 1)
    op_error(op, "offset must have at most one dimension but has shape " + shape_str(offset.shape()) + ".");
  if (offset.ndim() == 1 && offset.shape()[0] != 1 && offset.shape()[0] != x.shape()[0])
    op_error(op, "offset must be a scalar or vector with " + std::to_string(x.shape()[0]) +
                     " elements but has shape " + shape_str(offset.shape()) + ".");
  // One offset per entry of x's leading dims: (B or 1, 1, ..., 1), or a scalar.
  array off = astype(offset, int32, s);
  if (off.ndim() == 1) {
    Shape os(x.ndim() - 2, 1);
    os[0] = off.shape()[0];
    off = reshape(off, os, s);
  }
  std::vector<array> in{x, off};
  if (freqs) in.push_back(astype(*freqs, float32, s));
  return make_node<RoPE>(x.shape(), x.dtype(), std::move(in), s, dims, traditional,
                         base ? *base : 0.0f, scale, true, freqs.has_value());
}

}  // namespace

array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
           int offset, const std::optional<array>& freqs, S s) {
  return rope_impl(x, dims, traditional, base, scale, array(offset, int32), freqs, s);
}
array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
           const array& offset, const std::optional<array>& freqs, S s) {
  return rope_impl(x, dims, traditional, base, scale, offset, freqs, s);
}

// ---------- attention

array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   const std::string& mask_mode, const std::optional<array>& mask,
                                   const std::optional<array>& sinks, S s) {
  const char* op = "scaled_dot_product_attention";
  for (const array* a : {&q, &k, &v})
    if (a->ndim() != 4)
      op_error(op, "input with shape " + shape_str(a->shape()) + " expected to be rank 4");
  if (!mask_mode.empty() && mask_mode != "causal")
    op_error(op, "invalid mask option '" + mask_mode + "'. Must be 'causal', or an array.");
  if (q.shape(-1) != k.shape(-1))
    op_error(op, "query, keys expected to have matching last dimension; found query shape " +
                     shape_str(q.shape()) + " for keys shape " + shape_str(k.shape()) + ".");
  if (k.shape(0) != v.shape(0) || k.shape(1) != v.shape(1) || k.shape(2) != v.shape(2))
    op_error(op, "keys and values expected to have matching batch, head and sequence "
                 "dimensions; found keys shape " + shape_str(k.shape()) + " for values shape " +
                     shape_str(v.shape()) + ".");
  if (q.shape(0) != k.shape(0))
    op_error(op, "queries and keys expected to have the same batch size; found query shape " +
                     shape_str(q.shape()) + " for keys shape " + shape_str(k.shape()) + ".");
  int hq = q.shape(1), hkv = k.shape(1);
  if (hkv == 0 || hq % hkv != 0)
    op_error(op, "n_heads must be a multiple of n_kv_heads, found n_heads " + std::to_string(hq) +
                     " for n_kv_heads " + std::to_string(hkv) + ".");
  Dtype out_t = promote_types(promote_types(q.dtype(), k.dtype()), v.dtype());
  check_float(op, out_t);
  Shape score_shape{q.shape(0), hq, q.shape(2), k.shape(2)};
  std::vector<array> in{astype(q, out_t, s), astype(k, out_t, s), astype(v, out_t, s)};
  bool bool_mask = false;
  if (mask) {
    if (mask->ndim() > 4)
      op_error(op, "the mask with shape " + shape_str(mask->shape()) +
                       " expected to have at most rank 4.");
    bool_mask = mask->dtype() == bool_;
    if (!bool_mask && promote_types(mask->dtype(), out_t) != out_t)
      op_error(op, std::string("Mask type must promote to output type ") + dtype_name(out_t) + ".");
    Shape bs = broadcast_shapes(mask->shape(), score_shape);
    if (bs != score_shape)
      op_error(op, "the mask with shape " + shape_str(mask->shape()) +
                       " does not broadcast to the scores' shape " + shape_str(score_shape) + ".");
    in.push_back(broadcast_to(bool_mask ? *mask : astype(*mask, out_t, s), score_shape, s));
  }
  if (sinks) {
    if (sinks->ndim() != 1 || sinks->shape()[0] != hq)
      op_error(op, "Received invalid shape for sinks " + shape_str(sinks->shape()) + ".");
    in.push_back(astype(*sinks, is_floating_point(sinks->dtype()) ? sinks->dtype() : out_t, s));
  }
  auto prim = std::make_shared<ScaledDotProductAttention>(to_stream(s), scale, mask_mode == "causal",
                                                          mask.has_value(), bool_mask, sinks.has_value());
  // float64 (no float32 kernel would keep its precision) and empty inputs take the ops.
  if (out_t == float64 || q.size() == 0 || k.size() == 0 || v.size() == 0)
    return prim->fallback(in)[0];
  Shape out_shape{q.shape(0), hq, q.shape(2), v.shape(3)};
  Shape stats_shape{q.shape(0), hq, q.shape(2), 2};
  return array::make_arrays({out_shape, stats_shape}, {out_t, float32}, prim, std::move(in))[0];
}

// ---------- cross entropy

array cross_entropy(const array& logits, const array& targets, S s) {
  const char* op = "cross_entropy";
  if (!is_floating_point(logits.dtype()))
    op_error(op, std::string("Received unsupported logits type ") + dtype_name(logits.dtype()) + ".");
  if (!is_integral(targets.dtype()) || targets.dtype() == bool_)
    op_error(op, std::string("targets must be integer class indices but got ") +
                     dtype_name(targets.dtype()) + ".");
  check_input_rank(op, logits, 1);
  Shape lead(logits.shape().begin(), logits.shape().end() - 1);
  if (targets.shape() != lead)
    op_error(op, "targets shape " + shape_str(targets.shape()) + " does not match logits shape " +
                     shape_str(logits.shape()) + " with the last axis removed.");
  return make_node<CrossEntropy>(lead, float32, {logits, astype(targets, int32, s)}, s);
}

// ---------- gated delta rule (a recurrence over T, written with ops)

std::vector<array> gated_delta_update(const array& q, const array& k, const array& v,
                                      const array& gamma, const array& beta,
                                      const std::optional<array>& initial_state,
                                      const std::optional<array>& mask, S s) {
  const char* op = "gated_delta_update";
  for (const array* a : {&q, &k, &v})
    if (a->ndim() != 4)
      op_error(op, "q, k and v must have 4 dimensions (B, T, H, D) but got shape " +
                       shape_str(a->shape()) + ".");
  if (q.shape() != k.shape())
    op_error(op, "q and k must have the same shape but got " + shape_str(q.shape()) + " and " +
                     shape_str(k.shape()) + ".");
  int B = v.shape(0), T = v.shape(1), hv = v.shape(2), dv = v.shape(3);
  int hk = k.shape(2), dk = k.shape(3);
  if (k.shape(0) != B || k.shape(1) != T)
    op_error(op, "q, k and v must share the batch and time dimensions but got " +
                     shape_str(k.shape()) + " and " + shape_str(v.shape()) + ".");
  if (hk == 0 || hv % hk != 0)
    op_error(op, "the value heads (" + std::to_string(hv) + ") must be a multiple of the key heads (" +
                     std::to_string(hk) + ").");
  Dtype out_t = promote_types(promote_types(q.dtype(), k.dtype()), v.dtype());
  check_float(op, out_t);
  Dtype acc = out_t == float64 ? float64 : float32;
  Shape gshape{B, T, hv};
  for (const array* a : {&gamma, &beta})
    if (a->ndim() != 3 || broadcast_shapes(a->shape(), gshape) != gshape)
      op_error(op, "gamma and beta must broadcast to (B, T, Hv) = " + shape_str(gshape) +
                       " but got shape " + shape_str(a->shape()) + ".");
  Shape state_shape{B, hv, dv, dk};
  array state = initial_state ? astype(*initial_state, acc, s) : zeros(state_shape, acc, s);
  if (initial_state && broadcast_shapes(initial_state->shape(), state_shape) != state_shape)
    op_error(op, "initial_state must have shape (B, Hv, Dv, Dk) = " + shape_str(state_shape) +
                     " but got " + shape_str(initial_state->shape()) + ".");
  state = broadcast_to(state, state_shape, s);
  if (mask && (mask->ndim() != 2 || broadcast_shapes(mask->shape(), {B, T}) != Shape{B, T}))
    op_error(op, "mask must broadcast to (B, T) = " + shape_str({B, T}) + " but got shape " +
                     shape_str(mask->shape()) + ".");
  int rep = hv / hk;
  auto heads = [&](const array& a) {  // (B, T, Hk, D) -> (B, T, Hv, D) in the compute dtype
    array r = astype(a, acc, s);
    return rep == 1 ? r : repeat(r, rep, 2, s);
  };
  array qf = heads(q), kf = heads(k), vf = astype(v, acc, s);
  array g = broadcast_to(astype(gamma, acc, s), gshape, s);
  array b = broadcast_to(astype(beta, acc, s), gshape, s);
  std::optional<array> m;
  if (mask) m = broadcast_to(*mask, {B, T}, s);
  std::vector<array> ys;
  auto step = [&](const array& a, int t) {  // a[:, t]
    Shape start(a.ndim(), 0), stop = a.shape();
    start[1] = t;
    stop[1] = t + 1;
    return squeeze(slice(a, start, stop, s), {1}, s);
  };
  for (int t = 0; t < T; ++t) {
    array qt = step(qf, t), kt = step(kf, t), vt = step(vf, t);  // (B, Hv, D)
    array gt = reshape(step(g, t), {B, hv, 1, 1}, s), bt = reshape(step(b, t), {B, hv, 1}, s);
    array decayed = multiply(state, gt, s);
    array kv = squeeze(matmul(decayed, expand_dims(kt, -1, s), s), {-1}, s);  // (B, Hv, Dv)
    array delta = multiply(subtract(vt, kv, s), bt, s);
    array next = add(decayed, multiply(expand_dims(delta, -1, s), expand_dims(kt, -2, s), s), s);
    if (m) {
      array keep = reshape(step(*m, t), {B, 1, 1, 1}, s);
      next = where(keep, next, state, s);
    }
    state = next;
    array y = squeeze(matmul(state, expand_dims(qt, -1, s), s), {-1}, s);
    if (m) y = where(reshape(step(*m, t), {B, 1, 1}, s), y, zeros_like(y, s), s);
    ys.push_back(astype(y, out_t, s));
  }
  array out = T > 0 ? stack(ys, 1, s) : zeros({B, 0, hv, dv}, out_t, s);
  return {out, astype(state, float32, s)};
}

}  // namespace ember::fast
