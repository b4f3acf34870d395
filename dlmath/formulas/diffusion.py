r"""Formulas of diffusion models (chapter 14): the schedules, the forward process in closed
form, its posterior, the noise-prediction loss and its weights from the bound, and the DDPM
and DDIM updates.

Steps are counted as in the DDPM paper: $x_0$ is the clean data, $x_t$ the data after $t$
steps of noise, $t = 1 \dots T$; $\beta_t$ the schedule, $\bar\alpha_t$ the product of
$1 - \beta_k$ for $k = 1 \dots t$ (:data:`ALPHAS_CUMPROD`), $\bar\alpha_0 = 1$. The code's
arrays and time steps are 0-based: ``betas[t - 1]`` is $\beta_t$, and the code's step $t$
is step $t + 1$ here. The data formulas hold entry by entry: $x_0$ a clean entry, $x_t$ the
noised one, $\epsilon$ the noise that made it and $\hat\epsilon$ its prediction, $z$ a
fresh standard-normal draw; the loss sums over the $D$ entries $a = 0 \dots D - 1$ of one
example, weighted by $w$.
``notebooks/14_diffusion.ipynb`` derives and proves them.
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula
from dlmath.formulas.symbols import D, k

__all__ = ["T", "t", "t_prev", "k", "a", "s", "beta", "abar", "beta_start", "beta_end",
           "x0", "xt", "epsilon", "epsilon_hat", "z", "w", "eps", "eps_hat", "D",
           "LINEAR_SCHEDULE", "COSINE_SCHEDULE", "ALPHAS_CUMPROD", "SNR", "Q_SAMPLE",
           "POSTERIOR_MEAN", "POSTERIOR_VARIANCE", "VLB_WEIGHTS", "NOISE_PREDICTION_LOSS",
           "DDPM_STEP", "DDIM_STEP"]

#: The number of steps, a step $1 \le t \le T$, and the step $0 \le t' < t$ a DDIM update
#: goes to.
T = sp.Symbol("T", integer=True, positive=True)
t = sp.Symbol("t", integer=True, positive=True)
t_prev = sp.Symbol("t'", integer=True, nonnegative=True)
#: The entry index of one example, and the cosine schedule's offset.
a = sp.Symbol("a", integer=True, nonnegative=True)
s = sp.Symbol("s", nonnegative=True)

beta = sp.IndexedBase(r"\beta", real=True)
abar = sp.IndexedBase(r"\bar{\alpha}", real=True)
beta_start, beta_end = sp.symbols(r"\beta_{start} \beta_{end}", positive=True)
x0, xt = sp.symbols("x_0 x_t", real=True)
epsilon, epsilon_hat, z = sp.symbols(r"\epsilon \hat{\epsilon} z", real=True)
w = sp.Symbol("w", nonnegative=True)
eps, eps_hat = sp.IndexedBase(r"\epsilon", real=True), sp.IndexedBase(r"\hat{\epsilon}",
                                                                       real=True)


def cosine_f(u):
    r"""$f(u) = \cos^2\big(\tfrac{u/T + s}{1 + s} \cdot \tfrac{\pi}{2}\big)$ (up to $f(0)$,
    which cancels in every ratio)."""
    return sp.cos((u / T + s) / (1 + s) * sp.pi / 2) ** 2


LINEAR_SCHEDULE = Formula("diffusion.schedules.linear_schedule",
                          beta_start + (beta_end - beta_start) * (t - 1) / (T - 1),
                          (beta_start, beta_end, t, T))
COSINE_SCHEDULE = Formula("diffusion.schedules.cosine_schedule",
                          sp.Min(1 - cosine_f(t) / cosine_f(t - 1), sp.Rational(999, 1000)),
                          (t, T, s))
#: $\bar\alpha_t = \prod_{k=1}^{t} (1 - \beta_k)$.
ALPHAS_CUMPROD = Formula("diffusion.schedules.alphas_cumprod", sp.Product(1 - beta[k], (k, 1, t)),
                         (beta, t))
SNR = Formula("diffusion.schedules.snr", abar[t] / (1 - abar[t]), (abar, t))
Q_SAMPLE = Formula("diffusion.forward.q_sample",
                   sp.sqrt(abar[t]) * x0 + sp.sqrt(1 - abar[t]) * epsilon, (x0, epsilon, abar, t))
POSTERIOR_MEAN = Formula(
    "diffusion.forward.posterior_mean_variance",
    sp.sqrt(abar[t - 1]) * beta[t] / (1 - abar[t]) * x0
    + sp.sqrt(1 - beta[t]) * (1 - abar[t - 1]) / (1 - abar[t]) * xt,
    (x0, xt, beta, abar, t))
POSTERIOR_VARIANCE = Formula("diffusion.forward.posterior_mean_variance",
                             (1 - abar[t - 1]) / (1 - abar[t]) * beta[t], (beta, abar, t))
#: The weight of the bound's term at step t on the squared noise error.
VLB_WEIGHTS = Formula(
    "diffusion.forward.vlb_weights",
    sp.Piecewise((1 / (2 * (1 - beta[t])), sp.Eq(t, 1)),
                 (beta[t] / (2 * (1 - beta[t]) * (1 - abar[t - 1])), True)),
    (beta, abar, t))
NOISE_PREDICTION_LOSS = Formula(
    "diffusion.forward.noise_prediction_loss",
    w * sp.Sum((eps[a] - eps_hat[a]) ** 2, (a, 0, D - 1)), (w, eps, eps_hat, D))
#: One ancestral step, $x_{t-1}$ from $x_t$ (variance $\tilde\beta_t$).
DDPM_STEP = Formula(
    "diffusion.sampling.ddpm_step",
    (xt - beta[t] / sp.sqrt(1 - abar[t]) * epsilon_hat) / sp.sqrt(1 - beta[t])
    + sp.sqrt((1 - abar[t - 1]) / (1 - abar[t]) * beta[t]) * z,
    (xt, epsilon_hat, z, beta, abar, t))
#: One deterministic DDIM step, $x_{t'}$ from $x_t$.
DDIM_STEP = Formula(
    "diffusion.sampling.ddim_step",
    sp.sqrt(abar[t_prev]) * (xt - sp.sqrt(1 - abar[t]) * epsilon_hat) / sp.sqrt(abar[t])
    + sp.sqrt(1 - abar[t_prev]) * epsilon_hat,
    (xt, epsilon_hat, abar, t, t_prev))

DOCUMENTED = {
    "diffusion.schedules.linear_schedule": (LINEAR_SCHEDULE,),
    "diffusion.schedules.cosine_schedule": (COSINE_SCHEDULE,),
    "diffusion.schedules.alphas_cumprod": (ALPHAS_CUMPROD,),
    "diffusion.schedules.snr": (SNR,),
    "diffusion.forward.q_sample": (Q_SAMPLE,),
    "diffusion.forward.posterior_mean_variance": (POSTERIOR_MEAN, POSTERIOR_VARIANCE),
    "diffusion.forward.vlb_weights": (VLB_WEIGHTS,),
    "diffusion.forward.noise_prediction_loss": (NOISE_PREDICTION_LOSS,),
    "diffusion.sampling.ddpm_step": (DDPM_STEP,),
    "diffusion.sampling.ddpm_sample": (DDPM_STEP,),
    "diffusion.sampling.ddim_step": (DDIM_STEP,),
    "diffusion.sampling.ddim_sample": (DDIM_STEP,),
}
