"""ember.nn: Module trees, layers, activations, losses and initializers, checked against MLX."""

import math

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
    mm = mnn = mlx_tree_flatten = None

needs_mlx = pytest.mark.skipif(mm is None, reason="mlx is not installed")

R = np.random.RandomState(0)
X = R.randn(2, 5, 8).astype(np.float32)
X4 = R.randn(2, 7, 6, 3).astype(np.float32)


@pytest.fixture(autouse=True, scope="module")
def _mlx_uncompiled():
    """MLX compiles its activations with a C++ compiler on first use (seconds each): not needed here."""
    if mm is None:
        yield
        return
    mm.disable_compile()
    yield
    mm.enable_compile()


def N(a):
    return np.array(a)


def _to(lib, v):
    return None if v is None else lib.array(v)


def compare(make, inputs, atol=1e-5, train=False):
    """Build the same layer in Ember and MLX, copy Ember's weights into MLX, compare outputs."""
    e = make(nn, mx)
    m = make(mnn, mm)
    m.load_weights([(k, mm.array(N(v))) for k, v in tree_flatten(e.parameters())])
    if not train:
        e.eval()
        m.eval()
    ye = e(*[_to(mx, i) for i in inputs])
    ym = m(*[_to(mm, i) for i in inputs])
    if not isinstance(ye, tuple):
        ye, ym = (ye,), (ym,)
    for a, b in zip(ye, ym):
        assert a.shape == tuple(b.shape)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        np.testing.assert_allclose(N(a).astype(np.float64), N(b).astype(np.float64), atol=atol, rtol=1e-5)
    return e, m


# ---------------------------------------------------------------------------------------- Module


def build_tree(nn, mx):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.l = [nn.Linear(2, 3), nn.ReLU(), {"a": nn.Linear(3, 3), "b": mx.zeros(2)}]
            self.d = {"x": nn.Linear(1, 1)}
            self._priv = mx.zeros(1)
            self.t = (mx.ones(1), 3)
            self.n = 3
            self.bn = nn.BatchNorm(3)
            self.emp = []

    return M()


def keys(tree, flatten=tree_flatten):
    return [k for k, _ in flatten(tree)]


@needs_mlx
def test_module_trees_match_mlx():
    e, m = build_tree(nn, mx), build_tree(mnn, mm)
    assert repr(e) == repr(m)
    assert "(l.2.a): Linear(input_dims=3, output_dims=3, bias=True)" in repr(e)
    for fn in ["parameters", "trainable_parameters", "children", "leaf_modules"]:
        assert keys(getattr(e, fn)()) == keys(getattr(m, fn)(), mlx_tree_flatten), fn
    assert [k for k, _ in e.named_modules()] == [k for k, _ in m.named_modules()]
    assert len(e.modules()) == len(m.modules()) == 6
    assert keys(e.state) == keys(m.state, mlx_tree_flatten)
    assert "_priv" not in e.parameters() and "t" not in e.parameters()
    assert e.parameters()["l"][1] == {}


@needs_mlx
@pytest.mark.parametrize(
    "kw",
    [dict(), dict(keys="b"), dict(keys=["weight"]), dict(recurse=False), dict(keys="l", strict=True)],
)
def test_freeze_unfreeze_match_mlx(kw):
    e, m = build_tree(nn, mx), build_tree(mnn, mm)
    e.freeze(**kw)
    m.freeze(**kw)
    assert keys(e.trainable_parameters()) == keys(m.trainable_parameters(), mlx_tree_flatten)
    e.unfreeze(keys="weight")
    m.unfreeze(keys="weight")
    assert keys(e.trainable_parameters()) == keys(m.trainable_parameters(), mlx_tree_flatten)
    e.unfreeze()
    m.unfreeze()
    assert keys(e.trainable_parameters()) == keys(m.trainable_parameters(), mlx_tree_flatten)


def test_freeze_effects_on_gradients_and_errors():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    model.layers[0].freeze()
    assert keys(model.trainable_parameters()) == ["layers.1.weight", "layers.1.bias"]
    x = mx.ones((2, 3))
    _, grads = nn.value_and_grad(model, lambda x: model(x).sum())(x)
    assert keys(grads) == ["layers.1.weight", "layers.1.bias"]
    model.freeze(keys="bias")
    assert keys(model.trainable_parameters()) == ["layers.1.weight"]
    model.unfreeze()
    assert len(keys(model.trainable_parameters())) == 4
    with pytest.raises(KeyError):
        model.freeze(keys="nothing", strict=True)
    # BatchNorm's running statistics stay frozen
    bn = nn.BatchNorm(3)
    bn.unfreeze()
    assert keys(bn.trainable_parameters()) == ["weight", "bias"]
    assert sorted(keys(bn.parameters())) == ["bias", "running_mean", "running_var", "weight"]


def test_update_apply_set_dtype_and_modes():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    assert model.training and model.layers[1].training
    model.eval()
    assert not model.training and not model.layers[1].training
    model.train()
    assert model.layers[1].training
    model.update({"layers": [{"weight": mx.zeros((2, 2))}, {}]})
    assert N(model.layers[0].weight).sum() == 0
    with pytest.raises(ValueError):
        model.update({"nope": mx.zeros(1)})
    with pytest.raises(ValueError):
        model.update({"layers": [{"weight": 3}]})
    model.update({"nope": mx.zeros(1)}, strict=False)
    model.apply(lambda p: p + 1)
    np.testing.assert_array_equal(N(model.layers[0].weight), np.ones((2, 2)))
    model.set_dtype(mx.float16)
    assert model.layers[0].weight.dtype == mx.float16
    model.set_dtype(mx.float32, predicate=lambda d: d == mx.int32)
    assert model.layers[0].weight.dtype == mx.float16
    seen = []
    model.apply_to_modules(lambda name, m: seen.append(name))
    assert seen == ["", "layers.1", "layers.0"]
    new = nn.Linear(2, 2)
    model.update_modules({"layers": [new, {}]})
    assert model.layers[0] is new
    with pytest.raises(ValueError):
        model.update_modules({"other": new})


