"""Checks of values: hyper-parameters, class ids and labels, masks over entries,
regression data."""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from dlmath._checks.arrays import (
    dtype_of,
    first_bad,
    fmt,
    is_traced,
    require_floating,
    require_ndim,
    require_nonempty,
    require_real,
    require_same_shape,
    shape_of,
)


def _reject_non_number(who: str, name: str, value) -> None:
    if callable(value):
        raise TypeError(
            f"{who}: {name} must be a number; got a callable. Schedules are not supported "
            "by dlmath; use optax (optax.adam(optax.cosine_decay_schedule(...))) for them."
        )
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be a real number; got the bool {value!r}.")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        dt = jnp.result_type(value)
        if not (jnp.issubdtype(dt, jnp.floating) or jnp.issubdtype(dt, jnp.integer)):
            raise TypeError(f"{who}: {name} must be a real number; got dtype {dt}.")
        if shape_of(value) != ():
            raise ValueError(
                f"{who}: {name} must be a scalar; got shape {fmt(shape_of(value))}."
            )
        return
    raise TypeError(f"{who}: {name} must be a real number; got {type(value).__name__}.")


def hyperparameter(who: str, name: str, value, *, low: float | None = None,
                   high: float | None = None, low_open: bool = False, high_open: bool = False,
                   hint: str = "") -> None:
    """A real scalar in ``[low, high]`` (``low_open``/``high_open`` exclude the ends;
    ``None``: no bound), always finite. The range is checked only for a concrete value."""
    _reject_non_number(who, name, value)
    if is_traced(value):
        return
    x = float(value)
    ok = math.isfinite(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = ("(" if low_open or low is None else "[") + f"{lo}, {hi}" + (
            ")" if high_open or high is None else "]")
        raise ValueError(
            f"{who}: {name} must be a finite number in {interval}; got {value!r}."
            + (f" {hint}" if hint else "")
        )


def learning_rate(who: str, value) -> None:
    """A learning rate: a finite real scalar ``> 0`` (checked when concrete)."""
    hyperparameter(
        who, "learning_rate", value, low=0.0, low_open=True,
        hint="The update already carries the minus sign (u = -learning_rate * ...): do not "
             "negate it.",
    )


def count(who: str, name: str, value, *, low: int = 0, high: int | None = None) -> None:
    """A Python int (not a bool) in ``[low, high]``: a number of steps, a size."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{who}: {name} must be an int; got {type(value).__name__} {value!r}.")
    if value < low or (high is not None and value > high):
        hi = "" if high is None else f", {high}]"
        interval = f"[{low}{hi}" if high is not None else f">= {low}"
        raise ValueError(f"{who}: {name} must be an int {interval}; got {value}.")


def sizes(who: str, name: str, value, *, at_least: int = 1, legend: str = "",
          hint: str = "") -> tuple[int, ...]:
    """A sequence (tuple, list, range) of at least ``at_least`` ints ``>= 1``, the widths of
    layers; returns it as a tuple. ``TypeError`` for a single number or another object,
    ``ValueError`` for too few entries or an entry below 1."""
    shown = f" {legend}" if legend else ""
    tail = f" {hint}" if hint else ""
    many = {1: "one", 2: "two", 3: "three"}.get(at_least, str(at_least))
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"{who}: {name} must be a sequence of at least {many} ints >= 1"
                        f"{shown}; got {type(value).__name__} {value!r}.{tail}")
    out = tuple(value.tolist() if isinstance(value, np.ndarray) else value)
    if len(out) < at_least:
        raise ValueError(f"{who}: {name} must be at least {many} ints >= 1{shown}; got "
                         f"{out!r}.{tail}")
    for k, n in enumerate(out):
        count(who, f"{name}[{k}]", n, low=1)
    return out


# ---------------------------------------------------------------- class ids


def labels(who: str, name: str, ids, num_classes: int, batch_shape: tuple, legend: str,
           hint: str = ""):
    """Integer class ids of shape ``batch_shape`` for ``num_classes`` classes.

    Returns the ids as a JAX array of at least 32 bits (uint8 or int16 ids are widened, so
    comparisons with ``K`` and one-hot indices never overflow).

    Raises:
        TypeError: ids that are not integers (floats, bools, one-hot rows).
        ValueError: the wrong shape; concrete ids outside ``[0, num_classes)``.
    """
    dt = dtype_of(ids, who, name)
    if dt == jnp.bool_ or not jnp.issubdtype(dt, jnp.integer):
        raise TypeError(
            f"{who}: {name} must be integer class ids {legend}; got dtype {dt}. "
            + (hint or "For one-hot or probability rows take argmax(axis=-1); for float ids "
               "convert with labels.astype(jnp.int32).")
        )
    s = shape_of(ids)
    if s != tuple(batch_shape):
        raise ValueError(
            f"{who}: {name} must have shape {legend} = {fmt(batch_shape)}; got {fmt(s)}."
            + (f" {hint}" if hint else "")
        )
    return ids_in_range(who, name, ids, num_classes, what="class", letter="K",
                        check="K (the last axis of the logits) and the data")


def ids_in_range(who: str, name: str, ids, bound: int, *, what: str, letter: str, check: str):
    """Integer ids (class ids, node ids) in ``[0, bound)``, checked where they are concrete
    (under ``jit`` the caller documents what an id out of range gives).

    Returns the ids as a JAX array of at least 32 bits (uint8 or int16 ids are widened, so
    comparisons with ``bound`` and indexing never overflow).

    Raises:
        ValueError: a concrete id outside ``[0, bound)``, naming the first one.
    """
    if not is_traced(ids):
        concrete = np.asarray(ids)
        first = first_bad(name, concrete, (concrete < 0) | (concrete >= bound))
        if first is not None:
            raise ValueError(
                f"{who}: {what} ids must lie in [0, {letter}) = [0, {bound}); got {first}. "
                f"Negative ids are not counted from the end; check {check}."
            )
    ids = jnp.asarray(ids)
    if jnp.issubdtype(ids.dtype, jnp.unsignedinteger) or ids.dtype.itemsize < 4:
        ids = ids.astype(jnp.int32)
    return ids


def class_axis(who: str, name: str, x, axis, what: str = "classes") -> int:
    """``axis``, a Python int in ``[-ndim, ndim)``, names the axis of the ``K`` classes of
    ``x`` (a reduction over it, so ``K >= 1``). Returns it counted from the front."""
    shape = shape_of(x)
    nd = len(shape)
    if nd == 0:
        raise ValueError(f"{who}: {name} must have shape (*B, K) with an axis of K >= 1 "
                         f"{what}; got ().")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) \
            or not -nd <= axis < nd:
        raise ValueError(
            f"{who}: axis must be an int in [-{nd}, {nd}) for {name} of shape {fmt(shape)}; "
            f"got {axis!r}. It names the axis of the K {what} of {name} (*B, K) (default -1, "
            "the last).")
    require_nonempty(who, name, x, int(axis), f"(*B, K) with K along axis {int(axis)}", what)
    return int(axis) % nd


def logits_and_labels(who: str, logits, ids, axis: int = -1, name: str = "labels",
                      hint: str = "") -> int:
    """Floating ``logits (*B, K)`` (``K >= 1`` classes along ``axis``) and integer class ids
    ``(*B,)`` in ``[0, K)`` (:func:`labels`: concrete ids out of range raise). Returns the
    class axis counted from the front."""
    require_floating(who, "logits", logits)
    ax = class_axis(who, "logits", logits, axis)
    shape = shape_of(logits)
    labels(who, name, ids, shape[ax], shape[:ax] + shape[ax + 1:], "(*B,)",
           hint or f"{name} are one class id per row of logits (*B, K).")
    return ax


def as_ids(ids):
    """Integer (or bool) ids as a JAX array of at least 32 signed bits, as :func:`labels`
    returns them; traceable (the widening a kernel repeats on the ids it is given)."""
    ids = jnp.asarray(ids)
    if ids.dtype == jnp.bool_ or jnp.issubdtype(ids.dtype, jnp.unsignedinteger) \
            or ids.dtype.itemsize < 4:
        ids = ids.astype(jnp.int32)
    return ids


def where_mask(who: str, where, shape, legend: str, axis: int | None = None) -> None:
    """``where`` as ``jax.nn`` and optax take it: ``None``, or a bool array (True: the entry
    takes part) that broadcasts to ``shape``. With ``axis``, a mask of one rank less is one
    flag per row, expanded at ``axis`` (optax's rule)."""
    if where is None:
        return
    dt = dtype_of(where, who, "where")
    if dt != jnp.bool_:
        raise TypeError(f"{who}: where must be a bool array (True: the entry takes part); got "
                        f"dtype {dt}. Build it with a comparison, e.g. where = counts > 0.")
    s = shape_of(where)
    if axis is not None and len(s) == len(shape) - 1:
        s = s[:axis] + (1,) + s[axis:]
    try:
        ok = np.broadcast_shapes(s, tuple(shape)) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{who}: where must broadcast to {legend} = {fmt(shape)}; got "
                         f"{fmt(shape_of(where))}.")


def predictions_and_targets(who: str, predictions, targets) -> None:
    """Floating ``predictions (*B,)`` and real ``targets`` of the same shape, with at least
    one element (a mean over them)."""
    require_floating(who, "predictions", predictions)
    require_real(who, "targets", targets)
    require_same_shape(who, "predictions", predictions, "targets", targets, "(*B,)",
                       "Reshape one of them (e.g. y.reshape(-1)); nothing is broadcast.")
    if 0 in shape_of(predictions):
        raise ValueError(f"{who}: predictions {fmt(shape_of(predictions))} has no element; "
                         "the mean over them is undefined for none.")


def regression_data(who: str, X, w=None, y=None, *, nonempty: bool = True,
                    w_name: str = "w") -> None:
    """A linear model's data: floating ``X (N, D)`` (``N >= 1`` when ``nonempty``), floating
    weights ``w (D,)`` and real targets ``y (N,)`` where given."""
    require_floating(who, "X", X)
    require_ndim(who, "X", X, 2, "(N, D)", "Reshape a single feature with x[:, None].")
    if nonempty:
        require_nonempty(who, "X", X, 0, "(N, D)", "examples (rows, N = 0)")
    n, d = shape_of(X)
    if w is not None:
        require_floating(who, w_name, w)
        if shape_of(w) != (d,):
            raise ValueError(f"{who}: {w_name} must have shape (D,) = ({d},) to match X (N, D) "
                             f"= ({n}, {d}); got {w_name} {fmt(shape_of(w))}.")
    if y is not None:
        require_real(who, "y", y)
        if shape_of(y) != (n,):
            raise ValueError(f"{who}: y must have shape (N,) = ({n},) to match X (N, D) = ({n}, "
                             f"{d}); got y {fmt(shape_of(y))}. A column (N, 1) needs "
                             "y.reshape(-1).")


def require_int_pair(who: str, name: str, value, low: int = 1) -> tuple[int, int]:
    """An int or a pair (a tuple) of ints ``>= low``, as ``(for H, for W)``: the stride, the
    dilation or the window of a 2-D convolution or pooling (static under ``jit``, so a list
    is refused: it is not hashable)."""
    if isinstance(value, list):
        raise TypeError(f"{who}: {name} must be an int or a tuple of two ints; got the list "
                        f"{value!r}. It is static under jit, so it must be hashable: pass "
                        f"{tuple(value)!r}.")
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"{who}: {name} must be an int or a pair (for H, for W); got "
                             f"{len(value)} entries {value!r}.")
        count(who, name, value[0], low=low)
        count(who, name, value[1], low=low)
        return (int(value[0]), int(value[1]))
    count(who, name, value, low=low)
    return (int(value), int(value))


