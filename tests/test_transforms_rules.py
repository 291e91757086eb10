"""Per-primitive transformation rules: vjp and jvp against central finite differences
(float64), and vmap against a Python loop over the batch.

Every case is a function of float64 arrays only; integer index arrays, conditions and
other non-differentiable operands are closed over.
"""
import numpy as np
import pytest

import ember.core as mx

EPS = 1e-6
TOL = 1e-5
F64 = mx.float64


def A(x, dtype=F64):
    return mx.array(np.asarray(x), dtype=dtype)


def N(x):
    return np.array(x)


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


# ---------------------------------------------------------------- case table


class Case:
    def __init__(self, name, fn, shapes, gen="normal", vmap=True, jvp=True):
        self.jvp = jvp  # MLX itself has no jvp for cummax/cummin
        self.name = name
        self.fn = fn
        self.shapes = shapes
        self.gen = gen
        self.vmap = vmap

    def inputs(self, rng, batch=None):
        """Numpy float64 inputs; `batch` is a list of (size, axis or None) per input."""
        out = []
        for k, s in enumerate(self.shapes):
            s = tuple(s)
            if batch is not None and batch[k] is not None:
                b, ax = batch[k]
                s = s[:ax] + (b,) + s[ax:]
            g = self.gen[k] if isinstance(self.gen, (list, tuple)) else self.gen
            out.append(np.array(GEN[g](rng, s), dtype=np.float64))
        return out

    def __repr__(self):
        return self.name


def _distinct(rng, s):
    # well separated values: no ties for max/min/sort, far from kinks
    n = int(np.prod(s)) if s else 1
    v = rng.permutation(n).astype(np.float64) * 0.37 + rng.uniform(-0.05, 0.05, n) - 0.2 * n
    return v.reshape(s)


GEN = {
    "normal": lambda r, s: r.normal(size=s),
    "pos": lambda r, s: r.uniform(0.5, 2.0, size=s),
    "unit": lambda r, s: r.uniform(-0.8, 0.8, size=s),
    "gt1": lambda r, s: r.uniform(1.3, 3.0, size=s),
    "nonint": lambda r, s: np.floor(r.uniform(-4, 4, size=s)) + r.uniform(0.1, 0.4, size=s),
    "away0": lambda r, s: r.choice([-1.0, 1.0], size=s) * r.uniform(0.3, 2.0, size=s),
    "distinct": _distinct,
    "near1": lambda r, s: r.uniform(0.6, 1.4, size=s) * r.choice([-1.0, 1.0], size=s),
}

UNARY = [
    ("abs", mx.abs, "away0"), ("negative", mx.negative, "normal"),
    ("sign", mx.sign, "away0"), ("square", mx.square, "normal"), ("sqrt", mx.sqrt, "pos"),
    ("rsqrt", mx.rsqrt, "pos"), ("reciprocal", mx.reciprocal, "pos"), ("exp", mx.exp, "normal"),
    ("expm1", mx.expm1, "normal"), ("log", mx.log, "pos"), ("log1p", mx.log1p, "pos"),
    ("log2", mx.log2, "pos"), ("log10", mx.log10, "pos"), ("sin", mx.sin, "normal"),
    ("cos", mx.cos, "normal"), ("tan", mx.tan, "unit"), ("arcsin", mx.arcsin, "unit"),
    ("arccos", mx.arccos, "unit"), ("arctan", mx.arctan, "normal"), ("sinh", mx.sinh, "normal"),
    ("cosh", mx.cosh, "normal"), ("tanh", mx.tanh, "normal"), ("arcsinh", mx.arcsinh, "normal"),
    ("arccosh", mx.arccosh, "gt1"), ("arctanh", mx.arctanh, "unit"),
    ("sigmoid", mx.sigmoid, "normal"), ("erf", mx.erf, "normal"), ("erfinv", mx.erfinv, "unit"),
    ("floor", mx.floor, "nonint"), ("ceil", mx.ceil, "nonint"), ("round", mx.round, "nonint"),
    ("method_square", lambda x: x ** 2, "normal"), ("rpow", lambda x: 2.0 ** x, "normal"),
    ("scalar_ops", lambda x: (3.0 - x) / 2.0 * x + 1.0, "normal"),
    ("rdiv", lambda x: 1.5 / x, "pos"),
]

