r"""The forward process in closed form, its posterior, the noise-prediction loss and the
weights the bound gives it.

Notation as :mod:`dlmath.diffusion`. Derived in ``notebooks/14_diffusion.ipynb``.
"""

from __future__ import annotations

import jax.numpy as jnp

from dlmath import _checks, _reduce
from dlmath.diffusion._common import (
    at,
    check_betas,
    check_examples,
    check_like,
    check_steps,
    cumulative,
    promoted,
)

__all__ = ["q_sample", "posterior_mean_variance", "vlb_weights", "noise_prediction_loss"]


def _check_q_sample(x0, t, noise, betas) -> None:
    who = "q_sample"
    check_examples(who, "x0", x0)
    check_like(who, "x0", x0, ("noise", noise))
    check_steps(who, "t", t, x0, check_betas(who, betas))


@_checks.checked(_check_q_sample)
def q_sample(x0, t, noise, betas):
    r"""A draw of $x_t \sim q(x_t \mid x_0)$, the forward process in closed form, entry by
    entry:

    $$\epsilon \sqrt{1 - {\bar{\alpha}}_{t}} + x_{0} \sqrt{{\bar{\alpha}}_{t}}$$

    (diffusers' ``add_noise``); ``noise`` is the standard-normal $\epsilon$, so the result
    is differentiable in ``x0`` and ``noise``.

    Args:
        x0: floating ``(N, *F)``, the clean examples.
        t: integer ``(N,)``, each example's step in $[0, T)$ (checked when concrete; under
            ``jit`` a step out of range gives NaN for that example).
        noise: floating ``(N, *F)``, draws of $\mathcal N(0, 1)$.
        betas: floating ``(T,)``, each in $(0, 1)$.

    Returns:
        ``(N, *F)`` in the promoted dtype of ``x0``, ``noise`` and ``betas``.

    Raises:
        TypeError: non-floating arrays; non-integer ``t``.
        ValueError: ``noise`` of another shape than ``x0``; ``t`` not ``(N,)``; a concrete
            step outside $[0, T)$; bad ``betas`` (as :func:`alphas_cumprod`).

    Derived in ``notebooks/14_diffusion.ipynb``.
    """
    x0, noise, betas = promoted(x0, noise, betas)
    abar, _, noise_share, _ = (at(a, t, x0) for a in cumulative(betas))
    return (jnp.sqrt(abar) * x0 + jnp.sqrt(noise_share) * noise).astype(x0.dtype)


def _check_posterior(x0, x_t, t, betas) -> None:
    who = "posterior_mean_variance"
    check_examples(who, "x0", x0)
    check_like(who, "x0", x0, ("x_t", x_t))
    check_steps(who, "t", t, x0, check_betas(who, betas))


@_checks.checked(_check_posterior)
def posterior_mean_variance(x0, x_t, t, betas):
    r"""The mean and the variance of the posterior
    $q(x_{t-1} \mid x_t, x_0) = \mathcal N(\tilde\mu_t, \tilde\beta_t I)$, entry by entry:

    $$\frac{x_{0} \sqrt{{\bar{\alpha}}_{t - 1}} {\beta}_{t}}{1 - {\bar{\alpha}}_{t}} +
    \frac{x_{t} \left(1 - {\bar{\alpha}}_{t - 1}\right) \sqrt{1 -
    {\beta}_{t}}}{1 - {\bar{\alpha}}_{t}}$$

    $$\frac{\left(1 - {\bar{\alpha}}_{t - 1}\right) {\beta}_{t}}{1 - {\bar{\alpha}}_{t}}$$

    with $\bar\alpha_0 = 1$: at $t = 1$ (the code's step 0) the posterior is the point $x_0$
    (variance 0).

    Args:
        x0: floating ``(N, *F)``, the clean examples.
        x_t: floating ``(N, *F)``, the noised ones at step ``t``.
        t: integer ``(N,)`` in $[0, T)$ (under ``jit``, out of range gives NaN).
        betas: floating ``(T,)``, each in $(0, 1)$.

    Returns:
        ``(mean, variance)``: ``mean (N, *F)`` and ``variance (N, 1, ..., 1)`` (one per
        example, broadcastable against ``x0``; ``(N,)`` for ``x0 (N,)``), both in the
        promoted dtype of ``x0``, ``x_t`` and ``betas``.

    Raises:
        TypeError, ValueError: as :func:`q_sample` (``x_t`` in place of ``noise``).

    Derived in ``notebooks/14_diffusion.ipynb``.
    """
    x0, x_t, betas = promoted(x0, x_t, betas)
    _, abar_prev, noise_share, prev_share = (at(a, t, x0) for a in cumulative(betas))
    beta = at(betas.astype(noise_share.dtype), t, x0)
    mean = (jnp.sqrt(abar_prev) * beta * x0 + jnp.sqrt(1 - beta) * prev_share * x_t) \
        / noise_share
    return mean.astype(x0.dtype), (prev_share / noise_share * beta).astype(x0.dtype)


