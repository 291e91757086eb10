// Collective primitives. Each holds the group it talks through; evaluation runs on the CPU
// stream's worker and blocks until the other ranks take part.
#pragma once

#include "ember/ops/distributed.h"
#include "ember/primitive.h"

namespace ember {

class DistPrimitive : public UnaryPrimitive {
 public:
  DistPrimitive(Stream s, distributed::Group g) : UnaryPrimitive(s), group_(std::move(g)) {}
  const distributed::Group& group() const { return group_; }

 protected:
  distributed::Group group_;
};

// all_sum, all_max and all_min.
class AllReduce : public DistPrimitive {
 public:
  using Op = distributed::GroupImpl::ReduceOp;
  AllReduce(Stream s, distributed::Group g, Op op) : DistPrimitive(s, std::move(g)), op_(op) {}
  const char* name() const override {
    return op_ == Op::Sum ? "AllSum" : op_ == Op::Max ? "AllMax" : "AllMin";
  }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    return {inputs[0].shape()};
  }
  Op op_;
};

class AllGather : public DistPrimitive {
 public:
  using DistPrimitive::DistPrimitive;
  const char* name() const override { return "AllGather"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
};

class SumScatter : public DistPrimitive {
 public:
  using DistPrimitive::DistPrimitive;
  const char* name() const override { return "SumScatter"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
};

// Sends its input to rank `peer`; the output is the input.
class Send : public DistPrimitive {
 public:
  Send(Stream s, distributed::Group g, int peer) : DistPrimitive(s, std::move(g)), peer_(peer) {}
  const char* name() const override { return "Send"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive&) const override { return false; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    return {inputs[0].shape()};
  }
  int peer_;
};

// Receives an array from rank `peer` (no inputs).
class Recv : public DistPrimitive {
 public:
  Recv(Stream s, distributed::Group g, int peer) : DistPrimitive(s, std::move(g)), peer_(peer) {}
  const char* name() const override { return "Recv"; }
  void eval_cpu(const std::vector<array>& inputs, array& out) override;
  std::vector<array> jvp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&) override;
  bool is_equivalent(const Primitive&) const override { return false; }
  int peer_;
};

}  // namespace ember
