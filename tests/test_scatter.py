"""Scatter family: array.at updates, indexed and masked assignment, advanced indexing,
dynamic slices, and their derivatives, batching and compilation."""

import itertools

import numpy as np
import pytest

import ember.core as mx

AT_OPS = {
    "add": np.add,
    "subtract": np.subtract,
    "multiply": np.multiply,
    "divide": np.divide,
    "maximum": np.maximum,
    "minimum": np.minimum,
}


def np_at(op, x, idx, v):
    y = np.array(x, copy=True)
    AT_OPS[op].at(y, idx, v)
    return y


def to_np_index(idx):
    if isinstance(idx, tuple):
        return tuple(to_np_index(i) for i in idx)
    return np.array(idx) if isinstance(idx, mx.array) else idx


# ---------------------------------------------------------------- array.at


@pytest.mark.parametrize("op", list(AT_OPS))
def test_at_repeated_indices_match_numpy(op):
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 2, (6, 5)).astype(np.float32)
    idx = np.array([0, 3, 0, 5, 3, 0])
    v = rng.uniform(0.5, 2, (6, 5)).astype(np.float32)
    got = getattr(mx.array(x).at[mx.array(idx)], op)(mx.array(v))
    np.testing.assert_allclose(np.array(got), np_at(op, x, idx, v), rtol=1e-5)


@pytest.mark.parametrize(
    "index",
    [
        (mx.array([0, 2, 0]),),
        (slice(None), mx.array([1, 1, 3])),
        (mx.array([[0], [2]]), mx.array([1, 1, 3])),
        (1, mx.array([0, 0, 4])),
        (mx.array([1, 1]), slice(1, 4)),
        (slice(None, None, -2), mx.array([4, 4])),
        (Ellipsis, mx.array([0, 0])),
        (mx.array([-1, 2, -1]), 2),
        (slice(1, None), 3),
        (0,),
    ],
)
@pytest.mark.parametrize("op", ["add", "multiply", "maximum"])
def test_at_index_forms(index, op):
    rng = np.random.default_rng(1)
    x = rng.uniform(1, 2, (4, 5)).astype(np.float32)
    xe = mx.array(x)
    shape = x[to_np_index(index)].shape
    v = rng.uniform(1, 2, shape).astype(np.float32)
    got = getattr(xe.at[index], op)(mx.array(v))
    np.testing.assert_allclose(np.array(got), np_at(op, x, to_np_index(index), v), rtol=1e-5)
    # A scalar value broadcasts to every position.
    got = getattr(xe.at[index], op)(3.0)
    np.testing.assert_allclose(np.array(got), np_at(op, x, to_np_index(index), 3.0), rtol=1e-5)


def test_at_with_none_and_dtypes():
    x = mx.arange(12).reshape(3, 4)
    # Updates take the array's dtype (2.5 becomes 2 for int32).
    assert mx.array_equal(x.at[mx.array([0, 0])].add(2.5), mx.array(np_at("add", np.arange(12).reshape(3, 4), [0, 0], 2)))
    assert x.at[mx.array([0, 0])].add(2.5).dtype == mx.int32
    r = x.at[None, 1].subtract(1)
    assert r.shape == (3, 4) and r.tolist()[1] == [3, 4, 5, 6]
    u8 = mx.array([1, 2, 3], mx.uint8).at[mx.array([0])].subtract(5)
    assert u8.dtype == mx.uint8 and u8.tolist() == [252, 2, 3]
    b = mx.array([True, False]).at[mx.array([1, 1])].add(True)
    assert b.dtype == mx.bool_ and b.tolist() == [True, True]
    h = mx.array([1.0, 2.0], mx.float16).at[mx.array([1, 1])].multiply(3.0)
    assert h.dtype == mx.float16 and h.tolist() == [1.0, 18.0]
    c = mx.array([1 + 2j, 3 + 0j]).at[mx.array([0])].maximum(mx.array([1 + 3j]))
    assert c.tolist() == [1 + 3j, 3 + 0j]
    # Integer division is a product with the reciprocal in the array's dtype.
    assert x.at[mx.array([1])].divide(2).tolist()[1] == [0, 0, 0, 0]
    # Non-contiguous input.
    t = mx.arange(12, dtype=mx.float32).reshape(3, 4).T
    np.testing.assert_array_equal(
        np.array(t.at[mx.array([0, 0, 3])].add(1.0)), np_at("add", np.arange(12, dtype=np.float32).reshape(3, 4).T, [0, 0, 3], 1.0)
    )


