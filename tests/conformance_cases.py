"""Generated calls for the differential conformance suite (tests/test_conformance.py).

A `Case` is one call written once against a module parameter `M`; the suite runs it
through both `mlx.core` and `ember.core` and compares what comes back: the values
(with a tolerance that depends on the result dtype), dtypes, shapes, container
structure, or -- when the reference raises -- the exception class.

Inputs are described by `Inp` (shape, dtype, memory layout, value domain) and built
identically in both modules from the same numpy data, so that differences can only
come from the ops under test.  Layouts:

    c  contiguous                 T  transpose of a contiguous array
    s  every other element (1::2 on each axis)
    r  first axis reversed (negative stride)
    b  broadcast along the first axis (zero stride)

Every case names the public callables it exercises; the suite uses those names to
check that every callable both modules share is covered or explicitly skipped.
Cases flagged `slow` belong to the long sweep (pytest -m slow).
"""
import itertools
import zlib

import numpy as np

DTYPES = [
    "bool_", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32",
    "int64", "float16", "bfloat16", "float32", "float64", "complex64",
]
UINTS = ["uint8", "uint16", "uint32", "uint64"]
SINTS = ["int8", "int16", "int32", "int64"]
INTS = UINTS + SINTS
FLOATS = ["float16", "bfloat16", "float32", "float64"]
INEXACT = FLOATS + ["complex64"]
REAL = ["bool_"] + INTS + FLOATS

_NP = {
    "bool_": np.bool_, "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32,
    "uint64": np.uint64, "int8": np.int8, "int16": np.int16, "int32": np.int32,
    "int64": np.int64, "float16": np.float16, "bfloat16": np.float32,
    "float32": np.float32, "float64": np.float64, "complex64": np.complex64,
}

# (rtol, atol) for comparing two results of a dtype: about two units in the last
# place, so that differently rounded but correct kernels agree.
TOL = {
    "float16": (2e-3, 2e-3),
    "bfloat16": (1.6e-2, 1.6e-2),
    "float32": (1e-5, 1e-6),
    "float64": (1e-12, 1e-14),
    "complex64": (1e-5, 1e-6),
}


def dtype_name(d):
    name = str(d).rsplit(".", 1)[-1]
    return "bool_" if name == "bool" else name


def resolve(M, dotted):
    """`M.a.b` for the name "a.b", or None."""
    obj = M
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------
_SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, 65504.0, 1e5, -2.5, 2.5,
            0.5, -0.5, 1.5, 3.7, -3.7, 1.0, -1.0, 1e-3, -7.25, 100.0]


def _gen(shape, dtype, domain, rng):
    n = int(np.prod(shape)) if shape else 1
    if dtype == "bool_":
        if domain in ("nz", "pos", "ge1"):
            v = np.ones(n, bool)
        else:
            v = rng.random(n) < 0.5
        return v.reshape(shape)
    if dtype in INTS:
        signed = dtype in SINTS
        lo, hi = {
            "any": (-6 if signed else 0, 7),
            "pos": (1, 9), "ge1": (1, 9), "nz": (1, 7),
            "unit": (-1 if signed else 0, 2),
            "shift": (0, 8), "small": (0, 4), "special": (-6 if signed else 0, 7),
            "idx": (0, 3), "wide": (-100 if signed else 0, 120),
        }[domain]
        v = rng.integers(lo, hi, n)
        if domain == "nz" and signed:
            v = v * np.where(rng.random(n) < 0.5, -1, 1)
        return v.astype(_NP[dtype]).reshape(shape)
    # floating and complex
    if domain == "special":
        v = np.array([_SPECIAL[i % len(_SPECIAL)] for i in range(n)])
        rng.shuffle(v)
    elif domain == "any":
        v = rng.normal(0, 2, n)
    elif domain == "pos":
        v = rng.uniform(0.1, 4.0, n)
    elif domain == "ge1":
        v = rng.uniform(1.0, 4.0, n)
    elif domain == "unit":
        v = rng.uniform(-0.95, 0.95, n)
    elif domain == "nz":
        v = rng.uniform(0.5, 3.0, n) * np.where(rng.random(n) < 0.5, -1, 1)
    elif domain == "small":
        v = rng.integers(0, 4, n).astype(float)
    elif domain == "shift":
        v = rng.integers(0, 8, n).astype(float)
    elif domain == "idx":
        v = rng.integers(0, 3, n).astype(float)
    elif domain == "wide":
        v = rng.uniform(0, 120, n)
    elif domain == "half":  # exact halves, for round-half-to-even
        v = rng.integers(-8, 8, n) + 0.5
    else:
        raise ValueError(domain)
    if dtype == "complex64":
        if domain in ("pos", "ge1"):
            w = rng.uniform(0.1, 2, n)
        elif domain == "unit":
            w = rng.uniform(-0.3, 0.3, n)
        else:
            w = rng.normal(0, 2, n)
        v = v + 1j * w
    return v.astype(_NP[dtype]).reshape(shape)


def _base_shape(shape, layout):
    shape = tuple(shape)
    if layout == "T":
        return shape[::-1]
    if layout == "s":
        return tuple(2 * d + 1 for d in shape)
    if layout == "b":
        return (1,) + shape[1:]
    return shape


class Inp:
    """An input array: logical `shape`, `dtype` name, `layout`, value `domain`."""

    __slots__ = ("shape", "dtype", "layout", "domain", "tag", "_data")

    def __init__(self, shape, dtype="float32", layout="c", domain="any", tag=0):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.layout = layout
        self.domain = domain
        self.tag = tag
        self._data = None

    def data(self):
        if self._data is None:
            key = f"{self.shape}{self.dtype}{self.layout}{self.domain}{self.tag}"
            rng = np.random.default_rng(zlib.crc32(key.encode()))
            self._data = _gen(_base_shape(self.shape, self.layout), self.dtype,
                              self.domain, rng)
        return self._data

    def make(self, M):
        base = self.data()
        if self.dtype in ("bfloat16", "float64"):
            a = M.array(base, dtype=getattr(M, self.dtype))
        else:
            a = M.array(base)
        lay = self.layout
        if lay == "T":
            a = M.transpose(a)
        elif lay == "s":
            a = a[tuple(slice(1, None, 2) for _ in self.shape)]
        elif lay == "r":
            a = a[::-1]
        elif lay == "b":
            a = M.broadcast_to(a, self.shape)
        return a

    def __repr__(self):
        s = "x".join(map(str, self.shape)) or "scalar"
        dom = "" if self.domain == "any" else f"-{self.domain}"
        return f"{self.dtype}-{self.layout}{s}{dom}"


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------
class Case:
    """One call `fn(M, *inputs)`; `names` are the public callables it exercises."""

    __slots__ = ("id", "names", "fn", "inputs", "tol", "slow", "check", "approx")

    def __init__(self, cid, names, fn, inputs=(), tol=1.0, slow=False, check="values",
                 approx=None):
        self.id = cid
        # float64 transcendental functions: MLX evaluates them to about float32
        # accuracy, so a correctly rounded float64 result differs by ~1e-8
        self.approx = any(n in _TRANSC for n in names) if approx is None else approx
        self.names = tuple(names)
        self.fn = fn
        self.inputs = tuple(inputs)
        self.tol = tol
        self.slow = slow
        # "values": full comparison; "meta": dtype / shape / structure only (for
        # results that are correct in any of several valid values)
        self.check = check

    def run(self, M):
        return self.fn(M, *[i.make(M) for i in self.inputs])


class Outcome:
    """What a case gave: a host tree, or the exception and the stage that raised it
    ("call" while building the graph, "eval" while evaluating it)."""

    __slots__ = ("ok", "value", "error", "stage")

    def __init__(self, ok, value=None, error=None, stage=None):
        self.ok, self.value, self.error, self.stage = ok, value, error, stage


def _arrays(M, r, out):
    if isinstance(r, M.array):
        out.append(r)
    elif isinstance(r, (list, tuple)):
        for x in r:
            _arrays(M, x, out)
    elif isinstance(r, dict):
        for x in r.values():
            _arrays(M, x, out)
    return out


def host(M, r):
    """Convert an evaluated result tree to plain Python / numpy for comparison."""
    if isinstance(r, M.array):
        d = dtype_name(r.dtype)
        a = r.astype(M.float32) if d == "bfloat16" else r
        return ("array", d, tuple(r.shape), np.array(a))
    if isinstance(r, (list, tuple)):
        return ("seq", [host(M, x) for x in r])
    if isinstance(r, dict):
        return ("dict", {k: host(M, v) for k, v in r.items()})
    if isinstance(r, M.Dtype):
        return ("dtype", dtype_name(r))
    if r is None or isinstance(r, (bool, int, float, complex, str)):
        return ("py", type(r).__name__, r)
    if isinstance(r, (M.Device, M.Stream)):
        return ("py", "str", repr(r))
    return ("other", type(r).__name__)


def outcome(M, case):
    try:
        r = case.run(M)
    except Exception as e:  # noqa: BLE001 - any exception is part of the outcome
        return Outcome(False, error=e, stage="call")
    try:
        arrays = _arrays(M, r, [])
        if arrays:
            M.eval(arrays)
        return Outcome(True, value=host(M, r))
    except Exception as e:  # noqa: BLE001
        return Outcome(False, error=e, stage="eval")


def _close(a, b, d, tol, approx=False):
    if d not in TOL:
        return a.shape == b.shape and np.array_equal(a, b)
    rtol, atol = TOL[d]
    rtol, atol = rtol * tol, atol * tol
    if approx and d == "float64":
        rtol = atol = max(rtol, 4e-7)
    if d == "complex64":
        return (_close(a.real, b.real, "float32", tol * 2)
                and _close(a.imag, b.imag, "float32", tol * 2))
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    na, nb = np.isnan(a), np.isnan(b)
    if not np.array_equal(na, nb):
        return False
    ia, ib = np.isinf(a), np.isinf(b)
    if not np.array_equal(ia, ib) or not np.array_equal(a[ia], b[ib]):
        return False
    m = ~(na | ia)
    scale = max(1.0, float(np.max(np.abs(b[m])))) if m.any() else 1.0
    return bool(np.all(np.abs(a[m] - b[m]) <= atol * scale + rtol * np.abs(b[m])))


