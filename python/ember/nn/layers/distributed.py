"""Layers split across the processes of a distributed group (tensor parallelism).

``AllToShardedLinear`` takes the full input on every process and gives each process a slice
of the output features; ``ShardedToAllLinear`` takes such a slice of the input features and
sums the partial products across the group, so every process gets the full output. Put one
after the other, the pair is a linear-activation-linear block whose weights are split across
the processes, with one collective in the forward pass and one in the backward pass.
Derivatives of the collectives are local (as in MLX), so the gradients of each process's
weights are the matching slices of the gradients of the unsplit block.
"""
import math
from typing import Callable, Optional, Union

import ember.core as mx
from ember.nn.layers.base import Module
from ember.nn.layers.quantized import _defaults_for_mode
from ember.utils import tree_flatten, tree_map, tree_map_with_path


def sum_gradients(group):
    """The identity, whose vjp sums the cotangent across ``group``."""
    if group.size() == 1:
        return lambda x: x

    @mx.custom_function
    def f(x):
        return x

    @f.vjp
    def f_vjp(x, dx, _):
        return mx.distributed.all_sum(dx, group=group)

    return f


def _split(w, segments, axis):
    """mx.split, also by fractions of the axis (a list of floats)."""
    if isinstance(segments, int) or isinstance(segments[0], int):
        return mx.split(w, segments, axis=axis)
    n = w.shape[axis]
    return mx.split(w, [int(s * n) for s in segments], axis=axis)


def _shard(params, sharding_fn, group):
    """Each parameter split along the axis ``sharding_fn(path, weight)`` gives (None: kept);
    every one of its ``segments`` parts is split across the group and this rank's pieces are
    joined again. The tree keeps its structure (empty entries included)."""
    n, r = group.size(), group.rank()

    def shard(path, w):
        s = sharding_fn(path, w)
        if s is None:
            return w
        axis, segments = s if isinstance(s, tuple) else (s, 1)
        parts = [_split(p, n, axis)[r] for p in _split(w, segments, axis)]
        return mx.contiguous(mx.concatenate(parts, axis=axis))

    return tree_map_with_path(shard, params)


def _all_to_sharded(segments):
    def fn(path, w):
        if path.endswith("bias"):
            return -1, segments
        return max(w.ndim - 2, 0), segments
    return fn


def _sharded_to_all(segments):
    def fn(path, w):
        if path.endswith("bias"):
            return None
        return -1, segments
    return fn


def _check_divisible(value, n, what):
    if value % n != 0:
        raise ValueError(f"The {what} ({value}) must be divisible by the group size ({n}).")


def _sharded_copy(cls, layer, sharding, group):
    """A `cls` layer holding this process's shard of `layer`'s parameters (a Linear or a
    QuantizedLinear: then the packed weight's columns hold 32 // bits inputs each)."""
    group = group or mx.distributed.init()
    out_dims, in_dims = layer.weight.shape
    if "scales" in layer:
        in_dims = in_dims * 32 // layer.bits
        quant = (layer.group_size, layer.bits, layer.mode)
    else:
        quant = ()
    copy = cls(in_dims, out_dims, "bias" in layer, *quant, group)
    copy.update(_shard(layer.parameters(), sharding, group))
    return copy


