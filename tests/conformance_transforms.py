"""Transformation cases for the differential conformance suite.

A program is a small function written against a module parameter `M`, with the
specs of its float32 inputs.  Every transformation in TRANSFORMS is applied to every
program (where it makes sense) and the result is compared between `mlx.core` and
`ember.core` like any other case.  A few dedicated cases exercise the transformation
APIs themselves (argnums, trees, in_axes / out_axes, custom rules, errors).
"""
import numpy as np

from conformance_cases import Case, Inp

B = 3  # batch size for vmap


def _det(shape, k=0):
    """Deterministic float32 numbers of a shape (cotangents and tangents)."""
    n = int(np.prod(shape)) if shape else 1
    v = np.cos(np.arange(n) * 0.7 + k) * 0.9
    return v.astype(np.float32).reshape(shape)


class Program:
    __slots__ = ("name", "build", "specs", "elementwise", "int_args", "uses")

    def __init__(self, name, build, specs, elementwise=False, int_args=(), uses=()):
        self.name = name
        self.uses = list(uses)      # public names the program needs besides the basics
        self.build = build          # M -> f(*args)
        self.specs = specs          # [(shape, domain)], or Inp objects
        self.elementwise = elementwise
        self.int_args = int_args    # positions of non-differentiable (integer) args

    def inputs(self, batch=False, bump=False):
        out = []
        for k, s in enumerate(self.specs):
            if isinstance(s, Inp):
                shape = ((B,) if batch else ()) + s.shape
                out.append(Inp(shape, s.dtype, s.layout, s.domain, tag=s.tag))
                continue
            shape, dom = s
            if bump:
                shape = tuple(d + 1 for d in shape)
            out.append(Inp(((B,) if batch else ()) + tuple(shape), "float32", "c", dom,
                           tag=k + (10 if batch else 0)))
        return out

    def diff_args(self):
        """argnums for all differentiable arguments (an int when there is one)."""
        args = tuple(i for i in range(len(self.specs)) if i not in self.int_args)
        return args[0] if len(args) == 1 else args


def _mask(M, shape, zero_at):
    m = np.ones(shape, np.float32)
    m[zero_at] = 0
    return M.array(m)


