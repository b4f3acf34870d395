"""The rows of the layers: convolution and pooling, recurrent cells, attention,
normalisation."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from benchmarks.case import Case, same, vjp_of, with_vjp
from dlmath import attention, conv, convert, graphs, normalization, recurrent

# --------------------------------------------------------------------- convolution, pooling

def conv_case(kernel_size, padding, grad):
    def build(key, size):
        n, hw, c, o = (8, 32, 32, 64) if size == "full" else (2, 6, 3, 4)
        k1, k2 = jax.random.split(key)
        x = jax.random.normal(k1, (n, hw, hw, c))
        w = jax.random.normal(k2, (kernel_size, kernel_size, c, o)) / kernel_size
        ours = lambda x_, w_: conv.conv2d(x_, w_, padding=padding)  # noqa: E731
        peer = lambda x_, w_: jax.lax.conv_general_dilated(  # noqa: E731
            x_, w_, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
        args = (x, w)
        if grad:
            ours, peer, args = with_vjp(ours, peer, args, jax.random.fold_in(key, 1), (0, 1))
        return same(ours, peer, args)
    k = f"{kernel_size}x{kernel_size} {padding}"
    return Case(f"conv.conv2d {k}" + (" grad" if grad else ""), "8x32x32x32 -> 64",
                "lax.conv_general_dilated", build)


def grouped_conv_case(depthwise, grad):
    def build(key, size):
        n, hw, c, o = (8, 32, 32, 64) if size == "full" else (2, 6, 4, 4)
        groups = c if depthwise else 4
        o = c if depthwise else o
        k1, k2 = jax.random.split(key)
        x = jax.random.normal(k1, (n, hw, hw, c))
        w = jax.random.normal(k2, (3, 3, c // groups, o)) / 3
        ours = lambda x_, w_: conv.conv2d(x_, w_, padding="SAME", groups=groups)  # noqa: E731
        peer = lambda x_, w_: jax.lax.conv_general_dilated(  # noqa: E731
            x_, w_, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=groups)
        args = (x, w)
        if grad:
            ours, peer, args = with_vjp(ours, peer, args, jax.random.fold_in(key, 1), (0, 1))
        return same(ours, peer, args)
    what = "depthwise 3x3" if depthwise else "3x3 groups=4"
    return Case(f"conv.conv2d {what}" + (" grad" if grad else ""),
                "8x32x32x32 -> " + ("32" if depthwise else "64"),
                "lax.conv_general_dilated(feature_group_count)", build)


def conv_transpose_case(grad):
    def build(key, size):
        n, hw, c, o = (8, 16, 64, 32) if size == "full" else (2, 3, 4, 3)
        k1, k2 = jax.random.split(key)
        x = jax.random.normal(k1, (n, hw, hw, c))
        w = jax.random.normal(k2, (4, 4, c, o)) / 4
        ours = lambda x_, w_: conv.conv_transpose2d(x_, w_, stride=2, padding=1)  # noqa: E731
        peer = lambda x_, w_: jax.lax.conv_transpose(  # noqa: E731
            x_, jnp.swapaxes(w_, 2, 3), (2, 2), [(2, 2), (2, 2)],
            dimension_numbers=("NHWC", "HWIO", "NHWC"), transpose_kernel=True)
        args = (x, w)
        if grad:
            ours, peer, args = with_vjp(ours, peer, args, jax.random.fold_in(key, 1), (0, 1))
        return same(ours, peer, args)
    return Case("conv.conv_transpose2d 4x4 s2" + (" grad" if grad else ""),
                "8x16x16x64 -> 32x32x32", "lax.conv_transpose(transpose_kernel=True)", build)


def conv1d_case(grad):
    def build(key, size):
        n, length, c, o = (16, 256, 64, 64) if size == "full" else (2, 7, 3, 4)
        k1, k2 = jax.random.split(key)
        x = jax.random.normal(k1, (n, length, c))
        w = jax.random.normal(k2, (3, c, o)) / 3
        ours = lambda x_, w_: conv.conv1d(x_, w_, padding="CAUSAL", dilation=2)  # noqa: E731
        peer = lambda x_, w_: jax.lax.conv_general_dilated(  # noqa: E731
            x_, w_, (1,), [(4, 0)], rhs_dilation=(2,), dimension_numbers=("NWC", "WIO", "NWC"))
        args = (x, w)
        if grad:
            ours, peer, args = with_vjp(ours, peer, args, jax.random.fold_in(key, 1), (0, 1))
        return same(ours, peer, args)
    return Case("conv.conv1d 3 causal d2" + (" grad" if grad else ""), "16x256x64 -> 64",
                "lax.conv_general_dilated", build)


def pool_case(name, grad):
    def build(key, size):
        shape = (8, 32, 32, 32) if size == "full" else (2, 4, 4, 3)
        x = jax.random.normal(key, shape)
        ours = lambda x_: getattr(conv, name)(x_, (2, 2), stride=(2, 2))  # noqa: E731
        peer = lambda x_: getattr(nn, name)(x_, (2, 2), strides=(2, 2))  # noqa: E731
        args = (x,)
        if grad:
            ours, peer, args = with_vjp(ours, peer, args, jax.random.fold_in(key, 1))
        return same(ours, peer, args)
    return Case(f"conv.{name} 2x2" + (" grad" if grad else ""), "8x32x32x32",
                f"flax.linen.{name}", build)


# ------------------------------------------------------------------------------ recurrent

_CELLS = {"rnn": nn.SimpleCell, "lstm": nn.OptimizedLSTMCell, "gru": nn.GRUCell}


def recurrent_case(cell, grad):
    def build(key, size):
        b, t, d, h = (32, 64, 128, 256) if size == "full" else (2, 3, 4, 5)
        k1, k2 = jax.random.split(key)
        params = getattr(recurrent, f"init_{cell}")(k1, d, h)
        xs = jax.random.normal(k2, (b, t, d))
        zeros = jnp.zeros((b, h))
        state = (zeros, zeros) if cell == "lstm" else zeros
        module = nn.RNN(_CELLS[cell](h))
        flax_state = (zeros, zeros) if cell == "lstm" else zeros  # flax's LSTM carry is (c, h)

        def ours(p, x):
            return getattr(recurrent, cell)(p, x, state)[0]

        def peer(p, x):
            return module.apply({"params": {"cell": convert.to_flax(p, cell)}}, x,
                                initial_carry=flax_state)

        args = (params, xs)
        if grad:
            ours, peer, args = with_vjp(ours, peer, args, jax.random.fold_in(key, 1))
        return same(ours, peer, args)
    return Case(f"recurrent.{cell}" + (" grad (params)" if grad else ""), "B32 T64 128->256",
                f"flax.linen.RNN({_CELLS[cell].__name__})", build)


def stacked_case(grad):
    """Two bidirectional LSTM layers on PyTorch's state_dict, against flax's
    nn.Bidirectional(nn.RNN(OptimizedLSTMCell)) twice on the same weights."""
    from dlmath import recurrent_stacked

    def build(key, size):
        b, t, d, h = (16, 32, 64, 128) if size == "full" else (2, 3, 4, 5)
        k1, k2 = jax.random.split(key)
        params = recurrent_stacked.init_stacked(k1, "lstm", d, h, num_layers=2,
                                                bidirectional=True)
        xs = jax.random.normal(k2, (b, t, d))
        module = nn.Bidirectional(nn.RNN(nn.OptimizedLSTMCell(h)),
                                  nn.RNN(nn.OptimizedLSTMCell(h)))

        def ours(p, x):
            return recurrent_stacked.stacked_lstm(p, x, num_layers=2, bidirectional=True)[0]

        def peer(p, x):
            for layer in range(2):
                cells = [convert.to_flax(convert.from_pytorch(
                    {f"{k}_l0": p[f"{k}_l{layer}{s}"] for k in
                     ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}, "lstm"), "lstm")
                    for s in ("", "_reverse")]
                x = module.apply({"params": {"forward_rnn": {"cell": cells[0]},
                                             "backward_rnn": {"cell": cells[1]}}}, x)
            return x

        args = (params, xs)
        if grad:
            ours, peer, args = with_vjp(ours, peer, args, jax.random.fold_in(key, 1))
        return same(ours, peer, args)
    return Case("recurrent.stacked_lstm 2 layers bidirectional" + (" grad (params)" if grad
                                                                    else ""),
                "B16 T32 64->128", "flax.linen.Bidirectional(RNN(OptimizedLSTMCell)) x2", build)


# ------------------------------------------------------------------------------ attention

def sdpa_case(name, grad, causal=False):
    def build(key, size):
        b, h, t, d = (4, 8, 512, 64) if size == "full" else (1, 2, 5, 4)
        q, k, v = (jax.random.normal(kk, (b, h, t, d)) for kk in jax.random.split(key, 3))
        fn = getattr(attention, name)

        def ours(q_, k_, v_):
            return fn(q_, k_, v_, is_causal=causal)

        def peer(q_, k_, v_):  # jax.nn's layout is (B, T, heads, D)
            out = jax.nn.dot_product_attention(*(jnp.swapaxes(a, 1, 2) for a in (q_, k_, v_)),
                                               is_causal=causal)
            return jnp.swapaxes(out, 1, 2)

        args = (q, k, v)
        if grad:
            ours, peer, args = with_vjp(ours, peer, args, jax.random.fold_in(key, 1),
                                         (0, 1, 2))
        return same(ours, peer, args)
    label = f"attention.{name}" + (" causal" if causal else "") + (" grad" if grad else "")
    return Case(label, "B4 H8 T512 D64", "jax.nn.dot_product_attention", build)


def gqa_case(grad):
    def build(key, size):
        b, hq, hkv, t, d = (4, 8, 2, 512, 64) if size == "full" else (1, 4, 2, 5, 4)
        kq, kk, kv, kc = jax.random.split(key, 4)
        q = jax.random.normal(kq, (b, hq, t, d))
        k, v = (jax.random.normal(kx, (b, hkv, t, d)) for kx in (kk, kv))

        def attend(q_, k_, v_):
            return attention.scaled_dot_product_attention(q_, k_, v_, enable_gqa=True)

        def peer(q_, k_, v_):  # its own layout (B, T, heads, D), fewer key/value heads
            return jax.nn.dot_product_attention(q_, k_, v_)

        # the results are compared in the peer's layout: dlmath's side pays the transposes
        args = (q, k, v)
        peer_args = tuple(jnp.swapaxes(a, 1, 2) for a in args)
        if not grad:
            return (lambda *a: jnp.swapaxes(attend(*a), 1, 2)), peer, args, peer_args
        cotangent = jax.random.normal(kc, q.shape)
        grads = vjp_of(attend, (0, 1, 2))

        def ours(*a):
            return tuple(jnp.swapaxes(g, 1, 2) for g in grads(*a))
        return (ours, vjp_of(peer, (0, 1, 2)), (*args, cotangent),
                (*peer_args, jnp.swapaxes(cotangent, 1, 2)))
    return Case("attention.scaled_dot_product_attention gqa" + (" grad" if grad else ""),
                "B4 Hq8 Hkv2 T512 D64", "jax.nn.dot_product_attention (fewer kv heads)", build)


def decode_case():
    def build(key, size):
        b, hq, hkv, L, n, d = (4, 8, 2, 1024, 768, 64) if size == "full" else (1, 4, 2, 6, 4, 4)
        kq, kk, kv = jax.random.split(key, 3)
        q = jax.random.normal(kq, (b, hq, 1, d))
        cache = attention.KVCache(jax.random.normal(kk, (b, hkv, L, d)),
                                  jax.random.normal(kv, (b, hkv, L, d)),
                                  jnp.asarray(n, jnp.int32))

        def ours(q_, cache_):  # (B, Hq, 1, D) as the peer's (B, 1, Hq, D): a free reshape
            return jnp.swapaxes(attention.decode_attention(q_, cache_), 1, 2)

        def peer(q_, k_, v_, lengths):  # one query over the cache's first `length` keys
            return jax.nn.dot_product_attention(q_, k_, v_, key_value_seq_lengths=lengths)

        peer_args = (jnp.swapaxes(q, 1, 2), jnp.swapaxes(cache.key, 1, 2),
                     jnp.swapaxes(cache.value, 1, 2), jnp.full((b,), n, jnp.int32))
        return ours, peer, (q, cache), peer_args
    return Case("attention.decode_attention", "B4 Hq8 Hkv2 L1024 length 768 D64",
                "jax.nn.dot_product_attention(key_value_seq_lengths)", build)


def mha_case(grad):
    def build(key, size):
        b, t, e, h = (16, 128, 256, 8) if size == "full" else (2, 3, 8, 2)
        k1, k2 = jax.random.split(key)
        params = attention.init_multi_head_attention(k1, e)
        x = jax.random.normal(k2, (b, t, e))
        module = nn.MultiHeadDotProductAttention(num_heads=h, qkv_features=e, out_features=e)

        def ours(p, x_):
            return attention.multi_head_attention(p, x_, x_, x_, h)

        def peer(p, x_):
            flax_params = convert.to_flax(p, "multi_head_attention", num_heads=h)
            return module.apply({"params": flax_params}, x_, x_, x_)

        args = (params, x)
        if grad:
            ours, peer, args = with_vjp(ours, peer, args, jax.random.fold_in(key, 1), (0, 1))
        return same(ours, peer, args)
    return Case("attention.multi_head_attention" + (" grad" if grad else ""),
                "B16 T128 E256 8 heads", "flax.linen.MultiHeadDotProductAttention", build)



# ------------------------------------------------------------------------ normalisation

_ONE_PASS = ("flax's default (use_fast_variance=True) takes the variance in one pass, "
             "E[x^2] - E[x]^2, which loses its digits when |mean| >> std; dlmath takes that "
             "pass too and, only if a mean is large against its spread, a second one for the "
             "batch through a lax.cond (tests/test_normalization.py::test_the_statistics_"
             "keep_their_digits_on_either_side_of_the_one_pass_test), so its program has a "
             "cond and a few small per-channel operations more")


def _flax_norm(name, **options):
    """The flax layer as a function ``(x, scale, bias)``."""
    if name == "layer_norm":
        module = nn.LayerNorm(epsilon=1e-5, **options)
        return lambda x_, s, b: module.apply({"params": {"scale": s, "bias": b}}, x_)
    if name == "rms_norm":
        module = nn.RMSNorm(epsilon=1e-6)
        return lambda x_, s, b: module.apply({"params": {"scale": s}}, x_)
    if name == "batch_norm":
        module = nn.BatchNorm(use_running_average=False, epsilon=1e-5, **options)
        return lambda x_, s, b: module.apply(
            {"params": {"scale": s, "bias": b}, "batch_stats": {
                "mean": jnp.zeros(x_.shape[-1]), "var": jnp.ones(x_.shape[-1])}}, x_,
            mutable=["batch_stats"])[0]
    groups = options.pop("groups")
    module = nn.GroupNorm(num_groups=groups, epsilon=1e-5, **options)
    return lambda x_, s, b: module.apply({"params": {"scale": s, "bias": b}}, x_)


def norm_case(name, grad, fast_variance=True):
    """Layer, RMS or batch norm against flax's layer; ``fast_variance=False`` sets flax's
    ``use_fast_variance=False`` (its two-pass variance, which dlmath takes only where the
    one-pass would lose digits)."""
    options = {} if name == "rms_norm" else {"use_fast_variance": fast_variance}

    def build(key, size):
        n, d = (256, 1024) if size == "full" else (4, 6)
        k1, k2, k3 = jax.random.split(key, 3)
        x = jax.random.normal(k1, (n, d))
        scale, bias = 1 + 0.1 * jax.random.normal(k2, (d,)), 0.1 * jax.random.normal(k3, (d,))
        if name == "rms_norm":
            ours = lambda x_, s, b: normalization.rms_norm(x_, s, eps=1e-6)  # noqa: E731
        else:
            ours = lambda x_, s, b: getattr(normalization, name)(x_, s, b, eps=1e-5)  # noqa: E731
        peer = _flax_norm(name, **options)
        args = (x, scale, bias)
        if grad:
            ours, peer, args = with_vjp(ours, peer, args, jax.random.fold_in(key, 1), (0, 1))
        return same(ours, peer, args)
    peer_name = {"rms_norm": "flax.linen.RMSNorm", "layer_norm": "flax.linen.LayerNorm",
                 "batch_norm": "flax.linen.BatchNorm"}[name]
    if not fast_variance:
        peer_name += "(use_fast_variance=False)"
    return Case(f"normalization.{name}" + (" grad" if grad else ""), "256x1024", peer_name,
                build, note=_ONE_PASS if fast_variance and name != "rms_norm" else "")


def group_norm_case(grad, fast_variance=True):
    def build(key, size):
        shape, groups = ((32, 16, 16, 64), 8) if size == "full" else ((2, 3, 3, 6), 3)
        k1, k2, k3 = jax.random.split(key, 3)
        c = shape[-1]
        x = jax.random.normal(k1, shape)
        scale, bias = 1 + 0.1 * jax.random.normal(k2, (c,)), 0.1 * jax.random.normal(k3, (c,))
        ours = lambda x_, s, b: normalization.group_norm(x_, s, b, groups)  # noqa: E731
        peer = _flax_norm("group_norm", groups=groups, use_fast_variance=fast_variance)
        args = (x, scale, bias)
        if grad:
            ours, peer, args = with_vjp(ours, peer, args, jax.random.fold_in(key, 1), (0, 1))
        return same(ours, peer, args)
    return Case("normalization.group_norm" + (" grad" if grad else ""), "32x16x16x64, 8 groups",
                "flax.linen.GroupNorm" + ("" if fast_variance else "(use_fast_variance=False)"),
                build, note=_ONE_PASS if fast_variance else "")


# ------------------------------------------------------------------------ graphs

def _dense_gat(params, counts, x, heads):
    """The attention layer from its formula with dense (N, N) matrices: counts[i, j] edges
    j -> i (one self-loop per node), a softmax over each row's edges."""
    n = x.shape[0]
    h = (x @ params["w"]).reshape(n, heads, -1)
    score = (jnp.einsum("nhf,hf->nh", h, params["att_dst"])[:, None]
             + jnp.einsum("nhf,hf->nh", h, params["att_src"])[None])          # (N, N, heads)
    score = jnp.where(score >= 0, score, 0.2 * score)
    edge = counts[..., None] > 0
    top = jnp.max(jnp.where(edge, score, -jnp.inf), axis=1, keepdims=True)
    weight = counts[..., None] * jnp.exp(jnp.where(edge, score - top, 0.0))
    alpha = weight / jnp.sum(weight, axis=1, keepdims=True)
    return jnp.einsum("ijh,jhf->ihf", alpha, h).reshape(n, -1) + params["b"]


