"""Tests of dlmath.layers: the hand-written backward pass against jax.grad, jax.vjp and
float64 finite differences (dlmath.testing.verify); each documented formula of
dlmath.formulas.backprop evaluated against the code (batched row form, and the column
form of the derivation with the code's transposed kernels); the initialisation variances
against their formulas and jax.nn.initializers; the sigmoid Jacobian bound against the
true Jacobian; training on digits; the progress widget and the training plot; and every
error path."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import sympy as sp
from jax.flatten_util import ravel_pytree

from dlmath import data, layers, losses, plot, widgets
from dlmath.formulas import backprop as F
from dlmath.symbolic import docstring_math
from dlmath.testing import relative_error, verify

KEY = jax.random.key(0)
SIZES = (5, 4, 3, 3)


def _net(dtype=jnp.float64, sizes=SIZES, n=6, scheme="xavier", key=KEY):
    kp, kx, ky = jax.random.split(key, 3)
    params = layers.init_mlp(kp, sizes, scheme=scheme, dtype=dtype)
    x = jax.random.normal(kx, (n, sizes[0]), dtype)
    y = jax.random.randint(ky, (n,), 0, sizes[-1])
    return params, x, y


# ------------------------------------------------------------------ docstrings = formulas
@pytest.mark.parametrize("name", sorted(F.DOCUMENTED))
def test_docstring_quotes_the_registered_formula(name):
    module, fn = name.split(".")
    assert module == "layers"
    quoted = docstring_math(getattr(layers, fn))
    assert quoted == [" ".join(f.latex.split()) for f in F.DOCUMENTED[name]]


# ------------------------------------------------------------------ backward = autodiff
@pytest.mark.parametrize("activation,loss", [("sigmoid", "cross_entropy"), ("tanh", "mse"),
                                             ("relu", "cross_entropy")])
def test_hand_backward_equals_jax_grad_and_finite_differences(activation, loss):
    with jax.enable_x64(True):
        params, x, y = _net()
        targets = y if loss == "cross_entropy" else jax.random.normal(KEY, (6, SIZES[-1]))
        theta, unravel = ravel_pytree(params)
        out_act = "identity" if loss == "cross_entropy" else "sigmoid"

        def fn(th, xx):
            out = layers.mlp(unravel(th), xx, activation=activation, output_activation=out_act)
            if loss == "cross_entropy":
                return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(out, targets))
            return losses.mse(out, targets)

        def by_hand(th, xx):
            _, grads = layers.loss_and_grad(unravel(th), xx, targets, loss=loss,
                                            activation=activation, output_activation=out_act)
            return ravel_pytree(grads)[0]

        report = verify(fn, [theta, x], name=f"backprop {activation} {loss}", grad=by_hand,
                        check_grads_order=None, rtol=1e-12)
    assert report.passed
    assert [c.reference for c in report.checks] == ["jax.grad", "finite differences"]


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_backward_is_the_vjp_of_the_forward_pass(activation):
    """Reverse mode *is* backprop: jax.vjp of params -> output, pulled back along any
    cotangent, gives what backward computes from the same grad_output."""
    with jax.enable_x64(True):
        params, x, _ = _net()
        out, pullback = jax.vjp(lambda p: layers.mlp(p, x, activation=activation), params)
        cotangent = jax.random.normal(jax.random.key(3), out.shape, jnp.float64)
        (by_vjp,) = pullback(cotangent)
        cache = layers.forward(params, x, activation=activation)
        by_hand = layers.backward(params, cache, cotangent, activation=activation)
        assert relative_error(ravel_pytree(by_hand)[0], ravel_pytree(by_vjp)[0]) < 1e-13


@pytest.mark.parametrize("name", sorted(layers.ACTIVATIONS))
def test_activation_derivatives_are_the_autodiff_ones(name):
    """The backward pass's sigma'(z), written from the forward value a = sigma(z), equals
    jax.grad of the forward function, at the ReLU kink z = 0 too (0, as jax.nn.relu)."""
    with jax.enable_x64(True):
        f, d = layers.ACTIVATIONS[name]
        z = jnp.arange(-60, 61, dtype=jnp.float64) / 10       # contains 0 exactly
        assert float(z[60]) == 0.0
        by_autodiff = jax.vmap(jax.grad(f))(z)
        assert relative_error(d(z, f(z)), by_autodiff) < 1e-13
        peer = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu,
                "identity": lambda v: v}[name]
        assert relative_error(f(z), peer(z)) < 1e-14
        assert relative_error(by_autodiff, jax.vmap(jax.grad(peer))(z)) < 1e-13


def test_loss_values_match_optax_and_losses_mse():
    with jax.enable_x64(True):
        params, x, y = _net()
        logits = layers.mlp(params, x)
        value, g = layers.cross_entropy_and_grad(logits, y)
        ref = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))
        assert abs(float(value) - float(ref)) < 1e-13
        g_ref = jax.grad(lambda z: jnp.mean(
            optax.softmax_cross_entropy_with_integer_labels(z, y)))(logits)
        assert relative_error(g, g_ref) < 1e-13
        t = jnp.ones_like(logits)
        value, g = layers.mse_and_grad(logits, t)
        assert abs(float(value) - float(losses.mse(logits, t))) < 1e-13
        assert relative_error(g, jax.grad(losses.mse)(logits, t)) < 1e-13


def test_cross_entropy_and_grad_is_stable_for_huge_logits():
    logits = jnp.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], jnp.float32)
    value, g = layers.cross_entropy_and_grad(logits, jnp.array([1, 1]))
    assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(g)))
    assert abs(float(value) - 1e4) < 1.0  # example 0: log-likelihood -2e4, example 1: 0


# ------------------------------------------------------------------ the formulas vs the code
def test_dense_matches_its_formula():
    with jax.enable_x64(True):
        params, x, _ = _net()
        layer = params[0]
        ref = F.DENSE.reference(x, layer["w"], layer["b"][:, None], x.shape[0])
        assert relative_error(layers.dense(layer, x), ref) < 1e-14


def test_backward_matches_the_batched_formulas():
    """grads of the last layer = A^T Delta and Delta^T 1; the error of the layer below =
    (Delta W^T) o sigma'(Z), with that lower error taken from jax.grad (independent)."""
    with jax.enable_x64(True):
        params, x, y = _net()
        act = "tanh"
        cache = layers.forward(params, x, activation=act)
        _, g_out = layers.cross_entropy_and_grad(cache.activations[-1], y)
        grads = layers.backward(params, cache, g_out, activation=act)
        delta = g_out                      # identity output: Delta^(L) = dL/da^(L)
        a_prev, w = cache.activations[-2], params[-1]["w"]
        assert relative_error(grads[-1]["w"], F.BACKWARD_GRAD_W.reference(a_prev, delta)) < 1e-14
        db = F.BACKWARD_GRAD_B.reference(delta, delta.shape[0])[:, 0]
        assert relative_error(grads[-1]["b"], db) < 1e-14

        def loss_of_lower_z(z):
            logits = jnp.tanh(z) @ w + params[-1]["b"]
            return layers.cross_entropy_and_grad(logits, y)[0]

        lower_delta = jax.grad(loss_of_lower_z)(cache.zs[-2])
        s = 1.0 - jnp.tanh(cache.zs[-2]) ** 2
        assert relative_error(lower_delta, F.BACKWARD_DELTA.reference(delta, w, s)) < 1e-13
        assert relative_error(grads[-2]["b"], jnp.sum(lower_delta, axis=0)) < 1e-13


