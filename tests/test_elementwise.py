"""Element-wise ops (unary, binary, where, clip, astype) compared with numpy.

Reference values are computed with numpy in float64 / complex128 from the
exact (already rounded) input values, result dtypes follow MLX 0.32.
"""
import math
import warnings
import zlib

import numpy as np
import pytest

import ember.core as mx

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning",
                                        "ignore::numpy.exceptions.ComplexWarning")

try:  # optional, only used for erf / erfinv references
    from scipy import special as _sp
except Exception:  # pragma: no cover
    _sp = None


# --------------------------------------------------------------------------
# dtype helpers
# --------------------------------------------------------------------------
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

# (rtol, atol) for comparing a result of the given dtype with a float64 ref
TOL = {
    "float16": (2e-3, 2e-4),
    "bfloat16": (1.6e-2, 2e-3),
    "float32": (2e-6, 1e-7),
    "float64": (1e-12, 1e-15),
    "complex64": (1e-5, 1e-6),
}


def D(name):
    return getattr(mx, name)


def dname(dt):
    for n in ALL:
        if dt == D(n):
            return n
    raise AssertionError(f"unknown dtype {dt}")


def to_np(x):
    if x.dtype == mx.bfloat16:
        x = x.astype(mx.float32)
    return np.array(x)


NP2MX = {np.dtype(v): k for k, v in NPDT.items() if k != "bfloat16"}
NP2MX[np.dtype(np.float32)] = "float32"
NP2MX[np.dtype(np.complex128)] = "complex64"


def A(x):
    """mx.array that keeps the dtype of numpy input (float64 included).

    (mx.array(np_float64_array) gives float32, like MLX.)"""
    if isinstance(x, (np.ndarray, np.generic)):
        return mx.array(x, dtype=D(NP2MX[np.asarray(x).dtype]))
    return mx.array(x)


def make(np_arr, name):
    """Ember array of dtype `name` from numpy data."""
    if name == "bfloat16":
        return A(np.asarray(np_arr, dtype=np.float32)).astype(mx.bfloat16)
    return A(np.asarray(np_arr, dtype=NPDT[name]))


def gen(rng, name, shape, flo=-10.0, fhi=10.0, ilo=-10, ihi=10):
    if name == "bool_":
        return rng.integers(0, 2, shape).astype(bool)
    if name in UINTS:
        return rng.integers(max(ilo, 0), max(ihi, 1) + 1, shape).astype(NPDT[name])
    if name in SINTS:
        return rng.integers(ilo, ihi + 1, shape).astype(NPDT[name])
    if name == "complex64":
        re = rng.uniform(flo, fhi, shape)
        im = rng.uniform(flo, fhi, shape)
        return (re + 1j * im).astype(np.complex64)
    return rng.uniform(flo, fhi, shape).astype(NPDT[name])


def ref_in(x):
    """numpy float64/complex128/int64 copy of an ember input for references."""
    a = to_np(x)
    if a.dtype == np.bool_:
        return a
    if np.issubdtype(a.dtype, np.complexfloating):
        return a.astype(np.complex128)
    if np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float64)
    return a


def check(out, expected, out_name=None, rtol=None, atol=None, signed_zero=False):
    """Compare an ember result with a numpy reference."""
    if out_name is not None:
        assert out.dtype == D(out_name), f"dtype {out.dtype} != {out_name}"
    else:
        out_name = dname(out.dtype)
    got = to_np(out)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
    if out_name == "bool_" or out_name in INTS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exp = expected.astype(NPDT[out_name])
        np.testing.assert_array_equal(got, exp)
        return
    r, a = TOL[out_name]
    rtol = r if rtol is None else rtol
    atol = a if atol is None else atol
    if out_name == "complex64":
        np.testing.assert_allclose(got.astype(np.complex128), expected, rtol=rtol,
                                   atol=atol, equal_nan=True)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # round the reference to the output dtype (overflow -> inf etc.)
        if out_name == "bfloat16":
            exp = _bf16_round(expected.astype(np.float32)).astype(np.float64)
        else:
            exp = expected.astype(NPDT[out_name]).astype(np.float64)
    np.testing.assert_allclose(got.astype(np.float64), exp, rtol=rtol, atol=atol,
                               equal_nan=True)
    if signed_zero:
        z = exp == 0
        np.testing.assert_array_equal(np.signbit(got[z]), np.signbit(exp[z]),
                                      err_msg="sign of zero differs")


# --------------------------------------------------------------------------
# references
# --------------------------------------------------------------------------
def _erf(x):
    if _sp is not None:
        return _sp.erf(x)
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _erfinv(x):
    if _sp is not None:
        return _sp.erfinv(x)
    x = np.asarray(x, dtype=np.float64)
    y = np.zeros_like(x)
    for _ in range(60):  # newton iterations on erf(y) = x
        y = y - (_erf(y) - x) / (2 / math.sqrt(math.pi) * np.exp(-y * y))
    y = np.where(np.abs(x) == 1, np.sign(x) * np.inf, y)
    return np.where(np.abs(x) > 1, np.nan, y)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _round(x):
    return np.round(x)


# name: (reference, kind, float domain, int domain)
#   kind: "same"  -> keeps dtype (ints included)
#         "float" -> int/bool inputs give float32
#         "pred"  -> bool output
UNARY = {
    "negative": (np.negative, "same", (-10, 10), (-10, 10)),
    "abs": (np.abs, "same", (-10, 10), (-10, 10)),
    "sign": (np.sign, "same", (-10, 10), (-3, 3)),
    "square": (np.square, "same", (-10, 10), (-9, 9)),
    "sqrt": (np.sqrt, "float", (0.01, 100), (0, 50)),
    "rsqrt": (lambda x: 1.0 / np.sqrt(x), "float", (0.01, 100), (1, 50)),
    "reciprocal": (lambda x: 1.0 / x, "float", (0.1, 10), (1, 9)),
    "exp": (np.exp, "float", (-80, 80), (-10, 10)),
    "expm1": (np.expm1, "float", (-80, 80), (-10, 10)),
    "log": (np.log, "float", (0.01, 1000), (1, 100)),
    "log1p": (np.log1p, "float", (-0.99, 1000), (0, 100)),
    "log2": (np.log2, "float", (0.01, 1000), (1, 100)),
    "log10": (np.log10, "float", (0.01, 1000), (1, 100)),
    "sin": (np.sin, "float", (-20, 20), (-10, 10)),
    "cos": (np.cos, "float", (-20, 20), (-10, 10)),
    "tan": (np.tan, "float", (-1.4, 1.4), (-10, 10)),
    "arcsin": (np.arcsin, "float", (-0.99, 0.99), (-1, 1)),
    "arccos": (np.arccos, "float", (-0.99, 0.99), (-1, 1)),
    "arctan": (np.arctan, "float", (-20, 20), (-10, 10)),
    "sinh": (np.sinh, "float", (-80, 80), (-10, 10)),
    "cosh": (np.cosh, "float", (-80, 80), (-10, 10)),
    "tanh": (np.tanh, "float", (-10, 10), (-10, 10)),
    "arcsinh": (np.arcsinh, "float", (-100, 100), (-10, 10)),
    "arccosh": (np.arccosh, "float", (1.0, 100), (1, 50)),
    "arctanh": (np.arctanh, "float", (-0.99, 0.99), (-1, 1)),
    "sigmoid": (_sigmoid, "float", (-30, 30), (-10, 10)),
    "erf": (_erf, "float", (-4, 4), (-3, 3)),
    "erfinv": (_erfinv, "float", (-0.99, 0.99), (-1, 1)),
    "floor": (np.floor, "same", (-10, 10), (-10, 10)),
    "ceil": (np.ceil, "same", (-10, 10), (-10, 10)),
    "round": (_round, "same", (-10, 10), (-10, 10)),
    "logical_not": (np.logical_not, "pred", (-2, 2), (-2, 2)),
    "isnan": (np.isnan, "pred", (-10, 10), (-10, 10)),
    "isinf": (np.isinf, "pred", (-10, 10), (-10, 10)),
    "isfinite": (np.isfinite, "pred", (-10, 10), (-10, 10)),
}
UNARY_FLOAT_OPS = [k for k, v in UNARY.items() if v[1] == "float"]
# narrower domains for 16 bit floats (avoid overflow)
F16_DOMAIN = {"exp": (-10, 10), "expm1": (-10, 10), "sinh": (-10, 10),
              "cosh": (-10, 10), "log1p": (-0.9, 100)}
COMPLEX_UNSUPPORTED = {"expm1", "sigmoid", "erf", "erfinv", "floor", "ceil"}
COMPLEX_DOMAIN = (-2, 2)


def unary_out(op, name):
    kind = UNARY[op][1]
    if kind == "pred":
        return "bool_"
    if name == "complex64":
        if op in COMPLEX_UNSUPPORTED:
            return None
        return "float32" if op == "abs" else "complex64"
    if op == "negative" and name == "bool_":
        return None
    if kind == "same":
        return name
    return name if name in FLOATS else "float32"


def unary_ref(op, x):
    """numpy reference for `op` applied to an ember input `x`."""
    f = UNARY[op][0]
    a = ref_in(x)
    kind = UNARY[op][1]
    with np.errstate(all="ignore"):
        if a.dtype == np.bool_:
            if kind == "pred":
                return f(a)
            if kind == "float":
                return f(a.astype(np.float64))
            return f(a.astype(np.int64)).astype(bool)
        if kind == "float" and np.issubdtype(a.dtype, np.integer):
            return f(a.astype(np.float64))
        return f(a)


def unary_input(rng, op, name, shape):
    _, _, fdom, idom = UNARY[op]
    if name in ("float16", "bfloat16"):
        fdom = F16_DOMAIN.get(op, fdom)
    if name == "complex64":
        fdom = COMPLEX_DOMAIN
    return make(gen(rng, name, shape, fdom[0], fdom[1], idom[0], idom[1]), name)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("op", list(UNARY))
def test_unary_dtypes(op, name):
    rng = np.random.default_rng(zlib.crc32(f"{op}-{name}".encode()))
    x = unary_input(rng, op, name, (3, 7))
    out_name = unary_out(op, name)
    if out_name is None:
        with pytest.raises(ValueError):
            mx.eval(getattr(mx, op)(x))
        return
    out = getattr(mx, op)(x)
    check(out, unary_ref(op, x), out_name)


LAYOUTS = ["transpose", "step2", "reverse", "broadcast", "scalar0d", "empty",
           "odd3d", "single", "swap3d", "col_slice", "row_slice", "offset1d"]


