"""hadamard_transform for n = m * 2^k, m in (1, 12, 20, 28): values against the real MLX and
numpy, derivatives, vmap and compile."""
import numpy as np
import pytest

import ember.core as mx

mlx = pytest.importorskip("mlx.core")

SMALL = [12, 20, 28]
SIZES = [20, 28, 40, 56, 80, 112, 20 * 32, 28 * 32, 28 * 512]


def rnd(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def matrix(n, lib=mx):
    """The transform's matrix M (x -> x M), read off the identity at scale 1."""
    return np.array(lib.hadamard_transform(lib.eye(n), scale=1.0)).astype(np.float64)


def sylvester(p):
    h = np.ones((1, 1))
    while h.shape[0] < p:
        h = np.block([[h, h], [h, -h]])
    return h


def reference(x, scale=None):
    """numpy: x -> x (H(m) (x) H(p)) * scale along the last axis, with H(m) read off mlx."""
    n = x.shape[-1]
    m = next(c for c in (1, 12, 20, 28) if n % c == 0 and (n // c) & (n // c - 1) == 0)
    p = n // m
    hm = matrix(m, mlx) if m > 1 else np.ones((1, 1))
    X = x.astype(np.float64).reshape(x.shape[:-1] + (m, p))
    y = np.einsum("...ij,ia,jb->...ab", X, hm, sylvester(p), optimize=True).reshape(x.shape)
    return y * (1 / np.sqrt(n) if scale is None else scale)


@pytest.mark.parametrize("n", SMALL + [24, 40, 56, 80, 112])
def test_matrix_is_mlx_matrix(n):
    e = matrix(n)
    np.testing.assert_array_equal(e, matrix(n, mlx))
    assert set(np.unique(e)) == {-1.0, 1.0}
    np.testing.assert_array_equal(e @ e.T, n * np.eye(n))


@pytest.mark.parametrize("m", SMALL)
@pytest.mark.parametrize("p", [2, 4, 16])
def test_kronecker_with_sylvester(m, p):
    # index i = im * p + ip: the small matrix is the outer factor
    np.testing.assert_array_equal(matrix(m * p), np.kron(matrix(m), sylvester(p)))


@pytest.mark.parametrize("m", [20, 28])
def test_williamson_blocks(m):
    # four b x b blocks, each a symmetric circulant; the array pattern of Williamson's
    # construction: [[A, B, C, D], [-B, A, -D, C], [-C, D, A, -B], [-D, -C, B, A]]
    h, b = matrix(m), m // 4
    blk = [[h[r * b:(r + 1) * b, c * b:(c + 1) * b] for c in range(4)] for r in range(4)]
    for r in range(4):
        for c in range(4):
            x = blk[r][c]
            np.testing.assert_array_equal(x, x.T)
            np.testing.assert_array_equal(x, np.roll(np.roll(x, 1, 0), 1, 1))
    A, B, C, D = blk[0]
    expect = [[A, B, C, D], [-B, A, -D, C], [-C, D, A, -B], [-D, -C, B, A]]
    np.testing.assert_array_equal(h, np.block(expect))
    assert not np.array_equal(h, h.T)


@pytest.mark.parametrize("n", SIZES)
def test_matches_mlx_and_numpy(n):
    x = rnd((2, 3, n), seed=n)
    ref = reference(x)
    e = mx.hadamard_transform(mx.array(x))
    assert e.dtype == mx.float32 and e.shape == (2, 3, n)
    np.testing.assert_allclose(np.array(e), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.array(e), np.array(mlx.hadamard_transform(mlx.array(x))), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dt,tol", [("float16", 2e-2), ("bfloat16", 8e-2)])
@pytest.mark.parametrize("n", [20, 28, 56, 640])
def test_half_dtypes(dt, tol, n):
    x = rnd((4, n), seed=n + 1)
    e = mx.hadamard_transform(mx.array(x).astype(getattr(mx, dt)))
    m = mlx.hadamard_transform(mlx.array(x).astype(getattr(mlx, dt)))
    assert e.dtype == getattr(mx, dt)
    e32 = np.array(e.astype(mx.float32))
    np.testing.assert_allclose(e32, np.array(m.astype(mlx.float32)), rtol=tol, atol=tol)
    np.testing.assert_allclose(e32, x.astype(np.float64) @ matrix(n, mlx) / np.sqrt(n), rtol=tol, atol=tol)


@pytest.mark.parametrize("n", [20, 56])
def test_integer_and_bool_inputs(n):
    x = np.random.default_rng(n).integers(-5, 6, (3, n)).astype(np.int32)
    e = mx.hadamard_transform(mx.array(x))
    m = mlx.hadamard_transform(mlx.array(x))
    assert e.dtype == mx.float32
    np.testing.assert_allclose(np.array(e), np.array(m), rtol=1e-5, atol=1e-5)
    b = x > 0
    np.testing.assert_allclose(np.array(mx.hadamard_transform(mx.array(b))),
                               np.array(mlx.hadamard_transform(mlx.array(b))), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scale", [1.0, 0.5, 2.0, -0.25])
@pytest.mark.parametrize("n", [20, 28, 112])
def test_scale(scale, n):
    x = rnd((3, n), seed=7)
    e = mx.hadamard_transform(mx.array(x), scale=scale)
    m = mlx.hadamard_transform(mlx.array(x), scale=scale)
    np.testing.assert_allclose(np.array(e), np.array(m), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.array(e), x.astype(np.float64) @ matrix(n, mlx) * scale, rtol=1e-4, atol=1e-4)


def test_non_contiguous_and_vector_inputs():
    x = rnd((56, 6), seed=3)
    m = matrix(56, mlx) / np.sqrt(56)
    # last axis from a transposed view
    np.testing.assert_allclose(np.array(mx.hadamard_transform(mx.array(x).T)), x.T @ m, rtol=1e-4, atol=1e-4)
    # strided slice
    y = rnd((3, 40), seed=4)
    np.testing.assert_allclose(np.array(mx.hadamard_transform(mx.array(y)[:, ::2])),
                               y[:, ::2] @ matrix(20, mlx) / np.sqrt(20), rtol=1e-4, atol=1e-4)
    # 1-d
    v = rnd((28,), seed=5)
    np.testing.assert_allclose(np.array(mx.hadamard_transform(mx.array(v))),
                               np.array(mlx.hadamard_transform(mlx.array(v))), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [20, 28, 40, 56])
def test_vjp_is_transposed_transform(n):
    x = rnd((2, n), seed=n)
    c = rnd((2, n), seed=n + 100)
    _, (g,) = mx.vjp(lambda a: mx.hadamard_transform(a, scale=0.3), [mx.array(x)], [mx.array(c)])
    np.testing.assert_allclose(np.array(g), c.astype(np.float64) @ matrix(n).T * 0.3, rtol=1e-4, atol=1e-4)
    # against central differences of mlx's forward transform (exact for a linear map up to
    # rounding). mlx's own gradient is not the reference here: for m = 20 and 28 it applies the
    # matrix untransposed, which is only right for symmetric matrices (orders 2^k and 12).
    w = rnd((n,), seed=1)
    ge = np.array(mx.grad(lambda a: (mx.hadamard_transform(a) * mx.array(w)).sum())(mx.array(x)))
    fm = lambda a: (mlx.hadamard_transform(mlx.array(a)) * mlx.array(w)).sum().item()
    eye = np.eye(n, dtype=np.float32)
    fd = np.array([(fm(eye[i]) - fm(-eye[i])) / 2 for i in range(n)])
    np.testing.assert_allclose(ge, np.broadcast_to(fd, ge.shape), rtol=1e-4, atol=1e-4)
    # jvp of a linear map: the transform of the tangent
    t = rnd((2, n), seed=n + 200)
    _, (j,) = mx.jvp(lambda a: mx.hadamard_transform(a), [mx.array(x)], [mx.array(t)])
    np.testing.assert_allclose(np.array(j), t.astype(np.float64) @ matrix(n) / np.sqrt(n), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [20, 28])
def test_grad_finite_differences(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((2, n))
    w = rng.standard_normal((2, n))

    def f(a):
        y = mx.hadamard_transform(a)
        return (mx.sin(y) * mx.array(w, mx.float64)).sum()

    g = np.array(mx.grad(f)(mx.array(x, mx.float64)))
    eps = 1e-6
    fd = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[idx] = eps
        fd[idx] = (f(mx.array(x + d, mx.float64)).item() - f(mx.array(x - d, mx.float64)).item()) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)


def test_vmap_matches_loop():
    x = rnd((4, 3, 56), seed=9)
    out = mx.vmap(mx.hadamard_transform)(mx.array(x))
    loop = np.stack([np.array(mx.hadamard_transform(mx.array(x[i]))) for i in range(4)])
    np.testing.assert_allclose(np.array(out), loop, rtol=1e-5, atol=1e-5)
    # mapped over an axis other than the first, and nested
    y = rnd((20, 5, 3), seed=10)  # transform axis first, map over axes 1 and 2
    f = mx.vmap(mx.vmap(lambda a: mx.hadamard_transform(a, scale=1.0), in_axes=1), in_axes=1)
    ref = np.transpose(y, (1, 2, 0)).astype(np.float64) @ matrix(20, mlx)
    np.testing.assert_allclose(np.array(f(mx.array(y))), ref, rtol=1e-4, atol=1e-4)
    fm = mlx.vmap(mlx.vmap(lambda a: mlx.hadamard_transform(a, scale=1.0), in_axes=1), in_axes=1)
    np.testing.assert_allclose(np.array(f(mx.array(y))), np.array(fm(mlx.array(y))), rtol=1e-4, atol=1e-4)
    # gradient through vmap: the cotangent times the transposed matrix
    c = rnd((4, 3, 56), seed=11)
    g = mx.grad(lambda a: (mx.vmap(mx.hadamard_transform)(a) * mx.array(c)).sum())(mx.array(x))
    np.testing.assert_allclose(np.array(g), c.astype(np.float64) @ matrix(56, mlx).T / np.sqrt(56),
                               rtol=1e-4, atol=1e-4)
    # vmap of the gradient
    gv = mx.vmap(mx.grad(lambda a, w: (mx.hadamard_transform(a) * w).sum()))(mx.array(x), mx.array(c))
    np.testing.assert_allclose(np.array(gv), np.array(g), rtol=1e-5, atol=1e-5)


def test_compile_matches_eager():
    f = lambda a: mx.hadamard_transform(a, scale=0.7) * 2.0
    c = mx.compile(f)
    for n in (20, 28, 80):
        x = mx.array(rnd((3, n), seed=n))
        np.testing.assert_allclose(np.array(c(x)), np.array(f(x)), rtol=1e-6, atol=1e-6)
    s = mx.compile(f, shapeless=True)
    for shape in [(2, 56), (5, 56), (3, 4, 56)]:
        x = mx.array(rnd(shape, seed=shape[0]))
        np.testing.assert_allclose(np.array(s(x)), np.array(f(x)), rtol=1e-6, atol=1e-6)
    gc = mx.compile(mx.grad(lambda a: (mx.hadamard_transform(a) ** 2 * mx.arange(28)).sum()))
    x = mx.array(rnd((2, 28), seed=2))
    ge = mx.grad(lambda a: (mx.hadamard_transform(a) ** 2 * mx.arange(28)).sum())(x)
    np.testing.assert_allclose(np.array(gc(x)), np.array(ge), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [3, 36, 44, 60, 84, 20 * 3, 28 * 5])
def test_unsupported_sizes(n):
    with pytest.raises(ValueError, match="hadamard_transform"):
        mx.hadamard_transform(mx.ones((2, n)))
    # still working afterwards
    np.testing.assert_array_equal(np.array(mx.hadamard_transform(mx.ones((1, 20)), scale=1.0)),
                                  matrix(20, mlx).sum(0, keepdims=True))
