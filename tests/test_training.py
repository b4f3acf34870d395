"""Unit tests of dlmath.training.fit: the one training loop.

Each step must be exactly theta <- theta + update(grad L(theta)); checked against a loop
written out here, against optax (the loop takes optax's optimizers unchanged), with a
hand-written gradient, with mini-batches (every example once per epoch), and for its
input errors.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dlmath import optim, training


def _problem(n=24, d=3, seed=0):
    k1, k2 = jax.random.split(jax.random.key(seed))
    X = jax.random.normal(k1, (n, d))
    y = X @ jnp.arange(1.0, d + 1.0) + 0.1 * jax.random.normal(k2, (n,))
    return X, y


def loss(w, X, y):
    return jnp.mean((X @ w - y) ** 2)


def test_full_batch_steps_are_the_update_rule_written_out():
    X, y = _problem()
    w0 = jnp.zeros(3)
    w, hist = training.fit(optim.sgd(0.05), loss, w0, (X, y), steps=7, keep_path=True)
    expected, path, values = w0, [w0], []
    for _ in range(7):
        values.append(loss(expected, X, y))
        expected = expected - 0.05 * jax.grad(loss)(expected, X, y)
        path.append(expected)
    np.testing.assert_allclose(w, expected, rtol=1e-6)
    np.testing.assert_allclose(hist.path, jnp.stack(path), rtol=1e-6)
    np.testing.assert_allclose(hist.loss, jnp.stack(values), rtol=1e-6)
    assert hist.loss.shape == (7,) and hist.path.shape == (8, 3)


def test_optax_optimizers_work_unchanged_and_agree_with_dlmath_optim():
    X, y = _problem()
    w0 = jnp.zeros(3)
    ours, h1 = training.fit(optim.adam(0.1), loss, w0, (X, y), steps=50)
    theirs, h2 = training.fit(optax.adam(0.1), loss, w0, (X, y), steps=50)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h1.loss, h2.loss, rtol=1e-5)


def test_a_hand_written_gradient_is_used_when_given():
    X, y = _problem()
    calls = []

    def value_and_grad(w, X, y):
        calls.append(1)
        return loss(w, X, y), 2.0 * X.T @ (X @ w - y) / X.shape[0]

    by_hand, _ = training.fit(optim.sgd(0.05), loss, jnp.zeros(3), (X, y), steps=20,
                              value_and_grad=value_and_grad)
    auto, _ = training.fit(optim.sgd(0.05), loss, jnp.zeros(3), (X, y), steps=20)
    assert calls, "the hand-written value_and_grad was not used"
    np.testing.assert_allclose(by_hand, auto, rtol=1e-5)

    def wrong(w, X, y):  # a gradient without its factor 2 must change the result
        return loss(w, X, y), X.T @ (X @ w - y) / X.shape[0]

    off, _ = training.fit(optim.sgd(0.05), loss, jnp.zeros(3), (X, y), steps=20,
                          value_and_grad=wrong)
    assert not np.allclose(off, auto, rtol=1e-3)


def test_minibatches_use_every_example_once_per_epoch():
    n, b = 12, 4
    X = jnp.arange(n, dtype=jnp.float32)[:, None]
    seen = []

    def vg(w, xb):
        # the gradient carries the batch out of the scan through the loss value
        return jnp.sum(xb), jnp.zeros_like(w)

    _, hist = training.fit(optim.sgd(0.1), lambda w, xb: 0.0, jnp.zeros(1), (X,), steps=6,
                           batch_size=b, key=jax.random.key(3), value_and_grad=vg)
    # 2 epochs of 3 batches: each epoch's batch sums add up to the sum of all examples
    sums = np.asarray(hist.loss).reshape(2, 3).sum(axis=1)
    np.testing.assert_allclose(sums, [n * (n - 1) / 2] * 2)
    seen.extend(np.asarray(hist.loss))
    # two different epochs are shuffled differently (not the same order twice)
    assert list(seen[:3]) != list(seen[3:])


def test_minibatch_training_is_reproducible_from_its_key_and_converges():
    X, y = _problem(n=40)
    run = lambda k: training.fit(optim.sgd(0.05, momentum=0.9), loss, jnp.zeros(3), (X, y),
                                 steps=200, batch_size=8, key=jax.random.key(k))[0]
    np.testing.assert_array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))
    w_star = jnp.linalg.lstsq(X, y)[0]
    np.testing.assert_allclose(run(1), w_star, atol=0.05)


def test_chunks_evaluate_and_callback_do_not_change_the_result():
    X, y = _problem()
    whole, h_whole = training.fit(optim.sgd(0.05), loss, jnp.zeros(3), (X, y), steps=10)
    seen = []
    chunked, h = training.fit(optim.sgd(0.05), loss, jnp.zeros(3), (X, y), steps=10,
                              log_every=3, evaluate=lambda w: {"loss": float(loss(w, X, y))},
                              callback=lambda step, hist: seen.append((step, len(hist.loss))))
    np.testing.assert_allclose(chunked, whole, rtol=1e-6)
    np.testing.assert_allclose(h.loss, h_whole.loss, rtol=1e-6)
    assert seen == [(3, 3), (6, 6), (9, 9), (10, 10)]
    assert [s for s, _ in h.evaluations] == [0, 3, 6, 9, 10]
    assert h.evaluations[-1][1]["loss"] == pytest.approx(float(loss(chunked, X, y)), rel=1e-5)


def test_zero_steps_return_the_start():
    X, y = _problem()
    w, h = training.fit(optim.sgd(0.1), loss, jnp.ones(3), (X, y), steps=0, keep_path=True)
    np.testing.assert_array_equal(w, jnp.ones(3))
    assert h.loss.shape == (0,) and h.path.shape == (1, 3)


def test_pytrees_and_float16_params_with_float32_data():
    X, y = _problem()
    params = {"w": jnp.zeros(3, jnp.float16), "b": jnp.zeros((), jnp.float16)}
    model = lambda p, X, y: jnp.mean((X @ p["w"] + p["b"] - y) ** 2)
    out, h = training.fit(optim.sgd(0.05), model, params, (X, y), steps=30)
    assert out["w"].dtype == jnp.float16 and out["b"].dtype == jnp.float16
    assert float(h.loss[-1]) < float(h.loss[0])


def test_integer_labels_are_not_cast():
    X = jax.random.normal(jax.random.key(0), (16, 4))
    labels = jnp.arange(16) % 3
    W0 = jnp.zeros((4, 3))

    def ce(W, X, labels):
        assert jnp.issubdtype(labels.dtype, jnp.integer)
        return -jnp.mean(jax.nn.log_softmax(X @ W)[jnp.arange(X.shape[0]), labels])

    W, h = training.fit(optim.sgd(0.5), ce, W0, (X, labels), steps=20)
    assert float(h.loss[-1]) < float(h.loss[0])


def test_step_keys_are_fresh_every_step_and_reproducible():
    """With step_key=True the loss gets key_t = fold_in(fold_in(key, 2**31 - 1), t) as its
    last argument: the steps written out with those keys give the same parameters."""
    X, y = _problem()

    def noisy(w, X, y, key):  # a sampled perturbation of the inputs: needs a key per step
        return jnp.mean((X @ (w + 0.1 * jax.random.normal(key, w.shape)) - y) ** 2)

    key = jax.random.key(7)
    w, hist = training.fit(optim.sgd(0.05), noisy, jnp.zeros(3), (X, y), steps=6, key=key,
                           step_key=True, log_every=4)
    expected, stream = jnp.zeros(3), jax.random.fold_in(key, 2**31 - 1)
    for t in range(6):
        value, g = jax.value_and_grad(noisy)(expected, X, y, jax.random.fold_in(stream, t))
        np.testing.assert_allclose(hist.loss[t], value, rtol=1e-5)
        expected = expected - 0.05 * g
    np.testing.assert_allclose(w, expected, rtol=1e-5)
    assert len({float(v) for v in hist.loss}) == 6
    again, _ = training.fit(optim.sgd(0.05), noisy, jnp.zeros(3), (X, y), steps=6, key=key,
                            step_key=True)
    np.testing.assert_array_equal(w, again)
    # with mini-batches the key follows the batch: loss_fn(params, X_b, y_b, key_t)
    wb, _ = training.fit(optim.sgd(0.05), noisy, jnp.zeros(3), (X, y), steps=5, batch_size=8,
                         key=key, step_key=True)
    assert wb.shape == (3,) and bool(jnp.all(jnp.isfinite(wb)))
    with pytest.raises(TypeError, match="fit: key must be a jax.random key"):
        training.fit(optim.sgd(0.05), noisy, jnp.zeros(3), (X, y), steps=1, step_key=True)
    with pytest.raises(TypeError, match="fit: step_key must be a Python bool"):
        training.fit(optim.sgd(0.05), loss, jnp.zeros(3), (X, y), steps=1, key=key, step_key=1)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"steps": -1}, ValueError, "steps"),
    ({"steps": 2.5}, TypeError, "steps"),
    ({"steps": True}, TypeError, "steps"),
    ({"steps": 3, "batch_size": 0, "key": jax.random.key(0)}, ValueError, "batch_size"),
    ({"steps": 3, "batch_size": 99, "key": jax.random.key(0)}, ValueError, "batch_size"),
    ({"steps": 3, "batch_size": 4}, TypeError, "key must be a jax.random key"),
    ({"steps": 3, "batch_size": 4, "key": 0}, TypeError, "key must be a jax.random key"),
    ({"steps": 3, "key": "seed"}, TypeError, "key must be a jax.random key"),
    ({"steps": 3, "keep_path": 1}, TypeError, "keep_path must be a Python bool"),
    ({"steps": 3, "log_every": 0}, ValueError, "log_every"),
])
def test_bad_run_arguments(kwargs, error, match):
    X, y = _problem()
    with pytest.raises(error, match=f"fit: {match}"):
        training.fit(optim.sgd(0.1), loss, jnp.zeros(3), (X, y), **kwargs)


def test_bad_objects():
    X, y = _problem()
    with pytest.raises(TypeError, match=r"fit: optimizer must have init\(params\) and update"):
        training.fit(object(), loss, jnp.zeros(3), (X, y), steps=1)
    with pytest.raises(TypeError, match="fit: loss_fn"):
        training.fit(optim.sgd(0.1), None, jnp.zeros(3), (X, y), steps=1)
    with pytest.raises(TypeError, match="fit: data must be a tuple"):
        training.fit(optim.sgd(0.1), loss, jnp.zeros(3), [X, y], steps=1)
    with pytest.raises(ValueError, match="fit: every array of data must have the same number N"):
        training.fit(optim.sgd(0.1), loss, jnp.zeros(3), (X, y[:-1]), steps=1)
    with pytest.raises(TypeError, match="fit: every leaf of params must be a floating"):
        training.fit(optim.sgd(0.1), loss, jnp.zeros(3, jnp.int32), (X, y), steps=1)
    with pytest.raises(TypeError, match="fit: every leaf of params must have one float dtype"):
        training.fit(optim.sgd(0.1), loss, {"a": jnp.zeros(3), "b": jnp.zeros(3, jnp.float16)},
                     (X, y), steps=1)
    with pytest.raises(TypeError, match=r"fit: data\[0\] must hold real numbers"):
        training.fit(optim.sgd(0.1), loss, jnp.zeros(3), (X.astype(jnp.complex64), y), steps=1)
    with pytest.raises(ValueError, match="fit: learning_rate|sgd: learning_rate"):
        training.fit(optim.sgd(-0.1), loss, jnp.zeros(3), (X, y), steps=1)


# ---------------------------------------------------------------- the one training step


def test_train_step_is_the_step_of_fit_and_of_optax_written_out():
    X, y = _problem()
    opt, vg = optim.adam(0.1), jax.value_and_grad(loss)
    fitted, hist = training.fit(opt, loss, jnp.zeros(3), (X, y), steps=4)
    w, s = jnp.zeros(3), opt.init(jnp.zeros(3))
    ox = optax.adam(0.1)
    w_ox, s_ox = jnp.zeros(3), ox.init(jnp.zeros(3))
    for t in range(4):
        w, s, value = training.train_step(opt, vg, w, s, X, y)
        np.testing.assert_allclose(value, hist.loss[t], rtol=1e-6)
        u, s_ox = ox.update(jax.grad(loss)(w_ox, X, y), s_ox, w_ox)
        w_ox = optax.apply_updates(w_ox, u)
    np.testing.assert_allclose(w, fitted, rtol=1e-6)
    np.testing.assert_allclose(w, w_ox, rtol=1e-5)
    # the package's dtype rule: float32 data is cast to float16 parameters, which stay so
    p16 = jnp.zeros(3, jnp.float16)
    sgd = optim.sgd(0.05)
    w16, _, _ = training.train_step(sgd, vg, p16, sgd.init(p16), X, y)
    assert w16.dtype == jnp.float16
    # a key may follow the arrays (fit's step_key)
    noisy = jax.value_and_grad(lambda w, X, y, k: loss(w + jax.random.normal(k, w.shape), X, y))
    w_k, _, _ = training.train_step(sgd, noisy, jnp.zeros(3), sgd.init(jnp.zeros(3)), X, y,
                                    jax.random.key(0))
    assert w_k.shape == (3,)


def test_train_step_errors():
    X, y = _problem()
    opt, vg, w = optim.sgd(0.1), jax.value_and_grad(loss), jnp.zeros(3)
    with pytest.raises(TypeError, match=r"train_step: optimizer must have init\(params\)"):
        training.train_step(object(), vg, w, None, X, y)
    with pytest.raises(TypeError, match="train_step: value_and_grad must be a function"):
        training.train_step(opt, "grad", w, opt.init(w), X, y)
    with pytest.raises(TypeError, match="train_step: every leaf of params must be a floating"):
        training.train_step(opt, vg, jnp.zeros(3, jnp.int32), opt.init(w), X, y)
    with pytest.raises(TypeError, match=r"train_step: batch\[0\] must be an array"):
        training.train_step(opt, vg, w, opt.init(w), [[1.0, 2.0, 3.0]], y)
    with pytest.raises(TypeError, match=r"train_step: batch\[1\] must hold real numbers"):
        training.train_step(opt, vg, w, opt.init(w), X, y.astype(jnp.complex64))
    with pytest.raises(ValueError, match="train_step: every array of batch must have the same "
                                         "number N"):
        training.train_step(opt, vg, w, opt.init(w), X, y[:-1])
