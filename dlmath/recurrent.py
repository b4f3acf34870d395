r"""Recurrent networks: the Elman RNN, the LSTM and the GRU, one step and whole sequences.

Legend: ``B`` sequences in a batch, ``T`` time steps, ``D`` input features, ``H`` hidden
units, ``G`` the number of gate blocks (1 for the RNN, 4 for the LSTM, 3 for the GRU).

A cell's parameters are two dense layers (:func:`dlmath.layers.dense`, ``x @ w + b``), the
input projection and the recurrent one::

    {"ih": {"w": (D, G·H), "b": (G·H,)}, "hh": {"w": (H, G·H), "b": (G·H,)}}

Gate ``q`` owns the columns ``q·H ... q·H + H - 1``, in PyTorch's order: LSTM
``(i, f, g, o)``, GRU ``(r, z, n)`` with $n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h +
b_{hn}))$; both biases are kept, as PyTorch keeps them. The chapter's matrices $W_{ih}$
``(G·H, D)`` and $W_{hh}$ ``(G·H, H)`` (PyTorch's ``weight_ih`` and ``weight_hh``) are the
transposes of the kernels: :mod:`dlmath.convert` maps a ``torch.nn.RNN`` / ``LSTM`` /
``GRU`` state_dict (one layer, ``batch_first=True``) and flax.linen's cells.

A step is split in two: the input projection ``xw = x w_ih + b_ih`` and the recurrent part
(:func:`rnn_step`, :func:`lstm_step`, :func:`gru_step`), which adds ``h w_hh + b_hh`` and
applies the gates. The input projections do not depend on $h$, so they could be computed
for all ``T`` steps as one matrix product before the loop (hoisted: :func:`scan` without
``ih``); the sequence functions project each step's input inside ``jax.lax.scan`` instead
(:func:`scan` with ``ih``), as flax does, which on a CPU is the faster of the two.
Computation is in the parameters' float dtype (inputs and states of another float dtype are
cast to it, the package's rule).
Derived in ``notebooks/07_recurrent.ipynb``.
"""

from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp

from dlmath import _checks, initializers
from dlmath.activations import sigmoid, tanh
from dlmath.layers import dense

__all__ = ["GATES", "rnn_cell", "lstm_cell", "gru_cell", "rnn", "lstm", "gru", "rnn_step",
           "lstm_step", "gru_step", "scan", "init_rnn", "init_lstm", "init_gru"]


