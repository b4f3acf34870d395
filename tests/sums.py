"""Write SymPy sums out term by term, for the tests that evaluate a registered formula at
small numeric sizes (SymPy's own ``doit`` of a sum of KroneckerDelta solves for the index
without asking that it be an integer)."""

from __future__ import annotations

import sympy as sp


def unroll(expr):
    """Every ``Sum`` in ``expr`` written out term by term (its limits must be numbers)."""
    def expand(q):
        f = q.function
        for k, lo, hi in q.limits:
            f = sp.Add(*[f.subs(k, val) for val in range(int(lo), int(hi) + 1)])
        return f
    return expr.replace(lambda q: isinstance(q, sp.Sum), expand)
