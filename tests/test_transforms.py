"""Function transformations: compositions, the documented (seed) examples, custom functions,
checkpointing and error handling. Per-primitive rules live in test_transforms_rules.py.

Tests touching mx.custom_function / mx.checkpoint run in a child process (see `isolated`):
a crash in the engine then fails that test instead of killing the whole session.
"""
import functools
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
import ember.core as mx

F64 = mx.float64
EPS = 1e-6
TOL = 1e-5


def A(x, dtype=F64):
    return mx.array(np.asarray(x), dtype=dtype)


def N(x):
    return np.array(x)


def close(a, b, tol=1e-6):
    np.testing.assert_allclose(N(a), np.asarray(b, dtype=np.float64), rtol=tol, atol=tol)


_HERE = os.path.dirname(os.path.abspath(__file__))
_PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(ember.__file__)))


def isolated(fn):
    """Run the test body in a fresh interpreter; a segfault there fails the test."""

    @functools.wraps(fn)
    def wrapper():
        if os.environ.get("EMBER_TRANSFORMS_CHILD") == "1":
            return fn()
        code = (
            "import sys; sys.path[:0] = [%r, %r]\n"
            "import test_transforms as m\n"
            "m.%s.__wrapped__()\n" % (_PKG_ROOT, _HERE, fn.__name__)
        )
        env = dict(os.environ, EMBER_TRANSFORMS_CHILD="1")
        p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=120)
        if p.returncode != 0:
            how = (f"killed by signal {-p.returncode}" if p.returncode < 0
                   else f"exit status {p.returncode}")
            pytest.fail(f"child process {how}\n--- stdout\n{p.stdout[-3000:]}"
                        f"\n--- stderr\n{p.stderr[-3000:]}", pytrace=False)

    return wrapper


# ====================================================================== compositions


def test_third_derivative_of_sin():
    d3 = mx.grad(mx.grad(mx.grad(mx.sin)))
    for v in [0.0, 0.3, 1.0, -2.0]:
        close(d3(A(v)), -math.cos(v), 1e-12)


def test_third_derivative_polynomial_and_vector():
    f = lambda x: x ** 4 + 2.0 * x ** 3
    d3 = mx.grad(mx.grad(mx.grad(f)))
    close(d3(A(1.5)), 24 * 1.5 + 12, 1e-10)
    # vector argument: every level reduces with sum to stay scalar
    g = lambda x: mx.sum(mx.exp(2.0 * x))
    gg = lambda x: mx.sum(mx.grad(g)(x))
    ggg = lambda x: mx.sum(mx.grad(gg)(x))
    x = np.array([0.1, -0.4, 0.7])
    close(mx.grad(ggg)(A(x)), 8 * np.exp(2 * x), 1e-10)


def test_second_derivative_of_composite_matches_fd():
    f = lambda x: mx.tanh(x) * mx.log1p(x * x)
    d2 = mx.grad(mx.grad(f))
    d1 = mx.grad(f)
    for v in [-1.2, 0.4, 2.0]:
        fd = (N(d1(A(v + EPS))) - N(d1(A(v - EPS)))) / (2 * EPS)
        close(d2(A(v)), fd, TOL)


def test_vmap_of_grad_per_sample_gradients(rng):
    w = rng.normal(size=(4,))
    X = rng.normal(size=(6, 4))
    y = rng.normal(size=(6,))

    def loss(w, x, y):
        return (mx.sum(x * w) - y) ** 2

    g = mx.vmap(mx.grad(loss), in_axes=(None, 0, 0))(A(w), A(X), A(y))
    expected = 2 * (X @ w - y)[:, None] * X
    assert tuple(g.shape) == (6, 4)
    close(g, expected, 1e-12)
    # batch along axis 1 of x
    g = mx.vmap(mx.grad(loss), in_axes=(None, 1, 0))(A(w), A(X.T), A(y))
    close(g, expected, 1e-12)
    # gradient with respect to the batched argument
    gx = mx.vmap(mx.grad(loss, argnums=1), in_axes=(None, 0, 0))(A(w), A(X), A(y))
    close(gx, 2 * (X @ w - y)[:, None] * w[None], 1e-12)


def test_grad_of_vmap(rng):
    w = rng.normal(size=(3,))
    X = rng.normal(size=(5, 3))

    def per_example(w, x):
        return mx.sin(mx.sum(w * x))

    def total(w):
        return mx.sum(mx.vmap(per_example, in_axes=(None, 0))(w, A(X)))

    g = mx.grad(total)(A(w))
    expected = (np.cos(X @ w)[:, None] * X).sum(0)
    close(g, expected, 1e-12)
    # batched over a non-leading axis with out_axes
    def total2(w):
        return mx.sum(mx.vmap(lambda x: x * w, in_axes=1, out_axes=1)(A(X.T)) ** 2)

    close(mx.grad(total2)(A(w)), 2 * (X ** 2).sum(0) * w, 1e-12)


def test_vmap_of_vmap(rng):
    a = rng.normal(size=(3, 2))
    b = rng.normal(size=(4, 2))
    dist = lambda u, v: mx.sum((u - v) ** 2)
    d = mx.vmap(mx.vmap(dist, in_axes=(None, 0)), in_axes=(0, None))(A(a), A(b))
    expected = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    assert tuple(d.shape) == (3, 4)
    close(d, expected, 1e-12)
    # inner maps axis 1 of a (2, 5, 3) array, outer maps axis 0
    x = rng.normal(size=(2, 5, 3))
    r = mx.vmap(mx.vmap(lambda v: mx.cumsum(v), in_axes=0), in_axes=1)(A(x))
    assert tuple(r.shape) == (5, 2, 3)
    close(r, np.cumsum(np.transpose(x, (1, 0, 2)), axis=-1), 1e-12)
    # both batched on the same argument, out_axes moved
    r = mx.vmap(mx.vmap(lambda v: v @ v, out_axes=0), out_axes=1)(A(x))
    close(r, np.einsum("ijk,ijk->ij", x, x).T, 1e-12)


def test_triple_vmap_with_matmul(rng):
    x = rng.normal(size=(2, 3, 4, 5))
    w = rng.normal(size=(5, 2))
    f = mx.vmap(mx.vmap(mx.vmap(lambda v, w: v @ w, in_axes=(0, None)),
                        in_axes=(0, None)), in_axes=(0, None))
    close(f(A(x), A(w)), x @ w, 1e-12)


def test_hessian_vector_product_jvp_of_grad(rng):
    x = rng.normal(size=(5,))
    v = rng.normal(size=(5,))

    def f(x):
        return mx.sum(mx.sin(x) * x ** 2) + mx.sum(x) ** 2 + mx.logsumexp(x)

    g = mx.grad(f)
    _, hv = mx.jvp(g, [A(x)], [A(v)])
    fd = (N(g(A(x + EPS * v))) - N(g(A(x - EPS * v)))) / (2 * EPS)
    close(hv[0], fd, TOL)
    # quadratic form: H = M + M^T exactly
    M = rng.normal(size=(5, 5))
    q = lambda x: mx.sum(x * (A(M) @ x))
    _, hv = mx.jvp(mx.grad(q), [A(x)], [A(v)])
    close(hv[0], (M + M.T) @ v, 1e-12)


