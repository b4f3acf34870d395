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

A sum, an integral or a derivative that a proof should evaluate by linearity (constants
out, each remaining term to SymPy, a sum's index written once so the same sum over ``i``
and over ``j`` cancels) is a :class:`LinearSum`, :class:`LinearIntegral` or
:class:`LinearDerivative` (:mod:`dlmath.derivation_linearity`); it displays as SymPy's own.

:func:`define` states a definition (badge *definition*), and :func:`verified_table` lists
every derivation made since :func:`dlmath.setup` (claim · scope · where), generated from
the objects, for a chapter's summary.

The layout of the display (:func:`latex_width`, :data:`WRAP_AT`, :data:`LINE_AT`) lives in
:mod:`dlmath.derivation_display`, the proof of one step in :mod:`dlmath.derivation_steps`;
both are re-exported here where a chapter needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sympy as sp

from dlmath.derivation_display import (
    BADGE_WRAP_AT,
    LINE_AT,
    SMALL_TYPE,
    WRAP_AT,
    latex_of,
    latex_width,
    pretty,
    reason_latex,
    wrapped_latex,
)
from dlmath.derivation_linearity import LinearDerivative, LinearIntegral, LinearSum
from dlmath.derivation_steps import (
    Step,
    expand_definitions,
    rewrite,
    step_domain,
    under_premises,
    weakest_scope,
)
from dlmath.proofs import (
    ARGUED,
    CHECKED,
    DEFAULT_SIMPLIFIERS,
    LATEX_RELATION,
    PROVEN,
    Proof,
    as_sympy,
    prove_equal,
    prove_inequality,
    text_latex,
)

__all__ = ["Derivation", "Step", "define", "Definition", "verified_table", "VerifiedTable",
           "expand_definitions", "reset_ledger", "latex_width", "WRAP_AT", "LINE_AT",
           "LinearSum", "LinearIntegral", "LinearDerivative"]

#: Every derivation (and definition) made since the last :func:`reset_ledger`, in order.
_LEDGER: list = []

_REL_TEXT = {"=": "=", "<=": "≤", ">=": "≥", "<": "<", ">": ">"}


