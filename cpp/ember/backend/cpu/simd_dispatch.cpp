#include "ember/backend/cpu/simd.h"

namespace ember::simd {

#define EMBER_DECLARE_NS(NS)                            \
  namespace NS {                                        \
  void exp_f32(const float*, float*, size_t);           \
  void expm1_f32(const float*, float*, size_t);         \
  void log_f32(const float*, float*, size_t);           \
  void log2_f32(const float*, float*, size_t);          \
  void log10_f32(const float*, float*, size_t);         \
  void log1p_f32(const float*, float*, size_t);         \
  void sin_f32(const float*, float*, size_t);           \
  void cos_f32(const float*, float*, size_t);           \
  void tanh_f32(const float*, float*, size_t);          \
  void sigmoid_f32(const float*, float*, size_t);       \
  float exp_shift_sum_f32(const float*, float*, size_t, float); \
  double sum_f32(const float*, size_t);                 \
  void softmax_row_f32(const float*, float*, size_t);   \
  }
EMBER_DECLARE_NS(base)
EMBER_DECLARE_NS(avx2)
#undef EMBER_DECLARE_NS

namespace {
struct Table {
  Fn fns[(int)Op::Count];
  ShiftSumFn shift_sum;
  SumFn sum;
  RowFn softmax_row;
  Table() {
    bool avx2 = false;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#define EMBER_FILL(NS)                          \
  fns[(int)Op::Exp] = NS::exp_f32;              \
  fns[(int)Op::Expm1] = NS::expm1_f32;          \
  fns[(int)Op::Log] = NS::log_f32;              \
  fns[(int)Op::Log2] = NS::log2_f32;            \
  fns[(int)Op::Log10] = NS::log10_f32;          \
  fns[(int)Op::Log1p] = NS::log1p_f32;          \
  fns[(int)Op::Sin] = NS::sin_f32;              \
  fns[(int)Op::Cos] = NS::cos_f32;              \
  fns[(int)Op::Tanh] = NS::tanh_f32;            \
  fns[(int)Op::Sigmoid] = NS::sigmoid_f32;      \
  shift_sum = NS::exp_shift_sum_f32;            \
  sum = NS::sum_f32;                            \
  softmax_row = NS::softmax_row_f32;
    if (avx2) {
      EMBER_FILL(avx2)
    } else {
      EMBER_FILL(base)
    }
#undef EMBER_FILL
  }
};
const Table& table() {
  static Table t;
  return t;
}
}  // namespace

Fn get(Op op) { return table().fns[(int)op]; }
ShiftSumFn exp_shift_sum() { return table().shift_sum; }
SumFn sum_f32() { return table().sum; }
RowFn softmax_row() { return table().softmax_row; }

}  // namespace ember::simd
