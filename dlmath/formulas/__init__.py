"""The book's defining formulas as SymPy objects: one source for the docs and the tests.

Each public function of :mod:`dlmath` quotes its formula in its docstring as display math
(``$$...$$``). That text must equal ``sympy.latex`` of the matching :class:`Formula` (a
test checks it), the formula is evaluated numerically against the code (another test),
and the chapter notebook proves it equal to its derivation. A docstring, a derivation and
an implementation therefore cannot drift apart.

One submodule per topic (``regression``, ...). :data:`DOCUMENTED` maps each public
function to the formulas its docstring quotes, in order; the tests walk it.
Importing this package imports SymPy; ``import dlmath`` does not.
"""

from __future__ import annotations

from dlmath.formulas._formula import Formula
from dlmath.formulas.activations import LOG_SOFTMAX, SOFTMAX
from dlmath.formulas.regression import (
    GD_STEP_BOUND,
    LINEAR_GRADIENT,
    LINEAR_HESSIAN,
    MSE,
    NORMAL_EQUATIONS,
)

__all__ = ["Formula", "DOCUMENTED", "MSE", "LINEAR_GRADIENT", "LINEAR_HESSIAN",
           "NORMAL_EQUATIONS", "GD_STEP_BOUND", "SOFTMAX", "LOG_SOFTMAX"]

# "module.function" -> the formulas its docstring quotes as $$...$$, in order.
DOCUMENTED: dict[str, tuple[Formula, ...]] = {
    "losses.mse": (MSE,),
    "linear_regression.mse_gradient": (LINEAR_GRADIENT,),
    "linear_regression.hessian": (LINEAR_HESSIAN,),
    "linear_regression.normal_equations": (NORMAL_EQUATIONS,),
    "linear_regression.max_stable_learning_rate": (GD_STEP_BOUND,),
    "activations.softmax": (SOFTMAX,),
    "activations.log_softmax": (LOG_SOFTMAX,),
}
