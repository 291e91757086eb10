"""Cases for the wider MLX API: linalg, fft, convolutions, fast, quantization, special
matmuls, file formats and export, printing, distributed, and smaller helpers.

A case only runs once Ember offers every name it exercises; until then it is left out
of the suite, so that these areas are checked from the day they appear.  Results that
are unique only up to sign or order (eigenvectors, singular vectors, unsorted complex
eigenvalues) are compared through reconstructions or sorted values.
"""
import os
import tempfile

import numpy as np

from conformance_cases import Case, Inp, _kw


def _spd(M, a):
    """A symmetric positive definite matrix from a square one."""
    n = a.shape[-1]
    return a @ M.swapaxes(a, -1, -2) + n * M.eye(n, dtype=a.dtype)


def _cpu(M):
    return {"stream": M.cpu}


def linalg_cases():
    out = []

    def C(label, names, fn, inputs, tol=200.0, check="values"):
        out.append(Case(f"linalg:{label}", ["linalg." + n for n in names], fn, inputs, tol=tol,
                        check=check))

    for d in ("float32", "float64"):
        sq = Inp((4, 4), d)
        bsq = Inp((2, 3, 3), d, tag=1)
        vec = Inp((5,), d, tag=2)
        rect = Inp((4, 3), d, tag=3)
        for ordv, ax in [(None, None), (2, None), ("fro", None), (np.inf, None), (1, None),
                         (-1, None), ("nuc", None), (None, 0), (2, (0, 1)), (3, None), (0, None)]:
            x = vec if ordv in (3, 0) else rect
            C(f"norm[{d}-ord={ordv},axis={ax}]", ["norm"],
              lambda M, a, o=ordv, ax=ax: M.linalg.norm(a, ord=o, axis=ax), [x])
        C(f"norm-keepdims[{d}]", ["norm"],
          lambda M, a: M.linalg.norm(a, axis=1, keepdims=True), [rect])
        C(f"norm-vector-T[{d}]", ["norm"], lambda M, a: M.linalg.norm(a), [Inp((3, 5), d, "T")])
        C(f"inv[{d}]", ["inv"], lambda M, a: M.linalg.inv(_spd(M, a), **_cpu(M)), [sq])
        C(f"inv-batch[{d}]", ["inv"], lambda M, a: M.linalg.inv(_spd(M, a), **_cpu(M)), [bsq])
        C(f"inv-nonsquare[{d}]", ["inv"], lambda M, a: M.linalg.inv(a, **_cpu(M)), [rect])
        C(f"pinv[{d}]", ["pinv"], lambda M, a: M.linalg.pinv(a, **_cpu(M)), [rect])
        C(f"cholesky[{d}]", ["cholesky"],
          lambda M, a: [M.linalg.cholesky(_spd(M, a), **_cpu(M)),
                        M.linalg.cholesky(_spd(M, a), upper=True, **_cpu(M))], [sq])
        C(f"cholesky_inv[{d}]", ["cholesky", "cholesky_inv"],
          lambda M, a: M.linalg.cholesky_inv(M.linalg.cholesky(_spd(M, a), **_cpu(M)),
                                             **_cpu(M)), [sq])
        C(f"qr[{d}]", ["qr"], lambda M, a: _qr(M, a), [rect])
        C(f"svd[{d}]", ["svd"], lambda M, a: _svd(M, a), [rect])
        C(f"svd-values[{d}]", ["svd"], lambda M, a: M.linalg.svd(a, compute_uv=False, **_cpu(M)),
          [bsq])
        C(f"eigh[{d}]", ["eigh"], lambda M, a: _eigh(M, a), [sq])
        C(f"eigvalsh[{d}]", ["eigvalsh"],
          lambda M, a: [M.linalg.eigvalsh(_spd(M, a), **_cpu(M)),
                        M.linalg.eigvalsh(_spd(M, a), UPLO="U", **_cpu(M))], [bsq])
        C(f"eig[{d}]", ["eig"], lambda M, a: _eig(M, a), [sq])
        C(f"eigvals[{d}]", ["eigvals"], lambda M, a: _sorted_complex(
            M, M.linalg.eigvals(a, **_cpu(M))), [sq])
        C(f"lu[{d}]", ["lu"], lambda M, a: _lu(M, a), [sq])
        C(f"lu_factor[{d}]", ["lu_factor"], lambda M, a: M.linalg.lu_factor(a, **_cpu(M)), [sq])
        C(f"solve[{d}]", ["solve"],
          lambda M, a, b: M.linalg.solve(_spd(M, a), b, **_cpu(M)), [sq, Inp((4, 2), d, tag=4)])
        C(f"solve-vec[{d}]", ["solve"],
          lambda M, a, b: M.linalg.solve(_spd(M, a), b, **_cpu(M)), [sq, Inp((4,), d, tag=4)])
        C(f"solve-shapes[{d}]", ["solve"],
          lambda M, a, b: M.linalg.solve(a, b, **_cpu(M)), [sq, Inp((3,), d, tag=4)])
        for upper in (False, True):
            C(f"solve_triangular[{d}-upper={upper}]", ["solve_triangular"],
              lambda M, a, b, u=upper: M.linalg.solve_triangular(
                  (M.triu(a) if u else M.tril(a)) + 4 * M.eye(4, dtype=a.dtype), b, upper=u,
                  **_cpu(M)), [sq, Inp((4, 3), d, tag=5)])
            C(f"tri_inv[{d}-upper={upper}]", ["tri_inv"],
              lambda M, a, u=upper: M.linalg.tri_inv(
                  (M.triu(a) if u else M.tril(a)) + 4 * M.eye(4, dtype=a.dtype), upper=u,
                  **_cpu(M)), [sq])
        for ax in (-1, 0):
            C(f"cross[{d}-axis={ax}]", ["cross"],
              lambda M, a, b, ax=ax: M.linalg.cross(a, b, axis=ax),
              [Inp((3, 3), d, tag=6), Inp((3, 3), d, tag=7)])
        C(f"cross-bad[{d}]", ["cross"], lambda M, a, b: M.linalg.cross(a, b),
          [Inp((4,), d), Inp((4,), d, tag=1)])
    C("det-slogdet[float32]", ["det", "slogdet"],
      lambda M, a: [M.linalg.det(a, **_cpu(M)), M.linalg.slogdet(a, **_cpu(M))], [Inp((3, 3))])
    C("inv-int", ["inv"], lambda M, a: M.linalg.inv(a, **_cpu(M)), [Inp((3, 3), "int32")])
    out.append(Case("linalg:matrix_norm", ["matrix_norm"], lambda M, a: M.matrix_norm(a),
                    [Inp((3, 4))], tol=200.0))
    return out