def __getattr__(name: str):
    """``recurrent.stacked_rnn``, ``stacked_lstm``, ``stacked_gru`` and ``init_stacked``: the
    stacked layers of :mod:`dlmath.recurrent_stacked` (built on this module's steps), also
    under this module's name (listed in that module's ``__all__``)."""
    if name in ("stacked_rnn", "stacked_lstm", "stacked_gru", "init_stacked"):
        from dlmath import recurrent_stacked

        return getattr(recurrent_stacked, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The number of gate blocks ``G`` of each cell.
GATES = {"rnn": 1, "lstm": 4, "gru": 3}

_HINT = ("Build them with recurrent.init_rnn / init_lstm / init_gru, or from PyTorch's with "
         "convert.from_pytorch(state_dict, cell).")


# ---------------------------------------------------------------- checks


def _check_params(who: str, params, cell: str):
    """H and D of a cell's parameters; every entry and shape checked."""
    G = GATES[cell]
    try:
        D, H = (_checks.shape_of(params[part]["w"])[0] for part in ("ih", "hh"))
    except (TypeError, KeyError, IndexError):
        D = H = 0  # the structure is reported below
    shapes = {("ih", "w"): ("(D, G·H)", (D, G * H)), ("ih", "b"): ("(G·H,)", (G * H,)),
              ("hh", "w"): ("(H, G·H)", (H, G * H)), ("hh", "b"): ("(G·H,)", (G * H,))}
    _checks.require_shapes(who, "params", params, shapes,
                           f" with G = {G} gate blocks ({cell}), D = {D}, H = {H}"
                           + (", the gates side by side in PyTorch's order" if G > 1 else ""),
                           _HINT)
    return H, D


def _check_state(who: str, name: str, h, batch, H: int) -> None:
    _checks.require_floating(who, name, h)
    s = _checks.shape_of(h)
    if s != (batch, H):
        raise ValueError(
            f"{who}: {name} must have shape (B, H) = ({batch}, {H}), one state per sequence; "
            f"got {_checks.fmt(s)}. Start from jnp.zeros((B, H)); H is the hidden size of "
            "the parameters (the recurrent kernel w is (H, G·H))."
        )


def _check_inputs(who: str, name: str, x, rank: int, D: int):
    legend = "(B, T, D)" if rank == 3 else "(B, D)"
    _checks.require_floating(who, name, x)
    _checks.require_ndim(who, name, x, rank, legend,
                         "Batch-first: one sequence is xs[None]." if rank == 3
                         else "One step of a batch; a single example is x[None].")
    s = _checks.shape_of(x)
    if s[-1] != D:
        raise ValueError(
            f"{who}: {name} must have D = {D} features (the rows of params['ih']['w'], "
            f"(D, G·H)); got {name} {_checks.fmt(s)}. The feature size is the last axis "
            f"{legend}."
        )
    return s[0]


def _states(who: str, cell: str, name: str, state) -> list:
    """``[(name, array)]`` of a state: ``h``, or the LSTM's pair ``(h, c)``."""
    if cell != "lstm":
        return [(name, state)]
    if not isinstance(state, tuple) or len(state) != 2:
        raise TypeError(
            f"{who}: {name} must be the tuple (h, c) of two (B, H) arrays; got "
            f"{type(state).__name__}. flax's LSTM cells carry (c, h): swap them."
        )
    return [(f"{name}[0] (h)", state[0]), (f"{name}[1] (c)", state[1])]


def _check_call(who: str, cell: str, params, x, rank: int, name: str, state) -> None:
    """A cell (``rank`` 2, ``x (B, D)``) or a sequence (3, ``xs (B, T, D)``) function."""
    states = _states(who, cell, name, state)
    H, D = _check_params(who, params, cell)
    B = _check_inputs(who, "xs" if rank == 3 else "x", x, rank, D)
    for state_name, s in states:
        _check_state(who, state_name, s, B, H)


def _check_step(who: str, cell: str, hh, xw, state) -> None:
    states = _states(who, cell, "state" if cell == "lstm" else "h", state)
    G = GATES[cell]
    H, gh = _checks.require_dense(who, "hh", hh, ("H", "G·H"), _HINT)
    if gh != G * H:
        raise ValueError(f"{who}: hh must have w (H, G·H) with G = {G} gate blocks ({cell}); "
                         f"got w {_checks.fmt((H, gh))}.")
    _checks.float_dtype_of_tree(who, "hh", hh)
    _checks.require_floating(who, "xw", xw)
    _checks.require_ndim(who, "xw", xw, 2, f"(B, G·H) = (B, {G * H})",
                         "xw is the step's input projection, dense(params['ih'], x).")
    if _checks.shape_of(xw)[1] != G * H:
        raise ValueError(f"{who}: xw must have shape (B, G·H) = (B, {G * H}), the input "
                         f"projection of the step; got {_checks.fmt(_checks.shape_of(xw))}.")
    for name, s in states:
        _check_state(who, name, s, _checks.shape_of(xw)[0], H)


def _in_dtype(params, state):
    """A state (an array or the LSTM's pair) in the parameters' dtype."""
    dtype = params["hh"]["w"].dtype
    return jax.tree_util.tree_map(lambda a: a.astype(dtype), state)


# ---------------------------------------------------------------- one step (recurrent part)


@_checks.checked(lambda hh, xw, h: _check_step("rnn_step", "rnn", hh, xw, h))
def rnn_step(hh, xw, h):
    r"""The recurrent part of one Elman step: $\tanh(x w_{ih} + b_{ih} + h w_{hh} + b_{hh})$,
    given the step's input projection ``xw`` $= x w_{ih} + b_{ih}$ (computed outside,
    ``dense(params["ih"], x)``, for one step or for all steps at once).

    Args:
        hh: the recurrent dense layer ``{"w": (H, H), "b": (H,)}`` (``params["hh"]``).
        xw: floating ``(B, H)``.
        h: floating ``(B, H)``, the previous state.

    Returns:
        ``(B, H)``: the new state, in the parameters' dtype.

    Raises:
        ValueError: ``hh`` not a dense layer ``(H, H)``; ``xw`` or ``h`` not ``(B, H)``.
        TypeError: non-floating arrays; parameters of mixed float dtypes.
    """
    return tanh(xw.astype(hh["w"].dtype) + dense.kernel(hh, h))


@_checks.checked(lambda hh, xw, state: _check_step("lstm_step", "lstm", hh, xw, state))
def lstm_step(hh, xw, state):
    r"""The recurrent part of one LSTM step, given the step's input projection ``xw``: the
    four gate blocks $(i, f, g, o)$ of ``xw`` $+\, h w_{hh} + b_{hh}$ (PyTorch's order), then
    $c' = \sigma(f) \odot c + \sigma(i) \odot \tanh(g)$ and $h' = \sigma(o) \odot \tanh(c')$.

    Args:
        hh: the recurrent dense layer ``{"w": (H, 4H), "b": (4H,)}``.
        xw: floating ``(B, 4H)``, $x w_{ih} + b_{ih}$.
        state: the tuple ``(h, c)``, each floating ``(B, H)``.

    Returns:
        ``(h', c')``, each ``(B, H)``, in the parameters' dtype.

    Raises:
        ValueError, TypeError: as :func:`rnn_step`, with ``G = 4``; ``state`` not a pair.
    """
    h, c = state
    i, f, g, o = jnp.split(xw.astype(hh["w"].dtype) + dense.kernel(hh, h), 4, axis=-1)
    c = sigmoid(f) * c.astype(f.dtype) + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c), c


