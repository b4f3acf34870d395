"""The book's Sphinx extension: dlmath's docstrings as Sphinx reads them, and cell anchors.

* ``autodoc-process-docstring``: the docstrings write math as ``$$...$$`` (display, the
  registered formula) and ``$...$`` (inline), which reStructuredText does not know; they
  become ``.. math::`` blocks and ``:math:`` roles. A reference to a chapter
  (````notebooks/NN_topic.ipynb````, or the words "chapter NN") becomes a link to that
  chapter's page, so the API entry is one click from the derivation.
* ``doctree-read``: every code cell of a notebook page gets the anchor ``cell-<index>``
  (the cell's index in the ``.ipynb``), which the formula index links to.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes

from dlmath.formulas.registry import math_spans

#: a chapter notebook's name, ``01_linear_regression``
_NB = r"(\d\d_[A-Za-z0-9_]+)"
_LITERAL = re.compile(r"``.+?``", re.S)
_NB_LITERAL = re.compile(r"``notebooks/" + _NB + r"\.ipynb``")
_NB_BARE = re.compile(r"(?<![`/\w])notebooks/" + _NB + r"\.ipynb")
_CHAPTER = re.compile(r"\b([Cc]hapters?) (\d\d)\b")
_INLINE = re.compile(r"(?<![\\$])\$(?!\$)([^$\n]+?)(?<!\\)\$(?!\$)")


def chapters(srcdir: str | Path) -> dict[str, str]:
    """``"01" -> "01_linear_regression"`` for the chapter pages present in ``srcdir``."""
    return {p.stem[:2]: p.stem for p in sorted((Path(srcdir) / "notebooks").glob("*.ipynb"))}


def _role(name: str, text: str, before: str, after: str) -> str:
    """An inline role, escaped where it touches a word character (RST needs a boundary)."""
    lead = "\\ " if before and (before[-1].isalnum() or before[-1] in ")]}") else ""
    tail = "\\ " if after and (after[0].isalnum() or after[0] in "([{") else ""
    return f"{lead}:{name}:`{text}`{tail}"


def _inline(text: str, chapter_docs: dict[str, str]) -> str:
    """Inline math and chapter words in text outside literals."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(text[pos:m.start()])
        out.append(_role("math", m.group(1).strip(), text[:m.start()], text[m.end():]))
        pos = m.end()
    out.append(text[pos:])
    text = "".join(out)

    def chapter(m):
        doc = chapter_docs.get(m.group(2))
        return f":doc:`{m.group(1)} {m.group(2)} </notebooks/{doc}>`" if doc else m.group()

    # not inside a role we just wrote (":math:`...`")
    parts = re.split(r"(:\w+:`[^`]*`)", text)
    return "".join(p if i % 2 else _CHAPTER.sub(chapter, p) for i, p in enumerate(parts))


def convert(doc: str, chapter_docs: dict[str, str]) -> str:
    """A dlmath docstring (after napoleon) with its math and chapter references in RST."""

    def nb_link(m):
        name = m.group(1)
        if name[:2] in chapter_docs and chapter_docs[name[:2]] == name:
            return f":doc:`notebooks/{name}.ipynb </notebooks/{name}>`"
        return m.group()

    # display math (the registry's blocks): a $$ block alone on its line(s) becomes a math
    # directive
    def display(span):
        start = doc.rfind("\n", 0, span[0] - 2) + 1
        indent = re.match(r"[ \t]*", doc[start:]).group()
        latex = " ".join(doc[span[0]:span[1]].split())
        return f"\n\n{indent}.. math::\n\n{indent}   {latex}\n\n{indent}"

    pieces, pos = [], 0
    for s, e in math_spans(doc):
        pieces.append(("text", doc[pos:s - 2]))
        pieces.append(("math", (s, e)))
        pos = e + 2
    pieces.append(("text", doc[pos:]))

    out = []
    for kind, piece in pieces:
        if kind == "math":
            out.append(display(piece))
            continue
        # outside display math: literals stay literal (except chapter file names)
        pos, chunk = 0, []
        for lit in _LITERAL.finditer(piece):
            chunk.append(_inline(_NB_BARE.sub(nb_link, piece[pos:lit.start()]), chapter_docs))
            chunk.append(_NB_LITERAL.sub(nb_link, lit.group()))
            pos = lit.end()
        chunk.append(_inline(_NB_BARE.sub(nb_link, piece[pos:]), chapter_docs))
        out.append("".join(chunk))
    return "".join(out)


def join_literals(doc: str) -> str:
    """Inline literals wrapped over lines, joined onto one line (napoleon splits a field at
    a colon unless the literal holding it is on one line, and re-indents continuations)."""
    return _LITERAL.sub(lambda m: " ".join(p.strip() for p in m.group().split("\n"))
                        if "\n" in m.group() else m.group(), doc)


def _join_literals(app, what, name, obj, options, lines):
    if name.startswith("dlmath") and lines:
        lines[:] = join_literals("\n".join(lines)).split("\n")


def _process_docstring(app, what, name, obj, options, lines):
    if not name.startswith("dlmath") or not lines:
        return
    new = convert("\n".join(lines), app.env.dlmath_chapters).split("\n")
    lines[:] = new


def _builder_inited(app):
    app.env.dlmath_chapters = chapters(app.srcdir)


def _cell_anchors(app, doctree):
    for node in doctree.findall(nodes.container):
        if node.get("nb_element") == "cell_code" and node.get("cell_index") is not None:
            anchor = f"cell-{node['cell_index']}"
            if anchor not in node["ids"]:
                node["ids"].append(anchor)


def setup(app):
    app.connect("builder-inited", _builder_inited)
    # before napoleon (priority 500) turns Google-style sections into fields, and after
    app.connect("autodoc-process-docstring", _join_literals, priority=400)
    app.connect("autodoc-process-docstring", _process_docstring, priority=600)
    app.connect("doctree-read", _cell_anchors)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
