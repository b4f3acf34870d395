"""Unit tests of dlmath.initializers: every factory against jax.nn.initializers of the same
name (the same key gives the same draw), PyTorch's default bound, the variance formulas of
the named schemes, dtypes, traced scales, and every error path."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import initializers as I
from dlmath.testing import in_float64

KEY = jax.random.key(3)
NAMES = ("glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal",
         "lecun_uniform")


def test_variance_matches_its_formula():
    from dlmath.formulas import DOCUMENTED

    for scheme, formula in zip(("lecun", "he", "glorot"), DOCUMENTED["initializers.variance"],
                               strict=True):
        for n_in, n_out in ((1, 1), (64, 10), (300, 7)):
            assert I.variance(scheme, n_in, n_out) == pytest.approx(
                float(formula.reference(n_in, n_out)), rel=1e-15)
            scale, mode = I.SCHEMES[scheme]
            fan = {"fan_in": n_in, "fan_avg": (n_in + n_out) / 2}[mode]
            assert I.variance(scheme, n_in, n_out) == scale / fan


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape,axes", [((30, 20), {}), ((3, 3, 4, 8), {}),
                                        ((20, 30), {"in_axis": -1, "out_axis": -2}),
                                        ((5, 6, 7), {"batch_axis": 0})])
def test_factories_are_jaxs(name, shape, axes):
    ours = getattr(I, name)(**axes)(KEY, shape)
    theirs = getattr(jax.nn.initializers, name)(**axes)(KEY, shape, jnp.float32)
    assert ours.shape == shape and ours.dtype == jnp.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
@pytest.mark.parametrize("distribution", ["normal", "truncated_normal", "uniform"])
def test_variance_scaling_is_jaxs_and_has_its_variance(mode, distribution):
    shape = (200, 300)
    ours = I.variance_scaling(0.7, mode, distribution)(KEY, shape)
    theirs = jax.nn.initializers.variance_scaling(0.7, mode, distribution)(KEY, shape)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    n = {"fan_in": 200, "fan_out": 300, "fan_avg": 250, "fan_geo_avg": math.sqrt(200 * 300)}[mode]
    assert float(jnp.var(ours)) == pytest.approx(0.7 / n, rel=0.03)
    if distribution == "uniform":
        assert float(jnp.max(jnp.abs(ours))) <= math.sqrt(3 * 0.7 / n)


def test_pytorch_uniform_is_its_bound_from_the_shape_or_given():
    """U(-1/sqrt(n), 1/sqrt(n)), n the fan-in: of a PyTorch (out, in) weight, or given for a
    bias or a recurrent layer; the same numbers as a plain uniform draw in that interval."""
    n = 32
    want = jax.random.uniform(KEY, (64, n), jnp.float32, -1 / math.sqrt(n), 1 / math.sqrt(n))
    np.testing.assert_array_equal(I.pytorch_uniform(in_axis=-1, out_axis=-2)(KEY, (64, n)), want)
    np.testing.assert_array_equal(I.pytorch_uniform(n)(KEY, (64, n)), want)
    bias = I.pytorch_uniform(n)(KEY, (64,))
    assert bias.shape == (64,) and float(jnp.max(jnp.abs(bias))) <= 1 / math.sqrt(n)
    peer = jax.nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform", in_axis=-1,
                                                out_axis=-2)(KEY, (64, n))
    np.testing.assert_allclose(want, peer, rtol=1e-6, atol=1e-7)


def test_dtypes_and_a_traced_scale():
    for dtype in (jnp.float16, jnp.bfloat16):
        assert I.he_uniform(dtype=dtype)(KEY, (4, 5)).dtype == dtype
        assert I.glorot_normal()(KEY, (4, 5), dtype).dtype == dtype
    w, w2 = in_float64(lambda: (I.he_uniform(dtype=jnp.float64)(KEY, (4, 5)),
                                I.glorot_normal()(KEY, (4, 5), jnp.float64)))
    assert w.dtype == w2.dtype == np.float64
    f = jax.jit(lambda s: I.variance_scaling(s, "fan_in", "normal")(KEY, (3, 4)))
    np.testing.assert_allclose(f(4.0), 2 * I.variance_scaling(1.0, "fan_in", "normal")(
        KEY, (3, 4)), rtol=1e-6)
    assert not np.any(np.asarray(I.he_normal()(KEY, (0, 3))))  # an empty kernel


def test_errors():
    with pytest.raises(ValueError, match=r"variance_scaling: mode must be one of"):
        I.variance_scaling(1.0, "fan", "normal")
    with pytest.raises(ValueError, match=r"variance_scaling: distribution must be one of"):
        I.variance_scaling(1.0, "fan_in", "laplace")
    with pytest.raises(ValueError, match=r"variance_scaling: scale must be a finite number"):
        I.variance_scaling(-1.0, "fan_in", "normal")
    with pytest.raises(TypeError, match=r"glorot_uniform: dtype must be a floating dtype"):
        I.glorot_uniform(dtype=jnp.int32)
    init = I.he_normal()
    with pytest.raises(TypeError, match=r"he_normal: key must be a jax.random key"):
        init(None, (3, 4))
    with pytest.raises(ValueError, match=r"he_normal: shape must have at least 2 axes"):
        init(KEY, (3,))
    with pytest.raises(TypeError, match=r"he_normal: shape\[1\] must be an int"):
        init(KEY, (3, 4.0))
    with pytest.raises(TypeError, match=r"he_normal: dtype must be a floating dtype"):
        init(KEY, (3, 4), jnp.int32)
    with pytest.raises(ValueError, match=r"lecun_normal: in_axis must be an axis"):
        I.lecun_normal(in_axis=5)(KEY, (3, 4))
    with pytest.raises(ValueError, match=r"pytorch_uniform: fan_in must be an int >= 1"):
        I.pytorch_uniform(0)
    with pytest.raises(ValueError, match=r"variance: scheme must be one of \['lecun', 'he', "
                                         r"'glorot'\]; got 'xavier'"):
        I.variance("xavier", 2, 2)
    with pytest.raises(ValueError, match=r"variance: n_in must be an int >= 1"):
        I.variance("he", 0, 2)
    with pytest.raises(TypeError, match=r"variance: n_out must be an int"):
        I.variance("he", 2, 2.0)
