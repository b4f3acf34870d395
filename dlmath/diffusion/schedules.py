r"""Noise schedules: the linear and cosine betas, $\bar\alpha$ and the signal-to-noise ratio.

Notation as :mod:`dlmath.diffusion`. Derived in ``notebooks/14_diffusion.ipynb``.
"""

from __future__ import annotations

import jax.numpy as jnp

from dlmath import _checks
from dlmath.diffusion._common import check_betas, cumulative, default_float

__all__ = ["linear_schedule", "cosine_schedule", "alphas_cumprod", "snr"]

_OPEN_UNIT = {"low": 0.0, "high": 1.0, "low_open": True, "high_open": True}


def _check_linear(num_steps, beta_start=1e-4, beta_end=0.02) -> None:
    who = "linear_schedule"
    _checks.count(who, "num_steps", num_steps, low=1)
    for name, value in (("beta_start", beta_start), ("beta_end", beta_end)):
        _checks.hyperparameter(who, name, value, **_OPEN_UNIT,
                               hint="A beta is the variance added at one step.")


@_checks.checked(_check_linear, static_argnames=("num_steps",))
def linear_schedule(num_steps: int, beta_start=1e-4, beta_end=0.02):
    r"""The linear schedule of the DDPM paper, evenly spaced from ``beta_start`` to
    ``beta_end``:

    $$\beta_{start} + \frac{\left(\beta_{end} - \beta_{start}\right) \left(t - 1\right)}{T - 1}$$

    for $t = 1 \dots T$ (``betas[t - 1]``; ``T = 1`` gives ``[beta_start]``), as
    ``diffusers.DDPMScheduler(beta_schedule="linear")``.

    Args:
        num_steps: the number of steps $T \ge 1$ (a Python int).
        beta_start, beta_end: the first and last variance, each in $(0, 1)$ (checked when
            concrete; they may be traced).

    Returns:
        ``betas (T,)`` in the default float dtype.

    Raises:
        TypeError: ``num_steps`` not an int; ``beta_start`` or ``beta_end`` not a real number.
        ValueError: ``num_steps < 1``; a beta outside $(0, 1)$.

    Derived in ``notebooks/14_diffusion.ipynb``.
    """
    return jnp.linspace(beta_start, beta_end, num_steps, dtype=default_float())


def _check_cosine(num_steps, s=0.008) -> None:
    _checks.count("cosine_schedule", "num_steps", num_steps, low=1)
    _checks.hyperparameter("cosine_schedule", "s", s, low=0.0,
                           hint="s is a small offset (0.008 in the paper).")


@_checks.checked(_check_cosine, static_argnames=("num_steps",))
def cosine_schedule(num_steps: int, s=0.008):
    r"""The cosine schedule of Nichol and Dhariwal: $\bar\alpha(u) = f(u)/f(0)$ with
    $f(u) = \cos^2\!\big(\tfrac{u/T + s}{1 + s}\cdot\tfrac{\pi}{2}\big)$, and for the
    step $t = 1 \dots T$ (``betas[t - 1]``)

    $$\min\left(\frac{999}{1000}, - \frac{\cos^{2}{\left(\frac{\pi \left(s +
    \frac{t}{T}\right)}{2 \left(s + 1\right)} \right)}}{\cos^{2}{\left(\frac{\pi \left(s +
    \frac{t - 1}{T}\right)}{2 \left(s + 1\right)} \right)}} + 1\right)$$

    (the clip at 0.999 keeps the last steps from $\beta = 1$), as
    ``diffusers.DDPMScheduler(beta_schedule="squaredcos_cap_v2")``.

    Args:
        num_steps: the number of steps $T \ge 1$ (a Python int).
        s: the offset $s \ge 0$ that keeps the first betas from 0 (checked when concrete).

    Returns:
        ``betas (T,)`` in the default float dtype, computed in it as
        $\sin(b - a)\sin(b + a)/\cos^2 a$ (the same number: $a, b$ the angles of
        $t - 1$ and $t$), which keeps the digits that $1 - f(t)/f(t - 1)$ loses for the first
        steps.

    Raises:
        TypeError: ``num_steps`` not an int; ``s`` not a real number.
        ValueError: ``num_steps < 1``; ``s < 0`` or not finite.

    Derived in ``notebooks/14_diffusion.ipynb``.
    """
    dtype = default_float()
    u = jnp.arange(num_steps + 1, dtype=dtype) / num_steps
    angle = (u + s) / (1 + s) * (jnp.pi / 2)
    a, b = angle[:-1], angle[1:]
    # 1 - cos^2 b / cos^2 a = sin(b - a) sin(b + a) / cos^2 a, without the cancellation
    beta = jnp.sin(b - a) * jnp.sin(b + a) / jnp.cos(a) ** 2
    return jnp.minimum(beta, 0.999).astype(dtype)


# ------------------------------------------------------------------ the forward process


@_checks.checked(lambda betas: check_betas("alphas_cumprod", betas))
def alphas_cumprod(betas):
    r"""$\bar\alpha_t$, the share of the signal's variance left after step $t$
    (``alphas_cumprod(betas)[t - 1]``):

    $$\prod_{k=1}^{t} \left(1 - {\beta}_{k}\right)$$

    Args:
        betas: floating ``(T,)``, each in $(0, 1)$.

    Returns:
        ``(T,)`` in the dtype of ``betas``, formed in at least float32.

    Raises:
        TypeError: non-floating ``betas``.
        ValueError: ``betas`` not ``(T,)`` with ``T >= 1``; a concrete beta outside $(0, 1)$.

    Derived in ``notebooks/14_diffusion.ipynb``.
    """
    return cumulative(betas)[0].astype(betas.dtype)


@_checks.checked(lambda betas: check_betas("snr", betas))
def snr(betas):
    r"""The signal-to-noise ratio of $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\,
    \epsilon$ for data of unit variance:

    $$\frac{{\bar{\alpha}}_{t}}{1 - {\bar{\alpha}}_{t}}$$

    (diffusers' ``compute_snr``), decreasing in $t$ for every schedule.

    Args:
        betas: floating ``(T,)``, each in $(0, 1)$.

    Returns:
        ``(T,)`` in the dtype of ``betas``, formed in at least float32.

    Raises:
        TypeError, ValueError: as :func:`alphas_cumprod`.

    Derived in ``notebooks/14_diffusion.ipynb``.
    """
    abar, _, noise_share, _ = cumulative(betas)
    return (abar / noise_share).astype(betas.dtype)
