r"""Derivations that read like a textbook and stay proven.

A :class:`Derivation` is a chain of named steps, ``start = e_1 = e_2 = ...``, written in the
chapter's own notation: named functions (``sigma(z)``), indexed symbols (``p[i]``) and
unevaluated derivatives (``sp.Derivative(L(z), z)``) are displayed as they are, while the
proof of every step substitutes their *definitions* first and then shows that the residual
simplifies to 0 (:func:`dlmath.proofs.prove_equal`). What the reader sees is one aligned
multi-line display, each step with its reason and its badge (*proven for every ...*,
*checked at ...*, *argued*), long right-hand sides broken over lines so that nothing is cut
off at the column's edge.

A step may also rewrite with an earlier, proven result (``using=``): the result's left-hand
side becomes a pattern (its free symbols match anything), and every match is replaced by
its right-hand side before the residual is simplified. That is how a chapter reuses another
chapter's theorem by name.

:func:`define` states a definition (badge *definition*), and :func:`verified_table` lists
every derivation made since :func:`dlmath.setup` (claim · scope · where), generated from
the objects, for a chapter's summary.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from dlmath.proofs import (
    ARGUED,
    CHECKED,
    DEFAULT_SIMPLIFIERS,
    PROVEN,
    Proof,
    _as_sympy,
    _domain,
    prove_equal,
    prove_inequality,
)
from dlmath.proofs import (
    text_latex as _textsf,
)

__all__ = ["Derivation", "Step", "define", "Definition", "verified_table", "VerifiedTable",
           "expand_definitions", "reset_ledger"]

#: Every derivation (and definition) made since the last :func:`reset_ledger`, in order.
_LEDGER: list = []

#: Right-hand sides wider than this (:func:`latex_width`, in characters) are broken over
#: lines at their top-level terms.
WRAP_AT = 44

#: A badge (reason and scope) wider than this (:func:`latex_width` of its small type, less
#: the left side's column) is set on two lines, and a scope breaks between the domains.
BADGE_WRAP_AT = 76

#: How wide a badge's small type is beside the formula's, per :func:`latex_width` unit.
_SMALL = 0.7

#: The book's column, in :func:`latex_width` units of a displayed formula: a definition
#: with its badge that is wider is set on more than one line.
LINE_AT = 60

_REL_LATEX = {"=": "=", "<=": r"\le", ">=": r"\ge", "<": "<", ">": ">"}
_REL_TEXT = {"=": "=", "<=": "≤", ">=": "≥", "<": "<", ">": ">"}


def reset_ledger() -> None:
    """Forget the derivations recorded so far (:func:`dlmath.setup` calls it)."""
    _LEDGER.clear()


def expand_definitions(expr, definitions: dict, *, evaluate: bool = True):
    """Substitute each defined name by its definition, repeatedly, then evaluate.

    Keys are undefined functions (``sp.Function("sigma")``, value a ``sp.Lambda``), symbols
    (value an expression) or ``IndexedBase`` objects (value a ``sp.Lambda`` of the indices).
    Unevaluated derivatives, sums and integrals are evaluated (``doit``) afterwards, unless
    ``evaluate`` is false (the free symbols are the same either way).
    """
    if evaluate and not definitions:
        return expr.doit() if hasattr(expr, "doit") else expr
    for _ in range(8):
        before = expr
        for name, meaning in definitions.items():
            if isinstance(name, sp.IndexedBase):
                expr = expr.replace(
                    lambda e, b=name: isinstance(e, sp.Indexed) and e.base == b,
                    lambda e, f=meaning: f(*e.indices))
            elif isinstance(name, sp.FunctionClass):
                expr = expr.replace(name, lambda *args, f=meaning: f(*args))
            else:
                expr = expr.subs(name, meaning)
        if expr == before:
            break
    return expr.doit() if evaluate and hasattr(expr, "doit") else expr


def _wildify(lhs, rhs):
    """The pattern and replacement of a rewriting rule: free symbols become wildcards."""
    # plain symbols only: an indexed entry p[i] matches through its index i
    labels = {b.label for b in lhs.atoms(sp.IndexedBase)}
    names = sorted((s for s in lhs.atoms(sp.Symbol) if s not in labels), key=str)
    wilds = {s: sp.Wild(f"w_{s}") for s in names}
    return lhs.xreplace(wilds), rhs.xreplace(wilds)


def _rewrite(expr, lemmas):
    for lemma in lemmas:
        pattern, replacement = _wildify(*lemma.equation)
        expr = expr.replace(pattern, replacement)
    return expr


def _scope_of(scopes: Iterable[str]) -> str:
    scopes = list(scopes)
    for s in (ARGUED, CHECKED):
        if s in scopes:
            return s
    return PROVEN


@dataclass(frozen=True)
class Step:
    """One step ``... relation rhs`` of a derivation: its reason and its :class:`Proof`."""

    rhs: object
    why: str
    relation: str
    proof: Proof
    using: tuple = ()
    domain: tuple = ("", "")
    premises: tuple = ()

    @property
    def scope(self) -> str:
        return self.proof.scope

    def scope_pieces(self) -> list[str]:
        """The scope as LaTeX pieces, each starting with its separator, so that a long scope
        can break between the symbols' domains."""
        _, latex = self.domain
        conds = [p if isinstance(p, str) else _tex(p) for p in self.premises]
        cond = [(r"\ \textsf{with } " if n == 0 else r",\ ") + c for n, c in enumerate(conds)]
        if self.scope == PROVEN:
            if not latex:
                return [r"\textsf{proven}"] + cond
            parts = latex.split(r",\ ")
            return ([r"\textsf{proven for every } " + parts[0]]
                    + [r",\ " + q for q in parts[1:]] + cond)
        if self.scope == CHECKED:
            return [r"\textsf{checked at } " + self.proof.at_latex] + cond
        return [r"\textsf{argued in the text}"]

    def scope_latex(self) -> str:
        return "".join(self.scope_pieces())

    def scope_text(self) -> str:
        text, _ = self.domain
        cond = (" with " + ", ".join(p if isinstance(p, str) else sp.sstr(p)
                                     for p in self.premises)) if self.premises else ""
        if self.scope == PROVEN:
            return (f"proven for every {text}" if text else "proven") + cond
        if self.scope == CHECKED:
            return f"checked at {self.proof.at}" + cond
        return "argued in the text"

    def badge_latex(self) -> str:
        return r" \;\cdot\; ".join(self.badge_lines())

    def badge_lines(self, width: float = None) -> list[str]:
        """The reason and the scope: one line, or more when together they are wider than
        ``width`` (:func:`latex_width` units of the badge's small type)."""
        width = BADGE_WRAP_AT if width is None else width
        used = "".join(f"; by {u.title}" for u in self.using)
        reason = _reason_latex(self.why + used)
        pieces = self.scope_pieces()
        whole = "".join(pieces)
        if latex_width(reason) + latex_width(whole) + 2 <= width:
            return [reason + r" \;\cdot\; {\color{gray}" + whole + "}"]
        lines, line = [], ""
        for piece in pieces:
            if line and latex_width(line + piece) > width:
                lines.append(line)
                line = piece.removeprefix(r",\ ").removeprefix(r"\ ")
            else:
                line += piece
        lines.append(line)
        return [reason] + [r"{\color{gray}" + q + "}" for q in lines]

    def badge_text(self) -> str:
        used = "".join(f"; by {u.title}" for u in self.using)
        return f"{self.why.replace('$', '')}{used} · {self.scope_text()}"


