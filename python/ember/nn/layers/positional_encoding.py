"""Positional encodings: RoPE, SinusoidalPositionalEncoding, ALiBi."""

import math
from typing import Optional

import ember.core as mx
from ember.nn.layers.base import Module


def _rope(x, dims, traditional, base, scale, offset):
    """Rotary embedding of the first ``dims`` features of ``x`` (``(..., L, D)``), positions along axis -2."""
    L = x.shape[-2]
    dtype = x.dtype
    xf = x.astype(mx.float32) if dtype in (mx.float16, mx.bfloat16) else x
    positions = (mx.arange(L, dtype=mx.float32) + offset) * scale
    inv_freq = mx.exp(-(mx.arange(0, dims // 2, dtype=mx.float32) * (2.0 / dims)) * math.log(base))
    theta = positions[:, None] * inv_freq[None, :]
    cos = mx.cos(theta).astype(xf.dtype)
    sin = mx.sin(theta).astype(xf.dtype)
    rot, rest = xf[..., :dims], xf[..., dims:]
    if traditional:
        pairs = rot.reshape(*rot.shape[:-1], dims // 2, 2)
        a, b = pairs[..., 0], pairs[..., 1]
        out = mx.stack([a * cos - b * sin, a * sin + b * cos], axis=-1).reshape(rot.shape)
    else:
        a, b = rot[..., : dims // 2], rot[..., dims // 2 :]
        out = mx.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)
    if dims < x.shape[-1]:
        out = mx.concatenate([out, rest], axis=-1)
    return out.astype(dtype)


class RoPE(Module):
    """Rotary positional encoding of the first ``dims`` features.

    ``traditional`` rotates consecutive pairs of features instead of the two halves; position
    ``p`` (plus ``offset`` at call time) rotates frequency ``i`` by ``scale * p * base**(-2i/dims)``.
    """

    def __init__(self, dims: int, traditional: bool = False, base: float = 10000, scale: float = 1.0):
        super().__init__()
        self.dims = dims
        self.traditional = traditional
        self.base = base
        self.scale = scale

    def _extra_repr(self):
        return f"{self.dims}, traditional={self.traditional}"

    def __call__(self, x, offset: int = 0):
        fast = getattr(mx, "fast", None)
        if fast is not None and hasattr(fast, "rope"):
            return fast.rope(
                x, self.dims, traditional=self.traditional, base=self.base, scale=self.scale, offset=offset
            )
        return _rope(x, self.dims, self.traditional, self.base, self.scale, offset)


class SinusoidalPositionalEncoding(Module):
    """Sinusoidal encoding of (possibly fractional) positions ``x`` into ``dims`` features.

    Frequencies are spaced geometrically from ``max_freq`` down to ``min_freq`` (in turns of
    ``2 pi`` with ``full_turns``); the sines come first unless ``cos_first``; the result is multiplied
    by ``scale`` (``sqrt(2 / dims)`` by default).
    """

    def __init__(
        self,
        dims: int,
        min_freq: float = 0.0001,
        max_freq: float = 1,
        scale: Optional[float] = None,
        cos_first: bool = False,
        full_turns: bool = False,
    ):
        super().__init__()
        if dims <= 0 or dims % 2 != 0:
            raise ValueError(f"[SinusoidalPositionalEncoding] dims must be positive and even but got {dims}.")
        half = dims // 2
        one_zero = 1 - mx.arange(0, half) / (half - 1)
        lo, hi = math.log(min_freq), math.log(max_freq)
        self._sigmas = mx.exp(one_zero * (hi - lo) + lo)
        if full_turns:
            self._sigmas = self._sigmas * (2 * math.pi)
        self.scale = scale or (2 / dims) ** 0.5
        self.cos_first = cos_first

    def __call__(self, x):
        y = x[..., None] * self._sigmas
        c, s = mx.cos(y), mx.sin(y)
        y = mx.concatenate([c, s] if self.cos_first else [s, c], axis=-1)
        if self.scale != 1:
            y = y * self.scale
        return y


class ALiBi(Module):
    """Attention with linear biases: adds ``-slope_h * |i - j|`` to the attention scores of head ``h``."""

    @staticmethod
    def create_alibi_matrix(
        q_sequence_length: int, k_sequence_length: int, num_heads: int, offset: int = 0, dtype=mx.float32
    ):
        q = mx.arange(offset, q_sequence_length)
        k = mx.arange(0, k_sequence_length)
        distance = -mx.abs(q[:, None] - k[None, :])[None, None]
        return (distance * ALiBi.create_alibi_slope(num_heads=num_heads, dtype=dtype)).astype(dtype)

    @staticmethod
    def create_alibi_slope(num_heads, dtype=mx.float32):
        ratio = (2**8) ** (1 / num_heads)
        slopes = mx.power(ratio, -mx.arange(1, num_heads + 1)).astype(dtype)
        return slopes[:, None, None]

    def __call__(self, attention_scores, offset=0, mask=None):
        bias = ALiBi.create_alibi_matrix(
            q_sequence_length=attention_scores.shape[-2] + offset,
            k_sequence_length=attention_scores.shape[-1],
            num_heads=attention_scores.shape[1],
            offset=offset,
            dtype=attention_scores.dtype,
        )
        if mask is not None:
            bias = bias + mask
        return attention_scores + bias
