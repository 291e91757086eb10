// Reductions, arg-reductions, scans, softmax and logsumexp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "ember/backend/cpu/kernels.h"
#include "ember/backend/cpu/simd.h"
#include "ember/primitives.h"

namespace ember {

using namespace cpu;

namespace {

template <typename T>
struct Limits {
  static T max() {
    if constexpr (is_complex_v<T>) return T(INFINITY, INFINITY);
    else if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::max();
  }
  static T lowest() {
    if constexpr (is_complex_v<T>) return T(-INFINITY, -INFINITY);
    else if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::lowest();
  }
};

// Lexicographic order on complex numbers, as for sorting.
inline bool cgreater(complex64_t a, complex64_t b) {
  return a.real() > b.real() || (a.real() == b.real() && a.imag() > b.imag());
}

template <typename Acc>
using wide_t = std::conditional_t<std::is_same_v<Acc, float>, double, Acc>;

struct SumOp {
  template <typename A>
  A operator()(A a, A b) const { return a + b; }
  template <typename A>
  static A init() { return A(0); }
};
struct ProdOp {
  template <typename A>
  A operator()(A a, A b) const { return a * b; }
  template <typename A>
  static A init() { return A(1); }
};
// NaN on either side wins. `pick` is the NaN-blind choice that vectorises; the
// contiguous reduction tracks NaN beside it.
struct MaxOp {
  template <typename A>
  A operator()(A a, A b) const {
    if constexpr (is_complex_v<A>) return cgreater(b, a) ? b : a;
    else if constexpr (std::is_floating_point_v<A>) return (a > b || a != a) ? a : b;
    else return a > b ? a : b;
  }
  template <typename A>
  static A pick(A v, A acc) { return v > acc ? v : acc; }
  template <typename A>
  static A init() { return Limits<A>::lowest(); }
};
struct MinOp {
  template <typename A>
  A operator()(A a, A b) const {
    if constexpr (is_complex_v<A>) return cgreater(a, b) ? b : a;
    else if constexpr (std::is_floating_point_v<A>) return (a < b || a != a) ? a : b;
    else return a < b ? a : b;
  }
  template <typename A>
  static A pick(A v, A acc) { return v < acc ? v : acc; }
  template <typename A>
  static A init() { return Limits<A>::max(); }
};
// log(exp(a) + exp(b)) without overflow; the scan of logcumsumexp (inexact types).
struct LogAddExpOp {
  template <typename A>
  A operator()(A a, A b) const {
    if constexpr (std::is_floating_point_v<A>) {
      if (a != a || b != b) return a + b;
      A hi = a > b ? a : b, lo = a > b ? b : a;
      if (lo == -std::numeric_limits<A>::infinity() || hi == std::numeric_limits<A>::infinity())
        return hi;
      return hi + std::log1p(std::exp(lo - hi));
    } else if constexpr (is_complex_v<A>) {
      // log(exp(a) + exp(b)) on the branch of the operand of larger real part.
      if (std::isinf(a.real()) && a.real() < 0) return b;
      if (std::isinf(b.real()) && b.real() < 0) return a;
      A hi = a.real() >= b.real() ? a : b, lo = a.real() >= b.real() ? b : a;
      return hi + std::log(A(1) + std::exp(lo - hi));
    } else {
      return a + b;
    }
  }
  template <typename A>
  static A init() {
    if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
    else if constexpr (is_complex_v<A>) return A(-std::numeric_limits<typename A::value_type>::infinity(), 0);
    else return A(0);
  }
};
struct AndOp {
  template <typename A>
  A operator()(A a, A b) const { return a && b; }
  template <typename A>
  static A init() { return A(true); }
};
struct OrOp {
  template <typename A>
  A operator()(A a, A b) const { return a || b; }
  template <typename A>
  static A init() { return A(false); }
};

namespace fm {
#include "ember/half_impl.h"
#include "ember/backend/cpu/simd_math_impl.h"
}  // namespace fm

// Floating max/min of n contiguous values, NaN winning.
template <typename T, typename Acc, typename Op>
Acc extremum_contiguous(const T* x, int64_t n, Op op) {
  if constexpr (std::is_same_v<T, Acc>) {
    bool nan = false;
    Acc r = fm::em_extremum<Acc, std::is_same_v<Op, MaxOp>>(x, n, &nan);
    return nan ? std::numeric_limits<Acc>::quiet_NaN() : r;
  } else {
    Acc r = Op::template init<Acc>();
    for (int64_t i = 0; i < n; ++i) r = op(r, static_cast<Acc>(x[i]));
    return r;
  }
}

// Reduce n contiguous values: independent lanes per block (32 for float sums, which
// are bound by the add latency), blocks combined wide.
template <typename T, typename Acc, typename Op>
Acc reduce_contiguous(const T* x, int64_t n, Op op) {
  if constexpr (std::is_same_v<T, float16_t> && std::is_same_v<Acc, float>) {
    // float16: widened a block at a time, then reduced as float.
    float buf[1024];
    using W = wide_t<Acc>;
    W total = Op::template init<W>();
    for (int64_t b = 0; b < n; b += 1024) {
      int64_t w = std::min<int64_t>(1024, n - b);
      half_to_float_n(x + b, buf, (size_t)w);
      total = op(total, static_cast<W>(reduce_contiguous<float, float>(buf, w, op)));
    }
    return static_cast<Acc>(total);
  } else if constexpr (std::is_same_v<T, float> && std::is_same_v<Acc, float> && std::is_same_v<Op, SumOp>) {
    return (float)simd::sum_f32()(x, (size_t)n);  // the same blocks, in the CPU's widest vectors
  } else if constexpr ((std::is_same_v<Op, MaxOp> || std::is_same_v<Op, MinOp>) &&
                std::is_floating_point_v<Acc>) {
    return extremum_contiguous<T, Acc>(x, n, op);
  } else {
    constexpr int L = std::is_same_v<Acc, float> && std::is_same_v<Op, SumOp> ? 32 : 16;
    constexpr int64_t B = 4096;
    using W = wide_t<Acc>;
    W total = Op::template init<W>();
    for (int64_t b0 = 0; b0 < n; b0 += B) {
      int64_t b1 = std::min(n, b0 + B);
      Acc lanes[L];
      for (int l = 0; l < L; ++l) lanes[l] = Op::template init<Acc>();
      int64_t i = b0;
      for (; i + L <= b1; i += L)
        for (int l = 0; l < L; ++l) lanes[l] = op(lanes[l], static_cast<Acc>(x[i + l]));
      Acc r = Op::template init<Acc>();
      for (int l = 0; l < L; ++l) r = op(r, lanes[l]);
      for (; i < b1; ++i) r = op(r, static_cast<Acc>(x[i]));
      total = op(total, static_cast<W>(r));
    }
    return static_cast<Acc>(total);
  }
}

// (outer, R, inner) -> (outer, inner), row-contiguous in and out.
template <typename T, typename Acc, typename Op>
void reduce_block(const T* in, T* out, int64_t outer, int64_t R, int64_t inner, Op op) {
  if (inner == 1) {
    if (outer == 1 && R >= (int64_t)kParallelGrain * 2) {
      int nt = num_threads();
      std::unique_ptr<Acc[]> parts(new Acc[nt]);
      for (int t = 0; t < nt; ++t) parts[t] = Op::template init<Acc>();
      int64_t per = (R + nt - 1) / nt;
      parallel_for(nt, 1, [&](size_t b, size_t e) {
        for (size_t t = b; t < e; ++t) {
          int64_t s = t * per, f = std::min<int64_t>(R, s + per);
          if (s < f) parts[t] = reduce_contiguous<T, Acc>(in + s, f - s, op);
        }
      });
      using W = wide_t<Acc>;
      W r = Op::template init<W>();
      for (int t = 0; t < nt; ++t) r = op(r, static_cast<W>(parts[t]));
      out[0] = T(static_cast<Acc>(r));
      return;
    }
    parallel_for(outer, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(R, 1)),
                 [&](size_t b, size_t e) {
                   for (size_t o = b; o < e; ++o)
                     out[o] = T(reduce_contiguous<T, Acc>(in + o * R, R, op));
                 });
    return;
  }
  // Strided: accumulate R rows of `inner` elements.
  auto rows = [&](int64_t o, int64_t j0, int64_t j1) {
    std::unique_ptr<Acc[]> acc(new Acc[j1 - j0]);
    for (int64_t j = 0; j < j1 - j0; ++j) acc[j] = Op::template init<Acc>();
    const T* base = in + o * R * inner;
    for (int64_t r = 0; r < R; ++r) {
      const T* row = base + r * inner;
      for (int64_t j = j0; j < j1; ++j) acc[j - j0] = op(acc[j - j0], static_cast<Acc>(row[j]));
    }
    for (int64_t j = j0; j < j1; ++j) out[o * inner + j] = T(acc[j - j0]);
  };
  if (outer >= num_threads() || outer * inner * R < (int64_t)kParallelGrain) {
    parallel_for(outer, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(R * inner, 1)),
                 [&](size_t b, size_t e) {
                   for (size_t o = b; o < e; ++o) rows(o, 0, inner);
                 });
  } else {
    for (int64_t o = 0; o < outer; ++o)
      parallel_for(inner, 1024, [&](size_t b, size_t e) { rows(o, b, e); });
  }
}

