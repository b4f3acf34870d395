"""The HTML book of dlmath: Sphinx configuration (``conf.py``, ``sphinxext.py``) and its build
(``build.py``, with the API pages of ``api.py`` and the formula index of
``formula_index.py``).

``python -m book build`` writes ``_build/html`` (see :mod:`book.build`).
"""
