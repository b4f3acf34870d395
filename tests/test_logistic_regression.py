"""Unit tests of dlmath.logistic_regression: hand-written gradients against jax.grad and
the lambdified formulas, training (through dlmath.training.fit) against scikit-learn's
LogisticRegression (the same objective), and the error paths: shapes, dtypes, class ids,
learning rates, empty data."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.linear_model
from jax.flatten_util import ravel_pytree
from threadpoolctl import threadpool_limits

from dlmath import logistic_regression as lr
from dlmath import metrics
from dlmath.formulas import cross_entropy as F
from dlmath.testing import in_float64, verify

N, D, K = 40, 5, 3


def _problem(seed, dtype=jnp.float32):
    rng = np.random.default_rng(seed)  # NumPy draws: no JAX compilation
    X = jnp.asarray(rng.standard_normal((N, D)), dtype)
    W = jnp.asarray(rng.standard_normal((D, K)), dtype)
    b = jnp.asarray(rng.standard_normal(K), dtype)
    labels = jnp.asarray(rng.integers(0, K, N), jnp.int32)
    return X, W, b, labels


# verify differentiates one array: the parameters (w, b) travel as one flat vector, unravelled
# inside the functions it is given. The hand-written gradient is compared with jax.grad, and
# jax.grad with the lambdified formulas (and with finite differences).

def test_logistic_gradient_matches_autodiff_and_formula():
    X, W, b, labels = in_float64(lambda: _problem(0, jnp.float64))
    w, b0, y = W[:, 0], b[0], (labels == 1).astype(np.float64)
    lam = 0.3
    flat, unravel = in_float64(ravel_pytree, (w, b0))

    def formula(f):
        w, _ = unravel(f)
        p = lr.logistic_predict(unravel(f), X)
        ref_w = F.LOGISTIC_GRADIENT_W.reference(X, p[:, None], y[:, None], w[:, None], lam, N)
        return jnp.append(ref_w[:, 0], F.LOGISTIC_GRADIENT_B.reference(p, y, N))

    verify(lambda f: lr.logistic_loss(unravel(f), X, y, lam), [flat], rtol=1e-13,
           grad=lambda f: ravel_pytree(lr.logistic_gradient(unravel(f), X, y, lam))[0],
           grad_reference=formula)


def test_softmax_gradient_matches_autodiff_and_formula():
    X, W, b, labels = in_float64(lambda: _problem(1, jnp.float64))
    lam = 0.2
    flat, unravel = in_float64(ravel_pytree, (W, b))

    def formula(f):
        W, _ = unravel(f)
        P = lr.softmax_predict(unravel(f), X)
        Y = jax.nn.one_hot(labels, K, dtype=P.dtype)
        ref_b = F.SOFTMAX_GRADIENT_B.reference(P, Y, jnp.ones((N, 1)), N)
        return jnp.append(F.SOFTMAX_GRADIENT_W.reference(X, P, Y, W, lam, N), ref_b[:, 0])

    verify(lambda f: lr.softmax_loss(unravel(f), X, labels, lam), [flat], rtol=1e-13,
           grad=lambda f: ravel_pytree(lr.softmax_gradient(unravel(f), X, labels, lam))[0],
           grad_reference=formula)


def test_training_reaches_scikit_learns_optimum_of_the_same_objective():
    X, _, _, labels = _problem(2)
    lam = 0.05
    params, history = lr.train_softmax((jnp.zeros((D, K)), jnp.zeros(K)), X, labels, 0.5, 400,
                                       lam)
    losses = jnp.append(history.loss, lr.softmax_loss(params, X, labels, lam))
    assert history.loss.shape == (400,)
    np.testing.assert_allclose(history.loss[0], np.log(K), rtol=1e-6)  # zeros: uniform
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
    params, history = lr.train_logistic((jnp.zeros(D), jnp.zeros(())), X, y, 1.0, 400, lam)
    losses = jnp.append(history.loss, lr.logistic_loss(params, X, y, lam))
    sk = sklearn.linear_model.LogisticRegression(C=1 / (N * lam), tol=1e-10, max_iter=10000)
    with threadpool_limits(1):
        sk.fit(np.asarray(X, np.float64), np.asarray(y))
    sk_params = (jnp.asarray(sk.coef_[0], jnp.float32), jnp.asarray(sk.intercept_[0],
                                                                     jnp.float32))
    sk_loss = float(lr.logistic_loss(sk_params, X, y, lam))
    assert 0 <= float(losses[-1]) - sk_loss + 1e-5 < 1e-4
    logits = jnp.log(lr.logistic_predict(params, X)) - jnp.log1p(-lr.logistic_predict(params, X))
    # near-identical weights: the predictions agree up to a point sitting on the threshold
    acc = float(metrics.binary_accuracy(logits, y))
    assert abs(acc - sk.score(np.asarray(X), np.asarray(y))) <= 1 / N


def test_training_goes_through_fit_with_sgd():
    # the same steps as fit(sgd(lr), ...) with jax.grad of the same objective
    from dlmath import optim, training

    X, W, b, labels = _problem(4)
    lam = 0.1
    ours, h_ours = lr.train_softmax((W, b), X, labels, 0.3, 25, lam)
    theirs, h_theirs = training.fit(optim.sgd(0.3), lambda p, X, c: lr.softmax_loss(p, X, c, lam),
                                    (W, b), (X, labels), steps=25)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h_ours.loss, h_theirs.loss, rtol=1e-5)


def test_mixed_float_dtypes_compute_in_the_parameters_dtype():
    X, W, b, labels = _problem(5)
    p16 = (W.astype(jnp.float16), b.astype(jnp.float16))
    assert lr.softmax_loss(p16, X, labels).dtype == jnp.float16  # X (float32) is cast
    assert lr.softmax_gradient(p16, X, labels)[0].dtype == jnp.float16
    params, history = lr.train_softmax(p16, X, labels, 0.1, 3)
    assert params[0].dtype == jnp.float16 and history.loss.dtype == jnp.float16
    w16, b16 = W[:, 0].astype(jnp.float16), b[0].astype(jnp.float16)
    y = (labels == 0).astype(jnp.float32)
    assert lr.logistic_gradient((w16, b16), X, y)[0].dtype == jnp.float16
    with pytest.raises(TypeError, match="softmax_loss: every leaf of params must have one float"):
        lr.softmax_loss((W, b.astype(jnp.float16)), X, labels)


@pytest.mark.parametrize("dtype", [jnp.uint8, jnp.int8, jnp.int16, jnp.uint16])
def test_class_ids_of_any_integer_width(dtype):
    X, W, b, labels = _problem(6)
    want = lr.softmax_loss((W, b), X, labels)
    np.testing.assert_allclose(lr.softmax_loss((W, b), X, labels.astype(dtype)), want, rtol=1e-6)
    y = (labels == 0).astype(dtype)
    np.testing.assert_allclose(lr.logistic_loss((W[:, 0], b[0]), X, y),
                               lr.logistic_loss((W[:, 0], b[0]), X, y.astype(jnp.float32)),
                               rtol=1e-6)


def test_out_of_range_ids_raise_when_concrete_and_give_nan_under_jit():
    X, W, b, labels = _problem(7)
    bad = labels.at[3].set(K)
    for fn in (lr.softmax_loss, lr.softmax_gradient):
        with pytest.raises(ValueError, match=rf"{fn.__name__}: class ids must lie in \[0, K\) = "
                                             rf"\[0, 3\); got labels\[3\] = 3"):
            fn((W, b), X, bad)
    with pytest.raises(ValueError, match=r"train_softmax: class ids.*got labels\[0\] = -1"):
        lr.train_softmax((W, b), X, labels.at[0].set(-1), 0.1, 1)
    with pytest.raises(ValueError, match=r"logistic_loss: class ids must lie in \[0, K\) = "
                                         r"\[0, 2\); got y\[0\] = 2"):
        lr.logistic_loss((W[:, 0], b[0]), X, jnp.full(N, 2))
    # under jit: NaN loss and NaN gradient (never a finite gradient beside a NaN loss)
    loss = jax.jit(lambda p, c: lr.softmax_loss(p, X, c))((W, b), bad)
    gW, gb = jax.jit(lambda p, c: lr.softmax_gradient(p, X, c))((W, b), bad)
    assert np.isnan(loss) and np.all(np.isnan(gW)) and np.all(np.isnan(gb))


@pytest.mark.parametrize("bad", [2, 3, -1, 255])
def test_binary_ids_out_of_range_under_jit_give_nan_not_a_finite_loss(bad):
    """0/1 targets given as ints are ids: under jit an id other than 0 and 1 makes the loss,
    the gradient and the training history NaN (it is not read as the probability 3)."""
    X, W, b, labels = _problem(9)
    params = (W[:, 0], b[0])
    y = np.asarray(labels == 0).astype(np.int32)
    y[5] = bad
    y = jnp.asarray(y, jnp.uint8 if bad == 255 else jnp.int32)
    loss = jax.jit(lambda p, t: lr.logistic_loss(p, X, t))(params, y)
    gw, gb = jax.jit(lambda p, t: lr.logistic_gradient(p, X, t))(params, y)
    _, history = jax.jit(lambda t: lr.train_logistic(params, X, t, 0.1, 2))(y)
    assert np.isnan(loss) and np.all(np.isnan(gw)) and np.isnan(gb)
    assert np.all(np.isnan(history.loss))
    good = y.at[5].set(1)  # the same ids, valid: the float targets' values
    np.testing.assert_array_equal(jax.jit(lambda p, t: lr.logistic_loss(p, X, t))(params, good),
                                  lr.logistic_loss(params, X, good.astype(jnp.float32)))


@pytest.mark.parametrize("rate", [-1.0, 0.0, float("nan"), float("inf"), np.float32(-1.0),
                                  np.array(0.0), jnp.array(float("nan"))])
def test_learning_rates_that_are_not_positive_and_finite_are_refused(rate):
    X, W, b, labels = _problem(8)
    with pytest.raises(ValueError, match="train_softmax: learning_rate must be a finite number"):
        lr.train_softmax((W, b), X, labels, rate, 3)
    with pytest.raises(ValueError, match="train_logistic: learning_rate must be a finite number"):
        lr.train_logistic((W[:, 0], b[0]), X, labels == 0, rate, 3)


def test_no_examples_is_an_error_not_a_silent_nan():
    X, W, b, labels = _problem(9)
    for call in (lambda: lr.logistic_loss((W[:, 0], b[0]), X[:0], labels[:0] == 0),
                 lambda: lr.logistic_gradient((W[:, 0], b[0]), X[:0], labels[:0] == 0),
                 lambda: lr.train_logistic((W[:, 0], b[0]), X[:0], labels[:0] == 0, 0.1, 2),
                 lambda: lr.softmax_loss((W, b), X[:0], labels[:0]),
                 lambda: lr.softmax_gradient((W, b), X[:0], labels[:0]),
                 lambda: lr.train_softmax((W, b), X[:0], labels[:0], 0.1, 2)):
        with pytest.raises(ValueError, match=r"X \(N, D\) has no examples \(N = 0\)"):
            call()
    # predictions of no example are an empty array, as jax.nn's
    assert lr.softmax_predict((W, b), X[:0]).shape == (0, K)


def test_no_classes_is_an_error_and_traced_hyperparameters_train():
    X, W, b, labels = _problem(11)
    with pytest.raises(ValueError, match=r"softmax_predict: W \(D, K\) has no classes \(K = 0"):
        lr.softmax_predict((W[:, :0], b[:0]), X)
    # learning rate and l2 as jit arguments: value checks skipped, same result
    want, _ = lr.train_softmax((W, b), X, labels, 0.2, 3, 0.1)
    got = jax.jit(lambda eta, l2: lr.train_softmax((W, b), X, labels, eta, 3, l2)[0])(0.2, 0.1)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)


def test_l2_and_steps_are_checked():
    X, W, b, labels = _problem(10)
    with pytest.raises(ValueError, match=r"softmax_loss: l2 must be a finite number in \[0, inf\)"):
        lr.softmax_loss((W, b), X, labels, -1.0)
    with pytest.raises(TypeError, match="train_logistic: steps must be an int"):
        lr.train_logistic((W[:, 0], b[0]), X, labels == 0, 0.1, 2.0)


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
    with pytest.raises(ValueError, match="train_softmax: steps must be an int >= 0"):
        lr.train_softmax((W, b), X, labels, 0.1, -1)
    with pytest.raises(TypeError, match="params must be a pair"):
        lr.softmax_predict(W, X)
    with pytest.raises(ValueError, match=r"softmax_loss: labels must have shape \(N,\) = \(40,\); "
                                         r"got \(39,\)"):
        lr.softmax_loss((W, b), X, labels[:-1])
    with pytest.raises(TypeError, match="logistic_loss: y must hold real numbers"):
        lr.logistic_loss((W[:, 0], b[0]), X, labels.astype(jnp.complex64))
