#include <complex>
#include <limits>

#include "ember/allocator.h"
#include "utils.h"

bool pybind11::detail::type_caster<ember::Dtype>::load(handle src, bool) {
  if (pybind11::isinstance<DtypeObj>(src)) {
    value = pybind11::cast<DtypeObj>(src).d;
    return true;
  }
  if (src.is_none()) return false;
  try {
    value = as_dtype(src);
    return true;
  } catch (const py::type_error&) {
    return false;
  }
}

Dtype as_dtype(const py::handle& obj) {
  if (py::isinstance<DtypeObj>(obj)) return obj.cast<DtypeObj>().d;
  if (py::isinstance<py::str>(obj)) {
    std::string n = obj.cast<std::string>();
    if (n == "bool_") n = "bool";
    for (int i = 0; i < kNumDtypes; ++i)
      if (n == dtype_name((Dtype)i)) return (Dtype)i;
    throw py::type_error("[dtype] Unknown dtype name '" + n + "'.");
  }
  if (py::isinstance<py::dtype>(obj)) return dtype_from_numpy(obj.cast<py::dtype>());
  if (obj.ptr() == (PyObject*)&PyFloat_Type) return float32;
  if (obj.ptr() == (PyObject*)&PyLong_Type) return int32;
  if (obj.ptr() == (PyObject*)&PyBool_Type) return bool_;
  if (obj.ptr() == (PyObject*)&PyComplex_Type) return complex64;
  throw py::type_error("[dtype] Expected a dtype such as ember.core.float32, got " +
                       std::string(py::str(py::type::handle_of(obj))) + ".");
}

namespace {

const Dtype kNpMap[] = {bool_, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
                        float16, bfloat16, float32, float64, complex64};

}  // namespace

Dtype dtype_from_numpy(const py::dtype& dt) {
  char k = dt.kind();
  int sz = (int)dt.itemsize();
  switch (k) {
    case 'b': return bool_;
    case 'u': return sz == 1 ? uint8 : sz == 2 ? uint16 : sz == 4 ? uint32 : uint64;
    case 'i': return sz == 1 ? int8 : sz == 2 ? int16 : sz == 4 ? int32 : int64;
    case 'f':
      if (sz == 2) return float16;
      if (sz == 4) return float32;
      if (sz == 8) return float64;
      break;
    case 'c':
      if (sz == 8 || sz == 16) return complex64;
      break;
    case 'V':
      if (sz == 2) return bfloat16;  // ml_dtypes-style bfloat16
      break;
  }
  throw py::type_error("[array] Unsupported numpy dtype " + std::string(py::str(dt)) + ".");
}

py::dtype numpy_dtype(Dtype t) {
  switch (t) {
    case Dtype::Bool: return py::dtype("bool");
    case Dtype::UInt8: return py::dtype("uint8");
    case Dtype::UInt16: return py::dtype("uint16");
    case Dtype::UInt32: return py::dtype("uint32");
    case Dtype::UInt64: return py::dtype("uint64");
    case Dtype::Int8: return py::dtype("int8");
    case Dtype::Int16: return py::dtype("int16");
    case Dtype::Int32: return py::dtype("int32");
    case Dtype::Int64: return py::dtype("int64");
    case Dtype::Float16: return py::dtype("float16");
    case Dtype::BFloat16: return py::dtype("uint16");
    case Dtype::Float32: return py::dtype("float32");
    case Dtype::Float64: return py::dtype("float64");
    case Dtype::Complex64: return py::dtype("complex64");
  }
  return py::dtype("float32");
}

bool is_py_scalar(py::handle obj) {
  return PyBool_Check(obj.ptr()) || PyLong_Check(obj.ptr()) || PyFloat_Check(obj.ptr()) ||
         PyComplex_Check(obj.ptr());
}