# ------------------------------------------------------------------ the loss


@_checks.checked(lambda betas: check_betas("vlb_weights", betas))
def vlb_weights(betas):
    r"""The weight $w_t$ that turns the bound's term at step $t$ into a squared error of the
    noise prediction, $w_t \lVert \epsilon - \hat\epsilon \rVert^2$ (the DDPM paper's $L_{t-1}$;
    reverse variances
    $\tilde\beta_t$, and at $t = 1$ a Gaussian decoder of variance $\beta_1$; constants
    dropped):

    $$\begin{cases} \frac{1}{2 - 2 {\beta}_{t}} & \text{for}\: t =
    1 \\\frac{{\beta}_{t}}{\left(1 - {\bar{\alpha}}_{t - 1}\right) \left(2 -
    2 {\beta}_{t}\right)} & \text{otherwise} \end{cases}$$

    equal to $\tfrac12(\mathrm{SNR}_{t-1}/\mathrm{SNR}_t - 1)$ for $t \ge 2$ (the DDPM
    paper's $\beta_t^2 / (2\sigma_t^2 \alpha_t (1 - \bar\alpha_t))$ with
    $\sigma_t^2 = \tilde\beta_t$, the reverse step's variance). Pass
    ``vlb_weights(betas)[t]`` as the ``weights`` of :func:`noise_prediction_loss`.

    Args:
        betas: floating ``(T,)``, each in $(0, 1)$.

    Returns:
        ``(T,)`` in the dtype of ``betas``, formed in at least float32.

    Raises:
        TypeError, ValueError: as :func:`alphas_cumprod`.

    Derived in ``notebooks/14_diffusion.ipynb``.
    """
    b = betas.astype(_reduce.wide(betas.dtype))
    prev_share = cumulative(betas)[3]
    first = 0.5 / (1 - b[:1])
    rest = b[1:] / (2 * (1 - b[1:]) * prev_share[1:])
    return jnp.concatenate([first, rest]).astype(betas.dtype)


def _check_loss(predicted_noise, noise, weights=None) -> None:
    who = "noise_prediction_loss"
    check_examples(who, "predicted_noise", predicted_noise)
    check_like(who, "predicted_noise", predicted_noise, ("noise", noise))
    if weights is not None:
        _checks.require_floating(who, "weights", weights)
        n = _checks.shape_of(noise)[0]
        if _checks.shape_of(weights) != (n,):
            raise ValueError(f"{who}: weights must have shape (N,) = ({n},), one per example "
                             f"of noise (N, *F); got {_checks.fmt(_checks.shape_of(weights))}."
                             " For the bound: weights = vlb_weights(betas)[t].")


@_checks.checked(_check_loss)
def noise_prediction_loss(predicted_noise, noise, weights=None):
    r"""The noise-prediction loss of each example, its squared error summed over the features
    and weighted:

    $$w \sum_{a=0}^{D - 1} \left({\epsilon}_{a} - {\hat{\epsilon}}_{a}\right)^{2}$$

    with $D$ the features of one example. ``weights=None`` ($w = 1$) is the DDPM paper's
    $L_\text{simple}$ (diffusers trains on the mean over all entries instead, $1/D$ of it);
    ``weights = vlb_weights(betas)[t]`` gives the terms of the bound.

    Args:
        predicted_noise: floating ``(N, *F)``, $\hat\epsilon = \epsilon_\theta(x_t, t)$.
        noise: floating ``(N, *F)``, the $\epsilon$ that made $x_t$ (:func:`q_sample`).
        weights: ``None`` or floating ``(N,)``.

    Returns:
        ``(N,)``, one loss per example (not reduced over the batch: train on its mean), in
        the promoted dtype of the arguments, summed in at least float32; 0 for no features.

    Raises:
        TypeError: non-floating arrays.
        ValueError: a scalar ``predicted_noise``; shapes that differ; ``weights`` not ``(N,)``.

    Derived in ``notebooks/14_diffusion.ipynb``.
    """
    arrays = (predicted_noise, noise) + (() if weights is None else (weights,))
    dtype = jnp.result_type(*arrays)
    wide = _reduce.wide(dtype)
    diff = predicted_noise.astype(wide) - noise.astype(wide)
    loss = jnp.sum(diff**2, axis=tuple(range(1, diff.ndim)))
    if weights is not None:
        loss = weights.astype(wide) * loss
    return loss.astype(dtype)
