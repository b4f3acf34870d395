"""Activation functions, named and shaped as ``jax.nn``: ``softmax(x, axis=-1)``.

Each docstring quotes the formula the book derives (see :mod:`dlmath.formulas`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks

__all__ = ["softmax", "log_softmax"]


def _check_axis(who: str, x, axis: int) -> None:
    nd = len(_checks.shape_of(x))
    if not isinstance(axis, int) or not -nd <= axis < nd:
        raise ValueError(
            f"{who}: axis must be an int in [-{nd}, {nd}) for x of shape "
            f"{_checks.fmt(_checks.shape_of(x))}; got {axis!r}."
        )


def softmax(x, axis: int = -1):
    r"""Softmax along ``axis``: positive entries that sum to 1.

    $$\frac{e^{{x}_{k}}}{\sum_{j=0}^{K - 1} e^{{x}_{j}}}$$

    Computed in the stable form $e^{x_k - m} / \sum_j e^{x_j - m}$ with $m = \max_j x_j$
    (the shift cancels; derived in ``notebooks/03_cross_entropy.ipynb``), so logits of
    $\pm 10^4$ give no overflow.

    Args:
        x: floating array ``(*B, K)`` (``K`` along ``axis``).
        axis: the axis of the ``K`` classes.

    Returns:
        An array of the shape of ``x``.

    Raises:
        TypeError: if ``x`` is not floating. ValueError: if ``axis`` is out of range.
    """
    _checks.require_floating("softmax", "x", x)
    _check_axis("softmax", x, axis)
    return _softmax(x, axis)


def log_softmax(x, axis: int = -1):
    r"""Logarithm of :func:`softmax`, computed without forming the softmax.

    $$- \log{\left(\sum_{j=0}^{K - 1} e^{{x}_{j}} \right)} + {x}_{k}$$

    Computed as $(x_k - m) - \log \sum_j e^{x_j - m}$ with $m = \max_j x_j$ (log-sum-exp).

    Args:
        x: floating array ``(*B, K)``.
        axis: the axis of the ``K`` classes.

    Returns:
        An array of the shape of ``x`` (all entries <= 0).

    Raises:
        TypeError: if ``x`` is not floating. ValueError: if ``axis`` is out of range.
    """
    _checks.require_floating("log_softmax", "x", x)
    _check_axis("log_softmax", x, axis)
    return _log_softmax(x, axis)


@jax.jit(static_argnames="axis")
def _log_softmax(x, axis):
    shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


@jax.jit(static_argnames="axis")
def _softmax(x, axis):
    shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    e = jnp.exp(shifted)
    return e / jnp.sum(e, axis=axis, keepdims=True)
