"""Ember: lazy arrays with composable function transformations."""

from ember import core
from ember._jacobians import hessian, jacfwd, jacrev

core.jacrev = jacrev
core.jacfwd = jacfwd
core.hessian = hessian

__version__ = core.__version__
__all__ = ["core", "utils"]
