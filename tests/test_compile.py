import os
import subprocess
import sys

import numpy as np
import pytest

import ember.core as mx


def test_cache_hits_and_retrace():
    calls = []

    def f(x, y):
        calls.append(1)
        return mx.exp(-x) * mx.sin(x) + y * y

    cf = mx.compile(f)
    x, y = mx.array([0.5, 1.0]), mx.array(2.0)
    ref = np.exp(-np.array([0.5, 1.0])) * np.sin([0.5, 1.0]) + 4
    for _ in range(3):
        np.testing.assert_allclose(np.array(cf(x, y)), ref, rtol=1e-6)
    assert len(calls) == 1  # traced once, replayed twice
    cf(x + 1, y)
    assert len(calls) == 1  # same signature, new values
    cf(mx.ones(3), y)
    assert len(calls) == 2  # new shape traces again
    cf(mx.ones(3, dtype=mx.float16), y)
    assert len(calls) == 3  # new dtype traces again
    cf(mx.ones(3), y)
    assert len(calls) == 3


def test_constants_and_structure_are_part_of_the_signature():
    calls = []

    def f(x, scale, opts):
        calls.append(1)
        return x * scale + (1 if opts["shift"] else 0)

    cf = mx.compile(f)
    x = mx.array([1.0, 2.0])
    assert cf(x, 2.0, {"shift": True}).tolist() == [3.0, 5.0]
    assert cf(x, 2.0, {"shift": True}).tolist() == [3.0, 5.0]
    assert len(calls) == 1
    assert cf(x, 3.0, {"shift": False}).tolist() == [3.0, 6.0]
    assert len(calls) == 2


def test_shapeless():
    calls = []

    def f(x):
        calls.append(1)
        return mx.exp(x) * 2 + 1

    cf = mx.compile(f, shapeless=True)
    for shape in [(2,), (5,), (3, 4)]:
        x = mx.ones(shape)
        np.testing.assert_allclose(np.array(cf(x)), np.full(shape, 2 * np.e + 1), rtol=1e-6)
    assert len(calls) == 2  # a change of rank traces again, a change of size does not
    # Broadcasting operands follow their new shapes; incompatible ones raise a clear error.
    add = mx.compile(lambda a, b: a + b, shapeless=True)
    assert add(mx.ones((2, 3)), mx.ones((3,))).shape == (2, 3)
    np.testing.assert_allclose(np.array(add(mx.ones((4, 5)), mx.arange(5.0))), np.ones((4, 5)) + np.arange(5.0))
    with pytest.raises(ValueError, match="shapeless"):
        add(mx.ones((4, 3)), mx.ones((5,)))


def test_state_capture_training_step():
    state = {"w": mx.array([1.0, -2.0]), "step": mx.array(0)}
    x = mx.array([[1.0, 2.0], [3.0, 4.0]])
    y = mx.array([1.0, 0.0])

    def loss(w):
        return mx.mean((x @ w - y) ** 2)

    def step():
        l, g = mx.value_and_grad(loss)(state["w"])
        state["w"] = state["w"] - 0.01 * g
        state["step"] = state["step"] + 1
        return l

    cstep = mx.compile(step, inputs=state, outputs=state)
    w = np.array([1.0, -2.0])
    X, Y = np.array(x), np.array(y)
    for i in range(5):
        l = cstep()
        ref_l = np.mean((X @ w - Y) ** 2)
        w = w - 0.01 * (2 * X.T @ (X @ w - Y) / 2)
        np.testing.assert_allclose(l.item(), ref_l, rtol=1e-5)
        np.testing.assert_allclose(np.array(state["w"]), w, rtol=1e-5)
    assert state["step"].item() == 5