def _qr(M, a):
    q, r = M.linalg.qr(a, **_cpu(M))
    return [q @ r, M.abs(M.diagonal(r)), M.triu(r) - r]


def _svd(M, a):
    u, s, vt = M.linalg.svd(a, **_cpu(M))
    k = s.shape[-1]
    return [s, (u[:, :k] * s) @ vt[:k], u.shape, vt.shape]


def _eigh(M, a):
    b = _spd(M, a)
    w, v = M.linalg.eigh(b, **_cpu(M))
    return [w, (v * w) @ M.swapaxes(v, -1, -2)]


def _sorted_complex(M, w):
    v = np.array(w)
    return M.array(np.sort_complex(v))


def _eig(M, a):
    w, v = M.linalg.eig(a, **_cpu(M))
    # A v = v diag(w): compare the residual and the sorted eigenvalues
    res = a.astype(M.complex64) @ v - v * w
    return [_sorted_complex(M, w), M.max(M.abs(res)) < 1e-3]


def _lu(M, a):
    p, l, u = M.linalg.lu(a, **_cpu(M))
    return [p, l, u]


def fft_cases():
    out = []

    def C(label, names, fn, inputs, tol=50.0):
        out.append(Case(f"fft:{label}", ["fft." + n for n in names], fn, inputs, tol=tol))

    for d in ("float32", "complex64", "float16"):
        x = Inp((4, 6), d)
        x3 = Inp((2, 4, 6), d, "T")
        for name in ("fft", "ifft"):
            for kw in [{}, {"n": 8}, {"n": 3}, {"axis": 0}]:
                C(f"{name}[{x}-{_kw(kw)}]", [name],
                  lambda M, a, f=name, kw=kw: getattr(M.fft, f)(a, **kw), [x])
        for name in ("fft2", "ifft2", "fftn", "ifftn"):
            for kw in [{}, {"s": (3, 8)}, {"axes": (0, 2)}]:
                C(f"{name}[{x3}-{_kw(kw)}]", [name],
                  lambda M, a, f=name, kw=kw: getattr(M.fft, f)(a, **kw), [x3])
        if d != "complex64":
            for name in ("rfft",):
                for kw in [{}, {"n": 9}, {"axis": 0}]:
                    C(f"{name}[{x}-{_kw(kw)}]", [name],
                      lambda M, a, f=name, kw=kw: getattr(M.fft, f)(a, **kw), [x])
            for name in ("rfft2", "rfftn"):
                for kw in [{}, {"s": (4, 10)}, {"axes": (0, 1)}]:
                    C(f"{name}[{x3}-{_kw(kw)}]", [name],
                      lambda M, a, f=name, kw=kw: getattr(M.fft, f)(a, **kw), [x3])
        else:
            for name in ("irfft",):
                for kw in [{}, {"n": 10}]:
                    C(f"{name}[{x}-{_kw(kw)}]", [name],
                      lambda M, a, f=name, kw=kw: getattr(M.fft, f)(a, **kw), [x])
            for name in ("irfft2", "irfftn"):
                for kw in [{}, {"s": (4, 10)}]:
                    C(f"{name}[{x3}-{_kw(kw)}]", [name],
                      lambda M, a, f=name, kw=kw: getattr(M.fft, f)(a, **kw), [x3])
        for name in ("fftshift", "ifftshift"):
            for kw in [{}, {"axes": (1,)}]:
                C(f"{name}[{x}-{_kw(kw)}]", [name],
                  lambda M, a, f=name, kw=kw: getattr(M.fft, f)(a, **kw), [Inp((5, 6), d)])
    for n, dd in [(8, 1.0), (7, 0.5), (1, 1.0)]:
        C(f"fftfreq({n},{dd})", ["fftfreq"], lambda M, n=n, dd=dd: M.fft.fftfreq(n, dd), [])
        C(f"rfftfreq({n},{dd})", ["rfftfreq"], lambda M, n=n, dd=dd: M.fft.rfftfreq(n, dd), [])
    sig = Inp((64,), "float32")
    for kw in [{"n_fft": 16}, {"n_fft": 16, "hop_length": 4, "center": False},
               {"n_fft": 16, "win_length": 8}]:
        C(f"stft[{_kw(kw)}]", ["stft"], lambda M, a, kw=kw: M.fft.stft(a, **kw), [sig])
        C(f"istft[{_kw(kw)}]", ["stft", "istft"],
          lambda M, a, kw=kw: M.fft.istft(M.fft.stft(a, **kw), **kw), [sig])
    C("fft-bad-axis", ["fft"], lambda M, a: M.fft.fft(a, axis=3), [Inp((4, 6))])
    C("irfft2-int", ["rfft2", "irfft2"], lambda M, a: M.fft.irfft2(M.fft.rfft2(a)),
      [Inp((4, 6), "int32")])
    return out