@_checks.checked(lambda hh, xw, h: _check_step("gru_step", "gru", hh, xw, h))
def gru_step(hh, xw, h):
    r"""The recurrent part of one GRU step, given the step's input projection ``xw``:
    $r, z = \sigma(\cdot)$ of the first two gate blocks of ``xw`` and $h w_{hh} + b_{hh}$,
    $n = \tanh(x_n + r \odot h_n)$ ($r$ multiplies the hidden part of the candidate, its
    bias included, as PyTorch), and $h' = (1 - z) \odot n + z \odot h$.

    Args:
        hh: the recurrent dense layer ``{"w": (H, 3H), "b": (3H,)}``.
        xw: floating ``(B, 3H)``, $x w_{ih} + b_{ih}$.
        h: floating ``(B, H)``.

    Returns:
        ``(B, H)``: the new state, in the parameters' dtype.

    Raises:
        ValueError, TypeError: as :func:`rnn_step`, with ``G = 3``.
    """
    x_r, x_z, x_n = jnp.split(xw.astype(hh["w"].dtype), 3, axis=-1)
    h_r, h_z, h_n = jnp.split(dense.kernel(hh, h), 3, axis=-1)
    r = sigmoid(x_r + h_r)
    z = sigmoid(x_z + h_z)
    n = tanh(x_n + r * h_n)
    return (1 - z) * n + z * h.astype(n.dtype)


