"""Parameter initializers. Each factory returns ``fn(array, ...) -> array`` of the same shape."""

import math
from typing import Callable, Literal

import ember.core as mx


def constant(value: float, dtype=mx.float32) -> Callable:
    """Fill with ``value``."""

    def initializer(a):
        return mx.full(a.shape, value, dtype=dtype)

    return initializer


def normal(mean: float = 0.0, std: float = 1.0, dtype=mx.float32) -> Callable:
    """Draw from ``N(mean, std**2)``."""

    def initializer(a):
        return mx.random.normal(shape=a.shape, scale=std, loc=mean, dtype=dtype)

    return initializer


def uniform(low: float = 0.0, high: float = 1.0, dtype=mx.float32) -> Callable:
    """Draw from ``U(low, high)``."""

    def initializer(a):
        return mx.random.uniform(low, high, a.shape, dtype=dtype)

    return initializer


def identity(dtype=mx.float32) -> Callable:
    """The identity matrix (square 2-D arrays only)."""

    def initializer(arr):
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
            raise ValueError(f"The input array must be a square matrix but got shape {arr.shape}.")
        return mx.eye(n=arr.shape[0], dtype=dtype)

    return initializer


def _fans(x):
    if x.ndim < 2:
        raise ValueError(
            "Glorot / He initialization requires at least 2 dimensional input" f" but input with {x.ndim} dimensions."
        )
    fan_in = x.shape[-1]
    fan_out = x.shape[0]
    if x.ndim > 2:
        field = 1
        for d in x.shape[1:-1]:
            field *= d
        fan_in *= field
        fan_out *= field
    return fan_in, fan_out


def glorot_normal(dtype=mx.float32) -> Callable:
    """``N(0, std**2)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""

    def initializer(a, gain: float = 1.0):
        fan_in, fan_out = _fans(a)
        std = gain * math.sqrt(2.0 / (fan_in + fan_out))
        return mx.random.normal(shape=a.shape, dtype=dtype) * std

    return initializer


def glorot_uniform(dtype=mx.float32) -> Callable:
    """``U(-limit, limit)`` with ``limit = gain * sqrt(6 / (fan_in + fan_out))``."""

    def initializer(a, gain: float = 1.0):
        fan_in, fan_out = _fans(a)
        limit = gain * math.sqrt(6.0 / (fan_in + fan_out))
        return mx.random.uniform(-limit, limit, a.shape, dtype=dtype)

    return initializer


def _fan(a, mode):
    fan_in, fan_out = _fans(a)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"Invalid mode: {mode}. Valid modes are: fan_in, fan_out")


def he_normal(dtype=mx.float32) -> Callable:
    """``N(0, std**2)`` with ``std = gain / sqrt(fan)``, ``fan`` the fan in or fan out (``mode``)."""

    def initializer(a, mode: Literal["fan_in", "fan_out"] = "fan_in", gain: float = 1.0):
        std = gain / math.sqrt(_fan(a, mode))
        return mx.random.normal(shape=a.shape, dtype=dtype) * std

    return initializer


def he_uniform(dtype=mx.float32) -> Callable:
    """``U(-limit, limit)`` with ``limit = gain * sqrt(3 / fan)``."""

    def initializer(a, mode: Literal["fan_in", "fan_out"] = "fan_in", gain: float = 1.0):
        limit = gain * math.sqrt(3.0 / _fan(a, mode))
        return mx.random.uniform(-limit, limit, a.shape, dtype=dtype)

    return initializer


def sparse(sparsity: float, mean: float = 0.0, std: float = 1.0, dtype=mx.float32) -> Callable:
    """``N(mean, std**2)`` with ``ceil(sparsity * columns)`` entries of each row set to zero (2-D only)."""

    def initializer(a):
        if a.ndim != 2:
            raise ValueError("Only tensors with 2 dimensions are supported")
        rows, cols = a.shape
        num_zeros = int(math.ceil(sparsity * cols))
        order = mx.argsort(mx.random.uniform(shape=a.shape), axis=1)
        out = mx.random.normal(shape=a.shape, scale=std, loc=mean, dtype=dtype)
        if num_zeros > 0:
            out = mx.put_along_axis(out, order[:, :num_zeros], mx.array(0, dtype=dtype), axis=1)
        return out

    return initializer


def orthogonal(gain: float = 1.0, dtype=mx.float32) -> Callable:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian matrix, times ``gain``."""

    def initializer(a):
        if a.ndim != 2:
            raise ValueError(f"Orthogonal initialization requires a 2D array but got a {a.ndim}D array.")
        rows, cols = a.shape
        n = max(rows, cols)
        q, r = mx.linalg.qr(mx.random.normal(shape=(n, n)), stream=mx.cpu)
        idx = mx.arange(n)
        q = q * mx.sign(r[idx, idx])
        return (gain * q[:rows, :cols]).astype(dtype)

    return initializer
