r"""Formulas of backpropagation through a multilayer perceptron (chapter 04).

Two forms of the same equations live here.

* The **column form** of the derivation (one example as a column vector,
  $z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$ with $W^{(l)}$ of shape $(n_l, n_{l-1})$):
  ``DELTA_OUTPUT_COLUMN``, ``DELTA_COLUMN``, ``GRAD_W_COLUMN``, ``GRAD_B_COLUMN``. The
  notebook proves, for every width, that their entries are the chain rule's sums of local
  derivatives (the multivariable chain rule itself argued), and checks them against the
  brute-force derivative of a small network by substituting explicit matrices into these
  very objects (:func:`substitute`).
* The **batched row form** of the code (:mod:`dlmath.layers`: examples are the rows of
  ``x: (N, D_in)``, the kernel is ``W: (D_in, D_out)`` as in flax's ``Dense``, so the
  code's array is the transpose of the math's $W^{(l)}$): ``DENSE``, ``BACKWARD_DELTA``,
  ``BACKWARD_GRAD_W``, ``BACKWARD_GRAD_B``. The notebook derives them from the column
  form (stacking the examples, transposing, entry by entry for every size); the docstrings
  quote them and the tests evaluate them against the code.
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula
from dlmath.formulas.symbols import L, N, l, n_in, n_out

__all__ = [
    "DENSE", "BACKWARD_DELTA", "BACKWARD_GRAD_W", "BACKWARD_GRAD_B",
    "LECUN_VARIANCE", "HE_VARIANCE", "GLOROT_VARIANCE", "LOG_SIGMOID_JACOBIAN_BOUND",
    "SIGMOID_JACOBIAN_BOUND_PRODUCT",
    "DELTA_OUTPUT_COLUMN", "DELTA_COLUMN", "GRAD_W_COLUMN", "GRAD_B_COLUMN",
    "substitute",
]

# ---------------------------------------------------------------- batched row form (code)
_X = sp.MatrixSymbol("X", N, n_in)          # inputs of the layer, one example per row
_W = sp.MatrixSymbol("W", n_in, n_out)      # the code's kernel (D_in, D_out)
_b = sp.MatrixSymbol("b", n_out, 1)         # the bias as a column
_A = sp.MatrixSymbol("A", N, n_in)          # the layer's input activations a^(l-1), rows
_Delta = sp.MatrixSymbol("Delta", N, n_out)  # dL/dZ of this layer, rows
_S = sp.MatrixSymbol("S", N, n_in)          # sigma'(Z) of the layer below, rows

DENSE = Formula("layers.dense", _X * _W + sp.OneMatrix(N, 1) * _b.T, (_X, _W, _b, N))
BACKWARD_DELTA = Formula("layers.backward (delta)", sp.HadamardProduct(_Delta * _W.T, _S),
                         (_Delta, _W, _S))
BACKWARD_GRAD_W = Formula("layers.backward (dW)", _A.T * _Delta, (_A, _Delta))
BACKWARD_GRAD_B = Formula("layers.backward (db)", _Delta.T * sp.OneMatrix(N, 1), (_Delta, N))

# ---------------------------------------------------------------- initialisation variances
# The fan-in and fan-out are the layer sizes n_in, n_out of the row form above (one symbol
# each, integer and positive).
LECUN_VARIANCE = Formula("initializers.variance (lecun)", 1 / n_in, (n_in, n_out))
HE_VARIANCE = Formula("initializers.variance (he)", 2 / n_in, (n_in, n_out))
GLOROT_VARIANCE = Formula("initializers.variance (glorot)", 2 / (n_in + n_out), (n_in, n_out))

# ---------------------------------------------------------------- vanishing gradients
s = sp.IndexedBase("s", positive=True)      # s_l = ||W^(l)||_2, the spectral norms
# The bound (1/4)^L prod_l s_l, in logarithms: a product of 50 factors of 1/4 underflows
# nothing in log form, and the plots of the chapter are on a log scale anyway.
SIGMOID_JACOBIAN_BOUND_PRODUCT = sp.Rational(1, 4) ** L * sp.Product(s[l], (l, 1, L))
LOG_SIGMOID_JACOBIAN_BOUND = Formula(
    "layers.log_sigmoid_jacobian_bound",
    -L * sp.log(4) + sp.Sum(sp.log(s[l]), (l, 1, L)),
    (s, L),
)

# ---------------------------------------------------------------- column form (derivation)
n_prev, n_l, n_next, n_top = sp.symbols("n_{l-1} n_{l} n_{l+1} n_{L}", integer=True,
                                        positive=True)
delta_l = sp.MatrixSymbol(r"\delta^{(l)}", n_l, 1)
delta_next = sp.MatrixSymbol(r"\delta^{(l+1)}", n_next, 1)
W_next = sp.MatrixSymbol(r"W^{(l+1)}", n_next, n_l)
dsigma_z = sp.MatrixSymbol(r"\sigma'(z^{(l)})", n_l, 1)
a_prev = sp.MatrixSymbol(r"a^{(l-1)}", n_prev, 1)
grad_a = sp.MatrixSymbol(r"\nabla_{a^{(L)}} \ell", n_top, 1)
dsigma_top = sp.MatrixSymbol(r"\sigma'(z^{(L)})", n_top, 1)

DELTA_OUTPUT_COLUMN = sp.HadamardProduct(grad_a, dsigma_top)
DELTA_COLUMN = sp.HadamardProduct(W_next.T * delta_next, dsigma_z)
GRAD_W_COLUMN = delta_l * a_prev.T
GRAD_B_COLUMN = delta_l


def substitute(expr, values: dict) -> sp.Matrix:
    """Put explicit matrices into a column-form formula and evaluate it.

    Args:
        expr: one of the column-form expressions above (built from ``MatrixSymbol``s).
        values: ``{MatrixSymbol: sympy.Matrix}``; each matrix fixes the symbolic dimensions
            of its symbol (``n_l`` and so on), which must agree between symbols.

    Returns:
        The explicit ``sympy.Matrix`` the formula evaluates to.

    Raises:
        ValueError: when two matrices give one dimension two different sizes.
    """
    dims: dict = {}
    for sym, val in values.items():
        for d, v in zip(sym.shape, val.shape, strict=True):
            if d.is_Symbol:
                if dims.get(d, v) != v:
                    raise ValueError(
                        f"substitute: dimension {d} is {dims[d]} for one matrix and {v} for "
                        f"{sym}; the matrices do not fit together."
                    )
                dims[d] = v
    concrete = expr.subs(dims)
    replace = {sym.subs(dims): val for sym, val in values.items()}
    return sp.Matrix(concrete.xreplace(replace).doit())


DOCUMENTED = {
    "layers.dense": (DENSE,),
    "layers.backward": (BACKWARD_DELTA, BACKWARD_GRAD_W, BACKWARD_GRAD_B),
    "initializers.variance": (LECUN_VARIANCE, HE_VARIANCE, GLOROT_VARIANCE),
    "layers.log_sigmoid_jacobian_bound": (LOG_SIGMOID_JACOBIAN_BOUND,),
}
