r"""Formulas of attention (chapter 08): the weights, the output, the streaming update.

Entries are indexed as the code's arrays: query $i = 0 \dots T - 1$ (:data:`i`), key
$j = 0 \dots S - 1$ (:data:`j`), feature $a = 0 \dots D - 1$; $r$ is the summation index of
a softmax's normaliser. ``notebooks/08_attention.ipynb`` derives the scale $1/\sqrt{D}$,
proves the streaming update, and checks the backward pass.
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula
from dlmath.formulas.symbols import D, i, j

__all__ = ["D", "i", "j", "S", "a", "r", "q", "k", "v", "m", "m_new", "ell", "x", "n",
           "SCORE", "ATTENTION_WEIGHT", "ATTENTION_OUTPUT", "STREAMING_SUM"]

#: The number of keys (and values).
S = sp.Symbol("S", integer=True, positive=True)
#: The feature index, and the normaliser's summation index.
a, r = sp.symbols("a r", integer=True, nonnegative=True)
q, k, v = (sp.IndexedBase(name, real=True) for name in ("q", "k", "v"))


def _score(query, key):
    return sp.Sum(q[query, a] * k[key, a], (a, 0, D - 1)) / sp.sqrt(D)


#: $S_{ij} = q_i \cdot k_j / \sqrt{D}$.
SCORE = Formula("attention.score", _score(i, j), (q, k, i, j, D))

#: $P_{ij} = e^{S_{ij}} / \sum_r e^{S_{ir}}$.
ATTENTION_WEIGHT = Formula(
    "attention.attention_weights",
    sp.exp(_score(i, j)) / sp.Sum(sp.exp(_score(i, r)), (r, 0, S - 1)),
    (q, k, i, j, D, S),
)

#: $o_i = \sum_j P_{ij} v_j$ (one value feature; the same for each).
ATTENTION_OUTPUT = Formula(
    "attention.scaled_dot_product_attention",
    sp.Sum(sp.exp(_score(i, j)) * v[j], (j, 0, S - 1))
    / sp.Sum(sp.exp(_score(i, r)), (r, 0, S - 1)),
    (q, k, v, i, D, S),
)

# ---- the streaming softmax: one block of n scores x_0 .. x_{n-1} -------------------------

m, m_new, ell = sp.symbols("m m' ell", real=True)
x = sp.IndexedBase("x", real=True)
n = sp.Symbol("n", integer=True, positive=True)

#: $\ell' = \ell e^{m - m'} + \sum_j e^{x_j - m'}$, with $m' = \max(m, \max_j x_j)$.
STREAMING_SUM = Formula(
    "attention.flash_attention.streaming_sum",
    ell * sp.exp(m - m_new) + sp.Sum(sp.exp(x[j] - m_new), (j, 0, n - 1)),
    (ell, m, m_new, x, n),
)

DOCUMENTED = {
    "attention.dot_product.attention_weights": (ATTENTION_WEIGHT,),
    "attention.dot_product.scaled_dot_product_attention": (ATTENTION_OUTPUT,),
    "attention.flash.flash_attention": (STREAMING_SUM,),
}
