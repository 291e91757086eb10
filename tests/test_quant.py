"""Quantization and the special matmuls, checked against the real MLX and numpy."""
import numpy as np
import pytest

import ember.core as mx

mlx = pytest.importorskip("mlx.core")

AFFINE = [(gs, b) for gs in (32, 64, 128) for b in (1, 2, 3, 4, 5, 6, 8)]
FLOAT_MODES = ["mxfp4", "mxfp8", "nvfp4"]


def rnd(shape, seed=0, scale=1.0):
    r = np.random.default_rng(seed)
    return (r.standard_normal(shape) * scale).astype(np.float32)


def np_of(a):
    return np.array(a)


def unpack(q, bits, n):
    """Codes of each row from the packed little-endian bit stream."""
    q = np.ascontiguousarray(np.array(q))
    by = q.view(np.uint8).reshape(-1, q.shape[-1] * 4)
    b = np.unpackbits(by, axis=1, bitorder="little")[:, : n * bits].reshape(-1, n, bits)
    return (b * (1 << np.arange(bits))).sum(-1)


# ---------- quantize / dequantize: bit-exact against mlx


@pytest.mark.parametrize("gs,bits", AFFINE)
def test_affine_quantize_matches_mlx(gs, bits):
    w = rnd((8, 256), seed=bits * 7 + gs, scale=2.0)
    w[0, :gs] = np.abs(w[0, :gs])  # one-signed group
    w[1, :gs] = 0.0  # constant group
    w[2, :gs] = -np.abs(w[2, :gs])
    q, s, b = mx.quantize(mx.array(w), group_size=gs, bits=bits)
    qm, sm, bm = mlx.quantize(mlx.array(w), group_size=gs, bits=bits)
    assert q.dtype == mx.uint32 and q.shape == (8, 256 * bits // 32)
    assert s.shape == (8, 256 // gs) and s.dtype == mx.float32 and b.shape == s.shape
    np.testing.assert_array_equal(np_of(q), np_of(qm))
    np.testing.assert_array_equal(np_of(s), np_of(sm))
    np.testing.assert_array_equal(np_of(b), np_of(bm))
    d = mx.dequantize(q, s, b, group_size=gs, bits=bits)
    dm = mlx.dequantize(qm, sm, bm, group_size=gs, bits=bits)
    np.testing.assert_array_equal(np_of(d), np_of(dm))
    # the round trip error is at most a step per group (the grid is shifted to keep an endpoint exact)
    step = np.repeat(np.abs(np_of(s)), gs, axis=1)
    assert np.all(np.abs(np_of(d) - w) <= step + 1e-5)


def test_affine_codes_and_layout():
    # A group 0..15 with 4 bits: scale -1, bias 15, code 15 - v, nibbles little-endian.
    w = np.tile(np.arange(16, dtype=np.float32), 2)[None]
    q, s, b = mx.quantize(mx.array(w), group_size=32, bits=4)
    assert s.item() == -1.0 and b.item() == 15.0
    codes = unpack(q, 4, 32)[0]
    np.testing.assert_array_equal(codes, 15 - w[0])
    # ties round to even
    w = np.zeros((1, 32), np.float32)
    w[0, :5] = [0, 0.5, 1.5, 2.5, 15]
    q, s, b = mx.quantize(mx.array(w), group_size=32, bits=4)
    np.testing.assert_array_equal(unpack(q, 4, 32)[0, :5], [15, 14, 14, 12, 0])


@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
def test_affine_half_inputs(dt):
    w = rnd((4, 128), seed=3)
    we, wm = mx.array(w).astype(getattr(mx, dt)), mlx.array(w).astype(getattr(mlx, dt))
    q, s, b = mx.quantize(we, group_size=64, bits=4)
    qm, sm, bm = mlx.quantize(wm, group_size=64, bits=4)
    assert s.dtype == getattr(mx, dt) and b.dtype == s.dtype
    np.testing.assert_array_equal(np_of(q), np_of(qm))
    np.testing.assert_array_equal(np_of(s.astype(mx.float32)), np_of(sm.astype(mlx.float32)))
    np.testing.assert_array_equal(np_of(b.astype(mx.float32)), np_of(bm.astype(mlx.float32)))
    d = mx.dequantize(q, s, b, group_size=64, bits=4)
    dm = mlx.dequantize(qm, sm, bm, group_size=64, bits=4)
    assert d.dtype == s.dtype
    np.testing.assert_allclose(np_of(d.astype(mx.float32)), np_of(dm.astype(mlx.float32)), rtol=1e-2, atol=1e-2)
    d32 = mx.dequantize(q, s, b, group_size=64, bits=4, dtype=mx.float32)
    assert d32.dtype == mx.float32


@pytest.mark.parametrize("mode", FLOAT_MODES)
def test_float_modes_match_mlx(mode):
    r = np.random.default_rng(5)
    w = (r.standard_normal((16, 256)) * np.exp(r.standard_normal((16, 1)) * 2)).astype(np.float32)
    w[0, :32] = 0.0
    w[1, :8] = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0]  # ties
    q, s = mx.quantize(mx.array(w), mode=mode)
    qm, sm = mlx.quantize(mlx.array(w), mode=mode)
    assert q.dtype == mx.uint32 and s.dtype == mx.uint8
    np.testing.assert_array_equal(np_of(q), np_of(qm))
    np.testing.assert_array_equal(np_of(s), np_of(sm))
    d = mx.dequantize(q, s, mode=mode)
    dm = mlx.dequantize(qm, sm, mode=mode)
    assert d.dtype == mx.bfloat16
    np.testing.assert_array_equal(np_of(d.astype(mx.float32)), np_of(dm.astype(mlx.float32)))
    d = mx.dequantize(q, s, mode=mode, dtype=mx.float32)
    np.testing.assert_array_equal(np_of(d), np_of(mlx.dequantize(qm, sm, mode=mode, dtype=mlx.float32)))


def test_batched_quantize():
    w = rnd((2, 3, 16, 64), seed=9)
    for e, m in zip(mx.quantize(mx.array(w), group_size=32, bits=3), mlx.quantize(mlx.array(w), group_size=32, bits=3)):
        np.testing.assert_array_equal(np_of(e), np_of(m))


# ---------- quantized_matmul


def qmm_pair(x, w, transpose, gs, bits, mode="affine"):
    wm = mlx.array(w)
    qs = mlx.quantize(wm, group_size=gs, bits=bits, mode=mode)
    qe = [mx.array(np_of(a)) for a in qs]
    biases = qe[2] if mode == "affine" else None
    biases_m = qs[2] if mode == "affine" else None
    e = mx.quantized_matmul(mx.array(x), qe[0], qe[1], biases, transpose=transpose, group_size=gs, bits=bits, mode=mode)
    m = mlx.quantized_matmul(mlx.array(x), qs[0], qs[1], biases_m, transpose=transpose, group_size=gs, bits=bits, mode=mode)
    return e, m


@pytest.mark.parametrize("gs,bits", AFFINE)
@pytest.mark.parametrize("transpose", [True, False])
def test_quantized_matmul_affine(gs, bits, transpose):
    M = 3 if bits % 2 else 9  # both the on-the-fly and the tiled paths
    x = rnd((M, 256), seed=1)
    w = rnd((128, 256) if transpose else (256, 128), seed=2)
    e, m = qmm_pair(x, w, transpose, gs, bits)
    assert e.shape == m.shape and str(e.dtype).split('.')[-1] == str(m.dtype).split('.')[-1]
    np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("mode", FLOAT_MODES)
@pytest.mark.parametrize("transpose", [True, False])
@pytest.mark.parametrize("M", [1, 12])
def test_quantized_matmul_float_modes(mode, transpose, M):
    x = rnd((M, 128), seed=4)
    w = rnd((64, 128) if transpose else (128, 64), seed=6)
    gs, bits = (16, 4) if mode == "nvfp4" else (32, 8 if mode == "mxfp8" else 4)
    e, m = qmm_pair(x, w, transpose, gs, bits, mode)
    np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-4, atol=1e-3)


