// Flattening nested Python containers (list, tuple, dict) whose leaves may be arrays.
// Tuple subclasses (NamedTuples included) are rebuilt as their own type.
#pragma once

#include <unordered_map>

#include "utils.h"

// Arrays among the leaves of `tree`, in order.
void tree_arrays(py::handle tree, std::vector<array>& out);
// `tree` with its array leaves replaced, in order, by vals[idx...]. New containers.
py::object tree_fill(py::handle tree, const std::vector<array>& vals, size_t& idx);
// `tree` with its array leaves replaced, in order, by the Python objects vals[idx...].
py::object tree_fill_objects(py::handle tree, const std::vector<py::object>& vals, size_t& idx);
// A copy of the containers of `tree` (leaves shared), to remember its structure.
py::object tree_snapshot(py::handle tree);
// A tuple of the same type as `like` (NamedTuples and other tuple subclasses included).
py::object make_tuple_like(py::handle like, const py::list& items);

// Puts vals[idx...] into the array leaves of `tree` the way the function will see them:
// lists and dicts are updated in place (so the caller sees what the function does to
// them), tuples are rebuilt. `swapped` maps each object put in to the object it replaced.
struct SwapRecord {
  std::vector<std::pair<py::object, py::object>> pairs;  // (new object, original object)
  std::unordered_map<PyObject*, PyObject*> back;
};
py::object tree_fill_in_place(py::handle tree, const std::vector<array>& vals, size_t& idx,
                              SwapRecord& swapped);
// Walks every list and dict reachable from `tree` and puts the originals back wherever an
// object recorded in `swapped` still sits.
void tree_restore(py::handle tree, const SwapRecord& swapped);

// One batch axis per array leaf of `tree` from a prefix tree of ints / None.
void tree_axes(py::handle tree, py::handle prefix, std::vector<int>& out, const char* what,
               bool normalize = true);

// Raises TypeError naming `who` when `fun` is not callable.
void check_callable(py::handle fun, const char* who, const char* what = "fun");
