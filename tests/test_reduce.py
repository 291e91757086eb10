"""Reductions, arg-reductions, scans and softmax compared with numpy.

Result dtypes follow MLX 0.32.
"""
import zlib

import numpy as np
import pytest

import ember.core as mx

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

ALL = [
    "bool_", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32",
    "int64", "float16", "bfloat16", "float32", "float64", "complex64",
]
UINTS = ["uint8", "uint16", "uint32", "uint64"]
SINTS = ["int8", "int16", "int32", "int64"]
INTS = UINTS + SINTS
FLOATS = ["float16", "bfloat16", "float32", "float64"]
REAL = ["bool_"] + INTS + FLOATS

NPDT = {
    "bool_": np.bool_, "uint8": np.uint8, "uint16": np.uint16,
    "uint32": np.uint32, "uint64": np.uint64, "int8": np.int8,
    "int16": np.int16, "int32": np.int32, "int64": np.int64,
    "float16": np.float16, "bfloat16": np.float32, "float32": np.float32,
    "float64": np.float64, "complex64": np.complex64,
}
NP2MX = {np.dtype(v): k for k, v in NPDT.items() if k != "bfloat16"}
NP2MX[np.dtype(np.float32)] = "float32"
NP2MX[np.dtype(np.complex128)] = "complex64"

TOL = {
    "float16": (4e-3, 1e-3),
    "bfloat16": (3e-2, 1e-2),
    "float32": (1e-5, 1e-6),
    "float64": (1e-12, 1e-14),
    "complex64": (1e-5, 1e-6),
}


def D(name):
    return getattr(mx, name)


def A(x):
    """mx.array keeping numpy's dtype (float64 included)."""
    x = np.asarray(x)
    return mx.array(x, dtype=D(NP2MX[x.dtype]))


def make(np_arr, name):
    if name == "bfloat16":
        return A(np.asarray(np_arr, dtype=np.float32)).astype(mx.bfloat16)
    return A(np.asarray(np_arr, dtype=NPDT[name]))


def to_np(x):
    if x.dtype == mx.bfloat16:
        x = x.astype(mx.float32)
    return np.array(x)


def dname(dt):
    for n in ALL:
        if dt == D(n):
            return n
    raise AssertionError(dt)


def ref_in(x):
    a = to_np(x)
    if a.dtype == np.bool_ or a.dtype.kind in "iu":
        return a
    if a.dtype.kind == "c":
        return a.astype(np.complex128)
    return a.astype(np.float64)


def gen(rng, name, shape, lo=-5.0, hi=5.0, ilo=-5, ihi=5):
    if name == "bool_":
        return rng.integers(0, 2, shape).astype(bool)
    if name in UINTS:
        return rng.integers(max(ilo, 0), max(ihi, 1) + 1, shape).astype(NPDT[name])
    if name in SINTS:
        return rng.integers(ilo, ihi + 1, shape).astype(NPDT[name])
    if name == "complex64":
        return (rng.uniform(lo, hi, shape) + 1j * rng.uniform(lo, hi, shape)).astype(np.complex64)
    return rng.uniform(lo, hi, shape).astype(NPDT[name])


def check(out, expected, out_name=None, rtol=None, atol=None):
    if out_name is not None:
        assert out.dtype == D(out_name), f"dtype {out.dtype} != {out_name}"
    else:
        out_name = dname(out.dtype)
    got = to_np(out)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
    if out_name == "bool_" or out_name in INTS:
        np.testing.assert_array_equal(got, expected.astype(NPDT[out_name]))
        return
    r, a = TOL[out_name]
    rtol = r if rtol is None else rtol
    atol = a if atol is None else atol
    if out_name == "complex64":
        np.testing.assert_allclose(got.astype(np.complex128), expected, rtol=rtol, atol=atol,
                                   equal_nan=True)
        return
    np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64), rtol=rtol,
                               atol=atol, equal_nan=True)


def np_axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


# --------------------------------------------------------------------------
# references
# --------------------------------------------------------------------------
def _lse(x, axis=None, keepdims=False):
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    r = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        r = np.squeeze(r, axis=axis) if axis is not None else r.reshape(())
    return r


def _softmax(x, axis=None):
    x = np.asarray(x)
    if axis is None:
        return _softmax(x.reshape(-1), 0).reshape(x.shape)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def sum_dtype(name):
    if name in ("bool_", "int8", "int16"):
        return "int32"
    if name in ("uint8", "uint16"):
        return "uint32"
    return name


def reduce_out(op, name):
    if op in ("sum", "prod"):
        return sum_dtype(name)
    if op in ("max", "min"):
        return name
    if op in ("all", "any"):
        return "bool_"
    if op in ("mean", "logsumexp"):
        return name if name in FLOATS or name == "complex64" else "float32"
    if op in ("var", "std"):
        if name == "complex64":
            return "float32"
        return name if name in FLOATS else "float32"
    raise ValueError(op)


def reduce_ref(op, x, axis, keepdims, ddof=0):
    """numpy reference (float64/int64 accumulation)."""
    a = ref_in(x)
    ax = np_axis(axis)
    if op == "sum":
        if a.dtype.kind in "biu":
            a = a.astype(np.uint64 if a.dtype.kind == "u" else np.int64)
        return np.sum(a, axis=ax, keepdims=keepdims)
    if op == "prod":
        if a.dtype.kind in "biu":
            a = a.astype(np.uint64 if a.dtype.kind == "u" else np.int64)
        return np.prod(a, axis=ax, keepdims=keepdims)
    if op == "max":
        return np.max(a, axis=ax, keepdims=keepdims)
    if op == "min":
        return np.min(a, axis=ax, keepdims=keepdims)
    if op == "all":
        return np.all(a, axis=ax, keepdims=keepdims)
    if op == "any":
        return np.any(a, axis=ax, keepdims=keepdims)
    if a.dtype.kind in "biu":
        a = a.astype(np.float64)
    if op == "mean":
        return np.mean(a, axis=ax, keepdims=keepdims)
    if op == "var":
        return np.var(a, axis=ax, keepdims=keepdims, ddof=ddof)
    if op == "std":
        return np.std(a, axis=ax, keepdims=keepdims, ddof=ddof)
    if op == "logsumexp":
        return _lse(a, axis=ax, keepdims=keepdims)
    raise ValueError(op)


