"""The chapter template (CONTRIBUTING.md, "The chapter template: teach first, verify beside
it"), checked on the stored notebooks: the ``.ipynb`` of each chapter in
:data:`TEMPLATE_CHAPTERS`, its cell tags and its stored outputs (nothing is executed here).

* the opening: title ``# NN · Topic``, a question, **You will see** (three to five items),
  **You need**, and a ``### Notation`` table ``| symbol | meaning |`` with each symbol once;
* ``## Setup``: one collapsed code cell (tag ``hide-input``) with ``dlmath.setup()`` and
  ``key = jax.random.key(...)``;
* the H2 sections in order: Setup, Intuition (before the first ``Derivation(``), ...,
  Exercises, Summary, Engineering appendix (last; it holds every ``NBVAL_IGNORE_OUTPUT`` and
  ``inspect.getsource`` cell);
* every cell that displays a Derivation or a definition is collapsed;
* every figure and explorer is followed by its caption ``**Figure N.k**``, numbered in order
  and referred to from the text; colour bars where colour encodes a value;
* no SymPy printer text (``Derivative(``, ``Sum(`` ...) in what the reader sees;
* every displayed relation states its scope (proven / checked / argued / definition);
* the summary: ``### Key ideas``, the ``verified_table()`` and ``### What comes next``;
* the exercises: derive (``same_expression``), implement (``same_function``) and predict.

Each check is a function ``check_*(nb, stem) -> list[str]`` of problems, each problem naming
the cell (its index among all cells, 0-based, and the heading it sits under); the tests at
the end of this file run the checks on small synthetic notebooks, so that each check is seen
to find what it looks for.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

#: The chapters held to the template. A chapter joins this list when it is rewritten in the
#: template; a new chapter starts in it.
TEMPLATE_CHAPTERS = ["01_linear_regression", "02_activations", "03_cross_entropy",
                     "04_backprop", "05_optimizers", "06_convolution", "07_recurrent",
                     "08_attention", "09_normalization", "10_generative", "11_graphs",
                     "12_parallel", "13_language_models",
                     "14_diffusion"]

FIGURE_MIMES = ("image/png", "application/vnd.jupyter.widget-view+json")
#: what a front end shows of a display output: the first of these that it holds
VISIBLE_ORDER = ("application/vnd.jupyter.widget-view+json", "text/html", "text/markdown",
                 "text/latex", "image/png", "text/plain")
PRINTER_TEXT = re.compile(r"\b(Derivative|Sum|Piecewise|Integral|Indexed|IndexedBase|"
                          r"KroneckerDelta|MatrixSymbol|Symbol|Function|Lambda|Eq|Mul|Add|Pow)\(")
LATEX_LEFTOVER = re.compile(r"\\operatorname\{(Derivative|Sum|Piecewise)\}")
SCOPE_BADGE = re.compile(r"\\textsf\{\s*(proven|checked|argued|definition)")
COLOUR_PLOT = re.compile(r"\b(imshow|pcolormesh|contourf|matshow|hexbin)\(")
NO_COLOUR_BAR = re.compile(r"#\s*no colou?r bar:\s*\S")
DLMATH_DISPLAYS = ("derivation", "definition")


# ------------------------------------------------------------------ reading a notebook


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else (value or "")


def load(stem: str) -> dict:
    return json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text(encoding="utf-8"))


def _source(cell) -> str:
    return _text(cell.get("source", ""))


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _prose_lines(markdown: str):
    """The lines of a markdown text outside fenced code blocks (``` and ~~~)."""
    fence = None
    for line in markdown.splitlines():
        m = re.match(r"^\s*(```+|~~~+)", line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * 3
            elif m.group(1).startswith(fence):
                fence = None
            continue
        if fence is None:
            yield line


def headings(nb) -> list[tuple[int, int, str]]:
    """``(cell index, level, title)`` of every markdown heading, in order."""
    out = []
    for k, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for line in _prose_lines(_source(cell)):
            m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
            if m:
                out.append((k, len(m.group(1)), m.group(2)))
    return out


def h2s(nb) -> list[tuple[int, str]]:
    return [(k, title) for k, level, title in headings(nb) if level == 2]


def where(nb, k: int) -> str:
    """``cell k (code, under '## Heading')``: what the author needs to find the cell."""
    above = [(level, title) for j, level, title in headings(nb) if j <= k]
    under = f", under '{'#' * above[-1][0]} {above[-1][1]}'" if above else ""
    cell = nb["cells"][k]
    first = next((line.strip() for line in _source(cell).splitlines() if line.strip()), "")
    return f"cell {k} ({cell['cell_type']}{under}; starts {first[:60]!r})"


def section(nb, prefix: str) -> tuple[int, int] | None:
    """The cells ``[start, end)`` of the first H2 section whose title starts with ``prefix``
    (its heading's cell to the next H2's cell)."""
    found = h2s(nb)
    for n, (k, title) in enumerate(found):
        if title.lower().startswith(prefix.lower()):
            end = next((j for j, _ in found[n + 1:] if j > k), len(nb["cells"]))
            return k, end
    return None


