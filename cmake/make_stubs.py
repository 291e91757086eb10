"""Type stubs for ember.core (and its submodules) from the built extension.

    python cmake/make_stubs.py PACKAGE_SOURCES BUILT_CORE OUT_DIR

Stages the Python package with the freshly built extension in a temporary folder, runs
pybind11-stubgen over `ember.core` and writes OUT_DIR/core/*.pyi. Whatever the module holds
at build time gets a stub. Without pybind11-stubgen it says so and writes nothing.
"""

import os
import shutil
import subprocess
import sys
import tempfile


def main():
    src, core, out = sys.argv[1:4]
    try:
        import pybind11_stubgen  # noqa: F401
    except ImportError:
        print("make_stubs: pybind11-stubgen is not installed; no type stubs written", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        pkg = os.path.join(tmp, "pkg", "ember")
        shutil.copytree(src, pkg, ignore=shutil.ignore_patterns("core*.so", "core", "__pycache__", "*.pyi"))
        shutil.copy2(core, pkg)
        stubs = os.path.join(tmp, "stubs")
        env = dict(os.environ, PYTHONPATH=os.path.join(tmp, "pkg"))
        cmd = [sys.executable, "-m", "pybind11_stubgen", "ember.core", "-o", stubs,
               "--ignore-all-errors", "--enum-class-locations", "DeviceType:ember.core",
               "--numpy-array-remove-parameters"]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            # Stubs help editors and type checkers; their absence does not stop the build.
            print("make_stubs: pybind11-stubgen failed; no type stubs written\n" + r.stdout + r.stderr,
                  file=sys.stderr)
            return 0
        made = os.path.join(stubs, "ember", "core")
        if not os.path.isdir(made):  # a module without submodules gives ember/core.pyi
            os.makedirs(made)
            shutil.move(os.path.join(stubs, "ember", "core.pyi"), os.path.join(made, "__init__.pyi"))
        dest = os.path.join(out, "core")
        tmp_dest = dest + ".new"
        shutil.rmtree(tmp_dest, ignore_errors=True)
        shutil.copytree(made, tmp_dest)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp_dest, dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
