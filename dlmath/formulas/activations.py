"""Formulas of the activation functions (chapters 02 and 03)."""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula

__all__ = ["SOFTMAX", "LOG_SOFTMAX", "K", "j", "k"]

K = sp.Symbol("K", integer=True, positive=True)
j, k = sp.symbols("j k", integer=True, nonnegative=True)
_x = sp.IndexedBase("x", real=True)

SOFTMAX = Formula(
    "activations.softmax",
    sp.exp(_x[k]) / sp.Sum(sp.exp(_x[j]), (j, 0, K - 1)),
    (_x, k, K),
)
LOG_SOFTMAX = Formula(
    "activations.log_softmax",
    _x[k] - sp.log(sp.Sum(sp.exp(_x[j]), (j, 0, K - 1))),
    (_x, k, K),
)

DOCUMENTED = {
    "activations.softmax": (SOFTMAX,),
    "activations.log_softmax": (LOG_SOFTMAX,),
}
