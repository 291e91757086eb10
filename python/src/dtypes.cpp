// Dtype categories and queries (issubdtype, isdtype, can_cast, finfo, iinfo) and the
// print options, as mlx.core offers them.
#include <pybind11/native_enum.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "utils.h"

using namespace pybind11::literals;

namespace {

// The abstract kinds of dtypes, numbered as MLX numbers them.
enum class Category {
  complexfloating = 0,
  floating,
  inexact,
  signedinteger,
  unsignedinteger,
  integer,
  number,
  generic,
};

// The category one level above `c` (generic is the top).
Category parent(Category c) {
  switch (c) {
    case Category::complexfloating:
    case Category::floating: return Category::inexact;
    case Category::signedinteger:
    case Category::unsignedinteger: return Category::integer;
    case Category::inexact:
    case Category::integer: return Category::number;
    default: return Category::generic;
  }
}

bool category_within(Category c, Category of) {
  while (true) {
    if (c == of) return true;
    if (c == Category::generic) return false;
    c = parent(c);
  }
}

// The closest category of a dtype (bool sits right under generic).
Category category_of(Dtype t) {
  switch (kind(t)) {
    case DtypeKind::Bool: return Category::generic;
    case DtypeKind::Unsigned: return Category::unsignedinteger;
    case DtypeKind::Signed: return Category::signedinteger;
    case DtypeKind::Floating: return Category::floating;
    default: return Category::complexfloating;
  }
}

// What issubdtype compares: a dtype or a category.
struct DtypeOrCategory {
  bool is_dtype;
  Dtype d;
  Category c;
};

bool read_dtype_or_category(const py::handle& o, DtypeOrCategory& out) {
  if (py::isinstance<DtypeObj>(o)) {
    out = {true, o.cast<DtypeObj>().d, Category::generic};
    return true;
  }
  py::detail::make_caster<Category> cat;
  if (cat.load(o, false)) {
    out = {false, float32, py::detail::cast_op<Category>(cat)};
    return true;
  }
  return false;
}

bool issubdtype(const DtypeOrCategory& a, const DtypeOrCategory& b) {
  if (a.is_dtype && b.is_dtype) return a.d == b.d;
  if (b.is_dtype) return false;  // a category is never inside a single dtype
  if (a.is_dtype) return a.d == bool_ ? b.c == Category::generic : category_within(category_of(a.d), b.c);
  return category_within(a.c, b.c);
}

bool isdtype_kind(Dtype t, const std::string& k) {
  if (k == "bool") return t == bool_;
  if (k == "signed integer") return kind(t) == DtypeKind::Signed;
  if (k == "unsigned integer") return kind(t) == DtypeKind::Unsigned;
  if (k == "integral") return is_integral(t);
  if (k == "real floating") return is_floating_point(t);
  if (k == "complex floating") return is_complex(t);
  if (k == "numeric") return t != bool_;
  throw py::value_error("[isdtype] Unknown data type kind: '" + k + "'.");
}

bool isdtype_one(Dtype t, const py::handle& k) {
  if (py::isinstance<DtypeObj>(k)) return k.cast<DtypeObj>().d == t;
  if (py::isinstance<py::str>(k)) return isdtype_kind(t, k.cast<std::string>());
  throw py::value_error("[isdtype] `kind` must be a dtype, a string, or a tuple of dtypes and strings.");
}

std::string g6(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

struct FInfo {
  Dtype dtype;
  double min, max, eps, smallest_normal;
  int bits;
};

FInfo make_finfo(Dtype t) {
  if (!is_inexact(t))
    throw py::value_error(std::string("[finfo] dtype ") + dtype_name(t) + " is not inexact.");
  if (t == complex64) t = float32;  // the type of each part
  switch (t) {
    case float16: return {t, -65504.0, 65504.0, std::ldexp(1.0, -10), std::ldexp(1.0, -14), 16};
    case bfloat16:
      return {t, -3.3895313892515355e+38, 3.3895313892515355e+38, std::ldexp(1.0, -7),
              (double)std::numeric_limits<float>::min(), 16};
    case float64:
      return {t, std::numeric_limits<double>::lowest(), std::numeric_limits<double>::max(),
              std::numeric_limits<double>::epsilon(), std::numeric_limits<double>::min(), 64};
    default:
      return {t, (double)std::numeric_limits<float>::lowest(), (double)std::numeric_limits<float>::max(),
              (double)std::numeric_limits<float>::epsilon(), (double)std::numeric_limits<float>::min(), 32};
  }
}

struct IInfo {
  Dtype dtype;
};

py::int_ iinfo_min(Dtype t) {
  if (kind(t) == DtypeKind::Unsigned) return py::int_(0);
  return py::int_(-(int64_t)1 << (8 * size_of(t) - 1));
}
py::int_ iinfo_max(Dtype t) {
  if (kind(t) == DtypeKind::Unsigned)
    return py::int_(size_of(t) == 8 ? std::numeric_limits<uint64_t>::max() : ((uint64_t)1 << (8 * size_of(t))) - 1);
  return py::int_(((uint64_t)1 << (8 * size_of(t) - 1)) - 1);
}

struct PrintOptions {
  int precision = -1;
};

// `with printoptions(...)`: sets the options on entry and restores the previous ones on exit.
struct PrintOptionsContext {
  PrintOptions options;
  int previous = -1;
};

}  // namespace

void init_dtypes(py::module_& m) {
  py::native_enum<Category>(m, "DtypeCategory", "enum.Enum",
                            "The kinds of dtypes: generic > bool_ and number; number > integer and "
                            "inexact; integer > signedinteger and unsignedinteger; inexact > "
                            "floating and complexfloating.")
      .value("complexfloating", Category::complexfloating)
      .value("floating", Category::floating)
      .value("inexact", Category::inexact)
      .value("signedinteger", Category::signedinteger)
      .value("unsignedinteger", Category::unsignedinteger)
      .value("integer", Category::integer)
      .value("number", Category::number)
      .value("generic", Category::generic)
      .export_values()
      .finalize();

  m.def("issubdtype", [](const py::object& arg1, const py::object& arg2) {
    DtypeOrCategory a, b;
    if (!read_dtype_or_category(arg1, a))
      throw py::value_error("[issubdtype] Received invalid type for first input.");
    if (!read_dtype_or_category(arg2, b))
      throw py::value_error("[issubdtype] Received invalid type for second input.");
    return issubdtype(a, b);
  }, "arg1"_a, "arg2"_a,
     "Whether a dtype or category (arg1) lies within another dtype or category (arg2).");

  m.def("isdtype", [](Dtype dtype, const py::object& kind) {
    if (py::isinstance<py::tuple>(kind)) {
      for (auto k : kind)
        if (isdtype_one(dtype, k)) return true;
      return false;
    }
    return isdtype_one(dtype, kind);
  }, "dtype"_a, "kind"_a,
     "Whether `dtype` is one of the given dtypes or kinds (\"bool\", \"signed integer\", "
     "\"unsigned integer\", \"integral\", \"real floating\", \"complex floating\", \"numeric\").");

  m.def("can_cast", [](const py::object& from, Dtype to) {
    Dtype f;
    if (py::isinstance<array>(from)) f = from.cast<array>().dtype();
    else if (py::isinstance<DtypeObj>(from)) f = from.cast<DtypeObj>().d;
    else throw py::value_error("[can_cast] `from_` must be an array or a dtype.");
    return can_cast(f, to);
  }, "from_"_a, "to"_a, "Whether promoting `from_` with `to` gives `to`.");

  py::class_<FInfo>(m, "finfo", "Limits of a floating-point dtype (of each part, for complex64).")
      .def(py::init([](Dtype t) { return make_finfo(t); }), py::arg("arg"), py::pos_only())
      .def_readonly("min", &FInfo::min)
      .def_readonly("max", &FInfo::max)
      .def_readonly("eps", &FInfo::eps)
      .def_readonly("smallest_normal", &FInfo::smallest_normal)
      .def_readonly("bits", &FInfo::bits)
      .def_property_readonly("dtype", [](const FInfo& f) { return f.dtype; })
      .def("__repr__", [](const FInfo& f) {
        return "finfo(min=" + g6(f.min) + ", max=" + g6(f.max) + ", dtype=" + dtype_name(f.dtype) + ")";
      });

  py::class_<IInfo>(m, "iinfo", "Limits of an integer dtype.")
      .def(py::init([](Dtype t) {
        if (!is_integral(t))
          throw py::value_error(std::string("[iinfo] Only integer types supported but ") + dtype_name(t) +
                                " was provided");
        return IInfo{t};
      }), py::arg("arg"), py::pos_only())
      .def_property_readonly("min", [](const IInfo& i) { return iinfo_min(i.dtype); })
      .def_property_readonly("max", [](const IInfo& i) { return iinfo_max(i.dtype); })
      .def_property_readonly("dtype", [](const IInfo& i) { return i.dtype; })
      .def("__repr__", [](const IInfo& i) {
        return "iinfo(min=" + std::string(py::str(iinfo_min(i.dtype))) + ", max=" +
               std::string(py::str(iinfo_max(i.dtype))) + ", dtype=" + dtype_name(i.dtype) + ")";
      });

  py::class_<PrintOptions>(m, "PrintOptions", "How arrays print: `precision` decimals (-1: 6 "
                                              "significant digits).")
      .def(py::init([](int p) { return PrintOptions{p}; }), "precision"_a = -1)
      .def_readwrite("precision", &PrintOptions::precision);
  py::class_<PrintOptionsContext>(m, "_PrintOptionsContext")
      .def("__enter__", [](py::object self) {
        auto& c = self.cast<PrintOptionsContext&>();
        c.previous = print_precision();
        set_print_precision(c.options.precision);
        return self;
      })
      .def("__exit__", [](PrintOptionsContext& c, py::args) { set_print_precision(c.previous); });
  m.def("printoptions", [](int precision) { return PrintOptionsContext{PrintOptions{precision}, -1}; },
        "precision"_a = -1, "A context manager that sets the print options while it is active.");
  m.def("set_printoptions", [](int precision) { set_print_precision(precision); }, "precision"_a = -1,
        "Set the print options: `precision` decimals (-1: 6 significant digits).");
  m.def("get_printoptions", []() { return PrintOptions{print_precision()}; },
        "The current print options.");
}
