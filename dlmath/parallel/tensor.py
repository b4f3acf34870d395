r"""Tensor parallelism: a layer's kernel split over the devices of a mesh axis.

A kernel split by columns gives each device a block of the outputs, which an all-gather
joins (:func:`column_parallel_matmul`); split by rows, with the input split by the matching
columns, each device computes a partial product of the whole output's shape, which an
all-reduce sums (:func:`row_parallel_matmul`). The two-layer MLP splits its first kernel by
columns and its second by rows, so its forward pass needs one all-reduce
(:func:`tensor_parallel_mlp`). ``notebooks/12_parallel.ipynb`` derives the three.
"""

from __future__ import annotations

import jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from dlmath import _checks
from dlmath.parallel._mesh import axis as _axis
from dlmath.parallel._mesh import divisible as _divisible
from dlmath.parallel._mesh import put as _put

__all__ = ["column_parallel_matmul", "row_parallel_matmul", "tensor_parallel_mlp"]


def _matmul_args(who: str, x, w, mesh, axis_name, split: str):
    axis_name, devices = _axis(who, mesh, axis_name)
    _checks.require_floating(who, "x", x)
    _checks.require_floating(who, "w", w)
    _checks.require_ndim(who, "x", x, 2, "(N, D)", "One example per row; one example is "
                         "x[None, :].")
    _checks.require_ndim(who, "w", w, 2, "(D, K)")
    sx, sw = _checks.shape_of(x), _checks.shape_of(w)
    if sx[1] != sw[0]:
        raise ValueError(f"{who}: w must have shape (D, K) with D = {sx[1]} (the columns of "
                         f"x (N, D)); got w {_checks.fmt(sw)}, x {_checks.fmt(sx)}.")
    if split == "columns":
        _divisible(who, "w", sw[1], 1, "(D, K)", "number of columns K", devices)
    else:
        _divisible(who, "w", sw[0], 0, "(D, K)", "number of rows D", devices)
    return axis_name


def column_parallel_matmul(x, w, mesh, *, axis_name: str | None = None):
    r"""$Y = XW$ with the columns of $W$ split over the devices, the result gathered.

    Device $d$ holds the block $W_d$ of $C = K/n$ columns and computes $XW_d$; entry
    $(i, dC + c)$ of $Y$ is

    $$\sum_{a=0}^{D - 1} {w}_{a,C d + c} {x}_{i,a}$$

    and the blocks are joined by an all-gather, $Y = [XW_0, \dots, XW_{n-1}]$ (every
    device ends with all of $Y$).

    Args:
        x: floating ``(N, D)``, replicated. w: floating ``(D, K)``, $K$ a multiple of $n$.
        mesh: a :class:`jax.sharding.Mesh`; axis_name: the axis that splits (default: the
            only one).

    Returns:
        ``(N, K)``, $XW$ (JAX's type promotion of the two dtypes), replicated on the mesh.

    Raises:
        TypeError: non-floating ``x`` or ``w``; a mesh that is not a ``Mesh``.
        ValueError: ``x`` not ``(N, D)``, ``w`` not ``(D, K)`` with the same $D$, $K$ not a multiple
            of the axis's devices, an unknown ``axis_name``.

    ``notebooks/12_parallel.ipynb`` proves the block identity.
    """
    ax = _matmul_args("column_parallel_matmul", x, w, mesh, axis_name, "columns")
    x = _put(x, NamedSharding(mesh, P()))
    w = _put(w, NamedSharding(mesh, P(None, ax)))
    # the gathered output is the same on every device by construction (check_vma cannot
    # infer that from an all_gather)
    return jax.shard_map(lambda xs, ws: jax.lax.all_gather(xs @ ws, ax, axis=1, tiled=True),
                         mesh=mesh, in_specs=(P(), P(None, ax)), out_specs=P(),
                         check_vma=False)(x, w)


def row_parallel_matmul(x, w, mesh, *, axis_name: str | None = None):
    r"""$Y = XW$ with the rows of $W$ (and the columns of $X$) split over the devices, the
    partial products summed.

    Device $d$ holds the $R = D/n$ columns $X_d$ of $X$ and rows $W_d$ of $W$ and computes
    the partial product $X_d W_d$; an all-reduce sums them:

    $$\sum_{\substack{0 \leq a \leq R - 1\\0 \leq d \leq n - 1}} {w}_{R d + a,j} {x}_{i,R d + a}$$

    Args:
        x: floating ``(N, D)``. w: floating ``(D, K)``, $D$ a multiple of $n$.
        mesh: a :class:`jax.sharding.Mesh`; axis_name: the axis that splits (default: the
            only one).

    Returns:
        ``(N, K)``, $XW$ (JAX's type promotion of the two dtypes), replicated on the mesh.

    Raises:
        TypeError: non-floating ``x`` or ``w``; a mesh that is not a ``Mesh``.
        ValueError: ``x`` not ``(N, D)``, ``w`` not ``(D, K)`` with the same $D$, $D$ not a multiple
            of the axis's devices, an unknown ``axis_name``.

    ``notebooks/12_parallel.ipynb`` proves the block identity.
    """
    ax = _matmul_args("row_parallel_matmul", x, w, mesh, axis_name, "rows")
    x = _put(x, NamedSharding(mesh, P(None, ax)))
    w = _put(w, NamedSharding(mesh, P(ax, None)))
    return jax.shard_map(lambda xs, ws: jax.lax.psum(xs @ ws, ax), mesh=mesh,
                         in_specs=(P(None, ax), P(ax, None)), out_specs=P())(x, w)


