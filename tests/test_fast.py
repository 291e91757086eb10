"""ember.core.fast: fused norms, rope, attention, cross entropy and the gated delta rule,
against numpy (float64), the real MLX, finite differences, vmap loops and compile."""
import math

import numpy as np
import pytest

import ember.core as mx

DTYPES = [("float32", 1e-5), ("float16", 3e-3), ("bfloat16", 2e-2)]


def rng(seed=0):
    return np.random.default_rng(seed)


def arr(x, dtype="float32"):
    return mx.array(np.asarray(x, dtype=np.float32)).astype(getattr(mx, dtype))


def f64(a):
    return mx.array(np.asarray(a, dtype=np.float64), dtype=mx.float64)


def npf(a):
    return np.array(a.astype(mx.float32)).astype(np.float64)


def close(got, ref, tol):
    np.testing.assert_allclose(npf(got), ref, rtol=tol * 4, atol=tol * 4)


# ---------- numpy references (float64)

def ref_rms(x, w, eps):
    y = x / np.sqrt(np.mean(x * x, -1, keepdims=True) + eps)
    return y * w if w is not None else y


def ref_ln(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    y = (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def ref_rope(x, dims, traditional, base, scale, offset, freqs=None):
    T = x.shape[-2]
    half = dims // 2
    inv = 1.0 / freqs if freqs is not None else base ** (-np.arange(half) / half)
    off = np.asarray(offset, dtype=np.float64)
    if off.ndim == 1:
        off = off.reshape((-1,) + (1,) * (x.ndim - 3))
    pos = (off[..., None] + np.arange(T)) * scale
    th = pos[..., None] * inv
    c, s = np.cos(th), np.sin(th)
    out = x.copy()
    if traditional:
        x1, x2 = x[..., 0:dims:2], x[..., 1:dims:2]
        out[..., 0:dims:2] = x1 * c - x2 * s
        out[..., 1:dims:2] = x1 * s + x2 * c
    else:
        x1, x2 = x[..., :half], x[..., half:dims]
        out[..., :half] = x1 * c - x2 * s
        out[..., half:dims] = x1 * s + x2 * c
    return out


def ref_sdpa(q, k, v, scale, mask=None, sinks=None):
    B, H, Tq, D = q.shape
    G = H // k.shape[1]
    k = np.repeat(k, G, axis=1)
    v = np.repeat(v, G, axis=1)
    s = scale * q @ np.swapaxes(k, -1, -2)
    Tk = k.shape[2]
    low = np.finfo(np.float32).min
    if isinstance(mask, str):
        ok = np.arange(Tk)[None, :] <= np.arange(Tq)[:, None] + Tk - Tq
        s = np.where(ok, s, low)
    elif mask is not None and mask.dtype == np.bool_:
        s = np.where(mask, s, low)
    elif mask is not None:
        s = s + mask
    if sinks is not None:
        s = np.concatenate([np.broadcast_to(sinks.reshape(1, H, 1, 1), (B, H, Tq, 1)), s], -1)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    if sinks is not None:
        p = p[..., 1:]
    return p @ v


# ---------- norms

@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("weight", [True, False])
def test_rms_norm_values(dtype, tol, weight):
    r = rng(1)
    x = r.standard_normal((3, 5, 67)).astype(np.float32)
    w = r.standard_normal(67).astype(np.float32)
    ex = arr(x, dtype)
    ew = arr(w, dtype) if weight else None
    y = mx.fast.rms_norm(ex, ew, 1e-5)
    assert y.dtype == getattr(mx, dtype) and y.shape == x.shape
    close(y, ref_rms(npf(ex), npf(ew) if weight else None, 1e-5), tol)


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("wb", [(True, True), (True, False), (False, True), (False, False)])
def test_layer_norm_values(dtype, tol, wb):
    r = rng(2)
    x = (r.standard_normal((4, 130)) * 3 + 2).astype(np.float32)
    w, b = r.standard_normal(130).astype(np.float32), r.standard_normal(130).astype(np.float32)
    ex = arr(x, dtype)
    ew = arr(w, dtype) if wb[0] else None
    eb = arr(b, dtype) if wb[1] else None
    y = mx.fast.layer_norm(ex, ew, eb, 1e-5)
    ref = ref_ln(npf(ex), npf(ew) if wb[0] else None, npf(eb) if wb[1] else None, 1e-5)
    close(y, ref, tol)


def test_norms_noncontiguous_and_large():
    r = rng(3)
    x = r.standard_normal((64, 40)).astype(np.float32)
    ex = mx.array(x).T  # (40, 64) transposed view
    np.testing.assert_allclose(np.array(mx.fast.rms_norm(ex, None, 1e-6)), ref_rms(x.T.astype(np.float64), None, 1e-6),
                               rtol=1e-5, atol=1e-5)
    big = r.standard_normal((2048, 256)).astype(np.float32)  # several threads
    w = r.standard_normal(256).astype(np.float32)
    np.testing.assert_allclose(np.array(mx.fast.layer_norm(mx.array(big), mx.array(w), None, 1e-5)),
                               ref_ln(big.astype(np.float64), w, None, 1e-5), rtol=1e-4, atol=1e-4)


def test_norm_dtype_promotion_and_errors():
    x = mx.ones((2, 8), dtype=mx.float16)
    assert mx.fast.rms_norm(x, mx.ones((8,)), 1e-5).dtype == mx.float32
    assert mx.fast.layer_norm(x, None, mx.ones((8,)), 1e-5).dtype == mx.float16
    assert mx.fast.rms_norm(mx.ones((2, 8)), None, 1e-5).dtype == mx.float32
    assert mx.fast.rms_norm(mx.zeros((0, 8)), None, 1e-5).shape == (0, 8)
    with pytest.raises(ValueError):
        mx.fast.rms_norm(mx.ones((2, 8)), mx.ones((7,)), 1e-5)
    with pytest.raises(ValueError):
        mx.fast.rms_norm(mx.ones((2, 8)), mx.ones((2, 8)), 1e-5)
    with pytest.raises(ValueError):
        mx.fast.rms_norm(mx.array(1.0), None, 1e-5)
    with pytest.raises(ValueError):
        mx.fast.rms_norm(mx.array([1, 2, 3]), None, 1e-5)
    with pytest.raises(ValueError):
        mx.fast.layer_norm(mx.ones((2, 8)), None, mx.ones((3,)), 1e-5)
    with pytest.raises(TypeError):
        mx.fast.rms_norm([1.0, 2.0], None, 1e-5)
    assert mx.fast.rms_norm(mx.ones((1, 4)), None, 0.0).tolist() == [[1.0] * 4]


def fd_grad(f, x, eps=1e-6):
    """Central differences of the scalar f at the float64 numpy array x."""
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


def test_norm_grads_finite_differences():
    r = rng(4)
    x = r.standard_normal((3, 7))
    w = r.standard_normal(7)
    b = r.standard_normal(7)
    c = r.standard_normal((3, 7))
    C = f64(c)

    def loss_rms(a, g):
        return mx.sum(mx.fast.rms_norm(a, g, 1e-5) * C)

    def loss_ln(a, g, bb):
        return mx.sum(mx.fast.layer_norm(a, g, bb, 1e-5) * C)

    gx, gw = mx.grad(loss_rms, argnums=(0, 1))(f64(x), f64(w))
    assert gx.dtype == mx.float64
    np.testing.assert_allclose(np.array(gx), fd_grad(lambda a: (ref_rms(a, w, 1e-5) * c).sum(), x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array(gw), fd_grad(lambda g: (ref_rms(x, g, 1e-5) * c).sum(), w), rtol=1e-6, atol=1e-7)
    gx, gw, gb = mx.grad(loss_ln, argnums=(0, 1, 2))(f64(x), f64(w), f64(b))
    np.testing.assert_allclose(np.array(gx), fd_grad(lambda a: (ref_ln(a, w, b, 1e-5) * c).sum(), x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array(gw), fd_grad(lambda g: (ref_ln(x, g, b, 1e-5) * c).sum(), w), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array(gb), c.sum(0), rtol=1e-10)
    # no weight, and float32/half through the fused backward
    for dt, tol in DTYPES:
        xa = arr(x, dt)
        g = mx.grad(lambda a: mx.sum(mx.fast.rms_norm(a, None, 1e-5) * C.astype(a.dtype)))(xa)
        assert g.dtype == getattr(mx, dt)
        ref = fd_grad(lambda a: (ref_rms(a, None, 1e-5) * c).sum(), npf(xa))
        np.testing.assert_allclose(npf(g), ref, rtol=tol * 20, atol=tol * 20)


def test_norm_jvp_second_order_vmap_compile():
    r = rng(5)
    x = mx.array(r.standard_normal((4, 6)).astype(np.float32))
    w = mx.array(r.standard_normal(6).astype(np.float32))
    b = mx.array(r.standard_normal(6).astype(np.float32))
    t = mx.array(r.standard_normal((4, 6)).astype(np.float32))

    def unfused(a):
        return a * mx.rsqrt(mx.mean(a * a, axis=-1, keepdims=True) + 1e-5) * w

    _, jt = mx.jvp(lambda a: mx.fast.rms_norm(a, w, 1e-5), [x], [t])
    _, jr = mx.jvp(unfused, [x], [t])
    np.testing.assert_allclose(np.array(jt[0]), np.array(jr[0]), rtol=1e-4, atol=1e-5)
    # grad of grad against the unfused composition
    gg = mx.grad(lambda a: mx.sum(mx.grad(lambda z: mx.sum(mx.sin(mx.fast.rms_norm(z, w, 1e-5))))(a) ** 2))(x)
    gr = mx.grad(lambda a: mx.sum(mx.grad(lambda z: mx.sum(mx.sin(unfused(z))))(a) ** 2))(x)
    np.testing.assert_allclose(np.array(gg), np.array(gr), rtol=1e-3, atol=1e-4)
    # vmap over a middle axis and over the normalised axis, against a loop
    x3 = mx.array(r.standard_normal((3, 4, 6)).astype(np.float32))
    for ax in (0, 1):
        got = mx.vmap(lambda a: mx.fast.layer_norm(a, w, b, 1e-5), in_axes=ax)(x3)
        loop = mx.stack([mx.fast.layer_norm(mx.take(x3, i, axis=ax), w, b, 1e-5)
                         for i in range(x3.shape[ax])])
        np.testing.assert_allclose(np.array(got), np.array(loop), rtol=1e-5, atol=1e-6)
    x4 = mx.array(r.standard_normal((6, 5)).astype(np.float32))
    got = mx.vmap(lambda a: mx.fast.rms_norm(a, None, 1e-5), in_axes=1)(x4)  # batch along the last axis
    loop = mx.stack([mx.fast.rms_norm(x4[:, i], None, 1e-5) for i in range(5)])
    np.testing.assert_allclose(np.array(got), np.array(loop), rtol=1e-5, atol=1e-6)
    ws = mx.array(r.standard_normal((3, 6)).astype(np.float32))  # batched weight: the composed rule
    got = mx.vmap(lambda a, g: mx.fast.rms_norm(a, g, 1e-5))(x3, ws)
    loop = mx.stack([mx.fast.rms_norm(x3[i], ws[i], 1e-5) for i in range(3)])
    np.testing.assert_allclose(np.array(got), np.array(loop), rtol=1e-5, atol=1e-6)
    gv = mx.vmap(mx.grad(lambda a: mx.sum(mx.fast.rms_norm(a, w, 1e-5) ** 3)))(x3)
    gl = mx.stack([mx.grad(lambda a: mx.sum(mx.fast.rms_norm(a, w, 1e-5) ** 3))(x3[i]) for i in range(3)])
    np.testing.assert_allclose(np.array(gv), np.array(gl), rtol=1e-4, atol=1e-5)
    f = lambda a: mx.fast.layer_norm(a, w, b, 1e-5) * 2
    for shapeless in (False, True):
        cf = mx.compile(f, shapeless=shapeless)
        np.testing.assert_allclose(np.array(cf(x)), np.array(f(x)), rtol=1e-6)
        np.testing.assert_allclose(np.array(cf(x3)), np.array(f(x3)), rtol=1e-6)
    cg = mx.compile(mx.grad(lambda a: mx.sum(mx.fast.rms_norm(a, w, 1e-5) ** 2)))
    np.testing.assert_allclose(np.array(cg(x)),
                               np.array(mx.grad(lambda a: mx.sum(mx.fast.rms_norm(a, w, 1e-5) ** 2))(x)),
                               rtol=1e-5, atol=1e-6)


# ---------- rope

ROPE_KW = [
    dict(traditional=False, base=10000.0, scale=1.0, offset=0),
    dict(traditional=True, base=10000.0, scale=0.5, offset=3),
    dict(traditional=False, base=500.0, scale=2.0, offset=-2),
]


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("kw", ROPE_KW)
@pytest.mark.parametrize("dims", [8, 6])
def test_rope_values(dtype, tol, kw, dims):
    x = rng(6).standard_normal((2, 3, 5, 8)).astype(np.float32)
    ex = arr(x, dtype)
    y = mx.fast.rope(ex, dims, **kw)
    assert y.dtype == ex.dtype and y.shape == ex.shape
    close(y, ref_rope(npf(ex), dims, kw["traditional"], kw["base"], kw["scale"], kw["offset"]), tol)


def test_rope_offsets_and_freqs():
    r = rng(7)
    x = r.standard_normal((3, 2, 6, 10)).astype(np.float32)
    offs = np.array([0, 5, 100], dtype=np.int32)
    for trad in (False, True):
        y = mx.fast.rope(mx.array(x), 8, traditional=trad, base=10000.0, scale=1.0, offset=mx.array(offs))
        np.testing.assert_allclose(np.array(y), ref_rope(x.astype(np.float64), 8, trad, 10000.0, 1.0, offs),
                                   rtol=1e-4, atol=1e-4)
    y = mx.fast.rope(mx.array(x), 8, traditional=False, base=10000.0, scale=1.0, offset=mx.array(7))
    np.testing.assert_allclose(np.array(y), ref_rope(x.astype(np.float64), 8, False, 10000.0, 1.0, 7),
                               rtol=1e-4, atol=1e-4)
    freqs = r.uniform(0.5, 3.0, 4).astype(np.float32)
    y = mx.fast.rope(mx.array(x), 8, traditional=True, base=None, scale=1.5, offset=2, freqs=mx.array(freqs))
    np.testing.assert_allclose(np.array(y), ref_rope(x.astype(np.float64), 8, True, None, 1.5, 2, freqs),
                               rtol=1e-4, atol=1e-4)
    # 5-D input, a long sequence (large angles), and a transposed view
    x5 = r.standard_normal((2, 2, 2, 3, 4)).astype(np.float32)
    y = mx.fast.rope(mx.array(x5), 4, traditional=False, base=10000.0, scale=1.0, offset=mx.array([1, 9]))
    np.testing.assert_allclose(np.array(y), ref_rope(x5.astype(np.float64), 4, False, 10000.0, 1.0, [1, 9]),
                               rtol=1e-4, atol=1e-4)
    xl = r.standard_normal((1, 1, 3000, 16)).astype(np.float32)
    y = mx.fast.rope(mx.array(xl), 16, traditional=False, base=10000.0, scale=1.0, offset=0)
    np.testing.assert_allclose(np.array(y), ref_rope(xl.astype(np.float64), 16, False, 10000.0, 1.0, 0),
                               rtol=2e-3, atol=2e-3)
    xt = mx.swapaxes(mx.array(x), 1, 2)  # (3, 6, 2, 10) view
    y = mx.fast.rope(xt, 8, traditional=False, base=10000.0, scale=1.0, offset=1)
    ref = ref_rope(np.swapaxes(x, 1, 2).astype(np.float64), 8, False, 10000.0, 1.0, 1)
    np.testing.assert_allclose(np.array(y), ref, rtol=1e-4, atol=1e-4)


def test_rope_errors():
    x = mx.ones((2, 3, 4, 8))
    kw = dict(traditional=False, base=10000.0, scale=1.0)
    for bad in [lambda: mx.fast.rope(mx.ones((4, 8)), 8, offset=0, **kw),
                lambda: mx.fast.rope(x, 7, offset=0, **kw),
                lambda: mx.fast.rope(x, 10, offset=0, **kw),
                lambda: mx.fast.rope(x, 0, offset=0, **kw),
                lambda: mx.fast.rope(x, 8, traditional=False, base=None, scale=1.0, offset=0),
                lambda: mx.fast.rope(x, 8, offset=0, freqs=mx.ones(4), **kw),
                lambda: mx.fast.rope(x, 8, traditional=False, base=None, scale=1.0, offset=0, freqs=mx.ones(3)),
                lambda: mx.fast.rope(x, 8, offset=mx.array([1, 2, 3]), **kw),
                lambda: mx.fast.rope(x, 8, offset=mx.array([1.5, 2.0]), **kw),
                lambda: mx.fast.rope(x, 8, offset=mx.array([[1, 2]]), **kw),
                lambda: mx.fast.rope(x.astype(mx.int32), 8, offset=0, **kw)]:
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(TypeError):
        mx.fast.rope(x, 8, **kw)  # offset is required
    with pytest.raises(TypeError):
        mx.fast.rope(x, 8, False, 10000.0, 1.0, 0)  # keyword-only


def test_rope_grads_vmap_compile():
    r = rng(8)
    x = r.standard_normal((2, 1, 4, 6))
    c = r.standard_normal((2, 1, 4, 6))
    C = f64(c)
    for trad in (False, True):
        kw = dict(traditional=trad, base=100.0, scale=0.7, offset=mx.array([1, 4]))
        g = mx.grad(lambda a: mx.sum(mx.fast.rope(a, 4, **kw) * C))(f64(x))
        ref = fd_grad(lambda a: (ref_rope(a, 4, trad, 100.0, 0.7, [1, 4]) * c).sum(), x)
        np.testing.assert_allclose(np.array(g), ref, rtol=1e-5, atol=1e-6)
        _, jt = mx.jvp(lambda a: mx.fast.rope(a, 4, **kw), [f64(x)], [C])
        np.testing.assert_allclose(np.array(jt[0]), ref_rope(c, 4, trad, 100.0, 0.7, [1, 4]), rtol=1e-5, atol=1e-6)
    xs = mx.array(r.standard_normal((3, 2, 2, 4, 6)).astype(np.float32))
    offs = mx.array([[0, 1], [2, 3], [4, 5]])
    f = lambda a, o: mx.fast.rope(a, 6, traditional=False, base=10000.0, scale=1.0, offset=o)
    got = mx.vmap(f)(xs, offs)
    loop = mx.stack([f(xs[i], offs[i]) for i in range(3)])
    np.testing.assert_allclose(np.array(got), np.array(loop), rtol=1e-6, atol=1e-6)
    got = mx.vmap(f, in_axes=(1, None))(xs, offs[:, 0])
    loop = mx.stack([f(xs[:, i], offs[:, 0]) for i in range(2)])
    np.testing.assert_allclose(np.array(got), np.array(loop), rtol=1e-6, atol=1e-6)
    got = mx.vmap(lambda o: f(xs[0], o))(mx.array([3, 8]))
    loop = mx.stack([f(xs[0], o) for o in (3, 8)])
    np.testing.assert_allclose(np.array(got), np.array(loop), rtol=1e-6, atol=1e-6)
    g = lambda a: mx.fast.rope(a, 6, traditional=True, base=10000.0, scale=1.0, offset=2)
    for shapeless in (False, True):
        cg = mx.compile(g, shapeless=shapeless)
        np.testing.assert_allclose(np.array(cg(xs[0])), np.array(g(xs[0])), rtol=1e-6)
        np.testing.assert_allclose(np.array(cg(xs)), np.array(g(xs)), rtol=1e-6)


# ---------- scaled dot-product attention

def sdpa_inputs(seed, B=2, H=4, Hkv=2, Tq=5, Tk=7, D=8, Dv=6):
    r = rng(seed)
    return (r.standard_normal((B, H, Tq, D)).astype(np.float32),
            r.standard_normal((B, Hkv, Tk, D)).astype(np.float32),
            r.standard_normal((B, Hkv, Tk, Dv)).astype(np.float32))


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("mask", [None, "causal", "bool", "additive", "sinks"])
def test_sdpa_values(dtype, tol, mask):
    q, k, v = sdpa_inputs(9)
    eq, ek, ev = arr(q, dtype), arr(k, dtype), arr(v, dtype)
    kw, ref_mask, sinks = {}, None, None
    if mask == "causal":
        kw["mask"] = ref_mask = "causal"
    elif mask == "bool":
        m = rng(10).random((4, 5, 7)) > 0.4
        m[:, 1] = False  # a fully masked row averages over every key
        kw["mask"], ref_mask = mx.array(m), m
    elif mask == "additive":
        m = rng(11).standard_normal((5, 7)).astype(np.float32)
        kw["mask"], ref_mask = arr(m, dtype), npf(arr(m, dtype))
    elif mask == "sinks":
        s = np.array([0.5, -1.0, 2.0, 0.0], dtype=np.float32)
        kw["sinks"], sinks = arr(s, dtype), npf(arr(s, dtype))
        kw["mask"] = ref_mask = "causal"
    y = mx.fast.scaled_dot_product_attention(eq, ek, ev, scale=0.4, **kw)
    assert y.dtype == getattr(mx, dtype) and y.shape == (2, 4, 5, 6)
    close(y, ref_sdpa(npf(eq), npf(ek), npf(ev), 0.4, ref_mask, sinks), tol)


def test_sdpa_blocks_layouts_and_causal_shapes():
    # several query and key blocks, a causal mask with Tq > Tk, transposed (B, T, H, D) views
    r = rng(12)
    q = r.standard_normal((1, 130, 2, 16)).astype(np.float32)
    k = r.standard_normal((1, 600, 1, 16)).astype(np.float32)
    v = r.standard_normal((1, 600, 1, 16)).astype(np.float32)
    tq, tk, tv = (mx.swapaxes(mx.array(a), 1, 2) for a in (q, k, v))
    for mask in (None, "causal"):
        y = mx.fast.scaled_dot_product_attention(tq, tk, tv, scale=0.25, mask=mask)
        ref = ref_sdpa(*(np.swapaxes(a, 1, 2).astype(np.float64) for a in (q, k, v)), 0.25, mask)
        np.testing.assert_allclose(np.array(y), ref, rtol=1e-4, atol=1e-4)
    q2, k2, v2 = sdpa_inputs(13, Tq=9, Tk=3)
    y = mx.fast.scaled_dot_product_attention(mx.array(q2), mx.array(k2), mx.array(v2), scale=1.0, mask="causal")
    np.testing.assert_allclose(np.array(y), ref_sdpa(q2, k2, v2, 1.0, "causal"), rtol=1e-5, atol=1e-5)
    # float64 and mixed dtypes
    y = mx.fast.scaled_dot_product_attention(f64(q2), mx.array(k2), mx.array(v2), scale=0.3)
    assert y.dtype == mx.float64
    np.testing.assert_allclose(np.array(y), ref_sdpa(q2.astype(np.float64), k2, v2, 0.3), rtol=1e-6, atol=1e-7)
    y = mx.fast.scaled_dot_product_attention(mx.array(q2).astype(mx.float16), mx.array(k2), mx.array(v2), scale=0.3)
    assert y.dtype == mx.float32


def test_sdpa_errors():
    q, k, v = (mx.array(a) for a in sdpa_inputs(14))
    S = mx.fast.scaled_dot_product_attention
    for bad in [lambda: S(q, k, v, scale=0.3, mask="foo"),
                lambda: S(q[0], k[0], v[0], scale=0.3),
                lambda: S(q, k[..., :7], v, scale=0.3),
                lambda: S(q, mx.ones((2, 3, 7, 8)), mx.ones((2, 3, 7, 6)), scale=0.3),
                lambda: S(q, k, v[:, :, :6], scale=0.3),
                lambda: S(q, k, v, scale=0.3, mask=mx.ones((1, 1, 1, 5, 7), dtype=mx.bool_)),
                lambda: S(q, k, v, scale=0.3, mask=mx.ones((5, 6), dtype=mx.bool_)),
                lambda: S(q.astype(mx.float16), k.astype(mx.float16), v.astype(mx.float16), scale=0.3,
                          mask=mx.ones((5, 7))),
                lambda: S(q, k, v, scale=0.3, sinks=mx.zeros((3,))),
                lambda: S(q.astype(mx.int32), k.astype(mx.int32), v.astype(mx.int32), scale=0.3)]:
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(TypeError):
        S(q, k, v)  # scale is required
    assert S(q, k, v, scale=0.3, force_fused=True).shape == (2, 4, 5, 6)


@pytest.mark.parametrize("mask", [None, "causal", "bool", "additive", "sinks"])
def test_sdpa_grads(mask):
    q, k, v = sdpa_inputs(15, Tq=6, Tk=6)
    c = rng(16).standard_normal((2, 4, 6, 6))
    kw, args = {}, [q, k, v]
    if mask == "causal":
        kw["mask"] = "causal"
    elif mask == "bool":
        m = rng(17).random((6, 6)) > 0.3
        m[2] = False
        kw["mask"] = mx.array(m)
    elif mask == "additive":
        args.append(rng(18).standard_normal((4, 6, 6)).astype(np.float32))
    elif mask == "sinks":
        args.append(np.array([0.3, -0.5, 1.0, 0.1], dtype=np.float32))
    C = mx.array(c.astype(np.float32))

    def loss(*xs):
        extra = dict(kw)
        if mask == "additive":
            extra["mask"] = xs[3]
        if mask == "sinks":
            extra["sinks"] = xs[3]
        return mx.sum(mx.fast.scaled_dot_product_attention(xs[0], xs[1], xs[2], scale=0.5, **extra) * C)

    argnums = tuple(range(len(args)))
    got = mx.grad(loss, argnums=argnums)(*(mx.array(a) for a in args))
    # reference: the same function in float64 (the composed form) and finite differences
    ref = mx.grad(loss, argnums=argnums)(*(f64(a) for a in args))
    for g, rr in zip(got, ref):
        assert g.dtype == mx.float32
        np.testing.assert_allclose(np.array(g), np.array(rr), rtol=2e-4, atol=2e-5)
    a64 = [a.astype(np.float64) for a in args]

    def f_np(i):
        def f(z):
            xs = list(a64)
            xs[i] = z
            mm = kw.get("mask")
            mm = np.array(mm) if mm is not None and not isinstance(mm, str) else mm
            if mask == "additive":
                mm = xs[3]
            return (ref_sdpa(xs[0], xs[1], xs[2], 0.5, mm, xs[3] if mask == "sinks" else None) * c).sum()
        return f

    for i in argnums:
        np.testing.assert_allclose(np.array(ref[i]), fd_grad(f_np(i), a64[i]), rtol=1e-5, atol=1e-6)


def test_sdpa_transforms():
    r = rng(19)
    q, k, v = (mx.array(a) for a in sdpa_inputs(20))
    S = mx.fast.scaled_dot_product_attention
    qs = mx.array(r.standard_normal((3, 2, 4, 5, 8)).astype(np.float32))
    f = lambda a: S(a, k, v, scale=0.3, mask="causal")
    got = mx.vmap(f)(qs)
    loop = mx.stack([f(qs[i]) for i in range(3)])
    np.testing.assert_allclose(np.array(got), np.array(loop), rtol=1e-5, atol=1e-6)
    got = mx.vmap(lambda a, b: S(q, a, b, scale=0.3), in_axes=(2, 2))(mx.stack([k] * 2, 2), mx.stack([v, v * 2], 2))
    loop = mx.stack([S(q, k, v, scale=0.3), S(q, k, v * 2, scale=0.3)])
    np.testing.assert_allclose(np.array(got), np.array(loop), rtol=1e-5, atol=1e-6)
    sk = mx.array(r.standard_normal((2, 4)).astype(np.float32))
    got = mx.vmap(lambda s: S(q, k, v, scale=0.3, sinks=s))(sk)
    loop = mx.stack([S(q, k, v, scale=0.3, sinks=sk[i]) for i in range(2)])
    np.testing.assert_allclose(np.array(got), np.array(loop), rtol=1e-5, atol=1e-6)
    gv = mx.vmap(mx.grad(lambda a: mx.sum(f(a) ** 2)))(qs)
    gl = mx.stack([mx.grad(lambda a: mx.sum(f(a) ** 2))(qs[i]) for i in range(3)])
    np.testing.assert_allclose(np.array(gv), np.array(gl), rtol=1e-4, atol=1e-5)
    # jvp against the composed form in float64
    t = mx.array(r.standard_normal(q.shape).astype(np.float32))
    _, jt = mx.jvp(lambda a: S(a, k, v, scale=0.3), [q], [t])
    _, jr = mx.jvp(lambda a: S(a, k.astype(mx.float64), v.astype(mx.float64), scale=0.3),
                   [q.astype(mx.float64)], [t.astype(mx.float64)])
    np.testing.assert_allclose(np.array(jt[0]), np.array(jr[0]), rtol=1e-4, atol=1e-5)
    # second order
    h = lambda a: mx.sum(mx.grad(lambda z: mx.sum(mx.tanh(S(z, k, v, scale=0.3))))(a) ** 2)
    g2 = mx.grad(h)(q)
    g2r = mx.grad(h)(q.astype(mx.float64))
    np.testing.assert_allclose(np.array(g2), np.array(g2r), rtol=1e-3, atol=1e-4)
    for shapeless in (False, True):
        cf = mx.compile(lambda a, b, c: S(a, b, c, scale=0.3, mask="causal") + 1, shapeless=shapeless)
        np.testing.assert_allclose(np.array(cf(q, k, v)), np.array(S(q, k, v, scale=0.3, mask="causal") + 1),
                                   rtol=1e-6)
    cg = mx.compile(mx.grad(lambda a: mx.sum(f(a) ** 2)))
    np.testing.assert_allclose(np.array(cg(q)), np.array(mx.grad(lambda a: mx.sum(f(a) ** 2))(q)), rtol=1e-5, atol=1e-6)


# ---------- cross entropy and the gated delta rule

@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_cross_entropy(dtype, tol):
    r = rng(21)
    x = r.standard_normal((3, 4, 11)).astype(np.float32) * 3
    t = r.integers(0, 11, (3, 4)).astype(np.int32)
    ex = arr(x, dtype)
    y = mx.fast.cross_entropy(ex, mx.array(t))
    assert y.dtype == mx.float32 and y.shape == (3, 4)
    xf = npf(ex)
    m = xf.max(-1)
    ref = m + np.log(np.exp(xf - m[..., None]).sum(-1)) - np.take_along_axis(xf, t[..., None], -1)[..., 0]
    np.testing.assert_allclose(np.array(y), ref, rtol=tol, atol=tol)
    g = mx.grad(lambda a: mx.sum(mx.fast.cross_entropy(a, mx.array(t)) * mx.arange(12).reshape(3, 4)))(ex)
    sm = np.exp(xf - m[..., None]) / np.exp(xf - m[..., None]).sum(-1, keepdims=True)
    onehot = np.eye(11)[t]
    np.testing.assert_allclose(npf(g), (sm - onehot) * np.arange(12).reshape(3, 4, 1), rtol=tol * 10, atol=tol * 10)
    got = mx.vmap(mx.fast.cross_entropy)(ex, mx.array(t))
    np.testing.assert_allclose(np.array(got), np.array(y), rtol=1e-6)
    with pytest.raises(ValueError):
        mx.fast.cross_entropy(ex, mx.array(t[:, :2]))
    with pytest.raises(ValueError):
        mx.fast.cross_entropy(ex, mx.array(t.astype(np.float32)))
    with pytest.raises(ValueError):
        mx.fast.cross_entropy(mx.array(t), mx.array(t[:, 0]))


def ref_gdn(q, k, v, g, b, S=None, mask=None):
    B, T, Hk, Dk = k.shape
    Hv, Dv = v.shape[2], v.shape[3]
    q, k = np.repeat(q, Hv // Hk, 2), np.repeat(k, Hv // Hk, 2)
    S = np.zeros((B, Hv, Dv, Dk)) if S is None else S
    ys = []
    for t in range(T):
        old = S
        S = S * g[:, t, :, None, None]
        kv = np.einsum("bhvk,bhk->bhv", S, k[:, t])
        S = S + ((v[:, t] - kv) * b[:, t, :, None])[..., None] * k[:, t, :, None, :]
        y = np.einsum("bhvk,bhk->bhv", S, q[:, t])
        if mask is not None:
            S = np.where(mask[:, t, None, None, None], S, old)
            y = np.where(mask[:, t, None, None], y, 0.0)
        ys.append(y)
    return np.stack(ys, 1), S


def test_gated_delta_update():
    r = rng(22)
    q, k = r.standard_normal((2, 5, 2, 4)), r.standard_normal((2, 5, 2, 4))
    v = r.standard_normal((2, 5, 4, 3))
    g, b = 1 / (1 + np.exp(-r.standard_normal((2, 5, 4)))), 1 / (1 + np.exp(-r.standard_normal((2, 5, 4))))
    S0 = r.standard_normal((2, 4, 3, 4))
    m = np.array([[True, False, True, True, False], [True] * 5])
    E = [mx.array(a.astype(np.float32)) for a in (q, k, v, g, b)]
    y, s = mx.fast.gated_delta_update(*E)
    yr, sr = ref_gdn(q, k, v, g, b)
    assert y.shape == (2, 5, 4, 3) and s.shape == (2, 4, 3, 4) and s.dtype == mx.float32
    np.testing.assert_allclose(np.array(y), yr, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.array(s), sr, rtol=1e-4, atol=1e-5)
    y, s = mx.fast.gated_delta_update(*E, mx.array(S0.astype(np.float32)), mx.array(m))
    yr, sr = ref_gdn(q, k, v, g, b, S0, m)
    np.testing.assert_allclose(np.array(y), yr, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.array(s), sr, rtol=1e-4, atol=1e-5)
    y16, s16 = mx.fast.gated_delta_update(*(a.astype(mx.float16) for a in E))
    assert y16.dtype == mx.float16 and s16.dtype == mx.float32
    with pytest.raises(ValueError):
        mx.fast.gated_delta_update(E[0][0], E[1][0], E[2][0], E[3][0], E[4][0])


def test_custom_kernels_unavailable():
    k = mx.fast.metal_kernel(name="k", input_names=["a"], output_names=["b"], source="b[0] = a[0];")
    with pytest.raises(RuntimeError, match="Metal"):
        k(inputs=[mx.array(1.0)], grid=(1, 1, 1), threadgroup=(1, 1, 1), output_shapes=[(1,)],
          output_dtypes=[mx.float32])
    with pytest.raises(RuntimeError, match="CUDA"):
        mx.fast.cuda_kernel(name="k", input_names=["a"], output_names=["b"], source="")
    with pytest.raises(RuntimeError, match="CUDA"):
        mx.fast.precompiled_cuda_kernel(name="k", compiled_source=b"", inputs=[], output_shapes=[],
                                        output_dtypes=[], scalars=[], grid=(1, 1, 1), threadgroup=(1, 1, 1))
    assert mx.fast.rms_norm(mx.ones((1, 2)), None, 1e-5).shape == (1, 2)  # still working


# ---------- against the real MLX

def test_against_mlx():
    mlx = pytest.importorskip("mlx.core")
    r = rng(23)
    x = r.standard_normal((3, 4, 32)).astype(np.float32)
    w, b = r.standard_normal(32).astype(np.float32), r.standard_normal(32).astype(np.float32)
    q, k, v = sdpa_inputs(24, Tq=9, Tk=9)
    m = r.random((9, 9)) > 0.3
    sinks = r.standard_normal(4).astype(np.float32)
    offs = np.array([2, 7], dtype=np.int32)
    tgt = r.integers(0, 32, (3, 4)).astype(np.int32)
    cases = [
        lambda M: M.fast.rms_norm(M.array(x), M.array(w), 1e-5),
        lambda M: M.fast.rms_norm(M.array(x).astype(M.bfloat16), None, 1e-5),
        lambda M: M.fast.layer_norm(M.array(x), M.array(w), M.array(b), 1e-4),
        lambda M: M.fast.layer_norm(M.array(x).astype(M.float16), None, M.array(b), 1e-4),
        lambda M: M.fast.rope(M.array(q), 6, traditional=False, base=10000.0, scale=1.0, offset=M.array(offs)),
        lambda M: M.fast.rope(M.array(q), 8, traditional=True, base=None, scale=0.5, offset=3,
                              freqs=M.array(w[:4] ** 2 + 1)),
        lambda M: M.fast.scaled_dot_product_attention(M.array(q), M.array(k), M.array(v), scale=0.3),
        lambda M: M.fast.scaled_dot_product_attention(M.array(q), M.array(k), M.array(v), scale=0.3, mask="causal",
                                                      sinks=M.array(sinks)),
        lambda M: M.fast.scaled_dot_product_attention(M.array(q), M.array(k), M.array(v), scale=0.3, mask=M.array(m)),
        lambda M: M.grad(lambda a, c, d: M.sum(M.fast.scaled_dot_product_attention(a, c, d, scale=0.3, mask="causal") ** 2),
                         argnums=(0, 1, 2))(M.array(q), M.array(k), M.array(v)),
        lambda M: M.grad(lambda a, s: M.sum(M.sin(M.fast.scaled_dot_product_attention(
            a, M.array(k), M.array(v), scale=0.3, sinks=s))), argnums=(0, 1))(M.array(q), M.array(sinks)),
        lambda M: M.grad(lambda a, g, c: M.sum(M.fast.layer_norm(a, g, c, 1e-5) ** 3), argnums=(0, 1, 2))(
            M.array(x), M.array(w), M.array(b)),
        lambda M: M.grad(lambda a, g: M.sum(M.fast.rms_norm(a, g, 1e-5) ** 3), argnums=(0, 1))(M.array(x), M.array(w)),
        lambda M: M.grad(lambda a: M.sum(M.fast.rope(a, 8, traditional=False, base=10.0, scale=1.0, offset=1) ** 3))(
            M.array(q)),
        lambda M: M.fast.cross_entropy(M.array(x), M.array(tgt)),
    ]
    for i, case in enumerate(cases):
        ref, got = case(mlx), case(mx)
        ref = ref if isinstance(ref, (tuple, list)) else [ref]
        got = got if isinstance(got, (tuple, list)) else [got]
        for a, e in zip(ref, got):
            assert str(e.dtype).split(".")[-1] == str(a.dtype).split(".")[-1], i
            np.testing.assert_allclose(npf(e), np.array(a.astype(mlx.float32)), rtol=2e-2, atol=2e-2, err_msg=str(i))


@pytest.mark.parametrize("shape", [(1, 3, 1, 1, 300, 5, 13), (2, 2, 2, 70, 1, 17, 3), (1, 4, 2, 70, 260, 24, 40)])
def test_sdpa_odd_sizes_fused_vs_composed(shape):
    """Tile remainders, single queries or keys and grouped heads: the fused float32 kernels
    against the composed float64 form (values and all three gradients)."""
    B, H, Hk, Tq, Tk, D, Dv = shape
    r = rng(25)
    q, k, v = (r.standard_normal(s).astype(np.float32)
               for s in ((B, H, Tq, D), (B, Hk, Tk, D), (B, Hk, Tk, Dv)))
    c = r.standard_normal((B, H, Tq, Dv))
    for mask in (None, "causal", r.random((Tq, Tk)) > 0.5):
        m = mx.array(mask) if isinstance(mask, np.ndarray) else mask

        def f(a, b, cc):
            return mx.sum(mx.fast.scaled_dot_product_attention(a, b, cc, scale=0.3, mask=m) * mx.array(c, dtype=a.dtype))

        o = mx.fast.scaled_dot_product_attention(mx.array(q), mx.array(k), mx.array(v), scale=0.3, mask=m)
        o64 = mx.fast.scaled_dot_product_attention(f64(q), f64(k), f64(v), scale=0.3, mask=m)
        np.testing.assert_allclose(np.array(o), np.array(o64), rtol=1e-5, atol=1e-5)
        g = mx.grad(f, argnums=(0, 1, 2))(mx.array(q), mx.array(k), mx.array(v))
        g64 = mx.grad(f, argnums=(0, 1, 2))(f64(q), f64(k), f64(v))
        for a, b in zip(g, g64):
            np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-4, atol=1e-5)