PROGRAMS = [
    Program("elementwise", lambda M: lambda x: M.exp(M.sin(x)) * x ** 2 - M.tanh(x) / (1 + x * x),
            [((3, 4), "any")], elementwise=True),
    Program("binary-bcast", lambda M: lambda x, y: x * y + M.maximum(x, y) - M.sqrt(M.abs(y) + 1),
            [((3, 1), "any"), ((4,), "any")], elementwise=True),
    Program("reduce", lambda M: lambda x: M.logsumexp(x, axis=-1) + M.mean(x * x, axis=-1)
            - M.var(x, axis=-1), [((3, 5), "any")]),
    Program("max-min", lambda M: lambda x: M.max(x, axis=0) - M.sum(M.min(x * 2, axis=1)),
            [((3, 4), "any")]),
    Program("matmul", lambda M: lambda x, w: M.tanh(x @ w), [((2, 3), "any"), ((3, 4), "any")]),
    Program("shape", lambda M: lambda x: M.reshape(M.transpose(x, (1, 0, 2)), (3, 8))
            * M.flatten(x)[:8], [((2, 3, 4), "any")]),
    Program("join", lambda M: lambda x, y: _join(M, x, y), [((2, 3), "any"), ((2, 3), "any")]),
    Program("index", lambda M: lambda x: x[1:, ::2] * x[:2, 1::2]
            + M.take(x, M.array([0, 2]), axis=1)[:2], [((3, 4), "any")]),
    Program("softmax-log", lambda M: lambda x: M.log(M.softmax(x, axis=-1) + 1),
            [((3, 4), "any")]),
    Program("scan", lambda M: lambda x: M.cumsum(x, axis=1) * M.cumprod(x, axis=0)
            + M.cumsum(x, axis=0, reverse=True, inclusive=False), [((3, 4), "nz")]),
    Program("logcumsumexp", lambda M: lambda x: M.logcumsumexp(x, axis=1, reverse=True)
            * M.logcumsumexp(x, axis=0), [((3, 4), "any")], uses=["logcumsumexp"]),
    Program("where-clip", lambda M: lambda x: M.where(x > 0, x * x, -x) + M.clip(x, -0.5, 0.5),
            [((3, 4), "any")], elementwise=True),
    Program("sort", lambda M: lambda x: M.sort(x, axis=-1) * M.arange(1, 5).astype(M.float32),
            [((3, 4), "any")]),
    Program("div-pow", lambda M: lambda x, y: x / (1 + y * y) + M.power(M.abs(x) + 1, y),
            [((3, 4), "any"), ((3, 4), "any")], elementwise=True),
    Program("prod", lambda M: lambda x: M.prod(x, axis=-1), [((3, 4), "nz")]),
    Program("prod-zero", lambda M: lambda x: M.prod(x * _mask(M, (3, 4), (1, 2)), axis=-1),
            [((3, 4), "nz")]),
    Program("cummax", lambda M: lambda x: M.cummax(x, axis=1) + M.cummin(x, axis=0, reverse=True),
            [((3, 4), "any")]),
    Program("cummax-exclusive", lambda M: lambda x: M.cummax(x, axis=1, inclusive=False)[:, 1:]
            + M.cummin(x, axis=1, inclusive=False)[:, 1:], [((3, 4), "any")]),
    Program("gather-scatter", lambda M: lambda x, y: M.take_along_axis(
        x, M.array([[1], [0], [3]]), axis=1) + M.put_along_axis(
        x, M.array([[2], [1], [0]]), y, axis=1), [((3, 4), "any"), ((3, 1), "any")]),
    Program("slice-update", lambda M: lambda x, y: M.slice_update(
        x, y * 2, M.array([1, 1]), [0, 1]) * x, [((3, 4), "any"), ((2, 2), "any")]),
    Program("at-add", lambda M: lambda x, y: x.at[M.array([0, 2, 0])].add(y * 3) * x,
            [((3, 4), "any"), ((3, 4), "any")], uses=["array.at"]),
    Program("special", lambda M: lambda x, y: M.abs(x) * M.sign(y) + M.arctan2(x, y) + M.erf(x)
            + M.sigmoid(y) * M.logaddexp(x, y) + M.erfinv(M.tanh(x) * 0.9),
            [((3, 4), "any"), ((3, 4), "nz")], elementwise=True),
    Program("astype", lambda M: lambda x: (x.astype(M.float16) * 2).astype(M.float32) * x,
            [((3, 4), "any")], elementwise=True),
    Program("center", lambda M: lambda x: (x - M.mean(x)) ** 2, [((3, 4), "any")]),
    Program("center-axis", lambda M: lambda x: (x - M.mean(x, axis=-1, keepdims=True)) ** 2,
            [((3, 4), "any")]),
    Program("two-outputs", lambda M: lambda x: _two(M, x), [((3, 4), "any")]),
    Program("batched-matmul", lambda M: lambda x, w: M.softmax(x @ w, axis=-1),
            [((2, 3, 4), "any"), ((4, 5), "any")]),
    Program("expand-broadcast", lambda M: lambda x: M.sum(M.broadcast_to(
        M.expand_dims(x, 0), (2, 3, 4)) * M.arange(24).reshape(2, 3, 4), axis=0)
        + M.squeeze(x[:, :1], 1)[:, None], [((3, 4), "any")]),
    Program("pad-tile-repeat", lambda M: lambda x: M.pad(x, 1)[:3, :4] * M.tile(x, (1, 2))[:, :4]
            + M.repeat(x, 2, axis=1)[:, ::2], [((3, 4), "any")]),
    Program("int-arg", lambda M: lambda x, n: x * n.astype(M.float32) + M.sin(x),
            [((3, 4), "any"), Inp((3, 4), "int32", domain="idx", tag=7)], int_args=(1,)),
    Program("var-std", lambda M: lambda x: M.std(x, axis=0) + M.var(x, ddof=1),
            [((3, 4), "any")]),
    Program("tri", lambda M: lambda x: M.tril(x) @ M.triu(x).T, [((3, 3), "any")]),
    Program("argmax-gather", lambda M: lambda x: M.take_along_axis(
        x, M.stop_gradient(M.expand_dims(M.argmax(x, axis=-1), -1)), axis=-1)
        * M.sum(x, axis=-1, keepdims=True),
        [((3, 4), "any")]),
    Program("trig-chain", lambda M: lambda x: M.cos(M.arcsin(M.tanh(x))) * M.log1p(M.exp(x))
            + M.rsqrt(M.square(x) + 1) + M.expm1(x * 0.1) + M.cosh(x) - M.sinh(x),
            [((3, 4), "any")], elementwise=True),
    Program("reductions-2", lambda M: lambda x: M.sum(x, axis=(0, 2)) * M.mean(x, axis=1)[0]
            + M.max(x, axis=(1, 2)).sum() + M.min(x) * M.sum(x), [((2, 3, 4), "any")]),
    Program("minimum-maximum", lambda M: lambda x, y: M.maximum(x, 0.1) * M.minimum(x, y),
            [((3, 4), "any"), ((3, 4), "any")], elementwise=True),
    Program("matmul-vec", lambda M: lambda x, v: M.inner(x, v) + M.outer(v, v)[0]
            + M.tensordot(x, x, axes=([1], [1]))[0], [((3, 4), "any"), ((4,), "any")]),
    Program("scalar", lambda M: lambda x: M.sin(x) * M.exp(x), [((), "any")], elementwise=True),
]


