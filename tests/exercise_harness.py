"""Runs a chapter's exercise checkers outside the notebook, for the tests.

A checker cell is a code cell that calls ``exercises.check("Exercise N", answer, verdict)``
(or ``check(...)`` imported from :mod:`dlmath.exercises`).
It may use only what the chapter's setup cell (its first code cell) and the cell just above
it (where the reader writes the answer) define: then it can be run here, in-process, on any
answer. :func:`checkers` executes the setup cell, and each answer and checker cell in turn
(with their printing silenced), and returns the verdict functions by exercise label.

The tests then call ``dlmath.exercises.judge(label, answer, verdict)`` with a reference
solution (it must say right) and with plausible mistakes (it must say not right).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from functools import cache
from pathlib import Path

import jupytext

CHECK_CALL = re.compile(r"\bcheck\(")
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _check_calls(source: str):
    """(label, verdict name) of each ``exercises.check(label, answer, verdict)`` call."""
    for node in ast.walk(ast.parse(source)):
        func = getattr(node, "func", None)
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if (isinstance(node, ast.Call) and name == "check" and len(node.args) == 3
                and isinstance(node.args[0], ast.Constant)):
            verdict = node.args[2]
            yield node.args[0].value, verdict


@cache
def _run(chapter: str):
    path = NOTEBOOKS / f"{chapter}.md"
    nb = jupytext.read(path)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    if not code:
        raise ValueError(f"{path}: no code cells")
    namespace: dict = {"__name__": f"exercises_of_{chapter}"}
    found: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code[0], f"{chapter}: setup cell", "exec"), namespace)
        for k, source in enumerate(code):
            calls = list(_check_calls(source)) if CHECK_CALL.search(source) else []
            if not calls:
                continue
            if k - 1 > 0:  # the answer cell just above (not the setup cell itself)
                exec(compile(code[k - 1], f"{chapter}: answer cell {k - 1}", "exec"), namespace)
            exec(compile(source, f"{chapter}: checker cell {k}", "exec"), namespace)
            for label, verdict_node in calls:
                found[label] = eval(compile(ast.Expression(verdict_node), label, "eval"),
                                    namespace)
    return found, namespace


def checkers(chapter: str) -> dict:
    """``{"Exercise N": verdict}`` for the chapter ``notebooks/<chapter>.md``."""
    return _run(chapter)[0]


def namespace(chapter: str) -> dict:
    """The names the setup cell defined (``sp``, ``jnp``, the chapter's modules, ...), to
    build answers with."""
    return _run(chapter)[1]
