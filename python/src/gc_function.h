// The Python objects that wrap a user function under a transformation (grad, vmap,
// compile, checkpoint, custom_function).
//
// They take part in Python's garbage collector (tp_traverse / tp_clear), so a closure that
// holds its own transformed function is collected like any Python cycle. They describe
// themselves as the wrapped function does (__name__, __qualname__, __doc__, __module__,
// __wrapped__, and any other attribute the wrapper itself lacks), like functools.wraps.
#pragma once

#include "utils.h"

struct WrappedFunction {
  py::object fun;

  virtual ~WrappedFunction() = default;
  virtual py::object call(py::args args, py::kwargs kwargs) = 0;
  // Every Python object the wrapper owns, for the garbage collector.
  virtual int traverse(visitproc visit, void* arg) {
    Py_VISIT(fun.ptr());
    return 0;
  }
  // Drops those objects (the collector breaking a cycle). A cleared wrapper that is still
  // called (from a finaliser in the same cycle) raises instead of crashing.
  virtual void clear() { fun = py::none(); }
};

namespace gc_function_detail {

template <typename T>
T* wrapper_of(PyObject* self) {
  if (!py::detail::is_holder_constructed(self)) return nullptr;
  return &py::cast<T&>(py::handle(self));
}

template <typename T>
int traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  if (T* w = wrapper_of<T>(self)) return w->traverse(visit, arg);
  return 0;
}

template <typename T>
int clear(PyObject* self) {
  if (T* w = wrapper_of<T>(self)) w->clear();
  return 0;
}

inline bool describes_function(PyObject* name) {
  for (const char* s : {"__name__", "__qualname__", "__doc__", "__module__"})
    if (PyUnicode_CompareWithASCIIString(name, s) == 0) return true;
  return false;
}

template <typename T>
PyObject* getattro(PyObject* self, PyObject* name) {
  T* w = wrapper_of<T>(self);
  PyObject* fun = (w && w->fun) ? w->fun.ptr() : nullptr;
  if (fun && PyUnicode_Check(name)) {
    if (PyUnicode_CompareWithASCIIString(name, "__wrapped__") == 0) return Py_NewRef(fun);
    if (describes_function(name)) {
      if (PyObject* r = PyObject_GetAttr(fun, name)) return r;
      if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return nullptr;
      PyErr_Clear();
    }
  }
  PyObject* r = PyObject_GenericGetAttr(self, name);
  if (r || !fun || !PyErr_ExceptionMatches(PyExc_AttributeError)) return r;
  // Anything else the wrapper lacks comes from the wrapped function.
  PyErr_Clear();
  return PyObject_GetAttr(fun, name);
}

}  // namespace gc_function_detail

// The type setup for a pybind11 class whose C++ type T derives from WrappedFunction.
template <typename T>
py::custom_type_setup wrapped_function_setup() {
  return py::custom_type_setup([](PyHeapTypeObject* heap_type) {
    PyTypeObject* type = &heap_type->ht_type;
    type->tp_flags |= Py_TPFLAGS_HAVE_GC;
    type->tp_traverse = gc_function_detail::traverse<T>;
    type->tp_clear = gc_function_detail::clear<T>;
    type->tp_getattro = gc_function_detail::getattro<T>;
  });
}

// Python objects that a traced graph holds from C++: the body and rules of a custom function
// or a checkpoint called while `compile` traces. The compiled function keeps that graph in the
// engine's cache, out of the collector's sight, so it reports them in its own traverse. `T`
// has `int traverse(visitproc, void*)`; the compiled function being traced on this thread (if
// any) remembers `held` weakly, without keeping it alive.
void note_traced_objects(std::weak_ptr<void> held, void* ptr, int (*traverse)(void*, visitproc, void*));
template <typename T>
void note_traced_objects(const std::shared_ptr<T>& held) {
  note_traced_objects(std::weak_ptr<void>(held), held.get(), [](void* p, visitproc visit, void* arg) {
    return static_cast<T*>(p)->traverse(visit, arg);
  });
}

// Registers the shared wrapper type (ember.core.TransformedFunction) once; transforms
// hand out instances of it through wrap_function.
void init_wrapped_function(py::module_& m);
py::object wrap_function(std::unique_ptr<WrappedFunction> w);
