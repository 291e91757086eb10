"""The Python face of the transformations: what a transformed function does to the
containers it is given, garbage collection of transformed functions, tree types
(NamedTuples), function attributes, the custom_function rule conventions, errors for bad
arguments, and the graph tools (export_to_dot, mx.metal, mx.cuda).

Where MLX is installed the same code runs on it side by side and the behaviours are
compared.
"""
import functools
import gc
import inspect
import io
import re
import warnings
import weakref
from collections import namedtuple

import numpy as np
import pytest

import ember.core as mx
from ember.utils import tree_map, tree_map_with_path, tree_merge

try:
    import mlx.core as mlx
except ImportError:  # the comparisons are skipped, the checks against numpy still run
    mlx = None

with_mlx = pytest.mark.skipif(mlx is None, reason="MLX is not installed")

P = namedtuple("P", ["a", "b"])


class Pair(tuple):
    """A tuple subclass that is not a NamedTuple."""


def N(x):
    return np.array(x)


# ====================================================================== item 6: mutation


def _mutating_loss(lib):
    def loss(model):
        model[1] = lib.array([2.0, 2.0])
        return (model[0] * model[0]).sum()

    return loss


def _transforms(lib):
    """(name, transform, sees caller's containers) for each transform, MLX's behaviour."""
    return [
        ("grad", lambda f: lib.grad(f), True),
        ("value_and_grad", lambda f: lib.value_and_grad(f), True),
        ("custom_function", lambda f: lib.custom_function(f), True),
        ("compile", lambda f: lib.compile(f), False),
        ("vmap", lambda f: lib.vmap(f), False),
        ("checkpoint", lambda f: lib.checkpoint(f), False),
    ]


def _run_mutation(lib, transform):
    a0, a1, a2 = lib.array([1.0, 3.0]), lib.array([1.0, 1.0]), lib.array([5.0, 5.0])
    model = [a0, a1, a2]
    transform(_mutating_loss(lib))(model)
    return model, (a0, a1, a2)


@pytest.mark.parametrize("name,transform,visible", _transforms(mx), ids=[t[0] for t in _transforms(mx)])
def test_argument_mutation_matches_mlx(name, transform, visible):
    model, (a0, a1, a2) = _run_mutation(mx, transform)
    # arrays that were not replaced are the caller's own objects again
    assert model[0] is a0 and model[2] is a2
    if visible:
        np.testing.assert_array_equal(N(model[1]), [2.0, 2.0])
        assert model[1] is not a1
    else:
        assert model[1] is a1
    if mlx is not None:
        ref = {t[0]: t[1] for t in _transforms(mlx)}[name]
        mmodel, (m0, m1, m2) = _run_mutation(mlx, ref)
        assert (mmodel[1] is not m1) == (model[1] is not a1)
        assert (mmodel[0] is m0) and (mmodel[2] is m2)
        np.testing.assert_array_equal(N(model[1]), np.array(mmodel[1]))


def test_grad_mutation_gradients_and_values():
    a0, a1 = mx.array([1.0, 3.0]), mx.array([1.0, 1.0])
    model = [a0, a1]
    value, g = mx.value_and_grad(_mutating_loss(mx))(model)
    assert float(value.item()) == 10.0
    # the gradients keep the structure the arguments had when they were passed
    assert isinstance(g, list) and len(g) == 2
    np.testing.assert_allclose(N(g[0]), [2.0, 6.0])
    np.testing.assert_allclose(N(g[1]), [0.0, 0.0])
    assert model[0] is a0 and N(model[1]).tolist() == [2.0, 2.0]