def call_reduce(op, x, axis, keepdims, ddof=0):
    f = getattr(mx, op)
    kw = {"keepdims": keepdims}
    if axis is not None:
        kw["axis"] = axis
    if op in ("var", "std"):
        kw["ddof"] = ddof
    return f(x, **kw)


REDUCE_OPS = ["sum", "prod", "max", "min", "all", "any", "mean", "var", "std", "logsumexp"]
AXES = [None, 0, 1, 2, -1, -2, -3, (0, 2), (1, 2), (0, 1), (0, 1, 2), (2, 0), (-1, 0),
        (-3, -1), [0, 2], ()]


def reduce_input(rng, op, name, shape):
    if op == "prod":
        if name in FLOATS or name == "complex64":
            v = rng.uniform(0.6, 1.4, shape)
            if name == "complex64":
                v = v * np.exp(1j * rng.uniform(-0.3, 0.3, shape))
            return make(v, name)
        if name == "bool_":
            return make(rng.random(shape) < 0.9, name)
        # small integers so the products fit
        v = rng.choice([1, 1, 1, 2, -1] if name in SINTS else [1, 1, 1, 2], shape)
        return make(v, name)
    if op in ("all", "any"):
        if name in FLOATS + ["complex64"] + INTS:
            v = rng.integers(0, 6, shape)
            return make(v, name)
    return make(gen(rng, name, shape), name)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_axes_float32(op, axis, keepdims):
    rng = np.random.default_rng(zlib.crc32(f"{op}{axis}".encode()))
    x = reduce_input(rng, op, "float32", (4, 5, 6))
    out = call_reduce(op, x, axis, keepdims)
    check(out, reduce_ref(op, x, axis, keepdims), reduce_out(op, "float32"))


@pytest.mark.parametrize("axis", [None, 1, (0, 2), -1], ids=str)
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_dtypes(op, name, axis):
    rng = np.random.default_rng(zlib.crc32(f"{op}{name}{axis}".encode()))
    x = reduce_input(rng, op, name, (3, 5, 7))
    out_name = reduce_out(op, name)
    out = call_reduce(op, x, axis, False)
    rtol = None
    if name in ("float16", "bfloat16") and op in ("sum", "prod", "mean", "var", "std"):
        rtol = {"float16": 6e-3, "bfloat16": 4e-2}[name]
    check(out, reduce_ref(op, x, axis, False), out_name, rtol=rtol)


@pytest.mark.parametrize("ddof", [0, 1, 2, 5])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)], ids=str)
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_ddof(op, axis, ddof):
    rng = np.random.default_rng(31)
    x = A(rng.standard_normal((6, 9)).astype(np.float32))
    out = call_reduce(op, x, axis, False, ddof=ddof)
    check(out, reduce_ref(op, x, axis, False, ddof=ddof), "float32")
    out = call_reduce(op, x, axis, True, ddof=ddof)
    check(out, reduce_ref(op, x, axis, True, ddof=ddof), "float32")


def test_var_ddof_too_large():
    x = A(np.array([1.0, 2.0], np.float32))
    assert np.isinf(mx.var(x, ddof=2).item())
    assert np.isinf(mx.std(x, ddof=3).item()) or np.isnan(mx.std(x, ddof=3).item())
    y = A(np.array([1.0, 1.0], np.float32))
    assert np.isnan(mx.var(y, ddof=2).item())


def test_var_numerically_stable():
    rng = np.random.default_rng(32)
    xn = (1e4 + rng.uniform(0, 1, 100000)).astype(np.float32)
    ref = np.var(xn.astype(np.float64))
    check(mx.var(A(xn)), ref, "float32", rtol=1e-3)
    check(mx.std(A(xn)), np.sqrt(ref), "float32", rtol=1e-3)
    d = (1e8 + rng.uniform(0, 1, 1000)).astype(np.float64)
    check(mx.var(A(d)), np.var(d), "float64", rtol=1e-6)


def test_var_std_complex():
    z = np.array([1 + 1j, 2 + 0j, 0j, -1 - 2j], np.complex64)
    check(mx.var(A(z)), np.var(z.astype(np.complex128)), "float32")
    check(mx.std(A(z)), np.std(z.astype(np.complex128)), "float32")


def test_mean_values():
    check(mx.mean(A(np.array([1, 2, 4], np.int32))), 7 / 3, "float32")
    check(mx.mean(A(np.array([True, False, True]))), 2 / 3, "float32")
    check(mx.mean(A(np.array([2 ** 40, 2 ** 40 + 2], np.int64))), 2.0 ** 40 + 1, "float32")
    check(mx.mean(A(np.array([1.5, 2.5], np.float16))), 2.0, "float16")
    check(mx.mean(A(np.arange(12, dtype=np.float64).reshape(3, 4)), axis=1),
          np.arange(12.0).reshape(3, 4).mean(1), "float64")
    z = np.array([1 + 2j, 3 - 1j], np.complex64)
    check(mx.mean(A(z)), np.mean(z), "complex64")


# --------------------------------------------------------------------------
# layouts: non-contiguous inputs
# --------------------------------------------------------------------------
def layout_views(rng, name):
    """(ember view, numpy view) pairs of several layouts."""
    b3 = gen(rng, name, (4, 6, 5))
    b2 = gen(rng, name, (9, 12))
    b1 = gen(rng, name, (1, 7))
    e3, e2, e1 = make(b3, name), make(b2, name), make(b1, name)
    return {
        "transpose": (e2.T, b2.T),
        "swapaxes": (mx.swapaxes(e3, 0, 2), np.swapaxes(b3, 0, 2)),
        "step": (e2[::2, 1::3], b2[::2, 1::3]),
        "reverse": (e3[::-1, :, ::-2], b3[::-1, :, ::-2]),
        "broadcast": (mx.broadcast_to(e1, (5, 7)), np.broadcast_to(b1, (5, 7))),
        "bcast3d": (mx.broadcast_to(e1.reshape(1, 7, 1), (3, 7, 4)),
                    np.broadcast_to(b1.reshape(1, 7, 1), (3, 7, 4))),
        "row_slice": (e2[2:7], b2[2:7]),
        "col_slice": (e2[:, 3:10], b2[:, 3:10]),
    }


LAYOUT_NAMES = ["transpose", "swapaxes", "step", "reverse", "broadcast", "bcast3d",
                "row_slice", "col_slice"]


