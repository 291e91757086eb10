"""Whole programs written the way MLX programs are written, run once on the real MLX and once on
Ember from the same initial weights and data; their outputs, losses, gradients, optimizer states
and parameter trees must agree.

Each program is a function ``program(lib, init)``: ``lib`` is "mlx" or "ember", and ``init`` is
the MLX run's result (its initial parameters are loaded into the Ember model), or None. The
regressions these programs found are tested in tests/test_program_regressions.py.
"""

import importlib
import math
import os
import re

import numpy as np
import pytest

import ember.core as emx


def _libs(name):
    mx = importlib.import_module(name + ".core")
    nn = importlib.import_module(name + ".nn")
    optim = importlib.import_module(name + ".optimizers")
    utils = importlib.import_module(name + ".utils")
    return mx, nn, optim, utils


def _arrays(tree, utils):
    """The array leaves of a tree as {dotted path: numpy array}."""
    return {k: np.array(v) for k, v in utils.tree_flatten(tree) if hasattr(v, "shape")}


def _layout(tree, utils):
    """(path, shape, dtype name) of every array leaf."""
    return [(k, tuple(v.shape), str(v.dtype).split(".")[-1])
            for k, v in utils.tree_flatten(tree) if hasattr(v, "shape")]


def _load(model, params, mx, utils):
    model.update(utils.tree_unflatten([(k, mx.array(v)) for k, v in params.items()]))


def _plain(o):
    if isinstance(o, str):
        return re.sub(r"\b(mlx|ember)\.core\.", "", re.sub(r" at 0x[0-9a-f]+", "", o))
    if isinstance(o, (list, tuple)):
        return type(o)(_plain(x) for x in o)
    if isinstance(o, dict):
        return {k: _plain(v) for k, v in o.items()}
    return o


def _assert_same(a, b, where="", atol=1e-4, rtol=1e-4):
    if isinstance(a, dict):
        assert set(a) == set(b), f"{where}: keys differ: {sorted(set(a) ^ set(b))}"
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}", atol, rtol)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: {len(a)} vs {len(b)} entries"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]", atol, rtol)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), f"{where}: {type(b).__name__} is not an array"
        assert a.shape == b.shape and a.dtype == b.dtype, (
            f"{where}: {a.shape} {a.dtype} vs {b.shape} {b.dtype}")
        np.testing.assert_allclose(b.astype(np.float64), a.astype(np.float64), atol=atol,
                                   rtol=rtol, err_msg=where)
    elif isinstance(a, float):
        assert b == pytest.approx(a, abs=atol, rel=rtol), f"{where}: {a} vs {b}"
    else:
        assert _plain(a) == _plain(b), f"{where}: {a!r} vs {b!r}"


def _differential(program, atol=1e-4, rtol=1e-4, **kw):
    pytest.importorskip("mlx.core")
    ref = program("mlx", None, **kw)
    got = program("ember", ref, **kw)
    _assert_same(ref, got, program.__name__, atol, rtol)
    return ref, got


# ---------------------------------------------------------------- a Llama-style decoder


def llama_program(lib, init, dtype="float32"):
    mx, nn, optim, utils = _libs(lib)
    mx.random.seed(0)

    class KVCache:
        step = 16

        def __init__(self):
            self.keys = self.values = None
            self.offset = 0

        def update_and_fetch(self, keys, values):
            prev = self.offset
            if self.keys is None or prev + keys.shape[2] > self.keys.shape[2]:
                B, H, _, D = keys.shape
                n = (self.step + keys.shape[2] - 1) // self.step
                new_k = mx.zeros((B, H, n * self.step, D), keys.dtype)
                new_v = mx.zeros((B, H, n * self.step, D), values.dtype)
                if self.keys is not None:
                    if prev % self.step != 0:
                        self.keys, self.values = self.keys[..., :prev, :], self.values[..., :prev, :]
                    self.keys = mx.concatenate([self.keys, new_k], axis=2)
                    self.values = mx.concatenate([self.values, new_v], axis=2)
                else:
                    self.keys, self.values = new_k, new_v
            self.offset += keys.shape[2]
            self.keys[..., prev:self.offset, :] = keys
            self.values[..., prev:self.offset, :] = values
            return self.keys[..., :self.offset, :], self.values[..., :self.offset, :]

    class Attention(nn.Module):
        def __init__(self, dims, n_heads, n_kv_heads):
            super().__init__()
            self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, dims // n_heads
            self.q_proj = nn.Linear(dims, n_heads * self.head_dim, bias=False)
            self.k_proj = nn.Linear(dims, n_kv_heads * self.head_dim, bias=False)
            self.v_proj = nn.Linear(dims, n_kv_heads * self.head_dim, bias=True)
            self.o_proj = nn.Linear(n_heads * self.head_dim, dims, bias=False)
            self.rope = nn.RoPE(self.head_dim, traditional=False, base=10000)

        def __call__(self, x, mask=None, cache=None):
            B, L, _ = x.shape
            q = self.q_proj(x).reshape(B, L, self.n_heads, -1).transpose(0, 2, 1, 3)
            k = self.k_proj(x).reshape(B, L, self.n_kv_heads, -1).transpose(0, 2, 1, 3)
            v = self.v_proj(x).reshape(B, L, self.n_kv_heads, -1).transpose(0, 2, 1, 3)
            offset = cache.offset if cache is not None else 0
            q, k = self.rope(q, offset=offset), self.rope(k, offset=offset)
            if cache is not None:
                k, v = cache.update_and_fetch(k, v)
            o = mx.fast.scaled_dot_product_attention(q, k, v, scale=self.head_dim**-0.5, mask=mask)
            return self.o_proj(o.transpose(0, 2, 1, 3).reshape(B, L, -1))

    class Block(nn.Module):
        def __init__(self, dims, n_heads, n_kv_heads, hidden):
            super().__init__()
            self.self_attn = Attention(dims, n_heads, n_kv_heads)
            self.gate_proj = nn.Linear(dims, hidden, bias=False)
            self.up_proj = nn.Linear(dims, hidden, bias=False)
            self.down_proj = nn.Linear(hidden, dims, bias=False)
            self.input_layernorm = nn.RMSNorm(dims)
            self.post_attention_layernorm = nn.RMSNorm(dims, eps=1e-6)

        def __call__(self, x, mask=None, cache=None):
            h = x + self.self_attn(self.input_layernorm(x), mask, cache)
            r = self.post_attention_layernorm(h)
            return h + self.down_proj(nn.silu(self.gate_proj(r)) * self.up_proj(r))

    class Llama(nn.Module):
        def __init__(self, vocab=48, dims=32, n_layers=2):
            super().__init__()
            self.embed_tokens = nn.Embedding(vocab, dims)
            self.layers = [Block(dims, 4, 2, 64) for _ in range(n_layers)]
            self.norm = nn.RMSNorm(dims)
            self.lm_head = nn.Linear(dims, vocab, bias=False)

        def __call__(self, x, cache=None, mask="auto"):
            h = self.embed_tokens(x)
            if isinstance(mask, str) and mask == "auto":
                mask = None
                if h.shape[1] > 1:
                    mask = nn.MultiHeadAttention.create_additive_causal_mask(h.shape[1])
                    mask = mask.astype(h.dtype)
            for layer, c in zip(self.layers, cache or [None] * len(self.layers)):
                h = layer(h, mask, c)
            return self.lm_head(self.norm(h))

    model = Llama()
    out = {"p0": _arrays(model.parameters(), utils)}
    if init is not None:
        _load(model, init["p0"], mx, utils)
    model.set_dtype(getattr(mx, dtype))
    out["layout"] = _layout(model.parameters(), utils)
    out["repr"] = repr(model)
    f32 = lambda a: np.array(a.astype(mx.float32))

    prompt = mx.array([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2]])
    cache = [KVCache() for _ in model.layers]
    logits = model(prompt, cache)
    out["prompt_logits"] = f32(logits)
    # Prefill in two chunks with a boolean mask over the cached prefix, then "causal".
    cache2 = [KVCache() for _ in model.layers]
    model(prompt[:, :10], cache2, mask="causal")
    L = prompt.shape[1] - 10
    chunk_mask = mx.tril(mx.ones((L, prompt.shape[1]), dtype=mx.bool_), k=10)
    out["chunked_logits"] = f32(model(prompt[:, 10:], cache2, mask=chunk_mask))
    # Greedy decoding from the cache.
    y = mx.argmax(logits[:, -1], axis=-1)
    tokens = []
    for _ in range(12):
        step_logits = model(y[:, None], cache)
        y = mx.argmax(step_logits[:, -1], axis=-1)
        mx.async_eval(y)
        tokens.append(y.item())
    out["greedy"] = tokens
    out["last_logits"] = f32(step_logits)
    out["cache_shape"] = cache[0].keys.shape
    last = logits[:, -1].astype(mx.float32)
    out["logprobs"] = np.array(last - mx.logsumexp(last, axis=-1, keepdims=True))
    samples = mx.random.categorical(last, num_samples=6)
    out["sample_layout"] = (samples.shape, str(samples.dtype).split(".")[-1])

    if dtype == "float32":
        def loss_fn(m, x, t):
            return nn.losses.cross_entropy(m(x), t, reduction="mean")

        loss_and_grad = nn.value_and_grad(model, loss_fn)
        opt = optim.AdamW(learning_rate=1e-2, weight_decay=0.01)
        losses = []
        for i in range(3):
            loss, grads = loss_and_grad(model, prompt[:, :-1], prompt[:, 1:])
            if i == 0:
                out["grads"] = _arrays(grads, utils)
            opt.update(model, grads)
            mx.eval(model.parameters(), opt.state)
            losses.append(loss.item())
        out["losses"] = losses
        out["opt_state"] = _arrays(opt.state, utils)
        out["params"] = _arrays(model.parameters(), utils)
    return out


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_llama_decoder_half(dtype):
    _differential(llama_program, atol=5e-2, rtol=5e-2, dtype=dtype)


