"""Unit tests of the HTML book's builder (``book/``), on a small registry and book of their
own in ``tmp_path``, without running Sphinx: the formula index takes every link from the
registry (:mod:`dlmath.formulas.links`), nothing guessed from the sources; the explorers
are drawn from their stored state; a build is fresh only when newer than its sources."""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

import pytest
import sympy as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from book import api, build, formula_index  # noqa: E402
from dlmath.formulas import Formula  # noqa: E402
from dlmath.formulas.links import DOCSTRING_TEST, Link, cell_of, location  # noqa: E402

_x = sp.Symbol("x", real=True)
SQUARE = Formula("losses.mse", _x**2, (_x,))
CUBE = Formula("testing.relative_error", _x**3, (_x,))


def _code(source) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {}, "outputs": []}


def _markdown(source) -> dict:
    return {"cell_type": "markdown", "source": source, "metadata": {}}


def _topic() -> types.ModuleType:
    """A topic module of two formulas (one of them under two names)."""
    topic = types.ModuleType("dlmath.formulas.toy", "Formulas of a toy chapter (chapter 01).")
    topic.SQUARE, topic.CUBE, topic.SAME_SQUARE = SQUARE, CUBE, SQUARE
    topic.DOCUMENTED = {"losses.mse": (SQUARE,), "testing.relative_error": (CUBE,)}
    return topic


def _book(tmp_path: Path, cells: list[dict]) -> dict[str, str]:
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "notebooks" / "01_toy.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return {"01": "01_toy"}


CELLS = [_markdown("# 01 · Toy"), _code("import sympy as sp"),
         _code("square = Derivation('x squared', x**2)\nsquare"), _code("print(square)")]
LINKS = {"toy.SQUARE": Link("01", "square = Derivation(", ("losses::test_mse_values",)),
         "toy.CUBE": Link("02", None, ("testing::test_relative_error",))}


def _index(tmp_path, cells=CELLS, links=LINKS) -> str:
    chapters = _book(tmp_path, cells)
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    n = formula_index.formula_index(tmp_path, src, chapters, topics=[_topic()], links=links)
    assert n == 2
    return (src / "formulas.rst").read_text(encoding="utf-8")


def test_the_formula_index_writes_the_links_the_registry_names(tmp_path):
    text = _index(tmp_path)
    square, cube = text.split(".. rubric:: ")[1:]
    assert text.startswith("Formula index\n=============")
    assert "Formulas of a toy chapter (chapter 01) (``toy``)\n----" in text
    assert square.startswith("``losses.mse`` (``toy.SQUARE``)")  # its first constant's name
    assert "   x^{2}\n" in square and "   x^{3}\n" in cube
    assert "- implemented by :py:obj:`dlmath.losses.mse`" in square
    assert ("- derived in :doc:`chapter 01 </notebooks/01_toy>` "
            "(`cell 2 <notebooks/01_toy.html#cell-2>`__)") in square
    docstring_file, docstring_test = location(DOCSTRING_TEST)
    assert f"  - ``{docstring_file}``: ``{docstring_test}``" in square
    assert "  - ``tests/test_losses.py``: ``test_mse_values``" in square
    # a chapter that is not in this build is named, not linked
    assert "- derived in chapter 02 (not in this build)" in cube
    assert "  - ``tests/test_testing.py``: ``test_relative_error``" in cube


def test_the_cell_link_follows_the_cell_when_cells_move(tmp_path):
    text = _index(tmp_path, [CELLS[0], _code("x = sp.Symbol('x')"), *CELLS[1:]])
    assert "notebooks/01_toy.html#cell-3" in text


def test_a_formula_without_a_chapter_or_a_cell_links_what_it_has(tmp_path):
    links = {"toy.SQUARE": Link(None, None, ()), "toy.CUBE": Link("01", None, ())}
    square, cube = _index(tmp_path, links=links).split(".. rubric:: ")[1:]
    assert "derived in" not in square and "- checked by" in square
    assert "- derived in :doc:`chapter 01 </notebooks/01_toy>`\n" in cube