@pytest.mark.parametrize("layout", LAYOUT_NAMES)
@pytest.mark.parametrize("op", REDUCE_OPS + ["argmax", "argmin"])
def test_reduce_noncontiguous(op, layout):
    rng = np.random.default_rng(33)
    name = "float32"
    x, xn = layout_views(rng, name)[layout]
    if op == "prod":
        x = mx.abs(x) * 0.1 + 0.9
    if op in ("argmax", "argmin"):
        for axis in [None, 0, -1]:
            out = getattr(mx, op)(x) if axis is None else getattr(mx, op)(x, axis=axis)
            ref = getattr(np, op)(ref_in(x), axis=axis)
            check(out, ref, "uint32")
        return
    for axis in [None, 0, -1, (0, -1)]:
        out = call_reduce(op, x, axis, False)
        check(out, reduce_ref(op, x, axis, False), reduce_out(op, name))


@pytest.mark.parametrize("layout", LAYOUT_NAMES)
@pytest.mark.parametrize("name", ["int32", "uint8", "float16", "bool_", "float64"])
def test_reduce_noncontiguous_dtypes(name, layout):
    rng = np.random.default_rng(34)
    x, xn = layout_views(rng, name)[layout]
    for op in ("sum", "max", "min", "any", "mean"):
        for axis in (None, 0, (0, -1)):
            out = call_reduce(op, x, axis, True)
            rtol = 6e-3 if name == "float16" else None
            check(out, reduce_ref(op, x, axis, True), reduce_out(op, name), rtol=rtol)


# --------------------------------------------------------------------------
# large inputs: threaded paths and accuracy
# --------------------------------------------------------------------------
def test_sum_16m_float32_accuracy():
    rng = np.random.default_rng(35)
    n = 16 * 1024 * 1024
    xn = rng.random(n, dtype=np.float32)
    x = A(xn)
    check(mx.sum(x), np.sum(xn, dtype=np.float64), "float32", rtol=1e-5, atol=0)
    check(mx.mean(x), np.mean(xn, dtype=np.float64), "float32", rtol=1e-5, atol=0)
    # values with a large common offset
    yn = (xn + np.float32(1000.0)).astype(np.float32)
    check(mx.sum(A(yn)), np.sum(yn, dtype=np.float64), "float32", rtol=1e-5, atol=0)
    # 2-D with the big axis reduced (rows reduced in parallel)
    x2 = x.reshape(16, 1024 * 1024)
    check(mx.sum(x2, axis=1), np.sum(xn.reshape(16, -1), axis=1, dtype=np.float64),
          "float32", rtol=1e-5, atol=0)
    # and reduction along the outer axis (strided accumulation)
    check(mx.sum(x.reshape(1024, 16384), axis=0),
          np.sum(xn.reshape(1024, 16384), axis=0, dtype=np.float64), "float32", rtol=1e-5,
          atol=0)


@pytest.mark.parametrize("shape,axis", [
    ((1_000_003,), None), ((1_000_003,), 0), ((3, 400_001), 1), ((400_001, 3), 0),
    ((100, 5000), 0), ((2, 100, 3000), 1), ((300, 7, 200), (0, 2)), ((5000, 100), 1),
    ((1, 200_000), 1), ((200_000, 1), 0),
], ids=str)
@pytest.mark.parametrize("op", ["sum", "max", "min", "prod", "mean", "var", "any", "all",
                                "logsumexp"])
def test_reduce_large_float32(op, shape, axis):
    rng = np.random.default_rng(36)
    if op == "prod":
        xn = rng.uniform(0.9999, 1.0001, shape).astype(np.float32)
    elif op in ("any", "all"):
        xn = (rng.random(shape) < 0.999999).astype(np.float32)
    else:
        xn = rng.standard_normal(shape).astype(np.float32)
    x = A(xn)
    out = call_reduce(op, x, axis, False)
    rtol = {"var": 5e-4, "prod": 1e-4}.get(op, 1e-5)
    if op == "prod":
        # float32 products of many values close to 1 drift by up to ~n*eps/2
        # (numpy float32 shows the same effect); scale with the length
        n_red = xn.size // np.asarray(reduce_ref("sum", A(xn), axis, False)).size
        rtol = max(1e-4, 1e-8 * n_red)
    atol = 1e-5
    if op in ("sum", "mean"):
        # long strided sums accumulate sequentially in float32 (as MLX and
        # numpy do): allow eps * sum(|x|), the conditioning of the sum
        atol = 1.2e-7 * np.max(reduce_ref(op, A(np.abs(xn)), axis, False)) + 1e-6
    check(out, reduce_ref(op, x, axis, False), reduce_out(op, "float32"), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", ["int32", "int64", "uint8", "int8", "float64", "float16",
                                  "bool_", "uint32"])
@pytest.mark.parametrize("op", ["sum", "max", "min", "any", "argmax", "argmin"])
def test_reduce_large_other_dtypes(op, name):
    rng = np.random.default_rng(37)
    n = 300_007
    xn = gen(rng, name, (n,), -2, 2, -100, 100)
    if op in ("argmax", "argmin") and name != "bool_":
        # unique extreme in the second half
        xn[n - 123] = np.iinfo(xn.dtype).max if name in INTS else 3
        xn[n - 5] = np.iinfo(xn.dtype).min if name in INTS else -3
    x = make(xn, name)
    if op in ("argmax", "argmin"):
        check(getattr(mx, op)(x), getattr(np, op)(ref_in(x)), "uint32")
        x2 = x.reshape(7, -1) if n % 7 == 0 else x[: n - n % 7].reshape(7, -1)
        r2 = ref_in(x2)
        check(getattr(mx, op)(x2, axis=1), getattr(np, op)(r2, axis=1), "uint32")
        check(getattr(mx, op)(x2, axis=0), getattr(np, op)(r2, axis=0), "uint32")
        return
    rtol = 2e-2 if name == "float16" else None
    check(call_reduce(op, x, None, False), reduce_ref(op, x, None, False), reduce_out(op, name),
          rtol=rtol, atol=0.5 if name == "float16" else None)
    x2 = x[: n - n % 7].reshape(-1, 7)
    check(call_reduce(op, x2, 0, False), reduce_ref(op, x2, 0, False), reduce_out(op, name),
          rtol=rtol, atol=0.5 if name == "float16" else None)


