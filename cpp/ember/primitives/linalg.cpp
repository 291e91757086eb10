// Rules of the linear algebra primitives: output shapes, batching, and derivatives written
// with ops (matrix calculus on the last two axes, batched over the leading ones).
#include "ember/ops/common.h"
#include "ember/primitives/linalg.h"
#include "ember/ops/linalg.h"

namespace ember {

namespace {

using Arrays = std::vector<array>;
using Axes = std::vector<int>;

array mT(const array& x) { return swapaxes(x, -1, -2); }
array mm(const array& a, const array& b) { return matmul(a, b); }

// The lower (k <= 0 below the diagonal) or upper part of the last two axes.
array tril_k(const array& x, int k = 0) {
  int m = x.shape(-2), n = x.shape(-1);
  return where(tri(m, n, k, bool_), x, zeros_like(x));
}
array triu_k(const array& x, int k = 0) {
  int m = x.shape(-2), n = x.shape(-1);
  return where(tri(m, n, k - 1, bool_), zeros_like(x), x);
}
array eye_like(int n, const array& x) { return eye(n, n, 0, x.dtype()); }
array diag_of(const array& x) { return diagonal(x, 0, -2, -1); }
array diag_embed(const array& v) {
  int n = v.shape(-1);
  return multiply(expand_dims(v, -1), eye_like(n, v));
}
array sym(const array& x) { return multiply(add(x, mT(x)), array(0.5, x.dtype())); }
// F_ij = 1 / (d_j - d_i) off the diagonal, 0 on it, for the vector d (..., n).
array gap_inverse(const array& d) {
  int n = d.shape(-1);
  array e = eye_like(n, d);
  array gaps = subtract(expand_dims(d, -2), expand_dims(d, -1));
  return divide(subtract(ones_like(e), e), add(gaps, e));
}
// x[..., :, :k] and x[..., :k, :].
array first_cols(const array& x, int k) {
  if (x.shape(-1) == k) return x;
  Shape start(x.ndim(), 0), stop = x.shape();
  stop.back() = k;
  return slice(x, start, stop);
}
array last_cols(const array& x, int k) {
  Shape start(x.ndim(), 0), stop = x.shape();
  start.back() = k;
  return slice(x, start, stop);
}

Shape batch_shape(const array& a) { return Shape(a.shape().begin(), a.shape().end() - 2); }
Shape with(Shape s, std::initializer_list<int> tail) {
  for (int t : tail) s.push_back(t);
  return s;
}

[[noreturn]] void no_rule(const char* op, const char* what) {
  throw std::invalid_argument(std::string("[") + op + "] " + what + " is not supported.");
}

}  // namespace

// ---------- batching: the mapped axis joins the leading (batch) axes

std::pair<Arrays, Axes> LinalgPrimitive::vmap(const Arrays& inputs, const Axes& axes) {
  int size = 0;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (axes[i] >= 0) size = inputs[i].shape(axes[i]);
  Arrays ins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] >= 0) {
      ins.push_back(moveaxis(inputs[i], axes[i], 0, stream()));
    } else {
      Shape s = inputs[i].shape();
      s.insert(s.begin(), size);
      ins.push_back(broadcast_to(expand_dims(inputs[i], 0, stream()), s, stream()));
    }
  }
  Arrays outs = array::make_arrays(output_shapes(ins), output_dtypes(ins), clone(stream()), ins);
  return {outs, Axes(outs.size(), 0)};
}

// ---------- Inverse

std::vector<Shape> Inverse::output_shapes(const Arrays& in) { return {in[0].shape()}; }
std::vector<Dtype> Inverse::output_dtypes(const Arrays& in) const { return {in[0].dtype()}; }

// d(A^-1) = -X dA X; only the triangle a triangular inverse reads carries a derivative.
Arrays Inverse::vjp(const Arrays&, const Arrays& ct, const Axes&, const Arrays& outs) {
  array xt = mT(outs[0]);
  array g = negative(mm(mm(xt, ct[0]), xt));
  if (tri_) g = upper_ ? triu_k(g) : tril_k(g);
  return {g};
}
Arrays Inverse::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  array x = tri_ ? linalg::tri_inv(p[0], upper_, stream()) : linalg::inv(p[0], stream());
  array d = t[0];
  if (tri_) d = upper_ ? triu_k(d) : tril_k(d);
  return {negative(mm(mm(x, d), x))};
}

// ---------- Cholesky (A = L L^T; an upper factor is L^T)