def diff(ref, got, tol=1.0, check="values", path="out", approx=False):
    """Differences between two host trees (reference first), as messages."""
    if ref[0] != got[0]:
        return [f"{path}: kind {got[0]} (expected {ref[0]})"]
    kind = ref[0]
    if kind == "array":
        _, d1, s1, v1 = ref
        _, d2, s2, v2 = got
        out = []
        if d1 != d2:
            out.append(f"{path}: dtype {d2} (expected {d1})")
        if s1 != s2:
            out.append(f"{path}: shape {s2} (expected {s1})")
        if not out and check == "values" and not _close(v2, v1, d1, tol, approx):
            out.append(f"{path}: values\n  got      {np.array2string(v2, threshold=40)}"
                       f"\n  expected {np.array2string(v1, threshold=40)}")
        return out
    if kind == "seq":
        if len(ref[1]) != len(got[1]):
            return [f"{path}: length {len(got[1])} (expected {len(ref[1])})"]
        out = []
        for i, (x, y) in enumerate(zip(ref[1], got[1])):
            out += diff(x, y, tol, check, f"{path}[{i}]", approx)
        return out
    if kind == "dict":
        if set(ref[1]) != set(got[1]):
            return [f"{path}: keys {sorted(got[1])} (expected {sorted(ref[1])})"]
        out = []
        for k in ref[1]:
            out += diff(ref[1][k], got[1][k], tol, check, f"{path}[{k!r}]", approx)
        return out
    if kind == "py":
        if ref[1] != got[1]:
            return [f"{path}: python {got[1]} (expected {ref[1]})"]
        x, y = ref[2], got[2]
        if check == "values":
            if isinstance(x, float) and isinstance(y, float):
                if not (x == y or (np.isnan(x) and np.isnan(y))
                        or abs(x - y) <= 1e-6 * max(1.0, abs(x))):
                    return [f"{path}: {y!r} (expected {x!r})"]
            elif x != y:
                return [f"{path}: {y!r} (expected {x!r})"]
        return []
    if ref != got:
        return [f"{path}: {got} (expected {ref})"]
    return []


def _describe(err):
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text[:200]}"


def compare(ref, got, case):
    """None when Ember's outcome `got` matches MLX's `ref`, else what differs."""
    if not ref.ok:
        if got.ok:
            return f"MLX raises {_describe(ref.error)}; Ember returns a result"
        if not isinstance(got.error, type(ref.error)):
            return f"MLX raises {_describe(ref.error)}; Ember raises {_describe(got.error)}"
        if ref.stage == "call" and got.stage == "eval":
            return (f"MLX raises {_describe(ref.error)} when the op is called; Ember only "
                    "when the result is evaluated")
        return None
    if not got.ok:
        return f"Ember raises {_describe(got.error)} ({got.stage}); MLX returns a result"
    problems = diff(ref.value, got.value, tol=case.tol, check=case.check, approx=case.approx)
    return "\n".join(problems) if problems else None


# --------------------------------------------------------------------------
# helpers to generate case lists
# --------------------------------------------------------------------------
def _sweep(dtypes, variants, core, rot, salt=0):
    """Yield (dtype, variant, slow): the first `core` variants for every dtype, and
    `rot` of the others per dtype, rotating with the dtype so that the default run
    reaches each variant with some dtype; everything else is flagged slow."""
    rest = len(variants) - core
    for di, d in enumerate(dtypes):
        for vi, v in enumerate(variants):
            fast = vi < core or (rest > 0 and (vi - core - di - salt) % rest < rot)
            yield d, v, not fast


def _shape_str(shape):
    return "x".join(map(str, shape)) or "scalar"


def _call(name, *args, **kw):
    """fn(M, *arrays) calling M.<name>(*arrays, *args, **kw)."""
    def fn(M, *xs):
        return resolve(M, name)(*xs, *args, **kw)
    return fn


def _kw(kw):
    return ",".join(f"{k}={v}" for k, v in kw.items())


# --------------------------------------------------------------------------
# element-wise unary
# --------------------------------------------------------------------------
UNARY = [
    ("abs", "any"), ("negative", "any"), ("positive", "any"), ("sign", "any"),
    ("square", "any"), ("sqrt", "pos"), ("rsqrt", "pos"), ("reciprocal", "nz"),
    ("exp", "any"), ("expm1", "any"), ("log", "pos"), ("log2", "pos"),
    ("log10", "pos"), ("log1p", "pos"), ("sin", "any"), ("cos", "any"),
    ("tan", "unit"), ("arcsin", "unit"), ("arccos", "unit"), ("arctan", "any"),
    ("sinh", "any"), ("cosh", "any"), ("tanh", "any"), ("arcsinh", "any"),
    ("arccosh", "ge1"), ("arctanh", "unit"), ("asin", "unit"), ("acos", "unit"),
    ("atan", "any"), ("asinh", "any"), ("acosh", "ge1"), ("atanh", "unit"),
    ("ceil", "any"), ("floor", "any"), ("round", "any"), ("trunc", "any"),
    ("erf", "any"), ("erfinv", "unit"), ("sigmoid", "any"), ("logical_not", "any"),
    ("bitwise_invert", "any"), ("isnan", "special"), ("isinf", "special"),
    ("isfinite", "special"), ("isneginf", "special"), ("isposinf", "special"),
    ("conj", "any"), ("conjugate", "any"), ("real", "any"), ("imag", "any"),
    ("degrees", "any"), ("radians", "any"), ("stop_gradient", "any"),
    ("nan_to_num", "special"), ("contiguous", "any"),
]
# ops whose float results come from transcendental approximations
_TRANSC = {"exp", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan",
           "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
           "arccosh", "arctanh", "asin", "acos", "atan", "asinh", "acosh", "atanh",
           "erf", "erfinv", "sigmoid", "rsqrt", "logaddexp", "arctan2", "atan2",
           "power", "pow", "softmax", "logsumexp", "logcumsumexp", "sqrt"}

UNARY_LAYOUTS = [("c", (2, 3, 4)), ("c", ()), ("c", (0, 3)), ("T", (3, 5)),
                 ("s", (3, 4)), ("r", (4, 3)), ("b", (3, 4))]


def unary_cases():
    out = []
    for oi, (name, dom) in enumerate(UNARY):
        tol = 4.0 if name in _TRANSC else 1.0
        for d, (lay, shp), slow in _sweep(DTYPES, UNARY_LAYOUTS, 3, 2, oi):
            inp = Inp(shp, d, lay, dom)
            out.append(Case(f"unary:{name}[{inp}]", [name], _call(name), [inp],
                            tol=tol, slow=slow))
        for d in FLOATS:
            if dom != "special":
                inp = Inp((4, 5), d, "c", "special")
                out.append(Case(f"unary:{name}[{inp}]", [name], _call(name), [inp],
                                tol=tol))
    for d in FLOATS:
        inp = Inp((3, 6), d, "c", "half")
        out.append(Case(f"unary:round[{inp}]", ["round"], _call("round"), [inp]))
    for d in ["float32", "float16", "float64", "int32", "bfloat16"]:
        for dec in (1, 2, -1):
            inp = Inp((3, 4), d, "c", "any")
            out.append(Case(f"unary:round[{inp}-decimals={dec}]", ["round"],
                            _call("round", dec), [inp], tol=2.0, approx=True))
    for d in FLOATS:
        inp = Inp((4, 5), d, "c", "special")
        out.append(Case(f"unary:nan_to_num[{inp}-nan=1,posinf=9,neginf=-9]",
                        ["nan_to_num"],
                        _call("nan_to_num", nan=1.0, posinf=9.0, neginf=-9.0), [inp]))
    return out


# --------------------------------------------------------------------------
# element-wise binary
# --------------------------------------------------------------------------
BINARY = [
    ("add", "any", "any"), ("subtract", "any", "any"), ("multiply", "any", "any"),
    ("divide", "any", "nz"), ("floor_divide", "any", "nz"), ("remainder", "any", "nz"),
    ("power", "pos", "small"), ("pow", "pos", "small"), ("maximum", "any", "any"),
    ("minimum", "any", "any"), ("arctan2", "any", "any"), ("atan2", "any", "any"),
    ("logaddexp", "any", "any"), ("equal", "any", "any"), ("not_equal", "any", "any"),
    ("greater", "any", "any"), ("greater_equal", "any", "any"), ("less", "any", "any"),
    ("less_equal", "any", "any"), ("logical_and", "any", "any"),
    ("logical_or", "any", "any"), ("logical_xor", "any", "any"),
    ("bitwise_and", "any", "any"), ("bitwise_or", "any", "any"),
    ("bitwise_xor", "any", "any"), ("left_shift", "small", "shift"),
    ("right_shift", "wide", "shift"), ("bitwise_left_shift", "small", "shift"),
    ("bitwise_right_shift", "wide", "shift"), ("divmod", "any", "nz"),
]

BINARY_LAYOUTS = [
    (("c", (2, 3)), ("c", (2, 3))),
    (("c", (3, 1)), ("c", (4,))),
    ("py_int", None), ("py_float", None),
    (("c", ()), ("c", (2, 3))),
    (("c", (0, 3)), ("c", (3,))),
    (("T", (3, 4)), ("c", (3, 4))),
    (("s", (3, 4)), ("r", (3, 4))),
    (("b", (3, 4)), ("T", (3, 4))),
    ("py_int_left", None),
    (("c", (2, 1, 3)), ("c", (4, 1))),
]


def _binary_case(name, da, db, dtype_a, dtype_b, lay, tol, slow, tag=""):
    if isinstance(lay[0], str):
        lay = lay[0]
        shp = (2, 3)
        x = Inp(shp, dtype_a, "c", da)
        if lay == "py_int":
            val = 2 if db != "shift" else 3
            fn = lambda M, a, n=name, v=val: resolve(M, n)(a, v)
        elif lay == "py_float":
            val = 1.5 if db != "shift" else 2.0
            fn = lambda M, a, n=name, v=val: resolve(M, n)(a, v)
        else:
            x = Inp(shp, dtype_a, "c", db)
            val = 3 if da != "wide" else 100
            fn = lambda M, a, n=name, v=val: resolve(M, n)(v, a)
        return Case(f"binary:{name}[{x}-{lay}{tag}]", [name], fn, [x], tol=tol, slow=slow)
    (la, sa), (lb, sb) = lay
    x = Inp(sa, dtype_a, la, da)
    y = Inp(sb, dtype_b, lb, db, tag=1)
    return Case(f"binary:{name}[{x}|{y}{tag}]", [name], _call(name), [x, y],
                tol=tol, slow=slow)


