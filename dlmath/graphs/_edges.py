r"""The input checks and node-id helpers that the graph layers share: square adjacencies,
edge weights, node features, edge lists of node ids, and the id-range test that turns a
result into NaN under ``jit`` (the rules of :mod:`dlmath.graphs`)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from dlmath import _checks


def square(who: str, name: str, a, hint: str = "") -> int:
    """The N of a floating ``(N, N)`` matrix."""
    _checks.require_floating(who, name, a)
    s = _checks.shape_of(a)
    if len(s) != 2 or s[0] != s[1]:
        raise ValueError(
            f"{who}: {name} must be a square matrix (N, N); got {_checks.fmt(s)}."
            + (f" {hint}" if hint else " One row and one column per node.")
        )
    return s[0]


def edge_weights_ok(who: str, name: str, a) -> None:
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


def features(who: str, x, n: int, what: str) -> int:
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


def node_ids(who: str, name: str, ids, num_nodes: int, num_edges: int | None):
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


def edge_list(who: str, senders, receivers, num_nodes, edge_weight):
    """Checked (senders, receivers, edge_weight or None)."""
    _checks.count(who, "num_nodes", num_nodes)
    senders = node_ids(who, "senders", senders, num_nodes, None)
    receivers = node_ids(who, "receivers", receivers, num_nodes, senders.shape[0])
    if edge_weight is not None:
        _checks.require_floating(who, "edge_weight", edge_weight)
        s = _checks.shape_of(edge_weight)
        if s != senders.shape:
            raise ValueError(
                f"{who}: edge_weight must have shape (E,) = {_checks.fmt(senders.shape)}, one "
                f"weight per edge; got {_checks.fmt(s)}."
            )
    return senders, receivers, edge_weight


def check_params(who: str, params):
    """(F_in, F_out, dtype) of ``{"w": (F_in, F_out), "b": (F_out,)}``."""
    f_in, f_out = _checks.require_dense(who, "params", params, ("F_in", "F_out"))
    return f_in, f_out, _checks.float_dtype_of_tree(who, "params", params)



def check_node_features(who: str, x, num_nodes, f_in: int) -> None:
    """Floating node features ``x: (N, F_in)`` with ``N = num_nodes`` and the ``F_in`` of the
    layer's kernel."""
    if features(who, x, num_nodes, "num_nodes") != f_in:
        raise ValueError(
            f"{who}: x must have F_in = {f_in} features (the rows of params['w']); got x "
            f"{_checks.fmt(_checks.shape_of(x))}.")



def widen(ids):
    """Node ids of at least 32 bits (uint8 or int16 ids never overflow ``N``)."""
    if jnp.issubdtype(ids.dtype, jnp.unsignedinteger) or ids.dtype.itemsize < 4:
        return ids.astype(jnp.int32)
    return ids


def ids_ok(num: int, *ids):
    """Whether every id of every array lies in ``[0, num)``: always where the ids are
    concrete (they were checked); under ``jit`` a ``False`` turns the whole result into
    NaN. Compared in at least 32 bits (``N = 300`` does not wrap to 44 beside uint8 ids)."""
    ok = jnp.bool_(True)
    for a in ids:
        a = widen(a)
        ok = ok & jnp.all((a >= 0) & (a < num))
    return ok
