#!/usr/bin/env python
"""Core-op timings: Ember vs numpy, PyTorch (CPU eager), JAX and MLX.

Prints one table. Each cell is the median wall time (ms, or us for the
dispatch row) over several runs after warmup; peer cells also show
peer_time / ember_time, so a ratio > 1 means Ember is faster.

    PYTHONPATH=python python benchmarks/bench_core.py [--quick]

MLX is measured in a subprocess (``--mlx-python``, default
/opt/mlxenv/bin/python) that re-runs this file with ``--worker mlx`` and
reports JSON; Ember and MLX share the same benchmark code.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

from _table import fmt_peer as fmt_ratio, print_table as render_table, timeit

HERE = os.path.abspath(__file__)
DEFAULT_MLX_PYTHON = "/opt/mlxenv/bin/python"

# (key, label, unit) in table order.
ROWS = [
    ("chain", "exp(-x)*sin(x)+x*x, 4M f32", "ms"),
    ("sum", "sum, 16M f32", "ms"),
    ("softmax", "softmax(axis=-1), 4096x1024 f32", "ms"),
    ("matmul", "matmul 1024x1024 f32", "ms"),
    ("adds", "1000 chained scalar adds", "ms"),
    ("dispatch", "dispatch one add (lazy for ember/mlx)", "us"),
]


# --------------------------------------------------------------------------
# Inputs (identical data for every library)
# --------------------------------------------------------------------------

def make_inputs(seed=0):
    rng = np.random.default_rng(seed)
    f32 = np.float32
    return {
        "chain": rng.standard_normal(4 * 1024 * 1024, dtype=f32),
        "sum": rng.standard_normal(16 * 1024 * 1024, dtype=f32),
        "softmax": rng.standard_normal((4096, 1024), dtype=f32),
        "matmul_a": rng.standard_normal((1024, 1024), dtype=f32),
        "matmul_b": rng.standard_normal((1024, 1024), dtype=f32),
        "scalar": np.array(1.0, dtype=f32),
        "small": np.ones((1,), dtype=f32),
    }


# --------------------------------------------------------------------------
# Timing harness
# --------------------------------------------------------------------------


def time_dispatch(fn, warmup, reps, inner):
    """Median per-call time of fn() in us, calling it `inner` times per run."""
    def loop():
        for _ in range(inner):
            fn()
    return timeit(loop, warmup, reps) * 1e3 / inner


# --------------------------------------------------------------------------
# Per-library benchmark definitions. Each returns {row_key: thunk} where the
# thunk performs (and fully completes) the work once.
# --------------------------------------------------------------------------

def cases_mx(mx, inp):
    """Ember and MLX (same API). mx.eval forces the lazy graph."""
    x = mx.array(inp["chain"])
    s = mx.array(inp["sum"])
    sm = mx.array(inp["softmax"])
    a = mx.array(inp["matmul_a"])
    b = mx.array(inp["matmul_b"])
    x0 = mx.array(inp["scalar"])
    p = mx.array(inp["small"])
    q = mx.array(inp["small"])
    mx.eval(x, s, sm, a, b, x0, p, q)

    def chain():
        mx.eval(mx.exp(-x) * mx.sin(x) + x * x)

    def adds():
        y = x0
        for _ in range(1000):
            y = y + 1
        mx.eval(y)

    return {
        "chain": chain,
        "sum": lambda: mx.eval(mx.sum(s)),
        "softmax": lambda: mx.eval(mx.softmax(sm, axis=-1)),
        "matmul": lambda: mx.eval(mx.matmul(a, b)),
        "adds": adds,
        # Builds the lazy node only; nothing is evaluated.
        "dispatch": lambda: mx.add(p, q),
    }


def cases_numpy(inp):
    x, s, sm = inp["chain"], inp["sum"], inp["softmax"]
    a, b = inp["matmul_a"], inp["matmul_b"]
    x0, p, q = inp["scalar"], inp["small"], inp["small"].copy()

    def softmax():
        m = sm.max(axis=-1, keepdims=True)
        e = np.exp(sm - m)
        return e / e.sum(axis=-1, keepdims=True)

    def adds():
        y = x0
        for _ in range(1000):
            y = y + 1
        return y

    return {
        "chain": lambda: np.exp(-x) * np.sin(x) + x * x,
        "sum": lambda: np.sum(s),
        "softmax": softmax,
        "matmul": lambda: np.matmul(a, b),
        "adds": adds,
        "dispatch": lambda: np.add(p, q),
    }


def cases_torch(torch, inp):
    x = torch.from_numpy(inp["chain"].copy())
    s = torch.from_numpy(inp["sum"].copy())
    sm = torch.from_numpy(inp["softmax"].copy())
    a = torch.from_numpy(inp["matmul_a"].copy())
    b = torch.from_numpy(inp["matmul_b"].copy())
    x0 = torch.from_numpy(inp["scalar"].copy())
    p = torch.from_numpy(inp["small"].copy())
    q = torch.from_numpy(inp["small"].copy())

    def adds():
        y = x0
        for _ in range(1000):
            y = y + 1
        return y

    return {
        "chain": lambda: torch.exp(-x) * torch.sin(x) + x * x,
        "sum": lambda: torch.sum(s),
        "softmax": lambda: torch.softmax(sm, dim=-1),
        "matmul": lambda: torch.matmul(a, b),
        "adds": adds,
        "dispatch": lambda: torch.add(p, q),
    }


def cases_jax(jax, jnp, inp, jit):
    x = jnp.asarray(inp["chain"])
    s = jnp.asarray(inp["sum"])
    sm = jnp.asarray(inp["softmax"])
    a = jnp.asarray(inp["matmul_a"])
    b = jnp.asarray(inp["matmul_b"])
    x0 = jnp.asarray(inp["scalar"])
    p = jnp.asarray(inp["small"])
    q = jnp.asarray(inp["small"])
    jax.block_until_ready((x, s, sm, a, b, x0, p, q))

    def chain_f(x):
        return jnp.exp(-x) * jnp.sin(x) + x * x

    sum_f = jnp.sum

    def softmax_f(v):
        return jax.nn.softmax(v, axis=-1)

    matmul_f = jnp.matmul

    if jit:
        chain_f, sum_f = jax.jit(chain_f), jax.jit(sum_f)
        softmax_f, matmul_f = jax.jit(softmax_f), jax.jit(matmul_f)
        return {
            "chain": lambda: chain_f(x).block_until_ready(),
            "sum": lambda: sum_f(s).block_until_ready(),
            "softmax": lambda: softmax_f(sm).block_until_ready(),
            "matmul": lambda: matmul_f(a, b).block_until_ready(),
            # Rows 5-6 measure per-op overhead; jit would fold them away.
        }

    def adds():
        y = x0
        for _ in range(1000):
            y = y + 1
        y.block_until_ready()

    return {
        "chain": lambda: chain_f(x).block_until_ready(),
        "sum": lambda: sum_f(s).block_until_ready(),
        "softmax": lambda: softmax_f(sm).block_until_ready(),
        "matmul": lambda: matmul_f(a, b).block_until_ready(),
        "adds": adds,
        # JAX dispatch is asynchronous: this times enqueuing one add.
        "dispatch": lambda: jnp.add(p, q),
    }


def run_cases(cases, cfg):
    """Time every case; returns {row_key: value or None}, errors to stderr."""
    out = {}
    for key, _label, _unit in ROWS:
        fn = cases.get(key)
        if fn is None:
            out[key] = None
            continue
        try:
            if key == "dispatch":
                out[key] = time_dispatch(fn, cfg["warmup"], cfg["reps"],
                                         cfg["inner"])
            else:
                out[key] = timeit(fn, cfg["warmup"], cfg["reps"])
        except Exception as e:  # keep the rest of the table
            print(f"  [{cfg.get('name', '?')}:{key}] failed: "
                  f"{type(e).__name__}: {e}", file=sys.stderr)
            out[key] = None
    return out


# --------------------------------------------------------------------------
# Library runners
# --------------------------------------------------------------------------

def bench_ember(inp, cfg):
    import ember.core as mx
    return run_cases(cases_mx(mx, inp), dict(cfg, name="ember"))


def bench_numpy(inp, cfg):
    return run_cases(cases_numpy(inp), dict(cfg, name="numpy"))


def bench_torch(inp, cfg):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    with torch.inference_mode():
        return run_cases(cases_torch(torch, inp), dict(cfg, name="torch"))


def bench_jax(inp, cfg, jit):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    name = "jax.jit" if jit else "jax"
    return run_cases(cases_jax(jax, jnp, inp, jit), dict(cfg, name=name))


def bench_mlx(cfg, mlx_python):
    """Run this file under the MLX interpreter; None if unavailable."""
    if not mlx_python or not os.path.exists(mlx_python):
        return None
    cmd = [mlx_python, HERE, "--worker", "mlx",
           "--warmup", str(cfg["warmup"]), "--reps", str(cfg["reps"]),
           "--inner", str(cfg["inner"])]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # keep ember / system site-packages out
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"  [mlx] subprocess failed: {e}", file=sys.stderr)
        return None
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-5:]
        print("  [mlx] subprocess exited %d:\n    %s"
              % (proc.returncode, "\n    ".join(tail)), file=sys.stderr)
        return None
    if proc.stderr.strip():
        sys.stderr.write(proc.stderr)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        print("  [mlx] could not parse subprocess output", file=sys.stderr)
        return None


def worker_mlx(cfg):
    try:
        import mlx.core as mx
    except ImportError as e:
        print(f"mlx not importable: {e}", file=sys.stderr)
        sys.exit(2)
    inp = make_inputs()
    res = run_cases(cases_mx(mx, inp), dict(cfg, name="mlx"))
    res["_version"] = getattr(mx, "__version__", "?")
    print(json.dumps(res))


# --------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------

def fmt_time(t):
    if t is None:
        return "-"
    if t >= 100:
        return f"{t:.0f}"
    if t >= 10:
        return f"{t:.1f}"
    if t >= 1:
        return f"{t:.2f}"
    return f"{t:.3f}"


def fmt_peer(t, ember_t):
    return fmt_ratio(t, ember_t, fmt_time)


def print_table(results, columns):
    headers = ["benchmark", "unit", "ember"] + columns
    lines = []
    for key, label, unit in ROWS:
        e = results["ember"].get(key) if results["ember"] else None
        row = [label, unit, fmt_time(e)]
        for col in columns:
            r = results.get(col)
            row.append(fmt_peer(r.get(key) if r else None, e))
        lines.append(row)
    render_table(headers, lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer warmups/repetitions")
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--inner", type=int, default=None,
                    help="calls per run for the dispatch row")
    ap.add_argument("--mlx-python", default=DEFAULT_MLX_PYTHON,
                    help="interpreter with mlx installed ('' to skip)")
    ap.add_argument("--worker", choices=["mlx"], help=argparse.SUPPRESS)
    args = ap.parse_args()

    cfg = {
        "warmup": args.warmup if args.warmup is not None
        else (1 if args.quick else 3),
        "reps": args.reps if args.reps is not None
        else (5 if args.quick else 20),
        "inner": args.inner if args.inner is not None
        else (2000 if args.quick else 20000),
    }

    if args.worker == "mlx":
        worker_mlx(cfg)
        return

    inp = make_inputs()
    results = {}
    versions = {"numpy": np.__version__}

    import ember.core as emx
    versions["ember"] = getattr(emx, "__version__", "?")
    results["ember"] = bench_ember(inp, cfg)
    results["numpy"] = bench_numpy(inp, cfg)

    results["torch"] = bench_torch(inp, cfg)
    if results["torch"] is not None:
        import torch
        versions["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"

    results["jax"] = bench_jax(inp, cfg, jit=False)
    results["jax.jit"] = bench_jax(inp, cfg, jit=True) if results["jax"] is not None else None
    if results["jax"] is not None:
        import jax
        versions["jax"] = f"{jax.__version__} ({jax.default_backend()})"

    mlx = bench_mlx(cfg, args.mlx_python)
    if mlx is not None:
        versions["mlx"] = mlx.pop("_version", "?")
    results["mlx"] = mlx

    print(f"cpus={os.cpu_count()}  warmup={cfg['warmup']} reps={cfg['reps']} "
          f"dispatch-calls/run={cfg['inner']}  (median; ratio = peer / ember, "
          f">1 means Ember is faster)")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print()
    print_table(results, ["numpy", "torch", "jax", "jax.jit", "mlx"])


if __name__ == "__main__":
    main()