namespace {

array int_scalar(py::handle obj, std::optional<Dtype> dtype) {
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
  if (overflow) {
    if (overflow > 0) {
      unsigned long long u = PyLong_AsUnsignedLongLong(obj.ptr());
      if (PyErr_Occurred()) {
        PyErr_Clear();
        throw py::value_error("[array] Python integer is out of range for any integer dtype.");
      }
      return array((uint64_t)u, dtype.value_or(uint64));
    }
    throw py::value_error("[array] Python integer is out of range for any integer dtype.");
  }
  Dtype d = dtype.value_or((v > std::numeric_limits<int32_t>::max() ||
                            v < std::numeric_limits<int32_t>::min())
                               ? int64
                               : int32);
  return array((int64_t)v, d);
}

array scalar(py::handle obj, std::optional<Dtype> dtype) {
  if (PyBool_Check(obj.ptr())) return array(obj.ptr() == Py_True, dtype.value_or(bool_));
  if (PyLong_Check(obj.ptr())) return int_scalar(obj, dtype);
  if (PyFloat_Check(obj.ptr())) return array(PyFloat_AS_DOUBLE(obj.ptr()), dtype.value_or(float32));
  Py_complex c = PyComplex_AsCComplex(obj.ptr());
  return array(complex64_t((float)c.real, (float)c.imag), dtype.value_or(complex64));
}

// Kinds seen while walking a nested list, in promotion order.
enum class Kind { None, Bool, Int, Float, Complex, Array };

void walk(py::handle obj, int depth, Shape& shape, std::vector<py::handle>& leaves, Kind& kind,
          std::optional<Dtype>& arr_dtype) {
  bool is_seq = PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr());
  if (is_seq) {
    auto seq = py::reinterpret_borrow<py::sequence>(obj);
    int32_t n = checked_dim((int64_t)py::len(seq), "array");
    if ((int)shape.size() == depth) shape.push_back(n);
    else if ((int)shape.size() < depth || shape[depth] != n)
      throw py::value_error("[array] Initialization encountered non-uniform length (ragged list).");
    for (auto item : seq) walk(item, depth + 1, shape, leaves, kind, arr_dtype);
    return;
  }
  if ((int)shape.size() != depth)
    throw py::value_error("[array] Initialization encountered non-uniform length (ragged list).");
  Kind k;
  if (PyBool_Check(obj.ptr())) k = Kind::Bool;
  else if (PyLong_Check(obj.ptr())) k = Kind::Int;
  else if (PyFloat_Check(obj.ptr())) k = Kind::Float;
  else if (PyComplex_Check(obj.ptr())) k = Kind::Complex;
  else if (py::isinstance<array>(obj) || py::isinstance<py::array>(obj) ||
           py::hasattr(obj, "__array__")) {
    throw py::value_error("");  // handled by the caller through stacking
  } else {
    throw py::value_error("[array] Invalid type " + std::string(py::str(py::type::handle_of(obj))) +
                          " received in array initialization.");
  }
  if ((int)k > (int)kind) kind = k;
  leaves.push_back(obj);
}

bool contains_arrays(py::handle obj) {
  if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
    for (auto item : py::reinterpret_borrow<py::sequence>(obj))
      if (contains_arrays(item)) return true;
    return false;
  }
  if (is_py_scalar(obj)) return false;  // np.float64 is a float
  // Arrays, numpy scalars and anything else numpy can read: stacked by the caller.
  return py::isinstance<array>(obj) || py::isinstance<py::array>(obj) ||
         py::hasattr(obj, "__array__");
}

