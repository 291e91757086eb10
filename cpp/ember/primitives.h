// Every primitive: its forward on each backend and its transformation rules.
#pragma once

#include <optional>

#include "ember/primitive.h"

namespace ember {

#define EMBER_PRIMITIVE_NAME(NAME) \
  const char* name() const override { return #NAME; }

// ---------- elementwise

// Elementwise primitives batch by broadcasting: their vmap rule is shared.
class Elementwise : public UnaryPrimitive {
 public:
  using UnaryPrimitive::UnaryPrimitive;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                        const std::vector<int>& axes) override;
  bool is_equivalent(const Primitive& other) const override {
    return typeid(*this) == typeid(other);
  }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  virtual std::shared_ptr<Primitive> clone(Stream s) const = 0;
  // The output dtype for inputs already converted to the compute dtype.
  virtual Dtype output_dtype(const std::vector<array>& in) const {
    return in[in.size() == 3 ? 1 : 0].dtype();
  }
};

#define EMBER_ELEMENTWISE_T(NAME, DTYPE)                                                \
  class NAME : public Elementwise {                                                     \
   public:                                                                              \
    using Elementwise::Elementwise;                                                     \
    EMBER_PRIMITIVE_NAME(NAME)                                                          \
    Dtype output_dtype(const std::vector<array>& in) const override { return DTYPE; }   \
    void eval_cpu(const std::vector<array>& inputs, array& out) override;               \
    std::vector<array> vjp(const std::vector<array>& primals,                          \
                           const std::vector<array>& cotangents,                       \
                           const std::vector<int>& argnums,                            \
                           const std::vector<array>& outputs) override;                \
    std::vector<array> jvp(const std::vector<array>& primals,                          \
                           const std::vector<array>& tangents,                         \
                           const std::vector<int>& argnums) override;                  \
    std::shared_ptr<Primitive> clone(Stream s) const override {                         \
      return std::make_shared<NAME>(s);                                                 \
    }                                                                                   \
  };
#define EMBER_ELEMENTWISE(NAME) EMBER_ELEMENTWISE_T(NAME, Elementwise::output_dtype(in))
#define EMBER_PREDICATE(NAME) EMBER_ELEMENTWISE_T(NAME, bool_)
#define EMBER_TO_REAL(NAME) \
  EMBER_ELEMENTWISE_T(NAME, in[0].dtype() == complex64 ? float32 : in[0].dtype())

// one input
EMBER_ELEMENTWISE(Negative)
EMBER_TO_REAL(Abs)
EMBER_ELEMENTWISE(Sign)
EMBER_ELEMENTWISE(Square)
EMBER_ELEMENTWISE(Sqrt)
EMBER_ELEMENTWISE(Rsqrt)
EMBER_ELEMENTWISE(Reciprocal)
EMBER_ELEMENTWISE(Exp)
EMBER_ELEMENTWISE(Expm1)
EMBER_ELEMENTWISE(Log)
EMBER_ELEMENTWISE(Log1p)
EMBER_ELEMENTWISE(Log2)
EMBER_ELEMENTWISE(Log10)
EMBER_ELEMENTWISE(Sin)
EMBER_ELEMENTWISE(Cos)
EMBER_ELEMENTWISE(Tan)
EMBER_ELEMENTWISE(ArcSin)
EMBER_ELEMENTWISE(ArcCos)
EMBER_ELEMENTWISE(ArcTan)
EMBER_ELEMENTWISE(Sinh)
EMBER_ELEMENTWISE(Cosh)
EMBER_ELEMENTWISE(Tanh)
EMBER_ELEMENTWISE(ArcSinh)
EMBER_ELEMENTWISE(ArcCosh)
EMBER_ELEMENTWISE(ArcTanh)
EMBER_ELEMENTWISE(Sigmoid)
EMBER_ELEMENTWISE(Erf)
EMBER_ELEMENTWISE(ErfInv)
EMBER_ELEMENTWISE(Floor)
EMBER_ELEMENTWISE(Ceil)
EMBER_ELEMENTWISE(Round)
EMBER_PREDICATE(LogicalNot)
EMBER_PREDICATE(IsNaN)
EMBER_PREDICATE(IsInf)
EMBER_PREDICATE(IsPosInf)
EMBER_PREDICATE(IsNegInf)
EMBER_TO_REAL(Real)
EMBER_TO_REAL(Imag)
EMBER_ELEMENTWISE(Conjugate)
EMBER_ELEMENTWISE(BitwiseInvert)
EMBER_ELEMENTWISE(StopGradient)
// two inputs
EMBER_ELEMENTWISE(Add)
EMBER_ELEMENTWISE(Subtract)
EMBER_ELEMENTWISE(Multiply)
EMBER_ELEMENTWISE(Divide)
EMBER_ELEMENTWISE(FloorDivide)
EMBER_ELEMENTWISE(Remainder)
EMBER_ELEMENTWISE(Power)
EMBER_ELEMENTWISE(Maximum)
EMBER_ELEMENTWISE(Minimum)
EMBER_ELEMENTWISE(ArcTan2)
EMBER_ELEMENTWISE(LogAddExp)
EMBER_PREDICATE(Equal)
EMBER_PREDICATE(NotEqual)
EMBER_PREDICATE(Less)
EMBER_PREDICATE(LessEqual)
EMBER_PREDICATE(Greater)
EMBER_PREDICATE(GreaterEqual)
EMBER_PREDICATE(LogicalAnd)
EMBER_PREDICATE(LogicalOr)
EMBER_ELEMENTWISE(BitwiseAnd)
EMBER_ELEMENTWISE(BitwiseOr)
EMBER_ELEMENTWISE(BitwiseXor)
EMBER_ELEMENTWISE(LeftShift)
EMBER_ELEMENTWISE(RightShift)
// three inputs
EMBER_ELEMENTWISE(Select)
#undef EMBER_ELEMENTWISE
#undef EMBER_ELEMENTWISE_T
#undef EMBER_PREDICATE
#undef EMBER_TO_REAL

// Equal-with-NaN for isclose/array_equal is the Equal primitive with a flag.
class EqualNaN : public Elementwise {
 public:
  using Elementwise::Elementwise;
  EMBER_PRIMITIVE_NAME(EqualNaN)
  Dtype output_dtype(const std::vector<array>&) const override { return bool_; }
  void eval_cpu(const std::vector<array>& inputs, array& out) override;
  std::shared_ptr<Primitive> clone(Stream s) const override {
    return std::make_shared<EqualNaN>(s);
  }
};

class AsType : public Elementwise {
 public:
  AsType(Stream s, Dtype t) : Elementwise(s), dtype_(t) {}
  EMBER_PRIMITIVE_NAME(AsType)
  Dtype output_dtype(const std::vector<array>&) const override { return dtype_; }
  void eval_cpu(const std::vector<array>& inputs, array& out) override;
  std::vector<array> vjp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&, const std::vector<array>&) override;
  std::vector<array> jvp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&) override;
  bool is_equivalent(const Primitive& o) const override {
    auto* p = dynamic_cast<const AsType*>(&o);
    return p && p->dtype_ == dtype_;
  }
  std::shared_ptr<Primitive> clone(Stream s) const override {
    return std::make_shared<AsType>(s, dtype_);
  }
  Dtype dtype_;
};