def test_hvp_by_reverse_over_reverse_and_forward_over_reverse_agree(rng):
    x = rng.normal(size=(4,))
    v = rng.normal(size=(4,))
    f = lambda x: mx.sum(mx.exp(x) * mx.cos(x) ** 2)
    g = mx.grad(f)
    _, hv1 = mx.jvp(g, [A(x)], [A(v)])
    hv2 = mx.grad(lambda x: mx.sum(g(x) * A(v)))(A(x))
    close(hv1[0], hv2, 1e-10)


def test_vjp_of_jvp(rng):
    x = rng.normal(size=(3,))
    v = rng.normal(size=(3,))
    c = rng.normal(size=(3,))
    f = lambda x: mx.sin(x) * mx.sum(x ** 2)

    def jvp_fn(x):
        return mx.jvp(f, [x], [A(v)])[1][0]

    _, (g,) = mx.vjp(jvp_fn, [A(x)], [A(c)])
    # d/dx <c, J(x) v> by central differences
    h = lambda x: float(np.sum(N(jvp_fn(A(x))) * c))
    fd = np.array([(h(x + EPS * e) - h(x - EPS * e)) / (2 * EPS) for e in np.eye(3)])
    close(g, fd, TOL)


def test_jvp_of_jvp_and_grad_of_jvp(rng):
    f = lambda x: x ** 5
    x = A(1.3)
    d1 = lambda x: mx.jvp(f, [x], [A(1.0)])[1][0]
    _, d2 = mx.jvp(d1, [x], [A(1.0)])
    close(d2[0], 20 * 1.3 ** 3, 1e-10)
    close(mx.grad(d1)(x), 20 * 1.3 ** 3, 1e-10)


def test_jacobian_by_vmap_of_vjp_and_jvp(rng):
    x = rng.normal(size=(3,))
    f = lambda x: mx.stack([mx.sum(x ** 2), mx.prod(x), mx.sin(x[0]) * x[2], x[1]])
    # rows: vjp against basis cotangents; columns: jvp against basis tangents
    rows = mx.vmap(lambda c: mx.vjp(f, [A(x)], [c])[1][0])(A(np.eye(4)))
    cols = mx.vmap(lambda t: mx.jvp(f, [A(x)], [t])[1][0], out_axes=1)(A(np.eye(3)))
    J = np.zeros((4, 3))
    for j in range(3):
        e = np.eye(3)[j]
        J[:, j] = (N(f(A(x + EPS * e))) - N(f(A(x - EPS * e)))) / (2 * EPS)
    close(rows, J, TOL)
    close(cols, J, TOL)


def test_jacobian_helpers_match_fd(rng):
    x = rng.normal(size=(3,))
    f = lambda x: mx.tanh(x) * mx.sum(x)
    J = np.zeros((3, 3))
    for j in range(3):
        e = np.eye(3)[j]
        J[:, j] = (N(f(A(x + EPS * e))) - N(f(A(x - EPS * e)))) / (2 * EPS)
    close(mx.jacrev(f)(A(x)), J, TOL)
    close(mx.jacfwd(f)(A(x)), J, TOL)
    s = lambda x: mx.sum(mx.sin(x) * x)
    H = mx.hessian(s)(A(x))
    close(H, np.diag(2 * np.cos(x) - x * np.sin(x)), 1e-10)


def test_grad_argnums_tuple_list_and_order():
    f = lambda a, b, c: mx.sum(a * b ** 2 * mx.exp(c))
    a, b, c = A([1.0, 2.0]), A([3.0, -1.0]), A([0.0, 0.5])
    ga, gc = mx.grad(f, argnums=(0, 2))(a, b, c)
    close(ga, N(b) ** 2 * np.exp(N(c)))
    close(gc, N(a) * N(b) ** 2 * np.exp(N(c)))
    ga2, gc2 = mx.grad(f, argnums=[0, 2])(a, b, c)
    close(gc2, gc)
    close(ga2, ga)
    # a one-element argnums sequence gives the gradient itself, as in MLX
    out = mx.grad(f, argnums=(1,))(a, b, c)
    assert isinstance(out, mx.array)
    close(out, 2 * N(a) * N(b) * np.exp(N(c)))
    val, out = mx.value_and_grad(f, argnums=[2])(a, b, c)
    assert isinstance(out, mx.array)
    close(out, N(a) * N(b) ** 2 * np.exp(N(c)))
    # with argnames too: (gradient, {name: gradient})
    g, kw = mx.grad(lambda x, y: mx.sum(x * y), argnums=(0,), argnames="y")(a, y=b)
    close(g, N(b))
    close(kw["y"], N(a))


def test_vmap_in_axes_for_a_single_argument_tree():
    # With one argument, in_axes may be that argument's own tree (MLX) or a 1-sequence (JAX).
    u, v = mx.ones((2, 3)), mx.ones((3, 2))
    f = lambda t: t["u"] + t["v"]  # noqa: E731
    assert mx.vmap(f, in_axes={"u": 0, "v": 1})({"u": u, "v": v}).shape == (2, 3)
    assert mx.vmap(f, in_axes=({"u": 0, "v": 1},))({"u": u, "v": v}).shape == (2, 3)
    g = lambda t: t[0] + t[1]  # noqa: E731
    assert mx.vmap(g, in_axes=(0, 1))((u, v)).shape == (2, 3)
    assert mx.vmap(g, in_axes=[0, 1])([u, v]).shape == (2, 3)
    assert mx.vmap(lambda x, y: x + y, in_axes=(0, 1))(u, v).shape == (2, 3)


def test_grad_unsorted_argnums_follow_mlx_order():
    # MLX 0.32 sorts argnums: grad(f, argnums=(1, 0)) returns (df/da0, df/da1)
    f = lambda a, b: mx.sum(a * 2.0 + b * 3.0)
    g = mx.grad(f, argnums=(1, 0))(A(1.0), A(1.0))
    close(g[0], 2.0)
    close(g[1], 3.0)


def test_grad_nested_params_preserve_structure():
    params = {"layers": [{"w": A([[1.0, 2.0], [3.0, 4.0]]), "b": A([0.5, -0.5])},
                         (A(2.0), A([1.0, 1.0]))],
              "scale": A(3.0)}
    x = A([1.0, -1.0])

    def loss(p, x):
        h = p["layers"][0]["w"] @ x + p["layers"][0]["b"]
        s, v = p["layers"][1]
        return p["scale"] * mx.sum(h * v) + s ** 2

    g = mx.grad(loss)(params, x)
    assert set(g) == {"layers", "scale"}
    assert isinstance(g["layers"], list) and isinstance(g["layers"][1], tuple)
    close(g["layers"][0]["w"], 3.0 * np.outer([1.0, 1.0], [1.0, -1.0]))
    close(g["layers"][0]["b"], [3.0, 3.0])
    close(g["layers"][1][0], 4.0)
    h = np.array([[1.0, 2.0], [3.0, 4.0]]) @ [1.0, -1.0] + [0.5, -0.5]
    close(g["layers"][1][1], 3.0 * h)
    close(g["scale"], h.sum())


def test_grad_unused_parameter_gets_zeros():
    p = {"w": A([1.0, 2.0]), "unused": A([[5.0]])}
    g = mx.grad(lambda p: mx.sum(p["w"] ** 2))(p)
    close(g["w"], [2.0, 4.0])
    assert tuple(g["unused"].shape) == (1, 1)
    close(g["unused"], [[0.0]])


