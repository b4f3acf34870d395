r"""Diffusion models (DDPM, DDIM): noise schedules, the forward process in closed form, its
posterior, the noise-prediction loss and the weights the bound gives it, and the samplers.

Legend: ``T`` steps of the schedule, ``N`` examples, ``*F`` the feature axes of one example
(any number, ``(N, *F)`` an image batch or ``(N, D)`` points).

Steps. The formulas count as the DDPM paper: $x_0$ is the clean data and $x_t$ the data
after $t$ steps of noise, $t = 1 \dots T$. The schedule is the sequence
$\beta_t \in (0, 1)$ of variances added per step; $\alpha_t = 1 - \beta_t$ and
$\bar\alpha_t = \prod_{s=1}^{t} \alpha_s$, with $\bar\alpha_0 = 1$ (the clean data). The
forward process is $q(x_t \mid x_{t-1}) = \mathcal N(\sqrt{\alpha_t}\, x_{t-1}, \beta_t I)$,
so $q(x_t \mid x_0) = \mathcal N(\sqrt{\bar\alpha_t}\, x_0, (1 - \bar\alpha_t) I)$. The
arrays and the time steps the functions take are 0-based, as diffusers': ``betas[t]`` and
``alphas_cumprod(betas)[t]`` are $\beta_{t+1}$ and $\bar\alpha_{t+1}$, and a time step ``t``
in $[0, T)$ given to a function is step $t + 1$ of the formulas.

Modules: :mod:`~dlmath.diffusion.schedules` (the betas, $\bar\alpha$, the SNR),
:mod:`~dlmath.diffusion.forward` (the forward process, the posterior, the loss and its
weights) and :mod:`~dlmath.diffusion.sampling` (the DDPM and DDIM steps and samplers); every
public name is re-exported here. Names follow the DDPM paper and diffusers
(``alphas_cumprod``, ``q_sample``, the "simple" and the bound's ("vlb") losses).

Dtypes: functions without parameters follow JAX's type promotion (the package's rule);
products over the schedule are formed in at least float32. Schedules come in the default
float dtype (float32, or float64 with ``jax_enable_x64``).

Bad input: ``betas`` must be a floating ``(T,)`` array with ``T >= 1`` and (where concrete)
every entry in $(0, 1)$; time steps are integers in $[0, T)$, checked where concrete; under
``jit`` a time step out of range gives NaN for its example.
Everything is derived in ``notebooks/14_diffusion.ipynb``.
"""

from __future__ import annotations

from dlmath.diffusion.forward import (
    noise_prediction_loss,
    posterior_mean_variance,
    q_sample,
    vlb_weights,
)
from dlmath.diffusion.sampling import ddim_sample, ddim_step, ddpm_sample, ddpm_step
from dlmath.diffusion.schedules import alphas_cumprod, cosine_schedule, linear_schedule, snr

__all__ = ["linear_schedule", "cosine_schedule", "alphas_cumprod", "snr", "q_sample",
           "posterior_mean_variance", "vlb_weights", "noise_prediction_loss", "ddpm_step",
           "ddpm_sample", "ddim_step", "ddim_sample"]
