"""The book as readers get it, in a real browser (Playwright driving Debian's chromium).

* The HTML book (``python -m book build``, built once per session into a temporary
  folder, or the fresh ``_build/html`` reused): every page's internal links and images
  resolve (read from the files); a handful of pages, loaded from a loopback server, show no
  console error, fetch nothing from outside, let MathJax typeset every formula (no raw
  ``$$``, no ``mjx-merror``) and load every image; screenshots of two pages go to the
  test's temporary folder.
* The chapters in the template (``TEMPLATE_CHAPTERS`` of ``tests/test_template.py``): no
  displayed formula is wider than the book's column or scrolls inside its box (long
  formulas break over lines; the CSS's ``overflow-x: auto`` is only a fallback). Chapter 02
  always, and every chapter whose page changed since it last passed (:func:`width_chapters`,
  ``tests/formula_widths_passed.json``); ``DLMATH_WIDTH_CHAPTERS=all`` measures them all.
* JupyterLab (``jupyter lab`` on loopback with a token, on a copy of the chapter): on
  opening, the notebook is not marked modified, its stored formulas are typeset without a
  MathJax error and each explorer shows its text form (not its ``VBox(children=...)`` repr,
  not a widget error); Run All gives no error output and no MathJax error, the explorers
  render as controls, and moving a slider redraws the figure beside it. A notebook made for
  this check (``tests/lab_smoke.ipynb``: a SymPy formula and one explorer, seconds to run)
  always runs, and every chapter that changed since it last passed here
  (:func:`lab_chapters`, ``tests/jupyterlab_passed.json``); ``DLMATH_LAB_CHAPTERS=all``
  runs them all.

Without chromium or playwright these tests are skipped with a message that says how to
enable them; where the environment variable ``CI`` is set, missing is a failure.
"""

from __future__ import annotations

import functools
import hashlib
import html.parser
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from test_template import TEMPLATE_CHAPTERS

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("DLMATH_CHROMIUM", "/usr/bin/chromium"))
#: chromium's flags for a sandboxed, offline, headless run
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: the pages checked in the browser: the index, chapters with widgets and many proofs,
#: the formula index and two API pages
BOOK_PAGES = ["index.html", "notebooks/01_linear_regression.html",
              "notebooks/05_optimizers.html", "formulas.html", "api/index.html",
              "api/dlmath.optim.html", "api/dlmath.linear_regression.html"]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: what the last passing JupyterLab run of each chapter saw: {chapter: fingerprint}. The test
#: writes it; commit it with the chapter (CONTRIBUTING.md), so that CI re-runs a chapter in
#: JupyterLab only when it changed
LAB_RECORD = ROOT / "tests" / "jupyterlab_passed.json"
#: what a chapter's behaviour in JupyterLab depends on besides the notebook itself
LAB_INPUTS = ["dlmath/widgets.py"]
LAB_DISTRIBUTIONS = ["jupyterlab", "ipywidgets", "jupyterlab_widgets"]


def fingerprint(stem: str, inputs, root: Path = ROOT, distributions=()) -> str:
    """sha256 of the chapter's notebook, of the files ``inputs`` and of the installed versions
    of ``distributions``: what a browser test's record compares."""
    from importlib.metadata import version

    h = hashlib.sha256()
    for path in [f"notebooks/{stem}.ipynb", *inputs]:
        h.update((root / path).read_bytes())
    for dist in distributions:
        h.update(f"{dist}=={version(dist)}\n".encode())
    return h.hexdigest()


def lab_fingerprint(stem: str, root: Path = ROOT) -> str:
    """The fingerprint of the notebook, :data:`LAB_INPUTS` and the versions of JupyterLab and
    the widgets: a chapter whose fingerprint is in :data:`LAB_RECORD` has passed as it is."""
    return fingerprint(stem, LAB_INPUTS, root, LAB_DISTRIBUTIONS)


def _read_record(path: Path = LAB_RECORD) -> dict:
    """A record of passing runs, {chapter: fingerprint} (empty if there is none)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _record_pass(stem: str, fingerprint: str, path: Path = LAB_RECORD) -> None:
    """Write ``stem``'s fingerprint into the record at ``path`` (sorted, one per line)."""
    record = _read_record(path)
    record[stem] = fingerprint
    path.write_text(json.dumps(dict(sorted(record.items())), indent=1) + "\n",
                    encoding="utf-8")