def reset_ledger() -> None:
    """Forget the derivations recorded so far (:func:`dlmath.setup` calls it)."""
    _LEDGER.clear()


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
        self.start = as_sympy(start, "Derivation", "start")
        self.definitions = dict(definitions or {})
        premises = tuple(premises)
        #: conditions the proof's algebra takes for granted (an inverse exists), as LaTeX
        self.conditions = tuple(p for p in premises if isinstance(p, str))
        # a premise the symbols' assumptions already decide (u > 0 for a positive u) is
        # SymPy's true: the badge's domain states it already
        self.premises = tuple(as_sympy(p, "Derivation", "premises") for p in premises
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
        if relation not in LATEX_RELATION:
            raise ValueError("Derivation.step: relation must be one of "
                             f"{sorted(LATEX_RELATION)}; got {relation!r}.")
        rhs = as_sympy(rhs, "Derivation.step", "rhs")
        reason_latex(why)  # a malformed reason fails here, not when displayed
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
                f"Derivation.step: '{self.title}: {why}' displays {pretty(lhs)} on both sides, "
                "which reads as x = x; build the left side unevaluated (sp.Derivative, "
                "sp.MatMul(..., evaluate=False), a named function) so the step shows what it does.")
        if argued:
            proof = Proof(lhs, rhs, relation, ARGUED, "", "", why)
        else:
            a = expand_definitions(rewrite(lhs, using), self.definitions)
            b = expand_definitions(rewrite(rhs, using), self.definitions)
            name = f"{self.title}: {why}"
            if self.premises:
                base = DEFAULT_SIMPLIFIERS if simplifiers is None else tuple(simplifiers)
                simplifiers = [under_premises(f, self.premises) for f in base]
            if relation == "=":
                p = prove_equal(a, b, at=at, simplifiers=simplifiers, name=name)
            else:
                if certificate is not None:
                    certificate = expand_definitions(rewrite(as_sympy(
                        certificate, "Derivation.step", "certificate"), using), self.definitions)
                p = prove_inequality(a, b, relation, certificate=certificate, at=at, name=name)
            proof = Proof(lhs, rhs, relation, p.scope, p.at, p.at_latex, why)
        domain = step_domain(lhs, rhs, self.definitions, at)
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
        return weakest_scope(s.scope for s in self.steps)

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
        alone = bool(self.steps) and (latex_width(latex_of(self.start))
                                      + latex_width(latex_of(self.steps[0].rhs)) > WRAP_AT)
        indent = r"\quad " if alone else ""
        # badges sit right of the left side's column; small type is about 0.6 as wide
        badge_width = BADGE_WRAP_AT - (0 if alone else latex_width(latex_of(self.start)) / 0.6)
        badge_width = max(badge_width, 36)
        if alone:
            rows.extend(wrapped_latex(self.start, "", LINE_AT - 4))
        for n, s in enumerate(self.steps):
            rel = LATEX_RELATION[s.relation]
            lines = [line.replace("& ", "& " + indent, 1) for line in wrapped_latex(s.rhs, rel)]
            if n == 0 and not alone:
                lines[0] = latex_of(self.start) + " " + lines[0]
            rows.extend(lines)
            rows.extend(r"& " + indent + r"\qquad \scriptsize " + b
                        for b in s.badge_lines(badge_width))
        return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"

    @property
    def text(self) -> str:
        out = [f"{self.title}:", "  " + pretty(self.start)]
        for s in self.steps:
            out.append(f"    {_REL_TEXT[s.relation]} {pretty(s.rhs)}    [{s.badge_text()}]")
        return "\n".join(out)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return ({"text/plain": self.text, "text/latex": f"$$ {self.latex} $$"},
                {"text/latex": {"dlmath": "derivation"}})

    def __repr__(self) -> str:
        return self.text


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
        note = text_latex(self.note) + r" \;\cdot\; " if self.note else ""
        badge = r"\scriptsize {\color{gray}" + note + r"\textsf{definition}}"
        lhs = self.lhs if isinstance(self.lhs, str) else latex_of(self.lhs)
        rhs = latex_of(self.rhs)
        if latex_width(lhs) + latex_width(rhs) + SMALL_TYPE * latex_width(badge) <= LINE_AT:
            return f"{lhs} \\;:=\\; {rhs} \\qquad {badge}"
        # too wide for one line: the badge goes below, a long right side breaks over lines
        alone = latex_width(lhs) > WRAP_AT / 3
        lines = wrapped_latex(self.rhs, ":=", LINE_AT - 8 - (0 if alone else latex_width(lhs)))
        if alone:
            rows = ["& " + lhs] + [line.replace("& ", r"& \quad ", 1) for line in lines]
        else:
            rows = [lhs + " " + lines[0], *lines[1:]]
        return r"\begin{aligned}" + r" \\ ".join(rows + [r"& \qquad " + badge]) + r"\end{aligned}"

    @property
    def text(self) -> str:
        lhs = self.lhs if isinstance(self.lhs, str) else pretty(self.lhs)
        note = f"{self.note} · " if self.note else ""
        return f"{lhs} := {pretty(self.rhs)}    [{note}definition]"

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
    rhs = as_sympy(rhs, "define", "rhs")
    if not isinstance(lhs, str):
        lhs = as_sympy(lhs, "define", "lhs")
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
        rel = LATEX_RELATION[r.relation]
        claim = f"{latex_of(r.lhs)} {rel} {latex_of(r.rhs)}".replace("|", r"\vert ")
        whole = Step(r.rhs, d.title, r.relation, r, (),
                     step_domain(d.start, d.current, d.definitions, None),
                     d.premises + d.conditions)
        scope = "$" + whole.scope_latex().replace("|", r"\vert ") + "$"
        rows.append((claim, scope, d.title))
    return VerifiedTable(tuple(rows))
