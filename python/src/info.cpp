// Build and run-time facts for `python -m ember --info`, and the Python side of finding a
// compiler for compile's generated kernels.
#include <cblas.h>

#include "ember/compile_fuse.h"
#include "ember/threadpool.h"
#include "utils.h"

using namespace pybind11::literals;

#ifndef EMBER_BUILD_TYPE
#define EMBER_BUILD_TYPE "unknown"
#endif

void init_info(py::module_& m) {
  // When no system compiler is found, ember._jit looks for one installed from PyPI. It runs
  // while compile traces, with the GIL held by the caller.
  set_jit_compiler_fallback([]() -> std::string {
    py::gil_scoped_acquire gil;
    try {
      py::object found = py::module_::import("ember._jit").attr("find_compiler")();
      return found.is_none() ? std::string() : found.cast<std::string>();
    } catch (py::error_already_set&) {
      return std::string();
    }
  });
  set_jit_missing_handler([](const std::string& msg) {
    py::gil_scoped_acquire gil;
    if (PyErr_WarnEx(PyExc_RuntimeWarning, msg.c_str(), 1) < 0) throw py::error_already_set();
  });

  m.def("_build_info", []() {
    py::dict d;
    d["version"] = EMBER_VERSION;
    d["build_type"] = EMBER_BUILD_TYPE;
#ifdef EMBER_KERNELS_AVX2
    d["kernel_isa"] = "AVX2, FMA, F16C (kernels built for the build machine)";
#else
    d["kernel_isa"] = "baseline (vector math picks AVX2+FMA at run time)";
#endif
    py::list cpu;
#if defined(__x86_64__)
    __builtin_cpu_init();
#define EMBER_CPU_FEATURE(f) \
  if (__builtin_cpu_supports(f)) cpu.append(f);
    EMBER_CPU_FEATURE("sse4.2")
    EMBER_CPU_FEATURE("avx")
    EMBER_CPU_FEATURE("avx2")
    EMBER_CPU_FEATURE("fma")
    EMBER_CPU_FEATURE("f16c")
    EMBER_CPU_FEATURE("avx512f")
#undef EMBER_CPU_FEATURE
#endif
    d["cpu_features"] = cpu;
    d["threads"] = ember::num_threads();
    d["blas"] = std::string(scipy_openblas_get_config());
    d["blas_core"] = std::string(scipy_openblas_get_corename());
    d["blas_threads"] = scipy_openblas_get_num_threads();
    int par = scipy_openblas_get_parallel();
    d["blas_threading"] = par == 0 ? "sequential" : par == 1 ? "pthreads" : "OpenMP";
#ifdef EMBER_HAS_CUDA
    d["cuda"] = true;
#else
    d["cuda"] = false;
#endif
    d["jit_compiler"] = ember::jit_compiler();
    d["kernel_cache"] = ember::kernel_cache_dir();
    return d;
  }, "Facts about this build (for python -m ember --info).");
}