def test_value_and_grad_with_aux_outputs():
    def f(x, y):
        loss = mx.sum(x * y)
        return loss, {"prod": x * y, "list": [x + 1.0, y]}

    x, y = A([1.0, 2.0]), A([3.0, 4.0])
    (loss, aux), g = mx.value_and_grad(f)(x, y)
    close(loss, 11.0)
    close(aux["prod"], [3.0, 8.0])
    close(aux["list"][0], [2.0, 3.0])
    close(g, [3.0, 4.0])
    (loss, aux), (gx, gy) = mx.value_and_grad(f, argnums=(0, 1))(x, y)
    close(gx, [3.0, 4.0])
    close(gy, [1.0, 2.0])
    # aux as a tuple of several arrays
    (loss, a1, a2), g = mx.value_and_grad(lambda x: (mx.sum(x ** 2), x * 2, mx.mean(x)))(x)
    close(a1, [2.0, 4.0])
    close(a2, 1.5)
    close(g, [2.0, 4.0])


def test_value_and_grad_value_matches_plain_call(rng):
    x = rng.normal(size=(4, 3))
    f = lambda x: mx.logsumexp(x) + mx.var(x)
    v, g = mx.value_and_grad(f)(A(x))
    close(v, N(f(A(x))), 1e-14)
    h = lambda x: float(N(f(A(x))))
    fd = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = EPS
        fd[i] = (h(x + e) - h(x - e)) / (2 * EPS)
    close(g, fd, TOL)


def test_grad_with_keyword_arguments_and_argnames():
    f = lambda x, y=None, z=None: mx.sum(x * y * z)
    x, y, z = A([1.0, 2.0]), A([3.0, 4.0]), A([5.0, 6.0])
    # keyword arguments pass through undifferentiated
    close(mx.grad(f)(x, y=y, z=z), [15.0, 24.0])
    # argnums and argnames together -> (positional grads, {name: grad})
    gx, kw = mx.grad(f, argnums=0, argnames=["z"])(x, y=y, z=z)
    close(gx, [15.0, 24.0])
    close(kw["z"], [3.0, 8.0])
    (vx, kw2) = mx.value_and_grad(f, argnums=0, argnames="y")(x, y=y, z=z)[1]
    close(kw2["y"], [5.0, 12.0])


def test_grad_argnames_only_positional_part_is_none():
    # MLX: with only argnames requested, the positional part of the result is None
    f = lambda x, y=None: mx.sum(x * y)
    pos, kw = mx.grad(f, argnames="y")(A([1.0, 2.0]), y=A([3.0, 4.0]))
    assert pos is None
    close(kw["y"], [1.0, 2.0])


def test_grad_float32_dtype_and_float64_dtype():
    f = lambda x: mx.sum(x ** 3)
    g32 = mx.grad(f)(mx.array([1.0, 2.0]))
    g64 = mx.grad(f)(A([1.0, 2.0]))
    assert g32.dtype == mx.float32 and g64.dtype == F64
    close(g32, [3.0, 12.0])
    close(g64, [3.0, 12.0])


def test_stop_gradient_under_grad_and_jvp():
    x = A([1.0, 2.0, 3.0])
    close(mx.grad(lambda x: mx.sum(mx.stop_gradient(x) * x))(x), [1.0, 2.0, 3.0])
    close(mx.grad(lambda x: mx.sum(mx.stop_gradient(x ** 2)))(x), [0.0, 0.0, 0.0])
    _, t = mx.jvp(lambda x: mx.stop_gradient(x) * x, [x], [mx.ones_like(x)])
    close(t[0], [1.0, 2.0, 3.0])
    # the function's value is unchanged
    close(mx.stop_gradient(x * 2), [2.0, 4.0, 6.0])


def test_vmap_through_stop_gradient():
    x = A([1.0, 2.0, 3.0])
    close(mx.vmap(lambda v: mx.stop_gradient(v) * 2)(x), [2.0, 4.0, 6.0])
    close(mx.vmap(mx.stop_gradient)(x), [1.0, 2.0, 3.0])
    # per-sample gradients that use stop_gradient internally
    g = mx.vmap(mx.grad(lambda v: mx.sum(mx.stop_gradient(v) * v)))(A([[1.0, 2.0], [3.0, 4.0]]))
    close(g, [[1.0, 2.0], [3.0, 4.0]])


def test_vjp_without_cotangents_returns_vjp_function():
    x = A([1.0, 2.0, 3.0])
    out, vjp_fn = mx.vjp(lambda x: mx.sin(x) * 2, [x])
    close(out, 2 * np.sin([1.0, 2.0, 3.0]))
    (g,) = vjp_fn(A([1.0, 0.0, 1.0]))
    close(g, 2 * np.cos([1.0, 2.0, 3.0]) * [1.0, 0.0, 1.0])
    (g,) = vjp_fn([mx.ones_like(x)])
    close(g, 2 * np.cos([1.0, 2.0, 3.0]))


def test_vjp_multiple_outputs_and_repeated_output():
    x = A([1.0, 2.0, 3.0])
    outs, (g,) = mx.vjp(lambda x: (x * 2, mx.sum(x)), [x], [A([1.0, 1.0, 1.0]), A(2.0)])
    close(outs[0], [2.0, 4.0, 6.0])
    close(g, [4.0, 4.0, 4.0])
    # the same array returned twice: both cotangents contribute
    _, (g,) = mx.vjp(lambda x: (x, x), [x], [A([1.0, 1.0, 1.0]), A([1.0, 2.0, 3.0])])
    close(g, [2.0, 3.0, 4.0])


def test_vmap_in_axes_prefix_trees(rng):
    x = rng.normal(size=(3, 2))
    y = rng.normal(size=(2, 3))
    s = A(2.0)
    f = lambda d, t: d["a"] * d["b"] + t[0] - t[1]
    out = mx.vmap(f, in_axes=({"a": 0, "b": None}, (1, None)))({"a": A(x), "b": s},
                                                               (A(y), A([1.0, 2.0])))
    expected = 2.0 * x + y.T - np.array([1.0, 2.0])[None]
    close(out, expected, 1e-12)
    # a single int applies to the whole tree
    out = mx.vmap(lambda t: t[0] * t[1], in_axes=0)([A(x), A(x)])
    close(out, x * x, 1e-12)
    # nested output trees with out_axes prefix
    r = mx.vmap(lambda v: {"s": mx.sum(v), "v": [v * 2]}, in_axes=1,
                out_axes={"s": 0, "v": 1})(A(y))
    close(r["s"], y.sum(0), 1e-12)
    close(r["v"][0], 2 * y, 1e-12)


def test_vmap_unbatched_outputs_are_broadcast():
    x = A([1.0, 2.0, 3.0])
    y = A([[1.0, 2.0]])
    out = mx.vmap(lambda a, b: (a * 2, b * 3), in_axes=(0, None))(x, y)
    close(out[0], [2.0, 4.0, 6.0])
    assert tuple(out[1].shape) == (3, 1, 2)
    close(out[1], np.broadcast_to([[[3.0, 6.0]]], (3, 1, 2)))
    # out_axes=None keeps an unbatched output as it is
    a, b = mx.vmap(lambda a, b: (a * 2, b * 3), in_axes=(0, None), out_axes=(0, None))(x, y)
    assert tuple(b.shape) == (1, 2)


