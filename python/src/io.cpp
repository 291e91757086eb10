// mx.load, mx.save, mx.savez, mx.savez_compressed, mx.save_safetensors, mx.save_gguf.
// Paths go to the engine's readers; file objects are adapted; .npz archives are zip files of
// .npy members, assembled here with Python's zipfile.
#include <system_error>

#include "utils.h"

using namespace pybind11::literals;

namespace {

bool is_path(const py::handle& f) {
  return PyUnicode_Check(f.ptr()) || PyBytes_Check(f.ptr()) ||
         py::isinstance(f, py::module_::import("os").attr("PathLike"));
}
std::string fspath(const py::handle& f) {
  py::object p = py::module_::import("os").attr("fsdecode")(f);
  return p.cast<std::string>();
}
std::string describe(const py::handle& f) {
  if (PyUnicode_Check(f.ptr())) return f.cast<std::string>();
  if (py::hasattr(f, "name")) {
    py::object n = f.attr("name");
    if (PyUnicode_Check(n.ptr())) return n.cast<std::string>();
  }
  return "<" + std::string(py::str(py::type::handle_of(f).attr("__name__"))) + ">";
}

// A readable Python file object with seek and readinto (or read).
class PyReader : public io::Reader {
 public:
  explicit PyReader(py::object f) : f_(std::move(f)), label_(describe(f_)) {
    if (!py::hasattr(f_, "read")) throw py::type_error("[load] Expected a path or a readable file object.");
    start_ = py::hasattr(f_, "tell") ? f_.attr("tell")().cast<uint64_t>() : 0;
    f_.attr("seek")(0, 2);
    size_ = f_.attr("tell")().cast<uint64_t>() - start_;
  }
  std::string label() const override { return label_; }
  uint64_t size() override { return size_; }
  uint64_t start() const { return start_; }
  void read(void* dst, size_t n, uint64_t offset) override {
    if (offset > size_ || n > size_ - offset) io::bad_file(label_, "the data ends before what it describes");
    f_.attr("seek")(start_ + offset);
    char* p = static_cast<char*>(dst);
    bool readinto = py::hasattr(f_, "readinto");
    while (n > 0) {
      size_t k = std::min<size_t>(n, size_t(1) << 28);
      size_t got;
      if (readinto) {
        py::object r = f_.attr("readinto")(py::memoryview::from_memory(p, (ssize_t)k, false));
        got = r.is_none() ? 0 : r.cast<size_t>();
      } else {
        py::bytes b = f_.attr("read")(k);
        std::string_view s = b;
        std::memcpy(p, s.data(), s.size());
        got = s.size();
      }
      if (got == 0) io::bad_file(label_, "the file ends before the data it describes");
      p += got;
      n -= got;
    }
  }

 private:
  py::object f_;
  std::string label_;
  uint64_t start_ = 0, size_ = 0;
};

class PyWriter : public io::Writer {
 public:
  explicit PyWriter(py::object f, const char* op) : f_(std::move(f)), label_(describe(f_)) {
    if (!py::hasattr(f_, "write"))
      throw py::type_error(std::string("[") + op + "] Expected a path or a writable file object.");
  }
  std::string label() const override { return label_; }
  void write(const void* src, size_t n) override {
    if (n) f_.attr("write")(py::memoryview::from_memory(src, (ssize_t)n));
  }