def choice(who: str, name: str, value, options: tuple, hint: str = "") -> None:
    """One of the strings ``options`` (a mode, an alignment): ``TypeError`` for a
    non-string, ``ValueError`` for another string."""
    if not isinstance(value, str):
        raise TypeError(f"{who}: {name} must be one of {list(options)}; got "
                        f"{type(value).__name__} {value!r}." + (f" {hint}" if hint else ""))
    if value not in options:
        raise ValueError(f"{who}: {name} must be one of {list(options)}; got {value!r}."
                         + (f" {hint}" if hint else ""))


def transition_table(who: str, name: str, table) -> tuple[int, int]:
    """The transition table of a Markov chain of order ``n`` over ``V`` tokens: a floating
    ``(V**n, V)`` array, row ``s`` the distribution of the next token after the context
    whose base-``V`` digits (oldest first) are ``s``. Returns ``(V, n)``."""
    dt = dtype_of(table, who, name)
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(f"{who}: {name} must be floating probabilities (V**n, V); got dtype "
                        f"{dt}.")
    shape = shape_of(table)
    ok = len(shape) == 2 and shape[1] >= 1 and shape[0] >= shape[1]
    order = 0
    if ok:
        size = 1
        while size < shape[0]:
            size, order = size * shape[1], order + 1
        ok = size == shape[0] and order >= 1 and (shape[1] > 1 or shape[0] == 1)
    if shape[1:] == (1,) and shape[0] == 1 and len(shape) == 2:
        return 1, 1
    if not ok:
        raise ValueError(f"{who}: {name} must have shape (V**n, V), one row per context of n "
                         f"tokens (n >= 1); got {fmt(shape)}. Build it with "
                         "data.markov_chain(key, V, n).")
    return shape[1], order
