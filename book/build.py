"""Build the HTML book: ``python -m book build`` writes ``_build/html``.

The book is made from what is committed, as stored: the chapter notebooks with their
outputs (nothing is executed), the API reference from dlmath's docstrings, and a formula
index generated from :mod:`dlmath.formulas`, so none of it can go stale. The steps:

1. lay out a Sphinx source folder (``_build/src``): each ``notebooks/NN_*.ipynb``, its
   explorers' stored widget state drawn as static HTML (controls and figure; the live
   widgets need a kernel, i.e. JupyterLab); an index page; one API page per dlmath module;
   the formula index;
2. run Sphinx with ``book/conf.py`` (sphinx-book-theme, a local MathJax).

Everything comes from installed packages: the build and the pages need no network.
"""

from __future__ import annotations

import argparse
import ast
import html
import importlib
import json
import pkgutil
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "book"
DEFAULT_OUT = ROOT / "_build" / "html"
#: what a build reads: a build newer than all of these is fresh
SOURCES = ("notebooks/*.ipynb", "dlmath/**/*.py", "book/**/*", "tests/test_*.py")
_STAMP = ".dlmath-build"


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


# ------------------------------------------------------------------ API pages


def api_modules() -> list[str]:
    """dlmath's public modules (no leading underscore), the package itself first.

    The topic modules of :mod:`dlmath.formulas` hold SymPy objects, not API: the formula
    index shows them, rendered.
    """
    import dlmath
    from dlmath import formulas

    topics = {t.__name__ for t in formulas.TOPICS}
    names = [m.name for m in pkgutil.walk_packages(dlmath.__path__, "dlmath.")
             if not any(part.startswith("_") for part in m.name.split("."))
             and m.name not in topics]
    return ["dlmath"] + sorted(names)


def _summary(module_name: str) -> str:
    try:
        doc = importlib.import_module(module_name).__doc__ or ""
    except Exception as exc:  # a module that does not import is reported, not fatal
        return f"(does not import: {type(exc).__name__})"
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _members(module_name: str) -> tuple[list[str], list[str]]:
    """(names documented on the module's page, names it re-exports from another dlmath
    module, which are documented there). Each object is documented once, where it is
    defined, so its [source] link and the link back from the source agree."""
    try:
        module = importlib.import_module(module_name)
    except Exception:
        return [], []
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and getattr(v, "__module__", module_name) == module_name
                 and (callable(v) or isinstance(v, type))]
    own, elsewhere = [], []
    for n in names:
        origin = getattr(getattr(module, n, None), "__module__", None)
        if isinstance(origin, str) and origin.startswith("dlmath") and origin != module_name \
                and origin in _PUBLIC:
            elsewhere.append(f"{origin}.{n}")
        else:
            own.append(n)
    return own, elsewhere


_PUBLIC: set[str] = set()


def api_pages(src: Path) -> list[str]:
    (src / "api").mkdir(parents=True, exist_ok=True)
    mods = api_modules()
    _PUBLIC.clear()
    _PUBLIC.update(mods)
    for name in mods:
        title = f"``{name}``"
        own, elsewhere = _members(name)
        text = f"{title}\n{'=' * len(title)}\n\n.. automodule:: {name}\n"
        if elsewhere:
            short = ", ".join(e.rsplit(".", 1)[1] for e in elsewhere)
            text += f"   :exclude-members: {short}\n"
        if elsewhere:
            text += ("\nAlso exported here (documented where they are defined): " +
                     ", ".join(f":py:obj:`{e}`" for e in elsewhere) + ".\n")
        (src / "api" / f"{name}.rst").write_text(text, encoding="utf-8")
    lines = ["API reference", "=============", "",
             "Every public module of ``dlmath``, from its docstrings: the formula each function",
             "implements (the one the book derives; a test keeps them equal), its shapes and",
             "errors, a link to the chapter that derives it and to its source.", "",
             ".. toctree::", "   :maxdepth: 1", ""]
    lines += [f"   {name} <{name}>" for name in mods]
    lines += ["", ".. list-table::", "   :header-rows: 0", ""]
    for name in mods:
        lines += [f"   * - :mod:`{name}`", f"     - {_rst_text(_summary(name))}"]
    (src / "api" / "index.rst").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return mods


def _rst_text(text: str) -> str:
    """One line of a docstring, safe as plain RST text (math left as a role)."""
    from sphinxext import convert

    return convert(text, {}).replace("\n", " ")


# ------------------------------------------------------------------ formula index


