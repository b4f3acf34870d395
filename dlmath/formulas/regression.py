"""Formulas of linear regression and the mean squared error (chapter 01)."""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula
from dlmath.formulas.symbols import D, N, i

__all__ = ["MSE", "MSE_GRADIENT", "LINEAR_GRADIENT", "LINEAR_HESSIAN", "NORMAL_EQUATIONS",
           "GD_STEP_BOUND", "N", "D", "i"]


def _mse() -> tuple[Formula, Formula]:
    yhat = sp.IndexedBase("yhat", real=True)
    y = sp.IndexedBase("y", real=True)
    expr = sp.Sum((yhat[i] - y[i]) ** 2, (i, 0, N - 1)) / N
    # entry i of the gradient in the predictions: the mean carries its 1/N into each entry
    grad = Formula("losses.mse_gradient", 2 / N * (yhat[i] - y[i]), (yhat, y, i, N))
    return Formula("mse", expr, (yhat, y, N)), grad


def _linear() -> tuple[Formula, Formula, Formula]:
    X = sp.MatrixSymbol("X", N, D)
    w = sp.MatrixSymbol("w", D, 1)
    y = sp.MatrixSymbol("y", N, 1)
    grad = Formula("linear_regression.mse_gradient", 2 * X.T * (X * w - y) / N, (X, w, y, N))
    hess = Formula("linear_regression.hessian", 2 * X.T * X / N, (X, N))
    normal = Formula("linear_regression.normal_equations", (X.T * X).I * X.T * y, (X, y))
    return grad, hess, normal


MSE, MSE_GRADIENT = _mse()
LINEAR_GRADIENT, LINEAR_HESSIAN, NORMAL_EQUATIONS = _linear()

_lam = sp.Symbol("lambda_max", positive=True)
GD_STEP_BOUND = Formula("linear_regression.max_stable_learning_rate", 2 / _lam, (_lam,))

DOCUMENTED = {
    "losses.mse": (MSE,),
    "losses.mse_gradient": (MSE_GRADIENT,),
    "linear_regression.mse_gradient": (LINEAR_GRADIENT,),
    "linear_regression.hessian": (LINEAR_HESSIAN,),
    "linear_regression.normal_equations": (NORMAL_EQUATIONS,),
    "linear_regression.max_stable_learning_rate": (GD_STEP_BOUND,),
}
