#!/usr/bin/env python
"""Quantized matmul timings: Ember's 4-bit affine quantized_matmul vs float32 matmul of the
same shape in Ember, numpy and PyTorch (and MLX's quantized_matmul when it is importable).

Each cell is the median wall time in ms over several runs after warmup; peer cells also show
peer_time / ember_qmm_time, so a ratio > 1 means Ember's quantized product is faster.

    PYTHONPATH=python python benchmarks/bench_quant.py [--quick]
"""

import argparse

import numpy as np

from _table import fmt_peer, print_table, timeit as _timeit

import ember.core as mx

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
try:
    import mlx.core as mlx
except ImportError:  # pragma: no cover
    mlx = None


def timeit(fn, reps):
    return _timeit(fn, 2, reps, unit=1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    reps = 5 if args.quick else 20
    K = N = 4096
    rng = np.random.default_rng(0)
    w = rng.standard_normal((N, K), dtype=np.float32)
    we = mx.array(w)
    q, s, b = mx.quantize(we, group_size=64, bits=4)
    mx.eval(q, s, b)
    wt_e = mx.array(np.ascontiguousarray(w.T))
    if mlx is not None:
        qm, sm, bm = mlx.quantize(mlx.array(w), group_size=64, bits=4)
        mlx.eval(qm, sm, bm)
    rows = []
    for M in (1, 32):
        x = rng.standard_normal((M, K), dtype=np.float32)
        xe = mx.array(x)
        t_q = timeit(lambda: mx.eval(mx.quantized_matmul(xe, q, s, b)), reps)
        t_f = timeit(lambda: mx.eval(mx.matmul(xe, wt_e)), reps)
        wt = np.ascontiguousarray(w.T)
        t_np = timeit(lambda: x @ wt, reps)
        t_t = None
        if torch is not None:
            xt, wtt = torch.from_numpy(x), torch.from_numpy(wt)
            t_t = timeit(lambda: xt @ wtt, reps)
        t_m = None
        if mlx is not None:
            xm = mlx.array(x)
            t_m = timeit(lambda: mlx.eval(mlx.quantized_matmul(xm, qm, sm, bm)), reps)
        ms = lambda t: f"{t * 1e3:.3f}"
        rows.append([f"({M}, {K}) @ ({N}, {K}).T, 4-bit gs 64", ms(t_q), fmt_peer(t_f, t_q, ms),
                     fmt_peer(t_np, t_q, ms), fmt_peer(t_t, t_q, ms), fmt_peer(t_m, t_q, ms)])
    print_table(["shape", "ember qmm", "ember f32", "numpy f32", "torch f32", "mlx qmm"], rows)


if __name__ == "__main__":
    main()
