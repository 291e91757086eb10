// Quantization ops and the special matrix products. Quantize, dequantize, the quantized
// matmul and the fp8 casts are primitives; the gathered, masked and segmented products and
// the Hadamard transform are built from existing ops, so every transformation applies.
#include "ember/ops/quantized.h"

#include <cmath>
#include <sstream>

#include "ember/ops/common.h"
#include "ember/primitives/quantized.h"

namespace ember {

namespace {

std::string dims_str(const Shape& s) {
  std::ostringstream o;
  o << s;
  return o.str();
}

struct Resolved {
  QuantMode mode;
  int group_size;
  int bits;
};

// Mode defaults and the combinations each mode accepts.
Resolved resolve(std::optional<int> gs, std::optional<int> bits, const std::string& mode_str,
                 const char* op) {
  QuantMode mode = quant_mode_from_string(mode_str, op);
  Resolved r{mode, 64, 4};
  if (mode == QuantMode::Affine) {
    r.group_size = gs.value_or(64);
    r.bits = bits.value_or(4);
    if (r.bits < 1 || r.bits > 8 || r.bits == 7)
      op_error(op, "The requested number of bits " + std::to_string(r.bits) +
                       " is not supported. The supported bits are 1, 2, 3, 4, 5, 6 and 8.");
    if (r.group_size != 32 && r.group_size != 64 && r.group_size != 128)
      op_error(op, "The requested group size " + std::to_string(r.group_size) +
                       " is not supported. The supported group sizes are 32, 64, and 128.");
    return r;
  }
  int want_gs = mode == QuantMode::Nvfp4 ? 16 : 32;
  int want_bits = mode == QuantMode::Mxfp8 ? 8 : 4;
  r.group_size = gs.value_or(want_gs);
  r.bits = bits.value_or(want_bits);
  std::string name = quant_mode_name(mode);
  if (r.group_size != want_gs)
    op_error(op, name + " quantization requires group size " + std::to_string(want_gs) +
                     " but got " + std::to_string(r.group_size) + ".");
  if (r.bits != want_bits)
    op_error(op, name + " quantization requires bits to be " + std::to_string(want_bits) +
                     " but got " + std::to_string(r.bits) + ".");
  return r;
}

void check_biases(const Resolved& r, const std::optional<array>& biases, const char* op) {
  if (r.mode == QuantMode::Affine && !biases)
    op_error(op, "Biases must be provided for affine quantization.");
  if (r.mode != QuantMode::Affine && biases)
    op_error(op, std::string("Biases must be null for quantization mode '") + quant_mode_name(r.mode) + "'.");
}

// The nvfp4 global scale: a float32 scalar.
void check_global_scale(const std::optional<array>& g, QuantMode mode, const char* op) {
  if (!g) return;
  if (mode != QuantMode::Nvfp4) op_error(op, "Global scale is only supported for 'nvfp4' quantization mode.");
  if (g->size() != 1 || g->ndim() > 1) op_error(op, "Global scale must be a scalar but got shape " + dims_str(g->shape()) + ".");
  if (g->dtype() != float32)
    op_error(op, std::string("Global scale must have dtype float32 but got ") + dtype_name(g->dtype()) + ".");
}

// The scales' shape for a packed w under r, or an error naming both shapes.
void check_scales(const array& w, const array& scales, const std::optional<array>& biases,
                  const Resolved& r, const char* op) {
  if (w.dtype() != uint32)
    op_error(op, std::string("The weight matrix should be uint32 but received ") + dtype_name(w.dtype()));
  if (w.ndim() < 2) op_error(op, "The quantized matrix must have at least 2 dimensions.");
  if (r.mode != QuantMode::Affine && scales.dtype() != uint8)
    op_error(op, std::string("Scales must be uint8 for quantization mode '") + quant_mode_name(r.mode) + "'.");
  if (r.mode == QuantMode::Affine && !is_floating_point(scales.dtype()))
    op_error(op, "Scales must be floating point for affine quantization.");
  int64_t cols = (int64_t)w.shape().back() * 32;
  Shape want = w.shape();
  bool ok = cols % ((int64_t)r.bits * r.group_size) == 0;
  want.back() = (int32_t)(cols / ((int64_t)r.bits * r.group_size));
  ok = ok && scales.shape() == want && (!biases || biases->shape() == want);
  if (!ok)
    op_error(op, "The shapes of the weight and scales are incompatible based on bits and group_size. "
                 "w.shape() == " + dims_str(w.shape()) + " and scales.shape() == " +
                     dims_str(scales.shape()) + " with group_size=" + std::to_string(r.group_size) +
                     " and bits=" + std::to_string(r.bits));
  if (biases && biases->dtype() != scales.dtype())
    op_error(op, "Scales and biases must have the same dtype.");
}

Shape batch_of(const array& a) { return Shape(a.shape().begin(), a.shape().end() - 2); }

Shape with_batch(const Shape& batch, const array& a) {
  Shape s = batch;
  s.insert(s.end(), a.shape().end() - 2, a.shape().end());
  return s;
}

Shape broadcast_batch(const Shape& a, const Shape& b, const char* op) {
  try {
    return broadcast_shapes(a, b);
  } catch (const std::invalid_argument&) {
    op_error(op, "Batch dimensions " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast.");
  }
}

}  // namespace

QuantMode quant_mode_from_string(const std::string& m, const char* op) {
  if (m == "affine") return QuantMode::Affine;
  if (m == "mxfp4") return QuantMode::Mxfp4;
  if (m == "mxfp8") return QuantMode::Mxfp8;
  if (m == "nvfp4") return QuantMode::Nvfp4;
  op_error(op, "Invalid quantization mode '" + m + "'.");
}

const char* quant_mode_name(QuantMode m) {
  switch (m) {
    case QuantMode::Affine: return "affine";
    case QuantMode::Mxfp4: return "mxfp4";
    case QuantMode::Mxfp8: return "mxfp8";
    case QuantMode::Nvfp4: return "nvfp4";
  }
  return "affine";
}

std::vector<array> quantize(const array& w, std::optional<int> group_size, std::optional<int> bits,
                            const std::string& mode, const std::optional<array>& global_scale, S s) {
  Resolved r = resolve(group_size, bits, mode, "quantize");
  check_global_scale(global_scale, r.mode, "quantize");
  if (!is_floating_point(w.dtype()))
    op_error("quantize", std::string("Only real floating types can be quantized but w has type ") +
                             dtype_name(w.dtype()) + ".");
  if (w.dtype() == float64)
    op_error("quantize", "Only float32, float16 and bfloat16 inputs can be quantized but w has type float64.");
  if (w.ndim() < 2)
    op_error("quantize", "The matrix to be quantized must have at least 2 dimension but it has only " +
                             std::to_string(w.ndim()) + ".");
  if (w.shape().back() % r.group_size != 0)
    op_error("quantize", "The last dimension of the matrix needs to be divisible by the quantization "
                         "group size " + std::to_string(r.group_size) +
                         ". However the provided  matrix has shape " + dims_str(w.shape()));
  auto prim = std::make_shared<Quantize>(to_stream(s), QuantSpec{r.group_size, r.bits, r.mode});
  auto shapes = prim->output_shapes({w});
  std::vector<Dtype> dtypes{uint32, r.mode == QuantMode::Affine ? w.dtype() : uint8};
  if (r.mode == QuantMode::Affine) dtypes.push_back(w.dtype());
  std::vector<array> ins{w};
  if (global_scale) ins.push_back(reshape(*global_scale, {}, s));
  return array::make_arrays(shapes, dtypes, prim, ins);
}

array dequantize(const array& w, const array& scales, const std::optional<array>& biases,
                 std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                 const std::optional<array>& global_scale, std::optional<Dtype> dtype, S s) {
  Resolved r = resolve(group_size, bits, mode, "dequantize");
  check_global_scale(global_scale, r.mode, "dequantize");
  check_biases(r, biases, "dequantize");
  if (w.dtype() != uint32)
    op_error("dequantize", std::string("The matrix should be given as a uint32 but received ") + dtype_name(w.dtype()));
  Shape want = w.shape();
  if (w.ndim() < 1) op_error("dequantize", "The matrix must have at least one dimension.");
  int64_t cols = (int64_t)w.shape().back() * 32;
  bool ok = cols % ((int64_t)r.bits * r.group_size) == 0;
  want.back() = (int32_t)(cols / ((int64_t)r.bits * r.group_size));
  if (!ok || scales.shape() != want || (biases && biases->shape() != want))
    op_error("dequantize", "Shape of scales and biases does not match the matrix given the quantization "
                           "parameters. Provided matrix of shape " + dims_str(w.shape()) +
                           " and scales/biases of shape " + dims_str(scales.shape()) +
                           " with group_size=" + std::to_string(r.group_size) + " and bits=" +
                           std::to_string(r.bits) + ".");
  if (r.mode != QuantMode::Affine && scales.dtype() != uint8)
    op_error("dequantize", std::string("Scales must be uint8 for quantization mode '") + quant_mode_name(r.mode) + "'.");
  if (r.mode == QuantMode::Affine && !is_floating_point(scales.dtype()))
    op_error("dequantize", "Scales must be floating point for affine quantization.");
  Dtype out_t = dtype ? *dtype : (r.mode == QuantMode::Affine ? scales.dtype() : bfloat16);
  if (!is_floating_point(out_t) || out_t == float64)
    op_error("dequantize", "The output dtype must be float32, float16 or bfloat16.");
  std::vector<array> ins{w, scales};
  if (biases) ins.push_back(astype(*biases, scales.dtype(), s));
  if (global_scale) ins.push_back(reshape(*global_scale, {}, s));
  Shape out = w.shape();
  out.back() = (int32_t)(cols / r.bits);
  return make_node<Dequantize>(out, out_t, ins, s, QuantSpec{r.group_size, r.bits, r.mode}, out_t);
}

array quantized_matmul(const array& x_in, const array& w, const array& scales,
                       const std::optional<array>& biases, bool transpose,
                       std::optional<int> group_size, std::optional<int> bits,
                       const std::string& mode, S s) {
  const char* op = "quantized_matmul";
  Resolved r = resolve(group_size, bits, mode, op);
  check_biases(r, biases, op);
  check_scales(w, scales, biases, r, op);
  if (x_in.ndim() == 0) op_error(op, "The input x must have at least one dimension.");
  if (is_complex(x_in.dtype())) op_error(op, "Complex inputs are not supported.");
  array x = x_in.ndim() == 1 ? reshape(x_in, {1, x_in.shape()[0]}, s) : x_in;
  if (x.ndim() == 2 && w.ndim() > 2) {
    // As MLX: a matrix x meets only the first matrix of a batched w.
    auto first = [&](const array& a) {
      Shape st(a.ndim(), 0), sp(a.ndim(), 1);
      sp[a.ndim() - 2] = a.shape()[a.ndim() - 2];
      sp.back() = a.shape().back();
      return reshape(slice(a, st, sp, s), Shape(a.shape().end() - 2, a.shape().end()), s);
    };
    std::optional<array> b1;
    if (biases) b1 = first(*biases);
    array res = quantized_matmul(x, first(w), first(scales), b1, transpose, r.group_size, r.bits, mode, s);
    return x_in.ndim() == 1 ? squeeze(res, {0}, s) : res;
  }
  int64_t wcols = (int64_t)w.shape().back() * 32 / r.bits;
  int64_t rows = w.shape()[w.ndim() - 2];
  int64_t K = transpose ? wcols : rows, N = transpose ? rows : wcols;
  if (x.shape().back() != K)
    op_error(op, "Last dimension of first input with shape (..., " + std::to_string(x.shape().back()) +
                     ") does not match the expanded quantized matrix (" + std::to_string(K) + ", " +
                     std::to_string(N) + ") computed from shape " + dims_str(w.shape()) +
                     " with group_size=" + std::to_string(r.group_size) + ", bits=" +
                     std::to_string(r.bits) + " and transpose=" + (transpose ? "true" : "false"));
  Dtype t;
  if (r.mode == QuantMode::Affine) t = promote_types(x.dtype(), scales.dtype());
  else t = x.dtype();
  if (!is_floating_point(t) || t == float64) t = float32;
  Shape batch = broadcast_batch(batch_of(x), batch_of(w), op);
  std::vector<array> ins{broadcast_to(x, with_batch(batch, x), s), broadcast_to(w, with_batch(batch, w), s),
                         broadcast_to(scales, with_batch(batch, scales), s)};
  if (biases) ins.push_back(broadcast_to(astype(*biases, scales.dtype(), s), with_batch(batch, scales), s));
  Shape out = batch;
  out.push_back(x.shape()[x.ndim() - 2]);
  out.push_back((int32_t)N);
  array res = make_node<QuantizedMatmul>(out, t, ins, s, QuantSpec{r.group_size, r.bits, r.mode}, transpose, t);
  if (x_in.ndim() == 1) res = squeeze(res, {res.ndim() - 2}, s);
  return res;
}

namespace {

// Flat batch indices: given ones (any integer dtype) or all of a's batch, in its shape.
array batch_indices(const std::optional<array>& idx, const array& a, const char* op, const char* which,
                    S s) {
  if (idx) {
    if (!is_integral(idx->dtype()))
      op_error(op, std::string("Got ") + which + " with invalid dtype. Indices must be integral.");
    return *idx;
  }
  Shape b = batch_of(a);
  int n = (int)shape_size(b);
  return reshape(arange(0, n, 1, s), b, s);
}

// a (A..., M, K) -> a's matrices at flat batch positions idx: (idx..., M, K).
array take_matrices(const array& a, const array& idx, S s) {
  Shape flat{-1, a.shape()[a.ndim() - 2], a.shape().back()};
  return take(reshape(a, flat, s), idx, 0, s);
}

}  // namespace

array gather_mm(const array& a_in, const array& b_in, const std::optional<array>& lhs,
                const std::optional<array>& rhs, bool, S s) {
  const char* op = "gather_mm";
  if (a_in.ndim() == 0 || b_in.ndim() == 0) op_error(op, "Got 0 dimension input. Inputs must have at least one dimension.");
  array a = a_in.ndim() == 1 ? reshape(a_in, {1, a_in.shape()[0]}, s) : a_in;
  array b = b_in.ndim() == 1 ? reshape(b_in, {b_in.shape()[0], 1}, s) : b_in;
  if (a.shape().back() != b.shape()[b.ndim() - 2])
    op_error(op, "Last dimension of first input with shape " + shape_str(a_in.shape()) +
                     " must match second to last dimension of second input with shape " +
                     shape_str(b_in.shape()) + ".");
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (!is_inexact(t)) op_error(op, "Only inexact types are supported.");
  array li = batch_indices(lhs, a, op, "lhs_indices", s);
  array ri = batch_indices(rhs, b, op, "rhs_indices", s);
  broadcast_batch(li.shape(), ri.shape(), op);
  array ag = lhs ? take_matrices(a, li, s) : a;
  array bg = rhs ? take_matrices(b, ri, s) : b;
  if (!lhs) ag = reshape(ag, with_batch(li.shape(), a), s);
  if (!rhs) bg = reshape(bg, with_batch(ri.shape(), b), s);
  array r = matmul(ag, bg, s);
  if (a_in.ndim() == 1) r = squeeze(r, {r.ndim() - 2}, s);
  if (b_in.ndim() == 1) r = squeeze(r, {r.ndim() - 1}, s);
  return r;
}

array gather_qmm(const array& x, const array& w, const array& scales, const std::optional<array>& biases,
                 const std::optional<array>& lhs, const std::optional<array>& rhs, bool transpose,
                 std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                 bool, S s) {
  const char* op = "gather_qmm";
  Resolved r = resolve(group_size, bits, mode, op);
  check_biases(r, biases, op);
  check_scales(w, scales, biases, r, op);
  if (x.ndim() < 2) op_error(op, "The input x must have at least two dimensions.");
  array li = batch_indices(lhs, x, op, "lhs_indices", s);
  array ri = batch_indices(rhs, w, op, "rhs_indices", s);
  broadcast_batch(li.shape(), ri.shape(), op);
  array xg = lhs ? take_matrices(x, li, s) : reshape(x, with_batch(li.shape(), x), s);
  array wg = w, sg = scales;
  std::optional<array> bg = biases;
  if (rhs) {
    wg = take_matrices(w, ri, s);
    sg = take_matrices(scales, ri, s);
    if (biases) bg = take_matrices(*biases, ri, s);
  } else {
    wg = reshape(w, with_batch(ri.shape(), w), s);
    sg = reshape(scales, with_batch(ri.shape(), scales), s);
    if (biases) bg = reshape(*biases, with_batch(ri.shape(), *biases), s);
  }
  return quantized_matmul(xg, wg, sg, bg, transpose, r.group_size, r.bits, mode, s);
}

namespace {

// A block mask (..., ceil(R/bs), ceil(C/bs)) spread to (..., R, C) in dtype t.
array expand_mask(const array& m, int bs, int R, int C, const char* which, S s) {
  if (m.ndim() < 2) op_error("block_masked_mm", std::string(which) + " must have at least 2 dimensions.");
  int br = (R + bs - 1) / bs, bc = (C + bs - 1) / bs;
  int mr = m.shape()[m.ndim() - 2], mc = m.shape().back();
  if ((mr != br && mr != 1) || (mc != bc && mc != 1))
    op_error("block_masked_mm", std::string(which) + " of shape " + shape_str(m.shape()) +
                                    " does not match the block grid (" + std::to_string(br) + ", " +
                                    std::to_string(bc) + ").");
  array e = repeat(repeat(m, mr == 1 ? R : bs, m.ndim() - 2, s), mc == 1 ? C : bs, m.ndim() - 1, s);
  Shape start(e.ndim(), 0), stop = e.shape();
  stop[e.ndim() - 2] = R;
  stop.back() = C;
  return slice(e, start, stop, s);
}

array apply_mask(const array& a, const array& mask, S s) {
  if (mask.dtype() == bool_) return where(mask, a, zeros({}, a.dtype(), s), s);
  return multiply(a, astype(mask, a.dtype(), s), s);
}

}  // namespace

array block_masked_mm(const array& a, const array& b, int block_size,
                      const std::optional<array>& mask_out, const std::optional<array>& mask_lhs,
                      const std::optional<array>& mask_rhs, S s) {
  const char* op = "block_masked_mm";
  if (a.ndim() < 2 || b.ndim() < 2) op_error(op, "Inputs must have at least two dimensions.");
  if (block_size <= 0) op_error(op, "block_size must be positive.");
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (!is_floating_point(t))
    op_error(op, std::string("Only floating types are supported but got ") + dtype_name(t) + ".");
  int M = a.shape()[a.ndim() - 2], K = a.shape().back(), N = b.shape().back();
  if (b.shape()[b.ndim() - 2] != K)
    op_error(op, "Last dimension of first input with shape " + shape_str(a.shape()) +
                     " must match second to last dimension of second input with shape " +
                     shape_str(b.shape()) + ".");
  array aa = astype(a, t, s), bb = astype(b, t, s);
  if (mask_lhs) aa = apply_mask(aa, expand_mask(*mask_lhs, block_size, M, K, "mask_lhs", s), s);
  if (mask_rhs) bb = apply_mask(bb, expand_mask(*mask_rhs, block_size, K, N, "mask_rhs", s), s);
  array r = matmul(aa, bb, s);
  if (mask_out) r = apply_mask(r, expand_mask(*mask_out, block_size, M, N, "mask_out", s), s);
  return r;
}

array segmented_mm(const array& a, const array& b, const array& segments, S s) {
  const char* op = "segmented_mm";
  if (a.ndim() != 2 || b.ndim() != 2) op_error(op, "Batched matmul not supported");
  if (segments.ndim() < 1 || segments.shape().back() != 2)
    op_error(op, "The last dimension of the segments must be 2 (start, end).");
  if (!is_integral(segments.dtype())) op_error(op, "Segments must be integers.");
  Dtype t = promote_types(a.dtype(), b.dtype());
  if (!is_floating_point(t)) op_error(op, "Only floating types are supported.");
  int K = a.shape().back();
  if (b.shape()[0] != K)
    op_error(op, "Last dimension of first input with shape " + shape_str(a.shape()) +
                     " must match first dimension of second input with shape " + shape_str(b.shape()) + ".");
  // mask[..., k] = start <= k < end, then out[...] = (a * mask) @ b per segment.
  array seg = astype(segments, int32, s);
  int sd = seg.ndim() - 1;
  array start = take(seg, 0, sd, s), end = take(seg, 1, sd, s);
  array k = arange(0, K, 1, s);
  array mask = logical_and(greater_equal(k, expand_dims(start, -1, s), s),
                           less(k, expand_dims(end, -1, s), s), s);  // (..., K)
  array am = where(expand_dims(mask, -2, s), astype(a, t, s), zeros({}, t, s), s);  // (..., M, K)
  return matmul(am, astype(b, t, s), s);
}

array to_fp8(const array& x, S s) {
  if (!is_floating_point(x.dtype()))
    op_error("to_fp8", std::string("Only real floating types are supported but x.dtype() == ") +
                           dtype_name(x.dtype()) + ".");
  return make_node<FP8Cast>(x.shape(), uint8, {x}, s, true, uint8);
}

array from_fp8(const array& x, Dtype dtype, S s) {
  if (x.dtype() != uint8)
    op_error("from_fp8", std::string("Input must have type uint8 but x.dtype() == ") + dtype_name(x.dtype()) + ".");
  if (!is_floating_point(dtype))
    op_error("from_fp8", std::string("Only real floating types are supported but dtype == ") + dtype_name(dtype) + ".");
  return make_node<FP8Cast>(x.shape(), dtype, {x}, s, false, dtype);
}

namespace {

// Sylvester's matrix of order m (a power of two): H[i][j] = (-1)^popcount(i & j).
array sylvester(int m, Dtype t) {
  std::vector<float> h((size_t)m * m);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) h[(size_t)i * m + j] = (__builtin_popcount((unsigned)(i & j)) & 1) ? -1.f : 1.f;
  return astype(array(h.begin(), Shape{m, m}, float32), t);
}

// Paley's second construction for a prime q = 1 (mod 4), order 2(q + 1): the symmetric
// conference matrix C = [[0, 1], [1, Q]] (Q[i][j] = Legendre symbol of j - i) with each 0
// replaced by [[1, -1], [-1, -1]] and each +-1 by +-[[1, 1], [1, -1]].
array paley2(int q, Dtype t) {
  std::vector<int> residue(q, -1);
  residue[0] = 0;
  for (int i = 1; i < q; ++i) residue[(i * i) % q] = 1;
  int c = q + 1, n = 2 * c;
  auto conf = [&](int i, int j) {
    if (i == 0 || j == 0) return i == j ? 0 : 1;
    return residue[((j - i) % q + q) % q];
  };
  std::vector<float> h((size_t)n * n);
  for (int i = 0; i < c; ++i)
    for (int j = 0; j < c; ++j) {
      int v = conf(i, j);
      float b[2][2] = {{1, 1}, {1, -1}};
      if (v == 0) {
        b[0][1] = b[1][0] = b[1][1] = -1;
      } else {
        for (auto& r : b)
          for (auto& e : r) e *= (float)v;
      }
      for (int a = 0; a < 2; ++a)
        for (int d = 0; d < 2; ++d) h[(size_t)(2 * i + a) * n + 2 * j + d] = b[a][d];
    }
  return astype(array(h.begin(), Shape{n, n}, float32), t);
}

// Williamson's construction of a Hadamard matrix of order 4b from four symmetric circulant
// matrices A, B, C, D of order b with A^2 + B^2 + C^2 + D^2 = 4b I, placed in the array
//   [[ A,  B,  C,  D],
//    [-B,  A, -D,  C],
//    [-C,  D,  A, -B],
//    [-D, -C,  B,  A]].
// With P the cyclic shift of order b, J the all-ones matrix and S(k) = I + P^k + P^-k (S(0) = I),
// the blocks are A = 2I - J and, for B, C, D in turn, J - 2 S(k) for the three consecutive
// k = (b - 1)/2 - 2, ..., (b - 1)/2. The sum of squares follows from
// sum over k = 1..(b-1)/2 of (P^k + P^-k) = J - I; it holds for b = 5 and b = 7 (orders 20, 28).
// The transform multiplies a row vector by this matrix: x -> x H.
array williamson(int m, Dtype t) {
  int b = m / 4, half = (b - 1) / 2;
  // First row of each circulant block: +1 or -1 at offset d = j - i (mod b).
  auto first = [&](int blk, int d) -> float {
    if (blk == 0) return d == 0 ? 1.f : -1.f;
    int k = half - 3 + blk;
    bool in_s = d == 0 || d == k || d == b - k;
    return in_s ? -1.f : 1.f;
  };
  // Block layout: which of A..D sits at block (r, c), and its sign.
  static const int which[4][4] = {{0, 1, 2, 3}, {1, 0, 3, 2}, {2, 3, 0, 1}, {3, 2, 1, 0}};
  static const float sign[4][4] = {{1, 1, 1, 1}, {-1, 1, -1, 1}, {-1, 1, 1, -1}, {-1, -1, 1, 1}};
  std::vector<float> h((size_t)m * m);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) {
      int r = i / b, c = j / b, d = ((j % b) - (i % b) + b) % b;
      h[(size_t)i * m + j] = sign[r][c] * first(which[r][c], d);
    }
  return astype(array(h.begin(), Shape{m, m}, float32), t);
}

// The transform of order n = 2^k along the last axis, unscaled. H(n1 * n2) = H(n1) (x) H(n2):
// a long axis is viewed as (n1, n2) and each factor is applied along its own axis.
// x (rows, n) times the Sylvester matrix of order n. Every product and reshape is two-dimensional
// with the row count inferred, so shapeless compile replays it for any number of rows.
array sylvester_transform(const array& x, int n, S s) {
  constexpr int kBlock = 256;
  if (n <= kBlock) return matmul(x, sylvester(n, x.dtype()), s);
  int q = n / kBlock;
  array y = matmul(reshape(x, {-1, kBlock}, s), sylvester(kBlock, x.dtype()), s);
  y = reshape(swapaxes(reshape(y, {-1, q, kBlock}, s), -1, -2, s), {-1, q}, s);
  y = sylvester_transform(y, q, s);
  y = swapaxes(reshape(y, {-1, kBlock, q}, s), -1, -2, s);
  return reshape(y, {-1, n}, s);
}

}  // namespace