class AllToShardedLinear(Module):
    """A linear layer whose output features are split across the group: every process takes
    the full input and returns its ``output_dims / N`` features."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True,
                 group: Optional[mx.distributed.Group] = None):
        super().__init__()
        scale = math.sqrt(1.0 / input_dims)
        self.group = group or mx.distributed.init()
        n = self.group.size()
        _check_divisible(output_dims, n, "output dimensions")
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims // n, input_dims))
        if bias:
            self.bias = mx.random.uniform(low=-scale, high=scale, shape=(output_dims // n,))

    def _extra_repr(self) -> str:
        out_dims, in_dims = self.weight.shape
        return (f"input_dims={in_dims}, output_dims={out_dims * self.group.size()}, "
                f"bias={'bias' in self}")

    def __call__(self, x):
        x = sum_gradients(self.group)(x)
        if "bias" in self:
            return mx.addmm(self["bias"], x, self["weight"].T)
        return x @ self["weight"].T

    @classmethod
    def from_linear(cls, linear_layer: Module, *, segments: Union[int, list] = 1,
                    group: Optional[mx.distributed.Group] = None):
        return _sharded_copy(cls, linear_layer, _all_to_sharded(segments), group)


class ShardedToAllLinear(Module):
    """A linear layer whose input features are split across the group: every process takes its
    ``input_dims / N`` features and the partial products are summed, so all get the full
    output."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True,
                 group: Optional[mx.distributed.Group] = None):
        super().__init__()
        scale = math.sqrt(1.0 / input_dims)
        self.group = group or mx.distributed.init()
        n = self.group.size()
        _check_divisible(input_dims, n, "input dimensions")
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims // n))
        if bias:
            self.bias = mx.random.uniform(low=-scale, high=scale, shape=(output_dims,))

    def _extra_repr(self) -> str:
        out_dims, in_dims = self.weight.shape
        return (f"input_dims={in_dims * self.group.size()}, output_dims={out_dims}, "
                f"bias={'bias' in self}")

    def __call__(self, x):
        x = mx.distributed.all_sum(x @ self["weight"].T, group=self.group)
        if "bias" in self:
            x = x + self["bias"]
        return x

    @classmethod
    def from_linear(cls, linear_layer: Module, *, segments: Union[int, list] = 1,
                    group: Optional[mx.distributed.Group] = None):
        return _sharded_copy(cls, linear_layer, _sharded_to_all(segments), group)


class _QuantizedSharded(Module):
    def _init_quantized(self, weight_shape, group_size, bits, mode, scale):
        self.group_size, self.bits = _defaults_for_mode(mode, group_size, bits)
        self.mode = mode
        w = mx.random.uniform(low=-scale, high=scale, shape=weight_shape)
        packed, scales, *biases = mx.quantize(w, self.group_size, self.bits, mode=mode)
        self.weight, self.scales = packed, scales
        if biases:
            self.biases = biases[0]

    def unfreeze(self, *args, **kwargs):
        """Unfreeze like :meth:`Module.unfreeze`; this layer's own arrays stay frozen."""
        super().unfreeze(*args, **kwargs)
        self.freeze(recurse=False)
        return self

    def _matmul(self, x):
        return mx.quantized_matmul(x, self["weight"], scales=self["scales"],
                                   biases=self.get("biases"), transpose=True,
                                   group_size=self.group_size, bits=self.bits, mode=self.mode)

    def _extra_repr(self) -> str:
        out_dims, in_dims = self.weight.shape
        in_dims = in_dims * 32 // self.bits
        n = self.group.size()
        if isinstance(self, QuantizedAllToShardedLinear):
            out_dims *= n
        else:
            in_dims *= n
        return (f"input_dims={in_dims}, output_dims={out_dims}, bias={'bias' in self}, "
                f"group_size={self.group_size}, bits={self.bits}, mode={self.mode}")



