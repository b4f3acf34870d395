r"""Formulas of graph neural networks (chapter 11): the normalised adjacency, the
graph-convolution layer, message passing over an edge list, and the Dirichlet energy.

Nodes are indexed $i, j, k = 0 \dots N - 1$ (:data:`i`, :data:`j`, :data:`k`), features
$f, g$, edges $e = 0 \dots E - 1$. $A_{ij} \ge 0$ is the weight of the edge $j \to i$,
$\tilde d_i = 1 + \sum_k A_{ik}$ the degree with the self-loop; an edge list holds senders
$s_e$, receivers $r_e$ and weights $w_e$. ``notebooks/11_graphs.ipynb`` derives them.
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula
from dlmath.formulas.symbols import N, i, j, k

__all__ = ["N", "i", "j", "k", "E", "F", "F_in", "e", "f", "g", "A", "A_hat", "X", "W", "b",
           "s", "r", "w", "d_tilde", "degree", "GCN_NORMALIZE", "GCN_LAYER",
           "MESSAGE_PASSING", "GCN_EDGE_WEIGHT", "DIRICHLET_ENERGY", "Xp", "a_src", "a_dst",
           "score", "slope", "GAT_SCORE", "GAT_OUTPUT", "eps_gin", "GIN_AGGREGATE", "q", "gid",
           "READOUT_SUM"]

#: The number of edges, of features, of a layer's input features.
E, F, F_in = sp.symbols("E F F_in", integer=True, positive=True)
#: The edge index and the feature indices.
e, f, g = sp.symbols("e f g", integer=True, nonnegative=True)
A = sp.IndexedBase("A", nonnegative=True)
A_hat = sp.IndexedBase(r"\hat{A}", real=True)
X, W, b = (sp.IndexedBase(name, real=True) for name in ("X", "W", "b"))
s, r = (sp.IndexedBase(name, integer=True, nonnegative=True) for name in ("s", "r"))
w = sp.IndexedBase("w", nonnegative=True)
d_tilde = sp.IndexedBase(r"\tilde{d}", positive=True)


def degree(node):
    """$\\tilde d = 1 + \\sum_k A_{node, k}$, the row sum of $A + I$."""
    return sp.Sum(A[node, k], (k, 0, N - 1)) + 1


#: $\hat A_{ij} = (A_{ij} + \delta_{ij}) / \sqrt{\tilde d_i \tilde d_j}$.
GCN_NORMALIZE = Formula(
    "graphs.gcn.gcn_normalize",
    (A[i, j] + sp.KroneckerDelta(i, j)) / (sp.sqrt(degree(i)) * sp.sqrt(degree(j))),
    (A, i, j, N),
)

#: $H_{if} = \sum_j \sum_g \hat A_{ij} X_{jg} W_{gf} + b_f$.
GCN_LAYER = Formula(
    "graphs.gcn.gcn_layer",
    sp.Sum(A_hat[i, j] * X[j, g] * W[g, f], (g, 0, F_in - 1), (j, 0, N - 1)) + b[f],
    (A_hat, X, W, b, i, f, N, F_in),
)

#: $m_{if} = \sum_e w_e X_{s_e f} [r_e = i]$.
MESSAGE_PASSING = Formula(
    "graphs.gcn.message_passing",
    sp.Sum(w[e] * X[s[e], f] * sp.KroneckerDelta(i, r[e]), (e, 0, E - 1)),
    (w, X, s, r, i, f, E),
)

#: $\hat w_e = w_e / \sqrt{\tilde d_{s_e} \tilde d_{r_e}}$.
GCN_EDGE_WEIGHT = Formula(
    "graphs.gcn.gcn_normalize_edges",
    w[e] / (sp.sqrt(d_tilde[s[e]]) * sp.sqrt(d_tilde[r[e]])),
    (w, d_tilde, s, r, e),
)

#: $E(X) = \frac12 \sum_{ij} (A_{ij} + \delta_{ij}) \sum_f (X_{if}/\sqrt{\tilde d_i} -
#: X_{jf}/\sqrt{\tilde d_j})^2$.
DIRICHLET_ENERGY = Formula(
    "graphs.gcn.dirichlet_energy",
    sp.Sum((A[i, j] + sp.KroneckerDelta(i, j))
           * (X[i, f] / sp.sqrt(d_tilde[i]) - X[j, f] / sp.sqrt(d_tilde[j])) ** 2,
           (f, 0, F - 1), (j, 0, N - 1), (i, 0, N - 1)) / 2,
    (A, X, d_tilde, N, F),
)

# ---- attention, GIN, readout
#: the transformed features $X' = XW$ of one head, its attention vectors, the edge scores
Xp = sp.IndexedBase("X'", real=True)
a_src, a_dst = sp.IndexedBase("a_{src}", real=True), sp.IndexedBase("a_{dst}", real=True)
score = sp.IndexedBase(r"\varepsilon", real=True)
#: the slope of the LeakyReLU below 0
slope = sp.Symbol(r"\lambda", real=True)


def _leaky(t):
    return sp.Piecewise((t, t >= 0), (slope * t, True))


#: $\varepsilon_e = \mathrm{LeakyReLU}(a_{dst} \cdot X'_{r_e} + a_{src} \cdot X'_{s_e})$.
GAT_SCORE = Formula(
    "graphs.attention.gat_layer.score",
    _leaky(sp.Sum(a_dst[f] * Xp[r[e], f], (f, 0, F - 1))
           + sp.Sum(a_src[f] * Xp[s[e], f], (f, 0, F - 1))),
    (a_dst, a_src, Xp, s, r, e, F, slope),
)

#: $H_{if} = \sum_e [r_e = i] e^{\varepsilon_e} X'_{s_e f} / \sum_e [r_e = i]
#: e^{\varepsilon_e} + b_f$ (the softmax over the edges into $i$).
GAT_OUTPUT = Formula(
    "graphs.attention.gat_layer",
    sp.Sum(sp.KroneckerDelta(i, r[e]) * sp.exp(score[e]) * Xp[s[e], f], (e, 0, E - 1))
    / sp.Sum(sp.KroneckerDelta(i, r[e]) * sp.exp(score[e]), (e, 0, E - 1)) + b[f],
    (score, Xp, s, r, b, i, f, E),
)

#: $\epsilon$ of GIN
eps_gin = sp.Symbol("epsilon", real=True)

#: $h_{if} = (1 + \epsilon) X_{if} + \sum_e [r_e = i] X_{s_e f}$.
GIN_AGGREGATE = Formula(
    "graphs.isomorphism.gin_layer",
    (1 + eps_gin) * X[i, f] + sp.Sum(sp.KroneckerDelta(i, r[e]) * X[s[e], f], (e, 0, E - 1)),
    (X, s, r, eps_gin, i, f, E),
)

#: the graph index and the graph id of each node
q = sp.Symbol("q", integer=True, nonnegative=True)
gid = sp.IndexedBase("c", integer=True, nonnegative=True)

#: $y_{qf} = \sum_i [c_i = q] X_{if}$.
READOUT_SUM = Formula(
    "graphs.pooling.readout",
    sp.Sum(sp.KroneckerDelta(q, gid[i]) * X[i, f], (i, 0, N - 1)),
    (X, gid, q, f, N),
)

DOCUMENTED = {
    "graphs.gcn.gcn_normalize": (GCN_NORMALIZE,),
    "graphs.gcn.gcn_layer": (GCN_LAYER,),
    "graphs.gcn.message_passing": (MESSAGE_PASSING,),
    "graphs.gcn.gcn_normalize_edges": (GCN_EDGE_WEIGHT,),
    "graphs.gcn.dirichlet_energy": (DIRICHLET_ENERGY,),
    "graphs.attention.gat_layer": (GAT_SCORE, GAT_OUTPUT),
    "graphs.isomorphism.gin_layer": (GIN_AGGREGATE,),
    "graphs.pooling.readout": (READOUT_SUM,),
}
