"""The size model: 32-bit dimensions, 64-bit element counts and byte sizes.

A dimension outside [-2^31, 2^31) is an OverflowError naming the op and the dimension,
whichever entry point the shape comes through; totals past 2^31 elements work (they are
checked here through shapes that are never evaluated and through broadcast views, so the
tests stay small); an allocation that cannot be served is a MemoryError naming the op and
the bytes, and the process carries on.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember.core as mx

BIG = [1 << 31, 1 << 33, 1 << 40, -(1 << 31) - 1, 1 << 70]


def overflow(op, dim):
    return pytest.raises(OverflowError, match=rf"\[{op}\] Shape dimension {dim} is outside the supported range")


def run_python(code, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, env=full_env)


# ---------- dimensions past 32 bits, through every entry point


@pytest.mark.parametrize("dim", BIG)
def test_creation_shapes_overflow(dim):
    with overflow("zeros", dim):
        mx.zeros((dim,))
    with overflow("zeros", dim):
        mx.zeros(dim)
    with overflow("zeros", dim):
        mx.zeros([3, dim])
    with overflow("ones", dim):
        mx.ones((2, dim), dtype=mx.int8)
    with overflow("full", dim):
        mx.full((dim,), 1.0)


def test_largest_dimension_is_accepted():
    a = mx.zeros((1 << 31) - 1, dtype=mx.bool_)
    assert a.shape == (2147483647,)
    assert a.size == 2147483647
    b = mx.zeros((0, (1 << 31) - 1), dtype=mx.int64)
    assert b.shape == (0, 2147483647) and b.size == 0


@pytest.mark.parametrize("dim", [1 << 31, 1 << 33])
def test_shape_ops_overflow(dim):
    x = mx.zeros((4,))
    with overflow("reshape", dim):
        mx.reshape(x, (dim,))
    with overflow("reshape", dim):
        x.reshape(dim)
    with overflow("reshape", dim):
        x.reshape(-1, dim)
    with overflow("reshape", dim):
        x.reshape((2, dim))
    with overflow("broadcast_to", dim):
        mx.broadcast_to(x, (dim, 4))
    with overflow("unflatten", dim):
        mx.unflatten(x, 0, (-1, dim))
    with overflow("tile", dim):
        mx.tile(x, (dim,))
    with overflow("repeat", dim):
        mx.repeat(x, dim)
    with overflow("pad", dim):
        mx.pad(x, dim)
    with overflow("pad", dim):
        mx.pad(x, [(0, dim)])
    with overflow("split", dim):
        mx.split(x, dim)
    with overflow("split", dim):
        mx.split(x, [1, dim])
    with overflow("as_strided", dim):
        mx.as_strided(x, (dim,), (0,))
    with overflow("broadcast_shapes", dim):
        mx.broadcast_shapes((1,), (dim,))


@pytest.mark.parametrize("dim", [1 << 31, 1 << 33])
def test_counts_overflow(dim):
    with overflow("eye", dim):
        mx.eye(dim)
    with overflow("eye", dim):
        mx.eye(4, dim)
    with overflow("identity", dim):
        mx.identity(dim)
    with overflow("tri", dim):
        mx.tri(dim)
    with overflow("tri", dim):
        mx.tri(3, dim)
    with overflow("linspace", dim):
        mx.linspace(0, 1, dim)
    with pytest.raises(OverflowError, match=r"\[arange\] Maximum size exceeded: the range has 8589934592 elements"):
        mx.arange(1 << 33)
    with pytest.raises(OverflowError, match=r"\[arange\] Maximum size exceeded"):
        mx.arange(0.0, float(dim), 1.0)
    assert mx.arange((1 << 31) - 1).shape == (2147483647,)


@pytest.mark.parametrize("dim", [1 << 31, 1 << 33])
def test_random_shapes_overflow(dim):
    key = mx.random.key(0)
    with overflow("random.normal", dim):
        mx.random.normal((dim,))
    with overflow("random.uniform", dim):
        mx.random.uniform(shape=(2, dim))
    with overflow("random.randint", dim):
        mx.random.randint(0, 10, (dim,))
    with overflow("random.bernoulli", dim):
        mx.random.bernoulli(0.5, (dim,))
    with overflow("random.truncated_normal", dim):
        mx.random.truncated_normal(0, 1, (dim,))
    with overflow("random.gumbel", dim):
        mx.random.gumbel((dim,))
    with overflow("random.categorical", dim):
        mx.random.categorical(mx.zeros((4,)), shape=(dim,))
    with overflow("random.categorical", dim):
        mx.random.categorical(mx.zeros((4,)), num_samples=dim)
    with overflow("random.split", dim):
        mx.random.split(key, dim)
    with overflow("random.permutation", dim):
        mx.random.permutation(dim)


def test_shape_entries_must_be_integers():
    with pytest.raises(TypeError, match=r"\[zeros\] Shape entries must be integers, got float"):
        mx.zeros((2, 1.5))
    with pytest.raises(TypeError, match=r"\[reshape\] Shape entries must be integers, got str"):
        mx.reshape(mx.zeros((4,)), ("a",))
    with pytest.raises(TypeError, match=r"\[ones\] Expected an int or a sequence of ints"):
        mx.ones(2.0)
    # numpy integers are integers
    assert mx.zeros((np.int64(2), np.int32(3))).shape == (2, 3)
    assert mx.zeros(np.int64(3)).shape == (3,)
    assert mx.zeros((4,)).reshape(np.int64(2), 2).shape == (2, 2)
    with overflow("zeros", 1 << 33):
        mx.zeros((np.int64(1 << 33),))


def test_derived_dimensions_overflow():
    # Dimensions an op computes from valid inputs, on views that are never evaluated.
    v = mx.broadcast_to(mx.zeros((1,)), ((1 << 31) - 1,))
    with overflow("concatenate", 2147483649):
        mx.concatenate([v, mx.zeros((2,))])
    with overflow("pad", 2147483651):
        mx.pad(v, 2)
    with overflow("tile", 4294967294):
        mx.tile(v, 2)
    with overflow("repeat", 6442450941):
        mx.repeat(v, 3)
    w = mx.broadcast_to(mx.zeros((1, 1)), (65536, 65536))
    with overflow("flatten", 4294967296):
        w.flatten()
    with overflow("reshape", 4294967296):
        w.reshape(-1)


# ---------- numpy arrays, buffers and lists


def test_numpy_dimension_overflow_is_refused_before_copying():
    # np.empty reserves 2 GiB without touching it; the check happens before any copy.
    with overflow("array", 2147483648):
        mx.array(np.empty(2**31, dtype=np.bool_))
    with overflow("array", 2147483648):
        mx.array(np.broadcast_to(np.zeros(1, dtype=np.float32), (2**31,)))
    with overflow("array", 2147483648):
        mx.array(np.empty((0, 2**31), dtype=np.float32))
    with overflow("array", 2147483648):
        mx.array(memoryview(np.empty(2**31, dtype=np.uint8)))


def test_numpy_64bit_total_is_accepted():
    # 2^32 elements as a stride-0 view: checked, not copied, by the size model. The copy
    # itself is the slow test below.
    src = np.broadcast_to(np.zeros(1, dtype=np.bool_), (1, 3))
    assert mx.array(src).shape == (1, 3)


def test_buffers_and_lists():
    assert mx.array(memoryview(bytearray(b"\x01\x02\x03"))).tolist() == [1, 2, 3]
    assert mx.array(memoryview(np.arange(6, dtype=np.int16).reshape(2, 3))).tolist() == [[0, 1, 2], [3, 4, 5]]
    import array as pyarray

    assert mx.array(pyarray.array("f", [1.5, 2.5])).tolist() == [1.5, 2.5]
    assert mx.array([[1, 2], [3, 4]]).shape == (2, 2)


# ---------- 64-bit element counts and byte sizes


def test_sizes_are_64bit():
    a = mx.zeros((65536, 65536))
    assert a.size == 2**32
    assert a.nbytes == 2**34
    assert a.shape == (65536, 65536)
    b = mx.zeros((1 << 30, 1 << 30, 2), dtype=mx.int16)
    assert b.size == 2**61
    assert b.nbytes == 2**62
    c = mx.zeros((0, (1 << 31) - 1, (1 << 31) - 1, (1 << 31) - 1))
    assert c.size == 0 and c.nbytes == 0
    assert mx.zeros(((1 << 31) - 1, (1 << 31) - 1, (1 << 31) - 1, 0)).size == 0


def test_totals_past_int64_are_refused():
    big = (1 << 31) - 1
    with pytest.raises(OverflowError, match=r"\[full\] An array of shape \(2147483647, 2147483647, 2147483647\) "
                                            r"and dtype float32 would hold more than 2\^63 - 1 elements"):
        mx.zeros((big, big, big))
    with pytest.raises(OverflowError, match=r"\[full\] .* would hold more than 2\^63 - 1 bytes"):
        mx.ones((1 << 30, 1 << 30, 2), dtype=mx.int64)
    with pytest.raises(OverflowError, match=r"\[full\] .* would hold more than 2\^63 - 1 elements"):
        mx.zeros((1 << 30, 1 << 30, 8), dtype=mx.bool_)
    with pytest.raises(OverflowError, match=r"\[broadcast_to\]"):
        mx.broadcast_to(mx.zeros((1,)), (big, big, big))
    # A product that wraps to 0 in 64 bits is not mistaken for an empty shape.
    with pytest.raises(ValueError, match=r"\[reshape\] Cannot reshape array of size 0"):
        mx.zeros((0,)).reshape(65536, 65536, 65536, 65536)
    # Broadcasting two valid operands into an impossible result.
    x = mx.broadcast_to(mx.zeros((1,), dtype=mx.int8), (big, 1, 1))
    y = mx.broadcast_to(mx.zeros((1,), dtype=mx.int8), (1, big, big))
    with pytest.raises(OverflowError):
        x + y


def test_broadcast_views_index_past_2_31():
    n = 65536
    base = mx.arange(n, dtype=mx.int32)
    v = mx.broadcast_to(base, (n, n))  # 2^32 elements, one row of memory
    assert v.size == 2**32
    assert v[n - 1, n - 1].item() == n - 1
    assert v[-1, 12345].item() == 12345
    assert v[40000:40002, -3:].tolist() == [[65533, 65534, 65535]] * 2
    t = mx.transpose(v)
    assert t[65535, 7].item() == 65535
    # a view whose flat offsets pass 2^32 inside an evaluated 3-D broadcast
    w = mx.broadcast_to(mx.reshape(mx.arange(4), (4, 1, 1)), (4, 65536, 32768))
    assert w.size == 2**33
    assert w[3, 65535, 32767].item() == 3


def test_as_strided_stays_inside_its_array():
    x = mx.arange(10)
    assert mx.as_strided(x, (3, 3), (3, 1), 1).tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    with pytest.raises(ValueError, match=r"\[as_strided\] .* reaches element 10 of an array of 10 elements"):
        mx.as_strided(x, (2, 2), (5, 1), 4)
    with pytest.raises(ValueError, match=r"\[as_strided\] .* reaches element 1099511627776"):
        mx.as_strided(x, (2,), (1 << 40,))
    with pytest.raises(ValueError, match=r"\[as_strided\] .* reaches element -1 "):
        mx.as_strided(x, (2,), (-1,), 0)
    assert mx.as_strided(x, (0, 1 << 20), (1 << 40, 1)).shape == (0, 1048576)


def test_slices_with_extreme_steps():
    x = mx.arange(10)
    assert x[:: (1 << 31) - 1].tolist() == [0]
    assert x[::-((1 << 31) - 1)].tolist() == [9]
    assert x[(1 << 31) - 2 :: -((1 << 31) - 1)].tolist() == [9]
    assert x[-(1 << 40) :].tolist() == list(range(10))
    assert x[:: 1 << 33].tolist() == [0]
    assert x[:: -(1 << 40)].tolist() == [9]
    assert x[1 << 33 :].tolist() == []
    with pytest.raises(IndexError, match=r"Index 8589934592 is out of bounds"):
        x[1 << 33]
    with pytest.raises(IndexError, match=r"Index 1180591620717411303424 is out of bounds"):
        x[1 << 70]
    with pytest.raises(IndexError, match=r"Index -1180591620717411303424 is out of bounds"):
        x[-(1 << 70)] = 1
    x[:: 1 << 40] = 7
    assert x.tolist() == [7] + list(range(1, 10))


# ---------- allocations the machine cannot serve


def test_unservable_allocation_is_memory_error():
    a = mx.zeros((1 << 30, 1 << 30))
    with pytest.raises(MemoryError, match=r"\[\w+\] Unable to allocate 4611686018427387904 bytes \(4\.0 EiB\)"):
        mx.eval(a)
    # the error stays with the array, and the process carries on
    with pytest.raises(MemoryError):
        a.sum().item()
    with pytest.raises(MemoryError):
        mx.eval((mx.ones((1 << 20, 1 << 20, 1 << 10), dtype=mx.int8) + 1).sum())
    assert (mx.arange(4) * 2).tolist() == [0, 2, 4, 6]


def test_system_refusal_is_memory_error():
    # Above the memory limit's reach: the request goes to the system, which refuses it.
    old = mx.set_memory_limit(1 << 62)
    try:
        with pytest.raises(MemoryError, match=r"Unable to allocate 2305843009213693952 bytes .*the system refused"):
            mx.eval(mx.zeros((1 << 30, 1 << 30, 2), dtype=mx.bool_))
    finally:
        mx.set_memory_limit(old)
    assert mx.ones((3,)).sum().item() == 3


def test_memory_limit_is_memory_error():
    old = mx.set_memory_limit(1 << 20)
    try:
        with pytest.raises(MemoryError, match=r"Unable to allocate 16777216 bytes .*the memory limit is 1048576 bytes"):
            mx.eval(mx.zeros((1 << 22,)))
    finally:
        mx.set_memory_limit(old)
    assert mx.zeros((4,)).sum().item() == 0


def test_memory_error_from_the_stream_worker():
    # async_eval runs the graph on the stream's worker thread; the error waits there.
    a = mx.zeros((1 << 30, 1 << 30)) + 1
    mx.async_eval(a)
    with pytest.raises(MemoryError, match=r"Unable to allocate"):
        mx.eval(a)
    s = mx.new_stream(mx.cpu)
    b = mx.full((1 << 30, 1 << 30), 2.0, stream=s)
    with pytest.raises(MemoryError, match=r"Unable to allocate"):
        mx.eval(b)
    assert (mx.ones((2,), stream=s) + 1).tolist() == [2, 2]


def test_memory_error_inside_numpy_conversion_names_array():
    old = mx.set_memory_limit(1 << 20)
    try:
        with pytest.raises(MemoryError, match=r"\[array\] Unable to allocate 4194304 bytes"):
            mx.array(np.zeros(1 << 20, dtype=np.float32))
    finally:
        mx.set_memory_limit(old)


@pytest.mark.skipif("asan" in os.environ.get("LD_PRELOAD", ""), reason="address-space limits and ASan do not mix")
def test_bad_alloc_on_pool_threads_becomes_memory_error():
    # A sort kernel allocates its scratch rows inside the thread pool's chunks. With the
    # address space capped just above what the output needs, those allocations fail on
    # pool threads; the failure must reach Python as a MemoryError at eval, not abort.
    code = """
        import resource
        import ember.core as mx
        x = mx.zeros((4, 1 << 24), dtype=mx.int8)
        mx.eval(x, mx.sum(x))  # the sum starts the thread pool before the cap
        def vm():
            for line in open("/proc/self/status"):
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (vm() + (80 << 20), hard))
        try:
            mx.eval(mx.sort(x, axis=1))
            print("no error")
        except MemoryError as e:
            print("MemoryError", e)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        print("after", mx.sort(mx.array([3, 1, 2])).tolist())
    """
    r = run_python(code, env={"EMBER_NUM_THREADS": "4"})
    assert r.returncode == 0, r.stderr
    assert "MemoryError [Sort] Out of memory" in r.stdout, r.stdout + r.stderr
    assert "after [1, 2, 3]" in r.stdout


# ---------- one real evaluation past 2^31 elements


@pytest.mark.slow
def test_evaluate_more_than_2_31_elements():
    # 2^31 + 64 one-byte elements (2 GiB, 4 GiB at the peak): fill, concatenate, index,
    # reduce. Reductions here keep the input's type, so no wider copy is made.
    m = (1 << 30) + 32
    a = mx.concatenate([mx.zeros((2, 1 << 30), dtype=mx.int8), mx.ones((2, 32), dtype=mx.int8)], axis=1)
    assert a.shape == (2, m) and a.size == (1 << 31) + 64
    assert a[1, m - 1].item() == 1  # flat offset 2^31 + 63
    assert a[1, (1 << 30) - 1].item() == 0
    assert a.max(axis=1).tolist() == [1, 1]
    assert a[:, : 1 << 30].max(axis=1).tolist() == [0, 0]
    assert a[:, ::-1][1, 0].item() == 1
    del a
    b = mx.ones((2, m), dtype=mx.bool_)
    assert mx.all(b, axis=1).tolist() == [True, True]
    assert mx.all(b).item() is True
    assert b[1, m - 1].item() is True
