"""Data for the chapters: generated with an explicit ``key``, or shipped with a package.

Nothing here downloads anything.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["linear"]


def linear(key, n: int, w, b: float, *, noise: float = 1.0, low: float = -3.0,
           high: float = 3.0):
    r"""Samples of $y = w^T x + b + \varepsilon$, $\varepsilon \sim \mathcal N(0, \sigma^2)$,
    $x \sim \mathcal U[\text{low}, \text{high})^F$.

    Args:
        key: a ``jax.random`` key.
        n: number of samples $N \ge 1$.
        w: the true weights, a float or ``(F,)``.
        b: the true intercept.
        noise: $\sigma \ge 0$.
        low, high: the range of every feature.

    Returns:
        ``(x, y)`` with ``x: (N, F)`` (``(N, 1)`` for a scalar ``w``) and ``y: (N,)``, float32.

    Raises:
        ValueError: for ``n < 1``, ``noise < 0`` or ``low >= high``.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"data.linear: n must be an int >= 1; got {n!r}.")
    if noise < 0:
        raise ValueError(f"data.linear: noise (the standard deviation) must be >= 0; got {noise}.")
    if not low < high:
        raise ValueError(f"data.linear: need low < high; got low={low}, high={high}.")
    w = jnp.atleast_1d(jnp.asarray(w, jnp.float32))
    kx, ke = jax.random.split(key)
    x = jax.random.uniform(kx, (n, w.shape[0]), jnp.float32, low, high)
    y = x @ w + b + noise * jax.random.normal(ke, (n,), jnp.float32)
    return x, y
