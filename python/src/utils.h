// Conversions between Python objects and engine types, shared by the bindings.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <variant>

#include "ember/ember.h"

namespace py = pybind11;
using namespace ember;

// The Python-visible dtype object.
struct DtypeObj {
  Dtype d;
};

namespace pybind11::detail {
template <>
struct type_caster<ember::Dtype> {
  PYBIND11_TYPE_CASTER(ember::Dtype, const_name("Dtype"));
  bool load(handle src, bool);
  static handle cast(ember::Dtype d, return_value_policy, handle) {
    return pybind11::cast(DtypeObj{d}).release();
  }
};
}  // namespace pybind11::detail

// Any array-like Python object -> array (scalars, nested lists, numpy, arrays).
array to_array(py::handle obj, std::optional<Dtype> dtype = std::nullopt);
// A Python scalar meeting an array takes the array's dtype where its kind allows.
array to_array_like(py::handle obj, const array& other);
// Two operands of a binary op, with Python scalars weakly typed.
std::pair<array, array> to_arrays(py::handle a, py::handle b);
bool is_py_scalar(py::handle obj);
bool is_numpy_operand(py::handle obj);  // a numpy scalar or ndarray (weak against an array)

// None, an int, or a sequence of ints.
std::optional<std::vector<int>> to_axes(const py::object& axis);
// The axes `axis` names, or every axis of `a` when it is None.
std::vector<int> axes_or_all(const py::object& axis, const array& a);
// A shape: an int or a sequence of ints (numpy integers too). An entry outside 32 bits is
// an OverflowError and a non-integer a TypeError, both naming `op`.
Shape to_shape(py::handle obj, const char* op = "shape");
// One dimension (a size, a count of samples or repetitions) under the same rules.
int32_t to_dim(py::handle obj, const char* op);

// stream= argument: None, a Device or a Stream.
StreamOrDevice to_stream_or_device(const py::object& s);

Dtype dtype_from_numpy(const py::dtype& dt);
// A Dtype, a dtype name ("float32") or a numpy dtype; TypeError otherwise.
Dtype as_dtype(const py::handle& obj);
py::dtype numpy_dtype(Dtype t);

// Binding helpers for the several areas.
void init_array(py::module_& m);
void init_ops(py::module_& m);
void init_device(py::module_& m);
void init_random(py::module_& m);
void init_transforms(py::module_& m);
void init_compile(py::module_& m);
void init_io(py::module_& m);
void init_dlpack(py::module_& m);
void init_sort(py::module_& m);
void init_einsum(py::module_& m);
void init_fast(py::module_& m);
void init_conv(py::module_& m);
void init_indexing(py::class_<array>& cls);
void init_misc(py::module_& m);
void init_dtypes(py::module_& m);
void init_scatter(py::module_& m);
py::object array_tolist(array& a);
std::string array_repr(array& a);
void init_quantized(py::module_& m);
void init_fft(py::module_& m);
void init_info(py::module_& m);
void init_export(py::module_& m);
