"""Convolutions (conv1d/2d/3d, conv_general, conv_transpose1d/2d/3d, convolve) compared with
the real MLX (values, gradients), numpy (convolve), finite differences, vmap and compile.

Layout is channels last: input (N, ..., C_in), weight (C_out, ..., C_in / groups).
"""
import numpy as np
import pytest

import ember.core as mx

NAMES = ["conv1d", "conv2d", "conv3d", "conv_general", "conv_transpose1d",
         "conv_transpose2d", "conv_transpose3d", "convolve"]


def rnd(shape, seed, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def np_of(x):
    return np.array(x.astype(mx.float32)) if x.dtype in (mx.bfloat16,) else np.array(x)


# (op, input shape, weight shape, kwargs)
CASES = [
    ("conv1d", (2, 9, 4), (6, 3, 4), {}),
    ("conv1d", (2, 9, 4), (6, 3, 4), dict(stride=2, padding=1)),
    ("conv1d", (1, 12, 6), (4, 3, 3), dict(groups=2, dilation=2)),
    ("conv1d", (3, 7, 8), (8, 1, 1), dict(groups=8, padding=2)),  # depthwise, pointwise
    ("conv1d", (2, 10, 5), (7, 1, 5), {}),  # 1x1
    ("conv1d", (2, 8, 4), (6, 3, 4), dict(padding=-1)),
    ("conv2d", (2, 8, 7, 3), (5, 3, 3, 3), dict(padding=1)),
    ("conv2d", (2, 9, 8, 4), (6, 3, 2, 2), dict(stride=(2, 1), padding=(1, 0), groups=2)),
    ("conv2d", (1, 10, 10, 4), (4, 3, 3, 1), dict(groups=4, dilation=(2, 1), padding=2)),
    ("conv2d", (2, 12, 12, 16), (32, 3, 3, 16), dict(padding=1)),  # GEMM path
    ("conv2d", (2, 11, 9, 6), (9, 2, 3, 2), dict(stride=2, groups=3, dilation=(1, 2))),
    ("conv3d", (2, 5, 6, 4, 3), (4, 2, 3, 2, 3), dict(padding=(1, 0, 1))),
    ("conv3d", (1, 6, 6, 6, 4), (4, 3, 3, 3, 2), dict(stride=(1, 2, 2), groups=2, dilation=(1, 1, 2))),
    ("conv_general", (2, 9, 4), (6, 3, 4), dict(padding=([1], [2]))),
    ("conv_general", (2, 9, 4), (6, 3, 4), dict(input_dilation=2, kernel_dilation=2, stride=2)),
    ("conv_general", (2, 9, 4), (6, 3, 4), dict(flip=True, padding=([2], [0]))),
    ("conv_general", (2, 8, 7, 4), (6, 3, 2, 2), dict(padding=([1, 0], [0, 2]), input_dilation=(2, 1),
                                                        groups=2, flip=True)),
    ("conv_general", (1, 8, 4), (6, 3, 4), dict(padding=([-1], [2]), input_dilation=2)),
    ("conv_general", (2, 6, 5, 4, 2), (3, 2, 2, 3, 2), dict(padding=([0, 1, 1], [1, 0, 2]), stride=[1, 2, 1],
                                                              kernel_dilation=[2, 1, 1], flip=True)),
    ("conv_transpose1d", (2, 8, 4), (6, 3, 4), {}),
    ("conv_transpose1d", (2, 8, 4), (6, 3, 4), dict(stride=2, padding=1, output_padding=1)),
    ("conv_transpose1d", (2, 8, 4), (6, 3, 2), dict(groups=2, dilation=2, stride=3)),
    ("conv_transpose1d", (2, 8, 4), (6, 3, 4), dict(padding=3)),
    ("conv_transpose2d", (2, 5, 6, 4), (3, 3, 3, 4), dict(stride=2, padding=1, output_padding=1)),
    ("conv_transpose2d", (1, 5, 5, 4), (6, 2, 3, 2), dict(stride=(2, 3), dilation=(1, 2), groups=2)),
    ("conv1d", (2, 6, 8), (8, 1, 4), dict(groups=2)),  # 1x1 with groups (GEMM per group)
    ("conv2d", (4, 10, 10, 8), (8, 3, 3, 4), dict(groups=2, padding=1)),  # im2col GEMM with groups
    ("conv_transpose2d", (2, 8, 8, 16), (16, 3, 3, 16), dict(stride=2, padding=1, output_padding=1)),
    ("conv2d", (2, 12, 12, 16), (16, 3, 3, 8), dict(stride=2, padding=1, groups=2)),  # phased input grad
    ("conv_general", (2, 9, 8, 8), (12, 3, 2, 8), dict(input_dilation=(3, 2), stride=(2, 1), flip=True,
                                                      padding=([2, 1], [0, 3]))),  # phased GEMM
    ("conv_transpose3d", (1, 3, 4, 3, 2), (3, 2, 2, 3, 2), dict(stride=(2, 1, 2), padding=(0, 1, 1),
                                                                  output_padding=(1, 0, 1))),
]


def ids(cases):
    return [f"{c[0]}-{i}" for i, c in enumerate(cases)]


@pytest.fixture(scope="module")
def mlx():
    return pytest.importorskip("mlx.core")


def run(lib, op, x, w, kw, dtype="float32"):
    a = lib.array(x).astype(getattr(lib, dtype))
    b = lib.array(w).astype(getattr(lib, dtype))
    groups = kw.get("groups", 1)
    if lib is not mx and op == "conv3d" and groups > 1:
        # MLX has no grouped 3-D convolution (Ember does): the reference is one
        # convolution per group, concatenated along the channels.
        cig, cog = a.shape[-1] // groups, b.shape[0] // groups
        rest = {k: v for k, v in kw.items() if k != "groups"}
        return lib.concatenate([lib.conv3d(a[..., g * cig:(g + 1) * cig], b[g * cog:(g + 1) * cog], **rest)
                                for g in range(groups)], axis=-1)
    return getattr(lib, op)(a, b, **kw)


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_forward_vs_mlx(mlx, case):
    op, xs, ws, kw = case
    x, w = rnd(xs, 1), rnd(ws, 2)
    got = run(mx, op, x, w, kw)
    want = run(mlx, op, x, w, kw)
    assert got.shape == tuple(want.shape) and got.dtype == mx.float32
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype,tol", [("float16", 2e-2), ("bfloat16", 1e-1), ("float64", 1e-4)])
@pytest.mark.parametrize("case", CASES[::4], ids=ids(CASES[::4]))
def test_dtypes_vs_mlx(mlx, case, dtype, tol):
    op, xs, ws, kw = case
    x, w = rnd(xs, 3), rnd(ws, 4)
    got = run(mx, op, x, w, kw, dtype)
    # MLX's CPU convolution takes float64 only in 1-D (and computes it in float32): the
    # float64 reference is its float32 result; float64 accuracy is checked by
    # test_float64_precision and the finite-difference tests.
    want = run(mlx, op, x, w, kw, "float32" if dtype == "float64" else dtype)
    assert got.dtype == getattr(mx, dtype)
    np.testing.assert_allclose(np_of(got), np.array(want.astype(mlx.float32)), rtol=tol, atol=tol)


def test_float64_precision():
    # conv1d as an explicit sum in float64 (numpy), to double precision.
    x, w = rnd((2, 9, 4), 5, np.float64), rnd((6, 3, 2), 6, np.float64)
    got = np.array(mx.conv1d(mx.array(x, dtype=mx.float64), mx.array(w, dtype=mx.float64), stride=2,
                             padding=1, groups=2))
    xp = np.pad(x, ((0, 0), (1, 1), (0, 0)))
    want = np.zeros((2, 5, 6))
    for o in range(5):
        for co in range(6):
            g = co // 3
            want[:, o, co] = np.einsum("nki,ki->n", xp[:, 2 * o:2 * o + 3, 2 * g:2 * g + 2], w[co])
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


def test_mixed_dtype_promotion(mlx):
    x, w = rnd((2, 6, 3), 0), rnd((4, 3, 3), 1)
    for a, b in [("float16", "float32"), ("bfloat16", "float16"), ("float16", "float16")]:
        got = mx.conv1d(mx.array(x).astype(getattr(mx, a)), mx.array(w).astype(getattr(mx, b)))
        want = mlx.conv1d(mlx.array(x).astype(getattr(mlx, a)), mlx.array(w).astype(getattr(mlx, b)))
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n,m", [(7, 3), (3, 7), (5, 5), (6, 4), (1, 1), (2, 9)])
def test_convolve(mlx, mode, n, m):
    a, v = rnd(n, 5), rnd(m, 6)
    got = np.array(mx.convolve(mx.array(a), mx.array(v), mode=mode))
    np.testing.assert_allclose(got, np.convolve(a, v, mode=mode), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, np.array(mlx.convolve(mlx.array(a), mlx.array(v), mode=mode)),
                               rtol=1e-5, atol=1e-5)


def test_noncontiguous_inputs():
    x = rnd((2, 5, 7, 3), 7)
    w = rnd((4, 3, 3, 3), 8)
    xt = mx.transpose(mx.array(np.ascontiguousarray(x.transpose(0, 2, 1, 3))), (0, 2, 1, 3))
    ws = mx.array(np.concatenate([w, w], axis=0))[::2]
    got = mx.conv2d(xt, ws, padding=1)
    want = mx.conv2d(mx.array(x), mx.array(np.concatenate([w, w], axis=0)[::2]), padding=1)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-5, atol=1e-5)