def scan(step, carry, xw, ih=None):
    r"""Run ``step(xw_t, carry) -> carry`` over the time axis with ``jax.lax.scan``: the
    loop of :func:`rnn`, :func:`lstm` and :func:`gru`, whose steps are :func:`rnn_step` ...
    with ``params["hh"]`` bound.

    Without ``ih``, ``xw`` holds the input projections of every step, computed before the
    loop (*hoisted*: one large matrix product). With ``ih`` (the input layer
    ``params["ih"]``), ``xw`` holds the inputs and each step projects its own,
    ``dense(ih, x_t)``, inside the loop, as flax's cells do. The two give the same
    numbers; the sequence functions take the second, which on a CPU is the faster: the
    hoisted projections of all steps are written to memory and read back one step at a
    time (``notebooks/07_recurrent.ipynb`` measures both).

    Args:
        step: a function ``(xw_t (B, G·H), carry) -> carry``.
        carry: the initial state, an array ``(B, H)`` or the LSTM's pair ``(h, c)``.
        xw: floating ``(B, T, G·H)``, the input projections of every step; with ``ih``,
            the inputs ``(B, T, D)``.
        ih: ``None``, or the input layer ``{"w": (D, G·H), "b": (G·H,)}``.

    Returns:
        ``(hs, carry)``: the hidden state of every step ``(B, T, H)`` (the carry, or its
        first entry) and the last carry.

    Raises:
        TypeError: ``step`` not callable; ``xw`` or the carry's arrays not floating, or a
            carry that is neither an array nor a tuple of arrays.
        ValueError: ``xw`` not of rank 3; a carry's array not ``(B, H)`` with the ``B`` of
            ``xw``.
    """
    _checks.require_callable("scan", "step", step, "a function (xw_t, carry) -> carry")
    _checks.require_floating("scan", "xw", xw)
    _checks.require_ndim("scan", "xw", xw, 3, "(B, T, G·H)" if ih is None else "(B, T, D)",
                         "Batch-first: time is axis 1.")
    for k, h in enumerate(carry if isinstance(carry, tuple) else (carry,)):
        name = f"carry[{k}]" if isinstance(carry, tuple) else "carry"
        _checks.require_floating("scan", name, h)
        if len(_checks.shape_of(h)) != 2 or _checks.shape_of(h)[0] != _checks.shape_of(xw)[0]:
            raise ValueError(
                f"scan: {name} must have shape (B, H) with the B = {_checks.shape_of(xw)[0]} "
                f"sequences of xw {_checks.fmt(_checks.shape_of(xw))}; got "
                f"{_checks.fmt(_checks.shape_of(h))}. One state per sequence."
            )

    def body(carry, xw_t):
        carry = step(xw_t if ih is None else dense.kernel(ih, xw_t), carry)
        return carry, carry[0] if isinstance(carry, tuple) else carry

    carry, hs = jax.lax.scan(body, carry, jnp.swapaxes(xw, 0, 1))
    return jnp.swapaxes(hs, 0, 1), carry


# ---------------------------------------------------------------- cells


@_checks.checked(lambda params, x, h: _check_call("rnn_cell", "rnn", params, x, 2, "h", h))
def rnn_cell(params, x, h):
    r"""One step of the Elman RNN, $h' = \tanh(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})$.

    $$\tanh{\left({b^{hh}}_{j} + {b^{ih}}_{j} + \sum_{b=0}^{H -
    1} {W^{hh}}_{j,b} {h}_{b} + \sum_{a=0}^{D - 1} {W^{ih}}_{j,a} {x}_{a} \right)}$$

    is hidden unit $j$ of the new state, for one sequence of the batch ($W_{ih}$ and
    $W_{hh}$ are PyTorch's ``(G·H, ·)`` matrices, the transposes of the kernels).

    Args:
        params: ``{"ih": {"w": (D, H), "b": (H,)}, "hh": {"w": (H, H), "b": (H,)}}``
            (``G = 1``; :func:`init_rnn`).
        x: floating ``(B, D)``, the inputs of this step.
        h: floating ``(B, H)``, the previous state.

    Returns:
        ``(B, H)``: the new state, in the parameters' dtype.

    Raises:
        ValueError: a missing or extra parameter; parameter shapes that do not fit together; ``x``
            not ``(B, D)`` with the parameters' ``D``; ``h`` not ``(B, H)``.
        TypeError: non-floating arrays; parameters of mixed float dtypes.

    Derived in ``notebooks/07_recurrent.ipynb``.
    """
    return rnn_step.kernel(params["hh"], dense.kernel(params["ih"], x), h)


@_checks.checked(lambda params, x, state: _check_call("lstm_cell", "lstm", params, x, 2, "state",
                                                      state))