def chosen_chapters(variable: str, choice: str | None, record: dict, always: str,
                    fingerprint_of) -> list[str]:
    """The chapters a browser test runs: ``always`` and every chapter whose fingerprint
    (``fingerprint_of(stem)``) differs from the one ``record`` holds; the environment variable
    ``variable`` (or ``choice``), ``all`` or names separated by spaces or commas, chooses
    instead."""
    choice = os.environ.get(variable, "") if choice is None else choice
    if choice.strip() == "all":
        return list(CHAPTERS)
    names = choice.replace(",", " ").split()
    if names:
        unknown = sorted(set(names) - set(CHAPTERS))
        if unknown:
            raise ValueError(f"{variable} names no chapter {unknown}; the chapters are "
                             f"{CHAPTERS}")
        return names
    return [s for s in CHAPTERS if s == always or record.get(s) != fingerprint_of(s)]


def assert_fingerprint_follows(fingerprint_of, stem: str, inputs, tmp_path: Path) -> None:
    """``fingerprint_of(stem, root)`` is the same on a copy of the chapter's notebook and of
    ``inputs`` under ``tmp_path``, and changes when any one of those files changes."""
    paths = [f"notebooks/{stem}.ipynb", *inputs]
    for path in paths:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes((ROOT / path).read_bytes())
    current = fingerprint_of(stem, ROOT)
    assert fingerprint_of(stem, tmp_path) == current
    for path in paths:
        before = (tmp_path / path).read_bytes()
        (tmp_path / path).write_bytes(before + b" ")
        assert fingerprint_of(stem, tmp_path) != current, path
        (tmp_path / path).write_bytes(before)


def lab_chapters(choice: str | None = None, record: dict | None = None) -> list[str]:
    """The chapters run in JupyterLab (20-90 s each on two cores; CI's budget cannot take
    them all): every chapter whose fingerprint differs from the one recorded when it last
    passed (:data:`LAB_SMOKE` runs besides them, always).
    ``DLMATH_LAB_CHAPTERS="05_optimizers 08_attention"`` (or ``all``) names them instead."""
    return chosen_chapters("DLMATH_LAB_CHAPTERS", choice,
                           _read_record() if record is None else record,
                           "", lab_fingerprint)


LAB_CHAPTERS = lab_chapters()
#: the notebook JupyterLab opens and runs on every run, whatever changed: made for the
#: check (a formula displayed from SymPy, one explorer), so that it takes seconds
LAB_SMOKE = ROOT / "tests" / "lab_smoke.ipynb"
#: what runs in JupyterLab: the check's own notebook, then the chosen chapters
LAB_NOTEBOOKS = [LAB_SMOKE.stem, *LAB_CHAPTERS]
HOW_TO_ENABLE = ("to run them: apt-get install chromium (Debian's, at /usr/bin/chromium, or "
                 "set DLMATH_CHROMIUM) and pip install -r requirements.txt (playwright)")


def _require_browser():
    problems = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is not installed")
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        problems.append(f"no chromium at {CHROMIUM}")
    if problems:
        message = "browser tests: " + "; ".join(problems) + "; " + HOW_TO_ENABLE
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: a missing browser is a failure)")
        pytest.skip(message)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # launch() gives chromium a fresh temporary profile (--user-data-dir) of its own
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


#: the session's book build, started once (by whichever fixture needs it first)
_BUILD: dict = {}


