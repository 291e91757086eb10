// Convolution on the CPU (channels last). float32: row tiles of im2col spread over the
// thread pool, each multiplied by the packed kernel with an AVX2/FMA micro-kernel while still
// in cache; input-dilated convolutions (strided gradients, transposed convolutions) split into
// phases so that only live taps reach the GEMM. 1x1 convolutions go straight to BLAS;
// single-channel, depthwise-like and tiny problems use direct loops. float64 (and float32
// without AVX2) use im2col tiles with BLAS; float16/bfloat16 compute in float32.
#include <cblas.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EMBER_CONV_AVX2 1
#endif

#include <algorithm>
#include <cstring>
#include <vector>

#include "ember/backend/cpu/kernels.h"
#include "ember/primitives/conv_grad.h"

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

// x, w and out are the shapes of the convolution's input, kernel and output.
Geom make_geom(const Shape& x, const Shape& w, const Shape& out, const ConvParams& p) {
  Geom g;
  int sp = (int)x.size() - 2;
  g.N = x[0];
  g.cin = x.back();
  g.cout = w[0];
  g.G = p.groups;
  g.cig = w.back();
  g.cog = g.cout / g.G;
  // The real axes are the last ones (the innermost is the one with contiguous runs).
  for (int i = 0; i < kSp; ++i) {
    int j = i - (kSp - sp);
    bool real = j >= 0;
    g.L[i] = real ? x[j + 1] : 1;
    g.K[i] = real ? w[j + 1] : 1;
    g.O[i] = real ? out[j + 1] : 1;
    g.st[i] = real ? p.stride[j] : 1;
    g.lo[i] = real ? p.pad_lo[j] : 0;
    g.kd[i] = real ? p.kernel_dilation[j] : 1;
    g.id[i] = real ? p.input_dilation[j] : 1;
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

// One input and one output channel with unit stride along the innermost axis: each output
// line accumulates one scaled, shifted input line per kernel tap (vectorises over outputs).
template <typename T>
void conv_single_channel(const Geom& g, const T* x, const T* w, T* out) {
  int64_t lines = g.N * g.O[0] * g.O[1];
  int64_t O2 = g.O[2], L2 = g.L[2];
  size_t grain = std::max<size_t>(1, kParallelGrain / std::max<int64_t>(1, O2 * g.nk));
  parallel_for((size_t)lines, grain, [&](size_t lb, size_t le) {
    for (size_t line = lb; line < le; ++line) {
      int64_t o1 = (int64_t)line % g.O[1], o0 = ((int64_t)line / g.O[1]) % g.O[0];
      int64_t n = (int64_t)line / (g.O[1] * g.O[0]);
      T* dst = out + line * O2;
      std::fill(dst, dst + O2, T(0));
      for (int64_t k0 = 0; k0 < g.K[0]; ++k0) {
        int64_t p0 = o0 * g.st[0] + k0 * g.kd[0] - g.lo[0];
        if (p0 < 0 || p0 >= g.Ld[0] || p0 % g.id[0]) continue;
        for (int64_t k1 = 0; k1 < g.K[1]; ++k1) {
          int64_t p1 = o1 * g.st[1] + k1 * g.kd[1] - g.lo[1];
          if (p1 < 0 || p1 >= g.Ld[1] || p1 % g.id[1]) continue;
          const T* src = x + ((n * g.L[0] + p0 / g.id[0]) * g.L[1] + p1 / g.id[1]) * L2;
          const T* wk = w + (k0 * g.K[1] + k1) * g.K[2];
          for (int64_t k2 = 0; k2 < g.K[2]; ++k2) {
            int64_t shift = k2 * g.kd[2] - g.lo[2];
            int64_t a = std::max<int64_t>(0, -shift), b = std::min<int64_t>(O2, L2 - shift);
            T wv = wk[k2];
            const T* s = src + shift;
            for (int64_t o = a; o < b; ++o) dst[o] += wv * s[o];
          }
        }
      }
    }
  });
}

// Short runs (a few channels) copy in a plain loop; a library call costs more than the data.
template <typename T>
inline void copy_run(T* dst, const T* src, int64_t n) {
  if (n <= 16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  } else {
    std::memcpy(dst, src, n * sizeof(T));
  }
}

template <typename T>
inline void fill_zero(T* dst, int64_t n) {
  if (n <= 16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = T(0);
  } else {
    std::memset(dst, 0, n * sizeof(T));
  }
}

// One im2col row (layout [group][kernel position][channel]) for output row r. Along the
// innermost axis, undilated taps of one input row are one contiguous run.
template <typename T>
void im2col_row(const Geom& g, const T* x, int64_t r, T* dst) {
  int64_t G = g.G, cig = g.cig, KC = g.KC;
  bool runs = G == 1 && g.id[2] == 1 && g.kd[2] == 1;
  if (!runs) {
    for_taps<T>(g, x, r, [&](int64_t k, const T* src) {
      for (int64_t gg = 0; gg < G; ++gg) {
        T* d = dst + gg * KC + k * cig;
        if (src) std::memcpy(d, src + gg * cig, cig * sizeof(T));
        else std::memset(d, 0, cig * sizeof(T));
      }
    });
    return;
  }
  int64_t n = r / g.no, rem = r % g.no;
  int64_t o2 = rem % g.O[2], o1 = (rem / g.O[2]) % g.O[1], o0 = rem / (g.O[2] * g.O[1]);
  int64_t base2 = o2 * g.st[2] - g.lo[2];  // input position of tap k2 = 0
  int64_t k2a = std::clamp<int64_t>(-base2, 0, g.K[2]);
  int64_t k2b = std::clamp<int64_t>(g.L[2] - base2, k2a, g.K[2]);
  int64_t run = g.K[2] * cig;
  for (int64_t k0 = 0; k0 < g.K[0]; ++k0) {
    int64_t p0 = o0 * g.st[0] + k0 * g.kd[0] - g.lo[0];
    bool v0 = p0 >= 0 && p0 < g.Ld[0] && p0 % g.id[0] == 0;
    for (int64_t k1 = 0; k1 < g.K[1]; ++k1, dst += run) {
      int64_t p1 = o1 * g.st[1] + k1 * g.kd[1] - g.lo[1];
      bool v = v0 && p1 >= 0 && p1 < g.Ld[1] && p1 % g.id[1] == 0 && k2b > k2a;
      if (!v) {
        fill_zero(dst, run);
        continue;
      }
      const T* src = x + (((n * g.L[0] + p0 / g.id[0]) * g.L[1] + p1 / g.id[1]) * g.L[2] + base2 + k2a) * g.cin;
      if (k2a > 0) fill_zero(dst, k2a * cig);
      copy_run(dst + k2a * cig, src, (k2b - k2a) * cig);
      if (k2b < g.K[2]) fill_zero(dst + k2b * cig, (g.K[2] - k2b) * cig);
    }
  }
}

#ifdef EMBER_CONV_AVX2
// ---------- float32 GEMM for im2col tiles (AVX2 + FMA), run per worker thread
//
// C[M x N] = A[M x K] * B^T with A an im2col tile (row-major) and B the kernel (N x K,
// row-major), packed once as column panels of 16: Bp[panel][k][16]. A 6x16 register block
// accumulates over a K block of at most 640 (the panel's slice stays in L1/L2).

constexpr int kMR = 6, kNR = 16, kKB = 640;

bool have_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

// Packs N x K (row stride ldb) into ceil(N / 16) panels of K x 16, zero-padded.
void pack_b(const float* B, int64_t N, int64_t K, int64_t ldb, float* Bp) {
  int64_t panels = (N + kNR - 1) / kNR;
  for (int64_t p = 0; p < panels; ++p) {
    float* dst = Bp + p * K * kNR;
    for (int64_t j = 0; j < kNR; ++j) {
      int64_t col = p * kNR + j;
      if (col < N) {
        const float* src = B + col * ldb;
        for (int64_t k = 0; k < K; ++k) dst[k * kNR + j] = src[k];
      } else {
        for (int64_t k = 0; k < K; ++k) dst[k * kNR + j] = 0.0f;
      }
    }
  }
}

__attribute__((target("avx2,fma"))) void micro_6x16(int64_t K, const float* A, int64_t lda, int mr,
                                                    const float* Bp, float* C, int64_t ldc, int nr,
                                                    bool accumulate) {
  const float* a0 = A;
  const float* a1 = mr > 1 ? A + lda : A;
  const float* a2 = mr > 2 ? A + 2 * lda : A;
  const float* a3 = mr > 3 ? A + 3 * lda : A;
  const float* a4 = mr > 4 ? A + 4 * lda : A;
  const float* a5 = mr > 5 ? A + 5 * lda : A;
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t k = 0; k < K; ++k) {
    __m256 b0 = _mm256_loadu_ps(Bp + k * kNR), b1 = _mm256_loadu_ps(Bp + k * kNR + 8);
    __m256 a = _mm256_broadcast_ss(a0 + k);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(a1 + k);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(a2 + k);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(a3 + k);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(a4 + k);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(a5 + k);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  alignas(32) float tmp[kMR][kNR];
  _mm256_store_ps(tmp[0], c00), _mm256_store_ps(tmp[0] + 8, c01);
  _mm256_store_ps(tmp[1], c10), _mm256_store_ps(tmp[1] + 8, c11);
  _mm256_store_ps(tmp[2], c20), _mm256_store_ps(tmp[2] + 8, c21);
  _mm256_store_ps(tmp[3], c30), _mm256_store_ps(tmp[3] + 8, c31);
  _mm256_store_ps(tmp[4], c40), _mm256_store_ps(tmp[4] + 8, c41);
  _mm256_store_ps(tmp[5], c50), _mm256_store_ps(tmp[5] + 8, c51);
  for (int i = 0; i < mr; ++i) {
    float* c = C + i * ldc;
    if (accumulate)
      for (int j = 0; j < nr; ++j) c[j] += tmp[i][j];
    else
      for (int j = 0; j < nr; ++j) c[j] = tmp[i][j];
  }
}

// C (M x N, ldc) = A (M x K, lda) * B^T from the packed panels.
void gemm_packed(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* Bp,
                 float* C, int64_t ldc) {
  int64_t panels = (N + kNR - 1) / kNR;
  for (int64_t k0 = 0; k0 < K; k0 += kKB) {
    int64_t kb = std::min<int64_t>(kKB, K - k0);
    for (int64_t p = 0; p < panels; ++p) {
      const float* bp = Bp + p * K * kNR + k0 * kNR;
      int nr = (int)std::min<int64_t>(kNR, N - p * kNR);
      for (int64_t i = 0; i < M; i += kMR)
        micro_6x16(kb, A + i * lda + k0, lda, (int)std::min<int64_t>(kMR, M - i), bp,
                   C + i * ldc + p * kNR, ldc, nr, k0 > 0);
    }
  }
}

// Row tiles spread over the thread pool: each worker writes a tile of im2col rows into a
// buffer of its own, sized to stay in cache where the rows allow, and multiplies it with
// the packed kernel straight into the output rows.
void conv_gemm_tiles(const Geom& g, const float* x, const float* w, float* out) {
  int64_t G = g.G, KC = g.KC, row_len = G * KC, cog = g.cog;
  int64_t panels = (cog + kNR - 1) / kNR;
  auto packed = alloc_bytes((size_t)(G * panels * kNR * KC) * sizeof(float));
  float* Bp = static_cast<float*>(packed->ptr);
  parallel_for((size_t)G, 1, [&](size_t gb, size_t ge) {
    for (size_t gg = gb; gg < ge; ++gg)
      pack_b(w + gg * cog * KC, cog, KC, KC, Bp + gg * panels * kNR * KC);
  });
  // A tile of about 512 KB (cache-resident), but at least 4 rows per packed kernel column so
  // the packed kernel, read once per tile, costs less than the tile itself (long kernels);
  // 32 MB at most. Tiles come in multiples of the thread count, evenly sized.
  int64_t rl = std::max<int64_t>(row_len, 1), threads = std::max(1, num_threads());
  int64_t tile = std::max((int64_t(1) << 17) / rl, std::min(4 * panels * kNR, (int64_t(1) << 23) / rl));
  tile = std::max<int64_t>(tile, kMR);
  int64_t tiles = (g.rows + tile - 1) / tile;
  tiles = (tiles + threads - 1) / threads * threads;
  tile = (g.rows + tiles - 1) / tiles;
  tile = std::max<int64_t>(kMR, (tile + kMR - 1) / kMR * kMR);
  tiles = (g.rows + tile - 1) / tile;
  parallel_for((size_t)tiles, 1, [&](size_t tb, size_t te) {
    auto buf = alloc_bytes((size_t)(tile * row_len) * sizeof(float));
    float* col = static_cast<float*>(buf->ptr);
    for (size_t t = tb; t < te; ++t) {
      int64_t r0 = (int64_t)t * tile, r1 = std::min(g.rows, r0 + tile);
      for (int64_t r = r0; r < r1; ++r) im2col_row<float>(g, x, r, col + (r - r0) * row_len);
      for (int64_t gg = 0; gg < G; ++gg)
        gemm_packed(r1 - r0, cog, KC, col + gg * KC, row_len, Bp + gg * panels * kNR * KC,
                    out + r0 * g.cout + gg * cog, g.cout);
    }
  });
}

// Input-dilated convolutions (the input gradient of strided ones, transposed ones): most
// taps fall between dilated pixels. Output positions split into phases by
// (o * stride - pad_lo) mod input_dilation along each axis; within a phase the same taps
// are live on every row, so each phase is a smaller convolution over those taps alone.
void conv_gemm_phases(const Geom& g, const float* x, const float* w, float* out) {
  int64_t G = g.G, cig = g.cig, cog = g.cog, threads = std::max(1, num_threads());
  auto mod = [](int64_t a, int64_t m) { return ((a % m) + m) % m; };
  for (int64_t f0 = 0; f0 < g.id[0]; ++f0)
    for (int64_t f1 = 0; f1 < g.id[1]; ++f1)
      for (int64_t f2 = 0; f2 < g.id[2]; ++f2) {
        int64_t ph[kSp] = {f0, f1, f2};
        std::vector<int64_t> os[kSp], ks[kSp];
        bool any_rows = true;
        for (int i = 0; i < kSp; ++i) {
          for (int64_t o = 0; o < g.O[i]; ++o)
            if (mod(o * g.st[i] - g.lo[i], g.id[i]) == ph[i]) os[i].push_back(o);
          for (int64_t k = 0; k < g.K[i]; ++k)
            if ((ph[i] + k * g.kd[i]) % g.id[i] == 0) ks[i].push_back(k);
          any_rows &= !os[i].empty();
        }
        if (!any_rows) continue;
        int64_t n0 = os[0].size(), n1 = os[1].size(), n2 = os[2].size();
        int64_t t0 = ks[0].size(), t1 = ks[1].size(), t2 = ks[2].size(), nt = t0 * t1 * t2;
        int64_t rows = g.N * n0 * n1 * n2;
        auto row_index = [&](int64_t r) {  // phase row -> output row
          int64_t a2 = r % n2, a1 = (r / n2) % n1, a0 = (r / (n2 * n1)) % n0, n = r / (n2 * n1 * n0);
          return ((n * g.O[0] + os[0][a0]) * g.O[1] + os[1][a1]) * g.O[2] + os[2][a2];
        };
        if (nt == 0) {
          parallel_for((size_t)rows, 4096, [&](size_t b, size_t e) {
            for (size_t r = b; r < e; ++r) std::fill_n(out + row_index((int64_t)r) * g.cout, g.cout, 0.0f);
          });
          continue;
        }
        // The live taps' kernel, packed per group.
        int64_t KC = nt * cig, row_len = G * KC, panels = (cog + kNR - 1) / kNR;
        std::vector<int64_t> kidx(nt);
        for (int64_t b0 = 0, t = 0; b0 < t0; ++b0)
          for (int64_t b1 = 0; b1 < t1; ++b1)
            for (int64_t b2 = 0; b2 < t2; ++b2, ++t)
              kidx[t] = (ks[0][b0] * g.K[1] + ks[1][b1]) * g.K[2] + ks[2][b2];
        auto sub = alloc_bytes((size_t)(g.cout * KC) * sizeof(float));
        float* ws = static_cast<float*>(sub->ptr);
        for (int64_t c = 0; c < g.cout; ++c)
          for (int64_t t = 0; t < nt; ++t)
            std::memcpy(ws + (c * nt + t) * cig, w + (c * g.nk + kidx[t]) * cig, cig * sizeof(float));
        auto packed = alloc_bytes((size_t)(G * panels * kNR * KC) * sizeof(float));
        float* Bp = static_cast<float*>(packed->ptr);
        for (int64_t gg = 0; gg < G; ++gg) pack_b(ws + gg * cog * KC, cog, KC, KC, Bp + gg * panels * kNR * KC);
        int64_t rl = std::max<int64_t>(row_len, 1);
        int64_t tile = std::max((int64_t(1) << 17) / rl, std::min(4 * panels * kNR, (int64_t(1) << 23) / rl));
        tile = std::max<int64_t>(tile, kMR);
        int64_t tiles = (rows + tile - 1) / tile;
        tiles = (tiles + threads - 1) / threads * threads;
        tile = std::max<int64_t>(kMR, ((rows + tiles - 1) / tiles + kMR - 1) / kMR * kMR);
        tiles = (rows + tile - 1) / tile;
        parallel_for((size_t)tiles, 1, [&](size_t tb, size_t te) {
          auto buf = alloc_bytes((size_t)(tile * (row_len + g.cout)) * sizeof(float));
          float* col = static_cast<float*>(buf->ptr);
          float* res = col + tile * row_len;
          for (size_t ti = tb; ti < te; ++ti) {
            int64_t r0 = (int64_t)ti * tile, r1 = std::min(rows, r0 + tile);
            for (int64_t r = r0; r < r1; ++r) {
              float* dst = col + (r - r0) * row_len;
              int64_t a2 = r % n2, a1 = (r / n2) % n1, a0 = (r / (n2 * n1)) % n0, n = r / (n2 * n1 * n0);
              int64_t o[kSp] = {os[0][a0], os[1][a1], os[2][a2]};
              for (int64_t b0 = 0, t = 0; b0 < t0; ++b0) {
                int64_t p0 = o[0] * g.st[0] + ks[0][b0] * g.kd[0] - g.lo[0];
                bool v0 = p0 >= 0 && p0 < g.Ld[0];
                for (int64_t b1 = 0; b1 < t1; ++b1) {
                  int64_t p1 = o[1] * g.st[1] + ks[1][b1] * g.kd[1] - g.lo[1];
                  bool v1 = v0 && p1 >= 0 && p1 < g.Ld[1];
                  for (int64_t b2 = 0; b2 < t2; ++b2, ++t) {
                    int64_t p2 = o[2] * g.st[2] + ks[2][b2] * g.kd[2] - g.lo[2];
                    bool v = v1 && p2 >= 0 && p2 < g.Ld[2];
                    const float* src = v ? x + (((n * g.L[0] + p0 / g.id[0]) * g.L[1] + p1 / g.id[1]) * g.L[2] +
                                                p2 / g.id[2]) * g.cin
                                         : nullptr;
                    for (int64_t gg = 0; gg < G; ++gg) {
                      float* d = dst + gg * KC + t * cig;
                      if (src) std::memcpy(d, src + gg * cig, cig * sizeof(float));
                      else std::memset(d, 0, cig * sizeof(float));
                    }
                  }
                }
              }
            }
            for (int64_t gg = 0; gg < G; ++gg)
              gemm_packed(r1 - r0, cog, KC, col + gg * KC, row_len, Bp + gg * panels * kNR * KC,
                          res + gg * cog, g.cout);
            for (int64_t r = r0; r < r1; ++r)
              std::memcpy(out + row_index(r) * g.cout, res + (r - r0) * g.cout, g.cout * sizeof(float));
          }
        });
      }
}


// ---------- float32 GEMM with AVX-512: a 12x32 register block (24 accumulators).
//
// A is read as A(i, k) = A[k * aks + i]: im2col tiles are either packed into 12-row blocks
// (aks = 12) or, for the weight gradient, read in place with rows as k (aks = row length).
// B comes packed as column panels of 32: Bp[k][32].

constexpr int kMR5 = 12, kNR5 = 32;

bool have_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f");
  return ok;
}

__attribute__((target("avx512f"))) void micro_12x32(int64_t K, const float* A, int64_t aks, int mr,
                                                   const float* Bp, float* C, int64_t ldc, int nr,
                                                   bool accumulate) {
  __m512 c0[kMR5], c1[kMR5];
#pragma GCC unroll 12
  for (int i = 0; i < kMR5; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    __m512 b0 = _mm512_loadu_ps(Bp + k * kNR5), b1 = _mm512_loadu_ps(Bp + k * kNR5 + 16);
    const float* a = A + k * aks;
#pragma GCC unroll 12
    for (int i = 0; i < kMR5; ++i) {
      __m512 av = _mm512_set1_ps(a[i]);
      c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
    }
  }
  __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
  __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : (__mmask16)0;
#pragma GCC unroll 12
  for (int i = 0; i < kMR5; ++i) {
    if (i >= mr) break;
    float* c = C + i * ldc;
    __m512 v0 = c0[i], v1 = c1[i];
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, c));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, c + 16));
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    _mm512_mask_storeu_ps(c + 16, m1, v1);
  }
}

