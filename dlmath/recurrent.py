r"""Recurrent networks: the Elman RNN, the LSTM and the GRU, one step and whole sequences.

Legend: ``B`` sequences in a batch, ``T`` time steps, ``D`` input features, ``H`` hidden
units, ``G`` the number of gate blocks (1 for the RNN, 4 for the LSTM, 3 for the GRU).

Layout and names follow PyTorch, so weights saved from ``torch.nn.RNN``/``LSTM``/``GRU``
(one layer, ``batch_first=True``) load by name. A parameter set is a dict with exactly
:data:`PARAM_NAMES`:

* ``weight_ih``: ``(G·H, D)``, ``weight_hh``: ``(G·H, H)``, ``bias_ih`` and ``bias_hh``:
  ``(G·H,)``; gate ``q`` owns the rows ``q·H ... q·H + H - 1``;
* gate order: LSTM ``(i, f, g, o)``, GRU ``(r, z, n)`` with
  $n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn}))$.

From a PyTorch state_dict (its keys carry a layer suffix ``_l0``)::

    params = {k.removesuffix("_l0"): jnp.asarray(v.detach().numpy())
              for k, v in module.state_dict().items()}

The sequence functions compute the input projection $x_t W_{ih}^T + b_{ih}$ of all
``T`` steps as one matrix product before the loop (it does not depend on $h$), and run only
the recurrent part inside ``jax.lax.scan``. Computation is in the parameters' float dtype
(inputs and states of another float dtype are cast to it, the package's rule).

**flax.linen's cells** hold the same weights transposed and split per gate (and sum the two
biases where only one is added). With $W_q$ the row block of gate $q$:

* ``SimpleCell``: ``i.kernel`` $= W_{ih}^T$, ``i.bias`` $= b_{ih} + b_{hh}$,
  ``h.kernel`` $= W_{hh}^T$.
* ``LSTMCell`` / ``OptimizedLSTMCell``: for each gate $q \in$ (i, f, g, o), ``i{q}.kernel``
  $= W_{ih,q}^T$ (no bias), ``h{q}.kernel`` $= W_{hh,q}^T$,
  ``h{q}.bias`` $= b_{ih,q} + b_{hh,q}$. Their carry is ``(c, h)``, ours ``(h, c)``.
* ``GRUCell``: ``ir``/``iz`` kernels $W_{ih,r}^T, W_{ih,z}^T$ with biases
  $b_{ih,r} + b_{hh,r}$, $b_{ih,z} + b_{hh,z}$; ``hr``/``hz`` kernels (no bias);
  ``in`` $= (W_{ih,n}^T, b_{ih,n})$ and ``hn`` $= (W_{hh,n}^T, b_{hh,n})$ (kept apart: $r$
  multiplies only the hidden part).

:func:`to_flax` builds those dicts. Derived in ``notebooks/07_recurrent.ipynb``.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp

from dlmath import _checks

__all__ = ["PARAM_NAMES", "GATES", "rnn_cell", "lstm_cell", "gru_cell", "rnn", "lstm", "gru",
           "init_params", "to_flax"]

#: PyTorch's state_dict keys of a one-layer recurrent module, without the ``_l0`` suffix.
PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
#: The number of gate blocks ``G`` of each cell.
GATES = {"rnn": 1, "lstm": 4, "gru": 3}

_HINT = ("Load a PyTorch state_dict with {k.removesuffix('_l0'): v for k, v in "
         "state_dict.items()}, or build one with recurrent.init_params.")


# ---------------------------------------------------------------- checks


def _check_params(who: str, params, cell: str):
    """The parameters' dtype, H and D; every name, rank and shape checked."""
    G = GATES[cell]
    _checks.require_keys(who, "params", params, PARAM_NAMES,
                         f"the state_dict of a one-layer {cell.upper()}", _HINT)
    for name in PARAM_NAMES:
        _checks.require_floating(who, f"params['{name}']", params[name])
    dtype = _checks.float_dtype_of_tree(who, "params", params)
    w_ih, w_hh = params["weight_ih"], params["weight_hh"]
    legend_ih, legend_hh = "(G·H, D)", "(G·H, H)"
    _checks.require_ndim(who, "params['weight_ih']", w_ih, 2, legend_ih + f" with G = {G}")
    _checks.require_ndim(who, "params['weight_hh']", w_hh, 2, legend_hh + f" with G = {G}")
    gh, D = _checks.shape_of(w_ih)
    H = _checks.shape_of(w_hh)[1]
    if _checks.shape_of(w_hh) != (G * H, H) or gh != G * H:
        raise ValueError(
            f"{who}: params['weight_hh'] must have shape (G·H, H) and params['weight_ih'] "
            f"(G·H, D), with G = {G} gate blocks ({cell}); got weight_hh "
            f"{_checks.fmt(_checks.shape_of(w_hh))}, weight_ih {_checks.fmt((gh, D))}. "
            + ("The gates are stacked along the rows in PyTorch's order."
               if G > 1 else "Rows are hidden units, columns the features they read.")
        )
    for name in ("bias_ih", "bias_hh"):
        if _checks.shape_of(params[name]) != (G * H,):
            raise ValueError(
                f"{who}: params['{name}'] must have shape (G·H,) = ({G * H},) for H = {H} "
                f"and G = {G} ({cell}); got {_checks.fmt(_checks.shape_of(params[name]))}."
            )
    return dtype, H, D


