r"""Multi-head attention with the parameters of PyTorch's ``nn.MultiheadAttention`` as two
dense layers, and the weights of each head. Legend as :mod:`dlmath.attention`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks, initializers
from dlmath.attention._core import check_inputs as _check_inputs
from dlmath.attention.dot_product import attention_weights, scaled_dot_product_attention
from dlmath.layers import dense

__all__ = ["multi_head_attention", "init_multi_head_attention", "multi_head_attention_weights"]



def _shapes(E: int) -> dict:
    """The entries of multi-head attention's parameters: path -> (legend, shape)."""
    return {("in_proj", "w"): ("(E, 3E)", (E, 3 * E)), ("in_proj", "b"): ("(3E,)", (3 * E,)),
            ("out_proj", "w"): ("(E, E)", (E, E)), ("out_proj", "b"): ("(E,)", (E,))}


def _check_mha(who, params, query, key, value, num_heads, mask, is_causal) -> None:
    E, Ev = _check_inputs(who, query, key, value, mask, is_causal)
    if Ev != E:
        raise ValueError(
            f"{who}: value must have the embedding size E of query and key, query (*B, T, E), "
            f"key and value (*B, S, E); got query {_checks.fmt(_checks.shape_of(query))}, "
            f"value {_checks.fmt(_checks.shape_of(value))}."
        )
    _checks.require_shapes(who, "params", params, _shapes(E),
                           f" for inputs of embedding size E = {E}",
                           "Build them with init_multi_head_attention(key, E), or from PyTorch's "
                           "with convert.from_pytorch(state_dict, 'multi_head_attention').")
    _checks.require_divisor(who, "num_heads", num_heads, E, "the embedding size E")


def init_multi_head_attention(key, embed_dim: int, *, dtype=jnp.float32):
    r"""Parameters for :func:`multi_head_attention`, initialised as PyTorch does.

    The kernels are Glorot uniform (:func:`dlmath.initializers.glorot_uniform`),
    $U(-a, a)$ with $a = \sqrt{6 / (\text{fan-in} + \text{fan-out})}$, drawn in PyTorch's
    ``(out, in)`` order and transposed, so a key gives PyTorch's layout of the same numbers;
    the biases are 0.

    Args:
        key: a ``jax.random`` key.
        embed_dim: $E \ge 1$.
        dtype: a floating dtype.

    Returns:
        ``{"in_proj": {"w": (E, 3E), "b": (3E,)}, "out_proj": {"w": (E, E), "b": (E,)}}``.

    Raises:
        TypeError: a missing key; ``embed_dim`` not an int; ``dtype`` not floating.
        ValueError: ``embed_dim < 1``.
    """
    who = "init_multi_head_attention"
    _checks.require_key(who, key, "the kernels")
    _checks.count(who, "embed_dim", embed_dim, low=1)
    _checks.require_float_dtype(who, "dtype", dtype)
    E = embed_dim
    k_in, k_out = jax.random.split(key)
    glorot = initializers.glorot_uniform(in_axis=-1, out_axis=-2, dtype=dtype)
    return {"in_proj": {"w": glorot(k_in, (3 * E, E)).T, "b": jnp.zeros((3 * E,), dtype)},
            "out_proj": {"w": glorot(k_out, (E, E)).T, "b": jnp.zeros((E,), dtype)}}


@_checks.checked(lambda params, query, key, value, num_heads, mask=None, *, is_causal=False:
                 _check_mha("multi_head_attention", params, query, key, value, num_heads, mask,
                            is_causal), static_argnames=("num_heads", "is_causal"))
