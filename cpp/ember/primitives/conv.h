// The convolution primitive: one node carrying every parameter of a channels-last
// convolution (strides, padding on each side, kernel and input dilation, groups, flip).
#pragma once

#include "ember/primitive.h"

namespace ember {

// Inputs: x (N, spatial..., C_in) and w (C_out, kernel..., C_in / groups); output
// (N, out..., C_out) with, per spatial axis,
//   out = (dilated_in + pad_lo + pad_hi - kernel_dilation * (kernel - 1) - 1) / stride + 1,
//   dilated_in = input_dilation * (in - 1) + 1.
// A negative pad crops the dilated input on that side (the gradients use this).
struct ConvParams {
  std::vector<int> stride, pad_lo, pad_hi, kernel_dilation, input_dilation;
  int groups = 1;
  bool flip = false;
  bool operator==(const ConvParams& o) const {
    return stride == o.stride && pad_lo == o.pad_lo && pad_hi == o.pad_hi &&
           kernel_dilation == o.kernel_dilation && input_dilation == o.input_dilation &&
           groups == o.groups && flip == o.flip;
  }
  // The output shape for inputs of shapes `in` and `w` (no validation).
  Shape output_shape(const Shape& in, const Shape& w) const;
};

class Convolution : public UnaryPrimitive {
 public:
  Convolution(Stream s, ConvParams p) : UnaryPrimitive(s), p_(std::move(p)) {}
  const char* name() const override { return "Convolution"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  ConvParams p_;
};

}  // namespace ember