def lstm_cell(params, x, state):
    r"""One step of the LSTM: gates $i, f, o = \sigma(\cdot)$, $g = \tanh(\cdot)$ of
    $x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh}$ (split into four blocks in that order), then

    $$\frac{\tanh{\left({b^{hh}}_{2 H + j} + {b^{ih}}_{2 H + j} + \sum_{b=0}^{H -
    1} {W^{hh}}_{2 H + j,b} {h}_{b} + \sum_{a=0}^{D - 1} {W^{ih}}_{2 H +
    j,a} {x}_{a} \right)}}{e^{- {b^{hh}}_{j} - {b^{ih}}_{j} - \sum_{b=0}^{H -
    1} {W^{hh}}_{j,b} {h}_{b} - \sum_{a=0}^{D - 1} {W^{ih}}_{j,a} {x}_{a}} +
    1} + \frac{{c}_{j}}{e^{- {b^{hh}}_{H + j} - {b^{ih}}_{H + j} - \sum_{b=0}^{H -
    1} {W^{hh}}_{H + j,b} {h}_{b} - \sum_{a=0}^{D - 1} {W^{ih}}_{H + j,a} {x}_{a}} + 1}$$

    is the new cell state $c'_j = f_j c_j + i_j g_j$, and

    $$\frac{\tanh{\left({c'}_{j} \right)}}{e^{- {b^{hh}}_{3 H + j} - {b^{ih}}_{3 H +
    j} - \sum_{b=0}^{H - 1} {W^{hh}}_{3 H + j,b} {h}_{b} - \sum_{a=0}^{D - 1} {W^{ih}}_{3 H +
    j,a} {x}_{a}} + 1}$$

    the new hidden state $h'_j = o_j \tanh(c'_j)$.

    Args:
        params: ``{"ih": {"w": (D, 4H), "b": (4H,)}, "hh": {"w": (H, 4H), "b": (4H,)}}``,
            gate order ``(i, f, g, o)`` (PyTorch's ``nn.LSTMCell``; :func:`init_lstm`).
        x: floating ``(B, D)``.
        state: the tuple ``(h, c)``, each floating ``(B, H)``.

    Returns:
        ``(h', c')``, each ``(B, H)``, in the parameters' dtype.

    Raises:
        ValueError: as :func:`rnn_cell`, with ``G = 4``.
        TypeError: ``state`` not a pair; non-floating arrays; mixed parameter dtypes.

    Derived in ``notebooks/07_recurrent.ipynb``.
    """
    return lstm_step.kernel(params["hh"], dense.kernel(params["ih"], x), state)


@_checks.checked(lambda params, x, h: _check_call("gru_cell", "gru", params, x, 2, "h", h))
def gru_cell(params, x, h):
    r"""One step of the GRU in PyTorch's form: $r, z = \sigma(\cdot)$,
    $n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn}))$, and

    $$\left(1 - \frac{1}{e^{- {b^{hh}}_{H + j} - {b^{ih}}_{H + j} - \sum_{b=0}^{H -
    1} {W^{hh}}_{H + j,b} {h}_{b} - \sum_{a=0}^{D - 1} {W^{ih}}_{H + j,a} {x}_{a}} +
    1}\right) \tanh{\left({b^{ih}}_{2 H + j} + \sum_{a=0}^{D - 1} {W^{ih}}_{2 H +
    j,a} {x}_{a} + \frac{{b^{hh}}_{2 H + j} + \sum_{b=0}^{H - 1} {W^{hh}}_{2 H +
    j,b} {h}_{b}}{e^{- {b^{hh}}_{j} - {b^{ih}}_{j} - \sum_{b=0}^{H -
    1} {W^{hh}}_{j,b} {h}_{b} - \sum_{a=0}^{D - 1} {W^{ih}}_{j,a} {x}_{a}} +
    1} \right)} + \frac{{h}_{j}}{e^{- {b^{hh}}_{H + j} - {b^{ih}}_{H + j} - \sum_{b=0}^{H -
    1} {W^{hh}}_{H + j,b} {h}_{b} - \sum_{a=0}^{D - 1} {W^{ih}}_{H + j,a} {x}_{a}} + 1}$$

    is $h'_j = (1 - z_j) n_j + z_j h_j$.

    Args:
        params: ``{"ih": {"w": (D, 3H), "b": (3H,)}, "hh": {"w": (H, 3H), "b": (3H,)}}``,
            gate order ``(r, z, n)`` (PyTorch's ``nn.GRUCell``; :func:`init_gru`).
        x: floating ``(B, D)``.
        h: floating ``(B, H)``.

    Returns:
        ``(B, H)``: the new state, in the parameters' dtype.

    Raises:
        ValueError: as :func:`rnn_cell`, with ``G = 3``.
        TypeError: non-floating arrays; mixed parameter dtypes.

    Derived in ``notebooks/07_recurrent.ipynb``.
    """
    return gru_step.kernel(params["hh"], dense.kernel(params["ih"], x), h)


