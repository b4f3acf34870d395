"""Checks of pytrees and models: parameters, states, optimizers, dense layers, masks
of attention, examples."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from dlmath._checks.arrays import (
    cast_floats,
    dtype_of,
    float_dtype_of_tree,
    fmt,
    require_floating,
    require_ndim,
    require_real,
    shape_of,
)
from dlmath._checks.values import count


def require_like(who: str, name: str, tree, ref_name: str, ref, hint: str = "") -> None:
    """``tree`` must have the pytree structure and the leaf shapes of ``ref``."""
    s, r = jax.tree_util.tree_structure(tree), jax.tree_util.tree_structure(ref)
    if s != r:
        raise ValueError(
            f"{who}: {name} must have the pytree structure of {ref_name}; got {name} {s}, "
            f"{ref_name} {r}." + (f" {hint}" if hint else "")
        )
    for k, (a, b) in enumerate(zip(jax.tree_util.tree_leaves(tree),
                                   jax.tree_util.tree_leaves(ref), strict=True)):
        sa, sb = shape_of(a), shape_of(b)
        if sa != sb:
            raise ValueError(
                f"{who}: leaf {k} of {name} must have the shape of leaf {k} of {ref_name} "
                f"{fmt(sb)}; got {fmt(sa)}. Nothing is broadcast here."
            )


def require_keys(who: str, name: str, params, keys, what: str, hint: str) -> None:
    """``params`` is a dict with exactly ``keys`` (a state_dict-like parameter set)."""
    if not isinstance(params, dict) or set(params) != set(keys):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(
            f"{who}: {name} must be a dict with exactly the keys {list(keys)} ({what}); got "
            f"{got}. {hint}"
        )


def require_state(who: str, state, state_type) -> None:
    """An optimizer state of the expected ``NamedTuple`` type (from this optimizer's
    ``init``)."""
    if not isinstance(state, state_type):
        raise TypeError(
            f"{who}: state must be the {state_type.__name__} that this optimizer's "
            f"init(params) returned; got {type(state).__name__}. Build it with "
            "state = opt.init(params), and do not mix the states of two optimizers."
        )


def require_callable(who: str, name: str, value, what: str) -> None:
    if not callable(value):
        raise TypeError(f"{who}: {name} must be {what}; got {type(value).__name__}.")


def require_scalar_loss(who: str, name: str, out) -> None:
    """``out``, the value of a loss (an array, a traced value, or the
    ``jax.ShapeDtypeStruct`` of ``jax.eval_shape``: only its shape and dtype are read), is a
    real floating scalar, which a gradient can be taken of. ``ValueError`` for an array of
    another shape, ``TypeError`` for another dtype or object."""
    if isinstance(out, (float, np.floating)):  # a Python or NumPy float is a scalar
        return
    shape, dtype = getattr(out, "shape", None), getattr(out, "dtype", None)
    if shape == () and dtype is not None and jnp.issubdtype(dtype, jnp.floating):
        return
    got = (f"an array of shape {fmt(shape)} and dtype {dtype}" if shape is not None
           else f"{type(out).__name__}")
    message = (f"{who}: {name} must return a real floating scalar (shape ()), the loss whose "
               f"gradient is taken; got {got}. ")
    if shape is not None and dtype is not None and jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(message + "Reduce it to one number, e.g. jnp.mean over the examples "
                         "(a gradient is defined for a scalar output only).")
    raise TypeError(message + "A loss is a floating-point number: compute it from the "
                    "floating parameters (a count or a flag has no gradient).")


def optional_float_dtype(who: str, name: str, dtype):
    """``None``, or a floating dtype (an optimizer's ``state_dtype``), as a NumPy dtype."""
    if dtype is None:
        return None
    try:
        dt = jnp.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{who}: {name} must be None or a floating dtype such as jnp.float32; "
                        f"got {dtype!r}.") from err
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(f"{who}: {name} must be None or a floating dtype such as jnp.float32; "
                        f"got {dt}.")
    return dt


