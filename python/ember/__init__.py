"""Ember: lazy arrays with composable function transformations."""

from ember import core

__version__ = core.__version__
__all__ = ["core"]
