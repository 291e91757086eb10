"""ember.core.linalg against numpy (reconstructions, values), against MLX (values, dtypes,
shapes, errors), derivatives against float64 finite differences, vmap against loops and
compile against eager."""
import math

import numpy as np
import pytest

import ember.core as mx

L = mx.linalg


def E(a, dtype=None):
    """An Ember array keeping float64 (mx.array makes numpy float64 float32, as MLX does)."""
    if dtype is None and isinstance(a, np.ndarray) and a.dtype == np.float64:
        dtype = mx.float64
    return mx.array(a) if dtype is None else mx.array(a, dtype=dtype)


def _mlx():
    return pytest.importorskip("mlx.core")


def rand(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def well(rng, shape, dtype=np.float32):
    """Well-conditioned square matrices."""
    n = shape[-1]
    return (rng.standard_normal(shape) + 3 * n ** 0.5 * np.eye(n)).astype(dtype)


def spd(rng, shape, dtype=np.float32):
    a = rng.standard_normal(shape)
    n = shape[-1]
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


def tol(dtype):
    return dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


DTYPES = [np.float32, np.float64]
SHAPES = [(4, 4), (3, 5, 5), (2, 2, 3, 3), (1, 1)]


# ---------------------------------------------------------------- forward values

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_inv(rng, dtype, shape):
    a = well(rng, shape, dtype)
    x = L.inv(E(a))
    assert x.dtype == E(a).dtype and x.shape == shape
    np.testing.assert_allclose(np.array(x), np.linalg.inv(a), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upper", [False, True])
def test_tri_inv_reads_one_triangle(rng, dtype, upper):
    a = well(rng, (3, 5, 5), dtype)
    t = np.triu(a) if upper else np.tril(a)
    x = np.array(L.tri_inv(E(a), upper=upper))
    np.testing.assert_allclose(x, np.linalg.inv(t), **tol(dtype))
    assert np.all((np.tril(x, -1) if upper else np.triu(x, 1)) == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(rng, dtype, upper):
    a = spd(rng, (3, 6, 6), dtype)
    c = np.array(L.cholesky(E(a), upper=upper))
    if upper:
        assert np.all(np.tril(c, -1) == 0)
        np.testing.assert_allclose(np.swapaxes(c, -1, -2) @ c, a, **tol(dtype))
    else:
        assert np.all(np.triu(c, 1) == 0)
        np.testing.assert_allclose(c, np.linalg.cholesky(a), **tol(dtype))
    # only the named triangle is read
    junk = a + (np.tril(np.ones_like(a), -1) if upper else np.triu(np.ones_like(a), 1)) * 7
    np.testing.assert_array_equal(np.array(L.cholesky(E(junk), upper=upper)), c)


def test_cholesky_not_positive_definite_gives_nan():
    c = np.array(L.cholesky(E(-np.eye(3, dtype=np.float32))))
    assert np.isnan(c).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inv(rng, dtype, upper):
    a = spd(rng, (2, 5, 5), dtype)
    c = L.cholesky(E(a), upper=upper)
    np.testing.assert_allclose(np.array(L.cholesky_inv(c, upper=upper)), np.linalg.inv(a), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_solve(rng, dtype):
    a = well(rng, (3, 5, 5), dtype)
    for b in [rand(rng, (5,), dtype), rand(rng, (3, 5, 2), dtype), rand(rng, (4, 1, 5, 3), dtype)]:
        x = L.solve(E(a), E(b))
        if b.ndim == 1:
            ref = np.linalg.solve(a, b[:, None])[..., 0]
        else:
            ref = np.linalg.solve(a, b)
        assert x.shape == ref.shape
        np.testing.assert_allclose(np.array(x), ref, **tol(dtype))


@pytest.mark.parametrize("upper", [False, True])
def test_solve_triangular(rng, upper):
    a = well(rng, (2, 4, 4), np.float64)
    b = rand(rng, (2, 4, 3), np.float64)
    t = np.triu(a) if upper else np.tril(a)
    x = L.solve_triangular(E(a), E(b), upper=upper)
    np.testing.assert_allclose(np.array(x), np.linalg.solve(t, b), rtol=1e-10)
    v = rand(rng, (4,), np.float64)
    np.testing.assert_allclose(np.array(L.solve_triangular(E(a[0]), E(v), upper=upper)),
                               np.linalg.solve(t[0], v), rtol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 5), (6, 3), (3, 6), (2, 4, 3), (2, 3, 4)])
def test_qr(rng, dtype, shape):
    a = rand(rng, shape, dtype)
    q, r = L.qr(E(a))
    k = min(shape[-2:])
    assert q.shape == shape[:-1] + (k,) and r.shape == shape[:-2] + (k, shape[-1])
    q, r = np.array(q), np.array(r)
    np.testing.assert_allclose(q @ r, a, **tol(dtype))
    np.testing.assert_allclose(np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(k), q.shape[:-2] + (k, k)),
                               **tol(dtype))
    assert np.all(np.tril(r, -1) == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 5), (6, 3), (3, 6), (2, 4, 3)])
