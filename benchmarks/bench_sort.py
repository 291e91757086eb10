#!/usr/bin/env python
"""Sorting and selection timings: Ember vs numpy, PyTorch (CPU eager) and MLX.

Prints one table. Each cell is the median wall time in ms over several runs after
warmup; peer cells also show peer_time / ember_time, so a ratio > 1 means Ember is
faster. MLX is measured in this process when `mlx.core` imports.

    PYTHONPATH=python python benchmarks/bench_sort.py [--quick]
"""

import argparse
import os

import numpy as np

from _table import print_peer_table, time_peers

# (key, label) in table order.
ROWS = [
    ("sort1m", "sort, 1M f32"),
    ("argsort1m", "argsort, 1M f32"),
    ("sort2d", "sort(axis=-1), 1024x1024 f32"),
    ("argsort2d", "argsort(axis=-1), 1024x1024 f32"),
    ("topk", "topk k=10 (axis=-1), 1024x4096 f32"),
    ("partition", "partition kth=512 (axis=-1), 1024x1024 f32"),
]


def make_inputs(seed=0):
    rng = np.random.default_rng(seed)
    f32 = np.float32
    return {
        "v": rng.standard_normal(1 << 20, dtype=f32),
        "m": rng.standard_normal((1024, 1024), dtype=f32),
        "w": rng.standard_normal((1024, 4096), dtype=f32),
    }


def cases_mx(mx, inp):
    v, m, w = mx.array(inp["v"]), mx.array(inp["m"]), mx.array(inp["w"])
    mx.eval(v, m, w)
    return {
        "sort1m": lambda: mx.eval(mx.sort(v)),
        "argsort1m": lambda: mx.eval(mx.argsort(v)),
        "sort2d": lambda: mx.eval(mx.sort(m, axis=-1)),
        "argsort2d": lambda: mx.eval(mx.argsort(m, axis=-1)),
        "topk": lambda: mx.eval(mx.topk(w, 10, axis=-1)),
        "partition": lambda: mx.eval(mx.partition(m, 512, axis=-1)),
    }


def cases_numpy(inp):
    v, m, w = inp["v"], inp["m"], inp["w"]
    return {
        # numpy's default kinds (not stable); Ember's sorts are stable
        "sort1m": lambda: np.sort(v),
        "argsort1m": lambda: np.argsort(v),
        "sort2d": lambda: np.sort(m, axis=-1),
        "argsort2d": lambda: np.argsort(m, axis=-1),
        "topk": lambda: np.partition(w, -10, axis=-1)[:, -10:],
        "partition": lambda: np.partition(m, 512, axis=-1),
    }


def cases_torch(torch, inp):
    v = torch.from_numpy(inp["v"].copy())
    m = torch.from_numpy(inp["m"].copy())
    w = torch.from_numpy(inp["w"].copy())
    return {
        "sort1m": lambda: torch.sort(v, stable=True),
        "argsort1m": lambda: torch.argsort(v, stable=True),
        "sort2d": lambda: torch.sort(m, dim=-1, stable=True),
        "argsort2d": lambda: torch.argsort(m, dim=-1, stable=True),
        "topk": lambda: torch.topk(w, 10, dim=-1),
        "partition": lambda: torch.kthvalue(m, 513, dim=-1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer warmups/repetitions")
    args = ap.parse_args()
    cfg = {"warmup": 1 if args.quick else 3, "reps": 5 if args.quick else 15}
    inp = make_inputs()

    results, versions = time_peers(ROWS, cases_mx, cases_numpy, cases_torch, inp, cfg, best=False)

    print(f"cpus={os.cpu_count()}  warmup={cfg['warmup']} reps={cfg['reps']}  "
          + "  ".join(f"{k}={v}" for k, v in versions.items()))
    print("torch rows use stable sorts; torch's 'partition' row is kthvalue; numpy's topk "
          "row is partition + slice.")
    print_peer_table(ROWS, results)


if __name__ == "__main__":
    main()
