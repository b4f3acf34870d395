r"""How far message passing can tell graphs apart: the 1-Weisfeiler-Leman colour refinement
and the graph-isomorphism layer (GIN), whose sum aggregation makes it as discriminative as
that test. Conventions and input rules: :mod:`dlmath.graphs`;
``notebooks/11_graphs.ipynb`` derives it."""

from __future__ import annotations

import numpy as np

from dlmath import _checks, _reduce, layers
from dlmath.graphs._edges import check_node_features, edge_list
from dlmath.graphs.gcn import message_passing

__all__ = ["gin_layer", "wl_colors"]


def _check_gin(params, senders, receivers, x, num_nodes, *, eps=0.0) -> None:
    who = "gin_layer"
    dims, _ = _checks.require_dense_stack(who, "params", params,
                                          hint="Build them with layers.init_mlp.")
    _checks.hyperparameter(who, "eps", eps)
    edge_list(who, senders, receivers, num_nodes, None)
    check_node_features(who, x, num_nodes, dims[0][0])


@_checks.checked(_check_gin, static_argnames=("num_nodes",))
def gin_layer(params, senders, receivers, x, num_nodes: int, *, eps=0.0):
    r"""A graph-isomorphism layer (Xu et al.'s GIN, PyTorch Geometric's ``GINConv``): each
    node adds the sum of its neighbours' features to $(1 + \epsilon)$ times its own,

    $$\left(\epsilon + 1\right) {X}_{i,f} + \sum_{e=0}^{E - 1} \delta_{i {r}_{e}} {X}_{{s}_{e},f}$$

    then an MLP maps $h_i$ (:func:`dlmath.layers.mlp` with ReLU between its layers and
    none after the last: the output is the last layer's pre-activation). The sum, unlike a
    mean or a maximum, tells apart neighbourhoods that are different multisets of features
    (a node with two neighbours of feature 1 from one with a single one), which makes the
    layer as discriminative as the 1-Weisfeiler-Leman test when its MLP is injective on
    the features it sees. A repeated edge counts as often as it is listed; a node with no
    incoming edge gets $h_i = (1 + \epsilon) x_i$.

    Args:
        params: the MLP's layers ``[{"w": (F_in, D_1), "b": (D_1,)}, ...]``, real floating,
            one dtype (:func:`dlmath.layers.init_mlp`).
        senders, receivers: integer node ids ``(E,)`` in $[0, N)$.
        x: floating node features ``(N, F_in)``; cast to the dtype of ``params``.
        num_nodes: $N$, a Python int (static).
        eps: $\epsilon$, a finite real (may be traced, so it can be learned).

    Returns:
        ``(N, D_L)`` in the dtype of ``params``; the neighbour sum is formed in at least
        float32. An empty graph ($N = 0$) gives an empty result.

    Raises:
        TypeError: ``params`` not a list of dense layers of one float dtype; non-integer ids;
            a non-floating ``x``; ``num_nodes`` not an int.
        ValueError: kernels that do not chain; ``x`` without ``num_nodes`` rows or ``F_in``
            features; concrete ids outside $[0, N)$; a non-finite ``eps``. Under ``jit`` an
            id outside $[0, N)$ makes every entry NaN, as :func:`message_passing`.
    """
    dtype = params[0]["w"].dtype
    wide = _reduce.wide(dtype)
    x = x.astype(dtype).astype(wide)
    h = (1 + eps) * x + message_passing.kernel(senders, receivers, x, num_nodes)
    return layers.mlp.kernel(params, h.astype(dtype))


def _check_wl(senders, receivers, num_nodes, colors=None, *, num_iterations=None) -> None:
    who = "wl_colors"
    for name, ids in (("senders", senders), ("receivers", receivers), ("colors", colors)):
        if ids is not None:
            _checks.require_concrete(who, name, ids)
    edge_list(who, senders, receivers, num_nodes, None)
    if colors is not None:
        dt = _checks.dtype_of(colors, who, "colors")
        if dt == np.bool_ or not np.issubdtype(dt, np.integer):
            raise TypeError(f"{who}: colors must be integer colours (N,); got dtype {dt}. "
                            "Name each initial colour by an int (np.unique(..., "
                            "return_inverse=True) does it).")
        if _checks.shape_of(colors) != (num_nodes,):
            raise ValueError(f"{who}: colors must have shape (N,) = ({num_nodes},), one colour "
                             f"per node; got {_checks.fmt(_checks.shape_of(colors))}.")
    if num_iterations is not None:
        _checks.count(who, "num_iterations", num_iterations)


