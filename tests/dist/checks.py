"""Checks run on every rank by tests/test_distributed.py through `python -m ember.launch`.

Each rank builds the inputs of every rank (they depend on the rank number only), so it can
compute the expected results with numpy. A passed check prints "OK <name>"; a failure
raises, which stops every process.
"""
import sys

import numpy as np

import ember.core as mx
import ember.nn as nn
from ember.utils import tree_flatten

dist = mx.distributed
world = dist.init(strict=True)
R, N = world.rank(), world.size()
done = []


def ok(name):
    done.append(name)
    print("OK", name, flush=True)


def close(a, b, tol=1e-5):
    a = np.asarray(a, dtype=np.float64) if np.asarray(a).dtype != np.complex64 else np.asarray(a)
    np.testing.assert_allclose(a, np.asarray(b), rtol=tol, atol=tol)


DTYPES = ["bool_", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float16", "bfloat16", "float32", "float64", "complex64"]


def data(rank, dt):
    base = np.arange(2 * N * 3).reshape(2 * N, 3)
    v = (base * (rank + 1) + rank) % 7
    if dt == "bool_":
        return v % 3 == 0
    if dt == "complex64":
        return (v + 1j * ((v + rank) % 5)).astype(np.complex64)
    if dt == "bfloat16":
        return v.astype(np.float32)
    return v.astype(getattr(np, dt))


def as_np(a):
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    return np.array(a)


# ---------- every collective, every dtype
for dt in DTYPES:
    mine = mx.array(data(R, dt), dtype=getattr(mx, dt))
    every = np.stack([data(r, dt) for r in range(N)])
    s = dist.all_sum(mine)
    assert s.dtype == mine.dtype and s.shape == mine.shape
    if dt == "bool_":
        np.testing.assert_array_equal(as_np(s), every.any(0))
        np.testing.assert_array_equal(as_np(dist.all_max(mine)), every.any(0))
        np.testing.assert_array_equal(as_np(dist.all_min(mine)), every.all(0))
    else:
        expect = every.sum(0).astype(every.dtype)  # wraps like the integer dtype
        np.testing.assert_array_equal(as_np(s), expect)
        if dt == "complex64":
            key = every.real * 1000 + every.imag
            pick = lambda f: np.take_along_axis(every, f(key, 0)[None], 0)[0]  # noqa: E731
            np.testing.assert_array_equal(as_np(dist.all_max(mine)), pick(np.argmax))
            np.testing.assert_array_equal(as_np(dist.all_min(mine)), pick(np.argmin))
        else:
            np.testing.assert_array_equal(as_np(dist.all_max(mine)), every.max(0))
            np.testing.assert_array_equal(as_np(dist.all_min(mine)), every.min(0))
    g = dist.all_gather(mine)
    assert g.shape == (2 * N * N, 3) and g.dtype == mine.dtype
    np.testing.assert_array_equal(as_np(g), np.concatenate(list(every)))
    if dt != "bool_":
        sc = dist.sum_scatter(mine)
        assert sc.shape == (2, 3)
        np.testing.assert_array_equal(as_np(sc), every.sum(0).astype(every.dtype)[2 * R:2 * R + 2])
ok("dtypes")

# scalars, empty arrays, non-contiguous inputs, big arrays (several MPI chunks of work)
sc = dist.all_gather(mx.array(float(R)))
close(sc, np.arange(N))
assert dist.all_sum(mx.zeros((0, 3))).shape == (0, 3)
assert dist.all_gather(mx.zeros((0, 3))).shape == (0, 3)
m = mx.arange(12.0).reshape(3, 4) * (R + 1)
close(dist.all_sum(m.T), (np.arange(12.0).reshape(3, 4) * sum(range(1, N + 1))).T)
close(dist.all_sum(m[:, ::2]), (np.arange(12.0).reshape(3, 4) * sum(range(1, N + 1)))[:, ::2])
big = mx.full((1 << 20,), float(R + 1))
close(dist.all_sum(big)[::4096], np.full(256, N * (N + 1) / 2))
ok("layouts")

# ---------- derivatives (local, as in MLX) and the single-process math of a sharded MLP
x = mx.array([1.0, 2.0, 3.0]) * (R + 1)
xs = [np.array([1.0, 2.0, 3.0]) * (r + 1) for r in range(N)]
total = sum(xs)
close(mx.grad(lambda x: (dist.all_sum(x) * x).sum())(x), total + xs[R])
c = mx.arange(3.0 * N)
close(mx.grad(lambda x: (dist.all_gather(x) * c).sum())(x), np.arange(3.0 * N)[3 * R:3 * R + 3])
xx = mx.concatenate([x] * N)
ct = mx.arange(3.0) + 1
gs = np.zeros(3 * N)
gs[3 * R:3 * R + 3] = [1, 2, 3]
close(mx.grad(lambda v: (dist.sum_scatter(v) * ct).sum())(xx), gs)
top = np.max(np.stack(xs), 0)
close(mx.grad(lambda v: dist.all_max(v).sum())(x), (xs[R] == top).astype(float))
out, tan = mx.jvp(dist.all_sum, [x], [mx.ones(3) * (R + 1)])
close(out[0], total)
close(tan[0], np.full(3, N * (N + 1) / 2))
_, tan = mx.jvp(dist.all_gather, [x], [mx.ones(3) * R])
close(tan[0], np.repeat(np.arange(N), 3))

mx.random.seed(0)
B, D, H, O = 4, 6, 4 * N, 5
xin = mx.random.normal((B, D))
W1 = mx.random.normal((H, D))
W2 = mx.random.normal((O, H))
h = H // N


def full_loss(W1, W2):
    return (mx.maximum(xin @ W1.T, 0) @ W2.T).square().sum()


def sharded_loss(W1r, W2r):
    return dist.all_sum(mx.maximum(xin @ W1r.T, 0) @ W2r.T).square().sum()


gf1, gf2 = mx.grad(full_loss, argnums=(0, 1))(W1, W2)
W1r, W2r = W1[R * h:(R + 1) * h], W2[:, R * h:(R + 1) * h]
close(sharded_loss(W1r, W2r), full_loss(W1, W2), 1e-4)
g1, g2 = mx.grad(sharded_loss, argnums=(0, 1))(W1r, W2r)
close(g1, np.array(gf1)[R * h:(R + 1) * h], 1e-4)
close(g2, np.array(gf2)[:, R * h:(R + 1) * h], 1e-4)
ok("grads")

# ---------- vmap and compile
cols = mx.arange(6.0).reshape(2, 3) + 10 * R
vg = mx.vmap(dist.all_gather, in_axes=1)(cols)
loop = np.stack([np.array(dist.all_gather(cols[:, j])) for j in range(3)])
close(vg, loop)
close(mx.vmap(dist.all_sum)(cols), np.array(dist.all_sum(cols)))
close(mx.vmap(mx.vmap(dist.all_sum))(cols), np.array(dist.all_sum(cols)))
cube = mx.arange(24.0).reshape(2, 3, 4) + 100 * R
nested = mx.vmap(mx.vmap(dist.all_gather, in_axes=1), in_axes=2)(cube)
want = np.stack([np.stack([np.array(dist.all_gather(cube[:, j, k])) for j in range(3)])
                 for k in range(4)])
close(nested, want)
_, tmax = mx.jvp(dist.all_max, [x], [mx.ones(3) * (R + 1)])
close(tmax[0], np.full(3, float(np.argmax([v[0] for v in xs]) + 1)))
vs = mx.vmap(dist.sum_scatter, in_axes=1, out_axes=1)(mx.ones((2 * N, 3)) * (R + 1))
close(vs, np.full((2, 3), N * (N + 1) / 2))


def step(w, x):
    loss, g = mx.value_and_grad(lambda w: ((x @ w) ** 2).mean())(w)
    g = dist.all_sum(g) / N
    return dist.all_sum(loss) / N, w - 0.1 * g


w0 = mx.ones((3, 2))
xb = mx.arange(12.0).reshape(4, 3) / (R + 1)
eager = step(w0, xb)
compiled = mx.compile(step)(w0, xb)
close(compiled[0], eager[0])
close(compiled[1], eager[1])


def sum_step(w, x):  # no size-dependent constant, so one shapeless graph serves every batch
    g = mx.grad(lambda w: ((x @ w) ** 2).sum())(w)
    return w - 0.01 * dist.all_sum(g)


shapeless = mx.compile(sum_step, shapeless=True)
close(shapeless(w0, xb), sum_step(w0, xb), 1e-5)
close(shapeless(w0, xb[:2]), sum_step(w0, xb[:2]), 1e-5)
ok("transforms")

# ---------- split groups
sub = world.split(R % 2)
assert sub.size() == len(range(R % 2, N, 2)) and sub.rank() == R // 2
close(dist.all_sum(mx.array(float(R)), group=sub), sum(range(R % 2, N, 2)))
rev = world.split(0, N - R)
assert rev.rank() == N - 1 - R and rev.size() == N
close(dist.all_gather(mx.array([R]), group=rev), np.arange(N)[::-1])
ok("split")

# ---------- send / recv in a ring (evens send first, odds receive first)
nxt, prv = (R + 1) % N, (R - 1) % N
payload = mx.arange(5.0) + 100 * R
for dt in (mx.float32, mx.int64, mx.float16):
    p = payload.astype(dt)
    if R % 2 == 0:
        mx.eval(dist.send(p, nxt))
        got = dist.recv((5,), dt, prv)
    else:
        got = dist.recv_like(p, prv)
        mx.eval(got)
        mx.eval(dist.send(p, nxt))
    assert got.dtype == dt
    close(got, np.arange(5.0) + 100 * prv)
# a message of another size than the one expected is an error, not silent garbage
if N >= 2 and R < 2:
    for sent, expected in [(3, 5), (5, 3)]:
        if R == 0:
            mx.eval(dist.send(mx.arange(sent), 1))
        else:
            try:
                mx.eval(dist.recv((expected,), mx.int32, 0))
            except RuntimeError as e:
                assert "recv" in str(e).lower() or "truncat" in str(e).lower(), e
            else:
                raise AssertionError("no error for a message of the wrong size")
ok("send_recv")

# ---------- errors
for f, kind in [(lambda: dist.sum_scatter(mx.ones((N + 1,)) if N > 1 else None), ValueError),
                (lambda: dist.send(mx.ones(2), R), ValueError),
                (lambda: dist.send(mx.ones(2), N), ValueError),
                (lambda: dist.recv((2,), mx.float32, -1), ValueError),
                (lambda: dist.all_sum([1, 2]), TypeError),
                (lambda: dist.all_sum(mx.ones(2), group=3), TypeError)]:
    try:
        f()
    except kind:
        pass
    else:
        raise AssertionError(f"no {kind.__name__}")
ok("errors")

# ---------- nn: averaged gradients in few collectives
rng = np.random.default_rng(R)
tree = {"a": [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(7,)).astype(np.float32)],
        "b": rng.normal(size=(2, 2)).astype(np.float32),
        "c": np.arange(4, dtype=np.float16) * (R + 1)}
