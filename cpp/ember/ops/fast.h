// Fused operations of the `fast` family: normalisations, rotary embeddings and attention,
// each one pass over its data on the CPU, with the same results as their compositions.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ember/array.h"

namespace ember::fast {

using S = StreamOrDevice;

// x * rsqrt(mean(x^2, -1) + eps) (* weight), reduced in float32 for half types.
array rms_norm(const array& x, const std::optional<array>& weight, float eps, S s = {});

// (x - mean) * rsqrt(var + eps) (* weight) (+ bias) over the last axis.
array layer_norm(const array& x, const std::optional<array>& weight,
                 const std::optional<array>& bias, float eps, S s = {});

// Rotary positional encoding of the first `dims` features of x (B, *, T, D); the position
// of row t is (offset + t) * scale. Exactly one of `base` and `freqs` is given. `offset` is
// an integer or an integer array (a scalar, or one offset per batch entry).
array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
           int offset, const std::optional<array>& freqs = std::nullopt, S s = {});
array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
           const array& offset, const std::optional<array>& freqs = std::nullopt, S s = {});

// softmax(scale * q @ k^T + mask) @ v over (B, N_q, T_q, D) queries and (B, N_kv, T_kv, D)
// keys and values (N_q a multiple of N_kv). `mask_mode` is "" or "causal" (lower-right
// aligned); `mask` a boolean or additive array broadcastable to (B, N_q, T_q, T_kv);
// `sinks` one extra logit per query head.
array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   const std::string& mask_mode = "",
                                   const std::optional<array>& mask = std::nullopt,
                                   const std::optional<array>& sinks = std::nullopt, S s = {});

// logsumexp(logits, -1) - logits[..., targets], in float32.
array cross_entropy(const array& logits, const array& targets, S s = {});

// The gated delta rule recurrence over T steps: returns (outputs (B, T, Hv, Dv), final
// state (B, Hv, Dv, Dk)).
std::vector<array> gated_delta_update(const array& q, const array& k, const array& v,
                                      const array& gamma, const array& beta,
                                      const std::optional<array>& initial_state = std::nullopt,
                                      const std::optional<array>& mask = std::nullopt, S s = {});

}  // namespace ember::fast
