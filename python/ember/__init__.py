"""Ember: lazy arrays with composable function transformations."""

from ember import core
from ember._jacobians import hessian, jacfwd, jacrev

core.jacrev = jacrev
core.jacfwd = jacfwd
core.hessian = hessian

from ember import _nn_extensions  # noqa: E402

_nn_extensions.install()

__version__ = core.__version__
__all__ = ["core", "utils"]
