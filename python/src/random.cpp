// ember.core.random: key-based random numbers.
//
// The global key lives in `mx.random.state`, a list holding one key array. A function
// called without key= splits it: the first half becomes the new state, the second is
// used. Because the state is a plain list, `mx.compile(f, inputs=mx.random.state,
// outputs=mx.random.state)` captures it, and a compiled function that draws random
// numbers gives fresh ones on every call.
#include <chrono>

#include "utils.h"

using namespace pybind11::literals;

namespace {

// Never destroyed: it must outlive the interpreter's teardown of the module.
py::list* g_state = nullptr;

// The key= argument, or a fresh subkey split off the global state.
array resolve_key(const py::object& key, const char* op) {
  if (!key.is_none()) {
    if (!py::isinstance<array>(key))
      throw py::type_error(std::string("[") + op + "] key must be an array (from mx.random.key), got " +
                           std::string(py::str(py::type::handle_of(key).attr("__name__"))) + ".");
    return key.cast<array>();
  }
  if (g_state->size() != 1 || !py::isinstance<array>((*g_state)[0]))
    throw py::value_error(std::string("[") + op + "] mx.random.state must hold exactly one key array.");
  array state = (*g_state)[0].cast<array>();
  array sub = random::next_key(state);
  (*g_state)[0] = py::cast(state);
  return sub;
}

std::optional<array> opt_array(const py::object& x) {
  if (x.is_none()) return std::nullopt;
  return to_array(x);
}

Dtype dtype_or(const py::object& d, Dtype def) { return d.is_none() ? def : as_dtype(d); }
Shape shape_or_scalar(const py::object& s, const char* op) { return s.is_none() ? Shape{} : to_shape(s, op); }

}  // namespace

