"""Unit tests of dlmath.convert: PyTorch state_dicts (dicts of NumPy arrays, as
``module.state_dict()`` gives them after ``.numpy()``) in, dlmath's parameters, flax's out.
The dense layer against PyTorch's formula x W^T + b and flax's ``nn.Dense``; the round trip
of every model; the keys of each PyTorch module; every error path. The models against
flax's modules are tested in test_attention.py and test_recurrent.py."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import attention, convert, layers, recurrent, transformer

KEY = jax.random.key(2)


def _models():
    return {"dense": layers.init_mlp(KEY, (3, 5))[0],
            "multi_head_attention": attention.init_multi_head_attention(KEY, 6),
            "transformer_block": transformer.init_transformer_block(KEY, 4, 6),
            "rnn": recurrent.init_rnn(KEY, 3, 4), "lstm": recurrent.init_lstm(KEY, 3, 4),
            "gru": recurrent.init_gru(KEY, 3, 4)}


KEYS = {"dense": {"weight": (5, 3), "bias": (5,)},
        "multi_head_attention": {"in_proj_weight": (18, 6), "in_proj_bias": (18,),
                                 "out_proj.weight": (6, 6), "out_proj.bias": (6,)},
        "lstm": {"weight_ih_l0": (16, 3), "weight_hh_l0": (16, 4), "bias_ih_l0": (16,),
                 "bias_hh_l0": (16,)}}


@pytest.mark.parametrize("model", convert.MODELS)
def test_round_trip_and_pytorchs_keys_and_layouts(model):
    params = _models()[model]
    state_dict = convert.to_pytorch(params, model)
    assert all(isinstance(v, np.ndarray) for v in state_dict.values())
    if model in KEYS:
        assert {k: v.shape for k, v in state_dict.items()} == KEYS[model]
    back = convert.from_pytorch(state_dict, model)
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(params)
    for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(params),
                    strict=True):
        np.testing.assert_array_equal(a, b)


def test_dense_is_pytorchs_linear_and_flaxs_dense():
    rng = np.random.default_rng(0)
    state_dict = {"weight": rng.standard_normal((5, 3)).astype(np.float32),
                  "bias": rng.standard_normal(5).astype(np.float32)}
    params = convert.from_pytorch(state_dict, "dense")
    np.testing.assert_array_equal(params["w"], state_dict["weight"].T)  # (D_in, D_out)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    torch_linear = x.astype(np.float64) @ state_dict["weight"].T + state_dict["bias"]
    np.testing.assert_allclose(layers.dense(params, x), torch_linear, atol=1e-6)
    flax_params = convert.to_flax(params, "dense")
    np.testing.assert_allclose(nn.Dense(5).apply({"params": flax_params}, x), torch_linear,
                               atol=1e-6)


def test_recurrent_cells_keys_without_the_layer_suffix():
    """nn.LSTMCell's state_dict (no ``_l0``) loads as nn.LSTM's does."""
    state_dict = {k.removesuffix("_l0"): v for k, v in convert.to_pytorch(
        _models()["lstm"], "lstm").items()}
    back = convert.from_pytorch(state_dict, "lstm")
    np.testing.assert_array_equal(back["hh"]["w"], _models()["lstm"]["hh"]["w"])


def test_errors():
    params = _models()
    with pytest.raises(ValueError, match=r"from_pytorch: model must be one of"):
        convert.from_pytorch({}, "conv")
    with pytest.raises(TypeError, match=r"from_pytorch: state_dict must be a dict"):
        convert.from_pytorch([1], "dense")
    with pytest.raises(ValueError, match=r"from_pytorch: state_dict must be a dict with exactly "
                                         r"the keys \['weight', 'bias'\]"):
        convert.from_pytorch({"weight": np.ones((2, 3))}, "dense")
    with pytest.raises(TypeError, match=r"from_pytorch: state_dict\['weight'\] must be a "
                                        r"floating-point array"):
        convert.from_pytorch({"weight": np.ones((2, 3), np.int32), "bias": np.ones(2)}, "dense")
    with pytest.raises(ValueError, match=r"from_pytorch: state_dict\['weight'\] must have shape "
                                         r"\(D_out, D_in\)"):
        convert.from_pytorch({"weight": np.ones(3), "bias": np.ones(2)}, "dense")
    mha = params["multi_head_attention"]
    with pytest.raises(ValueError, match=r"to_flax: the embedding size E = 6 must be divisible "
                                         r"by num_heads = 4"):
        convert.to_flax(mha, "multi_head_attention", num_heads=4)
    with pytest.raises(ValueError, match=r"to_flax: num_heads is needed for "
                                         r"'multi_head_attention' and only there"):
        convert.to_flax(mha, "multi_head_attention")
    with pytest.raises(ValueError, match=r"to_flax: num_heads is needed"):
        convert.to_flax(params["lstm"], "lstm", num_heads=2)
    with pytest.raises(ValueError, match=r"to_flax: params must hold out_proj/b"):
        convert.to_flax({**mha, "out_proj": {"w": mha["out_proj"]["w"]}}, "multi_head_attention",
                        num_heads=2)
    with pytest.raises(ValueError, match=r"to_flax: params\['out_proj'\]\['w'\] must have shape "
                                         r"\(E, E\) = \(6, 6\) for the multi_head_attention "
                                         r"with E = 6; got \(6, 5\)"):
        convert.to_flax({**mha, "out_proj": {"w": jnp.ones((6, 5)), "b": jnp.ones(5)}},
                        "multi_head_attention", num_heads=2)
    half = {**mha, "in_proj": {**mha["in_proj"], "b": mha["in_proj"]["b"].astype(jnp.float16)}}
    with pytest.raises(TypeError, match=r"to_flax: every leaf of params must have one float"):
        convert.to_flax(half, "multi_head_attention", num_heads=2)
    with pytest.raises(ValueError, match=r"to_flax: flax.linen has no transformer block"):
        convert.to_flax(params["transformer_block"], "transformer_block")
    with pytest.raises(ValueError, match=r"to_flax: params\['ih'\]\['w'\] must have shape "
                                         r"\(D, G·H\) = \(3, 12\) for the gru with G = 3 gate "
                                         r"blocks \(gru\), D = 3, H = 4; got \(3, 16\)"):
        convert.to_flax(params["lstm"], "gru")
    with pytest.raises(ValueError, match=r"to_pytorch: params\['b'\] must have shape \(D_out,\) "
                                         r"= \(5,\) for the dense with D_in = 3, D_out = 5; got "
                                         r"\(4,\)"):
        convert.to_pytorch({**params["dense"], "b": jnp.ones(4)}, "dense")
    torch_lstm = convert.to_pytorch(params["lstm"], "lstm")
    with pytest.raises(ValueError, match=r"from_pytorch: state_dict\['hh'\]\['b'\] must have "
                                         r"shape \(G·H,\) = \(16,\) for the lstm .* \(in "
                                         r"dlmath's layout: every weight matrix transposed\); "
                                         r"got \(12,\)"):
        convert.from_pytorch({**torch_lstm, "bias_hh_l0": np.ones(12, np.float32)}, "lstm")
    with pytest.raises(ValueError, match=r"to_pytorch: params has entries that a dense does not"):
        convert.to_pytorch({**params["dense"], "extra": {"w": jnp.ones(2)}}, "dense")
