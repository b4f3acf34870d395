r"""Rotary position embeddings: every pair of features rotated by an angle proportional to
the position. Legend as :mod:`dlmath.attention`."""

from __future__ import annotations

import jax.numpy as jnp

from dlmath import _checks

__all__ = ["rotary_embedding"]


def _check_rotary(x, positions, *, base=10000.0, interleaved=True) -> None:
    who = "rotary_embedding"
    _checks.require_floating(who, "x", x)
    xs = _checks.shape_of(x)
    if len(xs) < 2:
        raise ValueError(f"{who}: x must have shape (*B, T, D); got {_checks.fmt(xs)}. A single "
                         "vector is (1, D).")
    if xs[-1] % 2:
        raise ValueError(f"{who}: x's feature size D must be even (the features are rotated in "
                         f"pairs); got x {_checks.fmt(xs)}.")
    dt = _checks.dtype_of(positions, who, "positions")
    if not jnp.issubdtype(dt, jnp.integer):
        raise TypeError(f"{who}: positions must be integers (T,); got dtype {dt}. Pass "
                        "jnp.arange(T), or offset + jnp.arange(T) when decoding.")
    _checks.require_ndim(who, "positions", positions, 1, f"(T,) with T = {xs[-2]}",
                         "One position per row of x.")
    if _checks.shape_of(positions)[0] != xs[-2]:
        got = _checks.fmt(_checks.shape_of(positions))
        raise ValueError(f"{who}: positions must have shape (T,) = ({xs[-2]},) for x "
                         f"{_checks.fmt(xs)}; got positions {got}.")
    _checks.hyperparameter(who, "base", base, low=1.0, low_open=True)
    _checks.require_flag(who, "interleaved", interleaved, "It selects the pairing of the features.")


@_checks.checked(_check_rotary, static_argnames=("interleaved",))
def rotary_embedding(x, positions, *, base=10000.0, interleaved=True):
    r"""Rotary position embeddings (RoPE): each pair of features of row $t$ rotated
    counter-clockwise by the angle $\theta_{t,i} = p_t\, \text{base}^{-2i/D}$,
    $i = 0, \dots, D/2 - 1$, for the pair $(a, b)$:

    $$a \cos{\left(\text{base}^{- \frac{2 i}{D}} p \right)} -
    b \sin{\left(\text{base}^{- \frac{2 i}{D}} p \right)}$$

    $$a \sin{\left(\text{base}^{- \frac{2 i}{D}} p \right)} +
    b \cos{\left(\text{base}^{- \frac{2 i}{D}} p \right)}$$

    The pairs are $(x_{2i}, x_{2i+1})$ with ``interleaved=True`` (the RoFormer paper) or
    $(x_i, x_{i + D/2})$ with ``interleaved=False`` (GPT-NeoX, Llama's Hugging Face code).
    Rotations preserve dot products and compose by adding angles, so
    $\langle R(m) q, R(n) k \rangle = \langle q, R(n - m) k \rangle$: the scores of rotated
    queries and keys depend on the positions only through $n - m$ (proven in
    ``notebooks/13_language_models.ipynb``, one pair at a time in chapter 08).

    Args:
        x: floating ``(*B, T, D)``, ``D`` even (in a model: the queries or keys of each head,
            ``(*B, H, T, D)``).
        positions: integer ``(T,)``, the position $p_t$ of row $t$ (``jnp.arange(T)``, or
            offset by the cached length when decoding).
        base: a real number ``> 1`` (may be traced; then unchecked).
        interleaved: the pairing above (a bool, static under ``jit``).

    Returns:
        ``(*B, T, D)`` in ``x``'s dtype; the angles and the rotation are computed in at least
        float32.

    Raises:
        TypeError: non-floating ``x``; non-integer ``positions``; ``interleaved`` not a bool.
        ValueError: ``x`` of fewer than 2 axes or odd ``D``; ``positions`` not ``(T,)``;
            ``base <= 1``.
    """
    ct = jnp.promote_types(x.dtype, jnp.float32)
    D = x.shape[-1]
    omega = jnp.asarray(base, ct) ** (-jnp.arange(0, D, 2, dtype=ct) / D)
    theta = positions.astype(ct)[:, None] * omega[None, :]  # (T, D/2)
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    xc = x.astype(ct)
    if interleaved:
        a, b = xc[..., 0::2], xc[..., 1::2]
    else:
        a, b = xc[..., : D // 2], xc[..., D // 2:]
    ra, rb = a * cos - b * sin, a * sin + b * cos
    if interleaved:
        out = jnp.stack([ra, rb], axis=-1).reshape(xc.shape)
    else:
        out = jnp.concatenate([ra, rb], axis=-1)
    return out.astype(x.dtype)
