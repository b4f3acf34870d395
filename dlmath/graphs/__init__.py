r"""Graph neural networks: the normalised adjacency, the graph-convolution layer, message
passing over an edge list, the Dirichlet energy, the graph-attention and graph-isomorphism
layers over an edge list, graph-level readouts, and the 1-Weisfeiler-Leman colour
refinement that bounds what message passing can tell apart.

Conventions. A graph of $N$ nodes is given either densely, by its adjacency matrix
``adjacency: (N, N)`` whose entry $A_{ij} \ge 0$ is the weight of the edge that carries a
message from node $j$ to node $i$ (an undirected graph has a symmetric $A$ with both
directions stored), or as an edge list: ``senders: (E,)`` and ``receivers: (E,)`` integer
node ids in $[0, N)$, edge $e$ going from ``senders[e]`` to ``receivers[e]``, with an
optional ``edge_weight: (E,)``. The two agree when $A_{ij} = \sum_{e:\, r_e = i,\, s_e = j}
w_e$. Node features are rows, ``x: (N, F)``, as the batches of :mod:`dlmath.layers`.

The degree of node $i$ counts the edges *into* it (the row sums of $A$, the sum of the
weights of the edges with receiver $i$); the self-loops that the graph convolution adds
give $\tilde d_i = 1 + \sum_j A_{ij}$.

A layer's parameters are named and shaped as :func:`dlmath.layers.dense`'s,
``{"w": (F_in, F_out), "b": (F_out,)}``, and like ``dense`` :func:`gcn_layer` returns the
pre-activations: apply the activation yourself.

``notebooks/11_graphs.ipynb`` derives the normalisation, proves the layer permutation
equivariant, bounds the spectrum of $\hat A$ and shows over-smoothing with the Dirichlet
energy.

Input checks follow :mod:`dlmath._checks`: shapes, ranks and dtypes always; the values of an
adjacency (finite, $\ge 0$) and of node ids (in $[0, N)$) only where they are concrete. Under
``jit`` an edge list with an id outside $[0, N)$ (a negative one included: ids are never
counted from the end) gives NaN in every entry of the result, so the mistake shows.

Dtypes: degrees, messages and energies are summed in at least float32 (float16 sums
overflow at 65504) and returned in the dtype each function names.
"""

from __future__ import annotations

from dlmath.graphs.attention import gat_layer, init_gat
from dlmath.graphs.gcn import (
    dirichlet_energy,
    gcn_layer,
    gcn_normalize,
    gcn_normalize_edges,
    message_passing,
)
from dlmath.graphs.isomorphism import gin_layer, wl_colors
from dlmath.graphs.pooling import readout

__all__ = ["gcn_normalize", "gcn_layer", "message_passing", "gcn_normalize_edges",
           "dirichlet_energy", "gat_layer", "init_gat", "gin_layer", "readout",
           "wl_colors"]
