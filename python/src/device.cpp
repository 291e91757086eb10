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

void init_random(py::module_& parent) {
  py::module_ m = parent.def_submodule("random", "Random number generation.");
  auto none = py::none();
  auto opt_key = [](const py::object& k) -> std::optional<array> {
    if (k.is_none()) return std::nullopt;
    return k.cast<array>();
  };
  auto shape_or = [](const py::object& s, const char* op) { return s.is_none() ? Shape{} : to_shape(s, op); };
  auto dt = [](const py::object& d) { return d.is_none() ? float32 : as_dtype(d); };
  m.def("seed", [](uint64_t s) { random::seed(s); }, "seed"_a);
  m.def("key", [](uint64_t s) { return random::key(s); }, "seed"_a);
  m.def("split", [](const array& key, const py::object& num, const py::object& s) {
    return random::split(key, to_dim(num, "random.split"), to_stream_or_device(s));
  }, "key"_a, "num"_a = 2, py::kw_only(), "stream"_a = none);
  m.def("bits", [=](const py::object& shape, int width, const py::object& key, const py::object& s) {
    return random::bits(shape_or(shape, "random.bits"), width, opt_key(key), to_stream_or_device(s));
  }, "shape"_a = py::make_tuple(), "width"_a = 4, "key"_a = none, py::kw_only(), "stream"_a = none);
  m.def("uniform", [=](const py::object& low, const py::object& high, const py::object& shape,
                       const py::object& dtype, const py::object& key, const py::object& s) {
    array lo = to_array(low), hi = to_array(high);
    Shape sh = shape.is_none() ? broadcast_shapes(lo.shape(), hi.shape()) : to_shape(shape, "random.uniform");
    return random::uniform(lo, hi, sh, dt(dtype), opt_key(key), to_stream_or_device(s));
  }, "low"_a = 0.0, "high"_a = 1.0, "shape"_a = none, "dtype"_a = none, "key"_a = none,
        py::kw_only(), "stream"_a = none);
  m.def("normal", [=](const py::object& shape, const py::object& dtype, const py::object& loc,
                      const py::object& scale, const py::object& key, const py::object& s) {
    return random::normal(shape_or(shape, "random.normal"), dt(dtype), to_array(loc), to_array(scale), opt_key(key),
                          to_stream_or_device(s));
  }, "shape"_a = none, "dtype"_a = none, "loc"_a = 0.0, "scale"_a = 1.0, "key"_a = none,
        py::kw_only(), "stream"_a = none);
  m.def("randint", [=](const py::object& low, const py::object& high, const py::object& shape,
                       const py::object& dtype, const py::object& key, const py::object& s) {
    return random::randint(to_array(low), to_array(high), shape_or(shape, "random.randint"),
                           dtype.is_none() ? int32 : as_dtype(dtype), opt_key(key), to_stream_or_device(s));
  }, "low"_a, "high"_a, "shape"_a = none, "dtype"_a = none, "key"_a = none, py::kw_only(),
        "stream"_a = none);
  m.def("bernoulli", [=](const py::object& p, const py::object& shape, const py::object& key,
                         const py::object& s) {
    array pa = to_array(p);
    return random::bernoulli(pa, shape.is_none() ? pa.shape() : to_shape(shape, "random.bernoulli"), opt_key(key),
                             to_stream_or_device(s));
  }, "p"_a = 0.5, "shape"_a = none, "key"_a = none, py::kw_only(), "stream"_a = none);
  m.def("truncated_normal", [=](const py::object& lo, const py::object& hi, const py::object& shape,
                                const py::object& dtype, const py::object& key, const py::object& s) {
    array l = to_array(lo), h = to_array(hi);
    Shape sh = shape.is_none() ? broadcast_shapes(l.shape(), h.shape()) : to_shape(shape, "random.truncated_normal");
    return random::truncated_normal(l, h, sh, dt(dtype), opt_key(key), to_stream_or_device(s));
  }, "lower"_a, "upper"_a, "shape"_a = none, "dtype"_a = none, "key"_a = none, py::kw_only(),
        "stream"_a = none);
  m.def("gumbel", [=](const py::object& shape, const py::object& dtype, const py::object& key,
                      const py::object& s) {
    return random::gumbel(shape_or(shape, "random.gumbel"), dt(dtype), opt_key(key), to_stream_or_device(s));
  }, "shape"_a = py::make_tuple(), "dtype"_a = none, "key"_a = none, py::kw_only(), "stream"_a = none);
  m.def("categorical", [=](const array& logits, int axis, const py::object& shape,
                           const py::object& num_samples, const py::object& key, const py::object& s) {
    std::optional<Shape> sh;
    if (!shape.is_none()) sh = to_shape(shape, "random.categorical");
    std::optional<int> ns;
    if (!num_samples.is_none()) ns = to_dim(num_samples, "random.categorical");
    return random::categorical(logits, axis, sh, ns, opt_key(key), to_stream_or_device(s));
  }, "logits"_a, "axis"_a = -1, "shape"_a = none, "num_samples"_a = none, "key"_a = none,
        py::kw_only(), "stream"_a = none);
  m.def("permutation", [=](const py::object& x, int axis, const py::object& key, const py::object& s) {
    if (PyLong_Check(x.ptr()))
      return random::permutation(to_dim(x, "random.permutation"), opt_key(key), to_stream_or_device(s));
    return random::permutation(to_array(x), axis, opt_key(key), to_stream_or_device(s));
  }, "x"_a, "axis"_a = 0, "key"_a = none, py::kw_only(), "stream"_a = none);
}

