// CPU kernels of the `fast` family: RMS and layer normalisation (forward and backward),
// rotary embeddings and cross entropy. One pass over each row, float32 accumulation for
// half types, rows split across the thread pool.
#include <cmath>
#include <cstring>
#include <vector>

#include "ember/backend/cpu/kernels.h"
#include "ember/backend/cpu/simd.h"
#include "ember/primitives/fast.h"

namespace ember {

using namespace cpu;

namespace {

namespace fm {
#include "ember/half_impl.h"
#include "ember/backend/cpu/simd_math_impl.h"
}  // namespace fm

// ---------- row helpers (float lanes so that the sums vectorise)

inline float lane_sum(const float* x, int64_t n) {
  float l[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) l[k] += x[i + k];
  float s = 0;
  for (int k = 0; k < 16; ++k) s += l[k];
  for (; i < n; ++i) s += x[i];
  return s;
}
inline float lane_dot(const float* a, const float* b, int64_t n) {
  float l[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) l[k] += a[i + k] * b[i + k];
  float s = 0;
  for (int k = 0; k < 16; ++k) s += l[k];
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}
// sum((x - c)^2)
inline float lane_sq_dev(const float* x, float c, int64_t n) {
  float l[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) {
      float d = x[i + k] - c;
      l[k] += d * d;
    }
  float s = 0;
  for (int k = 0; k < 16; ++k) s += l[k];
  for (; i < n; ++i) s += (x[i] - c) * (x[i] - c);
  return s;
}

template <typename T>
inline void to_float(const T* x, float* y, int64_t n) {
  if constexpr (std::is_same_v<T, float16_t>) half_to_float_n(x, y, n);
  else
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(x[i]);
}
template <typename T>
inline void from_float(const float* x, T* y, int64_t n) {
  if constexpr (std::is_same_v<T, float16_t>) float_to_half_n(x, y, n);
  else
    for (int64_t i = 0; i < n; ++i) y[i] = T(x[i]);
}

// The compute type of a norm: double for double, float otherwise.
template <typename T>
using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Rows of a view as float (or double) spans: a row of a float array is used in place,
// other types are converted into `buf`.
template <typename T>
inline const acc_t<T>* row_in(const T* x, acc_t<T>* buf, int64_t n) {
  if constexpr (std::is_same_v<T, acc_t<T>>) {
    return x;
  } else {
    to_float(x, buf, n);
    return buf;
  }
}

template <typename A>
inline A sum_of(const A* x, int64_t n) {
  if constexpr (std::is_same_v<A, float>) return lane_sum(x, n);
  else {
    A s = 0;
    for (int64_t i = 0; i < n; ++i) s += x[i];
    return s;
  }
}
template <typename A>
inline A dot_of(const A* a, const A* b, int64_t n) {
  if constexpr (std::is_same_v<A, float>) return lane_dot(a, b, n);
  else {
    A s = 0;
    for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
  }
}
template <typename A>
inline A sq_dev_of(const A* x, A c, int64_t n) {
  if constexpr (std::is_same_v<A, float>) return lane_sq_dev(x, c, n);
  else {
    A s = 0;
    for (int64_t i = 0; i < n; ++i) s += (x[i] - c) * (x[i] - c);
    return s;
  }
}

// A weight or bias vector in the compute type (ones / zeros when absent).
template <typename T>
std::vector<acc_t<T>> param_vector(const array* p, int64_t n, double fill) {
  std::vector<acc_t<T>> v(n, acc_t<T>(fill));
  if (p) {
    array c = ensure_row_contiguous(*p);
    const T* d = c.data<T>();
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<acc_t<T>>(d[i]);
  }
  return v;
}

// Rows [0, rows) in at most num_threads() fixed parts: fn(part, begin, end). The parts do
// not depend on scheduling, so per-part partial sums combine deterministically.
template <typename F>
int for_row_parts(int64_t rows, int64_t n, F&& fn) {
  int64_t min_rows = std::max<int64_t>(1, (int64_t)kParallelGrain / std::max<int64_t>(n, 1));
  int parts = (int)std::max<int64_t>(1, std::min<int64_t>(num_threads(), rows / min_rows));
  int64_t per = (rows + parts - 1) / std::max(parts, 1);
  parallel_for((size_t)parts, 1, [&](size_t b, size_t e) {
    for (size_t p = b; p < e; ++p) {
      int64_t r0 = (int64_t)p * per, r1 = std::min<int64_t>(rows, r0 + per);
      if (r0 < r1) fn((int)p, r0, r1);
    }
  });
  return parts;
}

template <typename T>
void write_param_grad(array& out, const std::vector<std::vector<acc_t<T>>>& parts, int64_t n) {
  alloc_out(out);
  T* o = out.data<T>();
  for (int64_t j = 0; j < n; ++j) {
    acc_t<T> s = 0;
    for (auto& p : parts) s += p[j];
    o[j] = T(s);
  }
}

}  // namespace

// ---------- RMSNorm

void RMSNorm::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array x = ensure_row_contiguous(in[0]);
  array& out = outs[0];
  alloc_out(out);
  int64_t n = x.ndim() ? x.shape().back() : 1;
  int64_t rows = n ? (int64_t)x.size() / n : 0;
  if (rows == 0 || n == 0) return;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    std::vector<A> w = param_vector<T>(has_weight_ ? &in[1] : nullptr, n, 1.0);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    A eps = eps_;
    parallel_for((size_t)rows, std::max<size_t>(1, kParallelGrain / n), [&](size_t b, size_t e) {
      std::vector<A> buf(n), ybuf(n);
      for (size_t r = b; r < e; ++r) {
        const A* xr = row_in(px + r * n, buf.data(), n);
        A rs = A(1) / std::sqrt(dot_of(xr, xr, n) / A(n) + eps);
        A* y = std::is_same_v<T, A> ? reinterpret_cast<A*>(po + r * n) : ybuf.data();
        for (int64_t i = 0; i < n; ++i) y[i] = xr[i] * rs * w[i];
        if constexpr (!std::is_same_v<T, A>) from_float(y, po + r * n, n);
      }
    });
  });
}

