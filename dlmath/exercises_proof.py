"""The proof attempt of :func:`dlmath.exercises.same_expression`: the residual of the answer
and the result through cheap chains of simplifiers (each step an equality, so 0 is a proof),
:func:`dlmath.proofs.prove_equal`, a ``Piecewise`` proven branch by branch, and the
exercise's premises.
"""

from __future__ import annotations

import sympy as sp

from dlmath.proofs import DEFAULT_SIMPLIFIERS, ProofError, doit, is_zero, prove_equal

_BIG = 250         # count_ops of the residual above which the costly simplifiers are skipped


def prove_same(answer, expected, simplifiers, premises) -> str | None:
    """Whether ``answer`` is proven equal to ``expected`` (matrices entry by entry):
    ``"unconditional"``, ``"premises"`` (proven using the exercise's ``premises``) or ``None``
    (no proof found, which refutes nothing). ``simplifiers`` go to
    :func:`dlmath.proofs.prove_equal` (``None``: its defaults, skipped on a large residual)."""
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
    try:
        residual = answer - expected
        residual = residual.doit() if hasattr(residual, "doit") else residual
    except Exception:  # a malformed expression is decided by evaluation
        return None
    if is_zero(residual):
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

        for chain in ((doit, refine, _expand, _cancel), (doit, refine, _simplify)):
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


def _chain_zero(residual, chain) -> bool:
    """Whether some step of ``chain`` (each applied to the previous one's output) gives 0.
    Every step is an equality, so 0 is a proof; a step that raises ends the chain."""
    last = residual
    for step in chain:
        try:
            last = _entrywise(step)(last)
        except Exception:  # a simplifier failing proves nothing
            return False
        if is_zero(last):
            return True
    return False


def _entrywise(f):
    def apply(e):
        return e.applyfunc(f) if isinstance(e, sp.MatrixBase) else f(e)
    return apply


def _cancel(e):
    return sp.cancel(sp.together(e))


def _to_exp(e):
    return e.rewrite(sp.exp)


def _expand_log(e):
    return sp.expand_log(e, force=False)


def _refine(e):
    return sp.refine(e)


def _powsimp(e):
    return sp.powsimp(sp.expand(e))


def _simplify(e):
    return sp.simplify(e)


def _expand(e):
    return sp.expand(e)


#: cheap chains, tried first on every residual (each step is an equality)
_CHEAP = (
    (doit, _expand, _cancel),
    (doit, _to_exp, _powsimp, _cancel),
    (doit, _expand_log, _expand, _cancel),
    (doit, _refine, _expand, _cancel),
)
#: costly chains (simplify), skipped on a large residual
_COSTLY = (
    (doit, _to_exp, _simplify),
)


def _piecewise_zero(residual, chains) -> bool:
    """A residual holding a ``Piecewise``: fold it to one ``Piecewise`` and prove every
    branch 0 by one of ``chains``; a branch whose condition is an equation (``Eq(1/beta,
    1)``) in one symbol with a finite solution set is proven at each solution. Sound: the
    folded residual equals one of its branches wherever it is defined."""
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
            if not (is_zero(value) or any(_chain_zero(value, c) for c in chains)):
                return False
    return True


def _solutions(cond) -> list[dict]:
    """``[{symbol: value}, ...]`` for every solution of an equation condition, when the set
    of solutions is finite and known; ``[{}]`` (no substitution) otherwise."""
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

