// Vectorised float32 math over contiguous spans, chosen at run time for the CPU.
#pragma once

#include <cstddef>

namespace ember::simd {

enum class Op { Exp, Expm1, Log, Log2, Log10, Log1p, Sin, Cos, Tanh, Sigmoid, Count };
using Fn = void (*)(const float*, float*, size_t);

// The best implementation of `op` for this CPU.
Fn get(Op op);

// out[i] = exp(in[i] - shift), returning the sum of out (softmax and logsumexp rows).
using ShiftSumFn = float (*)(const float* in, float* out, size_t n, float shift);
ShiftSumFn exp_shift_sum();

// The sum of a contiguous span, accumulated in float lanes per block and double across blocks.
using SumFn = double (*)(const float* x, size_t n);
SumFn sum_f32();

// y = softmax(x) over one contiguous row (x and y may be the same).
using RowFn = void (*)(const float* x, float* y, size_t n);
RowFn softmax_row();

}  // namespace ember::simd