void RMSNormVJP::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array x = ensure_row_contiguous(in[0]);
  array g = ensure_row_contiguous(in.back());
  array& dx = outs[0];
  alloc_out(dx);
  int64_t n = x.ndim() ? x.shape().back() : 1;
  int64_t rows = n ? (int64_t)x.size() / n : 0;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    std::vector<A> w = param_vector<T>(has_weight_ ? &in[1] : nullptr, n, 1.0);
    const T* px = x.data<T>();
    const T* pg = g.data<T>();
    T* pd = dx.data<T>();
    A eps = eps_;
    std::vector<std::vector<A>> dw_parts(std::max(1, num_threads()));
    if (rows > 0 && n > 0)
      for_row_parts(rows, n, [&](int part, int64_t r0, int64_t r1) {
        std::vector<A> xb(n), gb(n), gw(n), yb(n);
        std::vector<A>& dw = dw_parts[part];
        if (has_weight_) dw.assign(n, A(0));
        for (int64_t r = r0; r < r1; ++r) {
          const A* xr = row_in(px + r * n, xb.data(), n);
          const A* gr = row_in(pg + r * n, gb.data(), n);
          A rs = A(1) / std::sqrt(dot_of(xr, xr, n) / A(n) + eps);
          for (int64_t i = 0; i < n; ++i) gw[i] = gr[i] * w[i];
          A c = dot_of(gw.data(), xr, n) * rs * rs * rs / A(n);
          A* y = std::is_same_v<T, A> ? reinterpret_cast<A*>(pd + r * n) : yb.data();
          for (int64_t i = 0; i < n; ++i) y[i] = rs * gw[i] - c * xr[i];
          if constexpr (!std::is_same_v<T, A>) from_float(y, pd + r * n, n);
          if (has_weight_)
            for (int64_t i = 0; i < n; ++i) dw[i] += gr[i] * xr[i] * rs;
        }
      });
    if (has_weight_) {
      std::vector<std::vector<A>> used;
      for (auto& p : dw_parts)
        if (!p.empty()) used.push_back(std::move(p));
      write_param_grad<T>(outs[1], used, n);
    }
  });
}

