"""Property-based tests of the core ops against numpy (hypothesis).

Random shapes (including empty and 0-d), dtypes, memory layouts (transposed,
strided and reversed views), axes and indices.  The numpy reference is computed in
float64 from the values the Ember input actually holds (after rounding to its dtype),
so a failure points at the op, not at the input conversion.

Each property runs twice: a bounded number of examples in the default run, and a
long sweep behind the `slow` marker (pytest -m slow).
"""
import math

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import ember.core as mx  # noqa: E402

_COMMON = dict(deadline=None, derandomize=False, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
settings.register_profile("ember-default", max_examples=50, **_COMMON)
settings.register_profile("ember-slow", max_examples=600, **_COMMON)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def prop(*args, **kwargs):
    """Decorate a property body: returns the default test; its slow twin (more
    examples, marked slow) is published under the same name plus `_slow`."""
    def deco(body):
        fast = settings(settings.get_profile("ember-default"))(given(*args, **kwargs)(body))
        slow = settings(settings.get_profile("ember-slow"))(given(*args, **kwargs)(body))
        slow = pytest.mark.slow(slow)
        globals()[body.__name__ + "_slow"] = slow
        return fast
    return deco


# --------------------------------------------------------------------------
# dtypes, values, layouts
# --------------------------------------------------------------------------
FLOATS = ["float32", "float16", "bfloat16"]
INTS = ["int32", "int8", "uint8", "int64", "uint32", "int16"]
NP = {"float32": np.float32, "float16": np.float16, "bfloat16": np.float32,
      "float64": np.float64, "int32": np.int32, "int8": np.int8, "uint8": np.uint8,
      "int64": np.int64, "uint32": np.uint32, "int16": np.int16, "bool_": np.bool_}
RTOL = {"float32": 2e-5, "float16": 4e-3, "bfloat16": 3e-2, "float64": 1e-10}


def dname(a):
    n = str(a.dtype).rsplit(".", 1)[-1]
    return "bool_" if n == "bool" else n


def to_np(a):
    """Ember array -> numpy (bfloat16 through float32)."""
    if dname(a) == "bfloat16":
        a = a.astype(mx.float32)
    return np.array(a)


def shapes(min_dims=0, max_dims=4, min_side=0, max_side=5):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def _elements(dtype, lo, hi):
    if dtype in ("float32", "bfloat16", "float64", "float16"):
        w, t = (16, np.float16) if dtype == "float16" else (32, np.float32)
        return st.floats(float(t(lo)), float(t(hi)), width=w, allow_nan=False,
                         allow_infinity=False)
    if dtype == "bool_":
        return st.booleans()
    info = np.iinfo(NP[dtype])
    return st.integers(max(math.ceil(lo), int(info.min)), min(math.floor(hi), int(info.max)))


@st.composite
def views(draw, shape):
    """A sequence of view operations that turns a base array into one of logical
    `shape`: ("T", perm) transposes, ("s", starts, steps) strides, ("r",) reverses
    axis 0, ("b", shape) broadcasts size-1 axes (zero strides)."""
    kind = draw(st.sampled_from(["c", "c", "T", "s", "r", "b"]))
    nd = len(shape)
    if kind == "T" and nd >= 2:
        perm = draw(st.permutations(range(nd)))
        inv = tuple(np.argsort(perm))
        base = tuple(shape[i] for i in inv)
        return base, [("T", tuple(perm))]
    if kind == "s" and nd >= 1:
        steps = tuple(draw(st.sampled_from([1, 2, 3])) for _ in range(nd))
        starts = tuple(draw(st.integers(0, s - 1)) for s in steps)
        base = tuple(d * s for d, s in zip(shape, steps))
        return base, [("s", starts, steps)]
    if kind == "b" and nd >= 1:
        base = tuple(1 if draw(st.booleans()) else d for d in shape)
        return base, [("b", tuple(shape))]
    if kind == "r" and nd >= 1:
        return tuple(shape), [("r",)]
    return tuple(shape), []


def _apply_views(x, ops, M):
    for op in ops:
        if op[0] == "T":
            x = M.transpose(x, op[1]) if M is mx else np.transpose(x, op[1])
        elif op[0] == "s":
            x = x[tuple(slice(b, None, s) for b, s in zip(op[1], op[2]))]
        elif op[0] == "b":
            x = M.broadcast_to(x, op[1])
        elif op[0] == "r":
            x = x[::-1]
    return x


@st.composite
def arrays(draw, dtype, shape=None, lo=-10, hi=10, layout=True):
    """(ember array, float64/int numpy reference of what it holds)."""
    if shape is None:
        shape = draw(shapes())
    base_shape, ops = draw(views(shape)) if layout else (tuple(shape), [])
    base = draw(hnp.arrays(NP[dtype], base_shape, elements=_elements(dtype, lo, hi)))
    if dtype == "bfloat16":
        a = mx.array(base).astype(mx.bfloat16)
    else:
        a = mx.array(base)
    a = _apply_views(a, ops, mx)
    ref = to_np(a)
    assert ref.shape == tuple(shape)
    return a, ref


def assert_close(got, ref, dtype, scale=None, rtol_factor=1.0):
    got = to_np(got) if isinstance(got, mx.array) else np.asarray(got)
    ref = np.asarray(ref)
    assert got.shape == ref.shape, f"shape {got.shape}, expected {ref.shape}"
    if dtype not in RTOL:
        np.testing.assert_array_equal(got, ref)
        return
    rtol = RTOL[dtype] * rtol_factor
    g = got.astype(np.float64)
    r = ref.astype(np.float64)
    assert np.array_equal(np.isnan(g), np.isnan(r)), f"nan positions differ\n{g}\n{r}"
    fin = np.isfinite(r)
    assert np.array_equal(g[~fin & ~np.isnan(r)], r[~fin & ~np.isnan(r)]), "infinities differ"
    if scale is None:
        scale = np.abs(r[fin]).max() if fin.any() else 1.0
    err = np.abs(g[fin] - r[fin])
    bound = rtol * (np.abs(r[fin]) + max(float(scale), 1.0) * 0.5)
    assert np.all(err <= bound), (f"max error {err.max()} (dtype {dtype})\n got {g}\n ref {r}")


def _round_to(ref, dtype):
    """Round a float64 reference to the result dtype (for exact ops)."""
    if dtype == "bfloat16":
        return to_np(mx.array(ref.astype(np.float32)).astype(mx.bfloat16))
    return ref.astype(NP[dtype])


# --------------------------------------------------------------------------
# element-wise
# --------------------------------------------------------------------------
UNARY = {
    # name: (numpy reference, low, high, float result for integer input)
    "abs": (np.abs, -10, 10, False), "negative": (np.negative, -10, 10, False),
    "square": (np.square, -10, 10, False), "sqrt": (np.sqrt, 0, 10, True),
    "rsqrt": (lambda x: 1 / np.sqrt(x), 0.01, 10, True),
    "exp": (np.exp, -10, 10, True), "expm1": (np.expm1, -5, 5, True),
    "log": (np.log, 0.01, 10, True), "log1p": (np.log1p, 0, 10, True),
    "log2": (np.log2, 0.01, 10, True), "log10": (np.log10, 0.01, 10, True),
    "sin": (np.sin, -10, 10, True), "cos": (np.cos, -10, 10, True),
    "tan": (np.tan, -1.4, 1.4, True), "tanh": (np.tanh, -10, 10, True),
    "sinh": (np.sinh, -5, 5, True), "cosh": (np.cosh, -5, 5, True),
    "arcsin": (np.arcsin, -1, 1, True), "arccos": (np.arccos, -1, 1, True),
    "arctan": (np.arctan, -10, 10, True), "arcsinh": (np.arcsinh, -10, 10, True),
    "arccosh": (np.arccosh, 1, 10, True), "arctanh": (np.arctanh, -0.99, 0.99, True),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), -10, 10, True),
    "floor": (np.floor, -10, 10, False), "ceil": (np.ceil, -10, 10, False),
    "sign": (np.sign, -10, 10, False), "reciprocal": (np.reciprocal, 0.1, 10, True),
    "round": (np.round, -10, 10, False),
}
_EXACT = {"abs", "negative", "square", "floor", "ceil", "sign", "round"}


