// Primitives of the contraction and diagonal family.
#pragma once

#include "ember/primitive.h"

namespace ember {

// The diagonal `offset` of the planes spanned by axis1 and axis2 (normalised, distinct), as
// the last axis: a strided view of the input, no copy.
class Diagonal : public UnaryPrimitive {
 public:
  Diagonal(Stream s, int offset, int axis1, int axis2)
      : UnaryPrimitive(s), offset_(offset), axis1_(axis1), axis2_(axis2) {}
  const char* name() const override { return "Diagonal"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;

  // Output shape for an input shape; offsets along axis1 and axis2 of the first element.
  static Shape shape_for(const Shape& in, int offset, int axis1, int axis2);
  int offset_, axis1_, axis2_;
};

}  // namespace ember
