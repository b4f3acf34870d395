"""Tests of dlmath.layers: the hand-written backward pass against jax.grad, jax.vjp and
float64 finite differences (dlmath.testing.verify); each documented formula of
dlmath.formulas.backprop evaluated against the code (batched row form, and the column
form of the derivation with the code's transposed kernels); the activations' derivatives
against autodiff; init_mlp's draws against jax.nn.initializers (the variance formulas are
tested with dlmath.initializers); the sigmoid Jacobian bound against the true Jacobian; training on
digits through dlmath.training.fit; dtypes; and every error path. The hand-written loss
gradients are tested in test_backprop.py."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import sympy as sp
from jax.flatten_util import ravel_pytree

from dlmath import (
    activations,
    backprop,
    data,
    initializers,
    layers,
    losses,
    metrics,
    optim,
    training,
)
from dlmath.formulas import backprop as F
from dlmath.testing import in_float64, relative_error, verify

KEY = jax.random.key(0)
SIZES = (5, 4, 3, 3)


def _net(dtype=jnp.float64, sizes=SIZES, n=6, scheme="glorot", key=KEY):
    kp, kx, ky = jax.random.split(key, 3)
    params = layers.init_mlp(kp, sizes, scheme=scheme, dtype=dtype)
    x = jax.random.normal(kx, (n, sizes[0]), dtype)
    y = jax.random.randint(ky, (n,), 0, sizes[-1])
    return params, x, y


# ------------------------------------------------------------------ backward = autodiff
@pytest.mark.parametrize("activation,loss", [("sigmoid", "cross_entropy"), ("tanh", "mse"),
                                             ("relu", "cross_entropy")])
def test_hand_backward_equals_jax_grad_and_finite_differences(activation, loss):
    def draw():
        params, x, y = _net()
        targets = y if loss == "cross_entropy" else jax.random.normal(KEY, (6, SIZES[-1]))
        return (*ravel_pytree(params), x, targets)

    theta, unravel, x, targets = in_float64(draw)
    out_act = "identity" if loss == "cross_entropy" else "sigmoid"

    def fn(th, xx):
        out = layers.mlp(unravel(th), xx, activation=activation, output_activation=out_act)
        if loss == "cross_entropy":
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(out, targets))
        return losses.mse(out, targets)

    def by_hand(th, xx):
        _, grads = backprop.loss_and_grad(unravel(th), xx, targets, loss=loss,
                                          activation=activation, output_activation=out_act)
        return ravel_pytree(grads)[0]

    report = verify(jax.jit(fn), [theta, x], name=f"backprop {activation} {loss}", grad=by_hand,
                    check_grads_order=None, rtol=1e-12)
    assert report.passed
    assert [c.reference for c in report.checks] == ["jax.grad", "finite differences"]


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_backward_is_the_vjp_of_the_forward_pass(activation):
    """Reverse mode *is* backprop: jax.vjp of params -> output, pulled back along any
    cotangent, gives what backward computes from the same grad_output."""
    params, x, cotangent = in_float64(lambda: (*_net()[:2], jax.random.normal(
        jax.random.key(3), (6, SIZES[-1]), jnp.float64)))

    def by_hand(u):
        cache = layers.forward(params, x, activation=activation)
        return ravel_pytree(layers.backward(params, cache, u, activation=activation))[0]

    def by_vjp(u):
        _, pullback = jax.vjp(lambda p: layers.mlp(p, x, activation=activation), params)
        return ravel_pytree(pullback(u)[0])[0]

    verify(by_hand, [cotangent], peer=by_vjp, peer_name="jax.vjp", rtol=1e-13)


@pytest.mark.parametrize("name", [a.name for a in activations.ACTIVATIONS])
def test_activation_derivatives_are_the_autodiff_ones(name):
    """The backward pass's sigma'(z), written from the forward value a = sigma(z), equals
    jax.grad of the forward function, at the ReLU kink z = 0 too (0, as jax.nn.relu)."""
    _, f, d = activations.activation_named("test", "activation", name)
    peer = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu,
            "identity": lambda v: v}[name]

    def values(z):
        by_autodiff = jax.vmap(jax.grad(f))(z)
        return d(z, f(z)), by_autodiff, f(z), peer(z), jax.vmap(jax.grad(peer))(z)

    z = np.arange(-60, 61, dtype=np.float64) / 10       # contains 0 exactly
    assert float(z[60]) == 0.0
    by_hand, by_autodiff, value, peer_value, peer_grad = in_float64(values, z)
    assert relative_error(by_hand, by_autodiff) < 1e-13
    assert relative_error(value, peer_value) < 1e-14
    assert relative_error(by_autodiff, peer_grad) < 1e-13


# ------------------------------------------------------------------ the formulas vs the code
def test_dense_matches_its_formula():
    def both():
        params, x, _ = _net()
        layer = params[0]
        return layers.dense(layer, x), F.DENSE.reference(x, layer["w"], layer["b"][:, None],
                                                         x.shape[0])

    got, ref = in_float64(both)
    assert relative_error(got, ref) < 1e-14


def test_backward_matches_the_batched_formulas():
    """grads of the last layer = A^T Delta and Delta^T 1; the error of the layer below =
    (Delta W^T) o sigma'(Z), with that lower error taken from jax.grad (independent)."""
    def pairs():
        params, x, y = _net()
        act = "tanh"
        cache = layers.forward(params, x, activation=act)
        _, g_out = backprop.cross_entropy_and_grad(cache.activations[-1], y)
        grads = layers.backward(params, cache, g_out, activation=act)
        delta = g_out                      # identity output: Delta^(L) = dL/da^(L)
        a_prev, w = cache.activations[-2], params[-1]["w"]

        def loss_of_lower_z(z):
            logits = jnp.tanh(z) @ w + params[-1]["b"]
            return backprop.cross_entropy_and_grad(logits, y)[0]

        lower_delta = jax.grad(loss_of_lower_z)(cache.zs[-2])
        s = 1.0 - jnp.tanh(cache.zs[-2]) ** 2
        return ((grads[-1]["w"], F.BACKWARD_GRAD_W.reference(a_prev, delta)),
                (grads[-1]["b"], F.BACKWARD_GRAD_B.reference(delta, delta.shape[0])[:, 0]),
                (lower_delta, F.BACKWARD_DELTA.reference(delta, w, s)),
                (grads[-2]["b"], jnp.sum(lower_delta, axis=0)))

    (gw, gw_ref), (gb, gb_ref), (lower, lower_ref), (gb2, gb2_ref) = in_float64(pairs)
    assert relative_error(gw, gw_ref) < 1e-14
    assert relative_error(gb, gb_ref) < 1e-14
    assert relative_error(lower, lower_ref) < 1e-13
    assert relative_error(gb2, gb2_ref) < 1e-13


