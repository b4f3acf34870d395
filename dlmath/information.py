r"""Entropy, Kullback-Leibler divergence and cross-entropy of discrete distributions.

A distribution over ``K`` outcomes is a floating array ``(*B, K)`` of probabilities on the
last axis (non-negative, summing to 1; not checked, since values are not known under
``jit``). Logarithms are natural (nats). The convention $0 \log 0 = 0$ holds: an outcome
of probability 0 under ``p`` contributes nothing. The identity
$H(p, q) = H(p) + \mathrm{KL}(p \,\|\, q)$ and Gibbs' inequality $\mathrm{KL} \ge 0$ are
proven in ``notebooks/03_cross_entropy.ipynb``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import xlogy

from dlmath import _checks

__all__ = ["entropy", "kl_divergence", "cross_entropy"]


def _check_dist(who: str, name: str, p) -> None:
    _checks.require_floating(who, name, p, "Probabilities must be floating, e.g. "
                             "jnp.asarray(p, jnp.float32).")
    shape = _checks.shape_of(p)
    if len(shape) == 0 or shape[-1] == 0:
        raise ValueError(
            f"{who}: {name} must have shape (*B, K) with K >= 1 outcomes on the last axis; "
            f"got {_checks.fmt(shape)}."
        )


def _check_pair(who: str, p, q) -> None:
    _check_dist(who, "p", p)
    _check_dist(who, "q", q)
    _checks.require_same_shape(who, "p", p, "q", q, "(*B, K)",
                               "Both distributions live on the same K outcomes; nothing is "
                               "broadcast.")


@jax.jit
def _entropy(p):
    return -jnp.sum(xlogy(p, p), axis=-1)


@jax.jit
def _cross_entropy(p, q):
    return -jnp.sum(xlogy(p, q), axis=-1)


@jax.jit
def _kl(p, q):
    return jnp.sum(xlogy(p, p) - xlogy(p, q), axis=-1)


def entropy(p):
    r"""Shannon entropy of a discrete distribution, in nats.

    $$- \sum_{k=0}^{K - 1} \log{\left({p}_{k} \right)} {p}_{k}$$

    with $0 \log 0 = 0$. It lies in $[0, \log K]$: 0 for a point mass, $\log K$ for the
    uniform distribution.
    Derived in ``notebooks/03_cross_entropy.ipynb``.

    Args:
        p: floating array ``(*B, K)``, probabilities on the last axis.

    Returns:
        ``(*B,)``: one entropy per distribution.

    Raises:
        TypeError: if ``p`` is not floating. ValueError: if ``p`` has no outcome axis.
    """
    _check_dist("entropy", "p", p)
    return _entropy(jnp.asarray(p))


def kl_divergence(p, q):
    r"""Kullback-Leibler divergence $\mathrm{KL}(p \,\|\, q)$ of ``q`` from ``p``, in nats.

    $$\sum_{k=0}^{K - 1} \log{\left(\frac{{p}_{k}}{{q}_{k}} \right)} {p}_{k}$$

    with $0 \log(0/q) = 0$; it is $+\infty$ where $q_k = 0 < p_k$. Always $\ge 0$, and 0
    exactly when $p = q$ (Gibbs' inequality). Not symmetric. Argument order is the
    mathematical one, $(p, q)$; ``optax.kl_divergence(log_predictions, targets)`` computes
    the same number as ``kl_divergence(targets, exp(log_predictions))``.
    Derived in ``notebooks/03_cross_entropy.ipynb``.

    Args:
        p: floating array ``(*B, K)``, the reference distribution.
        q: floating array ``(*B, K)``, the approximating distribution.

    Returns:
        ``(*B,)``.

    Raises:
        TypeError: if either is not floating. ValueError: if the shapes differ.
    """
    _check_pair("kl_divergence", p, q)
    return _kl(jnp.asarray(p), jnp.asarray(q))


def cross_entropy(p, q):
    r"""Cross-entropy $H(p, q)$: the expected code length of outcomes drawn from ``p``
    under a code built for ``q``, in nats.

    $$- \sum_{k=0}^{K - 1} \log{\left({q}_{k} \right)} {p}_{k}$$

    It equals $H(p) + \mathrm{KL}(p \,\|\, q) \ge H(p)$. With ``q = softmax(z)`` it is
    :func:`dlmath.losses.softmax_cross_entropy` (which works from logits, stably).
    Derived in ``notebooks/03_cross_entropy.ipynb``.

    Args:
        p: floating array ``(*B, K)``. q: floating array ``(*B, K)``.

    Returns:
        ``(*B,)``.

    Raises:
        TypeError: if either is not floating. ValueError: if the shapes differ.
    """
    _check_pair("cross_entropy", p, q)
    return _cross_entropy(jnp.asarray(p), jnp.asarray(q))
