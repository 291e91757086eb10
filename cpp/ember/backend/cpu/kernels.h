// Shared machinery for CPU kernels: output allocation, dimension collapsing and
// strided iteration, and the unary/binary/ternary elementwise drivers.
#pragma once

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "ember/array.h"
#include "ember/dispatch.h"
#include "ember/threadpool.h"

namespace ember::cpu {

inline std::shared_ptr<Data> alloc_bytes(size_t bytes) { return std::make_shared<Data>(bytes); }

// Row-contiguous output of its own.
inline void alloc_out(array& out) { out.set_data(alloc_bytes(out.nbytes())); }

// Output laid out exactly like `like` (which is densely contiguous in some order).
inline void alloc_like(array& out, const array& like) {
  if (like.is_donatable() && like.itemsize() == out.itemsize() && like.buffer()) {
    out.move_shared_buffer(like);
  } else {
    out.set_data(alloc_bytes(like.data_size() * out.itemsize()), like.data_size(),
                 like.strides(), like.flags());
  }
}

// Merge dimensions that are contiguous for every stride vector; drop size-1 dims. A merged
// dimension stays within 32 bits (Shape entries): larger runs are left as two dimensions.
template <size_t N>
void collapse(Shape& shape, std::array<Strides, N>& strides) {
  Shape s;
  std::array<Strides, N> st;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (!s.empty()) {
      bool merge = (int64_t)s.back() * shape[i] <= INT32_MAX;
      for (size_t k = 0; k < N; ++k)
        if (st[k].back() != strides[k][i] * shape[i]) merge = false;
      if (merge) {
        s.back() *= shape[i];
        for (size_t k = 0; k < N; ++k) st[k].back() = strides[k][i];
        continue;
      }
    }
    s.push_back(shape[i]);
    for (size_t k = 0; k < N; ++k) st[k].push_back(strides[k][i]);
  }
  if (s.empty()) {
    s.push_back(1);
    for (size_t k = 0; k < N; ++k) st[k].push_back(0);
  }
  shape = std::move(s);
  strides = std::move(st);
}

// Calls f(offsets, n, inner_strides) for every innermost row of the (collapsed) shape,
// with element offsets for each of the N arrays. Rows are split across threads.
template <size_t N, typename F>
void for_each_row(const Shape& shape, const std::array<Strides, N>& strides, F&& f,
                  bool parallel = true) {
  int nd = (int)shape.size();
  int64_t inner = shape[nd - 1];
  int64_t rows = 1;
  for (int i = 0; i < nd - 1; ++i) rows *= shape[i];
  std::array<int64_t, N> inner_st;
  for (size_t k = 0; k < N; ++k) inner_st[k] = strides[k][nd - 1];
  auto run = [&](size_t rb, size_t re) {
    std::vector<int64_t> idx(nd > 1 ? nd - 1 : 1, 0);
    std::array<int64_t, N> off{};
    int64_t r = (int64_t)rb;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = r % shape[d];
      r /= shape[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx[d] * strides[k][d];
    }
    for (size_t row = rb; row < re; ++row) {
      f(off, inner, inner_st);
      for (int d = nd - 2; d >= 0; --d) {
        for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
        if (++idx[d] < shape[d]) break;
        for (size_t k = 0; k < N; ++k) off[k] -= strides[k][d] * shape[d];
        idx[d] = 0;
      }
    }
  };
  size_t grain = std::max<size_t>(1, kParallelGrain / std::max<int64_t>(inner, 1));
  if (parallel)
    parallel_for((size_t)rows, grain, run);
  else
    run(0, (size_t)rows);
}

// A 2-D iteration where some operand's inner stride is large while its outer stride is
// small (a transposed view): row-by-row loops would touch a new cache line per element.
template <size_t N>
bool transposed_2d(const Shape& shape, const std::array<Strides, N>& st) {
  if (shape.size() != 2 || shape[0] < 16 || shape[1] < 16) return false;
  for (size_t k = 0; k < N; ++k)
    if (std::abs(st[k][1]) > 1 && std::abs(st[k][1]) > std::abs(st[k][0])) return true;
  return false;
}

