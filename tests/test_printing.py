"""Array printing: the engine's formatter (shared by repr and C++'s operator<<) reads as
MLX's, checked against MLX side by side when it is installed."""
import numpy as np
import pytest

import ember.core as mx

try:
    import mlx.core as mlx
except ImportError:
    mlx = None


def _cases(lib):
    f32 = lib.float32
    return [
        lib.array(1.5),
        lib.array(3),
        lib.array(True),
        lib.array([True, False]),
        lib.array([1 - 2j, 0.5 + 0j]),
        lib.arange(6),
        lib.arange(7),
        lib.arange(1000),
        lib.arange(14).reshape(2, 7),
        lib.arange(24).reshape(2, 3, 4),
        lib.arange(48).reshape(2, 2, 3, 4),
        lib.arange(1400).reshape(2, 7, 100),
        lib.arange(4004).reshape(1001, 2, 2),
        lib.arange(24.0).reshape(2, 3, 4) / 7,
        lib.arange(8).reshape(8, 1),
        lib.zeros((0,)),
        lib.zeros((2, 0)),
        lib.zeros((0, 7)),
        lib.zeros((7, 0)),
        lib.array([1e-8, 1e8, 123456789.0, 1.5e-5, -0.0]),
        lib.array([0.1, 1.5]).astype(lib.float16),
        lib.array([0.1, 1.5]).astype(lib.bfloat16),
        lib.array([0.1, 1.0 / 3.0], lib.float64),
        lib.array([float("inf"), -float("inf"), float("nan")]),
        lib.array([-1, 200]).astype(lib.uint8),
        lib.array([-1, 200]).astype(lib.int8),
        lib.array(2**40),
        lib.arange(12).reshape(3, 4)[:, ::2],
        lib.arange(12).reshape(3, 4).T,
        lib.arange(10, dtype=f32)[::-3],
    ]


@pytest.mark.skipif(mlx is None, reason="mlx is not installed")
def test_repr_matches_mlx():
    for ours, theirs in zip(_cases(mx), _cases(mlx)):
        assert repr(ours) == repr(theirs)
        assert str(ours) == str(theirs)


def test_repr_layout():
    assert repr(mx.arange(7)) == "array([0, 1, 2, ..., 4, 5, 6], dtype=int32)"
    assert repr(mx.arange(6)) == "array([0, 1, 2, 3, 4, 5], dtype=int32)"
    assert repr(mx.arange(8).reshape(2, 2, 2)) == (
        "array([[[0, 1],\n        [2, 3]],\n       [[4, 5],\n        [6, 7]]], dtype=int32)")
    assert repr(mx.zeros((2, 0))) == "array([[],\n       []], dtype=float32)"
    assert repr(mx.array(np.float32(2.5)) / 3) == "array(0.833333, dtype=float32)"
    assert repr(mx.array([True])) == "array([True], dtype=bool)"