def test_svd(rng, dtype, shape):
    a = rand(rng, shape, dtype)
    u, s, vt = L.svd(E(a))
    m, n = shape[-2:]
    k = min(m, n)
    assert u.shape == shape[:-2] + (m, m) and s.shape == shape[:-2] + (k,) and vt.shape == shape[:-2] + (n, n)
    u, s, vt = np.array(u), np.array(s), np.array(vt)
    rec = (u[..., :, :k] * s[..., None, :]) @ vt[..., :k, :]
    np.testing.assert_allclose(rec, a, **tol(dtype))
    np.testing.assert_allclose(np.swapaxes(u, -1, -2) @ u, np.broadcast_to(np.eye(m), u.shape), **tol(dtype))
    np.testing.assert_allclose(vt @ np.swapaxes(vt, -1, -2), np.broadcast_to(np.eye(n), vt.shape), **tol(dtype))
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), **tol(dtype))
    s2 = L.svd(E(a), compute_uv=False)
    assert isinstance(s2, mx.array)
    np.testing.assert_allclose(np.array(s2), s, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_eigh(rng, dtype):
    a = rand(rng, (3, 6, 6), dtype)
    for uplo in ["L", "U"]:
        sym = np.tril(a) + np.swapaxes(np.tril(a, -1), -1, -2) if uplo == "L" else \
            np.triu(a) + np.swapaxes(np.triu(a, 1), -1, -2)
        w, v = L.eigh(E(a), UPLO=uplo)
        w, v = np.array(w), np.array(v)
        np.testing.assert_allclose(w, np.linalg.eigvalsh(sym), **tol(dtype))
        np.testing.assert_allclose(sym @ v, v * w[..., None, :], rtol=1e-3 if dtype == np.float32 else 1e-9,
                                   atol=1e-3 if dtype == np.float32 else 1e-9)
        np.testing.assert_allclose(np.array(L.eigvalsh(E(a), UPLO=uplo)), w, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_eig(rng, dtype):
    a = rand(rng, (3, 5, 5), dtype)
    w, v = L.eig(E(a))
    assert w.dtype == mx.complex64 and v.dtype == mx.complex64
    w, v = np.array(w).astype(np.complex128), np.array(v).astype(np.complex128)
    np.testing.assert_allclose(a @ v, v * w[..., None, :], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(v, axis=-2), 1, rtol=1e-5)
    ref = np.linalg.eigvals(a)
    for got, want in zip(np.sort_complex(w.reshape(-1, 5)), np.sort_complex(ref.reshape(-1, 5))):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.array(L.eigvals(E(a))), w, rtol=1e-5, atol=1e-5)
    rot = L.eigvals(E([[0.0, 1.0], [-1.0, 0.0]]))
    np.testing.assert_allclose(np.sort_complex(np.array(rot)), [-1j, 1j], atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 5), (6, 3), (3, 6), (2, 4, 4)])
def test_lu(rng, dtype, shape):
    a = rand(rng, shape, dtype)
    p, l, u = L.lu(E(a))
    m, n = shape[-2:]
    k = min(m, n)
    assert p.dtype == mx.uint32 and p.shape == shape[:-2] + (m,)
    assert l.shape == shape[:-2] + (m, k) and u.shape == shape[:-2] + (k, n)
    p, l, u = np.array(p), np.array(l), np.array(u)
    lp = np.take_along_axis(l, p[..., :, None].astype(np.int64), axis=-2)
    np.testing.assert_allclose(lp @ u, a, **tol(dtype))
    assert np.all(np.triu(l, 1) == 0) and np.allclose(np.diagonal(l, axis1=-2, axis2=-1), 1)
    assert np.all(np.tril(u, -1) == 0)
    lu, piv = L.lu_factor(E(a))
    assert piv.dtype == mx.uint32 and piv.shape == shape[:-2] + (k,)
    lu = np.array(lu)
    np.testing.assert_allclose(np.tril(lu[..., :, :k], -1), np.tril(l, -1), **tol(dtype))
    np.testing.assert_allclose(np.triu(lu[..., :k, :]), u, **tol(dtype))


