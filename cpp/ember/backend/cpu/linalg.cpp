// Linear algebra kernels through LAPACK (scipy-openblas32: Fortran entry points with a
// `scipy_` prefix, 32-bit integers, column-major matrices).
//
// A row-major matrix is the column-major storage of its transpose, which several routines
// use directly: inv(A^T) = inv(A)^T, the lower triangle in row-major order is the upper one
// in column-major order, and the SVD of A^T swaps the roles of U and V^T. Others (QR, LU,
// eig, solve) work on a transposed copy.
//
// Batches: one LAPACK call per matrix, several matrices split across the thread pool, with
// OpenBLAS held to one thread (see for_each_matrix).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <complex>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>

#include "ember/backend/cpu/kernels.h"
#include "ember/primitives.h"
#include "ember/primitives/linalg.h"

extern "C" {
void scipy_openblas_set_num_threads(int);
int scipy_openblas_get_num_threads(void);

#define EMBER_LAPACK_DECL(T, P)                                                                    \
  void scipy_##P##getrf_(const int* m, const int* n, T* a, const int* lda, int* ipiv, int* info);  \
  void scipy_##P##getri_(const int* n, T* a, const int* lda, const int* ipiv, T* work,             \
                         const int* lwork, int* info);                                             \
  void scipy_##P##trtri_(const char* uplo, const char* diag, const int* n, T* a, const int* lda,   \
                         int* info, size_t, size_t);                                               \
  void scipy_##P##potrf_(const char* uplo, const int* n, T* a, const int* lda, int* info, size_t); \
  void scipy_##P##geqrf_(const int* m, const int* n, T* a, const int* lda, T* tau, T* work,        \
                         const int* lwork, int* info);                                             \
  void scipy_##P##orgqr_(const int* m, const int* n, const int* k, T* a, const int* lda,           \
                         const T* tau, T* work, const int* lwork, int* info);                      \
  void scipy_##P##gesdd_(const char* jobz, const int* m, const int* n, T* a, const int* lda, T* s, \
                         T* u, const int* ldu, T* vt, const int* ldvt, T* work, const int* lwork,  \
                         int* iwork, int* info, size_t);                                           \
  void scipy_##P##syevd_(const char* jobz, const char* uplo, const int* n, T* a, const int* lda,   \
                         T* w, T* work, const int* lwork, int* iwork, const int* liwork,           \
                         int* info, size_t, size_t);                                               \
  void scipy_##P##geev_(const char* jobvl, const char* jobvr, const int* n, T* a, const int* lda,  \
                        T* wr, T* wi, T* vl, const int* ldvl, T* vr, const int* ldvr, T* work,     \
                        const int* lwork, int* info, size_t, size_t);                              \
  void scipy_##P##gesv_(const int* n, const int* nrhs, T* a, const int* lda, int* ipiv, T* b,      \
                        const int* ldb, int* info);                                                \
  void scipy_##P##getrs_(const char* trans, const int* n, const int* nrhs, const T* a,             \
                         const int* lda, const int* ipiv, T* b, const int* ldb, int* info, size_t);
EMBER_LAPACK_DECL(float, s)
EMBER_LAPACK_DECL(double, d)
#undef EMBER_LAPACK_DECL

// complex64 (Fortran COMPLEX has std::complex<float>'s layout)
void scipy_cgesdd_(const char* jobz, const int* m, const int* n, std::complex<float>* a, const int* lda,
                   float* s, std::complex<float>* u, const int* ldu, std::complex<float>* vt,
                   const int* ldvt, std::complex<float>* work, const int* lwork, float* rwork, int* iwork,
                   int* info, size_t);
void scipy_cheevd_(const char* jobz, const char* uplo, const int* n, std::complex<float>* a, const int* lda,
                   float* w, std::complex<float>* work, const int* lwork, float* rwork, const int* lrwork,
                   int* iwork, const int* liwork, int* info, size_t, size_t);
void scipy_cgeev_(const char* jobvl, const char* jobvr, const int* n, std::complex<float>* a, const int* lda,
                  std::complex<float>* w, std::complex<float>* vl, const int* ldvl, std::complex<float>* vr,
                  const int* ldvr, std::complex<float>* work, const int* lwork, float* rwork, int* info,
                  size_t, size_t);
}