def test_grad_mutation_in_nested_containers_and_keywords():
    a, b, c = mx.array(1.5), mx.array(0.0), mx.array(4.0)
    model = {"l": [a, b], "t": ([c],)}

    def loss(x, model):
        model["l"][1] = model["l"][0] * 2  # an array computed from a tracer
        model["new"] = mx.array(7.0)
        return x * model["l"][0] * model["t"][0][0]

    g = mx.grad(loss, argnums=1)(mx.array(2.0), model)
    assert model["l"][0] is a and model["t"][0][0] is c
    assert float(model["l"][1].item()) == 3.0
    assert float(model["new"].item()) == 7.0
    assert float(g["l"][0].item()) == 8.0 and float(g["t"][0][0].item()) == 3.0
    assert float(g["l"][1].item()) == 0.0 and "new" not in g

    # the same through a keyword argument (argnames)
    m2 = [a, b]

    def loss_kw(x, model=None):
        model[1] = mx.array(9.0)
        return x * model[0]

    (_, gk) = mx.grad(loss_kw, argnames="model")(mx.array(2.0), model=m2)
    assert m2[0] is a and float(m2[1].item()) == 9.0
    assert float(gk["model"][0].item()) == 2.0
    if mlx is not None:
        ma = mlx.array(1.5)
        mm = [ma, mlx.array(0.0)]

        def mloss_kw(x, model=None):
            model[1] = mlx.array(9.0)
            return x * model[0]

        mlx.grad(mloss_kw, argnames="model")(mlx.array(2.0), model=mm)
        assert mm[0] is ma and float(mm[1].item()) == float(m2[1].item())


def test_grad_restores_caller_arrays_when_function_raises_or_moves_them():
    a0, a1 = mx.array(1.0), mx.array(2.0)
    model = [a0, a1]

    def bad(model):
        model.append(model[0])
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        mx.grad(bad)(model)
    assert model[0] is a0 and model[1] is a1 and model[2] is a0

    def swap(model):
        model[0], model[1] = model[1], model[0]
        return model[0] * 3.0

    model = [a0, a1]
    g = mx.grad(swap)(model)
    assert model[0] is a1 and model[1] is a0
    assert float(g[0].item()) == 0.0 and float(g[1].item()) == 3.0


def test_nested_grad_mutation_restores_each_level():
    a0 = mx.array(1.5)
    model = [a0, mx.array(0.0)]

    def inner(model):
        model[1] = mx.array(5.0)
        return model[0] ** 3

    def outer(model):
        return mx.grad(inner)(model)[0]

    g2 = mx.grad(outer)(model)
    assert model[0] is a0 and float(model[1].item()) == 5.0
    np.testing.assert_allclose(float(g2[0].item()), 6 * 1.5)


def test_custom_function_receives_the_callers_arguments():
    a0 = mx.array([1.0])
    seen = []

    @mx.custom_function
    def f(m):
        seen.append(m[0] is a0)
        return m[0] * 2

    model = [a0]
    np.testing.assert_array_equal(N(f(model)), [2.0])
    assert seen == [True]
    # under grad the function sees tracers, and the caller keeps its arrays
    g = mx.grad(lambda m: f(m).sum())(model)
    assert seen[-1] is False and model[0] is a0
    np.testing.assert_array_equal(N(g[0]), [2.0])


# ====================================================================== item 7: garbage collection


def _cycle(make, vectorised=False):
    """A closure holding its own transformed version and the array it reads."""
    d = {}

    def f(x):
        y = x * mx.sum(d["x"])
        return y if vectorised else mx.sum(y)

    d["x"] = mx.array([0.0] * 1000)
    d["f"] = make(f)
    out = d["f"](mx.array([1.0, 2.0]))
    mx.eval(out)
    return weakref.ref(f)


LEAK_CASES = [
    ("grad", lambda f: mx.grad(f), False),
    ("value_and_grad", lambda f: mx.value_and_grad(f), False),
    ("custom_function", lambda f: mx.custom_function(f), False),
    ("checkpoint", lambda f: mx.checkpoint(f), False),
    ("compile", lambda f: mx.compile(f), False),
    ("vmap", lambda f: mx.vmap(f), True),
    ("custom_function_with_rules",
     lambda f: mx.custom_function(f, fun_vjp=lambda p, c, o: c, fun_jvp=lambda p, t: t), False),
    ("vjp_function", lambda f: mx.vjp(f, [mx.array([1.0, 2.0])])[1], True),
]


@pytest.mark.parametrize("name,make,vectorised", LEAK_CASES, ids=[c[0] for c in LEAK_CASES])
def test_transformed_function_cycles_are_collected(name, make, vectorised):
    gc.collect()
    start = mx.get_active_memory()
    refs = [_cycle(make, vectorised) for _ in range(100)]
    gc.collect()
    assert all(r() is None for r in refs)
    assert mx.get_active_memory() == start