def _start_book_build(tmp_path_factory) -> None:
    """Start ``python -m book build`` into a temporary folder, in the background, unless
    ``_build/html`` is newer than all its sources. JupyterLab's test starts it first, so
    the build runs while a chapter executes."""
    if _BUILD:
        return
    sys.path.insert(0, str(ROOT))
    from book import build

    if build.is_fresh():
        _BUILD.update(out=build.DEFAULT_OUT, proc=None)
        return
    out = tmp_path_factory.mktemp("book") / "html"
    log = open(out.parent / "build.log", "wb")
    from test_browser_explorers import FRAME_CHAPTERS  # explorers that move in this build

    proc = subprocess.Popen([sys.executable, "-m", "book", "build", "--out", str(out),
                             "--frames", ",".join(FRAME_CHAPTERS)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    _BUILD.update(out=out, proc=proc, log=out.parent / "build.log", start=time.time())


@pytest.fixture(scope="session", autouse=True)
def _stop_background_build():
    """A build still running when the session ends (nothing asked for the book) is ended."""
    yield
    proc = _BUILD.get("proc")
    if proc is not None and proc.poll() is None:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def book_dir(tmp_path_factory):
    """The built book: ``_build/html`` if it is newer than all its sources, else built."""
    _require_browser()  # no build where the browser tests will not run
    _start_book_build(tmp_path_factory)
    proc = _BUILD["proc"]
    if proc is not None:
        if proc.wait(timeout=600) != 0:
            pytest.fail("python -m book build failed:\n" +
                        _BUILD["log"].read_text(errors="replace")[-4000:])
        print(f"book built in {time.time() - _BUILD['start']:.1f} s (in the background)")
        _BUILD["proc"] = None
    return _BUILD["out"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def book_url(book_dir):
    """The book served on a free loopback port for the session."""
    handler = functools.partial(_QuietHandler, directory=str(book_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def page_log(browser):
    """A fresh page that records console errors, page errors, failed and outside requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log = {"console": [], "failed": [], "outside": []}

    def route(r):
        url = r.request.url
        if url.startswith(("http://127.0.0.1", "data:", "blob:", "about:")):
            r.continue_()
        else:
            log["outside"].append(url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: log["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log["console"].append(f"page error: {e}"))
    page.on("requestfailed", lambda r: log["failed"].append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: log["failed"].append(f"{r.url} (HTTP {r.status})")
            if r.status >= 400 else None)
    try:
        yield page, log
    finally:
        context.close()


# ------------------------------------------------------------------ JupyterLab


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``jupyter lab`` on loopback with a token, serving copies of the chapters."""
    _require_browser()
    _start_book_build(tmp_path_factory)
    home = tmp_path_factory.mktemp("lab")
    (home / "notebooks").mkdir()
    fingerprints = {}
    shutil.copy(LAB_SMOKE, home / "notebooks")
    for stem in LAB_CHAPTERS:
        fingerprints[stem] = lab_fingerprint(stem)  # of what is copied, before it runs
        shutil.copy(ROOT / "notebooks" / f"{stem}.ipynb", home / "notebooks")
    # the reader's defaults, except: no news prompt, and every cell rendered (not only those
    # in view) so that the checks see the whole notebook
    overrides = {"@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
                 "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"}}
    for name, value in overrides.items():
        f = home / "settings" / f"{name}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value), encoding="utf-8")
    token, port = secrets.token_hex(16), _free_port()
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}",
           "--ServerApp.port_retries=0", "--LabApp.news_url=",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, cwd=home, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(home / "lab.log", "wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail("jupyter lab did not start:\n" +
                                (home / "lab.log").read_text(errors="replace")[-3000:])
                time.sleep(0.3)
        yield {"base": base, "token": token, "home": home, "fingerprints": fingerprints}
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _lab_reset(lab) -> None:
    """What one chapter leaves behind, gone before the next opens: its kernel (a JAX process
    that keeps its memory and threads) and the workspace (which would reopen every notebook
    opened before)."""
    def call(method, path):
        req = urllib.request.Request(f"{lab['base']}{path}?token={lab['token']}",
                                     method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    for session in call("GET", "/api/sessions"):
        call("DELETE", f"/api/sessions/{session['id']}")
    for kernel in call("GET", "/api/kernels"):
        call("DELETE", f"/api/kernels/{kernel['id']}")
    shutil.rmtree(lab["home"] / "workspaces", ignore_errors=True)


_LAB_STATE = """() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  const cells = nb ? [...nb.querySelectorAll('.jp-CodeCell')] : [];
  const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt') || {}).textContent || '');
  return {
    cells: cells.length,
    running: prompts.filter(p => p.includes('*')).length,
    unrun: prompts.filter(p => /\\[ \\]/.test(p) || p.trim() === '').length,
    // JupyterLab renders an error output as stderr text holding the traceback
    errors: [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type=' +
        '"application/vnd.jupyter.error"], .jp-OutputArea-output[data-mime-type=' +
        '"application/vnd.jupyter.stderr"]')]
        .filter(e => /Traceback|Error/.test(e.textContent)).map(e => e.textContent.slice(0, 300)),
    untypeset: [...document.querySelectorAll('.jp-RenderedLatex, .jp-RenderedMarkdown')]
        .filter(e => e.matches('.jp-RenderedLatex') ? !e.querySelector('mjx-container') : (() => {
          const c = e.cloneNode(true);
          c.querySelectorAll('pre, code, mjx-container').forEach(x => x.remove());
          return c.textContent.includes('$$');
        })()).map(e => e.textContent.slice(0, 80)).slice(0, 5),
    merror: [...document.querySelectorAll('mjx-merror')]
        .map(e => e.getAttribute('data-mjx-error') || e.textContent).slice(0, 5),
    widgets: document.querySelectorAll('.jupyter-widgets').length,
    sliders: document.querySelectorAll('.widget-slider').length,
    reprs: [...document.querySelectorAll('.jp-OutputArea-output')]
        .filter(e => e.textContent.includes('VBox(children=')).length,
    // what an explorer shows before its cell runs (its text form), and widget errors
    explorerTexts: [...document.querySelectorAll('.jp-OutputArea-output')]
        .filter(e => e.textContent.includes('run the cell to move the controls')).length,
    widgetErrors: [...document.querySelectorAll('.jp-OutputArea-output')]
        .filter(e => /Error displaying widget|model not found/.test(e.textContent))
        .map(e => e.textContent.slice(0, 120)).slice(0, 3),
    dirty: !!document.querySelector('.lm-TabBar-tab.jp-mod-dirty'),
  };
}"""


def _wait_idle(page, timeout_s):
    """The status bar says the kernel is idle (``Python 3 (ipykernel) | Idle``)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
        ".some(e => /\\|\\s*Idle\\s*$/.test(e.textContent))", timeout=timeout_s * 1000)


@pytest.mark.parametrize("stem", LAB_NOTEBOOKS)
def test_chapter_runs_in_jupyterlab(stem, lab, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    outside = []

    def route(r):
        if r.request.url.startswith((lab["base"], "data:", "blob:", "about:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    try:
        page.goto(f"{lab['base']}/lab/tree/notebooks/{stem}.ipynb?token={lab['token']}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=60_000)
        _wait_idle(page, 60)
        page.wait_for_timeout(500)
        opened = page.evaluate(_LAB_STATE)
        problems = []  # all of them reported at once
        # the notebook as stored is what JupyterLab would save (its kernelspec included)
        if opened["dirty"]:
            problems.append("marked modified on opening (kernelspec or metadata differs from "
                            "what JupyterLab writes)")
        # the stored outputs, as the reader first sees them: typeset, and each explorer as
        # its text form (not its repr, not a widget error)
        for what, key in (("MathJax errors", "merror"), ("formulas left as TeX", "untypeset"),
                          ("widget errors", "widgetErrors")):
            if opened[key]:
                problems.append(f"on opening: {what} {opened[key]}")
        if opened["reprs"] or not opened["explorerTexts"]:
            problems.append(f"on opening: {opened['reprs']} explorers show their VBox repr, "
                            f"{opened['explorerTexts']} their text form")

        page.click(".lm-MenuBar-item:has-text('Run')")
        page.click("li[data-command='runmenu:run-all']")
        # every cell has run: each prompt in view shows its count (a collapsed cell, whose
        # source the chapter hides, shows a placeholder and no prompt)
        page.wait_for_function(
            "() => { const c = [...document.querySelectorAll('.jp-CodeCell')];"
            " const shown = c.filter(x => !x.querySelector('.jp-InputPlaceholder'));"
            " return shown.length && shown.every(x => /\\[\\d+\\]/.test("
            "(x.querySelector('.jp-InputPrompt') || {}).textContent || '')); }",
            timeout=180_000, polling=250)
        _wait_idle(page, 30)
        page.wait_for_timeout(500)  # the last outputs' MathJax
        ran = page.evaluate(_LAB_STATE)
        page.screenshot(path=tmp_path / f"{stem}-lab.png")
        if ran["errors"]:
            problems.append(f"error outputs {ran['errors']}")
        if ran["merror"]:
            problems.append(f"MathJax errors {ran['merror']}")
        if ran["untypeset"]:
            problems.append(f"formulas left as TeX {ran['untypeset']}")
        if not (ran["widgets"] > 0 and ran["sliders"] > 0):
            problems.append(f"no widget controls ({ran['widgets']} widgets, "
                            f"{ran['sliders']} sliders)")
        if ran["reprs"]:
            problems.append("an explorer shows as its VBox(children=...) text")
        if ran["widgetErrors"]:
            problems.append(f"widget errors {ran['widgetErrors']}")
        assert not problems, f"{stem} in JupyterLab: " + "; ".join(problems)

        # moving a slider redraws the figure beside it
        box = page.locator(".widget-vbox:has(.widget-slider):has(img)").last
        img = box.locator("img").first
        before = img.get_attribute("src")
        handle = box.locator(".widget-slider .noUi-handle").first
        handle.scroll_into_view_if_needed()
        handle.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        page.wait_for_function("([el, src]) => el.getAttribute('src') !== src",
                               arg=[img.element_handle(), before], timeout=20_000)
        assert not outside, f"{stem}: fetched from outside {outside}"
    finally:
        context.close()
        _lab_reset(lab)
    if stem in lab["fingerprints"]:  # a chapter (not the check's own notebook)
        _record_pass(stem, lab["fingerprints"][stem])


def test_lab_fixture_serves_copies_not_the_chapters(lab):
    """Run All autosaves: it must write to the copies, never to the originals."""
    originals = {LAB_SMOKE.stem: LAB_SMOKE,
                 **{stem: ROOT / "notebooks" / f"{stem}.ipynb" for stem in LAB_CHAPTERS}}
    assert list(originals) == LAB_NOTEBOOKS
    for stem, original in originals.items():
        copy = lab["home"] / "notebooks" / f"{stem}.ipynb"
        assert json.loads(copy.read_text())["cells"], stem
        assert copy.resolve() != original.resolve()


# ------------------------------------------------------------------ the HTML book, from files


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for name in ("href", "src"):
            if a.get(name) and tag in ("a", "img", "link", "script"):
                self.refs.append((tag, a[name]))


@functools.cache
def _parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    return p


def test_book_has_a_page_per_chapter_the_index_and_the_api(book_dir):
    chapters = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert chapters, "no chapter notebooks"
    for stem in chapters:
        assert (book_dir / "notebooks" / f"{stem}.html").exists(), stem
    index = (book_dir / "index.html").read_text(encoding="utf-8")
    for stem in chapters:
        assert f"notebooks/{stem}.html" in index, f"the chapter index does not link {stem}"
    for page in ("formulas.html", "api/index.html", "api/dlmath.losses.html",
                 "_static/mathjax/tex-chtml.js"):
        assert (book_dir / page).exists(), page


def test_every_internal_link_and_image_of_every_page_resolves(book_dir):
    # (_static holds the theme's template fragments, not pages)
    problems = []
    pages = sorted(p for p in book_dir.rglob("*.html") if "_static" not in p.parts)
    assert len(pages) > 20
    for page in pages:
        for tag, ref in _parse(page).refs:
            parts = urllib.parse.urlsplit(ref)
            if parts.scheme in ("http", "https") or parts.netloc:
                if tag != "a":  # a page may link out; it may not load from outside
                    problems.append(f"{page.relative_to(book_dir)}: loads {ref} from outside")
                continue
            if parts.scheme in ("data", "mailto", "javascript"):
                continue
            target = (page.parent / urllib.parse.unquote(parts.path)).resolve() \
                if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{page.relative_to(book_dir)}: {ref} does not exist")
            elif parts.fragment and target.suffix == ".html" and tag == "a" \
                    and parts.fragment not in _parse(target).ids:
                problems.append(f"{page.relative_to(book_dir)}: no #{parts.fragment} in "
                                f"{target.relative_to(book_dir)}")
    assert not problems, f"{len(problems)} broken references:\n" + "\n".join(problems[:40])


def test_api_links_to_chapters_and_source_and_the_formula_index_links_all_three(book_dir):
    optim = (book_dir / "api" / "dlmath.optim.html").read_text(encoding="utf-8")
    assert "../notebooks/05_optimizers.html" in optim  # derived in: one hop to the chapter
    assert "_modules/dlmath/optim.html" in optim  # [source]: one hop to the code
    index = (book_dir / "formulas.html").read_text(encoding="utf-8")
    from dlmath import formulas as F

    n = sum(len(v) for v in F.DOCUMENTED.values())
    assert index.count('class="rubric"') == n  # every registered formula, once
    assert 'href="api/dlmath.optim.html#dlmath.optim.adam"' in index
    assert "notebooks/05_optimizers.html#cell-" in index
    assert "test_formulas.py" in index and "test_optim.py" in index


# ------------------------------------------------------------------ the HTML book, in chromium

_TYPESET = """async () => {
  if (!document.querySelector('script[src*="mathjax"]')) return null;
  const ready = () => window.MathJax && MathJax.startup && MathJax.startup.promise;
  for (let i = 0; i < 200 && !ready(); i++) await new Promise(r => setTimeout(r, 50));
  await MathJax.startup.promise;
  return true;
}"""

_AUDIT = """async () => {
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null :
      new Promise(r => { i.onload = r; i.onerror = r; setTimeout(r, 5000); })));
  const article = document.querySelector('article') || document.body;
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, mjx-container, script').forEach(e => e.remove());
  const math = [...document.querySelectorAll('span.math, div.math')];
  return {
    formulas: document.querySelectorAll('mjx-container').length,
    merror: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent).slice(0, 5),
    untypeset: math.filter(e => !e.querySelector('mjx-container'))
        .map(e => e.textContent.slice(0, 80)).slice(0, 5),
    rawDollars: clone.innerText.includes('$$'),
    badImages: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80)),
    images: imgs.length,
    overflow: [...document.querySelectorAll('mjx-container[display="true"]')].filter(
        e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).length,
  };
}"""


@pytest.mark.parametrize("name", BOOK_PAGES)
def test_book_page_in_chromium(name, book_url, page_log, tmp_path):
    page, log = page_log
    page.goto(f"{book_url}/{name}", wait_until="load")
    has_math = page.evaluate(_TYPESET)
    audit = page.evaluate(_AUDIT)
    if name in ("notebooks/01_linear_regression.html", "formulas.html"):
        page.screenshot(path=tmp_path / (Path(name).stem + ".png"))
    assert not log["console"], f"{name}: console errors {log['console']}"
    assert not log["outside"], f"{name}: fetched from outside {log['outside']}"
    assert not log["failed"], f"{name}: failed requests {log['failed']}"
    if name != "index.html":
        assert has_math and audit["formulas"] > 0, f"{name}: no typeset formula"
    assert not audit["merror"], f"{name}: MathJax errors {audit['merror']}"
    assert not audit["untypeset"], f"{name}: formulas left as TeX {audit['untypeset']}"
    assert not audit["rawDollars"], f"{name}: raw $$ left in the text"
    assert not audit["badImages"], f"{name}: images that did not load {audit['badImages']}"
    assert audit["overflow"] == 0, f"{name}: {audit['overflow']} formulas run off the page"
    if name.startswith("notebooks/"):
        assert audit["images"] > 0, f"{name}: no figure"
        text = page.inner_text("article")
        assert "VBox(children=" not in text, f"{name}: an explorer shows as its repr"


#: every displayed formula measured against its column: the width of its content (the
#: container's scrollWidth, or its mjx-math's box) and the content width of the section (or
#: article) it stands in; collapsed parts are opened first, so that everything is laid out
_FORMULA_WIDTHS = """async () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  await document.fonts.ready;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const items = MathJax.startup.document.getMathItemsWithin(document.body);
  const source = el => {
    const item = items.find(m => m.typesetRoot === el);
    return (item ? item.math : (el.getAttribute('data-latex') || el.textContent)).trim();
  };
  return [...document.querySelectorAll('mjx-container[display="true"]')].map(el => {
    const col = el.parentElement.closest('section, article') || el.parentElement;
    const style = getComputedStyle(col);
    const math = el.querySelector('mjx-math');
    // how far each line of its largest table (an aligned block: a line a row) reaches
    // from the table's left edge
    const direct = t => [...t.querySelectorAll('mjx-mtr, mjx-mlabeledtr')]
        .filter(r => r.closest('mjx-mtable') === t);
    const table = [...el.querySelectorAll('mjx-mtable')]
        .sort((a, b) => direct(b).length - direct(a).length)[0];
    const left = table ? table.getBoundingClientRect().left : 0;
    const lines = table ? direct(table).map(r => Math.max(0, ...[...r.children]
        .filter(c => c.tagName === 'MJX-MTD').flatMap(c => [...c.children])
        .map(x => x.getBoundingClientRect()).filter(x => x.width).map(x => x.right - left)))
        : [];
    return {
      tex: source(el),
      content: Math.max(el.scrollWidth, math ? math.getBoundingClientRect().width : 0),
      column: col.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
      client: el.clientWidth,
      scroll: el.scrollWidth,
      lines,
    };
  });
}"""


def too_wide(formulas: list[dict], slack: float = 2) -> list[dict]:
    """The formulas wider than their column, or that scroll inside their own box (the CSS
    fallback ``overflow-x: auto`` keeps them readable, but a long formula must break over
    lines): ``slack`` pixels of rounding allowed."""
    return [f for f in formulas
            if f["content"] > f["column"] + slack or f["scroll"] > f["client"] + slack]


def widest_line(formula: dict) -> str:
    r"""The TeX of the line of an aligned block that reaches furthest right (``lines``, as
    measured in the browser), or "" when the lines cannot be matched to the TeX's rows."""
    body = re.search(r"\\begin\{aligned\}(.*)\\end\{aligned\}", formula["tex"], re.S)
    if not body or not formula.get("lines"):
        return ""
    rows, depth, start, k, text = [], 0, 0, 0, body.group(1)
    while k < len(text):
        if text.startswith("\\\\", k) and depth == 0:  # a line break
            rows.append(text[start:k])
            k = start = k + 2
        elif text[k] == "\\":  # a command or an escaped character such as \{
            k += 2
        else:
            depth += {"{": 1, "}": -1}.get(text[k], 0)
            k += 1
    rows.append(text[start:])
    rows = [r for r in rows if r.strip()]
    if len(rows) != len(formula["lines"]):
        return ""
    k = max(range(len(rows)), key=lambda n: formula["lines"][n])
    return f"line {k + 1} of {len(rows)}, {formula['lines'][k]:.0f} px: {rows[k].strip()[:200]}"