array hadamard_transform(const array& a, std::optional<float> scale, S s) {
  const char* op = "hadamard_transform";
  if (a.ndim() == 0) op_error(op, "Input must have at least one dimension.");
  int n = a.shape().back();
  // The smallest m in (1, 12, 20, 28) leaving a power of two.
  int m = 0;
  for (int c : {1, 12, 20, 28})
    if (n > 0 && n % c == 0 && ((n / c) & (n / c - 1)) == 0) {
      m = c;
      break;
    }
  if (m == 0)
    op_error(op, "Sizes n = m * 2^k with m in (1, 12, 20, 28) are supported; got " + std::to_string(n) + ".");
  int p = n / m;
  Dtype t = is_floating_point(a.dtype()) ? a.dtype() : float32;
  float sc = scale ? *scale : 1.0f / std::sqrt((float)n);
  // Rows of n values; the leading axes come back at the end (the first one inferred).
  Shape shp = a.shape();
  if (shp.size() > 1 && a.size() > 0) shp[0] = -1;
  array x = reshape(astype(a, t, s), {-1, n}, s);
  array y;
  if (m == 1) {
    y = sylvester_transform(x, n, s);
  } else {
    // x -> x (H(m) (x) H(p)) with index i = im * p + ip: on the (m, p) view X of a row that is
    // H(m)^T X H(p). The order-12 matrix is Paley's second construction for q = 5; 20 and 28
    // come from Williamson's construction. H(m) multiplies the rows of the swapped view.
    y = sylvester_transform(reshape(x, {-1, p}, s), p, s);
    y = reshape(swapaxes(reshape(y, {-1, m, p}, s), -1, -2, s), {-1, m}, s);
    y = matmul(y, m == 12 ? paley2(5, t) : williamson(m, t), s);
    y = reshape(swapaxes(reshape(y, {-1, p, m}, s), -1, -2, s), {-1, n}, s);
  }
  y = reshape(y, shp, s);
  return multiply(y, astype(array(sc), t, s), s);
}