def test_column_form_is_the_transpose_of_the_code():
    """The derivation's delta^(l) = (W^(l+1)T delta^(l+1)) o sigma'(z^(l)) and
    dL/dW^(l) = delta^(l) a^(l-1)T, with the math's W = the code's w transposed, give for one
    example exactly what the code's rows give."""
    with jax.enable_x64(True):
        params, x, y = _net(n=1)
        cache = layers.forward(params, x, activation="sigmoid")
        _, g_out = layers.cross_entropy_and_grad(cache.activations[-1], y)
        grads = layers.backward(params, cache, g_out, activation="sigmoid")
        M = lambda a: sp.Matrix(np.asarray(a, np.float64))  # noqa: E731
        a1 = cache.activations[-2]
        delta_l = F.substitute(F.DELTA_COLUMN, {
            F.W_next: M(params[-1]["w"].T),          # math W^(l+1) = code w^T
            F.delta_next: M(g_out.T),                # a column: the example's row, transposed
            F.dsigma_z: M((a1 * (1 - a1)).T),
        })
        grad_w = F.substitute(F.GRAD_W_COLUMN, {F.delta_l: delta_l,
                                                F.a_prev: M(cache.activations[-3].T)})
        assert relative_error(np.array(grad_w, np.float64).T, grads[-2]["w"]) < 1e-13
        assert relative_error(np.array(delta_l, np.float64)[:, 0], grads[-2]["b"]) < 1e-13