// Visits a 2-D index space in 32x32 tiles. Operands 0..N-2 are inputs, N-1 the output.
// When the output's rows are contiguous, every input whose rows are not is first
// gathered into a tile buffer (read along its own contiguous direction), and
// row(ptrs, out_row, w) runs over unit-stride rows, which vectorises; otherwise
// elem(offset_0, ..., offset_{N-1}) is called per element.
template <typename In, typename Out, size_t N, typename Row, typename Elem>
void tiled_2d(const Shape& shape, const std::array<Strides, N>& st, const std::array<const In*, N - 1>& in,
              Out* out, Row&& row, Elem&& elem) {
  constexpr int64_t B = 32;
  constexpr size_t NI = N - 1;
  int64_t R = shape[0], C = shape[1];
  int64_t row_tiles = (R + B - 1) / B;
  bool rows = st[NI][1] == 1;
  parallel_for(row_tiles, std::max<int64_t>(1, kParallelGrain / (B * C)), [&](size_t tb, size_t te) {
    std::unique_ptr<In[]> buf(rows ? new In[NI * B * B] : nullptr);
    for (int64_t t = (int64_t)tb; t < (int64_t)te; ++t) {
      int64_t r0 = t * B, r1 = std::min(R, r0 + B);
      for (int64_t c0 = 0; c0 < C; c0 += B) {
        int64_t c1 = std::min(C, c0 + B);
        if (!rows) {
          for (int64_t i = r0; i < r1; ++i)
            for (int64_t j = c0; j < c1; ++j) {
              if constexpr (N == 2) elem(i * st[0][0] + j * st[0][1], i * st[1][0] + j * st[1][1]);
              else elem(i * st[0][0] + j * st[0][1], i * st[1][0] + j * st[1][1], i * st[2][0] + j * st[2][1]);
            }
          continue;
        }
        std::array<const In*, NI> base;
        std::array<int64_t, NI> rs;
        for (size_t k = 0; k < NI; ++k) {
          const In* p = in[k] + r0 * st[k][0] + c0 * st[k][1];
          if (st[k][1] == 1) {
            base[k] = p;
            rs[k] = st[k][0];
            continue;
          }
          In* b = buf.get() + k * B * B;
          for (int64_t j = 0; j < c1 - c0; ++j) {
            const In* col = p + j * st[k][1];
            for (int64_t i = 0; i < r1 - r0; ++i) b[i * B + j] = col[i * st[k][0]];
          }
          base[k] = b;
          rs[k] = B;
        }
        for (int64_t i = r0; i < r1; ++i) {
          std::array<const In*, NI> ptrs;
          for (size_t k = 0; k < NI; ++k) ptrs[k] = base[k] + (i - r0) * rs[k];
          row(ptrs, out + i * st[NI][0] + c0, c1 - c0);
        }
      }
    }
  });
}

// Parallel loop over [0, n) for flat kernels.
template <typename F>
void flat_for(size_t n, F&& f) {
  parallel_for(n, kParallelGrain, [&](size_t b, size_t e) { f(b, e); });
}

// ---------- float16 spans: bulk conversions (F16C when the build has it), so that
// half-precision kernels convert blocks and compute in float.

inline void half_to_float_n(const float16_t* in, float* out, size_t n) {
  size_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
#endif
  for (; i < n; ++i) out[i] = static_cast<float>(in[i]);
}
inline void float_to_half_n(const float* in, float16_t* out, size_t n) {
  size_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
#endif
  for (; i < n; ++i) out[i] = float16_t(in[i]);
}

// d[i] = cast_to<Out>(s[i]) over a contiguous span.
template <typename In, typename Out>
void convert_span(const In* s, Out* d, size_t n) {
  if constexpr (std::is_same_v<In, float16_t> && std::is_same_v<Out, float>) half_to_float_n(s, d, n);
  else if constexpr (std::is_same_v<In, float> && std::is_same_v<Out, float16_t>) float_to_half_n(s, d, n);
  else
    for (size_t i = 0; i < n; ++i) d[i] = cast_to<Out>(s[i]);
}

