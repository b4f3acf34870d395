"""Bad-input rows of dlmath.recurrent_stacked: PyTorch's state_dict of a two-layer
bidirectional RNN / LSTM / GRU (``E = 2H`` inputs of the second layer, ``S = L·dirs = 4``
initial states; ``G`` the rows of the stacked gates, as in ``bad_input_rows_recurrent``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from bad_input_cases import A, H, Spec, normal

_GATE_ROWS = {"rnn": "H", "lstm": "G", "gru": "G"}
SIZES = {"rnn": {"E": 6, "S": 4}, "lstm": {"G": 12, "E": 6, "S": 4},
         "gru": {"G": 9, "E": 6, "S": 4}}
_KEYS = [(f"{kind}_{part}_l{layer}{s}", layer, kind)
         for layer in (0, 1) for s in ("", "_reverse") for part in ("ih", "hh")
         for kind in ("weight", "bias")]


def _params(cell, s, rng):
    g = s["H"] if cell == "rnn" else s["G"]
    out = {}
    for key, layer, kind in _KEYS:
        ins = (s["D"] if layer == 0 else s["E"]) if "_ih_" in key else s["H"]
        out[key] = normal(rng, (g, ins), 0.5) if kind == "weight" else normal(rng, (g,), 0.1)
    return out


def _param_arrays(cell):
    g = _GATE_ROWS[cell]
    out = {}
    for key, layer, kind in _KEYS:
        ins = ("D" if layer == 0 else "E") if "_ih_" in key else "H"
        out[("params", key)] = A((g, ins) if kind == "weight" else (g,), param=True)
    return out


def _row(cell, with_lengths):
    def build(s, rng):
        kw = {"params": _params(cell, s, rng), "xs": normal(rng, (s["N"], s["T"], s["D"]))}
        h0 = normal(rng, (s["S"], s["N"], s["H"]), 0.5)
        kw["initial_state"] = (h0, normal(rng, (s["S"], s["N"], s["H"]), 0.5)) \
            if cell == "lstm" else h0
        kw |= {"num_layers": 2, "bidirectional": True}
        if with_lengths:  # the first sequence full (a NaN at its first step shows)
            kw["lengths"] = np.asarray([s["T"] - k % s["T"] for k in range(s["N"])], np.int32)
        return kw

    arrays = {**_param_arrays(cell), ("xs",): A(("N", "T", "D"))}
    if cell == "lstm":
        arrays |= {("initial_state", 0): A(("S", "N", "H")),
                   ("initial_state", 1): A(("S", "N", "H"))}
    else:
        arrays[("initial_state",)] = A(("S", "N", "H"))
    return Spec(f"recurrent_stacked.stacked_{cell}", build, arrays, sizes=SIZES[cell],
                empty={"N": "pass"} if with_lengths else {"N": "pass", "T": "pass"},
                out_dtype="params", grad_of=(("xs",),), examples=1,
                note="two layers, bidirectional" + (", with lengths" if with_lengths else ""))


def specs():
    rows = [_row("rnn", False), _row("lstm", True), _row("gru", False)]
    rows.append(Spec(
        "recurrent_stacked.init_stacked",
        lambda s, rng: {"key": jax.random.key(0), "kind": "lstm", "input_size": 2,
                        "hidden_size": 3, "num_layers": 2, "bidirectional": True,
                        "dtype": jnp.float32}, {},
        {"kind": H(choices=("rnn", "lstm", "gru"), static=True),
         "input_size": H(count=True, low=1, static=True),
         "hidden_size": H(count=True, low=1, static=True),
         "num_layers": H(count=True, low=1, static=True),
         "bidirectional": H(boolean=True, static=True),
         "dtype": H(dtype=True, static=True, allow_none=True)}))
    return rows
