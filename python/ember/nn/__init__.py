"""Neural network layers, losses and initializers (the ``mlx.nn`` API)."""

from ember.nn import init, losses
from ember.nn.layers import *  # noqa: F401,F403
from ember.nn.layers import Module
from ember.nn.utils import average_gradients, checkpoint, value_and_grad