std::vector<Shape> Cholesky::output_shapes(const Arrays& in) { return {in[0].shape()}; }
std::vector<Dtype> Cholesky::output_dtypes(const Arrays& in) const { return {in[0].dtype()}; }

namespace {
// The lower triangle with its diagonal halved.
array phi(const array& x) { return subtract(tril_k(x), multiply(diag_embed(diag_of(x)), array(0.5, x.dtype()))); }
}  // namespace

Arrays Cholesky::vjp(const Arrays&, const Arrays& ct, const Axes&, const Arrays& outs) {
  array l = upper_ ? mT(outs[0]) : outs[0];
  array gl = tril_k(upper_ ? mT(ct[0]) : ct[0]);
  array linv = linalg::tri_inv(l, false, stream());
  array s = mm(mm(mT(linv), phi(mm(mT(l), gl))), linv);
  return {sym(s)};
}
Arrays Cholesky::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  array l = linalg::cholesky(p[0], false, stream());
  if (upper_) l = linalg::cholesky(p[0], true, stream());
  array lo = upper_ ? mT(l) : l;
  array linv = linalg::tri_inv(lo, false, stream());
  array dl = mm(lo, phi(mm(mm(linv, sym(t[0])), mT(linv))));
  return {upper_ ? mT(dl) : dl};
}

// ---------- QRF

std::vector<Shape> QRF::output_shapes(const Arrays& in) {
  int m = in[0].shape(-2), n = in[0].shape(-1), k = std::min(m, n);
  Shape b = batch_shape(in[0]);
  return {with(b, {m, k}), with(b, {k, n})};
}
std::vector<Dtype> QRF::output_dtypes(const Arrays& in) const { return {in[0].dtype(), in[0].dtype()}; }

namespace {
// Reverse rule of A = Q R for m >= n (Q: m x n, R: n x n upper).
array qr_tall_vjp(const array& q, const array& r, const array& gq, const array& gr, Stream s) {
  array m = subtract(mm(r, mT(gr)), mm(mT(gq), q));
  array copyltu = add(tril_k(m), mT(tril_k(m, -1)));
  array b = add(gq, mm(q, copyltu));
  return mm(b, mT(linalg::tri_inv(r, true, s)));
}
// Forward rule for m >= n: (dQ, dR).
std::pair<array, array> qr_tall_jvp(const array& q, const array& r, const array& da, Stream s) {
  array rinv = linalg::tri_inv(r, true, s);
  array dar = mm(da, rinv);
  array c = mm(mT(q), dar);
  array upper = add(triu_k(c), mT(tril_k(c, -1)));  // dR R^-1
  array dr = mm(upper, r);
  array dq = subtract(dar, mm(q, upper));
  return {dq, dr};
}
}  // namespace

// A wide matrix is [X | Y] with X square: Q R_X = X and R = [R_X | Q^T Y].
Arrays QRF::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays& outs) {
  const array &q = outs[0], &r = outs[1];
  int m = p[0].shape(-2), n = p[0].shape(-1);
  if (m >= n) return {qr_tall_vjp(q, r, ct[0], ct[1], stream())};
  array y = last_cols(p[0], m);
  array rx = first_cols(r, m), gv = last_cols(ct[1], m);
  array gx = qr_tall_vjp(q, rx, add(ct[0], mm(y, mT(gv))), first_cols(ct[1], m), stream());
  return {concatenate({gx, mm(q, gv)}, -1)};
}
Arrays QRF::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  auto [q, r] = linalg::qr(p[0], stream());
  int m = p[0].shape(-2), n = p[0].shape(-1);
  if (m >= n) {
    auto [dq, dr] = qr_tall_jvp(q, r, t[0], stream());
    return {dq, dr};
  }
  array y = last_cols(p[0], m), dy = last_cols(t[0], m);
  auto [dq, drx] = qr_tall_jvp(q, first_cols(r, m), first_cols(t[0], m), stream());
  array dv = add(mm(mT(dq), y), mm(mT(q), dy));
  return {dq, concatenate({drx, dv}, -1)};
}

// ---------- SVD (the rules act on the leading k columns of U and V)

std::vector<Shape> SVD::output_shapes(const Arrays& in) {
  int m = in[0].shape(-2), n = in[0].shape(-1), k = std::min(m, n);
  Shape b = batch_shape(in[0]);
  if (!uv_) return {with(b, {k})};
  return {with(b, {m, m}), with(b, {k}), with(b, {n, n})};
}
std::vector<Dtype> SVD::output_dtypes(const Arrays& in) const {
  Dtype t = in[0].dtype(), r = t == complex64 ? float32 : t;
  if (!uv_) return {r};
  return {t, r, t};
}

