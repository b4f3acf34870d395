"""Bad-input rows of dlmath.convert: the parameters of a model as flax's and PyTorch's, and
back (one row per kind of model whose parameters the other rows build)."""

from __future__ import annotations

import numpy as np
from bad_input_cases import A, H, Spec, normal
from bad_input_rows_attention import MHA_PARAMS, mha_params
from bad_input_rows_recurrent import SIZES, param_arrays, params


def specs():
    return [
        Spec("convert.to_flax",
             lambda s, rng: {"params": mha_params(s, rng), "model": "multi_head_attention",
                             "num_heads": 2},
             MHA_PARAMS,
             {"model": H(choices=("multi_head_attention",), static=True),
              "num_heads": H(count=True, low=1, static=True, pred=lambda v: 4 % int(v) == 0)},
             empty={"E": "either"}, out_dtype="params", examples=1, tag="[attention]",
             note="E = 0 maps to empty kernels, as flax's module of that size would hold"),
        Spec("convert.to_flax",
             lambda s, rng: {"params": params("lstm", s, rng), "model": "lstm"},
             param_arrays("lstm"), {"model": H(choices=("lstm",), static=True)},
             sizes=SIZES["lstm"], out_dtype="params", examples=1, tag="[lstm]",
             note="the choices of model are those that fit the LSTM-shaped parameters"),
        Spec("convert.to_pytorch",
             lambda s, rng: {"params": mha_params(s, rng), "model": "multi_head_attention"},
             MHA_PARAMS, {"model": H(choices=("multi_head_attention",), static=True)},
             empty={"E": "either"}, out_dtype="params", jittable=False, tag="[attention]",
             note="returns NumPy arrays: not under jit"),
        Spec("convert.to_pytorch",
             lambda s, rng: {"params": params("lstm", s, rng), "model": "lstm"},
             param_arrays("lstm"), {"model": H(choices=("lstm",), static=True)},
             sizes=SIZES["lstm"], out_dtype="params", jittable=False, tag="[lstm]"),
        Spec("convert.from_pytorch",
             lambda s, rng: {"state_dict": _lstm_state_dict(s, rng), "model": "lstm"},
             {("state_dict", k): A(legend, param=True) for k, legend in _LSTM_KEYS.items()},
             {"model": H(choices=("lstm",), static=True)}, sizes=SIZES["lstm"],
             out_dtype="params", tag="[lstm]",
             note="nn.LSTM's state_dict: weight_ih_l0 (G, D), weight_hh_l0 (G, H), biases (G,)"),
        Spec("convert.conv_from_pytorch",
             lambda s, rng: {"weight": normal(rng, (s["O"], s["C"], s["R"], s["Q"]), 0.5),
                             "model": "conv2d"},
             {("weight",): A(("O", "C", "R", "Q"), param=True)},
             {"model": H(choices=("conv2d", "conv_transpose2d"), static=True)},
             sizes={"O": 3, "C": 2, "R": 2, "Q": 4}, empty={"O": "pass", "C": "pass"},
             out_dtype="params",
             ref=lambda kw: np.transpose(np.asarray(kw["weight"], np.float64),
                                         (2, 3, 1, 0) if kw["model"] == "conv2d"
                                         else (2, 3, 0, 1)),
             note="a permutation of the axes: empty channel axes pass through"),
    ]


#: the keys of nn.LSTM's state_dict and their shapes (``G = 4H`` rows)
_LSTM_KEYS = {"weight_ih_l0": ("G", "D"), "weight_hh_l0": ("G", "H"), "bias_ih_l0": ("G",),
              "bias_hh_l0": ("G",)}


def _lstm_state_dict(s, rng):
    return {k: normal(rng, tuple(s[x] for x in legend), 0.5) for k, legend in _LSTM_KEYS.items()}