// C (mr x 16*NV) = A (mr x K, row-major, lda) * B, B as NV/2 adjacent packed panels of 32
// (panel stride bps): six rows of A broadcast against 16*NV columns (6*NV accumulators).
template <int NV>
__attribute__((target("avx512f"))) void micro_6xn(int64_t K, const float* A, int64_t lda, int mr,
                                                 const float* Bp, int64_t bps, float* C, int64_t ldc,
                                                 int nr, bool accumulate) {
  const float* a0 = A;
  const float* a1 = mr > 1 ? A + lda : A;
  const float* a2 = mr > 2 ? A + 2 * lda : A;
  const float* a3 = mr > 3 ? A + 3 * lda : A;
  const float* a4 = mr > 4 ? A + 4 * lda : A;
  const float* a5 = mr > 5 ? A + 5 * lda : A;
  __m512 c[6][NV];
#pragma GCC unroll 6
  for (int i = 0; i < 6; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) c[i][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    __m512 b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_ps(Bp + (v / 2) * bps + k * kNR5 + (v % 2) * 16);
    __m512 av = _mm512_set1_ps(a0[k]);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) c[0][v] = _mm512_fmadd_ps(av, b[v], c[0][v]);
    av = _mm512_set1_ps(a1[k]);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) c[1][v] = _mm512_fmadd_ps(av, b[v], c[1][v]);
    av = _mm512_set1_ps(a2[k]);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) c[2][v] = _mm512_fmadd_ps(av, b[v], c[2][v]);
    av = _mm512_set1_ps(a3[k]);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) c[3][v] = _mm512_fmadd_ps(av, b[v], c[3][v]);
    av = _mm512_set1_ps(a4[k]);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) c[4][v] = _mm512_fmadd_ps(av, b[v], c[4][v]);
    av = _mm512_set1_ps(a5[k]);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) c[5][v] = _mm512_fmadd_ps(av, b[v], c[5][v]);
  }
  __mmask16 m[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    int left = nr - 16 * v;
    m[v] = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1) : (__mmask16)0;
  }
