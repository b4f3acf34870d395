"""Bad-input rows of dlmath.recurrent (and of the gradient clipping that chapter 07 adds to
dlmath.training). ``G`` is the number of rows of the stacked gate weights: ``H`` for the
RNN, ``4H`` for the LSTM, ``3H`` for the GRU (with ``H = 3``: 12 and 9)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from bad_input_cases import A, H, Spec, normal

_GATE_ROWS = {"rnn": "H", "lstm": "G", "gru": "G"}
_SIZES = {"rnn": {}, "lstm": {"G": 12}, "gru": {"G": 9}}


def _params(cell, s, rng):
    rows = s["H"] if cell == "rnn" else s["G"]
    return {"weight_ih": normal(rng, (rows, s["D"]), 0.5),
            "weight_hh": normal(rng, (rows, s["H"]), 0.5),
            "bias_ih": normal(rng, (rows,), 0.1), "bias_hh": normal(rng, (rows,), 0.1)}


def _param_arrays(cell):
    g = _GATE_ROWS[cell]
    return {("params", "weight_ih"): A((g, "D"), param=True),
            ("params", "weight_hh"): A((g, "H"), param=True),
            ("params", "bias_ih"): A((g,), param=True),
            ("params", "bias_hh"): A((g,), param=True)}


def _sequence_row(cell):
    def build(s, rng):
        kw = {"params": _params(cell, s, rng), "xs": normal(rng, (s["N"], s["T"], s["D"]))}
        h0 = normal(rng, (s["N"], s["H"]), 0.5)
        if cell == "lstm":
            kw["initial_state"] = (h0, normal(rng, (s["N"], s["H"]), 0.5))
        else:
            kw["initial_h"] = h0
        return kw

    arrays = {**_param_arrays(cell), ("xs",): A(("N", "T", "D"))}
    if cell == "lstm":
        arrays |= {("initial_state", 0): A(("N", "H")), ("initial_state", 1): A(("N", "H"))}
    else:
        arrays[("initial_h",)] = A(("N", "H"))
    return Spec(f"recurrent.{cell}", build, arrays, sizes=_SIZES[cell],
                empty={"N": "pass", "T": "pass"}, out_dtype="params",
                grad_of=(("xs",),), examples=1)


def _cell_row(cell):
    def build(s, rng):
        kw = {"params": _params(cell, s, rng), "x": normal(rng, (s["N"], s["D"]))}
        h = normal(rng, (s["N"], s["H"]), 0.5)
        if cell == "lstm":
            kw["state"] = (h, normal(rng, (s["N"], s["H"]), 0.5))
        else:
            kw["h"] = h
        return kw

    arrays = {**_param_arrays(cell), ("x",): A(("N", "D"))}
    if cell == "lstm":
        arrays |= {("state", 0): A(("N", "H")), ("state", 1): A(("N", "H"))}
    else:
        arrays[("h",)] = A(("N", "H"))
    return Spec(f"recurrent.{cell}_cell", build, arrays, sizes=_SIZES[cell],
                empty={"N": "pass"}, out_dtype="params", grad_of=(("x",),), examples=1)


def _tree(s, rng):
    return {"w": normal(rng, (s["D"], s["K"])), "b": normal(rng, (s["K"],))}


_TREE = {"w": A(("D", "K"), ranks=(0, 1, 2, 3)), "b": A(("K",), ranks=(0, 1, 2, 3))}


def specs():
    rows = [_sequence_row(c) for c in ("rnn", "lstm", "gru")]
    rows += [_cell_row(c) for c in ("rnn", "lstm", "gru")]
    rows += [
        Spec("recurrent.init_params",
             lambda s, rng: {"key": jax.random.key(0), "cell": "gru", "input_size": 2,
                             "hidden_size": 3, "dtype": jnp.float32}, {},
             {"cell": H(choices=("rnn", "lstm", "gru"), static=True),
              "input_size": H(count=True, low=1, static=True),
              "hidden_size": H(count=True, low=1, static=True),
              "dtype": H(dtype=True, static=True, allow_none=True)}),
        Spec("recurrent.to_flax",
             lambda s, rng: {"params": _params("lstm", s, rng), "cell": "lstm"},
             _param_arrays("lstm"), {"cell": H(choices=("lstm",), static=True)},
             sizes=_SIZES["lstm"], out_dtype="params", examples=1,
             note="the choices of cell are those that fit the LSTM-shaped parameters"),
        Spec("training.global_norm", lambda s, rng: {"tree": _tree(s, rng)},
             {("tree", k): a for k, a in _TREE.items()}, out_dtype="promote",
             free_letters=("D", "K"), empty={"D": "pass", "K": "pass"}),
        Spec("training.clip_by_global_norm",
             lambda s, rng: {"grads": _tree(s, rng), "max_norm": 0.5},
             {("grads", k): a for k, a in _TREE.items()},
             {"max_norm": H(low=0.0, low_open=True)}, free_letters=("D", "K"),
             empty={"D": "pass", "K": "pass"},
             note="each leaf keeps its own dtype (checked in test_recurrent)"),
    ]
    return rows
