r"""Pooling of channels-last images over windows of H and W, channel by channel: maximum,
average, and the global average of the head of most CNNs (flax.linen's ``max_pool`` and
``avg_pool``, with PyTorch's argument name ``stride``).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax import lax

from dlmath import _checks, _reduce
from dlmath.conv.geometry import check_image, out_size, pad, padding_pairs, peer_names, slices

__all__ = ["max_pool", "avg_pool", "global_avg_pool"]



def _pool_geometry(who, xs, window_shape, stride, padding):
    window = _checks.require_int_pair(who, "window_shape", window_shape)
    stride = (1, 1) if stride is None else _checks.require_int_pair(who, "stride", stride)
    pads = padding_pairs(who, padding, xs[1:3], window, stride, (1, 1))
    for k in range(2):
        if max(pads[k]) >= window[k]:
            raise ValueError(
                f"{who}: padding {pads[k]} on axis {'HW'[k]} must be smaller than the window "
                f"({window[k]}) on each side; otherwise a window lies wholly in the padding "
                "and has no pixel to pool. \"SAME\" padding always fits; PyTorch asks for at "
                "most half the window.")
    out = tuple(out_size(who, xs[1 + k], window[k], stride[k], pads[k], 1, "HW"[k],
                     "window (window_shape)") for k in range(2))
    return window, stride, pads, out


def _check_pool(who: str, x, window_shape, stride, padding, unknown) -> None:
    peer_names(who, unknown)
    _pool_geometry(who, check_image(who, x), window_shape, stride, padding)


def _check_avg_pool(x, window_shape, stride=None, padding="VALID", count_include_pad=True,
                    **unknown) -> None:
    _checks.require_flag("avg_pool", "count_include_pad", count_include_pad)
    _check_pool("avg_pool", x, window_shape, stride, padding, unknown)


_POOLING = ("window_shape", "stride", "padding")


@_checks.checked(lambda x, window_shape, stride=None, padding="VALID", **unknown: _check_pool(
    "max_pool", x, window_shape, stride, padding, unknown), static_argnames=_POOLING)
def max_pool(x, window_shape, stride=None, padding="VALID"):
    r"""Max pooling over windows of H and W, channel by channel (flax.linen's ``max_pool``):
    $y_{nijc} = \max_{u,v} x_{n, si + u - p, sj + v - p, c}$, the padding being
    $-\infty$ (never the maximum: the padding on each side is smaller than the window, so
    every window holds a pixel). A NaN in a window is its maximum.

    Computed by XLA's windowed reduction ``lax.reduce_window`` (``lax.max``), as flax. The
    gradient goes to the arg-max of each window. At a tie the *whole* gradient goes to the
    first maximal entry in row-major order of the window (flax, TensorFlow);
    ``jnp.max`` over a stack of the window's slices would split it equally instead.

    Args:
        x: ``(N, H, W, C)``, floating.
        window_shape: ``(KH, KW)`` or an int.
        stride: ``(s_H, s_W)``, an int, or ``None`` (1, as flax); flax calls it ``strides``,
            and that name is refused with a message that says so.
        padding: ``"VALID"``, ``"SAME"``, an int, or ``(low, high)`` pairs.

    Returns:
        ``(N, H', W', C)`` in the dtype of ``x``.

    Raises:
        ValueError: ``x`` not of rank 4, a window larger than the padded image, padding as
            large as the window on a side, bad sizes.
        TypeError: a non-floating ``x``, non-integer sizes, a list (not a tuple) for a size,
            an unknown keyword (``strides``: named as dlmath's ``stride``).
    """
    window, stride, pads, _ = _pool_geometry("max_pool", x.shape, window_shape, stride, padding)
    # XLA's windowed reduction: one pass over the image, no stack of the KH·KW slices
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, *window, 1),
                             (1, *stride, 1), ((0, 0), *pads, (0, 0)))


@_checks.checked(_check_avg_pool, static_argnames=(*_POOLING, "count_include_pad"))
def avg_pool(x, window_shape, stride=None, padding="VALID", count_include_pad=True):
    r"""Average pooling over windows of H and W, channel by channel (flax.linen's
    ``avg_pool``); with the padding counted (``count_include_pad=True``, flax's default):

    $$\frac{\sum_{\substack{0 \leq u \leq K_{H} - 1\\0 \leq v \leq K_{W} - 1}} {x}_{n,i s -
    p + u,j s - p + v,c}}{K_{H} K_{W}}$$

    Without it, each window is divided by the number of its pixels inside the image. The
    gradient spreads evenly: each pixel of a window gets $1/(K_H K_W)$ of the window's.
    The sums are taken in at least float32 (a float16 image is summed in float32 and the
    mean returned in float16, so a window of large values does not overflow).

    Args:
        x: ``(N, H, W, C)``, floating.
        window_shape, stride, padding: as :func:`max_pool`.
        count_include_pad: divide by $K_H K_W$ (``True``) or by the pixels in the image.

    Returns:
        ``(N, H', W', C)`` in the dtype of ``x``.

    Raises:
        ValueError, TypeError: as :func:`max_pool`, and a non-bool ``count_include_pad``.
    """
    window, stride, pads, out = _pool_geometry("avg_pool", x.shape, window_shape, stride, padding)
    wide = _reduce.wide(x.dtype)  # float16 sums reach 65504 quickly
    total = sum(sl for _, sl in slices(pad(x.astype(wide), pads), window, stride, (1, 1), out))
    if count_include_pad:
        return (total / math.prod(window)).astype(x.dtype)
    ones = pad(jnp.ones((1, x.shape[1], x.shape[2], 1), wide), pads)
    counts = sum(sl for _, sl in slices(ones, window, stride, (1, 1), out))
    return (total / counts).astype(x.dtype)


def _check_global_pool(x) -> None:
    who = "global_avg_pool"
    xs = check_image(who, x)
    if xs[1] * xs[2] == 0:
        raise ValueError(f"{who}: x (N, H, W, C) has no pixels (shape {_checks.fmt(xs)}); the "
                         "mean over H and W is undefined for none.")


@_checks.checked(_check_global_pool)
def global_avg_pool(x):
    r"""The mean of every channel over all pixels (the head of most CNNs):

    $$\frac{\sum_{\substack{0 \leq a \leq H - 1\\0 \leq b \leq W - 1}} {x}_{n,a,b,c}}{H W}$$

    Args:
        x: ``(N, H, W, C)``, floating.

    Returns:
        ``(N, C)`` in the dtype of ``x``.

    Raises:
        ValueError: ``x`` not of rank 4, or no pixels (``H·W = 0``).
        TypeError: a non-floating ``x``.
    """
    return jnp.mean(x, axis=(1, 2))