def test_sum_integer_accumulation_width():
    # narrow ints accumulate in 32 bits
    u8 = np.full(1000, 255, np.uint8)
    check(mx.sum(A(u8)), 255000, "uint32")
    i8 = np.full(1000, -128, np.int8)
    check(mx.sum(A(i8)), -128000, "int32")
    i16 = np.full(70000, 32767, np.int16)
    check(mx.sum(A(i16)), 32767 * 70000, "int32")
    b = np.ones(300000, bool)
    check(mx.sum(A(b)), 300000, "int32")
    i64 = np.full(10, 2 ** 40, np.int64)
    check(mx.sum(A(i64)), 10 * 2 ** 40, "int64")
    u64 = np.array([2 ** 63, 2 ** 62], np.uint64)
    check(mx.sum(A(u64)), np.uint64(2 ** 63 + 2 ** 62), "uint64")
    check(mx.prod(A(np.array([200, 200], np.uint8))), 40000, "uint32")
    check(mx.max(A(np.array([2 ** 64 - 1, 2 ** 63], np.uint64))), np.uint64(2 ** 64 - 1), "uint64")
    check(mx.min(A(np.array([-(2 ** 63), 0], np.int64))), np.int64(-(2 ** 63)), "int64")
    check(mx.max(A(np.array([-128, -5], np.int8))), -5, "int8")


# --------------------------------------------------------------------------
# special values
# --------------------------------------------------------------------------
@pytest.mark.parametrize("n", [3, 17, 40, 5000, 300_001])
@pytest.mark.parametrize("pos", ["first", "middle", "last"])
@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_max_min_nan_propagation(op, pos, n, dt):
    rng = np.random.default_rng(38)
    xn = rng.standard_normal(n).astype(dt)
    assert getattr(mx, op)(A(xn)).item() == getattr(np, op)(xn)
    idx = {"first": 0, "middle": n // 2, "last": n - 1}[pos]
    xn[idx] = np.nan
    out = getattr(mx, op)(A(xn))
    assert np.isnan(out.item()), f"{op} of an array containing nan must be nan"
    # along an axis (strided path) too
    x2 = np.tile(xn[:, None], (1, 3))
    r = np.array(getattr(mx, op)(A(x2), axis=0))
    assert np.isnan(r).all()
    r = np.array(getattr(mx, op)(A(x2.T.copy()), axis=1))
    assert np.isnan(r).all()


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float64"])
def test_max_min_nan_other_floats(name):
    xn = np.array([1.0, np.nan, 2.0, -1.0], np.float64)
    x = make(xn, name)
    assert np.isnan(to_np(mx.max(x)))
    assert np.isnan(to_np(mx.min(x)))


def test_reduce_inf_values():
    xn = np.array([1.0, np.inf, -2.0], np.float32)
    check(mx.sum(A(xn)), np.inf, "float32")
    check(mx.max(A(xn)), np.inf, "float32")
    check(mx.min(A(-xn)), -np.inf, "float32")
    assert np.isnan(mx.sum(A(np.array([np.inf, -np.inf], np.float32))).item())
    check(mx.prod(A(np.array([0.0, np.inf], np.float32))), np.nan, "float32")
    check(mx.mean(A(np.array([np.inf, 1.0], np.float32))), np.inf, "float32")
    # -0 and nan truthiness for all/any
    check(mx.any(A(np.array([0.0, -0.0], np.float32))), False, "bool_")
    check(mx.all(A(np.array([np.nan, 1.0], np.float32))), True, "bool_")
    check(mx.any(A(np.array([0.0, np.nan], np.float32))), True, "bool_")
    check(mx.all(A(np.array([1 + 0j, 1j], np.complex64))), True, "bool_")
    check(mx.any(A(np.array([0j, 0j], np.complex64))), False, "bool_")


def test_max_min_signed_zero_and_int_extremes():
    check(mx.max(A(np.array([-np.inf, -np.inf], np.float32))), -np.inf, "float32")
    check(mx.min(A(np.array([np.inf, np.inf], np.float32))), np.inf, "float32")
    check(mx.max(A(np.array([-3.4e38, -3.4e38], np.float32))), -3.4e38, "float32")
    check(mx.max(A(np.full(50, -128, np.int8))), -128, "int8")
    check(mx.min(A(np.full(50, 127, np.int8))), 127, "int8")
    check(mx.min(A(np.full(50, 2 ** 64 - 1, np.uint64))), np.uint64(2 ** 64 - 1), "uint64")


def test_max_min_complex():
    z = np.array([1 + 1j, 2 + 0j, 2 + 1j, 1 + 5j], np.complex64)
    check(mx.max(A(z)), np.max(z), "complex64")
    check(mx.min(A(z)), np.min(z), "complex64")


def test_logsumexp_specials():
    x = np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [-np.inf, -np.inf], [np.inf, 1.0],
                  [-np.inf, 0.0], [np.nan, 1.0], [np.inf, -np.inf]],
                 np.float32)
    ref = np.array([1000 + np.log(2), -1000 + np.log(2), -np.inf, np.inf, 0.0, np.nan,
                    np.inf])
    check(mx.logsumexp(A(x), axis=1), ref, "float32", rtol=1e-6, atol=0)
    check(mx.logsumexp(A(x.T), axis=0), ref, "float32", rtol=1e-6, atol=0)
    xd = x.astype(np.float64)
    check(mx.logsumexp(A(xd), axis=1), ref, "float64", rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["float32", "float64"])
def test_logsumexp_nan_with_inf(name):
    # a nan anywhere makes the result nan, even next to +inf (numpy, MLX)
    x = np.array([[np.nan, np.inf], [np.inf, np.nan], [1.0, np.nan], [np.nan, -np.inf],
                  [-np.inf, np.nan]], NPDT[name])
    got = np.array(mx.logsumexp(A(x), axis=1))
    assert np.isnan(got).all(), got


def test_logsumexp_accuracy_large_rows():
    rng = np.random.default_rng(39)
    xn = (rng.standard_normal((3, 200_003)) * 10).astype(np.float32)
    check(mx.logsumexp(A(xn), axis=1), _lse(xn.astype(np.float64), axis=1), "float32",
          rtol=2e-6, atol=0)
    check(mx.logsumexp(A(xn)), _lse(xn.astype(np.float64)), "float32", rtol=2e-6, atol=0)
    h = rng.standard_normal((4, 1000)).astype(np.float16)
    check(mx.logsumexp(A(h), axis=1), _lse(h.astype(np.float64), axis=1), "float16",
          rtol=2e-3)
    i = rng.integers(-5, 5, (4, 30)).astype(np.int32)
    check(mx.logsumexp(A(i), axis=1), _lse(i.astype(np.float64), axis=1), "float32")


