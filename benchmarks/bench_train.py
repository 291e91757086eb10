#!/usr/bin/env python
"""Training-step timings: Ember (eager and mx.compile'd) vs PyTorch (CPU eager) and JAX (jit).

Rows: an MLP step (784-512-512-10, batch 128, SGD), a CNN step (two 3x3 convolutions of 32
and 64 channels with max-pooling, then a linear layer; batch 128 of 28x28x1, SGD), a
Transformer language-model step (2 layers, width 256, 4 heads, length 128, batch 16, AdamW)
and one Adam update over 200 small parameter arrays (the per-parameter overhead; PyTorch with
foreach=False). Cells are median ms; peers show (peer / ember), above 1: Ember faster.

    PYTHONPATH=python python benchmarks/bench_train.py [--quick]
"""

import argparse
from functools import partial

import numpy as np

from _table import fmt_peer, print_table, timeit

import ember.core as mx
import ember.nn as nn
import ember.optimizers as optim

ROWS = [
    ("mlp", "MLP 784-512-512-10 step, batch 128, SGD"),
    ("cnn", "CNN conv32-pool-conv64-pool-linear step, batch 128, SGD"),
    ("lm", "Transformer LM step, 2x256, 4 heads, 16x128, AdamW"),
    ("adam200", "Adam update, 200 parameters of 64x64"),
]
R = np.random.default_rng(0)
DATA = {
    "mlp": (R.standard_normal((128, 784)).astype(np.float32), R.integers(0, 10, 128)),
    "cnn": (R.standard_normal((128, 28, 28, 1)).astype(np.float32), R.integers(0, 10, 128)),
    "lm": (R.integers(0, 256, (16, 129)),),
    "adam200": ([R.standard_normal((64, 64)).astype(np.float32) for _ in range(200)],),
}


# ---------------------------------------------------------------- Ember


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(7 * 7 * 64, 10)

    def __call__(self, x):
        x = self.pool(nn.relu(self.c1(x)))
        x = self.pool(nn.relu(self.c2(x)))
        return self.fc(x.reshape(x.shape[0], -1))


class LM(nn.Module):
    def __init__(self, vocab=256, dims=256, heads=4, layers=2, length=128):
        super().__init__()
        self.tok = nn.Embedding(vocab, dims)
        self.pos = nn.Embedding(length, dims)
        self.blocks = [nn.TransformerEncoderLayer(dims, heads, 4 * dims, norm_first=True) for _ in range(layers)]
        self.norm = nn.LayerNorm(dims)
        self.out = nn.Linear(dims, vocab)
        self.mask = nn.MultiHeadAttention.create_additive_causal_mask(length)

    def __call__(self, x):
        h = self.tok(x) + self.pos(mx.arange(x.shape[1]))
        for b in self.blocks:
            h = b(h, self.mask)
        return self.out(self.norm(h))


def ember_steps(compiled):
    out = {}

    def make_step(model, opt, loss_fn, batch):
        lg = nn.value_and_grad(model, loss_fn)
        if compiled:
            state = [model.state, opt.state]

            @partial(mx.compile, inputs=state, outputs=state)
            def step(*b):
                loss, g = lg(*b)
                opt.update(model, g)
                return loss

            return lambda: mx.eval(step(*batch), state)

        def step():
            loss, g = lg(*batch)
            opt.update(model, g)
            mx.eval(loss, model.parameters(), opt.state)

        return step

    x, y = (mx.array(a) for a in DATA["mlp"])
    mlp = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    out["mlp"] = make_step(mlp, optim.SGD(0.01),
                           lambda x, y: nn.losses.cross_entropy(mlp(x), y, reduction="mean"), (x, y))
    x, y = (mx.array(a) for a in DATA["cnn"])
    cnn = CNN()
    out["cnn"] = make_step(cnn, optim.SGD(0.01),
                           lambda x, y: nn.losses.cross_entropy(cnn(x), y, reduction="mean"), (x, y))
    (t,) = (mx.array(a) for a in DATA["lm"])
    lm = LM()
    out["lm"] = make_step(lm, optim.AdamW(1e-3),
                          lambda t: nn.losses.cross_entropy(lm(t[:, :-1]), t[:, 1:], reduction="mean"), (t,))
    params = {f"p{i}": mx.array(p) for i, p in enumerate(DATA["adam200"][0])}
    grads = {k: v * 0.01 for k, v in params.items()}
    opt = optim.Adam(1e-3)
    opt.init(params)
    if compiled:
        state = [opt.state]
        holder = {"p": params}

        @partial(mx.compile, inputs=state, outputs=state)
        def upd(p, g):
            return opt.apply_gradients(g, p)

        def run():
            holder["p"] = upd(holder["p"], grads)
            mx.eval(holder["p"], opt.state)

        out["adam200"] = run
    else:
        def run():
            nonlocal params
            params = opt.apply_gradients(grads, params)
            mx.eval(params, opt.state)

        out["adam200"] = run
    return out


