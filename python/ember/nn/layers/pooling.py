"""Max and average pooling over the spatial axes of channels-last inputs ``(N, *spatial, C)``."""

import itertools
from typing import Optional, Tuple, Union

import ember.core as mx
from ember.nn.layers.base import Module


def _tuple(name, arg_name, value, n):
    if isinstance(value, int):
        value = (value,) * n
    if not isinstance(value, (tuple, list)) or len(value) != n or not all(isinstance(v, int) for v in value):
        plural = "integer" if n == 1 else "integers"
        raise ValueError(f"[{name}] '{arg_name}' must be an integer or a tuple containing {n} {plural}")
    return tuple(value)


def _neg_inf(dtype):
    if dtype in (mx.float16, mx.bfloat16, mx.float32, mx.float64):
        return float("-inf")
    if dtype == mx.bool_:
        return False
    if dtype in (mx.uint8, mx.uint16, mx.uint32, mx.uint64):
        return 0
    bits = {mx.int8: 8, mx.int16: 16, mx.int32: 32, mx.int64: 64}[dtype]
    return -(2 ** (bits - 1))


class _Pool(Module):
    _op = None

    def __init__(self, kernel_size, stride, padding, ndim):
        super().__init__()
        name = type(self).__name__
        self._name = name
        self._ndim = ndim
        self._kernel_size = _tuple(name, "kernel_size", kernel_size, ndim)
        self._stride = _tuple(name, "stride", stride if stride is not None else kernel_size, ndim)
        self._padding = _tuple(name, "padding", padding, ndim)
        if any(k <= 0 for k in self._kernel_size):
            raise ValueError(f"[{name}] 'kernel_size' must be positive but got {self._kernel_size}.")
        if any(s <= 0 for s in self._stride):
            raise ValueError(f"[{name}] 'stride' must be positive but got {self._stride}.")
        if any(p < 0 for p in self._padding):
            raise ValueError(f"[{name}] 'padding' must be non-negative but got {self._padding}.")

    def _extra_repr(self):
        return f"kernel_size={self._kernel_size}, stride={self._stride}, padding={self._padding}"

    def _windows(self, x, pad_value):
        n = self._ndim
        if x.ndim != n + 2:
            raise ValueError(
                f"[{self._name}] Expected an input with {n + 2} dimensions (batch, {n} spatial, channels) "
                f"but got shape {x.shape}."
            )
        if any(self._padding):
            widths = [(0, 0)] + [(p, p) for p in self._padding] + [(0, 0)]
            x = mx.pad(x, widths, constant_values=pad_value)
        sizes = x.shape[1:-1]
        out = [(d - k) // s + 1 for d, k, s in zip(sizes, self._kernel_size, self._stride)]
        if any(o <= 0 for o in out):
            raise ValueError(
                f"[{self._name}] The kernel {self._kernel_size} is larger than the padded input {tuple(sizes)}."
            )
        for offsets in itertools.product(*[range(k) for k in self._kernel_size]):
            index = (slice(None),)
            index += tuple(slice(o, o + s * (m - 1) + 1, s) for o, s, m in zip(offsets, self._stride, out))
            yield x[index]


    def _tiles(self, x):
        """Non-overlapping windows without padding (stride == kernel): x cropped and viewed as
        (N, o1, k1, o2, k2, ..., C), with the window axes, or None for the general case."""
        n = self._ndim
        if x.ndim != n + 2 or any(self._padding) or self._stride != self._kernel_size:
            return None
        sizes = x.shape[1:-1]
        out = [d // k for d, k in zip(sizes, self._kernel_size)]
        if any(o <= 0 for o in out):
            return None
        if any(o * k != d for o, k, d in zip(out, self._kernel_size, sizes)):
            x = x[(slice(None),) + tuple(slice(0, o * k) for o, k in zip(out, self._kernel_size))]
        shape = [x.shape[0]]
        for o, k in zip(out, self._kernel_size):
            shape += [o, k]
        return x.reshape(shape + [x.shape[-1]]), tuple(2 + 2 * i for i in range(n))


class _MaxPool(_Pool):
    def __call__(self, x):
        tiles = self._tiles(x)
        if tiles is not None:
            if x.dtype in (mx.float32, mx.float64):
                # One pooling node with a one-pass gradient, shared among tied maxima as the
                # max reduction below shares it. The input is cropped to whole tiles.
                crop = tuple(o * k for o, k in zip(tiles[0].shape[1:-1:2], self._kernel_size))
                if crop != tuple(x.shape[1:-1]):
                    x = x[(slice(None),) + tuple(slice(0, c) for c in crop)]
                return mx._tile_max(x, list(self._kernel_size))
            # One reduction: its gradient is a single pass, where chained maximums of shifted
            # slices would each scatter back into a full-size array.
            return mx.max(tiles[0], axis=tiles[1])
        # Overlapping or padded windows: stacked and reduced, so tied maxima share the
        # gradient as a max reduction shares it.
        return mx.max(mx.stack(list(self._windows(x, _neg_inf(x.dtype))), axis=-1), axis=-1)


class _AvgPool(_Pool):
    def __call__(self, x):
        tiles = self._tiles(x)
        if tiles is not None:
            return mx.mean(tiles[0], axis=tiles[1])
        windows = list(self._windows(x, 0))
        total = windows[0]
        for w in windows[1:]:
            total = total + w
        return total / len(windows)


class MaxPool1d(_MaxPool):
    """1-D max pooling of ``(N, L, C)`` inputs (``stride`` defaults to ``kernel_size``; padding with -inf)."""

    def __init__(
        self,
        kernel_size: Union[int, Tuple[int]],
        stride: Optional[Union[int, Tuple[int]]] = None,
        padding: Union[int, Tuple[int]] = 0,
    ):
        super().__init__(kernel_size, stride, padding, 1)


class MaxPool2d(_MaxPool):
    """2-D max pooling of ``(N, H, W, C)`` inputs."""

    def __init__(
        self,
        kernel_size: Union[int, Tuple[int, int]],
        stride: Optional[Union[int, Tuple[int, int]]] = None,
        padding: Optional[Union[int, Tuple[int, int]]] = 0,
    ):
        super().__init__(kernel_size, stride, padding, 2)


class MaxPool3d(_MaxPool):
    """3-D max pooling of ``(N, D, H, W, C)`` inputs."""

    def __init__(
        self,
        kernel_size: Union[int, Tuple[int, int, int]],
        stride: Optional[Union[int, Tuple[int, int, int]]] = None,
        padding: Optional[Union[int, Tuple[int, int, int]]] = 0,
    ):
        super().__init__(kernel_size, stride, padding, 3)


class AvgPool1d(_AvgPool):
    """1-D average pooling of ``(N, L, C)`` inputs (zero padding counts in the average)."""

    def __init__(
        self,
        kernel_size: Union[int, Tuple[int]],
        stride: Optional[Union[int, Tuple[int]]] = None,
        padding: Union[int, Tuple[int]] = 0,
    ):
        super().__init__(kernel_size, stride, padding, 1)


class AvgPool2d(_AvgPool):
    """2-D average pooling of ``(N, H, W, C)`` inputs."""

    def __init__(
        self,
        kernel_size: Union[int, Tuple[int, int]],
        stride: Optional[Union[int, Tuple[int, int]]] = None,
        padding: Optional[Union[int, Tuple[int, int]]] = 0,
    ):
        super().__init__(kernel_size, stride, padding, 2)


class AvgPool3d(_AvgPool):
    """3-D average pooling of ``(N, D, H, W, C)`` inputs."""

    def __init__(
        self,
        kernel_size: Union[int, Tuple[int, int, int]],
        stride: Optional[Union[int, Tuple[int, int, int]]] = None,
        padding: Optional[Union[int, Tuple[int, int, int]]] = 0,
    ):
        super().__init__(kernel_size, stride, padding, 3)
