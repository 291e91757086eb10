"""mx.random: the bit layout, every distribution against MLX run side by side (skipped
when mlx is not installed), the global state and its capture by compile, laplace,
multivariate_normal and complex normal, and argument errors."""
import numpy as np
import pytest

import ember.core as mx

try:
    import mlx.core as mlx
except ImportError:  # the differential tests need the reference
    mlx = None

needs_mlx = pytest.mark.skipif(mlx is None, reason="mlx is not installed")

SEEDS = [0, 3, 12345, 2**32 + 17, 2**63 + 5]
SHAPES = [(), (0,), (1,), (2,), (3,), (4,), (5,), (7,), (2, 3), (3, 5), (4, 1, 3), (2, 3, 4), (0, 3), (257,)]
FLOATS = ["float32", "float16", "bfloat16"]


def to_np(a):
    """numpy copy of an ember or mlx array (bfloat16 through float32)."""
    if "bfloat16" in str(a.dtype):
        a = a.astype(mx.float32 if isinstance(a, mx.array) else mlx.float32)
    return np.array(a)


def both(fn):
    """fn(lib) for ember and mlx, as numpy arrays."""
    return to_np(fn(mx)), to_np(fn(mlx))


def dt(lib, name):
    return getattr(lib, name)


# ---------- the bit layout, against an independent numpy threefry2x32


def _threefry(key, x0, x1):
    m = np.uint64(0xFFFFFFFF)
    rot = [13, 15, 26, 6, 17, 29, 16, 24]
    k = [np.uint64(key[0]), np.uint64(key[1])]
    k.append(np.uint64(0x1BD11BDA) ^ k[0] ^ k[1])
    x0 = (x0.astype(np.uint64) + k[0]) & m
    x1 = (x1.astype(np.uint64) + k[1]) & m
    for i in range(5):
        for j in range(4):
            r = np.uint64(rot[(i % 2) * 4 + j])
            x0 = (x0 + x1) & m
            x1 = ((x1 << r) | (x1 >> (np.uint64(32) - r))) & m
            x1 ^= x0
        x0 = (x0 + k[(i + 1) % 3]) & m
        x1 = (x1 + k[(i + 2) % 3] + np.uint64(i + 1)) & m
    return x0.astype(np.uint32), x1.astype(np.uint32)


def reference_bits(seed, shape, width):
    """Words w[0..n): threefry on counters (i, i + h), h = ceil(n / 2), gives w[i] and
    w[i + h]; an odd n's last call uses counter 0 for its missing second word. The bytes
    of the words, little-endian, truncated to the output's size."""
    key = [(seed >> 32) & 0xFFFFFFFF, seed & 0xFFFFFFFF]
    nbytes = int(np.prod(shape, dtype=np.int64)) * width
    n = (nbytes + 3) // 4
    h = (n + 1) // 2
    i = np.arange(h, dtype=np.uint64)
    second = np.where(i + np.uint64(h) < np.uint64(n), i + np.uint64(h), np.uint64(0))
    x0, x1 = _threefry(key, i, second)
    words = np.concatenate([x0, x1])[:n]
    kind = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[width]
    return words.view(np.uint8)[:nbytes].view(kind).reshape(shape)


@pytest.mark.parametrize("width", [1, 2, 4, 8])
@pytest.mark.parametrize("seed", SEEDS[:3])
def test_bits_layout(seed, width):
    for shape in SHAPES + [(1, 1), (3, 3), (11,)]:
        got = np.array(mx.random.bits(shape, width, key=mx.random.key(seed)))
        assert got.shape == shape
        np.testing.assert_array_equal(got, reference_bits(seed, shape, width), err_msg=str(shape))


def test_bits_for_a_batch_of_keys_under_vmap():
    keys = mx.random.split(mx.random.key(5), 4)
    out = mx.vmap(lambda k: mx.random.bits((3,), key=k))(keys)
    for i in range(4):
        np.testing.assert_array_equal(np.array(out[i]), np.array(mx.random.bits((3,), key=keys[i])))


