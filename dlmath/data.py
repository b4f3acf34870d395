"""Data for the chapters: generated with an explicit ``key``, or shipped with a package.

Nothing here downloads anything.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["linear", "digits"]


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


def digits(key, *, test_fraction: float = 0.25):
    r"""scikit-learn's handwritten digits (1797 images of 8 x 8 pixels, classes 0-9), shipped
    with the package (no download), split at random into train and test sets.

    Pixels are scaled from $[0, 16]$ to $[0, 1]$.

    Args:
        key: a ``jax.random`` key for the split.
        test_fraction: the share of examples held out, in ``(0, 1)``.

    Returns:
        ``(x_train, y_train, x_test, y_test)`` with ``x: (N, 64)`` float32 and
        ``y: (N,)`` int32 class ids.

    Raises:
        ValueError: if ``test_fraction`` is not in ``(0, 1)``.
        ImportError: if scikit-learn is not installed (it is in ``requirements.txt``).
    """
    import numpy as np

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"data.digits: test_fraction must be in (0, 1); got {test_fraction}.")
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("data.digits needs scikit-learn: pip install -r requirements.txt") from e
    d = load_digits()
    x = np.asarray(d.data, np.float32) / 16.0
    y = np.asarray(d.target, np.int32)
    perm = np.asarray(jax.random.permutation(key, x.shape[0]))
    n_test = int(round(test_fraction * x.shape[0]))
    test, train = perm[:n_test], perm[n_test:]
    return (jnp.asarray(x[train]), jnp.asarray(y[train]),
            jnp.asarray(x[test]), jnp.asarray(y[test]))