CASES = []
for name, f, g in UNARY:
    CASES.append(Case(f"{name}", f, [(2, 3)], g))
for name, f, g in UNARY[:6]:
    CASES.append(Case(f"{name}-scalar", f, [()], g))

BINARY = [
    ("add", mx.add, ("normal", "normal")), ("subtract", mx.subtract, ("normal", "normal")),
    ("multiply", mx.multiply, ("normal", "normal")), ("divide", mx.divide, ("normal", "pos")),
    ("power", mx.power, ("pos", "normal")), ("maximum", mx.maximum, ("distinct", "normal")),
    ("minimum", mx.minimum, ("distinct", "normal")), ("arctan2", mx.arctan2, ("normal", "away0")),
    ("logaddexp", mx.logaddexp, ("normal", "normal")),
]
for name, f, g in BINARY:
    CASES.append(Case(f"{name}-same", f, [(2, 3), (2, 3)], g))
    CASES.append(Case(f"{name}-bcast", f, [(2, 3), (3,)], g))
    CASES.append(Case(f"{name}-bcast2", f, [(2, 1), (1, 4)], g))

_COND = np.array([[True, False, True], [False, False, True]])
CASES += [
    Case("where", lambda x, y: mx.where(mx.array(_COND), x, y), [(2, 3), (2, 3)]),
    Case("where-bcast", lambda x, y: mx.where(mx.array(_COND), x, y), [(3,), (2, 1)]),
    Case("where-cond-from-x", lambda x: mx.where(x > 0, x * 2, -x), [(2, 3)], "away0"),
    Case("max-vs-scalar", lambda x: mx.maximum(x, 0.1), [(2, 3)], "away0"),
]

RED = [
    ("sum", mx.sum, "normal"), ("prod", mx.prod, "away0"), ("max", mx.max, "distinct"),
    ("min", mx.min, "distinct"), ("mean", mx.mean, "normal"), ("var", mx.var, "normal"),
    ("std", mx.std, "normal"), ("logsumexp", mx.logsumexp, "normal"),
]
for name, f, g in RED:
    CASES.append(Case(f"{name}-all", lambda x, f=f: f(x), [(2, 3)], g))
    CASES.append(Case(f"{name}-ax0", lambda x, f=f: f(x, axis=0), [(3, 4)], g))
    CASES.append(Case(f"{name}-ax-1-keep", lambda x, f=f: f(x, axis=-1, keepdims=True),
                      [(2, 3, 2)], g))
    CASES.append(Case(f"{name}-ax02", lambda x, f=f: f(x, axis=(0, 2)), [(2, 3, 2)], g))
CASES += [
    Case("var-ddof1", lambda x: mx.var(x, axis=1, ddof=1), [(2, 4)]),
    Case("std-ddof1", lambda x: mx.std(x, ddof=1), [(5,)]),
    Case("prod-with-1d", lambda x: mx.prod(x, axis=0), [(4,)], "away0"),
    Case("softmax-last", lambda x: mx.softmax(x, axis=-1), [(2, 4)]),
    Case("softmax-ax0", lambda x: mx.softmax(x, axis=0), [(3, 2)]),
    Case("softmax-all", lambda x: mx.softmax(x), [(2, 3)]),
    Case("softmax-precise", lambda x: mx.softmax(x, axis=1, precise=True), [(2, 3)]),
    Case("cumsum", lambda x: mx.cumsum(x, axis=1), [(2, 4)]),
    Case("cumsum-ax0", lambda x: mx.cumsum(x, axis=0), [(3, 2)]),
    Case("cumsum-flat", lambda x: mx.cumsum(x), [(2, 3)]),
    Case("cumsum-rev", lambda x: mx.cumsum(x, axis=1, reverse=True), [(2, 4)]),
    Case("cumsum-excl", lambda x: mx.cumsum(x, axis=1, inclusive=False), [(2, 4)]),
    Case("cumsum-rev-excl", lambda x: mx.cumsum(x, axis=0, reverse=True, inclusive=False),
         [(4, 2)]),
    Case("cumprod", lambda x: mx.cumprod(x, axis=1), [(2, 4)], "away0"),
    Case("cumprod-rev", lambda x: mx.cumprod(x, axis=0, reverse=True), [(4, 2)], "away0"),
    Case("cumprod-excl", lambda x: mx.cumprod(x, axis=1, inclusive=False), [(2, 4)], "away0"),
]