def conv_cases():
    out = []

    def C(label, names, fn, inputs, tol=100.0):
        out.append(Case(f"conv:{label}", names, fn, inputs, tol=tol))

    for d in ("float32", "float16", "bfloat16"):
        x1, w1 = Inp((2, 9, 4), d), Inp((6, 3, 4), d, tag=1)
        for kw in [{}, {"stride": 2}, {"padding": 1}, {"dilation": 2}, {"stride": 2, "padding": 2}]:
            C(f"conv1d[{d}-{_kw(kw)}]", ["conv1d"],
              lambda M, a, w, kw=kw: M.conv1d(a, w, **kw), [x1, w1])
        C(f"conv1d-groups[{d}]", ["conv1d"], lambda M, a, w: M.conv1d(a, w, groups=2),
          [x1, Inp((6, 3, 2), d, tag=1)])
        C(f"conv1d-T[{d}]", ["conv1d"], lambda M, a, w: M.conv1d(M.swapaxes(a, 1, 2), w),
          [Inp((2, 4, 9), d), w1])
        x2, w2 = Inp((2, 7, 8, 3), d), Inp((5, 3, 2, 3), d, tag=1)
        for kw in [{}, {"stride": (2, 1)}, {"padding": (1, 2)}, {"dilation": 2}]:
            C(f"conv2d[{d}-{_kw(kw)}]", ["conv2d"],
              lambda M, a, w, kw=kw: M.conv2d(a, w, **kw), [x2, w2])
        x3, w3 = Inp((1, 5, 6, 4, 2), d), Inp((3, 2, 3, 2, 2), d, tag=1)
        C(f"conv3d[{d}]", ["conv3d"], lambda M, a, w: M.conv3d(a, w, padding=1), [x3, w3])
        C(f"conv_general[{d}]", ["conv_general"],
          lambda M, a, w: M.conv_general(a, w, stride=(1, 2), padding=([1, 0], [0, 1]),
                                         kernel_dilation=(1, 2), input_dilation=(2, 1)),
          [x2, w2])
        C(f"conv_general-flip[{d}]", ["conv_general"],
          lambda M, a, w: M.conv_general(a, w, flip=True), [x2, w2])
        C(f"conv_transpose1d[{d}]", ["conv_transpose1d"],
          lambda M, a, w: M.conv_transpose1d(a, w, stride=2, padding=1, output_padding=1),
          [x1, w1])
        C(f"conv_transpose2d[{d}]", ["conv_transpose2d"],
          lambda M, a, w: M.conv_transpose2d(a, w, stride=(2, 1)), [x2, w2])
        C(f"conv_transpose3d[{d}]", ["conv_transpose3d"],
          lambda M, a, w: M.conv_transpose3d(a, w, stride=2), [x3, w3])
    for mode in ("full", "same", "valid"):
        C(f"convolve[{mode}]", ["convolve"], lambda M, a, v, m=mode: M.convolve(a, v, mode=m),
          [Inp((9,)), Inp((4,), tag=1)])
    C("conv1d-bad-channels", ["conv1d"], lambda M, a, w: M.conv1d(a, w),
      [Inp((2, 9, 4)), Inp((6, 3, 5), tag=1)])
    C("conv2d-int", ["conv2d"], lambda M, a, w: M.conv2d(a, w),
      [Inp((1, 4, 4, 2), "int32"), Inp((1, 2, 2, 2), "int32", tag=1)])
    C("conv1d-grad", ["conv1d", "grad"],
      lambda M, a, w: M.grad(lambda p, q: M.sum(M.conv1d(p, q, padding=1) ** 2),
                             argnums=(0, 1))(a, w), [Inp((2, 9, 4)), Inp((6, 3, 4), tag=1)])
    C("conv2d-vmap", ["conv2d", "vmap"],
      lambda M, a, w: M.vmap(lambda p: M.conv2d(p, w))(a),
      [Inp((3, 1, 6, 6, 2)), Inp((4, 3, 3, 2), tag=1)])
    return out