namespace ember {

using namespace cpu;

namespace {

// Typed entry points.
template <typename T>
struct Lapack;
#define EMBER_LAPACK_BIND(T, P)                                                                \
  template <>                                                                                  \
  struct Lapack<T> {                                                                           \
    static void getrf(int m, int n, T* a, int lda, int* ipiv, int* info) {                     \
      scipy_##P##getrf_(&m, &n, a, &lda, ipiv, info);                                          \
    }                                                                                          \
    static void getri(int n, T* a, int lda, const int* ipiv, T* w, int lw, int* info) {        \
      scipy_##P##getri_(&n, a, &lda, ipiv, w, &lw, info);                                      \
    }                                                                                          \
    static void trtri(char uplo, int n, T* a, int lda, int* info) {                            \
      char d = 'N';                                                                            \
      scipy_##P##trtri_(&uplo, &d, &n, a, &lda, info, 1, 1);                                   \
    }                                                                                          \
    static void potrf(char uplo, int n, T* a, int lda, int* info) {                            \
      scipy_##P##potrf_(&uplo, &n, a, &lda, info, 1);                                          \
    }                                                                                          \
    static void geqrf(int m, int n, T* a, int lda, T* tau, T* w, int lw, int* info) {          \
      scipy_##P##geqrf_(&m, &n, a, &lda, tau, w, &lw, info);                                   \
    }                                                                                          \
    static void orgqr(int m, int n, int k, T* a, int lda, const T* tau, T* w, int lw,          \
                      int* info) {                                                             \
      scipy_##P##orgqr_(&m, &n, &k, a, &lda, tau, w, &lw, info);                               \
    }                                                                                          \
    static void gesdd(char jobz, int m, int n, T* a, int lda, T* s, T* u, int ldu, T* vt,      \
                      int ldvt, T* w, int lw, int* iw, int* info) {                            \
      scipy_##P##gesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, w, &lw, iw, info, 1);   \
    }                                                                                          \
    static void syevd(char jobz, char uplo, int n, T* a, int lda, T* w, T* wk, int lw,         \
                      int* iw, int liw, int* info) {                                           \
      scipy_##P##syevd_(&jobz, &uplo, &n, a, &lda, w, wk, &lw, iw, &liw, info, 1, 1);          \
    }                                                                                          \
    static void geev(char jobvr, int n, T* a, int lda, T* wr, T* wi, T* vr, int ldvr, T* w,    \
                     int lw, int* info) {                                                      \
      char jl = 'N';                                                                           \
      int one = 1;                                                                             \
      scipy_##P##geev_(&jl, &jobvr, &n, a, &lda, wr, wi, nullptr, &one, vr, &ldvr, w, &lw,     \
                       info, 1, 1);                                                            \
    }                                                                                          \
    static void gesv(int n, int nrhs, T* a, int lda, int* ipiv, T* b, int ldb, int* info) {    \
      scipy_##P##gesv_(&n, &nrhs, a, &lda, ipiv, b, &ldb, info);                               \
    }                                                                                          \
    static void getrs(int n, int nrhs, const T* a, int lda, const int* ipiv, T* b, int ldb,    \
                      int* info) {                                                             \
      char t = 'N';                                                                            \
      scipy_##P##getrs_(&t, &n, &nrhs, a, &lda, ipiv, b, &ldb, info, 1);                       \
    }                                                                                          \
  };
EMBER_LAPACK_BIND(float, s)
EMBER_LAPACK_BIND(double, d)
#undef EMBER_LAPACK_BIND

// The first failure seen across the workers (LAPACK's info), raised after the loop.
[[noreturn]] void fail(const char* op, const std::string& what, int info);

// The first LAPACK error code any matrix of a batch gave.
struct Failure {
  std::atomic<int> info{0};
  void set(int i) {
    int zero = 0;
    info.compare_exchange_strong(zero, i);
  }
  // Raises `what` for `op` when a matrix failed.
  void check(const char* op, const std::string& what) const {
    if (int i = info.load()) fail(op, what, i);
  }
};

// fn(begin, end) over the batch of matrices of order n. OpenBLAS runs on one thread here
// (its spinning threads lose badly to a busy machine: a 1024 Cholesky took 10-300x longer
// threaded than not under load) except for one very large matrix; several matrices are
// split across Ember's pool instead.
std::mutex& blas_setting_mutex() {  // one loop at a time changes the OpenBLAS setting
  static std::mutex mu;
  return mu;
}

template <typename F>
void for_each_matrix(size_t batch, int64_t n, F&& fn) {
  if (batch == 0) return;
  std::lock_guard<std::mutex> lock(blas_setting_mutex());
  bool blas_threads = batch == 1 && n >= 2048;
  int prev = scipy_openblas_get_num_threads();
  if (!blas_threads && prev > 1) scipy_openblas_set_num_threads(1);
  if (batch == 1 || num_threads() <= 1) {
    fn(size_t(0), batch);
  } else {
    // Enough matrices in a chunk to be worth a hand-off (about 2^16 flops).
    size_t flops = (size_t)std::max<int64_t>(n * n * n, 1);
    size_t grain = std::max<size_t>(1, (size_t(1) << 16) / flops);
    parallel_for(batch, grain, fn);
  }
  if (!blas_threads && prev > 1) scipy_openblas_set_num_threads(prev);
}

template <typename T>
void transpose_copy(const T* src, T* dst, int rows, int cols) {  // dst = src^T
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) dst[(size_t)j * rows + i] = src[(size_t)i * cols + j];
}

