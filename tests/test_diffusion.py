"""Unit tests of the dlmath.diffusion package: the schedules against NumPy
transcriptions of the papers, the forward process and its posterior against Bayes' rule,
the bound's weights against the Gaussian KL, Monte-Carlo moments with stated tolerances,
both samplers on Gaussian data (whose exact noise prediction is known in closed form),
jax.grad against finite differences, and the error paths."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

from dlmath import diffusion as Dm
from dlmath.diffusion import sampling as S
from dlmath.formulas import diffusion as F
from dlmath.testing import in_float64, verify

T = 20
BETAS = np.linspace(0.01, 0.3, T)  # a short schedule whose steps all matter


def _abar(betas):
    return np.cumprod(1 - np.asarray(betas, np.float64))


def _abar_prev(betas):
    return np.concatenate([[1.0], _abar(betas)[:-1]])


# ------------------------------------------------------------------ schedules


def test_linear_schedule_is_evenly_spaced_as_the_ddpm_paper():
    np.testing.assert_allclose(Dm.linear_schedule(1000), np.linspace(1e-4, 0.02, 1000),
                               rtol=1e-6)
    np.testing.assert_allclose(Dm.linear_schedule(1, 0.1, 0.2), [0.1])
    assert Dm.linear_schedule(5).dtype == jnp.float32


def _cosine_reference(num_steps, s=0.008):
    """diffusers' betas_for_alpha_bar(alpha_transform_type="cosine"), transcribed."""
    f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    return np.array([min(1 - f((i + 1) / num_steps) / f(i / num_steps), 0.999)
                     for i in range(num_steps)])


@pytest.mark.parametrize("num_steps, s", [(1000, 0.008), (10, 0.0), (7, 0.1)])
def test_cosine_schedule_matches_the_improved_ddpm_paper(num_steps, s):
    got = Dm.cosine_schedule(num_steps, s)
    np.testing.assert_allclose(got, _cosine_reference(num_steps, s), rtol=2e-4, atol=1e-7)
    assert got[-1] == pytest.approx(0.999)
    # its alphas_cumprod is f(t + 1)/f(0) until the clip
    f = lambda u: np.cos((u + s) / (1 + s) * np.pi / 2) ** 2  # noqa: E731
    abar = in_float64(lambda b: Dm.alphas_cumprod(b), np.asarray(got, np.float64))
    want = f(np.arange(1, num_steps + 1) / num_steps) / f(0)
    np.testing.assert_allclose(abar[:-1], want[:-1], rtol=2e-3, atol=1e-6)


def test_alphas_cumprod_and_snr():
    abar = _abar(BETAS)
    np.testing.assert_allclose(in_float64(Dm.alphas_cumprod, BETAS), abar, rtol=1e-12)
    np.testing.assert_allclose(in_float64(Dm.snr, BETAS), abar / (1 - abar), rtol=1e-12)
    # 1 - abar_0 keeps its digits in float32 (1 - cumprod would lose them)
    small = jnp.full((3,), 1e-6, jnp.float32)
    np.testing.assert_allclose(Dm.snr(small)[0], (1 - 1e-6) / 1e-6, rtol=1e-5)
    assert np.all(np.diff(np.asarray(Dm.snr(Dm.cosine_schedule(50)))) < 0)


# ------------------------------------------------------------------ forward process


def test_q_sample_is_the_closed_form_and_has_its_moments():
    rng = np.random.default_rng(0)
    x0, noise = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    t = np.array([0, 5, 19, 11])
    abar = _abar(BETAS)[t][:, None]
    np.testing.assert_allclose(in_float64(Dm.q_sample, x0, t, noise, BETAS),
                               np.sqrt(abar) * x0 + np.sqrt(1 - abar) * noise, rtol=1e-12)
    # Monte-Carlo: n = 200000 draws at x0 = 1.5; the sample mean's standard error is
    # sqrt((1 - abar)/n) < 0.0023, the variance's about sqrt(2/n)(1 - abar) < 0.0032:
    # tolerances of 5 standard errors
    n, step = 200_000, 9
    eps = jax.random.normal(jax.random.key(1), (n, 1))
    xt = np.asarray(Dm.q_sample(jnp.full((n, 1), 1.5), jnp.full((n,), step), eps,
                                jnp.asarray(BETAS, jnp.float32)), np.float64)
    a = _abar(BETAS)[step]
    assert abs(xt.mean() - math.sqrt(a) * 1.5) < 5 * math.sqrt((1 - a) / n)
    assert abs(xt.var() - (1 - a)) < 5 * math.sqrt(2 / n) * (1 - a)


