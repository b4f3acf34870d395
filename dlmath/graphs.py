r"""Graph neural networks: the normalised adjacency, the graph-convolution layer, message
passing over an edge list, and the Dirichlet energy.

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
adjacency (finite, $\ge 0$) and of node ids (in $[0, N)$) only where they are concrete.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks

__all__ = ["gcn_normalize", "gcn_layer", "message_passing", "gcn_normalize_edges",
           "dirichlet_energy"]


# ------------------------------------------------------------------ input checks
def _square(who: str, name: str, a, hint: str = "") -> int:
    """The N of a floating ``(N, N)`` matrix."""
    _checks.require_floating(who, name, a)
    s = _checks.shape_of(a)
    if len(s) != 2 or s[0] != s[1]:
        raise ValueError(
            f"{who}: {name} must be a square matrix (N, N); got {_checks.fmt(s)}."
            + (f" {hint}" if hint else " One row and one column per node.")
        )
    return s[0]


def _edge_weights_ok(who: str, name: str, a) -> None:
    """Concrete weights must be finite and >= 0 (a degree must be positive)."""
    if _checks.is_traced(a):
        return
    v = np.asarray(a, np.float64)
    first = _checks.first_bad(name, v, ~(np.isfinite(v) & (v >= 0)))
    if first is not None:
        raise ValueError(
            f"{who}: {name} must hold finite edge weights >= 0; got {first}. The degrees "
            "1 + sum_j A_ij must be positive to be normalised."
        )


def _features(who: str, x, n: int, what: str) -> int:
    """The F of floating node features ``x: (N, F)`` whose N is ``n``."""
    _checks.require_floating(who, "x", x)
    _checks.require_ndim(who, "x", x, 2, "(N, F)",
                         "One row of features per node; a single feature is x[:, None].")
    got = _checks.shape_of(x)[0]
    if got != n:
        raise ValueError(
            f"{who}: x must have one row per node, shape (N, F) with N = {n} ({what}); got "
            f"x {_checks.fmt(_checks.shape_of(x))}."
        )
    return _checks.shape_of(x)[1]


def _node_ids(who: str, name: str, ids, num_nodes: int, num_edges: int | None):
    """Integer node ids ``(E,)`` in ``[0, N)`` (checked when concrete), as int32 or wider."""
    dt = _checks.dtype_of(ids, who, name)
    if dt == jnp.bool_ or not jnp.issubdtype(dt, jnp.integer):
        raise TypeError(
            f"{who}: {name} must be integer node ids (E,); got dtype {dt}. Convert them with "
            f"{name}.astype(jnp.int32)."
        )
    s = _checks.shape_of(ids)
    if len(s) != 1 or (num_edges is not None and s[0] != num_edges):
        want = "(E,)" if num_edges is None else f"(E,) = ({num_edges},) as senders"
        raise ValueError(
            f"{who}: {name} must have shape {want}, one node id per edge; got {_checks.fmt(s)}."
        )
    return _checks.ids_in_range(who, name, ids, num_nodes, what="node", letter="N",
                                check="num_nodes and the edge list")


def _edge_list(who: str, senders, receivers, num_nodes, edge_weight):
    """Checked (senders, receivers, edge_weight or None)."""
    _checks.count(who, "num_nodes", num_nodes)
    senders = _node_ids(who, "senders", senders, num_nodes, None)
    receivers = _node_ids(who, "receivers", receivers, num_nodes, senders.shape[0])
    if edge_weight is not None:
        _checks.require_floating(who, "edge_weight", edge_weight)
        s = _checks.shape_of(edge_weight)
        if s != senders.shape:
            raise ValueError(
                f"{who}: edge_weight must have shape (E,) = {_checks.fmt(senders.shape)}, one "
                f"weight per edge; got {_checks.fmt(s)}."
            )
    return senders, receivers, edge_weight


def _check_params(who: str, params):
    """(F_in, F_out, dtype) of ``{"w": (F_in, F_out), "b": (F_out,)}``."""
    f_in, f_out = _checks.require_dense(who, "params", params, ("F_in", "F_out"))
    return f_in, f_out, _checks.float_dtype_of_tree(who, "params", params)


def _check_normalize(adjacency) -> None:
    _square("gcn_normalize", "adjacency", adjacency)
    _edge_weights_ok("gcn_normalize", "adjacency", adjacency)


def _check_layer(params, adjacency, x) -> None:
    who = "gcn_layer"
    f_in, _, _ = _check_params(who, params)
    n = _square(who, "adjacency", adjacency, "Pass the normalised adjacency gcn_normalize(A).")
    if _features(who, x, n, "the nodes of adjacency") != f_in:
        raise ValueError(
            f"{who}: x must have F_in = {f_in} features (the rows of params['w']); got x "
            f"{_checks.fmt(_checks.shape_of(x))}."
        )


def _check_messages(senders, receivers, x, num_nodes, edge_weight=None) -> None:
    _edge_list("message_passing", senders, receivers, num_nodes, edge_weight)
    _features("message_passing", x, num_nodes, "num_nodes")


def _check_edges(senders, receivers, num_nodes, edge_weight=None) -> None:
    _edge_list("gcn_normalize_edges", senders, receivers, num_nodes, edge_weight)
    if edge_weight is not None:
        _edge_weights_ok("gcn_normalize_edges", "edge_weight", edge_weight)


def _check_energy(x, adjacency) -> None:
    who = "dirichlet_energy"
    _features(who, x, _square(who, "adjacency", adjacency), "the nodes of adjacency")
    _edge_weights_ok(who, "adjacency", adjacency)


def _widen(ids):
    """Node ids of at least 32 bits (uint8 or int16 ids never overflow ``N``)."""
    if jnp.issubdtype(ids.dtype, jnp.unsignedinteger) or ids.dtype.itemsize < 4:
        return ids.astype(jnp.int32)
    return ids


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
        ``(N, N)``, $\hat A$, in the dtype of ``adjacency``.

    Raises:
        TypeError: a non-floating ``adjacency`` (convert 0/1 ints with
            ``jnp.asarray(a, jnp.float32)``).
        ValueError: a matrix that is not square; a concrete entry that is negative or not finite
            (under ``jit`` not checked: a degree $\le 0$ then gives NaN or inf).
    """
    a_tilde = adjacency + jnp.eye(adjacency.shape[0], dtype=adjacency.dtype)
    inv_sqrt = jax.lax.rsqrt(jnp.sum(a_tilde, axis=1))
    return inv_sqrt[:, None] * a_tilde * inv_sqrt[None, :]


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
    ``notebooks/11_graphs.ipynb``). The same layer over an edge list is
    ``message_passing(*gcn_normalize_edges(...), x @ w, N) + b``.

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
        ``(N, F)``, in the promoted dtype of ``x`` and ``edge_weight``.

    Raises:
        TypeError: non-integer ids; a non-floating ``x`` or ``edge_weight``; a ``num_nodes`` that is
            not an int.
        ValueError: ids of another rank or of different lengths; ``x`` without ``num_nodes`` rows;
            concrete ids outside $[0, N)$ (under ``jit`` not checked: an out-of-range sender reads
            NaN and an out-of-range receiver is dropped, as ``segment_sum`` drops it).
    """
    messages = jnp.take(x, _widen(senders), axis=0, mode="fill", fill_value=jnp.nan)
    if edge_weight is not None:
        messages = messages * edge_weight[:, None]
    return jax.ops.segment_sum(messages, _widen(receivers), num_segments=num_nodes)


@_checks.checked(_check_edges, static_argnames=("num_nodes",))
def gcn_normalize_edges(senders, receivers, num_nodes: int, edge_weight=None):
    r"""The edge list of $\hat A$ (:func:`gcn_normalize`): one self-loop per node appended,
    every weight divided by $\sqrt{\tilde d_{s_e} \tilde d_{r_e}}$.

    $$\frac{{w}_{e}}{\sqrt{{\tilde{d}}_{{r}_{e}}} \sqrt{{\tilde{d}}_{{s}_{e}}}}$$

    with $\tilde d_i = 1 + \sum_{e:\, r_e = i} w_e$, the row sums of $A + I$. So
    ``message_passing(*gcn_normalize_edges(s, r, N), x, N)`` equals
    ``gcn_normalize(A) @ x`` for the adjacency of the edge list; an undirected graph
    must list each edge in both directions.

    Args:
        senders, receivers: integer node ids ``(E,)`` in $[0, N)$.
        num_nodes: $N$, a Python int.
        edge_weight: floating ``(E,)`` of finite weights $\ge 0$, or ``None`` (all 1).

    Returns:
        ``(senders, receivers, edge_weight)`` of length $E + N$, the self-loops
        $(0, 0), \dots, (N-1, N-1)$ last; the ids int32 (or wider, as given), the weights
        float32 (or ``edge_weight``'s dtype).

    Raises:
        TypeError, ValueError: as :func:`message_passing`, and for concrete weights that are
            negative or not finite.
    """
    senders, receivers = _widen(senders), _widen(receivers)
    if edge_weight is None:
        edge_weight = jnp.ones(senders.shape, jnp.float32)
    ids = jnp.arange(num_nodes, dtype=senders.dtype)
    senders = jnp.concatenate([senders, ids])
    receivers = jnp.concatenate([receivers, ids.astype(receivers.dtype)])
    edge_weight = jnp.concatenate([edge_weight, jnp.ones((num_nodes,), edge_weight.dtype)])
    degree = jax.ops.segment_sum(edge_weight, receivers, num_segments=num_nodes)
    inv_sqrt = jax.lax.rsqrt(degree)
    return senders, receivers, edge_weight * inv_sqrt[senders] * inv_sqrt[receivers]


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
        features, not averaged).

    Raises:
        TypeError: a non-floating ``x`` or ``adjacency``.
        ValueError: a non-square ``adjacency``; ``x`` with another number of rows; negative or
            non-finite concrete entries of ``adjacency``.
    """
    dtype = jnp.result_type(x, adjacency)
    x, a = x.astype(dtype), adjacency.astype(dtype)
    a_tilde = a + jnp.eye(a.shape[0], dtype=dtype)
    y = x * jax.lax.rsqrt(jnp.sum(a_tilde, axis=1))[:, None]
    differences = y[:, None, :] - y[None, :, :]            # (N, N, F): no cancellation
    return jnp.sum(a_tilde[:, :, None] * differences**2) / 2