def gat_case(grad):
    def build(key, size):
        n, e, f_in, f_out, heads = (1024, 8192, 64, 16, 4) if size == "full" else (5, 8, 3, 2, 2)
        k1, k2, k3, k4 = jax.random.split(key, 4)
        params = graphs.init_gat(k1, f_in, f_out, num_heads=heads)
        params = {**params, "b": 0.1 * jax.random.normal(k4, params["b"].shape)}
        senders = jax.random.randint(k2, (e,), 0, n)
        receivers = jax.random.randint(jax.random.fold_in(k2, 1), (e,), 0, n)
        x = jax.random.normal(k3, (n, f_in))
        counts = jnp.zeros((n, n)).at[receivers, senders].add(1.0)
        counts = counts.at[jnp.arange(n), jnp.arange(n)].set(1.0)   # self-loops: one each

        def ours(p, x_):
            return graphs.gat_layer(p, senders, receivers, x_, n, num_heads=heads)

        def peer(p, x_):
            return _dense_gat(p, counts, x_, heads)

        args = (params, x)
        if grad:
            ours, peer, args = with_vjp(ours, peer, args, jax.random.fold_in(key, 1), (0, 1))
        return same(ours, peer, args)
    return Case("graphs.gat_layer" + (" grad" if grad else ""),
                "N1024 E8192 64 -> 4 heads x 16",
                "dense formula in jnp (no installed peer)", build)
