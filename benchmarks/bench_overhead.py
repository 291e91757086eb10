#!/usr/bin/env python
"""Per-op overhead in Python loops: Ember vs numpy, PyTorch (CPU eager) and MLX.

Each row runs 4096 small operations from a Python loop, the way a naive port of a
vectorisable computation does. The headline row is the "naive loop"

    [xs[i] + ys[:, i] for i in range(4096)]      # xs (4096, 100), ys (100, 4096) float32

followed by one evaluation of the whole list. The other rows split it into its parts
(an integer index, a column slice, an add of two rows).

    PYTHONPATH=python python benchmarks/bench_overhead.py [--quick]

Each cell is the best (minimum) wall time over --reps runs after --warmup runs, in ms:
the machine is shared, and the minimum is the figure least disturbed by other work. Peer
cells also show peer_time / ember_time, so a ratio > 1 means Ember is faster. Ember and MLX
are lazy, so every timed run ends in mx.eval(list); torch runs under inference_mode with
torch.set_num_threads(os.cpu_count()).

MLX runs in a subprocess (--mlx-python: /opt/mlxenv/bin/python when it exists, else this
interpreter) that re-runs this file with --worker mlx and reports JSON, so that Ember and
MLX share the benchmark code and never share a process.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from _table import fmt_peer as fmt_ratio, print_table as render_table

HERE = os.path.abspath(__file__)
MLX_ENV_PYTHON = "/opt/mlxenv/bin/python"
N = 4096

# (key, label) in table order; every row is in ms.
ROWS = [
    ("naive", "naive loop: [xs[i] + ys[:, i] for i in range(4096)]"),
    ("row", "4096 x xs[i]"),
    ("col", "4096 x ys[:, i]"),
    ("add", "4096 x a + b, 100 f32 rows"),
]


def make_inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "xs": rng.standard_normal((N, 100), dtype=np.float32),
        "ys": rng.standard_normal((100, N), dtype=np.float32),
    }


def best_of(fn, warmup, reps):
    """Minimum wall time of fn() in ms."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


# --------------------------------------------------------------------------
# Cases: {row_key: thunk}; each thunk does (and completes) the work once.
# --------------------------------------------------------------------------

def cases_mx(mx, inp):
    """Ember and MLX (same API)."""
    xs, ys = mx.array(inp["xs"]), mx.array(inp["ys"])
    rows_a = [mx.array(r) for r in inp["xs"][:N]]
    rows_b = [mx.array(c) for c in inp["ys"].T[:N]]
    mx.eval(xs, ys, rows_a, rows_b)
    return {
        "naive": lambda: mx.eval([xs[i] + ys[:, i] for i in range(N)]),
        "row": lambda: mx.eval([xs[i] for i in range(N)]),
        "col": lambda: mx.eval([ys[:, i] for i in range(N)]),
        "add": lambda: mx.eval([a + b for a, b in zip(rows_a, rows_b)]),
    }


def cases_numpy(inp):
    xs, ys = inp["xs"], inp["ys"]
    rows_a = list(xs)
    rows_b = [c.copy() for c in ys.T]
    return {
        "naive": lambda: [xs[i] + ys[:, i] for i in range(N)],
        "row": lambda: [xs[i] for i in range(N)],
        "col": lambda: [ys[:, i] for i in range(N)],
        "add": lambda: [a + b for a, b in zip(rows_a, rows_b)],
    }


def cases_torch(torch, inp):
    xs = torch.from_numpy(inp["xs"].copy())
    ys = torch.from_numpy(inp["ys"].copy())
    rows_a = [torch.from_numpy(r.copy()) for r in inp["xs"]]
    rows_b = [torch.from_numpy(c.copy()) for c in inp["ys"].T]
    return {
        "naive": lambda: [xs[i] + ys[:, i] for i in range(N)],
        "row": lambda: [xs[i] for i in range(N)],
        "col": lambda: [ys[:, i] for i in range(N)],
        "add": lambda: [a + b for a, b in zip(rows_a, rows_b)],
    }