template <typename F>
void dispatch_real(Dtype t, const char* op, F&& f) {
  if (t == float32)
    f(float{});
  else if (t == float64)
    f(double{});
  else
    throw std::invalid_argument(std::string("[") + op + "] Unsupported dtype.");
}

// The number of matrices: the product of the leading axes.
size_t batch_of(const array& a) {
  size_t b = 1;
  for (int i = 0; i < a.ndim() - 2; ++i) b *= a.shape(i);
  return b;
}

[[noreturn]] void fail(const char* op, const std::string& what, int info) {
  throw std::runtime_error(std::string("[") + op + "] " + what + " (LAPACK error code " +
                           std::to_string(info) + ").");
}


using cf = std::complex<float>;

// The same storage tricks as the real kernels: the row-major buffer is A^T in column-major
// order, so gesdd's U^T is our V^H and its V^H our U (with conjugates falling out right).
void svd_complex(const array& a, std::vector<array>& outs, bool uv, Failure& bad) {
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  size_t batch = batch_of(a);
  const cf* src = a.data<cf>();
  float* sd = (uv ? outs[1] : outs[0]).data<float>();
  cf* ud = uv ? outs[0].data<cf>() : nullptr;
  cf* vd = uv ? outs[2].data<cf>() : nullptr;
  if (k == 0) {
    if (uv)
      for (size_t b = 0; b < batch; ++b) {
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < m; ++j) ud[b * m * m + (size_t)i * m + j] = cf(i == j, 0);
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) vd[b * n * n + (size_t)i * n + j] = cf(i == j, 0);
      }
    return;
  }
  char jobz = uv ? 'A' : 'N';
  for_each_matrix(batch, std::max(m, n), [&](size_t b0, size_t b1) {
    std::vector<cf> w((size_t)m * n), work;
    size_t mx = std::max(m, n);
    std::vector<float> rwork(uv ? (size_t)k * std::max<size_t>(5 * k + 7, 2 * mx + 2 * k + 1) : 7 * (size_t)k + 8);
    std::vector<int> iwork(8 * (size_t)k);
    cf dummy = 0;
    int lwork = 0;
    for (size_t b = b0; b < b1; ++b) {
      std::copy(src + b * m * n, src + (b + 1) * m * n, w.begin());
      cf* U = uv ? vd + b * (size_t)n * n : &dummy;
      cf* VT = uv ? ud + b * (size_t)m * m : &dummy;
      int ldu = uv ? n : 1, ldvt = uv ? m : 1, info = 0;
      if (lwork == 0) {
        cf q;
        int ql = -1;
        scipy_cgesdd_(&jobz, &n, &m, w.data(), &n, sd, U, &ldu, VT, &ldvt, &q, &ql, rwork.data(), iwork.data(),
                      &info, 1);
        lwork = std::max(1, (int)q.real());
        work.resize(lwork);
      }
      scipy_cgesdd_(&jobz, &n, &m, w.data(), &n, sd + b * k, U, &ldu, VT, &ldvt, work.data(), &lwork,
                    rwork.data(), iwork.data(), &info, 1);
      if (info != 0) bad.set(info);
    }
  });
}

