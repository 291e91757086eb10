"""The documentation: every Python example runs, and the site builds with warnings as errors.

Each Markdown page under docs/ (and README.md) is run as one script: its ```python blocks in
order, in one namespace, from a temporary directory. A ```output block right after a ```python
block is what that block prints; it is compared with the printed text (``...`` matches anything,
as in doctest). The C++ page's program is built with its CMakeLists.txt against the package and
run the same way.

    python tests/test_docs.py --show docs/guide/grad.md   # print what each block prints
"""

import contextlib
import doctest
import glob
import io
import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")


def blocks(path):
    """[(language, code, line)] of the fenced blocks of a Markdown file."""
    out, lines, i = [], open(path, encoding="utf-8").read().split("\n"), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info, start = m.group("fence"), m.group("info").strip(), i + 1
        indent = len(m.group("indent"))
        i += 1
        body = []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1
        out.append((info.split()[0] if info else "", "\n".join(body) + "\n", start))
    return out


def examples(path):
    """[(code, expected output or None, line)] of the Python blocks of a page."""
    found, bl = [], blocks(path)
    for k, (lang, code, line) in enumerate(bl):
        if lang == "output":
            assert k > 0 and bl[k - 1][0] in ("python", "cpp"), \
                f"{path}:{line}: an output block must follow a python (or C++) block"
        if lang != "python":
            continue
        want = bl[k + 1][1] if k + 1 < len(bl) and bl[k + 1][0] == "output" else None
        found.append((code, want, line))
    return found


REQUIRES = re.compile(r"^<!-- requires: ([\w.]+) -->$", re.M)


def missing_requirement(path):
    """A page that starts with ``<!-- requires: ember.core.distributed -->`` documents a part
    of the API that a build may not have yet; returns the name if it is missing."""
    import importlib

    for name in REQUIRES.findall(open(path, encoding="utf-8").read()):
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            try:
                for attr in parts[i:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                return name
            break
        else:
            return name
    return None


def pages():
    found = sorted(glob.glob(os.path.join(DOCS, "**", "*.md"), recursive=True))
    found = [p for p in found if "_build" not in p] + [os.path.join(ROOT, "README.md")]
    return [p for p in found if examples(p)]


def run_page(path, show=False):
    """Runs a page's examples in order in one namespace; returns the mismatches."""
    checker, problems = doctest.OutputChecker(), []
    namespace = {"__name__": "__docs__"}
    for code, want, line in examples(path):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(code, f"{path}:{line}", "exec"), namespace)
        got = "\n".join(s.rstrip() for s in buf.getvalue().split("\n"))
        if show:
            print(f"--- {os.path.relpath(path, ROOT)}:{line}\n{got}", end="")
        if want is not None:
            want = "\n".join(s.rstrip() for s in want.split("\n"))
            if not checker.check_output(want, got, doctest.ELLIPSIS):
                problems.append(f"{os.path.relpath(path, ROOT)}:{line}: printed\n{got}\n"
                                f"documented\n{want}")
    return problems


PAGES = pages()