def test_quantized_matmul_shapes_and_dtypes():
    w = rnd((3, 64, 128), seed=7)
    q, s, b = mlx.quantize(mlx.array(w))
    qe, se, be = (mx.array(np_of(a)) for a in (q, s, b))
    for xs in [(5, 128), (2, 3, 5, 128), (128,), (1, 5, 128)]:
        x = rnd(xs, seed=len(xs))
        e = mx.quantized_matmul(mx.array(x), qe, se, be)
        m = mlx.quantized_matmul(mlx.array(x), q, s, b)
        assert e.shape == m.shape
        np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-4, atol=1e-3)
    x16 = mx.array(rnd((5, 128))).astype(mx.float16)
    assert mx.quantized_matmul(x16, qe, se, be).dtype == mx.float32
    assert mx.quantized_matmul(x16, qe, se.astype(mx.float16), be.astype(mx.float16)).dtype == mx.float16
    # non-contiguous x
    xt = mx.array(rnd((128, 5))).T
    np.testing.assert_allclose(np_of(mx.quantized_matmul(xt, qe[0], se[0], be[0])),
                               np_of(mlx.quantized_matmul(mlx.array(np_of(xt)), q[0], s[0], b[0])), rtol=1e-4, atol=1e-3)


def test_quantized_matmul_large_rows():
    x = rnd((4, 8, 512), seed=11)  # batch folded into rows
    w = rnd((256, 512), seed=12)
    e, m = qmm_pair(x, w, True, 64, 4)
    np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-4, atol=2e-3)