#pragma GCC unroll 6
  for (int i = 0; i < 6; ++i) {
    if (i >= mr) break;
    float* cr = C + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      __m512 r = c[i][v];
      if (accumulate) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m[v], cr + 16 * v));
      _mm512_mask_storeu_ps(cr + 16 * v, m[v], r);
    }
  }
}

// Packs N x K (row stride ldb) into ceil(N / 32) panels of K x 32, zero-padded.
void pack_b32(const float* B, int64_t N, int64_t K, int64_t ldb, float* Bp) {
  int64_t panels = (N + kNR5 - 1) / kNR5;
  for (int64_t p = 0; p < panels; ++p) {
    float* dst = Bp + p * K * kNR5;
    int64_t n = std::min<int64_t>(kNR5, N - p * kNR5);
    for (int64_t k = 0; k < K; ++k) {
      float* d = dst + k * kNR5;
      for (int64_t j = 0; j < n; ++j) d[j] = B[(p * kNR5 + j) * ldb + k];
      for (int64_t j = n; j < kNR5; ++j) d[j] = 0.0f;
    }
  }
}

// One output line of conv_lines512: buf holds the nt live input rows (padded, `width`
// pixels each), taps their kernel rows; wp is the kernel as [tap][channel][NV * 16].
template <int NV>
__attribute__((target("avx512f"))) void conv_line512(const Geom& g, const float* bufp, int64_t width,
                                                    const int64_t* taps, int nt, const float* wpp,
                                                    float* dst) {
  constexpr int NW = NV * 16;
  int64_t cig = g.cig, K2 = g.K[2], O2 = g.O[2], st2 = g.st[2];
  __mmask16 m[NV];
  for (int v = 0; v < NV; ++v) {
    int64_t left = g.cout - 16 * v;
    m[v] = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1) : (__mmask16)0;
  }
  for (int64_t ob = 0; ob < O2; ob += 6) {
    __m512 acc[6][NV];
    for (int r = 0; r < 6; ++r)
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
    for (int t = 0; t < nt; ++t) {
      const float* row = bufp + t * width * cig;
      for (int64_t k2 = 0; k2 < K2; ++k2) {
        const float* base = row + (ob * st2 + k2 * g.kd[2]) * cig;
        const float* wk = wpp + (taps[t] * K2 + k2) * cig * NW;
        for (int64_t i = 0; i < cig; ++i) {
          __m512 b[NV];
          for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_ps(wk + i * NW + 16 * v);
#pragma GCC unroll 6
          for (int r = 0; r < 6; ++r) {
            __m512 a = _mm512_set1_ps(base[r * st2 * cig + i]);
            for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
          }
        }
      }
    }
    int64_t rows = std::min<int64_t>(6, O2 - ob);
    for (int r = 0; r < rows; ++r)
      for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(dst + (ob + r) * g.cout + 16 * v, m[v], acc[r][v]);
  }
}

