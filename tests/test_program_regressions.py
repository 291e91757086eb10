"""Regressions found by running whole MLX programs on Ember (tests/test_programs.py): each
checks the fixed behaviour against its definition, and against MLX where MLX is installed."""

import math

import numpy as np
import pytest

import ember.core as emx
import ember.nn as enn
import ember.utils as eutils

def test_relu_family_slope_at_the_kink():
    # relu = maximum(x, 0): a tie sends the cotangent to the second operand, so relu'(0) = 0
    # (a dead unit with zero bias must not train), and the hard activations follow.
    x = emx.array([-3.0, -1.0, 0.0, 1.0, 3.0, 6.0])
    g = lambda f: np.array(emx.grad(lambda t: f(t).sum())(x)).tolist()
    assert g(enn.relu) == [0, 0, 0, 1, 1, 1]
    assert g(enn.relu6) == [0, 0, 0, 1, 1, 0]
    assert g(enn.hard_tanh) == [0, 0, 1, 0, 0, 0]
    assert g(lambda t: enn.leaky_relu(t, 0.25)) == [0.25, 0.25, 1, 1, 1, 1]
    assert g(enn.hardswish) == pytest.approx([0, 1 / 6, 0.5, 5 / 6, 1, 1])
    assert g(enn.celu) == pytest.approx([math.exp(-3), math.exp(-1), 0, 1, 1, 1])
    a, b = emx.array([0.0, 1.0, -1.0, math.nan]), emx.array([0.0, 0.0, 0.0, 1.0])
    ga, gb = emx.grad(lambda a, b: emx.maximum(a, b).sum(), argnums=(0, 1))(a, b)
    assert np.array(ga).tolist() == [0, 1, 0, 0] and np.array(gb).tolist() == [1, 0, 1, 0]
    ga, gb = emx.grad(lambda a, b: emx.minimum(a, b).sum(), argnums=(0, 1))(a, b)
    assert np.array(ga).tolist() == [0, 0, 1, 0] and np.array(gb).tolist() == [1, 1, 0, 0]
    _, jv = emx.jvp(lambda a, b: emx.maximum(a, b), [a, b], [emx.ones(4), 2 * emx.ones(4)])
    assert np.array(jv[0]).tolist() == [2, 1, 2, 0]