def test_key_and_split_layout():
    assert mx.random.key(2**40 + 5).tolist() == [256, 5]
    k = mx.random.key(3)
    np.testing.assert_array_equal(np.array(mx.random.split(k, 3)), reference_bits(3, (3, 2), 4))
    assert mx.random.split(k, 0).shape == (0, 2)


@needs_mlx
@pytest.mark.parametrize("num", [1, 2, 3, 5, 8])
def test_split_matches_mlx(num):
    for seed in SEEDS:
        a, b = both(lambda lib: lib.random.split(lib.random.key(seed), num))
        np.testing.assert_array_equal(a, b)


# ---------- every distribution against MLX


@needs_mlx
@pytest.mark.parametrize("dtype", FLOATS)
def test_uniform_matches_mlx(dtype):
    for seed in SEEDS:
        for shape in SHAPES:
            for lo, hi in [(0.0, 1.0), (-2.5, 3.0), (0.1, 0.2)]:
                a, b = both(lambda lib: lib.random.uniform(lo, hi, shape, dtype=dt(lib, dtype),
                                                           key=lib.random.key(seed)))
                np.testing.assert_array_equal(a, b, err_msg=f"{seed} {shape} {lo} {hi}")
    # Array bounds broadcast against the shape.
    lo, hi = np.array([[-1.0], [2.0]], np.float32), np.array([0.5, 3.0, 4.0], np.float32)
    a, b = both(lambda lib: lib.random.uniform(lib.array(lo), lib.array(hi), (2, 3), dtype=dt(lib, dtype),
                                               key=lib.random.key(9)))
    np.testing.assert_array_equal(a, b)


def _assert_close(a, b, dtype):
    tol = {"float32": 1e-5, "float64": 1e-5, "complex64": 1e-5, "float16": 2**-10, "bfloat16": 2**-7}[dtype]
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@needs_mlx
@pytest.mark.parametrize("dtype", FLOATS + ["float64", "complex64"])
def test_normal_matches_mlx(dtype):
    for seed in SEEDS:
        for shape in SHAPES:
            a, b = both(lambda lib: lib.random.normal(shape, dtype=dt(lib, dtype), key=lib.random.key(seed)))
            assert a.dtype == b.dtype and a.shape == b.shape
            _assert_close(a, b, dtype)
    loc, scale = (0.5 + 1j, 2.0 - 0.5j) if dtype == "complex64" else (0.3, 2.5)
    for kw in [dict(loc=loc), dict(scale=scale), dict(loc=loc, scale=scale)]:
        a, b = both(lambda lib: lib.random.normal((5, 3), dtype=dt(lib, dtype), key=lib.random.key(4), **kw))
        _assert_close(a, b, dtype)
    # loc and scale arrays widen the output by broadcasting.
    loc = np.array([[1.0], [-1.0]], np.float32)
    a, b = both(lambda lib: lib.random.normal((3,), dtype=dt(lib, dtype), loc=lib.array(loc),
                                              scale=lib.array(np.float32(0.5)), key=lib.random.key(2)))
    assert a.shape == b.shape == (2, 3)
    _assert_close(a, b, dtype)


@needs_mlx
@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "int16", "uint32", "int64", "bool_"])
def test_randint_matches_mlx(dtype):
    for seed in SEEDS:
        for shape in SHAPES:
            for lo, hi in [(0, 10), (-5, 7), (3, 200), (0.5, 5.7)]:
                a, b = both(lambda lib: lib.random.randint(lo, hi, shape, dtype=dt(lib, dtype),
                                                           key=lib.random.key(seed)))
                np.testing.assert_array_equal(a, b, err_msg=f"{seed} {shape} {lo} {hi}")


@needs_mlx
def test_bernoulli_matches_mlx():
    p = np.linspace(0, 1, 15, dtype=np.float32).reshape(3, 5)
    for seed in SEEDS:
        for shape in SHAPES:
            a, b = both(lambda lib: lib.random.bernoulli(0.3, shape, key=lib.random.key(seed)))
            np.testing.assert_array_equal(a, b)
        for pdt in ["float32", "float16"]:
            a, b = both(lambda lib: lib.random.bernoulli(lib.array(p).astype(dt(lib, pdt)), key=lib.random.key(seed)))
            np.testing.assert_array_equal(a, b)
        a, b = both(lambda lib: lib.random.bernoulli(lib.array(p[0]), (4, 5), key=lib.random.key(seed)))
        np.testing.assert_array_equal(a, b)


