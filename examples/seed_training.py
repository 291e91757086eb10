"""The "neural network training" example of the function-transformations notes, made runnable.

    python examples/seed_training.py

A two-layer network (10 -> 20 -> 1) fits a synthetic regression target. The sketch in the notes
leaves a few things open; here they are filled in with the real API:

* ``nn.value_and_grad(model, loss_fn)`` (not ``mx.value_and_grad``) differentiates with respect to
  the model's trainable parameters;
* ``data_loader`` is a real loader: it shuffles a fixed training set every epoch and yields
  minibatches as arrays;
* the parameter update is a plain SGD step written with ``tree_map`` and applied with
  ``model.update`` (``--optimizer sgd`` does the same through ``ember.optimizers``).
"""

import argparse

import numpy as np

import ember.core as mx
import ember.nn as nn
import ember.optimizers as optim
from ember.utils import tree_map


class SimpleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(20, 1)

    def __call__(self, x):
        x = nn.relu(self.fc1(x))
        return self.fc2(x)


def make_dataset(n, seed):
    """Inputs ``x`` (n, 10) and targets ``y`` (n, 1) = a fixed smooth function of x, plus small noise."""
    rng = np.random.default_rng(seed)
    w = np.random.default_rng(1234).normal(size=(10, 1)) / np.sqrt(10)
    x = rng.normal(size=(n, 10)).astype(np.float32)
    y = x @ w + 0.5 * np.tanh(x[:, :1] * x[:, 1:2]) + 0.05 * rng.normal(size=(n, 1))
    return x, y.astype(np.float32)


def data_loader(x, y, batch_size, rng):
    """One epoch of shuffled minibatches (the last partial batch is kept)."""
    order = rng.permutation(len(x))
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        yield mx.array(x[idx]), mx.array(y[idx])


def loss_fn(model, x, y):
    pred = model(x)
    return mx.mean(mx.square(pred - y))


def main(argv=None):
    parser = argparse.ArgumentParser(description="The seed training example on synthetic regression.")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--optimizer", choices=["manual", "sgd"], default="manual")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="save the weights here (.npz or .safetensors)")
    args = parser.parse_args(argv)

    mx.random.seed(args.seed)
    x_train, y_train = make_dataset(512, seed=args.seed)
    x_test, y_test = make_dataset(256, seed=args.seed + 1)
    rng = np.random.default_rng(args.seed)

    model = SimpleNet()
    mx.eval(model.parameters())

    # Create a function that computes the loss and its gradients with respect to the parameters.
    loss_and_grad = nn.value_and_grad(model, loss_fn)
    optimizer = optim.SGD(learning_rate=args.lr) if args.optimizer == "sgd" else None

    report = max(1, args.epochs // 10)
    for epoch in range(args.epochs):
        total, count = 0.0, 0
        for x_batch, y_batch in data_loader(x_train, y_train, args.batch_size, rng):
            loss, grads = loss_and_grad(model, x_batch, y_batch)

            # Update parameters
            if optimizer is None:
                model.update(tree_map(lambda p, g: p - args.lr * g, model.parameters(), grads))
            else:
                optimizer.update(model, grads)

            mx.eval(model.parameters())
            total += loss.item() * x_batch.shape[0]
            count += x_batch.shape[0]
        if epoch == 0 or (epoch + 1) % report == 0:
            print(f"epoch {epoch + 1:4d}  loss {total / count:.4f}")

    held_out = loss_fn(model, mx.array(x_test), mx.array(y_test)).item()
    print(f"held-out mse: {held_out:.4f} (target variance {float(np.var(y_test)):.4f})")
    if args.save:
        model.save_weights(args.save)
        print(f"weights saved to {args.save}")
    return held_out


if __name__ == "__main__":
    main()
