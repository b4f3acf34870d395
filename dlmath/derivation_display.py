r"""How a derivation is set: the rough width of a LaTeX formula (:func:`latex_width`), the
LaTeX of an expression in the order it was built (:func:`latex_of`), long formulas broken over
the lines of an aligned display (:func:`wrapped_latex`), a step's reason set as text and
math (:func:`reason_latex`), and the one-line text form without SymPy's constructor names
(:func:`pretty`).

Used by :mod:`dlmath.derivation`, which re-exports :func:`latex_width`, :data:`WRAP_AT` and
:data:`LINE_AT`.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from dlmath.proofs import text_latex

#: Right-hand sides wider than this (:func:`latex_width`, in characters) are broken over
#: lines at their top-level terms.
WRAP_AT = 44

#: A badge (reason and scope) wider than this (:func:`latex_width` of its small type, less
#: the left side's column) is set on two lines, and a scope breaks between the domains.
BADGE_WRAP_AT = 76

#: How wide a badge's small type is beside the formula's, per :func:`latex_width` unit.
SMALL_TYPE = 0.7

#: The book's column, in :func:`latex_width` units of a displayed formula: a definition
#: with its badge that is wider is set on more than one line.
LINE_AT = 60


def latex_of(expr, **kw) -> str:
    """LaTeX of an expression with its terms and factors in the order they were built
    (``sp.Add(sigma(z), -y, evaluate=False)`` prints as written); SymPy's usual order for
    expressions built the usual way."""
    if not isinstance(expr, sp.Basic):
        return sp.latex(expr, **kw)
    if not _built(expr):
        return sp.latex(expr, **kw)
    return sp.latex(expr, order="none", **kw).replace("+ -", "- ")


def _built(expr) -> bool:
    """Whether an expression holds a sum or product built unevaluated (its order kept)."""
    for a in sp.preorder_traversal(expr):
        if isinstance(a, (sp.Add, sp.Mul)) and a.func(*a.args).args != a.args:
            return True
        if isinstance(a, (sp.MatAdd, sp.MatMul)) and \
                type(a)(*a.args, evaluate=True).args != a.args:
            return True
    return False


def reason_latex(why: str) -> str:
    """A step's reason as LaTeX: text in sans serif, ``$...$`` pieces as math."""
    parts = why.split("$")
    if len(parts) % 2 == 0:
        raise ValueError(f"Derivation.step: unbalanced '$' in the reason {why!r}.")
    return " ".join(text_latex(p) if n % 2 == 0 else p for n, p in enumerate(parts) if p)


_WIDE_COMMANDS = {"log": 3, "exp": 3, "sin": 3, "cos": 3, "tanh": 4, "max": 3, "min": 3,
                  "quad": 2, "qquad": 4, "sum": 2, "prod": 2, "int": 1.5}


def latex_width(tex: str) -> float:
    """A rough rendered width of a LaTeX formula, in characters (fractions count their
    wider part, scripts 0.7, ``\\left(`` one): the measure used to break long lines."""
    def group(k):  # the {...} starting at k -> (content, end)
        depth, j = 0, k
        while j < len(tex):
            depth += {"{": 1, "}": -1}.get(tex[j], 0)
            if depth == 0:
                return tex[k + 1:j], j + 1
            j += 1
        return tex[k + 1:], len(tex)

    width, k = 0.0, 0
    while k < len(tex):
        ch = tex[k]
        if ch == "\\":
            m = re.match(r"\\([a-zA-Z]+|.)", tex[k:])
            name = m.group(1)
            k += len(m.group(0))
            if name in ("frac", "dfrac", "tfrac") and tex[k:k + 1] == "{":
                a, k = group(k)
                b, k = group(k) if tex[k:k + 1] == "{" else ("", k)
                width += max(latex_width(a), latex_width(b)) + 0.5
            elif name in ("textsf", "text", "mathrm", "operatorname", "textrm", "mathbf") \
                    and tex[k:k + 1] == "{":
                a, k = group(k)
                width += len(a)
            elif name in ("left", "right", "displaystyle", "scriptsize", "color", "mathbb"):
                if name == "color" and tex[k:k + 1] == "{":
                    _, k = group(k)
            elif name in (",", ";", ":", "!", " "):
                width += 0.3
            else:
                width += _WIDE_COMMANDS.get(name, 1)
        elif ch in "^_":
            k += 1
            if tex[k:k + 1] == "{":
                a, k = group(k)
                width += 0.7 * latex_width(a)
            else:
                width += 0.7
                k += 1
        elif ch in "{}":
            k += 1
        elif ch in "+-=<>":
            width += 2
            k += 1
        elif ch.isspace():
            k += 1
        else:
            width += 1
            k += 1
    return width