def _domain_of(lhs, rhs, definitions, at) -> tuple[str, str]:
    """The free symbols a step's claim ranges over: those of its displayed sides with the
    defined names expanded, less the ones fixed by ``at``."""
    objs = [expand_definitions(lhs, definitions, evaluate=False),
            expand_definitions(rhs, definitions, evaluate=False)]
    # the displayed sides' own symbols too (the expanded sides may cancel them), less the
    # defined names
    defined = {getattr(n, "label", n) for n in definitions}
    shown = set()
    for side in (lhs, rhs):
        for s in getattr(side, "free_symbols", ()):
            if isinstance(s, sp.Indexed):  # its indices may be bound by a sum: its name only
                s = s.base.label
            if s not in defined:
                shown.add(s)
    objs.append(sp.Tuple(*sorted(shown, key=str)))
    if isinstance(at, dict):
        objs = [o.subs(at) for o in objs]
    text, latex = _domain(objs)  # the book's matrices are real
    return text.replace(" matrix", " real matrix"), latex.replace(r"\mathbb{C}^{", r"\mathbb{R}^{")


def _implied(cond, premises) -> bool:
    """Whether an inequality follows from one premise by a difference of known sign."""
    def slack(rel):  # rel as (d, strict) meaning d >= 0 (or > 0)
        if isinstance(rel, (sp.GreaterThan, sp.StrictGreaterThan)):
            return rel.lhs - rel.rhs, isinstance(rel, sp.StrictGreaterThan)
        if isinstance(rel, (sp.LessThan, sp.StrictLessThan)):
            return rel.rhs - rel.lhs, isinstance(rel, sp.StrictLessThan)
        return None, None
    d, strict = slack(cond)
    if d is None:
        return False
    for p in premises:
        e, pstrict = slack(p)
        if e is None:
            continue
        gap = sp.expand(d - e)
        if (gap.is_positive if strict and not pstrict else gap.is_nonnegative):
            return True
    return False


