// Matrix products through BLAS (float32, float64, complex64; half types via float32)
// and a blocked kernel for integer dtypes.
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <optional>

#include "ember/backend/cpu/kernels.h"
#include "ember/primitives.h"

namespace ember {

using namespace cpu;

namespace {

// A batch of matrices as BLAS sees it: leading dimension and whether it is transposed.
struct MatView {
  array arr;
  bool trans = false;
  int64_t ld = 0;
};

// BLAS takes 32-bit sizes and leading dimensions (scipy-openblas32): a view whose leading
// dimension does not fit is copied into a compact matrix first.
MatView as_blas(const array& a) {
  int nd = a.ndim();
  int64_t rows = a.shape()[nd - 2], cols = a.shape()[nd - 1];
  int64_t s0 = a.strides()[nd - 2], s1 = a.strides()[nd - 1];
  auto fits = [](const MatView& v) { return v.ld <= INT32_MAX ? std::optional<MatView>(v) : std::nullopt; };
  if ((s1 == 1 || cols == 1) && (s0 >= std::max<int64_t>(cols, 1) || rows == 1))
    if (auto v = fits({a, false, std::max<int64_t>(rows == 1 ? cols : s0, std::max<int64_t>(cols, 1))})) return *v;
  if ((s0 == 1 || rows == 1) && (s1 >= std::max<int64_t>(rows, 1) || cols == 1))
    if (auto v = fits({a, true, std::max<int64_t>(cols == 1 ? rows : s1, std::max<int64_t>(rows, 1))})) return *v;
  array c = ensure_row_contiguous(a);  // its leading dimension is cols, which fits
  return {c, false, std::max<int64_t>(cols, 1)};
}

// Element offset of batch b for an array whose leading dims are the batch dims.
int64_t batch_offset(const array& a, int64_t b) {
  int64_t off = 0;
  for (int d = a.ndim() - 3; d >= 0; --d) {
    int64_t n = a.shape()[d];
    off += (b % n) * a.strides()[d];
    b /= n;
  }
  return off;
}

template <typename T>
void gemm_generic(const T* A, const T* B, T* C, int64_t M, int64_t N, int64_t K, int64_t sa0,
                  int64_t sa1, int64_t sb0, int64_t sb1, float alpha, float beta) {
  using Acc = std::conditional_t<std::is_same_v<T, bool>, int, compute_t<T>>;
  std::vector<Acc> row(N);
  for (int64_t i = 0; i < M; ++i) {
    std::fill(row.begin(), row.end(), Acc(0));
    for (int64_t k = 0; k < K; ++k) {
      Acc av = static_cast<Acc>(A[i * sa0 + k * sa1]);
      const T* brow = B + k * sb0;
      if (sb1 == 1)
        for (int64_t j = 0; j < N; ++j) row[j] += av * static_cast<Acc>(brow[j]);
      else
        for (int64_t j = 0; j < N; ++j) row[j] += av * static_cast<Acc>(brow[j * sb1]);
    }
    for (int64_t j = 0; j < N; ++j) {
      Acc v = row[j];
      if (alpha != 1.0f) v = static_cast<Acc>(v * static_cast<Acc>(alpha));
      if (beta != 0.0f) v = static_cast<Acc>(v + static_cast<Acc>(beta) * static_cast<Acc>(C[i * N + j]));
      C[i * N + j] = T(v);
    }
  }
}

// OpenBLAS keeps its own worker threads, which spin for a while after each threaded call. On
// top of Ember's pool that oversubscribes the cores: the next kernels' pool chunks wait for a
// core that a BLAS thread is spinning on. Large products are therefore split over Ember's
// pool, with OpenBLAS held to one thread for the duration (its previous count is restored, so
// other callers keep their threaded BLAS).
extern "C" {
int scipy_openblas_get_num_threads(void);
void scipy_openblas_set_num_threads(int);
}

class BlasOneThread {
 public:
  BlasOneThread() : prev_(scipy_openblas_get_num_threads()) {
    if (prev_ != 1) scipy_openblas_set_num_threads(1);
  }
  ~BlasOneThread() {
    if (prev_ != 1) scipy_openblas_set_num_threads(prev_);
  }

