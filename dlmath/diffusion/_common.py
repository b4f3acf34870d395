"""The checks and schedule arithmetic the modules of :mod:`dlmath.diffusion` share."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from dlmath import _checks, _reduce


def check_betas(who: str, betas) -> int:
    """``betas``: floating ``(T,)``, ``T >= 1``, concrete entries in $(0, 1)$. Returns T."""
    _checks.require_floating(who, "betas", betas)
    _checks.require_ndim(who, "betas", betas, 1, "(T,)",
                         "One variance per step: betas = diffusion.linear_schedule(T).")
    _checks.require_nonempty(who, "betas", betas, 0, "(T,)", "steps (T = 0)")
    if not _checks.is_traced(betas):
        b = np.asarray(betas, np.float64)
        first = _checks.first_bad("betas", b, ~((b > 0) & (b < 1)))
        if first is not None:
            raise ValueError(
                f"{who}: every entry of betas must be a finite number in (0, 1) (the variance "
                f"added at a step, with 1 - beta > 0 of the signal kept); got {first}. Build "
                "them with diffusion.linear_schedule or diffusion.cosine_schedule.")
    return _checks.shape_of(betas)[0]


def check_examples(who: str, name: str, x) -> None:
    """``x``: floating ``(N, *F)``, at least one axis (the examples)."""
    _checks.require_floating(who, name, x)
    if len(_checks.shape_of(x)) < 1:
        raise ValueError(f"{who}: {name} must have shape (N, *F), one row per example; got a "
                         f"scalar. Use {name}[None] for one example.")


def check_like(who: str, ref_name: str, ref, *others) -> None:
    """Each ``(name, array)`` of ``others``: floating, of the shape of ``ref``."""
    for name, x in others:
        _checks.require_floating(who, name, x)
        _checks.require_same_shape(who, ref_name, ref, name, x, "(N, *F)")


def check_steps(who: str, name: str, t, x, num_steps: int, *, low: int = 0) -> None:
    """``t``: integer ``(N,)`` (one step per row of ``x``), concrete entries in
    ``[low, T)``."""
    dt = _checks.dtype_of(t, who, name)
    if dt == jnp.bool_ or not jnp.issubdtype(dt, jnp.integer):
        raise TypeError(f"{who}: {name} must hold integer time steps (N,); got dtype {dt}. "
                        f"Draw them with jax.random.randint(key, (N,), 0, T).")
    n = _checks.shape_of(x)[0]
    if _checks.shape_of(t) != (n,):
        raise ValueError(f"{who}: {name} must have shape (N,) = ({n},), one time step per "
                         f"example of x (N, *F); got {_checks.fmt(_checks.shape_of(t))}. For "
                         f"one step for all, pass jnp.full((N,), step).")
    check = ("T = len(betas); steps are 0-based (step t of the code is step t + 1 of the "
             "formulas)")
    if low == 0:      # the package's id rule (and its message): NaN under jit
        _checks.ids_in_range(who, name, t, num_steps, what="time step", letter="T",
                             check=check)
    elif not _checks.is_traced(t):
        ids = np.asarray(t).astype(np.int64)
        first = _checks.first_bad(name, ids, (ids < low) | (ids >= num_steps))
        if first is not None:
            raise ValueError(f"{who}: time steps must lie in [{low}, T) = [{low}, {num_steps}); "
                             f"got {first}. Check {check}.")


def default_float():
    """The default float dtype (float32, or float64 with ``jax_enable_x64``)."""
    return jnp.result_type(float)


def promoted(*arrays):
    """The arrays in their promoted float dtype (the rule for functions without parameters)."""
    dtype = jnp.result_type(*arrays)
    return tuple(jnp.asarray(a).astype(dtype) for a in arrays)


def cumulative(betas):
    r"""$\bar\alpha_t$, $\bar\alpha_{t-1}$, $1 - \bar\alpha_t$ and $1 - \bar\alpha_{t-1}$
    for $t = 1 \dots T$, each ``(T,)``, in at least float32 (with $\bar\alpha_0 = 1$). The
    product is taken as $\exp \sum \log(1 - \beta_s)$ and $1 - \bar\alpha$ as ``-expm1`` of
    that sum, so $1 - \bar\alpha_1 = \beta_1$ keeps its digits (``1 - cumprod`` loses them for small
    betas)."""
    b = betas.astype(_reduce.wide(betas.dtype))
    log_abar = jnp.cumsum(jnp.log1p(-b))
    log_prev = jnp.concatenate([jnp.zeros((1,), b.dtype), log_abar[:-1]])
    return jnp.exp(log_abar), jnp.exp(log_prev), -jnp.expm1(log_abar), -jnp.expm1(log_prev)


def at(values, t, x):
    """``values[t]`` (``t`` ``(N,)`` ints; NaN where ``t`` is out of range, under ``jit``),
    reshaped to ``(N, 1, ...)`` to broadcast against ``x`` ``(N, *F)``."""
    ids = _checks.as_ids(t)
    inside = (ids >= 0) & (ids < values.shape[0])
    picked = jnp.where(inside, values[jnp.clip(ids, 0, values.shape[0] - 1)], jnp.nan)
    return picked.reshape(picked.shape + (1,) * (jnp.ndim(x) - 1))
