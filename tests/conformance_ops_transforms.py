"""Every op under every transformation: grad, jvp, vmap (batch axis first and not
first) and compile (fused with a neighbouring element-wise op, on contiguous, strided
and large inputs), compared between MLX and Ember.  Each op's derivative, batching and
generated-kernel rules are exercised on their own, not only inside larger programs.
"""
import numpy as np

from conformance_cases import BINARY, DTYPES, REDUCE, UNARY, Case, Inp, _kw, resolve


def _w(M, shape, k=0):
    n = int(np.prod(shape)) if shape else 1
    return M.array((np.cos(np.arange(n) * 0.37 + k) + 0.1).astype(np.float32).reshape(shape))


def _weighted_sum(M, y, k=0):
    y = y if y.dtype in (M.float32, M.float16, M.bfloat16, M.float64, M.complex64) \
        else y.astype(M.float32)
    return M.sum(y * _w(M, tuple(y.shape), k).astype(y.dtype))


def _tan(M, a, k=1):
    return _w(M, tuple(a.shape), k).astype(a.dtype)


def _grad_case(label, names, f, inputs, argnums, tol=50.0):
    return Case(f"optx:grad:{label}", names,
                lambda M, *a: M.grad(lambda *z: _weighted_sum(M, f(M, *z)), argnums=argnums)(*a),
                inputs, tol=tol)


def _jvp_case(label, names, f, inputs, tol=50.0):
    return Case(f"optx:jvp:{label}", names,
                lambda M, *a: M.jvp(lambda *z: f(M, *z), list(a),
                                    [_tan(M, x, i + 1) for i, x in enumerate(a)]),
                inputs, tol=tol)


def _vmap_case(label, names, f, inputs, in_axes, out_axes=0, tol=4.0):
    return Case(f"optx:vmap:{label}", names,
                lambda M, *a: M.vmap(lambda *z: f(M, *z), in_axes=in_axes,
                                     out_axes=out_axes)(*a), inputs, tol=tol)


def _compile_case(label, names, f, inputs, tol=4.0, slow=False, approx=None):
    def run(M, *a):
        g = M.compile(lambda *z: f(M, *z))
        return [g(*a), g(*a)]
    return Case(f"optx:compile:{label}", names, run, inputs, tol=tol, slow=slow, approx=approx)


GRAD_DTYPES = ["float32"]


def unary_transform_cases():
    out = []
    for name, dom in UNARY:
        f = (lambda M, x, n=name: resolve(M, n)(x))
        # fused: the op reads the result of another element-wise op
        fused = (lambda M, x, n=name: resolve(M, n)(M.maximum(x, x)))
        for d in GRAD_DTYPES:
            x = Inp((3, 4), d, "c", dom)
            out.append(_grad_case(f"{name}[{x}]", [name, "grad"], f, [x], 0))
            out.append(_jvp_case(f"{name}[{x}]", [name, "jvp"], f, [x]))
        out.append(_grad_case(f"{name}[float16-c3x4]", [name, "grad"], f,
                              [Inp((3, 4), "float16", "c", dom)], 0, tol=4.0))
        for d in ("float32", "int32"):
            x = Inp((3, 4, 5), d, "c", dom)
            out.append(_vmap_case(f"{name}[{x}-in=0]", [name, "vmap"], f, [x], 0))
            out.append(_vmap_case(f"{name}[{x}-in=2,out=1]", [name, "vmap"], f, [x], 2, 1))
        for di, d in enumerate(DTYPES):
            x = Inp((3, 4), d, "c", dom)
            out.append(_compile_case(f"{name}[{x}]", [name, "compile"], fused, [x],
                                     slow=d not in ("float32", "float16", "int32", "bool_",
                                                    "uint8", "bfloat16", "complex64")))
        for d in ("float32", "float16"):
            for x in (Inp((4, 5), d, "c", "special"), Inp((3, 4), d, "T", dom),
                      Inp((3, 4), d, "s", dom), Inp((300, 257), d, "c", dom)):
                out.append(_compile_case(f"{name}[{x}]", [name, "compile"], fused, [x]))
    return out


