"""The explorers' frames for the web book (``book/frames.py``) and the HTML that shows them
(``book/build.py``), without a browser: the positions of each kind of control and the
grid's budget; the hook, on a small notebook of its own executed in a kernel (every
position drawn by the explorer's own ``draw``, only the cells up to the last explorer run,
the cache); the moving explorer's HTML; the size of a chapter page with its frames.
(``tests/test_browser_explorers.py`` moves the controls in chromium.)"""

from __future__ import annotations

import base64
import io
import json
import math
import sys
from pathlib import Path

import ipywidgets as ipw
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from book import build, frames  # noqa: E402

# ------------------------------------------------------------------ positions


def test_a_slider_has_every_step_and_its_stored_value():
    a = frames.positions(ipw.IntSlider(value=10, min=1, max=20), "depth")
    assert a.kind == "slider" and a.values == list(range(1, 21)) and a.steps == 20
    assert a.values[a.initial] == 10 and a.labels[a.initial] == "10"
    # a stored value off the steps (1/9 with steps of 0.005 from 0.01) is one more position
    f = frames.positions(ipw.FloatSlider(1 / 9, min=0.01, max=0.2, step=0.005,
                                         readout_format=".3f"), "eta")
    assert len(f.values) == 39 + 1 and f.values[f.initial] == 1 / 9
    assert f.labels[f.initial] == "0.111" and f.labels[0] == "0.010" and f.labels[-1] == "0.200"
    assert f.values == sorted(f.values)
    # a log slider: base ** (min + k step), labelled as the widget reads it out ('.3g')
    g = frames.positions(ipw.FloatLogSlider(1.0, base=10, min=-1, max=1, step=0.1), "gain")
    assert len(g.values) == 21 and g.values[g.initial] == 1.0  # 10 ** 0.0, not a neighbour
    assert math.isclose(g.values[0], 0.1) and g.labels[-1] == "10"


def test_selections_checkboxes_and_free_form_controls():
    d = frames.positions(ipw.Dropdown(options=[("none", None), ("causal", "c")], value="c",
                                      description="mask"), "mask_type")
    assert (d.kind, d.values, d.labels, d.initial) == ("select", [None, "c"],
                                                       ["none", "causal"], 1)
    assert d.description == "mask"
    s = frames.positions(ipw.SelectionSlider(options=[0.0, 1e-3, 1e-2], value=1e-3), "l2")
    assert (s.kind, s.values, s.initial) == ("slider", [0.0, 1e-3, 1e-2], 1)
    c = frames.positions(ipw.Checkbox(value=True, description="show"), "show")
    assert (c.kind, c.values, c.initial) == ("checkbox", [False, True], 1)
    t = frames.positions(ipw.Text(value="1 2 3", description="own"), "own")
    assert (t.kind, t.values, t.labels) == ("fixed", ["1 2 3"], ["1 2 3"])
    assert "JupyterLab" in t.note
    r = frames.positions(ipw.FloatRangeSlider(value=(-5.0, 5.0), min=-10, max=10, step=0.5),
                         "x_range")
    assert r.values[r.initial] == (-5.0, 5.0) and r.labels[r.initial] == "-5.00 – 5.00"
    assert r.values[0] == (-0.5, 0.5) and r.values[-1] == (-10.0, 10.0)


def test_a_box_of_controls_counts_as_its_controls():
    row = ipw.HBox([ipw.Checkbox(description="a"), ipw.Checkbox(description="b")])
    with pytest.raises(TypeError, match="Box of controls"):
        frames.positions(row, "row")
    flat = frames.flatten({"x": ipw.IntSlider(), "row": row})
    assert list(flat) == ["x", "row/0", "row/1"]
    axes = frames.grid({"x": ipw.IntSlider(max=3), "row": row}, max_frames=100)
    assert [a.kind for a in axes] == ["slider", "checkbox", "checkbox"]


# ------------------------------------------------------------------ the grid


def _size(axes) -> int:
    return math.prod(len(a.values) for a in axes)


def test_the_grid_keeps_every_step_when_they_fit():
    axes = frames.grid({"k": ipw.IntSlider(3, min=1, max=5), "d": ipw.Dropdown(options="ab")},
                       max_frames=10)
    assert _size(axes) == 10 and axes[0].values == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("budget", [4, 7, 12, 48, 100])
def test_the_grid_thins_sliders_within_the_budget_and_keeps_the_stored_values(budget):
    controls = {"t": ipw.FloatLogSlider(1.0, base=10, min=-1.5, max=1.3, step=0.05),
                "k": ipw.IntSlider(0, min=0, max=6),
                "p": ipw.FloatSlider(1.0, min=0.05, max=1.0, step=0.05),
                "mask": ipw.Dropdown(options=["none", "causal"], value="causal")}
    axes = frames.grid(controls, max_frames=budget)
    assert _size(axes) <= budget
    assert [a.values[a.initial] for a in axes] == [1.0, 0, 1.0, "causal"]  # stored kept
    sliders = [len(a.values) for a in axes[:3]]
    if budget >= 2 * 2 * 2 * 2:  # two options, and two positions for each slider, fit
        assert len(axes[3].values) == 2  # a selection keeps every option
        assert min(sliders) >= 2 and max(sliders) <= 2 * min(sliders)  # shared evenly
    else:  # the selection gives way to the sliders, held at its stored value
        assert axes[3].kind == "fixed" and axes[3].values == ["causal"]
        assert "budget" in axes[3].note
        assert min(sliders) == (2 if budget >= 8 else 1)
    for a in axes[:3]:  # evenly spaced: the ends are positions
        full = frames.positions(controls[a.name], a.name)
        if len(a.values) > 2:
            assert a.values[0] == full.values[0] and a.values[-1] == full.values[-1]
    with pytest.raises(ValueError, match="max_frames"):
        frames.grid(controls, max_frames=0)