# ---------------------------------------------------------------- sequences


@_checks.checked(lambda params, xs, initial_h: _check_call("rnn", "rnn", params, xs, 3,
                                                          "initial_h", initial_h))
def rnn(params, xs, initial_h):
    r"""The Elman RNN over a batch of sequences (PyTorch's ``nn.RNN``, ``batch_first``).

    $$\tanh{\left({b^{hh}}_{j} + {b^{ih}}_{j} + \sum_{b=0}^{H - 1} {W^{hh}}_{j,b} {h}_{t -
    1,b} + \sum_{a=0}^{D - 1} {W^{ih}}_{j,a} {x}_{t,a} \right)}$$

    is unit $j$ of $h_t$ for $t = 1 \dots T$, from $h_0$ = ``initial_h``. The input
    projections of all steps are one matrix product before the ``lax.scan``.

    Args:
        params: as :func:`rnn_cell`.
        xs: floating ``(B, T, D)``.
        initial_h: floating ``(B, H)``.

    Returns:
        ``(hs, h_T)``: every state ``(B, T, H)`` and the last one ``(B, H)`` (``h_0`` when
        ``T = 0``), in the parameters' dtype.

    Raises:
        ValueError: a missing or extra parameter; parameter shapes that do not fit together; ``xs``
            not ``(B, T, D)`` with the parameters' ``D``; ``initial_h`` not ``(B, H)``.
        TypeError: non-floating arrays; mixed parameter dtypes.

    Derived in ``notebooks/07_recurrent.ipynb``.
    """
    step = functools.partial(rnn_step.kernel, params["hh"])
    return scan(step, _in_dtype(params, initial_h), xs, ih=params["ih"])


@_checks.checked(lambda params, xs, initial_state: _check_call(
    "lstm", "lstm", params, xs, 3, "initial_state", initial_state))
