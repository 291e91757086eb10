// A tour of Ember's C++ API, written as MLX's C++ tutorial is: arrays and their dtypes,
// lazy evaluation, printing, grad, vmap and compile. Every step checks its result; the
// program exits non-zero if one does not hold.
#include <functional>
#include <iostream>
#include <sstream>
#include <vector>

#include "check.h"
#include "ember/array.h"
#include "ember/compile.h"
#include "ember/dtype.h"
#include "ember/ops.h"
#include "ember/transforms.h"
#include "ember/utils.h"

namespace mx = ember;

template <typename T>
std::string text(const T& value) {
  std::ostringstream os;
  os << value;
  return os.str();
}

void array_basics() {
  // A scalar: C++ floating point values make float32 arrays, as Python floats do.
  mx::array x(1.0);
  check(x.dtype() == mx::float32, "array(1.0) is float32");
  check(x.item<float>() == 1.0f, "array(1.0).item() is 1");
  check(x.size() == 1 && x.ndim() == 0 && x.shape().empty(), "a scalar has size 1 and no dimensions");

  // The other C++ scalar types keep their own dtype.
  check(mx::array(1).dtype() == mx::int32, "array(1) is int32");
  check(mx::array(int64_t(1)).dtype() == mx::int64, "array(int64_t) is int64");
  check(mx::array(2u).dtype() == mx::uint32, "array(2u) is uint32");
  check(mx::array(true).dtype() == mx::bool_, "array(true) is bool");
  check(mx::array({1.0, 2.0}).dtype() == mx::float32, "array({1.0, 2.0}) is float32");
  x = mx::array(1, mx::int32);
  check(x.dtype() == mx::int32 && x.item<int>() == 1, "array(1, int32)");
  x = mx::array(1.0, mx::float64);
  check(x.dtype() == mx::float64, "a dtype given explicitly wins");

  // Arrays from C++ containers.
  std::vector<float> values{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  auto from_vector = mx::array(values.begin(), {2, 3});
  check(from_vector.dtype() == mx::float32 && from_vector.shape(1) == 3, "array from a vector's iterator");
  auto from_pointer = mx::array(values.data(), {6}, mx::int32);
  check(from_pointer.dtype() == mx::int32 && mx::sum(from_pointer).item<int>() == 21,
        "array from a pointer, with a dtype");

  // A 2x2 array, row-major, plus ones: lazy until evaluated.
  x = mx::array({1.0f, 2.0f, 3.0f, 4.0f}, {2, 2});
  auto y = mx::ones({2, 2});
  auto z = x + y;
  check(!z.is_available(), "z is not computed before eval");
  check(z.dtype() == mx::float32 && z.shape(0) == 2 && z.shape(1) == 2, "z's shape and dtype are known");
  mx::eval(z);
  check(z.is_available(), "eval computes z");

  // Printing evaluates, and reads as MLX prints.
  std::cout << z << std::endl;
  check(text(z) == "array([[2, 3],\n       [4, 5]], dtype=float32)", "printing a 2x2 float32 array");
  check(text(mx::arange(10)) == "array([0, 1, 2, ..., 7, 8, 9], dtype=int32)",
        "long dimensions print their first and last three entries");
  check(text(mx::array({true, false})) == "array([true, false], dtype=bool)", "printing bools");
  check(text(mx::array(2.5f) / 3.0f) == "array(0.833333, dtype=float32)", "six significant digits");
  check(text(mx::array(mx::complex64_t(1.0f, -2.0f))) == "array(1-2j, dtype=complex64)", "printing complex");
  check(text(mx::float16) == "float16", "printing a dtype");
}

void automatic_differentiation() {
  auto fn = [](mx::array x) { return mx::square(x); };

  // The derivative function, and the second derivative by composing grad.
  auto grad_fn = mx::grad(fn);
  auto x = mx::array(1.5);
  check_close(grad_fn(x).item<float>(), 3.0, 1e-6, "d/dx x^2 at 1.5");
  check_close(mx::grad(mx::grad(fn))(x).item<float>(), 2.0, 1e-6, "d2/dx2 x^2");

  // value_and_grad of a function of two arrays, with respect to both.
  auto f = [](const std::vector<mx::array>& in) {
    return std::vector<mx::array>{mx::sum(mx::sin(in[0]) * in[1])};
  };
  auto a = mx::array({0.5f, 1.0f, 2.0f});
  auto b = mx::array({3.0f, -1.0f, 0.25f});
  auto [value, grads] = mx::value_and_grad(f, {0, 1})({a, b});
  double want = 3 * std::sin(0.5) - std::sin(1.0) + 0.25 * std::sin(2.0);
  check_close(value[0].item<float>(), want, 1e-6, "value of sum(sin(a) * b)");
  check(mx::allclose(grads[0], mx::cos(a) * b), "gradient with respect to a is cos(a) * b");
  check(mx::allclose(grads[1], mx::sin(a)), "gradient with respect to b is sin(a)");
}

void vectorization() {
  // A dot product mapped over the rows of two matrices.
  auto dot = [](const std::vector<mx::array>& in) {
    return std::vector<mx::array>{mx::sum(in[0] * in[1])};
  };
  auto rows = mx::vmap(dot, {0, 0});
  auto a = mx::reshape(mx::arange(6.0f), {2, 3});
  auto b = mx::full({2, 3}, 2.0f);
  auto d = rows({a, b})[0];
  check(d.shape() == mx::Shape{2}, "vmap over rows gives one value per row");
  check(mx::array_equal(d, mx::array({6.0f, 24.0f})), "row dot products");

  // One array mapped over its columns, and per-example gradients.
  auto col_norms = mx::vmap([](const mx::array& c) { return mx::sum(mx::square(c)); }, 1);
  check(mx::array_equal(col_norms(a), mx::array({9.0f, 17.0f, 29.0f})), "vmap over columns");
  auto per_example = mx::vmap(mx::grad([](const mx::array& v) { return mx::sum(v * v * v); }));
  check(mx::allclose(per_example(a), 3.0f * a * a), "vmap(grad(f)) is 3 x^2 per row");
}

void compilation() {
  auto f = [](const std::vector<mx::array>& in) {
    return std::vector<mx::array>{mx::exp(-in[0]) * in[1] + 1.0f};
  };
  // No id needed: the compiled function owns its cache entry.
  auto compiled = mx::compile(f);
  auto x = mx::array({0.0f, 1.0f, 2.0f});
  auto y = mx::array({1.0f, 2.0f, 3.0f});
  size_t traces = mx::compile_trace_count();
  auto r1 = compiled({x, y})[0];
  auto r2 = compiled({y, x})[0];
  check(mx::allclose(r1, f({x, y})[0]) && mx::allclose(r2, f({y, x})[0]), "compiled results match");
  check(mx::compile_trace_count() == traces + 1, "one trace serves both calls of the same shape");
  std::cout << r1 << std::endl;

  // compile composes with grad.
  auto g = mx::compile([](const std::vector<mx::array>& in) {
    return mx::grad([](const std::vector<mx::array>& v) {
      return std::vector<mx::array>{mx::sum(mx::exp(v[0]))};
    })(in);
  });
  check(mx::allclose(g({x})[0], mx::exp(x)), "compiled gradient of sum(exp(x))");
}

int main() {
  array_basics();
  automatic_differentiation();
  vectorization();
  compilation();
  if (failures() == 0) std::cout << "tutorial: all checks passed" << std::endl;
  return failures() == 0 ? 0 : 1;
}
