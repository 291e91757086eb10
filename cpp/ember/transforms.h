// Function transformations as graph traversals: vjp, jvp, vmap, grad, custom rules,
// checkpointing.
#pragma once

#include <functional>
#include <optional>

#include "ember/array.h"
#include "ember/scheduler.h"  // eval and async_eval, which MLX declares with the transforms

namespace ember {

using Fn = std::function<std::vector<array>(const std::vector<array>&)>;
using UnaryFn = std::function<array(const array&)>;

// Returns (outputs, vector-Jacobian products for each primal).
std::pair<std::vector<array>, std::vector<array>> vjp(const Fn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents);
std::pair<array, array> vjp(const UnaryFn& fun, const array& primal, const array& cotangent);

// Returns (outputs, Jacobian-vector products for each output).
std::pair<std::vector<array>, std::vector<array>> jvp(const Fn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& tangents);
std::pair<array, array> jvp(const UnaryFn& fun, const array& primal, const array& tangent);

// (value, gradients w.r.t. argnums) of a function whose first output is a scalar.
using ValueAndGradFn = std::function<std::pair<std::vector<array>, std::vector<array>>(
    const std::vector<array>&)>;
ValueAndGradFn value_and_grad(const Fn& fun, const std::vector<int>& argnums = {0});
std::function<std::vector<array>(const std::vector<array>&)> grad(const Fn& fun,
                                                                  const std::vector<int>& argnums = {0});
std::function<array(const array&)> grad(const UnaryFn& fun);

// Vectorise over axis in_axes[i] of input i (-1: not batched); outputs get their batch
// axis at out_axes[j] (-1 only for outputs that do not depend on batched inputs).
// An out axis of kNoAxis (None in Python) leaves an unbatched output as it is.
constexpr int kNoAxis = -2147483647 - 1;
Fn vmap(const Fn& fun, const std::vector<int>& in_axes = {}, const std::vector<int>& out_axes = {});
UnaryFn vmap(const UnaryFn& fun, int in_axis = 0, int out_axis = 0);

// The two halves of vmap, used by the Python layer: trace with placeholders, then
// replace them by the batched inputs.
std::pair<std::vector<array>, std::vector<array>> vmap_trace(const Fn& fun,
                                                             const std::vector<array>& inputs,
                                                             const std::vector<int>& in_axes);
std::vector<array> vmap_replace(const std::vector<array>& inputs,
                                const std::vector<array>& placeholders,
                                const std::vector<array>& outputs,
                                const std::vector<int>& in_axes,
                                const std::vector<int>& out_axes);

// Custom derivative and batching rules for `fun`.
using VjpRule = std::function<std::vector<array>(const std::vector<array>& primals,
                                                 const std::vector<array>& cotangents,
                                                 const std::vector<array>& outputs)>;
using JvpRule = std::function<std::vector<array>(const std::vector<array>& primals,
                                                 const std::vector<array>& tangents,
                                                 const std::vector<int>& argnums)>;
using VmapRule = std::function<std::pair<std::vector<array>, std::vector<int>>(
    const std::vector<array>& inputs, const std::vector<int>& axes)>;
Fn custom_function(const Fn& fun, std::optional<VjpRule> vjp_rule,
                   std::optional<JvpRule> jvp_rule = std::nullopt,
                   std::optional<VmapRule> vmap_rule = std::nullopt);
Fn custom_vjp(const Fn& fun, const VjpRule& vjp_rule);
// Recompute `fun` in the backward pass instead of keeping its intermediates.
Fn checkpoint(const Fn& fun);

}  // namespace ember