def test_attributes_and_items():
    lin = nn.Linear(2, 3)
    assert lin.weight is lin["weight"]
    lin.bias = None
    assert "bias" not in lin and lin.bias is None
    assert lin(mx.ones((1, 2))).shape == (1, 3)
    with pytest.raises(AttributeError):
        lin.nothing
    lin.extra = [mx.ones(2)]
    assert "extra" in lin.parameters()
    del lin.extra
    assert "extra" not in lin


def test_value_and_grad_matches_manual_gradient():
    model = nn.Linear(3, 1)
    x = mx.array(R.randn(4, 3).astype(np.float32))
    y = mx.array(R.randn(4, 1).astype(np.float32))

    def loss(x, y):
        return nn.losses.mse_loss(model(x), y)

    value, grads = nn.value_and_grad(model, loss)(x, y)
    W, b = N(model.weight), N(model.bias)
    err = N(x) @ W.T + b - N(y)
    np.testing.assert_allclose(float(value), (err**2).mean(), rtol=1e-5)
    np.testing.assert_allclose(N(grads["weight"]), 2 * err.T @ N(x) / 4, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(N(grads["bias"]), 2 * err.sum(0) / 4, rtol=1e-4, atol=1e-6)
    # the core extensions
    v2, g2 = mx.value_and_grad(model, lambda m, x, y: nn.losses.mse_loss(m(x), y))(model, x, y)
    np.testing.assert_allclose(float(v2), float(value), rtol=1e-6)
    np.testing.assert_allclose(N(g2["weight"]), N(grads["weight"]), rtol=1e-6)
    np.testing.assert_array_equal(N(mx.relu(mx.array([-1.0, 2.0]))), [0.0, 2.0])
    v3, g3 = mx.value_and_grad(lambda a: (a * a).sum())(mx.array([1.0, 2.0]))
    assert float(v3) == 5.0 and N(g3).tolist() == [2.0, 4.0]


def test_checkpoint_gives_same_gradients():
    mx.random.seed(3)
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    x = mx.array(X)

    def loss(fn):
        return lambda x: fn(x, None).sum()

    v1, g1 = nn.value_and_grad(layer, loss(layer))(x)
    v2, g2 = nn.value_and_grad(layer, loss(nn.utils.checkpoint(layer)))(x)
    np.testing.assert_allclose(float(v1), float(v2), rtol=1e-6)
    for (k, a), (_, b) in zip(tree_flatten(g1), tree_flatten(g2)):
        np.testing.assert_allclose(N(a), N(b), rtol=1e-5, atol=1e-6, err_msg=k)
    enc = nn.TransformerEncoder(2, 8, 2, checkpoint=True)
    _, g = nn.value_and_grad(enc, lambda x: enc(x, None).sum())(x)
    assert len(tree_flatten(g)) == len(tree_flatten(enc.trainable_parameters()))


def test_average_gradients_is_identity_on_one_process():
    g = {"a": mx.ones(3), "b": [mx.zeros(2)]}
    out = nn.average_gradients(g)
    np.testing.assert_array_equal(N(out["a"]), np.ones(3))


def test_load_weights_from_pairs_and_errors():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    b.load_weights(list(tree_flatten(a.parameters())))
    np.testing.assert_array_equal(N(a.weight), N(b.weight))
    with pytest.raises(ValueError, match="Missing"):
        b.load_weights([("weight", a.weight)])
    with pytest.raises(ValueError, match="not in model"):
        b.load_weights(list(tree_flatten(a.parameters())) + [("extra", a.weight)])
    with pytest.raises(ValueError, match="shape"):
        b.load_weights([("weight", mx.zeros((3, 3))), ("bias", a.bias)])
    b.load_weights([("weight", mx.zeros((2, 3)))], strict=False)
    assert N(b.weight).sum() == 0
    with pytest.raises(ValueError, match="extension"):
        a.save_weights("weights.bin")


@pytest.mark.parametrize("ext", ["npz", "safetensors"])
def test_save_load_weights_files(tmp_path, ext):
    if not hasattr(mx, "save_safetensors") or not hasattr(mx, "load"):
        pytest.skip("file io is not in ember.core yet")
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    path = str(tmp_path / f"w.{ext}")
    model.save_weights(path)
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    other.load_weights(path)
    for (k, a), (_, b) in zip(tree_flatten(model.parameters()), tree_flatten(other.parameters())):
        np.testing.assert_array_equal(N(a), N(b), err_msg=k)
    if mnn is not None:
        theirs = mnn.Sequential(mnn.Linear(3, 4), mnn.ReLU(), mnn.Linear(4, 2))
        theirs.load_weights(path)
        np.testing.assert_array_equal(N(theirs.layers[2].weight), N(model.layers[2].weight))


# ---------------------------------------------------------------------------------------- layers

LAYERS = {
    "linear": (lambda nn, mx: nn.Linear(8, 4), [X]),
    "linear_nobias": (lambda nn, mx: nn.Linear(8, 4, bias=False), [X]),
    "bilinear": (lambda nn, mx: nn.Bilinear(8, 3, 4), [X, R.randn(2, 5, 3).astype(np.float32)]),
    "identity": (lambda nn, mx: nn.Identity(1, a=2), [X]),
    "embedding": (lambda nn, mx: nn.Embedding(10, 4), [R.randint(0, 10, (3, 4))]),
    "sequential": (lambda nn, mx: nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2)), [X]),
    "layernorm": (lambda nn, mx: nn.LayerNorm(8), [X]),
    "layernorm_nobias": (lambda nn, mx: nn.LayerNorm(8, bias=False), [X]),
    "layernorm_plain": (lambda nn, mx: nn.LayerNorm(8, eps=1e-3, affine=False), [X]),
    "rmsnorm": (lambda nn, mx: nn.RMSNorm(8), [X]),
    "groupnorm": (lambda nn, mx: nn.GroupNorm(4, 8), [X]),
    "groupnorm_pt": (lambda nn, mx: nn.GroupNorm(4, 8, pytorch_compatible=True), [X]),
    "groupnorm_noaffine": (lambda nn, mx: nn.GroupNorm(3, 3, affine=False), [X4]),
    "instancenorm": (lambda nn, mx: nn.InstanceNorm(3, affine=True), [X4]),
    "mha": (lambda nn, mx: nn.MultiHeadAttention(8, 2, bias=True), [X, X[:, :3], X[:, :3]]),
    "mha_dims": (
        lambda nn, mx: nn.MultiHeadAttention(8, 2, 6, 5, 4, 10, 7),
        [X[..., :6], R.randn(2, 3, 5).astype(np.float32), R.randn(2, 3, 4).astype(np.float32)],
    ),
    "rnn": (lambda nn, mx: nn.RNN(8, 3), [X]),
    "rnn_hidden_nobias": (lambda nn, mx: nn.RNN(8, 3, bias=False), [X, R.randn(2, 3).astype(np.float32)]),
    "rnn_relu": (lambda nn, mx: nn.RNN(8, 3, nonlinearity=nn.relu), [X]),
    "gru": (lambda nn, mx: nn.GRU(8, 3), [X]),
    "gru_hidden": (lambda nn, mx: nn.GRU(8, 3), [X, R.randn(2, 3).astype(np.float32)]),
    "gru_unbatched_nobias": (lambda nn, mx: nn.GRU(8, 3, bias=False), [X[0], R.randn(3).astype(np.float32)]),
    "lstm": (lambda nn, mx: nn.LSTM(8, 3), [X]),
    "lstm_state": (
        lambda nn, mx: nn.LSTM(8, 3),
        [X, R.randn(2, 3).astype(np.float32), R.randn(2, 3).astype(np.float32)],
    ),
    "maxpool1d": (lambda nn, mx: nn.MaxPool1d(3, 2, 1), [X]),
    "maxpool2d": (lambda nn, mx: nn.MaxPool2d((3, 2), (2, 1), (1, 0)), [X4]),
    "maxpool3d": (lambda nn, mx: nn.MaxPool3d(2), [R.randn(1, 4, 5, 4, 2).astype(np.float32)]),
    "avgpool1d": (lambda nn, mx: nn.AvgPool1d(3, 2, 1), [X]),
    "avgpool2d": (lambda nn, mx: nn.AvgPool2d((3, 2), (2, 1), (1, 0)), [X4]),
    "avgpool3d": (lambda nn, mx: nn.AvgPool3d((2, 3, 2), 1), [R.randn(1, 4, 5, 4, 2).astype(np.float32)]),
    "maxpool_int": (lambda nn, mx: nn.MaxPool1d(2), [np.arange(10).reshape(1, 5, 2).astype(np.int32)]),
    "rope": (lambda nn, mx: nn.RoPE(4), [R.randn(2, 3, 5, 8).astype(np.float32)]),
    "rope_traditional": (lambda nn, mx: nn.RoPE(8, True, 100.0, 0.5), [R.randn(2, 3, 5, 8).astype(np.float32)]),
    "sinusoidal": (lambda nn, mx: nn.SinusoidalPositionalEncoding(8), [R.rand(3, 5).astype(np.float32)]),
    "sinusoidal_cos": (
        lambda nn, mx: nn.SinusoidalPositionalEncoding(8, cos_first=True, full_turns=True, scale=1),
        [R.rand(3, 5).astype(np.float32)],
    ),
    "alibi": (lambda nn, mx: nn.ALiBi(), [R.randn(2, 4, 5, 5).astype(np.float32)]),
    "prelu": (lambda nn, mx: nn.PReLU(8, 0.1), [X]),
}