# ---------------------------------------------------------------- LoRA fine-tuning


def lora_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    mx.random.seed(1)

    class LoRALinear(nn.Module):
        @staticmethod
        def from_base(linear, rank=4):
            out_dims, in_dims = linear.weight.shape
            lora = LoRALinear(in_dims, out_dims, rank)
            lora.linear = linear
            return lora

        def __init__(self, in_dims, out_dims, rank=4, scale=2.0):
            super().__init__()
            self.linear = nn.Linear(in_dims, out_dims)
            self.scale = scale
            bound = 1 / math.sqrt(in_dims)
            self.lora_a = mx.random.uniform(low=-bound, high=bound, shape=(in_dims, rank))
            self.lora_b = mx.zeros((rank, out_dims))

        def __call__(self, x):
            return self.linear(x) + self.scale * ((x @ self.lora_a) @ self.lora_b)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 16)
            self.l1 = nn.Linear(16, 32)
            self.l2 = nn.Linear(32, 16)
            self.ln = nn.LayerNorm(16)
            self.head = nn.Linear(16, 20)

        def __call__(self, x):
            h = self.emb(x)
            return self.head(self.ln(h + self.l2(nn.gelu(self.l1(h)))))

    model = Net()
    out = {"base": _arrays(model.parameters(), utils)}
    if init is not None:
        _load(model, init["base"], mx, utils)
    model.freeze()
    model.l1 = LoRALinear.from_base(model.l1)
    model.l2 = LoRALinear.from_base(model.l2)
    out["lora"] = _arrays(model.trainable_parameters(), utils)
    if init is not None:
        _load(model, init["lora"], mx, utils)
    keys = lambda: sorted(k for k, _ in utils.tree_flatten(model.trainable_parameters()))
    out["trainable"] = keys()
    out["all"] = sorted(k for k, _ in utils.tree_flatten(model.parameters()))
    model.unfreeze(keys=["bias"], strict=False)
    out["trainable_with_bias"] = keys()
    model.freeze(keys=["bias"], strict=False)
    model.ln.unfreeze()
    out["trainable_with_ln"] = keys()

    schedule = optim.join_schedules(
        [optim.linear_schedule(0.0, 1e-2, 3), optim.cosine_decay(1e-2, 10, 1e-4)], [3])
    opt = optim.AdamW(learning_rate=schedule, weight_decay=0.05)
    loss_and_grad = nn.value_and_grad(
        model, lambda m, x, y: nn.losses.cross_entropy(m(x), y, reduction="mean",
                                                       label_smoothing=0.1))
    x = mx.array(np.arange(24).reshape(3, 8) % 20)
    y = mx.array((np.arange(24).reshape(3, 8) * 7 + 3) % 20)
    losses, rates = [], []
    for i in range(6):
        loss, grads = loss_and_grad(model, x, y)
        if i == 0:
            out["grads"] = _arrays(grads, utils)
        grads, norm = optim.clip_grad_norm(grads, 1.0)
        opt.update(model, grads)
        mx.eval(model.parameters(), opt.state)
        losses.append(loss.item())
        rates.append(opt.learning_rate.item())
    out["losses"], out["rates"] = losses, rates
    out["schedule"] = [schedule(i).item() for i in range(14)]
    out["opt_state"] = _arrays(opt.state, utils)
    # Resume a second optimizer from the flattened state.
    opt2 = optim.AdamW(learning_rate=schedule, weight_decay=0.05)
    opt2.state = utils.tree_unflatten(utils.tree_flatten(opt.state))
    out["resumed_state"] = _arrays(opt2.state, utils)
    # Fuse the adapters back into plain Linear layers.
    for name in ("l1", "l2"):
        lora = getattr(model, name)
        fused = nn.Linear(*lora.linear.weight.shape[::-1])
        fused.weight = lora.linear.weight + lora.scale * (lora.lora_b.T @ lora.lora_a.T)
        fused.bias = lora.linear.bias
        setattr(model, name, fused)
    out["fused"] = np.array(model(x))
    out["repr"] = repr(model)
    return out


# ---------------------------------------------------------------- a convolutional VAE


