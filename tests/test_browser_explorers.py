"""The web book's explorers move, in a real browser (Playwright driving Debian's chromium).

On each chosen chapter's page, every control of every explorer is moved to several
positions (a range input by its value and by the arrow keys, a select by its options, a
checkbox both ways); after each move the figure must be the frame drawn for the controls'
positions when the book was built: the one the page carries under that key, and the one
stored in the frames cache (``_build/frames/<chapter>/explorer-NN.json``). The page shows
no console error, fetches nothing from outside, and stays within the book's page size.

Which chapters: executing a chapter for its frames takes 50-210 s on two busy cores, so, as
for JupyterLab (``tests/test_browser.py``), the cheap chapter ``CHEAP`` (of
``tests/test_explorer_frames.py``) always runs, and
each chapter whose frames fingerprint (:func:`frames_fingerprint`) differs from the one
recorded in ``tests/explorer_frames_passed.json`` when it last passed (the test writes
it; commit it). ``DLMATH_FRAME_CHAPTERS=all`` (or names) chooses instead. The session's
book build draws frames for these chapters only (``--frames``); the others keep their
explorers as stored.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import test_browser as _tb
from test_browser import CHAPTERS, ROOT
from test_explorer_frames import CHEAP

# the browser test's book: one build per session (its loopback server is started again here).
# chromium runs in a process of its own for each chapter (:func:`move_every_control`): a
# second Playwright in this process would meet the first one's event loop
book_dir, book_url, _stop_background_build = _tb.book_dir, _tb.book_url, _tb._stop_background_build

sys.path.insert(0, str(ROOT))

#: {chapter: frames fingerprint} of the last passing run; the test writes it
FRAMES_RECORD = ROOT / "tests" / "explorer_frames_passed.json"
#: what a chapter's moving explorers depend on besides its notebook
FRAMES_INPUTS = ["dlmath/widgets.py", "book/frames.py", "book/build.py",
                 "book/_static/explorer.js"]
#: the most bytes of a chapter page (frames and all)
MAX_PAGE_BYTES = 6_000_000


def frames_fingerprint(stem: str, root: Path = ROOT) -> str:
    """The fingerprint of the notebook and of :data:`FRAMES_INPUTS`: a chapter whose
    fingerprint is in :data:`FRAMES_RECORD` has passed as it is."""
    return _tb.fingerprint(stem, FRAMES_INPUTS, root)


def _read_record() -> dict:
    return _tb._read_record(FRAMES_RECORD)


def _record_pass(stem: str, fingerprint: str) -> None:
    _tb._record_pass(stem, fingerprint, FRAMES_RECORD)


def frame_chapters(choice: str | None = None, record: dict | None = None) -> list[str]:
    """The chapters whose explorers get frames and are moved here: :data:`CHEAP` and each
    chapter whose fingerprint differs from the recorded one; ``DLMATH_FRAME_CHAPTERS``
    (``all``, or names separated by spaces or commas) chooses instead."""
    return _tb.chosen_chapters("DLMATH_FRAME_CHAPTERS", choice,
                               _read_record() if record is None else record, CHEAP,
                               frames_fingerprint)


FRAME_CHAPTERS = frame_chapters()


def test_the_cheap_chapter_and_each_changed_chapter_get_frames(tmp_path):
    current = {stem: frames_fingerprint(stem) for stem in CHAPTERS}
    assert len(set(current.values())) == len(CHAPTERS)
    assert frame_chapters("", current) == [CHEAP]
    assert frame_chapters("", {}) == CHAPTERS
    stale = dict(current, **{CHAPTERS[7]: "0" * 64})
    assert frame_chapters("", stale) == sorted([CHEAP, CHAPTERS[7]])
    assert frame_chapters("all", current) == CHAPTERS
    assert frame_chapters(f"{CHAPTERS[5]},{CHAPTERS[1]}", current) == [CHAPTERS[5],
                                                                       CHAPTERS[1]]
    with pytest.raises(ValueError, match="names no chapter"):
        frame_chapters("99_nothing", current)
    _tb.assert_fingerprint_follows(frames_fingerprint, CHAPTERS[0], FRAMES_INPUTS, tmp_path)
    assert set(_read_record()) <= set(CHAPTERS), "the record names no such chapter"


#: every explorer on the page: its controls (axis, kind, number of positions) and frames
_EXPLORERS = """() => [...document.querySelectorAll('div.dlmath-explorer')].map(root => {
  const data = JSON.parse(root.querySelector('script.dlmath-explorer-frames').textContent);
  const controls = [...root.querySelectorAll('[data-axis]')].map(el => ({
    axis: Number(el.dataset.axis),
    kind: el.type === 'checkbox' ? 'checkbox' : el.tagName === 'SELECT' ? 'select' : 'range',
    count: el.tagName === 'SELECT' ? el.options.length :
           el.type === 'checkbox' ? 2 : Number(el.max) + 1,
    index: el.type === 'checkbox' ? (el.checked ? 1 : 0) :
           el.tagName === 'SELECT' ? el.selectedIndex : Number(el.value),
  }));
  return {data, controls};
})"""


def _figure(page, k: int) -> dict:
    return page.evaluate("""k => {
      const img = document.querySelectorAll('div.dlmath-explorer')[k]
          .querySelector('img.dlmath-explorer-figure');
      return {src: img.src, key: img.dataset.key, complete: img.complete,
              width: img.naturalWidth};
    }""", k)


def move_every_control(url: str, stem: str) -> None:
    """Open ``url`` (a chapter page) in chromium and move every control of every explorer,
    checking the figure after each move; an AssertionError says what went wrong."""
    from playwright.sync_api import sync_playwright

    from book import frames as F

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(_tb.CHROMIUM), headless=True,
                              args=_tb.CHROMIUM_ARGS)
        try:
            page = b.new_context(viewport={"width": 1280, "height": 900}).new_page()
            log = {"console": [], "failed": [], "outside": []}

            def route(r):
                if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:", "about:")):
                    r.continue_()
                else:
                    log["outside"].append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.on("console", lambda m: log["console"].append(m.text)
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: log["console"].append(f"page error: {e}"))
            page.on("requestfailed", lambda r: log["failed"].append(f"{r.url} ({r.failure})"))
            page.on("response", lambda r: log["failed"].append(f"{r.url} (HTTP {r.status})")
                    if r.status >= 400 else None)
            page.goto(url, wait_until="load")
            _move(page, stem, F.load(F.CACHE / stem))
            assert not log["console"], f"{stem}: console errors {log['console']}"
            assert not log["outside"], f"{stem}: fetched from outside {log['outside']}"
            assert not log["failed"], f"{stem}: failed requests {log['failed']}"
        finally:
            b.close()


def _move(page, stem: str, stored: list[dict]) -> None:
    explorers = page.evaluate(_EXPLORERS)
    assert explorers, f"{stem}: no moving explorer on the page"
    assert len(explorers) == len(stored), f"{stem}: explorers on the page != frames files"
    for k, (shown, frames_file) in enumerate(zip(explorers, stored, strict=True)):
        data = shown["data"]
        assert data["keys"] == frames_file["keys"] and data["axes"] == len(frames_file["axes"])
        state = [a["initial"] for a in frames_file["axes"]]
        root = page.locator("div.dlmath-explorer").nth(k)

        def check(moved: str, k=k, data=data, state=state, frames_file=frames_file):
            key = ",".join(map(str, state))
            figure = _figure(page, k)
            frame = data["frames"][data["keys"][key]]
            assert figure["key"] == key, f"{stem} explorer {k} after {moved}"
            assert figure["src"] == "data:image/png;base64," + frame, \
                f"{stem} explorer {k}: not the frame of {key} after {moved}"
            assert frame == frames_file["frames"][frames_file["keys"][key]]

        check("loading")
        changes = 0
        for c in shown["controls"]:
            el = root.locator(f'[data-axis="{c["axis"]}"]')
            targets = sorted({0, c["count"] - 1, c["count"] // 2, c["index"]})
            for i in [*targets, c["index"]]:
                before = _figure(page, k)["src"]
                if c["kind"] == "checkbox":
                    el.set_checked(bool(i))
                elif c["kind"] == "select":
                    el.select_option(index=i)
                else:
                    el.fill(str(i))
                state[c["axis"]] = i
                check(f"moving {c['axis']} to {i}")
                changes += _figure(page, k)["src"] != before
            if c["kind"] == "range" and c["count"] > 1:  # the keys step to the next position
                el.fill("0")
                el.press("ArrowRight")
                state[c["axis"]] = 1
                check(f"ArrowRight on {c['axis']}")
                el.fill(str(c["index"]))
                state[c["axis"]] = c["index"]
                check(f"moving {c['axis']} back")
        if len(set(data["frames"])) > 1:
            assert changes, f"{stem} explorer {k}: no move changed the figure"


@pytest.mark.parametrize("stem", FRAME_CHAPTERS)
def test_explorer_controls_move_the_figure_over_the_frames_drawn_for_them(stem, book_dir,
                                                                         book_url):
    html = book_dir / "notebooks" / f"{stem}.html"
    assert html.stat().st_size <= MAX_PAGE_BYTES, f"{stem}: page of {html.stat().st_size} B"
    proc = subprocess.run([sys.executable, __file__, f"{book_url}/notebooks/{stem}.html", stem],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{stem}:\n{(proc.stdout + proc.stderr)[-3000:]}"
    _record_pass(stem, frames_fingerprint(stem))


def test_every_built_page_stays_within_the_page_size(book_dir):
    sizes = {p.relative_to(book_dir).as_posix(): p.stat().st_size
             for p in book_dir.rglob("*.html") if "_static" not in p.parts}
    big = {k: v for k, v in sizes.items() if v > MAX_PAGE_BYTES}
    assert not big, f"pages over {MAX_PAGE_BYTES} bytes: {big}"
    index = (book_dir / "index.html").read_text(encoding="utf-8")
    assert "snap to that grid" in index, "the index does not say that the explorers move"


if __name__ == "__main__":  # python tests/test_browser_explorers.py URL CHAPTER
    move_every_control(sys.argv[1], sys.argv[2])