@needs_mlx
@pytest.mark.parametrize("name", list(LAYERS))
def test_layers_match_mlx(name):
    make, inputs = LAYERS[name]
    compare(make, inputs)


@needs_mlx
@pytest.mark.parametrize("name", ["rope", "rope_traditional"])
def test_rope_offset_matches_mlx(name):
    make, inputs = LAYERS[name]
    e, m = make(nn, mx), make(mnn, mm)
    np.testing.assert_allclose(N(e(mx.array(inputs[0]), offset=3)), N(m(mm.array(inputs[0]), offset=3)), atol=1e-5)


@needs_mlx
@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("scale", [2, 1.5, (2, 3), 0.5, (0.6, 2.5)])
def test_upsample_matches_mlx(mode, align_corners, scale):
    compare(lambda nn, mx: nn.Upsample(scale, mode, align_corners), [X4], atol=1e-4)


@needs_mlx
def test_upsample_1d_and_3d():
    compare(lambda nn, mx: nn.Upsample(2.5, "linear"), [X], atol=1e-5)
    compare(lambda nn, mx: nn.Upsample((2, 1, 1.5), "nearest"), [R.randn(1, 2, 3, 4, 2).astype(np.float32)])


@needs_mlx
def test_batchnorm_training_and_running_stats_match_mlx():
    for shape in [(6, 4), (2, 5, 4), (2, 3, 3, 4)]:
        x = R.randn(*shape).astype(np.float32)
        e, m = compare(lambda nn, mx: nn.BatchNorm(4), [x], train=True)
        np.testing.assert_allclose(N(e.running_mean), N(m.running_mean), atol=1e-6)
        np.testing.assert_allclose(N(e.running_var), N(m.running_var), atol=1e-6)
        e.eval()
        m.eval()
        np.testing.assert_allclose(N(e(mx.array(x))), N(m(mm.array(x))), atol=1e-5)
    compare(lambda nn, mx: nn.BatchNorm(4, affine=False, track_running_stats=False), [X[..., :4]], train=True)
    with pytest.raises(ValueError):
        nn.BatchNorm(4)(mx.ones((4,)))