@st.composite
def unary_case(draw):
    name = draw(st.sampled_from(sorted(UNARY)))
    dtype = draw(st.sampled_from(FLOATS + ["int32", "int8", "uint8"]))
    fn, lo, hi, to_float = UNARY[name]
    if dtype in INTS and name in ("negative", "abs", "square", "sign", "round",
                                  "floor", "ceil"):
        lo, hi = max(lo, -10 if dtype != "uint8" else 0), hi
    if dtype == "uint8" and lo < 0:
        lo = 0
    x = draw(arrays(dtype, lo=lo, hi=hi))
    return name, dtype, x


@prop(unary_case())
def test_unary(case):
    name, dtype, (x, ref_in) = case
    fn, _, _, to_float = UNARY[name]
    y = getattr(mx, name)(x)
    out = dtype if (dtype in FLOATS or not to_float) else "float32"
    assert dname(y) == out, f"{name}({dtype}) gives {dname(y)}"
    ref = fn(ref_in.astype(np.float64))
    if dtype in INTS and not to_float:
        ref = ref.astype(np.int64)
        if dtype == "uint8" and name in ("negative", "square"):
            ref = ref.astype(np.uint8)
        elif dtype == "int8" and name == "square":
            ref = ref.astype(np.int8)
        np.testing.assert_array_equal(to_np(y).astype(np.int64), ref.astype(np.int64))
        return
    if name in _EXACT:
        assert_close(y, _round_to(ref, out), out, rtol_factor=0.01)
    else:
        factor = 4.0 if name in ("tan", "arccosh", "arctanh", "expm1") else 2.0
        assert_close(y, ref, out, rtol_factor=factor)


