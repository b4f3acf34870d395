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
from dlmath.testing import in_float64, verify


def _dists(seed, shape):
    rng = np.random.default_rng(seed)
    e = np.exp(2.0 * rng.standard_normal((2, *shape)))
    return e / e.sum(-1, keepdims=True)  # p, q: float64, promoted by verify / in_float64


def _kl(p, q):
    return info.kl_divergence(jnp.log(q), p)


def test_values_match_scipy_optax_and_the_formulas():
    p, q = _dists(0, (3, 6))
    h, kl, ce = in_float64(lambda p, q: (info.entropy(p), _kl(p, q), info.cross_entropy(p, q)),
                           p, q)
    assert h.shape == kl.shape == ce.shape == (3,)
    formula = {f.name: lambda *a, f=f: jax.vmap(lambda *a: f.reference(*a, 6))(*a)
               for f in (F.ENTROPY, F.KL_DIVERGENCE, F.CROSS_ENTROPY)}
    verify(info.entropy, [p], reference=formula["information.entropy"], peer_name="scipy",
           peer=lambda p: scipy.stats.entropy(np.asarray(p), axis=-1), rtol=1e-14)
    verify(_kl, [p, q], reference=formula["information.kl_divergence"], peer_name="scipy",
           peer=lambda p, q: scipy.stats.entropy(np.asarray(p), np.asarray(q), axis=-1),
           rtol=1e-14)
    # optax's name, arguments and meaning: kl_divergence(log_predictions, targets)
    verify(_kl, [p, q], peer=lambda p, q: optax.kl_divergence(jnp.log(q), p), peer_name="optax",
           rtol=1e-14)
    verify(info.cross_entropy, [p, q], reference=formula["information.cross_entropy"],
           rtol=1e-14)


def test_cross_entropy_is_entropy_plus_kl_and_kl_is_nonnegative():
    p, q = _dists(1, (50, 4))
    verify(info.cross_entropy, [p, q], reference=lambda p, q: info.entropy(p) + _kl(p, q),
           rtol=1e-14)
    kl, kl_pp, kl_qp = in_float64(lambda p, q: (_kl(p, q), _kl(p, p), _kl(q, p)), p, q)
    assert np.all(kl > 0)
    np.testing.assert_allclose(kl_pp, 0.0, atol=1e-15)
    # not symmetric: the arguments are not interchangeable
    assert not np.allclose(kl, kl_qp, rtol=1e-3)


def test_cross_entropy_of_softmax_is_the_softmax_loss():
    p, _ = _dists(2, (5, 7))
    z = np.random.default_rng(3).standard_normal((5, 7))
    verify(lambda p, z: info.cross_entropy(p, jax.nn.softmax(z)), [p, z],
           reference=lambda p, z: losses.softmax_cross_entropy(z, p), rtol=1e-14)


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
        h = in_float64(info.entropy, np.array([1 - eps, eps]))
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
    with pytest.raises(ValueError, match=r"entropy: p \(\*B, K\) with K along axis -1 has no "
                                         r"outcomes \(shape \(2, 0\)\)"):
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


# ---------------------------------------------------------------- optax's axis and where


def test_kl_divergence_where_matches_optax_values_and_gradients():
    p, q = _dists(5, (4, 6))
    p[0, 2] = 0.0                                       # a zero probability, unmasked
    w = np.array(np.random.default_rng(6).random((4, 6)) > 0.4)
    w[:, 0], w[3] = True, False                         # row 3: no outcome left
    log_q = np.log(q)
    log_q[1, 1] = -np.inf                               # masked or not, no NaN
    w[1, 1] = False

    def compare(log_q, p):
        # log_q holds -inf, which verify's relative error does not take: the values and
        # gradients are computed in float64 here and compared below
        ours = lambda a, b: jnp.sum(info.kl_divergence(a, b, where=w))  # noqa: E731
        peer = lambda a, b: jnp.sum(optax.kl_divergence(a, b, where=w))  # noqa: E731
        return (info.kl_divergence(log_q, p, where=w), optax.kl_divergence(log_q, p, where=w),
                jax.grad(ours, argnums=(0, 1))(log_q, p),
                jax.grad(peer, argnums=(0, 1))(log_q, p))

    got, want, (g_log_q, g_p), (ref_log_q, ref_p) = in_float64(compare, log_q, p)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert float(got[3]) == 0.0
    np.testing.assert_allclose(g_log_q, ref_log_q, rtol=1e-12, atol=1e-15)
    assert np.all(g_log_q[~w] == 0)
    assert np.all(g_p[~w] == 0)
    on = w & (p > 0)
    np.testing.assert_allclose(g_p[on], ref_p[on], rtol=1e-12)


@pytest.mark.parametrize("axis", [0, -2])
def test_kl_divergence_axis_matches_optax(axis):
    p, q = (np.swapaxes(a, 0, 1) for a in _dists(7, (3, 5)))   # outcomes on axis 0
    verify(lambda p, q: info.kl_divergence(jnp.log(q), p, axis=axis), [p, q], peer_name="optax",
           peer=lambda p, q: optax.kl_divergence(jnp.log(q), p, axis=axis), rtol=1e-14)


def test_kl_divergence_axis_and_where_are_checked():
    with pytest.raises(ValueError, match=r"kl_divergence: axis must be an int in \[-2, 2\)"):
        info.kl_divergence(jnp.zeros((2, 3)), jnp.ones((2, 3)) / 3, axis=2)
    with pytest.raises(TypeError, match="kl_divergence: where must be a bool array"):
        info.kl_divergence(jnp.zeros((2, 3)), jnp.ones((2, 3)) / 3, where=jnp.ones((2, 3)))
    with pytest.raises(ValueError, match=r"kl_divergence: where must broadcast to targets "
                                         r"\(\*B, K\) = \(2, 3\); got \(2,\)"):
        info.kl_divergence(jnp.zeros((2, 3)), jnp.ones((2, 3)) / 3, where=jnp.ones(2, bool))
