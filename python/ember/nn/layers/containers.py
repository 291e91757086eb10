"""Sequential container."""

from ember.nn.layers.base import Module


class Sequential(Module):
    """Calls its modules (or plain callables) one after the other, feeding each the previous output."""

    def __init__(self, *modules):
        super().__init__()
        self.layers = list(modules)

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
