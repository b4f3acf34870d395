r"""Training on many devices: data parallelism (every device a shard of the batch, the mean
gradient by an all-reduce) and tensor parallelism (every device a block of a layer's
kernel), over a :class:`jax.sharding.Mesh`; and the cost model of their communication.

Two ways to write the same data-parallel step, both in :func:`data_parallel_step`:

* ``method="sharding"``: the single-device step under ``jax.jit`` with ``NamedSharding``
  for its inputs and outputs (the batch split over the mesh axis, the parameters
  replicated); XLA's SPMD partitioner inserts the all-reduce of the gradient.
* ``method="shard_map"``: ``jax.shard_map`` runs the step on each device's shard, and the
  gradients are combined by an explicit ``jax.lax.psum``, weighted by the shard sizes.

The tensor-parallel functions split a kernel by columns (the outputs are gathered, an
all-gather) or by rows (the partial products are summed, an all-reduce); the two-layer MLP
splits its first kernel by columns and its second by rows, so it needs one all-reduce.

Meshes are one-dimensional here (or the axis is named with ``axis_name``). On one machine
the mesh is built from its devices, ``jax.sharding.Mesh(np.array(jax.devices()), ("data",))``;
on a cluster every host first calls ``jax.distributed.initialize()`` and ``jax.devices()``
then lists the devices of every host. ``notebooks/12_parallel.ipynb`` derives it all.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from dlmath import _checks, training
from dlmath.parallel._mesh import axis as _axis
from dlmath.parallel._mesh import divisible as _divisible
from dlmath.parallel._mesh import put as _put

__all__ = ["DataParallelStep", "data_parallel_step", "column_parallel_matmul",
           "row_parallel_matmul", "tensor_parallel_mlp", "ring_all_reduce_bytes",
           "step_time_model", "memory_per_device", "FullyShardedStep", "fully_sharded_step"]

_METHODS = ("sharding", "shard_map")


# ---------------------------------------------------------------- data parallelism


class DataParallelStep:
    """One data-parallel training step, from :func:`data_parallel_step`.

    ``step(params, state, *batch) -> (params, state, loss)``: the batch's arrays share the
    leading axis of $N$ examples, split over the mesh axis ($N$ a multiple of the number
    of devices); ``params`` and ``state`` (from ``optimizer.init(params)``) are replicated;
    ``loss`` is the mean loss of the whole batch at the old parameters. ``step.lower(...)``
    lowers it with the same arguments (``.compile().as_text()`` is the program that runs).
    """

    def __init__(self, optimizer, loss_fn, mesh, axis_name, devices, method):
        self.optimizer, self.loss_fn, self.mesh = optimizer, loss_fn, mesh
        self.axis_name, self.devices, self.method = axis_name, devices, method
        self._replicated = NamedSharding(mesh, P())
        self._sharded = NamedSharding(mesh, P(axis_name))
        value_and_grad = jax.value_and_grad(loss_fn)

        if method == "sharding":
            def step(params, state, batch):
                return training.train_step.kernel(optimizer, value_and_grad, params, state,
                                                  *batch)

            self._step = jax.jit(step, in_shardings=(self._replicated, self._replicated,
                                                     self._sharded),
                                 out_shardings=self._replicated)
        else:
            def mean_of_shards(params, *batch):
                # the shard's own copy of the parameters ("varying" over the axis), so that
                # grads is this shard's gradient and not already summed by autodiff
                mine = jax.tree_util.tree_map(
                    lambda p: jax.lax.pcast(p, axis_name, to="varying"), params)
                value, grads = value_and_grad(mine, *batch)
                size = jnp.asarray(batch[0].shape[0], value.dtype)
                total = jax.lax.psum(size, axis_name)
                # the size-weighted mean of the shards' means: sum_d m_d g_d / sum_d m_d
                grads = jax.tree_util.tree_map(
                    lambda g: jax.lax.psum(size * g, axis_name) / total, grads)
                return jax.lax.psum(size * value, axis_name) / total, grads

            def local(params, state, batch):
                return training.train_step.kernel(optimizer, mean_of_shards, params, state,
                                                  *batch)

            self._step = jax.jit(jax.shard_map(local, mesh=mesh,
                                               in_specs=(P(), P(), P(axis_name)),
                                               out_specs=P()))

    _who = "data_parallel_step"

    def _validate(self, params, state, batch) -> tuple:
        """The checks of a call (``who`` is the function that built the step); returns the
        batch, its floating arrays cast to the dtype of the parameters."""
        who = self._who
        dtype = _checks.float_dtype_of_tree(who, "params", params)
        if not batch:
            raise ValueError(f"{who}: the step needs a batch of arrays (X, y, ...) after "
                             "params and state; got none.")
        batch, n = _checks.examples(who, "batch", batch, dtype)
        _checks.require_nonempty(who, "batch[0]", batch[0], 0, "(N, ...)", "examples")
        _divisible(who, "batch[0]", n, 0, "(N, ...)", "number of examples N", self.devices)
        state_leaves = jax.tree_util.tree_leaves(state)
        ref = jax.eval_shape(self.optimizer.init, params)
        if jax.tree_util.tree_structure(state) != jax.tree_util.tree_structure(ref) or any(
                _checks.shape_of(s) != r.shape for s, r in
                zip(state_leaves, jax.tree_util.tree_leaves(ref), strict=True)):
            raise ValueError(f"{who}: state must be what optimizer.init(params) returns for "
                             "these params (its structure or shapes differ). Build it with "
                             "state = optimizer.init(params).")
        return tuple(batch)

    def _prepare(self, params, state, batch):
        batch = self._validate(params, state, batch)
        return (_put(params, self._replicated), _put(state, self._replicated),
                _put(tuple(batch), self._sharded))

    def __call__(self, params, state, *batch):
        return self._step(*self._prepare(params, state, batch))

    def lower(self, params, state, *batch):
        """The lowered step for these arguments (``.compile().as_text()``: its HLO)."""
        return self._step.lower(*self._prepare(params, state, batch))


def data_parallel_step(optimizer, loss_fn: Callable, mesh, *, axis_name: str | None = None,
                       method: str = "sharding") -> DataParallelStep:
    r"""A training step whose batch is split over the devices of ``mesh``.

    Device $d$ holds $m_d$ of the batch's examples and computes the mean gradient
    $\bar g_d$ of its shard; the step applies the mean gradient of the whole batch,

    $$\frac{\sum_{d=0}^{n - 1} {\bar{g}}_{d} {m}_{d}}{\sum_{d=0}^{n - 1} {m}_{d}}$$

    (the size-weighted mean of the shards' means; with equal shards their plain mean), so
    that $k$ steps give the parameters of $k$ single-device steps on the whole batch, up to
    the order of float additions. The optimizer's update then runs, replicated, on every
    device: $(u, s') = \text{update}(\bar g, s, \theta)$, $\theta' = \theta + u$, the
    step of :func:`dlmath.training.train_step`.

    Args:
        optimizer: an object with ``init``/``update`` (:mod:`dlmath.optim`'s or optax's).
        loss_fn: ``loss_fn(params, *batch) -> scalar``, the *mean* loss of a batch.
        mesh: a :class:`jax.sharding.Mesh`.
        axis_name: the mesh axis that splits the batch (default: the mesh's only axis).
        method: ``"sharding"`` (``jax.jit`` with ``NamedSharding``: XLA inserts the
            all-reduce) or ``"shard_map"`` (per-shard code and an explicit ``psum``).

    Returns:
        A :class:`DataParallelStep`: ``step(params, state, *batch) -> (params, state,
        loss)``, with ``batch`` arrays ``(N, ...)`` (floating ones cast to the dtype of the
        parameters) and ``loss`` the batch's mean loss before the update.

    Raises:
        TypeError: an optimizer without ``init``/``update``, a loss that is not callable, a mesh
            that is not a ``Mesh``; at the step, non-floating parameters or batch arrays that are
            not real.
        ValueError: an unknown ``method`` or ``axis_name``; at the step, batch arrays with different
            $N$, $N = 0$, or $N$ not a multiple of the axis's devices.

    ``notebooks/12_parallel.ipynb`` proves the weighted mean and compares $k$ steps with
    single-device training.
    """
    who = "data_parallel_step"
    _checks.require_optimizer(who, optimizer)
    _checks.require_callable(who, "loss_fn", loss_fn, "a function params, *batch -> scalar")
    if method not in _METHODS:
        raise ValueError(f"{who}: method must be one of {list(_METHODS)}; got {method!r}.")
    axis_name, devices = _axis(who, mesh, axis_name)
    return DataParallelStep(optimizer, loss_fn, mesh, axis_name, devices, method)


# ---------------------------------------------------------------- tensor parallelism


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


def tensor_parallel_mlp(params, x, mesh, *, axis_name: str | None = None):
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
        x: floating ``(N, D)``, cast to the dtype of ``params``; replicated.
        mesh: a :class:`jax.sharding.Mesh`; axis_name: the axis that splits (default: the
            only one).

    Returns:
        ``(N, K)``, equal to ``dlmath.layers.mlp(params, x)`` (up to the order of float
        additions), in the dtype of ``params``, replicated on the mesh.

    Raises:
        TypeError: params that are not two such layers of one float dtype; non-floating ``x``; a
            mesh that is not a ``Mesh``.
        ValueError: shapes that do not chain, $H$ not a multiple of the axis's devices, an unknown
            ``axis_name``.

    ``notebooks/12_parallel.ipynb`` derives the split and counts its collectives.
    """
    who = "tensor_parallel_mlp"
    ax, devices = _axis(who, mesh, axis_name)
    w1, b1, w2, b2, x = _mlp_args(who, params, x, devices)
    rep = NamedSharding(mesh, P())
    x, b2 = _put(x, rep), _put(b2, rep)
    w1 = _put(w1, NamedSharding(mesh, P(None, ax)))
    b1 = _put(b1, NamedSharding(mesh, P(ax)))
    w2 = _put(w2, NamedSharding(mesh, P(ax, None)))

    def local(x, w1, b1, w2, b2):
        return jax.lax.psum(jax.nn.relu(x @ w1 + b1) @ w2, ax) + b2

    return jax.shard_map(local, mesh=mesh,
                         in_specs=(P(), P(None, ax), P(ax), P(ax, None), P()),
                         out_specs=P())(x, w1, b1, w2, b2)


# ---------------------------------------------------------------- the cost model


def ring_all_reduce_bytes(n_bytes, num_devices: int):
    r"""The bytes that each device sends (and receives) in a ring all-reduce of
    ``n_bytes`` bytes over ``num_devices`` devices:

    $$\frac{M \left(2 n - 2\right)}{n}$$

    a reduce-scatter ($n - 1$ steps, each passing one chunk of $M/n$ bytes to the next
    device) and an all-gather (another $n - 1$ such steps). Under $2M$ whatever $n$.

    Args:
        n_bytes: $M \ge 0$, a real scalar (may be traced).
        num_devices: $n \ge 1$, an int.

    Returns:
        A scalar: $2(n - 1)M/n$ (0 for one device).

    Raises:
        TypeError: ``num_devices`` not an int, ``n_bytes`` not a real scalar.
        ValueError: ``n_bytes < 0`` or not finite, ``num_devices < 1``.

    ``notebooks/12_parallel.ipynb`` derives it and simulates the ring.
    """
    who = "ring_all_reduce_bytes"
    _checks.hyperparameter(who, "n_bytes", n_bytes, low=0.0)
    _checks.count(who, "num_devices", num_devices, low=1)
    return 2 * (num_devices - 1) * jnp.asarray(n_bytes, jnp.result_type(float)) / num_devices


def step_time_model(batch_size, num_params, num_devices: int, *, flops_per_second,
                    bandwidth, latency=0.0, bytes_per_param=4):
    r"""The seconds of compute and of communication of one data-parallel step (a model).

    A dense model of $M$ parameters costs about $6BM$ FLOPs per step of $B$ examples (2 per
    parameter and example forward, 4 backward), shared by $n$ devices of $F$ FLOP/s each:

    $$\frac{6 B M}{F n}$$

    and the ring all-reduce of the gradient ($bM$ bytes) takes $2(n - 1)$ steps, each one
    message of $bM/n$ bytes over a link of bandwidth $\beta$ and latency $\alpha$:

    $$\left(2 n - 2\right) \left(\frac{M b}{\beta n} + \alpha\right)$$

    Compute shrinks like $1/n$, communication does not (it tends to $2bM/\beta$), so with
    enough devices, or a small enough batch per device, communication dominates. Without
    overlap a step takes their sum.

    Args:
        batch_size: $B > 0$ (the global batch). num_params: $M > 0$. num_devices: $n \ge 1$,
            an int. flops_per_second: $F > 0$. bandwidth: $\beta > 0$ bytes/s.
            latency: $\alpha \ge 0$ seconds per message. bytes_per_param: $b > 0$ (4 for
            float32). The reals may be traced.

    Returns:
        ``(compute_seconds, communication_seconds)``, two scalars.

    Raises:
        TypeError: a non-real value, ``num_devices`` not an int.
        ValueError: a value outside its range or not finite.

    ``notebooks/12_parallel.ipynb`` plots it and derives where communication dominates.
    """
    who = "step_time_model"
    for name, value in (("batch_size", batch_size), ("num_params", num_params),
                        ("flops_per_second", flops_per_second), ("bandwidth", bandwidth),
                        ("bytes_per_param", bytes_per_param)):
        _checks.hyperparameter(who, name, value, low=0.0, low_open=True)
    _checks.hyperparameter(who, "latency", latency, low=0.0)
    _checks.count(who, "num_devices", num_devices, low=1)
    f = jnp.result_type(float)
    batch, size = jnp.asarray(batch_size, f), jnp.asarray(num_params, f)
    compute = 6 * batch * size / (num_devices * jnp.asarray(flops_per_second, f))
    communication = 2 * (num_devices - 1) * (
        jnp.asarray(bytes_per_param, f) * size / (num_devices * jnp.asarray(bandwidth, f))
        + jnp.asarray(latency, f))
    return compute, communication


# ---------------------------------------------------------------- memory, full sharding
# (defined in the package's modules memory and sharded, which build on the step above)

from dlmath.parallel.memory import memory_per_device  # noqa: E402
from dlmath.parallel.sharded import FullyShardedStep, fully_sharded_step  # noqa: E402
