// compile: trace a function once per input signature into a simplified graph, cache it,
// and replay it on new inputs without calling the function again.
#pragma once

#include <cstdint>
#include <string>

#include "ember/transforms.h"

namespace ember {

// `fun_id` identifies the function in the cache; `signature` carries whatever the caller
// knows beyond the arrays' shapes and dtypes (tree structure, non-array constants).
// With `shapeless`, a change of shape alone reuses the traced graph.
Fn compile(const Fn& fun, std::uintptr_t fun_id, bool shapeless = false, std::string signature = "");
// As MLX's C++ compile: the returned function owns its cache entry, dropped with the
// function's last copy.
Fn compile(const Fn& fun, bool shapeless = false);

void disable_compile();
void enable_compile();
bool compile_enabled();
// Drops cached graphs of `fun_id` (all when 0).
void compile_clear_cache(std::uintptr_t fun_id = 0);

// How many times the cache has traced a function (for tests and diagnostics).
size_t compile_trace_count();

// A function traced as compile traces it (placeholders for the inputs, the nodes in
// topological order, the outputs), simplified but not fused: export writes such graphs.
struct TracedGraph {
  std::vector<array> inputs, tape, outputs;
};
TracedGraph trace_graph(const Fn& fun, const std::vector<array>& inputs, bool shapeless);
// The graph's outputs for new inputs: fresh nodes of the same primitives (lazy, so every
// transformation applies). Shapeless graphs derive the new shapes from the inputs'.
std::vector<array> replay_graph(const TracedGraph& g, const std::vector<array>& inputs, bool shapeless);

}  // namespace ember
