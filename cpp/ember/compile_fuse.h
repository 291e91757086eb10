// Fusion of elementwise runs into generated kernels (part of compile).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ember/array.h"

namespace ember {

// Replaces connected runs of elementwise nodes of `tape` (topologically sorted) by
// Compiled nodes; `tape` and `outputs` are rewritten.
void fuse_elementwise(std::vector<array>& tape, std::vector<array>& outputs);

// The outputs of a node made anew by the same primitive on `inputs`, with the same shapes
// and dtypes; `subst` maps each old output to its new one.
template <typename Map>
std::vector<array> remake(const array& node, std::vector<array> inputs, Map& subst) {
  std::vector<array> outs = node.outputs();
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& o : outs) {
    shapes.push_back(o.shape());
    dtypes.push_back(o.dtype());
  }
  auto fresh = array::make_arrays(std::move(shapes), std::move(dtypes), node.primitive_ptr(), std::move(inputs));
  for (size_t k = 0; k < outs.size(); ++k) subst[outs[k].id()] = fresh[k];
  return fresh;
}

// Where generated kernels live on disk ($XDG_CACHE_HOME/ember or ~/.cache/ember).
std::string kernel_cache_dir();

// The command that builds generated kernels: EMBER_CXX when set (and found), else c++, g++
// or clang++ on PATH, else what the fallback finder gives (the Python package looks for the
// ziglang wheel's compiler); empty when there is none. Resolved again when EMBER_CXX or PATH
// change.
std::string jit_compiler();
// Whether compile fuses kernels: a compiler is known and has not failed to start.
bool jit_fusion_available();
void set_jit_compiler_fallback(std::function<std::string()> find);
// Receives, once per process, the note that compile runs unfused for want of a compiler
// (stderr without a handler).
void set_jit_missing_handler(std::function<void(const std::string&)> handler);

}  // namespace ember