#: What stands for a sub-expression while the text around it is printed.
_HOLE = sp.Symbol("DLMATHHOLE")

_TOKENS = re.compile(r"\\left|\\right|\\[{}]|[{}]")


def _around(tex: str) -> tuple[str, str] | None:
    r"""The text before and after the hole in ``tex``, cut so that each can end or start a
    line of an aligned display: the grouping braces open across the hole are dropped, and
    the ``\left ... \right`` pairs around it become ``\bigl ... \bigr`` (which need no
    partner on their line). None when the hole sits in a fraction, a root or a script."""
    pre, post = tex.split(_HOLE.name)
    braces, lefts = [], []
    for m in _TOKENS.finditer(pre):
        t = m.group()
        if t == "{":
            braces.append(m.start())
        elif t == "}":
            braces.pop()
        elif t == r"\left":
            lefts.append(m.start())
        elif t == r"\right":
            lefts.pop()
    for k in braces:  # a brace that is part of a fraction, root or script cannot go
        if pre[k - 1:k] in ("^", "_", "}") or pre[:k].endswith((r"\sqrt", r"\frac")):
            return None
    cut = sorted([(k, 1) for k in braces] + [(k, 5) for k in lefts], reverse=True)
    for k, n in cut:  # back to front, so that the earlier places stay where they are
        pre = pre[:k] + ("" if n == 1 else r"\bigl") + pre[k + n:]
    out, depth, opened, k = [], 0, 0, 0
    while k < len(post):
        m = _TOKENS.match(post, k)
        t = m.group() if m else post[k]
        k += len(t)
        if t == "{":
            depth += 1
        elif t == "}":
            t, depth = ("", 0) if depth == 0 else (t, depth - 1)  # "": dropped before
        elif t == r"\left":
            opened += 1
        elif t == r"\right":
            t, opened = (t, opened - 1) if opened else (r"\bigr", 0)
        out.append(t)
    return pre.rstrip() + " ", " " + "".join(out).strip()


def _inside(expr):
    """The widest part of ``expr`` that a line may break inside, and the text before and
    after it: a product's widest factor, a function's widest argument, a sum's body, the
    base of a power. None when there is none (a matrix, a fraction's denominator)."""
    def width(e):
        return latex_width(latex_of(e))
    if isinstance(expr, sp.Mul):
        factors = list(expr.args)
        part = max(factors, key=width)
        if isinstance(part, sp.Pow) and part.exp.is_negative:
            return None
        rest = sp.Mul(*[f for f in factors if f is not part], evaluate=False) \
            if len(factors) > 2 else [f for f in factors if f is not part][0]
        pre = latex_of(rest)
        pre = r"\left(" + pre + r"\right)" if isinstance(rest, sp.Add) else pre
        pre = "-" if pre == "-1" else pre
        if isinstance(part, sp.Add):
            return part, pre + r" \bigl(", r"\bigr)"
        return part, pre + " ", ""
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 1 \
            and isinstance(expr.base, sp.Add):
        return expr.base, r"\bigl(", r"\bigr)^{" + latex_of(expr.exp) + "}"
    if isinstance(expr, sp.Sum):
        cut = _around(latex_of(sp.Sum(_HOLE, *expr.limits)))
        if cut is None:
            return None
        pre, post = cut
        if isinstance(expr.function, sp.Add):
            return expr.function, pre + r"\bigl(", r"\bigr)" + post
        return expr.function, pre, post
    if isinstance(expr, (sp.Function, sp.Max, sp.Min)) and expr.args and \
            not isinstance(expr, (sp.exp, sp.Piecewise)):
        part = max(expr.args, key=width)
        held = expr.func(*[_HOLE if a is part else a for a in expr.args], evaluate=False)
        if _HOLE.name not in latex_of(held):
            return None
        cut = _around(latex_of(held))
        return None if cut is None else (part, *cut)
    return None


