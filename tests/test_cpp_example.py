"""Builds examples/cpp against the static library and runs its programs.

The library comes from the installed package (its CMake package ships inside it) or,
in a development checkout, from the build tree that made the in-place extension,
installed into a temporary prefix.
"""
import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import ember.core as mx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = ["tutorial", "linear_regression", "logistic_regression"]


def _cmake():
    return shutil.which("cmake") or os.path.join(os.path.dirname(sys.executable), "cmake")


def _dev_build_dir():
    """The newest build tree of this checkout that holds the static library."""
    found = []
    for cache in glob.glob(os.path.join(ROOT, "*", "CMakeCache.txt")):
        with open(cache) as f:
            text = f.read()
        lib = os.path.join(os.path.dirname(cache), "libember.a")
        if f"CMAKE_HOME_DIRECTORY:INTERNAL={ROOT}\n" in text and os.path.exists(lib):
            found.append((os.path.getmtime(lib), os.path.dirname(cache)))
    return max(found)[1] if found else None


def _package_dir(tmp_path):
    out = subprocess.run([sys.executable, "-m", "ember", "--cmake-dir"], capture_output=True, text=True)
    cmake_dir = out.stdout.strip()
    if os.path.exists(os.path.join(cmake_dir, "emberConfig.cmake")):
        return cmake_dir
    build = _dev_build_dir()
    if build is None:
        pytest.skip("ember has no C++ package here (neither installed nor a build tree)")
    prefix = tmp_path / "prefix"
    subprocess.run([_cmake(), "--install", build, "--prefix", str(prefix)], check=True,
                   capture_output=True)
    return str(prefix / "lib" / "cmake" / "ember")


@pytest.fixture(scope="module")
def example_outputs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("cpp_example")
    cmake_dir = _package_dir(tmp_path)
    build = tmp_path / "build"
    cfg = subprocess.run([_cmake(), "-S", os.path.join(ROOT, "examples", "cpp"), "-B", str(build),
                          f"-DCMAKE_PREFIX_PATH={cmake_dir}", "-DCMAKE_BUILD_TYPE=Release",
                          f"-DPython_EXECUTABLE={sys.executable}"], capture_output=True, text=True)
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    made = subprocess.run([_cmake(), "--build", str(build), "-j2"], capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    outputs = {}
    for name in PROGRAMS:
        run = subprocess.run([str(build / name)], capture_output=True, text=True, timeout=300)
        outputs[name] = run
    return outputs


@pytest.mark.skipif(shutil.which("cmake") is None and not shutil.which("c++"), reason="no toolchain")
@pytest.mark.parametrize("name", PROGRAMS)
def test_cpp_example_runs_and_checks_itself(example_outputs, name):
    run = example_outputs[name]
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{name}: all checks passed" in run.stdout


@pytest.mark.skipif(shutil.which("cmake") is None and not shutil.which("c++"), reason="no toolchain")
def test_cpp_printing_is_the_python_repr(example_outputs):
    # The tutorial prints a 2x2 array and a compiled result with std::cout; the Python
    # repr of the same values must read the same (bools aside, which MLX spells per language).
    out = example_outputs["tutorial"].stdout
    z = mx.array([[2.0, 3.0], [4.0, 5.0]])
    assert repr(z) in out
    x, y = np.array([0.0, 1.0, 2.0], np.float32), np.array([1.0, 2.0, 3.0], np.float32)
    r = mx.exp(-mx.array(x)) * mx.array(y) + 1.0
    assert repr(r) in out
    try:
        import mlx.core as mlx
    except ImportError:
        return
    assert repr(mlx.array([[2.0, 3.0], [4.0, 5.0]])) in out