def _under(simplify: Callable, premises) -> Callable:
    """A simplifier that first keeps, in each ``Piecewise``, the branch the premises select."""
    def resolve(e):
        if isinstance(e, sp.MatrixBase):
            return e.applyfunc(resolve)
        def pick(*args):
            for value, cond in args:
                if cond == sp.true or _implied(cond, premises):
                    return value
            return sp.Piecewise(*args)
        return e.replace(sp.Piecewise, pick) if e.has(sp.Piecewise) else e
    return lambda e: resolve(simplify(resolve(e)))


def _tex(expr, **kw) -> str:
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


def _reason_latex(why: str) -> str:
    """A step's reason as LaTeX: text in sans serif, ``$...$`` pieces as math."""
    parts = why.split("$")
    if len(parts) % 2 == 0:
        raise ValueError(f"Derivation.step: unbalanced '$' in the reason {why!r}.")
    return " ".join(_textsf(p) if n % 2 == 0 else p for n, p in enumerate(parts) if p)




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
        return latex_width(_tex(e))
    if isinstance(expr, sp.Mul):
        factors = list(expr.args)
        part = max(factors, key=width)
        if isinstance(part, sp.Pow) and part.exp.is_negative:
            return None
        rest = sp.Mul(*[f for f in factors if f is not part], evaluate=False) \
            if len(factors) > 2 else [f for f in factors if f is not part][0]
        pre = r"\left(" + _tex(rest) + r"\right)" if isinstance(rest, sp.Add) else _tex(rest)
        pre = "-" if pre == "-1" else pre
        if isinstance(part, sp.Add):
            return part, pre + r" \bigl(", r"\bigr)"
        return part, pre + " ", ""
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 1 \
            and isinstance(expr.base, sp.Add):
        return expr.base, r"\bigl(", r"\bigr)^{" + _tex(expr.exp) + "}"
    if isinstance(expr, sp.Sum):
        cut = _around(_tex(sp.Sum(_HOLE, *expr.limits)))
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
        if _HOLE.name not in _tex(held):
            return None
        cut = _around(_tex(held))
        return None if cut is None else (part, *cut)
    return None


def _lines(expr, width: float) -> list[str]:
    """The LaTeX of ``expr`` as lines each about ``width`` (:func:`latex_width`) wide at
    most: broken at the top-level terms of a sum, and inside the widest factor, argument or
    summand of a term that is wider than a line, whose brackets become ``\bigl( \bigr)``.
    A part that cannot be broken (a matrix, an exponent) stays on one line."""
    tex = _tex(expr)
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
        tex = _tex(body)
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


def _wrapped_latex(expr, first: str, width: float = None) -> list[str]:
    """``first`` (the relation) and the expression's LaTeX, broken over lines when it is
    wider than ``width`` (default :data:`WRAP_AT`); one aligned row per line."""
    lines = _lines(expr, WRAP_AT if width is None else width)
    return [f"& {first} {lines[0]}".replace("&  ", "& ")] + [r"& \quad " + line for line in lines[1:]]


