r"""Formulas of normalisation and regularisation (chapter 09).

Batch norm, for one channel: the $N$ values $x_i$ of that channel over the batch (and over
every other axis but the last), example index $i = 0 \dots N - 1$ (:data:`i`), the entry
$j$ (:data:`j`) being normalised. Layer and RMS norm, for one example: its $D$ features
$x_a$, $a = 0 \dots D - 1$, the entry $j$ being normalised. $g$ is the gradient of the loss
with respect to the output (``grad_output``). Regularisation: dropout of one entry $x$ with
a keep-indicator $m \in \{0, 1\}$ and rate $p$; the soft-thresholding (the proximal step of
$\tau |w|$) of one entry. ``notebooks/09_normalization.ipynb`` derives and proves them.
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula
from dlmath.formulas.symbols import D, N, i, j

__all__ = ["N", "D", "i", "j", "a", "x", "g", "gamma", "beta", "eps", "scale", "bias",
           "batch_mean", "batch_var", "x_hat", "xh", "sigma", "BATCH_NORM", "BATCH_NORM_BACKWARD",
           "LAYER_NORM", "RMS_NORM", "M", "GROUP_NORM", "p", "m", "x0", "DROPOUT", "w", "tau",
           "SOFT_THRESHOLD"]

#: The feature index of layer and RMS norm.
a = sp.Symbol("a", integer=True, nonnegative=True)
x, g = sp.IndexedBase("x", real=True), sp.IndexedBase("g", real=True)
#: batch norm's scale and bias of the channel (scalars: one channel)
gamma, beta = sp.symbols("gamma beta", real=True)
eps = sp.Symbol("epsilon", positive=True)
#: layer norm's per-feature scale and bias
scale, bias = sp.IndexedBase("gamma", real=True), sp.IndexedBase("beta", real=True)


def batch_mean(size=N, index=i):
    """$\\mu = \\frac{1}{N}\\sum_i x_i$."""
    return sp.Sum(x[index], (index, 0, size - 1)) / size


def batch_var(size=N, index=i):
    """$\\sigma^2 = \\frac{1}{N}\\sum_i (x_i - \\mu)^2$ (biased)."""
    return sp.Sum((x[index] - batch_mean(size, index)) ** 2, (index, 0, size - 1)) / size


def x_hat(entry, size=N, index=i):
    r"""$\hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon}$."""
    return (x[entry] - batch_mean(size, index)) / sp.sqrt(batch_var(size, index) + eps)


#: $y_j = \gamma \hat x_j + \beta$ for one channel of $N$ values.
BATCH_NORM = Formula("normalization.batch_norm", gamma * x_hat(j) + beta,
                     (x, j, N, gamma, beta, eps))

#: the normalised values $\hat x_i$ and the standard deviation $\sigma = \sqrt{\sigma^2 +
#: \epsilon}$, as symbols of their own in the compact backward pass
xh = sp.IndexedBase(r"\hat{x}", real=True)
sigma = sp.Symbol("sigma", positive=True)

#: $\partial L/\partial x_j = \frac{\gamma}{N\sigma}(N g_j - \sum_i g_i - \hat x_j
#: \sum_i g_i \hat x_i)$.
BATCH_NORM_BACKWARD = Formula(
    "normalization.batch_norm_backward",
    gamma / (N * sigma) * (N * g[j] - sp.Sum(g[i], (i, 0, N - 1))
                           - xh[j] * sp.Sum(g[i] * xh[i], (i, 0, N - 1))),
    (g, xh, j, N, gamma, sigma),
)

#: $y_j = \gamma_j \hat x_j + \beta_j$ over the $D$ features of one example.
LAYER_NORM = Formula("normalization.layer_norm", scale[j] * x_hat(j, D, a) + bias[j],
                     (x, scale, bias, j, D, eps))

#: $y_j = \gamma_j x_j / \sqrt{\frac{1}{D}\sum_a x_a^2 + \epsilon}$.
RMS_NORM = Formula(
    "normalization.rms_norm",
    scale[j] * x[j] / sp.sqrt(sp.Sum(x[a] ** 2, (a, 0, D - 1)) / D + eps),
    (x, scale, j, D, eps),
)

#: the number of values in one group of group norm (its channels at every position)
M = sp.Symbol("M", integer=True, positive=True)

#: $y_j = \gamma \hat x_j + \beta$ over the $M$ values $x_i$ of one group of one example
#: ($\gamma$, $\beta$: the scale and bias of the entry's channel).
GROUP_NORM = Formula("normalization.group_norm", gamma * x_hat(j, M, i) + beta,
                     (x, j, M, gamma, beta, eps))

# ---- regularisation ------------------------------------------------------------------

p = sp.Symbol("p", nonnegative=True)
m = sp.Symbol("m", nonnegative=True, integer=True)
x0 = sp.Symbol("x", real=True)

#: inverted dropout of one entry: $m x / (1 - p)$, $m \sim \mathrm{Bernoulli}(1 - p)$.
DROPOUT = Formula("regularization.dropout", m * x0 / (1 - p), (m, x0, p))

w = sp.Symbol("w", real=True)
tau = sp.Symbol("tau", nonnegative=True)

#: $\mathrm{prox}_{\tau|\cdot|}(w) = \mathrm{sign}(w)\max(|w| - \tau, 0)$.
SOFT_THRESHOLD = Formula("regularization.soft_threshold",
                         sp.sign(w) * sp.Max(sp.Abs(w) - tau, 0), (w, tau))

DOCUMENTED = {
    "normalization.batch_norm": (BATCH_NORM,),
    "normalization.batch_norm_backward": (BATCH_NORM_BACKWARD,),
    "normalization.layer_norm": (LAYER_NORM,),
    "normalization.rms_norm": (RMS_NORM,),
    "normalization.group_norm": (GROUP_NORM,),
    "regularization.dropout": (DROPOUT,),
    "regularization.soft_threshold": (SOFT_THRESHOLD,),
}