Arrays SVD::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays& outs) {
  if (p[0].dtype() == complex64) no_rule("linalg::svd", "Differentiation of a complex svd");
  int m = p[0].shape(-2), n = p[0].shape(-1), k = std::min(m, n);
  Arrays f = uv_ ? outs : linalg::svd(p[0], true, stream());
  array uk = first_cols(f[0], k), s = f[1], vk = first_cols(mT(f[2]), k);
  array gs = uv_ ? ct[1] : ct[0];
  array inner = diag_embed(gs);
  array sinv;
  if (uv_) {
    array gu = first_cols(ct[0], k), gv = first_cols(mT(ct[2]), k);
    array fm = gap_inverse(square(s));
    array j = multiply(fm, subtract(mm(mT(uk), gu), mm(mT(gu), uk)));
    array kk = multiply(fm, subtract(mm(mT(vk), gv), mm(mT(gv), vk)));
    inner = add(inner, add(multiply(j, expand_dims(s, -2)), multiply(expand_dims(s, -1), kk)));
    sinv = reciprocal(s);
    array g = mm(mm(uk, inner), mT(vk));
    if (m > k) {
      array gus = multiply(gu, expand_dims(sinv, -2));  // Gu S^-1
      g = add(g, mm(subtract(gus, mm(uk, mm(mT(uk), gus))), mT(vk)));
    }
    if (n > k) {
      array gvs = multiply(gv, expand_dims(sinv, -2));  // Gv S^-1
      g = add(g, mm(uk, mT(subtract(gvs, mm(vk, mm(mT(vk), gvs))))));
    }
    return {g};
  }
  return {mm(mm(uk, inner), mT(vk))};
}
Arrays SVD::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  if (p[0].dtype() == complex64) no_rule("linalg::svd", "Differentiation of a complex svd");
  int m = p[0].shape(-2), n = p[0].shape(-1), k = std::min(m, n);
  Arrays f = linalg::svd(p[0], true, stream());
  array u = f[0], s = f[1], v = mT(f[2]);
  array uk = first_cols(u, k), vk = first_cols(v, k);
  const array& da = t[0];
  array dp = mm(mm(mT(uk), da), vk);
  array ds = diag_of(dp);
  if (!uv_) return {ds};
  array fm = gap_inverse(square(s));
  array srow = expand_dims(s, -2), scol = expand_dims(s, -1), sinv = expand_dims(reciprocal(s), -2);
  array du = mm(uk, multiply(fm, add(multiply(dp, srow), multiply(scol, mT(dp)))));
  array dv = mm(vk, multiply(fm, add(multiply(scol, dp), multiply(mT(dp), srow))));
  if (m > k) {
    array x = multiply(mm(da, vk), sinv);
    du = add(du, subtract(x, mm(uk, mm(mT(uk), x))));
  }
  if (n > k) {
    array x = multiply(mm(mT(da), uk), sinv);
    dv = add(dv, subtract(x, mm(vk, mm(mT(vk), x))));
  }
  // The trailing columns of a full U (V) turn with the leading ones: -U_k (dU_k^T U_perp).
  if (m > k) du = concatenate({du, negative(mm(uk, mm(mT(du), last_cols(u, k))))}, -1);
  if (n > k) dv = concatenate({dv, negative(mm(vk, mm(mT(dv), last_cols(v, k))))}, -1);
  return {du, ds, mT(dv)};
}

// ---------- Eig (no derivatives)

std::vector<Shape> Eig::output_shapes(const Arrays& in) {
  int n = in[0].shape(-1);
  Shape b = batch_shape(in[0]);
  if (!vectors_) return {with(b, {n})};
  return {with(b, {n}), with(b, {n, n})};
}
std::vector<Dtype> Eig::output_dtypes(const Arrays&) const {
  if (!vectors_) return {complex64};
  return {complex64, complex64};
}
Arrays Eig::vjp(const Arrays&, const Arrays&, const Axes&, const Arrays&) {
  no_rule("linalg::eig", "Differentiation of eig");
}
Arrays Eig::jvp(const Arrays&, const Arrays&, const Axes&) { no_rule("linalg::eig", "Differentiation of eig"); }

// ---------- Eigh (A V = V diag(w); the symmetric part of A is what is read)

