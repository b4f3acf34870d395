"""Bad-input rows of dlmath.initializers: the variance of a named scheme, and the factories,
called as ``factory(**hyper-parameters)(key, shape)`` with a kernel shape ``(D, K)``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from bad_input_cases import H, Spec

#: an axis of a 2-axis kernel shape, in [-2, 2)
AXIS = H(count=True, low=-2, high=1, static=True)
FLOAT_DTYPE = H(dtype=True, static=True, allow_none=True)  # None: JAX's default float
NAMED = ("glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal",
         "lecun_uniform")


def _draw(fn, key, shape, **hypers):
    return fn(**hypers)(key, shape)


def _factory_row(name, hypers, defaults):
    def build(s, rng):
        return {"key": jax.random.key(0), "shape": (s["D"], s["K"]), **defaults}

    return Spec(f"initializers.{name}", build, {}, hypers, call=_draw,
                empty={"D": "pass", "K": "pass"}, out_dtype="arg:dtype",
                note="factory(**hyper-parameters)(key, (D, K)); an empty kernel is zeros")


def specs():
    axes = {"in_axis": AXIS, "out_axis": AXIS, "dtype": FLOAT_DTYPE}
    axis_defaults = {"in_axis": -2, "out_axis": -1, "dtype": jnp.float32}
    return [
        Spec("initializers.variance",
             lambda s, rng: {"scheme": "he", "n_in": 3, "n_out": 2}, {},
             {"scheme": H(choices=("lecun", "he", "glorot"), static=True),
              "n_in": H(count=True, low=1, static=True),
              "n_out": H(count=True, low=1, static=True)}, jittable=False),
        _factory_row("variance_scaling",
                     {"scale": H(low=0.0),
                      "mode": H(choices=("fan_in", "fan_out", "fan_avg", "fan_geo_avg"),
                                static=True),
                      "distribution": H(choices=("normal", "truncated_normal", "uniform"),
                                        static=True), **axes},
                     {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform",
                      **axis_defaults}),
        *(_factory_row(name, axes, axis_defaults) for name in NAMED),
        _factory_row("pytorch_uniform",
                     {"fan_in": H(count=True, low=1, static=True, allow_none=True), **axes},
                     {"fan_in": None, **axis_defaults}),
    ]
