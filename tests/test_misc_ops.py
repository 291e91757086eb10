"""The small ops: aliases, angle conversions, trunc, logical_xor, nan_to_num, roll, flip,
diff, unstack, view, depends, windows, empty, asarray, contiguous, dtype categories and
queries, print options, thread-local streams, device queries and buffer sizes.

Values are checked against numpy and, where installed, against mlx; derivatives against
finite differences and mlx's; vmap against a Python loop; compile against eager.
"""
import threading

import numpy as np
import pytest

import ember.core as mx

try:
    import mlx.core as mlx
except ImportError:  # the mlx comparisons are skipped
    mlx = None

needs_mlx = pytest.mark.skipif(mlx is None, reason="mlx is not installed")

RNG = np.random.default_rng(0)
FLOATS = ["float32", "float16", "bfloat16", "float64"]
INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def npy(x):
    if x.dtype == mx.bfloat16:
        x = x.astype(mx.float32)
    return np.array(x)


def close(a, b, rtol=1e-6, atol=1e-6):
    np.testing.assert_allclose(npy(a) if isinstance(a, mx.array) else a, b, rtol=rtol, atol=atol)


def both(fn, *arrays):
    """fn run on Ember and on mlx with the same numpy inputs, results as numpy."""
    e = fn(mx, *[mx.array(a) for a in arrays])
    m = fn(mlx, *[mlx.array(a) for a in arrays])
    return e, m


def same(e, m, rtol=1e-6, atol=1e-6):
    if isinstance(e, (list, tuple)):
        assert isinstance(m, (list, tuple)) and len(e) == len(m)
        for x, y in zip(e, m):
            same(x, y, rtol, atol)
        return
    assert str(e.dtype).split(".")[-1] == str(m.dtype).split(".")[-1]
    assert tuple(e.shape) == tuple(m.shape)
    me = m.astype(mlx.float32) if m.dtype == mlx.bfloat16 else m
    np.testing.assert_allclose(npy(e), np.array(me), rtol=rtol, atol=atol)


# ---------- aliases

def test_aliases_are_the_same_functions():
    for alias, name in [("acos", "arccos"), ("asin", "arcsin"), ("atan", "arctan"),
                        ("atan2", "arctan2"), ("acosh", "arccosh"), ("asinh", "arcsinh"),
                        ("atanh", "arctanh"), ("pow", "power"),
                        ("bitwise_left_shift", "left_shift"),
                        ("bitwise_right_shift", "right_shift"), ("cumulative_sum", "cumsum"),
                        ("cumulative_prod", "cumprod")]:
        assert getattr(mx, alias) is getattr(mx, name)
    x = mx.array([0.1, 0.5, 0.9])
    close(mx.acos(x), np.arccos([0.1, 0.5, 0.9]))
    close(mx.atan2(x, 2.0), np.arctan2([0.1, 0.5, 0.9], 2.0))
    close(mx.pow(x, 3), np.power([0.1, 0.5, 0.9], 3), rtol=1e-5)
    assert mx.bitwise_left_shift(mx.array([1, 2], mx.uint8), 3).tolist() == [8, 16]
    assert mx.cumulative_sum(mx.array([[1, 2], [3, 4]]), axis=1).tolist() == [[1, 3], [3, 7]]
    assert mx.cumulative_prod(mx.array([1, 2, 3]), reverse=True).tolist() == [6, 6, 3]


# ---------- elementwise

@pytest.mark.parametrize("dtype", ["bool_", "int32", "uint8", "float32", "float16", "complex64"])
def test_positive_copies(dtype):
    x = mx.array([1, 0, 3]).astype(getattr(mx, dtype))
    y = mx.positive(x)
    assert y.dtype == x.dtype and mx.array_equal(x, y).item()
    before = x.tolist()
    y[0] = 0  # a copy: writing to it leaves x alone
    assert x.tolist() == before and y[0].item() == 0


