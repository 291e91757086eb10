// Flattening nested Python containers (list, tuple, dict) whose leaves may be arrays.
#pragma once

#include "utils.h"

// Arrays among the leaves of `tree`, in order.
void tree_arrays(py::handle tree, std::vector<array>& out);
// `tree` with its array leaves replaced, in order, by vals[idx...].
py::object tree_fill(py::handle tree, const std::vector<array>& vals, size_t& idx);
// One batch axis per array leaf of `tree` from a prefix tree of ints / None.
void tree_axes(py::handle tree, py::handle prefix, std::vector<int>& out, const char* what,
               bool normalize = true);
