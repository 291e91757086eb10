// Random distributions built from key-based random bits.
//
// Each distribution reproduces MLX's numbers for the same key: the same bits, read the
// same way (see RandomBits::eval_cpu), turned into values by the same sequence of
// rounded operations in the same dtypes. The comments state which dtype each step uses.
#include "ember/random.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <unordered_set>

#include "ember/ops/common.h"
#include "ember/scheduler.h"

namespace ember::random {

namespace {

struct GlobalKey {
  std::mutex m;
  array key = ember::random::key(
      (uint64_t)std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
};
GlobalKey& global() {
  static GlobalKey* g = new GlobalKey();
  return *g;
}

void check_key(const array& k, const char* op) {
  if (k.dtype() != uint32)
    op_error(op, std::string("Expected a key of type uint32 but received ") + dtype_name(k.dtype()) + ".");
  if (k.ndim() != 1 || k.shape(0) != 2)
    op_error(op, "Expected a key of shape (2,) but received " + shape_str(k.shape()) + ".");
}

void check_key(const std::optional<array>& k, const char* op) {
  if (k) check_key(*k, op);
}

// The given key, or a fresh subkey from the global sequence.
array get_key(const std::optional<array>& key, const char* op) {
  if (key) {
    check_key(*key, op);
    return *key;
  }
  auto& g = global();
  std::lock_guard<std::mutex> lk(g.m);
  return next_key(g.key);
}

// Whether `a` is computed from an input placeholder of a trace (a node with neither a
// primitive nor data).
bool depends_on_placeholder(const array& a) {
  std::vector<array> stack{a};
  std::unordered_set<const void*> seen;
  while (!stack.empty()) {
    array x = std::move(stack.back());
    stack.pop_back();
    if (x.is_available() || !seen.insert(x.id()).second) continue;
    if (!x.has_primitive()) return true;
    for (auto& in : x.inputs()) stack.push_back(in);
  }
  return false;
}

void check_shape(const Shape& shape, const char* op) {
  for (auto d : shape)
    if (d < 0) op_error(op, "Negative dimensions are not allowed: got shape " + shape_str(shape) + ".");
}

// Broadcast of several shapes, or an error naming `op`.
Shape broadcast_or_fail(const std::vector<Shape>& shapes, const char* op) {
  Shape out;
  for (auto& s : shapes) {
    try {
      out = broadcast_shapes(out, s);
    } catch (const std::invalid_argument&) {
      std::string msg = "Shapes";
      for (size_t i = 0; i < shapes.size(); ++i) msg += (i ? " and " : " ") + shape_str(shapes[i]);
      op_error(op, msg + " cannot be broadcast.");
    }
  }
  return out;
}

// The largest value below one in a floating dtype.
double one_below(Dtype t) {
  switch (t) {
    case Dtype::Float16: return 1.0 - std::ldexp(1.0, -11);
    case Dtype::BFloat16: return 1.0 - std::ldexp(1.0, -8);
    case Dtype::Float64: return 1.0 - std::ldexp(1.0, -53);
    default: return 1.0 - std::ldexp(1.0, -24);
  }
}

array scalar(double v, Dtype t) { return astype(array(v, float64), t); }

// float32 uniform numbers in [-1, 1) used by normal and laplace.
array signed_uniform(const Shape& shape, const std::optional<array>& key, S s) {
  float lo = std::nextafter(-1.0f, 0.0f);
  return uniform(array(lo), array(1.0f), shape, float32, key, s);
}

}  // namespace

// ---------- keys

void seed(uint64_t s) {
  auto& g = global();
  std::lock_guard<std::mutex> lk(g.m);
  g.key = key(s);
}

array key(uint64_t seed) {
  uint32_t k[2] = {(uint32_t)(seed >> 32), (uint32_t)seed};
  return array(k, {2}, uint32, uint32);
}

array next_key(array& state, S s) {
  auto [next, sub] = split(state, s);
  state = next;
  // Computed at once unless the state is being traced (compile capturing it), so that
  // the state never carries a graph that a traced function has taken in as a constant.
  if (!depends_on_placeholder(state)) eval(std::vector<array>{next, sub});
  return sub;
}

std::pair<array, array> split(const array& key, S s) {
  array both = split(key, 2, s);
  return {reshape(slice(both, {0, 0}, {1, 2}, s), {2}, s),
          reshape(slice(both, {1, 0}, {2, 2}, s), {2}, s)};
}

array split(const array& key, int num, S s) {
  if (num < 0) op_error("split", "The number of keys must be non-negative, got " + std::to_string(num) + ".");
  check_key(key, "split");
  return make_node<RandomBits>({num, 2}, uint32, {key}, s, Shape{num, 2}, 4);
}

// ---------- bits and uniform

array bits(const Shape& shape, int width, const std::optional<array>& key_in, S s) {
  if (width != 1 && width != 2 && width != 4 && width != 8)
    op_error("bits", "Bit width must be 1, 2, 4 or 8 bytes, got " + std::to_string(width) + ".");
  check_shape(shape, "bits");
  array k = get_key(key_in, "bits");
  Dtype t = width == 1 ? uint8 : width == 2 ? uint16 : width == 4 ? uint32 : uint64;
  return make_node<RandomBits>(shape, t, {k}, s, shape, width);
}

array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype,
              const std::optional<array>& key, S s) {
  if (!is_floating_point(dtype))
    op_error("uniform", std::string("Can only generate uniform numbers with real floating point "
                                    "type, got ") + dtype_name(dtype) + ".");
  check_shape(shape, "uniform");
  Shape b = broadcast_or_fail({shape, low.shape(), high.shape()}, "uniform");
  if (b != shape)
    op_error("uniform", "Cannot generate random values of shape " + shape_str(shape) +
                            " from broadcasted shape " + shape_str(b) + ".");
  array k = get_key(key, "uniform");
  array lo = astype(low, dtype, s), hi = astype(high, dtype, s);
  // 32 random bits over 2^32 - 1, in float32 ...
  array u = divide(astype(bits(shape, 4, k, s), float32, s), array(4294967295.0f), s);
  // ... then rounded to the dtype and kept below one.
  u = minimum(astype(u, dtype, s), scalar(one_below(dtype), dtype), s);
  return add(lo, multiply(subtract(hi, lo, s), u, s), s);
}

array uniform(const Shape& shape, Dtype dtype, const std::optional<array>& key, S s) {
  return uniform(array(0.0f), array(1.0f), shape, dtype, key, s);
}

// ---------- normal family

array normal(const Shape& shape, Dtype dtype, const std::optional<array>& loc,
             const std::optional<array>& scale, const std::optional<array>& key, S s) {
  check_key(key, "normal");
  if (!is_floating_point(dtype) && dtype != complex64)
    op_error("normal", std::string("Only floating point and complex64 types are supported, got ") +
                           dtype_name(dtype) + ".");
  check_shape(shape, "normal");
  std::vector<Shape> shapes{shape};
  if (loc) shapes.push_back(loc->shape());
  if (scale) shapes.push_back(scale->shape());
  broadcast_or_fail(shapes, "normal");
  array z;
  if (dtype == complex64) {
    // Consecutive pairs of float32 values are the real and imaginary parts; erfinv of a
    // uniform number on (-1, 1) is N(0, 1/2), the complex standard normal's parts.
    Shape pairs = shape;
    pairs.push_back(2);
    array e = erfinv(signed_uniform(pairs, key, s), s);
    int nd = (int)shape.size();
    Shape lo(nd + 1, 0), hi = pairs;
    hi[nd] = 1;
    array re = reshape(slice(e, lo, hi, s), shape, s);
    lo[nd] = 1;
    hi[nd] = 2;
    array im = reshape(slice(e, lo, hi, s), shape, s);
    z = add(astype(re, complex64, s),
            multiply(astype(im, complex64, s), array(complex64_t(0.0f, 1.0f)), s), s);
    if (scale) z = multiply(z, astype(*scale, complex64, s), s);
  } else {
    // erfinv in float32, rounded to the dtype, times sqrt(2) * scale in the dtype.
    z = astype(erfinv(signed_uniform(shape, key, s), s), dtype, s);
    array factor = scalar(M_SQRT2, dtype);
    if (scale) factor = multiply(factor, astype(*scale, dtype, s), s);
    z = multiply(z, factor, s);
  }
  if (loc) z = add(z, astype(*loc, dtype, s), s);
  return z;
}

array normal(const Shape& shape, Dtype dtype, float loc, float scale, const std::optional<array>& key,
             S s) {
  std::optional<array> l, sc;
  if (loc != 0.0f) l = array(loc, dtype);
  if (scale != 1.0f) sc = array(scale, dtype);
  return normal(shape, dtype, l, sc, key, s);
}

array truncated_normal(const array& lower, const array& upper, const Shape& shape, Dtype dtype,
                       const std::optional<array>& key, S s) {
  check_key(key, "truncated_normal");
  if (!is_floating_point(dtype))
    op_error("truncated_normal", std::string("Only real floating point types are supported, got ") +
                                     dtype_name(dtype) + ".");
  check_shape(shape, "truncated_normal");
  Shape b = broadcast_or_fail({shape, lower.shape(), upper.shape()}, "truncated_normal");
  if (b != shape)
    op_error("truncated_normal", "Cannot generate random values of shape " + shape_str(shape) +
                                     " from broadcasted shape " + shape_str(b) + ".");
  // Inverse-CDF sampling between the bounds, all in the dtype.
  array lo = astype(lower, dtype, s), hi = astype(upper, dtype, s);
  array sq2 = scalar(M_SQRT2, dtype);
  array a = erf(divide(lo, sq2, s), s), b2 = erf(divide(hi, sq2, s), s);
  array z = multiply(erfinv(uniform(a, b2, shape, dtype, key, s), s), sq2, s);
  return minimum(maximum(z, lo, s), hi, s);
}

array truncated_normal(const array& lower, const array& upper, Dtype dtype,
                       const std::optional<array>& key, S s) {
  Shape shape = broadcast_or_fail({lower.shape(), upper.shape()}, "truncated_normal");
  return truncated_normal(lower, upper, shape, dtype, key, s);
}

array multivariate_normal(const array& mean, const array& cov, const Shape& shape, Dtype dtype,
                          const std::optional<array>& key, S s) {
  const char* op = "multivariate_normal";
  check_key(key, op);
  if (dtype != float32) op_error(op, std::string("dtype must be float32, got ") + dtype_name(dtype) + ".");
  if (mean.ndim() < 1) op_error(op, "mean must have at least one dimension.");
  if (cov.ndim() < 2) op_error(op, "cov must have at least two dimensions.");
  int n = cov.shape(-1);
  if (cov.shape(-2) != n)
    op_error(op, "The last two dimensions of cov must be equal, got shape " + shape_str(cov.shape()) + ".");
  if (mean.shape(-1) != n)
    op_error(op, "mean and cov must have compatible shapes, got " + shape_str(mean.shape()) + " and " +
                     shape_str(cov.shape()) + ".");
  if (is_complex(mean.dtype()) || is_complex(cov.dtype())) op_error(op, "mean and cov must be real.");
  check_shape(shape, op);
  Shape batch = broadcast_or_fail({shape, Shape(mean.shape().begin(), mean.shape().end() - 1),
                                   Shape(cov.shape().begin(), cov.shape().end() - 2)},
                                  op);
  Shape zshape = batch;
  zshape.push_back(n);
  array z = normal(zshape, float32, key, s);
  // The symmetric square root of cov, so that z @ root has covariance cov.
  array c = astype(cov, float32, s);
  array root = make_node<CovarianceRoot>(c.shape(), float32, {c}, s);
  array x = squeeze(matmul(expand_dims(z, -2, s), root, s), std::vector<int>{-2}, s);
  return add(x, astype(mean, float32, s), s);
}

// ---------- other distributions

array randint(const array& low, const array& high, const Shape& shape, Dtype dtype,
              const std::optional<array>& key, S s) {
  check_key(key, "randint");
  if (!is_integral(dtype) && dtype != bool_)
    op_error("randint", std::string("Only integer and bool dtypes are supported, got ") + dtype_name(dtype) + ".");
  check_shape(shape, "randint");
  // A float32 uniform number on [low, high), floored, converted and kept in [low, high - 1].
  array u = uniform(low, high, shape, float32, key, s);
  array top = astype(subtract(high, astype(array(1), high.dtype(), s), s), dtype, s);
  return maximum(minimum(astype(floor(u, s), dtype, s), top, s), astype(low, dtype, s), s);
}

array bernoulli(const array& p, const Shape& shape, const std::optional<array>& key, S s) {
  check_key(key, "bernoulli");
  if (!is_floating_point(p.dtype()))
    op_error("bernoulli", std::string("The probability p must be a floating point array, got ") +
                              dtype_name(p.dtype()) + ".");
  check_shape(shape, "bernoulli");
  Shape b = broadcast_or_fail({shape, p.shape()}, "bernoulli");
  if (b != shape)
    op_error("bernoulli", "Cannot generate random values of shape " + shape_str(shape) +
                              " from p of shape " + shape_str(p.shape()) + ".");
  return less(uniform(shape, float32, key, s), p, s);
}

array bernoulli(const array& p, const std::optional<array>& key, S s) {
  return bernoulli(p, p.shape(), key, s);
}

array bernoulli(const std::optional<array>& key, S s) { return bernoulli(array(0.5f), key, s); }

array gumbel(const Shape& shape, Dtype dtype, const std::optional<array>& key, S s) {
  check_key(key, "gumbel");
  if (!is_floating_point(dtype))
    op_error("gumbel", std::string("Only real floating point types are supported, got ") + dtype_name(dtype) + ".");
  // -log(-log(u)) in the dtype, u uniform on [tiny, 1).
  array lo = astype(array(std::numeric_limits<float>::min()), dtype, s);
  array u = uniform(lo, array(1.0f), shape, dtype, key, s);
  return negative(log(negative(log(u, s), s), s), s);
}

array laplace(const Shape& shape, Dtype dtype, float loc, float scale, const std::optional<array>& key,
              S s) {
  check_key(key, "laplace");
  if (!is_floating_point(dtype))
    op_error("laplace", std::string("Only real floating point types are supported, got ") + dtype_name(dtype) + ".");
  check_shape(shape, "laplace");
  // Inverse CDF in float32: sign(u) * log(1 - |u|) for u uniform on (-1, 1), then scaled
  // and shifted in the dtype.
  array u = signed_uniform(shape, key, s);
  array z = multiply(sign(u, s), log1p(negative(abs(u, s), s), s), s);
  return add(multiply(astype(z, dtype, s), array(scale, dtype), s), array(loc, dtype), s);
}

array categorical(const array& logits, int axis, const std::optional<Shape>& shape,
                  const std::optional<int>& num_samples, const std::optional<array>& key, S s) {
  const char* op = "categorical";
  check_key(key, op);
  int nd = logits.ndim();
  if (axis < -nd || axis >= nd)
    throw axis_error("[categorical] Invalid axis " + std::to_string(axis) + " for logits with " +
                     std::to_string(nd) + " dimensions.");
  if (axis < 0) axis += nd;
  if (shape && num_samples) op_error(op, "At most one of shape or num_samples can be specified.");
  if (is_complex(logits.dtype())) op_error(op, "logits must be real.");
  // Gumbel noise added to the logits; the index of the largest sum along the axis.
  Shape rest = logits.shape();
  rest.erase(rest.begin() + axis);
  // One distribution (every other axis of size 1) drawn into a result with axes: the inverse
  // of its cumulative distribution at uniform draws, which is how MLX draws in this case, so
  // that seeded draws give the same classes.
  auto from_cdf = [&](const Shape& out) {
    const int n = logits.shape(axis);
    array p = softmax(astype(reshape(logits, {n}, s), float32, s), std::vector<int>{0}, false, s);
    array cdf = cumsum(p, 0, false, true, s);
    array u = expand_dims(uniform(out, float32, key, s), -1, s);
    array below = sum(astype(less_equal(cdf, u, s), uint32, s), std::vector<int>{-1}, false, s);
    return minimum(below, array((uint32_t)std::max(n - 1, 0), uint32), s);
  };
  const bool one_line = shape_size(rest) == 1 && logits.shape(axis) > 0;
  if (num_samples) {
    if (*num_samples < 0)
      op_error(op, "num_samples must be non-negative, got " + std::to_string(*num_samples) + ".");
    if (one_line) {
      Shape out = rest;
      out.push_back(*num_samples);
      return from_cdf(out);
    }
    // One noise draw per sample along a new last axis.
    Shape noise = logits.shape();
    noise.push_back(*num_samples);
    array g = gumbel(noise, float32, key, s);
    return argmax(add(expand_dims(logits, -1, s), g, s), axis, false, s);
  }
  if (shape) {
    check_shape(*shape, op);
    Shape b = broadcast_or_fail({*shape, rest}, op);
    if (b != *shape)
      op_error(op, "Cannot draw samples of shape " + shape_str(*shape) + " from logits of shape " +
                       shape_str(logits.shape()) + " along axis " + std::to_string(axis) + ".");
    if (one_line && !shape->empty()) return from_cdf(*shape);
    // The logits broadcast against the noise from the right, the axis in its place.
    Shape noise = *shape;
    int pos = (int)noise.size() - (nd - 1 - axis);
    noise.insert(noise.begin() + pos, logits.shape(axis));
    array g = gumbel(noise, float32, key, s);
    return argmax(add(logits, g, s), pos, false, s);
  }
  if (one_line && !rest.empty()) return from_cdf(rest);
  array g = gumbel(logits.shape(), float32, key, s);
  return argmax(add(logits, g, s), axis, false, s);
}

array permutation(int n, const std::optional<array>& key, S s) {
  check_key(key, "permutation");
  if (n < 0) op_error("permutation", "The length must be non-negative, got " + std::to_string(n) + ".");
  // The order that sorts random 32-bit words.
  return argsort(bits({n}, 4, key, s), 0, s);
}

array permutation(const array& x, int axis, const std::optional<array>& key, S s) {
  check_key(key, "permutation");
  int nd = x.ndim();
  if (axis < -nd || axis >= nd)
    throw axis_error("[permutation] Invalid axis " + std::to_string(axis) + " for an array with " +
                     std::to_string(nd) + " dimensions.");
  if (axis < 0) axis += nd;
  return take(x, permutation(x.shape(axis), key, s), axis, s);
}

}  // namespace ember::random