trees = []
for r in range(N):
    g = np.random.default_rng(r)
    trees.append([g.normal(size=(3, 4)), g.normal(size=(7,)), g.normal(size=(2, 2)),
                  np.arange(4) * (r + 1)])
grads = {"a": [mx.array(tree["a"][0]), mx.array(tree["a"][1])], "b": mx.array(tree["b"]),
         "c": mx.array(tree["c"])}
for size in (0, 40, 1 << 25):
    avg = nn.utils.average_gradients(grads, all_reduce_size=size)
    close(avg["a"][0], np.mean([t[0] for t in trees], 0), 1e-5)
    close(avg["a"][1], np.mean([t[1] for t in trees], 0), 1e-5)
    close(avg["b"], np.mean([t[2] for t in trees], 0), 1e-5)
    close(avg["c"], np.mean([t[3] for t in trees], 0), 1e-3)
    assert avg["c"].dtype == mx.float16
ok("average_gradients")

# ---------- nn: tensor-parallel layers against the unsplit layers
mx.random.seed(1)
L1, L2 = nn.Linear(6, 4 * N), nn.Linear(4 * N, 5)
S1 = nn.AllToShardedLinear.from_linear(L1)
S2 = nn.ShardedToAllLinear.from_linear(L2)
xin = mx.random.normal((3, 6))
full = lambda x: L2(nn.relu(L1(x)))  # noqa: E731
split = lambda x: S2(nn.relu(S1(x)))  # noqa: E731
close(split(xin), full(xin), 1e-5)
close(mx.grad(lambda x: split(x).square().sum())(xin), mx.grad(lambda x: full(x).square().sum())(xin), 1e-4)
gfull = nn.value_and_grad(L1, lambda x: full(x).square().sum())(xin)[1]
gsplit = nn.value_and_grad(S1, lambda x: split(x).square().sum())(xin)[1]
h = 4
close(gsplit["weight"], np.array(gfull["weight"])[R * h:(R + 1) * h], 1e-4)
close(gsplit["bias"], np.array(gfull["bias"])[R * h:(R + 1) * h], 1e-4)
assert S1.weight.shape == (4, 6) and S2.weight.shape == (5, 4)
Q = nn.QuantizedLinear.from_linear(nn.Linear(64 * N, 8 * N), group_size=64, bits=4)
xq = mx.random.normal((2, 64 * N))
QA = nn.QuantizedAllToShardedLinear.from_quantized_linear(Q)
QB = nn.QuantizedShardedToAllLinear.from_quantized_linear(Q)
close(QA(xq), np.array(Q(xq))[:, R * 8:(R + 1) * 8], 1e-4)
close(QB(xq[:, R * 64:(R + 1) * 64]), Q(xq), 1e-4)
ok("layers")