// Few input channels (a first layer): im2col would cost more than the products. Each output
// line (n, o0, o1) copies its live input rows once, zero-padded along the innermost axis, and
// six outputs at a time accumulate every tap in registers: out[o][:] += x[tap] * w[tap][:].
// Ungrouped, no input dilation, at most 64 output channels.
template <int NV>
void conv_lines512(const Geom& g, const float* x, const float* w, float* out) {
  constexpr int NW = NV * 16;
  int64_t cig = g.cig, KC = g.KC, K1 = g.K[1], K2 = g.K[2], O2 = g.O[2], st2 = g.st[2];
  std::vector<float> wp(KC * NW, 0.0f);
  for (int64_t c = 0; c < g.cout; ++c)
    for (int64_t j = 0; j < KC; ++j) wp[j * NW + c] = w[c * KC + j];
  int64_t blocks = (O2 + 5) / 6;
  int64_t width = ((blocks * 6 - 1) * st2 + (K2 - 1) * g.kd[2] + 1);  // padded row, in pixels
  int64_t lines = g.N * g.O[0] * g.O[1];
  size_t grain = std::max<size_t>(1, kParallelGrain / std::max<int64_t>(1, O2 * KC * g.cout));
  parallel_for((size_t)lines, grain, [&](size_t lb, size_t le) {
    std::vector<float> buf(g.K[0] * K1 * width * cig);
    std::vector<int64_t> taps(g.K[0] * K1);
    for (size_t line = lb; line < le; ++line) {
      int64_t o1 = (int64_t)line % g.O[1], o0 = ((int64_t)line / g.O[1]) % g.O[0];
      int64_t n = (int64_t)line / (g.O[1] * g.O[0]);
      int nt = 0;
      for (int64_t k0 = 0; k0 < g.K[0]; ++k0) {
        int64_t p0 = o0 * g.st[0] + k0 * g.kd[0] - g.lo[0];
        if (p0 < 0 || p0 >= g.L[0]) continue;
        for (int64_t k1 = 0; k1 < K1; ++k1) {
          int64_t p1 = o1 * g.st[1] + k1 * g.kd[1] - g.lo[1];
          if (p1 < 0 || p1 >= g.L[1]) continue;
          const float* src = x + ((n * g.L[0] + p0) * g.L[1] + p1) * g.L[2] * g.cin;
          float* d = buf.data() + nt * width * cig;
          for (int64_t q = 0; q < width; ++q) {
            int64_t p2 = q - g.lo[2];
            for (int64_t i = 0; i < cig; ++i) d[q * cig + i] = p2 >= 0 && p2 < g.L[2] ? src[p2 * g.cin + i] : 0.0f;
          }
          taps[nt++] = k0 * K1 + k1;
        }
      }
      conv_line512<NV>(g, buf.data(), width, taps.data(), nt, wp.data(), out + (int64_t)line * O2 * g.cout);
    }
  });
}