def binary_transform_cases():
    out = []
    for name, da, db in BINARY:
        f = (lambda M, a, b, n=name: resolve(M, n)(a, b))
        fused = (lambda M, a, b, n=name: resolve(M, n)(M.maximum(a, a), M.minimum(b, b)))
        if name in ("divmod",):
            f = (lambda M, a, b: M.divmod(a, b)[0] * 2 + M.divmod(a, b)[1])
            fused = (lambda M, a, b: M.divmod(M.maximum(a, a), b)[1])
        x, y = Inp((3, 1), "float32", "c", da), Inp((4,), "float32", "c", db, tag=1)
        out.append(_grad_case(f"{name}[{x}|{y}]", [name, "grad"], f, [x, y], (0, 1)))
        out.append(_jvp_case(f"{name}[{x}|{y}]", [name, "jvp"], f, [x, y]))
        for d in ("float32", "int32"):
            x, y = Inp((3, 4), d, "c", da), Inp((3, 4), d, "c", db, tag=1)
            out.append(_vmap_case(f"{name}[{x}|{y}-in=(0,1)]", [name, "vmap"], f, [x, y],
                                  (0, 1)))
            xb, yu = Inp((3, 4), d, "c", da), Inp((4,), d, "c", db, tag=1)
            out.append(_vmap_case(f"{name}[{xb}|{yu}-in=(0,None)]", [name, "vmap"], f,
                                  [xb, yu], (0, None)))
        for d in DTYPES:
            x, y = Inp((3, 1), d, "c", da), Inp((4,), d, "c", db, tag=1)
            out.append(_compile_case(f"{name}[{x}|{y}]", [name, "compile"], fused, [x, y],
                                     slow=d not in ("float32", "float16", "int32", "bool_",
                                                    "uint8", "bfloat16")))
        for d in ("float32", "int32"):
            for x, y in ((Inp((4, 5), d, "c", "special"), Inp((4, 5), d, "c", "special", 1)),
                         (Inp((3, 4), d, "T", da), Inp((3, 4), d, "s", db, 1)),
                         (Inp((300, 257), d, "c", da), Inp((257,), d, "c", db, 1))):
                if "special" in repr(x) and d == "int32":
                    continue
                out.append(_compile_case(f"{name}[{x}|{y}]", [name, "compile"], fused, [x, y]))
    return out


def reduce_transform_cases():
    out = []
    for name in REDUCE + ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp", "softmax",
                          "sort"]:
        dom = "nz" if name in ("prod", "cumprod") else "any"
        for kw in [{}, {"axis": 1}, {"axis": (0, 2), "keepdims": True}, {"axis": -1}]:
            if name in ("argmax", "argmin", "median") and isinstance(kw.get("axis"), tuple):
                continue
            if name.startswith("cum") or name in ("logcumsumexp", "sort"):
                if "axis" not in kw or isinstance(kw["axis"], tuple):
                    continue
                kw = dict(kw)
                kw.pop("keepdims", None)
            f = (lambda M, x, n=name, kw=kw: resolve(M, n)(x, **kw))
            x = Inp((2, 3, 4), "float32", "c", dom)
            lab = f"{name}[{x}-{_kw(kw)}]"
            out.append(_grad_case(lab, [name, "grad"], f, [x], 0))
            out.append(_jvp_case(lab, [name, "jvp"], f, [x]))
            out.append(_vmap_case(lab + "-in=1", [name, "vmap"], f, [x], 1))
            out.append(_grad_case(lab + "-T", [name, "grad"], f,
                                  [Inp((2, 3, 4), "float32", "T", dom)], 0))
        for d in ("float16", "int32", "bool_"):
            x = Inp((2, 3, 4), d, "c", dom)
            out.append(_vmap_case(f"{name}[{x}-axis=-1-in=2]", [name, "vmap"],
                                  lambda M, a, n=name: resolve(M, n)(a, axis=-1), [x], 2))
    return out