def test_vmap_negative_out_axes_on_unbatched_output():
    # out_axes=-1 on an output that does not depend on the batch must still get a batch axis
    x = mx.ones((3, 2))
    out = mx.vmap(lambda a, b: b * 2, in_axes=(0, None), out_axes=-1)(x, mx.ones((4,)))
    assert tuple(out.shape) == (4, 3)
    out = mx.vmap(lambda a, b: b * 2, in_axes=(0, None), out_axes=-2)(x, mx.ones((4, 5)))
    assert tuple(out.shape) == (4, 3, 5)


def test_vmap_negative_axes(rng):
    x = rng.normal(size=(2, 3))
    close(mx.vmap(lambda v: mx.sum(v), in_axes=-1)(A(x)), x.sum(0), 1e-12)
    r = mx.vmap(lambda v: v * 2, in_axes=0, out_axes=-1)(A(rng.normal(size=(4, 2, 3))))
    assert tuple(r.shape) == (2, 3, 4)


def test_vmap_random_chain_matches_loop(rng):
    x = rng.normal(size=(4, 3, 2))
    w = rng.normal(size=(2, 5))

    def f(x, w):
        h = mx.tanh(x @ w)
        h = mx.softmax(h, axis=-1)
        return mx.concatenate([mx.max(h, axis=0), mx.cumsum(h, axis=1)[:, -1]], axis=0)

    out = mx.vmap(f, in_axes=(0, None))(A(x), A(w))
    ref = np.stack([N(f(A(x[i]), A(w))) for i in range(4)])
    close(out, ref, 1e-12)


def test_hvp_through_sort_and_put_along_axis():
    x = A([3.0, -1.0, 2.0])
    v = A([1.0, 1.0, 1.0])
    w = A([1.0, 2.0, 3.0])
    # f = sum(w * sort(x)^3): H = diag(6 * w[rank] * x)
    g = mx.grad(lambda x: mx.sum(w * mx.sort(x) ** 3))
    _, hv = mx.jvp(g, [x], [v])
    close(hv[0], [6 * 3 * 3.0, 6 * 1 * -1.0, 6 * 2 * 2.0])
    # forward mode through put_along_axis
    idx = mx.array([2, 0])
    _, t = mx.jvp(lambda x: mx.put_along_axis(x, idx, A([5.0, 6.0]), axis=0), [x], [v])
    close(t[0], [0.0, 1.0, 0.0])


def test_jvp_of_where_with_tangent_only_through_condition():
    x = A([1.0, -2.0, 3.0])
    o, t = mx.jvp(lambda x: mx.where(x > 0, 1.0, 2.0), [x], [mx.ones_like(x)])
    assert t[0].dtype == o[0].dtype == mx.float32
    close(t[0], [0.0, 0.0, 0.0])
    _, t = mx.jvp(lambda x: -mx.where(x > 0, 1.0, 2.0), [x], [mx.ones_like(x)])
    close(t[0], [0.0, 0.0, 0.0])


def test_eval_and_item_inside_grad():
    x = A([1.0, 2.0, 3.0])

    def f(x):
        y = mx.sin(x)
        mx.eval(y)
        return mx.sum(y * x)

    close(mx.grad(f)(x), np.sin([1.0, 2.0, 3.0]) + np.array([1.0, 2.0, 3.0]) *
          np.cos([1.0, 2.0, 3.0]))

    def g(x):
        if mx.sum(x).item() > 0:
            return mx.sum(x ** 2)
        return mx.sum(x ** 3)

    close(mx.grad(g)(x), [2.0, 4.0, 6.0])
    close(mx.grad(g)(-x), [3.0, 12.0, 27.0])
    # the same function transformed twice gives independent results
    close(mx.grad(f)(x * 2), np.sin([2.0, 4.0, 6.0]) + np.array([2.0, 4.0, 6.0]) *
          np.cos([2.0, 4.0, 6.0]))


