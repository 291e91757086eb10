"""Weights written by the real mlx.nn (save_weights, safetensors and npz) load into Ember's
layers with strict=True and give the same outputs, and the other way round."""
import numpy as np
import pytest

import ember.core as mx
import ember.nn as nn
from ember.utils import tree_flatten

mm = pytest.importorskip("mlx.core")
mnn = pytest.importorskip("mlx.nn")

from test_nn import LAYERS, N, _to  # noqa: E402
from test_nn_conv_quantized import CONV_MAKERS  # noqa: E402

R = np.random.RandomState(7)


def _conv_input(layer, lib):
    nd = layer.weight.ndim - 2
    cin = layer.weight.shape[-1] * getattr(layer, "groups", 1)
    return np.random.RandomState(nd).randn(2, *([6] * nd), cin).astype(np.float32)


CASES = {name: (make, inputs) for name, (make, inputs) in LAYERS.items()
         if name not in ("identity", "alibi", "sinusoidal", "sinusoidal_cos", "rope", "rope_traditional")
         and "pool" not in name}
CASES.update({f"conv{i}": (lambda nn, mx, i=i: CONV_MAKERS[i](nn), None) for i in range(len(CONV_MAKERS))})
CASES["quantized_linear"] = (lambda nn, mx: nn.Linear(64, 8).to_quantized(group_size=32, bits=4),
                             [R.randn(3, 64).astype(np.float32)])
CASES["transformer_layer"] = (lambda nn, mx: nn.TransformerEncoderLayer(8, 2, 16, norm_first=True),
                              [R.randn(2, 5, 8).astype(np.float32), None])


def _inputs(name, inputs, layer):
    return inputs if inputs is not None else [_conv_input(layer, None)]


def _outputs(layer, lib, inputs):
    layer.eval()
    y = layer(*[None if i is None else _to(lib, i) for i in inputs])
    return [np.array(v) for v in (y if isinstance(y, tuple) else (y,))]


@pytest.mark.parametrize("ext", ["safetensors", "npz"])
@pytest.mark.parametrize("name", list(CASES))
def test_weights_cross_between_mlx_and_ember(tmp_path, name, ext):
    make, inputs = CASES[name]
    theirs, mine = make(mnn, mm), make(nn, mx)
    inputs = _inputs(name, inputs, mine)
    # MLX writes, Ember reads (strict)
    path = str(tmp_path / f"mlx.{ext}")
    theirs.save_weights(path)
    mine.load_weights(path, strict=True)
    for a, b in zip(_outputs(theirs, mm, inputs), _outputs(mine, mx, inputs)):
        np.testing.assert_allclose(b.astype(np.float64), a.astype(np.float64), rtol=1e-5, atol=1e-5)
    # Ember writes (fresh weights), MLX reads (strict)
    fresh = make(nn, mx)
    path = str(tmp_path / f"ember.{ext}")
    fresh.save_weights(path)
    back = make(mnn, mm)
    back.load_weights(path, strict=True)
    for (k, a), (_, b) in zip(sorted(tree_flatten(fresh.parameters())),
                              sorted((k, v) for k, v in _mlx_flatten(back.parameters()))):
        np.testing.assert_array_equal(N(a), np.array(b), err_msg=k)
    for a, b in zip(_outputs(fresh, mx, inputs), _outputs(back, mm, inputs)):
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=1e-5, atol=1e-5)


def _mlx_flatten(tree):
    from mlx.utils import tree_flatten as f
    return f(tree)


def test_strict_load_rejects_mismatched_files(tmp_path):
    path = str(tmp_path / "w.safetensors")
    mnn.Linear(4, 3).save_weights(path)
    with pytest.raises(ValueError):
        nn.Linear(4, 2).load_weights(path, strict=True)  # wrong shape
    with pytest.raises(ValueError):
        nn.Linear(4, 3, bias=False).load_weights(path, strict=True)  # unexpected key
    nn.Linear(4, 3, bias=False).load_weights(path, strict=False)