def section_lines(nb, prefix: str) -> list[str]:
    """The markdown lines of that section, after its heading, up to the next H2 (which may
    stand further down in the same cell), fenced code left out."""
    out, inside = [], False
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for line in _prose_lines(_source(cell)):
            if re.match(r"^##\s", line):
                if inside:
                    return out
                inside = line[2:].strip().lower().startswith(prefix.lower())
                continue
            if inside:
                out.append(line)
        if inside:
            out.append("")
    return out


def figure_cell(cell) -> bool:
    return cell["cell_type"] == "code" and any(
        mime in o.get("data", {}) for o in cell.get("outputs", []) for mime in FIGURE_MIMES)


def _dlmath_display(output) -> str | None:
    meta = output.get("metadata", {}).get("text/latex", {})
    return meta.get("dlmath") if isinstance(meta, dict) else None


def _list_items(lines: list[str]) -> int:
    """The number of top-level items of the markdown list the lines start with (blank lines
    before it skipped; the list ends at the first line that is neither an item, indented
    continuation nor blank)."""
    n, started = 0, False
    for line in lines:
        if not line.strip():
            continue
        if re.match(r"^ {0,1}([-*+]|\d+[.)])\s+\S", line):
            n, started = n + 1, True
        elif started and re.match(r"^\s{2,}\S", line):
            continue
        else:
            break
    return n


def _table(lines: list[str]) -> tuple[list[str], list[list[str]]] | None:
    """The first markdown table in the lines: (header cells, body rows' cells)."""
    rows = []
    for line in lines:
        if line.strip().startswith("|"):
            rows.append(line.strip())
        elif rows:
            break
    if len(rows) < 2:
        return None

    def cells(row):
        row = row.strip().strip("|")
        return [c.strip() for c in re.split(r"(?<!\\)\|", row)]

    header, body = cells(rows[0]), rows[1:]
    if body and re.fullmatch(r"\|?[\s:|-]+\|?", body[0]):
        body = body[1:]
    return header, [cells(r) for r in body]


# ------------------------------------------------------------------ a. the opening


def check_opening(nb, stem: str) -> list[str]:
    cells = nb["cells"]
    first_code = next((k for k, c in enumerate(cells) if c["cell_type"] == "code"), len(cells))
    opening = [k for k in range(first_code) if cells[k]["cell_type"] == "markdown"]
    if not opening:
        return [f"the chapter does not open with markdown: {where(nb, 0)} comes first; the "
                "opening (title, question, **You will see**, **You need**, ### Notation) goes "
                "before the setup cell"]
    lines: list[str] = []  # the opening's prose lines, up to the '## Setup' heading
    for k in opening:
        for line in _prose_lines(_source(cells[k])):
            if re.match(r"^##\s+Setup\b", line):
                break
            lines.append(line)
        else:
            continue
        break
    span = f"the opening (cells {opening[0]}-{opening[-1]}, before the first code cell)"
    text = "\n".join(lines)
    problems = []
    title = next((line for line in lines if line.startswith("# ")), None)
    if title is None or not re.match(rf"^# {stem[:2]} · \S", title):
        problems.append(f"{span} has no title '# {stem[:2]} · Topic' (with the middle dot "
                        f"'·'); its first H1 is {title!r}")
    prose = "\n".join(line for line in lines if not line.lstrip().startswith(("#", "|")))
    prose = re.sub(r"\$\$.*?\$\$|\$[^$\n]*\$|`[^`]*`", " ", prose, flags=re.S)
    if not re.search(r"\?(?=[\s*_)\"'”]|$)", prose):
        problems.append(f"{span} poses no question: no sentence ends in '?' (two or three "
                        "sentences that pose the chapter's question)")
    see = re.search(r"\*\*\s*(You will see|By the end)\b[^*\n]*\*\*", text)
    if see is None:
        problems.append(f"{span} has no bold '**You will see**' (or '**By the end**') "
                        "followed by three to five outcomes")
    else:
        after = text[see.end():].split("\n", 1)[1] if "\n" in text[see.end():] else ""
        n = _list_items(after.splitlines())
        if not 3 <= n <= 5:
            problems.append(f"{span}: '{see.group(0)}' is followed by a list of {n} items; "
                            "it needs three to five (one outcome per '- ' item)")
    if not re.search(r"\*\*\s*You need\b", text):
        problems.append(f"{span} has no bold '**You need**' with the prerequisites")
    notation = next((n for n, line in enumerate(lines)
                     if re.match(r"^###\s+Notation\b", line)), None)
    if notation is None:
        problems.append(f"{span} has no '### Notation' heading with a table "
                        "'| symbol | meaning |'")
    else:
        body = []
        for line in lines[notation + 1:]:
            if line.startswith("#"):
                break
            body.append(line)
        table = _table(body)
        header = [h.lower() for h in table[0][:2]] if table else []
        if table is None or header != ["symbol", "meaning"]:
            problems.append(f"{span}: '### Notation' is not followed by a table whose header "
                            "is '| symbol | meaning |' (found "
                            f"{'no table' if table is None else table[0]})")
        elif not table[1]:
            problems.append(f"{span}: the notation table has no rows")
        else:
            seen: dict[str, int] = {}
            for row in table[1]:
                symbol = re.sub(r"[\s$]", "", row[0])
                seen[symbol] = seen.get(symbol, 0) + 1
            twice = [s for s, n in seen.items() if n > 1]
            if twice:
                problems.append(f"{span}: the notation table lists {twice} more than once; "
                                "each symbol has one meaning in a chapter")
    return problems


