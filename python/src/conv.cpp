// Convolution bindings (signatures and defaults as MLX's).
#include <string>

#include "utils.h"

#include "ember/primitives/conv_grad.h"

using namespace pybind11::literals;

namespace {

inline StreamOrDevice sd(const py::object& s) { return to_stream_or_device(s); }

std::string type_name(py::handle o) {
  return py::str(py::type::handle_of(o).attr("__name__"));
}

bool is_int(py::handle o) {
  return PyLong_Check(o.ptr()) || (!PyFloat_Check(o.ptr()) && PyIndex_Check(o.ptr()));
}

bool is_seq(py::handle o) { return PyList_Check(o.ptr()) || PyTuple_Check(o.ptr()); }

int int_arg(py::handle o, const char* op, const char* name) {
  if (!is_int(o))
    throw py::type_error(std::string("[") + op + "] Expected an int for " + name + ", got " +
                         type_name(o) + ".");
  return to_dim(o, op);
}

std::vector<int> int_seq(py::handle o, const char* op, const char* name) {
  std::vector<int> v;
  for (auto e : py::reinterpret_borrow<py::sequence>(o)) v.push_back(int_arg(e, op, name));
  return v;
}

// An int (the same for every spatial axis) or a sequence of exactly n ints.
template <size_t n>
std::array<int, n> fixed_ints(py::handle o, const char* op, const char* name) {
  std::array<int, n> r;
  if (is_int(o)) {
    r.fill(int_arg(o, op, name));
    return r;
  }
  if (!is_seq(o) || py::len(o) != n)
    throw py::type_error(std::string("[") + op + "] Expected an int or a tuple of " + std::to_string(n) +
                         " ints for " + name + ", got " + std::string(py::repr(o)) + ".");
  auto v = int_seq(o, op, name);
  std::copy(v.begin(), v.end(), r.begin());
  return r;
}

// conv_general's int-or-sequence parameters: an int stands for every spatial axis.
std::vector<int> general_ints(py::handle o, int spatial, const char* name) {
  if (is_int(o)) return std::vector<int>(std::max(spatial, 0), int_arg(o, "conv_general", name));
  if (!is_seq(o))
    throw py::type_error(std::string("[conv_general] Expected an int or a sequence of ints for ") + name +
                         ", got " + type_name(o) + ".");
  return int_seq(o, "conv_general", name);
}

}  // namespace