@pytest.mark.parametrize("path", PAGES, ids=[os.path.relpath(p, ROOT) for p in PAGES])
def test_page_examples_run_and_print_what_is_shown(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if missing_requirement(path):
        pytest.skip(f"{missing_requirement(path)} is not in this build")
    import ember.core as mx

    mx.random.seed(0)
    problems = run_page(path)
    assert not problems, "\n\n".join(problems)


def test_every_guide_page_has_examples_with_outputs():
    # the extraction itself: the pages that must carry checked examples do
    names = {os.path.relpath(p, DOCS) for p in PAGES}
    for page in ["getting_started.md", "guide/grad.md", "guide/vjp_jvp.md", "guide/vmap.md",
                 "guide/compile.md", "guide/custom_function.md", "guide/checkpoint.md",
                 "guide/lazy.md", "training.md", "file_formats.md", "seed_examples.md"]:
        assert page in names, page
        assert any(want for _, want, _ in examples(os.path.join(DOCS, page))), page


def test_block_extraction(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("text\n\n```python\nprint(1 + 1)\n```\n\n```output\n2\n```\n\n"
                    "````markdown\n```python\nnot run\n```\n````\n\n```python\nx = 3\n```\n"
                    "```python\nprint(x, '...')\n```\n```output\n3 ...\n```\n")
    ex = examples(str(page))
    assert [(c, w) for c, w, _ in ex] == [("print(1 + 1)\n", "2\n"), ("x = 3\n", None),
                                          ("print(x, '...')\n", "3 ...\n")]
    assert run_page(str(page)) == []
    page.write_text("```python\nprint(2)\n```\n```output\n3\n```\n")
    assert len(run_page(str(page))) == 1
    # a page about a part of the API that a build lacks says so, and is skipped
    page.write_text("<!-- requires: ember.core.no_such_module -->\n\n```python\nprint(1)\n```\n")
    assert missing_requirement(str(page)) == "ember.core.no_such_module"
    page.write_text("<!-- requires: ember.core.random -->\n")
    assert missing_requirement(str(page)) is None


def test_cpp_page_program_builds_and_prints_what_is_shown(tmp_path):
    """The C++ page's CMakeLists.txt and program, built against the package as a user would."""
    import shutil

    if shutil.which("c++") is None:
        pytest.skip("no C++ compiler")
    from test_cpp_example import _cmake, _package_dir

    bl = blocks(os.path.join(DOCS, "cpp.md"))
    cmake = [code for lang, code, _ in bl if lang == "cmake"]
    k = next(i for i, (lang, code, _) in enumerate(bl) if lang == "cpp" and "int main" in code)
    assert len(cmake) == 1 and bl[k + 1][0] == "output"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "CMakeLists.txt").write_text(cmake[0])
    (tmp_path / "src" / "main.cpp").write_text(bl[k][1])
    cmake_dir = _package_dir(tmp_path)
    cfg = subprocess.run([_cmake(), "-S", str(tmp_path / "src"), "-B", str(tmp_path / "build"),
                          f"-DCMAKE_PREFIX_PATH={cmake_dir}", f"-DPython_EXECUTABLE={sys.executable}"],
                         capture_output=True, text=True)
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    made = subprocess.run([_cmake(), "--build", str(tmp_path / "build")], capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    run = subprocess.run([str(tmp_path / "build" / "app")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout == bl[k + 1][1], run.stdout


def test_benchmark_tables_draw_as_charts(tmp_path):
    """benchmarks/_table.py: `--png PATH` is taken out of the script's arguments, and each
    printed table is drawn to PATH, PATH-2.png... with the times relative to Ember's."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "chart.png"
    script = (
        "import sys\n"
        f"sys.path.insert(0, {os.path.join(ROOT, 'benchmarks')!r})\n"
        "import _table\n"
        "print(sys.argv[1:])\n"
        "_table.print_table(['benchmark', 'unit', 'ember', 'numpy', 'torch'],\n"
        "    [['chain', 'ms', '2.00', '4.00 (2.00x)', '1.00 (0.50x)'], ['sum', 'us', '1.0', '-', '3.0 (3.00x)']])\n"
        "_table.print_table(['op', 'ember', 'numpy'], [['x', '1.5', '3.0 (2.00x)']])\n")
    run = subprocess.run([sys.executable, "-c", script, "--quick", "--png", str(out), "--reps", "3"],
                         capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg"))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "['--quick', '--reps', '3']"
    second = tmp_path / "chart-2.png"
    for png in (out, second):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert f"chart written to {second}" in run.stdout
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import _table
    finally:
        sys.path.pop(0)
    assert _table._number("4.00 (2.00x)") == 4.0 and _table._number("-") is None
    assert _table._number("1.5e-3") == 1.5e-3 and _table._number("ms") is None


def test_extension_docstrings_are_read_as_plain_text():
    """The reference generator escapes reStructuredText markup in the extension's plain-text
    docstrings, and shows one whose layout it cannot read as preformatted text."""
    pytest.importorskip("docutils")
    sys.path.insert(0, os.path.join(DOCS, "_ext"))
    try:
        import ember_apigen as gen
    finally:
        sys.path.pop(0)
    import ember.core as mx

    assert gen._escape("a (B, *, T) of from_ and x|y") == "a (B, \\*, T) of from\\_ and x\\|y"
    assert gen._escape("keeps ``a*b`` and `name_`") == "keeps ``a*b`` and `name_`"
    assert not gen._is_clean_rst("rope of a (B, *, T, D)")
    assert gen._is_clean_rst(gen._escape("rope of a (B, *, T, D)"))
    lines = ["add(a, b, *, stream=None) -> array", "", "Sum of *a and b."]
    gen.process_docstring(None, "function", "ember.core.add", mx.add, None, lines)
    assert lines == ["Sum of \\*a and b."]
    lines = ["Returns:", "    odd indentation", "- a list", "without a blank line"]
    gen.process_docstring(None, "function", "ember.core.add", mx.add, None, lines)
    assert lines[:2] == ["::", ""] and lines[2] == "   Returns:"
    # Python docstrings (reStructuredText or Google style) are left alone
    lines = ["*emphasis*"]
    gen.process_docstring(None, "function", "ember.utils.tree_map", test_block_extraction, None, lines)
    assert lines == ["*emphasis*"]


def _sphinx_available():
    try:
        import myst_parser  # noqa: F401
        import sphinx  # noqa: F401
    except ImportError:
        return False
    return True


def test_docs_build_with_warnings_as_errors(tmp_path):
    """The whole site, API reference included, with -W: any warning fails the build."""
    if not _sphinx_available():
        pytest.skip("sphinx and myst-parser are not installed (pip install '.[docs]')")
    import ember

    env = dict(os.environ)
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(ember.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    t0 = time.time()
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                          "-d", str(tmp_path / "doctrees"), DOCS, str(tmp_path / "html")],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARNING" not in run.stderr and "ERROR" not in run.stderr, run.stderr
    html = (tmp_path / "html" / "api" / "generated" / "ember.core.html").read_text()
    import ember.core as mx

    # the reference lists every public function of ember.core and of its submodules, whatever
    # they hold today, and every class of ember.nn and ember.optimizers
    import types

    import ember.nn as nn
    import ember.optimizers as optim

    missing = [n for n in dir(mx) if not n.startswith("_") and callable(getattr(mx, n))
               and f'id="ember.core.{n}"' not in html]
    assert not missing, missing
    for sub in [n for n in dir(mx) if isinstance(getattr(mx, n), types.ModuleType)]:
        page = (tmp_path / "html" / "api" / "generated" / f"ember.core.{sub}.html").read_text()
        module = getattr(mx, sub)
        missing = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))
                   and f'id="ember.core.{sub}.{n}"' not in page]
        assert not missing, (sub, missing)
    for module in (nn, optim):
        page = (tmp_path / "html" / "api" / "generated" / f"{module.__name__}.html").read_text()
        missing = [n for n in dir(module) if not n.startswith("_") and isinstance(getattr(module, n), type)
                   and f'id="{module.__name__}.{n}"' not in page]
        assert not missing, (module.__name__, missing)
    print(f"docs built in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--show":
        import tempfile

        paths = [os.path.abspath(p) for p in sys.argv[2:]]
        os.chdir(tempfile.mkdtemp())  # the files the examples write go there
        for p in paths:
            if missing_requirement(p):
                print(f"--- {p}: skipped, {missing_requirement(p)} is not in this build")
                continue
            for problem in run_page(p, show=True):
                print("\nMISMATCH", problem)