def _join(M, x, y):
    c = M.concatenate([x, y * 2], axis=0)
    a, b = M.split(c, 2)
    return M.stack([a * b, b], axis=1)


def _two(M, x):
    y = M.sin(x)
    return [y, y * 2 + x]


def _outputs(r):
    return list(r) if isinstance(r, (list, tuple)) else [r]


def _sum_all(M, f):
    def S(*a):
        outs = _outputs(f(*a))
        total = M.sum(outs[0])
        for o in outs[1:]:
            total = total + M.sum(o)
        return total
    return S


def _single(M, f):
    """f with one array output (the sum of all outputs, shapes permitting)."""
    def g(*a):
        outs = _outputs(f(*a))
        return outs[0] if len(outs) == 1 else outs[0] * 0.5 + outs[-1]
    return g


def _cots(M, outs, k=3):
    return [M.array(_det(tuple(o.shape), k + i)) for i, o in enumerate(outs)]


def _tans(M, args, k=1):
    return [M.array(_det(tuple(a.shape), k + i)).astype(a.dtype) for i, a in enumerate(args)]


# Each transform: (name, needs_batch, fn(M, program, args) -> result)
def _t_call(M, p, a):
    return p.build(M)(*a)


def _t_grad(M, p, a):
    return M.grad(_sum_all(M, p.build(M)), argnums=p.diff_args())(*a)


def _t_grad0(M, p, a):
    return M.grad(_sum_all(M, p.build(M)))(*a)


def _t_value_and_grad(M, p, a):
    return M.value_and_grad(_sum_all(M, p.build(M)), argnums=p.diff_args())(*a)


def _t_vjp(M, p, a):
    f = p.build(M)
    outs = _outputs(f(*a))
    fl = lambda *x: _outputs(f(*x))
    return M.vjp(fl, list(a), _cots(M, outs))


def _t_jvp(M, p, a):
    f = p.build(M)
    fl = lambda *x: _outputs(f(*x))
    return M.jvp(fl, list(a), _tans(M, a))


def _t_vmap(M, p, a):
    return M.vmap(p.build(M))(*a)


def _t_vmap_axes(M, p, a):
    # batch the first argument along its last axis, others unbatched; output batch last
    f = p.build(M)
    x = M.moveaxis(a[0], 0, -1)
    rest = [r[0] for r in a[1:]]
    in_axes = (-1,) + (None,) * len(rest)
    return M.vmap(lambda *z: _single(M, f)(*z), in_axes=in_axes, out_axes=-1)(x, *rest)


