"""Normalization layers: LayerNorm, RMSNorm, GroupNorm, InstanceNorm, BatchNorm."""

import ember.core as mx
from ember.nn.layers.base import Module

_LOW_PRECISION = None


def _upcast(x):
    global _LOW_PRECISION
    if _LOW_PRECISION is None:
        _LOW_PRECISION = {mx.float16, mx.bfloat16}
    return x.astype(mx.float32) if x.dtype in _LOW_PRECISION else x


def layer_norm(x, weight, bias, eps):
    """Normalize over the last axis (mean 0, variance 1), then scale by ``weight`` and shift by ``bias``."""
    fast = getattr(mx, "fast", None)
    if fast is not None and hasattr(fast, "layer_norm"):
        return fast.layer_norm(x, weight, bias, eps)
    xf = _upcast(x)
    mean = mx.mean(xf, axis=-1, keepdims=True)
    var = mx.var(xf, axis=-1, keepdims=True)
    y = ((xf - mean) * mx.rsqrt(var + eps)).astype(x.dtype)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def rms_norm(x, weight, eps):
    """Divide by the root mean square over the last axis, then scale by ``weight``."""
    fast = getattr(mx, "fast", None)
    if fast is not None and hasattr(fast, "rms_norm"):
        return fast.rms_norm(x, weight, eps)
    xf = _upcast(x)
    y = (xf * mx.rsqrt(mx.mean(mx.square(xf), axis=-1, keepdims=True) + eps)).astype(x.dtype)
    if weight is not None:
        y = weight * y
    return y


class LayerNorm(Module):
    r"""Layer normalization over the last axis of size ``dims``.

    With ``affine`` a learned ``weight`` (ones) scales the result; with ``bias`` too, a learned
    ``bias`` (zeros) shifts it.
    """

    def __init__(self, dims: int, eps: float = 1e-5, affine: bool = True, bias: bool = True):
        super().__init__()
        if eps <= 0.0:
            raise ValueError(f"[LayerNorm] 'eps' must be positive but got {eps}.")
        if affine:
            self.weight = mx.ones((dims,))
            if bias:
                self.bias = mx.zeros((dims,))
        self.eps = eps
        self.dims = dims

    def _extra_repr(self):
        return f"{self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x):
        return layer_norm(x, self.get("weight"), self.get("bias"), self.eps)


class RMSNorm(Module):
    r"""Root-mean-square normalization over the last axis with a learned ``weight`` (ones)."""

    def __init__(self, dims: int, eps: float = 1e-5):
        super().__init__()
        if eps <= 0.0:
            raise ValueError(f"[RMSNorm] 'eps' must be positive but got {eps}.")
        self.weight = mx.ones((dims,))
        self.eps = eps

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, eps={self.eps}"

    def __call__(self, x):
        return rms_norm(x, self["weight"], self.eps)


class GroupNorm(Module):
    r"""Group normalization of channels-last inputs ``(N, ..., dims)`` in ``num_groups`` groups.

    By default a group holds every ``num_groups``-th channel; with ``pytorch_compatible`` a group
    holds consecutive channels, as in PyTorch.
    """

    def __init__(
        self,
        num_groups: int,
        dims: int,
        eps: float = 1e-5,
        affine: bool = True,
        pytorch_compatible: bool = False,
    ):
        super().__init__()
        if eps <= 0.0:
            raise ValueError(f"[GroupNorm] 'eps' must be positive but got {eps}.")
        if num_groups <= 0:
            raise ValueError(f"The number of groups ({num_groups}) must be a positive integer.")
        if dims <= 0:
            raise ValueError(f"The number of features ({dims}) must be a positive integer.")
        if dims % num_groups != 0:
            raise ValueError(
                f"The number of features ({dims}) must be evenly divisible by the number of groups ({num_groups})."
            )
        if affine:
            self.bias = mx.zeros((dims,))
            self.weight = mx.ones((dims,))
        self.num_groups = num_groups
        self.dims = dims
        self.eps = eps
        self.pytorch_compatible = pytorch_compatible

    def _extra_repr(self):
        return (
            f"{self.num_groups}, {self.dims}, eps={self.eps}, "
            f"affine={'weight' in self}, pytorch_compatible={self.pytorch_compatible}"
        )

    def _pytorch_group_norm(self, x):
        batch, *rest, dims = x.shape
        size = dims // self.num_groups
        x = x.reshape(batch, -1, self.num_groups, size)
        x = x.transpose(0, 2, 1, 3).reshape(batch, self.num_groups, -1)
        x = layer_norm(x, None, None, self.eps)
        x = x.reshape(batch, self.num_groups, -1, size)
        return x.transpose(0, 2, 1, 3).reshape(batch, *rest, dims)

    def _group_norm(self, x):
        batch, *rest, dims = x.shape
        x = x.reshape(batch, -1, self.num_groups)
        mean = mx.mean(x, axis=1, keepdims=True)
        var = mx.var(x, axis=1, keepdims=True)
        x = (x - mean) * mx.rsqrt(var + self.eps)
        return x.reshape(batch, *rest, dims)

    def __call__(self, x):
        if self.pytorch_compatible:
            x = self._pytorch_group_norm(x)
        else:
            x = self._group_norm(x)
        return (self.weight * x + self.bias) if "weight" in self else x


