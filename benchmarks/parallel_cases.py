"""The rows of :mod:`dlmath.parallel`: each kernel, written per device (``jax.shard_map``
and its named collectives), beside what a JAX user writes instead, the same computation
written plainly under ``jax.jit`` with ``NamedSharding`` in and out shardings, where XLA's
SPMD partitioner chooses and places the collectives.

The mesh is one axis over this process's devices: the largest power of two up to 8 of
them (every size below is a multiple of 8), named in each row's shape. A CPU backend has
one device unless XLA is told otherwise before it starts: ``python -m benchmarks --only
parallel --devices 8`` (:func:`benchmarks.host_devices`). Both sides get the same inputs,
already placed on the mesh with the same shardings, and return their outputs with the
same shardings.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from benchmarks.case import Case, devices_label, with_vjp
from dlmath import layers, parallel

AXIS = "model"


def mesh_devices() -> int:
    """The devices of the parallel rows' mesh: the largest power of two up to 8 of
    ``jax.devices()`` (starts JAX's backend)."""
    n = 1
    while 2 * n <= min(len(jax.devices()), 8):
        n *= 2
    return n


def _mesh() -> Mesh:
    return Mesh(np.array(jax.devices()[:mesh_devices()]), (AXIS,))


def _on(mesh, spec_tree, tree):
    """``tree``'s arrays on ``mesh``, each with its ``PartitionSpec`` in ``spec_tree``."""
    return jax.device_put(tree, _shardings(mesh, spec_tree))


def _shardings(mesh, spec_tree):
    return jax.tree_util.tree_map(lambda s: NamedSharding(mesh, s), spec_tree,
                                  is_leaf=lambda s: isinstance(s, P))


# ---------------------------------------------------------------------- tensor parallelism

def matmul_case(split: str, devices: int):
    """``column_parallel_matmul`` (``w`` split by columns, an all-gather) or
    ``row_parallel_matmul`` (``x`` by columns and ``w`` by rows, an all-reduce) against
    ``jax.jit`` of ``x @ w`` with the same in and out shardings."""
    specs = (P(), P(None, AXIS)) if split == "columns" else (P(None, AXIS), P(AXIS, None))
    ours_fn = (parallel.column_parallel_matmul if split == "columns"
               else parallel.row_parallel_matmul)

    def build(key, size):
        n, d, k = (256, 512, 512) if size == "full" else (8, 16, 16)
        mesh = _mesh()
        k1, k2 = jax.random.split(key)
        x = jax.random.normal(k1, (n, d))
        w = jax.random.normal(k2, (d, k)) / np.sqrt(d)
        args = _on(mesh, specs, (x, w))
        peer = jax.jit(lambda x_, w_: x_ @ w_, in_shardings=_shardings(mesh, specs),
                       out_shardings=NamedSharding(mesh, P()))
        return (lambda x_, w_: ours_fn(x_, w_, mesh)), peer, args, args
    return Case(f"parallel.{split[:-1]}_parallel_matmul",
                f"{devices_label(devices)}, 256x512 @ 512x512",
                f"jit(x @ w), NamedSharding by {split}", build)


_MLP_SPECS = [{"w": P(None, AXIS), "b": P(AXIS)}, {"w": P(AXIS, None), "b": P()}]


def _plain_mlp(params, x):
    (w1, b1), (w2, b2) = ((p["w"], p["b"]) for p in params)
    return jax.nn.relu(x @ w1 + b1) @ w2 + b2


def mlp_case(grad: bool, devices: int):
    """``tensor_parallel_mlp`` (the hidden layer split column-then-row, one all-reduce)
    against the plain MLP under ``jax.jit`` with the hidden axis of ``w1``/``b1`` and the
    input axis of ``w2`` sharded; the gradient row is with respect to the parameters."""
    def build(key, size):
        dims, n = ((256, 1024, 256), 256) if size == "full" else ((8, 16, 8), 8)
        mesh = _mesh()
        k1, k2, k3 = jax.random.split(key, 3)
        params = _on(mesh, _MLP_SPECS, layers.init_mlp(k1, dims))
        x = _on(mesh, P(), jax.random.normal(k2, (n, dims[0])))
        ours = lambda p, x_: parallel.tensor_parallel_mlp(p, x_, mesh)  # noqa: E731
        peer = jax.jit(_plain_mlp, in_shardings=(_shardings(mesh, _MLP_SPECS),
                                                 NamedSharding(mesh, P())),
                       out_shardings=NamedSharding(mesh, P()))
        args = (params, x)
        if grad:
            ours, peer, args = with_vjp(ours, peer, args, k3, (0,))
            args = (*args[:-1], _on(mesh, P(), args[-1]))
        return ours, peer, args, args
    return Case("parallel.tensor_parallel_mlp" + (" grad(params)" if grad else ""),
                f"{devices_label(devices)}, 256x256->1024->256",
                "jit(mlp), NamedSharding of the hidden axis", build)


# ----------------------------------------------------------------------- data parallelism

def _mse(params, x, y):
    return jnp.mean(jnp.square(_plain_mlp(params, x) - y))


def _first_divisible(shape, devices):
    """The spec that splits an array along its first axis whose size is a positive multiple
    of the devices (whole on every device when none is)."""
    for k, size in enumerate(shape):
        if size and size % devices == 0:
            return P(*([None] * k), AXIS)
    return P()


def step_case(kind: str, devices: int):
    """``data_parallel_step`` (``method="sharding"`` or ``"shard_map"``) or
    ``fully_sharded_step`` against one step of the same loss and optimizer (optax's Adam on
    both sides) under ``jax.jit``: the batch split over the mesh by ``NamedSharding``, the
    parameters and the optimizer's state replicated, or for the fully sharded step each split
    along its first axis that divides evenly (XLA then gathers them where they are used)."""
    def build(key, size):
        dims, n = ((128, 256, 32), 256) if size == "full" else ((8, 16, 8), 16)
        mesh = _mesh()
        opt = optax.adam(1e-2)
        k1, k2, k3 = jax.random.split(key, 3)
        params = layers.init_mlp(k1, dims)
        state = opt.init(params)
        x, y = jax.random.normal(k2, (n, dims[0])), jax.random.normal(k3, (n, dims[-1]))
        if kind == "fully_sharded":
            step = parallel.fully_sharded_step(opt, _mse, mesh)
            split = lambda v: _first_divisible(np.shape(v), mesh.size)  # noqa: E731
            param_specs = jax.tree_util.tree_map(split, params)
            state_specs = jax.tree_util.tree_map(split, state)
        else:
            step = parallel.data_parallel_step(opt, _mse, mesh, method=kind)
            param_specs = jax.tree_util.tree_map(lambda _: P(), params)
            state_specs = jax.tree_util.tree_map(lambda _: P(), state)
        specs = (param_specs, state_specs, P(AXIS), P(AXIS))
        args = _on(mesh, specs, (params, state, x, y))

        def one_step(params, state, x, y):
            loss, grads = jax.value_and_grad(_mse)(params, x, y)
            updates, state = opt.update(grads, state, params)
            return optax.apply_updates(params, updates), state, loss

        peer = jax.jit(one_step, in_shardings=_shardings(mesh, specs),
                       out_shardings=_shardings(mesh, (param_specs, state_specs, P())))
        return (lambda *a: step(*a)), peer, args, args
    if kind == "fully_sharded":
        kernel, peer_name = "parallel.fully_sharded_step", "jit(optax.adam step), all sharded"
    else:
        kernel = f"parallel.data_parallel_step(method={kind!r})"
        peer_name = "jit(optax.adam step), batch sharded"
    return Case(kernel, f"{devices_label(devices)}, 256x128->256->32", peer_name, build)


def parallel_cases() -> list[Case]:
    """The rows of :mod:`dlmath.parallel` (starts JAX's backend, to count the devices)."""
    devices = mesh_devices()
    return [matmul_case("columns", devices), matmul_case("rows", devices),
            mlp_case(False, devices), mlp_case(True, devices),
            step_case("sharding", devices), step_case("shard_map", devices),
            step_case("fully_sharded", devices)]
