"""The values of the two sides of a *derive* exercise at one point, compared: equal, not
finite real numbers there, or clearly different (at 30 and at 50 digits), with both values
in as few digits as tell them apart.

Used by the counterexample search of :func:`dlmath.exercises.same_expression`
(:mod:`dlmath.exercises_search`).
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef


class Unevaluable(Exception):
    """A side still holds something without a value (an undefined function, a symbol)."""


def _value(e, prec: int):
    """The finite real value of a closed expression to ``prec`` digits, or ``None`` (not a
    finite real number there). Raises :class:`Unevaluable` if it still holds symbols or
    undefined functions."""
    try:
        v = sp.N(e, prec)
    except (TypeError, ValueError, ZeroDivisionError, ArithmeticError, AttributeError):
        return None
    if not isinstance(v, sp.Basic):
        return None
    if v.free_symbols or v.has(AppliedUndef):
        raise Unevaluable
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


def explicit(side):
    """A side after every symbol got a value: its matrix made explicit."""
    side = side.doit() if hasattr(side, "doit") else side
    if isinstance(side, sp.MatrixExpr) and not isinstance(side, sp.MatrixBase):
        side = side.as_explicit()
    if isinstance(side, sp.MatrixBase):
        return sp.ImmutableMatrix(side).applyfunc(lambda t: t.doit() if hasattr(t, "doit")
                                                  else t)
    return side


def _digits(a, b) -> tuple[str, str]:
    """The two values with as few significant digits (4 or more) as tell them apart."""
    def text(v, n):
        s = sp.sstr(sp.Float(v, n))
        return s[:-1] if s.endswith(".") else s

    for n in (4, 6, 10, 16, 30):
        sa, sb = text(a, n), text(b, n)
        if sa != sb:
            break
    return sa, sb


def compare(a, e):
    """``True`` (equal there), ``None`` (not finite real numbers there) or the description
    of the difference (a string: ``your expression is ... and the result is ...``) of two
    closed sides (matrices entry by entry). Raises :class:`Unevaluable` when a side still
    holds a symbol or an undefined function, or the two are not of one shape."""
    if isinstance(a, sp.MatrixBase) or isinstance(e, sp.MatrixBase):
        if not (isinstance(a, sp.MatrixBase) and isinstance(e, sp.MatrixBase)) \
                or a.shape != e.shape:
            raise Unevaluable
        for (i, j) in ((i, j) for i in range(a.rows) for j in range(a.cols)):
            d = compare(a[i, j], e[i, j])
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


def compare_residual(r):
    """As :func:`compare`, for the difference alone (when the sides hold an undefined
    function that cancels in it)."""
    if isinstance(r, sp.MatrixBase):
        for (i, j) in ((i, j) for i in range(r.rows) for j in range(r.cols)):
            d = compare_residual(r[i, j])
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
    return abs(d) > sp.Float(10) ** -20 * max(scale, sp.Float(10) ** -30) and d != 0
