// Scaled dot-product attention on the CPU: a blocked kernel with an online softmax (one
// task per batch entry, head and block of queries), and its backward pass (one task per
// batch entry and key-value head, which owns the key and value gradients of that head).
// Block products use a register-tiled kernel (BLAS calls of this size would cost more in
// their own threading than they save); everything is computed in float32.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "ember/backend/cpu/kernels.h"
#include "ember/primitives/fast.h"

namespace ember {

using namespace cpu;

namespace {

namespace fm {
#include "ember/half_impl.h"
#include "ember/backend/cpu/simd_math_impl.h"
}  // namespace fm

constexpr int kBlockQ = 96;   // forward query rows per task (a multiple of the 6-row tiles)
constexpr int kBlockQB = 64;  // backward query rows per block
constexpr int kBlockK = 256;
constexpr float kLowest = std::numeric_limits<float>::lowest();

// A (B, H, T, D) operand as float32 rows with unit stride along D.
struct Mat4 {
  array arr;
  const float* p = nullptr;
  int64_t s0 = 0, s1 = 0, s2 = 0;
  const float* at(int64_t b, int64_t h, int64_t t) const { return p + b * s0 + h * s1 + t * s2; }
};

Mat4 as_f32(const array& a) {
  int64_t D = a.shape(3), T = a.shape(2);
  bool ok = a.dtype() == float32 && (a.strides()[3] == 1 || D == 1) &&
            (T == 1 || a.strides()[2] >= std::max<int64_t>(D, 1)) && a.strides()[2] <= INT32_MAX;
  array c = a;
  if (!ok) {
    c = array(a.shape(), float32, nullptr, {});
    copy_to_row_contiguous(a, c);
  }
  Mat4 m{c, c.data<float>(), c.strides()[0], c.strides()[1], T == 1 ? std::max<int64_t>(D, 1) : c.strides()[2]};
  return m;
}

// Adds the mask of rows [i0, i0 + nq) and keys [j0, j0 + nk) of (b, h) to the scores
// (boolean masks and the causal mask set excluded scores to the lowest float).
struct MaskInfo {
  bool causal = false;
  int64_t shift = 0;  // a query i sees keys j <= i + shift
  const array* mask = nullptr;
  bool is_bool = false;
};

template <typename M>
void add_mask_typed(const array& m, float* S, int ld, int64_t b, int64_t h, int64_t i0, int nq,
                    int64_t j0, int nk, bool is_bool) {
  const M* p = m.data<M>() + b * m.strides()[0] + h * m.strides()[1];
  int64_t s2 = m.strides()[2], s3 = m.strides()[3];
  for (int ii = 0; ii < nq; ++ii) {
    const M* row = p + (i0 + ii) * s2 + j0 * s3;
    float* s = S + ii * ld;
    if constexpr (std::is_same_v<M, bool>) {
      if (s3 == 1)
        for (int jj = 0; jj < nk; ++jj) s[jj] = row[jj] ? s[jj] : kLowest;
      else
        for (int jj = 0; jj < nk; ++jj) s[jj] = row[jj * s3] ? s[jj] : kLowest;
    } else {
      (void)is_bool;
      if (s3 == 1)
        for (int jj = 0; jj < nk; ++jj) s[jj] += static_cast<float>(row[jj]);
      else
        for (int jj = 0; jj < nk; ++jj) s[jj] += static_cast<float>(row[jj * s3]);
    }
  }
}

void apply_masks(const MaskInfo& mi, float* S, int ld, int64_t b, int64_t h, int64_t i0, int nq,
                 int64_t j0, int nk) {
  if (mi.causal) {
    for (int ii = 0; ii < nq; ++ii) {
      int64_t lim = i0 + ii + mi.shift - j0;  // keys jj <= lim are visible
      float* s = S + ii * ld;
      for (int jj = (int)std::max<int64_t>(0, lim + 1); jj < nk; ++jj) s[jj] = kLowest;
    }
  }
  if (!mi.mask) return;
  const array& m = *mi.mask;
  switch (m.dtype()) {
    case Dtype::Bool: add_mask_typed<bool>(m, S, ld, b, h, i0, nq, j0, nk, true); break;
    case Dtype::Float16: add_mask_typed<float16_t>(m, S, ld, b, h, i0, nq, j0, nk, false); break;
    case Dtype::BFloat16: add_mask_typed<bfloat16_t>(m, S, ld, b, h, i0, nq, j0, nk, false); break;
    case Dtype::Float32: add_mask_typed<float>(m, S, ld, b, h, i0, nq, j0, nk, false); break;
    default: throw std::invalid_argument("[scaled_dot_product_attention] Unsupported mask type.");
  }
}

// The key blocks a block of queries must visit: with a causal mask, the keys after the last
// query's limit are skipped unless some query of the block sees no key at all (such rows
// average over every key, as the composed form does).
int64_t key_end(const MaskInfo& mi, int64_t i0, int nq, int64_t tk) {
  if (!mi.causal || i0 + mi.shift < 0) return tk;
  return std::min<int64_t>(tk, i0 + nq - 1 + mi.shift + 1);
}

inline float row_max(const float* x, int n) {
  float l[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) l[k] = x[i + k] > l[k] ? x[i + k] : l[k];
  float m = -INFINITY;
  for (int k = 0; k < 8; ++k) m = l[k] > m ? l[k] : m;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}
// x[i] = exp(x[i] - m) * f, returning the sum of exp(x[i] - m).
inline float exp_row(float* x, int n, float m) {
  for (int i = 0; i < n; ++i) x[i] = fm::exp1(x[i] - m);
  float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) l[k] += x[i + k];
  float s = 0;
  for (int k = 0; k < 8; ++k) s += l[k];
  for (; i < n; ++i) s += x[i];
  return s;
}

template <typename T>
void store_row(const float* src, T* dst, int64_t n) {
  if constexpr (std::is_same_v<T, float>) std::memcpy(dst, src, n * sizeof(float));
  else if constexpr (std::is_same_v<T, float16_t>) float_to_half_n(src, dst, n);
  else
    for (int64_t i = 0; i < n; ++i) dst[i] = T(src[i]);
}

void store_rows(const float* src, array& out, int64_t offset, int64_t n) {
  switch (out.dtype()) {
    case Dtype::Float32: store_row(src, out.data<float>() + offset, n); break;
    case Dtype::Float16: store_row(src, out.data<float16_t>() + offset, n); break;
    case Dtype::BFloat16: store_row(src, out.data<bfloat16_t>() + offset, n); break;
    case Dtype::Float64: store_row(src, out.data<double>() + offset, n); break;
    default: throw std::invalid_argument("[scaled_dot_product_attention] Unsupported dtype.");
  }
}

std::vector<float> sink_values(const std::vector<array>& in, bool has_mask, bool has_sinks) {
  if (!has_sinks) return {};
  array s(in[has_mask ? 4 : 3].shape(), float32, nullptr, {});
  copy_to_row_contiguous(in[has_mask ? 4 : 3], s);
  return std::vector<float>(s.data<float>(), s.data<float>() + s.size());
}

// ---------- block products

typedef float v8 __attribute__((vector_size(32)));
inline v8 load8(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store8(float* p, v8 v) { std::memcpy(p, &v, sizeof(v)); }

// C[MR x 8*NV] = alpha * A B (+ beta C): A(i, k) = A[i * sai + k * sak], B rows contiguous.
template <int MR, int NV>
inline void tile(int K, const float* A, int64_t sai, int64_t sak, const float* B, int64_t ldb, float* C,
                 int64_t ldc, float alpha, float beta) {
  v8 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int h = 0; h < NV; ++h) acc[r][h] = v8{0, 0, 0, 0, 0, 0, 0, 0};
  for (int k = 0; k < K; ++k) {
    v8 b[NV];
    for (int h = 0; h < NV; ++h) b[h] = load8(B + k * ldb + 8 * h);
    for (int r = 0; r < MR; ++r) {
      float a = A[r * sai + k * sak];
      for (int h = 0; h < NV; ++h) acc[r][h] += a * b[h];
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int h = 0; h < NV; ++h) {
      float* c = C + r * ldc + 8 * h;
      v8 o = alpha * acc[r][h];
      if (beta != 0.0f) o += beta * load8(c);
      store8(c, o);
    }
}

template <int MR>
void rows_block(int N, int K, const float* A, int64_t sai, int64_t sak, const float* B, int64_t ldb, float* C,
                int64_t ldc, float alpha, float beta) {
  int j = 0;
  for (; j + 16 <= N; j += 16) tile<MR, 2>(K, A, sai, sak, B + j, ldb, C + j, ldc, alpha, beta);
  for (; j + 8 <= N; j += 8) tile<MR, 1>(K, A, sai, sak, B + j, ldb, C + j, ldc, alpha, beta);
  for (; j < N; ++j)
    for (int r = 0; r < MR; ++r) {
      float acc = 0.0f;
      for (int k = 0; k < K; ++k) acc += A[r * sai + k * sak] * B[k * ldb + j];
      float* c = C + r * ldc + j;
      *c = alpha * acc + (beta != 0.0f ? beta * *c : 0.0f);
    }
}

// C (M x N, row stride ldc) = alpha * A B + beta * C, for A(i, k) = A[i * sai + k * sak] and
// B(k, j) = B[k * ldb + j]. beta = 0 never reads C.
void gemm(int M, int N, int K, float alpha, const float* A, int64_t sai, int64_t sak, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  int i = 0;
  for (; i + 6 <= M; i += 6) rows_block<6>(N, K, A + i * sai, sai, sak, B, ldb, C + i * ldc, ldc, alpha, beta);
  for (; i + 4 <= M; i += 4) rows_block<4>(N, K, A + i * sai, sai, sak, B, ldb, C + i * ldc, ldc, alpha, beta);
  for (; i < M; ++i) rows_block<1>(N, K, A + i * sai, sai, sak, B, ldb, C + i * ldc, ldc, alpha, beta);
}

// dst (cols x rows, row stride ld) = the transpose of src (rows x cols, row stride lds).
void transpose_block(const float* src, int64_t lds, int rows, int cols, float* dst, int64_t ld) {
  for (int r0 = 0; r0 < rows; r0 += 8)
    for (int c = 0; c < cols; ++c)
      for (int r = r0; r < std::min(rows, r0 + 8); ++r) dst[c * ld + r] = src[r * lds + c];
}

}  // namespace

void ScaledDotProductAttention::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  Mat4 Q = as_f32(in[0]), K = as_f32(in[1]), V = as_f32(in[2]);
  array& out = outs[0];
  array& stats = outs[1];
  alloc_out(out);
  alloc_out(stats);
  int64_t B = in[0].shape(0), hq = in[0].shape(1), tq = in[0].shape(2), D = in[0].shape(3);
  int64_t hkv = in[1].shape(1), tk = in[1].shape(2), dv = in[2].shape(3);
  int64_t G = hq / hkv;
  MaskInfo mi;
  mi.causal = causal_;
  mi.shift = tk - tq;
  if (has_mask_) mi.mask = &in[3];
  std::vector<float> sinks = sink_values(in, has_mask_, has_sinks_);
  float scale = scale_;
  float* pst = stats.data<float>();
  int64_t nqb = (tq + kBlockQ - 1) / kBlockQ;
  int64_t tasks = B * hq * nqb;
  parallel_for((size_t)tasks, 1, [&](size_t t0, size_t t1) {
    std::vector<float> S((size_t)kBlockQ * kBlockK), O((size_t)kBlockQ * dv), m(kBlockQ), l(kBlockQ);
    std::vector<float> Kt((size_t)D * kBlockK);
    for (size_t task = t0; task < t1; ++task) {
      int64_t qb = (int64_t)task % nqb, bh = (int64_t)task / nqb;
      int64_t b = bh / hq, h = bh % hq, kh = h / G;
      int64_t i0 = qb * kBlockQ;
      int nq = (int)std::min<int64_t>(kBlockQ, tq - i0);
      std::fill(m.begin(), m.begin() + nq, has_sinks_ ? sinks[h] : -INFINITY);
      std::fill(l.begin(), l.begin() + nq, has_sinks_ ? 1.0f : 0.0f);
      std::fill(O.begin(), O.begin() + (size_t)nq * dv, 0.0f);
      const float* qp = Q.at(b, h, i0);
      int64_t kend = key_end(mi, i0, nq, tk);
      for (int64_t j0 = 0; j0 < kend; j0 += kBlockK) {
        int nk = (int)std::min<int64_t>(kBlockK, kend - j0);
        transpose_block(K.at(b, kh, j0), K.s2, nk, (int)D, Kt.data(), kBlockK);
        gemm(nq, nk, (int)D, scale, qp, Q.s2, 1, Kt.data(), kBlockK, 0.0f, S.data(), kBlockK);
        apply_masks(mi, S.data(), kBlockK, b, h, i0, nq, j0, nk);
        for (int ii = 0; ii < nq; ++ii) {
          float* s = S.data() + ii * kBlockK;
          float mn = std::max(m[ii], row_max(s, nk));
          float corr = fm::exp1(m[ii] - mn);
          float sum = exp_row(s, nk, mn);
          l[ii] = l[ii] * corr + sum;
          m[ii] = mn;
          if (corr != 1.0f) {
            float* o = O.data() + ii * dv;
            for (int64_t d = 0; d < dv; ++d) o[d] *= corr;
          }
        }
        gemm(nq, (int)dv, nk, 1.0f, S.data(), kBlockK, 1, V.at(b, kh, j0), V.s2, 1.0f, O.data(), dv);
      }
      for (int ii = 0; ii < nq; ++ii) {
        float inv = 1.0f / l[ii];
        float* o = O.data() + ii * dv;
        for (int64_t d = 0; d < dv; ++d) o[d] *= inv;
        int64_t row = (b * hq + h) * tq + i0 + ii;
        pst[row * 2] = m[ii];
        pst[row * 2 + 1] = l[ii];
      }
      store_rows(O.data(), out, ((b * hq + h) * tq + i0) * dv, (int64_t)nq * dv);
    }
  });
}

