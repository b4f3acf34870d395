"""Checker cells for the chapters' exercises: right, not yet right (and why), or not
answered yet.

A chapter's checker cell reads ``exercises.check("Exercise 2", answer_2, verdict_2)``: the
``verdict`` is a function of the reader's answer that returns ``(ok, explanation)``. Two
verdict builders cover the two kinds of exercise every chapter has:

* :func:`same_expression` for a *derive* exercise: the reader builds a SymPy expression and
  the checker proves it equal to the book's (:func:`dlmath.symbolic.prove_equal`);
* :func:`same_function` for an *implement* exercise: the reader writes a JAX function and
  the checker compares it with the book's on random and edge-case inputs.

:func:`judge` returns the verdict without printing, so the tests run every checker on a
reference solution (it must say right) and on plausible mistakes (it must say not right).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Verdict", "judge", "check", "same_expression", "same_function"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of a checker: ``ok`` is ``True`` (right), ``False`` (not yet right) or
    ``None`` (not answered); ``message`` is what the reader is told."""

    ok: bool | None
    message: str


def judge(exercise: str, answer, verdict: Callable) -> Verdict:
    """The verdict on an answer, without printing it.

    Args:
        exercise: its label, e.g. ``"Exercise 1"``.
        answer: the reader's answer; ``None`` (or ``...``) means not answered yet.
        verdict: a function of the answer returning ``(ok, explanation)``. An exception in
            it (a shape error in the reader's code, an answer of the wrong type) counts as
            not right, with its message: a checker never crashes on an answer.

    Returns:
        A :class:`Verdict`.
    """
    if answer is None or answer is Ellipsis:
        return Verdict(None, f"{exercise}: not answered yet. Replace the None above and run "
                             "this cell again.")
    try:
        ok, why = verdict(answer)
    except Exception as e:  # the reader's code failing is a wrong answer, not a crash
        ok, why = False, f"{type(e).__name__}: {e}"
    ok = bool(ok)
    return Verdict(ok, f"{exercise}: {'right' if ok else 'not yet right'}. {why}".rstrip())


def check(exercise: str, answer, verdict: Callable) -> bool | None:
    """Judge a reader's answer (:func:`judge`) and print the verdict.

    Returns:
        ``True`` (right), ``False`` (not yet right) or ``None`` (not answered).
    """
    v = judge(exercise, answer, verdict)
    print(v.message)
    return v.ok


def same_expression(answer, expected, *, simplifiers=None) -> tuple[bool, str]:
    """Verdict of a *derive* exercise: is ``answer`` the same mathematics as ``expected``?

    The answer must be a SymPy object (a string is never parsed); the equality is proven
    with :func:`dlmath.symbolic.prove_equal`, so an equivalent form in other terms is right.
    The message never reveals ``expected``.

    Args:
        answer: the reader's SymPy expression (or matrix).
        expected: the book's.
        simplifiers: passed to :func:`~dlmath.symbolic.prove_equal`.

    Returns:
        ``(ok, explanation)``.
    """
    import sympy as sp

    from dlmath.symbolic import ProofError, prove_equal

    if not isinstance(answer, (sp.Basic, sp.MatrixBase)):
        return False, (f"the answer must be a SymPy expression built from the cell's symbols; "
                       f"got {type(answer).__name__}.")
    extra = sorted(str(s) for s in answer.free_symbols - sp.sympify(expected).free_symbols)
    point = _counterexample(answer, expected)
    if point is not None:
        where = ", ".join(f"{k} = {v}" for k, v in point.items())
        return False, f"It differs from the result: at {where} the two have different values."
    try:
        prove_equal(answer, expected, simplifiers=simplifiers)
    except ProofError:
        hint = f" It uses symbols the result does not: {', '.join(extra)}." if extra else ""
        return False, "It differs from the result: the residual does not simplify to 0." + hint
    except (ValueError, TypeError) as e:
        return False, str(e)
    return True, "Proven equal to the result, for every value the symbols allow."