def binary_cases():
    out = []
    for oi, (name, da, db) in enumerate(BINARY):
        tol = 4.0 if name in _TRANSC else 1.0
        for d, lay, slow in _sweep(DTYPES, BINARY_LAYOUTS, 4, 2, oi):
            out.append(_binary_case(name, da, db, d, d, lay, tol, slow))
        for d in FLOATS:
            x = Inp((4, 5), d, "c", "special")
            y = Inp((4, 5), d, "c", "special", tag=1)
            out.append(Case(f"binary:{name}[{x}|{y}]", [name], _call(name), [x, y],
                            tol=tol))
    # type promotion: every pair of dtypes for a few ops, all binary ops in the slow run
    fast_ops = {"add", "divide", "maximum", "equal", "floor_divide", "bitwise_or"}
    for name, da, db in BINARY:
        for a, b in itertools.product(DTYPES, DTYPES):
            if a == b:
                continue
            tol = 4.0 if name in _TRANSC else 1.0
            out.append(_binary_case(name, da, db, a, b, (("c", (2, 3)), ("c", (3,))),
                                    tol, name not in fast_ops, tag="-mixed"))
    # shapes that do not broadcast
    for name, da, db in BINARY:
        for d in ("float32", "int32"):
            out.append(_binary_case(name, da, db, d, d, (("c", (2, 3)), ("c", (4,))), 1.0,
                                    False, tag="-nobcast"))
    # integer division semantics on negative operands
    for name in ("floor_divide", "remainder", "divmod"):
        for d in SINTS + ["float32", "float16", "float64"]:
            x = Inp((6, 5), d, "c", "wide" if d in FLOATS else "any")
            y = Inp((6, 5), d, "c", "nz", tag=2)
            out.append(Case(f"binary:{name}[{x}|{y}-signs]", [name], _call(name), [x, y]))
    return out


# --------------------------------------------------------------------------
# reductions and scans
# --------------------------------------------------------------------------
REDUCE = ["sum", "prod", "mean", "var", "std", "max", "min", "all", "any",
          "argmax", "argmin", "logsumexp", "median", "count_nonzero"]

REDUCE_VARIANTS = [
    ("c", (2, 3, 4), {}),
    ("c", (2, 3, 4), {"axis": -1}),
    ("c", (2, 3, 4), {"axis": (0, 2), "keepdims": True}),
    ("c", (2, 3, 4), {"axis": 0}),
    ("c", (2, 3, 4), {"axis": 1, "keepdims": True}),
    ("T", (3, 4, 5), {"axis": (1, 2)}),
    ("s", (3, 4), {"axis": 0}),
    ("r", (5, 3), {"axis": -1}),
    ("b", (3, 4), {"axis": 0}),
    ("c", (0, 3), {}),
    ("c", (0, 3), {"axis": 0}),
    ("c", (0, 3), {"axis": 1}),
    ("c", (), {}),
    ("c", (2, 3), {"axis": 2}),
    ("c", (2, 3), {"axis": (0, 0)}),
    ("c", (2, 3), {"axis": -3}),
    ("c", (7, 130), {"axis": -1}),
    ("c", (130, 7), {"axis": 0}),
]
_ARG_REDUCE = {"argmax", "argmin"}


def reduction_cases():
    out = []
    for oi, name in enumerate(REDUCE):
        tol = 8.0
        for d, (lay, shp, kw), slow in _sweep(DTYPES, REDUCE_VARIANTS, 4, 4, oi):
            if name in _ARG_REDUCE and isinstance(kw.get("axis"), tuple):
                kw = dict(kw, axis=kw["axis"][0])
            dom = "any"
            if name == "prod":
                dom = "unit" if shp in ((7, 130), (130, 7)) else "nz"
            inp = Inp(shp, d, lay, dom)
            out.append(Case(f"reduce:{name}[{inp}-{_kw(kw)}]", [name],
                            _call(name, **kw), [inp], tol=tol, slow=slow))
        for d in FLOATS:
            inp = Inp((4, 5), d, "c", "special")
            out.append(Case(f"reduce:{name}[{inp}-axis=1]", [name],
                            _call(name, axis=1), [inp], tol=tol))
    for name in ("var", "std"):
        for d in ["float32", "float16", "int32", "float64"]:
            for ddof in (1, 3, 5):
                inp = Inp((3, 4), d)
                out.append(Case(f"reduce:{name}[{inp}-ddof={ddof}]", [name],
                                _call(name, axis=-1, ddof=ddof), [inp], tol=8.0))
    # float16 / bfloat16 sums of many elements (accumulation precision)
    for name in ("sum", "mean", "logsumexp"):
        for d in ["float16", "bfloat16"]:
            inp = Inp((4, 2000), d, "c", "pos")
            out.append(Case(f"reduce:{name}[{inp}-axis=-1]", [name],
                            _call(name, axis=-1), [inp], tol=2.0))
    return out


SCANS = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]
SCAN_VARIANTS = [
    ("c", (3, 4), {"axis": -1}),
    ("c", (3, 4), {"axis": 0, "reverse": True}),
    ("c", (3, 4), {"axis": 1, "inclusive": False}),
    ("c", (3, 4), {"axis": 0, "reverse": True, "inclusive": False}),
    ("c", (3, 4), {}),
    ("T", (4, 5), {"axis": 1}),
    ("s", (3, 4), {"axis": 0}),
    ("r", (4, 3), {"axis": 0, "reverse": True}),
    ("b", (3, 4), {"axis": 0}),
    ("c", (0, 3), {"axis": 0}),
    ("c", (), {}),
    ("c", (3, 4), {"axis": 2}),
    ("c", (2, 300), {"axis": 1}),
    ("c", (300, 2), {"axis": 0, "inclusive": False}),
]


def scan_cases():
    out = []
    for oi, name in enumerate(SCANS):
        for d, (lay, shp, kw), slow in _sweep(DTYPES, SCAN_VARIANTS, 4, 3, oi):
            dom = "nz" if name == "cumprod" else "any"
            if name == "cumprod" and shp in ((2, 300), (300, 2)):
                dom = "unit"
            inp = Inp(shp, d, lay, dom)
            out.append(Case(f"scan:{name}[{inp}-{_kw(kw)}]", [name],
                            _call(name, **kw), [inp], tol=8.0, slow=slow))
        for d in ("float32", "float16"):
            inp = Inp((4, 5), d, "c", "special")
            out.append(Case(f"scan:{name}[{inp}-axis=1]", [name],
                            _call(name, axis=1), [inp], tol=8.0))
    return out


# --------------------------------------------------------------------------
# shapes, joins, indexing
# --------------------------------------------------------------------------
SHAPE_DTYPES = ["float32", "int8", "bool_", "bfloat16", "complex64", "uint64", "float16"]


