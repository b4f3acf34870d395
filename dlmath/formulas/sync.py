"""Write the registered formulas into the docstrings: ``python -m dlmath.formulas.sync``.

Every formula a docstring of :mod:`dlmath` quotes as display math (a ``$$`` ... ``$$``
block) is a :class:`~dlmath.formulas.Formula` registered in its topic module's
``DOCUMENTED`` dict (``"module.function"`` or ``"module.Class.method"`` -> formulas, in
order). This command rewrites, in the source files, the blocks of each registered
docstring from ``sympy.latex`` of its formulas, so nobody pastes printer output by hand.

* A block whose text already equals the formula up to whitespace is left exactly as it is
  (hand wrapping survives), so the command is idempotent.
* A block that differs is replaced by the formula, on one line when it fits in 100
  columns, otherwise wrapped at spaces (after a ``+``, ``-`` or ``=`` where possible, so no
  line starts with a sign) with the continuation lines at the indentation of the line the
  block opens on. :func:`dlmath.formulas.registry.math_blocks` joins whitespace, so it
  reads the result back as exactly ``sympy.latex`` of the formula.
* What the command cannot fix is listed, and it exits non-zero: a docstring with fewer
  blocks than registered formulas (write a placeholder block, e.g. two ``$$`` around a
  space, where each new formula goes), one with more, an unregistered block in the
  docstring of any public object (functions, classes and their public methods and
  properties, in every dlmath module with an ``__all__``), or a docstring that is not a raw
  string (``r\"\"\"``) while the formula has a backslash.

``--check`` writes nothing: it lists every difference and exits 1 when there is one.

A ``$$`` inside an inline literal (double backquotes, as in this docstring) is text, not
math, and is ignored.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from dlmath.formulas.registry import (
    find_def,
    locate,
    math_blocks,
    math_spans,
    public_docstrings,
)

__all__ = ["format_block", "out_of_sync", "sync", "main", "WIDTH"]

#: The line length of the sources (ruff's line-length), which wrapped blocks respect.
WIDTH = 100
_PREFIX = re.compile(r"([rRuUbBfF]*)(\"\"\"|'''|\"|')")
_BREAK_AFTER = {"+", "-", "=", r"\cdot", r"\times"}
_PACKAGE = Path(__file__).resolve().parent.parent


def _normalize(text: str) -> str:
    return " ".join(text.split())


def _registry() -> dict:
    from dlmath.formulas import DOCUMENTED

    return DOCUMENTED


@dataclass
class _Edit:
    key: str
    path: Path
    line: int          # 1-based line of the block's opening $$
    start: int         # character offsets of the block's content in the file
    end: int
    old: str
    new: str


def format_block(latex: str, column: int, indent: str) -> str:
    """The text a sync writes between ``$$`` and ``$$``.

    One line when the block fits in :data:`WIDTH` columns; otherwise wrapped at spaces,
    after a binary ``+``, ``-``, ``=`` where that fills at least half a line (so no line
    starts with a sign), each continuation line starting with ``indent``. Whitespace
    joined, it is ``latex`` again.

    Args:
        latex: the formula's ``sympy.latex``.
        column: the column of the opening ``$$`` in its line.
        indent: the indentation of that line.
    """
    one = " ".join(latex.split())
    if column + 2 + len(one) + 2 <= WIDTH:
        return one
    words = one.split(" ")
    units: list[str] = []          # words, with a binary operator glued to the word before
    for w in words:
        if units and w in _BREAK_AFTER:
            units[-1] += " " + w
        else:
            units.append(w)
    lines: list[str] = []
    current: list[str] = []
    room = WIDTH - column - 2 - 2
    for u in units:
        if current and len(" ".join(current + [u])) > room:
            cut = len(current)
            for pos in range(len(current) - 1, 0, -1):   # after an operator, if not too early
                if current[pos - 1].split(" ")[-1] in _BREAK_AFTER:
                    if len(" ".join(current[:pos])) >= room // 2:
                        cut = pos
                    break
            lines.append(" ".join(current[:cut]))
            current = current[cut:]
            room = WIDTH - len(indent) - 2
        current.append(u)
    lines.append(" ".join(current))
    return ("\n" + indent).join(lines)


def _plan() -> tuple[list[_Edit], list[str]]:
    """The block rewrites the registry asks for, and the problems no rewrite can fix."""
    edits: list[_Edit] = []
    problems: list[str] = []
    texts: dict[Path, str] = {}
    trees: dict[Path, ast.Module] = {}
    for key, formulas in _registry().items():
        try:
            module_name, qualname = locate(key)
        except LookupError as e:
            problems.append(str(e))
            continue
        module = sys.modules[module_name]
        path = Path(module.__file__)
        rel = path.resolve().relative_to(_PACKAGE.parent)
        if path not in texts:
            texts[path] = path.read_text(encoding="utf-8")
            trees[path] = ast.parse(texts[path])
        text = texts[path]
        node = find_def(trees[path], qualname)
        if node is None:
            problems.append(f"{rel}: {key}: no def or class {qualname!r} in this file")
            continue
        first = node.body[0] if node.body else None
        if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            problems.append(f"{rel}:{node.lineno}: {key}: has no docstring; write one with a "
                            f"placeholder block per registered formula ({len(formulas)})")
            continue
        lines = text.split("\n")
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line) + 1)

        def char_offset(lineno, col_bytes, lines=lines, offsets=offsets):
            line = lines[lineno - 1]
            return offsets[lineno - 1] + len(line.encode("utf-8")[:col_bytes].decode("utf-8"))

        seg_start = char_offset(first.value.lineno, first.value.col_offset)
        seg_end = char_offset(first.value.end_lineno, first.value.end_col_offset)
        segment = text[seg_start:seg_end]
        m = _PREFIX.match(segment)
        if m is None or not segment.endswith(m.group(2)):
            problems.append(f"{rel}:{first.lineno}: {key}: the docstring is not one plain "
                            "string literal")
            continue
        raw = "r" in m.group(1).lower()
        body_start = seg_start + m.end()
        body = text[body_start:seg_end - len(m.group(2))]
        spans = math_spans(body)
        value_blocks = math_blocks(first.value.value)
        if len(spans) != len(value_blocks):
            problems.append(f"{rel}:{first.lineno}: {key}: escapes in the docstring hide its "
                            "$$ blocks; make it a raw string (r\"\"\")")
            continue
        if len(spans) != len(formulas):
            what = ("add a placeholder block where each missing formula goes"
                    if len(spans) < len(formulas) else
                    "register the extra formula or remove its block")
            problems.append(f"{rel}:{first.lineno}: {key}: the docstring has {len(spans)} $$ "
                            f"block(s), the registry {len(formulas)}; {what}")
            continue
        for n, ((s, e), got, formula) in enumerate(
                zip(spans, value_blocks, formulas, strict=True), start=1):
            want = _normalize(formula.latex)
            if got == want:
                continue
            start, end = body_start + s, body_start + e
            line_start = text.rfind("\n", 0, start) + 1
            line_no = text.count("\n", 0, start) + 1
            if not raw and "\\" in want:
                problems.append(f"{rel}:{line_no}: {key}: block {n} differs from "
                                f"{formula.name}, and the docstring is not a raw string "
                                "(r\"\"\"); make it one so the LaTeX's backslashes survive")
                continue
            opening = text[line_start:start]
            indent = opening[:len(opening) - len(opening.lstrip())]
            new = format_block(want, len(opening) - 2, indent)
            edits.append(_Edit(key, path, line_no, start, end, text[start:end], new))
    return edits, problems


def _unregistered() -> list[str]:
    """``$$`` blocks in docstrings of public objects whose key is not registered."""
    registered = _registry()
    out = []
    for key, doc in sorted(public_docstrings().items()):
        if key not in registered:
            for block in math_blocks(doc):
                out.append(f"dlmath.{key}: the $$ block {block} is no registered formula; "
                           f"write it as a Formula and register it under {key!r} in its "
                           "topic's DOCUMENTED")
    return out


def _describe(edit: _Edit) -> str:
    rel = edit.path.resolve().relative_to(_PACKAGE.parent)
    return (f"{rel}:{edit.line}: {edit.key}: the docstring quotes\n    {_normalize(edit.old)}\n"
            f"  the registry has\n    {_normalize(edit.new)}")


def out_of_sync() -> list[str]:
    """What differs between the registry and the docstrings, one line each; writes nothing.

    Lists every block a sync would rewrite, every block it cannot place, and every ``$$``
    block in a public docstring that belongs to no registered formula. An empty list means
    the docstrings quote exactly the registered formulas, in order.
    """
    edits, problems = _plan()
    return [_describe(e) for e in edits] + problems + _unregistered()


def sync() -> tuple[list[str], list[str]]:
    """Rewrite the differing blocks in the source files.

    Returns:
        ``(rewritten, problems)``: one line per block written, and one per difference it
        could not fix (the same lines :func:`out_of_sync` gives for them).
    """
    edits, problems = _plan()
    by_path: dict[Path, list[_Edit]] = {}
    for e in edits:
        by_path.setdefault(e.path, []).append(e)
    for path, file_edits in by_path.items():
        text = path.read_text(encoding="utf-8")
        for e in sorted(file_edits, key=lambda e: e.start, reverse=True):
            text = text[:e.start] + e.new + text[e.end:]
        path.write_text(text, encoding="utf-8")
    return [_describe(e) for e in edits], problems + _unregistered()


def main(argv: list[str] | None = None) -> int:
    """The command line: ``python -m dlmath.formulas.sync [--check]``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m dlmath.formulas.sync",
        description="Write the registered formulas (dlmath.formulas) into the docstrings.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; list the differences and exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        diffs = out_of_sync()
        for line in diffs:
            print(line)
        if diffs:
            print(f"{len(diffs)} difference(s); run python -m dlmath.formulas.sync",
                  file=sys.stderr)
        return 1 if diffs else 0
    rewritten, problems = sync()
    for line in rewritten:
        print("rewrote", line)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