BINARY = {
    "add": (np.add, -10, 10, -10, 10), "subtract": (np.subtract, -10, 10, -10, 10),
    "multiply": (np.multiply, -10, 10, -10, 10), "divide": (np.divide, -10, 10, 0.5, 10),
    "maximum": (np.maximum, -10, 10, -10, 10), "minimum": (np.minimum, -10, 10, -10, 10),
    "power": (np.power, 0.1, 4, -2, 3), "arctan2": (np.arctan2, -10, 10, -10, 10),
    "logaddexp": (np.logaddexp, -10, 10, -10, 10),
    "floor_divide": (np.floor_divide, -10, 10, 0.5, 10),
    "remainder": (np.remainder, -10, 10, 0.5, 10),
    "equal": (np.equal, -3, 3, -3, 3), "not_equal": (np.not_equal, -3, 3, -3, 3),
    "less": (np.less, -3, 3, -3, 3), "greater_equal": (np.greater_equal, -3, 3, -3, 3),
}
_CMP = {"equal", "not_equal", "less", "greater_equal"}


@st.composite
def binary_case(draw):
    name = draw(st.sampled_from(sorted(BINARY)))
    dtype = draw(st.sampled_from(FLOATS + ["int32", "int16"]))
    fn, alo, ahi, blo, bhi = BINARY[name]
    if dtype in INTS and name in ("power", "arctan2", "logaddexp"):
        dtype = "float32"
    sa, sb = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4,
                                                    max_side=4)).input_shapes
    a = draw(arrays(dtype, shape=sa, lo=alo, hi=ahi))
    b = draw(arrays(dtype, shape=sb, lo=blo, hi=bhi))
    if draw(st.booleans()) and name in ("divide", "floor_divide", "remainder"):
        # negative divisors too
        b = (mx.negative(b[0]), -b[1])
    return name, dtype, a, b


@prop(binary_case())
def test_binary_broadcast(case):
    name, dtype, (a, ra), (b, rb) = case
    y = getattr(mx, name)(a, b)
    ref = BINARY[name][0](ra.astype(np.float64), rb.astype(np.float64))
    if name in _CMP:
        assert dname(y) == "bool_"
        np.testing.assert_array_equal(to_np(y), ref)
        return
    out = dtype if dtype in FLOATS or name not in ("divide",) else "float32"
    assert dname(y) == out, f"{name}({dtype}) gives {dname(y)}"
    if out in INTS:
        np.testing.assert_array_equal(to_np(y), ref.astype(np.int64))
        return
    if name in ("floor_divide", "remainder") and out != "float32":
        # half precision rounds the quotient before the floor: compare loosely
        assert_close(y, ref, out, rtol_factor=4.0, scale=10)
        return
    if name in ("add", "subtract", "multiply", "maximum", "minimum"):
        assert_close(y, _round_to(ref, out), out, rtol_factor=0.01)
    else:
        assert_close(y, ref, out, rtol_factor=2.0)


