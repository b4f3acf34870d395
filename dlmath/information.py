r"""Entropy, Kullback-Leibler divergence and cross-entropy of discrete distributions.

A distribution over ``K`` outcomes is a floating array ``(*B, K)`` of probabilities on the
last axis (non-negative, summing to 1; not checked, since values are not known under
``jit``). Logarithms are natural (nats). The convention $0 \log 0 = 0$ holds: an outcome
of probability 0 under ``p`` contributes nothing. The identity
$H(p, q) = H(p) + \mathrm{KL}(p \,\|\, q)$ and Gibbs' inequality $\mathrm{KL} \ge 0$ are
proven in ``notebooks/03_cross_entropy.ipynb``.

Names and arguments follow optax where optax has the function:
:func:`kl_divergence` ``(log_predictions, targets, axis=-1, where=None)`` takes the
*logarithm* of the approximating distribution, as ``optax.kl_divergence`` does, so it can be
fed ``log_softmax(z)`` and stays finite (with finite gradients) at logits of $\pm 10^4$,
where the probabilities underflow to 0. :func:`entropy` and :func:`cross_entropy` take
probabilities. Dtypes follow JAX's promotion (functions without parameters,
:mod:`dlmath._checks`). Each function checks its arguments, then runs its compiled body,
its ``.kernel`` (:func:`dlmath._checks.checked`).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import entr, xlogy

from dlmath import _checks

__all__ = ["entropy", "kl_divergence", "cross_entropy", "stationary_distribution", "entropy_rate"]


def _check_dist(who: str, name: str, p, axis: int = -1) -> int:
    _checks.require_floating(who, name, p, "Probabilities must be floating, e.g. "
                             "jnp.asarray(p, jnp.float32).")
    return _checks.class_axis(who, name, p, axis, "outcomes")


def _check_pair(who: str, a_name: str, a, b_name: str, b, axis: int = -1) -> int:
    ax = _check_dist(who, a_name, a, axis)
    _check_dist(who, b_name, b, axis)
    _checks.require_same_shape(who, a_name, a, b_name, b, "(*B, K)",
                               "Both distributions live on the same K outcomes; nothing is "
                               "broadcast.")
    return ax


def _promoted(*arrays):
    dtype = jnp.result_type(*arrays)
    return tuple(a.astype(dtype) for a in arrays)


def _kl_check(log_predictions, targets, axis=-1, where=None):
    who = "kl_divergence"
    _check_pair(who, "log_predictions", log_predictions, "targets", targets, axis)
    _checks.where_mask(who, where, _checks.shape_of(targets), "targets (*B, K)")


@_checks.checked(lambda p: _check_dist("entropy", "p", p))
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
    # entr(p) = -p log p with entr(0) = 0; its derivative -log p - 1 is +inf at p = 0 (the
    # one-sided limit), never the NaN that d/dp xlogy(p, p) gives there
    return jnp.sum(entr(p), axis=-1)


@_checks.checked(_kl_check, static_argnames="axis")
def kl_divergence(log_predictions, targets, axis: int = -1, where=None):
    r"""Kullback-Leibler divergence $\mathrm{KL}(p \,\|\, q)$ of the predictions $q$ from
    the targets $p$, in nats, taking $\log q$: optax's name, arguments and meaning.

    $$\sum_{k=0}^{K - 1} \log{\left(\frac{{p}_{k}}{{q}_{k}} \right)} {p}_{k}$$

    with $p$ = ``targets`` (probabilities) and $\log q$ = ``log_predictions`` (e.g.
    ``log_softmax(z)``), evaluated as $\sum_k p_k \log p_k - p_k \log q_k$. For
    probabilities $p, q$ call ``kl_divergence(jnp.log(q), p)``; note the order: the
    argument named first is the *second* distribution of $\mathrm{KL}(p \,\|\, q)$, as in
    ``optax.kl_divergence(log_predictions, targets)``.

    $0 \log(0/q) = 0$, even where $\log q_k = -\infty$ (optax gives NaN there), and a
    class with $p_k = 0$ has derivative 0 in $p_k$ and in $\log q_k$ (the term is held at
    0); it is $+\infty$ where $\log q_k = -\infty$ but $p_k > 0$. Always $\ge 0$, and 0 exactly
    when $p = q$ (Gibbs' inequality). Not symmetric. Given log-probabilities from logits,
    it is finite with finite gradients at logits of $\pm 10^4$ in float32, where
    ``softmax(z)`` underflows to 0 and a probability-space formula gives $\infty$ and NaN.
    Derived in ``notebooks/03_cross_entropy.ipynb``.

    With ``where`` (optax's argument), only the outcomes where it is ``True`` enter the sum
    (a row with none left gives 0); the values are optax's, and the gradients are 0 at the
    masked entries, whatever they hold.

    Args:
        log_predictions: floating array ``(*B, K)``, $\log q$ of the approximating
            distribution.
        targets: floating array ``(*B, K)``, the reference distribution $p$.
        axis: the axis of the ``K`` outcomes, a Python int (static under ``jit``; optax also
            takes a tuple of axes, dlmath one axis).
        where: ``None``, or a bool mask broadcastable to ``(*B, K)``.

    Returns:
        ``(*B,)`` (the shape without ``axis``).

    Raises:
        TypeError: if either is not floating, or ``where`` is not bool.
        ValueError: if the shapes differ, ``axis`` is not an axis (or ``K = 0``), or ``where``
            does not broadcast.
    """
    log_q, p = _promoted(log_predictions, targets)
    # sum_k p_k log p_k - p_k log q_k with 0 log 0 = 0. Where p_k = 0 the log q_k is
    # replaced by 0 before the product, so a log q_k of -inf (a masked or underflowed
    # class) gives 0, not 0 * (-inf) = NaN, and sends no NaN into either gradient. A
    # masked entry is replaced by p = 1, log q = 0 (a term of 0, finite derivatives).
    # One `where` per term (as optax's one), which XLA fuses into the sum; log p is taken of
    # a p that is 1 where p = 0, so the branch the `where` drops sends no inf into a gradient.
    drop = p == 0
    if where is not None:
        p, drop = jnp.where(where, p, jnp.ones((), p.dtype)), drop | ~where
    log_p = jnp.log(jnp.where(drop, jnp.ones((), p.dtype), p))
    terms = p * jnp.where(drop, jnp.zeros((), p.dtype), log_p - log_q)
    return jnp.sum(terms, axis=axis, where=where)


@_checks.checked(lambda p, q: _check_pair("cross_entropy", "p", p, "q", q))
def cross_entropy(p, q):
    r"""Cross-entropy $H(p, q)$: the expected code length of outcomes drawn from ``p``
    under a code built for ``q``, in nats.

    $$- \sum_{k=0}^{K - 1} \log{\left({q}_{k} \right)} {p}_{k}$$

    It equals $H(p) + \mathrm{KL}(p \,\|\, q) \ge H(p)$. With ``q = softmax(z)`` it is
    :func:`dlmath.losses.softmax_cross_entropy` (which works from logits, stably: use that
    one for a loss).
    Derived in ``notebooks/03_cross_entropy.ipynb``. A class with $p_k = 0$ contributes 0
    (even where $q_k = 0$), with derivatives 0 in $p_k$ and $q_k$, as in
    :func:`kl_divergence` ($\partial/\partial q_k = -p_k/q_k$ would be $0/0$ there).

    Args:
        p: floating array ``(*B, K)``. q: floating array ``(*B, K)``.

    Returns:
        ``(*B,)``.

    Raises:
        TypeError: if either is not floating.
        ValueError: if the shapes differ.
    """
    p, q = _promoted(p, q)
    q = jnp.where(p == 0, jnp.ones((), q.dtype), q)  # 0 log 1 = 0, and no 0/0 in the gradient
    return -jnp.sum(xlogy(p, q), axis=-1)


def _state_matrix(table):
    """The chain on contexts: ``M[s, s']`` = P(next token x | s) where ``s'`` is ``s``
    shifted by one token with ``x`` appended (``s' = (s V + x) mod V**n``)."""
    M, V = table.shape
    nxt = (jnp.arange(M)[:, None] * V + jnp.arange(V)[None, :]) % M
    return jnp.zeros((M, M), table.dtype).at[jnp.arange(M)[:, None], nxt].add(table)


def _stationary(table):
    ct = jnp.promote_types(table.dtype, jnp.float32)
    P = _state_matrix(table.astype(ct))
    M = P.shape[0]
    A = (P.T - jnp.eye(M, dtype=ct)).at[-1].set(1.0)  # pi (P - I) = 0 and sum(pi) = 1
    return jnp.linalg.solve(A, jnp.zeros(M, ct).at[-1].set(1.0))


@_checks.checked(lambda table: _checks.transition_table("stationary_distribution", "table",
                                                        table))
def stationary_distribution(table):
    r"""The stationary distribution of a Markov chain of order $n$ over $V$ tokens, on its
    $V^n$ contexts: the left eigenvector of eigenvalue 1 of the context chain,
    $\pi = \pi A$, $\sum_s \pi_s = 1$, where $A_{s s'} = P(x \mid s)$ when $s'$ is $s$
    shifted by the token $x$ (``s' = (s V + x) mod V**n``) and 0 otherwise. Solved as the
    linear system $(A^T - I)\pi = 0$ with its last equation replaced by
    $\sum_s \pi_s = 1$, unique when the chain is irreducible (every entry of a table from
    :func:`dlmath.data.markov_chain` is positive; the Perron-Frobenius theorem, argued in
    ``notebooks/13_language_models.ipynb``, where the closed form of a chain of two states
    is proven).

    Args:
        table: floating ``(V**n, V)``, rows the next-token distributions (not checked to sum
            to 1: values are unknown under ``jit``).

    Returns:
        ``(V**n,)`` in at least float32.

    Raises:
        TypeError: a non-floating table.
        ValueError: a shape that is not ``(V**n, V)``.
    """
    return _stationary(table)


@_checks.checked(lambda table: _checks.transition_table("entropy_rate", "table", table))
def entropy_rate(table):
    r"""The entropy rate of a stationary Markov chain, in nats per token: the entropy of
    the next token given its context, averaged over the stationary distribution $\pi$
    (:func:`stationary_distribution`) of the contexts,

    $$- \sum_{\substack{0 \leq s \leq M - 1\\0 \leq x \leq V -
    1}} \log{\left({P}_{s,x} \right)} {P}_{s,x} {\pi}_{s}$$

    ($M = V^n$ contexts, $0 \log 0 = 0$). For a stationary source it equals
    $\lim_T H(x_1 \dots x_T) / T$, and no model's expected next-token cross-entropy on the
    source is below it (Gibbs' inequality, argued in chapter 13).

    Args:
        table: as :func:`stationary_distribution`.

    Returns:
        a scalar in at least float32.

    Raises:
        TypeError, ValueError: as :func:`stationary_distribution`.
    """
    ct = jnp.promote_types(table.dtype, jnp.float32)
    return jnp.sum(_stationary(table) * jnp.sum(entr(table.astype(ct)), axis=-1))
