r"""Training on many devices: data parallelism (every device a shard of the batch, the mean
gradient by an all-reduce) and tensor parallelism (every device a block of a layer's
kernel), over a :class:`jax.sharding.Mesh`; the cost model of their communication; the
memory per device, and the fully sharded step that divides it.

Two ways to write the same data-parallel step, both in :func:`data_parallel_step`:

* ``method="sharding"``: the single-device step under ``jax.jit`` with ``NamedSharding``
  for its inputs and outputs (the batch split over the mesh axis, the parameters
  replicated); XLA's SPMD partitioner inserts the all-reduce of the gradient.
* ``method="shard_map"``: ``jax.shard_map`` runs the step on each device's shard, and the
  gradients are combined by an explicit ``jax.lax.psum``, weighted by the shard sizes.

The package's other modules, whose public names are re-exported here: ``tensor``, tensor
parallelism (a kernel split by columns, the outputs gathered by an all-gather, or by rows,
the partial products summed by an all-reduce; the two-layer MLP split column-then-row needs
one all-reduce); ``cost``, the cost model of the communication; ``memory``, the bytes per
device of data parallelism and ZeRO's stages; ``sharded``, the fully sharded step.
``multiprocess`` (not re-exported) runs the data-parallel step over several processes.

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


# ---------------------------------------------------------------- the other ideas
# (tensor parallelism, the cost model, memory, full sharding: modules of this package;
# sharded builds on the step above)

from dlmath.parallel.cost import ring_all_reduce_bytes, step_time_model  # noqa: E402
from dlmath.parallel.memory import memory_per_device  # noqa: E402
from dlmath.parallel.sharded import FullyShardedStep, fully_sharded_step  # noqa: E402
from dlmath.parallel.tensor import (  # noqa: E402
    column_parallel_matmul,
    row_parallel_matmul,
    tensor_parallel_mlp,
)