def test_at_nan_and_ties_for_max_min():
    x = mx.array([1.0, float("nan")])
    r = x.at[mx.array([0, 1])].maximum(mx.array([float("nan"), 2.0]))
    # An update replaces the current value unless the current one is strictly larger.
    assert np.isnan(r.tolist()[0]) and r.tolist()[1] == 2.0


def test_at_errors():
    x = mx.zeros((3, 4))
    assert isinstance(x.at, mx.ArrayAt)
    assert isinstance(x.at[0], mx.ArrayAt)
    with pytest.raises(ValueError):
        x.at.add(1)
    with pytest.raises(ValueError):
        x.at[1, 2].add(mx.array([1, 2]))
    with pytest.raises(ValueError):
        x.at[mx.array([0.5])].add(1)
    with pytest.raises(IndexError):
        mx.eval(x.at[mx.array([3])].add(1))
    with pytest.raises(IndexError):
        x.at[5].add(1)
    with pytest.raises(ValueError):
        x.at[mx.array([True, False, True])].add(1)
    # The process keeps working.
    assert x.at[mx.array([2])].add(1).sum().item() == 4.0


def test_at_matches_mlx():
    mlx = pytest.importorskip("mlx.core")
    rng = np.random.default_rng(2)
    x = rng.uniform(1, 2, (5, 3, 4)).astype(np.float32)
    idx = rng.integers(-5, 5, (7,))
    v = rng.uniform(1, 2, (7, 3, 4)).astype(np.float32)
    for op in AT_OPS:
        for index in [(idx,), (slice(None), idx[:3] % 3), (idx[:2], slice(None), 1)]:
            shape = x[index].shape
            vv = v.reshape(-1)[: int(np.prod(shape))].reshape(shape)
            ours = getattr(mx.array(x).at[tuple(mx.array(i) if isinstance(i, np.ndarray) else i for i in index)], op)(mx.array(vv))
            ref = getattr(mlx.array(x).at[tuple(mlx.array(i) if isinstance(i, np.ndarray) else i for i in index)], op)(mlx.array(vv))
            np.testing.assert_allclose(np.array(ours), np.array(ref), rtol=1e-5, err_msg=f"{op} {index}")


# ---------------------------------------------------------------- indexing placement


def random_index(rng, shape):
    """A random mix of ints, slices, integer arrays, None and Ellipsis for `shape`."""
    entries = []
    for n in shape:
        kind = rng.integers(0, 4)
        if kind == 0:
            entries.append(int(rng.integers(-n, n)))
        elif kind == 1:
            a, b = sorted(rng.integers(-n, n + 1, 2).tolist())
            step = int(rng.choice([1, 2, -1]))
            entries.append(slice(a, b, step) if step > 0 else slice(b, a, step))
        elif kind == 2:
            entries.append(rng.integers(-n, n, size=tuple(rng.integers(1, 3, rng.integers(1, 3)))))
        else:
            entries.append(slice(None))
    if rng.random() < 0.3:
        entries.insert(int(rng.integers(0, len(entries) + 1)), None)
    if rng.random() < 0.3:
        k = int(rng.integers(0, len(entries) + 1))
        entries = entries[:k] + [Ellipsis] + [e for e in entries[k + 1:]]
    return tuple(entries)