def _cycle_inside_compile(inner):
    """A compiled closure whose trace calls a custom function or a checkpoint of a closure
    that reads the same dictionary: the traced graph holds the inner closure from C++."""
    d = {}

    def g(x):
        return x * mx.sum(d["x"])

    h = inner(g)
    d["x"] = mx.array([0.0] * 1000)
    d["f"] = mx.compile(lambda x: mx.sum(h(x)))
    mx.eval(d["f"](mx.array([1.0, 2.0])), mx.grad(d["f"])(mx.array([1.0, 2.0])))
    return weakref.ref(g)


INNER_CASES = [
    ("checkpoint", mx.checkpoint),
    ("custom_function", mx.custom_function),
    ("custom_function_with_rules", lambda g: mx.custom_function(g, fun_vjp=lambda p, c, o: c)),
]


@pytest.mark.parametrize("name,inner", INNER_CASES, ids=[c[0] for c in INNER_CASES])
def test_rules_held_by_compiled_graphs_are_collected(name, inner):
    gc.collect()
    start = mx.get_active_memory()
    refs = [_cycle_inside_compile(inner) for _ in range(50)]
    gc.collect()
    assert all(r() is None for r in refs)
    assert mx.get_active_memory() == start


def test_compiled_graphs_keep_rules_of_live_functions():
    calls = []

    def make():
        @mx.custom_function
        def f(x):
            return mx.sin(x)

        @f.vjp
        def f_vjp(x, ct, out):
            calls.append(1)
            return ct * mx.cos(x)

        return mx.compile(mx.grad(lambda x: f(x).sum()))

    c = make()
    for n in [2, 3, 2, 4]:
        gc.collect()
        x = mx.arange(n, dtype=mx.float32) / 4
        np.testing.assert_allclose(np.array(c(x)), np.cos(np.arange(n) / 4), rtol=1e-6)
    assert len(calls) == 3  # one trace per shape


def test_transformed_functions_are_tracked_by_the_collector():
    f = lambda x: x
    for t in [mx.grad(f), mx.value_and_grad(f), mx.vmap(f), mx.compile(f), mx.checkpoint(f),
              mx.custom_function(f)]:
        assert gc.is_tracked(t)
        assert any(r is f for r in gc.get_referents(t))


def test_compiled_function_still_works_after_collections():
    calls = []

    def f(x):
        calls.append(1)
        return x * 2

    cf = mx.compile(f)
    np.testing.assert_array_equal(N(cf(mx.array([1.0]))), [2.0])
    gc.collect()
    np.testing.assert_array_equal(N(cf(mx.array([3.0]))), [6.0])
    assert len(calls) == 1  # the cached trace survives a collection


# ====================================================================== item 8: tree types


def test_named_tuples_through_grad_and_value_and_grad():
    p = P(mx.array(2.0), mx.array(3.0))
    g = mx.grad(lambda p: p.a * p.b)(p)
    assert type(g) is P and float(g.a.item()) == 3.0 and float(g.b.item()) == 2.0
    (v, aux), g = mx.value_and_grad(lambda p: (p.a * p.b, P(p.a, p.b)))(p)
    assert type(g) is P and type(aux) is P and float(v.item()) == 6.0
    t = Pair((mx.array(2.0), mx.array(5.0)))
    g = mx.grad(lambda t: t[0] * t[1])(t)
    assert type(g) is Pair and [float(x.item()) for x in g] == [5.0, 2.0]
    if mlx is not None:
        mp = P(mlx.array(2.0), mlx.array(3.0))
        assert type(mlx.grad(lambda p: p.a * p.b)(mp)) is type(mx.grad(lambda p: p.a * p.b)(p))


