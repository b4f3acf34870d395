"""Formulas of the activation functions (chapters 02 and 03).

The elementwise activations are functions of one real symbol :data:`x` (leaky ReLU also of
its slope :data:`alpha`); their derivatives are registered beside them where a docstring
quotes one. ``notebooks/02_activations.ipynb`` proves every derivative equal to the
``sympy.diff`` of its function.
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula
from dlmath.formulas.symbols import K, j, k

__all__ = ["SOFTMAX", "LOG_SOFTMAX", "K", "j", "k",
           "x", "alpha", "GELU_TANH_COEFFICIENT",
           "SIGMOID", "SIGMOID_DERIVATIVE", "TANH", "TANH_DERIVATIVE",
           "RELU", "RELU_DERIVATIVE", "LEAKY_RELU", "LEAKY_RELU_DERIVATIVE",
           "SOFTPLUS", "SOFTPLUS_DERIVATIVE", "GELU", "GELU_DERIVATIVE", "GELU_TANH",
           "SILU"]

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

# ---- elementwise activations (chapter 02) -------------------------------------------------

x = sp.Symbol("x", real=True)
alpha = sp.Symbol("alpha", positive=True)

#: The cubic coefficient of the tanh approximation of GELU (Hendrycks & Gimpel, 2016), a
#: fitted constant; chapter 02 compares it with the Taylor-matched value 2/(3 pi) - 1/6.
GELU_TANH_COEFFICIENT = sp.Float("0.044715")

SIGMOID = Formula("activations.sigmoid", 1 / (1 + sp.exp(-x)), (x,))
SIGMOID_DERIVATIVE = Formula(
    "activations.sigmoid.derivative", sp.exp(-x) / (1 + sp.exp(-x)) ** 2, (x,))

TANH = Formula(
    "activations.tanh", (sp.exp(x) - sp.exp(-x)) / (sp.exp(x) + sp.exp(-x)), (x,))
TANH_DERIVATIVE = Formula(
    "activations.tanh.derivative", 4 / (sp.exp(x) + sp.exp(-x)) ** 2, (x,))

RELU = Formula("activations.relu", sp.Max(0, x), (x,))
#: The convention dlmath (and jax.nn) uses: the derivative at the kink x = 0 is 0.
RELU_DERIVATIVE = Formula(
    "activations.relu.derivative", sp.Piecewise((1, x > 0), (0, True)), (x,))

LEAKY_RELU = Formula(
    "activations.leaky_relu", sp.Piecewise((x, x >= 0), (alpha * x, True)), (x, alpha))
#: As jax.nn.leaky_relu: the derivative at the kink x = 0 is 1.
LEAKY_RELU_DERIVATIVE = Formula(
    "activations.leaky_relu.derivative", sp.Piecewise((1, x >= 0), (alpha, True)), (x, alpha))

SOFTPLUS = Formula("activations.softplus", sp.log(1 + sp.exp(x)), (x,))
SOFTPLUS_DERIVATIVE = Formula("activations.softplus.derivative", 1 / (1 + sp.exp(-x)), (x,))

GELU = Formula("activations.gelu", x * (1 + sp.erf(x / sp.sqrt(2))) / 2, (x,))
GELU_DERIVATIVE = Formula(
    "activations.gelu.derivative",
    (1 + sp.erf(x / sp.sqrt(2))) / 2 + x * sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi),
    (x,),
)
GELU_TANH = Formula(
    "activations.gelu.tanh_approximation",
    x / 2 * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (x + GELU_TANH_COEFFICIENT * x**3))),
    (x,),
)

SILU = Formula("activations.silu", x / (1 + sp.exp(-x)), (x,))

DOCUMENTED = {
    "activations.softmax": (SOFTMAX,),
    "activations.log_softmax": (LOG_SOFTMAX,),
    "activations.sigmoid": (SIGMOID, SIGMOID_DERIVATIVE),
    "activations.tanh": (TANH, TANH_DERIVATIVE),
    "activations.relu": (RELU, RELU_DERIVATIVE),
    "activations.leaky_relu": (LEAKY_RELU, LEAKY_RELU_DERIVATIVE),
    "activations.softplus": (SOFTPLUS, SOFTPLUS_DERIVATIVE),
    "activations.gelu": (GELU, GELU_DERIVATIVE, GELU_TANH),
    "activations.silu": (SILU,),
}
