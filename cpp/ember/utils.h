// Printing of arrays, dtypes and shapes (std::ostream << ...), where MLX programs
// include it from; the operators themselves are declared with the array.
#pragma once

#include <ostream>

#include "ember/array.h"
