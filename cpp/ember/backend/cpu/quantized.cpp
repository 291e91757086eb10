// CPU kernels of the quantized family. Packed rows are little-endian bit streams of
// `bits`-wide codes in uint32 words; every group starts on a word boundary. Products with a
// few rows of x decode each group on the fly (vectorised) and dot it with x, split over
// output columns across threads; more rows decode tiles of w into a float buffer and hand
// them to BLAS.
#include <cblas.h>

// Dequantized values are scale * q + bias rounded twice, as stored weights are read
// elsewhere: no fused multiply-adds unless written out.
#pragma GCC optimize("fp-contract=off")

#include <cmath>
#include <cstring>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define EMBER_QUANT_AVX2 1
#endif

#include "ember/backend/cpu/kernels.h"
#include "ember/primitives.h"

namespace ember {

using namespace cpu;

namespace {

// ---------- scalar formats

float e4m3_decode(uint8_t b) {
  int e = (b >> 3) & 15, m = b & 7;
  float v;
  if (e == 15 && m == 7) v = NAN;
  else if (e == 0) v = std::ldexp((float)m, -9);
  else v = std::ldexp(1.0f + (float)m / 8.0f, e - 7);
  return (b & 0x80) ? -v : v;
}

// Round to nearest even, saturating at +-448; NaN saturates too.
uint8_t e4m3_encode(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  uint8_t sign = (u >> 24) & 0x80;
  float a = std::fabs(x);
  if (!(a < 448.0f)) return sign | 0x7E;
  if (a < 0.015625f) return sign | (uint8_t)std::nearbyint(a * 512.0f);  // subnormals (and 2^-6)
  uint32_t ua = u & 0x7fffffffu;
  uint32_t r = (ua + 0x7FFFFu + ((ua >> 20) & 1u)) >> 20;
  uint32_t code = r - ((127 - 7) << 3);
  return sign | (uint8_t)std::min<uint32_t>(code, 0x7E);
}

// E2M1 codes: the nearest of 0, .5, 1, 1.5, 2, 3, 4, 6 with ties towards zero; zero unsigned.
inline uint8_t fp4_encode(float y) {
  float a = std::fabs(y);
  uint8_t c = (a > 0.25f) + (a > 0.75f) + (a > 1.25f) + (a > 1.75f) + (a > 2.5f) + (a > 3.5f) + (a > 5.0f);
  return (c && y < 0) ? (c | 8) : c;
}

// Power-of-two scale (E8M0) at least v: the exponent rounded up.
inline uint8_t e8m0_ceil(float v) {
  if (v == 0.0f) return 127;
  uint32_t u;
  std::memcpy(&u, &v, 4);
  uint32_t e = (u >> 23) & 255, m = u & 0x7fffffu;
  e += (m != 0);
  return (uint8_t)std::min<uint32_t>(e, 254);
}

struct Luts {
  float fp4[16];
  float e4m3[256];
  float e8m0[256];
  Luts() {
    const float v[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
    for (int i = 0; i < 16; ++i) fp4[i] = i < 8 ? v[i] : -v[i - 8];
    for (int i = 0; i < 256; ++i) e4m3[i] = e4m3_decode((uint8_t)i);
    for (int i = 0; i < 256; ++i) e8m0[i] = std::ldexp(1.0f, i - 127);
  }
};
const Luts& luts() {
  static Luts l;
  return l;
}

// ---------- bit streams

void pack_codes(const uint8_t* codes, int n, int bits, uint32_t* out) {
  uint64_t acc = 0;
  int nb = 0;
  for (int i = 0; i < n; ++i) {
    acc |= (uint64_t)codes[i] << nb;
    nb += bits;
    if (nb >= 32) {
      *out++ = (uint32_t)acc;
      acc >>= 32;
      nb -= 32;
    }
  }
  if (nb > 0) *out = (uint32_t)acc;
}

template <int BITS>
void unpack_codes_t(const uint32_t* p, int n, uint8_t* codes) {
  if constexpr (32 % BITS == 0) {
    constexpr int per = 32 / BITS;
    constexpr uint32_t mask = (1u << BITS) - 1;
    for (int w = 0; w < n / per; ++w) {
      uint32_t v = p[w];
      for (int j = 0; j < per; ++j) codes[w * per + j] = (uint8_t)((v >> (BITS * j)) & mask);
    }
  } else {
    uint64_t acc = 0;
    int nb = 0;
    constexpr uint64_t mask = (1u << BITS) - 1;
    for (int i = 0; i < n; ++i) {
      if (nb < BITS) {
        acc |= (uint64_t)(*p++) << nb;
        nb += 32;
      }
      codes[i] = (uint8_t)(acc & mask);
      acc >>= BITS;
      nb -= BITS;
    }
  }
}

void unpack_codes(const uint32_t* p, int n, int bits, uint8_t* codes) {
  switch (bits) {
    case 1: return unpack_codes_t<1>(p, n, codes);
    case 2: return unpack_codes_t<2>(p, n, codes);
    case 3: return unpack_codes_t<3>(p, n, codes);
    case 4: return unpack_codes_t<4>(p, n, codes);
    case 5: return unpack_codes_t<5>(p, n, codes);
    case 6: return unpack_codes_t<6>(p, n, codes);
    default: return unpack_codes_t<8>(p, n, codes);
  }
}

// The values of n codes (a multiple of 8) as floats before scaling: the integers for affine,
// the E2M1 / E4M3 values for the float modes.
void decode_values(const uint32_t* p, int n, const QuantSpec& q, float* v) {
#ifdef EMBER_QUANT_AVX2
  if (q.mode == QuantMode::Affine && q.bits == 4) {
    const __m256i sh = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const __m256i m = _mm256_set1_epi32(15);
    for (int w = 0; w < n / 8; ++w) {
      __m256i c = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)p[w]), sh), m);
      _mm256_storeu_ps(v + 8 * w, _mm256_cvtepi32_ps(c));
    }
    return;
  }
  if (q.mode == QuantMode::Affine && q.bits == 8) {
    const uint8_t* b = reinterpret_cast<const uint8_t*>(p);
    for (int i = 0; i < n; i += 8) {
      __m128i c8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + i));
      _mm256_storeu_ps(v + i, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c8)));
    }
    return;
  }
  if (q.mode == QuantMode::Affine && q.bits == 2) {
    const __m256i sh = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256i m = _mm256_set1_epi32(3);
    for (int w = 0; w < n / 16; ++w) {
      __m256i c = _mm256_set1_epi32((int)p[w]);
      _mm256_storeu_ps(v + 16 * w, _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(c, sh), m)));
      c = _mm256_srli_epi32(c, 16);
      _mm256_storeu_ps(v + 16 * w + 8, _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(c, sh), m)));
    }
    return;
  }
