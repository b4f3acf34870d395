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
            shown = "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                            for o in c["outputs"])
            verdict = re.search(r"(?<!=)\b(True|False)\b", shown)  # not a label such as jit=True
            assert verdict is None, (
                f"{path.name} code cell {k}: a cell whose output is not compared prints a verdict "
                f"({verdict and verdict.group(0)}); a False there would pass unseen, so move the "
                "check to a compared cell"
            )
