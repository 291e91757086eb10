#!/usr/bin/env python
"""Convolution timings: Ember vs PyTorch CPU (channels-last and default layout), MLX and numpy.

Each cell is the median wall time in ms over several runs after warmup; peer cells also show
peer_time / ember_time, so a ratio > 1 means Ember is faster.

    PYTHONPATH=python python benchmarks/bench_conv.py [--quick]
"""

import argparse
import os

import numpy as np

from _table import fmt_peer, print_table, timeit

# ResNet-style layer: batch 32, 32x32, 64 -> 64 channels, 3x3, stride 1, padding 1.
N, H, W, C, K = 32, 32, 32, 64, 3
# conv1d: batch 16, length 1024, 128 -> 128 channels, kernel 5, padding 2.
N1, L1, C1, K1 = 16, 1024, 128, 5
# convolve: 100k samples with a 64-tap filter.
CA, CV = 100_000, 64

ROWS = [
    ("fwd", "conv2d 32x32x32x64->64 3x3 fwd"),
    ("fwdbwd", "conv2d same, fwd+bwd (dx, dw)"),
    ("c1d", "conv1d 16x1024x128->128 k5 fwd"),
    ("c1dbwd", "conv1d same, fwd+bwd (dx, dw)"),
    ("convolve", "convolve 100k * 64 'same'"),
]


def inputs():
    rng = np.random.default_rng(0)
    f = np.float32
    return dict(
        x=rng.standard_normal((N, H, W, C), dtype=f), w=rng.standard_normal((C, K, K, C), dtype=f) * 0.05,
        x1=rng.standard_normal((N1, L1, C1), dtype=f), w1=rng.standard_normal((C1, K1, C1), dtype=f) * 0.05,
        a=rng.standard_normal(CA, dtype=f), v=rng.standard_normal(CV, dtype=f))


def cases_mx(mx, d):
    x, w, x1, w1 = (mx.array(d[k]) for k in ("x", "w", "x1", "w1"))
    a, v = mx.array(d["a"]), mx.array(d["v"])
    mx.eval(x, w, x1, w1, a, v)
    g2 = mx.grad(lambda x, w: mx.conv2d(x, w, padding=1).sum(), argnums=(0, 1))
    g1 = mx.grad(lambda x, w: mx.conv1d(x, w, padding=2).sum(), argnums=(0, 1))
    return {
        "fwd": lambda: mx.eval(mx.conv2d(x, w, padding=1)),
        "fwdbwd": lambda: mx.eval(g2(x, w)),
        "c1d": lambda: mx.eval(mx.conv1d(x1, w1, padding=2)),
        "c1dbwd": lambda: mx.eval(g1(x1, w1)),
        "convolve": lambda: mx.eval(mx.convolve(a, v, mode="same")),
    }


def cases_torch(torch, d, channels_last):
    F = torch.nn.functional
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.from_numpy(d["x"]).permute(0, 3, 1, 2).contiguous(memory_format=fmt)
    w = torch.from_numpy(d["w"]).permute(0, 3, 1, 2).contiguous(memory_format=fmt)
    x1 = torch.from_numpy(d["x1"]).permute(0, 2, 1).contiguous()
    w1 = torch.from_numpy(d["w1"]).permute(0, 2, 1).contiguous()
    a = torch.from_numpy(d["a"]).view(1, 1, -1)
    v = torch.from_numpy(d["v"]).flip(0).contiguous().view(1, 1, -1)

    def fwdbwd(x, w, conv, pad):
        xg, wg = x.detach().requires_grad_(), w.detach().requires_grad_()
        conv(xg, wg, padding=pad).sum().backward()
        return xg.grad, wg.grad

    def fwd(fn):
        def run():
            with torch.no_grad():
                fn()
        return run

    return {
        "fwd": fwd(lambda: F.conv2d(x, w, padding=1)),
        "fwdbwd": lambda: fwdbwd(x, w, F.conv2d, 1),
        "c1d": None if channels_last else fwd(lambda: F.conv1d(x1, w1, padding=2)),
        "c1dbwd": None if channels_last else (lambda: fwdbwd(x1, w1, F.conv1d, 2)),
        "convolve": None if channels_last else fwd(lambda: F.conv1d(a, v, padding="same")),
    }


def run_all(cases, warmup, reps):
    return {k: (timeit(fn, warmup, reps) if fn else None) for k, fn in cases.items()}


def fmt_time(t):
    return "-" if t is None else (f"{t:.1f}" if t >= 10 else f"{t:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    warmup, reps = (1, 3) if args.quick else (2, 10)
    d = inputs()
    res, cols = {}, []

    import ember.core as emx
    res["ember"] = run_all(cases_mx(emx, d), warmup, reps)
    try:
        import torch
        torch.set_num_threads(os.cpu_count() or 1)
        res["torch NHWC"] = run_all(cases_torch(torch, d, True), warmup, reps)
        res["torch NCHW"] = run_all(cases_torch(torch, d, False), warmup, reps)
        cols += ["torch NHWC", "torch NCHW"]
    except ImportError:
        pass
    try:
        import mlx.core as mlx
        res["mlx"] = run_all(cases_mx(mlx, d), warmup, reps)
        cols.append("mlx")
    except ImportError:
        pass
    a, v = d["a"], d["v"]
    res["numpy"] = {"convolve": timeit(lambda: np.convolve(a, v, mode="same"), warmup, reps)}
    cols.append("numpy")

    lines = []
    for key, label in ROWS:
        e = res["ember"].get(key)
        lines.append([label, fmt_time(e)] + [fmt_peer(res[c].get(key), e, fmt_time) for c in cols])
    print(f"cpus={os.cpu_count()}  warmup={warmup} reps={reps}  (ms; ratio > 1: Ember faster)")
    print_table(["benchmark", "ember"] + cols, lines)


if __name__ == "__main__":
    main()
