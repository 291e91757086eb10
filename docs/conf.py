"""Sphinx configuration of Ember's documentation.

Build (warnings are errors):

    PYTHONPATH=python python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "_ext"))

import ember  # noqa: E402  (the package must be importable: installed, or PYTHONPATH=python)

project = "Ember"
author = "The Ember developers"
copyright = "2026, The Ember developers"
release = ember.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "myst_parser",
    "ember_apigen",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

myst_heading_anchors = 3
autodoc_default_options = {"member-order": "alphabetical"}
autodoc_typehints = "signature"
napoleon_google_docstring = True
napoleon_numpy_docstring = True

html_theme = "alabaster"
html_static_path = ["_static"]
html_title = f"Ember {release}"
pygments_style = "sphinx"
html_css_files = ["custom.css"]
html_theme_options = {"page_width": "1160px", "sidebar_width": "240px"}