def lstm(params, xs, initial_state):
    r"""The LSTM over a batch of sequences (PyTorch's ``nn.LSTM``, ``batch_first``).

    $$\frac{\tanh{\left({b^{hh}}_{2 H + j} + {b^{ih}}_{2 H + j} + \sum_{b=0}^{H -
    1} {W^{hh}}_{2 H + j,b} {h}_{t - 1,b} + \sum_{a=0}^{D - 1} {W^{ih}}_{2 H +
    j,a} {x}_{t,a} \right)}}{e^{- {b^{hh}}_{j} - {b^{ih}}_{j} - \sum_{b=0}^{H -
    1} {W^{hh}}_{j,b} {h}_{t - 1,b} - \sum_{a=0}^{D - 1} {W^{ih}}_{j,a} {x}_{t,a}} +
    1} + \frac{{c}_{t - 1,j}}{e^{- {b^{hh}}_{H + j} - {b^{ih}}_{H + j} - \sum_{b=0}^{H -
    1} {W^{hh}}_{H + j,b} {h}_{t - 1,b} - \sum_{a=0}^{D - 1} {W^{ih}}_{H + j,a} {x}_{t,a}} + 1}$$

    is unit $j$ of the cell state $c_t = f_t \odot c_{t-1} + i_t \odot g_t$, and with
    $c'_j$ that new cell state

    $$\frac{\tanh{\left({c'}_{j} \right)}}{e^{- {b^{hh}}_{3 H + j} - {b^{ih}}_{3 H +
    j} - \sum_{b=0}^{H - 1} {W^{hh}}_{3 H + j,b} {h}_{t - 1,b} - \sum_{a=0}^{D -
    1} {W^{ih}}_{3 H + j,a} {x}_{t,a}} + 1}$$

    is unit $j$ of $h_t = o_t \odot \tanh(c_t)$, for $t = 1 \dots T$.

    Args:
        params: as :func:`lstm_cell` (gate order ``(i, f, g, o)``).
        xs: floating ``(B, T, D)``.
        initial_state: the tuple ``(h_0, c_0)``, each floating ``(B, H)``.

    Returns:
        ``(hs, (h_T, c_T))``: every hidden state ``(B, T, H)`` and the last pair, in the
        parameters' dtype.

    Raises:
        ValueError: as :func:`rnn`, with ``G = 4``.
        TypeError: ``initial_state`` not a pair; non-floating arrays; mixed parameter dtypes.

    Derived in ``notebooks/07_recurrent.ipynb``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from dlmath import recurrent
        >>> params = recurrent.init_lstm(jax.random.key(0), 3, 8)  # D = 3 inputs, H = 8 units
        >>> xs = jnp.ones((2, 5, 3))                                # B = 2, T = 5
        >>> hs, (h, c) = recurrent.lstm(params, xs, (jnp.zeros((2, 8)), jnp.zeros((2, 8))))
        >>> hs.shape, h.shape, bool(jnp.all(hs[:, -1] == h))
        ((2, 5, 8), (2, 8), True)
    """
    step = functools.partial(lstm_step.kernel, params["hh"])
    return scan(step, _in_dtype(params, tuple(initial_state)), xs, ih=params["ih"])


@_checks.checked(lambda params, xs, initial_h: _check_call("gru", "gru", params, xs, 3,
                                                          "initial_h", initial_h))
def gru(params, xs, initial_h):
    r"""The GRU over a batch of sequences (PyTorch's ``nn.GRU``, ``batch_first``).

    $$\left(1 - \frac{1}{e^{- {b^{hh}}_{H + j} - {b^{ih}}_{H + j} - \sum_{b=0}^{H -
    1} {W^{hh}}_{H + j,b} {h}_{t - 1,b} - \sum_{a=0}^{D - 1} {W^{ih}}_{H +
    j,a} {x}_{t,a}} + 1}\right) \tanh{\left({b^{ih}}_{2 H + j} + \sum_{a=0}^{D -
    1} {W^{ih}}_{2 H + j,a} {x}_{t,a} + \frac{{b^{hh}}_{2 H + j} + \sum_{b=0}^{H -
    1} {W^{hh}}_{2 H + j,b} {h}_{t - 1,b}}{e^{- {b^{hh}}_{j} - {b^{ih}}_{j} - \sum_{b=0}^{H -
    1} {W^{hh}}_{j,b} {h}_{t - 1,b} - \sum_{a=0}^{D - 1} {W^{ih}}_{j,a} {x}_{t,a}} +
    1} \right)} + \frac{{h}_{t - 1,j}}{e^{- {b^{hh}}_{H + j} - {b^{ih}}_{H + j} -
    \sum_{b=0}^{H - 1} {W^{hh}}_{H + j,b} {h}_{t - 1,b} - \sum_{a=0}^{D - 1} {W^{ih}}_{H +
    j,a} {x}_{t,a}} + 1}$$

    is unit $j$ of $h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$, for $t = 1 \dots T$.

    Args:
        params: as :func:`gru_cell` (gate order ``(r, z, n)``).
        xs: floating ``(B, T, D)``.
        initial_h: floating ``(B, H)``.

    Returns:
        ``(hs, h_T)``: ``(B, T, H)`` and ``(B, H)``, in the parameters' dtype.

    Raises:
        ValueError: as :func:`rnn`, with ``G = 3``.
        TypeError: non-floating arrays; mixed parameter dtypes.

    Derived in ``notebooks/07_recurrent.ipynb``.
    """
    step = functools.partial(gru_step.kernel, params["hh"])
    return scan(step, _in_dtype(params, initial_h), xs, ih=params["ih"])