void ScaledDotProductAttentionVJP::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  int n = 3 + (has_mask_ ? 1 : 0) + (has_sinks_ ? 1 : 0);
  Mat4 Q = as_f32(in[0]), K = as_f32(in[1]), V = as_f32(in[2]);
  Mat4 O = as_f32(in[n]), dO = as_f32(in[n + 2]);
  array st = ensure_row_contiguous(in[n + 1]);
  const float* pst = st.data<float>();
  for (int i = 0; i < 3; ++i) alloc_out(outs[i]);
  int64_t B = in[0].shape(0), hq = in[0].shape(1), tq = in[0].shape(2), D = in[0].shape(3);
  int64_t hkv = in[1].shape(1), tk = in[1].shape(2), dv = in[2].shape(3);
  int64_t G = hq / hkv;
  MaskInfo mi;
  mi.causal = causal_;
  mi.shift = tk - tq;
  if (has_mask_) mi.mask = &in[3];
  std::vector<float> sinks = sink_values(in, has_mask_, has_sinks_);
  std::vector<float> dsink_parts(has_sinks_ ? B * hq : 0, 0.0f);
  float scale = scale_;
  int64_t tasks = B * hkv;
  parallel_for((size_t)tasks, 1, [&](size_t t0, size_t t1) {
    std::vector<float> S((size_t)kBlockQB * kBlockK), dP((size_t)kBlockQB * kBlockK), keep((size_t)kBlockQB * kBlockK);
    std::vector<float> dQ((size_t)kBlockQB * D), Dr(kBlockQB), mrow(kBlockQB), il(kBlockQB);
    std::vector<float> dK((size_t)tk * D), dV((size_t)tk * dv);
    std::vector<float> Kt((size_t)D * kBlockK), Vt((size_t)dv * kBlockK);
    for (size_t task = t0; task < t1; ++task) {
      int64_t b = (int64_t)task / hkv, kh = (int64_t)task % hkv;
      std::fill(dK.begin(), dK.end(), 0.0f);
      std::fill(dV.begin(), dV.end(), 0.0f);
      for (int64_t h = kh * G; h < (kh + 1) * G; ++h) {
        for (int64_t i0 = 0; i0 < tq; i0 += kBlockQB) {
          int nq = (int)std::min<int64_t>(kBlockQB, tq - i0);
          const float* qp = Q.at(b, h, i0);
          const float* dop = dO.at(b, h, i0);
          float dsink = 0.0f;
          for (int ii = 0; ii < nq; ++ii) {
            const float* o = O.at(b, h, i0 + ii);
            const float* go = dO.at(b, h, i0 + ii);
            float acc = 0.0f;
            for (int64_t d = 0; d < dv; ++d) acc += o[d] * go[d];
            Dr[ii] = acc;
            int64_t row = (b * hq + h) * tq + i0 + ii;
            mrow[ii] = pst[row * 2];
            il[ii] = 1.0f / pst[row * 2 + 1];
            if (has_sinks_) dsink -= fm::exp1(sinks[h] - mrow[ii]) * il[ii] * acc;
          }
          if (has_sinks_) dsink_parts[b * hq + h] += dsink;
          std::fill(dQ.begin(), dQ.begin() + (size_t)nq * D, 0.0f);
          int64_t kend = key_end(mi, i0, nq, tk);
          for (int64_t j0 = 0; j0 < kend; j0 += kBlockK) {
            int nk = (int)std::min<int64_t>(kBlockK, kend - j0);
            transpose_block(K.at(b, kh, j0), K.s2, nk, (int)D, Kt.data(), kBlockK);
            gemm(nq, nk, (int)D, scale, qp, Q.s2, 1, Kt.data(), kBlockK, 0.0f, S.data(), kBlockK);
            apply_masks(mi, S.data(), kBlockK, b, h, i0, nq, j0, nk);
            // P = exp(S - m) / l; excluded scores keep a zero derivative.
            for (int ii = 0; ii < nq; ++ii) {
              float* s = S.data() + ii * kBlockK;
              float* kp = keep.data() + ii * kBlockK;
              float mm = mrow[ii], inv = il[ii];
              for (int jj = 0; jj < nk; ++jj) {
                kp[jj] = s[jj] == kLowest ? 0.0f : 1.0f;
                s[jj] = fm::exp1(s[jj] - mm) * inv;
              }
            }
            // dV += P^T dO
            gemm(nk, (int)dv, nq, 1.0f, S.data(), 1, kBlockK, dop, dO.s2, 1.0f, dV.data() + j0 * dv, dv);
            // dS = P * (dO V^T - Dr), zero where excluded.
            transpose_block(V.at(b, kh, j0), V.s2, nk, (int)dv, Vt.data(), kBlockK);
            gemm(nq, nk, (int)dv, 1.0f, dop, dO.s2, 1, Vt.data(), kBlockK, 0.0f, dP.data(), kBlockK);
            for (int ii = 0; ii < nq; ++ii) {
              float* s = S.data() + ii * kBlockK;
              const float* dp = dP.data() + ii * kBlockK;
              const float* kp = keep.data() + ii * kBlockK;
              float dr = Dr[ii];
              for (int jj = 0; jj < nk; ++jj) s[jj] = s[jj] * (dp[jj] - dr) * kp[jj];
            }
            // dQ += scale dS K, dK += scale dS^T Q
            gemm(nq, (int)D, nk, scale, S.data(), kBlockK, 1, K.at(b, kh, j0), K.s2, 1.0f, dQ.data(), D);
            gemm(nk, (int)D, nq, scale, S.data(), 1, kBlockK, qp, Q.s2, 1.0f, dK.data() + j0 * D, D);
          }
          store_rows(dQ.data(), outs[0], ((b * hq + h) * tq + i0) * D, (int64_t)nq * D);
        }
      }
      store_rows(dK.data(), outs[1], (b * hkv + kh) * tk * D, tk * D);
      store_rows(dV.data(), outs[2], (b * hkv + kh) * tk * dv, tk * dv);
    }
  });
  if (has_sinks_) {
    std::vector<float> ds(hq, 0.0f);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < hq; ++h) ds[h] += dsink_parts[b * hq + h];
    alloc_out(outs[3]);
    store_rows(ds.data(), outs[3], 0, hq);
  }
}

}  // namespace ember