# ------------------------------------------------------------------ b. the setup cell


def check_setup(nb, stem: str) -> list[str]:
    cells = nb["cells"]
    if not any(t == "Setup" for _, t in h2s(nb)):
        return ["no '## Setup' heading (one collapsed code cell right after it)"]
    start = next(k for k, t in h2s(nb) if t == "Setup")
    code = []
    for k in range(start + 1, len(cells)):
        if cells[k]["cell_type"] == "markdown":
            break
        code.append(k)
    if not code:
        return [f"'## Setup', {where(nb, start)}, is not followed by a code cell"]
    k = code[0]
    problems = []
    # the setup cell, and at most the opening's figure right after it (its caption follows)
    extra = [j for j in code[1:] if not figure_cell(cells[j])]
    if extra or len(code) > 2:
        problems.append(f"'## Setup' is followed by {len(code)} code cells before the next "
                        f"markdown cell ({[where(nb, j) for j in code[1:]]}); the setup is one "
                        "cell (only the opening's figure, with its caption, may follow it)")
    if "hide-input" not in _tags(cells[k]):
        problems.append(f"the setup cell, {where(nb, k)}, is not collapsed: give it the tag "
                        "'hide-input' (MyST ':tags: [hide-input]'); its tags are "
                        f"{_tags(cells[k])}")
    src = _source(cells[k])
    if not re.search(r"\bdlmath\.setup\(", src):
        problems.append(f"the setup cell, {where(nb, k)}, does not call dlmath.setup()")
    if not re.search(r"^key\s*=\s*jax\.random\.key\(", src, flags=re.M):
        problems.append(f"the setup cell, {where(nb, k)}, does not define "
                        "'key = jax.random.key(0)'")
    return problems


# ------------------------------------------------------------------ c. the sections in order


def check_sections(nb, stem: str) -> list[str]:
    cells, found = nb["cells"], h2s(nb)
    titles = [t for _, t in found]
    problems = []

    def first(prefix):
        return next((k for k, t in found if t.lower().startswith(prefix.lower())), None)

    if not found or titles[0] != "Setup":
        problems.append(f"the first H2 must be '## Setup'; the H2s are {titles}")
    setup, intuition = first("Setup"), first("Intuition")
    derivations = [k for k, c in enumerate(cells)
                   if c["cell_type"] == "code" and re.search(r"\bDerivation\(", _source(c))]
    if intuition is None:
        problems.append(f"no '## Intuition…' section (the idea, a picture, small numbers) "
                        f"before the derivations; the H2s are {titles}")
    else:
        if setup is not None and intuition < setup:
            problems.append(f"'## {dict(found)[intuition]}', {where(nb, intuition)}, comes "
                            "before '## Setup'")
        if derivations and derivations[0] < intuition:
            problems.append(f"{where(nb, derivations[0])} builds a Derivation before the "
                            f"'## Intuition…' section, {where(nb, intuition)}")
    order = ["Exercises", "Summary", "Engineering appendix"]
    at = {name: first(name) for name in order}
    missing = [name for name in order if at[name] is None]
    if missing:
        problems.append(f"missing sections {['## ' + m for m in missing]}; the H2s are "
                        f"{titles}")
    present = [at[name] for name in order if at[name] is not None]
    if present != sorted(present):
        problems.append(f"'## Exercises', '## Summary', '## Engineering appendix' must come "
                        f"in that order; the H2s are {titles}")
    appendix = at["Engineering appendix"]
    if appendix is not None:
        later = [t for k, t in found if k > appendix]
        if later:
            problems.append(f"'## Engineering appendix' must be the last H2; after it come "
                            f"{later}")
        for k, c in enumerate(cells):
            src = _source(c)
            if c["cell_type"] != "code" or k > appendix:
                continue
            for marker in ("NBVAL_IGNORE_OUTPUT", "inspect.getsource"):
                if marker in src:
                    problems.append(f"{where(nb, k)} uses {marker}, which belongs in the "
                                    "'## Engineering appendix' (off the learning path)")
    return problems


# ------------------------------------------------------------------ d. derivations collapsed


def check_derivations_collapsed(nb, stem: str) -> list[str]:
    problems, shown = [], 0
    for k, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code":
            continue
        kinds = {_dlmath_display(o) for o in c.get("outputs", [])} & set(DLMATH_DISPLAYS)
        if kinds:
            shown += 1
            if "hide-input" not in _tags(c):
                problems.append(f"{where(nb, k)} displays a {'/'.join(sorted(kinds))} but its "
                                "code is not collapsed: add the tag 'hide-input'")
    if not shown:
        problems.append("no cell displays a dlmath.symbolic.Derivation (or define(...)): the "
                        "chapter's derivations are chains of named steps, displayed")
    return problems


def check_collapsed_in_jupyterlab(nb, stem: str) -> list[str]:
    """The book hides a cell tagged hide-input; JupyterLab reads jupyter.source_hidden."""
    problems = []
    for k, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code":
            continue
        tagged = "hide-input" in _tags(c)
        hidden = bool(c.get("metadata", {}).get("jupyter", {}).get("source_hidden"))
        if tagged != hidden:
            problems.append(f"{where(nb, k)} is {'' if tagged else 'not '}tagged hide-input but "
                            f"its source is {'' if hidden else 'not '}collapsed in JupyterLab: "
                            "run python -m book.collapse on the notebook")
    return problems