def test_closed_form_equals_the_steps_one_at_a_time():
    """x_t = sqrt(1 - b) x_{t-1} + sqrt(b) z step by step has the closed form's moments: the
    mean scales by sqrt(abar) exactly, the variance follows the recursion
    v_t = (1 - b_t) v_{t-1} + b_t, checked in float64 and by Monte-Carlo (5 standard
    errors)."""
    v, m = 0.0, 1.0
    for b in BETAS:
        v, m = (1 - b) * v + b, math.sqrt(1 - b) * m
    assert v == pytest.approx(1 - _abar(BETAS)[-1], rel=1e-12)
    assert m == pytest.approx(math.sqrt(_abar(BETAS)[-1]), rel=1e-12)
    n = 100_000
    x = jnp.ones((n,))
    for k, b in enumerate(BETAS):
        x = math.sqrt(1 - b) * x + math.sqrt(b) * jax.random.normal(jax.random.key(k), (n,))
    assert abs(float(x.mean()) - m) < 5 * math.sqrt(v / n)
    assert abs(float(x.var()) - v) < 5 * math.sqrt(2 / n) * v


def test_posterior_is_bayes_rule():
    """The posterior of x_{t-1} from the prior N(sqrt(abar_{t-1}) x0, 1 - abar_{t-1}) and the
    likelihood N(sqrt(1 - b_t) x_{t-1}, b_t), by precisions; at t = 0 the point x0."""
    rng = np.random.default_rng(1)
    x0, xt = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    t = np.array([1, 4, 19, 10, 0])
    mean, var = in_float64(Dm.posterior_mean_variance, x0, xt, t, BETAS)
    assert var.shape == (5, 1)
    b, ap = BETAS[t], _abar_prev(BETAS)[t]
    for k in range(4):
        precision = 1 / (1 - ap[k]) + (1 - b[k]) / b[k]
        want_var = 1 / precision
        want_mean = want_var * (math.sqrt(ap[k]) * x0[k] / (1 - ap[k])
                                + math.sqrt(1 - b[k]) * xt[k] / b[k])
        np.testing.assert_allclose(var[k], want_var, rtol=1e-12)
        np.testing.assert_allclose(mean[k], want_mean, rtol=1e-12)
    np.testing.assert_allclose(mean[4], x0[4], rtol=1e-12)
    assert var[4] == 0
    # float32, beta = 1e-4: the t = 0 mean is still x0
    m32, _ = Dm.posterior_mean_variance(jnp.ones((1, 2)), jnp.zeros((1, 2)), jnp.array([0]),
                                        Dm.linear_schedule(10))
    np.testing.assert_allclose(m32, 1.0, rtol=1e-5)
    # x0 of rank 1: one variance per example
    assert Dm.posterior_mean_variance(x0[:, 0], xt[:, 0], t, BETAS)[1].shape == (5,)


# ------------------------------------------------------------------ the loss


def _gaussian_kl_same_variance(m1, m2, var):
    return np.sum((m1 - m2) ** 2) / (2 * var)


def test_vlb_weights_turn_the_kl_terms_into_squared_noise_errors():
    """For t >= 1 the KL between the posterior and the model's reverse step (the same
    variance, the mean at x0_hat) is w_t ||eps - eps_hat||^2; at t = 0 the Gaussian decoder
    N(mu_theta, b_0) gives w_0 ||eps - eps_hat||^2 plus a constant."""
    rng = np.random.default_rng(2)
    w = in_float64(Dm.vlb_weights, BETAS)
    snr = _abar(BETAS) / (1 - _abar(BETAS))
    np.testing.assert_allclose(w[1:], 0.5 * (snr[:-1] / snr[1:] - 1), rtol=1e-10)
    for step in (0, 1, 7, 19):
        x0, eps, eps_hat = rng.normal(size=(3, 1, 4))
        a = _abar(BETAS)[step]
        xt = math.sqrt(a) * x0 + math.sqrt(1 - a) * eps
        x0_hat = (xt - math.sqrt(1 - a) * eps_hat) / math.sqrt(a)
        t = np.array([step])
        if step == 0:
            mu_theta = in_float64(Dm.posterior_mean_variance, x0_hat, xt, t, BETAS)[0]
            got = np.sum((x0 - mu_theta) ** 2) / (2 * BETAS[0])  # -log N(x0; mu, b0) + const
        else:
            mu, var = in_float64(Dm.posterior_mean_variance, x0, xt, t, BETAS)
            mu_theta = in_float64(Dm.posterior_mean_variance, x0_hat, xt, t, BETAS)[0]
            got = _gaussian_kl_same_variance(mu, mu_theta, float(var[0, 0]))
        assert got == pytest.approx(w[step] * np.sum((eps - eps_hat) ** 2), rel=1e-9)