 private:
  py::object f_;
  std::string label_;
};

// Collects what is written, for a member of a zip archive.
class StringWriter : public io::Writer {
 public:
  std::string label() const override { return "<memory>"; }
  void write(const void* src, size_t n) override { buf.append(static_cast<const char*>(src), n); }
  std::string buf;
};

std::string with_suffix(std::string p, const std::string& ext) {
  if (p.size() < ext.size() || p.compare(p.size() - ext.size(), ext.size(), ext) != 0) p += ext;
  return p;
}

ArrayMap to_array_map(const py::handle& d, const char* op) {
  if (!PyDict_Check(d.ptr()))
    throw py::type_error(std::string("[") + op + "] Expected a dict of arrays.");
  ArrayMap m;
  for (auto [k, v] : py::reinterpret_borrow<py::dict>(d)) {
    if (!PyUnicode_Check(k.ptr())) throw py::type_error(std::string("[") + op + "] Keys must be strings.");
    m.emplace(k.cast<std::string>(), to_array(v));
  }
  return m;
}

// Format from the name's extension, or from the first bytes.
std::string sniff(io::Reader& in) {
  char b[8] = {};
  size_t n = (size_t)std::min<uint64_t>(8, in.size());
  in.read(b, n, 0);
  if (n >= 6 && std::memcmp(b, "\x93NUMPY", 6) == 0) return "npy";
  if (n >= 4 && std::memcmp(b, "PK\x03\x04", 4) == 0) return "npz";
  if (n >= 4 && std::memcmp(b, "GGUF", 4) == 0) return "gguf";
  return "safetensors";
}

py::object load_npz(const py::object& file) {
  py::module_ zipfile = py::module_::import("zipfile");
  // A corrupt archive shows up as whatever zipfile or zlib trips on (BadZipFile, zlib.error,
  // EOFError, OSError from a wild seek, ...): all of it is a bad file here.
  auto bad_archive = [&](py::error_already_set& e) {
    if (e.matches(PyExc_MemoryError) || e.matches(PyExc_KeyboardInterrupt)) throw;
    throw std::invalid_argument("[load] " + describe(file) + ": not a valid .npz archive (" +
                                std::string(py::str(py::type::handle_of(e.value()).attr("__name__"))) + ": " +
                                std::string(py::str(e.value())) + ").");
  };
  py::object zf;
  try {
    zf = zipfile.attr("ZipFile")(file, "r");
  } catch (py::error_already_set& e) {
    bad_archive(e);
  }
  py::dict out;
  try {
    for (auto name : zf.attr("namelist")()) {
      std::string n = name.cast<std::string>();
      py::bytes data = zf.attr("read")(name);
      std::string_view v = data;
      std::string key = n.size() > 4 && n.compare(n.size() - 4, 4, ".npy") == 0 ? n.substr(0, n.size() - 4) : n;
      auto r = io::memory_reader(v.data(), v.size(), describe(file) + "[" + n + "]");
      out[py::str(key)] = load_npy(*r);
    }
  } catch (py::error_already_set& e) {
    zf.attr("close")();
    bad_archive(e);
  } catch (...) {
    zf.attr("close")();
    throw;
  }
  zf.attr("close")();
  return out;
}

py::object gguf_value(const GGUFValue& v) {
  if (auto* s = std::get_if<std::string>(&v)) return py::str(*s);
  if (auto* l = std::get_if<std::vector<std::string>>(&v)) return py::cast(*l);
  return py::cast(std::get<array>(v));
}

py::object load(const py::object& file, const py::object& format, bool return_metadata) {
  std::unique_ptr<io::Reader> in;
  std::string fmt;
  auto check = [&]() {
    if (fmt != "npy" && fmt != "npz" && fmt != "safetensors" && fmt != "gguf")
      throw py::value_error("[load] Unknown file format " + fmt + ".");
    if (return_metadata && (fmt == "npy" || fmt == "npz"))
      throw py::value_error("[load] metadata is only returned for the safetensors and gguf formats.");
  };
  if (!format.is_none()) fmt = format.cast<std::string>();
  if (is_path(file)) {
    std::string p = fspath(file);
    if (format.is_none()) {
      auto dot = p.rfind('.');
      if (dot == std::string::npos || p.find('/', dot) != std::string::npos)
        throw py::value_error("[load] Could not infer the file format of " + p +
                              " from its name: give format= ('npy', 'npz', 'safetensors' or 'gguf').");
      fmt = p.substr(dot + 1);
    }
    check();
    in = io::open_reader(p);
  } else {
    in = std::make_unique<PyReader>(file);
    if (format.is_none()) fmt = sniff(*in);
    check();
  }
  if (fmt == "npy") return py::cast(load_npy(*in));
  if (fmt == "npz") {
    if (is_path(file)) {
      in.reset();
      return load_npz(py::str(fspath(file)));
    }
    file.attr("seek")(static_cast<PyReader*>(in.get())->start());
    return load_npz(file);
  }
  if (fmt == "safetensors") {
    auto [arrays, meta] = load_safetensors(*in);
    py::object a = py::cast(arrays);
    if (!return_metadata) return a;
    return py::make_tuple(a, py::cast(meta));
  }
  auto [arrays, meta] = load_gguf(*in);
  py::object a = py::cast(arrays);
  if (!return_metadata) return a;
  py::dict m;
  for (auto& [k, v] : meta) m[py::str(k)] = gguf_value(v);
  return py::make_tuple(a, m);
}

template <typename F>
void with_writer(const py::object& file, const char* ext, const char* op, F&& f) {
  if (is_path(file)) {
    f(nullptr, with_suffix(fspath(file), ext));
  } else {
    PyWriter w(file, op);
    f(&w, std::string());
  }
}

void savez(const py::object& file, py::args args, py::kwargs kwargs, bool compressed) {
  const char* op = compressed ? "savez_compressed" : "savez";
  std::vector<std::pair<std::string, array>> items;
  for (size_t i = 0; i < args.size(); ++i) items.emplace_back("arr_" + std::to_string(i), to_array(args[i]));
  for (auto [k, v] : kwargs) {
    std::string key = k.cast<std::string>();
    for (auto& it : items)
      if (it.first == key)
        throw py::value_error(std::string("[") + op + "] Cannot use un-named variables and keyword " + key + ".");
    items.emplace_back(key, to_array(v));
  }
  for (auto& it : items) it.second = io::contiguous_host(it.second);
  py::module_ zipfile = py::module_::import("zipfile");
  py::object target = is_path(file) ? py::object(py::str(with_suffix(fspath(file), ".npz"))) : file;
  py::object zf = zipfile.attr("ZipFile")(target, "w", compressed ? zipfile.attr("ZIP_DEFLATED")
                                                                   : zipfile.attr("ZIP_STORED"),
                                          "allowZip64"_a = true);
  try {
    for (auto& [k, a] : items) {
      StringWriter w;
      save_npy(w, a);
      zf.attr("writestr")(k + ".npy", py::bytes(w.buf));
    }
  } catch (...) {
    zf.attr("close")();
    throw;
  }
  zf.attr("close")();
}

GGUFMeta to_gguf_meta(const py::handle& m) {
  GGUFMeta out;
  if (m.is_none()) return out;
  if (!PyDict_Check(m.ptr())) throw py::type_error("[save_gguf] metadata must be a dict.");
  for (auto [k, v] : py::reinterpret_borrow<py::dict>(m)) {
    std::string key = k.cast<std::string>();
    if (PyUnicode_Check(v.ptr())) {
      out[key] = v.cast<std::string>();
    } else if (PyList_Check(v.ptr()) || PyTuple_Check(v.ptr())) {
      std::vector<std::string> l;
      for (auto s : v) {
        if (!PyUnicode_Check(s.ptr()))
          throw py::type_error("[save_gguf] Metadata '" + key + "': a list must hold only strings.");
        l.push_back(s.cast<std::string>());
      }
      out[key] = l;
    } else if (py::isinstance<array>(v)) {
      out[key] = v.cast<array>();
    } else {
      throw py::type_error("[save_gguf] Metadata '" + key + "' must be an array, a string or a list of strings.");
    }
  }
  return out;
}

}  // namespace