def fast_cases():
    out = []

    def C(label, names, fn, inputs, tol=100.0):
        out.append(Case(f"fast:{label}", ["fast." + n for n in names], fn, inputs, tol=tol))

    for d in ("float32", "float16", "bfloat16"):
        x, w, b = Inp((3, 5, 16), d), Inp((16,), d, tag=1), Inp((16,), d, tag=2)
        C(f"rms_norm[{d}]", ["rms_norm"], lambda M, a, g: M.fast.rms_norm(a, g, 1e-5), [x, w])
        C(f"rms_norm-noweight[{d}]", ["rms_norm"],
          lambda M, a: M.fast.rms_norm(a, None, 1e-5), [x])
        C(f"layer_norm[{d}]", ["layer_norm"],
          lambda M, a, g, c: M.fast.layer_norm(a, g, c, 1e-5), [x, w, b])
        C(f"layer_norm-none[{d}]", ["layer_norm"],
          lambda M, a: M.fast.layer_norm(a, None, None, 1e-5), [x])
        q = Inp((1, 2, 6, 8), d)
        for kw in [{"traditional": False, "base": 10000.0, "scale": 1.0, "offset": 0},
                   {"traditional": True, "base": 10000.0, "scale": 0.5, "offset": 3}]:
            C(f"rope[{d}-{_kw(kw)}]", ["rope"], lambda M, a, kw=kw: M.fast.rope(a, 8, **kw), [q])
        k, v = Inp((1, 2, 7, 8), d, tag=1), Inp((1, 2, 7, 8), d, tag=2)
        for mask in (None, "causal", "array"):
            C(f"sdpa[{d}-mask={mask}]", ["scaled_dot_product_attention"],
              lambda M, a, kk, vv, m=mask: M.fast.scaled_dot_product_attention(
                  a, kk, vv, scale=0.35,
                  mask=(M.tril(M.ones((6, 7), dtype=M.bool_), 1) if m == "array" else m)),
              [q, k, v])
    C("rms_norm-grad", ["rms_norm"],
      lambda M, a, g: M.grad(lambda p, s: M.sum(M.fast.rms_norm(p, s, 1e-5) * p),
                             argnums=(0, 1))(a, g), [Inp((3, 16)), Inp((16,), tag=1)])
    C("layer_norm-grad", ["layer_norm"],
      lambda M, a, g, c: M.grad(lambda p, s, t: M.sum(M.fast.layer_norm(p, s, t, 1e-5) * p),
                                argnums=(0, 1, 2))(a, g, c),
      [Inp((3, 16)), Inp((16,), tag=1), Inp((16,), tag=2)])
    C("gated_delta_update", ["gated_delta_update"],
      lambda M, q, k, v, g, b: M.fast.gated_delta_update(q, k, v, M.sigmoid(g), M.sigmoid(b)),
      [Inp((1, 5, 2, 4)), Inp((1, 5, 2, 4), tag=1), Inp((1, 5, 2, 3), tag=2),
       Inp((1, 5, 2), tag=3), Inp((1, 5, 2), tag=4)])
    C("cross_entropy", ["cross_entropy"],
      lambda M, lg, t: M.fast.cross_entropy(lg, t), [Inp((4, 7)), Inp((4,), "int32", domain="idx")])
    return out


