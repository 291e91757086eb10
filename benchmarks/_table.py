"""Plain-text table printing shared by the benchmark scripts."""


def print_table(headers, lines):
    """Print `lines` (lists of strings) under `headers`: first column left, others right."""
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(headers)]

    def render(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    print(render(headers))
    print("  ".join("-" * w for w in widths))
    for r in lines:
        print(render(r))


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
