#!/usr/bin/env python
"""all_sum across 2 processes on this machine: Ember (MPI backend) vs mpi4py's Allreduce on the
same MPI library, raw MPI_Allreduce through ctypes, and torch.distributed (gloo), measured in
the same processes in one run.

    PYTHONPATH=python python benchmarks/bench_distributed.py [-n 2] [--quick]

Run directly, the script starts itself on N processes through ``python -m ember.launch``;
rank 0 prints the table. Bandwidth is the payload size over the time of one all-reduce
(the best of the repetitions, which a busy machine scatters least); latency rows are per call, in microseconds.
"""
import argparse
import ctypes
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def launch(args):
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    cmd = [sys.executable, "-m", "ember.launch", "-n", str(args.n), os.path.abspath(__file__),
           "--worker"] + (["--quick"] if args.quick else [])
    return subprocess.call(cmd, env=env)


def raw_mpi():
    """MPI_Allreduce of the libmpi Ember loaded, called through ctypes (Open MPI)."""
    import ember.core  # noqa: F401  (libmpi is loaded RTLD_GLOBAL by then)

    lib = ctypes.CDLL("libmpi.so.40", mode=ctypes.RTLD_GLOBAL | os.RTLD_NOLOAD)

    def addr(name):  # Open MPI's handles are the addresses of these objects
        return ctypes.c_void_p(ctypes.addressof(ctypes.c_char.in_dll(lib, name)))

    comm, flt, op = addr("ompi_mpi_comm_world"), addr("ompi_mpi_float"), addr("ompi_mpi_op_sum")
    f = lib.MPI_Allreduce
    f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p] * 3

    def allreduce(src, dst):
        rc = f(src.ctypes.data, dst.ctypes.data, src.size, flt, op, comm)
        assert rc == 0

    return allreduce


def measure(fns, reps, rounds=3):
    """Best time (ms) of each function over `rounds` interleaved rounds of `reps` runs; the
    processes meet at a barrier before each, so none starts timing while another is busy."""
    import ember.core as mx
    from _table import timeit

    best = {}
    for _ in range(rounds):
        for name, fn in fns.items():
            mx.eval(mx.distributed.all_sum(mx.zeros(1)))
            t = timeit(fn, 1, reps, best=True)
            best[name] = min(best.get(name, t), t)
    return best


def worker(args):
    from _table import print_table

    import ember.core as mx

    group = mx.distributed.init(strict=True)
    rank, size = group.rank(), group.size()
    try:
        from mpi4py import MPI
    except Exception:  # noqa: BLE001
        MPI = None
    try:
        import torch
        import torch.distributed as td

        td.init_process_group("gloo", init_method="tcp://127.0.0.1:29533", rank=rank,
                              world_size=size)
    except Exception as e:  # noqa: BLE001
        print("torch.distributed unavailable:", e, file=sys.stderr)
        td = None
    allreduce = raw_mpi()
    reps = 5 if args.quick else 20
    results = {}
    for label, nbytes in [("1 MB", 1 << 20), ("64 MB", 64 << 20)]:
        n = nbytes // 4
        r = reps if nbytes < (8 << 20) else max(3, reps // 4)
        x = mx.ones((n,))
        mx.eval(x)
        a = np.ones(n, np.float32)
        b = np.empty_like(a)
        fns = {"ember": lambda: mx.eval(mx.distributed.all_sum(x)),
               "raw": lambda: allreduce(a, b)}
        if MPI is not None:
            fns["mpi4py"] = lambda: MPI.COMM_WORLD.Allreduce(a, b, op=MPI.SUM)
        if td is not None:
            t = torch.ones(n)
            fns["gloo"] = lambda: td.all_reduce(t)
        results[label] = measure(fns, r)
    # latency of 4 bytes
    x = mx.ones((1,))
    mx.eval(x)
    a = np.ones(1, np.float32)
    b = np.empty_like(a)
    k = 200 if args.quick else 1000
    fns = {"ember": lambda: [mx.eval(mx.distributed.all_sum(x)) for _ in range(k)],
           "raw": lambda: [allreduce(a, b) for _ in range(k)]}
    if MPI is not None:
        fns["mpi4py"] = lambda: [MPI.COMM_WORLD.Allreduce(a, b, op=MPI.SUM) for _ in range(k)]
    if td is not None:
        t = torch.ones(1)
        fns["gloo"] = lambda: [td.all_reduce(t) for _ in range(k // 10)]
    lat = measure(fns, 5)
    lat = {p: v / (k // 10 if p == "gloo" else k) for p, v in lat.items()}
    if td is not None:
        td.destroy_process_group()
    if rank != 0:
        return
    peers = ["ember", "mpi4py", "raw", "gloo"]
    names = {"ember": "Ember all_sum", "mpi4py": "mpi4py Allreduce", "raw": "MPI_Allreduce (ctypes)",
             "gloo": "torch gloo all_reduce"}
    lines = []
    for label, nbytes in [("1 MB", 1 << 20), ("64 MB", 64 << 20)]:
        row = results[label]
        lines.append([f"all_sum {label} f32, {size} procs"] +
                     [f"{t:.2f} ms, {nbytes / (t / 1e3) / 1e9:.2f} GB/s" if (t := row.get(p)) else "-"
                      for p in peers])
    lines.append([f"all_sum 4 bytes, {size} procs (latency)"] +
                 [f"{lat[p] * 1e3:.1f} us" if p in lat else "-" for p in peers])
    print_table(["case"] + [names[p] for p in peers], lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--worker", action="store_true")
    args = p.parse_args()
    if args.worker:
        sys.path.insert(0, HERE)
        worker(args)
    else:
        sys.exit(launch(args))


if __name__ == "__main__":
    main()
