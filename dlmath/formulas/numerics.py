r"""Formulas of the numerical checks in :mod:`dlmath.testing`.

The central difference of a scalar function $f$ at $x$ along the unit vector $e_k$ with
step $\epsilon$: its value approximates $\partial f / \partial x_k$ with a truncation error
$O(\epsilon^2)$. The two function values are symbols named by the LaTeX they print as (as
the column form of :mod:`dlmath.formulas.backprop` does), so the formula lambdifies to a
function of ``(f_plus, f_minus, epsilon)``.
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula

__all__ = ["CENTRAL_DIFFERENCE", "epsilon", "f_plus", "f_minus"]

epsilon = sp.Symbol("epsilon", positive=True)
f_plus = sp.Symbol(r"f(x + \epsilon e_{k})", real=True)
f_minus = sp.Symbol(r"f(x - \epsilon e_{k})", real=True)

CENTRAL_DIFFERENCE = Formula(
    "testing.finite_difference_grad",
    (f_plus - f_minus) / (2 * epsilon),
    (f_plus, f_minus, epsilon),
)

DOCUMENTED = {
    "testing.finite_difference_grad": (CENTRAL_DIFFERENCE,),
}
