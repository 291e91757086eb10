"""Convolution and quantized layers: they need mx.conv* / mx.quantize, skipped until those exist."""

import numpy as np
import pytest

import ember.core as mx
import ember.nn as nn
from ember.utils import tree_flatten

try:
    import mlx.core as mm
    import mlx.nn as mnn
    from mlx.utils import tree_flatten as mlx_tree_flatten
except ImportError:  # pragma: no cover
    mm = mnn = None

needs_mlx = pytest.mark.skipif(mm is None, reason="mlx is not installed")
needs_conv = pytest.mark.skipif(not hasattr(mx, "conv2d"), reason="mx.conv* is not in ember.core yet")
needs_quantize = pytest.mark.skipif(not hasattr(mx, "quantize"), reason="mx.quantize is not in ember.core yet")

R = np.random.RandomState(0)


def N(a):
    return np.array(a)


CONV_MAKERS = [
    lambda nn: nn.Conv1d(4, 6, 3),
    lambda nn: nn.Conv1d(4, 6, 3, 2, 1, 2, 2, False),
    lambda nn: nn.Conv2d(4, 6, (3, 2)),
    lambda nn: nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=(1, 2), groups=2),
    lambda nn: nn.Conv3d(2, 4, 3),
    lambda nn: nn.ConvTranspose1d(4, 6, 3),
    lambda nn: nn.ConvTranspose2d(4, 6, 3, 2, 1, 1, 1),
    lambda nn: nn.ConvTranspose3d(2, 3, 2),
]


@needs_mlx
@pytest.mark.parametrize("i", range(len(CONV_MAKERS)))
def test_conv_layers_construct_like_mlx(i):
    e, m = CONV_MAKERS[i](nn), CONV_MAKERS[i](mnn)
    assert repr(e) == repr(m)
    assert {k: v.shape for k, v in tree_flatten(e.parameters())} == {
        k: tuple(v.shape) for k, v in tree_flatten(m.parameters())
    }


def test_conv_groups_error():
    with pytest.raises(ValueError):
        nn.Conv1d(4, 6, 3, groups=3)


@needs_conv
@needs_mlx
@pytest.mark.parametrize("i", range(len(CONV_MAKERS)))
def test_conv_layers_match_mlx(i):
    e, m = CONV_MAKERS[i](nn), CONV_MAKERS[i](mnn)
    m.load_weights([(k, mm.array(N(v))) for k, v in tree_flatten(e.parameters())])
    nd = e.weight.ndim - 2
    cin = e.weight.shape[-1] * getattr(e, "groups", 1)
    x = R.randn(2, *([7] * nd), cin).astype(np.float32)
    np.testing.assert_allclose(N(e(mx.array(x))), N(m(mm.array(x))), rtol=1e-4, atol=1e-5)


@needs_quantize
@needs_mlx
def test_quantized_layers_match_mlx():
    lin = nn.Linear(128, 16)
    mlin = mnn.Linear(128, 16)
    mlin.load_weights([(k, mm.array(N(v))) for k, v in tree_flatten(lin.parameters())])
    q, mq = lin.to_quantized(), mlin.to_quantized()
    assert repr(q) == repr(mq)
    assert sorted(k for k, _ in tree_flatten(q.trainable_parameters())) == sorted(
        k for k, _ in mlx_tree_flatten(mq.trainable_parameters())) == ["bias"]
    x = R.randn(3, 128).astype(np.float32)
    np.testing.assert_allclose(N(q(mx.array(x))), N(mq(mm.array(x))), rtol=1e-4, atol=1e-4)
    emb = nn.Embedding(10, 64)
    memb = mnn.Embedding(10, 64)
    memb.load_weights([("weight", mm.array(N(emb.weight)))])
    qe, mqe = emb.to_quantized(bits=8), memb.to_quantized(bits=8)
    idx = R.randint(0, 10, (2, 3))
    np.testing.assert_allclose(N(qe(mx.array(idx))), N(mqe(mm.array(idx))), rtol=1e-5, atol=1e-6)


@needs_quantize
def test_quantize_model():
    model = nn.Sequential(nn.Embedding(10, 64), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8))
    nn.quantize(model, class_predicate=lambda path, m: isinstance(m, nn.Linear))
    assert isinstance(model.layers[1], nn.QuantizedLinear) and isinstance(model.layers[0], nn.Embedding)
    nn.quantize(model, group_size=32, bits=8)
    assert isinstance(model.layers[0], nn.QuantizedEmbedding)
    assert model(mx.array([[1, 2]])).shape == (1, 2, 8)


def test_quantize_argument_errors():
    with pytest.raises(ValueError):
        nn.QuantizedLinear(64, 8, mode="int3")
    with pytest.raises(ValueError):
        nn.Embedding(4, 8).to_quantized(quantize_input=True)
