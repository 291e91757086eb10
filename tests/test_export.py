"""Exported functions: export_function, import_function, exporter.

Round trips compare the imported function on fresh inputs with the original function run
eagerly; the file format is checked against truncation, corruption and newer versions; the
API's behaviour and error classes are compared with MLX where both have them.
"""
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

import ember.core as mx
import ember.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where the imported package lives (the source tree's python/ in a development build, the
# environment's site-packages when installed): subprocesses import the same one.
PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(mx.__file__)))


def _rand(rng, shape, dtype=np.float32):
    return mx.array(rng.standard_normal(shape).astype(dtype))


def _outs(r):
    return list(r) if isinstance(r, (tuple, list)) else [r]


def _check_round_trip(tmp_path, fun, args, fresh, kwargs=None, fresh_kwargs=None, atol=1e-5,
                      shapeless=False):
    path = str(tmp_path / "f.emfn")
    mx.export_function(path, fun, *args, shapeless=shapeless, **(kwargs or {}))
    imported = mx.import_function(path)
    got = imported(*fresh, **(fresh_kwargs or {}))
    assert isinstance(got, tuple)
    want = _outs(fun(*fresh, **(fresh_kwargs or {})))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(np.array(g), np.array(w), atol=atol, rtol=1e-5)
    return imported


# ---------- round trips of many primitives

W = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)

