// The Python array class: construction, metadata, conversion, printing, operators.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "fast_array.h"

// Printing is the engine's (shared with C++'s operator<<), with Python's True/False.
std::string array_repr(array& a) { return array_to_string(a, true); }

// ---------- tolist / item

namespace {

py::object elem_to_py(const array& a, int64_t off) {
  const char* base = static_cast<const char*>(a.raw_ptr());
  return dispatch_all(a.dtype(), [&](auto t) -> py::object {
    using T = typename decltype(t)::type;
    T v = *reinterpret_cast<const T*>(base + off * sizeof(T));
    if constexpr (std::is_same_v<T, bool>) return py::bool_(v);
    else if constexpr (is_complex_v<T>) return py::cast(std::complex<double>(v.real(), v.imag()));
    else if constexpr (std::is_integral_v<T>) return py::int_(v);
    else return py::float_(static_cast<double>(static_cast<compute_t<T>>(v)));
  });
}

py::object tolist_dim(const array& a, int dim, int64_t off) {
  if (dim == a.ndim()) return elem_to_py(a, off);
  py::list l;
  for (int i = 0; i < a.shape()[dim]; ++i) l.append(tolist_dim(a, dim + 1, off + i * a.strides()[dim]));
  return l;
}

}  // namespace

py::object array_tolist(array& a) {
  {
    py::gil_scoped_release nogil;
    a.eval();
  }
  return tolist_dim(a, 0, 0);
}

static void eval_nogil(array& a) {
  py::gil_scoped_release nogil;
  a.eval();
}

static py::object item(array& a) {
  if (a.size() != 1)
    throw py::value_error("[item] Only arrays with one element can be converted to a Python scalar.");
  eval_nogil(a);
  return elem_to_py(a, 0);
}

// ---------- operands of the operators

namespace {

PyTypeObject* g_array_type = nullptr;
const py::detail::type_info* g_array_info = nullptr;

}  // namespace

void init_fast_array(py::handle cls) {
  g_array_type = reinterpret_cast<PyTypeObject*>(cls.ptr());
  g_array_info = py::detail::get_type_info(typeid(array));
}

// A type comparison and a pointer read, where a general cast would first look the class up.
const array* array_in(py::handle h) {
  if (Py_TYPE(h.ptr()) != g_array_type) return nullptr;
  auto* inst = reinterpret_cast<py::detail::instance*>(h.ptr());
  auto vh = inst->get_value_and_holder(g_array_info, false);
  return vh && vh.holder_constructed() ? vh.template value_ptr<array>() : nullptr;
}

const array& array_of(py::handle h) {
  if (const array* a = array_in(h)) return *a;
  if (!py::isinstance<array>(h))
    throw py::type_error("Expected an array, got " +
                         std::string(py::str(py::type::handle_of(h).attr("__name__"))) + ".");
  return py::cast<const array&>(h);
}

py::object wrap(array a) {
  auto move = [](const void* p) -> void* {
    return new array(std::move(*const_cast<array*>(static_cast<const array*>(p))));
  };
  auto copy = [](const void* p) -> void* { return new array(*static_cast<const array*>(p)); };
  return py::reinterpret_steal<py::object>(py::detail::type_caster_generic::cast(
      &a, py::return_value_policy::move, py::handle(), g_array_info, copy, move));
}

namespace {

// The other operand of a binary operator on `a`: an array as it is, a Python scalar weakly typed
// against `a`, anything else converted as mx.array would.
array operand(const array& a, py::handle b) {
  if (const array* x = array_in(b)) return *x;
  if (is_py_scalar(b) || is_numpy_operand(b)) return to_array_like(b, a);
  return to_array(b);
}

}  // namespace

// ---------- class definition

static void check_bitwise_operands(const array& x, const array& y, const char* what) {
  if (is_inexact(x.dtype()) || is_inexact(y.dtype()))
    throw py::value_error(std::string("Floating point types not allowed with ") + what + ".");
}

