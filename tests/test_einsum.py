"""einsum, einsum_path and the contraction / diagonal family (tensordot, inner, outer, vecdot,
matrix_transpose, kron, diag, diagonal, trace, meshgrid): values against numpy and MLX,
paths against MLX, derivatives against finite differences and MLX, vmap, compile, errors."""

import random
import re

import numpy as np
import pytest

import ember.core as mx


def _mlx():
    return pytest.importorskip("mlx.core")


def _np(a):
    return np.array(a)


def _rand(rng, shape, dtype=np.float32):
    return np.asarray(rng.standard_normal(shape), dtype=dtype)


# (subscripts, operand shapes)
EXPRS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ij,jk,kl,lm->im", [(20, 3), (3, 40), (40, 5), (5, 6)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("iij->ji", [(3, 3, 2)]),
    ("iii->i", [(3, 3, 3)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ba", [(2, 3)]),
    ("Ba", [(2, 3)]),
    ("i,i->", [(5,), (5,)]),
    ("i,i->i", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,j,k->ijk", [(2,), (3,), (4,)]),
    ("ij,ij->ij", [(1, 3), (2, 1)]),
    ("ij,jk->ik", [(2, 1), (3, 4)]),
    ("i,i", [(1,), (3,)]),
    (",->", [(), ()]),
    ("i,->i", [(3,), ()]),
    ("...ij,...jk", [(5, 1, 2, 3), (4, 3, 2)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("...i->...", [(2, 3, 4)]),
    ("i...j->j...i", [(2, 3, 4, 5)]),
    ("i...", [(2, 3, 4)]),
    ("...->...", [(2, 3)]),
    ("ij->...", [(2, 3)]),
    ("ij->i...j", [(2, 3)]),
    ("bi,ij,bj->b", [(4, 5), (5, 5), (4, 5)]),
    ("ij,ji->", [(4, 5), (5, 4)]),
    ("i,j,ij->i", [(4,), (5,), (4, 5)]),
    ("abc,cd,dea->be", [(2, 3, 4), (4, 5), (5, 6, 2)]),
    ("ab,bc,cd,de,ef->af", [(2, 3), (3, 4), (4, 5), (5, 6), (6, 7)]),
    ("iJ,Jk->ik", [(2, 3), (3, 4)]),
    (" ij , jk -> ik ", [(2, 3), (3, 4)]),
    ("aab,bc->ac", [(3, 3, 4), (4, 2)]),
    ("ij,jk->ik", [(0, 3), (3, 4)]),
    ("ij,jk->ik", [(2, 0), (0, 4)]),
    ("ijk,kl->il", [(2, 3, 4), (4, 0)]),
]


@pytest.mark.parametrize("sub,shapes", EXPRS)
def test_einsum_vs_numpy(sub, shapes, rng):
    data = [_rand(rng, s) for s in shapes]
    got = mx.einsum(sub, *[mx.array(d) for d in data])
    want = np.einsum(sub.replace(" ", ""), *data) if "..." not in sub or sub.count("->") else None
    if want is None:
        want = np.einsum(sub, *data)
    assert got.dtype == mx.float32
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(_np(got), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("sub,shapes", EXPRS)
def test_einsum_vs_mlx(sub, shapes, rng):
    M = _mlx()
    data = [_rand(rng, s) for s in shapes]
    got = mx.einsum(sub, *[mx.array(d) for d in data])
    want = M.einsum(sub, *[M.array(d) for d in data])
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(_np(got), np.array(want), rtol=1e-4, atol=1e-4)
    assert mx.einsum_path(sub, *[mx.array(d) for d in data]) == \
        M.einsum_path(sub, *[M.array(d) for d in data])


def test_einsum_ellipsis_sum_when_output_omits_it():
    # The ellipsis dims missing from an explicit output are summed (as MLX).
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    got = mx.einsum("...i->i", mx.array(x))
    np.testing.assert_allclose(_np(got), x.sum(axis=(0, 1)))


def _random_expr(rng):
    letters = "abcdefg"
    used = letters[: rng.randint(2, 7)]
    sizes = {c: rng.choice([1, 2, 3, 4, 5, 7]) for c in used}
    n = rng.randint(1, 5)
    terms = ["".join(rng.choice(used) for _ in range(rng.randint(0, 4))) for _ in range(n)]
    present = sorted(set("".join(terms)))
    out = [c for c in present if rng.random() < 0.4]
    rng.shuffle(out)
    sub = ",".join(terms) + ("->" + "".join(out) if rng.random() < 0.8 else "")
    return sub, [tuple(sizes[c] for c in t) for t in terms]


def test_einsum_random_vs_numpy_and_mlx_paths():
    M = _mlx()
    r = random.Random(3)
    nrng = np.random.default_rng(3)
    for _ in range(150):
        sub, shapes = _random_expr(r)
        data = [_rand(nrng, s) for s in shapes]
        ours = [mx.array(d) for d in data]
        theirs = [M.array(d) for d in data]
        assert mx.einsum_path(sub, *ours) == M.einsum_path(sub, *theirs), sub
        got = _np(mx.einsum(sub, *ours))
        np.testing.assert_allclose(got, np.einsum(sub, *data), rtol=1e-4, atol=1e-4, err_msg=sub)


def test_einsum_path_format():
    a, b, c = mx.ones((2, 3)), mx.ones((3, 4)), mx.ones((4, 5))
    path, info = mx.einsum_path("ij,jk,kl->il", a, b, c)
    assert path == [(1, 2), (0, 1)]
    assert info == ("  Complete contraction:  ij,jk,kl->il\n"
                    "         Naive scaling:  4\n"
                    "     Optimized scaling:  3\n"
                    "      Naive FLOP count:  360\n"
                    "  Optimized FLOP count:  180\n")
    assert mx.einsum_path("ii", mx.ones((3, 3)))[0] == [(0,)]
    assert mx.einsum_path("i,j,k->ijk", mx.ones(2), mx.ones(3), mx.ones(4))[0] == [(0, 1), (0, 1)]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64", "int32", "complex64", "int8", "bool_"])
def test_einsum_dtypes(dtype, rng):
    dt = getattr(mx, dtype)
    base = _rand(rng, (3, 4))
    if dtype == "complex64":
        base = base + 1j * _rand(rng, (3, 4))
    x = mx.array(base).astype(dt) if dtype != "complex64" else mx.array(base.astype(np.complex64))
    xn = _np(x.astype(mx.float32)) if dtype in ("bfloat16",) else _np(x)
    tol = 3e-2 if dtype in ("float16", "bfloat16") else 1e-5
    # Contractions promote as matmul does; a transpose keeps the dtype.
    y = mx.einsum("ij,kj->ik", x, x)
    assert y.dtype == dt
    np.testing.assert_allclose(_np(y.astype(mx.complex64 if dtype == "complex64" else mx.float64)),
                               np.einsum("ij,kj->ik", xn, xn).astype(np.complex128), rtol=tol, atol=tol * 4)
    assert mx.einsum("ij->ji", x).dtype == dt
    # A sum takes sum's dtype (small integers and bool widen to int32).
    assert mx.einsum("ij->j", x).dtype == mx.sum(x, axis=0).dtype
    M = _mlx()
    if dtype == "complex64":
        xm = M.array(_np(x))
    else:
        xm = M.array(_np(x.astype(mx.float32))).astype(getattr(M, dtype))
    assert str(mx.einsum("ij->j", x).dtype).split(".")[-1] == str(M.einsum("ij->j", xm).dtype).split(".")[-1]
    mixed = mx.einsum("i,i->i", mx.ones(3, dtype=mx.int32), mx.ones(3, dtype=mx.float16))
    assert mixed.dtype == mx.float16


def test_einsum_integers_exact(rng):
    # Integer contractions are exact (MLX refuses them in matmul; numpy computes them).
    a = rng.integers(-5, 5, (3, 4)).astype(np.int32)
    b = rng.integers(-5, 5, (4, 2)).astype(np.int32)
    for sub, ops in [("ij,jk->ik", (a, b)), ("ij,ij->", (a, a)), ("ij,kj->ki", (a, a)), ("ii->", (a[:, :3],))]:
        got = mx.einsum(sub, *[mx.array(o) for o in ops])
        assert got.dtype == mx.int32
        np.testing.assert_array_equal(_np(got), np.einsum(sub, *ops))
    t = np.array([True, False, True])
    assert mx.einsum("i,i->", mx.array(t), mx.array(t)).item() == bool(np.einsum("i,i->", t, t))


def test_einsum_noncontiguous(rng):
    a = _rand(rng, (6, 8))
    b = _rand(rng, (10, 6))
    x = mx.array(a)[:, ::2]            # (6, 4), strided
    y = mx.array(b).T                  # (6, 10), transposed
    got = mx.einsum("ij,ik->jk", x, y)
    np.testing.assert_allclose(_np(got), np.einsum("ij,ik->jk", a[:, ::2], b.T), rtol=1e-4, atol=1e-4)
    z = mx.broadcast_to(mx.array(a[:1]), (6, 8))
    np.testing.assert_allclose(_np(mx.einsum("ii->i", z[:, :6])), np.diag(np.broadcast_to(a[:1], (6, 8))[:, :6]))


def _fd_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


@pytest.mark.parametrize("sub,shapes", [
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ii->i", [(3, 3)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("...i,...i->...", [(2, 3), (3,)]),
    ("ij,ij->ij", [(1, 3), (2, 1)]),
    ("iij,jk->ik", [(2, 2, 3), (3, 2)]),
])
def test_einsum_grad_vs_finite_differences(sub, shapes, rng):
    data = [np.asarray(rng.standard_normal(s), dtype=np.float64) for s in shapes]
    w = [np.asarray(rng.standard_normal(np.einsum(sub, *data).shape), dtype=np.float64)]

    def f(*ops):
        return mx.sum(mx.einsum(sub, *ops) * mx.array(w[0]))

    grads = mx.grad(f, argnums=tuple(range(len(data))))(*[mx.array(d, dtype=mx.float64) for d in data])
    if len(data) == 1:
        grads = (grads,)
    for k in range(len(data)):
        def fk(x, k=k):
            ops = list(data)
            ops[k] = x
            return float(np.sum(np.einsum(sub, *ops) * w[0]))
        assert grads[k].dtype == mx.float64
        np.testing.assert_allclose(_np(grads[k]), _fd_grad(fk, data[k]), rtol=1e-6, atol=1e-8)


def test_einsum_grad_vs_mlx(rng):
    M = _mlx()
    data = [_rand(rng, s) for s in [(2, 3), (3, 4), (4, 5)]]
    sub = "ij,jk,kl->il"
    g = mx.grad(lambda a, b, c: mx.einsum(sub, a, b, c).sum(), argnums=(0, 1, 2))(*[mx.array(d) for d in data])
    h = M.grad(lambda a, b, c: M.einsum(sub, a, b, c).sum(), argnums=(0, 1, 2))(*[M.array(d) for d in data])
    for x, y in zip(g, h):
        np.testing.assert_allclose(_np(x), np.array(y), rtol=1e-4, atol=1e-4)


def test_einsum_jvp(rng):
    a, t = _rand(rng, (3, 3)), _rand(rng, (3, 3))
    _, (tan,) = mx.jvp(lambda x: mx.einsum("ij,jk->ik", x, x), [mx.array(a)], [mx.array(t)])
    np.testing.assert_allclose(_np(tan), t @ a + a @ t, rtol=1e-4, atol=1e-4)


def test_einsum_vmap_vs_loop(rng):
    xs, w = _rand(rng, (4, 3, 5)), _rand(rng, (5, 2))
    f = lambda x, w: mx.einsum("ij,jk->ik", x, w)
    got = mx.vmap(f, in_axes=(0, None))(mx.array(xs), mx.array(w))
    np.testing.assert_allclose(_np(got), np.stack([x @ w for x in xs]), rtol=1e-5, atol=1e-5)
    # Batch axis in the middle, diagonal inside.
    ys = _rand(rng, (3, 4, 3))
    got = mx.vmap(lambda y: mx.einsum("ii->i", y), in_axes=1)(mx.array(ys))
    np.testing.assert_allclose(_np(got), np.stack([np.diag(ys[:, k, :]) for k in range(4)]))
    # vmap of grad.
    g = mx.vmap(mx.grad(lambda x: mx.einsum("ij,ij->", x, x)))(mx.array(xs))
    np.testing.assert_allclose(_np(g), 2 * xs, rtol=1e-6)


def test_einsum_compile(rng):
    a, b = _rand(rng, (2, 3, 4)), _rand(rng, (2, 4, 5))
    f = lambda a, b: mx.einsum("bij,bjk->bik", a, b)
    np.testing.assert_allclose(_np(mx.compile(f)(mx.array(a), mx.array(b))), a @ b, rtol=1e-5, atol=1e-5)
    cf = mx.compile(f, shapeless=True)
    np.testing.assert_allclose(_np(cf(mx.array(a), mx.array(b))), a @ b, rtol=1e-5, atol=1e-5)
    a2, b2 = _rand(rng, (3, 5, 4)), _rand(rng, (3, 4, 6))
    np.testing.assert_allclose(_np(cf(mx.array(a2), mx.array(b2))), a2 @ b2, rtol=1e-5, atol=1e-5)
    g = mx.compile(mx.grad(lambda x: mx.einsum("ij,jk,kl->", x, x.T, x)))
    x = _rand(rng, (3, 3))
    want = mx.grad(lambda x: mx.einsum("ij,jk,kl->", x, x.T, x))(mx.array(x))
    np.testing.assert_allclose(_np(g(mx.array(x))), _np(want), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("call,exc", [
    (lambda: mx.einsum("ij,jk->ik", mx.ones((2, 3)), mx.ones((4, 4))), ValueError),
    (lambda: mx.einsum("ij,jk->ik", mx.ones((2, 3))), ValueError),
    (lambda: mx.einsum("ijk->ij", mx.ones((2, 3))), ValueError),
    (lambda: mx.einsum("ij->ii", mx.ones((2, 3))), ValueError),
    (lambda: mx.einsum("i1->i", mx.ones((2, 3))), ValueError),
    (lambda: mx.einsum("ii->i", mx.ones((2, 3))), ValueError),
    (lambda: mx.einsum("..i->i", mx.ones((2, 3))), ValueError),
    (lambda: mx.einsum("...i...->i", mx.ones((2, 3))), ValueError),
    (lambda: mx.einsum("ij->ik", mx.ones((2, 3))), ValueError),
    (lambda: mx.einsum("i->i"), ValueError),
    (lambda: mx.einsum("...i,...i->...i", mx.ones((2, 4)), mx.ones((3, 4))), ValueError),
    (lambda: mx.einsum(1, mx.ones(2)), TypeError),
    (lambda: mx.einsum_path("ij,jk", mx.ones((2, 3)), mx.ones((2, 3))), ValueError),
])
def test_einsum_errors(call, exc):
    with pytest.raises(exc, match=r"einsum"):
        call()
    assert mx.einsum("i,i->", mx.ones(3), mx.ones(3)).item() == 3.0


def test_einsum_errors_match_mlx_messages():
    M = _mlx()
    cases = [("ij,jk->ik", [(2, 3), (4, 4)]), ("ijk->ij", [(2, 3)]), ("ij->ii", [(2, 3)]),
             ("i1->i", [(2, 3)]), ("ii->i", [(2, 3)]), ("ij,jk->ik", [(2, 3)])]
    for sub, shapes in cases:
        with pytest.raises(ValueError) as ours:
            mx.einsum(sub, *[mx.ones(s) for s in shapes])
        with pytest.raises(ValueError) as theirs:
            M.einsum(sub, *[M.ones(s) for s in shapes])
        assert str(ours.value) == str(theirs.value)


# ---------- the small contractions

def test_tensordot(rng):
    a, b = _rand(rng, (2, 3, 4)), _rand(rng, (4, 3, 5))
    A, B = mx.array(a), mx.array(b)
    np.testing.assert_allclose(_np(mx.tensordot(A, B, axes=[[1, 2], [1, 0]])),
                               np.tensordot(a, b, axes=[[1, 2], [1, 0]]), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_np(mx.tensordot(A, B, axes=([2], [0]))),
                               np.tensordot(a, b, axes=([2], [0])), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_np(mx.tensordot(A, B, axes=[[-1], [0]])),
                               np.tensordot(a, b, axes=[[2], [0]]), rtol=1e-4, atol=1e-4)
    c = _rand(rng, (3, 4, 6))
    np.testing.assert_allclose(_np(mx.tensordot(A, mx.array(c))), np.tensordot(a, c), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_np(mx.tensordot(mx.array(a[0, 0]), mx.array(c[0, 0]), axes=0)),
                               np.tensordot(a[0, 0], c[0, 0], axes=0), rtol=1e-5)
    np.testing.assert_allclose(_np(mx.tensordot(A.T, A, axes=1)),
                               np.tensordot(a.T, a, axes=1), rtol=1e-4, atol=1e-4)
    for bad, exc in [(dict(axes=2), ValueError), (dict(axes=-1), ValueError), (dict(axes=4), ValueError),
                     (dict(axes=[[1, 2], [0]]), ValueError), (dict(axes=[[5], [0]]), IndexError),
                     (dict(axes=[[1], [0], [1]]), ValueError), (dict(axes=[[1], [0]]), ValueError)]:
        with pytest.raises(exc, match="tensordot"):
            mx.tensordot(A, B, **bad)


def test_inner_outer(rng):
    a, b = _rand(rng, (2, 3)), _rand(rng, (4, 3))
    np.testing.assert_allclose(_np(mx.inner(mx.array(a), mx.array(b))), np.inner(a, b), rtol=1e-5)
    np.testing.assert_allclose(_np(mx.outer(mx.array(a), mx.array(b))), np.outer(a, b), rtol=1e-5)
    assert mx.outer(mx.array(2), mx.array([3, 4])).shape == (1, 2)
    with pytest.raises(ValueError, match="inner"):
        mx.inner(mx.ones((2, 3)), mx.ones((4, 2)))


def test_vecdot(rng):
    a, b = _rand(rng, (2, 3)), _rand(rng, (1, 3))
    np.testing.assert_allclose(_np(mx.vecdot(mx.array(a), mx.array(b))), (a * b).sum(-1), rtol=1e-5)
    c = np.array([1j, 2], dtype=np.complex64)
    d = np.array([1j, 1], dtype=np.complex64)
    assert complex(mx.vecdot(mx.array(c), mx.array(d)).item()) == complex(np.vecdot(c, d) if hasattr(np, "vecdot") else np.vdot(c, d))
    x = mx.ones((3, 2), dtype=mx.bool_)
    assert mx.vecdot(x, x, axis=0).dtype == mx.int32
    assert mx.vecdot(mx.ones(3, dtype=mx.float16), mx.ones(3, dtype=mx.int32)).dtype == mx.float16
    np.testing.assert_allclose(_np(mx.vecdot(mx.ones((3, 1)), mx.ones((3, 4)), axis=0)), np.full(4, 3.0))
    for args, kw, exc in [((mx.array(2.0), mx.array(3.0)), {}, ValueError),
                          ((mx.ones((3, 2)), mx.ones((3, 2))), dict(axis=2), IndexError),
                          ((mx.ones((2, 3)), mx.ones((3,))), {}, ValueError),
                          ((mx.ones((3, 1)), mx.ones((3, 4))), dict(axis=1), ValueError)]:
        with pytest.raises(exc, match="vecdot"):
            mx.vecdot(*args, **kw)
    M = _mlx()
    g = mx.grad(lambda x, y: mx.vecdot(x, y).sum())(mx.array(a), mx.array(b))
    h = M.grad(lambda x, y: M.vecdot(x, y).sum())(M.array(a), M.array(b))
    np.testing.assert_allclose(_np(g), np.array(h), rtol=1e-6)


def test_matrix_transpose(rng):
    x = _rand(rng, (2, 3, 4))
    np.testing.assert_array_equal(_np(mx.matrix_transpose(mx.array(x))), np.swapaxes(x, -1, -2))
    np.testing.assert_array_equal(_np(mx.array(x).mT), np.swapaxes(x, -1, -2))
    for f in (lambda: mx.matrix_transpose(mx.ones(3)), lambda: mx.ones(3).mT):
        with pytest.raises(ValueError, match="matrix_transpose"):
            f()


def test_kron(rng):
    for sa, sb in [((2, 3), (4,)), ((2,), (2, 1)), ((), (3,)), ((2, 2), (3, 3)), ((2, 1, 3), (2, 2))]:
        a, b = _rand(rng, sa), _rand(rng, sb)
        np.testing.assert_allclose(_np(mx.kron(mx.array(a), mx.array(b))), np.kron(a, b), rtol=1e-6)
    assert mx.kron(mx.array([1, 2]), mx.array([1.5], dtype=mx.float16)).dtype == mx.float16
    assert mx.kron(mx.array([1, 2]), mx.array([[1], [3]])).tolist() == [[1, 2], [3, 6]]
    with pytest.raises(ValueError, match="kron"):
        mx.kron(mx.ones((0, 2)), mx.ones((3, 2)))
    a, b = _rand(rng, (2, 3)), _rand(rng, (2, 2))
    g = mx.grad(lambda x: (mx.kron(x, mx.array(b)) ** 2).sum())(mx.array(a))
    np.testing.assert_allclose(_np(g), 2 * a * (b ** 2).sum(), rtol=1e-5)


@pytest.mark.parametrize("k", [-3, -1, 0, 1, 2, 5])
def test_diag(k, rng):
    v = _rand(rng, (4,))
    m = _rand(rng, (3, 5))
    np.testing.assert_array_equal(_np(mx.diag(mx.array(v), k=k)), np.diag(v, k))
    np.testing.assert_array_equal(_np(mx.diag(mx.array(m), k)), np.diag(m, k))
    np.testing.assert_array_equal(_np(mx.array(m).diag(k=k)), np.diag(m, k))
    np.testing.assert_array_equal(_np(mx.diag(mx.array(m).T, k)), np.diag(m.T, k))
    inf = np.array([np.inf, 1.0], dtype=np.float32)
    np.testing.assert_array_equal(_np(mx.diag(mx.array(inf), k)), np.diag(inf, k))


def test_diag_dtypes_and_errors():
    assert mx.diag(mx.array([1, 2, 3]), k=1).dtype == mx.int32
    assert mx.diag(mx.array([True, False])).tolist() == [[True, False], [False, False]]
    for x in (mx.ones((2, 3, 3)), mx.array(1.0)):
        with pytest.raises(ValueError, match="diag"):
            mx.diag(x)


@pytest.mark.parametrize("offset,a1,a2", [(0, 0, 1), (1, 0, 2), (-1, -1, -2), (2, 2, 0), (10, 0, 1), (-2, 1, 2)])
def test_diagonal(offset, a1, a2, rng):
    x = _rand(rng, (3, 4, 5))
    want = np.diagonal(x, offset, a1, a2)
    np.testing.assert_array_equal(_np(mx.diagonal(mx.array(x), offset, a1, a2)), want)
    np.testing.assert_array_equal(_np(mx.array(x).diagonal(offset, a1, a2)), want)
    xt = np.transpose(x, (2, 0, 1))
    np.testing.assert_array_equal(_np(mx.diagonal(mx.array(x).transpose(2, 0, 1), offset, a1, a2)),
                                  np.diagonal(xt, offset, a1, a2))


def test_diagonal_errors():
    x = mx.ones((2, 3, 4))
    with pytest.raises(ValueError, match="diagonal"):
        mx.diagonal(x, 0, 1, 1)
    with pytest.raises(ValueError, match="diagonal"):
        mx.diagonal(x, 0, 1, -2)
    with pytest.raises(IndexError, match="diagonal"):
        mx.diagonal(x, 0, 1, 3)
    with pytest.raises(ValueError, match="diagonal"):
        mx.diagonal(mx.ones(3))


def test_diagonal_grad_vmap_compile(rng):
    x = np.asarray(rng.standard_normal((3, 4)), dtype=np.float64)
    w = np.asarray(rng.standard_normal(3), dtype=np.float64)
    f = lambda a: mx.sum(mx.diagonal(a, 1) * mx.array(w, dtype=mx.float64))
    g = mx.grad(f)(mx.array(x, dtype=mx.float64))
    np.testing.assert_allclose(_np(g), _fd_grad(lambda a: float(np.sum(np.diagonal(a, 1) * w)), x), atol=1e-8)
    xs = _rand(rng, (2, 3, 3))
    np.testing.assert_array_equal(_np(mx.vmap(mx.diagonal, in_axes=2)(mx.array(xs))),
                                  np.stack([np.diagonal(xs[:, :, k]) for k in range(3)]))
    vs = _rand(rng, (2, 3))
    np.testing.assert_array_equal(_np(mx.vmap(lambda v: mx.diag(v, 1))(mx.array(vs))),
                                  np.stack([np.diag(v, 1) for v in vs]))
    gd = mx.grad(lambda v: (mx.diag(v, -1) * mx.arange(16).reshape(4, 4)).sum())(mx.array(vs[0]))
    np.testing.assert_array_equal(_np(gd), [4, 9, 14])
    cf = mx.compile(lambda a: mx.trace(a) + mx.diagonal(a).sum())
    np.testing.assert_allclose(_np(cf(mx.array(xs[0]))), 2 * np.trace(xs[0]), rtol=1e-6)
    M = _mlx()
    h = M.grad(lambda a: M.sum(M.diagonal(a, 1) * M.array(w.astype(np.float32))))(M.array(x.astype(np.float32)))
    g32 = mx.grad(lambda a: mx.sum(mx.diagonal(a, 1) * mx.array(w.astype(np.float32))))(mx.array(x.astype(np.float32)))
    np.testing.assert_allclose(_np(g32), np.array(h), rtol=1e-6)


def test_trace(rng):
    x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    X = mx.array(x)
    np.testing.assert_array_equal(_np(mx.trace(X)), np.trace(x))
    np.testing.assert_array_equal(_np(mx.trace(X, 1, 2, 1)), np.trace(x, 1, 2, 1))
    np.testing.assert_array_equal(_np(mx.trace(X, 10)), np.trace(x, 10))
    assert mx.trace(X, dtype=mx.float16).dtype == mx.float16
    assert mx.trace(mx.ones((3, 3), dtype=mx.bool_)).dtype == mx.int32
    assert mx.trace(mx.ones((3, 3), dtype=mx.int8)).dtype == mx.int32
    assert mx.trace(mx.ones((3, 3), dtype=mx.uint8)).dtype == mx.uint32
    # The diagonal is cast before the sum (as MLX): 1.5 + 1.5 in int32 is 2.
    assert mx.trace(mx.array([[1.5, 0], [0, 1.5]]), dtype=mx.int32).item() == 2
    with pytest.raises(ValueError, match="trace"):
        mx.trace(mx.ones(3))
    g = mx.grad(lambda a: mx.trace(a, -1))(mx.ones((3, 3)))
    np.testing.assert_array_equal(_np(g), np.eye(3, k=-1))


def test_meshgrid(rng):
    a, b, c = _rand(rng, (2,)), _rand(rng, (3,)), _rand(rng, (4,))
    for indexing in ("xy", "ij"):
        for sparse in (False, True):
            got = mx.meshgrid(mx.array(a), mx.array(b), mx.array(c), sparse=sparse, indexing=indexing)
            want = np.meshgrid(a, b, c, sparse=sparse, indexing=indexing)
            assert isinstance(got, tuple) and len(got) == 3
            for g, w in zip(got, want):
                np.testing.assert_array_equal(_np(g), w)
    got = mx.meshgrid(mx.ones((2, 2)), mx.array(1), mx.ones(3, dtype=mx.int32))
    assert [g.shape for g in got] == [(1, 4, 3)] * 3
    assert [g.dtype for g in got] == [mx.float32, mx.int32, mx.int32]
    assert mx.meshgrid() == ()
    with pytest.raises(ValueError, match="meshgrid"):
        mx.meshgrid(mx.ones(2), indexing="xx")


def test_small_ops_vs_mlx(rng):
    M = _mlx()
    x = _rand(rng, (3, 4, 5))
    v = _rand(rng, (4,))
    pairs = [
        (lambda m, a: m.diagonal(a, 1, 2, 0), x),
        (lambda m, a: m.trace(a, -1, 0, 2), x),
        (lambda m, a: m.diag(a, -2), v),
        (lambda m, a: m.diag(a[0], 1), x),
        (lambda m, a: m.kron(a[0], a[1, :2]), x),
        (lambda m, a: m.tensordot(a, a, axes=[[0, 1], [0, 1]]), x),
        (lambda m, a: m.vecdot(a, a, axis=1), x),
        (lambda m, a: m.matrix_transpose(a), x),
        (lambda m, a: m.meshgrid(a, a[:2], indexing="xy")[0], v),
        (lambda m, a: m.meshgrid(a, a[:2], sparse=True)[1], v),
    ]
    for f, d in pairs:
        ours, theirs = f(mx, mx.array(d)), f(M, M.array(d))
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(_np(ours), np.array(theirs), rtol=1e-5, atol=1e-5)


def _params(fn):
    """Parameter names, defaults and / * markers from the signature line of a docstring."""
    line = fn.__doc__.strip().splitlines()[0]
    inner = line[line.index("(") + 1: line.rindex(")")]
    depth, cur, parts = 0, "", []
    for ch in inner:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    out = []
    for p in parts:
        name = re.split(r"[:=]", p)[0].strip()
        default = p.split("=", 1)[1].strip() if "=" in p else None
        out.append((name, default))
    return out


@pytest.mark.parametrize("name", ["einsum", "einsum_path", "tensordot", "vecdot", "matrix_transpose",
                                  "kron", "diag", "diagonal", "trace", "meshgrid"])
def test_signatures_match_mlx(name):
    M = _mlx()
    assert _params(getattr(mx, name)) == _params(getattr(M, name))


def test_diagonal_is_a_view_with_exact_shapeless_replay(rng):
    # Shapeless compile replays the diagonal at the new shape (MLX keeps the traced length).
    f = mx.compile(lambda a: mx.diagonal(a, 1), shapeless=True)
    t = mx.compile(lambda a: mx.trace(a, -1) + mx.einsum("ii->", a[:, :a.shape[0]]), shapeless=True)
    for shape in [(3, 4), (5, 7), (2, 2)]:
        x = _rand(rng, shape)
        np.testing.assert_array_equal(_np(f(mx.array(x))), np.diagonal(x, 1))
    for n in [3, 5]:
        x = _rand(rng, (n, n))
        np.testing.assert_allclose(_np(t(mx.array(x))), np.trace(x, -1) + np.trace(x), rtol=1e-5)
    # A view of a transposed and of a broadcast input.
    x = _rand(rng, (4, 3))
    np.testing.assert_array_equal(_np(mx.diagonal(mx.array(x).T, -1)), np.diagonal(x.T, -1))
    b = mx.broadcast_to(mx.array(x[:1]), (4, 3))
    np.testing.assert_array_equal(_np(mx.diagonal(b)), np.diagonal(np.broadcast_to(x[:1], (4, 3))))


def test_diagonal_nested_transforms(rng):
    x = _rand(rng, (2, 3, 4, 4))
    # vmap of vmap, batch axes on either side of the diagonal axes.
    f = mx.vmap(mx.vmap(lambda a: mx.diagonal(a, 1, 0, 1), in_axes=1), in_axes=3)
    want = np.stack([np.stack([np.diagonal(x[:, j, :, k], 1, 0, 1) for j in range(3)]) for k in range(4)])
    np.testing.assert_array_equal(_np(f(mx.array(x))), want)
    # grad of grad and jvp.
    y = np.asarray(rng.standard_normal((3, 3)), dtype=np.float64)
    gg = mx.grad(lambda a: mx.sum(mx.grad(lambda b: mx.sum(mx.diagonal(b) ** 3))(a) ** 2))(
        mx.array(y, dtype=mx.float64))
    np.testing.assert_allclose(_np(gg), np.diag(36 * np.diag(y) ** 3), rtol=1e-10)
    _, tan = mx.jvp(lambda a: mx.diagonal(a, -1), [mx.array(y)], [mx.ones((3, 3))])
    np.testing.assert_array_equal(_np(tan[0]), np.ones(2))
    g = mx.vmap(mx.grad(lambda a: mx.trace(a, 1)))(mx.array(x[0]))
    np.testing.assert_array_equal(_np(g), np.broadcast_to(np.eye(4, k=1), (3, 4, 4)))