// ---------- LayerNorm

void LayerNorm::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array x = ensure_row_contiguous(in[0]);
  array& out = outs[0];
  alloc_out(out);
  int64_t n = x.ndim() ? x.shape().back() : 1;
  int64_t rows = n ? (int64_t)x.size() / n : 0;
  if (rows == 0 || n == 0) return;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    std::vector<A> w = param_vector<T>(has_weight_ ? &in[1] : nullptr, n, 1.0);
    std::vector<A> bias = param_vector<T>(has_bias_ ? &in[has_weight_ ? 2 : 1] : nullptr, n, 0.0);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    A eps = eps_;
    parallel_for((size_t)rows, std::max<size_t>(1, kParallelGrain / n), [&](size_t b, size_t e) {
      std::vector<A> buf(n), ybuf(n);
      for (size_t r = b; r < e; ++r) {
        const A* xr = row_in(px + r * n, buf.data(), n);
        A mu = sum_of(xr, n) / A(n);
        A rs = A(1) / std::sqrt(sq_dev_of(xr, mu, n) / A(n) + eps);
        A* y = std::is_same_v<T, A> ? reinterpret_cast<A*>(po + r * n) : ybuf.data();
        for (int64_t i = 0; i < n; ++i) y[i] = (xr[i] - mu) * rs * w[i] + bias[i];
        if constexpr (!std::is_same_v<T, A>) from_float(y, po + r * n, n);
      }
    });
  });
}

void LayerNormVJP::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array x = ensure_row_contiguous(in[0]);
  array g = ensure_row_contiguous(in.back());
  array& dx = outs[0];
  alloc_out(dx);
  int64_t n = x.ndim() ? x.shape().back() : 1;
  int64_t rows = n ? (int64_t)x.size() / n : 0;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    std::vector<A> w = param_vector<T>(has_weight_ ? &in[1] : nullptr, n, 1.0);
    const T* px = x.data<T>();
    const T* pg = g.data<T>();
    T* pd = dx.data<T>();
    A eps = eps_;
    int np = std::max(1, num_threads());
    std::vector<std::vector<A>> dw_parts(np), db_parts(np);
    if (rows > 0 && n > 0)
      for_row_parts(rows, n, [&](int part, int64_t r0, int64_t r1) {
        std::vector<A> xb(n), gb(n), gw(n), xh(n), yb(n);
        std::vector<A>& dw = dw_parts[part];
        std::vector<A>& db = db_parts[part];
        if (has_weight_) dw.assign(n, A(0));
        if (has_bias_) db.assign(n, A(0));
        for (int64_t r = r0; r < r1; ++r) {
          const A* xr = row_in(px + r * n, xb.data(), n);
          const A* gr = row_in(pg + r * n, gb.data(), n);
          A mu = sum_of(xr, n) / A(n);
          A rs = A(1) / std::sqrt(sq_dev_of(xr, mu, n) / A(n) + eps);
          for (int64_t i = 0; i < n; ++i) {
            xh[i] = (xr[i] - mu) * rs;
            gw[i] = gr[i] * w[i];
          }
          A m1 = sum_of(gw.data(), n) / A(n);
          A m2 = dot_of(gw.data(), xh.data(), n) / A(n);
          A* y = std::is_same_v<T, A> ? reinterpret_cast<A*>(pd + r * n) : yb.data();
          for (int64_t i = 0; i < n; ++i) y[i] = rs * (gw[i] - m1 - xh[i] * m2);
          if constexpr (!std::is_same_v<T, A>) from_float(y, pd + r * n, n);
          if (has_weight_)
            for (int64_t i = 0; i < n; ++i) dw[i] += gr[i] * xh[i];
          if (has_bias_)
            for (int64_t i = 0; i < n; ++i) db[i] += gr[i];
        }
      });
    auto collect = [](std::vector<std::vector<A>>& ps) {
      std::vector<std::vector<A>> used;
      for (auto& p : ps)
        if (!p.empty()) used.push_back(std::move(p));
      return used;
    };
    int k = 1;
    if (has_weight_) write_param_grad<T>(outs[k++], collect(dw_parts), n);
    if (has_bias_) write_param_grad<T>(outs[k++], collect(db_parts), n);
  });
}

