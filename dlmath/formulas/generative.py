r"""Formulas of generative models (chapter 10): the Gaussian KL term, the reparameterised
sample and the evidence lower bound of a VAE, and the GAN losses on logits.

Entries are indexed as the code's arrays: latent coordinate $j = 0 \dots Z - 1$ (means
$\mu_j$, log-variances $\ell_j = \log \sigma_j^2$, standard-normal draws $\epsilon_j$),
data coordinate $a = 0 \dots D - 1$ (the data $x_a$ and the decoder's outputs $y_a$:
logits of a Bernoulli decoder, means of a unit-variance Gaussian one), and, for the GAN,
the discriminator's logits $r_i$ on $N$ real examples and $f_i$ on $M$ generated ones.
``notebooks/10_generative.ipynb`` derives and proves them.
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula
from dlmath.formulas.symbols import D, N, i, j

__all__ = ["D", "N", "M", "Z", "i", "j", "a", "mu", "ell", "eps", "x", "y", "r", "f",
           "sigmoid", "GAUSSIAN_KL", "REPARAMETERIZE", "BERNOULLI_LOG_LIKELIHOOD",
           "GAUSSIAN_LOG_LIKELIHOOD", "ELBO_BERNOULLI", "ELBO_GAUSSIAN", "DISCRIMINATOR_LOSS",
           "GENERATOR_LOSS_NON_SATURATING", "GENERATOR_LOSS_SATURATING", "GAN_GAME_LOSS"]

#: The latent size and the number of generated examples in a GAN batch.
Z = sp.Symbol("Z", integer=True, positive=True)
M = sp.Symbol("M", integer=True, positive=True)
#: The data-coordinate index.
a = sp.Symbol("a", integer=True, nonnegative=True)

mu, ell, eps = (sp.IndexedBase(name, real=True) for name in (r"\mu", r"\ell", r"\epsilon"))
x, y = sp.IndexedBase("x", real=True), sp.IndexedBase("y", real=True)
r, f = sp.IndexedBase("r", real=True), sp.IndexedBase("f", real=True)


def sigmoid(z):
    """The logistic function $1 / (1 + e^{-z})$ as a SymPy expression."""
    return 1 / (1 + sp.exp(-z))


#: $\mathrm{KL}(\mathcal N(\mu, \mathrm{diag}\, e^{\ell}) \,\|\, \mathcal N(0, I))$.
GAUSSIAN_KL = Formula(
    "generative.gaussian_kl",
    sp.Sum(sp.Rational(1, 2) * (sp.exp(ell[j]) + mu[j] ** 2 - 1 - ell[j]), (j, 0, Z - 1)),
    (mu, ell, Z))
#: $z_j = \mu_j + e^{\ell_j / 2} \epsilon_j$.
REPARAMETERIZE = Formula("generative.reparameterize",
                         mu[j] + sp.exp(ell[j] / 2) * eps[j], (mu, ell, eps, j))

BERNOULLI_LOG_LIKELIHOOD = sp.Sum(x[a] * sp.log(sigmoid(y[a]))
                                  + (1 - x[a]) * sp.log(1 - sigmoid(y[a])), (a, 0, D - 1))
GAUSSIAN_LOG_LIKELIHOOD = sp.Sum(-(x[a] - y[a]) ** 2 / 2 - sp.log(2 * sp.pi) / 2,
                                 (a, 0, D - 1))
#: The ELBO of one example: the decoder's log-likelihood minus the KL term.
ELBO_BERNOULLI = Formula("generative.elbo", BERNOULLI_LOG_LIKELIHOOD - GAUSSIAN_KL.expr,
                         (x, y, mu, ell, D, Z))
ELBO_GAUSSIAN = Formula("generative.elbo", GAUSSIAN_LOG_LIKELIHOOD - GAUSSIAN_KL.expr,
                        (x, y, mu, ell, D, Z))

#: $-\hat V(D, G)$: the discriminator's loss, the batch estimate of the negated value.
DISCRIMINATOR_LOSS = Formula(
    "generative.discriminator_loss",
    -sp.Sum(sp.log(sigmoid(r[i])), (i, 0, N - 1)) / N
    - sp.Sum(sp.log(1 - sigmoid(f[i])), (i, 0, M - 1)) / M,
    (r, f, N, M))
#: The generator's two losses: $-\log D(G(z))$ (non-saturating) and $\log(1 - D(G(z)))$.
GENERATOR_LOSS_NON_SATURATING = Formula(
    "generative.generator_loss", -sp.Sum(sp.log(sigmoid(f[i])), (i, 0, M - 1)) / M, (f, M))
GENERATOR_LOSS_SATURATING = Formula(
    "generative.generator_loss", sp.Sum(sp.log(1 - sigmoid(f[i])), (i, 0, M - 1)) / M, (f, M))
#: Both players' losses in one scalar (the gradients are each player's own: stop_gradient).
GAN_GAME_LOSS = Formula("generative.gan_game_loss",
                        DISCRIMINATOR_LOSS.expr + GENERATOR_LOSS_NON_SATURATING.expr, (r, f, N, M))

DOCUMENTED = {
    "generative.gaussian_kl": (GAUSSIAN_KL,),
    "generative.reparameterize": (REPARAMETERIZE,),
    "generative.elbo": (ELBO_BERNOULLI, ELBO_GAUSSIAN),
    "generative.discriminator_loss": (DISCRIMINATOR_LOSS,),
    "generative.generator_loss": (GENERATOR_LOSS_NON_SATURATING, GENERATOR_LOSS_SATURATING),
    "generative.gan_game_loss": (GAN_GAME_LOSS,),
}