// The forward convolution in row tiles (as conv_gemm_tiles) with the AVX-512 blocks: six rows
// of the tile against 64 (or 32) packed kernel columns.
void conv_gemm_tiles512(const Geom& g, const float* x, const float* w, float* out) {
  int64_t G = g.G, KC = g.KC, row_len = G * KC, cog = g.cog;
  int64_t panels = (cog + kNR5 - 1) / kNR5, gstride = panels * kNR5 * KC;
  auto packed = alloc_bytes((size_t)(G * gstride) * sizeof(float));
  float* Bp = static_cast<float*>(packed->ptr);
  parallel_for((size_t)G, 1, [&](size_t gb, size_t ge) {
    for (size_t gg = gb; gg < ge; ++gg) pack_b32(w + gg * cog * KC, cog, KC, KC, Bp + gg * gstride);
  });
  int64_t rl = std::max<int64_t>(row_len, 1), threads = std::max(1, num_threads());
  int64_t tile = std::max((int64_t(1) << 16) / rl, std::min(4 * panels * kNR5, (int64_t(1) << 23) / rl));
  tile = std::max<int64_t>(tile, 6);
  int64_t tiles = (g.rows + tile - 1) / tile;
  tiles = (tiles + threads - 1) / threads * threads;
  tile = (g.rows + tiles - 1) / tiles;
  tile = std::max<int64_t>(6, (tile + 5) / 6 * 6);
  tiles = (g.rows + tile - 1) / tile;
  constexpr int64_t kKB5 = 768;
  parallel_for((size_t)tiles, 1, [&](size_t tb, size_t te) {
    auto buf = alloc_bytes((size_t)(tile * row_len) * sizeof(float));
    float* col = static_cast<float*>(buf->ptr);
    for (size_t t = tb; t < te; ++t) {
      int64_t r0 = (int64_t)t * tile, r1 = std::min(g.rows, r0 + tile), m = r1 - r0;
      for (int64_t r = r0; r < r1; ++r) im2col_row<float>(g, x, r, col + (r - r0) * row_len);
      for (int64_t gg = 0; gg < G; ++gg) {
        const float* bg = Bp + gg * gstride;
        for (int64_t k0 = 0; k0 < KC; k0 += kKB5) {
          int64_t kb = std::min(kKB5, KC - k0);
          for (int64_t i = 0; i < m; i += 6) {
            int mr = (int)std::min<int64_t>(6, m - i);
            const float* a = col + i * row_len + gg * KC + k0;
            float* c = out + (r0 + i) * g.cout + gg * cog;
            for (int64_t p = 0; p < panels;) {
              int nr = (int)std::min<int64_t>(2 * kNR5, cog - p * kNR5);
              const float* b = bg + p * kNR5 * KC + k0 * kNR5;
              if (nr > kNR5) {
                micro_6xn<4>(kb, a, row_len, mr, b, kNR5 * KC, c + p * kNR5, g.cout, nr, k0 > 0);
                p += 2;
              } else {
                micro_6xn<2>(kb, a, row_len, mr, b, kNR5 * KC, c + p * kNR5, g.cout, nr, k0 > 0);
                p += 1;
              }
            }
          }
        }
      }
    }
  });
}