def vae_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    mx.random.seed(2)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False)
            self.bn1 = nn.BatchNorm(8)
            self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
            self.gn = nn.GroupNorm(4, 16, pytorch_compatible=True)
            self.mu = nn.Linear(16 * 4 * 4, 6)
            self.logvar = nn.Linear(16 * 4 * 4, 6)

        def __call__(self, x):
            x = nn.leaky_relu(self.bn1(self.c1(x)))
            x = nn.silu(self.gn(self.c2(x))).reshape(x.shape[0], -1)
            return self.mu(x), self.logvar(x)

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 16 * 4 * 4)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.c1 = nn.Conv2d(16, 8, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm(8, momentum=0.2)
            self.ct = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
            self.up2 = nn.Upsample(scale_factor=(1.0, 1.0), mode="linear", align_corners=True)
            self.out = nn.Conv2d(4, 1, 1)

        def __call__(self, z):
            x = self.fc(z).reshape(-1, 4, 4, 16)
            x = nn.relu(self.bn(self.c1(self.up(x))))
            x = self.up2(nn.relu(self.ct(x)))
            return mx.sigmoid(self.out(x))

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.decoder = Encoder(), Decoder()

        def __call__(self, x, eps):
            mu, logvar = self.encoder(x)
            z = mu + mx.exp(0.5 * logvar) * eps
            return self.decoder(z), mu, logvar

    model = VAE()
    out = {"p0": _arrays(model.parameters(), utils)}
    if init is not None:
        _load(model, init["p0"], mx, utils)
    out["layout"] = _layout(model.parameters(), utils)
    rng = np.random.RandomState(0)
    X = mx.array(rng.rand(4, 16, 16, 1).astype(np.float32))
    eps = [mx.array(rng.randn(4, 6).astype(np.float32)) for _ in range(3)]

    def loss_fn(m, x, e):
        recon, mu, logvar = m(x, e)
        rec = nn.losses.binary_cross_entropy(recon, x, with_logits=False, reduction="sum")
        kl = -0.5 * mx.sum(1 + logvar - mu * mu - mx.exp(logvar))
        return (rec + kl) / x.shape[0]

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    opt = optim.Adam(learning_rate=1e-3)
    losses = []
    for i in range(3):
        loss, grads = loss_and_grad(model, X, eps[i])
        if i == 0:
            out["grads"] = _arrays(grads, utils)
        opt.update(model, grads)
        mx.eval(model.state, opt.state)
        losses.append(loss.item())
    out["losses"] = losses
    out["state"] = _arrays(model.state, utils)
    model.eval()
    out["eval"] = [np.array(t) for t in model(X, eps[0])]
    out["repr"] = repr(model)
    return out


# ---------------------------------------------------------------- GCN and a ResNet block


def gcn_resnet_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    mx.random.seed(5)

    class GCNLayer(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.linear = nn.Linear(i, o)

        def __call__(self, x, adj):
            return adj @ self.linear(x)

    class GCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.gcn_layers = [GCNLayer(5, 8), GCNLayer(8, 3)]
            self.dropout = nn.Dropout(p=0.0)

        def __call__(self, x, adj):
            return self.gcn_layers[1](self.dropout(nn.relu(self.gcn_layers[0](x, adj))), adj)

    class ResBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm(c), nn.ReLU(),
                nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm(c))
            self.pool = nn.MaxPool2d(2, 2)
            self.avg = nn.AvgPool2d(kernel_size=2)

        def __call__(self, x):
            return self.avg(self.pool(nn.relu(x + self.body(x))))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.gcn = GCN()
            self.stem = nn.Conv2d(3, 4, 3, padding=1)
            self.block = ResBlock(4)
            self.fc = nn.Linear(4, 3)

    model = Net()
    out = {"p0": _arrays(model.parameters(), utils)}
    if init is not None:
        # The Sequential's ReLU has no parameters: its slot unflattens to an empty dict.
        _load(model, init["p0"], mx, utils)
    rng = np.random.RandomState(1)
    A = (rng.rand(10, 10) < 0.3).astype(np.float32)
    A = np.maximum(A, A.T) + np.eye(10, dtype=np.float32)
    d = A.sum(1)
    A = A / np.sqrt(d[:, None] * d[None, :])
    X, Y = rng.randn(10, 5).astype(np.float32), rng.randint(0, 3, 10)
    train = (np.arange(10) < 6).astype(np.float32)
    img, img_y = rng.randn(2, 8, 8, 3).astype(np.float32), np.array([1, 2])

    def loss_fn(m, x, adj, y, mask, img, img_y):
        node = nn.losses.cross_entropy(m.gcn(x, adj), y, reduction="none")
        h = m.block(m.stem(img))
        h = m.fc(h.mean(axis=(1, 2)))
        return (node * mask).sum() / mask.sum() + nn.losses.cross_entropy(h, img_y, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    opt = optim.Adam(learning_rate=0.01, betas=[0.9, 0.99])
    args = [mx.array(t) for t in (X, A, Y, train, img, img_y)]
    losses = []
    for i in range(3):
        loss, grads = loss_and_grad(model, *args)
        if i == 0:
            out["grads"] = _arrays(grads, utils)
        opt.update(model, grads)
        mx.eval(model.state, opt.state)
        losses.append(loss.item())
    out["losses"] = losses
    out["state"] = _arrays(model.state, utils)
    out["opt_state"] = _arrays(opt.state, utils)
    model.eval()
    out["eval"] = np.array(model.block(model.stem(args[4])))
    out["training"] = [m.training for _, m in model.named_modules()]
    out["repr"] = repr(model)
    return out


# ---------------------------------------------------------------- transformer encoder


def encoder_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    mx.random.seed(4)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(30, 16)
            self.pe = nn.SinusoidalPositionalEncoding(16)
            self.enc = nn.TransformerEncoder(2, 16, 4, mlp_dims=32, dropout=0.0, norm_first=True)
            self.mha = nn.MultiHeadAttention(16, 2, bias=True)
            self.ln = nn.LayerNorm(16)
            self.out = nn.Linear(16, 3)

        def __call__(self, x, mask):
            h = self.emb(x) + self.pe(mx.arange(x.shape[1]))
            h = self.enc(h, mask)
            h = self.mha(h, h, h, mask=mask)
            return self.out(self.ln(h).mean(axis=1))

    model = Classifier()
    out = {"p0": _arrays(model.parameters(), utils)}
    if init is not None:
        _load(model, init["p0"], mx, utils)
    out["layout"] = _layout(model.parameters(), utils)
    out["modules"] = [(n, type(m).__name__) for n, m in model.named_modules()]
    is_module = lambda m: isinstance(m, nn.Module)
    out["leaves"] = [k for k, _ in utils.tree_flatten(model.leaf_modules(), is_leaf=is_module)]
    x = mx.array(np.arange(20).reshape(2, 10) % 30)
    mask = nn.MultiHeadAttention.create_additive_causal_mask(10)
    out["mask"] = np.array(mask)
    out["forward"] = np.array(model(x, mask))
    out["forward_unmasked"] = np.array(model(x, None))
    loss_and_grad = nn.value_and_grad(
        model, lambda m, x, y: nn.losses.cross_entropy(m(x, mask), y, reduction="sum"))
    opt = optim.SGD(learning_rate=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    losses = []
    for i in range(3):
        loss, grads = loss_and_grad(model, x, mx.array([0, 2]))
        if i == 0:
            out["grads"] = _arrays(grads, utils)
        opt.update(model, grads)
        mx.eval(model.parameters(), opt.state)
        losses.append(loss.item())
    out["losses"] = losses
    out["opt_state"] = _arrays(opt.state, utils)
    out["repr"] = repr(model)
    visited = []
    model.apply_to_modules(lambda k, m: visited.append((k, type(m).__name__)))
    out["visited"] = visited
    model.apply(lambda p: p.astype(mx.float16))
    y = model(x, mask.astype(mx.float16))
    out["half"] = (np.array(y.astype(mx.float32)), str(y.dtype).split(".")[-1])
    return out


# ---------------------------------------------------------------- quantization and weight files


def quantize_save_program(lib, init, tmp):
    mx, nn, optim, utils = _libs(lib)
    mx.random.seed(6)
    tmp = os.path.join(tmp, lib)
    os.makedirs(tmp, exist_ok=True)

    class Net(nn.Module):
        def __init__(self, small=True):
            super().__init__()
            self.emb = nn.Embedding(64, 64)
            self.l1 = nn.Linear(64, 128)
            self.l2 = nn.Linear(128, 64, bias=False)
            if small:
                self.small = nn.Linear(8, 8)
            self.head = nn.Linear(64, 64)

        def __call__(self, x):
            h = self.emb(x)
            return self.head(self.l2(nn.gelu_approx(self.l1(h)))), self.emb.as_linear(h)

    model = Net()
    out = {"p0": _arrays(model.parameters(), utils)}
    if init is not None:
        _load(model, init["p0"], mx, utils)
    x = mx.array(np.arange(12).reshape(2, 6))
    out["forward"] = [np.array(t) for t in model(x)]
    model.save_weights(os.path.join(tmp, "w.safetensors"))
    model.save_weights(os.path.join(tmp, "w.npz"))
    st = mx.load(os.path.join(tmp, "w.safetensors"))
    out["st_layout"] = sorted((k, v.shape, str(v.dtype).split(".")[-1]) for k, v in st.items())
    out["npz_keys"] = sorted(mx.load(os.path.join(tmp, "w.npz")).keys())
    other = Net()
    other.load_weights(os.path.join(tmp, "w.safetensors"))
    out["reloaded"] = [np.array(t) for t in other(x)]
    half = {k: v.astype(mx.bfloat16) for k, v in st.items()}
    mx.save_safetensors(os.path.join(tmp, "h.safetensors"), half, metadata={"format": "mlx"})
    loaded, meta = mx.load(os.path.join(tmp, "h.safetensors"), return_metadata=True)
    out["meta"] = meta
    out["bf16"] = {k: np.array(v.astype(mx.float32)) for k, v in loaded.items()}

    pred = lambda p, m: (isinstance(m, (nn.Linear, nn.Embedding))
                         and m.weight.shape[-1] % 32 == 0)
    nn.quantize(model, group_size=32, bits=4, class_predicate=pred)
    out["q_layout"] = _layout(model.parameters(), utils)
    out["q_types"] = [(n, type(m).__name__) for n, m in model.named_modules()]
    out["q_forward"] = [np.array(t) for t in model(x)]
    out["q_repr"] = repr(model)
    model.save_weights(os.path.join(tmp, "q.safetensors"))
    other = Net()
    nn.quantize(other, group_size=32, bits=4, class_predicate=pred)
    other.load_weights(os.path.join(tmp, "q.safetensors"))
    out["q_reloaded"] = [np.array(t) for t in other(x)]

    # The default predicate takes every Linear: the 8-wide one cannot be grouped by 64.
    with pytest.raises(ValueError):
        nn.quantize(Net(), group_size=64, bits=8)
    model8 = Net(small=False)
    _load(model8, {k: v for k, v in out["p0"].items() if not k.startswith("small")}, mx, utils)
    nn.quantize(model8, group_size=64, bits=8)
    out["q8_forward"] = [np.array(t) for t in model8(x)]

    def loss_fn(m, x):
        a, b = m(x)
        return (a * a).mean() + b.mean()

    loss, grads = nn.value_and_grad(model8, loss_fn)(model8, x)
    out["q8_loss"] = loss.item()
    out["q8_grads"] = _arrays(grads, utils)
    out["q8_trainable"] = sorted(k for k, _ in utils.tree_flatten(model8.trainable_parameters()))
    return out


# ---------------------------------------------------------------- a compiled training step


def compiled_step_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    mx.random.seed(7)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(6, 16), nn.Linear(16, 16), nn.Linear(16, 3)]
            self.drop = nn.Dropout(0.25)
            self.bn = nn.BatchNorm(16)

        def __call__(self, x):
            x = self.drop(nn.relu(self.layers[0](x)))
            x = self.bn(nn.tanh(self.layers[1](x)))
            return self.layers[2](x)

    model = MLP()
    out = {"p0": _arrays(model.parameters(), utils)}
    if init is not None:
        _load(model, init["p0"], mx, utils)
    rng = np.random.RandomState(3)
    X = mx.array(rng.randn(32, 6).astype(np.float32))
    Y = mx.array(rng.randint(0, 3, 32))
    opt = optim.Lion(learning_rate=optim.step_decay(1e-3, 0.5, 2), weight_decay=0.1)

    def loss_fn(m, x, y):
        return nn.losses.cross_entropy(m(x), y, reduction="mean")

    state = [model.state, opt.state, mx.random.state]

    from functools import partial

    @partial(mx.compile, inputs=state, outputs=state)
    def step(x, y):
        loss, grads = nn.value_and_grad(model, loss_fn)(model, x, y)
        opt.update(model, grads)
        return loss

    model.drop.eval()  # no random mask, so both runs see the same function
    losses = []
    for _ in range(4):
        losses.append(step(X, Y).item())
        mx.eval(state)
    out["losses"] = losses
    out["params"] = _arrays(model.parameters(), utils)
    out["bn"] = _arrays(model.bn.state, utils)
    out["opt_state"] = _arrays(opt.state, utils)
    model.train()
    losses = [step(X, Y).item() for _ in range(2)]  # dropout drawn from the captured key
    out["dropout_finite"] = all(np.isfinite(losses))

    @partial(mx.compile, shapeless=True)
    def pooled(x, w):
        return mx.softmax(x @ w, axis=-1).sum(axis=0)

    out["shapeless"] = [np.array(pooled(mx.ones((n, 4)) * n, mx.eye(4))) for n in (2, 5)]
    g = mx.grad(mx.compile(lambda w: (mx.tanh(X[:, :4] @ w) ** 2).mean()))(mx.eye(4))
    out["grad_of_compiled"] = np.array(g)
    return out


# ---------------------------------------------------------------- losses with every reduction


def losses_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    rng = np.random.RandomState(0)
    P, T = rng.randn(6, 5).astype(np.float32), rng.randn(6, 5).astype(np.float32)
    labels = rng.randint(0, 5, 6)
    probs = (1 / (1 + np.exp(-P))).astype(np.float32)
    bits = (rng.rand(6, 5) > 0.5).astype(np.float32)
    w = rng.rand(6).astype(np.float32)
    a, L = mx.array, nn.losses
    cases = {
        "ce": lambda r: L.cross_entropy(a(P), a(labels), reduction=r),
        "ce_weights": lambda r: L.cross_entropy(a(P), a(labels), weights=a(w), reduction=r),
        "ce_smooth": lambda r: L.cross_entropy(a(P), a(labels), label_smoothing=0.2, reduction=r),
        "ce_probs": lambda r: L.cross_entropy(a(P), mx.softmax(a(T), axis=-1), reduction=r),
        "ce_axis0": lambda r: L.cross_entropy(a(P.T), a(labels), axis=0, reduction=r),
        "bce": lambda r: L.binary_cross_entropy(a(P), a(bits), reduction=r),
        "bce_probs": lambda r: L.binary_cross_entropy(a(probs), a(bits), with_logits=False,
                                                      reduction=r),
        "bce_weights": lambda r: L.binary_cross_entropy(a(P), a(bits), weights=a(2 * bits + 1),
                                                        reduction=r),
        "l1": lambda r: L.l1_loss(a(P), a(T), reduction=r),
        "mse": lambda r: L.mse_loss(a(P), a(T), reduction=r),
        "nll": lambda r: L.nll_loss(nn.log_softmax(a(P)), a(labels), reduction=r),
        "gaussian_nll_full": lambda r: L.gaussian_nll_loss(a(P), a(T), a(probs), full=True,
                                                           reduction=r),
        "gaussian_nll": lambda r: L.gaussian_nll_loss(a(P), a(T), a(probs), reduction=r),
        "kl": lambda r: L.kl_div_loss(nn.log_softmax(a(P)), nn.log_softmax(a(T)), reduction=r),
        "smooth_l1": lambda r: L.smooth_l1_loss(a(P), a(T), beta=0.5, reduction=r),
        "triplet": lambda r: L.triplet_loss(a(P), a(T), a(probs), margin=0.5, reduction=r),
        "hinge": lambda r: L.hinge_loss(a(P), a(np.sign(T)), reduction=r),
        "huber": lambda r: L.huber_loss(a(P), a(T), delta=0.7, reduction=r),
        "log_cosh": lambda r: L.log_cosh_loss(a(P), a(T), reduction=r),
        "cosine": lambda r: L.cosine_similarity_loss(a(P), a(T), reduction=r),
        "margin_ranking": lambda r: L.margin_ranking_loss(a(P[:, 0]), a(T[:, 0]),
                                                          a(np.sign(T[:, 1])), margin=0.1,
                                                          reduction=r),
    }
    out = {}
    for name, f in cases.items():
        for r in ("none", "mean", "sum"):
            y = f(r)
            out[f"{name}/{r}"] = (np.array(y), str(y.dtype).split(".")[-1])
    return out


# ---------------------------------------------------------------- optimizers, state save/restore


def optimizers_program(lib, init, tmp):
    mx, nn, optim, utils = _libs(lib)
    mx.random.seed(8)
    rng = np.random.RandomState(4)
    X = mx.array(rng.randn(16, 8).astype(np.float32))
    Y = mx.array(rng.randn(16, 4).astype(np.float32))
    make = lambda: nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4))
    base = make()
    out = {"p0": _arrays(base.parameters(), utils)}
    if init is not None:
        _load(base, init["p0"], mx, utils)
    loss_fn = lambda m, x, y: nn.losses.mse_loss(m(x), y)
    makers = {
        "sgd": lambda: optim.SGD(0.1, momentum=0.9, dampening=0.1),
        "rmsprop": lambda: optim.RMSprop(0.01, alpha=0.9),
        "adagrad": lambda: optim.Adagrad(0.1),
        "adadelta": lambda: optim.AdaDelta(1.0, rho=0.9),
        "adam": lambda: optim.Adam(optim.exponential_decay(0.01, 0.9)),
        "adamw": lambda: optim.AdamW(optim.cosine_decay(0.01, 5)),
        "adamax": lambda: optim.Adamax(0.01),
        "lion": lambda: optim.Lion(1e-3),
        "adafactor": lambda: optim.Adafactor(),
        "adafactor_fixed": lambda: optim.Adafactor(learning_rate=0.01, relative_step=False,
                                                   scale_parameter=False, beta_1=0.9),
        "multi": lambda: optim.MultiOptimizer([optim.SGD(0.1), optim.Adam(0.01)],
                                              [lambda name, w: w.ndim > 1]),
    }
    for name, make_opt in makers.items():
        model = make()
        model.update(base.parameters())
        opt = make_opt()
        loss_and_grad = nn.value_and_grad(model, loss_fn)
        losses = []
        for _ in range(3):
            loss, grads = loss_and_grad(model, X, Y)
            opt.update(model, grads)
            mx.eval(model.parameters(), opt.state)
            losses.append(loss.item())
        res = {"losses": losses, "params": _arrays(model.parameters(), utils),
               "state": _arrays(opt.state, utils),
               "state_keys": sorted(k for k, _ in utils.tree_flatten(opt.state))}
        # Save the state to a file, restore it into a fresh optimizer: both continue alike.
        path = os.path.join(tmp, f"{lib}-{name}.safetensors")
        mx.save_safetensors(path, dict(utils.tree_flatten(opt.state)))
        opt2 = make_opt()
        opt2.state = utils.tree_unflatten(list(mx.load(path).items()))
        model2 = make()
        model2.update(model.parameters())
        _, grads = loss_and_grad(model, X, Y)
        opt.update(model, grads)
        _, grads2 = nn.value_and_grad(model2, loss_fn)(model2, X, Y)
        opt2.update(model2, grads2)
        cont, cont2 = _arrays(model.parameters(), utils), _arrays(model2.parameters(), utils)
        for k in cont:
            np.testing.assert_allclose(cont2[k], cont[k], rtol=1e-5, atol=1e-6, err_msg=name)
        res["continued"] = cont
        out[name] = res
    return out


