#!/usr/bin/env python
"""ember.nn / ember.optimizers timings: Ember vs PyTorch (CPU eager) and MLX (when importable).

Each cell is the median wall time (ms) over several runs after warmup; peer cells also show
peer_time / ember_time, so a ratio > 1 means Ember is faster.

    PYTHONPATH=python python benchmarks/bench_nn.py [--quick]
"""

import argparse
from functools import partial

import numpy as np

from _table import fmt_peer, print_table, timeit as _timeit

ROWS = [
    ("mlp_step", "MLP 512-1024-1024-10 Adam step, batch 256"),
    ("mlp_step_compiled", "  same, mx.compile'd step (torch: eager)"),
    ("encoder", "TransformerEncoderLayer fwd, 8x128x256, 4 heads"),
    ("layernorm", "LayerNorm fwd, 4096x1024"),
    ("lstm", "LSTM fwd, 16x64x128 -> 128"),
]


def median_ms(fn, repeat):
    return _timeit(fn, 2, repeat)


def inputs():
    rng = np.random.default_rng(0)
    f32 = np.float32
    return {
        "x": rng.standard_normal((256, 512), dtype=f32),
        "y": rng.integers(0, 10, 256),
        "seq": rng.standard_normal((8, 128, 256), dtype=f32),
        "ln": rng.standard_normal((4096, 1024), dtype=f32),
        "rnn": rng.standard_normal((16, 64, 128), dtype=f32),
    }


def bench_mlx_like(mx, nn, optim, data, repeat):
    """The same code runs on Ember and on MLX."""
    out = {}
    x, y = mx.array(data["x"]), mx.array(data["y"])

    def make():
        model = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
        return model, optim.Adam(1e-3)

    def loss_fn(model, x, y):
        return nn.losses.cross_entropy(model(x), y, reduction="mean")

    model, opt = make()
    lg = nn.value_and_grad(model, partial(loss_fn, model))

    def step():
        loss, grads = lg(x, y)
        opt.update(model, grads)
        mx.eval(loss, model.parameters(), opt.state)

    out["mlp_step"] = median_ms(step, repeat)

    model, opt = make()
    lg2 = nn.value_and_grad(model, partial(loss_fn, model))
    state = [model.state, opt.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def cstep(x, y):
        loss, grads = lg2(x, y)
        opt.update(model, grads)
        return loss

    def run_c():
        loss = cstep(x, y)
        mx.eval(loss, state)

    out["mlp_step_compiled"] = median_ms(run_c, repeat)

    enc = nn.TransformerEncoderLayer(256, 4, 1024)
    enc.eval()
    seq = mx.array(data["seq"])
    out["encoder"] = median_ms(lambda: mx.eval(enc(seq, None)), repeat)
    ln = nn.LayerNorm(1024)
    a = mx.array(data["ln"])
    out["layernorm"] = median_ms(lambda: mx.eval(ln(a)), repeat)
    lstm = nn.LSTM(128, 128)
    r = mx.array(data["rnn"])
    out["lstm"] = median_ms(lambda: mx.eval(lstm(r)), repeat)
    return out


def bench_torch(data, repeat):
    try:
        import torch
    except ImportError:
        return {}
    torch.set_grad_enabled(True)
    out = {}
    x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
    tnn = torch.nn
    model = tnn.Sequential(tnn.Linear(512, 1024), tnn.ReLU(), tnn.Linear(1024, 1024), tnn.ReLU(), tnn.Linear(1024, 10))
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def step():
        opt.zero_grad()
        loss = tnn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    out["mlp_step"] = median_ms(step, repeat)
    out["mlp_step_compiled"] = out["mlp_step"]
    with torch.no_grad():
        enc = tnn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True, norm_first=True)
        enc.eval()
        seq = torch.from_numpy(data["seq"])
        out["encoder"] = median_ms(lambda: enc(seq), repeat)
        ln = tnn.LayerNorm(1024)
        a = torch.from_numpy(data["ln"])
        out["layernorm"] = median_ms(lambda: ln(a), repeat)
        lstm = tnn.LSTM(128, 128, batch_first=True)
        r = torch.from_numpy(data["rnn"])
        out["lstm"] = median_ms(lambda: lstm(r), repeat)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeat = 3 if args.quick else 10
    data = inputs()

    import ember.core as emx
    import ember.nn as enn
    import ember.optimizers as eoptim

    results = {"ember": bench_mlx_like(emx, enn, eoptim, data, repeat), "torch": bench_torch(data, repeat)}
    try:
        import mlx.core as mmx
        import mlx.nn as mnn
        import mlx.optimizers as moptim

        results["mlx"] = bench_mlx_like(mmx, mnn, moptim, data, repeat)
    except ImportError:
        results["mlx"] = {}

    def ms(t):
        return f"{t:.2f}"

    lines = []
    for key, label in ROWS:
        e = results["ember"].get(key)
        lines.append(
            [label, ms(e)]
            + [fmt_peer(results[p].get(key), e, ms) for p in ("torch", "mlx")]
        )
    print_table(["case (ms, median)", "ember", "torch", "mlx"], lines)


if __name__ == "__main__":
    main()