def test_checkboxes_beyond_the_budget_are_held_at_their_stored_value():
    boxes = {f"_f{k}": ipw.Checkbox(value=k < 2, description=f"f{k}") for k in range(8)}
    axes = frames.grid({"x_range": ipw.FloatRangeSlider(value=(-5.0, 5.0), min=-10, max=10,
                                                        step=0.5),
                        "derivative": ipw.Checkbox(value=True), **boxes}, max_frames=48)
    assert _size(axes) <= 48
    held = [a for a in axes if a.kind == "fixed"]
    moving = [a for a in axes if a.kind == "checkbox"]
    assert held and moving and held[-1].name == "_f7"
    assert all("budget" in a.note and a.values == [a.name in ("_f0", "_f1")] for a in held)
    assert len(axes[0].values) >= 2  # the slider still moves


# ------------------------------------------------------------------ the hook, in a kernel

_DRAW = '''
import ipywidgets as ipw
from dlmath import widgets


def draw(fig, level, word):
    fig.text(0.5, 0.5, f"level {level}, word {word}")
'''
_MAKE = ('widgets.figure_explorer(draw, figsize=(2, 1), dpi=50,\n'
         '    level=ipw.IntSlider(value=2, min=0, max=3, description="level"),\n'
         '    word=ipw.Dropdown(options=["a", "b"], value="a", description="word"))')
_AFTER = 'raise RuntimeError("a cell after the last explorer runs")'


def _notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _expected_png(level, word) -> bytes:
    """What the frame at (level, word) must be: the same text drawn here, independently."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1), dpi=50, layout="tight")
    fig.text(0.5, 0.5, f"level {level}, word {word}")
    return frames._png(fig)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A notebook with one explorer (a 4-step slider and a 2-option dropdown) whose draw
    writes its values into the figure and a log, then a cell that must not run; executed
    once in place (as a chapter is, with its widget state stored), then for its frames."""
    import nbclient

    tmp = tmp_path_factory.mktemp("toy")
    log = ("import os\n"
           "with open('ran_in.txt', 'w') as f:\n    f.write(os.getcwd())\n")
    nb_path = _notebook(tmp / "notebooks" / "01_toy.ipynb",
                        [_DRAW + log, _MAKE, _AFTER])
    stored = nbformat.read(nb_path, as_version=4)
    stored.cells = stored.cells[:2]  # the stored outputs: as a chapter is executed
    nbclient.NotebookClient(stored, kernel_name="python3",
                            resources={"metadata": {"path": str(nb_path.parent)}}).execute()
    stored.cells.append(nbformat.v4.new_code_cell(_AFTER))
    nbformat.write(stored, nb_path)
    out = tmp / "frames" / "01_toy"
    frames.render_chapter(nb_path, out)
    return nb_path, out


def test_the_hook_draws_every_position_of_the_grid_with_the_explorers_own_draw(toy):
    nb_path, out = toy
    (data,) = frames.load(out)
    assert [a["name"] for a in data["axes"]] == ["level", "word"]
    assert data["positions"] == 8 and len(data["keys"]) == 8 and len(data["frames"]) == 8
    assert data["initial"] == "2,0" and data["figsize"] == [2, 1] and data["dpi"] == 50
    for level in range(4):
        for k, word in enumerate("ab"):
            png = base64.b64decode(data["frames"][data["keys"][f"{level},{k}"]])
            assert png == _expected_png(level, word), (level, word)
    # the notebook ran in its own folder, and stopped at its last explorer (_AFTER raises)
    assert Path(nb_path.parent / "ran_in.txt").read_text() == str(nb_path.parent)


def test_a_cached_chapter_is_not_executed_again_and_a_changed_one_is(toy, monkeypatch):
    nb_path, out = toy
    key = (out / "key").read_text().strip()
    assert key == frames.cache_key(nb_path)
    import nbclient

    def refuse(*a, **k):
        raise AssertionError("executed although cached")

    monkeypatch.setattr(nbclient.NotebookClient, "execute", refuse)
    frames.render_chapter(nb_path, out)  # a hit: nothing runs
    before = nb_path.read_bytes()
    try:
        nb_path.write_bytes(before + b" ")
        assert frames.cache_key(nb_path) != key
        with pytest.raises(AssertionError, match="executed although cached"):
            frames.render_chapter(nb_path, out)
    finally:
        nb_path.write_bytes(before)