// ---------- RoPE

void RoPE::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array x = ensure_row_contiguous(in[0]);
  array& out = outs[0];
  alloc_out(out);
  if (x.size() == 0) return;
  int nd = x.ndim();
  int64_t D = x.shape(-1), T = x.shape(-2);
  int64_t groups = (int64_t)x.size() / (D * T);
  int half = dims_ / 2;
  // The offset of each group (entry of x's leading dims), read through broadcasting.
  std::vector<int32_t> offs(groups, 0);
  {
    const array& o = in[1];
    Shape lead(x.shape().begin(), x.shape().end() - 2);
    Strides st(lead.size(), 0);
    if (o.ndim() > 0)
      for (int d = 0; d < (int)lead.size(); ++d) st[d] = o.shape()[d] == 1 ? 0 : o.strides()[d];
    const int32_t* po = o.data<int32_t>();
    std::vector<int32_t> idx(lead.size(), 0);
    for (int64_t gi = 0; gi < groups; ++gi) {
      int64_t off = 0;
      for (size_t d = 0; d < lead.size(); ++d) off += idx[d] * st[d];
      offs[gi] = po[off];
      for (int d = (int)lead.size() - 1; d >= 0; --d) {
        if (++idx[d] < lead[d]) break;
        idx[d] = 0;
      }
    }
  }
  std::vector<float> inv(half);
  if (has_freqs_) {
    array f = ensure_row_contiguous(in[2]);
    for (int i = 0; i < half; ++i) inv[i] = 1.0f / f.data<float>()[i];
  } else {
    for (int i = 0; i < half; ++i) inv[i] = (float)std::exp(-(double)i * std::log((double)base_) / half);
  }
  bool uniform = true;
  for (int64_t gi = 1; gi < groups; ++gi) uniform &= offs[gi] == offs[0];
  float sign = forward_ ? 1.0f : -1.0f;
  float scale = scale_;
  // cos and sin of the angles of one position.
  auto angles = [&](int64_t pos, float* c, float* s) {
    float p = (float)pos * scale;
    for (int i = 0; i < half; ++i) c[i] = p * inv[i];
    bool big = false;
    for (int i = 0; i < half; ++i) big |= !(std::fabs(c[i]) < fm::kTrigBig);
    if (!big) {
      for (int i = 0; i < half; ++i) {
        float t = c[i];
        s[i] = sign * fm::sin1(t);
        c[i] = fm::cos1(t);
      }
    } else {
      for (int i = 0; i < half; ++i) {
        float t = c[i];
        s[i] = sign * std::sin(t);
        c[i] = std::cos(t);
      }
    }
  };
  std::vector<float> table;
  if (uniform) {
    table.resize(T * 2 * half);
    for (int64_t t = 0; t < T; ++t) angles(offs[0] + t, &table[t * 2 * half], &table[t * 2 * half + half]);
  }
  (void)nd;
  bool trad = traditional_;
  int dims = dims_;
  dispatch_float(x.dtype(), [&](auto tag) {
    using Ty = typename decltype(tag)::type;
    const Ty* px = x.data<Ty>();
    Ty* py = out.data<Ty>();
    int64_t rows = groups * T;
    parallel_for((size_t)rows, std::max<size_t>(1, kParallelGrain / D), [&](size_t b, size_t e) {
      std::vector<float> cs(2 * half), xb(D), yb(D);
      for (size_t r = b; r < e; ++r) {
        int64_t gi = (int64_t)r / T, t = (int64_t)r % T;
        const float* c;
        if (uniform) {
          c = &table[t * 2 * half];
        } else {
          angles((int64_t)offs[gi] + t, cs.data(), cs.data() + half);
          c = cs.data();
        }
        const float* s = c + half;
        const Ty* xr = px + r * D;
        Ty* yr = py + r * D;
        if constexpr (std::is_same_v<Ty, double>) {
          for (int64_t i = dims; i < D; ++i) yr[i] = xr[i];
          for (int i = 0; i < half; ++i) {
            int a = trad ? 2 * i : i, bb = trad ? 2 * i + 1 : i + half;
            double x1 = xr[a], x2 = xr[bb];
            yr[a] = x1 * c[i] - x2 * s[i];
            yr[bb] = x1 * s[i] + x2 * c[i];
          }
        } else {
          const float* xf;
          float* yf = std::is_same_v<Ty, float> ? reinterpret_cast<float*>(yr) : yb.data();
          if constexpr (std::is_same_v<Ty, float>) xf = xr;
          else {
            to_float(xr, xb.data(), D);
            xf = xb.data();
          }
          if (trad) {
            for (int i = 0; i < half; ++i) {
              float x1 = xf[2 * i], x2 = xf[2 * i + 1];
              yf[2 * i] = x1 * c[i] - x2 * s[i];
              yf[2 * i + 1] = x1 * s[i] + x2 * c[i];
            }
          } else {
            const float* x1 = xf;
            const float* x2 = xf + half;
            float* y1 = yf;
            float* y2 = yf + half;
            for (int i = 0; i < half; ++i) {
              float a = x1[i], bb = x2[i];
              y1[i] = a * c[i] - bb * s[i];
              y2[i] = a * s[i] + bb * c[i];
            }
          }
          for (int64_t i = dims; i < D; ++i) yf[i] = xf[i];
          if constexpr (!std::is_same_v<Ty, float>) from_float(yf, yr, D);
        }
      }
    });
  });
}