def test_formula_width_check_finds_wide_and_scrolling_formulas():
    fits = {"tex": "a", "content": 600, "column": 688, "client": 688, "scroll": 688}
    wide = dict(fits, tex="b", content=1030.5, scroll=1031)
    scrolls = dict(fits, tex="c", content=680, client=600, scroll=680)
    assert [f["tex"] for f in too_wide([fits, wide, scrolls])] == ["b", "c"]
    assert too_wide([dict(fits, content=689.5, scroll=690, client=688)]) == []  # rounding
    block = dict(wide, tex=r"\begin{split}\begin{aligned}a & = b \\ & \qquad \textsf{x \{y\}} "
                 r"\\ & = \frac{c}{d}\end{aligned}\end{split}", lines=[80, 900, 120])
    assert widest_line(block) == r"line 2 of 3, 900 px: & \qquad \textsf{x \{y\}}"
    assert widest_line(dict(block, lines=[80, 900])) == ""  # rows not matched: no guess


#: {chapter: fingerprint} of the last run whose displayed formulas all fitted the column
WIDTH_RECORD = ROOT / "tests" / "formula_widths_passed.json"
#: what a chapter page's formula widths depend on besides its notebook (which holds the
#: formulas as they are shown): the build and its style sheet
WIDTH_INPUTS = ["book/build.py", "book/conf.py", "book/sphinxext.py", "book/_static/dlmath.css"]
WIDTH_DISTRIBUTIONS = ["sphinx", "myst-nb", "sphinx-book-theme", "sphinx-mathjax-offline"]