// ---------- creation and copies

class Arange : public UnaryPrimitive {
 public:
  Arange(Stream s, double start, double stop, double step)
      : UnaryPrimitive(s), start_(start), stop_(stop), step_(step) {}
  EMBER_PRIMITIVE_NAME(Arange)
  void eval_cpu(const std::vector<array>& inputs, array& out) override;
  bool is_equivalent(const Primitive& o) const override;
  double start_, stop_, step_;
};

// Materialises its input (which may be a broadcast or strided view) row-contiguously.
class Copy : public UnaryPrimitive {
 public:
  using UnaryPrimitive::UnaryPrimitive;
  EMBER_PRIMITIVE_NAME(Copy)
  EMBER_UNARY_RULES
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  bool is_equivalent(const Primitive& o) const override { return typeid(o) == typeid(Copy); }
};

// ---------- views and shapes

class Reshape : public UnaryPrimitive {
 public:
  // `inferred`: the requested shape when it had a -1 (shapeless replay infers it again).
  // A reshape that only inserts (expand_dims) or removes (squeeze) unit axes records them, so
  // a shapeless replay keeps the other axes as they come, whatever their traced sizes.
  enum class Units { None, Inserted, Removed };
  Reshape(Stream s, Shape shape, Shape inferred = {}, Units units = Units::None,
          std::vector<int> unit_axes = {})
      : UnaryPrimitive(s), shape_(std::move(shape)), inferred_(std::move(inferred)), units_(units),
        unit_axes_(std::move(unit_axes)) {}
  EMBER_PRIMITIVE_NAME(Reshape)
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> replay_shapes(const std::vector<array>&, const std::vector<array>&,
                                   const std::vector<array>&) override;
  Shape shape_;
  Shape inferred_;
  Units units_;
  std::vector<int> unit_axes_;  // output axes (Inserted) or input axes (Removed), sorted
};

