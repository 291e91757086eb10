#!/usr/bin/env python
"""Linear algebra timings: Ember vs numpy, PyTorch (CPU eager) and MLX (CPU stream).

Prints one table. Each cell is the best wall time in ms over several runs after warmup
(best, not median: the machine is shared and the best run scatters least); peer cells
also show peer_time / ember_time, so a ratio > 1 means Ember is faster. The load average
is printed with the table. MLX is measured in this process when `mlx.core` imports.

    PYTHONPATH=python python benchmarks/bench_linalg.py [--quick]
"""

import argparse
import os

import numpy as np

from _table import print_peer_table, time_peers

# (key, label) in table order.
ROWS = [
    ("inv", "inv, 256x64x64 f32"),
    ("solve", "solve, 256x64x64 @ 256x64x1 f32"),
    ("svd", "svd, 512x512 f32"),
    ("eigh", "eigh, 512x512 f32"),
    ("cholesky", "cholesky, 1024x1024 f32"),
    ("qr", "qr, 512x512 f32"),
    ("det", "det, 256x64x64 f32"),
]


def make_inputs(seed=0):
    rng = np.random.default_rng(seed)
    f32 = np.float32
    a = rng.standard_normal((256, 64, 64), dtype=f32) + 8 * np.eye(64, dtype=f32)
    m = rng.standard_normal((512, 512), dtype=f32)
    c = rng.standard_normal((1024, 1024), dtype=f32)
    return {
        "a": a,
        "b": rng.standard_normal((256, 64, 1), dtype=f32),
        "m": m,
        "s": (m + m.T).astype(f32),
        "spd": (c @ c.T + 1024 * np.eye(1024)).astype(f32),
    }


def cases_mx(mx, inp):
    arr = {k: mx.array(v) for k, v in inp.items()}
    mx.eval(*arr.values())
    a, b, m, s, spd = arr["a"], arr["b"], arr["m"], arr["s"], arr["spd"]
    L, cpu = mx.linalg, mx.cpu
    return {
        "inv": lambda: mx.eval(L.inv(a, stream=cpu)),
        "solve": lambda: mx.eval(L.solve(a, b, stream=cpu)),
        "svd": lambda: mx.eval(*L.svd(m, stream=cpu)),
        "eigh": lambda: mx.eval(*L.eigh(s, stream=cpu)),
        "cholesky": lambda: mx.eval(L.cholesky(spd, stream=cpu)),
        "qr": lambda: mx.eval(*L.qr(m, stream=cpu)),
        "det": lambda: mx.eval(L.det(a, stream=cpu)),
    }


def cases_numpy(inp):
    a, b, m, s, spd = inp["a"], inp["b"], inp["m"], inp["s"], inp["spd"]
    return {
        "inv": lambda: np.linalg.inv(a),
        "solve": lambda: np.linalg.solve(a, b),
        "svd": lambda: np.linalg.svd(m),
        "eigh": lambda: np.linalg.eigh(s),
        "cholesky": lambda: np.linalg.cholesky(spd),
        "qr": lambda: np.linalg.qr(m),
        "det": lambda: np.linalg.det(a),
    }


def cases_torch(torch, inp):
    t = {k: torch.from_numpy(v.copy()) for k, v in inp.items()}
    a, b, m, s, spd = t["a"], t["b"], t["m"], t["s"], t["spd"]
    return {
        "inv": lambda: torch.linalg.inv(a),
        "solve": lambda: torch.linalg.solve(a, b),
        "svd": lambda: torch.linalg.svd(m),
        "eigh": lambda: torch.linalg.eigh(s),
        "cholesky": lambda: torch.linalg.cholesky(spd),
        "qr": lambda: torch.linalg.qr(m),
        "det": lambda: torch.linalg.det(a),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer warmups/repetitions")
    args = ap.parse_args()
    cfg = {"warmup": 1 if args.quick else 2, "reps": 3 if args.quick else 7}
    inp = make_inputs()

    results, versions = time_peers(ROWS, cases_mx, cases_numpy, cases_torch, inp, cfg, best=True)
    load = os.getloadavg()

    print(f"cpus={os.cpu_count()}  load={load[0]:.2f},{load[1]:.2f},{load[2]:.2f}  "
          f"warmup={cfg['warmup']} best of {cfg['reps']}  "
          + "  ".join(f"{k}={v}" for k, v in versions.items()))
    print_peer_table(ROWS, results)


if __name__ == "__main__":
    main()