SHAPE_OPS = [
    ("reshape", lambda M, x: M.reshape(x, (4, 6)), (2, 3, 4)),
    ("transpose", lambda M, x: M.transpose(x, (2, 0, 1)), (2, 3, 4)),
    ("swapaxes", lambda M, x: M.swapaxes(x, 0, 2), (2, 3, 4)),
    ("moveaxis", lambda M, x: M.moveaxis(x, 0, -1), (2, 3, 4)),
    ("squeeze", lambda M, x: M.squeeze(x, 1), (2, 1, 4)),
    ("expand_dims", lambda M, x: M.expand_dims(x, (0, 2)), (2, 3)),
    ("flatten", lambda M, x: M.flatten(x, 1), (2, 3, 4)),
    ("unflatten", lambda M, x: M.unflatten(x, 1, (2, 2)), (3, 4)),
    ("broadcast_to", lambda M, x: M.broadcast_to(x, (2, 3, 4)), (3, 1)),
    ("concatenate", lambda M, x: M.concatenate([x, x * 2, x[:1]], axis=0), (3, 4)),
    ("stack", lambda M, x: M.stack([x, x * 3], axis=1), (3, 4)),
    ("split", lambda M, x: M.split(x, [1, 3], axis=1)[1] * M.split(x, 2, axis=1)[0], (3, 4)),
    ("tile", lambda M, x: M.tile(x, (2, 1, 2)), (3, 4)),
    ("repeat", lambda M, x: M.repeat(x, 3, axis=1), (3, 4)),
    ("pad", lambda M, x: M.pad(x, [(1, 2), (0, 1)], constant_values=2.0), (3, 4)),
    ("atleast_3d", lambda M, x: M.atleast_3d(x), (3, 4)),
    ("tril", lambda M, x: M.tril(x, -1), (4, 4)),
    ("triu", lambda M, x: M.triu(x, 1), (3, 4, 4)),
    ("as_strided", lambda M, x: M.as_strided(x, (3, 3), (4, 1), 1), (3, 4)),
    ("take", lambda M, x: M.take(x, M.array([[2, 0], [1, 1]]), axis=1), (3, 4)),
    ("take-flat", lambda M, x: M.take(x, M.array([5, 0, 11, 5])), (3, 4)),
    ("take_along_axis", lambda M, x: M.take_along_axis(x, M.array([[0, 2], [1, 1], [3, 0]]),
                                                       axis=1), (3, 4)),
    ("put_along_axis", lambda M, x: M.put_along_axis(x, M.array([[0], [2], [1]]),
                                                     M.array([[1.0], [2.0], [3.0]]), axis=1),
     (3, 4)),
    ("slice_update", lambda M, x: M.slice_update(x, M.ones((2, 2)), M.array([1, 2]), [0, 1]),
     (3, 4)),
    ("slice", lambda M, x: M.slice(x, M.array([1, 1]), [0, 1], (2, 2)), (3, 4)),
    ("getitem", lambda M, x: x[1:, ::-2] * x[M.array([0, 2]), 1:3], (3, 4)),
    ("where", lambda M, x: M.where(x > 0, x, x * x), (3, 4)),
    ("clip", lambda M, x: M.clip(x, -0.5, 1.0), (3, 4)),
    ("matmul", lambda M, x: x @ M.transpose(x), (3, 4)),
    ("addmm", lambda M, x: M.addmm(x[:, :3], x, M.transpose(x)[:, :3], alpha=0.5, beta=2.0),
     (3, 4)),
    ("inner", lambda M, x: M.inner(x, x), (3, 4)),
    ("outer", lambda M, x: M.outer(x[0], x[1]), (3, 4)),
    ("tensordot", lambda M, x: M.tensordot(x, x, axes=([0], [0])), (3, 4)),
    ("astype", lambda M, x: x.astype(M.float16).astype(M.float32) * x, (3, 4)),
    ("diagonal", lambda M, x: M.diagonal(x, 1), (3, 4)),
    ("diag", lambda M, x: M.diag(x[0]), (3, 4)),
    ("trace", lambda M, x: M.trace(x), (3, 4)),
    ("flip", lambda M, x: M.flip(x, 1), (3, 4)),
    ("roll", lambda M, x: M.roll(x, 2, axis=1), (3, 4)),
    ("kron", lambda M, x: M.kron(x, x[:2, :2]), (3, 4)),
    ("einsum", lambda M, x: M.einsum("ij,kj->ik", x, x), (3, 4)),
    ("logaddexp", lambda M, x: M.logaddexp(x, x[0]), (3, 4)),
    ("var", lambda M, x: M.var(x, axis=0, ddof=1), (3, 4)),
    ("std", lambda M, x: M.std(x, axis=-1), (3, 4)),
    ("unstack", lambda M, x: M.unstack(x)[1], (3, 4)),
    ("matrix_transpose", lambda M, x: M.matrix_transpose(x), (2, 3, 4)),
]


