// Devices, streams, evaluation and memory.
#include <sstream>

#include "trees.h"

using namespace pybind11::literals;

namespace {

bool skippable_leaf(py::handle obj) {
  return obj.is_none() || PyBool_Check(obj.ptr()) || PyLong_Check(obj.ptr()) || PyFloat_Check(obj.ptr()) ||
         PyComplex_Check(obj.ptr()) || PyUnicode_Check(obj.ptr());
}

// Collects arrays from any nesting of lists, tuples and dicts. Leaves that cannot hold
// arrays (None, numbers, strings) are skipped; returns false at any other object.
bool collect(py::handle obj, std::vector<array>& out) {
  if (py::isinstance<array>(obj)) {
    out.push_back(obj.cast<array>());
  } else if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
    for (auto item : py::reinterpret_borrow<py::sequence>(obj))
      if (!collect(item, out)) return false;
  } else if (PyDict_Check(obj.ptr())) {
    for (auto item : py::reinterpret_borrow<py::dict>(obj))
      if (!collect(item.second, out)) return false;
  } else if (!skippable_leaf(obj)) {
    return false;
  }
  return true;
}

// Where the first object collect() refuses sits, and the object.
bool locate_bad_leaf(py::handle obj, std::string& where, py::handle& bad) {
  if (py::isinstance<array>(obj) || skippable_leaf(obj)) return false;
  if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
    size_t i = 0;
    for (auto item : py::reinterpret_borrow<py::sequence>(obj)) {
      std::string w = where + "[" + std::to_string(i++) + "]";
      if (locate_bad_leaf(item, w, bad)) return where = w, true;
    }
    return false;
  }
  if (PyDict_Check(obj.ptr())) {
    for (auto item : py::reinterpret_borrow<py::dict>(obj)) {
      std::string w = where + "[" + std::string(py::repr(item.first)) + "]";
      if (locate_bad_leaf(item.second, w, bad)) return where = w, true;
    }
    return false;
  }
  bad = obj;
  return true;
}

bool all_arrays(py::handle tree) {
  if (py::isinstance<array>(tree)) return true;
  if (PyList_Check(tree.ptr()) || PyTuple_Check(tree.ptr())) {
    for (auto item : py::reinterpret_borrow<py::sequence>(tree))
      if (!all_arrays(item)) return false;
    return true;
  }
  if (PyDict_Check(tree.ptr())) {
    for (auto item : py::reinterpret_borrow<py::dict>(tree))
      if (!all_arrays(item.second)) return false;
    return true;
  }
  return false;
}

std::vector<array> collect_args(const py::args& args, const char* who) {
  std::vector<array> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (collect(args[i], out)) continue;
    std::string where = "argument " + std::to_string(i);
    py::handle bad = args[i];
    locate_bad_leaf(args[i], where, bad);
    std::string r = py::repr(bad);
    if (r.size() > 80) r = r.substr(0, 77) + "...";
    throw py::type_error(std::string("[") + who + "] Expected arrays (possibly nested in lists, tuples "
                         "or dicts); got " + std::string(py::str(py::type::handle_of(bad).attr("__name__"))) +
                         " " + r + " at " + where + ".");
  }
  return out;
}

// A context manager that makes a stream (or a device's stream) the default.
struct StreamContext {
  StreamOrDevice target;
  Stream prev_stream;
  void enter() {
    prev_stream = default_stream(default_device());
    set_default_stream(to_stream(target));
  }
  void exit() { set_default_stream(prev_stream); }
};

}  // namespace