class InstanceNorm(Module):
    r"""Instance normalization: each channel of each sample normalized over the spatial axes
    (all but the first and last of a channels-last input)."""

    def __init__(self, dims: int, eps: float = 1e-5, affine: bool = False):
        super().__init__()
        if eps <= 0.0:
            raise ValueError(f"[InstanceNorm] 'eps' must be positive but got {eps}.")
        if affine:
            self.weight = mx.ones((dims,))
            self.bias = mx.zeros((dims,))
        self.dims = dims
        self.eps = eps

    def _extra_repr(self):
        return f"{self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x):
        if x.ndim < 3:
            raise ValueError(
                f"InstanceNorm expects inputs with at least 3 dimensions (N, ..., C) but the input has {x.ndim} dimensions."
            )
        axes = tuple(range(1, x.ndim - 1))
        mean = mx.mean(x, axis=axes, keepdims=True)
        var = mx.var(x, axis=axes, keepdims=True)
        x = (x - mean) * mx.rsqrt(var + self.eps)
        return (self.weight * x + self.bias) if "weight" in self else x


class BatchNorm(Module):
    r"""Batch normalization over all axes but the last (channels-last inputs of 2 to 4 dims).

    In training the batch statistics normalize the input and update ``running_mean`` /
    ``running_var`` (``running = (1 - momentum) * running + momentum * batch``); in evaluation the
    running statistics are used. The running statistics are state, never trained.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ):
        super().__init__()
        if eps <= 0.0:
            raise ValueError(f"[BatchNorm] 'eps' must be positive but got {eps}.")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = mx.ones((num_features,))
            self.bias = mx.zeros((num_features,))
        if self.track_running_stats:
            self.running_mean = mx.zeros((num_features,))
            self.running_var = mx.ones((num_features,))
            self.freeze(keys=["running_mean", "running_var"], recurse=False)

    def unfreeze(self, *args, **kwargs):
        """Unfreeze like :meth:`Module.unfreeze`; the running statistics stay frozen."""
        super().unfreeze(*args, **kwargs)
        self.freeze(keys=["running_mean", "running_var"], recurse=False)
        return self

    def _extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={'weight' in self}, track_running_stats={self.track_running_stats}"
        )

    def _calc_stats(self, x):
        axes = tuple(range(0, x.ndim - 1))
        return mx.mean(x, axis=axes), mx.var(x, axis=axes)

    def __call__(self, x):
        if x.ndim < 2 or x.ndim > 4:
            raise ValueError(f"Expected input tensor to have 2, 3 or 4 dimensions, but got {x.ndim}")
        if self.training or not self.track_running_stats:
            if self.training and x.size // x.shape[-1] <= 1:
                raise ValueError("BatchNorm training requires more than one value per channel.")
            mean, var = self._calc_stats(x)
            if self.training and self.track_running_stats:
                mu = self.momentum
                self.running_mean = (1 - mu) * self.running_mean + mu * mean
                n = x.size // x.shape[-1]
                unbiased = var * (n / (n - 1))
                self.running_var = (1 - mu) * self.running_var + mu * unbiased
        else:
            mean = self.running_mean
            var = self.running_var
        x = (x - mean) * mx.rsqrt(var + self.eps)
        return (self.weight * x + self.bias) if "weight" in self else x