def test_pinv(rng):
    for shape in [(4, 4), (5, 3), (3, 5), (2, 4, 3)]:
        a = rand(rng, shape, np.float64)
        np.testing.assert_allclose(np.array(L.pinv(E(a))), np.linalg.pinv(a), rtol=1e-8, atol=1e-10)
    low_rank = np.ones((3, 2))
    np.testing.assert_allclose(np.array(L.pinv(E(low_rank))), np.linalg.pinv(low_rank), atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_det_slogdet(rng, dtype):
    a = rand(rng, (4, 5, 5), dtype)
    np.testing.assert_allclose(np.array(L.det(E(a))), np.linalg.det(a), rtol=1e-4 if dtype == np.float32 else 1e-10)
    sign, logabs = L.slogdet(E(a))
    rs, rl = np.linalg.slogdet(a)
    np.testing.assert_array_equal(np.array(sign), rs)
    np.testing.assert_allclose(np.array(logabs), rl, **tol(dtype))
    sign, logabs = L.slogdet(mx.zeros((3, 3)))
    assert sign.item() == 0 and logabs.item() == -math.inf
    assert L.det(mx.zeros((3, 3))).item() == 0
    d = L.det(E([[1, 2], [3, 4]]))
    assert d.dtype == mx.float32 and abs(d.item() + 2) < 1e-5
    assert L.det(mx.zeros((0, 0))).item() == 1


def test_cross(rng):
    a, b = rand(rng, (4, 3), np.float64), rand(rng, (4, 3), np.float64)
    np.testing.assert_allclose(np.array(L.cross(E(a), E(b))), np.cross(a, b), rtol=1e-12)
    np.testing.assert_allclose(np.array(L.cross(E(a.T), E(b.T), axis=0)), np.cross(a, b).T, rtol=1e-12)
    c = rand(rng, (2, 1, 3), np.float64)
    np.testing.assert_allclose(np.array(L.cross(E(c), E(b))), np.cross(c, b), rtol=1e-12)
    two = rand(rng, (2,), np.float64)
    np.testing.assert_allclose(np.array(L.cross(E(two), E(b[0]))),
                               np.cross(np.append(two, 0), b[0]), rtol=1e-12)
    r = L.cross(E([1, 2, 3]), E([4, 5, 6]))
    assert r.dtype == mx.int32 and r.tolist() == [-3, 6, -3]


VEC_ORDS = [None, 2, 1, -1, 0, 3, 0.5, math.inf, -math.inf, -2]
MAT_ORDS = [None, "fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2]


def test_norm_vector_and_matrix(rng):
    v = rand(rng, (7,), np.float64)
    for o in VEC_ORDS:
        np.testing.assert_allclose(np.array(L.norm(E(v), o)), np.linalg.norm(v, o), rtol=1e-10)
    m = rand(rng, (4, 6), np.float64)
    for o in MAT_ORDS:
        np.testing.assert_allclose(np.array(L.norm(E(m), o)), np.linalg.norm(m, o), rtol=1e-10)
        r = L.norm(E(m), o, keepdims=True)
        assert r.shape == (1, 1)
    t = rand(rng, (3, 4, 5), np.float64)
    np.testing.assert_allclose(np.array(L.norm(E(t))), np.linalg.norm(t.ravel()), rtol=1e-10)
    for axis in [(0, 2), (2, 0), (-1, 1)]:
        for o in MAT_ORDS:
            got = L.norm(E(t), o, axis=axis, keepdims=True)
            np.testing.assert_allclose(np.array(got), np.linalg.norm(t, o, axis=axis, keepdims=True), rtol=1e-10)
    for o in VEC_ORDS[:5]:
        np.testing.assert_allclose(np.array(L.norm(E(t), o, axis=1)), np.linalg.norm(t, o, axis=1), rtol=1e-10)
    assert L.norm(E([3, 4])).dtype == mx.float32 and L.norm(E([3, 4])).item() == 5
    assert L.norm(E([3, 4], mx.float16)).dtype == mx.float16
    assert mx.matrix_norm is L.norm


def test_empty_and_non_contiguous(rng):
    for f in [L.inv, L.cholesky, L.tri_inv, L.det]:
        r = f(mx.zeros((0, 3, 3)))
        mx.eval(r)
    assert L.svd(mx.zeros((0, 3, 4)))[1].shape == (0, 3)
    assert L.qr(mx.zeros((0, 3, 3)))[0].shape == (0, 3, 3)
    assert L.eigh(mx.zeros((0, 2, 2)))[1].shape == (0, 2, 2)
    assert L.eig(mx.zeros((0, 2, 2)))[0].shape == (0, 2)
    assert L.solve(mx.zeros((0, 2, 2)), mx.zeros((0, 2, 1))).shape == (0, 2, 1)
    assert L.lu(mx.zeros((0, 2, 2)))[0].shape == (0, 2)
    assert L.eigvalsh(mx.zeros((0, 0))).shape == (0,)
    a = well(rng, (6, 6), np.float64)
    at = E(a).T
    np.testing.assert_allclose(np.array(L.inv(at)), np.linalg.inv(a.T), rtol=1e-10)
    sl = E(well(rng, (8, 8), np.float64))[::2, ::2]
    np.testing.assert_allclose(np.array(L.inv(sl)), np.linalg.inv(np.array(sl)), rtol=1e-10)
    big = rand(rng, (6, 4), np.float64)
    q, r = L.qr(E(big)[::2].T)
    np.testing.assert_allclose(np.array(q) @ np.array(r), big[::2].T, atol=1e-12)


def test_singular_raises_and_recovers():
    with pytest.raises(RuntimeError):
        mx.eval(L.inv(mx.zeros((3, 3))))
    with pytest.raises(RuntimeError):
        mx.eval(L.tri_inv(mx.zeros((3, 3))))
    with pytest.raises(RuntimeError):
        mx.eval(L.solve(mx.zeros((3, 3)), mx.ones((3,))))
    p, l, u = L.lu(mx.zeros((3, 3)))  # singular factors are fine
    assert p.tolist() == [0, 1, 2]
    assert L.inv(mx.eye(2)).tolist() == [[1, 0], [0, 1]]


ERROR_CASES = [
    ("inv", lambda m: m.linalg.inv(m.ones((2, 3)))),
    ("inv", lambda m: m.linalg.inv(m.ones((3,)))),
    ("inv", lambda m: m.linalg.inv(m.array([[1, 2], [3, 4]]))),
    ("inv", lambda m: m.linalg.inv(m.ones((2, 2), m.float16))),
    ("tri_inv", lambda m: m.linalg.tri_inv(m.ones((2, 3)))),
    ("cholesky", lambda m: m.linalg.cholesky(m.ones((2, 3)))),
    ("cholesky", lambda m: m.linalg.cholesky(m.array([[1, 0], [0, 1]]))),
    ("cholesky_inv", lambda m: m.linalg.cholesky_inv(m.ones((3,)))),
    ("qr", lambda m: m.linalg.qr(m.ones((3,)))),
    ("qr", lambda m: m.linalg.qr(m.array([[1, 0], [0, 1]]))),
    ("svd", lambda m: m.linalg.svd(m.ones((3,)))),
    ("svd", lambda m: m.linalg.svd(m.array([[1, 0], [0, 1]]))),
    ("eig", lambda m: m.linalg.eig(m.ones((2, 3)))),
    ("eigvals", lambda m: m.linalg.eigvals(m.array([[1, 0], [0, 1]]))),
    ("eigh", lambda m: m.linalg.eigh(m.ones((2, 3)))),
    ("eigvalsh", lambda m: m.linalg.eigvalsh(m.ones((3,)))),
    ("lu", lambda m: m.linalg.lu(m.ones((3,)))),
    ("lu_factor", lambda m: m.linalg.lu_factor(m.array([[1, 0], [0, 1]]))),
    ("pinv", lambda m: m.linalg.pinv(m.array([[1, 0], [0, 1]]))),
    ("det", lambda m: m.linalg.det(m.ones((2, 3)))),
    ("slogdet", lambda m: m.linalg.slogdet(m.ones((3,)))),
    ("solve", lambda m: m.linalg.solve(m.ones((3, 3)), m.ones((4,)))),
    ("solve", lambda m: m.linalg.solve(m.ones((3, 2)), m.ones((3,)))),
    ("solve", lambda m: m.linalg.solve(m.ones((3,)), m.ones((3,)))),
    ("solve", lambda m: m.linalg.solve(m.eye(3, dtype=m.int32), m.ones((3,), m.int32))),
    ("solve_triangular", lambda m: m.linalg.solve_triangular(m.ones((3, 3)), m.ones((4,)))),
    ("cross", lambda m: m.linalg.cross(m.ones((4,)), m.ones((4,)))),
    ("cross", lambda m: m.linalg.cross(m.ones((3, 2)), m.ones((3, 2)), axis=5)),
    ("norm", lambda m: m.linalg.norm(m.ones((3,)), "fro")),
    ("norm", lambda m: m.linalg.norm(m.ones((3, 3)), 3)),
    ("norm", lambda m: m.linalg.norm(m.ones((3, 3)), "abc")),
    ("norm", lambda m: m.linalg.norm(m.ones((2, 3, 4)), 2)),
    ("norm", lambda m: m.linalg.norm(m.ones((2, 3, 4)), axis=(0, 1, 2))),
    ("norm", lambda m: m.linalg.norm(m.ones((2, 3)), axis=2)),
    ("norm", lambda m: m.linalg.norm(m.ones((2, 2), m.int32), 2)),
]


@pytest.mark.parametrize("name,case", ERROR_CASES)
def test_errors_match_mlx(name, case):
    mlx = _mlx()
    with pytest.raises(Exception) as ref:
        mx_ = mlx
        r = case(mx_)
        mlx.eval(r)
    with pytest.raises(ref.type) as got:
        mx.eval(case(mx))
    assert "linalg" in str(got.value) or "axis" in str(got.value).lower()
    assert L.inv(mx.eye(2)).shape == (2, 2)  # still working


# ---------------------------------------------------------------- against MLX

def test_values_match_mlx(rng):
    mlx = _mlx()
    cpu = mlx.cpu
    a = well(rng, (3, 4, 4), np.float32)
    s = spd(rng, (3, 4, 4), np.float32)
    b = rand(rng, (3, 4, 2), np.float32)
    t = rand(rng, (5, 3), np.float32)
    M = mlx.array
    pairs = [
        (L.inv(E(a)), mlx.linalg.inv(M(a), stream=cpu)),
        (L.tri_inv(E(a), upper=True), mlx.linalg.tri_inv(M(a), upper=True, stream=cpu)),
        (L.cholesky(E(s)), mlx.linalg.cholesky(M(s), stream=cpu)),
        (L.cholesky_inv(E(np.tril(a))), mlx.linalg.cholesky_inv(M(np.tril(a)), stream=cpu)),
        (L.solve(E(a), E(b)), mlx.linalg.solve(M(a), M(b), stream=cpu)),
        (L.solve_triangular(E(a), E(b)), mlx.linalg.solve_triangular(M(a), M(b), stream=cpu)),
        (L.eigvalsh(E(s)), mlx.linalg.eigvalsh(M(s), stream=cpu)),
        (L.svd(E(t), compute_uv=False), mlx.linalg.svd(M(t), compute_uv=False, stream=cpu)),
        (L.pinv(E(t)), mlx.linalg.pinv(M(t), stream=cpu)),
        (L.det(E(a)), mlx.linalg.det(M(a), stream=cpu)),
        (L.slogdet(E(a))[1], mlx.linalg.slogdet(M(a), stream=cpu)[1]),
        (L.norm(E(t), "nuc"), mlx.linalg.norm(M(t), "nuc", stream=cpu)),
        (L.norm(E(t), -1, axis=(1, 0)), mlx.linalg.norm(M(t), -1, axis=(1, 0), stream=cpu)),
        (L.norm(E(t), 3, axis=0, keepdims=True), mlx.linalg.norm(M(t), 3, axis=0, keepdims=True, stream=cpu)),
        (L.cross(E(t), E(t[::-1])), mlx.linalg.cross(M(t), M(np.ascontiguousarray(t[::-1])), stream=cpu)),
    ]
    for got, ref in pairs:
        assert got.shape == tuple(ref.shape) and str(got.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
        np.testing.assert_allclose(np.array(got), np.array(ref), rtol=1e-3, atol=1e-4)
    for got, ref in zip(L.lu(E(a)), mlx.linalg.lu(M(a), stream=cpu)):
        np.testing.assert_allclose(np.array(got), np.array(ref), rtol=1e-4, atol=1e-5)
    for got, ref in zip(L.lu_factor(E(t)), mlx.linalg.lu_factor(M(t), stream=cpu)):
        np.testing.assert_allclose(np.array(got), np.array(ref), rtol=1e-4, atol=1e-5)
    for f in ["qr", "svd", "eig", "eigh"]:
        x = s if f == "eigh" else t if f in ("qr", "svd") else a
        got, ref = getattr(L, f)(E(x)), getattr(mlx.linalg, f)(M(x), stream=cpu)
        assert [g.shape for g in got] == [tuple(r.shape) for r in ref]
        assert [str(g.dtype).split(".")[-1] for g in got] == [str(r.dtype).split(".")[-1] for r in ref]


def test_gradients_match_mlx(rng):
    mlx = _mlx()
    a = well(rng, (3, 3), np.float32)  # MLX differentiates det and slogdet up to 3x3
    v = rand(rng, (5,), np.float32)
    for name, fe, fm, x in [
        ("det", lambda x: L.det(x), lambda x: mlx.linalg.det(x), a),
        ("slogdet", lambda x: L.slogdet(x)[1], lambda x: mlx.linalg.slogdet(x)[1], a),
        ("norm", lambda x: L.norm(x), lambda x: mlx.linalg.norm(x), a),
        ("norm1", lambda x: L.norm(x, 3), lambda x: mlx.linalg.norm(x, 3), v),
        ("cross", lambda x: L.cross(x, x * x + 1).sum(), lambda x: mlx.linalg.cross(x, x * x + 1).sum(), a[:, :3]),
    ]:
        with mlx.stream(mlx.cpu):
            ref = np.array(mlx.grad(fm)(mlx.array(x)))
        got = np.array(mx.grad(fe)(E(x)))
        np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4, err_msg=name)


# ---------------------------------------------------------------- derivatives

def _fd_directional(f, x, d, eps=1e-6):
    return (np.array(f(E(x + eps * d))) - np.array(f(E(x - eps * d)))) / (2 * eps)


def _check_grad(f, x, rng, symmetric=False, rtol=1e-5):
    """vjp and jvp of f (array -> array) against central differences in float64."""
    x = x.astype(np.float64)
    d = rng.standard_normal(x.shape)
    if symmetric:
        d = d + np.swapaxes(d, -1, -2)
    out = np.array(f(E(x)))
    w = rng.standard_normal(out.shape)
    fd = _fd_directional(f, x, d)
    # jvp
    _, t = mx.jvp(lambda y: f(y), [E(x)], [E(d)])
    np.testing.assert_allclose(np.array(t[0]), fd, rtol=rtol, atol=1e-6)
    # vjp: <grad of <w, f>, d> equals <w, fd>
    g = mx.grad(lambda y: (f(y) * E(w)).sum())(E(x))
    np.testing.assert_allclose(np.sum(np.array(g) * d), np.sum(w * fd), rtol=rtol, atol=1e-6)
    return np.array(g)


def test_grad_inv_solve(rng):
    a = well(rng, (2, 4, 4), np.float64)
    _check_grad(L.inv, a, rng)
    _check_grad(lambda y: L.tri_inv(y), a, rng)
    _check_grad(lambda y: L.tri_inv(y, upper=True), a, rng)
    b = rand(rng, (2, 4, 3), np.float64)
    _check_grad(lambda y: L.solve(y, E(b)), a, rng)
    _check_grad(lambda y: L.solve(E(a), y), b, rng)
    _check_grad(lambda y: L.solve(E(a[0]), y), b[0, :, 0], rng)
    _check_grad(lambda y: L.solve_triangular(y, E(b), upper=True), a, rng)
    _check_grad(lambda y: L.solve_triangular(E(a), y), b, rng)
    # the triangular ops' gradients live on the triangle they read
    g = np.array(mx.grad(lambda y: L.tri_inv(y).sum())(E(a)))
    assert np.all(np.triu(g, 1) == 0)


def test_grad_cholesky_eigh(rng):
    s = spd(rng, (2, 4, 4), np.float64)
    for upper in [False, True]:
        g = _check_grad(lambda y: L.cholesky(y, upper=upper), s, rng, symmetric=True)
        np.testing.assert_allclose(g, np.swapaxes(g, -1, -2), atol=1e-12)
    _check_grad(lambda y: L.eigvalsh(y), s, rng, symmetric=True)
    _check_grad(lambda y: L.eigh(y)[0], s, rng, symmetric=True)
    _check_grad(lambda y: L.eigh(y, UPLO="U")[1] ** 2, s, rng, symmetric=True, rtol=1e-4)
    _check_grad(lambda y: L.cholesky_inv(L.cholesky(y)), s, rng, symmetric=True)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
def test_grad_qr(rng, shape):
    a = rand(rng, shape, np.float64)
    _check_grad(lambda y: L.qr(y)[0], a, rng, rtol=1e-4)
    _check_grad(lambda y: L.qr(y)[1], a, rng, rtol=1e-4)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 3, 3)])