def shape_transform_cases():
    out = []
    for label, f, shape in SHAPE_OPS:
        name = label.split("-")[0]
        names = [name] if name != "getitem" else ["array"]
        x = Inp(shape, "float32")
        out.append(_grad_case(f"{label}[{x}]", names + ["grad"], f, [x], 0))
        out.append(_jvp_case(f"{label}[{x}]", names + ["jvp"], f, [x]))
        xb = Inp((3,) + shape, "float32", tag=2)
        out.append(_vmap_case(f"{label}[{xb}-in=0]", names + ["vmap"], f, [xb], 0))
        xt = Inp(shape + (3,), "float32", tag=3)
        out.append(_vmap_case(f"{label}[{xt}-in=-1,out=1]", names + ["vmap"], f, [xt], -1, 1))
        out.append(_compile_case(f"{label}[{x}]", names + ["compile"],
                                 lambda M, a, f=f: M.exp(f(M, M.sin(a))), [x]))
    return out


def compile_promotion_cases():
    """Generated kernels that mix dtypes and weakly typed Python scalars."""
    out = []
    fast = {"int8", "uint8", "float16", "bfloat16", "int64", "bool_", "float32", "uint32"}
    for op in ("add", "multiply", "divide", "maximum", "less", "subtract"):
        f = (lambda M, a, b, op=op: M.exp(M.negative(getattr(M, op)(M.abs(a), b)) * 0.1)
             if op != "less" else M.logical_not(M.less(M.abs(a), b)))
        for i, a in enumerate(DTYPES):
            for j, b in enumerate(DTYPES):
                if a == b:
                    continue
                x, y = Inp((3, 4), a, "c", "any"), Inp((4,), b, "c", "nz", tag=1)
                slow = not (a in fast and b in fast and (i + j) % 3 == 0)
                out.append(_compile_case(f"{op}[{x}|{y}-mixed]", [op, "compile"], f, [x, y],
                                         slow=slow, approx=True))
    for d in DTYPES:
        x = Inp((3, 4), d, "c", "any")
        out.append(_compile_case(
            f"pyscalars[{x}]", ["compile", "multiply", "add"],
            lambda M, a: [a * 2 + 1, a * 1.5, M.maximum(a, 3) - 1, (a > 2) * 1.0], [x]))
        out.append(Case(f"optx:compile:pyscalar-arg[{x}]", ["compile"],
                        lambda M, a: [M.compile(lambda p, s: p * s + s)(a, 2),
                                      M.compile(lambda p, s: p * s + s)(a, 0.5)], [x]))
    return out


def op_transform_cases():
    return (unary_transform_cases() + binary_transform_cases() + reduce_transform_cases()
            + shape_transform_cases() + compile_promotion_cases())