template <typename T, typename Op>
void reduce_typed(const array& in, array& out, const std::vector<int>& axes, Op op) {
  using Acc = compute_t<T>;
  array cur = ensure_row_contiguous(in);
  Shape shape = cur.shape();
  // Group axes into runs of consecutive dimensions, reduced from last to first.
  std::vector<std::pair<int, int>> runs;
  for (int ax : axes) {
    if (!runs.empty() && runs.back().second == ax) runs.back().second = ax + 1;
    else runs.emplace_back(ax, ax + 1);
  }
  for (int k = (int)runs.size() - 1; k >= 0; --k) {
    auto [b, e] = runs[k];
    int64_t outer = 1, R = 1, inner = 1;
    for (int i = 0; i < b; ++i) outer *= shape[i];
    for (int i = b; i < e; ++i) R *= shape[i];
    for (int i = e; i < (int)shape.size(); ++i) inner *= shape[i];
    for (int i = b; i < e; ++i) shape[i] = 1;
    array next = (k == 0) ? out : array(shape, out.dtype(), nullptr, {});
    alloc_out(next);
    T* po = next.data<T>();
    if (R == 0) {
      std::fill(po, po + outer * inner, T(Op::template init<Acc>()));
    } else if (outer * inner > 0) {
      reduce_block<T, Acc>(cur.data<T>(), po, outer, R, inner, op);
    }
    cur = next;
  }
  if (runs.empty()) copy_to_row_contiguous(in, out);
}

