// Primitives of the `fast` family. Each has a dedicated CPU kernel and a `fallback`: the
// same computation written with ordinary ops. Rules that have no fused form (forward-mode
// derivatives, rare batching patterns, second derivatives) are those of the fallback.
#pragma once

#include "ember/primitive.h"

namespace ember {

class FastPrimitive : public Primitive {
 public:
  using Primitive::Primitive;
  // The outputs computed with ordinary ops.
  virtual std::vector<array> fallback(const std::vector<array>& inputs) const = 0;

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                        const std::vector<int>& axes) override;

 protected:
  // Cotangents of the inputs in `argnums` through the fallback.
  std::vector<array> fallback_vjp(const std::vector<array>& primals,
                                  const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums) const;
  std::pair<std::vector<array>, std::vector<int>> fallback_vmap(const std::vector<array>& inputs,
                                                                 const std::vector<int>& axes) const;
};

#define EMBER_FAST_COMMON(NAME)                                                            \
  const char* name() const override { return #NAME; }                                     \
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;  \
  std::vector<array> fallback(const std::vector<array>& inputs) const override;           \
  bool is_equivalent(const Primitive& other) const override;                              \
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;

// Inputs: x, then weight when has_weight_. Normalises over the last axis.
class RMSNorm : public FastPrimitive {
 public:
  RMSNorm(Stream s, float eps, bool has_weight) : FastPrimitive(s), eps_(eps), has_weight_(has_weight) {}
  EMBER_FAST_COMMON(RMSNorm)
  std::vector<array> vjp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&, const std::vector<array>&) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>&,
                                                        const std::vector<int>&) override;
  float eps_;
  bool has_weight_;
};

// Inputs: x, [weight], cotangent. Outputs: dx, then dweight when has_weight_.
class RMSNormVJP : public FastPrimitive {
 public:
  RMSNormVJP(Stream s, float eps, bool has_weight) : FastPrimitive(s), eps_(eps), has_weight_(has_weight) {}
  EMBER_FAST_COMMON(RMSNormVJP)
  float eps_;
  bool has_weight_;
};

// Inputs: x, [weight], [bias].
class LayerNorm : public FastPrimitive {
 public:
  LayerNorm(Stream s, float eps, bool has_weight, bool has_bias)
      : FastPrimitive(s), eps_(eps), has_weight_(has_weight), has_bias_(has_bias) {}
  EMBER_FAST_COMMON(LayerNorm)
  std::vector<array> vjp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&, const std::vector<array>&) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>&,
                                                        const std::vector<int>&) override;
  float eps_;
  bool has_weight_, has_bias_;
};

// Inputs: x, [weight], cotangent. Outputs: dx, [dweight], [dbias].
class LayerNormVJP : public FastPrimitive {
 public:
  LayerNormVJP(Stream s, float eps, bool has_weight, bool has_bias)
      : FastPrimitive(s), eps_(eps), has_weight_(has_weight), has_bias_(has_bias) {}
  EMBER_FAST_COMMON(LayerNormVJP)
  float eps_;
  bool has_weight_, has_bias_;
};

// Inputs: x (..., T, D), offset (int32, rank 0 or x.ndim() - 2, broadcastable to x's leading
// dims), then freqs when base_ is unset. `forward` false rotates the other way (the vjp).
class RoPE : public FastPrimitive {
 public:
  RoPE(Stream s, int dims, bool traditional, float base, float scale, bool forward, bool has_freqs)
      : FastPrimitive(s), dims_(dims), traditional_(traditional), base_(base), scale_(scale),
        forward_(forward), has_freqs_(has_freqs) {}
  EMBER_FAST_COMMON(RoPE)
  std::vector<array> vjp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&, const std::vector<array>&) override;
  std::vector<array> jvp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>&,
                                                        const std::vector<int>&) override;
  int dims_;
  bool traditional_;
  float base_, scale_;
  bool forward_, has_freqs_;
};

// Inputs: q (B, Hq, Tq, D), k (B, Hkv, Tkv, D), v (B, Hkv, Tkv, Dv), [mask broadcast to
// (B, Hq, Tq, Tkv)], [sinks (Hq,)]. Outputs: the attention (B, Hq, Tq, Dv) and, per query
// row, the running max and the softmax denominator (B, Hq, Tq, 2) in float32.
class ScaledDotProductAttention : public FastPrimitive {
 public:
  ScaledDotProductAttention(Stream s, float scale, bool causal, bool has_mask, bool bool_mask,
                            bool has_sinks)
      : FastPrimitive(s), scale_(scale), causal_(causal), has_mask_(has_mask),
        bool_mask_(bool_mask), has_sinks_(has_sinks) {}
  EMBER_FAST_COMMON(ScaledDotProductAttention)
  std::vector<array> vjp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&, const std::vector<array>&) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>&,
                                                        const std::vector<int>&) override;
  float scale_;
  bool causal_, has_mask_, bool_mask_, has_sinks_;
};

// Inputs: the attention's inputs, then its two outputs and the cotangent of the first.
// Outputs: dq, dk, dv, then dsinks when has_sinks_.
class ScaledDotProductAttentionVJP : public FastPrimitive {
 public:
  ScaledDotProductAttentionVJP(Stream s, float scale, bool causal, bool has_mask, bool bool_mask,
                               bool has_sinks)
      : FastPrimitive(s), scale_(scale), causal_(causal), has_mask_(has_mask),
        bool_mask_(bool_mask), has_sinks_(has_sinks) {}
  EMBER_FAST_COMMON(ScaledDotProductAttentionVJP)
  float scale_;
  bool causal_, has_mask_, bool_mask_, has_sinks_;
};

// Inputs: logits (..., C), targets (...) integer. Output: float32 loss (...).
class CrossEntropy : public FastPrimitive {
 public:
  using FastPrimitive::FastPrimitive;
  EMBER_FAST_COMMON(CrossEntropy)
  std::vector<array> vjp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&, const std::vector<array>&) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>&,
                                                        const std::vector<int>&) override;
};

#undef EMBER_FAST_COMMON

}  // namespace ember