class Derivation:
    r"""A chain of proven steps in the chapter's notation, displayed as one aligned block.

    Example::

        sigma = sp.Function("sigma")
        d = Derivation("the derivative of the sigmoid", sp.Derivative(sigma(z), z),
                       definitions={sigma: sp.Lambda(x, 1 / (1 + sp.exp(-x)))})
        d.step(sp.exp(-z) / (1 + sp.exp(-z))**2, "quotient rule")
        d.step(sigma(z) * (1 - sigma(z)), "factor")
        d        # displays both lines with their badges

    Args:
        title: what is derived; it names the result in badges (``using=``) and in
            :func:`verified_table`.
        start: the left-hand side, in display form (a SymPy object).
        definitions: what the displayed names mean, see :func:`expand_definitions`.
        premises: inequalities every step may assume (``j <= K - 1``: an index in range);
            they resolve the ``Piecewise`` branches a collapsed sum leaves, and every badge
            shows them as part of the scope. A string is a condition the algebra takes for
            granted and that SymPy cannot state as an inequality (``r"X^\top X
            \text{ invertible}"``, LaTeX): it is shown in every badge, and not used.
        chapter: the chapter's number, shown where another chapter cites the result.

    Raises:
        TypeError: when ``start`` is not a SymPy object.
    """

    def __init__(self, title: str, start, *, definitions: dict | None = None,
                 premises: Iterable = (), chapter: int | None = None):
        if not isinstance(title, str) or not title.strip():
            raise TypeError("Derivation: title must be a non-empty string naming the result.")
        self.title = title if chapter is None else f"{title} (chapter {chapter:02d})"
        self.start = _as_sympy(start, "Derivation", "start")
        self.definitions = dict(definitions or {})
        premises = tuple(premises)
        #: conditions the proof's algebra takes for granted (an inverse exists), as LaTeX
        self.conditions = tuple(p for p in premises if isinstance(p, str))
        # a premise the symbols' assumptions already decide (u > 0 for a positive u) is
        # SymPy's true: the badge's domain states it already
        self.premises = tuple(_as_sympy(p, "Derivation", "premises") for p in premises
                              if not isinstance(p, str) and p is not sp.true)
        for p in self.premises:
            if not isinstance(p, sp.core.relational.Relational) or isinstance(p, sp.Ne):
                raise TypeError(f"Derivation: a premise must be an inequality such as j <= K - 1; "
                                f"got {p}.")
        self.steps: list[Step] = []
        _LEDGER.append(self)

    # ------------------------------------------------------------------ building
    @property
    def current(self):
        """The last right-hand side (the start before any step)."""
        return self.steps[-1].rhs if self.steps else self.start

    def step(self, rhs, why: str, *, relation: str = "=", at=None, using: Iterable = (),
             certificate=None, simplifiers: Iterable[Callable] | None = None,
             argued: bool = False) -> Derivation:
        """Add ``current relation rhs``, proven unless ``argued``; returns ``self``.

        ``why`` names the rule (chain rule, quotient rule, "δ collapses the sum"); ``$...$``
        pieces of it are set as math (``"$\\sigma' = \\sigma(1 - \\sigma)$"``).

        The proof expands the definitions on both sides (after rewriting with ``using``)
        and calls :func:`~dlmath.proofs.prove_equal` (``relation="="``) or
        :func:`~dlmath.proofs.prove_inequality` (with ``certificate``). ``at`` restricts the
        scope to named values (*checked*), as in those functions.

        Raises:
            dlmath.proofs.ProofError: when the step does not follow.
            ValueError: for an unknown relation, or a step whose two displayed sides are
                the same object (it would read as x = x).
        """
        if relation not in _REL_LATEX:
            raise ValueError(f"Derivation.step: relation must be one of {sorted(_REL_LATEX)}; "
                             f"got {relation!r}.")
        rhs = _as_sympy(rhs, "Derivation.step", "rhs")
        _reason_latex(why)  # a malformed reason fails here, not when displayed
        using = tuple(using)
        for u in using:
            if not isinstance(u, Derivation) or not u.steps:
                raise TypeError("Derivation.step: using= takes derivations with at least one "
                                f"step; got {u!r}.")
            if u.scope != PROVEN:
                raise ValueError(f"Derivation.step: '{u.title}' is {u.scope}, not proven; a "
                                 "proof may only build on proven results.")
        lhs = self.current
        if lhs == rhs:
            raise ValueError(
                f"Derivation.step: '{self.title}: {why}' displays {_pretty(lhs)} on both sides, "
                "which reads as x = x; build the left side unevaluated (sp.Derivative, "
                "sp.MatMul(..., evaluate=False), a named function) so the step shows what it does.")
        if argued:
            proof = Proof(lhs, rhs, relation, ARGUED, "", "", why)
        else:
            a = expand_definitions(_rewrite(lhs, using), self.definitions)
            b = expand_definitions(_rewrite(rhs, using), self.definitions)
            name = f"{self.title}: {why}"
            if self.premises:
                base = DEFAULT_SIMPLIFIERS if simplifiers is None else tuple(simplifiers)
                simplifiers = [_under(f, self.premises) for f in base]
            if relation == "=":
                p = prove_equal(a, b, at=at, simplifiers=simplifiers, name=name)
            else:
                if certificate is not None:
                    certificate = expand_definitions(_rewrite(_as_sympy(
                        certificate, "Derivation.step", "certificate"), using), self.definitions)
                p = prove_inequality(a, b, relation, certificate=certificate, at=at, name=name)
            proof = Proof(lhs, rhs, relation, p.scope, p.at, p.at_latex, why)
        domain = _domain_of(lhs, rhs, self.definitions, at)
        self.steps.append(Step(rhs, why, relation, proof, using, domain,
                               self.premises + self.conditions))
        return self

    # ------------------------------------------------------------------ what it shows
    @property
    def relation(self) -> str:
        rels = {s.relation for s in self.steps} - {"="}
        if not rels:
            return "="
        if rels <= {"<=", "<"}:
            return "<" if "<" in rels else "<="
        if rels <= {">=", ">"}:
            return ">" if ">" in rels else ">="
        raise ValueError(f"Derivation '{self.title}': mixed directions {sorted(rels)}.")

    @property
    def equation(self) -> tuple:
        """``(start, last rhs)``: the result, usable as a rewriting rule."""
        return self.start, self.current

    @property
    def scope(self) -> str:
        """The weakest scope among the steps: argued, else checked, else proven."""
        return _scope_of(s.scope for s in self.steps)

    def result(self) -> Proof:
        """The derivation's result ``start relation end`` as one :class:`Proof`, with the
        weakest scope of its steps (checked steps name their points)."""
        at = "; ".join(s.proof.at for s in self.steps if s.scope == CHECKED)
        at_latex = r";\ ".join(s.proof.at_latex for s in self.steps if s.scope == CHECKED)
        return Proof(self.start, self.current, self.relation, self.scope, at, at_latex,
                     self.title)

    @property
    def latex(self) -> str:
        rows = []
        # a long left side stands on its own line, the chain starts below it
        alone = bool(self.steps) and (latex_width(_tex(self.start))
                                      + latex_width(_tex(self.steps[0].rhs)) > WRAP_AT)
        indent = r"\quad " if alone else ""
        # badges sit right of the left side's column; small type is about 0.6 as wide
        badge_width = BADGE_WRAP_AT - (0 if alone else latex_width(_tex(self.start)) / 0.6)
        badge_width = max(badge_width, 36)
        if alone:
            rows.extend(_wrapped_latex(self.start, "", LINE_AT - 4))
        for n, s in enumerate(self.steps):
            rel = _REL_LATEX[s.relation]
            lines = [line.replace("& ", "& " + indent, 1) for line in _wrapped_latex(s.rhs, rel)]
            if n == 0 and not alone:
                lines[0] = _tex(self.start) + " " + lines[0]
            rows.extend(lines)
            rows.extend(r"& " + indent + r"\qquad \scriptsize " + b
                        for b in s.badge_lines(badge_width))
        return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"

    @property
    def text(self) -> str:
        out = [f"{self.title}:", "  " + _pretty(self.start)]
        for s in self.steps:
            out.append(f"    {_REL_TEXT[s.relation]} {_pretty(s.rhs)}    [{s.badge_text()}]")
        return "\n".join(out)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return ({"text/plain": self.text, "text/latex": f"$$ {self.latex} $$"},
                {"text/latex": {"dlmath": "derivation"}})

    def __repr__(self) -> str:
        return self.text


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