def quant_cases():
    out = []

    def C(label, names, fn, inputs, tol=100.0, check="values"):
        out.append(Case(f"quant:{label}", names, fn, inputs, tol=tol, check=check))

    w = Inp((32, 128))
    for gs, bits in [(64, 4), (32, 8), (128, 2), (64, 3), (64, 6), (32, 5)]:
        C(f"quantize[gs={gs},bits={bits}]", ["quantize", "dequantize"],
          lambda M, a, g=gs, b=bits: _qdq(M, a, g, b), [w])
        C(f"quantized_matmul[gs={gs},bits={bits}]", ["quantize", "quantized_matmul"],
          lambda M, x, a, g=gs, b=bits: M.quantized_matmul(
              x, *M.quantize(a, group_size=g, bits=b), transpose=True, group_size=g, bits=b),
          [Inp((5, 128), tag=1), w])
    C("quantized_matmul-notrans", ["quantize", "quantized_matmul"],
      lambda M, x, a: M.quantized_matmul(x, *M.quantize(a), transpose=False),
      [Inp((5, 32), tag=1), Inp((32, 64))])
    C("quantize-bad-group", ["quantize"], lambda M, a: M.quantize(a, group_size=48), [w])
    for mode in ("mxfp4", "mxfp8", "nvfp4"):
        C(f"quantize-{mode}", ["quantize", "dequantize"],
          lambda M, a, m=mode: _qdq_mode(M, a, m), [w])
    C("gather_qmm", ["quantize", "gather_qmm"],
      lambda M, x, a: M.gather_qmm(x, *M.quantize(a), rhs_indices=M.array([[1], [0]]),
                                   transpose=True),
      [Inp((2, 1, 3, 64), tag=1), Inp((2, 16, 64))])
    C("qqmm", ["qqmm"], lambda M, x, a: M.qqmm(x, a), [Inp((4, 64), tag=1), Inp((16, 64))])
    C("gather_qqmm", ["gather_qqmm"],
      lambda M, x, a: M.gather_qqmm(x, a, rhs_indices=M.array([0, 1])),
      [Inp((2, 4, 64), tag=1), Inp((2, 16, 64))])
    C("fp8", ["to_fp8", "from_fp8"],
      lambda M, a: [M.to_fp8(a), M.from_fp8(M.to_fp8(a), dtype=M.float32)], [Inp((3, 8))])
    return out


def _qdq(M, a, g, b):
    wq, s, bias = M.quantize(a, group_size=g, bits=b)
    return [wq, s, bias, M.dequantize(wq, s, bias, group_size=g, bits=b)]


def _qdq_mode(M, a, mode):
    r = M.quantize(a, mode=mode)
    wq, s = r[0], r[1]
    return [wq, s, M.dequantize(wq, s, mode=mode)]


