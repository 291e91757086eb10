#include "utils.h"

PYBIND11_MODULE(core, m) {
  m.doc() = "Ember core: lazy arrays, ops and transformations.";
  m.attr("__version__") = EMBER_VERSION;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::out_of_range& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    }
  });
  init_array(m);
  init_device(m);
  init_ops(m);
  init_random(m);
  init_memory(m);
  init_transforms(m);
}
