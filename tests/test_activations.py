"""Tests of dlmath.activations: values and gradients against jax.nn (the peer) and against
the lambdified formulas of dlmath.formulas.activations (the derivation), stability at
x = +-1e4 in float32 and float16, the derivative convention at ReLU's kink, and every
error path."""

from __future__ import annotations

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import activations as act
from dlmath.formulas import activations as F
from dlmath.symbolic import docstring_math

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


# ---- the docstrings quote the registered formulas -------------------------------------------

@pytest.mark.parametrize("qualname", [k for k in F.DOCUMENTED])
def test_docstring_math_is_the_registered_formula(qualname):
    module, name = qualname.split(".")
    fn = getattr(importlib.import_module(f"dlmath.{module}"), name)
    assert docstring_math(fn) == [f.latex for f in F.DOCUMENTED[qualname]]


def test_every_public_activation_is_documented():
    for name in act.__all__:
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
    with jax.enable_x64(True):
        x = _inputs(jnp.float64)
        x = jnp.where(jnp.abs(x) < 1e-3, 0.5, x)  # off the kink of relu / leaky_relu
        np.testing.assert_allclose(ours(x), peer(x), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(_elementwise_grad(ours, x), _elementwise_grad(peer, x),
                                   rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", SMOOTH)
def test_first_and_second_derivatives_match_finite_differences(name):
    # float64 central differences, step h: truncation O(h^2) ~ 1e-10, rounding O(u/h) ~ 1e-11
    ours, _ = PAIRS[name]
    h = 1e-5
    with jax.enable_x64(True):
        x = _inputs(jnp.float64, n=64, scale=3.0).ravel()
        d1 = jax.jit(jax.vmap(jax.grad(ours)))
        d1_fwd = jax.jit(jax.vmap(lambda x: jax.jvp(ours, (x,), (1.0,))[1]))
        d2 = jax.jit(jax.vmap(jax.grad(jax.grad(ours))))
        f = jax.jit(ours)
        np.testing.assert_allclose(d1(x), (f(x + h) - f(x - h)) / (2 * h), rtol=1e-7,
                                   atol=1e-8)
        np.testing.assert_allclose(d1_fwd(x), d1(x), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(d2(x), (d1(x + h) - d1(x - h)) / (2 * h), rtol=1e-7,
                                   atol=1e-8)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "leaky_relu_0.2"])
def test_piecewise_linear_derivatives_off_the_kink(name):
    ours, _ = PAIRS[name]
    slope = {"relu": 0.0, "leaky_relu": 0.01, "leaky_relu_0.2": 0.2}[name]
    with jax.enable_x64(True):
        x = jnp.array([-7.5, -1.0, -1e-3, 1e-3, 0.25, 3.0])
        h = 1e-6
        np.testing.assert_allclose(_elementwise_grad(ours, x),
                                   (ours(x + h) - ours(x - h)) / (2 * h), rtol=1e-8)
        np.testing.assert_array_equal(_elementwise_grad(ours, x),
                                      np.where(np.asarray(x) > 0, 1.0, slope))


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
    with jax.enable_x64(True):
        # |x| <= 12 keeps the naive exponential forms of the formulas finite
        x = jnp.clip(_inputs(jnp.float64, n=256, key=jax.random.key(3)), -12, 12)
        x = jnp.where(jnp.abs(x) < 1e-3, -0.5, x)
        x = jnp.concatenate([x.ravel(), jnp.array([0.0, -1.0, 1.0])])
        np.testing.assert_allclose(fn(x), jax.jit(value_ref)(x), rtol=1e-12, atol=1e-14)
        if grad_ref is not None:
            np.testing.assert_allclose(_elementwise_grad(fn, x), jax.jit(grad_ref)(x),
                                       rtol=1e-12, atol=1e-13)


def test_identities_the_docstrings_state():
    # sigma' = sigma (1 - sigma) <= 1/4 with the maximum at 0; tanh(x) = 2 sigma(2x) - 1 and
    # tanh' = 4 sigma'(2x) (proven in notebooks/02_activations.ipynb), here on dlmath's code
    with jax.enable_x64(True):
        x = jnp.arange(-1200, 1201) / 100.0  # holds 0.0 exactly
        d_sigmoid = _elementwise_grad(act.sigmoid, x)
        s = act.sigmoid(x)
        # 1 - s loses digits where s is near 1: an absolute error of a few ulp of 1
        np.testing.assert_allclose(d_sigmoid, s * (1 - s), rtol=1e-12, atol=1e-15)
        assert float(jnp.max(d_sigmoid)) == 0.25 and float(x[jnp.argmax(d_sigmoid)]) == 0.0
        assert bool(jnp.all(d_sigmoid[x != 0] < 0.25))
        np.testing.assert_allclose(act.tanh(x), 2 * act.sigmoid(2 * x) - 1, rtol=1e-13,
                                   atol=1e-15)
        # jax.grad of tanh is 1 - tanh^2: in the tails an absolute error of several ulp of 1
        # (tanh's own rounding, doubled by the square); 1e-14 is about 45 ulp of 1
        np.testing.assert_allclose(_elementwise_grad(act.tanh, x),
                                   4 * _elementwise_grad(act.sigmoid, 2 * x), rtol=1e-12,
                                   atol=1e-14)


def test_silu_is_x_times_sigmoid_and_softplus_derivative_is_sigmoid():
    with jax.enable_x64(True):
        x = _inputs(jnp.float64)
        np.testing.assert_allclose(act.silu(x), x * F.SIGMOID.reference(x), rtol=1e-13)
        np.testing.assert_allclose(_elementwise_grad(act.softplus, x), act.sigmoid(x),
                                   rtol=1e-13)


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
    with jax.enable_x64(True):
        x = 2 * jax.random.normal(KEY, (3, 7), jnp.float64)
        w = jax.random.normal(jax.random.key(1), (3, 7), jnp.float64)
        for axis in (0, -1):
            g = jax.jit(jax.grad(lambda x, a=axis: jnp.sum(w * ours(x, a))))(x)
            g_peer = jax.jit(jax.grad(lambda x, a=axis: jnp.sum(w * peer(x, axis=a))))(x)
            np.testing.assert_allclose(g, g_peer, rtol=1e-12, atol=1e-14)
        # a directional derivative by float64 central differences
        v, h = jax.random.normal(jax.random.key(2), (3, 7), jnp.float64), 1e-6
        loss = jax.jit(lambda x: jnp.sum(w * ours(x)))
        np.testing.assert_allclose(jnp.vdot(jax.grad(loss)(x), v),
                                   (loss(x + h * v) - loss(x - h * v)) / (2 * h), rtol=1e-7)


def test_softmax_matches_its_formula():
    with jax.enable_x64(True):
        x = 2 * jax.random.normal(KEY, (6,), jnp.float64)
        ref_p = jnp.array([F.SOFTMAX.reference(x, k, 6) for k in range(6)])
        ref_lp = jnp.array([F.LOG_SOFTMAX.reference(x, k, 6) for k in range(6)])
        np.testing.assert_allclose(act.softmax(x), ref_p, rtol=1e-13)
        np.testing.assert_allclose(act.log_softmax(x), ref_lp, rtol=1e-13)


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