def _pretty(expr) -> str:
    """A one-line, readable text form (no SymPy constructor names)."""
    if isinstance(expr, str):
        return expr
    return _TextPrinter({"order": "none" if _built(expr) else None}).doprint(expr)


@dataclass
class Definition:
    """A definition ``lhs := rhs`` as displayed, with the badge *definition*."""

    lhs: object
    rhs: object
    note: str = ""

    @property
    def scope(self) -> str:
        return "definition"

    @property
    def latex(self) -> str:
        note = _textsf(self.note) + r" \;\cdot\; " if self.note else ""
        badge = r"\scriptsize {\color{gray}" + note + r"\textsf{definition}}"
        lhs = self.lhs if isinstance(self.lhs, str) else _tex(self.lhs)
        rhs = _tex(self.rhs)
        if latex_width(lhs) + latex_width(rhs) + _SMALL * latex_width(badge) <= LINE_AT:
            return f"{lhs} \\;:=\\; {rhs} \\qquad {badge}"
        # too wide for one line: the badge goes below, a long right side breaks over lines
        alone = latex_width(lhs) > WRAP_AT / 3
        lines = _wrapped_latex(self.rhs, ":=", LINE_AT - 8 - (0 if alone else latex_width(lhs)))
        if alone:
            rows = ["& " + lhs] + [line.replace("& ", r"& \quad ", 1) for line in lines]
        else:
            rows = [lhs + " " + lines[0], *lines[1:]]
        return r"\begin{aligned}" + r" \\ ".join(rows + [r"& \qquad " + badge]) + r"\end{aligned}"

    @property
    def text(self) -> str:
        lhs = self.lhs if isinstance(self.lhs, str) else _pretty(self.lhs)
        note = f"{self.note} · " if self.note else ""
        return f"{lhs} := {_pretty(self.rhs)}    [{note}definition]"

    def _repr_mimebundle_(self, include=None, exclude=None):
        return ({"text/plain": self.text, "text/latex": f"$$ {self.latex} $$"},
                {"text/latex": {"dlmath": "definition"}})

    def __repr__(self) -> str:
        return self.text


