"""The book's formula index (``formulas.rst``): every registered formula, rendered, with the
function that implements it, the chapter cell that derives it and the tests that check it.

Nothing here is guessed from the sources: the formulas and the functions come from the
registry (:data:`dlmath.formulas.DOCUMENTED`, by topic), the cells and the tests from
:data:`dlmath.formulas.links.LINKS`.
"""

from __future__ import annotations

import json
from pathlib import Path

_HEAD = ["Formula index", "=============", "",
         "Every formula registered in :mod:`dlmath.formulas`, rendered with",
         "``sympy.latex`` from the SymPy object itself. Each names the function that",
         "implements it (its docstring quotes exactly this formula:",
         "``tests/test_formulas.py`` checks that for every entry), the chapter and cell",
         "that derive it, and the tests that check it. The page is generated when the",
         "book is built, from the registry, so it lists what the code has.", ""]


def derived_in(link, root: Path, chapter_docs: dict[str, str]) -> str | None:
    """The "derived in" line of a formula: its chapter's page and cell, or ``None``.

    Raises:
        LookupError: the link names a cell that is not one code cell of its chapter.
    """
    from dlmath.formulas.links import cell_of

    if link.chapter is None:
        return None
    page = chapter_docs.get(link.chapter)
    if page is None:
        return f"- derived in chapter {link.chapter} (not in this build)"
    where = f"- derived in :doc:`chapter {link.chapter} </notebooks/{page}>`"
    if link.cell is not None:
        nb = json.loads((root / "notebooks" / f"{page}.ipynb").read_text(encoding="utf-8"))
        cell = cell_of(nb, link.cell)
        where += f" (`cell {cell} <notebooks/{page}.html#cell-{cell}>`__)"
    return where


def checked_by(link) -> list[str]:
    """The "checked by" lines: the docstring test, then the link's tests, by file."""
    from dlmath.formulas.links import DOCSTRING_TEST, location

    by_file: dict[str, list[str]] = {}
    for test in (DOCSTRING_TEST, *link.tests):
        path, name = location(test)
        if name not in by_file.setdefault(path, []):
            by_file[path].append(name)
    return ["- checked by", ""] + [
        f"  - ``{path}``: " + ", ".join(f"``{n}``" for n in names)
        for path, names in by_file.items()]


def formula_index(root: Path, src: Path, chapter_docs: dict[str, str], *, topics=None,
                  links=None) -> int:
    """Write ``src/formulas.rst``.

    Args:
        root: the repository (its ``notebooks/`` hold the chapters as stored).
        src: the Sphinx source folder being staged.
        chapter_docs: ``{"01": "01_linear_regression", ...}``, the chapters in this build.
        topics: the topic modules (default :data:`dlmath.formulas.TOPICS`).
        links: formula constant -> :class:`~dlmath.formulas.links.Link` (default
            :data:`dlmath.formulas.links.LINKS`).

    Returns:
        The number of formulas written.

    Raises:
        LookupError: a registered formula without a link, or a link to a cell that is not
            one code cell of its chapter.
    """
    import sympy as sp

    from dlmath import formulas
    from dlmath.formulas import links as links_module
    from dlmath.formulas.registry import constant_names, locate

    topics = formulas.TOPICS if topics is None else topics
    links = links_module.LINKS if links is None else links
    lines = list(_HEAD)
    count = 0
    for topic in topics:
        heading = (topic.__doc__ or topic.__name__).strip().splitlines()[0].rstrip(".")
        short = topic.__name__.removeprefix("dlmath.formulas.")
        title = f"{heading} (``{short}``)"
        lines += [title, "-" * len(title), ""]
        names = constant_names(topic)
        for key, registered in topic.DOCUMENTED.items():
            module_name, qualname = locate(key)
            for formula in registered:
                constant = names.get(id(formula), f"{short}.?")
                if constant not in links:
                    raise LookupError(f"{key}: the formula {constant} has no entry in "
                                      "dlmath.formulas.links.LINKS")
                link = links[constant]
                count += 1
                lines += [f".. rubric:: ``{key}`` (``{constant}``)", "", ".. math::", "",
                          f"   {' '.join(sp.latex(formula.expr).split())}", "",
                          f"- implemented by :py:obj:`{module_name}.{qualname}`"]
                where = derived_in(link, root, chapter_docs)
                lines += ([where] if where else []) + checked_by(link) + [""]
    (src / "formulas.rst").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return count
