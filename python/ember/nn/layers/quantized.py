"""Quantized layers and ``quantize(model)``, on top of ``mx.quantize`` / ``mx.quantized_matmul``."""

import math
from typing import Callable, Optional, Union

import ember.core as mx
from ember.nn.layers.base import Module
from ember.utils import tree_map_with_path

_MODE_DEFAULTS = {"affine": (64, 4), "mxfp4": (32, 4), "nvfp4": (16, 4), "mxfp8": (32, 8)}


def _defaults_for_mode(mode, group_size, bits):
    if mode not in _MODE_DEFAULTS:
        raise ValueError(f"Invalid quantization mode '{mode}'. Valid modes are: {', '.join(_MODE_DEFAULTS)}.")
    g, b = _MODE_DEFAULTS[mode]
    return group_size or g, bits or b


def _quantize_into(module, weight):
    """Store the quantized ``weight`` (packed ``weight``, ``scales`` and, for affine, ``biases``)."""
    packed, scales, *biases = mx.quantize(weight, module.group_size, module.bits, mode=module.mode)
    module.weight = packed
    module.scales = scales
    module.biases = biases[0] if biases else None


def quantize(
    model: Module,
    group_size: int = None,
    bits: int = None,
    *,
    mode: str = "affine",
    quantize_input: bool = False,
    class_predicate: Optional[Callable[[str, Module], Union[bool, dict]]] = None,
):
    """Replace, in place, the leaf modules of ``model`` that ``class_predicate(path, module)`` selects
    (by default those with a ``to_quantized`` method) by their quantized versions.

    The predicate may return a dict of arguments for ``to_quantized`` instead of ``True``.
    """
    class_predicate = class_predicate or (lambda _, m: hasattr(m, "to_quantized"))

    def convert(path, m):
        choice = class_predicate(path, m)
        if not choice:
            return m
        if not hasattr(m, "to_quantized"):
            raise ValueError(f"Unable to quantize model of type {type(m)}")
        if isinstance(choice, bool):
            kwargs = {"group_size": group_size, "bits": bits, "mode": mode}
            if quantize_input:
                kwargs["quantize_input"] = True
        elif isinstance(choice, dict):
            kwargs = dict(choice)
            if "quantize_input" in kwargs and not kwargs["quantize_input"]:
                kwargs.pop("quantize_input")
        else:
            raise ValueError("``class_predicate`` must return a bool or a dict of parameters to pass to ``to_quantized``")
        return m.to_quantized(**kwargs)

    leaves = tree_map_with_path(convert, model.leaf_modules(), is_leaf=Module.is_module)
    model.update_modules(leaves)


class QuantizedEmbedding(Module):
    """An :class:`Embedding` whose table is stored quantized (``weight``, ``scales``, ``biases``)."""

    def __init__(self, num_embeddings: int, dims: int, group_size: int = None, bits: int = None, mode: str = "affine"):
        super().__init__()
        self.group_size, self.bits = _defaults_for_mode(mode, group_size, bits)
        self.mode = mode
        scale = math.sqrt(1 / dims)
        _quantize_into(self, mx.random.normal(shape=(num_embeddings, dims), scale=scale))
        self.num_embeddings = num_embeddings
        self.dims = dims
        self.freeze()

    def __call__(self, x):
        biases = self.get("biases")
        out = mx.dequantize(
            self["weight"][x],
            scales=self["scales"][x],
            biases=biases[x] if biases is not None else None,
            group_size=self.group_size,
            bits=self.bits,
            mode=self.mode,
        )
        return out

    def as_linear(self, x):
        """``x @ table.T`` with the quantized table."""
        return mx.quantized_matmul(
            x,
            self["weight"],
            scales=self["scales"],
            biases=self.get("biases"),
            transpose=True,
            group_size=self.group_size,
            bits=self.bits,
            mode=self.mode,
        )

    def _extra_repr(self):
        return f"{self.num_embeddings}, {self.dims}, group_size={self.group_size}, bits={self.bits}, mode={self.mode}"

    @classmethod
    def from_embedding(cls, embedding_layer: Module, group_size: int = None, bits: int = None, mode: str = "affine"):
        """Quantize an :class:`Embedding`."""
        num, dims = embedding_layer.weight.shape
        q = cls(num, dims, group_size, bits, mode=mode)
        _quantize_into(q, embedding_layer.weight)
        return q