def _t_vmap_grad(M, p, a):
    return M.vmap(M.grad(_sum_all(M, p.build(M))))(*a)


def _t_grad_vmap(M, p, a):
    f = p.build(M)
    return M.grad(lambda *x: M.sum(M.vmap(_single(M, f))(*x)))(*a)


def _t_grad_grad(M, p, a):
    g = M.grad(_sum_all(M, p.build(M)))
    return M.grad(lambda *x: M.sum(g(*x) * M.cos(x[0])))(*a)


def _t_jvp_grad(M, p, a):
    g = M.grad(_sum_all(M, p.build(M)))
    return M.jvp(lambda *x: g(*x), list(a), _tans(M, a))


def _t_vjp_vmap(M, p, a):
    f = M.vmap(_single(M, p.build(M)))
    out = f(*a)
    return M.vjp(lambda *x: f(*x), list(a), _cots(M, [out]))


def _t_compile(M, p, a):
    f = M.compile(p.build(M))
    r1 = f(*a)
    a2 = [x * 2 if x.dtype == M.float32 else x for x in a]
    return [r1, f(*a2), f(*a)]


def _t_compile_value_and_grad(M, p, a):
    f = M.compile(M.value_and_grad(_sum_all(M, p.build(M)), argnums=p.diff_args()))
    return [f(*a), f(*a)]


def _t_compile_grad(M, p, a):
    return M.compile(M.grad(_sum_all(M, p.build(M)), argnums=p.diff_args()))(*a)


def _t_grad_compile(M, p, a):
    f = M.compile(p.build(M))
    return M.grad(_sum_all(M, f))(*a)


def _t_compile_vmap_grad(M, p, a):
    return M.compile(M.vmap(M.grad(_sum_all(M, p.build(M)))))(*a)


def _t_compile_shapeless(M, p, a, a_bumped):
    f = M.compile(p.build(M), shapeless=True)
    return [f(*a), f(*a_bumped), f(*a)]


def _t_checkpoint(M, p, a):
    f = M.checkpoint(p.build(M))
    return [f(*a), M.grad(_sum_all(M, f), argnums=p.diff_args())(*a)]


def _t_stop_gradient(M, p, a):
    f = p.build(M)
    S = _sum_all(M, f)
    return M.grad(lambda *x: S(*x) * M.stop_gradient(S(*x)) + M.sum(
        M.stop_gradient(x[0]) * x[0]))(*a)


def _t_custom_function(M, p, a):
    f = _single(M, p.build(M))
    cf = M.custom_function(f)

    @cf.vjp
    def _vjp(primals, cotangent, output):
        _, vjps = M.vjp(lambda *x: f(*x), list(primals), [cotangent])
        return tuple(v * 2 for v in vjps)

    @cf.jvp
    def _jvp(primals, tangents):
        _, jv = M.jvp(lambda *x: f(*x), list(primals), list(tangents))
        return jv[0] * 3

    g = M.grad(lambda *x: M.sum(cf(*x)), argnums=p.diff_args())(*a)
    _, t = M.jvp(cf, list(a), _tans(M, a))
    return [cf(*a), g, t]