def test_grad_svd(rng, shape):
    a = rand(rng, shape, np.float64)
    k = min(shape[-2:])
    _check_grad(lambda y: L.svd(y, compute_uv=False), a, rng)
    _check_grad(lambda y: L.svd(y)[1], a, rng)

    def gauge_free(y):  # invariant to the signs of singular vectors
        u, s, vt = L.svd(y)
        uk, vk = u[..., :, :k], vt[..., :k, :]
        return mx.concatenate([((uk * s[..., None, :] ** 3) @ vk).reshape(-1), (uk * uk).reshape(-1),
                               (vk * vk).reshape(-1)])
    _check_grad(gauge_free, a, rng, rtol=1e-4)
    _check_grad(lambda y: L.pinv(y), a, rng, rtol=1e-4)


def test_grad_det_norm(rng):
    a = well(rng, (2, 4, 4), np.float64)
    _check_grad(L.det, a, rng)
    _check_grad(lambda y: L.slogdet(y)[1], a, rng)
    m = rand(rng, (4, 5), np.float64)
    for o in [None, "fro", "nuc", 2, -2, 1, math.inf]:
        _check_grad(lambda y: L.norm(y, o), m, rng, rtol=1e-4)
    for o in [None, 1, 3, math.inf]:
        _check_grad(lambda y: L.norm(y, o, axis=1), m, rng, rtol=1e-4)
    _check_grad(lambda y: L.cross(y, y[::-1]), m[:, :3], rng)


