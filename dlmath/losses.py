"""Loss functions, each with the formula the book derives for it.

Names and argument names follow optax: ``mse(predictions, targets)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks

__all__ = ["mse"]


@jax.jit
def _mse(predictions, targets):
    return jnp.mean(jnp.square(predictions - targets))


def mse(predictions, targets):
    r"""Mean squared error, averaged over all elements.

    $$\frac{\sum_{i=0}^{N - 1} \left(- {y}_{i} + {\hat{y}}_{i}\right)^{2}}{N}$$

    with $\hat y$ = ``predictions`` and $y$ = ``targets`` flattened to $N$ elements. It is,
    up to constants, the negative log-likelihood of Gaussian noise (derived in
    ``notebooks/01_linear_regression.ipynb``).

    Args:
        predictions: floating array of any shape ``(*B,)``.
        targets: array of the same shape ``(*B,)`` (float or int); never broadcast.

    Returns:
        A scalar: the mean over all ``N`` elements (reduced, unlike optax's
        ``squared_error``, which is elementwise).

    Raises:
        ValueError: if the shapes differ.
        TypeError: if ``predictions`` is not floating, or ``targets`` is not real.
    """
    _checks.require_floating("mse", "predictions", predictions)
    _checks.require_real("mse", "targets", targets)
    _checks.require_same_shape(
        "mse", "predictions", predictions, "targets", targets, "(*B,)",
        "Reshape one of them (e.g. y.reshape(-1)); mse does not broadcast.",
    )
    if _checks.shape_of(predictions) and 0 in _checks.shape_of(predictions):
        raise ValueError("mse: predictions is empty; the mean of no elements is undefined.")
    return _mse(predictions, targets)
