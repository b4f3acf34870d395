"""Unit tests of dlmath.losses.smooth_labels: the registered formula, optax.smooth_labels,
the cross-entropy identity (1 - a) CE(z, y) + a CE(z, uniform) in float64, dtypes, jit and
every error path."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dlmath import losses
from dlmath.formulas import cross_entropy as F
from dlmath.testing import in_float64


def _one_hot(n=5, k=4, seed=0):
    ids = np.random.default_rng(seed).integers(0, k, n)
    return np.eye(k)[ids]


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.5, 1.0])
def test_smooth_labels_is_its_formula_and_optax(alpha):
    y = _one_hot()
    got = in_float64(lambda y: losses.smooth_labels(y, alpha), y)
    peer = in_float64(lambda y: optax.smooth_labels(y, alpha), y)
    np.testing.assert_allclose(got, peer, rtol=1e-15, atol=1e-15)
    for n, k in ((0, 0), (4, 3)):
        ref = in_float64(F.SMOOTH_LABELS.reference, y[n], k, 4, alpha)
        assert float(ref) == pytest.approx(got[n, k], rel=1e-15)
    np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-15)


def test_soft_labels_and_batch_axes_match_optax():
    rng = np.random.default_rng(1)
    y = rng.dirichlet(np.ones(6), size=(2, 3)).astype(np.float32)
    np.testing.assert_allclose(losses.smooth_labels(y, 0.2), optax.smooth_labels(y, 0.2),
                               rtol=1e-6)


@pytest.mark.parametrize("alpha", [0.1, 0.3])
def test_cross_entropy_of_smoothed_labels_is_the_mixture(alpha):
    """CE(z, (1 - a) y + a/K) = (1 - a) CE(z, y) + a CE(z, 1/K), the cross-entropy being
    linear in its labels; also PyTorch's label_smoothing loss written out."""
    rng = np.random.default_rng(2)
    z, y = rng.normal(0, 3, (6, 5)), _one_hot(6, 5, seed=3)
    uniform = np.full_like(y, 1 / 5)

    def both(z, y, u):
        smoothed = losses.softmax_cross_entropy(z, losses.smooth_labels(y, alpha))
        mixture = ((1 - alpha) * losses.softmax_cross_entropy(z, y)
                   + alpha * losses.softmax_cross_entropy(z, u))
        return smoothed, mixture

    smoothed, mixture = in_float64(both, z, y, uniform)
    np.testing.assert_allclose(smoothed, mixture, rtol=1e-13)
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    torch_form = -(1 - alpha) * (y * log_p).sum(-1) - alpha / 5 * log_p.sum(-1)
    np.testing.assert_allclose(smoothed, torch_form, rtol=1e-13)


def test_dtypes_jit_and_traced_alpha():
    y = _one_hot().astype(np.float16)
    assert losses.smooth_labels(y, 0.1).dtype == jnp.float16
    y32 = _one_hot().astype(np.float32)
    f = jax.jit(losses.smooth_labels)
    np.testing.assert_allclose(f(y32, 0.25), losses.smooth_labels(y32, 0.25), rtol=1e-7)
    assert losses.smooth_labels(np.zeros((0, 3), np.float32), 0.1).shape == (0, 3)
    g = jax.grad(lambda a: jnp.sum(losses.smooth_labels(y32, a)[:, 0]))(0.3)
    np.testing.assert_allclose(g, np.sum(1 / 4 - y32[:, 0]), rtol=1e-6)


@pytest.mark.parametrize("call,cls,pattern", [
    (lambda: losses.smooth_labels(np.eye(3, dtype=np.float32), 1.5), ValueError,
     r"smooth_labels: alpha must be a finite number in \[0, 1\]; got 1.5"),
    (lambda: losses.smooth_labels(np.eye(3, dtype=np.float32), -0.1), ValueError,
     r"smooth_labels: alpha must be a finite number in \[0, 1\]"),
    (lambda: losses.smooth_labels(np.eye(3, dtype=np.float32), float("nan")), ValueError,
     r"smooth_labels: alpha"),
    (lambda: losses.smooth_labels(np.eye(3, dtype=np.float32), True), TypeError,
     r"smooth_labels: alpha"),
    (lambda: losses.smooth_labels(np.array([0, 2, 1]), 0.1), TypeError,
     r"smooth_labels: labels .*jax.nn.one_hot"),
    (lambda: losses.smooth_labels(np.float32(1.0), 0.1), ValueError,
     r"smooth_labels: labels must have shape \(\*B, K\)"),
    (lambda: losses.smooth_labels(np.zeros((2, 0), np.float32), 0.1), ValueError,
     r"smooth_labels: labels"),
])
def test_errors(call, cls, pattern):
    with pytest.raises(cls, match=pattern):
        call()
