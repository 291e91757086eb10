// Vectorised float32 math over contiguous spans, chosen at run time for the CPU.
#pragma once

#include <cstddef>

namespace ember::simd {

enum class Op { Exp, Expm1, Log, Log2, Log10, Log1p, Sin, Cos, Tanh, Sigmoid, Count };
using Fn = void (*)(const float*, float*, size_t);

// The best implementation of `op` for this CPU.
Fn get(Op op);

}  // namespace ember::simd
