"""Unit tests of dlmath.logistic_regression: hand-written gradients against jax.grad and
the lambdified formulas, training against scikit-learn's LogisticRegression (the same
objective), accuracy and confusion matrix against scikit-learn, and the error paths."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.linear_model
import sklearn.metrics
from threadpoolctl import threadpool_limits

from dlmath import logistic_regression as lr
from dlmath.formulas import cross_entropy as F
from dlmath.symbolic import docstring_math

N, D, K = 40, 5, 3


def _problem(seed, dtype=jnp.float32):
    rng = np.random.default_rng(seed)  # NumPy draws: no JAX compilation
    X = jnp.asarray(rng.standard_normal((N, D)), dtype)
    W = jnp.asarray(rng.standard_normal((D, K)), dtype)
    b = jnp.asarray(rng.standard_normal(K), dtype)
    labels = jnp.asarray(rng.integers(0, K, N), jnp.int32)
    return X, W, b, labels


@pytest.mark.parametrize("name", ["logistic_gradient", "softmax_gradient"])
def test_docstring_formulas_are_the_registered_ones(name):
    assert docstring_math(getattr(lr, name)) == [
        f.latex for f in F.DOCUMENTED[f"logistic_regression.{name}"]]


def test_logistic_gradient_matches_autodiff_and_formula():
    with jax.enable_x64(True):
        X, W, b, labels = _problem(0, jnp.float64)
        w, b0, y = W[:, 0], b[0], (labels == 1).astype(jnp.float64)
        lam = 0.3
        gw, gb = lr.logistic_gradient((w, b0), X, y, lam)
        aw, ab = jax.grad(lambda p: lr.logistic_loss(p, X, y, lam))((w, b0))
        np.testing.assert_allclose(gw, aw, rtol=1e-12)
        np.testing.assert_allclose(gb, ab, rtol=1e-12)
        p = lr.logistic_predict((w, b0), X)
        ref_w = F.LOGISTIC_GRADIENT_W.reference(X, p[:, None], y[:, None], w[:, None], lam, N)
        np.testing.assert_allclose(gw, np.asarray(ref_w)[:, 0], rtol=1e-12)
        np.testing.assert_allclose(gb, F.LOGISTIC_GRADIENT_B.reference(p, y, N), rtol=1e-12)


def test_softmax_gradient_matches_autodiff_and_formula():
    with jax.enable_x64(True):
        X, W, b, labels = _problem(1, jnp.float64)
        lam = 0.2
        gW, gb = lr.softmax_gradient((W, b), X, labels, lam)
        aW, ab = jax.grad(lambda p: lr.softmax_loss(p, X, labels, lam))((W, b))
        np.testing.assert_allclose(gW, aW, rtol=1e-12)
        np.testing.assert_allclose(gb, ab, rtol=1e-12, atol=1e-15)
        P = lr.softmax_predict((W, b), X)
        Y = jax.nn.one_hot(labels, K, dtype=jnp.float64)
        np.testing.assert_allclose(gW, F.SOFTMAX_GRADIENT_W.reference(X, P, Y, W, lam, N),
                                   rtol=1e-12)
        ref_b = F.SOFTMAX_GRADIENT_B.reference(P, Y, jnp.ones((N, 1)), N)
        np.testing.assert_allclose(gb, np.asarray(ref_b)[:, 0], rtol=1e-12, atol=1e-15)


def test_training_reaches_scikit_learns_optimum_of_the_same_objective():
    X, _, _, labels = _problem(2)
    lam = 0.05
    params, losses = lr.train_softmax((jnp.zeros((D, K)), jnp.zeros(K)), X, labels, 0.5, 400,
                                      lam)
    assert losses.shape == (401,)
    assert np.all(np.diff(np.asarray(losses)) <= 1e-6)  # small step: monotone descent
    # scikit-learn minimises C * sum(loss) + |W|^2 / 2, i.e. our objective times C N
    sk = sklearn.linear_model.LogisticRegression(C=1 / (N * lam), tol=1e-10, max_iter=10000)
    with threadpool_limits(1):  # tiny problem: BLAS threads only contend
        sk.fit(np.asarray(X, np.float64), np.asarray(labels))
    sk_params = (jnp.asarray(sk.coef_.T, jnp.float32), jnp.asarray(sk.intercept_, jnp.float32))
    sk_loss = float(lr.softmax_loss(sk_params, X, labels, lam))
    assert float(losses[-1]) >= sk_loss - 1e-5  # sklearn's is the optimum
    assert float(losses[-1]) - sk_loss < 1e-4
    np.testing.assert_allclose(params[0], sk_params[0], atol=2e-2)


def test_binary_training_matches_scikit_learn():
    X, _, _, labels = _problem(3)
    y = (labels == 0).astype(jnp.int32)
    lam = 0.05
    params, losses = lr.train_logistic((jnp.zeros(D), jnp.zeros(())), X, y, 1.0, 400, lam)
    sk = sklearn.linear_model.LogisticRegression(C=1 / (N * lam), tol=1e-10, max_iter=10000)
    with threadpool_limits(1):
        sk.fit(np.asarray(X, np.float64), np.asarray(y))
    sk_params = (jnp.asarray(sk.coef_[0], jnp.float32), jnp.asarray(sk.intercept_[0],
                                                                     jnp.float32))
    sk_loss = float(lr.logistic_loss(sk_params, X, y, lam))
    assert 0 <= float(losses[-1]) - sk_loss + 1e-5 < 1e-4
    pred = lr.logistic_predict(params, X)
    # near-identical weights: the predictions agree up to a point sitting on the threshold
    assert abs(float(lr.accuracy(pred, y)) - sk.score(np.asarray(X), np.asarray(y))) <= 1 / N


def test_accuracy_and_confusion_matrix_match_scikit_learn():
    X, W, b, labels = _problem(4)
    P = lr.softmax_predict((W, b), X)
    pred = jnp.argmax(P, axis=-1)
    assert float(lr.accuracy(P, labels)) == pytest.approx(
        sklearn.metrics.accuracy_score(np.asarray(labels), np.asarray(pred)))
    cm = lr.confusion_matrix(labels, pred, K)
    np.testing.assert_array_equal(cm, sklearn.metrics.confusion_matrix(
        np.asarray(labels), np.asarray(pred), labels=range(K)))
    assert int(jnp.sum(cm)) == N
    # binary: threshold at 1/2
    assert float(lr.accuracy(jnp.array([0.2, 0.5, 0.9, 0.7]), jnp.array([0, 1, 0, 1]))) == 0.75


def test_errors_name_the_shapes():
    X, W, b, labels = _problem(5)
    with pytest.raises(ValueError, match=r"W \(D, K\).*D = 5.*got W \(4, 3\), b \(3,\)"):
        lr.softmax_loss((W[:4], b), X, labels)
    with pytest.raises(ValueError, match=r"w \(D,\) = \(5,\).*got w \(5, 3\)"):
        lr.logistic_predict((W, b), X)
    with pytest.raises(TypeError, match="labels must be integer class ids"):
        lr.softmax_gradient((W, b), X, labels.astype(jnp.float32))
    with pytest.raises(ValueError, match=r"y must have shape \(N,\) = \(40,\).*got y \(40, 1\)"):
        lr.logistic_loss((W[:, 0], b[0]), X, labels[:, None])
    with pytest.raises(ValueError, match=r"X must have shape \(N, D\)"):
        lr.softmax_predict((W, b), X[0])
    with pytest.raises(ValueError, match="steps must be an int >= 0"):
        lr.train_softmax((W, b), X, labels, 0.1, -1)
    with pytest.raises(TypeError, match="params must be a pair"):
        lr.softmax_predict(W, X)
    with pytest.raises(ValueError, match=r"probabilities \(40, 3\), labels \(39,\)"):
        lr.accuracy(jnp.zeros((N, K)), labels[:-1])


def test_confusion_matrix_figure_shows_the_counts(close_figures):
    from dlmath import plot

    cm = np.array([[5, 1], [0, 3]])
    ax = plot.confusion_matrix(cm, class_names=["even", "odd"], title="t")
    assert sorted(t.get_text() for t in ax.texts) == ["1", "3", "5"]  # zero cells unlabelled
    assert [t.get_text() for t in ax.get_xticklabels()] == ["even", "odd"]
    np.testing.assert_array_equal(ax.images[0].get_array(), cm)


def test_confusion_matrix_never_counts_an_out_of_range_id_in_another_cell():
    # label 0 predicted as 3 with K = 3 would land on cell (1, 0) of the flattened matrix
    with pytest.raises(ValueError, match=r"\[0, K\) = \[0, 3\); got labels\[0\] = 0, "
                                         r"predicted\[0\] = 3"):
        lr.confusion_matrix(jnp.array([0, 1]), jnp.array([3, 0]), 3)
    with pytest.raises(ValueError, match=r"got labels\[1\] = -1"):
        lr.confusion_matrix(jnp.array([0, -1]), jnp.array([0, 0]), 3)
    # under jit the values are unknown: the bad pair is dropped, the good one counted once
    cm = jax.jit(lambda a, b: lr.confusion_matrix(a, b, 3))(jnp.array([0, 1]), jnp.array([3, 0]))
    np.testing.assert_array_equal(cm, [[0, 0, 0], [1, 0, 0], [0, 0, 0]])
    with pytest.raises(TypeError, match="confusion_matrix: predicted must be integer"):
        lr.confusion_matrix(jnp.array([0, 1]), jnp.array([0.0, 1.0]), 2)


def test_confusion_matrix_figure_refuses_bad_shapes(close_figures):
    from dlmath import plot

    with pytest.raises(ValueError, match=r"counts must have shape \(K, K\); got \(2, 3\)"):
        plot.confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="class_names must have K = 2 entries; got 3"):
        plot.confusion_matrix(np.eye(2), class_names=["a", "b", "c"])
