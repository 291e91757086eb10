import gc
import os
import subprocess
import sys

import numpy as np
import pytest

import ember.core as mx


def test_streams_and_devices():
    assert mx.default_device() == mx.cpu
    s = mx.new_stream(mx.cpu)
    assert s != mx.default_stream(mx.cpu)
    a = mx.add(mx.ones((3,)), 1, stream=s)
    b = mx.multiply(a, 2)  # default stream, depends on work of s
    assert b.tolist() == [4.0, 4.0, 4.0]
    with mx.stream(s):
        c = mx.exp(mx.zeros((2,)))
    assert c.tolist() == [1.0, 1.0]
    d = mx.sum(mx.ones((4,)), stream=mx.cpu)
    assert d.item() == 4.0
    mx.synchronize(s)
    mx.synchronize()


def test_async_eval_and_nested_eval():
    x = mx.arange(1000.0)
    y = mx.exp(-x) * mx.sin(x)
    mx.async_eval(y)
    z = {"a": [y, (x + 1,)], "b": mx.ones(2)}
    mx.eval(z)
    np.testing.assert_allclose(np.array(y), np.exp(-np.arange(1000.0)) * np.sin(np.arange(1000.0)),
                               rtol=1e-5, atol=1e-30)
    mx.eval()  # nothing to do


def test_long_chain_and_many_outputs():
    y = mx.array(0.0)
    for _ in range(200_000):
        y = y + 1
    assert y.item() == 200_000.0
    outs = [mx.array(float(i)) * 2 for i in range(100_000)]
    mx.eval(outs)
    assert outs[-1].item() == 199998.0


def test_intermediates_freed():
    mx.eval(mx.ones(1))
    gc.collect()
    base = mx.get_active_memory()
    x = mx.ones((1 << 20,))
    for _ in range(20):
        x = x * 1.0001 + 0.1  # each intermediate is 4 MB
    mx.eval(x)
    # only a couple of 4 MB buffers live at any time, not 40
    assert mx.get_active_memory() - base < 8 * (4 << 20) // 2
    del x


def test_memory_api():
    mx.reset_peak_memory()
    a = mx.zeros((1 << 20,))
    mx.eval(a)
    assert mx.get_active_memory() >= 4 << 20
    assert mx.get_peak_memory() >= 4 << 20
    del a
    gc.collect()
    assert mx.get_cache_memory() >= 4 << 20
    mx.clear_cache()
    assert mx.get_cache_memory() == 0
    old = mx.set_cache_limit(0)
    mx.set_cache_limit(old)
    old = mx.set_memory_limit(1 << 20)
    try:
        with pytest.raises(MemoryError, match="memory limit"):
            mx.eval(mx.zeros((1 << 22,)))
    finally:
        mx.set_memory_limit(old)
    assert mx.zeros((4,)).sum().item() == 0


def test_kernel_error_reaches_python_and_process_survives():
    a = mx.arange(5)
    with pytest.raises(IndexError):
        mx.eval(mx.take(a, mx.array([7])))
    assert (a + 1).tolist() == [1, 2, 3, 4, 5]


def test_numpy_buffer_keeps_array_alive():
    a = mx.arange(10.0) * 2
    n = np.asarray(a)
    del a
    gc.collect()
    assert n[5] == 10.0


def test_stream_context_constructor():
    s = mx.new_stream(mx.cpu)
    before = mx.default_stream(mx.cpu)
    ctx = mx.StreamContext(s)
    with ctx:
        assert mx.default_stream(mx.cpu) == s
        y = mx.arange(3) * 2
    assert mx.default_stream(mx.cpu) == before
    assert y.tolist() == [0, 2, 4]