def test_eval_inside_vmap_raises():
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda v: (mx.eval(v * 2), v)[1])(A([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda v: v * v.item())(A([1.0, 2.0]))


def test_setitem_under_grad_and_vmap():
    x = A([1.0, 2.0, 3.0])

    def f(x):
        y = mx.zeros((4,), dtype=F64)
        y[1:] = x
        return mx.sum(y * y)

    close(mx.grad(f)(x), [2.0, 4.0, 6.0])

    def h(x):
        y = x * 1
        y[0] = 5.0
        return mx.sum(y * x)

    close(mx.grad(h)(x), [5.0, 4.0, 6.0])

    def k(v):
        y = v * 2
        y[0] = 0.0
        return y

    xs = np.arange(6.0).reshape(2, 3)
    close(mx.vmap(k)(A(xs)), np.stack([N(k(A(r))) for r in xs]))
    close(mx.vmap(k, in_axes=1)(A(xs.T)), np.stack([N(k(A(r))) for r in xs]))


def test_vjp_function_reusable():
    out, vjp_fn = mx.vjp(lambda x: x * x, [A([1.0, 2.0, 3.0])])
    (g1,) = vjp_fn(A([1.0, 1.0, 1.0]))
    (g2,) = vjp_fn(A([2.0, 2.0, 2.0]))
    close(g1, [2.0, 4.0, 6.0])
    close(g2, [4.0, 8.0, 12.0])


# ====================================================================== seed examples


def test_seed_vjp_sin():
    outs, vjps = mx.vjp(mx.sin, (mx.array(1.0),), (mx.array(1.0),))
    close(outs[0], math.sin(1.0))
    close(vjps[0], math.cos(1.0))


def test_seed_curated_value_and_grad_training(rng):
    def f(w, x):
        return mx.mean((x @ w) ** 2)

    w = mx.random.normal((16,))
    x = mx.random.normal((32, 16))
    loss, grad = mx.value_and_grad(lambda w: f(w, x))(w)
    assert loss.shape == () and tuple(grad.shape) == (16,)
    wn, xn = N(w).astype(np.float64), N(x).astype(np.float64)
    close(loss, np.mean((xn @ wn) ** 2), 1e-4)
    close(grad, 2 / 32 * xn.T @ (xn @ wn), 1e-4)


def test_seed_curated_vmap_scalar_fn_and_grad():
    def scalar_fn(a):
        return mx.sum(a * a)

    batched = mx.vmap(scalar_fn)
    A_ = mx.random.normal((8, 4))
    vals = batched(A_)
    assert tuple(vals.shape) == (8,)
    close(vals, (N(A_).astype(np.float64) ** 2).sum(1), 1e-5)
    df = mx.grad(scalar_fn)
    df_batched = mx.vmap(df)
    grads = df_batched(A_)
    assert tuple(grads.shape) == (8, 4)
    close(grads, 2 * N(A_), 1e-6)


def test_seed_curated_my_sum():
    a = mx.array([1, 2, 3])
    b = mx.array([4, 5, 6])
    c = a + b
    mx.eval(c)
    assert c.dtype == mx.int32
    assert N(c).tolist() == [5, 7, 9]


def test_seed_mse_loss_grad_and_value_and_grad():
    def mse_loss(w, x, y):
        return mx.mean((w * x - y) ** 2)

    w = mx.array(1.0)
    x = mx.array([0.5, -0.5])
    y = mx.array([1.5, -1.5])
    g = mx.grad(mse_loss)(w, x, y)
    mx.eval(g)
    close(g, -1.0)
    loss, grad_w = mx.value_and_grad(mse_loss)(w, x, y)
    mx.eval(loss, grad_w)
    close(loss, 1.0)
    close(grad_w, -1.0)


def test_seed_vmap_my_function():
    vf = mx.vmap(lambda x: x * 2)
    out = vf(mx.array([[1, 2], [3, 4]]))
    mx.eval(out)
    assert N(out).tolist() == [[2, 4], [6, 8]]


def test_seed_grad_of_sin_at_pi():
    dfdx = mx.grad(mx.sin)
    close(dfdx(mx.array(mx.pi)), -1.0)
    close(mx.cos(mx.array(mx.pi)), -1.0)
    d2fdx2 = mx.grad(mx.grad(mx.sin))
    close(d2fdx2(mx.array(mx.pi / 2)), -1.0)
    close(mx.sin(mx.array(mx.pi / 2)), 1.0)


def test_seed_grad_of_sin_at_pi_literal():
    # the same statements with a literal pi (independent of mx.pi)
    close(mx.grad(mx.sin)(mx.array(math.pi)), -1.0)
    close(mx.grad(mx.grad(mx.sin))(mx.array(math.pi / 2)), -1.0)


def test_seed_loss_fn_argnums_and_value_and_grad():
    def loss_fn(w, x, y):
        return mx.mean(mx.square(w * x - y))

    w = mx.array(1.0)
    x = mx.array([0.5, -0.5])
    y = mx.array([1.5, -1.5])
    dloss_dw = mx.grad(loss_fn)(w, x, y)
    assert dloss_dw.dtype == mx.float32
    close(dloss_dw, -1.0)
    dloss_dx = mx.grad(loss_fn, argnums=1)(w, x, y)
    close(dloss_dx, [-1.0, 1.0])
    loss, dloss_dw = mx.value_and_grad(loss_fn)(w, x, y)
    close(loss, 1.0)
    close(dloss_dw, -1.0)


def test_seed_params_dict_weight_and_bias():
    def loss_fn(params, x, y):
        w, b = params["weight"], params["bias"]
        h = w * x + b
        return mx.mean(mx.square(h - y))

    params = {"weight": mx.array(1.0), "bias": mx.array(0.0)}
    x = mx.array([0.5, -0.5])
    y = mx.array([1.5, -1.5])
    grads = mx.grad(loss_fn)(params, x, y)
    assert set(grads) == {"weight", "bias"}
    close(grads["weight"], -1.0)
    close(grads["bias"], 0.0)


def test_seed_naive_add_vs_vmap_add():
    xs = mx.random.uniform(shape=(4096, 100))
    ys = mx.random.uniform(shape=(100, 4096))

    def naive_add(xs, ys):
        return [xs[i] + ys[:, i] for i in range(xs.shape[0])]

    vmap_add = mx.vmap(lambda x, y: x + y, in_axes=(0, 1))
    out = vmap_add(xs, ys)
    assert tuple(out.shape) == (4096, 100)
    np.testing.assert_array_equal(N(out), N(xs) + N(ys).T)
    some = naive_add(xs[:5], ys)
    np.testing.assert_array_equal(N(mx.stack(some)), N(out[:5]))


def test_seed_api_grad_examples():
    grad_f = mx.grad(lambda x: (x * x).sum())
    close(grad_f(mx.array([1.0, 2.0, 3.0])), [2.0, 4.0, 6.0])
    grad_g = mx.grad(lambda x, y: (x * y).sum(), argnums=(0, 1))
    dgdx, dgdy = grad_g(mx.array([1.0, 2.0]), mx.array([3.0, 4.0]))
    close(dgdx, [3.0, 4.0])
    close(dgdy, [1.0, 2.0])


def test_seed_api_value_and_grad_examples():
    value, grad = mx.value_and_grad(lambda x: (x * x).sum())(mx.array([1.0, 2.0, 3.0]))
    close(value, 14.0)
    close(grad, [2.0, 4.0, 6.0])

    def f_with_aux(x):
        loss = (x * x).sum()
        aux = {"intermediate": x * 2}
        return loss, aux

    (loss, aux), grad = mx.value_and_grad(f_with_aux)(mx.array([1.0, 2.0]))
    close(loss, 5.0)
    close(aux["intermediate"], [2.0, 4.0])
    close(grad, [2.0, 4.0])


def test_seed_api_vjp_and_jvp():
    out, vjp_out = mx.vjp(lambda x: 2 * x, [mx.array(1.0)], [mx.array(2.0)])
    close(out[0], 2.0)
    close(vjp_out[0], 4.0)
    out, jvp_out = mx.jvp(lambda x, y: x * y, [mx.array(4.0), mx.array(2.0)],
                          [mx.array(3.0), mx.array(2.0)])
    close(out[0], 8.0)
    close(jvp_out[0], 14.0)


def test_seed_api_vmap_examples():
    result = mx.vmap(lambda x: x * 2)(mx.array([[1, 2], [3, 4], [5, 6]]))
    assert N(result).tolist() == [[2, 4], [6, 8], [10, 12]]
    vg = mx.vmap(lambda x, y: x + y, in_axes=(0, None))
    assert N(vg(mx.array([1, 2, 3]), mx.array(10))).tolist() == [11, 12, 13]


def test_seed_api_eval_and_async_eval():
    x = mx.array([1, 2, 3])
    y = x + 1
    mx.eval(y)
    assert N(y).tolist() == [2, 3, 4]
    a, b = mx.array([1, 2]), mx.array([3, 4])
    mx.eval(a, b)
    z = x * 2
    mx.async_eval(z)
    assert N(z).tolist() == [2, 4, 6]


def test_seed_higher_order_at_zero():
    d2fdx2 = mx.grad(mx.grad(mx.sin))
    d3fdx3 = mx.grad(mx.grad(mx.grad(mx.sin)))
    x = mx.array(0.0)
    close(d2fdx2(x), 0.0)
    close(d3fdx3(x), -1.0)


def test_seed_vmap_add_in_axes_0_1():
    x_batch = mx.random.normal((32, 10))
    y_batch = mx.random.normal((10, 32))
    result = mx.vmap(lambda x, y: x + y, in_axes=(0, 1))(x_batch, y_batch)
    assert tuple(result.shape) == (32, 10)
    np.testing.assert_array_equal(N(result), N(x_batch) + N(y_batch).T)


def test_seed_outer_product_inconsistent_batch_sizes_raise():
    vmap_fn = mx.vmap(lambda x, y: mx.outer(x, y), in_axes=(0, 1), out_axes=0)
    x_batch = mx.random.normal((32, 10))
    y_batch = mx.random.normal((20, 10))
    with pytest.raises(ValueError, match="vmap"):
        vmap_fn(x_batch, y_batch)


def test_seed_scale_and_add_broadcast():
    vmap_fn = mx.vmap(lambda x, scale, bias: scale * x + bias, in_axes=(0, None, None))
    x_batch = mx.random.normal((32, 10))
    result = vmap_fn(x_batch, mx.array(2.0), mx.array(1.0))
    assert tuple(result.shape) == (32, 10)
    close(result, 2 * N(x_batch) + 1, 1e-6)


def test_seed_jvp_of_array_built_from_list():
    def f(x):
        return mx.array([mx.sin(x[0]), mx.cos(x[1])])

    x = mx.array([1.0, 2.0])
    v = mx.array([1.0, 0.0])
    outs, tangents = mx.jvp(f, (x,), (v,))
    close(outs[0], [math.sin(1.0), math.cos(2.0)])
    close(tangents[0], [math.cos(1.0), 0.0])


def test_seed_vjp_function_form():
    def f(x):
        return mx.array([mx.sum(x ** 2), mx.sum(mx.sin(x))])

    x = mx.array([1.0, 2.0, 3.0])
    v = mx.array([1.0, 0.0])
    primals, vjp_fn = mx.vjp(f, x)
    result = vjp_fn(v)
    close(primals, [14.0, np.sin([1.0, 2.0, 3.0]).sum()], 1e-6)
    close(result[0], [2.0, 4.0, 6.0])


# ====================================================================== custom_function


@isolated
def test_custom_vjp_used_under_grad():
    calls = []

    @mx.custom_function
    def f(x, y):
        return mx.sin(x) * y

    @f.vjp
    def f_vjp(primals, cotangent, output):
        x, y = primals
        calls.append((N(x).tolist(), N(y).tolist(), N(cotangent).tolist(), N(output).tolist()))
        return 10.0 * cotangent, 20.0 * cotangent

    x, y = A([0.5, 1.0]), A([2.0, 3.0])
    out = f(x, y)
    close(out, np.sin([0.5, 1.0]) * [2.0, 3.0])
    gx, gy = mx.grad(lambda x, y: mx.sum(f(x, y)), argnums=(0, 1))(x, y)
    close(gx, [10.0, 10.0])
    close(gy, [20.0, 20.0])
    assert len(calls) == 1
    px, py, ct, o = calls[0]
    assert px == [0.5, 1.0] and py == [2.0, 3.0] and ct == [1.0, 1.0]
    close(o, np.sin([0.5, 1.0]) * [2.0, 3.0])
    # the rule is composed with the surrounding chain rule
    g = mx.grad(lambda x: mx.sum(f(x * 3.0, y) ** 2))(x)
    close(g, 3.0 * 10.0 * 2.0 * N(f(x * 3.0, y)))


@isolated
def test_custom_function_without_rules_falls_back_to_autodiff():
    f = mx.custom_function(lambda x: mx.exp(x) * x)
    x = A([0.1, 0.7])
    close(mx.grad(lambda x: mx.sum(f(x)))(x), np.exp([0.1, 0.7]) * (1 + np.array([0.1, 0.7])))
    _, t = mx.jvp(f, [x], [A([1.0, 1.0])])
    close(t[0], np.exp([0.1, 0.7]) * (1 + np.array([0.1, 0.7])))
    close(mx.vmap(f)(A([[0.1, 0.7], [1.0, 2.0]])), np.exp([[0.1, 0.7], [1.0, 2.0]]) *
          np.array([[0.1, 0.7], [1.0, 2.0]]))


@isolated
def test_custom_jvp_used_under_jvp():
    calls = []

    @mx.custom_function
    def f(x, y):
        return x * y

    @f.jvp
    def f_jvp(primals, tangents):
        calls.append(len(tangents))
        x, y = primals
        tx, ty = tangents
        # MLX passes None for an argument without a tangent, Ember zeros: accept both
        ty = mx.zeros_like(y) if ty is None else ty
        return 100.0 * tx + 1000.0 * ty

    x, y = A([1.0, 2.0]), A([3.0, 4.0])
    out, t = mx.jvp(f, [x, y], [A([1.0, 0.0]), A([0.0, 1.0])])
    close(out[0], [3.0, 8.0])
    close(t[0], [100.0, 1000.0])
    assert calls == [2]
    # only one argument carries a tangent: the other one is passed as zeros
    out, t = mx.jvp(lambda x: f(x, y), [x], [A([1.0, 1.0])])
    close(t[0], [100.0, 100.0])


@isolated
def test_custom_vmap_used_under_vmap():
    calls = []

    @mx.custom_function
    def f(x, y):
        return x + y

    @f.vmap
    def f_vmap(inputs, axes):
        calls.append(tuple(axes))
        x, y = inputs
        ax = axes[0]
        y = y if axes[1] is None else mx.moveaxis(y, axes[1], ax)
        return x * 0 + 7.0 + y * 0, ax

    x = A(np.arange(6.0).reshape(3, 2))
    y = A([10.0, 20.0])
    out = mx.vmap(f, in_axes=(0, None))(x, y)
    assert tuple(out.shape) == (3, 2)
    close(out, np.full((3, 2), 7.0))
    assert calls == [(0, None)]
    out = mx.vmap(f, in_axes=(1, 0))(x, A(np.ones((2, 3))))
    assert tuple(out.shape) == (2, 3)
    assert calls[-1] == (1, 0)
    # unbatched call uses the function itself
    close(f(x, y), N(x) + [10.0, 20.0])


@isolated
def test_custom_function_functional_form():
    fun = lambda x, s: x * s
    f = mx.custom_function(
        fun,
        # the functional form hands the rules lists (one entry per argument / output)
        fun_vjp=lambda primals, cotangents, outputs: [cotangents[0] * 5.0, mx.sum(cotangents[0]) * 0.5],
        fun_jvp=lambda primals, tangents: tangents[0] * 6.0,
        fun_vmap=lambda inputs, axes: (inputs[0] * 3.0, axes[0]),
    )
    x, s = A([1.0, 2.0]), A(2.0)
    close(f(x, s), [2.0, 4.0])
    gx, gs = mx.grad(lambda x, s: mx.sum(f(x, s)), argnums=(0, 1))(x, s)
    close(gx, [5.0, 5.0])
    close(gs, 1.0)
    close(mx.jvp(f, [x, s], [A([1.0, 1.0]), A(0.0)])[1][0], [6.0, 6.0])
    close(mx.vmap(f, in_axes=(0, None))(A([[1.0, 2.0], [3.0, 4.0]]), s),
          [[3.0, 6.0], [9.0, 12.0]])


@isolated
def test_seed_custom_function_example():
    def my_fun(x):
        return x * 2

    def my_vjp(primals, cotangents, outputs):
        # Custom backward pass
        return [c * 2 for c in cotangents]

    custom_f = mx.custom_function(my_fun, fun_vjp=my_vjp)
    x = mx.array([3.0])
    close(custom_f(x), [6.0])
    close(mx.grad(lambda x: mx.sum(custom_f(x)))(x), [2.0])


@isolated
def test_custom_vjp_multiple_outputs_and_tree_args():
    @mx.custom_function
    def f(p, s):
        return p["a"] * p["b"] * s, p["a"] + p["b"]

    @f.vjp
    def f_vjp(primals, cotangents, outputs):
        p, s = primals
        c1, c2 = cotangents
        assert isinstance(p, dict) and isinstance(outputs, (tuple, list))
        return {"a": c1 * 0 + 1.0, "b": c2 * 0 + 2.0}, mx.sum(c1) * 0 + 3.0

    p = {"a": A([1.0, 2.0]), "b": A([3.0, 4.0])}
    s = A(1.0)
    g, gs = mx.grad(lambda p, s: mx.sum(f(p, s)[0]) + mx.sum(f(p, s)[1]),
                    argnums=(0, 1))(p, s)
    close(g["a"], [2.0, 2.0])
    close(g["b"], [4.0, 4.0])
    close(gs, 6.0)


@isolated
def test_custom_vjp_second_order_and_vmap_of_grad():
    # the vjp rule is made of differentiable and batchable ops
    @mx.custom_function
    def f(x, s):
        return mx.sin(x) * s

    @f.vjp
    def f_vjp(primals, cotangent, output):
        x, s = primals
        return cotangent * mx.cos(x) * s, mx.sum(cotangent * mx.sin(x))

    one = A(1.0)
    x = A([0.3, 1.1])
    close(mx.grad(lambda x: mx.sum(mx.grad(lambda x: mx.sum(f(x, one)))(x)))(x),
          -np.sin([0.3, 1.1]), 1e-7)
    g = mx.vmap(mx.grad(lambda x: mx.sum(f(x, one))), in_axes=0)(A([[0.3, 1.1], [2.0, -1.0]]))
    close(g, np.cos([[0.3, 1.1], [2.0, -1.0]]), 1e-7)


@isolated
def test_custom_function_single_argument_rule_convention():
    # MLX passes a single-argument function's primals / tangents / inputs / axes unwrapped
    seen = []

    @mx.custom_function
    def f(x):
        return mx.sin(x)

    @f.vjp
    def f_vjp(primals, cotangent, output):
        seen.append(("vjp", type(primals).__name__))
        return cotangent * mx.cos(primals)

    @f.jvp
    def f_jvp(primals, tangents):
        seen.append(("jvp", type(primals).__name__, type(tangents).__name__))
        return tangents * mx.cos(primals)

    @f.vmap
    def f_vmap(inputs, axes):
        seen.append(("vmap", type(inputs).__name__, axes))
        return mx.sin(inputs), axes

    x = A([0.5, 1.5])
    g = mx.grad(lambda x: mx.sum(f(x)))(x)
    _, t = mx.jvp(f, [x], [mx.ones_like(x)])
    v = mx.vmap(f)(A([[0.5, 1.5], [2.0, 3.0]]))
    assert seen == [("vjp", "array"), ("jvp", "array", "array"), ("vmap", "array", 0)], seen
    close(g, np.cos([0.5, 1.5]))
    close(t[0], np.cos([0.5, 1.5]))
    close(v, np.sin([[0.5, 1.5], [2.0, 3.0]]))


@isolated
def test_custom_functions_chained_then_evaluated():
    f = mx.custom_function(mx.sin)
    x = mx.ones((3,))
    g = mx.grad(lambda x: mx.sum(f(f(x))))(x)
    mx.eval(g)
    close(g, np.cos(np.sin(1.0)) * np.cos(1.0) * np.ones(3), 1e-6)


@isolated
def test_custom_function_as_method():
    class M:
        def __init__(self, s):
            self.s = s

        @mx.custom_function
        def scale(self, x):
            return x * self.s

    m = M(A(3.0))
    close(m.scale(A([1.0, 2.0])), [3.0, 6.0])
    close(mx.grad(lambda x: mx.sum(m.scale(x)))(A([1.0, 2.0])), [3.0, 3.0])


# ====================================================================== checkpoint


def _chain(x, n):
    for i in range(n):
        x = mx.sin(x) * 1.01 + 0.1 if i % 2 == 0 else mx.exp(-x * x) + x
    return x


@isolated
def test_checkpoint_same_values_and_gradients():
    rng = np.random.default_rng(1)
    x = A(rng.normal(size=(7,)))
    blk = mx.checkpoint(lambda x: _chain(x, 5))
    f_plain = lambda x: mx.sum(_chain(_chain(x, 5), 5) ** 2)
    f_ckpt = lambda x: mx.sum(blk(blk(x)) ** 2)
    v1, g1 = mx.value_and_grad(f_plain)(x)
    v2, g2 = mx.value_and_grad(f_ckpt)(x)
    mx.eval(v1, g1, v2, g2)
    close(v2, N(v1), 1e-12)
    close(g2, N(g1), 1e-12)
    # jvp, vmap and second order through a checkpoint
    _, t1 = mx.jvp(lambda x: _chain(x, 5), [x], [mx.ones_like(x)])
    _, t2 = mx.jvp(blk, [x], [mx.ones_like(x)])
    close(t2[0], N(t1[0]), 1e-12)
    X = A(rng.normal(size=(3, 7)))
    close(mx.vmap(blk)(X), N(_chain(X, 5)), 1e-12)
    h1 = mx.grad(lambda x: mx.sum(mx.grad(lambda x: mx.sum(_chain(x, 5)))(x)))(x)
    h2 = mx.grad(lambda x: mx.sum(mx.grad(lambda x: mx.sum(blk(x)))(x)))(x)
    close(h2, N(h1), 1e-10)


@isolated
def test_checkpoint_with_multiple_args_and_outputs():
    f = lambda x, w: (mx.tanh(x @ w), mx.sum(w ** 2))
    cf = mx.checkpoint(f)
    x = A(np.arange(6.0).reshape(2, 3) / 10)
    w = A(np.arange(12.0).reshape(3, 4) / 10 - 0.5)
    loss = lambda f: (lambda x, w: mx.sum(f(x, w)[0] ** 2) + f(x, w)[1])
    g1 = mx.grad(loss(f), argnums=(0, 1))(x, w)
    g2 = mx.grad(loss(cf), argnums=(0, 1))(x, w)
    close(g2[0], N(g1[0]), 1e-12)
    close(g2[1], N(g1[1]), 1e-12)


@isolated
def test_checkpoint_lowers_peak_memory():
    n = 1 << 20  # 4 MiB per float32 intermediate

    def block(x):
        for _ in range(5):
            x = mx.sin(x) * 1.01 + 0.1
        return x

    cblock = mx.checkpoint(block)

    def plain(x):
        for _ in range(4):
            x = block(x)
        return mx.sum(x)

    def ckpt(x):
        for _ in range(4):
            x = cblock(x)
        return mx.sum(x)

    x = mx.random.normal((n,))
    mx.eval(x)
    peaks, grads = {}, {}
    for name, f in [("plain", plain), ("ckpt", ckpt)]:
        mx.reset_peak_memory()
        base = mx.get_active_memory()
        g = mx.grad(f)(x)
        mx.eval(g)
        peaks[name] = mx.get_peak_memory() - base
        grads[name] = N(g)
        del g
    np.testing.assert_allclose(grads["ckpt"], grads["plain"], rtol=1e-5, atol=1e-6)
    # MLX 0.32 on CPU: plain 113 MB, checkpointed 101 MB
    assert peaks["ckpt"] < 0.95 * peaks["plain"], peaks


def test_checkpoint_plain_call_and_peak_memory_api():
    mx.reset_peak_memory()
    y = mx.ones((1000,)) * 2
    mx.eval(y)
    assert mx.get_peak_memory() >= 4000
    mx.reset_peak_memory()
    assert mx.get_peak_memory() <= mx.get_active_memory() + 4096


# ====================================================================== errors


X = A([1.0, 2.0, 3.0])


def test_error_grad_non_scalar_output():
    with pytest.raises(ValueError, match=r"grad"):
        mx.grad(lambda x: x * 2)(X)
    with pytest.raises(ValueError, match=r"grad"):
        mx.value_and_grad(lambda x: (x * 2, x))(X)


def test_error_grad_size_one_but_not_scalar():
    with pytest.raises(ValueError):
        mx.grad(lambda x: mx.sum(x, keepdims=True))(X)


def test_error_argnums_out_of_range():
    with pytest.raises(ValueError, match=r"grad"):
        mx.grad(lambda x: mx.sum(x), argnums=1)(X)
    with pytest.raises(ValueError, match=r"grad"):
        mx.grad(lambda x, y: mx.sum(x * y), argnums=(0, 2))(X, X)
    with pytest.raises(ValueError, match=r"grad"):
        mx.value_and_grad(lambda x: mx.sum(x), argnums=5)(X)
    with pytest.raises(ValueError, match=r"grad"):
        mx.grad(lambda x, y: mx.sum(x * y), argnums=-1)(X, X)


def test_error_duplicate_or_empty_argnums():
    with pytest.raises(ValueError, match=r"grad"):
        mx.grad(lambda x: mx.sum(x), argnums=(0, 0))(X)
    with pytest.raises(ValueError, match=r"grad"):
        mx.grad(lambda x: mx.sum(x), argnums=())(X)


def test_error_missing_argname():
    with pytest.raises(ValueError, match=r"grad"):
        mx.grad(lambda x, y=None: mx.sum(x), argnames="y")(X)


@pytest.mark.parametrize("ret", [None, 1.0, "s", ("s", 1)], ids=["None", "float", "str", "tuple"])
def test_error_grad_function_returns_non_array(ret):
    with pytest.raises(ValueError, match=r"grad"):
        mx.grad(lambda x: ret)(X)


@pytest.mark.parametrize("ret", [None, 3, "s", []], ids=["None", "int", "str", "empty"])
def test_error_vjp_jvp_vmap_function_returns_non_array(ret):
    with pytest.raises(ValueError, match=r"vjp"):
        mx.vjp(lambda x: ret, [X], [X])
    with pytest.raises(ValueError, match=r"jvp"):
        mx.jvp(lambda x: ret, [X], [X])
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda x: ret)(X)


def test_error_outputs_mixing_arrays_and_non_arrays():
    with pytest.raises((ValueError, TypeError), match=r"vjp"):
        mx.vjp(lambda x: [x * 2, 3.0], [X], [X])
    with pytest.raises((ValueError, TypeError), match=r"jvp"):
        mx.jvp(lambda x: (x * 2, "s"), [X], [X])
    with pytest.raises((ValueError, TypeError), match=r"vmap"):
        mx.vmap(lambda x: (x * 2, 1.0))(X)


def test_error_grad_of_non_array_argument():
    # the gradient with respect to a Python float is undefined: MLX raises
    with pytest.raises((ValueError, TypeError)):
        mx.grad(lambda x: mx.sum(mx.array(x) * 2))(2.0)


def test_error_non_array_primals():
    with pytest.raises((ValueError, TypeError), match=r"vjp"):
        mx.vjp(lambda x: x * 2, [1.0], [X])
    with pytest.raises((ValueError, TypeError), match=r"jvp"):
        mx.jvp(lambda x: x * 2, [X], ["t"])


def test_error_cotangents_wrong_count_or_shape():
    with pytest.raises(ValueError, match=r"vjp"):
        mx.vjp(lambda x: x * 2, [X], [X, X])
    with pytest.raises(ValueError, match=r"vjp"):
        mx.vjp(lambda x: (x * 2, x), [X], [X])
    with pytest.raises(ValueError, match=r"vjp"):
        mx.vjp(lambda x: x * 2, [X], [mx.ones((2,))])
    with pytest.raises(ValueError, match=r"vjp"):
        mx.vjp(lambda x: x * 2, [X], [mx.ones((1,))])
    with pytest.raises(ValueError, match=r"vjp"):
        mx.vjp(lambda x: x * 2, [X], [mx.ones((3, 1))])
    _, vjp_fn = mx.vjp(lambda x: x * 2, [X])
    with pytest.raises(ValueError, match=r"vjp"):
        vjp_fn(mx.ones((4,)))


def test_error_tangents_wrong_count_or_shape():
    with pytest.raises(ValueError, match=r"jvp"):
        mx.jvp(lambda x: x * 2, [X], [X, X])
    with pytest.raises(ValueError, match=r"jvp"):
        mx.jvp(lambda x, y: x * y, [X, X], [X])
    with pytest.raises(ValueError, match=r"jvp"):
        mx.jvp(lambda x: x * 2, [X], [mx.ones((2,))])
    with pytest.raises(ValueError, match=r"jvp"):
        mx.jvp(lambda x: x * 2, [X], [mx.ones((3, 1))])


def test_error_vmap_in_axes_do_not_match_arguments():
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda x, y: x + y, in_axes=(0,))(X, X)
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda x, y: x + y, in_axes=(0, 0, 0))(X, X)
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda d: d["a"], in_axes=({"b": 0},))({"a": X})
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda t: t[0], in_axes=([0, 0, 0],))([X, X])
    with pytest.raises((ValueError, TypeError), match=r"vmap"):
        mx.vmap(lambda x: x, in_axes="a")(X)
    with pytest.raises((ValueError, TypeError), match=r"vmap"):
        mx.vmap(lambda x: x, in_axes=0.0)(X)


