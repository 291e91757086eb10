"""Data-parallel training: every process holds the same model and trains on its share of each
global batch; the gradients are averaged across processes before each update, so N processes
take the same steps as one process on the whole batch.

    python examples/data_parallel.py                          # one process
    python -m ember.launch -n 2 examples/data_parallel.py     # two processes, same losses
"""
import argparse

import numpy as np

import ember.core as mx
import ember.nn as nn
import ember.optimizers as optim


class MLP(nn.Module):
    def __init__(self, dims, hidden, classes):
        super().__init__()
        self.layers = [nn.Linear(dims, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, classes)]

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = nn.relu(layer(x))
        return self.layers[-1](x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=64, help="global batch size")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="three steps")
    args = p.parse_args()
    if args.smoke:
        args.steps = 3

    group = mx.distributed.init()
    rank, size = group.rank(), group.size()
    if args.batch % size:
        raise SystemExit(f"the global batch {args.batch} must be divisible by {size} processes")

    # A synthetic classification problem, identical on every process.
    rng = np.random.default_rng(args.seed)
    centers = rng.normal(size=(4, 16)) * 2
    labels = rng.integers(0, 4, size=args.batch * args.steps)
    data = (centers[labels] + rng.normal(size=(labels.size, 16))).astype(np.float32)

    mx.random.seed(args.seed)
    model = MLP(16, 32, 4)
    opt = optim.SGD(learning_rate=args.lr, momentum=0.9)

    def loss_fn(model, x, y):
        return nn.losses.cross_entropy(model(x), y, reduction="mean")

    grad_fn = nn.value_and_grad(model, loss_fn)

    def step(x, y):
        loss, grads = grad_fn(model, x, y)
        grads = nn.utils.average_gradients(grads, group=group)
        opt.update(model, grads)
        return mx.distributed.all_sum(loss, group=group) / size

    local = args.batch // size
    for i in range(args.steps):
        lo = i * args.batch + rank * local
        x = mx.array(data[lo:lo + local])
        y = mx.array(labels[lo:lo + local])
        loss = step(x, y)
        mx.eval(loss, model.parameters(), opt.state)
        if rank == 0:
            print(f"step {i} loss {loss.item():.7f}", flush=True)


if __name__ == "__main__":
    main()
