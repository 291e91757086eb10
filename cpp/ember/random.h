// Key-based pseudo-random numbers (threefry2x32), with a global default key.
//
// The numbers match MLX's for the same key, distribution, shape and dtype, so programs
// ported from MLX draw the same values. A key is a uint32 array of shape (2,); a function
// given no key draws a fresh subkey from the global key sequence (seeded by `seed`).
#pragma once

#include <optional>
#include <utility>

#include "ember/ops.h"

namespace ember::random {

// Global key sequence of this process (the Python layer keeps its own in
// `mx.random.state`, which compile can capture).
void seed(uint64_t seed);
array key(uint64_t seed);
// Splits `state` into a new state (the first half) and a subkey (the second half, returned).
array next_key(array& state, S s = {});

std::pair<array, array> split(const array& key, S s = {});
array split(const array& key, int num, S s = {});

// Raw bits: `width` bytes per element (1, 2, 4, or 8), uint8/uint16/uint32/uint64.
array bits(const Shape& shape, int width = 4, const std::optional<array>& key = std::nullopt,
           S s = {});
inline array bits(const Shape& shape, const std::optional<array>& key, S s = {}) {
  return bits(shape, 4, key, s);
}

array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype = float32,
              const std::optional<array>& key = std::nullopt, S s = {});
template <typename T, typename U,
          typename = std::enable_if_t<std::is_arithmetic_v<T> && std::is_arithmetic_v<U>>>
array uniform(T low, U high, const Shape& shape, Dtype dtype = float32,
              const std::optional<array>& key = std::nullopt, S s = {}) {
  return uniform(array(low), array(high), shape, dtype, key, s);
}
array uniform(const Shape& shape, Dtype dtype, const std::optional<array>& key = std::nullopt,
              S s = {});
inline array uniform(const Shape& shape, const std::optional<array>& key = std::nullopt, S s = {}) {
  return uniform(shape, float32, key, s);
}

// Standard normal scaled by `scale` and shifted by `loc` (both broadcast with `shape`).
// complex64 gives real and imaginary parts that are independent N(0, 1/2).
array normal(const Shape& shape, Dtype dtype, const std::optional<array>& loc,
             const std::optional<array>& scale, const std::optional<array>& key = std::nullopt,
             S s = {});
array normal(const Shape& shape, Dtype dtype, float loc, float scale,
             const std::optional<array>& key = std::nullopt, S s = {});
inline array normal(const Shape& shape, float loc, float scale,
                    const std::optional<array>& key = std::nullopt, S s = {}) {
  return normal(shape, float32, loc, scale, key, s);
}
inline array normal(const Shape& shape, Dtype dtype, const std::optional<array>& key = std::nullopt,
                    S s = {}) {
  return normal(shape, dtype, std::nullopt, std::nullopt, key, s);
}
inline array normal(const Shape& shape, const std::optional<array>& key = std::nullopt, S s = {}) {
  return normal(shape, float32, std::nullopt, std::nullopt, key, s);
}

// Jointly normal samples of shape broadcast(shape, mean.shape[:-1], cov.shape[:-2]) + (n,).
array multivariate_normal(const array& mean, const array& cov, const Shape& shape,
                          Dtype dtype = float32, const std::optional<array>& key = std::nullopt,
                          S s = {});

array randint(const array& low, const array& high, const Shape& shape, Dtype dtype = int32,
              const std::optional<array>& key = std::nullopt, S s = {});
template <typename T, typename U,
          typename = std::enable_if_t<std::is_arithmetic_v<T> && std::is_arithmetic_v<U>>>
array randint(T low, U high, const Shape& shape, Dtype dtype = int32,
              const std::optional<array>& key = std::nullopt, S s = {}) {
  return randint(array(low), array(high), shape, dtype, key, s);
}

array bernoulli(const array& p, const Shape& shape, const std::optional<array>& key = std::nullopt,
                S s = {});
array bernoulli(const array& p, const std::optional<array>& key = std::nullopt, S s = {});
array bernoulli(const std::optional<array>& key = std::nullopt, S s = {});

array truncated_normal(const array& lower, const array& upper, const Shape& shape,
                       Dtype dtype = float32, const std::optional<array>& key = std::nullopt,
                       S s = {});
array truncated_normal(const array& lower, const array& upper, Dtype dtype = float32,
                       const std::optional<array>& key = std::nullopt, S s = {});

array gumbel(const Shape& shape, Dtype dtype = float32,
             const std::optional<array>& key = std::nullopt, S s = {});

array laplace(const Shape& shape, Dtype dtype, float loc, float scale,
              const std::optional<array>& key = std::nullopt, S s = {});
inline array laplace(const Shape& shape, float loc, float scale,
                     const std::optional<array>& key = std::nullopt, S s = {}) {
  return laplace(shape, float32, loc, scale, key, s);
}
inline array laplace(const Shape& shape, Dtype dtype = float32,
                     const std::optional<array>& key = std::nullopt, S s = {}) {
  return laplace(shape, dtype, 0.0f, 1.0f, key, s);
}

// Samples indices along `axis` of unnormalised log-probabilities (uint32).
array categorical(const array& logits, int axis = -1, const std::optional<Shape>& shape = std::nullopt,
                  const std::optional<int>& num_samples = std::nullopt,
                  const std::optional<array>& key = std::nullopt, S s = {});

array permutation(int n, const std::optional<array>& key = std::nullopt, S s = {});
array permutation(const array& x, int axis = 0, const std::optional<array>& key = std::nullopt,
                  S s = {});

}  // namespace ember::random