def test_named_tuples_through_vmap_with_prefix_axes():
    xa = np.arange(6.0).reshape(2, 3)
    xb = np.array([10.0, 20.0, 30.0])
    p = P(mx.array(xa), mx.array(xb))
    out = mx.vmap(lambda p: P(p.a * p.b, p.b), in_axes=(P(0, None),), out_axes=P(0, None))(p)
    assert type(out) is P
    np.testing.assert_allclose(N(out.a), xa * xb)
    np.testing.assert_allclose(N(out.b), xb)
    xc = np.arange(6.0).reshape(3, 2) * 7
    out = mx.vmap(lambda p: p.a + p.b, in_axes=(P(1, 0),))(P(p.a, mx.array(xc)))
    np.testing.assert_allclose(N(out), xa.T + xc)
    if mlx is not None:
        mout = mlx.vmap(lambda p: P(p.a * p.b, p.b))(P(mlx.array(xa), mlx.array(np.ones((2, 3)))))
        assert type(mout) is type(mx.vmap(lambda p: P(p.a * p.b, p.b))(P(p.a, mx.ones((2, 3)))))


def test_named_tuples_through_compile():
    calls = []

    def f(t):
        calls.append(type(t))
        scale = 2.0 if isinstance(t, P) else 3.0
        return P(t[0] * scale, t[1])

    cf = mx.compile(f)
    p = P(mx.array([1.0]), mx.array([4.0]))
    out = cf(p)
    assert type(out) is P and N(out.a).tolist() == [2.0] and N(out.b).tolist() == [4.0]
    # a plain tuple with the same arrays is another signature, not the P trace
    out = cf((mx.array([1.0]), mx.array([4.0])))
    assert N(out[0]).tolist() == [3.0]
    out = cf(p)
    assert N(out.a).tolist() == [2.0]
    assert calls == [P, tuple]


def test_named_tuples_through_jvp_and_vjp():
    x = mx.array(3.0)
    outs, tans = mx.jvp(lambda x: P(x * x, x * 2.0), [x], [mx.array(1.0)])
    assert type(outs) is P and type(tans) is P
    assert float(tans.a.item()) == 6.0 and float(tans.b.item()) == 2.0
    outs, vjps = mx.vjp(lambda a, b: P(a * b, a), P(mx.array(2.0), mx.array(5.0)),
                        [mx.array(1.0), mx.array(1.0)])
    assert type(outs) is P and type(vjps) is P
    assert float(vjps.a.item()) == 6.0 and float(vjps.b.item()) == 2.0
    # plain lists stay lists, as in MLX
    outs, vjps = mx.vjp(lambda a: (a, a * 2), [x], [mx.array(1.0), mx.array(1.0)])
    assert isinstance(outs, list) and isinstance(vjps, list) and float(vjps[0].item()) == 3.0
    out, vjp_fn = mx.vjp(lambda a, b: a * b, P(mx.array(2.0), mx.array(5.0)))
    g = vjp_fn(mx.array(1.0))
    assert type(g) is P and float(g.a.item()) == 5.0


def test_tree_utils_keep_tuple_subclasses():
    p = P(1, [2, Pair((3, 4))])
    out = tree_map(lambda x: x * 10, p)
    assert type(out) is P and type(out.b[1]) is Pair and out == P(10, [20, Pair((30, 40))])
    out = tree_map_with_path(lambda path, x: path, p)
    assert type(out) is P and out.b[1] == Pair(("1.1.0", "1.1.1"))
    merged = tree_merge(P(1, None), P(None, 2))
    assert type(merged) is P and merged == P(1, 2)
    if mlx is not None:
        from mlx.utils import tree_map as mlx_tree_map
        assert type(mlx_tree_map(lambda x: x, p)) is type(out)


# ====================================================================== item 10: attributes


def _documented(x, y=1.0):
    """Multiply x by y."""
    return x * y


TRANSFORMS = [
    ("grad", mx.grad), ("value_and_grad", mx.value_and_grad), ("vmap", mx.vmap),
    ("compile", mx.compile), ("checkpoint", mx.checkpoint), ("custom_function", mx.custom_function),
]


@pytest.mark.parametrize("name,transform", TRANSFORMS, ids=[t[0] for t in TRANSFORMS])
def test_transformed_functions_describe_the_wrapped_function(name, transform):
    t = transform(_documented)
    assert t.__name__ == "_documented"
    assert t.__qualname__ == "_documented"
    assert t.__doc__ == "Multiply x by y."
    assert t.__module__ == __name__
    assert t.__wrapped__ is _documented
    assert t.__defaults__ == (1.0,)
    assert str(inspect.signature(t)) == "(x, y=1.0)"
    if mlx is not None and name != "custom_function":  # MLX's custom_function has none of these
        m = getattr(mlx, name)(_documented)
        for attr in ["__name__", "__qualname__", "__doc__", "__module__", "__defaults__"]:
            assert getattr(t, attr) == getattr(m, attr), attr