def test_noise_prediction_loss_values_and_gradient():
    rng = np.random.default_rng(3)
    p, e, wts = rng.normal(size=(4, 2, 3)), rng.normal(size=(4, 2, 3)), rng.random(4)
    np.testing.assert_allclose(in_float64(Dm.noise_prediction_loss, p, e),
                               np.sum((p - e) ** 2, axis=(1, 2)), rtol=1e-12)
    np.testing.assert_allclose(in_float64(Dm.noise_prediction_loss, p, e, wts),
                               wts * np.sum((p - e) ** 2, axis=(1, 2)), rtol=1e-12)
    verify(lambda q: jnp.mean(Dm.noise_prediction_loss(q, e, wts)), [p],
           grad=lambda q: 2 * wts[:, None, None] * (q - e) / 4, check_grads_order=None)
    assert Dm.noise_prediction_loss(jnp.zeros((3, 0)), jnp.zeros((3, 0))).tolist() == [0, 0, 0]


def test_q_sample_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    x0, eps = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    t = np.array([2, 0, 17])
    abar = _abar(BETAS)[t][:, None]
    verify(lambda x: jnp.sum(Dm.q_sample(x, t, eps, BETAS) ** 2), [x0],
           grad=lambda x: 2 * np.sqrt(abar) * (np.sqrt(abar) * x + np.sqrt(1 - abar) * eps),
           check_grads_order=None)


def test_documented_formulas_equal_the_code():
    """Each $$ formula of dlmath.formulas.diffusion, at numbers, against its function (run in
    float64). The formulas count steps from 1 (beta_t is betas[t - 1], abar_0 = 1); the
    code's step c is the formulas' step c + 1. A schedule of 6 steps keeps the symbolic
    product short; its first, a middle and its last step are checked."""
    rng = np.random.default_rng(5)
    b6 = BETAS[:6]
    abar = _abar(b6)
    betas_at = {F.beta[k + 1]: float(b6[k]) for k in range(6)}
    abar_at = {F.abar[k + 1]: float(abar[k]) for k in range(6)} | {F.abar[0]: 1.0}

    def m(v):
        return np.array([[v]])

    def value(expr, nums):
        return float(expr.xreplace(nums).doit().xreplace(nums).evalf())

    lin = in_float64(lambda: Dm.linear_schedule(7, 0.01, 0.2))
    cos = in_float64(lambda: Dm.cosine_schedule(7, 0.05))
    for step in range(7):
        assert lin[step] == pytest.approx(value(F.LINEAR_SCHEDULE.expr, {
            F.beta_start: 0.01, F.beta_end: 0.2, F.t: step + 1, F.T: 7}), rel=1e-12)
        assert cos[step] == pytest.approx(value(F.COSINE_SCHEDULE.expr, {
            F.t: step + 1, F.T: 7, F.s: sp.Rational(5, 100)}), rel=1e-10)
    got_abar, got_snr, got_w = (in_float64(f, b6) for f in (Dm.alphas_cumprod, Dm.snr,
                                                            Dm.vlb_weights))
    steps = np.array([0, 2, 5])
    x0, xt, eps, eps_hat, z = rng.normal(size=(5, 3, 1))
    got_q = in_float64(Dm.q_sample, x0, steps, eps, b6)
    got_mean, got_var = in_float64(Dm.posterior_mean_variance, x0, xt, steps, b6)
    got_ddpm = in_float64(S.ddpm_step, xt, steps, eps_hat, z, b6)
    to_x0 = np.full(3, -1)
    back2 = np.maximum(steps - 2, -1)
    got_ddim = {tuple(p): in_float64(S.ddim_step, xt, steps, p, eps_hat, b6)
                for p in (to_x0, back2)}
    for i, step in enumerate(steps.tolist()):
        at = {F.t: step + 1} | betas_at | abar_at
        assert got_abar[step] == pytest.approx(value(F.ALPHAS_CUMPROD.expr, at), rel=1e-12)
        assert got_snr[step] == pytest.approx(value(F.SNR.expr, at), rel=1e-12)
        assert got_w[step] == pytest.approx(value(F.VLB_WEIGHTS.expr, at), rel=1e-12)
        nums = at | {F.x0: x0[i, 0], F.xt: xt[i, 0], F.epsilon: eps[i, 0],
                     F.epsilon_hat: eps_hat[i, 0], F.z: z[i, 0]}
        assert got_q[i, 0] == pytest.approx(value(F.Q_SAMPLE.expr, nums), rel=1e-12)
        assert got_mean[i, 0] == pytest.approx(value(F.POSTERIOR_MEAN.expr, nums), rel=1e-12)
        assert got_var[i, 0] == pytest.approx(value(F.POSTERIOR_VARIANCE.expr, nums),
                                              abs=1e-15)
        assert got_ddpm[i, 0] == pytest.approx(value(F.DDPM_STEP.expr, nums), rel=1e-12)
        for prev in (to_x0, back2):
            assert got_ddim[tuple(prev)][i, 0] == pytest.approx(
                value(F.DDIM_STEP.expr, nums | {F.t_prev: int(prev[i]) + 1}), rel=1e-12)
    p, e, w = rng.normal(size=(1, 3)), rng.normal(size=(1, 3)), np.array([0.7])
    nums = {F.D: 3, F.w: 0.7} | {F.eps[k]: e[0, k] for k in range(3)} | {
        F.eps_hat[k]: p[0, k] for k in range(3)}
    assert in_float64(Dm.noise_prediction_loss, p, e, w)[0] == pytest.approx(
        value(F.NOISE_PREDICTION_LOSS.expr, nums), rel=1e-12)