# ------------------------------------------------------------------ e. figures


def check_figure_captions(nb, stem: str) -> list[str]:
    cells, chapter = nb["cells"], int(stem[:2])
    problems, captions, k_fig = [], {}, 0
    caption = re.compile(r"^\s*\*\*Figure\s+(\d+)\.(\d+)\*\*")
    for k, c in enumerate(cells):
        if not figure_cell(c):
            continue
        k_fig += 1
        want = f"Figure {chapter}.{k_fig}"
        nxt = cells[k + 1] if k + 1 < len(cells) else None
        m = caption.match(_source(nxt)) if nxt and nxt["cell_type"] == "markdown" else None
        if m is None:
            problems.append(f"{where(nb, k)} shows a figure (or explorer) but is not followed "
                            f"directly by a markdown caption '**{want}** — what to see'")
        elif (int(m.group(1)), int(m.group(2))) != (chapter, k_fig):
            problems.append(f"{where(nb, k + 1)} is captioned '{m.group(0).strip()}'; figures "
                            f"are numbered in order, this one is '**{want}**'")
        else:
            captions[want] = k + 1  # (a misnumbered caption is reported once, above)
    for k, c in enumerate(cells):
        if c["cell_type"] == "markdown" and caption.match(_source(c)) and \
                (k == 0 or not figure_cell(cells[k - 1])):
            problems.append(f"{where(nb, k)} is a caption with no figure right above it")
    for want, k_caption in captions.items():
        pattern = re.compile(rf"\bFigures?\s+{re.escape(want.split()[1])}(?!\d|\.\d)")
        referred = [k for k, c in enumerate(cells) if c["cell_type"] == "markdown"
                    and k != k_caption and pattern.search(_source(c))]
        if not referred:
            problems.append(f"'{want}', captioned in {where(nb, k_caption)}, is not referred "
                            f"to from the text: say in another markdown cell what '{want}' "
                            "shows")
    return problems


def check_colour_bars(nb, stem: str) -> list[str]:
    problems = []
    for k, c in enumerate(nb["cells"]):
        src = _source(c)
        if c["cell_type"] != "code" or not (m := COLOUR_PLOT.search(src)):
            continue
        if "colorbar(" not in src and not NO_COLOUR_BAR.search(src):
            problems.append(f"{where(nb, k)} draws colour as a value ({m.group(1)}) with no "
                            "colour bar: add fig.colorbar(...), or state the exception in a "
                            "comment '# no colour bar: <reason>'")
    return problems


# ------------------------------------------------------------------ f. no printer text


def visible(output) -> tuple[str, str] | None:
    """What the reader sees of an output: ``(kind, text)``, kind ``"stream"`` or a MIME type
    (the first of :data:`VISIBLE_ORDER` the output holds)."""
    if output.get("output_type") == "stream":
        return "stream", _text(output.get("text"))
    data = output.get("data", {})
    for mime in VISIBLE_ORDER:
        if mime in data:
            value = data[mime]
            return mime, value if isinstance(value, dict) else _text(value)
    return None


def check_no_printer_text(nb, stem: str) -> list[str]:
    problems = []
    for k, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code":
            continue
        listing = "getsource(" in _source(c)  # printed source code is code, not printer text
        for o in c.get("outputs", []):
            shown = visible(o)
            if shown is None:
                continue
            kind, text = shown
            if kind in ("stream", "text/plain") and not (listing and kind == "stream"):
                m = PRINTER_TEXT.search(text)
                if m:
                    line = next(line for line in text.splitlines() if m.group(0) in line)
                    problems.append(f"{where(nb, k)} shows SymPy printer text {m.group(0)!r} "
                                    f"({kind}: {line.strip()[:100]!r}); display the object "
                                    "(its LaTeX) instead of printing it")
            elif kind == "text/latex" and (m := LATEX_LEFTOVER.search(text)):
                problems.append(f"{where(nb, k)} typesets {m.group(0)!r}, SymPy's fallback "
                                "for an object it cannot print; give it a LaTeX form")
            elif kind == "text/latex" and (typed := commands_in_text(text)):
                problems.append(f"{where(nb, k)} typesets {typed[0]}: inside \\text / "
                                "\\textsf the book's MathJax (no textmacros package) shows TeX "
                                "commands as typed; set them outside the text (re-execute if "
                                "the output predates dlmath.derivation's fix)")
    return problems


def commands_in_text(latex: str) -> list[str]:
    r"""The ``\text{...}``-like groups (``\textsf``, ``\textrm`` ...) whose content holds a
    TeX command other than an escaped brace: MathJax without its ``textmacros`` package
    shows such a command as typed (``\textsf{a \;\cdot\; b}``, ``\textsf{x\_1}``)."""
    found = []
    for m in re.finditer(r"\\text(?:sf|rm|bf|it|tt)?\s*\{", latex):
        depth, j = 1, m.end()
        while j < len(latex) and depth:
            if latex[j] == "\\":
                j += 2
                continue
            depth += {"{": 1, "}": -1}.get(latex[j], 0)
            j += 1
        group = latex[m.start():j]
        if re.search(r"\\(?![{}])", latex[m.end():j - 1]):
            found.append(group)
    return found