void init_io(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const file_not_found& e) {
      PyErr_SetString(PyExc_FileNotFoundError, e.what());
    } catch (const std::system_error& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    }
  });

  m.def("load", [](const py::object& file, const py::object& format, bool return_metadata,
                   const py::object& /*stream*/) { return load(file, format, return_metadata); },
        "file"_a, py::pos_only(), "format"_a = py::none(), "return_metadata"_a = false, py::kw_only(),
        "stream"_a = py::none(),
        "Load arrays from a .npy, .npz, .safetensors or .gguf file (a path or a file object).");
  m.def("save", [](const py::object& file, const py::object& arr) {
          array a = to_array(arr);
          with_writer(file, ".npy", "save", [&](io::Writer* w, const std::string& p) {
            if (w) save_npy(*w, a);
            else save_npy(p, a);
          });
        },
        "file"_a, "arr"_a, "Save an array to a .npy file.");
  m.def("savez", [](const py::object& file, py::args args, py::kwargs kwargs) { savez(file, args, kwargs, false); },
        "file"_a, "Save several arrays to an uncompressed .npz archive.");
  m.def("savez_compressed",
        [](const py::object& file, py::args args, py::kwargs kwargs) { savez(file, args, kwargs, true); },
        "file"_a, "Save several arrays to a compressed .npz archive.");
  m.def("save_safetensors", [](const py::object& file, const py::object& arrays, const py::object& metadata) {
          ArrayMap a = to_array_map(arrays, "save_safetensors");
          StringMap meta;
          if (!metadata.is_none()) {
            if (!PyDict_Check(metadata.ptr())) throw py::type_error("[save_safetensors] metadata must be a dict.");
            for (auto [k, v] : py::reinterpret_borrow<py::dict>(metadata)) {
              if (!PyUnicode_Check(k.ptr()) || !PyUnicode_Check(v.ptr()))
                throw py::value_error("[save_safetensors] Metadata must be a dictionary with string keys and values.");
              meta[k.cast<std::string>()] = v.cast<std::string>();
            }
          }
          with_writer(file, ".safetensors", "save_safetensors", [&](io::Writer* w, const std::string& p) {
            if (w) save_safetensors(*w, a, meta);
            else save_safetensors(p, a, meta);
          });
        },
        "file"_a, "arrays"_a, "metadata"_a = py::none(), "Save a dict of arrays to a .safetensors file.");
  m.def("save_gguf", [](const py::object& file, const py::object& arrays, const py::object& metadata) {
          ArrayMap a = to_array_map(arrays, "save_gguf");
          GGUFMeta meta = to_gguf_meta(metadata);
          with_writer(file, ".gguf", "save_gguf", [&](io::Writer* w, const std::string& p) {
            if (w) save_gguf(*w, a, meta);
            else save_gguf(p, a, meta);
          });
        },
        "file"_a, "arrays"_a, "metadata"_a = py::none(), "Save a dict of arrays (and metadata) to a .gguf file.");
}
