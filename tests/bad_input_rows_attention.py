"""Bad-input rows of dlmath.attention: attention weights and outputs (with a mask, causal,
blocked), multi-head attention and its parameters, against NumPy in float64."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from bad_input_cases import A, H, Spec, fixed_key, normal


def _qkv(s, rng, value=True):
    kw = {"query": normal(rng, (s["N"], s["T"], s["D"])),
          "key": normal(rng, (s["N"], s["S"], s["D"]))}
    if value:
        kw["value"] = normal(rng, (s["N"], s["S"], s["V"]))
    return kw


def _np_attention(kw):
    q, k = np.asarray(kw["query"], np.float64), np.asarray(kw["key"], np.float64)
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    allowed = np.ones(scores.shape, bool)
    if kw.get("mask") is not None:
        allowed = allowed & np.broadcast_to(np.asarray(kw["mask"]).astype(bool), scores.shape)
    if kw.get("is_causal"):
        t, s_ = scores.shape[-2:]
        allowed = allowed & np.tril(np.ones((t, s_), bool))
    scores = np.where(allowed, scores, -np.inf)
    m = np.max(np.where(allowed, scores, 0.0), -1, keepdims=True)
    e = np.where(allowed, np.exp(np.where(allowed, scores, 0.0) - m), 0.0)
    total = e.sum(-1, keepdims=True)
    p = e / np.where(total > 0, total, 1.0)  # a fully masked row is 0 (documented)
    if "value" not in kw:
        return p
    return p @ np.asarray(kw["value"], np.float64)


QKV = {("query",): A(("N", "T", "D")), ("key",): A(("N", "S", "D")),
       ("value",): A(("N", "S", "V"))}


def mha_params(s, rng):
    """Multi-head attention's parameters for embedding size ``E`` (the in-projection's
    ``3E`` columns are three blocks of ``E``)."""
    e = s["E"]
    return {"in_proj": {"w": normal(rng, (e, 3 * e), 0.5), "b": normal(rng, (3 * e,), 0.1)},
            "out_proj": {"w": normal(rng, (e, e), 0.5), "b": normal(rng, (e,), 0.1)}}


#: the array arguments of :func:`mha_params`, under ``params``
MHA_PARAMS = {("params", "in_proj", "w"): A(("E", "E"), param=True),
              ("params", "in_proj", "b"): A(("E",), param=True),
              ("params", "out_proj", "w"): A(("E", "E"), param=True),
              ("params", "out_proj", "b"): A(("E",), param=True)}


def specs():
    qk = {k: v for k, v in QKV.items() if k != ("value",)}
    mha = {**MHA_PARAMS, ("query",): A(("N", "T", "E")), ("key",): A(("N", "S", "E")),
           ("value",): A(("N", "S", "E"))}
    causal = {"is_causal": H(boolean=True, static=True)}
    return [
        Spec("attention.attention_weights",
             lambda s, rng: {**_qkv(s, rng, False), "is_causal": False}, qk, causal,
             empty={"N": "pass", "T": "pass", "D": "raise"}, out_dtype="promote",
             stable=True, grad_of=(("query",),), ref=_np_attention, examples=1),
        Spec("attention.scaled_dot_product_attention",
             lambda s, rng: {**_qkv(s, rng), "is_causal": False}, QKV, causal,
             empty={"N": "pass", "T": "pass", "V": "pass", "D": "raise"}, out_dtype="promote",
             stable=True, grad_of=(("query",),), ref=_np_attention, examples=1),
        Spec("attention.scaled_dot_product_attention",
             lambda s, rng: {**_qkv(s, rng), "is_causal": False,
                             "mask": rng.random((s["N"], s["T"], s["S"])) > 0.3},
             {**QKV, ("mask",): A((), kind="mask", ranks=(0, 3))}, causal,
             empty={"N": "either", "T": "either"}, out_dtype="promote", tag="[mask]",
             ref=_np_attention),
        Spec("attention.flash_attention",
             lambda s, rng: {**_qkv(s, rng), "is_causal": False, "block_size": 2}, QKV,
             {**causal, "block_size": H(count=True, low=1, static=True)},
             empty={"N": "pass", "T": "pass", "V": "pass", "D": "raise"}, out_dtype="promote",
             stable=True, grad_of=(("query",),), ref=_np_attention, examples=1),
        Spec("attention.multi_head_attention",
             lambda s, rng: {"params": mha_params(s, rng),
                             "query": normal(rng, (s["N"], s["T"], s["E"])),
                             "key": normal(rng, (s["N"], s["S"], s["E"])),
                             "value": normal(rng, (s["N"], s["S"], s["E"])), "num_heads": 2},
             mha, {"num_heads": H(count=True, low=1, static=True,
                                  pred=lambda v: 4 % int(v) == 0)},
             empty={"N": "pass", "T": "pass"}, out_dtype="params", examples=1),
        Spec("attention.multi_head_attention_weights",
             lambda s, rng: {"params": mha_params(s, rng),
                             "query": normal(rng, (s["N"], s["T"], s["E"])),
                             "key": normal(rng, (s["N"], s["S"], s["E"])), "num_heads": 2},
             {k: v for k, v in mha.items() if k != ("value",)},
             {"num_heads": H(count=True, low=1, static=True, pred=lambda v: 4 % int(v) == 0)},
             empty={"N": "pass", "T": "pass"}, out_dtype="params", examples=1,
             propagates=(("query",), ("key",)),
             note="the value's projection and the output projection are not used"),
        Spec("attention.init_multi_head_attention",
             lambda s, rng: {"key": fixed_key(), "embed_dim": 4, "dtype": jnp.float32}, {},
             {"embed_dim": H(count=True, low=1, static=True),
              "dtype": H(dtype=True, static=True, allow_none=True)}),
    ]