array from_list(py::handle obj, std::optional<Dtype> dtype) {
  if (contains_arrays(obj)) {
    std::vector<array> parts;
    for (auto item : py::reinterpret_borrow<py::sequence>(obj)) parts.push_back(to_array(item, dtype));
    if (parts.empty()) return array(nullptr, {0}, float32, dtype.value_or(float32));
    for (auto& p : parts)
      if (p.shape() != parts[0].shape())
        throw py::value_error("[array] Initialization encountered non-uniform length (ragged list).");
    Dtype t = parts[0].dtype();
    for (auto& p : parts) t = promote_types(t, p.dtype());
    array r = stack(parts, 0);
    return astype(r, dtype.value_or(t));
  }
  Shape shape;
  std::vector<py::handle> leaves;
  Kind kind = Kind::None;
  std::optional<Dtype> ad;
  walk(obj, 0, shape, leaves, kind, ad);
  allocator::OpScope scope("array");
  size_t n = leaves.size();
  switch (kind) {
    case Kind::None:
    case Kind::Float: {
      std::vector<double> v(n);
      for (size_t i = 0; i < n; ++i) v[i] = PyFloat_AsDouble(leaves[i].ptr());
      return array(v.data(), shape, float64, dtype.value_or(float32));
    }
    case Kind::Bool: {
      std::unique_ptr<bool[]> v(new bool[n]);
      for (size_t i = 0; i < n; ++i) v[i] = leaves[i].ptr() == Py_True;
      return array(v.get(), shape, bool_, dtype.value_or(bool_));
    }
    case Kind::Int: {
      std::vector<int64_t> v(n);
      bool big = false;
      for (size_t i = 0; i < n; ++i) {
        int overflow = 0;
        v[i] = PyLong_AsLongLongAndOverflow(leaves[i].ptr(), &overflow);
        if (overflow) throw py::value_error("[array] Python integer is out of range for int64.");
        big |= v[i] > std::numeric_limits<int32_t>::max() || v[i] < std::numeric_limits<int32_t>::min();
      }
      return array(v.data(), shape, int64, dtype.value_or(big ? int64 : int32));
    }
    case Kind::Complex: {
      std::vector<complex64_t> v(n);
      for (size_t i = 0; i < n; ++i) {
        Py_complex c = PyComplex_AsCComplex(leaves[i].ptr());
        v[i] = complex64_t((float)c.real, (float)c.imag);
      }
      return array(v.data(), shape, complex64, dtype.value_or(complex64));
    }
    default:
      break;
  }
  throw py::type_error("[array] Invalid list.");
}

array from_numpy(py::array np, std::optional<Dtype> dtype) {
  Dtype src = dtype_from_numpy(np.dtype());
  // The shape is checked before anything is copied: a dimension past 32 bits is refused
  // without touching the data.
  Shape shape;
  for (py::ssize_t i = 0; i < np.ndim(); ++i) shape.push_back(checked_dim((int64_t)np.shape(i), "array"));
  checked_size(shape, dtype.value_or(src), "array");
  // Data in the other byte order (a '>f4' array read from a file) is swapped to native first.
  if (!np.dtype().attr("isnative").cast<bool>())
    np = np.attr("astype")(np.dtype().attr("newbyteorder")("="));
  py::array c = py::array::ensure(np, py::array::c_style);
  // ensure() hides why a copy failed; numpy's own call raises it (MemoryError, ...).
  if (!c) c = py::module_::import("numpy").attr("ascontiguousarray")(np);
  allocator::OpScope scope("array");
  if (np.dtype().kind() == 'c' && np.dtype().itemsize() == 16) {
    // complex128 -> complex64
    py::array c64 = c.attr("astype")("complex64");
    return array(c64.data(), shape, complex64, dtype.value_or(complex64));
  }
  // float64 numpy arrays become float32 unless asked otherwise, as in MLX.
  Dtype def = src == float64 ? float32 : src;
  return array(c.data(), shape, src, dtype.value_or(def));
}

}  // namespace

array to_array(py::handle obj, std::optional<Dtype> dtype) {
  if (py::isinstance<array>(obj)) {
    array a = py::cast<array>(obj);
    return dtype ? astype(a, *dtype) : a;
  }
  if (is_py_scalar(obj)) return scalar(obj, dtype);
  if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) return from_list(obj, dtype);
  if (py::isinstance<py::array>(obj)) return from_numpy(py::reinterpret_borrow<py::array>(obj), dtype);
  // bytes are their uint8 values (as MLX reads any buffer).
  if (PyBytes_Check(obj.ptr()))
    return from_numpy(py::module_::import("numpy").attr("frombuffer")(obj, "uint8"), dtype);
  // Other frameworks' tensors (torch, jax) through DLPack, copied: their bfloat16 too, which
  // numpy cannot carry. A tensor that records gradients is read detached.
  if (py::hasattr(obj, "__dlpack__") && !py::hasattr(obj, "__array_interface__")) {
    py::object src = py::reinterpret_borrow<py::object>(obj);
    if (py::hasattr(src, "requires_grad") && py::hasattr(src, "detach") &&
        src.attr("requires_grad").cast<bool>())
      src = src.attr("detach")();
    py::object from = py::module_::import("ember.core").attr("from_dlpack");
    bool ok = true;
    array a;
    try {
      a = from(src, py::arg("copy") = true).cast<array>();
    } catch (py::error_already_set&) {
      ok = false;  // not a CPU tensor, or a type DLPack cannot name: numpy may still read it
    }
    if (ok) {
      if (dtype) return astype(a, *dtype);
      return a.dtype() == float64 ? astype(a, float32) : a;
    }
  }
  // numpy scalars, objects exposing __array__, and buffers (memoryview, bytes, array.array)
  if (py::hasattr(obj, "__array__") || py::hasattr(obj, "dtype") || PyObject_CheckBuffer(obj.ptr())) {
    py::module_ np = py::module_::import("numpy");
    return from_numpy(np.attr("asarray")(obj), dtype);
  }
  if (py::hasattr(obj, "__mlx_array__")) return to_array(obj.attr("__mlx_array__")(), dtype);
  // As MLX: None is a TypeError (a missing argument), any other object a ValueError.
  std::string msg = "[array] Cannot convert object of type " +
                    std::string(py::str(py::type::handle_of(obj))) + " to an array.";
  if (obj.is_none()) throw py::type_error(msg);
  throw py::value_error(msg);
}