def test_error_vmap_out_axes_do_not_match_outputs():
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda x: (x, x), out_axes=(0, 0, 0))(X)
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda x: x, out_axes=2)(X)
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda x: x, out_axes=-3)(mx.ones((3, 2)))


def test_error_vmap_out_axes_none_for_batched_output():
    # a batched output can't be returned unbatched
    with pytest.raises((ValueError, TypeError), match=r"vmap"):
        mx.vmap(lambda x: x * 2, out_axes=None)(mx.ones((3, 2)))


def test_error_vmap_inconsistent_batch_sizes():
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda x, y: x + y)(X, mx.ones((4,)))
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda x, y: x + y, in_axes=(0, 1))(mx.ones((3, 2)), mx.ones((3, 2)))
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda t: t[0] + t[1])([mx.ones((2,)), mx.ones((5,))])


def test_error_vmap_axis_out_of_range():
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda x: x, in_axes=1)(X)
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda x: x, in_axes=-2)(X)
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda x: x * 2)(mx.array(1.0))


def test_error_vmap_nothing_batched():
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda x: x * 2, in_axes=None)(X)
    with pytest.raises(ValueError, match=r"vmap"):
        mx.vmap(lambda: X * 2)()


def test_error_missing_vmap_rule():
    with pytest.raises(ValueError, match=r"vmap not implemented"):
        mx.vmap(lambda a: mx.as_strided(a, (2,), (1,)))(mx.ones((3, 4)))


