"""Large-array cases for the differential conformance suite: sizes past the thread
pool threshold, vector loops with tails, and the blocked walks of reductions, scans and
argmax/argmin over leading axes."""
from conformance_cases import (BINARY, Case, Inp, UNARY, _ARG_REDUCE, _TRANSC, _binary_case,
                               _call, _kw, _sweep)

# --------------------------------------------------------------------------
# large arrays: threaded kernels, vector loops and their tails, blocked walks
# --------------------------------------------------------------------------
BIG_DTYPES = ["float32", "float16", "bfloat16", "int32", "uint8", "float64", "bool_", "int64"]


def large_cases():
    out = []
    big = [("c", (260, 301)), ("T", (301, 260)), ("s", (130, 513)), ("b", (257, 300))]
    for oi, (name, dom) in enumerate(UNARY):
        tol = 4.0 if name in _TRANSC else 1.0
        for d, (lay, shp), slow in _sweep(["float32", "float16", "int32", "bfloat16"], big,
                                          1, 1, oi):
            inp = Inp(shp, d, lay, dom)
            out.append(Case(f"big:{name}[{inp}]", [name], _call(name), [inp], tol=tol,
                            slow=slow or d not in ("float32", "float16")))
    pairs = [(("c", (260, 301)), ("c", (260, 301))), (("c", (260, 1)), ("c", (301,))),
             (("T", (301, 260)), ("c", (301, 260))), (("s", (130, 513)), ("r", (130, 513))),
             (("c", (70001,)), ("c", ()))]
    for oi, (name, da, db) in enumerate(BINARY):
        tol = 4.0 if name in _TRANSC else 1.0
        for d, lay, slow in _sweep(["float32", "int32", "float16", "uint8"], pairs, 1, 1, oi):
            out.append(_binary_case(name, da, db, d, d, lay, tol,
                                    slow or d not in ("float32", "int32"), tag="-big"))
    red = [("c", (260, 301), {}), ("c", (260, 301), {"axis": 0}),
           ("c", (260, 301), {"axis": 1}), ("T", (301, 260), {"axis": 0}),
           ("T", (301, 260), {"axis": 1}), ("s", (130, 513), {"axis": 0}),
           ("c", (6, 70, 301), {"axis": (0, 2)}), ("c", (6, 70, 301), {"axis": 1}),
           ("r", (1030, 67), {"axis": 0}), ("b", (257, 300), {"axis": 0}),
           ("c", (70001,), {})]
    for oi, name in enumerate(["sum", "mean", "max", "min", "prod", "argmax", "argmin",
                               "logsumexp", "var", "all", "any"]):
        for d, (lay, shp, kw), slow in _sweep(BIG_DTYPES, red, 2, 2, oi):
            if name in _ARG_REDUCE and isinstance(kw.get("axis"), tuple):
                kw = dict(kw, axis=kw["axis"][0])
            dom = {"prod": "unit", "sum": "pos", "mean": "pos"}.get(name, "any")
            if name in _ARG_REDUCE:
                dom = "idx"  # many ties: the first index must win
            inp = Inp(shp, d, lay, dom)
            out.append(Case(f"big:{name}[{inp}-{_kw(kw)}]", [name], _call(name, **kw), [inp],
                            tol=40.0, slow=slow or d in ("bool_", "int64", "uint8")))
        for d in ("float32", "float16"):
            inp = Inp((257, 301), d, "c", "special")
            out.append(Case(f"big:{name}[{inp}-axis=0]", [name], _call(name, axis=0), [inp],
                            tol=40.0))
    scans = [("c", (300, 261), {"axis": 0}), ("c", (261, 300), {"axis": 1}),
             ("c", (67, 1030), {"axis": 0, "reverse": True}),
             ("c", (67, 1030), {"axis": 0, "inclusive": False}),
             ("T", (300, 261), {"axis": 0}), ("s", (150, 131), {"axis": 1, "reverse": True}),
             ("c", (70001,), {"axis": 0})]
    for oi, name in enumerate(["cumsum", "cumprod", "cummax", "cummin"]):
        for d, (lay, shp, kw), slow in _sweep(["float32", "int32", "float16", "bfloat16"],
                                              scans, 3, 2, oi):
            dom = "unit" if name == "cumprod" else ("pos" if name == "cumsum" else "any")
            inp = Inp(shp, d, lay, dom)
            out.append(Case(f"big:{name}[{inp}-{_kw(kw)}]", [name], _call(name, **kw), [inp],
                            tol=40.0, slow=slow))
    for d in ("float32", "int32", "float16"):
        for ax in (0, 1):
            inp = Inp((300, 261), d, "c")
            out.append(Case(f"big:sort[{inp}-axis={ax}]", ["sort"], _call("sort", axis=ax),
                            [inp], slow=d != "float32"))
            inp = Inp((300, 261), d, "c", "idx")
            out.append(Case(f"big:argsort[{inp}-axis={ax}]", ["argsort"],
                            _call("argsort", axis=ax), [inp], slow=d != "float32"))
        x, y = Inp((130, 257), d, "T"), Inp((257, 129), d, "c", tag=1)
        out.append(Case(f"big:matmul[{x}|{y}]", ["matmul"], _call("matmul"), [x, y], tol=40.0))
        inp = Inp((260, 301), d, "s")
        out.append(Case(f"big:astype[{inp}]", ["astype"],
                        lambda M, a: [a.astype(getattr(M, t)) for t in BIG_DTYPES], [inp]))
        inp = Inp((260, 301), d, "T")
        out.append(Case(f"big:softmax[{inp}]", ["softmax"], _call("softmax", axis=-1), [inp],
                        tol=40.0))
        out.append(Case(f"big:where[{d}]", ["where"], lambda M, c, a, b: M.where(c, a, b),
                        [Inp((260, 1), "bool_"), Inp((260, 301), d, "T"),
                         Inp((301,), d, tag=2)]))
        out.append(Case(f"big:concatenate[{d}]", ["concatenate"],
                        lambda M, a, b: M.concatenate([a, b], axis=1),
                        [Inp((260, 301), d, "T"), Inp((260, 7), d, "s", tag=3)]))
        out.append(Case(f"big:take[{d}]", ["take"],
                        lambda M, a, i: M.take(a, i, axis=0),
                        [Inp((300, 261), d, "c"), Inp((500,), "int32", domain="idx", tag=4)]))
    return out
