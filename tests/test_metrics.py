"""Unit tests of dlmath.metrics: accuracy, binary accuracy and the confusion matrix,
against counts written out here and scikit-learn, and for the package's label rule."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from dlmath import metrics


def test_accuracy_counts_rows_whose_largest_logit_is_the_label():
    logits = jnp.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 1.0, 5.0], [4.0, 0.0, 0.0]])
    labels = jnp.array([0, 1, 0, 2])
    assert float(metrics.accuracy(logits, labels)) == pytest.approx(0.5)
    # probabilities give the same answer as their logits
    assert float(metrics.accuracy(jax.nn.softmax(logits), labels)) == pytest.approx(0.5)
    # a tie goes to the first maximum, as jnp.argmax
    assert float(metrics.accuracy(jnp.array([[1.0, 1.0]]), jnp.array([0]))) == 1.0


def test_accuracy_over_batch_axes_and_small_integer_ids():
    logits = jax.random.normal(jax.random.key(0), (2, 5, 300))
    labels = jnp.argmax(logits, axis=-1).astype(jnp.uint16)
    assert float(metrics.accuracy(logits, labels)) == 1.0
    ids8 = jnp.array([[0, 1], [1, 0]], jnp.uint8)
    z = jnp.array([[[5.0, 0.0], [0.0, 5.0]], [[0.0, 5.0], [0.0, 5.0]]])
    assert float(metrics.accuracy(z, ids8)) == pytest.approx(0.75)


def test_binary_accuracy_thresholds_the_logit_at_zero():
    z = jnp.array([-2.0, 0.5, 3.0, -0.1])
    assert float(metrics.binary_accuracy(z, jnp.array([0, 1, 0, 0]))) == pytest.approx(0.75)
    assert float(metrics.binary_accuracy(z, jnp.array([False, True, True, False]))) == 1.0


@pytest.mark.parametrize("k", [3, 16, 300])
def test_confusion_matrix_matches_scikit_learn_for_any_id_width(k):
    rng = np.random.default_rng(k)
    t, p = rng.integers(0, k, 500), rng.integers(0, k, 500)
    want = sk_confusion_matrix(t, p, labels=np.arange(k))
    dtype = jnp.uint8 if k <= 256 else jnp.uint16
    got = metrics.confusion_matrix(jnp.asarray(t, dtype), jnp.asarray(p, dtype), k)
    np.testing.assert_array_equal(np.asarray(got), want)
    assert got.dtype == jnp.int32


def test_confusion_matrix_under_jit_drops_out_of_range_pairs():
    f = jax.jit(lambda t, p: metrics.confusion_matrix(t, p, 2))
    got = f(jnp.array([0, 1, 5, 1]), jnp.array([0, 1, 0, -1]))
    np.testing.assert_array_equal(np.asarray(got), [[1, 0], [0, 1]])


def test_errors_name_the_function_and_argument():
    with pytest.raises(ValueError, match=r"accuracy: class ids must lie in \[0, K\) = \[0, 3\)"):
        metrics.accuracy(jnp.zeros((2, 3)), jnp.array([0, 3]))
    with pytest.raises(ValueError, match="accuracy: labels must have shape"):
        metrics.accuracy(jnp.zeros((2, 3)), jnp.array([0, 1, 2]))
    with pytest.raises(TypeError, match="accuracy: labels must be integer class ids"):
        metrics.accuracy(jnp.zeros((2, 3)), jnp.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="accuracy: logits must be a floating"):
        metrics.accuracy(jnp.zeros((2, 3), jnp.int32), jnp.array([0, 1]))
    with pytest.raises(ValueError, match="accuracy: logits .* holds no example"):
        metrics.accuracy(jnp.zeros((0, 3)), jnp.zeros((0,), jnp.int32))
    with pytest.raises(ValueError, match=r"accuracy: logits \(\*B, K\) .* has no classes"):
        metrics.accuracy(jnp.zeros((2, 0)), jnp.array([0, 1]))
    with pytest.raises(ValueError, match=r"accuracy: logits must have shape \(\*B, K\)"):
        metrics.accuracy(jnp.float32(1.0), jnp.int32(0))
    with pytest.raises(ValueError,
                       match=r"binary_accuracy: class ids must lie in \[0, K\) = \[0, 2\)"):
        metrics.binary_accuracy(jnp.zeros(2), jnp.array([0, 2]))
    with pytest.raises(ValueError, match="confusion_matrix: num_classes must be an int >= 1"):
        metrics.confusion_matrix(jnp.array([0]), jnp.array([0]), 0)
    with pytest.raises(ValueError, match="confusion_matrix: predicted must have shape"):
        metrics.confusion_matrix(jnp.array([0, 1]), jnp.array([0]), 2)
    with pytest.raises(ValueError, match=r"confusion_matrix: class ids .* predicted\[1\] = 7"):
        metrics.confusion_matrix(jnp.array([0, 1]), jnp.array([0, 7]), 2)