#endif
  uint8_t codes[256];
  unpack_codes(p, n, q.bits, codes);
  if (q.mode == QuantMode::Affine) {
    for (int i = 0; i < n; ++i) v[i] = (float)codes[i];
  } else {
    const float* lut = q.mode == QuantMode::Mxfp8 ? luts().e4m3 : luts().fp4;
    for (int i = 0; i < n; ++i) v[i] = lut[codes[i]];
  }
}

inline float dot(const float* a, const float* b, int n) {
#ifdef EMBER_QUANT_AVX2
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  s0 = _mm256_add_ps(s0, s1);
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  float r = _mm_cvtss_f32(h);
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
#else
  float r[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) r[j] += a[i + j] * b[i + j];
  float t = ((r[0] + r[4]) + (r[1] + r[5])) + ((r[2] + r[6]) + (r[3] + r[7]));
  for (; i < n; ++i) t += a[i] * b[i];
  return t;
#endif
}

// Scales as float32, decoded from E8M0 / E4M3 bytes for the float modes.
array float_scales(const array& s, QuantMode mode) {
  array out(s.shape(), float32, nullptr, {});
  if (mode == QuantMode::Affine) {
    copy_to_row_contiguous(s, out);
    return out;
  }
  array c = ensure_row_contiguous(s);
  alloc_out(out);
  const float* lut = mode == QuantMode::Nvfp4 ? luts().e4m3 : luts().e8m0;
  const uint8_t* src = c.data<uint8_t>();
  float* dst = out.data<float>();
  for (size_t i = 0; i < out.size(); ++i) dst[i] = lut[src[i]];
  return out;
}

