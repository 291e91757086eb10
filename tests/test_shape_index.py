import numpy as np
import pytest

import ember.core as mx


def npa(x):
    return np.array(x)


@pytest.fixture
def x():
    return np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)


def test_reshape_flatten_squeeze(x):
    a = mx.array(x)
    np.testing.assert_array_equal(npa(mx.reshape(a, (4, -1))), x.reshape(4, -1))
    np.testing.assert_array_equal(npa(a.T.reshape(-1)), x.T.reshape(-1))
    np.testing.assert_array_equal(npa(mx.flatten(a, 1, 2)), x.reshape(2, 12))
    np.testing.assert_array_equal(npa(mx.flatten(a, -2)), x.reshape(2, 12))
    e = mx.expand_dims(a, (0, -1))
    assert e.shape == (1, 2, 3, 4, 1)
    assert mx.squeeze(e).shape == (2, 3, 4)
    assert mx.squeeze(e, -1).shape == (1, 2, 3, 4)
    with pytest.raises(ValueError):
        mx.reshape(a, (5, 5))
    with pytest.raises(ValueError):
        mx.squeeze(a, 0)
    assert mx.unflatten(mx.arange(6), 0, (2, 3)).shape == (2, 3)


def test_transpose_moveaxis(x):
    a = mx.array(x)
    np.testing.assert_array_equal(npa(mx.transpose(a, (2, 0, 1))), x.transpose(2, 0, 1))
    np.testing.assert_array_equal(npa(mx.swapaxes(a, 0, -1)), x.swapaxes(0, -1))
    np.testing.assert_array_equal(npa(mx.moveaxis(a, 0, -1)), np.moveaxis(x, 0, -1))
    # ops on transposed views
    np.testing.assert_allclose(npa(mx.exp(mx.transpose(a) / 10)), np.exp(x.T / 10), rtol=1e-6)
    np.testing.assert_array_equal(npa(mx.transpose(a) + mx.transpose(a)), 2 * x.T)


def test_broadcast(x):
    a = mx.array(x[0, 0])
    np.testing.assert_array_equal(npa(mx.broadcast_to(a, (3, 4))), np.broadcast_to(x[0, 0], (3, 4)))
    with pytest.raises(ValueError):
        mx.broadcast_to(mx.ones((3,)), (4,))
    b = mx.broadcast_arrays(mx.ones((3, 1)), mx.ones((1, 5)))
    assert [t.shape for t in b] == [(3, 5), (3, 5)]


def test_concat_stack_split(x):
    a, b = mx.array(x), mx.array(x + 100)
    np.testing.assert_array_equal(npa(mx.concatenate([a, b], axis=1)), np.concatenate([x, x + 100], 1))
    np.testing.assert_array_equal(npa(mx.concatenate([a, b], axis=-1)), np.concatenate([x, x + 100], -1))
    np.testing.assert_array_equal(npa(mx.stack([a, b], axis=1)), np.stack([x, x + 100], 1))
    parts = mx.split(a, 3, axis=1)
    for p, q in zip(parts, np.split(x, 3, axis=1)):
        np.testing.assert_array_equal(npa(p), q)
    parts = mx.split(a, [1, 3], axis=2)
    for p, q in zip(parts, np.split(x, [1, 3], axis=2)):
        np.testing.assert_array_equal(npa(p), q)
    # unsorted, repeated, negative and out-of-range indices slice as numpy does
    for idx in ([3, 1], [3, 1, 4], [2, 2], [-1, 1], [10, 2], [-10, 3]):
        parts = mx.split(a, idx, axis=2)
        ref = np.split(x, idx, axis=2)
        assert len(parts) == len(ref)
        for p, q in zip(parts, ref):
            np.testing.assert_array_equal(npa(p), q)
    with pytest.raises(ValueError):
        mx.concatenate([mx.ones((2, 3)), mx.ones((3, 3))], axis=1)
    # mixed dtypes promote
    assert mx.concatenate([mx.ones(2, mx.int32), mx.ones(2, mx.float32)]).dtype == mx.float32