def _check_state(who: str, name: str, h, batch, H: int) -> None:
    _checks.require_floating(who, name, h)
    s = _checks.shape_of(h)
    if s != (batch, H):
        raise ValueError(
            f"{who}: {name} must have shape (B, H) = ({batch}, {H}), one state per sequence; "
            f"got {_checks.fmt(s)}. Start from jnp.zeros((B, H)); H is the hidden size of "
            "params (weight_hh is (G·H, H))."
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
            f"{who}: {name} must have D = {D} features (the columns of params['weight_ih'], "
            f"(G·H, D)); got {name} {_checks.fmt(s)}. The feature size is the last axis "
            f"{legend}."
        )
    return s[0]


def _split_state(who: str, state):
    if not isinstance(state, tuple) or len(state) != 2:
        raise TypeError(
            f"{who}: initial_state must be the tuple (h, c) of two (B, H) arrays; got "
            f"{type(state).__name__}. flax's LSTM cells carry (c, h): swap them."
        )
    return state


def _prepare(who, params, cell, x, rank, states):
    dtype, H, D = _check_params(who, params, cell)
    names = ["xs" if rank == 3 else "x"] + [n for n, _ in states]
    B = _check_inputs(who, names[0], x, rank, D)
    for name, s in states:
        _check_state(who, name, s, B, H)
    arrays = _checks.cast_floats(dtype, x, *(s for _, s in states))
    p = {k: jnp.asarray(v) for k, v in params.items()}
    return p, H, arrays


# ---------------------------------------------------------------- one step (recurrent part)


def _hidden(p, h):
    return h @ p["weight_hh"].T + p["bias_hh"]


def _project(p, x):
    """The input projection x W_ih^T + b_ih, for one step (B, D) or all of them (B, T, D)."""
    return x @ p["weight_ih"].T + p["bias_ih"]


def _rnn_step(p, xw, h):
    return jnp.tanh(xw + _hidden(p, h))