def test_a_stale_link_or_a_missing_one_fails_the_build(tmp_path):
    with pytest.raises(LookupError, match="0 code cells"):
        _index(tmp_path, links={**LINKS, "toy.SQUARE": Link("01", "cube = ", ())})
    with pytest.raises(LookupError, match="2 code cells"):
        _index(tmp_path, [*CELLS, _code("square = Derivation('again', x**2)")])
    with pytest.raises(LookupError, match=r"toy\.CUBE has no entry"):
        _index(tmp_path, links={"toy.SQUARE": LINKS["toy.SQUARE"]})


def test_cell_of_reads_code_cells_only_and_lines_from_their_start():
    nb = {"cells": [_markdown("square = Derivation( in prose"),
                    _code(["x = 1\n", "    square = Derivation(1)\n"]),
                    _code("not_square = Derivation(2)")]}
    assert cell_of(nb, "square = Derivation(") == 1
    assert location("formulas::test_x") == ("tests/test_formulas.py", "test_x")


# ------------------------------------------------------------------ the other pages


def test_chapters_are_the_numbered_notebooks_titled_by_their_first_heading(tmp_path):
    _book(tmp_path, CELLS)
    (tmp_path / "notebooks" / "scratch.ipynb").write_text("{}", encoding="utf-8")
    assert [p.name for p in build.chapter_notebooks(tmp_path)] == ["01_toy.ipynb"]
    assert build.chapter_title({"cells": CELLS}, "fallback") == "01 · Toy"
    assert build.chapter_title({"cells": CELLS[1:]}, "fallback") == "fallback"


def test_explorers_are_drawn_as_static_html_from_their_stored_state():
    state = {"box": {"model_name": "VBoxModel",
                     "state": {"children": ["IPY_MODEL_s", "IPY_MODEL_out"]}},
             "s": {"model_name": "FloatSliderModel",
                   "state": {"description": "eta", "value": 0.25, "min": 0, "max": 1,
                             "step": 0.05}},
             "out": {"model_name": "OutputModel",
                     "state": {"outputs": [{"data": {"image/png": "AAAA"}}]}}}
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": "box"}}
    nb = {"metadata": {"widgets": {"application/vnd.jupyter.widget-state+json":
                                   {"state": state}}},
          "cells": [{"cell_type": "code", "outputs": [{"data": view}]}]}
    out = build.static_widgets(nb)
    html = out["cells"][0]["outputs"][0]["data"]["text/html"]
    assert "widgets" not in out["metadata"]
    assert '<div class="dlmath-widget-col">' in html
    assert 'type="range" disabled min="0" max="1" step="0.05" value="0.25"' in html
    assert "<output>0.25</output>" in html and 'src="data:image/png;base64,AAAA"' in html


def test_a_build_is_fresh_only_when_newer_than_every_source(tmp_path):
    out = tmp_path / "html"
    assert not build.is_fresh(out, tmp_path)  # nothing built
    _book(tmp_path, CELLS)
    out.mkdir()
    (out / "index.html").write_text("book", encoding="utf-8")
    (out / build.STAMP).write_text("built", encoding="utf-8")
    source = tmp_path / "notebooks" / "01_toy.ipynb"
    os.utime(out / build.STAMP, (100, 100))
    os.utime(source, (50, 50))
    assert build.is_fresh(out, tmp_path)
    os.utime(source, (150, 150))  # changed after the build
    assert not build.is_fresh(out, tmp_path)


def test_each_object_has_its_api_page_where_it_is_defined():
    own, elsewhere = api.members("dlmath.symbolic", {"dlmath.symbolic", "dlmath.derivation"})
    assert "show" in own and "to_jax" in own
    assert "dlmath.derivation.Derivation" in elsewhere and "Derivation" not in own
    # a re-export from a module without a page of its own is documented here
    own, elsewhere = api.members("dlmath.symbolic", {"dlmath.symbolic"})
    assert "Derivation" in own and not elsewhere
    modules = api.api_modules()
    assert modules[0] == "dlmath" and "dlmath.notebook" in modules
    assert "dlmath.formulas.registry" in modules and "dlmath.formulas.activations" not in modules
