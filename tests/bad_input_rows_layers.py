"""Bad-input rows of dlmath.layers: the dense layer, the MLP forward and backward passes,
the initialisers, the Jacobian bound and the activation-name check."""

from __future__ import annotations

import jax.numpy as jnp
from bad_input_cases import MLP, NONNEG, A, H, Spec, fixed_key, mlp_params, normal


def _backward_build(s, rng):
    from dlmath import layers
    params = mlp_params(rng, s)
    x = normal(rng, (s["N"], s["D"]))
    return {"params": params, "cache": layers.forward(params, x),
            "grad_output": normal(rng, (s["N"], s["K"]))}


def specs():
    return [
        Spec("layers.dense",
             lambda s, rng: {"params": mlp_params(rng, s)[0], "x": normal(rng, (s["N"], s["D"]))},
             {("params", "w"): A(("D", "H"), param=True), ("params", "b"): A(("H",), param=True),
              ("x",): A(("N", "D"))},
             empty={"N": "pass", "H": "pass"}, out_dtype="params"),
        Spec("layers.init_mlp",
             lambda s, rng: {"key": fixed_key(), "sizes": (s["D"], s["H"], s["K"]), "scheme": "he",
                             "distribution": "normal", "gain": 1.0, "dtype": jnp.float32},
             {}, {"scheme": H(choices=("lecun", "he", "xavier"), static=True),
                  "distribution": H(choices=("normal", "uniform"), static=True),
                  "gain": NONNEG, "dtype": H(dtype=True, static=True, allow_none=True)}),
        Spec("layers.forward",
             lambda s, rng: {"params": mlp_params(rng, s), "x": normal(rng, (s["N"], s["D"]))},
             {**MLP, ("x",): A(("N", "D"))},
             {"activation": H(choices=("relu", "tanh", "sigmoid", "identity"), static=True)},
             empty={"N": "pass"}, out_dtype="params", names_ok=("layer",)),
        Spec("layers.mlp",
             lambda s, rng: {"params": mlp_params(rng, s), "x": normal(rng, (s["N"], s["D"]))},
             {**MLP, ("x",): A(("N", "D"))},
             {"output_activation": H(choices=("relu", "tanh", "sigmoid", "identity"),
                                     static=True)},
             empty={"N": "pass"}, out_dtype="params", names_ok=("layer",)),
        Spec("layers.backward", _backward_build,
             {**MLP, ("grad_output",): A(("N", "K"))}, empty={"N": "pass"},
             names_ok=("layer",),
             note="the cache is built in float32 from float32 x; result dtypes not checked"),
        Spec("layers.log_sigmoid_jacobian_bound",
             lambda s, rng: {"params": mlp_params(rng, s)}, dict(MLP),
             out_dtype="params", propagates=(("params", 0, "w"), ("params", 1, "w")),
             names_ok=("layer",)),
        Spec("layers.activation_named",
             lambda s, rng: {"who": "caller", "name": "activation", "value": "relu"}, {},
             {"value": H(choices=("relu", "tanh", "sigmoid", "identity"), static=True)},
             who="caller", jittable=False, names_ok=("activation",),
             note="the helper raises on behalf of its caller (who='caller')"),
    ]