def test_errors_leave_transforms_usable():
    # a failed transformation must not leave tracer state behind
    with pytest.raises(ValueError):
        mx.grad(lambda x: x * 2)(X)
    with pytest.raises(ValueError):
        mx.vmap(lambda x, y: x + y)(X, mx.ones((4,)))
    with pytest.raises(ValueError):
        mx.vjp(lambda x: x * 2, [X], [X, X])
    close(mx.grad(lambda x: mx.sum(x ** 2))(X), [2.0, 4.0, 6.0])
    close(mx.vmap(lambda x: x * 2)(X), [2.0, 4.0, 6.0])
    y = X * 3
    mx.eval(y)
    close(y, [3.0, 6.0, 9.0])


@isolated
def test_error_custom_vjp_wrong_number_of_cotangents():
    f = mx.custom_function(lambda x, y: x * y,
                           fun_vjp=lambda primals, cotangent, output: (cotangent,))
    with pytest.raises(ValueError, match=r"custom_function"):
        mx.grad(lambda x: mx.sum(f(x, X)))(X)


@isolated
def test_error_custom_vmap_rule_bad_return():
    f = mx.custom_function(lambda x: x * 2, fun_vmap=lambda inputs, axes: inputs[0])
    with pytest.raises(ValueError, match=r"custom_function"):
        mx.vmap(f)(mx.ones((3, 2)))