def matmul_cases():
    out = []

    def C(label, names, fn, inputs, tol=100.0):
        out.append(Case(f"mm:{label}", names, fn, inputs, tol=tol))

    C("gather_mm", ["gather_mm"],
      lambda M, a, b: M.gather_mm(a, b, lhs_indices=M.array([0, 1, 1]),
                                  rhs_indices=M.array([2, 0, 1])),
      [Inp((2, 3, 4)), Inp((3, 4, 5), tag=1)])
    C("gather_mm-sorted", ["gather_mm"],
      lambda M, a, b: M.gather_mm(a, b, rhs_indices=M.array([0, 0, 1, 2]), sorted_indices=True),
      [Inp((4, 1, 4)), Inp((3, 4, 5), tag=1)])
    C("block_masked_mm", ["block_masked_mm"],
      lambda M, a, b: M.block_masked_mm(a, b, block_size=32,
                                        mask_out=M.array([[True, False], [False, True]])),
      [Inp((64, 64)), Inp((64, 64), tag=1)])
    C("segmented_mm", ["segmented_mm"],
      lambda M, a, b: M.segmented_mm(a, b, M.array([[0, 3], [3, 8]], dtype=M.uint32)),
      [Inp((4, 8)), Inp((8, 5), tag=1)])
    for n in (4, 16, 12):
        C(f"hadamard_transform({n})", ["hadamard_transform"],
          lambda M, a: M.hadamard_transform(a), [Inp((3, n))])
    C("hadamard_transform-scale", ["hadamard_transform"],
      lambda M, a: M.hadamard_transform(a, scale=0.5), [Inp((2, 8))])
    for d in ("float32", "int32", "bfloat16"):
        C(f"einsum[{d}]", ["einsum"],
          lambda M, a, b: [M.einsum("bij,bjk->bik", a, b), M.einsum("bij->j", a),
                           M.einsum("ii", a[0, :2, :2]), M.einsum("bij,bkj->bik", a, a)],
          [Inp((2, 3, 4), d), Inp((2, 4, 2), d, tag=1)])
    C("einsum_path", ["einsum_path"],
      lambda M, a, b, c: M.einsum_path("ij,jk,kl->il", a, b, c)[0],
      [Inp((2, 3)), Inp((3, 4), tag=1), Inp((4, 5), tag=2)])
    C("einsum-bad", ["einsum"], lambda M, a: M.einsum("ij,jk->ik", a, a), [Inp((2, 3))])
    return out


def misc_api_cases():
    out = []

    def C(label, names, fn, inputs=(), tol=4.0, check="values"):
        out.append(Case(f"api:{label}", names, fn, inputs, tol=tol, check=check))

    for d in ("float32", "int32", "uint8", "float16"):
        for kw in [{}, {"axis": 0}, {"axis": (0, 1), "keepdims": True}]:
            C(f"minmax[{d}-{_kw(kw)}]", ["minmax"], lambda M, a, kw=kw: M.minmax(a, **kw),
              [Inp((3, 4), d)])
        C(f"cumulative_sum[{d}]", ["cumulative_sum"],
          lambda M, a: M.cumulative_sum(a, axis=1), [Inp((3, 4), d)])
        C(f"cumulative_prod[{d}]", ["cumulative_prod"],
          lambda M, a: M.cumulative_prod(a, axis=0), [Inp((3, 4), d, domain="nz")])
        C(f"cumsum-dtype[{d}]", ["cumsum"],
          lambda M, a: M.cumsum(a, axis=1, dtype=M.float32), [Inp((3, 4), d)])
    C("depends", ["depends"], lambda M, a, b: M.depends([a * 2], [b + 1]), [Inp((3,)), Inp((2,))])
    for v in ([1, 2], 3.5, [[1.0], [2.0]]):
        C(f"asarray({v!r})", ["asarray"], lambda M, v=v: M.asarray(v))
    C("asarray-array", ["asarray"], lambda M, a: M.asarray(a, dtype=M.float16), [Inp((2, 3))])
    for kind in ("bool", "signed integer", "unsigned integer", "integral", "real floating",
                 "complex floating", "numeric"):
        C(f"isdtype({kind})", ["isdtype"],
          lambda M, k=kind: [M.isdtype(getattr(M, d), k) for d in
                             ("bool_", "int8", "uint32", "float16", "bfloat16", "complex64")])
    C("isdtype-category", ["isdtype", "DtypeCategory"],
      lambda M: [M.isdtype(M.float32, M.floating), isinstance(M.floating, M.DtypeCategory)])
    C("from_dlpack", ["from_dlpack"], lambda M: M.from_dlpack(np.arange(6.0).reshape(2, 3)))
    C("get_array_buffer_size", ["get_array_buffer_size"],
      lambda M, a: M.get_array_buffer_size(a) >= 24, [Inp((2, 3))])
    C("ArrayAt", ["ArrayAt"], lambda M, a: isinstance(a.at, M.ArrayAt), [Inp((3,))])
    C("ArrayIterator", ["ArrayIterator"], lambda M, a: isinstance(iter(a), M.ArrayIterator),
      [Inp((3,))])
    # printing
    for d in ("float32", "int32", "bool_", "float16", "complex64", "bfloat16", "uint64"):
        for shp in [(), (3,), (2, 3), (0, 2), (2, 2, 2)]:
            C(f"repr[{d}-{shp}]", ["array"], lambda M, a: repr(a), [Inp(shp, d)])
    C("repr-big", ["array"], lambda M, a: [repr(a), str(a)], [Inp((40, 1200))])
    C("repr-special", ["array"], lambda M, a: repr(a), [Inp((4, 5), "float32", "c", "special")])
    C("printoptions", ["printoptions", "get_printoptions", "set_printoptions", "PrintOptions"],
      lambda M, a: _printopts(M, a), [Inp((2, 3))])
    # devices and streams
    C("device_count", ["device_count"], lambda M: M.device_count(M.cpu))
    C("device_info", ["device_info"], lambda M: type(M.device_info(M.cpu)).__name__)
    C("thread_streams", ["new_thread_local_stream", "new_thread_unsafe_stream",
                         "ThreadLocalStream"],
      lambda M, a: [M.exp(a, stream=M.new_thread_local_stream(M.cpu)),
                    M.exp(a, stream=M.new_thread_unsafe_stream(M.cpu)),
                    isinstance(M.new_thread_local_stream(M.cpu), M.ThreadLocalStream)],
      [Inp((3,))])
    return out


