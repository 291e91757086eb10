// Convolution on the CPU: im2col into a row tile, then one GEMM per group (BLAS), tiled
// over the output rows to bound memory; 1x1 convolutions go straight to GEMM; depthwise
// and tiny problems use a direct loop. float16/bfloat16 compute in float32.
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "ember/backend/cpu/kernels.h"
#include "ember/primitives/conv.h"

namespace ember {

using namespace cpu;

namespace {

constexpr int kSp = 3;  // spatial axes, padded with size-1 axes up to three

// The problem, with every spatial quantity padded to three axes.
struct Geom {
  int64_t N = 0, cin = 0, cout = 0, G = 1, cig = 0, cog = 0;
  int64_t L[kSp], K[kSp], O[kSp], st[kSp], lo[kSp], kd[kSp], id[kSp], Ld[kSp];
  int64_t nk = 1, no = 1, KC = 0, rows = 0;
};

Geom make_geom(const array& x, const array& w, const array& out, const ConvParams& p) {
  Geom g;
  int sp = x.ndim() - 2;
  g.N = x.shape(0);
  g.cin = x.shape().back();
  g.cout = w.shape(0);
  g.G = p.groups;
  g.cig = w.shape().back();
  g.cog = g.cout / g.G;
  for (int i = 0; i < kSp; ++i) {
    bool real = i < sp;
    g.L[i] = real ? x.shape(i + 1) : 1;
    g.K[i] = real ? w.shape(i + 1) : 1;
    g.O[i] = real ? out.shape(i + 1) : 1;
    g.st[i] = real ? p.stride[i] : 1;
    g.lo[i] = real ? p.pad_lo[i] : 0;
    g.kd[i] = real ? p.kernel_dilation[i] : 1;
    g.id[i] = real ? p.input_dilation[i] : 1;
    g.Ld[i] = (g.L[i] - 1) * g.id[i] + 1;
    g.nk *= g.K[i];
    g.no *= g.O[i];
  }
  g.KC = g.nk * g.cig;
  g.rows = g.N * g.no;
  return g;
}

// Visits the kernel positions of output row r: f(kidx, src) with src the input pixel's
// channels, or nullptr where the position falls in the padding or between dilated pixels.
template <typename T, typename F>
inline void for_taps(const Geom& g, const T* x, int64_t r, F&& f) {
  int64_t n = r / g.no, rem = r % g.no;
  int64_t o2 = rem % g.O[2], o1 = (rem / g.O[2]) % g.O[1], o0 = rem / (g.O[2] * g.O[1]);
  int64_t kidx = 0;
  for (int64_t k0 = 0; k0 < g.K[0]; ++k0) {
    int64_t p0 = o0 * g.st[0] + k0 * g.kd[0] - g.lo[0];
    bool v0 = p0 >= 0 && p0 < g.Ld[0] && p0 % g.id[0] == 0;
    for (int64_t k1 = 0; k1 < g.K[1]; ++k1) {
      int64_t p1 = o1 * g.st[1] + k1 * g.kd[1] - g.lo[1];
      bool v1 = v0 && p1 >= 0 && p1 < g.Ld[1] && p1 % g.id[1] == 0;
      for (int64_t k2 = 0; k2 < g.K[2]; ++k2, ++kidx) {
        int64_t p2 = o2 * g.st[2] + k2 * g.kd[2] - g.lo[2];
        bool v = v1 && p2 >= 0 && p2 < g.Ld[2] && p2 % g.id[2] == 0;
        const T* src = nullptr;
        if (v)
          src = x + (((n * g.L[0] + p0 / g.id[0]) * g.L[1] + p1 / g.id[1]) * g.L[2] + p2 / g.id[2]) * g.cin;
        f(kidx, src);
      }
    }
  }
}

template <typename T>
void gemm(bool transB, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B,
          int64_t ldb, T* C, int64_t ldc) {
  auto tb = transB ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B,
                      (int)ldb, 0.0f, C, (int)ldc);
  else
    scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, tb, (int)M, (int)N, (int)K, 1.0, A, (int)lda, B,
                      (int)ldb, 0.0, C, (int)ldc);
}

// out[r, g*cog + c] = sum_{k, i} x[tap(r, k), g*cig + i] * w[g*cog + c, k, i], directly,
// with the kernel rearranged as wt[k][g][i][c] so the innermost loop runs over contiguous
// output channels (or over groups, for depthwise kernels).
template <typename T>
void conv_direct(const Geom& g, const T* x, const T* w, T* out) {
  int64_t G = g.G, cig = g.cig, cog = g.cog, nk = g.nk;
  std::vector<T> wt(nk * G * cig * cog);
  for (int64_t gg = 0; gg < G; ++gg)
    for (int64_t c = 0; c < cog; ++c)
      for (int64_t k = 0; k < nk; ++k)
        for (int64_t i = 0; i < cig; ++i)
          wt[((k * G + gg) * cig + i) * cog + c] = w[((gg * cog + c) * nk + k) * cig + i];
  const T* W = wt.data();
  size_t grain = std::max<size_t>(1, kParallelGrain / std::max<int64_t>(1, g.cout * g.KC));
  parallel_for((size_t)g.rows, grain, [&](size_t rb, size_t re) {
    for (size_t r = rb; r < re; ++r) {
      T* acc = out + r * g.cout;
      std::fill(acc, acc + g.cout, T(0));
      for_taps<T>(g, x, (int64_t)r, [&](int64_t k, const T* src) {
        if (!src) return;
        const T* wk = W + k * G * cig * cog;
        if (cig == 1 && cog == 1) {
          for (int64_t c = 0; c < G; ++c) acc[c] += src[c] * wk[c];
          return;
        }
        for (int64_t gg = 0; gg < G; ++gg) {
          T* a = acc + gg * cog;
          for (int64_t i = 0; i < cig; ++i) {
            T xv = src[gg * cig + i];
            const T* wr = wk + (gg * cig + i) * cog;
            for (int64_t c = 0; c < cog; ++c) a[c] += xv * wr[c];
          }
        }
      });
    }
  });
}

