"""Tests of dlmath.activations: values and gradients against jax.nn (the peer) and against
the lambdified formulas of dlmath.formulas.activations (the derivation), stability at
x = +-1e4 in float32 and float16, the derivative convention at ReLU's kink, and every
error path."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import activations as act
from dlmath.formulas import activations as F
from dlmath.testing import in_float64, verify

KEY = jax.random.key(0)

# name -> (dlmath function, jax.nn function); extra arguments bound where needed.
PAIRS = {
    "sigmoid": (act.sigmoid, jax.nn.sigmoid),
    "tanh": (act.tanh, jax.nn.tanh),
    "relu": (act.relu, jax.nn.relu),
    "leaky_relu": (act.leaky_relu, jax.nn.leaky_relu),
    "leaky_relu_0.2": (lambda x: act.leaky_relu(x, negative_slope=0.2),
                       lambda x: jax.nn.leaky_relu(x, negative_slope=0.2)),
    "softplus": (act.softplus, jax.nn.softplus),
    "gelu": (act.gelu, jax.nn.gelu),
    "gelu_exact": (lambda x: act.gelu(x, approximate=False),
                   lambda x: jax.nn.gelu(x, approximate=False)),
    "silu": (act.silu, jax.nn.silu),
}
SMOOTH = ["sigmoid", "tanh", "softplus", "gelu", "gelu_exact", "silu"]

# name -> (function of x, value formula, derivative formula or None), formulas bound to alpha.
_a = 0.2
FORMULAS = {
    "sigmoid": (act.sigmoid, F.SIGMOID.reference, F.SIGMOID_DERIVATIVE.reference),
    "tanh": (act.tanh, F.TANH.reference, F.TANH_DERIVATIVE.reference),
    "relu": (act.relu, F.RELU.reference, F.RELU_DERIVATIVE.reference),
    "leaky_relu": (lambda x: act.leaky_relu(x, _a),
                   lambda x: F.LEAKY_RELU.reference(x, _a),
                   lambda x: F.LEAKY_RELU_DERIVATIVE.reference(x, _a)),
    "softplus": (act.softplus, F.SOFTPLUS.reference, F.SOFTPLUS_DERIVATIVE.reference),
    "gelu_exact": (lambda x: act.gelu(x, approximate=False), F.GELU.reference,
                   F.GELU_DERIVATIVE.reference),
    "gelu": (act.gelu, F.GELU_TANH.reference, None),
    "silu": (act.silu, F.SILU.reference, None),
}


def _inputs(dtype, n=512, scale=4.0, key=KEY):
    return (scale * jax.random.normal(key, (4, n // 4))).astype(dtype)


def _elementwise_grad(f, x):
    return jax.jit(jax.vmap(jax.grad(f)))(x.ravel()).reshape(x.shape)


# ---- every public activation has a registered formula ---------------------------------------

TABLE = ("Activation", "SIGMOID", "TANH", "RELU", "IDENTITY", "ACTIVATIONS", "activation_named")


def test_every_public_activation_is_documented():
    for name in act.__all__:
        if name not in TABLE:  # the table of the backward pass quotes no formula
            assert f"activations.{name}" in F.DOCUMENTED, name


# ---- values and gradients against jax.nn ----------------------------------------------------

@pytest.mark.parametrize("name", PAIRS)
def test_values_match_jax_nn_float32(name):
    ours, peer = PAIRS[name]
    x = _inputs(jnp.float32)
    y = ours(x)
    assert y.shape == x.shape and y.dtype == jnp.float32
    np.testing.assert_allclose(y, peer(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", PAIRS)
def test_values_and_gradients_match_jax_nn_float64(name):
    ours, peer = PAIRS[name]
    x = in_float64(lambda: _inputs(jnp.float64))
    x = np.where(np.abs(x) < 1e-3, 0.5, x)  # off the kink of relu / leaky_relu
    verify(ours, [x], peer=peer, peer_name="jax.nn", rtol=1e-14)
    verify(lambda x: _elementwise_grad(ours, x), [x], peer=lambda x: _elementwise_grad(peer, x),
           peer_name="jax.nn", rtol=1e-13)


@pytest.mark.parametrize("name", SMOOTH)
def test_first_and_second_derivatives_match_finite_differences(name):
    # the sum of an elementwise function has the derivatives as its gradient: jax.grad against
    # float64 central differences, forward mode (jvp) against reverse, check_grads to order 2
    ours, _ = PAIRS[name]
    x = in_float64(lambda: _inputs(jnp.float64, n=64, scale=3.0).ravel())
    d1 = jax.jit(jax.vmap(jax.grad(ours)))
    d1_fwd = jax.jit(jax.vmap(lambda x: jax.jvp(ours, (x,), (1.0,))[1]))
    verify(lambda x: jnp.sum(ours(x)), [x], grad=d1_fwd, rtol=1e-15, fd_rtol=1e-8,
           check_grads_order=None)
    verify(lambda x: jnp.sum(d1(x)), [x], fd_rtol=5e-8, check_grads_order=None)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "leaky_relu_0.2"])
def test_piecewise_linear_derivatives_off_the_kink(name):
    ours, _ = PAIRS[name]
    slope = {"relu": 0.0, "leaky_relu": 0.01, "leaky_relu_0.2": 0.2}[name]
    x = np.array([-7.5, -1.0, -1e-3, 1e-3, 0.25, 3.0])
    verify(lambda x: jnp.sum(ours(x)), [x], fd_rtol=1e-8)
    np.testing.assert_array_equal(in_float64(_elementwise_grad, ours, x),
                                  np.where(x > 0, 1.0, slope))


# ---- the derivative at the kink: the conventions of jax.nn ---------------------------------

def test_relu_gradient_at_zero_is_zero_like_jax_nn():
    g_ours = jax.grad(act.relu)(0.0)
    assert float(g_ours) == 0.0
    assert float(g_ours) == float(jax.grad(jax.nn.relu)(0.0))
    # and 0 is also what the registered derivative formula says at the kink
    assert float(F.RELU_DERIVATIVE.reference(0.0)) == 0.0


def test_leaky_relu_gradient_at_zero_is_one_like_jax_nn():
    assert float(jax.grad(act.leaky_relu)(0.0)) == 1.0
    assert float(jax.grad(jax.nn.leaky_relu)(0.0)) == 1.0
    assert float(F.LEAKY_RELU_DERIVATIVE.reference(0.0, 0.3)) == 1.0


def test_sigmoid_gradient_at_zero_is_a_quarter():
    # the stable form branches at 0; its gradient there must still be sigma(0)(1 - sigma(0))
    for dtype in (jnp.float16, jnp.float32):
        assert float(jax.grad(act.sigmoid)(jnp.zeros((), dtype))) == 0.25
    assert float(jax.grad(act.softplus)(0.0)) == 0.5
    assert float(jax.grad(act.silu)(0.0)) == 0.5


# ---- against the lambdified formulas (the derivation) ---------------------------------------

@pytest.mark.parametrize("name", FORMULAS)
def test_values_and_derivatives_match_the_formula(name):
    fn, value_ref, grad_ref = FORMULAS[name]
    # |x| <= 12 keeps the naive exponential forms of the formulas finite
    x = np.clip(in_float64(lambda: _inputs(jnp.float64, n=256, key=jax.random.key(3))), -12, 12)
    x = np.where(np.abs(x) < 1e-3, -0.5, x)
    x = np.concatenate([x.ravel(), [0.0, -1.0, 1.0]])
    verify(fn, [x], reference=jax.jit(value_ref), rtol=1e-14)
    if grad_ref is not None:
        verify(lambda x: _elementwise_grad(fn, x), [x], reference=jax.jit(grad_ref), rtol=1e-13)


def test_identities_the_docstrings_state():
    # sigma' = sigma (1 - sigma) <= 1/4 with the maximum at 0; tanh(x) = 2 sigma(2x) - 1 and
    # tanh' = 4 sigma'(2x) (proven in notebooks/02_activations.ipynb), here on dlmath's code
    x = np.arange(-1200, 1201) / 100.0  # holds 0.0 exactly
    # 1 - s loses digits where s is near 1: an absolute error of a few ulp of 1
    verify(lambda x: _elementwise_grad(act.sigmoid, x), [x],
           reference=lambda x: act.sigmoid(x) * (1 - act.sigmoid(x)), rtol=1e-15)
    d_sigmoid = in_float64(_elementwise_grad, act.sigmoid, x)
    assert float(np.max(d_sigmoid)) == 0.25 and float(x[np.argmax(d_sigmoid)]) == 0.0
    assert bool(np.all(d_sigmoid[x != 0] < 0.25))
    verify(act.tanh, [x], reference=lambda x: 2 * act.sigmoid(2 * x) - 1, rtol=1e-15)
    # jax.grad of tanh is 1 - tanh^2: in the tails an absolute error of several ulp of 1
    # (tanh's own rounding, doubled by the square); 1e-14 is about 45 ulp of 1
    verify(lambda x: _elementwise_grad(act.tanh, x), [x],
           reference=lambda x: 4 * _elementwise_grad(act.sigmoid, 2 * x), rtol=1e-14)


def test_silu_is_x_times_sigmoid_and_softplus_derivative_is_sigmoid():
    x = in_float64(lambda: _inputs(jnp.float64))
    verify(act.silu, [x], reference=lambda x: x * F.SIGMOID.reference(x), rtol=1e-15)
    verify(lambda x: _elementwise_grad(act.softplus, x), [x], reference=act.sigmoid,
           rtol=1e-15)


# ---- stability at +-1e4 --------------------------------------------------------------------

# name -> (value at -1e4, value at +1e4, derivative at -1e4, derivative at +1e4): the limits.
LIMITS = {
    "sigmoid": (0.0, 1.0, 0.0, 0.0),
    "tanh": (-1.0, 1.0, 0.0, 0.0),
    "relu": (0.0, 1e4, 0.0, 1.0),
    "leaky_relu": (-100.0, 1e4, 0.01, 1.0),
    "softplus": (0.0, 1e4, 0.0, 1.0),
    "gelu": (0.0, 1e4, 0.0, 1.0),
    "gelu_exact": (0.0, 1e4, 0.0, 1.0),
    "silu": (0.0, 1e4, 0.0, 1.0),
}


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16], ids=["float32", "float16"])
@pytest.mark.parametrize("name", LIMITS)
def test_finite_and_correct_at_plus_minus_1e4(name, dtype):
    fn = PAIRS[name][0]
    x = jnp.array([-1e4, 1e4], dtype)
    y = fn(x)
    g = _elementwise_grad(fn, x)
    assert y.dtype == dtype and g.dtype == dtype
    assert bool(jnp.all(jnp.isfinite(y))) and bool(jnp.all(jnp.isfinite(g))), (y, g)
    lo, hi, glo, ghi = LIMITS[name]
    np.testing.assert_allclose(np.asarray(y, np.float64), [lo, hi], rtol=1e-3)
    np.testing.assert_allclose(np.asarray(g, np.float64), [glo, ghi], rtol=1e-3)


@pytest.mark.parametrize("name", PAIRS)
def test_nan_and_inf_values_as_jax_nn(name):
    # a NaN must stay NaN (a diverged run must not be hidden), +-inf map to the limits
    ours, peer = PAIRS[name]
    x = jnp.array([jnp.nan, jnp.inf, -jnp.inf, 0.0, -0.0, 1.0], jnp.float32)
    y = np.asarray(ours(x))
    np.testing.assert_array_equal(y, np.asarray(peer(x)))  # NaN == NaN for this assertion
    assert np.isnan(y[0])


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32])
@pytest.mark.parametrize("name", PAIRS)
def test_dtype_and_shape_are_kept(name, dtype):
    x = jnp.linspace(-3, 3, 12, dtype=dtype).reshape(2, 3, 2)
    y = PAIRS[name][0](x)
    assert y.dtype == dtype and y.shape == x.shape


# ---- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "gelu",
                                  "silu", "softmax", "log_softmax"])
@pytest.mark.parametrize("bad", [jnp.arange(3), np.array([True, False]), 2],
                         ids=["int32", "bool", "python_int"])
def test_non_floating_input_is_a_type_error(name, bad):
    with pytest.raises(TypeError, match=rf"^{name}: x must be a floating-point array"):
        getattr(act, name)(bad)


def test_gelu_approximate_must_be_a_bool():
    with pytest.raises(TypeError, match="gelu: approximate must be a Python bool"):
        act.gelu(jnp.ones(3), approximate="tanh")


def test_activations_work_under_jit_and_vmap():
    x = _inputs(jnp.float32)
    for name, (ours, peer) in PAIRS.items():
        np.testing.assert_allclose(jax.jit(ours)(x), peer(x), rtol=1e-6, atol=1e-6,
                                   err_msg=name)
        np.testing.assert_allclose(jax.vmap(ours)(x), peer(x), rtol=1e-6, atol=1e-6,
                                   err_msg=name)


# ---- softmax and log_softmax ---------------------------------------------------------------

@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax_match_jax_nn(axis):
    x = 3 * jax.random.normal(KEY, (4, 5, 6))
    np.testing.assert_allclose(act.softmax(x, axis), jax.nn.softmax(x, axis), rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(act.log_softmax(x, axis), jax.nn.log_softmax(x, axis),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(jnp.sum(act.softmax(x, axis), axis=axis), 1.0, rtol=1e-6)
    np.testing.assert_allclose(jnp.sum(jnp.exp(act.log_softmax(x, axis)), axis=axis), 1.0,
                               rtol=1e-6)
    assert bool(jnp.all(act.softmax(x, axis) > 0)) and bool(jnp.all(act.log_softmax(x) <= 0))


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_gradients_match_jax_nn_float64(fn):
    ours, peer = getattr(act, fn), getattr(jax.nn, fn)
    x, w = in_float64(lambda: (2 * jax.random.normal(KEY, (3, 7), jnp.float64),
                               jax.random.normal(jax.random.key(1), (3, 7), jnp.float64)))
    for axis in (0, -1):
        # the loss and jax.grad against jax.nn's, jax.grad against float64 central differences
        peer_loss = jax.jit(lambda x, a=axis: jnp.sum(w * peer(x, axis=a)))
        verify(jax.jit(lambda x, a=axis: jnp.sum(w * ours(x, a))), [x], peer=peer_loss,
               peer_name="jax.nn", grad=jax.grad(peer_loss), rtol=1e-14, fd_rtol=1e-7,
               check_grads_order=None)


def test_softmax_matches_its_formula():
    x = in_float64(lambda: 2 * jax.random.normal(KEY, (6,), jnp.float64))
    verify(act.softmax, [x], rtol=1e-15,
           reference=lambda x: jnp.array([F.SOFTMAX.reference(x, k, 6) for k in range(6)]))
    verify(act.log_softmax, [x], rtol=1e-15,
           reference=lambda x: jnp.array([F.LOG_SOFTMAX.reference(x, k, 6) for k in range(6)]))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16], ids=["float32", "float16"])
def test_softmax_finite_at_plus_minus_1e4(dtype):
    x = jnp.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype)
    p, lp = act.softmax(x), act.log_softmax(x)
    assert p.dtype == dtype and lp.dtype == dtype
    np.testing.assert_allclose(np.asarray(p, np.float64), [[1, 0, 0], [1 / 3] * 3], rtol=1e-3)
    np.testing.assert_allclose(np.asarray(lp, np.float64),
                               [[0, -2e4, -1e4], [-np.log(3)] * 3], rtol=1e-3)
    w = jnp.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype)
    for fn in (act.softmax, act.log_softmax):
        g = jax.grad(lambda x, fn=fn: jnp.sum(w * fn(x)))(x)
        assert bool(jnp.all(jnp.isfinite(g))), (fn.__name__, g)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [2, -3, 1.0, None])
def test_softmax_axis_errors(fn, axis):
    with pytest.raises(ValueError, match=rf"^{fn}: axis must be an int in \[-2, 2\)"):
        getattr(act, fn)(jnp.ones((2, 3)), axis)


# ---- bad input: the rules of dlmath._checks (issue 9) ---------------------------------------

ELEMENTWISE = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "gelu", "silu"]


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [jnp.complex64, jnp.int8, jnp.uint8, jnp.int32],
                         ids=["complex64", "int8", "uint8", "int32"])
def test_complex_and_integer_inputs_are_a_clear_type_error(name, dtype):
    x = jnp.ones((2, 3), dtype)
    hint = "Complex numbers are not supported" if dtype == jnp.complex64 else "Convert it"
    with pytest.raises(TypeError, match=rf"^{name}: x must be a floating-point array .*got "
                                         rf"dtype {jnp.dtype(dtype).name}\..*{hint}"):
        getattr(act, name)(x)


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
@pytest.mark.parametrize("bad", ["abc", [1.0, 2.0], None], ids=["str", "list", "None"])
def test_non_arrays_are_refused_before_jit_with_the_function_name(name, bad):
    # the check runs outside jit: the message is dlmath's, not JAX's "abstract array" one
    with pytest.raises(TypeError, match=rf"^{name}: x must be an array \(jax or numpy\); got "):
        getattr(act, name)(bad)


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4)])
def test_elementwise_activations_pass_empty_arrays_through(name, shape):
    # no reduction, so nothing is undefined: an empty input gives an empty output (as jax.nn)
    x = jnp.ones(shape, jnp.float32)
    y = getattr(act, name)(x)
    assert y.shape == shape and y.dtype == jnp.float32


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_over_no_classes_raises_where_jax_nn_returns_an_empty_array(fn):
    """The one deliberate difference from jax.nn on this edge case: a softmax over K = 0
    classes is a reduction over an empty axis, which dlmath refuses (dlmath._checks: an
    empty reduced axis raises, naming the axis); jax.nn returns an empty array."""
    x = jnp.ones((3, 0), jnp.float32)
    assert getattr(jax.nn, fn)(x).shape == (3, 0)  # the peer's behaviour, pinned
    with pytest.raises(ValueError, match=rf"^{fn}: x \(\*B, K\) with K along axis -1 has no "
                                         r"classes \(shape \(3, 0\)\)"):
        getattr(act, fn)(x)
    with pytest.raises(ValueError, match=rf"^{fn}: x \(\*B, K\) with K along axis 0 has no "
                                         r"classes \(shape \(0, 5\)\)"):
        getattr(act, fn)(jnp.ones((0, 5)), axis=0)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_over_an_empty_batch_passes_through_like_jax_nn(fn):
    # where dlmath matches jax.nn: an empty batch axis, not reduced, gives an empty result
    x = jnp.ones((0, 4), jnp.float32)
    ours, peer = getattr(act, fn)(x), getattr(jax.nn, fn)(x)
    assert ours.shape == peer.shape == (0, 4) and ours.dtype == peer.dtype


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_axis_must_not_be_a_bool(fn):
    with pytest.raises(ValueError, match=rf"^{fn}: axis must be an int in \[-2, 2\).*got True"):
        getattr(act, fn)(jnp.ones((2, 3)), True)


def test_softmax_accepts_a_numpy_integer_axis():
    x = jax.random.normal(KEY, (2, 3))
    np.testing.assert_allclose(act.softmax(x, np.int64(0)), jax.nn.softmax(x, axis=0),
                               rtol=1e-6)


@pytest.mark.parametrize("slope, error, message", [
    (1j, TypeError, r"negative_slope must hold real numbers .*got dtype complex"),
    (True, TypeError, r"negative_slope must hold real numbers .*got dtype bool"),
    (float("nan"), ValueError, r"negative_slope must be a finite number .*got nan"),
    (float("inf"), ValueError, r"negative_slope must be a finite number .*got inf"),
    ("0.1", TypeError, r"negative_slope must be an array"),
])
def test_leaky_relu_negative_slope_is_a_finite_real(slope, error, message):
    with pytest.raises(error, match=rf"^leaky_relu: {message}"):
        act.leaky_relu(jnp.ones(3), slope)


def test_leaky_relu_takes_an_array_slope_and_a_traced_one():
    x = jnp.array([-2.0, 3.0])
    np.testing.assert_allclose(act.leaky_relu(x, jnp.array([0.5, 0.5])), [-1.0, 3.0])
    np.testing.assert_allclose(jax.jit(act.leaky_relu)(x, 0.25), [-0.5, 3.0])
    # mixed dtypes: the result keeps the dtype of x (a function without parameters, whose
    # slope is a coefficient, not data)
    assert act.leaky_relu(x.astype(jnp.float16), jnp.float32(0.1)).dtype == jnp.float16


def test_activations_can_be_traced_as_a_whole():
    # the check runs on tracers too (dtypes are static), so outer jit / grad / vmap work
    x = jnp.linspace(-2, 2, 5)
    for name in ELEMENTWISE:
        f = getattr(act, name)
        np.testing.assert_allclose(jax.jit(f)(x), f(x), rtol=1e-6, err_msg=name)
    g = jax.jit(jax.grad(lambda v: jnp.sum(act.softmax(v) * jnp.arange(5.0))))(x)
    assert g.shape == (5,) and bool(jnp.all(jnp.isfinite(g)))


def test_leaky_relu_slope_that_does_not_broadcast_is_named():
    import re

    from dlmath import activations

    with pytest.raises(ValueError, match=re.escape(
            "leaky_relu: negative_slope must be a scalar or broadcastable to x (*S,); got "
            "negative_slope (3,), x (2, 4)")):
        activations.leaky_relu(jnp.ones((2, 4)), jnp.full(3, 0.1))
    out = activations.leaky_relu(-jnp.ones((2, 4)), jnp.full(4, 0.1))
    assert out.shape == (2, 4)


# ---- jax.nn's where ------------------------------------------------------------------------

@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_where_matches_jax_nn_values_and_gradients(fn, axis):
    ours, peer = getattr(act, fn), getattr(jax.nn, fn)
    x, weights = in_float64(lambda: (jax.random.normal(KEY, (4, 5), jnp.float64),
                                     jax.random.normal(jax.random.key(2), (4, 5), jnp.float64)))
    w = in_float64(lambda: jax.random.uniform(jax.random.key(1), (4, 5))) > 0.4
    w[:, 0] = w[0, :] = True
    w[2, :] = False                                   # a row with no entry left ...
    w[:, 3] = False                                   # ... and a column with none
    cols = np.array([True, False, True, True, True])

    def loss(f):
        # masked log-probabilities are -inf: their weight must not reach the sum
        return lambda v, weights: jnp.sum(jnp.where(w, weights * f(v, axis, where=w), 0.0))

    def compare(x, weights):
        # masked log-probabilities are -inf, which verify's relative error does not take:
        # the values and gradients are computed in float64 here and compared below
        return (ours(x, axis, where=w), peer(x, axis=axis, where=w),
                jax.grad(loss(ours))(x, weights),
                jax.grad(loss(lambda v, a, where: peer(v, axis=a, where=where)))(x, weights),
                # a mask that broadcasts (one flag per class), and the all-True mask is no mask
                ours(x, -1, where=cols), peer(x, where=cols),
                ours(x, axis, where=np.ones((4, 5), bool)), ours(x, axis))

    got, want, g, g_peer, got_cols, want_cols, all_true, no_mask = in_float64(
        compare, x, weights)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, g_peer, rtol=1e-12, atol=1e-15)
    assert np.all(g[~w] == 0)
    np.testing.assert_allclose(got_cols, want_cols, rtol=1e-13)
    np.testing.assert_allclose(all_true, no_mask, rtol=1e-13)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_where_is_checked(fn):
    with pytest.raises(TypeError, match=rf"^{fn}: where must be a bool array"):
        getattr(act, fn)(jnp.ones((2, 3)), where=jnp.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"^{fn}: where must broadcast to x \(\*B, K\) = "
                                         r"\(2, 3\); got \(2,\)\.$"):
        getattr(act, fn)(jnp.ones((2, 3)), where=jnp.ones((2,), bool))


def test_softmax_with_where_under_jit_and_grad():
    x = jnp.linspace(-2.0, 2.0, 6).reshape(2, 3)
    w = jnp.array([[True, False, True], [False, False, False]])
    np.testing.assert_allclose(jax.jit(act.softmax)(x, where=w), jax.nn.softmax(x, where=w),
                               rtol=1e-6)
    g = jax.jit(jax.grad(lambda v: jnp.sum(act.softmax(v, where=w) * jnp.arange(3.0))))(x)
    assert bool(jnp.all(jnp.isfinite(g))) and bool(jnp.all(g[1] == 0))


# ---- the table of the backward pass ---------------------------------------------------------

@pytest.mark.parametrize("activation", act.ACTIVATIONS, ids=lambda a: a.name)
def test_each_derivative_is_the_gradient_of_its_forward_rule(activation):
    z = np.linspace(-3.0, 3.0, 13) + 0.1  # off relu's kink
    derivative = lambda z: activation.derivative(z, activation.fn(z))  # noqa: E731
    # the hand-written derivative of the sum is the gradient: against jax.grad and differences
    verify(lambda z: jnp.sum(activation.fn(z)), [z], grad=derivative, rtol=1e-15, fd_rtol=1e-8,
           check_grads_order=None)
    assert in_float64(derivative, z).dtype == np.float64
    assert act.activation_named("f", "activation", activation.name) is activation


def test_relu_derivative_at_the_kink_is_jax_nns():
    z = jnp.zeros(3)
    np.testing.assert_array_equal(act.RELU.derivative(z, act.relu(z)),
                                  jax.vmap(jax.grad(jax.nn.relu))(z))


def test_activation_named_resolves_names_and_checks_its_argument():
    own = act.Activation("double", lambda z: 2 * z, lambda z, a: 2 * jnp.ones_like(z))
    assert act.activation_named("f", "activation", own) is own
    assert act.activation_named("f", "activation", "tanh") is act.TANH
    with pytest.raises(ValueError, match=r"^f: activation must be one of \['sigmoid', 'tanh', "
                                         r"'relu', 'identity'\] or an Activation; got 'swish'"):
        act.activation_named("f", "activation", "swish")
    with pytest.raises(TypeError, match=r"^f: out must be an activation name or an "
                                        r"activations.Activation"):
        act.activation_named("f", "out", 3)
    with pytest.raises(TypeError, match=r"^f: activation.derivative must be a function"):
        act.activation_named("f", "activation", act.Activation("bad", jnp.tanh, 1.0))