def test_getitem_and_setitem_placement_random():
    rng = np.random.default_rng(3)
    shape = (3, 4, 5, 2)
    x = rng.standard_normal(shape).astype(np.float32)
    checked = 0
    while checked < 120:
        index = random_index(rng, shape)
        try:
            ref = x[index]
        except IndexError:  # incompatible broadcast of random index arrays
            continue
        eidx = tuple(mx.array(i) if isinstance(i, np.ndarray) else i for i in index)
        got = mx.array(x)[eidx]
        assert got.shape == ref.shape, index
        np.testing.assert_array_equal(np.array(got), ref, err_msg=str(index))
        # Assignment of distinct values, where numpy's result is unambiguous.
        v = rng.standard_normal(ref.shape).astype(np.float32)
        y = x.copy()
        y[index] = v
        ye = mx.array(x)
        ye[eidx] = mx.array(v)
        flat_positions = np.arange(x.size).reshape(shape)[index]
        if len(np.unique(flat_positions)) == flat_positions.size:
            np.testing.assert_array_equal(np.array(ye), y, err_msg=str(index))
        # at.add accumulates on repeats exactly like np.add.at.
        np.testing.assert_allclose(np.array(mx.array(x).at[eidx].add(mx.array(v))), np_at("add", x, index, v), rtol=1e-5, atol=1e-6)
        checked += 1


def test_setitem_mixed_partial_slices():
    x = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    y = x.copy()
    y[1:, np.array([0, 2]), ::2] = -1
    ye = mx.array(x)
    ye[1:, mx.array([0, 2]), ::2] = -1
    np.testing.assert_array_equal(np.array(ye), y)
    y = x.copy()
    y[np.array([2, 0]), 1:3, np.array([4, 1])] = np.array([[7, 8], [9, 10]]).T
    ye = mx.array(x)
    ye[mx.array([2, 0]), 1:3, mx.array([4, 1])] = mx.array(np.array([[7, 8], [9, 10]], np.float32).T)
    np.testing.assert_array_equal(np.array(ye), y)
    # Leading size-1 dims of the value are dropped.
    ye = mx.array(x)
    ye[0, mx.array([1])] = mx.ones((1, 1, 1, 5))
    assert np.array(ye)[0, 1].tolist() == [1.0] * 5


def test_getitem_matches_mlx():
    mlx = pytest.importorskip("mlx.core")
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    for index in [
        (np.array([0, 1]), slice(None), np.array([1, 2])),
        (slice(None), np.array([[0], [1]]), 1),
        (0, slice(None), np.array([1, 2])),
        (None, np.array([0, 1]), None, slice(None), np.array([0, 1])),
    ]:
        ours = mx.array(x)[tuple(mx.array(i) if isinstance(i, np.ndarray) else i for i in index)]
        ref = mlx.array(x)[tuple(mlx.array(i) if isinstance(i, np.ndarray) else i for i in index)]
        np.testing.assert_array_equal(np.array(ours), np.array(ref))


# ---------------------------------------------------------------- boolean masks


def test_mask_read_raises_value_error():
    x = mx.arange(6).reshape(2, 3)
    for m in (mx.array([True, False]), np.array([True, False]), x > 2):
        with pytest.raises(ValueError):
            x[m]
    assert x[1].tolist() == [3, 4, 5]


def test_masked_assignment_broadcast_and_rows():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    ye = mx.array(x)
    ye[ye > 5] = 0
    y = x.copy()
    y[y > 5] = 0
    np.testing.assert_array_equal(np.array(ye), y)
    # Rows of the value go to the selected positions in order (numpy's rule when sizes match).
    m = np.array([True, False, True])
    ye = mx.array(x)
    ye[mx.array(m)] = mx.array([[1.0, 2, 3, 4], [5, 6, 7, 8]])
    y = x.copy()
    y[m] = np.array([[1.0, 2, 3, 4], [5, 6, 7, 8]])
    np.testing.assert_array_equal(np.array(ye), y)
    # A full mask with a 1-D value consumes it in row-major order.
    ye = mx.array(x)
    ye[ye > 5] = mx.arange(6, dtype=mx.float32) * 10
    y = x.copy()
    y[y > 5] = np.arange(6) * 10
    np.testing.assert_array_equal(np.array(ye), y)
    # A block value broadcast into every selected row; list and numpy masks.
    for mask in ([True, False, True], np.array([True, False, True])):
        ye = mx.array(x)
        ye[mask] = mx.array([9.0, 8, 7, 6])
        y = x.copy()
        y[np.array(mask)] = np.array([9.0, 8, 7, 6])
        np.testing.assert_array_equal(np.array(ye), y)
    # Integer arrays keep their dtype.
    yi = mx.array([1, 2, 3])
    yi[mx.array([True, False, True])] = 2.7
    assert yi.dtype == mx.int32 and yi.tolist() == [2, 2, 2]


