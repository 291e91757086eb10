// Primitives of the small ops (ember/ops/misc.h): bit reinterpretation and graph dependencies.
#pragma once

#include "ember/primitive.h"

namespace ember {

// The bits of its input read as another dtype (the last axis rescaled by the size ratio).
// Not differentiable: vjp and jvp raise.
class View : public UnaryPrimitive {
 public:
  View(Stream s, Dtype dtype) : UnaryPrimitive(s), dtype_(dtype) {}
  const char* name() const override { return "View"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  Dtype dtype_;
};

// Outputs: its first `n_` inputs, unchanged (sharing their buffers); the remaining inputs
// are dependencies, computed first and otherwise unused.
class Depends : public Primitive {
 public:
  Depends(Stream s, int n) : Primitive(s), n_(n) {}
  const char* name() const override { return "Depends"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<array> vjp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&, const std::vector<array>&) override;
  std::vector<array> jvp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>&,
                                                        const std::vector<int>&) override;
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  int n_;
};

}  // namespace ember