def _shape_variants():
    """(names, fn, input specs (shape, layout, domain) , label)."""
    V = []

    def add(name, label, fn, *specs, names=None):
        V.append((names or [name], fn, specs, f"{name}:{label}"))

    x234 = ((2, 3, 4), "c")
    xT = ((4, 3), "T")
    xs = ((3, 4), "s")
    for shape in [(6, 4), (-1,), (4, -1, 2), (24,), (5,), (-1, -1), (2, 3, 4, 1), ()]:
        add("reshape", str(shape), lambda M, a, s=shape: M.reshape(a, s), x234)
    add("reshape", "T(12,)", lambda M, a: M.reshape(a, (12,)), xT)
    add("reshape", "s(2,6)", lambda M, a: M.reshape(a, (2, 6)), xs)
    add("reshape", "empty", lambda M, a: M.reshape(a, (3, 0, 2)), ((0, 6), "c"))
    add("reshape", "empty-1", lambda M, a: M.reshape(a, (-1, 0)), ((0, 6), "c"))
    add("reshape", "scalar", lambda M, a: M.reshape(a, (1, 1)), ((), "c"))
    for axes in [None, (1, 0, 2), (-1, 0, 1), (2, 1, 0), (0, 0, 1), (0, 1), (0, 1, 3)]:
        add("transpose", str(axes),
            lambda M, a, ax=axes: M.transpose(a) if ax is None else M.transpose(a, ax), x234)
        add("permute_dims", str(axes),
            lambda M, a, ax=axes: M.permute_dims(a) if ax is None else M.permute_dims(a, ax), x234)
    add("transpose", "T", lambda M, a: M.transpose(a, (1, 0)), xT)
    for a1, a2 in [(0, 2), (-1, 0), (1, 1), (0, 3)]:
        add("swapaxes", f"{a1},{a2}", lambda M, a, p=a1, q=a2: M.swapaxes(a, p, q), x234)
    for s, d in [(0, -1), (2, 0), (-1, 1), (0, 3), ((0, 1), (1, 0))]:
        add("moveaxis", f"{s},{d}", lambda M, a, p=s, q=d: M.moveaxis(a, p, q), x234)
    x1314 = ((1, 3, 1, 4), "c")
    for ax in [None, 0, (0, 2), -2, 1, 4]:
        add("squeeze", str(ax),
            lambda M, a, ax=ax: M.squeeze(a) if ax is None else M.squeeze(a, ax), x1314)
    add("squeeze", "b", lambda M, a: M.squeeze(a, 0), ((1, 4), "c"))
    for ax in [0, -1, (0, 2), (0, -1), 3, 4, -5, (1, 1)]:
        add("expand_dims", str(ax), lambda M, a, ax=ax: M.expand_dims(a, ax), x234)
    add("expand_dims", "scalar", lambda M, a: M.expand_dims(a, 0), ((), "c"))
    for kw in [{}, {"start_axis": 1}, {"end_axis": 1}, {"start_axis": -2, "end_axis": -1},
               {"start_axis": 2, "end_axis": 1}, {"start_axis": 3}]:
        add("flatten", _kw(kw), lambda M, a, kw=kw: M.flatten(a, **kw), x234)
    add("flatten", "scalar", lambda M, a: M.flatten(a), ((), "c"))
    add("flatten", "T", lambda M, a: M.flatten(a), xT)
    for ax, sh in [(1, (3, 1)), (-1, (2, 2)), (2, (-1, 2)), (0, (2, 2)), (1, (-1, -1))]:
        add("unflatten", f"{ax},{sh}", lambda M, a, ax=ax, sh=sh: M.unflatten(a, ax, sh), x234)
    for src, shp in [((4,), (3, 4)), ((3, 1), (2, 3, 4)), ((4,), (3,)), ((), (2, 2)),
                     ((1, 3), (0, 3))]:
        add("broadcast_to", f"{src}->{shp}", lambda M, a, s=shp: M.broadcast_to(a, s),
            (src, "c"))
    add("broadcast_arrays", "3", lambda M, a, b, c: M.broadcast_arrays(a, b, c),
        ((3, 1), "c"), ((4,), "c"), ((), "c"))
    add("broadcast_arrays", "bad", lambda M, a, b: M.broadcast_arrays(a, b),
        ((3,), "c"), ((4,), "c"))
    for shapes in [((3, 1), (4,)), ((2, 1, 3), (5, 1), ()), ((3,), (4,)), ((0, 1), (1, 5))]:
        add("broadcast_shapes", str(shapes), lambda M, s=shapes: M.broadcast_shapes(*s))
    for name in ("concatenate", "concat"):
        for ax in [0, -1, 1, None, 3]:
            add(name, f"ax={ax}",
                lambda M, a, b, n=name, ax=ax: resolve(M, n)([a, b], axis=ax)
                if ax is not None else resolve(M, n)([a, b], axis=None),
                ((2, 3), "c"), ((2, 3), "T"))
        add(name, "default", lambda M, a, b, n=name: resolve(M, n)([a, b]),
            ((2, 3), "c"), ((1, 3), "s"))
        add(name, "mismatch", lambda M, a, b, n=name: resolve(M, n)([a, b], axis=0),
            ((2, 3), "c"), ((2, 4), "c"))
        add(name, "empty", lambda M, a, b, n=name: resolve(M, n)([a, b], axis=0),
            ((0, 3), "c"), ((2, 3), "c"))
        add(name, "ndim", lambda M, a, b, n=name: resolve(M, n)([a, b]),
            ((2, 3), "c"), ((3,), "c"))
        add(name, "none", lambda M, n=name: resolve(M, n)([]))
    for ax in [0, -1, 1, 3]:
        add("stack", f"ax={ax}", lambda M, a, b, ax=ax: M.stack([a, b], axis=ax),
            ((2, 3), "c"), ((2, 3), "T"))
    add("stack", "mismatch", lambda M, a, b: M.stack([a, b]), ((2, 3), "c"), ((3, 2), "c"))
    add("stack", "scalars", lambda M, a, b: M.stack([a, b]), ((), "c"), ((), "c"))
    for arg in [3, [1, 3], (2,), [], 5, [3, 1]]:
        add("split", f"{arg}", lambda M, a, s=arg: M.split(a, s, axis=1), ((2, 6, 2), "c"))
    add("split", "neg", lambda M, a: M.split(a, 2, axis=-1), ((2, 6, 2), "c"))
    add("split", "T", lambda M, a: M.split(a, 2), ((4, 3), "T"))
    for reps in [2, (2, 1), (1, 2, 2), (), (0, 2)]:
        add("tile", str(reps), lambda M, a, r=reps: M.tile(a, r), ((2, 3), "c"))
    add("tile", "T", lambda M, a: M.tile(a, (2, 2)), xT)
    for r, ax in [(2, None), (2, 1), (3, -1), (0, 0), (2, 2)]:
        add("repeat", f"{r},{ax}",
            lambda M, a, r=r, ax=ax: M.repeat(a, r) if ax is None else M.repeat(a, r, axis=ax),
            ((2, 3), "c"))
    add("repeat", "s", lambda M, a: M.repeat(a, 2, axis=0), xs)
    for pw, kw in [(1, {}), ((1, 2), {}), ([(0, 1), (2, 0)], {}), (1, {"constant_values": 3}),
                   ([(1, 1), (2, 2)], {"mode": "edge"}), (-1, {}), ([(1, 1)] * 3, {}),
                   ((0, 0), {})]:
        add("pad", f"{pw},{_kw(kw)}", lambda M, a, pw=pw, kw=kw: M.pad(a, pw, **kw),
            ((2, 3), "c"))
    add("pad", "T", lambda M, a: M.pad(a, 1), xT)
    for name in ("atleast_1d", "atleast_2d", "atleast_3d"):
        for shp in [(), (3,), (2, 3), (2, 3, 4, 1)]:
            add(name, str(shp), lambda M, a, n=name: resolve(M, n)(a), (shp, "c"))
        add(name, "multi", lambda M, a, b, n=name: resolve(M, n)(a, b), ((), "c"), ((3,), "c"))
    for k in [0, 1, -1, 5]:
        add("tril", f"k={k}", lambda M, a, k=k: M.tril(a, k), ((3, 4), "c"))
        add("triu", f"k={k}", lambda M, a, k=k: M.triu(a, k), ((3, 4), "c"))
    add("tril", "batch", lambda M, a: M.tril(a), ((2, 3, 3), "c"))
    add("triu", "T", lambda M, a: M.triu(a), ((4, 4), "T"))
    add("tril", "1d", lambda M, a: M.tril(a), ((4,), "c"))
    for shape, strides, off in [((2, 2), (1, 2), 0), ((3,), (4,), 1), ((2, 3), (0, 1), 2),
                                ((4,), (-1,), 3)]:
        add("as_strided", f"{shape},{strides},{off}",
            lambda M, a, s=shape, st=strides, o=off: M.as_strided(a, s, st, o), ((3, 4), "c"))
    for k in [0, 1, -1]:
        add("diagonal", f"off={k}", lambda M, a, k=k: M.diagonal(a, k), ((3, 4), "c"))
        add("diag", f"k={k}", lambda M, a, k=k: M.diag(a, k), ((3, 4), "c"))
        add("diag", f"1d-k={k}", lambda M, a, k=k: M.diag(a, k), ((3,), "c"))
        add("trace", f"off={k}", lambda M, a, k=k: M.trace(a, k), ((3, 4), "c"))
    add("diagonal", "axes", lambda M, a: M.diagonal(a, 0, 2, 0), x234)
    add("trace", "axes", lambda M, a: M.trace(a, 1, 0, 2), x234)
    for ax in [None, 0, -1, (0, 2)]:
        add("flip", str(ax), lambda M, a, ax=ax: M.flip(a, ax), x234)
    for sh, ax in [(1, None), (-2, 1), ((1, 2), (0, 2)), (5, -1), (3, 0)]:
        add("roll", f"{sh},{ax}", lambda M, a, sh=sh, ax=ax: M.roll(a, sh, ax), x234)
    for n, ax in [(1, -1), (2, 0), (1, None), (0, 1)]:
        add("diff", f"{n},{ax}",
            lambda M, a, n=n, ax=ax: M.diff(a, n=n) if ax is None else M.diff(a, n=n, axis=ax),
            ((3, 4), "c"))
    add("unstack", "0", lambda M, a: M.unstack(a), x234)
    add("unstack", "-1", lambda M, a: M.unstack(a, axis=-1), x234)
    add("matrix_transpose", "", lambda M, a: M.matrix_transpose(a), x234)
    add("kron", "", lambda M, a, b: M.kron(a, b), ((2, 2), "c"), ((2, 3), "c"))
    add("meshgrid", "xy", lambda M, a, b: M.meshgrid(a, b), ((3,), "c"), ((4,), "c"))
    add("meshgrid", "ij", lambda M, a, b: M.meshgrid(a, b, indexing="ij"),
        ((3,), "c"), ((4,), "c"))
    add("view", "same", lambda M, a: M.view(a, a.dtype), ((3, 4), "c"))
    return V


def shape_cases():
    out = []
    V = _shape_variants()
    for vi, (names, fn, specs, label) in enumerate(V):
        for di, d in enumerate(SHAPE_DTYPES):
            slow = di >= 2 and (di + vi) % (len(SHAPE_DTYPES) - 2) != 0
            inps = [Inp(s, d, l, "any", tag=k) for k, (s, l) in enumerate(specs)]
            out.append(Case(f"shape:{label}[{d}]", names, fn, inps, slow=slow))
    # mixed dtype joins promote
    for name in ("concatenate", "stack"):
        for a, b in [("int8", "float16"), ("bool_", "int32"), ("uint8", "int8"),
                     ("bfloat16", "float16"), ("int64", "float32"), ("uint32", "complex64")]:
            x, y = Inp((2, 3), a), Inp((2, 3), b, tag=1)
            out.append(Case(f"shape:{name}:mixed[{a}|{b}]", [name],
                            lambda M, p, q, n=name: resolve(M, n)([p, q]), [x, y]))
    return out


def _tuple_index(M, a, spec):
    out = []
    for s in spec:
        if isinstance(s, str) and s == "None":
            out.append(None)
        elif isinstance(s, str) and s == "...":
            out.append(Ellipsis)
        elif isinstance(s, list):
            out.append(M.array(s))
        else:
            out.append(s)
    return a[tuple(out)]


INDEXES = [
    (1,), (-1,), (slice(None, None, -1),), (slice(1, None, 2), slice(None)),
    (Ellipsis, 1), ("None", 0), (slice(None), "None", slice(1, 3)), (0, 1, 2),
    ([0, 2],), ([1, -1], slice(None), 0), ([[0, 1], [1, 0]],), (slice(None), [2, 0]),
    ([0, 1], [2, 0]), (slice(None), [0, 1], [1, 2]), ([0, 1], slice(None), [1, 2]),
    (5,), (slice(5, 1),), (slice(-100, 100),), (0, 0, 0, 0),
    (slice(None, None, -2), Ellipsis, slice(1, None)), ([[True]],),
]


