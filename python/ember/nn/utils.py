"""Helpers tying modules to the transformations: value_and_grad, checkpoint, average_gradients."""

from functools import wraps
from typing import Any, Callable, Optional

import ember.core as mx
from ember.nn.layers.base import Module
from ember.utils import tree_map


def value_and_grad(model: Module, fn: Callable):
    """Like ``mx.value_and_grad`` but the gradients are taken with respect to ``model``'s trainable
    parameters; ``fn(*args, **kwargs)`` calls the model. Returns ``(value, grads)``."""

    def with_params(params, *args, **kwargs):
        model.update(params)
        return fn(*args, **kwargs)

    vg = mx.value_and_grad(with_params)

    @wraps(fn)
    def wrapped(*args, **kwargs):
        return vg(model.trainable_parameters(), *args, **kwargs)

    return wrapped


def checkpoint(module: Module, fn: Optional[Callable] = None):
    """Call ``fn`` (the module itself by default) so that its intermediates are recomputed in the
    backward pass instead of stored."""
    if fn is None:
        fn = module.__call__

    def with_params(params, *args, **kwargs):
        module.update(params)
        return fn(*args, **kwargs)

    recomputed = mx.checkpoint(with_params)

    @wraps(fn)
    def wrapped(*args, **kwargs):
        return recomputed(module.trainable_parameters(), *args, **kwargs)

    return wrapped


def average_gradients(
    gradients: Any,
    group=None,
    all_reduce_size: int = 32 * 1024**2,
    communication_stream=None,
):
    """Average ``gradients`` over the processes of a distributed group.

    With a single process (or no distributed support) the gradients come back unchanged.
    """
    dist = getattr(mx, "distributed", None)
    if dist is None:
        return gradients
    group = group or dist.init()
    n = group.size()
    if n == 1:
        return gradients
    return tree_map(lambda g: dist.all_sum(g, group=group, stream=communication_stream) / n, gradients)