class QuantizedAllToShardedLinear(_QuantizedSharded):
    """:class:`AllToShardedLinear` with a quantized weight (frozen)."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True,
                 group_size: int = 64, bits: int = 4, mode: str = "affine",
                 group: Optional[mx.distributed.Group] = None):
        super().__init__()
        self.group = group or mx.distributed.init()
        n = self.group.size()
        _check_divisible(output_dims, n, "output dimensions")
        self._init_quantized((output_dims // n, input_dims), group_size, bits, mode,
                             math.sqrt(1.0 / input_dims))
        if bias:
            self.bias = mx.zeros((output_dims // n,))
        self.freeze()

    def __call__(self, x):
        x = self._matmul(sum_gradients(self.group)(x))
        return x + self["bias"] if "bias" in self else x

    @classmethod
    def from_quantized_linear(cls, quantized_linear_layer: Module, *,
                              segments: Union[int, list] = 1,
                              group: Optional[mx.distributed.Group] = None):
        return _sharded_copy(cls, quantized_linear_layer, _all_to_sharded(segments), group)


class QuantizedShardedToAllLinear(_QuantizedSharded):
    """:class:`ShardedToAllLinear` with a quantized weight (frozen)."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True,
                 group_size: int = 64, bits: int = 4, mode: str = "affine",
                 group: Optional[mx.distributed.Group] = None):
        super().__init__()
        self.group = group or mx.distributed.init()
        n = self.group.size()
        _check_divisible(input_dims, n, "input dimensions")
        self._init_quantized((output_dims, input_dims // n), group_size, bits, mode,
                             math.sqrt(1.0 / input_dims))
        if bias:
            self.bias = mx.zeros((output_dims,))
        self.freeze()

    def __call__(self, x):
        x = mx.distributed.all_sum(self._matmul(x), group=self.group)
        return x + self["bias"] if "bias" in self else x

    @classmethod
    def from_quantized_linear(cls, quantized_linear_layer: Module, *,
                              segments: Union[int, list] = 1,
                              group: Optional[mx.distributed.Group] = None):
        return _sharded_copy(cls, quantized_linear_layer, _sharded_to_all(segments), group)


def shard_inplace(module: Module, sharding: Union[str, Callable], *,
                  segments: Union[int, list] = 1, group: Optional[mx.distributed.Group] = None):
    """Replace ``module``'s parameters by this rank's shards. ``sharding`` is
    ``"all-to-sharded"``, ``"sharded-to-all"`` or a function ``(path, weight)`` giving the
    axis (or ``(axis, segments)``, or None to keep a parameter whole)."""
    group = group or mx.distributed.init()
    if sharding == "all-to-sharded":
        fn = _all_to_sharded(segments)
    elif sharding == "sharded-to-all":
        fn = _sharded_to_all(segments)
    elif callable(sharding):
        fn = sharding
    else:
        raise ValueError("sharding must be 'all-to-sharded', 'sharded-to-all' or a function; "
                         f"got {sharding!r}")
    module.update(_shard(module.parameters(), fn, group))


def shard_linear(module: Module, sharding: str, *, segments: Union[int, list] = 1,
                 group: Optional[mx.distributed.Group] = None):
    """The sharded layer for a ``Linear`` or ``QuantizedLinear`` (``sharding``:
    ``"all-to-sharded"`` or ``"sharded-to-all"``)."""
    from ember.nn.layers.linear import Linear
    from ember.nn.layers.quantized import QuantizedLinear

    table = {("all-to-sharded", False): AllToShardedLinear.from_linear,
             ("sharded-to-all", False): ShardedToAllLinear.from_linear,
             ("all-to-sharded", True): QuantizedAllToShardedLinear.from_quantized_linear,
             ("sharded-to-all", True): QuantizedShardedToAllLinear.from_quantized_linear}
    if not isinstance(module, (Linear, QuantizedLinear)):
        raise ValueError(f"shard_linear takes a Linear or QuantizedLinear; got {type(module).__name__}")
    key = (sharding, isinstance(module, QuantizedLinear))
    if key not in table:
        raise ValueError(f"sharding must be 'all-to-sharded' or 'sharded-to-all'; got {sharding!r}")
    return table[key](module, segments=segments, group=group)


# ---------- fully sharded data parallelism

def _not_nested_sharded(module, key, value):
    return (not isinstance(value, FullyShardedModule)
            and Module.valid_parameter_filter(module, key, value))


def _gather_params(group, full_shapes, compute_dtype):
    """A function from this rank's shards (axis-0 slices) of the parameters to the full
    parameters: one all_gather of all the shards flattened side by side. Its vjp sums the
    gradients of every rank and hands each rank the mean for its own shards (one
    sum_scatter), as data parallelism needs."""
    n = group.size()
    sizes = [math.prod(s) // n for s in full_shapes]
    offsets = [sum(sizes[:i + 1]) for i in range(len(sizes) - 1)]

    def cast(x, dtype):
        return x if dtype is None or x.dtype == dtype else x.astype(dtype)

    @mx.custom_function
    def gather(shards):
        flat = mx.concatenate([cast(s.reshape(1, -1), compute_dtype) for s in shards], axis=1)
        every = mx.distributed.all_gather(flat, group=group)  # (n, sum of shard sizes)
        return [p.reshape(s) for p, s in zip(mx.split(every, offsets, axis=1), full_shapes)]

    @gather.vjp
    def gather_vjp(shards, cotangents, _):
        rows = mx.concatenate([c.reshape(n, -1) for c in cotangents], axis=1)
        mine = mx.distributed.sum_scatter(rows, group=group) / n
        return [cast(p.reshape(s.shape), s.dtype)
                for p, s in zip(mx.split(mine, offsets, axis=1), shards)]

    return gather


class FullyShardedModule(Module):
    """A module whose parameters are split along axis 0 across the group: each process stores
    (and its optimizer updates) only its shard. The full parameters are gathered for each call
    and the gradients come back averaged over the group and reduced to the local shards.
    Every parameter's first axis must be divisible by the group size. Made by
    :func:`fully_shard`."""

    def __init__(self, module: Module, group: Optional[mx.distributed.Group] = None,
                 compute_dtype: Optional[mx.Dtype] = None):
        super().__init__()
        group = group or mx.distributed.init()
        n = group.size()
        flat = tree_flatten(module.filter_and_map(_not_nested_sharded))
        for path, a in flat:
            if a.ndim == 0:
                raise ValueError(f"[fully_shard] Cannot shard the scalar parameter '{path}'.")
            if a.shape[0] % n:
                raise ValueError(f"[fully_shard] Cannot shard parameter '{path}' of shape "
                                 f"{tuple(a.shape)} across {n} processes: its first axis must "
                                 f"be divisible by {n}.")
        object.__setattr__(self, "_paths", [p for p, _ in flat])
        object.__setattr__(self, "_gather",
                           _gather_params(group, [a.shape for _, a in flat], compute_dtype))
        module.update(_shard(module.filter_and_map(_not_nested_sharded), lambda p, w: 0, group))
        self.module = module

    def _extra_repr(self) -> str:
        return f"num_sharded_params={len(self._paths)}"

    def _gathered_call(self, fn, *args, **kwargs):
        shards_tree = self.module.filter_and_map(_not_nested_sharded)
        shards = [a for _, a in tree_flatten(shards_tree)]
        fulls = iter(self._gather(shards))
        self.module.update(tree_map(lambda _: next(fulls), shards_tree))
        try:
            return fn(*args, **kwargs)
        finally:
            self.module.update(shards_tree)

    def __call__(self, *args, **kwargs):
        return self._gathered_call(self.module, *args, **kwargs)

    def as_linear(self, *args, **kwargs):
        return self._gathered_call(self.module.as_linear, *args, **kwargs)


def fully_shard(module: Module, *, group: Optional[mx.distributed.Group] = None,
                compute_dtype: Optional[mx.Dtype] = None) -> Module:
    """``module`` wrapped in a :class:`FullyShardedModule`; unchanged with one process, when
    it is already wrapped, or when it has no parameters to shard."""
    group = group or mx.distributed.init()
    if group.size() == 1 or isinstance(module, FullyShardedModule):
        return module
    wrapped = FullyShardedModule(module, group=group, compute_dtype=compute_dtype)
    return wrapped if wrapped._paths else module
