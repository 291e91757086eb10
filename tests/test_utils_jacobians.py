import numpy as np
import pytest

import ember.core as mx
from ember.utils import tree_flatten, tree_map, tree_map_with_path, tree_merge, tree_reduce, tree_unflatten


def test_tree_map_and_paths():
    tree = {"a": [1, 2], "b": {"c": 3}, "d": (4,)}
    assert tree_map(lambda x: x * 10, tree) == {"a": [10, 20], "b": {"c": 30}, "d": (40,)}
    assert tree_map(lambda x, y: x + y, [1, {"k": 2}], [10, {"k": 20}]) == [11, {"k": 22}]
    paths = tree_map_with_path(lambda p, x: p, tree)
    assert paths == {"a": ["a.0", "a.1"], "b": {"c": "b.c"}, "d": ("d.0",)}
    assert tree_map(lambda x: 0, [[1], 2], is_leaf=lambda x: isinstance(x, list) and len(x) == 1) == [0, 0]


def test_tree_flatten_unflatten_roundtrip():
    tree = {"layers": [{"w": 1, "b": 2}, {"w": 3, "b": 4}], "out": 5}
    flat = tree_flatten(tree)
    assert flat == [("layers.0.w", 1), ("layers.0.b", 2), ("layers.1.w", 3), ("layers.1.b", 4), ("out", 5)]
    assert tree_unflatten(flat) == tree
    assert tree_unflatten(dict(flat)) == tree
    assert tree_flatten([[1, 2], {"a": 3}]) == [("0.0", 1), ("0.1", 2), ("1.a", 3)]
    assert tree_flatten(7) == [("", 7)]
    # As documented for MLX, the prefix's first character is dropped.
    assert tree_flatten([1], prefix=".p") == [("p.0", 1)]
    assert tree_flatten([[[0]]], prefix=".hello") == [("hello.0.0.0", 0)]
    assert tree_flatten(7, prefix=".x") == [("x", 7)]


def test_tree_reduce_and_merge():
    assert tree_reduce(lambda acc, x: acc + x, {"a": [1, 2], "b": 3}, 0) == 6
    assert tree_reduce(max, [3, [9, 1]]) == 9
    merged = tree_merge({"a": 1, "b": None}, {"b": 2, "c": 3})
    assert merged == {"a": 1, "b": 2, "c": 3}
    assert tree_merge([1, None], [None, 2]) == [1, 2]
    with pytest.raises(ValueError):
        tree_merge({"a": 1}, {"a": 2})
    assert tree_merge({"a": 1}, {"a": 2}, merge_fn=lambda x, y: x + y) == {"a": 3}


def test_tree_utils_with_arrays_and_grads():
    params = {"w": mx.array([1.0, 2.0]), "b": [mx.array(0.5)]}
    grads = mx.grad(lambda p: mx.sum(p["w"] ** 2) + p["b"][0] * 3)(params)
    new = tree_map(lambda p, g: p - 0.1 * g, params, grads)
    np.testing.assert_allclose(np.array(new["w"]), [0.8, 1.6], rtol=1e-6)
    np.testing.assert_allclose(np.array(new["b"][0]), 0.2, rtol=1e-6)


def f_vec(x):
    return mx.stack([mx.sum(x**2), mx.sin(x[0]) * x[1], mx.exp(x[2])])


def numeric_jacobian(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    cols = []
    for i in range(x.size):
        d = np.zeros_like(x)
        d.flat[i] = eps
        cols.append((np.array(f(mx.array(x + d, dtype=mx.float64))) - np.array(f(mx.array(x - d, dtype=mx.float64)))) / (2 * eps))
    return np.stack(cols, axis=-1)


def test_jacrev_jacfwd_match_finite_differences():
    x = mx.array([0.3, -1.2, 0.7], dtype=mx.float64)
    ref = numeric_jacobian(f_vec, x)
    np.testing.assert_allclose(np.array(mx.jacrev(f_vec)(x)), ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.array(mx.jacfwd(f_vec)(x)), ref, rtol=1e-6, atol=1e-8)
    assert mx.jacrev(f_vec)(x).shape == (3, 3)


def test_jacobian_shapes_and_argnums():
    A = mx.array(np.arange(6.0).reshape(2, 3))
    f = lambda a, v: a @ v
    v = mx.array([1.0, 2.0, 3.0])
    J = mx.jacrev(f, argnums=1)(A, v)
    np.testing.assert_allclose(np.array(J), np.array(A))
    Ja, Jv = mx.jacfwd(f, argnums=(0, 1))(A, v)
    assert Ja.shape == (2, 2, 3) and Jv.shape == (2, 3)
    np.testing.assert_allclose(np.array(Jv), np.array(A))


def test_hessian():
    x = mx.array([0.5, -0.3], dtype=mx.float64)
    f = lambda x: mx.sum(x**3) + x[0] * x[1]
    H = np.array(mx.hessian(f)(x))
    xv = np.array(x)
    np.testing.assert_allclose(H, [[6 * xv[0], 1.0], [1.0, 6 * xv[1]]], rtol=1e-10)
