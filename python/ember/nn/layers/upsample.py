"""Upsampling of channels-last inputs ``(N, *spatial, C)``: nearest, (multi)linear and cubic."""

import itertools
import operator
from functools import reduce
from typing import Literal, Tuple, Union

import numpy as np

import ember.core as mx
from ember.nn.layers.base import Module


def _positions(n, scale, align_corners, axis, ndim):
    """Source coordinates (float32) of the ``int(scale * n)`` output samples, shaped to broadcast along ``axis``."""
    m = int(scale * n)
    if align_corners:
        pos = mx.arange(m, dtype=mx.float32) * ((n - 1) / (m - 1) if m > 1 else 0.0)
    else:
        step = 1 / scale
        start = ((m - 1) * step - n + 1) / 2
        pos = mx.arange(m, dtype=mx.float32) * step - start
    shape = [1] * ndim
    shape[axis] = -1
    return pos.reshape(shape)


def _nearest_taps(n, scale, align_corners, axis, ndim):
    m = int(scale * n)
    pos = mx.arange(m, dtype=mx.float32)
    if m > n:
        # centre of each output cell mapped back, rounded to the nearest input sample
        pos = mx.round((pos + 0.5) * (n / m) - 0.5)
    else:
        pos = mx.floor(pos * (n / m))
    shape = [1] * ndim
    shape[axis] = -1
    idx = mx.clip(pos, 0, n - 1).astype(mx.int32).reshape(shape)
    return [(idx, None)]


def _linear_taps(n, scale, align_corners, axis, ndim):
    pos = mx.clip(_positions(n, scale, align_corners, axis, ndim), 0, n - 1)
    left = mx.floor(pos)
    right = mx.ceil(pos)
    w = (pos - left)[..., None]
    return [(left.astype(mx.int32), 1 - w), (right.astype(mx.int32), w)]


def _cubic_weight(d, a=-0.75):
    d = mx.abs(d)
    d2 = d * d
    d3 = d2 * d
    near = ((a + 2) * d3 - (a + 3) * d2 + 1) * (d <= 1)
    far = (a * d3 - 5 * a * d2 + 8 * a * d - 4 * a) * ((d > 1) & (d < 2))
    return near + far


def _cubic_taps(n, scale, align_corners, axis, ndim):
    pos = _positions(n, scale, align_corners, axis, ndim)
    base = mx.floor(pos)
    taps = []
    for k in (-1, 0, 1, 2):
        src = base + k
        w = _cubic_weight(pos - src)[..., None]
        taps.append((mx.clip(src, 0, n - 1).astype(mx.int32), w))
    return taps


def _interpolate(x, scales, taps_fn, align_corners):
    _, *sizes, _ = x.shape
    nd = len(sizes)
    per_axis = [taps_fn(n, s, align_corners, i, nd) for i, (n, s) in enumerate(zip(sizes, scales))]
    out = None
    for combo in itertools.product(*per_axis):
        index = (slice(None),) + tuple(idx for idx, _ in combo)
        weights = [w for _, w in combo if w is not None]
        term = x[index]
        if weights:
            term = term * reduce(operator.mul, weights)
        out = term if out is None else out + term
    return out


def _triangle(d):
    return np.maximum(0.0, 1.0 - np.abs(d))