void init_device(py::module_& m) {
  py::enum_<Device::Type>(m, "DeviceType").value("cpu", Device::cpu).value("gpu", Device::gpu);
  py::class_<Device>(m, "Device")
      .def(py::init<Device::Type, int>(), "type"_a, "index"_a = 0)
      .def_readonly("type", &Device::type)
      .def_readonly("index", &Device::index)
      .def("__repr__", [](const Device& d) {
        return std::string("Device(") + (d.type == Device::cpu ? "cpu" : "gpu") + ", " +
               std::to_string(d.index) + ")";
      })
      .def("__eq__", [](const Device& a, const py::object& b) {
        if (py::isinstance<Device>(b)) return a == b.cast<Device>();
        if (py::isinstance<Device::Type>(b)) return a.type == b.cast<Device::Type>();
        return false;
      })
      .def("__hash__", [](const Device& d) { return (int)d.type * 1000 + d.index; });
  py::implicitly_convertible<Device::Type, Device>();
  m.attr("cpu") = Device::cpu;
  m.attr("gpu") = Device::gpu;
  py::class_<Stream>(m, "Stream")
      .def_readonly("device", &Stream::device)
      .def_readonly("index", &Stream::index)
      .def("__repr__", [](const Stream& s) {
        return std::string("Stream(Device(") + (s.device.type == Device::cpu ? "cpu" : "gpu") + ", " +
               std::to_string(s.device.index) + "), " + std::to_string(s.index) + ")";
      })
      .def("__eq__", [](const Stream& a, const py::object& b) {
        return py::isinstance<Stream>(b) && a == b.cast<Stream>();
      })
      .def("__hash__", [](const Stream& s) { return s.index; });

  m.def("default_device", &default_device);
  m.def("set_default_device", [](const py::object& d) {
    set_default_device(py::isinstance<Device::Type>(d) ? Device(d.cast<Device::Type>(), 0) : d.cast<Device>());
  }, "device"_a);
  m.def("default_stream", [](const py::object& d) {
    return default_stream(py::isinstance<Device::Type>(d) ? Device(d.cast<Device::Type>(), 0) : d.cast<Device>());
  }, "device"_a);
  m.def("set_default_stream", &set_default_stream, "stream"_a);
  m.def("new_stream", [](const py::object& d) {
    return new_stream(py::isinstance<Device::Type>(d) ? Device(d.cast<Device::Type>(), 0) : d.cast<Device>());
  }, "device"_a);
  m.def("is_available", [](const py::object& d) {
    return is_available(py::isinstance<Device::Type>(d) ? Device(d.cast<Device::Type>(), 0) : d.cast<Device>());
  }, "device"_a);
  m.def("synchronize", [](const py::object& s) {
    py::gil_scoped_release nogil;
    if (s.is_none()) synchronize();
    else synchronize(s.cast<Stream>());
  }, "stream"_a = py::none());

  py::class_<StreamContext>(m, "StreamContext")
      .def(py::init([](const py::object& s) { return StreamContext{to_stream_or_device(s), Stream()}; }),
           "s"_a)
      .def("__enter__", [](StreamContext& c) { c.enter(); })
      .def("__exit__", [](StreamContext& c, py::args) { c.exit(); });
  m.def("stream", [](const py::object& s) { return StreamContext{to_stream_or_device(s), Stream()}; },
        "s"_a);

  m.def("eval", [](py::args args) {
    auto arrays = collect_args(args, "eval");
    py::gil_scoped_release nogil;
    eval(arrays);
  });
  m.def("async_eval", [](py::args args) {
    auto arrays = collect_args(args, "async_eval");
    py::gil_scoped_release nogil;
    async_eval(arrays);
  });

  m.def("get_active_memory", &get_active_memory);
  m.def("get_peak_memory", &get_peak_memory);
  m.def("reset_peak_memory", &reset_peak_memory);
  m.def("get_cache_memory", &get_cache_memory);
  m.def("clear_cache", &clear_cache);
  m.def("set_memory_limit", &set_memory_limit, "limit"_a);
  m.def("set_cache_limit", &set_cache_limit, "limit"_a);
  m.def("set_wired_limit", &set_wired_limit, "limit"_a);
  m.def("get_memory_limit", &get_memory_limit);

  m.def("export_to_dot", [](const py::object& file, py::args args, py::kwargs kwargs) {
    std::vector<array> outputs;
    for (size_t i = 0; i < args.size(); ++i) {
      if (!all_arrays(args[i]))
        throw py::value_error("[export_to_dot] Expected arrays or (nested) lists, tuples or dicts of "
                              "arrays; argument " + std::to_string(i) + " is " +
                              std::string(py::str(py::type::handle_of(args[i]).attr("__name__"))) + ".");
      tree_arrays(args[i], outputs);
    }
    ArrayNames names;
    for (auto item : kwargs) {
      if (!py::isinstance<array>(item.second))
        throw py::type_error("[export_to_dot] The named arrays must be arrays; `" +
                             std::string(py::str(item.first)) + "` is " +
                             std::string(py::str(py::type::handle_of(item.second).attr("__name__"))) + ".");
      names[item.second.cast<array>().id()] = py::str(item.first);
    }
    std::ostringstream os;
    export_to_dot(os, outputs, names);
    std::string text = os.str();
    if (py::isinstance<py::str>(file) || py::isinstance(file, py::module_::import("os").attr("PathLike"))) {
      py::object f = py::module_::import("builtins").attr("open")(file, "w");
      f.attr("write")(text);
      f.attr("close")();
    } else if (py::hasattr(file, "write")) {
      try {
        file.attr("write")(text);
      } catch (py::error_already_set& e) {
        if (!e.matches(PyExc_TypeError)) throw;
        file.attr("write")(py::bytes(text));  // a binary stream
      }
    } else {
      throw py::type_error("[export_to_dot] `file` must be a path or a writable file object; got " +
                           std::string(py::str(py::type::handle_of(file).attr("__name__"))) + ".");
    }
  }, "file"_a, "Write the graph behind the given arrays (not evaluated yet) as Graphviz DOT text to "
     "`file` (a path or a file object). Keyword arguments name arrays: `x=x` labels x as \"x\".");

  // Portable MLX scripts probe the Metal and CUDA back ends. There is no Metal here; the
  // memory functions under mx.metal are the generic ones (deprecated there, as in MLX).
  py::module_ metal = m.def_submodule("metal", "Metal back end (not available in Ember).");
  metal.def("is_available", []() { return false; });
  metal.def("device_info", []() { return py::dict(); });
  metal.def("start_capture", [](const py::object&) {}, "path"_a);
  metal.def("stop_capture", []() {});
  for (const char* name : {"get_active_memory", "get_peak_memory", "reset_peak_memory", "get_cache_memory",
                           "clear_cache", "set_memory_limit", "set_cache_limit", "set_wired_limit"}) {
    py::object generic = m.attr(name);
    std::string msg = std::string("mx.metal.") + name + " is deprecated; use mx." + name + " instead.";
    metal.def(name, [generic, msg](py::args args, py::kwargs kwargs) {
      PyErr_WarnEx(PyExc_DeprecationWarning, msg.c_str(), 1);
      return generic(*args, **kwargs);
    }, (std::string("Deprecated alias of mx.") + name + ".").c_str());
  }
  py::module_ cuda = m.def_submodule("cuda", "CUDA back end.");
  cuda.def("is_available", []() { return is_available(Device(Device::gpu, 0)); },
           "Whether a CUDA GPU can run Ember's arrays.");
}