template <typename Op>
void reduce_dispatch(const array& in, array& out, const std::vector<int>& axes, Op op, bool complex_ok) {
  if (in.dtype() == complex64) {
    if (!complex_ok) throw std::invalid_argument("[reduce] Operation not supported for complex64.");
    if constexpr (!std::is_same_v<Op, AndOp> && !std::is_same_v<Op, OrOp>) {
      reduce_typed<complex64_t>(in, out, axes, op);
    }
    return;
  }
  dispatch_real(in.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    reduce_typed<T>(in, out, axes, op);
  });
}

}  // namespace

const char* Reduce::name() const {
  static const char* names[] = {"Sum", "Prod", "Max", "Min", "All", "Any"};
  return names[(int)type_];
}

void Reduce::eval_cpu(const std::vector<array>& in, array& out) {
  switch (type_) {
    case ReduceType::Sum: reduce_dispatch(in[0], out, axes_, SumOp{}, true); break;
    case ReduceType::Prod: reduce_dispatch(in[0], out, axes_, ProdOp{}, true); break;
    case ReduceType::Max: reduce_dispatch(in[0], out, axes_, MaxOp{}, true); break;
    case ReduceType::Min: reduce_dispatch(in[0], out, axes_, MinOp{}, true); break;
    case ReduceType::And: reduce_typed<bool>(in[0], out, axes_, AndOp{}); break;
    case ReduceType::Or: reduce_typed<bool>(in[0], out, axes_, OrOp{}); break;
  }
}

// ---------- argmax / argmin (first occurrence; NaN counts as the extreme)

