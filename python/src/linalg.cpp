// ember.core.linalg: factorizations, inverses, solves, eigenproblems and norms.
#include "utils.h"

#include "ember/ops/linalg.h"

using namespace pybind11::literals;

namespace {

inline StreamOrDevice sd(const py::object& s) { return to_stream_or_device(s); }
inline array A(const py::object& o) { return to_array(o); }

linalg::NormOrd to_ord(const py::object& o) {
  if (o.is_none()) return std::monostate{};
  if (py::isinstance<py::str>(o)) return o.cast<std::string>();
  if (py::isinstance<py::bool_>(o) || py::isinstance<py::int_>(o) || py::isinstance<py::float_>(o) ||
      PyNumber_Check(o.ptr()))
    return o.cast<double>();
  throw py::type_error("[linalg::norm] ord must be None, a number or a string; got " +
                       std::string(py::str(py::type::handle_of(o).attr("__name__"))) + ".");
}

template <typename... T>
py::tuple tup(T&&... xs) {
  return py::make_tuple(std::forward<T>(xs)...);
}

}  // namespace

void init_linalg(py::module_& parent) {
  py::module_ m = parent.def_submodule("linalg", "Linear algebra: factorizations, inverses, solves, "
                                                 "eigenvalue problems and norms.");
  auto none = py::none();

  m.def("norm", [](const py::object& a, const py::object& ord, const py::object& axis, bool keepdims,
                   const py::object& s) {
    return linalg::norm(A(a), to_ord(ord), to_axes(axis), keepdims, sd(s));
  }, "a"_a, py::pos_only(), "ord"_a = none, "axis"_a = none, "keepdims"_a = false, py::kw_only(),
  "stream"_a = none,
  "Vector or matrix norm (ord None, 'fro', 'nuc', inf, -inf, or a number) over axis: one axis for "
  "vector norms, two for matrix norms; all of a's (1-D or 2-D) when axis is None.");
  parent.attr("matrix_norm") = m.attr("norm");

  m.def("inv", [](const py::object& a, const py::object& s) { return linalg::inv(A(a), sd(s)); },
        "a"_a, py::kw_only(), "stream"_a = none, "The inverse of each square matrix in the last two axes.");
  m.def("tri_inv", [](const py::object& a, bool upper, const py::object& s) {
    return linalg::tri_inv(A(a), upper, sd(s));
  }, "a"_a, "upper"_a = false, py::kw_only(), "stream"_a = none,
  "The inverse of the triangular matrix in the lower (or upper) triangle of a.");
  m.def("cholesky", [](const py::object& a, bool upper, const py::object& s) {
    return linalg::cholesky(A(a), upper, sd(s));
  }, "a"_a, "upper"_a = false, py::kw_only(), "stream"_a = none,
  "The Cholesky factor L (A = L L^T) of the lower triangle of a, or U (A = U^T U) of its upper one.");
  m.def("cholesky_inv", [](const py::object& a, bool upper, const py::object& s) {
    return linalg::cholesky_inv(A(a), upper, sd(s));
  }, "a"_a, "upper"_a = false, py::kw_only(), "stream"_a = none,
  "The inverse of A from its lower (or upper) Cholesky factor a.");
  m.def("solve", [](const py::object& a, const py::object& b, const py::object& s) {
    return linalg::solve(A(a), A(b), sd(s));
  }, "a"_a, "b"_a, py::kw_only(), "stream"_a = none, "x with a @ x = b (b a vector when 1-D).");
  m.def("solve_triangular", [](const py::object& a, const py::object& b, bool upper, const py::object& s) {
    return linalg::solve_triangular(A(a), A(b), upper, sd(s));
  }, "a"_a, "b"_a, py::kw_only(), "upper"_a = false, "stream"_a = none,
  "x with a @ x = b for the lower (or upper) triangle of a.");
  m.def("qr", [](const py::object& a, const py::object& s) {
    auto [q, r] = linalg::qr(A(a), sd(s));
    return tup(q, r);
  }, "a"_a, py::kw_only(), "stream"_a = none, "Reduced QR factorization: (Q, R).");
  m.def("svd", [](const py::object& a, bool compute_uv, const py::object& s) -> py::object {
    auto r = linalg::svd(A(a), compute_uv, sd(s));
    if (!compute_uv) return py::cast(r[0]);
    return tup(r[0], r[1], r[2]);
  }, "a"_a, "compute_uv"_a = true, py::kw_only(), "stream"_a = none,
  "Singular value decomposition: (U, S, Vt) with a = U diag(S) Vt, or S alone.");
  m.def("eig", [](const py::object& a, const py::object& s) {
    auto [w, v] = linalg::eig(A(a), sd(s));
    return tup(w, v);
  }, "a"_a, py::kw_only(), "stream"_a = none, "Eigenvalues and right eigenvectors (complex64).");
  m.def("eigvals", [](const py::object& a, const py::object& s) { return linalg::eigvals(A(a), sd(s)); },
        "a"_a, py::kw_only(), "stream"_a = none, "Eigenvalues (complex64).");
  m.def("eigh", [](const py::object& a, const std::string& uplo, const py::object& s) {
    auto [w, v] = linalg::eigh(A(a), uplo, sd(s));
    return tup(w, v);
  }, "a"_a, "UPLO"_a = "L", py::kw_only(), "stream"_a = none,
  "Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix given by a triangle.");
  m.def("eigvalsh", [](const py::object& a, const std::string& uplo, const py::object& s) {
    return linalg::eigvalsh(A(a), uplo, sd(s));
  }, "a"_a, "UPLO"_a = "L", py::kw_only(), "stream"_a = none,
  "Eigenvalues (ascending) of a symmetric matrix given by a triangle.");
  m.def("lu", [](const py::object& a, const py::object& s) {
    auto r = linalg::lu(A(a), sd(s));
    return tup(r[0], r[1], r[2]);
  }, "a"_a, py::kw_only(), "stream"_a = none, "LU factorization: (P, L, U) with a = L[P] @ U.");
  m.def("lu_factor", [](const py::object& a, const py::object& s) {
    auto [lu, piv] = linalg::lu_factor(A(a), sd(s));
    return tup(lu, piv);
  }, "a"_a, py::kw_only(), "stream"_a = none, "Packed LU factorization and 0-based pivots (uint32).");
  m.def("pinv", [](const py::object& a, const py::object& s) { return linalg::pinv(A(a), sd(s)); },
        "a"_a, py::kw_only(), "stream"_a = none, "Moore-Penrose pseudo-inverse.");
  m.def("det", [](const py::object& a, const py::object& s) { return linalg::det(A(a), sd(s)); },
        "a"_a, py::kw_only(), "stream"_a = none, "Determinant of each square matrix.");
  m.def("slogdet", [](const py::object& a, const py::object& s) {
    auto [sign, logabs] = linalg::slogdet(A(a), sd(s));
    return tup(sign, logabs);
  }, "a"_a, py::kw_only(), "stream"_a = none, "Sign and log of the absolute value of the determinant.");
  m.def("cross", [](const py::object& a, const py::object& b, int axis, const py::object& s) {
    return linalg::cross(A(a), A(b), axis, sd(s));
  }, "a"_a, "b"_a, "axis"_a = -1, py::kw_only(), "stream"_a = none,
  "Cross product of 3-vectors (or 2-vectors, third component zero) along axis.");
}