# ------------------------------------------------------------------ samplers


def _gaussian_eps(sigma0, betas):
    """The exact noise prediction E[eps | x_t] for data N(0, sigma0^2):
    sqrt(1 - abar) x_t / (abar sigma0^2 + 1 - abar)."""
    abar = jnp.asarray(_abar(betas), jnp.float32)

    def eps_fn(x, t):
        a = abar[t].reshape((-1,) + (1,) * (x.ndim - 1))
        return jnp.sqrt(1 - a) * x / (a * sigma0**2 + 1 - a)

    return eps_fn


def test_ddpm_step_is_the_posterior_at_the_predicted_x0():
    rng = np.random.default_rng(6)
    xt, eps_hat, z = rng.normal(size=(3, 4, 2))
    t = np.array([0, 3, 12, 19])
    a = _abar(BETAS)[t][:, None]
    x0_hat = (xt - np.sqrt(1 - a) * eps_hat) / np.sqrt(a)
    mean, var = in_float64(Dm.posterior_mean_variance, x0_hat, xt, t, BETAS)
    np.testing.assert_allclose(in_float64(S.ddpm_step, xt, t, eps_hat, z, BETAS),
                               mean + np.sqrt(var) * z, rtol=1e-10, atol=1e-12)


def test_ddim_step_returns_x0_hat_at_minus_one_and_x_t_at_t():
    rng = np.random.default_rng(7)
    xt, eps_hat = rng.normal(size=(2, 3, 2))
    t = np.array([4, 0, 19])
    a = _abar(BETAS)[t][:, None]
    np.testing.assert_allclose(in_float64(S.ddim_step, xt, t, np.full(3, -1), eps_hat, BETAS),
                               (xt - np.sqrt(1 - a) * eps_hat) / np.sqrt(a), rtol=1e-12)
    np.testing.assert_allclose(in_float64(S.ddim_step, xt, t, t, eps_hat, BETAS), xt,
                               rtol=1e-12)


def test_samplers_with_the_exact_noise_prediction_recover_gaussian_data():
    """Data N(0, 0.5^2) and its exact eps, T = 100 steps: DDPM (ancestral) and DDIM with
    every step give samples of standard deviation 0.5. Tolerance 0.03: 4000 samples give
    the sample standard deviation a standard error of 0.5/sqrt(8000) = 0.0056, and the
    discrete reverse steps (a fixed variance, finite steps) add a small bias. DDIM with
    fewer, larger steps moves towards the posterior mean E[x_0 | x_T] (one step is exactly
    it), whose spread is smaller: the spread grows with the number of steps."""
    betas_np = np.linspace(1e-3, 0.1, 100)
    betas = jnp.asarray(betas_np, jnp.float32)
    eps_fn = _gaussian_eps(0.5, betas_np)
    x_T = jax.random.normal(jax.random.key(3), (4000, 1))
    ddpm = S.ddpm_sample(jax.random.key(4), eps_fn, x_T, betas)
    ddim = S.ddim_sample(eps_fn, x_T, betas)
    assert abs(float(jnp.std(ddpm)) - 0.5) < 0.03
    assert abs(float(jnp.mean(ddpm))) < 0.03
    assert abs(float(jnp.std(ddim)) - 0.5) < 0.03
    spreads = [float(jnp.std(S.ddim_sample(eps_fn, x_T, betas, num_steps=n)))
               for n in (1, 10)]
    assert spreads[0] < spreads[1] < float(jnp.std(ddim)) + 0.01
    abar_last = float(np.prod(1 - betas_np))
    one_step = np.sqrt(abar_last) * 0.25 / (abar_last * 0.25 + 1 - abar_last) * x_T
    np.testing.assert_allclose(S.ddim_sample(eps_fn, x_T, betas, num_steps=1), one_step,
                               rtol=1e-4, atol=1e-6)
    # deterministic: the same start gives the same samples
    np.testing.assert_array_equal(ddim, S.ddim_sample(eps_fn, x_T, betas))