@needs_mlx
@pytest.mark.parametrize("dtype", FLOATS)
def test_truncated_normal_matches_mlx(dtype):
    for seed in SEEDS:
        for shape in SHAPES:
            for lo, hi in [(-1.0, 2.0), (0.5, 3.0), (5.0, 6.0), (-10.0, 10.0)]:
                a, b = both(lambda lib: lib.random.truncated_normal(lo, hi, shape, dtype=dt(lib, dtype),
                                                                    key=lib.random.key(seed)))
                _assert_close(a, b, dtype)
    lo = np.array([-1.0, 0.0, 1.0], np.float32)
    a, b = both(lambda lib: lib.random.truncated_normal(lib.array(lo), lib.array(lo) + 1, dtype=dt(lib, dtype),
                                                        key=lib.random.key(1)))
    _assert_close(a, b, dtype)


@needs_mlx
@pytest.mark.parametrize("dtype", FLOATS)
def test_gumbel_matches_mlx(dtype):
    for seed in SEEDS:
        for shape in SHAPES:
            a, b = both(lambda lib: lib.random.gumbel(shape, dtype=dt(lib, dtype), key=lib.random.key(seed)))
            _assert_close(a, b, dtype)


@needs_mlx
@pytest.mark.parametrize("dtype", FLOATS + ["float64"])
def test_laplace_matches_mlx(dtype):
    for seed in SEEDS:
        for shape in SHAPES:
            for loc, scale in [(0.0, 1.0), (0.5, 2.0), (-3.0, 0.1)]:
                a, b = both(lambda lib: lib.random.laplace(shape, dtype=dt(lib, dtype), loc=loc, scale=scale,
                                                           key=lib.random.key(seed)))
                assert a.dtype == b.dtype and a.shape == b.shape
                _assert_close(a, b, dtype)


@needs_mlx
def test_categorical_matches_mlx():
    logits = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    cases = [dict(), dict(axis=0), dict(num_samples=5), dict(axis=0, num_samples=3),
             dict(shape=(3, 4)), dict(axis=0, shape=(2, 6)), dict(shape=(2, 1, 4))]
    for seed in SEEDS:
        for kw in cases:
            for ldt in ["float32", "float16", "bfloat16"]:
                a, b = both(lambda lib: lib.random.categorical(lib.array(logits).astype(dt(lib, ldt)),
                                                               key=lib.random.key(seed), **kw))
                assert a.dtype == b.dtype and a.shape == b.shape
                np.testing.assert_array_equal(a, b, err_msg=str(kw))
    a, b = both(lambda lib: lib.random.categorical(lib.array([1, 2, 0]), key=lib.random.key(2)))
    np.testing.assert_array_equal(a, b)


@needs_mlx
def test_permutation_matches_mlx():
    x = np.arange(24).reshape(4, 6)
    for seed in SEEDS:
        for n in [0, 1, 2, 5, 16, 100]:
            a, b = both(lambda lib: lib.random.permutation(n, key=lib.random.key(seed)))
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
        for axis in [0, 1, -1]:
            a, b = both(lambda lib: lib.random.permutation(lib.array(x), axis=axis, key=lib.random.key(seed)))
            np.testing.assert_array_equal(a, b)


