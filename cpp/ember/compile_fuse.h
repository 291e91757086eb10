// Fusion of elementwise runs into generated kernels (part of compile).
#pragma once

#include <vector>

#include "ember/array.h"

namespace ember {

// Replaces connected runs of elementwise nodes of `tape` (topologically sorted) by
// Compiled nodes; `tape` and `outputs` are rewritten.
void fuse_elementwise(std::vector<array>& tape, std::vector<array>& outputs);

// Where generated kernels live on disk ($XDG_CACHE_HOME/ember or ~/.cache/ember).
std::string kernel_cache_dir();

}  // namespace ember