namespace {

// Kinds ordered as promotion goes: bool < integers < real floats < complex.
int kind_rank(Dtype t) {
  if (t == bool_) return 0;
  if (is_integral(t)) return 1;
  if (is_complex(t)) return 3;
  return 2;
}

}  // namespace

bool is_numpy_operand(py::handle obj) {
  static PyObject* generic = py::object(py::module_::import("numpy").attr("generic")).release().ptr();
  return py::isinstance<py::array>(obj) || PyObject_IsInstance(obj.ptr(), generic) == 1;
}

array to_array_like(py::handle obj, const array& other) {
  if (py::isinstance<array>(obj)) return py::cast<array>(obj);
  Dtype t = other.dtype();
  if (!is_py_scalar(obj) && is_numpy_operand(obj)) {
    // As MLX: a numpy scalar or array meeting an array takes the array's dtype, but only where
    // that keeps its kind (MLX also truncates 1.5 to an integer array's 1; that is not copied).
    if (!py::isinstance<py::array>(obj)) {
      py::object v = obj.attr("item")();
      if (is_py_scalar(v)) return to_array_like(v, other);
    }
    array x = to_array(obj);
    return kind_rank(x.dtype()) <= kind_rank(t) && t != bool_ ? astype(x, t) : x;
  }
  if (PyBool_Check(obj.ptr())) return array(obj.ptr() == Py_True, t);
  if (PyLong_Check(obj.ptr())) {
    if (t == bool_) return int_scalar(obj, std::nullopt);
    if (is_integral(t)) {
      // The scalar takes the array's integer type only if it fits.
      int overflow = 0;
      long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
      bool fits = !overflow;
      if (fits) {
        dispatch_integer(t, [&](auto tag) {
          using T = typename decltype(tag)::type;
          if constexpr (std::is_unsigned_v<T>) {
            fits = v >= 0 && (unsigned long long)v <= (unsigned long long)std::numeric_limits<T>::max();
          } else {
            fits = v >= (long long)std::numeric_limits<T>::min() && v <= (long long)std::numeric_limits<T>::max();
          }
        });
      } else if (overflow > 0 && t == uint64) {
        PyLong_AsUnsignedLongLong(obj.ptr());
        fits = !PyErr_Occurred();
        PyErr_Clear();
      }
      if (!fits)
        throw py::value_error("[array] Converting " + std::string(py::str(obj)) + " to " +
                              dtype_name(t) + " would result in overflow.");
    }
    return int_scalar(obj, t);
  }
  if (PyFloat_Check(obj.ptr())) {
    return array(PyFloat_AS_DOUBLE(obj.ptr()), is_inexact(t) ? t : float32);
  }
  if (PyComplex_Check(obj.ptr())) return scalar(obj, complex64);
  return to_array(obj);
}

std::pair<array, array> to_arrays(py::handle a, py::handle b) {
  bool sa = is_py_scalar(a), sb = is_py_scalar(b);
  // numpy scalars and arrays are weak against an array, as Python scalars are.
  if (!sa && !sb) {
    if (py::isinstance<array>(a) && is_numpy_operand(b)) sb = true;
    else if (py::isinstance<array>(b) && is_numpy_operand(a)) sa = true;
  }
  if (!sa && sb) {
    array x = to_array(a);
    return {x, to_array_like(b, x)};
  }
  if (sa && !sb) {
    array y = to_array(b);
    return {to_array_like(a, y), y};
  }
  return {to_array(a), to_array(b)};
}

