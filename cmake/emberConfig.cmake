# CMake package for the Ember static library.
include(CMakeFindDependencyMacro)
find_dependency(Threads)
include("${CMAKE_CURRENT_LIST_DIR}/emberTargets.cmake")

# Ember links OpenBLAS from the scipy-openblas32 wheel.
if(NOT EMBER_OPENBLAS_LIBRARY)
  get_filename_component(_ember_site "${CMAKE_CURRENT_LIST_DIR}/../../../.." ABSOLUTE)
  find_library(EMBER_OPENBLAS_LIBRARY NAMES scipy_openblas
    PATHS "${_ember_site}/scipy_openblas32/lib" NO_DEFAULT_PATH)
  if(NOT EMBER_OPENBLAS_LIBRARY)
    find_package(Python COMPONENTS Interpreter QUIET)
    execute_process(COMMAND ${Python_EXECUTABLE} -c "import scipy_openblas32 as s; print(s.get_lib_dir())"
      OUTPUT_VARIABLE _ember_ob_dir OUTPUT_STRIP_TRAILING_WHITESPACE)
    find_library(EMBER_OPENBLAS_LIBRARY NAMES scipy_openblas PATHS "${_ember_ob_dir}" NO_DEFAULT_PATH)
  endif()
endif()
if(NOT EMBER_OPENBLAS_LIBRARY)
  set(ember_FOUND FALSE)
  set(ember_NOT_FOUND_MESSAGE "ember: OpenBLAS from scipy-openblas32 was not found")
  return()
endif()
get_filename_component(EMBER_OPENBLAS_DIR "${EMBER_OPENBLAS_LIBRARY}" DIRECTORY)
set_property(TARGET ember::ember APPEND PROPERTY INTERFACE_LINK_LIBRARIES "${EMBER_OPENBLAS_LIBRARY}")
set_property(TARGET ember::ember APPEND PROPERTY INTERFACE_LINK_OPTIONS "LINKER:-rpath,${EMBER_OPENBLAS_DIR}")