def index_cases():
    out = []
    for i, spec in enumerate(INDEXES):
        for di, d in enumerate(["float32", "int16", "bool_", "bfloat16", "complex64"]):
            for lay, shp in [("c", (3, 4, 3)), ("T", (3, 4, 3))]:
                inp = Inp(shp, d, lay)
                slow = di > 1 and lay == "T"
                out.append(Case(f"index:getitem{spec!r}[{inp}]", ["array"],
                                lambda M, a, s=spec: _tuple_index(M, a, s), [inp], slow=slow))
    out.append(Case("index:getitem-scalar[float32]", ["array"], lambda M, a: a[...],
                    [Inp((), "float32")]))
    out.append(Case("index:getitem-array-index[float32]", ["array"],
                    lambda M, a, i: a[i], [Inp((3, 4)), Inp((2, 2), "int32", domain="idx")]))
    out.append(Case("index:getitem-float-index[float32]", ["array"],
                    lambda M, a: a[M.array([0.0])], [Inp((3, 4))]))
    # take / take_along_axis / put_along_axis / slice_update / where / clip
    for d in ["float32", "int8", "bool_", "bfloat16", "uint64", "complex64"]:
        a = Inp((3, 4), d)
        idx = Inp((2, 3), "int32", domain="idx", tag=5)
        out += [
            Case(f"index:take-axis0[{d}]", ["take"], lambda M, x, i: M.take(x, i, axis=0),
                 [a, idx]),
            Case(f"index:take-flat[{d}]", ["take"], lambda M, x, i: M.take(x, i), [a, idx]),
            Case(f"index:take-neg[{d}]", ["take"],
                 lambda M, x: M.take(x, M.array([-1, 0]), axis=1), [a]),
            Case(f"index:take-int[{d}]", ["take"], lambda M, x: M.take(x, 2, axis=1), [a]),
            Case(f"index:take-T[{d}]", ["take"], lambda M, x, i: M.take(x, i, axis=-1),
                 [Inp((4, 3), d, "T"), idx]),
            Case(f"index:take-badaxis[{d}]", ["take"], lambda M, x, i: M.take(x, i, axis=2),
                 [a, idx]),
            Case(f"index:take_along_axis[{d}]", ["take_along_axis"],
                 lambda M, x, i: M.take_along_axis(x, i, axis=1),
                 [a, Inp((3, 2), "int32", domain="idx", tag=6)]),
            Case(f"index:take_along_axis-none[{d}]", ["take_along_axis"],
                 lambda M, x, i: M.take_along_axis(x, i, axis=None),
                 [a, Inp((5,), "int32", domain="idx", tag=7)]),
            Case(f"index:take_along_axis-bcast[{d}]", ["take_along_axis"],
                 lambda M, x, i: M.take_along_axis(x, i, axis=0),
                 [a, Inp((1, 4), "uint32", domain="idx", tag=8)]),
            Case(f"index:put_along_axis[{d}]", ["put_along_axis"],
                 lambda M, x, v: M.put_along_axis(x, M.array([[0], [2], [1]]), v, axis=1),
                 [a, Inp((3, 1), d, tag=9)]),
            Case(f"index:put_along_axis-scalar[{d}]", ["put_along_axis"],
                 lambda M, x, v: M.put_along_axis(x, M.array([[1, 0, 2, 1]]), v, axis=0),
                 [a, Inp((), d, tag=9)]),
            Case(f"index:slice_update[{d}]", ["slice_update"],
                 lambda M, x, u: M.slice_update(x, u, M.array([1, 1]), [0, 1]),
                 [a, Inp((2, 2), d, tag=3)]),
            Case(f"index:slice_update-axis[{d}]", ["slice_update"],
                 lambda M, x, u: M.slice_update(x, u, M.array([2]), [1]),
                 [a, Inp((3, 2), d, tag=3)]),
            Case(f"index:slice[{d}]", ["slice"],
                 lambda M, x: M.slice(x, M.array([1, 0]), [0, 1], (2, 3)), [a]),
            Case(f"index:where[{d}]", ["where"], lambda M, c, x, y: M.where(c, x, y),
                 [Inp((3, 1), "bool_"), a, Inp((4,), d, tag=4)]),
            Case(f"index:where-py[{d}]", ["where"], lambda M, c, x: M.where(c, x, 2),
                 [Inp((3, 4), "bool_"), a]),
            Case(f"index:where-nonbool[{d}]", ["where"], lambda M, c, x: M.where(c, x, 0.5),
                 [Inp((3, 4), "int32"), a]),
            Case(f"index:clip[{d}]", ["clip"], lambda M, x: M.clip(x, -1, 2), [a]),
            Case(f"index:clip-none[{d}]", ["clip"], lambda M, x: M.clip(x, None, 1), [a]),
            Case(f"index:clip-array[{d}]", ["clip"], lambda M, x, lo: M.clip(x, lo, 3.5),
                 [a, Inp((4,), d, tag=2)]),
            Case(f"index:clip-nones[{d}]", ["clip"], lambda M, x: M.clip(x, None, None), [a]),
        ]
    # array.at updates
    for d in ["float32", "int32", "bfloat16"]:
        for op in ["add", "subtract", "multiply", "divide", "maximum", "minimum"]:
            out.append(Case(f"index:at.{op}[{d}]", ["array.at"],
                            lambda M, x, v, op=op: getattr(x.at[M.array([0, 2, 0])], op)(v),
                            [Inp((3, 4), d, domain="nz"), Inp((3, 4), d, domain="nz", tag=1)]))
    for d in ["float32", "int64", "bool_"]:
        out.append(Case(f"index:setitem[{d}]", ["array"], _setitem,
                        [Inp((3, 4), d), Inp((2,), d, tag=1)]))
    return out


ARRAY_METHODS = [
    ("abs", (), {}, "any"), ("all", (), {}, "any"), ("any", (), {"axis": 0}, "any"),
    ("argmax", (), {"axis": 1}, "any"), ("argmin", (), {}, "any"),
    ("astype", ("int16",), {}, "wide"), ("conj", (), {}, "any"), ("cos", (), {}, "any"),
    ("cummax", (), {"axis": 1}, "any"), ("cummin", (), {"axis": 0, "reverse": True}, "any"),
    ("cumprod", (), {"axis": 1}, "nz"), ("cumsum", (), {}, "any"),
    ("cumsum", (0,), {"inclusive": False}, "any"), ("exp", (), {}, "any"),
    ("flatten", (), {}, "any"), ("log", (), {}, "pos"), ("log10", (), {}, "pos"),
    ("log1p", (), {}, "pos"), ("log2", (), {}, "pos"), ("logsumexp", (), {"axis": 1}, "any"),
    ("max", (), {"keepdims": True}, "any"), ("mean", (), {"axis": 0}, "any"),
    ("min", (), {}, "any"), ("moveaxis", (0, 1), {}, "any"), ("prod", (), {"axis": -1}, "nz"),
    ("reciprocal", (), {}, "nz"), ("reshape", (3, 2), {}, "any"),
    ("reshape", ((6,),), {}, "any"), ("round", (1,), {}, "any"), ("rsqrt", (), {}, "pos"),
    ("sin", (), {}, "any"), ("split", (3,), {"axis": 1}, "any"), ("sqrt", (), {}, "pos"),
    ("square", (), {}, "any"), ("squeeze", (), {}, "any"), ("std", (), {"ddof": 1}, "any"),
    ("sum", (), {"axis": (0, 1)}, "any"), ("swapaxes", (0, 1), {}, "any"),
    ("transpose", (), {}, "any"), ("transpose", (1, 0), {}, "any"),
    ("var", (), {"axis": -1, "keepdims": True}, "any"), ("diag", (), {}, "any"),
    ("diagonal", (), {}, "any"), ("logcumsumexp", (), {"axis": 1}, "any"),
    ("view", ("int32",), {}, "any"),
]


def _method(a, m, args, kw):
    mod = type(a).__module__
    args = tuple(getattr(__import__(mod, fromlist=["x"]), x) if isinstance(x, str) else x
                 for x in args)
    return getattr(a, m)(*args, **kw)


def _setitem(M, x, v):
    y = x + 0 if x.dtype != M.bool_ else M.logical_not(M.logical_not(x))
    y[1, 1:3] = v
    y[M.array([0, 2]), 0] = v
    y[..., -1] = 7
    return y


