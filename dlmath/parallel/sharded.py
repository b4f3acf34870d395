r"""Fully sharded data parallelism (ZeRO stage 3): the batch, the parameters, their gradients
and the optimizer's state all split over the devices of a mesh axis, the parameters
gathered where they are used.

What the step keeps between steps is stage 3's count, $1/n$ of the parameters and of the
optimizer's state on each device. Its peak within a step is not: it all-gathers the whole
parameter tree at once, before the forward pass, and the whole gradient exists before the
reduce-scatter, so a device holds about stage 2's $bM + (1 + k)bM/n$ bytes at the peak
($bM + 3bM/n$ with Adam), not $(2 + k)bM/n$. Reaching stage 3's peak needs gathers layer
by layer, each freed after its layer, and each layer's gradient reduce-scattered as soon as
it is computed; this module does not do that.

``notebooks/12_parallel.ipynb`` derives the memory it saves
(:func:`dlmath.parallel.memory_per_device`) and compares the step with single-device
training.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from dlmath import _checks, training
from dlmath.parallel import DataParallelStep
from dlmath.parallel._mesh import axis as _axis
from dlmath.parallel._mesh import put as _put

__all__ = ["FullyShardedStep", "fully_sharded_step"]


class _Split(NamedTuple):
    """The axis that splits one parameter (a pytree leaf even when it is ``None``)."""

    k: int | None


class FullyShardedStep(DataParallelStep):
    """One fully sharded training step, from :func:`fully_sharded_step`.

    ``step(params, state, *batch) -> (params, state, loss)`` as a
    :class:`~dlmath.parallel.DataParallelStep`, but ``params`` and ``state`` come back
    sharded: every array is split over the mesh axis along its first axis whose size is a
    multiple of the axis's $n$ devices (``step.sharding(array)``; an array with no such axis,
    a scalar or a short bias, stays whole on every device). ``step.shard(tree)`` puts a
    pytree on the mesh that way. ``step.lower(...)`` lowers the step.
    """

    _who = "fully_sharded_step"

    def __init__(self, optimizer, loss_fn, mesh, axis_name, devices):
        self.optimizer, self.loss_fn, self.mesh = optimizer, loss_fn, mesh
        self.axis_name, self.devices, self.method = axis_name, devices, "sharding"
        self._replicated = NamedSharding(mesh, P())
        self._sharded = NamedSharding(mesh, P(axis_name))
        value_and_grad = jax.value_and_grad(loss_fn)
        ax, tmap = axis_name, jax.tree_util.tree_map

        def step(params, state, batch):
            leaves, tree = jax.tree_util.tree_flatten(params)
            # the axis along which each parameter is split (None: whole on every device)
            axes = tree.unflatten([_Split(self._axis_of(v.shape)) for v in leaves])

            def shard_value_and_grad(mine, *batch):
                # on device d: the whole parameters where they are used, an all-gather of
                # each shard; the mean gradient of its m = N/n examples
                whole = tmap(lambda v, s: v if s.k is None else jax.lax.all_gather(
                    v, ax, axis=s.k, tiled=True), mine, axes)
                loss, grads = value_and_grad(whole, *batch)
                # the mean of the n shard means; a reduce-scatter leaves device d the sum
                # over devices of its own shard only
                grads = tmap(lambda g, s: (jax.lax.psum(g, ax) if s.k is None else
                                           jax.lax.psum_scatter(g, ax, scatter_dimension=s.k,
                                                                tiled=True)) / devices,
                             grads, axes)
                return jax.lax.psum(loss, ax) / devices, grads

            def local(params, state, batch):
                return training.train_step.kernel(optimizer, shard_value_and_grad, params,
                                                  state, *batch)

            specs = (self._specs(params), self._specs(state))
            return jax.shard_map(local, mesh=mesh, in_specs=(*specs, P(ax)),
                                 out_specs=(*specs, P()), check_vma=False)(params, state, batch)

        self._step = jax.jit(step)

    def _axis_of(self, shape):
        """The first axis of ``shape`` whose size is a positive multiple of the devices."""
        for k, size in enumerate(shape):
            if size and size % self.devices == 0:
                return k
        return None

    def _specs(self, tree):
        return jax.tree_util.tree_map(lambda v: self.sharding(v).spec, tree)

    def sharding(self, array) -> NamedSharding:
        """The sharding of one array: split along its first axis whose size is a positive
        multiple of the number of devices, else whole on every device."""
        k = self._axis_of(_checks.shape_of(array))
        if k is None:
            return self._replicated
        return NamedSharding(self.mesh, P(*([None] * k), self.axis_name))

    def _shardings(self, tree):
        return jax.tree_util.tree_map(self.sharding, tree)

    def shard(self, tree):
        """``tree`` (parameters, an optimizer state) on the mesh, each array as
        :meth:`sharding`."""
        return jax.tree_util.tree_map(
            lambda v: v if _checks.is_traced(v) else jax.device_put(v, self.sharding(v)), tree)

    def _prepare(self, params, state, batch):
        batch = self._validate(params, state, batch)
        return self.shard(params), self.shard(state), _put(batch, self._sharded)


def fully_sharded_step(optimizer, loss_fn: Callable, mesh, *,
                       axis_name: str | None = None) -> FullyShardedStep:
    r"""A training step whose batch, parameters, gradients and optimizer state are all
    split over the devices of ``mesh`` (ZeRO stage 3, fully sharded data parallelism).

    Device $d$ keeps $1/n$ of every array between steps. The step all-gathers the whole
    parameter tree at once (so its peak memory is about ZeRO stage 2's, with Adam
    $bM + 3bM/n$ bytes for $M$ parameters of $b$ bytes, not stage 3's $4bM/n$: see the
    module's docstring), computes the mean gradient of its shard of the batch, and
    reduce-scatters the gradients, so that device $d$ receives the sum over devices of its
    own shard only, weighted as in :func:`dlmath.parallel.data_parallel_step`:

    $$\frac{\sum_{d=0}^{n - 1} {\bar{g}}_{d} {m}_{d}}{\sum_{d=0}^{n - 1} {m}_{d}}$$

    Each device then updates its shard of the parameters from its shards of the gradient and
    of the optimizer's state, so $k$ steps give the parameters of $k$ single-device steps on
    the whole batch, up to the order of float additions, for an optimizer whose update acts
    number by number (SGD, momentum, RMSprop, Adam: :mod:`dlmath.optim`'s). One that couples
    numbers across a whole array or tree (a global-norm clip) would see only the device's
    shards, and is not supported. The program is written per device (``jax.shard_map``, with
    an explicit ``all_gather`` and ``psum_scatter``), so its collectives are the ones named.

    Args:
        optimizer: an object with ``init``/``update`` (:mod:`dlmath.optim`'s or optax's).
        loss_fn: ``loss_fn(params, *batch) -> scalar``, the *mean* loss of a batch.
        mesh: a :class:`jax.sharding.Mesh`.
        axis_name: the mesh axis that splits everything (default: the mesh's only axis).

    Returns:
        A :class:`FullyShardedStep`: ``step(params, state, *batch) -> (params, state,
        loss)``, with ``batch`` arrays ``(N, ...)`` and the returned ``params`` and
        ``state`` sharded (:meth:`FullyShardedStep.sharding`).

    Raises:
        TypeError: an optimizer without ``init``/``update``, a loss that is not callable, a mesh
            that is not a ``Mesh``; at the step, non-floating parameters or batch arrays that are
            not real.
        ValueError: an unknown ``axis_name``; at the step, batch arrays with different $N$,
            $N = 0$, $N$ not a multiple of the axis's devices, a state that does not fit.

    ``notebooks/12_parallel.ipynb`` counts its bytes per device and its collectives.
    """
    who = "fully_sharded_step"
    _checks.require_optimizer(who, optimizer)
    _checks.require_callable(who, "loss_fn", loss_fn, "a function params, *batch -> scalar")
    axis_name, devices = _axis(who, mesh, axis_name)
    return FullyShardedStep(optimizer, loss_fn, mesh, axis_name, devices)