def _printopts(M, a):
    with M.printoptions(precision=2):
        inner = repr(a)
    M.set_printoptions(precision=3)
    mid = repr(a)
    opts = M.get_printoptions()
    M.set_printoptions(precision=-1)
    return [inner, mid, repr(a), isinstance(opts, M.PrintOptions)]


def io_cases():
    out = []

    def C(label, names, fn, inputs=(), check="values"):
        out.append(Case(f"io:{label}", names, fn, inputs, check=check))

    for d in ("float32", "int8", "bool_", "float16", "bfloat16", "uint64", "complex64"):
        x = Inp((2, 3), d)
        C(f"save-load[{d}]", ["save", "load"], lambda M, a: _roundtrip(M, a, "npy"), [x])
        C(f"savez-load[{d}]", ["savez", "load"], lambda M, a: _roundtrip(M, a, "npz"), [x])
        C(f"savez_compressed-load[{d}]", ["savez_compressed", "load"],
          lambda M, a: _roundtrip(M, a, "npzc"), [x])
        C(f"safetensors[{d}]", ["save_safetensors", "load"],
          lambda M, a: _roundtrip(M, a, "safetensors"), [x])
        C(f"gguf[{d}]", ["save_gguf", "load"], lambda M, a: _roundtrip(M, a, "gguf"), [x])
    C("save-T-numpy", ["save"], lambda M, a: _save_numpy(M, a), [Inp((3, 4), "float32", "T")])
    C("load-missing", ["load"], lambda M: M.load("/nonexistent/file.npy"))
    C("safetensors-metadata", ["save_safetensors", "load"], lambda M, a: _st_meta(M, a),
      [Inp((2, 2))])
    C("export-import", ["export_function", "import_function"], lambda M, a, b: _export(M, a, b),
      [Inp((3,)), Inp((3,), tag=1)])
    C("exporter", ["exporter", "import_function", "FunctionExporter"],
      lambda M, a: _exporter(M, a), [Inp((2, 3))])
    C("export_to_dot", ["export_to_dot"], lambda M, a: _dot(M, a), [Inp((3,))])
    return out


def _tmp(suffix):
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.close(fd)
    return path