# --------------------------------------------------------------------------
# empty arrays / empty axes / 0-d
# --------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["sum", "prod", "all", "any", "mean"])
def test_reduce_empty(op):
    e = mx.zeros((0, 3))
    out = call_reduce(op, e, None, False)
    ref = reduce_ref(op, e, None, False)
    check(out, ref, reduce_out(op, "float32"))
    out = call_reduce(op, e, 0, False)
    check(out, reduce_ref(op, e, 0, False), reduce_out(op, "float32"))
    out = call_reduce(op, e, 1, False)
    assert out.shape == (0,)
    out = call_reduce(op, e, 0, True)
    assert out.shape == (1, 3)
    check(out, reduce_ref(op, e, 0, True), reduce_out(op, "float32"))
    ei = mx.zeros((2, 0, 3), mx.int8)
    out = call_reduce(op, ei, (0, 1), False)
    check(out, reduce_ref(op, ei, (0, 1), False), reduce_out(op, "int8"))


@pytest.mark.parametrize("op", ["max", "min", "argmax", "argmin"])
def test_reduce_empty_no_identity_raises(op):
    with pytest.raises(ValueError):
        mx.eval(getattr(mx, op)(mx.zeros((0, 3))))
    with pytest.raises(ValueError):
        mx.eval(getattr(mx, op)(mx.zeros((0, 3)), axis=0))
    # reducing a non-empty axis of an empty array is fine
    if op in ("max", "min"):
        out = getattr(mx, op)(mx.zeros((0, 3)), axis=1)
        assert out.shape == (0,)


def test_logsumexp_over_empty_axis():
    # numpy/scipy give -inf; MLX raises. Either is acceptable, garbage is not.
    try:
        out = mx.logsumexp(mx.zeros((3, 0)), axis=1)
        mx.eval(out)
    except ValueError:
        return
    assert out.shape == (3,)
    np.testing.assert_array_equal(np.array(out), np.full(3, -np.inf, np.float32))


def test_var_mean_empty():
    assert np.isnan(mx.mean(mx.zeros((0,))).item())
    out = mx.mean(mx.zeros((0, 4)), axis=0)
    assert out.shape == (4,) and np.isnan(np.array(out)).all()
    out = mx.var(mx.zeros((0, 4)), axis=0)
    assert out.shape == (4,) and np.isnan(np.array(out)).all()


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_0d_and_empty_axes(op):
    x = A(np.float32(0.75))
    out = call_reduce(op, x, None, False)
    assert out.shape == ()
    check(out, reduce_ref(op, x, None, False), reduce_out(op, "float32"))
    out = call_reduce(op, x, None, True)
    assert out.shape == ()
    # axis=() reduces nothing
    y = A(np.arange(6, dtype=np.float32).reshape(2, 3) + 1)
    out = call_reduce(op, y, (), False)
    assert out.shape == (2, 3)
    check(out, reduce_ref(op, y, (), False), reduce_out(op, "float32"))


def test_reduce_size_one_axes():
    xn = np.random.default_rng(40).standard_normal((1, 5, 1, 3)).astype(np.float32)
    for op in REDUCE_OPS:
        for axis in (0, 2, (0, 2), (0, 1, 3), None):
            out = call_reduce(op, A(xn), axis, False)
            check(out, reduce_ref(op, A(xn), axis, False), reduce_out(op, "float32"))


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["sum", "prod", "max", "min", "all", "any", "mean", "var",
                                "std", "logsumexp", "softmax"])
def test_reduce_duplicate_axes_raise(op):
    with pytest.raises(ValueError):
        mx.eval(getattr(mx, op)(mx.ones((2, 3)), axis=(1, -1)))


@pytest.mark.parametrize("op", ["sum", "prod", "max", "min", "all", "any", "mean", "var",
                                "std", "logsumexp", "softmax", "argmax", "argmin", "cumsum",
                                "cumprod", "cummax", "cummin"])
def test_reduce_axis_out_of_range_raises_index_error(op):
    # MLX raises IndexError for an invalid axis
    with pytest.raises(IndexError):
        mx.eval(getattr(mx, op)(mx.ones((2, 3)), axis=2))
    with pytest.raises(IndexError):
        mx.eval(getattr(mx, op)(mx.ones((2, 3)), axis=-3))


# --------------------------------------------------------------------------
# argmax / argmin
# --------------------------------------------------------------------------
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1, -3])
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argreduce_axes(op, axis, keepdims):
    rng = np.random.default_rng(41)
    xn = rng.integers(-4, 4, (4, 5, 6)).astype(np.float32)  # many ties
    kw = {"keepdims": keepdims}
    if axis is not None:
        kw["axis"] = axis
    out = getattr(mx, op)(A(xn), **kw)
    ref = getattr(np, op)(xn, axis=axis, keepdims=keepdims)
    check(out, ref, "uint32")


@pytest.mark.parametrize("name", [n for n in ALL if n != "complex64"])
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argreduce_dtypes(op, name):
    rng = np.random.default_rng(42)
    xn = gen(rng, name, (5, 7), -3, 3, -3, 3)
    x = make(xn, name)
    r = ref_in(x)
    check(getattr(mx, op)(x), getattr(np, op)(r), "uint32")
    check(getattr(mx, op)(x, axis=0), getattr(np, op)(r, axis=0), "uint32")
    check(getattr(mx, op)(x, axis=1), getattr(np, op)(r, axis=1), "uint32")


def test_argreduce_ties_nan_inf():
    x = np.array([1.0, 3.0, 3.0, 0.0, 0.0], np.float32)
    assert mx.argmax(A(x)).item() == 1
    assert mx.argmin(A(x)).item() == 3
    y = np.array([1.0, np.nan, 5.0, np.nan], np.float32)
    assert mx.argmax(A(y)).item() == np.argmax(y) == 1
    assert mx.argmin(A(y)).item() == np.argmin(y) == 1
    z = np.array([-np.inf, -np.inf, -5.0], np.float32)
    assert mx.argmin(A(z)).item() == 0
    assert mx.argmax(A(z)).item() == 2
    w = np.array([-np.inf, -np.inf], np.float32)
    assert mx.argmax(A(w)).item() == 0
    big = np.zeros(300_001, np.float32)
    big[123_456] = 1
    big[200_000] = 1
    assert mx.argmax(A(big)).item() == 123_456
    big[250_000] = np.nan
    assert mx.argmax(A(big)).item() == 250_000
    assert mx.argmin(A(big)).item() == 250_000
    assert mx.argmax(A(np.array(3.0, np.float32))).item() == 0
    assert mx.argmax(A(np.array(3.0, np.float32))).dtype == mx.uint32
    out = mx.argmax(A(np.ones((2, 3), np.float32)), keepdims=True)
    assert out.shape == (1, 1)


