"""The counterexample search of :func:`dlmath.exercises.same_expression`: points of exact
rationals that the symbols' assumptions and the exercise's premises allow (drawn from a
seeded generator, so the verdict is the same on every run), at which both sides are
evaluated and compared (:mod:`dlmath.exercises_values`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import sympy as sp
from sympy.core.function import AppliedUndef

from dlmath.exercises_values import Unevaluable, compare, compare_residual, explicit
from dlmath.proofs import doit

TRIALS = 200      # points drawn in the counterexample search
_SMALL = 40       # the first points drawn have small values only


@dataclass
class Search:
    """What :func:`search` found: the counterexample ``point`` (``None``: none) and
    ``where`` it was (text), how many distinct points agreed (``valid``) of those ``tried``,
    why points were skipped (``reason``), and whether the sides had no symbols at all
    (``constant``: one evaluation decides)."""

    point: dict | None = None
    where: str = ""
    valid: int = 0
    tried: int = 0
    reason: str = ""
    constant: bool = False


_FACTS = ("integer", "rational", "real", "positive", "negative", "nonnegative", "nonpositive",
          "zero", "nonzero", "even", "odd", "prime", "composite", "finite", "imaginary",
          "extended_real", "complex")


def allowed(sym, v) -> bool:
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
        if allowed(sym, v):
            return v
    return None


def _holds(premise, values) -> bool:
    try:
        v = premise.xreplace(values)
    except Exception:
        return False
    return v == sp.true or v is True


def search(answer, expected, premises, trials: int = TRIALS, seed: int = 0) -> Search:
    """Look for a point where ``answer`` and ``expected`` differ, among ``trials`` points
    that satisfy ``premises`` (a list of SymPy relations), as
    :func:`dlmath.exercises.same_expression` describes; deterministic (a generator seeded with
    ``seed``, sorted symbols). Returns a :class:`Search`."""
    out = Search()
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
    full = dict(point)
    try:
        sides = [doit(_put(o, point)) for o in (answer, expected)]
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
        what = compare(explicit(sides[0]), explicit(sides[1]))
    except Unevaluable:
        if not undefined:
            return _UNDEFINED
        try:  # the sides cannot be evaluated alone: maybe their difference can
            what = compare_residual(explicit(sides[0] - sides[1]))
        except Exception:  # Unevaluable included
            return _UNDEFINED
    except Exception:
        return _NOT_REAL
    if what is None:
        return _NOT_REAL
    if what is True:
        return True, full
    return full, what


def _point_text(v) -> str:
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
    return sp.Rational(rng.randint(-19, 19), rng.randint(1, 9))