// The weight gradient: dw^T (per group, K*C_in/G x C_out/G) = im2col^T @ ct, reduced over
// every output row. Row tiles go to the workers, each with its own accumulator; the
// accumulators are summed at the end. `acc` holds parts * G * KC * cog_pad floats.
void conv_wgrad512(const Geom& g, const float* x, const float* ct, float* acc, int64_t parts,
                   int64_t tile, int64_t cog_pad) {
  int64_t G = g.G, KC = g.KC, row_len = G * KC, cog = g.cog, panels = cog_pad / kNR5;
  int64_t tiles = (g.rows + tile - 1) / tile;
  parallel_for((size_t)parts, 1, [&](size_t pb, size_t pe) {
    auto buf = alloc_bytes((size_t)(tile * row_len + tile * G * cog_pad + 64) * sizeof(float));
    float* col = static_cast<float*>(buf->ptr);
    float* bp = col + tile * row_len + 32;  // past the reads of the last row's partial block
    for (size_t part = pb; part < pe; ++part) {
      float* C = acc + part * G * KC * cog_pad;
      for (int64_t t = (int64_t)part * tiles / parts; t < ((int64_t)part + 1) * tiles / parts; ++t) {
        int64_t r0 = t * tile, r1 = std::min(g.rows, r0 + tile), m = r1 - r0;
        for (int64_t r = r0; r < r1; ++r) im2col_row<float>(g, x, r, col + (r - r0) * row_len);
        // ct rows as panels of 32 columns: bp[gg][p][r][32].
        for (int64_t gg = 0; gg < G; ++gg)
          for (int64_t p = 0; p < panels; ++p) {
            float* d = bp + (gg * panels + p) * tile * kNR5;
            int64_t n = std::min<int64_t>(kNR5, cog - p * kNR5);
            for (int64_t r = 0; r < m; ++r) {
              const float* src = ct + (r0 + r) * g.cout + gg * cog + p * kNR5;
              std::memcpy(d + r * kNR5, src, n * sizeof(float));
              if (n < kNR5) std::memset(d + r * kNR5 + n, 0, (kNR5 - n) * sizeof(float));
            }
          }
        for (int64_t gg = 0; gg < G; ++gg)
          for (int64_t i = 0; i < KC; i += kMR5)
            for (int64_t p = 0; p < panels; ++p)
              micro_12x32(m, col + gg * KC + i, row_len, (int)std::min<int64_t>(kMR5, KC - i),
                          bp + (gg * panels + p) * tile * kNR5, C + (gg * KC + i) * cog_pad + p * kNR5,
                          cog_pad, kNR5, true);
      }
    }
  });
}

#endif  // EMBER_CONV_AVX2

// Without AVX2 (and for float64): im2col tiles filled in parallel, then BLAS (threaded).
template <typename T>
void conv_gemm_blas(const Geom& g, const T* x, const T* w, T* out) {
  int64_t G = g.G, KC = g.KC, row_len = G * KC;
  int64_t tile = std::max<int64_t>(256, (int64_t(1) << 22) / std::max<int64_t>(row_len, 1));
  tile = std::min(tile, g.rows);
  tile = std::max<int64_t>(1, std::min<int64_t>(tile, INT32_MAX / std::max<int64_t>(row_len, 1)));
  auto buf = alloc_bytes((size_t)(tile * row_len) * sizeof(T));
  T* col = static_cast<T*>(buf->ptr);
  for (int64_t r0 = 0; r0 < g.rows; r0 += tile) {
    int64_t r1 = std::min(g.rows, r0 + tile);
    size_t grain = std::max<size_t>(1, kParallelGrain / std::max<int64_t>(row_len, 1));
    parallel_for((size_t)(r1 - r0), grain, [&](size_t rb, size_t re) {
      for (size_t rr = rb; rr < re; ++rr) im2col_row<T>(g, x, r0 + (int64_t)rr, col + rr * row_len);
    });
    for (int64_t gg = 0; gg < G; ++gg)
      gemm<T>(true, r1 - r0, g.cog, KC, col + gg * KC, row_len, w + gg * g.cog * KC, KC,
              out + r0 * g.cout + gg * g.cog, g.cout);
  }
}

template <typename T>
void conv_gemm(const Geom& g, const T* x, const T* w, T* out) {
#ifdef EMBER_CONV_AVX2
  if constexpr (std::is_same_v<T, float>) {
    bool dilated = g.id[0] > 1 || g.id[1] > 1 || g.id[2] > 1;
    if (!dilated && have_avx512()) {
      if (g.G == 1 && g.KC <= 32 && g.cout <= 64)
        return g.cout > 32 ? conv_lines512<4>(g, x, w, out) : conv_lines512<2>(g, x, w, out);
      return conv_gemm_tiles512(g, x, w, out);
    }
    if (have_avx2()) {
      if (dilated) return conv_gemm_phases(g, x, w, out);
      return conv_gemm_tiles(g, x, w, out);
    }
  }
#endif
  conv_gemm_blas<T>(g, x, w, out);
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
  // Groups with few channels waste most of a GEMM (its 16-wide panels): a direct loop instead.
  bool small_groups = g.G > 1 && (g.cig * g.cog <= 8 || g.cog < 4);
  if (g.cin == 1 && g.cout == 1 && g.st[2] == 1 && g.id[2] == 1) {
    conv_single_channel<T>(g, xp, wp, o);
  } else if (pointwise && !small_groups && g.rows <= INT32_MAX) {
    for (int64_t gg = 0; gg < g.G; ++gg)
      gemm<T>(true, g.rows, g.cog, g.cig, xp + gg * g.cig, g.cin, wp + gg * g.cog * g.cig, g.cig,
              o + gg * g.cog, g.cout);
  } else if (small_groups || macs < (int64_t(1) << 16)) {
    conv_direct<T>(g, xp, wp, o);
  } else {
    conv_gemm<T>(g, xp, wp, o);
  }
}