void init_array(py::module_& m) {
  py::class_<DtypeObj>(m, "Dtype")
      .def_property_readonly("size", [](const DtypeObj& d) { return size_of(d.d); })
      .def("__repr__", [](const DtypeObj& d) { return std::string("ember.core.") + dtype_name(d.d); })
      .def("__eq__", [](const DtypeObj& a, py::object b) {
        return py::isinstance<DtypeObj>(b) && b.cast<DtypeObj>().d == a.d;
      })
      .def("__hash__", [](const DtypeObj& d) { return (int)d.d; })
      .def("__reduce__", [](const DtypeObj& d) {
        std::string n = dtype_name(d.d);
        if (n == "bool") n = "bool_";
        return py::make_tuple(py::module_::import("ember.core").attr("_dtype_from_name"),
                              py::make_tuple(n));
      });
  const char* names[] = {"bool_", "uint8", "uint16", "uint32", "uint64", "int8", "int16",
                         "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"};
  for (int i = 0; i < kNumDtypes; ++i) m.attr(names[i]) = DtypeObj{(Dtype)i};
  m.def("_dtype_from_name", [](const std::string& n) { return as_dtype(py::str(n)); });

  py::class_<array> cls(m, "array", py::buffer_protocol());
  cls.def(py::init([](py::object val, std::optional<Dtype> dtype) {
            array a = to_array(val, dtype);
            return a;
          }),
          py::arg("val"), py::arg("dtype") = py::none())
      .def_property_readonly("shape", [](const array& a) {
        py::tuple t(a.ndim());
        for (int i = 0; i < a.ndim(); ++i) t[i] = a.shape()[i];
        return t;
      })
      .def_property_readonly("dtype", [](const array& a) { return a.dtype(); })
      .def_property_readonly("size", &array::size)
      .def_property_readonly("ndim", &array::ndim)
      .def_property_readonly("itemsize", &array::itemsize)
      .def_property_readonly("nbytes", &array::nbytes)
      .def_property_readonly("T", [](const array& a) { return transpose(a); })
      .def("item", &item)
      .def("tolist", &array_tolist)
      .def("__repr__", &array_repr)
      .def("__format__", [](py::object self, const std::string& spec) -> py::object {
        // A 0-d array formats as its Python scalar (f"{loss:.3f}"); a larger one only with an
        // empty spec, as its repr.
        array& a = py::cast<array&>(self);
        if (a.ndim() == 0) return py::module_::import("builtins").attr("format")(item(a), spec);
        if (!spec.empty())
          throw py::type_error("unsupported format string passed to ember.core.array.__format__");
        return py::str(self);
      })
      .def("__len__", [](const array& a) {
        if (a.ndim() == 0) throw py::type_error("len() 0-dimensional array.");
        return a.shape()[0];
      })
      .def("__bool__", [](array& a) {
        if (a.size() != 1)
          throw py::value_error("The truth value of an array with more than one element is ambiguous.");
        eval_nogil(a);
        return PyObject_IsTrue(elem_to_py(a, 0).ptr()) == 1;
      })
      .def("__int__", [](array& a) { return py::int_(item(a)); })
      .def("__float__", [](array& a) { return py::float_(item(a)); })
      .def("__index__", [](array& a) {
        if (!is_integral(a.dtype())) throw py::type_error("Only integer arrays can be used as an index.");
        return item(a).cast<int64_t>();
      })
      .def("__hash__", [](const array& a) { return (intptr_t)a.id(); })
      .def("__copy__", [](const array& a) { return copy(a); })
      .def("__deepcopy__", [](const array& a, py::object) { return copy(a); })
      .def(py::pickle(
          [](array& a) {
            // the shape too: a list loses the trailing axes of an empty array
            return py::make_tuple(array_tolist(a), a.dtype(), py::tuple(py::cast(a.shape())));
          },
          [](py::tuple st) {
            array a = to_array(st[0], as_dtype(st[1]));
            if (st.size() > 2) a = reshape(a, st[2].cast<Shape>());
            return a;
          }))
      .def("__array__", [](py::object self, const py::object& dtype, const py::object&) {
        array& a = py::cast<array&>(self);
        if (a.dtype() == bfloat16)
          throw py::type_error("bfloat16 arrays cannot be converted to NumPy.");
        // Evaluate first, then read through the buffer protocol: numpy swallows an error from
        // the buffer and would call back here (a traced array inside compile, or a failing
        // evaluation, recursed until the stack ran out).
        eval_nogil(a);
        return py::module_::import("numpy").attr("array")(py::memoryview(self), dtype);
      }, py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      .def_buffer([](array& a) -> py::buffer_info {
        eval_nogil(a);
        std::vector<py::ssize_t> shape(a.shape().begin(), a.shape().end()), strides;
        for (auto s : a.strides()) strides.push_back(s * (py::ssize_t)a.itemsize());
        std::string fmt;
        switch (a.dtype()) {
          case Dtype::Bool: fmt = "?"; break;
          case Dtype::UInt8: fmt = "B"; break;
          case Dtype::UInt16: fmt = "H"; break;
          case Dtype::BFloat16: fmt = "bfloat16"; break;  // no PEP 3118 code: numpy refuses it
          case Dtype::UInt32: fmt = "I"; break;
          case Dtype::UInt64: fmt = "Q"; break;
          case Dtype::Int8: fmt = "b"; break;
          case Dtype::Int16: fmt = "h"; break;
          case Dtype::Int32: fmt = "i"; break;
          case Dtype::Int64: fmt = "q"; break;
          case Dtype::Float16: fmt = "e"; break;
          case Dtype::Float32: fmt = "f"; break;
          case Dtype::Float64: fmt = "d"; break;
          case Dtype::Complex64: fmt = "Zf"; break;
        }
        return py::buffer_info(a.raw_ptr(), (py::ssize_t)a.itemsize(), fmt, a.ndim(), shape, strides);
      });

  // Arithmetic operators with weakly typed Python scalars.
#define EMBER_OP(PYNAME, RNAME, FN)                                                 \
  cls.def(PYNAME, [](py::handle self, py::handle b) {                               \
    const array& a = array_of(self);                                                \
    return wrap(FN(a, operand(a, b)));                                              \
  });                                                                               \
  cls.def(RNAME, [](py::handle self, py::handle b) {                                \
    const array& a = array_of(self);                                                \
    return wrap(FN(operand(a, b), a));                                              \
  });
  EMBER_OP("__add__", "__radd__", add)
  EMBER_OP("__sub__", "__rsub__", subtract)
  EMBER_OP("__mul__", "__rmul__", multiply)
  EMBER_OP("__truediv__", "__rtruediv__", divide)
  EMBER_OP("__floordiv__", "__rfloordiv__", floor_divide)
  EMBER_OP("__mod__", "__rmod__", remainder)
  EMBER_OP("__pow__", "__rpow__", power)
  EMBER_OP("__matmul__", "__rmatmul__", matmul)
#undef EMBER_OP
  // Bitwise operators refuse inexact operands with a ValueError (as MLX), before the op.
#define EMBER_BITOP(PYNAME, RNAME, FN, WHAT)                                        \
  cls.def(PYNAME, [](const array& a, py::object b) {                                \
    auto [x, y] = to_arrays(py::cast(a), b);                                        \
    check_bitwise_operands(x, y, WHAT);                                             \
    return FN(x, y);                                                                \
  });                                                                               \
  cls.def(RNAME, [](const array& a, py::object b) {                                 \
    auto [y, x] = to_arrays(b, py::cast(a));                                        \
    check_bitwise_operands(x, y, WHAT);                                             \
    return FN(y, x);                                                                \
  });
  EMBER_BITOP("__and__", "__rand__", bitwise_and, "bitwise and")
  EMBER_BITOP("__or__", "__ror__", bitwise_or, "bitwise or")
  EMBER_BITOP("__xor__", "__rxor__", bitwise_xor, "bitwise xor")
  EMBER_BITOP("__lshift__", "__rlshift__", left_shift, "left shift")
  EMBER_BITOP("__rshift__", "__rrshift__", right_shift, "right shift")
#undef EMBER_BITOP
  // In-place operators rebind the array the Python object holds (every name bound to the object
  // sees the result, whose dtype and shape may differ), as MLX does.
  auto inplace_operand = [](const array& a, py::handle b, const char* what) {
    if (b.is_none())
      throw py::type_error(std::string("Unsupported operand for inplace ") + what + ": None.");
    if (!array_in(b) && !is_py_scalar(b) && !py::isinstance<array>(b) && !is_numpy_operand(b))
      throw py::value_error(std::string("Cannot perform inplace ") + what +
                            " on an ember.core.array and " +
                            std::string(py::str(py::type::handle_of(b).attr("__name__"))));
    return operand(a, b);
  };
#define EMBER_IOP(PYNAME, FN, WHAT, CHECK)                                          \
  cls.def(PYNAME, [inplace_operand](py::object self, py::handle b) -> py::object {  \
    array& a = py::cast<array&>(self);                                              \
    array y = inplace_operand(a, b, WHAT);                                          \
    CHECK;                                                                          \
    a = FN(a, y);                                                                   \
    return self;                                                                    \
  });
  EMBER_IOP("__iadd__", add, "addition", (void)0)
  EMBER_IOP("__isub__", subtract, "subtraction", (void)0)
  EMBER_IOP("__imul__", multiply, "multiplication", (void)0)
  EMBER_IOP("__itruediv__", divide, "division",
            if (!is_inexact(a.dtype())) throw py::value_error(
                "In place division cannot cast to non-floating point type."))
  EMBER_IOP("__ifloordiv__", floor_divide, "floor division", (void)0)
  EMBER_IOP("__imod__", remainder, "modulus", (void)0)
  EMBER_IOP("__ipow__", power, "power", (void)0)
  EMBER_IOP("__imatmul__", matmul, "matmul", (void)0)
  EMBER_IOP("__iand__", bitwise_and, "bitwise and", check_bitwise_operands(a, y, "bitwise and"))
  EMBER_IOP("__ior__", bitwise_or, "bitwise or", check_bitwise_operands(a, y, "bitwise or"))
  EMBER_IOP("__ixor__", bitwise_xor, "bitwise xor", check_bitwise_operands(a, y, "bitwise xor"))
  EMBER_IOP("__ilshift__", left_shift, "left shift", check_bitwise_operands(a, y, "left shift"))
  EMBER_IOP("__irshift__", right_shift, "right shift", check_bitwise_operands(a, y, "right shift"))
#undef EMBER_IOP
  cls.def("__div__", [](py::handle self, py::handle b) {
       const array& a = array_of(self);
       return wrap(divide(a, operand(a, b)));
     })
      .def("__rdiv__", [](py::handle self, py::handle b) {
        const array& a = array_of(self);
        return wrap(divide(operand(a, b), a));
      })
      .def("__complex__", [](array& a) { return py::module_::import("builtins").attr("complex")(item(a)); })
      .def("__bytes__", [](py::object self) {
        return py::module_::import("builtins").attr("bytes")(py::memoryview(self));
      })
      .def("__array_namespace__", [](py::object, py::object) { return py::module_::import("ember.core"); },
           py::arg("api_version") = py::none());
#define EMBER_CMP(PYNAME, FN)                                                       \
  cls.def(PYNAME, [](py::handle self, py::handle b) -> py::object {                 \
    const array& a = array_of(self);                                                \
    if (!array_in(b) && !is_py_scalar(b) && !py::isinstance<array>(b) &&            \
        !is_numpy_operand(b) && !PyList_Check(b.ptr()) && !PyTuple_Check(b.ptr())) \
      return py::reinterpret_borrow<py::object>(Py_NotImplemented);                 \
    return wrap(FN(a, operand(a, b)));                                              \
  });
  EMBER_CMP("__eq__", equal)
  EMBER_CMP("__ne__", not_equal)
  EMBER_CMP("__lt__", less)
  EMBER_CMP("__le__", less_equal)
  EMBER_CMP("__gt__", greater)
  EMBER_CMP("__ge__", greater_equal)
#undef EMBER_CMP
  cls.def("__neg__", [](const array& a) { return negative(a); })
      .def("__pos__", [](const array& a) { return a; })
      .def("__abs__", [](const array& a) { return abs(a); })
      .def("__invert__", [](const array& a) {
        check_bitwise_operands(a, a, "bitwise inversion");
        return a.dtype() == bool_ ? logical_not(a) : bitwise_invert(a);
      });

  init_fast_array(cls);
  init_indexing(cls);
}