@needs_mlx
@pytest.mark.parametrize("norm_first", [True, False])
def test_transformers_match_mlx(norm_first):
    mask = N(mnn.MultiHeadAttention.create_additive_causal_mask(5))
    np.testing.assert_array_equal(N(nn.MultiHeadAttention.create_additive_causal_mask(5)), mask)
    compare(lambda nn, mx: nn.MultiHeadAttention(8, 2), [X, X, X, mask])
    compare(lambda nn, mx: nn.TransformerEncoder(2, 8, 2, norm_first=norm_first), [X, mask], atol=1e-4)
    compare(
        lambda nn, mx: nn.TransformerDecoder(2, 8, 2, norm_first=norm_first), [X, X[:, :3], mask, None], atol=1e-4
    )
    compare(
        lambda nn, mx: nn.Transformer(8, 2, 1, 1, 16, norm_first=norm_first, activation=nn.gelu),
        [X, X, None, mask, None],
        atol=1e-4,
    )


def test_attention_masks_bool_and_causal():
    mha = nn.MultiHeadAttention(8, 2)
    x = mx.array(X)
    additive = nn.MultiHeadAttention.create_additive_causal_mask(5)
    boolean = mx.array(np.tril(np.ones((5, 5), dtype=bool)))
    a = mha(x, x, x, additive)
    np.testing.assert_allclose(N(mha(x, x, x, boolean)), N(a), atol=1e-5)
    np.testing.assert_allclose(N(mha(x, x, x, "causal")), N(a), atol=1e-5)
    with pytest.raises(ValueError):
        nn.MultiHeadAttention(8, 3)


@needs_mlx
def test_layer_reprs_match_mlx():
    makers = [
        lambda nn: nn.Linear(2, 3),
        lambda nn: nn.Bilinear(2, 3, 4, bias=False),
        lambda nn: nn.Embedding(3, 4),
        lambda nn: nn.LayerNorm(4),
        lambda nn: nn.RMSNorm(3),
        lambda nn: nn.GroupNorm(2, 4),
        lambda nn: nn.InstanceNorm(3),
        lambda nn: nn.BatchNorm(3),
        lambda nn: nn.Dropout(0.1),
        lambda nn: nn.Dropout2d(),
        lambda nn: nn.RoPE(4),
        lambda nn: nn.MaxPool2d(2),
        lambda nn: nn.AvgPool1d(3, 1, 1),
        lambda nn: nn.GRU(2, 3),
        lambda nn: nn.LSTM(2, 3),
        lambda nn: nn.Upsample(2),
        lambda nn: nn.MultiHeadAttention(8, 2),
        lambda nn: nn.Sequential(nn.Linear(2, 3), nn.GELU()),
        lambda nn: nn.TransformerEncoder(1, 4, 2),
    ]
    for make in makers:
        assert repr(make(nn)) == repr(make(mnn))


# ---------------------------------------------------------------------------------------- activations

ACTIVATION_CLASSES = [
    "ReLU", "ReLU2", "ReLU6", "LeakyReLU", "ELU", "CELU", "SELU", "Softplus", "Softsign", "Softshrink", "SiLU",
    "LogSigmoid", "GELU", "GLU", "Step", "Mish", "PReLU", "Hardswish", "HardTanh", "HardShrink", "Tanh", "Softmax",
    "Softmin", "LogSoftmax", "Sigmoid",
]
ACTIVATION_FUNCTIONS = [
    ("relu", {}), ("relu2", {}), ("relu6", {}), ("leaky_relu", {"negative_slope": 0.2}), ("elu", {"alpha": 0.5}),
    ("celu", {"alpha": 2.0}), ("selu", {}), ("softplus", {}), ("softsign", {}), ("softshrink", {"lambd": 0.3}),
    ("silu", {}), ("log_sigmoid", {}), ("gelu", {}), ("gelu_approx", {}), ("gelu_fast_approx", {}),
    ("glu", {"axis": 0}), ("step", {"threshold": 0.5}), ("mish", {}), ("hardswish", {}),
    ("hard_tanh", {"min_val": -0.5, "max_val": 2.0}), ("hard_shrink", {"lambd": 0.2}), ("tanh", {}),
    ("softmax", {"axis": 1}), ("softmin", {}), ("log_softmax", {"axis": 0}), ("sigmoid", {}),
]


@needs_mlx
@pytest.mark.parametrize("name", ACTIVATION_CLASSES)
def test_activation_classes_match_mlx(name):
    compare(lambda nn, mx: getattr(nn, name)(), [X * 3])


