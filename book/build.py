"""Build the HTML book: ``python -m book build`` writes ``_build/html``.

The book is made from what is committed, as stored: the chapter notebooks with their
outputs (nothing is executed), the API reference from dlmath's docstrings, and a formula
index generated from :mod:`dlmath.formulas`, so none of it can go stale. The steps:

1. lay out a Sphinx source folder (``_build/src``): each ``notebooks/NN_*.ipynb``, its
   explorers' stored widget state drawn as static HTML (controls and figure; the live
   widgets need a kernel, i.e. JupyterLab); an index page; one API page per dlmath module
   (:mod:`book.api`); the formula index (:mod:`book.formula_index`);
2. run Sphinx with ``book/conf.py`` (sphinx-book-theme, a local MathJax).

Everything comes from installed packages: the build and the pages need no network.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from book.api import api_pages
from book.formula_index import formula_index

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "book"
DEFAULT_OUT = ROOT / "_build" / "html"
#: what a build reads: a build newer than all of these is fresh
SOURCES = ("notebooks/*.ipynb", "dlmath/**/*.py", "book/**/*")
#: the file a complete build writes last, in its output folder
STAMP = ".dlmath-build"


# ------------------------------------------------------------------ chapters


def chapter_notebooks(root: Path = ROOT) -> list[Path]:
    """The chapter notebooks, in order (``notebooks/NN_topic.ipynb``)."""
    return sorted(p for p in (root / "notebooks").glob("*.ipynb") if re.match(r"\d\d_", p.name))


def chapter_title(nb: dict, fallback: str) -> str:
    """The first ``#`` heading of a notebook."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


# ------------------------------------------------------------------ explorers, drawn statically


def _esc(x) -> str:
    return html.escape(str(x))


class _WidgetDrawer:
    """The stored state of an ipywidgets tree as static HTML: what the reader saw last."""

    def __init__(self, state: dict):
        self.state = state

    def model(self, ref):
        mid = ref.removeprefix("IPY_MODEL_") if isinstance(ref, str) else None
        return self.state.get(mid) if mid else None

    def buffer(self, model, name):
        for b in model.get("buffers", []):
            if b.get("path") == [name] and b.get("encoding", "base64") == "base64":
                return b["data"]
        return None

    def draw(self, ref) -> str:
        m = self.model(ref)
        if m is None:
            return ""
        name, s = m["model_name"], m["state"]
        desc = s.get("description", "")
        label = f'<span class="dlmath-widget-desc">{_esc(desc)}</span>' if desc else ""
        if name in ("VBoxModel", "BoxModel", "GridBoxModel", "HBoxModel", "AccordionModel",
                    "TabModel"):
            cls = "dlmath-widget-row" if name == "HBoxModel" else "dlmath-widget-col"
            inner = "".join(self.draw(c) for c in s.get("children", []))
            return f'<div class="{cls}">{inner}</div>'
        if name in ("IntSliderModel", "FloatSliderModel", "FloatLogSliderModel"):
            value = s.get("value")
            lo, hi, step = s.get("min", 0), s.get("max", 100), s.get("step", 1)
            pos = value
            if name == "FloatLogSliderModel":
                import math

                base = s.get("base", 10)
                pos = math.log(value, base) if value and value > 0 else lo
                shown = f"{value:.3g}"
            elif name == "FloatSliderModel":
                shown = f"{value:.{2 if abs(step) >= 0.01 else 3}f}"
            else:
                shown = str(value)
            return (f'<label>{label}<input type="range" disabled min="{_esc(lo)}" '
                    f'max="{_esc(hi)}" step="{_esc(step)}" value="{_esc(pos)}"> '
                    f"<output>{_esc(shown)}</output></label>")
        if name in ("SelectionSliderModel", "DropdownModel", "SelectModel",
                    "ToggleButtonsModel", "RadioButtonsModel"):
            labels, index = s.get("_options_labels", []), s.get("index")
            opts = "".join(f"<option{' selected' if i == index else ''}>{_esc(o)}</option>"
                           for i, o in enumerate(labels))
            return f"<label>{label}<select disabled>{opts}</select></label>"
        if name in ("CheckboxModel", "ToggleButtonModel"):
            checked = " checked" if s.get("value") else ""
            return f'<label><input type="checkbox" disabled{checked}> {_esc(desc)}</label>'
        if name in ("IntProgressModel", "FloatProgressModel"):
            return (f'<label>{label}<progress value="{_esc(s.get("value", 0))}" '
                    f'max="{_esc(s.get("max", 100))}"></progress></label>')
        if name in ("HTMLModel", "HTMLMathModel"):
            return f"<div>{s.get('value', '')}</div>"
        if name == "LabelModel":
            return f"<div>{_esc(s.get('value', ''))}</div>"
        if name == "ImageModel":
            data = self.buffer(m, "value")
            if not data:
                return ""
            fmt = _esc(s.get("format", "png"))
            return f'<img alt="{_esc(desc or "figure")}" src="data:image/{fmt};base64,{data}">'
        if name == "OutputModel":
            parts = []
            for out in s.get("outputs", []):
                d = out.get("data", {})
                if "image/png" in d:
                    parts.append(f'<img alt="figure" src="data:image/png;base64,{d["image/png"]}">')
                elif "text/plain" in d or out.get("text"):
                    text = "".join(d.get("text/plain", out.get("text", "")))
                    parts.append(f"<pre>{_esc(text)}</pre>")
            return "".join(parts)
        return ""