array to_float(const array& a) {
  array out(a.shape(), float32, nullptr, {});
  copy_to_row_contiguous(a, out);
  return out;
}

// One row of `cols` values: row words p, its group scales and biases (bias may be null).
void dequantize_row(const uint32_t* p, const float* sc, const float* bi, int64_t cols,
                    const QuantSpec& q, float* out) {
  int gs = q.group_size;
  int64_t words = (int64_t)gs * q.bits / 32;
  for (int64_t g = 0; g < cols / gs; ++g) {
    float* o = out + g * gs;
    decode_values(p + g * words, gs, q, o);
    float s = sc[g], b = bi ? bi[g] : 0.0f;
    for (int i = 0; i < gs; ++i) o[i] = o[i] * s + b;
  }
}

// ---------- x (M, K) @ deq(w (N, K)).T -> out (M, N)

constexpr int64_t kBlockedRows = 96;  // up to this many rows: the register-blocked kernel

#ifdef EMBER_QUANT_AVX2
inline float hsum(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  return _mm_cvtss_f32(h);
}

// MM rows of x against two dequantized rows of w: 2 * MM accumulators over all of K.
template <int MM>
inline void tile_2(const float* x, int64_t K, const float* w0, const float* w1, float* out, int64_t N) {
  __m256 a0[MM], a1[MM];
  for (int i = 0; i < MM; ++i) a0[i] = a1[i] = _mm256_setzero_ps();
  for (int64_t k = 0; k < K; k += 8) {
    __m256 b0 = _mm256_loadu_ps(w0 + k), b1 = _mm256_loadu_ps(w1 + k);
    for (int i = 0; i < MM; ++i) {
      __m256 xv = _mm256_loadu_ps(x + i * K + k);
      a0[i] = _mm256_fmadd_ps(xv, b0, a0[i]);
      a1[i] = _mm256_fmadd_ps(xv, b1, a1[i]);
    }
  }
  for (int i = 0; i < MM; ++i) {
    out[i * N] = hsum(a0[i]);
    out[i * N + 1] = hsum(a1[i]);
  }
}

// Blocks of eight rows of w are dequantized into a per-thread buffer (cache resident) and
// multiplied with the rows of x in blocks of four, two rows of w at a time; threads split
// the blocks of w.
void qmm_t_blocked(const float* x, int64_t M, int64_t K, const uint32_t* w, const float* sc,
                   const float* bi, int64_t N, const QuantSpec& q, float* out) {
  constexpr int64_t NB = 8;
  int64_t ng = K / q.group_size, wrow = K * q.bits / 32;
  int64_t blocks = (N + NB - 1) / NB;
  size_t grain = std::max<int64_t>(1, (int64_t)kParallelGrain / std::max<int64_t>(K * M * NB, 1));
  parallel_for((size_t)blocks, grain, [&](size_t bb, size_t be) {
    std::unique_ptr<float[]> buf(new float[NB * K]);
    float tail[4 * 2];
    for (size_t blk = bb; blk < be; ++blk) {
      int64_t n0 = (int64_t)blk * NB, nr = std::min(NB, N - n0);
      for (int64_t r = 0; r < nr; ++r)
        dequantize_row(w + (n0 + r) * wrow, sc + (n0 + r) * ng, bi ? bi + (n0 + r) * ng : nullptr, K, q,
                       buf.get() + r * K);
      if (nr % 2) std::fill(buf.get() + nr * K, buf.get() + (nr + 1) * K, 0.0f);
      for (int64_t m0 = 0; m0 < M; m0 += 4) {
        int64_t mm = std::min<int64_t>(4, M - m0);
        for (int64_t r = 0; r < nr; r += 2) {
          bool two = r + 1 < nr;
          const float* w0 = buf.get() + r * K;
          // With one row of w left, write into a scratch pair and copy the first column.
          float* o = two ? out + m0 * N + n0 + r : tail;
          int64_t ldo = two ? N : 2;
          switch (mm) {
            case 4: tile_2<4>(x + m0 * K, K, w0, w0 + K, o, ldo); break;
            case 3: tile_2<3>(x + m0 * K, K, w0, w0 + K, o, ldo); break;
            case 2: tile_2<2>(x + m0 * K, K, w0, w0 + K, o, ldo); break;
            default: tile_2<1>(x + m0 * K, K, w0, w0 + K, o, ldo); break;
          }
          if (!two)
            for (int64_t i = 0; i < mm; ++i) out[(m0 + i) * N + n0 + r] = tail[i * 2];
        }
      }
    }
  });
}
#endif