TRANSFORMS = [
    ("call", False, _t_call),
    ("grad", False, _t_grad),
    ("grad-argnums0", False, _t_grad0),
    ("value_and_grad", False, _t_value_and_grad),
    ("vjp", False, _t_vjp),
    ("jvp", False, _t_jvp),
    ("vmap", True, _t_vmap),
    ("vmap-axes", True, _t_vmap_axes),
    ("vmap-grad", True, _t_vmap_grad),
    ("grad-vmap", True, _t_grad_vmap),
    ("grad-grad", False, _t_grad_grad),
    ("jvp-grad", False, _t_jvp_grad),
    ("vjp-vmap", True, _t_vjp_vmap),
    ("compile", False, _t_compile),
    ("compile-grad", False, _t_compile_grad),
    ("compile-value_and_grad", False, _t_compile_value_and_grad),
    ("grad-compile", False, _t_grad_compile),
    ("compile-vmap-grad", True, _t_compile_vmap_grad),
    ("checkpoint", False, _t_checkpoint),
    ("stop_gradient", False, _t_stop_gradient),
    ("custom_function", False, _t_custom_function),
]
_NAMES = {
    "call": [], "grad": ["grad"], "grad-argnums0": ["grad"],
    "value_and_grad": ["value_and_grad"], "vjp": ["vjp"], "jvp": ["jvp"], "vmap": ["vmap"],
    "vmap-axes": ["vmap"], "vmap-grad": ["vmap", "grad"], "grad-vmap": ["vmap", "grad"],
    "grad-grad": ["grad"], "jvp-grad": ["jvp", "grad"], "vjp-vmap": ["vjp", "vmap"],
    "compile": ["compile"], "compile-grad": ["compile", "grad"],
    "compile-value_and_grad": ["compile", "value_and_grad"],
    "grad-compile": ["compile", "grad"], "compile-vmap-grad": ["compile", "vmap", "grad"],
    "checkpoint": ["checkpoint", "grad"], "stop_gradient": ["stop_gradient", "grad"],
    "custom_function": ["custom_function", "grad", "jvp", "vjp"],
}
# integer arguments get no tangent / cotangent in these generic forms
_SKIP_INT = {"grad-argnums0", "jvp", "vjp", "grad-grad", "jvp-grad", "vjp-vmap", "grad-vmap",
             "custom_function", "vmap-grad", "compile-vmap-grad", "grad-compile"}


def transform_cases():
    out = []
    for p in PROGRAMS:
        for tname, batched, fn in TRANSFORMS:
            if p.int_args and tname in _SKIP_INT:
                continue
            inps = p.inputs(batch=batched)
            out.append(Case(f"transform:{tname}[{p.name}]", _NAMES[tname] + p.uses,
                            lambda M, *a, p=p, fn=fn: fn(M, p, a), inps, tol=50.0))
        if p.elementwise:
            n = len(p.specs)
            inps = p.inputs() + p.inputs(bump=True)
            out.append(Case(f"transform:compile-shapeless[{p.name}]", ["compile"] + p.uses,
                            lambda M, *a, p=p, n=n: _t_compile_shapeless(M, p, a[:n], a[n:]),
                            inps, tol=50.0))
    out += api_cases()
    return out