// im2col of a row tile (layout [row][group][kernel position][channel]) and a GEMM per group.
template <typename T>
void conv_gemm(const Geom& g, const T* x, const T* w, T* out) {
  int64_t G = g.G, KC = g.KC, cig = g.cig, row_len = G * KC;
  // A tile of about 4M elements, and at least 256 rows where there are that many.
  int64_t tile = std::max<int64_t>(256, (int64_t(1) << 22) / std::max<int64_t>(row_len, 1));
  tile = std::min(tile, g.rows);
  // BLAS sizes are 32-bit.
  tile = std::max<int64_t>(1, std::min<int64_t>(tile, INT32_MAX / std::max<int64_t>(row_len, 1)));
  std::vector<T> col((size_t)(tile * row_len));
  for (int64_t r0 = 0; r0 < g.rows; r0 += tile) {
    int64_t r1 = std::min(g.rows, r0 + tile);
    T* C = col.data();
    size_t grain = std::max<size_t>(1, kParallelGrain / std::max<int64_t>(row_len, 1));
    parallel_for((size_t)(r1 - r0), grain, [&](size_t rb, size_t re) {
      for (size_t rr = rb; rr < re; ++rr) {
        T* dst = C + rr * row_len;
        for_taps<T>(g, x, r0 + (int64_t)rr, [&](int64_t k, const T* src) {
          if (G == 1) {
            if (src) std::memcpy(dst + k * cig, src, cig * sizeof(T));
            else std::memset(dst + k * cig, 0, cig * sizeof(T));
            return;
          }
          for (int64_t gg = 0; gg < G; ++gg) {
            T* d = dst + gg * KC + k * cig;
            if (src) std::memcpy(d, src + gg * cig, cig * sizeof(T));
            else std::memset(d, 0, cig * sizeof(T));
          }
        });
      }
    });
    for (int64_t gg = 0; gg < G; ++gg)
      gemm<T>(true, r1 - r0, g.cog, KC, C + gg * KC, row_len, w + gg * g.cog * KC, KC,
              out + r0 * g.cout + gg * g.cog, g.cout);
  }
}

template <typename T>
void conv_typed(const Geom& g, const ConvParams& p, const array& x, const array& w, array& out) {
  T* o = out.data<T>();
  const T* xp = x.data<T>();
  const T* wp = w.data<T>();
  // A flipped kernel: reverse the kernel positions once.
  std::vector<T> flipped;
  if (p.flip && g.nk > 1) {
    flipped.resize(w.size());
    for (int64_t c = 0; c < g.cout; ++c)
      for (int64_t k = 0; k < g.nk; ++k)
        std::memcpy(flipped.data() + (c * g.nk + k) * g.cig,
                    wp + (c * g.nk + (g.nk - 1 - k)) * g.cig, g.cig * sizeof(T));
    wp = flipped.data();
  }
  bool pointwise = g.nk == 1;
  for (int i = 0; i < kSp; ++i)
    pointwise &= g.st[i] == 1 && g.id[i] == 1 && g.lo[i] == 0 && g.O[i] == g.L[i];
  int64_t macs = g.rows * g.cout * g.KC;
  bool small_groups = g.G > 1 && g.cig * g.cog <= 8;
  if (pointwise && !small_groups && g.rows <= INT32_MAX) {
    for (int64_t gg = 0; gg < g.G; ++gg)
      gemm<T>(true, g.rows, g.cog, g.cig, xp + gg * g.cig, g.cin, wp + gg * g.cog * g.cig, g.cig,
              o + gg * g.cog, g.cout);
  } else if (small_groups || macs < (int64_t(1) << 16)) {
    conv_direct<T>(g, xp, wp, o);
  } else {
    conv_gemm<T>(g, xp, wp, o);
  }
}

}  // namespace

void Convolution::eval_cpu(const std::vector<array>& in, array& out) {
  Dtype dt = out.dtype();
  if (out.size() == 0 || in[0].size() == 0 || in[1].size() == 0) {
    alloc_out(out);
    // No input channels (or no input pixels): every sum is empty.
    std::memset(out.raw_ptr(), 0, out.nbytes());
    return;
  }
  Dtype ct = dt == float64 ? float64 : float32;
  auto prepare = [&](const array& a) {
    if (a.dtype() == ct) return ensure_row_contiguous(a);
    array c(a.shape(), ct, nullptr, {});
    copy_to_row_contiguous(a, c);
    return c;
  };
  array x = prepare(in[0]), w = prepare(in[1]);
  array res = ct == dt ? out : array(out.shape(), ct, nullptr, {});
  alloc_out(res);
  Geom g = make_geom(x, w, out, p_);
  if (ct == float64) conv_typed<double>(g, p_, x, w, res);
  else conv_typed<float>(g, p_, x, w, res);
  if (ct != dt) copy_to_row_contiguous(res, out);
}

}  // namespace ember