@needs_mlx
def test_multivariate_normal_matches_mlx():
    rng = np.random.default_rng(1)
    m = rng.standard_normal((3, 3))
    cov = (m @ m.T + 0.5 * np.eye(3)).astype(np.float32)
    mean = np.array([1.0, -2.0, 0.5], np.float32)
    for seed in SEEDS:
        for shape in [(), (4,), (2, 3), (0,)]:
            a, b = both(lambda lib: lib.random.multivariate_normal(lib.array(mean), lib.array(cov), shape,
                                                                   key=lib.random.key(seed)))
            assert a.shape == b.shape == shape + (3,)
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    # Batched means and covariances broadcast with the shape.
    covs = np.stack([cov, np.diag([1.0, 2.0, 3.0]).astype(np.float32)])
    means = np.stack([mean, -mean])
    a, b = both(lambda lib: lib.random.multivariate_normal(lib.array(means), lib.array(covs), (5, 2),
                                                           key=lib.random.key(7)))
    assert a.shape == (5, 2, 3)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


# ---------- the global state


@needs_mlx
def test_seeded_global_stream_matches_mlx():
    logits = np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], np.float32))
    mean, cov = np.zeros(2, np.float32), np.array([[2.0, 0.5], [0.5, 1.0]], np.float32)
    draws = [
        lambda lib: lib.random.uniform(shape=(3,)),
        lambda lib: lib.random.normal((5,)),
        lambda lib: lib.random.normal((2,), dtype=lib.float16, loc=1.0),
        lambda lib: lib.random.randint(0, 10, (4,)),
        lambda lib: lib.random.bernoulli(0.5, (3,)),
        lambda lib: lib.random.truncated_normal(-1.0, 1.0, (3,)),
        lambda lib: lib.random.gumbel((2,)),
        lambda lib: lib.random.laplace((3,)),
        lambda lib: lib.random.categorical(lib.array(logits), num_samples=4),
        lambda lib: lib.random.permutation(6),
        lambda lib: lib.random.multivariate_normal(lib.array(mean), lib.array(cov), (2,)),
        lambda lib: lib.random.normal((3,), dtype=lib.complex64),
    ]
    for seed in [0, 7, 2**40 + 3]:
        mx.random.seed(seed)
        mlx.random.seed(seed)
        for i, draw in enumerate(draws):
            a, b = to_np(draw(mx)), to_np(draw(mlx))
            np.testing.assert_allclose(a.astype(np.complex128), b.astype(np.complex128), rtol=1e-4, atol=1e-4,
                                       err_msg=f"draw {i} after seed {seed}")
        np.testing.assert_array_equal(np.array(mx.random.state[0]), np.array(mlx.random.state[0]))


def test_state_is_a_list_that_seed_resets():
    state = mx.random.state
    assert isinstance(state, list) and len(state) == 1
    mx.random.seed(3)
    assert mx.random.state is state
    np.testing.assert_array_equal(np.array(state[0]), np.array(mx.random.key(3)))
    # A draw without key= splits the state: the second half is used, the first is kept.
    x = mx.random.uniform(shape=(4,))
    first, second = mx.random.split(mx.random.key(3))
    np.testing.assert_array_equal(np.array(state[0]), np.array(first))
    np.testing.assert_array_equal(np.array(x), np.array(mx.random.uniform(shape=(4,), key=second)))
    # The same seed gives the same stream.
    mx.random.seed(11)
    a = [mx.random.normal((3,)), mx.random.randint(0, 100, (5,))]
    mx.random.seed(11)
    b = [mx.random.normal((3,)), mx.random.randint(0, 100, (5,))]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(np.array(u), np.array(v))


def test_compile_captures_the_state():
    def noisy(x):
        return x + mx.random.uniform(shape=(3,))

    f = mx.compile(noisy, inputs=mx.random.state, outputs=mx.random.state)
    mx.random.seed(0)
    compiled = [np.array(f(mx.zeros(3))) for _ in range(3)]
    state_after = np.array(mx.random.state[0])
    assert not np.array_equal(compiled[0], compiled[1])
    assert not np.array_equal(compiled[1], compiled[2])
    # Fresh numbers on every call, the same ones as the uncompiled function draws.
    mx.random.seed(0)
    eager = [np.array(noisy(mx.zeros(3))) for _ in range(3)]
    for c, e in zip(compiled, eager):
        np.testing.assert_array_equal(c, e)
    np.testing.assert_array_equal(state_after, np.array(mx.random.state[0]))
    # Without the state captured, the traced key is a constant, as in MLX.
    g = mx.compile(noisy)
    first = np.array(g(mx.zeros(3)))
    np.testing.assert_array_equal(first, np.array(g(mx.zeros(3))))
    # Drawing from the state in between leaves the traced constant intact.
    mx.random.uniform(shape=(2,)).tolist()
    f(mx.zeros(3)).tolist()
    np.testing.assert_array_equal(first, np.array(g(mx.zeros(3))))