class QuantizedLinear(Module):
    """A :class:`Linear` whose weight is stored quantized; the quantized arrays are frozen."""

    def __init__(
        self,
        input_dims: int,
        output_dims: int,
        bias: bool = True,
        group_size: int = None,
        bits: int = None,
        mode: str = "affine",
    ):
        super().__init__()
        self.group_size, self.bits = _defaults_for_mode(mode, group_size, bits)
        self.mode = mode
        scale = math.sqrt(1 / input_dims)
        _quantize_into(self, mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims)))
        if bias:
            self.bias = mx.zeros((output_dims,))
        self.freeze()

    def unfreeze(self, *args, **kwargs):
        """Unfreeze like :meth:`Module.unfreeze`; this layer's own arrays stay frozen."""
        super().unfreeze(*args, **kwargs)
        self.freeze(recurse=False)
        return self

    def _extra_repr(self):
        out_dims, in_dims = self.weight.shape
        in_dims = in_dims * 32 // self.bits
        return (
            f"input_dims={in_dims}, output_dims={out_dims}, bias={'bias' in self}, "
            f"group_size={self.group_size}, bits={self.bits}, mode={self.mode}"
        )

    def __call__(self, x):
        y = mx.quantized_matmul(
            x,
            self["weight"],
            scales=self["scales"],
            biases=self.get("biases"),
            transpose=True,
            group_size=self.group_size,
            bits=self.bits,
            mode=self.mode,
        )
        return y + self["bias"] if "bias" in self else y

    @classmethod
    def from_linear(cls, linear_layer: Module, group_size: int = None, bits: int = None, mode: str = "affine"):
        """Quantize a :class:`Linear`."""
        out_dims, in_dims = linear_layer.weight.shape
        q = cls(in_dims, out_dims, False, group_size, bits, mode=mode)
        _quantize_into(q, linear_layer.weight)
        if "bias" in linear_layer:
            q.bias = linear_layer.bias
        return q


class QQLinear(Module):
    """A linear layer (no bias) whose weights and inputs are both quantized (``mx.qqmm``).

    In training mode the weight is kept in full precision; :meth:`eval` quantizes it and
    :meth:`train` brings it back.
    """

    def __init__(self, input_dims: int, output_dims: int, group_size: int = None, bits: int = None, mode: str = "nvfp4"):
        super().__init__()
        self.group_size, self.bits = _defaults_for_mode(mode, group_size, bits)
        self.mode = mode
        scale = math.sqrt(1 / input_dims)
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims))
        self._quantized = False

    def _extra_repr(self):
        out_dims, in_dims = self.weight.shape
        if self.weight.dtype == mx.uint32:
            in_dims = in_dims * 32 // self.bits
        return f"input_dims={in_dims}, output_dims={out_dims}, group_size={self.group_size}, bits={self.bits}, mode={self.mode}"

    def quantize(self):
        if not self._quantized:
            self.weight, self.scales = mx.quantize(self.weight, self.group_size, self.bits, mode=self.mode)
            self._quantized = True

    def dequantize(self):
        if self._quantized:
            self.weight = mx.dequantize(
                self.weight, scales=self.scales, group_size=self.group_size, bits=self.bits, mode=self.mode
            )
            del self.scales
            self._quantized = False

    def _set_training_mode(self, mode: bool):
        super()._set_training_mode(mode)
        if self._training:
            self.dequantize()
        else:
            self.quantize()

    def __call__(self, x):
        return mx.qqmm(
            x, self["weight"], scales=self.get("scales"), group_size=self.group_size, bits=self.bits, mode=self.mode
        )

    @classmethod
    def from_linear(cls, linear_layer: Module, group_size: int = None, bits: int = None, mode: str = "nvfp4"):
        """Make a :class:`QQLinear` from a :class:`Linear` without bias."""
        out_dims, in_dims = linear_layer.weight.shape
        if linear_layer.get("bias") is not None:
            raise NotImplementedError("QQLinear does not support bias yet.")
        q = cls(in_dims, out_dims, group_size, bits, mode=mode)
        q.weight = linear_layer.weight
        q.train(linear_layer.training)
        return q
