// The hot bindings (operators, indexing) pass arrays between Python and C++ here, with the
// class's pybind11 record looked up once instead of on every call.
#pragma once

#include "utils.h"

// Records the Python array class; called once the class is defined.
void init_fast_array(py::handle cls);
// The array held by a Python object of exactly the array class, or null.
const array* array_in(py::handle h);
// `h` as an array: the fast read above, else a general cast (subclasses; a TypeError otherwise).
const array& array_of(py::handle h);
// A new Python array object owning `a`.
py::object wrap(array a);
// a[i] for 0 <= i < a.shape(0): a view made at once when `a` is evaluated (as __getitem__ does).
array index_row(const array& a, int i);
