// Rules of the quantized primitives: derivatives, batching, shapes.
#include "ember/primitives/quantized.h"

#include "ember/ops/common.h"

namespace ember {

namespace {

using Arrays = std::vector<array>;
using Axes = std::vector<int>;

// Every input with its batch axis first; unbatched inputs are broadcast along a new one.
Arrays batch_front(const Arrays& in, const Axes& axes) {
  int B = 1;
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

std::optional<int> gs_of(const QuantSpec& q) { return q.group_size; }
std::optional<int> bits_of(const QuantSpec& q) { return q.bits; }

// Per-group sums of g (..., R, C) -> (..., R, C / group_size).
array group_sum(const array& g, int group_size) {
  Shape s = g.shape();
  s.back() /= group_size;
  s.push_back(group_size);
  return sum(reshape(g, s), std::vector<int>{-1});
}

// The integer codes of an affine w as floats (scale 1, bias 0), in dtype t.
array affine_codes(const array& w, const array& scales, const QuantSpec& q, Dtype t) {
  return dequantize(w, ones(scales.shape(), t), zeros(scales.shape(), t), q.group_size, q.bits,
                    "affine", std::nullopt, t);
}

// d(loss)/d(scales) and d(loss)/d(biases) given d(loss)/d(dequantized w).
array scales_biases_grad(int which, const array& dw, const Arrays& p, const QuantSpec& q) {
  if (q.mode != QuantMode::Affine)
    throw std::invalid_argument("[QuantizedMatmul::vjp] no gradient wrt the scales of a float quantization mode.");
  if (which == 2) {
    array codes = affine_codes(p[1], p[2], q, dw.dtype());
    return astype(group_sum(multiply(dw, codes), q.group_size), p[2].dtype());
  }
  return astype(group_sum(dw, q.group_size), p[3].dtype());
}

}  // namespace

// ---------- Quantize

std::vector<Shape> Quantize::output_shapes(const Arrays& in) {
  Shape wq = in[0].shape(), sc = in[0].shape();
  wq.back() = (int32_t)((int64_t)wq.back() * q_.bits / 32);
  sc.back() /= q_.group_size;
  if (q_.mode == QuantMode::Affine) return {wq, sc, sc};
  return {wq, sc};
}
Arrays Quantize::vjp(const Arrays& p, const Arrays&, const Axes& argnums, const Arrays&) {
  // Rounding is flat almost everywhere.
  Arrays r;
  for (int i : argnums) r.push_back(zeros_like(p[i]));
  return r;
}
Arrays Quantize::jvp(const Arrays& p, const Arrays&, const Axes&) {
  std::optional<array> g;
  if (p.size() > 1) g = p[1];
  Arrays outs = quantize(p[0], q_.group_size, q_.bits, quant_mode_name(q_.mode), g);
  Arrays r;
  for (auto& o : outs) r.push_back(zeros_like(o));
  return r;
}
std::pair<Arrays, Axes> Quantize::vmap(const Arrays& in, const Axes& axes) {
  if (in.size() > 1 && axes[1] >= 0)
    throw std::invalid_argument("[quantize] vmap over the global scale is not supported.");
  array w = axes[0] > 0 ? moveaxis(in[0], axes[0], 0) : in[0];
  std::optional<array> g;
  if (in.size() > 1) g = in[1];
  if (axes[0] == in[0].ndim() - 1) {
    // The batch axis was the quantized one.
    throw std::invalid_argument("[quantize] vmap over the last axis of the matrix is not supported.");
  }
  Arrays outs = quantize(w, q_.group_size, q_.bits, quant_mode_name(q_.mode), g, stream());
  return {outs, Axes(outs.size(), 0)};
}
bool Quantize::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Quantize*>(&o);
  return p && p->q_ == q_;
}

// ---------- Dequantize

std::vector<Shape> Dequantize::output_shapes(const Arrays& in) {
  Shape s = in[0].shape();
  s.back() = (int32_t)((int64_t)s.back() * 32 / q_.bits);
  return {s};
}
Arrays Dequantize::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays r;
  for (int i : argnums) {
    if (i == 0) throw std::invalid_argument("[Dequantize::vjp] no gradient wrt the quantized weights.");
    if (q_.mode != QuantMode::Affine)
      throw std::invalid_argument("[Dequantize::vjp] no gradient wrt the scales of a float quantization mode.");
    if (i == 1) {
      array codes = affine_codes(p[0], p[1], q_, ct[0].dtype());
      r.push_back(astype(group_sum(multiply(ct[0], codes), q_.group_size), p[1].dtype()));
    } else {
      r.push_back(astype(group_sum(ct[0], q_.group_size), p[2].dtype()));
    }
  }
  return r;
}
Arrays Dequantize::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  array total;
  Shape out = output_shapes(p)[0];
  for (size_t k = 0; k < argnums.size(); ++k) {
    int i = argnums[k];
    if (i == 0) throw std::invalid_argument("[Dequantize::jvp] no derivative wrt the quantized weights.");
    if (q_.mode != QuantMode::Affine)
      throw std::invalid_argument("[Dequantize::jvp] no derivative wrt the scales of a float quantization mode.");
    // Spread each group's tangent over its elements.
    array tg = repeat(t[k], q_.group_size, t[k].ndim() - 1);
    array d = i == 1 ? multiply(tg, affine_codes(p[0], p[1], q_, tg.dtype())) : tg;
    total = total.valid() ? add(total, d) : d;
  }
  return {total};
}
std::pair<Arrays, Axes> Dequantize::vmap(const Arrays& in, const Axes& axes) {
  bool global = q_.mode != QuantMode::Affine && in.size() == 3;
  if (global && axes[2] >= 0)
    throw std::invalid_argument("[dequantize] vmap over the global scale is not supported.");
  Arrays x = batch_front(Arrays(in.begin(), in.begin() + 2 + (q_.mode == QuantMode::Affine)),
                         Axes(axes.begin(), axes.begin() + 2 + (q_.mode == QuantMode::Affine)));
  if (global) x.push_back(in[2]);
  array r = make_node<Dequantize>(output_shapes(x)[0], dtype_out_, x, stream(), q_, dtype_out_);
  return {{r}, {0}};
}
bool Dequantize::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Dequantize*>(&o);
  return p && p->q_ == q_;
}

