"""Builds examples/cpp against the installed static library and runs it."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cmake_dir():
    out = subprocess.run([sys.executable, "-m", "ember", "--cmake-dir"], capture_output=True, text=True)
    return out.stdout.strip()


@pytest.mark.skipif(shutil.which("cmake") is None and not shutil.which("c++"), reason="no toolchain")
def test_cpp_example_builds_and_runs(tmp_path):
    cmake_dir = _cmake_dir()
    if not os.path.exists(os.path.join(cmake_dir, "emberConfig.cmake")):
        pytest.skip("ember was not installed with its C++ package (development build)")
    cmake = shutil.which("cmake") or os.path.join(os.path.dirname(sys.executable), "cmake")
    build = tmp_path / "build"
    env = dict(os.environ)
    subprocess.run([cmake, "-S", os.path.join(ROOT, "examples", "cpp"), "-B", str(build),
                    f"-DCMAKE_PREFIX_PATH={cmake_dir}", "-DCMAKE_BUILD_TYPE=Release",
                    f"-DPython_EXECUTABLE={sys.executable}"],
                   check=True, env=env, capture_output=True)
    subprocess.run([cmake, "--build", str(build)], check=True, env=env, capture_output=True)
    exe = build / "example"
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "e[2,2] = 125.0" in out.stdout