def test_masked_assignment_matches_mlx():
    mlx = pytest.importorskip("mlx.core")
    rng = np.random.default_rng(4)
    for shape, mshape, vshape in [
        ((3, 4), (3,), (3, 4)),
        ((3, 4), (3,), (2, 1)),
        ((3, 4), (3, 4), (12,)),
        ((2, 3, 4), (2, 3), (6, 1)),
        ((2, 3, 4), (2,), (3, 1)),
        ((2, 3, 4), (2,), (2, 3, 4)),
    ]:
        x = rng.standard_normal(shape).astype(np.float32)
        m = rng.random(mshape) < 0.5
        v = rng.standard_normal(vshape).astype(np.float32)
        ours = mx.array(x)
        ours[mx.array(m)] = mx.array(v)
        ref = mlx.array(x)
        ref[mlx.array(m)] = mlx.array(v)
        np.testing.assert_array_equal(np.array(ours), np.array(ref), err_msg=str((shape, mshape, vshape)))


def test_masked_assignment_errors():
    x = mx.zeros((3, 4))
    with pytest.raises(ValueError):
        x[mx.array([True, False, True, False])] = 1.0  # not a leading-axes mask
    with pytest.raises(ValueError):
        x[mx.array([True, False, True])] = mx.ones((2, 2, 4))  # too many dims
    y = mx.zeros((3, 4))
    y[mx.array([True, False, True])] = mx.ones((1, 4))  # one row for two positions
    with pytest.raises((IndexError, RuntimeError)):
        mx.eval(y)
    assert x.sum().item() == 0.0


def test_masked_assignment_grad():
    def f(x, v):
        y = x * 1
        y[mx.stop_gradient(x) > 0] = v
        return (y * mx.array([1.0, 10.0, 100.0])).sum()

    gx, gv = mx.grad(f, argnums=(0, 1))(mx.array([1.0, -1.0, 2.0]), mx.array([5.0, 6.0, 7.0]))
    assert gx.tolist() == [0.0, 10.0, 0.0]
    assert gv.tolist() == [1.0, 100.0, 0.0]


# ---------------------------------------------------------------- dynamic slices


def test_dynamic_slice_and_update():
    x = mx.arange(20).reshape(4, 5)
    xn = np.arange(20).reshape(4, 5)
    assert mx.slice(x, mx.array([1, 2]), (0, 1), (2, 2)).tolist() == xn[1:3, 2:4].tolist()
    assert mx.slice(x, mx.array(1), (1,), (4, 2)).tolist() == xn[:, 1:3].tolist()
    assert mx.slice(x, mx.array([1]), (-1,), (4, 2)).tolist() == xn[:, 1:3].tolist()
    # Negative starts count from the end; blocks running past the end are moved inside.
    assert mx.slice(x, mx.array([-2]), (0,), (2, 5)).tolist() == xn[2:4].tolist()
    assert mx.slice(x, mx.array([3, 4]), (0, 1), (2, 2)).tolist() == xn[2:4, 3:5].tolist()
    r = mx.slice_update(x, mx.zeros((2, 2), mx.int32), mx.array([1, 2]), (0, 1))
    y = xn.copy()
    y[1:3, 2:4] = 0
    assert r.tolist() == y.tolist()
    r = mx.slice_update(x, mx.zeros((2,), mx.float32), mx.array([1]), (1,))
    y = xn.copy()
    y[:, 1:3] = 0
    assert r.dtype == mx.int32 and r.tolist() == y.tolist()
    with pytest.raises(ValueError):
        mx.slice(x, mx.array([1.0]), (1,), (4, 2))
    with pytest.raises(ValueError):
        mx.slice(x, mx.array([1, 1]), (1,), (4, 2))
    with pytest.raises(ValueError):
        mx.slice(x, mx.array([1]), (1,), (4, 7))
    with pytest.raises(ValueError):
        mx.slice_update(x, mx.zeros((1, 4, 2)), mx.array([1]), (1,))


