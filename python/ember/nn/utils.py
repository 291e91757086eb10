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
    """Average ``gradients`` (a tree of arrays alike on every process) over the processes of a
    distributed group (the global group when ``group`` is None).

    Small arrays of one dtype are flattened and concatenated into buffers of up to
    ``all_reduce_size`` bytes, so that few collectives move them (``all_reduce_size <= 0``:
    one collective per array). With a single process the gradients come back unchanged.
    """
    from ember.utils import tree_flatten, tree_unflatten

    group = group or mx.distributed.init()
    n = group.size()
    if n == 1:
        return gradients

    def average(x):
        return mx.distributed.all_sum(x, group=group, stream=communication_stream) / n

    if all_reduce_size <= 0:
        return tree_map(average, gradients)
    flat = tree_flatten(gradients)
    if not flat:
        return gradients
    keys = [k for k, _ in flat]
    values = [v for _, v in flat]
    out = [None] * len(values)
    by_dtype = {}
    for i, v in enumerate(values):
        by_dtype.setdefault(v.dtype, []).append(i)
    for idx in by_dtype.values():
        buckets, cur, size = [], [], 0
        for i in idx:
            nbytes = values[i].nbytes
            if cur and size + nbytes > all_reduce_size:
                buckets.append(cur)
                cur, size = [], 0
            cur.append(i)
            size += nbytes
        buckets.append(cur)
        for bucket in buckets:
            if len(bucket) == 1:
                out[bucket[0]] = average(values[bucket[0]])
                continue
            joined = average(mx.concatenate([values[j].reshape(-1) for j in bucket]))
            offsets, total = [], 0
            for j in bucket[:-1]:
                total += values[j].size
                offsets.append(total)
            for j, part in zip(bucket, mx.split(joined, offsets)):
                out[j] = part.reshape(values[j].shape)
    return tree_unflatten(list(zip(keys, out)))


def clip_grad_norm_sharded(gradients: Any, max_norm: float, group=None):
    """Clip the global L2 norm of gradients split across the processes of ``group`` (each holds
    its shard, e.g. under :func:`ember.nn.fully_shard`): the squared norms of the shards are
    summed over the group. Returns ``(this process's possibly rescaled gradients, the global
    norm)``."""
    from ember.utils import tree_reduce

    group = group or mx.distributed.init()
    local = tree_reduce(lambda acc, g: acc + mx.sum(mx.square(g.astype(mx.float32))), gradients,
                        mx.array(0.0))
    total = mx.sqrt(mx.distributed.all_sum(local, group=group))
    factor = mx.minimum(max_norm / (total + 1e-6), 1.0)
    return tree_map(lambda g: (g * factor).astype(g.dtype), gradients), total