def test_second_order(rng):
    a = well(rng, (3, 3), np.float64)
    d = rng.standard_normal(a.shape)
    f = lambda y: L.slogdet(y)[1]
    g = lambda y: (mx.grad(f)(y) * E(d)).sum()
    h = np.array(mx.grad(g)(E(a)))
    eps = 1e-5
    fd = (np.array(mx.grad(f)(E(a + eps * h * 0 + eps * np.eye(3) * 0 + eps * d))) -
          np.array(mx.grad(f)(E(a - eps * d)))) / (2 * eps)
    # d/dA <grad f, D> along E equals <d grad f along E, D>: check with E = D (symmetric pairing)
    np.testing.assert_allclose(np.sum(h * d), np.sum(fd * d), rtol=1e-5)


def test_unsupported_derivatives_raise():
    a = E(np.eye(3, dtype=np.float32) + 0.1)
    with pytest.raises(ValueError):
        mx.grad(lambda y: L.lu(y)[1].sum())(a)
    with pytest.raises(ValueError):
        mx.grad(lambda y: mx.real(L.eigvals(y)).sum())(a)


# ---------------------------------------------------------------- vmap and compile

def test_vmap_matches_loop(rng):
    a = well(rng, (3, 4, 4), np.float32)
    b = rand(rng, (4, 3), np.float32)
    A, B = E(a), E(b)
    for f in [L.inv, L.cholesky, lambda y: L.qr(y)[0], lambda y: L.svd(y, compute_uv=False),
              lambda y: L.eigvalsh(y), L.det, lambda y: L.lu(y)[2], lambda y: L.eigvals(y),
              lambda y: L.norm(y, "nuc")]:
        x = A @ mx.swapaxes(A, -1, -2)
        got = mx.vmap(f)(x)
        ref = mx.stack([f(x[i]) for i in range(3)])
        np.testing.assert_allclose(np.array(got), np.array(ref), rtol=1e-4, atol=1e-4)
    # mapped over a later axis; one operand mapped
    got = mx.vmap(L.inv, in_axes=1)(mx.swapaxes(A, 0, 1))
    np.testing.assert_allclose(np.array(got), np.linalg.inv(a), rtol=1e-4, atol=1e-5)
    got = mx.vmap(lambda x: L.solve(x, B), in_axes=0)(A)
    np.testing.assert_allclose(np.array(got), np.linalg.solve(a, b), rtol=1e-4, atol=1e-5)
    got = mx.vmap(lambda y: L.solve(A[0], y), in_axes=1)(B)
    np.testing.assert_allclose(np.array(got), np.linalg.solve(a[0], b).T, rtol=1e-4, atol=1e-5)
    # vmap of grad
    g = mx.vmap(mx.grad(lambda y: L.inv(y).sum()))(A)
    ref = mx.stack([mx.grad(lambda y: L.inv(y).sum())(A[i]) for i in range(3)])
    np.testing.assert_allclose(np.array(g), np.array(ref), rtol=1e-4, atol=1e-5)