@needs_mlx
def test_compiled_stream_matches_mlx():
    def fn(lib):
        def noisy(x):
            return x * lib.random.normal((4,)) + lib.random.randint(0, 5, (4,))

        return lib.compile(noisy, inputs=lib.random.state, outputs=lib.random.state)

    f, g = fn(mx), fn(mlx)
    mx.random.seed(5)
    mlx.random.seed(5)
    for _ in range(3):
        np.testing.assert_allclose(np.array(f(mx.ones(4))), np.array(g(mlx.ones(4))), rtol=1e-5)


def test_vmap_over_keys_matches_separate_draws():
    keys = mx.random.split(mx.random.key(1), 3)
    out = mx.vmap(lambda k: mx.random.normal((2, 3), key=k))(keys)
    assert out.shape == (3, 2, 3)
    for i in range(3):
        np.testing.assert_array_equal(np.array(out[i]), np.array(mx.random.normal((2, 3), key=keys[i])))


# ---------- laplace, multivariate_normal and complex normal, by their statistics


def test_laplace_statistics():
    x = np.array(mx.random.laplace((200000,), loc=1.5, scale=0.5, key=mx.random.key(0)), np.float64)
    assert abs(x.mean() - 1.5) < 0.01
    assert abs(x.var() - 2 * 0.5**2) < 0.01
    # P(|x - loc| > b) = exp(-1)
    assert abs(np.mean(np.abs(x - 1.5) > 0.5) - np.exp(-1)) < 0.005
    assert mx.random.laplace((2, 3), dtype=mx.float16).dtype == mx.float16
    assert mx.random.laplace((2,), mx.float64, key=mx.random.key(1)).dtype == mx.float64


def test_multivariate_normal_statistics():
    cov = np.array([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]], np.float32)
    mean = np.array([1.0, -1.0, 3.0], np.float32)
    x = np.array(mx.random.multivariate_normal(mx.array(mean), mx.array(cov), (100000,),
                                               key=mx.random.key(0)), np.float64)
    assert x.shape == (100000, 3)
    np.testing.assert_allclose(x.mean(0), mean, atol=0.02)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.03)
    # The (mean, cov) batch broadcasts with the shape.
    out = mx.random.multivariate_normal(mx.zeros((2, 3)), mx.broadcast_to(mx.array(cov), (2, 3, 3)), (4, 2),
                                        key=mx.random.key(1))
    assert out.shape == (4, 2, 3) and out.dtype == mx.float32


def test_complex_normal_statistics():
    z = np.array(mx.random.normal((200000,), dtype=mx.complex64, key=mx.random.key(0)))
    assert z.dtype == np.complex64
    for part in (z.real, z.imag):
        assert abs(part.mean()) < 0.01
        assert abs(part.var() - 0.5) < 0.01
    assert abs(np.corrcoef(z.real, z.imag)[0, 1]) < 0.01
    assert abs(np.mean(np.abs(z) ** 2) - 1.0) < 0.01
    w = np.array(mx.random.normal((100000,), dtype=mx.complex64, loc=1 + 2j, scale=2.0, key=mx.random.key(1)))
    assert abs(w.mean() - (1 + 2j)) < 0.03
    assert abs(w.real.var() - 2.0) < 0.05 and abs(w.imag.var() - 2.0) < 0.05


# ---------- errors name the op


