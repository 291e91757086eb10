"""DLPack exchange with numpy and PyTorch on the CPU, both directions, zero-copy."""
import gc

import numpy as np
import pytest

import ember.core as mx

DTYPES = ["bool_", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float16", "float32", "float64", "complex64"]


def sample(dtype, shape=(3, 4)):
    x = np.arange(int(np.prod(shape))).reshape(shape) % 7
    return (x > 2) if dtype == "bool_" else x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_to_ember_shares_memory(dtype):
    x = sample(dtype)
    a = mx.from_dlpack(x)
    assert a.shape == x.shape and np.array(a).dtype == x.dtype
    np.testing.assert_array_equal(np.array(a), x)
    # Written on numpy's side, seen on Ember's: no copy was made.
    x[0, 0] = x[1, 1] if dtype != "bool_" else not x[0, 0]
    np.testing.assert_array_equal(np.array(a), x)
    # copy=True detaches
    c = mx.from_dlpack(x, copy=True)
    before = np.array(c)
    x[0, 1] = x[2, 3] if dtype != "bool_" else not x[0, 1]
    np.testing.assert_array_equal(np.array(c), before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ember_to_numpy(dtype):
    a = mx.array(sample(dtype)) if dtype != "float64" else mx.array(sample(dtype), dtype=mx.float64)
    n = np.from_dlpack(a)
    assert n.dtype == np.dtype(dtype) and n.shape == a.shape
    np.testing.assert_array_equal(n, np.array(a))
    assert not n.flags.writeable  # Ember arrays are values
    m = np.from_dlpack(a)
    assert np.shares_memory(n, m)  # both view Ember's buffer
    del a
    gc.collect()
    np.testing.assert_array_equal(n, sample(dtype))  # the buffer outlives the Ember handle


@pytest.mark.parametrize("make", ["T", "slice", "neg", "empty", "scalar"])
def test_strided_and_odd_shapes(make):
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    x = {"T": base.T, "slice": base[1:, ::2], "neg": base[::-1, ::-2], "empty": base[:0],
         "scalar": np.array(3.5, dtype=np.float32)}[make]
    a = mx.from_dlpack(x)
    np.testing.assert_array_equal(np.array(a), x)
    np.testing.assert_array_equal(np.array(a * 2), x * 2)
    e = {"T": mx.array(base).T, "slice": mx.array(base)[1:, ::2], "neg": mx.array(base)[::-1, ::-2],
         "empty": mx.array(base)[:0], "scalar": mx.array(3.5)}[make]
    np.testing.assert_array_equal(np.from_dlpack(e), np.array(e))


def test_ops_never_write_into_imported_memory():
    x = np.arange(8, dtype=np.float32)
    a = mx.from_dlpack(x)
    del_ref = mx.exp(a)  # a kernel that could reuse a donated input buffer
    mx.eval(del_ref)
    np.testing.assert_array_equal(x, np.arange(8, dtype=np.float32))
    b = mx.from_dlpack(x)
    b += 1  # rebinding: a new array, the producer's memory unchanged
    mx.eval(b)
    np.testing.assert_array_equal(x, np.arange(8, dtype=np.float32))
    np.testing.assert_array_equal(np.array(b), np.arange(8) + 1)


def test_imported_arrays_transform():
    x = np.linspace(0, 1, 5)
    a = mx.from_dlpack(x.astype(np.float32))
    np.testing.assert_allclose(np.array(mx.grad(lambda v: mx.sum(mx.sin(v)))(a)), np.cos(x), rtol=1e-6)
    np.testing.assert_allclose(np.array(mx.compile(lambda v: v * 2 + 1)(a)), x * 2 + 1, rtol=1e-6)


def test_torch_both_ways():
    torch = pytest.importorskip("torch")
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    a = mx.from_dlpack(t)
    t[0, 0] = 100.0
    assert a[0, 0].item() == 100.0
    for dt, tdt in [(mx.float32, torch.float32), (mx.int64, torch.int64), (mx.bfloat16, torch.bfloat16),
                    (mx.bool_, torch.bool), (mx.complex64, torch.complex64), (mx.uint8, torch.uint8)]:
        e = (mx.arange(6).reshape(2, 3) % 2).astype(dt)
        u = torch.from_dlpack(e)
        assert u.dtype == tdt and tuple(u.shape) == (2, 3)
        back = mx.from_dlpack(u)
        assert back.dtype == dt
        np.testing.assert_array_equal(np.array(back.astype(mx.float32) if dt == mx.bfloat16 else back),
                                      np.array(e.astype(mx.float32) if dt == mx.bfloat16 else e))
    tb = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)
    np.testing.assert_array_equal(np.array(mx.from_dlpack(tb).astype(mx.float32)), [1.5, -2.0])


def test_device_and_errors():
    a = mx.arange(3)
    assert a.__dlpack_device__() == (1, 0)
    with pytest.raises(TypeError, match="from_dlpack"):
        mx.from_dlpack([1, 2, 3])
    with pytest.raises(BufferError):
        a.__dlpack__(dl_device=(2, 0))

    class Gpu:
        def __dlpack_device__(self):
            return (2, 0)

        def __dlpack__(self, **kw):
            raise AssertionError("not reached")

    with pytest.raises(ValueError, match="CPU"):
        mx.from_dlpack(Gpu())
    # an unconsumed capsule frees itself
    for _ in range(100):
        a.__dlpack__()
        a.__dlpack__(max_version=(1, 0))
    gc.collect()