def multi_head_attention(params, query, key, value, num_heads, mask=None, *, is_causal=False):
    r"""Multi-head attention, with the parameters of PyTorch's ``nn.MultiheadAttention`` as
    two dense layers.

    With $W_q, W_k, W_v$ the three $(E, E)$ column blocks of ``in_proj``'s kernel (and $b_q,
    b_k, b_v$ of its bias): $Q = X_q W_q + b_q$, $K = X_k W_k + b_k$, $V = X_v W_v + b_v$
    (:func:`dlmath.layers.dense`); each is split along its features into $H$ heads of
    $E / H$; head $h$ is $O_h = \mathrm{softmax}(Q_h K_h^T / \sqrt{E/H}) V_h$
    (:func:`scaled_dot_product_attention`); the heads are concatenated and
    $Y = [O_1, \dots, O_H] W_o + b_o$ with ``out_proj``. PyTorch's ``in_proj_weight`` is
    ``in_proj``'s kernel transposed (:func:`dlmath.convert.from_pytorch`).

    Args:
        params: ``{"in_proj": {"w": (E, 3E), "b": (3E,)}, "out_proj": {"w": (E, E), "b":
            (E,)}}``, floating, of one dtype.
        query: floating ``(*B, T, E)``.
        key: floating ``(*B, S, E)``.
        value: floating ``(*B, S, E)``.
        num_heads: $H$, an int that divides ``E``.
        mask: boolean, broadcastable to ``(*B, T, S)``, shared by the heads; ``True`` =
            may attend (PyTorch's ``nn.MultiheadAttention`` uses the opposite convention
            for a boolean ``attn_mask``).
        is_causal: query ``t`` attends only keys ``s <= t``.

    Returns:
        ``(*B, T, E)`` in the parameters' dtype (floating inputs of another dtype are cast
        to it, the package's rule for functions with parameters).

    Raises:
        TypeError: non-floating inputs or parameters, parameters of mixed float dtypes; a
            non-boolean mask; ``num_heads`` not an int.
        ValueError: wrong parameter names or shapes; ``E`` not divisible by ``num_heads``; inputs of
            another embedding size than the parameters; key and value of different lengths;
            different batch axes; a mask that does not broadcast to ``(*B, T, S)``.

    Derived in ``notebooks/08_attention.ipynb``.
    """
    q, k, v = (_heads(params["in_proj"], x, part, num_heads)
               for part, x in enumerate((query, key, value)))
    o = scaled_dot_product_attention.kernel(q, k, v, _heads_mask(mask, query, key),
                                            is_causal=is_causal)
    o = jnp.moveaxis(o, -3, -2).reshape(*query.shape)  # the heads side by side: (*B, T, E)
    return dense.kernel(params["out_proj"], o)


def _heads(in_proj, x, part: int, H: int):
    """Projection ``part`` (0: query, 1: key, 2: value) of ``x (*B, L, E)``, split into
    heads: ``(*B, H, L, E/H)``."""
    E = x.shape[-1]
    block = slice(part * E, (part + 1) * E)
    y = dense.kernel({"w": in_proj["w"][:, block], "b": in_proj["b"][block]}, x)
    return jnp.moveaxis(y.reshape(*y.shape[:-1], H, E // H), -2, -3)


def _heads_mask(mask, query, key):
    """A mask shared by the heads: ``(*B, 1, T, S)`` (or None)."""
    if mask is None:
        return None
    return jnp.expand_dims(jnp.broadcast_to(mask, (*query.shape[:-1], key.shape[-2])), -3)


@_checks.checked(lambda params, query, key, num_heads, mask=None, *, is_causal=False:
                 _check_mha("multi_head_attention_weights", params, query, key, key, num_heads,
                            mask, is_causal), static_argnames=("num_heads", "is_causal"))
def multi_head_attention_weights(params, query, key, num_heads, mask=None, *, is_causal=False):
    r"""The attention weights of every head of :func:`multi_head_attention`:
    $P_h = \mathrm{softmax}(Q_h K_h^T / \sqrt{E/H})$ (:func:`attention_weights` of the
    projected, split query and key), what PyTorch's ``nn.MultiheadAttention`` returns with
    ``need_weights=True, average_attn_weights=False``.

    Args:
        params, query, key, num_heads, mask, is_causal: as :func:`multi_head_attention`
            (the value is not needed).

    Returns:
        ``(*B, H, T, S)`` in the parameters' dtype: row ``t`` of head ``h`` sums to 1 over
        the allowed keys (a row whose keys are all masked is 0).

    Raises:
        TypeError, ValueError: as :func:`multi_head_attention`.

    Derived in ``notebooks/08_attention.ipynb``.
    """
    q, k = _heads(params["in_proj"], query, 0, num_heads), _heads(params["in_proj"], key, 1,
                                                                 num_heads)
    return attention_weights.kernel(q, k, _heads_mask(mask, query, key), is_causal=is_causal)
