"""Unit tests of dlmath.linear_regression, in float64 against independent references:
jax.grad / jax.hessian of the loss, float64 finite differences, the lambdified formulas of
dlmath.formulas, numpy.linalg.lstsq and numpy.linalg.eigvalsh."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import formulas as F
from dlmath import linear_regression as lr
from dlmath.testing import finite_difference_grad, in_float64, verify

N, D = 40, 3


def _data(seed=0, n=N, d=D):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w_true = rng.normal(size=d)
    y = X @ w_true + 0.3 * rng.normal(size=n)
    w = rng.normal(size=d)
    return X, y, w


@pytest.fixture
def x64():
    # the trainers' tests below run whole float64 training paths, not one comparison
    with jax.enable_x64(True):
        yield


# ---------------------------------------------------------------- values and derivatives


def test_design_matrix_prepends_ones():
    x = np.array([0.5, -1.0, 2.0], np.float32)
    X = np.asarray(lr.design_matrix(jnp.asarray(x)))
    np.testing.assert_array_equal(X, np.stack([np.ones(3), x], axis=1))
    assert X.dtype == np.float32
    x2 = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(np.asarray(lr.design_matrix(x2)),
                                  np.concatenate([np.ones((3, 1)), x2], axis=1))


def test_predict_and_loss():
    X, y, w = _data()
    verify(lr.predict, [w, X], peer=lambda w, X: np.asarray(X) @ np.asarray(w),
           peer_name="numpy", rtol=1e-14)
    verify(lr.loss, [w, X, y], peer_name="numpy", rtol=1e-14,
           peer=lambda w, X, y: np.mean((np.asarray(X) @ np.asarray(w) - np.asarray(y)) ** 2))


def test_mse_gradient_equals_autodiff_and_the_formula():
    X, y, w = _data(1)
    verify(lr.loss, [w, X, y], grad=lr.mse_gradient, rtol=1e-13,
           grad_reference=lambda w, X, y: F.LINEAR_GRADIENT.reference(X, w[:, None], y[:, None],
                                                                      N))


def test_mse_gradient_has_the_factor_two():
    """Independent of jax.grad: float64 central differences of the loss. A gradient
    without the 2 (X^T(Xw - y)/N) is off by a factor of 2 and fails here."""
    X, y, w = _data(2)
    g = in_float64(lr.mse_gradient, w, X, y)
    fd = finite_difference_grad(lambda v: lr.loss(v, jnp.asarray(X), jnp.asarray(y)), w)
    np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-9)
    # and in closed form with numpy
    np.testing.assert_allclose(g, 2 * X.T @ (X @ w - y) / N, rtol=1e-12)
    assert np.max(np.abs(g)) > 0.1  # a zero gradient would pass vacuously


def test_hessian_equals_autodiff_and_the_formula():
    X, y, w = _data(3)
    verify(lr.hessian, [X], peer=lambda X: jax.hessian(lr.loss)(jnp.asarray(w), X, jnp.asarray(y)),
           peer_name="jax.hessian", reference=lambda X: F.LINEAR_HESSIAN.reference(X, N),
           rtol=1e-13)
    H = in_float64(lr.hessian, X)
    np.testing.assert_allclose(H, H.T)


def test_normal_equations_equal_lstsq():
    X, y, _ = _data(4)
    verify(lr.normal_equations, [X, y], peer_name="numpy.linalg.lstsq", rtol=1e-11,
           peer=lambda X, y: np.linalg.lstsq(np.asarray(X), np.asarray(y), rcond=None)[0],
           reference=lambda X, y: F.NORMAL_EQUATIONS.reference(X, y[:, None]))
    # the gradient vanishes there
    g = in_float64(lambda X, y: lr.mse_gradient(lr.normal_equations(X, y), X, y), X, y)
    assert np.max(np.abs(g)) < 1e-12


def test_max_stable_learning_rate_is_two_over_lambda_max():
    X, _, _ = _data(5)
    lam_max = np.linalg.eigvalsh(2 * X.T @ X / N)[-1]
    eta = float(in_float64(lr.max_stable_learning_rate, X))
    assert eta == pytest.approx(2 / lam_max, rel=1e-12)
    assert eta == pytest.approx(float(F.GD_STEP_BOUND.reference(lam_max)), rel=1e-12)


# ---------------------------------------------------------------- gradient descent


def _full_losses(path, X, y):
    """The full-data loss at every point of a path (T + 1, D), in NumPy."""
    return np.mean((np.asarray(path) @ np.asarray(X).T - np.asarray(y)) ** 2, axis=1)


def test_gradient_descent_path_follows_the_update_rule(x64):
    from dlmath.training import History

    X, y, w0 = _data(6)
    eta = 0.05
    w_last, history = lr.gradient_descent(jnp.asarray(w0), jnp.asarray(X), jnp.asarray(y),
                                          eta, 5)
    assert isinstance(history, History) and history.evaluations == []
    path, losses = history.path, history.loss
    assert path.shape == (6, D) and losses.shape == (5,)
    np.testing.assert_array_equal(np.asarray(w_last), np.asarray(path[-1]))
    w = w0.copy()
    for t in range(6):
        np.testing.assert_allclose(np.asarray(path[t]), w, rtol=1e-12, atol=1e-14)
        if t < 5:  # the loss at w_t, before update t
            assert float(losses[t]) == pytest.approx(np.mean((X @ w - y) ** 2), rel=1e-12)
        w = w - eta * 2 * X.T @ (X @ w - y) / N


def test_gradient_descent_is_fit_with_sgd_on_the_hand_written_gradient(x64):
    """The wrapper is the one training loop: fit(optim.sgd) with loss_and_gradient, and
    optax.sgd in fit gives the same path."""
    import optax

    from dlmath import optim, training

    X, y, w0 = (jnp.asarray(a) for a in _data(6))
    w_last, ours = lr.gradient_descent(w0, X, y, 0.05, 7)
    for opt in (optim.sgd(0.05), optax.sgd(0.05)):
        params, history = training.fit(opt, lr.loss, w0, (X, y), steps=7,
                                       value_and_grad=lr.loss_and_gradient, keep_path=True)
        np.testing.assert_allclose(np.asarray(params), np.asarray(w_last), rtol=1e-13)
        np.testing.assert_allclose(np.asarray(history.path), np.asarray(ours.path), rtol=1e-13)
        np.testing.assert_allclose(np.asarray(history.loss), np.asarray(ours.loss), rtol=1e-12)


def test_the_trainers_return_what_every_trainer_returns(x64):
    """(params, History), as training.fit and logistic_regression.train_logistic."""
    from dlmath import logistic_regression, training

    X, y, w0 = (jnp.asarray(a) for a in _data(12))
    results = [lr.gradient_descent(w0, X, y, 0.05, 3),
               lr.minibatch_gradient_descent(jax.random.key(0), w0, X, y, 0.05, 8, 3),
               logistic_regression.train_logistic((w0, jnp.zeros(())), X, (y > 0), 0.1, 3)]
    for params, history in results:
        assert isinstance(history, training.History) and history.loss.shape == (3,)
        assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(
            w0 if history.path is not None else (w0, jnp.zeros(())))
    assert results[0][1].path.shape == results[1][1].path.shape == (4, D)
    assert results[2][1].path is None


def test_loss_and_gradient_is_the_pair(x64):
    X, y, w = (jnp.asarray(a) for a in _data(11))
    value, grad = lr.loss_and_gradient(w, X, y)
    assert float(value) == pytest.approx(float(lr.loss(w, X, y)), rel=1e-14)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(lr.mse_gradient(w, X, y)), rtol=1e-14)
    auto_value, auto_grad = jax.value_and_grad(lr.loss)(w, X, y)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(auto_grad), rtol=1e-12)


def test_gradient_descent_zero_steps(x64):
    X, y, w0 = _data(6)
    w_last, history = lr.gradient_descent(jnp.asarray(w0), jnp.asarray(X), jnp.asarray(y),
                                          0.1, 0)
    np.testing.assert_array_equal(np.asarray(history.path), w0[None])
    np.testing.assert_array_equal(np.asarray(w_last), w0)
    assert history.loss.shape == (0,)


def test_gradient_descent_converges_below_the_bound_and_diverges_above(x64):
    X, y, w0 = _data(7)
    Xj, yj, wj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(w0)
    eta_max = float(lr.max_stable_learning_rate(Xj))
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]

    w_last, history = lr.gradient_descent(wj, Xj, yj, 0.95 * eta_max, 300)
    np.testing.assert_allclose(np.asarray(w_last), w_star, rtol=1e-8, atol=1e-10)
    assert float(history.loss[-1]) == pytest.approx(np.mean((X @ w_star - y) ** 2), rel=1e-10)

    _, history = lr.gradient_descent(wj, Xj, yj, 1.05 * eta_max, 100)
    losses = _full_losses(history.path, X, y)
    # the top-eigenvector component grows by |1 - 1.05 * 2| = 1.1 per step
    assert losses[-1] > 1e6 * losses[0]
    assert np.all(np.diff(losses[50:]) > 0)
    np.testing.assert_allclose(np.asarray(history.loss), losses[:-1], rtol=1e-12)


def test_minibatch_with_the_full_batch_is_gradient_descent(x64):
    X, y, w0 = _data(8)
    Xj, yj, wj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(w0)
    full = lr.gradient_descent(wj, Xj, yj, 0.1, 20)
    mini = lr.minibatch_gradient_descent(jax.random.key(0), wj, Xj, yj, 0.1, N, 20)
    for a, b in zip(jax.tree_util.tree_leaves(full), jax.tree_util.tree_leaves(mini),
                    strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-11, atol=1e-13)


def test_minibatch_is_reproducible_and_uses_the_key(x64):
    X, y, w0 = _data(9)
    Xj, yj, wj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(w0)
    run = lambda k: lr.minibatch_gradient_descent(jax.random.key(k), wj, Xj, yj, 0.05, 8, 100)
    (p1, h1), (p1_again, _), (p2, _) = run(1), run(1), run(2)
    np.testing.assert_array_equal(np.asarray(p1), np.asarray(p1_again))
    assert not np.allclose(np.asarray(p1), np.asarray(p2))
    # small steps on small batches still bring the full-data loss down
    full = np.asarray(jax.vmap(lr.loss, (0, None, None))(h1.path, Xj, yj))
    np.testing.assert_allclose(full, _full_losses(h1.path, X, y), rtol=1e-12)
    assert full[-1] < 0.2 * full[0]


def test_a_new_learning_rate_does_not_recompile():
    """The rate is traced through fit: a slider of rates costs one compilation per shape."""
    X = lr.design_matrix(jnp.linspace(-1.0, 1.0, 7))
    y = 2.0 * X[:, 1]
    lr.gradient_descent(jnp.zeros(2), X, y, 0.1, 9)
    size = lr._fit_path._cache_size()
    for rate in (0.2, 0.3, 0.4):
        lr.gradient_descent(jnp.zeros(2), X, y, rate, 9)
    assert lr._fit_path._cache_size() == size


def test_minibatch_needs_a_batch_size_and_a_key():
    """batch_size=None used to run full batches silently (found by the fuzz test)."""
    X = lr.design_matrix(jnp.arange(4.0))
    with pytest.raises(TypeError, match="minibatch_gradient_descent: batch_size must be an "
                                        "int; got NoneType"):
        lr.minibatch_gradient_descent(KEY, jnp.zeros(2), X, jnp.arange(4.0), 0.1, None, 2)
    with pytest.raises(TypeError, match="minibatch_gradient_descent: key must be a jax.random "
                                        "key"):
        lr.minibatch_gradient_descent(None, jnp.zeros(2), X, jnp.arange(4.0), 0.1, 2, 2)


def test_minibatch_steps_use_the_batches_of_fit(x64):
    """Each step is an SGD step on B rows of one epoch's shuffle (fit's rule): replaying
    the update by hand on those rows gives the path."""
    from dlmath.training import _batch

    X, y, w0 = (jnp.asarray(a) for a in _data(10))
    key, B, eta = jax.random.key(3), 8, 0.05
    _, history = lr.minibatch_gradient_descent(key, w0, X, y, eta, B, 12)
    w = np.asarray(w0)
    for t in range(12):
        Xb, yb = (np.asarray(a) for a in _batch((X, y), key, t, N, B))
        # the history records the loss of step t's mini-batch, at w_t
        assert float(history.loss[t]) == pytest.approx(np.mean((Xb @ w - yb) ** 2), rel=1e-11)
        w = w - eta * 2 * Xb.T @ (Xb @ w - yb) / B
        np.testing.assert_allclose(np.asarray(history.path[t + 1]), w, rtol=1e-11, atol=1e-13)


# ---------------------------------------------------------------- error paths

X3 = np.zeros((4, 3), np.float32)
W3 = np.zeros(3, np.float32)
Y4 = np.zeros(4, np.float32)
KEY = jax.random.key(0)

ERRORS = [
    # (call, exception, regex the message must match)
    (lambda: lr.predict(W3, X3.astype(np.int32)), TypeError, r"predict: X .*int32"),
    (lambda: lr.predict(W3, X3[0]), ValueError, r"predict: X must have shape \(N, D\); got \(3,\)"),
    (lambda: lr.predict(W3[:2], X3), ValueError,
     r"predict: w must have shape \(D,\) = \(3,\) .* \(4, 3\); got w \(2,\)"),
    (lambda: lr.predict(W3.astype(np.int32), X3), TypeError, r"predict: w .*int32"),
    (lambda: lr.loss(W3, X3, Y4[:, None]), ValueError,
     r"loss: y must have shape \(N,\) = \(4,\) .* \(4, 3\); got y \(4, 1\)"),
    (lambda: lr.loss(W3, X3, Y4.astype(np.complex64)), TypeError, r"loss: y .*complex64"),
    (lambda: lr.mse_gradient(W3[:, None], X3, Y4), ValueError,
     r"mse_gradient: w .*got w \(3, 1\)"),
    (lambda: lr.mse_gradient(W3, X3, Y4[:3]), ValueError, r"mse_gradient: y .*got y \(3,\)"),
    (lambda: lr.mse_gradient(W3, X3.astype(np.int32), Y4), TypeError, r"mse_gradient: X"),
    (lambda: lr.hessian(X3[None]), ValueError,
     r"hessian: X must have shape \(N, D\); got \(1, 4, 3\)"),
    (lambda: lr.normal_equations(X3.T, np.zeros(3, np.float32)), ValueError,
     r"normal_equations: X \(N, D\) = \(3, 4\) has fewer rows"),
    (lambda: lr.normal_equations(X3, Y4[:2]), ValueError, r"normal_equations: y .*got y \(2,\)"),
    (lambda: lr.max_stable_learning_rate(X3[0]), ValueError, r"max_stable_learning_rate: X"),
    (lambda: lr.gradient_descent(W3, X3, Y4, 0.1, -1), ValueError,
     r"gradient_descent: steps must be an int >= 0; got -1"),
    (lambda: lr.gradient_descent(W3, X3, Y4, 0.1, 2.0), TypeError,
     r"gradient_descent: steps must be an int; got float 2.0"),
    (lambda: lr.gradient_descent(W3[:2], X3, Y4, 0.1, 2), ValueError,
     r"gradient_descent: w0 must have shape \(D,\) .*got w0 \(2,\)"),
    (lambda: lr.minibatch_gradient_descent(KEY, W3, X3, Y4, 0.1, 0, 2), ValueError,
     r"minibatch_gradient_descent: batch_size must be an int \[1, 4\]; got 0"),
    (lambda: lr.minibatch_gradient_descent(KEY, W3, X3, Y4, 0.1, 5, 2), ValueError,
     r"minibatch_gradient_descent: batch_size .*got 5"),
    (lambda: lr.minibatch_gradient_descent(KEY, W3, X3, Y4, 0.1, 2, -3), ValueError,
     r"minibatch_gradient_descent: steps .*got -3"),
    (lambda: lr.minibatch_gradient_descent(KEY, W3, X3, Y4[:, None], 0.1, 2, 3), ValueError,
     r"minibatch_gradient_descent: y .*got y \(4, 1\)"),
    (lambda: lr.design_matrix(np.arange(3)), TypeError, r"design_matrix: x .*int"),
    # N = 0: a mean over no examples (issue: a bare ZeroDivisionError before)
    (lambda: lr.loss(W3, X3[:0], Y4[:0]), ValueError, r"loss: X \(N, D\) has no examples"),
    (lambda: lr.mse_gradient(W3, X3[:0], Y4[:0]), ValueError, r"mse_gradient: X .*no examples"),
    (lambda: lr.loss_and_gradient(W3, X3[:0], Y4[:0]), ValueError,
     r"loss_and_gradient: X .*no examples"),
    (lambda: lr.hessian(X3[:0]), ValueError, r"hessian: X .*no examples"),
    (lambda: lr.normal_equations(X3[:0], Y4[:0]), ValueError, r"normal_equations: X .*no examples"),
    (lambda: lr.max_stable_learning_rate(X3[:0]), ValueError,
     r"max_stable_learning_rate: X .*no examples"),
    (lambda: lr.max_stable_learning_rate(X3[:, :0]), ValueError,
     r"max_stable_learning_rate: X .*has no columns"),
    (lambda: lr.gradient_descent(W3, X3[:0], Y4[:0], 0.1, 2), ValueError,
     r"gradient_descent: X .*no examples"),
    # complex targets, complex weights
    (lambda: lr.mse_gradient(W3, X3, Y4.astype(np.complex64)), TypeError,
     r"mse_gradient: y must hold real numbers .*complex64"),
    (lambda: lr.gradient_descent(W3.astype(np.complex64), X3, Y4, 0.1, 2), TypeError,
     r"gradient_descent: w0 must be a floating-point array .*complex64.*Complex"),
    (lambda: lr.minibatch_gradient_descent(KEY, W3.astype(np.int32), X3, Y4, 0.1, 2, 2),
     TypeError, r"minibatch_gradient_descent: w0 must be a floating-point array .*int32"),
    (lambda: lr.normal_equations(X3.astype(np.complex64), Y4), TypeError,
     r"normal_equations: X must be a floating-point array"),
    (lambda: lr.design_matrix(np.zeros((2, 2, 2), np.float32)), ValueError,
     r"design_matrix: x must have shape \(N,\) or \(N, F\)"),
]


@pytest.mark.parametrize("call, exc, pattern", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_error_paths_name_the_function_and_the_shapes(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


# --- values the static checks cannot see, checked on concrete arrays ---------------------


def test_normal_equations_refuses_a_rank_deficient_design_matrix():
    X = lr.design_matrix(jnp.arange(6.0))
    X3 = jnp.concatenate([X, X[:, 1:]], axis=1)  # a repeated column: rank 2 < D = 3
    with pytest.raises(ValueError, match=r"normal_equations: X \(N, D\) = \(6, 3\) has rank 2"):
        lr.normal_equations(X3, jnp.arange(6.0))


@pytest.mark.parametrize("rate", [-0.1, 0.0, float("inf"), float("nan"), np.float32(np.inf),
                                  jnp.asarray(-1.0)])
def test_gradient_descent_refuses_a_learning_rate_that_is_not_finite_and_positive(rate):
    """One rule (dlmath._checks.learning_rate): finite and > 0; inf was accepted before."""
    X = lr.design_matrix(jnp.arange(4.0))
    with pytest.raises(ValueError, match=r"gradient_descent: learning_rate must be a finite "
                                         r"number in \(0, inf\)"):
        lr.gradient_descent(jnp.zeros(2), X, jnp.arange(4.0), rate, 3)
    with pytest.raises(ValueError, match=r"minibatch_gradient_descent: learning_rate must be a "
                                         r"finite number"):
        lr.minibatch_gradient_descent(jax.random.key(0), jnp.zeros(2), X, jnp.arange(4.0), rate,
                                      2, 3)


@pytest.mark.parametrize("rate, exc", [(True, TypeError), (0.1 + 0j, TypeError),
                                       (lambda t: 0.1, TypeError), ("0.1", TypeError)])
def test_gradient_descent_refuses_a_learning_rate_that_is_not_a_real_number(rate, exc):
    X = lr.design_matrix(jnp.arange(4.0))
    with pytest.raises(exc, match="gradient_descent: learning_rate must be"):
        lr.gradient_descent(jnp.zeros(2), X, jnp.arange(4.0), rate, 3)


def test_gradient_descent_refuses_a_learning_rate_per_coordinate():
    X = lr.design_matrix(jnp.arange(4.0))
    with pytest.raises(ValueError, match=r"learning_rate must be a scalar; got shape \(2,\)"):
        lr.gradient_descent(jnp.zeros(2), X, jnp.arange(4.0), jnp.array([0.1, 0.2]), 3)


def test_max_stable_learning_rate_refuses_a_flat_loss():
    with pytest.raises(ValueError, match=r"max_stable_learning_rate: the Hessian .* \(every "
                                         "entry of X is 0"):
        lr.max_stable_learning_rate(jnp.zeros((3, 2)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X_gets_its_own_message_not_a_misleading_one(bad):
    """NaN used to read "X has no non-zero entry"; inf raised NumPy's "SVD did not
    converge" from the rank check."""
    X = np.array(lr.design_matrix(jnp.arange(5.0)))
    X[3, 1] = bad
    y = np.arange(5.0, dtype=np.float32)
    with pytest.raises(ValueError, match=r"max_stable_learning_rate: X must be finite; got "
                                         r"X\[3, 1\] = (nan|inf|-inf)"):
        lr.max_stable_learning_rate(X)
    with pytest.raises(ValueError, match=r"normal_equations: X must be finite; got X\[3, 1\]"):
        lr.normal_equations(X, y)
    y[2] = bad
    with pytest.raises(ValueError, match=r"normal_equations: y must be finite; got y\[2\]"):
        lr.normal_equations(np.array(lr.design_matrix(jnp.arange(5.0))), y)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_low_precision_X_is_solved_in_float32_and_returned_in_its_dtype(dtype):
    """float16 is a documented float type: XLA's solve and eigh refuse it ("lu does not
    accept float16"), so the linear algebra runs in float32 and the result is cast back."""
    x = jnp.linspace(-1.0, 1.0, 9)
    X = lr.design_matrix(x).astype(dtype)
    y = (0.5 + 2.0 * x).astype(dtype)
    w = lr.normal_equations(X, y)
    assert w.dtype == dtype
    np.testing.assert_allclose(np.asarray(w, np.float32), [0.5, 2.0], atol=2e-2)
    eta = lr.max_stable_learning_rate(X)
    assert eta.dtype == dtype
    want = 2 / np.linalg.eigvalsh(np.asarray(lr.hessian(X.astype(jnp.float32))))[-1]
    assert float(eta) == pytest.approx(want, rel=1e-2)
    assert lr.hessian(X).dtype == dtype