# --------------------------------------------------------------------------
# sorting, softmax, products, misc
# --------------------------------------------------------------------------
def misc_cases():
    out = []
    for oi, d in enumerate(DTYPES):
        slow = d not in ("float32", "int32", "bfloat16", "uint8", "float16", "bool_", "complex64")
        for name in ("sort", "argsort"):
            for ax, lay, shp in [(-1, "c", (3, 5)), (0, "T", (4, 3)), (None, "c", (3, 4)),
                                 (1, "s", (3, 4)), (2, "c", (2, 3)), (0, "c", (0, 3))]:
                inp = Inp(shp, d, lay)
                out.append(Case(f"sort:{name}[{inp}-axis={ax}]", [name],
                                _call(name, axis=ax), [inp], slow=slow))
        for name in ("partition", "argpartition"):
            inp = Inp((3, 6), d)
            out.append(Case(f"sort:{name}[{inp}-kth=2]", [name], _call(name, 2, axis=-1),
                            [inp], slow=slow, check="meta"))
        inp = Inp((3, 6), d)
        out.append(Case(f"sort:topk[{inp}-k=2]", ["topk"],
                        lambda M, x: M.sort(M.topk(x, 2, axis=-1), axis=-1), [inp], slow=slow))
        out.append(Case(f"sort:unique[{inp}]", ["unique"], lambda M, x: M.unique(x), [inp],
                        slow=slow))
        inp = Inp((20, 40), d)
        out.append(Case(f"sort:sort[{inp}-big]", ["sort"], _call("sort", axis=0), [inp],
                        slow=slow))
    for d in ["float32", "int32", "float16", "bfloat16", "uint8"]:
        out.append(Case(f"sort:searchsorted[{d}]", ["searchsorted"],
                        lambda M, a, v: M.searchsorted(M.sort(a), v),
                        [Inp((7,), d), Inp((4,), d, tag=1)]))
        out.append(Case(f"sort:searchsorted-right[{d}]", ["searchsorted"],
                        lambda M, a, v: M.searchsorted(M.sort(a), v, side="right"),
                        [Inp((7,), d, domain="idx"), Inp((4,), d, domain="idx", tag=1)]))
    # stability of argsort on ties
    for d in ["int32", "float32", "bool_"]:
        inp = Inp((4, 9), d, domain="idx")
        out.append(Case(f"sort:argsort-ties[{inp}]", ["argsort"], _call("argsort", axis=-1),
                        [inp]))
    for d in DTYPES:
        for kw in [{}, {"axis": 0}, {"precise": True}, {"axis": (0, 1)}]:
            inp = Inp((3, 5), d)
            out.append(Case(f"softmax[{inp}-{_kw(kw)}]", ["softmax"], _call("softmax", **kw),
                            [inp], tol=8.0, slow=d in INTS[1:] and kw != {}))
        inp = Inp((3, 5), d, "special") if d in FLOATS else Inp((0, 4), d)
        out.append(Case(f"softmax[{inp}]", ["softmax"], _call("softmax", axis=-1), [inp],
                        tol=8.0))
    # linear algebra products
    mm_shapes = [((2, 3), (3, 4)), ((2, 1, 3, 4), (5, 4, 2)), ((3,), (3, 4)), ((2, 3), (3,)),
                 ((3,), (3,)), ((2, 3), (4, 3)), ((2, 0), (0, 3)), ((0, 3), (3, 2)),
                 ((), (3,)), ((3, 7), (7, 65))]
    for si, (sa, sb) in enumerate(mm_shapes):
        for di, d in enumerate(DTYPES):
            slow = d not in ("float32", "float16", "bfloat16", "float64", "complex64",
                             "int32", "bool_") and si > 0
            x, y = Inp(sa, d), Inp(sb, d, tag=1)
            out.append(Case(f"linalg:matmul[{x}|{y}]", ["matmul"], _call("matmul"), [x, y],
                            tol=8.0, slow=slow))
    for d in ["float32", "float16", "bfloat16", "float64"]:
        for la, lb in [("T", "c"), ("c", "T"), ("s", "r"), ("T", "T"), ("b", "c")]:
            x, y = Inp((3, 5), d, la), Inp((5, 4), d, lb, tag=1)
            out.append(Case(f"linalg:matmul[{x}|{y}]", ["matmul"], _call("matmul"), [x, y],
                            tol=8.0))
        out.append(Case(f"linalg:matmul-operator[{d}]", ["matmul"], lambda M, a, b: a @ b,
                        [Inp((2, 3), d), Inp((3, 2), d, tag=1)], tol=8.0))
        for kw in [{}, {"alpha": 2.0}, {"alpha": 0.5, "beta": -1.0}]:
            out.append(Case(f"linalg:addmm[{d}-{_kw(kw)}]", ["addmm"],
                            lambda M, c, a, b, kw=kw: M.addmm(c, a, b, **kw),
                            [Inp((4,), d, tag=2), Inp((3, 5), d), Inp((5, 4), d, tag=1)],
                            tol=8.0))
        out.append(Case(f"linalg:addmm-bad[{d}]", ["addmm"],
                        lambda M, c, a, b: M.addmm(c, a, b),
                        [Inp((5,), d, tag=2), Inp((3, 5), d), Inp((5, 4), d, tag=1)]))
    for d in ["float32", "int32", "float16", "bool_", "complex64", "bfloat16", "uint8"]:
        for sa, sb in [((3,), (3,)), ((2, 3), (4, 3)), ((), (3,)), ((2, 3), (4,))]:
            x, y = Inp(sa, d), Inp(sb, d, tag=1)
            out.append(Case(f"linalg:inner[{x}|{y}]", ["inner"], _call("inner"), [x, y], tol=8.0))
        for sa, sb in [((3,), (4,)), ((2, 2), (3,)), ((), (3,))]:
            x, y = Inp(sa, d), Inp(sb, d, tag=1)
            out.append(Case(f"linalg:outer[{x}|{y}]", ["outer"], _call("outer"), [x, y]))
        for axes in [1, 2, 0, ([1], [0]), ([0, 1], [1, 0]), ([2], [0])]:
            x, y = Inp((2, 3), d), Inp((3, 2), d, tag=1)
            out.append(Case(f"linalg:tensordot[{x}|{y}-axes={axes}]", ["tensordot"],
                            _call("tensordot", axes=axes), [x, y], tol=8.0))
        out.append(Case(f"linalg:vecdot[{d}]", ["vecdot"], _call("vecdot"),
                        [Inp((2, 3), d), Inp((3,), d, tag=1)], tol=8.0))
        out.append(Case(f"linalg:einsum[{d}]", ["einsum"],
                        lambda M, a, b: M.einsum("ij,jk->ik", a, b),
                        [Inp((2, 3), d), Inp((3, 2), d, tag=1)], tol=8.0))
    # astype: every pair (float values are non-negative: float -> unsigned of a
    # negative value is undefined behaviour in C++)
    for a, b in itertools.product(DTYPES, DTYPES):
        inp = Inp((3, 5), a, "c", "wide")
        fast = a in ("float32", "int32", "bool_", "bfloat16") or b in ("float32", "bool_")
        out.append(Case(f"astype[{inp}->{b}]", ["astype"],
                        lambda M, x, b=b: M.astype(x, getattr(M, b)), [inp], slow=not fast))
        out.append(Case(f"astype:method[{a}-s2-wide->{b}]", ["array"],
                        lambda M, x, b=b: x.astype(getattr(M, b)), [Inp((2,), a, "s", "wide")],
                        slow=True))
    for a in ["int32", "int8", "uint8", "int64", "uint32", "float32", "float16"]:
        out.append(Case(f"astype:wrap[{a}->all]", ["astype"],
                        lambda M, x: [M.astype(x, getattr(M, b)) for b in INTS + ["bool_"]],
                        [Inp((3, 5), a, "c", "wide")]))
    # comparisons of whole arrays
    for d in FLOATS + ["int32", "complex64"]:
        x = Inp((4, 5), d, "c", "special" if d in FLOATS else "any")
        for kw in [{}, {"equal_nan": True}, {"rtol": 0.1, "atol": 0.5}]:
            out.append(Case(f"isclose[{x}-{_kw(kw)}]", ["isclose"],
                            lambda M, a, kw=kw: M.isclose(a, a + 0.01, **kw), [x]))
            out.append(Case(f"allclose[{x}-{_kw(kw)}]", ["allclose"],
                            lambda M, a, kw=kw: M.allclose(a, a * 1.0, **kw), [x]))
        for kw in [{}, {"equal_nan": True}]:
            out.append(Case(f"array_equal[{x}-{_kw(kw)}]", ["array_equal"],
                            lambda M, a, kw=kw: M.array_equal(a, a, **kw), [x]))
        out.append(Case(f"array_equal-shapes[{d}]", ["array_equal"],
                        lambda M, a, b: M.array_equal(a, b), [Inp((3,), d), Inp((4,), d)]))
        out.append(Case(f"array_equal-dtypes[{d}]", ["array_equal"],
                        lambda M, a: M.array_equal(a, a.astype(M.float32)), [Inp((3,), d)]))
    return out


