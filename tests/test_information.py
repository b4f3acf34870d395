"""Unit tests of dlmath.information: entropy, KL divergence and cross-entropy against
scipy.stats, optax, the lambdified formulas and the identities the notebook proves; zero
probabilities, log-space KL at huge logits, and every error path."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.stats

from dlmath import information as info
from dlmath import losses
from dlmath.formulas import cross_entropy as F
from dlmath.symbolic import docstring_math


def _dists(seed, shape):
    rng = np.random.default_rng(seed)
    e = np.exp(2.0 * rng.standard_normal((2, *shape)))
    p, q = e / e.sum(-1, keepdims=True)
    return jnp.asarray(p, jnp.float64), jnp.asarray(q, jnp.float64)


@pytest.mark.parametrize("name", ["entropy", "kl_divergence", "cross_entropy"])
def test_docstring_formulas_are_the_registered_ones(name):
    assert docstring_math(getattr(info, name)) == [
        f.latex for f in F.DOCUMENTED[f"information.{name}"]]


def test_values_match_scipy_optax_and_the_formulas():
    with jax.enable_x64(True):
        p, q = _dists(0, (3, 6))
        h, kl, ce = info.entropy(p), info.kl_divergence(jnp.log(q), p), info.cross_entropy(p, q)
        assert h.shape == kl.shape == ce.shape == (3,)
        np.testing.assert_allclose(h, scipy.stats.entropy(np.asarray(p), axis=-1), rtol=1e-12)
        np.testing.assert_allclose(kl, scipy.stats.entropy(np.asarray(p), np.asarray(q),
                                                           axis=-1), rtol=1e-12)
        # optax's name, arguments and meaning: kl_divergence(log_predictions, targets)
        np.testing.assert_allclose(kl, optax.kl_divergence(jnp.log(q), p), rtol=1e-12)
        for f, args in ((F.ENTROPY, (p,)), (F.KL_DIVERGENCE, (p, q)), (F.CROSS_ENTROPY, (p, q))):
            ref = jax.vmap(lambda *a, f=f: f.reference(*a, 6))(*args)
            got = {"information.entropy": h, "information.kl_divergence": kl,
                   "information.cross_entropy": ce}[f.name]
            np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_cross_entropy_is_entropy_plus_kl_and_kl_is_nonnegative():
    with jax.enable_x64(True):
        p, q = _dists(1, (50, 4))
        kl = info.kl_divergence(jnp.log(q), p)
        np.testing.assert_allclose(info.cross_entropy(p, q), info.entropy(p) + kl, rtol=1e-12)
        assert np.all(np.asarray(kl) > 0)
        np.testing.assert_allclose(info.kl_divergence(jnp.log(p), p), 0.0, atol=1e-15)
        # not symmetric: the arguments are not interchangeable
        assert not np.allclose(kl, info.kl_divergence(jnp.log(p), q), rtol=1e-3)


def test_cross_entropy_of_softmax_is_the_softmax_loss():
    with jax.enable_x64(True):
        p, _ = _dists(2, (5, 7))
        z = jnp.asarray(np.random.default_rng(3).standard_normal((5, 7)), jnp.float64)
        np.testing.assert_allclose(info.cross_entropy(p, jax.nn.softmax(z)),
                                   losses.softmax_cross_entropy(z, p), rtol=1e-12)


def test_zero_probabilities_follow_0_log_0_equals_0():
    p = jnp.array([0.5, 0.5, 0.0])
    q = jnp.array([0.25, 0.25, 0.5])
    np.testing.assert_allclose(info.entropy(p), np.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(info.kl_divergence(jnp.log(q), p), np.log(2.0), rtol=1e-6)
    assert np.isinf(info.kl_divergence(jnp.log(p), q))  # q puts mass where p has none
    np.testing.assert_allclose(info.entropy(jnp.array([1.0, 0.0])), 0.0, atol=0)
    np.testing.assert_allclose(info.entropy(jnp.full(8, 1 / 8)), np.log(8.0), rtol=1e-6)


def test_entropy_gradient_at_a_zero_probability_is_the_one_sided_limit_not_nan():
    g = jax.grad(info.entropy)(jnp.array([1.0, 0.0]))
    # dH/dp_k = -log p_k - 1: -1 at p = 1, +inf (the limit from the right) at p = 0, as
    # jax.scipy.special.entr gives it; the former xlogy form gave NaN
    assert float(g[0]) == -1.0 and np.isposinf(g[1])
    g_entr = jax.grad(lambda p: jnp.sum(jax.scipy.special.entr(p)))(jnp.array([1.0, 0.0]))
    np.testing.assert_array_equal(g, g_entr)
    # finite differences from the right grow without bound, as -log(eps)
    for eps in (1e-2, 1e-4):
        with jax.enable_x64(True):
            h = info.entropy(jnp.array([1 - eps, eps], jnp.float64))
        assert float(h) / eps > -np.log(eps)


def test_kl_from_log_softmax_is_finite_with_finite_gradients_at_huge_logits():
    p = jnp.array([0.2, 0.3, 0.5])
    z = jnp.array([1e4, 0.0, -1e4])
    kl = lambda z: info.kl_divergence(jax.nn.log_softmax(z), p)  # noqa: E731
    assert np.isfinite(kl(z))
    np.testing.assert_allclose(kl(z), np.sum(np.asarray(p) * np.log(np.asarray(p)))
                               + 0.3 * 1e4 + 0.5 * 2e4, rtol=1e-6)
    g = jax.grad(kl)(z)
    np.testing.assert_allclose(g, jax.nn.softmax(z) - p, atol=1e-6)  # softmax minus target
    # the probability-space form, log(softmax(z)), is inf with NaN gradients there
    naive = lambda z: info.kl_divergence(jnp.log(jax.nn.softmax(z)), p)  # noqa: E731
    assert np.isinf(naive(z)) and np.all(np.isnan(jax.grad(naive)(z)))


def test_kl_is_0_where_target_and_prediction_are_both_impossible_unlike_optax():
    log_q = jnp.array([0.0, -jnp.inf])
    p = jnp.array([1.0, 0.0])
    assert float(info.kl_divergence(log_q, p)) == 0.0
    assert np.all(np.isfinite(jax.grad(info.kl_divergence)(log_q, p)))
    assert np.isnan(optax.kl_divergence(log_q, p))  # optax: 0 * (-inf)


def test_mixed_float_dtypes_follow_jax_promotion():
    p16 = jnp.array([0.5, 0.5], jnp.float16)
    q32 = jnp.array([0.25, 0.75], jnp.float32)
    assert info.cross_entropy(p16, q32).dtype == jnp.float32
    assert info.kl_divergence(jnp.log(q32), p16).dtype == jnp.float32
    assert info.entropy(p16).dtype == jnp.float16


def test_errors_name_the_function_and_shapes():
    with pytest.raises(ValueError, match=r"kl_divergence: targets must have the shape of "
                                         r"log_predictions \(\*B, K\); got targets \(3,\), "
                                         r"log_predictions \(2, 3\)"):
        info.kl_divergence(jnp.zeros((2, 3)), jnp.ones(3) / 3)
    with pytest.raises(TypeError, match="kl_divergence: targets must be a floating-point"):
        info.kl_divergence(jnp.zeros(2), jnp.array([1, 0]))
    with pytest.raises(TypeError, match="kl_divergence: log_predictions must be a floating"):
        info.kl_divergence(jnp.zeros(2, jnp.complex64), jnp.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"entropy: p must have shape \(\*B, K\) with K >= 1 "
                                         r"outcomes on the last axis; got \(2, 0\)"):
        info.entropy(jnp.zeros((2, 0)))
    with pytest.raises(TypeError, match="entropy: p must be a floating-point array"):
        info.entropy(jnp.array([1, 0]))
    with pytest.raises(ValueError, match=r"cross_entropy: p must have shape \(\*B, K\)"):
        info.cross_entropy(jnp.float32(1.0), jnp.float32(1.0))


# ---------------------------------------------------------------- the chapter's figures


def test_kl_heatmap_and_temperature_explorer_draw(close_figures):
    import ipywidgets

    from dlmath import plot, widgets

    grid = jnp.linspace(0.05, 0.95, 5)
    P, Q = jnp.meshgrid(grid, grid)
    kl = info.kl_divergence(jnp.log(jnp.stack([Q, 1 - Q], -1)), jnp.stack([P, 1 - P], -1))
    ax = plot.heatmap(kl, grid, grid, xlabel="p", ylabel="q", label="KL", vmax=2.0)
    mesh = ax.collections[0]
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(5, 5), kl, rtol=1e-6)
    assert mesh.get_clim() == (0.0, 2.0) and ax.get_xlabel() == "p"
    ax = plot.probability_bars(jnp.array([0.5, 0.25, 0.25]), title="t")
    assert [round(r.get_height(), 6) for r in ax.patches] == [0.5, 0.25, 0.25]
    box = widgets.softmax_temperature_explorer(jnp.array([2.0, 1.0, 0.0]))
    slider, image = box.children
    assert isinstance(slider, ipywidgets.FloatLogSlider) and slider.value == 1.0
    first = image.value
    assert first[:4] == b"\x89PNG"
    slider.value = 10.0  # redraws
    assert image.value[:4] == b"\x89PNG" and image.value != first
    with pytest.raises(ValueError, match=r"z must have shape \(K,\)"):
        widgets.softmax_temperature_explorer(jnp.zeros((2, 3)))


def test_chapter_figures_refuse_bad_input(close_figures):
    from dlmath import plot, widgets

    with pytest.raises(ValueError, match=r"heatmap: values must have shape \(len\(ys\), "
                                         r"len\(xs\)\) = \(2, 3\); got \(3, 2\)"):
        plot.heatmap(np.zeros((3, 2)), np.arange(3.0), np.arange(2.0))
    with pytest.raises(ValueError, match=r"probability_bars: probabilities must have shape "
                                         r"\(K,\); got \(2, 3\)"):
        plot.probability_bars(np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="labels must have K = 3 entries; got 2"):
        plot.probability_bars(np.full(3, 1 / 3), labels=["a", "b"])
    with pytest.raises(ValueError, match="t_min <= t0 <= t_max"):
        widgets.softmax_temperature_explorer(jnp.zeros(3), t0=50.0)
    with pytest.raises(ValueError, match=r"z must have shape \(K,\) with K >= 1; got \(0,\)"):
        widgets.softmax_temperature_explorer(jnp.zeros(0))
    with pytest.raises(TypeError, match="softmax_temperature_explorer: z must be an array"):
        widgets.softmax_temperature_explorer([1.0, 2.0])
    with pytest.raises(TypeError, match="softmax_temperature_explorer: z must hold real numbers"):
        widgets.softmax_temperature_explorer(jnp.zeros(3, jnp.complex64))
    with pytest.raises(ValueError, match=r"softmax_temperature_explorer: t_max must be a finite"):
        widgets.softmax_temperature_explorer(jnp.zeros(3), t_max=float("inf"))