# ---------------------------------------------------------------- recurrent and conv layers


def layers_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    mx.random.seed(9)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(4, 8, nonlinearity=nn.relu)
            self.gru = nn.GRU(8, 6)
            self.lstm = nn.LSTM(6, 5)
            self.c1 = nn.Conv1d(5, 6, 3, padding=2, dilation=2)
            self.c1g = nn.Conv1d(6, 6, 3, stride=2, groups=3)
            self.ct1 = nn.ConvTranspose1d(6, 4, 4, stride=2, padding=1)
            self.c3 = nn.Conv3d(2, 4, (2, 3, 3), padding=(0, 1, 1), stride=(1, 2, 1))
            self.ct3 = nn.ConvTranspose3d(4, 2, 2, stride=2)
            self.p1 = nn.MaxPool1d(2)
            self.p3 = nn.AvgPool3d(2, stride=1, padding=1)
            self.inorm = nn.InstanceNorm(4, affine=True)
            self.c2 = nn.Conv2d(4, 8, 3, groups=2, dilation=(1, 2), padding=(1, 2))
            self.ct2 = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1)

        def __call__(self, seq, vol, img):
            h, c = self.lstm(self.gru(self.rnn(seq)))
            h = self.inorm(self.p1(self.ct1(self.c1g(self.c1(h)))))
            v = self.p3(self.ct3(self.c3(vol)))
            return h, c, v, self.ct2(self.c2(img))

    model = Net()
    out = {"p0": _arrays(model.parameters(), utils)}
    if init is not None:
        _load(model, init["p0"], mx, utils)
    rng = np.random.RandomState(5)
    args = [mx.array(rng.randn(*s).astype(np.float32))
            for s in [(2, 10, 4), (2, 4, 8, 6, 2), (2, 6, 7, 4)]]
    out["forward"] = [np.array(t) for t in model(*args)]
    loss, grads = nn.value_and_grad(model, lambda m, *a: sum((t**2).mean() for t in m(*a)))(
        model, *args)
    out["loss"] = loss.item()
    out["grads"] = _arrays(grads, utils)
    out["gru_hidden"] = np.array(model.gru(mx.ones((2, 3, 8)) * 0.5, hidden=mx.ones((2, 6))))
    out["lstm_state"] = [np.array(t) for t in model.lstm(mx.ones((3, 6)) * 0.3,
                                                          hidden=mx.ones((5,)),
                                                          cell=mx.zeros((5,)))]
    return out