def cast_like(who: str, name: str, tree, ref_name: str, ref, hint: str = ""):
    """The package's rule for gradients: floating leaves with the structure and leaf shapes
    of ``ref``, each cast to the dtype of its ``ref`` leaf (so a carried state never changes
    dtype). ``ref=None``: only the floating check, ``tree`` returned as it is."""
    for leaf in jax.tree_util.tree_leaves(tree):
        require_floating(who, f"every leaf of {name}", leaf)
    if ref is None:
        return tree
    require_like(who, name, tree, ref_name, ref, hint)
    return jax.tree_util.tree_map(lambda g, r: jnp.asarray(g).astype(jnp.result_type(r)),
                                  tree, ref)


def mask_tree(who: str, mask, params):
    """optax's masks: ``None`` (every leaf), a pytree of Python bools with the structure of
    ``params`` or a prefix of it, or a callable ``params -> such a tree``. Returns one bool
    per leaf, as a pytree with the structure of ``params`` (``True``: the leaf is selected)."""
    tree = True if mask is None else mask(params) if callable(mask) else mask
    try:
        full = jax.tree_util.tree_map(
            lambda flag, sub: jax.tree_util.tree_map(lambda _: flag, sub), tree, params)
    except ValueError as err:
        raise ValueError(
            f"{who}: mask must be a pytree with the structure of params, or a prefix of it, "
            "with bool leaves (True: this leaf is selected); got mask "
            f"{jax.tree_util.tree_structure(tree)}, params {jax.tree_util.tree_structure(params)}."
        ) from err
    for flag in jax.tree_util.tree_leaves(full):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{who}: the leaves of mask must be Python bools; got "
                            f"{type(flag).__name__}.")
    return full


def examples(who: str, name: str, arrays: tuple, dtype):
    """Arrays whose leading axes hold the same ``N`` examples (a data set, a batch): real
    (bools too), at least one axis each; floating ones cast to ``dtype``, the parameters'
    (:func:`cast_floats`). Returns ``(arrays, N)``; ``N`` is ``None`` for no arrays."""
    for k, a in enumerate(arrays):
        require_real(who, f"{name}[{k}]", a, allow_bool=True)
    arrays, n = cast_floats(dtype, *arrays), None
    for k, a in enumerate(arrays):
        if a.ndim == 0:
            raise ValueError(f"{who}: {name}[{k}] must have a leading axis of N examples; got "
                             "a scalar.")
        if n is not None and a.shape[0] != n:
            raise ValueError(
                f"{who}: every array of {name} must have the same number N of examples on its "
                f"first axis; got {name}[0] with N = {n}, {name}[{k}] with {a.shape[0]}.")
        n = a.shape[0]
    return arrays, n


def require_dense(who: str, name: str, layer, legend: tuple = ("D_in", "D_out"),
                  hint: str = "") -> tuple[int, ...]:
    """One dense layer ``{"w": (D_in, D_out), "b": (D_out,)}`` (flax's ``Dense``: ``x @ w +
    b``); returns the shape of ``w``. ``TypeError`` for another structure, ``ValueError`` for
    shapes that do not fit."""
    i, o = legend
    if not isinstance(layer, dict) or set(layer) != {"w", "b"}:
        got = f"a dict with keys {sorted(layer)}" if isinstance(layer, dict) \
            else type(layer).__name__
        raise TypeError(f"{who}: {name} must be a dense layer {{'w': ({i}, {o}), 'b': ({o},)}}"
                        f"; got {got}." + (f" {hint}" if hint else ""))
    ws, bs = shape_of(layer["w"]), shape_of(layer["b"])
    if len(ws) != 2 or bs != ws[1:]:
        raise ValueError(f"{who}: {name} must have w ({i}, {o}) and b ({o},); got w {fmt(ws)}, "
                         f"b {fmt(bs)}." + (f" {hint}" if hint else ""))
    return ws


