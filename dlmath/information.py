r"""Entropy, Kullback-Leibler divergence and cross-entropy of discrete distributions.

A distribution over ``K`` outcomes is a floating array ``(*B, K)`` of probabilities on the
last axis (non-negative, summing to 1; not checked, since values are not known under
``jit``). Logarithms are natural (nats). The convention $0 \log 0 = 0$ holds: an outcome
of probability 0 under ``p`` contributes nothing. The identity
$H(p, q) = H(p) + \mathrm{KL}(p \,\|\, q)$ and Gibbs' inequality $\mathrm{KL} \ge 0$ are
proven in ``notebooks/03_cross_entropy.ipynb``.

Names and arguments follow optax where optax has the function:
:func:`kl_divergence` ``(log_predictions, targets)`` takes the *logarithm* of the
approximating distribution, as ``optax.kl_divergence`` does, so it can be fed
``log_softmax(z)`` and stays finite (with finite gradients) at logits of $\pm 10^4$, where
the probabilities underflow to 0. :func:`entropy` and :func:`cross_entropy` take
probabilities. Dtypes follow JAX's promotion (functions without parameters,
:mod:`dlmath._checks`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import entr, xlogy

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


def _check_pair(who: str, a_name: str, a, b_name: str, b) -> None:
    _check_dist(who, a_name, a)
    _check_dist(who, b_name, b)
    _checks.require_same_shape(who, a_name, a, b_name, b, "(*B, K)",
                               "Both distributions live on the same K outcomes; nothing is "
                               "broadcast.")


def _promoted(*arrays):
    dtype = jnp.result_type(*arrays)
    return tuple(jnp.asarray(a).astype(dtype) for a in arrays)


@jax.jit
def _entropy(p):
    # entr(p) = -p log p with entr(0) = 0; its derivative -log p - 1 is +inf at p = 0 (the
    # one-sided limit), never the NaN that d/dp xlogy(p, p) gives there
    return jnp.sum(entr(p), axis=-1)


@jax.jit
def _cross_entropy(p, q):
    return -jnp.sum(xlogy(p, q), axis=-1)


@jax.jit
def _kl(log_q, p):
    # sum_k p_k log p_k - p_k log q_k with 0 log 0 = 0. Where p_k = 0 the log q_k is
    # replaced by 0 before the product, so a log q_k of -inf (a masked or underflowed
    # class) gives 0, not 0 * (-inf) = NaN, and sends no NaN into either gradient.
    safe_log_q = jnp.where(p == 0, jnp.zeros((), log_q.dtype), log_q)
    return jnp.sum(-entr(p) - p * safe_log_q, axis=-1)


def entropy(p):
    r"""Shannon entropy of a discrete distribution, in nats.

    $$- \sum_{k=0}^{K - 1} \log{\left({p}_{k} \right)} {p}_{k}$$

    with $0 \log 0 = 0$. It lies in $[0, \log K]$: 0 for a point mass, $\log K$ for the
    uniform distribution. Its derivative $\partial H/\partial p_k = -\log p_k - 1$ is
    $+\infty$ at $p_k = 0$ (the one-sided limit, as ``jax.scipy.special.entr`` gives it),
    never NaN.
    Derived in ``notebooks/03_cross_entropy.ipynb``.

    Args:
        p: floating array ``(*B, K)``, probabilities on the last axis.

    Returns:
        ``(*B,)``: one entropy per distribution.

    Raises:
        TypeError: if ``p`` is not floating.
        ValueError: if ``p`` has no outcome axis.
    """
    _check_dist("entropy", "p", p)
    return _entropy(jnp.asarray(p))


def kl_divergence(log_predictions, targets):
    r"""Kullback-Leibler divergence $\mathrm{KL}(p \,\|\, q)$ of the predictions $q$ from
    the targets $p$, in nats, taking $\log q$: optax's name, arguments and meaning.

    $$\sum_{k=0}^{K - 1} \log{\left(\frac{{p}_{k}}{{q}_{k}} \right)} {p}_{k}$$

    with $p$ = ``targets`` (probabilities) and $\log q$ = ``log_predictions`` (e.g.
    ``log_softmax(z)``), evaluated as $\sum_k p_k \log p_k - p_k \log q_k$. For
    probabilities $p, q$ call ``kl_divergence(jnp.log(q), p)``; note the order: the
    argument named first is the *second* distribution of $\mathrm{KL}(p \,\|\, q)$, as in
    ``optax.kl_divergence(log_predictions, targets)``.

    $0 \log(0/q) = 0$, even where $\log q_k = -\infty$ (optax gives NaN there); it is
    $+\infty$ where $\log q_k = -\infty$ but $p_k > 0$. Always $\ge 0$, and 0 exactly
    when $p = q$ (Gibbs' inequality). Not symmetric. Given log-probabilities from logits,
    it is finite with finite gradients at logits of $\pm 10^4$ in float32, where
    ``softmax(z)`` underflows to 0 and a probability-space formula gives $\infty$ and NaN.
    Derived in ``notebooks/03_cross_entropy.ipynb``.

    Args:
        log_predictions: floating array ``(*B, K)``, $\log q$ of the approximating
            distribution.
        targets: floating array ``(*B, K)``, the reference distribution $p$.

    Returns:
        ``(*B,)``.

    Raises:
        TypeError: if either is not floating.
        ValueError: if the shapes differ.
    """
    _check_pair("kl_divergence", "log_predictions", log_predictions, "targets", targets)
    return _kl(*_promoted(log_predictions, targets))


def cross_entropy(p, q):
    r"""Cross-entropy $H(p, q)$: the expected code length of outcomes drawn from ``p``
    under a code built for ``q``, in nats.

    $$- \sum_{k=0}^{K - 1} \log{\left({q}_{k} \right)} {p}_{k}$$

    It equals $H(p) + \mathrm{KL}(p \,\|\, q) \ge H(p)$. With ``q = softmax(z)`` it is
    :func:`dlmath.losses.softmax_cross_entropy` (which works from logits, stably: use that
    one for a loss).
    Derived in ``notebooks/03_cross_entropy.ipynb``.

    Args:
        p: floating array ``(*B, K)``. q: floating array ``(*B, K)``.

    Returns:
        ``(*B,)``.

    Raises:
        TypeError: if either is not floating.
        ValueError: if the shapes differ.
    """
    _check_pair("cross_entropy", "p", p, "q", q)
    return _cross_entropy(*_promoted(p, q))