def _lines(expr, width: float) -> list[str]:
    """The LaTeX of ``expr`` as lines each about ``width`` (:func:`latex_width`) wide at
    most: broken at the top-level terms of a sum, and inside the widest factor, argument or
    summand of a term that is wider than a line, whose brackets become ``\bigl( \bigr)``.
    A part that cannot be broken (a matrix, an exponent) stays on one line."""
    tex = latex_of(expr)
    if latex_width(tex) <= width:
        return [tex]
    if isinstance(expr, sp.Add):
        return _sum_lines(expr, width)
    found = _inside(expr)
    if found is None:
        return [tex]
    part, pre, post = found
    lines = _lines(part, width - latex_width(pre))
    lines[0] = pre + lines[0]
    lines[-1] = lines[-1] + post
    return lines


def _sum_lines(expr, width: float) -> list[str]:
    """A sum's terms, as many to a line as fit; a term wider than a line is broken too."""
    terms = LatexPrinter()._as_ordered_terms(expr, order=None)
    lines, line = [], ""
    for n, term in enumerate(terms):
        negative = term.could_extract_minus_sign()
        body = -term if negative else term
        sign = "- " if negative else ("+ " if n else "")
        tex = latex_of(body)
        if isinstance(body, sp.Add):
            tex = r"\left(" + tex + r"\right)"
        if latex_width(tex) + 2 > width:  # a term of its own lines
            if line:
                lines.append(line)
            inner = _lines(body, width - 2)
            if isinstance(body, sp.Add):
                inner[0], inner[-1] = r"\bigl(" + inner[0], inner[-1] + r"\bigr)"
            lines.extend([sign + inner[0], *inner[1:]])
            line = ""
            continue
        piece = sign + tex
        if line and latex_width(line + piece) > width:
            lines.append(line)
            line = piece
        else:
            line = (line + " " + piece).strip()
    if line:
        lines.append(line)
    return lines


def wrapped_latex(expr, first: str, width: float = None) -> list[str]:
    """``first`` (the relation) and the expression's LaTeX, broken over lines when it is
    wider than ``width`` (default :data:`WRAP_AT`); one aligned row per line."""
    lines = _lines(expr, WRAP_AT if width is None else width)
    return ([f"& {first} {lines[0]}".replace("&  ", "& ")]
            + [r"& \quad " + line for line in lines[1:]])


class _TextPrinter(StrPrinter):
    """SymPy's text form, with the book's notation instead of constructor names."""

    printmethod = "_dlmath_text"

    def _print_Derivative(self, expr):
        d = "d" if len(expr.expr.free_symbols) <= 1 else "∂"
        var = "".join(f"{d}{self._print(v)}" + (f"^{n}" if n > 1 else "")
                      for v, n in expr.variable_count)
        return f"{d}/{var} [{self._print(expr.expr)}]"

    def _print_Sum(self, expr):
        lims = ", ".join(f"{self._print(a)}={self._print(lo)}..{self._print(hi)}"
                         for a, lo, hi in expr.limits)
        return f"Σ_{{{lims}}} [{self._print(expr.function)}]"

    def _print_Product(self, expr):
        lims = ", ".join(f"{self._print(a)}={self._print(lo)}..{self._print(hi)}"
                         for a, lo, hi in expr.limits)
        return f"Π_{{{lims}}} [{self._print(expr.function)}]"

    def _print_Integral(self, expr):
        lims = ", ".join(self._print(lim[0]) if len(lim) == 1 else
                         f"{self._print(lim[0])}={self._print(lim[1])}..{self._print(lim[2])}"
                         for lim in expr.limits)
        return f"∫_{{{lims}}} [{self._print(expr.function)}]"

    def _print_Indexed(self, expr):
        idx = [self._print(i) for i in expr.indices]
        if len(idx) == 1 and expr.indices[0].is_Atom:
            return f"{self._print(expr.base.label)}_{idx[0]}"
        return f"{self._print(expr.base.label)}_{{{', '.join(idx)}}}"

    def _print_KroneckerDelta(self, expr):
        return f"δ_{''.join(self._print(i) for i in expr.args)}"

    def _print_Subs(self, expr):
        at = ", ".join(f"{self._print(v)}={self._print(p)}"
                       for v, p in zip(expr.variables, expr.point, strict=True))
        return f"({self._print(expr.expr)})|_{{{at}}}"

    def _print_HadamardProduct(self, expr):
        return " ⊙ ".join(self.parenthesize(a, 50) for a in expr.args)

    def _print_Piecewise(self, expr):
        return "{" + "; ".join(f"{self._print(e)} if {self._print(c)}" for e, c in expr.args) + "}"


def pretty(expr) -> str:
    """A one-line, readable text form (no SymPy constructor names)."""
    if isinstance(expr, str):
        return expr
    return _TextPrinter({"order": "none" if _built(expr) else None}).doprint(expr)

