#!/usr/bin/env python
"""`fast` ops: Ember vs PyTorch (CPU eager) and numpy (an unfused float32 reference).

Rows: rms_norm and layer_norm on (8*512, 4096), scaled dot-product attention on
(batch 8, heads 8, length 512, dim 64), each forward and forward+backward. Each cell
is the median wall time (ms) over several runs after warmup; peer cells also show
peer_time / ember_time, so a ratio above 1 means Ember is faster.

    PYTHONPATH=python python benchmarks/bench_fast.py [--quick]
"""

import argparse

import numpy as np

from _table import fmt_peer, print_table, timeit as _timeit

import ember.core as mx

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    torch = None


def timeit(fn, reps, warmup=2):
    return _timeit(fn, warmup, reps, unit=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    reps = 3 if args.quick else 7
    rng = np.random.default_rng(0)
    rows_n, dim = (8 * 512, 4096) if not args.quick else (1024, 4096)
    B, H, T, D = (8, 8, 512, 64) if not args.quick else (2, 8, 512, 64)
    x = rng.standard_normal((rows_n, dim), dtype=np.float32)
    w = rng.standard_normal(dim, dtype=np.float32)
    bias = rng.standard_normal(dim, dtype=np.float32)
    q, k, v = (rng.standard_normal((B, H, T, D), dtype=np.float32) for _ in range(3))
    scale = 1.0 / np.sqrt(D)

    ex, ew, eb = mx.array(x), mx.array(w), mx.array(bias)
    eq, ek, ev = mx.array(q), mx.array(k), mx.array(v)
    results = {}

    def ember_rows():
        rms_g = mx.grad(lambda a, g: mx.sum(mx.fast.rms_norm(a, g, 1e-5)), argnums=(0, 1))
        ln_g = mx.grad(lambda a, g, c: mx.sum(mx.fast.layer_norm(a, g, c, 1e-5)), argnums=(0, 1, 2))
        sdpa = lambda a, b, c, m: mx.fast.scaled_dot_product_attention(a, b, c, scale=scale, mask=m)
        sdpa_g = lambda m: mx.grad(lambda a, b, c: mx.sum(sdpa(a, b, c, m)), argnums=(0, 1, 2))
        return {
            "rms": lambda: mx.eval(mx.fast.rms_norm(ex, ew, 1e-5)),
            "rms_bwd": lambda: mx.eval(rms_g(ex, ew)),
            "ln": lambda: mx.eval(mx.fast.layer_norm(ex, ew, eb, 1e-5)),
            "ln_bwd": lambda: mx.eval(ln_g(ex, ew, eb)),
            "sdpa": lambda: mx.eval(sdpa(eq, ek, ev, None)),
            "sdpa_bwd": lambda: mx.eval(sdpa_g(None)(eq, ek, ev)),
            "sdpa_causal": lambda: mx.eval(sdpa(eq, ek, ev, "causal")),
            "sdpa_causal_bwd": lambda: mx.eval(sdpa_g("causal")(eq, ek, ev)),
        }

    def torch_rows():
        tx, tw, tb = (torch.from_numpy(a) for a in (x, w, bias))
        tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
        g = [t.clone().requires_grad_(True) for t in (tx, tw, tb)]
        gq = [t.clone().requires_grad_(True) for t in (tq, tk, tv)]

        def fwd_bwd(f, params):
            def run():
                for p in params:
                    p.grad = None
                f().sum().backward()
            return run

        def nograd(f):
            def run():
                with torch.no_grad():
                    f()
            return run

        att = lambda a, b, c, causal: F.scaled_dot_product_attention(a, b, c, is_causal=causal, scale=scale)
        return {
            "rms": nograd(lambda: F.rms_norm(tx, (dim,), tw, 1e-5)),
            "rms_bwd": fwd_bwd(lambda: F.rms_norm(g[0], (dim,), g[1], 1e-5), g[:2]),
            "ln": nograd(lambda: F.layer_norm(tx, (dim,), tw, tb, 1e-5)),
            "ln_bwd": fwd_bwd(lambda: F.layer_norm(g[0], (dim,), g[1], g[2], 1e-5), g),
            "sdpa": nograd(lambda: att(tq, tk, tv, False)),
            "sdpa_bwd": fwd_bwd(lambda: att(*gq, False), gq),
            "sdpa_causal": nograd(lambda: att(tq, tk, tv, True)),
            "sdpa_causal_bwd": fwd_bwd(lambda: att(*gq, True), gq),
        }

    def numpy_rows():
        def rms():
            return x / np.sqrt(np.mean(x * x, -1, keepdims=True) + 1e-5) * w

        def ln():
            mu = x.mean(-1, keepdims=True)
            return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * w + bias

        def sdpa():
            s = (q * scale) @ np.swapaxes(k, -1, -2)
            s = np.exp(s - s.max(-1, keepdims=True))
            return (s / s.sum(-1, keepdims=True)) @ v

        return {"rms": rms, "ln": ln, "sdpa": sdpa}

    labels = [
        ("rms", f"rms_norm fwd ({rows_n}, {dim})"),
        ("rms_bwd", f"rms_norm fwd+bwd ({rows_n}, {dim})"),
        ("ln", f"layer_norm fwd ({rows_n}, {dim})"),
        ("ln_bwd", f"layer_norm fwd+bwd ({rows_n}, {dim})"),
        ("sdpa", f"sdpa fwd ({B},{H},{T},{D})"),
        ("sdpa_bwd", f"sdpa fwd+bwd ({B},{H},{T},{D})"),
        ("sdpa_causal", f"sdpa causal fwd ({B},{H},{T},{D})"),
        ("sdpa_causal_bwd", f"sdpa causal fwd+bwd ({B},{H},{T},{D})"),
    ]
    libs = [("ember", ember_rows())]
    if torch is not None:
        libs.append(("torch", torch_rows()))
    libs.append(("numpy", numpy_rows()))
    for name, fns in libs:
        for key, _ in labels:
            if key in fns:
                results[(name, key)] = timeit(fns[key], reps)
    ms = lambda t: f"{t * 1e3:.2f}"
    lines = []
    for key, label in labels:
        e = results.get(("ember", key))
        row = [label, ms(e)]
        for name, _ in libs[1:]:
            row.append(fmt_peer(results.get((name, key)), e, ms))
        lines.append(row)
    print_table(["op", "ember ms"] + [f"{n} ms" for n, _ in libs[1:]], lines)


if __name__ == "__main__":
    main()
