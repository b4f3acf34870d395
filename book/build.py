"""Build the HTML book: ``python -m book build`` writes ``_build/html``.

The book is made from what is committed, as stored: the chapter notebooks with their
outputs (nothing is executed), the API reference from dlmath's docstrings, and a formula
index generated from :mod:`dlmath.formulas`, so none of it can go stale. The steps:

1. draw the explorers' frames (:mod:`book.frames`): each chapter is executed up to its last
   explorer, and every explorer's figure is drawn on a grid of its controls' positions
   (cached in ``_build/frames``; ``--frames 03_cross_entropy,08_attention`` selects the
   chapters, ``--no-frames`` draws none);
2. lay out a Sphinx source folder (``_build/src``): each ``notebooks/NN_*.ipynb`` as stored,
   its explorers made to move over their frames (HTML controls that snap to the grid, the
   figure swapped by ``_static/explorer.js``), or, for a chapter without frames, drawn from
   their stored widget state (controls and figure, not moving); an index page; one API
   page per dlmath module (:mod:`book.api`); the formula index (:mod:`book.formula_index`);
3. run Sphinx with ``book/conf.py`` (sphinx-book-theme, a local MathJax).

Everything comes from installed packages: the build and the pages need no network and no
kernel.
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

from book import frames as _frames
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


def _json_script(data) -> str:
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def _moving_control(j: int, axis: dict) -> str:
    """One control of a moving explorer: ``data-axis`` is its place in the frames' keys."""
    desc = _esc(axis["description"])
    label = f'<span class="dlmath-widget-desc">{desc}</span>'
    labels, initial, kind = axis["labels"], axis["initial"], axis["kind"]
    if kind == "slider" and len(labels) > 1:
        return (f'<label>{label}<input type="range" min="0" max="{len(labels) - 1}" step="1" '
                f'value="{initial}" data-axis="{j}" '
                f"data-labels='{_esc(json.dumps(labels))}'> "
                f"<output>{_esc(labels[initial])}</output></label>")
    if kind == "select":
        opts = "".join(f"<option{' selected' if i == initial else ''}>{_esc(o)}</option>"
                       for i, o in enumerate(labels))
        return f'<label>{label}<select data-axis="{j}">{opts}</select></label>'
    if kind == "checkbox":
        checked = " checked" if initial == 1 else ""
        return f'<label><input type="checkbox" data-axis="{j}"{checked}> {desc}</label>'
    # one position: shown as the widget, disabled, with why (in short; the note in full on
    # hovering, and the explorer's note names every such control)
    why = axis.get("note", "")
    short = why.split(":")[0] if why else ""
    note = (f' <em class="dlmath-explorer-fixed" title="{_esc(why)}">({_esc(short)})</em>'
            if why else "")
    shown = labels[initial]
    if axis.get("control") in ("Checkbox", "ToggleButton"):
        checked = " checked" if shown == "on" else ""
        return f'<label><input type="checkbox" disabled{checked}> {desc}{note}</label>'
    if kind == "slider" or axis.get("control", "").endswith("Slider"):
        return (f'<label>{label}<input type="range" disabled min="0" max="0" value="0"> '
                f"<output>{_esc(shown)}</output>{note}</label>")
    return f'<label>{label}<input type="text" disabled value="{_esc(shown)}">{note}</label>'


def moving_explorer(drawer: _WidgetDrawer, ref: str, data: dict) -> str:
    """An explorer as HTML controls over its frames (:mod:`book.frames`): the stored widget
    tree gives the layout (a box of controls is laid out as a row), each control is matched
    to its axis by description, and ``_static/explorer.js`` swaps the figure."""
    axes = data["axes"]
    used: set[int] = set()

    def walk(r) -> str:
        m = drawer.model(r)
        if m is None:
            return ""
        name, s = m["model_name"], m["state"]
        if "children" in s:
            cls = "dlmath-widget-row" if name == "HBoxModel" else "dlmath-widget-col"
            return f'<div class="{cls}">{"".join(walk(c) for c in s["children"])}</div>'
        desc = s.get("description", "")
        j = next((j for j, a in enumerate(axes) if j not in used and a["description"] == desc),
                 None)
        if j is None:
            return drawer.draw(r)
        used.add(j)
        return _moving_control(j, axes[j])

    children = drawer.model(ref)["state"]["children"][:-1]  # the last one is the figure
    inner = "".join(walk(c) for c in children)
    inner += "".join(_moving_control(j, a) for j, a in enumerate(axes) if j not in used)
    n = data["positions"]
    fixed = [a["description"] for a in axes if len(a["labels"]) == 1]
    note = (f"Interactive explorer: its figure was drawn for a grid of {n} positions of the "
            "controls when the book was built, and the controls snap to them.")
    if fixed:
        verb, them = ("stays", "it") if len(fixed) == 1 else ("stay", "them")
        note += (f" {', '.join(_esc(f) for f in fixed)} {verb} as stored here; to move "
                 f"{them}, run the notebook in JupyterLab.")
    frames = {"axes": len(axes), "keys": data["keys"], "frames": data["frames"]}
    first = data["frames"][data["keys"][data["initial"]]]
    return (f'<div class="dlmath-widget dlmath-explorer"><p class="dlmath-widget-note">{note}'
            f'</p><div class="dlmath-widget-col">{inner}</div>'
            f'<img class="dlmath-explorer-figure" alt="figure" data-key="{data["initial"]}" '
            f'src="data:image/png;base64,{first}">'
            f'<script type="application/json" class="dlmath-explorer-frames">'
            f"{_json_script(frames)}</script></div>")


