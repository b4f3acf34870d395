"""Bad-input rows of dlmath.recurrent (the gradient clipping of chapter 07 has its rows
with dlmath.transforms). ``G`` is the number of rows of the stacked gate weights: ``H`` for the
RNN, ``4H`` for the LSTM, ``3H`` for the GRU (with ``H = 3``: 12 and 9)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from bad_input_cases import A, H, Spec, normal

_GATE_ROWS = {"rnn": "H", "lstm": "G", "gru": "G"}
#: the sizes of each cell's rows (``G``: the stacked gates)
SIZES = {"rnn": {}, "lstm": {"G": 12}, "gru": {"G": 9}}


def params(cell, s, rng):
    """A cell's parameters: the input and the hidden dense layers, ``G`` gate columns."""
    cols = s["H"] if cell == "rnn" else s["G"]
    return {"ih": {"w": normal(rng, (s["D"], cols), 0.5), "b": normal(rng, (cols,), 0.1)},
            "hh": {"w": normal(rng, (s["H"], cols), 0.5), "b": normal(rng, (cols,), 0.1)}}


def param_arrays(cell):
    """The array arguments of :func:`params`, under ``params``."""
    g = _GATE_ROWS[cell]
    return {("params", "ih", "w"): A(("D", g), param=True),
            ("params", "ih", "b"): A((g,), param=True),
            ("params", "hh", "w"): A(("H", g), param=True),
            ("params", "hh", "b"): A((g,), param=True)}


def _state(cell, s, rng, names):
    """The state argument of ``cell``: ``names[0] = (h, c)`` for the LSTM, else
    ``names[1] = h``, each ``(N, H)``; and its array specs."""
    h = normal(rng, (s["N"], s["H"]), 0.5)
    if cell == "lstm":
        return {names[0]: (h, normal(rng, (s["N"], s["H"]), 0.5))}
    return {names[1]: h}


def _state_arrays(cell, names):
    if cell == "lstm":
        return {(names[0], 0): A(("N", "H")), (names[0], 1): A(("N", "H"))}
    return {(names[1],): A(("N", "H"))}


def _sequence_row(cell):
    def build(s, rng):
        kw = {"params": params(cell, s, rng), "xs": normal(rng, (s["N"], s["T"], s["D"]))}
        return kw | _state(cell, s, rng, ("initial_state", "initial_h"))

    arrays = {**param_arrays(cell), ("xs",): A(("N", "T", "D")),
              **_state_arrays(cell, ("initial_state", "initial_h"))}
    return Spec(f"recurrent.{cell}", build, arrays, sizes=SIZES[cell],
                empty={"N": "pass", "T": "pass"}, out_dtype="params",
                grad_of=(("xs",),), examples=1)


def _cell_row(cell):
    def build(s, rng):
        kw = {"params": params(cell, s, rng), "x": normal(rng, (s["N"], s["D"]))}
        h = normal(rng, (s["N"], s["H"]), 0.5)
        if cell == "lstm":
            kw["state"] = (h, normal(rng, (s["N"], s["H"]), 0.5))
        else:
            kw["h"] = h
        return kw

    arrays = {**param_arrays(cell), ("x",): A(("N", "D"))}
    if cell == "lstm":
        arrays |= {("state", 0): A(("N", "H")), ("state", 1): A(("N", "H"))}
    else:
        arrays[("h",)] = A(("N", "H"))
    return Spec(f"recurrent.{cell}_cell", build, arrays, sizes=SIZES[cell],
                empty={"N": "pass"}, out_dtype="params", grad_of=(("x",),), examples=1)


def _step_row(cell):
    """The recurrent part of a step: ``params["hh"]``, the input projection ``xw (N, G)`` and
    the state."""
    g = _GATE_ROWS[cell]

    def build(s, rng):
        cols = s["H"] if cell == "rnn" else s["G"]
        kw = {"hh": params(cell, s, rng)["hh"], "xw": normal(rng, (s["N"], cols))}
        return kw | _state(cell, s, rng, ("state", "h"))

    arrays = {("hh", "w"): A(("H", g), param=True), ("hh", "b"): A((g,), param=True),
              ("xw",): A(("N", g)), **_state_arrays(cell, ("state", "h"))}
    return Spec(f"recurrent.{cell}_step", build, arrays, sizes=SIZES[cell],
                empty={"N": "pass"}, out_dtype="params", grad_of=(("xw",),), examples=1)


def _scan_call(fn, hh, carry, xw):
    """``scan`` with the public ``rnn_step`` as the step, run in the carry's dtype (a step
    returns a carry like the one it is given)."""
    from dlmath import recurrent

    def step(xw_t, h):
        like = jax.tree_util.tree_map(lambda w: w.astype(h.dtype), hh)
        return recurrent.rnn_step(like, xw_t, h)

    return fn(step, carry, xw)


def specs():
    rows = [_sequence_row(c) for c in ("rnn", "lstm", "gru")]
    rows += [_cell_row(c) for c in ("rnn", "lstm", "gru")]
    rows += [_step_row(c) for c in ("rnn", "lstm", "gru")]
    rows.append(Spec(
        "recurrent.scan",
        lambda s, rng: {"hh": params("rnn", s, rng)["hh"],
                        "carry": normal(rng, (s["N"], s["H"]), 0.5),
                        "xw": normal(rng, (s["N"], s["T"], s["H"]))},
        {("carry",): A(("N", "H")), ("xw",): A(("N", "T", "H"))},
        call=_scan_call, empty={"N": "pass", "T": "pass"}, out_dtype="arg:carry", examples=1,
        who_ok=("rnn_step",), names_ok=("h",),
        note="scan(step, carry, xw) with step(xw_t, h) = rnn_step(hh, xw_t, h) in the carry's "
             "dtype; a carry whose H is not the step's is refused by the step (rnn_step, h)"))
    rows += [
        Spec(f"recurrent.init_{cell}",
             lambda s, rng: {"key": jax.random.key(0), "input_size": 2, "hidden_size": 3,
                             "dtype": jnp.float32}, {},
             {"input_size": H(count=True, low=1, static=True),
              "hidden_size": H(count=True, low=1, static=True),
              "dtype": H(dtype=True, static=True, allow_none=True)})
        for cell in ("rnn", "lstm", "gru")]
    return rows