def test_ddim_timesteps_trail_from_the_last_step():
    ts, prev = S._timesteps(1000, 50)
    assert ts[0] == 999 and ts[-1] == 19 and prev[-1] == -1
    assert np.all(np.diff(ts) == -20) and np.all(prev[:-1] == ts[1:])
    ts, prev = S._timesteps(7, 7)
    assert ts.tolist() == [6, 5, 4, 3, 2, 1, 0]


def test_ddim_sample_with_every_step_is_the_steps_in_a_loop():
    betas = jnp.asarray(BETAS[:6], jnp.float32)
    eps_fn = lambda x, t: 0.3 * x + 0.01 * t[:, None]  # noqa: E731
    x = x_T = jax.random.normal(jax.random.key(0), (3, 2))
    for step in range(5, -1, -1):
        t = jnp.full((3,), step)
        x = S.ddim_step(x, t, t - 1, eps_fn(x, t), betas)
    np.testing.assert_allclose(S.ddim_sample(eps_fn, x_T, betas), x, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ errors


def test_errors_name_the_function_the_argument_and_a_hint():
    b = Dm.linear_schedule(10)
    x = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match=r"^q_sample: time step ids must lie in \[0, T\) = "
                                         r"\[0, 10\); got t\[1\] = 10"):
        Dm.q_sample(x, jnp.array([0, 10]), x, b)
    with pytest.raises(ValueError, match=r"^q_sample: .*got t\[0\] = -1"):
        Dm.q_sample(x, jnp.array([-1, 0]), x, b)
    with pytest.raises(TypeError, match=r"^q_sample: t must hold integer"):
        Dm.q_sample(x, jnp.array([0.0, 1.0]), x, b)
    with pytest.raises(ValueError, match=r"^alphas_cumprod: every entry of betas .* \(0, 1\)"
                                         r".*got betas\[2\] = 1.0"):
        Dm.alphas_cumprod(jnp.array([0.1, 0.2, 1.0]))
    with pytest.raises(ValueError, match=r"^snr: .*got betas\[0\] = 0.0"):
        Dm.snr(jnp.array([0.0, 0.2]))
    with pytest.raises(ValueError, match=r"^q_sample: noise must have the shape of x0"):
        Dm.q_sample(x, jnp.array([0, 1]), jnp.zeros((2, 4)), b)
    with pytest.raises(ValueError, match=r"^posterior_mean_variance: t must have shape \(N,\)"):
        Dm.posterior_mean_variance(x, x, jnp.array([0, 1, 2]), b)
    with pytest.raises(ValueError, match=r"^linear_schedule: beta_end must be .*\(0, 1\)"):
        Dm.linear_schedule(10, beta_end=1.5)
    with pytest.raises(ValueError, match=r"^noise_prediction_loss: weights must have shape"):
        Dm.noise_prediction_loss(x, x, jnp.ones((3,)))
    with pytest.raises(ValueError, match=r"^ddim_sample: num_steps must be an int \[1, 10\]"):
        S.ddim_sample(lambda x, t: x, x, b, num_steps=11)
    with pytest.raises(ValueError, match=r"^ddpm_sample: eps_fn\(x_t, t\) must return"):
        S.ddpm_sample(jax.random.key(0), lambda x, t: x[:, :1], x, b)
    with pytest.raises(ValueError, match=r"^ddim_step: time steps must lie in \[-1, T\)"):
        S.ddim_step(x, jnp.array([1, 1]), jnp.array([-2, 0]), x, b)


def test_a_step_out_of_range_under_jit_gives_nan_for_its_example():
    b = Dm.linear_schedule(10)
    x = jnp.ones((2, 3))
    got = jax.jit(Dm.q_sample)(x, jnp.array([3, 10]), x, b)
    assert np.all(np.isfinite(got[0])) and np.all(np.isnan(got[1]))
    got = jax.jit(Dm.q_sample)(x, jnp.array([-1, 2]), x, b)
    assert np.all(np.isnan(got[0])) and np.all(np.isfinite(got[1]))