def test_substitute_rejects_matrices_that_do_not_fit():
    with pytest.raises(ValueError, match="n_{l}"):
        F.substitute(F.DELTA_COLUMN, {F.W_next: sp.ones(2, 3), F.delta_next: sp.ones(2, 1),
                                      F.dsigma_z: sp.ones(4, 1)})


# ------------------------------------------------------------------ initialisation
@pytest.mark.parametrize("scheme,formula", [("lecun", F.LECUN_VARIANCE),
                                            ("he", F.HE_VARIANCE),
                                            ("xavier", F.XAVIER_VARIANCE)])
def test_init_variance_matches_its_formula(scheme, formula):
    for n_in, n_out in ((1, 1), (64, 10), (300, 7)):
        assert layers.init_variance(scheme, n_in, n_out) == pytest.approx(
            float(formula.reference(n_in, n_out)), rel=1e-15)


@pytest.mark.parametrize("scheme,peer", [
    ("he", jax.nn.initializers.he_normal()),
    ("xavier", jax.nn.initializers.glorot_normal()),
    ("lecun", jax.nn.initializers.lecun_normal()),
])
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_init_mlp_samples_have_the_variance_of_jax_initializers(scheme, peer, distribution):
    n_in, n_out = 400, 600          # 240000 draws: the sample variance is within ~0.3%
    (layer,) = layers.init_mlp(KEY, (n_in, n_out), scheme=scheme, distribution=distribution)
    target = layers.init_variance(scheme, n_in, n_out)
    ours = float(jnp.var(layer["w"]))
    theirs = float(jnp.var(peer(jax.random.key(1), (n_in, n_out), jnp.float32)))
    assert ours == pytest.approx(target, rel=0.02)
    assert theirs == pytest.approx(target, rel=0.02)
    assert abs(float(jnp.mean(layer["w"]))) < 0.01 * target**0.5 * 10
    assert np.all(np.asarray(layer["b"]) == 0)
    if distribution == "uniform":
        assert float(jnp.max(jnp.abs(layer["w"]))) <= (3 * target) ** 0.5


def test_init_mlp_is_seeded_and_shaped():
    a = layers.init_mlp(KEY, (3, 5, 2), gain=2.0)
    b = layers.init_mlp(KEY, (3, 5, 2), gain=2.0)
    assert [lay["w"].shape for lay in a] == [(3, 5), (5, 2)]
    assert all(np.array_equal(p["w"], q["w"]) for p, q in zip(a, b, strict=True))
    c = layers.init_mlp(KEY, (3, 5, 2), gain=1.0)
    assert np.allclose(np.asarray(a[0]["w"]), 2 * np.asarray(c[0]["w"]))


# ------------------------------------------------------------------ vanishing gradients
def test_sigmoid_jacobian_bound_matches_its_formula_and_holds():
    with jax.enable_x64(True):
        for depth, gain in ((5, 3.0),):
            sizes = (6,) * (depth + 1)
            params = layers.init_mlp(jax.random.key(depth), sizes, scheme="xavier",
                                     gain=gain, dtype=jnp.float64)
            log_bound = float(layers.log_sigmoid_jacobian_bound(params))
            norms = [0.0] + [float(np.linalg.svd(np.asarray(p["w"]), compute_uv=False)[0])
                             for p in params]   # s_1..s_L (index 0 unused by the formula)
            ref = float(F.LOG_SIGMOID_JACOBIAN_BOUND.reference(jnp.asarray(norms), depth))
            assert log_bound == pytest.approx(ref, rel=1e-12)
            xs = 3.0 * jax.random.normal(jax.random.key(10 + depth), (5, 6), jnp.float64)
            f = lambda v, p=params: layers._forward(p, v[None], "sigmoid", "sigmoid"
                                                    ).activations[-1][0]
            jacobians = np.asarray(jax.vmap(jax.jacrev(f))(xs))
            log_norms = np.log(np.linalg.norm(jacobians, 2, axis=(1, 2)))
            assert np.all(log_norms <= log_bound + 1e-12)


