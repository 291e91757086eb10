#!/usr/bin/env python
"""Scatter and gather timings: Ember vs numpy, PyTorch (CPU eager) and MLX.

Prints one table. Each cell is the median wall time in ms over several runs
after warmup; peer cells also show peer_time / ember_time, so a ratio > 1
means Ember is faster.

    PYTHONPATH=python python benchmarks/bench_scatter.py [--quick]

Rows:
- index_add: 1M row updates (64 float32 each) added into a (65536, 64) array
  at random, repeated row indices (numpy ``np.add.at``, PyTorch ``index_add_``
  on a copy, Ember/MLX ``x.at[idx].add(u)``);
- gather: 1M random rows of a (65536, 64) float32 array (``x[idx]``,
  PyTorch ``index_select``);
- scatter_max: as index_add with maximum (``np.maximum.at``,
  PyTorch ``index_reduce_(..., "amax")``);
- setitem: the same 1M rows assigned (``y[idx] = u``).
"""

import argparse
import os
import sys

import numpy as np

from _table import fmt_peer as fmt_ratio, print_table as render_table, timeit

ROWS = [
    ("index_add", "index_add 1M x 64 into 65536x64 f32"),
    ("gather", "gather 1M rows of 65536x64 f32"),
    ("scatter_max", "scatter_max 1M x 64 into 65536x64 f32"),
    ("setitem", "setitem 1M rows into 65536x64 f32"),
]


def make_inputs(seed=0, n_updates=1 << 20):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((65536, 64), dtype=np.float32),
        "idx": rng.integers(0, 65536, size=n_updates).astype(np.int32),
        "upd": rng.standard_normal((n_updates, 64), dtype=np.float32),
    }


def cases_mx(mx, inp):
    """Ember and MLX (same API); mx.eval forces the lazy graph."""
    x, idx, upd = mx.array(inp["x"]), mx.array(inp["idx"]), mx.array(inp["upd"])
    mx.eval(x, idx, upd)

    def setitem():
        y = mx.array(x)
        y[idx] = upd
        mx.eval(y)

    return {
        "index_add": lambda: mx.eval(x.at[idx].add(upd)),
        "gather": lambda: mx.eval(x[idx]),
        "scatter_max": lambda: mx.eval(x.at[idx].maximum(upd)),
        "setitem": setitem,
    }


def cases_numpy(inp):
    x, idx, upd = inp["x"], inp["idx"], inp["upd"]

    def index_add():
        y = x.copy()
        np.add.at(y, idx, upd)

    def scatter_max():
        y = x.copy()
        np.maximum.at(y, idx, upd)

    def setitem():
        y = x.copy()
        y[idx] = upd

    return {"index_add": index_add, "gather": lambda: x[idx], "scatter_max": scatter_max,
            "setitem": setitem}


def cases_torch(torch, inp):
    x = torch.from_numpy(inp["x"].copy())
    idx = torch.from_numpy(inp["idx"].astype(np.int64))
    upd = torch.from_numpy(inp["upd"].copy())

    def setitem():
        y = x.clone()
        y[idx] = upd

    return {
        "index_add": lambda: x.clone().index_add_(0, idx, upd),
        "gather": lambda: torch.index_select(x, 0, idx),
        "scatter_max": lambda: x.clone().index_reduce_(0, idx, upd, "amax"),
        "setitem": setitem,
    }


def run_cases(cases, cfg, name):
    out = {}
    for key, _label in ROWS:
        try:
            out[key] = timeit(cases[key], cfg["warmup"], cfg["reps"])
        except Exception as e:  # keep the rest of the table
            print(f"  [{name}:{key}] failed: {type(e).__name__}: {e}", file=sys.stderr)
            out[key] = None
    return out


def fmt_time(t):
    if t is None:
        return "-"
    return f"{t:.1f}" if t >= 10 else f"{t:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer warmups/repetitions")
    args = ap.parse_args()
    cfg = {"warmup": 1, "reps": 3} if args.quick else {"warmup": 2, "reps": 7}

    inp = make_inputs()
    results, versions = {}, {"numpy": np.__version__}
    import ember.core as emx

    results["ember"] = run_cases(cases_mx(emx, inp), cfg, "ember")
    results["numpy"] = run_cases(cases_numpy(inp), cfg, "numpy")
    try:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        with torch.inference_mode():
            results["torch"] = run_cases(cases_torch(torch, inp), cfg, "torch")
        versions["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        pass
    try:
        import mlx.core as mlx

        results["mlx"] = run_cases(cases_mx(mlx, inp), cfg, "mlx")
        versions["mlx"] = mlx.__version__
    except ImportError:
        pass

    columns = [c for c in ("numpy", "torch", "mlx") if c in results]
    lines = []
    for key, label in ROWS:
        e = results["ember"][key]
        lines.append([label, fmt_time(e)] + [fmt_ratio(results[c][key], e, fmt_time) for c in columns])
    print(f"cpus={os.cpu_count()}  warmup={cfg['warmup']} reps={cfg['reps']}  (ms)")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    render_table(["benchmark", "ember"] + columns, lines)


if __name__ == "__main__":
    main()
