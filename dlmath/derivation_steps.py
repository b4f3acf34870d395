r"""The proof of a derivation's step: the definitions it substitutes
(:func:`expand_definitions`), the earlier results it rewrites with (:func:`rewrite`), the
premises that choose a ``Piecewise`` branch (:func:`under_premises`), the symbols its claim
ranges over (:func:`step_domain`), and the :class:`Step` that displays its reason and
scope.

Used by :mod:`dlmath.derivation`, which re-exports :func:`expand_definitions` and
:class:`Step`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sympy as sp

from dlmath.derivation_display import BADGE_WRAP_AT, latex_of, latex_width, reason_latex
from dlmath.proofs import ARGUED, CHECKED, PROVEN, Proof
from dlmath.proofs_domain import domain_of


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


def rewrite(expr, lemmas):
    """``expr`` with every match of each lemma's left-hand side (a derivation's ``start``, its
    free symbols matching anything) replaced by the lemma's result."""
    for lemma in lemmas:
        pattern, replacement = _wildify(*lemma.equation)
        expr = expr.replace(pattern, replacement)
    return expr


def weakest_scope(scopes: Iterable[str]) -> str:
    """The weakest of the scopes: argued, else checked, else proven."""
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
        conds = [p if isinstance(p, str) else latex_of(p) for p in self.premises]
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
        reason = reason_latex(self.why + used)
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


def step_domain(lhs, rhs, definitions, at) -> tuple[str, str]:
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
    text, latex = domain_of(objs)  # the book's matrices are real
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


def under_premises(simplify: Callable, premises) -> Callable:
    """``simplify`` that first keeps, in each ``Piecewise``, the branch the premises select
    (an inequality that follows from one premise by a difference of known sign)."""
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

