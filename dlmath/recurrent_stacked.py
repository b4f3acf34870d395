r"""Stacked, bidirectional and variable-length recurrent layers: PyTorch's ``nn.RNN``,
``nn.LSTM`` and ``nn.GRU`` (``batch_first=True``) on their own ``state_dict``.

Legend: ``B`` sequences, ``T`` time steps, ``D`` input features, ``H`` hidden units, ``G``
gate blocks (1 for the RNN, 4 for the LSTM, 3 for the GRU), ``L`` layers, ``dirs`` the
directions (1, or 2 when bidirectional).

The parameters are the ``state_dict`` with its keys verbatim: for each layer ``l = 0 ...
L - 1`` and direction (no suffix forward, ``_reverse`` backward) ``weight_ih_l{l}`` ``(G·H,
D)`` (``(G·H, dirs·H)`` for ``l > 0``), ``weight_hh_l{l}`` ``(G·H, H)``, ``bias_ih_l{l}`` and
``bias_hh_l{l}`` ``(G·H,)`` (``{k: v.numpy() for k, v in module.state_dict().items()}``;
``bias=False`` and the LSTM's ``proj_size`` are not supported). Each direction of each
layer is one single-layer recurrence of :mod:`dlmath.recurrent` (its step kernels and
:func:`dlmath.recurrent.scan`); layer ``l > 0`` reads the concatenated (forward, reverse)
outputs of layer ``l - 1``. The reverse direction reads each sequence from its last valid
step back to its first. ``lengths`` make a padded batch act as PyTorch's packed sequences:
a step at or past a sequence's length leaves its state unchanged and outputs zeros.
Computation is in the parameters' float dtype (inputs and states of another float dtype
are cast to it).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks
from dlmath.layers import dense
from dlmath.recurrent import GATES, _init, gru_step, lstm_step, rnn_step, scan

__all__ = ["stacked_rnn", "stacked_lstm", "stacked_gru", "init_stacked"]

_STEPS = {"rnn": rnn_step.kernel, "lstm": lstm_step.kernel, "gru": gru_step.kernel}
_HINT = ("Pass {k: v.numpy() for k, v in module.state_dict().items()} of torch.nn.RNN / LSTM / "
         "GRU(batch_first=True) with the same num_layers and bidirectional, or build it with "
         "recurrent_stacked.init_stacked.")


def _suffixes(bidirectional: bool) -> tuple[str, ...]:
    return ("", "_reverse") if bidirectional else ("",)


# ---------------------------------------------------------------- checks


def _expected(G: int, D: int, H: int, num_layers: int, bidirectional: bool) -> dict:
    """``{(key,): (legend, shape)}`` of the state_dict."""
    dirs = 2 if bidirectional else 1
    out = {}
    for layer in range(num_layers):
        ins, legend = (D, "D") if layer == 0 else (dirs * H, f"{dirs}H" if dirs > 1 else "H")
        for s in _suffixes(bidirectional):
            out |= {(f"weight_ih_l{layer}{s}",): (f"(G·H, {legend})", (G * H, ins)),
                    (f"weight_hh_l{layer}{s}",): ("(G·H, H)", (G * H, H)),
                    (f"bias_ih_l{layer}{s}",): ("(G·H,)", (G * H,)),
                    (f"bias_hh_l{layer}{s}",): ("(G·H,)", (G * H,))}
    return out


def _check_state(who: str, name: str, h, shape) -> None:
    _checks.require_floating(who, name, h)
    if _checks.shape_of(h) != shape:
        raise ValueError(
            f"{who}: {name} must have shape (L·dirs, B, H) = {_checks.fmt(shape)}, one (B, H) "
            f"state per layer and direction in PyTorch's order (layer 0 forward, layer 0 "
            f"reverse, layer 1 forward, ...); got {_checks.fmt(_checks.shape_of(h))}. Pass "
            "None for zeros.")


def _check_lengths(who: str, lengths, B: int, T: int) -> None:
    dt = _checks.dtype_of(lengths, who, "lengths")
    if dt == jnp.bool_ or not jnp.issubdtype(dt, jnp.integer):
        raise TypeError(f"{who}: lengths must be integers (B,), the number of valid steps of "
                        f"each sequence; got dtype {dt}. Convert with lengths.astype(jnp.int32).")
    if _checks.shape_of(lengths) != (B,):
        raise ValueError(f"{who}: lengths must have shape (B,) = ({B},), one length per "
                         f"sequence of xs; got {_checks.fmt(_checks.shape_of(lengths))}.")
    if not _checks.is_traced(lengths):
        concrete = np.asarray(lengths)
        first = _checks.first_bad("lengths", concrete, (concrete < 1) | (concrete > T))
        if first is not None:
            raise ValueError(f"{who}: lengths must lie in [1, T] = [1, {T}]; got {first}. A "
                             "length counts the valid steps at the start of a sequence of xs "
                             "(B, T, D); pad every sequence at its end.")


def _check(who: str, cell: str, params, xs, initial_state, num_layers, bidirectional,
           lengths) -> None:
    _checks.count(who, "num_layers", num_layers, low=1)
    _checks.require_flag(who, "bidirectional", bidirectional, "It fixes the parameters' keys.")
    if not isinstance(params, dict):
        raise TypeError(f"{who}: params must be a dict (PyTorch's state_dict, keys verbatim); "
                        f"got {type(params).__name__}. {_HINT}")
    G = GATES[cell]

    def size(key, axis):
        s = _checks.shape_of(params[key]) if key in params else ()
        return s[axis] if len(s) == 2 else 0

    D, H = size("weight_ih_l0", 1), size("weight_hh_l0", 1)
    _checks.require_shapes(
        who, "params", params, _expected(G, D, H, num_layers, bidirectional),
        f" with G = {G} gate blocks ({cell}), D = {D}, H = {H}, num_layers = {num_layers}, "
        f"bidirectional = {bidirectional}", _HINT)
    _checks.require_floating(who, "xs", xs)
    _checks.require_ndim(who, "xs", xs, 3, "(B, T, D)", "Batch-first: one sequence is xs[None].")
    B, T, d = _checks.shape_of(xs)
    if d != D:
        raise ValueError(f"{who}: xs must have D = {D} features (the columns of "
                         f"params['weight_ih_l0'], (G·H, D)); got xs {_checks.fmt((B, T, d))}.")
    shape = ((2 if bidirectional else 1) * num_layers, B, H)
    if cell == "lstm" and initial_state is not None:
        if not isinstance(initial_state, tuple) or len(initial_state) != 2:
            raise TypeError(f"{who}: initial_state must be None or the tuple (h_0, c_0) of two "
                            f"(L·dirs, B, H) arrays; got {type(initial_state).__name__}.")
        _check_state(who, "initial_state[0] (h_0)", initial_state[0], shape)
        _check_state(who, "initial_state[1] (c_0)", initial_state[1], shape)
    elif initial_state is not None:
        _check_state(who, "initial_state", initial_state, shape)
    if lengths is not None:
        _check_lengths(who, lengths, B, T)


def _checker(cell: str):
    def check(params, xs, initial_state=None, *, num_layers=1, bidirectional=False,
              lengths=None):
        _check(f"stacked_{cell}", cell, params, xs, initial_state, num_layers, bidirectional,
               lengths)
    return check


# ---------------------------------------------------------------- the recurrence


def _masked_scan(step, carry, xs, ih, valid):
    """:func:`dlmath.recurrent.scan` with ``ih`` for packed sequences: where ``valid (B, T)``
    is False the carry is kept and the output is 0."""
    def body(carry, inputs):
        x_t, ok = inputs
        new = step(dense.kernel(ih, x_t), carry)
        carry = jax.tree_util.tree_map(lambda n, o: jnp.where(ok, n, o), new, carry)
        h = new[0] if isinstance(new, tuple) else new
        return carry, jnp.where(ok, h, jnp.zeros((), h.dtype))

    carry, hs = jax.lax.scan(body, carry, (jnp.swapaxes(xs, 0, 1), valid.T[..., None]))
    return jnp.swapaxes(hs, 0, 1), carry


def _stacked(cell, params, xs, initial_state, num_layers, bidirectional, lengths):
    """Every layer and direction in turn; returns ``(outputs, final carries)``."""
    dtype = params["weight_hh_l0"].dtype
    B, T, _ = xs.shape
    H = params["weight_hh_l0"].shape[1]
    dirs = 2 if bidirectional else 1
    lstm = cell == "lstm"
    zeros = jnp.zeros((num_layers * dirs, B, H), dtype)
    if initial_state is None:
        initial_state = (zeros, zeros) if lstm else zeros
    initial_state = jax.tree_util.tree_map(lambda a: a.astype(dtype), initial_state)
    if lengths is not None:  # valid steps, and the index that reverses each sequence in place
        lengths = jnp.clip(_checks.as_ids(lengths), 0, T)[:, None]
        t = jnp.arange(T)[None, :]
        valid = t < lengths
        order = jnp.where(valid, lengths - 1 - t, t)[..., None]
    inputs, finals = xs.astype(dtype), []
    for layer in range(num_layers):
        outs = []
        for k, s in enumerate(_suffixes(bidirectional)):
            p = {part: {"w": params[f"weight_{part}_l{layer}{s}"].T,
                        "b": params[f"bias_{part}_l{layer}{s}"]} for part in ("ih", "hh")}
            step = functools.partial(_STEPS[cell], p["hh"])
            n = layer * dirs + k
            carry = (initial_state[0][n], initial_state[1][n]) if lstm else initial_state[n]
            x = inputs
            if k and lengths is None:
                x = jnp.flip(x, 1)
            elif k:
                x = jnp.take_along_axis(x, order, axis=1)
            if lengths is None:
                hs, carry = scan(step, carry, x, ih=p["ih"])
            else:
                hs, carry = _masked_scan(step, carry, x, p["ih"], valid)
            if k and lengths is None:
                hs = jnp.flip(hs, 1)
            elif k:
                hs = jnp.take_along_axis(hs, order, axis=1)
            outs.append(hs)
            finals.append(carry)
        inputs = jnp.concatenate(outs, axis=-1) if dirs == 2 else outs[0]
    if lstm:
        return inputs, (jnp.stack([h for h, _ in finals]), jnp.stack([c for _, c in finals]))
    return inputs, jnp.stack(finals)


_STATIC = ("num_layers", "bidirectional")


@_checks.checked(_checker("rnn"), static_argnames=_STATIC)
def stacked_rnn(params, xs, initial_state=None, *, num_layers=1, bidirectional=False,
                lengths=None):
    r"""PyTorch's ``nn.RNN(D, H, num_layers, batch_first=True, bidirectional=...)`` (tanh) on
    its ``state_dict``: :func:`dlmath.recurrent.rnn` for each layer and direction.

    Each step of a direction is the Elman step $\tilde h_t = \tanh(x_t W_{ih}^T + b_{ih} +
    h_{t-1} W_{hh}^T + b_{hh})$ of that direction's weights. With ``lengths``, $\ell$ the
    length of a sequence (steps counted from $t = 1$, $h_0$ the initial state), unit $j$ of
    the carried state is

    $$\begin{cases} {\tilde{h}}_{t,j} & \text{for}\: \ell \geq t \\{h}_{t -
    1,j} & \text{otherwise} \end{cases}$$

    and unit $j$ of the output at step $t$ is

    $$\begin{cases} {h}_{t,j} & \text{for}\: \ell \geq t \\0 & \text{otherwise} \end{cases}$$

    so the final state is $h_\ell$ and the outputs past $\ell$ are 0 (PyTorch's packed
    sequences). The reverse direction runs the same recurrence on each sequence reversed
    within its length, feature $a$ of its input at step $t$ being

    $$\begin{cases} {x}_{\ell - t + 1,a} & \text{for}\: \ell \geq t \\{x}_{t,a} & \text{otherwise}
    \end{cases}$$

    and its outputs are put back in time order the same way. Layer $l + 1$ reads, as
    feature $a = 0 \dots dirs·H - 1$ of step $t$,

    $$\begin{cases} {\overrightarrow{y}}_{t,a} & \text{for}\: H > a \\{\overleftarrow{y}}_{t,- H +
    a} & \text{otherwise} \end{cases}$$

    the forward and the reverse outputs of layer $l$ side by side. Without ``lengths``
    every sequence has $\ell = T$.

    Args:
        params: the ``state_dict``, keys verbatim (module docstring): ``weight_ih_l0``
            ``(H, D)``, ``weight_hh_l0`` ``(H, H)``, ``bias_ih_l0``, ``bias_hh_l0`` ``(H,)``,
            ..., ``weight_ih_l1_reverse`` ``(H, dirs·H)``, ... (:func:`init_stacked`).
        xs: floating ``(B, T, D)``.
        initial_state: ``None`` (zeros) or floating ``(L·dirs, B, H)``, PyTorch's order
            (layer 0 forward, layer 0 reverse, layer 1 forward, ...).
        num_layers: ``L >= 1`` (static).
        bidirectional: a Python bool (static).
        lengths: ``None`` (every sequence has ``T`` steps) or integers ``(B,)`` in
            ``[1, T]``. Under ``jit`` their values are not checked; they are clipped to
            ``[0, T]`` (a length of 0 gives zero outputs and the initial state).

    Returns:
        ``(outputs, h_n)``: ``outputs (B, T, dirs·H)`` (the last layer's, forward then
        reverse), ``h_n (L·dirs, B, H)`` (each layer's and direction's final state, in the
        order of ``initial_state``), in the parameters' dtype.

    Raises:
        ValueError: missing, unexpected or misshapen ``params`` entries (for the given
            ``num_layers`` and ``bidirectional``); ``xs`` not ``(B, T, D)``;
            ``initial_state`` not ``(L·dirs, B, H)``; ``lengths`` not ``(B,)`` or, when
            concrete, outside ``[1, T]``; ``num_layers`` below 1.
        TypeError: ``params`` not a dict; non-floating arrays or parameters of mixed float
            dtypes; ``lengths`` not integers; ``num_layers`` not an int; ``bidirectional``
            not a bool.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from dlmath import recurrent_stacked as S
        >>> params = S.init_stacked(jax.random.key(0), "rnn", 3, 4, num_layers=2,
        ...                         bidirectional=True)
        >>> xs = jnp.ones((2, 5, 3))
        >>> out, h_n = S.stacked_rnn(params, xs, num_layers=2, bidirectional=True,
        ...                          lengths=jnp.array([5, 2]))
        >>> out.shape, h_n.shape, bool(jnp.all(out[1, 2:] == 0))
        ((2, 5, 8), (4, 2, 4), True)
    """
    return _stacked("rnn", params, xs, initial_state, num_layers, bidirectional, lengths)


@_checks.checked(_checker("lstm"), static_argnames=_STATIC)
def stacked_lstm(params, xs, initial_state=None, *, num_layers=1, bidirectional=False,
                 lengths=None):
    r"""PyTorch's ``nn.LSTM(D, H, num_layers, batch_first=True, bidirectional=...)`` on its
    ``state_dict``: :func:`dlmath.recurrent.lstm` for each layer and direction, stacked,
    reversed and packed as :func:`stacked_rnn` says; with ``lengths`` the carried pair
    $(h_t, c_t)$ stays at $(h_\ell, c_\ell)$ past a sequence's length $\ell$.

    Args:
        params: the ``state_dict``, keys verbatim, ``G·H = 4H`` rows, gates ``(i, f, g, o)``.
        xs: floating ``(B, T, D)``.
        initial_state: ``None`` (zeros) or the tuple ``(h_0, c_0)``, each floating
            ``(L·dirs, B, H)`` in PyTorch's order.
        num_layers, bidirectional, lengths: as :func:`stacked_rnn`.

    Returns:
        ``(outputs, (h_n, c_n))``: ``outputs (B, T, dirs·H)``, ``h_n`` and ``c_n`` each
        ``(L·dirs, B, H)``, in the parameters' dtype.

    Raises:
        ValueError: as :func:`stacked_rnn`, with ``G = 4``.
        TypeError: as :func:`stacked_rnn`; ``initial_state`` neither None nor a pair.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from dlmath import recurrent_stacked as S
        >>> params = S.init_stacked(jax.random.key(0), "lstm", 3, 4, num_layers=2)
        >>> out, (h_n, c_n) = S.stacked_lstm(params, jnp.ones((2, 5, 3)), num_layers=2)
        >>> out.shape, h_n.shape, c_n.shape
        ((2, 5, 4), (2, 2, 4), (2, 2, 4))
    """
    return _stacked("lstm", params, xs, initial_state, num_layers, bidirectional, lengths)


@_checks.checked(_checker("gru"), static_argnames=_STATIC)
def stacked_gru(params, xs, initial_state=None, *, num_layers=1, bidirectional=False,
                lengths=None):
    r"""PyTorch's ``nn.GRU(D, H, num_layers, batch_first=True, bidirectional=...)`` on its
    ``state_dict``: :func:`dlmath.recurrent.gru` for each layer and direction, stacked,
    reversed and packed as :func:`stacked_rnn` says.

    Args:
        params: the ``state_dict``, keys verbatim, ``G·H = 3H`` rows, gates ``(r, z, n)``.
        xs, initial_state, num_layers, bidirectional, lengths: as :func:`stacked_rnn`.

    Returns:
        ``(outputs, h_n)``: ``(B, T, dirs·H)`` and ``(L·dirs, B, H)``, in the parameters'
        dtype.

    Raises:
        ValueError, TypeError: as :func:`stacked_rnn`, with ``G = 3``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from dlmath import recurrent_stacked as S
        >>> params = S.init_stacked(jax.random.key(0), "gru", 3, 4, bidirectional=True)
        >>> out, h_n = S.stacked_gru(params, jnp.ones((2, 5, 3)), bidirectional=True)
        >>> out.shape, h_n.shape
        ((2, 5, 8), (2, 2, 4))
    """
    return _stacked("gru", params, xs, initial_state, num_layers, bidirectional, lengths)


def init_stacked(key, kind: str, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 bidirectional: bool = False, dtype=jnp.float32) -> dict:
    r"""The ``state_dict`` of a stacked recurrent layer, drawn as PyTorch draws
    ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``'s: every entry uniform in $(-1/\sqrt{H},
    1/\sqrt{H})$, each layer and direction from its own key (``jax.random.split(key,
    L·dirs)``, PyTorch's order), drawn as :func:`dlmath.recurrent.init_rnn` draws one layer.

    Args:
        key: a ``jax.random`` key.
        kind: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        input_size: $D \ge 1$.
        hidden_size: $H \ge 1$.
        num_layers: $L \ge 1$.
        bidirectional: a Python bool.
        dtype: a floating dtype.

    Returns:
        ``{"weight_ih_l0": (G·H, D), "weight_hh_l0": (G·H, H), "bias_ih_l0": (G·H,),
        "bias_hh_l0": (G·H,), ...}`` with PyTorch's keys (``_reverse`` for the backward
        direction; ``weight_ih_l{l}`` is ``(G·H, dirs·H)`` for ``l > 0``).

    Raises:
        ValueError: an unknown ``kind``; sizes or ``num_layers`` below 1.
        TypeError: a missing key; sizes that are not ints; ``bidirectional`` not a bool;
            ``dtype`` not floating.
    """
    who = "init_stacked"
    _checks.require_key(who, key, "the weights")
    _checks.choice(who, "kind", kind, tuple(GATES))
    _checks.count(who, "num_layers", num_layers, low=1)
    _checks.require_flag(who, "bidirectional", bidirectional)
    dirs = 2 if bidirectional else 1
    keys = jax.random.split(key, num_layers * dirs)
    out = {}
    for layer in range(num_layers):
        for k, s in enumerate(_suffixes(bidirectional)):
            p = _init(who, kind, keys[layer * dirs + k],
                      input_size if layer == 0 else dirs * hidden_size, hidden_size, dtype)
            for part in ("ih", "hh"):
                out[f"weight_{part}_l{layer}{s}"] = p[part]["w"].T
                out[f"bias_{part}_l{layer}{s}"] = p[part]["b"]
    return out