# --------------------------------------------------------------------------
# scans
# --------------------------------------------------------------------------
SCAN_INIT = {
    "cumsum": lambda dt: 0,
    "cumprod": lambda dt: 1,
    "cummax": lambda dt: (-np.inf if dt.kind in "fc" else (False if dt == np.bool_ else np.iinfo(dt).min)),
    "cummin": lambda dt: (np.inf if dt.kind in "fc" else (True if dt == np.bool_ else np.iinfo(dt).max)),
}


def scan_ref(op, a, axis, reverse, inclusive, dtype):
    """numpy scan computed in `dtype` (sequential, like numpy accumulate)."""
    a = np.asarray(a)
    if axis is None:
        a = a.reshape(-1)
        axis = 0
    a = a.astype(dtype)
    if reverse:
        a = np.flip(a, axis)
    if op == "cumsum":
        r = np.cumsum(a, axis=axis, dtype=dtype)
    elif op == "cumprod":
        r = np.cumprod(a, axis=axis, dtype=dtype)
    elif op == "cummax":
        r = np.maximum.accumulate(a, axis=axis)
    else:
        r = np.minimum.accumulate(a, axis=axis)
    if not inclusive:
        init = SCAN_INIT[op](np.dtype(dtype))
        r = np.moveaxis(r, axis, 0)
        r = np.concatenate([np.full((1,) + r.shape[1:], init, dtype=r.dtype), r[:-1]], 0)
        r = np.moveaxis(r, 0, axis)
    if reverse:
        r = np.flip(r, axis)
    return r


def scan_out(op, name):
    if op == "cumsum" and name == "bool_":
        return "int32"
    return name


def call_scan(op, x, axis, reverse, inclusive):
    kw = {"reverse": reverse, "inclusive": inclusive}
    if axis is not None:
        kw["axis"] = axis
    return getattr(mx, op)(x, **kw)


SCAN_OPS = ["cumsum", "cumprod", "cummax", "cummin"]


@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("op", SCAN_OPS)
def test_scan_axes(op, axis, reverse, inclusive):
    rng = np.random.default_rng(43)
    if op == "cumprod":
        xn = rng.uniform(0.5, 1.5, (4, 5, 6)).astype(np.float32)
    else:
        xn = rng.standard_normal((4, 5, 6)).astype(np.float32)
    out = call_scan(op, A(xn), axis, reverse, inclusive)
    ref = scan_ref(op, xn.astype(np.float64), axis, reverse, inclusive, np.float64)
    check(out, ref, "float32")
    # int32 variant
    xi = rng.integers(-3, 4, (4, 5, 6)).astype(np.int32)
    if op == "cumprod":
        xi = rng.choice([1, 1, 2, -1], (4, 5, 6)).astype(np.int32)
    out = call_scan(op, A(xi), axis, reverse, inclusive)
    check(out, scan_ref(op, xi, axis, reverse, inclusive, np.int32), "int32")


@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("op", SCAN_OPS)
def test_scan_axis_none_flattens(op, reverse, inclusive):
    xn = np.arange(1, 13, dtype=np.int32).reshape(3, 4) % 5 + 1
    out = call_scan(op, A(xn), None, reverse, inclusive)
    assert out.shape == (12,)
    check(out, scan_ref(op, xn, None, reverse, inclusive, np.int32), "int32")


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("op", SCAN_OPS)
def test_scan_dtypes(op, name):
    rng = np.random.default_rng(zlib.crc32(f"{op}{name}".encode()))
    if op == "cumprod":
        if name in FLOATS:
            xn = rng.uniform(0.8, 1.2, (3, 8))
        elif name == "complex64":
            xn = rng.uniform(0.8, 1.2, (3, 8)) * np.exp(1j * rng.uniform(-0.3, 0.3, (3, 8)))
        elif name == "bool_":
            xn = rng.random((3, 8)) < 0.8
        else:
            xn = rng.choice([1, 1, 2] + ([-1] if name in SINTS else []), (3, 8))
    else:
        xn = gen(rng, name, (3, 8), -3, 3, -3, 3)
    x = make(np.asarray(xn), name)
    out_name = "bool_" if (op == "cumprod" and name == "bool_") else scan_out(op, name)
    if name == "complex64" and op in ("cummax", "cummin"):
        # MLX supports these (lexicographic order) - compare with a manual reference
        r = ref_in(x)
        ref = np.empty_like(r)
        for i in range(r.shape[0]):
            best = r[i, 0]
            for j in range(r.shape[1]):
                v = r[i, j]
                if op == "cummax":
                    best = v if (v.real, v.imag) > (best.real, best.imag) else best
                else:
                    best = v if (v.real, v.imag) < (best.real, best.imag) else best
                ref[i, j] = best
        try:
            out = call_scan(op, x, 1, False, True)
            mx.eval(out)
        except ValueError:
            pytest.fail(f"{op} should support complex64 (MLX does)")
        check(out, ref, "complex64")
        return
    out = call_scan(op, x, 1, False, True)
    r = ref_in(x)
    if name in FLOATS:
        ref = scan_ref(op, r, 1, False, True, np.float64)
        rtol = {"float16": 4e-3, "bfloat16": 3e-2}.get(name)
    elif name == "complex64":
        ref = scan_ref(op, r, 1, False, True, np.complex128)
        rtol = None
    else:
        acc = {"bool_": np.int32 if op in ("cumsum", "cumprod") else np.bool_}.get(name, NPDT[name])
        ref = scan_ref(op, r, 1, False, True, acc)
        rtol = None
    check(out, ref, out_name, rtol=rtol)


