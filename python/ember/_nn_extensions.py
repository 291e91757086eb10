"""Extensions of ``ember.core`` that tie it to ``ember.nn`` (not in MLX, and not in conflict with it).

- ``mx.relu(x)``: the same as ``nn.relu``.
- ``mx.value_and_grad(module, fn)``: with a Module first and a callable second (MLX's second
  argument is ``argnums``, never callable) it is ``nn.value_and_grad(module, fn)``.
"""

from ember import core

_core_value_and_grad = core.value_and_grad


def relu(x):
    """Rectified linear unit, ``maximum(x, 0)`` (the same as ``ember.nn.relu``)."""
    return core.maximum(x, 0)


def value_and_grad(fun, argnums=None, argnames=None):
    if callable(argnums) and isinstance(fun, dict) and hasattr(fun, "trainable_parameters"):
        if argnames is not None:
            raise ValueError("[value_and_grad] argnames cannot be given with a Module and a function.")
        from ember.nn.utils import value_and_grad as module_value_and_grad

        return module_value_and_grad(fun, argnums)
    return _core_value_and_grad(fun, argnums, argnames)


value_and_grad.__doc__ = _core_value_and_grad.__doc__ + (
    "\n\nWith an ``ember.nn.Module`` first and a function second, returns ``nn.value_and_grad(module, fn)``."
)


def install():
    if not hasattr(core, "relu"):
        core.relu = relu
    if core.value_and_grad is _core_value_and_grad:
        core.value_and_grad = value_and_grad