def test_decorators_stack_on_compiled_functions():
    def log_calls(fn):
        @functools.wraps(fn)
        def wrapper(*args):
            wrapper.calls += 1
            return fn(*args)

        wrapper.calls = 0
        return wrapper

    @log_calls
    @mx.compile
    def step(x):
        """One step."""
        return x + 1

    assert step.__name__ == "step" and step.__doc__ == "One step."
    assert inspect.unwrap(step) is step.__wrapped__.__wrapped__
    np.testing.assert_array_equal(N(step(mx.array([1.0]))), [2.0])
    assert step.calls == 1
    # transforms of transforms keep the name of the innermost function
    assert mx.grad(mx.compile(mx.vmap(_documented))).__name__ == "_documented"


# ====================================================================== item 12: custom_function forms


def test_custom_function_functional_form_passes_lists():
    seen = {}

    def my_fun(x):
        return x * 2

    def my_vjp(primals, cotangents, outputs):
        seen["vjp"] = (type(primals), type(cotangents), type(outputs), len(primals), len(cotangents))
        return [c * 2 for c in cotangents]

    def my_jvp(primals, tangents):
        seen["jvp"] = (type(primals), type(tangents))
        return [t * 5 for t in tangents]

    def my_vmap(inputs, axes):
        seen["vmap"] = (type(inputs), type(axes), list(axes))
        return [inputs[0] * 7], [axes[0]]

    f = mx.custom_function(my_fun, fun_vjp=my_vjp, fun_jvp=my_jvp, fun_vmap=my_vmap)
    x = mx.array([3.0, 4.0])
    np.testing.assert_array_equal(N(f(x)), [6.0, 8.0])
    np.testing.assert_array_equal(N(mx.grad(lambda x: mx.sum(f(x)))(x)), [2.0, 2.0])
    _, t = mx.jvp(f, [x], [mx.array([1.0, 2.0])])
    np.testing.assert_array_equal(N(t[0]), [5.0, 10.0])
    v = mx.vmap(f)(mx.array([[1.0], [2.0]]))
    np.testing.assert_array_equal(N(v), [[7.0], [14.0]])
    assert seen["vjp"] == (list, list, list, 1, 1)
    assert seen["jvp"] == (list, list)
    assert seen["vmap"] == (list, list, [0])


