import pytest

import ember.core as mx


@pytest.mark.parametrize(
    "fn, exc, match",
    [
        (lambda: mx.add(mx.ones((2, 3)), mx.ones((4,))), ValueError, r"\[add\]"),
        (lambda: mx.sum(mx.ones((2, 3)), axis=2), ValueError, r"\[sum\]"),
        (lambda: mx.sum(mx.ones((2, 3)), axis=-3), ValueError, r"\[sum\]"),
        (lambda: mx.reshape(mx.ones((2, 3)), (4,)), ValueError, r"\[reshape\] Cannot reshape array of size 6"),
        (lambda: mx.zeros((-1, 2)), ValueError, r"\[full\]"),
        (lambda: mx.array([[1], [1, 2]]), ValueError, "ragged"),
        (lambda: mx.zeros((2,), dtype=3), TypeError, "dtype"),
        (lambda: mx.ones((3,))[3], IndexError, "out of bounds"),
        (lambda: mx.transpose(mx.ones((2, 3)), (0, 0)), ValueError, r"\[transpose\]"),
        (lambda: mx.concatenate([]), ValueError, r"\[concatenate\]"),
        (lambda: mx.argmax(mx.ones((2,)), axis=1), ValueError, r"\[argmax\]"),
        (lambda: mx.arange(0, 10, 0), ValueError, r"\[arange\]"),
        (lambda: mx.split(mx.ones((5,)), 2), ValueError, r"\[split\]"),
        (lambda: mx.broadcast_to(mx.ones((3,)), (2, 2)), ValueError, r"\[broadcast_to\]"),
        (lambda: mx.take(mx.ones((3,)), mx.array([0.5])), ValueError, r"\[take\]"),
        # as MLX: the bitwise functions raise RuntimeError, their operators ValueError
        (lambda: mx.bitwise_and(mx.ones(2), mx.ones(2)), RuntimeError, r"\[bitwise_and\]"),
        (lambda: mx.left_shift(mx.array([1], mx.uint64), mx.array([1])), RuntimeError,
         r"\[left_shift\]"),
        (lambda: mx.ones(2) & 1, ValueError, "bitwise and"),
        (lambda: mx.array([1]) << mx.array([1j]), ValueError, "left shift"),
        (lambda: ~mx.ones(2), ValueError, "bitwise inversion"),
        (lambda: mx.arctan2(mx.array([1j]), mx.ones(1)), ValueError, r"\[arctan2\]"),
        (lambda: mx.as_strided(mx.ones(4), (-1,), (1,)), ValueError, r"\[as_strided\]"),
        (lambda: mx.argmax(mx.ones((2, 2)), axis=(0, 1)), TypeError, "axis"),
        (lambda: mx.cumsum(mx.ones((2, 2)), axis=[0]), TypeError, "axis"),
        (lambda: mx.ones((2, 2))[0, 0, 0], ValueError, "Too many indices"),
        (lambda: mx.ones((2, 2))[mx.array([0.5])], ValueError, "integers"),
        (lambda: mx.ones((2, 2))[1.5], ValueError, r"\[index\]"),
        (lambda: mx.vmap(lambda x: x, in_axes=2)(mx.ones((2, 2))), IndexError, "in_axes"),
        (lambda: mx.vmap(lambda x: x, out_axes=3)(mx.ones((2, 2))), IndexError, "out_axes"),
        (lambda: mx.result_type(), ValueError, r"\[result_type\]"),
        (lambda: mx.max(mx.zeros((0,))), ValueError, r"\[max\]"),
        (lambda: mx.expand_dims(mx.ones(2), 3), ValueError, r"\[expand_dims\]"),
        (lambda: mx.stack([mx.ones(2), mx.ones(3)]), ValueError, r"\[stack\]"),
        (lambda: mx.negative(mx.array([True])), ValueError, r"\[negative\]"),
    ],
)
def test_bad_input_raises(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()
    # still alive
    assert (mx.ones(2) + 1).tolist() == [2.0, 2.0]