def wl_colors(senders, receivers, num_nodes: int, colors=None, *, num_iterations=None):
    r"""The 1-Weisfeiler-Leman colour refinement of a graph given by its edge list. Every
    node starts with its colour $c^{(0)}_i$ (``colors``; one colour for all when ``None``),
    and each round gives it a new colour that names the pair of its own colour and the
    multiset of the colours of the nodes that send to it,
    $c^{(t+1)}_i = \mathrm{name}\big(c^{(t)}_i, \{\!\{c^{(t)}_{s_e} : r_e = i\}\!\}\big)$,
    where $\mathrm{name}$ numbers the distinct pairs of the round $0, 1, \dots$ in sorted
    order. A round never merges two colour classes, and once a round splits none the
    colouring is stable (at most $N - 1$ rounds split one); the numbering keeps a stable
    colouring's numbers unchanged.

    Colours are named consistently across all the nodes of one call, so two graphs are
    compared by refining their disjoint union (the node ids of the second shifted by the
    number of nodes of the first) and counting the colours of each graph's nodes, round by
    round (``np.bincount``). Different histograms at some round prove the graphs
    non-isomorphic; equal histograms at every round leave the test undecided (a 6-cycle
    and two triangles, every node of degree 2, are never told apart). A message-passing
    layer that sums the messages, as :func:`gin_layer`, gives two nodes different features
    only where 1-WL gives them different colours (``notebooks/11_graphs.ipynb``).

    Args:
        senders, receivers: integer node ids ``(E,)`` in $[0, N)$, concrete (not traced), edge
            $e$ going from ``senders[e]`` to ``receivers[e]``; an undirected edge is listed in
            both directions, a repeated edge counts as often as it is listed.
        num_nodes: $N$, a Python int >= 0.
        colors: integer initial colours ``(N,)`` (any values: only which nodes share one
            counts), or ``None``.
        num_iterations: the number of rounds, an int >= 0; ``None`` stops at the stable
            colouring.

    Returns:
        A NumPy int64 array ``(T + 1, N)``: row $t$ the colours after $t$ rounds, numbered
        $0, 1, \dots$ (row 0 the initial colours renumbered); $T$ = ``num_iterations``, or
        for ``None`` the first round after which no colour class splits (row $T$ is the
        stable colouring; $T = 0$ when the initial one is stable already).

    Raises:
        TypeError: non-integer ids or colours; traced ids or colours (the refinement runs in
            Python); ``num_nodes`` or ``num_iterations`` not an int.
        ValueError: ids of another rank or of different lengths; ids outside $[0, N)$;
            ``colors`` not ``(N,)``; a negative ``num_iterations``.
    """
    _check_wl(senders, receivers, num_nodes, colors, num_iterations=num_iterations)
    incoming: list[list[int]] = [[] for _ in range(num_nodes)]
    for s_e, r_e in zip(np.asarray(senders).tolist(), np.asarray(receivers).tolist(),
                        strict=True):
        incoming[r_e].append(s_e)
    start = np.zeros(num_nodes, np.int64) if colors is None else np.asarray(colors)
    c = np.unique(start, return_inverse=True)[1].reshape(-1).astype(np.int64)
    rounds = [c]
    for _ in range(num_nodes if num_iterations is None else num_iterations):
        pairs = [(c[i], tuple(sorted(c[incoming[i]].tolist()))) for i in range(num_nodes)]
        names = {pair: n for n, pair in enumerate(sorted(set(pairs)))}
        new = np.array([names[p] for p in pairs], np.int64)
        if num_iterations is None and len(names) == len(set(c.tolist())):
            break  # no class split: c is stable
        rounds.append(new)
        c = new
    return np.stack(rounds)
