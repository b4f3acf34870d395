r"""The memory of training per device: what data parallelism replicates and what the stages
of ZeRO (fully sharded data parallelism at stage 3) divide among the devices.

``notebooks/12_parallel.ipynb`` derives the four formulas and checks them on a mesh of eight
CPU devices against the bytes of each device's shards.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks

__all__ = ["memory_per_device"]

#: ZeRO's stages: 0 replicates everything (plain data parallelism), 1 shards the optimizer
#: state, 2 also the gradients, 3 also the parameters
STAGES = (0, 1, 2, 3)


def _check(num_params, num_devices, *, stage, bytes_per_number=4, moments=2, activations=0):
    who = "memory_per_device"
    _checks.hyperparameter(who, "num_params", num_params, low=0.0)
    _checks.count(who, "num_devices", num_devices, low=1)
    _checks.count(who, "stage", stage, low=0, high=3)
    _checks.hyperparameter(who, "bytes_per_number", bytes_per_number, low=0.0, low_open=True,
                           hint="4 for float32, 2 for bfloat16.")
    _checks.count(who, "moments", moments, low=0)
    _checks.hyperparameter(who, "activations", activations, low=0.0)


@_checks.checked(_check, static_argnames=("num_devices", "stage", "moments"))
def memory_per_device(num_params, num_devices: int, *, stage: int, bytes_per_number=4,
                      moments: int = 2, activations=0):
    r"""The bytes that one device holds while training $M$ parameters on $n$ devices with an
    optimizer that keeps $k$ numbers per parameter ($k = 2$ for Adam's two moments, 1 for
    momentum, 0 for plain SGD), every number $b$ bytes.

    A device holds the parameters, their gradients and the optimizer's state, $(2 + k)M$
    numbers when each is whole ($16M$ bytes for Adam in float32), plus the activations $A$
    of its own examples. Data parallelism (``stage=0``) replicates all of it:

    $$A + M b \left(k + 2\right)$$

    ZeRO stage 1 gives each device $1/n$ of the optimizer's state (the update of a shard
    needs only that shard's moments):

    $$A + \frac{M b k}{n} + 2 M b$$

    stage 2 also its $1/n$ of the gradients (a reduce-scatter instead of the all-reduce
    leaves each device the sum of its shard only):

    $$A + M b + \frac{M b \left(k + 1\right)}{n}$$

    and stage 3 (fully sharded data parallelism) also its $1/n$ of the parameters, gathered
    where they are used:

    $$A + \frac{M b \left(k + 2\right)}{n}$$

    These are the bytes kept between steps. The shards are exact when each sharded array
    splits evenly over the $n$ devices. Not counted: the step's temporaries, such as the
    gathered parameters under stage 3 (one layer's at a time where each layer is gathered
    and freed in turn; the whole model's in :func:`dlmath.parallel.fully_sharded_step`,
    which gathers them all at once, so that its peak is about stage 2's), or the
    optimizer's step counter.

    Args:
        num_params: $M \ge 0$, a real scalar (may be traced).
        num_devices: $n \ge 1$, an int.
        stage: 0, 1, 2 or 3, an int.
        bytes_per_number: $b > 0$ (4 for float32, 2 for bfloat16; may be traced).
        moments: $k \ge 0$, the optimizer's numbers per parameter, an int.
        activations: $A \ge 0$, the bytes of a device's activations (may be traced).

    Returns:
        A dict of scalars (the default float dtype): ``"parameters"``, ``"gradients"``,
        ``"optimizer_state"``, ``"activations"`` and their sum ``"total"``, in bytes.

    Raises:
        TypeError: a value that is not a real scalar; ``num_devices``, ``stage`` or
            ``moments`` not an int.
        ValueError: a value outside its range or not finite.

    Example:
        >>> from dlmath import parallel
        >>> m = parallel.memory_per_device(1e6, 8, stage=3)
        >>> round(float(m["total"]))
        2000000
    """
    f = jnp.result_type(float)
    numbers = jnp.asarray(num_params, f) * jnp.asarray(bytes_per_number, f)
    share = {name: numbers / num_devices if stage >= level else numbers
             for name, level in (("parameters", 3), ("gradients", 2), ("optimizer_state", 1))}
    share["optimizer_state"] = moments * share["optimizer_state"]
    share["activations"] = jnp.asarray(activations, f)
    share["total"] = sum(share.values())
    return jax.tree_util.tree_map(lambda v: jnp.asarray(v, f), share)