# ------------------------------------------------------------------ g. relations with scope


def top_level_relations(latex: str) -> list[str]:
    r"""The relations (``=``, ``<``, ``>``, ``\le``, ``\ge``, ``\ne``, ``\approx`` ...) of a
    LaTeX formula outside sub- and superscripts, braces and ``cases`` conditions."""
    s = latex.replace("$", " ")
    s = re.sub(r"\\(left|right)\s*[<>]|\\[lr]angle\b", " ", s)
    s = re.sub(r"\\begin\{cases\}.*?\\end\{cases\}", " ", s, flags=re.S)
    s = re.sub(r"\\(begin|end)\{[a-zA-Z*]*\}", " ", s)
    out, depth, k = [], 0, 0
    while k < len(s):
        ch = s[k]
        if ch == "\\":
            m = re.match(r"\\([a-zA-Z]+|.)", s[k:])
            name = m.group(1)
            if depth == 0 and name in ("le", "ge", "leq", "geq", "ne", "neq", "approx",
                                       "lt", "gt", "leqslant", "geqslant"):
                out.append("\\" + name)
            k += len(m.group(0))
            continue
        if ch in "_^" and depth == 0:  # skip a script: a group or one token
            k += 1
            while k < len(s) and s[k] == " ":
                k += 1
            if k < len(s) and s[k] == "{":
                depth_here, j = 0, k
                while j < len(s):
                    if s[j] == "\\":
                        j += 2
                        continue
                    depth_here += {"{": 1, "}": -1}.get(s[j], 0)
                    j += 1
                    if depth_here == 0:
                        break
                k = j
            elif k < len(s) and s[k] == "\\":
                k += len(re.match(r"\\([a-zA-Z]+|.)", s[k:]).group(0))
            else:
                k += 1
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(depth - 1, 0)
        elif ch in "=<>" and depth == 0:
            out.append(ch)
        k += 1
    return out


def check_relations_scoped(nb, stem: str) -> list[str]:
    problems = []
    for k, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code":
            continue
        for o in c.get("outputs", []):
            latex = o.get("data", {}).get("text/latex")
            if latex is None or _dlmath_display(o) in DLMATH_DISPLAYS:
                continue
            latex = _text(latex)
            relations = top_level_relations(latex)
            if relations and not SCOPE_BADGE.search(latex):
                problems.append(f"{where(nb, k)} displays a relation ({relations[0]}) without "
                                "its scope: use a Derivation, define(...), prove_equal / "
                                "prove_inequality / argued (proven, checked, argued, "
                                f"definition); the LaTeX is {latex.strip()[:120]!r}")
    return problems


# ------------------------------------------------------------------ h. the summary


def check_summary(nb, stem: str) -> list[str]:
    cells, found = nb["cells"], section(nb, "Summary")
    if found is None:
        return ["no '## Summary' section (### Key ideas, the verified_table(), ### What comes "
                "next)"]
    start, end = found
    problems = []
    lines = section_lines(nb, "Summary")
    key = next((n for n, line in enumerate(lines) if re.match(r"^###\s+Key ideas\b", line)),
               None)
    if key is None:
        problems.append(f"the summary, {where(nb, start)}, has no '### Key ideas' heading")
    else:
        body = []
        for line in lines[key + 1:]:
            if line.startswith("#"):
                break
            body.append(line)
        if not any(re.match(r"^ {0,1}([-*+]|\d+[.)])\s+\S", line) for line in body):
            problems.append(f"the summary's '### Key ideas', {where(nb, start)}, is not a list "
                            "(a sentence and a formula per item)")
    tables = [k for k in range(start, end) if cells[k]["cell_type"] == "code"
              and "verified_table(" in _source(cells[k])]
    if not tables:
        problems.append(f"the summary (cells {start}-{end - 1}) has no code cell calling "
                        "verified_table() (the 'What is verified' table)")
    else:
        ok = False
        for k in tables:
            for o in cells[k].get("outputs", []):
                md = _text(o.get("data", {}).get("text/markdown", ""))
                table = _table(md.splitlines())
                if table and [h.lower() for h in table[0]] == ["claim", "scope", "where"] \
                        and table[1]:
                    ok = True
        if not ok:
            problems.append(f"{where(nb, tables[0])} stores no markdown table with the header "
                            "'| claim | scope | where |' and at least one row (re-execute; "
                            "does the chapter build its derivations after dlmath.setup()?)")
    if not any(re.match(r"^###\s+What comes next\b", line) for line in lines):
        problems.append(f"the summary, {where(nb, start)}, has no '### What comes next'")
    return problems


# ------------------------------------------------------------------ i. the exercises


def check_exercises(nb, stem: str) -> list[str]:
    cells, found = nb["cells"], section(nb, "Exercises")
    if found is None:
        return ["no '## Exercises' section (predict, derive, implement)"]
    start, end = found
    code = "\n".join(_source(cells[k]) for k in range(start, end)
                     if cells[k]["cell_type"] == "code")
    prose = "\n".join(section_lines(nb, "Exercises"))
    problems = []
    span = f"the exercises (cells {start}-{end - 1})"
    if "same_expression(" not in code:
        problems.append(f"{span} have no derive exercise (a checker calling "
                        "exercises.same_expression)")
    if "same_function(" not in code:
        problems.append(f"{span} have no implement exercise (a checker calling "
                        "exercises.same_function)")
    if not re.search(r"\bpredict\b", prose, flags=re.I):
        problems.append(f"{span} have no predict-then-run exercise (the word 'Predict' in "
                        "its text)")
    return problems


