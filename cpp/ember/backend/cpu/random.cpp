// Counter-based random bits (threefry2x32, 20 rounds) and the covariance square root
// used by multivariate_normal.
#include <cmath>
#include <cstring>

#include "ember/backend/cpu/kernels.h"
#include "ember/primitives.h"

// LAPACK from the scipy-openblas32 wheel (32-bit integers, row-major LAPACKE interface).
extern "C" int scipy_LAPACKE_dgesvd(int layout, char jobu, char jobvt, int m, int n, double* a,
                                    int lda, double* s, double* u, int ldu, double* vt, int ldvt,
                                    double* superb);

namespace ember {

using namespace cpu;

namespace {

inline uint32_t rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

inline void threefry2x32(const uint32_t key[2], uint32_t& x0, uint32_t& x1) {
  static const int R[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  uint32_t ks[3] = {key[0], key[1], 0x1BD11BDAu ^ key[0] ^ key[1]};
  x0 += ks[0];
  x1 += ks[1];
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 4; ++j) {
      x0 += x1;
      x1 = rotl(x1, R[(i % 2) * 4 + j]);
      x1 ^= x0;
    }
    x0 += ks[(i + 1) % 3];
    x1 += ks[(i + 2) % 3] + (uint32_t)(i + 1);
  }
}

// Copies up to 4 bytes of `w` to byte `off` of a block of `bytes` bytes.
inline void put_word(uint8_t* dst, size_t off, size_t bytes, uint32_t w) {
  if (off >= bytes) return;
  std::memcpy(dst + off, &w, std::min<size_t>(4, bytes - off));
}

}  // namespace

// Each key fills its own block of the output, read as little-endian 32-bit words w[0..n).
// With h = ceil(n / 2), one threefry call on the counters (i, i + h) gives w[i] and
// w[i + h]; when n is odd the last call has no second word and its second counter is 0.
// A block whose size is not a multiple of 4 bytes keeps the leading bytes of its last word.
void RandomBits::eval_cpu(const std::vector<array>& in, array& out) {
  alloc_out(out);
  if (out.size() == 0) return;
  array keys = ensure_row_contiguous(in[0]);
  size_t nkeys = keys.size() / 2;
  size_t bytes = out.nbytes() / nkeys;
  size_t words = (bytes + 3) / 4;
  size_t half = (words + 1) / 2;
  const uint32_t* pk = keys.data<uint32_t>();
  uint8_t* po = static_cast<uint8_t*>(out.raw_ptr());
  flat_for(nkeys * half, [&](size_t b, size_t e) {
    for (size_t j = b; j < e; ++j) {
      size_t k = j / half, i = j % half;
      uint32_t x0 = (uint32_t)i, x1 = i + half < words ? (uint32_t)(i + half) : 0u;
      threefry2x32(pk + 2 * k, x0, x1);
      uint8_t* dst = po + k * bytes;
      put_word(dst, 4 * i, bytes, x0);
      if (i + half < words) put_word(dst, 4 * (i + half), bytes, x1);
    }
  });
}

// U sqrt(S) V^T from the singular value decomposition of each (n, n) matrix: the
// symmetric square root of a positive semi-definite matrix.
void CovarianceRoot::eval_cpu(const std::vector<array>& in, array& out) {
  array c = ensure_row_contiguous(in[0]);
  alloc_out(out);
  int n = c.shape(-1);
  if (out.size() == 0) return;
  size_t nn = (size_t)n * n, batch = c.size() / nn;
  const float* src = c.data<float>();
  float* dst = out.data<float>();
  std::vector<double> a(nn), u(nn), vt(nn), sv(n), superb(std::max(n, 2));
  for (size_t b = 0; b < batch; ++b) {
    for (size_t i = 0; i < nn; ++i) a[i] = src[b * nn + i];
    int info = scipy_LAPACKE_dgesvd(101 /* row major */, 'A', 'A', n, n, a.data(), n, sv.data(),
                                    u.data(), n, vt.data(), n, superb.data());
    if (info != 0)
      throw std::runtime_error("[multivariate_normal] The singular value decomposition of cov did not converge.");
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        double acc = 0;
        for (int k = 0; k < n; ++k) acc += u[i * n + k] * std::sqrt(sv[k]) * vt[k * n + j];
        dst[b * nn + i * n + j] = (float)acc;
      }
  }
}

}  // namespace ember