 private:
  int prev_;
};

// Below this many multiply-adds a product runs on one thread (OpenBLAS's own threshold too).
constexpr int64_t kGemmParallelMacs = int64_t(1) << 18;

template <typename T>
void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N, int64_t K, float alpha,
               const T* A, int64_t lda, const T* B, int64_t ldb, float beta, T* C, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>)
    scipy_cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C,
                      (int)ldc);
  else
    scipy_cblas_dgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C,
                      (int)ldc);
}

// C = alpha op(A) op(B) + beta C (row-major), in parts of C's rows (or columns, for a short
// and wide C) on the pool; a part is a multiple of 16 rows or 64 columns.
template <typename T>
void gemm_split(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N, int64_t K, float alpha,
                const T* A, int64_t lda, const T* B, int64_t ldb, float beta, T* C, int64_t ldc) {
  int threads = num_threads();
  bool by_rows = M >= 16 * threads || M >= N;
  int64_t len = by_rows ? M : N, unit = by_rows ? 16 : 64;
  int64_t parts = std::min<int64_t>(threads, (len + unit - 1) / unit);
  if (M * N * K < kGemmParallelMacs) {
    blas_gemm<T>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  BlasOneThread one;
  if (threads <= 1 || parts <= 1) {
    blas_gemm<T>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  int64_t per = ((len + parts - 1) / parts + unit - 1) / unit * unit;
  parts = (len + per - 1) / per;
  parallel_for((size_t)parts, 1, [&](size_t pb, size_t pe) {
    for (size_t p = pb; p < pe; ++p) {
      int64_t b = (int64_t)p * per, n = std::min(len, b + per) - b;
      if (by_rows)
        blas_gemm<T>(ta, tb, n, N, K, alpha, A + (ta == CblasNoTrans ? b * lda : b), lda, B, ldb, beta,
                     C + b * ldc, ldc);
      else
        blas_gemm<T>(ta, tb, M, n, K, alpha, A, lda, B + (tb == CblasNoTrans ? b : b * ldb), ldb, beta,
                     C + b, ldc);
    }
  });
}

}  // namespace

void Matmul::eval_cpu(const std::vector<array>& in, array& out) {
  const array& a0 = in[0];
  const array& b0 = in[1];
  int nd = out.ndim();
  int64_t M = out.shape()[nd - 2], N = out.shape()[nd - 1], K = a0.shape()[nd - 1];
  // Start from C (broadcast into out) or zeros.
  if (in.size() == 3 && in[2].shape() != out.shape()) {
    // c as given (a shapeless trace keeps it unbroadcast): read through a broadcast view.
    array c(out.shape(), in[2].dtype(), nullptr, {});
    Broadcast(stream(), out.shape()).eval_cpu({in[2]}, c);
    copy_to_row_contiguous(c, out);
  } else if (in.size() == 3) {
    copy_to_row_contiguous(in[2], out);
  } else {
    alloc_out(out);
  }
  float beta = in.size() == 3 ? beta_ : 0.0f;
  if (out.size() == 0) return;
  int64_t batches = (int64_t)out.size() / std::max<int64_t>(M * N, 1);
  Dtype dt = out.dtype();
  if (K == 0) {
    dispatch_all(dt, [&](auto t) {
      using T = typename decltype(t)::type;
      T* o = out.data<T>();
      for (size_t i = 0; i < out.size(); ++i)
        o[i] = beta == 0.0f ? T(0) : T(static_cast<compute_t<T>>(o[i]) * static_cast<compute_t<T>>(beta));
    });
    return;
  }
  if (dt == float16 || dt == bfloat16) {
    // Compute in float32 and round once.
    array af = array(a0.shape(), float32, nullptr, {}), bf = array(b0.shape(), float32, nullptr, {});
    copy_to_row_contiguous(a0, af);
    copy_to_row_contiguous(b0, bf);
    array of(out.shape(), float32, nullptr, {});
    copy_to_row_contiguous(out, of);
    Matmul inner(stream(), alpha_, beta_);
    std::vector<array> ins{af, bf};
    if (in.size() == 3) ins.push_back(of);
    array res(out.shape(), float32, nullptr, {});
    inner.eval_cpu(ins, res);
    copy_to_row_contiguous(res, out);
    return;
  }
  MatView A = as_blas(a0), B = as_blas(b0);
  // A batch of rows times one shared matrix (B broadcast over the batch) is one GEMM.
  bool b_shared = true;
  for (int d = 0; d < nd - 2; ++d) b_shared &= B.arr.strides()[d] == 0 || B.arr.shape()[d] == 1;
  if (batches > 1 && b_shared && !A.trans && A.arr.flags().row_contiguous &&
      (dt == float32 || dt == float64) && batches * M <= INT32_MAX) {
    int64_t rows = batches * M;
    auto tb1 = B.trans ? CblasTrans : CblasNoTrans;
    if (dt == float32)
      gemm_split<float>(CblasNoTrans, tb1, rows, N, K, alpha_, A.arr.data<float>(), K, B.arr.data<float>(), B.ld,
                        beta, out.data<float>(), N);
    else
      gemm_split<double>(CblasNoTrans, tb1, rows, N, K, alpha_, A.arr.data<double>(), K,
                         B.arr.data<double>(), B.ld, beta, out.data<double>(), N);
    return;
  }
  auto ta = A.trans ? CblasTrans : CblasNoTrans;
  auto tb = B.trans ? CblasTrans : CblasNoTrans;
  if (dt == float32 || dt == float64) {
    auto one = [&](auto t, int64_t bi, bool split) {
      using T = typename decltype(t)::type;
      const T* a = A.arr.data<T>() + batch_offset(A.arr, bi);
      const T* b = B.arr.data<T>() + batch_offset(B.arr, bi);
      T* c = out.data<T>() + bi * M * N;
      if (split)
        gemm_split<T>(ta, tb, M, N, K, alpha_, a, A.ld, b, B.ld, beta, c, N);
      else
        blas_gemm<T>(ta, tb, M, N, K, alpha_, a, A.ld, b, B.ld, beta, c, N);
    };
    auto each = [&](auto t) {
      // Many products: whole products per pool part; few: each one split.
      if (batches >= num_threads() && batches * M * N * K >= kGemmParallelMacs) {
        BlasOneThread single;
        parallel_for((size_t)batches, 1, [&](size_t b0, size_t b1) {
          for (size_t bi = b0; bi < b1; ++bi) one(t, (int64_t)bi, false);
        });
      } else {
        for (int64_t bi = 0; bi < batches; ++bi) one(t, bi, true);
      }
    };
    if (dt == float32)
      each(type_tag<float>{});
    else
      each(type_tag<double>{});
    return;
  }
  for (int64_t bi = 0; bi < batches; ++bi) {
    int64_t oa = batch_offset(A.arr, bi), ob = batch_offset(B.arr, bi);
    if (dt == float32) {
      scipy_cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha_, A.arr.data<float>() + oa, A.ld,
                        B.arr.data<float>() + ob, B.ld, beta, out.data<float>() + bi * M * N, N);
    } else if (dt == float64) {
      scipy_cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha_, A.arr.data<double>() + oa, A.ld,
                        B.arr.data<double>() + ob, B.ld, beta, out.data<double>() + bi * M * N, N);
    } else if (dt == complex64) {
      complex64_t al(alpha_, 0), be(beta, 0);
      scipy_cblas_cgemm(CblasRowMajor, ta, tb, M, N, K, &al, A.arr.data<complex64_t>() + oa, A.ld,
                        B.arr.data<complex64_t>() + ob, B.ld, &be,
                        out.data<complex64_t>() + bi * M * N, N);
    } else {
      dispatch_integer(dt, [&](auto t) {
        using T = typename decltype(t)::type;
        const array& aa = A.arr;
        const array& bb = B.arr;
        int64_t sa0 = aa.strides()[nd - 2], sa1 = aa.strides()[nd - 1];
        int64_t sb0 = bb.strides()[nd - 2], sb1 = bb.strides()[nd - 1];
        gemm_generic<T>(aa.data<T>() + oa, bb.data<T>() + ob, out.data<T>() + bi * M * N, M, N, K,
                        sa0, sa1, sb0, sb1, alpha_, beta);
      });
    }
  }
}

}  // namespace ember