def _keys_cubic(d, a=-0.5):
    d = np.abs(d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def _antialias_matrix(n, scale, kernel, radius):
    """``(int(scale * n), n)`` interpolation weights of a filter widened by ``1 / scale`` when
    downscaling, centred where the plain interpolation samples; taps outside the input are
    dropped and each row renormalized."""
    m = int(scale * n)
    stretch = max(1.0 / scale, 1.0)
    step = 1 / scale
    centers = np.arange(m) * step - ((m - 1) * step - n + 1) / 2
    d = (np.arange(n)[None, :] - centers[:, None]) / stretch
    w = np.where(np.abs(d) < radius, kernel(d), 0.0)
    total = w.sum(axis=1, keepdims=True)
    return (w / np.where(total == 0, 1, total)).astype(np.float32)


def _antialiased(x, scales, kernel, radius):
    nd = x.ndim - 2
    for axis, s in enumerate(scales):
        w = mx.array(_antialias_matrix(x.shape[axis + 1], s, kernel, radius)).astype(x.dtype)
        moved = mx.moveaxis(x, axis + 1, -1)
        x = mx.moveaxis(moved @ w.T, -1, axis + 1)
    return x


def upsample_nearest(x, scale_factor: Tuple):
    """Nearest-neighbour upsampling (output index ``i`` reads input ``floor(i / scale)``)."""
    if all(float(s).is_integer() for s in scale_factor):
        N, *sizes, C = x.shape
        ints = [int(s) for s in scale_factor]
        expanded_shape = [N]
        broadcast_shape = [N]
        for d, s in zip(sizes, ints):
            expanded_shape += [d, 1]
            broadcast_shape += [d, s]
        expanded_shape.append(C)
        broadcast_shape.append(C)
        y = mx.broadcast_to(x.reshape(expanded_shape), broadcast_shape)
        return y.reshape([N] + [d * s for d, s in zip(sizes, ints)] + [C])
    return _interpolate(x, scale_factor, _nearest_taps, False)


def _check_antialias(align_corners, antialias):
    if antialias and align_corners:
        raise ValueError(
            "[Upsample] antialias=True with align_corners=True is not supported. "
            "Use align_corners=False for antialiased interpolation."
        )


def upsample_linear(x, scale_factor: Tuple, align_corners: bool = False, antialias: bool = False):
    """(Multi)linear upsampling; ``antialias`` widens the triangle filter when downscaling."""
    _check_antialias(align_corners, antialias)
    if antialias:
        return _antialiased(x, scale_factor, _triangle, 1.0)
    return _interpolate(x, scale_factor, _linear_taps, align_corners)


def upsample_cubic(x, scale_factor: Tuple, align_corners: bool = False, antialias: bool = False):
    """Bicubic-style upsampling with the Keys kernel (``a = -0.75``; ``a = -0.5`` with ``antialias``,
    which also widens the filter when downscaling)."""
    _check_antialias(align_corners, antialias)
    if antialias:
        return _antialiased(x, scale_factor, _keys_cubic, 2.0)
    return _interpolate(x, scale_factor, _cubic_taps, align_corners)


class Upsample(Module):
    """Upsample the spatial axes of ``(N, *spatial, C)`` inputs by ``scale_factor``.

    ``mode`` is ``'nearest'``, ``'linear'`` (bilinear / trilinear for more axes) or ``'cubic'``;
    ``align_corners`` maps the corner samples of input and output onto each other.
    """

    def __init__(
        self,
        scale_factor: Union[float, Tuple],
        mode: Literal["nearest", "linear", "cubic"] = "nearest",
        align_corners: bool = False,
        antialias: bool = False,
    ):
        super().__init__()
        if mode not in ("nearest", "linear", "cubic"):
            raise ValueError(f"[Upsample] Got unsupported upsampling algorithm: {mode}")
        if antialias and mode == "nearest":
            raise ValueError("[Upsample] Antialiasing is not supported for nearest neighbor upsampling")
        _check_antialias(align_corners, antialias)
        if isinstance(scale_factor, (list, tuple)):
            self.scale_factor = tuple(map(float, scale_factor))
        else:
            self.scale_factor = float(scale_factor)
        self.mode = mode
        self.align_corners = align_corners
        self.antialias = antialias

    def _extra_repr(self) -> str:
        return f"scale_factor={self.scale_factor}, mode={self.mode!r}, align_corners={self.align_corners}"

    def __call__(self, x):
        dims = x.ndim - 2
        if dims <= 0:
            raise ValueError(
                "[Upsample] The input should have at least 1 spatial "
                f"dimension which means it should be at least 3D but "
                f"{x.ndim}D was provided"
            )
        scale = self.scale_factor
        if isinstance(scale, tuple):
            if len(scale) != dims:
                raise ValueError(
                    f"[Upsample] One scale per spatial dimension is required but "
                    f"scale_factor={scale} and the number of spatial dimensions were {dims}"
                )
        else:
            scale = (scale,) * dims
        if self.mode == "nearest":
            return upsample_nearest(x, scale)
        if self.mode == "linear":
            return upsample_linear(x, scale, self.align_corners, self.antialias)
        return upsample_cubic(x, scale, self.align_corners, self.antialias)