def test_repeat_tile_pad():
    x = np.arange(6).reshape(2, 3).astype(np.int32)
    a = mx.array(x)
    np.testing.assert_array_equal(npa(mx.repeat(a, 2, axis=1)), np.repeat(x, 2, axis=1))
    np.testing.assert_array_equal(npa(mx.repeat(a, 2)), np.repeat(x, 2))
    np.testing.assert_array_equal(npa(mx.tile(a, (2, 2))), np.tile(x, (2, 2)))
    np.testing.assert_array_equal(npa(mx.pad(a, ((1, 0), (2, 1)))), np.pad(x, ((1, 0), (2, 1))))
    np.testing.assert_array_equal(npa(mx.pad(a, 1, constant_values=7)), np.pad(x, 1, constant_values=7))


@pytest.mark.parametrize(
    "idx",
    [
        1, -1, (0, 2), slice(None, None, -1), (slice(1, None), slice(None, None, 2)),
        (Ellipsis, 1), (None, 0), (0, None, slice(1, 3)), (slice(None), None, 2, slice(None, None, -2)),
        (slice(5, 1, -1),), (slice(-2, None),), (Ellipsis,),
    ],
)
def test_basic_getitem(x, idx):
    np.testing.assert_array_equal(npa(mx.array(x)[idx]), x[idx])


@pytest.mark.parametrize(
    "idx",
    [
        [1, 0], (slice(None), [2, 0, 2]), ([0, 1], [1, 2]), (0, [0, 2], slice(None)),
        (slice(None), [[0, 1], [2, 2]]), ([1, 0], slice(None), [3, 0]), (Ellipsis, [-1, 0]),
        (np.array([1, 1]), 1),
    ],
)
def test_advanced_getitem(x, idx):
    a = mx.array(x)
    conv = tuple(mx.array(i) if isinstance(i, np.ndarray) else i for i in idx) if isinstance(idx, tuple) else idx
    np.testing.assert_array_equal(npa(a[conv]), x[idx])


def test_index_errors(x):
    a = mx.array(x)
    with pytest.raises(IndexError):
        a[2]
    with pytest.raises(ValueError):  # as MLX
        a[0, 0, 0, 0]
    with pytest.raises(IndexError):
        mx.eval(a[mx.array([5])])
    # the process keeps working
    assert a[1, 2, 3].item() == x[1, 2, 3]


def test_setitem():
    x = np.zeros((4, 5), np.float32)
    a = mx.zeros((4, 5))
    for idx, v in [(1, 5.0), ((slice(None), 0), np.arange(4.0)), ((slice(1, 3), slice(None, None, 2)), -1.0),
                   (([0, 3], 4), 9.0), (([1, 2],), np.ones((2, 5)) * 2), ((Ellipsis, -1), 3.0)]:
        x[idx] = v
        a[idx] = mx.array(v) if isinstance(v, np.ndarray) else v
        np.testing.assert_array_equal(npa(a), x)


def test_take_and_take_along_axis(x):
    a = mx.array(x)
    idx = np.array([[0, 2], [1, 1]])
    np.testing.assert_array_equal(npa(mx.take(a, mx.array(idx), axis=1)), np.take(x, idx, axis=1))
    np.testing.assert_array_equal(npa(mx.take(a, mx.array([3, -1]))), np.take(x, [3, -1]))
    ind = np.argsort(x, axis=2)[..., ::-1].copy()
    np.testing.assert_array_equal(npa(mx.take_along_axis(a, mx.array(ind), axis=2)),
                                  np.take_along_axis(x, ind, axis=2))
    out = mx.put_along_axis(a, mx.array(ind[..., :1]), mx.array(-1.0), axis=2)
    ref = x.copy()
    np.put_along_axis(ref, ind[..., :1], -1.0, axis=2)
    np.testing.assert_array_equal(npa(out), ref)


def test_sort_argsort(rng):
    x = rng.standard_normal((5, 7)).astype(np.float32)
    a = mx.array(x)
    for ax in [0, 1, -1]:
        np.testing.assert_array_equal(npa(mx.sort(a, axis=ax)), np.sort(x, axis=ax))
        np.testing.assert_array_equal(npa(mx.argsort(a, axis=ax)), np.argsort(x, axis=ax, kind="stable"))
    np.testing.assert_array_equal(npa(mx.sort(a, axis=None)), np.sort(x, axis=None))


