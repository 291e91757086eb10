"""ember.optimizers: first steps against MLX and closed forms, state, schedules, compiled steps."""

from functools import partial

import numpy as np
import pytest

import ember.core as mx
import ember.nn as nn
import ember.optimizers as optim
from ember.utils import tree_flatten, tree_unflatten

try:
    import mlx.core as mm
    import mlx.optimizers as moptim
    from mlx.utils import tree_flatten as mlx_tree_flatten
except ImportError:  # pragma: no cover
    mm = moptim = mlx_tree_flatten = None

needs_mlx = pytest.mark.skipif(mm is None, reason="mlx is not installed")

R = np.random.RandomState(0)
PARAMS = {"w": R.randn(4, 3).astype(np.float32), "b": R.randn(3).astype(np.float32), "l": [R.randn(2, 3, 2).astype(np.float32)]}
GRADS = [
    {"w": R.randn(4, 3).astype(np.float32), "b": R.randn(3).astype(np.float32), "l": [R.randn(2, 3, 2).astype(np.float32)]}
    for _ in range(3)
]


def N(a):
    return np.array(a)


def conv(tree, lib):
    if isinstance(tree, dict):
        return {k: conv(v, lib) for k, v in tree.items()}
    if isinstance(tree, list):
        return [conv(v, lib) for v in tree]
    return lib.array(tree)


CASES = [
    ("SGD", (0.1,), {}),
    ("SGD", (0.1,), dict(momentum=0.9, weight_decay=0.01, dampening=0.1)),
    ("SGD", (0.1,), dict(momentum=0.9, nesterov=True)),
    ("RMSprop", (0.01,), {}),
    ("RMSprop", (0.01,), dict(alpha=0.5, eps=1e-3)),
    ("Adagrad", (0.1,), {}),
    ("AdaDelta", (0.5,), {}),
    ("Adam", (0.01,), {}),
    ("Adam", (0.01,), dict(bias_correction=True, betas=[0.8, 0.9])),
    ("AdamW", (0.01,), {}),
    ("AdamW", (0.01,), dict(bias_correction=True, weight_decay=0.1)),
    ("Adamax", (0.01,), {}),
    ("Lion", (0.01,), dict(weight_decay=0.1)),
    ("Adafactor", (), {}),
    ("Adafactor", (0.01,), dict(relative_step=False, beta_1=0.9, weight_decay=0.1)),
    ("Adafactor", (), dict(warmup_init=True, scale_parameter=False)),
    ("Muon", (0.01,), {}),
    ("Muon", (0.01,), dict(nesterov=False, weight_decay=0.0)),
]


@needs_mlx
@pytest.mark.parametrize("name,args,kw", CASES, ids=[f"{n}{i}" for i, (n, _, _) in enumerate(CASES)])
def test_steps_match_mlx(name, args, kw):
    oe = getattr(optim, name)(*args, **kw)
    om = getattr(moptim, name)(*args, **kw)
    pe, pm = conv(PARAMS, mx), conv(PARAMS, mm)
    for g in GRADS:
        pe = oe.apply_gradients(conv(g, mx), pe)
        pm = om.apply_gradients(conv(g, mm), pm)
    fm = dict(mlx_tree_flatten(pm))
    for k, v in tree_flatten(pe):
        np.testing.assert_allclose(N(v), N(fm[k]), rtol=1e-5, atol=1e-6, err_msg=k)
    se, sm = dict(tree_flatten(oe.state)), dict(mlx_tree_flatten(om.state))
    assert sorted(se) == sorted(sm)
    for k in se:
        np.testing.assert_allclose(N(se[k]).astype(np.float64), N(sm[k]).astype(np.float64), rtol=1e-5, atol=1e-6)
    assert int(oe.step) == 3


