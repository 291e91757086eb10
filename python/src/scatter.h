// Indexed updates shared by __setitem__ and array.at.
#pragma once

#include "utils.h"

// a with a[index] combined with `value` by `kind` (None: replaced), numpy's placement rules.
array index_update(const array& a, py::handle index, const array& value, Scatter::Kind kind);