// The weight gradient, dw[g*cog + c, k, i] = sum_r col[r, g*KC + k*cig + i] * ct[r, g*cog + c]
// over every output row r (col: the forward im2col), accumulated as (KC x cog) per group in
// `parts` partial sums (one per worker), then summed into dw's layout (kernel reversed when
// the convolution flips it).
template <typename T>
void conv_wgrad(const Geom& g, const T* x, const T* ct, T* dw, bool flip) {
  int64_t G = g.G, KC = g.KC, cog = g.cog, cig = g.cig, nk = g.nk, row_len = G * KC;
  int64_t threads = std::max(1, num_threads());
  int64_t cog_pad = cog, parts = 1;
  std::shared_ptr<Data> acc_buf;
  T* acc = nullptr;
#ifdef EMBER_CONV_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (have_avx512()) {
      cog_pad = (cog + kNR5 - 1) / kNR5 * kNR5;
      // About 256 KB of im2col (or of packed cotangent) per tile.
      int64_t tile = std::clamp<int64_t>((int64_t(1) << 16) / std::max(row_len, G * cog_pad), 64, 2048);
      int64_t tiles = (g.rows + tile - 1) / tile;
      parts = std::max<int64_t>(1, std::min(threads, tiles));
      acc_buf = alloc_bytes((size_t)(parts * G * KC * cog_pad) * sizeof(float));
      acc = static_cast<T*>(acc_buf->ptr);
      std::memset(acc, 0, (size_t)(parts * G * KC * cog_pad) * sizeof(float));
      conv_wgrad512(g, x, ct, acc, parts, tile, cog_pad);
    }
  }
#endif
  if (!acc) {
    // BLAS (threaded itself) on im2col tiles filled in parallel.
    acc_buf = alloc_bytes((size_t)(G * KC * cog) * sizeof(T));
    acc = static_cast<T*>(acc_buf->ptr);
    int64_t tile = std::clamp<int64_t>((int64_t(1) << 20) / std::max<int64_t>(row_len, 1), 64, 1 << 16);
    tile = std::min(tile, g.rows);
    auto buf = alloc_bytes((size_t)(tile * row_len) * sizeof(T));
    T* col = static_cast<T*>(buf->ptr);
    for (int64_t r0 = 0; r0 < g.rows; r0 += tile) {
      int64_t r1 = std::min(g.rows, r0 + tile);
      size_t grain = std::max<size_t>(1, kParallelGrain / std::max<int64_t>(row_len, 1));
      parallel_for((size_t)(r1 - r0), grain, [&](size_t rb, size_t re) {
        for (size_t rr = rb; rr < re; ++rr) im2col_row<T>(g, x, r0 + (int64_t)rr, col + rr * row_len);
      });
      for (int64_t gg = 0; gg < G; ++gg) {
        auto tr = CblasTrans, nt = CblasNoTrans;
        if constexpr (std::is_same_v<T, float>)
          scipy_cblas_sgemm(CblasRowMajor, tr, nt, (int)KC, (int)cog, (int)(r1 - r0), 1.0f, col + gg * KC,
                            (int)row_len, ct + r0 * g.cout + gg * cog, (int)g.cout, r0 > 0 ? 1.0f : 0.0f,
                            acc + gg * KC * cog, (int)cog);
        else
          scipy_cblas_dgemm(CblasRowMajor, tr, nt, (int)KC, (int)cog, (int)(r1 - r0), 1.0, col + gg * KC,
                            (int)row_len, ct + r0 * g.cout + gg * cog, (int)g.cout, r0 > 0 ? 1.0 : 0.0,
                            acc + gg * KC * cog, (int)cog);
      }
    }
  }
  // dw[(gg*cog + c) * nk + k][i] = sum over parts of acc[part][gg][k*cig + i][c].
  int64_t part_size = G * KC * cog_pad;
  parallel_for((size_t)(G * cog), std::max<size_t>(1, kParallelGrain / std::max<int64_t>(1, KC * parts)),
               [&](size_t b, size_t e) {
    for (size_t oc = b; oc < e; ++oc) {
      int64_t gg = (int64_t)oc / cog, c = (int64_t)oc % cog;
      for (int64_t k = 0; k < nk; ++k) {
        T* dst = dw + ((int64_t)oc * nk + (flip ? nk - 1 - k : k)) * cig;
        for (int64_t i = 0; i < cig; ++i) {
          const T* a = acc + (gg * KC + k * cig + i) * cog_pad + c;
          T s = a[0];
          for (int64_t q = 1; q < parts; ++q) s += a[q * part_size];
          dst[i] = s;
        }
      }
    }
  });
}

// Runs run(x, y, res) on the two inputs made row-contiguous in the compute type (float64 for
// float64 outputs, float32 otherwise), writing res, then rounds res into out. An empty input
// or output gives zeros: every sum is empty.
template <typename Run>
void eval_in_compute_type(const std::vector<array>& in, array& out, Run run) {
  Dtype dt = out.dtype();
  if (out.size() == 0 || in[0].size() == 0 || in[1].size() == 0) {
    alloc_out(out);
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
  array x = prepare(in[0]), y = prepare(in[1]);
  array res = ct == dt ? out : array(out.shape(), ct, nullptr, {});
  alloc_out(res);
  run(x, y, res);
  if (ct != dt) copy_to_row_contiguous(res, out);
}

}  // namespace

void ConvWeightGrad::eval_cpu(const std::vector<array>& in, array& out) {
  eval_in_compute_type(in, out, [&](const array& x, const array& c, array& res) {
    Geom g = make_geom(x.shape(), out.shape(), c.shape(), p_);
    if (res.dtype() == float64) conv_wgrad<double>(g, x.data<double>(), c.data<double>(), res.data<double>(), p_.flip);
    else conv_wgrad<float>(g, x.data<float>(), c.data<float>(), res.data<float>(), p_.flip);
  });
}

