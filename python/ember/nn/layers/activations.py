"""Activation functions, each as a function and as a Module."""

import math

import ember.core as mx
from ember.nn.layers.base import Module


def sigmoid(x):
    r"""Elementwise logistic sigmoid :math:`1 / (1 + e^{-x})`."""
    return mx.sigmoid(x)


def relu(x):
    r"""Rectified linear unit: ``max(x, 0)``."""
    return mx.maximum(x, 0)


def relu2(x):
    r"""Squared rectified linear unit: ``max(x, 0) ** 2``."""
    return mx.square(mx.maximum(x, 0))


def relu6(x):
    r"""Rectified linear unit capped at 6: ``min(max(x, 0), 6)``."""
    return mx.minimum(mx.maximum(x, 0), 6.0)


def leaky_relu(x, negative_slope=0.01):
    r"""``max(negative_slope * x, x)``."""
    return mx.maximum(negative_slope * x, x)


def log_softmax(x, axis=-1):
    r"""``x - logsumexp(x, axis)``."""
    return x - mx.logsumexp(x, axis=axis, keepdims=True)


def elu(x, alpha=1.0):
    r"""Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    return mx.where(x > 0, x, alpha * (mx.exp(x) - 1))


def celu(x, alpha=1.0):
    r"""``max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)``."""
    return mx.maximum(x, 0.0) + alpha * (mx.exp(mx.minimum(x, 0.0) / alpha) - 1)


def selu(x):
    r"""Scaled exponential linear unit: ``1.0507 * elu(x, 1.67326)``."""
    return elu(x, 1.67326) * 1.0507


def softplus(x):
    r"""``log(1 + exp(x))``, computed stably."""
    return mx.logaddexp(x, 0)


def softsign(x):
    r"""``x / (1 + |x|)``."""
    return mx.divide(x, 1 + mx.abs(x))


def softshrink(x, lambd: float = 0.5):
    r"""``x - sign(x) * lambd`` where ``|x| > lambd``, else 0."""
    return mx.where(mx.abs(x) > lambd, x - mx.sign(x) * lambd, 0)


def silu(x):
    r"""Sigmoid linear unit (swish): ``x * sigmoid(x)``."""
    return x * mx.sigmoid(x)


def log_sigmoid(x):
    r"""``log(sigmoid(x)) = -softplus(-x)``."""
    return -softplus(-x)


def gelu(x):
    r"""Gaussian error linear unit: ``x * Phi(x)`` with the exact normal CDF."""
    return x * (1 + mx.erf(x / math.sqrt(2))) / 2


def gelu_approx(x):
    r"""GELU with the tanh approximation:
    ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``."""
    return 0.5 * x * (1 + mx.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def gelu_fast_approx(x):
    r"""GELU with the sigmoid approximation ``x * sigmoid(1.702 * x)``."""
    return x * mx.sigmoid(1.702 * x)


def glu(x, axis: int = -1):
    r"""Gated linear unit: split ``x`` in two halves ``a, b`` along ``axis`` and return ``a * sigmoid(b)``."""
    a, b = mx.split(x, indices_or_sections=2, axis=axis)
    return a * mx.sigmoid(b)


def step(x, threshold: float = 0.0):
    r"""1 where ``x >= threshold``, else 0."""
    return mx.where(x >= threshold, 1, 0)


def mish(x):
    r"""``x * tanh(softplus(x))``."""
    return x * mx.tanh(softplus(x))


def prelu(x, alpha):
    r"""``max(0, x) + alpha * min(0, x)`` with a learned ``alpha``."""
    return mx.maximum(0, x) + alpha * mx.minimum(0, x)


def hardswish(x):
    r"""``x * min(max(x + 3, 0), 6) / 6``."""
    return x * mx.minimum(mx.maximum(x + 3, 0), 6) / 6


def hard_tanh(x, min_val=-1.0, max_val=1.0):
    r"""``x`` clipped to ``[min_val, max_val]``."""
    return mx.minimum(mx.maximum(x, min_val), max_val)


def hard_shrink(x, lambd=0.5):
    r"""``x`` where ``|x| > lambd``, else 0."""
    return mx.where(mx.abs(x) > lambd, x, 0)


def softmax(x, axis=-1):
    r"""``exp(x) / sum(exp(x))`` along ``axis``."""
    return mx.softmax(x, axis=axis)


def softmin(x, axis=-1):
    r"""``softmax(-x)`` along ``axis``."""
    return mx.softmax(-x, axis=axis)


def tanh(x):
    r"""Hyperbolic tangent."""
    return mx.tanh(x)




class Sigmoid(Module):
    """Applies :func:`sigmoid`."""

    def __call__(self, x):
        return sigmoid(x)


class ReLU(Module):
    """Applies :func:`relu`."""

    def __call__(self, x):
        return relu(x)


class ReLU2(Module):
    """Applies :func:`relu2`."""

    def __call__(self, x):
        return relu2(x)


class ReLU6(Module):
    """Applies :func:`relu6`."""

    def __call__(self, x):
        return relu6(x)


class LeakyReLU(Module):
    """Applies :func:`leaky_relu` with slope ``negative_slope`` for negative inputs."""

    def __init__(self, negative_slope=1e-2):
        super().__init__()
        self._negative_slope = negative_slope

    def __call__(self, x):
        return leaky_relu(x, self._negative_slope)


class ELU(Module):
    """Applies :func:`elu`."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return elu(x, self._alpha)


