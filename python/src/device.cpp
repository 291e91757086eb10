// Devices, streams, evaluation and memory.
#include "utils.h"

using namespace pybind11::literals;

namespace {

// Collects arrays from any nesting of lists, tuples and dicts.
void collect(py::handle obj, std::vector<array>& out) {
  if (py::isinstance<array>(obj)) {
    out.push_back(obj.cast<array>());
  } else if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
    for (auto item : py::reinterpret_borrow<py::sequence>(obj)) collect(item, out);
  } else if (PyDict_Check(obj.ptr())) {
    for (auto item : py::reinterpret_borrow<py::dict>(obj)) collect(item.second, out);
  }
}

std::vector<array> collect_args(const py::args& args) {
  std::vector<array> out;
  for (auto a : args) collect(a, out);
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
      .def("__enter__", [](StreamContext& c) { c.enter(); })
      .def("__exit__", [](StreamContext& c, py::args) { c.exit(); });
  m.def("stream", [](const py::object& s) { return StreamContext{to_stream_or_device(s), Stream()}; },
        "s"_a);

  m.def("eval", [](py::args args) {
    auto arrays = collect_args(args);
    py::gil_scoped_release nogil;
    eval(arrays);
  });
  m.def("async_eval", [](py::args args) {
    auto arrays = collect_args(args);
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
}
