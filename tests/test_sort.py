"""Sorting and selection: sort, argsort, partition, argpartition, topk, searchsorted,
unique, median, count_nonzero and minmax, against numpy and the real MLX 0.32."""
import numpy as np
import pytest

import ember.core as mx

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

DTYPES = ["bool_", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float16", "bfloat16", "float32", "float64", "complex64"]
NP = {"bool_": np.bool_, "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32,
      "uint64": np.uint64, "int8": np.int8, "int16": np.int16, "int32": np.int32,
      "int64": np.int64, "float16": np.float16, "bfloat16": np.float32, "float32": np.float32,
      "float64": np.float64, "complex64": np.complex64}


def N(a):
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    return np.array(a)


def data(shape, d, rng, special=False, lo=-50, hi=50):
    """Values with many ties; floats with NaN, +-0 and +-inf when `special`."""
    if d == "bool_":
        return rng.integers(0, 2, shape).astype(bool)
    if d.startswith("uint"):
        return rng.integers(0, hi, shape).astype(NP[d])
    if d.startswith("int"):
        return rng.integers(lo, hi, shape).astype(NP[d])
    x = rng.integers(lo, hi, shape).astype(np.float64) / 4
    if d == "complex64":
        x = x + 1j * rng.integers(-2, 2, shape)
    if special and x.size >= 8:
        f = x.reshape(-1)
        f[rng.choice(f.size, 6, replace=False)] = [np.nan, -0.0, 0.0, np.inf, -np.inf, np.nan]
    return x.astype(NP[d])


def E(x, d):
    return mx.array(x).astype(getattr(mx, d))


def np_key_sort(x, axis):
    """numpy's stable order with MLX's rules: NaN last, -0.0 == 0.0, complex lexicographic."""
    if np.iscomplexobj(x):
        # lexsort: last key primary
        x = np.moveaxis(x, axis, -1)
        idx = np.empty(x.shape, dtype=np.int64)
        for i in np.ndindex(x.shape[:-1]):
            r = x[i]
            idx[i] = np.lexsort((r.imag, r.real))
        return np.moveaxis(idx, -1, axis)
    return np.argsort(np.where(x == 0, 0, x), axis=axis, kind="stable")


# ---------------------------------------------------------------- sort / argsort

@pytest.mark.parametrize("d", DTYPES)
def test_sort_argsort_every_dtype(d, rng):
    x = data((5, 37), d, rng, special=True)
    for ax in (-1, 0, None):
        xx = x.reshape(-1) if ax is None else x
        a = 0 if ax is None else ax
        idx = np_key_sort(xx, a)
        got = N(mx.argsort(E(x, d), axis=ax))
        assert got.dtype == np.uint32
        np.testing.assert_array_equal(got, idx)
        s = mx.sort(E(x, d), axis=ax)
        assert s.dtype == getattr(mx, d)
        np.testing.assert_array_equal(N(s), N(E(np.take_along_axis(xx, idx, a), d)))


@pytest.mark.parametrize("n", [5, 33, 1000, 70000])
@pytest.mark.parametrize("d", ["float32", "int64", "float64", "uint16", "int8", "complex64"])
def test_sort_lengths_and_radix_paths(n, d, rng):
    x = data((3, n), d, rng, special=True, lo=-10**6, hi=10**6)
    np.testing.assert_array_equal(N(mx.argsort(E(x, d))), np_key_sort(x, -1))


def test_sort_one_long_row_splits_across_threads(rng):
    # rows longer than 2^17 and fewer than the threads: the parallel radix path
    for d in ["float32", "int16", "float64"]:
        x = data((300001,), d, rng, special=True, lo=-10**6, hi=10**6)
        np.testing.assert_array_equal(N(mx.argsort(E(x, d))), np_key_sort(x, 0))
        np.testing.assert_array_equal(N(mx.sort(E(x, d))), np.sort(x.astype(NP[d])))


def test_sort_negative_zero_and_nan_ties_are_stable():
    x = np.array([3., np.nan, -0.0, 0.0, 1., -np.nan, np.inf, -np.inf, 0.0, -0.0], np.float32)
    got = mx.sort(mx.array(x))
    assert N(mx.argsort(mx.array(x))).tolist() == [7, 2, 3, 8, 9, 4, 0, 6, 1, 5]
    np.testing.assert_array_equal(np.signbit(N(got))[1:5], [True, False, False, True])
    mlx = pytest.importorskip("mlx.core")
    assert N(mx.argsort(mx.array(x))).tolist() == np.array(mlx.argsort(mlx.array(x))).tolist()
    np.testing.assert_array_equal(N(got).view(np.uint32) & 0x80000000,
                                  np.array(mlx.sort(mlx.array(x))).view(np.uint32) & 0x80000000)


def test_sort_views_and_empty(rng):
    x = rng.standard_normal((6, 8)).astype(np.float32)
    a = mx.array(x)
    np.testing.assert_array_equal(N(mx.sort(a.T, axis=1)), np.sort(x.T, axis=1))
    np.testing.assert_array_equal(N(mx.argsort(a[::2, 1::3], axis=0)),
                                  np.argsort(x[::2, 1::3], axis=0, kind="stable"))
    assert mx.sort(mx.zeros((0, 3)), axis=0).shape == (0, 3)
    assert mx.argsort(mx.zeros((4, 0)), axis=1).shape == (4, 0)
    assert mx.sort(mx.array(3.0), axis=None).tolist() == [3.0]


def test_sort_errors():
    for f in (mx.sort, mx.argsort):
        with pytest.raises(IndexError):
            f(mx.array(3.0))
        with pytest.raises(IndexError):
            f(mx.zeros((2, 3)), axis=2)
        with pytest.raises(TypeError):
            f(mx.zeros((2, 3)), axis=(0,))
    assert mx.sort(mx.array([2, 1])).tolist() == [1, 2]


# ---------------------------------------------------------------- partition

def check_partition(x, part, idx, kth, axis):
    """Partition property along `axis` with MLX's order, and positions consistent with values."""
    xs = np.sort(np.where(x == 0, 0, x), axis=axis)
    p = np.moveaxis(part, axis, -1)
    i = np.moveaxis(idx, axis, -1).astype(np.int64)
    xm = np.moveaxis(x, axis, -1)
    ref = np.moveaxis(xs, axis, -1)
    for r in np.ndindex(p.shape[:-1]):
        row, ir = p[r], i[r]
        assert sorted(ir.tolist()) == list(range(len(ir)))
        k = ref[r][kth]
        np.testing.assert_array_equal(row[kth], k)
        left, right = row[:kth], row[kth + 1:]
        if np.isnan(k):
            assert np.isnan(right).all()
        else:
            assert (left <= k).all() and ((right >= k) | np.isnan(right)).all()
        np.testing.assert_array_equal(np.sort(xm[r][ir][:kth]), np.sort(left))


@pytest.mark.parametrize("d", ["float32", "int32", "uint8", "float16", "float64"])
def test_partition_and_argpartition(d, rng):
    x = data((4, 33), d, rng, special=True)
    xf = x.astype(np.float64)
    for kth, ax in [(0, -1), (5, -1), (32, 1), (-3, -1), (2, 0), (-1, 0)]:
        p = mx.partition(E(x, d), kth, axis=ax)
        i = mx.argpartition(E(x, d), kth, axis=ax)
        assert p.dtype == getattr(mx, d) and i.dtype == mx.uint32
        k = kth % x.shape[ax]
        check_partition(xf, N(p).astype(np.float64), N(i), k, ax % 2)
    flat = mx.partition(E(x, d), 7, axis=None)
    assert flat.shape == (x.size,)
    check_partition(xf.reshape(-1), N(flat).astype(np.float64),
                    N(mx.argpartition(E(x, d), 7, axis=None)), 7, 0)


def test_partition_errors():
    x = mx.arange(10)
    with pytest.raises(ValueError):
        mx.partition(x, 10)
    with pytest.raises(ValueError):
        mx.argpartition(x, -11)
    with pytest.raises(IndexError):
        mx.partition(mx.array(3.0), 0)
    with pytest.raises(TypeError):
        mx.partition(x, 2.5)
    assert mx.partition(x, -10).shape == (10,)
    assert mx.partition(mx.zeros((4, 0)), 0, axis=0).shape == (4, 0)


# ---------------------------------------------------------------- topk

@pytest.mark.parametrize("d", ["float32", "int32", "uint8", "float16", "bfloat16", "complex64", "bool_"])
def test_topk_values(d, rng):
    x = data((6, 300), d, rng, special=True)
    for k, ax in [(1, -1), (10, -1), (40, -1), (300, -1), (3, 0), (0, 1)]:
        got = mx.topk(E(x, d), k, axis=ax)
        assert got.dtype == getattr(mx, d)
        idx = np_key_sort(x, ax)
        n = x.shape[ax]
        # the k largest, largest first; equal values in position order
        want = np.flip(np.take(idx, np.arange(n - k, n), axis=ax % 2), axis=ax % 2)
        want_vals = np.take_along_axis(x, want, ax % 2) if k else np.take(x, [], axis=ax % 2)
        np.testing.assert_array_equal(np.sort(N(got), axis=ax) if d != "complex64" else N(got).shape,
                                      np.sort(N(E(want_vals, d)), axis=ax) if d != "complex64"
                                      else want_vals.shape)
    flat = mx.topk(E(x, d), 5, axis=None)
    assert flat.shape == (5,)


def test_topk_order_ties_and_mlx(rng):
    x = np.array([1, 5, 3, 5, 2, 5, 0], np.float32)
    assert mx.topk(mx.array(x), 3).tolist() == [5, 5, 5]
    y = rng.standard_normal((64, 500)).astype(np.float32)
    got = N(mx.topk(mx.array(y), 7))
    np.testing.assert_array_equal(got, -np.sort(-y, axis=1)[:, :7])  # largest first
    mlx = pytest.importorskip("mlx.core")
    ref = np.array(mlx.topk(mlx.array(y), 7, axis=-1))
    np.testing.assert_array_equal(np.sort(got, axis=1), np.sort(ref, axis=1))
    ref0 = np.array(mlx.topk(mlx.array(y), 3, axis=0))
    np.testing.assert_array_equal(np.sort(N(mx.topk(mx.array(y), 3, axis=0)), 0), np.sort(ref0, 0))


def test_topk_errors():
    x = mx.arange(10)
    for k in (11, -1):
        with pytest.raises(ValueError):
            mx.topk(x, k)
    with pytest.raises(IndexError):
        mx.topk(mx.array(3.0), 1)
    with pytest.raises(ValueError):
        mx.topk(mx.zeros((0, 3)), 1, axis=0)
    assert mx.topk(mx.zeros((0, 3)), 1, axis=1).shape == (0, 1)


# ---------------------------------------------------------------- searchsorted

def test_searchsorted_matches_numpy(rng):
    a = np.sort(rng.integers(0, 20, 40)).astype(np.float32)
    v = rng.integers(-2, 22, (3, 5)).astype(np.float32)
    for side in ("left", "right"):
        got = mx.searchsorted(mx.array(a), mx.array(v), side=side)
        assert got.dtype == mx.uint32 and got.shape == (3, 5)
        np.testing.assert_array_equal(N(got), np.searchsorted(a, v, side=side))
    assert mx.searchsorted(mx.array(a), mx.array(5.0)).shape == ()
    assert mx.searchsorted(mx.array([], mx.float32), mx.array([1.0])).tolist() == [0]


def test_searchsorted_mlx_rules():
    mlx = pytest.importorskip("mlx.core")
    cases = [
        (np.array([1, 2, 2, 4], np.int32), np.array([1.5, 2.0], np.float32)),
        (np.array([1., 2., np.nan], np.float32), np.array([np.nan, 3.0, np.inf, -0.0], np.float32)),
        (np.array([0, 1, 300], np.int32), np.array([255], np.uint8)),
        (np.array([0, 1, 3], np.uint8), np.array([-1, 2], np.int32)),
        (np.array([True, False]), np.array([1], np.int32)),
        (np.array([0.5, 1.5], np.float16), np.array([1], np.int32)),
    ]
    for a, v in cases:
        for side in ("left", "right"):
            ref = mlx.searchsorted(mlx.array(a), mlx.array(v), side=side)
            got = mx.searchsorted(mx.array(a), mx.array(v), side=side)
            assert got.tolist() == ref.tolist(), (a, v, side)


def test_searchsorted_errors_and_transforms():
    a = mx.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        mx.searchsorted(a, mx.array([1.0]), side="middle")
    with pytest.raises(ValueError):
        mx.searchsorted(mx.zeros((2, 2)), mx.array([1.0]))
    with pytest.raises(TypeError):
        mx.searchsorted(a, 2)
    v = mx.array([[0.5, 2.0], [2.5, 4.0]])
    got = mx.vmap(lambda r: mx.searchsorted(a, r))(v)
    assert got.tolist() == [[0, 1], [2, 3]]
    with pytest.raises(ValueError):
        mx.vmap(lambda s: mx.searchsorted(s, mx.array([1.5])))(mx.array([[1., 2.], [0., 1.]]))
    g = mx.grad(lambda s: mx.searchsorted(s, mx.array([1.5])).astype(mx.float32).sum())(a)
    assert g.tolist() == [0.0, 0.0, 0.0]
    c = mx.compile(lambda s, x: mx.searchsorted(s, x, side="right"))
    assert c(a, mx.array([2.0])).tolist() == [2]


# ---------------------------------------------------------------- unique

UNIQUE_INPUTS = [
    np.array([[2., np.nan, -0.0], [0.0, np.nan, 2.]], np.float32),
    np.array([2, 1, 2, 3, 1], np.int32),
    np.array([3, 1], np.uint8),
    np.array([True, False, True]),
    np.array([1 + 1j, 1 + 0j, 1 + 1j], np.complex64),
    np.array(3, np.int32),
    np.array([[5, 5], [5, 5]], np.int16),
]


@pytest.mark.parametrize("i", range(len(UNIQUE_INPUTS)))
def test_unique_matches_mlx(i):
    mlx = pytest.importorskip("mlx.core")
    x = UNIQUE_INPUTS[i]
    for size in (0, 1, 2, 3, 6):
        for fill in (None, 7):
            r = mlx.unique(mlx.array(x), size, True, True, True, fill_value=fill)
            g = mx.unique(mx.array(x), size, True, True, True, fill_value=fill)
            for a, b in zip(r, g):
                assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
                assert a.shape == b.shape
                np.testing.assert_array_equal(np.array(a), N(b))
    assert mx.unique(mx.array(x), 2).shape == (2,)


def test_unique_numpy_and_flags(rng):
    x = rng.integers(0, 30, (7, 9)).astype(np.int32)
    u, idx, inv, cnt = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    vals, gi, ginv, gc = mx.unique(mx.array(x), len(u), True, True, True)
    np.testing.assert_array_equal(N(vals), u)
    np.testing.assert_array_equal(N(gi), idx)
    np.testing.assert_array_equal(N(ginv), inv.reshape(x.shape))
    np.testing.assert_array_equal(N(gc), cnt)
    v, c = mx.unique(mx.array(x), 40, return_counts=True, fill_value=-1)
    assert N(c).sum() == x.size and (N(v)[len(u):] == -1).all()
    assert isinstance(mx.unique(mx.array(x), 3), mx.array)


def test_unique_errors_grad_vmap_compile():
    with pytest.raises(ValueError):
        mx.unique(mx.array([1, 2]), -1)
    with pytest.raises(ValueError):
        mx.unique(mx.array([], mx.int32), 3)
    with pytest.raises(ValueError):
        mx.unique(mx.array([3, 1], mx.uint8), 3, fill_value=-1)
    with pytest.raises(ValueError):
        mx.unique(mx.array([3, 1]), 3, fill_value=mx.array([1, 2]))
    assert mx.unique(mx.array([], mx.int32), 3, fill_value=7).tolist() == [7, 7, 7]
    g = mx.grad(lambda x: (mx.unique(x, 3) * mx.array([1., 10., 100.])).sum())(mx.array([2., 1., 1.]))
    assert g.tolist() == [10.0, 101.0, 0.0]
    got = mx.vmap(lambda x: mx.unique(x, 3))(mx.array([[1., 2., 1.], [3, 3, 3]]))
    assert got.tolist() == [[1.0, 2.0, 1.0], [3.0, 3.0, 3.0]]
    f = mx.compile(lambda x: mx.unique(x, 3, True, True, True))
    assert [a.tolist() for a in f(mx.array([1., 2., 1.]))] == [[1, 2, 1], [0, 1, 0], [0, 1, 0], [2, 1, 0]]


# ---------------------------------------------------------------- median, count_nonzero, minmax

@pytest.mark.parametrize("d", ["float32", "int32", "uint8", "float16", "float64", "bool_"])
def test_median(d, rng):
    x = data((4, 5, 6), d, rng)
    for kw in [{}, {"axis": 1}, {"axis": (0, 2)}, {"axis": -1, "keepdims": True},
               {"axis": (0, 1, 2), "keepdims": True}]:
        got = mx.median(E(x, d), **kw)
        want = np.median(x.astype(np.float64), **kw)
        assert got.dtype == (getattr(mx, d) if d in ("float16", "float64") else mx.float32)
        np.testing.assert_allclose(N(got).astype(np.float64), want, rtol=2e-3)


def test_median_mlx_rules():
    mlx = pytest.importorskip("mlx.core")
    for x in [np.array([1., np.nan, 3.], np.float32), np.array([1., 3., 2., 4.], np.float32),
              np.array([2**24 + 1, 2**24 + 3], np.int32), np.array([250, 252], np.uint8),
              np.array(3, np.int32)]:
        np.testing.assert_array_equal(N(mx.median(mx.array(x))), np.array(mlx.median(mlx.array(x))))
    for x in [np.array([1., 3., 2., 4.]), np.array([1., 3., 2., 3.]), np.array([1., 3., 2.])]:
        x = x.astype(np.float32)
        ref = mlx.grad(lambda a: mlx.median(a))(mlx.array(x))
        np.testing.assert_array_equal(N(mx.grad(lambda a: mx.median(a))(mx.array(x))), np.array(ref))
    with pytest.raises(ValueError):
        mx.median(mx.zeros((0, 3)))
    with pytest.raises(ValueError):
        mx.median(mx.zeros((2, 3)), axis=(0, 0))
    with pytest.raises(IndexError):
        mx.median(mx.zeros((2, 3)), axis=2)
    assert mx.median(mx.zeros((0, 3)), axis=1).shape == (0,)


def test_count_nonzero_and_minmax(rng):
    x = rng.integers(-2, 3, (3, 4, 5)).astype(np.float32)
    x[0, 0, 0] = np.nan
    for kw in [{}, {"axis": 1}, {"axis": (0, 2), "keepdims": True}]:
        c = mx.count_nonzero(mx.array(x), **kw)
        assert c.dtype == mx.int32
        np.testing.assert_array_equal(N(c), np.count_nonzero(x, **{k.replace("keepdims", "keepdims"): v for k, v in kw.items()}))
        lo, hi = mx.minmax(mx.array(x), **kw)
        np.testing.assert_array_equal(N(lo), np.min(x, **kw))
        np.testing.assert_array_equal(N(hi), np.max(x, **kw))
    assert mx.count_nonzero(mx.array([0j, 1j])).item() == 1
    with pytest.raises(TypeError):
        mx.count_nonzero(mx.array(x), 1, True)
    with pytest.raises(ValueError):
        mx.minmax(mx.zeros((0, 3)))
    g = mx.grad(lambda a: mx.minmax(a)[0] + 2 * mx.minmax(a)[1])(mx.array([1., 3., 2.]))
    assert g.tolist() == [1.0, 2.0, 0.0]


# ---------------------------------------------------------------- transforms

def _fd_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


OPS = {
    "sort": lambda m, x: m.sort(x, axis=0),
    "partition": lambda m, x: m.partition(x, 2, axis=-1),
    "topk": lambda m, x: m.topk(x, 3, axis=-1),
    "topk-ax0": lambda m, x: m.topk(x, 2, axis=0),
    "median": lambda m, x: m.median(x, axis=1, keepdims=True),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_grad_jvp_vmap_compile(name, rng):
    op = OPS[name]
    x = rng.permutation(20).reshape(4, 5).astype(np.float64) + rng.uniform(0, 0.3, (4, 5))
    w = rng.standard_normal(op(np, x).shape if name in ("sort", "partition") else
                            N(op(mx, mx.array(x))).shape)

    def F64(a):
        return mx.array(a, dtype=mx.float64)

    # derivatives against finite differences (float64)
    xm = F64(x)
    g = N(mx.grad(lambda a: (op(mx, a) * F64(w)).sum())(xm))
    fd = _fd_grad(lambda a: float((N(op(mx, F64(a))) * w).sum()), x)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)
    t = rng.standard_normal(x.shape)
    _, jv = mx.jvp(lambda a: op(mx, a), [xm], [F64(t)])
    np.testing.assert_allclose((N(jv[0]) * w).sum(), (fd * t).sum(), rtol=1e-6)
    # vmap against a loop over a new leading axis and over axis 1
    xs = rng.standard_normal((3, 4, 5))
    got = N(mx.vmap(lambda a: op(mx, a))(mx.array(xs)))
    np.testing.assert_array_equal(got, np.stack([N(op(mx, mx.array(v))) for v in xs]))
    got = N(mx.vmap(lambda a: op(mx, a), in_axes=1)(mx.array(xs.transpose(1, 0, 2))))
    np.testing.assert_array_equal(got, np.stack([N(op(mx, mx.array(v))) for v in xs]))
    # compile, also shapeless on a new outer size where the op allows it
    c = mx.compile(lambda a: op(mx, a))
    np.testing.assert_array_equal(N(c(xm)), N(op(mx, xm)))
    # against MLX's gradient
    mlx = pytest.importorskip("mlx.core")
    x32 = x.astype(np.float32)
    w32 = w.astype(np.float32)
    if name.startswith("topk"):
        # the order within topk's result is unspecified: a loss that does not depend on it
        def lossf(m, a):
            return (m.cos(OPS[name](m, a)) * 3).sum()
    else:
        def lossf(m, a):
            return (OPS[name](m, a) * m.array(w32)).sum()
    ref = mlx.grad(lambda a: lossf(mlx, a))(mlx.array(x32))
    mine = mx.grad(lambda a: lossf(mx, a))(mx.array(x32))
    np.testing.assert_allclose(N(mine), np.array(ref), rtol=1e-6, atol=1e-6)


def test_vmap_nested_and_shapeless_compile(rng):
    x = rng.standard_normal((2, 3, 4, 6)).astype(np.float32)
    f = mx.vmap(mx.vmap(lambda a: mx.topk(a, 2, axis=-1)))
    np.testing.assert_array_equal(N(f(mx.array(x))), N(mx.topk(mx.array(x), 2, axis=-1)))
    g = mx.vmap(mx.vmap(lambda a: mx.argsort(a, axis=0), in_axes=1), in_axes=2)
    want = np.argsort(x.transpose(2, 1, 0, 3), axis=2, kind="stable")
    np.testing.assert_array_equal(N(g(mx.array(x))), want)
    for fn in (lambda a: mx.sort(a, axis=-1), lambda a: mx.argpartition(a, 1, axis=-1),
               lambda a: mx.topk(a, 2, axis=-1)):
        c = mx.compile(fn, shapeless=True)
        for shape in [(3, 6), (5, 6)]:
            y = mx.array(rng.standard_normal(shape).astype(np.float32))
            np.testing.assert_array_equal(N(c(y)), N(fn(y)))
    h = mx.grad(lambda a: mx.sum(mx.topk(a, 2, axis=-1) ** 2))
    np.testing.assert_array_equal(N(mx.compile(h)(mx.array(x))), N(h(mx.array(x))))


@pytest.mark.parametrize("d", ["float32", "int8", "float16", "complex64", "float64"])
def test_inner_axes_large(d, rng):
    # an axis followed by other axes, large enough to be moved last through a scratch copy
    x = data((37, 150, 3), d, rng, special=True, lo=-300, hi=300)
    for ax in (0, 1):
        idx = np_key_sort(x, ax)
        np.testing.assert_array_equal(N(mx.argsort(E(x, d), axis=ax)), idx)
        np.testing.assert_array_equal(N(mx.sort(E(x, d), axis=ax)),
                                      N(E(np.take_along_axis(x, idx, ax), d)))
        n = x.shape[ax]
        top = N(mx.topk(E(x, d), 5, axis=ax))
        want = np.flip(np.take(idx, np.arange(n - 5, n), axis=ax), axis=ax)
        np.testing.assert_array_equal(top, N(E(np.take_along_axis(x, want, ax), d)))
        if d != "complex64":
            k = n // 2
            p = mx.partition(E(x, d), k, axis=ax)
            i = mx.argpartition(E(x, d), k, axis=ax)
            check_partition(x.astype(np.float64), N(p).astype(np.float64), N(i), k, ax)


@pytest.mark.parametrize("d", DTYPES)
def test_argsort_and_searchsorted_match_mlx_with_specials(d, rng):
    mlx = pytest.importorskip("mlx.core")
    x = data((4, 40), d, rng, special=True)
    for ax in (-1, 0):
        ref = mlx.argsort(mlx.array(x).astype(getattr(mlx, d)), axis=ax)
        np.testing.assert_array_equal(N(mx.argsort(E(x, d), axis=ax)), np.array(ref))
    if d != "complex64":
        for side in ("left", "right"):
            ref = mlx.searchsorted(mlx.sort(mlx.array(x[0]).astype(getattr(mlx, d))),
                                   mlx.array(x[1]).astype(getattr(mlx, d)), side=side)
            got = mx.searchsorted(mx.sort(E(x[0], d)), E(x[1], d), side=side)
            assert got.tolist() == ref.tolist()