def test_empty_arrays():
    e = mx.zeros((0, 3))
    assert (e + 1).shape == (0, 3)
    assert mx.sum(e, axis=0).tolist() == [0.0, 0.0, 0.0]
    assert mx.concatenate([e, mx.ones((2, 3))]).shape == (2, 3)
    assert e.T.shape == (3, 0)
    assert e[1:].shape == (0, 3)


@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric"])
def test_pad_modes_match_numpy(mode):
    for n in (1, 2, 3, 5):
        for pw in [(0, 0), (1, 0), (2, 3), (5, 7), (0, 11)]:
            x = np.arange(n, dtype=np.float32)
            np.testing.assert_array_equal(npa(mx.pad(mx.array(x), [pw], mode=mode)),
                                          np.pad(x, [pw], mode=mode))
    x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    pw = [(1, 2), (0, 3), (2, 2)]
    np.testing.assert_array_equal(npa(mx.pad(mx.array(x), pw, mode)), np.pad(x, pw, mode=mode))
    # the gradient sums over the positions each input fills
    g = mx.grad(lambda a: mx.sum(mx.pad(a, 2, mode=mode)))(mx.array([1.0, 2.0, 3.0]))
    count = np.zeros(3)
    idx = np.pad(np.arange(3), 2, mode=mode)
    np.add.at(count, idx, 1)
    np.testing.assert_array_equal(npa(g), count)


def test_pad_mode_errors_and_constant():
    a = mx.arange(3)
    with pytest.raises(ValueError, match="pad"):
        mx.pad(a, 1, mode="wrap")
    with pytest.raises(ValueError, match="empty axis"):
        mx.pad(mx.zeros((0, 3)), 1, mode="reflect")
    assert mx.pad(a, 1, "constant", 5).tolist() == [5, 0, 1, 2, 5]
    assert mx.pad(a, 1, mode="edge", constant_values=5).tolist() == [0, 0, 1, 2, 2]


def test_atleast_nd_several_arrays():
    a, b = mx.array(1), mx.ones((2,))
    r = mx.atleast_2d(a, b)
    assert isinstance(r, list) and [x.shape for x in r] == [(1, 1), (1, 2)]
    assert [x.shape for x in mx.atleast_3d(a, b)] == [(1, 1, 1), (1, 2, 1)]
    assert mx.atleast_1d(a).shape == (1,)
    assert mx.atleast_1d() == []


def _basic_indices(rng, shape, count):
    """Random basic indices (ints, slices, None, Ellipsis) valid for `shape`."""
    out = []
    for _ in range(count):
        entries = []
        for n in shape:
            r = rng.integers(6)
            if r == 0:
                entries.append(int(rng.integers(-n, n)))
            elif r == 1:
                entries.append(None)
                entries.append(slice(None))
            else:
                lo, hi = (int(v) for v in rng.integers(-n - 2, n + 3, size=2))
                step = int(rng.choice([-3, -2, -1, 1, 2, 5]))
                entries.append(slice(*rng.choice([[lo, hi, step], [lo, None, step], [None, hi, None]])))
        cut = int(rng.integers(len(entries) + 1))
        entries = entries[:cut]
        if rng.integers(3) == 0:
            entries.insert(int(rng.integers(len(entries) + 1)), Ellipsis)
        out.append(entries[0] if len(entries) == 1 and rng.integers(2) else tuple(entries))
    return out


@pytest.mark.parametrize("layout", ["evaluated", "lazy", "transposed", "sliced"])
def test_basic_getitem_random(layout):
    rng = np.random.default_rng(7)
    base = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    a = mx.array(base)
    if layout == "lazy":
        a, x = a + 0, base
    elif layout == "transposed":
        a, x = mx.transpose(a, (2, 0, 1)), base.transpose(2, 0, 1)
    elif layout == "sliced":
        a, x = a[::-1, 1:, ::2], base[::-1, 1:, ::2]
    else:
        x = base
    if layout != "lazy":
        mx.eval(a)
    for idx in _basic_indices(rng, x.shape, 300):
        got = a[idx]
        want = x[idx]
        assert got.shape == want.shape, idx
        np.testing.assert_array_equal(npa(got), want, err_msg=str(idx))
        # the result works as an operand and as a source of further indexing
        np.testing.assert_array_equal(npa(got * 2 + 1), want * 2 + 1, err_msg=str(idx))
        if want.ndim:
            np.testing.assert_array_equal(npa(got[..., ::-1]), want[..., ::-1], err_msg=str(idx))