@prop(st.sampled_from(FLOATS + ["int32", "uint8"]), st.data())
def test_binary_python_scalar(dtype, data):
    x, rx = data.draw(arrays(dtype, lo=0, hi=10))
    s = data.draw(st.sampled_from([2, 3, 1.5, 0.25]))
    op = data.draw(st.sampled_from(["add", "multiply", "subtract", "maximum"]))
    y = getattr(mx, op)(x, s)
    # weak typing: a Python int keeps the array's dtype, a float keeps floating dtypes
    # and makes integers float32
    out = dtype if (isinstance(s, int) or dtype in FLOATS) else "float32"
    assert dname(y) == out
    ref = getattr(np, op)(rx.astype(np.float64), s)
    if out in INTS:
        np.testing.assert_array_equal(to_np(y).astype(np.int64),
                                      ref.astype(NP[out]).astype(np.int64))
    else:
        assert_close(y, _round_to(ref, out), out, rtol_factor=0.01)


# --------------------------------------------------------------------------
# reductions and scans
# --------------------------------------------------------------------------
@st.composite
def axes_for(draw, ndim):
    if ndim == 0 or draw(st.integers(0, 4)) == 0:
        return None
    k = draw(st.integers(1, ndim))
    ax = draw(st.permutations(range(ndim)))[:k]
    ax = [a - ndim if draw(st.booleans()) else a for a in ax]
    return tuple(ax) if len(ax) > 1 or draw(st.booleans()) else ax[0]


REDUCE = {
    "sum": np.sum, "prod": np.prod, "mean": np.mean, "max": np.max, "min": np.min,
    "all": np.all, "any": np.any, "var": np.var, "std": np.std,
    "logsumexp": lambda x, axis=None, keepdims=False: _np_logsumexp(x, axis, keepdims),
}


