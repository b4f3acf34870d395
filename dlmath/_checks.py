"""Static input checks shared by the public functions (DESIGN.md section 4).

They look only at shapes and dtypes, which are known while tracing, so they cost nothing
under ``jit``. They raise ``ValueError`` for shapes and ``TypeError`` for dtypes, naming the
function, the argument, the expected shape in legend letters, what was seen, and a hint.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def shape_of(x) -> tuple[int, ...]:
    return tuple(np.shape(x))


def dtype_of(x, who: str = "dlmath", name: str = "input"):
    try:
        return jnp.result_type(x)
    except TypeError as e:
        raise TypeError(
            f"{who}: {name} must be an array (jax or numpy); got {type(x).__name__}. "
            "Wrap lists with jnp.asarray(...)."
        ) from e


def fmt(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def require_floating(who: str, name: str, x, hint: str = "") -> None:
    dt = dtype_of(x, who, name)
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(
            f"{who}: {name} must be a floating-point array; got dtype {dt}."
            + (f" {hint}" if hint else " Convert it with jnp.asarray(x, jnp.float32).")
        )


def require_real(who: str, name: str, x) -> None:
    dt = dtype_of(x, who, name)
    if not (jnp.issubdtype(dt, jnp.floating) or jnp.issubdtype(dt, jnp.integer)):
        raise TypeError(f"{who}: {name} must hold real numbers (float or int); got dtype {dt}.")


def require_same_shape(who: str, a_name: str, a, b_name: str, b, legend: str, hint: str = ""):
    sa, sb = shape_of(a), shape_of(b)
    if sa != sb:
        raise ValueError(
            f"{who}: {b_name} must have the shape of {a_name} {legend}; got {b_name} {fmt(sb)}, "
            f"{a_name} {fmt(sa)}." + (f" {hint}" if hint else " Nothing is broadcast here.")
        )


def require_ndim(who: str, name: str, x, ndim: int, legend: str, hint: str = "") -> None:
    s = shape_of(x)
    if len(s) != ndim:
        raise ValueError(
            f"{who}: {name} must have shape {legend}; got {fmt(s)}." + (f" {hint}" if hint else "")
        )