def static_widgets(nb: dict, frames: list[dict] | None = None, name: str = "") -> dict:
    """The notebook with each widget output replaced by HTML: each explorer's controls over
    its ``frames`` (one dict per explorer, in order, from :func:`book.frames.load`), or
    without frames every widget's stored state drawn as it was saved.

    Without a kernel a widget is only its saved state; a page that loaded a widget manager
    from a CDN would not work offline. The widget metadata is dropped from the copy.

    Raises:
        ValueError: if ``frames`` is given and does not hold one entry per explorer output.
    """
    store = nb.get("metadata", {}).pop("widgets", {})
    state = store.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    drawer = _WidgetDrawer(state)
    if frames is not None:
        stored = sum(_frames.is_explorer_output(o, state)
                     for c in nb["cells"] for o in c.get("outputs", []))
        if stored != len(frames):
            raise ValueError(
                f"book: {name or 'a chapter'} stores {stored} explorer output(s) but its run "
                f"for the book made {len(frames)} explorer(s); the k-th frames must belong to "
                "the k-th explorer output. Re-execute the notebook (CONTRIBUTING.md), or "
                "build it with --no-frames.")
    explorers = iter(frames or [])
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view is None:
                continue
            if frames is not None and _frames.is_explorer_output(out, state):
                body = moving_explorer(drawer, view["model_id"], next(explorers))
                out["data"] = {"text/html": body, "text/plain": "(interactive explorer)"}
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

