r"""The cost model of data parallelism's communication: the bytes of a ring all-reduce
(:func:`ring_all_reduce_bytes`) and the seconds of compute and of communication of one
step (:func:`step_time_model`). ``notebooks/12_parallel.ipynb`` derives and plots them.
"""

from __future__ import annotations

import jax.numpy as jnp

from dlmath import _checks

__all__ = ["ring_all_reduce_bytes", "step_time_model"]


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