# ---------------------------------------------------------------- parameters


def _init(who: str, cell: str, key, input_size, hidden_size, dtype) -> dict:
    """PyTorch's draw: one uniform draw for the four arrays, in PyTorch's order and layout
    (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``), the weights then transposed."""
    _checks.require_key(who, key, "the weights")
    _checks.count(who, "input_size", input_size, low=1)
    _checks.count(who, "hidden_size", hidden_size, low=1)
    _checks.require_float_dtype(who, "dtype", dtype)
    G, H, D = GATES[cell], hidden_size, input_size
    shapes = [(G * H, D), (G * H, H), (G * H,), (G * H,)]
    # one draw of at least 4096 entries (a power of two): each new shape of a draw compiles
    # the random-bit kernel anew, so small models share one compile
    sizes = [math.prod(shape) for shape in shapes]
    draw = initializers.pytorch_uniform(H, dtype=dtype)
    flat = draw(key, (max(4096, 1 << (sum(sizes) - 1).bit_length()),))
    w_ih, w_hh, b_ih, b_hh = (flat[lo:lo + size].reshape(shape) for shape, lo, size in zip(
        shapes, itertools.accumulate(sizes, initial=0), sizes, strict=False))
    return {"ih": {"w": w_ih.T, "b": b_ih}, "hh": {"w": w_hh.T, "b": b_hh}}


def init_rnn(key, input_size: int, hidden_size: int, *, dtype=jnp.float32) -> dict:
    r"""Parameters of a one-layer Elman RNN (:func:`rnn`, :func:`rnn_cell`), drawn as
    PyTorch draws ``nn.RNN``'s: every entry uniform in $(-1/\sqrt{H}, 1/\sqrt{H})$
    (:func:`dlmath.initializers.pytorch_uniform` with $n = H$), independently: one draw
    from ``key`` for the four arrays, in PyTorch's order and ``(out, in)`` layout, the
    weights then transposed (a key gives PyTorch's layout of the same numbers).

    Args:
        key: a ``jax.random`` key.
        input_size: $D \ge 1$.
        hidden_size: $H \ge 1$.
        dtype: a floating dtype (``None``: JAX's default float dtype).

    Returns:
        ``{"ih": {"w": (D, H), "b": (H,)}, "hh": {"w": (H, H), "b": (H,)}}``.

    Raises:
        ValueError: ``input_size`` or ``hidden_size`` below 1.
        TypeError: a missing key; sizes that are not ints; ``dtype`` not floating.
    """
    return _init("init_rnn", "rnn", key, input_size, hidden_size, dtype)


def init_lstm(key, input_size: int, hidden_size: int, *, dtype=jnp.float32) -> dict:
    r"""Parameters of a one-layer LSTM (:func:`lstm`, :func:`lstm_cell`), drawn as
    :func:`init_rnn` draws (PyTorch's ``nn.LSTM``), with ``G = 4`` gate blocks.

    Args:
        key, input_size, hidden_size, dtype: as :func:`init_rnn`.

    Returns:
        ``{"ih": {"w": (D, 4H), "b": (4H,)}, "hh": {"w": (H, 4H), "b": (4H,)}}``.

    Raises:
        ValueError, TypeError: as :func:`init_rnn`.
    """
    return _init("init_lstm", "lstm", key, input_size, hidden_size, dtype)


def init_gru(key, input_size: int, hidden_size: int, *, dtype=jnp.float32) -> dict:
    r"""Parameters of a one-layer GRU (:func:`gru`, :func:`gru_cell`), drawn as
    :func:`init_rnn` draws (PyTorch's ``nn.GRU``), with ``G = 3`` gate blocks.

    Args:
        key, input_size, hidden_size, dtype: as :func:`init_rnn`.

    Returns:
        ``{"ih": {"w": (D, 3H), "b": (3H,)}, "hh": {"w": (H, 3H), "b": (3H,)}}``.

    Raises:
        ValueError, TypeError: as :func:`init_rnn`.
    """
    return _init("init_gru", "gru", key, input_size, hidden_size, dtype)

