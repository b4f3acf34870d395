"""The notebooks are what readers open: each must be paired with its MyST text (what
reviewers diff), in sync with it, and stored as one top-to-bottom run in a fresh kernel
without errors. nbval (run by the same `pytest`) then re-executes each one and compares
every stored text output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
IPYNBS = sorted(p for p in NOTEBOOKS.glob("*.ipynb"))
BENCH_MARKERS = ("bench.", "device_name", "jax.devices")


def test_the_book_has_chapters():
    assert IPYNBS, "no notebooks found in notebooks/"
    names = [p.stem for p in IPYNBS]
    assert all(n[:2].isdigit() and n[2] == "_" for n in names), names


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_paired_and_in_sync(path):
    md = path.with_suffix(".md")
    assert md.exists(), f"{path.name} has no paired {md.name} (jupytext --set-formats)"
    nb = json.loads(path.read_text())
    formats = nb["metadata"].get("jupytext", {}).get("formats", "")
    assert "md:myst" in formats, f"{path.name}: jupytext pairing missing ({formats!r})"
    text = jupytext.read(md)
    a = [(c.cell_type, c.source.strip()) for c in text.cells]
    b = [(c["cell_type"], "".join(c["source"]).strip()) for c in nb["cells"]]
    assert len(a) == len(b), f"{path.name}: {len(b)} cells, {md.name}: {len(a)}; jupytext --sync"
    for k, (x, y) in enumerate(zip(a, b, strict=True)):
        assert x == y, f"{path.name} cell {k} differs from {md.name} (run jupytext --sync)"


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_executed_top_to_bottom(path):
    nb = json.loads(path.read_text())
    counts = [c["execution_count"] for c in _code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts} are not one fresh top-to-bottom run; "
        "re-execute with jupyter nbconvert --to notebook --execute --inplace"
    )
    for k, c in enumerate(_code_cells(nb)):
        errors = [o for o in c["outputs"] if o["output_type"] == "error"]
        assert not errors, f"{path.name} code cell {k} stored an error: {errors[0]['ename']}"
        stderr = [o for o in c["outputs"] if o["output_type"] == "stream" and o["name"] == "stderr"]
        assert not stderr, (
            f"{path.name} code cell {k} stored a warning on stderr, which depends on the "
            f"machine: {''.join(stderr[0]['text'])[:200]!r}"
        )


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_escape_hatches_only_for_machine_dependent_cells(path):
    nb = json.loads(path.read_text())
    for k, c in enumerate(_code_cells(nb)):
        src = "".join(c["source"])
        assert "NBVAL_SKIP" not in src, f"{path.name} code cell {k}: NBVAL_SKIP hides a cell"
        if "NBVAL_IGNORE_OUTPUT" in src:
            assert any(m in src for m in BENCH_MARKERS), (
                f"{path.name} code cell {k}: NBVAL_IGNORE_OUTPUT is only for timings and "
                "device information (dlmath.bench); this cell has neither"
            )
            shown = "".join("".join(o.get("text", ""))
                            + "".join(o.get("data", {}).get("text/plain", ""))
                            for o in c["outputs"])
            verdict = re.search(r"(?<!=)\b(True|False)\b", shown)  # not a label such as jit=True
            assert verdict is None, (
                f"{path.name} code cell {k}: a cell whose output is not compared prints a verdict "
                f"({verdict and verdict.group(0)}); a False there would pass unseen, so move the "
                "check to a compared cell"
            )


#: ``from dlmath import a, b as c`` / ``from dlmath.formulas import x`` / ``import dlmath.y as z``
_DLMATH_IMPORT = re.compile(
    r"^\s*from dlmath(?:\.[\w.]+)? import \(?([\w\s,]+?)\)?\s*$"
    r"|^\s*import (dlmath[\w.]*)(?: as (\w+))?", re.M)


def _dlmath_names(code: str) -> set[str]:
    """The names a chapter binds to dlmath's modules and objects (``dlmath`` itself too)."""
    names = {"dlmath"}
    for imported, module, alias in _DLMATH_IMPORT.findall(code):
        if module:
            names.add(alias or module.split(".")[0])
        for part in imported.replace("\n", " ").split(","):
            words = part.split()
            if words:
                names.add(words[-1])  # "x as y" binds y
    return names


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_notebooks_use_public_names_only(path):
    """A chapter reads only public names of dlmath (no ``module._private``): what it shows
    and calls is what a reader may call too."""
    nb = json.loads(path.read_text())
    code = "\n".join("".join(c["source"]) for c in _code_cells(nb))
    # multi-line "from dlmath import (\n a,\n b,\n)" joined to one line first
    flat = re.sub(r"\(\s*\n([^)]*)\)", lambda m: m.group(1).replace("\n", " "), code)
    names = _dlmath_names(flat)
    private = sorted({m.group(0) for name in names
                      for m in re.finditer(rf"(?<![\w.]){re.escape(name)}(?:\.\w+)*\._[A-Za-z]\w*",
                                           code)})
    assert not private, f"{path.name} reads private names of dlmath: {private}"
