r"""Formulas of recurrent networks (chapter 07): the Elman, LSTM and GRU steps, and gradient
clipping by the global norm.

Entries are indexed as PyTorch's weights, ``(G·H, D)`` and ``(G·H, H)``: $W^{ih}$ and
$W^{hh}$ are the transposes of the code's kernels ``params["ih"]["w"]`` and
``params["hh"]["w"]``, $b^{ih}$ and $b^{hh}$ its biases. Hidden unit $j = 0 \dots H - 1$
(:data:`j`), input feature $a = 0 \dots D - 1$, hidden feature $b = 0 \dots H - 1$; gate $q$
of a cell owns the rows $qH + j$ of $W^{ih}$, $W^{hh}$, $b^{ih}$ and $b^{hh}$ (the columns
of the kernels; PyTorch's order: LSTM $i, f, g, o$ = 0, 1, 2, 3; GRU $r, z, n$ = 0, 1, 2).
The sequence functions carry a step index $t \ge 1$, with $h_0$ the initial state.
``notebooks/07_recurrent.ipynb`` derives and proves them.
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula
from dlmath.formulas.symbols import D, j, k, t

__all__ = ["D", "H", "j", "k", "t", "a", "b", "n", "c_max", "W_ih", "W_hh", "b_ih", "b_hh",
           "x", "h", "c", "c_new", "g", "sigmoid", "pre_activation", "input_part",
           "hidden_part", "RNN_CELL", "LSTM_CELL_STATE", "LSTM_HIDDEN", "GRU_CELL", "RNN_STEP",
           "LSTM_STEP_CELL", "LSTM_STEP_HIDDEN", "GRU_STEP", "GLOBAL_NORM", "CLIPPED",
           "ell", "h_step", "y_forward", "y_reverse", "PACKED_STATE", "PACKED_OUTPUT",
           "REVERSED_INPUT", "LAYER_INPUT"]

#: The number of hidden units.
H = sp.Symbol("H", integer=True, positive=True)
#: The input-feature and hidden-feature summation indices.
a, b = sp.symbols("a b", integer=True, nonnegative=True)
#: The number of entries of a gradient (all leaves together) and the clipping threshold.
n = sp.Symbol("n", integer=True, positive=True)
c_max = sp.Symbol("c", positive=True)

W_ih, W_hh = sp.IndexedBase("W^{ih}", real=True), sp.IndexedBase("W^{hh}", real=True)
b_ih, b_hh = sp.IndexedBase("b^{ih}", real=True), sp.IndexedBase("b^{hh}", real=True)
x, h, c = (sp.IndexedBase(name, real=True) for name in ("x", "h", "c"))
c_new = sp.IndexedBase("c'", real=True)
g = sp.IndexedBase("g", real=True)


def sigmoid(z):
    """The logistic function $1 / (1 + e^{-z})$ as a SymPy expression."""
    return 1 / (1 + sp.exp(-z))


def input_part(q, unit, x_of):
    """$\\sum_a W^{ih}_{qH+j,a} x_a + b^{ih}_{qH+j}$: gate ``q``'s input projection."""
    row = q * H + unit
    return sp.Sum(W_ih[row, a] * x_of(a), (a, 0, D - 1)) + b_ih[row]


def hidden_part(q, unit, h_of):
    """$\\sum_b W^{hh}_{qH+j,b} h_b + b^{hh}_{qH+j}$: gate ``q``'s hidden projection."""
    row = q * H + unit
    return sp.Sum(W_hh[row, b] * h_of(b), (b, 0, H - 1)) + b_hh[row]


def pre_activation(q, unit, x_of, h_of):
    """The sum of both projections of gate ``q`` for hidden unit ``unit``."""
    return input_part(q, unit, x_of) + hidden_part(q, unit, h_of)


def _cell(x_of, h_of, c_of):
    """(Elman h', LSTM c', LSTM h' given c', GRU h') for unit j."""
    pre = lambda q: pre_activation(q, j, x_of, h_of)  # noqa: E731
    elman = sp.tanh(pre(0))
    lstm_c = sigmoid(pre(1)) * c_of(j) + sigmoid(pre(0)) * sp.tanh(pre(2))
    lstm_h = sigmoid(pre(3)) * sp.tanh(c_new[j])
    r_gate, z_gate = sigmoid(pre(0)), sigmoid(pre(1))
    n_gate = sp.tanh(input_part(2, j, x_of) + r_gate * hidden_part(2, j, h_of))
    gru = (1 - z_gate) * n_gate + z_gate * h_of(j)
    return elman, lstm_c, lstm_h, gru


_one = _cell(lambda s: x[s], lambda s: h[s], lambda s: c[s])
_seq = _cell(lambda s: x[t, s], lambda s: h[t - 1, s], lambda s: c[t - 1, s])
_cell_args = (W_ih, W_hh, b_ih, b_hh, x, h, j, D, H)
_lstm_args = (W_ih, W_hh, b_ih, b_hh, x, h, c, j, D, H)
_seq_args = (W_ih, W_hh, b_ih, b_hh, x, h, t, j, D, H)
_seq_lstm_args = (W_ih, W_hh, b_ih, b_hh, x, h, c, t, j, D, H)