// A Hermitian A read through one triangle: the buffer LAPACK sees is A^T = conj(A), whose
// eigenvectors are the conjugates of A's.
void eigh_complex(const array& a, std::vector<array>& outs, bool upper, bool vectors, Failure& bad) {
  int n = a.shape(-1);
  size_t nn = (size_t)n * n, batch = batch_of(a);
  const cf* src = a.data<cf>();
  float* wd = outs[0].data<float>();
  cf* vd = vectors ? outs[1].data<cf>() : nullptr;
  char jobz = vectors ? 'V' : 'N', uplo = upper ? 'L' : 'U';
  for_each_matrix(batch, n, [&](size_t b0, size_t b1) {
    std::vector<cf> w(nn), work;
    std::vector<float> rwork;
    std::vector<int> iwork;
    int lwork = 0, lrwork = 0, liwork = 0;
    for (size_t b = b0; b < b1; ++b) {
      std::copy(src + b * nn, src + (b + 1) * nn, w.begin());
      int info = 0;
      if (lwork == 0) {
        cf q;
        float qr;
        int qi = 0, m1 = -1;
        scipy_cheevd_(&jobz, &uplo, &n, w.data(), &n, wd, &q, &m1, &qr, &m1, &qi, &m1, &info, 1, 1);
        lwork = std::max(1, (int)q.real());
        lrwork = std::max(1, (int)qr);
        liwork = std::max(1, qi);
        work.resize(lwork);
        rwork.resize(lrwork);
        iwork.resize(liwork);
      }
      scipy_cheevd_(&jobz, &uplo, &n, w.data(), &n, wd + b * n, work.data(), &lwork, rwork.data(), &lrwork,
                    iwork.data(), &liwork, &info, 1, 1);
      if (info != 0) bad.set(info);
      if (vectors) {
        cf* V = vd + b * nn;
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) V[(size_t)i * n + j] = std::conj(w[(size_t)j * n + i]);
      }
    }
  });
}

void eig_complex(const array& a, std::vector<array>& outs, bool vectors, Failure& bad) {
  int n = a.shape(-1);
  size_t nn = (size_t)n * n, batch = batch_of(a);
  const cf* src = a.data<cf>();
  cf* wd = outs[0].data<cf>();
  cf* vd = vectors ? outs[1].data<cf>() : nullptr;
  char jobvl = 'N', jobvr = vectors ? 'V' : 'N';
  for_each_matrix(batch, n, [&](size_t b0, size_t b1) {
    std::vector<cf> w(nn), vr(vectors ? nn : 1), work;
    std::vector<float> rwork(2 * (size_t)n);
    int lwork = 0, one = 1, ldvr = vectors ? n : 1;
    for (size_t b = b0; b < b1; ++b) {
      transpose_copy(src + b * nn, w.data(), n, n);
      int info = 0;
      if (lwork == 0) {
        cf q;
        int m1 = -1;
        scipy_cgeev_(&jobvl, &jobvr, &n, w.data(), &n, wd, nullptr, &one, vr.data(), &ldvr, &q, &m1,
                     rwork.data(), &info, 1, 1);
        lwork = std::max(1, (int)q.real());
        work.resize(lwork);
      }
      scipy_cgeev_(&jobvl, &jobvr, &n, w.data(), &n, wd + b * n, nullptr, &one, vr.data(), &ldvr,
                   work.data(), &lwork, rwork.data(), &info, 1, 1);
      if (info != 0) bad.set(info);
      if (vectors) transpose_copy(vr.data(), vd + b * nn, n, n);
    }
  });
}

}  // namespace

// ---------- Inverse

