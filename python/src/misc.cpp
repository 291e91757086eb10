// Bindings of the small ops (ember/ops/misc.h), the mlx.core aliases, the array iterator
// and array-like wrapper, thread-local streams and device queries.
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "fast_array.h"
#include "utils.h"

using namespace pybind11::literals;

namespace {

inline StreamOrDevice sd(const py::object& s) { return to_stream_or_device(s); }
inline array A(const py::object& o) { return to_array(o); }

Device as_device(const py::object& d) {
  if (py::isinstance<Device::Type>(d)) return Device(d.cast<Device::Type>(), 0);
  return d.cast<Device>();
}

std::vector<int> int_list(const py::handle& o) {
  if (PyLong_Check(o.ptr()) || PyIndex_Check(o.ptr())) return {o.cast<int>()};
  return o.cast<std::vector<int>>();
}

// Iterates over the first axis of an array.
struct ArrayIterator {
  array a;
  int i = 0;
};

// A stream per thread: the first use on a thread makes that thread's stream.
struct ThreadLocalStream {
  Device device;
  int index;
  std::mutex m;
  std::map<std::thread::id, Stream> streams;
  Stream get() {
    std::lock_guard<std::mutex> lk(m);
    auto id = std::this_thread::get_id();
    auto it = streams.find(id);
    if (it == streams.end()) it = streams.emplace(id, new_stream(device)).first;
    return it->second;
  }
};

// Any object with __mlx_array__ (or anything convertible to an array), held for conversion.
struct ArrayLike {
  py::object obj;
};

// The arrays among the leaves of a tree of lists, tuples and dicts (other leaves ignored).
void collect_arrays(py::handle tree, std::vector<array>& out) {
  if (py::isinstance<array>(tree)) {
    out.push_back(tree.cast<array>());
  } else if (PyList_Check(tree.ptr()) || PyTuple_Check(tree.ptr())) {
    for (auto x : tree) collect_arrays(x, out);
  } else if (PyDict_Check(tree.ptr())) {
    for (auto kv : py::reinterpret_borrow<py::dict>(tree)) collect_arrays(kv.second, out);
  }
}

std::string cpu_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) {
        std::string v = line.substr(p + 1);
        v.erase(0, v.find_first_not_of(' '));
        return v;
      }
    }
  }
  return "cpu";
}

}  // namespace

