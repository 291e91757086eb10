"""The public names of mlx.core, mlx.core.fast, mlx.core.random, mlx.core.fft and mlx.core.array, and
the signatures of their functions, against Ember's.

Every public name MLX offers must exist in Ember, except the Metal-specific ones and those
listed in PENDING with the issue that brings them; a PENDING name that has appeared in
Ember fails the test too, so that the list shrinks as the work lands.

Signatures are read from the first line(s) of each function's ``__doc__`` (nanobind and
pybind11 both start it with the signature; overloads take a line each). Type annotations
are dropped; parameter names, their order, defaults (compared as values) and the
keyword-only marker must agree. A parameter MLX makes positional-only may be
positional-or-keyword in Ember (every MLX call still works), but not the reverse. The names
of ``*args`` / ``**kwargs`` don't matter (no call can spell them). Deliberate differences
sit in KNOWN_SIGNATURE_DIFFS with the reason.
"""
import ast
import re

import pytest

mlx = pytest.importorskip("mlx.core")
import ember.core as em  # noqa: E402

# Names that only make sense with Metal.
METAL_SPECIFIC = {"fast.metal_kernel"}

_I9 = "issue 9 (in progress)"
PENDING = {}

KNOWN_SIGNATURE_DIFFS = {
    "save_gguf": "metadata may be left out (a file without metadata), as save_safetensors allows",
    "arange": "one binding reads both MLX overloads (start/stop/step/dtype by position or "
              "keyword), so its signature is (*args, **kwargs)",
    "vjp": "cotangents may be left out: vjp(f, primals) returns (outputs, vjp_fn) as in JAX "
           "(see DESIGN.md)",
    "random.uniform": "shape=None broadcasts low and high; MLX's default shape=[] asks for a "
                      "scalar and raises for array bounds",
}

MODULES = [("", "core"), ("fast.", "fast"), ("random.", "random"), ("linalg.", "linalg"),
           ("array.", "array"), ("distributed.", "distributed"), ("fft.", "fft")]


def _module(lib, which):
    if which == "core":
        return lib
    if which == "array":
        return lib.array
    return getattr(lib, which, None)


def _public(mod):
    return [n for n in dir(mod) if not n.startswith("_")]


# ---------- signature text -> parameters

def _split_top(s, sep=","):
    out, depth, cur, quote = [], 0, [], None
    for ch in s:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur))
    return [x.strip() for x in out]