def _lstm_step(p, xw, h, c):
    i, f, g, o = jnp.split(xw + _hidden(p, h), 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c


def _gru_step(p, xw, h):
    x_r, x_z, x_n = jnp.split(xw, 3, axis=-1)
    h_r, h_z, h_n = jnp.split(_hidden(p, h), 3, axis=-1)
    r = jax.nn.sigmoid(x_r + h_r)
    z = jax.nn.sigmoid(x_z + h_z)
    n = jnp.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


def _scan(step, carry, xw):
    """Run ``step(xw_t, carry) -> carry`` over the time axis of (B, T, G·H); the output of
    each step is its hidden state (the carry's first entry, or the carry)."""
    def body(carry, xw_t):
        carry = step(xw_t, carry)
        return carry, carry[0] if isinstance(carry, tuple) else carry

    carry, hs = jax.lax.scan(body, carry, jnp.swapaxes(xw, 0, 1))
    return jnp.swapaxes(hs, 0, 1), carry


# ---------------------------------------------------------------- cells


def rnn_cell(params, x, h):
    r"""One step of the Elman RNN, $h' = \tanh(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})$.

    $$\tanh{\left({b^{hh}}_{j} + {b^{ih}}_{j} + \sum_{b=0}^{H -
    1} {W^{hh}}_{j,b} {h}_{b} + \sum_{a=0}^{D - 1} {W^{ih}}_{j,a} {x}_{a} \right)}$$

    is hidden unit $j$ of the new state, for one sequence of the batch.

    Args:
        params: ``{"weight_ih": (H, D), "weight_hh": (H, H), "bias_ih": (H,),
            "bias_hh": (H,)}`` (PyTorch's ``nn.RNNCell`` names; ``G = 1``).
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
    p, _, (x, h) = _prepare("rnn_cell", params, "rnn", x, 2, [("h", h)])
    return _rnn_step(p, _project(p, x), h)


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
        params: ``{"weight_ih": (4H, D), "weight_hh": (4H, H), "bias_ih": (4H,),
            "bias_hh": (4H,)}``, gate order ``(i, f, g, o)`` (PyTorch's ``nn.LSTMCell``).
        x: floating ``(B, D)``.
        state: the tuple ``(h, c)``, each floating ``(B, H)``.

    Returns:
        ``(h', c')``, each ``(B, H)``, in the parameters' dtype.

    Raises:
        ValueError: as :func:`rnn_cell`, with ``G = 4``.
        TypeError: ``state`` not a pair; non-floating arrays; mixed parameter dtypes.

    Derived in ``notebooks/07_recurrent.ipynb``.
    """
    who = "lstm_cell"
    h, c = _split_state(who, state)
    p, _, (x, h, c) = _prepare(who, params, "lstm", x, 2, [("state[0] (h)", h),
                                                           ("state[1] (c)", c)])
    return _lstm_step(p, _project(p, x), h, c)


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
        params: ``{"weight_ih": (3H, D), "weight_hh": (3H, H), "bias_ih": (3H,),
            "bias_hh": (3H,)}``, gate order ``(r, z, n)`` (PyTorch's ``nn.GRUCell``).
        x: floating ``(B, D)``.
        h: floating ``(B, H)``.

    Returns:
        ``(B, H)``: the new state, in the parameters' dtype.

    Raises:
        ValueError: as :func:`rnn_cell`, with ``G = 3``.
        TypeError: non-floating arrays; mixed parameter dtypes.

    Derived in ``notebooks/07_recurrent.ipynb``.
    """
    p, _, (x, h) = _prepare("gru_cell", params, "gru", x, 2, [("h", h)])
    return _gru_step(p, _project(p, x), h)


# ---------------------------------------------------------------- sequences


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
    p, _, (xs, h) = _prepare("rnn", params, "rnn", xs, 3, [("initial_h", initial_h)])
    return _scan(lambda xw, h: _rnn_step(p, xw, h), h, _project(p, xs))


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
    """
    who = "lstm"
    h, c = _split_state(who, initial_state)
    p, _, (xs, h, c) = _prepare(who, params, "lstm", xs, 3, [("initial_state[0] (h_0)", h),
                                                             ("initial_state[1] (c_0)", c)])
    return _scan(lambda xw, hc: _lstm_step(p, xw, *hc), (h, c), _project(p, xs))


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
    p, _, (xs, h) = _prepare("gru", params, "gru", xs, 3, [("initial_h", initial_h)])
    return _scan(lambda xw, h: _gru_step(p, xw, h), h, _project(p, xs))


# ---------------------------------------------------------------- parameters


def _check_cell(who: str, cell) -> None:
    if not isinstance(cell, str) or cell not in GATES:
        raise ValueError(f"{who}: cell must be one of {sorted(GATES)}; got {cell!r}.")


def init_params(key, cell: str, input_size: int, hidden_size: int, *, dtype=jnp.float32):
    r"""Parameters of a one-layer ``cell`` (``"rnn"``, ``"lstm"`` or ``"gru"``), drawn as
    PyTorch does: every entry uniform in $(-1/\sqrt{H}, 1/\sqrt{H})$, independently (one
    draw from ``key`` for all four arrays).

    Args:
        key: a ``jax.random`` key.
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"`` (``G`` = 1, 4, 3 gate blocks).
        input_size: $D \ge 1$.
        hidden_size: $H \ge 1$.
        dtype: a floating dtype (``None``: JAX's default float dtype).

    Returns:
        ``{"weight_ih": (G·H, D), "weight_hh": (G·H, H), "bias_ih": (G·H,),
        "bias_hh": (G·H,)}``.

    Raises:
        ValueError: an unknown ``cell``; ``input_size`` or ``hidden_size`` below 1.
        TypeError: sizes that are not ints; ``dtype`` not floating.
    """
    who = "init_params"
    _check_cell(who, cell)
    _checks.count(who, "input_size", input_size, low=1)
    _checks.count(who, "hidden_size", hidden_size, low=1)
    _checks.require_float_dtype(who, "dtype", dtype)
    G, H, D = GATES[cell], hidden_size, input_size
    bound = 1.0 / math.sqrt(H)
    shapes = {"weight_ih": (G * H, D), "weight_hh": (G * H, H), "bias_ih": (G * H,),
              "bias_hh": (G * H,)}
    # one draw for all four arrays, of at least 4096 entries (a power of two): each new shape
    # of a draw compiles the random-bit kernel anew, so small models share one compile
    sizes = [math.prod(shape) for shape in shapes.values()]
    flat = jax.random.uniform(key, (max(4096, 1 << (sum(sizes) - 1).bit_length()),), dtype,
                              -bound, bound)
    offsets = [0, *itertools.accumulate(sizes)]
    return {name: flat[lo:lo + size].reshape(shape)
            for (name, shape), lo, size in zip(shapes.items(), offsets, sizes, strict=False)}


def to_flax(params, cell: str):
    r"""The same weights as the ``params`` dict of flax.linen's ``SimpleCell`` (``"rnn"``),
    ``LSTMCell`` / ``OptimizedLSTMCell`` (``"lstm"``) or ``GRUCell`` (``"gru"``).

    The mapping is in the module docstring: kernels are the transposed row blocks of
    ``weight_ih`` / ``weight_hh``; where flax adds one bias, it is
    ``bias_ih + bias_hh`` of that block. Use it as
    ``cell.apply({"params": to_flax(params, "lstm")}, (c, h), x)``.

    Args:
        params: as :func:`rnn_cell`, :func:`lstm_cell` or :func:`gru_cell`.
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.

    Returns:
        A dict of ``{"kernel": ..., "bias": ...}`` dicts named as flax's submodules.

    Raises:
        ValueError: an unknown ``cell``; the errors of :func:`rnn_cell` for ``params``.
        TypeError: non-floating parameters or mixed float dtypes.
    """
    who = "to_flax"
    _check_cell(who, cell)
    _, H, _ = _check_params(who, params, cell)
    p = {k: jnp.asarray(v) for k, v in params.items()}

    def block(name, q):
        return p[name][q * H:(q + 1) * H]

    if cell == "rnn":
        return {"i": {"kernel": p["weight_ih"].T, "bias": p["bias_ih"] + p["bias_hh"]},
                "h": {"kernel": p["weight_hh"].T}}
    if cell == "lstm":
        out = {}
        for q, gate in enumerate("ifgo"):
            out[f"i{gate}"] = {"kernel": block("weight_ih", q).T}
            out[f"h{gate}"] = {"kernel": block("weight_hh", q).T,
                               "bias": block("bias_ih", q) + block("bias_hh", q)}
        return out
    out = {}
    for q, gate in enumerate("rz"):
        out[f"i{gate}"] = {"kernel": block("weight_ih", q).T,
                           "bias": block("bias_ih", q) + block("bias_hh", q)}
        out[f"h{gate}"] = {"kernel": block("weight_hh", q).T}
    out["in"] = {"kernel": block("weight_ih", 2).T, "bias": block("bias_ih", 2)}
    out["hn"] = {"kernel": block("weight_hh", 2).T, "bias": block("bias_hh", 2)}
    return out