void Inverse::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array a = ensure_row_contiguous(in[0]);
  array& out = outs[0];
  alloc_out(out);
  int n = a.shape(-1);
  size_t nn = (size_t)n * n, batch = batch_of(a);
  if (nn == 0) return;
  Failure bad;
  dispatch_real(a.dtype(), "linalg::inv", [&](auto t) {
    using T = decltype(t);
    const T* src = a.data<T>();
    T* dst = out.data<T>();
    // The lower triangle in row-major order is the upper one in column-major order.
    char uplo = upper_ ? 'L' : 'U';
    for_each_matrix(batch, n, [&](size_t b0, size_t b1) {
      std::vector<int> ipiv(n);
      std::vector<T> lu(tri_ ? 0 : nn);
      for (size_t b = b0; b < b1; ++b) {
        const T* s = src + b * nn;
        T* d = dst + b * nn;
        int info = 0;
        if (tri_) {
          for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j) {
              bool keep = upper_ ? j >= i : j <= i;
              d[(size_t)i * n + j] = keep ? s[(size_t)i * n + j] : T(0);
            }
          Lapack<T>::trtri(uplo, n, d, n, &info);
        } else {
          // LU of A^T, then A^T X = I by two triangular solves (faster than getri for the
          // small matrices of a batch): X = inv(A)^T in column-major order is inv(A) in ours.
          std::copy(s, s + nn, lu.begin());
          Lapack<T>::getrf(n, n, lu.data(), n, ipiv.data(), &info);
          if (info == 0) {
            std::fill(d, d + nn, T(0));
            for (int i = 0; i < n; ++i) d[(size_t)i * n + i] = T(1);
            Lapack<T>::getrs(n, n, lu.data(), n, ipiv.data(), d, n, &info);
          }
        }
        if (info != 0) bad.set(info);
      }
    });
  });
  bad.check(tri_ ? "linalg::tri_inv" : "linalg::inv", "The matrix is singular");
}

// ---------- Cholesky

void Cholesky::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array a = ensure_row_contiguous(in[0]);
  array& out = outs[0];
  alloc_out(out);
  int n = a.shape(-1);
  size_t nn = (size_t)n * n, batch = batch_of(a);
  if (nn == 0) return;
  dispatch_real(a.dtype(), "linalg::cholesky", [&](auto t) {
    using T = decltype(t);
    const T* src = a.data<T>();
    T* dst = out.data<T>();
    char uplo = upper_ ? 'L' : 'U';
    for_each_matrix(batch, n, [&](size_t b0, size_t b1) {
      for (size_t b = b0; b < b1; ++b) {
        const T* s = src + b * nn;
        T* d = dst + b * nn;
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) {
            bool keep = upper_ ? j >= i : j <= i;
            d[(size_t)i * n + j] = keep ? s[(size_t)i * n + j] : T(0);
          }
        int info = 0;
        Lapack<T>::potrf(uplo, n, d, n, &info);
        if (info != 0) std::fill(d, d + nn, std::numeric_limits<T>::quiet_NaN());
      }
    });
  });
}

// ---------- QRF

void QRF::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array a = ensure_row_contiguous(in[0]);
  array &q = outs[0], &r = outs[1];
  alloc_out(q);
  alloc_out(r);
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  size_t batch = batch_of(a);
  if (q.size() == 0 && r.size() == 0) return;
  if (k == 0) {  // Q has no columns or R no rows... whichever is empty; the other is zeros
    std::memset(q.raw_ptr(), 0, q.nbytes());
    std::memset(r.raw_ptr(), 0, r.nbytes());
    return;
  }
  Failure bad;
  dispatch_real(a.dtype(), "linalg::qr", [&](auto t) {
    using T = decltype(t);
    const T* src = a.data<T>();
    T *qd = q.data<T>(), *rd = r.data<T>();
    for_each_matrix(batch, std::max(m, n), [&](size_t b0, size_t b1) {
      std::vector<T> w((size_t)m * n), tau(k), work;
      int lwork = 0;
      for (size_t b = b0; b < b1; ++b) {
        transpose_copy(src + b * m * n, w.data(), m, n);  // column-major A
        int info = 0;
        if (lwork == 0) {
          T q1, q2;
          Lapack<T>::geqrf(m, n, w.data(), m, tau.data(), &q1, -1, &info);
          Lapack<T>::orgqr(m, k, k, w.data(), m, tau.data(), &q2, -1, &info);
          lwork = std::max({1, (int)q1, (int)q2});
          work.resize(lwork);
        }
        Lapack<T>::geqrf(m, n, w.data(), m, tau.data(), work.data(), lwork, &info);
        T* R = rd + b * (size_t)k * n;
        for (int i = 0; i < k; ++i)
          for (int j = 0; j < n; ++j) R[(size_t)i * n + j] = j >= i ? w[(size_t)j * m + i] : T(0);
        Lapack<T>::orgqr(m, k, k, w.data(), m, tau.data(), work.data(), lwork, &info);
        if (info != 0) bad.set(info);
        T* Q = qd + b * (size_t)m * k;
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < k; ++j) Q[(size_t)i * k + j] = w[(size_t)j * m + i];
      }
    });
  });
  bad.check("linalg::qr", "The QR factorization failed");
}

