// The weight gradient of a convolution as a node of its own (used by the Convolution
// primitive's rules and by the CPU kernels; not part of the public op set).
#pragma once

#include "ember/primitives/conv.h"

namespace ember {

// The gradient of conv(x, w, p) with respect to w: inputs x (N, spatial..., C_in) and the
// cotangent ct (N, out..., C_out); output (C_out, kernel..., C_in / groups), with the kernel's
// spatial sizes `kernel`. It is bilinear in (x, ct), so its own rules are convolutions again.
class ConvWeightGrad : public UnaryPrimitive {
 public:
  ConvWeightGrad(Stream s, ConvParams p, std::vector<int> kernel)
      : UnaryPrimitive(s), p_(std::move(p)), kernel_(std::move(kernel)) {}
  const char* name() const override { return "ConvWeightGrad"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  Shape weight_shape(const Shape& x, const Shape& ct) const;
  ConvParams p_;
  std::vector<int> kernel_;
};

// The weight gradient of conv_node(x, w, p) for the cotangent ct, w's spatial sizes `kernel`.
array conv_weight_grad(const array& x, const array& ct, const ConvParams& p,
                       const std::vector<int>& kernel, StreamOrDevice s = {});

// Max pooling over non-overlapping tiles (stride = kernel, no padding): x (N, spatial...,
// C) with every spatial size a multiple of its kernel size; output (N, spatial / kernel..., C).
// Tied maxima share the gradient equally, as a max reduction shares it.
class TileMax : public UnaryPrimitive {
 public:
  TileMax(Stream s, std::vector<int> kernel) : UnaryPrimitive(s), kernel_(std::move(kernel)) {}
  const char* name() const override { return "TileMax"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  std::vector<int> kernel_;
};

// The gradient of TileMax: inputs x and the cotangent ct (TileMax's output shape); output
// x's shape, ct spread over each tile's maxima (divided among ties).
class TileMaxGrad : public UnaryPrimitive {
 public:
  TileMaxGrad(Stream s, std::vector<int> kernel) : UnaryPrimitive(s), kernel_(std::move(kernel)) {}
  const char* name() const override { return "TileMaxGrad"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  std::vector<int> kernel_;
};

// Tile max pooling (float32/float64 inputs of 3 to 5 dimensions) and its gradient.
array tile_max(const array& x, const std::vector<int>& kernel, StreamOrDevice s = {});
array tile_max_grad(const array& x, const array& ct, const std::vector<int>& kernel,
                    StreamOrDevice s = {});

}  // namespace ember
