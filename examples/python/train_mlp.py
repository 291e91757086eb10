"""Train a small MLP classifier on synthetic data with ember.nn and ember.optimizers.

    PYTHONPATH=python python examples/python/train_mlp.py

The same script runs on MLX by changing the three imports below to mlx.
"""

from functools import partial

import ember.core as mx
import ember.nn as nn
import ember.optimizers as optim


class MLP(nn.Module):
    def __init__(self, in_dims, hidden, classes):
        super().__init__()
        self.layers = [nn.Linear(in_dims, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, classes)]

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = mx.relu(layer(x))
        return self.layers[-1](x)


def main():
    mx.random.seed(0)
    # Two interleaved classes: the label is the sign of x0 * x1.
    x = mx.random.normal((1024, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(mx.int32)

    model = MLP(2, 64, 2)
    optimizer = optim.AdamW(learning_rate=optim.cosine_decay(1e-2, 300))

    def loss_fn(model, x, y):
        return nn.losses.cross_entropy(model(x), y, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    state = [model.state, optimizer.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(x, y):
        loss, grads = loss_and_grad(model, x, y)
        optimizer.update(model, grads)
        return loss

    for it in range(300):
        loss = step(x, y)
        mx.eval(state)
        if it % 50 == 0 or it == 299:
            accuracy = mx.mean(mx.argmax(model(x), axis=1) == y)
            print(f"step {it:3d}  loss {loss.item():.4f}  accuracy {accuracy.item():.3f}")


if __name__ == "__main__":
    main()