// ---------- CrossEntropy

void CrossEntropy::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array x = ensure_row_contiguous(in[0]);
  array t = ensure_row_contiguous(in[1]);
  array& out = outs[0];
  alloc_out(out);
  int64_t C = x.shape(-1);
  int64_t rows = (int64_t)out.size();
  if (rows == 0) return;
  const int32_t* pt = t.data<int32_t>();
  float* po = out.data<float>();
  auto shift_sum = simd::exp_shift_sum();
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    parallel_for((size_t)rows, std::max<size_t>(1, kParallelGrain / std::max<int64_t>(C, 1)),
                 [&](size_t b, size_t e) {
                   std::vector<float> buf(C), ex(C);
                   for (size_t r = b; r < e; ++r) {
                     const T* xr = px + r * C;
                     int32_t ti = pt[r];
                     float picked = ti >= 0 && ti < C ? (float)xr[ti] : 0.0f;
                     if constexpr (std::is_same_v<T, double>) {
                       double m = -INFINITY, s = 0;
                       for (int64_t i = 0; i < C; ++i) m = xr[i] > m || xr[i] != xr[i] ? xr[i] : m;
                       for (int64_t i = 0; i < C; ++i) s += std::exp(xr[i] - m);
                       double p = ti >= 0 && ti < C ? xr[ti] : 0.0;
                       po[r] = (float)(std::isfinite(m) ? m + std::log(s) - p : m - p);
                     } else {
                       const float* xf = row_in(xr, buf.data(), C);
                       float m = -INFINITY;
                       bool nan = false;
                       for (int64_t i = 0; i < C; ++i) {
                         m = xf[i] > m ? xf[i] : m;
                         nan |= xf[i] != xf[i];
                       }
                       float lse = nan ? NAN : std::isinf(m) ? m : m + std::log(shift_sum(xf, ex.data(), C, m));
                       po[r] = lse - picked;
                     }
                   }
                 });
  });
}

}  // namespace ember
