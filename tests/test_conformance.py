"""Differential conformance: the same calls through `mlx.core` and `ember.core`.

Each case (see conformance_cases.py and conformance_transforms.py) is run through
both modules; the results must agree in structure, dtype, shape and value (within a
dtype-dependent tolerance), and an input that MLX rejects must be rejected by Ember
with the same exception class (or a subclass of it).

`test_api_coverage` fails on any public callable that both modules offer and that no
case exercises, unless SKIP gives a reason for it.

Known Ember bugs are marked xfail(strict) on exactly the failing cases (KNOWN_BUGS);
calls that crash the process are not run at all (CRASHES).  Remove an entry once the
bug is fixed: a strict xfail that passes fails the run.
"""
import os
import re
import sys
import warnings

import pytest

mlx = pytest.importorskip("mlx.core")

sys.path.insert(0, os.path.dirname(__file__))

import ember.core as em  # noqa: E402
from conformance_cases import all_op_cases, compare, outcome, resolve  # noqa: E402
from conformance_ops_transforms import op_transform_cases  # noqa: E402
from conformance_transforms import transform_cases  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore")

# --------------------------------------------------------------------------
# known discrepancies
# --------------------------------------------------------------------------
# Patterns match whole case ids: "*" and "?" are wildcards (everything else is literal),
# or a regular expression (re.search) after "re:".

# Calls that take the whole process down: never run, listed for the record.
CRASHES = {
    "optx:vmap:divmod[*-in=(0,None)]":
        "MLX aborts (double free or corruption) on vmap of divmod with an unbatched "
        "argument; Ember is right",
}

# Genuine Ember bugs, marked xfail(strict=True) on exactly the failing cases.
_DERIV = ("grad|grad-argnums0|value_and_grad|vjp|vmap-grad|grad-vmap|grad-grad|vjp-vmap|"
          "compile-grad|compile-value_and_grad|grad-compile|compile-vmap-grad|checkpoint|"
          "stop_gradient")
KNOWN_BUGS = {
}

