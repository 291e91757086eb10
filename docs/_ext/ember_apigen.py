"""Writes the API reference pages by introspecting the installed modules.

Every public name (no leading underscore) that a module holds when the docs are built gets an
entry, so functions added to ``ember.core`` (or a new submodule of it) appear without editing
the docs. The pages go to ``api/generated/`` in the source tree (ignored by git) before Sphinx
reads its sources.
"""

import importlib
import inspect
import os
import re
import types

# The modules documented, in order. Submodules found inside them (``ember.core.random``,
# ``ember.nn.init``...) are added after their parent.
ROOTS = ["ember.core", "ember.nn", "ember.optimizers", "ember.utils"]


def _is_own_module(parent, name, value):
    """A submodule reached under its own name (``ember.core.random``), not a module that a
    package imported from elsewhere (``ember.nn.activations`` is ``ember.nn.layers.activations``)."""
    return isinstance(value, types.ModuleType) and value.__name__ == f"{parent.__name__}.{name}"


def _public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    return sorted(set(names), key=lambda n: (n.lower(), n))


def _belongs(module, name, value):
    """Whether a name of ``module`` is part of its API (not an import like ``math``)."""
    if isinstance(value, types.ModuleType):
        return _is_own_module(module, name, value)
    if inspect.isclass(value) or callable(value):
        owner = getattr(value, "__module__", None) or ""
        return owner.startswith("ember") or owner == "builtins" and module.__name__ == "ember.core"
    return True


def _home_in_submodule(module, value):
    """"sub.name" when `value` calls itself `name` and the submodule `sub` of `module` holds it
    under that name (mx.matrix_norm is mx.linalg.norm), else None."""
    own = getattr(value, "__name__", None)
    if not own or inspect.isclass(value):
        return None
    for sub in _public_names(module):
        m = getattr(module, sub, None)
        if isinstance(m, types.ModuleType) and getattr(m, own, None) is value:
            return f"{sub}.{own}"
    return None


def collect():
    """[(module name, module, {kind: [names]})] for every documented module.

    Modules are visited breadth first and each class or function is documented once, under the
    first (shortest) name that reaches it: ``ember.nn.Linear``, not ``ember.nn.layers.Linear``.
    A submodule left with nothing of its own (a package's implementation modules) gets no page.
    """
    out, seen, documented = [], set(), set()
    queue = list(ROOTS)
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        try:
            module = importlib.import_module(name)
        except ImportError:
            module = importlib.import_module(".".join(parts[:-1]))
            module = getattr(module, parts[-1])
        groups = {"modules": [], "classes": [], "functions": [], "data": [], "aliases": []}
        names = _public_names(module)
        # the name an object calls itself comes first, so other names of it become aliases
        names.sort(key=lambda n: getattr(getattr(module, n), "__name__", n) != n)
        first = {}
        for n in names:
            value = getattr(module, n)
            if not _belongs(module, n, value):
                continue
            if isinstance(value, types.ModuleType):
                groups["modules"].append(n)
                queue.append(f"{name}.{n}")
                continue
            if inspect.isclass(value) or callable(value):
                if id(value) in first:  # a second name in this module: an alias
                    groups["aliases"].append((n, first[id(value)]))
                    continue
                if id(value) in documented:  # documented under a shorter module name
                    continue
                home = _home_in_submodule(module, value)
                if home:  # another name of a function a submodule holds under its own name
                    groups["aliases"].append((n, home))
                    continue
                documented.add(id(value))
                first[id(value)] = n
            if inspect.isclass(value):
                groups["classes"].append(n)
            elif callable(value):
                groups["functions"].append(n)
            else:
                groups["data"].append(n)
        for kind in ("classes", "functions", "data"):
            groups[kind].sort(key=lambda n: (n.lower(), n))
        groups["aliases"].sort()
        out.append((name, module, groups))
    # drop pages with nothing of their own, and the links to them
    empty = {m for m, _, g in out if not (g["classes"] or g["functions"] or g["data"])
             and m not in ROOTS}
    pages = []
    for m, mod, g in out:
        if m in empty:
            continue
        g["modules"] = [n for n in g["modules"] if f"{m}.{n}" not in empty]
        pages.append((m, mod, g))
    return pages


def _title(text, char):
    return f"{text}\n{char * len(text)}\n\n"


def _data_entry(modname, name, value):
    shown = repr(value).replace("\n", " ")
    return (f".. py:data:: {name}\n   :module: {modname}\n\n"
            f"   ``{shown}`` ({type(value).__name__})\n\n")


def render(modname, module, groups):
    text = _title(f"``{modname}``", "=")
    doc = inspect.getdoc(module)
    text += f".. py:module:: {modname}\n\n"
    if doc:
        text += doc.strip() + "\n\n"
    if groups["modules"]:
        text += _title("Submodules", "-")
        for n in groups["modules"]:
            text += f"* :doc:`{modname}.{n}`\n"
        text += "\n"
    if groups["classes"]:
        text += _title("Classes", "-")
        for n in groups["classes"]:
            text += (f".. autoclass:: {modname}.{n}\n   :members:\n   :undoc-members:\n\n")
    if groups["functions"]:
        text += _title("Functions", "-")
        for n in groups["functions"]:
            text += f".. autofunction:: {modname}.{n}\n\n"
    if groups["aliases"]:
        text += _title("Other names", "-")
        for n, target in groups["aliases"]:
            role = "class" if inspect.isclass(getattr(module, n)) else "func"
            text += (f".. py:function:: {n}\n   :module: {modname}\n\n"
                     f"   Another name of :py:{role}:`{modname}.{target}`.\n\n")
    if groups["data"]:
        text += _title("Constants and objects", "-")
        for n in groups["data"]:
            text += _data_entry(modname, n, getattr(module, n))
    return text