# ---------- nn: fully sharded module against data parallelism on the whole model


def mlp():
    mx.random.seed(3)
    return nn.Sequential(nn.Linear(6, 4 * N), nn.ReLU(), nn.Linear(4 * N, 2 * N))


ref, fs = mlp(), nn.fully_shard(mlp())
assert isinstance(fs, nn.FullyShardedModule)
assert fs.module.layers[0].weight.shape == (4, 6) and fs.module.layers[2].bias.shape == (2,)
xs = [mx.random.normal((3, 6), key=mx.random.key(r)) for r in range(N)]
loss = lambda m, x: m(x).square().mean()  # noqa: E731
close(fs(xs[R]), ref(xs[R]), 1e-5)
val, g = nn.value_and_grad(fs, loss)(fs, xs[R])
close(val, loss(ref, xs[R]), 1e-5)
full = [nn.value_and_grad(ref, loss)(ref, x)[1] for x in xs]
for path, got in tree_flatten(g):
    name = path[len("module."):]
    want = np.mean([np.array(dict(tree_flatten(f))[name]) for f in full], 0)
    rows = want.shape[0] // N
    close(got, want[R * rows:(R + 1) * rows], 1e-4)
mean_full = [np.mean([np.array(dict(tree_flatten(f))[k]) for f in full], 0)
             for k, _ in tree_flatten(full[0])]
norm = np.sqrt(sum((m.astype(np.float64) ** 2).sum() for m in mean_full))
clipped, total = nn.utils.clip_grad_norm_sharded(g, max_norm=norm / 2)
close(total, norm, 1e-4)
for (path, a), (_, b) in zip(tree_flatten(clipped), tree_flatten(g)):
    close(a, np.array(b) * 0.5, 1e-4)
ok("fully_shard")

print("DONE", R, len(done), flush=True)