# Differences judged acceptable (Ember right, or at least as good): such a case is
# skipped when the outcomes differ, and passes when they agree.
ACCEPTED = {
    r"re:^quant:(gather_)?qqmm$":
        "MLX's CPU backend does not implement qqmm / gather_qqmm (NYI); Ember computes them "
        "(tests/test_quant.py checks them against MLX's own quantize / dequantize)",
    "api:from_dlpack":
        "from_dlpack shares the producer's memory, so a float64 numpy array stays float64; MLX "
        "copies it into float32",
    "io:load-missing":
        "a missing file: MLX raises RuntimeError, Ember FileNotFoundError (an OSError)",
    "io:gguf[bfloat16]": "save_gguf writes bfloat16 tensors (a GGUF type); MLX refuses them",
    r"re:^io:gguf\[(bool_|uint64|complex64)\]$":
        "a dtype GGUF cannot hold: MLX raises RuntimeError, Ember ValueError",
    "transform-api:custom_function-kwargs-form":
        "custom_function(f, fun_vjp=...) is Ember's functional form, whose rules take and return "
        "lists; MLX has no such form and the case falls back to MLX's decorator form",
    "transform:compile-shapeless[binary-bcast]":
        "a shapeless replay with operands that no longer broadcast: MLX returns a result of the "
        "traced shape, Ember raises a clear error",
    r"re:^(unary|optx:compile):sign\[.*-special": "sign(nan): MLX gives 0, Ember nan (as numpy)",
    "scan:cumm??[float16-c4x5-special*":
        "float16 cummax/cummin across nan: MLX drops the nan (gives 0), Ember propagates it",
    "unary:exp[float64-c4x5-special]":
        "exp(100.0) in float64: MLX overflows to inf (float32 accuracy), Ember is exact",
    r"re:^(reduce|big):logsumexp\[(bool_|uint\d+)-":
        "logsumexp of bool/unsigned: MLX subtracts the max in the integer type and wraps",
    r"re:^reduce:logsumexp\[.*-c0x3-":
        "logsumexp of an empty array: MLX raises, Ember returns -inf / an empty result",
    r"re:^reduce:arg(max|min)\[.*-c0x3-axis=1\]$":
        "argmax/argmin along a non-empty axis of an empty array: Ember returns the empty "
        "result, MLX raises",
    r"re:^reduce:(sum|prod)\[(bool_|u?int(8|16))-cscalar-":
        "sum/prod of a 0-d array: MLX returns the input unchanged, Ember promotes as for any "
        "shape",
    r"re:^softmax\[(bool_|u?int\d+)-":
        "softmax of integer input: MLX returns integers (all zeros), Ember returns float32",
    r"re:^(linalg|big):(matmul|inner|tensordot)\[(bool_|u?int\d+)-":
        "integer matmul: MLX rejects it, Ember computes it",
    r"re:^(linalg|mm):einsum\[(bool_|u?int\d+)\]$": "integer einsum: MLX rejects it (matmul), Ember computes it",
    "optx:jvp:diag[*": "JVP of diag building a matrix: MLX does not implement it (scatter), Ember does",
    r"re:^big:cumsum\[(float16|bfloat16)-c70001-":
        "long half-precision cumsum: MLX accumulates in the half type (stalls at 8192 in "
        "float16), Ember accumulates in float32",
    r"re:^binary:(floor_divide|divmod)\[float16-.*-big\]$":
        "float16 floor_divide: MLX floors the quotient rounded to float16 "
        "(floor_divide(-5.76, -1.921) = 3), Ember the exact quotient (2)",
    r"re:^optx:vmap:(bitwise_(and|or|xor)|(bitwise_)?(left|right)_shift)\[int32-.*-in=\(0,None\)\]$":
        "vmap of bitwise ops and shifts with an unbatched argument: MLX gives wrong values "
        "(vmap(left_shift, in_axes=(0, None))([[1,2,3],[4,5,6]], [3,1,2]) row 2: MLX "
        "[4, 655360, 6], right [32, 10, 24])",
    r"re:^optx:(grad|jvp):divmod\[":
        "grad of divmod: MLX gives zeros for the remainder part; Ember the remainder's "
        "gradient, the same as MLX's own remainder",
    "optx:vmap:expand_dims[*-in=-1,out=1]":
        "vmap(expand_dims(x, (0, 2)), in_axes=-1, out_axes=1) on (2, 3, 3): MLX gives shape "
        "(1, 1, 2, 3, 3), the right one is (1, 3, 2, 1, 3) (Ember)",
    "optx:vmap:slice_update[*":
        "vmap of slice_update with an unbatched update: MLX updates only the first batch "
        "element, Ember every one",
    "optx:jvp:addmm[*": "jvp of addmm: MLX swaps alpha and beta in the tangent, Ember is right",
    r"re:^optx:jvp:(all|any|logical_not|isinf|isnan|isfinite|isposinf|isneginf|equal|"
    r"not_equal|greater|greater_equal|less|less_equal|logical_and|logical_or)\[":
        "tangent dtype of a boolean output: MLX itself is inconsistent (float32 for all/any, "
        "bool for logical_not), Ember the other way round",
    r"re:^optx:grad:(logical_and|logical_or|logical_xor)\[":
        "grad through logical_and/or: MLX raises (cotangent type mismatch), Ember gives zeros",
    r"re:^transform:(jvp|jvp-grad|custom_function)\[at-add\]$":
        "JVP of array.at updates (scatter): MLX does not implement it, Ember does",
    r"re:^optx:jvp:(cumprod|cummax|cummin)\[":
        "JVP of cumprod/cummax/cummin: MLX does not implement it, Ember does",
    "optx:compile:floor_divide[complex64*":
        "floor_divide of complex: MLX returns the true quotient, Ember rejects it",
    "binary:floor_divide[*complex64*":
        "floor_divide of complex: MLX returns the true quotient, Ember rejects it",
    "create:array(9223372036854775808)": "array(2**63): MLX fails (bad_cast), Ember gives uint64",
    "create:array([1.0, 1180591620717411303424])":
        "array([1.0, 2**70]): MLX fails (bad_cast), Ember gives float32",
    "create:full((2, 2),1.9,int32)": "full(..., 1.9, dtype=int32): MLX ignores the dtype",
    "error:astype-str": "astype(a, 'float32'): Ember accepts dtype names",
    "create:result_type(array-*": "result_type(array, python scalar): Ember accepts scalars "
                                  "(weakly typed), MLX takes arrays and dtypes only",
    "error:concat-dtype-objs": "concatenate with a list element: Ember converts it",
    "error:broadcast_shapes-none": "broadcast_shapes(): Ember returns () as numpy does",
    "error:flatten-bad": "flatten(a, 0, 5): MLX clamps the axis, Ember raises AxisError",
    "error:tri-neg": "tri(-2): MLX returns an empty array, Ember raises ValueError",
    "error:zeros-float-shape":
        "zeros((2.0, 3)): MLX raises RuntimeError (bad_cast), Ember TypeError",
    "index:getitem(5,)*": "out-of-bounds integer index: MLX raises ValueError from squeeze, "
                          "Ember IndexError",
    "create:array.getitem-oob":
        "x[3] on 3 rows: MLX returns garbage without checking, Ember raises IndexError",
    "index:clip[uint64]":
        "clip(uint64, -1, 2): MLX wraps -1 here although its binary ops reject the overflow; "
        "Ember rejects it consistently",
    r"re:^transform:(jvp|jvp-grad)\[(scan|cummax|prod|prod-zero|cummax-exclusive)\]$":
        "JVP of cumprod/cummax/cummin: MLX does not implement it, Ember does",
    r"re:^transform:(vmap-axes|vmap-grad|compile-vmap-grad)\[slice-update\]$":
        "vmap of slice_update: MLX updates only the first batch element, Ember every one",
    "transform-api:vmap-all-none": "vmap(in_axes=None): MLX TypeError, Ember ValueError",
    "transform-api:vmap-tree": "a 1-tuple of in_axes for a one-argument function: MLX rejects "
                               "it, Ember accepts it",
}