def test_column_form_is_the_transpose_of_the_code():
    """The derivation's delta^(l) = (W^(l+1)T delta^(l+1)) o sigma'(z^(l)) and
    dL/dW^(l) = delta^(l) a^(l-1)T, with the math's W = the code's w transposed, give for one
    example exactly what the code's rows give."""
    def code():
        params, x, y = _net(n=1)
        cache = layers.forward(params, x, activation="sigmoid")
        _, g_out = backprop.cross_entropy_and_grad(cache.activations[-1], y)
        grads = layers.backward(params, cache, g_out, activation="sigmoid")
        return params, cache, g_out, grads

    params, cache, g_out, grads = in_float64(code)      # NumPy float64: sympy reads them
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
@pytest.mark.parametrize("scheme,peer", [
    ("he", jax.nn.initializers.he_normal()),
    ("glorot", jax.nn.initializers.glorot_normal()),
    ("lecun", jax.nn.initializers.lecun_normal()),
])
@pytest.mark.parametrize("distribution", ["normal", "uniform", "truncated_normal"])
def test_init_mlp_samples_have_the_variance_of_jax_initializers(scheme, peer, distribution):
    n_in, n_out = 400, 600          # 240000 draws: the sample variance is within ~0.3%
    (layer,) = layers.init_mlp(KEY, (n_in, n_out), scheme=scheme, distribution=distribution)
    target = initializers.variance(scheme, n_in, n_out)
    ours = float(jnp.var(layer["w"]))
    theirs = float(jnp.var(peer(jax.random.key(1), (n_in, n_out), jnp.float32)))
    assert ours == pytest.approx(target, rel=0.02)
    assert theirs == pytest.approx(target, rel=0.02)
    assert abs(float(jnp.mean(layer["w"]))) < 0.01 * target**0.5 * 10
    assert np.all(np.asarray(layer["b"]) == 0)
    if distribution == "uniform":
        assert float(jnp.max(jnp.abs(layer["w"]))) <= (3 * target) ** 0.5
    # the same draw as jax's variance scaling with the scheme's scale and mode (one
    # sub-key per layer split from the key)
    scale, mode = initializers.SCHEMES[scheme]
    (k,) = jax.random.split(KEY, 1)
    jax_init = jax.nn.initializers.variance_scaling(scale, mode, distribution)
    np.testing.assert_allclose(layer["w"], jax_init(k, (n_in, n_out), jnp.float32),
                               rtol=1e-5, atol=1e-7)


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
            params = layers.init_mlp(jax.random.key(depth), sizes, scheme="glorot",
                                     gain=gain, dtype=jnp.float64)
            log_bound = float(layers.log_sigmoid_jacobian_bound(params))
            norms = [0.0] + [float(np.linalg.svd(np.asarray(p["w"]), compute_uv=False)[0])
                             for p in params]   # s_1..s_L (index 0 unused by the formula)
            ref = float(F.LOG_SIGMOID_JACOBIAN_BOUND.reference(jnp.asarray(norms), depth))
            assert log_bound == pytest.approx(ref, rel=1e-12)
            xs = 3.0 * jax.random.normal(jax.random.key(10 + depth), (5, 6), jnp.float64)
            f = lambda v, p=params: layers.mlp(p, v[None], activation="sigmoid",
                                               output_activation="sigmoid")[0]
            jacobians = np.asarray(jax.vmap(jax.jacrev(f))(xs))
            log_norms = np.log(np.linalg.norm(jacobians, 2, axis=(1, 2)))
            assert np.all(log_norms <= log_bound + 1e-12)


