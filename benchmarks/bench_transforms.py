#!/usr/bin/env python
"""Transformation and compile timings: Ember vs PyTorch (torch.func), JAX and MLX.

    PYTHONPATH=python python benchmarks/bench_transforms.py [--quick]

Each cell is the median wall time over several runs after warmup. Ratios are
peer_time / ember_time (> 1 means Ember is faster). MLX runs in a subprocess with
/opt/mlxenv/bin/python when it exists.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
from _table import timeit as _timeit

HERE = os.path.abspath(__file__)
MLX_PYTHON = "/opt/mlxenv/bin/python"

ROWS = [
    ("grad_chain", "grad of 200-op scalar chain, 16 f32", "ms"),
    ("per_sample", "vmap(grad) per-sample, w 256, x 512x256", "ms"),
    ("vmap_add", "vmap(x+y, in_axes=(0,1)), 4096x100", "ms"),
    ("loop_add", "python loop of the same adds", "ms"),
    ("gelu", "gelu(tanh) 4M f32, compiled", "ms"),
    ("chain_c", "exp(-x)*sin(x)+x*x 4M f32, compiled", "ms"),
    ("lse_c", "sum(exp(x - max)), 4096x1024, compiled", "ms"),
    ("replay", "replay of a cached 10-op compiled fn, scalars", "us"),
]


def timeit(fn, warmup, reps):
    return _timeit(fn, warmup, reps, unit=1)


def inputs():
    rng = np.random.default_rng(0)
    f32 = np.float32
    return {
        "z": rng.standard_normal(16, dtype=f32),
        "w": rng.standard_normal(256, dtype=f32) * 0.1,
        "x": rng.standard_normal((512, 256), dtype=f32),
        "a": rng.standard_normal((4096, 100), dtype=f32),
        "b": rng.standard_normal((100, 4096), dtype=f32),
        "big": rng.standard_normal(4 * 1024 * 1024, dtype=f32),
        "s": np.array(0.5, dtype=f32),
        "rows": rng.standard_normal((4096, 1024), dtype=f32),
    }


def cases_mx(mx, inp):
    z, w, x = mx.array(inp["z"]), mx.array(inp["w"]), mx.array(inp["x"])
    a, b, big, s = mx.array(inp["a"]), mx.array(inp["b"]), mx.array(inp["big"]), mx.array(inp["s"])
    rows = mx.array(inp["rows"])
    mx.eval(z, w, x, a, b, big, s, rows)
    lse = mx.compile(lambda x: mx.sum(mx.exp(x - mx.max(x, axis=-1, keepdims=True)), axis=-1))

    def chain(z):
        for _ in range(100):
            z = mx.sin(z) * 1.01
        return mx.sum(z)

    g = mx.grad(chain)
    ps = mx.vmap(mx.grad(lambda w, x: mx.sum(mx.tanh(x @ w) ** 2)), in_axes=(None, 0))
    va = mx.vmap(lambda x, y: x + y, in_axes=(0, 1))

    def loop():
        return mx.stack([a[i] + b[:, i] for i in range(a.shape[0])])

    def gelu(x):
        return 0.5 * x * (1 + mx.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))

    cg = mx.compile(gelu)
    cc = mx.compile(lambda x: mx.exp(-x) * mx.sin(x) + x * x)

    def ten(x):
        for _ in range(10):
            x = x * 1.0001 + 0.5
        return x

    ct = mx.compile(ten)
    return {
        "grad_chain": lambda: mx.eval(g(z)),
        "per_sample": lambda: mx.eval(ps(w, x)),
        "vmap_add": lambda: mx.eval(va(a, b)),
        "loop_add": lambda: mx.eval(loop()),
        "gelu": lambda: mx.eval(cg(big)),
        "chain_c": lambda: mx.eval(cc(big)),
        "lse_c": lambda: mx.eval(lse(rows)),
        "replay": lambda: mx.eval(ct(s)),
    }


def cases_torch(torch, inp):
    from torch.func import grad, vmap

    T = {k: torch.from_numpy(v) for k, v in inp.items()}

    def chain(z):
        for _ in range(100):
            z = torch.sin(z) * 1.01
        return torch.sum(z)

    g = grad(chain)
    ps = vmap(grad(lambda w, x: torch.sum(torch.tanh(x @ w) ** 2)), in_dims=(None, 0))
    va = vmap(lambda x, y: x + y, in_dims=(0, 1))

    def gelu(x):
        return 0.5 * x * (1 + torch.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))

    cg = torch.compile(gelu) if os.environ.get("BENCH_TORCH_COMPILE") else gelu
    return {
        "grad_chain": lambda: g(T["z"]),
        "per_sample": lambda: ps(T["w"], T["x"]),
        "vmap_add": lambda: va(T["a"], T["b"]),
        "loop_add": lambda: torch.stack([T["a"][i] + T["b"][:, i] for i in range(4096)]),
        "gelu": lambda: cg(T["big"]),
        "chain_c": lambda: torch.exp(-T["big"]) * torch.sin(T["big"]) + T["big"] * T["big"],
        "lse_c": lambda: torch.sum(torch.exp(T["rows"] - torch.amax(T["rows"], -1, keepdim=True)), -1),
    }


def cases_jax(jax, jnp, inp):
    J = {k: jnp.asarray(v) for k, v in inp.items()}

    def chain(z):
        for _ in range(100):
            z = jnp.sin(z) * 1.01
        return jnp.sum(z)

    g = jax.grad(chain)
    ps = jax.vmap(jax.grad(lambda w, x: jnp.sum(jnp.tanh(x @ w) ** 2)), in_axes=(None, 0))
    va = jax.vmap(lambda x, y: x + y, in_axes=(0, 1))
    gelu = jax.jit(lambda x: 0.5 * x * (1 + jnp.tanh(0.7978845608 * (x + 0.044715 * x * x * x))))
    cc = jax.jit(lambda x: jnp.exp(-x) * jnp.sin(x) + x * x)
    lse = jax.jit(lambda x: jnp.sum(jnp.exp(x - jnp.max(x, axis=-1, keepdims=True)), axis=-1))

    def ten(x):
        for _ in range(10):
            x = x * 1.0001 + 0.5
        return x

    ct = jax.jit(ten)
    return {
        "grad_chain": lambda: g(J["z"]).block_until_ready(),
        "per_sample": lambda: ps(J["w"], J["x"]).block_until_ready(),
        "vmap_add": lambda: va(J["a"], J["b"]).block_until_ready(),
        "gelu": lambda: gelu(J["big"]).block_until_ready(),
        "chain_c": lambda: cc(J["big"]).block_until_ready(),
        "lse_c": lambda: lse(J["rows"]).block_until_ready(),
        "replay": lambda: ct(J["s"]).block_until_ready(),
    }


def run(cases, warmup, reps):
    out = {}
    for key, _, unit in ROWS:
        if key in cases:
            t = timeit(cases[key], warmup, reps)
            out[key] = t * (1e6 if unit == "us" else 1e3)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--worker", default=None)
    args = p.parse_args()
    warmup, reps = (1, 5) if args.quick else (3, 20)
    inp = inputs()
    if args.worker == "mlx":
        import mlx.core as mx

        print(json.dumps(run(cases_mx(mx, inp), warmup, reps)))
        return
    import ember.core as mx

    cols = {"ember": run(cases_mx(mx, inp), warmup, reps)}
    try:
        import torch

        torch.set_num_threads(os.cpu_count())
        cols["torch"] = run(cases_torch(torch, inp), warmup, reps)
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp

        cols["jax"] = run(cases_jax(jax, jnp, inp), warmup, reps)
    except ImportError:
        pass
    if os.path.exists(MLX_PYTHON):
        r = subprocess.run([MLX_PYTHON, HERE, "--worker", "mlx"] + (["--quick"] if args.quick else []),
                           capture_output=True, text=True)
        if r.returncode == 0:
            cols["mlx"] = json.loads(r.stdout.strip().splitlines()[-1])
    names = list(cols)
    print(f"{'benchmark':48s} {'unit':4s} " + " ".join(f"{n:>16s}" for n in names))
    for key, label, unit in ROWS:
        e = cols["ember"].get(key)
        cells = []
        for n in names:
            t = cols[n].get(key)
            if t is None:
                cells.append(f"{'-':>16s}")
            elif n == "ember":
                cells.append(f"{t:16.3f}")
            else:
                cells.append(f"{t:9.3f} ({t / e:.2f}x)" if e else f"{t:16.3f}")
        print(f"{label:48s} {unit:4s} " + " ".join(cells))


if __name__ == "__main__":
    main()