def layout_pair(rng, layout, maker):
    """Return (ember_view, numpy_view) for the given layout.

    `maker(shape)` produces numpy base data."""
    if layout == "transpose":
        b = maker((13, 7))
        return A(b).T, b.T
    if layout == "step2":
        b = maker((41,))
        return A(b)[1::2], b[1::2]
    if layout == "reverse":
        b = maker((5, 9))
        return A(b)[::-1, ::-2], b[::-1, ::-2]
    if layout == "broadcast":
        b = maker((1, 9))
        return mx.broadcast_to(A(b), (6, 9)), np.broadcast_to(b, (6, 9))
    if layout == "scalar0d":
        b = maker(())
        return A(b), b
    if layout == "empty":
        b = maker((0, 5))
        return A(b), b
    if layout == "odd3d":
        b = maker((3, 5, 7))
        return A(b), b
    if layout == "single":
        b = maker((1,))
        return A(b), b
    if layout == "swap3d":
        b = maker((4, 3, 5))
        return mx.swapaxes(A(b), 0, 2), np.swapaxes(b, 0, 2)
    if layout == "col_slice":
        b = maker((6, 10))
        return A(b)[:, 3:8], b[:, 3:8]
    if layout == "row_slice":  # contiguous, but starts at an offset
        b = maker((10, 7))
        return A(b)[3:8], b[3:8]
    if layout == "offset1d":
        b = maker((50,))
        return A(b)[7:], b[7:]
    raise ValueError(layout)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("op", list(UNARY))
def test_unary_layouts(op, layout):
    rng = np.random.default_rng(7)
    lo, hi = UNARY[op][2]

    def maker(shape):
        return np.asarray(rng.uniform(lo, hi, shape), dtype=np.float32)

    x, xn = layout_pair(rng, layout, maker)
    out = getattr(mx, op)(x)
    ref = unary_ref(op, A(np.array(xn)))
    check(out, ref, unary_out(op, "float32"))


@pytest.mark.parametrize("layout", ["transpose", "step2", "broadcast", "swap3d"])
@pytest.mark.parametrize("name", ["int32", "uint8", "float16", "bfloat16", "float64"])
@pytest.mark.parametrize("op", ["negative", "abs", "exp", "sqrt", "floor", "sin", "isnan"])
def test_unary_layouts_dtypes(op, name, layout):
    rng = np.random.default_rng(11)
    _, _, fdom, idom = UNARY[op]
    if name in ("float16", "bfloat16"):
        fdom = F16_DOMAIN.get(op, fdom)

    def maker(shape):
        return gen(rng, name, shape, fdom[0], fdom[1], idom[0], idom[1])

    x, xn = layout_pair(rng, layout, maker)
    if name == "bfloat16":
        x = x.astype(mx.bfloat16)
    out = getattr(mx, op)(x)
    ref = unary_ref(op, make(np.array(xn), name))
    check(out, ref, unary_out(op, name))


# ---- large arrays (threaded / vectorised paths) ----------------------------
LARGE = 131072 + 77  # > 100k and not a multiple of any vector width

# ops which must be within a few ulp for float32
ULP_OPS = ["exp", "log", "sin", "cos", "tanh", "sigmoid"]


@pytest.mark.parametrize("op", list(UNARY))
def test_unary_large_float32(op):
    rng = np.random.default_rng(3)
    lo, hi = UNARY[op][2]
    xn = rng.uniform(lo, hi, LARGE).astype(np.float32)
    if UNARY[op][1] == "pred":
        xn[::97] = np.nan
        xn[5::101] = np.inf
        xn[7::103] = -np.inf
    x = A(xn)
    out = getattr(mx, op)(x)
    rtol = 2e-6 if op in ULP_OPS else None
    check(out, unary_ref(op, x), unary_out(op, "float32"), rtol=rtol)


@pytest.mark.parametrize("op", ULP_OPS + ["sqrt", "rsqrt", "log1p", "expm1", "erf"])
def test_unary_large_float32_wide_range(op):
    """Dense sweep over the useful range, strict tolerance, atol=0."""
    rng = np.random.default_rng(4)
    if op in ("log", "sqrt", "rsqrt"):
        xn = np.exp(rng.uniform(-80, 80, LARGE)).astype(np.float32)
    elif op == "log1p":
        xn = rng.uniform(-0.999, 1e4, LARGE).astype(np.float32)
    elif op in ("exp", "expm1"):
        xn = rng.uniform(-87, 88, LARGE).astype(np.float32)
    elif op in ("sin", "cos"):
        xn = rng.uniform(-100, 100, LARGE).astype(np.float32)
    elif op == "erf":
        xn = rng.uniform(-5, 5, LARGE).astype(np.float32)
    else:
        xn = rng.uniform(-40, 40, LARGE).astype(np.float32)
    out = getattr(mx, op)(A(xn))
    ref = unary_ref(op, A(xn))
    atol = 2e-7 if op in ("sin", "cos", "expm1", "erf", "log1p") else 0
    # (sin/cos have zeros and expm1/log1p/erf results cross zero)
    check(out, ref, "float32", rtol=2e-6, atol=atol)


def _ulp_error(got, ref):
    """|got - ref| in units of the float32 spacing at ref (subnormal spacing at 0)."""
    ref32 = ref.astype(np.float32)
    spacing = np.spacing(np.abs(ref32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - ref) / spacing


@pytest.mark.parametrize("op,lo,hi,max_ulp", [
    ("exp", -104.5, 89.0, 1.0),
    ("expm1", -40.0, 89.0, 2.0),
    ("tanh", -12.0, 12.0, 3.0),
    ("sigmoid", -104.0, 104.0, 3.0),
    ("log", -100.0, 88.0, 2.0),
])
def test_unary_float32_ulp(op, lo, hi, max_ulp):
    """Every float32 result within max_ulp of the float64 value, across the whole range
    (the exponential end points, subnormal results and tiny arguments included)."""
    rng = np.random.default_rng(11)
    xn = rng.uniform(lo, hi, 200000)
    tiny = np.exp(rng.uniform(-100, -5, 20000)) * rng.choice([-1, 1], 20000)
    xn = np.concatenate([xn, tiny]).astype(np.float32)
    if op == "log":
        xn = np.abs(np.exp(xn.astype(np.float64))).astype(np.float32)
        xn = xn[xn > 0]
    x64 = xn.astype(np.float64)
    ref = {"exp": np.exp, "expm1": np.expm1, "tanh": np.tanh, "log": np.log,
           "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v))}[op](x64)
    got = np.array(getattr(mx, op)(A(xn)))
    finite = np.isfinite(ref.astype(np.float32))
    np.testing.assert_array_equal(got[~finite], ref.astype(np.float32)[~finite])
    err = _ulp_error(got[finite], ref[finite])
    assert err.max() <= max_ulp, (op, err.max(), xn[finite][err.argmax()])


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float64", "int32", "uint8"])
@pytest.mark.parametrize("op", ["exp", "log", "sin", "cos", "tanh", "sigmoid", "sqrt",
                                "abs", "negative", "square", "floor", "round"])
def test_unary_large_other_dtypes(op, name):
    rng = np.random.default_rng(5)
    x = unary_input(rng, op, name, (LARGE,))
    out = getattr(mx, op)(x)
    rtol = 1e-14 if name == "float64" else None
    check(out, unary_ref(op, x), unary_out(op, name), rtol=rtol)


@pytest.mark.parametrize("op", ["exp", "sin", "negative", "sqrt", "tanh", "abs"])
def test_unary_large_noncontiguous(op):
    rng = np.random.default_rng(6)
    lo, hi = UNARY[op][2]
    base = rng.uniform(lo, hi, (700, 401)).astype(np.float32)
    for view_e, view_n in [
        (A(base).T, base.T),
        (A(base)[::2, 1::3], base[::2, 1::3]),
        (mx.broadcast_to(A(base[:1]), (700, 401)), np.broadcast_to(base[:1], (700, 401))),
    ]:
        out = getattr(mx, op)(view_e)
        ref = unary_ref(op, A(np.array(view_n)))
        check(out, ref, "float32")


# ---- special values --------------------------------------------------------
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5,
           2.5, -2.5, 3.5, 1e-3, -1e-3, 1e-10, -1e-10, 1e30, -1e30, 88.5,
           -88.5, 87.0, -87.0, 100.0, -104.0, 1e6, -3e7, 1e10, 3.4e38, 0.99999994,
           1.0000001, 2.0, 1e-20]
# the sign of a zero result is compared for these ops
SIGNED_ZERO_OPS = {"negative", "abs", "floor", "ceil", "round", "sqrt", "tan",
                   "arcsin", "arctan", "sinh", "tanh", "arcsinh", "arctanh",
                   "expm1", "log1p", "square", "sign"}


@pytest.mark.parametrize("name", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("op", list(UNARY))
def test_unary_special_values(op, name):
    vals = np.array(SPECIAL, dtype=np.float64)
    if op == "sign":  # MLX returns 0 for sign(nan); not part of this check
        vals = vals[~np.isnan(vals)]
    with np.errstate(over="ignore"):
        x = make(vals, name)
    out = getattr(mx, op)(x)
    if name == "float16":
        rtol, atol = 2e-3, 0
    elif name == "bfloat16":
        rtol, atol = 1.6e-2, 0
    elif name == "float32":
        rtol, atol = 4e-6, 0
    else:
        rtol, atol = 1e-13, 0
    if op == "erfinv" and name == "float64":
        rtol = 1e-10  # near +-1 erfinv is ill conditioned
    if op in ("sin", "cos", "tan") and name != "float64":
        atol = {"float32": 1e-7, "float16": 1e-3, "bfloat16": 1e-2}[name]
    check(out, unary_ref(op, x), unary_out(op, name), rtol=rtol, atol=atol,
          signed_zero=op in SIGNED_ZERO_OPS)


SUBNORMAL_OPS = ["negative", "abs", "sign", "sqrt", "rsqrt", "exp", "expm1", "log",
                 "log1p", "log2", "log10", "sin", "cos", "tan", "arcsin", "arctan",
                 "sinh", "cosh", "tanh", "arcsinh", "arctanh", "sigmoid", "erf",
                 "floor", "ceil", "round", "isfinite", "isinf", "isnan",
                 "logical_not"]


@pytest.mark.parametrize("name", ["float32", "float64"])
@pytest.mark.parametrize("op", SUBNORMAL_OPS)
def test_unary_subnormals(op, name):
    if name == "float32":
        vals = np.array([1e-40, -1e-40, 1.4e-45, -1.4e-45, 1.1754942e-38,
                         5e-39, -5e-39], dtype=np.float32)
    else:
        vals = np.array([1e-310, -1e-310, 5e-324, -5e-324, 2.2e-308 / 3],
                        dtype=np.float64)
    x = A(vals)
    out = getattr(mx, op)(x)
    rtol = 4e-6 if name == "float32" else 1e-13
    check(out, unary_ref(op, x), unary_out(op, name), rtol=rtol, atol=0,
          signed_zero=op in SIGNED_ZERO_OPS)


def test_unary_subnormal_float16():
    vals = np.array([6e-8, -6e-8, 3e-5, 1e-5, 6.1e-5], dtype=np.float16)
    x = A(vals)
    check(mx.abs(-x), np.abs(vals.astype(np.float64)), "float16", rtol=0, atol=0)
    check(mx.square(mx.sqrt(x * x)), vals.astype(np.float64) ** 2, "float16",
          rtol=2e-3, atol=1e-7)
    check(mx.isfinite(x), np.ones(5, bool), "bool_")


@pytest.mark.parametrize("op", ["sin", "cos"])
@pytest.mark.parametrize("name", ["float32", "float64"])
def test_sin_cos_large_arguments(op, name):
    vals = np.array([1e4, -1e4, 12345.678, 1e5, 1e6, -1e6, 3e7, 1e9, 1e10, -1e10,
                     1e15, 1e20, -1e20, 3.3e38, 8388607.5, 16777216.0,
                     2 ** 30 + 1, np.pi * 2 ** 20],
                    dtype=NPDT[name])
    x = A(vals)
    ref = getattr(np, op)(vals.astype(np.float64))
    rtol, atol = (4e-6, 1e-7) if name == "float32" else (1e-12, 1e-15)
    check(getattr(mx, op)(x), ref, name, rtol=rtol, atol=atol)


@pytest.mark.parametrize("op", ["sin", "cos"])
def test_sin_cos_near_multiples_of_half_pi(op):
    """float32 inputs closest to k*pi/2: needs an accurate argument reduction."""
    k = np.arange(1, 6_000_000, 997, dtype=np.float64)
    x = (k * np.pi / 2).astype(np.float32)
    x = np.concatenate([x, -x[::7], np.float32([np.pi, 2 * np.pi, np.pi / 2, 3 * np.pi / 2])])
    ref = getattr(np, op)(x.astype(np.float64))
    check(getattr(mx, op)(A(x)), ref, "float32", rtol=2e-6, atol=0)
    # the strided (scalar) path as well
    check(getattr(mx, op)(A(x)[::3]), ref[::3], "float32", rtol=2e-6, atol=0)


def test_exp_overflow_boundary():
    vals = np.array([88.0, 88.5, 88.72, 88.7228, 88.73, 89.0, -87.3, -103.0,
                     -103.9, -104.0, -110.0, 709.0], dtype=np.float32)
    x = A(vals)
    with np.errstate(over="ignore"):
        ref = np.exp(vals.astype(np.float64))
    # float32 overflow threshold is ~88.7228; results below are subnormal
    check(mx.exp(x), ref.astype(np.float32), "float32", rtol=4e-6, atol=2e-45)
    xd = A(np.array([709.0, 709.7, 710.0, -745.0, -746.0, -708.0]))
    with np.errstate(over="ignore"):
        refd = np.exp(np.array([709.0, 709.7, 710.0, -745.0, -746.0, -708.0]))
    check(mx.exp(xd), refd, "float64", rtol=1e-13, atol=5e-324)


def test_round_half_to_even_and_decimals():
    v = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.49999997, -0.49999997,
                  4503599627370495.5, 1e20], dtype=np.float64)
    check(mx.round(A(v)), np.round(v), "float64", signed_zero=True)
    v32 = v.astype(np.float32)
    check(mx.round(A(v32)), np.round(v32.astype(np.float64)), "float32",
          signed_zero=True)
    a = np.array([1.234, 5.678, -2.346, 1234.5678], dtype=np.float32)
    check(mx.round(A(a), 2), np.round(a.astype(np.float64), 2), "float32",
          rtol=1e-6)
    f = np.array([123.4, 456.7, -154.0, 1234567.0], dtype=np.float32)
    check(mx.round(A(f), -1), np.array([120.0, 460.0, -150.0, 1234570.0]), "float32")