# ------------------------------------------------------------------ training
def test_fit_with_the_hand_written_gradient_learns_digits():
    """The one training loop, with backprop.loss_and_grad as value_and_grad and
    dlmath.optim.sgd momentum; optax.sgd unchanged gives the same parameters."""
    xtr, ytr, xte, yte = data.digits(KEY)
    k1, k2 = jax.random.split(KEY)
    params = layers.init_mlp(k1, (64, 32, 10))
    vg = functools.partial(backprop.loss_and_grad, activation="relu")

    def loss_fn(p, x, y):
        return jnp.mean(losses.softmax_cross_entropy_with_integer_labels(layers.mlp(p, x), y))

    steps = 4 * (xtr.shape[0] // 64)
    seen = []
    evaluate = lambda p: {"test_accuracy": metrics.accuracy(layers.mlp(p, xte), yte)}  # noqa: E731
    trained, hist = training.fit(optim.sgd(0.05, 0.9), loss_fn, params, (xtr, ytr),
                                 steps=steps, batch_size=64, key=k2, value_and_grad=vg,
                                 log_every=steps // 4, evaluate=evaluate,
                                 callback=lambda s, h: seen.append(s))
    assert seen == [steps // 4 * (i + 1) for i in range(4)]
    assert float(jnp.mean(hist.loss[-10:])) < 0.5 * float(jnp.mean(hist.loss[:10]))
    assert float(hist.evaluations[-1][1]["test_accuracy"]) > 0.85
    by_optax, _ = training.fit(optax.sgd(0.05, 0.9), loss_fn, params, (xtr, ytr),
                               steps=steps, batch_size=64, key=k2, value_and_grad=vg)
    assert relative_error(ravel_pytree(by_optax)[0], ravel_pytree(trained)[0]) < 1e-5


def test_hand_written_gradient_under_fit_equals_autodiff_fit():
    """A few full-batch steps: the hand-written value_and_grad and jax.value_and_grad of
    the same loss give the same path (float64)."""
    with jax.enable_x64(True):
        params, x, y = _net(n=16)

        def loss_fn(p, xx, yy):
            return jnp.mean(losses.softmax_cross_entropy_with_integer_labels(
                layers.mlp(p, xx, activation="tanh"), yy))

        vg = functools.partial(backprop.loss_and_grad, activation="tanh")
        a, ha = training.fit(optim.sgd(0.3), loss_fn, params, (x, y), steps=5,
                             value_and_grad=vg)
        b, hb = training.fit(optim.sgd(0.3), loss_fn, params, (x, y), steps=5)
        assert relative_error(ravel_pytree(a)[0], ravel_pytree(b)[0]) < 1e-12
        assert relative_error(ha.loss, hb.loss) < 1e-12


def test_mixed_float_dtypes_follow_the_parameters():
    params16 = layers.init_mlp(KEY, (5, 4, 3), dtype=jnp.float16)
    x32 = jnp.ones((6, 5), jnp.float32)
    assert layers.mlp(params16, x32).dtype == jnp.float16
    cache = layers.forward(params16, x32)
    grads = layers.backward(params16, cache, jnp.ones((6, 3), jnp.float32))
    assert {g.dtype for g in jax.tree_util.tree_leaves(grads)} == {jnp.dtype(jnp.float16)}
    y = jnp.array([0, 1, 2, 0, 1, 2], jnp.uint8)
    value, grads = backprop.loss_and_grad(params16, x32, y)
    assert {g.dtype for g in jax.tree_util.tree_leaves(grads)} == {jnp.dtype(jnp.float16)}
    vg = functools.partial(backprop.loss_and_grad, activation="relu")
    trained, hist = training.fit(optim.sgd(0.1, 0.9), lambda p, a, b: vg(p, a, b)[0],
                                 params16, (x32, y), steps=3, value_and_grad=vg)
    assert trained[0]["w"].dtype == jnp.float16 and np.all(np.isfinite(hist.loss))


def test_sigmoid_jacobian_bound_in_float16_is_reduced_in_float32():
    p16 = layers.init_mlp(KEY, (6, 6, 6), dtype=jnp.float16)
    p32 = [{k: v.astype(jnp.float32) for k, v in layer.items()} for layer in p16]
    b16 = layers.log_sigmoid_jacobian_bound(p16)
    assert b16.dtype == jnp.float16
    assert float(b16) == pytest.approx(float(layers.log_sigmoid_jacobian_bound(p32)), abs=1e-2)


def test_init_mlp_takes_a_traced_gain():
    f = jax.jit(lambda g: layers.init_mlp(KEY, (3, 4), gain=g)[0]["w"])
    assert np.allclose(np.asarray(f(2.0)), 2 * np.asarray(layers.init_mlp(KEY, (3, 4))[0]["w"]),
                       rtol=1e-6)


def test_a_custom_activation_is_passed_by_value():
    """An Activation value (not a registry entry) drives forward and backward; two
    different values compile separately, so neither returns the other's result."""
    with jax.enable_x64(True):
        params, x, _ = _net()
        softplus = activations.Activation("softplus", jax.nn.softplus,
                                          lambda z, a: jax.nn.sigmoid(z))
        out, pullback = jax.vjp(lambda p: layers.mlp(p, x, activation=softplus), params)
        u = jnp.ones_like(out)
        by_hand = layers.backward(params, layers.forward(params, x, activation=softplus), u,
                                  activation=softplus)
        assert relative_error(ravel_pytree(by_hand)[0], ravel_pytree(pullback(u)[0])[0]) < 1e-13
        double = activations.Activation("double", lambda z: 2 * z,
                                        lambda z, a: 2 * jnp.ones_like(z))
        a1 = layers.mlp(params, x, activation=double)
        a2 = layers.mlp(params, x, activation=activations.IDENTITY)
        assert not np.allclose(np.asarray(a1), np.asarray(a2))


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
    with pytest.raises(TypeError, match="forward: x must be a floating"):
        layers.forward(params, x.astype(jnp.int32))
    with pytest.raises(TypeError, match="forward: x must be a floating.*Complex"):
        layers.forward(params, x.astype(jnp.complex64))
    with pytest.raises(ValueError, match="activation must be one of"):
        layers.forward(params, x, activation="swish")
    with pytest.raises(TypeError, match="activation must be an activation name"):
        layers.forward(params, x, activation=jnp.tanh)
    with pytest.raises(TypeError, match=r"activation.derivative must be a function"):
        layers.forward(params, x, activation=activations.Activation("bad", jnp.tanh, 1.0))
    with pytest.raises(ValueError, match="must chain"):
        layers.forward([params[0], params[2]], x)
    with pytest.raises(ValueError, match=r"w \(D_in, D_out\) and b \(D_out,\)"):
        layers.dense({"w": params[0]["w"], "b": jnp.zeros(3)}, x)
    with pytest.raises(TypeError, match="non-empty list"):
        layers.mlp([], x)
    with pytest.raises(TypeError, match=r"mlp: params\[0\] must be a dense layer "
                                        r"\{'w': \(D_in, D_out\), 'b': \(D_out,\)\}; got a dict"):
        layers.mlp([{"kernel": 1}], x)
    with pytest.raises(TypeError, match=r"dense: params must be a dense layer"):
        layers.dense(params, x)
    for bad in (jnp.complex64, jnp.int32):
        weird = [{"w": p["w"].astype(bad), "b": p["b"].astype(bad)} for p in params]
        with pytest.raises(TypeError, match="mlp: every leaf of params must be a float"):
            layers.mlp(weird, x)
    mixed = [dict(params[0], w=params[0]["w"].astype(jnp.float16))] + params[1:]
    with pytest.raises(TypeError, match="forward: every leaf of params must have one float"):
        layers.forward(mixed, x)
    cache = layers.forward(params, x)
    with pytest.raises(ValueError, match=r"grad_output must have the shape"):
        layers.backward(params, cache, jnp.zeros((6, 2)))
    with pytest.raises(TypeError, match=r"backward: grad_output must be a floating"):
        layers.backward(params, cache, jnp.zeros((6, 3), jnp.complex64))
    with pytest.raises(ValueError, match="Cache"):
        layers.backward(params, cache._replace(zs=cache.zs[:1]), jnp.zeros((6, 3)))
    with pytest.raises(ValueError, match="sizes must be at least two"):
        layers.init_mlp(KEY, (3,))
    with pytest.raises(ValueError, match=r"init_mlp: sizes\[1\] must be an int >= 1"):
        layers.init_mlp(KEY, (3, 0))
    with pytest.raises(ValueError, match="distribution"):
        layers.init_mlp(KEY, (3, 2), distribution="laplace")
    with pytest.raises(ValueError, match=r"init_mlp: scheme must be one of \['lecun', 'he', "
                                         r"'glorot'\]; got 'xavier'"):
        layers.init_mlp(KEY, (3, 2), scheme="xavier")
    with pytest.raises(TypeError, match="init_mlp: key must be a jax.random key"):
        layers.init_mlp(None, (3, 2))
    with pytest.raises(ValueError, match="init_mlp: gain must be a finite number"):
        layers.init_mlp(KEY, (3, 2), gain=-1.0)
    with pytest.raises(ValueError, match="init_mlp: gain"):
        layers.init_mlp(KEY, (3, 2), gain=float("nan"))
    with pytest.raises(TypeError, match="init_mlp: gain must be a real number"):
        layers.init_mlp(KEY, (3, 2), gain=1j)
    for dtype in (jnp.int32, jnp.complex64, "nope"):
        with pytest.raises(TypeError, match="init_mlp: dtype must be a floating dtype"):
            layers.init_mlp(KEY, (3, 2), dtype=dtype)
    with pytest.raises(ValueError, match="mlp: output_activation must be one of"):
        layers.mlp(params, x, output_activation="softmax")
    with pytest.raises(TypeError, match="non-empty list"):
        layers.log_sigmoid_jacobian_bound({"w": x})