def test_dynamic_slice_transforms():
    a = mx.array([1.0, 2.0, 3.0, 4.0])
    w = mx.array([1.0, 10.0])
    g = mx.grad(lambda a: (mx.slice(a, mx.array([1]), (0,), (2,)) * w).sum())(a)
    assert g.tolist() == [0.0, 1.0, 10.0, 0.0]
    ga, gu = mx.grad(lambda a, u: (mx.slice_update(a, u, mx.array([1]), (0,)) * mx.arange(4)).sum(), argnums=(0, 1))(a, w)
    assert ga.tolist() == [0.0, 0.0, 0.0, 3.0] and gu.tolist() == [1.0, 2.0]
    # vmap over the start positions (one block per batch entry).
    xs = mx.stack([a, a + 10])
    starts = mx.array([[0], [2]])
    r = mx.vmap(lambda x, s: mx.slice(x, s, (0,), (2,)))(xs, starts)
    assert r.tolist() == [[1.0, 2.0], [13.0, 14.0]]
    r = mx.vmap(lambda x, u, s: mx.slice_update(x, u, s, (0,)))(xs, mx.zeros((2, 2)), starts)
    assert r.tolist() == [[0.0, 0.0, 3.0, 4.0], [11.0, 12.0, 0.0, 0.0]]
    # Compiled: the start is an input, so new positions reuse the trace.
    f = mx.compile(lambda x, s: mx.slice(x, s, (0,), (2,)))
    for s in range(3):
        assert f(a, mx.array([s])).tolist() == a.tolist()[s:s + 2]


# ---------------------------------------------------------------- derivatives


def loss_at(op, x, u, idx):
    return (getattr(x.at[idx], op)(u) * mx.arange(1, x.size + 1).reshape(x.shape).astype(x.dtype)).sum()


def finite_diff(f, x, eps=1e-6):
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x).reshape(-1)
        e[i] = eps
        e = e.reshape(x.shape)
        g.reshape(-1)[i] = (f(mx.array(x + e, mx.float64)).item() - f(mx.array(x - e, mx.float64)).item()) / (2 * eps)
    return g


