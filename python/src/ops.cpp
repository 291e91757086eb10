// Module-level ops, and the same ops as array methods.
#include <algorithm>

#include "utils.h"

using namespace pybind11::literals;

namespace {

inline StreamOrDevice sd(const py::object& s) { return to_stream_or_device(s); }
inline array A(const py::object& o) { return to_array(o); }
// A single axis: an integer (a tuple or list here is a TypeError, as MLX).
inline int int_axis(const py::object& axis) {
  if (!PyIndex_Check(axis.ptr()))
    throw py::type_error("[axis] Expected an integer axis; got " +
                         std::string(py::str(py::type::handle_of(axis).attr("__name__"))) + ".");
  return axis.cast<int>();
}

template <typename F, typename... Extra>
void def_both(py::module_& m, py::class_<array>& cls, const char* name, F f, const char* doc,
              py::arg first, Extra... extra) {
  m.def(name, f, doc, first, extra...);
  cls.def(name, f, doc, extra...);
}

std::optional<array> opt_array(const py::object& o, const array& like) {
  if (o.is_none()) return std::nullopt;
  return to_array_like(o, like);
}

}  // namespace

void init_ops(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<array>>(m.attr("array"));
  auto none = py::none();

  // ---------- elementwise, one input
#define EMBER_UNARY(NAME, FN)                                                                \
  def_both(m, cls, NAME, [](const py::object& a, const py::object& s) { return FN(A(a), sd(s)); }, \
           "Elementwise " NAME ".", "a"_a, py::kw_only(), "stream"_a = none);
  EMBER_UNARY("negative", negative)
  EMBER_UNARY("abs", abs)
  EMBER_UNARY("sign", sign)
  EMBER_UNARY("square", square)
  EMBER_UNARY("sqrt", sqrt)
  EMBER_UNARY("rsqrt", rsqrt)
  EMBER_UNARY("reciprocal", reciprocal)
  EMBER_UNARY("exp", exp)
  EMBER_UNARY("expm1", expm1)
  EMBER_UNARY("log", log)
  EMBER_UNARY("log1p", log1p)
  EMBER_UNARY("log2", log2)
  EMBER_UNARY("log10", log10)
  EMBER_UNARY("sin", sin)
  EMBER_UNARY("cos", cos)
  EMBER_UNARY("tan", tan)
  EMBER_UNARY("arcsin", arcsin)
  EMBER_UNARY("arccos", arccos)
  EMBER_UNARY("arctan", arctan)
  EMBER_UNARY("sinh", sinh)
  EMBER_UNARY("cosh", cosh)
  EMBER_UNARY("tanh", tanh)
  EMBER_UNARY("arcsinh", arcsinh)
  EMBER_UNARY("arccosh", arccosh)
  EMBER_UNARY("arctanh", arctanh)
  EMBER_UNARY("sigmoid", sigmoid)
  EMBER_UNARY("erf", erf)
  EMBER_UNARY("erfinv", erfinv)
  EMBER_UNARY("floor", floor)
  EMBER_UNARY("ceil", ceil)
  EMBER_UNARY("logical_not", logical_not)
#define EMBER_UNARY_POS_STREAM(NAME, FN)                                                     \
  m.def(NAME, [](const py::object& a, const py::object& s) { return FN(A(a), sd(s)); },       \
        "Elementwise " NAME ".", "a"_a, "stream"_a = none);
  EMBER_UNARY_POS_STREAM("isnan", isnan)
  EMBER_UNARY_POS_STREAM("isinf", isinf)
  EMBER_UNARY_POS_STREAM("isfinite", isfinite)
  EMBER_UNARY_POS_STREAM("isposinf", isposinf)
  EMBER_UNARY_POS_STREAM("isneginf", isneginf)
  // real and imag: functions, and properties of the array (as MLX).
  m.def("real", [](const py::object& a, const py::object& s) { return real(A(a), sd(s)); },
        "Elementwise real.", "a"_a, py::kw_only(), "stream"_a = none);
  m.def("imag", [](const py::object& a, const py::object& s) { return imag(A(a), sd(s)); },
        "Elementwise imag.", "a"_a, py::kw_only(), "stream"_a = none);
  cls.def_property_readonly("real", [](const array& a) { return real(a); }, "The real part.");
  cls.def_property_readonly("imag", [](const array& a) { return imag(a); }, "The imaginary part.");
  EMBER_UNARY("conjugate", conjugate)
  EMBER_UNARY("conj", conjugate)
  EMBER_UNARY_POS_STREAM("bitwise_invert", bitwise_invert)
#undef EMBER_UNARY_POS_STREAM
  EMBER_UNARY("stop_gradient", stop_gradient)
  EMBER_UNARY("copy", copy)
#undef EMBER_UNARY
  m.def("round", [](const py::object& a, int decimals, const py::object& s) { return round(A(a), decimals, sd(s)); },
        "Round to the given number of decimals.", "a"_a, "decimals"_a = 0, "stream"_a = none);
  cls.def("round", [](const array& a, int decimals, const py::object& s) { return round(a, decimals, sd(s)); },
          "Round to the given number of decimals.", "decimals"_a = 0, py::kw_only(), "stream"_a = none);

  // ---------- elementwise, two inputs
#define EMBER_BINARY(NAME, FN)                                                        \
  m.def(NAME,                                                                         \
        [](const py::object& a, const py::object& b, const py::object& s) {           \
          auto [x, y] = to_arrays(a, b);                                              \
          return FN(x, y, sd(s));                                                     \
        },                                                                            \
        "Elementwise " NAME " with broadcasting.", "a"_a, "b"_a, py::kw_only(), "stream"_a = none);
  // MLX takes the stream of these by position too.
#define EMBER_BINARY_POS_STREAM(NAME, FN)                                             \
  m.def(NAME,                                                                         \
        [](const py::object& a, const py::object& b, const py::object& s) {           \
          auto [x, y] = to_arrays(a, b);                                              \
          return FN(x, y, sd(s));                                                     \
        },                                                                            \
        "Elementwise " NAME " with broadcasting.", "a"_a, "b"_a, "stream"_a = none);
  EMBER_BINARY_POS_STREAM("add", add)
  EMBER_BINARY_POS_STREAM("subtract", subtract)
  EMBER_BINARY_POS_STREAM("multiply", multiply)
  EMBER_BINARY_POS_STREAM("divide", divide)
  EMBER_BINARY_POS_STREAM("floor_divide", floor_divide)
  EMBER_BINARY_POS_STREAM("remainder", remainder)
  EMBER_BINARY("power", power)
  EMBER_BINARY("maximum", maximum)
  EMBER_BINARY("minimum", minimum)
  EMBER_BINARY("arctan2", arctan2)
  EMBER_BINARY("logaddexp", logaddexp)
  EMBER_BINARY_POS_STREAM("equal", equal)
  EMBER_BINARY_POS_STREAM("not_equal", not_equal)
  EMBER_BINARY_POS_STREAM("less", less)
  EMBER_BINARY_POS_STREAM("less_equal", less_equal)
  EMBER_BINARY_POS_STREAM("greater", greater)
  EMBER_BINARY_POS_STREAM("greater_equal", greater_equal)
  EMBER_BINARY("logical_and", logical_and)
  EMBER_BINARY("logical_or", logical_or)
  EMBER_BINARY_POS_STREAM("bitwise_and", bitwise_and)
  EMBER_BINARY_POS_STREAM("bitwise_or", bitwise_or)
  EMBER_BINARY_POS_STREAM("bitwise_xor", bitwise_xor)
  EMBER_BINARY_POS_STREAM("left_shift", left_shift)
  EMBER_BINARY_POS_STREAM("right_shift", right_shift)
  EMBER_BINARY("matmul", matmul)
  EMBER_BINARY("outer", outer)
  EMBER_BINARY("inner", inner)
#undef EMBER_BINARY
#undef EMBER_BINARY_POS_STREAM
  m.def("divmod", [](const py::object& a, const py::object& b, const py::object& s) {
    auto [x, y] = to_arrays(a, b);
    return py::make_tuple(floor_divide(x, y, sd(s)), remainder(x, y, sd(s)));
  }, "a"_a, "b"_a, "stream"_a = none);
  m.def("where", [](const py::object& c, const py::object& x, const py::object& y, const py::object& s) {
    auto [xa, ya] = to_arrays(x, y);
    return where(A(c), xa, ya, sd(s));
  }, "condition"_a, "x"_a, "y"_a, py::kw_only(), "stream"_a = none);
  m.def("clip", [](const py::object& a, const py::object& lo, const py::object& hi, const py::object& s) {
    array x = A(a);
    return clip(x, opt_array(lo, x), opt_array(hi, x), sd(s));
  }, "a"_a, "a_min"_a, "a_max"_a, py::kw_only(), "stream"_a = none);
  m.def("isclose", [](const py::object& a, const py::object& b, double rtol, double atol, bool equal_nan,
                      const py::object& s) {
    auto [x, y] = to_arrays(a, b);
    return isclose(x, y, rtol, atol, equal_nan, sd(s));
  }, "a"_a, "b"_a, "rtol"_a = 1e-5, "atol"_a = 1e-8, py::kw_only(), "equal_nan"_a = false,
        "stream"_a = none);
  m.def("allclose", [](const py::object& a, const py::object& b, double rtol, double atol, bool equal_nan,
                       const py::object& s) {
    // lazy, so that it composes with compile and vmap
    auto [x, y] = to_arrays(a, b);
    return all(isclose(x, y, rtol, atol, equal_nan, sd(s)), false, sd(s));
  }, "a"_a, "b"_a, "rtol"_a = 1e-5, "atol"_a = 1e-8, py::kw_only(), "equal_nan"_a = false,
        "stream"_a = none);
  m.def("array_equal", [](const py::object& a, const py::object& b, bool equal_nan, const py::object& s) {
    auto [x, y] = to_arrays(a, b);
    if (x.shape() != y.shape()) return array(false);
    array eq = equal(x, y, sd(s));
    if (equal_nan && is_inexact(promote_types(x.dtype(), y.dtype())))
      eq = logical_or(eq, logical_and(isnan(x, sd(s)), isnan(y, sd(s)), sd(s)), sd(s));
    return all(eq, false, sd(s));
  }, "a"_a, "b"_a, "equal_nan"_a = false, "stream"_a = none);
  m.def("addmm", [](const py::object& c, const py::object& a, const py::object& b, float alpha, float beta,
                    const py::object& s) { return addmm(A(c), A(a), A(b), alpha, beta, sd(s)); },
        "c"_a, "a"_a, "b"_a, "alpha"_a = 1.0f, "beta"_a = 1.0f, py::kw_only(), "stream"_a = none);

  // ---------- reductions
#define EMBER_REDUCE(NAME, FN)                                                                  \
  def_both(m, cls, NAME,                                                                        \
           [](const py::object& a, const py::object& axis, bool keepdims, const py::object& s) { \
             array x = A(a);                                                                    \
             return FN(x, axes_or_all(axis, x), keepdims, sd(s));                               \
           },                                                                                   \
           "Reduce with " NAME " over the given axes.", "a"_a, "axis"_a = none,                 \
           "keepdims"_a = false, py::kw_only(), "stream"_a = none);
  EMBER_REDUCE("sum", sum)
  EMBER_REDUCE("prod", prod)
  EMBER_REDUCE("max", max)
  EMBER_REDUCE("min", min)
  EMBER_REDUCE("all", all)
  EMBER_REDUCE("any", any)
  EMBER_REDUCE("mean", mean)
  EMBER_REDUCE("logsumexp", logsumexp)
#undef EMBER_REDUCE
  m.def("var", [](const py::object& a, const py::object& axis, bool keepdims, int ddof, const py::object& s) {
    array x = A(a);
    return var(x, axes_or_all(axis, x), keepdims, ddof, sd(s));
  }, "Variance.", "a"_a, "axis"_a = none, "keepdims"_a = false, "ddof"_a = 0, py::kw_only(), "stream"_a = none);
  m.def("std", [](const py::object& a, const py::object& axis, bool keepdims, int ddof, const py::object& s) {
    array x = A(a);
    return ember::std(x, axes_or_all(axis, x), keepdims, ddof, sd(s));
  }, "Standard deviation.", "a"_a, "axis"_a = none, "keepdims"_a = false, "ddof"_a = 0, py::kw_only(),
     "stream"_a = none);
  // The methods also take correction= (which, when given, replaces ddof), as MLX's do.
  cls.def("var", [](const array& x, const py::object& axis, bool keepdims, int ddof, std::optional<int> correction,
                    const py::object& s) {
    return var(x, axes_or_all(axis, x), keepdims, correction.value_or(ddof), sd(s));
  }, "Variance.", "axis"_a = none, "keepdims"_a = false, "ddof"_a = 0, py::kw_only(), "correction"_a = none,
     "stream"_a = none);
  cls.def("std", [](const array& x, const py::object& axis, bool keepdims, int ddof, std::optional<int> correction,
                    const py::object& s) {
    return ember::std(x, axes_or_all(axis, x), keepdims, correction.value_or(ddof), sd(s));
  }, "Standard deviation.", "axis"_a = none, "keepdims"_a = false, "ddof"_a = 0, py::kw_only(),
     "correction"_a = none, "stream"_a = none);
#define EMBER_ARGREDUCE(NAME, FN)                                                                \
  def_both(m, cls, NAME,                                                                         \
           [](const py::object& a, const py::object& axis, bool keepdims, const py::object& s) {  \
             array x = A(a);                                                                     \
             if (axis.is_none()) return FN(x, keepdims, sd(s));                                  \
             return FN(x, int_axis(axis), keepdims, sd(s));                                      \
           },                                                                                    \
           NAME " along an axis.", "a"_a, "axis"_a = none, "keepdims"_a = false, py::kw_only(), \
           "stream"_a = none);
  EMBER_ARGREDUCE("argmax", argmax)
  EMBER_ARGREDUCE("argmin", argmin)
#undef EMBER_ARGREDUCE
  m.def("softmax", [](const py::object& a, const py::object& axis, bool precise, const py::object& s) {
    array x = A(a);
    return softmax(x, axes_or_all(axis, x), precise, sd(s));
  }, "a"_a, "axis"_a = none, py::kw_only(), "precise"_a = false, "stream"_a = none);
#define EMBER_SCAN(NAME, FN)                                                                      \
  def_both(m, cls, NAME,                                                                          \
           [](const py::object& a, const py::object& axis, bool reverse, bool inclusive,           \
              const py::object& s) {                                                              \
             array x = A(a);                                                                      \
             if (axis.is_none()) return FN(reshape(x, {-1}), 0, reverse, inclusive, sd(s));       \
             return FN(x, int_axis(axis), reverse, inclusive, sd(s));                             \
           },                                                                                     \
           NAME " along an axis.", "a"_a, "axis"_a = none, py::kw_only(), "reverse"_a = false,    \
           "inclusive"_a = true, "stream"_a = none);
  EMBER_SCAN("cummax", cummax)
  EMBER_SCAN("cummin", cummin)
  EMBER_SCAN("logcumsumexp", logcumsumexp)
#undef EMBER_SCAN
  // The functions cumsum and cumprod take dtype=: the input is cast to it first (as MLX);
  // the array methods do not.
#define EMBER_SCAN_DTYPE(NAME, FN)                                                                \
  m.def(NAME,                                                                                     \
        [](const py::object& a, const py::object& axis, bool reverse, bool inclusive,              \
           const py::object& dtype, const py::object& s) {                                        \
          array x = A(a);                                                                         \
          if (!dtype.is_none()) x = astype(x, as_dtype(dtype), sd(s));                            \
          if (axis.is_none()) return FN(reshape(x, {-1}), 0, reverse, inclusive, sd(s));          \
          return FN(x, int_axis(axis), reverse, inclusive, sd(s));                                \
        },                                                                                        \
        NAME " along an axis.", "a"_a, "axis"_a = none, py::kw_only(), "reverse"_a = false,       \
        "inclusive"_a = true, "dtype"_a = none, "stream"_a = none);                               \
  cls.def(NAME,                                                                                   \
          [](const array& x, const py::object& axis, bool reverse, bool inclusive,                 \
             const py::object& s) {                                                               \
            if (axis.is_none()) return FN(reshape(x, {-1}), 0, reverse, inclusive, sd(s));        \
            return FN(x, int_axis(axis), reverse, inclusive, sd(s));                              \
          },                                                                                      \
          NAME " along an axis.", "axis"_a = none, py::kw_only(), "reverse"_a = false,            \
          "inclusive"_a = true, "stream"_a = none);
  EMBER_SCAN_DTYPE("cumsum", cumsum)
  EMBER_SCAN_DTYPE("cumprod", cumprod)
#undef EMBER_SCAN_DTYPE

  // ---------- shapes
  m.def("reshape", [](const py::object& a, const py::object& shape, const py::object& s) {
    return reshape(A(a), to_shape(shape, "reshape"), sd(s));
  }, "a"_a, "shape"_a, py::kw_only(), "stream"_a = none);
  cls.def("reshape", [](const array& a, py::args shape, const py::object& s) {
    Shape sh = (shape.size() == 1 && (PyList_Check(shape[0].ptr()) || PyTuple_Check(shape[0].ptr())))
                   ? to_shape(shape[0], "reshape")
                   : to_shape(shape, "reshape");
    return reshape(a, sh, sd(s));
  }, py::kw_only(), "stream"_a = none);
  def_both(m, cls, "flatten",
           [](const py::object& a, int start, int end, const py::object& s) {
             return flatten(A(a), start, end, sd(s));
           },
           "Flatten axes [start_axis, end_axis].", "a"_a, "start_axis"_a = 0, "end_axis"_a = -1,
           py::kw_only(), "stream"_a = none);
  m.def("unflatten", [](const py::object& a, int axis, const py::object& shape, const py::object& s) {
    return unflatten(A(a), axis, to_shape(shape, "unflatten"), sd(s));
  }, "a"_a, "axis"_a, "shape"_a, py::kw_only(), "stream"_a = none);
  def_both(m, cls, "squeeze",
           [](const py::object& a, const py::object& axis, const py::object& s) {
             array x = A(a);
             if (axis.is_none()) return squeeze(x, sd(s));
             return squeeze(x, *to_axes(axis), sd(s));
           },
           "Remove size-1 axes.", "a"_a, "axis"_a = none, py::kw_only(), "stream"_a = none);
  m.def("expand_dims", [](const py::object& a, const py::object& axis, const py::object& s) {
    return expand_dims(A(a), *to_axes(axis), sd(s));
  }, "a"_a, "axis"_a, py::kw_only(), "stream"_a = none);
  m.def("transpose", [](const py::object& a, const py::object& axes, const py::object& s) {
    array x = A(a);
    if (axes.is_none()) return transpose(x, sd(s));
    return transpose(x, *to_axes(axes), sd(s));
  }, "a"_a, "axes"_a = none, py::kw_only(), "stream"_a = none);
  m.def("permute_dims", [](const py::object& a, const py::object& axes, const py::object& s) {
    array x = A(a);
    if (axes.is_none()) return transpose(x, sd(s));
    return transpose(x, *to_axes(axes), sd(s));
  }, "a"_a, "axes"_a = none, py::kw_only(), "stream"_a = none);
  cls.def("transpose", [](const array& a, py::args axes, const py::object& s) {
    if (axes.size() == 0) return transpose(a, sd(s));
    if (axes.size() == 1 && !PyLong_Check(axes[0].ptr())) {
      if (axes[0].is_none()) return transpose(a, sd(s));
      return transpose(a, *to_axes(py::reinterpret_borrow<py::object>(axes[0])), sd(s));
    }
    return transpose(a, axes.cast<std::vector<int>>(), sd(s));
  }, py::kw_only(), "stream"_a = none);
  def_both(m, cls, "swapaxes",
           [](const py::object& a, int a1, int a2, const py::object& s) { return swapaxes(A(a), a1, a2, sd(s)); },
           "Swap two axes.", "a"_a, "axis1"_a, "axis2"_a, py::kw_only(), "stream"_a = none);
  def_both(m, cls, "moveaxis",
           [](const py::object& a, int src, int dst, const py::object& s) { return moveaxis(A(a), src, dst, sd(s)); },
           "Move an axis.", "a"_a, "source"_a, "destination"_a, py::kw_only(), "stream"_a = none);
  m.def("broadcast_to", [](const py::object& a, const py::object& shape, const py::object& s) {
    return broadcast_to(A(a), to_shape(shape, "broadcast_to"), sd(s));
  }, "a"_a, "shape"_a, py::kw_only(), "stream"_a = none);
  m.def("broadcast_arrays", [](py::args arrays, const py::object& s) {
    std::vector<array> xs;
    for (auto a : arrays) xs.push_back(A(py::reinterpret_borrow<py::object>(a)));
    return broadcast_arrays(xs, sd(s));
  }, py::kw_only(), "stream"_a = none);
  m.def("broadcast_shapes", [](py::args shapes) {
    Shape out;
    for (auto sh : shapes) out = broadcast_shapes(out, to_shape(sh, "broadcast_shapes"));
    return py::tuple(py::cast(out));
  });
  auto to_list = [](const py::object& arrays) {
    std::vector<array> xs;
    for (auto a : arrays) xs.push_back(A(py::reinterpret_borrow<py::object>(a)));
    return xs;
  };
  m.def("concatenate", [to_list](const py::object& arrays, const py::object& axis, const py::object& s) {
    if (axis.is_none()) return concatenate(to_list(arrays), sd(s));
    return concatenate(to_list(arrays), int_axis(axis), sd(s));
  }, "arrays"_a, "axis"_a = 0, py::kw_only(), "stream"_a = none);
  m.attr("concat") = m.attr("concatenate");
  m.def("stack", [to_list](const py::object& arrays, int axis, const py::object& s) {
    return stack(to_list(arrays), axis, sd(s));
  }, "arrays"_a, "axis"_a = 0, py::kw_only(), "stream"_a = none);
  def_both(m, cls, "split",
           [](const py::object& a, const py::object& ind, int axis, const py::object& s) {
             // An int (numpy's too) is a number of sections; a sequence, split indices.
             bool sections = PyLong_Check(ind.ptr()) ||
                             (!PyFloat_Check(ind.ptr()) && PyIndex_Check(ind.ptr()) &&
                              !(py::isinstance<py::array>(ind) && py::reinterpret_borrow<py::array>(ind).ndim() > 0));
             if (sections) return split(A(a), to_dim(ind, "split"), axis, sd(s));
             return split(A(a), to_shape(ind, "split"), axis, sd(s));
           },
           "Split along an axis.", "a"_a, "indices_or_sections"_a, "axis"_a = 0, py::kw_only(),
           "stream"_a = none);
  m.def("repeat", [](const py::object& a, const py::object& reps, const py::object& axis, const py::object& s) {
    int repeats = to_dim(reps, "repeat");
    if (axis.is_none()) return repeat(A(a), repeats, sd(s));
    return repeat(A(a), repeats, int_axis(axis), sd(s));
  }, "array"_a, "repeats"_a, "axis"_a = none, py::kw_only(), "stream"_a = none);
  m.def("tile", [](const py::object& a, const py::object& reps, const py::object& s) {
    return tile(A(a), to_shape(reps, "tile"), sd(s));
  }, "a"_a, "reps"_a, py::kw_only(), "stream"_a = none);
  m.def("pad", [](const py::object& a, const py::object& pw, const py::object& mode_arg, py::object cv,
                  const py::object& s) {
    array x = A(a);
    std::string mode = "constant";
    if (py::isinstance<py::str>(mode_arg)) mode = mode_arg.cast<std::string>();
    else if (!mode_arg.is_none()) cv = mode_arg;  // pad(a, width, value): the value in third place

    std::vector<std::pair<int, int>> p;
    auto width = [](py::handle w) { return (int)to_dim(w, "pad"); };
    if (PyLong_Check(pw.ptr())) {
      p.assign(x.ndim(), {width(pw), width(pw)});
    } else {
      auto seq = pw.cast<py::sequence>();
      if (py::len(seq) > 0 && PyLong_Check(seq[0].ptr())) {
        if (py::len(seq) == 1) p.assign(x.ndim(), {width(seq[0]), width(seq[0])});
        else p.assign(x.ndim(), {width(seq[0]), width(seq[1])});
      } else if (py::len(seq) == 1) {
        auto pr = to_shape(seq[0], "pad");
        p.assign(x.ndim(), {pr.at(0), pr.size() > 1 ? pr[1] : pr[0]});
      } else {
        for (auto e : seq) {
          auto pr = to_shape(e, "pad");
          p.emplace_back(pr.at(0), pr.size() > 1 ? pr[1] : pr[0]);
        }
      }
    }
    return pad(x, p, to_array_like(cv, x), mode, sd(s));
  }, "a"_a, "pad_width"_a, "mode"_a = "constant", "constant_values"_a = 0, py::kw_only(),
     "stream"_a = none);
  // atleast_nd(a) gives an array, atleast_nd(a, b, ...) a list (as MLX).
#define EMBER_ATLEAST(NAME, FN)                                                   \
  m.def(NAME, [](py::args arys, const py::object& s) -> py::object {            \
    if (arys.size() == 1) return py::cast(FN(A(arys[0]), sd(s)));                \
    py::list out;                                                                \
    for (auto a : arys) out.append(FN(A(py::reinterpret_borrow<py::object>(a)), sd(s))); \
    return std::move(out);                                                       \
  }, py::kw_only(), "stream"_a = none);
  EMBER_ATLEAST("atleast_1d", atleast_1d)
  EMBER_ATLEAST("atleast_2d", atleast_2d)
  EMBER_ATLEAST("atleast_3d", atleast_3d)
#undef EMBER_ATLEAST
  m.def("as_strided", [](const py::object& a, const py::object& shape, const py::object& strides,
                         size_t offset, const py::object& s) {
    array x = A(a);
    Shape sh = shape.is_none() ? x.shape() : to_shape(shape, "as_strided");
    Strides st;
    if (strides.is_none()) st = row_strides(sh);
    else for (auto v : strides.cast<py::sequence>()) st.push_back(v.cast<int64_t>());
    return as_strided(x, sh, st, offset, sd(s));
  }, "a"_a, "shape"_a = none, "strides"_a = none, "offset"_a = 0, py::kw_only(), "stream"_a = none);

  // ---------- indexing
  m.def("take", [](const py::object& a, const py::object& idx, const py::object& axis, const py::object& s) {
    array x = A(a);
    if (PyLong_Check(idx.ptr()) && !axis.is_none()) return take(x, idx.cast<int>(), int_axis(axis), sd(s));
    if (axis.is_none()) return take(x, A(idx), sd(s));
    return take(x, A(idx), int_axis(axis), sd(s));
  }, "a"_a, "indices"_a, "axis"_a = none, py::kw_only(), "stream"_a = none);
  m.def("take_along_axis", [](const py::object& a, const py::object& idx, const py::object& axis,
                              const py::object& s) {
    array x = A(a);
    if (axis.is_none()) return take_along_axis(reshape(x, {-1}), reshape(A(idx), {-1}), 0, sd(s));
    return take_along_axis(x, A(idx), int_axis(axis), sd(s));
  }, "a"_a, "indices"_a, "axis"_a = -1, py::kw_only(), "stream"_a = none);
  m.def("put_along_axis", [](const py::object& a, const py::object& idx, const py::object& vals,
                             const py::object& axis, const py::object& s) {
    array x = A(a);
    if (axis.is_none())
      return reshape(put_along_axis(reshape(x, {-1}), reshape(A(idx), {-1}), to_array_like(vals, x), 0, sd(s)),
                     x.shape(), sd(s));
    return put_along_axis(x, A(idx), to_array_like(vals, x), int_axis(axis), sd(s));
  }, "a"_a, "indices"_a, "values"_a, "axis"_a = none, py::kw_only(), "stream"_a = none);

  // ---------- creation
  auto dtype_or = [](const py::object& d, Dtype def) { return d.is_none() ? def : as_dtype(d); };
  m.def("zeros", [dtype_or](const py::object& shape, const py::object& dtype, const py::object& s) {
    return zeros(to_shape(shape, "zeros"), dtype_or(dtype, float32), sd(s));
  }, "shape"_a, py::arg_v("dtype", float32, "float32"), py::kw_only(), "stream"_a = none);
  m.def("ones", [dtype_or](const py::object& shape, const py::object& dtype, const py::object& s) {
    return ones(to_shape(shape, "ones"), dtype_or(dtype, float32), sd(s));
  }, "shape"_a, py::arg_v("dtype", float32, "float32"), py::kw_only(), "stream"_a = none);
  m.def("full", [dtype_or](const py::object& shape, const py::object& vals, const py::object& dtype,
                           const py::object& s) {
    // A Python integer must fit the requested integer dtype (as an operand beside such an array).
    array v = !dtype.is_none() && PyLong_Check(vals.ptr()) ? to_array_like(vals, array(0, as_dtype(dtype)))
                                                           : A(vals);
    return full(to_shape(shape, "full"), v, dtype_or(dtype, v.dtype()), sd(s));
  }, "shape"_a, "vals"_a, "dtype"_a = none, py::kw_only(), "stream"_a = none);
  m.def("zeros_like", [](const py::object& a, const py::object& dtype, const py::object& s) {
    array x = A(a);
    return zeros_like(x, dtype.is_none() ? x.dtype() : as_dtype(dtype), sd(s));
  }, "a"_a, "dtype"_a = none, py::kw_only(), "stream"_a = none);
  m.def("ones_like", [](const py::object& a, const py::object& dtype, const py::object& s) {
    array x = A(a);
    return ones_like(x, dtype.is_none() ? x.dtype() : as_dtype(dtype), sd(s));
  }, "a"_a, "dtype"_a = none, py::kw_only(), "stream"_a = none);
  m.def("full_like", [](const py::object& a, const py::object& vals, const py::object& dtype, const py::object& s) {
    array x = A(a);
    return full(x.shape(), to_array_like(vals, x), dtype.is_none() ? x.dtype() : as_dtype(dtype), sd(s));
  }, "a"_a, "vals"_a, "dtype"_a = none, py::kw_only(), "stream"_a = none);
  m.def("arange", [](py::args args, py::kwargs kwargs) {
    // arange(stop) | arange(start, stop[, step[, dtype]]), each also by keyword; stream= by keyword.
    const char* names[] = {"start", "stop", "step", "dtype"};
    if (args.size() > 4)
      throw py::type_error("[arange] Expected at most 4 positional arguments; got " +
                           std::to_string(args.size()) + ".");
    py::object v[4] = {py::none(), py::none(), py::none(), py::none()};
    bool given[4] = {false, false, false, false};
    // A single positional argument is the stop (unless stop comes by keyword).
    bool lone_stop = args.size() == 1 && !kwargs.contains("stop");
    for (size_t i = 0; i < args.size(); ++i) {
      size_t k = lone_stop ? 1 : i;
      v[k] = py::reinterpret_borrow<py::object>(args[i]);
      given[k] = true;
    }
    py::object stream = py::none();
    for (auto item : kwargs) {
      std::string key = py::str(item.first);
      if (key == "stream") {
        stream = py::reinterpret_borrow<py::object>(item.second);
        continue;
      }
      int k = -1;
      for (int n = 0; n < 4; ++n)
        if (key == names[n]) k = n;
      if (k < 0) throw py::type_error("[arange] Unexpected keyword argument '" + key + "'.");
      if (given[k]) throw py::type_error("[arange] Got multiple values for argument '" + key + "'.");
      v[k] = py::reinterpret_borrow<py::object>(item.second);
      given[k] = true;
    }
    if (!given[1]) throw py::type_error("[arange] Missing the stop argument.");
    if (v[1].is_none()) {
      // arange(x, None) (or start=x, stop=None) counts up to x, as arange(x)
      if (v[0].is_none()) throw py::type_error("[arange] Missing the stop argument.");
      v[1] = v[0];
      v[0] = py::none();
    }
    bool all_int = true;
    auto num = [&](const py::object& o, double def) {
      if (o.is_none()) return def;
      // numpy integers count as ints (they have __index__; numpy floats do not).
      bool is_int = PyLong_Check(o.ptr()) || (!PyFloat_Check(o.ptr()) && PyIndex_Check(o.ptr()));
      if (!is_int) all_int = false;
      if (!PyNumber_Check(o.ptr()) || PyComplex_Check(o.ptr()))
        throw py::type_error("[arange] start, stop and step must be real numbers; got " +
                             std::string(py::str(py::type::of(o).attr("__name__"))) + ".");
      return o.cast<double>();
    };
    double start = num(v[0], 0), stop = num(v[1], 0), step = num(v[2], 1);
    Dtype d = v[3].is_none() ? (all_int ? int32 : float32) : as_dtype(v[3]);
    return arange(start, stop, step, d, sd(stream));
  });
  m.def("linspace", [dtype_or](double start, double stop, const py::object& num, bool endpoint,
                               const py::object& dtype, const py::object& s) {
    int n = num.is_none() ? 50 : to_dim(num, "linspace");
    // Without the endpoint: n points from start in steps of (stop - start) / n.
    if (!endpoint && n > 0) stop = start + (stop - start) * (n - 1) / n;
    return linspace(start, stop, n, dtype_or(dtype, float32), sd(s));
  }, "start"_a, "stop"_a, "num"_a = 50, "endpoint"_a = true, py::arg_v("dtype", float32, "float32"),
     "stream"_a = none);
  m.def("eye", [dtype_or](const py::object& n, const py::object& mm, int k, const py::object& dtype,
                          const py::object& s) {
    int rows = to_dim(n, "eye");
    return eye(rows, mm.is_none() ? rows : to_dim(mm, "eye"), k, dtype_or(dtype, float32), sd(s));
  }, "n"_a, "m"_a = none, "k"_a = 0, py::arg_v("dtype", float32, "float32"), py::kw_only(),
     "stream"_a = none);
  m.def("identity", [dtype_or](const py::object& n, const py::object& dtype, const py::object& s) {
    return identity(to_dim(n, "identity"), dtype_or(dtype, float32), sd(s));
  }, "n"_a, py::arg_v("dtype", float32, "float32"), py::kw_only(), "stream"_a = none);
  m.def("tri", [dtype_or](const py::object& n, const py::object& mm, int k, const py::object& dtype,
                          const py::object& s) {
    int rows = to_dim(n, "tri");
    return tri(rows, mm.is_none() ? rows : to_dim(mm, "tri"), k, dtype_or(dtype, float32), sd(s));
  }, "n"_a, "m"_a = none, "k"_a = 0, "dtype"_a = none, py::kw_only(), "stream"_a = none);
  m.def("tril", [](const py::object& a, int k, const py::object& s) {
    array x = A(a);
    if (x.ndim() < 2) throw py::value_error("[tril] Array must have at least 2 dimensions.");
    array mask = tri(x.shape()[x.ndim() - 2], x.shape()[x.ndim() - 1], k, bool_, sd(s));
    return where(mask, x, zeros_like(x, sd(s)), sd(s));
  }, "x"_a, "k"_a = 0, py::kw_only(), "stream"_a = none);
  m.def("triu", [](const py::object& a, int k, const py::object& s) {
    array x = A(a);
    if (x.ndim() < 2) throw py::value_error("[triu] Array must have at least 2 dimensions.");
    array mask = tri(x.shape()[x.ndim() - 2], x.shape()[x.ndim() - 1], k - 1, bool_, sd(s));
    return where(mask, zeros_like(x, sd(s)), x, sd(s));
  }, "x"_a, "k"_a = 0, py::kw_only(), "stream"_a = none);
  m.def("astype", [](const py::object& a, Dtype dtype, const py::object& s) { return astype(A(a), dtype, sd(s)); },
        "Convert to a dtype.", "a"_a, "dtype"_a, py::kw_only(), "stream"_a = none);
  cls.def("astype", [](const array& a, Dtype dtype, const py::object& s) { return astype(a, dtype, sd(s)); },
          "Convert to a dtype.", "dtype"_a, "stream"_a = none);
  m.def("result_type", [](py::args args) {
    if (args.size() == 0) throw py::value_error("[result_type] At least one array or dtype is required.");
    Dtype t = bool_;
    bool first = true;
    for (auto a : args) {
      Dtype d = py::isinstance<DtypeObj>(a) ? as_dtype(a) : A(py::reinterpret_borrow<py::object>(a)).dtype();
      t = first ? d : promote_types(t, d);
      first = false;
    }
    return t;
  });
}