def test_scan_integer_wraparound_and_bool():
    check(mx.cumsum(A(np.array([100, 100, 100], np.int8))),
          np.cumsum(np.array([100, 100, 100], np.int8), dtype=np.int8), "int8")
    check(mx.cumsum(A(np.array([200, 100], np.uint8))), np.array([200, 44]), "uint8")
    check(mx.cumsum(A(np.array([True, True, False, True]))), np.array([1, 2, 2, 3]), "int32")
    check(mx.cummax(A(np.array([False, True, False]))), np.array([False, True, True]), "bool_")
    check(mx.cummin(A(np.array([1, 2, 3], np.uint8)), inclusive=False),
          np.array([255, 1, 1]), "uint8")
    check(mx.cummax(A(np.array([1, 2, 3], np.int8)), inclusive=False),
          np.array([-128, 1, 2]), "int8")
    check(mx.cummax(A(np.array([1.0, 2.0, 3.0], np.float32)), inclusive=False),
          np.array([-np.inf, 1.0, 2.0]), "float32")
    check(mx.cumsum(A(np.array([1, 2, 3], np.int32)), reverse=True, inclusive=False),
          np.array([5, 3, 0]), "int32")
    check(mx.cumprod(A(np.array([2, 3, 4], np.int32)), reverse=True, inclusive=False),
          np.array([12, 4, 1]), "int32")


def test_cumprod_bool_stays_bool():
    # MLX: cumprod of bool is bool (only cumsum promotes to int32)
    check(mx.cumprod(A(np.array([True, True, False, True]))),
          np.array([True, True, False, False]), "bool_")


@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_scan_nan_propagation(op):
    xn = np.array([1.0, np.nan, 2.0, -5.0, 7.0], np.float32)
    ref = (np.maximum if op == "cummax" else np.minimum).accumulate(xn)
    got = np.array(getattr(mx, op)(A(xn)))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    got = np.array(getattr(mx, op)(A(xn), reverse=True))
    refr = np.flip((np.maximum if op == "cummax" else np.minimum).accumulate(xn[::-1]))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(refr))


def test_scan_nan_cumsum():
    xn = np.array([1.0, np.nan, 2.0], np.float32)
    got = np.array(mx.cumsum(A(xn)))
    assert got[0] == 1 and np.isnan(got[1:]).all()


@pytest.mark.parametrize("layout", LAYOUT_NAMES)
@pytest.mark.parametrize("op", SCAN_OPS)
def test_scan_noncontiguous(op, layout):
    rng = np.random.default_rng(44)
    x, xn = layout_views(rng, "float32")[layout]
    if op == "cumprod":
        x = mx.abs(x) * 0.1 + 0.9
    r = ref_in(x)
    for axis in (0, -1):
        for reverse in (False, True):
            out = call_scan(op, x, axis, reverse, True)
            check(out, scan_ref(op, r, axis, reverse, True, np.float64), "float32")


@pytest.mark.parametrize("op", SCAN_OPS)
def test_scan_large(op):
    rng = np.random.default_rng(45)
    n = 200_003
    if op == "cumprod":
        xn = rng.uniform(0.99999, 1.00001, n).astype(np.float32)
    else:
        xn = rng.standard_normal(n).astype(np.float32)
    out = mx.__dict__[op](A(xn))
    ref = scan_ref(op, xn.astype(np.float64), 0, False, True, np.float64)
    # sequential float32 accumulation: compare against the float64 scan loosely
    rtol, atol = (1e-5, 1e-5) if op in ("cummax", "cummin") else (1e-3, 2e-3)
    check(out, ref, "float32", rtol=rtol, atol=atol)
    # many short scans along axis 0 / axis 1 (parallel over rows / columns)
    x2 = xn[: 200_000].reshape(400, 500)
    r2 = x2.astype(np.float64)
    for axis in (0, 1):
        for reverse in (False, True):
            out = call_scan(op, A(x2), axis, reverse, False)
            check(out, scan_ref(op, r2, axis, reverse, False, np.float64), "float32",
                  rtol=1e-4, atol=1e-4)
    xi = rng.integers(-1000, 1000, n).astype(np.int64)
    if op == "cumprod":
        xi = rng.choice([1, -1], n).astype(np.int64)
    out = getattr(mx, op)(A(xi))
    check(out, scan_ref(op, xi, 0, False, True, np.int64), "int64")


def test_scan_empty_and_0d():
    out = mx.cumsum(mx.zeros((0, 3)), axis=0)
    assert out.shape == (0, 3)
    out = mx.cumsum(mx.zeros((3, 0)), axis=1)
    assert out.shape == (3, 0)
    out = mx.cummax(mx.zeros((0,)), axis=0)
    assert out.shape == (0,)
    out = mx.cumsum(A(np.float32(5.0)))
    assert out.shape == (1,) and out.item() == 5.0


# --------------------------------------------------------------------------
# softmax
# --------------------------------------------------------------------------
@pytest.mark.parametrize("precise", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1, -2, (0, 2), (1, 2), (0, 1, 2), (2, 0)],
                         ids=str)
