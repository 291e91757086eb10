// Linear algebra (ember::linalg): factorizations, inverses, solves, eigenvalue problems
// and norms on the last two axes, batched over the leading ones. The forward runs on the
// CPU through LAPACK (float32 and float64; complex64 results for eig).
#pragma once

#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "ember/array.h"

namespace ember::linalg {

// ord of norm: none (2-norm / Frobenius), a number, or "fro" / "nuc".
using NormOrd = std::variant<std::monostate, double, std::string>;

array norm(const array& a, const NormOrd& ord = {}, const std::optional<std::vector<int>>& axis = std::nullopt,
           bool keepdims = false, StreamOrDevice s = {});

array inv(const array& a, StreamOrDevice s = {});
// Inverse of the triangular matrix in the lower (or upper) triangle; the other is ignored.
array tri_inv(const array& a, bool upper = false, StreamOrDevice s = {});
// L with A = L L^T (or U with A = U^T U), reading the lower (or upper) triangle of A.
array cholesky(const array& a, bool upper = false, StreamOrDevice s = {});
// The inverse of A from its Cholesky factor.
array cholesky_inv(const array& l, bool upper = false, StreamOrDevice s = {});
// x with a x = b; b is a vector when it is 1-D, otherwise (..., n, k). Batches broadcast.
array solve(const array& a, const array& b, StreamOrDevice s = {});
array solve_triangular(const array& a, const array& b, bool upper = false, StreamOrDevice s = {});
// Reduced QR: Q (..., m, k), R (..., k, n), k = min(m, n).
std::pair<array, array> qr(const array& a, StreamOrDevice s = {});
// U (..., m, m), S (..., k), Vt (..., n, n); only S when compute_uv is false.
std::vector<array> svd(const array& a, bool compute_uv = true, StreamOrDevice s = {});
// Eigenvalues and right eigenvectors (complex64).
std::pair<array, array> eig(const array& a, StreamOrDevice s = {});
array eigvals(const array& a, StreamOrDevice s = {});
// Symmetric eigenproblem reading the UPLO ("L" or "U") triangle: ascending values, vectors.
std::pair<array, array> eigh(const array& a, const std::string& UPLO = "L", StreamOrDevice s = {});
array eigvalsh(const array& a, const std::string& UPLO = "L", StreamOrDevice s = {});
// (P, L, U) with A = L[P] U; P is a uint32 row permutation.
std::vector<array> lu(const array& a, StreamOrDevice s = {});
// (LU packed, pivots) as LAPACK's getrf (0-based pivots, uint32).
std::pair<array, array> lu_factor(const array& a, StreamOrDevice s = {});
array pinv(const array& a, StreamOrDevice s = {});
array det(const array& a, StreamOrDevice s = {});
// (sign, log|det|).
std::pair<array, array> slogdet(const array& a, StreamOrDevice s = {});
array cross(const array& a, const array& b, int axis = -1, StreamOrDevice s = {});

}  // namespace ember::linalg