_IDX = np.array([2, 0, 2, 1])
_IDX2 = np.array([[1, 0], [2, 2]])
_TAL = np.array([[2, 0, 1], [1, 1, 0]])
CASES += [
    Case("reshape", lambda x: mx.reshape(x, (3, 2)), [(2, 3)]),
    Case("reshape-flat", lambda x: x.reshape(-1), [(2, 3, 2)]),
    Case("transpose", lambda x: mx.transpose(x), [(2, 3)]),
    Case("transpose-axes", lambda x: mx.transpose(x, (1, 2, 0)), [(2, 3, 4)]),
    Case("swapaxes", lambda x: mx.swapaxes(x, 0, 2), [(2, 3, 2)]),
    Case("moveaxis", lambda x: mx.moveaxis(x, 0, -1), [(2, 3, 2)]),
    Case("broadcast_to", lambda x: mx.broadcast_to(x, (2, 3)), [(3,)]),
    Case("broadcast_to-mid", lambda x: mx.broadcast_to(x, (2, 3, 4)), [(3, 1)]),
    Case("slice-basic", lambda x: x[1:, ::2], [(3, 5)]),
    Case("slice-neg-step", lambda x: x[::-1, 1], [(4, 3)]),
    Case("slice-neg-step-explicit", lambda x: x[3:0:-1], [(4, 3)]),
    Case("slice-neg-step2", lambda x: x[:, ::-2], [(2, 5)]),
    Case("slice-newaxis-int", lambda x: x[None, 1, :2], [(3, 4)]),
    Case("slice-ellipsis", lambda x: x[..., 1:3], [(2, 2, 4)]),
    Case("concatenate", lambda x, y: mx.concatenate([x, y], axis=0), [(2, 3), (1, 3)]),
    Case("concatenate-ax1", lambda x, y: mx.concatenate([x, y, x], axis=1), [(2, 3), (2, 1)]),
    Case("stack", lambda x, y: mx.stack([x, y]), [(2, 3), (2, 3)]),
    Case("stack-ax-1", lambda x, y: mx.stack([x, y], axis=-1), [(2, 3), (2, 3)]),
    Case("split", lambda x: mx.split(x, 3, axis=1), [(2, 6)]),
    Case("split-idx", lambda x: mx.split(x, [1, 3], axis=0), [(4, 2)]),
    Case("squeeze", lambda x: mx.squeeze(x), [(2, 1, 3)]),
    Case("squeeze-ax", lambda x: mx.squeeze(x, axis=0), [(1, 3)]),
    Case("expand_dims", lambda x: mx.expand_dims(x, 1), [(2, 3)]),
    Case("expand_dims-multi", lambda x: mx.expand_dims(x, (0, 2)), [(2, 3)]),
    Case("take", lambda x: mx.take(x, mx.array(_IDX), axis=1), [(2, 3)]),
    Case("take-flat", lambda x: mx.take(x, mx.array(_IDX2)), [(2, 3)]),
    Case("take-ax0-2d-idx", lambda x: mx.take(x, mx.array(_IDX2), axis=0), [(3, 2)]),
    Case("take_along_axis", lambda x: mx.take_along_axis(x, mx.array(_TAL), axis=1), [(2, 3)]),
    Case("take_along_axis-ax0", lambda x: mx.take_along_axis(x, mx.array(_TAL.T), axis=0),
         [(3, 2)]),
    Case("sort", lambda x: mx.sort(x, axis=-1), [(2, 4)], "distinct"),
    Case("sort-ax0", lambda x: mx.sort(x, axis=0), [(4, 2)], "distinct"),
    Case("sort-flat", lambda x: mx.sort(x, axis=None), [(2, 3)], "distinct"),
    Case("index-int-array", lambda x: x[mx.array(_IDX)], [(3, 2)]),
    Case("index-two-arrays", lambda x: x[mx.array(_IDX), mx.array([0, 1, 1, 0])], [(3, 2)]),
    Case("index-slice-array", lambda x: x[:, mx.array(_IDX2)], [(2, 3)]),
    Case("index-repeated", lambda x: x[mx.array([1, 1, 1])], [(3,)]),
    Case("index-int-scalar", lambda x: x[1], [(3, 2)]),
    Case("index-neg", lambda x: x[-1, mx.array([0, -1])], [(3, 2)]),
    Case("matmul", mx.matmul, [(2, 3), (3, 4)]),
    Case("matmul-op", lambda a, b: a @ b, [(3, 3), (3, 2)]),
    Case("matmul-batched", mx.matmul, [(2, 2, 3), (2, 3, 2)]),
    Case("matmul-bcast", mx.matmul, [(2, 2, 3), (3, 2)]),
    Case("matmul-vec", mx.matmul, [(3,), (3, 2)]),
    Case("matmul-matvec", mx.matmul, [(2, 3), (3,)]),
    Case("matmul-dot", mx.matmul, [(3,), (3,)]),
    Case("addmm", mx.addmm, [(2, 4), (2, 3), (3, 4)]),
    Case("addmm-ab", lambda c, a, b: mx.addmm(c, a, b, alpha=0.5, beta=2.0),
         [(4,), (2, 3), (3, 4)]),
    Case("chain-mlp", lambda x, w: mx.sum(mx.tanh(x @ w) ** 2, axis=-1), [(2, 3), (3, 4)]),
    Case("multi-output", lambda x, y: [x * y, mx.sin(x) + y], [(2, 3), (2, 3)]),
    Case("flatten", lambda x: mx.flatten(x), [(2, 2, 3)]),
    Case("tile", lambda x: mx.tile(x, (2, 1)), [(2, 3)]),
    Case("repeat", lambda x: mx.repeat(x, 2, axis=0), [(2, 3)]),
    Case("pad", lambda x: mx.pad(x, 1), [(2, 3)]),
    Case("clip", lambda x: mx.clip(x, -0.5, 0.5), [(2, 3)], "distinct"),
    Case("remainder", mx.remainder, [(2, 3), (2, 3)], ("nonint", "gt1")),
    Case("outer", mx.outer, [(3,), (2,)]),
    Case("inner", mx.inner, [(2, 3), (4, 3)]),
    Case("tensordot", lambda a, b: mx.tensordot(a, b, axes=2),
         [(2, 3, 2), (3, 2, 2)]),
    Case("put_along_axis", lambda x, v: mx.put_along_axis(x, mx.array([[2], [0]]), v, axis=1),
         [(2, 3), (2, 1)]),
    Case("slice_update", lambda x, u: mx.slice_update(x, u, (1, 0), (0, 1)), [(3, 3), (2, 2)]),
    Case("as_strided", lambda x: mx.as_strided(x, (2, 2), (1, 2), 1), [(6,)], vmap=False),
    Case("cummax", lambda x: mx.cummax(x, axis=1), [(2, 4)], "distinct", jvp=False),
    Case("cummin", lambda x: mx.cummin(x, axis=0), [(4, 2)], "distinct", jvp=False),
]

