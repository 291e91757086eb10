// Python bindings of exported functions: export_function, import_function, exporter.
#include "ember/export.h"
#include "utils.h"

using namespace pybind11::literals;

namespace {

using Arrays = std::vector<array>;

const char* kInputsError =
    "Inputs can either be a variable number of positional and keyword arrays or a single tuple "
    "and/or dictionary of arrays.";

bool all_arrays(py::handle seq) {
  for (auto x : py::reinterpret_borrow<py::sequence>(seq))
    if (!py::isinstance<array>(x)) return false;
  return true;
}

bool array_dict(py::handle d) {
  if (!PyDict_Check(d.ptr())) return false;
  for (auto item : py::reinterpret_borrow<py::dict>(d))
    if (!PyUnicode_Check(item.first.ptr()) || !py::isinstance<array>(item.second)) return false;
  return true;
}

// The arrays of a call: *args and **kwargs of arrays, or one tuple (or list) of arrays
// and/or one dict of arrays keyed by name.
std::pair<Arrays, Kwargs> parse_inputs(const py::args& args, const py::dict& kwargs, const char* who) {
  std::pair<Arrays, Kwargs> r;
  auto fail = [&] { throw py::value_error(std::string("[") + who + "] " + kInputsError); };
  bool plain = all_arrays(args);
  for (auto item : kwargs)
    plain &= PyUnicode_Check(item.first.ptr()) && py::isinstance<array>(item.second);
  if (plain) {
    for (auto x : args) r.first.push_back(x.cast<array>());
    for (auto item : kwargs) r.second.emplace(item.first.cast<std::string>(), item.second.cast<array>());
    return r;
  }
  if (kwargs.size() != 0 || args.size() == 0 || args.size() > 2) fail();
  size_t i = 0;
  if (PyTuple_Check(args[0].ptr()) || PyList_Check(args[0].ptr())) {
    if (!all_arrays(args[0])) fail();
    for (auto x : py::reinterpret_borrow<py::sequence>(args[0])) r.first.push_back(x.cast<array>());
    i = 1;
  }
  if (i < args.size()) {
    if (!array_dict(args[i])) fail();
    for (auto item : py::reinterpret_borrow<py::dict>(args[i]))
      r.second.emplace(item.first.cast<std::string>(), item.second.cast<array>());
    ++i;
  }
  if (i != args.size()) fail();
  return r;
}

// Calls the Python function on arrays and reads its outputs: an array, or a tuple or list
// of arrays.
KwargsFn wrap(py::object fun) {
  return [fun](const Arrays& args, const Kwargs& kwargs) {
    py::tuple a(args.size());
    for (size_t i = 0; i < args.size(); ++i) a[i] = py::cast(args[i]);
    py::dict kw;
    for (auto& [k, v] : kwargs) kw[py::str(k)] = py::cast(v);
    py::object out = fun(*a, **kw);
    Arrays outs;
    if (py::isinstance<array>(out)) {
      outs.push_back(out.cast<array>());
    } else if ((PyTuple_Check(out.ptr()) || PyList_Check(out.ptr())) && all_arrays(out)) {
      for (auto x : py::reinterpret_borrow<py::sequence>(out)) outs.push_back(x.cast<array>());
    } else {
      throw py::value_error("[export_function] Outputs can be either a single array, a tuple, or a list of arrays.");
    }
    return outs;
  };
}

py::object field_to_py(const ExportField& f) {
  return std::visit([](auto& v) -> py::object {
    using T = std::decay_t<decltype(v)>;
    if constexpr (std::is_same_v<T, Dtype>) return py::cast(v);
    else return py::cast(v);
  }, f);
}

py::tuple shape_tuple(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = s[i];
  return t;
}

py::list values_to_py(const std::vector<ExportedValue>& vs) {
  py::list l;
  for (auto& v : vs) l.append(py::make_tuple(v.name, shape_tuple(v.shape), py::cast(v.dtype)));
  return l;
}

// The graph handed to a Python callback one dict at a time, as MLX does: the inputs, the
// keyword inputs, the outputs, the constants, then each primitive in order.
void feed_callback(const py::object& cb, const ExportedGraph& g) {
  cb(py::dict("inputs"_a = values_to_py(g.inputs), "type"_a = "inputs"));
  py::list kws;
  for (auto& [k, n] : g.keywords) kws.append(py::make_tuple(k, n));
  cb(py::dict("keywords"_a = kws, "type"_a = "keyword_inputs"));
  cb(py::dict("outputs"_a = values_to_py(g.outputs), "type"_a = "outputs"));
  py::list cs;
  for (auto& [n, a] : g.constants) cs.append(py::make_tuple(n, py::cast(a)));
  cb(py::dict("constants"_a = cs, "type"_a = "constants"));
  for (auto& node : g.nodes) {
    py::list args;
    for (auto& f : node.arguments) args.append(field_to_py(f));
    cb(py::dict("arguments"_a = args, "outputs"_a = values_to_py(node.outputs),
                "inputs"_a = values_to_py(node.inputs), "name"_a = node.primitive, "type"_a = "primitive"));
  }
}

py::tuple to_tuple(const Arrays& outs) {
  py::tuple t(outs.size());
  for (size_t i = 0; i < outs.size(); ++i) t[i] = py::cast(outs[i]);
  return t;
}

struct PyImportedFunction {
  ImportedFunction f;
};

struct PyExporter {
  std::unique_ptr<FunctionExporter> ex;
};

}  // namespace