# ------------------------------------------------------------------ the chapters

CHECKS = {
    "a. opening": check_opening,
    "b. setup cell": check_setup,
    "c. sections in order": check_sections,
    "d. derivations collapsed": check_derivations_collapsed,
    "d. collapsed in JupyterLab": check_collapsed_in_jupyterlab,
    "e. figure captions": check_figure_captions,
    "e. colour bars": check_colour_bars,
    "f. no printer text": check_no_printer_text,
    "g. relations with scope": check_relations_scoped,
    "h. summary": check_summary,
    "i. exercises": check_exercises,
}


def _assert_none(problems: list[str], stem: str, what: str) -> None:
    assert not problems, (
        f"{stem}.ipynb breaks the chapter template ({what}; CONTRIBUTING.md, 'The chapter "
        "template'); cells are counted from 0 over all cells:\n  - " + "\n  - ".join(problems))


def test_the_template_chapters_exist():
    missing = [s for s in TEMPLATE_CHAPTERS if not (NOTEBOOKS / f"{s}.ipynb").exists()]
    assert not missing, f"TEMPLATE_CHAPTERS names chapters with no notebook: {missing}"


@pytest.mark.parametrize("stem", TEMPLATE_CHAPTERS)
def test_opening(stem):
    _assert_none(check_opening(load(stem), stem), stem, "the opening")


@pytest.mark.parametrize("stem", TEMPLATE_CHAPTERS)
def test_setup_cell_collapsed(stem):
    _assert_none(check_setup(load(stem), stem), stem, "the setup cell")


@pytest.mark.parametrize("stem", TEMPLATE_CHAPTERS)
def test_sections_in_order(stem):
    _assert_none(check_sections(load(stem), stem), stem, "the sections")


@pytest.mark.parametrize("stem", TEMPLATE_CHAPTERS)
def test_derivations_collapsed(stem):
    _assert_none(check_derivations_collapsed(load(stem), stem), stem, "the derivation cells")


@pytest.mark.parametrize("stem", TEMPLATE_CHAPTERS)
def test_collapsed_cells_are_collapsed_in_jupyterlab_too(stem):
    _assert_none(check_collapsed_in_jupyterlab(load(stem), stem), stem,
                 "hide-input cells collapsed in JupyterLab")


@pytest.mark.parametrize("stem", TEMPLATE_CHAPTERS)
def test_figures_captioned_in_order_and_referred_to(stem):
    _assert_none(check_figure_captions(load(stem), stem), stem, "the figure captions")


@pytest.mark.parametrize("stem", TEMPLATE_CHAPTERS)
def test_colour_bars(stem):
    _assert_none(check_colour_bars(load(stem), stem), stem, "colour bars")


@pytest.mark.parametrize("stem", TEMPLATE_CHAPTERS)
def test_no_sympy_printer_text_in_visible_outputs(stem):
    _assert_none(check_no_printer_text(load(stem), stem), stem, "printer text")


@pytest.mark.parametrize("stem", TEMPLATE_CHAPTERS)
def test_every_displayed_relation_has_its_scope(stem):
    _assert_none(check_relations_scoped(load(stem), stem), stem, "relations without scope")


@pytest.mark.parametrize("stem", TEMPLATE_CHAPTERS)
def test_summary(stem):
    _assert_none(check_summary(load(stem), stem), stem, "the summary")


@pytest.mark.parametrize("stem", TEMPLATE_CHAPTERS)
def test_exercises_predict_derive_implement(stem):
    _assert_none(check_exercises(load(stem), stem), stem, "the exercises")


# ------------------------------------------------------------------ the checks find problems


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(src: str, outputs=(), tags=()) -> dict:
    meta = {"tags": list(tags)} if tags else {}
    if "hide-input" in tags:
        meta["jupyter"] = {"source_hidden": True}
    return {"cell_type": "code", "metadata": meta, "source": src, "outputs": list(outputs),
            "execution_count": None}


def _display(obj) -> dict:
    """The output Jupyter stores for an object: its mimebundle and metadata."""
    if hasattr(obj, "_repr_mimebundle_"):
        data, meta = obj._repr_mimebundle_()
    else:
        data, meta = {"text/plain": repr(obj)}, {}
        for mime, method in (("text/latex", "_repr_latex_"),
                             ("text/markdown", "_repr_markdown_")):
            if hasattr(obj, method):
                data[mime] = getattr(obj, method)()
    return {"output_type": "display_data", "data": data, "metadata": meta}