def _mlp_args(who: str, params, x, devices):
    _, dtype = _checks.require_dense_stack(
        who, "params", params, count=2,
        hint="Build them with dlmath.layers.init_mlp(key, (D, H, K)).")
    (w1, b1), (w2, b2) = ((p["w"], p["b"]) for p in params)
    _divisible(who, "params[0]['w']", _checks.shape_of(w1)[1], 1, "(D, H)",
               "number of hidden units H", devices)
    _checks.require_floating(who, "x", x)
    _checks.require_ndim(who, "x", x, 2, "(N, D)", "One example per row; one example is "
                         "x[None, :].")
    if _checks.shape_of(x)[1] != _checks.shape_of(w1)[0]:
        raise ValueError(f"{who}: x must have shape (N, D) with D = {_checks.shape_of(w1)[0]} "
                         f"(the rows of params[0]['w']); got {_checks.fmt(_checks.shape_of(x))}.")
    (x,) = _checks.cast_floats(dtype, x)
    return w1, b1, w2, b2, x


def tensor_parallel_mlp(params, x, mesh, *, axis_name: str | None = None,
                        batch_axis: str | None = None):
    r"""The two-layer MLP $\mathrm{relu}(XW_1 + b_1)W_2 + b_2$ with its hidden layer split
    over the devices: $W_1$ (and $b_1$) by columns, $W_2$ by rows.

    Device $d$ computes its $R = H/n$ hidden units $\mathrm{relu}(XW_{1,d} + b_{1,d})$ (no
    communication: relu acts entry by entry) and their partial product with its rows
    $W_{2,d}$; one all-reduce sums the partial products, and $b_2$ is added once:

    $${b_{2}}_{j} + \sum_{\substack{0 \leq h \leq R - 1\\0 \leq d \leq n - 1}} {w_{2}}_{R d +
    h,j} \max\left(0, {b_{1}}_{R d + h} + \sum_{a=0}^{D - 1} {w_{1}}_{a,R d + h} {x}_{i,a}\right)$$

    Args:
        params: ``[{"w": (D, H), "b": (H,)}, {"w": (H, K), "b": (K,)}]`` (the layout of
            :func:`dlmath.layers.init_mlp`), one float dtype, $H$ a multiple of $n$.
        x: floating ``(N, D)``, cast to the dtype of ``params``; replicated, or split by rows
            over ``batch_axis``.
        mesh: a :class:`jax.sharding.Mesh`; axis_name: the axis that splits the hidden
            layer (default: the only one).
        batch_axis: another axis of a 2-D mesh (data x model) that splits the examples:
            each row of devices along it runs the split MLP on its own $N/n_\mathrm{data}$
            examples (data and tensor parallelism at once). Its gradient in the weights is
            summed over this axis by the transpose of the replication (an all-reduce of the
            gradient, as in data parallelism). ``None`` (default): ``x`` replicated.

    Returns:
        ``(N, K)``, equal to ``dlmath.layers.mlp(params, x)`` (up to the order of float
        additions), in the dtype of ``params``, replicated on the mesh (split by rows over
        ``batch_axis`` when it is given).

    Raises:
        TypeError: params that are not two such layers of one float dtype; non-floating ``x``; a
            mesh that is not a ``Mesh``.
        ValueError: shapes that do not chain, $H$ not a multiple of the axis's devices, an unknown
            ``axis_name`` or ``batch_axis``, ``batch_axis`` equal to ``axis_name``, $N$ not a
            multiple of the devices of ``batch_axis``.

    ``notebooks/12_parallel.ipynb`` derives the split and counts its collectives.
    """
    who = "tensor_parallel_mlp"
    ax, devices = _axis(who, mesh, axis_name)
    w1, b1, w2, b2, x = _mlp_args(who, params, x, devices)
    rows = P()
    if batch_axis is not None:
        batch_axis, data_devices = _axis(who, mesh, batch_axis)
        if batch_axis == ax:
            raise ValueError(f"{who}: batch_axis must differ from the axis that splits the "
                             f"hidden layer ({ax!r}); got batch_axis={batch_axis!r}. On a 2-D "
                             "mesh name both, e.g. axis_name='model', batch_axis='data'.")
        _divisible(who, "x", _checks.shape_of(x)[0], 0, "(N, D)", "number of examples N",
                   data_devices)
        rows = P(batch_axis)
    rep = NamedSharding(mesh, P())
    x, b2 = _put(x, NamedSharding(mesh, rows)), _put(b2, rep)
    w1 = _put(w1, NamedSharding(mesh, P(None, ax)))
    b1 = _put(b1, NamedSharding(mesh, P(ax)))
    w2 = _put(w2, NamedSharding(mesh, P(ax, None)))

    def local(x, w1, b1, w2, b2):
        return jax.lax.psum(jax.nn.relu(x @ w1 + b1) @ w2, ax) + b2

    return jax.shard_map(local, mesh=mesh,
                         in_specs=(rows, P(None, ax), P(ax), P(ax, None), P()),
                         out_specs=rows)(x, w1, b1, w2, b2)