# --------------------------------------------------------------------------
# the transformation APIs themselves
# --------------------------------------------------------------------------
def api_cases():
    out = []

    def C(label, names, fn, inputs=(), tol=50.0):
        out.append(Case(f"transform-api:{label}", names, fn, inputs, tol=tol))

    x, y = Inp((3,)), Inp((3,), tag=1)
    loss = lambda M: lambda a, b: M.sum(M.sin(a) * b * b)
    C("grad-argnums-tuple1", ["grad"], lambda M, a, b: M.grad(loss(M), argnums=(0,))(a, b),
      [x, y])
    C("value_and_grad-argnums-tuple1", ["value_and_grad"],
      lambda M, a, b: M.value_and_grad(loss(M), argnums=(1,))(a, b), [x, y])
    C("grad-argnums-int", ["grad"], lambda M, a, b: M.grad(loss(M), argnums=1)(a, b), [x, y])
    C("grad-argnums-neg", ["grad"], lambda M, a, b: M.grad(loss(M), argnums=-1)(a, b), [x, y])
    C("grad-argnums-bad", ["grad"], lambda M, a, b: M.grad(loss(M), argnums=2)(a, b), [x, y])
    C("grad-argnums-dup", ["grad"], lambda M, a, b: M.grad(loss(M), argnums=(0, 0))(a, b),
      [x, y])
    C("grad-argnames", ["grad"],
      lambda M, a, b: M.grad(lambda a, b=None: M.sum(a * b), argnums=[], argnames=["b"])(a, b=b),
      [x, y])
    C("value_and_grad-argnames", ["value_and_grad"],
      lambda M, a, b: M.value_and_grad(lambda a, b=None: M.sum(a * b * b), argnames="b")(a, b=b),
      [x, y])
    C("grad-tree", ["grad"],
      lambda M, a, b: M.grad(lambda t: M.sum(t["w"] * t["v"][0]) + M.sum(t["v"][1] ** 2))(
          {"w": a, "v": [b, a * 1]}), [x, y])
    C("grad-tuple-arg", ["grad"],
      lambda M, a, b: M.grad(lambda t, s: M.sum(t[0] * t[1] * s))((a, b), 2.0), [x, y])
    C("grad-nonscalar", ["grad"], lambda M, a: M.grad(lambda z: z * 2)(a), [x])
    C("grad-int-input", ["grad"], lambda M, a: M.grad(lambda z: M.sum(z * 2))(a),
      [Inp((3,), "int32")])
    C("grad-int-output", ["grad"], lambda M, a: M.grad(lambda z: M.sum(z).astype(M.int32))(a),
      [x])
    C("grad-float16", ["grad"], lambda M, a: M.grad(lambda z: M.sum(M.exp(z) * z))(a),
      [Inp((4,), "float16")], tol=2.0)
    C("grad-bfloat16", ["grad"], lambda M, a: M.grad(lambda z: M.sum(M.sin(z) * z))(a),
      [Inp((4,), "bfloat16")], tol=2.0)
    C("grad-float64", ["grad"], lambda M, a: M.grad(lambda z: M.sum(M.tanh(z) * z))(a),
      [Inp((4,), "float64")], tol=1e4)
    C("grad-complex", ["grad"], lambda M, a: M.grad(lambda z: M.sum(M.abs(z * z)))(a),
      [Inp((3,), "complex64")], tol=10.0)
    C("grad-unused-arg", ["grad"], lambda M, a, b: M.grad(lambda p, q: M.sum(p), argnums=1)(a, b),
      [x, y])
    C("grad-python-scalar-out", ["grad"], lambda M, a: M.grad(lambda z: 1.0)(a), [x])
    C("value_and_grad-aux", ["value_and_grad"],
      lambda M, a: M.value_and_grad(lambda z: (M.sum(z * z), {"aux": z + 1}))(a), [x])
    C("value_and_grad-tree", ["value_and_grad"],
      lambda M, a, b: M.value_and_grad(lambda t: M.sum(t[0] * t[1]))([a, b]), [x, y])
    C("vjp-multi", ["vjp"],
      lambda M, a, b: M.vjp(lambda p, q: [p * q, M.sin(p)], [a, b], [a, b]), [x, y])
    C("vjp-cot-shape", ["vjp"],
      lambda M, a: M.vjp(lambda p: p * 2, [a], [M.ones((4,))]), [x])
    C("jvp-multi", ["jvp"],
      lambda M, a, b: M.jvp(lambda p, q: [p * q, M.exp(q)], [a, b], [b, a]), [x, y])
    C("jvp-tan-count", ["jvp"], lambda M, a: M.jvp(lambda p: p * 2, [a], [a, a]), [x])
    C("vmap-in_axes-none", ["vmap"],
      lambda M, a, b: M.vmap(lambda p, q: p * q, in_axes=(0, None))(a, b),
      [Inp((3, 4)), Inp((4,), tag=1)])
    C("vmap-in_axes-1", ["vmap"],
      lambda M, a: M.vmap(lambda p: M.sum(p), in_axes=1)(a), [Inp((3, 4))])
    C("vmap-out_axes", ["vmap"],
      lambda M, a: M.vmap(lambda p: M.stack([p, p * 2]), in_axes=0, out_axes=1)(a),
      [Inp((3, 4))])
    C("vmap-tree", ["vmap"],
      lambda M, a, b: M.vmap(lambda t: t["u"] + M.sum(t["v"]), in_axes=({"u": 0, "v": 1},))(
          {"u": a, "v": b}), [Inp((3,)), Inp((2, 3), tag=1)])
    C("vmap-tree-outputs", ["vmap"],
      lambda M, a: M.vmap(lambda p: {"s": M.sum(p), "l": [p * 2, p[0]]})(a), [Inp((3, 4))])
    C("vmap-in_axes-dict", ["vmap"],
      lambda M, a, b: M.vmap(lambda t: t["u"] + M.sum(t["v"]), in_axes={"u": 0, "v": 1})(
          {"u": a, "v": b}), [Inp((3,)), Inp((2, 3), tag=1)])
    C("vmap-unbatched-rank1", ["vmap"],
      lambda M, a, b: M.vmap(lambda p, q: p + q, in_axes=(0, None))(a, b),
      [Inp((3,)), Inp((1,), tag=1)])
    C("vmap-unbatched-rank1-b", ["vmap"],
      lambda M, a, b: M.vmap(lambda p, q: p * q, in_axes=(0, None))(a, b),
      [Inp((3,)), Inp((2,), tag=1)])
    C("vmap-unbatched-rank2", ["vmap"],
      lambda M, a, b: M.vmap(lambda p, q: p - q, in_axes=(1, None))(a, b),
      [Inp((2, 3)), Inp((4, 2), tag=1)])
    C("vmap-closure-const", ["vmap"],
      lambda M, a: M.vmap(lambda p: M.sum(p) + M.ones((2,)))(a), [Inp((3, 4))])
    C("vmap-size-mismatch", ["vmap"],
      lambda M, a, b: M.vmap(lambda p, q: p + q)(a, b), [Inp((3, 4)), Inp((2, 4), tag=1)])
    C("vmap-bad-axis", ["vmap"], lambda M, a: M.vmap(lambda p: p, in_axes=2)(a), [Inp((3, 4))])
    C("vmap-all-none", ["vmap"],
      lambda M, a: M.vmap(lambda p: p * 2, in_axes=None)(a), [Inp((3, 4))])
    C("vmap-nested", ["vmap"],
      lambda M, a: M.vmap(M.vmap(lambda p: M.sum(p * p)))(a), [Inp((2, 3, 4))])
    C("vmap-nested-axes", ["vmap"],
      lambda M, a: M.vmap(M.vmap(lambda p: M.cumsum(p), in_axes=1), in_axes=0)(a),
      [Inp((2, 3, 4))])
    C("vmap-matmul-both", ["vmap"],
      lambda M, a, b: M.vmap(lambda p, q: p @ q, in_axes=(0, 1))(a, b),
      [Inp((2, 3, 4)), Inp((4, 2, 5), tag=1)])
    C("vmap-index", ["vmap"],
      lambda M, a, i: M.vmap(lambda p, j: p[j] + M.take(p, j))(a, i),
      [Inp((3, 5)), Inp((3,), "int32", domain="idx", tag=2)])
    C("vmap-random", ["vmap", "random.uniform", "random.split"],
      lambda M: M.vmap(lambda k: M.random.uniform(shape=(2,), key=k))(
          M.random.split(M.random.key(0), 3)))
    C("compile-pyscalar", ["compile"],
      lambda M, a: [M.compile(lambda p, s: p * s)(a, 2.0), M.compile(lambda p, s: p * s)(a, 3)],
      [x])
    C("compile-tree", ["compile"],
      lambda M, a, b: M.compile(lambda t: {"o": t["a"] * t["b"][0], "p": [t["a"] - 1]})(
          {"a": a, "b": [b]}), [x, y])
    C("compile-recompile-shapes", ["compile"], lambda M, a, b: _recompile(M, a, b),
      [Inp((3,)), Inp((2, 5), tag=1)])
    C("compile-dtypes", ["compile"], lambda M, a: _recompile(M, a, a.astype(M.float16)),
      [Inp((3,))], tol=2.0)
    C("compile-state", ["compile"], lambda M, a: _compile_state(M, a), [x])
    C("compile-closure-const", ["compile"],
      lambda M, a: M.compile(lambda p: p * M.array([1.0, 2.0, 3.0]) + 1)(a), [x])
    C("compile-intermediate-output", ["compile"],
      lambda M, a: M.compile(lambda p: (M.exp(p), M.exp(p) * 2))(a), [x])
    C("compile-returns-input", ["compile"], lambda M, a: M.compile(lambda p: (p, p + 1))(a), [x])
    C("compile-shapeless-reshape", ["compile"], lambda M, a, b: _shapeless(
        M, lambda p: M.reshape(p, (-1,)) * 2, a, b), [Inp((2, 3)), Inp((3, 3), tag=1)])
    C("compile-shapeless-transpose", ["compile"], lambda M, a, b: _shapeless(
        M, lambda p: M.transpose(p) + 1, a, b), [Inp((2, 3)), Inp((3, 4), tag=1)])
    C("compile-shapeless-broadcast", ["compile"], lambda M, a, b: _shapeless(
        M, lambda p: p + M.array([[1.0], [2.0]]), a, b), [Inp((2, 3)), Inp((2, 5), tag=1)])
    C("compile-shapeless-reduce", ["compile"], lambda M, a, b: _shapeless(
        M, lambda p: M.sum(M.exp(p), axis=-1), a, b), [Inp((2, 3)), Inp((4, 5), tag=1)])
    C("checkpoint-tree", ["checkpoint"],
      lambda M, a: M.grad(lambda t: M.sum(M.checkpoint(lambda u: M.sin(u["a"]) * u["a"])(t)))(
          {"a": a}), [x])
    C("stop_gradient-vjp", ["stop_gradient", "vjp"],
      lambda M, a: M.vjp(lambda p: M.stop_gradient(p) * p, [a], [M.ones_like(a)]), [x])
    C("custom_function-vmap", ["custom_function", "vmap"], lambda M, a, b: _cf_vmap(M, a, b),
      [Inp((3, 2)), Inp((3, 2), tag=1)])
    C("custom_function-default-rules", ["custom_function", "grad", "jvp", "vmap"],
      lambda M, a: _cf_default(M, a), [Inp((3, 2))])
    C("custom_function-tree", ["custom_function", "grad"], lambda M, a: _cf_tree(M, a), [x])
    C("custom_function-kwargs-form", ["custom_function", "grad"],
      lambda M, a: _cf_kwargs(M, a), [x])
    return out