# ---------------------------------------------------------------- Module and tree utilities


def module_api_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    mx.random.seed(12)

    class Sub(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = mx.ones((2, 2))
            self.lst = [mx.zeros(2), {"a": mx.ones(3), "b": nn.Linear(2, 2)}]
            self.d = {"x": nn.Linear(1, 1, bias=False), "y": mx.arange(3)}
            self.i = 5
            self._private = mx.ones(4)
            self.tup = (mx.ones(1), mx.zeros(1))

        def _extra_repr(self):
            return "custom"

    class Top(nn.Module):
        def __init__(self):
            super().__init__()
            self.sub = Sub()
            self.seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(),
                                     nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)))
            self.emb = nn.Embedding(4, 2)

    m = Top()
    lay = lambda t: _layout(t, utils)
    out = {"params": lay(m.parameters()), "trainable": lay(m.trainable_parameters())}
    out["modules"] = [(n, type(x).__name__) for n, x in m.named_modules()]
    is_module = lambda x: isinstance(x, nn.Module)
    out["leaves"] = [k for k, _ in utils.tree_flatten(m.leaf_modules(), is_leaf=is_module)]
    out["children"] = sorted(m.children().keys())
    out["repr"] = repr(m)
    order = []
    m.apply_to_modules(lambda k, x: order.append(k))
    out["apply_order"] = order
    m.freeze(keys=["w", "weight"], strict=False)
    out["frozen_keys"] = lay(m.trainable_parameters())
    m.unfreeze()
    m.sub.freeze()
    out["frozen_sub"] = lay(m.trainable_parameters())
    m.unfreeze(recurse=False)
    out["unfrozen_top_only"] = lay(m.trainable_parameters())
    m.unfreeze()
    m.freeze(recurse=False)
    out["frozen_top_only"] = lay(m.trainable_parameters())
    m.unfreeze()
    m.set_dtype(mx.float16, predicate=lambda dt: dt == mx.float32)
    out["half"] = lay(m.parameters())
    m.set_dtype(mx.float32)
    m.eval()
    m.seq.train()
    out["training"] = [(n, x.training) for n, x in m.named_modules()]
    out["filtered"] = lay(m.filter_and_map(lambda mod, k, v: isinstance(v, mx.array) and v.ndim == 2))
    m.update_modules({"seq": {"layers": [nn.Linear(2, 5), {}, {}]}})
    out["updated_modules"] = lay(m.parameters())
    t1 = {"a": [mx.array(1), mx.array(2)], "b": {"c": mx.array(3)}}
    t2 = {"a": [mx.array(10), mx.array(20)], "b": {"c": mx.array(30)}}
    out["tree_map"] = _arrays(utils.tree_map(lambda x, y: x + y, t1, t2), utils)
    out["with_path"] = utils.tree_map_with_path(lambda p, x: p, t1)
    out["reduce"] = utils.tree_reduce(lambda acc, x: acc + x, t1, 0).item()
    out["merge"] = sorted(utils.tree_merge({"a": mx.array(1)}, {"b": mx.array(2)}).keys())
    out["is_leaf"] = utils.tree_map(lambda x: 0, {"a": (1, 2), "b": [3]},
                                    is_leaf=lambda x: isinstance(x, tuple))
    out["gaps"] = utils.tree_unflatten([("a.0.w", 1), ("a.2.w", 2), ("b.1", 3)])
    return out