def test_functions_of_w_compute_in_the_dtype_of_w():
    """The package's mixed-dtype rule (dlmath._checks): data are cast to the parameters'
    dtype, so a float16 model trains on float32 data without a carry-type error."""
    X = lr.design_matrix(jnp.linspace(-1.0, 1.0, 8))
    y = 1.0 + X[:, 1]
    w16 = jnp.zeros(2, jnp.float16)
    assert lr.predict(w16, X).dtype == jnp.float16
    assert lr.loss(w16, X, y).dtype == jnp.float16
    assert lr.mse_gradient(w16, X, y).dtype == jnp.float16
    w_last, history = lr.gradient_descent(w16, X, y, 0.2, 30)
    assert w_last.dtype == history.path.dtype == history.loss.dtype == jnp.float16
    assert float(history.loss[-1]) < 0.1 * float(history.loss[0])
    # integer targets are real numbers: cast to the weights' dtype
    g_int = lr.mse_gradient(jnp.zeros(2), X, jnp.arange(8))
    np.testing.assert_allclose(g_int, lr.mse_gradient(jnp.zeros(2), X, jnp.arange(8.0)))


def test_value_checks_stay_out_of_the_way_under_jit():
    X = lr.design_matrix(jnp.arange(5.0))
    y = 1.0 + 2.0 * jnp.arange(5.0)
    w = jax.jit(lr.normal_equations)(X, y)
    np.testing.assert_allclose(w, [1.0, 2.0], atol=1e-4)
    path = jax.jit(lambda rate: lr.gradient_descent(jnp.zeros(2), X, y, rate, 2)[1].path)(0.01)
    assert path.shape == (3, 2)
    np.testing.assert_allclose(path, lr.gradient_descent(jnp.zeros(2), X, y, 0.01, 2)[1].path,
                               rtol=1e-6)
    eta = jax.jit(lr.max_stable_learning_rate)(X)
    assert float(eta) == pytest.approx(float(lr.max_stable_learning_rate(X)), rel=1e-6)


def test_a_python_list_gets_an_error_naming_the_function():
    X = lr.design_matrix(jnp.arange(3.0))
    with pytest.raises(TypeError, match="loss: w must be an array"):
        lr.loss([0.0, 1.0], X, jnp.arange(3.0))