def test_relu_dead_region_gradient_matches_mlx():
    # A zero-bias transposed conv over an all-zero region outputs exact zeros; their relu has
    # no slope.
    mx = pytest.importorskip("mlx.core")
    rng = np.random.RandomState(0)
    x = np.zeros((1, 4, 4, 2), np.float32)
    x[:, :2] = rng.randn(1, 2, 4, 2)
    w = rng.randn(3, 3, 3, 2).astype(np.float32)
    c = rng.randn(1, 8, 8, 3).astype(np.float32)
    res = []
    for m in (mx, emx):
        f = lambda b: (m.maximum(m.conv_transpose2d(m.array(x), m.array(w), stride=2, padding=1,
                                                    output_padding=1) + b, 0) * m.array(c)).sum()
        res.append(np.array(m.grad(f)(m.zeros(3))))
    z = np.array(emx.conv_transpose2d(emx.array(x), emx.array(w), stride=2, padding=1,
                                      output_padding=1))
    assert (z == 0).any()
    np.testing.assert_allclose(res[1], (c * (z > 0)).sum((0, 1, 2)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(res[1], res[0], rtol=1e-5, atol=1e-5)


def test_step_is_one_at_the_threshold():
    x = emx.array([-1.0, 0.0, 0.5, 1.0])
    assert enn.step(x).tolist() == [0, 1, 1, 1]
    assert enn.Step(0.5)(x).tolist() == [0, 0, 1, 1]


def test_tree_unflatten_gaps_and_sequential_update():
    assert eutils.tree_unflatten([("a.0.w", 1), ("a.2.w", 2), ("b.1", 3)]) == {
        "a": [{"w": 1}, {}, {"w": 2}], "b": [{}, 3]}
    assert eutils.tree_unflatten([]) == []
    # "01" is not an index: no entry is lost to a collision with "1".
    assert eutils.tree_unflatten([("01", 1), ("1", 2)]) == {"01": 1, "1": 2}
    seq = enn.Sequential(enn.Linear(2, 3), enn.ReLU(), enn.Linear(3, 1))
    flat = [(k, v + 1) for k, v in eutils.tree_flatten(seq.parameters())]
    seq.update(eutils.tree_unflatten(flat))
    for (k, v), (k2, v2) in zip(flat, eutils.tree_flatten(seq.parameters())):
        assert k == k2 and np.array_equal(np.array(v), np.array(v2))


def test_array_format_spec():
    assert f"{emx.array(3.14159):.2f}" == "3.14"
    assert f"{emx.array(7):05d}" == "00007"
    assert f"{emx.array(2.5):>6}" == "   2.5"
    assert format(emx.array(1.5, emx.bfloat16), ".3f") == "1.500"
    assert f"{emx.array(True)}" == "True"
    assert f"{emx.array([1, 2])}" == repr(emx.array([1, 2]))
    with pytest.raises(TypeError):
        format(emx.array([1.0, 2.0]), ".2f")
    with pytest.raises(ValueError):
        format(emx.array(2.5), "d")


def test_numpy_conversion_inside_compile_raises():
    @emx.compile
    def f(x):
        return emx.array(np.array(x))

    with pytest.raises(ValueError, match="placeholder"):
        f(emx.ones(2))
    assert np.array(emx.ones(2) * 3).tolist() == [3, 3]


def test_attention_with_no_keys():
    q = emx.ones((1, 4, 2, 8))
    k = emx.ones((1, 2, 0, 8))
    for mask in (None, "causal"):
        o = emx.fast.scaled_dot_product_attention(q, k, k, scale=1.0, mask=mask)
        assert o.shape == (1, 4, 2, 8) and not np.array(o).any()
    g = emx.grad(lambda q: emx.fast.scaled_dot_product_attention(q, k, k, scale=1.0).sum())(q)
    assert g.shape == q.shape and not np.array(g).any()
    e = emx.ones((1, 2, 0, 4))
    g = emx.grad(lambda q: emx.fast.scaled_dot_product_attention(q, q, q, scale=1.0).sum())(e)
    assert g.shape == e.shape


def test_inplace_operators_rebind_the_shared_array():
    x = emx.zeros(3)
    alias = x
    x += 1
    assert x is alias and alias.tolist() == [1, 1, 1]
    x = emx.zeros(3, emx.int32)
    alias = x
    x += 1.5  # the dtype follows the promotion
    assert alias.dtype == emx.float32 and alias.tolist() == [1.5, 1.5, 1.5]
    x = emx.zeros((2, 3))
    alias = x
    x += emx.ones((4, 2, 3))  # and the shape the broadcast
    assert alias.shape == (4, 2, 3)
    x = emx.array([5, 7])
    alias = x
    x %= 3
    x <<= 1
    x |= 1
    x **= 2
    x //= 3
    x -= emx.array([1, 1])
    assert alias.tolist() == [((2 << 1 | 1) ** 2) // 3 - 1, ((1 << 1 | 1) ** 2) // 3 - 1]
    m = emx.eye(2) * 2
    alias = m
    m @= emx.array([[1.0, 2.0], [3.0, 4.0]])
    m *= 0.5
    m /= 2
    assert alias.tolist() == [[0.5, 1.0], [1.5, 2.0]]
    # A dict entry updated with += changes the array every holder sees.
    d = {"a": emx.ones(2)}
    held = dict(d)
    d["a"] += 1
    assert held["a"].tolist() == [2, 2]
    # In a differentiated function.
    def f(a):
        a *= 3
        return a.sum()
    assert emx.grad(f)(emx.ones(2)).tolist() == [3, 3]
    with pytest.raises(ValueError, match="In place division"):
        i = emx.array([1, 2])
        i /= 2
    with pytest.raises(ValueError):
        f = emx.array([1.0, 2.0])
        f &= 1
    with pytest.raises(ValueError):
        i = emx.array([1, 2], emx.int8)
        i += 1000
    with pytest.raises(ValueError):
        i = emx.array([1, 2])
        i += "a"
    with pytest.raises(TypeError):
        i = emx.array([1, 2])
        i += None


def test_numpy_operands_are_weak():
    h = emx.array([1.0, 2.0], emx.float16)
    i = emx.array([1, 2])
    # numpy scalars behave as Python scalars: a half-precision model stays in half precision.
    for r in (h * np.float32(0.5), emx.add(h, np.float32(2)), emx.maximum(h, np.float32(2)),
              emx.where(emx.array([True, False]), h, np.float32(0)), h + np.array([1.5], np.float32)):
        assert r.dtype == emx.float16
    assert (h * np.float32(0.5)).tolist() == [0.5, 1.0]
    assert (i * np.int64(3)).dtype == emx.int32 and (i * np.int64(3)).tolist() == [3, 6]
    assert (emx.array([1, 2], emx.uint8) + np.int64(3)).dtype == emx.uint8
    assert (i + np.array([1, 2], np.int64)).dtype == emx.int32
    assert type(h > np.float32(1.5)) is emx.array and (h > np.float32(1.5)).tolist() == [False, True]
    # A float meeting an integer array promotes, never truncates.
    assert (i * np.float32(1.5)).tolist() == [1.5, 3.0]
    assert (i + np.array([1.5, 2.0])).tolist() == [2.5, 4.0]
    with pytest.raises(ValueError):
        emx.array([1, 2], emx.int8) + np.int64(1000)


def test_numpy_operands_match_mlx():
    mx = pytest.importorskip("mlx.core")
    cases = [
        lambda m: m.array([1.0, 2.0], m.float16) * np.float32(0.5),
        lambda m: m.array([1, 2]) * np.int64(3),
        lambda m: m.array([1, 2], m.uint8) + np.int64(3),
        lambda m: m.array([True, False]) + np.bool_(True),
        lambda m: m.array([1.0, 2.0], m.bfloat16) + np.array([1.5], np.float32),
        lambda m: m.array([1, 2]) - np.array([1, 2], np.int64),
        lambda m: m.minimum(m.array([1.0, 3.0], m.float16), np.float32(2)),
    ]
    for case in cases:
        a, b = case(mx), case(emx)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        np.testing.assert_array_equal(np.array(b.astype(emx.float32)), np.array(a.astype(mx.float32)))


def test_array_extra_dunders():
    assert complex(emx.array(1 + 2j)) == 1 + 2j and complex(emx.array(1.5)) == 1.5
    assert bytes(emx.array([1, 2], emx.uint8)) == b"\x01\x02"
    assert bytes(emx.array([[1, 2], [3, 4]], emx.uint8).T) == b"\x01\x03\x02\x04"
    i = emx.array([1, 2])
    assert i.__div__(2).tolist() == [0.5, 1.0] and i.__rdiv__(2).tolist() == [2.0, 1.0]
    assert emx.array([1.0]).__array_namespace__() is emx


def test_array_from_non_native_byte_order():
    # Data read from a big-endian file ('>f4') is swapped, not reinterpreted.
    for dt in (">f4", ">i8", ">u2", ">f2"):
        src = np.arange(6, dtype=dt).reshape(2, 3)
        assert emx.array(src).tolist() == src.tolist()
        assert emx.array(src.T).tolist() == src.T.tolist()
    assert emx.array(np.array([1 + 2j], dtype=">c16")).tolist() == [1 + 2j]
    assert emx.array(np.arange(3, dtype=">f8"), dtype=emx.float64).tolist() == [0.0, 1.0, 2.0]


def _write_safetensors(path, tensors):
    import json
    import struct
    header, blobs, off = {}, [], 0
    for name, (dt, shape, data) in tensors.items():
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_fp8_checkpoint_loads_as_bytes(tmp_path):
    # An FP8 (E4M3) checkpoint loads as its bytes; from_fp8 decodes them.
    path = str(tmp_path / "fp8.safetensors")
    _write_safetensors(path, {"w": ("F8_E4M3", [3], bytes([0x38, 0x40, 0xC0])),
                              "s": ("F32", [1], np.array([0.5], np.float32).tobytes())})
    w = emx.load(path)["w"]
    assert w.dtype == emx.uint8 and w.tolist() == [0x38, 0x40, 0xC0]
    assert emx.from_fp8(w, dtype=emx.float32).tolist() == [1.0, 2.0, -2.0]
    _write_safetensors(path, {"w": ("F8_E5M2", [1], bytes([0x3C]))})
    with pytest.raises(ValueError, match="F8_E5M2"):
        emx.load(path)
    mx = pytest.importorskip("mlx.core")
    _write_safetensors(path, {"w": ("F8_E4M3", [3], bytes([0x38, 0x40, 0xC0]))})
    assert mx.load(path)["w"].tolist() == w.tolist()


def test_data_pipeline_conversions():
    # Batches assembled from numpy pieces, numpy ints as sizes and indices, bytes.
    assert emx.array([np.ones(2, np.float32), np.zeros(2, np.float32)]).tolist() == [[1, 1], [0, 0]]
    assert emx.array([np.float32(1.5), np.float32(2)]).dtype == emx.float32
    assert emx.array([np.int64(1), np.int64(2)]).tolist() == [1, 2]
    assert emx.array([np.float32(1.5), 2]).tolist() == [1.5, 2.0]
    assert emx.array(b"\x01\x02").tolist() == [1, 2] and emx.array(b"\x01").dtype == emx.uint8
    assert emx.zeros(np.array([2, 3])).shape == (2, 3)
    assert emx.ones((2, 3)).transpose(np.array([1, 0])).shape == (3, 2)
    assert emx.arange(np.int64(3)).dtype == emx.int32 and emx.arange(np.int64(3)).tolist() == [0, 1, 2]
    assert emx.arange(np.float32(0.5), 2).tolist() == [0.5, 1.5]
    parts = emx.split(emx.arange(6), np.array([2, 4]))
    assert [p.tolist() for p in parts] == [[0, 1], [2, 3], [4, 5]]
    parts = emx.split(emx.arange(6), np.int64(3))  # a number of sections, not an index
    assert [p.tolist() for p in parts] == [[0, 1], [2, 3], [4, 5]]
    assert emx.sum(emx.ones((2, 3)), axis=np.array([0, 1])).item() == 6


def test_torch_tensors_convert():
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    a = emx.array(t.T)  # a strided view, copied
    t.zero_()
    assert a.tolist() == [[0, 3], [1, 4], [2, 5]]
    b = emx.array(torch.tensor([1.5, -2.0], dtype=torch.bfloat16))
    assert b.dtype == emx.bfloat16 and b.astype(emx.float32).tolist() == [1.5, -2.0]
    assert emx.array(torch.ones(2, requires_grad=True)).tolist() == [1, 1]
    assert emx.array(torch.arange(3, dtype=torch.float64)).dtype == emx.float32
    assert emx.array(torch.arange(3)).dtype == emx.int64
    assert emx.array(torch.ones(2), dtype=emx.float16).dtype == emx.float16


def test_schedule_and_clip_arguments_are_checked():
    import ember.optimizers as eoptim

    with pytest.raises(ValueError, match="decay_steps"):
        eoptim.cosine_decay(1.0, 0)
    with pytest.raises(ValueError, match="step_size"):
        eoptim.step_decay(1.0, 0.5, 0)
    with pytest.raises(ValueError, match="max_norm"):
        eoptim.clip_grad_norm({"a": emx.ones(2)}, -1.0)
    g, norm = eoptim.clip_grad_norm({"a": emx.array([3.0, 4.0])}, 0.0)
    assert norm.item() == pytest.approx(5.0) and g["a"].tolist() == [0.0, 0.0]


def test_optimizer_hyperparameters_are_checked_as_mlx():
    import ember.optimizers as eoptim

    cases = [
        lambda o: o.RMSprop(0.1, eps=0), lambda o: o.Adagrad(0.1, eps=0),
        lambda o: o.AdaDelta(0.1, eps=0), lambda o: o.Adam(0.1, betas=[1.0, 0.9]),
        lambda o: o.Adam(0.1, eps=-1), lambda o: o.AdamW(0.1, betas=[0.9, 1.5]),
        lambda o: o.Adamax(0.1, eps=-1), lambda o: o.Lion(0.1, betas=[1.5, 0.9]),
    ]
    messages = []
    for case in cases:
        with pytest.raises(ValueError) as err:
            case(eoptim)
        messages.append(str(err.value))
    assert messages[3] == "Adam beta1 should be in [0, 1), 1.0 was provided instead"
    eoptim.Adam(0.1, eps=0.0)  # zero is allowed for Adam
    mlx_optim = pytest.importorskip("mlx.optimizers")
    for case, msg in zip(cases, messages):
        with pytest.raises(ValueError) as err:
            case(mlx_optim)
        assert str(err.value) == msg


def test_tree_flatten_prefix_drops_its_first_character():
    tree = {"a": [1, {"b": 2}], "c": 3}
    assert eutils.tree_flatten(tree, prefix=".model") == [
        ("model.a.0", 1), ("model.a.1.b", 2), ("model.c", 3)]
    assert eutils.tree_flatten(tree) == [("a.0", 1), ("a.1.b", 2), ("c", 3)]
    assert eutils.tree_flatten(5, prefix=".x") == [("x", 5)]
    # Module walks build their names with it.
    seq = enn.Sequential(enn.Linear(2, 2), enn.Sequential(enn.ReLU(), enn.Linear(2, 1)))
    assert [n for n, _ in seq.named_modules()] == [
        "", "layers.1", "layers.1.layers.1", "layers.1.layers.0", "layers.0"]
    mlx_utils = pytest.importorskip("mlx.utils")
    for prefix in ("", ".model", "pre", "."):
        assert eutils.tree_flatten(tree, prefix=prefix) == mlx_utils.tree_flatten(tree, prefix=prefix)
