// Sorting and selection primitives: sort, partition, top-k and binary search.
//
// All of them order values the same way: NaN after everything else (all NaNs equal),
// -0.0 equal to 0.0, complex numbers by real part and then by imaginary part. Sorts are
// stable; the `arg` variants return uint32 positions along the axis.
#pragma once

#include "ember/primitive.h"

namespace ember {

class Sort : public UnaryPrimitive {
 public:
  Sort(Stream s, int axis, bool arg) : UnaryPrimitive(s), axis_(axis), arg_(arg) {}
  const char* name() const override { return arg_ ? "ArgSort" : "Sort"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  int axis_;
  bool arg_;
};

// The element of sorted rank `kth` in place along `axis`, smaller-or-equal ones before it
// and greater-or-equal ones after it.
class Partition : public UnaryPrimitive {
 public:
  Partition(Stream s, int kth, int axis, bool arg)
      : UnaryPrimitive(s), kth_(kth), axis_(axis), arg_(arg) {}
  const char* name() const override { return arg_ ? "ArgPartition" : "Partition"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  int kth_;  // in [0, size of the axis)
  int axis_;
  bool arg_;
};

// The k largest elements along `axis`, largest first (equal values by position).
class TopK : public UnaryPrimitive {
 public:
  TopK(Stream s, int k, int axis, bool arg) : UnaryPrimitive(s), k_(k), axis_(axis), arg_(arg) {}
  const char* name() const override { return arg_ ? "ArgTopK" : "TopK"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  int k_;
  int axis_;
  bool arg_;
};

// Inputs: a sorted 1-D sequence and the values to place, of one dtype. Output: uint32
// insertion points, shaped like the values.
class SearchSorted : public UnaryPrimitive {
 public:
  SearchSorted(Stream s, bool right) : UnaryPrimitive(s), right_(right) {}
  const char* name() const override { return "SearchSorted"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    return {inputs[1].shape()};
  }
  bool right_;
};

}  // namespace ember
