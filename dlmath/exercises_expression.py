"""The verdict of a *derive* exercise: :func:`same_expression` (re-exported by
:mod:`dlmath.exercises`), which proves the reader's expression equal to the book's
(:mod:`dlmath.exercises_proof`) or finds a point where they differ
(:mod:`dlmath.exercises_search`), and its :class:`Explanation`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sympy as sp
from sympy.core.function import UndefinedFunction

from dlmath.exercises_proof import prove_same
from dlmath.exercises_search import TRIALS, search
from dlmath.proofs import as_sympy

_QUICK = 12        # points tried before the proof, to refute a wrong answer cheaply
_ENOUGH = 20       # valid points needed to call an unproven answer right


class Explanation(str):
    """The explanation of :func:`same_expression`: a ``str`` (what the reader is told) that
    also carries the evidence.

    Attributes:
        point: ``{symbol: value}`` at which the answer was found to differ from the result
            (a counterexample that satisfies the symbols' assumptions and the premises), or
            ``None``. Matrix symbols map to the explicit matrices used, indexed entries
            (``z[0]``) to their values.
        points: how many points were evaluated and agreed (0 when a proof decided).
    """

    point: dict | None
    points: int

    def __new__(cls, text: str, point: dict | None = None, points: int = 0):
        obj = super().__new__(cls, text)
        obj.point = point
        obj.points = points
        return obj


def same_expression(answer, expected, *, simplifiers=None, premises: Iterable = (),
                    definitions: Mapping | None = None) -> tuple[bool | None, Explanation]:
    """Verdict of a *derive* exercise: is ``answer`` the same mathematics as ``expected``?

    The answer must be a SymPy expression or matrix (a string is never parsed). The checker
    never calls a right answer wrong; in order:

    0. **A quick look.** The first 12 points of the counterexample search (step 2) are
       tried before any proof: a wrong answer is refuted at once, not after seconds of
       simplification.
    1. **Proof.** :func:`dlmath.symbolic.prove_equal` with ``simplifiers``, and cheap extra
       simplifiers: ``cancel``, rewriting ``tanh``/``cosh``/... in terms of ``exp``,
       ``expand_log`` (safe form), a ``Piecewise`` folded and proven branch by branch (a
       branch whose condition is an equation, e.g. ``beta = 1``, is proven at its
       solutions), and, with ``premises``, ``refine`` under them. The cheap ones run
       first; on a large residual (more than 250 operations) the costly ones, ``simplify``
       and ``prove_equal``'s default simplifiers (unless ``simplifiers`` is given), are
       skipped. Proven: right, "for every value the symbols allow" (or "... that satisfies
       the exercise's premises" when the proof needed them).
    2. **Counterexample.** Up to 200 points of exact rationals (integers for integer
       symbols; small and moderately large; both signs where allowed; small sizes for the
       dimensions of matrix symbols) drawn from a seeded generator, so the verdict is the
       same on every run and machine. Only points that satisfy the symbols' assumptions and
       every premise count. After the scalar symbols are substituted, ``doit()`` runs (a
       ``Sum`` with a symbolic limit evaluates), then matrix symbols become random explicit
       matrices and indexed entries (``z[0]``) random rationals that their base's
       assumptions allow. Points where either side is not a finite real number are skipped.
       A difference counts only if it is clearly nonzero at 30 and at 50 digits (relative to
       the size of the values). Found: not right, naming the point and both values (a few
       digits), never the expected expression.
    3. **Agreement.** No counterexample at 20 or more distinct valid points: right, saying
       so ("Right at every one of the N points tried ... (not proven: ...)"). Two
       expressions without symbols are evaluated once: equal to 50 digits is right.
    4. **Undecided.** Otherwise (e.g. an undefined function ``sigma(x)`` that no
       ``definitions`` entry gives values, or too few points satisfy the premises): ``ok``
       is ``None`` and the explanation says what could not be done.

    Matrices are compared entry by entry (each entry proven, else each evaluated).

    Args:
        answer: the reader's SymPy expression or matrix.
        expected: the book's (a SymPy object, or a Python number).
        simplifiers: passed to :func:`~dlmath.symbolic.prove_equal` (its defaults when
            ``None``), tried besides the extra simplifiers.
        premises: SymPy relations or booleans the exercise assumes, e.g.
            ``[lmin > 0, lmax > lmin, eta > 0]`` or ``[s >= 1, H + 2*p >= d*(K - 1) + 1]``;
            every point evaluated satisfies them, and a proof that uses them says so.
        definitions: ``{name: value}`` substituted in both sides (and the premises), then
            ``doit()``, before proving and evaluating: an undefined function
            ``sp.Function("sigma")`` maps to a ``sp.Lambda`` (e.g.
            ``{sigma: sp.Lambda(x, 1 / (1 + sp.exp(-x)))}``), a symbol to an expression.
            Without it, an undefined function has no values: only a proof (or a difference
            in which it cancels) decides.

    Returns:
        ``(ok, explanation)``: ``ok`` is ``True``, ``False`` or ``None`` (undecided); the
        explanation is an :class:`Explanation` whose ``point`` is the counterexample, if
        one was found.

    Raises:
        TypeError: when ``expected``, a premise or a definition is not a SymPy object (a
            fault of the checker, not of the answer).
        ValueError: when a premise is ``False`` (no point could satisfy the premises).
    """
    if isinstance(answer, str) or not isinstance(answer, (sp.Basic, sp.MatrixBase)):
        return False, Explanation(f"the answer must be a SymPy expression built from the "
                                  f"cell's symbols; got {type(answer).__name__}.")
    expected = as_sympy(expected, "same_expression", "expected")
    premises = _premises(premises)
    subs = _definitions(definitions)
    if not isinstance(answer, (sp.Expr, sp.MatrixBase)):
        return False, Explanation(f"the answer must be a SymPy expression built from the "
                                  f"cell's symbols; got the {type(answer).__name__} "
                                  f"{sp.sstr(answer)}.")
    if subs:
        answer, expected = _define(answer, subs), _define(expected, subs)
        premises = [_define(p, subs) for p in premises]
    shapes = _shape(answer), _shape(expected)
    if shapes[0] != shapes[1]:
        return False, Explanation(f"{_shape_text(shapes[0], 'It')}; "
                                  f"{_shape_text(shapes[1], 'the result')}.")
    extra = sorted(str(s) for s in _free_names(answer) - _free_names(expected))
    hint = f" It uses symbols the result does not: {', '.join(extra)}." if extra else ""

    # a few points first: a wrong answer is refuted in milliseconds, not after seconds of
    # simplification (a difference clearly nonzero at 30 and 50 digits is a disproof)
    quick = search(answer, expected, premises, trials=_QUICK)
    if quick.point is not None:
        return False, Explanation(f"It differs from the result: {quick.where}.{hint}",
                                  quick.point, quick.valid)
    proof = prove_same(answer, expected, simplifiers, premises)
    if proof == "unconditional":
        tail = (" (without needing the exercise's premises)" if premises else "")
        return True, Explanation("Proven equal to the result, for every value the symbols "
                                 f"allow{tail}.")
    if proof == "premises":
        return True, Explanation("Proven equal to the result, for every value of the "
                                 "symbols that satisfies the exercise's premises.")

    found = search(answer, expected, premises)
    satisfying = " that satisfy the exercise's premises" if premises else ""
    if found.point is not None:
        return False, Explanation(f"It differs from the result: {found.where}.{hint}",
                                  found.point, found.valid)
    if found.constant and found.valid:
        return True, Explanation("Equal to the result to 50 digits (not proven: SymPy could "
                                 "not reduce the difference to 0).", None, found.valid)
    if found.valid >= _ENOUGH:
        return True, Explanation(
            f"Right at every one of the {found.valid} points tried{satisfying} (not proven: "
            "SymPy could not reduce the difference to 0).", None, found.valid)
    if found.valid:
        why = (f"only {found.valid} distinct points of the {found.tried} tried could be "
               "evaluated"
               f"{' and satisfy the premises' if premises else ''}; the answer agrees with "
               f"the result at all of them, too few to call it right")
    else:
        why = "no point could be evaluated" + (f" ({found.reason})" if found.reason else "")
    return None, Explanation(f"No proof was found, and {why}.{hint}", None, found.valid)


def _premises(premises) -> list:
    out = []
    for p in premises or ():
        if isinstance(p, bool):
            p = sp.true if p else sp.false
        if not isinstance(p, sp.logic.boolalg.Boolean):
            raise TypeError("same_expression: each premise must be a SymPy relation or "
                            f"boolean (e.g. lmax > lmin); got {type(p).__name__}.")
        if p == sp.false:
            raise ValueError("same_expression: a premise is False: no point can satisfy it.")
        if p != sp.true:
            out.append(p)
    return out


def _definitions(definitions) -> dict:
    out = {}
    for k, v in (definitions or {}).items():
        if not isinstance(k, (UndefinedFunction, sp.Symbol)):
            raise TypeError("same_expression: definitions maps undefined functions "
                            "(sp.Function('sigma')) or symbols to values; got the key "
                            f"{k!r}.")
        if not isinstance(v, (sp.Basic, int, float)) or isinstance(v, bool):
            raise TypeError(f"same_expression: the definition of {k} must be a SymPy object "
                            f"(a Lambda for a function); got {type(v).__name__}.")
        out[k] = sp.sympify(v)
    return out


def _define(obj, subs):
    obj = obj.subs(subs)
    return obj.doit() if hasattr(obj, "doit") else obj


def _shape(obj):
    """``None`` for a scalar, the shape tuple of a matrix (symbolic entries allowed)."""
    if isinstance(obj, (sp.MatrixBase, sp.MatrixExpr)):
        return tuple(obj.shape)
    return None


def _shape_text(shape, who: str) -> str:
    return f"{who} is a scalar" if shape is None else f"{who} has shape {tuple(shape)}"


def _free_names(obj) -> set:
    names = set()
    for s in obj.free_symbols:
        if isinstance(s, sp.Indexed):
            names.add(s.base.label)
        else:
            names.add(s)
    return names


def counterexample(answer, expected, trials: int = TRIALS, *, premises=()):
    """A point (``{symbol: value}``) where two SymPy expressions differ, or ``None``: the
    counterexample search of :func:`same_expression`, alone (no proof first)."""
    try:
        expected = sp.sympify(expected)
    except (TypeError, ValueError, sp.SympifyError):
        return None
    return search(answer, expected, _premises(premises), trials).point