@needs_mlx
@pytest.mark.parametrize("name,kw", ACTIVATION_FUNCTIONS, ids=[a for a, _ in ACTIVATION_FUNCTIONS])
def test_activation_functions_match_mlx(name, kw):
    x = X * 3
    e = getattr(nn, name)(mx.array(x), **kw)
    m = getattr(mnn, name)(mm.array(x), **kw)
    assert str(e.dtype).split(".")[-1] == str(m.dtype).split(".")[-1]
    np.testing.assert_allclose(N(e), N(m), atol=2e-6, rtol=1e-5)


@needs_mlx
@pytest.mark.parametrize("approx", ["none", "precise", "tanh", "fast"])
def test_gelu_approximations(approx):
    compare(lambda nn, mx: nn.GELU(approx), [X * 3])


def test_activation_closed_forms_and_grads():
    x = np.linspace(-4, 4, 17).astype(np.float32)
    np.testing.assert_allclose(N(nn.relu(mx.array(x))), np.maximum(x, 0))
    np.testing.assert_allclose(N(nn.softplus(mx.array(x))), np.log1p(np.exp(x)), rtol=1e-6)
    np.testing.assert_allclose(N(nn.silu(mx.array(x))), x / (1 + np.exp(-x)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(N(nn.prelu(mx.array(x), mx.array([0.1]))), np.where(x > 0, x, 0.1 * x), rtol=1e-6)
    g = mx.grad(lambda v: nn.gelu(v).sum())(mx.array(x))
    phi = np.exp(-(x.astype(np.float64) ** 2) / 2) / np.sqrt(2 * np.pi)
    cdf = 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x.astype(np.float64)]))
    np.testing.assert_allclose(N(g), cdf + x * phi, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        nn.GELU("cubic")


def test_activations_under_compile_and_vmap():
    x = mx.array(X)
    f = mx.compile(lambda v: nn.gelu_approx(nn.silu(v)) + nn.softmax(v))
    np.testing.assert_allclose(N(f(x)), N(nn.gelu_approx(nn.silu(x)) + nn.softmax(x)), rtol=1e-5, atol=1e-6)
    v = mx.vmap(nn.log_softmax)(x)
    np.testing.assert_allclose(N(v), N(nn.log_softmax(x)), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------- dropout


def test_dropout():
    mx.random.seed(0)
    x = mx.ones((200, 50))
    y = N(nn.Dropout(0.25)(x))
    kept = y != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    d = nn.Dropout(0.25)
    d.eval()
    np.testing.assert_array_equal(N(d(x)), N(x))
    np.testing.assert_array_equal(N(nn.Dropout(0.0)(x)), N(x))
    y2 = N(nn.Dropout2d(0.5)(mx.ones((4, 3, 3, 16))))
    assert np.all(y2.min(axis=(1, 2)) == y2.max(axis=(1, 2)))  # whole channels
    y3 = N(nn.Dropout3d(0.5)(mx.ones((2, 2, 3, 3, 16))))
    assert np.all(y3.min(axis=(1, 2, 3)) == y3.max(axis=(1, 2, 3)))
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError):
            nn.Dropout(bad)
    with pytest.raises(ValueError):
        nn.Dropout2d()(mx.ones((2, 3)))
    with pytest.raises(ValueError):
        nn.Dropout3d()(mx.ones((2, 3, 4)))


# ---------------------------------------------------------------------------------------- misc layers


def test_embedding_as_linear_and_bilinear_closed_form():
    emb = nn.Embedding(5, 3)
    x = mx.array(R.randn(2, 3).astype(np.float32))
    np.testing.assert_allclose(N(emb.as_linear(x)), N(x) @ N(emb.weight).T, rtol=1e-5)
    bl = nn.Bilinear(3, 2, 4)
    a = R.randn(5, 3).astype(np.float32)
    b = R.randn(5, 2).astype(np.float32)
    expected = np.einsum("ni,oji,nj->no", a, N(bl.weight), b) + N(bl.bias)
    np.testing.assert_allclose(N(bl(mx.array(a), mx.array(b))), expected, rtol=1e-4, atol=1e-5)


def test_pooling_errors():
    with pytest.raises(ValueError):
        nn.MaxPool1d((2, 2))
    with pytest.raises(ValueError):
        nn.MaxPool2d(0)
    with pytest.raises(ValueError):
        nn.AvgPool1d(2, stride=0)
    with pytest.raises(ValueError):
        nn.AvgPool1d(2, padding=-1)
    with pytest.raises(ValueError):
        nn.MaxPool2d(2)(mx.ones((5, 5, 1)))
    with pytest.raises(ValueError):
        nn.Upsample(2, mode="area")
    with pytest.raises(ValueError):
        nn.Upsample((2, 2))(mx.ones((1, 4, 1)))


def test_pooling_gradient_matches_numpy():
    x = mx.array(R.randn(1, 6, 1).astype(np.float32))
    g = mx.grad(lambda v: nn.AvgPool1d(2)(v).sum())(x)
    np.testing.assert_allclose(N(g), np.full((1, 6, 1), 0.5), rtol=1e-6)
    g = N(mx.grad(lambda v: nn.MaxPool1d(2)(v).sum())(x)).ravel()
    xv = N(x).ravel().reshape(3, 2)
    expected = (xv == xv.max(1, keepdims=True)).astype(np.float32).ravel()
    np.testing.assert_array_equal(g, expected)


def test_alibi_closed_form():
    scores = mx.zeros((1, 2, 3, 3))
    out = N(nn.ALiBi()(scores))
    slopes = [(2**8) ** (-(h + 1) / 2) for h in range(2)]
    dist = -np.abs(np.arange(3)[:, None] - np.arange(3)[None])
    np.testing.assert_allclose(out[0], np.stack([s * dist for s in slopes]), rtol=1e-6)


# ---------------------------------------------------------------------------------------- losses

_L = np.random.RandomState(1)
LG = _L.randn(4, 5).astype(np.float32)
TG = _L.randint(0, 5, (4,))
PR = _L.rand(4, 5).astype(np.float32)
PR /= PR.sum(-1, keepdims=True)
A = _L.randn(4, 5).astype(np.float32)
B = _L.randn(4, 5).astype(np.float32)
P01 = _L.rand(4, 5).astype(np.float32)
T01 = (_L.rand(4, 5) > 0.5).astype(np.float32)
W4 = _L.rand(4).astype(np.float32)
SGN = np.sign(_L.randn(4, 5)).astype(np.float32)

LOSSES = [
    ("cross_entropy", (LG, TG), {}),
    ("cross_entropy", (LG, PR), {}),
    ("cross_entropy", (LG, TG), dict(label_smoothing=0.3, reduction="mean")),
    ("cross_entropy", (LG, TG), dict(weights=W4, reduction="sum")),
    ("cross_entropy", (LG.T.copy(), TG), dict(axis=0)),
    ("binary_cross_entropy", (A, T01), {}),
    ("binary_cross_entropy", (P01, T01), dict(with_logits=False, reduction="none")),
    ("binary_cross_entropy", (A, T01), dict(weights=P01, reduction="sum")),
    ("l1_loss", (A, B), {}),
    ("l1_loss", (A, B), dict(reduction="none")),
    ("mse_loss", (A, B), dict(reduction="sum")),
    ("nll_loss", (np.log(PR), TG), {}),
    ("nll_loss", (np.log(PR), TG), dict(reduction="mean")),
    ("gaussian_nll_loss", (A, B, P01), {}),
    ("gaussian_nll_loss", (A, B, P01), dict(full=True, reduction="none")),
    ("kl_div_loss", (np.log(PR), np.log(PR[::-1].copy())), {}),
    ("smooth_l1_loss", (A, B), dict(beta=0.5)),
    ("triplet_loss", (A, B, P01), {}),
    ("triplet_loss", (A, B, P01), dict(margin=0.5, reduction="mean", axis=0)),
    ("hinge_loss", (A, SGN), {}),
    ("huber_loss", (A, B), dict(delta=0.7)),
    ("log_cosh_loss", (A, B), {}),
    ("cosine_similarity_loss", (A, B), {}),
    ("cosine_similarity_loss", (A, B), dict(axis=-1, reduction="mean")),
    ("margin_ranking_loss", (A[:, 0].copy(), B[:, 0].copy(), SGN[:, 0].copy()), dict(margin=0.1)),
]


@needs_mlx
@pytest.mark.parametrize("name,args,kw", LOSSES, ids=[f"{n}{i}" for i, (n, _, _) in enumerate(LOSSES)])
def test_losses_match_mlx(name, args, kw):
    ekw = {k: (mx.array(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    mkw = {k: (mm.array(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    e = getattr(nn.losses, name)(*[mx.array(a) for a in args], **ekw)
    m = getattr(mnn.losses, name)(*[mm.array(a) for a in args], **mkw)
    assert e.shape == tuple(m.shape)
    np.testing.assert_allclose(N(e), N(m), atol=2e-6, rtol=1e-5)


def test_losses_closed_forms():
    ce = N(nn.losses.cross_entropy(mx.array(LG), mx.array(TG)))
    logp = LG - np.log(np.exp(LG).sum(-1, keepdims=True))
    np.testing.assert_allclose(ce, -logp[np.arange(4), TG], rtol=1e-5)
    np.testing.assert_allclose(float(nn.losses.mse_loss(mx.array(A), mx.array(B))), ((A - B) ** 2).mean(), rtol=1e-5)
    d = np.abs(A - B)
    hub = np.where(d <= 1, 0.5 * d**2, d - 0.5)
    np.testing.assert_allclose(N(nn.losses.huber_loss(mx.array(A), mx.array(B))), hub, rtol=1e-5)
    bce = N(nn.losses.binary_cross_entropy(mx.array(A), mx.array(T01), reduction="none"))
    sig = 1 / (1 + np.exp(-A))
    np.testing.assert_allclose(bce, -(T01 * np.log(sig) + (1 - T01) * np.log(1 - sig)), rtol=1e-4, atol=1e-6)


def test_loss_errors():
    with pytest.raises(ValueError):
        nn.losses.mse_loss(mx.array(A), mx.array(B[:2]))
    with pytest.raises(ValueError):
        nn.losses.cross_entropy(mx.array(LG), mx.array(TG), reduction="avg")
    with pytest.raises(ValueError):
        nn.losses.cross_entropy(mx.array(LG), mx.array(TG), label_smoothing=1.0)
    with pytest.raises(ValueError):
        nn.losses.cross_entropy(mx.array(LG), mx.array(TG[:2]))
    with pytest.raises(ValueError):
        nn.losses.cross_entropy(mx.array(LG), mx.array(TG), weights=mx.ones(3))
    with pytest.raises(ValueError):
        nn.losses.margin_ranking_loss(mx.ones(3), mx.ones(3), mx.ones(2))


# ---------------------------------------------------------------------------------------- init


def test_initializers():
    mx.random.seed(0)
    a = mx.zeros((400, 300))
    np.testing.assert_array_equal(N(nn.init.constant(0.5)(mx.zeros((2, 3)))), np.full((2, 3), 0.5))
    v = N(nn.init.normal(1.0, 2.0)(a))
    assert abs(v.mean() - 1.0) < 0.05 and abs(v.std() - 2.0) < 0.05
    v = N(nn.init.uniform(-2.0, 1.0)(a))
    assert v.min() >= -2 and v.max() <= 1 and abs(v.mean() + 0.5) < 0.03
    np.testing.assert_array_equal(N(nn.init.identity()(mx.zeros((3, 3)))), np.eye(3))
    with pytest.raises(ValueError):
        nn.init.identity()(mx.zeros((2, 3)))
    std = math.sqrt(2 / 700)
    assert abs(N(nn.init.glorot_normal()(a)).std() - std) < 0.02 * std
    limit = math.sqrt(6 / 700) * 2.0
    v = N(nn.init.glorot_uniform()(a, gain=2.0))
    assert v.max() <= limit and v.max() > 0.95 * limit
    assert abs(N(nn.init.he_normal()(a)).std() - 1 / math.sqrt(300)) < 0.02 / math.sqrt(300)
    assert abs(N(nn.init.he_normal()(a, mode="fan_out")).std() - 1 / math.sqrt(400)) < 0.02 / math.sqrt(400)
    v = N(nn.init.he_uniform()(mx.zeros((8, 3, 3, 4)), mode="fan_in", gain=1.0))
    assert v.max() <= math.sqrt(3 / 36)
    with pytest.raises(ValueError):
        nn.init.he_uniform()(a, mode="fan_avg")
    with pytest.raises(ValueError):
        nn.init.glorot_normal()(mx.zeros((3,)))
    v = N(nn.init.sparse(0.25)(mx.zeros((10, 8))))
    assert ((v == 0).sum(axis=1) == 2).all()
    with pytest.raises(ValueError):
        nn.init.sparse(0.5)(mx.zeros((2, 2, 2)))
    assert nn.init.normal(dtype=mx.float16)(a).dtype == mx.float16


def test_orthogonal_initializer():
    if not hasattr(mx, "linalg") or not hasattr(mx.linalg, "qr"):
        pytest.skip("mx.linalg.qr is not in ember.core yet")
    q = N(nn.init.orthogonal()(mx.zeros((4, 6))))
    np.testing.assert_allclose(q @ q.T, np.eye(4), atol=1e-5)
    q = N(nn.init.orthogonal(gain=2.0)(mx.zeros((6, 4))))
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(4), atol=1e-4)


# ---------------------------------------------------------------------------------------- signatures


def _params(obj):
    import inspect

    try:
        sig = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    except (TypeError, ValueError):
        return None
    out = []
    for p in sig.parameters.values():
        d = p.default
        if callable(d):
            d = "<callable>"
        elif d is not inspect.Parameter.empty and type(d).__name__ == "Dtype":
            d = str(d).split(".")[-1]
        out.append((p.name, p.kind, d))
    return out


# helpers MLX's modules import (functools.reduce, the Module base class)
_NOT_PORTED = {"reduce", "Module"}


@needs_mlx
def test_signatures_match_mlx():
    import inspect

    import ember.optimizers as eoptim
    import mlx.optimizers as moptim

    pairs = [(nn, mnn), (nn.losses, mnn.losses), (nn.init, mnn.init), (nn.utils, mnn.utils), (eoptim, moptim)]
    problems = []
    for ours, theirs in pairs:
        for name in dir(theirs):
            obj = getattr(theirs, name)
            if name.startswith("_") or inspect.ismodule(obj) or not callable(obj):
                continue
            if getattr(obj, "__module__", "").startswith(("typing", "mlx.utils", "mlx.core")):
                continue
            if name in _NOT_PORTED and not (ours is nn and name == "Module"):
                continue
            if not hasattr(ours, name):
                problems.append(f"missing {name}")
                continue
            if _params(getattr(ours, name)) != _params(obj):
                problems.append(f"{name}: {_params(getattr(ours, name))} != {_params(obj)}")
            if inspect.isclass(obj):
                for meth in vars(obj):
                    if (meth.startswith("_") and meth != "__call__") or not callable(getattr(obj, meth)):
                        continue
                    mine = getattr(getattr(ours, name), meth, None)
                    skip = 1 if meth == "__call__" else 0  # the bound instance's name does not matter
                    if mine is None or (_params(mine) or [])[skip:] != (_params(getattr(obj, meth)) or [])[skip:]:
                        problems.append(f"{name}.{meth}")
    assert problems == []


# ---------------------------------------------------------------------------------------- gradients

GRAD_LAYERS = {
    "linear": (lambda nn, mx: nn.Linear(8, 4), [X]),
    "layernorm": (lambda nn, mx: nn.LayerNorm(8), [X]),
    "rmsnorm": (lambda nn, mx: nn.RMSNorm(8), [X]),
    "groupnorm": (lambda nn, mx: nn.GroupNorm(2, 8), [X]),
    "mha": (lambda nn, mx: nn.MultiHeadAttention(8, 2, bias=True), [X, X, X]),
    "encoder_post_norm": (lambda nn, mx: nn.TransformerEncoderLayer(8, 2, 16, norm_first=False), [X, None]),
    "gru": (lambda nn, mx: nn.GRU(8, 3), [X]),
    "lstm": (lambda nn, mx: nn.LSTM(8, 3), [X]),
    "bilinear": (lambda nn, mx: nn.Bilinear(8, 3, 4), [X, R.randn(2, 5, 3).astype(np.float32)]),
    "embedding": (lambda nn, mx: nn.Embedding(10, 4), [R.randint(0, 10, (3, 4))]),
    "prelu": (lambda nn, mx: nn.PReLU(8, 0.1), [X]),
}


@needs_mlx
@pytest.mark.parametrize("name", list(GRAD_LAYERS))
def test_layer_gradients_match_mlx(name):
    make, inputs = GRAD_LAYERS[name]
    e, m = make(nn, mx), make(mnn, mm)
    m.load_weights([(k, mm.array(N(v))) for k, v in tree_flatten(e.parameters())])

    def loss(model, lib):
        def f(*args):
            out = model(*args)
            out = out[0] if isinstance(out, tuple) else out
            return (lib.sin(out) * out).sum()

        return f

    ve, ge = nn.value_and_grad(e, loss(e, mx))(*[_to(mx, i) for i in inputs])
    vm, gm = mnn.value_and_grad(m, loss(m, mm))(*[_to(mm, i) for i in inputs])
    np.testing.assert_allclose(float(ve), float(vm), rtol=1e-4, atol=1e-5)
    fm = dict(mlx_tree_flatten(gm))
    fe = dict(tree_flatten(ge))
    assert sorted(fe) == sorted(fm)
    for k in fe:
        np.testing.assert_allclose(N(fe[k]), N(fm[k]), rtol=1e-4, atol=1e-5, err_msg=k)


@needs_mlx
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_layers_close_to_mlx(dtype):
    for make in [
        lambda nn, mx: nn.Linear(8, 4),
        lambda nn, mx: nn.LayerNorm(8),
        lambda nn, mx: nn.RMSNorm(8),
        lambda nn, mx: nn.GELU(),
        lambda nn, mx: nn.RoPE(8),
    ]:
        e, m = make(nn, mx), make(mnn, mm)
        m.load_weights([(k, mm.array(N(v))) for k, v in tree_flatten(e.parameters())])
        e.set_dtype(getattr(mx, dtype))
        m.set_dtype(getattr(mm, dtype))
        ye = e(mx.array(X).astype(getattr(mx, dtype)))
        ym = m(mm.array(X).astype(getattr(mm, dtype)))
        assert str(ye.dtype).split(".")[-1] == dtype
        np.testing.assert_allclose(
            N(ye.astype(mx.float32)), N(ym.astype(mm.float32)), rtol=2e-2, atol=3e-2, err_msg=repr(e)
        )


def test_layers_under_vmap_and_compile():
    layer = nn.Sequential(nn.Linear(8, 6), nn.LayerNorm(6), nn.SiLU())
    x = mx.array(X)
    expected = N(layer(x))
    np.testing.assert_allclose(N(mx.vmap(layer)(x)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(N(mx.compile(layer)(x)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(N(mx.compile(layer, shapeless=True)(x)), expected, rtol=1e-5, atol=1e-6)


@needs_mlx
@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("scale", [0.5, 0.4, (0.7, 2), 1.5, 3])
def test_upsample_antialias_matches_mlx(mode, scale):
    x = R.randn(2, 9, 8, 3).astype(np.float32)
    compare(lambda nn, mx: nn.Upsample(scale, mode, antialias=True), [x], atol=1e-5)


def test_upsample_antialias_errors():
    with pytest.raises(ValueError):
        nn.Upsample(0.5, "nearest", antialias=True)
    with pytest.raises(ValueError):
        nn.Upsample(0.5, "linear", align_corners=True, antialias=True)


def test_bad_inputs_raise_and_process_keeps_working():
    bad = [
        lambda: nn.Linear(3, 2)(mx.ones((2, 4))),
        lambda: nn.Embedding(3, 2)(mx.array([1.5])),
        lambda: nn.LayerNorm(3)(mx.ones((2, 4))),
        lambda: nn.LSTM(3, 2)(mx.ones((2, 4))),
        lambda: nn.GLU()(mx.ones((3,))),
        lambda: nn.InstanceNorm(3)(mx.ones((2, 3))),
        lambda: nn.BatchNorm(3)(mx.ones((1, 3))),
        lambda: nn.MaxPool1d(4)(mx.ones((1, 2, 1))),
        lambda: nn.RNN(3, 2, nonlinearity=3),
        lambda: nn.LayerNorm(3, eps=0.0),
        lambda: nn.GroupNorm(2, 3),
        lambda: nn.SinusoidalPositionalEncoding(5),
    ]
    for fn in bad:
        with pytest.raises(ValueError):
            mx.eval(fn())
    assert nn.Linear(3, 2)(mx.ones((2, 3))).shape == (2, 2)


@needs_mlx
@pytest.mark.parametrize("cls", ["MaxPool1d", "MaxPool2d", "AvgPool2d", "MaxPool3d"])
@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, None, 0), (2, 1, 0), (3, 2, 1), (2, 2, 1)])
def test_pooling_gradients_with_ties_match_mlx(cls, k, s, p):
    # Rounded inputs make tied maxima in most windows: the gradient must be shared among
    # them as MLX shares it, on the tiled fast path and on the general one.
    nd = int(cls[-2])
    shape = (2,) + (7, 5, 6)[:nd] + (3,)
    x = np.round(R.randn(*shape), 0).astype(np.float32)
    e, r = getattr(nn, cls)(k, s, p), getattr(mnn, cls)(k, s, p)
    ye, yr = e(mx.array(x)), r(mm.array(x))
    np.testing.assert_array_equal(N(ye), np.array(yr))
    w = np.arange(ye.size, dtype=np.float32).reshape(ye.shape)
    ge = mx.grad(lambda a: (e(a) * mx.array(w)).sum())(mx.array(x))
    gr = mm.grad(lambda a: (r(a) * mm.array(w)).sum())(mm.array(x))
    np.testing.assert_allclose(N(ge), np.array(gr), rtol=1e-5, atol=1e-4)