constexpr int64_t kGemvRows = 2;           // up to this many rows of x: decode on the fly
constexpr int64_t kTileFloats = 1 << 25;   // largest dequantized tile (128 MB)
constexpr int64_t kBlasCols = 256;         // output columns per BLAS call

void qmm_t(const float* x, int64_t M, int64_t K, const uint32_t* w, const float* sc, const float* bi,
           int64_t N, const QuantSpec& q, float* out) {
  int gs = q.group_size;
  int64_t ng = K / gs, wrow = K * q.bits / 32, words = (int64_t)gs * q.bits / 32;
  if (M <= kGemvRows) {
    // Per-group sums of x carry the biases.
    std::vector<float> xs(bi ? M * ng : 0);
    for (int64_t m = 0; m < M && bi; ++m)
      for (int64_t g = 0; g < ng; ++g) {
        float t = 0;
        for (int i = 0; i < gs; ++i) t += x[m * K + g * gs + i];
        xs[m * ng + g] = t;
      }
    size_t grain = std::max<int64_t>(1, (int64_t)kParallelGrain / std::max<int64_t>(K, 1) / 4);
    parallel_for((size_t)N, grain, [&](size_t nb, size_t ne) {
      float v[256];
      for (size_t n = nb; n < ne; ++n) {
        float acc[kGemvRows] = {};
        const uint32_t* pw = w + n * wrow;
        const float* s = sc + n * ng;
        const float* b = bi ? bi + n * ng : nullptr;
#ifdef EMBER_QUANT_AVX2
        // Vector accumulators per row of x: one horizontal sum per output, not per group.
        __m256 av[kGemvRows];
        for (int64_t m = 0; m < M; ++m) av[m] = _mm256_setzero_ps();
        for (int64_t g = 0; g < ng; ++g) {
          decode_values(pw + g * words, gs, q, v);
          __m256 sv = _mm256_set1_ps(s[g]);
          for (int64_t m = 0; m < M; ++m) {
            const float* xp = x + m * K + g * gs;
            __m256 p0 = _mm256_mul_ps(_mm256_loadu_ps(xp), _mm256_loadu_ps(v));
            __m256 p1 = _mm256_mul_ps(_mm256_loadu_ps(xp + 8), _mm256_loadu_ps(v + 8));
            for (int i = 16; i < gs; i += 16) {
              p0 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + i), _mm256_loadu_ps(v + i), p0);
              p1 = _mm256_fmadd_ps(_mm256_loadu_ps(xp + i + 8), _mm256_loadu_ps(v + i + 8), p1);
            }
            av[m] = _mm256_fmadd_ps(sv, _mm256_add_ps(p0, p1), av[m]);
            if (b) acc[m] += b[g] * xs[m * ng + g];
          }
        }
        for (int64_t m = 0; m < M; ++m) {
          __m128 h = _mm_add_ps(_mm256_castps256_ps128(av[m]), _mm256_extractf128_ps(av[m], 1));
          h = _mm_add_ps(h, _mm_movehl_ps(h, h));
          h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
          acc[m] += _mm_cvtss_f32(h);
        }
#else
        for (int64_t g = 0; g < ng; ++g) {
          decode_values(pw + g * words, gs, q, v);
          for (int64_t m = 0; m < M; ++m) {
            float d = s[g] * dot(x + m * K + g * gs, v, gs);
            if (b) d += b[g] * xs[m * ng + g];
            acc[m] += d;
          }
        }
#endif
        for (int64_t m = 0; m < M; ++m) out[m * N + n] = acc[m];
      }
    });
    return;
  }
#ifdef EMBER_QUANT_AVX2
  if (M <= kBlockedRows && K % 8 == 0) {
    qmm_t_blocked(x, M, K, w, sc, bi, N, q, out);
    return;
  }
