#include <limits>

#include "utils.h"

void init_linalg(py::module_& m);
void init_distributed(py::module_& m);

PYBIND11_MODULE(core, m) {
  m.doc() = "Ember core: lazy arrays, ops and transformations.";
  m.attr("__version__") = EMBER_VERSION;
  // Axis errors are both ValueError and IndexError, like numpy's AxisError.
  static py::object axis_error_type = py::reinterpret_steal<py::object>(PyErr_NewException(
      "ember.core.AxisError", py::make_tuple(py::handle(PyExc_ValueError), py::handle(PyExc_IndexError)).ptr(),
      nullptr));
  m.attr("AxisError") = axis_error_type;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ember::axis_error& e) {
      PyErr_SetString(axis_error_type.ptr(), e.what());
    } catch (const std::out_of_range& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const py::cast_error& e) {
      // An argument read as a Python object and converted inside the binding: a wrong type.
      PyErr_SetString(PyExc_TypeError, (std::string("Invalid argument type: ") + e.what()).c_str());
    }
  });
  m.attr("pi") = 3.141592653589793;
  m.attr("e") = 2.718281828459045;
  m.attr("euler_gamma") = 0.5772156649015329;
  m.attr("inf") = std::numeric_limits<double>::infinity();
  m.attr("nan") = std::numeric_limits<double>::quiet_NaN();
  m.attr("newaxis") = py::none();
  init_array(m);
  init_device(m);
  init_ops(m);
  init_random(m);
  init_transforms(m);
  init_compile(m);
  init_io(m);
  init_dlpack(m);
  init_misc(m);
  init_dtypes(m);
  init_scatter(m);
  init_sort(m);
  init_einsum(m);
  init_fast(m);
  init_quantized(m);
  init_conv(m);
  init_linalg(m);
  init_distributed(m);
  init_fft(m);
  init_info(m);
  init_export(m);
}