@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "maximum", "minimum"])
def test_at_grads_finite_differences(op):
    rng = np.random.default_rng(5)
    idx = mx.array([0, 2, 0, 0, 3])
    x = rng.uniform(1, 2, (4, 2))
    u = rng.uniform(1, 2, (5, 2))
    if op == "multiply":  # zeros among the factors
        x[1, 0] = 0.0
        u[2, 1] = 0.0
        x[0, 1] = 0.0
    xe, ue = mx.array(x, mx.float64), mx.array(u, mx.float64)
    gx, gu = mx.grad(lambda a, b: loss_at(op, a, b, idx), argnums=(0, 1))(xe, ue)
    np.testing.assert_allclose(np.array(gx), finite_diff(lambda a: loss_at(op, a, ue, idx), x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(gu), finite_diff(lambda b: loss_at(op, xe, b, idx), u), rtol=1e-5, atol=1e-6)
    # jvp agrees with the vjp (the same linear map).
    tx, tu = rng.standard_normal(x.shape), rng.standard_normal(u.shape)
    _, (jv,) = mx.jvp(lambda a, b: loss_at(op, a, b, idx), (xe, ue), (mx.array(tx, mx.float64), mx.array(tu, mx.float64)))
    np.testing.assert_allclose(jv.item(), (np.array(gx) * tx).sum() + (np.array(gu) * tu).sum(), rtol=1e-6)


def test_at_grads_match_mlx_ties():
    mlx = pytest.importorskip("mlx.core")
    idx = [0, 2, 0, 0]
    w = [1.0, 10.0, 100.0, 1000.0]
    for op, a, u in [
        ("maximum", [5.0, 2.0, 3.0, 4.0], [5.0, 3.0, 1.0, 5.0]),
        ("minimum", [1.0, 3.0, 1.0, 1.0], [1.0, 3.0, 1.0, 0.5]),
        ("add", [1.0, 2.0, 3.0, 4.0], [5.0, 3.0, 1.0, 5.0]),
    ]:
        def f(m):
            return lambda a, u: (getattr(a.at[m.array(idx)], op)(u) * m.array(w)).sum()

        ours = mx.grad(f(mx), argnums=(0, 1))(mx.array(a), mx.array(u))
        ref = mlx.grad(f(mlx), argnums=(0, 1))(mlx.array(a), mlx.array(u))
        for o, r in zip(ours, ref):
            np.testing.assert_array_equal(np.array(o), np.array(r))


def test_setitem_grads():
    idx = mx.array([0, 2, 0])

    def f(a, u):
        b = a * 1
        b[idx] = u
        return (b * mx.array([1.0, 10.0, 100.0, 1000.0])).sum()

    ga, gu = mx.grad(f, argnums=(0, 1))(mx.array([1.0, 2.0, 3.0, 4.0]), mx.array([5.0, 3.0, 1.0]))
    assert ga.tolist() == [0.0, 10.0, 0.0, 1000.0]
    assert gu.tolist() == [1.0, 100.0, 1.0]


@pytest.mark.parametrize("op", ["add", "multiply", "maximum"])
def test_at_vmap_and_compile(op):
    rng = np.random.default_rng(6)
    xs = mx.array(rng.uniform(1, 2, (3, 4, 2)).astype(np.float32))
    us = mx.array(rng.uniform(1, 2, (3, 5, 2)).astype(np.float32))
    idx = mx.array([[0, 1, 0, 3, 0], [2, 2, 2, 1, 0], [3, 3, 0, 0, 1]])

    def f(x, u, i):
        return getattr(x.at[i], op)(u)

    loop = mx.stack([f(xs[b], us[b], idx[b]) for b in range(3)])
    np.testing.assert_allclose(np.array(mx.vmap(f)(xs, us, idx)), np.array(loop), rtol=1e-6)
    # Unbatched index, batched along another axis, nested.
    r = mx.vmap(f, in_axes=(1, 1, None), out_axes=1)(mx.swapaxes(xs, 0, 1), mx.swapaxes(us, 0, 1), idx[0])
    loop = mx.stack([f(xs[b], us[b], idx[0]) for b in range(3)], axis=1)
    np.testing.assert_allclose(np.array(r), np.array(mx.swapaxes(loop, 0, 1)).swapaxes(0, 1), rtol=1e-6)
    nested = mx.vmap(mx.vmap(lambda x, u: f(x, u, idx[0][:2])))(xs[None], us[None, :, :2])
    loop = mx.stack([f(xs[b], us[b, :2], idx[0][:2]) for b in range(3)])[None]
    np.testing.assert_allclose(np.array(nested), np.array(loop), rtol=1e-6)
    # grad under vmap against the loop.
    g = mx.vmap(mx.grad(lambda x, u: f(x, u, idx[0]).sum()))(xs, us)
    loop = mx.stack([mx.grad(lambda x: f(x, us[b], idx[0]).sum())(xs[b]) for b in range(3)])
    np.testing.assert_allclose(np.array(g), np.array(loop), rtol=1e-6)
    cf = mx.compile(f)
    np.testing.assert_allclose(np.array(cf(xs[0], us[0], idx[0])), np.array(f(xs[0], us[0], idx[0])), rtol=1e-6)
    sf = mx.compile(f, shapeless=True)
    for n in (4, 6):
        x = mx.array(rng.uniform(1, 2, (n, 2)).astype(np.float32))
        np.testing.assert_allclose(np.array(sf(x, us[0], idx[0])), np.array(f(x, us[0], idx[0])), rtol=1e-6)


def test_large_scatter_threads_match_sequential():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4096, 32)).astype(np.float32)
    idx = rng.integers(0, 4096, 50000)
    u = rng.standard_normal((50000, 32)).astype(np.float32)
    got = mx.array(x).at[mx.array(idx)].add(mx.array(u))
    np.testing.assert_allclose(np.array(got), np_at("add", x, idx, u), rtol=1e-4, atol=1e-4)
    got = mx.array(x).at[mx.array(idx)].maximum(mx.array(u))
    np.testing.assert_array_equal(np.array(got), np_at("maximum", x, idx, u))
    # Overwrite: the last update at a repeated position wins.
    y = mx.array(x)
    y[mx.array(idx)] = mx.array(u)
    ref = x.copy()
    ref[idx] = u
    np.testing.assert_array_equal(np.array(y), ref)