// ---------- QuantizedMatmul

std::vector<Shape> QuantizedMatmul::output_shapes(const Arrays& in) {
  Shape s = in[0].shape();
  int64_t wcols = (int64_t)in[1].shape().back() * 32 / q_.bits;
  s.back() = (int32_t)(transpose_ ? in[1].shape()[in[1].ndim() - 2] : wcols);
  return {s};
}
Arrays QuantizedMatmul::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays&) {
  Arrays r;
  std::optional<array> b;
  if (p.size() == 4) b = p[3];
  array dw;  // d(loss)/d(dequantized w), in w's (expanded) layout
  for (int i : argnums) {
    if (i == 0) {
      r.push_back(astype(quantized_matmul(ct[0], p[1], p[2], b, !transpose_, gs_of(q_), bits_of(q_),
                                          quant_mode_name(q_.mode), stream()),
                         p[0].dtype()));
      continue;
    }
    if (i == 1) throw std::invalid_argument("[QuantizedMatmul::vjp] no gradient wrt the quantized weights.");
    if (!dw.valid()) {
      array x = astype(p[0], ct[0].dtype());
      dw = transpose_ ? matmul(swapaxes(ct[0], -1, -2), x) : matmul(swapaxes(x, -1, -2), ct[0]);
    }
    r.push_back(scales_biases_grad(i, dw, p, q_));
  }
  return r;
}
Arrays QuantizedMatmul::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  std::optional<array> b;
  if (p.size() == 4) b = p[3];
  array total;
  for (size_t k = 0; k < argnums.size(); ++k) {
    int i = argnums[k];
    array d;
    if (i == 0) {
      d = quantized_matmul(t[k], p[1], p[2], b, transpose_, gs_of(q_), bits_of(q_), quant_mode_name(q_.mode), stream());
    } else if (i == 1) {
      throw std::invalid_argument("[QuantizedMatmul::jvp] no derivative wrt the quantized weights.");
    } else {
      if (q_.mode != QuantMode::Affine)
        throw std::invalid_argument("[QuantizedMatmul::jvp] no derivative wrt the scales of a float quantization mode.");
      // The tangent of the dequantized weight, then an ordinary product.
      array tg = repeat(t[k], q_.group_size, t[k].ndim() - 1);
      array dwt = i == 2 ? multiply(tg, affine_codes(p[1], p[2], q_, tg.dtype())) : tg;
      array x = astype(p[0], dwt.dtype());
      d = transpose_ ? matmul(x, swapaxes(dwt, -1, -2)) : matmul(x, dwt);
    }
    total = total.valid() ? add(total, d) : d;
  }
  Shape out = output_shapes(p)[0];
  if (total.shape() != out) total = broadcast_to(total, out);
  return {total};
}
std::pair<Arrays, Axes> QuantizedMatmul::vmap(const Arrays& in, const Axes& axes) {
  Arrays x = batch_front(in, axes);
  array r = make_node<QuantizedMatmul>(output_shapes(x)[0], dtype_out_, x, stream(), q_, transpose_,
                                       dtype_out_);
  return {{r}, {0}};
}
bool QuantizedMatmul::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const QuantizedMatmul*>(&o);
  return p && p->q_ == q_ && p->transpose_ == transpose_;
}

// ---------- FP8Cast

std::pair<Arrays, Axes> FP8Cast::vmap(const Arrays& in, const Axes& axes) {
  return {{to_fp8_ ? to_fp8(in[0], stream()) : from_fp8(in[0], dtype_out_, stream())}, {axes[0]}};
}
bool FP8Cast::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const FP8Cast*>(&o);
  return p && p->to_fp8_ == to_fp8_ && p->dtype_out_ == dtype_out_;
}

}  // namespace ember
