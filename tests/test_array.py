import pickle

import numpy as np
import pytest

import ember.core as mx


def test_construction_dtypes():
    assert mx.array(1).dtype == mx.int32
    assert mx.array(2**40).dtype == mx.int64
    assert mx.array(1.5).dtype == mx.float32
    assert mx.array(True).dtype == mx.bool_
    assert mx.array(1 + 2j).dtype == mx.complex64
    assert mx.array([1, 2.0]).dtype == mx.float32
    assert mx.array([True, False]).dtype == mx.bool_
    assert mx.array([[1, 2], [3, 4]]).shape == (2, 2)
    assert mx.array([]).shape == (0,)
    assert mx.array(np.zeros((2, 3), np.float64)).dtype == mx.float32
    assert mx.array(np.zeros((2, 3), np.int16)).dtype == mx.int16
    assert mx.array([1, 2], dtype=mx.float16).dtype == mx.float16
    a = mx.array([1, 2, 3])
    assert mx.array(a) is not None and mx.array(a).tolist() == [1, 2, 3]


def test_list_of_arrays():
    x = mx.array([mx.array([1, 2]), mx.array([3, 4])])
    assert x.shape == (2, 2) and x.tolist() == [[1, 2], [3, 4]]


def test_ragged_list_raises():
    with pytest.raises(ValueError):
        mx.array([[1, 2], [3]])
    # as MLX: unsupported objects are a ValueError, None given as the array a TypeError
    with pytest.raises(ValueError):
        mx.array([1, "a"])
    with pytest.raises(ValueError):
        mx.array("abc")
    with pytest.raises(ValueError):
        mx.array([None])
    with pytest.raises(TypeError):
        mx.array(None)
    with pytest.raises(ValueError):
        mx.add(mx.ones(2), "s")
    with pytest.raises(TypeError):
        mx.multiply(mx.ones(2), None)


def test_properties():
    a = mx.zeros((2, 3, 4), dtype=mx.float16)
    assert a.shape == (2, 3, 4)
    assert a.ndim == 3 and a.size == 24 and a.itemsize == 2 and a.nbytes == 48
    assert a.T.shape == (4, 3, 2)
    assert len(a) == 2
    assert mx.float32.size == 4


def test_repr_matches_mlx_format():
    assert repr(mx.array([5, 7, 9])) == "array([5, 7, 9], dtype=int32)"
    assert repr(mx.array([1.0, 2.5])) == "array([1, 2.5], dtype=float32)"
    assert repr(mx.array(3)) == "array(3, dtype=int32)"
    assert repr(mx.array([True, False])) == "array([True, False], dtype=bool)"
    assert repr(mx.array([[1, 2], [3, 4]])) == "array([[1, 2],\n       [3, 4]], dtype=int32)"
    assert repr(mx.arange(2000.0)) == "array([0, 1, 2, ..., 1997, 1998, 1999], dtype=float32)"
    assert repr(mx.array(float("nan"))) == "array(nan, dtype=float32)"
    assert repr(mx.array([1 + 2j])) == "array([1+2j], dtype=complex64)"


def test_item_tolist():
    assert mx.array(3).item() == 3
    assert isinstance(mx.array(3.5).item(), float)
    assert mx.array(True).item() is True
    assert mx.array([[1, 2]], dtype=mx.uint8).tolist() == [[1, 2]]
    assert mx.arange(6).reshape(2, 3).T.tolist() == [[0, 3], [1, 4], [2, 5]]
    with pytest.raises(ValueError):
        mx.array([1, 2]).item()


def test_numpy_roundtrip_zero_copy():
    a = mx.arange(12.0).reshape(3, 4)
    n = np.asarray(a)
    assert n.dtype == np.float32 and n.shape == (3, 4)
    np.testing.assert_array_equal(n, np.arange(12.0).reshape(3, 4))
    # views: transposed and strided
    np.testing.assert_array_equal(np.asarray(a.T), np.arange(12.0).reshape(3, 4).T)
    np.testing.assert_array_equal(np.asarray(a[:, ::2]), np.arange(12.0).reshape(3, 4)[:, ::2])
    for dt in [np.bool_, np.uint8, np.int8, np.int16, np.uint32, np.int64, np.float16, np.float32, np.complex64]:
        x = (np.arange(6) % 3).astype(dt)
        np.testing.assert_array_equal(np.array(mx.array(x)), x)


