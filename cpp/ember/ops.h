// The user-facing operations. Each validates its arguments, works out the output
// shape and dtype, and returns an unevaluated array.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ember/array.h"

namespace ember {

using S = StreamOrDevice;

// ---------- creation
array zeros(const Shape& shape, Dtype dtype = float32, S s = {});
array ones(const Shape& shape, Dtype dtype = float32, S s = {});
array full(const Shape& shape, const array& vals, Dtype dtype, S s = {});
array full(const Shape& shape, const array& vals, S s = {});
template <typename T>
array full(const Shape& shape, T val, S s = {}) {
  return full(shape, array(val), s);
}
array arange(double start, double stop, double step, Dtype dtype, S s = {});
array arange(double start, double stop, double step = 1.0, S s = {});  // float32
array arange(int start, int stop, int step = 1, S s = {});             // int32
array arange(double stop, S s = {});
array arange(int stop, S s = {});
array arange(float stop, S s = {});
array linspace(double start, double stop, int num = 50, Dtype dtype = float32, S s = {});
array eye(int n, int m, int k = 0, Dtype dtype = float32, S s = {});
array eye(int n, Dtype dtype = float32, S s = {});
array identity(int n, Dtype dtype = float32, S s = {});
array tri(int n, int m, int k, Dtype dtype = float32, S s = {});
array zeros_like(const array& a, S s = {});
array ones_like(const array& a, S s = {});
array full_like(const array& a, const array& vals, S s = {});
array astype(const array& a, Dtype dtype, S s = {});
array copy(const array& a, S s = {});
array stop_gradient(const array& a, S s = {});

// ---------- elementwise, one input
array negative(const array& a, S s = {});
array abs(const array& a, S s = {});
array sign(const array& a, S s = {});
array square(const array& a, S s = {});
array sqrt(const array& a, S s = {});
array rsqrt(const array& a, S s = {});
array reciprocal(const array& a, S s = {});
array exp(const array& a, S s = {});
array expm1(const array& a, S s = {});
array log(const array& a, S s = {});
array log1p(const array& a, S s = {});
array log2(const array& a, S s = {});
array log10(const array& a, S s = {});
array sin(const array& a, S s = {});
array cos(const array& a, S s = {});
array tan(const array& a, S s = {});
array arcsin(const array& a, S s = {});
array arccos(const array& a, S s = {});
array arctan(const array& a, S s = {});
array sinh(const array& a, S s = {});
array cosh(const array& a, S s = {});
array tanh(const array& a, S s = {});
array arcsinh(const array& a, S s = {});
array arccosh(const array& a, S s = {});
array arctanh(const array& a, S s = {});
array sigmoid(const array& a, S s = {});
array erf(const array& a, S s = {});
array erfinv(const array& a, S s = {});
array floor(const array& a, S s = {});
array ceil(const array& a, S s = {});
array round(const array& a, int decimals = 0, S s = {});
array logical_not(const array& a, S s = {});
array isnan(const array& a, S s = {});
array isinf(const array& a, S s = {});
array isfinite(const array& a, S s = {});
array isposinf(const array& a, S s = {});
array isneginf(const array& a, S s = {});
array real(const array& a, S s = {});
array imag(const array& a, S s = {});
array conjugate(const array& a, S s = {});
array bitwise_invert(const array& a, S s = {});

// ---------- elementwise, two inputs (broadcasting)
array add(const array& a, const array& b, S s = {});
array subtract(const array& a, const array& b, S s = {});
array multiply(const array& a, const array& b, S s = {});
array divide(const array& a, const array& b, S s = {});
array floor_divide(const array& a, const array& b, S s = {});
array remainder(const array& a, const array& b, S s = {});
array power(const array& a, const array& b, S s = {});
array maximum(const array& a, const array& b, S s = {});
array minimum(const array& a, const array& b, S s = {});
array arctan2(const array& a, const array& b, S s = {});
array logaddexp(const array& a, const array& b, S s = {});
array equal(const array& a, const array& b, S s = {});
array not_equal(const array& a, const array& b, S s = {});
array less(const array& a, const array& b, S s = {});
array less_equal(const array& a, const array& b, S s = {});
array greater(const array& a, const array& b, S s = {});
array greater_equal(const array& a, const array& b, S s = {});
array logical_and(const array& a, const array& b, S s = {});
array logical_or(const array& a, const array& b, S s = {});
array bitwise_and(const array& a, const array& b, S s = {});
array bitwise_or(const array& a, const array& b, S s = {});
array bitwise_xor(const array& a, const array& b, S s = {});
array left_shift(const array& a, const array& b, S s = {});
array right_shift(const array& a, const array& b, S s = {});
array where(const array& cond, const array& x, const array& y, S s = {});
array clip(const array& a, const std::optional<array>& lo, const std::optional<array>& hi,
           S s = {});
array isclose(const array& a, const array& b, double rtol = 1e-5, double atol = 1e-8,
              bool equal_nan = false, S s = {});
bool allclose(const array& a, const array& b, double rtol = 1e-5, double atol = 1e-8,
              bool equal_nan = false);
bool array_equal(const array& a, const array& b, bool equal_nan = false);

// ---------- reductions
array sum(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array sum(const array& a, bool keepdims = false, S s = {});
array prod(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array prod(const array& a, bool keepdims = false, S s = {});
array max(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array max(const array& a, bool keepdims = false, S s = {});
array min(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array min(const array& a, bool keepdims = false, S s = {});
array all(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array all(const array& a, bool keepdims = false, S s = {});
array any(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array any(const array& a, bool keepdims = false, S s = {});
array mean(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array mean(const array& a, bool keepdims = false, S s = {});
array var(const array& a, const std::vector<int>& axes, bool keepdims = false, int ddof = 0,
          S s = {});
array var(const array& a, bool keepdims = false, int ddof = 0, S s = {});
array std(const array& a, const std::vector<int>& axes, bool keepdims = false, int ddof = 0,
          S s = {});
array std(const array& a, bool keepdims = false, int ddof = 0, S s = {});
array logsumexp(const array& a, const std::vector<int>& axes, bool keepdims = false, S s = {});
array logsumexp(const array& a, bool keepdims = false, S s = {});
array argmax(const array& a, int axis, bool keepdims = false, S s = {});
array argmax(const array& a, bool keepdims = false, S s = {});
array argmin(const array& a, int axis, bool keepdims = false, S s = {});
array argmin(const array& a, bool keepdims = false, S s = {});
array softmax(const array& a, const std::vector<int>& axes, bool precise = false, S s = {});
array softmax(const array& a, bool precise = false, S s = {});
array cumsum(const array& a, int axis, bool reverse = false, bool inclusive = true, S s = {});
array cumsum(const array& a, S s = {});
array cumprod(const array& a, int axis, bool reverse = false, bool inclusive = true, S s = {});
array cummax(const array& a, int axis, bool reverse = false, bool inclusive = true, S s = {});
array cummin(const array& a, int axis, bool reverse = false, bool inclusive = true, S s = {});
array logcumsumexp(const array& a, int axis, bool reverse = false, bool inclusive = true, S s = {});

// ---------- shape
array reshape(const array& a, Shape shape, S s = {});
array flatten(const array& a, int start_axis = 0, int end_axis = -1, S s = {});
array unflatten(const array& a, int axis, Shape shape, S s = {});
array squeeze(const array& a, const std::vector<int>& axes, S s = {});
array squeeze(const array& a, S s = {});
array expand_dims(const array& a, const std::vector<int>& axes, S s = {});
array expand_dims(const array& a, int axis, S s = {});
array transpose(const array& a, std::vector<int> axes, S s = {});
array transpose(const array& a, S s = {});
array swapaxes(const array& a, int axis1, int axis2, S s = {});
array moveaxis(const array& a, int source, int destination, S s = {});
array broadcast_to(const array& a, const Shape& shape, S s = {});
std::vector<array> broadcast_arrays(const std::vector<array>& inputs, S s = {});
Shape broadcast_shapes(const Shape& a, const Shape& b);
array concatenate(const std::vector<array>& arrays, int axis, S s = {});
array concatenate(const std::vector<array>& arrays, S s = {});
array stack(const std::vector<array>& arrays, int axis = 0, S s = {});
std::vector<array> split(const array& a, int num_splits, int axis = 0, S s = {});
std::vector<array> split(const array& a, const Shape& indices, int axis = 0, S s = {});
array slice(const array& a, Shape start, Shape stop, Shape strides, S s = {});
array slice(const array& a, Shape start, Shape stop, S s = {});
array slice_update(const array& src, const array& update, Shape start, Shape stop, Shape strides,
                   S s = {});
array as_strided(const array& a, Shape shape, Strides strides, size_t offset, S s = {});
array contiguous(const array& a, bool allow_col_major = false, S s = {});
array repeat(const array& a, int repeats, int axis, S s = {});
array repeat(const array& a, int repeats, S s = {});
array tile(const array& a, const std::vector<int>& reps, S s = {});
array pad(const array& a, const std::vector<std::pair<int, int>>& pad_width,
          const array& value, S s = {});
// mode: "constant" (value), "edge", "reflect" or "symmetric" (as numpy).
array pad(const array& a, const std::vector<std::pair<int, int>>& pad_width,
          const array& value, const std::string& mode, S s = {});
array atleast_1d(const array& a, S s = {});
array atleast_2d(const array& a, S s = {});
array atleast_3d(const array& a, S s = {});

// ---------- indexing
array take(const array& a, const array& indices, int axis, S s = {});
array take(const array& a, const array& indices, S s = {});
array take(const array& a, int index, int axis, S s = {});
array take_along_axis(const array& a, const array& indices, int axis, S s = {});
array put_along_axis(const array& a, const array& indices, const array& values, int axis,
                     S s = {});
// General gather: indices for `axes`, each broadcast together; result shape is
// broadcast(indices) + slice_sizes (with the gathered axes' slice size 1 kept).
array gather(const array& a, const std::vector<array>& indices, const std::vector<int>& axes,
             const Shape& slice_sizes, S s = {});
array scatter(const array& a, const std::vector<array>& indices, const array& updates,
              const std::vector<int>& axes, S s = {});
array scatter_add(const array& a, const std::vector<array>& indices, const array& updates,
                  const std::vector<int>& axes, S s = {});

// ---------- linear algebra
array matmul(const array& a, const array& b, S s = {});
array addmm(const array& c, const array& a, const array& b, float alpha = 1.0f,
            float beta = 1.0f, S s = {});
array outer(const array& a, const array& b, S s = {});
array inner(const array& a, const array& b, S s = {});
array tensordot(const array& a, const array& b, int axes = 2, S s = {});

// ---------- operators
// A C++ scalar meets an array as a Python scalar does: it takes the array's dtype
// unless that would lose its kind (a float scalar with an integer array gives float32).
template <typename T>
Dtype weak_scalar_dtype(Dtype other) {
  if constexpr (std::is_floating_point_v<T>) {
    return is_inexact(other) ? other : float32;
  } else if constexpr (std::is_same_v<T, bool>) {
    return other;
  } else {
    return other == bool_ ? int32 : other;
  }
}
array operator-(const array& a);
array operator!(const array& a);
array operator~(const array& a);
#define EMBER_BINOP(op, fn)                                                   \
  array operator op(const array& a, const array& b);                         \
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>> \
  array operator op(T a, const array& b) {                                   \
    return fn(array(a, weak_scalar_dtype<T>(b.dtype())), b);                  \
  }                                                                           \
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>> \
  array operator op(const array& a, T b) {                                   \
    return fn(a, array(b, weak_scalar_dtype<T>(a.dtype())));                  \
  }
EMBER_BINOP(+, add)
EMBER_BINOP(-, subtract)
EMBER_BINOP(*, multiply)
EMBER_BINOP(/, divide)
EMBER_BINOP(%, remainder)
EMBER_BINOP(==, equal)
EMBER_BINOP(!=, not_equal)
EMBER_BINOP(<, less)
EMBER_BINOP(<=, less_equal)
EMBER_BINOP(>, greater)
EMBER_BINOP(>=, greater_equal)
EMBER_BINOP(&&, logical_and)
EMBER_BINOP(||, logical_or)
EMBER_BINOP(&, bitwise_and)
EMBER_BINOP(|, bitwise_or)
EMBER_BINOP(^, bitwise_xor)
EMBER_BINOP(<<, left_shift)
EMBER_BINOP(>>, right_shift)
#undef EMBER_BINOP

// ---------- helpers shared by the ops
// An axis out of range (a ValueError and an IndexError in Python, like numpy's AxisError).
struct axis_error : std::out_of_range {
  using std::out_of_range::out_of_range;
};
int normalize_axis(int axis, int ndim, const char* op);
// Shape entries are 32-bit; the element count and byte size are 64-bit. A dimension
// outside [-2^31, 2^31) raises std::overflow_error (OverflowError in Python) naming the op
// and the value; `value` is the dimension as text, so callers may pass any integer.
[[noreturn]] void dim_overflow(const char* op, const std::string& value);
int32_t checked_dim(int64_t d, const char* op);
std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op);
Dtype result_type(const std::vector<array>& arrays);

}  // namespace ember
#include "ember/ops/misc.h"
#include "ember/ops/scatter.h"

#include "ember/ops/sort.h"
#include "ember/ops/einsum.h"
#include "ember/ops/fast.h"
#include "ember/ops/quantized.h"
#include "ember/ops/conv.h"
#include "ember/ops/linalg.h"
#include "ember/ops/distributed.h"
#include "ember/ops/fft.h"
