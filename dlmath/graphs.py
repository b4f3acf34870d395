r"""Graph neural networks: the normalised adjacency, the graph-convolution layer, message
passing over an edge list, the Dirichlet energy, the graph-attention and graph-isomorphism
layers over an edge list, and graph-level readouts.

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

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks, _reduce, activations, initializers, layers

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


def _ids_ok(num: int, *ids):
    """Whether every id of every array lies in ``[0, num)``: always where the ids are
    concrete (they were checked); under ``jit`` a ``False`` turns the whole result into
    NaN. Compared in at least 32 bits (``N = 300`` does not wrap to 44 beside uint8 ids)."""
    ok = jnp.bool_(True)
    for a in ids:
        a = _widen(a)
        ok = ok & jnp.all((a >= 0) & (a < num))
    return ok


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
    senders, receivers = _widen(senders), _widen(receivers)
    dtype = x.dtype if edge_weight is None else jnp.result_type(x, edge_weight)
    wide = _reduce.wide(dtype)                  # sums of float16 messages in float32
    messages = jnp.take(x.astype(wide), senders, axis=0)
    if edge_weight is not None:
        messages = messages * edge_weight.astype(wide)[:, None]
    m = jax.ops.segment_sum(messages, receivers, num_segments=num_nodes)
    return jnp.where(_ids_ok(num_nodes, senders, receivers), m, jnp.nan).astype(dtype)


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
    senders, receivers = _widen(senders), _widen(receivers)
    ok = _ids_ok(num_nodes, senders, receivers)
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


# ------------------------------------------------------------------ attention, GIN, readout
__all__ += ["gat_layer", "init_gat", "gin_layer", "readout"]

_GAT_KEYS = ("w", "att_src", "att_dst", "b")


def _check_gat_params(who: str, params, num_heads) -> tuple[int, int]:
    """(F_in, F_out) of ``{"w": (F_in, H F_out), "att_src": (H, F_out), "att_dst": (H,
    F_out), "b": (H F_out,)}`` for ``H = num_heads``, of one float dtype."""
    _checks.count(who, "num_heads", num_heads, low=1)
    if not isinstance(params, dict) or set(params) != set(_GAT_KEYS):
        got = f"a dict with keys {sorted(params)}" if isinstance(params, dict) \
            else type(params).__name__
        raise TypeError(f"{who}: params must be a dict with the entries {list(_GAT_KEYS)}; got "
                        f"{got}. Build them with init_gat.")
    ws = _checks.shape_of(params["w"])
    if len(ws) != 2:
        raise ValueError(f"{who}: params['w'] must have shape (F_in, heads*F_out); got "
                         f"{_checks.fmt(ws)}.")
    _checks.require_divisor(who, "num_heads", num_heads, ws[1],
                            "the width of params['w'] (heads*F_out)")
    f_out = ws[1] // num_heads
    _checks.require_shapes(
        who, "params", params,
        {("w",): ("(F_in, heads*F_out)", ws), ("att_src",): ("(heads, F_out)", (num_heads, f_out)),
         ("att_dst",): ("(heads, F_out)", (num_heads, f_out)),
         ("b",): ("(heads*F_out,)", (ws[1],))},
        context=f" for num_heads = {num_heads} and params['w'] {_checks.fmt(ws)}",
        hint="Build them with init_gat.")
    return ws[0], f_out


def _check_node_features(who: str, x, num_nodes, f_in: int) -> None:
    if _features(who, x, num_nodes, "num_nodes") != f_in:
        raise ValueError(
            f"{who}: x must have F_in = {f_in} features (the rows of params['w']); got x "
            f"{_checks.fmt(_checks.shape_of(x))}.")


def _check_gat(params, senders, receivers, x, num_nodes, *, num_heads=1, negative_slope=0.2,
               add_self_loops=True) -> None:
    who = "gat_layer"
    f_in, _ = _check_gat_params(who, params, num_heads)
    _checks.hyperparameter(who, "negative_slope", negative_slope)
    _checks.require_flag(who, "add_self_loops", add_self_loops)
    _edge_list(who, senders, receivers, num_nodes, None)
    _check_node_features(who, x, num_nodes, f_in)


@_checks.checked(_check_gat, static_argnames=("num_nodes", "num_heads", "add_self_loops"))
def gat_layer(params, senders, receivers, x, num_nodes: int, *, num_heads: int = 1,
              negative_slope=0.2, add_self_loops: bool = True):
    r"""A graph-attention layer (Veličković et al.'s GAT, as PyTorch Geometric's
    ``GATConv(concat=True)``), before its activation. Per head, $X' = X W$ and for the edge
    $e$ from $s_e$ to $r_e$ the score $\varepsilon_e$, the LeakyReLU of $a_{dst} \cdot
    X'_{r_e} + a_{src} \cdot X'_{s_e}$:

    $$\begin{cases} \sum_{f=0}^{F - 1} {X'}_{{r}_{e},f} {a_{dst}}_{f} + \sum_{f=0}^{F -
    1} {X'}_{{s}_{e},f} {a_{src}}_{f} & \text{for}\: \sum_{f=0}^{F -
    1} {X'}_{{r}_{e},f} {a_{dst}}_{f} + \sum_{f=0}^{F -
    1} {X'}_{{s}_{e},f} {a_{src}}_{f} \geq 0 \\\lambda \left(\sum_{f=0}^{F -
    1} {X'}_{{r}_{e},f} {a_{dst}}_{f} + \sum_{f=0}^{F -
    1} {X'}_{{s}_{e},f} {a_{src}}_{f}\right) & \text{otherwise} \end{cases}$$

    ($a_{dst}$, $a_{src}$ the head's attention vectors, $\lambda$ = ``negative_slope``); the
    weights of the edges into a node are the softmax of their scores, and the output is the
    weighted sum of the senders' $X'$ plus the bias (the sums run over the edge list after
    the self-loops are handled, below):

    $${b}_{f} + \frac{\sum_{e=0}^{E - 1} e^{{\varepsilon}_{e}} \delta_{i {r}_{e}}
    {X'}_{{s}_{e},f}}{\sum_{e=0}^{E - 1} e^{{\varepsilon}_{e}} \delta_{i {r}_{e}}}$$

    The heads' outputs are concatenated, head $h$ in columns $h F_{out} \dots (h + 1)
    F_{out} - 1$. The softmax over a node's incoming edges (a segment softmax:
    ``jax.ops.segment_max`` subtracted before ``exp``, ``jax.ops.segment_sum`` after) is
    stable, so scores of $\pm 10^4$ give finite outputs and gradients. With
    ``add_self_loops`` (PyTorch Geometric's default) the self-loops of the edge list are
    removed and one is added per node, so every node attends to itself once; a repeated
    edge counts as often as it is listed. A node that receives no edge (possible only
    without self-loops) gets 0 from the sum: its output is $b$. Relabelling the nodes
    (permuting ``x`` and renaming the ids) permutes the output rows the same way. GCN
    (:func:`gcn_layer`) is the case of fixed weights $1/\sqrt{\tilde d_i \tilde d_j}$
    given by the degrees instead of learned scores.

    Args:
        params: ``{"w": (F_in, heads*F_out), "att_src": (heads, F_out), "att_dst": (heads,
            F_out), "b": (heads*F_out,)}``, real floating, one dtype (:func:`init_gat`);
            PyTorch Geometric's ``lin.weight`` is ``w`` transposed, its ``att_src`` and
            ``att_dst`` ``(1, heads, F_out)`` are ours with the first axis dropped.
        senders, receivers: integer node ids ``(E,)`` in $[0, N)$, edge $e$ going from
            ``senders[e]`` to ``receivers[e]``.
        x: floating node features ``(N, F_in)``; cast to the dtype of ``params``.
        num_nodes: $N$, a Python int (static); ``x`` must have $N$ rows.
        num_heads: the number of heads, an int >= 1 (static) that divides the width of
            ``w``.
        negative_slope: $\lambda$ of the LeakyReLU, a finite real (may be traced).
        add_self_loops: a Python bool (static).

    Returns:
        ``(N, heads*F_out)`` pre-activations in the dtype of ``params``; scores, softmax and
        sums are formed in at least float32. An empty graph ($N = 0$) gives an empty result.

    Raises:
        TypeError: ``params`` not such a dict of one float dtype; non-integer ids; a
            non-floating ``x``; ``num_nodes`` or ``num_heads`` not an int; a non-bool
            ``add_self_loops``.
        ValueError: shapes that do not fit (``x`` without ``num_nodes`` rows or ``F_in``
            features, ``num_heads`` not dividing the width of ``w``); concrete ids outside
            $[0, N)$; a ``negative_slope`` that is not finite. Under ``jit`` the ids are not
            checked: an id outside $[0, N)$ makes every entry NaN, as :func:`message_passing`.
    """
    senders, receivers = _widen(senders), _widen(receivers)
    ok = _ids_ok(num_nodes, senders, receivers)
    dtype = params["w"].dtype
    wide = _reduce.wide(dtype)
    w, att_src, att_dst, b = (params[k].astype(wide) for k in _GAT_KEYS)
    heads, f_out = att_src.shape
    h = (x.astype(dtype).astype(wide) @ w).reshape(num_nodes, heads, f_out)
    keep = jnp.ones(senders.shape, bool)
    if add_self_loops:
        keep = senders != receivers
        loops = jnp.arange(num_nodes, dtype=senders.dtype)
        senders = jnp.concatenate([senders, loops])
        receivers = jnp.concatenate([receivers, loops.astype(receivers.dtype)])
        keep = jnp.concatenate([keep, jnp.ones((num_nodes,), bool)])
    score_src = jnp.sum(h * att_src, axis=-1)                       # (N, heads)
    score_dst = jnp.sum(h * att_dst, axis=-1)
    scores = jnp.take(score_dst, receivers, axis=0) + jnp.take(score_src, senders, axis=0)
    scores = activations.leaky_relu.kernel(scores, negative_slope)     # (E, heads)
    keep = keep[:, None]
    top = jax.lax.stop_gradient(jax.ops.segment_max(
        jnp.where(keep, scores, -jnp.inf), receivers, num_segments=num_nodes))
    shifted = jnp.where(keep, scores - jnp.take(top, receivers, axis=0), 0.0)
    weights = jnp.where(keep, jnp.exp(shifted), 0.0)
    total = jax.ops.segment_sum(weights, receivers, num_segments=num_nodes)
    alpha = _checks.quotient(weights, jnp.take(total, receivers, axis=0))  # no edge: 0/0 = 0
    messages = alpha[..., None] * jnp.take(h, senders, axis=0)       # (E, heads, F_out)
    out = jax.ops.segment_sum(messages, receivers, num_segments=num_nodes)
    out = out.reshape(num_nodes, heads * f_out) + b
    return jnp.where(ok, out, jnp.nan).astype(dtype)


def init_gat(key, in_features: int, out_features: int, *, num_heads: int = 1,
             dtype=jnp.float32) -> dict:
    r"""Random parameters of :func:`gat_layer`, as PyTorch Geometric's ``GATConv`` draws
    them: ``w``, ``att_src`` and ``att_dst`` Glorot-uniform
    (:func:`dlmath.initializers.glorot_uniform`: $\mathcal U[-r, r]$, $r = \sqrt{6/(n_{in}
    + n_{out})}$, with the fans of ``w (F_in, heads*F_out)`` and of each attention array
    ``(heads, F_out)``), ``b`` zeros.

    Args:
        key: a ``jax.random`` key (split into three, for ``w``, ``att_src``, ``att_dst``).
        in_features, out_features: $F_{in}$ and $F_{out}$ per head, ints >= 1.
        num_heads: an int >= 1.
        dtype: a real floating dtype (``None``: JAX's default float dtype).

    Returns:
        ``{"w": (F_in, heads*F_out), "att_src": (heads, F_out), "att_dst": (heads, F_out),
        "b": (heads*F_out,)}``.

    Raises:
        TypeError: a missing or batched key; sizes that are not ints; a non-floating dtype.
        ValueError: a size below 1.
    """
    who = "init_gat"
    _checks.require_key(who, key, "the weights")
    for name, value in (("in_features", in_features), ("out_features", out_features),
                        ("num_heads", num_heads)):
        _checks.count(who, name, value, low=1)
    _checks.require_float_dtype(who, "dtype", dtype)
    init = initializers.glorot_uniform(dtype=dtype)
    k_w, k_src, k_dst = jax.random.split(key, 3)
    width = num_heads * out_features
    return {"w": init(k_w, (in_features, width)),
            "att_src": init(k_src, (num_heads, out_features)),
            "att_dst": init(k_dst, (num_heads, out_features)),
            "b": jnp.zeros((width,), dtype)}


def _check_gin(params, senders, receivers, x, num_nodes, *, eps=0.0) -> None:
    who = "gin_layer"
    dims, _ = _checks.require_dense_stack(who, "params", params,
                                          hint="Build them with layers.init_mlp.")
    _checks.hyperparameter(who, "eps", eps)
    _edge_list(who, senders, receivers, num_nodes, None)
    _check_node_features(who, x, num_nodes, dims[0][0])


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


_REDUCTIONS = ("sum", "mean", "max")


def _check_readout(x, graph_ids, num_graphs, *, reduce="sum") -> None:
    who = "readout"
    if not isinstance(reduce, str) or reduce not in _REDUCTIONS:
        raise ValueError(f"{who}: reduce must be one of {list(_REDUCTIONS)}; got {reduce!r}.")
    _checks.count(who, "num_graphs", num_graphs)
    _checks.require_floating(who, "x", x)
    _checks.require_ndim(who, "x", x, 2, "(N, F)",
                         "One row of features per node; a single feature is x[:, None].")
    n = _checks.shape_of(x)[0]
    dt = _checks.dtype_of(graph_ids, who, "graph_ids")
    if dt == jnp.bool_ or not jnp.issubdtype(dt, jnp.integer):
        raise TypeError(f"{who}: graph_ids must be integer graph ids (N,); got dtype {dt}. "
                        "Convert them with graph_ids.astype(jnp.int32).")
    if _checks.shape_of(graph_ids) != (n,):
        raise ValueError(f"{who}: graph_ids must have shape (N,) = ({n},), the graph of each "
                         f"row of x; got {_checks.fmt(_checks.shape_of(graph_ids))}.")
    _checks.ids_in_range(who, "graph_ids", graph_ids, num_graphs, what="graph", letter="G",
                         check="num_graphs and graph_ids")


@_checks.checked(_check_readout, static_argnames=("num_graphs", "reduce"))
def readout(x, graph_ids, num_graphs: int, *, reduce: str = "sum"):
    r"""A graph-level readout: the node features of each graph of a batch pooled into one
    row, as PyTorch Geometric's ``global_add_pool`` / ``global_mean_pool`` /
    ``global_max_pool``. For ``reduce="sum"``,

    $$\sum_{i=0}^{N - 1} \delta_{q {c}_{i}} {X}_{i,f}$$

    (the graph $c$ of node $i$ is ``graph_ids[i]``); ``"mean"`` divides by the number of
    nodes of the graph and ``"max"`` takes the largest value of each feature. The sum is
    invariant to relabelling the nodes and, unlike the mean and the maximum, tells apart
    graphs whose node features are different multisets ({1, 1} and {1} have one mean and
    one maximum). A graph without nodes gives a row of zeros for every ``reduce`` (the
    package's 0/0 = 0 for the mean; as PyTorch Geometric's pools).

    Args:
        x: floating node features ``(N, F)``, the nodes of every graph of the batch.
        graph_ids: integer ids ``(N,)`` in $[0, G)$, the graph of each node (any order).
        num_graphs: $G$, a Python int >= 0 (static).
        reduce: ``"sum"``, ``"mean"`` or ``"max"`` (static).

    Returns:
        ``(G, F)`` in the dtype of ``x``; sums formed in at least float32.

    Raises:
        TypeError: a non-floating ``x``; non-integer ``graph_ids``; ``num_graphs`` not an
            int.
        ValueError: ``x`` not 2-D; ``graph_ids`` not ``(N,)``; concrete ids outside
            $[0, G)$; an unknown ``reduce``. Under ``jit`` an id outside $[0, G)$ makes every
            entry NaN.
    """
    ids = _widen(graph_ids)
    ok = _ids_ok(num_graphs, ids)
    wide = _reduce.wide(x.dtype)
    values = x.astype(wide)
    counts = jax.ops.segment_sum(jnp.ones(ids.shape, wide), ids, num_segments=num_graphs)
    if reduce == "max":
        pooled = jax.ops.segment_max(values, ids, num_segments=num_graphs)
        pooled = jnp.where(counts[:, None] > 0, pooled, 0.0)
    else:
        pooled = jax.ops.segment_sum(values, ids, num_segments=num_graphs)
        if reduce == "mean":
            pooled = _checks.quotient(pooled, counts[:, None])  # an empty graph: 0/0 = 0
    return jnp.where(ok, pooled, jnp.nan).astype(x.dtype)
