// ember.core.fast: fused normalisations, rotary embeddings and attention.
#include "utils.h"

using namespace pybind11::literals;

namespace {

inline StreamOrDevice sd(const py::object& s) { return to_stream_or_device(s); }

// A callable that says custom GPU kernels cannot run here.
py::cpp_function unavailable_kernel(const std::string& what) {
  return py::cpp_function([what](const py::args&, const py::kwargs&) -> py::object {
    throw std::runtime_error(what);
  });
}

}  // namespace

void init_fast(py::module_& parent) {
  py::module_ m = parent.def_submodule("fast", "Fused operations: normalisations, rotary embeddings, "
                                               "attention.");
  auto none = py::none();

  m.def(
      "rms_norm",
      [](const array& x, const std::optional<array>& weight, float eps, const py::object& s) {
        return fast::rms_norm(x, weight, eps, sd(s));
      },
      "Root Mean Square normalization over the last axis of x, scaled by the optional weight.",
      "x"_a, "weight"_a.none(true), "eps"_a, py::kw_only(), "stream"_a = none);

  m.def(
      "layer_norm",
      [](const array& x, const std::optional<array>& weight, const std::optional<array>& bias, float eps,
         const py::object& s) { return fast::layer_norm(x, weight, bias, eps, sd(s)); },
      "Layer normalization over the last axis of x, with optional weight and bias.", "x"_a,
      "weight"_a.none(true), "bias"_a.none(true), "eps"_a, py::kw_only(), "stream"_a = none);

  m.def(
      "rope",
      [](const array& a, int dims, bool traditional, std::optional<float> base, float scale,
         const py::object& offset, const std::optional<array>& freqs, const py::object& s) {
        if (py::isinstance<array>(offset))
          return fast::rope(a, dims, traditional, base, scale, offset.cast<array>(), freqs, sd(s));
        if (py::isinstance<py::bool_>(offset) || !PyIndex_Check(offset.ptr()))
          throw py::type_error("[rope] offset must be an int or an array; got " +
                               std::string(py::str(py::type::handle_of(offset).attr("__name__"))) + ".");
        return fast::rope(a, dims, traditional, base, scale, offset.cast<int>(), freqs, sd(s));
      },
      "Rotary positional encoding of the first dims features of a (B, *, T, D).", "a"_a, "dims"_a,
      py::kw_only(), "traditional"_a, "base"_a.none(true), "scale"_a, "offset"_a, "freqs"_a = none,
      "stream"_a = none);

  m.def(
      "scaled_dot_product_attention",
      [](const array& q, const array& k, const array& v, float scale, const py::object& mask,
         const std::optional<array>& sinks, bool force_fused, const py::object& s) {
        (void)force_fused;  // the fused CPU kernel serves every case it is asked for
        std::string mode;
        std::optional<array> marr;
        if (py::isinstance<py::str>(mask)) {
          mode = mask.cast<std::string>();
          if (mode != "causal")
            throw py::value_error("[scaled_dot_product_attention] invalid mask option '" + mode +
                                  "'. Must be 'causal', or an array.");
        } else if (py::isinstance<array>(mask)) {
          marr = mask.cast<array>();
        } else if (!mask.is_none()) {
          throw py::type_error("[scaled_dot_product_attention] mask must be None, 'causal' or an array.");
        }
        return fast::scaled_dot_product_attention(q, k, v, scale, mode, marr, sinks, sd(s));
      },
      "softmax(scale * q @ k.T + mask) @ v with grouped-query heads, a causal or array mask and "
      "optional attention sinks.",
      "q"_a, "k"_a, "v"_a, py::kw_only(), "scale"_a, "mask"_a = none, "sinks"_a = none,
      "force_fused"_a = false, "stream"_a = none);

  m.def(
      "cross_entropy",
      [](const array& logits, const array& targets, const py::object& s) {
        return fast::cross_entropy(logits, targets, sd(s));
      },
      "logsumexp(logits, axis=-1) - logits[..., targets], in float32.", "logits"_a, "targets"_a,
      py::kw_only(), "stream"_a = none);

  m.def(
      "gated_delta_update",
      [](const array& q, const array& k, const array& v, const array& gamma, const array& beta,
         const std::optional<array>& initial_state, const std::optional<array>& mask, const py::object& s) {
        return fast::gated_delta_update(q, k, v, gamma, beta, initial_state, mask, sd(s));
      },
      "The gated delta rule over T steps: (outputs (B, T, Hv, Dv), final state (B, Hv, Dv, Dk)).",
      "q"_a, "k"_a, "v"_a, "gamma"_a, "beta"_a, "initial_state"_a = none, "mask"_a = none,
      "stream"_a = none);

  m.def(
      "metal_kernel",
      [](const std::string&, const std::vector<std::string>&, const std::vector<std::string>&,
         const std::string&, const std::string&, bool, bool, const py::object&) {
        return unavailable_kernel("[metal_kernel] Metal is not available on this platform: custom "
                                  "Metal kernels cannot run here.");
      },
      "A custom Metal kernel; Metal is not available on this platform, so calling it raises.",
      "name"_a, "input_names"_a, "output_names"_a, "source"_a, "header"_a = "",
      "ensure_row_contiguous"_a = true, "atomic_outputs"_a = false, "compile_options"_a = none);

  m.def(
      "cuda_kernel",
      [](const std::string&, const std::vector<std::string>&, const std::vector<std::string>&,
         const std::string&, const std::string&, bool, int) -> py::object {
        throw std::runtime_error("[cuda_kernel] The CUDA backend is not available in this build.");
      },
      "A custom CUDA kernel; raises, as the CUDA backend is not available in this build.", "name"_a,
      "input_names"_a, "output_names"_a, "source"_a, "header"_a = "", "ensure_row_contiguous"_a = true,
      "shared_memory"_a = 0);

  m.def(
      "precompiled_cuda_kernel",
      [](const std::string&, const py::bytes&, const py::object&, const py::object&, const py::object&,
         const py::object&, const py::object&, const py::object&, int, const py::object&, bool,
         const py::object&) -> py::object {
        throw std::runtime_error("[precompiled_cuda_kernel] The CUDA backend is not available in this build.");
      },
      "A precompiled CUDA kernel; raises, as the CUDA backend is not available in this build.",
      py::kw_only(), "name"_a, "compiled_source"_a, "inputs"_a, "output_shapes"_a, "output_dtypes"_a,
      "scalars"_a, "grid"_a, "threadgroup"_a, "shared_memory"_a = 0, "init_value"_a = none,
      "ensure_row_contiguous"_a = false, "stream"_a = none);
}