class Transpose : public UnaryPrimitive {
 public:
  Transpose(Stream s, std::vector<int> axes) : UnaryPrimitive(s), axes_(std::move(axes)) {}
  EMBER_PRIMITIVE_NAME(Transpose)
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  std::vector<int> axes_;
};

class Broadcast : public UnaryPrimitive {
 public:
  Broadcast(Stream s, Shape shape) : UnaryPrimitive(s), shape_(std::move(shape)) {}
  EMBER_PRIMITIVE_NAME(Broadcast)
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  Shape shape_;
};

class Slice : public UnaryPrimitive {
 public:
  Slice(Stream s, Shape start, Shape stop, Shape strides)
      : UnaryPrimitive(s), start_(std::move(start)), stop_(std::move(stop)),
        strides_(std::move(strides)) {}
  EMBER_PRIMITIVE_NAME(Slice)
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> replay_shapes(const std::vector<array>&, const std::vector<array>&,
                                   const std::vector<array>&) override;
  Shape start_, stop_, strides_;
};

class SliceUpdate : public UnaryPrimitive {
 public:
  SliceUpdate(Stream s, Shape start, Shape stop, Shape strides)
      : UnaryPrimitive(s), start_(std::move(start)), stop_(std::move(stop)),
        strides_(std::move(strides)) {}
  EMBER_PRIMITIVE_NAME(SliceUpdate)
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  Shape start_, stop_, strides_;
};

class AsStrided : public UnaryPrimitive {
 public:
  AsStrided(Stream s, Shape shape, Strides strides, size_t offset)
      : UnaryPrimitive(s), shape_(std::move(shape)), strides_(std::move(strides)),
        offset_(offset) {}
  EMBER_PRIMITIVE_NAME(AsStrided)
  void eval_cpu(const std::vector<array>& inputs, array& out) override;
  std::vector<array> vjp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&, const std::vector<array>&) override;
  std::vector<array> jvp(const std::vector<array>&, const std::vector<array>&,
                         const std::vector<int>&) override;
  bool is_equivalent(const Primitive& o) const override;
  Shape shape_;
  Strides strides_;
  size_t offset_;
};

class Concatenate : public UnaryPrimitive {
 public:
  Concatenate(Stream s, int axis) : UnaryPrimitive(s), axis_(axis) {}
  EMBER_PRIMITIVE_NAME(Concatenate)
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  int axis_;
};

// ---------- reductions

enum class ReduceType { Sum, Prod, Max, Min, And, Or };

class Reduce : public UnaryPrimitive {
 public:
  Reduce(Stream s, ReduceType t, std::vector<int> axes)
      : UnaryPrimitive(s), type_(t), axes_(std::move(axes)) {}
  const char* name() const override;
  EMBER_UNARY_RULES
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  bool is_equivalent(const Primitive& o) const override;
  Shape reduced_keepdims_shape(Shape s) const;
  ReduceType type_;
  std::vector<int> axes_;  // sorted; output keeps them as size-1 dims
};

class ArgReduce : public UnaryPrimitive {
 public:
  ArgReduce(Stream s, bool is_max, int axis) : UnaryPrimitive(s), is_max_(is_max), axis_(axis) {}
  const char* name() const override { return is_max_ ? "ArgMax" : "ArgMin"; }
  EMBER_UNARY_RULES
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  bool is_equivalent(const Primitive& o) const override;
  bool is_max_;
  int axis_;  // output keeps it as a size-1 dim
};

enum class ScanType { Sum, Prod, Max, Min, LogAddExp };

class Scan : public UnaryPrimitive {
 public:
  Scan(Stream s, ScanType t, int axis, bool reverse, bool inclusive)
      : UnaryPrimitive(s), type_(t), axis_(axis), reverse_(reverse), inclusive_(inclusive) {}
  const char* name() const override;
  EMBER_UNARY_RULES
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  bool is_equivalent(const Primitive& o) const override;
  ScanType type_;
  int axis_;
  bool reverse_, inclusive_;
};

// Softmax over the last axis (the op moves the axis there).
class Softmax : public UnaryPrimitive {
 public:
  Softmax(Stream s, bool precise) : UnaryPrimitive(s), precise_(precise) {}
  EMBER_PRIMITIVE_NAME(Softmax)
  EMBER_UNARY_RULES
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  bool is_equivalent(const Primitive& o) const override;
  bool precise_;
};