def signature_lines(doc):
    """The signature lines at the top of a docstring (one per overload)."""
    if not doc:
        return []
    lines = doc.strip().splitlines()
    if len(lines) > 1 and lines[1].strip() == "Overloaded function.":
        return [m.group(1).strip("`") for m in
                (re.match(r"^\d+\. (.*)$", ln.strip()) for ln in lines) if m]
    sigs = []
    for ln in lines:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*\(", ln):
            break
        sigs.append(ln)
    return sigs


def _default(text):
    text = re.sub(r"^<?(mlx\.core\.|ember\.core\.|Dtype\.|DeviceType\.)", "", text.strip()).strip("<>")
    try:
        v = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return ("name", text)
    if isinstance(v, list):
        v = tuple(v)
    return ("value", v)


def parse_signature(line):
    """[(name, kind, default)] with kind pos_only / pos_or_kw / kw_only / var_pos / var_kw."""
    start = line.index("(")
    depth = 0
    for end in range(start, len(line)):
        depth += {"(": 1, ")": -1}.get(line[end], 0)
        if depth == 0:
            break
    params, kind = [], "pos_or_kw"
    for p in _split_top(line[start + 1:end]):
        if p == "/":
            params = [(n, "pos_only", d) for n, _, d in params]
        elif p == "*":
            kind = "kw_only"
        elif p.startswith("**"):
            params.append(("**", "var_kw", None))
        elif p.startswith("*"):
            params.append(("*", "var_pos", None))
            kind = "kw_only"
        else:
            parts = _split_top(p, "=")
            name = _split_top(parts[0], ":")[0].strip()
            default = _default("=".join(parts[1:])) if len(parts) > 1 else None
            params.append((name, kind, default))
    if params and params[0][0] == "self":
        params = params[1:]
    return params


def _same_default(a, b):
    if a is None or b is None:
        return a is b
    if a[0] != b[0]:
        return False
    if a[0] == "value":
        return type(a[1]) is bool and type(b[1]) is bool and a[1] == b[1] or (
            type(a[1]) is not bool and type(b[1]) is not bool and a[1] == b[1])
    return a[1] == b[1]


def compatible(ref, got):
    """Whether Ember's parameters `got` accept every call MLX's `ref` accepts, alike."""
    if len(ref) != len(got):
        return False
    for (rn, rk, rd), (gn, gk, gd) in zip(ref, got):
        if rn != gn or not _same_default(rd, gd):
            return False
        if rk != gk and not (rk == "pos_only" and gk == "pos_or_kw"):
            return False
    return True


def _show(params):
    out = []
    for n, k, d in params:
        s = n if n in ("*", "**") else n + ("" if d is None else f"={d[1]!r}")
        out.append(s + {"pos_only": "/", "kw_only": "(kw)"}.get(k, ""))
    return "(" + ", ".join(out) + ")"


def _signatures(obj):
    return [parse_signature(ln) for ln in signature_lines(getattr(obj, "__doc__", None))]


# ---------- the checks

def _missing():
    out = []
    for prefix, which in MODULES:
        ref, got = _module(mlx, which), _module(em, which)
        for n in _public(ref):
            if got is None or not hasattr(got, n):
                out.append(prefix + n)
    return out


def test_parser_reads_both_styles():
    nb = "f(a: array, /, axis: int | Sequence[int] = (1, 2), *, stream: StreamOrDevice = None) -> array"
    assert parse_signature(nb) == [("a", "pos_only", None), ("axis", "pos_or_kw", ("value", (1, 2))),
                                   ("stream", "kw_only", ("value", None))]
    pb = "f(self: ember.core.array, *args, dtype: object = float32, **kwargs) -> ember.core.array"
    assert parse_signature(pb) == [("*", "var_pos", None), ("dtype", "kw_only", ("name", "float32")),
                                   ("**", "var_kw", None)]
    over = "f(*args, **kwargs)\nOverloaded function.\n\n1. f(a: int) -> int\n\n2. f(b: str) -> str\n"
    assert [parse_signature(s) for s in signature_lines(over)] == [
        [("a", "pos_or_kw", None)], [("b", "pos_or_kw", None)]]
    # positional-only in MLX may be positional-or-keyword here, not the reverse
    assert compatible([("a", "pos_only", None)], [("a", "pos_or_kw", None)])
    assert not compatible([("a", "pos_or_kw", None)], [("a", "pos_only", None)])
    assert not compatible([("s", "pos_or_kw", ("value", None))], [("s", "kw_only", ("value", None))])
    assert compatible([("n", "pos_or_kw", ("value", 0))], [("n", "pos_or_kw", ("value", 0.0))])
    assert not compatible([("n", "pos_or_kw", ("value", 0))], [("n", "pos_or_kw", ("value", False))])


def test_every_public_name_exists():
    missing = [n for n in _missing() if n not in METAL_SPECIFIC and n not in PENDING]
    assert not missing, f"Ember lacks these MLX names: {missing}"


def test_pending_names_are_still_missing():
    missing = set(_missing())
    landed = sorted(n for n in PENDING if n not in missing)
    assert not landed, f"These PENDING names exist now; remove them from PENDING: {landed}"


def _signature_problems():
    problems, matched_known = [], []
    for prefix, which in MODULES:
        ref_mod, got_mod = _module(mlx, which), _module(em, which)
        if got_mod is None:
            continue
        for n in _public(ref_mod):
            if not hasattr(got_mod, n):
                continue
            ref, got = getattr(ref_mod, n), getattr(got_mod, n)
            if isinstance(ref, (type, property)) or not callable(ref):
                continue
            ref_sigs, got_sigs = _signatures(ref), _signatures(got)
            if not ref_sigs:
                continue
            ok = all(any(compatible(r, g) for g in got_sigs) for r in ref_sigs)
            key = prefix + n
            if key in KNOWN_SIGNATURE_DIFFS:
                if ok:
                    matched_known.append(key)
                continue
            if not ok:
                problems.append(f"{key}: MLX {' | '.join(map(_show, ref_sigs))}; "
                                f"Ember {' | '.join(map(_show, got_sigs)) or '(no signature)'}")
    return problems, matched_known


def test_signatures_match():
    problems, _ = _signature_problems()
    assert not problems, "Signatures that differ from MLX's:\n" + "\n".join(problems)


def test_known_signature_diffs_still_differ():
    _, matched = _signature_problems()
    assert not matched, f"These now match MLX; remove them from KNOWN_SIGNATURE_DIFFS: {matched}"


def test_known_and_pending_entries_name_real_mlx_names():
    for key in list(PENDING) + list(KNOWN_SIGNATURE_DIFFS) + list(METAL_SPECIFIC):
        prefix, _, name = key.rpartition(".")
        mod = _module(mlx, prefix or "core")
        assert mod is not None and hasattr(mod, name), f"{key} is not an MLX name"