FUNCTIONS = {
    "elementwise_chain": (lambda x, y: mx.tanh(mx.exp(-x) * y + mx.sqrt(mx.abs(x))) - mx.maximum(x, y) / 3,
                          [(3, 4), (3, 4)]),
    "broadcast_compare_select": (lambda x, y: mx.where(x > y, x * 2, mx.sin(y)), [(3, 4), (4,)]),
    "integer_ops": (lambda x, y: ((x.astype(mx.int32) * 7) // 3 % 5) << 1 | (y.astype(mx.int32) & 3), [(6,), (6,)]),
    "matmul_addmm": (lambda a, b, c: (a @ b, mx.addmm(c, a, b, alpha=0.5, beta=2.0)), [(3, 5), (5, 4), (3, 4)]),
    "reductions": (lambda x: (x.sum(), x.max(0), mx.argmax(x, 1), mx.cumsum(x, 1),
                              mx.logsumexp(x, -1), mx.softmax(x, 0), mx.prod(x, (0, 1)), mx.var(x, 0)),
                   [(4, 5)]),
    "indexing": (lambda x, i: (x[1:, ::2], x[i], mx.take(x, i, 1), x[:, None, 2], mx.take_along_axis(
        x, mx.argsort(x, 1), 1)), [(4, 5), "idx"]),
    "scatter": (lambda x, i: (x.at[i].add(1.0), x.at[i].multiply(2.0), x.at[1:3].add(x[:2])), [(4, 5), "idx"]),
    "shapes": (lambda x: (x.T, x.reshape(-1, 2), mx.concatenate([x, x], 1), mx.stack([x, x]),
                          mx.broadcast_to(x[:1], (3, 4, 4))[1], mx.flatten(x), mx.pad(x, 1),
                          mx.split(x, 2, 1)[1], mx.repeat(x, 2, 0)), [(4, 4)]),
    "conv": (lambda x, w: (mx.conv1d(x, w, stride=2, padding=1),), [(2, 9, 3), (4, 3, 3)]),
    "conv2d": (lambda x, w: mx.conv2d(x, w, padding=(1, 0), dilation=(1, 2), groups=1), [(1, 6, 7, 2), (3, 3, 2, 2)]),
    "sort_topk": (lambda x: (mx.sort(x, 1), mx.topk(x, 2, 1), mx.partition(x, 1, 0), mx.argpartition(x, 2, 1)),
                  [(4, 5)]),
    "einsum_diag": (lambda a, b: (mx.einsum("ij,jk->ik", a, b), mx.diagonal(a @ b.T[:, :4] if False else a[:, :3], 0),
                                  mx.trace(a[:, :3])), [(3, 4), (4, 2)]),
    "fast": (lambda x, w, b: (mx.fast.layer_norm(x, w, b, 1e-5), mx.fast.rms_norm(x, w, 1e-6),
                              mx.fast.rope(x[None], 4, traditional=False, base=10000.0, scale=1.0, offset=1)),
             [(3, 8), (8,), (8,)]),
    "attention": (lambda q, k, v: mx.fast.scaled_dot_product_attention(q, k, v, scale=0.5, mask="causal"),
                  [(1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8)]),
    "quantized": (lambda x: mx.quantized_matmul(x, *mx.quantize(mx.array(np.tile(W, (8, 16))), 32, 4), True, 32, 4),
                  [(3, 64)]),
    "dtype_views": (lambda x: (x.astype(mx.float16), mx.view(x, mx.int32), mx.isnan(x / 0) | mx.isinf(x / 0),
                               mx.stop_gradient(x), mx.real(x.astype(mx.complex64) * 1j)), [(2, 3)]),
    "unary_family": (lambda x: [op(mx.abs(x) + 1.5) for op in (
        mx.negative, mx.sign, mx.square, mx.rsqrt, mx.reciprocal, mx.expm1, mx.log, mx.log1p, mx.log2, mx.log10,
        mx.cos, mx.tan, mx.arctan, mx.sinh, mx.cosh, mx.arcsinh, mx.arccosh, mx.sigmoid, mx.erf, mx.floor,
        mx.ceil, mx.round, mx.logical_not, lambda v: mx.conjugate(v.astype(mx.complex64)), lambda v: mx.arcsin(1 / v), lambda v: mx.arccos(1 / v),
        lambda v: mx.arctanh(1 / v), lambda v: mx.erfinv(1 / v), lambda v: mx.imag(v.astype(mx.complex64)),
        lambda v: mx.isposinf(v / 0), lambda v: mx.isneginf(-v / 0),
        lambda v: mx.bitwise_invert(v.astype(mx.int32)))], [(7,)]),
    "binary_family": (lambda x, y: [op(mx.abs(x) + 0.5, mx.abs(y) + 0.5) for op in (
        mx.power, mx.minimum, mx.arctan2, mx.logaddexp, mx.equal, mx.not_equal, mx.less, mx.less_equal,
        mx.greater_equal, mx.logical_and, mx.logical_or, mx.remainder,
        lambda a, b: mx.isclose(a, b, equal_nan=True),
        lambda a, b: (a * 9).astype(mx.uint8) ^ (b * 3).astype(mx.uint8),
        lambda a, b: (a * 90).astype(mx.int32) >> (b * 3).astype(mx.int32))], [(7,), (7,)]),
    "grads_of_fast_ops": (lambda x, w, q: mx.grad(lambda x, w, q: (
        mx.fast.layer_norm(x, w, w, 1e-5).sum() + mx.fast.rms_norm(x, w, 1e-5).sum()
        + mx.fast.scaled_dot_product_attention(q, q, q, scale=0.3).sum()), argnums=(0, 1, 2))(x, w, q),
        [(3, 8), (8,), (1, 2, 3, 8)]),
    "quantize_fp8_losses": (lambda w, x, t: (mx.dequantize(*mx.quantize(w, 32, 4), 32, 4),
                                             mx.from_fp8(mx.to_fp8(x), mx.float32),
                                             mx.fast.cross_entropy(x, (mx.abs(t) * 2).astype(mx.int32))),
                            [(4, 64), (3, 5), (3,)]),
    "scatter_axis_strided_search": (lambda x, v: (mx.put_along_axis(x, mx.argsort(x, 1)[:, :2], v[:, :2], 1),
                                                  mx.as_strided(x, (3, 2), (1, 2), 1),
                                                  mx.searchsorted(mx.sort(x[0]), v[0]), mx.depends(x, v)),
                                    [(3, 5), (3, 5)]),
    "constants_inside": (lambda x: x + mx.arange(4.0) * mx.array(W[:4, 0]) + mx.ones((4,)), [(3, 4)]),
    "linalg": (lambda a, b: _linalg_outputs(a, b), [(4, 4), (4, 2)]),
    "fft": (lambda x: (mx.fft.fft(x), mx.fft.rfft(x, axis=0), mx.fft.irfft(mx.fft.rfft(x), n=6),
                       mx.fft.ifft2(x.astype(mx.complex64))), [(5, 6)]),
    "pooling_and_conv_grads": (lambda x, w: (nn.MaxPool2d(2)(x),) + mx.grad(
        lambda x, w: (nn.MaxPool2d(2)(mx.conv2d(x, w, padding=1)) ** 2).sum(), argnums=(0, 1))(x, w),
        [(2, 6, 4, 3), (5, 3, 3, 3)]),
}


def _linalg_outputs(a, b):
    spd = a @ a.T + 4 * mx.eye(4)
    la = mx.linalg
    return (la.inv(spd), la.solve(spd, b), la.cholesky(spd), la.qr(a)[1], la.svd(a, compute_uv=False),
            la.eigvalsh(spd), la.eigh(spd)[0], la.det(spd), la.tri_inv(a, upper=True), la.lu_factor(a)[0],
            la.eigvals(spd).real, la.norm(a, 2))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_round_trip(tmp_path, rng, name):
    fun, specs = FUNCTIONS[name]

    def make(spec):
        if spec == "idx":
            return mx.array(np.array([2, 0, 3], dtype=np.int32))
        return _rand(rng, spec)

    args = [make(s) for s in specs]
    fresh = [make(s) for s in specs]
    _check_round_trip(tmp_path, fun, args, fresh, atol=1e-3 if name in ("quantized", "attention") else 1e-5)


def test_mlp_with_captured_weights_and_file_in_a_fresh_process(tmp_path, rng):
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    mx.eval(model.parameters())
    path = str(tmp_path / "mlp.emfn")
    mx.export_function(path, lambda x: model(x), mx.zeros((2, 6)))
    x = rng.standard_normal((2, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    want = np.array(model(mx.array(x)))
    imported = mx.import_function(path)
    np.testing.assert_allclose(np.array(imported(mx.array(x))[0]), want, rtol=1e-5, atol=1e-6)
    # A process that has neither the model nor the function reads the file alone.
    script = (
        "import sys, numpy as np, ember.core as mx\n"
        "f = mx.import_function(sys.argv[1])\n"
        "out = f(mx.array(np.load(sys.argv[2])))\n"
        "np.save(sys.argv[3], np.array(out[0]))\n"
    )
    env = dict(os.environ, PYTHONPATH=PKG_ROOT)
    run = subprocess.run([sys.executable, "-c", script, path, str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), want, rtol=1e-5, atol=1e-6)


def test_keyword_inputs_several_outputs_and_call_forms(tmp_path, rng):
    def fun(x, y, *, w, b):
        return [x @ w + b, y * 2]

    x, y, w, b = _rand(rng, (2, 3)), _rand(rng, (4,)), _rand(rng, (3, 5)), _rand(rng, (5,))
    path = str(tmp_path / "kw.emfn")
    mx.export_function(path, fun, x, y, w=w, b=b)
    f = mx.import_function(path)
    want = fun(x, y, w=w, b=b)
    for got in (f(x, y, w=w, b=b), f(x, y, b=b, w=w), f((x, y), {"w": w, "b": b})):
        assert len(got) == 2
        np.testing.assert_allclose(np.array(got[0]), np.array(want[0]), rtol=1e-6)
        np.testing.assert_allclose(np.array(got[1]), np.array(want[1]))
    # Export takes the tuple/dict form too.
    mx.export_function(path, fun, (x, y), {"w": w, "b": b})
    np.testing.assert_allclose(np.array(mx.import_function(path)(x, y, w=w, b=b)[0]), np.array(want[0]), rtol=1e-6)
    with pytest.raises(ValueError):
        f(x, y, w=w)  # a keyword input missing
    with pytest.raises(ValueError):
        f(x, y, w, b)  # keyword inputs given by position
    with pytest.raises(ValueError):
        f(x, y, w=w, c=b)  # another keyword
    with pytest.raises(ValueError):
        f(x, 3, w=w, b=b)  # not an array


def test_outputs_that_are_inputs_or_constants_and_no_inputs(tmp_path):
    c = mx.array([1.0, 2.0])
    path = str(tmp_path / "o.emfn")
    mx.export_function(path, lambda x: (x, c, x + c), mx.zeros(2))
    a, b, s = mx.import_function(path)(mx.array([5.0, 7.0]))
    assert a.tolist() == [5.0, 7.0] and b.tolist() == [1.0, 2.0] and s.tolist() == [6.0, 9.0]
    mx.export_function(path, lambda: mx.arange(3) * 2)
    assert mx.import_function(path)()[0].tolist() == [0, 2, 4]


def test_constants_and_inputs_of_every_dtype(tmp_path):
    path = str(tmp_path / "d.emfn")
    base = np.array([[0, 1, 2], [3, 250, 7]])
    for t in (mx.bool_, mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.int8, mx.int16, mx.int32, mx.int64,
              mx.float16, mx.bfloat16, mx.float32, mx.float64, mx.complex64):
        c = mx.array(base).astype(t).T  # a transposed view: written row-major
        mx.export_function(path, lambda x: (c, x, mx.vmap(lambda r: r * 2)(x.astype(mx.float32))),
                           mx.zeros((3, 2), dtype=t))
        x = mx.array(base[::-1]).astype(t).T
        got_c, got_x, doubled = mx.import_function(path)(x)
        assert got_c.dtype == t and got_x.dtype == t
        assert got_c.tolist() == c.tolist() and got_x.tolist() == x.tolist()
        assert doubled.tolist() == (x.astype(mx.float32) * 2).tolist()


def test_transforms_of_an_imported_function(tmp_path, rng):
    path = str(tmp_path / "t.emfn")
    mx.export_function(path, lambda x, y: mx.sin(x) * y, mx.zeros((3,)), mx.zeros((3,)))
    f = mx.import_function(path)
    x, y = _rand(rng, (3,)), _rand(rng, (3,))
    g = mx.grad(lambda x: f(x, y)[0].sum())(x)
    np.testing.assert_allclose(np.array(g), np.cos(np.array(x)) * np.array(y), rtol=1e-5)
    xs = _rand(rng, (4, 3))
    v = mx.vmap(lambda x: f(x, y)[0])(xs)
    np.testing.assert_allclose(np.array(v), np.sin(np.array(xs)) * np.array(y), rtol=1e-5)
    c = mx.compile(lambda x: f(x, y)[0] + 1)(x)
    np.testing.assert_allclose(np.array(c), np.sin(np.array(x)) * np.array(y) + 1, rtol=1e-5)


def test_compiled_functions_and_grads_inside_are_traced_through(tmp_path, rng):
    inner = mx.compile(lambda x: mx.exp(x) * 2 + 1)
    x = _rand(rng, (5,))
    inner(x)  # cached graph with fused kernels
    path = str(tmp_path / "c.emfn")
    mx.export_function(path, lambda x: (inner(x), mx.grad(lambda z: (z ** 3).sum())(x)), x)
    a, g = mx.import_function(path)(x)
    np.testing.assert_allclose(np.array(a), np.exp(np.array(x)) * 2 + 1, rtol=1e-5)
    np.testing.assert_allclose(np.array(g), 3 * np.array(x) ** 2, rtol=1e-5)


def test_random_inside_with_a_key_input_and_without(tmp_path):
    path = str(tmp_path / "r.emfn")
    mx.export_function(path, lambda x, k: x + mx.random.uniform(shape=x.shape, key=k), mx.zeros(3), mx.random.key(0))
    f = mx.import_function(path)
    for seed in (0, 1):
        want = mx.random.uniform(shape=(3,), key=mx.random.key(seed))
        np.testing.assert_allclose(np.array(f(mx.zeros(3), mx.random.key(seed))[0]), np.array(want))
    # Without a key, the key drawn while tracing is a constant of the graph (as in MLX).
    mx.export_function(path, lambda x: x + mx.random.uniform(shape=x.shape), mx.zeros(3))
    f = mx.import_function(path)
    assert f(mx.zeros(3))[0].tolist() == f(mx.zeros(3))[0].tolist()


# ---------- several traces, shapeless

def test_exporter_several_traces(tmp_path):
    path = str(tmp_path / "m.emfn")

    def fun(*args):
        return sum(args)

    with mx.exporter(path, fun) as ex:
        ex(mx.array(1))
        ex(mx.array(1), mx.array(2))
        ex(mx.array([1, 2]), mx.array(2))
        ex(mx.ones((2, 3)))
        with pytest.raises(RuntimeError):
            ex(mx.array(5))  # same signature twice
    with pytest.raises(RuntimeError):
        ex(mx.array(1), mx.array(2), mx.array(3))  # after close
    f = mx.import_function(path)
    assert f(mx.array(5))[0].item() == 5
    assert f(mx.array(5), mx.array(6))[0].item() == 11
    assert f(mx.array([5, 1]), mx.array(6))[0].tolist() == [11, 7]
    assert f(mx.full((2, 3), 4.0))[0].tolist() == [[4.0] * 3] * 2
    with pytest.raises(ValueError, match="No imported function"):
        f(mx.array([5, 1, 3]), mx.array(6))


def test_exporter_shares_captured_constants_between_traces(tmp_path):
    big = mx.array(np.arange(4096, dtype=np.float32))
    one, two = str(tmp_path / "one.emfn"), str(tmp_path / "two.emfn")
    with mx.exporter(one, lambda x: x + big[:4]) as ex:
        ex(mx.zeros(4))
    with mx.exporter(two, lambda x: x + big[:4]) as ex:
        ex(mx.zeros(4))
        ex(mx.zeros((2, 4)))
        ex(mx.zeros(4, dtype=mx.float16))
    assert os.path.getsize(two) < os.path.getsize(one) + 2000
    f = mx.import_function(two)
    assert f(mx.ones((2, 4)))[0].tolist() == [[1.0, 2.0, 3.0, 4.0]] * 2
    assert f(mx.ones(4, dtype=mx.float16))[0].dtype == mx.float32


def test_shapeless(tmp_path, rng):
    def fun(x, y):
        return mx.exp(x) * y + x.sum(-1, keepdims=True), x.reshape(-1)

    path = str(tmp_path / "s.emfn")
    mx.export_function(path, fun, mx.ones((2, 3)), mx.ones((3,)), shapeless=True)
    f = mx.import_function(path)
    for shape in [(2, 3), (4, 5), (1, 7)]:
        x, y = _rand(rng, shape), _rand(rng, shape[-1:])
        got, want = f(x, y), fun(x, y)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(np.array(g), np.array(w), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        f(mx.ones((4, 5, 2)), mx.ones((5,)))  # another rank
    with pytest.raises(ValueError):
        f(mx.ones((4, 5), dtype=mx.float16), mx.ones((5,)))  # another dtype
    with pytest.raises(ValueError):
        f(mx.ones((4, 5)), mx.ones((4,)))  # shapes that do not broadcast
    # Several ranks in one shapeless file.
    with mx.exporter(path, lambda a: a.sum(-1), shapeless=True) as ex:
        ex(mx.ones((2, 3)))
        with pytest.raises(RuntimeError):
            ex(mx.ones((4, 5)))  # same rank: the same shapeless signature
        ex(mx.ones((2, 3, 4)))
    f = mx.import_function(path)
    assert f(mx.ones((7, 8)))[0].tolist() == [8.0] * 7
    assert f(mx.ones((1, 2, 3)))[0].shape == (1, 2)


def test_shapeless_model_takes_any_batch(tmp_path, rng):
    model = nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 3))
    mx.eval(model.parameters())
    path = str(tmp_path / "model.emfn")
    mx.export_function(path, lambda x: mx.softmax(model(x), -1), mx.zeros((2, 6)), shapeless=True)
    f = mx.import_function(path)
    for batch in (1, 2, 9):
        x = _rand(rng, (batch, 6))
        np.testing.assert_allclose(np.array(f(x)[0]), np.array(mx.softmax(model(x), -1)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        f(mx.zeros((2, 5)))  # the weights fix the feature size
    # The same check in a shapeless compiled function (the replay machinery is shared).
    w = mx.ones((6, 4))
    g = mx.compile(lambda x: x @ w, shapeless=True)
    assert g(mx.ones((2, 6))).tolist() == [[6.0] * 4] * 2
    with pytest.raises(ValueError, match="Matmul"):
        g(mx.ones((2, 5)))
    with pytest.raises(ValueError, match="Matmul"):
        g(mx.ones((2, 7)))


def test_metadata(tmp_path):
    path = str(tmp_path / "md.emfn")
    mx.export_function(path, lambda x: x + 1, mx.ones(2), metadata='{"layers": 3}')
    f, md = mx.import_function(path, return_metadata=True)
    assert md == '{"layers": 3}' and f(mx.ones(2))[0].tolist() == [2.0, 2.0]
    mx.export_function(path, lambda x: x + 1, mx.ones(2))
    assert mx.import_function(path, return_metadata=True)[1] == ""
    with mx.exporter(path, lambda x: x * 3, metadata="abc") as ex:
        ex(mx.ones(1))
    assert mx.import_function(path, return_metadata=True)[1] == "abc"


def test_callback_receives_the_graph(tmp_path):
    seen = []
    x, w = mx.ones((2,)), mx.ones((2,))
    c = mx.array(3.0)
    mx.export_function(seen.append, lambda x, *, w, b: (x * w + b) * c, x, w=w, b=w)
    assert [d["type"] for d in seen[:4]] == ["inputs", "keyword_inputs", "outputs", "constants"]
    assert seen[0]["inputs"] == [("A", (2,), mx.float32), ("B", (2,), mx.float32), ("C", (2,), mx.float32)]
    assert seen[1]["keywords"] == [("b", "B"), ("w", "C")]
    assert seen[2]["outputs"] == [("D", (2,), mx.float32)]
    (name, const), = seen[3]["constants"]
    assert const.item() == 3.0
    names = [d["name"] for d in seen[4:]]
    assert names == ["Multiply", "Add", "Multiply"]
    assert all(d["type"] == "primitive" for d in seen[4:])
    assert seen[4]["inputs"] == [("A", (2,), mx.float32), ("C", (2,), mx.float32)]
    assert seen[-1]["outputs"] == [("D", (2,), mx.float32)]
    # Parameters come as Python values.
    seen.clear()
    mx.export_function(seen.append, lambda x: mx.sum(x, axis=1).astype(mx.int32), mx.ones((2, 3)))
    by_name = {d["name"]: d["arguments"] for d in seen[4:]}
    assert by_name["Reduce"] == [0, [1]] and by_name["AsType"] == [mx.int32]


# ---------- errors

def test_export_errors(tmp_path):
    path = str(tmp_path / "e.emfn")
    x = mx.ones(3)
    with pytest.raises(ValueError, match="Outputs"):
        mx.export_function(path, lambda x: {"a": x}, x)
    with pytest.raises(ValueError, match="Outputs"):
        mx.export_function(path, lambda x: 3, x)
    with pytest.raises(ValueError, match="Inputs"):
        mx.export_function(path, lambda a, b: a + b, x, 3)
    with pytest.raises(ValueError, match="metadata"):
        mx.export_function(lambda d: None, lambda x: x, x, metadata="m")
    with pytest.raises(TypeError):
        mx.export_function(path, 3, x)
    with pytest.raises(RuntimeError, match="Failed to open"):
        mx.export_function(str(tmp_path / "no" / "such" / "dir.emfn"), lambda x: x, x)

    @mx.custom_function
    def custom(x):
        return mx.sin(x)

    with pytest.raises(ValueError, match="CustomTransforms"):
        mx.export_function(path, custom, x)
    with pytest.raises(ValueError, match="CustomTransforms"):
        mx.export_function(path, lambda y: mx.checkpoint(lambda z: mx.sin(z))(y), x)
    with pytest.raises(ZeroDivisionError):
        mx.export_function(path, lambda x: 1 / 0, x)
    # The process keeps working.
    mx.export_function(path, lambda x: x * 2, x)
    assert mx.import_function(path)(x)[0].tolist() == [2.0] * 3


def _fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def _rewrite(path, payload, version=1):
    with open(path, "wb") as f:
        f.write(b"EMBERFN\0" + struct.pack("<IIQQ", version, 0, len(payload), _fnv1a(payload)) + payload)


def _example_file(tmp_path):
    path = str(tmp_path / "good.emfn")
    w = mx.array(np.arange(6, dtype=np.float32).reshape(2, 3))
    mx.export_function(path, lambda x: (mx.exp(x @ w).sum(0), x[:, 1]), mx.ones((4, 2)), shapeless=True)
    return path, open(path, "rb").read()


def test_file_errors(tmp_path):
    path, data = _example_file(tmp_path)
    bad = str(tmp_path / "bad.emfn")
    with pytest.raises(RuntimeError, match="Failed to open"):
        mx.import_function(str(tmp_path / "missing.emfn"))
    open(bad, "wb").write(b"not a function file at all, just text")
    with pytest.raises(RuntimeError, match="not an exported Ember function"):
        mx.import_function(bad)
    # A newer format version says so.
    _rewrite(bad, data[32:], version=7)
    with pytest.raises(RuntimeError, match="newer"):
        mx.import_function(bad)
    # A primitive this build does not know.
    assert data.count(b"Exp") == 1
    _rewrite(bad, data[32:].replace(b"Exp", b"Exq"))
    with pytest.raises(RuntimeError, match="Exq"):
        mx.import_function(bad)
    # Truncated: names the file.
    open(bad, "wb").write(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match="bad.emfn is truncated"):
        mx.import_function(bad)
    # A flipped byte in the graph: the checksum catches it.
    flipped = bytearray(data)
    flipped[len(data) - 5] ^= 0x40
    open(bad, "wb").write(bytes(flipped))
    with pytest.raises(RuntimeError, match="checksum"):
        mx.import_function(bad)
    # A file MLX wrote is another format.
    try:
        import mlx.core as mlx
    except ImportError:
        mlx = None
    if mlx is not None:
        mlx.export_function(bad, lambda x: x + 1, mlx.ones(2))
        with pytest.raises(RuntimeError, match="not an exported Ember function"):
            mx.import_function(bad)
    # The good file still imports and runs.
    out = mx.import_function(path)(mx.ones((3, 2)))
    assert out[0].shape == (3,) and out[1].tolist() == [1.0] * 3


def test_fuzzed_files_raise_cleanly(tmp_path):
    _, data = _example_file(tmp_path)
    bad = str(tmp_path / "fuzz.emfn")
    rng = np.random.default_rng(0)
    cases = [data[:n] for n in range(0, len(data), max(1, len(data) // 60))]
    for _ in range(150):
        b = bytearray(data)
        for _ in range(rng.integers(1, 4)):
            b[rng.integers(0, len(b))] ^= int(rng.integers(1, 256))
        cases.append(bytes(b))
    for case in cases:
        open(bad, "wb").write(case)
        with pytest.raises(RuntimeError):
            mx.import_function(bad)
    # Parsing beyond the checksum: payloads damaged and checksummed again, every one a
    # clean error or a function that imports.
    payload = data[32:]
    for _ in range(150):
        b = bytearray(payload)
        i = int(rng.integers(0, len(b)))
        b[i] = int(rng.integers(0, 256))
        if rng.integers(0, 2):
            b = b[: int(rng.integers(0, len(b)))]
        _rewrite(bad, bytes(b))
        try:
            mx.import_function(bad)
        except RuntimeError:
            pass


# ---------- files altered on purpose, checksum recomputed

class _Payload:
    """Reads a payload as the importer does, noting where each mutable item lies."""

    def __init__(self, data):
        self.d, self.p = data, 0
        self.params, self.dims, self.dtypes, self.inputs = [], [], [], []
        self.graph_start = None
        self.str(), self.str()
        for _ in range(self.u("<Q")):
            self.dtype(), self.shape()
            n = self.u("<Q")
            self.p += n
        self.graph_start = self.p
        for _ in range(self.u("<Q")):
            self.p += 1
            n_args = self.u("<Q")
            keywords = [self.str() for _ in range(self.u("<Q"))]
            types = [(self.dtype(), self.shape()) for _ in range(self.u("<Q"))]
            self.inputs.append((n_args, keywords, types))
            for _ in range(self.u("<Q")):
                key = self.str()
                for _ in range(self.u("<Q")):
                    self.field(key)
                n = self.u("<Q")
                self.p += 9 * n
                for _ in range(self.u("<Q")):
                    self.dtype(), self.shape()
            n = self.u("<Q")
            self.p += 9 * n
        assert self.p == len(data)

    def u(self, fmt):
        v, = struct.unpack_from(fmt, self.d, self.p)
        self.p += struct.calcsize(fmt)
        if fmt == "<Q" and v > len(self.d):
            raise ValueError("a count beyond the payload")
        return v

    def str(self):
        n = self.u("<Q")
        self.p += n
        return self.d[self.p - n:self.p].decode()

    def dtype(self):
        if self.graph_start is not None:
            self.dtypes.append(self.p)
        return self.u("<B")

    def shape(self):
        nd = self.u("<I")
        dims = []
        for _ in range(nd):
            if self.graph_start is not None:
                self.dims.append(self.p)
            dims.append(self.u("<q"))
        return dims

    def field(self, key):
        tag = self.u("<B")
        at = self.p
        if tag == 0:
            self.params.append((key, "bool", at))
            self.p += 1
        elif tag in (1, 2):
            self.params.append((key, "i64" if tag == 1 else "f64", at))
            self.p += 8
        elif tag == 3:
            self.str()
        elif tag in (4, 5):
            for _ in range(self.u("<Q")):
                self.params.append((key, "i64" if tag == 4 else "f64", self.p))
                self.p += 8
        else:
            self.params.append((key, "dtype", at))
            self.p += 1


_DTYPE_CODES = ["bool_", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
                "float16", "bfloat16", "float32", "float64", "complex64"]

_FUZZ_CHILD = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
import numpy as np
import ember.core as mx
cases = json.load(open(sys.argv[1]))
CLEAN = (RuntimeError, ValueError, TypeError, IndexError, OverflowError, MemoryError)
for i, case in enumerate(cases):
    print("start", i, flush=True)
    try:
        f = mx.import_function(case["file"])
        for n_args, keywords, types in case["calls"]:
            if any(int(np.prod(s)) > (1 << 20) for _, s in types):
                continue
            arrs = [mx.array(np.ones(s, dtype=np.float32)).astype(getattr(mx, t)) for t, s in types]
            out = f(*arrs[:n_args], **dict(zip(keywords, arrs[n_args:])))
            mx.eval(out)
            # Other sizes: a shapeless trace replays its graph on them, the others refuse them.
            grown = [mx.array(np.ones([d + 1 for d in s], dtype=np.float32)).astype(getattr(mx, t))
                     for t, s in types]
            try:
                mx.eval(f(*grown[:n_args], **dict(zip(keywords, grown[n_args:]))))
            except CLEAN:
                pass
        print("done", i, "ok", flush=True)
    except CLEAN as e:
        print("done", i, type(e).__name__, str(e).splitlines()[0][:200].replace(" ", "_"), flush=True)
print("finished", flush=True)
"""


def _mutations(payload, rng, n_random, n_targeted):
    """(description, mutated payload) pairs: byte flips in the graph, then targeted edits of
    parameters, dimensions and dtypes."""
    info = _Payload(payload)
    out = []
    for _ in range(n_random):
        b = bytearray(payload)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(info.graph_start, len(b)))
            b[i] ^= int(rng.integers(1, 256))
        out.append(("byte flips", bytes(b)))
    ints = [-(1 << 63), -(1 << 31), -7, -2, -1, 0, 1, 2, 3, 5, 64, 1 << 20, (1 << 31) - 1, 1 << 40]
    floats = [0.0, -1.0, 1e30, float("inf"), float("nan"), 3.5]
    items = [("param", p) for p in info.params] + [("dim", p) for p in info.dims] + \
            [("dtype", p) for p in info.dtypes]
    for k in rng.permutation(len(items))[:n_targeted]:
        kind, item = items[k]
        b = bytearray(payload)
        if kind == "param":
            key, typ, at = item
            if typ == "i64":
                old, = struct.unpack_from("<q", b, at)
                v = int(rng.choice(ints + [old - 1, old + 1, -old - 1]))
                struct.pack_into("<q", b, at, max(-(1 << 63), min((1 << 63) - 1, v)))
            elif typ == "f64":
                struct.pack_into("<d", b, at, float(rng.choice(floats)))
            elif typ == "bool":
                b[at] ^= 1
            else:
                b[at] = int(rng.integers(0, len(_DTYPE_CODES)))
            desc = f"{key} parameter {typ} at {at}"
        elif kind == "dim":
            old, = struct.unpack_from("<q", b, item)
            struct.pack_into("<q", b, item, int(rng.choice([0, 1, 2, old + 1, max(0, old - 1), 1 << 16])))
            desc = f"dimension at {item}"
        else:
            b[item] = int(rng.integers(0, len(_DTYPE_CODES)))
            desc = f"dtype at {item}"
        out.append((desc, bytes(b)))
    return out


def _calls(payload):
    try:
        info = _Payload(payload)
    except Exception:
        return []
    return [[n, kw, [[_DTYPE_CODES[t] if t < len(_DTYPE_CODES) else "float32", s] for t, s in types]]
            for n, kw, types in info.inputs]


FUZZED_SOURCES = ["indexing", "scatter", "shapes", "conv2d", "reductions", "sort_topk", "matmul_addmm",
                  "einsum_diag", "fast", "scatter_axis_strided_search", "dtype_views", "quantized",
                  "attention", "quantize_fp8_losses", "constants_inside", "binary_family",
                  "grads_of_fast_ops", "integer_ops", "unary_family", "linalg", "fft",
                  "pooling_and_conv_grads"]


def test_rechecksummed_files_never_crash(tmp_path):
    rng = np.random.default_rng(7)
    cases, descs = [], []
    for name in FUZZED_SOURCES:
        fun, specs = FUNCTIONS[name]
        args = [mx.array(np.array([2, 0, 3], dtype=np.int32)) if s == "idx" else _rand(rng, s) for s in specs]
        for shapeless in (False, True):
            src = str(tmp_path / f"{name}_{int(shapeless)}.emfn")
            try:
                mx.export_function(src, fun, *args, shapeless=shapeless)
            except ValueError:
                assert shapeless  # some graphs cannot be traced shapeless
                continue
            payload = open(src, "rb").read()[32:]
            muts = [("unchanged", payload)] + _mutations(payload, rng, 12, 28)
            for desc, b in muts:
                path = str(tmp_path / f"case{len(cases)}.emfn")
                _rewrite(path, b)
                cases.append({"file": path, "calls": _calls(b)})
                descs.append(f"{name} shapeless={shapeless}: {desc}")
    manifest = str(tmp_path / "cases.json")
    import json
    json.dump(cases, open(manifest, "w"))
    env = dict(os.environ, PYTHONPATH=PKG_ROOT)
    r = subprocess.run([sys.executable, "-c", _FUZZ_CHILD, manifest], capture_output=True, text=True, env=env,
                       timeout=300)
    lines = r.stdout.split("\n")
    started = [int(l.split()[1]) for l in lines if l.startswith("start")]
    last = descs[started[-1]] if started else "none"
    assert r.returncode == 0 and "finished" in lines, \
        f"the process died (code {r.returncode}) on case {last}:\n{r.stderr[-2000:]}"
    outcomes = {int(l.split()[1]): l.split()[2:] for l in lines if l.startswith("done")}
    assert len(outcomes) == len(cases)
    # The unchanged files all run; the altered ones either run or raise, and many are refused
    # by the import's checks of the graph (the file, the node and the primitive named).
    for i, d in enumerate(descs):
        if d.endswith("unchanged"):
            assert outcomes[i] == ["ok"], (d, outcomes[i])
    refused = [o for o in outcomes.values() if o[0] == "RuntimeError" and "is_invalid:_node" in o[1]]
    assert len(refused) > len(cases) // 5, len(refused)
    assert all(".emfn_is_invalid:_node_" in o[1] and "(primitive_" in o[1] for o in refused)


def _node_params(path):
    payload = open(path, "rb").read()[32:]
    return payload, _Payload(payload)


@pytest.mark.parametrize("edit", ["transpose_axis", "slice_stop", "reshape_size", "out_dim", "out_dtype",
                                  "concat_axis", "gather_slice"])
def test_rechecksummed_file_names_the_node_and_problem(tmp_path, edit):
    src = str(tmp_path / "src.emfn")
    idx = mx.array(np.array([1, 0], dtype=np.int32))

    def fun(x):
        return (mx.transpose(x, (1, 0)), x[1:3, :], x.reshape(2, 6), mx.exp(x),
                mx.concatenate([x, x], 1), x[idx])

    x = mx.array(np.arange(12, dtype=np.float32).reshape(3, 4))
    mx.export_function(src, fun, x)
    payload, info = _node_params(src)
    b = bytearray(payload)
    params = {}
    for key, typ, at in info.params:
        params.setdefault(key, []).append(at)
    if edit == "transpose_axis":
        struct.pack_into("<q", b, params["Transpose"][0], 5)
        match = "Transpose.*axis 5 is out of range"
    elif edit == "slice_stop":
        struct.pack_into("<q", b, params["Slice"][2], 9)  # stop of axis 0
        struct.pack_into("<q", b, params["Slice"][0], 2)
        match = "Slice.*outside an axis of size 3"
    elif edit == "reshape_size":
        struct.pack_into("<q", b, params["Reshape"][0], 3)
        match = "Reshape.*does not hold the 12 elements"
    elif edit == "out_dim":
        # The Exp node's output (the dims after the Exp name): another size.
        at = payload.index(b"Exp")
        dim = min(p for p in info.dims if p > at)
        struct.pack_into("<q", b, dim, 4)
        match = r"Exp.*has shape \(3, 4\), the file gives \(4, 4\)"
    elif edit == "out_dtype":
        at = payload.index(b"Exp")
        code = min(p for p in info.dtypes if p > at)
        b[code] = _DTYPE_CODES.index("float64")
        match = "Exp.*has dtype float32, the file gives float64"
    elif edit == "concat_axis":
        struct.pack_into("<q", b, params["Concatenate"][0], -1)
        match = "Concatenate.*axis -1 is out of range"
    else:
        struct.pack_into("<q", b, params["Gather"][-1], 7)  # slice size of the last axis
        match = "Gather.*slice size is outside"
    bad = str(tmp_path / "edited.emfn")
    _rewrite(bad, bytes(b))
    with pytest.raises(RuntimeError, match="edited.emfn is invalid: node .*" + match):
        mx.import_function(bad)
    # The unedited file still imports and runs.
    outs = mx.import_function(src)(x)
    np.testing.assert_array_equal(np.array(outs[2]), np.arange(12).reshape(2, 6))
    np.testing.assert_array_equal(np.array(outs[5]), np.arange(12).reshape(3, 4)[[1, 0]])


# ---------- against MLX

def test_same_errors_and_outputs_as_mlx(tmp_path):
    mlx = pytest.importorskip("mlx.core")

    def fun_of(m):
        def fun(x, y):
            return m.exp(x) * y, m.sum(x)
        return fun

    results = {}
    for lib, name in ((mx, "ember"), (mlx, "mlx")):
        path = str(tmp_path / f"{name}.fn")
        x, y = lib.array([1.0, 2.0, 3.0]), lib.array(2.0)
        lib.export_function(path, fun_of(lib), x, y)
        f = lib.import_function(path)
        r = {"out": [np.array(o) for o in f(x, y)], "tuple": isinstance(f(x, y), tuple)}
        calls = {
            "few": lambda: f(x),
            "many": lambda: f(x, y, y),
            "shape": lambda: f(lib.zeros((4,)), y),
            "dtype": lambda: f(x.astype(lib.int32), y),
            "scalar": lambda: f(x, 3),
            "dup": lambda: _dup(lib, tmp_path / f"{name}.dup"),
            "callback_metadata": lambda: lib.export_function(lambda d: None, fun_of(lib), x, y, metadata="m"),
            "bad_output": lambda: lib.export_function(path, lambda x: {"a": x}, x),
            "nested_input": lambda: lib.export_function(path, lambda a, b: a, (x, (y,))),
            "list_input": lambda: lib.export_function(path, lambda a, b: a * b, [x, y]),
            "dict_key": lambda: lib.export_function(path, lambda a: a, (x,), {1: y}),
            "nested_output": lambda: lib.export_function(path, lambda a: [a, (a,)], x),
        }
        for k, call in calls.items():
            try:
                call()
                r[k] = None
            except Exception as e:  # noqa: BLE001
                r[k] = type(e)
        results[name] = r
    e, m = results["ember"], results["mlx"]
    for a, b in zip(e.pop("out"), m.pop("out")):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert e == m


def _dup(lib, path):
    with lib.exporter(str(path), lambda x: x + 1) as ex:
        ex(lib.ones(2))
        ex(lib.ones(2))


def test_callback_structure_matches_mlx():
    mlx = pytest.importorskip("mlx.core")
    got = {}
    for lib in (mx, mlx):
        seen = []
        x = lib.ones((2, 3))
        lib.export_function(seen.append, lambda x, *, k: (x * k, x - 1), x, k=x)
        got[lib.__name__] = [(d["type"], {key: str(v).replace("ember.core", "mlx.core") for key, v in d.items()
                                          if key != "constants"}) for d in seen[:3]] + [len(seen[3]["constants"])]
    a, b = got.values()
    assert a == b


# ---------- C++

def _cmake():
    return shutil.which("cmake") or os.path.join(os.path.dirname(sys.executable), "cmake")


@pytest.mark.skipif(shutil.which("cmake") is None and not shutil.which("c++"), reason="no toolchain")
def test_cpp_program_imports_and_exports(tmp_path):
    # One small program against the static library: builds in seconds.
    from test_cpp_example import _package_dir
    cmake_dir = _package_dir(tmp_path)
    build = tmp_path / "build"
    cfg = subprocess.run([_cmake(), "-S", os.path.join(ROOT, "tests", "cpp_export"), "-B", str(build),
                          f"-DCMAKE_PREFIX_PATH={cmake_dir}", "-DCMAKE_BUILD_TYPE=Release",
                          f"-DPython_EXECUTABLE={sys.executable}"], capture_output=True, text=True)
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    made = subprocess.run([_cmake(), "--build", str(build), "-j1"], capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr

    def fun(x, *, w):
        return mx.tanh(x @ w) + 1, (x * 2).sum(0)

    exported, back = str(tmp_path / "py.emfn"), str(tmp_path / "cpp.emfn")
    mx.export_function(exported, fun, mx.zeros((2, 3)), w=mx.zeros((3, 4)), shapeless=True,
                       metadata="from python")
    run = subprocess.run([str(build / "import_exported"), exported, back], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "import_exported: all checks passed" in run.stdout
    printed = {}
    for line in run.stdout.splitlines():
        if " : " in line:
            head, vals = line.split(" : ")
            label, *shape = head.split()
            printed[label] = np.array([float(v) for v in vals.split()]).reshape([int(s) for s in shape])
    x = mx.arange(6.0).reshape(2, 3) / 4
    w = mx.arange(12.0).reshape(3, 4) - 5
    want = fun(x, w=w)
    np.testing.assert_allclose(printed["out0"], np.array(want[0]), rtol=1e-6)
    np.testing.assert_allclose(printed["out1"], np.array(want[1]), rtol=1e-6)
    x2 = mx.arange(8.0).reshape(4, 2) / 8
    np.testing.assert_allclose(printed["shapeless0"], np.array(fun(x2, w=mx.ones((2, 5)))[0]), rtol=1e-6)
    # The function the C++ program exported imports here.
    g, md = mx.import_function(back, return_metadata=True)
    assert md == "from c++"
    a, b = mx.array([1.0, 2.0, 3.0]), mx.array([0.5, -1.0, 2.0])
    s, c = g(a, b)
    np.testing.assert_allclose(np.array(s), np.array(mx.softmax(a, -1) * b), rtol=1e-6)
    np.testing.assert_allclose(np.array(c), [0.5, -0.5, 1.5])


def test_keywords_for_a_trace_without_keywords_match_mlx(tmp_path):
    # A trace exported without keyword inputs takes keywords as the positional inputs after
    # the given ones, in the order of their names (as MLX); a trace with keyword inputs
    # matches them by name.
    mlx = pytest.importorskip("mlx.core")
    got = {}
    for lib, name in ((mx, "ember"), (mlx, "mlx")):
        path = str(tmp_path / f"{name}.fn")
        lib.export_function(path, lambda a, b, c: a * 100 + b * 10 + c, *(lib.ones(2),) * 3)
        f = lib.import_function(path)
        one, two, three = lib.full((2,), 1.0), lib.full((2,), 2.0), lib.full((2,), 3.0)
        r = []
        for call in (lambda: f(one, two, three), lambda: f(one, c=two, b=three),
                     lambda: f(z=one, a=two, m=three), lambda: f(one, two, x=three),
                     lambda: f(one, x=two), lambda: f(one, two, three, x=one)):
            try:
                r.append(np.array(call()[0]).tolist())
            except ValueError:
                r.append("ValueError")
        path = str(tmp_path / f"{name}.kw")
        lib.export_function(path, lambda a, *, k: a - k, lib.ones(2), k=lib.ones(2))
        f = lib.import_function(path)
        for call in (lambda: f(one, k=two), lambda: f(one, j=two), lambda: f(one, two)):
            try:
                r.append(np.array(call()[0]).tolist())
            except ValueError:
                r.append("ValueError")
        got[name] = r
    assert got["ember"] == got["mlx"]
    assert got["ember"][1] == [132.0, 132.0] and got["ember"][2] == [231.0, 231.0]