def test_round_integer_negative_decimals():
    i = np.array([123, 456, -155, 149], dtype=np.int32)
    out = mx.round(A(i), -1)
    assert out.dtype == mx.int32
    np.testing.assert_array_equal(np.array(out), [120, 460, -160, 150])
    out = mx.round(A(np.array([1234567], np.int64)), -2)
    assert out.dtype == mx.int64
    np.testing.assert_array_equal(np.array(out), [1234600])
    # non-negative decimals leave integers unchanged
    np.testing.assert_array_equal(np.array(mx.round(A(i), 2)), i)


def test_floor_ceil_int_identity_large_values():
    v = np.array([2 ** 62 + 1, -(2 ** 62) - 3, 2 ** 53 + 1], dtype=np.int64)
    for op in ("floor", "ceil", "round", "abs"):
        out = getattr(mx, op)(A(v))
        assert out.dtype == mx.int64
        np.testing.assert_array_equal(np.array(out), np.abs(v) if op == "abs" else v)


def test_integer_unary_edge_values():
    i8 = np.array([-128, -1, 0, 1, 127], dtype=np.int8)
    check(mx.abs(A(i8)), np.abs(i8), "int8")
    check(mx.negative(A(i8)), np.negative(i8), "int8")
    check(mx.sign(A(i8)), np.sign(i8), "int8")
    u8 = np.array([0, 1, 255], dtype=np.uint8)
    check(mx.negative(A(u8)), np.negative(u8), "uint8")
    check(mx.sign(A(u8)), np.array([0, 1, 1]), "uint8")
    i64 = np.array([-(2 ** 63), 2 ** 63 - 1, -5], dtype=np.int64)
    check(mx.abs(A(i64)), np.abs(i64), "int64")
    check(mx.square(A(np.array([3037000499], np.int64))),
          np.array([3037000499 ** 2], np.int64), "int64")
    u64 = np.array([2 ** 64 - 1, 2 ** 63], dtype=np.uint64)
    check(mx.abs(A(u64)), u64, "uint64")
    check(mx.floor(A(u64)), u64, "uint64")


def test_bool_unary():
    b = np.array([True, False, True])
    check(mx.abs(A(b)), b, "bool_")
    check(mx.square(A(b)), b, "bool_")
    check(mx.sign(A(b)), b, "bool_")
    check(mx.logical_not(A(b)), ~b, "bool_")
    check(mx.exp(A(b)), np.exp(b.astype(np.float64)), "float32")
    with pytest.raises(ValueError):
        mx.eval(mx.negative(A(b)))


def test_unary_complex_specials():
    z = np.array([complex(np.nan, 0), complex(0, np.inf), complex(1, 2), 0j,
                  complex(-np.inf, 1)], dtype=np.complex64)
    x = A(z)
    check(mx.isnan(x), np.isnan(z), "bool_")
    check(mx.isinf(x), np.isinf(z), "bool_")
    check(mx.isfinite(x), np.isfinite(z), "bool_")
    check(mx.logical_not(x), np.logical_not(z), "bool_")
    w = np.array([3 + 4j, -3 - 4j, 1e-3j], dtype=np.complex64)
    check(mx.abs(A(w)), np.abs(w.astype(np.complex128)), "float32",
          rtol=2e-6, atol=0)


# --------------------------------------------------------------------------
# binary ops
# --------------------------------------------------------------------------
def _logaddexp(a, b):
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        return np.log(np.exp(a) + np.exp(b))
    return np.logaddexp(a, b)


# name: (reference, kind)
#   kind "same": promoted dtype, "float": int -> float32, "cmp": bool,
#        "bit": integer/bool only
BINARY = {
    "add": (np.add, "same"),
    "subtract": (np.subtract, "same"),
    "multiply": (np.multiply, "same"),
    "divide": (np.true_divide, "float"),
    "floor_divide": (np.floor_divide, "same"),
    "remainder": (np.remainder, "same"),
    "power": (np.power, "same"),
    "maximum": (np.maximum, "same"),
    "minimum": (np.minimum, "same"),
    "arctan2": (np.arctan2, "float"),
    "logaddexp": (_logaddexp, "float"),
    "equal": (np.equal, "cmp"),
    "not_equal": (np.not_equal, "cmp"),
    "less": (np.less, "cmp"),
    "less_equal": (np.less_equal, "cmp"),
    "greater": (np.greater, "cmp"),
    "greater_equal": (np.greater_equal, "cmp"),
    "logical_and": (np.logical_and, "cmp"),
    "logical_or": (np.logical_or, "cmp"),
    "bitwise_and": (np.bitwise_and, "bit"),
    "bitwise_or": (np.bitwise_or, "bit"),
    "bitwise_xor": (np.bitwise_xor, "bit"),
    "left_shift": (np.left_shift, "bit"),
    "right_shift": (np.right_shift, "bit"),
}

# MLX 0.32 promotion table (row dtype + column dtype), order of ALL
_PROMO_ROWS = """
bool_ bool_ uint8 uint16 uint32 uint64 int8 int16 int32 int64 float16 bfloat16 float32 float64 complex64
uint8 uint8 uint8 uint16 uint32 uint64 int16 int16 int32 int64 float16 bfloat16 float32 float64 complex64
uint16 uint16 uint16 uint16 uint32 uint64 int32 int32 int32 int64 float16 bfloat16 float32 float64 complex64
uint32 uint32 uint32 uint32 uint32 uint64 int64 int64 int64 int64 float16 bfloat16 float32 float64 complex64
uint64 uint64 uint64 uint64 uint64 uint64 float32 float32 float32 float32 float16 bfloat16 float32 float64 complex64
int8 int8 int16 int32 int64 float32 int8 int16 int32 int64 float16 bfloat16 float32 float64 complex64
int16 int16 int16 int32 int64 float32 int16 int16 int32 int64 float16 bfloat16 float32 float64 complex64
int32 int32 int32 int32 int64 float32 int32 int32 int32 int64 float16 bfloat16 float32 float64 complex64
int64 int64 int64 int64 int64 float32 int64 int64 int64 int64 float16 bfloat16 float32 float64 complex64
float16 float16 float16 float16 float16 float16 float16 float16 float16 float16 float16 float32 float32 float64 complex64
bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 bfloat16 float32 bfloat16 float32 float64 complex64
float32 float32 float32 float32 float32 float32 float32 float32 float32 float32 float32 float32 float32 float64 complex64
float64 float64 float64 float64 float64 float64 float64 float64 float64 float64 float64 float64 float64 float64 complex64
complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64 complex64
"""
PROMO = {}
for _row in _PROMO_ROWS.strip().splitlines():
    _f = _row.split()
    for _c, _r in zip(ALL, _f[1:]):
        PROMO[(_f[0], _c)] = _r