// ---------- products of two quantized operands

namespace {

// The value of x rounded through the quantization, with the gradient of x itself.
array straight_through(const array& x, std::optional<int> group_size, std::optional<int> bits,
                       const std::string& mode, const std::optional<array>& global_scale, S s) {
  auto q = quantize(stop_gradient(x, s), group_size, bits, mode, global_scale, s);
  array r = dequantize(q[0], q[1], std::nullopt, group_size, bits, mode, global_scale, x.dtype(), s);
  // r + (x - x): the value of r exactly, the derivative of x.
  return add(r, subtract(x, stop_gradient(x, s), s), s);
}

// Both operands of a qqmm product, rounded through the quantization, w transposed.
std::pair<array, array> qq_operands(const char* op, const array& x, const array& w,
                                    const std::optional<array>& scales, std::optional<int> group_size,
                                    std::optional<int> bits, const std::string& mode,
                                    const std::optional<array>& gsx, const std::optional<array>& gsw, S s) {
  if (mode != "nvfp4" && mode != "mxfp8")
    throw std::invalid_argument(std::string("[") + op + "] Supported modes are nvfp4 and mxfp8; got " + mode + ".");
  if (x.dtype() != float32 && x.dtype() != float16 && x.dtype() != bfloat16)
    throw std::invalid_argument(std::string("[") + op + "] x must be float32, float16 or bfloat16; got " +
                                dtype_name(x.dtype()) + ".");
  if (mode != "nvfp4" && (gsx || gsw))
    throw std::invalid_argument(std::string("[") + op + "] Global scales are only used with nvfp4.");
  array xq = straight_through(x, group_size, bits, mode, gsx, s);
  array wq = w;
  if (scales) {
    if (!is_unsigned(w.dtype()))
      throw std::invalid_argument(std::string("[") + op + "] A quantized w must be packed in unsigned integers.");
    wq = dequantize(w, *scales, std::nullopt, group_size, bits, mode, gsw, x.dtype(), s);
  } else {
    if (w.dtype() != float32 && w.dtype() != float16 && w.dtype() != bfloat16)
      throw std::invalid_argument(std::string("[") + op + "] w must be float32, float16 or bfloat16 when it is "
                                  "not quantized; got " + dtype_name(w.dtype()) + ".");
    wq = straight_through(astype(w, x.dtype(), s), group_size, bits, mode, gsw, s);
  }
  if (wq.ndim() < 2) throw std::invalid_argument(std::string("[") + op + "] w must have at least 2 dimensions.");
  return {xq, swapaxes(wq, -1, -2, s)};
}

}  // namespace

array qqmm(const array& x, const array& w, const std::optional<array>& scales, std::optional<int> group_size,
           std::optional<int> bits, const std::string& mode, const std::optional<array>& global_scale_x,
           const std::optional<array>& global_scale_w, S s) {
  auto [a, b] = qq_operands("qqmm", x, w, scales, group_size, bits, mode, global_scale_x, global_scale_w, s);
  return matmul(a, b, s);
}

array gather_qqmm(const array& x, const array& w, const std::optional<array>& scales,
                  const std::optional<array>& lhs_indices, const std::optional<array>& rhs_indices,
                  std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                  const std::optional<array>& global_scale_x, const std::optional<array>& global_scale_w,
                  bool sorted_indices, S s) {
  auto [a, b] = qq_operands("gather_qqmm", x, w, scales, group_size, bits, mode, global_scale_x,
                            global_scale_w, s);
  return gather_mm(a, b, lhs_indices, rhs_indices, sorted_indices, s);
}

}  // namespace ember
