"""Bad-input rows of dlmath.transformer: the pre-norm block, its attention weights, its
initialiser and the sinusoidal positions."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from bad_input_cases import A, H, Spec, fixed_key, normal

#: a block's parameters: path -> legend (the in-projection's 3E columns are three E blocks)
_BLOCK = {("self_attn", "in_proj", "w"): ("E", "E"), ("self_attn", "in_proj", "b"): ("E",),
          ("self_attn", "out_proj", "w"): ("E", "E"), ("self_attn", "out_proj", "b"): ("E",),
          ("linear1", "w"): ("E", "H"), ("linear1", "b"): ("H",),
          ("linear2", "w"): ("H", "E"), ("linear2", "b"): ("E",),
          ("norm1", "scale"): ("E",), ("norm1", "bias"): ("E",),
          ("norm2", "scale"): ("E",), ("norm2", "bias"): ("E",)}


def _block_params(s, rng):
    e, f = s["E"], s["H"]
    size = {"E": e, "H": f}
    out: dict = {}
    for path, legend in _BLOCK.items():
        shape = tuple(size[x] for x in legend)
        if path[1] == "in_proj":
            shape = (e, 3 * e)[-len(shape):]
        if path[0].startswith("norm"):
            value = (np.ones if path[1] == "scale" else np.zeros)(shape, np.float32)
        else:
            value = normal(rng, shape, 0.5)
        inner = out
        for k in path[:-1]:
            inner = inner.setdefault(k, {})
        inner[path[-1]] = value
    return out


def _block_spec(name, **kw):
    """A row of a function of a transformer block's parameters and input x."""
    return Spec(name,
                lambda s, rng: {"params": _block_params(s, rng),
                                "x": normal(rng, (s["N"], s["T"], s["E"])), "num_heads": 2,
                                "is_causal": False, "eps": 1e-5},
                {**{("params", *k): A(v, param=True) for k, v in _BLOCK.items()},
                 ("x",): A(("N", "T", "E"))},
                {"num_heads": H(count=True, low=1, static=True, pred=lambda v: 4 % int(v) == 0),
                 "is_causal": H(boolean=True, static=True), "eps": H(low=0.0)},
                empty={"N": "pass", "T": "pass"}, out_dtype="params", examples=1, **kw)


def specs():
    return [
        _block_spec("transformer.transformer_block"),
        _block_spec("transformer.block_attention_weights",
                    propagates=(("x",), ("params", "norm1", "scale"),
                                ("params", "norm1", "bias")),
                    note="only the first layer norm and the query/key projections are used"),
        Spec("transformer.init_transformer_block",
             lambda s, rng: {"key": fixed_key(), "embed_dim": 4, "hidden_dim": 3,
                             "dtype": jnp.float32}, {},
             {"embed_dim": H(count=True, low=1, static=True),
              "hidden_dim": H(count=True, low=1, static=True),
              "dtype": H(dtype=True, static=True, allow_none=True)}),
        Spec("transformer.sinusoidal_positions",
             lambda s, rng: {"length": 3, "dim": 4, "base": 10000.0}, {},
             {"length": H(count=True, low=0, static=True),
              "dim": H(count=True, low=2, static=True, pred=lambda v: int(v) % 2 == 0),
              "base": H(low=1.0, low_open=True)}, out_dtype="float32"),
    ]
