// Bindings of the sorting and selection ops.
#include "utils.h"

using namespace pybind11::literals;

namespace {

inline StreamOrDevice sd(const py::object& s) { return to_stream_or_device(s); }
inline array A(const py::object& o) { return to_array(o); }

// None (the flattened array) or one integer axis.
std::optional<int> one_axis(const py::object& axis, const char* op) {
  if (axis.is_none()) return std::nullopt;
  if (!PyIndex_Check(axis.ptr()) || PyFloat_Check(axis.ptr()))
    throw py::type_error(std::string("[") + op + "] Expected an integer axis or None; got " +
                         std::string(py::str(py::type::handle_of(axis).attr("__name__"))) + ".");
  return axis.cast<int>();
}

const array& require_array(const py::object& o, const char* op, const char* what) {
  if (!py::isinstance<array>(o))
    throw py::type_error(std::string("[") + op + "] " + what + " must be an array; got " +
                         std::string(py::str(py::type::handle_of(o).attr("__name__"))) + ".");
  return o.cast<const array&>();
}

}  // namespace

void init_sort(py::module_& m) {
  auto none = py::none();

  m.def("sort", [](const py::object& a, const py::object& axis, const py::object& s) {
    array x = A(a);
    auto ax = one_axis(axis, "sort");
    return ax ? sort(x, *ax, sd(s)) : sort(x, sd(s));
  }, "a"_a, py::pos_only(), "axis"_a = -1, py::kw_only(), "stream"_a = none,
  "Returns a sorted copy of the array (stable; NaN last).");
  m.def("argsort", [](const py::object& a, const py::object& axis, const py::object& s) {
    array x = A(a);
    auto ax = one_axis(axis, "argsort");
    return ax ? argsort(x, *ax, sd(s)) : argsort(x, sd(s));
  }, "a"_a, py::pos_only(), "axis"_a = -1, py::kw_only(), "stream"_a = none,
  "Returns the uint32 indices that sort the array (stable; NaN last).");
  m.def("partition", [](const py::object& a, int kth, const py::object& axis, const py::object& s) {
    array x = A(a);
    auto ax = one_axis(axis, "partition");
    return ax ? partition(x, kth, *ax, sd(s)) : partition(x, kth, sd(s));
  }, "a"_a, py::pos_only(), "kth"_a, "axis"_a = -1, py::kw_only(), "stream"_a = none,
  "Returns a copy with the element of sorted rank kth in place, smaller or equal ones before "
  "it and greater or equal ones after it.");
  m.def("argpartition", [](const py::object& a, int kth, const py::object& axis, const py::object& s) {
    array x = A(a);
    auto ax = one_axis(axis, "argpartition");
    return ax ? argpartition(x, kth, *ax, sd(s)) : argpartition(x, kth, sd(s));
  }, "a"_a, py::pos_only(), "kth"_a, "axis"_a = -1, py::kw_only(), "stream"_a = none,
  "Returns the uint32 indices that partition the array.");
  m.def("topk", [](const py::object& a, int k, const py::object& axis, const py::object& s) {
    array x = A(a);
    auto ax = one_axis(axis, "topk");
    return ax ? topk(x, k, *ax, sd(s)) : topk(x, k, sd(s));
  }, "a"_a, py::pos_only(), "k"_a, "axis"_a = -1, py::kw_only(), "stream"_a = none,
  "Returns the k largest elements along the axis (largest first).");
  m.def("searchsorted", [](const py::object& seq, const py::object& values, const std::string& side,
                           const py::object& s) {
    const array& q = require_array(seq, "searchsorted", "sorted_sequence");
    const array& v = require_array(values, "searchsorted", "values");
    return searchsorted(q, v, side, sd(s));
  }, "sorted_sequence"_a, "values"_a, py::pos_only(), "side"_a = "left", py::kw_only(),
  "stream"_a = none,
  "Find the indices that keep sorted_sequence sorted when inserting values.");
  m.def("unique", [](const py::object& a, int size, bool return_index, bool return_inverse,
                     bool return_counts, const py::object& fill_value, const py::object& s) -> py::object {
    array x = A(a);
    std::optional<array> fill;
    if (!fill_value.is_none()) fill = to_array_like(fill_value, x);
    auto r = unique(x, size, return_index, return_inverse, return_counts, fill, sd(s));
    if (r.size() == 1) return py::cast(r[0]);
    py::tuple t(r.size());
    for (size_t i = 0; i < r.size(); ++i) t[i] = py::cast(r[i]);
    return std::move(t);
  }, "a"_a, py::pos_only(), "size"_a, "return_index"_a = false, "return_inverse"_a = false,
  "return_counts"_a = false, "fill_value"_a = none, py::kw_only(), "stream"_a = none,
  "Returns the sorted unique elements of the flattened array, padded or truncated to size.");
  m.def("median", [](const py::object& a, const py::object& axis, bool keepdims, const py::object& s) {
    array x = A(a);
    return median(x, axes_or_all(axis, x), keepdims, sd(s));
  }, "a"_a, py::pos_only(), "axis"_a = none, "keepdims"_a = false, py::kw_only(), "stream"_a = none,
  "Compute the median(s) over the given axes.");
  m.def("count_nonzero", [](const py::object& a, const py::object& axis, bool keepdims,
                            const py::object& s) {
    array x = A(a);
    return count_nonzero(x, axes_or_all(axis, x), keepdims, sd(s));
  }, "a"_a, py::pos_only(), py::kw_only(), "axis"_a = none, "keepdims"_a = false, "stream"_a = none,
  "Count the number of non-zero elements along the given axes (int32).");
  m.def("minmax", [](const py::object& a, const py::object& axis, bool keepdims, const py::object& s) {
    array x = A(a);
    auto r = minmax(x, axes_or_all(axis, x), keepdims, sd(s));
    return py::make_tuple(r.first, r.second);
  }, "a"_a, py::pos_only(), "axis"_a = none, "keepdims"_a = false, py::kw_only(), "stream"_a = none,
  "Return the minimum and maximum over the given axes.");
}