def _test_functions(root: Path) -> dict[str, list[tuple[str, str]]]:
    """``"tests/test_x.py" -> [(test name, its source)]`` (top level and in classes)."""
    out = {}
    for path in sorted((root / "tests").glob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        found = []
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                found.append((node.name, ast.get_source_segment(text, node) or ""))
        out[f"tests/{path.name}"] = found
    return out


def _chapter_of(texts, chapter_docs) -> tuple[str | None, str | None]:
    """(number, page) of the first chapter a docstring names; page None if not built."""
    for text in texts:
        m = re.search(r"notebooks/(\d\d)_\w+\.ipynb", text or "") or \
            re.search(r"\bchapter (\d\d)\b", text or "")
        if m:
            return m.group(1), chapter_docs.get(m.group(1))
    return None, None


def _proving_cell(nb_path: Path, names: list[str]) -> int | None:
    """Index of the code cell that proves a formula: the first that names it and proves
    something, else the first that names it."""
    if not names or not nb_path.exists():
        return None
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    first = None
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        if pattern.search(src):
            if "prove" in src:
                return i
            first = i if first is None else first
    return first


def formula_index(root: Path, src: Path, chapter_docs: dict[str, str]) -> int:
    """Write ``formulas.rst``: every registered formula, rendered, with its links.

    Returns the number of formulas written.
    """
    import sympy as sp

    from dlmath import formulas as F
    from dlmath.formulas import sync
    from dlmath.formulas._formula import Formula

    tests = _test_functions(root)
    lines = ["Formula index", "=============", "",
             "Every formula registered in :mod:`dlmath.formulas`, rendered with",
             "``sympy.latex`` from the SymPy object itself. Each names the function that",
             "implements it (its docstring quotes exactly this formula:",
             "``tests/test_formulas.py`` checks that for every entry), the chapter and cell",
             "that derive it, and the tests that check it. The page is generated when the",
             "book is built, from the registry, so it lists what the code has.", ""]
    count = 0
    for topic in F.TOPICS:
        heading = (topic.__doc__ or topic.__name__).strip().splitlines()[0].rstrip(".")
        short = topic.__name__.removeprefix("dlmath.formulas.")
        title = f"{heading} (``{short}``)"
        lines += [title, "-" * len(title), ""]
        constants = {}
        for attr, val in vars(topic).items():
            if isinstance(val, Formula) and not attr.startswith("_"):
                constants.setdefault(id(val), []).append(attr)
        for key, formulas in topic.DOCUMENTED.items():
            module_name, qualname = sync._locate(key)
            try:
                obj = importlib.import_module(module_name)
                for part in qualname.split("."):
                    obj = getattr(obj, part)
                own = sync.own_docstring(obj)
            except Exception:
                own = None
            module_doc = (sys.modules.get(module_name).__doc__
                          if module_name in sys.modules else None)
            number, page = _chapter_of([own, module_doc, topic.__doc__], chapter_docs)
            fn_short = qualname.split(".")[-1]
            topic_module = module_name.removeprefix("dlmath.")
            for formula in formulas:
                count += 1
                names = constants.get(id(formula), [])
                label = f"``{key}``" + (f" (``{short}.{names[0]}``)" if names else "")
                lines += [f".. rubric:: {label}", "", ".. math::", "",
                          f"   {' '.join(sp.latex(formula.expr).split())}", ""]
                lines.append(f"- implemented by :py:obj:`{module_name}.{qualname}`")
                cell = _proving_cell(root / "notebooks" / f"{page}.ipynb", names) \
                    if page else None
                if cell is None:  # the docstring names no chapter, or it never names it
                    for num, other in sorted(chapter_docs.items()):
                        found = _proving_cell(root / "notebooks" / f"{other}.ipynb", names)
                        if found is not None:
                            number, page, cell = num, other, found
                            break
                if page:
                    where = f"- derived in :doc:`chapter {number} </notebooks/{page}>`"
                    if cell is not None:
                        where += f" (`cell {cell} <notebooks/{page}.html#cell-{cell}>`__)"
                    lines.append(where)
                elif number:
                    lines.append(f"- derived in chapter {number} (not in this build)")
                checked = {"tests/test_formulas.py":
                           ["test_docstring_math_is_the_registered_formula_both_ways"]}
                pat_const = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b") \
                    if names else None
                pat_fn = re.compile(r"\b" + re.escape(fn_short) + r"\b")
                base = topic_module.split(".")[0]
                for path, funcs in tests.items():
                    stem = Path(path).stem.removeprefix("test_")
                    own_tests = stem == base or stem.startswith(base + "_")
                    for name, source in funcs:
                        if name in checked.get(path, ()):
                            continue
                        if (pat_const and pat_const.search(source)) or \
                                (own_tests and pat_fn.search(source)):
                            checked.setdefault(path, []).append(name)
                lines.append("- checked by")
                lines.append("")
                for path, found in checked.items():
                    shown = ", ".join(f"``{n}``" for n in found[:6])
                    more = f" and {len(found) - 6} more" if len(found) > 6 else ""
                    lines.append(f"  - ``{path}``: {shown}{more}")
                lines.append("")
    (src / "formulas.rst").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return count


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
    stamp = out / _STAMP
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
    (out / _STAMP).write_text(f"built in {time.time() - start:.1f} s\n", encoding="utf-8")
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