def test_compile_matches_eager(rng):
    a = E(well(rng, (2, 5, 5), np.float32))
    b = E(rand(rng, (2, 5, 2), np.float32))

    def f(x, y):
        q, r = L.qr(x)
        return L.solve(x, y) + L.inv(x) @ y + (q @ r - x).sum() + L.norm(x, 2, axis=(-2, -1))[..., None, None]

    ref = f(a, b)
    np.testing.assert_allclose(np.array(mx.compile(f)(a, b)), np.array(ref), rtol=1e-4, atol=1e-4)
    fs = mx.compile(f, shapeless=True)
    np.testing.assert_allclose(np.array(fs(a, b)), np.array(ref), rtol=1e-4, atol=1e-4)
    a3 = E(well(rng, (3, 5, 5), np.float32))
    b3 = E(rand(rng, (3, 5, 2), np.float32))
    np.testing.assert_allclose(np.array(fs(a3, b3)), np.array(f(a3, b3)), rtol=1e-4, atol=1e-4)
    gf = mx.compile(mx.grad(lambda x: L.slogdet(x)[1].sum() + L.eigvalsh(x @ mx.swapaxes(x, -1, -2)).sum()))
    np.testing.assert_allclose(np.array(gf(a)),
                               np.array(mx.grad(lambda x: L.slogdet(x)[1].sum() + L.eigvalsh(x @ mx.swapaxes(x, -1, -2)).sum())(a)),
                               rtol=1e-4, atol=1e-4)


