"""Type stubs of ember.core: generated from the built module, seen by mypy."""

import os
import subprocess
import sys

import pytest

import ember
import ember.core as mx

STUBS = os.path.join(os.path.dirname(os.path.abspath(ember.__file__)), "core")

GOOD = '''
import ember.core as mx
import ember.nn as nn


def loss(w: mx.array, x: mx.array) -> mx.array:
    return mx.mean(mx.square(x @ w - 1.0))


x: mx.array = mx.random.normal((8, 4), key=mx.random.key(0))
w = mx.zeros((4,), dtype=mx.float32)
g: mx.array = mx.grad(loss)(w, x)
s: mx.array = mx.sum(mx.exp(x), axis=0, keepdims=True, stream=mx.cpu)
shape: tuple[int, ...] = tuple(s.shape)
d: mx.Dtype = s.dtype
step = mx.compile(lambda a: a * 2.0)
layer = nn.Linear(4, 2)
print(g, shape, d, step(x), layer(x))
'''

BAD = '''
import ember.core as mx

mx.sum(mx.ones((3,)), axes=0)
mx.exp()
'''


def _mypy(tmp_path, name, text):
    pytest.importorskip("mypy")
    if not os.path.exists(os.path.join(STUBS, "__init__.pyi")):
        pytest.skip("no stubs generated for this build (pybind11-stubgen missing when it was built)")
    path = tmp_path / name
    path.write_text(text)
    # The folder holding the ember package first, as an absolute path (mypy runs elsewhere).
    where = [os.path.dirname(os.path.dirname(STUBS))]
    where += [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(where))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"),
         "--python-version", f"{sys.version_info.major}.{sys.version_info.minor}", str(path)],
        capture_output=True, text=True, timeout=300, cwd=str(tmp_path), env=env)


def test_stubs_cover_the_module():
    if not os.path.exists(os.path.join(STUBS, "__init__.pyi")):
        pytest.skip("no stubs generated for this build")
    text = open(os.path.join(STUBS, "__init__.pyi")).read()
    # Every public name of the module at build time (functions, classes, dtypes, submodules).
    missing = [n for n in dir(mx) if not n.startswith("_") and f"'{n}'" not in text]
    assert not missing, missing
    for sub in ("random", "fast"):
        assert os.path.exists(os.path.join(STUBS, sub + ".pyi"))
    assert "def sum(a: " in text and "stream: " in text
    assert os.path.exists(os.path.join(os.path.dirname(STUBS), "py.typed"))


def test_mypy_accepts_a_typed_script(tmp_path):
    r = _mypy(tmp_path, "good.py", GOOD)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success" in r.stdout


def test_mypy_reports_wrong_calls(tmp_path):
    r = _mypy(tmp_path, "bad.py", BAD)
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'Unexpected keyword argument "axes" for "sum"' in r.stdout
    assert 'bad.py:5: error' in r.stdout  # exp() without its argument