def _recompile(M, a, b):
    f = M.compile(lambda p: M.exp(p) * 2 - p)
    return [f(a), f(b), f(a)]


def _compile_state(M, a):
    state = [M.array([1.0, 2.0, 3.0])]

    def step(p):
        state[0] = state[0] * 2 + p
        return M.sum(state[0])

    f = M.compile(step, inputs=state, outputs=state)
    r = [f(a), f(a)]
    return r + [state[0]]


def _shapeless(M, fn, a, b):
    f = M.compile(fn, shapeless=True)
    return [f(a), f(b)]


def _cf_vmap(M, a, b):
    f = M.custom_function(lambda p, q: p * q)

    @f.vmap
    def _vm(inputs, axes):
        p, q = inputs
        return p * q + 1, axes[0]

    return [M.vmap(f)(a, b), f(a, b)]


def _cf_default(M, a):
    f = M.custom_function(lambda p: M.sin(p) * p)
    return [M.grad(lambda p: M.sum(f(p)))(a), M.jvp(f, [a], [M.ones_like(a)]),
            M.vmap(f)(a)]


def _cf_tree(M, a):
    f = M.custom_function(lambda t: t["x"] * t["y"])

    @f.vjp
    def _v(primals, cot, out):
        t = primals[0]
        return ({"x": cot * 10, "y": cot * t["x"]},)

    return M.grad(lambda p: M.sum(f({"x": p, "y": p * 2})))(a)


def _cf_kwargs(M, a):
    def fwd(p):
        return M.exp(p)

    def vjp_rule(primals, cot, out):
        return (cot * 7,)

    try:
        f = M.custom_function(fwd, fun_vjp=vjp_rule)
    except TypeError:
        # form not offered: report it like the decorator form
        f = M.custom_function(fwd)
        f.vjp(vjp_rule)
    return M.grad(lambda p: M.sum(f(p)))(a)