def test_cpp_namespace_and_submodule():
    from ember.core import linalg
    assert linalg is mx.linalg and callable(linalg.inv)


@pytest.mark.slow
@pytest.mark.parametrize("n", [1, 2, 17, 64, 130])
def test_sizes_sweep(n):
    rng = np.random.default_rng(n)
    a = well(rng, (3, n, n), np.float64)
    np.testing.assert_allclose(np.array(L.inv(E(a))), np.linalg.inv(a), rtol=1e-8, atol=1e-10)
    u, s, vt = (np.array(x) for x in L.svd(E(a)))
    np.testing.assert_allclose((u * s[..., None, :]) @ vt, a, atol=1e-9)
    q, r = (np.array(x) for x in L.qr(E(a)))
    np.testing.assert_allclose(q @ r, a, atol=1e-9)
    sp = spd(rng, (3, n, n), np.float64)
    c = np.array(L.cholesky(E(sp)))
    np.testing.assert_allclose(c @ np.swapaxes(c, -1, -2), sp, rtol=1e-9, atol=1e-9)
    w, v = (np.array(x) for x in L.eigh(E(sp)))
    np.testing.assert_allclose(sp @ v, v * w[..., None, :], rtol=1e-8, atol=1e-8)


def test_complex64_svd_eigh_eig(rng):
    a = (rng.standard_normal((2, 4, 3)) + 1j * rng.standard_normal((2, 4, 3))).astype(np.complex64)
    u, s, vt = L.svd(E(a))
    assert (u.dtype, s.dtype, vt.dtype) == (mx.complex64, mx.float32, mx.complex64)
    u, s, vt = np.array(u), np.array(s), np.array(vt)
    np.testing.assert_allclose((u[..., :, :3] * s[..., None, :]) @ vt[..., :3, :], a, atol=1e-5)
    np.testing.assert_allclose(np.conj(np.swapaxes(u, -1, -2)) @ u, np.broadcast_to(np.eye(4), u.shape), atol=1e-5)
    np.testing.assert_allclose(np.array(L.svd(E(a), compute_uv=False)), np.linalg.svd(a, compute_uv=False), atol=1e-5)
    h = (rng.standard_normal((2, 4, 4)) + 1j * rng.standard_normal((2, 4, 4))).astype(np.complex64)
    h = h + np.conj(np.swapaxes(h, -1, -2))
    for uplo in ["L", "U"]:
        w, v = L.eigh(E(h), UPLO=uplo)
        assert (w.dtype, v.dtype) == (mx.float32, mx.complex64)
        w, v = np.array(w), np.array(v)
        np.testing.assert_allclose(w, np.linalg.eigvalsh(h), atol=1e-5)
        np.testing.assert_allclose(h @ v, v * w[..., None, :], atol=1e-4)
        assert L.eigvalsh(E(h), UPLO=uplo).dtype == mx.float32
    w, v = L.eig(E(h + 1j * np.eye(4, dtype=np.complex64)))
    w, v = np.array(w), np.array(v)
    np.testing.assert_allclose((h + 1j * np.eye(4)) @ v, v * w[..., None, :], atol=1e-4)
    np.testing.assert_allclose(np.array(L.norm(E(a[0]), "nuc")), np.linalg.norm(a[0], "nuc"), rtol=1e-5)
    with pytest.raises(ValueError):
        mx.grad(lambda y: mx.real(L.svd(y, compute_uv=False)).sum())(E(a[0]))


def test_batches_split_across_threads(rng):
    # 48x48 matrices: each is its own chunk of the thread pool
    a = well(rng, (7, 48, 48), np.float64)
    s = spd(rng, (7, 48, 48), np.float64)
    b = rand(rng, (7, 48, 3), np.float64)
    np.testing.assert_allclose(np.array(L.inv(E(a))), np.linalg.inv(a), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.array(L.solve(E(a), E(b))), np.linalg.solve(a, b), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.array(L.eigvalsh(E(s))), np.linalg.eigvalsh(s), rtol=1e-9)
    np.testing.assert_allclose(np.array(L.svd(E(a), compute_uv=False)), np.linalg.svd(a, compute_uv=False), rtol=1e-9)
    np.testing.assert_allclose(np.array(L.cholesky(E(s))), np.linalg.cholesky(s), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.array(L.slogdet(E(a))[1]), np.linalg.slogdet(a)[1], rtol=1e-10)
    q, r = L.qr(E(a))
    np.testing.assert_allclose(np.array(q) @ np.array(r), a, atol=1e-10)
    # one singular matrix in the batch raises, the others notwithstanding
    a[3] = 0
    with pytest.raises(RuntimeError):
        mx.eval(L.inv(E(a)))