namespace {

// A Python int, or an object with __index__ (numpy integers), as a new reference; floats
// and other objects are a TypeError naming the op and what was meant (`what`).
py::object as_pyint(py::handle obj, const char* op, const char* what) {
  if (PyLong_Check(obj.ptr())) return py::reinterpret_borrow<py::object>(obj);
  if (!PyFloat_Check(obj.ptr()) && PyIndex_Check(obj.ptr())) {
    PyObject* i = PyNumber_Index(obj.ptr());
    if (!i) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(i);
  }
  throw py::type_error(std::string("[") + op + "] " + what + " must be integers, got " +
                       std::string(py::str(py::type::handle_of(obj).attr("__name__"))) + ".");
}

// The value of a Python int when it fits in 32 bits.
std::optional<int32_t> int32_of(const py::object& i) {
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow || v < INT32_MIN || v > INT32_MAX) return std::nullopt;
  return (int32_t)v;
}

}  // namespace

std::vector<int> axes_or_all(const py::object& axis, const array& a) {
  auto ax = to_axes(axis);
  if (ax) return *ax;
  std::vector<int> all(a.ndim());
  for (int i = 0; i < a.ndim(); ++i) all[i] = i;
  return all;
}

namespace {

// A 1-d (or higher) numpy array standing for a sequence of ints, as its Python list.
py::object numpy_as_list(py::handle obj) {
  if (py::isinstance<py::array>(obj) && py::reinterpret_borrow<py::array>(obj).ndim() > 0)
    return obj.attr("tolist")();
  return py::reinterpret_borrow<py::object>(obj);
}

}  // namespace

std::optional<std::vector<int>> to_axes(const py::object& axis_in) {
  if (axis_in.is_none()) return std::nullopt;
  py::object axis = numpy_as_list(axis_in);
  auto one = [](py::handle a) {
    py::object i = as_pyint(a, "axis", "Axes");
    auto v = int32_of(i);
    // An axis beyond 32 bits is out of bounds for every array.
    if (!v) throw axis_error("[axis] Axis " + std::string(py::str(i)) + " is out of bounds.");
    return (int)*v;
  };
  if (PyList_Check(axis.ptr()) || PyTuple_Check(axis.ptr())) {
    std::vector<int> out;
    for (auto a : py::reinterpret_borrow<py::sequence>(axis)) out.push_back(one(a));
    return out;
  }
  if (PyLong_Check(axis.ptr()) || (!PyFloat_Check(axis.ptr()) && PyIndex_Check(axis.ptr())))
    return std::vector<int>{one(axis)};
  throw py::type_error("[axis] Expected an int, a sequence of ints or None.");
}

int32_t to_dim(py::handle obj, const char* op) {
  py::object i = as_pyint(obj, op, "Shape entries");
  auto v = int32_of(i);
  if (!v) dim_overflow(op, py::str(i));
  return *v;
}

Shape to_shape(py::handle obj_in, const char* op) {
  py::object obj = numpy_as_list(obj_in);
  if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
    Shape s;
    for (auto d : py::reinterpret_borrow<py::sequence>(obj)) s.push_back(to_dim(d, op));
    return s;
  }
  if (PyLong_Check(obj.ptr()) || (!PyFloat_Check(obj.ptr()) && PyIndex_Check(obj.ptr())))
    return Shape{to_dim(obj, op)};
  throw py::type_error(std::string("[") + op + "] Expected an int or a sequence of ints as the shape, got " +
                       std::string(py::str(py::type::handle_of(obj).attr("__name__"))) + ".");
}

StreamOrDevice to_stream_or_device(const py::object& s) {
  if (s.is_none()) return std::monostate{};
  if (py::isinstance<Stream>(s)) return s.cast<Stream>();
  if (py::isinstance<Device>(s)) return s.cast<Device>();
  if (py::isinstance<Device::Type>(s)) return Device(s.cast<Device::Type>(), 0);
  if (py::hasattr(s, "_ember_stream")) return s.attr("_ember_stream")().cast<Stream>();  // ThreadLocalStream
  throw py::type_error("[stream] Expected a Stream, a Device or None.");
}
