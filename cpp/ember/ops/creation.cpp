#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>

#include "ember/ops/common.h"

namespace ember {

void op_error(const char* op, const std::string& msg) {
  throw std::invalid_argument(std::string("[") + op + "] " + msg);
}

std::string shape_str(const Shape& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    r += std::to_string(s[i]);
    if (i + 1 < s.size() || s.size() == 1) r += ",";
    if (i + 1 < s.size()) r += " ";
  }
  return r + ")";
}

void dim_overflow(const char* op, const std::string& value) {
  throw std::overflow_error(std::string("[") + op + "] Shape dimension " + value +
                            " is outside the supported range [-2147483648, 2147483647]: "
                            "dimensions are 32-bit integers.");
}

int32_t checked_dim(int64_t d, const char* op) {
  if (d < INT32_MIN || d > INT32_MAX) dim_overflow(op, std::to_string(d));
  return (int32_t)d;
}

// zeros and ones report under "full", as in MLX.
array full(const Shape& shape, const array& vals, Dtype dtype, S s) {
  checked_size(shape, dtype, "full");
  return copy(broadcast_to(astype(vals, dtype, s), shape, s), s);
}
array full(const Shape& shape, const array& vals, S s) { return full(shape, vals, vals.dtype(), s); }
array zeros(const Shape& shape, Dtype dtype, S s) { return full(shape, array(0, dtype), dtype, s); }
array ones(const Shape& shape, Dtype dtype, S s) { return full(shape, array(1, dtype), dtype, s); }
array zeros_like(const array& a, S s) { return zeros(a.shape(), a.dtype(), s); }
array ones_like(const array& a, S s) { return ones(a.shape(), a.dtype(), s); }
array full_like(const array& a, const array& vals, S s) { return full(a.shape(), vals, a.dtype(), s); }

array arange(double start, double stop, double step, Dtype dtype, S s) {
  if (step == 0) op_error("arange", "Cannot compute length of range with step size 0.");
  if (std::isnan(start) || std::isnan(stop) || std::isnan(step))
    op_error("arange", "Cannot compute length of range with NaN arguments.");
  if (std::isinf(start) || std::isinf(stop))
    op_error("arange", "Cannot compute length of range with infinite arguments.");
  if (dtype == bool_ || dtype == complex64)
    op_error("arange", std::string(dtype_name(dtype)) + " is not supported.");
  double n = std::ceil((stop - start) / step);
  if (n > 2147483647.0) {
    char count[64];
    std::snprintf(count, sizeof(count), "%.0f", n);
    throw std::overflow_error(std::string("[arange] Maximum size exceeded: the range has ") + count +
                              " elements, more than the 2147483647 a 32-bit dimension holds.");
  }
  int size = std::max(0, (int)n);
  if (is_integral(dtype)) {
    // Integer ranges step exactly; the length follows the integer arithmetic.
    start = std::floor(start) == start ? start : std::trunc(start);
  }
  return make_node<Arange>({size}, dtype, {}, s, start, stop, step);
}
array arange(double start, double stop, double step, S s) { return arange(start, stop, step, float32, s); }
array arange(int start, int stop, int step, S s) { return arange((double)start, (double)stop, (double)step, int32, s); }
array arange(double stop, S s) { return arange(0.0, stop, 1.0, float32, s); }
array arange(int stop, S s) { return arange(0, stop, 1, s); }
array arange(float stop, S s) { return arange(0.0, (double)stop, 1.0, float32, s); }

array linspace(double start, double stop, int num, Dtype dtype, S s) {
  if (num < 0) op_error("linspace", "num must be non-negative, got " + std::to_string(num) + ".");
  if (num == 1) return astype(array({start}, float64), dtype, s);
  array t = arange(0.0, (double)num, 1.0, float64, s);
  double step = num > 1 ? (stop - start) / (num - 1) : 0.0;
  array r = add(multiply(t, array(step, float64), s), array(start, float64), s);
  // The last point is exactly `stop`.
  if (num > 1) r = where(equal(t, array((double)(num - 1), float64), s), array(stop, float64), r, s);
  return astype(r, dtype, s);
}

array tri(int n, int m, int k, Dtype dtype, S s) {
  if (n < 0 || m < 0) op_error("tri", "Dimensions must be non-negative.");
  array r = reshape(arange(0, n, 1, s), {n, 1}, s);
  array c = reshape(arange(0, m, 1, s), {1, m}, s);
  return astype(greater_equal(add(r, array(k), s), c, s), dtype, s);
}

array eye(int n, int m, int k, Dtype dtype, S s) {
  if (n < 0 || m < 0) op_error("eye", "N and M must be non-negative.");
  array r = reshape(arange(0, n, 1, s), {n, 1}, s);
  array c = reshape(arange(0, m, 1, s), {1, m}, s);
  return astype(equal(add(r, array(k), s), c, s), dtype, s);
}
array eye(int n, Dtype dtype, S s) { return eye(n, n, 0, dtype, s); }
array identity(int n, Dtype dtype, S s) { return eye(n, n, 0, dtype, s); }

array astype(const array& a, Dtype dtype, S s) {
  if (a.dtype() == dtype) return a;
  return make_node<AsType>(a.shape(), dtype, {a}, s, dtype);
}

array copy(const array& a, S s) { return make_node<Copy>(a.shape(), a.dtype(), {a}, s); }

array stop_gradient(const array& a, S s) {
  return make_node<StopGradient>(a.shape(), a.dtype(), {a}, s);
}

array to_inexact(const array& a, S s) { return is_inexact(a.dtype()) ? a : astype(a, float32, s); }

}  // namespace ember