void Convolution::eval_cpu(const std::vector<array>& in, array& out) {
  eval_in_compute_type(in, out, [&](const array& x, const array& w, array& res) {
    Geom g = make_geom(x.shape(), w.shape(), out.shape(), p_);
    if (res.dtype() == float64) conv_typed<double>(g, p_, x, w, res);
    else conv_typed<float>(g, p_, x, w, res);
  });
}

// ---------- Tile max pooling

namespace {

// The tiles of x (N, spatial..., C), spatial axes padded to three: output pixel q covers
// input pixels q * k + (a, b, c) for a < k0, b < k1, c < k2.
struct Tiles {
  int64_t N = 0, C = 0, L[kSp] = {1, 1, 1}, K[kSp] = {1, 1, 1}, O[kSp] = {1, 1, 1}, nk = 1, rows = 0;
};

Tiles make_tiles(const Shape& x, const std::vector<int>& kernel) {
  Tiles t;
  int sp = (int)kernel.size();
  t.N = x[0];
  t.C = x.back();
  for (int j = 0; j < sp; ++j) {
    int i = j + kSp - sp;
    t.L[i] = x[j + 1];
    t.K[i] = kernel[j];
    t.O[i] = x[j + 1] / kernel[j];
    t.nk *= kernel[j];
  }
  t.rows = t.N * t.O[0] * t.O[1] * t.O[2];
  return t;
}

// Calls f(tap, offset) for the nk input pixels (offsets in elements) of output pixel r.
template <typename F>
inline void tile_taps(const Tiles& t, int64_t r, F&& f) {
  int64_t q2 = r % t.O[2], q1 = (r / t.O[2]) % t.O[1], q0 = (r / (t.O[2] * t.O[1])) % t.O[0];
  int64_t n = r / (t.O[2] * t.O[1] * t.O[0]);
  int64_t tap = 0;
  for (int64_t a = 0; a < t.K[0]; ++a)
    for (int64_t b = 0; b < t.K[1]; ++b)
      for (int64_t c = 0; c < t.K[2]; ++c, ++tap)
        f(tap, (((n * t.L[0] + q0 * t.K[0] + a) * t.L[1] + q1 * t.K[1] + b) * t.L[2] + q2 * t.K[2] + c) * t.C);
}

// A NaN wins (and stays): max(m, v) as a max reduction propagates NaN.
template <typename T>
inline T nan_max(T m, T v) {
  return (v > m || v != v) ? v : m;
}

template <typename T>
void tile_max_fwd(const Tiles& t, const T* x, T* out) {
  size_t grain = std::max<size_t>(1, kParallelGrain / std::max<int64_t>(1, t.C * t.nk));
  parallel_for((size_t)t.rows, grain, [&](size_t rb, size_t re) {
    for (size_t r = rb; r < re; ++r) {
      T* o = out + r * t.C;
      tile_taps(t, (int64_t)r, [&](int64_t tap, int64_t off) {
        const T* v = x + off;
        if (tap == 0) {
          for (int64_t c = 0; c < t.C; ++c) o[c] = v[c];
        } else {
          for (int64_t c = 0; c < t.C; ++c) o[c] = nan_max(o[c], v[c]);
        }
      });
    }
  });
}

// g = ct * (mask / count) on each tile, mask = (x == tile max), as the max reduction's rule;
// with q = 1 / count that is ct * q where mask holds and ct * (0 * q) elsewhere (the same
// values, NaN included, without a division per element).
template <typename T>
void tile_max_bwd(const Tiles& t, const T* x, const T* ct, T* g) {
  size_t grain = std::max<size_t>(1, kParallelGrain / std::max<int64_t>(1, t.C * t.nk));
  parallel_for((size_t)t.rows, grain, [&](size_t rb, size_t re) {
    std::vector<T> m(t.C), q(t.C);
    std::vector<int64_t> offs(t.nk);
    for (size_t r = rb; r < re; ++r) {
      tile_taps(t, (int64_t)r, [&](int64_t tap, int64_t off) { offs[tap] = off; });
      const T* v0 = x + offs[0];
      for (int64_t c = 0; c < t.C; ++c) m[c] = v0[c];
      for (int64_t k = 1; k < t.nk; ++k) {
        const T* v = x + offs[k];
        for (int64_t c = 0; c < t.C; ++c) m[c] = nan_max(m[c], v[c]);
      }
      for (int64_t c = 0; c < t.C; ++c) q[c] = v0[c] == m[c] ? T(1) : T(0);
      for (int64_t k = 1; k < t.nk; ++k) {
        const T* v = x + offs[k];
        for (int64_t c = 0; c < t.C; ++c) q[c] += v[c] == m[c] ? T(1) : T(0);
      }
      const T* cr = ct + r * t.C;
      for (int64_t c = 0; c < t.C; ++c) q[c] = T(1) / q[c];
      for (int64_t k = 0; k < t.nk; ++k) {
        const T* v = x + offs[k];
        T* d = g + offs[k];
        for (int64_t c = 0; c < t.C; ++c) d[c] = cr[c] * (v[c] == m[c] ? q[c] : T(0) * q[c]);
      }
    }
  });
}

}  // namespace

void TileMax::eval_cpu(const std::vector<array>& in, array& out) {
  alloc_out(out);
  if (out.size() == 0) return;
  array x = ensure_row_contiguous(in[0]);
  Tiles t = make_tiles(x.shape(), kernel_);
  if (x.dtype() == float64) tile_max_fwd<double>(t, x.data<double>(), out.data<double>());
  else tile_max_fwd<float>(t, x.data<float>(), out.data<float>());
}

void TileMaxGrad::eval_cpu(const std::vector<array>& in, array& out) {
  alloc_out(out);
  if (out.size() == 0) return;
  array x = ensure_row_contiguous(in[0]), c = ensure_row_contiguous(in[1]);
  Tiles t = make_tiles(x.shape(), kernel_);
  if (x.dtype() == float64) tile_max_bwd<double>(t, x.data<double>(), c.data<double>(), out.data<double>());
  else tile_max_bwd<float>(t, x.data<float>(), c.data<float>(), out.data<float>());
}

}  // namespace ember
