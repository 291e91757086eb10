// Bindings of the contraction and diagonal family: einsum, einsum_path, tensordot, vecdot,
// matrix_transpose, kron, diag, diagonal, trace, meshgrid, and the array's diag, diagonal
// and mT.
#include "utils.h"

using namespace pybind11::literals;

namespace {

inline StreamOrDevice sd(const py::object& s) { return to_stream_or_device(s); }

std::vector<array> operand_list(const py::args& args) {
  std::vector<array> out;
  for (auto o : args) out.push_back(to_array(o));
  return out;
}

std::string subscripts_of(const py::handle& h, const char* op) {
  if (!py::isinstance<py::str>(h))
    throw py::type_error(std::string("[") + op + "] subscripts must be a string, got " +
                         std::string(py::str(py::type::handle_of(h).attr("__name__"))) + ".");
  return h.cast<std::string>();
}

// One list of axes: an int or a sequence of ints.
std::vector<int> axis_list(const py::handle& h) {
  if (PyIndex_Check(h.ptr())) return {h.cast<int>()};
  return h.cast<std::vector<int>>();
}

array tensordot_py(const py::object& a, const py::object& b, const py::object& axes,
                   const py::object& s) {
  auto [x, y] = to_arrays(a, b);
  if (PyIndex_Check(axes.ptr())) {
    int n = axes.cast<int>();
    if (n < 0) throw py::value_error("[tensordot] axis must be greater or equal to 0.");
    if (n > x.ndim() || n > y.ndim())
      throw py::value_error("[tensordot] axis must be less than the number of dimensions of a and b.");
    std::vector<int> ax, bx;
    for (int i = 0; i < n; ++i) ax.push_back(x.ndim() - n + i), bx.push_back(i);
    return tensordot(x, y, ax, bx, sd(s));
  }
  if (!py::isinstance<py::sequence>(axes) || py::isinstance<py::str>(axes) || py::len(axes) != 2)
    throw py::value_error("[tensordot] axes must be a list of two lists.");
  auto pair = axes.cast<py::sequence>();
  return tensordot(x, y, axis_list(pair[0]), axis_list(pair[1]), sd(s));
}

array diag_py(const py::object& a, int k, const py::object& s) { return diag(to_array(a), k, sd(s)); }
array diagonal_py(const py::object& a, int offset, int axis1, int axis2, const py::object& s) {
  return diagonal(to_array(a), offset, axis1, axis2, sd(s));
}

}  // namespace

void init_einsum(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<array>>(m.attr("array"));
  auto none = py::none();

  {
    // Variadic operands: the signature line is written out, as pybind11 names them *args.
    py::options opts;
    opts.disable_function_signatures();
    m.def("einsum", [](const py::object& subscripts, const py::args& operands, const py::object& s) {
      return einsum(subscripts_of(subscripts, "einsum"), operand_list(operands), sd(s));
    }, "subscripts"_a, py::kw_only(), "stream"_a = none,
        "einsum(subscripts: str, *operands, stream: StreamOrDevice = None) -> array\n\n"
        "Perform the Einstein summation convention on the operands.\n\n"
        "Contractions run in the order einsum_path reports, each as a matmul.");
    m.def("einsum_path", [](const py::object& subscripts, const py::args& operands) {
      EinsumPath p = einsum_path(subscripts_of(subscripts, "einsum_path"), operand_list(operands));
      py::list path;
      for (auto& step : p.path) {
        py::tuple t(step.size());
        for (size_t i = 0; i < step.size(); ++i) t[i] = step[i];
        path.append(t);
      }
      return py::make_tuple(path, p.info);
    }, "subscripts"_a,
        "einsum_path(subscripts: str, *operands)\n\n"
        "Compute the contraction order for the given Einstein summation.\n\n"
        "Returns (path, info): the list of operand positions contracted at each step, and a\n"
        "string reporting the naive and optimized scaling and FLOP counts.");
    m.def("meshgrid", [](const py::args& arrays, bool sparse, const std::string& indexing,
                         const py::object& s) {
      auto out = meshgrid(operand_list(arrays), sparse, indexing, sd(s));
      py::tuple t(out.size());
      for (size_t i = 0; i < out.size(); ++i) t[i] = py::cast(out[i]);
      return t;
    }, "sparse"_a = false, "indexing"_a = "xy", "stream"_a = none,
        "meshgrid(*arrays: array, sparse: bool | None = False, indexing: str | None = 'xy', "
        "stream: StreamOrDevice = None) -> tuple[array, ...]\n\n"
        "Coordinate grids from 1-D arrays (others are flattened): 'xy' indexing swaps the first\n"
        "two output axes, 'ij' keeps them; sparse=True returns broadcastable arrays.");
  }

  m.def("tensordot", &tensordot_py, "Tensor dot product over the last/first `axes` axes or two axis lists.",
        "a"_a, "b"_a, py::pos_only(), "axes"_a = 2, py::kw_only(), "stream"_a = none);
  m.def("vecdot", [](const py::object& a, const py::object& b, int axis, const py::object& s) {
    auto [x, y] = to_arrays(a, b);
    return vecdot(x, y, axis, sd(s));
  }, "Vector dot product sum(conj(a) * b) along an axis.", "a"_a, "b"_a, py::pos_only(),
        py::kw_only(), "axis"_a = -1, "stream"_a = none);
  m.def("matrix_transpose", [](const py::object& a, const py::object& s) {
    return matrix_transpose(to_array(a), sd(s));
  }, "Swap the last two axes.", "a"_a, py::pos_only(), py::kw_only(), "stream"_a = none);
  m.def("kron", [](const py::object& a, const py::object& b, const py::object& s) {
    auto [x, y] = to_arrays(a, b);
    return kron(x, y, sd(s));
  }, "Kronecker product of a and b.", "a"_a, "b"_a, py::kw_only(), "stream"_a = none);
  m.def("diag", &diag_py, "Extract a diagonal (2-D input) or construct a diagonal matrix (1-D input).",
        "a"_a, py::pos_only(), "k"_a = 0, py::kw_only(), "stream"_a = none);
  m.def("diagonal", &diagonal_py, "The diagonal `offset` of the planes of axis1 and axis2, as the last axis.",
        "a"_a, "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1, "stream"_a = none);
  m.def("trace", [](const py::object& a, int offset, int axis1, int axis2, const py::object& dtype,
                    const py::object& s) {
    std::optional<Dtype> d;
    if (!dtype.is_none()) d = as_dtype(dtype);
    return trace(to_array(a), offset, axis1, axis2, d, sd(s));
  }, "Sum along a diagonal.", "a"_a, py::pos_only(), "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1,
        "dtype"_a = none, py::kw_only(), "stream"_a = none);

  cls.def("diag", [](const array& a, int k, const py::object& s) { return diag(a, k, sd(s)); },
          "Extract a diagonal or construct a diagonal matrix.", "k"_a = 0, py::kw_only(),
          "stream"_a = none);
  cls.def("diagonal", [](const array& a, int offset, int axis1, int axis2, const py::object& s) {
    return diagonal(a, offset, axis1, axis2, sd(s));
  }, "See :func:`diagonal`.", "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1, "stream"_a = none);
  cls.def_property_readonly("mT", [](const array& a) { return matrix_transpose(a); });
}