class CELU(Module):
    """Applies :func:`celu`."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return celu(x, self._alpha)


class SELU(Module):
    """Applies :func:`selu`."""

    def __call__(self, x):
        return selu(x)


class Softplus(Module):
    """Applies :func:`softplus`."""

    def __call__(self, x):
        return softplus(x)


class Softsign(Module):
    """Applies :func:`softsign`."""

    def __call__(self, x):
        return softsign(x)


class Softshrink(Module):
    """Applies :func:`softshrink`."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def __call__(self, x):
        return softshrink(x, self.lambd)


class SiLU(Module):
    """Applies :func:`silu`."""

    def __call__(self, x):
        return silu(x)


class LogSigmoid(Module):
    """Applies :func:`log_sigmoid`."""

    def __call__(self, x):
        return log_sigmoid(x)


class GELU(Module):
    """Gaussian error linear unit.

    ``approx`` picks the formula: ``'none'`` (exact, :func:`gelu`), ``'precise'`` or
    ``'tanh'`` (:func:`gelu_approx`), ``'fast'`` (:func:`gelu_fast_approx`).
    """

    def __init__(self, approx="none"):
        super().__init__()
        if approx == "none":
            self._act = gelu
        elif approx in ("precise", "tanh"):
            self._act = gelu_approx
        elif approx == "fast":
            self._act = gelu_fast_approx
        else:
            raise ValueError(
                f"The approximation should be in ['none', 'precise', 'tanh', 'fast'] but '{approx}' was given"
            )

    def __call__(self, x):
        return self._act(x)


class GLU(Module):
    """Applies :func:`glu` along ``axis``."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def __call__(self, x):
        return glu(x=x, axis=self.axis)


class Step(Module):
    """Applies :func:`step` with ``threshold``."""

    def __init__(self, threshold: float = 0.0):
        super().__init__()
        self.threshold = threshold

    def __call__(self, x):
        return step(x, self.threshold)


class Mish(Module):
    """Applies :func:`mish`."""

    def __call__(self, x):
        return mish(x)


class PReLU(Module):
    """Parametric ReLU with ``num_parameters`` learned slopes (``weight``) starting at ``init``."""

    def __init__(self, num_parameters=1, init=0.25):
        super().__init__()
        self.weight = mx.full([num_parameters], init)

    def __call__(self, x):
        return prelu(x, self.weight)


class Hardswish(Module):
    """Applies :func:`hardswish`."""

    def __call__(self, x):
        return hardswish(x)


class HardTanh(Module):
    """Applies :func:`hard_tanh`."""

    def __call__(self, x):
        return hard_tanh(x)


class HardShrink(Module):
    """Applies :func:`hard_shrink`."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def __call__(self, x):
        return hard_shrink(x, self.lambd)


class Tanh(Module):
    """Applies :func:`tanh`."""

    def __call__(self, x):
        return tanh(x)


class Softmax(Module):
    """Applies :func:`softmax` along the last axis."""

    def __call__(self, x):
        return softmax(x)


class Softmin(Module):
    """Applies :func:`softmin` along the last axis."""

    def __call__(self, x):
        return softmin(x)


class LogSoftmax(Module):
    """Applies :func:`log_softmax` along the last axis."""

    def __call__(self, x):
        return log_softmax(x)
