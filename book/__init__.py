"""The HTML book of dlmath: Sphinx configuration (``conf.py``) and its build (``build.py``).

``python -m book build`` writes ``_build/html`` (see :mod:`book.build`).
"""