def width_fingerprint(stem: str, root: Path = ROOT) -> str:
    """The fingerprint of the notebook, :data:`WIDTH_INPUTS` and the versions of the
    book's builders: a chapter whose fingerprint is in :data:`WIDTH_RECORD` has passed."""
    return fingerprint(stem, WIDTH_INPUTS, root, WIDTH_DISTRIBUTIONS)


def width_chapters(choice: str | None = None, record: dict | None = None) -> list[str]:
    """The chapters whose formula widths are measured (a page typesets for 4-8 s): chapter
    02, the one with the fewest displayed formulas, and each chapter whose fingerprint
    differs from the recorded one; ``DLMATH_WIDTH_CHAPTERS`` (``all`` or names) chooses
    instead."""
    chosen = chosen_chapters("DLMATH_WIDTH_CHAPTERS", choice,
                             _read_record(WIDTH_RECORD) if record is None else record,
                             "02_activations", width_fingerprint)
    return [s for s in chosen if s in TEMPLATE_CHAPTERS]


@pytest.mark.parametrize("stem", width_chapters())
def test_template_chapter_formulas_fit_the_column(stem, book_url, page_log):
    """Chapters in the template (tests/test_template.py) break long formulas over lines: no
    displayed formula is wider than the book's column, none scrolls inside its box. Run for
    the chapters of :func:`width_chapters`; a pass is recorded in :data:`WIDTH_RECORD`."""
    expected = width_fingerprint(stem)  # of what the build read, before the page loads
    page, _ = page_log
    name = f"notebooks/{stem}.html"
    page.goto(f"{book_url}/{name}", wait_until="load")
    assert page.evaluate(_TYPESET), f"{name}: no MathJax on the page"
    formulas = page.evaluate(_FORMULA_WIDTHS)
    assert formulas, f"{name}: no displayed formula"
    wide = too_wide(formulas)
    assert not wide, (
        f"{stem}: {len(wide)} of {len(formulas)} displayed formulas do not fit the book's "
        f"column (content width > column width + 2 px, or the formula scrolls in its box); "
        "break them over lines (a Derivation does; see dlmath.derivation.WRAP_AT):\n" + "\n".join(
            f"  - {f['content']:.0f} px in a {f['column']:.0f} px column (box {f['client']} px, "
            f"scrolls {f['scroll']} px): {f['tex'][:300]!r}"
            + (f"\n    widest: {line}" if (line := widest_line(f)) else "") for f in wide))
    _record_pass(stem, expected, WIDTH_RECORD)