void ArgReduce::eval_cpu(const std::vector<array>& in, array& out) {
  array a = ensure_row_contiguous(in[0]);
  alloc_out(out);
  int64_t outer = 1, R = a.shape()[axis_], inner = 1;
  for (int i = 0; i < axis_; ++i) outer *= a.shape()[i];
  for (int i = axis_ + 1; i < a.ndim(); ++i) inner *= a.shape()[i];
  uint32_t* po = out.data<uint32_t>();
  bool is_max = is_max_;
  dispatch_all(a.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    using C = compute_t<T>;
    const T* pa = a.data<T>();
    auto better = [is_max](C v, C best) {
      if constexpr (is_complex_v<C>) {
        return is_max ? cgreater(v, best) : cgreater(best, v);
      } else {
        if constexpr (std::is_floating_point_v<C>) {
          if (std::isnan(best)) return false;
          if (std::isnan(v)) return true;
        }
        return is_max ? v > best : v < best;
      }
    };
    if constexpr (!is_complex_v<C>) {
      if (inner > 1) {
        // Rows of the reduced axis are visited in order, a block of columns at a time,
        // with branch-free updates so that the inner loop vectorises.
        constexpr int64_t J = 256;
        int64_t jblocks = (inner + J - 1) / J;
        parallel_for(outer * jblocks, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(R * J, 1)),
                     [&](size_t b, size_t e) {
                       C best[J];
                       uint32_t idx[J];
                       for (size_t k = b; k < e; ++k) {
                         int64_t o = k / jblocks, j0 = (k % jblocks) * J;
                         int64_t w = std::min(J, inner - j0);
                         const T* p = pa + o * R * inner + j0;
                         for (int64_t j = 0; j < w; ++j) best[j] = static_cast<C>(p[j]), idx[j] = 0;
                         for (int64_t r = 1; r < R; ++r) {
                           const T* row = p + r * inner;
                           for (int64_t j = 0; j < w; ++j) {
                             C v = static_cast<C>(row[j]);
                             bool take = is_max ? v > best[j] : v < best[j];
                             if constexpr (std::is_floating_point_v<C>)
                               take = (take || v != v) && best[j] == best[j];
                             best[j] = take ? v : best[j];
                             idx[j] = take ? (uint32_t)r : idx[j];
                           }
                         }
                         std::memcpy(po + o * inner + j0, idx, w * sizeof(uint32_t));
                       }
                     });
        return;
      }
    }
    parallel_for(outer * inner, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(R, 1)),
                 [&](size_t b, size_t e) {
                   for (size_t k = b; k < e; ++k) {
                     int64_t o = k / inner, j = k % inner;
                     const T* p = pa + o * R * inner + j;
                     C best = static_cast<C>(p[0]);
                     uint32_t bi = 0;
                     for (int64_t r = 1; r < R; ++r) {
                       C v = static_cast<C>(p[r * inner]);
                       if (better(v, best)) {
                         best = v;
                         bi = (uint32_t)r;
                       }
                     }
                     po[k] = bi;
                   }
                 });
  });
}

// ---------- scans

const char* Scan::name() const {
  static const char* names[] = {"CumSum", "CumProd", "CumMax", "CumMin", "CumLogSumExp"};
  return names[(int)type_];
}

void Scan::eval_cpu(const std::vector<array>& in, array& out) {
  array a = ensure_row_contiguous(in[0]);
  alloc_out(out);
  int64_t outer = 1, R = a.shape()[axis_], inner = 1;
  for (int i = 0; i < axis_; ++i) outer *= a.shape()[i];
  for (int i = axis_ + 1; i < a.ndim(); ++i) inner *= a.shape()[i];
  auto run = [&](auto t, auto op) {
    using T = typename decltype(t)::type;
    using Op = decltype(op);
    using C = compute_t<T>;
    const T* pa = a.data<T>();
    T* po = out.data<T>();
    if (inner > 1) {
      // Rows of the scanned axis in order, a block of columns at a time (contiguous,
      // vectorisable), instead of one strided column per output.
      constexpr int64_t J = 256;
      int64_t jblocks = (inner + J - 1) / J;
      bool rev = reverse_, incl = inclusive_;
      parallel_for(outer * jblocks, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(R * J, 1)),
                   [&](size_t b, size_t e) {
                     C acc[J];
                     for (size_t k = b; k < e; ++k) {
                       int64_t o = k / jblocks, j0 = (k % jblocks) * J;
                       int64_t w = std::min(J, inner - j0);
                       const T* p = pa + o * R * inner + j0;
                       T* q = po + o * R * inner + j0;
                       for (int64_t j = 0; j < w; ++j) acc[j] = Op::template init<C>();
                       for (int64_t s = 0; s < R; ++s) {
                         int64_t r = rev ? R - 1 - s : s;
                         const T* x = p + r * inner;
                         T* y = q + r * inner;
                         if (incl) {
                           for (int64_t j = 0; j < w; ++j) {
                             acc[j] = op(acc[j], static_cast<C>(x[j]));
                             y[j] = T(acc[j]);
                           }
                         } else {
                           for (int64_t j = 0; j < w; ++j) {
                             y[j] = T(acc[j]);
                             acc[j] = op(acc[j], static_cast<C>(x[j]));
                           }
                         }
                       }
                     }
                   });
      return;
    }
    parallel_for(outer * inner, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(R, 1)),
                 [&](size_t b, size_t e) {
                   for (size_t k = b; k < e; ++k) {
                     int64_t o = k / inner, j = k % inner;
                     const T* p = pa + o * R * inner + j;
                     T* q = po + o * R * inner + j;
                     C acc = Op::template init<C>();
                     for (int64_t s = 0; s < R; ++s) {
                       int64_t r = reverse_ ? R - 1 - s : s;
                       C v = static_cast<C>(p[r * inner]);
                       if (inclusive_) {
                         acc = op(acc, v);
                         q[r * inner] = T(acc);
                       } else {
                         q[r * inner] = T(acc);
                         acc = op(acc, v);
                       }
                     }
                   }
                 });
  };
  auto with_op = [&](auto t) {
    using T = typename decltype(t)::type;
    switch (type_) {
      case ScanType::Sum: run(t, SumOp{}); break;
      case ScanType::Prod: run(t, ProdOp{}); break;
      case ScanType::Max: run(t, MaxOp{}); break;
      case ScanType::Min: run(t, MinOp{}); break;
      case ScanType::LogAddExp: run(t, LogAddExpOp{}); break;
    }
  };
  if (a.dtype() == complex64) {
    with_op(type_tag<complex64_t>{});
  } else {
    dispatch_real(a.dtype(), with_op);
  }
}