def test_operators_and_reflected():
    a = mx.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(np.array(1 + a), [2, 3, 5])
    np.testing.assert_allclose(np.array(1 - a), [0, -1, -3])
    np.testing.assert_allclose(np.array(2 / a), [2, 1, 0.5])
    np.testing.assert_allclose(np.array(2**a), [2, 4, 16])
    np.testing.assert_allclose(np.array(a**2), [1, 4, 16])
    np.testing.assert_allclose(np.array(-a), [-1, -2, -4])
    np.testing.assert_allclose(np.array(abs(-a)), [1, 2, 4])
    np.testing.assert_allclose(np.array(7 % a), [0, 1, 3])
    np.testing.assert_allclose(np.array(7 // a), [7, 3, 1])
    assert (a == 2.0).tolist() == [False, True, False]
    assert (a < 2).tolist() == [True, False, False]
    assert (~mx.array([True, False])).tolist() == [False, True]
    assert (~mx.array([1], dtype=mx.uint8)).tolist() == [254]
    m = mx.ones((2, 3)) @ mx.ones((3, 4))
    assert m.shape == (2, 4) and m.tolist()[0][0] == 3.0


def test_weak_scalar_typing():
    i = mx.array([1, 2], dtype=mx.int32)
    assert (i + 1.5).dtype == mx.float32
    assert (i + 1).dtype == mx.int32
    h = mx.array([1, 2], dtype=mx.float16)
    assert (h * 2.0).dtype == mx.float16
    assert (mx.array([1], dtype=mx.uint8) + 1).dtype == mx.uint8
    assert (mx.array([True]) + 1).dtype == mx.int32
    assert (mx.array([1], dtype=mx.int16) * 2.5).dtype == mx.float32


def test_bool_len_iter():
    assert bool(mx.array(1))
    assert not bool(mx.array(0.0))
    with pytest.raises(ValueError):
        bool(mx.array([1, 2]))
    rows = [r.tolist() for r in mx.arange(6).reshape(3, 2)]
    assert rows == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(TypeError):
        len(mx.array(1))


def test_methods():
    a = mx.arange(6.0).reshape(2, 3)
    assert a.sum(axis=1).tolist() == [3.0, 12.0]
    assert a.reshape(3, 2).shape == (3, 2)
    assert a.reshape((6,)).shape == (6,)
    assert a.transpose(1, 0).shape == (3, 2)
    assert a.transpose().shape == (3, 2)
    assert a.astype(mx.int32).dtype == mx.int32
    assert a.max().item() == 5.0
    assert a.argmax(axis=1).tolist() == [2, 2]
    assert a.flatten().shape == (6,)
    assert a.swapaxes(0, 1).shape == (3, 2)
    np.testing.assert_allclose(np.array(a.exp()), np.exp(np.arange(6.0).reshape(2, 3)), rtol=1e-6)


def test_pickle_and_copy():
    import copy

    a = mx.array([[1.5, 2.5]])
    b = pickle.loads(pickle.dumps(a))
    assert b.tolist() == a.tolist() and b.dtype == a.dtype
    assert copy.deepcopy(a).tolist() == a.tolist()


def test_bfloat16_roundtrip():
    a = mx.array([1.0, 2.5, -3.0], dtype=mx.bfloat16)
    assert a.dtype == mx.bfloat16
    assert a.astype(mx.float32).tolist() == [1.0, 2.5, -3.0]
    assert a.tolist() == [1.0, 2.5, -3.0]


def test_bfloat16_to_numpy_refused():
    # numpy has no bfloat16: the buffer says so (numpy raises ValueError) and __array__ refuses,
    # instead of handing out the raw bits as uint16.
    a = mx.array([1.0, 2.5], dtype=mx.bfloat16)
    assert memoryview(a).format == "bfloat16"
    with pytest.raises(ValueError):
        np.array(a)
    with pytest.raises(TypeError):
        a.__array__()
    np.testing.assert_array_equal(np.array(a.astype(mx.float32)), [1.0, 2.5])
    np.testing.assert_array_equal(mx.array([1, 2]).__array__(np.float32), np.array([1.0, 2.0]))


def test_full_checks_integer_overflow():
    with pytest.raises(ValueError, match="overflow"):
        mx.full((2, 3), 300, mx.uint8)
    with pytest.raises(ValueError, match="overflow"):
        mx.full((2,), -1, mx.uint32)
    with pytest.raises(ValueError, match="overflow"):
        mx.full((2,), 2**40, mx.int32)
    assert mx.full((2,), 255, mx.uint8).tolist() == [255, 255]
    assert mx.full((2,), -128, mx.int8).tolist() == [-128, -128]
    assert mx.full((2,), 300, mx.float16).tolist() == [300.0, 300.0]


def test_real_imag_are_properties():
    z = mx.array([1 + 2j, -3.5j])
    assert z.real.tolist() == [1.0, 0.0] and z.imag.tolist() == [2.0, -3.5]
    assert z.real.dtype == mx.float32
    assert mx.array([1, 2]).imag.tolist() == [0, 0]
    assert mx.real(z).tolist() == [1.0, 0.0] and mx.imag(z).tolist() == [2.0, -3.5]


def test_arange_keywords():
    assert mx.arange(start=1, stop=5).tolist() == [1, 2, 3, 4]
    assert mx.arange(stop=3).tolist() == [0, 1, 2]
    assert mx.arange(1, stop=7, step=2).tolist() == [1, 3, 5]
    assert mx.arange(5, step=2).tolist() == [0, 2, 4]
    assert mx.arange(5, None).tolist() == [0, 1, 2, 3, 4]
    assert mx.arange(0, 10, 3, mx.float32).dtype == mx.float32
    assert mx.arange(stop=4, dtype=mx.float32).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert mx.arange(5, 2).tolist() == []
    with pytest.raises(TypeError):
        mx.arange(start=2)
    with pytest.raises(TypeError):
        mx.arange(1, 2, start=1)


def test_cumsum_cumprod_dtype():
    a = mx.array([100, 100, 100], dtype=mx.int8)
    r = mx.cumsum(a, dtype=mx.float32)
    assert r.dtype == mx.float32 and r.tolist() == [100.0, 200.0, 300.0]
    assert mx.cumsum(a, dtype=mx.int16).tolist() == [100, 200, 300]
    assert mx.cumprod(mx.array([1.5, 2.5]), dtype=mx.int32).tolist() == [1, 2]


def test_operator_operands():
    class Sub(mx.array):
        pass

    s = Sub([1.0, 2.0])
    a = mx.array([1.0, 3.0])
    assert (a == s).tolist() == [True, False] and (s == a).tolist() == [True, False]
    assert (a + s).tolist() == [2.0, 5.0] and (s * 2).tolist() == [2.0, 4.0]
    assert (2 - s).tolist() == [1.0, 0.0] and s[1].item() == 2.0
    assert (a < s).tolist() == [False, False]
    assert (a + [1, 2]).tolist() == [2.0, 5.0] and ((1, 2) * a).tolist() == [1.0, 6.0]
    assert (a + np.array([1.0, 1.0], np.float32)).tolist() == [2.0, 4.0]
    assert (mx.array([1, 2], mx.int8) + 3).dtype == mx.int8
    assert (a == None) is False and a.__eq__("x") is NotImplemented
    with pytest.raises(TypeError):
        mx.array.__add__(1, a)
    with pytest.raises(TypeError):
        mx.array.__getitem__(1, 0)
    with pytest.raises(ValueError):
        a + mx.ones((3,))