These pages are the notebooks as stored, with their outputs. {explorers} To run the code and
move the controls freely, open the notebooks in JupyterLab (see the README). The
[formula index](formulas.rst) lists every formula the code
documents, with the chapter that derives it, the function that implements it and the tests
that check it; the [API reference](api/index.rst) is generated from the docstrings.
"""
_MOVING = ("The explorers move: when the book was built, each explorer's figure was drawn "
           "for a grid of positions of its controls, and the controls snap to that grid (a "
           "free-form control, such as a text box, stays as stored).")
_SOME_MOVING = ("The explorers of {chapters} move: when the book was built, each one's figure "
                "was drawn for a grid of positions of its controls, and the controls snap to "
                "that grid; the other chapters' explorers show their controls as stored.")
_STORED = "The explorers show their controls and figure as stored."


def stage(src: Path, root: Path = ROOT, frames: dict[str, Path] | None = None) -> dict[str, str]:
    """Lay out the Sphinx source folder; returns ``{"01": "01_linear_regression", ...}``.
    ``frames`` maps a chapter's stem to its frames folder (:func:`book.frames.render_chapters`);
    the explorers of the other chapters are drawn from their stored state."""
    frames = frames or {}
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    chapter_docs, toc = {}, []
    for path in chapter_notebooks(root):
        nb = json.loads(path.read_text(encoding="utf-8"))
        own = _frames.load(frames[path.stem]) if path.stem in frames else None
        nb = static_widgets(nb, own, path.stem)
        (src / "notebooks" / path.name).write_text(json.dumps(nb, indent=1), encoding="utf-8")
        chapter_docs[path.name[:2]] = path.stem
        toc.append((path.stem, chapter_title(nb, path.stem)))
    if not frames:
        explorers = _STORED
    elif len(frames) == len(toc):
        explorers = _MOVING
    else:
        explorers = _SOME_MOVING.format(chapters=", ".join(
            f"chapter {stem[:2]}" for stem, _ in toc if stem in frames))
    sys.path.insert(0, str(CONF_DIR))
    api_pages(src)
    formula_index(root, src, chapter_docs)
    index = ["# dlmath — the mathematics of deep learning, derived, shown, implemented, verified",
             "", _INTRO.format(explorers=explorers), "## Chapters", "",
             *[f"- [{title}](notebooks/{stem}.ipynb)" for stem, title in toc], "",
             "```{toctree}", ":hidden:", ":caption: Chapters", ":maxdepth: 1", "",
             *[f"notebooks/{stem}" for stem, _ in toc], "```", "",
             "```{toctree}", ":hidden:", ":caption: Reference", ":maxdepth: 1", "",
             "formulas", "api/index", "```", ""]
    (src / "index.md").write_text("\n".join(index), encoding="utf-8")
    return chapter_docs


def is_fresh(out: Path = DEFAULT_OUT, root: Path = ROOT) -> bool:
    """Whether ``out`` holds a complete build newer than everything it is made from (a build
    with frames for only some chapters, or none, is not complete)."""
    stamp = out / STAMP
    if not stamp.exists() or not (out / "index.html").exists():
        return False
    if "frames:" in stamp.read_text(encoding="utf-8"):
        return False
    built = stamp.stat().st_mtime
    return all(p.stat().st_mtime < built
               for pattern in SOURCES for p in root.glob(pattern) if p.is_file())


def frame_chapters(choice: str | None, root: Path = ROOT) -> list[str]:
    """The chapters whose explorers get frames: all of them (``None``), none (``""``), or
    those named, comma-separated (``"03_cross_entropy,08_attention"``; ``03`` names
    ``03_cross_entropy``)."""
    stems = [p.stem for p in chapter_notebooks(root)]
    if choice is None:
        return stems
    chosen = []
    for name in filter(None, (x.strip() for x in choice.split(","))):
        match = [s for s in stems if s == name or s[:2] == name]
        if not match:
            raise ValueError(f"book: --frames names no chapter {name!r}; the chapters are "
                             f"{stems}")
        chosen += match
    return chosen


def build(out: Path = DEFAULT_OUT, *, jobs: str = "1", quiet: bool = True,
          frames: list[str] | None = None, frame_jobs: int = 2) -> Path:
    """Render the frames of the chapters ``frames`` (default: all; cached), stage the
    sources next to ``out`` (``<out>/../src``) and run Sphinx into ``out``.

    The chapters and Sphinx run in child processes (autodoc imports dlmath there, not here).
    """
    out = Path(out).resolve()
    src = out.parent / "src"
    start = time.time()
    every = [p.stem for p in chapter_notebooks()]
    frames = every if frames is None else frames
    folders = _frames.render_chapters(frames, jobs=frame_jobs) if frames else {}
    stage(src, frames=folders)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(CONF_DIR), "-j", jobs,
           "-E", str(src), str(out)]
    if quiet:
        cmd.insert(3, "-q")
    subprocess.run(cmd, check=True, cwd=ROOT)
    text = f"built in {time.time() - start:.1f} s\n"
    if set(frames) != set(every):  # not the default book: never reused as fresh
        text += f"frames: {','.join(frames) or 'none'}\n"
    (out / STAMP).write_text(text, encoding="utf-8")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m book", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the HTML book (default: _build/html)")
    b.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    b.add_argument("-j", "--jobs", default="1", help="Sphinx's parallel jobs ('auto' or N)")
    b.add_argument("-v", "--verbose", action="store_true", help="show Sphinx's progress")
    f = b.add_mutually_exclusive_group()
    f.add_argument("--frames", metavar="CHAPTERS", default=None,
                   help="draw the explorers' frames of these chapters only, comma-separated "
                        "(e.g. 03_cross_entropy,08_attention); default: every chapter")
    f.add_argument("--no-frames", action="store_true",
                   help="draw no frames: every explorer as stored, not moving")
    b.add_argument("--frame-jobs", type=int, default=2,
                   help="chapters executed at a time for the frames (default 2)")
    args = parser.parse_args(argv)
    start = time.time()
    chosen = [] if args.no_frames else frame_chapters(args.frames)
    out = build(args.out, jobs=args.jobs, quiet=not args.verbose, frames=chosen,
                frame_jobs=args.frame_jobs)
    print(f"book: {out / 'index.html'} ({time.time() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