def test_quantized_matmul_errors():
    w = mx.array(rnd((64, 128)))
    q, s, b = mx.quantize(w)
    x = mx.ones((5, 128))
    with pytest.raises(ValueError):
        mx.quantized_matmul(mx.ones((5, 127)), q, s, b)
    with pytest.raises(ValueError):
        mx.quantized_matmul(x, q, s)
    with pytest.raises(ValueError):
        mx.quantized_matmul(x, q, s, b, bits=3)
    with pytest.raises(ValueError):
        mx.quantized_matmul(x, q, s, b, group_size=16)
    with pytest.raises(ValueError):
        mx.quantized_matmul(x, q.astype(mx.int32), s, b)
    with pytest.raises(ValueError):
        mx.quantized_matmul(x, q, s, b, mode="mxfp4")
    with pytest.raises(ValueError):
        mx.quantize(mx.ones((128,)))
    with pytest.raises(ValueError):
        mx.quantize(mx.ones((2, 100)))
    with pytest.raises(ValueError):
        mx.quantize(mx.ones((2, 128)), bits=7)
    with pytest.raises(ValueError):
        mx.quantize(mx.ones((2, 128)), group_size=16)
    with pytest.raises(ValueError):
        mx.quantize(mx.ones((2, 128)), mode="foo")
    with pytest.raises(ValueError):
        mx.quantize(mx.ones((2, 128), dtype=mx.int32))
    with pytest.raises(ValueError):
        mx.quantize(mx.ones((2, 128)), mode="mxfp4", group_size=64)
    with pytest.raises(ValueError):
        mx.quantize(mx.ones((2, 128)), mode="mxfp8", bits=4)
    with pytest.raises(ValueError):
        mx.dequantize(q, s, b, bits=3)
    with pytest.raises(ValueError):
        mx.dequantize(q, s)
    # still working afterwards
    assert mx.quantized_matmul(x, q, s, b).shape == (5, 64)


# ---------- transformations


def test_quantized_matmul_grads_match_mlx():
    w = rnd((32, 64), seed=13)
    x = rnd((3, 64), seed=14)
    q, s, b = mlx.quantize(mlx.array(w), group_size=32, bits=4)
    qe, se, be = (mx.array(np_of(a)) for a in (q, s, b))
    for argnum in range(3):
        def fe(x, s, b):
            return (mx.quantized_matmul(x, qe, s, b, group_size=32) ** 2).sum()

        def fm(x, s, b):
            return (mlx.quantized_matmul(x, q, s, b, group_size=32) ** 2).sum()

        ge = mx.grad(fe, argnums=argnum)(mx.array(x), se, be)
        gm = mlx.grad(fm, argnums=argnum)(mlx.array(x), s, b)
        np.testing.assert_allclose(np_of(ge), np_of(gm), rtol=1e-3, atol=1e-3)
    # transpose=False, x gradient
    ge = mx.grad(lambda x: mx.quantized_matmul(x, qe, se, be, transpose=False, group_size=32).sum())(mx.ones((2, 32)))
    gm = mlx.grad(lambda x: mlx.quantized_matmul(x, q, s, b, transpose=False, group_size=32).sum())(mlx.ones((2, 32)))
    np.testing.assert_allclose(np_of(ge), np_of(gm), rtol=1e-4, atol=1e-4)
    with pytest.raises(Exception):
        mx.grad(lambda q: mx.quantized_matmul(mx.array(x), q, se, be, group_size=32).sum())(qe)


