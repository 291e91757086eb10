"""Plain-text table printing shared by the benchmark scripts.

Every script also takes `--png PATH` (or the environment variable EMBER_BENCH_PNG=PATH): each
table it prints is also drawn as a bar chart of every library's time relative to Ember's, and
written to PATH (the second table of a run to PATH-2.png, and so on). The charts need matplotlib
(`pip install matplotlib`, or the `docs` extra).
"""

import os
import re
import sys


def _take_png_option(argv):
    """Removes `--png PATH` / `--png=PATH` from argv (the scripts' own parsers never see it)."""
    path = os.environ.get("EMBER_BENCH_PNG") or None
    i = 0
    while i < len(argv):
        if argv[i] == "--png":
            if i + 1 >= len(argv):
                sys.exit("--png needs a file name")
            path = argv[i + 1]
            del argv[i:i + 2]
        elif argv[i].startswith("--png="):
            path = argv[i][len("--png="):]
            del argv[i]
        else:
            i += 1
    if path:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            sys.exit("--png draws the tables with matplotlib, which is not installed: "
                     "pip install matplotlib (or the docs extra: pip install '.[docs]')")
    return path


_PNG = _take_png_option(sys.argv)
_TABLES = []


def _number(cell):
    """The leading number of a cell ('1.23 (2.0x)' -> 1.23), None for '-' or text."""
    m = re.match(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)", cell)
    return float(m.group(1)) if m else None


def plot_table(headers, lines, path, title=None):
    """Writes a bar chart of one table to `path`: for each row, each library's time divided by
    Ember's (the first column whose header says ember), on a log scale; below 1 is faster than
    Ember. Columns without numbers (a unit column) are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    cols = [j for j in range(1, len(headers)) if any(_number(r[j]) is not None for r in lines)]
    base = next((j for j in cols if "ember" in headers[j].lower()), cols[0] if cols else None)
    if base is None:
        return None
    rows = [r for r in lines if _number(r[base])]
    peers = [j for j in cols if j != base]
    if not rows or not peers:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) * len(peers) + 1.8))
    height = 0.8 / len(peers)
    ratios = []
    for k, j in enumerate(peers):
        ys, xs = [], []
        for i, r in enumerate(rows):
            v = _number(r[j])
            if v is not None:
                ys.append(i + (k - (len(peers) - 1) / 2) * height)
                xs.append(v / _number(r[base]))
        ratios += xs
        # bars grow from 1 (the same time as Ember): right when the peer is slower
        ax.barh(ys, [x - 1 for x in xs], left=1, height=height, label=headers[j])
        for y, x in zip(ys, xs):
            ax.annotate(f"{x:.2g}x", (x, y), xytext=(3 if x >= 1 else -3, 0),
                        textcoords="offset points", va="center", ha="left" if x >= 1 else "right",
                        fontsize=6)
    ax.set_xscale("log")
    lo, hi = min(ratios + [1.0]), max(ratios + [1.0])
    ax.set_xlim(lo / 1.6, hi * 1.6)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(rows)))
    text_cols = [j for j in range(1, len(headers)) if j not in cols]  # a unit column
    ax.set_yticklabels([" ".join([r[0], f"({r[base]}"] + [r[j] for j in text_cols]) + ")"
                        for r in rows], fontsize=8)
    ax.invert_yaxis()
    name = headers[base]
    ax.set_xlabel(f"peer time / {name} time (log scale): right of 1, {name} is faster; "
                  f"the {name} time is in brackets", fontsize=8)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    ax.set_title(f"{title or os.path.basename(sys.argv[0])}\n"
                 f"{os.cpu_count()} CPUs, load average {load} when drawn", fontsize=9)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def print_table(headers, lines):
    """Print `lines` (lists of strings) under `headers`: first column left, others right.
    With `--png PATH`, the table is also drawn (see `plot_table`)."""
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(headers)]

    def render(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    print(render(headers))
    print("  ".join("-" * w for w in widths))
    for r in lines:
        print(render(r))
    if _PNG:
        _TABLES.append(headers)
        root, ext = os.path.splitext(_PNG)
        path = _PNG if len(_TABLES) == 1 else f"{root}-{len(_TABLES)}{ext or '.png'}"
        if plot_table(headers, lines, path):
            print(f"chart written to {path}")


def fmt_peer(t, ember_t, fmt_time):
    """A peer's time formatted by `fmt_time`, with its ratio to Ember's (above 1: Ember faster)."""
    if t is None:
        return "-"
    if not ember_t:
        return fmt_time(t)
    return f"{fmt_time(t)} ({t / ember_t:.2f}x)"


def timeit(fn, warmup, reps, best=False, unit=1e3):
    """Wall time of fn() over `reps` runs after `warmup` untimed ones: the median (or the best
    run, which a busy machine scatters less), in ms (`unit=1` for seconds)."""
    import statistics
    import time

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return (min(times) if best else statistics.median(times)) * unit


def fmt_ms(t):
    """A time in ms with three significant figures or so ("-" when missing)."""
    if t is None:
        return "-"
    if t >= 100:
        return f"{t:.0f}"
    if t >= 10:
        return f"{t:.1f}"
    return f"{t:.2f}"


def time_rows(rows, cases, cfg, name, best=False):
    """{key: ms} for each (key, label) row, timed with `timeit` and cfg's warmup and reps; a
    case that raises is reported and left out of the table (None)."""
    import sys

    out = {}
    for key, _ in rows:
        try:
            out[key] = timeit(cases[key], cfg["warmup"], cfg["reps"], best=best)
        except Exception as e:  # keep the rest of the table
            print(f"  [{name}:{key}] failed: {type(e).__name__}: {e}", file=sys.stderr)
            out[key] = None
    return out


def time_peers(rows, cases_mx, cases_numpy, cases_torch, inp, cfg, best=False, with_mlx=True):
    """Times the rows in Ember, numpy and (when installed) PyTorch and MLX, one after the other
    in this process: ({peer: {key: ms}}, {peer: version}). cases_mx(module, inp) serves Ember
    and MLX alike."""
    import os

    import numpy as np

    import ember.core as emx

    results = {"ember": time_rows(rows, cases_mx(emx, inp), cfg, "ember", best),
               "numpy": time_rows(rows, cases_numpy(inp), cfg, "numpy", best)}
    versions = {"numpy": np.__version__}
    try:
        import torch
        torch.set_num_threads(os.cpu_count() or 1)
        with torch.inference_mode():
            results["torch"] = time_rows(rows, cases_torch(torch, inp), cfg, "torch", best)
        versions["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        pass
    if with_mlx:
        try:
            import mlx.core as mlx
            results["mlx"] = time_rows(rows, cases_mx(mlx, inp), cfg, "mlx", best)
            versions["mlx"] = mlx.__version__
        except ImportError:
            pass
    return results, versions


def print_peer_table(rows, results):
    """One line per (key, label) row: Ember's ms, then each peer's with its ratio."""
    peers = [c for c in ("numpy", "torch", "mlx") if c in results]
    lines = []
    for key, label in rows:
        e = results["ember"][key]
        lines.append([label, fmt_ms(e)] + [fmt_peer(results[p][key], e, fmt_ms) for p in peers])
    print_table(["benchmark (ms)", "ember"] + peers, lines)