def test_large_scatter_two_index_arrays():
    # Threads split by the longer indexed axis; the result equals numpy's sequential one.
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 20000)).astype(np.float32)
    i0, i1 = rng.integers(-3, 3, 100000), rng.integers(0, 20000, 100000)
    u = rng.standard_normal(100000).astype(np.float32)
    for op in ("add", "minimum"):
        got = getattr(mx.array(x).at[mx.array(i0), mx.array(i1)], op)(mx.array(u))
        np.testing.assert_allclose(np.array(got), np_at(op, x, (i0, i1), u), rtol=1e-5, atol=1e-5)


def test_at_nan_basic_and_array_indices_match_mlx():
    mlx = pytest.importorskip("mlx.core")
    x = [float("nan"), 1.0, 3.0]
    # Basic indices combine elementwise (NaN propagates); index arrays scatter (the update
    # wins unless the current value is larger), as MLX does.
    for op in ("maximum", "minimum"):
        for index in (slice(0, 2), [0, 1]):
            ours = getattr(mx.array(x).at[mx.array(index) if isinstance(index, list) else index], op)(2.0)
            ref = getattr(mlx.array(x).at[mlx.array(index) if isinstance(index, list) else index], op)(2.0)
            np.testing.assert_array_equal(np.array(ours), np.array(ref))


def test_numpy_integer_scalars_as_indices():
    x = mx.arange(12).reshape(3, 4)
    xn = np.arange(12).reshape(3, 4)
    for index in (np.int64(1), (np.int32(2), slice(1, 3)), (slice(None), np.uint8(3)), np.array(1)):
        assert x[index].tolist() == xn[index].tolist()
        np.testing.assert_array_equal(np.array(x.at[index].add(1)), np_at("add", xn, index, 1))
        y = mx.array(x)
        y[index] = -1
        z = xn.copy()
        z[index] = -1
        assert y.tolist() == z.tolist()


def test_broadcast_and_strided_inputs():
    b = mx.broadcast_to(mx.array([1.0, 2, 3]), (4, 3))
    ref = np.broadcast_to(np.array([1.0, 2, 3]), (4, 3)).copy()
    np.add.at(ref, ([0, 0, 3], [1, 1, 2]), 10.0)
    np.testing.assert_array_equal(np.array(b.at[mx.array([0, 0, 3]), mx.array([1, 1, 2])].add(10.0)), ref)
    tn = np.arange(20).reshape(4, 5).T
    t = mx.arange(20).reshape(4, 5).T
    assert mx.slice(t, mx.array([1, 2]), (0, 1), (3, 2)).tolist() == tn[1:4, 2:4].tolist()
    ref = tn.copy()
    ref[1:4, 2:4] = 0
    assert mx.slice_update(t, mx.zeros((3, 2), mx.int32), mx.array([1, 2]), (0, 1)).tolist() == ref.tolist()
    sn = np.arange(40).reshape(5, 8)[::2, 1::3]
    s = mx.arange(40).reshape(5, 8)[::2, 1::3]
    np.testing.assert_array_equal(np.array(s.at[mx.array([2, 2])].multiply(3)), np_at("multiply", sn, [2, 2], 3))
    assert s[mx.array([2, 0]), 1:].tolist() == sn[[2, 0], 1:].tolist()
