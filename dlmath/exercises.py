"""Checker cells for the chapters' exercises: right, wrong (and why), or not answered yet."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["check"]


def check(exercise: str, answer, verdict: Callable) -> bool | None:
    """Judge a reader's answer and print the verdict.

    Args:
        exercise: its label, e.g. ``"Exercise 1"``.
        answer: the reader's answer; ``None`` (or ``...``) means not answered yet.
        verdict: a function of the answer returning ``(ok, explanation)``. An exception in
            it (e.g. a shape error in the reader's code) counts as wrong, with its message.

    Returns:
        ``True`` (right), ``False`` (wrong) or ``None`` (not answered).
    """
    if answer is None or answer is Ellipsis:
        print(f"{exercise}: not answered yet. Replace the None above and run this cell again.")
        return None
    try:
        ok, why = verdict(answer)
    except Exception as e:  # the reader's code failing is a wrong answer, not a crash
        ok, why = False, f"{type(e).__name__}: {e}"
    print(f"{exercise}: {'right' if ok else 'not yet right'}. {why}")
    return bool(ok)
