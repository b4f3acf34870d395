r"""Formulas of language models (chapter 13): rotary embeddings, the tempered softmax of
sampling, the entropy rate of a Markov source.

The rotary pair $(a, b)$ of position $p$ and pair index $i$ (of $D/2$) is rotated by
$\theta = p\,\text{base}^{-2i/D}$; the softmax at temperature $\tau$ is over $K$ tokens;
the entropy rate sums over $M = V^n$ contexts $s$ and $V$ next tokens $x$.
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula
from dlmath.formulas.symbols import D, K, i, j

__all__ = ["ROTARY_FIRST", "ROTARY_SECOND", "TEMPERED_SOFTMAX", "ENTROPY_RATE"]

p = sp.Symbol("p", integer=True, nonnegative=True)
base = sp.Symbol(r"\text{base}", positive=True)
a, b = sp.symbols("a b", real=True)
theta = p * base ** (-2 * i / D)

#: $a \cos\theta - b \sin\theta$.
ROTARY_FIRST = Formula("attention.rotary_embedding.first",
                       a * sp.cos(theta) - b * sp.sin(theta), (a, b, p, i, D, base))
#: $a \sin\theta + b \cos\theta$.
ROTARY_SECOND = Formula("attention.rotary_embedding.second",
                        a * sp.sin(theta) + b * sp.cos(theta), (a, b, p, i, D, base))

tau = sp.Symbol("tau", positive=True)
z = sp.IndexedBase("z", real=True)
r = sp.Symbol("r", integer=True, nonnegative=True)
#: $e^{z_j/\tau} / \sum_r e^{z_r/\tau}$.
TEMPERED_SOFTMAX = Formula("sampling.sampling_distribution",
                           sp.exp(z[j] / tau) / sp.Sum(sp.exp(z[r] / tau), (r, 0, K - 1)),
                           (z, j, tau, K))

M, V = sp.symbols("M V", integer=True, positive=True)
s, x = sp.symbols("s x", integer=True, nonnegative=True)
P, pi = sp.IndexedBase("P", real=True), sp.IndexedBase("pi", real=True)
#: $-\sum_s \pi_s \sum_x P_{s,x} \log P_{s,x}$.
ENTROPY_RATE = Formula("information.entropy_rate",
                       -sp.Sum(pi[s] * P[s, x] * sp.log(P[s, x]), (s, 0, M - 1), (x, 0, V - 1)),
                       (P, pi, M, V))

DOCUMENTED = {
    "attention.rotary.rotary_embedding": (ROTARY_FIRST, ROTARY_SECOND),
    "sampling.sampling_distribution": (TEMPERED_SOFTMAX,),
    "information.entropy_rate": (ENTROPY_RATE,),
}