# ---------------------------------------------------------------- seeded initialisation


def init_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    layers = {
        "Linear": lambda: nn.Linear(7, 5), "Bilinear": lambda: nn.Bilinear(3, 4, 5),
        "Conv1d": lambda: nn.Conv1d(3, 4, 3), "Conv2d": lambda: nn.Conv2d(4, 6, 3, groups=2),
        "Conv3d": lambda: nn.Conv3d(2, 3, 2), "ConvTranspose2d": lambda: nn.ConvTranspose2d(3, 4, 3),
        "Embedding": lambda: nn.Embedding(10, 4), "GRU": lambda: nn.GRU(3, 4),
        "LSTM": lambda: nn.LSTM(3, 4), "MHA": lambda: nn.MultiHeadAttention(8, 2),
        "Transformer": lambda: nn.Transformer(8, 2, 1, 1, 16), "PReLU": lambda: nn.PReLU(3),
        "QuantizedLinear": lambda: nn.QuantizedLinear(64, 32),
    }
    out = {}
    for name, make in layers.items():
        mx.random.seed(123)  # the same seed draws the same initial weights
        out[name] = _arrays(make().parameters(), utils)
    for name in ("glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "orthogonal"):
        mx.random.seed(7)
        out[name] = np.array(getattr(nn.init, name)()(mx.zeros((4, 6))))
    mx.random.seed(7)
    out["he_fan_out"] = np.array(nn.init.he_normal()(mx.zeros((4, 3, 3, 2)), mode="fan_out"))
    mx.random.seed(5)
    out["dropout"] = np.array(nn.Dropout(0.3)(mx.ones((4, 8))))
    out["dropout2d"] = np.array(nn.Dropout2d(0.5)(mx.ones((2, 3, 3, 4))))
    return out


# ---------------------------------------------------------------- function transformations


def transforms_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    mx.random.seed(41)
    model = nn.Sequential(nn.Linear(5, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 3))
    out = {"p0": _arrays(model.parameters(), utils)}
    if init is not None:
        _load(model, init["p0"], mx, utils)
    rng = np.random.RandomState(0)
    X = mx.array(rng.randn(6, 5).astype(np.float32))
    Y = mx.array(rng.randint(0, 3, 6))

    def loss(params, x, y):
        model.update(params)
        return nn.losses.cross_entropy(model(x[None]), y[None], reduction="mean")

    params = model.parameters()
    per_example = mx.vmap(mx.grad(loss), in_axes=(None, 0, 0))(params, X, Y)  # DP-SGD style
    model.update(params)
    out["per_example"] = _arrays(per_example, utils)
    w0 = mx.array(rng.randn(5, 3).astype(np.float32))
    f = lambda w: mx.sum(mx.tanh(X @ w) ** 2)
    out["hvp"] = np.array(mx.jvp(mx.grad(f), [w0], [mx.ones_like(w0)])[1][0])
    x0 = mx.array([0.1, 0.2, 0.3])
    g = lambda x: mx.sin(x) * x.sum()
    out["jacobian"] = np.array(mx.vmap(lambda c: mx.vjp(g, [x0], [c])[1][0])(mx.eye(3)))
    Ws = mx.array(rng.randn(4, 5, 3).astype(np.float32))
    out["ensemble"] = np.array(mx.vmap(lambda w, x: mx.softmax(x @ w, axis=-1), in_axes=(0, None),
                                       out_axes=1)(Ws, X))
    cvg = mx.compile(mx.vmap(mx.grad(lambda w, x: mx.sum(mx.logsumexp(x @ w, axis=-1))),
                             in_axes=(0, None)))
    out["compiled_vmap_grad"] = np.array(cvg(Ws, X))
    a = mx.arange(24).reshape(6, 4)

    @mx.compile
    def write_row(a, i):
        return mx.slice_update(a, mx.ones((1, 4), mx.int32) * 7, i, axes=(0,))

    out["slice_update"] = [np.array(write_row(a, mx.array([k]))) for k in range(3)]
    out["slice"] = np.array(mx.slice(a, mx.array([2]), axes=(0,), slice_size=(3, 4)))

    @mx.custom_function
    def doubled_exp(x):
        return mx.exp(x)

    @doubled_exp.vjp
    def doubled_exp_vjp(primals, cotangent, output):
        return [cotangent * 2.0]

    out["custom_vjp"] = np.array(mx.grad(lambda x: doubled_exp(x).sum())(mx.ones(3)))
    (v, aux), gr = mx.value_and_grad(lambda w, x, scale=1.0: ((w * x).sum() * scale, w * 2))(
        mx.array([1.0, 2.0]), mx.array([3.0, 4.0]), scale=2.0)
    out["aux"] = [v.item(), np.array(aux), np.array(gr)]
    return out


# ---------------------------------------------------------------- a GP fit and a spectral filter


def gp_spectral_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    rng = np.random.RandomState(0)
    X = mx.array(rng.rand(20, 2).astype(np.float32))
    Y = mx.array(np.sin(rng.rand(20) * 6).astype(np.float32))
    cpu = mx.cpu

    def kernel(ls, var, noise):
        d = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
        return var * mx.exp(-0.5 * d / ls**2) + noise * mx.eye(20)

    def nll(p):
        K = kernel(mx.exp(p["log_ls"]), mx.exp(p["log_var"]), mx.exp(p["log_noise"]))
        L = mx.linalg.cholesky(K, stream=cpu)
        z = mx.linalg.solve_triangular(L, Y[:, None], upper=False, stream=cpu)
        return 0.5 * (z * z).sum() + mx.log(mx.diag(L)).sum()

    out = {"nll": nll({"log_ls": mx.array(0.0), "log_var": mx.array(0.0),
                       "log_noise": mx.array(-2.0)}).item()}
    K = kernel(1.0, 1.0, 0.1)
    out["inv"] = np.array(mx.linalg.inv(K, stream=cpu))
    out["solve"] = np.array(mx.linalg.solve(K, Y[:, None], stream=cpu))
    out["eigvalsh"] = np.array(mx.linalg.eigvalsh(K, stream=cpu))
    u, s, vt = mx.linalg.svd(K[:5, :8], stream=cpu)
    out["svd"] = [np.array(s), np.array((u[:, :5] * s) @ vt[:5])]
    q, r = mx.linalg.qr(K[:8, :5], stream=cpu)
    out["qr"] = np.array(q @ r)
    out["pinv"] = np.array(mx.linalg.pinv(K[:5, :8], stream=cpu))
    out["norms"] = [np.array(mx.linalg.norm(K)), np.array(mx.linalg.norm(K, axis=1)),
                    np.array(mx.linalg.norm(K, ord=1))]
    sig = mx.array(rng.randn(4, 64).astype(np.float32))
    w = mx.array((rng.randn(33) + 1j * rng.randn(33)).astype(np.complex64))
    filt = lambda s: mx.fft.irfft(mx.fft.rfft(s, axis=-1) * w, n=64, axis=-1)
    out["spectral"] = np.array(filt(sig))
    out["spectral_grad"] = np.array(mx.grad(lambda s: (filt(s) ** 2).sum())(sig))
    out["fft2"] = np.array(mx.abs(mx.fft.fft2(sig.reshape(4, 8, 8))))
    return out


def test_gp_hyperparameters_train_through_cholesky():
    # MLX has no derivative for the triangular solve's inverse; Ember's gradient is checked
    # against central differences in float64.
    rng = np.random.RandomState(0)
    X = rng.rand(8, 2)
    Y = np.sin(rng.rand(8) * 6)

    def nll(log_ls, xp):
        d = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
        if xp is not np:
            d = emx.array(d)  # numpy on the left of an operator would take over
        K = xp.exp(-0.5 * d / xp.exp(log_ls) ** 2) + 0.1 * xp.eye(8)
        if xp is np:
            L = np.linalg.cholesky(K)
            z = np.linalg.solve(L, Y[:, None])
            return 0.5 * (z * z).sum() + np.log(np.diag(L)).sum()
        L = emx.linalg.cholesky(K, stream=emx.cpu)
        z = emx.linalg.solve_triangular(L, emx.array(Y[:, None]), upper=False, stream=emx.cpu)
        return 0.5 * (z * z).sum() + emx.log(emx.diag(L)).sum()

    g = emx.grad(lambda t: nll(t, emx))(emx.array(0.3, emx.float64)).item()
    h = 1e-6
    fd = (nll(0.3 + h, np) - nll(0.3 - h, np)) / (2 * h)
    assert g == pytest.approx(fd, rel=1e-6, abs=1e-8)


# ---------------------------------------------------------------- Module as a dict of attributes


def module_dict_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    lay = lambda t: _layout(t, utils)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = []
            self.scale = 2.0
            self.w = mx.ones(2)

        @property
        def double(self):
            return self.w * 2

    m = Net()
    m.layers.append(nn.Linear(2, 2))
    m.layers.append(nn.Linear(2, 3))
    out = {"appended": lay(m.parameters()), "is_dict": isinstance(m, dict),
           "keys": sorted(m.keys()), "double": np.array(m.double)}
    del m.layers[0]
    out["deleted_item"] = lay(m.parameters())
    m.extra = nn.Linear(1, 1)
    out["new_attr"] = lay(m.parameters())
    del m.extra
    m.w = None
    out["none_attr"] = (lay(m.parameters()), m.w)
    m.pair = (mx.zeros(1), nn.Linear(1, 2))
    m.d = {"k": mx.zeros(3), "n": {"z": nn.Linear(2, 1)}}
    out["containers"] = lay(m.parameters())
    out["children"] = sorted(m.children().keys())
    p = m.parameters()
    p["layers"][0]["weight"] = mx.zeros((5, 5))  # a new dict: the model is untouched
    out["untouched"] = tuple(m.layers[0].weight.shape)
    m.freeze()
    out["deepcopy_frozen"] = len(lay(__import__("copy").deepcopy(m).trainable_parameters()))
    m.unfreeze()
    m.update({"layers": [{"weight": mx.zeros((3, 2)), "zzz": mx.ones(1)}]}, strict=False)
    out["update_nonstrict"] = lay(m.parameters())
    m._hidden = mx.ones(1)
    out["hidden"] = ("_hidden" in m.parameters(), sorted(m.keys()))
    try:
        m.missing
    except AttributeError as e:
        out["attribute_error"] = str(e)
    return out


def optimizer_functional_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    params = {"w": mx.array([1.0, -2.0]), "b": [mx.array(0.5), {"c": mx.ones((2, 2))}]}
    grads = utils.tree_map(lambda p: p * 0.1 + 0.05, params)
    makers = {
        "sgd": lambda: optim.SGD(0.1, weight_decay=0.1, momentum=0.5),
        "adam": lambda: optim.Adam(0.1, bias_correction=True),
        "adamw": lambda: optim.AdamW(0.1, weight_decay=0.5),
        "rmsprop": lambda: optim.RMSprop(0.1, eps=1e-3),
        "lion": lambda: optim.Lion(0.1, betas=[0.8, 0.9]),
        "adafactor": lambda: optim.Adafactor(0.1, relative_step=False),
        "muon": lambda: optim.Muon(0.1, momentum=0.9, nesterov=True),
    }
    out = {}
    for name, make in makers.items():
        opt, p, traj = make(), params, []
        for _ in range(3):
            p = opt.apply_gradients(grads, p)
            traj.append(_arrays(p, utils))
        opt.learning_rate = 0.01
        lr = opt.learning_rate
        traj.append(_arrays(opt.apply_gradients(grads, p), utils))
        out[name] = {"trajectory": traj, "state": _arrays(opt.state, utils),
                     "lr": (np.array(lr), str(lr.dtype).split(".")[-1])}
    opt, p = optim.Adam(lambda step: 0.1 / (1 + step)), params
    for _ in range(3):
        p = opt.apply_gradients(grads, p)
    out["callable_lr"] = [_arrays(p, utils), np.array(opt.learning_rate), int(opt.step)]
    out["clip"] = [_arrays(optim.clip_grad_norm(grads, m)[0], utils) for m in (0.01, 100.0)]
    schedules = {
        "cosine": optim.cosine_decay(1.0, 10, 0.1), "exponential": optim.exponential_decay(1.0, 0.5),
        "step": optim.step_decay(1.0, 0.5, 3), "linear": optim.linear_schedule(0.0, 1.0, 5),
        "joined": optim.join_schedules([optim.linear_schedule(0, 1, 3), optim.cosine_decay(1, 5)], [3]),
    }
    for k, sch in schedules.items():
        out["schedule_" + k] = [float(sch(i)) for i in range(14)]
    return out


# ---------------------------------------------------------------- a longer compiled training run


def char_lm_program(lib, init):
    mx, nn, optim, utils = _libs(lib)
    mx.random.seed(3)
    text = "the quick brown fox jumps over the lazy dog. " * 8
    vocab = sorted(set(text))
    data = np.array([vocab.index(c) for c in text], np.int32)

    class LM(nn.Module):
        def __init__(self, V, dims=64, layers=2):
            super().__init__()
            self.emb = nn.Embedding(V, dims)
            self.enc = nn.TransformerEncoder(layers, dims, 4, mlp_dims=128, dropout=0.1,
                                             norm_first=True)
            self.out = nn.Linear(dims, V)

        def __call__(self, x):
            mask = nn.MultiHeadAttention.create_additive_causal_mask(x.shape[1])
            return self.out(self.enc(self.emb(x), mask))

    model = LM(len(vocab))
    out = {"p0": _arrays(model.parameters(), utils)}
    if init is not None:
        _load(model, init["p0"], mx, utils)
    opt = optim.AdamW(optim.join_schedules([optim.linear_schedule(1e-4, 3e-3, 5),
                                            optim.cosine_decay(3e-3, 30)], [5]))
    state = [model.state, opt.state, mx.random.state]

    def loss_fn(m, x, y):
        return nn.losses.cross_entropy(m(x), y, reduction="mean")

    from functools import partial

    @partial(mx.compile, inputs=state, outputs=state)
    def step(x, y):
        loss, grads = nn.value_and_grad(model, loss_fn)(model, x, y)
        grads, _ = optim.clip_grad_norm(grads, 1.0)
        opt.update(model, grads)
        return loss

    rng = np.random.RandomState(0)
    losses = []
    for _ in range(25):
        starts = rng.randint(0, len(data) - 33, 8)
        x = mx.array(np.stack([data[i:i + 32] for i in starts]))
        y = mx.array(np.stack([data[i + 1:i + 33] for i in starts]))
        losses.append(step(x, y).item())
        mx.eval(state)
    out["losses"] = losses
    model.eval()
    prompt = mx.array([[vocab.index(c) for c in "the quick"]])
    for _ in range(20):
        nxt = mx.argmax(model(prompt)[:, -1], axis=-1)
        prompt = mx.concatenate([prompt, nxt[:, None]], axis=1)
    out["generated"] = "".join(vocab[i] for i in prompt[0].tolist())
    return out


def test_char_lm_compiled_training():
    ref, got = _differential(char_lm_program, atol=5e-3, rtol=5e-3)
    assert ref["losses"][-1] < ref["losses"][0] - 1.0


# ---------------------------------------------------------------- the programs, each run on both

# (program, atol, rtol, whether it writes files)
PROGRAMS = {
    "llama_decoder_float32": (llama_program, 1e-4, 1e-4, False),
    "lora_finetune": (lora_program, 1e-4, 1e-4, False),
    "conv_vae": (vae_program, 2e-4, 1e-3, False),
    "gcn_and_resnet_block": (gcn_resnet_program, 2e-4, 1e-3, False),
    "transformer_encoder": (encoder_program, 2e-3, 2e-3, False),
    "quantize_and_weight_files": (quantize_save_program, 2e-4, 1e-3, True),
    "compiled_training_step": (compiled_step_program, 2e-4, 1e-3, False),
    "losses_every_reduction": (losses_program, 1e-5, 1e-5, False),
    "optimizers_and_state_restore": (optimizers_program, 2e-4, 1e-3, True),
    "recurrent_and_conv_layers": (layers_program, 2e-4, 1e-3, False),
    "module_and_tree_utilities": (module_api_program, 1e-4, 1e-4, False),
    "seeded_initialisation_and_dropout": (init_program, 1e-6, 1e-6, False),
    "function_transformations": (transforms_program, 1e-4, 1e-4, False),
    "gp_and_spectral_filter": (gp_spectral_program, 1e-3, 1e-3, False),
    "module_as_dict": (module_dict_program, 1e-4, 1e-4, False),
    "optimizers_functional_api": (optimizer_functional_program, 1e-5, 1e-4, False),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program(name, tmp_path):
    program, atol, rtol, writes = PROGRAMS[name]
    _differential(program, atol=atol, rtol=rtol, **({"tmp": str(tmp_path)} if writes else {}))