def binary_out(op, a, b):
    p = PROMO[(a, b)]
    kind = BINARY[op][1]
    if kind == "cmp":
        return "bool_"
    if kind == "bit":
        if p not in INTS and p != "bool_":
            return None
        if op in ("left_shift", "right_shift") and p == "bool_":
            return "uint8"
        return p
    if p == "complex64" and op in ("remainder", "arctan2"):
        return None
    if kind == "float" and p not in FLOATS and p != "complex64":
        return "float32"
    return p


def binary_inputs(rng, op, name, shape_a, shape_b):
    """Inputs suitable for op with dtype `name` on both sides."""
    nd = NPDT[name]
    isf = name in FLOATS
    if op in ("bitwise_and", "bitwise_or", "bitwise_xor"):
        if name in FLOATS or name == "complex64":
            return make(gen(rng, name, shape_a), name), make(gen(rng, name, shape_b), name)
        if name == "bool_":
            a = rng.integers(0, 2, shape_a).astype(bool)
            b = rng.integers(0, 2, shape_b).astype(bool)
        else:
            info = np.iinfo(nd)
            a = rng.integers(info.min, info.max, shape_a, dtype=nd, endpoint=True)
            b = rng.integers(info.min, info.max, shape_b, dtype=nd, endpoint=True)
        return make(a, name), make(b, name)
    if op in ("left_shift", "right_shift"):
        hi = 15 if name != "bool_" else 1
        lo = -15 if name in SINTS and op == "right_shift" else 0
        a = rng.integers(lo, hi + 1, shape_a)
        b = rng.integers(0, 4 if name != "bool_" else 2, shape_b)
        return make(a.astype(nd), name), make(b.astype(nd), name)
    if op in ("floor_divide", "remainder"):
        if isf:
            a = rng.uniform(-20, 20, shape_a)
            b = rng.uniform(0.5, 5, shape_b) * rng.choice([-1, 1], shape_b)
        elif name == "bool_":
            a = rng.integers(0, 2, shape_a)
            b = np.ones(shape_b, int)
        elif name in UINTS:
            a = rng.integers(0, 100, shape_a)
            b = rng.integers(1, 10, shape_b)
        elif name == "complex64":
            a = gen(rng, name, shape_a, -5, 5)
            b = gen(rng, name, shape_b, 1, 5)
        else:
            a = rng.integers(-60, 61, shape_a)
            b = rng.integers(1, 10, shape_b) * rng.choice([-1, 1], shape_b)
        return make(np.asarray(a).astype(nd), name), make(np.asarray(b).astype(nd), name)
    if op == "power":
        if isf:
            a = rng.uniform(0.1, 5, shape_a)
            b = rng.uniform(-3, 3, shape_b)
        elif name == "complex64":
            a = gen(rng, name, shape_a, -2, 2)
            b = gen(rng, name, shape_b, -2, 2)
        elif name in SINTS:
            a = rng.integers(-3, 4, shape_a)
            b = rng.integers(0, 5, shape_b)
        else:
            a = rng.integers(0, 4, shape_a)
            b = rng.integers(0, 5, shape_b)
        return make(np.asarray(a).astype(nd), name), make(np.asarray(b).astype(nd), name)
    if op == "divide" and not isf and name != "complex64":
        a = gen(rng, name, shape_a, ilo=-20, ihi=20)
        if name == "bool_":
            b = np.ones(shape_b, bool)
        else:
            b = rng.integers(1, 10, shape_b).astype(nd)
        return make(a, name), make(b, name)
    if name == "complex64":
        a = gen(rng, name, shape_a, -2, 2)
        b = gen(rng, name, shape_b, -2, 2)
        return make(a, name), make(b, name)
    a = gen(rng, name, shape_a, -10, 10, -10, 10)
    b = gen(rng, name, shape_b, -10, 10, -10, 10)
    if BINARY[op][1] == "cmp" and name not in ("bool_",):
        # make sure there are equal elements to compare
        b = np.array(b)
        if b.shape == np.shape(a) and b.size:
            b.reshape(-1)[::3] = np.asarray(a).reshape(-1)[::3]
    return make(a, name), make(b, name)


def binary_ref(op, a, b, out_name):
    f = BINARY[op][0]
    x, y = ref_in(a), ref_in(b)
    with np.errstate(all="ignore"):
        if out_name in FLOATS or out_name == "complex64":
            if x.dtype.kind in "biu":
                x = x.astype(np.float64)
            if y.dtype.kind in "biu":
                y = y.astype(np.float64)
            return f(x, y)
        if x.dtype == np.bool_ and y.dtype == np.bool_ and BINARY[op][1] not in ("cmp", "bit"):
            r = f(x.astype(np.int64), y.astype(np.int64))
            return r.astype(bool)
        if op in ("left_shift", "right_shift") and x.dtype == np.bool_:
            return f(x.astype(np.uint8), y.astype(np.uint8))
        return f(x, y)


@pytest.mark.parametrize("op,name", [
    (op, name) for op in BINARY for name in ALL
    # complex floor_divide has no numpy counterpart
    if not (op == "floor_divide" and name == "complex64")])
def test_binary_dtypes(op, name):
    rng = np.random.default_rng(zlib.crc32(f"{op}-{name}".encode()))
    a, b = binary_inputs(rng, op, name, (4, 6), (4, 6))
    out_name = binary_out(op, name, name)
    if out_name is None:
        with pytest.raises((ValueError, RuntimeError)):
            mx.eval(getattr(mx, op)(a, b))
        return
    out = getattr(mx, op)(a, b)
    rtol = atol = None
    if op in ("floor_divide", "remainder") and name in FLOATS:
        atol = {"float16": 2e-2, "bfloat16": 1e-1}.get(name, 1e-5)
    if op == "power" and name == "complex64":
        rtol = 2e-5
    check(out, binary_ref(op, a, b, out_name), out_name, rtol=rtol, atol=atol)


@pytest.mark.parametrize("b", ALL)
@pytest.mark.parametrize("a", ALL)
def test_promotion_add(a, b):
    rng = np.random.default_rng(1)
    xa = rng.integers(0, 6, (5,))
    xb = rng.integers(0, 6, (5,))
    if a == "bool_":
        xa = xa % 2
    if b == "bool_":
        xb = xb % 2
    ea, eb = make(xa.astype(NPDT[a]), a), make(xb.astype(NPDT[b]), b)
    out = mx.add(ea, eb)
    exp_name = PROMO[(a, b)]
    ref = xa + xb
    if exp_name == "bool_":
        ref = ref.astype(bool)
    check(out, ref.astype(np.float64) if exp_name in FLOATS else ref, exp_name)
    # operator form and argument order symmetry
    check(ea + eb, ref.astype(np.float64) if exp_name in FLOATS else ref, exp_name)
    assert mx.add(eb, ea).dtype == D(exp_name)


@pytest.mark.parametrize("b", ALL)
@pytest.mark.parametrize("a", ALL)
def test_promotion_maximum_and_compare(a, b):
    rng = np.random.default_rng(2)
    xa = rng.integers(0, 2 if "bool_" in (a, b) else 6, (6,))
    xb = rng.integers(0, 2 if "bool_" in (a, b) else 6, (6,))
    ea, eb = make(xa.astype(NPDT[a]), a), make(xb.astype(NPDT[b]), b)
    exp_name = PROMO[(a, b)]
    out = mx.maximum(ea, eb)
    ref = np.maximum(xa, xb)
    check(out, ref.astype(bool) if exp_name == "bool_" else ref.astype(np.float64),
          exp_name)
    check(mx.less(ea, eb), xa < xb, "bool_")
    check(mx.equal(ea, eb), xa == xb, "bool_")


BCAST_SHAPES = [
    ((), ()), ((), (3,)), ((4,), ()), ((1,), (5,)), ((3, 1), (1, 4)),
    ((2, 1, 3), (4, 1)), ((5, 4), (4,)), ((5, 4), (5, 1)), ((1, 1, 1), (2, 3, 4)),
    ((0, 3), (1, 3)), ((0,), ()), ((2, 0, 3), (3,)), ((7, 1, 5, 1), (1, 3, 1, 2)),
    ((1, 6), (3, 1)), ((2, 3, 4, 5), (5,)), ((2, 3, 4, 5), (3, 1, 1)),
]


@pytest.mark.parametrize("shapes", BCAST_SHAPES, ids=str)
@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "maximum",
                                "power", "less", "arctan2", "remainder", "logaddexp",
                                "bitwise_xor"])
def test_binary_broadcasting(op, shapes):
    rng = np.random.default_rng(8)
    name = "int32" if op == "bitwise_xor" else "float32"
    sa, sb = shapes
    a, b = binary_inputs(rng, op, name, sa, sb)
    out = getattr(mx, op)(a, b)
    out_name = binary_out(op, name, name)
    ref = binary_ref(op, a, b, out_name)
    assert ref.shape == np.broadcast_shapes(sa, sb)
    check(out, ref, out_name, atol=1e-5 if op == "remainder" else None)


def test_binary_broadcast_incompatible():
    with pytest.raises(ValueError):
        mx.eval(mx.add(mx.zeros((3, 4)), mx.zeros((5,))))
    with pytest.raises(ValueError):
        mx.eval(mx.multiply(mx.zeros((2, 3)), mx.zeros((3, 2))))


NC_CASES = ["T_T", "T_contig", "contig_T", "step_step", "bcast_T", "rev_contig",
            "bcast_bcast", "scalar_T", "col_row"]


def nc_pair(case, rng, name):
    def base(shape):
        return gen(rng, name, shape, 0.5, 5, 1, 9)

    if case == "T_T":
        x, y = base((7, 5)), base((7, 5))
        return (A(x).T, x.T), (A(y).T, y.T)
    if case == "T_contig":
        x, y = base((7, 5)), base((5, 7))
        return (A(x).T, x.T), (A(y), y)
    if case == "contig_T":
        x, y = base((5, 7)), base((7, 5))
        return (A(x), x), (A(y).T, y.T)
    if case == "step_step":
        x, y = base((30,)), base((45,))
        return (A(x)[::2], x[::2]), (A(y)[::3], y[::3])
    if case == "bcast_T":
        x, y = base((1, 6)), base((6, 4))
        xb = mx.broadcast_to(A(x), (4, 6))
        return (xb, np.broadcast_to(x, (4, 6))), (A(y).T, y.T)
    if case == "rev_contig":
        x, y = base((9, 4)), base((9, 4))
        return (A(x)[::-1], x[::-1]), (A(y), y)
    if case == "bcast_bcast":
        x, y = base((3, 1)), base((1, 4))
        return ((mx.broadcast_to(A(x), (3, 4)), np.broadcast_to(x, (3, 4))),
                (mx.broadcast_to(A(y), (3, 4)), np.broadcast_to(y, (3, 4))))
    if case == "scalar_T":
        x, y = base(()), base((3, 8))
        return (A(x), x), (A(y).T, y.T)
    if case == "col_row":
        x, y = base((6, 8)), base((3, 12))
        return (A(x)[:, 2:5], x[:, 2:5]), (A(y).T[::2], y.T[::2])
    raise ValueError(case)