# ------------------------------------------------------------------ the HTML of the book


def test_the_book_shows_the_explorer_as_controls_over_its_frames(toy):
    nb_path, out = toy
    nb = json.loads(nb_path.read_text())
    shown = build.static_widgets(json.loads(json.dumps(nb)), frames.load(out), "01_toy")
    (html,) = [o["data"]["text/html"] for c in shown["cells"] for o in c.get("outputs", [])
               if "dlmath-explorer" in o.get("data", {}).get("text/html", "")]
    assert 'type="range" min="0" max="3" step="1" value="2" data-axis="0"' in html
    assert '<select data-axis="1"><option selected>a</option><option>b</option></select>' \
        in html
    assert "a grid of 8 positions" in html and "snap" in html
    script = html.split('<script type="application/json" class="dlmath-explorer-frames">')[1]
    data = json.loads(script.split("</script>")[0])
    assert data["axes"] == 2 and len(data["keys"]) == 8
    assert sorted(data["keys"]) == [f"{i},{k}" for i in range(4) for k in range(2)]
    first = html.split('class="dlmath-explorer-figure"')[1]
    assert 'data-key="2,0"' in first
    assert f'src="data:image/png;base64,{data["frames"][data["keys"]["2,0"]]}"' in first
    # the frames must belong to the explorers: a count that differs fails the build
    with pytest.raises(ValueError, match="01_toy stores 1 explorer output"):
        build.static_widgets(json.loads(json.dumps(nb)), [], "01_toy")
    # without frames: the stored state, not moving
    static = build.static_widgets(json.loads(json.dumps(nb)))
    assert "dlmath-explorer" not in json.dumps(static) and "disabled" in json.dumps(static)


def test_frames_are_chosen_by_chapter_and_a_partial_build_is_never_fresh(tmp_path):
    stems = [p.stem for p in build.chapter_notebooks()]
    assert build.frame_chapters(None) == stems
    assert build.frame_chapters("") == []
    assert build.frame_chapters("03,08_attention") == ["03_cross_entropy", "08_attention"]
    with pytest.raises(ValueError, match="names no chapter"):
        build.frame_chapters("99_nothing")
    out = tmp_path / "html"
    out.mkdir()
    (tmp_path / "notebooks").mkdir()
    (out / "index.html").write_text("book")
    (out / build.STAMP).write_text("built in 1 s\nframes: 03_cross_entropy\n")
    assert not build.is_fresh(out, tmp_path)
    (out / build.STAMP).write_text("built in 1 s\n")
    assert build.is_fresh(out, tmp_path)


def test_a_frame_is_a_png_of_the_figure_unchanged_in_size():
    from matplotlib.figure import Figure
    from PIL import Image

    fig = Figure(figsize=(3, 2), dpi=40, layout="tight")
    fig.subplots().plot([0, 1, 0])
    image = Image.open(io.BytesIO(frames._png(fig)))
    assert image.format == "PNG" and image.size == (120, 80)


#: the chapter whose frames the tests always make (here and in the browser): the quickest to
#: run up to its last explorer, frames included (53 s in a cold build on two cores shared
#: with other work; chapter 03 took 131 s, the others 98-208 s), and its explorer has a
#: selection slider, an integer and a float slider
CHEAP = "12_parallel"


def test_chapter_pages_with_their_frames_stay_within_the_budget():
    """Each chapter's page holds at most :data:`book.frames.PAGE_BYTES` bytes of content:
    the cheap chapter's frames are made (or taken from the cache), and every chapter whose
    frames are cached and current is measured too (the page Sphinx writes is smaller
    than the notebook it is made from: no widget state, no stored frame)."""
    folders = frames.render_chapters([CHEAP], log=None)
    for stem in [p.stem for p in build.chapter_notebooks()]:
        nb_path = ROOT / "notebooks" / f"{stem}.ipynb"
        folder = folders.get(stem, frames.CACHE / stem)
        key = folder / "key"
        if not key.exists() or key.read_text().strip() != frames.cache_key(nb_path):
            continue
        nb = json.loads(nb_path.read_text())
        staged = json.dumps(build.static_widgets(nb, frames.load(folder), stem))
        assert len(staged) <= frames.PAGE_BYTES, f"{stem}: {len(staged)} bytes"


def test_a_held_or_free_form_control_is_shown_disabled_with_why():
    held = build._moving_control(3, {"kind": "fixed", "description": "silu", "labels": ["off"],
                                     "initial": 0, "control": "Checkbox",
                                     "note": "held: beyond the page's budget of frames"})
    assert 'type="checkbox" disabled>' in held and "data-axis" not in held
    assert "(held)" in held and "budget of frames" in held  # in short, and in full on hover
    text = build._moving_control(1, {"kind": "fixed", "description": "own", "labels": ["1 2"],
                                     "initial": 0, "control": "Text",
                                     "note": "free-form: needs JupyterLab"})
    assert 'type="text" disabled value="1 2"' in text and "(free-form)" in text
    assert 'title="free-form: needs JupyterLab"' in text and "data-axis" not in text
