"""Embedding lookup table."""

import math

import ember.core as mx
from ember.nn.layers.base import Module


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``dims`` indexed by integer arrays.

    ``weight`` starts as ``N(0, 1 / dims)``.
    """

    def __init__(self, num_embeddings: int, dims: int):
        super().__init__()
        scale = math.sqrt(1 / dims)
        self.weight = mx.random.normal(shape=(num_embeddings, dims), scale=scale)

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}"

    def __call__(self, x):
        return self.weight[x]

    def as_linear(self, x):
        """Use the table as a linear layer: ``x @ weight.T`` (e.g. for tied output projections)."""
        return x @ self.weight.T

    def to_quantized(self, group_size: int = None, bits: int = None, mode: str = "affine", quantize_input: bool = False):
        """A :class:`QuantizedEmbedding` copy of this layer."""
        from ember.nn.layers.quantized import QuantizedEmbedding

        if quantize_input:
            raise ValueError("Quantized input is not supported.")
        return QuantizedEmbedding.from_embedding(self, group_size, bits, mode)