void init_conv(py::module_& m) {
  auto none = py::none();
  // Max pooling over non-overlapping tiles, for nn.MaxPool*d (not an MLX function).
  m.def("_tile_max",
        [](const py::object& x, const std::vector<int>& kernel, const py::object& s) {
          return tile_max(to_array(x), kernel, sd(s));
        },
        "x"_a, "kernel"_a, py::kw_only(), "stream"_a = none);
  m.def("conv1d",
        [](const py::object& in, const py::object& w, const py::object& stride, const py::object& padding,
           const py::object& dilation, const py::object& groups, const py::object& s) {
          return conv1d(to_array(in), to_array(w), int_arg(stride, "conv1d", "stride"),
                        int_arg(padding, "conv1d", "padding"), int_arg(dilation, "conv1d", "dilation"),
                        int_arg(groups, "conv1d", "groups"), sd(s));
        },
        "1D convolution over an input with several channels (N, L, C_in); weight (C_out, K, C_in / groups).",
        "input"_a, "weight"_a, py::pos_only(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
        "groups"_a = 1, py::kw_only(), "stream"_a = none);
  m.def("conv2d",
        [](const py::object& in, const py::object& w, const py::object& stride, const py::object& padding,
           const py::object& dilation, const py::object& groups, const py::object& s) {
          return conv2d(to_array(in), to_array(w), fixed_ints<2>(stride, "conv2d", "stride"),
                        fixed_ints<2>(padding, "conv2d", "padding"),
                        fixed_ints<2>(dilation, "conv2d", "dilation"), int_arg(groups, "conv2d", "groups"),
                        sd(s));
        },
        "2D convolution over an input (N, H, W, C_in); weight (C_out, KH, KW, C_in / groups).",
        "input"_a, "weight"_a, py::pos_only(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
        "groups"_a = 1, py::kw_only(), "stream"_a = none);
  m.def("conv3d",
        [](const py::object& in, const py::object& w, const py::object& stride, const py::object& padding,
           const py::object& dilation, const py::object& groups, const py::object& s) {
          return conv3d(to_array(in), to_array(w), fixed_ints<3>(stride, "conv3d", "stride"),
                        fixed_ints<3>(padding, "conv3d", "padding"),
                        fixed_ints<3>(dilation, "conv3d", "dilation"), int_arg(groups, "conv3d", "groups"),
                        sd(s));
        },
        "3D convolution over an input (N, D, H, W, C_in); weight (C_out, KD, KH, KW, C_in / groups).",
        "input"_a, "weight"_a, py::pos_only(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
        "groups"_a = 1, py::kw_only(), "stream"_a = none);
  m.def("conv_general",
        [](const py::object& in, const py::object& w, const py::object& stride, const py::object& padding,
           const py::object& kdil, const py::object& idil, const py::object& groups, bool flip,
           const py::object& s) {
          array x = to_array(in), k = to_array(w);
          int sp = x.ndim() - 2;
          std::vector<int> lo, hi;
          // padding: an int, a sequence of ints (both sides), or a pair (low, high) of sequences.
          if (PyTuple_Check(padding.ptr()) && py::len(padding) == 2 && is_seq(padding[py::int_(0)]) &&
              is_seq(padding[py::int_(1)])) {
            lo = general_ints(padding[py::int_(0)], sp, "padding");
            hi = general_ints(padding[py::int_(1)], sp, "padding");
          } else {
            lo = hi = general_ints(padding, sp, "padding");
          }
          auto st = general_ints(stride, sp, "stride");
          auto kd = general_ints(kdil, sp, "kernel_dilation");
          auto id = general_ints(idil, sp, "input_dilation");
          // An empty sequence is a wrong length, not the default.
          if (sp >= 1 && sp <= 3 && x.ndim() == k.ndim()) {
            std::string d = " for " + std::to_string(sp) + "D convolution.";
            if (st.empty()) throw py::value_error("[conv] Invalid strides ()" + d);
            if (lo.empty() || hi.empty()) throw py::value_error("[conv] Invalid padding () | ()" + d);
            if (kd.empty()) throw py::value_error("[conv] Invalid kernel dilation ()" + d);
            if (id.empty()) throw py::value_error("[conv] Invalid input dilation ()" + d);
          }
          return conv_general(x, k, st, lo, hi, kd, id, int_arg(groups, "conv_general", "groups"), flip,
                              sd(s));
        },
        "General convolution: strides, padding (low, high), kernel and input dilation, groups, flip.",
        "input"_a, "weight"_a, py::pos_only(), "stride"_a = 1, "padding"_a = 0, "kernel_dilation"_a = 1,
        "input_dilation"_a = 1, "groups"_a = 1, "flip"_a = false, py::kw_only(), "stream"_a = none);
  m.def("conv_transpose1d",
        [](const py::object& in, const py::object& w, const py::object& stride, const py::object& padding,
           const py::object& dilation, const py::object& output_padding, const py::object& groups,
           const py::object& s) {
          const char* op = "conv_transpose1d";
          return conv_transpose1d(to_array(in), to_array(w), int_arg(stride, op, "stride"),
                                  int_arg(padding, op, "padding"), int_arg(dilation, op, "dilation"),
                                  int_arg(output_padding, op, "output_padding"), int_arg(groups, op, "groups"),
                                  sd(s));
        },
        "1D transposed convolution; weight (C_out, K, C_in / groups).", "input"_a, "weight"_a,
        py::pos_only(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "output_padding"_a = 0,
        "groups"_a = 1, py::kw_only(), "stream"_a = none);
  m.def("conv_transpose2d",
        [](const py::object& in, const py::object& w, const py::object& stride, const py::object& padding,
           const py::object& dilation, const py::object& output_padding, const py::object& groups,
           const py::object& s) {
          const char* op = "conv_transpose2d";
          return conv_transpose2d(to_array(in), to_array(w), fixed_ints<2>(stride, op, "stride"),
                                  fixed_ints<2>(padding, op, "padding"), fixed_ints<2>(dilation, op, "dilation"),
                                  fixed_ints<2>(output_padding, op, "output_padding"),
                                  int_arg(groups, op, "groups"), sd(s));
        },
        "2D transposed convolution; weight (C_out, KH, KW, C_in / groups).", "input"_a, "weight"_a,
        py::pos_only(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "output_padding"_a = 0,
        "groups"_a = 1, py::kw_only(), "stream"_a = none);
  m.def("conv_transpose3d",
        [](const py::object& in, const py::object& w, const py::object& stride, const py::object& padding,
           const py::object& dilation, const py::object& output_padding, const py::object& groups,
           const py::object& s) {
          const char* op = "conv_transpose3d";
          return conv_transpose3d(to_array(in), to_array(w), fixed_ints<3>(stride, op, "stride"),
                                  fixed_ints<3>(padding, op, "padding"), fixed_ints<3>(dilation, op, "dilation"),
                                  fixed_ints<3>(output_padding, op, "output_padding"),
                                  int_arg(groups, op, "groups"), sd(s));
        },
        "3D transposed convolution; weight (C_out, KD, KH, KW, C_in / groups).", "input"_a, "weight"_a,
        py::pos_only(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "output_padding"_a = 0,
        "groups"_a = 1, py::kw_only(), "stream"_a = none);
  m.def("convolve",
        [](const py::object& a, const py::object& v, const std::string& mode, const py::object& s) {
          return convolve(to_array(a), to_array(v), mode, sd(s));
        },
        "The discrete linear convolution of two 1-D arrays (as numpy.convolve).", "a"_a, "v"_a,
        py::pos_only(), "mode"_a = "full", py::kw_only(), "stream"_a = none);
}