def _np_logsumexp(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    r = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return r if keepdims else np.squeeze(r, axis=axis if axis is not None else None)


@st.composite
def reduce_case(draw):
    name = draw(st.sampled_from(sorted(REDUCE)))
    dtype = draw(st.sampled_from(FLOATS + ["int32", "uint8", "bool_"]))
    lo, hi = (-2, 2) if name == "prod" else (-10, 10)
    if dtype in ("uint8", "bool_"):
        lo = 0
    shape = draw(shapes(max_dims=4, max_side=4))
    x = draw(arrays(dtype if dtype != "bool_" else "bool_", shape=shape, lo=lo, hi=hi))
    axis = draw(axes_for(len(shape)))
    keepdims = draw(st.booleans())
    return name, dtype, x, axis, keepdims


@prop(reduce_case())
def test_reduce(case):
    name, dtype, (x, rx), axis, keepdims = case
    npax = axis
    size = rx.size if axis is None else int(np.prod([rx.shape[a] for a in np.atleast_1d(axis)]))
    assume(not (name == "logsumexp" and size == 0))  # MLX raises, Ember gives -inf
    if name in ("max", "min") and size == 0:
        with pytest.raises(ValueError):
            mx.eval(getattr(mx, name)(x, axis=axis, keepdims=keepdims))
        return
    y = getattr(mx, name)(x, axis=axis, keepdims=keepdims)
    ref = REDUCE[name](rx.astype(np.float64), axis=npax, keepdims=keepdims)
    got = to_np(y)
    assert got.shape == np.shape(ref), f"{name} axis={axis}: {got.shape} vs {np.shape(ref)}"
    if name in ("all", "any"):
        assert dname(y) == "bool_"
        np.testing.assert_array_equal(got, ref)
        return
    out = dname(y)
    if out in INTS or out == "bool_":
        np.testing.assert_array_equal(got.astype(np.float64), np.asarray(ref, np.float64))
        return
    scale = float(np.abs(rx).astype(np.float64).sum()) / max(1, got.size) if rx.size else 1.0
    if name in ("var", "std"):
        scale = max(scale, 1.0) ** 2
    assert_close(got, ref, out, scale=scale, rtol_factor=4.0 if out != "float32" else 8.0)


@st.composite
def arg_reduce_case(draw):
    dtype = draw(st.sampled_from(FLOATS + ["int32", "uint8"]))
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    x = draw(arrays(dtype, shape=shape, lo=0, hi=5))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return draw(st.sampled_from(["argmax", "argmin"])), x, axis, draw(st.booleans())


@prop(arg_reduce_case())
def test_arg_reduce(case):
    name, (x, rx), axis, keepdims = case
    y = getattr(mx, name)(x, axis=axis, keepdims=keepdims)
    ref = getattr(np, name)(rx, axis=axis, keepdims=keepdims)  # first of ties, as MLX
    assert dname(y) == "uint32"
    np.testing.assert_array_equal(to_np(y), ref)


def _np_scan(name, x, axis, reverse, inclusive):
    f = {"cumsum": np.cumsum, "cumprod": np.cumprod,
         "cummax": np.maximum.accumulate, "cummin": np.minimum.accumulate}[name]
    if reverse:
        x = np.flip(x, axis)
    r = f(x, axis=axis)
    if not inclusive:
        ident = {"cumsum": 0, "cumprod": 1, "cummax": -np.inf, "cummin": np.inf}[name]
        pad = np.full_like(np.take(r, [0], axis=axis), ident)
        r = np.concatenate([pad, np.delete(r, -1, axis=axis)], axis=axis)
    if reverse:
        r = np.flip(r, axis)
    return r


@st.composite
def scan_case(draw):
    name = draw(st.sampled_from(["cumsum", "cumprod", "cummax", "cummin"]))
    dtype = draw(st.sampled_from(["float32", "float16", "int32"]))
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    lo, hi = (-2, 2) if name == "cumprod" else (-10, 10)
    x = draw(arrays(dtype, shape=shape, lo=lo, hi=hi))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    inclusive = draw(st.booleans()) if name in ("cumsum", "cumprod") else True
    return name, dtype, x, axis, draw(st.booleans()), inclusive


@prop(scan_case())
def test_scan(case):
    name, dtype, (x, rx), axis, reverse, inclusive = case
    y = getattr(mx, name)(x, axis=axis, reverse=reverse, inclusive=inclusive)
    ref = _np_scan(name, rx.astype(np.float64), axis, reverse, inclusive)
    out = dname(y)
    if out in INTS:
        np.testing.assert_array_equal(to_np(y), ref.astype(np.int64))
    else:
        scale = float(np.abs(rx).astype(np.float64).sum()) if name == "cumsum" else None
        assert_close(y, ref, out, scale=scale, rtol_factor=4.0)


# --------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------
ANY = ["float32", "int8", "bool_", "bfloat16", "uint32", "float16"]


@st.composite
def reshape_case(draw):
    x, rx = draw(arrays(draw(st.sampled_from(ANY)), shape=draw(shapes(max_side=4))))
    n = rx.size
    # a random factorisation of n, possibly with one -1
    dims = []
    rest = n
    for _ in range(draw(st.integers(0, 3))):
        divs = [d for d in range(1, rest + 1) if rest % d == 0] if rest else [0, 1]
        d = draw(st.sampled_from(divs))
        dims.append(d)
        rest = rest // d if d else rest
    dims.append(rest if n else 0)
    dims = draw(st.permutations(dims))
    if n and draw(st.booleans()):
        dims = list(dims)
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return x, rx, tuple(dims)


@prop(reshape_case())
def test_reshape(case):
    x, rx, shape = case
    assume(not (rx.size == 0 and -1 in shape))
    np.testing.assert_array_equal(to_np(mx.reshape(x, shape)), rx.reshape(shape))


@prop(st.data())
def test_transpose_swap_move(data):
    x, rx = data.draw(arrays(data.draw(st.sampled_from(ANY)), shape=data.draw(shapes(min_dims=1))))
    nd = rx.ndim
    perm = data.draw(st.permutations(range(nd)))
    np.testing.assert_array_equal(to_np(mx.transpose(x, perm)), np.transpose(rx, perm))
    a, b = data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1))
    np.testing.assert_array_equal(to_np(mx.swapaxes(x, a, b)), np.swapaxes(rx, a, b))
    np.testing.assert_array_equal(to_np(mx.moveaxis(x, a, b)), np.moveaxis(rx, a, b))
    # an op on the permuted view reads it in logical order
    y = mx.transpose(x, perm)
    np.testing.assert_array_equal(to_np(mx.reshape(y, (-1,))), np.transpose(rx, perm).reshape(-1))


