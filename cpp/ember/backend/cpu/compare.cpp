// Comparisons, logical ops and select.
#include "ember/backend/cpu/functors.h"
#include "ember/backend/cpu/kernels.h"
#include "ember/primitives.h"

namespace ember {

using namespace cpu;

namespace {
template <typename Op>
void compare(const std::vector<array>& in, array& out, Op op) {
  dispatch_all(in[0].dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    binary_kernel<T, bool>(in[0], in[1], out, op);
  });
}
}  // namespace

void Equal::eval_cpu(const std::vector<array>& in, array& out) { compare(in, out, EqualF{}); }
void NotEqual::eval_cpu(const std::vector<array>& in, array& out) { compare(in, out, NotEqualF{}); }
void Less::eval_cpu(const std::vector<array>& in, array& out) { compare(in, out, LessF{}); }
void LessEqual::eval_cpu(const std::vector<array>& in, array& out) { compare(in, out, LessEqualF{}); }
void Greater::eval_cpu(const std::vector<array>& in, array& out) { compare(in, out, GreaterF{}); }
void GreaterEqual::eval_cpu(const std::vector<array>& in, array& out) {
  compare(in, out, GreaterEqualF{});
}
void EqualNaN::eval_cpu(const std::vector<array>& in, array& out) { compare(in, out, EqualNaNF{}); }
void LogicalAnd::eval_cpu(const std::vector<array>& in, array& out) {
  binary_kernel<bool, bool>(in[0], in[1], out, LogicalAndF{});
}
void LogicalOr::eval_cpu(const std::vector<array>& in, array& out) {
  binary_kernel<bool, bool>(in[0], in[1], out, LogicalOrF{});
}

// out = cond ? x : y, all three broadcast to out's shape; cond is bool.
void Select::eval_cpu(const std::vector<array>& in, array& out) {
  const array &c = in[0], &x = in[1], &y = in[2];
  alloc_out(out);
  Shape shape = out.shape();
  std::array<Strides, 4> st{bstrides(c, out), bstrides(x, out), bstrides(y, out), out.strides()};
  collapse(shape, st);
  const bool* pc = c.data<bool>();
  dispatch_all(out.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    for_each_row<4>(shape, st, [&](auto off, int64_t n, auto s) {
      for (int64_t i = 0; i < n; ++i)
        po[off[3] + i * s[3]] =
            pc[off[0] + i * s[0]] ? px[off[1] + i * s[1]] : py[off[2] + i * s[2]];
    });
  });
}

}  // namespace ember
