"""More than 2^31 - 1 elements in one collective (run by tests/test_distributed.py, slow)."""
import numpy as np

import ember.core as mx

g = mx.distributed.init(strict=True)
r, n = g.rank(), g.size()
shape = (2, (1 << 30) + 2)          # 2^31 + 4 elements (dimensions are 32-bit)
x = mx.full(shape, r + 1, dtype=mx.uint8)
s = mx.distributed.all_sum(x)
mx.eval(s)
a = np.array(s[1, -5:])
ok = a.tolist() == [n * (n + 1) // 2] * 5 and int(s[0, 0].item()) == n * (n + 1) // 2
del s
if r == 0:
    mx.eval(mx.distributed.send(x, 1))
elif r == 1:
    y = mx.distributed.recv(shape, mx.uint8, 0)
    mx.eval(y)
    ok &= bool(np.all(np.array(y[:, :: 1 << 20]) == 1)) and int(y[1, -1].item()) == 1
    del y
del x
# gathered: 2^32 + 8 elements out; scattered: 2^31 + 4 elements a block
M = (1 << 30) + 2
x = mx.concatenate([mx.full((1, M), r + 1, dtype=mx.uint8), mx.full((1, M), 7 + r, dtype=mx.uint8)])
gathered = mx.distributed.all_gather(x)
mx.eval(gathered)
ok &= gathered.shape == (2 * n, M)
for q in range(n):
    ok &= int(gathered[2 * q, 0].item()) == q + 1 and int(gathered[2 * q + 1, -1].item()) == 7 + q
    ok &= bool(np.all(np.array(gathered[2 * q, :: 1 << 20]) == q + 1))
    ok &= bool(np.all(np.array(gathered[2 * q + 1, :: 1 << 20]) == 7 + q))
del gathered
blocks = mx.full((n, 2, M), r + 1, dtype=mx.uint8)
scattered = mx.distributed.sum_scatter(blocks.reshape(2 * n, -1))
mx.eval(scattered)
ok &= scattered.shape == (2, M)
ok &= bool(np.all(np.array(scattered[:, :: 1 << 20]) == n * (n + 1) // 2))
ok &= int(scattered[1, -1].item()) == n * (n + 1) // 2
print("BIG OK" if ok else "BIG FAILED", flush=True)
