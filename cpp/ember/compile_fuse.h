// Fusion of elementwise runs into generated kernels (part of compile).
#pragma once

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

}  // namespace ember
