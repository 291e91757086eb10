#!/usr/bin/env python
"""FFT timings: Ember vs numpy (pocketfft), PyTorch (CPU eager) and MLX.

Prints one table. Each cell is the best wall time in ms over several runs after warmup
(the best run scatters least on a shared machine); peer cells also show
peer_time / ember_time, so a ratio > 1 means Ember is faster. The load average at the
start and the end of the run is printed with the table. MLX is measured in this process
when `mlx.core` imports.

    PYTHONPATH=python python benchmarks/bench_fft.py [--quick]
"""

import argparse
import os

import numpy as np

from _table import print_peer_table, time_peers

# (key, label) in table order.
ROWS = [
    ("c2p20", "fft, 2^20 c64"),
    ("cprime", "fft, 1,000,003 (prime) c64"),
    ("rfft2d", "rfft(axis=-1), 1024x4096 f32"),
    ("c2d", "fft2, 1024x1024 c64"),
    ("irfft2d", "irfft(axis=-1), 1024x2049 c64 -> 4096"),
]


def make_inputs(seed=0):
    rng = np.random.default_rng(seed)
    f32 = np.float32

    def c64(*shape):
        return (rng.standard_normal(shape, dtype=f32) + 1j * rng.standard_normal(shape, dtype=f32)).astype(
            np.complex64)

    return {"p20": c64(1 << 20), "prime": c64(1_000_003), "r": rng.standard_normal((1024, 4096), dtype=f32),
            "c2d": c64(1024, 1024), "h": c64(1024, 2049)}


def cases_mx(mx, inp):
    a = {k: mx.array(v) for k, v in inp.items()}
    mx.eval(*a.values())
    return {
        "c2p20": lambda: mx.eval(mx.fft.fft(a["p20"])),
        "cprime": lambda: mx.eval(mx.fft.fft(a["prime"])),
        "rfft2d": lambda: mx.eval(mx.fft.rfft(a["r"], axis=-1)),
        "c2d": lambda: mx.eval(mx.fft.fft2(a["c2d"])),
        "irfft2d": lambda: mx.eval(mx.fft.irfft(a["h"], n=4096, axis=-1)),
    }


def cases_numpy(inp):
    return {
        "c2p20": lambda: np.fft.fft(inp["p20"]),
        "cprime": lambda: np.fft.fft(inp["prime"]),
        "rfft2d": lambda: np.fft.rfft(inp["r"], axis=-1),
        "c2d": lambda: np.fft.fft2(inp["c2d"]),
        "irfft2d": lambda: np.fft.irfft(inp["h"], n=4096, axis=-1),
    }


def cases_torch(torch, inp):
    t = {k: torch.from_numpy(v.copy()) for k, v in inp.items()}
    return {
        "c2p20": lambda: torch.fft.fft(t["p20"]),
        "cprime": lambda: torch.fft.fft(t["prime"]),
        "rfft2d": lambda: torch.fft.rfft(t["r"], dim=-1),
        "c2d": lambda: torch.fft.fft2(t["c2d"]),
        "irfft2d": lambda: torch.fft.irfft(t["h"], n=4096, dim=-1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer warmups/repetitions")
    ap.add_argument("--no-mlx", action="store_true", help="leave MLX out")
    args = ap.parse_args()
    cfg = {"warmup": 1 if args.quick else 2, "reps": 5 if args.quick else 10}
    inp = make_inputs()
    load0 = os.getloadavg()[0]

    results, versions = time_peers(ROWS, cases_mx, cases_numpy, cases_torch, inp, cfg, best=True, with_mlx=not args.no_mlx)

    print(f"cpus={os.cpu_count()}  warmup={cfg['warmup']} reps={cfg['reps']} (best of)  "
          f"load avg {load0:.1f} -> {os.getloadavg()[0]:.1f}  "
          + "  ".join(f"{k}={v}" for k, v in versions.items()))
    print_peer_table(ROWS, results)


if __name__ == "__main__":
    main()
