"""Explorers that move in the web book: their figures drawn ahead, on a grid of positions.

An explorer (:func:`dlmath.widgets.figure_explorer`) redraws its figure by ``draw(fig,
**values)`` when a control moves; that needs a kernel. For the web book, each chapter is
executed when the book is built, up to its last explorer, with :func:`install` hooked into
``dlmath.widgets.figure_explorer``: every explorer made there also draws its figure at every
position of a grid of its controls' values (:func:`grid`), with the same ``draw``, figure
size and resolution as in JupyterLab, and writes the frames to one JSON file per explorer,
numbered in the order the explorers are made. A frame is stored as a palette PNG: exact for
a figure of at most 256 colours (most plots), the nearest 256 colours otherwise; identical
frames are stored once. The page shows HTML controls that snap to the
grid and a small script (``book/_static/explorer.js``) that shows the frame of their
positions: no kernel, nothing fetched.

The positions of a control (:func:`positions`): every option of a ``Dropdown``,
``SelectionSlider``, ``ToggleButtons`` (and the other selection widgets); ``False`` and
``True`` of a ``Checkbox``; every step of an ``IntSlider``, ``FloatSlider`` or
``FloatLogSlider`` (and of a range slider, as windows about the stored one) if there are
few, else evenly spaced steps that always include the stored value; a ``Text`` or any other
free-form control keeps its stored value only (the page says that moving it needs
JupyterLab). A ``Box`` of controls counts as its controls (:func:`flatten`).

The budget (:func:`grid`): at most :data:`MAX_FRAMES` frames per explorer, and at most
:data:`PAGE_BYTES` bytes per chapter page, shared by the chapter's explorers (a frame's size
is estimated from the explorer's first figure). Sliders get fewer positions first (each at
least two); if the selections and checkboxes still exceed the budget, the last of them are
held at their stored value (the page says so).

``python -m book build`` renders the frames of every chapter (:func:`render_chapters`, two
chapters at a time), cached in ``_build/frames/<chapter>/`` under a sha256 of the notebook,
of dlmath's sources and of this file: a chapter whose key is unchanged is not executed again.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import io
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "_build" / "frames"
#: the most frames one explorer draws (the grid's budget)
MAX_FRAMES = 48
#: the most bytes of a chapter page: its stored outputs plus its explorers' frames
PAGE_BYTES = 5_500_000
#: what a chapter's frames depend on besides its notebook (the cache key)
SOURCES = ("dlmath/**/*.py", "book/frames.py")
#: what explorer outputs' widget models look like: a box whose last child is the figure
_EXPLORER_SOURCE = re.compile(r"\b(figure_explorer|\w+_explorer)\(")


# ------------------------------------------------------------------ positions and the grid


@dataclass
class Axis:
    """The positions of one control on the grid.

    ``kind`` is how the page shows it: ``"slider"`` (a range input over the positions),
    ``"select"``, ``"checkbox"`` or ``"fixed"`` (one position; ``note`` says why).
    ``values`` are what ``draw`` receives, ``labels`` what the widget shows for them,
    ``initial`` the index of the stored value.
    """

    name: str
    kind: str
    description: str
    values: list
    labels: list[str]
    initial: int
    note: str = ""
    steps: int = field(default=0)  # the positions the widget itself has (0: not a slider)
    control: str = ""  # the widget's class, e.g. "FloatSlider"

    def public(self) -> dict:
        """The axis as the page needs it (no values: they may not be JSON)."""
        d = asdict(self)
        del d["values"]
        return d


def _fmt(value, spec: str) -> str:
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


def _with_stored(grid_values, stored) -> list:
    """The grid's values with the stored one among them: a grid value within rounding of
    it gives way to it (``10 ** 0.0`` against ``1.0``), else it is added in order."""
    close = [v for v in grid_values if math.isclose(v, stored, rel_tol=1e-9, abs_tol=1e-12)]
    return sorted({*(v for v in grid_values if v not in close), stored})


def _slider_values(control) -> tuple[list, list[str]] | None:
    """Every step of a slider (with its stored value among them) and its labels."""
    import ipywidgets as w

    if isinstance(control, w.IntSlider):
        lo, hi, step = int(control.min), int(control.max), int(control.step) or 1
        values = _with_stored(range(lo, hi + 1, step), int(control.value))
        spec = control.readout_format or "d"
        return values, [_fmt(v, spec) for v in values]
    if isinstance(control, w.FloatLogSlider):
        lo, hi, step, base = control.min, control.max, control.step, control.base
        n = int(round((hi - lo) / step)) + 1
        exps = [round(lo + k * step, 10) for k in range(n)]
        values = _with_stored([float(base**e) for e in exps], float(control.value))
        spec = control.readout_format or ".3g"
        return values, [_fmt(v, spec) for v in values]
    if isinstance(control, w.FloatSlider):
        lo, hi, step = control.min, control.max, control.step
        n = int(round((hi - lo) / step)) + 1
        digits = max(0, -math.floor(math.log10(step))) + 2 if step > 0 else 10
        values = _with_stored([round(lo + k * step, digits) for k in range(n)],
                              float(control.value))
        spec = control.readout_format or ".2f"
        return values, [_fmt(v, spec) for v in values]
    if isinstance(control, (w.IntRangeSlider, w.FloatRangeSlider)):
        # windows about the stored one's centre, from one step wide to the widest that fits
        lo, hi, step = control.min, control.max, control.step
        a, b = control.value
        centre = (a + b) / 2
        most = min(centre - lo, hi - centre)
        n = int(math.floor(most / step + 1e-9))
        halves = _with_stored([k * step for k in range(1, n + 1)], (b - a) / 2)
        cast = int if isinstance(control, w.IntRangeSlider) else float
        values = [(cast(a), cast(b)) if h == (b - a) / 2 else (cast(centre - h), cast(centre + h))
                  for h in halves]
        spec = control.readout_format or ("d" if cast is int else ".2f")
        return values, [f"{_fmt(x, spec)} – {_fmt(y, spec)}" for x, y in values]
    return None


def positions(control, name: str = "") -> Axis:
    """Every position of one ipywidgets value control on the grid (see the module's text).

    A slider's axis has every step (``steps`` says how many); :func:`grid` thins it. A
    ``Box`` is not a control: :func:`flatten` it first.
    """
    import ipywidgets as w

    if isinstance(control, w.Box):
        raise TypeError(f"positions: {name or 'the control'} is a Box of controls; "
                        "flatten it first (book.frames.flatten).")
    desc = getattr(control, "description", "") or name
    axis = _positions(control, name, desc)
    axis.control = type(control).__name__
    return axis


def _positions(control, name: str, desc: str) -> Axis:
    import ipywidgets as w

    if isinstance(control, (w.Checkbox, w.ToggleButton)):
        return Axis(name, "checkbox", desc, [False, True], ["off", "on"],
                    int(bool(control.value)))
    if isinstance(control, (w.Dropdown, w.SelectionSlider, w.ToggleButtons, w.RadioButtons,
                            w.Select)):
        labels = [str(x) for x in control._options_labels]
        values = list(control._options_values)
        initial = control.index if control.index is not None else 0
        kind = "slider" if isinstance(control, w.SelectionSlider) else "select"
        return Axis(name, kind, desc, values, labels, initial)
    found = _slider_values(control)
    if found is not None:
        values, labels = found
        stored = control.value
        if isinstance(stored, (list, tuple)):
            cast = int if isinstance(control, w.IntRangeSlider) else float
            stored = tuple(cast(x) for x in stored)
        initial = values.index(stored)
        return Axis(name, "slider", desc, values, labels, initial, steps=len(values))
    value = getattr(control, "value", None)
    return Axis(name, "fixed", desc, [value], [str(value)], 0,
                note="free-form: needs JupyterLab")


def flatten(controls: dict) -> dict:
    """``name -> control`` with every ``Box`` replaced by its controls (``name/0``,
    ``name/1``, ... in order, recursively)."""
    import ipywidgets as w

    out = {}
    for name, c in controls.items():
        if isinstance(c, w.Box):
            out.update(flatten({f"{name}/{k}": x for k, x in enumerate(c.children)}))
        else:
            out[name] = c
    return out


def thin(axis: Axis, count: int) -> Axis:
    """``count`` evenly spaced positions of a slider axis, the stored one among them."""
    n = len(axis.values)
    if count >= n or axis.kind != "slider":
        return axis
    count = max(1, count)
    if count == 1:
        keep = [axis.initial]
    else:
        keep = sorted({round(k * (n - 1) / (count - 1)) for k in range(count)})
        if axis.initial not in keep:  # the nearest position gives way to the stored one
            nearest = min(keep, key=lambda k: abs(k - axis.initial))
            keep = sorted({*keep, axis.initial} - {nearest})
    return Axis(axis.name, axis.kind, axis.description, [axis.values[k] for k in keep],
                [axis.labels[k] for k in keep], keep.index(axis.initial), axis.note, axis.steps,
                axis.control)


def _hold(axis: Axis, why: str) -> Axis:
    return Axis(axis.name, "fixed", axis.description, [axis.values[axis.initial]],
                [axis.labels[axis.initial]], 0, why, axis.steps, axis.control)


def grid(controls: dict, max_frames: int = MAX_FRAMES) -> list[Axis]:
    """The axes of the product grid of ``controls`` (``name -> control``, Boxes flattened),
    with at most ``max_frames`` positions in all.

    Selections and checkboxes keep every option; the sliders share what is left, the one
    with the fewest positions so far gaining a position first (the one with more steps
    first among equals). Where every option of the selections and checkboxes times two
    positions of each slider exceeds the budget, the last selections and checkboxes are held
    at their stored value until it fits: every slider keeps two positions where it has
    them, unless the budget is smaller than that alone.
    """
    if max_frames < 1:
        raise ValueError(f"grid: max_frames must be >= 1; got {max_frames}.")
    axes = [positions(c, name) for name, c in flatten(controls).items()]
    sliders = [k for k, a in enumerate(axes) if a.kind == "slider" and a.steps]
    discrete = [k for k, a in enumerate(axes) if a.kind in ("select", "checkbox")
                or (a.kind == "slider" and not a.steps)]
    floor = math.prod(min(2, len(axes[k].values)) for k in sliders)
    held = "held: beyond the page's budget of frames"
    while discrete and floor * math.prod(len(axes[k].values) for k in discrete) > max_frames:
        k = discrete.pop()
        axes[k] = _hold(axes[k], held)
    room = max_frames // math.prod([len(axes[k].values) for k in discrete] or [1])
    counts = {k: 1 for k in sliders}
    while True:
        growable = [k for k in sliders if counts[k] < len(axes[k].values)
                    and math.prod(counts.values()) // counts[k] * (counts[k] + 1) <= room]
        if not growable:
            break
        k = min(growable, key=lambda k: (counts[k], -len(axes[k].values), k))
        counts[k] += 1
    for k in sliders:
        axes[k] = thin(axes[k], counts[k])
    return axes


def keys(axes: list[Axis]):
    """Every position of the grid as ``(key, values)``: the key joins the axes' indices
    with commas (``"2,0,1"``), as the page's script does."""
    for index in itertools.product(*(range(len(a.values)) for a in axes)):
        values = {a.name: a.values[i] for a, i in zip(axes, index, strict=True)}
        yield ",".join(map(str, index)), values


# ------------------------------------------------------------------ the kernel-side hook


def _png(fig) -> bytes:
    """The figure as PNG, as ``figure_explorer`` saves it, then losslessly reduced to a
    palette where it has at most 256 colours (most plots), else to an adaptive one."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    image = Image.open(io.BytesIO(buf.getvalue()))
    rgb = image.convert("RGB")
    colours = rgb.getcolors(256)
    small = rgb.quantize(256, method=Image.Quantize.MEDIANCUT) if colours is None else \
        rgb.quantize(len(colours), method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    small.save(out, format="png", optimize=True)
    return min(out.getvalue(), buf.getvalue(), key=len)


def install(out_dir, *, max_frames: int = MAX_FRAMES, max_bytes: int | None = None) -> None:
    """Wrap ``dlmath.widgets.figure_explorer`` (a module attribute: the notebooks' calls
    and the explorers of :mod:`dlmath.widgets` all go through it) so that every explorer
    made after this also writes ``out_dir/explorer-NN.json``: its axes and its frames.

    The explorer itself is made by the original function, unchanged; the frames are drawn
    by calling ``draw`` with the grid's values (the controls are not moved), each on a
    ``matplotlib.figure.Figure(figsize, dpi, layout="tight")`` as the explorer does.
    ``max_bytes`` (per explorer) lowers ``max_frames`` by the size of the first figure.
    """
    import dlmath.widgets as widgets

    original = getattr(widgets.figure_explorer, "__wrapped__", widgets.figure_explorer)
    defaults = {k: p.default for k, p in inspect.signature(original).parameters.items()
                if p.default is not inspect.Parameter.empty}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    made = itertools.count()

    def figure_explorer(draw, **kwargs):
        box = original(draw, **kwargs)
        figsize = kwargs.pop("figsize", defaults.get("figsize"))
        dpi = kwargs.pop("dpi", defaults.get("dpi"))
        number = next(made)
        write_frames(out_dir / f"explorer-{number:02d}.json", draw, kwargs, figsize=figsize,
                     dpi=dpi, max_frames=max_frames, max_bytes=max_bytes)
        return box

    figure_explorer.__wrapped__ = original
    figure_explorer.__doc__ = original.__doc__
    widgets.figure_explorer = figure_explorer


def write_frames(path: Path, draw, controls: dict, *, figsize, dpi, max_frames: int,
                 max_bytes: int | None = None) -> dict:
    """Draw ``draw`` at every position of the grid of ``controls`` and write the JSON.
    With ``max_bytes``, the grid has at most as many positions as frames of the size of the
    first one (at the stored values, with a quarter to spare) fit in it."""
    from matplotlib.figure import Figure

    def frame(values: dict, shown: str) -> str:
        fig = Figure(figsize=figsize, dpi=dpi, layout="tight")
        try:
            draw(fig, **values)
        except Exception as e:
            raise RuntimeError(f"explorer {path.stem}: draw failed at {shown}: "
                               f"{type(e).__name__}: {e}") from e
        return base64.b64encode(_png(fig)).decode("ascii")

    start = time.time()
    budget = max_frames
    if max_bytes:
        stored = {name: p.values[p.initial] for name, p in
                  ((n, positions(c, n)) for n, c in flatten(controls).items())}
        first = frame(stored, "the stored values")
        budget = max(1, min(max_frames, int(max_bytes / (1.25 * len(first)))))
    axes = grid(controls, budget)
    frames, index, seen = [], {}, {}
    for key, values in keys(axes):
        png = frame(values, ", ".join(f"{a.name}={a.labels[int(i)]}"
                                      for a, i in zip(axes, key.split(","), strict=True)))
        if png not in seen:
            seen[png] = len(frames)
            frames.append(png)
        index[key] = seen[png]
    initial = ",".join(str(a.initial) for a in axes)
    data = {"axes": [a.public() for a in axes], "figsize": list(figsize), "dpi": dpi,
            "positions": len(index), "initial": initial, "frames": frames, "keys": index,
            "budget": budget, "seconds": round(time.time() - start, 2)}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(path)
    return data


# ------------------------------------------------------------------ executing a chapter


def is_explorer_output(out: dict, state: dict) -> bool:
    """Whether a stored cell output is an explorer: a widget view of a box whose last child
    is an image (a progress bar, say, is a widget but not an explorer)."""
    view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
    if view is None:
        return False
    model = state.get(view.get("model_id", ""))
    if not model or "children" not in model.get("state", {}):
        return False
    children = model["state"]["children"]
    last = state.get(children[-1].removeprefix("IPY_MODEL_")) if children else None
    return bool(last) and last.get("model_name") == "ImageModel"


def widget_state(nb: dict) -> dict:
    """The stored widget models of a notebook, by id."""
    store = nb.get("metadata", {}).get("widgets", {})
    return store.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})


def explorer_cells(nb: dict) -> list[int]:
    """The indices of the cells whose stored outputs hold an explorer (one per explorer)."""
    state = widget_state(nb)
    return [i for i, c in enumerate(nb["cells"]) for o in c.get("outputs", [])
            if is_explorer_output(o, state)]


def last_explorer_cell(nb: dict) -> int | None:
    """The last cell that makes an explorer: by its stored output, or by its source."""
    found = explorer_cells(nb)
    found += [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
              and _EXPLORER_SOURCE.search("".join(c["source"]))]
    return max(found) if found else None


def cache_key(notebook: Path, root: Path = ROOT) -> str:
    """sha256 of the notebook, of :data:`SOURCES` and of the budget."""
    h = hashlib.sha256(Path(notebook).read_bytes())
    for pattern in SOURCES:
        for p in sorted(root.glob(pattern)):
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    h.update(f"{MAX_FRAMES} {PAGE_BYTES}".encode())
    return h.hexdigest()


def frames_budget(nb_path: Path, n_explorers: int) -> int:
    """Bytes of frames each explorer of a chapter may take: :data:`PAGE_BYTES` less the
    notebook's stored outputs (about what the page carries besides), shared by its
    explorers."""
    left = PAGE_BYTES - Path(nb_path).stat().st_size - 300_000
    return max(200_000, left // max(1, n_explorers))


def render_chapter(notebook, out_dir, *, timeout: int = 900, root: Path = ROOT) -> Path:
    """Execute ``notebook`` up to its last explorer with the hook installed (cwd: the
    notebook's folder) and leave its frames in ``out_dir`` (``explorer-NN.json``) with the
    cache ``key``; if ``out_dir/key`` already matches, nothing is executed."""
    import nbclient
    import nbformat

    notebook, out_dir = Path(notebook).resolve(), Path(out_dir)
    key = cache_key(notebook, root)
    if (out_dir / "key").exists() and (out_dir / "key").read_text().strip() == key:
        return out_dir
    nb = nbformat.read(notebook, as_version=4)
    last = last_explorer_cell(nb)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if last is not None:
        per_explorer = frames_budget(notebook, len(explorer_cells(nb)) or 1)
        hook = nbformat.v4.new_code_cell(
            f"import sys\nsys.path.insert(0, {str(root)!r})\nimport book.frames\n"
            f"book.frames.install({str(tmp.resolve())!r}, max_frames={MAX_FRAMES}, "
            f"max_bytes={per_explorer})")
        nb.cells = [hook, *(c for c in nb.cells[:last + 1] if c.cell_type == "code")]
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": str(notebook.parent)}})
        start = time.time()
        client.execute()
        (tmp / "seconds").write_text(f"{time.time() - start:.1f}\n")
    (tmp / "key").write_text(key + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.replace(out_dir)
    return out_dir


def load(out_dir) -> list[dict]:
    """The frames of a chapter, in the order its explorers were made."""
    return [json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(Path(out_dir).glob("explorer-*.json"))]


def render_chapters(stems, *, jobs: int = 2, cache: Path = CACHE, root: Path = ROOT,
                    log=print) -> dict[str, Path]:
    """Render the frames of the chapters ``stems`` (``notebooks/<stem>.ipynb``), ``jobs``
    at a time, each in a process of its own; returns ``{stem: its frames folder}``."""
    def one(stem):
        out = cache / stem
        nb = root / "notebooks" / f"{stem}.ipynb"
        if (out / "key").exists() and (out / "key").read_text().strip() == cache_key(nb, root):
            return stem, out, None
        start = time.time()
        proc = subprocess.run([sys.executable, "-m", "book.frames", str(nb), str(out)],
                              cwd=root, capture_output=True, text=True,
                              env={**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"})
        if proc.returncode != 0:
            raise RuntimeError(f"frames of {stem} failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
        return stem, out, time.time() - start

    done = {}
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        for stem, out, seconds in pool.map(one, list(stems)):
            done[stem] = out
            if log:
                n = sum(d["positions"] for d in load(out))
                how = "cached" if seconds is None else f"{seconds:.0f} s"
                log(f"frames: {stem}: {n} positions ({how})")
    return done


if __name__ == "__main__":
    render_chapter(sys.argv[1], sys.argv[2])