CASE_IDS = [c.name for c in CASES]


# ---------------------------------------------------------------- helpers


def call(case, xs):
    return as_list(case.fn(*xs))


def fd_jacobian(case, xs_np):
    """Dense Jacobian (sum of outputs, sum of inputs) by central differences."""
    base = [N(o) for o in call(case, [A(x) for x in xs_np])]
    n_out = sum(o.size for o in base)
    cols = []
    for k, x in enumerate(xs_np):
        for j in range(x.size):
            plus = [v.copy() for v in xs_np]
            minus = [v.copy() for v in xs_np]
            plus[k].reshape(-1)[j] += EPS
            minus[k].reshape(-1)[j] -= EPS
            op = call(case, [A(v) for v in plus])
            om = call(case, [A(v) for v in minus])
            d = [(N(a) - N(b)).reshape(-1) / (2 * EPS) for a, b in zip(op, om)]
            cols.append(np.concatenate(d) if d else np.zeros(0))
    J = np.stack(cols, axis=1) if cols else np.zeros((n_out, 0))
    return base, J


def flat(arrs):
    return np.concatenate([N(a).reshape(-1) for a in arrs])


def split_like(v, shapes):
    out, i = [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append(v[i:i + n].reshape(s))
        i += n
    return out


# ---------------------------------------------------------------- vjp / jvp


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_vjp_jvp_finite_differences(case, rng):
    xs = case.inputs(rng)
    base, J = fd_jacobian(case, xs)
    primals = [A(x) for x in xs]

    # jvp: outputs equal the plain call, tangents equal J @ t
    if case.jvp:
        ts = [rng.normal(size=x.shape) for x in xs]
        outs, jvps = mx.jvp(case.fn, primals, [A(t) for t in ts])
        assert len(outs) == len(base) and len(jvps) == len(base)
        for o, b in zip(outs, base):
            assert o.dtype == F64
            np.testing.assert_allclose(N(o), b, rtol=1e-12, atol=1e-12)
        for jv, o in zip(jvps, base):
            assert tuple(jv.shape) == o.shape, "jvp result must have the output's shape"
            assert jv.dtype == F64
        tv = np.concatenate([t.reshape(-1) for t in ts])
        np.testing.assert_allclose(flat(jvps), J @ tv, rtol=TOL, atol=TOL)

    # vjp: cotangents give J^T c, one result per primal with the primal's shape
    cs = [rng.normal(size=b.shape) for b in base]
    outs, vjps = mx.vjp(case.fn, primals, [A(c) for c in cs])
    assert len(vjps) == len(xs)
    for o, b in zip(outs, base):
        np.testing.assert_allclose(N(o), b, rtol=1e-12, atol=1e-12)
    for g, x in zip(vjps, xs):
        assert tuple(g.shape) == x.shape
        assert g.dtype == F64
    cv = np.concatenate([c.reshape(-1) for c in cs])
    expected = split_like(J.T @ cv, [x.shape for x in xs])
    for g, e in zip(vjps, expected):
        np.testing.assert_allclose(N(g), e, rtol=TOL, atol=TOL)


# ---------------------------------------------------------------- vmap


def loop_reference(case, xs, axes, out_axis=0):
    b = next(x.shape[a] for x, a in zip(xs, axes) if a is not None)
    results = []
    for i in range(b):
        args = [A(x) if a is None else A(np.take(x, i, axis=a)) for x, a in zip(xs, axes)]
        results.append([N(o) for o in call(case, args)])
    return [np.stack([r[k] for r in results], axis=out_axis) for k in range(len(results[0]))]


def axis_patterns(case):
    n = len(case.shapes)
    pats = [("ax0", [0] * n)]
    # batch at the last position of every input
    pats.append(("axlast", [len(s) for s in case.shapes]))
    if n >= 2:
        pats.append(("first-only", [0] + [None] * (n - 1)))
        pats.append(("last-only", [None] * (n - 1) + [len(case.shapes[-1])]))
    return pats


VMAP_PARAMS = [
    pytest.param(c, axes, id=f"{c.name}-{pid}")
    for c in CASES if c.vmap for pid, axes in axis_patterns(c)
]


@pytest.mark.parametrize("case,axes", VMAP_PARAMS)
def test_vmap_matches_loop(case, axes, rng):
    B = 3
    xs = case.inputs(rng, batch=[None if a is None else (B, a) for a in axes])
    expected = loop_reference(case, xs, axes)
    in_axes = tuple(axes)
    got = as_list(mx.vmap(case.fn, in_axes=in_axes)(*[A(x) for x in xs]))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert tuple(g.shape) == e.shape
        np.testing.assert_allclose(N(g), e, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", [c for c in CASES if c.name in {
    "sin", "add-bcast", "sum-ax0", "matmul", "softmax-last", "take", "sort", "concatenate",
    "multi-output", "cumsum", "index-int-array", "transpose-axes", "split"}], ids=repr)
