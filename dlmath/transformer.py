r"""A pre-norm transformer encoder block and the sinusoidal position encodings, built on
:mod:`dlmath.attention`.

Legend: ``B`` batch axes, ``T`` positions, ``E`` the embedding size, ``F`` the width of the
block's MLP. Derived and used in ``notebooks/08_attention.ipynb``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks, initializers
from dlmath.activations import relu
from dlmath.attention import (
    init_multi_head_attention,
    multi_head_attention,
    multi_head_attention_weights,
)
from dlmath.layers import dense
from dlmath.normalization import layer_norm

__all__ = ["transformer_block", "block_attention_weights", "init_transformer_block",
           "sinusoidal_positions"]


# ---------------------------------------------------------------- a pre-norm block


def _shapes(E: int, F: int) -> dict:
    """The entries of a block's parameters: path -> (legend, shape)."""
    return {("self_attn", "in_proj", "w"): ("(E, 3E)", (E, 3 * E)),
            ("self_attn", "in_proj", "b"): ("(3E,)", (3 * E,)),
            ("self_attn", "out_proj", "w"): ("(E, E)", (E, E)),
            ("self_attn", "out_proj", "b"): ("(E,)", (E,)),
            ("linear1", "w"): ("(E, F)", (E, F)), ("linear1", "b"): ("(F,)", (F,)),
            ("linear2", "w"): ("(F, E)", (F, E)), ("linear2", "b"): ("(E,)", (E,)),
            **{(norm, name): ("(E,)", (E,)) for norm in ("norm1", "norm2")
               for name in ("scale", "bias")}}


def init_transformer_block(key, embed_dim: int, hidden_dim: int, *, dtype=jnp.float32):
    r"""Parameters for :func:`transformer_block`, initialised as PyTorch does.

    The attention as :func:`init_multi_head_attention`; the two linear layers as PyTorch's
    default (:func:`dlmath.initializers.pytorch_uniform`), uniform in
    $\pm 1/\sqrt{\text{fan-in}}$, kernels and biases, the kernels drawn in PyTorch's
    ``(out, in)`` order and transposed; layer-norm scales 1, biases 0.

    Args:
        key: a ``jax.random`` key.
        embed_dim: $E \ge 1$. hidden_dim: $F \ge 1$, the MLP's width.
        dtype: a floating dtype.

    Returns:
        ``{"self_attn": (as init_multi_head_attention), "linear1": {"w": (E, F), "b":
        (F,)}, "linear2": {"w": (F, E), "b": (E,)}, "norm1": {"scale": (E,), "bias": (E,)},
        "norm2": {"scale": (E,), "bias": (E,)}}``.

    Raises:
        TypeError: a missing key; sizes not ints; ``dtype`` not floating.
        ValueError: sizes ``< 1``.
    """
    who = "init_transformer_block"
    _checks.require_key(who, key, "the kernels")
    _checks.count(who, "embed_dim", embed_dim, low=1)
    _checks.count(who, "hidden_dim", hidden_dim, low=1)
    _checks.require_float_dtype(who, "dtype", dtype)
    E, F = embed_dim, hidden_dim
    k_att, k1, k2, k3, k4 = jax.random.split(key, 5)

    def linear(k_w, k_b, fan_in, fan_out):
        draw = initializers.pytorch_uniform(fan_in, dtype=dtype)
        return {"w": draw(k_w, (fan_out, fan_in)).T, "b": draw(k_b, (fan_out,))}

    norm = {"scale": jnp.ones((E,), dtype), "bias": jnp.zeros((E,), dtype)}
    return {"self_attn": init_multi_head_attention(k_att, E, dtype=dtype),
            "linear1": linear(k1, k2, E, F), "linear2": linear(k3, k4, F, E),
            "norm1": norm, "norm2": dict(norm)}


def _check(who: str):
    def check(params, x, num_heads, mask=None, *, is_causal=False, eps=1e-5):
        _checks.require_floating(who, "x", x)
        xs = _checks.shape_of(x)
        if len(xs) < 2:
            raise ValueError(f"{who}: x must have shape (*B, T, E); got {_checks.fmt(xs)}.")
        try:
            F = _checks.shape_of(params["linear1"]["w"])[1]
        except (TypeError, KeyError, IndexError):
            F = 0  # the structure is reported below
        E = xs[-1]
        _checks.require_shapes(who, "params", params, _shapes(E, F),
                               f" for x of embedding size E = {E} and linear1's w (E, F) with "
                               f"F = {F}", "Build them with init_transformer_block(key, E, F), "
                               "or convert.from_pytorch(state_dict, 'transformer_block').")
        _checks.hyperparameter(who, "eps", eps, low=0.0)
        _checks.require_flag(who, "is_causal", is_causal)
        _checks.require_divisor(who, "num_heads", num_heads, E, "the embedding size E")
        _checks.require_mask(who, mask, (*xs[:-1], xs[-2]))
    return check