def run_cases(cases, cfg, name):
    out = {}
    for key, _ in ROWS:
        try:
            out[key] = best_of(cases[key], cfg["warmup"], cfg["reps"])
        except Exception as e:  # keep the rest of the table
            print(f"  [{name}:{key}] failed: {type(e).__name__}: {e}", file=sys.stderr)
            out[key] = None
    return out


# --------------------------------------------------------------------------
# Library runners
# --------------------------------------------------------------------------

def bench_torch(inp, cfg):
    try:
        import torch
    except ImportError:
        return None, None
    torch.set_num_threads(os.cpu_count() or 1)
    with torch.inference_mode():
        res = run_cases(cases_torch(torch, inp), cfg, "torch")
    return res, f"{torch.__version__} ({torch.get_num_threads()} threads)"


def bench_mlx(cfg, mlx_python):
    """This file under mlx_python with --worker mlx; (None, None) if unavailable."""
    if not mlx_python or not os.path.exists(mlx_python):
        return None, None
    cmd = [mlx_python, HERE, "--worker", "mlx",
           "--warmup", str(cfg["warmup"]), "--reps", str(cfg["reps"])]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # keep ember out of the MLX process
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"  [mlx] subprocess failed: {e}", file=sys.stderr)
        return None, None
    if proc.returncode != 0:
        if proc.returncode != 2:  # 2: mlx is not installed there
            tail = proc.stderr.strip().splitlines()[-5:]
            print("  [mlx] subprocess exited %d:\n    %s"
                  % (proc.returncode, "\n    ".join(tail)), file=sys.stderr)
        return None, None
    try:
        res = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        print("  [mlx] could not parse subprocess output", file=sys.stderr)
        return None, None
    return res, res.pop("_version", "?")


def worker_mlx(cfg):
    try:
        import mlx.core as mx
    except ImportError as e:
        print(f"mlx not importable: {e}", file=sys.stderr)
        sys.exit(2)
    res = run_cases(cases_mx(mx, make_inputs()), cfg, "mlx")
    res["_version"] = getattr(mx, "__version__", "?")
    print(json.dumps(res))


# --------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------

def fmt_time(t):
    if t is None:
        return "-"
    return f"{t:.1f}" if t >= 10 else f"{t:.2f}"


def fmt_peer(t, ember_t):
    return fmt_ratio(t, ember_t, fmt_time)


def print_table(results, columns):
    headers = ["benchmark (ms)", "ember"] + columns
    lines = []
    for key, label in ROWS:
        e = results["ember"].get(key)
        row = [label, fmt_time(e)]
        for col in columns:
            r = results.get(col)
            row.append(fmt_peer(r.get(key) if r else None, e))
        lines.append(row)
    render_table(headers, lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer warmups/repetitions")
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--mlx-python", default=None,
                    help="interpreter with mlx installed ('' to skip; default "
                         f"{MLX_ENV_PYTHON} when it exists, else this interpreter)")
    ap.add_argument("--worker", choices=["mlx"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    cfg = {
        "warmup": args.warmup if args.warmup is not None else (1 if args.quick else 3),
        "reps": args.reps if args.reps is not None else (5 if args.quick else 20),
    }
    if args.worker == "mlx":
        worker_mlx(cfg)
        return
    mlx_python = args.mlx_python
    if mlx_python is None:
        mlx_python = MLX_ENV_PYTHON if os.path.exists(MLX_ENV_PYTHON) else sys.executable

    inp = make_inputs()
    import ember.core as emx
    results = {"ember": run_cases(cases_mx(emx, inp), cfg, "ember")}
    versions = {"ember": getattr(emx, "__version__", "?"), "numpy": np.__version__}
    results["numpy"] = run_cases(cases_numpy(inp), cfg, "numpy")
    results["torch"], v = bench_torch(inp, cfg)
    if v:
        versions["torch"] = v
    results["mlx"], v = bench_mlx(cfg, mlx_python)
    if v:
        versions["mlx"] = v

    print(f"cpus={os.cpu_count()}  warmup={cfg['warmup']} reps={cfg['reps']}  "
          "(best of reps; ratio = peer / ember, >1 means Ember is faster)")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print()
    print_table(results, ["numpy", "torch", "mlx"])


if __name__ == "__main__":
    main()