def test_vmap_out_axes_last(case, rng):
    B = 3
    axes = [0] * len(case.shapes)
    xs = case.inputs(rng, batch=[(B, 0)] * len(case.shapes))
    ref = loop_reference(case, xs, axes)
    out_axes = [e.ndim - 1 for e in ref]
    expected = [np.moveaxis(e, 0, -1) for e in ref]
    multi = isinstance(case.fn(*[A(x[0]) for x in xs]), (list, tuple))
    oa = out_axes if multi else out_axes[0]
    got = as_list(mx.vmap(case.fn, in_axes=0, out_axes=oa)(*[A(x) for x in xs]))
    for g, e in zip(got, expected):
        assert tuple(g.shape) == e.shape
        np.testing.assert_allclose(N(g), e, rtol=1e-10, atol=1e-10)


# vmap with batched integer operands (indices / conditions), which the FD cases close over

def test_vmap_gather_batched_indices(rng):
    x = rng.normal(size=(3, 5))
    idx = np.array([[0, 4], [2, 2], [1, 3]])
    got = mx.vmap(lambda a, i: a[i])(A(x), mx.array(idx))
    np.testing.assert_allclose(N(got), np.stack([x[b][idx[b]] for b in range(3)]))
    # indices batched, source not
    got = mx.vmap(lambda a, i: a[i], in_axes=(None, 0))(A(x[0]), mx.array(idx))
    np.testing.assert_allclose(N(got), np.stack([x[0][idx[b]] for b in range(3)]))
    # source batched on axis 1, indices not
    got = mx.vmap(lambda a, i: mx.take(a, i), in_axes=(1, None))(A(x.T), mx.array(idx[0]))
    np.testing.assert_allclose(N(got), np.stack([x[b][idx[0]] for b in range(3)]))


