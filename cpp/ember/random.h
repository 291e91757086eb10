// Key-based pseudo-random numbers (threefry2x32), with a global default key.
#pragma once

#include <optional>

#include "ember/ops.h"

namespace ember::random {

void seed(uint64_t seed);
array key(uint64_t seed);
array split(const array& key, int num = 2, S s = {});
array bits(const Shape& shape, int width = 4, const std::optional<array>& key = std::nullopt,
           S s = {});
array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype = float32,
              const std::optional<array>& key = std::nullopt, S s = {});
array uniform(const Shape& shape, Dtype dtype = float32,
              const std::optional<array>& key = std::nullopt, S s = {});
array normal(const Shape& shape, Dtype dtype = float32, const array& loc = array(0.0f),
             const array& scale = array(1.0f), const std::optional<array>& key = std::nullopt,
             S s = {});
array randint(const array& low, const array& high, const Shape& shape, Dtype dtype = int32,
              const std::optional<array>& key = std::nullopt, S s = {});
array bernoulli(const array& p, const Shape& shape, const std::optional<array>& key = std::nullopt,
                S s = {});
array truncated_normal(const array& lower, const array& upper, const Shape& shape,
                       Dtype dtype = float32, const std::optional<array>& key = std::nullopt,
                       S s = {});
array gumbel(const Shape& shape, Dtype dtype = float32,
             const std::optional<array>& key = std::nullopt, S s = {});
array categorical(const array& logits, int axis = -1, const std::optional<Shape>& shape = std::nullopt,
                  const std::optional<int>& num_samples = std::nullopt,
                  const std::optional<array>& key = std::nullopt, S s = {});
array permutation(int n, const std::optional<array>& key = std::nullopt, S s = {});
array permutation(const array& x, int axis = 0, const std::optional<array>& key = std::nullopt,
                  S s = {});

}  // namespace ember::random