#endif
  // Dequantize rows of w and multiply with BLAS. Tiles are large: alternating between our
  // thread pool and BLAS's (whose threads spin after a call) costs more than the buffer.
  const int64_t T = std::max<int64_t>(16, std::min<int64_t>(N, kTileFloats / std::max<int64_t>(K, 1)));
  std::unique_ptr<float[]> buf(new float[T * K]);
  for (int64_t n0 = 0; n0 < N; n0 += T) {
    int64_t nt = std::min(T, N - n0);
    parallel_for((size_t)nt, std::max<int64_t>(1, 16384 / std::max<int64_t>(K, 1)), [&](size_t rb, size_t re) {
      for (size_t r = rb; r < re; ++r) {
        int64_t n = n0 + (int64_t)r;
        dequantize_row(w + n * wrow, sc + n * ng, bi ? bi + n * ng : nullptr, K, q, buf.get() + r * K);
      }
    });
    // BLAS in column slices: calls of this size stay fast where one wide call with few rows
    // does not.
    for (int64_t c0 = 0; c0 < nt; c0 += kBlasCols) {
      int64_t c = std::min(kBlasCols, nt - c0);
      scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)c, (int)K, 1.0f, x, (int)K,
                        buf.get() + c0 * K, (int)K, 0.0f, out + n0 + c0, (int)N);
    }
  }
}

// ---------- x (M, K) @ deq(w (K, N)) -> out (M, N)

#ifdef EMBER_QUANT_AVX2
// MM rows of x against 16 columns of a dequantized strip wb (K rows of width ld).
template <int MM>
inline void tile_n16(const float* x, int64_t K, const float* wb, int64_t ld, float* out, int64_t N) {
  __m256 a0[MM], a1[MM];
  for (int i = 0; i < MM; ++i) a0[i] = a1[i] = _mm256_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    __m256 b0 = _mm256_loadu_ps(wb + k * ld), b1 = _mm256_loadu_ps(wb + k * ld + 8);
    for (int i = 0; i < MM; ++i) {
      __m256 xv = _mm256_broadcast_ss(x + i * K + k);
      a0[i] = _mm256_fmadd_ps(xv, b0, a0[i]);
      a1[i] = _mm256_fmadd_ps(xv, b1, a1[i]);
    }
  }
  for (int i = 0; i < MM; ++i) {
    _mm256_storeu_ps(out + i * N, a0[i]);
    _mm256_storeu_ps(out + i * N + 8, a1[i]);
  }
}

// Strips of one group of columns are dequantized (K x group_size floats, per thread) and
// multiplied with the rows of x in blocks of four, sixteen columns at a time.
void qmm_n_blocked(const float* x, int64_t M, int64_t K, const uint32_t* w, const float* sc,
                   const float* bi, int64_t N, const QuantSpec& q, float* out) {
  int gs = q.group_size;
  int64_t ng = N / gs, wrow = N * q.bits / 32, words = (int64_t)gs * q.bits / 32;
  size_t grain = std::max<int64_t>(1, (int64_t)kParallelGrain / std::max<int64_t>(K * M * gs, 1));
  parallel_for((size_t)ng, grain, [&](size_t gb, size_t ge) {
    std::unique_ptr<float[]> buf(new float[K * gs]);
    for (size_t g = gb; g < ge; ++g) {
      for (int64_t k = 0; k < K; ++k) {
        float* o = buf.get() + k * gs;
        decode_values(w + k * wrow + g * words, gs, q, o);
        float s = sc[k * ng + g], b = bi ? bi[k * ng + g] : 0.0f;
        for (int i = 0; i < gs; ++i) o[i] = o[i] * s + b;
      }
      for (int64_t m0 = 0; m0 < M; m0 += 4) {
        int64_t mm = std::min<int64_t>(4, M - m0);
        for (int c = 0; c < gs; c += 16) {
          float* o = out + m0 * N + g * gs + c;
          const float* wb = buf.get() + c;
          switch (mm) {
            case 4: tile_n16<4>(x + m0 * K, K, wb, gs, o, N); break;
            case 3: tile_n16<3>(x + m0 * K, K, wb, gs, o, N); break;
            case 2: tile_n16<2>(x + m0 * K, K, wb, gs, o, N); break;
            default: tile_n16<1>(x + m0 * K, K, wb, gs, o, N); break;
          }
        }
      }
    }
  });
}
#endif