def test_vmap_take_along_axis_batched_indices(rng):
    x = rng.normal(size=(4, 2, 3))
    idx = rng.integers(0, 3, size=(4, 2, 3))
    got = mx.vmap(lambda a, i: mx.take_along_axis(a, i, axis=1))(A(x), mx.array(idx))
    exp = np.stack([np.take_along_axis(x[b], idx[b], axis=1) for b in range(4)])
    np.testing.assert_allclose(N(got), exp)
    idx = rng.integers(0, 2, size=(4, 2, 3))
    got = mx.vmap(lambda a, i: mx.take_along_axis(a, i, axis=0), in_axes=(2, 0))(
        A(np.moveaxis(x, 0, 2)), mx.array(idx))
    exp = np.stack([np.take_along_axis(x[b], idx[b], axis=0) for b in range(4)])
    np.testing.assert_allclose(N(got), exp)


def test_vmap_where_batched_condition(rng):
    c = rng.normal(size=(3, 4)) > 0
    x, y = rng.normal(size=(4,)), rng.normal(size=(3, 4))
    got = mx.vmap(mx.where, in_axes=(0, None, 0))(mx.array(c), A(x), A(y))
    np.testing.assert_allclose(N(got), np.where(c, x[None], y))


def test_vmap_astype_and_integer_ops(rng):
    x = rng.normal(size=(3, 4))
    got = mx.vmap(lambda a: a.astype(mx.float32), in_axes=1)(A(x))
    assert got.dtype == mx.float32 and tuple(got.shape) == (4, 3)
    np.testing.assert_allclose(N(got), x.T.astype(np.float32))
    i = rng.integers(-5, 5, size=(3, 4))
    got = mx.vmap(lambda a: mx.argmax(a))(mx.array(i))
    np.testing.assert_array_equal(N(got), np.argmax(i, axis=1))
    got = mx.vmap(lambda a: mx.argsort(a), in_axes=1)(A(x))
    np.testing.assert_array_equal(N(got), np.argsort(x.T, axis=1))


# ---------------------------------------------------------------- astype


def test_astype_vjp_jvp(rng):
    x = rng.normal(size=(2, 3))
    f = lambda a: a.astype(mx.float32) * 3.0
    outs, g = mx.vjp(f, [A(x)], [mx.ones((2, 3), dtype=mx.float32)])
    assert outs[0].dtype == mx.float32
    assert g[0].dtype == F64
    np.testing.assert_allclose(N(g[0]), np.full((2, 3), 3.0))
    outs, t = mx.jvp(f, [A(x)], [A(np.ones((2, 3)))])
    assert t[0].dtype == mx.float32
    np.testing.assert_allclose(N(t[0]), np.full((2, 3), 3.0))
    # float32 -> float64 -> float32 round trip under grad
    g = mx.grad(lambda a: mx.sum(mx.astype(a, F64) ** 2))(mx.array(x, dtype=mx.float32))
    assert g.dtype == mx.float32
    np.testing.assert_allclose(N(g), 2 * x.astype(np.float32), rtol=1e-6)