@pytest.mark.parametrize("dtype", FLOATS)
def test_trunc_floats(dtype):
    a = np.array([-2.7, -0.5, -0.0, 0.4, 1.5, 3.9, np.inf, -np.inf], np.float32)
    x = mx.array(a).astype(getattr(mx, dtype))
    y = mx.trunc(x)
    assert y.dtype == x.dtype
    close(y, np.trunc(npy(x)), rtol=0, atol=0)
    assert np.isnan(npy(mx.trunc(mx.array([np.nan]))))[0]
    # non-contiguous
    m = mx.array(RNG.normal(size=(4, 5)).astype(np.float32) * 5)
    close(mx.trunc(m.T[::2]), np.trunc(np.array(m).T[::2]), rtol=0, atol=0)


def test_trunc_integers_and_errors():
    for d in INTS + ["bool_"]:
        x = mx.array([0, 1, 5]).astype(getattr(mx, d))
        y = mx.trunc(x)
        assert y.dtype == x.dtype and y.tolist() == x.tolist()
    with pytest.raises(ValueError, match="trunc"):
        mx.trunc(mx.array([1 + 2j]))
    assert mx.trunc(mx.zeros((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("name,np_fn", [("degrees", np.degrees), ("radians", np.radians)])
def test_angle_conversions(name, np_fn):
    f = getattr(mx, name)
    a = RNG.uniform(-10, 10, size=(3, 4)).astype(np.float32)
    close(f(mx.array(a)), np_fn(a), rtol=1e-6)
    close(f(mx.array(a).T), np_fn(a.T), rtol=1e-6)
    assert f(mx.array([1, 2])).dtype == mx.float32
    assert f(mx.array([True])).dtype == mx.float32
    assert f(mx.array([1.0], mx.float16)).dtype == mx.float16
    assert f(mx.array([1.0], mx.float64)).dtype == mx.float64
    close(f(mx.array([1.0], mx.float64)), np_fn([1.0]), rtol=1e-14)
    assert f(mx.array([1 + 2j])).dtype == mx.complex64
    assert f(2).dtype == mx.float32


def test_logical_xor():
    a = RNG.integers(-2, 3, size=(3, 4))
    b = RNG.integers(-2, 3, size=(4,))
    for d in ["int32", "float32", "bool_", "uint8"]:
        x, y = mx.array(a).astype(getattr(mx, d)), mx.array(b).astype(getattr(mx, d))
        z = mx.logical_xor(x, y)
        assert z.dtype == mx.bool_
        assert np.array_equal(np.array(z), np.logical_xor(npy(x), npy(y)))
    assert mx.logical_xor(1, 0).item() is True
    assert mx.logical_xor(mx.array([0.0, 2.0]), 0.0).tolist() == [False, True]
    with pytest.raises(ValueError):
        mx.logical_xor(mx.zeros((2,)), mx.zeros((3,)))


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_nan_to_num(dtype):
    a = np.array([np.nan, np.inf, -np.inf, 1.5, -2.0], np.float32)
    x = mx.array(a).astype(getattr(mx, dtype))
    y = mx.nan_to_num(x)
    assert y.dtype == x.dtype
    big = float(mx.finfo(getattr(mx, dtype)).max)
    close(y, [0.0, big, -big, 1.5, -2.0], rtol=1e-7)
    close(mx.nan_to_num(x, 1.0, 9.0, -9.0), [1.0, 9.0, -9.0, 1.5, -2.0])
    close(mx.nan_to_num(x, nan=3.0, neginf=-1.0), [3.0, big, -1.0, 1.5, -2.0], rtol=1e-7)


def test_nan_to_num_other_dtypes():
    i = mx.array([-3, 2])
    assert mx.nan_to_num(i).tolist() == [-3, 2] and mx.nan_to_num(i).dtype == mx.int32
    assert mx.nan_to_num(mx.array([True])).dtype == mx.bool_
    assert mx.nan_to_num(float("nan")).item() == 0.0
    # a replacement too large for float16 becomes inf, as the cast gives
    assert mx.nan_to_num(mx.array([np.inf], mx.float16), posinf=1e6).tolist() == [np.inf]
    for bad in [mx.array([1j]), mx.array([1.0], mx.float64)]:  # as MLX
        with pytest.raises(ValueError, match="nan_to_num"):
            mx.nan_to_num(bad)
    with pytest.raises(ValueError, match="nan_to_num"):
        mx.nan_to_num(mx.array([1.0], mx.float64), posinf=1.0)
    f64 = mx.array([np.nan, np.inf, -np.inf, 1.0], mx.float64)
    r = mx.nan_to_num(f64, 1.0, 9.0, -9.0)
    assert r.dtype == mx.float64 and r.tolist() == [1.0, 9.0, -9.0, 1.0]
    x = mx.array(np.array([[np.nan, 1.0], [np.inf, 2.0]], np.float32)).T
    close(mx.nan_to_num(x), np.nan_to_num(np.array([[np.nan, 1.0], [np.inf, 2.0]], np.float32).T))


# ---------- rolls, flips, differences, unstack

def test_roll_against_numpy():
    a = np.arange(24).reshape(2, 3, 4)
    x = mx.array(a)
    for shift, axis in [(1, None), (-5, None), (2, 0), (-1, 1), (7, -1), ((1, 2), (0, 2)),
                        (2, (1, 2)), ((1, 2), None), (0, 1), ((3, -2), (1, 1))]:
        got = mx.roll(x, shift, axis)
        assert got.tolist() == np.roll(a, shift, axis).tolist(), (shift, axis)
    assert mx.roll(x, shift=1, axis=2).tolist() == np.roll(a, 1, 2).tolist()
    assert mx.roll(x.transpose(2, 0, 1), 1, 0).tolist() == np.roll(a.transpose(2, 0, 1), 1, 0).tolist()
    assert mx.roll(mx.zeros((0, 3)), 2, 0).shape == (0, 3)
    assert mx.roll(mx.array(3), 2).item() == 3


def test_roll_errors():
    x = mx.zeros((2, 3))
    with pytest.raises(IndexError):
        mx.roll(x, 1, 5)
    with pytest.raises(ValueError, match="shift"):
        mx.roll(x, (1,), (0, 1))


def test_flip_against_numpy():
    a = np.arange(24).reshape(2, 3, 4)
    x = mx.array(a)
    assert mx.flip(x).tolist() == np.flip(a).tolist()
    for ax in [0, 1, -1, (0, 2), [1, 2], ()]:
        assert mx.flip(x, ax).tolist() == np.flip(a, ax).tolist(), ax
    assert mx.flip(x.T, 0).tolist() == np.flip(a.T, 0).tolist()
    assert mx.flip(mx.array(3)).item() == 3
    assert mx.flip(mx.zeros((0, 2)), 0).shape == (0, 2)
    with pytest.raises(IndexError):
        mx.flip(x, 3)


def test_diff_against_numpy():
    a = RNG.integers(-9, 9, size=(4, 5))
    x = mx.array(a)
    for n, ax in [(1, -1), (2, 0), (0, 1), (3, 1), (4, 0), (9, 1)]:
        assert mx.diff(x, n=n, axis=ax).tolist() == np.diff(a, n, ax).tolist(), (n, ax)
    assert mx.diff(x.T).tolist() == np.diff(a.T).tolist()
    b = np.array([True, False, False, True])
    assert mx.diff(mx.array(b)).tolist() == np.diff(b).tolist()
    assert mx.diff(mx.array([3, 1, 5], mx.uint8)).tolist() == [254, 4]
    f = RNG.normal(size=(6,)).astype(np.float32)
    close(mx.diff(mx.array(f), 2), np.diff(f, 2), rtol=1e-5)
    with pytest.raises(ValueError):
        mx.diff(x, n=-1)
    with pytest.raises(IndexError):
        mx.diff(x, axis=2)
    with pytest.raises(IndexError):
        mx.diff(mx.array(1.0))


def test_unstack():
    a = np.arange(24).reshape(2, 3, 4)
    x = mx.array(a)
    parts = mx.unstack(x)
    assert isinstance(parts, tuple) and len(parts) == 2
    assert [p.tolist() for p in parts] == [a[0].tolist(), a[1].tolist()]
    parts = mx.unstack(x, axis=-1)
    assert [p.tolist() for p in parts] == [a[..., i].tolist() for i in range(4)]
    assert [p.tolist() for p in mx.unstack(x.T, axis=1)] == [a.T[:, i].tolist() for i in range(3)]
    assert mx.unstack(mx.zeros((0, 3))) == ()
    with pytest.raises(IndexError):
        mx.unstack(mx.array(1.0))
    with pytest.raises(TypeError):
        mx.unstack(x, 1)  # axis is keyword-only
    with pytest.raises(IndexError):
        mx.unstack(x, axis=3)


# ---------- view

@pytest.mark.parametrize("src,dst", [("float32", "int32"), ("float32", "uint8"),
                                     ("float32", "float16"), ("int8", "int32"),
                                     ("uint16", "bfloat16"), ("float64", "uint32"),
                                     ("int64", "float64"), ("uint8", "bool_")])
def test_view_against_numpy(src, dst):
    n = 8
    a = (RNG.integers(0, 2, size=(3, n)) if dst == "bool_" else RNG.integers(0, 100, size=(3, n)))
    x = mx.array(a).astype(getattr(mx, src))
    y = mx.view(x, getattr(mx, dst))
    assert y.dtype == getattr(mx, dst)
    np_dst = {"bfloat16": np.uint16, "bool_": np.bool_}.get(dst, dst)
    expect = np.array(x).view(np_dst)
    got = np.array(y.view(mx.uint16)) if dst == "bfloat16" else np.array(y)
    assert y.shape == expect.shape and np.array_equal(got, expect)


def test_view_layouts_and_errors():
    x = mx.arange(12, dtype=mx.float32).reshape(3, 4)
    xt = np.arange(12, dtype=np.float32).reshape(3, 4).T
    assert np.array_equal(np.array(mx.view(x.T, mx.int32)), xt.view(np.int32))
    assert np.array_equal(np.array(mx.view(x.T, mx.int8)), np.ascontiguousarray(xt).view(np.int8))
    assert np.array_equal(np.array(x[:, 1:3].view(mx.uint8)),
                          np.ascontiguousarray(np.arange(12, dtype=np.float32).reshape(3, 4)[:, 1:3]).view(np.uint8))
    assert mx.view(x, mx.float32) is x or mx.view(x, mx.float32).dtype == mx.float32
    assert mx.view(1.0, mx.int32).item() == 1065353216
    assert mx.view(mx.zeros((0, 4)), mx.int8).shape == (0, 16)
    with pytest.raises(ValueError, match="view"):
        mx.view(mx.zeros((2, 3)), mx.float64)
    with pytest.raises(ValueError, match="scalar"):
        mx.view(mx.array(1.0), mx.int8)
    with pytest.raises(ValueError):
        mx.grad(lambda v: mx.view(v, mx.int32).astype(mx.float32).sum())(mx.ones((2,)))


def test_view_vmap_and_compile():
    x = mx.arange(12, dtype=mx.float32).reshape(3, 4)
    expect = mx.stack([mx.view(x[i], mx.uint8) for i in range(3)])
    assert mx.array_equal(mx.vmap(lambda v: mx.view(v, mx.uint8))(x), expect).item()
    # batch axis last: each column viewed separately
    expect_t = mx.stack([mx.view(x[:, j], mx.int16) for j in range(4)])
    got = mx.vmap(lambda v: mx.view(v, mx.int16), in_axes=1)(x)
    assert mx.array_equal(got, expect_t).item()
    f = mx.compile(lambda v: mx.view(v * 2, mx.int32))
    assert mx.array_equal(f(x), mx.view(x * 2, mx.int32)).item()
    g = mx.compile(lambda v: mx.view(v, mx.uint8), shapeless=True)
    assert mx.array_equal(g(x), mx.view(x, mx.uint8)).item()
    y = mx.ones((5, 2))
    assert mx.array_equal(g(y), mx.view(y, mx.uint8)).item()


# ---------- depends

def test_depends_values_and_structure():
    a, b = mx.array([1.0, 2.0]), mx.array([3.0])
    out = mx.depends([a * 2], [b + 1])
    assert isinstance(out, list) and out[0].tolist() == [2.0, 4.0]
    assert mx.depends(a, b).tolist() == [1.0, 2.0]
    two = mx.depends((a, a + 1), [b, b])
    assert [t.tolist() for t in two] == [[1.0, 2.0], [2.0, 3.0]]
    assert mx.depends([], [b]) == []
    with pytest.raises(TypeError):
        mx.depends(1, b)


def test_depends_transforms():
    b = mx.array([3.0])
    x = mx.array([1.0, 2.0], mx.float32)
    g = mx.grad(lambda v: mx.depends(v * v, b).sum())(x)
    assert g.tolist() == [2.0, 4.0]
    gb = mx.grad(lambda d: mx.depends(x * 3, d).sum())(b)
    assert gb.tolist() == [0.0]
    _, t = mx.jvp(lambda v: mx.depends(v * 2, v), [x], [mx.ones((2,))])
    assert t[0].tolist() == [2.0, 2.0]
    m = mx.ones((2, 3))
    assert mx.vmap(lambda v: mx.depends(v * 2, v + 1))(m).tolist() == (m * 2).tolist()
    f = mx.compile(lambda v: mx.depends(v + 1, v * 5))
    assert f(x).tolist() == [2.0, 3.0]


# ---------- windows

@pytest.mark.parametrize("name", ["hanning", "hamming", "blackman", "bartlett"])
def test_windows_against_numpy(name):
    for M in [0, 1, 2, 5, 8, 33]:
        w = getattr(mx, name)(M)
        assert w.dtype == mx.float32 and w.shape == (M,)
        close(w, getattr(np, name)(M), rtol=0, atol=2e-6)
    assert getattr(mx, name)(-3).shape == (0,)
    with pytest.raises(TypeError):
        getattr(mx, name)(2.5)


# ---------- creation, conversion, layout

def test_empty_and_like():
    e = mx.empty((2, 3))
    assert e.shape == (2, 3) and e.dtype == mx.float32
    assert mx.empty(3, mx.int8).dtype == mx.int8
    x = mx.array([1.0, 2.0]).T
    assert mx.empty_like(x).dtype == mx.float32 and mx.empty_like(x).shape == (2,)
    assert mx.empty_like(x, mx.int16).dtype == mx.int16
    assert mx.zeros_like(x, dtype=mx.int8).tolist() == [0, 0]
    assert mx.ones_like(x, mx.bool_).tolist() == [True, True]
    assert mx.zeros((2,), None).dtype == mx.float32  # None still means float32


def test_asarray():
    a = mx.array([1.0, 2.0])
    b = mx.asarray(a)
    assert b is not a and b.tolist() == [1.0, 2.0]
    assert mx.asarray(a, mx.int32).dtype == mx.int32
    assert mx.asarray([1, 2]).dtype == mx.int32
    assert mx.asarray(3.5).item() == 3.5
    assert mx.asarray(np.ones((2, 2), np.float64)).dtype == mx.float32
    assert mx.asarray(a, copy=True).tolist() == [1.0, 2.0]
    for v in [a, [1, 2], np.ones(3)]:
        with pytest.raises(ValueError):
            mx.asarray(v, copy=False)


def test_contiguous():
    x = mx.arange(6.0).reshape(2, 3)
    assert mx.contiguous(x.T).tolist() == np.arange(6.0).reshape(2, 3).T.tolist()
    assert mx.contiguous(x.T, True).tolist() == mx.contiguous(x.T).tolist()
    assert mx.contiguous(x[:, ::2]).tolist() == [[0.0, 2.0], [3.0, 5.0]]


def test_mT():
    a = np.arange(24).reshape(2, 3, 4)
    assert mx.array(a).mT.tolist() == np.swapaxes(a, -1, -2).tolist()
    for bad in [mx.ones((3,)), mx.array(1.0)]:
        with pytest.raises(ValueError):
            bad.mT


def test_array_iterator():
    x = mx.array([[1, 2], [3, 4]])
    it = iter(x)
    assert isinstance(it, mx.ArrayIterator) and iter(it) is it
    assert [r.tolist() for r in it] == [[1, 2], [3, 4]]
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(TypeError):
        iter(mx.array(1))
    with pytest.raises(TypeError):
        mx.ArrayIterator()


def test_array_like_protocol():
    class Holder:
        def __mlx_array__(self):
            return mx.array([1, 2])

    assert mx.exp(Holder()).shape == (2,)
    assert mx.array(mx.ArrayLike(Holder())).tolist() == [1, 2]
    assert mx.add(mx.ArrayLike([1.0, 2.0]), 1).tolist() == [2.0, 3.0]


# ---------- dtypes

def test_dtype_categories():
    cats = ["complexfloating", "floating", "inexact", "signedinteger", "unsignedinteger",
            "integer", "number", "generic"]
    assert [c.name for c in mx.DtypeCategory] == cats
    assert [c.value for c in mx.DtypeCategory] == list(range(8))
    assert all(getattr(mx, c) is getattr(mx.DtypeCategory, c) for c in cats)
    assert mx.issubdtype(mx.int32, mx.integer) and not mx.issubdtype(mx.int32, mx.floating)
    assert not mx.issubdtype(mx.float64, mx.float32) and mx.issubdtype(mx.float32, mx.float32)
    assert mx.issubdtype(mx.floating, mx.inexact) and not mx.issubdtype(mx.inexact, mx.floating)
    assert mx.issubdtype(mx.bool_, mx.generic) and not mx.issubdtype(mx.bool_, mx.number)
    assert not mx.issubdtype(mx.signedinteger, mx.floating)
    assert not mx.issubdtype(mx.inexact, mx.float32)
    assert mx.issubdtype(mx.uint8, mx.unsignedinteger) and mx.issubdtype(mx.complex64, mx.number)
    for bad in [("float32", mx.float32), (mx.float32, "float32"), (mx.float32, np.floating)]:
        with pytest.raises(ValueError):
            mx.issubdtype(*bad)


def test_isdtype_and_can_cast():
    assert mx.isdtype(mx.int8, mx.int8) and mx.isdtype(mx.int8, ("bool", mx.int8))
    assert mx.isdtype(mx.float32, "numeric") and not mx.isdtype(mx.bool_, "numeric")
    assert mx.isdtype(mx.bfloat16, "real floating") and mx.isdtype(mx.uint32, "integral")
    assert not mx.isdtype(mx.uint32, "signed integer")
    with pytest.raises(ValueError):
        mx.isdtype(mx.int8, "foo")
    with pytest.raises(ValueError):
        mx.isdtype(mx.int8, 3)
    with pytest.raises(ValueError):
        mx.isdtype(mx.int8, mx.integer)
    assert mx.can_cast(mx.int8, mx.int16) and not mx.can_cast(mx.int16, mx.int8)
    assert mx.can_cast(mx.array([1.0]), mx.float64) and not mx.can_cast(mx.uint8, mx.int8)
    for bad in ["int8", 1]:
        with pytest.raises(ValueError):
            mx.can_cast(bad, mx.int16)


def test_finfo_iinfo():
    for d, nd in [("float16", np.float16), ("float32", np.float32), ("float64", np.float64)]:
        f, n = mx.finfo(getattr(mx, d)), np.finfo(nd)
        assert (f.min, f.max, f.eps, f.smallest_normal, f.bits) == \
            (float(n.min), float(n.max), float(n.eps), float(n.smallest_normal), n.bits)
        assert f.dtype == getattr(mx, d)
    assert mx.finfo(mx.complex64).dtype == mx.float32
    assert repr(mx.finfo(mx.float16)) == "finfo(min=-65504, max=65504, dtype=float16)"
    assert mx.finfo(mx.bfloat16).eps == 2.0 ** -7
    with pytest.raises(ValueError, match="not inexact"):
        mx.finfo(mx.int32)
    for d in INTS:
        i, n = mx.iinfo(getattr(mx, d)), np.iinfo(d)
        assert (i.min, i.max) == (int(n.min), int(n.max)) and i.dtype == getattr(mx, d)
    assert repr(mx.iinfo(mx.int8)) == "iinfo(min=-128, max=127, dtype=int8)"
    for bad in [mx.float32, mx.bool_]:
        with pytest.raises(ValueError, match="iinfo"):
            mx.iinfo(bad)


# ---------- printing

def test_printoptions():
    x = mx.array([1.123456789, 2.5, -3.0])
    default = repr(x)
    assert default == "array([1.12346, 2.5, -3], dtype=float32)"
    with mx.printoptions(precision=2):
        assert repr(x) == "array([1.12, 2.50, -3.00], dtype=float32)"
        assert mx.get_printoptions().precision == 2
    assert repr(x) == default
    mx.set_printoptions(precision=0)
    try:
        assert repr(x) == "array([1, 2, -3], dtype=float32)"
        assert repr(mx.array([1, 2])) == "array([1, 2], dtype=int32)"
        assert repr(mx.array([1 + 2.5j])) == "array([1+2j], dtype=complex64)"
        assert isinstance(mx.get_printoptions(), mx.PrintOptions)
    finally:
        mx.set_printoptions()
    assert repr(x) == default and mx.get_printoptions().precision == -1
    assert mx.PrintOptions().precision == -1 and mx.PrintOptions(3).precision == 3


# ---------- devices, streams, buffers

def test_devices_and_streams():
    assert mx.device_count(mx.cpu) == 1
    info = mx.device_info(mx.cpu)
    assert isinstance(info, dict) and "device_name" in info and "architecture" in info
    assert mx.device_info() == info
    x = mx.array([1.0, 2.0])
    t = mx.new_thread_local_stream(mx.cpu)
    assert isinstance(t, mx.ThreadLocalStream) and t.device == mx.cpu
    assert repr(t).startswith("ThreadLocalStream(Device(cpu, 0), ")
    close(mx.exp(x, stream=t), np.exp([1.0, 2.0]))
    seen = []

    def work():
        seen.append(mx.exp(x, stream=t).tolist())

    th = threading.Thread(target=work)
    th.start()
    th.join()
    close(np.array(seen[0]), np.exp([1.0, 2.0]))
    with mx.stream(t):
        close(mx.exp(x), np.exp([1.0, 2.0]))
    u = mx.new_thread_unsafe_stream(mx.cpu)
    assert isinstance(u, mx.Stream)
    close(mx.exp(x, stream=u), np.exp([1.0, 2.0]))
    mx.clear_streams()
    close(mx.exp(x), np.exp([1.0, 2.0]))


def test_get_array_buffer_size():
    a = mx.ones((10,))
    b = mx.ones((3,), mx.float16)
    mx.eval(a, b)
    assert mx.get_array_buffer_size(a) >= 40
    one = mx.get_array_buffer_size(a)
    assert mx.get_array_buffer_size({"a": a, "l": [a, b, 3]}, a) == one + mx.get_array_buffer_size(b)
    with pytest.raises(ValueError):
        mx.get_array_buffer_size(a + 1)


# ---------- against mlx

@needs_mlx
def test_ops_match_mlx():
    a = RNG.normal(size=(3, 4)).astype(np.float32) * 4
    b = RNG.integers(-3, 4, size=(3, 4)).astype(np.int32)
    same(*both(lambda M, x: M.trunc(x), a))
    same(*both(lambda M, x: M.degrees(x), a), rtol=1e-6)
    same(*both(lambda M, x: M.radians(x), b), rtol=1e-6)
    same(*both(lambda M, x, y: M.logical_xor(x, y), a, b))
    same(*both(lambda M, x: M.roll(x, (1, 2), (0, 1)), a))
    same(*both(lambda M, x: M.roll(x, -3), b))
    same(*both(lambda M, x: M.flip(x, (0, 1)), a))
    same(*both(lambda M, x: M.diff(x, n=2, axis=0), b))
    same(*both(lambda M, x: M.unstack(x, axis=1), a))
    same(*both(lambda M, x: M.view(x, M.uint8), a))
    same(*both(lambda M, x: M.view(M.transpose(x), M.int16), b))
    same(*both(lambda M, x: M.positive(x), b))
    special = np.array([np.nan, np.inf, -np.inf, 2.0], np.float32)
    same(*both(lambda M, x: M.nan_to_num(x), special))
    same(*both(lambda M, x: M.nan_to_num(x.astype(M.float16), 1.0, 5.0), special))
    for name in ["hanning", "hamming", "blackman", "bartlett"]:
        for M_ in [1, 2, 7]:
            same(getattr(mx, name)(M_), getattr(mlx, name)(M_), atol=1e-6)
    for d in ["float16", "bfloat16", "float32", "float64", "complex64"]:
        f, g = mx.finfo(getattr(mx, d)), mlx.finfo(getattr(mlx, d))
        assert (f.min, f.max, f.eps, f.bits, f.smallest_normal) == \
            (g.min, g.max, g.eps, g.bits, g.smallest_normal)
        assert repr(f) == repr(g)
    for d in INTS:
        i, j = mx.iinfo(getattr(mx, d)), mlx.iinfo(getattr(mlx, d))
        assert (i.min, i.max, repr(i)) == (j.min, j.max, repr(j))
    dts = INTS + FLOATS + ["bool_", "complex64"]
    for d in dts:
        for e in dts:
            assert mx.can_cast(getattr(mx, d), getattr(mx, e)) == \
                mlx.can_cast(getattr(mlx, d), getattr(mlx, e)), (d, e)
        for c in mx.DtypeCategory:
            assert mx.issubdtype(getattr(mx, d), getattr(mx, c.name)) == \
                mlx.issubdtype(getattr(mlx, d), getattr(mlx, c.name)), (d, c)


@needs_mlx
def test_printing_matches_mlx():
    vals = [np.array([1.123456789, 2.5, -3.0, 1e-5, 12345678.9], np.float32),
            np.array([[0.5, -1.25], [3.0, 1e6]], np.float32)]
    try:
        for p in [-1, 0, 1, 3, 8]:
            mx.set_printoptions(precision=p)
            mlx.set_printoptions(precision=p)
            for v in vals:
                assert repr(mx.array(v)) == repr(mlx.array(v)), p
            assert repr(mx.array([1 + 2.123456j])) == repr(mlx.array([1 + 2.123456j]))
            assert repr(mx.array([1.5], mx.float16)) == repr(mlx.array([1.5], mlx.float16))
    finally:
        mx.set_printoptions()
        mlx.set_printoptions()


@needs_mlx
def test_grads_match_mlx():
    a = RNG.normal(size=(3, 4)).astype(np.float32)

    def run(M, f):
        def loss(x):
            y = f(M, x)
            return (y * M.cos(y)).sum()
        return M.grad(loss)(M.array(a))

    for f in [lambda M, x: M.roll(x, 2, 1), lambda M, x: M.flip(x, 0),
              lambda M, x: M.diff(x, 2), lambda M, x: M.degrees(x),
              lambda M, x: M.nan_to_num(x * x), lambda M, x: M.unstack(x)[1],
              lambda M, x: M.trunc(x) + x, lambda M, x: M.positive(x)]:
        same(run(mx, f), run(mlx, f), rtol=1e-5, atol=1e-6)


# ---------- transforms

def test_finite_differences():
    a = RNG.normal(size=(4, 5))

    def fd(f, x, eps=1e-6):
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            d = np.zeros_like(x)
            d[i] = eps
            g[i] = (f(mx.array(x + d, mx.float64)).item() - f(mx.array(x - d, mx.float64)).item()) / (2 * eps)
        return g

    w = mx.array(RNG.normal(size=(4, 5)), mx.float64)
    for f in [lambda x: (mx.roll(x, (1, 3), (0, 1)) * w).sum(),
              lambda x: (mx.flip(x) * w).sum(),
              lambda x: (mx.diff(x, 2, axis=0) * w[:2]).sum(),
              lambda x: (mx.radians(x) * w).sum()]:
        g = mx.grad(f)(mx.array(a, mx.float64))
        np.testing.assert_allclose(np.array(g), fd(f, a), rtol=1e-6, atol=1e-8)


def test_vmap_and_compile():
    x = mx.array(RNG.normal(size=(3, 4, 5)).astype(np.float32))
    for f in [lambda v: mx.roll(v, 2, 1), lambda v: mx.flip(v, -1), lambda v: mx.diff(v, axis=0),
              lambda v: mx.trunc(v * 3), lambda v: mx.unstack(v, axis=1)[2],
              lambda v: mx.nan_to_num(mx.log(v))]:
        loop = mx.stack([f(x[i]) for i in range(3)])
        assert mx.allclose(mx.vmap(f)(x), loop, equal_nan=True).item()
        xt = mx.moveaxis(x, 0, 2)
        assert mx.allclose(mx.vmap(f, in_axes=2)(xt), loop, equal_nan=True).item()
        assert mx.allclose(mx.compile(f)(x[0]), f(x[0]), equal_nan=True).item()