// ---------- SVD

void SVD::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array a = ensure_row_contiguous(in[0]);
  for (auto& o : outs) alloc_out(o);
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  size_t batch = batch_of(a);
  if (batch == 0) return;
  array& sv = uv_ ? outs[1] : outs[0];
  Failure bad;
  if (a.dtype() == complex64) {
    svd_complex(a, outs, uv_, bad);
    bad.check("linalg::svd", "The singular value decomposition did not converge");
    return;
  }
  dispatch_real(a.dtype(), "linalg::svd", [&](auto t) {
    using T = decltype(t);
    const T* src = a.data<T>();
    T* sd = sv.data<T>();
    T* ud = uv_ ? outs[0].data<T>() : nullptr;
    T* vd = uv_ ? outs[2].data<T>() : nullptr;
    if (k == 0) {  // identity factors around an empty spectrum
      if (uv_)
        for (size_t b = 0; b < batch; ++b) {
          for (int i = 0; i < m; ++i)
            for (int j = 0; j < m; ++j) ud[b * m * m + (size_t)i * m + j] = T(i == j);
          for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j) vd[b * n * n + (size_t)i * n + j] = T(i == j);
        }
      return;
    }
    char jobz = uv_ ? 'A' : 'N';
    for_each_matrix(batch, std::max(m, n), [&](size_t b0, size_t b1) {
      std::vector<T> w((size_t)m * n), work;
      std::vector<int> iwork(8 * (size_t)k);
      T dummy = 0;
      int lwork = 0;
      for (size_t b = b0; b < b1; ++b) {
        std::copy(src + b * m * n, src + (b + 1) * m * n, w.begin());
        // The buffer is A^T (n x m) in column-major order: its U is our V^T and its V^T our U.
        T* U = uv_ ? vd + b * (size_t)n * n : &dummy;
        T* VT = uv_ ? ud + b * (size_t)m * m : &dummy;
        int ldu = uv_ ? n : 1, ldvt = uv_ ? m : 1;
        int info = 0;
        if (lwork == 0) {
          T q;
          Lapack<T>::gesdd(jobz, n, m, w.data(), n, sd, U, ldu, VT, ldvt, &q, -1, iwork.data(), &info);
          lwork = std::max(1, (int)q);
          work.resize(lwork);
        }
        Lapack<T>::gesdd(jobz, n, m, w.data(), n, sd + b * k, U, ldu, VT, ldvt, work.data(), lwork,
                         iwork.data(), &info);
        if (info != 0) bad.set(info);
      }
    });
  });
  bad.check("linalg::svd", "The singular value decomposition did not converge");
}

// ---------- Eigh

