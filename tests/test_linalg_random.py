import numpy as np
import pytest

import ember.core as mx


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64, mx.float16, mx.bfloat16, mx.int32, mx.complex64])
def test_matmul_dtypes(rng, dtype):
    a = rng.standard_normal((5, 7))
    b = rng.standard_normal((7, 3))
    if dtype == mx.int32:
        a, b = np.round(a * 3), np.round(b * 3)
    x, y = mx.array(a, dtype=dtype), mx.array(b, dtype=dtype)
    r = mx.matmul(x, y)
    assert r.dtype == dtype
    ref = np.array(x.astype(mx.float64) if dtype != mx.complex64 else x) @ np.array(
        y.astype(mx.float64) if dtype != mx.complex64 else y)
    tol = {mx.float16: 2e-2, mx.bfloat16: 5e-2}.get(dtype, 1e-5)
    got = np.array(r.astype(mx.float32)) if dtype in (mx.float16, mx.bfloat16) else np.array(r)
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


def test_matmul_shapes(rng):
    a = rng.standard_normal((2, 1, 4, 5)).astype(np.float32)
    b = rng.standard_normal((3, 5, 6)).astype(np.float32)
    np.testing.assert_allclose(np.array(mx.array(a) @ mx.array(b)), a @ b, rtol=1e-5, atol=1e-5)
    v = rng.standard_normal(5).astype(np.float32)
    np.testing.assert_allclose(np.array(mx.array(a) @ mx.array(v)), a @ v, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.array(mx.array(v) @ mx.array(b)), v @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.array(mx.array(v) @ mx.array(v)), v @ v, rtol=1e-5)
    # transposed and strided operands
    m = rng.standard_normal((6, 6)).astype(np.float32)
    M = mx.array(m)
    np.testing.assert_allclose(np.array(M.T @ M[:, ::2]), m.T @ m[:, ::2], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        mx.matmul(mx.ones((2, 3)), mx.ones((4, 2)))
    with pytest.raises(ValueError):
        mx.matmul(mx.ones(()), mx.ones((2,)))
    z = mx.matmul(mx.ones((3, 0)), mx.ones((0, 2)))
    assert z.tolist() == [[0, 0]] * 3


def test_addmm_outer_inner(rng):
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((3, 5)).astype(np.float32)
    c = rng.standard_normal((5,)).astype(np.float32)
    r = mx.addmm(mx.array(c), mx.array(a), mx.array(b), alpha=2.0, beta=0.5)
    np.testing.assert_allclose(np.array(r), 2 * a @ b + 0.5 * c, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.array(mx.outer(mx.array(c), mx.array(c))), np.outer(c, c), rtol=1e-6)
    np.testing.assert_allclose(np.array(mx.inner(mx.array(a), mx.array(a))), np.inner(a, a), rtol=1e-5)


def test_random_keys_and_determinism():
    k = mx.random.key(42)
    assert k.dtype == mx.uint32 and k.shape == (2,)
    a = mx.random.uniform(shape=(100,), key=k)
    b = mx.random.uniform(shape=(100,), key=k)
    assert np.array_equal(np.array(a), np.array(b))
    k1, k2 = mx.random.split(k)
    assert not np.array_equal(np.array(mx.random.uniform(shape=(10,), key=k1)),
                              np.array(mx.random.uniform(shape=(10,), key=k2)))
    mx.random.seed(3)
    x = mx.random.normal((10,))
    mx.random.seed(3)
    y = mx.random.normal((10,))
    assert np.array_equal(np.array(x), np.array(y))


def test_random_distributions():
    k = mx.random.key(0)
    u = np.array(mx.random.uniform(-2, 3, (200000,), key=k))
    assert u.min() >= -2 and u.max() < 3
    assert abs(u.mean() - 0.5) < 0.02 and abs(u.var() - 25 / 12) < 0.05
    n = np.array(mx.random.normal((200000,), key=k))
    assert abs(n.mean()) < 0.01 and abs(n.std() - 1) < 0.01
    n2 = np.array(mx.random.normal((1000,), loc=3.0, scale=0.5, key=k))
    assert abs(n2.mean() - 3) < 0.1
    r = np.array(mx.random.randint(0, 10, (100000,), key=k))
    assert r.dtype == np.int32 and r.min() == 0 and r.max() == 9
    assert np.all(np.abs(np.bincount(r) / 100000 - 0.1) < 0.01)
    b = np.array(mx.random.bernoulli(0.3, (100000,), key=k))
    assert b.dtype == np.bool_ and abs(b.mean() - 0.3) < 0.01
    assert mx.random.uniform(shape=(2, 3), dtype=mx.float16).dtype == mx.float16
    t = np.array(mx.random.truncated_normal(-1, 1, (10000,), key=k))
    assert t.min() >= -1 and t.max() <= 1
    p = np.array(mx.random.permutation(10, key=k))
    assert sorted(p.tolist()) == list(range(10))
    c = np.array(mx.random.categorical(mx.log(mx.array([0.1, 0.9])), num_samples=20000, key=k))
    assert abs(c.mean() - 0.9) < 0.02
    with pytest.raises(ValueError):
        mx.random.uniform(shape=(2,), dtype=mx.int32)
