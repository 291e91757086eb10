#!/usr/bin/env python
"""einsum timings: Ember vs numpy.einsum(optimize=True), torch.einsum and MLX (CPU).

Prints one table. Each cell is the best wall time in ms over several runs after warmup
(the best rather than the median, which a machine shared with other work scatters widely;
Ember and MLX evaluate the result inside the timed call); peer cells also show
peer_time / ember_time, so a ratio > 1 means Ember is faster.

    PYTHONPATH=python python benchmarks/bench_einsum.py [--quick]
"""

import argparse

import numpy as np

from _table import fmt_peer, print_table, timeit as _timeit

# (label, subscripts, operand shapes)
CASES = [
    ("batched matmul", "bij,bjk->bik", [(32, 128, 128), (32, 128, 128)]),
    ("attention scores", "bhqd,bhkd->bhqk", [(4, 8, 256, 64), (4, 8, 256, 64)]),
    ("attention values", "bhqk,bhkd->bhqd", [(4, 8, 256, 256), (4, 8, 256, 64)]),
    ("3-operand chain", "ij,jk,kl->il", [(512, 16), (16, 512), (512, 512)]),
    ("bilinear form", "bi,ij,bj->b", [(256, 512), (512, 512), (256, 512)]),
    ("trace of product", "ij,ji->", [(1024, 1024), (1024, 1024)]),
    ("outer + reduce", "i,j,ij->i", [(2048,), (2048,), (2048, 2048)]),
]


def timeit(fn, warmup, reps):
    return _timeit(fn, warmup, reps, best=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    warmup, reps = (1, 3) if args.quick else (2, 10)

    import ember.core as mx
    peers = {"numpy": None, "torch": None, "mlx": None}
    try:
        import torch
        torch.set_grad_enabled(False)
        peers["torch"] = torch
    except ImportError:
        pass
    try:
        import mlx.core as mlx
        mlx.set_default_device(mlx.cpu)
        peers["mlx"] = mlx
    except ImportError:
        pass

    rng = np.random.default_rng(0)
    rows = []
    for label, sub, shapes in CASES:
        data = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
        ops = [mx.array(d) for d in data]
        mx.eval(*ops)
        t_e = timeit(lambda: mx.eval(mx.einsum(sub, *ops)), warmup, reps)
        t_np = timeit(lambda: np.einsum(sub, *data, optimize=True), warmup, reps)
        t_t = t_m = None
        if peers["torch"] is not None:
            tt = [peers["torch"].from_numpy(d) for d in data]
            t_t = timeit(lambda: peers["torch"].einsum(sub, *tt), warmup, reps)
        if peers["mlx"] is not None:
            mm = [peers["mlx"].array(d) for d in data]
            peers["mlx"].eval(*mm)
            t_m = timeit(lambda: peers["mlx"].eval(peers["mlx"].einsum(sub, *mm)), warmup, reps)
        shape_txt = ", ".join("x".join(map(str, s)) for s in shapes)
        fmt = lambda t: f"{t:.2f}"
        rows.append([f"{label}: {sub} [{shape_txt}]", fmt(t_e), fmt_peer(t_np, t_e, fmt),
                     fmt_peer(t_t, t_e, fmt), fmt_peer(t_m, t_e, fmt)])
    print_table(["einsum, f32 (ms)", "ember", "numpy(optimize)", "torch", "mlx"], rows)


if __name__ == "__main__":
    main()