def define(lhs, rhs, note: str = "") -> Definition:
    """Display a definition ``lhs := rhs`` (``lhs`` a SymPy object or a LaTeX name such as
    ``r"\\ell_{BCE}(z, y)"``), rendered from the SymPy object ``rhs``.

    Raises:
        TypeError: when ``rhs`` is not a SymPy object.
    """
    rhs = _as_sympy(rhs, "define", "rhs")
    if not isinstance(lhs, str):
        lhs = _as_sympy(lhs, "define", "lhs")
    return Definition(lhs, rhs, note)


@dataclass(frozen=True)
class VerifiedTable:
    """The "What is verified" table of a chapter: claim · scope · where."""

    rows: tuple

    def _repr_markdown_(self) -> str:
        out = ["| claim | scope | where |", "|---|---|---|"]
        for claim, scope, where in self.rows:
            out.append(f"| ${claim}$ | {scope} | {where} |")
        return "\n".join(out)

    def __repr__(self) -> str:
        return "\n".join(f"{where}: {scope}" for _, scope, where in self.rows)


def verified_table(derivations: Iterable[Derivation] | None = None) -> VerifiedTable:
    """The table of what a chapter verified, generated from its derivations.

    Args:
        derivations: the derivations to list; by default every one made since
            :func:`dlmath.setup` (or :func:`reset_ledger`), in order.

    Returns:
        A :class:`VerifiedTable`: one row per derivation, its result as LaTeX, its scope in
        words (for *proven*, the domain; for *checked*, the points) and its title.
    """
    chosen = list(_LEDGER if derivations is None else derivations)
    rows = []
    for d in chosen:
        if not isinstance(d, Derivation) or not d.steps:
            continue
        r = d.result()
        rel = _REL_LATEX[r.relation]
        claim = f"{_tex(r.lhs)} {rel} {_tex(r.rhs)}".replace("|", r"\vert ")
        whole = Step(r.rhs, d.title, r.relation, r, (),
                     _domain_of(d.start, d.current, d.definitions, None),
                     d.premises + d.conditions)
        scope = "$" + whole.scope_latex().replace("|", r"\vert ") + "$"
        rows.append((claim, scope, d.title))
    return VerifiedTable(tuple(rows))