void qmm_n(const float* x, int64_t M, int64_t K, const uint32_t* w, const float* sc, const float* bi,
           int64_t N, const QuantSpec& q, float* out) {
  int gs = q.group_size;
  int64_t ng = N / gs, wrow = N * q.bits / 32, words = (int64_t)gs * q.bits / 32;
  if (M <= kGemvRows) {
    std::fill(out, out + M * N, 0.0f);
    // Column chunks of whole groups per thread; out's chunk stays in cache over k.
    size_t grain = std::max<int64_t>(1, (int64_t)kParallelGrain / std::max<int64_t>(K * gs, 1) / 4);
    parallel_for((size_t)ng, grain, [&](size_t gb, size_t ge) {
      float v[256];
      for (int64_t k = 0; k < K; ++k) {
        const uint32_t* pw = w + k * wrow;
        for (size_t g = gb; g < ge; ++g) {
          decode_values(pw + g * words, gs, q, v);
          float s = sc[k * ng + g], b = bi ? bi[k * ng + g] : 0.0f;
          for (int64_t m = 0; m < M; ++m) {
            float xv = x[m * K + k];
            float a = xv * s, c = xv * b;
            float* o = out + m * N + g * gs;
            for (int i = 0; i < gs; ++i) o[i] += a * v[i] + c;
          }
        }
      }
    });
    return;
  }
#ifdef EMBER_QUANT_AVX2
  if (M <= kBlockedRows) {
    qmm_n_blocked(x, M, K, w, sc, bi, N, q, out);
    return;
  }
#endif
  const int64_t T = std::max<int64_t>(16, std::min<int64_t>(K, kTileFloats / std::max<int64_t>(N, 1)));
  std::unique_ptr<float[]> buf(new float[T * N]);
  for (int64_t k0 = 0; k0 < K; k0 += T) {
    int64_t kt = std::min(T, K - k0);
    parallel_for((size_t)kt, std::max<int64_t>(1, 16384 / std::max<int64_t>(N, 1)), [&](size_t rb, size_t re) {
      for (size_t r = rb; r < re; ++r) {
        int64_t k = k0 + (int64_t)r;
        dequantize_row(w + k * wrow, sc + k * ng, bi ? bi + k * ng : nullptr, N, q, buf.get() + r * N);
      }
    });
    for (int64_t c0 = 0; c0 < N; c0 += kBlasCols) {
      int64_t c = std::min(kBlasCols, N - c0);
      scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)c, (int)kt, 1.0f, x + k0,
                        (int)K, buf.get() + c0, (int)N, k0 == 0 ? 0.0f : 1.0f, out + c0, (int)N);
    }
  }
}

// Element offset of the matrix at flat batch b of `a` (leading dims are batch dims).
int64_t batch_offset(const array& a, int64_t b) {
  int64_t off = 0;
  for (int d = a.ndim() - 3; d >= 0; --d) {
    int64_t n = a.shape()[d];
    off += (b % n) * a.strides()[d];
    b /= n;
  }
  return off;
}

// Each matrix row-contiguous (batch dims may be strided or broadcast).
array inner_contiguous(const array& a) {
  int nd = a.ndim();
  int64_t cols = a.shape()[nd - 1];
  if (a.strides()[nd - 1] == 1 && (a.strides()[nd - 2] == cols || a.shape()[nd - 2] == 1)) return a;
  return ensure_row_contiguous(a);
}

bool batch_broadcast(const array& a) {
  for (int d = 0; d < a.ndim() - 2; ++d)
    if (a.strides()[d] != 0 && a.shape()[d] != 1) return false;
  return true;
}

void write_out(const float* src, array& out) {
  if (out.dtype() == float32) return;  // written in place
  dispatch_float(out.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    convert_span(src, out.data<T>(), out.size());
  });
}

}  // namespace

// ---------- primitives

