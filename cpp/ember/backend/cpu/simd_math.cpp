// Branch-free float32 polynomial approximations written so that the compiler
// vectorises the loops. Compiled twice: once for baseline x86-64 and once with
// AVX2+FMA (EMBER_SIMD_NS names the build), picked at run time in simd_dispatch.cpp.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "ember/backend/cpu/simd.h"

#ifndef EMBER_SIMD_NS
#define EMBER_SIMD_NS base
#endif

namespace ember::simd::EMBER_SIMD_NS {

namespace {
#include "ember/half_impl.h"
#include "ember/backend/cpu/simd_math_impl.h"
}  // namespace

void exp_f32(const float* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = exp1(in[i]);
}
void expm1_f32(const float* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = expm1_1(in[i]);
}
void log_f32(const float* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = log1(in[i]);
}
void log2_f32(const float* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = log1(in[i]) * 1.4426950408889634f;
}
void log10_f32(const float* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = log1(in[i]) * 0.43429448190325176f;
}
void log1p_f32(const float* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = em_log1p(in[i]);
}
// Huge or non-finite arguments are rare: one vectorised test per block finds whether it
// has any, and only such blocks go element by element. Works in place (in == out).
template <typename Fast, typename Slow>
void trig(const float* in, float* out, size_t n, Fast fast, Slow slow) {
  for (size_t b = 0; b < n; b += 256) {
    size_t w = n - b < 256 ? n - b : 256;
    const float* x = in + b;
    float* y = out + b;
    int big = 0;
    for (size_t i = 0; i < w; ++i) big |= !(std::fabs(x[i]) < kTrigBig);
    if (!big) {
      for (size_t i = 0; i < w; ++i) y[i] = fast(x[i]);
    } else {
      for (size_t i = 0; i < w; ++i) y[i] = std::fabs(x[i]) < kTrigBig ? fast(x[i]) : slow(x[i]);
    }
  }
}
void sin_f32(const float* in, float* out, size_t n) {
  trig(in, out, n, [](float x) { return sin1(x); }, [](float x) { return std::sin(x); });
}
void cos_f32(const float* in, float* out, size_t n) {
  trig(in, out, n, [](float x) { return cos1(x); }, [](float x) { return std::cos(x); });
}
double sum_f32(const float* x, size_t n) {
  // Blocks of 4096 summed in 32 independent float lanes (four AVX registers, so the adds
  // pipeline), each block's total carried in double.
  double total = 0;
  for (size_t b = 0; b < n; b += 4096) {
    size_t w = n - b < 4096 ? n - b : 4096;
    const float* p = x + b;
    float lanes[32] = {};
    size_t i = 0;
    for (; i + 32 <= w; i += 32)
      for (int l = 0; l < 32; ++l) lanes[l] += p[i + l];
    float part = 0;
    for (int l = 0; l < 32; ++l) part += lanes[l];
    for (; i < w; ++i) part += p[i];
    total += part;
  }
  return total;
}
float exp_shift_sum_f32(const float* in, float* out, size_t n, float shift) {
  // Blocks that stay in L1: the exponentials vectorise, then 16 lanes add them.
  double total = 0;
  for (size_t b = 0; b < n; b += 256) {
    size_t w = n - b < 256 ? n - b : 256;
    const float* x = in + b;
    float* y = out + b;
    for (size_t i = 0; i < w; ++i) y[i] = exp1(x[i] - shift);
    float lanes[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 16 <= w; i += 16)
      for (int l = 0; l < 16; ++l) lanes[l] += y[i + l];
    float part = 0;
    for (int l = 0; l < 16; ++l) part += lanes[l];
    for (; i < w; ++i) part += y[i];
    total += part;
  }
  return (float)total;
}
void tanh_f32(const float* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = em_tanh(in[i]);
}
void sigmoid_f32(const float* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = em_sigmoid(in[i]);
}

void softmax_row_f32(const float* x, float* y, size_t n) {
  // Max, exponentials with their sum, and the scaling: three passes over a row that stays
  // in cache, all in the CPU's widest vectors.
  float m = em_extremum<float, true>(x, (int64_t)n, nullptr);
  float inv = 1.0f / exp_shift_sum_f32(x, y, n, m);
  for (size_t i = 0; i < n; ++i) y[i] *= inv;
}

}  // namespace ember::simd::EMBER_SIMD_NS
