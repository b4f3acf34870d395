"""Unit tests of dlmath.generative: the Gaussian KL against numerical integration of its
definition, reparameterised samples and their gradients, the ELBO against optax's
cross-entropy and NumPy's Gaussian log-density, the GAN losses against optax, float64
gradients against finite differences, the documented formulas, and every error path."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import sympy as sp
from jax.test_util import check_grads

from dlmath import generative as G
from dlmath.formulas import generative as F
from dlmath.testing import in_float64


def _gaussian(shape=(3, 4), seed=0):
    k1, k2 = jax.random.split(jax.random.key(seed))
    return jax.random.normal(k1, shape), 0.8 * jax.random.normal(k2, shape)


def test_gaussian_kl_is_the_integral_of_its_definition():
    """Each coordinate's KL by the trapezoid rule on a fine grid (float64), summed."""
    mean, log_var = _gaussian()
    got = G.gaussian_kl(mean, log_var)
    assert got.shape == (3,)
    z = np.linspace(-30, 30, 200001)
    want = np.zeros(3)
    for b in range(3):
        for j in range(4):
            m, s2 = float(mean[b, j]), float(np.exp(log_var[b, j]))
            log_q = -0.5 * np.log(2 * np.pi * s2) - (z - m) ** 2 / (2 * s2)
            log_p = -0.5 * np.log(2 * np.pi) - z**2 / 2
            want[b] += np.trapezoid(np.exp(log_q) * (log_q - log_p), z)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_array_equal(G.gaussian_kl(jnp.zeros((2, 5)), jnp.zeros((2, 5))), 0.0)
    assert G.gaussian_kl(jnp.zeros((2, 0)), jnp.zeros((2, 0))).shape == (2,)
    assert G.gaussian_kl(jnp.zeros(3), jnp.zeros(3)).shape == ()