def test_basic_getitem_edge_cases():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    a = mx.array(x)
    mx.eval(a)
    for idx in [(), (Ellipsis, None), (None, Ellipsis, None), (slice(None, None, 2**40),),
                (slice(2**40, -(2**40), -1),), (0, slice(4, 0)), (slice(3, 3), 1), -3, (-1, -4)]:
        np.testing.assert_array_equal(npa(a[idx]), x[idx], err_msg=str(idx))
    s = mx.array(np.float32(5))
    mx.eval(s)
    assert s[None].shape == (1,) and s[...].item() == 5.0
    with pytest.raises(ValueError):  # too many indices, as MLX
        s[0]
    with pytest.raises(IndexError):
        a[3]
    with pytest.raises(IndexError):
        a[0, -5]
    with pytest.raises(IndexError):
        a[..., ...]
    with pytest.raises(ValueError):
        a[::0]
    with pytest.raises(ValueError):  # as MLX
        a[1.0]
    with pytest.raises((IndexError, OverflowError, RuntimeError, TypeError)):
        a[2**70]
    # an index of the source's view survives the source
    v = a[1:, ::2]
    del a
    np.testing.assert_array_equal(npa(v), x[1:, ::2])


def test_basic_getitem_under_transforms():
    x = mx.array(np.arange(12, dtype=np.float32).reshape(3, 4))
    c = mx.array(np.arange(4, dtype=np.float32))
    mx.eval(x, c)

    def f(x):
        y = x * x
        mx.eval(y)  # an evaluated array inside grad keeps its graph
        return y[1].sum() + (y[:, 2] * c[1]).sum() + y[None, 0, ::2].sum()

    want = np.zeros((3, 4), np.float32)
    xs = np.arange(12, dtype=np.float32).reshape(3, 4)
    want[1] += 2 * xs[1]
    want[:, 2] += 2 * xs[:, 2] * 1.0
    want[0, ::2] += 2 * xs[0, ::2]
    np.testing.assert_allclose(npa(mx.grad(f)(x)), want)
    np.testing.assert_allclose(npa(mx.vmap(lambda r: r[1:] * c[0:3])(x)), xs[:, 1:] * np.arange(3))
    np.testing.assert_allclose(npa(mx.compile(lambda r: r[0] + c[::-1])(x)), xs[0] + np.arange(4)[::-1])


def test_long_slice_steps():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    for a in (mx.array(x), mx.array(x) + 0):
        for idx in [(slice(None, None, 2**40),), (slice(2**40, -(2**40), -(2**40)), 1),
                    (slice(1, None, 2**33), [0, 2])]:
            np.testing.assert_array_equal(npa(a[idx]), x[idx], err_msg=str(idx))
        b = mx.array(a)
        y = x.copy()
        b[:: 2**40] = 7
        y[:: 2**40] = 7
        np.testing.assert_array_equal(npa(b), y)


def test_iteration_rows():
    x = np.arange(24, dtype=np.float32).reshape(4, 3, 2)
    for a in (mx.array(x), mx.array(x) + 0, mx.transpose(mx.array(x), (1, 0, 2))):
        want = x if a.shape == x.shape else x.transpose(1, 0, 2)
        rows = list(a)
        assert len(rows) == want.shape[0]
        for r, w in zip(rows, want):
            np.testing.assert_array_equal(npa(r), w)
    g = mx.grad(lambda v: sum((r * r).sum() * (i + 1) for i, r in enumerate(v)))(mx.array(x))
    np.testing.assert_allclose(npa(g), 2 * x * np.arange(1, 5, dtype=np.float32)[:, None, None])