# Public callables shared by both modules that the suite deliberately leaves out.
SKIP = {
    "clear_streams": "destroys the process's streams: later MLX calls fail with 'There is "
                     "no Stream(cpu, 0) in current thread'",
    "ArrayLike": "a typing alias, not an operation",
    "fast.metal_kernel": "takes Metal shader source: no CPU behaviour to compare",
    "fast.cuda_kernel": "takes CUDA source and needs a GPU",
    "fast.precompiled_cuda_kernel": "takes a CUDA binary and needs a GPU",
}


# --------------------------------------------------------------------------
# case collection
# --------------------------------------------------------------------------
def _available(case):
    return all(resolve(mlx, n) is not None and resolve(em, n) is not None for n in case.names)


def _cases():
    cases = [c for c in all_op_cases() + transform_cases() + op_transform_cases()
             if _available(c)]
    seen = set()
    for c in cases:
        assert c.id not in seen, f"duplicate case id {c.id}"
        seen.add(c.id)
    return cases


CASES = _cases()


def _glob(pat):
    return "^" + re.escape(pat).replace(r"\*", ".*").replace(r"\?", ".") + "$"


def _match(table, cid):
    for pat, reason in table.items():
        rx = pat[3:] if pat.startswith("re:") else _glob(pat)
        if re.search(rx, cid):
            return reason
    return None


def _params():
    out = []
    for c in CASES:
        marks = []
        if c.slow:
            marks.append(pytest.mark.slow)
        crash = _match(CRASHES, c.id)
        if crash:
            marks.append(pytest.mark.skip(reason="crashes the process: " + crash))
        bug = _match(KNOWN_BUGS, c.id)
        if bug:
            marks.append(pytest.mark.xfail(strict=True, reason=bug))
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_conformance(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = outcome(mlx, case)
        got = outcome(em, case)
    problem = compare(ref, got, case)
    if problem is not None:
        accepted = _match(ACCEPTED, case.id)
        if accepted:
            pytest.skip(f"accepted difference: {accepted}")
    assert problem is None, problem


# --------------------------------------------------------------------------
# coverage of the shared public API
# --------------------------------------------------------------------------
SUBMODULES = ["random", "linalg", "fft", "fast", "distributed"]


def _public_callables(mod):
    """Public callables of the module and its submodules, and the public attributes of
    its array class, as dotted names ("random.uniform", "array.sum")."""
    names = {f"array.{n}" for n in dir(mod.array) if not n.startswith("_")}
    for n in dir(mod):
        if n.startswith("_"):
            continue
        obj = getattr(mod, n)
        if callable(obj):
            names.add(n)
    for sub in SUBMODULES:
        m = getattr(mod, sub, None)
        if m is None:
            continue
        for n in dir(m):
            if not n.startswith("_") and callable(getattr(m, n)):
                names.add(f"{sub}.{n}")
    return names


def test_api_coverage():
    shared = _public_callables(mlx) & _public_callables(em)
    exercised = set()
    for c in CASES:
        exercised.update(c.names)
    missing = sorted(shared - exercised - set(SKIP))
    assert not missing, ("shared public callables neither exercised by the conformance "
                         f"suite nor in its SKIP list: {missing}")
    stale = sorted(n for n in SKIP if n in exercised)
    assert not stale, f"SKIP entries that the suite now exercises: {stale}"


def test_constants():
    for name in ("pi", "e", "inf", "euler_gamma"):
        if hasattr(em, name):
            assert getattr(em, name) == getattr(mlx, name), name
    if hasattr(em, "newaxis"):
        assert em.newaxis is None
