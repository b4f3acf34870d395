"""Unit tests of dlmath.metrics.expected_calibration_error: against a float64 NumPy reference
of the binned definition, its extreme values, its invariances and its errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import metrics


def np_ece(logits, labels, num_bins):
    """ECE in float64 NumPy, bin by bin: share * |accuracy - mean confidence|."""
    z = np.asarray(logits, np.float64)
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    conf, correct = p.max(-1), (p.argmax(-1) == np.asarray(labels))
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return total


@pytest.mark.parametrize("num_bins", [1, 5, 15])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16])
def test_is_the_binned_definition(num_bins, dtype):
    k1, k2 = jax.random.split(jax.random.key(num_bins))
    logits = (2.5 * jax.random.normal(k1, (400, 5))).astype(dtype)
    labels = jax.random.randint(k2, (400,), 0, 5)
    want = np_ece(np.asarray(logits, np.float64), labels, num_bins)
    got = metrics.expected_calibration_error(logits, labels, num_bins)
    assert got.dtype == jnp.float32
    assert float(got) == pytest.approx(want, abs=1e-5)


def test_extremes_and_batch_axes():
    sure = jnp.array([[30.0, 0.0], [0.0, 30.0]])
    assert float(metrics.expected_calibration_error(sure, jnp.array([0, 1]))) < 1e-6
    assert float(metrics.expected_calibration_error(sure, jnp.array([1, 0]))) > 0.999
    # uniform logits over K classes: confidence 1/K; a quarter right with K = 4 is calibrated
    flat = jnp.zeros((8, 4))
    labels = jnp.array([0, 1, 2, 3, 1, 2, 3, 1])  # argmax is class 0: 1 of 8 right
    assert float(metrics.expected_calibration_error(flat, labels)) == pytest.approx(
        abs(1 / 8 - 1 / 4), abs=1e-6)
    z = jax.random.normal(jax.random.key(1), (2, 3, 4))
    y = jnp.array([[0, 1, 2], [3, 0, 1]])
    np.testing.assert_allclose(metrics.expected_calibration_error(z, y, 4),
                               metrics.expected_calibration_error(z.reshape(6, 4),
                                                                  y.reshape(6), 4), rtol=1e-6)


def test_one_bin_is_the_gap_between_accuracy_and_mean_confidence():
    z = jax.random.normal(jax.random.key(2), (50, 3)) * 3
    y = jax.random.randint(jax.random.key(3), (50,), 0, 3)
    p = jax.nn.softmax(z.astype(jnp.float64) if jax.config.x64_enabled else z)
    gap = abs(float(metrics.accuracy(z, y)) - float(jnp.mean(jnp.max(p, -1))))
    assert float(metrics.expected_calibration_error(z, y, 1)) == pytest.approx(gap, abs=1e-6)


@pytest.mark.parametrize("call, exc, name", [
    (lambda: metrics.expected_calibration_error(jnp.zeros((2, 3)), jnp.array([0, 3])),
     ValueError, "labels"),
    (lambda: metrics.expected_calibration_error(jnp.zeros((2, 3)), jnp.array([0, 1]), 0),
     ValueError, "num_bins"),
    (lambda: metrics.expected_calibration_error(jnp.zeros((2, 3)), jnp.array([0, 1]), 2.0),
     TypeError, "num_bins"),
    (lambda: metrics.expected_calibration_error(jnp.zeros((0, 3)), jnp.zeros(0, jnp.int32)),
     ValueError, "logits"),
    (lambda: metrics.expected_calibration_error(jnp.zeros((2, 3), jnp.int32), jnp.array([0, 1])),
     TypeError, "logits"),
])
def test_bad_input_names_the_function_and_the_argument(call, exc, name):
    with pytest.raises(exc, match=rf"^expected_calibration_error: .*{name}"):
        call()
