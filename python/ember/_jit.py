"""A C++ compiler for compile's generated kernels from PyPI (the `jit` extra).

The engine uses EMBER_CXX, or c++, g++ or clang++ on PATH; when there is none it asks
`find_compiler` here, which finds the clang-based `zig c++` of the `ziglang` wheel
(`pip install "ember[jit]"`).
"""

import importlib.util
import os
import shlex


def find_compiler():
    """The shell command of zig's C++ compiler from the ziglang package, or None."""
    try:
        spec = importlib.util.find_spec("ziglang")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for where in spec.submodule_search_locations:
        zig = os.path.join(where, "zig")
        if os.path.isfile(zig) and os.access(zig, os.X_OK):
            return shlex.quote(zig) + " c++"
    return None
