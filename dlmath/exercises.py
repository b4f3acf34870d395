"""Checker cells for the chapters' exercises: right, not yet right (and why), undecided, or
not answered yet.

A chapter's checker cell reads ``exercises.check("Exercise 2", answer_2, verdict_2)``: the
``verdict`` is a function of the reader's answer that returns ``(ok, explanation)``, where
``ok`` is ``True`` (right), ``False`` (not yet right) or ``None`` (undecided: the checker
could neither prove nor refute the answer). Two verdict builders cover the two kinds of
exercise every chapter has:

* :func:`same_expression` for a *derive* exercise: the reader builds a SymPy expression and
  the checker first tries to prove it equal to the book's (:func:`dlmath.symbolic.prove_equal`
  and a few cheap extra simplifiers); failing a proof, it looks for a counterexample at
  exact rational points that satisfy the symbols' assumptions and the exercise's
  ``premises``. It never calls a right answer wrong: an answer that is neither proven nor
  refuted, but right at every one of many points, is right (and the message says it was not
  proven); one that cannot be evaluated at all is *undecided*.
* :func:`same_function` for an *implement* exercise: the reader writes a JAX function and
  the checker compares it with the book's on random and edge-case inputs, output by output
  (a reference may return a tuple, list or dict of arrays), accepting any array type and
  float dtype that holds the right numbers.

:func:`judge` returns a :class:`Verdict` (``ok``, ``message`` and a ``status``: ``"right"``,
``"wrong"``, ``"undecided"`` or ``"unanswered"``) without printing, so the tests run every
checker on a reference solution (it must say right) and on plausible mistakes (it must say
not right). :func:`same_expression`'s explanation is an :class:`Explanation`, a ``str`` that
also carries the counterexample ``point`` (or ``None``), so ``ok, why = ...`` and
``why + " hint"`` work as with a plain string.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Verdict", "Explanation", "judge", "check", "same_expression", "same_function",
           "RIGHT", "WRONG", "UNDECIDED", "UNANSWERED"]

#: The four outcomes of a checker (:attr:`Verdict.status`).
RIGHT, WRONG, UNDECIDED, UNANSWERED = "right", "wrong", "undecided", "unanswered"
_OK_OF_STATUS = {RIGHT: True, WRONG: False, UNDECIDED: None, UNANSWERED: None}


@dataclass(frozen=True)
class Verdict:
    """The outcome of a checker.

    Attributes:
        ok: ``True`` (right), ``False`` (not yet right) or ``None`` (undecided, or not
            answered yet): ``bool(ok)`` is ``True`` only for a right answer.
        message: what the reader is told.
        status: ``"right"``, ``"wrong"``, ``"undecided"`` or ``"unanswered"``. Left out, it
            follows ``ok`` (``None`` then means ``"unanswered"``, as before the status
            existed), so ``Verdict(True, "...")`` still builds a right verdict.
        point: the counterexample that refuted the answer (``{symbol: value}``), when the
            verdict function said so (an :class:`Explanation` with a ``point``); not
            compared by ``==``.

    Raises:
        ValueError: when ``status`` is not one of the four, or contradicts ``ok`` (a right
            status needs ``ok=True``, a wrong one ``ok=False``, the other two ``ok=None``).
    """

    ok: bool | None
    message: str
    status: str = ""
    point: dict | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        status = self.status or {True: RIGHT, False: WRONG, None: UNANSWERED}.get(self.ok)
        if status not in _OK_OF_STATUS:
            raise ValueError(f"Verdict: status must be one of {sorted(_OK_OF_STATUS)}; "
                             f"got {self.status!r} (ok={self.ok!r}).")
        if _OK_OF_STATUS[status] is not self.ok:
            raise ValueError(f"Verdict: status {status!r} needs ok={_OK_OF_STATUS[status]!r}; "
                             f"got ok={self.ok!r}.")
        object.__setattr__(self, "status", status)


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


def judge(exercise: str, answer, verdict: Callable) -> Verdict:
    """The verdict on an answer, without printing it.

    Args:
        exercise: its label, e.g. ``"Exercise 1"``.
        answer: the reader's answer; ``None`` (or ``...``) means not answered yet.
        verdict: a function of the answer returning ``(ok, explanation)``, with ``ok``
            ``True`` (right), ``False`` (not right) or ``None`` (undecided: neither proven
            nor refuted). An exception in it (a shape error in the reader's code, an answer
            of the wrong type) counts as not right, with its message: a checker never
            crashes on an answer.

    Returns:
        A :class:`Verdict`: status ``"unanswered"`` (message ``"<exercise>: not answered
        yet. ..."``), ``"right"`` (``"<exercise>: right. <explanation>"``), ``"wrong"``
        (``"<exercise>: not yet right. <explanation>"``) or ``"undecided"``
        (``"<exercise>: undecided. <explanation>"``).
    """
    if answer is None or answer is Ellipsis:
        return Verdict(None, f"{exercise}: not answered yet. Replace the None above and run "
                             "this cell again.", UNANSWERED)
    try:
        ok, why = verdict(answer)
    except Exception as e:  # the reader's code failing is a wrong answer, not a crash
        ok, why = False, f"{type(e).__name__}: {e}"
    point = getattr(why, "point", None)
    if ok is None:
        return Verdict(None, f"{exercise}: undecided. {why}".rstrip(), UNDECIDED, point)
    ok = bool(ok)
    return Verdict(ok, f"{exercise}: {'right' if ok else 'not yet right'}. {why}".rstrip(),
                   RIGHT if ok else WRONG, point)


def check(exercise: str, answer, verdict: Callable) -> bool | None:
    """Judge a reader's answer (:func:`judge`) and print the verdict.

    Returns:
        ``True`` (right), ``False`` (not yet right) or ``None`` (undecided, or not
        answered; the printed message tells which).
    """
    v = judge(exercise, answer, verdict)
    print(v.message)
    return v.ok


# ================================================================ same_expression

_QUICK = 12        # points tried before the proof, to refute a wrong answer cheaply
_TRIALS = 200      # points drawn in the counterexample search
_ENOUGH = 20       # valid points needed to call an unproven answer right
_SMALL = 40       # the first points drawn have small values only
_BIG = 250         # count_ops of the residual above which the costly simplifiers are skipped


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
    import sympy as sp

    from dlmath.proofs import _as_sympy

    if isinstance(answer, str) or not isinstance(answer, (sp.Basic, sp.MatrixBase)):
        return False, Explanation(f"the answer must be a SymPy expression built from the "
                                  f"cell's symbols; got {type(answer).__name__}.")
    expected = _as_sympy(expected, "same_expression", "expected")
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
    quick = _search(answer, expected, premises, trials=_QUICK)
    if quick.point is not None:
        return False, Explanation(f"It differs from the result: {quick.where}.{hint}",
                                  quick.point, quick.valid)
    proof = _prove(answer, expected, simplifiers, premises)
    if proof == "unconditional":
        tail = (" (without needing the exercise's premises)" if premises else "")
        return True, Explanation("Proven equal to the result, for every value the symbols "
                                 f"allow{tail}.")
    if proof == "premises":
        return True, Explanation("Proven equal to the result, for every value of the "
                                 "symbols that satisfies the exercise's premises.")

    found = _search(answer, expected, premises)
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
    import sympy as sp

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
    import sympy as sp
    from sympy.core.function import UndefinedFunction

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
    import sympy as sp

    if isinstance(obj, (sp.MatrixBase, sp.MatrixExpr)):
        return tuple(obj.shape)
    return None


def _shape_text(shape, who: str) -> str:
    return f"{who} is a scalar" if shape is None else f"{who} has shape {tuple(shape)}"


def _free_names(obj) -> set:
    import sympy as sp

    names = set()
    for s in obj.free_symbols:
        if isinstance(s, sp.Indexed):
            names.add(s.base.label)
        else:
            names.add(s)
    return names


# ---------------------------------------------------------------- the proof


def _prove(answer, expected, simplifiers, premises) -> str | None:
    """``"unconditional"``, ``"premises"`` (proven using the premises) or ``None``."""
    import sympy as sp

    if isinstance(answer, sp.MatrixBase) and isinstance(expected, sp.MatrixBase):
        found = set()
        for a, e in zip(answer, expected, strict=True):
            one = _prove_one(a, e, simplifiers, premises)
            if one is None:
                return None
            found.add(one)
        return "premises" if "premises" in found else "unconditional"
    return _prove_one(answer, expected, simplifiers, premises)


def _prove_one(answer, expected, simplifiers, premises) -> str | None:
    import sympy as sp

    from dlmath.proofs import DEFAULT_SIMPLIFIERS, ProofError, prove_equal

    try:
        residual = answer - expected
        residual = residual.doit() if hasattr(residual, "doit") else residual
    except Exception:  # a malformed expression is decided by evaluation
        return None
    if _zero(residual):
        return "unconditional"
    try:
        big = sp.count_ops(residual) > _BIG
    except Exception:
        big = True
    for chain in _CHEAP:
        if _chain_zero(residual, chain):
            return "unconditional"
    if simplifiers is not None or not big:
        try:
            prove_equal(answer, expected,
                        simplifiers=DEFAULT_SIMPLIFIERS if simplifiers is None else simplifiers)
            return "unconditional"
        except (ProofError, ValueError, TypeError):
            pass
        except Exception:  # a simplifier crashing proves nothing
            pass
    if _piecewise_zero(residual, _CHEAP if big else _CHEAP + _COSTLY):
        return "unconditional"
    if big:
        return None
    for chain in _COSTLY:
        if _chain_zero(residual, chain):
            return "unconditional"
    if premises:
        assumptions = sp.And(*premises)

        def refine(e):
            return sp.refine(e, assumptions)

        for chain in ((_doit, refine, _expand, _cancel), (_doit, refine, _simplify)):
            if _chain_zero(residual, chain):
                return "premises"
        if _piecewise_zero(_try(refine, residual), _CHEAP):
            return "premises"
    return None


def _try(f, e):
    try:
        return f(e)
    except Exception:
        return e


def _zero(e) -> bool:
    import sympy as sp

    if isinstance(e, sp.MatrixBase):
        return all(entry == 0 for entry in e)
    return e == 0 or bool(getattr(e, "is_ZeroMatrix", False))


def _chain_zero(residual, chain) -> bool:
    """Whether some step of ``chain`` (each applied to the previous one's output) gives 0.
    Every step is an equality, so 0 is a proof; a step that raises ends the chain."""
    last = residual
    for step in chain:
        try:
            last = _entrywise(step)(last)
        except Exception:  # a simplifier failing proves nothing
            return False
        if _zero(last):
            return True
    return False


def _entrywise(f):
    import sympy as sp

    def apply(e):
        return e.applyfunc(f) if isinstance(e, sp.MatrixBase) else f(e)
    return apply


def _doit(e):
    return e.doit() if hasattr(e, "doit") else e


def _cancel(e):
    import sympy as sp
    return sp.cancel(sp.together(e))


def _to_exp(e):
    import sympy as sp
    return e.rewrite(sp.exp)


def _expand_log(e):
    import sympy as sp
    return sp.expand_log(e, force=False)


def _refine(e):
    import sympy as sp
    return sp.refine(e)


def _powsimp(e):
    import sympy as sp
    return sp.powsimp(sp.expand(e))


def _simplify(e):
    import sympy as sp
    return sp.simplify(e)


def _expand(e):
    import sympy as sp
    return sp.expand(e)


#: cheap chains, tried first on every residual (each step is an equality)
_CHEAP = (
    (_doit, _expand, _cancel),
    (_doit, _to_exp, _powsimp, _cancel),
    (_doit, _expand_log, _expand, _cancel),
    (_doit, _refine, _expand, _cancel),
)
#: costly chains (simplify), skipped on a large residual
_COSTLY = (
    (_doit, _to_exp, _simplify),
)


def _piecewise_zero(residual, chains) -> bool:
    """A residual holding a ``Piecewise``: fold it to one ``Piecewise`` and prove every
    branch 0 by one of ``chains``; a branch whose condition is an equation (``Eq(1/beta,
    1)``) in one symbol with a finite solution set is proven at each solution. Sound: the
    folded residual equals one of its branches wherever it is defined."""
    import sympy as sp

    try:
        if not residual.has(sp.Piecewise):
            return False
        folded = sp.piecewise_fold(residual)
    except Exception:
        return False
    if not isinstance(folded, sp.Piecewise):
        return False
    for branch, cond in folded.args:
        if cond == sp.false:
            continue
        for at in _solutions(cond):
            try:
                value = branch.subs(at) if at else branch
            except Exception:
                return False
            if not (_zero(value) or any(_chain_zero(value, c) for c in chains)):
                return False
    return True


def _solutions(cond) -> list[dict]:
    """``[{symbol: value}, ...]`` for every solution of an equation condition, when the set
    of solutions is finite and known; ``[{}]`` (no substitution) otherwise."""
    import sympy as sp

    if not isinstance(cond, sp.Eq):
        return [{}]
    d = cond.lhs - cond.rhs
    syms = sorted(d.free_symbols, key=str)
    if len(syms) != 1 or not isinstance(syms[0], sp.Symbol):
        return [{}]
    sym = syms[0]
    try:
        sols = sp.solveset(d, sym, sp.S.Reals if sym.is_real else sp.S.Complexes)
    except Exception:
        return [{}]
    if not isinstance(sols, sp.FiniteSet):
        return [{}]
    return [{sym: v} for v in sorted(sols, key=sp.default_sort_key)
            if not any(getattr(v, f"is_{k}") is (not w)
                       for k, w in sym.assumptions0.items() if w is not None)]


# ---------------------------------------------------------------- the counterexample search


@dataclass
class _Search:
    point: dict | None = None
    where: str = ""
    valid: int = 0
    tried: int = 0
    reason: str = ""
    constant: bool = False


class _Unevaluable(Exception):
    """A side still holds something without a value (an undefined function, a symbol)."""


_FACTS = ("integer", "rational", "real", "positive", "negative", "nonnegative", "nonpositive",
          "zero", "nonzero", "even", "odd", "prime", "composite", "finite", "imaginary",
          "extended_real", "complex")


def _allowed(sym, v) -> bool:
    """Whether the value ``v`` meets every assumption of ``sym`` (a symbol or an indexed
    entry)."""
    keys = set(_FACTS) | set(getattr(sym, "assumptions0", {}))
    for k in keys:
        want = getattr(sym, f"is_{k}", None)
        have = getattr(v, f"is_{k}", None)
        if want is not None and have is not None and want != have:
            return False
    return True


def _draw(sym, rng: random.Random, dimension: bool = False, small: bool = False):
    """An exact value that ``sym``'s assumptions allow, or ``None`` after 40 tries: small
    ones only when ``small`` (the first points tried, whose values a reader can check by
    hand), else also moderately large ones."""
    import sympy as sp

    for _ in range(40):
        r = rng.random() * (0.6 if small else 1.0)
        if dimension:
            v = sp.Integer(rng.randint(1, 3 if small else 4))
        elif sym.is_integer:
            v = sp.Integer(rng.randint(0, 6) if r < 0.6 else
                           rng.randint(7, 40) if r < 0.9 else rng.randint(41, 300))
        elif r < 0.1:
            v = rng.choice([sp.Integer(0), sp.Integer(1), sp.Rational(1, 2), sp.Integer(2)])
        elif r < 0.6:
            v = sp.Rational(rng.randint(1, 89), rng.randint(7, 41))       # about 0.02 to 13
        elif r < 0.75:
            v = sp.Rational(rng.randint(1, 99), rng.randint(100, 1000))   # about 0.001 to 1
        else:
            k = rng.randint(2, 9)
            v = sp.Rational(rng.randint(10, 90) * k + rng.randint(0, k - 1), k)  # 10 to 90
        if sym.is_nonpositive or sym.is_negative:
            v = -v
        elif not sym.is_nonnegative and rng.random() < 0.5:
            v = -v
        if _allowed(sym, v):
            return v
    return None


def _holds(premise, values) -> bool:
    import sympy as sp

    try:
        v = premise.xreplace(values)
    except Exception:
        return False
    return v == sp.true or v is True


def _value(e, prec: int):
    """The finite real value of a closed expression to ``prec`` digits, or ``None`` (not a
    finite real number there). Raises :class:`_Unevaluable` if it still holds symbols or
    undefined functions."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    try:
        v = sp.N(e, prec)
    except (TypeError, ValueError, ZeroDivisionError, ArithmeticError, AttributeError):
        return None
    if not isinstance(v, sp.Basic):
        return None
    if v.free_symbols or v.has(AppliedUndef):
        raise _Unevaluable
    if v.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        return None
    try:
        re, im = (sp.N(t, prec) for t in v.as_real_imag())
    except Exception:
        return None
    if not (re.is_Number and im.is_Number) or not re.is_finite:
        return None
    if im != 0 and abs(im) > sp.Float(10) ** (8 - prec) * max(1, abs(re)):
        return None
    return re


def _explicit(side):
    """A side after every symbol got a value: its matrix made explicit."""
    import sympy as sp

    side = side.doit() if hasattr(side, "doit") else side
    if isinstance(side, sp.MatrixExpr) and not isinstance(side, sp.MatrixBase):
        side = side.as_explicit()
    if isinstance(side, sp.MatrixBase):
        return sp.ImmutableMatrix(side).applyfunc(lambda t: t.doit() if hasattr(t, "doit")
                                                  else t)
    return side


def _digits(a, b) -> tuple[str, str]:
    """The two values with as few significant digits (4 or more) as tell them apart."""
    import sympy as sp

    def text(v, n):
        s = sp.sstr(sp.Float(v, n))
        return s[:-1] if s.endswith(".") else s

    for n in (4, 6, 10, 16, 30):
        sa, sb = text(a, n), text(b, n)
        if sa != sb:
            break
    return sa, sb


def _search(answer, expected, premises, trials: int = _TRIALS, seed: int = 0) -> _Search:
    """Look for a point where ``answer`` and ``expected`` differ (see
    :func:`same_expression`); deterministic (a seeded generator, sorted symbols)."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    out = _Search()
    objs = [answer, expected, *premises]
    labels = {ix.base.label for o in objs for ix in o.atoms(sp.Indexed)}
    dims = set()
    for m in {m for o in objs for m in o.atoms(sp.MatrixSymbol)}:
        for n in m.shape:
            dims |= sp.sympify(n).free_symbols
    scalars = sorted({s for o in objs for s in o.free_symbols
                      if isinstance(s, sp.Symbol) and s not in labels} | dims, key=str)
    undefined = sorted({str(f.func) for o in objs for f in o.atoms(AppliedUndef)})
    scalar_premises = [p for p in premises
                       if not p.atoms(sp.Indexed) and not p.atoms(sp.MatrixSymbol)]
    other_premises = [p for p in premises if p not in scalar_premises]
    rng = random.Random(seed)
    skipped = {_PREMISES: 0, _UNDEFINED: 0, _NOT_REAL: 0}
    out.constant = not scalars and not any(o.atoms(sp.Indexed, sp.MatrixSymbol) for o in objs)
    seen = set()
    for n in range(1 if out.constant else trials):
        out.tried += 1
        point = {}
        for s in scalars:
            v = _draw(s, rng, dimension=s in dims, small=n < _SMALL)
            if v is None:
                out.reason = f"no rational value meets the assumptions of {s}"
                return out
            point[s] = v
        if not all(_holds(p, point) for p in scalar_premises):
            skipped[_PREMISES] += 1
            continue
        result = _at(point, answer, expected, other_premises, rng, bool(undefined),
                     small=n < _SMALL)
        if isinstance(result, str):
            skipped[result] += 1
        elif result[0] is True:
            key = tuple(sorted((sp.sstr(k), _point_text(v)) for k, v in result[1].items()))
            if key not in seen:  # a point drawn twice counts once
                seen.add(key)
                out.valid += 1
        else:
            full, what = result
            out.point = full
            at = ", ".join(f"{sp.sstr(k)} = {_point_text(v)}" for k, v in full.items())
            out.where = f"at {at} {what}" if at else what
            return out
    reasons = []
    if skipped[_UNDEFINED] and undefined:
        reasons.append(f"{', '.join(undefined)} ha{'s' if len(undefined) == 1 else 've'} no "
                       "values here")
    elif skipped[_UNDEFINED]:
        reasons.append("a side still held something without a value (a matrix of symbolic "
                       "size, an entry of a matrix symbol)")
    if skipped[_PREMISES]:
        reasons.append(f"{skipped[_PREMISES]} of the {out.tried} points drawn failed the "
                       "exercise's premises")
    if skipped[_NOT_REAL]:
        reasons.append(f"at {skipped[_NOT_REAL]} points a side was not a finite real number")
    out.reason = "; ".join(reasons)
    return out


_PREMISES, _UNDEFINED, _NOT_REAL = "premises", "undefined", "not real"


def _at(point, answer, expected, premises, rng, undefined: bool, small: bool = False):
    """Evaluate both sides at ``point`` (scalar symbols), filling in matrix symbols and
    indexed entries: ``(True, full point)`` (equal there), one of ``_PREMISES``,
    ``_UNDEFINED``, ``_NOT_REAL`` (the point does not count), or ``(full point,
    description of the difference)``."""
    import sympy as sp

    full = dict(point)
    try:
        sides = [_doit(_put(o, point)) for o in (answer, expected)]
        rest = [_put(p, point) for p in premises]
        filled = {}
        for m in sorted({m for o in sides + rest for m in o.atoms(sp.MatrixSymbol)}, key=str):
            r, c = m.shape
            if not (r.is_Integer and c.is_Integer):
                return _UNDEFINED
            filled[m] = sp.ImmutableMatrix(int(r), int(c), lambda i, j: _entry(rng))
        sides = [o.xreplace(filled) for o in sides]
        rest = [p.xreplace(filled) for p in rest]
        for ix in sorted({ix for o in sides + rest for ix in o.atoms(sp.Indexed)}, key=str):
            v = _draw(ix, rng, small=small)
            if v is None:
                return _UNDEFINED
            filled[ix] = v
        full.update(filled)
        sides = [o.xreplace(filled) for o in sides]
        if not all(_holds(p, filled) for p in rest):
            return _PREMISES
    except Exception:  # a point where SymPy fails does not count
        return _UNDEFINED if undefined else _NOT_REAL
    try:
        what = _compare(_explicit(sides[0]), _explicit(sides[1]))
    except _Unevaluable:
        if not undefined:
            return _UNDEFINED
        try:  # the sides cannot be evaluated alone: maybe their difference can
            what = _compare_residual(_explicit(sides[0] - sides[1]))
        except Exception:  # _Unevaluable included
            return _UNDEFINED
    except Exception:
        return _NOT_REAL
    if what is None:
        return _NOT_REAL
    if what is True:
        return True, full
    return full, what


def _point_text(v) -> str:
    import sympy as sp

    return sp.sstr(v.tolist()) if isinstance(v, sp.MatrixBase) else sp.sstr(v)


def _put(obj, values):
    """``obj`` with the symbols given values: ``xreplace``, or ``subs`` where a symbol is
    also a variable of differentiation (``Derivative(f(x), x)`` at ``x = 1/2`` is kept as
    an unevaluated ``Subs``)."""
    try:
        return obj.xreplace(values)
    except (ValueError, TypeError):
        return obj.subs(values)


def _entry(rng: random.Random):
    import sympy as sp
    return sp.Rational(rng.randint(-19, 19), rng.randint(1, 9))


def _compare(a, e):
    """``True`` (equal there), ``None`` (not finite real numbers there) or the description
    of the difference (a string: ``your expression is ... and the result is ...``)."""
    import sympy as sp

    if isinstance(a, sp.MatrixBase) or isinstance(e, sp.MatrixBase):
        if not (isinstance(a, sp.MatrixBase) and isinstance(e, sp.MatrixBase)) \
                or a.shape != e.shape:
            raise _Unevaluable
        for (i, j) in ((i, j) for i in range(a.rows) for j in range(a.cols)):
            d = _compare(a[i, j], e[i, j])
            if d is not True:
                if d is None:
                    return None
                return d.replace("your expression is", f"entry ({i}, {j}) of your expression "
                                 "is", 1).replace("the result is", "of the result", 1)
        return True
    a30, e30 = _value(a, 30), _value(e, 30)
    if a30 is None or e30 is None:
        return None
    if not _clearly_nonzero(a30 - e30, max(abs(a30), abs(e30))):
        return True
    a50, e50 = _value(a, 50), _value(e, 50)
    if a50 is None or e50 is None:
        return None
    d30, d50 = a30 - e30, a50 - e50
    if not (_clearly_nonzero(d50, max(abs(a50), abs(e50)))
            and abs(d30 - d50) <= sp.Float(1e-6) * abs(d50)):
        return True
    sa, se = _digits(a50, e50)
    return f"your expression is {sa} and the result is {se}"


def _compare_residual(r):
    """As :func:`_compare`, for the difference alone (when the sides hold an undefined
    function that cancels in it)."""
    import sympy as sp

    if isinstance(r, sp.MatrixBase):
        for (i, j) in ((i, j) for i in range(r.rows) for j in range(r.cols)):
            d = _compare_residual(r[i, j])
            if d is not True:
                entry = f"entry ({i}, {j}) of your expression minus"
                return d if d is None else d.replace("your expression minus", entry, 1)
        return True
    d30 = _value(r, 30)
    if d30 is None:
        return None
    if not _clearly_nonzero(d30, sp.Float(1)):
        return True
    d50 = _value(r, 50)
    if d50 is None or abs(d30 - d50) > sp.Float(1e-6) * abs(d50):
        return True
    text = sp.sstr(sp.Float(d50, 4))
    return (f"your expression minus the result is {text[:-1] if text.endswith('.') else text}"
            ", not 0 (for every choice of the undefined functions in them)")


def _clearly_nonzero(d, scale) -> bool:
    import sympy as sp
    return abs(d) > sp.Float(10) ** -20 * max(scale, sp.Float(10) ** -30) and d != 0


def _counterexample(answer, expected, trials: int = _TRIALS, *, premises=()):
    """A point (``{symbol: value}``) where two SymPy expressions differ, or ``None``: the
    counterexample search of :func:`same_expression`, alone (no proof first)."""
    import sympy as sp

    try:
        expected = sp.sympify(expected)
    except (TypeError, ValueError, sp.SympifyError):
        return None
    return _search(answer, expected, _premises(premises), trials).point


# ================================================================ same_function


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _leaves(tree):
    """``[(path, leaf), ...]`` of a pytree; ``None`` is a leaf (a missing output)."""
    import jax

    return jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda v: v is None)[0]


def _key(path) -> tuple:
    """A path with its container types forgotten (a list answers for a tuple)."""
    out = []
    for p in path:
        for attr in ("idx", "key", "name"):
            if hasattr(p, attr):
                out.append(getattr(p, attr))
                break
        else:
            out.append(str(p))
    return tuple(out)


def _leaf_label(k: int, path, names) -> str:
    import jax

    text = f"the {_ordinal(k + 1)} output"
    if names is not None:
        return f"{text} ({names[k]})"
    if len(path) == 1 and not isinstance(path[0], jax.tree_util.SequenceKey):
        return f"{text} ({_key(path)[0]})"
    if len(path) > 1:
        return f"{text} ({jax.tree_util.keystr(path)})"
    return text


def _as_numbers(x):
    """``(float64 or complex128 array, original dtype)`` of an array-like of numbers of any
    array type and dtype (bfloat16 included), or ``None`` for anything else."""
    import jax.numpy as jnp
    import numpy as np

    if x is None or isinstance(x, (str, bytes, dict, set)):
        return None
    try:
        a = np.asarray(x)
    except Exception:
        return None
    dtype = a.dtype
    if dtype.kind in "biuf":
        return a.astype(np.float64), dtype
    if dtype.kind == "c":
        return a.astype(np.complex128), dtype
    try:
        floating = bool(jnp.issubdtype(dtype, jnp.floating))
    except Exception:
        floating = False
    if floating or dtype.kind == "O":
        try:
            return a.astype(np.float64), dtype
        except (TypeError, ValueError):
            return None
    return None


def _type_name(x) -> str:
    dtype = getattr(x, "dtype", None)
    name = type(x).__name__
    return f"{name} of dtype {dtype}" if dtype is not None and hasattr(x, "shape") else name


def same_function(candidate: Callable, reference: Callable, cases: Sequence[tuple],
                  *, rtol: float = 1e-5, atol: float = 1e-6,
                  names: Sequence[str] | None = None) -> tuple[bool, str]:
    """Verdict of an *implement* exercise: does ``candidate`` compute what ``reference`` does?

    Each case is ``(label, args)``; both functions are called with ``*args``. The reference
    returns an array or a pytree of arrays (a tuple, list or dict, e.g. four gradients), and
    the candidate must return the same number of outputs (a list answers for a tuple), each
    compared with its own: never flattened together first. An output may be of any array
    type (a NumPy or JAX array, 0-d included, a Python or NumPy scalar) and any numeric dtype
    (float16 and bfloat16 included: it is compared in float64), and must have the
    reference's shape, the same entries NaN or infinite, and its finite entries within
    ``atol + rtol * |reference|``. Edge cases (large logits, zeros, a batch of one) belong in
    ``cases`` with a label that tells the reader what failed.

    Messages name the case and, for a pytree, the output: ``"On <case> the 3rd output (db1)
    has shape (1, 5); expected (5,)."``; a non-numeric output gets ``"expected an array of
    numbers; got str"``; an output off the tolerance gets the error, where, and the precision
    needed (``"agree to within atol + rtol·|ref| (rtol=..., atol=...)"``, and the significant
    digits its dtype keeps when that is too few).

    Args:
        candidate: the reader's function.
        reference: the book's (a :mod:`dlmath` function).
        cases: ``[(label, args), ...]``, at least one.
        rtol, atol: tolerances.
        names: optional names of the reference's outputs, in pytree leaf order (e.g.
            ``["dW1", "db1", "dW2", "db2"]``), shown in messages.

    Returns:
        ``(ok, explanation)``; the explanation names the first case (and output) that failed.

    Raises:
        ValueError: when ``cases`` is empty, or ``names`` does not name every output of the
            reference.
        TypeError: when the reference returns something that is not numbers.
    """
    if not callable(candidate):
        return False, f"the answer must be a function; got {type(candidate).__name__}."
    if not cases:
        raise ValueError("same_function: cases must hold at least one (label, args) pair.")
    names = None if names is None else [str(n) for n in names]
    for label, args in cases:
        want_leaves = _leaves(reference(*args))
        if names is not None and len(names) != len(want_leaves):
            raise ValueError(f"same_function: names has {len(names)} entries; the reference "
                             f"returns {len(want_leaves)} outputs.")
        try:
            got_tree = candidate(*args)
        except Exception as e:
            return False, f"On {label} it raised {type(e).__name__}: {e}"
        single = len(want_leaves) == 1 and want_leaves[0][0] == ()
        got_leaves = _leaves(got_tree)
        if single and len(got_leaves) != 1:
            got = _as_numbers(got_tree) if not isinstance(got_tree, dict) else None
            if got is None:
                return False, (f"On {label} it returned {len(got_leaves)} outputs; expected "
                               "one array.")
            got_leaves = [((), got_tree)]
        if len(got_leaves) != len(want_leaves):
            return False, (f"On {label} it returned {len(got_leaves)} output"
                           f"{'' if len(got_leaves) == 1 else 's'}; expected "
                           f"{len(want_leaves)}.")
        if not single and [_key(p) for p, _ in got_leaves] != [_key(p) for p, _ in want_leaves]:
            return False, (f"On {label} its outputs are laid out as "
                           f"{[_key(p) for p, _ in got_leaves]}; expected "
                           f"{[_key(p) for p, _ in want_leaves]}.")
        for k, ((path, w), (_, g)) in enumerate(zip(want_leaves, got_leaves, strict=True)):
            subject = "it" if single else _leaf_label(k, path, names)
            want = _as_numbers(w)
            if want is None:
                raise TypeError(f"same_function: the reference returned {_type_name(w)} on "
                                f"{label}; it must return arrays of numbers.")
            want64, _ = want
            got = _as_numbers(g)
            if got is None:
                where = f"On {label}" if single else f"On {label}, {subject}"
                return False, f"{where}: expected an array of numbers; got {_type_name(g)}."
            got64, got_dtype = got
            if got64.shape != want64.shape:
                verb = "returned shape" if single else "has shape"
                return False, (f"On {label} {subject} {verb} {got64.shape}; expected "
                               f"{want64.shape}.")
            why = _off(got64, want64, got_dtype, rtol, atol)
            if why is not None:
                if why.startswith("NaN"):
                    whose = "its" if single else f"the {subject[4:]}'s"
                    return False, f"On {label} {whose} {why}"
                return False, f"On {label} {subject} {why}"
    return True, f"Agrees with the reference on all {len(cases)} cases."


def _off(got, want, got_dtype, rtol, atol) -> str | None:
    """Why ``got`` is not ``want`` (same shapes), or ``None``."""
    import jax.numpy as jnp
    import numpy as np

    same_nonfinite = np.array_equal(np.isnan(got), np.isnan(want)) and np.array_equal(
        np.where(np.isinf(want), want, 0), np.where(np.isinf(got), got, 0))
    if not same_nonfinite:
        return "NaN/infinite entries differ from the reference's."
    fin = np.isfinite(want)
    bound = atol + rtol * np.abs(want)
    excess = np.where(fin, np.abs(got - want) - bound, -np.inf)
    if not np.any(excess > 0) and np.all(np.isfinite(got[fin])):
        return None
    err = float(np.max(np.abs(got[fin] - want[fin])))
    idx = np.unravel_index(int(np.argmax(excess)), want.shape) if want.ndim else ()
    at = f" (at index {tuple(int(i) for i in idx)}: {got[idx]:.6g} instead of {want[idx]:.6g})" \
        if want.ndim else f" ({complex(got).real if np.iscomplexobj(got) else float(got):.6g} " \
        f"instead of {complex(want).real if np.iscomplexobj(want) else float(want):.6g})"
    text = (f"is off by up to {err:.2e}{at}; it must agree to within atol + rtol·|ref| "
            f"(rtol={rtol:g}, atol={atol:g}).")
    try:
        if jnp.issubdtype(got_dtype, jnp.floating):
            digits = int(jnp.finfo(got_dtype).precision)
            needed = int(np.ceil(-np.log10(rtol))) if rtol > 0 else None
            if needed is not None and digits < needed:
                text += (f" Its dtype {got_dtype} keeps about {digits} significant digits; "
                         f"this case needs about {needed}.")
    except Exception:
        pass
    return text