def _roundtrip(M, a, kind):
    if kind == "npy":
        p = _tmp(".npy")
        M.save(p, a)
        r = M.load(p)
    elif kind in ("npz", "npzc"):
        p = _tmp(".npz")
        (M.savez if kind == "npz" else M.savez_compressed)(p, a, w=a * 2)
        r = M.load(p)
    elif kind == "safetensors":
        p = _tmp(".safetensors")
        M.save_safetensors(p, {"w": a, "v": a[:1]})
        r = M.load(p)
    else:
        p = _tmp(".gguf")
        M.save_gguf(p, {"w": a})
        r = M.load(p)
    os.unlink(p)
    return r


def _save_numpy(M, a):
    p = _tmp(".npy")
    M.save(p, a)
    r = np.load(p)
    os.unlink(p)
    return M.array(r)


def _st_meta(M, a):
    p = _tmp(".safetensors")
    M.save_safetensors(p, {"w": a}, metadata={"k": "v"})
    r = M.load(p, return_metadata=True)
    os.unlink(p)
    return r


def _export(M, a, b):
    p = _tmp(".mlxfn")
    M.export_function(p, lambda x, y: M.sin(x) * y + 1, a, b)
    f = M.import_function(p)
    os.unlink(p)
    return f(a, b)


def _exporter(M, a):
    p = _tmp(".mlxfn")
    with M.exporter(p, lambda x: M.exp(x) * 2, shapeless=True) as ex:
        ex(a)
        ok = isinstance(ex, M.FunctionExporter)
    f = M.import_function(p)
    os.unlink(p)
    return [f(a), f(a[:1]), ok]


def _dot(M, a):
    p = _tmp(".dot")
    M.export_to_dot(p, M.exp(a) + 1)
    text = open(p).read()
    os.unlink(p)
    return text.lstrip().startswith("digraph")


def distributed_cases():
    out = []

    def C(label, names, fn, inputs=()):
        out.append(Case(f"distributed:{label}", ["distributed." + n for n in names], fn, inputs))

    C("singleton", ["init", "is_available", "Group"],
      lambda M: [M.distributed.is_available(), M.distributed.init().rank(),
                 M.distributed.init().size(),
                 isinstance(M.distributed.init(), M.distributed.Group)])
    for name in ("all_sum", "all_max", "all_min", "all_gather", "sum_scatter"):
        C(f"{name}-singleton", [name, "init"],
          lambda M, a, n=name: getattr(M.distributed, n)(a), [Inp((2, 4))])
    C("send-recv-singleton", ["send", "recv", "recv_like"],
      lambda M, a: M.distributed.send(a, 0), [Inp((2,))])
    return out


def _donation(M, x):
    """Values must survive whatever buffer reuse the engine does behind the scenes."""
    out = []
    y = M.exp(x)
    M.eval(y)
    out.append(x * 2)                       # x still intact after exp(x) was evaluated
    t = M.sin(x)
    u, v = t + 1, t * 2
    M.eval(u)
    out += [u, v]                           # t read by v after u was evaluated
    w = x[::2]
    z = M.negative(x)
    M.eval(z)
    out += [w, z]                           # view of x after x was consumed
    a = x + 0
    b = a[1:3]
    a[1] = 5
    out += [a, b]                           # b is a view of the old a
    c = M.exp(x.T)
    M.eval(c)
    out += [c, x.T + 1]
    d = M.abs(x)
    M.async_eval(d)
    e = d * d
    out += [d, e]
    f = x
    for _ in range(200):
        f = f * 1.001 + 0.001
    out.append(f)
    return out


def _long_chain(M, x):
    y = x
    for i in range(3000):
        y = y + (i % 3)
    return y


def evaluation_cases():
    out = []
    for d in ("float32", "int32", "float16"):
        for shape, lay in (((8, 6), "c"), ((300, 301), "c"), ((8, 6), "T")):
            x = Inp(shape, d, lay, "pos")
            out.append(Case(f"eval:donation[{x}]", ["eval", "async_eval"], _donation, [x],
                            tol=20.0))
    out.append(Case("eval:long-chain", ["eval"], _long_chain, [Inp((4,), "int32")]))
    out.append(Case("eval:shared-subgraph", ["eval"],
                    lambda M, x: (lambda t: [M.sum(t), t[0], M.exp(t) - t])(M.sin(x) * 2),
                    [Inp((5, 7))], tol=4.0))
    return out


def api_cases():
    return (linalg_cases() + fft_cases() + conv_cases() + fast_cases() + quant_cases()
            + matmul_cases() + misc_api_cases() + io_cases() + distributed_cases()
            + evaluation_cases())
