r"""Sampling from a diffusion model: the ancestral (DDPM) step and sampler, and the
deterministic DDIM step and sampler, for a model $\hat\epsilon = \epsilon_\theta(x_t, t)$ that
predicts the noise in $x_t$.

Notation and checks as :mod:`dlmath.diffusion` (formulas count steps $t = 1 \dots T$
with $\bar\alpha_0 = 1$; the code's time steps are 0-based, its step $t$ is step $t + 1$ of
the formulas). Both updates first estimate the clean data from the prediction,
$\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\,\hat\epsilon) / \sqrt{\bar\alpha_t}$ (Tweedie's
formula when $\hat\epsilon$ is exact); DDPM then draws from the posterior
$q(x_{t-1} \mid x_t, \hat x_0)$, DDIM moves to $\bar\alpha_{t'}$ along the same
$\hat\epsilon$ with no noise. The samplers take the model as a function
``eps_fn(x_t, t) -> predicted noise`` (``t`` an int32 ``(N,)`` array, every entry the same
step), run the steps in a ``jax.lax.scan``, and are compiled once per ``eps_fn`` object:
build it once and reuse it.
Everything is derived in ``notebooks/14_diffusion.ipynb``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks
from dlmath.diffusion._common import (
    at,
    check_betas,
    check_examples,
    check_like,
    check_steps,
    cumulative,
)

__all__ = ["ddpm_step", "ddpm_sample", "ddim_step", "ddim_sample"]


def _check_ddpm_step(x_t, t, predicted_noise, noise, betas) -> None:
    who = "ddpm_step"
    check_examples(who, "x_t", x_t)
    check_like(who, "x_t", x_t, ("predicted_noise", predicted_noise), ("noise", noise))
    check_steps(who, "t", t, x_t, check_betas(who, betas))


@_checks.checked(_check_ddpm_step)
def ddpm_step(x_t, t, predicted_noise, noise, betas):
    r"""One ancestral step of the DDPM paper, $x_{t-1}$ drawn from
    $\mathcal N(\mu_\theta(x_t, t), \tilde\beta_t I)$, entry by entry:

    $$z \sqrt{\frac{\left(1 - {\bar{\alpha}}_{t - 1}\right) {\beta}_{t}}{1 -
    {\bar{\alpha}}_{t}}} + \frac{- \frac{\hat{\epsilon} {\beta}_{t}}{\sqrt{1 -
    {\bar{\alpha}}_{t}}} + x_{t}}{\sqrt{1 - {\beta}_{t}}}$$

    the posterior mean at $\hat x_0$ and the posterior variance $\tilde\beta_t$
    (diffusers' ``DDPMScheduler.step`` with ``variance_type="fixed_small"`` and no
    clipping). At $t = 1$ (the code's step 0) the variance is 0 and ``noise`` is not used.

    Args:
        x_t: floating ``(N, *F)``.
        t: integer ``(N,)`` in $[0, T)$ (under ``jit``, out of range gives NaN).
        predicted_noise: floating ``(N, *F)``, $\hat\epsilon = \epsilon_\theta(x_t, t)$.
        noise: floating ``(N, *F)``, the draw $z \sim \mathcal N(0, I)$.
        betas: floating ``(T,)``, each in $(0, 1)$.

    Returns:
        $x_{t-1}$ ``(N, *F)`` in the promoted dtype of the arrays.

    Raises:
        TypeError: non-floating arrays; non-integer ``t``.
        ValueError: arrays of different shapes; ``t`` not ``(N,)``; a concrete step outside
            $[0, T)$; bad ``betas``.

    Derived in ``notebooks/14_diffusion.ipynb``.
    """
    dtype = jnp.result_type(x_t, predicted_noise, noise, betas)
    _, _, share, prev_share = (at(c, t, x_t) for c in cumulative(betas))
    beta = at(betas.astype(share.dtype), t, x_t)
    x, eps_hat, z = (v.astype(share.dtype) for v in (x_t, predicted_noise, noise))
    mean = (x - beta / jnp.sqrt(share) * eps_hat) / jnp.sqrt(1 - beta)
    return (mean + jnp.sqrt(prev_share / share * beta) * z).astype(dtype)


def _check_eps_fn(who: str, eps_fn, x_T) -> None:
    _checks.require_callable(who, "eps_fn", eps_fn,
                             "a function eps_fn(x_t, t) -> the predicted noise of x_t")
    steps = jax.ShapeDtypeStruct((_checks.shape_of(x_T)[0],), jnp.int32)
    out = jax.eval_shape(eps_fn, jax.ShapeDtypeStruct(_checks.shape_of(x_T),
                                                      _checks.dtype_of(x_T, who, "x_T")), steps)
    shape, dtype = getattr(out, "shape", None), getattr(out, "dtype", None)
    if shape != _checks.shape_of(x_T) or not jnp.issubdtype(dtype, jnp.floating):
        got = f"{_checks.fmt(shape)} of dtype {dtype}" if shape is not None else type(out)
        raise ValueError(f"{who}: eps_fn(x_t, t) must return the predicted noise, floating, "
                         f"of the shape of x_T (N, *F) = {_checks.fmt(_checks.shape_of(x_T))};"
                         f" got {got}. t is given as an int32 (N,) array.")


def _check_ddpm_sample(key, eps_fn, x_T, betas) -> None:
    who = "ddpm_sample"
    _checks.require_key(who, key, "the noise of every step")
    check_examples(who, "x_T", x_T)
    check_betas(who, betas)
    _check_eps_fn(who, eps_fn, x_T)


@_checks.checked(_check_ddpm_sample, static_argnames=("eps_fn",))
def ddpm_sample(key, eps_fn, x_T, betas):
    r"""Ancestral sampling: :func:`ddpm_step` from $t = T$ down to $1$, from ``x_T``
    (draws of $\mathcal N(0, I)$), each step's update

    $$z \sqrt{\frac{\left(1 - {\bar{\alpha}}_{t - 1}\right) {\beta}_{t}}{1 -
    {\bar{\alpha}}_{t}}} + \frac{- \frac{\hat{\epsilon} {\beta}_{t}}{\sqrt{1 -
    {\bar{\alpha}}_{t}}} + x_{t}}{\sqrt{1 - {\beta}_{t}}}$$

    with $\hat\epsilon$ = ``eps_fn(x_t, t)`` and $z$ drawn from ``fold_in(key, t)`` (in
    float32, then cast, so a key gives the same draws in every dtype).

    Args:
        key: a ``jax.random`` key.
        eps_fn: ``eps_fn(x_t, t) -> (N, *F)``, JAX-traceable; ``t`` an int32 ``(N,)``.
        x_T: floating ``(N, *F)``, the start.
        betas: floating ``(T,)``, each in $(0, 1)$.

    Returns:
        $x_0$ ``(N, *F)`` in the promoted dtype of ``x_T`` and ``betas``.

    Raises:
        TypeError: a bad key; ``eps_fn`` not callable; non-floating arrays.
        ValueError: a scalar ``x_T``; bad ``betas``; ``eps_fn`` returning another shape.

    Derived in ``notebooks/14_diffusion.ipynb``.
    """
    dtype = jnp.result_type(x_T, betas)
    n = x_T.shape[0]

    def body(x, step):
        t = jnp.full((n,), step, jnp.int32)
        z = jax.random.normal(jax.random.fold_in(key, step), x.shape, jnp.float32)
        eps_hat = eps_fn(x, t).astype(dtype)
        return ddpm_step.kernel(x, t, eps_hat, z.astype(dtype), betas).astype(dtype), None

    steps = jnp.arange(betas.shape[0] - 1, -1, -1, dtype=jnp.int32)
    return jax.lax.scan(body, x_T.astype(dtype), steps)[0]


def _check_ddim_step(x_t, t, t_prev, predicted_noise, betas) -> None:
    who = "ddim_step"
    check_examples(who, "x_t", x_t)
    check_like(who, "x_t", x_t, ("predicted_noise", predicted_noise))
    num_steps = check_betas(who, betas)
    check_steps(who, "t", t, x_t, num_steps)
    check_steps(who, "t_prev", t_prev, x_t, num_steps, low=-1)


@_checks.checked(_check_ddim_step)
def ddim_step(x_t, t, t_prev, predicted_noise, betas):
    r"""One deterministic DDIM step ($\eta = 0$) from step $t$ to step $t'$ = ``t_prev``,
    entry by entry:

    $$\hat{\epsilon} \sqrt{1 - {\bar{\alpha}}_{t'}} +
    \frac{\left(- \hat{\epsilon} \sqrt{1 - {\bar{\alpha}}_{t}} +
    x_{t}\right) \sqrt{{\bar{\alpha}}_{t'}}}{\sqrt{{\bar{\alpha}}_{t}}}$$

    the point of noise level $\bar\alpha_{t'}$ on the line through $\hat x_0$ along
    $\hat\epsilon$ (diffusers' ``DDIMScheduler.step`` with ``eta=0``, no clipping).
    The code's steps are 0-based: ``t_prev = -1`` (step $t' = 0$, $\bar\alpha_0 = 1$)
    returns $\hat x_0$.

    Args:
        x_t: floating ``(N, *F)``.
        t: integer ``(N,)`` in $[0, T)$.
        t_prev: integer ``(N,)`` in $[-1, T)$, the step to go to (usually below ``t``).
        predicted_noise: floating ``(N, *F)``, $\hat\epsilon = \epsilon_\theta(x_t, t)$.
        betas: floating ``(T,)``, each in $(0, 1)$.

    Returns:
        $x_{t'}$ ``(N, *F)`` in the promoted dtype of the arrays (under ``jit``, NaN for an
        example whose step is out of range).

    Raises:
        TypeError: non-floating arrays; non-integer steps.
        ValueError: arrays of different shapes; steps not ``(N,)`` or out of range; bad
            ``betas``.

    Derived in ``notebooks/14_diffusion.ipynb``.
    """
    dtype = jnp.result_type(x_t, predicted_noise, betas)
    abar, _, share, _ = cumulative(betas)
    one, zero = jnp.ones((1,), abar.dtype), jnp.zeros((1,), abar.dtype)
    abar_prev = at(jnp.concatenate([one, abar]), _checks.as_ids(t_prev) + 1, x_t)
    share_prev = at(jnp.concatenate([zero, share]), _checks.as_ids(t_prev) + 1, x_t)
    abar, share = at(abar, t, x_t), at(share, t, x_t)
    x, eps_hat = x_t.astype(abar.dtype), predicted_noise.astype(abar.dtype)
    x0_hat = (x - jnp.sqrt(share) * eps_hat) / jnp.sqrt(abar)
    return (jnp.sqrt(abar_prev) * x0_hat + jnp.sqrt(share_prev) * eps_hat).astype(dtype)


def _timesteps(num_train_steps: int, num_steps: int):
    """The ``num_steps`` steps DDIM visits, from ``T - 1`` down, evenly spaced ("trailing"
    spacing), and the step each goes to (the last goes to -1)."""
    ts = np.round(num_train_steps - np.arange(num_steps) * num_train_steps / num_steps)
    ts = ts.astype(np.int32) - 1
    return ts, np.append(ts[1:], -1).astype(np.int32)


def _check_ddim_sample(eps_fn, x_T, betas, num_steps=None) -> None:
    who = "ddim_sample"
    check_examples(who, "x_T", x_T)
    T = check_betas(who, betas)
    if num_steps is not None:
        _checks.count(who, "num_steps", num_steps, low=1, high=T)
    _check_eps_fn(who, eps_fn, x_T)


@_checks.checked(_check_ddim_sample, static_argnames=("eps_fn", "num_steps"))
def ddim_sample(eps_fn, x_T, betas, num_steps: int | None = None):
    r"""Deterministic DDIM sampling: ``num_steps`` :func:`ddim_step` updates from ``x_T``,
    over the steps $\tau_i = \mathrm{round}(T - iT/S) - 1$, $i = 0 \dots S - 1$
    (diffusers' "trailing" spacing, 0-based as the code's steps: the first is $T - 1$), each
    to the next and the last to $-1$ ($\bar\alpha_0 = 1$ of the formulas):

    $$\hat{\epsilon} \sqrt{1 - {\bar{\alpha}}_{t'}} +
    \frac{\left(- \hat{\epsilon} \sqrt{1 - {\bar{\alpha}}_{t}} +
    x_{t}\right) \sqrt{{\bar{\alpha}}_{t'}}}{\sqrt{{\bar{\alpha}}_{t}}}$$

    The same ``x_T`` gives the same samples (no noise is drawn), so the number of steps can
    be compared on one start. Where the schedule ends with $\bar\alpha_T$ near 0 (the
    cosine schedule, whose last beta is clipped at 0.999), the first step multiplies an
    error of $\hat\epsilon$ by $\sqrt{\bar\alpha_{t'} / \bar\alpha_T}$, which is large:
    a learned model then samples poorly with DDIM. The ideal prediction
    $\mathbb E[\epsilon \mid x_t]$ does not suffer: its $\hat x_0$ is $\mathbb E[x_0 \mid x_t]$,
    bounded at every level.

    Args:
        eps_fn: ``eps_fn(x_t, t) -> (N, *F)``, JAX-traceable; ``t`` an int32 ``(N,)``.
        x_T: floating ``(N, *F)``, the start (draws of $\mathcal N(0, I)$).
        betas: floating ``(T,)``, each in $(0, 1)$.
        num_steps: $S \in [1, T]$, a Python int; ``None``: $S = T$.

    Returns:
        $\hat x_0$ ``(N, *F)`` in the promoted dtype of ``x_T`` and ``betas``.

    Raises:
        TypeError: ``eps_fn`` not callable; non-floating arrays; ``num_steps`` not an int.
        ValueError: a scalar ``x_T``; bad ``betas``; ``num_steps`` outside $[1, T]$;
            ``eps_fn`` returning another shape.

    Derived in ``notebooks/14_diffusion.ipynb``.
    """
    dtype = jnp.result_type(x_T, betas)
    n = x_T.shape[0]
    ts, prev = _timesteps(betas.shape[0], betas.shape[0] if num_steps is None else num_steps)

    def body(x, pair):
        t, t_prev = jnp.full((n,), pair[0]), jnp.full((n,), pair[1])
        eps_hat = eps_fn(x, t).astype(dtype)
        return ddim_step.kernel(x, t, t_prev, eps_hat, betas).astype(dtype), None

    return jax.lax.scan(body, x_T.astype(dtype), (jnp.asarray(ts), jnp.asarray(prev)))[0]
