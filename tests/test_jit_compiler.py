"""Which C++ compiler compile's fused kernels use, and compile without any compiler.

Each case runs in a subprocess whose PATH holds only the interpreter, so that no system
C++ compiler is found there."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys

import pytest

import ember
import ember.core as mx

CODE = r"""
import io, warnings
import numpy as np
import ember.core as mx
x = mx.array(np.linspace(-3, 3, 5000, dtype=np.float32))
f = lambda a: mx.exp(-a) * mx.sin(a) + a * a
g = lambda a: mx.sum(mx.tanh(a) * 0.5 + a, axis=-1)
cf, cg = mx.compile(f), mx.compile(g)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    y, z = cf(x), cg(x.reshape(50, 100))
    s = io.StringIO()
    mx.export_to_dot(s, y)
    cf(x + 1.0)
    mx.compile(lambda a: mx.cos(a) * a - 1.0)(x)
labels = sorted(l.split('label="')[1].split("\\n")[0] for l in s.getvalue().splitlines() if 'label="' in l)
print("LABELS", labels)
print("WARNINGS", len([w for w in caught if "ember[jit]" in str(w.message)]))
xn = np.linspace(-3, 3, 5000, dtype=np.float32)
np.testing.assert_allclose(np.array(y), np.exp(-xn) * np.sin(xn) + xn * xn, rtol=1e-5, atol=1e-5)
np.testing.assert_allclose(np.array(z), (np.tanh(xn) * 0.5 + xn).reshape(50, 100).sum(-1), rtol=1e-4, atol=1e-4)
print("OK")
"""


# With the ziglang package installed ("ember[jit]") there is always a compiler.
no_zig = pytest.mark.skipif(importlib.util.find_spec("ziglang") is not None, reason="ziglang is installed")


def _bin_without_compiler(tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    os.symlink(sys.executable, d / "python")
    return str(d)


def _run(tmp_path, extra=None, code=CODE, args=None):
    env = {k: v for k, v in os.environ.items() if k not in ("EMBER_CXX", "EMBER_COMPILE_FUSE")}
    env.update(PATH=_bin_without_compiler(tmp_path) if not (tmp_path / "bin").exists() else str(tmp_path / "bin"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.update(extra or {})
    cmd = [sys.executable] + (args if args else ["-c", code])
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def _field(out, name):
    line = next(l for l in out.splitlines() if l.startswith(name + " "))
    return line[len(name) + 1:]


def _kernels(tmp_path):
    d = tmp_path / "cache" / "ember"
    return [p for p in os.listdir(d) if p.endswith(".so")] if d.exists() else []


@no_zig
def test_no_compiler_runs_the_graph_as_without_fusion(tmp_path):
    """No compiler: the traced graph keeps its nodes exactly as with EMBER_COMPILE_FUSE=0
    (no Compiled node run op by op), and one warning names the ways to get fusion."""
    r = _run(tmp_path)
    assert "OK" in r.stdout.splitlines()
    labels = _field(r.stdout, "LABELS")
    assert "Compiled" not in labels and "Exp" in labels and "Sin" in labels
    assert _field(r.stdout, "WARNINGS") == "1"
    assert not _kernels(tmp_path)
    off = _run(tmp_path, {"EMBER_COMPILE_FUSE": "0"})
    assert _field(off.stdout, "LABELS") == labels
    assert _field(off.stdout, "WARNINGS") == "0"


@no_zig
def test_no_compiler_warning_text(tmp_path):
    r = _run(tmp_path, code="import ember.core as mx\nmx.eval(mx.compile(lambda a: mx.exp(a) * a + 1)(mx.ones(4)))\n")
    assert r.stderr.count("RuntimeWarning") == 1
    assert 'pip install "ember[jit]"' in r.stderr and "EMBER_CXX" in r.stderr


def _fake_zig(tmp_path, log):
    """A stand-in for the ziglang wheel: its `zig c++` runs the system compiler and notes
    each call, so the fallback is tested without the 400 MB download."""
    cxx = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler on this machine")
    pkg = tmp_path / "site" / "ziglang"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    zig = pkg / "zig"
    # The system compiler finds its assembler on PATH; the real zig needs nothing there.
    tools = os.path.dirname(cxx)
    # Kernels are compiled by `zig c++ -c` and linked by `zig cc -shared`.
    zig.write_text(f'#!/bin/sh\ncase "$1" in c++|cc) ;; *) exit 2 ;; esac\nshift\necho "$@" >> {log}\n'
                   f'PATH={tools}:/usr/bin:/bin exec {cxx} "$@"\n')
    zig.chmod(0o755)
    return str(tmp_path / "site"), str(zig)


def test_compiler_from_the_ziglang_package(tmp_path):
    log = tmp_path / "zig.log"
    site, zig = _fake_zig(tmp_path, log)
    pp = os.pathsep.join([site] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    r = _run(tmp_path, {"PYTHONPATH": pp})
    assert "Compiled" in _field(r.stdout, "LABELS")
    assert _field(r.stdout, "WARNINGS") == "0"
    calls = log.read_text().splitlines()
    assert len(_kernels(tmp_path)) >= 2 and sum(" -c " in c for c in calls) >= 2
    assert sum(c.startswith("-shared -nostdlib") for c in calls) >= 2
    info = _run(tmp_path, {"PYTHONPATH": pp}, args=["-m", "ember", "--info"]).stdout
    assert f"compile's C++ compiler: {zig} c++" in info


def test_ember_cxx_comes_first(tmp_path):
    log = tmp_path / "zig.log"
    site, _ = _fake_zig(tmp_path, log)
    cxx_log = tmp_path / "cxx.log"
    wrapper = tmp_path / "mycxx"
    cxx = shutil.which("c++") or shutil.which("g++")
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {cxx_log}\nPATH={os.path.dirname(cxx)}:/usr/bin:/bin exec {cxx} "$@"\n')
    wrapper.chmod(0o755)
    pp = os.pathsep.join([site] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    r = _run(tmp_path, {"PYTHONPATH": pp, "EMBER_CXX": str(wrapper)})
    assert "Compiled" in _field(r.stdout, "LABELS")
    assert cxx_log.exists() and not log.exists()


def test_ziglang_finder_without_the_package(tmp_path):
    from ember import _jit

    r = _run(tmp_path, code="from ember._jit import find_compiler; print('FOUND', find_compiler())")
    try:
        import ziglang  # noqa: F401
    except ImportError:
        assert _field(r.stdout, "FOUND") == "None"
    else:
        assert _field(r.stdout, "FOUND").endswith("zig c++")
    assert callable(_jit.find_compiler)


def _header_version():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "cpp", "ember", "version.h")
    if not os.path.exists(path):
        pytest.skip("sources not beside the tests")
    return re.search(r'EMBER_VERSION "([^"]+)"', open(path).read()).group(1)


def test_version_and_info(tmp_path):
    v = _header_version()
    assert ember.__version__ == mx.__version__ == v
    out = _run(tmp_path, args=["-m", "ember", "--version"]).stdout.strip()
    assert out == v
    info = _run(tmp_path, args=["-m", "ember", "--info"]).stdout
    assert info.splitlines()[0] == f"ember {v}"
    none = "none" if importlib.util.find_spec("ziglang") is None else ""
    for key in ("build type: ", "BLAS: OpenBLAS", "CPU kernels: ", "CPU features: ", "CUDA: ",
                "compile's C++ compiler: " + none, "kernel cache: " + str(tmp_path / "cache" / "ember")):
        assert key in info, (key, info)
    b = mx._build_info()
    assert b["blas_threading"] in ("sequential", "pthreads", "OpenMP") and b["blas_threads"] >= 1
    assert b["build_type"] in ("Release", "RelWithDebInfo", "Debug", "MinSizeRel")