def write_pages(app):
    outdir = os.path.join(app.srcdir, "api", "generated")
    os.makedirs(outdir, exist_ok=True)
    pages = collect()
    wanted = set()
    for modname, module, groups in pages:
        path = os.path.join(outdir, f"{modname}.rst")
        wanted.add(path)
        text = render(modname, module, groups)
        old = open(path).read() if os.path.exists(path) else None
        if old != text:  # leave unchanged pages alone so incremental builds stay incremental
            with open(path, "w") as f:
                f.write(text)
    for f in os.listdir(outdir):
        if os.path.join(outdir, f) not in wanted:
            os.remove(os.path.join(outdir, f))
    index = _title("API reference", "=")
    index += ("Generated from the docstrings of every public name of each module, as the modules "
              "stand when the documentation is built.\n\n")
    index += ".. toctree::\n   :maxdepth: 1\n\n"
    for modname, _, _ in pages:
        index += f"   generated/{modname}\n"
    path = os.path.join(app.srcdir, "api", "index.rst")
    old = open(path).read() if os.path.exists(path) else None
    if old != index:
        with open(path, "w") as f:
            f.write(index)


_SIGNATURE = re.compile(r"^\s*([A-Za-z_][\w.]*)\((.*)\)(?:\s*->\s*(.+))?\s*$")
_LITERAL = re.compile(r"(``.+?``|`[^`]+`)")


def _from_extension(obj):
    """Objects whose docstrings are the extension's plain text, not reStructuredText."""
    return not (inspect.isfunction(obj) or inspect.ismethod(obj)) and (
        getattr(obj, "__module__", "") or "").startswith("ember.core") or type(obj).__name__ in (
            "builtin_function_or_method", "instancemethod", "method_descriptor", "property")


def _escape(text):
    """Escape the characters of plain text that reStructuredText reads as markup (``*``,
    ``|``, a trailing ``_``), outside literal spans."""
    if text.count("`") % 2:  # an unmatched backquote: no literal spans on this line
        return re.sub(r"(?<=\w)_(?=\W|$)", r"\\_", text.replace("\\", "\\\\").replace(
            "*", "\\*").replace("|", "\\|").replace("`", "\\`"))
    parts = _LITERAL.split(text)
    for i in range(0, len(parts), 2):
        p = parts[i].replace("\\", "\\\\").replace("*", "\\*").replace("|", "\\|")
        parts[i] = re.sub(r"(?<=\w)_(?=\W|$)", r"\\_", p)
    return "".join(parts)


def process_signature(app, what, name, obj, options, signature, return_annotation):
    """A pybind11 function under another name (an alias) keeps the signature of its
    docstring's first line, which autodoc only reads when the names agree."""
    if signature is None and what in ("function", "method") and _from_extension(obj):
        first = (getattr(obj, "__doc__", None) or "").split("\n", 1)[0]
        m = _SIGNATURE.match(first)
        if m:
            return f"({m.group(2)})", m.group(3)
    return None


def _is_clean_rst(text, env=None):
    """Whether docutils reads `text` without a warning. (Sphinx's roles, which plain-text
    docstrings do not use, need the build environment `env`; an error in one of them is left
    for the build to report.)"""
    import docutils.core
    import docutils.utils

    if not text.strip():
        return True
    try:
        docutils.core.publish_doctree(text, settings_overrides={
            "report_level": docutils.utils.Reporter.SEVERE_LEVEL + 1, "halt_level": 2,
            "warning_stream": False, "file_insertion_enabled": False, "raw_enabled": False,
            "env": env})
    except docutils.utils.SystemMessage:
        return False
    except Exception:  # a role or directive of Sphinx's outside a build
        return True
    return True


def process_docstring(app, what, name, obj, options, lines):
    """The extension's docstrings are plain text: the signature line (already shown) is dropped
    and markup characters escaped; a docstring whose layout reStructuredText still cannot read
    (indentation, a list without blank lines) is shown as it is written, preformatted."""
    if not _from_extension(obj):
        return
    while lines and _SIGNATURE.match(lines[0]):  # signature lines (overloads included)
        lines.pop(0)
        while lines and not lines[0].strip():
            lines.pop(0)
    escaped = [_escape(line) for line in lines]
    if _is_clean_rst("\n".join(escaped), getattr(app, "env", None)):
        lines[:] = escaped
    else:
        lines[:] = ["::", ""] + ["   " + line for line in lines] + [""]


def setup(app):
    app.connect("builder-inited", write_pages)
    app.connect("autodoc-process-signature", process_signature)
    app.connect("autodoc-process-docstring", process_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
