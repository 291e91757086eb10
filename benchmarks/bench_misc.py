#!/usr/bin/env python
"""Timings of the small composed ops: Ember vs numpy and PyTorch (CPU eager).

Each cell is the median wall time in ms over several runs after warmup; peer cells also
show peer_time / ember_time (above 1: Ember faster).

    PYTHONPATH=python python benchmarks/bench_misc.py [--quick]
"""
import argparse

import numpy as np

from _table import fmt_peer, print_table, timeit

import ember.core as mx

try:
    import torch
except ImportError:
    torch = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    warmup, reps = (1, 3) if args.quick else (3, 10)
    n = 1024 if args.quick else 2048
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    a[::7, ::5] = np.nan
    a[::11, ::3] = np.inf
    e = mx.array(a)
    t = torch.from_numpy(a) if torch is not None else None
    mx.eval(e)

    rows = [
        (f"roll(x, 3, axis=1), {n}x{n} f32",
         lambda: mx.eval(mx.roll(e, 3, 1)), lambda: np.roll(a, 3, 1),
         t is not None and (lambda: torch.roll(t, 3, 1))),
        # flip and view make views in Ember and numpy (torch.flip copies)
        (f"flip(x, 0), {n}x{n} f32",
         lambda: mx.eval(mx.flip(e, 0)), lambda: np.flip(a, 0),
         t is not None and (lambda: torch.flip(t, (0,)))),
        (f"diff(x, axis=0), {n}x{n} f32",
         lambda: mx.eval(mx.diff(e, axis=0)), lambda: np.diff(a, axis=0),
         t is not None and (lambda: torch.diff(t, dim=0))),
        (f"nan_to_num(x), {n}x{n} f32",
         lambda: mx.eval(mx.nan_to_num(e)), lambda: np.nan_to_num(a),
         t is not None and (lambda: torch.nan_to_num(t))),
        (f"flip(x, 0) + 1, {n}x{n} f32",
         lambda: mx.eval(mx.flip(e, 0) + 1), lambda: np.flip(a, 0) + 1,
         t is not None and (lambda: torch.flip(t, (0,)) + 1)),
        (f"trunc(x), {n}x{n} f32",
         lambda: mx.eval(mx.trunc(e)), lambda: np.trunc(a),
         t is not None and (lambda: torch.trunc(t))),
        (f"view(x, int32), {n}x{n} f32",
         lambda: mx.eval(mx.view(e, mx.int32)), lambda: a.view(np.int32),
         t is not None and (lambda: t.view(torch.int32))),
    ]
    lines = []
    for label, fe, fn, ft in rows:
        te = timeit(fe, warmup, reps)
        tn = timeit(fn, warmup, reps)
        tt = timeit(ft, warmup, reps) if ft else None
        fmt = lambda v: f"{v:.2f}"  # noqa: E731
        lines.append([label, fmt(te), fmt_peer(tn, te, fmt), fmt_peer(tt, te, fmt)])
    print_table(["op (ms)", "ember", "numpy", "torch"], lines)


if __name__ == "__main__":
    main()