def require_dense_stack(who: str, name: str, layers, *, count: int | None = None,
                        hint: str = ""):
    """Dense layers that chain, ``(D_0, D_1), (D_1, D_2), ...`` (an MLP's parameters), of one
    float dtype; returns ``(the shapes of the kernels, the dtype)``."""
    if not isinstance(layers, (list, tuple)) or not layers \
            or (count is not None and len(layers) != count):
        size = "a non-empty list" if count is None else f"a list of {count}"
        got = f"{len(layers)} layers" if isinstance(layers, (list, tuple)) \
            else type(layers).__name__
        raise TypeError(f"{who}: {name} must be {size} of dense layers {{'w': (D_in, D_out), "
                        f"'b': (D_out,)}}; got {got}." + (f" {hint}" if hint else ""))
    dims = []
    for k, layer in enumerate(layers):
        ws = require_dense(who, f"{name}[{k}]", layer, hint=hint)
        if dims and dims[-1][1] != ws[0]:
            raise ValueError(
                f"{who}: layer {k} takes D_in = {ws[0]} inputs but layer {k - 1} gives "
                f"D_out = {dims[-1][1]}; the kernels must chain (D_0, D_1), (D_1, D_2), ...")
        dims.append(ws)
    return dims, float_dtype_of_tree(who, name, list(layers))


def require_shapes(who: str, name: str, tree, shapes: dict, context: str = "",
                   hint: str = ""):
    """A nested dict of parameters with exactly the entries of ``shapes`` (path -> legend and
    shape: ``{("in_proj", "w"): ("(E, 3E)", (8, 24)), ...}``), each of its shape; returns
    their one float dtype."""
    def label(path):
        return name + "".join(f"[{k!r}]" for k in path)

    leaves = {}

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        else:
            leaves[path] = node

    walk(tree, ())
    if not isinstance(tree, dict) or set(leaves) != set(shapes):
        got = sorted(map(label, leaves)) if isinstance(tree, dict) else type(tree).__name__
        missing = [label(p) for p in shapes if p not in leaves]
        extra = sorted(label(p) for p in leaves if p not in shapes)
        diff = "".join(f" {what}: {names}." for what, names in
                       (("Missing", missing), ("Unexpected", extra))
                       if names and isinstance(tree, dict))
        raise ValueError(f"{who}: {name} must be a dict with exactly the entries "
                         f"{[label(p) for p in shapes]}; got {got}.{diff}"
                         + (f" {hint}" if hint else ""))
    for path, (legend, shape) in shapes.items():
        got = shape_of(leaves[path])
        if got != tuple(shape):
            raise ValueError(f"{who}: {label(path)} must have shape {legend} = {fmt(shape)}"
                             f"{context}; got {fmt(got)}.")
    return float_dtype_of_tree(who, name, tree)


def require_mask(who: str, mask, target) -> None:
    """A boolean attention mask (``True`` = may attend) that broadcasts to ``target``, the
    ``(*B, T, S)`` of the scores; ``None`` passes."""
    if mask is None:
        return
    dt = dtype_of(mask, who, "mask")
    if dt != jnp.bool_:
        raise TypeError(
            f"{who}: mask must be boolean (True = may attend), broadcastable to (*B, T, S); "
            f"got dtype {dt}. An additive float bias (0 / -inf) is not a mask: convert it "
            "with mask = bias == 0.")
    ms = shape_of(mask)
    try:
        ok = np.broadcast_shapes(ms, tuple(target)) == tuple(target)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{who}: mask must broadcast to (*B, T, S) = {fmt(target)}; got mask {fmt(ms)}. A "
            "padding mask over the keys is (*B, 1, S); a mask per query and key is (T, S).")


def require_divisor(who: str, name: str, value, total: int, what: str) -> None:
    """``value`` an int >= 1 that divides ``total`` (the heads of an embedding)."""
    count(who, name, value, low=1)
    if total % value:
        divisors = [d for d in range(1, total + 1) if total % d == 0]
        raise ValueError(f"{who}: {what} = {total} must be divisible by {name} = {value}; "
                         f"choose {name} among {divisors}.")


def mlp_input(who: str, params, x):
    """An MLP's parameters (:func:`require_dense_stack`) and its floating input ``x (N, D_0)``
    (cast to the parameters' dtype by the kernels); returns ``(dims, dtype)`` of the
    parameters."""
    dims, dtype = require_dense_stack(who, "params", params, hint="Build them with init_mlp.")
    require_floating(who, "x", x)
    require_ndim(who, "x", x, 2, "(N, D_in)",
                 "Put one example per row; a single example is x[None, :].")
    if shape_of(x)[1] != dims[0][0]:
        raise ValueError(f"{who}: x must have shape (N, D_in) with D_in = {dims[0][0]} (the first "
                         f"kernel's rows); got {fmt(shape_of(x))}.")
    return dims, dtype