def test_sgd_and_adam_by_hand():
    p = np.array([1.0, -2.0], np.float32)
    g = np.array([0.5, 0.25], np.float32)
    opt = optim.SGD(0.1, momentum=0.9)
    out = opt.apply_gradients({"p": mx.array(g)}, {"p": mx.array(p)})
    np.testing.assert_allclose(N(out["p"]), p - 0.1 * g, rtol=1e-6)
    out = opt.apply_gradients({"p": mx.array(g)}, out)
    np.testing.assert_allclose(N(out["p"]), p - 0.1 * g - 0.1 * (0.9 * g + g), rtol=1e-6)
    adam = optim.Adam(0.1, bias_correction=True)
    out = adam.apply_gradients({"p": mx.array(g)}, {"p": mx.array(p)})
    # with bias correction the first step is lr * sign(g) (up to eps)
    np.testing.assert_allclose(N(out["p"]), p - 0.1 * np.sign(g), rtol=1e-5)
    lion = optim.Lion(0.5)
    out = lion.apply_gradients({"p": mx.array(g)}, {"p": mx.array(p)})
    np.testing.assert_allclose(N(out["p"]), p - 0.5 * np.sign(g), rtol=1e-6)


def test_update_model_and_learning_rate_property():
    model = nn.Linear(3, 2)
    w0 = N(model.weight)
    opt = optim.SGD(learning_rate=0.5)
    grads = {"weight": mx.ones((2, 3)), "bias": mx.ones((2,))}
    opt.update(model, grads)
    np.testing.assert_allclose(N(model.weight), w0 - 0.5, rtol=1e-6)
    opt.learning_rate = 0.25
    assert float(opt.learning_rate) == 0.25
    opt.update(model, grads)
    np.testing.assert_allclose(N(model.weight), w0 - 0.75, rtol=1e-6)


def test_scheduled_learning_rate():
    opt = optim.SGD(optim.linear_schedule(0.0, 1.0, 10))
    p = {"p": mx.zeros(1)}
    rates = []
    for _ in range(4):
        rates.append(float(opt.learning_rate))
        p = opt.apply_gradients({"p": mx.ones(1)}, p)
    # the rate used at step t is schedule(t) evaluated before the step counter advances
    np.testing.assert_allclose(rates, [0.0, 0.0, 0.1, 0.2], atol=1e-7)
    np.testing.assert_allclose(N(p["p"]), [-(0.0 + 0.1 + 0.2 + 0.3)], rtol=1e-6)


@needs_mlx
def test_schedules_match_mlx():
    pairs = [
        ("exponential_decay", (0.1, 0.9)),
        ("step_decay", (0.1, 0.9, 2)),
        ("cosine_decay", (0.1, 10, 0.01)),
        ("linear_schedule", (0.0, 0.1, 5)),
    ]
    for name, args in pairs:
        fe, fm = getattr(optim, name)(*args), getattr(moptim, name)(*args)
        for i in range(0, 14, 3):
            np.testing.assert_allclose(float(fe(mx.array(i))), float(fm(mm.array(i))), rtol=1e-6, err_msg=name)
    je = optim.join_schedules([optim.linear_schedule(0, 0.1, 5), optim.cosine_decay(0.1, 10)], [5])
    jm = moptim.join_schedules([moptim.linear_schedule(0, 0.1, 5), moptim.cosine_decay(0.1, 10)], [5])
    for i in range(14):
        np.testing.assert_allclose(float(je(mx.array(i))), float(jm(mm.array(i))), rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError):
        optim.join_schedules([], [])
    with pytest.raises(ValueError):
        optim.join_schedules([optim.exponential_decay(1, 0.5)], [3])
    with pytest.raises(ValueError):
        optim.linear_schedule(0, 1, 0)


def test_schedule_closed_forms():
    np.testing.assert_allclose(float(optim.cosine_decay(1.0, 4)(mx.array(2))), 0.5, rtol=1e-6)
    np.testing.assert_allclose(float(optim.cosine_decay(1.0, 4)(mx.array(9))), 0.0, atol=1e-7)
    np.testing.assert_allclose(float(optim.step_decay(1.0, 0.5, 3)(mx.array(7))), 0.25, rtol=1e-6)
    np.testing.assert_allclose(float(optim.exponential_decay(2.0, 0.5)(mx.array(3))), 0.25, rtol=1e-6)