// log(sum(exp(x))) over the last axis, kept as a size-1 dim.
class LogSumExp : public UnaryPrimitive {
 public:
  using UnaryPrimitive::UnaryPrimitive;
  EMBER_PRIMITIVE_NAME(LogSumExp)
  EMBER_UNARY_RULES
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  bool is_equivalent(const Primitive& o) const override { return typeid(o) == typeid(*this); }
};

// ---------- indexing

// out[i..., s...] = a[idx_0[i...], ..., idx_k[i...]] along `axes`, with slices of
// slice_sizes elsewhere. Inputs: a, then the (broadcast) index arrays.
class Gather : public UnaryPrimitive {
 public:
  Gather(Stream s, std::vector<int> axes, Shape slice_sizes)
      : UnaryPrimitive(s), axes_(std::move(axes)), slice_sizes_(std::move(slice_sizes)) {}
  EMBER_PRIMITIVE_NAME(Gather)
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> replay_shapes(const std::vector<array>&, const std::vector<array>&,
                                   const std::vector<array>&) override;
  std::vector<int> axes_;
  Shape slice_sizes_;
};

// Inputs: a, the index arrays, updates (shape: broadcast(indices) + a's shape with the
// indexed axes of size 1). Kind: how an update meets the value already there.
// Forward and rules: primitives/scatter.cpp, backend/cpu/scatter.cpp.
class Scatter : public UnaryPrimitive {
 public:
  enum class Kind { None, Sum, Prod, Max, Min };
  Scatter(Stream s, Kind k, std::vector<int> axes)
      : UnaryPrimitive(s), kind_(k), axes_(std::move(axes)) {}
  const char* name() const override;
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  Kind kind_;
  std::vector<int> axes_;
};

// Along one axis: inputs a and indices of the same rank.
class GatherAxis : public UnaryPrimitive {
 public:
  GatherAxis(Stream s, int axis) : UnaryPrimitive(s), axis_(axis) {}
  EMBER_PRIMITIVE_NAME(GatherAxis)
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  int axis_;
};

class ScatterAxis : public UnaryPrimitive {
 public:
  ScatterAxis(Stream s, int axis, bool add) : UnaryPrimitive(s), axis_(axis), add_(add) {}
  const char* name() const override { return add_ ? "ScatterAxisAdd" : "ScatterAxis"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  int axis_;
  bool add_;
};

// ---------- linear algebra

// Batched a @ b (+ beta * c when a third input is given) with equal batch shapes.
class Matmul : public UnaryPrimitive {
 public:
  Matmul(Stream s, float alpha = 1.0f, float beta = 0.0f)
      : UnaryPrimitive(s), alpha_(alpha), beta_(beta) {}
  const char* name() const override { return beta_ != 0.0f ? "AddMM" : "Matmul"; }
  EMBER_UNARY_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  float alpha_, beta_;
};

// ---------- random

// Random bits from a (2,)-uint32 key with the threefry2x32 counter-based generator.
class RandomBits : public UnaryPrimitive {
 public:
  RandomBits(Stream s, Shape shape, int width)
      : UnaryPrimitive(s), shape_(std::move(shape)), width_(width) {}
  EMBER_PRIMITIVE_NAME(RandomBits)
  void eval_cpu(const std::vector<array>& inputs, array& out) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>&,
                                                        const std::vector<int>&) override;
  bool is_equivalent(const Primitive& o) const override;
  Shape shape_;
  int width_;
};

// The symmetric square root of each (n, n) positive semi-definite matrix in the last two
// axes (multivariate_normal's noise transform).
class CovarianceRoot : public UnaryPrimitive {
 public:
  using UnaryPrimitive::UnaryPrimitive;
  EMBER_PRIMITIVE_NAME(CovarianceRoot)
  void eval_cpu(const std::vector<array>& inputs, array& out) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>&,
                                                        const std::vector<int>&) override;
  bool is_equivalent(const Primitive& o) const override { return typeid(*this) == typeid(o); }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    return {inputs[0].shape()};
  }
};

#undef EMBER_PRIMITIVE_NAME

}  // namespace ember
#include "ember/primitives/misc.h"

#include "ember/primitives/sort.h"
#include "ember/primitives/einsum.h"
#include "ember/primitives/fast.h"
#include "ember/primitives/quantized.h"
#include "ember/primitives/conv.h"
#include "ember/primitives/linalg.h"
#include "ember/primitives/distributed.h"
#include "ember/primitives/fft.h"
