"""Regression tests for crashes and wrong derivatives found running MLX programs.

Each test states the program that used to fail; values are checked against eager
evaluation, numpy, finite differences or the real MLX when it is installed.
"""
import itertools

import numpy as np
import pytest

import ember.core as mx

try:
    import mlx.core as mlx
except ImportError:  # the differential checks skip without it
    mlx = None

needs_mlx = pytest.mark.skipif(mlx is None, reason="mlx is not installed")


def fd_grad(f, x, eps=1e-6):
    """Central differences of a scalar numpy function f at x (float64)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


# ---------- compile: outputs that are also inputs of other outputs


def _eager_and_compiled(fun, *args, shapeless=False):
    expect = fun(*args)
    got = mx.compile(fun, shapeless=shapeless)(*args)
    return expect, got


COMPILE_PROGRAMS = {
    # The reported program: an intermediate returned beside a value computed from it.
    "intermediate_and_derived": lambda x: (mx.abs(mx.negative(x)), mx.abs(mx.abs(mx.negative(x)))),
    "output_used_inside": lambda x: (lambda a: (a, mx.exp(a) * 2 + a))(mx.sin(x) + 1),
    "output_used_twice_inside": lambda x: (lambda a: (a * 3, a, a + 1))(mx.cos(x) * x),
    "same_array_twice": lambda x: (lambda a: (a, a))(mx.exp(x) - 1),
    "input_as_is": lambda x: (x, x * 2 + 1),
    "input_only": lambda x: x,
    "input_twice": lambda x: (x, x),
    "constant": lambda x: (mx.array(3.0), x + 1),
    "constant_only": lambda x: mx.array([1.0, 2.0]),
    "middle_and_reduction": lambda x: (lambda a: (a, mx.sum(a * a, axis=-1 if a.ndim else None)))(mx.tanh(x) + 1),
    "chain_of_outputs": lambda x: (lambda a: (lambda b: (a, b, b * a))(mx.abs(a) + 2))(-x * 3),
    "list_and_dict": lambda x: [mx.abs(x), {"y": mx.abs(mx.abs(x)) + 1}],
}


def _flat(tree):
    if isinstance(tree, (list, tuple)):
        return [v for t in tree for v in _flat(t)]
    if isinstance(tree, dict):
        return [v for k in sorted(tree) for v in _flat(tree[k])]
    return [tree]


@pytest.mark.parametrize("name", sorted(COMPILE_PROGRAMS))
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 70000)])
def test_compile_outputs_aliasing(name, shape):
    fun = COMPILE_PROGRAMS[name]
    x = mx.array(np.random.default_rng(0).normal(size=shape).astype(np.float32))
    for _ in range(2):  # the trace, then a replay
        expect, got = _eager_and_compiled(fun, x)
        e, g = _flat(expect), _flat(got)
        assert len(e) == len(g)
        mx.eval(*g)
        for a, b in zip(e, g):
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_allclose(np.array(b), np.array(a), rtol=2e-6, atol=1e-6)


def test_compile_reported_program():
    @mx.compile
    def fun(x):
        x = mx.abs(mx.negative(x))
        y = mx.abs(x)
        return x, y

    a, b = fun(mx.array(-1.0))
    mx.eval(a, b)
    assert a.item() == 1.0 and b.item() == 1.0
    a, b = fun(mx.array([-2.0, 3.0]))
    assert np.array(a).tolist() == [2.0, 3.0] and np.array(b).tolist() == [2.0, 3.0]


def test_compile_outputs_aliasing_identity():
    fun = mx.compile(lambda x: (lambda a: (a, a))(mx.exp(x) - 1))
    a, b = fun(mx.array([0.5, 1.0]))
    np.testing.assert_allclose(np.array(a), np.expm1([0.5, 1.0]), rtol=1e-6)
    np.testing.assert_allclose(np.array(b), np.array(a))
    x = mx.array([1.0, 2.0])
    y, z = mx.compile(lambda x: (x, x * 2))(x)
    assert np.array(y).tolist() == [1.0, 2.0] and np.array(z).tolist() == [2.0, 4.0]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64", "int32", "int64"])
def test_compile_outputs_aliasing_dtypes(dtype):
    dt = getattr(mx, dtype)
    x = mx.array([-3, -1, 2, 5]).astype(dt)
    fun = COMPILE_PROGRAMS["intermediate_and_derived"]
    expect, got = _eager_and_compiled(fun, x)
    for a, b in zip(expect, got):
        assert b.dtype == dt
        np.testing.assert_array_equal(np.array(b.astype(mx.float32)), np.array(a.astype(mx.float32)))


def test_compile_outputs_aliasing_in_grad():
    def f(x):
        a = mx.abs(mx.negative(x))
        return a, mx.abs(a) * x

    cf = mx.compile(f)
    loss = lambda fn: (lambda x: sum(mx.sum(v) for v in fn(x)))
    x = mx.array([-1.5, 0.5, 2.0])
    np.testing.assert_allclose(np.array(mx.grad(loss(cf))(x)), np.array(mx.grad(loss(f))(x)), rtol=1e-6)


# ---------- prod: derivatives with zeros


def _others_product(x, axis):
    """d prod / d x_i = product of the other elements of the reduction group (numpy, brute force)."""
    x = np.asarray(x, dtype=np.float64)
    axes = tuple(range(x.ndim)) if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
    axes = tuple(a % x.ndim for a in axes)
    out = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        sl = tuple(slice(None) if d in axes else idx[d] for d in range(x.ndim))
        group = x[sl].copy()
        pos = tuple(idx[d] for d in range(x.ndim) if d in axes)
        group[pos] = 1.0
        out[idx] = np.prod(group)
    return out


PROD_INPUTS = {
    "no_zero": [1.5, -2.0, 3.0, 0.5],
    "one_zero_first": [0.0, 1.0, 2.0, 3.0],
    "one_zero_middle": [2.0, 0.0, -1.5, 3.0],
    "two_zeros": [0.0, 2.0, 0.0, 3.0],
    "all_zeros": [0.0, 0.0, 0.0, 0.0],
}


def test_prod_grad_reported():
    g = mx.grad(mx.prod)(mx.array([0.0, 1.0, 2.0, 3.0]))
    assert np.array(g).tolist() == [6.0, 0.0, 0.0, 0.0]
    _, t = mx.jvp(mx.prod, [mx.array([0.0, 1.0, 2.0, 3.0])], [mx.array([1.0, 1.0, 1.0, 1.0])])
    assert t[0].item() == 6.0


@pytest.mark.parametrize("name", sorted(PROD_INPUTS))
def test_prod_vjp_jvp_with_zeros(name):
    x = np.array(PROD_INPUTS[name], dtype=np.float32)
    expect = _others_product(x, None)
    g = mx.grad(mx.prod)(mx.array(x))
    np.testing.assert_allclose(np.array(g), expect, rtol=1e-6)
    t = np.array([0.5, -1.0, 2.0, 1.5], dtype=np.float32)
    _, (jv,) = mx.jvp(mx.prod, [mx.array(x)], [mx.array(t)])
    np.testing.assert_allclose(jv.item(), float(expect @ t), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("axis", [0, 1, -1, (0, 2), (1, 2), None])
def test_prod_grad_axes_with_zeros(axis):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4, 2)).astype(np.float32)
    x[0, 1, :] = 0.0
    x[2, 0, 1] = 0.0
    x[2, 3, 1] = 0.0
    w = rng.normal(size=np.prod(x, axis=axis).shape).astype(np.float32)
    f = lambda a: mx.sum(mx.prod(a, axis=axis) * mx.array(w))
    g = np.array(mx.grad(f)(mx.array(x)))
    others = _others_product(x, axis)
    wk = np.expand_dims(w, axis) if axis is not None else w
    np.testing.assert_allclose(g, others * wk, rtol=1e-5, atol=1e-6)
    # jvp against the same Jacobian.
    t = rng.normal(size=x.shape).astype(np.float32)
    _, (jv,) = mx.jvp(lambda a: mx.prod(a, axis=axis), [mx.array(x)], [mx.array(t)])
    expect = np.sum(others * t, axis=axis)
    np.testing.assert_allclose(np.array(jv), expect, rtol=1e-5, atol=1e-5)


def test_prod_grad_vmap_and_second_order():
    x = np.array([[0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 5.0, 1.0]], np.float32)
    g = mx.vmap(mx.grad(mx.prod))(mx.array(x))
    np.testing.assert_allclose(np.array(g), np.stack([_others_product(r, None) for r in x]), rtol=1e-6)
    # Second derivative of prod([0, 1, 2, 3]): d2/dx0 dx1 = 2 * 3 = 6, never nan.
    h = mx.jacrev(mx.grad(mx.prod))(mx.array(x[0]))
    h = np.array(h)
    assert np.isfinite(h).all()
    xf = x[0].astype(np.float64)
    expect = np.array([[0.0 if i == j else np.prod(np.delete(xf, [i, j])) for j in range(4)] for i in range(4)])
    np.testing.assert_allclose(h, expect, rtol=1e-6)


# ---------- vmap of a full reduction broadcast back


@pytest.mark.parametrize(
    "fun",
    [
        lambda x: mx.max(mx.sum(x) + x),
        lambda x: mx.max(mx.logsumexp(x) + x),
        lambda x: mx.sum(mx.mean(x) * x),
        lambda x: mx.sum(mx.prod(x) * x),
        lambda x: mx.sum(mx.min(x) - x * x),
        lambda x: mx.sum(mx.var(x) + x),
        lambda x: mx.sum(mx.std(x) * x),
        lambda x: mx.sum(mx.max(x, axis=(0, 1)) * x),
        lambda x: mx.sum(mx.softmax(x.reshape(-1)) * mx.sum(x)),
    ],
)
def test_vmap_grad_full_reduction_broadcast(fun):
    x = np.random.default_rng(2).normal(size=(2, 4, 3)).astype(np.float32)
    batched = np.array(mx.vmap(mx.grad(fun))(mx.array(x)))
    looped = np.stack([np.array(mx.grad(fun)(mx.array(r))) for r in x])
    np.testing.assert_allclose(batched, looped, rtol=1e-5, atol=1e-6)


def test_vmap_batched_scalar_with_batched_matrix():
    x = np.random.default_rng(3).normal(size=(3, 2, 5)).astype(np.float32)
    f = lambda a: mx.sum(a) + a
    np.testing.assert_allclose(np.array(mx.vmap(f)(mx.array(x))), x.sum(axis=(1, 2), keepdims=True) + x, rtol=1e-5)
    # Batch axis elsewhere, the scalar on the other side.
    g = lambda a, b: b * mx.sum(a)
    y = np.random.default_rng(4).normal(size=(2, 5, 3)).astype(np.float32)
    out = mx.vmap(g, in_axes=(2, 2))(mx.array(y), mx.array(y))
    expect = np.stack([y[..., i] * y[..., i].sum() for i in range(3)])
    np.testing.assert_allclose(np.array(out), expect, rtol=1e-5)
    # where with a batched scalar condition.
    h = lambda a: mx.where(mx.sum(a) > 0, a, -a)
    np.testing.assert_allclose(np.array(mx.vmap(h)(mx.array(x))),
                               np.where(x.sum(axis=(1, 2), keepdims=True) > 0, x, -x))


# ---------- scans: every type and flag combination


SCANS = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]
FLAGS = list(itertools.product([False, True], [False, True]))  # (reverse, inclusive)


def _np_scan(name, x, axis, reverse, inclusive):
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    if reverse:
        x = x[..., ::-1]
    n = x.shape[-1]
    out = np.empty_like(x)
    init = {"cumsum": 0.0, "cumprod": 1.0, "cummax": -np.inf, "cummin": np.inf, "logcumsumexp": -np.inf}[name]
    op = {
        "cumsum": np.add,
        "cumprod": np.multiply,
        "cummax": np.maximum,
        "cummin": np.minimum,
        "logcumsumexp": np.logaddexp,
    }[name]
    acc = np.full(x.shape[:-1], init)
    for k in range(n):
        if inclusive:
            acc = op(acc, x[..., k])
            out[..., k] = acc
        else:
            out[..., k] = acc
            acc = op(acc, x[..., k])
    if reverse:
        out = out[..., ::-1]
    return np.moveaxis(out, -1, axis)


def test_cummax_exclusive_grad_reported():
    g = mx.grad(lambda y: mx.cummax(y, inclusive=False).sum())(mx.array([3.0, 3.0, 1.0, 5.0, 5.0]))
    assert np.array(g).tolist() == [1.0, 2.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize("name", SCANS)
@pytest.mark.parametrize("reverse,inclusive", FLAGS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_scan_values_and_grads_vs_finite_differences(name, reverse, inclusive, axis):
    rng = np.random.default_rng(5)
    x = rng.uniform(0.5, 1.5, size=(3, 4, 5)) * rng.choice([-1, 1], size=(3, 4, 5))
    if name == "cumprod":
        x[1, 2, :] = 0.0  # zeros along every axis
        x[0, 0, 3] = 0.0
    w = rng.normal(size=x.shape)
    fn = getattr(mx, name)
    out = fn(mx.array(x.astype(np.float32)), axis=axis, reverse=reverse, inclusive=inclusive)
    np.testing.assert_allclose(np.array(out), _np_scan(name, x, axis, reverse, inclusive), rtol=1e-5, atol=1e-5)

    def loss_np(v):
        y = _np_scan(name, v, axis, reverse, inclusive)
        return float(np.sum(np.where(np.isfinite(y), y, 0.0) * w))

    def loss_mx(v):
        y = fn(v, axis=axis, reverse=reverse, inclusive=inclusive)
        return mx.sum(mx.where(mx.isinf(y), 0.0, y) * mx.array(w.astype(np.float32)))

    xm = mx.array(x.astype(np.float32))
    g = np.array(mx.grad(loss_mx)(xm))
    expect = fd_grad(loss_np, x)
    np.testing.assert_allclose(g, expect, rtol=1e-3, atol=1e-3)
    # jvp is the transpose of the same Jacobian: <jvp(t), w> = <grad, t>.
    t = rng.normal(size=x.shape)
    _, (jv,) = mx.jvp(
        lambda v: fn(v, axis=axis, reverse=reverse, inclusive=inclusive), [xm], [mx.array(t.astype(np.float32))]
    )
    jv = np.where(np.isfinite(np.array(jv)), np.array(jv), 0.0)
    np.testing.assert_allclose(np.sum(jv * w), np.sum(expect * t), rtol=1e-3, atol=1e-3)
    # vmap of the gradient over the first axis matches the loop.
    if axis != 0:
        ax = axis - 1 if axis > 0 else axis
        lf = lambda v, wv: mx.sum(mx.where(mx.isinf(fn(v, axis=ax, reverse=reverse, inclusive=inclusive)), 0.0,
                                           fn(v, axis=ax, reverse=reverse, inclusive=inclusive)) * wv)
        wm = mx.array(w.astype(np.float32))
        gb = mx.vmap(mx.grad(lf))(xm, wm)
        np.testing.assert_allclose(np.array(gb), g, rtol=1e-5, atol=1e-5)


@needs_mlx
@pytest.mark.parametrize("name", SCANS)
@pytest.mark.parametrize("reverse,inclusive", FLAGS)
def test_scan_grads_with_ties_match_mlx(name, reverse, inclusive):
    vals = [[3.0, 3.0, 1.0, 5.0, 5.0, 0.0, 2.0, 2.0], [1.0, 0.0, 0.0, 2.0, 2.0, 2.0, -1.0, 4.0]]
    w = np.arange(1, 17, dtype=np.float32).reshape(2, 8) / 4.0
    for axis in (1, 0):
        def make(m, fn):
            return lambda v: m.sum(
                m.where(m.isinf(fn(v, axis=axis, reverse=reverse, inclusive=inclusive)), 0.0,
                        fn(v, axis=axis, reverse=reverse, inclusive=inclusive)) * m.array(w))

        got = mx.grad(make(mx, getattr(mx, name)))(mx.array(vals))
        ref = mlx.grad(make(mlx, getattr(mlx, name)))(mlx.array(vals))
        np.testing.assert_allclose(np.array(got), np.array(ref), rtol=1e-5, atol=1e-6)


@needs_mlx
@pytest.mark.parametrize("reverse,inclusive", FLAGS)
@pytest.mark.parametrize("dtype", ["int32", "float16", "float32"])
def test_logcumsumexp_matches_mlx(reverse, inclusive, dtype):
    x = np.array([[0.5, -1.0, 80.0, 3.0], [-200.0, 1.0, 1.0, 2.0]])
    a = mx.logcumsumexp(mx.array(x).astype(getattr(mx, dtype)), axis=-1, reverse=reverse, inclusive=inclusive)
    b = mlx.logcumsumexp(mlx.array(x).astype(getattr(mlx, dtype)), axis=-1, reverse=reverse, inclusive=inclusive)
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    np.testing.assert_allclose(np.array(a.astype(mx.float32)), np.array(b.astype(mlx.float32)), rtol=1e-3)
    flat = mx.logcumsumexp(mx.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(np.array(flat), np.logaddexp.accumulate([1.0, 2.0, 3.0]), rtol=1e-6)


# ---------- shapeless compile: shapes follow the inputs, or a clear error


SHAPELESS_PROGRAMS = {
    "reshape_flat": (lambda x: x.reshape(-1) * 2, [(2, 3), (4, 5)]),
    "transpose": (lambda x: x.T + 1, [(2, 3), (5, 4)]),
    "broadcast_constant": (lambda x: x + mx.ones((1,)), [(2, 3), (4, 7)]),
    "broadcast_both": (lambda x: x[:, None] * x[None, :], [(3,), (6,)]),
    "flatten_transpose": (lambda x: mx.flatten(x, 1).T, [(2, 3, 4), (5, 2, 3)]),
    "matmul": (lambda x: x @ x.T, [(2, 3), (4, 6)]),
    "addmm": (lambda x: mx.addmm(mx.ones((1,)), x, x.T), [(2, 3), (5, 2)]),
    "expand_sum": (lambda x: mx.expand_dims(x, 0).sum(axis=0), [(2, 3), (4, 5)]),
    "reshape_first_dim": (lambda x: x.reshape(x.shape[0], -1), [(2, 4, 2), (3, 4, 2)]),
    "squeeze": (lambda x: mx.squeeze(x[:, None, :], 1) - 1, [(2, 3), (6, 1)]),
    "sum_keep": (lambda x: x - x.sum(axis=1, keepdims=True), [(2, 3), (4, 9)]),
    "softmax_rows": (lambda x: mx.softmax(x, axis=-1) * x.shape[-1], [(2, 3), (2, 3)]),
    "take_rows": (lambda x: x[mx.array([0, 1])] + 1, [(2, 3), (4, 5)]),
    "concat": (lambda x: mx.concatenate([x, x * 2], axis=0), [(2, 3), (3, 5)]),
    "full_slice": (lambda x: x[1:, :] * 2, [(3, 4), (3, 6)]),
    "addmm_bias_row": (lambda x: mx.addmm(mx.ones((x.shape[1],)), x, x.T @ x), [(2, 3), (4, 3)]),
    "grad_in_compile": (lambda x: mx.grad(lambda y: (y * y).sum())(x), [(3,), (7,)]),
}


@pytest.mark.parametrize("name", sorted(SHAPELESS_PROGRAMS))
def test_shapeless_compile_replays_at_new_shapes(name):
    fun, shapes = SHAPELESS_PROGRAMS[name]
    cf = mx.compile(fun, shapeless=True)
    rng = np.random.default_rng(6)
    for shape in shapes + shapes[:1]:
        x = mx.array(rng.normal(size=shape).astype(np.float32))
        expect = fun(x)
        got = cf(x)
        assert got.shape == expect.shape, (shape, got.shape, expect.shape)
        np.testing.assert_allclose(np.array(got), np.array(expect), rtol=1e-5, atol=1e-5)


def test_shapeless_compile_never_silently_wrong():
    # A slice whose bounds were fixed at trace time cannot follow a new size: a clear error.
    cf = mx.compile(lambda x: x[1:3] * 2, shapeless=True)
    np.testing.assert_allclose(np.array(cf(mx.array([1.0, 2.0, 3.0, 4.0]))), [4.0, 6.0])
    with pytest.raises(ValueError, match="shapeless"):
        cf(mx.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    # A split of one dim into several is undetermined without a -1: a clear error.
    cf = mx.compile(lambda x: x.reshape(2, 3), shapeless=True)
    assert cf(mx.arange(6.0)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        cf(mx.arange(8.0))
    # With a -1 it is inferred again.
    cf = mx.compile(lambda x: x.reshape(-1, 4), shapeless=True)
    assert cf(mx.arange(8.0)).shape == (2, 4)
    assert cf(mx.arange(12.0)).shape == (3, 4)
    # An explicit broadcast target is kept while the input still broadcasts to it.
    cf = mx.compile(lambda x: mx.broadcast_to(x, (2, 3)), shapeless=True)
    assert cf(mx.array([1.0, 2.0, 3.0])).shape == (2, 3)
    with pytest.raises(ValueError, match="shapeless"):
        cf(mx.array([1.0, 2.0, 3.0, 4.0]))
    # The process goes on.
    assert mx.compile(lambda x: x + 1, shapeless=True)(mx.array([1.0])).item() == 2.0


# ---------- multi-output nodes with a dropped output


def test_custom_function_rule_sees_dropped_outputs():
    seen = []

    @mx.custom_function
    def f(x, y):
        return x * y, x + y

    @f.vjp
    def f_vjp(primals, cotangents, outputs):
        seen.append([o.item() for o in outputs])  # evaluates the dropped output too
        x, y = primals
        cx, cy = cotangents
        return cx * y + cy, cx * x + cy

    x, y = mx.array(2.0), mx.array(3.0)
    gx, gy = mx.grad(lambda a, b: f(a, b)[0], argnums=(0, 1))(x, y)
    assert (gx.item(), gy.item()) == (3.0, 2.0)
    gx, gy = mx.grad(lambda a, b: f(a, b)[1], argnums=(0, 1))(x, y)
    assert (gx.item(), gy.item()) == (1.0, 1.0)
    assert seen == [[6.0, 5.0], [6.0, 5.0]]


# ---------- vmap where the batch axis is the only axis left (differential against MLX)

VMAP_PROGRAMS = {
    "argmax": lambda m: (lambda a: m.argmax(a) + a),
    "argmin_axis": lambda m: (lambda a: m.argmin(a, axis=0) * a),
    "all": lambda m: (lambda a: m.where(m.all(a > -5), a, 0)),
    "any": lambda m: (lambda a: m.where(m.any(a > 1), a, -a)),
    "logsumexp_keep": lambda m: (lambda a: m.logsumexp(a, keepdims=True) - a),
    "cumsum_flat": lambda m: (lambda a: m.cumsum(a)[-1] + a),
    "sort_flat": lambda m: (lambda a: m.sort(a.reshape(-1))[0] + a),
    "softmax_all": lambda m: (lambda a: m.softmax(a) + m.sum(a)),
    "var_grad": lambda m: m.grad(lambda a: m.max(m.var(a) * a)),
    "lse_grad": lambda m: m.grad(lambda a: m.max(m.logsumexp(a) + a)),
    "mean_axes_grad": lambda m: m.grad(lambda a: m.sum(m.mean(a, axis=(0, 1)) * a)),
    "broadcast_to": lambda m: (lambda a: m.broadcast_to(m.sum(a), (2, 3)) + 1),
    "matmul_scalar": lambda m: (lambda a: (m.sum(a) * a) @ a.T),
}


@needs_mlx
@pytest.mark.parametrize("name", sorted(VMAP_PROGRAMS))
def test_vmap_reductions_to_batch_axis_match_mlx(name):
    x = np.random.default_rng(7).normal(size=(3, 4, 2)).astype(np.float32)
    prog = VMAP_PROGRAMS[name]
    got = np.array(mx.vmap(prog(mx))(mx.array(x)))
    ref = np.array(mlx.vmap(prog(mlx))(mlx.array(x)))
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


def test_compile_captured_array_evaluated_after_trace():
    base = mx.arange(4.0)
    c = base * 2
    w = base + 1
    f = mx.compile(lambda x: x * c)
    expect = np.arange(4.0) + 1
    for _ in range(3):
        w = f(w)
        mx.eval(w)
        expect = expect * np.arange(4.0) * 2
        np.testing.assert_allclose(np.array(w), expect)


def test_dropped_output_needed_by_a_rule_after_its_sibling_was_evaluated():
    # Attention keeps statistics as a second output that the op does not return; the
    # backward pass needs them. Evaluating the value first, then the gradient, used to
    # evaluate the rebuilt statistics node on its own after its sibling was released.
    rng = np.random.default_rng(0)
    x = mx.array(rng.standard_normal((1, 2, 5, 8)).astype(np.float32))

    def f(x):
        return mx.fast.scaled_dot_product_attention(x, x * 2, x * 3, scale=0.5).sum()

    v, g = mx.value_and_grad(f)(x)
    float(v)
    ref = mx.grad(f)(x)
    np.testing.assert_allclose(np.array(g), np.array(ref), rtol=1e-5, atol=1e-6)
    v2, g2 = mx.value_and_grad(f)(x)
    np.testing.assert_allclose(np.array(g2), np.array(ref), rtol=1e-5, atol=1e-6)
    assert float(v2) == float(v)


@pytest.mark.parametrize("fn,shapes", [
    (lambda x: mx.expand_dims(x, 0), [(1, 3), (2, 3), (5, 1)]),
    (lambda x: mx.expand_dims(x, [0, 2]), [(1, 1), (2, 3), (1, 4)]),
    (lambda x: mx.expand_dims(x, -1) * 2, [(1, 1), (3, 1), (2, 5)]),
    (lambda x: mx.squeeze(x, 1) + 1, [(1, 1, 3), (4, 1, 5), (1, 1, 1)]),
    (lambda x: mx.squeeze(mx.expand_dims(x, 1), 1) - x, [(1, 3), (2, 3)]),
    (lambda x: mx.expand_dims(x, 0).sum(axis=0), [(2, 3), (4, 5)]),
])
def test_shapeless_compile_replays_unit_axis_reshapes(fn, shapes):
    # Traced where the other axes are 1 as well, a unit-axis reshape is ambiguous unless it
    # remembers which axes it inserted or removed; the replay must never give a wrong shape.
    c = mx.compile(fn, shapeless=True)
    for s in shapes:
        x = mx.array(np.arange(int(np.prod(s)), dtype=np.float32).reshape(s))
        got, want = c(x), fn(x)
        assert got.shape == want.shape
        np.testing.assert_array_equal(np.array(got), np.array(want))


def test_put_along_axis_with_indices_of_another_rank_raises():
    # a 0-d index array used to be read as if it had the array's rank (a crash)
    a = mx.zeros((2, 3), dtype=mx.int8)
    for idx in (3, mx.array(1), mx.array([0, 1])):
        with pytest.raises(ValueError, match="put_along_axis.*Indices of dimension"):
            mx.put_along_axis(a, idx, mx.zeros((5,), dtype=mx.int32), 0)
    got = mx.put_along_axis(a, mx.array([[1, 0, 1]]), mx.array(7, dtype=mx.int8), 0)
    np.testing.assert_array_equal(np.array(got), [[0, 7, 0], [7, 0, 7]])


def test_argument_of_the_wrong_type_is_a_type_error():
    cases = [lambda: mx.arange(mx.ones(3)), lambda: mx.argmax(mx.ones(3), mx.ones(2)),
             lambda: mx.default_stream(1.5), lambda: mx.roll(mx.ones(3), 1.5)]
    for call in cases:
        with pytest.raises(TypeError, match="Invalid argument type"):
            call()
    assert mx.roll(mx.arange(3), 1).tolist() == [2, 0, 1]


def test_pickle_round_trip_without_warnings():
    import copy
    import pickle
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for a in (mx.arange(6).reshape(2, 3), mx.array([1.5, 2], dtype=mx.bfloat16),
                  mx.array(3 + 4j), mx.array(True), mx.zeros((0, 2))):
            b = pickle.loads(pickle.dumps(a))
            assert b.dtype == a.dtype and b.shape == a.shape
            assert np.array_equal(np.array(b.astype(mx.float32) if a.dtype == mx.bfloat16 else b),
                                  np.array(a.astype(mx.float32) if a.dtype == mx.bfloat16 else a))
            assert copy.deepcopy(a).shape == a.shape


def test_addmm_with_vector_operands_broadcasts_c_to_the_result():
    rng = np.random.RandomState(0)
    a, b, v = rng.randn(4, 3).astype(np.float32), rng.randn(3, 2).astype(np.float32), rng.randn(3).astype(np.float32)
    cases = [((4,), a, v), ((1,), a, v), ((2,), v, b), ((), v, v), ((4,), a, b[:, 0])]
    for cshape, x, y in cases:
        c = np.asarray(rng.randn(*cshape), dtype=np.float32)
        got = mx.addmm(mx.array(c), mx.array(x), mx.array(y), alpha=2.0, beta=0.5)
        want = 2.0 * (x @ y) + 0.5 * c
        assert got.shape == want.shape
        np.testing.assert_allclose(np.array(got), want, rtol=1e-5, atol=1e-5)
    g = mx.grad(lambda c: mx.addmm(c, mx.array(a), mx.array(v), beta=3.0).sum())(mx.ones((4,)))
    np.testing.assert_allclose(np.array(g), np.full(4, 3.0))
    for cshape, x, y in [((3, 2, 2), np.ones((2, 2)), np.ones((2, 2))), ((4, 3), a, v), ((3,), v, b), ((5, 2), v, b), ((1,), v, v)]:
        with pytest.raises(ValueError, match="addmm"):
            mx.addmm(mx.ones(cshape), mx.array(x), mx.array(y))


def test_arange_start_keyword_with_stop_none_counts_up_to_start():
    assert mx.arange(start=2.0, stop=None, step=2).tolist() == [0.0]
    assert mx.arange(start=3, stop=None).tolist() == [0, 1, 2]
    assert mx.arange(stop=3).tolist() == [0, 1, 2]
    for call in (lambda: mx.arange(start=5), lambda: mx.arange(stop=None), lambda: mx.arange()):
        with pytest.raises(TypeError):
            call()


def test_numpy_conversion_raises_the_evaluation_error():
    # numpy falls back to __array__ when the buffer fails: the error must not turn into a
    # RecursionError
    r = mx.take(mx.array([1, 2]), mx.array([[5, 0]]))
    for conv in (np.array, np.asarray):
        with pytest.raises(IndexError, match="out of bounds"):
            conv(r)
    np.testing.assert_array_equal(np.array(mx.arange(6).reshape(2, 3).T), np.arange(6).reshape(2, 3).T)
    np.testing.assert_array_equal(np.array(mx.ones((2,), dtype=mx.float16), dtype=np.float64), [1.0, 1.0])


def test_softmax_of_a_scalar_under_shapeless_compile_and_vmap():
    x = mx.array(0.3)
    for precise in (False, True):
        f = lambda v: mx.softmax(v, precise=precise)  # noqa: E731
        assert f(x).shape == () and mx.compile(f, shapeless=True)(x).shape == ()
        assert mx.vmap(f)(mx.array([0.3, 0.5])).tolist() == [1.0, 1.0]
    np.testing.assert_allclose(np.array(mx.vmap(lambda v: mx.softmax(v, axis=0))(mx.array([[0.3, 0.5]]))),
                               [[0.450166, 0.549834]], rtol=1e-5)


def test_allclose_and_array_equal_are_lazy_like_mlx():
    mlx = pytest.importorskip("mlx.core")
    nan = float("nan")
    cases = [((1.0, nan), (1.0, nan), {}), ((1.0, nan), (1.0, nan), {"equal_nan": True}),
             ((1, 2), (1, 2), {}), ((1.0,), (1.0, 1.0), {}), ((1.0, 2.0), (1.0, 2.0 + 1e-6), {}),
             ((float("inf"),), (float("inf"),), {}), ((1, 2), (1.0, 2.0), {"equal_nan": True})]
    for a, b, kw in cases:
        for name in ("allclose", "array_equal"):
            got = getattr(mx, name)(mx.array(a), mx.array(b), **kw)
            want = getattr(mlx, name)(mlx.array(a), mlx.array(b), **kw)
            assert isinstance(got, mx.array) and got.dtype == mx.bool_ and got.item() == want.item()
    assert mx.compile(lambda a, b: mx.allclose(a, b))(mx.ones(2), mx.ones(2)).item() is True
    assert mx.compile(lambda a, b: mx.array_equal(a, b))(mx.ones(2), mx.zeros(2)).item() is False
    assert mx.vmap(lambda a, b: mx.allclose(a, b))(mx.ones((3, 2)), mx.ones((3, 2))).tolist() == [True] * 3


def test_empty_slice_stays_empty_under_vmap():
    # an empty slice's node kept its stop while its start was reset: re-applied by vmap it
    # took the elements before the stop
    x = mx.arange(20.0).reshape(4, 5)
    f = lambda v: mx.split(v, [2, 2], axis=-1)[1]  # noqa: E731
    assert f(x).shape == (4, 0) and mx.vmap(f)(mx.stack([x, x])).shape == (2, 4, 0)
    s = np.random.RandomState(0).randn(4, 3, 2).astype(np.float32)
    g = lambda v: mx.fft.istft(v, hop_length=1, length=0)  # noqa: E731
    assert mx.vmap(g)(mx.stack([mx.array(s)] * 2)).shape == (2, 4, 0)
    h = lambda v: mx.concatenate([mx.split(v, [2, 2], axis=-1)[1], v], axis=-1).sum()  # noqa: E731
    np.testing.assert_array_equal(np.array(mx.grad(h)(x)), np.ones((4, 5)))
    np.testing.assert_array_equal(np.array(mx.vmap(mx.grad(h))(mx.stack([x, x]))), np.ones((2, 4, 5)))


def test_arccosh_derivative_below_minus_one_matches_mlx():
    mlx = pytest.importorskip("mlx.core")
    v = [2.0, -3.0, 1.5, -1.25]
    got = mx.grad(lambda t: mx.arccosh(t).sum())(mx.array(v))
    want = mlx.grad(lambda t: mlx.arccosh(t).sum())(mlx.array(v))
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-6)
    np.testing.assert_allclose(np.array(got), 1 / np.sqrt(np.square(v) - 1), rtol=1e-6)


def test_categorical_of_one_distribution_draws_as_mlx():
    # logits of one distribution drawn into a result with axes: MLX inverts the cumulative
    # distribution at uniform draws (a batch-1 sampler); seeded draws give the same classes
    mlx = pytest.importorskip("mlx.core")
    rs = np.random.RandomState(0)
    for V in (2, 5, 50, 1000):
        L = (rs.randn(V) * 3).astype(np.float32)
        for s in range(15):
            calls = [lambda m, a: m.random.categorical(a[None], key=m.random.key(s)),
                     lambda m, a: m.random.categorical(a, num_samples=4, key=m.random.key(s)),
                     lambda m, a: m.random.categorical(a, shape=(2, 3), key=m.random.key(s)),
                     lambda m, a: m.random.categorical(a[:, None], axis=0, key=m.random.key(s)),
                     lambda m, a: m.random.categorical(a, key=m.random.key(s)),
                     lambda m, a: m.random.categorical(m.stack([a, a[::-1]]), key=m.random.key(s))]
            for call in calls:
                got, want = call(mx, mx.array(L)), call(mlx, mlx.array(L))
                assert got.dtype == mx.uint32 and got.tolist() == want.tolist(), (V, s)
    # the frequencies are the softmax
    p = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    draws = np.array(mx.random.categorical(mx.array(np.log(p))[None], num_samples=100000,
                                           key=mx.random.key(1)))
    np.testing.assert_allclose(np.bincount(draws.ravel(), minlength=4) / draws.size, p, atol=0.01)
    assert mx.random.categorical(mx.zeros((1, 5)), num_samples=0).shape == (1, 0)
