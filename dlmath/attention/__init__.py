r"""Attention: the scaled dot-product softmax, a blocked kernel, multi-head and grouped-query
attention, rotary position embeddings and the key/value cache of decoding.

Legend: ``B`` batch axes (any number), ``T`` queries, ``S`` keys (and values), ``D`` the
feature size of queries and keys, ``Dv`` that of values, ``E`` the embedding size of
multi-head attention, ``H`` its number of heads (``Hq`` query heads and ``Hkv`` key/value
heads in grouped-query attention).

One module per idea:

* :mod:`~dlmath.attention.dot_product` -- :func:`scaled_dot_product_attention` is the
  reference: it forms the ``T x S`` scores, a stable (max-shifted) softmax along the keys,
  and the weighted sum of the values; with ``enable_gqa`` the query heads share fewer
  key/value heads (PyTorch's semantics). :func:`causal_mask` aligns the causal mask at the
  top left or the bottom right.
* :mod:`~dlmath.attention.flash` -- :func:`flash_attention` computes the same result block
  by block over the keys with the streaming ("online") softmax, never holding the
  ``T x S`` matrix; its backward pass recomputes the blocks instead of storing them, and
  when causal it never visits the blocks above the diagonal.
* :mod:`~dlmath.attention.multi_head` -- :func:`multi_head_attention` projects, splits into
  heads, attends and projects back; its parameters are two dense layers ``{"in_proj":
  {"w": (E, 3E), "b": (3E,)}, "out_proj": {"w": (E, E), "b": (E,)}}``
  (:func:`dlmath.layers.dense`, ``x @ w + b``), named as PyTorch's ``nn.MultiheadAttention``
  modules; :mod:`dlmath.convert` maps them from PyTorch's state_dict and to flax.linen's
  ``MultiHeadDotProductAttention``.
* :mod:`~dlmath.attention.rotary` -- :func:`rotary_embedding` rotates pairs of features by
  position-dependent angles.
* :mod:`~dlmath.attention.cache` -- :class:`KVCache`, :func:`init_kv_cache`,
  :func:`update_kv_cache` and :func:`decode_attention`: fixed-size buffers and a length,
  so one compiled decoding step serves every position.

The transformer blocks and position encodings built on it are in :mod:`dlmath.transformer`
and :mod:`dlmath.transformer_decoder`.

Masks are boolean, ``True`` = may attend (as ``jax.nn.dot_product_attention`` and PyTorch's
``F.scaled_dot_product_attention``; the opposite of ``nn.MultiheadAttention``'s boolean
``attn_mask``). A query whose every key is masked gets the output 0 and gradient 0, never
NaN. Each public function checks its inputs once, then runs its compiled kernel; the
functions built on another call its ``.kernel``, so a mask is checked once, by the
function the reader called. Derived in ``notebooks/08_attention.ipynb`` and
``notebooks/13_language_models.ipynb``.
"""

from __future__ import annotations

from dlmath.attention.cache import KVCache, decode_attention, init_kv_cache, update_kv_cache
from dlmath.attention.dot_product import (
    attention_weights,
    causal_mask,
    scaled_dot_product_attention,
)
from dlmath.attention.flash import flash_attention
from dlmath.attention.multi_head import (
    init_multi_head_attention,
    multi_head_attention,
    multi_head_attention_weights,
)
from dlmath.attention.rotary import rotary_embedding

__all__ = [
    "attention_weights",
    "scaled_dot_product_attention",
    "flash_attention",
    "multi_head_attention",
    "init_multi_head_attention",
    "multi_head_attention_weights",
    "causal_mask",
    "rotary_embedding",
    "KVCache",
    "init_kv_cache",
    "update_kv_cache",
    "decode_attention",
]