void init_export(py::module_& m) {
  m.def("export_function", [](py::object file_or_callback, py::object fun, py::args args, bool shapeless,
                              std::optional<std::string> metadata, py::kwargs kwargs) {
    if (!PyCallable_Check(fun.ptr()))
      throw py::type_error("[export_function] fun must be callable.");
    auto [a, kw] = parse_inputs(args, kwargs, "export_function");
    if (PyUnicode_Check(file_or_callback.ptr())) {
      export_function(file_or_callback.cast<std::string>(), wrap(fun), a, kw, shapeless, metadata.value_or(""));
    } else if (PyCallable_Check(file_or_callback.ptr())) {
      if (metadata)
        throw py::value_error("[export_function] The metadata argument is only supported when exporting to a "
                              "file, not when using a callback.");
      export_function([&](const ExportedGraph& g) { feed_callback(file_or_callback, g); }, wrap(fun), a, kw,
                      shapeless);
    } else {
      throw py::type_error("[export_function] file_or_callback must be a file path (str) or a callable.");
    }
  }, "file_or_callback"_a, "fun"_a, "shapeless"_a = false, "metadata"_a = py::none(),
        "Export the graph of `fun` traced on the example array inputs *args / **kwargs (or a "
        "single tuple and/or dict of arrays) to a file, or hand it to a callback.");

  py::class_<PyImportedFunction>(m, "ImportedFunction")
      .def("__call__", [](const PyImportedFunction& self, py::args args, py::kwargs kwargs) {
        auto [a, kw] = parse_inputs(args, kwargs, "import_function::call");
        return to_tuple(self.f(a, kw));
      }, "Call the imported function: returns a tuple of arrays.")
      .def("__repr__", [](const PyImportedFunction& self) {
        return "<ImportedFunction with " + std::to_string(self.f.num_traces()) + " trace(s)>";
      });

  m.def("import_function", [](const std::string& file, bool return_metadata) -> py::object {
    PyImportedFunction f{import_function(file)};
    std::string md = f.f.metadata();
    py::object obj = py::cast(std::move(f));
    if (return_metadata) return py::make_tuple(obj, md);
    return obj;
  }, "file"_a, "return_metadata"_a = false,
        "Import a function from a file written by export_function or exporter. The returned "
        "callable takes *args / **kwargs (or a tuple and/or dict of arrays) and returns a tuple "
        "of arrays.");

  py::class_<PyExporter>(m, "FunctionExporter",
                         "Exports several traces of one function to a file (made by exporter).")
      .def("__call__", [](PyExporter& self, py::args args, py::kwargs kwargs) {
        auto [a, kw] = parse_inputs(args, kwargs, "export_function");
        (*self.ex)(a, kw);
      })
      .def("close", [](PyExporter& self) { self.ex->close(); })
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyExporter& self, py::args) { self.ex->close(); });

  m.def("exporter", [](const std::string& file, py::object fun, bool shapeless, std::optional<std::string> metadata) {
    if (!PyCallable_Check(fun.ptr())) throw py::type_error("[exporter] fun must be callable.");
    return PyExporter{std::make_unique<FunctionExporter>(file, wrap(fun), shapeless, metadata.value_or(""))};
  }, "file"_a, "fun"_a, py::kw_only(), "shapeless"_a = false, "metadata"_a = py::none(),
        "Make a callable object that exports one trace of `fun` per call to `file`.");
}
