r"""Generative models: the VAE's Gaussian KL term, reparameterised sampling and evidence lower
bound, and the GAN's losses written on the discriminator's logits.

Legend: ``B`` batch axes (any number), ``Z`` latent coordinates, ``D`` data coordinates.
A VAE's encoder gives, per example, the mean $\mu$ and the log-variance
$\ell = \log \sigma^2$ of a diagonal Gaussian $q(z \mid x)$; its decoder gives the logits
(Bernoulli likelihood) or the means (unit-variance Gaussian likelihood) of $p(x \mid z)$.
A GAN's discriminator gives logits $D(x) = \sigma(\text{logit})$, so every $\log D$ and
$\log(1 - D)$ is computed in the stable form of ``losses.binary_cross_entropy_with_logits``
(chapter 03) and never as the log of a rounded probability.

Functions without parameters: results follow JAX's type promotion (the package's rule).
Everything is derived in ``notebooks/10_generative.ipynb``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from dlmath import _checks, _reduce
from dlmath.losses import binary_cross_entropy_with_logits

__all__ = ["gaussian_kl", "reparameterize", "elbo", "discriminator_loss", "generator_loss",
           "gan_game_loss", "LIKELIHOODS"]

#: The decoder likelihoods of :func:`elbo`.
LIKELIHOODS = ("bernoulli", "gaussian")
_bce = binary_cross_entropy_with_logits.kernel  # elementwise, stable; its inputs checked here


def _check_gaussian(who: str, mean, log_var) -> None:
    _checks.require_floating(who, "mean", mean)
    _checks.require_floating(who, "log_var", log_var)
    if len(_checks.shape_of(mean)) < 1:
        raise ValueError(f"{who}: mean must have shape (*B, Z), with the latent coordinates "
                         f"on the last axis; got a scalar. Use mean[None] for Z = 1.")
    _checks.require_same_shape(who, "mean", mean, "log_var", log_var, "(*B, Z)")


def _promoted(*arrays):
    """The arrays in their promoted float dtype (the rule for functions without parameters)."""
    dtype = jnp.result_type(*arrays)
    return tuple(a.astype(dtype) for a in arrays)


@_checks.checked(lambda mean, log_var: _check_gaussian("gaussian_kl", mean, log_var))
def gaussian_kl(mean, log_var):
    r"""$\mathrm{KL}(\mathcal N(\mu, \mathrm{diag}\,\sigma^2) \,\|\, \mathcal N(0, I))$ with
    $\sigma^2 = e^{\ell}$, summed over the latent coordinates:

    $$\sum_{j=0}^{Z - 1} \left(\frac{e^{{\ell}_{j}}}{2} -
    \frac{{\ell}_{j}}{2} + \frac{{\mu}_{j}^{2}}{2} - \frac{1}{2}\right)$$

    (the closed form, integrated and proven in the notebook; a diagonal Gaussian's KL is
    the sum of its coordinates').

    Args:
        mean: floating ``(*B, Z)``, the means $\mu$.
        log_var: floating ``(*B, Z)``, the log-variances $\ell = \log\sigma^2$ (any real
            number: no variance can be negative).

    Returns:
        ``(*B,)``: one KL per example (not reduced over the batch); 0 for ``Z = 0``. In the
        promoted dtype of ``mean`` and ``log_var``, summed in at least float32 (float16
        squares overflow past 256: a float16 mean of 200 gives the float64 value rounded to
        float16, not inf).

    Raises:
        TypeError: non-floating ``mean`` or ``log_var``.
        ValueError: a scalar ``mean``; shapes that differ (nothing is broadcast).

    Derived in ``notebooks/10_generative.ipynb``.
    """
    mean, log_var = _promoted(mean, log_var)
    wide = _reduce.wide(mean.dtype)  # at least float32: float16 squares overflow past 256
    m, lv = mean.astype(wide), log_var.astype(wide)
    return (0.5 * jnp.sum(jnp.exp(lv) + m**2 - 1.0 - lv, axis=-1)).astype(mean.dtype)


def _check_sample(key, mean, log_var) -> None:
    _checks.require_key("reparameterize", key, "the noise")
    _check_gaussian("reparameterize", mean, log_var)


@_checks.checked(_check_sample)
def reparameterize(key, mean, log_var):
    r"""A sample of $\mathcal N(\mu, \mathrm{diag}\, e^{\ell})$ as a differentiable
    function of $\mu$ and $\ell$ (the reparameterisation trick):

    $$e^{\frac{{\ell}_{j}}{2}} {\epsilon}_{j} + {\mu}_{j}$$

    with $\epsilon \sim \mathcal N(0, I)$ drawn from ``key`` (in float32, then cast, so
    a key gives the same $\epsilon$ in every dtype); gradients flow to ``mean`` and
    ``log_var``, not through the draw.

    Args:
        key: a ``jax.random`` key.
        mean, log_var: as :func:`gaussian_kl`, ``(*B, Z)``.

    Returns:
        ``(*B, Z)`` in the promoted dtype of ``mean`` and ``log_var``.

    Raises:
        TypeError, ValueError: as :func:`gaussian_kl`.

    Derived in ``notebooks/10_generative.ipynb``.
    """
    mean, log_var = _promoted(mean, log_var)
    noise = jax.random.normal(key, mean.shape, jnp.float32)  # one draw per key, any dtype
    return mean + jnp.exp(0.5 * log_var) * noise.astype(mean.dtype)


def _check_elbo(x, decoder_output, mean, log_var, *, likelihood="bernoulli") -> None:
    who = "elbo"
    if not isinstance(likelihood, str) or likelihood not in LIKELIHOODS:
        raise ValueError(f"{who}: likelihood must be one of {list(LIKELIHOODS)}; got "
                         f"{likelihood!r}.")
    _checks.require_floating(who, "x", x)
    _checks.require_floating(who, "decoder_output", decoder_output)
    _checks.require_same_shape(who, "x", x, "decoder_output", decoder_output, "(*B, D)")
    _check_gaussian(who, mean, log_var)
    sx, sm = _checks.shape_of(x), _checks.shape_of(mean)
    if len(sx) < 1 or sx[:-1] != sm[:-1]:
        raise ValueError(
            f"{who}: x (*B, D) and mean (*B, Z) must share the batch axes *B; got x "
            f"{_checks.fmt(sx)}, mean {_checks.fmt(sm)}. One latent per example."
        )


@_checks.checked(_check_elbo, static_argnames=("likelihood",))
def elbo(x, decoder_output, mean, log_var, *, likelihood: str = "bernoulli"):
    r"""The evidence lower bound of one example per batch entry,
    $\log p(x \mid z) - \mathrm{KL}(q(z \mid x) \,\|\, \mathcal N(0, I))$, with $z$ the
    latent that produced ``decoder_output`` (a single-sample estimate of the
    reconstruction term when $z$ came from :func:`reparameterize`). Bernoulli decoder
    (``decoder_output`` holds logits $y_a$, ``x`` probabilities in $[0, 1]$):

    $$\sum_{a=0}^{D - 1} \left(\left(1 - {x}_{a}\right) \log{\left(1 - \frac{1}{1 +
    e^{- {y}_{a}}} \right)} + \log{\left(\frac{1}{1 +
    e^{- {y}_{a}}} \right)} {x}_{a}\right) - \sum_{j=0}^{Z -
    1} \left(\frac{e^{{\ell}_{j}}}{2} - \frac{{\ell}_{j}}{2} +
    \frac{{\mu}_{j}^{2}}{2} - \frac{1}{2}\right)$$

    unit-variance Gaussian decoder (``decoder_output`` holds the means $y_a$):

    $$\sum_{a=0}^{D - 1} \left(- \frac{\left({x}_{a} - {y}_{a}\right)^{2}}{2} -
    \frac{\log{\left(2 \pi \right)}}{2}\right) - \sum_{j=0}^{Z -
    1} \left(\frac{e^{{\ell}_{j}}}{2} - \frac{{\ell}_{j}}{2} +
    \frac{{\mu}_{j}^{2}}{2} - \frac{1}{2}\right)$$

    The Bernoulli log-likelihood is minus ``losses.binary_cross_entropy_with_logits``,
    evaluated in its stable form.

    Args:
        x: floating ``(*B, D)``, the data (for ``"bernoulli"``: values in $[0, 1]$; they
            are not checked, as the cross-entropy's float targets are not).
        decoder_output: floating ``(*B, D)``.
        mean, log_var: floating ``(*B, Z)``, the encoder's $q(z \mid x)$.
        likelihood: ``"bernoulli"`` or ``"gaussian"``.

    Returns:
        ``(*B,)``: the ELBO of each example, to be *maximised* (train on ``-elbo(...).mean()``).

    Raises:
        TypeError: non-floating arrays.
        ValueError: an unknown ``likelihood``; ``x`` and ``decoder_output`` of different shapes;
            ``mean`` and ``log_var`` of different shapes; batch axes that differ.

    Derived in ``notebooks/10_generative.ipynb``.
    """
    x, y, mean, log_var = _promoted(x, decoder_output, mean, log_var)
    if likelihood == "bernoulli":
        log_likelihood = -jnp.sum(_bce(y, x), axis=-1)
    else:
        log_likelihood = -0.5 * jnp.sum((x - y) ** 2 + math.log(2 * math.pi), axis=-1)
    return log_likelihood - gaussian_kl.kernel(mean, log_var)


def _check_logits(who: str, name: str, logits):
    _checks.require_floating(who, name, logits)
    if math.prod(_checks.shape_of(logits)) == 0:
        raise ValueError(f"{who}: {name} has no entries (shape "
                         f"{_checks.fmt(_checks.shape_of(logits))}); the loss is a mean over "
                         "them and is undefined for none.")


def _check_discriminator(real_logits, fake_logits) -> None:
    _check_logits("discriminator_loss", "real_logits", real_logits)
    _check_logits("discriminator_loss", "fake_logits", fake_logits)


def _check_generator(fake_logits, *, saturating=False) -> None:
    _checks.require_flag("generator_loss", "saturating", saturating)
    _check_logits("generator_loss", "fake_logits", fake_logits)


@_checks.checked(_check_discriminator)
def discriminator_loss(real_logits, fake_logits):
    r"""The discriminator's loss, the negated batch estimate of the GAN value
    $V(D, G) = \mathbb E_{x \sim p} \log D(x) + \mathbb E_{z} \log(1 - D(G(z)))$:

    $$- \frac{\sum_{i=0}^{N - 1} \log{\left(\frac{1}{1 +
    e^{- {r}_{i}}} \right)}}{N} - \frac{\sum_{i=0}^{M - 1} \log{\left(1 - \frac{1}{1 +
    e^{- {f}_{i}}} \right)}}{M}$$

    with $D = \sigma(\text{logit})$; computed as the mean binary cross-entropy of the real
    logits against 1 plus that of the generated ones against 0 (optax's
    ``sigmoid_binary_cross_entropy``), stable for logits of any size.

    Args:
        real_logits: floating, any shape with $N \ge 1$ entries: $D$'s logits on data.
        fake_logits: floating, any shape with $M \ge 1$ entries: on generated samples.

    Returns:
        A scalar (each mean is over its own entries), in the promoted dtype.

    Raises:
        TypeError: non-floating logits.
        ValueError: logits without entries.

    Derived in ``notebooks/10_generative.ipynb``.
    """
    r, f = _promoted(real_logits, fake_logits)
    return jnp.mean(_bce(r, jnp.ones_like(r))) + jnp.mean(_bce(f, jnp.zeros_like(f)))


@_checks.checked(_check_generator, static_argnames=("saturating",))
def generator_loss(fake_logits, *, saturating: bool = False):
    r"""The generator's loss on the discriminator's logits of generated samples. The
    non-saturating form (the default), $-\log D(G(z))$:

    $$- \frac{\sum_{i=0}^{M - 1} \log{\left(\frac{1}{1 + e^{- {f}_{i}}} \right)}}{M}$$

    and the saturating form of the original minimax game, $\log(1 - D(G(z)))$:

    $$\frac{\sum_{i=0}^{M - 1} \log{\left(1 - \frac{1}{1 + e^{- {f}_{i}}} \right)}}{M}$$

    Both are minimised by the generator and have the same fixed point, but where the
    discriminator rejects the samples ($D(G(z)) \to 0$) the saturating form's gradient
    with respect to the logit vanishes and the non-saturating one's tends to $-1$ (derived
    in the notebook). Stable for logits of any size.

    Args:
        fake_logits: floating, any shape with $M \ge 1$ entries.
        saturating: a bool: use $\log(1 - D)$.

    Returns:
        A scalar in the logits' dtype.

    Raises:
        TypeError: non-floating logits; ``saturating`` not a bool.
        ValueError: logits without entries.

    Derived in ``notebooks/10_generative.ipynb``.
    """
    if saturating:
        return -jnp.mean(_bce(fake_logits, jnp.zeros_like(fake_logits)))
    return jnp.mean(_bce(fake_logits, jnp.ones_like(fake_logits)))


def _abstract(tree):
    """The shapes and dtypes of a pytree of arrays (what ``jax.eval_shape`` needs)."""
    return jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(_checks.shape_of(a), jnp.result_type(a)), tree)


def _output_of(who: str, call: str, fn, *args):
    """The shape and dtype of ``fn(*args)``, traced once on the arguments' shapes; a
    ``ValueError`` or ``TypeError`` the function raises names ``who`` and the call."""
    try:
        out = jax.eval_shape(fn, *(_abstract(a) for a in args))
    except (ValueError, TypeError) as e:
        raise type(e)(f"{who}: {call} failed on these arguments: {e}") from e
    if not (hasattr(out, "shape") and jnp.issubdtype(getattr(out, "dtype", None),
                                                         jnp.floating)):
        got = f"dtype {out.dtype}" if hasattr(out, "dtype") else type(out).__name__
        raise TypeError(f"{who}: {call} must return one floating array; got {got}.")
    return out


def _check_game(generator_params, discriminator_params, real, noise, *, generator,
                discriminator, saturating=False) -> None:
    who = "gan_game_loss"
    _checks.require_flag(who, "saturating", saturating)
    _checks.require_callable(who, "generator", generator,
                             "a function generator(generator_params, noise) -> samples")
    _checks.require_callable(who, "discriminator", discriminator,
                             "a function discriminator(discriminator_params, x) -> logits")
    _checks.float_dtype_of_tree(who, "generator_params", generator_params)
    _checks.float_dtype_of_tree(who, "discriminator_params", discriminator_params)
    for name, x, legend in (("real", real, "(N, *F)"), ("noise", noise, "(M, *Z)")):
        _checks.require_floating(who, name, x)
        if len(_checks.shape_of(x)) < 1:
            raise ValueError(f"{who}: {name} must have shape {legend}, one example per row; "
                             "got a scalar.")
    fake = _output_of(who, "generator(generator_params, noise)", generator, generator_params,
                      noise)
    sr = _checks.shape_of(real)
    if fake.shape[1:] != sr[1:]:
        raise ValueError(
            f"{who}: generator(generator_params, noise) gives samples of shape "
            f"{_checks.fmt(fake.shape)}, real has shape {_checks.fmt(sr)}; they must share the "
            "shape of one example *F (the discriminator judges both).")
    for name, x in (("real", real), ("generator(generator_params, noise)", fake)):
        logits = _output_of(who, f"discriminator(discriminator_params, {name.split('(')[0]})",
                            discriminator, discriminator_params, x)
        if math.prod(logits.shape) == 0:
            raise ValueError(
                f"{who}: discriminator(discriminator_params, x) gives no logits on {name} "
                f"(shape {_checks.fmt(logits.shape)}); each loss is a mean over them and is "
                "undefined for none.")


@_checks.checked(_check_game, static_argnames=("generator", "discriminator", "saturating"))
def gan_game_loss(generator_params, discriminator_params, real, noise, *, generator,
                  discriminator, saturating: bool = False):
    r"""Both players' losses in one scalar, so that one gradient step on it is a
    simultaneous step of the generator $G$ and the discriminator $D$. Its value is
    :func:`discriminator_loss` plus :func:`generator_loss` (non-saturating, the default),
    with $r_i$ the logits of $D$ on the ``real`` examples and $f_i$ its logits on the
    generated $G(z_i)$:

    $$- \frac{\sum_{i=0}^{N - 1} \log{\left(\frac{1}{1 +
    e^{- {r}_{i}}} \right)}}{N} - \frac{\sum_{i=0}^{M - 1} \log{\left(1 - \frac{1}{1 +
    e^{- {f}_{i}}} \right)}}{M} - \frac{\sum_{i=0}^{M - 1} \log{\left(\frac{1}{1 +
    e^{- {f}_{i}}} \right)}}{M}$$

    Each player sees the other through ``jax.lax.stop_gradient``: the discriminator's
    term gets the samples $G(z)$ as constants, the generator's term gets $D$'s parameters
    as constants. So the gradient in ``discriminator_params`` is that of
    :func:`discriminator_loss` alone, and the gradient in ``generator_params`` is that of
    :func:`generator_loss` alone (``tests/test_gan_game.py``), although the value adds
    both. ``saturating=True`` uses the saturating generator term $\log(1 - D(G(z)))$.

    Args:
        generator_params: a pytree of floating arrays of one dtype, $G$'s parameters.
        discriminator_params: a pytree of floating arrays of one dtype, $D$'s parameters.
        real: floating ``(N, *F)``, $N \ge 1$ data examples.
        noise: floating ``(M, *Z)``, $M \ge 1$ draws $z$ that the generator maps to
            samples ``(M, *F)``.
        generator: ``generator(generator_params, noise) -> (M, *F)``, JAX-traceable
            (``layers.mlp``).
        discriminator: ``discriminator(discriminator_params, x) -> logits`` of any shape
            with at least one entry per call, JAX-traceable (``layers.mlp``).
        saturating: a bool: the generator's saturating loss.

    Returns:
        A scalar in the promoted dtype of the two losses (the parameters' dtype where the
        networks cast their input to it, as ``layers.mlp`` does).

    Raises:
        TypeError: non-floating or mixed-dtype parameters; non-floating ``real`` or
            ``noise``; a network that is not callable or does not return a floating array;
            ``saturating`` not a bool.
        ValueError: scalar ``real`` or ``noise``; generated samples of another example
            shape than ``real``; a discriminator that gives no logits. An error a network
            raises on these arguments is raised again, naming this function and the call.

    Used in ``notebooks/14_diffusion.ipynb``; the losses are derived in
    ``notebooks/10_generative.ipynb``.
    """
    stop = jax.lax.stop_gradient
    fake = generator(generator_params, noise)
    d_term = discriminator_loss.kernel(discriminator(discriminator_params, real),
                                       discriminator(discriminator_params, stop(fake)))
    g_term = generator_loss.kernel(discriminator(stop(discriminator_params), fake),
                                   saturating=saturating)
    return d_term + g_term
