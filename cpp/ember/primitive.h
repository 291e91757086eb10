// The base class of every operation in the graph.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ember/array.h"

namespace ember {

class Primitive {
 public:
  explicit Primitive(Stream s) : stream_(s) {}
  virtual ~Primitive() = default;
  Primitive(const Primitive&) = delete;
  Primitive& operator=(const Primitive&) = delete;

  virtual const char* name() const = 0;
  virtual void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) = 0;

  // Transformation rules. The defaults raise a clear error naming the primitive.
  virtual std::vector<array> vjp(const std::vector<array>& primals,
                                 const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums,
                                 const std::vector<array>& outputs);
  virtual std::vector<array> jvp(const std::vector<array>& primals,
                                 const std::vector<array>& tangents,
                                 const std::vector<int>& argnums);
  virtual std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes);
  virtual bool is_equivalent(const Primitive& other) const { return false; }
  virtual std::vector<Shape> output_shapes(const std::vector<array>& inputs);
  // Output shapes when a shapeless compiled graph is replayed on `inputs`; `traced_inputs` and
  // `traced_outputs` are the node's arrays at trace time. The default takes output_shapes, or
  // the traced shapes while the inputs keep theirs, and otherwise raises a clear error.
  virtual std::vector<Shape> replay_shapes(const std::vector<array>& inputs,
                                           const std::vector<array>& traced_inputs,
                                           const std::vector<array>& traced_outputs);

  const Stream& stream() const { return stream_; }
  Device device() const { return stream_.device; }

 private:
  Stream stream_;
};

// Most primitives have one output.
class UnaryPrimitive : public Primitive {
 public:
  using Primitive::Primitive;
  virtual void eval_cpu(const std::vector<array>& inputs, array& out) = 0;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override {
    eval_cpu(inputs, outputs[0]);
  }
};

// The rules a one-output primitive overrides, declared in its class: its CPU kernel and
// its vjp, jvp and vmap.
#define EMBER_UNARY_RULES                                                                    \
  void eval_cpu(const std::vector<array>& inputs, array& out) override;                     \
  std::vector<array> vjp(const std::vector<array>&, const std::vector<array>&,              \
                         const std::vector<int>&, const std::vector<array>&) override;       \
  std::vector<array> jvp(const std::vector<array>&, const std::vector<array>&,              \
                         const std::vector<int>&) override;                                  \
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>&,           \
                                                        const std::vector<int>&) override;

}  // namespace ember