// nvfp4 with a global scale g stores e4m3(amax / 6 * (448 * 6 / g)); a stored scale s then
// stands for s * g / (448 * 6).
float global_factor(const std::vector<array>& in, size_t at) {
  if (in.size() <= at) return 1.0f;
  array g = to_float(in[at]);
  return 448.0f * 6.0f / g.data<float>()[0];
}

void Quantize::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array w = to_float(in[0]);
  bool has_global = in.size() > 1;
  float gf = global_factor(in, 1);
  for (auto& o : outs) alloc_out(o);
  int gs = q_.group_size, bits = q_.bits;
  int64_t K = w.shape().back(), rows = (int64_t)w.size() / std::max<int64_t>(K, 1);
  int64_t ng = K / gs, wrow = K * bits / 32, words = (int64_t)gs * bits / 32;
  int64_t groups = rows * ng;
  const float* src = w.data<float>();
  uint32_t* wq = outs[0].data<uint32_t>();
  Dtype st = outs[1].dtype();
  std::vector<float> scales(q_.mode == QuantMode::Affine ? groups : 0), biases(scales.size());
  uint8_t* sq = q_.mode == QuantMode::Affine ? nullptr : outs[1].data<uint8_t>();
  parallel_for((size_t)groups, std::max<int64_t>(1, 16384 / gs), [&](size_t gb, size_t ge) {
    uint8_t codes[256];
    for (size_t gi = gb; gi < ge; ++gi) {
      int64_t r = (int64_t)gi / ng, g = (int64_t)gi % ng;
      const float* x = src + r * K + g * gs;
      uint32_t* dst = wq + r * wrow + g * words;
      if (q_.mode == QuantMode::Affine) {
        float n_bins = (float)((1 << bits) - 1);
        float lo = x[0], hi = x[0];
        for (int i = 1; i < gs; ++i) {
          lo = std::min(lo, x[i]);
          hi = std::max(hi, x[i]);
        }
        // One bit: the plain min/max grid. More bits: the grid is shifted so that the
        // endpoint of larger magnitude is exact and zero stays a multiple of the scale.
        bool use_min = bits == 1 || std::fabs(lo) > std::fabs(hi);
        float scale = std::max((hi - lo) / n_bins, 1e-7f);
        scale = use_min ? scale : -scale;
        float edge = use_min ? lo : hi;
        float q0 = std::nearbyint(edge / scale);
        float bias = 0.0f;
        if (bits == 1) {
          bias = lo;
        } else if (q0 != 0.0f) {
          scale = edge / q0;
          bias = edge;
        }
        // Codes from the scale and bias as stored (in w's dtype).
        float s_st = scale, b_st = bias;
        if (st == float16) {
          s_st = float16_t(scale);
          b_st = float16_t(bias);
        } else if (st == bfloat16) {
          s_st = bfloat16_t(scale);
          b_st = bfloat16_t(bias);
        }
        for (int i = 0; i < gs; ++i) {
          float c = std::nearbyint((x[i] - b_st) / s_st);
          codes[i] = (uint8_t)std::min(std::max(c, 0.0f), n_bins);
        }
        scales[gi] = s_st;
        biases[gi] = b_st;
      } else {
        float amax = 0.0f;
        for (int i = 0; i < gs; ++i) amax = std::max(amax, std::fabs(x[i]));
        uint8_t sc;
        float sv;
        if (q_.mode == QuantMode::Nvfp4) {
          if (has_global) {
            sc = e4m3_encode(amax / 6.0f * gf);
            sv = luts().e4m3[sc] / gf;
          } else {
            sc = e4m3_encode(amax / 6.0f);
            sv = luts().e4m3[sc];
          }
        } else {
          sc = e8m0_ceil(amax / (q_.mode == QuantMode::Mxfp8 ? 448.0f : 6.0f));
          sv = luts().e8m0[sc];
        }
        sq[gi] = sc;
        for (int i = 0; i < gs; ++i) {
          float y = x[i] / sv;
          codes[i] = q_.mode == QuantMode::Mxfp8 ? e4m3_encode(y) : fp4_encode(y);
        }
      }
      pack_codes(codes, gs, bits, dst);
    }
  });
  if (q_.mode == QuantMode::Affine) {
    dispatch_float(st, [&](auto t) {
      using T = typename decltype(t)::type;
      convert_span(scales.data(), outs[1].data<T>(), scales.size());
      convert_span(biases.data(), outs[2].data<T>(), biases.size());
    });
  }
}