def test_empty():
    assert mx.conv1d(mx.zeros((0, 8, 4)), mx.ones((6, 3, 4))).shape == (0, 6, 6)
    assert mx.conv1d(mx.ones((2, 8, 4)), mx.ones((0, 3, 4))).shape == (2, 6, 0)
    out = mx.conv1d(mx.ones((2, 0, 4)), mx.ones((3, 3, 4)), padding=2)
    assert out.shape == (2, 2, 3) and np.all(np.array(out) == 0)


# ---------- gradients

# MLX's input gradient of a strided conv_transpose3d with output_padding has the wrong shape
# (it drops the output padding): that case is checked against finite differences instead.
# The same holds for conv_general with input dilation and uneven high padding. Those cases
# are checked with the adjoint identity (test_grads_adjoint) and finite differences.
MLX_BAD_GRADS = [c for c in CASES if c[0] == "conv_transpose3d" or
                 (c[0] == "conv_general" and "input_dilation" in c[3] and "flip" in c[3])]
GRAD_CASES = [c for i, c in enumerate(CASES)
              if (i % 2 == 0 or c[0].startswith("conv_general")) and c not in MLX_BAD_GRADS]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_grads_adjoint(case):
    # A convolution is linear in each argument, so for any direction d:
    # <grad_x, d> = <ct, conv(d, w)> and <grad_w, d> = <ct, conv(x, d)>.
    op, xs, ws, kw = case
    x, w = rnd(xs, 14, np.float64), rnd(ws, 15, np.float64)
    A = lambda v: mx.array(v, dtype=mx.float64)
    ct = rnd(tuple(run(mx, op, x, w, kw, "float64").shape), 16, np.float64)
    f = lambda a, b: (getattr(mx, op)(a, b, **kw) * A(ct)).sum()
    gx, gw = mx.grad(f, argnums=(0, 1))(A(x), A(w))
    assert gx.shape == x.shape and gw.shape == w.shape
    for seed in (17, 18):
        dx, dw = rnd(xs, seed, np.float64), rnd(ws, seed + 10, np.float64)
        np.testing.assert_allclose((np.array(gx) * dx).sum(), f(A(dx), A(w)).item(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose((np.array(gw) * dw).sum(), f(A(x), A(dw)).item(), rtol=1e-9, atol=1e-9)


def grads(lib, op, x, w, kw, ct, dtype="float32"):
    def f(a, b):
        return (run(lib, op, a, b, kw, dtype) * lib.array(ct).astype(getattr(lib, dtype))).sum()
    a = lib.array(x).astype(getattr(lib, dtype))
    b = lib.array(w).astype(getattr(lib, dtype))
    return lib.grad(f, argnums=(0, 1))(a, b)


@pytest.mark.parametrize("case", GRAD_CASES, ids=ids(GRAD_CASES))
def test_grads_vs_mlx(mlx, case):
    op, xs, ws, kw = case
    x, w = rnd(xs, 11), rnd(ws, 12)
    out_shape = run(mx, op, x, w, kw).shape
    ct = rnd(out_shape, 13)
    gx, gw = grads(mx, op, x, w, kw, ct)
    hx, hw = grads(mlx, op, x, w, kw, ct)
    np.testing.assert_allclose(np.array(gx), np.array(hx), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.array(gw), np.array(hw), rtol=1e-4, atol=1e-4)


FD_CASES = [
    ("conv_general", (1, 5, 2), (2, 3, 2), dict(stride=2, padding=([1], [2]), kernel_dilation=1,
                                               input_dilation=2, flip=True)),
    ("conv_general", (2, 4, 5, 2), (2, 2, 3, 1), dict(stride=[2, 1], padding=([0, 2], [1, 0]),
                                                      kernel_dilation=[1, 2], groups=2)),
    ("conv_transpose1d", (1, 4, 2), (3, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    ("conv_transpose3d", (1, 2, 3, 2, 1), (2, 2, 2, 2, 1), dict(stride=(2, 1, 2), padding=(0, 1, 1),
                                                                output_padding=(1, 0, 1))),
]


@pytest.mark.parametrize("case", FD_CASES, ids=ids(FD_CASES))
def test_grads_finite_differences(case):
    op, xs, ws, kw = case
    x, w = rnd(xs, 21, np.float64), rnd(ws, 22, np.float64)
    ct = rnd(tuple(run(mx, op, x, w, kw, "float64").shape), 23, np.float64)

    def f(a, b):
        return (getattr(mx, op)(a, b, **kw) * mx.array(ct, dtype=mx.float64)).sum()

    A = lambda v: mx.array(v, dtype=mx.float64)

    gx, gw = mx.grad(f, argnums=(0, 1))(A(x), A(w))
    eps = 1e-6
    for arr, g, which in [(x, gx, 0), (w, gw, 1)]:
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            p, m = arr.copy(), arr.copy()
            p[idx] += eps
            m[idx] -= eps
            args_p = (p, w) if which == 0 else (x, p)
            args_m = (m, w) if which == 0 else (x, m)
            num[idx] = (f(*map(A, args_p)).item() - f(*map(A, args_m)).item()) / (2 * eps)
        np.testing.assert_allclose(np.array(g), num, rtol=1e-6, atol=1e-7)


def test_second_order_vs_mlx(mlx):
    x, w = rnd((2, 7, 3), 31), rnd((4, 3, 3), 32)

    def make(lib):
        def f(a, b):
            return (lib.conv1d(a, b, stride=2, padding=1) ** 2).sum()

        def g(a, b):
            gx, gw = lib.grad(f, argnums=(0, 1))(a, b)
            return (gx * gx).sum() + (lib.sin(gw)).sum()
        return lib.grad(g, argnums=(0, 1))(lib.array(x), lib.array(w))

    for e, m in zip(make(mx), make(mlx)):
        np.testing.assert_allclose(np.array(e), np.array(m), rtol=1e-3, atol=1e-3)


def test_jvp(mlx):
    # MLX has no forward-mode rule for convolutions: the reference tangent is
    # conv(tx, w) + conv(x, tw) computed by MLX's forward.
    x, w = rnd((2, 6, 6, 2), 41), rnd((4, 3, 3, 1), 42)
    tx, tw = rnd(x.shape, 43), rnd(w.shape, 44)
    kw = dict(stride=(1, 2), padding=1, groups=2)
    f = lambda a, b: mx.conv2d(a, b, **kw)
    (eo,), (et,) = mx.jvp(f, [mx.array(x), mx.array(w)], [mx.array(tx), mx.array(tw)])
    M = mlx.array
    mo = mlx.conv2d(M(x), M(w), **kw)
    mt = mlx.conv2d(M(tx), M(w), **kw) + mlx.conv2d(M(x), M(tw), **kw)
    np.testing.assert_allclose(np.array(eo), np.array(mo), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.array(et), np.array(mt), rtol=1e-4, atol=1e-4)
    # jvp of grad (forward over reverse) against a central difference of the gradient.
    g = mx.grad(lambda a: (f(a, mx.array(w)) ** 2).sum())
    _, (hv,) = mx.jvp(g, [mx.array(x)], [mx.array(tx)])
    eps = 1e-2
    fd = (np.array(g(mx.array(x + eps * tx))) - np.array(g(mx.array(x - eps * tx)))) / (2 * eps)
    np.testing.assert_allclose(np.array(hv), fd, rtol=1e-3, atol=1e-3)


# ---------- vmap

@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (0, 0), (2, 1)])
@pytest.mark.parametrize("groups", [1, 2])
def test_vmap_vs_loop(in_axes, groups):
    B = 3
    xs, ws = (2, 7, 4), (6, 3, 4 // groups)
    x = rnd((B,) + xs, 51)
    w = rnd((B,) + ws, 52)
    xa, wa = in_axes
    xb = np.moveaxis(x, 0, xa) if xa is not None else x[0]
    wb = np.moveaxis(w, 0, wa) if wa is not None else w[0]
    f = lambda a, b: mx.conv1d(a, b, stride=2, padding=1, groups=groups)
    got = np.array(mx.vmap(f, in_axes=in_axes)(mx.array(xb), mx.array(wb)))
    for i in range(B):
        xi = x[i] if xa is not None else x[0]
        wi = w[i] if wa is not None else w[0]
        np.testing.assert_allclose(got[i], np.array(f(mx.array(xi), mx.array(wi))), rtol=1e-5, atol=1e-5)


def test_vmap_of_grad_and_nested():
    B = 2
    x, w = rnd((B, 3, 6, 2), 61), rnd((B, 3, 3, 2), 62)

    def loss(a, b):
        return (mx.conv1d(a, b, padding=1) ** 2).sum()

    gx, gw = mx.vmap(mx.grad(loss, argnums=(0, 1)))(mx.array(x), mx.array(w))
    for i in range(B):
        ex, ew = mx.grad(loss, argnums=(0, 1))(mx.array(x[i]), mx.array(w[i]))
        np.testing.assert_allclose(np.array(gx[i]), np.array(ex), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.array(gw[i]), np.array(ew), rtol=1e-4, atol=1e-4)
    # vmap of vmap: two batch levels on input and kernel.
    x2, w2 = rnd((2, 2, 1, 6, 2), 63), rnd((2, 2, 3, 3, 2), 64)
    f = lambda a, b: mx.conv1d(a, b)
    got = np.array(mx.vmap(mx.vmap(f))(mx.array(x2), mx.array(w2)))
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(got[i, j], np.array(f(mx.array(x2[i, j]), mx.array(w2[i, j]))),
                                       rtol=1e-5, atol=1e-5)


# ---------- compile

def test_compile_and_shapeless():
    w = mx.array(rnd((4, 3, 3, 2), 71))

    def f(a):
        return mx.conv2d(a, w, stride=2, padding=1) + mx.conv2d(a, w, stride=2, padding=1)

    x = mx.array(rnd((2, 8, 7, 2), 72))
    np.testing.assert_allclose(np.array(mx.compile(f)(x)), np.array(f(x)), rtol=1e-5, atol=1e-5)
    cf = mx.compile(f, shapeless=True)
    for shape in [(2, 8, 7, 2), (3, 5, 9, 2)]:
        xi = mx.array(rnd(shape, 73))
        np.testing.assert_allclose(np.array(cf(xi)), np.array(f(xi)), rtol=1e-5, atol=1e-5)
    g = mx.compile(mx.grad(lambda a: (mx.conv2d(a, w, padding=1) ** 2).sum()))
    h = mx.grad(lambda a: (mx.conv2d(a, w, padding=1) ** 2).sum())
    np.testing.assert_allclose(np.array(g(x)), np.array(h(x)), rtol=1e-4, atol=1e-4)


# ---------- errors

def test_errors(mlx):
    x, w = np.ones((2, 8, 4), np.float32), np.ones((6, 3, 4), np.float32)
    bad = [
        ("conv1d", (x, np.ones((6, 3, 3), np.float32)), {}),
        ("conv1d", (x, np.ones((6, 3, 2), np.float32)), dict(groups=3)),
        ("conv1d", (x, np.ones((5, 3, 2), np.float32)), dict(groups=2)),
        ("conv1d", (x, w), dict(stride=0)),
        ("conv1d", (x, w), dict(dilation=0)),
        ("conv1d", (x, np.ones((6, 20, 4), np.float32)), {}),
        ("conv1d", (np.ones((8, 4), np.float32), w), {}),
        ("conv1d", (x, np.ones((6, 4), np.float32)), {}),
        ("conv2d", (x, w), {}),
        ("conv1d", (x.astype(np.int32), w.astype(np.int32)), {}),
        ("conv_general", (x, w), dict(padding=([1, 2], [2]))),
        ("conv_general", (x, w), dict(stride=[1, 2])),
        ("conv_general", (x, w), dict(input_dilation=0)),
        ("conv_general", (np.ones((2, 3), np.float32), np.ones((2, 3), np.float32)), {}),
        ("conv_transpose1d", (x, np.ones((6, 3, 4), np.float32)), dict(padding=5)),
        ("conv_transpose1d", (x, np.ones((5, 3, 2), np.float32)), dict(groups=2)),
    ]
    for op, args, kw in bad:
        for lib in (mx, mlx):
            with pytest.raises(ValueError):
                getattr(lib, op)(*[lib.array(a) for a in args], **kw)
    with pytest.raises(ValueError, match="conv"):
        mx.conv1d(mx.array(x), mx.array(w), groups=0)
    for a, v, mode in [(np.ones((5, 2)), np.ones(3), "full"), (np.ones(5), np.ones(3), "foo"),
                       (np.ones(0), np.ones(3), "full")]:
        with pytest.raises(ValueError, match="convolve"):
            mx.convolve(mx.array(a.astype(np.float32)), mx.array(v.astype(np.float32)), mode=mode)
    for kw in [dict(stride=2.0), dict(padding=(1,))]:
        with pytest.raises(TypeError):
            mx.conv1d(mx.array(x), mx.array(w), **kw)
    with pytest.raises(TypeError):
        mx.conv2d(mx.ones((1, 5, 5, 2)), mx.ones((3, 2, 2, 2)), stride=(1, 2, 3))
    # Still working afterwards.
    assert mx.conv1d(mx.array(x), mx.array(w)).shape == (2, 6, 6)


def test_negative_padding_shapes(mlx):
    x, w = rnd((2, 8, 4), 81), rnd((6, 3, 4), 82)
    for kw in [dict(padding=-1), dict(padding=([-2], [1]))]:
        op = "conv1d" if "padding" in kw and isinstance(kw["padding"], int) else "conv_general"
        got, want = run(mx, op, x, w, kw), run(mlx, op, x, w, kw)
        np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-5, atol=1e-5)


def _params(line):
    """Parameter names and defaults of a signature line, with positional-only/keyword-only markers."""
    body = line[line.index("(") + 1:line.rindex(")")]
    parts, depth, cur = [], 0, ""
    for ch in body:
        depth += ch in "[(" and 1 or 0
        depth -= ch in "])" and 1 or 0
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    out = []
    for p in parts:
        name = p.split(":")[0].split("=")[0].strip()
        default = p.split("=", 1)[1].strip().strip("'\"") if "=" in p else None
        out.append((name, default))
    return out


def test_signatures(mlx):
    for name in NAMES:
        doc = getattr(mx, name).__doc__.split("\n")[0]
        ref = getattr(mlx, name).__doc__.split("\n")[0]
        assert doc.startswith(name + "(")
        assert _params(doc) == _params(ref), (doc, ref)


def test_float64_gemm_path():
    # Large enough for the BLAS (double) route, with groups and input dilation.
    x, w = rnd((3, 12, 11, 8), 101, np.float64), rnd((6, 3, 3, 4), 102, np.float64)
    kw = dict(padding=([1, 0], [2, 1]), input_dilation=(2, 1), groups=2, stride=(1, 2))
    got = mx.conv_general(mx.array(x, dtype=mx.float64), mx.array(w, dtype=mx.float64), **kw)
    assert got.dtype == mx.float64
    # Reference: dilate and pad with numpy, then an explicit float64 sum.
    xd = np.zeros((3, 23, 11, 8))
    xd[:, ::2] = x
    xp = np.pad(xd, ((0, 0), (1, 2), (0, 1), (0, 0)))
    H, W = (xp.shape[1] - 3) // 1 + 1, (xp.shape[2] - 3) // 2 + 1
    want = np.zeros((3, H, W, 6))
    for g in range(2):
        for i in range(H):
            for j in range(W):
                patch = xp[:, i:i + 3, 2 * j:2 * j + 3, 4 * g:4 * g + 4]
                want[:, i, j, 3 * g:3 * g + 3] = np.einsum("nhwc,ohwc->no", patch, w[3 * g:3 * g + 3])
    np.testing.assert_allclose(np.array(got), want, rtol=1e-12, atol=1e-12)


def test_half_grads_vs_mlx(mlx):
    x, w = rnd((2, 7, 6, 4), 91), rnd((6, 3, 3, 2), 92)
    kw = dict(padding=1, groups=2)
    ct = rnd(tuple(run(mx, "conv2d", x, w, kw).shape), 93)
    for dtype, tol in [("float16", 5e-2), ("bfloat16", 3e-1)]:
        gx, gw = grads(mx, "conv2d", x, w, kw, ct, dtype)
        hx, hw = grads(mlx, "conv2d", x, w, kw, ct, dtype)
        assert gx.dtype == getattr(mx, dtype) and gw.dtype == getattr(mx, dtype)
        np.testing.assert_allclose(np_of(gx), np.array(hx.astype(mlx.float32)), rtol=tol, atol=tol)
        np.testing.assert_allclose(np_of(gw), np.array(hw.astype(mlx.float32)), rtol=tol, atol=tol)


def test_padding_forms_and_stream(mlx):
    x, w = rnd((1, 6, 5, 2), 95), rnd((3, 2, 3, 2), 96)
    for pad in [1, [1, 2], (2, 0), ([1, 0], [0, 2]), ((0, 1), (2, 0))]:
        got = mx.conv_general(mx.array(x), mx.array(w), padding=pad, stream=mx.cpu)
        want = mlx.conv_general(mlx.array(x), mlx.array(w), padding=pad)
        np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError):
        mx.conv_general(mx.array(x), mx.array(w), padding=[(1, 2)])
    with pytest.raises(ValueError):
        mx.conv_general(mx.array(x), mx.array(w), stride=[])


def test_large_single_channel_and_wide_kernel():
    # The line kernel (one channel) and the packed-GEMM path with K beyond one block.
    a, v = rnd(5000, 97), rnd(300, 98)
    np.testing.assert_allclose(np.array(mx.convolve(mx.array(a), mx.array(v))), np.convolve(a, v),
                               rtol=1e-4, atol=1e-3)
    x, w = rnd((3, 40, 33), 99), rnd((19, 9, 33), 100)
    got = np.array(mx.conv1d(mx.array(x), mx.array(w), padding=4))
    xp = np.pad(x, ((0, 0), (4, 4), (0, 0)))
    cols = np.stack([xp[:, k:k + 40] for k in range(9)], axis=2)  # (3, 40, 9, 33)
    want = np.einsum("nlkc,okc->nlo", cols.astype(np.float64), w.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


# ---------- the weight gradient as one correlation of patches with the cotangent

def np_conv2d_wgrad(x, ct, wshape, stride, padding, dilation, groups):
    """d/dw of sum(conv2d(x, w) * ct) in float64, from explicit patches."""
    N, H, W, C = x.shape
    cout, kh, kw, cig = wshape
    cog = cout // groups
    xp = np.pad(x.astype(np.float64), ((0, 0), (padding[0],) * 2, (padding[1],) * 2, (0, 0)))
    _, OH, OW, _ = ct.shape
    dw = np.zeros(wshape)
    for a in range(kh):
        for b in range(kw):
            h0, w0 = a * dilation[0], b * dilation[1]
            patch = xp[:, h0:h0 + stride[0] * (OH - 1) + 1:stride[0], w0:w0 + stride[1] * (OW - 1) + 1:stride[1]]
            for g in range(groups):
                dw[g * cog:(g + 1) * cog, a, b] = np.einsum(
                    "nhwo,nhwi->oi", ct[..., g * cog:(g + 1) * cog].astype(np.float64),
                    patch[..., g * cig:(g + 1) * cig])
    return dw


# Shapes that take several row tiles and partial panels (C_out not a multiple of 32, kernel
# rows not a multiple of the register block), a single input channel, groups, stride and dilation.
WGRAD_CASES = [
    ((4, 20, 20, 8), (40, 3, 3, 8), dict(padding=1)),
    ((6, 28, 28, 1), (32, 3, 3, 1), dict(padding=1)),
    ((3, 17, 15, 6), (10, 3, 2, 3), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    ((2, 14, 14, 32), (64, 3, 3, 32), dict(padding=1)),
    ((2, 9, 9, 4), (70, 1, 1, 4), {}),
]


@pytest.mark.parametrize("dtype,tol", [("float32", 2e-3), ("float64", 1e-10)])
@pytest.mark.parametrize("case", WGRAD_CASES, ids=[str(i) for i in range(len(WGRAD_CASES))])
def test_weight_grad_vs_numpy(case, dtype, tol):
    xs, ws, kw = case
    x, w = rnd(xs, 201, np.float64), rnd(ws, 202, np.float64)
    D = getattr(mx, dtype)
    out = mx.conv2d(mx.array(x, dtype=D), mx.array(w, dtype=D), **kw)
    ct = rnd(out.shape, 203, np.float64)
    f = lambda b: (mx.conv2d(mx.array(x, dtype=D), b, **kw) * mx.array(ct, dtype=D)).sum()
    gw = mx.grad(f)(mx.array(w, dtype=D))
    assert gw.dtype == D and gw.shape == w.shape
    s, p, d = (kw.get(k, v) for k, v in [("stride", 1), ("padding", 0), ("dilation", 1)])
    pair = lambda v: v if isinstance(v, tuple) else (v, v)
    want = np_conv2d_wgrad(x, ct, ws, pair(s), pair(p), pair(d), kw.get("groups", 1))
    scale = np.abs(want).max()
    np.testing.assert_allclose(np.array(gw), want, rtol=tol, atol=tol * scale)


def test_weight_grad_vs_mlx_large(mlx):
    x, w = rnd((8, 14, 14, 32), 211), rnd((64, 3, 3, 32), 212)
    ct = rnd((8, 14, 14, 64), 213)
    gx, gw = grads(mx, "conv2d", x, w, dict(padding=1), ct)
    hx, hw = grads(mlx, "conv2d", x, w, dict(padding=1), ct)
    np.testing.assert_allclose(np.array(gw), np.array(hw), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(np.array(gx), np.array(hx), rtol=1e-3, atol=1e-3)


def test_weight_grad_flip_dilation_noncontiguous():
    # flip and input dilation (a transposed convolution's weight gradient) on views.
    x, w = rnd((3, 10, 9, 6), 221, np.float64), rnd((5, 3, 3, 6), 222, np.float64)
    kw = dict(stride=1, padding=([2, 1], [1, 2]), input_dilation=(2, 1), flip=True)
    xv = mx.transpose(mx.array(np.ascontiguousarray(x.transpose(0, 2, 1, 3)), dtype=mx.float64), (0, 2, 1, 3))
    out_shape = mx.conv_general(xv, mx.array(w, dtype=mx.float64), **kw).shape
    ct = rnd((out_shape[0], out_shape[2], out_shape[1], out_shape[3]), 223, np.float64)
    ctv = mx.transpose(mx.array(ct, dtype=mx.float64), (0, 2, 1, 3))
    f = lambda b: (mx.conv_general(xv, b, **kw) * ctv).sum()
    gw = np.array(mx.grad(f)(mx.array(w, dtype=mx.float64)))
    # Adjoint identity: <gw, d> = <ct, conv(x, d)> for random directions d.
    for seed in (224, 225):
        d = rnd(w.shape, seed, np.float64)
        np.testing.assert_allclose((gw * d).sum(), f(mx.array(d, dtype=mx.float64)).item(), rtol=1e-10)


@pytest.mark.parametrize("in_axes", [(None, 0), (0, None), (0, 0)])
def test_vmap_weight_grad(in_axes):
    B = 3
    x, w = rnd((B, 2, 9, 9, 4), 231), rnd((B, 6, 3, 3, 2), 232)
    loss = lambda a, b: (mx.conv2d(a, b, padding=1, groups=2) ** 2).sum()
    gw_fn = mx.grad(loss, argnums=1)
    xa, wa = in_axes
    xb = mx.array(x) if xa is not None else mx.array(x[0])
    wb = mx.array(w) if wa is not None else mx.array(w[0])
    got = np.array(mx.vmap(gw_fn, in_axes=in_axes)(xb, wb))
    for i in range(B):
        xi = x[i] if xa is not None else x[0]
        wi = w[i] if wa is not None else w[0]
        np.testing.assert_allclose(got[i], np.array(gw_fn(mx.array(xi), mx.array(wi))), rtol=1e-4, atol=1e-4)


def test_weight_grad_second_order_and_jvp():
    # The weight gradient's own rules: grad of a function of gw (w.r.t. x and w) against central
    # differences in float64, and a forward-mode tangent of gw against a difference too.
    x, w = rnd((2, 6, 5, 3), 241, np.float64), rnd((4, 3, 2, 3), 242, np.float64)
    A = lambda v: mx.array(v, dtype=mx.float64)
    kw = dict(stride=(1, 2), padding=1)
    gw_of = lambda a, b: mx.grad(lambda c: (mx.conv2d(a, c, **kw) ** 2).sum())(b)
    h = lambda a, b: (mx.sin(gw_of(a, b))).sum()
    hx, hwt = mx.grad(h, argnums=(0, 1))(A(x), A(w))
    eps = 1e-6
    for arr, g, which in [(x, hx, 0), (w, hwt, 1)]:
        d = rnd(arr.shape, 243 + which, np.float64)
        plus = [A(x), A(w)]
        minus = [A(x), A(w)]
        plus[which] = A(arr + eps * d)
        minus[which] = A(arr - eps * d)
        fd = (h(*plus).item() - h(*minus).item()) / (2 * eps)
        np.testing.assert_allclose((np.array(g) * d).sum(), fd, rtol=1e-6, atol=1e-8)
    tx = rnd(x.shape, 246, np.float64)
    _, (t,) = mx.jvp(lambda a: gw_of(a, A(w)), [A(x)], [A(tx)])
    fd = (np.array(gw_of(A(x + eps * tx), A(w))) - np.array(gw_of(A(x - eps * tx), A(w)))) / (2 * eps)
    np.testing.assert_allclose(np.array(t), fd, rtol=1e-6, atol=1e-8)


def test_weight_grad_compiled_shapeless():
    w = mx.array(rnd((8, 3, 3, 4), 251))
    gw = mx.grad(lambda b, a: (mx.conv2d(a, b, padding=1) ** 2).sum())
    cg = mx.compile(gw, shapeless=True)
    for shape in [(2, 10, 9, 4), (3, 7, 12, 4)]:
        x = mx.array(rnd(shape, 252))
        np.testing.assert_allclose(np.array(cg(w, x)), np.array(gw(w, x)), rtol=1e-4, atol=1e-4)


# Few input channels (the line kernel for first layers): 1 and 3 channels, up to 64 outputs,
# strides and dilation, against MLX; and a non-contiguous input.
LINE_CASES = [
    ((4, 28, 28, 1), (32, 3, 3, 1), dict(padding=1)),
    ((3, 20, 17, 3), (40, 3, 3, 3), dict(stride=(1, 2), dilation=2, padding=(2, 1))),
    ((2, 15, 13, 2), (64, 5, 3, 2), dict(stride=2)),
    ((2, 9, 30, 1), (7, 1, 7, 1), dict(padding=(0, 3))),
]


@pytest.mark.parametrize("case", LINE_CASES, ids=[str(i) for i in range(len(LINE_CASES))])
def test_few_channel_forward_vs_mlx(mlx, case):
    xs, ws, kw = case
    x, w = rnd(xs, 261), rnd(ws, 262)
    got = mx.conv2d(mx.array(x), mx.array(w), **kw)
    want = mlx.conv2d(mlx.array(x), mlx.array(w), **kw)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-4, atol=1e-4)
    xv = mx.transpose(mx.array(np.ascontiguousarray(x.transpose(0, 2, 1, 3))), (0, 2, 1, 3))
    np.testing.assert_allclose(np.array(mx.conv2d(xv, mx.array(w), **kw)), np.array(want), rtol=1e-4, atol=1e-4)


# ---------- tile max pooling (nn.MaxPool*d with stride == kernel and no padding)

def generic_tile_max(x, k):
    """The same pooling as one max reduction over reshaped tiles (the general-purpose rule)."""
    sp = x.ndim - 2
    crop = tuple((d // kk) * kk for d, kk in zip(x.shape[1:-1], k))
    x = x[(slice(None),) + tuple(slice(0, c) for c in crop)]
    shape = [x.shape[0]]
    for d, kk in zip(crop, k):
        shape += [d // kk, kk]
    return mx.max(x.reshape(shape + [x.shape[-1]]), axis=tuple(2 + 2 * i for i in range(sp)))


POOL_CASES = [((2, 9, 3), (2,)), ((2, 8, 7, 5), (2, 2)), ((3, 9, 6, 4), (3, 2)), ((1, 4, 6, 5, 3), (2, 3, 2))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", POOL_CASES, ids=[str(i) for i in range(len(POOL_CASES))])
def test_tile_max_vs_generic_with_ties(case, dtype):
    shape, k = case
    D = getattr(mx, dtype)
    x = np.round(rnd(shape, 271, np.float64), 0)  # many ties
    x.flat[::7] = -np.inf
    import ember.nn as enn
    pool = getattr(enn, f"MaxPool{len(k)}d")(k)
    got, want = pool(mx.array(x, dtype=D)), generic_tile_max(mx.array(x, dtype=D), k)
    assert got.dtype == D
    np.testing.assert_array_equal(np.array(got), np.array(want))
    w = rnd(got.shape, 272, np.float64)
    ge = mx.grad(lambda a: (pool(a) * mx.array(w, dtype=D)).sum())(mx.array(x, dtype=D))
    gg = mx.grad(lambda a: (generic_tile_max(a, k) * mx.array(w, dtype=D)).sum())(mx.array(x, dtype=D))
    np.testing.assert_allclose(np.array(ge), np.array(gg), rtol=1e-6, atol=1e-12)
    # Forward mode, and the adjoint of the gradient in the cotangent (second order).
    t = rnd(x.shape, 273, np.float64)
    _, (te,) = mx.jvp(pool, [mx.array(x, dtype=D)], [mx.array(t, dtype=D)])
    _, (tg,) = mx.jvp(lambda a: generic_tile_max(a, k), [mx.array(x, dtype=D)], [mx.array(t, dtype=D)])
    np.testing.assert_allclose(np.array(te), np.array(tg), rtol=1e-6, atol=1e-12)
    back = lambda f: mx.grad(lambda c: (mx.vjp(f, [mx.array(x, dtype=D)], [c])[1][0] * mx.array(t, dtype=D)).sum())
    np.testing.assert_allclose(np.array(back(pool)(mx.array(w, dtype=D))),
                               np.array(back(lambda a: generic_tile_max(a, k))(mx.array(w, dtype=D))),
                               rtol=1e-6, atol=1e-12)


def test_tile_max_nan_noncontiguous_vmap_compile():
    import ember.nn as enn
    x = np.round(rnd((3, 2, 6, 4, 5), 281), 0)
    x[0, 1, 2, 3, 1] = np.nan
    pool = enn.MaxPool2d(2)
    f = lambda a: pool(a)
    g = lambda a: generic_tile_max(a, (2, 2))
    xs = mx.array(x)
    np.testing.assert_array_equal(np.array(mx.vmap(f)(xs)), np.array(mx.vmap(g)(xs)))
    w = mx.array(rnd((3, 2, 3, 2, 5), 282))
    ge = mx.grad(lambda a: (mx.vmap(f)(a) * w).sum())(xs)
    gg = mx.grad(lambda a: (mx.vmap(g)(a) * w).sum())(xs)
    np.testing.assert_array_equal(np.isnan(np.array(ge)), np.isnan(np.array(gg)))
    np.testing.assert_allclose(np.array(ge), np.array(gg), rtol=1e-6)
    # vmap over another axis, of the gradient too (the cotangent batched, x not).
    xt = mx.array(np.ascontiguousarray(np.moveaxis(x[1:], 0, 3)))  # (2, 6, 4, 2, 5), batch on axis 3
    np.testing.assert_array_equal(np.array(mx.vmap(f, in_axes=3)(xt)), np.array(mx.vmap(g, in_axes=3)(xt)))
    x0 = mx.array(x[1])
    vg = lambda h: mx.vmap(lambda c: mx.vjp(h, [x0], [c])[1][0])(w[1:])
    np.testing.assert_allclose(np.array(vg(f)), np.array(vg(g)), rtol=1e-6)
    # A transposed view, compiled (shapeless too).
    xv = mx.transpose(mx.array(np.ascontiguousarray(x[1].transpose(0, 2, 1, 3))), (0, 2, 1, 3))
    np.testing.assert_array_equal(np.array(f(xv)), np.array(g(x0)))
    cf = mx.compile(mx.grad(lambda a: (f(a) ** 2).sum()), shapeless=True)
    for shape in [(2, 6, 4, 5), (3, 4, 8, 5)]:
        xi = mx.array(np.round(rnd(shape, 283), 0))
        np.testing.assert_allclose(np.array(cf(xi)), np.array(mx.grad(lambda a: (g(a) ** 2).sum())(xi)),
                                   rtol=1e-6)


def test_tile_max_vs_mlx_and_errors(mlx):
    import ember.nn as enn
    import mlx.nn as mnn
    x = np.round(rnd((2, 13, 11, 3), 291), 0)
    e, r = enn.MaxPool2d((3, 2)), mnn.MaxPool2d((3, 2))
    np.testing.assert_array_equal(np.array(e(mx.array(x))), np.array(r(mlx.array(x))))
    w = rnd(e(mx.array(x)).shape, 292)
    ge = mx.grad(lambda a: (e(a) * mx.array(w)).sum())(mx.array(x))
    gr = mlx.grad(lambda a: (r(a) * mlx.array(w)).sum())(mlx.array(x))
    np.testing.assert_allclose(np.array(ge), np.array(gr), rtol=1e-6, atol=1e-7)
    for args in [(mx.ones((2, 5, 3)), [2]), (mx.ones((2, 4, 3)), [2, 2]), (mx.ones((2, 4, 3), mx.int32), [2]),
                 (mx.ones((4, 3)), [2]), (mx.ones((2, 4, 3)), [0])]:
        with pytest.raises(ValueError, match="tile_max"):
            mx._tile_max(*args)
    assert mx._tile_max(mx.ones((2, 4, 3)), [2]).shape == (2, 2, 3)