def test_custom_function_functional_form_several_inputs_and_outputs():
    def fun(x, y):
        return x * y, x + y

    def vjp(primals, cotangents, outputs):
        x, y = primals
        c1, c2 = cotangents
        o1, o2 = outputs
        assert isinstance(outputs, list) and np.allclose(N(o1), N(x) * N(y))
        return [c1 * y + c2, c1 * x + c2]

    f = mx.custom_function(fun, fun_vjp=vjp)
    x, y = mx.array([1.0, 2.0]), mx.array([3.0, 5.0])
    def loss(x, y):
        o1, o2 = f(x, y)
        return mx.sum(o1) + 2 * mx.sum(o2)

    gx, gy = mx.grad(loss, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(N(gx), N(y) + 2)
    np.testing.assert_allclose(N(gy), N(x) + 2)


def test_custom_function_decorator_form_keeps_mlx_convention():
    seen = []

    @mx.custom_function
    def f(x):
        return mx.sin(x)

    rule_owner = f.vjp(lambda primals, cotangent, output: seen.append(
        (type(primals), type(cotangent), type(output))) or cotangent * mx.cos(primals))
    # as in MLX, the decorator returns the custom function, rule included
    assert rule_owner is f
    x = mx.array([0.5, 1.0])
    np.testing.assert_allclose(N(mx.grad(lambda x: mx.sum(f(x)))(x)), np.cos([0.5, 1.0]), rtol=1e-6)
    assert seen == [(mx.array, mx.array, mx.array)]
    if mlx is not None:
        mseen = []

        @mlx.custom_function
        def g(x):
            return mlx.sin(x)

        g2 = g.vjp(lambda p, c, o: mseen.append((type(p), type(c), type(o))) or c * 3)
        mlx.grad(lambda x: mlx.sum(g(x)))(mlx.array([0.5, 1.0]))
        # the object the decorator returns is the same custom function, with the rule
        assert np.array(mlx.grad(g2)(mlx.array(0.5))).item() == 3.0
        assert [tuple(t.__name__ for t in s) for s in mseen[:1]] == [tuple(t.__name__ for t in s) for s in seen]


# ====================================================================== item 13: errors


CREATION_ERRORS = [
    ("grad", lambda lib: lib.grad(3)),
    ("value_and_grad", lambda lib: lib.value_and_grad(3)),
    ("vmap", lambda lib: lib.vmap("x")),
    ("compile", lambda lib: lib.compile(None)),
    ("checkpoint", lambda lib: lib.checkpoint(3)),
    ("custom_function", lambda lib: lib.custom_function(3)),
    ("custom_function.vjp", lambda lib: lib.custom_function(lambda x: x).vjp(3)),
    ("custom_function.jvp", lambda lib: lib.custom_function(lambda x: x).jvp("f")),
    ("custom_function.vmap", lambda lib: lib.custom_function(lambda x: x).vmap(None)),
    ("jvp", lambda lib: lib.jvp(3, [lib.array(1.0)], [lib.array(1.0)])),
    ("vjp", lambda lib: lib.vjp(3, [lib.array(1.0)], [lib.array(1.0)])),
    ("grad argnums", lambda lib: lib.grad(lambda x: x, argnums="a")),
    ("grad argnames", lambda lib: lib.grad(lambda x: x, argnames=3)),
    ("jvp primals", lambda lib: lib.jvp(lambda x: x, [1.0], [lib.array(1.0)])),
]


@pytest.mark.parametrize("name,make", CREATION_ERRORS, ids=[c[0] for c in CREATION_ERRORS])
def test_bad_transform_arguments_raise_type_error(name, make):
    with pytest.raises(TypeError, match=re.escape(name.split()[0].split(".")[0])):
        make(mx)
    if mlx is not None:
        with pytest.raises(TypeError):
            make(mlx)


def test_custom_function_rejects_non_callable_rules():
    with pytest.raises(TypeError, match="fun_vjp"):
        mx.custom_function(lambda x: x, fun_vjp=3)
    with pytest.raises(TypeError, match="fun_vmap"):
        mx.custom_function(lambda x: x, fun_vmap="no")


def test_vmap_bad_axes_raise_value_error_at_call():
    f = mx.vmap(lambda x: x, in_axes="a")
    with pytest.raises(ValueError, match=r"\[vmap\].*str"):
        f(mx.array([1.0]))
    if mlx is not None:
        with pytest.raises(ValueError):
            mlx.vmap(lambda x: x, in_axes="a")(mlx.array([1.0]))
    with pytest.raises(TypeError, match="Keyword"):
        mx.vmap(lambda x, y=None: x)(mx.array([1.0]), y=mx.array([1.0]))


def test_eval_rejects_objects_and_names_them():
    class Thing:
        pass

    with pytest.raises(TypeError, match=r"\[eval\].*object"):
        mx.eval(object())
    with pytest.raises(TypeError, match=r"\[eval\].*Thing.*\['b'\]\[1\]"):
        mx.eval({"a": mx.array(1.0), "b": [mx.array(2.0), Thing()]})
    with pytest.raises(TypeError, match=r"\[async_eval\].*Thing"):
        mx.async_eval(Thing())
    # what MLX scripts pass along with arrays stays accepted
    x = mx.array([1.0]) + 1
    mx.eval(x, None, 3, 2.5, "tag", {"step": 1, "x": [x]})
    assert N(x).tolist() == [2.0]


# ====================================================================== item 14: graph tools


def _dot_graph(text):
    nodes = dict(re.findall(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"', text, re.M))
    edges = re.findall(r"^\s*(\w+) -> (\w+)", text, re.M)
    return nodes, edges


def test_export_to_dot_writes_the_unevaluated_graph(tmp_path):
    x = mx.array([1.0, 2.0])
    y = mx.array([3.0, 4.0])
    z = mx.exp(x * y) + x
    path = tmp_path / "graph.dot"
    mx.export_to_dot(str(path), z, x=x, y=y)
    text = path.read_text()
    assert text.startswith("digraph")
    nodes, edges = _dot_graph(text)
    by_label = {label.split("\\n")[0]: n for n, label in nodes.items()}
    assert set(by_label) == {"x: (2,) float32", "y: (2,) float32", "Multiply", "Exp", "Add"}
    for prim in ["Multiply", "Exp", "Add"]:
        assert "(2,) float32" in nodes[by_label[prim]]
    name = lambda n: nodes[n].split("\\n")[0].split(":")[0]
    assert sorted((name(a), name(b)) for a, b in edges) == sorted(
        [("x", "Multiply"), ("y", "Multiply"), ("Multiply", "Exp"), ("Exp", "Add"), ("x", "Add")])
    # exporting does not evaluate: the same graph is still there to compute
    np.testing.assert_allclose(N(z), np.exp([3.0, 8.0]) + [1.0, 2.0], rtol=1e-6)


def test_export_to_dot_file_objects_trees_and_several_outputs():
    a = mx.array(np.ones((2, 3), np.float32))
    m = a * 2
    parts = [m, mx.sum(m)]
    s = io.StringIO()
    mx.export_to_dot(s, {"p": parts, "q": (a,)})
    nodes, edges = _dot_graph(s.getvalue())
    labels = [l.split("\\n")[0] for l in nodes.values()]
    assert labels.count("Multiply") == 1 and "Sum" in " ".join(labels)
    b = io.BytesIO()
    mx.export_to_dot(b, a * 2)
    assert b.getvalue().startswith(b"digraph")
    # an evaluated array is a single leaf
    c = a * 2
    mx.eval(c)
    s = io.StringIO()
    mx.export_to_dot(s, c)
    nodes, edges = _dot_graph(s.getvalue())
    assert len(nodes) == 1 and not edges and "(2, 3) float32" in list(nodes.values())[0]


def test_export_to_dot_errors():
    with pytest.raises(ValueError, match="export_to_dot"):
        mx.export_to_dot(io.StringIO(), 3)
    with pytest.raises(TypeError, match="export_to_dot"):
        mx.export_to_dot(io.StringIO(), mx.array(1.0), x=3)
    with pytest.raises(TypeError, match="export_to_dot"):
        mx.export_to_dot(42, mx.array(1.0))
    if mlx is not None:
        with pytest.raises(ValueError):
            mlx.export_to_dot(io.StringIO(), 3)


def test_metal_and_cuda_modules():
    assert mx.metal.is_available() is False
    assert mx.cuda.is_available() is mx.is_available(mx.gpu)
    assert mx.cuda.is_available() is False  # this build runs on the CPU only
    if mlx is not None:
        public = lambda mod: {n for n in dir(mod) if not n.startswith("_")}
        assert public(mlx.metal) <= public(mx.metal)
        assert public(mlx.cuda) <= public(mx.cuda)
    assert mx.metal.device_info() == {}
    mx.metal.start_capture("trace.gputrace")
    mx.metal.stop_capture()


def test_metal_memory_functions_forward_to_the_generic_ones():
    keep = mx.array(np.ones(1000, np.float32))
    mx.eval(keep)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert mx.metal.get_active_memory() == mx.get_active_memory()
        assert mx.metal.get_peak_memory() == mx.get_peak_memory()
        assert mx.metal.get_cache_memory() == mx.get_cache_memory()
        old = mx.get_memory_limit()
        assert mx.metal.set_memory_limit(old // 2) == old
        assert mx.get_memory_limit() == old // 2
        mx.set_memory_limit(old)
        prev = mx.metal.set_cache_limit(1 << 20)
        assert mx.set_cache_limit(prev) == 1 << 20
        mx.metal.reset_peak_memory()
        mx.metal.clear_cache()
        assert mx.get_cache_memory() == 0
    assert caught and all(issubclass(w.category, DeprecationWarning) for w in caught)
    assert "mx.get_active_memory" in str(caught[0].message)