// o[i] = op(x[i], y[i]) for i in [s, e) over float16 values, in float blocks; a scalar
// operand (x_scalar / y_scalar) repeats its first element.
template <typename Op>
void half_span2(const float16_t* x, bool x_scalar, const float16_t* y, bool y_scalar, float16_t* o,
                size_t s, size_t e, Op& op) {
  constexpr size_t B = 256;
  float bx[B], by[B], bo[B];
  if (x_scalar) std::fill(bx, bx + B, static_cast<float>(x[0]));
  if (y_scalar) std::fill(by, by + B, static_cast<float>(y[0]));
  for (size_t b = s; b < e; b += B) {
    size_t w = std::min(B, e - b);
    if (!x_scalar) half_to_float_n(x + b, bx, w);
    if (!y_scalar) half_to_float_n(y + b, by, w);
    for (size_t i = 0; i < w; ++i) bo[i] = op(bx[i], by[i]);
    float_to_half_n(bo, o + b, w);
  }
}

// ---------- unary: out[i] = op(in[i])

template <typename In, typename Out, typename Op>
void unary_kernel(const array& in, array& out, Op op) {
  if (in.flags().contiguous) {
    alloc_like(out, in);
    const In* src = in.data<In>();
    Out* dst = out.data<Out>();
    flat_for(in.data_size(), [&](size_t b, size_t e) {
      if constexpr (std::is_same_v<In, float16_t> && std::is_same_v<Out, float16_t>) {
        float buf[256];
        for (size_t s0 = b; s0 < e; s0 += 256) {
          size_t w = std::min<size_t>(256, e - s0);
          half_to_float_n(src + s0, buf, w);
          for (size_t i = 0; i < w; ++i) buf[i] = op(buf[i]);
          float_to_half_n(buf, dst + s0, w);
        }
      } else {
        for (size_t i = b; i < e; ++i) dst[i] = op(src[i]);
      }
    });
    return;
  }
  alloc_out(out);
  Shape shape = in.shape();
  std::array<Strides, 2> st{in.strides(), out.strides()};
  collapse(shape, st);
  const In* src = in.data<In>();
  Out* dst = out.data<Out>();
  for_each_row<2>(shape, st, [&](auto off, int64_t n, auto ist) {
    const In* s = src + off[0];
    Out* d = dst + off[1];
    for (int64_t i = 0; i < n; ++i) d[i * ist[1]] = op(s[i * ist[0]]);
  });
}

// Strides of an elementwise input seen with out's rank: a 0-d scalar repeats.
inline Strides bstrides(const array& a, const array& out) {
  return a.ndim() == out.ndim() ? a.strides() : Strides(out.ndim(), 0);
}

// ---------- binary: out[i] = op(a[i], b[i]) over broadcast inputs of out's shape

template <typename T, typename Out>
constexpr bool kHalfSpan = std::is_same_v<T, float16_t> && std::is_same_v<Out, float16_t>;

