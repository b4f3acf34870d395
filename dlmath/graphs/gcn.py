r"""The graph convolution: the normalised adjacency (dense and over an edge list), the
GCN layer, message passing over an edge list, and the Dirichlet energy that measures
over-smoothing. Conventions and input rules: :mod:`dlmath.graphs`;
``notebooks/11_graphs.ipynb`` derives them."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks, _reduce
from dlmath.graphs._edges import (
    check_params,
    edge_list,
    edge_weights_ok,
    features,
    ids_ok,
    square,
    widen,
)

__all__ = ["gcn_normalize", "gcn_layer", "message_passing", "gcn_normalize_edges",
           "dirichlet_energy"]


def _check_normalize(adjacency) -> None:
    square("gcn_normalize", "adjacency", adjacency)
    edge_weights_ok("gcn_normalize", "adjacency", adjacency)


def _check_layer(params, adjacency, x) -> None:
    who = "gcn_layer"
    f_in, _, _ = check_params(who, params)
    n = square(who, "adjacency", adjacency, "Pass the normalised adjacency gcn_normalize(A).")
    if features(who, x, n, "the nodes of adjacency") != f_in:
        raise ValueError(
            f"{who}: x must have F_in = {f_in} features (the rows of params['w']); got x "
            f"{_checks.fmt(_checks.shape_of(x))}."
        )


def _check_messages(senders, receivers, x, num_nodes, edge_weight=None) -> None:
    edge_list("message_passing", senders, receivers, num_nodes, edge_weight)
    features("message_passing", x, num_nodes, "num_nodes")


def _check_edges(senders, receivers, num_nodes, edge_weight=None) -> None:
    edge_list("gcn_normalize_edges", senders, receivers, num_nodes, edge_weight)
    if edge_weight is not None:
        edge_weights_ok("gcn_normalize_edges", "edge_weight", edge_weight)


def _check_energy(x, adjacency) -> None:
    who = "dirichlet_energy"
    features(who, x, square(who, "adjacency", adjacency), "the nodes of adjacency")
    edge_weights_ok(who, "adjacency", adjacency)



# ------------------------------------------------------------------ dense form
@_checks.checked(_check_normalize)
def gcn_normalize(adjacency):
    r"""The normalised adjacency of the graph convolution, self-loops added:
    $\hat A = \tilde D^{-1/2} (A + I) \tilde D^{-1/2}$ with $\tilde D = \mathrm{diag}(\tilde d)$.

    $$\frac{\delta_{i j} + {A}_{i,j}}{\left(\sqrt{\sum_{k=0}^{N - 1} {A}_{i,k} +
    1}\right) \sqrt{\sum_{k=0}^{N - 1} {A}_{j,k} + 1}}$$

    The degree $\tilde d_i = 1 + \sum_k A_{ik}$ is a row sum (the edges into node $i$); for
    a symmetric $A$ (an undirected graph) $\hat A$ is symmetric, its eigenvalues lie in
    $(-1, 1]$ and $\tilde D^{1/2} 1$ is an eigenvector of eigenvalue 1
    (``notebooks/11_graphs.ipynb``).

    Args:
        adjacency: floating ``(N, N)``, $A_{ij} \ge 0$ the weight of the edge $j \to i$
            (0 where there is none). Its diagonal is kept: a self-loop already in $A$ adds
            to the one added here.

    Returns:
        ``(N, N)``, $\hat A$, in the dtype of ``adjacency``; formed in at least float32, so
        a float16 degree above 65504 does not overflow.

    Raises:
        TypeError: a non-floating ``adjacency`` (convert 0/1 ints with
            ``jnp.asarray(a, jnp.float32)``).
        ValueError: a matrix that is not square; a concrete entry that is negative or not finite
            (under ``jit`` not checked: a degree $\le 0$ then gives NaN or inf).
    """
    wide = _reduce.wide(adjacency.dtype)  # at least float32: float16 degrees overflow
    a_tilde = adjacency.astype(wide) + jnp.eye(adjacency.shape[0], dtype=wide)
    inv_sqrt = jax.lax.rsqrt(jnp.sum(a_tilde, axis=1))   # row sums: the edges into node i
    return (inv_sqrt[:, None] * a_tilde * inv_sqrt[None, :]).astype(adjacency.dtype)


@_checks.checked(_check_layer)
def gcn_layer(params: dict, adjacency, x):
    r"""A graph-convolution layer (Kipf and Welling's GCN), before its activation:
    $\hat A X W + 1 b^T$.

    $${b}_{f} + \sum_{\substack{0 \leq g \leq F_{in} - 1\\0 \leq j \leq N -
    1}} {W}_{g,f} {X}_{j,g} {\hat{A}}_{i,j}$$

    Each node mixes the features of its neighbours (row $i$ of ``adjacency``) and then
    applies the shared kernel, as :func:`dlmath.layers.dense` does to every node; the
    product is formed as $\hat A (X W)$. Relabelling the nodes by a permutation $P$
    ($P \hat A P^T$, $P X$) gives $P$ times the output (proven in
    ``notebooks/11_graphs.ipynb``). The same layer over the edge list ``s, r`` of $A$ is
    ``message_passing(s2, r2, x @ w, N, w2) + b`` with
    ``s2, r2, w2 = gcn_normalize_edges(s, r, N)``.

    Args:
        params: ``{"w": (F_in, F_out), "b": (F_out,)}``, real floating, one dtype.
        adjacency: floating ``(N, N)``, the propagation matrix $\hat A$, usually
            ``gcn_normalize(A)``; any matrix is accepted (its values are not checked).
        x: floating node features ``(N, F_in)``, one row per node.

    Returns:
        ``(N, F_out)`` pre-activations, in the dtype of ``params`` (``adjacency`` and
        ``x`` are cast to it).

    Raises:
        TypeError: ``params`` not such a dict of one float dtype; a non-floating ``adjacency`` or
            ``x``.
        ValueError: a non-square ``adjacency``; ``x`` whose number of rows differs from the graph's
            $N$; ``x``'s features differing from ``w``'s $F_{in}$.
    """
    w = params["w"]
    return adjacency.astype(w.dtype) @ (x.astype(w.dtype) @ w) + params["b"]


# ------------------------------------------------------------------ edge-list form
@_checks.checked(_check_messages, static_argnames=("num_nodes",))
def message_passing(senders, receivers, x, num_nodes: int, edge_weight=None):
    r"""Sum the messages of an edge list at their receivers (``jax.ops.segment_sum``):
    $m_i = \sum_{e:\, r_e = i} w_e\, x_{s_e}$.

    $$\sum_{e=0}^{E - 1} \delta_{i {r}_{e}} {X}_{{s}_{e},f} {w}_{e}$$

    This is $A X$ for the adjacency with $A_{ij} = \sum_{e:\, r_e = i,\, s_e = j} w_e$, in
    $O(E F)$ work and memory instead of $O(N^2 F)$; a node that receives nothing gets 0.

    Args:
        senders, receivers: integer node ids ``(E,)`` (any width), edge $e$ going from
            ``senders[e]`` to ``receivers[e]``; an undirected edge is stored in both
            directions.
        x: floating node features ``(N, F)``.
        num_nodes: $N$, a Python int (it sets the output's shape); ``x`` must have $N$ rows.
        edge_weight: floating ``(E,)`` or ``None`` (every weight 1).

    Returns:
        ``(N, F)``, in the promoted dtype of ``x`` and ``edge_weight``, summed in at least
        float32 (float16 messages whose partial sums pass 65504 do not overflow).

    Raises:
        TypeError: non-integer ids; a non-floating ``x`` or ``edge_weight``; a ``num_nodes`` that is
            not an int.
        ValueError: ids of another rank or of different lengths; ``x`` without ``num_nodes`` rows;
            concrete ids outside $[0, N)$. Under ``jit`` the ids are not checked: a sender or
            receiver outside $[0, N)$, negative ones included, makes every entry of the result
            NaN (an edge is never dropped, nor read from another node, without a word).
    """
    senders, receivers = widen(senders), widen(receivers)
    dtype = x.dtype if edge_weight is None else jnp.result_type(x, edge_weight)
    wide = _reduce.wide(dtype)                  # sums of float16 messages in float32
    messages = jnp.take(x.astype(wide), senders, axis=0)
    if edge_weight is not None:
        messages = messages * edge_weight.astype(wide)[:, None]
    m = jax.ops.segment_sum(messages, receivers, num_segments=num_nodes)
    return jnp.where(ids_ok(num_nodes, senders, receivers), m, jnp.nan).astype(dtype)


@_checks.checked(_check_edges, static_argnames=("num_nodes",))
def gcn_normalize_edges(senders, receivers, num_nodes: int, edge_weight=None):
    r"""The edge list of $\hat A$ (:func:`gcn_normalize`): one self-loop per node appended,
    every weight divided by $\sqrt{\tilde d_{s_e} \tilde d_{r_e}}$.

    $$\frac{{w}_{e}}{\sqrt{{\tilde{d}}_{{r}_{e}}} \sqrt{{\tilde{d}}_{{s}_{e}}}}$$

    with $\tilde d_i = 1 + \sum_{e:\, r_e = i} w_e$, the row sums of $A + I$. So with
    ``s2, r2, w2 = gcn_normalize_edges(s, r, N)``, ``message_passing(s2, r2, x, N, w2)``
    equals ``gcn_normalize(A) @ x`` for the adjacency ``A`` of the edge list ``s, r``
    (directed or not); an undirected graph must list each edge in both directions.

    Args:
        senders, receivers: integer node ids ``(E,)`` in $[0, N)$.
        num_nodes: $N$, a Python int.
        edge_weight: floating ``(E,)`` of finite weights $\ge 0$, or ``None`` (all 1).

    Returns:
        ``(senders, receivers, edge_weight)`` of length $E + N$, the self-loops
        $(0, 0), \dots, (N-1, N-1)$ last; the ids int32 (or wider, as given), the weights
        float32 (or ``edge_weight``'s dtype), the degrees summed in at least float32 (a
        float16 degree above 65504 does not overflow).

    Raises:
        TypeError, ValueError: as :func:`message_passing`, and for concrete weights that are
            negative or not finite. Under ``jit`` an id outside $[0, N)$ makes every weight
            NaN, as :func:`message_passing` does.
    """
    senders, receivers = widen(senders), widen(receivers)
    ok = ids_ok(num_nodes, senders, receivers)
    if edge_weight is None:
        edge_weight = jnp.ones(senders.shape, jnp.float32)
    dtype, wide = edge_weight.dtype, _reduce.wide(edge_weight.dtype)
    ids = jnp.arange(num_nodes, dtype=senders.dtype)
    senders = jnp.concatenate([senders, ids])
    receivers = jnp.concatenate([receivers, ids.astype(receivers.dtype)])
    weight = jnp.concatenate([edge_weight.astype(wide), jnp.ones((num_nodes,), wide)])
    degree = jax.ops.segment_sum(weight, receivers, num_segments=num_nodes)
    inv_sqrt = jax.lax.rsqrt(degree)
    weight = weight * inv_sqrt[senders] * inv_sqrt[receivers]
    return senders, receivers, jnp.where(ok, weight, jnp.nan).astype(dtype)


# ------------------------------------------------------------------ smoothness
@_checks.checked(_check_energy)
def dirichlet_energy(x, adjacency):
    r"""The Dirichlet energy of node features on the graph with self-loops,
    $E(X) = \mathrm{tr}(X^T (I - \hat A) X)$, $\hat A$ = ``gcn_normalize(adjacency)``.

    $$\frac{\sum_{\substack{0 \leq f \leq F - 1\\0 \leq j \leq N - 1\\0 \leq i \leq N -
    1}} \left(\frac{{X}_{i,f}}{\sqrt{{\tilde{d}}_{i}}} -
    \frac{{X}_{j,f}}{\sqrt{{\tilde{d}}_{j}}}\right)^{2} \left(\delta_{i j} + {A}_{i,j}\right)}{2}$$

    with $\tilde d_i = 1 + \sum_k A_{ik}$: a weighted sum of squared differences across the
    edges, after scaling each node by $1/\sqrt{\tilde d_i}$. The two forms agree for a
    symmetric $A$ (proven at a named size in ``notebooks/11_graphs.ipynb``). The code
    computes the sum of squares, which stays accurate as the energy goes to 0 (the trace
    form loses it to cancellation), with an ``(N, N, F)`` temporary: meant for the small
    graphs of the book. It is $\ge 0$, and 0 exactly when every column of $X$ is a
    multiple of $\tilde D^{1/2} 1$ on each connected component: the signal that repeated
    propagation $\hat A^k X$ converges to (over-smoothing).

    Args:
        x: floating node features ``(N, F)``.
        adjacency: floating ``(N, N)``, finite entries $\ge 0$ (checked when concrete).

    Returns:
        A scalar, in the promoted dtype of ``x`` and ``adjacency`` (summed over nodes and
        features, not averaged; degrees and sum formed in at least float32).

    Raises:
        TypeError: a non-floating ``x`` or ``adjacency``.
        ValueError: a non-square ``adjacency``; ``x`` with another number of rows; negative or
            non-finite concrete entries of ``adjacency``.
    """
    dtype = jnp.result_type(x, adjacency)
    wide = _reduce.wide(dtype)                  # at least float32: float16 sums overflow
    x, a = x.astype(wide), adjacency.astype(wide)
    a_tilde = a + jnp.eye(a.shape[0], dtype=wide)
    y = x * jax.lax.rsqrt(jnp.sum(a_tilde, axis=1))[:, None]
    differences = y[:, None, :] - y[None, :, :]            # (N, N, F): no cancellation
    return (jnp.sum(a_tilde[:, :, None] * differences**2) / 2).astype(dtype)
