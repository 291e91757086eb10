"""Large products split over the thread pool (by rows, by columns, by batch) against numpy, and
the gradient of a transposed operand (x @ w.T), which the transpose's vjp computes as the
swapped product."""
import numpy as np
import pytest

import ember.core as mx


def rnd(shape, seed, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def operand(a, trans):
    """An ember array with a's values, stored transposed (a strided view) when `trans`."""
    if trans:
        return mx.array(np.ascontiguousarray(np.swapaxes(a, -1, -2))).swapaxes(-1, -2)
    return mx.array(a)


# (M, K, N): tall (row parts, M not a multiple of 16), short and wide (column parts, N not a
# multiple of 64), below the threshold, and a single row.
SHAPES = [(333, 97, 129), (7, 150, 1001), (20, 20, 20), (1, 600, 700), (250, 1, 260)]


@pytest.mark.parametrize("M,K,N", SHAPES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_split_products(M, K, N, ta, tb):
    a, b = rnd((M, K), M), rnd((K, N), N)
    e = np.array(operand(a, ta) @ operand(b, tb))
    np.testing.assert_allclose(e, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4 * np.sqrt(K))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_float64_and_addmm(dtype):
    a, b, c = rnd((300, 80), 1, dtype), rnd((80, 500), 2, dtype), rnd((500,), 3, dtype)
    ea, eb, ec = (mx.array(v, mx.float64 if dtype == np.float64 else mx.float32) for v in (a, b, c))
    ref = 0.5 * (a.astype(np.float64) @ b) + 2.0 * c
    out = mx.addmm(ec, ea, eb, alpha=0.5, beta=2.0)
    assert out.dtype == (mx.float64 if dtype == np.float64 else mx.float32)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(np.array(out), ref, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("ta", [False, True])
def test_split_batches(ta):
    # many products (one per pool part), few large ones (each split), a shared right operand
    for batch, M, K, N in [(16, 64, 32, 128), (2, 400, 64, 300), (5, 1, 800, 900)]:
        a, b = rnd((batch, M, K), M), rnd((batch, K, N), N)
        e = np.array(operand(a, ta) @ mx.array(b))
        np.testing.assert_allclose(e, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    a, w = rnd((6, 100, 64), 4), rnd((64, 200), 5)
    np.testing.assert_allclose(np.array(mx.array(a) @ operand(w, True)), a.astype(np.float64) @ w,
                               rtol=1e-4, atol=1e-3)
    # broadcast batch dims
    a, b = rnd((3, 1, 90, 70), 6), rnd((4, 70, 300), 7)
    np.testing.assert_allclose(np.array(mx.array(a) @ mx.array(b)), a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


def test_split_half_types():
    a, b = rnd((200, 64), 8), rnd((64, 300), 9)
    for dt in (mx.float16, mx.bfloat16):
        e = np.array((mx.array(a).astype(dt) @ mx.array(b).astype(dt)).astype(mx.float32))
        ref = a.astype(dt == mx.float16 and np.float16 or np.float32).astype(np.float64) @ b
        np.testing.assert_allclose(e, ref, rtol=5e-2, atol=0.5)


def test_linear_weight_gradient():
    x, w, bias = rnd((37, 50), 10), rnd((23, 50), 11), rnd((23,), 12)
    c = rnd((37, 23), 13)

    def f(w):
        return (mx.addmm(mx.array(bias), mx.array(x), w.T) * mx.array(c)).sum()

    g = np.array(mx.grad(f)(mx.array(w)))
    np.testing.assert_allclose(g, c.T.astype(np.float64) @ x, rtol=1e-4, atol=1e-4)
    # the same through nn.Linear, with a second use of the weight (its cotangents are summed
    # before the transpose's vjp sees them)
    import ember.nn as nn

    lin = nn.Linear(50, 23)
    lin.weight = mx.array(w)

    def loss(model, x):
        return (model(x) * mx.array(c)).sum() + (model.weight ** 2).sum()

    _, grads = nn.value_and_grad(lin, lambda x: loss(lin, x))(mx.array(x))
    np.testing.assert_allclose(np.array(grads["weight"]), c.T.astype(np.float64) @ x + 2 * w, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.array(grads["bias"]), c.sum(0), rtol=1e-4, atol=1e-4)


def test_transposed_operand_gradients_batched_and_complex():
    a, b = rnd((4, 6, 5), 14), rnd((4, 7, 5), 15)
    c = rnd((4, 6, 7), 16)
    gb = mx.grad(lambda b: (mx.array(a) @ b.swapaxes(-1, -2) * mx.array(c)).sum())(mx.array(b))
    np.testing.assert_allclose(np.array(gb), np.swapaxes(c, -1, -2).astype(np.float64) @ a, rtol=1e-4, atol=1e-4)
    # the transpose of a product taken explicitly, and a scaled product (alpha): plain vjp path
    ga = mx.grad(lambda a: ((mx.array(b) @ a.swapaxes(-1, -2)).swapaxes(-1, -2) * mx.array(c)).sum())(mx.array(a))
    np.testing.assert_allclose(np.array(ga), c.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
    w = rnd((3, 4), 17)
    gw = mx.grad(lambda w: (mx.addmm(mx.zeros((2, 3)), mx.array(rnd((2, 4), 18)), w.T, alpha=3.0) ** 2).sum())(mx.array(w))
    xv = rnd((2, 4), 18)
    y = 3.0 * xv @ w.T
    np.testing.assert_allclose(np.array(gw), 3.0 * (2 * y).T @ xv, rtol=1e-4, atol=1e-4)
    # complex: (a b)^T = b^T a^T, without conjugation
    za = (rnd((3, 4), 19) + 1j * rnd((3, 4), 20)).astype(np.complex64)
    zb = (rnd((5, 4), 21) + 1j * rnd((5, 4), 22)).astype(np.complex64)
    ct = (rnd((3, 5), 23) + 1j * rnd((3, 5), 24)).astype(np.complex64)
    _, (v,) = mx.vjp(lambda b: mx.array(za) @ b.T, [mx.array(zb)], [mx.array(ct)])
    np.testing.assert_allclose(np.array(v), (np.conj(za).T @ ct).T, rtol=1e-4, atol=1e-4)
