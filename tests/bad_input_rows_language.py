"""Bad-input rows of the language-model functions: the causal mask, rotary embeddings, the
key/value cache, the decoder, sampling and the Markov source."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from bad_input_cases import A, H, Spec, fixed_key, normal, probs
from bad_input_rows_attention import _np_attention


def _np_rotary(kw):
    x = np.asarray(kw["x"], np.float64)
    D = x.shape[-1]
    theta = np.asarray(kw["positions"], np.float64)[:, None] * kw["base"] ** (
        -np.arange(0, D, 2) / D)
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * np.cos(theta) - b * np.sin(theta)
    out[..., 1::2] = a * np.sin(theta) + b * np.cos(theta)
    return out


def _np_probs(kw):
    z = np.asarray(kw["logits"], np.float64) / kw["temperature"]
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def specs():
    return [
        Spec("attention.causal_mask", lambda s, rng: {"T": 3, "S": 4, "alignment": "top_left"},
             {}, {"T": H(count=True, low=0, static=True), "S": H(count=True, low=0, static=True),
                  "alignment": H(choices=("top_left", "bottom_right"), static=True)}),
        Spec("attention.rotary_embedding",
             lambda s, rng: {"x": normal(rng, (s["N"], s["T"], 2 * s["D"])),
                             "positions": np.arange(s["T"], dtype=np.int32), "base": 100.0},
             {("x",): A(("N", "T", "D")), ("positions",): A(("T",), kind="ints")},
             {"base": H(low=1.0, low_open=True)}, empty={"N": "pass", "T": "pass"},
             out_dtype="promote", ref=_np_rotary, examples=1, skip=("labels_range",
                                                                    "labels_width"),
             note="x's last axis is 2D (even)"),
        Spec("sampling.sampling_distribution",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"])), "temperature": 1.5},
             {("logits",): A(("N", "K"), ranks=(1, 2, 3))}, {"temperature": H(low=0.0)},
             empty={"N": "pass", "K": "raise"}, ref=_np_probs, examples=1),
        Spec("sampling.greedy", lambda s, rng: {"logits": normal(rng, (s["N"], s["K"]))},
             {("logits",): A(("N", "K"), ranks=(1, 2, 3))}, empty={"N": "pass", "K": "raise"},
             ref=lambda kw: np.argmax(np.asarray(kw["logits"], np.float64), -1),
             nonfinite="any", examples=1),
    ] + _cache_specs() + _decoder_specs() + _sampling_specs() + _markov_specs()


# ------------------------------------------------------------------ the key/value cache
# Letters: N batch, H key/value heads, S the buffer's positions (L), T new positions, D and V
# the features of keys and values. A cache is built with ``length = 1`` (one position
# written), so that ``T = 3`` new positions fit in the ``S = 5`` of the buffer.

def _cache(s, rng, length=1, dtype=np.float32):
    from dlmath.attention import KVCache

    shape = (s["N"], s["H"], s["S"])
    return KVCache(normal(rng, (*shape, s["D"])).astype(dtype),
                   normal(rng, (*shape, s["V"])).astype(dtype), np.asarray(length, np.int32))


_CACHE = {("cache", 0): A(("N", "H", "S", "D")), ("cache", 1): A(("N", "H", "S", "V"))}


def _np_update(kw):
    c = kw["cache"]
    n, t = int(c.length), np.shape(kw["key"])[2]
    dt = np.result_type(np.asarray(c.key).dtype, np.float32)
    key, value = np.array(c.key, dt), np.array(c.value, dt)
    key[:, :, n:n + t], value[:, :, n:n + t] = kw["key"], kw["value"]
    return type(c)(key, value, np.asarray(n + t, np.int32))


def _np_decode(kw):
    c, q = kw["cache"], np.asarray(kw["query"], np.float64)
    n, t = int(c.length), q.shape[-2]
    group = q.shape[1] // np.shape(c.key)[1]
    k = np.repeat(np.asarray(c.key, np.float64)[:, :, :n], group, axis=1)
    v = np.repeat(np.asarray(c.value, np.float64)[:, :, :n], group, axis=1)
    allowed = np.arange(n)[None, :] <= n - t + np.arange(t)[:, None]
    return _np_attention({"query": q, "key": k, "value": v, "mask": allowed})


def _cache_specs():
    return [
        Spec("attention.init_kv_cache",
             lambda s, rng: {"batch": 2, "num_kv_heads": 2, "max_len": 4, "head_dim": 3,
                             "dtype": jnp.float32, "value_dim": None}, {},
             {"batch": H(count=True, low=0, static=True),
              "num_kv_heads": H(count=True, low=1, static=True),
              "max_len": H(count=True, low=1, static=True),
              "head_dim": H(count=True, low=1, static=True),
              "value_dim": H(count=True, low=1, static=True, allow_none=True),
              "dtype": H(dtype=True, static=True, allow_none=True)}, out_dtype="float32"),
        Spec("attention.update_kv_cache",
             lambda s, rng: {"cache": _cache(s, rng),
                             "key": normal(rng, (s["N"], s["H"], s["T"], s["D"])),
                             "value": normal(rng, (s["N"], s["H"], s["T"], s["V"]))},
             {**{p: A(a.legend, param=True) for p, a in _CACHE.items()},
              ("key",): A(("N", "H", "T", "D")), ("value",): A(("N", "H", "T", "V"))},
             empty={"N": "pass", "T": "pass"}, out_dtype="params", ref=_np_update,
             grad_of=(("key",),), examples=1,
             note="the cache is the carried state: new keys and values are cast to its dtype"),
        Spec("attention.decode_attention",
             lambda s, rng: {"query": normal(rng, (s["N"], 2 * s["H"], s["T"], s["D"])),
                             "cache": _cache(s, rng, length=4)},
             {("query",): A(("N", "G", "T", "D")), **_CACHE},
             empty={"N": "pass", "T": "pass"}, out_dtype="promote", ref=_np_decode,
             stable=True, grad_of=(("query",),), free_letters=("G",), examples=1,
             note="two query heads per key/value head (grouped-query attention)"),
    ]


# ------------------------------------------------------------------ the decoder
# Letters: K the vocabulary, E the embedding (two heads of Dh = 2), D = Hkv * Dh the width of
# the key and value projections (one key/value head), H the MLP's width; tokens (N, T).

_DECODER = {("embed",): ("K", "E"), ("norm", "scale"): ("E",), ("head", "w"): ("E", "K"),
            ("head", "b"): ("K",)}
_BLOCK = {("norm1", "scale"): ("E",), ("norm2", "scale"): ("E",), ("q", "w"): ("E", "E"),
          ("q", "b"): ("E",), ("k", "w"): ("E", "D"), ("k", "b"): ("D",),
          ("v", "w"): ("E", "D"), ("v", "b"): ("D",), ("o", "w"): ("E", "E"), ("o", "b"): ("E",),
          ("linear1", "w"): ("E", "H"), ("linear1", "b"): ("H",), ("linear2", "w"): ("H", "E"),
          ("linear2", "b"): ("E",)}
_PARAMS = {**{("params", *p): A(legend, param=True) for p, legend in _DECODER.items()},
           **{("params", "block0", *p): A(legend, param=True) for p, legend in _BLOCK.items()}}
_HEADS = H(count=True, low=1, static=True, pred=lambda v: int(v) == 2)
_DECODER_HYPERS = {"num_heads": _HEADS, "eps": H(low=0.0), "base": H(low=1.0, low_open=True)}


def _decoder_params(s, rng):
    params: dict = {}
    for path, a in _PARAMS.items():
        shape = tuple(s[x] for x in a.legend)
        value = (1.0 + normal(rng, shape, 0.1) if path[-1] == "scale"
                 else normal(rng, shape, 0.7))
        inner = params
        for k in path[1:-1]:
            inner = inner.setdefault(k, {})
        inner[path[-1]] = value
    return params


def _decoder_kw(s, rng, name="tokens"):
    return {"params": _decoder_params(s, rng), name: rng.integers(
        0, s["K"], (s["N"], s["T"])).astype(np.int32), "num_heads": 2, "eps": 1e-6,
        "base": 100.0}


def _decoder_caches(s, rng, length=1):
    from dlmath.attention import KVCache

    shape = (s["N"], s["G"], s["S"], s["D"])
    return (KVCache(normal(rng, shape), normal(rng, shape), np.asarray(length, np.int32)),)


def _step_call(fn, **kw):
    logits, caches = fn(**kw)
    return logits, caches[0].key, caches[0].value, caches[0].length


def _generate_call(fn, **kw):
    return fn(fixed_key(), **kw)


def _decoder_specs():
    tokens = A(("N", "T"), kind="labels", classes="K")
    caches = {("caches", 0, 0): A(("N", "G", "S", "D"), param=True),
              ("caches", 0, 1): A(("N", "G", "S", "D"), param=True)}
    sizes = ("vocab_size", "embed_dim", "num_layers", "num_heads", "num_kv_heads",
             "hidden_dim")

    def count_hypers(key=False):
        h = {"vocab_size": H(count=True, low=1, static=True),
             "embed_dim": H(count=True, low=1, static=True, pred=lambda v: int(v) == 4),
             "num_layers": H(count=True, low=1, static=True),
             "num_heads": H(count=True, low=1, static=True, pred=lambda v: int(v) in (1, 2)),
             "num_kv_heads": H(count=True, low=1, static=True, pred=lambda v: int(v) in (1, 2)),
             "hidden_dim": H(count=True, low=1, static=True)}
        return {**h, "dtype": H(dtype=True, static=True, allow_none=True)} if key else h

    base_sizes = dict(zip(sizes, (4, 4, 1, 2, 1, 3), strict=True))
    return [
        Spec("transformer_decoder.decoder", _decoder_kw, {**_PARAMS, ("tokens",): tokens},
             _DECODER_HYPERS, empty={"N": "pass", "T": "pass"}, out_dtype="params",
             labels_jit="nan", wide_k=300, examples=1),
        Spec("transformer_decoder.decoder_step",
             lambda s, rng: {**_decoder_kw(s, rng), "caches": _decoder_caches(s, rng)},
             {**_PARAMS, ("tokens",): tokens, **caches}, _DECODER_HYPERS,
             sizes={"G": 1}, call=_step_call, empty={"N": "pass", "T": "pass"},
             out_dtype="params", labels_jit="nan", wide_k=300, examples=1,
             propagates=tuple(_PARAMS) + (("caches", 0, 0), ("caches", 0, 1)),
             note="the caches (one KVCache, 1 position written) are the model's state: in "
                  "the parameters' dtype"),
        Spec("transformer_decoder.init_decoder_cache",
             lambda s, rng: {"params": _decoder_params(s, rng), "batch": 2, "max_len": 4,
                             "num_heads": 2}, _PARAMS,
             {"batch": H(count=True, low=0, static=True),
              "max_len": H(count=True, low=1, static=True), "num_heads": _HEADS},
             out_dtype="params", propagates=(), skip=("nonfinite",),
             note="only the parameters' shapes and dtype are read"),
        Spec("transformer_decoder.init_decoder",
             lambda s, rng: {"key": fixed_key(), **base_sizes, "dtype": jnp.float32}, {},
             count_hypers(key=True), out_dtype="float32"),
        Spec("transformer_decoder.decoder_parameter_count", lambda s, rng: dict(base_sizes),
             {}, count_hypers()),
        Spec("sampling.generate",
             lambda s, rng: {**_decoder_kw(s, rng, "prompt"), "num_tokens": 2,
                             "temperature": 0.0, "top_k": None, "top_p": None,
                             "use_cache": True},
             {**_PARAMS, ("prompt",): tokens},
             {**_DECODER_HYPERS, "num_tokens": H(count=True, low=0, static=True),
              "temperature": H(low=0.0), "top_k": H(count=True, low=1, high=4, static=True,
                                                     allow_none=True),
              "top_p": H(low=0.0, high=1.0, low_open=True, allow_none=True),
              "use_cache": H(boolean=True, static=True)},
             call=_generate_call, empty={"N": "pass", "T": "raise"}, out_dtype="int32",
             wide_k=300, examples=1, nonfinite="any", jittable=False,
             note="greedy (temperature 0), so that the tokens are compared with float64's; "
                  "a prompt of T = 0 tokens has no last logits to continue from; not run "
                  "under an outer jit: its result is token ids, which no NaN can mark (a bad "
                  "prompt id under jit gives NaN logits, as the decoder documents)"),
    ]

# ------------------------------------------------------------------ sampling


def _np_top_k(kw):
    z = np.asarray(kw["logits"], np.float64)
    order = np.argsort(-z, axis=-1, kind="stable")[..., :kw["k"]]
    out = np.zeros(z.shape, bool)
    np.put_along_axis(out, order, True, axis=-1)
    return out


def _np_top_p(kw):
    z = np.asarray(kw["logits"], np.float64)
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    order = np.argsort(-p, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=-1)
    keep = (np.cumsum(sorted_p, axis=-1) - sorted_p) < kw["p"]
    out = np.zeros(z.shape, bool)
    np.put_along_axis(out, order, keep, axis=-1)
    return out


def _sample_call(fn, **kw):
    return fn(fixed_key(), **kw)


def _sampling_specs():
    logits = {("logits",): A(("N", "K"), ranks=(1, 2, 3))}
    return [
        Spec("sampling.top_k_mask",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"])), "k": 2}, logits,
             {"k": H(count=True, low=1, high=4, static=True)},
             empty={"N": "pass", "K": "raise"}, ref=_np_top_k, nonfinite="any", examples=1),
        Spec("sampling.top_p_mask",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"])), "p": 0.6}, logits,
             {"p": H(low=0.0, high=1.0, low_open=True)},
             empty={"N": "pass", "K": "raise"}, ref=_np_top_p, nonfinite="any", examples=1),
        Spec("sampling.sample_logits",
             lambda s, rng: {"logits": normal(rng, (s["N"], s["K"])), "temperature": 0.0,
                             "top_k": None, "top_p": None}, logits,
             {"temperature": H(low=0.0),
              "top_k": H(count=True, low=1, high=4, static=True, allow_none=True),
              "top_p": H(low=0.0, high=1.0, low_open=True, allow_none=True)},
             call=_sample_call, empty={"N": "pass", "K": "raise"}, out_dtype="int32",
             ref=lambda kw: np.argmax(np.asarray(kw["logits"], np.float64), -1),
             nonfinite="any", examples=1,
             note="greedy (temperature 0), so that the draw is compared with the argmax"),
    ]


# ------------------------------------------------------------------ the Markov source
# A table of order 2 over V = 2 tokens: (M, V) with M = V**2 = 4 contexts.


def _table(s, rng):
    return probs(rng, (s["M"], s["V"]))


def _np_stationary(kw):
    t = np.asarray(kw["table"], np.float64)
    m, v = t.shape
    P = np.zeros((m, m))
    for s_ in range(m):
        for x in range(v):
            P[s_, (s_ * v + x) % m] += t[s_, x]
    A_ = P.T - np.eye(m)
    A_[-1] = 1.0
    b = np.zeros(m)
    b[-1] = 1.0
    return np.linalg.solve(A_, b)


def _np_entropy_rate(kw):
    t = np.asarray(kw["table"], np.float64)
    h = -np.sum(np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)), 0.0), axis=-1)
    return np.sum(_np_stationary(kw) * h)


def _markov_sample_call(fn, table, **kw):
    """The random tokens are not compared: 0 where a token is in [0, V), else the token."""
    tokens = fn(fixed_key(), table, **kw)
    return jnp.where((tokens >= 0) & (tokens < np.shape(table)[1]), 0, tokens)


def _markov_specs():
    table = {("table",): A(("M", "V"))}
    return [
        Spec("data.markov_chain", lambda s, rng: {"vocab_size": 3, "order": 2,
                                                  "concentration": 0.5}, {},
             {"vocab_size": H(count=True, low=1, static=True),
              "order": H(count=True, low=1, static=True),
              "concentration": H(low=0.0, low_open=True)},
             call=_sample_call, out_dtype="float32"),
        Spec("data.markov_sample",
             lambda s, rng: {"table": _table(s, rng), "num_sequences": 2, "length": 4},
             table, {"num_sequences": H(count=True, low=0, static=True),
                     "length": H(count=True, low=0, static=True)},
             sizes={"M": 4}, call=_markov_sample_call, out_dtype="int32", nonfinite="any",
             examples=1, note="the tokens are random: their shape, dtype and range are "
                              "compared"),
        Spec("information.stationary_distribution", lambda s, rng: {"table": _table(s, rng)},
             table, sizes={"M": 4}, ref=_np_stationary, grad_of=(("table",),), examples=1),
        Spec("information.entropy_rate", lambda s, rng: {"table": _table(s, rng)},
             table, sizes={"M": 4}, ref=_np_entropy_rate, grad_of=(("table",),), examples=1),
    ]