def test_softmax_axes(axis, precise):
    rng = np.random.default_rng(46)
    xn = (rng.standard_normal((4, 5, 6)) * 3).astype(np.float32)
    kw = {"precise": precise}
    if axis is not None:
        kw["axis"] = axis
    out = mx.softmax(A(xn), **kw)
    ref = _softmax(xn.astype(np.float64), axis=np_axis(axis))
    check(out, ref, "float32", rtol=2e-6, atol=1e-7)
    s = np.array(out).astype(np.float64).sum(axis=np_axis(axis))
    np.testing.assert_allclose(s, 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", FLOATS)
def test_softmax_dtypes(name):
    rng = np.random.default_rng(47)
    xn = gen(rng, name, (6, 33), -5, 5)
    x = make(xn, name)
    for axis in (-1, 0):
        out = mx.softmax(x, axis=axis)
        rtol = {"float16": 4e-3, "bfloat16": 3e-2, "float32": 2e-6, "float64": 1e-12}[name]
        check(out, _softmax(ref_in(x), axis=axis), name, rtol=rtol, atol=rtol * 1e-2)
        out = mx.softmax(x, axis=axis, precise=True)
        check(out, _softmax(ref_in(x), axis=axis), name, rtol=rtol, atol=rtol * 1e-2)


def test_softmax_specials():
    x = np.array([[1000.0, 1000.0, 999.0], [-1000.0, -1000.0, -1001.0],
                  [-np.inf, 0.0, 1.0], [-np.inf, -np.inf, 3.0], [88.0, -88.0, 0.0]],
                 np.float32)
    ref = _softmax(x.astype(np.float64), axis=1)
    check(mx.softmax(A(x), axis=1), ref, "float32", rtol=2e-6, atol=1e-30)
    check(mx.softmax(A(x.T), axis=0), ref.T, "float32", rtol=2e-6, atol=1e-30)
    got = np.array(mx.softmax(A(np.array([1.0, np.nan, 3.0], np.float32))))
    assert np.isnan(got).all()
    got = np.array(mx.softmax(A(np.array([-np.inf, -np.inf], np.float32))))
    assert np.isnan(got).all()


def test_softmax_large_and_noncontiguous():
    rng = np.random.default_rng(48)
    xn = (rng.standard_normal(200_003) * 5).astype(np.float32)
    # a 200k long row: the float32 normaliser carries ~sqrt(n) eps error
    check(mx.softmax(A(xn)), _softmax(xn.astype(np.float64)), "float32", rtol=5e-5, atol=1e-12)
    x2 = (rng.standard_normal((3000, 70)) * 5).astype(np.float32)
    check(mx.softmax(A(x2), axis=1), _softmax(x2.astype(np.float64), axis=1), "float32",
          rtol=2e-6, atol=1e-9)
    check(mx.softmax(A(x2).T, axis=1), _softmax(x2.T.astype(np.float64), axis=1), "float32",
          rtol=2e-6, atol=1e-9)
    check(mx.softmax(A(x2)[::3, ::2], axis=0),
          _softmax(x2[::3, ::2].astype(np.float64), axis=0), "float32", rtol=2e-6, atol=1e-9)
    b = mx.broadcast_to(A(xn[:5]), (4, 5))
    check(mx.softmax(b, axis=1), _softmax(np.broadcast_to(xn[:5], (4, 5)).astype(np.float64),
                                          axis=1), "float32", rtol=2e-6, atol=1e-9)


def test_softmax_empty_and_0d():
    out = mx.softmax(mx.zeros((0, 4)), axis=1)
    assert out.shape == (0, 4)
    out = mx.softmax(mx.zeros((3, 0)), axis=1)
    assert out.shape == (3, 0)
    out = mx.softmax(A(np.float32(2.0)))
    assert out.shape == () and out.item() == 1.0


# --------------------------------------------------------------------------
# complex support parity with MLX
# --------------------------------------------------------------------------
def test_complex_softmax_logsumexp():
    z = np.array([1 + 1j, 2 + 0j, -1 + 0.5j], np.complex64)
    zc = z.astype(np.complex128)
    ref_lse = np.log(np.sum(np.exp(zc)))
    check(mx.logsumexp(A(z)), ref_lse, "complex64")
    check(mx.softmax(A(z)), np.exp(zc) / np.sum(np.exp(zc)), "complex64")


def test_complex_argmax_argmin():
    z = np.array([1 + 1j, 2 + 0j, 2 + 1j, 1 + 5j, 3 - 1j, -4 + 9j], np.complex64)
    assert mx.argmax(A(z)).item() == np.argmax(z) == 4
    assert mx.argmin(A(z)).item() == np.argmin(z) == 5
    z2 = z.reshape(2, 3)
    check(mx.argmax(A(z2), axis=1), np.argmax(z2, axis=1), "uint32")


def test_complex_sum_prod_mean():
    rng = np.random.default_rng(49)
    z = (rng.standard_normal((4, 50)) + 1j * rng.standard_normal((4, 50))).astype(np.complex64)
    zc = z.astype(np.complex128)
    check(mx.sum(A(z)), zc.sum(), "complex64")
    check(mx.sum(A(z), axis=0), zc.sum(0), "complex64")
    check(mx.sum(A(z).T, axis=1), zc.T.sum(1), "complex64")
    check(mx.mean(A(z), axis=1), zc.mean(1), "complex64")
    w = (np.exp(1j * rng.uniform(-1, 1, 20))).astype(np.complex64)
    check(mx.prod(A(w)), np.prod(w.astype(np.complex128)), "complex64")
    check(mx.cumsum(A(z), axis=1), np.cumsum(zc, axis=1), "complex64", rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [5, 64, 1000])
def test_logsumexp_softmax_long_rows_special(n):
    """Rows long enough for the vector paths, with NaN and infinities placed inside."""
    rng = np.random.default_rng(40)
    xn = rng.standard_normal((4, n)).astype(np.float32)
    xn[0, n // 2] = np.nan
    xn[1, :] = -np.inf
    xn[1, n - 1] = np.nan
    xn[2, :] = -np.inf
    xn[3, n // 3] = np.inf
    lse = np.array(mx.logsumexp(A(xn), axis=1))
    assert np.isnan(lse[0]) and np.isnan(lse[1])
    assert lse[2] == -np.inf and lse[3] == np.inf
    sm = np.array(mx.softmax(A(xn), axis=1))
    assert np.isnan(sm[0]).all() and np.isnan(sm[1]).all()


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int32, np.uint8, np.float16])
@pytest.mark.parametrize("shape,axis", [((300, 600), 0), ((7, 50, 300), 1), ((40, 3, 257), -2)])
def test_arg_reduce_leading_axes(op, dt, shape, axis):
    """Reductions over a non-last axis (the column-block path): ties keep the first index,
    the first NaN wins."""
    rng = np.random.default_rng(41)
    xn = rng.integers(0, 5, shape).astype(dt)  # many ties
    if np.issubdtype(dt, np.floating):
        flat = xn.reshape(-1)
        flat[rng.choice(flat.size, 40, replace=False)] = np.nan
    got = np.array(getattr(mx, op)(A(xn), axis=axis))
    np.testing.assert_array_equal(got, getattr(np, op)(xn, axis=axis))


@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("op", SCAN_OPS)
@pytest.mark.parametrize("shape,axis", [((20, 300), 0), ((5, 7, 600), 1)])
def test_scan_leading_axes_wide(op, reverse, inclusive, shape, axis):
    """Scans over a non-last axis with rows wider than one column block, NaN included."""
    rng = np.random.default_rng(44)
    if op == "cumprod":
        xn = rng.uniform(0.9, 1.1, shape).astype(np.float32)
    else:
        xn = rng.standard_normal(shape).astype(np.float32)
    flat = xn.reshape(-1)
    flat[rng.choice(flat.size, 10, replace=False)] = np.nan
    out = call_scan(op, A(xn), axis, reverse, inclusive)
    ref = scan_ref(op, xn.astype(np.float64), axis, reverse, inclusive, np.float64)
    check(out, ref, "float32")
