"""Identity, Linear and Bilinear layers."""

import math
from typing import Any

import ember.core as mx
from ember.nn.layers.base import Module


class Identity(Module):
    """Returns its input unchanged (any constructor arguments are ignored)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def __call__(self, x):
        return x


class Linear(Module):
    r"""Affine map ``y = x W^T + b``.

    ``weight`` has shape ``(output_dims, input_dims)`` and ``bias`` ``(output_dims,)``,
    both drawn from ``U(-k, k)`` with ``k = 1 / sqrt(input_dims)``.
    """

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True) -> None:
        super().__init__()
        scale = math.sqrt(1.0 / input_dims)
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims))
        if bias:
            self.bias = mx.random.uniform(low=-scale, high=scale, shape=(output_dims,))

    def _extra_repr(self) -> str:
        out_dims, in_dims = self.weight.shape
        return f"input_dims={in_dims}, output_dims={out_dims}, bias={'bias' in self}"

    def __call__(self, x):
        if "bias" in self:
            return mx.addmm(self["bias"], x, self["weight"].T)
        return x @ self["weight"].T

    def to_quantized(self, group_size: int = None, bits: int = None, mode: str = "affine", quantize_input: bool = False):
        """A quantized copy: :class:`QuantizedLinear`, or :class:`QQLinear` with ``quantize_input``."""
        from ember.nn.layers.quantized import QQLinear, QuantizedLinear

        if quantize_input:
            return QQLinear.from_linear(self, group_size, bits, mode)
        return QuantizedLinear.from_linear(self, group_size, bits, mode)


class Bilinear(Module):
    r"""Bilinear map ``y_o = x_1^T W_o x_2 + b_o``.

    ``weight`` has shape ``(output_dims, input2_dims, input1_dims)``; parameters are drawn from
    ``U(-k, k)`` with ``k = 1 / sqrt(input1_dims)``.
    """

    def __init__(self, input1_dims: int, input2_dims: int, output_dims: int, bias: bool = True) -> None:
        super().__init__()
        scale = math.sqrt(1.0 / input1_dims)
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input2_dims, input1_dims))
        if bias:
            self.bias = mx.random.uniform(low=-scale, high=scale, shape=(output_dims,))

    def _extra_repr(self) -> str:
        out, in2, in1 = self.weight.shape
        return f"input1_dims={in1}, input2_dims={in2}, output_dims={out}, bias={'bias' in self}"

    def __call__(self, x1, x2):
        out, in2, in1 = self.weight.shape
        lead = x1.shape[:-1]
        a = x1.reshape(-1, in1)
        b = x2.reshape(-1, 1, in2)
        # (N, in1) @ (in1, out * in2) -> (N, out, in2) -> (N, in2, out)
        t = (a @ self.weight.reshape(out * in2, in1).T).reshape(-1, out, in2).swapaxes(-2, -1)
        y = (b @ t).squeeze(1)
        if "bias" in self:
            y = y + self.bias
        return y.reshape(*lead, out)

