r"""Graph-level readouts: the node features of each graph of a batch pooled into one row
(sum, mean or max). Conventions and input rules: :mod:`dlmath.graphs`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks, _reduce
from dlmath.graphs._edges import ids_ok, widen

__all__ = ["readout"]

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
    ids = widen(graph_ids)
    ok = ids_ok(num_graphs, ids)
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