@pytest.mark.parametrize("call, op", [
    (lambda k: mx.random.uniform(shape=(2,), dtype=mx.int32, key=k), "uniform"),
    (lambda k: mx.random.uniform(mx.zeros((3,)), 1.0, (2,), key=k), "uniform"),
    (lambda k: mx.random.uniform(mx.zeros((2, 3)), 1.0, (3,), key=k), "uniform"),
    (lambda k: mx.random.normal((2,), dtype=mx.int32, key=k), "normal"),
    (lambda k: mx.random.normal((2,), loc=mx.zeros((3,)), key=k), "normal"),
    (lambda k: mx.random.normal((-1,), key=k), "normal"),
    (lambda k: mx.random.randint(0, 5, (2,), dtype=mx.float32, key=k), "randint"),
    (lambda k: mx.random.bernoulli(mx.array([1, 0]), key=k), "bernoulli"),
    (lambda k: mx.random.bernoulli(mx.array([0.1, 0.2]), (3,), key=k), "bernoulli"),
    (lambda k: mx.random.truncated_normal(0, 1, (2,), dtype=mx.int32, key=k), "truncated_normal"),
    (lambda k: mx.random.gumbel((2,), dtype=mx.int32, key=k), "gumbel"),
    (lambda k: mx.random.laplace((2,), dtype=mx.complex64, key=k), "laplace"),
    (lambda k: mx.random.laplace((2,), dtype=mx.int32, key=k), "laplace"),
    (lambda k: mx.random.laplace((-2,), key=k), "laplace"),
    (lambda k: mx.random.multivariate_normal(mx.zeros(3), mx.eye(3), dtype=mx.float16, key=k), "multivariate_normal"),
    (lambda k: mx.random.multivariate_normal(mx.zeros(()), mx.eye(3), key=k), "multivariate_normal"),
    (lambda k: mx.random.multivariate_normal(mx.zeros(3), mx.zeros(3), key=k), "multivariate_normal"),
    (lambda k: mx.random.multivariate_normal(mx.zeros(3), mx.zeros((3, 2)), key=k), "multivariate_normal"),
    (lambda k: mx.random.multivariate_normal(mx.zeros(4), mx.eye(3), key=k), "multivariate_normal"),
    (lambda k: mx.random.multivariate_normal(mx.zeros((2, 3)), mx.eye(3), (4,), key=k), "multivariate_normal"),
    (lambda k: mx.random.categorical(mx.zeros((2, 3)), shape=(3,), num_samples=2, key=k), "categorical"),
    (lambda k: mx.random.categorical(mx.zeros((2, 3)), num_samples=-1, key=k), "categorical"),
    (lambda k: mx.random.categorical(mx.zeros((4, 6)), shape=(5,), key=k), "categorical"),
    (lambda k: mx.random.permutation(-1, key=k), "permutation"),
    (lambda k: mx.random.split(k, -1), "split"),
    (lambda k: mx.random.bits((2,), 3, key=k), "bits"),
    (lambda k: mx.random.uniform(shape=(2,), key=mx.zeros((3,), mx.uint32)), "uniform"),
    (lambda k: mx.random.normal((2,), key=mx.array([1.0, 2.0])), "normal"),
    (lambda k: mx.random.split(mx.zeros((2, 2), mx.uint32)), "split"),
])
def test_bad_arguments_raise_value_errors_naming_the_op(call, op):
    with pytest.raises(ValueError, match=rf"\[{op}\]"):
        call(mx.random.key(0))


def test_bad_axes_and_keys():
    with pytest.raises(IndexError, match=r"\[categorical\]"):
        mx.random.categorical(mx.zeros((2, 3)), axis=2, key=mx.random.key(0))
    with pytest.raises(IndexError, match=r"\[categorical\]"):
        mx.random.categorical(mx.array(1.0), key=mx.random.key(0))
    with pytest.raises(IndexError, match=r"\[permutation\]"):
        mx.random.permutation(mx.zeros((2, 3)), axis=2, key=mx.random.key(0))
    with pytest.raises(IndexError, match=r"\[permutation\]"):
        mx.random.permutation(mx.array(3), key=mx.random.key(0))
    with pytest.raises(TypeError, match=r"\[uniform\]"):
        mx.random.uniform(shape=(2,), key=5)
    with pytest.raises(TypeError, match=r"\[laplace\]"):
        mx.random.laplace((2,), loc="a")