@pytest.mark.parametrize("case", NC_CASES)
@pytest.mark.parametrize("name", ["float32", "int32", "float16", "uint8", "float64"])
@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "minimum",
                                "greater_equal", "floor_divide"])
def test_binary_noncontiguous(op, name, case):
    rng = np.random.default_rng(9)
    (a, an), (b, bn) = nc_pair(case, rng, name)
    out = getattr(mx, op)(a, b)
    out_name = binary_out(op, name, name)
    ref = binary_ref(op, make(np.array(an), name),
                     make(np.array(bn), name), out_name)
    check(out, ref, out_name)


@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "maximum",
                                "minimum", "power", "arctan2", "logaddexp", "remainder",
                                "floor_divide", "less", "equal", "logical_and"])
@pytest.mark.parametrize("mode", ["vv", "vs", "sv", "row", "col", "T"])
def test_binary_large_float32(op, mode):
    rng = np.random.default_rng(10)
    n = LARGE
    if mode == "vv":
        a, b = binary_inputs(rng, op, "float32", (n,), (n,))
    elif mode == "vs":
        a, b = binary_inputs(rng, op, "float32", (n,), ())
    elif mode == "sv":
        a, b = binary_inputs(rng, op, "float32", (), (n,))
    elif mode == "row":
        a, b = binary_inputs(rng, op, "float32", (331, 397), (397,))
    elif mode == "col":
        a, b = binary_inputs(rng, op, "float32", (331, 397), (331, 1))
    else:
        a, b = binary_inputs(rng, op, "float32", (397, 331), (331, 397))
        a = a.T
    out = getattr(mx, op)(a, b)
    out_name = binary_out(op, "float32", "float32")
    rtol = 2e-6 if op in ("logaddexp", "power", "arctan2") else None
    atol = 1e-5 if op == "remainder" else None
    check(out, binary_ref(op, a, b, out_name), out_name, rtol=rtol, atol=atol)


@pytest.mark.parametrize("op,name", [
    (op, name)
    for op in ["add", "multiply", "maximum", "floor_divide", "remainder",
               "bitwise_and", "right_shift", "less"]
    for name in ["int32", "int64", "uint8", "int8", "float64", "float16", "bfloat16",
                 "bool_", "uint64"]
    if not (op in ("bitwise_and", "right_shift") and name in FLOATS)])
def test_binary_large_other_dtypes(op, name):
    rng = np.random.default_rng(12)
    a, b = binary_inputs(rng, op, name, (LARGE,), (LARGE,))
    out_name = binary_out(op, name, name)
    out = getattr(mx, op)(a, b)
    atol = None
    if op in ("floor_divide", "remainder") and name in FLOATS:
        atol = {"float16": 2e-2, "bfloat16": 1e-1}.get(name, 1e-5)
    check(out, binary_ref(op, a, b, out_name), out_name, atol=atol)
    # scalar-broadcast variant
    b0 = b[:1].reshape(())
    out = getattr(mx, op)(a, b0)
    check(out, binary_ref(op, a, b0, out_name), out_name, atol=atol)


def test_binary_empty_and_0d():
    a = mx.zeros((0, 4))
    out = mx.add(a, mx.ones((4,)))
    assert out.shape == (0, 4)
    assert out.dtype == mx.float32
    assert np.array(out).shape == (0, 4)
    out = mx.less(mx.zeros((3, 0)), 1.0)
    assert out.shape == (3, 0) and out.dtype == mx.bool_
    s = mx.multiply(A(3), A(4))
    assert s.shape == () and s.dtype == mx.int32 and s.item() == 12
    s = mx.divide(A(3), A(4))
    assert s.shape == () and s.dtype == mx.float32 and s.item() == 0.75
    assert mx.add(A(2.5), mx.ones((2, 3))).shape == (2, 3)


# ---- special values for binary float ops ---------------------------------
BSPEC = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.5, -3.5, 1e-40,
                  1e30, -1e30], dtype=np.float64)


@pytest.mark.parametrize("name", ["float32", "float64"])
@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "maximum",
                                "minimum", "arctan2", "logaddexp", "power",
                                "equal", "not_equal", "less", "less_equal",
                                "greater", "greater_equal", "logical_and",
                                "logical_or", "floor_divide", "remainder"])
def test_binary_special_values(op, name):
    x, y = np.meshgrid(BSPEC, BSPEC)
    x, y = x.ravel().astype(NPDT[name]), y.ravel().astype(NPDT[name])
    if op in ("floor_divide", "remainder"):
        # numpy-specific corner cases with inf/0 divisors are excluded
        keep = np.isfinite(x) & np.isfinite(y) & (y != 0)
        with np.errstate(all="ignore"):
            # (a quotient that underflows to 0 is a corner where floor(x / y)
            # and numpy's fmod based algorithm differ; MLX uses floor(x / y))
            keep &= ~((x != 0) & (x / y == 0))
        x, y = x[keep], y[keep]
    a, b = A(x), A(y)
    out = getattr(mx, op)(a, b)
    out_name = binary_out(op, name, name)
    rtol = 4e-6 if name == "float32" else 1e-13
    check(out, binary_ref(op, a, b, out_name), out_name, rtol=rtol, atol=0,
          signed_zero=op in ("add", "subtract", "multiply", "divide", "arctan2"))


def test_arctan2_signed_zeros_quadrants():
    y = np.array([0.0, -0.0, 0.0, -0.0, 1.0, -1.0, 1.0, -1.0, np.inf, -np.inf, np.inf],
                 dtype=np.float32)
    x = np.array([0.0, 0.0, -0.0, -0.0, -1.0, -1.0, 1.0, 1.0, np.inf, -np.inf, -5.0],
                 dtype=np.float32)
    check(mx.arctan2(A(y), A(x)), np.arctan2(y.astype(float), x.astype(float)),
          "float32", rtol=4e-6, atol=0, signed_zero=True)