def test_astype_to_int_passes_cotangent_like_mlx():
    # MLX's AsType vjp casts the cotangent back (through int32 here): grad = [2, 4]
    g = mx.grad(lambda a: mx.sum(a.astype(mx.int32).astype(F64) * a))(A([1.5, 2.5]))
    np.testing.assert_allclose(N(g), [2.0, 4.0])


def test_float32_grad_matches_analytic(rng):
    x = rng.normal(size=(5,)).astype(np.float32)
    g = mx.grad(lambda a: mx.sum(mx.sin(a) * mx.exp(a)))(mx.array(x))
    assert g.dtype == mx.float32
    np.testing.assert_allclose(N(g), np.exp(x) * (np.sin(x) + np.cos(x)), rtol=1e-5)


# ---------------------------------------------------------------- second order per op


def _vjp_fn(case, cs):
    def g(*xs):
        return mx.vjp(case.fn, list(xs), cs)[1]
    return g


@pytest.mark.parametrize("case", [c for c in CASES if c.jvp], ids=repr)
def test_jvp_of_vjp_finite_differences(case, rng):
    """The vjp rules are themselves differentiable: d/dt vjp(x + t v) vs central differences."""
    xs = case.inputs(rng)
    base = call(case, [A(x) for x in xs])
    cs = [A(rng.normal(size=tuple(b.shape))) for b in base]
    vs = [rng.normal(size=x.shape) for x in xs]
    g = _vjp_fn(case, cs)
    _, tang = mx.jvp(g, [A(x) for x in xs], [A(v) for v in vs])
    plus = g(*[A(x + EPS * v) for x, v in zip(xs, vs)])
    minus = g(*[A(x - EPS * v) for x, v in zip(xs, vs)])
    for t, p, m in zip(tang, plus, minus):
        np.testing.assert_allclose(N(t), (N(p) - N(m)) / (2 * EPS), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("case", [c for c in CASES if c.vmap], ids=repr)
def test_vmap_of_vjp_matches_loop(case, rng):
    """Per-example vjps: vmap over primals and cotangents (batch axis 0)."""
    B = 2
    xs = case.inputs(rng, batch=[(B, 0)] * len(case.shapes))
    outs0 = call(case, [A(x[0]) for x in xs])
    cs = [rng.normal(size=(B,) + tuple(o.shape)) for o in outs0]
    n = len(xs)

    def f(*args):
        return mx.vjp(case.fn, list(args[:n]), list(args[n:]))[1]

    got = mx.vmap(f)(*[A(x) for x in xs], *[A(c) for c in cs])
    for k in range(n):
        exp = np.stack([N(f(*[A(x[b]) for x in xs], *[A(c[b]) for c in cs])[k]) for b in range(B)])
        np.testing.assert_allclose(N(got[k]), exp, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", [c for c in CASES if c.vmap and c.jvp], ids=repr)
def test_vmap_of_jvp_matches_loop(case, rng):
    """Per-example jvps with the batch on the last axis of primals and tangents."""
    B = 2
    batch = [(B, len(s)) for s in case.shapes]
    xs = case.inputs(rng, batch=batch)
    ts = case.inputs(rng, batch=batch)
    n = len(xs)

    def f(*args):
        return mx.jvp(case.fn, list(args[:n]), list(args[n:]))[1]

    axes = tuple(len(s) for s in case.shapes) * 2
    got = mx.vmap(f, in_axes=axes)(*[A(x) for x in xs], *[A(t) for t in ts])
    for k in range(len(got)):
        exp = np.stack([N(f(*[A(np.take(x, b, axis=-1)) for x in xs + ts])[k]) for b in range(B)])
        np.testing.assert_allclose(N(got[k]), exp, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- complex derivatives
# The JVP of y = f(z) is t * f'(z); the VJP is ct * conj(f'(z)), so that the gradient of a real
# loss L is dL/dx + i dL/dy (MLX's convention). Checked against finite differences of
# L(z) = Re(sum(conj(w) * f(z))), whose gradient is the VJP of w.

_C64 = mx.complex64
_CB = np.array([[0.3 - 0.4j, 1.1 + 0.2j], [-0.7 + 0.5j, 0.2 - 0.9j], [0.4 + 0.1j, -0.3 - 0.6j]])
COMPLEX_CASES = {
    "multiply": lambda z: z * z[::-1],
    "multiply-const": lambda z: z * mx.array(_CB[:, 0], dtype=_C64),
    "divide": lambda z: z / (z[::-1] + 2),
    "power": lambda z: (z + 2) ** (z[::-1] + 1),
    "exp": mx.exp, "log": lambda z: mx.log(z + 2), "sqrt": lambda z: mx.sqrt(z + 1),
    "rsqrt": lambda z: mx.rsqrt(z + 2), "reciprocal": lambda z: mx.reciprocal(z + 2),
    "square": mx.square, "sin": mx.sin, "cos": mx.cos, "tan": mx.tan, "tanh": mx.tanh,
    "sinh": mx.sinh, "cosh": mx.cosh, "log1p": lambda z: mx.log1p(z + 1),
    "log2": lambda z: mx.log2(z + 2), "log10": lambda z: mx.log10(z + 2),
    "arcsin": mx.arcsin, "arccos": mx.arccos, "arctan": mx.arctan, "arcsinh": mx.arcsinh,
    "arccosh": lambda z: mx.arccosh(3 * z), "arctanh": mx.arctanh,
    "abs": mx.abs, "real": mx.real, "imag": mx.imag, "conj": mx.conj,
    "real-times-complex": lambda z: mx.real(z) * mx.array(_CB[:, 1], dtype=_C64),
    "where": lambda z: mx.where(mx.array([True, False, True]), z, 2 * z),
    "matmul-left": lambda z: mx.reshape(z, (1, 3)) @ mx.array(_CB, dtype=_C64),
    "matmul-right": lambda z: mx.array(_CB.T, dtype=_C64) @ z,
    "prod": lambda z: mx.prod(z + 1),
    "cumprod": lambda z: mx.cumprod(z + 1),
    "cumprod-reverse": lambda z: mx.cumprod(z + 1, reverse=True),
    "logcumsumexp": mx.logcumsumexp,
    "logsumexp": lambda z: mx.logsumexp(z, keepdims=True),
}


@pytest.mark.parametrize("name", list(COMPLEX_CASES))
def test_complex_vjp_and_jvp_convention(name):
    f = COMPLEX_CASES[name]
    rng = np.random.default_rng(7)
    z = 0.5 * (rng.standard_normal(3) + 1j * rng.standard_normal(3))
    y = f(mx.array(z, dtype=_C64))
    real_out = y.dtype != _C64
    w = rng.standard_normal(y.shape) + (0 if real_out else 1j * rng.standard_normal(y.shape))
    w_arr = mx.array(w, dtype=mx.float32 if real_out else _C64)

    def loss(v):
        out = np.array(f(mx.array(v, dtype=_C64))).astype(np.complex128)
        return float(np.real(np.sum(np.conj(w) * out)))

    h = 1e-3
    fd = np.zeros(3, np.complex128)
    for i in range(3):
        for unit in (1, 1j):
            e = np.zeros(3, np.complex128)
            e[i] = h * unit
            fd[i] += unit * (loss(z + e) - loss(z - e)) / (2 * h)
    _, (g,) = mx.vjp(f, [mx.array(z, dtype=_C64)], [w_arr])
    np.testing.assert_allclose(N(g), fd, rtol=2e-2, atol=2e-3)

    t = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    _, (jt,) = mx.jvp(f, [mx.array(z, dtype=_C64)], [mx.array(t, dtype=_C64)])
    fwd = (np.array(f(mx.array(z + h * t, dtype=_C64))).astype(np.complex128)
           - np.array(f(mx.array(z - h * t, dtype=_C64))).astype(np.complex128)) / (2 * h)
    np.testing.assert_allclose(N(jt), fwd, rtol=2e-2, atol=2e-3)


def test_complex_grad_of_real_loss():
    # |z^2| = x^2 + y^2: gradient 2x + 2iy
    g = mx.grad(lambda z: mx.sum(mx.abs(z * z)))(mx.array([1 + 2j, -0.5 + 0.25j]))
    np.testing.assert_allclose(N(g), [2 + 4j, -1 + 0.5j], rtol=1e-5)