void init_random(py::module_& parent) {
  py::module_ m = parent.def_submodule("random", "Random number generation.");
  auto none = py::none();

  uint64_t now = (uint64_t)std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  g_state = new py::list();
  g_state->append(py::cast(random::key(now)));
  m.attr("state") = *g_state;

  m.def("seed", [](uint64_t s) {
    (*g_state)[0] = py::cast(random::key(s));
    random::seed(s);
  }, "seed"_a, "Seed the global key (mx.random.state).");
  m.def("key", [](uint64_t s) { return random::key(s); }, "seed"_a, "A key from a seed.");
  m.def("split", [](const array& key, const py::object& num, const py::object& s) {
    return random::split(key, to_dim(num, "random.split"), to_stream_or_device(s));
  }, "key"_a, "num"_a = 2, "stream"_a = none, "Split a key into `num` keys.");
  m.def("bits", [](const py::object& shape, int width, const py::object& key, const py::object& s) {
    return random::bits(shape_or_scalar(shape, "random.bits"), width, resolve_key(key, "bits"), to_stream_or_device(s));
  }, "shape"_a = py::make_tuple(), "width"_a = 4, "key"_a = none, py::kw_only(), "stream"_a = none,
        "Random bits: `width` bytes per element.");
  m.def("uniform", [](const py::object& low, const py::object& high, const py::object& shape,
                      const py::object& dtype, const py::object& key, const py::object& s) {
    array lo = to_array(low), hi = to_array(high);
    Shape sh = shape.is_none() ? broadcast_shapes(lo.shape(), hi.shape()) : to_shape(shape, "random.uniform");
    return random::uniform(lo, hi, sh, dtype_or(dtype, float32), resolve_key(key, "uniform"),
                           to_stream_or_device(s));
  }, "low"_a = 0.0, "high"_a = 1.0, "shape"_a = none, py::arg_v("dtype", float32, "float32"), "key"_a = none,
        "stream"_a = none, "Uniform numbers on [low, high).");
  m.def("normal", [](const py::object& shape, const py::object& dtype, const py::object& loc,
                     const py::object& scale, const py::object& key, const py::object& s) {
    return random::normal(shape_or_scalar(shape, "random.normal"), dtype_or(dtype, float32), opt_array(loc),
                          opt_array(scale), resolve_key(key, "normal"), to_stream_or_device(s));
  }, "shape"_a = py::make_tuple(), py::arg_v("dtype", float32, "float32"), "loc"_a = none, "scale"_a = none,
        "key"_a = none, "stream"_a = none,
        "Normal numbers with mean `loc` and standard deviation `scale`; complex64 parts are N(0, 1/2).");
  m.def("multivariate_normal", [](const array& mean, const array& cov, const py::object& shape,
                                  const py::object& dtype, const py::object& key, const py::object& s) {
    return random::multivariate_normal(mean, cov, shape_or_scalar(shape, "random.multivariate_normal"), dtype_or(dtype, float32),
                                       resolve_key(key, "multivariate_normal"), to_stream_or_device(s));
  }, "mean"_a, "cov"_a, "shape"_a = py::make_tuple(), py::arg_v("dtype", float32, "float32"), "key"_a = none,
        "stream"_a = none,
        "Jointly normal samples with mean (..., n) and positive semi-definite cov (..., n, n).");
  m.def("randint", [](const py::object& low, const py::object& high, const py::object& shape,
                      const py::object& dtype, const py::object& key, const py::object& s) {
    return random::randint(to_array(low), to_array(high), shape_or_scalar(shape, "random.randint"), dtype_or(dtype, int32),
                           resolve_key(key, "randint"), to_stream_or_device(s));
  }, "low"_a, "high"_a, "shape"_a = py::make_tuple(), py::arg_v("dtype", int32, "int32"), "key"_a = none,
        "stream"_a = none, "Integers on [low, high).");
  m.def("bernoulli", [](const py::object& p, const py::object& shape, const py::object& key,
                        const py::object& s) {
    array pa = to_array(p);
    return random::bernoulli(pa, shape.is_none() ? pa.shape() : to_shape(shape, "random.bernoulli"),
                             resolve_key(key, "bernoulli"), to_stream_or_device(s));
  }, "p"_a = 0.5, "shape"_a = none, "key"_a = none, "stream"_a = none,
        "True with probability p.");
  m.def("truncated_normal", [](const py::object& lower, const py::object& upper, const py::object& shape,
                               const py::object& dtype, const py::object& key, const py::object& s) {
    array lo = to_array(lower), hi = to_array(upper);
    Shape sh = shape.is_none() ? broadcast_shapes(lo.shape(), hi.shape()) : to_shape(shape, "random.truncated_normal");
    return random::truncated_normal(lo, hi, sh, dtype_or(dtype, float32),
                                    resolve_key(key, "truncated_normal"), to_stream_or_device(s));
  }, "lower"_a, "upper"_a, "shape"_a = none, py::arg_v("dtype", float32, "float32"), "key"_a = none,
        "stream"_a = none, "Standard normal numbers restricted to (lower, upper).");
  m.def("gumbel", [](const py::object& shape, const py::object& dtype, const py::object& key,
                     const py::object& s) {
    return random::gumbel(shape_or_scalar(shape, "random.gumbel"), dtype_or(dtype, float32), resolve_key(key, "gumbel"),
                          to_stream_or_device(s));
  }, "shape"_a = py::make_tuple(), py::arg_v("dtype", float32, "float32"), "key"_a = none, "stream"_a = none,
        "Standard Gumbel numbers.");
  m.def("laplace", [](const py::object& shape, const py::object& dtype, const py::object& loc,
                      const py::object& scale, const py::object& key, const py::object& s) {
    auto as_float = [](const py::object& v, const char* name) {
      try {
        return py::float_(v).cast<float>();
      } catch (py::error_already_set&) {
        throw py::type_error(std::string("[laplace] ") + name + " must be a real number.");
      }
    };
    return random::laplace(shape_or_scalar(shape, "random.laplace"), dtype_or(dtype, float32), as_float(loc, "loc"),
                           as_float(scale, "scale"), resolve_key(key, "laplace"), to_stream_or_device(s));
  }, "shape"_a = py::make_tuple(), py::arg_v("dtype", float32, "float32"), "loc"_a = 0.0, "scale"_a = 1.0, "key"_a = none,
        "stream"_a = none, "Laplace numbers with mean `loc` and scale `scale`.");
  m.def("categorical", [](const array& logits, int axis, const py::object& shape,
                          const py::object& num_samples, const py::object& key, const py::object& s) {
    std::optional<Shape> sh;
    if (!shape.is_none()) sh = to_shape(shape, "random.categorical");
    std::optional<int> ns;
    if (!num_samples.is_none()) ns = to_dim(num_samples, "random.categorical");
    return random::categorical(logits, axis, sh, ns, resolve_key(key, "categorical"), to_stream_or_device(s));
  }, "logits"_a, "axis"_a = -1, "shape"_a = none, "num_samples"_a = none, "key"_a = none,
        "stream"_a = none, "Indices drawn from unnormalised log-probabilities along `axis`.");
  m.def("permutation", [](const py::object& x, int axis, const py::object& key, const py::object& s) {
    if (PyLong_Check(x.ptr()))
      return random::permutation(to_dim(x, "random.permutation"), resolve_key(key, "permutation"), to_stream_or_device(s));
    return random::permutation(to_array(x), axis, resolve_key(key, "permutation"), to_stream_or_device(s));
  }, "x"_a, "axis"_a = 0, "key"_a = none, "stream"_a = none,
        "A random permutation of range(x), or of x along `axis`.");
}