def test_floor_divide_remainder_signs():
    a = np.array([-7, 7, -7, 7, 0, -1, 6, -6], dtype=np.int32)
    b = np.array([2, 2, -2, -2, 3, 5, -3, 3], dtype=np.int32)
    check(mx.floor_divide(A(a), A(b)), a // b, "int32")
    check(mx.remainder(A(a), A(b)), a % b, "int32")
    check(A(a) // A(b), a // b, "int32")
    check(A(a) % A(b), a % b, "int32")
    af, bf = a.astype(np.float32) + 0.5, b.astype(np.float32)
    check(mx.floor_divide(A(af), A(bf)), af.astype(float) // bf, "float32")
    check(mx.remainder(A(af), A(bf)), np.remainder(af.astype(float), bf),
          "float32")
    # the remainder has the sign of the divisor
    r = np.array(mx.remainder(mx.array([-7.5, 7.5, -0.0], mx.float32),
                              mx.array([2.0, -2.0, 3.0], mx.float32)))
    np.testing.assert_array_equal(r, np.remainder(np.float32([-7.5, 7.5, -0.0]),
                                                  np.float32([2.0, -2.0, 3.0])))
    i8 = np.array([-128, -128, 127], np.int8)
    d8 = np.array([3, -3, -7], np.int8)
    check(mx.floor_divide(A(i8), A(d8)), i8 // d8, "int8")
    check(mx.remainder(A(i8), A(d8)), i8 % d8, "int8")
    u = np.array([250, 7, 0], np.uint8)
    du = np.array([7, 250, 3], np.uint8)
    check(mx.floor_divide(A(u), A(du)), u // du, "uint8")
    check(mx.remainder(A(u), A(du)), u % du, "uint8")
    i64 = np.array([-(2 ** 62) - 1, 2 ** 62 + 3], np.int64)
    d64 = np.array([7, -7], np.int64)
    check(mx.floor_divide(A(i64), A(d64)), i64 // d64, "int64")
    check(mx.remainder(A(i64), A(d64)), i64 % d64, "int64")


def test_integer_divide_is_float():
    a = np.array([7, -7, 1, 0], np.int32)
    b = np.array([2, 2, 3, 5], np.int32)
    check(mx.divide(A(a), A(b)), a / b, "float32")
    check(A(a) / A(b), a / b, "float32")
    check(mx.divide(A(a.astype(np.int64)), 2), a / 2, "float32")
    check(mx.divide(A(a.astype(np.uint8) % 8), A(b.astype(np.uint8))),
          (a.astype(np.uint8) % 8) / b, "float32")


def test_power_cases():
    a = np.array([2, 3, -2, -3, 0, 1, -1], np.int32)
    b = np.array([10, 3, 3, 4, 0, 7, 5], np.int32)
    check(mx.power(A(a), A(b)), a ** b, "int32")
    check(A(a) ** A(b), a ** b, "int32")
    check(mx.power(A(np.array([3], np.int64)), A(np.array([39], np.int64))),
          np.array([3 ** 39], np.int64), "int64")
    f = np.array([-2.0, -2.0, 0.0, 0.0, 4.0, np.inf, -np.inf, 1.0, np.nan], np.float32)
    g = np.array([3.0, 0.5, -1.0, 0.0, -0.5, -1.0, 3.0, np.nan, 0.0], np.float32)
    with np.errstate(all="ignore"):
        ref = np.power(f.astype(float), g.astype(float))
    check(mx.power(A(f), A(g)), ref, "float32", rtol=4e-6, atol=0)
    # float power with python scalars keeps float16
    h = A(np.array([1.5, 2.0, 3.0], np.float16))
    out = h ** 2
    assert out.dtype == mx.float16
    check(out, np.array([2.25, 4.0, 9.0]), "float16")
    out = mx.power(2, A(np.array([1, 2, 10], np.int32)))
    check(out, np.array([2, 4, 1024]), "int32")
    out = mx.power(A(np.array([4, 9], np.int32)), 0.5)
    check(out, np.array([2.0, 3.0]), "float32")


def test_maximum_minimum_nan_propagation():
    a = np.array([np.nan, 1.0, np.nan, -np.inf, 0.0, -0.0], np.float32)
    b = np.array([1.0, np.nan, np.nan, np.inf, -0.0, 0.0], np.float32)
    ea, eb = A(a), A(b)
    for op in ("maximum", "minimum"):
        got = np.array(getattr(mx, op)(ea, eb))
        ref = getattr(np, op)(a, b)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_array_equal(got[~np.isnan(ref)], ref[~np.isnan(ref)])
    # large arrays (vector path) too
    big = np.random.default_rng(0).standard_normal(LARGE).astype(np.float32)
    big[::17] = np.nan
    other = np.zeros_like(big)
    for op in ("maximum", "minimum"):
        got = np.array(getattr(mx, op)(A(big), A(other)))
        np.testing.assert_array_equal(np.isnan(got), np.isnan(big))
        got = np.array(getattr(mx, op)(A(other), A(big)))
        np.testing.assert_array_equal(np.isnan(got), np.isnan(big))


def test_logaddexp_specials():
    a = np.array([-np.inf, np.inf, np.inf, -np.inf, 1000.0, -1000.0, np.nan, 0.0],
                 np.float32)
    b = np.array([-np.inf, np.inf, -np.inf, 5.0, 1000.0, -1000.0, 1.0, -0.0],
                 np.float32)
    check(mx.logaddexp(A(a), A(b)),
          np.logaddexp(a.astype(float), b.astype(float)), "float32", rtol=4e-6, atol=0)


def test_comparisons_nan_and_mixed():
    a = np.array([np.nan, 1.0, np.nan, 2.0], np.float32)
    b = np.array([np.nan, np.nan, 1.0, 2.0], np.float32)
    for op in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"):
        check(getattr(mx, op)(A(a), A(b)), getattr(np, op)(a, b), "bool_")
    # int vs float compare in the promoted type
    i = A(np.array([16777217], np.int32))
    assert mx.equal(i, A(np.array([16777216.0], np.float32))).item() is True
    # uint8 vs int8 is promoted to int16 (no wraparound)
    u = A(np.array([200], np.uint8))
    s = A(np.array([-1], np.int8))
    assert mx.greater(u, s).item() is True
    assert mx.less(s, u).item() is True
    # large uint64 compare
    u64 = A(np.array([2 ** 63 + 1], np.uint64))
    assert mx.greater(u64, A(np.array([2 ** 63], np.uint64))).item() is True
    # int64 compare near limits
    i64 = A(np.array([2 ** 62 + 1], np.int64))
    assert mx.not_equal(i64, A(np.array([2 ** 62], np.int64))).item() is True


def test_equal_nan_arg_and_complex_compare():
    z = np.array([1 + 5j, 2 + 0j, 1 + 1j, 1 + 2j], np.complex64)
    w = np.array([1 + 3j, 1 + 9j, 1 + 1j, 1 + 3j], np.complex64)
    for op in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"):
        check(getattr(mx, op)(A(z), A(w)), getattr(np, op)(z, w), "bool_")
    check(mx.maximum(A(z), A(w)), np.maximum(z, w), "complex64")
    check(mx.minimum(A(z), A(w)), np.minimum(z, w), "complex64")


def test_bitwise_and_shift_semantics():
    a = np.array([-8, -1, 5, 127, -128], np.int8)
    s = np.array([1, 3, 2, 6, 7], np.int8)
    check(mx.right_shift(A(a), A(s)), a >> s, "int8")
    check(A(a) >> A(s), a >> s, "int8")
    u = np.array([0x80, 0xFF, 1, 3], np.uint8)
    su = np.array([7, 4, 7, 6], np.uint8)
    check(mx.right_shift(A(u), A(su)), u >> su, "uint8")
    check(mx.left_shift(A(u), A(su)), u << su, "uint8")
    check(A(u) << A(su), u << su, "uint8")
    i32 = np.array([1, -1, 3], np.int32)
    check(mx.left_shift(A(i32), A(np.array([31, 4, 30], np.int32))),
          i32 << np.array([31, 4, 30], np.int32), "int32")
    u64 = np.array([2 ** 64 - 1, 1], np.uint64)
    check(mx.right_shift(A(u64), A(np.array([63, 0], np.uint64))),
          u64 >> np.array([63, 0], np.uint64), "uint64")
    check(mx.left_shift(A(np.array([1], np.int64)), A(np.array([40], np.int64))),
          np.array([1 << 40]), "int64")
    x = np.array([0b1100, 0b1010, -1], np.int32)
    y = np.array([0b1010, 0b0110, 5], np.int32)
    check(A(x) & A(y), x & y, "int32")
    check(A(x) | A(y), x | y, "int32")
    check(A(x) ^ A(y), x ^ y, "int32")
    check(A(x) & 6, x & 6, "int32")
    b = np.array([True, False, True])
    check(mx.bitwise_and(A(b), A(~b)), b & ~b, "bool_")
    check(A(b) | A(~b), np.ones(3, bool), "bool_")
    # mixed dtypes promote
    out = mx.bitwise_or(A(np.array([1], np.uint8)), A(np.array([256], np.int16)))
    check(out, np.array([257]), "int16")
    with pytest.raises((ValueError, RuntimeError)):
        mx.eval(mx.bitwise_and(A([1.0]), A([2.0])))


def test_logical_ops_on_numbers():
    a = np.array([0.0, 2.0, -0.0, np.nan, 1.0], np.float32)
    b = np.array([1, 0, 3, 0, 7], np.int32)
    check(mx.logical_and(A(a), A(b)), np.logical_and(a, b), "bool_")
    check(mx.logical_or(A(a), A(b)), np.logical_or(a, b), "bool_")
    check(mx.logical_not(A(a)), np.logical_not(a), "bool_")


# ---- python scalars / weak typing ------------------------------------------
# result dtype of  array(dtype) + scalar   (MLX 0.32)
SCALAR_CASES = {  # keyed by type: True == 1 as a dict key
    bool: {"bool_": "bool_"},
    int: {"bool_": "int32"},
    float: {n: "float32" for n in ["bool_"] + INTS},
    complex: {n: "complex64" for n in ALL},
}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("scalar", [True, 1, 1.5, 2j], ids=["bool", "int", "float", "complex"])
def test_python_scalar_weak_typing(name, scalar):
    table = SCALAR_CASES[type(scalar)]
    exp_name = table.get(name, name)
    xn = np.array([0, 1, 3], dtype=NPDT[name]) if name != "bool_" else np.array([False, True, True])
    x = make(xn, name)
    ref_x = xn.astype(np.complex128 if isinstance(scalar, complex) else np.float64)
    ref = ref_x + scalar
    if exp_name == "bool_":
        ref = ref.astype(bool)
    for out in (mx.add(x, scalar), mx.add(scalar, x), x + scalar, scalar + x):
        check(out, ref, exp_name)
    out = x * scalar
    assert out.dtype == D(exp_name)


def test_weak_typing_specific_cases():
    out = A(np.array([1, 2], np.int32)) + 1.5
    check(out, np.array([2.5, 3.5]), "float32")
    h = A(np.array([1.5, -2.0], np.float16))
    check(h * 2.0, np.array([3.0, -4.0]), "float16")
    check(2.0 * h, np.array([3.0, -4.0]), "float16")
    check(h + 1, np.array([2.5, -1.0]), "float16")
    check(h / 3, np.float16([1.5, -2.0]).astype(float) / 3, "float16")
    bf = A([1.0, 2.0]).astype(mx.bfloat16)
    check(bf * 2.5, np.array([2.5, 5.0]), "bfloat16")
    u8 = A(np.array([1, 200], np.uint8))
    i8 = A(np.array([-1, 100], np.int8))
    check(u8 + i8, np.array([0, 300]), "int16")
    check(u8 + 3, np.array([4, 203]), "uint8")
    check(i8 - 1, np.array([-2, 99]), "int8")
    check(A(np.array([1], np.int64)) + 2 ** 40, np.array([2 ** 40 + 1]), "int64")
    check(A(np.array([3], np.uint64)) * 5, np.array([15]), "uint64")
    out = mx.add(1, 2.5)
    assert out.dtype == mx.float32 and out.shape == () and out.item() == 3.5
    out = mx.add(1, 2)
    assert out.dtype == mx.int32 and out.item() == 3
    out = A(np.array([1.0], np.float64)) + 1e-300
    check(out, np.array([1.0 + 1e-300]), "float64")
    d = A(np.array([1e-300], np.float64)) * 1e-10
    check(d, np.array([1e-310]), "float64", rtol=1e-12, atol=0)
    c = A(np.array([1 + 1j], np.complex64)) * 2
    check(c, np.array([2 + 2j]), "complex64")
    # a 0-d array is not weakly typed
    out = A(np.array([1, 2], np.int8)) + A(1000)
    check(out, np.array([1001, 1002]), "int32")


def test_scalar_out_of_range_raises():
    with pytest.raises(ValueError):
        mx.eval(A(np.array([1], np.uint8)) + 300)
    with pytest.raises(ValueError):
        mx.eval(A(np.array([1], np.int8)) + 300)
    with pytest.raises(ValueError):
        mx.eval(A(np.array([1], np.uint8)) + (-1))
    with pytest.raises(ValueError):
        mx.eval(A(np.array([1], np.int32)) * 2 ** 31)


def test_operators_match_functions():
    rng = np.random.default_rng(13)
    xn = rng.uniform(1, 5, (4, 5)).astype(np.float32)
    yn = rng.uniform(1, 5, (4, 5)).astype(np.float32)
    x, y = A(xn), A(yn)
    X, Y = xn.astype(float), yn.astype(float)
    check(x + y, X + Y, "float32")
    check(x - y, X - Y, "float32")
    check(x * y, X * Y, "float32")
    check(x / y, X / Y, "float32")
    check(x // y, X // Y, "float32")
    check(x % y, X % Y, "float32", atol=1e-5)
    check(x ** y, X ** Y, "float32")
    check(-x, -X, "float32")
    check(abs(-x), X, "float32")
    check(2 - x, 2 - X, "float32")
    check(2 / x, 2 / X, "float32")
    check(7 // x, 7 // X, "float32")
    check(7 % x, 7 % X, "float32", atol=1e-5)
    check(2 ** x, 2 ** X, "float32")
    check(x == y, X == Y, "bool_")
    check(x != y, X != Y, "bool_")
    check(x < y, X < Y, "bool_")
    check(x <= y, X <= Y, "bool_")
    check(x > y, X > Y, "bool_")
    check(x >= y, X >= Y, "bool_")
    check(x > 2.5, X > 2.5, "bool_")
    check(2.5 < x, 2.5 < X, "bool_")
    check(x < 3, X < 3, "bool_")


# --------------------------------------------------------------------------
# where
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_where_dtypes(name):
    rng = np.random.default_rng(14)
    c = rng.integers(0, 2, (5, 6)).astype(bool)
    xn = gen(rng, name, (5, 6))
    yn = gen(rng, name, (5, 6))
    x, y = make(xn, name), make(yn, name)
    out = mx.where(A(c), x, y)
    check(out, np.where(c, ref_in(x), ref_in(y)), name, rtol=0, atol=0)


@pytest.mark.parametrize("shapes", [
    ((5, 6), (5, 6), (5, 6)), ((5, 1), (1, 6), ()), ((), (3, 4), (3, 4)),
    ((2, 1, 4), (3, 1), (4,)), ((0, 3), (1, 3), ()), ((7,), (), ()),
    ((), (), ()), ((3, 1, 1), (1, 4, 1), (1, 1, 5)),
], ids=str)
def test_where_broadcasting(shapes):
    rng = np.random.default_rng(15)
    sc, sx, sy = shapes
    c = rng.integers(0, 2, sc).astype(bool)
    xn = rng.standard_normal(sx).astype(np.float32)
    yn = rng.standard_normal(sy).astype(np.float32)
    out = mx.where(A(c), A(xn), A(yn))
    check(out, np.where(c, xn, yn), "float32", rtol=0, atol=0)


def test_where_nonbool_condition_and_promotion():
    c = np.array([0.0, 1.5, -0.0, np.nan, 2.0], np.float32)
    x = np.arange(5, dtype=np.int32)
    y = -np.arange(5, dtype=np.int32)
    check(mx.where(A(c), A(x), A(y)), np.where(c, x, y), "int32")
    ci = np.array([0, 3, 0, -1, 0], np.int64)
    check(mx.where(A(ci), A(x), A(y)), np.where(ci, x, y), "int32")
    cb = A(np.array([True, False, True, False, True]))
    out = mx.where(cb, 1, 2.5)
    check(out, np.where(np.array([1, 0, 1, 0, 1], bool), 1.0, 2.5), "float32")
    out = mx.where(cb, A(x.astype(np.int8)), 2)
    check(out, np.where(np.array([1, 0, 1, 0, 1], bool), x, 2), "int8")
    out = mx.where(cb, A(x.astype(np.float16)), 2.0)
    check(out, np.where(np.array([1, 0, 1, 0, 1], bool), x, 2.0), "float16")
    out = mx.where(cb, A(x), A(y.astype(np.float32)))
    check(out, np.where(np.array([1, 0, 1, 0, 1], bool), x, y), "float32")
    out = mx.where(cb, A(x.astype(np.uint8)), A(y.astype(np.int8)))
    check(out, np.where(np.array([1, 0, 1, 0, 1], bool), x, y), "int16")


def test_where_noncontiguous_and_large():
    rng = np.random.default_rng(16)
    base_c = rng.integers(0, 2, (300, 500)).astype(bool)
    bx = rng.standard_normal((500, 300)).astype(np.float32)
    by = rng.standard_normal((300, 1000)).astype(np.float32)
    out = mx.where(A(base_c), A(bx).T, A(by)[:, ::2])
    check(out, np.where(base_c, bx.T, by[:, ::2]), "float32", rtol=0, atol=0)
    out = mx.where(A(base_c)[::-1], A(bx).T, 0.0)
    check(out, np.where(base_c[::-1], bx.T, 0.0), "float32", rtol=0, atol=0)
    c1 = rng.integers(0, 2, LARGE).astype(bool)
    x1 = rng.standard_normal(LARGE)
    out = mx.where(A(c1), A(x1), A(-x1))
    check(out, np.where(c1, x1, -x1), "float64", rtol=0, atol=0)
    i1 = rng.integers(-100, 100, LARGE).astype(np.int16)
    out = mx.where(A(c1), A(i1), A(np.int16(7)))
    check(out, np.where(c1, i1, 7), "int16")


def test_where_nan_payload_and_empty():
    x = np.array([np.nan, np.inf, -0.0], np.float32)
    out = mx.where(A(np.array([True, True, True])), A(x), 0.0)
    got = np.array(out)
    assert np.isnan(got[0]) and got[1] == np.inf and np.signbit(got[2])
    out = mx.where(mx.zeros((0,), mx.bool_), mx.zeros((0,)), mx.ones((0,)))
    assert out.shape == (0,)


# --------------------------------------------------------------------------
# clip
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", REAL)
def test_clip_dtypes(name):
    rng = np.random.default_rng(17)
    xn = gen(rng, name, (4, 7), -10, 10, -10, 10)
    x = make(xn, name)
    r = ref_in(x)
    if name == "bool_":
        out = mx.clip(x, False, True)
        check(out, r, "bool_")
        return
    lo, hi = (2, 7) if name in UINTS else (-3, 4)
    out = mx.clip(x, lo, hi)
    check(out, np.clip(r, lo, hi), name, rtol=0, atol=0)
    out = mx.clip(x, lo, None)
    check(out, np.maximum(r, lo), name, rtol=0, atol=0)
    out = mx.clip(x, None, hi)
    check(out, np.minimum(r, hi), name, rtol=0, atol=0)


def test_clip_array_bounds_and_promotion():
    rng = np.random.default_rng(18)
    xn = rng.standard_normal((5, 6)).astype(np.float32)
    lo = rng.uniform(-1, 0, (6,)).astype(np.float32)
    hi = rng.uniform(0, 1, (5, 1)).astype(np.float32)
    out = mx.clip(A(xn), A(lo), A(hi))
    check(out, np.clip(xn, lo, hi), "float32", rtol=0, atol=0)
    out = mx.clip(A(xn).T, A(hi.T), None)
    check(out, np.maximum(xn.T, hi.T), "float32", rtol=0, atol=0)
    i = A(np.array([1, 2, 3], np.int32))
    check(mx.clip(i, 1.5, 2.5), np.array([1.5, 2.0, 2.5]), "float32")
    u = A(np.array([1, 2, 3], np.uint8))
    check(mx.clip(u, 2, None), np.array([2, 2, 3]), "uint8")
    h = A(np.array([1.0, 2.0, 3.0], np.float16))
    check(mx.clip(h, 1.5, 2.5), np.array([1.5, 2.0, 2.5]), "float16")
    check(mx.clip(h, A(1.5), None), np.array([1.5, 2.0, 3.0]), "float32")
    # lower bound larger than upper bound gives the upper bound (numpy too)
    check(mx.clip(A([1.0, 5.0, 3.0]), 4, 2), np.array([2.0, 2.0, 2.0]), "float32")
    # nan propagates
    got = np.array(mx.clip(A([np.nan, 0.5]), 0.0, 1.0))
    assert np.isnan(got[0]) and got[1] == 0.5
    with pytest.raises(ValueError):
        mx.clip(A([1, 2]), None, None)


def test_clip_large_and_empty():
    rng = np.random.default_rng(19)
    xn = rng.standard_normal(LARGE).astype(np.float32)
    check(mx.clip(A(xn), -0.5, 0.5), np.clip(xn, -0.5, 0.5), "float32", rtol=0, atol=0)
    check(mx.clip(A(xn)[::3], -0.5, 0.5), np.clip(xn[::3], -0.5, 0.5), "float32",
          rtol=0, atol=0)
    out = mx.clip(mx.zeros((0, 2)), 0, 1)
    assert out.shape == (0, 2)
    out = mx.clip(A(3.0), 0, 1)
    assert out.shape == () and out.item() == 1.0


# --------------------------------------------------------------------------
# astype
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dst", ALL)
@pytest.mark.parametrize("src", ALL)
def test_astype_all_pairs(src, dst):
    vals = np.array([0, 1, 2, 7, 100, 3, 0, 64, 127], dtype=np.int64)
    if src == "bool_":
        vals = vals % 2
    x = make(vals.astype(NPDT[src]), src)
    out = x.astype(D(dst))
    assert out.dtype == D(dst)
    out2 = mx.astype(x, D(dst))
    ref = vals.astype(bool) if dst == "bool_" else vals
    if src == "bool_" or dst == "bool_":
        ref = vals.astype(bool) if dst == "bool_" else vals.astype(bool).astype(np.int64)
    if dst in FLOATS:
        ref = ref.astype(np.float64)
    if dst == "complex64":
        ref = ref.astype(np.complex128)
    check(out, ref, dst, rtol=0, atol=0)
    check(out2, ref, dst, rtol=0, atol=0)


@pytest.mark.parametrize("dst", ["int8", "int16", "int32", "int64", "uint8", "uint16",
                                 "uint32", "uint64", "bool_"])
@pytest.mark.parametrize("src", ["float16", "bfloat16", "float32", "float64"])
def test_astype_float_to_int_truncates(src, dst):
    vals = np.array([0.0, 0.4, 0.6, 1.5, 2.9, 99.99, -0.0, 0.999], np.float64)
    if dst in SINTS or dst == "bool_":
        vals = np.concatenate([vals, -vals[1:], [-100.7]])
    if dst == "bool_":
        vals = np.concatenate([vals, [np.nan, np.inf, -np.inf, 1e-30 if src in ("float32", "float64") else 0.001]])
    x = make(vals.astype(NPDT[src]), src)
    xr = ref_in(x)
    with np.errstate(all="ignore"):
        ref = xr.astype(NPDT[dst])
    check(x.astype(D(dst)), ref, dst)


def _bf16_round(f32):
    """Round-to-nearest-even float32 -> bfloat16 (returned as float32)."""
    bits = np.asarray(f32, np.float32).view(np.uint32).astype(np.uint64)
    lsb = (bits >> 16) & 1
    rounded = ((bits + 0x7FFF + lsb) >> 16) << 16
    out = rounded.astype(np.uint32).view(np.float32)
    nan = np.isnan(f32)
    out = np.where(nan, np.nan, out)
    return out


def test_astype_bfloat16_rounding():
    rng = np.random.default_rng(20)
    vals = np.concatenate([
        rng.standard_normal(5000).astype(np.float32) * 100,
        np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -9, -1 - 2 ** -8, 3.4e38,
                  -3.4e38, 1e-40, 0.0, -0.0, np.inf, -np.inf, 65504.0, 1e-38,
                  3.3961775e38, 2 ** -133], np.float32),
    ]).astype(np.float32)
    out = A(vals).astype(mx.bfloat16)
    got = np.array(out.astype(mx.float32))
    exp = _bf16_round(vals)
    np.testing.assert_array_equal(got, exp)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(exp))
    got_nan = np.array(A(np.array([np.nan], np.float32)).astype(mx.bfloat16)
                       .astype(mx.float32))
    assert np.isnan(got_nan).all()
    # float64 -> bfloat16 and int -> bfloat16
    d = np.array([257.0, 258.0, 259.0, 1e300, -1e-300], np.float64)
    got = np.array(A(d).astype(mx.bfloat16).astype(mx.float32))
    np.testing.assert_array_equal(got[:3], [256.0, 258.0, 260.0])
    assert got[3] == np.inf and got[4] == 0.0 and np.signbit(got[4])
    i = np.array([257, 259, 1 << 20, -129], np.int32)
    got = np.array(A(i).astype(mx.bfloat16).astype(mx.float32))
    np.testing.assert_array_equal(got, _bf16_round(i.astype(np.float32)))


def test_astype_float16_rounding():
    rng = np.random.default_rng(21)
    vals = np.concatenate([
        rng.standard_normal(5000).astype(np.float32) * 1000,
        rng.standard_normal(500).astype(np.float32) * 1e-5,
        np.array([65504.0, 65519.0, 65520.0, 1e5, -1e5, 6e-8, 2.98e-8, 3e-8, 1e-9,
                  -0.0, np.inf, -np.inf, 2049.0, 2051.0, 6.1e-5, 5.9604645e-08],
                 np.float32),
    ]).astype(np.float32)
    got = np.array(A(vals).astype(mx.float16))
    exp = vals.astype(np.float16)
    np.testing.assert_array_equal(got, exp)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(exp))
    h = exp
    np.testing.assert_array_equal(np.array(A(h).astype(mx.float32)),
                                  h.astype(np.float32))
    assert np.isnan(np.array(A(np.array([np.nan], np.float32)).astype(mx.float16)))[0]


def test_astype_float64_to_float16_correctly_rounded():
    # float64 -> float16 must round once (not via float32: double rounding)
    d = np.array([-42.98437372777596, 18.64843702657361, 1.0 + 2 ** -11 + 2 ** -40])
    np.testing.assert_array_equal(np.array(A(d).astype(mx.float16)), d.astype(np.float16))
    d = np.random.default_rng(25).standard_normal(100000) * 100
    np.testing.assert_array_equal(np.array(A(d).astype(mx.float16)), d.astype(np.float16))


def test_astype_misc():
    # float64 -> float32 round to nearest
    d = np.random.default_rng(22).standard_normal(1000) * 1e10
    np.testing.assert_array_equal(np.array(A(d).astype(mx.float32)),
                                  d.astype(np.float32))
    # big ints -> float
    i = np.array([2 ** 40 + 1, 2 ** 53 + 1, -(2 ** 62), 16777217], np.int64)
    np.testing.assert_array_equal(np.array(A(i).astype(mx.float32)),
                                  i.astype(np.float32))
    np.testing.assert_array_equal(np.array(A(i).astype(mx.float64)),
                                  i.astype(np.float64))
    u = np.array([2 ** 64 - 1, 2 ** 63 + 2 ** 40], np.uint64)
    np.testing.assert_array_equal(np.array(A(u).astype(mx.float64)),
                                  u.astype(np.float64))
    np.testing.assert_array_equal(np.array(A(u).astype(mx.float32)),
                                  u.astype(np.float32))
    # int narrowing wraps (two's complement)
    w = np.array([300, -129, 65537, -1], np.int32)
    np.testing.assert_array_equal(np.array(A(w).astype(mx.int8)), w.astype(np.int8))
    np.testing.assert_array_equal(np.array(A(w).astype(mx.uint8)), w.astype(np.uint8))
    np.testing.assert_array_equal(np.array(A(w).astype(mx.uint16)), w.astype(np.uint16))
    np.testing.assert_array_equal(np.array(A(w).astype(mx.uint64)), w.astype(np.uint64))
    # sign extension int8 -> int64 / uint8 -> int64 zero extension
    s = np.array([-1, -128, 127], np.int8)
    np.testing.assert_array_equal(np.array(A(s).astype(mx.int64)), s.astype(np.int64))
    us = np.array([255, 128], np.uint8)
    np.testing.assert_array_equal(np.array(A(us).astype(mx.int64)), us.astype(np.int64))
    # complex -> real keeps real part
    z = np.array([1.5 + 2j, -3.25 - 1j], np.complex64)
    np.testing.assert_array_equal(np.array(A(z).astype(mx.float32)),
                                  np.array([1.5, -3.25], np.float32))
    np.testing.assert_array_equal(np.array(A(z).astype(mx.bool_)), [True, True])
    # real -> complex
    np.testing.assert_array_equal(np.array(A(np.array([2.5, -1.0])).astype(mx.complex64)),
                                  np.array([2.5 + 0j, -1 + 0j], np.complex64))
    # like MLX, numpy float64 input becomes float32 unless a dtype is given
    assert mx.array(np.array([1.5, 2.0])).dtype == mx.float32
    assert mx.array(np.array([1.5, 2.0]), dtype=mx.float64).dtype == mx.float64
    # same dtype
    a = A(np.array([1.5], np.float32))
    assert a.astype(mx.float32).dtype == mx.float32


@pytest.mark.parametrize("layout", ["transpose", "step2", "broadcast", "reverse", "empty",
                                    "scalar0d"])
@pytest.mark.parametrize("pair", [("float32", "float16"), ("float32", "int32"),
                                  ("int64", "float32"), ("float16", "float64"),
                                  ("uint8", "float32"), ("float32", "bfloat16"),
                                  ("int32", "int8"), ("bool_", "float32")], ids=str)
def test_astype_noncontiguous(pair, layout):
    src, dst = pair
    rng = np.random.default_rng(23)

    def maker(shape):
        return gen(rng, src, shape, -50, 50, -50, 50)

    x, xn = layout_pair(rng, layout, maker)
    if src == "bfloat16":
        x = x.astype(mx.bfloat16)
    out = x.astype(D(dst))
    ref = ref_in(make(np.array(xn), src))
    with np.errstate(all="ignore"):
        if dst == "bfloat16":
            ref = _bf16_round(ref.astype(np.float32))
        else:
            ref = ref.astype(NPDT[dst])
    check(out, ref, dst, rtol=0, atol=0)


def test_astype_large():
    rng = np.random.default_rng(24)
    x = rng.standard_normal(LARGE).astype(np.float32) * 1000
    for dst in ("float16", "int32", "float64", "int16", "uint8"):
        with np.errstate(all="ignore"):
            ref = x.astype(NPDT[dst]) if dst != "uint8" else np.abs(x).astype(np.uint8)
        src = x if dst != "uint8" else np.abs(x)
        if dst == "uint8":
            src = np.minimum(src, 255)
            ref = src.astype(np.uint8)
        np.testing.assert_array_equal(np.array(A(src).astype(D(dst))), ref)
    np.testing.assert_array_equal(np.array(A(x).astype(mx.bfloat16).astype(mx.float32)),
                                  _bf16_round(x))


# --------------------------------------------------------------------------
# lazy graphs: temporaries whose buffers may be donated must not clobber
# arrays that are still alive
# --------------------------------------------------------------------------
def test_chained_expressions_and_buffer_reuse():
    rng = np.random.default_rng(26)
    for n in (7, LARGE):
        an = rng.uniform(0.5, 2, n).astype(np.float32)
        bn = rng.uniform(0.5, 2, n).astype(np.float32)
        a, b = A(an), A(bn)
        A64, B64 = an.astype(float), bn.astype(float)
        t = mx.exp(a)                      # kept alive and reused below
        r1 = mx.sqrt(mx.sin(t * b + 1) + 2) / (a - 0.25)
        r2 = mx.tanh(t) - mx.log(b + t)
        r3 = mx.maximum(-(a * a), mx.negative(b)) + t
        mx.eval(r1, r2, r3)
        E = np.exp(A64)
        check(r1, np.sqrt(np.sin(E * B64 + 1) + 2) / (A64 - 0.25), "float32", rtol=1e-5)
        check(r2, np.tanh(E) - np.log(B64 + E), "float32", rtol=1e-5, atol=1e-6)
        check(r3, np.maximum(-(A64 * A64), -B64) + E, "float32", rtol=1e-5)
        check(t, E, "float32")
        np.testing.assert_array_equal(np.array(a), an)
        np.testing.assert_array_equal(np.array(b), bn)
    # an input used twice in the same op, and an op whose output feeds two ops
    x = A(np.arange(10, dtype=np.int32))
    y = x * x + x
    z = mx.where(y > 20, y, -y)
    check(z, np.where(np.arange(10) ** 2 + np.arange(10) > 20,
                      np.arange(10) ** 2 + np.arange(10),
                      -(np.arange(10) ** 2 + np.arange(10))), "int32")
    np.testing.assert_array_equal(np.array(x), np.arange(10))


@pytest.mark.parametrize("name", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("e", [-4, -3, -2, -1, 0, 1, 2, 3, 4, 0.5, -0.5, 2.5, -1.5])
def test_power_scalar_exponent(name, e):
    """x ** e with one exponent for all elements (fast paths for small integers and
    +-1/2) keeps pow's values and special cases."""
    rng = np.random.default_rng(12)
    body = rng.uniform(-5, 5, 1000)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 1e-30, -1e-30, 3e18, -3e18])
    xn = np.concatenate([body, special]).astype(np.float32)
    x = make(xn, name)
    out = x ** e
    with np.errstate(all="ignore"):
        # an exponent array keeps numpy off its sqrt shortcut: C pow semantics, as MLX
        x64 = to_np(x).astype(np.float64)
        ref = np.power(x64, np.full_like(x64, float(e)))
    check(out, ref, name, signed_zero=True)
    # a broadcast 0-d exponent array and a strided base give the same values
    out2 = mx.power(x[::-1], mx.array(e, dtype=x.dtype))
    check(out2, ref[::-1], name, signed_zero=True)


@pytest.mark.parametrize("op", ["sin", "cos"])
@pytest.mark.parametrize("name", ["float32", "float16", "bfloat16"])
def test_trig_huge_arguments_in_place(op, name):
    """Huge and non-finite arguments among ordinary ones, also when the input buffer is
    reused for the output (a temporary operand)."""
    rng = np.random.default_rng(21)
    xn = rng.uniform(-5, 5, 5000)
    xn[[3, 400, 4999]] = [np.inf, -np.inf, np.nan]
    if name != "float16":
        xn[[7, 2500]] = [1e10, -4e8]
    x = make(xn, name)
    out = getattr(mx, op)(x * 1.0)
    with np.errstate(invalid="ignore"):
        ref = getattr(np, op)(to_np(x).astype(np.float64))
    check(out, ref, name)