def test_composition_with_transforms():
    f = lambda x: mx.sum(mx.sin(x) * x)
    x = mx.array([0.1, 0.7, -1.3])
    ref = np.cos(np.array(x)) * np.array(x) + np.sin(np.array(x))
    np.testing.assert_allclose(np.array(mx.compile(mx.grad(f))(x)), ref, rtol=1e-5)
    np.testing.assert_allclose(np.array(mx.grad(mx.compile(f))(x)), ref, rtol=1e-5)
    v = mx.vmap(mx.compile(lambda a: a * 2 + 1))(mx.ones((3, 2)))
    assert v.tolist() == [[3.0, 3.0]] * 3
    cvg = mx.compile(mx.vmap(mx.grad(lambda w, x: mx.sum(mx.tanh(x * w))), in_axes=(None, 0)))
    out = cvg(mx.array([0.5, 0.2]), mx.ones((4, 2)))
    assert out.shape == (4, 2)
    inner = mx.compile(lambda a: a * 3)
    outer = mx.compile(lambda a: inner(a) + 1)
    assert outer(mx.array([1.0])).tolist() == [4.0]


def test_cse_gives_same_results():
    def f(x):
        a = mx.exp(x) + mx.exp(x)
        b = mx.sin(x) * 2.0 + mx.sin(x) * 2.0
        return a + b

    x = mx.array([0.1, 0.2])
    np.testing.assert_allclose(np.array(mx.compile(f)(x)), np.array(f(x)), rtol=1e-6)


def test_disable_enable_compile():
    calls = []

    def f(x):
        calls.append(1)
        return x + 1

    cf = mx.compile(f)
    cf(mx.array(1.0))
    cf(mx.array(1.0))
    assert len(calls) == 1
    with mx.disable_compile():
        cf(mx.array(1.0))
        cf(mx.array(1.0))
    assert len(calls) == 3
    mx.disable_compile()
    cf(mx.array(1.0))
    assert len(calls) == 4
    mx.enable_compile()
    cf(mx.array(1.0))
    assert len(calls) == 4


def test_environment_variable_disables_compile():
    code = (
        "import ember.core as mx\n"
        "calls = []\n"
        "def f(x):\n    calls.append(1)\n    return x * 2\n"
        "cf = mx.compile(f)\n"
        "cf(mx.array(1.0)); cf(mx.array(1.0))\n"
        "print(len(calls))\n"
    )
    env = dict(os.environ, EMBER_DISABLE_COMPILE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "2", out.stderr


def test_compile_errors():
    with pytest.raises(ValueError, match="placeholder|evaluate"):
        mx.compile(lambda a: a.item())(mx.array([1.0]))
    with pytest.raises(ValueError, match="placeholder|evaluate"):
        mx.compile(lambda a: mx.eval(a * 2) or a)(mx.array([1.0]))
    with pytest.raises(ValueError, match="arrays"):
        mx.compile(lambda a: "not an array")(mx.array([1.0]))
    state = {"a": mx.array(1.0)}

    def grow(x):
        state["b"] = x
        return x

    # As in MLX, the function may add entries to its captured state (an optimizer creating its
    # state on the first step): they come back as outputs, and the next call traces again.
    grown = mx.compile(grow, inputs=state, outputs=state)
    assert grown(mx.array(2.0)).item() == 2.0
    assert sorted(state) == ["a", "b"] and state["a"].item() == 1.0 and state["b"].item() == 2.0
    assert grown(mx.array(3.0)).item() == 3.0
    assert state["a"].item() == 1.0 and state["b"].item() == 3.0
    with pytest.raises(TypeError):
        mx.compile(3)
    # still usable afterwards
    assert mx.compile(lambda a: a + 1)(mx.array(1.0)).item() == 2.0


def test_compile_captured_state_may_lose_or_nest_entries():
    state = {"a": mx.array(1.0), "b": mx.array(5.0)}

    def shrink(x):
        del state["b"]
        return x + state["a"]

    assert mx.compile(shrink, inputs=state, outputs=state)(mx.array(2.0)).item() == 3.0
    assert list(state) == ["a"] and state["a"].item() == 1.0

    nested = {"a": mx.array(1.0), "m": mx.array(2.0)}

    def nest(x):
        nested["m"] = {"x": nested["m"] * 2}
        return x

    mx.compile(nest, inputs=nested, outputs=nested)(mx.array(1.0))
    assert nested["a"].item() == 1.0 and nested["m"]["x"].item() == 4.0
