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

from collections.abc import Callable
from dataclasses import dataclass, field

from dlmath.exercises_expression import Explanation, same_expression
from dlmath.exercises_function import same_function

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
