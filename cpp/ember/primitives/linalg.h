// Linear algebra primitives. Each works on the last two axes of its inputs, one LAPACK call
// per matrix, and batches over the leading axes; vmap moves the mapped axis in front of them.
// Gradient rules are written with ops (so they compose with every transformation);
// symmetric inputs (cholesky, eigh) get the symmetric gradient.
#pragma once

#include "ember/primitive.h"

namespace ember {

class LinalgPrimitive : public Primitive {
 public:
  using Primitive::Primitive;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                        const std::vector<int>& axes) override;
  bool is_equivalent(const Primitive& o) const override {
    return typeid(*this) == typeid(o) && key() == static_cast<const LinalgPrimitive&>(o).key();
  }
  virtual std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) const = 0;
  virtual std::shared_ptr<Primitive> clone(Stream s) const = 0;
  // The parameters, packed for is_equivalent.
  virtual int key() const { return 0; }
};

#define EMBER_LINALG_COMMON(NAME, KEY)                                                    \
  const char* name() const override { return #NAME; }                                     \
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;  \
  std::vector<array> vjp(const std::vector<array>&, const std::vector<array>&,           \
                         const std::vector<int>&, const std::vector<array>&) override;    \
  std::vector<array> jvp(const std::vector<array>&, const std::vector<array>&,           \
                         const std::vector<int>&) override;                               \
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;            \
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) const override;      \
  int key() const override { return KEY; }

// General inverse (getrf + getri) or, with `tri`, the inverse of the lower or upper triangle.
class Inverse : public LinalgPrimitive {
 public:
  Inverse(Stream s, bool tri, bool upper) : LinalgPrimitive(s), tri_(tri), upper_(upper) {}
  EMBER_LINALG_COMMON(Inverse, tri_ * 2 + upper_)
  std::shared_ptr<Primitive> clone(Stream s) const override {
    return std::make_shared<Inverse>(s, tri_, upper_);
  }
  bool tri_, upper_;
};

// The Cholesky factor of the lower (upper) triangle; a matrix that is not positive
// definite gives NaN.
class Cholesky : public LinalgPrimitive {
 public:
  Cholesky(Stream s, bool upper) : LinalgPrimitive(s), upper_(upper) {}
  EMBER_LINALG_COMMON(Cholesky, upper_)
  std::shared_ptr<Primitive> clone(Stream s) const override { return std::make_shared<Cholesky>(s, upper_); }
  bool upper_;
};

// Outputs: Q (m, k), R (k, n).
class QRF : public LinalgPrimitive {
 public:
  using LinalgPrimitive::LinalgPrimitive;
  EMBER_LINALG_COMMON(QRF, 0)
  std::shared_ptr<Primitive> clone(Stream s) const override { return std::make_shared<QRF>(s); }
};

// Outputs: U (m, m), S (k), Vt (n, n), or only S.
class SVD : public LinalgPrimitive {
 public:
  SVD(Stream s, bool uv) : LinalgPrimitive(s), uv_(uv) {}
  EMBER_LINALG_COMMON(SVD, uv_)
  std::shared_ptr<Primitive> clone(Stream s) const override { return std::make_shared<SVD>(s, uv_); }
  bool uv_;
};

// Outputs: eigenvalues (n) and right eigenvectors (n, n), complex64; or the values only.
class Eig : public LinalgPrimitive {
 public:
  Eig(Stream s, bool vectors) : LinalgPrimitive(s), vectors_(vectors) {}
  EMBER_LINALG_COMMON(Eig, vectors_)
  std::shared_ptr<Primitive> clone(Stream s) const override { return std::make_shared<Eig>(s, vectors_); }
  bool vectors_;
};

// Outputs: ascending eigenvalues (n) and eigenvectors in columns (n, n); or the values only.
class Eigh : public LinalgPrimitive {
 public:
  Eigh(Stream s, bool upper, bool vectors) : LinalgPrimitive(s), upper_(upper), vectors_(vectors) {}
  EMBER_LINALG_COMMON(Eigh, upper_ * 2 + vectors_)
  std::shared_ptr<Primitive> clone(Stream s) const override {
    return std::make_shared<Eigh>(s, upper_, vectors_);
  }
  bool upper_, vectors_;
};

// Outputs: packed LU (m, n), 0-based pivots (k, uint32) and the row permutation P
// (m, uint32) with A = L[P] U.
class LUF : public LinalgPrimitive {
 public:
  using LinalgPrimitive::LinalgPrimitive;
  EMBER_LINALG_COMMON(LUF, 0)
  std::shared_ptr<Primitive> clone(Stream s) const override { return std::make_shared<LUF>(s); }
};

// Inputs: a (..., n, n) and b (..., n, k) with the same batch shape. Output: x (..., n, k).
// A singular matrix raises.
class Solve : public LinalgPrimitive {
 public:
  using LinalgPrimitive::LinalgPrimitive;
  EMBER_LINALG_COMMON(Solve, 0)
  std::shared_ptr<Primitive> clone(Stream s) const override { return std::make_shared<Solve>(s); }
};

// Outputs: sign and log|det| of each (n, n) matrix (sign 0 and -inf when singular).
class SLogDet : public LinalgPrimitive {
 public:
  using LinalgPrimitive::LinalgPrimitive;
  EMBER_LINALG_COMMON(SLogDet, 0)
  std::shared_ptr<Primitive> clone(Stream s) const override { return std::make_shared<SLogDet>(s); }
};

#undef EMBER_LINALG_COMMON

}  // namespace ember
