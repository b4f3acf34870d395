"""Sphinx configuration of the HTML book (built by ``python -m book build``).

The source directory is the staging folder that :mod:`book.build` lays out (chapter
notebooks with their stored outputs, the generated API and formula-index pages); this
file is its configuration directory. Nothing is executed here and nothing is fetched: the
notebooks are read as stored (the explorers' frames were drawn before, by
:mod:`book.frames`, and ``_static/explorer.js`` shows them), MathJax comes from the
``sphinx-mathjax-offline`` package and the theme's assets from ``sphinx-book-theme``.
"""

from __future__ import annotations

import sys
from pathlib import Path

_here = Path(__file__).resolve().parent
sys.path.insert(0, str(_here))  # sphinxext.py

project = "dlmath"
author = "the dlmath authors"
copyright = "the dlmath authors"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static/mathjax, mathjax_path set
    "sphinxext",
]

# ---- notebooks: the stored outputs, never executed
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no widget manager from a CDN: explorers move over drawn frames
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]

# ---- API reference
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
add_module_names = False

# ---- HTML
html_theme = "sphinx_book_theme"
html_title = "dlmath: the mathematics of deep learning"
html_static_path = [str(_here / "_static")]
html_css_files = ["dlmath.css"]
html_js_files = ["explorer.js"]  # explorers move over the frames drawn at build time
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "search_bar_text": "Search the book",
}
html_context = {"default_mode": "light"}  # else the theme logs an error on a first visit
html_last_updated_fmt = None
html_show_sourcelink = False
