"""Bad-input rows of dlmath.activations: the softmaxes and the elementwise activations,
against jax.nn in float64."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from bad_input_cases import A, H, Spec, normal


def _elementwise(name, **kw):
    return Spec(f"activations.{name}", lambda s, rng: {"x": normal(rng, (s["N"], s["K"]), 2.0)},
                {("x",): A(("N", "K"), ranks=(0, 1, 2, 3))}, empty={"N": "pass", "K": "pass"},
                out_dtype="promote", stable=True, grad_of=(("x",),),
                peer=lambda kw, name=name: getattr(jax.nn, name)(jnp.asarray(kw["x"])), **kw)


def specs():
    return [
        Spec("activations.softmax",
             lambda s, rng: {"x": normal(rng, (s["N"], s["K"]), 2.0), "axis": -1},
             {("x",): A(("N", "K"), ranks=(1, 2, 3))},
             {"axis": H(count=True, low=-2, high=1, static=True)},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote", stable=True,
             grad_of=(("x",),), peer=lambda kw: jax.nn.softmax(jnp.asarray(kw["x"]),
                                                                axis=kw["axis"])),
        Spec("activations.log_softmax",
             lambda s, rng: {"x": normal(rng, (s["N"], s["K"]), 2.0), "axis": -1},
             {("x",): A(("N", "K"), ranks=(1, 2, 3))},
             {"axis": H(count=True, low=-2, high=1, static=True)},
             empty={"N": "pass", "K": "raise"}, out_dtype="promote", stable=True,
             grad_of=(("x",),), peer=lambda kw: jax.nn.log_softmax(jnp.asarray(kw["x"]),
                                                                    axis=kw["axis"])),
        _elementwise("sigmoid"),
        _elementwise("tanh"),
        _elementwise("relu"),
        _elementwise("softplus"),
        _elementwise("silu"),
        Spec("activations.leaky_relu",
             lambda s, rng: {"x": normal(rng, (s["N"], s["K"]), 2.0), "negative_slope": 0.01},
             {("x",): A(("N", "K"), ranks=(0, 1, 2, 3))}, {"negative_slope": H()},
             empty={"N": "pass", "K": "pass"}, out_dtype="promote", stable=True,
             grad_of=(("x",),),
             peer=lambda kw: jax.nn.leaky_relu(jnp.asarray(kw["x"]), kw["negative_slope"])),
        Spec("activations.gelu",
             lambda s, rng: {"x": normal(rng, (s["N"], s["K"]), 2.0), "approximate": True},
             {("x",): A(("N", "K"), ranks=(0, 1, 2, 3))},
             {"approximate": H(boolean=True, static=True)},
             empty={"N": "pass", "K": "pass"}, out_dtype="promote", stable=True,
             grad_of=(("x",),),
             peer=lambda kw: jax.nn.gelu(jnp.asarray(kw["x"]), approximate=kw["approximate"])),
    ]