def test_clip_grad_norm():
    grads = {"a": mx.array([3.0, 0.0]), "b": [mx.array([4.0])]}
    clipped, norm = optim.clip_grad_norm(grads, 1.0)
    assert abs(float(norm) - 5.0) < 1e-6
    np.testing.assert_allclose(N(clipped["a"]), [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(N(clipped["b"][0]), [0.8], rtol=1e-5)
    same, _ = optim.clip_grad_norm(grads, 10.0)
    np.testing.assert_allclose(N(same["a"]), [3.0, 0.0], rtol=1e-6)


def test_state_round_trip_resumes_exactly():
    def run(opt, params, grads):
        for g in grads:
            params = opt.apply_gradients(conv(g, mx), params)
        return params

    full = optim.AdamW(0.01, bias_correction=True)
    p_full = run(full, conv(PARAMS, mx), GRADS)

    first = optim.AdamW(0.01, bias_correction=True)
    p = run(first, conv(PARAMS, mx), GRADS[:2])
    saved = {k: N(v) for k, v in tree_flatten(first.state)}  # e.g. written with np.savez
    resumed = optim.AdamW(0.01, bias_correction=True)
    resumed.state = tree_unflatten([(k, mx.array(v)) for k, v in saved.items()])
    p = run(resumed, p, GRADS[2:])
    for (k, a), (_, b) in zip(tree_flatten(p), tree_flatten(p_full)):
        np.testing.assert_array_equal(N(a), N(b), err_msg=k)
    assert int(resumed.step) == 3


def test_init_creates_state_ahead():
    opt = optim.Adam(0.1)
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    opt.init(model.trainable_parameters())
    keys = [k for k, _ in tree_flatten(opt.state)]
    assert "layers.0.weight.m" in keys and "layers.2.bias.v" in keys
    assert N(opt.state["layers"][0]["weight"]["m"]).sum() == 0


def test_multi_optimizer():
    params = {"a": mx.ones(2), "b": {"c": mx.ones((2, 2))}}
    grads = {"a": mx.ones(2), "b": {"c": mx.ones((2, 2))}}
    opt = optim.MultiOptimizer([optim.SGD(1.0), optim.SGD(0.5)], [lambda path, g: g.ndim == 1])
    out = opt.apply_gradients(grads, params)
    np.testing.assert_allclose(N(out["a"]), [0.0, 0.0])
    np.testing.assert_allclose(N(out["b"]["c"]), np.full((2, 2), 0.5))
    assert len(opt.state["states"]) == 2
    opt.learning_rate = 0.1
    assert abs(float(opt.optimizers[1].learning_rate) - 0.1) < 1e-7
    with pytest.raises(ValueError):
        optim.MultiOptimizer([optim.SGD(1.0), optim.SGD(0.5)])
    with pytest.raises(ValueError):
        opt.state = {"states": []}
    if moptim is not None:
        om = moptim.MultiOptimizer([moptim.Adam(0.1), moptim.SGD(0.5)], [lambda path, g: g.ndim == 1])
        oe = optim.MultiOptimizer([optim.Adam(0.1), optim.SGD(0.5)], [lambda path, g: g.ndim == 1])
        pe, pm = conv(PARAMS, mx), conv(PARAMS, mm)
        for g in GRADS[:2]:
            pe = oe.apply_gradients(conv(g, mx), pe)
            pm = om.apply_gradients(conv(g, mm), pm)
        fm = dict(mlx_tree_flatten(pm))
        for k, v in tree_flatten(pe):
            np.testing.assert_allclose(N(v), N(fm[k]), rtol=1e-5, atol=1e-6, err_msg=k)


def test_bad_arguments():
    with pytest.raises(ValueError):
        optim.SGD(0.1, nesterov=True)
    with pytest.raises(ValueError):
        optim.SGD(0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError):
        optim.RMSprop(0.1, alpha=-1)
    with pytest.raises(ValueError):
        optim.Adagrad(0.1, eps=-1)
    with pytest.raises(ValueError):
        optim.AdaDelta(0.1, rho=-1)
    with pytest.raises(ValueError):
        optim.Adamax(0.1, eps=-1)


def _training_setup(opt_factory):
    mx.random.seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.GELU(), nn.Dropout(0.0), nn.Linear(8, 2))
    return model, opt_factory()


@pytest.mark.parametrize(
    "opt_factory",
    [
        lambda: optim.Adam(1e-2),
        lambda: optim.SGD(optim.cosine_decay(0.1, 10), momentum=0.9),
        lambda: optim.AdamW(1e-2, bias_correction=True),
    ],
)
def test_compiled_training_step_equals_eager(opt_factory):
    x = mx.random.normal((16, 4))
    y = mx.random.normal((16, 2))

    def loss_fn(model, x, y):
        return nn.losses.mse_loss(model(x), y)

    m1, o1 = _training_setup(opt_factory)
    lg1 = nn.value_and_grad(m1, partial(loss_fn, m1))
    eager = []
    for _ in range(4):
        loss, grads = lg1(x, y)
        o1.update(m1, grads)
        mx.eval(m1.parameters(), o1.state)
        eager.append(float(loss))

    m2, o2 = _training_setup(opt_factory)
    lg2 = nn.value_and_grad(m2, partial(loss_fn, m2))
    state = [m2.state, o2.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(x, y):
        loss, grads = lg2(x, y)
        o2.update(m2, grads)
        return loss

    compiled = []
    for _ in range(4):
        compiled.append(float(step(x, y)))
        mx.eval(state)
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)
    for (k, a), (_, b) in zip(tree_flatten(m1.parameters()), tree_flatten(m2.parameters())):
        np.testing.assert_allclose(N(a), N(b), rtol=1e-5, atol=1e-6, err_msg=k)
    assert int(o2.step) == 4
    # later steps reuse the trace
    before = mx._compile_trace_count()
    step(x, y)
    assert mx._compile_trace_count() == before


def test_multi_optimizer_on_a_sequential_model():
    # the filters split the list of layers between the optimizers (MLX 0.32 cannot merge these trees)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    before = {k: N(v) for k, v in tree_flatten(model.parameters())}
    opt = optim.MultiOptimizer([optim.SGD(0.1), optim.SGD(1.0)], [lambda k, g: k.startswith("layers.2")])
    _, grads = nn.value_and_grad(model, lambda x: model(x).sum())(mx.ones((4, 2)))
    opt.update(model, grads)
    g = {k: N(v) for k, v in tree_flatten(grads)}
    for k, v in tree_flatten(model.parameters()):
        lr = 0.1 if k.startswith("layers.2") else 1.0
        np.testing.assert_allclose(N(v), before[k] - lr * g[k], rtol=1e-6, atol=1e-7, err_msg=k)


def test_state_saved_with_core_io(tmp_path):
    if not hasattr(mx, "save_safetensors") or not hasattr(mx, "load"):
        pytest.skip("file io is not in ember.core yet")
    opt = optim.Adam(0.01)
    p = opt.apply_gradients(conv(GRADS[0], mx), conv(PARAMS, mx))
    path = str(tmp_path / "opt.safetensors")
    mx.save_safetensors(path, dict(tree_flatten(opt.state)))
    resumed = optim.Adam(0.01)
    resumed.state = tree_unflatten(list(mx.load(path).items()))
    a = opt.apply_gradients(conv(GRADS[1], mx), p)
    b = resumed.apply_gradients(conv(GRADS[1], mx), p)
    for (k, x), (_, y) in zip(tree_flatten(a), tree_flatten(b)):
        np.testing.assert_array_equal(N(x), N(y), err_msg=k)
