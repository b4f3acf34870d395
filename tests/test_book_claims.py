"""The book's claims are checkable:

* every math output a reader sees typesets (no MathJax error box);
* every proof line shows its scope (proven / checked / argued);
* the prose holds no measured figure (timings, speed-ups, bandwidth fractions, accuracies);
* every "chapter NN" reference points at a chapter that exists;
* every exercise checker is run by the tests on a right and on wrong answers, and each
  chapter has a derive exercise and an implement exercise.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dlmath.symbolic import latex_errors

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
IPYNBS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
CHAPTERS = {p.stem[:2]: p.stem for p in IPYNBS}
CHECK_CALL = re.compile(r"\bcheck\(\s*\"Exercise")


def _cells(path, kind):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == kind]


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def _outputs(path, mime):
    for k, c in enumerate(_cells(path, "code")):
        for o in c.get("outputs", []):
            data = o.get("data", {})
            if mime in data:
                yield k, _text(data[mime])


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_every_stored_formula_typesets(path):
    problems = [(k, latex, errs) for k, latex in _outputs(path, "text/latex")
                if (errs := latex_errors(latex))]
    assert not problems, (
        f"{path.name}: {len(problems)} LaTeX outputs would be MathJax error boxes; first, code "
        f"cell {problems[0][0]}: {problems[0][2]} in {problems[0][1][:200]!r}"
    )


PROOF_LINE = re.compile(r"^(proven|checked at|argued in the text)\b")


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_no_proof_line_without_its_scope(path):
    """The old display ("proven: <free text>") let a caption claim more than its objects."""
    for k, text in _outputs(path, "text/plain"):
        for line in text.splitlines():
            assert not re.match(r"^proven: ", line), (
                f"{path.name} code cell {k} prints an old-style proof caption {line!r}; "
                "re-execute the chapter with the current dlmath.symbolic"
            )
    for k, c in enumerate(_cells(path, "code")):
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream":
                for line in _text(o["text"]).splitlines():
                    assert not line.startswith("proven: "), (path.name, k, line)


# ---------------------------------------------------------------- no measured figure in prose

_NUM = r"\d+(?:\.\d+)?"
MEASURED = [
    re.compile(_NUM + r"\s*(?:ms|µs|us|ns|s)\b(?!\w)"),                     # a duration
    re.compile(_NUM + r"\s*(?:[kKMGT]B/s|[GMT]?FLOP/s|[GMT]?FLOPS)\b"),     # a rate
    re.compile(_NUM + r"\s*(?:×|x|times)\s+(?:as\s+)?(?:faster|slower|quicker)", re.I),
    re.compile(r"(?:faster|slower|speed-?up)\s+(?:of\s+|by\s+)?(?:about\s+)?" + _NUM
               + r"\s*(?:×|x\b|times)", re.I),
    re.compile(_NUM + r"\s*%\s+(?:of\s+)?(?:the\s+)?(?:copy|bandwidth|ceiling|peak|speed)", re.I),
    re.compile(r"accura\w*\s+(?:of\s+|is\s+|reaches\s+|about\s+)*(?:0\.\d+|\d+(?:\.\d+)?\s*%)",
               re.I),
]


def _prose(path):
    for k, c in enumerate(_cells(path, "markdown")):
        text = _text(c["source"])
        text = re.sub(r"\$\$.*?\$\$|\$[^$\n]*\$|`[^`]*`", " ", text, flags=re.S)
        yield k, " ".join(text.split())


def measured_figures(text: str) -> list[str]:
    return [m.group(0) for pat in MEASURED for m in pat.finditer(text)]


def test_the_prose_check_finds_measured_figures():
    assert measured_figures("the blocked kernel is 26.4x faster than the naive one")
    assert measured_figures("it reaches 207% of the copy bandwidth")
    assert measured_figures("a test accuracy of 0.98 after 30 epochs")
    assert measured_figures("one step takes 3.2 ms")
    assert not measured_figures("several times faster; the 4-6-5-3 network; K = 10 classes")


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_no_measured_figure_in_prose(path):
    hits = [(k, f) for k, text in _prose(path) for f in measured_figures(text)]
    assert not hits, (
        f"{path.name}: measured figures in markdown (they vary by machine and belong in "
        f"outputs; the text states conclusions): {hits}"
    )


# ---------------------------------------------------------------- cross-references

REFERENCE = re.compile(r"\b[Cc]hapters?\s+(\d{2})\b")


def test_chapter_references_point_at_existing_chapters():
    sources = [(p.name, text) for p in IPYNBS for _, text in _prose(p)]
    sources.append(("README.md", (ROOT / "README.md").read_text()))
    for py in sorted((ROOT / "dlmath").rglob("*.py")):
        sources.append((str(py.relative_to(ROOT)), py.read_text()))
    missing = [(name, m.group(1)) for name, text in sources for m in REFERENCE.finditer(text)
               if m.group(1) not in CHAPTERS]
    assert not missing, f"references to chapters that do not exist: {missing}"


def test_notebook_paths_named_in_the_code_exist():
    named = set()
    for py in sorted((ROOT / "dlmath").rglob("*.py")):
        named |= set(re.findall(r"notebooks/(\d\d_\w+)\.ipynb", py.read_text()))
    missing = sorted(n for n in named if not (NOTEBOOKS / f"{n}.ipynb").exists())
    assert not missing, f"docstrings name notebooks that do not exist: {missing}"


# ---------------------------------------------------------------- exercises are tested


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_every_checker_is_tested_right_and_wrong(path):
    from exercise_harness import checkers

    found = checkers(path.stem)
    assert found, f"{path.name}: no exercise checker (exercises.check(...)) found"
    test_file = ROOT / "tests" / f"test_exercises_{path.stem[:2]}.py"
    assert test_file.exists(), f"{path.name}: its checkers need tests in {test_file.name}"
    tests = test_file.read_text()
    untested = [label for label in found if f'"{label}"' not in tests]
    assert not untested, f"{test_file.name} does not exercise {untested}"
    assert "judge(" in tests and ".ok is False" in tests and ".ok is True" in tests, (
        f"{test_file.name} must judge reference answers (ok is True) and mistakes (ok is False)"
    )


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_each_chapter_has_a_derive_and_an_implement_exercise(path):
    checker_sources = [_text(c["source"]) for c in _cells(path, "code")
                       if CHECK_CALL.search(_text(c["source"]))]
    joined = "\n".join(checker_sources)
    assert "same_expression(" in joined, f"{path.name}: no derive exercise (same_expression)"
    assert "same_function(" in joined, f"{path.name}: no implement exercise (same_function)"


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_stored_checker_outputs_do_not_reveal_answers(path):
    for k, c in enumerate(_cells(path, "code")):
        if not CHECK_CALL.search(_text(c["source"])):
            continue
        printed = "".join(_text(o.get("text", "")) for o in c.get("outputs", []))
        assert "not answered yet" in printed, (
            f"{path.name} code cell {k}: a checker's stored output must be the unanswered "
            f"state; got {printed[:120]!r}"
        )