def test_dequantize_grads_match_mlx():
    w = rnd((16, 64), seed=15)
    q, s, b = mlx.quantize(mlx.array(w), group_size=32, bits=3)
    qe, se, be = (mx.array(np_of(a)) for a in (q, s, b))
    c = rnd((16, 64), seed=16)
    for argnum in (1, 2):
        ge = mx.grad(lambda *a: (mx.dequantize(*a, group_size=32, bits=3) * mx.array(c)).sum(), argnums=argnum)(qe, se, be)
        gm = mlx.grad(lambda *a: (mlx.dequantize(*a, group_size=32, bits=3) * mlx.array(c)).sum(), argnums=argnum)(q, s, b)
        np.testing.assert_allclose(np_of(ge), np_of(gm), rtol=1e-4, atol=1e-4)


def test_jvp_against_finite_differences():
    w = rnd((32, 64), seed=17)
    qe, se, be = mx.quantize(mx.array(w), group_size=32, bits=8)
    x = rnd((2, 64), seed=18)
    t = rnd((2, 64), seed=19)
    f = lambda x: mx.quantized_matmul(x, qe, se, be, group_size=32, bits=8)
    _, (jt,) = mx.jvp(f, [mx.array(x)], [mx.array(t)])
    eps = 1e-2
    fd = (np_of(f(mx.array(x + eps * t))) - np_of(f(mx.array(x - eps * t)))) / (2 * eps)
    np.testing.assert_allclose(np_of(jt), fd, rtol=1e-2, atol=1e-2)
    ts = rnd(tuple(se.shape), seed=20)
    g = lambda s: mx.quantized_matmul(mx.array(x), qe, s, be, group_size=32, bits=8)
    _, (js,) = mx.jvp(g, [se], [mx.array(ts)])
    fd = (np_of(g(se + eps * mx.array(ts))) - np_of(g(se - eps * mx.array(ts)))) / (2 * eps)
    np.testing.assert_allclose(np_of(js), fd, rtol=1e-2, atol=1e-2)


def test_vmap_matches_loop():
    ws = rnd((3, 32, 64), seed=21)
    xs = rnd((3, 4, 64), seed=22)
    q, s, b = mx.quantize(mx.array(ws), group_size=32)
    f = lambda x, q, s, b: mx.quantized_matmul(x, q, s, b, group_size=32)
    out = mx.vmap(f)(mx.array(xs), q, s, b)
    loop = np.stack([np_of(f(mx.array(xs[i]), q[i], s[i], b[i])) for i in range(3)])
    np.testing.assert_allclose(np_of(out), loop, rtol=1e-5, atol=1e-5)
    # x batched on axis 1, weights shared
    out = mx.vmap(lambda x: f(x, q[0], s[0], b[0]), in_axes=1)(mx.array(xs).transpose(1, 0, 2))
    loop = np.stack([np_of(f(mx.array(xs[i]), q[0], s[0], b[0])) for i in range(3)])
    np.testing.assert_allclose(np_of(out), loop, rtol=1e-5, atol=1e-5)
    # quantize and dequantize
    qs = mx.vmap(lambda w: mx.quantize(w, group_size=32))(mx.array(ws))
    for a, c in zip(qs, (q, s, b)):
        np.testing.assert_array_equal(np_of(a), np_of(c))
    d = mx.vmap(lambda q, s, b: mx.dequantize(q, s, b, group_size=32))(q, s, b)
    np.testing.assert_array_equal(np_of(d), np_of(mx.dequantize(q, s, b, group_size=32)))
    # vmap of grad
    g = mx.vmap(mx.grad(lambda x, q, s, b: f(x, q, s, b).sum()))(mx.array(xs), q, s, b)
    loop = np.stack([np_of(mx.grad(lambda x: f(x, q[i], s[i], b[i]).sum())(mx.array(xs[i]))) for i in range(3)])
    np.testing.assert_allclose(np_of(g), loop, rtol=1e-5, atol=1e-5)