def test_reparameterized_samples_have_the_moments_and_the_gradients():
    mean = jnp.array([0.5, -2.0, 3.0])
    log_var = jnp.log(jnp.array([0.25, 1.0, 4.0]))
    key = jax.random.key(3)
    z = G.reparameterize(key, jnp.broadcast_to(mean, (20000, 3)),
                         jnp.broadcast_to(log_var, (20000, 3)))
    np.testing.assert_allclose(z.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(z.var(0), jnp.exp(log_var), rtol=0.05)
    eps = jax.random.normal(key, (3,))
    np.testing.assert_allclose(G.reparameterize(key, mean, log_var),
                               mean + jnp.exp(log_var / 2) * eps, rtol=1e-6)
    g_mean, g_log_var = jax.grad(lambda m, lv: jnp.sum(G.reparameterize(key, m, lv)),
                                 (0, 1))(mean, log_var)
    np.testing.assert_allclose(g_mean, 1.0)
    np.testing.assert_allclose(g_log_var, 0.5 * jnp.exp(log_var / 2) * eps, rtol=1e-6)
    assert G.reparameterize(key, mean.astype(jnp.float16), log_var).dtype == jnp.float32


def test_elbo_is_the_log_likelihood_minus_the_kl():
    mean, log_var = _gaussian((3, 2), seed=1)
    logits = jax.random.normal(jax.random.key(4), (3, 5)) * 3
    x = jax.random.uniform(jax.random.key(5), (3, 5))
    kl = G.gaussian_kl(mean, log_var)
    want = -optax.sigmoid_binary_cross_entropy(logits, x).sum(-1) - kl
    np.testing.assert_allclose(G.elbo(x, logits, mean, log_var), want, rtol=1e-5)
    log_density = -0.5 * ((np.asarray(x) - np.asarray(logits)) ** 2 + np.log(2 * np.pi))
    np.testing.assert_allclose(G.elbo(x, logits, mean, log_var, likelihood="gaussian"),
                               log_density.sum(-1) - kl, rtol=1e-5)
    huge = G.elbo(jnp.ones((1, 2)), jnp.array([[1e4, -1e4]]), jnp.zeros((1, 1)),
                  jnp.zeros((1, 1)))  # log sigma(-1e4) = -1e4, never -inf
    np.testing.assert_allclose(huge, [-1e4], rtol=1e-6)


def test_gan_losses_are_optax_cross_entropies_and_stable():
    real = jnp.array([[2.0, -1.0], [0.5, 4.0]])
    fake = jnp.array([-3.0, 0.0, 1.5])
    bce = optax.sigmoid_binary_cross_entropy
    np.testing.assert_allclose(G.discriminator_loss(real, fake),
                               bce(real, jnp.ones_like(real)).mean()
                               + bce(fake, jnp.zeros_like(fake)).mean(), rtol=1e-6)
    np.testing.assert_allclose(G.generator_loss(fake), bce(fake, jnp.ones_like(fake)).mean(),
                               rtol=1e-6)
    np.testing.assert_allclose(G.generator_loss(fake, saturating=True),
                               -bce(fake, jnp.zeros_like(fake)).mean(), rtol=1e-6)
    far = jnp.array([-1e4, 1e4])
    for f in (lambda v: G.discriminator_loss(v, v), G.generator_loss,
              lambda v: G.generator_loss(v, saturating=True)):
        assert bool(jnp.isfinite(f(far)))
        assert bool(jnp.all(jnp.isfinite(jax.grad(f)(far))))
    # where D rejects the samples (logit -> -inf) the saturating gradient vanishes
    g_sat = jax.grad(lambda v: G.generator_loss(v, saturating=True))(jnp.array([-20.0]))
    g_non = jax.grad(G.generator_loss)(jnp.array([-20.0]))
    assert abs(float(g_sat[0])) < 1e-8 and abs(float(g_non[0]) + 1.0) < 1e-6


def test_float64_gradients_against_finite_differences():
    # check_grads of per-example (non-scalar) ELBOs: verify checks gradients of scalars only
    with jax.enable_x64(True):
        mean, log_var = (np.asarray(a, np.float64) for a in _gaussian((2, 3), seed=2))
        x = np.asarray(jax.random.uniform(jax.random.key(6), (2, 4)), np.float64)
        y = np.asarray(jax.random.normal(jax.random.key(7), (2, 4)), np.float64)
        for likelihood in G.LIKELIHOODS:
            check_grads(lambda y_, m, lv, lk=likelihood: G.elbo(x, y_, m, lv, likelihood=lk),
                        (y, mean, log_var), order=1, modes=("rev",))
        check_grads(G.discriminator_loss, (y, x - 0.5), order=1, modes=("rev",))
        check_grads(lambda f: G.generator_loss(f) + G.generator_loss(f, saturating=True), (y,),
                    order=1, modes=("rev",))


def _numbers(rng, base, n):
    """{base[k]: a standard-normal number} for k < n."""
    return {base[k]: float(rng.standard_normal()) for k in range(n)}


def test_documented_formulas_equal_the_code():
    """Each $$ formula of dlmath.formulas.generative, expanded at Z = 2, D = 3, N = 2, M = 3
    with numbers for every entry, against the function it documents."""
    rng = np.random.default_rng(0)
    sizes = {F.Z: 2, F.D: 3, F.N: 2, F.M: 3}

    def value(expr, nums):
        return float(expr.subs(sizes).doit().xreplace(nums).evalf())

    mu, ell = (_numbers(rng, b, 2) for b in (F.mu, F.ell))
    xs = {F.x[a]: float(rng.uniform()) for a in range(3)}
    ys = _numbers(rng, F.y, 3)
    rs, fs = _numbers(rng, F.r, 2), _numbers(rng, F.f, 3)
    arr = lambda d, base, n: np.array([d[base[k]] for k in range(n)], np.float64)  # noqa: E731

    def code(m, lv, x, y, r, f):
        """Every documented function at these numbers (run in float64)."""
        return {"kl": G.gaussian_kl(m, lv),
                "eps": jax.random.normal(jax.random.key(9), (2,), jnp.float32),
                "z": G.reparameterize(jax.random.key(9), m, lv),
                **{lk: G.elbo(x, y, m, lv, likelihood=lk) for lk in G.LIKELIHOODS},
                "d": G.discriminator_loss(r, f), "g": G.generator_loss(f),
                "g_sat": G.generator_loss(f, saturating=True)}

    got = in_float64(code, arr(mu, F.mu, 2), arr(ell, F.ell, 2), arr(xs, F.x, 3),
                     arr(ys, F.y, 3), arr(rs, F.r, 2), arr(fs, F.f, 3))
    np.testing.assert_allclose(got["kl"], value(F.GAUSSIAN_KL.expr, mu | ell), rtol=1e-12)
    want = [float(F.REPARAMETERIZE.expr.subs(F.j, k).xreplace(
        mu | ell | {F.eps[k]: float(got["eps"][k])})) for k in range(2)]
    np.testing.assert_allclose(got["z"], want, rtol=1e-12)
    for formula, lk in ((F.ELBO_BERNOULLI, "bernoulli"), (F.ELBO_GAUSSIAN, "gaussian")):
        np.testing.assert_allclose(got[lk], value(formula.expr, mu | ell | xs | ys), rtol=1e-10)
    np.testing.assert_allclose(got["d"], value(F.DISCRIMINATOR_LOSS.expr, rs | fs), rtol=1e-10)
    np.testing.assert_allclose(got["g"], value(F.GENERATOR_LOSS_NON_SATURATING.expr, fs),
                               rtol=1e-10)
    np.testing.assert_allclose(got["g_sat"], value(F.GENERATOR_LOSS_SATURATING.expr, fs),
                               rtol=1e-10)
    assert isinstance(F.GAUSSIAN_KL.expr, sp.Sum)


def test_errors():
    m = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match=r"gaussian_kl: log_var must have the shape of mean"):
        G.gaussian_kl(m, jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"gaussian_kl: mean must have shape \(\*B, Z\)"):
        G.gaussian_kl(jnp.float32(0.0), jnp.float32(0.0))
    with pytest.raises(TypeError, match=r"reparameterize: mean must be a floating"):
        G.reparameterize(jax.random.key(0), jnp.zeros((2, 3), jnp.int32), m)
    x = jnp.zeros((2, 5))
    with pytest.raises(ValueError, match=r"elbo: likelihood must be one of"):
        G.elbo(x, x, m, m, likelihood="poisson")
    with pytest.raises(ValueError, match=r"elbo: decoder_output must have the shape of x"):
        G.elbo(x, jnp.zeros((2, 4)), m, m)
    with pytest.raises(ValueError, match=r"elbo: x \(\*B, D\) and mean \(\*B, Z\) must share"):
        G.elbo(jnp.zeros((3, 5)), jnp.zeros((3, 5)), m, m)
    with pytest.raises(ValueError, match=r"discriminator_loss: fake_logits has no entries"):
        G.discriminator_loss(jnp.zeros(3), jnp.zeros(0))
    with pytest.raises(TypeError, match=r"generator_loss: saturating must be a Python bool"):
        G.generator_loss(jnp.zeros(3), saturating=1)
    with pytest.raises(TypeError, match=r"reparameterize: key must be a jax.random key"):
        G.reparameterize(None, m, m)
    with pytest.raises(TypeError, match=r"generator_loss: fake_logits must be a floating"):
        G.generator_loss(jnp.zeros(3, jnp.int32))