def static_widgets(nb: dict) -> dict:
    """The notebook with each widget output replaced by its stored state drawn as HTML.

    Without a kernel a widget is only its saved state; a page that loaded a widget manager
    from a CDN would not work offline. The widget metadata is dropped from the copy.
    """
    store = nb.get("metadata", {}).pop("widgets", {})
    state = store.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    drawer = _WidgetDrawer(state)
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view is None:
                continue
            inner = drawer.draw(view.get("model_id", ""))
            note = ("Interactive explorer: its controls and figure as stored; run the notebook "
                    "in JupyterLab to move them.")
            body = (f'<div class="dlmath-widget"><p class="dlmath-widget-note">{note}</p>'
                    f"{inner}</div>") if inner else f'<p class="dlmath-widget-note">{note}</p>'
            out["data"] = {"text/html": body, "text/plain": "(interactive explorer)"}
    return nb


# ------------------------------------------------------------------ the whole source folder


_INTRO = """\
An executable textbook: each chapter derives the formulas of deep learning in SymPy (every
claimed step proven, with its scope stated), displays them from the same SymPy objects,
implements them in JAX in the `dlmath` package and verifies them against the derivation,
`jax.grad`, float64 finite differences and the libraries practitioners use.

These pages are the notebooks as stored, with their outputs; the explorers' controls are
shown as they were saved. To run the code and move the sliders, open the notebooks in
JupyterLab (see the README). The [formula index](formulas.rst) lists every formula the code
documents, with the chapter that derives it, the function that implements it and the tests
that check it; the [API reference](api/index.rst) is generated from the docstrings.
"""


def stage(src: Path, root: Path = ROOT) -> dict[str, str]:
    """Lay out the Sphinx source folder; returns ``{"01": "01_linear_regression", ...}``."""
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    chapter_docs, toc = {}, []
    for path in chapter_notebooks(root):
        nb = json.loads(path.read_text(encoding="utf-8"))
        nb = static_widgets(nb)
        (src / "notebooks" / path.name).write_text(json.dumps(nb, indent=1), encoding="utf-8")
        chapter_docs[path.name[:2]] = path.stem
        toc.append((path.stem, chapter_title(nb, path.stem)))
    sys.path.insert(0, str(CONF_DIR))
    api_pages(src)
    formula_index(root, src, chapter_docs)
    index = ["# dlmath — the mathematics of deep learning, derived, shown, implemented, verified",
             "", _INTRO, "## Chapters", "",
             *[f"- [{title}](notebooks/{stem}.ipynb)" for stem, title in toc], "",
             "```{toctree}", ":hidden:", ":caption: Chapters", ":maxdepth: 1", "",
             *[f"notebooks/{stem}" for stem, _ in toc], "```", "",
             "```{toctree}", ":hidden:", ":caption: Reference", ":maxdepth: 1", "",
             "formulas", "api/index", "```", ""]
    (src / "index.md").write_text("\n".join(index), encoding="utf-8")
    return chapter_docs


def is_fresh(out: Path = DEFAULT_OUT, root: Path = ROOT) -> bool:
    """Whether ``out`` holds a complete build newer than everything it is made from."""
    stamp = out / STAMP
    if not stamp.exists() or not (out / "index.html").exists():
        return False
    built = stamp.stat().st_mtime
    return all(p.stat().st_mtime < built
               for pattern in SOURCES for p in root.glob(pattern) if p.is_file())


def build(out: Path = DEFAULT_OUT, *, jobs: str = "1", quiet: bool = True) -> Path:
    """Stage the sources next to ``out`` (``<out>/../src``) and run Sphinx into ``out``.

    Sphinx runs in a child process (autodoc imports dlmath there, not here).
    """
    out = Path(out).resolve()
    src = out.parent / "src"
    start = time.time()
    stage(src)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(CONF_DIR), "-j", jobs,
           "-E", str(src), str(out)]
    if quiet:
        cmd.insert(3, "-q")
    subprocess.run(cmd, check=True, cwd=ROOT)
    (out / STAMP).write_text(f"built in {time.time() - start:.1f} s\n", encoding="utf-8")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m book", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the HTML book (default: _build/html)")
    b.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    b.add_argument("-j", "--jobs", default="1", help="Sphinx's parallel jobs ('auto' or N)")
    b.add_argument("-v", "--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    start = time.time()
    out = build(args.out, jobs=args.jobs, quiet=not args.verbose)
    print(f"book: {out / 'index.html'} ({time.time() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
