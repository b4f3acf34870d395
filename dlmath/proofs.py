r"""Claims of the book and their scope: equalities proven by a residual that simplifies to
0, inequalities proven from the symbols' assumptions, and claims the prose argues.

A :class:`Proof` displays (in LaTeX and plain text) the relation built from its own SymPy
objects and its scope, never a free-text caption:

* *proven*: for every value the symbols' assumptions allow (the domain is listed);
* *checked*: only at the sizes or points named (``at=``);
* *argued*: stated, and argued in the text; nothing here checked it.

These are re-exported by :mod:`dlmath.symbolic`, the one import a chapter needs for SymPy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sympy as sp

from dlmath.proofs_domain import domain_of

__all__ = ["ProofError", "Proof", "PROVEN", "CHECKED", "ARGUED", "prove_equal",
           "prove_inequality", "argued"]


class ProofError(AssertionError):
    """A claimed equality whose residual did not simplify to zero."""


def as_sympy(obj, who: str, arg: str):
    """``obj`` as a SymPy object (a Python number is sympified), checked as the argument
    ``arg`` of ``who``: the input check of every function that takes SymPy objects.

    Raises:
        TypeError: for a string (never parsed: ``lambdify`` runs ``exec``) or any other
            object that is not a SymPy expression or matrix.
    """
    if isinstance(obj, str):
        raise TypeError(
            f"{who}: {arg} must be a SymPy object, got the string {obj!r}. "
            "Build expressions from symbols; strings are never parsed (lambdify runs exec)."
        )
    if isinstance(obj, (sp.Basic, sp.MatrixBase)):
        return obj
    if isinstance(obj, (int, float)):
        return sp.sympify(obj)
    raise TypeError(f"{who}: {arg} must be a SymPy expression or matrix, got {type(obj).__name__}.")


# ---------------------------------------------------------------- claims and their scope

#: The three scopes a claim of the book can have.
PROVEN, CHECKED, ARGUED = "proven", "checked", "argued"

_TEXT_RELATION = {"=": "=", "<=": "<=", ">=": ">=", "<": "<", ">": ">"}
#: The LaTeX of each relation a claim can state.
LATEX_RELATION = {"=": "=", "<=": r"\le", ">=": r"\ge", "<": "<", ">": ">"}


@dataclass(frozen=True)
class Proof:
    """A claim of the book with its scope, rendered from its own SymPy objects.

    ``scope`` is ``"proven"`` (symbolic: every value the symbols' assumptions allow),
    ``"checked"`` (only at the sizes or points named in ``at``) or ``"argued"`` (in prose;
    the objects state the claim, nothing here checked it). What is displayed, in LaTeX and
    in plain text, is ``lhs relation rhs`` from the objects and the scope with its domain,
    never a free-text label: a caption can no longer claim more than the objects.
    """

    lhs: object
    rhs: object
    relation: str = "="
    scope: str = PROVEN
    at: str = ""
    at_latex: str = ""
    name: str = ""

    @property
    def domain(self) -> str:
        """The free symbols and the values their assumptions allow, in plain text."""
        return domain_of([self.lhs, self.rhs])[0]

    def _scope_text(self) -> str:
        dom = self.domain
        if self.scope == PROVEN:
            return f"proven for every {dom}" if dom else "proven (no free symbols)"
        if self.scope == CHECKED:
            rest = f", every {dom}" if dom else ""
            return f"checked at {self.at}{rest}"
        return "argued in the text, not checked here"

    def _scope_latex(self) -> str:
        dom = domain_of([self.lhs, self.rhs])[1]
        if self.scope == PROVEN:
            return (r"\textsf{proven for every } " + dom) if dom else \
                r"\textsf{proven (no free symbols)}"
        if self.scope == CHECKED:
            rest = (r",\ \textsf{every } " + dom) if dom else ""
            return r"\textsf{checked at } " + self.at_latex + rest
        return r"\textsf{argued in the text, not checked here}"

    @property
    def text(self) -> str:
        """The plain-text display: ``<scope>: lhs relation rhs``."""
        rel = _TEXT_RELATION[self.relation]
        return f"{self._scope_text()}: {sp.sstr(self.lhs)} {rel} {sp.sstr(self.rhs)}"

    @property
    def latex(self) -> str:
        """The LaTeX display (without ``$``): the scope, then ``lhs relation rhs``."""
        rel = LATEX_RELATION[self.relation]
        return (f"{self._scope_latex()}:\\quad \\displaystyle {sp.latex(self.lhs)} {rel} "
                f"{sp.latex(self.rhs)}")

    def __repr__(self) -> str:
        return self.text

    def _repr_latex_(self) -> str:
        return f"${self.latex}$"


def is_zero(e) -> bool:
    """Whether ``e`` is exactly 0: the number, every entry of a matrix, a ``ZeroMatrix``
    (nothing is simplified here)."""
    if isinstance(e, sp.MatrixBase):
        return all(entry == 0 for entry in e)
    return e == 0 or bool(getattr(e, "is_ZeroMatrix", False))


def _simplifies_to_zero(residual, simplifiers: Sequence[Callable]) -> tuple[bool, object]:
    last = residual
    for simplify in simplifiers:
        last = simplify(last)
        if is_zero(last):
            return True, last
    return False, last


def doit(e):
    """``e.doit()``: unevaluated derivatives, sums and integrals evaluated (an object
    without ``doit``, a Python number, as it is)."""
    return e.doit() if hasattr(e, "doit") else e


def _expand_logs(e):
    # log(a*b) -> log(a) + log(b) where SymPy's assumptions allow it (positive factors)
    if isinstance(e, sp.MatrixBase):
        return e.applyfunc(_expand_logs)
    return sp.expand(sp.expand_log(e))


DEFAULT_SIMPLIFIERS: tuple[Callable, ...] = (doit, sp.expand, sp.simplify, _expand_logs,
                                             sp.simplify)


def _scope_at(who: str, at, lhs, rhs):
    """Apply ``at`` (a dict of substitutions, or a string naming the sizes of explicit
    matrices) and return ``(lhs, rhs, scope, at_text, at_latex)``."""
    if at is None:
        return lhs, rhs, PROVEN, "", ""
    if isinstance(at, str):
        if not at.strip():
            raise ValueError(f"{who}: at must name the sizes or points checked; got ''.")
        return lhs, rhs, CHECKED, at, text_latex(at, "text")
    if isinstance(at, dict) and at:
        for k in at:
            if not isinstance(k, sp.Basic):
                raise TypeError(f"{who}: the keys of at must be SymPy symbols; got {k!r}.")
        subs = {k: sp.sympify(v) for k, v in at.items()}
        text = ", ".join(f"{sp.sstr(k)} = {sp.sstr(v)}" for k, v in subs.items())
        latex = r",\ ".join(f"{sp.latex(k)} = {sp.latex(v)}" for k, v in subs.items())
        return lhs.subs(subs), rhs.subs(subs), CHECKED, text, latex
    raise TypeError(
        f"{who}: at must be None (a proof for every value), a non-empty dict "
        f"{{symbol: value}} to substitute, or a string naming the sizes of explicit matrices; "
        f"got {type(at).__name__}."
    )


#: TeX's special characters as math-mode commands, which MathJax and LaTeX both know
_TEXT_SPECIAL = {"_": r"\_", "#": r"\#", "%": r"\%", "&": r"\&", "$": r"\$", "{": r"\{",
                 "}": r"\}", "^": r"\hat{}", "\\": r"\backslash "}


def text_latex(s: str, command: str = "textsf") -> str:
    r"""``s`` as text (``\textsf{...}`` runs by default) with TeX's special characters set between
    them as math. (Inside ``\textsf`` MathJax shows ``\_`` or ``\;\cdot\;`` as typed unless
    its ``textmacros`` package is loaded, as in JupyterLab but not in the book.)"""
    out, run = [], ""
    for ch in s:
        if ch in _TEXT_SPECIAL:
            out.append(("\\" + command + "{" + run + "}" if run else "") + _TEXT_SPECIAL[ch])
            run = ""
        else:
            run += ch
    if run or not out:
        out.append("\\" + command + "{" + run + "}")
    return "".join(out)


def prove_equal(lhs, rhs, *, at=None, simplifiers: Iterable[Callable] | None = None,
                name: str = ""):
    """Prove ``lhs == rhs`` by showing that the residual ``lhs - rhs`` simplifies to zero.

    The residual is passed through ``doit``, ``expand``, ``simplify``, ``expand_log`` (safe
    form, with the symbols' assumptions) and ``simplify`` in turn (or through
    ``simplifiers`` when given, e.g. ``[lambda e: sp.expand_log(e, force=True)]``); the first
    that yields exactly ``0`` (every entry, for matrices) ends the proof.

    The scope is what the objects allow, and the returned :class:`Proof` displays it:

    * ``at=None``: *proven* for every value the symbols' assumptions allow (the free
      symbols and their domains are listed).
    * ``at={N: 3, K: 4}``: both sides are evaluated at those values first, and the claim is
      *checked* there only.
    * ``at="K = 4"``: the sides are explicit matrices of the named sizes (built by the
      caller); the claim is *checked* at those sizes only.

    Args:
        lhs, rhs: SymPy expressions or matrices of the same shape.
        at: the scope (above), keyword-only.
        simplifiers: the functions to try on the residual, in order.
        name: a short label used only in the error message (never displayed as the claim).

    Returns:
        A :class:`Proof`, which prints and typesets as ``<scope>: lhs = rhs``.

    Raises:
        ProofError: (an ``AssertionError``) when the residual does not simplify to zero; the message
            shows the simplified residual, which is the counterexample to study.
        TypeError: when an argument is not a SymPy object (strings are refused), or ``at`` has the
            wrong type.
        ValueError: when two matrices have different shapes.
    """
    lhs = as_sympy(lhs, "prove_equal", "lhs")
    rhs = as_sympy(rhs, "prove_equal", "rhs")
    shown_lhs, shown_rhs = lhs, rhs
    lhs, rhs, scope, at_text, at_latex = _scope_at("prove_equal", at, lhs, rhs)
    # a matrix expression (MatrixSymbol algebra) compared with 0 means its zero matrix
    if isinstance(lhs, sp.MatrixExpr) and rhs == 0:
        rhs = sp.ZeroMatrix(*lhs.shape)
    if isinstance(rhs, sp.MatrixExpr) and lhs == 0:
        lhs = sp.ZeroMatrix(*rhs.shape)
    label = f" '{name}'" if name else ""
    matrix = (sp.MatrixBase, sp.MatrixExpr)
    lmat, rmat = isinstance(lhs, matrix), isinstance(rhs, matrix)
    if lmat != rmat or (lmat and lhs.shape != rhs.shape):
        raise ValueError(
            f"prove_equal:{label} both sides must be scalars or matrices of one shape; got "
            f"{getattr(lhs, 'shape', 'scalar')} and {getattr(rhs, 'shape', 'scalar')}."
        )
    simplifiers = DEFAULT_SIMPLIFIERS if simplifiers is None else tuple(simplifiers)
    ok, residual = _simplifies_to_zero(lhs - rhs, simplifiers)
    if not ok:
        raise ProofError(
            f"prove_equal:{label} {sp.sstr(shown_lhs)} = {sp.sstr(shown_rhs)} is not proven: "
            f"the residual lhs - rhs simplifies to {sp.sstr(residual)}, not 0. Either the "
            "claim is wrong, or it needs assumptions on the symbols (real=True, "
            "positive=True) or another simplifier."
        )
    if scope == CHECKED and isinstance(at, dict):
        shown_lhs, shown_rhs = lhs, rhs
    return Proof(shown_lhs, shown_rhs, "=", scope, at_text, at_latex, name)


def _sign_known(expr, strict: bool) -> bool:
    test = expr.is_positive if strict else expr.is_nonnegative
    return test is True


def prove_inequality(lhs, rhs, relation: str = ">=", *, certificate=None, at=None,
                     name: str = ""):
    r"""Prove ``lhs >= rhs`` (or ``<=``, ``>``, ``<``) from the symbols' assumptions.

    The difference $d$ (``lhs - rhs`` for ``>=``/``>``, ``rhs - lhs`` for ``<=``/``<``) must
    be shown non-negative (positive for a strict relation). With ``certificate`` (e.g. a
    sum of squares, or a product of positive factors) the proof has two steps, both
    checked: $d$ equals the certificate (:func:`prove_equal`), and SymPy's assumptions
    decide that the certificate has the sign (``is_nonnegative``/``is_positive`` is
    ``True``). Without one, the simplified $d$ itself must have a known sign.

    Args:
        lhs, rhs: scalar SymPy expressions.
        relation: ``">="``, ``"<="``, ``">"`` or ``"<"``.
        certificate: an expression equal to $d$ whose sign the assumptions decide.
        at: as :func:`prove_equal`: a dict of values, or a string naming the sizes of
            explicit matrices the sides were built from (*checked* there only).
        name: a label for the error message only.

    Returns:
        A :class:`Proof` that displays ``<scope>: lhs relation rhs``.

    Raises:
        ProofError: when the certificate is not equal to $d$, or the sign is not decided.
        ValueError: for an unknown relation.
        TypeError: for non-SymPy arguments.
    """
    if relation not in (">=", "<=", ">", "<"):
        raise ValueError(
            f"prove_inequality: relation must be '>=', '<=', '>' or '<'; got {relation!r}. "
            "Equalities belong to prove_equal."
        )
    lhs = as_sympy(lhs, "prove_inequality", "lhs")
    rhs = as_sympy(rhs, "prove_inequality", "rhs")
    shown_lhs, shown_rhs = lhs, rhs
    lhs, rhs, scope, at_text, at_latex = _scope_at("prove_inequality", at, lhs, rhs)
    strict = relation in (">", "<")
    d = lhs - rhs if relation in (">=", ">") else rhs - lhs
    label = f" '{name}'" if name else ""
    rel_text = _TEXT_RELATION[relation]
    if certificate is not None:
        certificate = as_sympy(certificate, "prove_inequality", "certificate")
        if isinstance(at, dict):
            certificate = certificate.subs({k: sp.sympify(v) for k, v in at.items()})
        try:
            prove_equal(d, certificate, name=name)
        except ProofError as e:
            raise ProofError(
                f"prove_inequality:{label} the certificate {sp.sstr(certificate)} is not equal "
                f"to the difference {sp.sstr(d)}: {e}"
            ) from None
        candidates = [certificate]
    else:
        candidates = [d, sp.simplify(d), sp.factor(sp.simplify(d))]
    if not any(_sign_known(c, strict) for c in candidates):
        need = "positive" if strict else "non-negative"
        raise ProofError(
            f"prove_inequality:{label} {sp.sstr(shown_lhs)} {rel_text} {sp.sstr(shown_rhs)} is "
            f"not proven: SymPy cannot decide that {sp.sstr(candidates[-1])} is {need} from "
            "the symbols' assumptions. Give a certificate (a sum of squares, a product of "
            "positive factors) equal to the difference, or stronger assumptions."
        )
    if scope == CHECKED:
        shown_lhs, shown_rhs = lhs, rhs
    return Proof(shown_lhs, shown_rhs, relation, scope, at_text, at_latex, name)


def argued(lhs, rhs, relation: str = "=", *, name: str = "") -> Proof:
    """State a claim that the text argues in prose and nothing here checks.

    It displays as ``argued in the text, not checked here: lhs relation rhs``, so the
    reader sees exactly which statements rest on prose (a spectral-norm inequality, an
    expansion for general ``n``).

    Args:
        lhs, rhs: SymPy objects stating the claim.
        relation: ``"="``, ``"<="``, ``">="``, ``"<"`` or ``">"``.
        name: a label (not displayed).

    Raises:
        ValueError: for an unknown relation.
        TypeError: for non-SymPy arguments.
    """
    if relation not in _TEXT_RELATION:
        raise ValueError(f"argued: relation must be one of {sorted(_TEXT_RELATION)}; got "
                         f"{relation!r}.")
    lhs = as_sympy(lhs, "argued", "lhs")
    rhs = as_sympy(rhs, "argued", "rhs")
    return Proof(lhs, rhs, relation, ARGUED, "", "", name)