def test_compile_matches_eager():
    w = rnd((32, 64), seed=23)
    q, s, b = mx.quantize(mx.array(w), group_size=64, bits=5)
    f = lambda x: mx.quantized_matmul(x, q, s, b, group_size=64, bits=5) * 2.0
    x = mx.array(rnd((4, 64), seed=24))
    np.testing.assert_allclose(np_of(mx.compile(f)(x)), np_of(f(x)), rtol=1e-6, atol=1e-6)
    cf = mx.compile(f, shapeless=True)
    for rows in (4, 7):
        x = mx.array(rnd((rows, 64), seed=rows))
        np.testing.assert_allclose(np_of(cf(x)), np_of(f(x)), rtol=1e-6, atol=1e-6)
    g = mx.compile(lambda w: mx.dequantize(*mx.quantize(w, bits=2), bits=2))
    np.testing.assert_array_equal(np_of(g(mx.array(w))), np_of(mx.dequantize(*mx.quantize(mx.array(w), bits=2), bits=2)))


# ---------- gather_mm, gather_qmm


def test_gather_mm_matches_mlx():
    a = rnd((4, 3, 8), seed=25)
    b = rnd((5, 8, 6), seed=26)
    li = np.array([0, 3, 3, 1], np.uint32)
    ri = np.array([4, 0, 2, 2], np.uint32)
    e = mx.gather_mm(mx.array(a), mx.array(b), mx.array(li), mx.array(ri))
    m = mlx.gather_mm(mlx.array(a), mlx.array(b), mlx.array(li), mlx.array(ri))
    np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-5, atol=1e-5)
    e = mx.gather_mm(mx.array(a[:1]), mx.array(b), None, mx.array(ri.reshape(2, 2)))
    m = mlx.gather_mm(mlx.array(a[:1]), mlx.array(b), None, mlx.array(ri.reshape(2, 2)))
    assert e.shape == m.shape
    np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-5, atol=1e-5)
    ge = mx.grad(lambda a, b: mx.gather_mm(a, b, mx.array(li), mx.array(ri)).sum(), argnums=(0, 1))(mx.array(a), mx.array(b))
    gm = mlx.grad(lambda a, b: mlx.gather_mm(a, b, mlx.array(li), mlx.array(ri)).sum(), argnums=(0, 1))(mlx.array(a), mlx.array(b))
    for x, y in zip(ge, gm):
        np.testing.assert_allclose(np_of(x), np_of(y), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        mx.gather_mm(mx.array(a), mx.array(b), mx.array([0.5]), None)


def test_gather_qmm_matches_mlx():
    w = rnd((4, 32, 64), seed=27)
    x = rnd((3, 2, 64), seed=28)
    q, s, b = mlx.quantize(mlx.array(w), group_size=32, bits=4)
    qe, se, be = (mx.array(np_of(a)) for a in (q, s, b))
    li = np.array([2, 0, 1, 1], np.uint32)
    ri = np.array([3, 3, 0, 1], np.uint32)
    e = mx.gather_qmm(mx.array(x), qe, se, be, mx.array(li), mx.array(ri), group_size=32)
    m = mlx.gather_qmm(mlx.array(x), q, s, b, mlx.array(li), mlx.array(ri), group_size=32)
    assert e.shape == m.shape
    np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-4, atol=1e-4)
    e = mx.gather_qmm(mx.array(x[:1]), qe, se, be, rhs_indices=mx.array(ri), group_size=32)
    m = mlx.gather_qmm(mlx.array(x[:1]), q, s, b, rhs_indices=mlx.array(ri), group_size=32)
    np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-4, atol=1e-4)


# ---------- block_masked_mm, segmented_mm


def test_block_masked_mm_matches_mlx():
    a = rnd((2, 40, 64), seed=29)
    b = rnd((2, 64, 70), seed=30)
    r = np.random.default_rng(31)
    mo = r.random((2, 2, 3)) > 0.3
    ml = r.random((2, 2, 2)).astype(np.float32)
    mr = r.random((2, 2, 3)) > 0.3
    e = mx.block_masked_mm(mx.array(a), mx.array(b), 32, mx.array(mo), mx.array(ml), mx.array(mr))
    m = mlx.block_masked_mm(mlx.array(a), mlx.array(b), 32, mlx.array(mo), mlx.array(ml), mlx.array(mr))
    np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-4, atol=1e-4)
    e = mx.block_masked_mm(mx.array(a), mx.array(b))
    np.testing.assert_allclose(np_of(e), a @ b, rtol=1e-4, atol=1e-4)
    ge = mx.grad(lambda a: mx.block_masked_mm(a, mx.array(b), 32, mx.array(mo), mx.array(ml)).sum())(mx.array(a))
    gm = mlx.grad(lambda a: mlx.block_masked_mm(a, mlx.array(b), 32, mlx.array(mo), mlx.array(ml)).sum())(mlx.array(a))
    np.testing.assert_allclose(np_of(ge), np_of(gm), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError):
        mx.block_masked_mm(mx.ones((4, 4), dtype=mx.int32), mx.ones((4, 4), dtype=mx.int32))