# ---------------------------------------------------- the build's own parts (no browser)


def test_formula_widths_run_chapter_02_and_each_chapter_changed_since_it_last_passed(tmp_path):
    current = {stem: width_fingerprint(stem) for stem in TEMPLATE_CHAPTERS}
    assert len(set(current.values())) == len(TEMPLATE_CHAPTERS)
    assert width_chapters("", current) == ["02_activations"]
    assert width_chapters("", {}) == TEMPLATE_CHAPTERS
    stale = dict(current, **{TEMPLATE_CHAPTERS[9]: "0" * 64})
    assert width_chapters("", stale) == ["02_activations", TEMPLATE_CHAPTERS[9]]
    assert width_chapters("all", current) == TEMPLATE_CHAPTERS
    assert_fingerprint_follows(width_fingerprint, TEMPLATE_CHAPTERS[0], WIDTH_INPUTS, tmp_path)
    assert set(_read_record(WIDTH_RECORD)) <= set(TEMPLATE_CHAPTERS), "no such chapter"


def test_docstring_math_and_chapter_references_become_rst():
    sys.path.insert(0, str(ROOT / "book"))
    from sphinxext import convert, join_literals

    chapters = {"05": "05_optimizers"}
    doc = ("Adam, $\\hat m_t$ and ``$x$`` stay.\n\n    $$a +\n    b$$\n\n"
           "Derived in ``notebooks/05_optimizers.ipynb``; see chapter 05, not chapter 99.")
    out = convert(doc, chapters)
    assert ":math:`\\hat m_t`" in out and "``$x$``" in out  # literals are left alone
    assert "    .. math::\n\n       a + b\n" in out  # display math, at its indentation
    assert ":doc:`notebooks/05_optimizers.ipynb </notebooks/05_optimizers>`" in out
    assert ":doc:`chapter 05 </notebooks/05_optimizers>`" in out and "chapter 99." in out
    assert convert("$n$th", {}) == ":math:`n`\\ th"  # RST needs a boundary after a role
    assert join_literals('``{"a": (1,\n    2)}``') == '``{"a": (1, 2)}``'


