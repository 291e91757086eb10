"""Transposed convolution layers over channels-last inputs, on top of ``mx.conv_transpose*``."""

import math
from typing import Union

import ember.core as mx
from ember.nn.layers.base import Module
from ember.nn.layers.convolution import _ntuple


class _ConvTranspose(Module):
    _nd = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding, bias):
        super().__init__()
        n = self._nd
        if n == 1:
            ks, st, pd, op = (kernel_size,), stride, padding, output_padding
        else:
            ks, st, pd, op = (_ntuple(v, n) for v in (kernel_size, stride, padding, output_padding))
        scale = math.sqrt(1 / (in_channels * math.prod(ks)))
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(out_channels, *ks, in_channels))
        if bias:
            self.bias = mx.zeros((out_channels,))
        self.padding = pd
        self.dilation = dilation
        self.stride = st
        self.output_padding = op

    def _extra_repr(self):
        ks = self.weight.shape[1] if self._nd == 1 else self.weight.shape[1 : 1 + self._nd]
        return (
            f"{self.weight.shape[-1]}, {self.weight.shape[0]}, "
            f"kernel_size={ks}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, output_padding={self.output_padding}, bias={'bias' in self}"
        )

    def __call__(self, x):
        op = getattr(mx, f"conv_transpose{self._nd}d")
        y = op(x, self.weight, self.stride, self.padding, self.dilation, self.output_padding)
        return y + self.bias if "bias" in self else y


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution of ``(N, L, C_in)`` inputs; ``weight`` is ``(C_out, K, C_in)``."""

    _nd = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        output_padding: int = 0,
        bias: bool = True,
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding, bias)


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution of ``(N, H, W, C_in)`` inputs; ``weight`` is ``(C_out, KH, KW, C_in)``."""

    _nd = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Union[int, tuple],
        stride: Union[int, tuple] = 1,
        padding: Union[int, tuple] = 0,
        dilation: Union[int, tuple] = 1,
        output_padding: Union[int, tuple] = 0,
        bias: bool = True,
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding, bias)


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution of ``(N, D, H, W, C_in)`` inputs; ``weight`` is ``(C_out, KD, KH, KW, C_in)``."""

    _nd = 3

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Union[int, tuple],
        stride: Union[int, tuple] = 1,
        padding: Union[int, tuple] = 0,
        dilation: Union[int, tuple] = 1,
        output_padding: Union[int, tuple] = 0,
        bias: bool = True,
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding, bias)