void Eigh::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array a = ensure_row_contiguous(in[0]);
  for (auto& o : outs) alloc_out(o);
  int n = a.shape(-1);
  size_t nn = (size_t)n * n, batch = batch_of(a);
  if (nn == 0) return;
  Failure bad;
  if (a.dtype() == complex64) {
    eigh_complex(a, outs, upper_, vectors_, bad);
    bad.check("linalg::eigh", "The eigenvalue decomposition did not converge");
    return;
  }
  dispatch_real(a.dtype(), "linalg::eigh", [&](auto t) {
    using T = decltype(t);
    const T* src = a.data<T>();
    T* wd = outs[0].data<T>();
    T* vd = vectors_ ? outs[1].data<T>() : nullptr;
    char jobz = vectors_ ? 'V' : 'N', uplo = upper_ ? 'L' : 'U';
    for_each_matrix(batch, n, [&](size_t b0, size_t b1) {
      std::vector<T> w(nn), work;
      std::vector<int> iwork;
      int lwork = 0, liwork = 0;
      for (size_t b = b0; b < b1; ++b) {
        std::copy(src + b * nn, src + (b + 1) * nn, w.begin());
        int info = 0;
        if (lwork == 0) {
          T q;
          int qi = 0;
          Lapack<T>::syevd(jobz, uplo, n, w.data(), n, wd, &q, -1, &qi, -1, &info);
          lwork = std::max(1, (int)q);
          liwork = std::max(1, qi);
          work.resize(lwork);
          iwork.resize(liwork);
        }
        Lapack<T>::syevd(jobz, uplo, n, w.data(), n, wd + b * n, work.data(), lwork, iwork.data(),
                         liwork, &info);
        if (info != 0) bad.set(info);
        if (vectors_) transpose_copy(w.data(), vd + b * nn, n, n);  // columns are the vectors
      }
    });
  });
  bad.check("linalg::eigh", "The eigenvalue decomposition did not converge");
}

// ---------- Eig

void Eig::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array a = ensure_row_contiguous(in[0]);
  for (auto& o : outs) alloc_out(o);
  int n = a.shape(-1);
  size_t nn = (size_t)n * n, batch = batch_of(a);
  if (nn == 0) return;
  Failure bad;
  if (a.dtype() == complex64) {
    eig_complex(a, outs, vectors_, bad);
    bad.check("linalg::eig", "The eigenvalue decomposition did not converge");
    return;
  }
  dispatch_real(a.dtype(), "linalg::eig", [&](auto t) {
    using T = decltype(t);
    const T* src = a.data<T>();
    complex64_t* wd = outs[0].data<complex64_t>();
    complex64_t* vd = vectors_ ? outs[1].data<complex64_t>() : nullptr;
    for_each_matrix(batch, n, [&](size_t b0, size_t b1) {
      std::vector<T> w(nn), wr(n), wi(n), vr(vectors_ ? nn : 1), work;
      int lwork = 0;
      char jobvr = vectors_ ? 'V' : 'N';
      int ldvr = vectors_ ? n : 1;
      for (size_t b = b0; b < b1; ++b) {
        transpose_copy(src + b * nn, w.data(), n, n);
        int info = 0;
        if (lwork == 0) {
          T q;
          Lapack<T>::geev(jobvr, n, w.data(), n, wr.data(), wi.data(), vr.data(), ldvr, &q, -1, &info);
          lwork = std::max(1, (int)q);
          work.resize(lwork);
        }
        Lapack<T>::geev(jobvr, n, w.data(), n, wr.data(), wi.data(), vr.data(), ldvr, work.data(),
                        lwork, &info);
        if (info != 0) bad.set(info);
        complex64_t* W = wd + b * n;
        for (int j = 0; j < n; ++j) W[j] = complex64_t((float)wr[j], (float)wi[j]);
        if (!vectors_) continue;
        complex64_t* V = vd + b * nn;
        // A complex pair keeps its vector's real and imaginary parts in two columns.
        for (int j = 0; j < n; ++j) {
          if (wi[j] == T(0)) {
            for (int i = 0; i < n; ++i) V[(size_t)i * n + j] = complex64_t((float)vr[(size_t)j * n + i], 0.f);
          } else if (j + 1 < n) {
            for (int i = 0; i < n; ++i) {
              float re = (float)vr[(size_t)j * n + i], im = (float)vr[(size_t)(j + 1) * n + i];
              V[(size_t)i * n + j] = complex64_t(re, im);
              V[(size_t)i * n + j + 1] = complex64_t(re, -im);
            }
            ++j;
          }
        }
      }
    });
  });
  bad.check("linalg::eig", "The eigenvalue decomposition did not converge");
}

// ---------- LUF