std::vector<Shape> Eigh::output_shapes(const Arrays& in) {
  int n = in[0].shape(-1);
  Shape b = batch_shape(in[0]);
  if (!vectors_) return {with(b, {n})};
  return {with(b, {n}), with(b, {n, n})};
}
std::vector<Dtype> Eigh::output_dtypes(const Arrays& in) const {
  Dtype t = in[0].dtype(), r = t == complex64 ? float32 : t;
  if (!vectors_) return {r};
  return {r, t};
}
Arrays Eigh::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays& outs) {
  if (p[0].dtype() == complex64) no_rule("linalg::eigh", "Differentiation of a complex eigh");
  std::string uplo = upper_ ? "U" : "L";
  array w = outs[0];
  array v = vectors_ ? outs[1] : linalg::eigh(p[0], uplo, stream()).second;
  array inner = diag_embed(ct[0]);
  if (vectors_) inner = add(inner, multiply(gap_inverse(w), mm(mT(v), ct[1])));
  return {sym(mm(mm(v, inner), mT(v)))};
}
Arrays Eigh::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  if (p[0].dtype() == complex64) no_rule("linalg::eigh", "Differentiation of a complex eigh");
  auto [w, v] = linalg::eigh(p[0], upper_ ? "U" : "L", stream());
  array dp = mm(mm(mT(v), sym(t[0])), v);
  array dw = diag_of(dp);
  if (!vectors_) return {dw};
  return {dw, mm(v, multiply(gap_inverse(w), dp))};
}

// ---------- LUF (no derivatives)

std::vector<Shape> LUF::output_shapes(const Arrays& in) {
  int m = in[0].shape(-2), n = in[0].shape(-1), k = std::min(m, n);
  Shape b = batch_shape(in[0]);
  return {in[0].shape(), with(b, {k}), with(b, {m})};
}
std::vector<Dtype> LUF::output_dtypes(const Arrays& in) const { return {in[0].dtype(), uint32, uint32}; }
Arrays LUF::vjp(const Arrays&, const Arrays&, const Axes&, const Arrays&) {
  no_rule("linalg::lu", "Differentiation of the LU factorization");
}
Arrays LUF::jvp(const Arrays&, const Arrays&, const Axes&) {
  no_rule("linalg::lu", "Differentiation of the LU factorization");
}

// ---------- Solve (X = A^-1 B)

std::vector<Shape> Solve::output_shapes(const Arrays& in) { return {in[1].shape()}; }
std::vector<Dtype> Solve::output_dtypes(const Arrays& in) const { return {in[1].dtype()}; }
Arrays Solve::vjp(const Arrays& p, const Arrays& ct, const Axes& argnums, const Arrays& outs) {
  array gb = linalg::solve(mT(p[0]), ct[0], stream());
  Arrays r;
  for (int i : argnums) r.push_back(i == 0 ? negative(mm(gb, mT(outs[0]))) : gb);
  return r;
}
// dX = A^-1 (dB - dA X).
Arrays Solve::jvp(const Arrays& p, const Arrays& t, const Axes& argnums) {
  array rhs = zeros_like(p[1]);
  bool have = false;
  for (size_t i = 0; i < argnums.size(); ++i) {
    if (argnums[i] == 1) {
      rhs = have ? add(rhs, t[i]) : t[i];
      have = true;
    }
  }
  for (size_t i = 0; i < argnums.size(); ++i) {
    if (argnums[i] == 0) {
      array dax = mm(t[i], linalg::solve(p[0], p[1], stream()));
      rhs = have ? subtract(rhs, dax) : negative(dax);
      have = true;
    }
  }
  return {linalg::solve(p[0], rhs, stream())};
}

// ---------- SLogDet (d log|det A| = tr(A^-1 dA); the sign is piecewise constant)

std::vector<Shape> SLogDet::output_shapes(const Arrays& in) {
  Shape b = batch_shape(in[0]);
  return {b, b};
}
std::vector<Dtype> SLogDet::output_dtypes(const Arrays& in) const { return {in[0].dtype(), in[0].dtype()}; }
Arrays SLogDet::vjp(const Arrays& p, const Arrays& ct, const Axes&, const Arrays&) {
  array g = expand_dims(expand_dims(ct[1], -1), -1);
  return {multiply(g, mT(linalg::inv(p[0], stream())))};
}
Arrays SLogDet::jvp(const Arrays& p, const Arrays& t, const Axes&) {
  array dl = sum(multiply(mT(linalg::inv(p[0], stream())), t[0]), {-2, -1});
  return {zeros(batch_shape(p[0]), p[0].dtype()), dl};
}

}  // namespace ember
