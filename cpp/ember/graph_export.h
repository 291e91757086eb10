// Writing the graph behind some arrays (what an eval would run) as Graphviz DOT text.
#pragma once

#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "ember/array.h"

namespace ember {

// Names to show for some arrays, keyed by array::id().
using ArrayNames = std::unordered_map<const void*, std::string>;

// One box per primitive application (its name, and the shape and dtype of each output),
// one ellipse per input that has no primitive (evaluated arrays, constants), and an edge
// for each use of an array. Inputs come before the nodes that use them.
void export_to_dot(std::ostream& os, const std::vector<array>& outputs, const ArrayNames& names = {});

}  // namespace ember
