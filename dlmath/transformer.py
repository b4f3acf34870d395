r"""A pre-norm transformer encoder block and the sinusoidal position encodings, built on
:mod:`dlmath.attention`.

Legend: ``B`` batch axes, ``T`` positions, ``E`` the embedding size, ``F`` the width of the
block's MLP. Derived and used in ``notebooks/08_attention.ipynb``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from dlmath import _checks
from dlmath.attention import (
    PARAM_NAMES,
    _check_flag,
    _check_heads,
    _check_mask,
    init_multi_head_attention,
    multi_head_attention,
    multi_head_attention_weights,
)
from dlmath.normalization import layer_norm

__all__ = ["transformer_block", "block_attention_weights", "init_transformer_block",
           "sinusoidal_positions", "BLOCK_PARAM_NAMES"]

#: The parameter names of :func:`transformer_block`: PyTorch's
#: ``nn.TransformerEncoderLayer(norm_first=True)`` state_dict keys, dots as underscores.
BLOCK_PARAM_NAMES = tuple(f"self_attn_{name}" for name in PARAM_NAMES) + (
    "linear1_weight", "linear1_bias", "linear2_weight", "linear2_bias",
    "norm1_weight", "norm1_bias", "norm2_weight", "norm2_bias")


# ---------------------------------------------------------------- a pre-norm block


def _block_shapes(E: int, F: int) -> dict:
    return {"self_attn_in_proj_weight": (3 * E, E), "self_attn_in_proj_bias": (3 * E,),
            "self_attn_out_proj_weight": (E, E), "self_attn_out_proj_bias": (E,),
            "linear1_weight": (F, E), "linear1_bias": (F,), "linear2_weight": (E, F),
            "linear2_bias": (E,), "norm1_weight": (E,), "norm1_bias": (E,),
            "norm2_weight": (E,), "norm2_bias": (E,)}


def init_transformer_block(key, embed_dim: int, hidden_dim: int, *, dtype=jnp.float32):
    r"""Parameters for :func:`transformer_block`, initialised as PyTorch does.

    The attention as :func:`init_multi_head_attention`; the two linear layers uniform in
    $\pm 1/\sqrt{\text{fan-in}}$ (weights and biases); layer-norm weights 1, biases 0.

    Args:
        key: a ``jax.random`` key.
        embed_dim: $E \ge 1$. hidden_dim: $F \ge 1$, the MLP's width.
        dtype: a floating dtype.

    Returns:
        A dict with the keys :data:`BLOCK_PARAM_NAMES`.

    Raises:
        TypeError: sizes not ints; ``dtype`` not floating.
        ValueError: sizes ``< 1``.
    """
    who = "init_transformer_block"
    _checks.count(who, "embed_dim", embed_dim, low=1)
    _checks.count(who, "hidden_dim", hidden_dim, low=1)
    _checks.require_float_dtype(who, "dtype", dtype)
    E, F = embed_dim, hidden_dim
    k_att, k1, k2, k3, k4 = jax.random.split(key, 5)
    attn = init_multi_head_attention(k_att, E, dtype=dtype)
    u = lambda k, shape, fan_in: jax.random.uniform(k, shape, dtype, -1 / math.sqrt(fan_in),
                                                    1 / math.sqrt(fan_in))
    return {**{f"self_attn_{name}": p for name, p in attn.items()},
            "linear1_weight": u(k1, (F, E), E), "linear1_bias": u(k2, (F,), E),
            "linear2_weight": u(k3, (E, F), F), "linear2_bias": u(k4, (E,), F),
            "norm1_weight": jnp.ones((E,), dtype), "norm1_bias": jnp.zeros((E,), dtype),
            "norm2_weight": jnp.ones((E,), dtype), "norm2_bias": jnp.zeros((E,), dtype)}


def transformer_block(params, x, num_heads, mask=None, *, is_causal=False, eps=1e-5):
    r"""A pre-norm transformer encoder block (PyTorch's
    ``nn.TransformerEncoderLayer(norm_first=True, activation="relu")`` without dropout).

    $h = x + \mathrm{MHA}(\mathrm{LN}_1(x))$ (self-attention, :func:`multi_head_attention`),
    then $y = h + W_2\, \mathrm{relu}(W_1 \mathrm{LN}_2(h) + b_1) + b_2$, where
    $\mathrm{LN}(z) = (z - \bar z) / \sqrt{\sigma^2_z + \epsilon} \odot w + b$ over the
    features (biased variance). It has $4E^2 + 2EF + 9E + F$ parameters (computed in
    ``notebooks/08_attention.ipynb``).

    Args:
        params: the dict of :data:`BLOCK_PARAM_NAMES` (PyTorch's state_dict keys, dots as
            underscores): ``self_attn_*`` as :func:`multi_head_attention`,
            ``linear1_weight (F, E)``, ``linear1_bias (F,)``, ``linear2_weight (E, F)``,
            ``linear2_bias (E,)``, ``norm1_weight``, ``norm1_bias``, ``norm2_weight``,
            ``norm2_bias (E,)``; floating, one dtype.
        x: floating ``(*B, T, E)``.
        num_heads: an int that divides ``E``.
        mask, is_causal: as :func:`multi_head_attention` (``S = T``).
        eps: the layer norms' $\epsilon > 0$.

    Returns:
        ``(*B, T, E)`` in the parameters' dtype.

    Raises:
        TypeError: non-floating input or parameters; mixed parameter dtypes.
        ValueError: wrong parameter names or shapes; ``x`` of fewer than 2 axes or another ``E``; as
            :func:`multi_head_attention`; ``eps <= 0``.
    """
    who = "transformer_block"
    x, attn, dtype = _check_block(who, params, x, num_heads, mask, is_causal, eps)
    z = layer_norm(x, params["norm1_weight"], params["norm1_bias"], eps=eps)
    h = x + multi_head_attention(attn, z, z, z, num_heads, mask, is_causal=is_causal)
    z = layer_norm(h, params["norm2_weight"], params["norm2_bias"], eps=eps)
    hidden = jax.nn.relu(z @ params["linear1_weight"].T + params["linear1_bias"])
    return h + hidden @ params["linear2_weight"].T + params["linear2_bias"]


def block_attention_weights(params, x, num_heads, mask=None, *, is_causal=False, eps=1e-5):
    r"""The attention weights inside :func:`transformer_block`: those of
    :func:`multi_head_attention_weights` on the first layer norm's output,
    $\mathrm{LN}_1(x)$, as queries and keys.

    Args:
        params, x, num_heads, mask, is_causal, eps: as :func:`transformer_block`.

    Returns:
        ``(*B, H, T, T)`` in the parameters' dtype; each row sums to 1 over the allowed
        positions.

    Raises:
        TypeError, ValueError: as :func:`transformer_block`.

    Used in ``notebooks/08_attention.ipynb``.
    """
    who = "block_attention_weights"
    x, attn, _ = _check_block(who, params, x, num_heads, mask, is_causal, eps)
    z = layer_norm(x, params["norm1_weight"], params["norm1_bias"], eps=eps)
    return multi_head_attention_weights(attn, z, z, num_heads, mask, is_causal=is_causal)


def _check_block(who, params, x, num_heads, mask, is_causal, eps):
    """The checks of :func:`transformer_block`: ``(x cast to the parameters' dtype, the
    attention's parameters under multi_head_attention's names, the dtype)``."""
    _checks.require_floating(who, "x", x)
    xs = _checks.shape_of(x)
    if len(xs) < 2:
        raise ValueError(f"{who}: x must have shape (*B, T, E); got {_checks.fmt(xs)}.")
    _checks.require_keys(who, "params", params, BLOCK_PARAM_NAMES,
                         "PyTorch's TransformerEncoderLayer state_dict, dots as underscores",
                         "Build them with init_transformer_block(key, E, F).")
    E = xs[-1]
    F = _checks.shape_of(params["linear1_weight"])[0] if _checks.shape_of(
        params["linear1_weight"]) else 0
    for name, shape in _block_shapes(E, F).items():
        got = _checks.shape_of(params[name])
        if got != shape:
            raise ValueError(
                f"{who}: params['{name}'] must have shape {_checks.fmt(shape)} for x of "
                f"embedding size E = {E} and linear1_weight (F, E) with F = {F}; got "
                f"{_checks.fmt(got)}."
            )
    _checks.hyperparameter(who, "eps", eps, low=0.0, low_open=True)
    _check_flag(who, "is_causal", is_causal)
    _check_heads(who, E, num_heads)
    _check_mask(who, mask, (*xs[:-1], xs[-2]))
    dtype = _checks.float_dtype_of_tree(who, "params", params)
    (x,) = _checks.cast_floats(dtype, x)
    attn = {name: params[f"self_attn_{name}"] for name in PARAM_NAMES}
    return x, attn, dtype


# ---------------------------------------------------------------- positions


def sinusoidal_positions(length: int, dim: int, *, base: float = 10000.0):
    r"""The sinusoidal position encodings of "Attention is all you need".

    Row $t$, columns $2i$ and $2i + 1$: $\sin(t \omega_i)$ and $\cos(t \omega_i)$ with
    $\omega_i = \text{base}^{-2i/\text{dim}}$. Shifting $t$ by $k$ rotates each pair by the
    angle $k \omega_i$, a fixed linear map of the row (shown in the chapter).

    Args:
        length: $T \ge 0$ positions $t = 0, \dots, T - 1$.
        dim: an even int ``>= 2``.
        base: a real number ``> 1`` (may be traced under ``jit``; then unchecked).

    Returns:
        float32 ``(T, dim)``.

    Raises:
        TypeError, ValueError: ``length`` or ``dim`` not an int in range, ``dim`` odd,
            ``base <= 1``.
    """
    who = "sinusoidal_positions"
    _checks.count(who, "length", length)
    _checks.count(who, "dim", dim, low=2)
    if dim % 2:
        raise ValueError(f"{who}: dim must be even (sine and cosine pairs); got {dim}.")
    _checks.hyperparameter(who, "base", base, low=1.0, low_open=True)
    omega = jnp.asarray(base, jnp.float32) ** (-jnp.arange(0, dim, 2, dtype=jnp.float32) / dim)
    angles = jnp.arange(length, dtype=jnp.float32)[:, None] * omega[None, :]
    return jnp.stack([jnp.sin(angles), jnp.cos(angles)], axis=-1).reshape(length, dim)