# ------------------------------------------------------------------ training
def test_sgd_step_plain_and_momentum():
    p = {"w": jnp.array([1.0, 2.0])}
    g = {"w": jnp.array([0.5, -1.0])}
    p1, v1 = layers.sgd_step(p, g, 0.1)
    assert np.allclose(p1["w"], [0.95, 2.1]) and np.allclose(v1["w"], g["w"])
    p2, v2 = layers.sgd_step(p1, g, 0.1, v1, momentum=0.9)
    assert np.allclose(v2["w"], 1.9 * np.asarray(g["w"]))
    assert np.allclose(p2["w"], np.asarray(p1["w"]) - 0.19 * np.asarray(g["w"]))


def test_train_step_lowers_the_loss_and_weight_decay_is_its_gradient():
    with jax.enable_x64(True):
        params, x, _ = _net(n=32)
        y = jnp.argmax(x[:, :3], axis=1)        # a learnable rule
        vel = jax.tree_util.tree_map(jnp.zeros_like, params)
        lam, lr = 0.3, 0.1

        def penalised(p):
            ce = layers.cross_entropy_and_grad(layers.mlp(p, x), y)[0]
            return ce + 0.5 * lam * sum(jnp.sum(q["w"] ** 2) for q in p)

        stepped, _, _ = layers.train_step(params, vel, x, y, lr, 0.0, lam)
        expected = jax.tree_util.tree_map(lambda a, g: a - lr * g, params,
                                          jax.grad(penalised)(params))
        assert relative_error(ravel_pytree(stepped)[0], ravel_pytree(expected)[0]) < 1e-13
        p, v, first = layers.train_step(params, vel, x, y, 0.5, 0.9, 0.0)
        for _ in range(30):
            p, v, last = layers.train_step(p, v, x, y, 0.5, 0.9, 0.0)
        assert float(last) < 0.5 * float(first)


def test_fit_learns_digits_and_reports_history():
    xtr, ytr, xte, yte = data.digits(KEY)
    k1, k2 = jax.random.split(KEY)
    params = layers.init_mlp(k1, (64, 32, 10))
    seen = []
    params, hist = layers.fit(k2, params, xtr, ytr, epochs=4, batch_size=64,
                              learning_rate=0.05, momentum=0.9, x_test=xte, y_test=yte,
                              callback=lambda e, h: seen.append(e))
    assert seen == [0, 1, 2, 3]
    assert len(hist["loss"]) == len(hist["test_accuracy"]) == 4
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["test_accuracy"][-1] > 0.85          # 4 epochs; 40 reach > 0.97 (chapter 04)
    acc = float(layers.accuracy(params, xte, yte))
    assert acc == pytest.approx(hist["test_accuracy"][-1])


def test_training_progress_updates_in_place():
    bar = widgets.TrainingProgress(3)
    assert repr(bar.bar) == "IntProgress(value=0, description='epoch', max=3)"
    bar(1, {"loss": [0.5, 0.25], "test_accuracy": [0.5, 0.75]})
    assert bar.bar.value == 2
    assert bar.status.value == "epoch 2/3: loss 0.2500, test_accuracy 0.7500"
    with pytest.raises(ValueError, match="total"):
        widgets.TrainingProgress(0)


def test_training_curves_draws_loss_and_accuracies(close_figures):
    axes = plot.training_curves({"loss": [1.0, 0.5], "train_accuracy": [0.5, 0.9],
                                 "test_accuracy": [0.4, 0.8]})
    assert len(axes[0].lines) == 1 and len(axes[1].lines) == 2
    assert axes[0].get_yscale() == "log"


# ------------------------------------------------------------------ error paths
def test_every_public_function_has_a_docstring():
    for name in layers.__all__:
        obj = getattr(layers, name)
        if callable(obj):
            assert (obj.__doc__ or "").strip(), f"layers.{name} has no docstring"


