r"""Regularisation: penalties added to a loss (L2, L1), the L1 proximal step, dropout.

Penalties are added to the loss that :func:`dlmath.training.fit` minimises, so there is one
way to regularise: ``loss(params, ...) + l2_penalty(params, l2, mask=...)``. Under
:func:`dlmath.optim.sgd` the L2 gradient $\lambda\theta$ is exactly weight decay; under Adam
it is not (use :func:`dlmath.optim.adamw`; chapter 05 shows the difference). The L2 penalty
is the negative log of a Gaussian prior on the weights, the L1 penalty that of a Laplace
prior; :func:`soft_threshold` is the proximal step of the L1 penalty, which sets small
weights exactly to 0. :func:`dropout` is inverted dropout (scaled at training time, the
identity at evaluation). ``notebooks/09_normalization.ipynb`` derives them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks, _reduce

__all__ = ["l2_penalty", "l1_penalty", "soft_threshold", "dropout"]


# The penalties keep their plain form (no _checks.checked): their mask may be a callable,
# as optax's masks, which a compiled function cannot take; they are traced inside the
# caller's loss instead.
def l2_penalty(params, l2, *, mask=None):
    r"""$\frac{\lambda}{2} \sum_\ell \lVert \theta_\ell \rVert^2$ over the leaves of ``params``
    that ``mask`` selects (every leaf by default); its gradient is $\lambda\theta_\ell$.

    Args:
        params: a pytree of floating arrays.
        l2: $\lambda \ge 0$, a real scalar (may be traced).
        mask: ``None`` (every leaf), or a pytree of Python bools with the structure of
            ``params`` or a prefix of it (``False``: not penalised, e.g. the biases), or a
            callable ``params -> such a tree`` (as optax's masks).

    Returns:
        A scalar in the parameters' dtype. The sum of squares is formed in at least float32
        and scaled by a power of two near the largest $|\theta|$, so it overflows only where
        the penalty itself does: float16 weights of 300 (whose squares pass 65504) and
        float32 weights of $10^{20}$ with a small $\lambda$ give the float64 value rounded
        to their dtype. Away from those limits the value is the plain sum's, bit for bit.

    Raises:
        TypeError: non-floating leaves; a non-real ``l2``; mask leaves that are not bools.
        ValueError: ``l2 < 0`` or not finite; a mask that does not fit ``params``.
    """
    who = "l2_penalty"
    _checks.hyperparameter(who, "l2", l2, low=0.0)
    dtype, leaves = _penalised(who, params, mask)
    scale, total = _reduce.scaled_sum(leaves, 2, dtype)    # sum of squares = scale**2 * total
    return ((0.5 * l2 * scale) * scale * total).astype(dtype)


def _penalised(who: str, params, mask):
    """The parameters' dtype and the leaves that ``mask`` selects."""
    dtype = _checks.float_dtype_of_tree(who, "params", params)
    flags = jax.tree_util.tree_leaves(_checks.mask_tree(who, mask, params))
    leaves = jax.tree_util.tree_leaves(params)
    return dtype, [p for p, f in zip(leaves, flags, strict=True) if f]


def l1_penalty(params, l1, *, mask=None):
    r"""$\lambda \sum_\ell \lVert \theta_\ell \rVert_1$ (the sum of absolute values) over the
    leaves of ``params`` that ``mask`` selects; the negative log of a Laplace prior
    $p(\theta) \propto e^{-\lambda|\theta|}$. Its (sub)gradient is $\lambda\,\mathrm{sign}
    (\theta)$, 0 at $\theta = 0$ ($\mathrm{sign}(0) = 0$; autodiff of ``jnp.abs`` would
    give 1 there); gradient steps on it oscillate around 0 instead of reaching it, which
    :func:`soft_threshold` does exactly.

    Args:
        params, mask: as :func:`l2_penalty`.
        l1: $\lambda \ge 0$, a real scalar (may be traced).

    Returns:
        A scalar in the parameters' dtype, the sum formed as :func:`l2_penalty`'s (in at
        least float32, scaled by a power of two: float16 weights whose sum passes 65504 give
        the float64 value rounded to float16).

    Raises:
        TypeError, ValueError: as :func:`l2_penalty` (for ``l1``).
    """
    who = "l1_penalty"
    _checks.hyperparameter(who, "l1", l1, low=0.0)
    dtype, leaves = _penalised(who, params, mask)
    scale, total = _reduce.scaled_sum(leaves, 1, dtype)    # sum of |theta| = scale * total
    return ((l1 * scale) * total).astype(dtype)


def _check_soft_threshold(x, threshold):
    _checks.require_floating("soft_threshold", "x", x)
    _checks.hyperparameter("soft_threshold", "threshold", threshold, low=0.0)


@_checks.checked(_check_soft_threshold)
def soft_threshold(x, threshold):
    r"""Soft-thresholding, the proximal step of $\tau|w|$ applied entrywise:

    $$\operatorname{sign}{\left(w \right)} \max\left(0, - \tau + \left|{w}\right|\right)$$

    $\mathrm{prox}_{\tau|\cdot|}(v) = \arg\min_w \tfrac12 (w - v)^2 + \tau |w|$, with
    $\tau$ = ``threshold``. Every entry with $|v| \le \tau$ becomes exactly 0. The
    proximal-gradient (ISTA) step for a loss $f$ plus ``l1_penalty(w, l1)`` with learning
    rate $\eta$ is ``soft_threshold(w - eta * grad_f(w), eta * l1)``.

    Args:
        x: a floating array, any shape.
        threshold: $\tau \ge 0$, a real scalar (may be traced).

    Returns:
        The shape and dtype of ``x``.

    Raises:
        TypeError: a non-floating ``x``; a non-real ``threshold``.
        ValueError: ``threshold < 0`` or not finite.
    """
    x = jnp.asarray(x)
    return jnp.sign(x) * jnp.maximum(jnp.abs(x) - jnp.asarray(threshold, x.dtype), 0)


def _check_dropout(key, x, rate, *, deterministic=False):
    who = "dropout"
    _checks.require_floating(who, "x", x)
    _checks.hyperparameter(who, "rate", rate, low=0.0, high=1.0, high_open=True,
                           hint="rate is the probability of dropping an entry; use "
                                "deterministic=True (not rate=0 tricks) at evaluation.")
    _checks.require_flag(who, "deterministic", deterministic)
    _checks.require_key(who, key, "the mask")


@_checks.checked(_check_dropout, static_argnames=("deterministic",))
def dropout(key, x, rate, *, deterministic=False):
    r"""Inverted dropout: each entry kept with probability $1 - p$ and scaled by
    $1/(1 - p)$, or set to 0,

    $$\frac{m x}{1 - p}$$

    with $m \sim \mathrm{Bernoulli}(1 - p)$ drawn independently per entry from ``key`` and
    $p$ = ``rate``. The expectation over the mask is $x$ and the variance
    $x^2 p/(1 - p)$, so at evaluation time (``deterministic=True``) dropout is the
    identity. As flax's ``nn.Dropout(rate)`` (whose mask comes from its ``'dropout'`` rng).

    Args:
        key: a ``jax.random`` key; the same key gives the same mask.
        x: a floating array, any shape.
        rate: $p \in [0, 1)$, the probability of dropping an entry (may be traced).
            $p = 1$ is refused: nothing would be kept and the scale $1/(1 - p)$ is infinite.
        deterministic: ``True`` returns ``x`` unchanged (evaluation).

    Returns:
        The shape and dtype of ``x``.

    Raises:
        TypeError: a non-floating ``x``; a non-real ``rate``; a ``deterministic`` that is not a
            bool; a ``key`` that is not a ``jax.random`` key.
        ValueError: ``rate`` outside ``[0, 1)`` or not finite.
    """
    x = jnp.asarray(x)
    if deterministic:
        return x
    keep = 1 - jnp.asarray(rate, jnp.float32)  # one mask for every dtype of x
    mask = jax.random.bernoulli(key, keep, x.shape)
    return jnp.where(mask, x / keep.astype(x.dtype), jnp.zeros((), x.dtype))