def _figure() -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": "iVBORw0KGgo=",
                     "text/plain": "<Figure size 600x400 with 1 Axes>"}}


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _good_chapter() -> dict:
    """A small chapter 07 in the template, its outputs made by dlmath's own objects."""
    import sympy as sp

    from dlmath.derivation import Derivation, define, reset_ledger, verified_table
    from dlmath.symbolic import prove_equal

    reset_ledger()
    x = sp.Symbol("x", real=True)
    sigma = sp.Function("sigma")
    d = Derivation("the derivative of the sigmoid", sp.Derivative(sigma(x), x),
                   definitions={sigma: sp.Lambda(x, 1 / (1 + sp.exp(-x)))})
    d.step(sp.exp(-x) / (1 + sp.exp(-x)) ** 2, "quotient rule")
    d.step(sigma(x) * (1 - sigma(x)), "factor e^{-x} as 1/sigma - 1; x_1 & y")
    table = verified_table()
    cells = [
        _md("# 07 · A demo\n\nWhy does the sigmoid's slope never exceed one quarter? "
            "We ask it.\n\n**You will see**\n\n- one\n- two\n  (continued)\n- three\n\n"
            "**You need** chapter 01.\n\n### Notation\n\n| symbol | meaning | shape |\n"
            "|---|---|---|\n| $x$ | an input | () |\n| $\\sigma$ | the sigmoid | |\n"),
        _md("## Setup"),
        _code("import jax\nimport dlmath\n\ndlmath.setup()\nkey = jax.random.key(0)",
              tags=["hide-input"]),
        _code("plt.plot(xs, ys)\nplt.show()", [_figure()]),
        _md("**Figure 7.1** — the sigmoid."),
        _md("## Intuition: a worked example\n\nFigure 7.1 shows it; Figure 7.2 shows more."),
        _code("ax.imshow(a)\nfig.colorbar(im)", [_figure()]),
        _md("**Figure 7.2** — a heat map."),
        _md("## Derivation"),
        _code("d = Derivation(...)\nd", [_display(d)], tags=["hide-input"]),
        _code("define(sigma(x), ...)", [_display(define(sigma(x), 1 / (1 + sp.exp(-x)),
                                                         "the sigmoid, 100% of x_1"))],
              tags=["hide-input"]),
        _code("prove_equal((x + 1)**2, ...)",
              [_display(prove_equal((x + 1) ** 2, x**2 + 2 * x + 1))]),
        _code("show(sp.Sum(...))", [{"output_type": "execute_result", "metadata": {},
                                     "data": {"text/latex": r"$\displaystyle \sum_{i=1}^{N} "
                                              r"x_{i}$", "text/plain": "Σ x_i"}}]),
        _code("print(sigma(x))", [_stream("sigma(x) = 1/(1 + exp(-x))\n")]),
        _md("## Exercises\n\n**Exercise 1 (predict).** Predict, then run."),
        _code('check("Exercise 2", a, exercises.same_expression(a, b))'),
        _code('check("Exercise 3", f, exercises.same_function(f, g))'),
        _md("## Summary\n\n### Key ideas\n\n- the slope is $\\sigma(1 - \\sigma)$\n"),
        _code("verified_table()", [_display(table)]),
        _md("### What comes next\n\nChapter 08.\n\n## Engineering appendix\n\n```python\n"
            "## not a heading\n```"),
        _code("print(inspect.getsource(f))", [_stream("def f(x):\n    return sp.Symbol('x')\n")]),
        _code("# NBVAL_IGNORE_OUTPUT\nbench.timeit(f)", [_stream("1.0 ms\n")]),
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _problems(nb, stem="07_demo") -> dict[str, list[str]]:
    return {name: found for name, check in CHECKS.items() if (found := check(nb, stem))}


def test_a_chapter_in_the_template_passes_every_check():
    assert _problems(_good_chapter()) == {}


def _insert(nb, before_text: str, *cells) -> dict:
    k = next(k for k, c in enumerate(nb["cells"]) if _source(c).startswith(before_text))
    nb["cells"][k:k] = list(cells)
    return nb


def _only(found: dict[str, list[str]], name: str, *words: str) -> None:
    assert list(found) == [name], found
    assert all(any(w in p for p in found[name]) for w in words), found[name]


def test_the_checks_find_a_figure_without_its_caption():
    nb = _insert(_good_chapter(), "## Derivation", _code("plt.imshow(a)\nplt.colorbar()",
                                                         [_figure()]))
    _only(_problems(nb), "e. figure captions", "not followed directly", "Figure 7.3")
    nb = _good_chapter()
    nb["cells"][7]["source"] = "**Figure 7.3** — a heat map."  # numbered out of order
    found = _problems(nb)
    assert "e. figure captions" in found and any("this one is '**Figure 7.2**'" in p
                                                 for p in found["e. figure captions"])
    nb = _good_chapter()
    nb["cells"][5]["source"] = "## Intuition\n\nFigure 7.1 shows it."  # 7.2 never referred to
    _only(_problems(nb), "e. figure captions", "'Figure 7.2'", "not referred to")


def test_the_checks_find_a_colour_plot_without_a_colour_bar():
    nb = _good_chapter()
    nb["cells"][6]["source"] = "ax.pcolormesh(a)"
    _only(_problems(nb), "e. colour bars", "pcolormesh", "cell 6")
    nb["cells"][6]["source"] = "ax.pcolormesh(a)  # no colour bar: the sign is the value"
    assert _problems(nb) == {}


def test_the_checks_find_printed_sympy_objects():
    for output in (_stream("Derivative(sigma(x), x)\n"),
                   {"output_type": "execute_result", "metadata": {},
                    "data": {"text/plain": "Sum(x[i], (i, 0, N - 1))"}}):
        nb = _insert(_good_chapter(), "## Exercises", _code("print(d)", [output]))
        _only(_problems(nb), "f. no printer text", "printer text", "under '## Derivation'")
    nb = _insert(_good_chapter(), "## Exercises", _code("d", [{
        "output_type": "execute_result", "metadata": {},
        "data": {"text/latex": r"$\operatorname{Derivative}(f, x)$", "text/plain": "d"}}]))
    _only(_problems(nb), "f. no printer text", "operatorname")
    for typed in (r"\textsf{the sigmoid \;\cdot\; definition}", r"\textsf{d w\_k}"):
        nb = _insert(_good_chapter(), "## Exercises", _code("d", [{
            "output_type": "display_data", "metadata": {"text/latex": {"dlmath": "definition"}},
            "data": {"text/latex": f"$$ a := b \\qquad {{\\color{{gray}}{typed}}} $$",
                     "text/plain": "d"}}], tags=["hide-input"]))
        _only(_problems(nb), "f. no printer text", typed)
    assert commands_in_text(r"\textsf{a \{b\}} \text{c} \mathrm{\Delta}") == []


def test_the_checks_find_a_relation_without_its_scope():
    for latex in (r"$\displaystyle u_{t} = - \eta g_{t}$", r"$$ \eta \le \frac{2}{\lambda} $$",
                  r"$\begin{aligned} a &= b \end{aligned}$"):
        nb = _insert(_good_chapter(), "## Exercises", _code("show(u, rhs)", [{
            "output_type": "execute_result", "metadata": {},
            "data": {"text/latex": latex, "text/plain": "u"}}]))
        _only(_problems(nb), "g. relations with scope", "without its scope")
    assert top_level_relations(r"\sum_{i=1}^{N} x_{i} + \left< a, b \right>") == []
    assert top_level_relations(r"\begin{cases} 1 & \text{for}\: x > 0 \end{cases}") == []
    assert top_level_relations(r"x^2 \geq 0") == [r"\geq"]


def test_the_checks_find_a_setup_cell_not_collapsed_and_a_derivation_in_view():
    nb = _good_chapter()
    nb["cells"][2]["metadata"] = {}
    _only(_problems(nb), "b. setup cell", "not collapsed", "hide-input")
    nb = _good_chapter()
    nb["cells"][2]["source"] = "import jax"
    _only(_problems(nb), "b. setup cell", "dlmath.setup()", "jax.random.key")
    nb = _insert(_good_chapter(), "plt.plot", _code("x = 1"))  # setup is one cell
    _only(_problems(nb), "b. setup cell", "followed by 3 code cells", "x = 1")
    nb = _good_chapter()
    nb["cells"][9]["metadata"] = {}
    _only(_problems(nb), "d. derivations collapsed", "cell 9", "derivation")
    nb = _good_chapter()
    nb["cells"][9]["outputs"] = nb["cells"][10]["outputs"] = []
    _only(_problems(nb), "d. derivations collapsed", "no cell displays")


def test_the_checks_find_a_broken_opening():
    nb = _good_chapter()
    nb["cells"][0]["source"] = _source(nb["cells"][0]).replace(
        "| $\\sigma$ |", "| $x$ |").replace("- three\n", "").replace("one quarter?", "one quarter.")
    found = _problems(nb)
    _only(found, "a. opening", "more than once", "2 items", "no question")
    nb = _good_chapter()
    nb["cells"][0]["source"] = "# 7 · A demo\n\nWhat?\n"
    found = _problems(nb)["a. opening"]
    assert len(found) == 4, found  # title, You will see, You need, Notation


def test_the_checks_find_sections_out_of_order():
    nb = _insert(_good_chapter(), "## Intuition", _code("d = Derivation('t', x)"))
    _only(_problems(nb), "c. sections in order", "builds a Derivation before")
    nb = _insert(_good_chapter(), "## Exercises", _code("# NBVAL_IGNORE_OUTPUT\nbench.timeit(g)"))
    _only(_problems(nb), "c. sections in order", "NBVAL_IGNORE_OUTPUT")
    nb = _good_chapter()
    nb["cells"].append(_md("## Further reading"))
    _only(_problems(nb), "c. sections in order", "last H2")


def test_the_checks_find_a_summary_and_exercises_missing_their_parts():
    nb = _good_chapter()
    nb["cells"][18]["outputs"] = []
    nb["cells"][19]["source"] = _source(nb["cells"][19]).replace("What comes next", "Next")
    _only(_problems(nb), "h. summary", "claim | scope | where", "What comes next")
    nb = _good_chapter()
    nb["cells"][16]["source"] = "check('Exercise 3', f, f)"
    nb["cells"][14]["source"] = "## Exercises\n\n**Exercise 1.** Run it."
    _only(_problems(nb), "i. exercises", "same_function", "Predict")


def test_a_tagged_cell_not_collapsed_in_jupyterlab_is_found():
    nb = _good_chapter()
    for c in nb["cells"]:
        if "hide-input" in _tags(c):
            del c["metadata"]["jupyter"]
            break
    assert set(_problems(nb)) == {"d. collapsed in JupyterLab"}