void init_misc(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<array>>(m.attr("array"));
  auto none = py::none();

  // ---------- names MLX gives twice
  for (auto [alias, name] : std::vector<std::pair<const char*, const char*>>{
           {"acos", "arccos"}, {"asin", "arcsin"}, {"atan", "arctan"}, {"atan2", "arctan2"},
           {"acosh", "arccosh"}, {"asinh", "arcsinh"}, {"atanh", "arctanh"}, {"pow", "power"},
           {"bitwise_left_shift", "left_shift"}, {"bitwise_right_shift", "right_shift"},
           {"cumulative_sum", "cumsum"}, {"cumulative_prod", "cumprod"}, {"empty", "zeros"},
           {"empty_like", "zeros_like"}})
    m.attr(alias) = m.attr(name);

  // ---------- elementwise
  m.def("positive", [](const py::object& a, const py::object& s) { return positive(A(a), sd(s)); },
        "Elementwise unary plus: a copy of the input.", "a"_a, py::pos_only(), py::kw_only(),
        "stream"_a = none);
  m.def("trunc", [](const py::object& a, const py::object& s) { return trunc(A(a), sd(s)); },
        "Elementwise truncation towards zero.", "a"_a, py::pos_only(), py::kw_only(), "stream"_a = none);
  m.def("degrees", [](const py::object& a, const py::object& s) { return degrees(A(a), sd(s)); },
        "Radians to degrees.", "a"_a, py::pos_only(), py::kw_only(), "stream"_a = none);
  m.def("radians", [](const py::object& a, const py::object& s) { return radians(A(a), sd(s)); },
        "Degrees to radians.", "a"_a, py::pos_only(), py::kw_only(), "stream"_a = none);
  m.def("logical_xor", [](const py::object& a, const py::object& b, const py::object& s) {
    auto [x, y] = to_arrays(a, b);
    return logical_xor(x, y, sd(s));
  }, "Elementwise logical exclusive or.", "a"_a, "b"_a, py::pos_only(), py::kw_only(), "stream"_a = none);
  m.def("nan_to_num", [](const py::object& a, float nan, std::optional<float> posinf,
                         std::optional<float> neginf, const py::object& s) {
    return nan_to_num(A(a), nan, posinf, neginf, sd(s));
  }, "Replace NaN with `nan`, +inf with `posinf` and -inf with `neginf` (default: the largest "
     "finite values of the dtype).",
     "a"_a, "nan"_a = 0.0f, "posinf"_a = none, "neginf"_a = none, py::kw_only(), "stream"_a = none);

  // ---------- rolls, flips, differences
  m.def("roll", [](const py::object& a, const py::object& shift, const py::object& axis,
                   const py::object& s) {
    array x = A(a);
    std::vector<int> sh = int_list(shift);
    if (axis.is_none()) return roll(x, sh, sd(s));
    if (PyLong_Check(axis.ptr())) return roll(x, sh, axis.cast<int>(), sd(s));
    std::vector<int> ax = int_list(axis);
    if (sh.size() == 1 && PyLong_Check(shift.ptr())) return roll(x, sh[0], ax, sd(s));
    return roll(x, sh, ax, sd(s));
  }, "Roll elements along axes (the flattened array when axis is None).",
     "a"_a, "shift"_a, "axis"_a = none, py::kw_only(), "stream"_a = none);
  m.def("flip", [](const py::object& a, const py::object& axis, const py::object& s) {
    array x = A(a);
    if (axis.is_none()) return flip(x, sd(s));
    return flip(x, int_list(axis), sd(s));
  }, "Reverse the order of elements along the given axes (all when None).",
     "a"_a, py::pos_only(), "axis"_a = none, py::kw_only(), "stream"_a = none);
  m.def("diff", [](const py::object& a, int n, int axis, const py::object& s) {
    return diff(A(a), n, axis, sd(s));
  }, "The n-th discrete difference along an axis.", "a"_a, py::pos_only(), "n"_a = 1, "axis"_a = -1,
     py::kw_only(), "stream"_a = none);
  m.def("unstack", [](const py::object& a, int axis, const py::object& s) {
    auto parts = unstack(A(a), axis, sd(s));
    py::tuple out(parts.size());
    for (size_t i = 0; i < parts.size(); ++i) out[i] = py::cast(std::move(parts[i]));
    return out;
  }, "Split along an axis into a tuple of arrays without that axis.", "x"_a, py::pos_only(),
     py::kw_only(), "axis"_a = 0, "stream"_a = none);

  // ---------- creation, conversion, layout
  m.def("asarray", [](const py::object& a, const py::object& dtype, const py::object& copy_) {
    std::optional<Dtype> d;
    if (!dtype.is_none()) d = as_dtype(dtype);
    if (!copy_.is_none() && !copy_.cast<bool>()) {
      if (py::isinstance<array>(a) || PyList_Check(a.ptr()) || PyTuple_Check(a.ptr()) || is_py_scalar(a))
        throw py::value_error("Unable to avoid copy while creating an array as requested.");
      throw py::value_error("[convert] Cannot import a CPU array without a copy.");
    }
    if (py::isinstance<array>(a)) {
      array x = a.cast<array>();
      return d ? astype(x, *d) : copy(x);
    }
    return to_array(a, d);
  }, "Convert the input to an array (copy=False: never copy, which raises when a copy is needed).",
     "a"_a, "dtype"_a = none, py::kw_only(), "copy"_a = none);
  m.def("contiguous", [](const py::object& a, bool allow_col_major, const py::object& s) {
    return contiguous(A(a), allow_col_major, sd(s));
  }, "The array in row-contiguous memory (column-major too when allowed), copied if needed.",
     "a"_a, py::pos_only(), "allow_col_major"_a = false, py::kw_only(), "stream"_a = none);
  m.def("view", [](const py::object& a, Dtype dtype, const py::object& s) { return view(A(a), dtype, sd(s)); },
        "The bits of the array read as another dtype (the last axis scales by the size ratio).",
        "a"_a, "dtype"_a, "stream"_a = none);
  cls.def("view", [](const array& a, Dtype dtype, const py::object& s) { return view(a, dtype, sd(s)); },
          "See view.", "dtype"_a, py::kw_only(), "stream"_a = none);
  cls.def_property_readonly("mT", [](const array& a) {
    if (a.ndim() < 2)
      throw py::value_error("[matrix_transpose] Input array must have at least 2 dimensions.");
    return swapaxes(a, -1, -2);
  }, "The array with its last two axes swapped.");
  m.def("depends", [](const py::object& inputs, const py::object& deps) -> py::object {
    auto arrays_of = [](const py::object& o, const char* what) {
      std::vector<array> out;
      if (py::isinstance<array>(o)) return std::vector<array>{o.cast<array>()};
      if (!PyList_Check(o.ptr()) && !PyTuple_Check(o.ptr()))
        throw py::type_error(std::string("[depends] ") + what + " must be an array or a sequence of arrays.");
      for (auto x : o) {
        if (!py::isinstance<array>(x))
          throw py::type_error(std::string("[depends] ") + what + " must be an array or a sequence of arrays.");
        out.push_back(x.cast<array>());
      }
      return out;
    };
    auto xs = arrays_of(inputs, "inputs");
    auto out = depends(xs, arrays_of(deps, "dependencies"));
    if (py::isinstance<array>(inputs)) return py::cast(out[0]);
    return py::cast(out);
  }, "Outputs equal to `inputs`, computed only after `dependencies`.", "inputs"_a, "dependencies"_a);

  // ---------- windows
#define EMBER_WINDOW(NAME, DOC)                                                              \
  m.def(#NAME, [](int M, const py::object& s) { return NAME(M, sd(s)); }, DOC, "M"_a,        \
        py::kw_only(), "stream"_a = none);
  EMBER_WINDOW(hanning, "The Hanning window of M points: 0.5 - 0.5 cos(2 pi n / (M - 1)).")
  EMBER_WINDOW(hamming, "The Hamming window of M points: 0.54 - 0.46 cos(2 pi n / (M - 1)).")
  EMBER_WINDOW(blackman, "The Blackman window of M points: 0.42 - 0.5 cos(2 pi n / (M - 1)) + "
                         "0.08 cos(4 pi n / (M - 1)).")
  EMBER_WINDOW(bartlett, "The Bartlett (triangular) window of M points.")
#undef EMBER_WINDOW

  // ---------- iteration and array-likes
  py::class_<ArrayIterator>(m, "ArrayIterator", "Iterates over the first axis of an array.")
      .def("__iter__", [](py::object self) { return self; })
      .def("__next__", [](ArrayIterator& it) {
        if (it.i >= it.a.shape(0)) throw py::stop_iteration();
        return index_row(it.a, it.i++);
      });
  cls.def("__iter__", [](const array& a) {
    if (a.ndim() == 0) throw py::type_error("iteration over a 0-d array.");
    return ArrayIterator{a, 0};
  });
  py::class_<ArrayLike>(m, "ArrayLike", "Wraps any object that converts to an array (one with "
                                        "__mlx_array__, a sequence, a scalar, a buffer).")
      .def(py::init([](py::object o) { return ArrayLike{std::move(o)}; }), "arg"_a, py::pos_only())
      .def("__mlx_array__", [](const ArrayLike& a) {
        if (py::hasattr(a.obj, "__mlx_array__")) return to_array(a.obj.attr("__mlx_array__")());
        return to_array(a.obj);
      });

  // ---------- streams and devices
  py::class_<ThreadLocalStream, std::shared_ptr<ThreadLocalStream>>(
      m, "ThreadLocalStream", "A stream that is a different stream on each thread that uses it.")
      .def_property_readonly("device", [](const ThreadLocalStream& t) { return t.device; })
      .def("_ember_stream", &ThreadLocalStream::get)
      .def("__repr__", [](const ThreadLocalStream& t) {
        return std::string("ThreadLocalStream(Device(") + (t.device.type == Device::cpu ? "cpu" : "gpu") +
               ", " + std::to_string(t.device.index) + "), " + std::to_string(t.index) + ")";
      });
  m.def("new_thread_local_stream", [](const py::object& d) {
    static int count = 0;
    Device dev = as_device(d);
    if (!is_available(dev))
      throw py::value_error("[new_thread_local_stream] Device is not available: no GPU backend.");
    auto t = std::make_shared<ThreadLocalStream>();
    t->device = dev;
    t->index = count++;
    return t;
  }, "device"_a, "A stream that is a new stream on each thread that uses it.");
  m.def("new_thread_unsafe_stream", [](const py::object& d) { return new_stream(as_device(d)); },
        "device"_a, "A new stream usable from any thread.");
  m.def("clear_streams", []() {
    // Streams are process-wide workers here: finish their work and make the device's first
    // stream the default again.
    py::gil_scoped_release nogil;
    synchronize();
    set_default_stream(Stream(0, Device(Device::cpu, 0)));
  }, "Finish the work of every stream and restore the default stream.");
  m.def("device_count", [](Device::Type t) { return is_available(Device(t, 0)) ? 1 : 0; },
        "device_type"_a, "The number of devices of a type.");
  m.def("device_info", [](const py::object& d) {
    Device dev = d.is_none() ? default_device() : as_device(d);
    py::dict info;
    if (!is_available(dev)) return info;
    info["architecture"] = py::module_::import("platform").attr("machine")();
    info["device_name"] = cpu_name();
    return info;
  }, "d"_a = none, "Properties of a device (the default device when None).");
  m.def("get_array_buffer_size", [](py::args args) {
    std::vector<array> arrays;
    for (auto a : args) collect_arrays(a, arrays);
    std::unordered_set<const void*> seen;
    size_t total = 0;
    for (auto& a : arrays) {
      if (!a.is_available())
        throw py::value_error("[get_array_buffer_size] Arrays must be evaluated before querying buffer size.");
      auto& buf = a.buffer();
      if (buf && seen.insert(buf.get()).second) total += buf->bytes;
    }
    return total;
  }, "The bytes of the distinct buffers behind the (evaluated) arrays in the arguments.");
}
