r"""The graph-attention layer (GAT) over an edge list, with its segment softmax over the
edges into each node, and its initializer. Conventions and input rules:
:mod:`dlmath.graphs`; ``notebooks/11_graphs.ipynb`` derives it."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks, _reduce, activations, initializers
from dlmath.graphs._edges import check_node_features, edge_list, ids_ok, widen

__all__ = ["gat_layer", "init_gat"]

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




def _check_gat(params, senders, receivers, x, num_nodes, *, num_heads=1, negative_slope=0.2,
               add_self_loops=True) -> None:
    who = "gat_layer"
    f_in, _ = _check_gat_params(who, params, num_heads)
    _checks.hyperparameter(who, "negative_slope", negative_slope)
    _checks.require_flag(who, "add_self_loops", add_self_loops)
    edge_list(who, senders, receivers, num_nodes, None)
    check_node_features(who, x, num_nodes, f_in)


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
    senders, receivers = widen(senders), widen(receivers)
    ok = ids_ok(num_nodes, senders, receivers)
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