def _counterexample(answer, expected, trials: int = 3):
    """A point where two scalar SymPy expressions differ, or None.

    Every free symbol gets an exact rational (an integer for integer symbols) that its
    assumptions allow (checked against the symbol's assumptions), and the difference is
    evaluated to 30 digits; a clearly nonzero, finite, real difference at such a point
    proves the two different (a counterexample), without asking ``simplify`` to fail.
    Expressions with other free objects (indexed symbols, undefined functions, matrices)
    give None, and so does a point where either side is not a finite real number: then the
    proof decides.
    """
    import random

    import sympy as sp

    if isinstance(answer, sp.MatrixBase) or isinstance(expected, sp.MatrixBase):
        return None
    try:
        expected = sp.sympify(expected)
        residual = answer - expected
    except (TypeError, ValueError, sp.SympifyError):
        return None
    symbols = sorted(residual.free_symbols | expected.free_symbols, key=str)
    if not all(isinstance(s, sp.Symbol) for s in symbols):
        return None
    rng = random.Random(0)

    def value_for(sym):
        for _ in range(20):
            if sym.is_integer:
                v = sp.Integer(rng.randint(0, 6))
            else:
                v = sp.Rational(rng.randint(1, 89), rng.randint(7, 41))
            either_sign = not sym.is_nonnegative and rng.random() < 0.5
            if sym.is_negative or sym.is_nonpositive or either_sign:
                v = -v
            if all(getattr(v, f"is_{k}") in (w, None) for k, w in sym.assumptions0.items()):
                return v
        return None

    for _ in range(trials):
        point = {sym: value_for(sym) for sym in symbols}
        if any(v is None for v in point.values()):
            return None
        try:
            got = sp.N(residual.xreplace(point), 30)
            scale = sp.N(expected.xreplace(point), 30)
        except (TypeError, ValueError, ZeroDivisionError, ArithmeticError):
            continue
        if not (got.is_real and got.is_finite and scale.is_real and scale.is_finite):
            continue
        if abs(got) > sp.Float(1e-20) * (1 + abs(scale)):
            return point
    return None


def same_function(candidate: Callable, reference: Callable, cases: Sequence[tuple],
                  *, rtol: float = 1e-5, atol: float = 1e-6) -> tuple[bool, str]:
    """Verdict of an *implement* exercise: does ``candidate`` compute what ``reference`` does?

    Each case is ``(label, args)``; both functions are called with ``*args`` and must give
    arrays of one shape, the same entries NaN or infinite, and the finite entries within
    ``atol + rtol * |reference|``. Edge cases (large logits, zeros, a batch of one) belong in
    ``cases`` with a label that tells the reader what failed.

    Args:
        candidate: the reader's function.
        reference: the book's (a :mod:`dlmath` function).
        cases: ``[(label, args), ...]``, at least one.
        rtol, atol: tolerances.

    Returns:
        ``(ok, explanation)``; the explanation names the first case that failed.
    """
    import numpy as np

    if not callable(candidate):
        return False, f"the answer must be a function; got {type(candidate).__name__}."
    if not cases:
        raise ValueError("same_function: cases must hold at least one (label, args) pair.")
    for label, args in cases:
        want = np.asarray(reference(*args))
        try:
            got = np.asarray(candidate(*args))
        except Exception as e:
            return False, f"On {label} it raised {type(e).__name__}: {e}"
        if got.shape != want.shape:
            return False, f"On {label} it returned shape {got.shape}; expected {want.shape}."
        if not np.issubdtype(got.dtype, np.number) and got.dtype != np.bool_:
            return False, f"On {label} it returned dtype {got.dtype}; expected numbers."
        got64, want64 = got.astype(np.float64), want.astype(np.float64)
        same_nonfinite = np.array_equal(np.isnan(got64), np.isnan(want64)) and np.array_equal(
            np.where(np.isinf(want64), want64, 0), np.where(np.isinf(got64), got64, 0))
        if not same_nonfinite:
            return False, f"On {label} its NaN/infinite entries differ from the reference's."
        fin = np.isfinite(want64)
        if not np.allclose(got64[fin], want64[fin], rtol=rtol, atol=atol):
            err = float(np.max(np.abs(got64[fin] - want64[fin])))
            return False, f"On {label} it is off by up to {err:.2e}."
    return True, f"Agrees with the reference on all {len(cases)} cases."