@prop(st.data())
def test_squeeze_expand(data):
    x, rx = data.draw(arrays(data.draw(st.sampled_from(ANY)),
                             shape=data.draw(shapes(max_dims=3, min_side=1, max_side=3))))
    nd = rx.ndim
    k = data.draw(st.integers(1, 3))
    new = sorted(data.draw(st.lists(st.integers(0, nd + k - 1), min_size=k, max_size=k,
                                    unique=True)))
    y = mx.expand_dims(x, tuple(new))
    ry = np.expand_dims(rx, tuple(new))
    np.testing.assert_array_equal(to_np(y), ry)
    ones = [i for i, d in enumerate(ry.shape) if d == 1]
    sub = tuple(data.draw(st.lists(st.sampled_from(ones), unique=True))) if ones else ()
    np.testing.assert_array_equal(to_np(mx.squeeze(y, sub) if sub else mx.squeeze(y)),
                                  np.squeeze(ry, sub) if sub else np.squeeze(ry))


@prop(st.data())
def test_concatenate_stack_split(data):
    dtype = data.draw(st.sampled_from(ANY))
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=4))
    nd = len(shape)
    axis = data.draw(st.integers(-nd, nd - 1))
    k = data.draw(st.integers(1, 3))
    parts, refs = [], []
    for _ in range(k):
        s = list(shape)
        s[axis] = data.draw(st.integers(0, 3))
        a, r = data.draw(arrays(dtype, shape=tuple(s)))
        parts.append(a)
        refs.append(r)
    y = mx.concatenate(parts, axis=axis)
    ry = np.concatenate(refs, axis=axis)
    np.testing.assert_array_equal(to_np(y), ry)
    same = [data.draw(arrays(dtype, shape=shape)) for _ in range(k)]
    sax = data.draw(st.integers(-nd - 1, nd))
    np.testing.assert_array_equal(to_np(mx.stack([a for a, _ in same], axis=sax)),
                                  np.stack([r for _, r in same], axis=sax))
    n = ry.shape[axis]
    idx = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
    got = mx.split(y, idx, axis=axis)
    exp = np.split(ry, idx, axis=axis)
    assert len(got) == len(exp)
    for g, e in zip(got, exp):
        np.testing.assert_array_equal(to_np(g), e)


@prop(st.data())
def test_broadcast_tile_repeat_pad(data):
    dtype = data.draw(st.sampled_from(ANY))
    x, rx = data.draw(arrays(dtype, shape=data.draw(shapes(max_dims=3, max_side=3))))
    target = data.draw(hnp.broadcastable_shapes(rx.shape, max_dims=4, max_side=3))
    target = np.broadcast_shapes(rx.shape, target)
    np.testing.assert_array_equal(to_np(mx.broadcast_to(x, target)), np.broadcast_to(rx, target))
    reps = tuple(data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=4)))
    np.testing.assert_array_equal(to_np(mx.tile(x, reps)), np.tile(rx, reps))
    if rx.ndim:
        ax = data.draw(st.integers(-rx.ndim, rx.ndim - 1))
        r = data.draw(st.integers(0, 3))
        np.testing.assert_array_equal(to_np(mx.repeat(x, r, axis=ax)), np.repeat(rx, r, axis=ax))
        widths = [tuple(data.draw(st.lists(st.integers(0, 2), min_size=2, max_size=2)))
                  for _ in range(rx.ndim)]
        np.testing.assert_array_equal(to_np(mx.pad(x, widths)),
                                      np.pad(rx, widths).astype(rx.dtype))
    np.testing.assert_array_equal(to_np(mx.flatten(x)), rx.reshape(-1))