@_checks.checked(_check("transformer_block"), static_argnames=("num_heads", "is_causal"))
def transformer_block(params, x, num_heads, mask=None, *, is_causal=False, eps=1e-5):
    r"""A pre-norm transformer encoder block (PyTorch's
    ``nn.TransformerEncoderLayer(norm_first=True, activation="relu")`` without dropout).

    $h = x + \mathrm{MHA}(\mathrm{LN}_1(x))$ (self-attention, :func:`multi_head_attention`),
    then $y = h + \mathrm{relu}(\mathrm{LN}_2(h) W_1 + b_1) W_2 + b_2$ (two dense layers,
    :func:`dlmath.layers.dense`), where
    $\mathrm{LN}(z) = (z - \bar z) / \sqrt{\sigma^2_z + \epsilon} \odot w + b$ over the
    features (biased variance). It has $4E^2 + 2EF + 9E + F$ parameters (computed in
    ``notebooks/08_attention.ipynb``). The inputs are checked once, here; the parts run as
    their kernels.

    Args:
        params: ``{"self_attn": ..., "linear1": {"w": (E, F), "b": (F,)}, "linear2": {"w":
            (F, E), "b": (E,)}, "norm1": {"scale": (E,), "bias": (E,)}, "norm2": ...}``,
            named as PyTorch's submodules (``self_attn`` as :func:`multi_head_attention`'s
            parameters); floating, one dtype. :func:`dlmath.convert.from_pytorch` maps
            PyTorch's state_dict.
        x: floating ``(*B, T, E)``.
        num_heads: an int that divides ``E``.
        mask, is_causal: as :func:`multi_head_attention` (``S = T``).
        eps: the layer norms' $\epsilon \ge 0$ (with 0, a constant row normalises to 0).

    Returns:
        ``(*B, T, E)`` in the parameters' dtype.

    Raises:
        TypeError: non-floating input or parameters; mixed parameter dtypes.
        ValueError: wrong parameter names or shapes; ``x`` of fewer than 2 axes or another ``E``; as
            :func:`multi_head_attention`; ``eps < 0``.
    """
    x = x.astype(params["linear1"]["w"].dtype)
    z = layer_norm.kernel(x, params["norm1"]["scale"], params["norm1"]["bias"], eps=eps)
    h = x + multi_head_attention.kernel(params["self_attn"], z, z, z, num_heads, mask,
                                        is_causal=is_causal)
    z = layer_norm.kernel(h, params["norm2"]["scale"], params["norm2"]["bias"], eps=eps)
    return h + dense.kernel(params["linear2"], relu(dense.kernel(params["linear1"], z)))


@_checks.checked(_check("block_attention_weights"), static_argnames=("num_heads", "is_causal"))
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
    x = x.astype(params["linear1"]["w"].dtype)
    z = layer_norm.kernel(x, params["norm1"]["scale"], params["norm1"]["bias"], eps=eps)
    return multi_head_attention_weights.kernel(params["self_attn"], z, z, num_heads, mask,
                                               is_causal=is_causal)


# ---------------------------------------------------------------- positions


def _check_positions(length, dim, *, base=10000.0) -> None:
    who = "sinusoidal_positions"
    _checks.count(who, "length", length)
    _checks.count(who, "dim", dim, low=2)
    if dim % 2:
        raise ValueError(f"{who}: dim must be even (sine and cosine pairs); got {dim}.")
    _checks.hyperparameter(who, "base", base, low=1.0, low_open=True)


@_checks.checked(_check_positions, static_argnames=("length", "dim"))
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
    omega = jnp.asarray(base, jnp.float32) ** (-jnp.arange(0, dim, 2, dtype=jnp.float32) / dim)
    angles = jnp.arange(length, dtype=jnp.float32)[:, None] * omega[None, :]
    return jnp.stack([jnp.sin(angles), jnp.cos(angles)], axis=-1).reshape(length, dim)