def test_errors_on_bad_input():
    params, x, y = _net(dtype=jnp.float32)
    with pytest.raises(ValueError, match=r"forward: x must have shape \(N, D_in\)"):
        layers.forward(params, x[0])
    with pytest.raises(ValueError, match="D_in = 5"):
        layers.forward(params, x[:, :4])
    with pytest.raises(TypeError, match="floating"):
        layers.forward(params, x.astype(jnp.int32))
    with pytest.raises(ValueError, match="activation must be one of"):
        layers.forward(params, x, activation="swish")
    with pytest.raises(ValueError, match="must chain"):
        layers.forward([params[0], params[2]], x)
    with pytest.raises(ValueError, match=r"w \(D_in, D_out\) and b \(D_out,\)"):
        layers.dense({"w": params[0]["w"], "b": jnp.zeros(3)}, x)
    with pytest.raises(TypeError, match="non-empty list"):
        layers.mlp([], x)
    with pytest.raises(TypeError, match="keys 'w' and 'b'"):
        layers.mlp([{"kernel": 1}], x)
    cache = layers.forward(params, x)
    with pytest.raises(ValueError, match=r"grad_output must have the shape"):
        layers.backward(params, cache, jnp.zeros((6, 2)))
    with pytest.raises(ValueError, match="Cache"):
        layers.backward(params, cache._replace(zs=cache.zs[:1]), jnp.zeros((6, 3)))
    with pytest.raises(TypeError, match="integer class ids"):
        layers.cross_entropy_and_grad(cache.activations[-1], y.astype(jnp.float32))
    with pytest.raises(ValueError, match=r"labels must have shape \(N,\) with N = 6"):
        layers.cross_entropy_and_grad(cache.activations[-1], y[:3])
    with pytest.raises(ValueError, match=r"logits must have shape \(N, K\)"):
        layers.cross_entropy_and_grad(cache.activations[-1][0], y)
    with pytest.raises(ValueError, match="targets must have the shape"):
        layers.mse_and_grad(x, x[:, :2])
    with pytest.raises(ValueError, match="loss must be one of"):
        layers.loss_and_grad(params, x, y, loss="hinge")
    with pytest.raises(ValueError, match="for loss='mse' targets"):
        layers.loss_and_grad(params, x, y, loss="mse")
    with pytest.raises(ValueError, match="labels must have shape"):
        layers.loss_and_grad(params, x, y[:2])
    with pytest.raises(ValueError, match="scheme must be one of"):
        layers.init_variance("glorot", 2, 2)
    with pytest.raises(ValueError, match="n_in must be an int >= 1"):
        layers.init_variance("he", 0, 2)
    with pytest.raises(ValueError, match="sizes must be at least two"):
        layers.init_mlp(KEY, (3,))
    with pytest.raises(ValueError, match="distribution"):
        layers.init_mlp(KEY, (3, 2), distribution="laplace")
    with pytest.raises(ValueError, match="gain"):
        layers.init_mlp(KEY, (3, 2), gain=-1.0)
    with pytest.raises(ValueError, match="epochs"):
        layers.fit(KEY, params, x, y, epochs=0, batch_size=2, learning_rate=0.1)
    with pytest.raises(ValueError, match=r"batch_size must be an int in \[1, N = 6\]"):
        layers.fit(KEY, params, x, y, epochs=1, batch_size=7, learning_rate=0.1)
    with pytest.raises(TypeError, match="non-empty list"):
        layers.log_sigmoid_jacobian_bound({"w": x})
    vel = jax.tree_util.tree_map(jnp.zeros_like, params)
    with pytest.raises(ValueError, match="train_step: labels must have shape"):
        layers.train_step(params, vel, x, y[:2], 0.1)
    with pytest.raises(ValueError, match="train_step: x must have shape"):
        layers.train_step(params, vel, x[:, :2], y, 0.1)
    with pytest.raises(TypeError, match="accuracy: labels must be integer"):
        layers.accuracy(params, x, y.astype(jnp.float32))
    with pytest.raises(ValueError, match="sgd_step: grads must be a pytree shaped like params"):
        layers.sgd_step(params, params[:2], 0.1)
    with pytest.raises(ValueError, match="sgd_step: velocity"):
        layers.sgd_step(params, params, 0.1, velocity=[{"w": jnp.zeros(2), "b": jnp.zeros(2)}] * 3)
    with pytest.raises(ValueError, match="both x_test and y_test"):
        layers.fit(KEY, params, x, y, epochs=1, batch_size=2, learning_rate=0.1, x_test=x)
    with pytest.raises(ValueError, match="fit: x must have shape"):
        layers.fit(KEY, params, x, y, epochs=1, batch_size=2, learning_rate=0.1,
                   x_test=x[:, :2], y_test=y)
    with pytest.raises(ValueError, match="training_curves: history must be a dict"):
        plot.training_curves({"accuracy": [0.5]})
    with pytest.raises(ValueError, match="one value per epoch"):
        plot.training_curves({"loss": [1.0, 0.5], "test_accuracy": [0.5]})