def test_segmented_mm_matches_mlx():
    a = rnd((8, 10), seed=32)
    b = rnd((10, 5), seed=33)
    seg = np.array([[0, 2], [2, 10], [3, 3], [1, 7]], np.uint32)
    e = mx.segmented_mm(mx.array(a), mx.array(b), mx.array(seg))
    m = mlx.segmented_mm(mlx.array(a), mlx.array(b), mlx.array(seg))
    assert e.shape == m.shape == (4, 8, 5)
    np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-5, atol=1e-5)
    seg2 = np.stack([seg[:2], seg[2:]])
    e = mx.segmented_mm(mx.array(a), mx.array(b), mx.array(seg2))
    np.testing.assert_allclose(np_of(e), np_of(mlx.segmented_mm(mlx.array(a), mlx.array(b), mlx.array(seg2))), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        mx.segmented_mm(mx.ones((2, 8, 10)), mx.ones((2, 10, 5)), mx.array(seg))


# ---------- fp8, hadamard


def test_fp8_matches_mlx():
    r = np.random.default_rng(34)
    x = np.concatenate([r.standard_normal(500) * 100, [0.0, -0.0, 1e-10, -1e-10, 448, 470, 1e9, np.inf, -np.inf, np.nan]]).astype(np.float32)
    e = mx.to_fp8(mx.array(x))
    m = mlx.to_fp8(mlx.array(x))
    assert e.dtype == mx.uint8
    np.testing.assert_array_equal(np_of(e), np_of(m))
    codes = np.arange(256, dtype=np.uint8)
    for dt in ("float32", "float16", "bfloat16"):
        d = mx.from_fp8(mx.array(codes), getattr(mx, dt))
        dm = mlx.from_fp8(mlx.array(codes), getattr(mlx, dt))
        np.testing.assert_array_equal(np_of(d.astype(mx.float32)), np_of(dm.astype(mlx.float32)))
    assert mx.from_fp8(mx.array(codes)).dtype == mx.bfloat16
    # ties round to even
    assert np_of(mx.to_fp8(mx.array([1.0625, 1.1875], mx.float32))).tolist() == [56, 58]
    with pytest.raises(ValueError):
        mx.to_fp8(mx.array([1, 2]))
    with pytest.raises(ValueError):
        mx.from_fp8(mx.array([1.0]))
    v = mx.vmap(mx.to_fp8)(mx.array(x.reshape(51, 10)))
    np.testing.assert_array_equal(np_of(v).ravel(), np_of(m))


@pytest.mark.parametrize("n", [1, 2, 16, 256, 1024, 12, 24, 96])
def test_hadamard_matches_mlx(n):
    x = rnd((3, n), seed=n)
    e = mx.hadamard_transform(mx.array(x))
    m = mlx.hadamard_transform(mlx.array(x))
    np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-4, atol=1e-4)
    e = mx.hadamard_transform(mx.array(x), scale=0.5)
    m = mlx.hadamard_transform(mlx.array(x), scale=0.5)
    np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-4, atol=1e-4)
    g = mx.grad(lambda x: (mx.hadamard_transform(x) * mx.arange(n)).sum())(mx.array(x))
    gm = mlx.grad(lambda x: (mlx.hadamard_transform(x) * mlx.arange(n)).sum())(mlx.array(x))
    np.testing.assert_allclose(np_of(g), np_of(gm), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("M", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("N", [13, 8])
def test_quantized_matmul_odd_sizes(M, N):
    x = rnd((M, 64), seed=M)
    w = rnd((N, 64), seed=N)
    e, m = qmm_pair(x, w, True, 32, 4)
    np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-4, atol=1e-4)
    e, m = qmm_pair(x, rnd((64, 32 * N), seed=N), False, 32, 6)
    np.testing.assert_allclose(np_of(e), np_of(m), rtol=1e-4, atol=1e-3)


def test_hadamard_errors():
    with pytest.raises(ValueError):
        mx.hadamard_transform(mx.ones((2, 7)))
    with pytest.raises(ValueError):
        mx.hadamard_transform(mx.array(1.0))


@pytest.mark.parametrize("g", [1.0, 0.37, 100.0, 2688.0 / 7.5])
def test_nvfp4_global_scale(g):
    w = rnd((8, 64), seed=40, scale=3.0)
    q, s = mx.quantize(mx.array(w), mode="nvfp4", global_scale=mx.array(g))
    qm, sm = mlx.quantize(mlx.array(w), mode="nvfp4", global_scale=mlx.array(g))
    np.testing.assert_array_equal(np_of(q), np_of(qm))
    np.testing.assert_array_equal(np_of(s), np_of(sm))
    d = mx.dequantize(q, s, mode="nvfp4", global_scale=mx.array(g), dtype=mx.float32)
    dm = mlx.dequantize(qm, sm, mode="nvfp4", global_scale=mlx.array(g), dtype=mlx.float32)
    np.testing.assert_allclose(np_of(d), np_of(dm), rtol=1e-6, atol=0)
    with pytest.raises(ValueError):
        mx.quantize(mx.array(w), mode="mxfp4", global_scale=mx.array(g))
    with pytest.raises(ValueError):
        mx.quantize(mx.array(w), mode="nvfp4", global_scale=mx.array([g, g]))


# ---------------------------------------------------------------- qqmm / gather_qqmm


def _mlx_round(mlx, a, mode):
    """a rounded through MLX's quantizer (MLX's CPU qqmm itself is not implemented)."""
    return np.array(mlx.dequantize(*mlx.quantize(mlx.array(a), mode=mode), mode=mode, dtype=mlx.float32))


@pytest.mark.parametrize("mode", ["nvfp4", "mxfp8"])
def test_qqmm_is_the_product_of_the_rounded_operands(mode):
    mlx = pytest.importorskip("mlx.core")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 64)).astype(np.float32)
    w = rng.standard_normal((48, 64)).astype(np.float32)
    ref = _mlx_round(mlx, x, mode) @ _mlx_round(mlx, w, mode).T
    got = mx.qqmm(mx.array(x), mx.array(w), mode=mode)
    assert got.shape == (2, 3, 48) and got.dtype == mx.float32
    np.testing.assert_allclose(np.array(got), ref, rtol=1e-5, atol=1e-5)
    wq, sc = mx.quantize(mx.array(w), mode=mode)
    np.testing.assert_allclose(np.array(mx.qqmm(mx.array(x), wq, sc, mode=mode)), ref, rtol=1e-5, atol=1e-5)
    # gradients pass straight through the rounding
    gx, gw = mx.grad(lambda a, b: mx.qqmm(a, b, mode=mode).sum(), argnums=(0, 1))(mx.array(x), mx.array(w))
    np.testing.assert_allclose(np.array(gx), np.broadcast_to(_mlx_round(mlx, w, mode).sum(0), x.shape),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.array(gw), np.broadcast_to(_mlx_round(mlx, x, mode).reshape(-1, 64).sum(0),
                                                             w.shape), rtol=1e-4, atol=1e-4)
    # gather form: per-row choice of the matrix
    ws = rng.standard_normal((3, 16, 64)).astype(np.float32)
    idx = mx.array([2, 0])
    g = mx.gather_qqmm(mx.array(x[:, :1]), mx.array(ws), rhs_indices=idx, mode=mode)
    want = np.stack([_mlx_round(mlx, x[i, :1], mode) @ _mlx_round(mlx, ws[j], mode).T
                     for i, j in enumerate([2, 0])])
    np.testing.assert_allclose(np.array(g), want, rtol=1e-5, atol=1e-5)


def test_qqmm_errors():
    x, w = mx.ones((2, 64)), mx.ones((8, 64))
    with pytest.raises(ValueError, match="qqmm"):
        mx.qqmm(x, w, mode="affine")
    with pytest.raises(ValueError, match="qqmm"):
        mx.qqmm(x.astype(mx.int32), w)
    with pytest.raises(ValueError, match="qqmm"):
        mx.qqmm(x, w, mode="mxfp8", global_scale_x=mx.array(1.0))
    np.testing.assert_allclose(np.array(mx.qqmm(x, w, mode="mxfp8")), np.full((2, 8), 64.0))
