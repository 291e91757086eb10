// Primitives of the quantized family: quantize, dequantize, quantized matmul, fp8 casts.
#pragma once

#include "ember/ops/quantized.h"
#include "ember/primitive.h"

namespace ember {

struct QuantSpec {
  int group_size;
  int bits;
  QuantMode mode;
  bool operator==(const QuantSpec& o) const {
    return group_size == o.group_size && bits == o.bits && mode == o.mode;
  }
};

// w (..., N, K) -> w_q (..., N, K*bits/32) uint32, scales (..., N, K/group_size)
// [, biases for affine].
class Quantize : public Primitive {
 public:
  Quantize(Stream s, QuantSpec q) : Primitive(s), q_(q) {}
  const char* name() const override { return "Quantize"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<array> vjp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&, const std::vector<array>&) override;
  std::vector<array> jvp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>&,
                                                        const std::vector<int>&) override;
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  QuantSpec q_;
};

// Inputs w_q, scales[, biases] (same batch shape); output (..., N, K).
class Dequantize : public UnaryPrimitive {
 public:
  Dequantize(Stream s, QuantSpec q, Dtype t) : UnaryPrimitive(s), q_(q), dtype_out_(t) {}
  const char* name() const override { return "Dequantize"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  QuantSpec q_;
  Dtype dtype_out_;
};

// Inputs x (..., M, K'), w_q, scales[, biases] with batch dims that broadcast together;
// output (batch..., M, N'): x @ dequantize(w).T when transpose, else x @ dequantize(w).
class QuantizedMatmul : public UnaryPrimitive {
 public:
  QuantizedMatmul(Stream s, QuantSpec q, bool transpose, Dtype t)
      : UnaryPrimitive(s), q_(q), transpose_(transpose), dtype_out_(t) {}
  const char* name() const override { return "QuantizedMatmul"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  QuantSpec q_;
  bool transpose_;
  Dtype dtype_out_;
};

// Elementwise E4M3 encoding (to_fp8: float -> uint8) or decoding (uint8 -> dtype).
class FP8Cast : public UnaryPrimitive {
 public:
  FP8Cast(Stream s, bool to_fp8, Dtype t) : UnaryPrimitive(s), to_fp8_(to_fp8), dtype_out_(t) {}
  const char* name() const override { return to_fp8_ ? "ToFP8" : "FromFP8"; }
  void eval_cpu(const std::vector<array>& inputs, array& out) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>&,
                                                        const std::vector<int>&) override;
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    return {inputs[0].shape()};
  }
  bool to_fp8_;
  Dtype dtype_out_;
};

}  // namespace ember
