// Bindings of the quantization ops and the special matrix products.
#include "utils.h"

using namespace pybind11::literals;

namespace {

inline StreamOrDevice sd(const py::object& s) { return to_stream_or_device(s); }
std::optional<array> opt(const py::object& o) {
  if (o.is_none()) return std::nullopt;
  return to_array(o);
}
std::optional<int> opt_int(const py::object& o) {
  if (o.is_none()) return std::nullopt;
  return o.cast<int>();
}

}  // namespace

void init_quantized(py::module_& m) {
  auto none = py::none();
  m.def(
      "quantize",
      [](const py::object& w, const py::object& group_size, const py::object& bits, const std::string& mode,
         const py::object& global_scale, const py::object& s) {
        auto r = quantize(to_array(w), opt_int(group_size), opt_int(bits), mode, opt(global_scale), sd(s));
        py::tuple t(r.size());
        for (size_t i = 0; i < r.size(); ++i) t[i] = py::cast(r[i]);
        return t;
      },
      "Quantize the array ``w`` in groups of ``group_size`` elements of its last axis; returns "
      "(w_q, scales, biases) for \"affine\" and (w_q, scales) for the float modes.",
      "w"_a, py::pos_only(), "group_size"_a = none, "bits"_a = none, "mode"_a = "affine", py::kw_only(),
      "global_scale"_a = none, "stream"_a = none);
  m.def(
      "dequantize",
      [](const py::object& w, const py::object& scales, const py::object& biases, const py::object& group_size,
         const py::object& bits, const std::string& mode, const py::object& global_scale,
         const py::object& dtype, const py::object& s) {
        std::optional<Dtype> dt;
        if (!dtype.is_none()) dt = as_dtype(dtype);
        return dequantize(to_array(w), to_array(scales), opt(biases), opt_int(group_size), opt_int(bits), mode,
                          opt(global_scale), dt, sd(s));
      },
      "Dequantize the matrix ``w`` using its scales (and biases for \"affine\").", "w"_a, py::pos_only(),
      "scales"_a, "biases"_a = none, "group_size"_a = none, "bits"_a = none, "mode"_a = "affine",
      "global_scale"_a = none, "dtype"_a = none, py::kw_only(), "stream"_a = none);
  m.def(
      "quantized_matmul",
      [](const py::object& x, const py::object& w, const py::object& scales, const py::object& biases,
         bool transpose, const py::object& group_size, const py::object& bits, const std::string& mode,
         const py::object& s) {
        return quantized_matmul(to_array(x), to_array(w), to_array(scales), opt(biases), transpose,
                                opt_int(group_size), opt_int(bits), mode, sd(s));
      },
      "Matrix product with the quantized matrix ``w``: ``x @ w.T`` when ``transpose`` else ``x @ w``.",
      "x"_a, "w"_a, py::pos_only(), "scales"_a, "biases"_a = none, "transpose"_a = true,
      "group_size"_a = none, "bits"_a = none, "mode"_a = "affine", py::kw_only(), "stream"_a = none);
  m.def(
      "gather_qmm",
      [](const py::object& x, const py::object& w, const py::object& scales, const py::object& biases,
         const py::object& lhs, const py::object& rhs, bool transpose, const py::object& group_size,
         const py::object& bits, const std::string& mode, const py::object& global_scale, bool sorted,
         const py::object& s) {
        if (!global_scale.is_none()) throw std::invalid_argument("[gather_qmm] global_scale is not supported.");
        return gather_qmm(to_array(x), to_array(w), to_array(scales), opt(biases), opt(lhs), opt(rhs), transpose,
                          opt_int(group_size), opt_int(bits), mode, sorted, sd(s));
      },
      "Quantized matrix product with matrix-level gather (the quantized gather_mm).", "x"_a, "w"_a,
      py::pos_only(), "scales"_a, "biases"_a = none, "lhs_indices"_a = none, "rhs_indices"_a = none,
      "transpose"_a = true, "group_size"_a = none, "bits"_a = none, "mode"_a = "affine",
      "global_scale"_a = none, py::kw_only(), "sorted_indices"_a = false, "stream"_a = none);
  m.def(
      "qqmm",
      [](const py::object& x, const py::object& w, const py::object& scales, const py::object& group_size,
         const py::object& bits, const std::string& mode, const py::object& gsx, const py::object& gsw,
         const py::object& s) {
        return qqmm(to_array(x), to_array(w), opt(scales), opt_int(group_size), opt_int(bits), mode, opt(gsx),
                    opt(gsw), sd(s));
      },
      "Matrix product of ``x`` quantized on the fly with the quantized matrix ``w`` (quantized on the "
      "fly when ``scales`` is not given): ``x_q @ w_q.T``; gradients pass straight through.",
      "x"_a, "w"_a, "scales"_a = none, "group_size"_a = none, "bits"_a = none, "mode"_a = "nvfp4",
      "global_scale_x"_a = none, "global_scale_w"_a = none, py::kw_only(), "stream"_a = none);
  m.def(
      "gather_qqmm",
      [](const py::object& x, const py::object& w, const py::object& scales, const py::object& lhs,
         const py::object& rhs, const py::object& group_size, const py::object& bits, const std::string& mode,
         const py::object& gsx, const py::object& gsw, bool sorted, const py::object& s) {
        return gather_qqmm(to_array(x), to_array(w), opt(scales), opt(lhs), opt(rhs), opt_int(group_size),
                           opt_int(bits), mode, opt(gsx), opt(gsw), sorted, sd(s));
      },
      "qqmm with matrix-level gather (the quantized-quantized gather_mm).", "x"_a, "w"_a, py::pos_only(),
      "scales"_a = none, "lhs_indices"_a = none, "rhs_indices"_a = none, "group_size"_a = none,
      "bits"_a = none, "mode"_a = "nvfp4", "global_scale_x"_a = none, "global_scale_w"_a = none,
      py::kw_only(), "sorted_indices"_a = false, "stream"_a = none);
  m.def(
      "gather_mm",
      [](const py::object& a, const py::object& b, const py::object& lhs, const py::object& rhs, bool sorted,
         const py::object& s) {
        return gather_mm(to_array(a), to_array(b), opt(lhs), opt(rhs), sorted, sd(s));
      },
      "Matrix multiplication with matrix-level gather: flat indices into the batch dims of ``a`` and ``b``.",
      "a"_a, "b"_a, py::pos_only(), "lhs_indices"_a = none, "rhs_indices"_a = none, py::kw_only(),
      "sorted_indices"_a = false, "stream"_a = none);
  m.def(
      "block_masked_mm",
      [](const py::object& a, const py::object& b, int block_size, const py::object& mo, const py::object& ml,
         const py::object& mr, const py::object& s) {
        return block_masked_mm(to_array(a), to_array(b), block_size, opt(mo), opt(ml), opt(mr), sd(s));
      },
      "Matrix multiplication with blocks of ``block_size x block_size`` masked out.", "a"_a, "b"_a,
      py::pos_only(), "block_size"_a = 64, "mask_out"_a = none, "mask_lhs"_a = none, "mask_rhs"_a = none,
      py::kw_only(), "stream"_a = none);
  m.def(
      "segmented_mm",
      [](const py::object& a, const py::object& b, const py::object& segments, const py::object& s) {
        return segmented_mm(to_array(a), to_array(b), to_array(segments), sd(s));
      },
      "Matrix multiplication over segments [start, end) of the inner dimension, one result per segment.",
      "a"_a, "b"_a, py::pos_only(), "segments"_a, py::kw_only(), "stream"_a = none);
  m.def(
      "to_fp8", [](const py::object& x, const py::object& s) { return to_fp8(to_array(x), sd(s)); },
      "Convert the array to fp8 (e4m3) codes of type uint8.", "x"_a, py::kw_only(), "stream"_a = none);
  m.def(
      "from_fp8",
      [](const py::object& x, const py::object& dtype, const py::object& s) {
        return from_fp8(to_array(x), dtype.is_none() ? bfloat16 : as_dtype(dtype), sd(s));
      },
      "Convert fp8 (e4m3) codes of type uint8 to ``dtype`` (default bfloat16).", "x"_a,
      py::arg_v("dtype", py::cast(bfloat16), "bfloat16"),
      py::kw_only(), "stream"_a = none);
  m.def(
      "hadamard_transform",
      [](const py::object& a, const py::object& scale, const py::object& s) {
        std::optional<float> sc;
        if (!scale.is_none()) sc = scale.cast<float>();
        return hadamard_transform(to_array(a), sc, sd(s));
      },
      "Walsh-Hadamard transform along the final axis, scaled by ``scale`` (default 1/sqrt(n)).\n\n"
      "The size of the final axis must be m * 2^k with m in (1, 12, 20, 28).", "a"_a,
      "scale"_a = none, "stream"_a = none);
}