# --------------------------------------------------------------------------
# construction and dtypes
# --------------------------------------------------------------------------
def creation_cases():
    out = []

    def C(label, names, fn, inputs=(), **kw):
        out.append(Case(f"create:{label}", names, fn, inputs, **kw))

    for v in [1, 1.5, True, [1, 2], [1.0, 2], [True, 2], [[1, 2], [3, 4]], [], [[], []],
              [1, 2.5, True], 2**40, -(2**40), [2**40, 1], 1 + 2j, [1, 1j], [[1], [2, 3]],
              "abc", [None], 2**63, [1.0, 2**70]]:
        C(f"array({v!r})", ["array"], lambda M, v=v: M.array(v))
    for d in DTYPES:
        for v in [[1, 2, 3], [1.5, -2.5], 3, [True, False]]:
            C(f"array({v!r},dtype={d})", ["array"],
              lambda M, v=v, d=d: M.array(v, dtype=getattr(M, d)))
        C(f"array(numpy-{d})", ["array"], lambda M, x: M.array(np.array(x)),
          [Inp((2, 3), d)])
        C(f"array(array-{d})", ["array"], lambda M, x: M.array(x), [Inp((2, 3), d, "T")])
        C(f"array(list-of-arrays-{d})", ["array"], lambda M, x, y: M.array([x, y]),
          [Inp((3,), d), Inp((3,), d, tag=1)])
    C("array(numpy-noncontig)", ["array"],
      lambda M: M.array(np.arange(24, dtype=np.int32).reshape(4, 6)[::2, 1::2].T))
    C("array(numpy-scalar)", ["array"], lambda M: M.array(np.float32(2.5)))
    C("array(numpy-float64-list)", ["array"], lambda M: M.array(np.array([1.5, 2.0])))
    C("array(numpy-int64-scalar)", ["array"], lambda M: M.array(np.int64(7)))
    for d in ("int32", "bool_", "float16", "float32", "complex64", "uint64", "bfloat16"):
        C(f"array.item[{d}]", ["array.item"],
          lambda M, x: [x[0, 0].item(), x[1:2, 1:2].item()], [Inp((2, 2), d)])
        C(f"array.tolist[{d}]", ["array.tolist"], lambda M, x: x.tolist(), [Inp((2, 3), d)])
        C(f"array.tolist-scalar[{d}]", ["array.tolist"], lambda M, x: x.tolist(), [Inp((), d)])
    C("array.item-bad", ["array.item"], lambda M, x: x.item(), [Inp((2, 2))])
    for meth, args, kw, dom in ARRAY_METHODS:
        for d in ("float32", "int32", "float16", "complex64"):
            x = Inp((2, 3), d, "c", dom)
            C(f"array.{meth}({args},{_kw(kw)})[{d}]", [f"array.{meth}"],
              lambda M, a, m=meth, args=args, kw=kw: _method(a, m, args, kw), [x], tol=4.0,
              slow=d != "float32")
    for prop in ("T", "mT", "real", "imag", "shape", "ndim", "size", "itemsize", "nbytes",
                 "dtype"):
        for d in ("float32", "complex64", "int8"):
            C(f"array.{prop}[{d}]", [f"array.{prop}"], lambda M, a, p=prop: getattr(a, p),
              [Inp((2, 3, 4), d)])
    C("array.operators", ["array"],
      lambda M, x, y: [x + y, x - y, x * y, x / y, x // y, x % y, x ** 2, -x, abs(x),
                       x == y, x != y, x < y, x <= y, x > y, x >= y, 2 - x, 3 / x, 2 ** x],
      [Inp((2, 3), "float32", domain="pos"), Inp((2, 3), "float32", domain="pos", tag=1)])
    C("array.int-operators", ["array"],
      lambda M, x, y: [x & y, x | y, x ^ y, ~x, x << 1, x >> 1, x // y, x % y, 5 // y],
      [Inp((2, 3), "int32", domain="pos"), Inp((2, 3), "int32", domain="pos", tag=1)])
    C("array.bool-ops", ["array"], lambda M, x, y: [x & y, x | y, x ^ y, ~x],
      [Inp((2, 3), "bool_"), Inp((2, 3), "bool_", tag=1)])
    C("array.len-iter", ["array"], lambda M, x: [len(x), [r for r in x]], [Inp((3, 2))])
    C("array.bool-ambiguous", ["array"], lambda M, x: bool(x), [Inp((3, 2))])
    C("array.float-scalar", ["array"], lambda M, x: [float(x), int(x), bool(x)],
      [Inp((), domain="pos")])
    C("array.getitem-oob", ["array"], lambda M, x: x[3], [Inp((3, 2))])
    for args in [(5,), (2, 9), (1, 2, 0.5), (5, 1, -1), (0,), (3, 1), (0.5, 3), (1, 5, 0),
                 (0, 10, 3), (-3, 3, 2.5), (1.5,)]:
        C(f"arange{args}", ["arange"], lambda M, a=args: M.arange(*a))
    for d in ["int8", "uint8", "float16", "bfloat16", "float32", "int64", "bool_", "float64"]:
        C(f"arange(0,6,dtype={d})", ["arange"],
          lambda M, d=d: M.arange(0, 6, dtype=getattr(M, d)))
        C(f"arange(0.5,4,dtype={d})", ["arange"],
          lambda M, d=d: M.arange(0.5, 4, dtype=getattr(M, d)))
    C("arange(start=,stop=)", ["arange"], lambda M: M.arange(start=2, stop=7, step=2))
    for args, kw in [((0, 1, 5), {}), ((0, 1, 1), {}), ((2, -1, 7), {}), ((0, 1, 0), {}),
                     ((0, 10, 4), {"dtype": "int32"}), ((0, 1, 3), {"dtype": "float16"}),
                     ((0, 1), {}), ((0, 1, -1), {})]:
        C(f"linspace{args}{_kw(kw)}", ["linspace"],
          lambda M, a=args, kw=kw: M.linspace(*a, **{k: getattr(M, v) for k, v in kw.items()}))
    for name in ("zeros", "ones"):
        for shp in [3, (2, 3), (), (0, 4), [2, 1], (-1,)]:
            for d in [None, "int8", "bool_", "bfloat16", "complex64", "uint64"]:
                C(f"{name}({shp},{d})", [name],
                  lambda M, s=shp, d=d, n=name: resolve(M, n)(s) if d is None
                  else resolve(M, n)(s, dtype=getattr(M, d)), slow=d not in (None, "int8"))
    for shp, v, d in [((2, 3), 1.5, None), ((2, 3), 2, None), ((2, 3), True, None),
                      (3, 7, "float16"), ((2, 2), 1.9, "int32"), ((), 3, None),
                      ((2, 3), "arr", None), ((3, 2), "arr", None), ((2, 3), 300, "uint8"),
                      ((2, 3), 1 + 1j, None)]:
        C(f"full({shp},{v},{d})", ["full"],
          lambda M, s=shp, v=v, d=d: M.full(s, M.array([1, 2, 3]) if v == "arr" else v,
                                            **({} if d is None else {"dtype": getattr(M, d)})))
    for d in DTYPES:
        x = Inp((2, 3), d, "T")
        C(f"zeros_like[{d}]", ["zeros_like"], lambda M, a: M.zeros_like(a), [x])
        C(f"ones_like[{d}]", ["ones_like"], lambda M, a: M.ones_like(a), [x])
        C(f"full_like[{d}]", ["full_like"], lambda M, a: M.full_like(a, 2.5), [x])
        C(f"full_like-dtype[{d}]", ["full_like"],
          lambda M, a: M.full_like(a, 3, dtype=M.int16), [x])
        C(f"empty_like[{d}]", ["empty_like"], lambda M, a: M.empty_like(a), [x], check="meta")
    C("empty", ["empty"], lambda M: M.empty((2, 3), dtype=M.int8), check="meta")
    for args in [(3,), (3, 4), (3, 4, 1), (3, 4, -2), (0,), (2, None, 5), (4, 3, 10)]:
        C(f"eye{args}", ["eye"], lambda M, a=args: M.eye(*a))
    C("eye(dtype)", ["eye"], lambda M: M.eye(3, dtype=M.int32))
    for n in [3, 0, 1]:
        C(f"identity({n})", ["identity"], lambda M, n=n: M.identity(n))
    C("identity(dtype)", ["identity"], lambda M: M.identity(2, dtype=M.bool_))
    for args in [(3,), (3, 4), (3, 4, 1), (4, 3, -1), (0,)]:
        C(f"tri{args}", ["tri"], lambda M, a=args: M.tri(*a))
    C("tri(dtype)", ["tri"], lambda M: M.tri(3, 3, 0, dtype=M.int32))
    for name in ("hanning", "hamming", "blackman", "bartlett"):
        for n in [0, 1, 5, 8]:
            C(f"{name}({n})", [name], lambda M, n=n, f=name: resolve(M, f)(n), tol=4.0)
    # dtypes and promotion
    for a, b in itertools.product(DTYPES, DTYPES):
        C(f"result_type({a},{b})", ["result_type"],
          lambda M, a=a, b=b: M.result_type(getattr(M, a), getattr(M, b)),
          slow=a not in ("int8", "float16", "bool_", "uint32"))
    for d in DTYPES:
        for s in [1, 1.0, True, 1j]:
            C(f"result_type(array-{d},{s!r})", ["result_type"],
              lambda M, x, s=s: M.result_type(x, s), [Inp((2,), d)])
        C(f"dtype-props[{d}]", ["Dtype"],
          lambda M, d=d: [getattr(M, d).size, dtype_name(getattr(M, d)),
                          getattr(M, d) == getattr(M, d), getattr(M, d) != M.float32])
        for cat in ("floating", "integer", "signedinteger", "unsignedinteger",
                    "complexfloating", "inexact", "number", "generic"):
            C(f"issubdtype[{d},{cat}]", ["issubdtype", cat],
              lambda M, d=d, c=cat: M.issubdtype(getattr(M, d), getattr(M, c)),
              slow=d not in ("float32", "int8", "uint16", "complex64", "bool_"))
        C(f"finfo[{d}]", ["finfo"],
          lambda M, d=d: [getattr(M.finfo(getattr(M, d)), k) for k in ("min", "max", "eps")])
        C(f"iinfo[{d}]", ["iinfo"],
          lambda M, d=d: [getattr(M.iinfo(getattr(M, d)), k) for k in ("min", "max")])
        C(f"can_cast[{d}]", ["can_cast"],
          lambda M, d=d: [M.can_cast(getattr(M, d), getattr(M, e)) for e in DTYPES])
    return out


# --------------------------------------------------------------------------
# random: same keys give the same bits
# --------------------------------------------------------------------------
def random_cases():
    out = []

    def C(label, names, fn, inputs=(), **kw):
        out.append(Case(f"random:{label}", ["random." + n for n in names], fn, inputs, **kw))

    C("key", ["key"], lambda M: [M.random.key(0), M.random.key(12345), M.random.key(2**40)])
    for n in [2, 3, 1]:
        C(f"split({n})", ["split", "key"], lambda M, n=n: M.random.split(M.random.key(7), n))
    C("split(default)", ["split", "key"], lambda M: M.random.split(M.random.key(7)))
    for shp in [(4,), (3, 4), (5,), (7, 3), (1,), (), (0, 2), (33,)]:
        for d in ["float32", "float16", "bfloat16"]:
            C(f"uniform{shp}-{d}", ["uniform", "key"],
              lambda M, s=shp, d=d: M.random.uniform(shape=s, dtype=getattr(M, d),
                                                     key=M.random.key(3)))
        C(f"normal{shp}", ["normal", "key"],
          lambda M, s=shp: M.random.normal(s, key=M.random.key(4)), tol=4.0)
        C(f"randint{shp}", ["randint", "key"],
          lambda M, s=shp: M.random.randint(0, 100, s, key=M.random.key(5)))
        C(f"bernoulli{shp}", ["bernoulli", "key"],
          lambda M, s=shp: M.random.bernoulli(0.3, s, key=M.random.key(6)))
        C(f"gumbel{shp}", ["gumbel", "key"],
          lambda M, s=shp: M.random.gumbel(s, key=M.random.key(8)), tol=4.0)
        C(f"truncated_normal{shp}", ["truncated_normal", "key"],
          lambda M, s=shp: M.random.truncated_normal(-1.0, 2.0, s, key=M.random.key(9)),
          tol=16.0)
        C(f"laplace{shp}", ["laplace", "key"],
          lambda M, s=shp: M.random.laplace(s, key=M.random.key(10)), tol=4.0)
    C("uniform(bounds)", ["uniform", "key"],
      lambda M, lo, hi: M.random.uniform(lo, hi, (2, 3), key=M.random.key(1)),
      [Inp((3,)), Inp((2, 1), tag=1)])
    C("uniform(bad-dtype)", ["uniform", "key"],
      lambda M: M.random.uniform(shape=(2,), dtype=M.int32, key=M.random.key(1)))
    C("normal(loc,scale)", ["normal", "key"],
      lambda M: M.random.normal((4,), loc=2.0, scale=3.0, key=M.random.key(1)), tol=4.0)
    C("randint(arrays)", ["randint", "key"],
      lambda M, lo: M.random.randint(lo, 20, (2, 3), key=M.random.key(2)),
      [Inp((3,), "int32", domain="idx")])
    C("randint(int8)", ["randint", "key"],
      lambda M: M.random.randint(-5, 5, (6,), dtype=M.int8, key=M.random.key(2)))
    C("bernoulli(array p)", ["bernoulli", "key"],
      lambda M: M.random.bernoulli(M.array([0.1, 0.5, 0.9]), key=M.random.key(3)))
    C("bernoulli(default)", ["bernoulli", "key"],
      lambda M: M.random.bernoulli(key=M.random.key(3)))
    for kw in [{}, {"axis": 0}, {"num_samples": 3}, {"shape": (2, 4)}]:
        C(f"categorical({_kw(kw)})", ["categorical", "key"],
          lambda M, lg, kw=kw: M.random.categorical(lg, key=M.random.key(11), **kw),
          [Inp((2, 5))])
    C("categorical(bad)", ["categorical", "key"],
      lambda M, lg: M.random.categorical(lg, shape=(2, 4), num_samples=2, key=M.random.key(1)),
      [Inp((2, 5))])
    for n in [10, 7, 1]:
        C(f"permutation({n})", ["permutation", "key"],
          lambda M, n=n: M.random.permutation(n, key=M.random.key(12)))
    C("permutation(array)", ["permutation", "key"],
      lambda M, x: M.random.permutation(x, key=M.random.key(12)), [Inp((6, 2))])
    C("permutation(axis)", ["permutation", "key"],
      lambda M, x: M.random.permutation(x, axis=1, key=M.random.key(12)), [Inp((2, 6))])
    C("multivariate_normal", ["multivariate_normal", "key"],
      lambda M: M.random.multivariate_normal(M.zeros((2,)), M.eye(2), (3,),
                                             key=M.random.key(13)), tol=16.0)
    C("seed", ["seed", "uniform", "normal", "randint"],
      lambda M: (M.random.seed(42), M.random.uniform(shape=(4,)),
                 M.random.normal((3,)), M.random.randint(0, 9, (5,)))[1:], tol=4.0)
    C("key-array", ["uniform", "split", "key"],
      lambda M: [M.random.uniform(shape=(2,), key=k) for k in M.random.split(M.random.key(0), 2)])
    return out


# --------------------------------------------------------------------------
# runtime, devices, streams, memory: behaviour and result types
# --------------------------------------------------------------------------
def _typename(x):
    return type(x).__name__


def runtime_cases():
    out = []

    def C(label, names, fn, inputs=(), **kw):
        out.append(Case(f"runtime:{label}", names, fn, inputs, **kw))

    C("default_device", ["default_device", "Device"], lambda M: M.default_device())
    C("Device", ["Device", "DeviceType", "cpu"],
      lambda M: [M.Device(M.cpu), M.Device(M.cpu, 0), M.Device(M.cpu) == M.default_device(),
                 M.Device(M.cpu).type == M.DeviceType.cpu, str(M.DeviceType.cpu)])
    C("gpu-device", ["gpu", "Device"], lambda M: repr(M.Device(M.gpu)))
    C("is_available", ["is_available", "cpu"],
      lambda M: [M.is_available(M.cpu), M.is_available(M.Device(M.cpu))])
    C("default_stream", ["default_stream", "Stream"],
      lambda M: [M.default_stream(M.cpu), M.default_stream(M.default_device()).device])
    C("new_stream", ["new_stream", "stream", "StreamContext", "Stream"],
      lambda M, x: _with_stream(M, x), [Inp((3,))])
    C("stream-kwarg", ["new_stream", "cpu"],
      lambda M, x: [M.add(x, x, stream=M.new_stream(M.cpu)), M.sum(x, stream=M.cpu),
                    M.exp(x, stream=M.default_stream(M.cpu))], [Inp((3,))])
    C("set_default_device", ["set_default_device", "set_default_stream", "default_stream"],
      lambda M, x: _set_defaults(M, x), [Inp((3,))])
    C("eval", ["eval", "async_eval", "synchronize"], lambda M, x: _evals(M, x), [Inp((3,))])
    C("eval-none", ["eval"], lambda M: M.eval())
    C("eval-bad", ["eval"], lambda M: M.eval(3))
    C("memory", ["get_active_memory", "get_peak_memory", "get_cache_memory",
                 "reset_peak_memory", "clear_cache", "get_memory_limit"],
      lambda M: [_typename(M.get_active_memory()), _typename(M.get_peak_memory()),
                 _typename(M.get_cache_memory()), M.reset_peak_memory(), M.clear_cache(),
                 _typename(M.get_memory_limit())])
    C("limits", ["set_memory_limit", "set_cache_limit", "set_wired_limit"],
      lambda M: _limits(M))
    C("compile-toggle", ["enable_compile", "disable_compile"], lambda M, x: _toggle(M, x),
      [Inp((3,))])
    C("constants", ["pi", "e", "inf", "nan", "euler_gamma", "newaxis"],
      lambda M: [M.pi, M.e, M.inf, M.nan, M.euler_gamma, M.newaxis])
    return out


def _with_stream(M, x):
    s = M.new_stream(M.cpu)
    with M.stream(s):
        y = M.exp(x)
    ctx = M.StreamContext(s)
    with ctx:
        z = x * 2
    return [y, z, _typename(s).lower(), s.device]


def _set_defaults(M, x):
    d = M.default_device()
    s = M.default_stream(d)
    M.set_default_device(M.cpu)
    M.set_default_stream(M.default_stream(M.cpu))
    y = x + 1
    M.set_default_device(d)
    M.set_default_stream(s)
    return [y, M.default_device()]


def _evals(M, x):
    y = x * 3
    z = [x + 1, {"a": x - 1}]
    M.eval(y, z)
    w = M.exp(x)
    M.async_eval(w)
    M.synchronize()
    M.synchronize(M.default_stream(M.cpu))
    return [y, z, w]


def _limits(M):
    prev = M.set_memory_limit(1 << 40)
    M.set_memory_limit(prev)
    prev2 = M.set_cache_limit(1 << 30)
    M.set_cache_limit(prev2)
    w = M.set_wired_limit(0)
    return [_typename(prev), _typename(prev2), _typename(w)]


def _toggle(M, x):
    f = M.compile(lambda a: M.sin(a) * 2)
    M.disable_compile()
    y = f(x)
    M.enable_compile()
    z = f(x)
    return [y, z]


# --------------------------------------------------------------------------
# error handling: inputs that must be rejected
# --------------------------------------------------------------------------
def error_cases():
    out = []

    def C(label, names, fn, inputs=()):
        out.append(Case(f"error:{label}", names, fn, inputs))

    x = Inp((2, 3))
    C("add-shapes", ["add"], lambda M, a, b: M.add(a, b), [x, Inp((4,))])
    C("add-str", ["add"], lambda M, a: M.add(a, "s"), [x])
    C("add-none", ["add"], lambda M, a: M.add(a, None), [x])
    C("reshape-size", ["reshape"], lambda M, a: M.reshape(a, (4,)), [x])
    C("reshape-neg", ["reshape"], lambda M, a: M.reshape(a, (-2, 3)), [x])
    C("sum-axis-type", ["sum"], lambda M, a: M.sum(a, axis="0"), [x])
    C("zeros-neg", ["zeros"], lambda M: M.zeros((-2, 3)))
    C("zeros-float-shape", ["zeros"], lambda M: M.zeros((2.0, 3)))
    C("matmul-shapes", ["matmul"], lambda M, a: M.matmul(a, a), [x])
    C("matmul-scalar", ["matmul"], lambda M, a, s: M.matmul(a, s), [x, Inp(())])
    C("take-float-indices", ["take"], lambda M, a: M.take(a, M.array([0.5])), [x])
    C("take_along_axis-ndim", ["take_along_axis"],
      lambda M, a: M.take_along_axis(a, M.array([0]), axis=0), [x])
    C("split-uneven", ["split"], lambda M, a: M.split(a, 2, axis=1), [x])
    C("transpose-bad", ["transpose"], lambda M, a: M.transpose(a, (0,)), [x])
    C("broadcast_to-bad", ["broadcast_to"], lambda M, a: M.broadcast_to(a, (3, 3)), [x])
    C("astype-str", ["astype"], lambda M, a: M.astype(a, "float32"), [x])
    C("arange-zero-step", ["arange"], lambda M: M.arange(0, 5, 0))
    C("full-bad-shape", ["full"], lambda M: M.full((2, 3), M.array([1, 2])))
    C("pad-bad-mode", ["pad"], lambda M, a: M.pad(a, 1, mode="reflect-x"), [x])
    C("eye-neg", ["eye"], lambda M: M.eye(-1))
    C("cumsum-bad-axis", ["cumsum"], lambda M, a: M.cumsum(a, axis=5), [x])
    C("softmax-bad-axis", ["softmax"], lambda M, a: M.softmax(a, axis=2), [x])
    C("where-shapes", ["where"], lambda M, a: M.where(a > 0, a, M.zeros((4,))), [x])
    C("stack-empty", ["stack"], lambda M: M.stack([]))
    C("squeeze-non1", ["squeeze"], lambda M, a: M.squeeze(a, 0), [x])
    C("expand_dims-dup", ["expand_dims"], lambda M, a: M.expand_dims(a, (0, 0)), [x])
    C("tile-neg", ["tile"], lambda M, a: M.tile(a, -1), [x])
    C("repeat-neg", ["repeat"], lambda M, a: M.repeat(a, -1), [x])
    C("var-ddof-big", ["var"], lambda M, a: M.var(a, ddof=10), [x])
    C("argmax-axis-tuple", ["argmax"], lambda M, a: M.argmax(a, axis=(0, 1)), [x])
    C("array-ragged", ["array"], lambda M: M.array([[1, 2], [3]]))
    C("bitwise-float", ["bitwise_and"], lambda M, a: M.bitwise_and(a, a), [x])
    C("shift-float", ["left_shift"], lambda M, a: M.left_shift(a, 1), [x])
    C("logaddexp-complex", ["logaddexp"], lambda M, a: M.logaddexp(a, a),
      [Inp((2,), "complex64")])
    C("remainder-complex", ["remainder"], lambda M, a: M.remainder(a, a),
      [Inp((2,), "complex64")])
    C("max-empty", ["max"], lambda M: M.max(M.zeros((0,))))
    C("argmax-empty", ["argmax"], lambda M: M.argmax(M.zeros((0,))))
    C("slice_update-shape", ["slice_update"],
      lambda M, a: M.slice_update(a, M.zeros((3, 3)), M.array([0, 0]), [0, 1]), [x])
    C("put_along_axis-shape", ["put_along_axis"],
      lambda M, a: M.put_along_axis(a, M.array([[0, 1, 2, 0]]), M.zeros((1, 4)), axis=0), [x])
    C("linspace-neg", ["linspace"], lambda M: M.linspace(0, 1, -3))
    C("sort-bad-axis", ["sort"], lambda M, a: M.sort(a, axis=-3), [x])
    C("moveaxis-dup", ["moveaxis"], lambda M, a: M.moveaxis(a, (0, 1), (0, 0)), [x])
    C("concat-dtype-objs", ["concatenate"], lambda M, a: M.concatenate([a, [1, 2, 3]]), [x])
    C("tensordot-bad", ["tensordot"], lambda M, a: M.tensordot(a, a, axes=1), [x])
    C("inner-bad", ["inner"], lambda M, a, b: M.inner(a, b), [x, Inp((4,))])
    C("clip-both-none-array", ["clip"], lambda M, a: M.clip(a, M.zeros((4,)), None), [x])
    C("flatten-bad", ["flatten"], lambda M, a: M.flatten(a, 0, 5), [x])
    C("unflatten-bad", ["unflatten"], lambda M, a: M.unflatten(a, 1, (2, 2)), [x])
    C("isclose-bad", ["isclose"], lambda M, a: M.isclose(a, M.zeros((4,))), [x])
    C("as_strided-neg-shape", ["as_strided"], lambda M, a: M.as_strided(a, (-1,), (1,)), [x])
    C("result_type-none", ["result_type"], lambda M: M.result_type())
    C("broadcast_shapes-none", ["broadcast_shapes"], lambda M: M.broadcast_shapes())
    C("divmod-complex", ["divmod"], lambda M, a: M.divmod(a, a), [Inp((2,), "complex64")])
    C("tri-neg", ["tri"], lambda M: M.tri(-2))
    C("pad-ndim", ["pad"], lambda M, a: M.pad(a, [(1, 1)] * 3), [x])
    return out


# --------------------------------------------------------------------------
# all op cases
# --------------------------------------------------------------------------
def all_op_cases():
    from conformance_api import api_cases
    from conformance_large import large_cases
    return (unary_cases() + binary_cases() + reduction_cases() + scan_cases()
            + shape_cases() + index_cases() + misc_cases() + creation_cases()
            + random_cases() + runtime_cases() + error_cases() + large_cases()
            + api_cases())
