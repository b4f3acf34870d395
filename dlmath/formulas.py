"""The book's defining formulas as SymPy objects: one source for the docs and the tests.

Each public function of :mod:`dlmath` quotes its formula in its docstring as display math
(``$$...$$``). That text must equal ``sympy.latex`` of the matching :class:`Formula` here
(a test checks it), the formula is evaluated numerically against the code (another test),
and the chapter notebook proves it equal to its derivation. A docstring, a derivation and
an implementation therefore cannot drift apart.

Importing this module imports SymPy; ``import dlmath`` does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from dlmath.symbolic import to_jax

__all__ = ["Formula", "MSE", "LINEAR_GRADIENT", "LINEAR_HESSIAN", "NORMAL_EQUATIONS",
           "GD_STEP_BOUND", "N", "D", "i"]

N, D = sp.symbols("N D", integer=True, positive=True)
i = sp.Symbol("i", integer=True, nonnegative=True)


@dataclass(frozen=True)
class Formula:
    """A named SymPy expression and the symbols that become its arguments."""

    name: str
    expr: object
    args: tuple

    @property
    def latex(self) -> str:
        return sp.latex(self.expr)

    @cached_property
    def reference(self):
        """The formula as a JAX function of ``args`` (a test reference, not the code)."""
        return to_jax(self.expr, self.args)


def _mse() -> Formula:
    yhat = sp.IndexedBase("yhat", real=True)
    y = sp.IndexedBase("y", real=True)
    expr = sp.Sum((yhat[i] - y[i]) ** 2, (i, 0, N - 1)) / N
    return Formula("mse", expr, (yhat, y, N))


def _linear() -> tuple[Formula, Formula, Formula]:
    X = sp.MatrixSymbol("X", N, D)
    w = sp.MatrixSymbol("w", D, 1)
    y = sp.MatrixSymbol("y", N, 1)
    grad = Formula("linear_regression.mse_gradient", 2 * X.T * (X * w - y) / N, (X, w, y, N))
    hess = Formula("linear_regression.hessian", 2 * X.T * X / N, (X, N))
    normal = Formula("linear_regression.normal_equations", (X.T * X).I * X.T * y, (X, y))
    return grad, hess, normal


MSE = _mse()
LINEAR_GRADIENT, LINEAR_HESSIAN, NORMAL_EQUATIONS = _linear()

_lam = sp.Symbol("lambda_max", positive=True)
GD_STEP_BOUND = Formula("linear_regression.max_stable_learning_rate", 2 / _lam, (_lam,))