void LUF::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array a = ensure_row_contiguous(in[0]);
  for (auto& o : outs) alloc_out(o);
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  size_t batch = batch_of(a);
  if (batch == 0) return;
  uint32_t* piv = outs[1].data<uint32_t>();
  uint32_t* perm = outs[2].data<uint32_t>();
  dispatch_real(a.dtype(), "linalg::lu_factor", [&](auto t) {
    using T = decltype(t);
    const T* src = a.data<T>();
    T* lu = outs[0].data<T>();
    for_each_matrix(batch, std::max(m, n), [&](size_t b0, size_t b1) {
      std::vector<T> w((size_t)m * n);
      std::vector<int> ipiv(std::max(k, 1));
      std::vector<uint32_t> rows(m);
      for (size_t b = b0; b < b1; ++b) {
        int info = 0;
        if (k > 0) {
          transpose_copy(src + b * m * n, w.data(), m, n);
          Lapack<T>::getrf(m, n, w.data(), m, ipiv.data(), &info);  // info > 0: singular, fine
          transpose_copy(w.data(), lu + b * m * n, n, m);
        }
        for (int i = 0; i < k; ++i) piv[b * k + i] = (uint32_t)(ipiv[i] - 1);
        // rows: A[rows] = L U; P is its inverse, so that A = L[P] U.
        for (int i = 0; i < m; ++i) rows[i] = i;
        for (int i = 0; i < k; ++i) std::swap(rows[i], rows[ipiv[i] - 1]);
        for (int i = 0; i < m; ++i) perm[b * m + rows[i]] = (uint32_t)i;
      }
    });
  });
}

// ---------- Solve

void Solve::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array a = ensure_row_contiguous(in[0]);
  array bm = ensure_row_contiguous(in[1]);
  array& out = outs[0];
  alloc_out(out);
  int n = a.shape(-1), k = bm.shape(-1);
  size_t nn = (size_t)n * n, nk = (size_t)n * k, batch = batch_of(a);
  if (nn == 0 || nk == 0) return;
  Failure bad;
  dispatch_real(a.dtype(), "linalg::solve", [&](auto t) {
    using T = decltype(t);
    const T *as = a.data<T>(), *bs = bm.data<T>();
    T* xd = out.data<T>();
    for_each_matrix(batch, n, [&](size_t b0, size_t b1) {
      std::vector<T> w(nn), rhs(k == 1 ? 0 : nk);
      std::vector<int> ipiv(n);
      for (size_t b = b0; b < b1; ++b) {
        transpose_copy(as + b * nn, w.data(), n, n);
        T* x = xd + b * nk;
        T* B = k == 1 ? x : rhs.data();
        if (k == 1)
          std::copy(bs + b * nk, bs + (b + 1) * nk, x);
        else
          transpose_copy(bs + b * nk, B, n, k);
        int info = 0;
        Lapack<T>::gesv(n, k, w.data(), n, ipiv.data(), B, n, &info);
        if (info != 0) bad.set(info);
        if (k != 1) transpose_copy(B, x, k, n);
      }
    });
  });
  bad.check("linalg::solve", "The matrix is singular");
}

// ---------- SLogDet

void SLogDet::eval_cpu(const std::vector<array>& in, std::vector<array>& outs) {
  array a = ensure_row_contiguous(in[0]);
  for (auto& o : outs) alloc_out(o);
  int n = a.shape(-1);
  size_t nn = (size_t)n * n, batch = batch_of(a);
  if (batch == 0) return;
  dispatch_real(a.dtype(), "linalg::slogdet", [&](auto t) {
    using T = decltype(t);
    const T* src = a.data<T>();
    T *sg = outs[0].data<T>(), *la = outs[1].data<T>();
    for_each_matrix(batch, n, [&](size_t b0, size_t b1) {
      std::vector<T> w(std::max<size_t>(nn, 1));
      std::vector<int> ipiv(std::max(n, 1));
      for (size_t b = b0; b < b1; ++b) {
        int info = 0;
        if (n > 0) {
          std::copy(src + b * nn, src + (b + 1) * nn, w.begin());  // det(A^T) = det(A)
          Lapack<T>::getrf(n, n, w.data(), n, ipiv.data(), &info);
        }
        T sign = 1, logabs = 0;
        for (int i = 0; i < n; ++i) {
          T u = w[(size_t)i * n + i];
          if (ipiv[i] != i + 1) sign = -sign;
          if (u < 0) sign = -sign;
          logabs += std::log(std::abs(u));
        }
        if (info > 0) {
          sign = 0;
          logabs = -std::numeric_limits<T>::infinity();
        }
        sg[b] = sign;
        la[b] = logabs;
      }
    });
  });
}

}  // namespace ember