#: $h'_j = \tanh(W^{ih} x + b^{ih} + W^{hh} h + b^{hh})_j$, one step of the Elman RNN.
RNN_CELL = Formula("recurrent.rnn_cell", _one[0], _cell_args)
#: $c'_j = f_j c_j + i_j g_j$ with $f = \sigma(\cdot)$, $i = \sigma(\cdot)$, $g = \tanh(\cdot)$.
LSTM_CELL_STATE = Formula("recurrent.lstm_cell.cell_state", _one[1], _lstm_args)
#: $h'_j = o_j \tanh(c'_j)$.
LSTM_HIDDEN = Formula("recurrent.lstm_cell.hidden", _one[2], (*_cell_args, c_new))
#: $h'_j = (1 - z_j) n_j + z_j h_j$, $n_j = \tanh(W_{in} x + b_{in} + r_j (W_{hn} h + b_{hn}))$.
GRU_CELL = Formula("recurrent.gru_cell", _one[3], _cell_args)

#: The same steps along a sequence: $x_t$ in, $h_{t-1}$ (and $c_{t-1}$) carried.
RNN_STEP = Formula("recurrent.rnn", _seq[0], _seq_args)
LSTM_STEP_CELL = Formula("recurrent.lstm.cell_state", _seq[1], _seq_lstm_args)
LSTM_STEP_HIDDEN = Formula("recurrent.lstm.hidden", _seq[2], (*_seq_args, c_new))
GRU_STEP = Formula("recurrent.gru", _seq[3], _seq_args)

#: $\|g\| = \sqrt{\sum_k g_k^2}$ over every entry of every leaf.
GLOBAL_NORM = Formula("transforms.global_norm", sp.sqrt(sp.Sum(g[k] ** 2, (k, 0, n - 1))),
                      (g, n))
#: $g_j \min(1, c / \|g\|)$: the clipped gradient keeps the direction of $g$.
CLIPPED = Formula("transforms.clip_by_global_norm",
                  g[j] * sp.Min(1, c_max / sp.sqrt(sp.Sum(g[k] ** 2, (k, 0, n - 1)))),
                  (g, j, n, c_max))

#: The length of one sequence of a padded batch (its valid steps ``t = 1 ... ell``).
ell = sp.Symbol("ell", integer=True, positive=True)
#: The cell's new state at step ``t`` (:data:`RNN_STEP` ...), before the packing rule.
h_step = sp.IndexedBase(r"\tilde{h}", real=True)
#: The forward and the reverse outputs of a layer of a bidirectional stack.
y_forward = sp.IndexedBase(r"\overrightarrow{y}", real=True)
y_reverse = sp.IndexedBase(r"\overleftarrow{y}", real=True)

#: Packed sequences: the state moves on up to the length and is kept after it.
PACKED_STATE = Formula("recurrent_stacked.stacked_rnn.state",
                       sp.Piecewise((h_step[t, j], t <= ell), (h[t - 1, j], True)),
                       (h_step, h, t, j, ell))
#: ... and the output is the state up to the length, 0 after it.
PACKED_OUTPUT = Formula("recurrent_stacked.stacked_rnn.output",
                        sp.Piecewise((h[t, j], t <= ell), (0, True)), (h, t, j, ell))
#: The reverse direction reads each sequence backwards within its length.
REVERSED_INPUT = Formula("recurrent_stacked.stacked_rnn.reversed",
                         sp.Piecewise((x[ell + 1 - t, a], t <= ell), (x[t, a], True)),
                         (x, t, a, ell))
#: Layer ``l + 1`` reads the forward and the reverse outputs of layer ``l`` side by side.
LAYER_INPUT = Formula("recurrent_stacked.stacked_rnn.layer_input",
                      sp.Piecewise((y_forward[t, a], a < H), (y_reverse[t, a - H], True)),
                      (y_forward, y_reverse, t, a, H))

DOCUMENTED = {
    "recurrent.rnn_cell": (RNN_CELL,),
    "recurrent.lstm_cell": (LSTM_CELL_STATE, LSTM_HIDDEN),
    "recurrent.gru_cell": (GRU_CELL,),
    "recurrent.rnn": (RNN_STEP,),
    "recurrent.lstm": (LSTM_STEP_CELL, LSTM_STEP_HIDDEN),
    "recurrent.gru": (GRU_STEP,),
    "transforms.global_norm": (GLOBAL_NORM,),
    "transforms.clip_by_global_norm": (CLIPPED,),
    "recurrent_stacked.stacked_rnn": (PACKED_STATE, PACKED_OUTPUT, REVERSED_INPUT, LAYER_INPUT),
}