# ---------------------------------------------------------------- PyTorch


def torch_steps():
    try:
        import torch
        import torch.nn as tnn
        import torch.nn.functional as F
    except ImportError:
        return {}
    out = {}

    def make_step(model, opt, loss_fn, batch):
        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(*batch)
            loss.backward()
            opt.step()
        return step

    x, y = (torch.from_numpy(np.asarray(a)) for a in DATA["mlp"])
    mlp = tnn.Sequential(tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 512), tnn.ReLU(), tnn.Linear(512, 10))
    out["mlp"] = make_step(mlp, torch.optim.SGD(mlp.parameters(), 0.01),
                           lambda x, y: F.cross_entropy(mlp(x), y), (x, y))
    x, y = torch.from_numpy(DATA["cnn"][0]).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(DATA["cnn"][1])
    cnn = tnn.Sequential(tnn.Conv2d(1, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                         tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                         tnn.Linear(7 * 7 * 64, 10))
    out["cnn"] = make_step(cnn, torch.optim.SGD(cnn.parameters(), 0.01),
                           lambda x, y: F.cross_entropy(cnn(x), y), (x, y))

    class TLM(tnn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = tnn.Embedding(256, 256), tnn.Embedding(128, 256)
            layer = tnn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True, norm_first=True)
            self.enc = tnn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.norm, self.out = tnn.LayerNorm(256), tnn.Linear(256, 256)
            self.register_buffer("mask", tnn.Transformer.generate_square_subsequent_mask(128))

        def forward(self, t):
            h = self.tok(t) + self.pos(torch.arange(t.shape[1]))
            return self.out(self.norm(self.enc(h, mask=self.mask, is_causal=True)))

    t = torch.from_numpy(DATA["lm"][0])
    lm = TLM()
    out["lm"] = make_step(lm, torch.optim.AdamW(lm.parameters(), 1e-3),
                          lambda t: F.cross_entropy(lm(t[:, :-1]).reshape(-1, 256), t[:, 1:].reshape(-1)), (t,))
    ps = [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in DATA["adam200"][0]]
    for p in ps:
        p.grad = p.detach() * 0.01
    aopt = torch.optim.Adam(ps, 1e-3, foreach=False)
    out["adam200"] = aopt.step
    return out


# ---------------------------------------------------------------- JAX


def jax_steps():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return {}
    out = {}
    key = jax.random.PRNGKey(0)

    def dense(k, i, o):
        return {"w": jax.random.normal(k, (i, o)) * (1 / np.sqrt(i)), "b": jnp.zeros(o)}

    def xent(logits, y):
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    def sgd_step(loss):
        @jax.jit
        def step(p, *b):
            l, g = jax.value_and_grad(loss)(p, *b)
            return l, jax.tree_util.tree_map(lambda a, d: a - 0.01 * d, p, g)
        return step

    ks = jax.random.split(key, 8)
    x, y = (jnp.asarray(a) for a in DATA["mlp"])
    pm = [dense(ks[0], 784, 512), dense(ks[1], 512, 512), dense(ks[2], 512, 10)]

    def mlp_loss(p, x, y):
        h = x
        for i, l in enumerate(p):
            h = h @ l["w"] + l["b"]
            if i < 2:
                h = jax.nn.relu(h)
        return xent(h, y)

    st = {"p": pm}
    f = sgd_step(mlp_loss)

    def run_mlp(x=x, y=y):
        l, st["p"] = f(st["p"], x, y)
        l.block_until_ready()

    out["mlp"] = run_mlp
    x, y = (jnp.asarray(a) for a in DATA["cnn"])
    pc = {"c1": jax.random.normal(ks[3], (3, 3, 1, 32)) * 0.3, "c2": jax.random.normal(ks[4], (3, 3, 32, 64)) * 0.06,
          "fc": dense(ks[5], 7 * 7 * 64, 10)}

    def conv(x, w):
        return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def pool(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def cnn_loss(p, x, y):
        h = pool(jax.nn.relu(conv(x, p["c1"])))
        h = pool(jax.nn.relu(conv(h, p["c2"])))
        h = h.reshape(h.shape[0], -1) @ p["fc"]["w"] + p["fc"]["b"]
        return xent(h, y)

    stc = {"p": pc}
    fc = sgd_step(cnn_loss)

    def run_cnn(x=x, y=y):
        l, stc["p"] = fc(stc["p"], x, y)
        l.block_until_ready()

    out["cnn"] = run_cnn

    def ln(h, p):
        m = h.mean(-1, keepdims=True)
        v = ((h - m) ** 2).mean(-1, keepdims=True)
        return (h - m) / jnp.sqrt(v + 1e-5) * p["g"] + p["b"]

    def lnp(d):
        return {"g": jnp.ones(d), "b": jnp.zeros(d)}

    kl = jax.random.split(ks[6], 20)
    pl = {"tok": jax.random.normal(kl[0], (256, 256)) * 0.02, "pos": jax.random.normal(kl[1], (128, 256)) * 0.02,
          "blocks": [{"ln1": lnp(256), "ln2": lnp(256), "qkv": dense(kl[2 + 4 * i], 256, 768),
                      "o": dense(kl[3 + 4 * i], 256, 256), "f1": dense(kl[4 + 4 * i], 256, 1024),
                      "f2": dense(kl[5 + 4 * i], 1024, 256)} for i in range(2)],
          "ln": lnp(256), "out": dense(kl[12], 256, 256)}
    causal = jnp.tril(jnp.ones((128, 128), bool))

    def lm_loss(p, t):
        x, y = t[:, :-1], t[:, 1:]
        h = p["tok"][x] + p["pos"][jnp.arange(128)]
        for b in p["blocks"]:
            a = ln(h, b["ln1"]) @ b["qkv"]["w"] + b["qkv"]["b"]
            q, k, v = (a[..., i * 256:(i + 1) * 256].reshape(16, 128, 4, 64).transpose(0, 2, 1, 3) for i in range(3))
            s = jnp.where(causal, q @ k.transpose(0, 1, 3, 2) / 8.0, -jnp.inf)
            o = (jax.nn.softmax(s, -1) @ v).transpose(0, 2, 1, 3).reshape(16, 128, 256)
            h = h + o @ b["o"]["w"] + b["o"]["b"]
            f = jax.nn.relu(ln(h, b["ln2"]) @ b["f1"]["w"] + b["f1"]["b"])
            h = h + f @ b["f2"]["w"] + b["f2"]["b"]
        logits = ln(h, p["ln"]) @ p["out"]["w"] + p["out"]["b"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[..., None], axis=-1))

    def adamw(p, g, m, v, t, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.01):
        m = jax.tree_util.tree_map(lambda a, d: b1 * a + (1 - b1) * d, m, g)
        v = jax.tree_util.tree_map(lambda a, d: b2 * a + (1 - b2) * d * d, v, g)
        p = jax.tree_util.tree_map(
            lambda w, a, b: w * (1 - lr * wd) - lr * (a / (1 - b1 ** t)) / (jnp.sqrt(b / (1 - b2 ** t)) + eps), p, m, v)
        return p, m, v

    @jax.jit
    def lm_step(p, m, v, t, tok):
        l, g = jax.value_and_grad(lm_loss)(p, tok)
        p, m, v = adamw(p, g, m, v, t)
        return l, p, m, v

    zeros = lambda p: jax.tree_util.tree_map(jnp.zeros_like, p)  # noqa: E731
    stl = {"p": pl, "m": zeros(pl), "v": zeros(pl), "t": 1}
    tok = jnp.asarray(DATA["lm"][0])

    def run_lm():
        l, stl["p"], stl["m"], stl["v"] = lm_step(stl["p"], stl["m"], stl["v"], float(stl["t"]), tok)
        stl["t"] += 1
        l.block_until_ready()

    out["lm"] = run_lm
    pa = [jnp.asarray(p) for p in DATA["adam200"][0]]
    ga = [p * 0.01 for p in pa]
    sta = {"p": pa, "m": zeros(pa), "v": zeros(pa)}
    upd = jax.jit(lambda p, g, m, v: adamw(p, g, m, v, 1.0, wd=0.0))

    def run_adam():
        sta["p"], sta["m"], sta["v"] = upd(sta["p"], ga, sta["m"], sta["v"])
        jax.block_until_ready(sta["p"])

    out["adam200"] = run_adam
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    warmup, reps = (2, 3) if args.quick else (3, 15)
    fns = {"ember": ember_steps(False), "ember (compiled)": ember_steps(True), "torch": torch_steps(),
           "jax (jit)": jax_steps()}
    times = {name: {k: timeit(f, warmup, reps) for k, f in fs.items()} for name, fs in fns.items()}
    headers = ["case", "ember"] + [n for n in fns if n != "ember"]
    lines = []
    for key, label in ROWS:
        e = times["ember"].get(key)
        lines.append([label, f"{e:.2f}"] + [fmt_peer(times[n].get(key), e, lambda t: f"{t:.2f}")
                                            for n in fns if n != "ember"])
    print_table(headers, lines)


if __name__ == "__main__":
    main()
