#include "ember/random.h"

#include <chrono>
#include <cmath>
#include <mutex>

#include "ember/ops/common.h"
#include "ember/scheduler.h"

namespace ember::random {

namespace {

struct GlobalKey {
  std::mutex m;
  array key = ember::random::key(
      (uint64_t)std::chrono::system_clock::now().time_since_epoch().count());
};
GlobalKey& global() {
  static GlobalKey* g = new GlobalKey();
  return *g;
}

// The given key, or a fresh subkey split from the global key.
array get_key(const std::optional<array>& key) {
  if (key) {
    if (key->dtype() != uint32 || key->ndim() == 0 || key->shape().back() != 2)
      op_error("random", "A key must be a uint32 array with last dimension 2.");
    return *key;
  }
  auto& g = global();
  std::lock_guard<std::mutex> lk(g.m);
  array both = ember::random::split(g.key, 2);
  array k0 = reshape(slice(both, {0, 0}, {1, 2}), {2});
  array k1 = reshape(slice(both, {1, 0}, {2, 2}), {2});
  eval(std::vector<array>{k0, k1});
  g.key = k0;
  return k1;
}

void check_float(Dtype t, const char* op) {
  if (!is_floating_point(t))
    op_error(op, std::string("Can only generate uniform numbers with real floating point type, got ") +
                     dtype_name(t) + ".");
}

}  // namespace

void seed(uint64_t s) {
  auto& g = global();
  std::lock_guard<std::mutex> lk(g.m);
  g.key = key(s);
}

array key(uint64_t seed) {
  uint32_t k[2] = {(uint32_t)(seed >> 32), (uint32_t)seed};
  return array(k, {2}, uint32, uint32);
}

array bits(const Shape& shape, int width, const std::optional<array>& key_in, S s) {
  if (width != 1 && width != 2 && width != 4 && width != 8)
    op_error("bits", "Width must be 1, 2, 4 or 8 bytes.");
  for (auto d : shape)
    if (d < 0) op_error("bits", "Negative dimensions are not allowed.");
  array k = get_key(key_in);
  Dtype t = width == 1 ? uint8 : width == 2 ? uint16 : width == 4 ? uint32 : uint64;
  return make_node<RandomBits>(shape, t, {k}, s, shape, width);
}

array split(const array& key, int num, S s) {
  if (num < 1) op_error("split", "num must be positive.");
  return reshape(bits({num, 2}, 4, key, s), {num, 2}, s);
}

array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype,
              const std::optional<array>& key, S s) {
  check_float(dtype, "uniform");
  Shape out;
  try {
    out = broadcast_shapes(shape, broadcast_shapes(low.shape(), high.shape()));
  } catch (const std::invalid_argument&) {
    op_error("uniform", "Cannot generate random values of shape " + shape_str(shape) +
                            " from broadcasted low and high.");
  }
  if (out != shape)
    op_error("uniform", "Cannot generate random values of shape " + shape_str(shape) +
                            " from broadcasted low and high.");
  array b = bits(shape, 4, key, s);
  // 24 random bits -> [0, 1) exactly representable in float32.
  array u = multiply(astype(right_shift(b, array(8u, uint32), s), float32, s),
                     array(1.0f / 16777216.0f), s);
  array lo = astype(low, float32, s), hi = astype(high, float32, s);
  array r = add(lo, multiply(subtract(hi, lo, s), u, s), s);
  // Never reach `high` after rounding.
  r = where(less(r, hi, s), r, lo, s);
  return astype(r, dtype, s);
}

array uniform(const Shape& shape, Dtype dtype, const std::optional<array>& key, S s) {
  return uniform(array(0.0f), array(1.0f), shape, dtype, key, s);
}

array normal(const Shape& shape, Dtype dtype, const array& loc, const array& scale,
             const std::optional<array>& key, S s) {
  check_float(dtype, "normal");
  float lo = std::nextafter(-1.0f, 0.0f);
  array u = uniform(array(lo), array(1.0f), shape, float32, key, s);
  array z = multiply(erfinv(u, s), array((float)M_SQRT2), s);
  return astype(add(multiply(z, astype(scale, float32, s), s), astype(loc, float32, s), s), dtype, s);
}

array randint(const array& low, const array& high, const Shape& shape, Dtype dtype,
              const std::optional<array>& key, S s) {
  if (!is_integral(dtype)) op_error("randint", "dtype must be an integer type.");
  array u = uniform(array(0.0f), array(1.0f), shape, float32, key, s);
  array lo = astype(low, float64, s), hi = astype(high, float64, s);
  array r = floor(add(lo, multiply(subtract(hi, lo, s), astype(u, float64, s), s), s), s);
  r = minimum(maximum(r, lo, s), subtract(hi, array(1.0), s), s);
  return astype(r, dtype, s);
}

array bernoulli(const array& p, const Shape& shape, const std::optional<array>& key, S s) {
  if (!is_floating_point(p.dtype()) && p.dtype() != bool_ && !is_integral(p.dtype()))
    op_error("bernoulli", "p must be a real number.");
  return less(uniform(shape, float32, key, s), astype(p, float32, s), s);
}

array truncated_normal(const array& lower, const array& upper, const Shape& shape, Dtype dtype,
                       const std::optional<array>& key, S s) {
  check_float(dtype, "truncated_normal");
  // Inverse CDF sampling between the bounds.
  array lo = astype(lower, float32, s), hi = astype(upper, float32, s);
  float sq2 = (float)M_SQRT2;
  array a = erf(divide(lo, array(sq2), s), s), b = erf(divide(hi, array(sq2), s), s);
  array u = uniform(a, b, shape, float32, key, s);
  array z = multiply(erfinv(u, s), array(sq2), s);
  return astype(minimum(maximum(z, lo, s), hi, s), dtype, s);
}

array gumbel(const Shape& shape, Dtype dtype, const std::optional<array>& key, S s) {
  check_float(dtype, "gumbel");
  float tiny = std::numeric_limits<float>::min();
  array u = uniform(array(tiny), array(1.0f), shape, float32, key, s);
  return astype(negative(log(negative(log(u, s), s), s), s), dtype, s);
}

array categorical(const array& logits, int axis, const std::optional<Shape>& shape,
                  const std::optional<int>& num_samples, const std::optional<array>& key, S s) {
  axis = normalize_axis(axis, logits.ndim(), "categorical");
  if (shape && num_samples) op_error("categorical", "At most one of shape or num_samples can be specified.");
  Shape out = logits.shape();
  out.erase(out.begin() + axis);
  array l = logits;
  if (num_samples) {
    out.push_back(*num_samples);
    l = expand_dims(moveaxis(logits, axis, -1, s), -2, s);
    axis = -1;
  } else if (shape) {
    out = *shape;
    l = moveaxis(logits, axis, -1, s);
    axis = -1;
  }
  Shape gshape = out;
  if (num_samples || shape) gshape.push_back(logits.shape()[normalize_axis(axis, logits.ndim(), "categorical")]);
  else gshape = logits.shape();
  array g = gumbel(gshape, float32, key, s);
  array scores = add(astype(l, float32, s), g, s);
  return argmax(scores, axis, false, s);
}

array permutation(int n, const std::optional<array>& key, S s) {
  array b = bits({n}, 4, key, s);
  return astype(argsort(b, 0, s), int32, s);
}
array permutation(const array& x, int axis, const std::optional<array>& key, S s) {
  axis = normalize_axis(axis, x.ndim(), "permutation");
  return take(x, permutation(x.shape()[axis], key, s), axis, s);
}

}  // namespace ember::random
