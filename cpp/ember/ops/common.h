// Helpers shared by the op implementations.
#pragma once

#include <string>

#include "ember/ops.h"
#include "ember/primitives.h"

namespace ember {

// "[op] message" as std::invalid_argument (a ValueError in Python).
[[noreturn]] void op_error(const char* op, const std::string& msg);
std::string shape_str(const Shape& s);

template <typename P, typename... Args>
array make_node(Shape shape, Dtype dtype, std::vector<array> inputs, S s, Args&&... args) {
  return array(std::move(shape), dtype, std::make_shared<P>(to_stream(s), std::forward<Args>(args)...),
               std::move(inputs));
}

// Integer and boolean inputs of float-valued ops become float32.
array to_inexact(const array& a, S s);

// The permutation that moves the sorted `axes` after all the others, and `a` with those axes
// moved last and flattened into one.
std::vector<int> axes_last_perm(int ndim, const std::vector<int>& axes);
array to_last_axis(const array& a, const std::vector<int>& axes, S s = {});

}  // namespace ember
