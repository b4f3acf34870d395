r"""Sums, integrals and derivatives that a proof evaluates by linearity.

A derivation displays ``LinearSum(g[i], (i, 0, N - 1))`` as the sum it is; a proof
evaluates it (``doit``) by one rule, the same for the three operators:

1. the body is evaluated (``doit``) and expanded into its terms;
2. from each term, the factors that do not depend on the operator's variables come out
   (linearity: constants out of a sum, an integral or a derivative);
3. what is left of each term goes to SymPy's own operator, which evaluates it where it
   can (the sum of a constant is the number of terms times it, a geometric series, a
   Gaussian moment) and otherwise leaves it unevaluated. A sum or a definite integral left
   unevaluated is written over one canonical variable (a dummy with the variable's
   assumptions), so the same sum over ``i`` and over ``j`` cancels in a residual.

A matrix expression (``MatrixSymbol`` algebra) is not split into terms: it goes whole to
SymPy's matrix calculus (``expr.diff(theta)``), which SymPy's own ``Derivative`` cannot
evaluate.

Chapter 05 uses them for a moving average written as a weighted sum and for the gradient of
a quadratic, chapter 09 for the sums in the batch-norm gradient, chapter 10 for the
reparameterised gradient. Re-exported by :mod:`dlmath.derivation` and
:mod:`dlmath.symbolic`.
"""

from __future__ import annotations

import sympy as sp

#: the canonical variables, by the assumptions of the variables they stand for
_CANONICAL: dict[tuple, list] = {}


def _canonical(variable, taken) -> sp.Dummy:
    """The first canonical variable with the assumptions of ``variable`` not in ``taken``."""
    pool = _CANONICAL.setdefault(tuple(sorted(variable.assumptions0.items())), [])
    for d in pool:
        if d not in taken:
            return d
    pool.append(sp.Dummy(f"m{len(pool)}", **variable.assumptions0))
    return pool[-1]


def _renamed(body, limits):
    """``(body, limits)`` with each bound variable (a limit with both bounds) canonical."""
    taken = set(body.atoms(sp.Dummy)) | set(sp.Tuple(*limits).atoms(sp.Dummy))
    names, out = {}, []
    for variable, *bounds in limits:
        bounds = [sp.sympify(b).xreplace(names) for b in bounds]
        if len(bounds) == 2:
            names[variable] = _canonical(variable, taken)
            taken.add(names[variable])
        out.append((names.get(variable, variable), *bounds))
    return body.xreplace(names), out


class Linear:
    """What :class:`LinearSum`, :class:`LinearIntegral` and :class:`LinearDerivative` share:
    ``doit`` by linearity (the module's docstring says how); the display is SymPy's own."""

    #: SymPy's own operator, which evaluates each term that linearity leaves
    _operator: type = sp.Basic

    def _body(self):
        return self.function

    def _evaluate(self, term, **hints):
        body, limits = _renamed(term, self.limits)
        return self._operator(body, *limits).doit(**hints)

    def doit(self, **hints):
        """The value by linearity: the factors of each term of the expanded body that do not
        depend on the variables come out, and SymPy's own operator evaluates the rest where
        it can."""
        body = self._body().doit(**hints)
        if isinstance(body, (sp.MatrixBase, sp.MatrixExpr)):
            return self._evaluate(body, **hints)
        out = []
        for term in sp.Add.make_args(sp.expand(body)):
            const, rest = term.as_independent(*self.variables, as_Add=False)
            out.append(const * self._evaluate(rest, **hints))
        return sp.Add(*out)


class LinearSum(Linear, sp.Sum):
    """An unevaluated sum (``sp.Sum``'s arguments and display) that a proof evaluates by
    linearity: ``LinearSum(a * x[i] + b, (i, 0, N - 1)).doit()`` is
    ``a * Sum(x[m], (m, 0, N - 1)) + N * b``, ``m`` the canonical index."""

    _operator = sp.Sum


class LinearIntegral(Linear, sp.Integral):
    """An unevaluated integral (``sp.Integral``'s arguments and display) that a proof
    evaluates by linearity, each term integrated by SymPy: a polynomial times a Gaussian
    density integrates moment by moment."""

    _operator = sp.Integral


class LinearDerivative(Linear, sp.Derivative):
    """An unevaluated derivative (``sp.Derivative``'s arguments and display) that a proof
    evaluates by linearity, each term differentiated by SymPy, and a matrix expression by
    SymPy's matrix calculus (whose derivative ``sp.Derivative`` cannot evaluate)."""

    def _body(self):
        return self.expr

    def _evaluate(self, term, **hints):
        return term.diff(*self.variable_count)