// ---------- softmax and logsumexp over the last axis

namespace {

template <typename T, typename RowFn>
void last_axis_rows(const array& a, RowFn fn) {
  int64_t n = a.ndim() ? a.shape().back() : 1;
  int64_t rows = n ? (int64_t)a.size() / n : 0;
  parallel_for(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)),
               [&](size_t b, size_t e) {
                 std::vector<float> buf(n);
                 for (size_t r = b; r < e; ++r) fn(r, n, buf.data());
               });
}

// e[i] = exp(x[i] - m) in float, returning the sum.
inline float exp_shift_sum(const float* x, float* e, int64_t n, float m) {
  return simd::exp_shift_sum()(x, e, n, m);
}

// Largest value of a row, NaN ignored. Softmax needs no NaN check: a NaN still
// reaches every output through x - m and the sum.
inline float row_max(const float* x, int64_t n) { return fm::em_extremum<float, true>(x, n, nullptr); }

// As row_max, but NaN wins, for results that are not formed from x - m.
inline float row_max_nan(const float* x, int64_t n) {
  bool nan = false;
  float m = fm::em_extremum<float, true>(x, n, &nan);
  return nan ? NAN : m;
}

}  // namespace

void Softmax::eval_cpu(const std::vector<array>& in, array& out) {
  array a = ensure_row_contiguous(in[0]);
  alloc_out(out);
  dispatch_float(a.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    const T* pa = a.data<T>();
    T* po = out.data<T>();
    last_axis_rows<T>(a, [&](size_t r, int64_t n, float* buf) {
      const T* x = pa + r * n;
      T* y = po + r * n;
      if constexpr (std::is_same_v<T, double>) {
        double m = -INFINITY, s = 0;
        for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
        for (int64_t i = 0; i < n; ++i) s += (y[i] = std::exp(x[i] - m));
        for (int64_t i = 0; i < n; ++i) y[i] /= s;
      } else if constexpr (std::is_same_v<T, float>) {
        simd::softmax_row()(x, y, (size_t)n);
      } else {
        for (int64_t i = 0; i < n; ++i) buf[i] = static_cast<float>(x[i]);
        simd::softmax_row()(buf, buf, (size_t)n);
        for (int64_t i = 0; i < n; ++i) y[i] = T(buf[i]);
      }
    });
  });
}

void LogSumExp::eval_cpu(const std::vector<array>& in, array& out) {
  array a = ensure_row_contiguous(in[0]);
  alloc_out(out);
  if (a.size() == 0) {
    dispatch_float(out.dtype(), [&](auto t) {
      using T = typename decltype(t)::type;
      std::fill(out.data<T>(), out.data<T>() + out.size(), T(-INFINITY));
    });
    return;
  }
  dispatch_float(a.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    const T* pa = a.data<T>();
    T* po = out.data<T>();
    last_axis_rows<T>(a, [&](size_t r, int64_t n, float* buf) {
      const T* x = pa + r * n;
      if constexpr (std::is_same_v<T, double>) {
        double m = -INFINITY, s = 0;
        for (int64_t i = 0; i < n; ++i) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
        if (std::isinf(m) || std::isnan(m)) {
          po[r] = m;
          return;
        }
        for (int64_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
        po[r] = m + std::log(s);
      } else {
        const float* xf = buf;
        if constexpr (std::is_same_v<T, float>) xf = x;
        else
          for (int64_t i = 0; i < n; ++i) buf[i] = static_cast<float>(x[i]);
        float m = row_max_nan(xf, n);
        if (std::isinf(m) || std::isnan(m)) {
          po[r] = T(m);
          return;
        }
        float s = exp_shift_sum(xf, buf, n, m);
        po[r] = T(m + std::log(s));
      }
    });
  });
}

}  // namespace ember