template <typename T, typename Out, typename Op>
void binary_kernel(const array& a, const array& b, array& out, Op op) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  bool a_scalar = a.data_size() == 1, b_scalar = b.data_size() == 1;
  // "Dense" operands lend their layout to the output, so they must have its rank.
  bool a_dense = a.flags().contiguous && a.data_size() == a.size() && a.ndim() == out.ndim();
  bool b_dense = b.flags().contiguous && b.data_size() == b.size() && b.ndim() == out.ndim();
  if (a_scalar && b_dense) {
    alloc_like(out, b);
    Out* o = out.data<Out>();
    T va = pa[0];
    pb = b.data<T>();
    flat_for(b.data_size(), [&](size_t s, size_t e) {
      if constexpr (kHalfSpan<T, Out>) half_span2(pa, true, pb, false, o, s, e, op);
      else
        for (size_t i = s; i < e; ++i) o[i] = op(va, pb[i]);
    });
    return;
  }
  if (b_scalar && a_dense) {
    alloc_like(out, a);
    Out* o = out.data<Out>();
    T vb = pb[0];
    pa = a.data<T>();
    flat_for(a.data_size(), [&](size_t s, size_t e) {
      if constexpr (kHalfSpan<T, Out>) half_span2(pa, false, pb, true, o, s, e, op);
      else
        for (size_t i = s; i < e; ++i) o[i] = op(pa[i], vb);
    });
    return;
  }
  if (a_dense && b_dense && a.strides() == b.strides()) {
    if (b.is_donatable() && b.itemsize() == out.itemsize())
      alloc_like(out, b);
    else
      alloc_like(out, a);
    Out* o = out.data<Out>();
    flat_for(a.data_size(), [&](size_t s, size_t e) {
      if constexpr (kHalfSpan<T, Out>) half_span2(pa, false, pb, false, o, s, e, op);
      else
        for (size_t i = s; i < e; ++i) o[i] = op(pa[i], pb[i]);
    });
    return;
  }
  alloc_out(out);
  Shape shape = out.shape();
  std::array<Strides, 3> st{bstrides(a, out), bstrides(b, out), out.strides()};
  collapse(shape, st);
  Out* po = out.data<Out>();
  if (transposed_2d(shape, st)) {
    // One operand walks columns: tiles keep both operands' cache lines in use.
    tiled_2d<T, Out, 3>(
        shape, st, {pa, pb}, po,
        [&](const std::array<const T*, 2>& p, Out* o, int64_t w) {
          const T* __restrict x = p[0];
          const T* __restrict y = p[1];
          for (int64_t j = 0; j < w; ++j) o[j] = op(x[j], y[j]);
        },
        [&](int64_t oa, int64_t ob, int64_t oo) { po[oo] = op(pa[oa], pb[ob]); });
    return;
  }
  for_each_row<3>(shape, st, [&](auto off, int64_t n, auto ist) {
    const T* x = pa + off[0];
    const T* y = pb + off[1];
    Out* o = po + off[2];
    if (ist[0] == 1 && ist[1] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = op(x[i], y[i]);
    } else if (ist[0] == 0 && ist[1] == 1) {
      T v = x[0];
      for (int64_t i = 0; i < n; ++i) o[i] = op(v, y[i]);
    } else if (ist[0] == 1 && ist[1] == 0) {
      T v = y[0];
      for (int64_t i = 0; i < n; ++i) o[i] = op(x[i], v);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * ist[2]] = op(x[i * ist[0]], y[i * ist[1]]);
    }
  });
}

// ---------- general strided copy with conversion: out (row-contiguous) = cast(in)

template <typename In, typename Out>
void copy_general(const array& in, array& out) {
  Shape shape = in.shape();
  std::array<Strides, 2> st{in.strides(), out.strides()};
  collapse(shape, st);
  const In* src = in.data<In>();
  Out* dst = out.data<Out>();
  if (transposed_2d(shape, st)) {
    tiled_2d<In, Out, 2>(
        shape, st, {src}, dst,
        [&](const std::array<const In*, 1>& p, Out* o, int64_t w) {
          const In* __restrict x = p[0];
          for (int64_t j = 0; j < w; ++j) o[j] = cast_to<Out>(x[j]);
        },
        [&](int64_t oi, int64_t oo) { dst[oo] = cast_to<Out>(src[oi]); });
    return;
  }
  for_each_row<2>(shape, st, [&](auto off, int64_t n, auto ist) {
    const In* s = src + off[0];
    Out* d = dst + off[1];
    if (ist[0] == 1 && ist[1] == 1) {
      if constexpr (std::is_same_v<In, Out>) {
        std::memcpy(d, s, n * sizeof(In));
      } else {
        convert_span(s, d, (size_t)n);
      }
    } else {
      for (int64_t i = 0; i < n; ++i) d[i * ist[1]] = cast_to<Out>(s[i * ist[0]]);
    }
  });
}

// Copy `in` (any layout, any dtype) into `out`'s strided view (out already has memory).
void copy_into(const array& in, array& out_view);
// Copy `in` into a fresh row-contiguous buffer of out's dtype.
void copy_to_row_contiguous(const array& in, array& out);
// A row-contiguous version of `a` (a itself when it already is).
array ensure_row_contiguous(const array& a);

}  // namespace ember::cpu
