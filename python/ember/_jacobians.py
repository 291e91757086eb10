"""Jacobians and Hessians built from vjp, jvp and vmap."""

from ember import core


def _select(fun, args, nums):
    def f(*sel):
        full = list(args)
        for i, v in zip(nums, sel):
            full[i] = v
        out = fun(*full)
        if not isinstance(out, core.array):
            raise ValueError("[jacobian] The function must return a single array.")
        return out

    return f


def _nums(argnums, nargs, who):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"[{who}] argnums {i} is out of range for {nargs} arguments.")
    return tuple(i % nargs for i in nums)


def jacrev(fun, argnums=0):
    """Reverse-mode Jacobian: ``jacrev(f)(x)`` has shape ``f(x).shape + x.shape``."""

    def jac(*args):
        nums = _nums(argnums, len(args), "jacrev")
        f = _select(fun, args, nums)
        primals = [args[i] for i in nums]
        out, vjp_fn = core.vjp(f, primals)
        basis = core.eye(out.size, dtype=out.dtype).reshape((out.size,) + out.shape)
        rows = core.vmap(vjp_fn)(basis)
        jacs = tuple(r.reshape(out.shape + p.shape) for r, p in zip(rows, primals))
        return jacs[0] if isinstance(argnums, int) else jacs

    return jac


def jacfwd(fun, argnums=0):
    """Forward-mode Jacobian: ``jacfwd(f)(x)`` has shape ``f(x).shape + x.shape``."""

    def jac(*args):
        nums = _nums(argnums, len(args), "jacfwd")
        f = _select(fun, args, nums)
        primals = [args[i] for i in nums]
        jacs = []
        for k, p in enumerate(primals):
            basis = core.eye(p.size, dtype=p.dtype).reshape((p.size,) + p.shape)

            def column(t, k=k):
                tangents = [core.zeros_like(q) for q in primals]
                tangents[k] = t
                return core.jvp(f, primals, tangents)[1][0]

            cols = core.vmap(column)(basis)  # (p.size, *out.shape)
            out_shape = cols.shape[1:]
            jacs.append(core.moveaxis(cols, 0, -1).reshape(out_shape + p.shape))
        jacs = tuple(jacs)
        return jacs[0] if isinstance(argnums, int) else jacs

    return jac


def hessian(fun, argnums=0):
    """Hessian of a scalar function: ``jacfwd(jacrev(f))``."""
    return jacfwd(jacrev(fun, argnums), argnums)