# --------------------------------------------------------------------------
# indexing
# --------------------------------------------------------------------------
@st.composite
def basic_index(draw, shape):
    """A tuple of ints, slices, None and at most one Ellipsis within bounds: `a` leading
    items index the first axes; after an Ellipsis, `t` trailing items the last axes."""
    nd = len(shape)

    def item(n):
        if n > 0 and draw(st.booleans()):
            return draw(st.integers(-n, n - 1))
        return slice(draw(st.none() | st.integers(-n - 2, n + 2)),
                     draw(st.none() | st.integers(-n - 2, n + 2)),
                     draw(st.none() | st.sampled_from([1, 2, 3, -1, -2])))

    a = draw(st.integers(0, nd))
    ellipsis = draw(st.booleans())
    t = draw(st.integers(0, nd - a)) if ellipsis else 0
    lead = [item(shape[i]) for i in range(a)]
    trail = [item(shape[nd - t + j]) for j in range(t)]
    for part in (lead, trail):
        for _ in range(draw(st.integers(0, 1))):
            part.insert(draw(st.integers(0, len(part))), None)
    return tuple(lead + ([Ellipsis] if ellipsis else []) + trail)


@prop(st.data())
def test_basic_indexing(data):
    x, rx = data.draw(arrays(data.draw(st.sampled_from(ANY)), shape=data.draw(shapes(max_side=5))))
    idx = data.draw(basic_index(rx.shape))
    np.testing.assert_array_equal(to_np(x[idx]), rx[idx])


@prop(st.data())
def test_integer_array_indexing(data):
    x, rx = data.draw(arrays(data.draw(st.sampled_from(ANY)),
                             shape=data.draw(shapes(min_dims=1, max_dims=3, min_side=1))))
    nd = rx.ndim
    axis = data.draw(st.integers(0, nd - 1))
    n = rx.shape[axis]
    ishape = data.draw(shapes(max_dims=2, max_side=3))
    ind = data.draw(hnp.arrays(np.int32, ishape, elements=st.integers(-n, n - 1)))
    # x[:, ..., ind] on one axis
    key = (slice(None),) * axis + (mx.array(ind),)
    np.testing.assert_array_equal(to_np(x[key]), rx[(slice(None),) * axis + (ind,)])
    np.testing.assert_array_equal(to_np(mx.take(x, mx.array(ind), axis=axis)),
                                  np.take(rx, ind, axis=axis))
    # take_along_axis with broadcastable indices
    ashape = list(rx.shape)
    ashape[axis] = data.draw(st.integers(0, 3))
    along = data.draw(hnp.arrays(np.int32, tuple(ashape), elements=st.integers(0, n - 1)))
    np.testing.assert_array_equal(to_np(mx.take_along_axis(x, mx.array(along), axis=axis)),
                                  np.take_along_axis(rx, along, axis=axis))


@prop(st.data())
def test_where(data):
    sc, sx, sy = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3,
                                                             max_side=4)).input_shapes
    dtype = data.draw(st.sampled_from(ANY))
    c, rc = data.draw(arrays("bool_", shape=sc))
    x, rx = data.draw(arrays(dtype, shape=sx))
    y, ry = data.draw(arrays(dtype, shape=sy))
    np.testing.assert_array_equal(to_np(mx.where(c, x, y)), np.where(rc, rx, ry))


@prop(st.data())
def test_sort_argsort(data):
    dtype = data.draw(st.sampled_from(["float32", "int32", "float16", "uint8"]))
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=6))
    x, rx = data.draw(arrays(dtype, shape=shape, lo=0, hi=100))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    np.testing.assert_array_equal(to_np(mx.sort(x, axis=axis)), np.sort(rx, axis=axis))
    idx = to_np(mx.argsort(x, axis=axis))
    # any stable or unstable order is fine as long as it sorts
    np.testing.assert_array_equal(np.take_along_axis(rx, idx.astype(np.int64), axis=axis),
                                  np.sort(rx, axis=axis))


@prop(st.data())
def test_matmul(data):
    dtype = data.draw(st.sampled_from(["float32", "float16", "bfloat16"]))
    m, k, n = (data.draw(st.integers(1, 6)) for _ in range(3))
    ba, bb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2,
                                                         max_side=3)).input_shapes
    a, ra = data.draw(arrays(dtype, shape=ba + (m, k), lo=-2, hi=2))
    b, rb = data.draw(arrays(dtype, shape=bb + (k, n), lo=-2, hi=2))
    y = mx.matmul(a, b)
    ref = np.matmul(ra.astype(np.float64), rb.astype(np.float64))
    assert_close(y, ref, dtype, scale=4.0 * k, rtol_factor=2.0)
