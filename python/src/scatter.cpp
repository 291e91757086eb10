// array.at[...] (ArrayAt) and slices at positions held in arrays (slice, slice_update).
#include "fast_array.h"
#include "scatter.h"

namespace {

using namespace pybind11::literals;
using Kind = Scatter::Kind;

// `x.at` and `x.at[index]`: the update methods return a new array, the index's positions
// combined with the value (repeated positions accumulate).
struct ArrayAt {
  array a;
  py::object index;  // None until indexed
};

array at_update(const ArrayAt& self, const py::object& value, Kind kind, const char* op) {
  if (self.index.is_none())
    throw py::value_error("Must give indices to array.at (e.g. `x.at[0].add(4)`).");
  array v = astype(to_array_like(value, self.a), self.a.dtype());
  if (std::string(op) == "subtract") {
    v = negative(v);
  } else if (std::string(op) == "divide") {
    // Dividing is multiplying by the reciprocal, taken in the array's dtype.
    v = astype(divide(array(1.0f), v), self.a.dtype());
  }
  return index_update(self.a, self.index, v, kind);
}

std::vector<int> int_list(const py::object& o, const char* op) {
  std::vector<int> out;
  if (PyLong_Check(o.ptr())) {
    out.push_back(o.cast<int>());
    return out;
  }
  for (auto v : o.cast<py::sequence>()) out.push_back(to_dim(v, op));
  return out;
}

array start_array(const py::object& o) {
  if (const array* x = array_in(o)) return *x;
  return to_array(o);
}

}  // namespace

void init_scatter(py::module_& m) {
  py::object none = py::none();
  py::class_<ArrayAt>(m, "ArrayAt",
                      "A helper object to apply updates at specific indices (``x.at[idx].add(y)``).")
      .def("__getitem__", [](const ArrayAt& self, py::object index) { return ArrayAt{self.a, index}; })
#define EMBER_AT(NAME, KIND)                                                                  \
  .def(NAME, [](const ArrayAt& self, const py::object& value) {                              \
    return at_update(self, value, KIND, NAME);                                               \
  }, "value"_a)
      EMBER_AT("add", Kind::Sum)
      EMBER_AT("subtract", Kind::Sum)
      EMBER_AT("multiply", Kind::Prod)
      EMBER_AT("divide", Kind::Prod)
      EMBER_AT("maximum", Kind::Max)
      EMBER_AT("minimum", Kind::Min);
#undef EMBER_AT

  auto cls = py::reinterpret_borrow<py::class_<array>>(m.attr("array"));
  cls.def_property_readonly("at", [](const array& a) { return ArrayAt{a, py::none()}; },
                            "Used to apply updates at the given indices.");

  m.def("slice", [](const py::object& a, const py::object& start, const py::object& axes,
                    const py::object& slice_size, const py::object& s) {
    return dynamic_slice(to_array(a), start_array(start), int_list(axes, "slice"),
                         to_shape(slice_size, "slice"), to_stream_or_device(s));
  }, "a"_a, "start_indices"_a, "axes"_a, "slice_size"_a, py::kw_only(), "stream"_a = none,
     "Extract a block of ``a`` of size ``slice_size`` starting at ``start_indices`` along ``axes``.");

  m.def("slice_update", [](const py::object& a, const py::object& update, const py::object& start,
                           const py::object& axes, const py::object& s) {
    array x = to_array(a);
    return dynamic_slice_update(x, to_array_like(update, x), start_array(start),
                                int_list(axes, "slice_update"), to_stream_or_device(s));
  }, "a"_a, "update"_a, "start_indices"_a, "axes"_a, py::kw_only(), "stream"_a = none,
     "Update the block of ``a`` starting at ``start_indices`` along ``axes`` with ``update``.");
}