def test_jupyterlab_runs_its_notebook_and_each_chapter_changed_since_it_last_passed(tmp_path):
    current = {stem: lab_fingerprint(stem) for stem in CHAPTERS}
    assert len(set(current.values())) == len(CHAPTERS)  # each chapter its own fingerprint
    assert lab_chapters("", current) == []
    assert lab_chapters("", {}) == CHAPTERS  # nothing recorded: all of them
    stale = dict(current, **{CHAPTERS[4]: "0" * 64})
    assert lab_chapters("", stale) == [CHAPTERS[4]]
    assert LAB_NOTEBOOKS[0] == "lab_smoke" and LAB_SMOKE.exists()
    assert lab_chapters("all", current) == CHAPTERS
    assert lab_chapters(f"{CHAPTERS[2]} {CHAPTERS[1]}", current) == [CHAPTERS[2], CHAPTERS[1]]
    with pytest.raises(ValueError, match="names no chapter"):
        lab_chapters("99_nothing", current)
    # the fingerprint follows the notebook's bytes and the widget code
    assert_fingerprint_follows(lab_fingerprint, CHAPTERS[0], LAB_INPUTS, tmp_path)
    record = _read_record()
    assert set(record) <= set(CHAPTERS), "the record names a chapter that does not exist"


def test_explorers_are_drawn_from_their_stored_widget_state():
    sys.path.insert(0, str(ROOT))
    from book.build import static_widgets

    nb = json.loads((ROOT / "notebooks" / "01_linear_regression.ipynb").read_text())
    out = static_widgets(nb)
    assert "widgets" not in out["metadata"]  # no widget manager is asked for
    shown = [o["data"]["text/html"] for c in out["cells"] for o in c.get("outputs", [])
             if "text/html" in o.get("data", {}) and "dlmath-widget" in o["data"]["text/html"]]
    assert shown and all('type="range"' in h and "data:image/png;base64," in h for h in shown)
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                   for c in out["cells"] for o in c.get("outputs", []))