void Dequantize::eval_cpu(const std::vector<array>& in, array& out) {
  array w = ensure_row_contiguous(in[0]);
  array sc = float_scales(in[1], q_.mode);
  bool affine = q_.mode == QuantMode::Affine;
  array bi = affine ? to_float(in[2]) : array();
  if (!affine && in.size() == 3) {
    float gf = global_factor(in, 2);
    float* p = sc.data<float>();
    for (size_t i = 0; i < sc.size(); ++i) p[i] /= gf;
  }
  bool f32 = out.dtype() == float32;
  alloc_out(out);
  int64_t K = out.shape().back(), rows = (int64_t)out.size() / std::max<int64_t>(K, 1);
  int64_t ng = K / q_.group_size, wrow = K * q_.bits / 32;
  std::unique_ptr<float[]> tmp(f32 ? nullptr : new float[out.size()]);
  float* dst = f32 ? out.data<float>() : tmp.get();
  const uint32_t* pw = w.data<uint32_t>();
  const float* ps = sc.data<float>();
  const float* pb = bi.valid() ? bi.data<float>() : nullptr;
  parallel_for((size_t)rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(K, 1)), [&](size_t rb, size_t re) {
    for (size_t r = rb; r < re; ++r)
      dequantize_row(pw + r * wrow, ps + r * ng, pb ? pb + r * ng : nullptr, K, q_, dst + r * K);
  });
  if (!f32) write_out(dst, out);
}

void QuantizedMatmul::eval_cpu(const std::vector<array>& in, array& out) {
  array x = to_float(in[0]);
  array w = inner_contiguous(in[1]);
  array sc = float_scales(in[2], q_.mode);
  array bi = in.size() == 4 ? to_float(in[3]) : array();
  bool f32 = out.dtype() == float32;
  alloc_out(out);
  if (out.size() == 0) return;
  int nd = out.ndim();
  int64_t M = out.shape()[nd - 2], N = out.shape()[nd - 1], K = x.shape().back();
  int64_t batches = (int64_t)out.size() / (M * N);
  std::unique_ptr<float[]> tmp(f32 ? nullptr : new float[out.size()]);
  float* dst = f32 ? out.data<float>() : tmp.get();
  if (K == 0) {
    std::fill(dst, dst + out.size(), 0.0f);
    if (!f32) write_out(dst, out);
    return;
  }
  int64_t s_stride = (int64_t)sc.size() / batches;  // scales were materialised per batch
  auto run = [&](int64_t b, int64_t rows, int64_t x_off, int64_t o_off) {
    const uint32_t* pw = w.data<uint32_t>() + batch_offset(w, b);
    const float* ps = sc.data<float>() + b * s_stride;
    const float* pb = bi.valid() ? bi.data<float>() + b * s_stride : nullptr;
    if (transpose_) qmm_t(x.data<float>() + x_off, rows, K, pw, ps, pb, N, q_, dst + o_off);
    else qmm_n(x.data<float>() + x_off, rows, K, pw, ps, pb, N, q_, dst + o_off);
  };
  if (batches > 1 && batch_broadcast(w)) {
    // One shared weight: the batch is just more rows of x.
    run(0, batches * M, 0, 0);
  } else {
    for (int64_t b = 0; b < batches; ++b) run(b, M, b * M * K, b * M * N);
  }
  if (!f32) write_out(dst, out);
}

void FP8Cast::eval_cpu(const std::vector<array>& in, array& out) {
  alloc_out(out);
  if (to_fp8_) {
    array x = to_float(in[0]);
    const float* s = x.data<float>();
    uint8_t* d = out.data<uint8_t>();
    parallel_for(out.size(), kParallelGrain, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) d[i] = e4m3_encode(s[i]);
    });
    return;
  }
  array x = ensure_row_contiguous(in[0]);
  const uint8_t* s = x.data<uint8_t>();
  const float* lut = luts().e4m3;
  dispatch_float(out.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    T* d = out.data<T>();
    parallel_for(out.size(), kParallelGrain, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) d[i] = T(lut[s[i]]);
    });
  });
}

}  // namespace ember
