r"""Convolution and pooling on channels-last images, written out by hand.

Legend: ``N`` images, ``H`` x ``W`` pixels, ``C`` input channels, ``O`` output channels,
``KH`` x ``KW`` kernel, ``H'`` x ``W'`` the output grid. Images are ``(N, H, W, C)``
(NHWC), kernels ``(KH, KW, C, O)`` (HWIO), as flax and ``lax.conv_general_dilated`` with
``("NHWC", "HWIO", "NHWC")``.

What every framework calls convolution is **cross-correlation**: the kernel is not
flipped. It is a sum over the kernel's ``KH·KW`` positions of shifted, strided slices of
the padded image, each times a ``(C, O)`` matrix; :func:`im2col` sets those slices side by
side as one patch matrix, and :func:`conv2d_im2col` computes the whole sum as a single
matrix product of the patches with the reshaped kernel: the form the chapter derives.
:func:`conv2d` computes the same sum with XLA's own convolution (``lax.conv_general_dilated``,
the backend's tuned kernels), tested equal to it. :func:`conv2d_backward` is the
hand-derived backward pass: the weight gradient is the correlation of the input with the
output gradient, and the input gradient is a *transposed convolution*, the full
correlation of the output gradient (with ``stride - 1`` zeros inserted between its
entries) with the flipped kernel.

``stride`` and ``dilation`` are an int or a pair ``(for H, for W)``, each ``>= 1`` (one
name for the convolutions and the poolings, PyTorch's; flax's ``strides`` and
``kernel_dilation`` are refused with a message that names ours). ``padding`` is an int
``p >= 0`` (``p`` on every side), a pair of ints (per axis), a pair of ``(low, high)``
pairs, ``"VALID"`` (none) or ``"SAME"`` (:func:`same_padding`: the output has
``ceil(H / stride)`` rows; the odd pixel of padding goes to the high side, as in ``lax``).
Pairs are tuples: the hyper-parameters are static under ``jit``, so they must be hashable.
Computation is in the parameters' float dtype (an image of another float dtype is cast to
it, the package's rule). Everything is jit-able.
``notebooks/06_convolution.ipynb`` derives and checks every formula here.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax import lax

from dlmath import _checks, _reduce

__all__ = ["conv2d", "conv2d_im2col", "conv2d_backward", "im2col", "output_size",
           "same_padding", "max_pool", "avg_pool", "global_avg_pool"]

_NHWC = ("Images are channels-last (N, H, W, C); an NCHW array converts with "
         "x.transpose(0, 2, 3, 1), a single image with x[None].")


# ---------------------------------------------------------------- hyper-parameters


def _int(who: str, name: str, value, low: int) -> int:
    _checks.count(who, name, value, low=low)
    return int(value)


def _peer_names(who: str, unknown: dict) -> None:
    """A keyword that a peer library uses for one of ours gets an error that names ours."""
    ours = {"strides": "stride", "kernel_dilation": "dilation", "window_strides": "stride"}
    for name in unknown:
        hint = f" (flax's and lax's name); dlmath calls it {ours[name]}, as PyTorch does" \
            if name in ours else ""
        raise TypeError(f"{who}: unexpected argument {name}{hint}.")


def _same_pair(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    total = max((-(-size // stride) - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return (total // 2, total - total // 2)


def _padding(who: str, padding, sizes, kernel, stride, dilation):
    """``((low, high), (low, high))`` for the two spatial axes."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0), (0, 0))
        if mode == "SAME":
            return tuple(_same_pair(*args) for args in zip(sizes, kernel, stride, dilation,
                                                           strict=True))
        raise ValueError(f"{who}: padding must be an int, pairs of ints, 'VALID' or 'SAME'; "
                         f"got the string {padding!r}.")
    if isinstance(padding, list) or (isinstance(padding, tuple)
                                     and any(isinstance(e, list) for e in padding)):
        raise TypeError(f"{who}: padding must be an int, a tuple of pairs, 'VALID' or 'SAME'; "
                        f"got the list {padding!r}. It is static under jit, so it must be "
                        "hashable: pass tuples.")
    if isinstance(padding, tuple):
        if len(padding) != 2:
            raise ValueError(f"{who}: padding must give 2 axes (H, W), as p, (p_H, p_W) or "
                             f"((low, high), (low, high)); got {len(padding)} entries.")
        out = []
        for entry in padding:
            if isinstance(entry, tuple):
                if len(entry) != 2:
                    raise ValueError(f"{who}: padding entries must be (low, high) pairs; got "
                                     f"{tuple(entry)!r}.")
                out.append((_int(who, "padding", entry[0], 0), _int(who, "padding", entry[1], 0)))
            else:
                q = _int(who, "padding", entry, 0)
                out.append((q, q))
        return tuple(out)
    q = _int(who, "padding", padding, 0)
    return ((q, q), (q, q))


def _out(who: str, size: int, kernel: int, stride: int, pads, dilation: int, axis: str,
         name: str) -> int:
    span = dilation * (kernel - 1) + 1
    padded = size + pads[0] + pads[1]
    if span > padded:
        raise ValueError(
            f"{who}: the {name} covers {span} pixels along {axis} (dilation {dilation} x "
            f"(size {kernel} - 1) + 1), more than the padded image's {padded} ({size} + "
            f"padding {pads[0]} + {pads[1]}). Use a smaller kernel or dilation, or pad more "
            "('SAME')."
        )
    return (padded - span) // stride + 1


# ---------------------------------------------------------------- array checks


def _check_image(who: str, x, name: str = "x", channels: int | None = None):
    _checks.require_floating(who, name, x)
    s = _checks.shape_of(x)
    if len(s) != 4:
        hint = _NHWC
        if len(s) == 3:
            hint = "A single image (H, W, C) is x[None]. " + _NHWC
        raise ValueError(f"{who}: {name} must have shape (N, H, W, C); got {_checks.fmt(s)}. "
                         + hint)
    if channels is not None and s[3] != channels:
        looks = (" It looks like NCHW (axis 1 has the kernel's C): transpose with "
                 "x.transpose(0, 2, 3, 1).") if s[1] == channels else ""
        raise ValueError(
            f"{who}: {name} must have C = {channels} channels on its last axis, the kernel's "
            f"input channels (w is (KH, KW, C, O)); got {name} {_checks.fmt(s)}.{looks}"
        )
    return s


def _check_kernel(who: str, w, b):
    _checks.require_floating(who, "w", w)
    s = _checks.shape_of(w)
    if len(s) != 4:
        raise ValueError(f"{who}: w must have shape (KH, KW, C, O); got {_checks.fmt(s)}. "
                         "Kernels are HWIO, as flax's Conv (an OIHW PyTorch weight converts "
                         "with w.transpose(2, 3, 1, 0)).")
    if b is not None:
        _checks.require_floating(who, "b", b)
        if _checks.shape_of(b) != (s[3],):
            raise ValueError(f"{who}: b must have shape (O,) = ({s[3]},), one bias per output "
                             f"channel of w {_checks.fmt(s)}; got b "
                             f"{_checks.fmt(_checks.shape_of(b))}.")
    return s, jnp.result_type(w)


def _geometry(who, x_shape, kernel, stride, padding, dilation, name="kernel w"):
    stride = _checks.require_int_pair(who, "stride", stride)
    dilation = _checks.require_int_pair(who, "dilation", dilation)
    pads = _padding(who, padding, x_shape[1:3], kernel, stride, dilation)
    out = tuple(_out(who, x_shape[1 + k], kernel[k], stride[k], pads[k], dilation[k], "HW"[k],
                     name) for k in range(2))
    return stride, dilation, pads, out


# ---------------------------------------------------------------- the sum by hand


def _slices(xp, kernel, stride, dilation, out):
    """``((u, v), xp[:, d_H u : ... : s_H, d_W v : ... : s_W, :])``: the ``H' x W'`` pixels that
    kernel position ``(u, v)`` meets, for every output position at once."""
    n, c = xp.shape[0], xp.shape[3]
    for u in range(kernel[0]):
        for v in range(kernel[1]):
            start = (0, dilation[0] * u, dilation[1] * v, 0)
            stop = (n, start[1] + stride[0] * (out[0] - 1) + 1,
                    start[2] + stride[1] * (out[1] - 1) + 1, c)
            yield (u, v), lax.slice(xp, start, stop, (1, stride[0], stride[1], 1))


def _pad(x, pads):
    return jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))


def _patches(xp, kernel, stride, dilation, out):
    """The ``KH·KW`` slices side by side: ``(N, H', W', KH·KW·C)``, ordered ``(u, v, c)``."""
    return jnp.concatenate([sl for _, sl in _slices(xp, kernel, stride, dilation, out)], -1)


def _correlate(xp, w, stride, dilation, out):
    """The sum over (u, v) of slice (u, v) @ ``w[u, v]``, as one matrix product of the
    patches with the kernel reshaped to ``(KH·KW·C, O)``; ``xp`` already padded."""
    cols = _patches(xp, w.shape[:2], stride, dilation, out)
    return jnp.einsum("nhwk,ko->nhwo", cols, w.reshape(-1, w.shape[-1]),
                      precision=lax.Precision.HIGHEST)


def _check_conv(who: str, x, w, b, stride, padding, dilation, unknown, grad_output=None):
    _peer_names(who, unknown)
    ks, _ = _check_kernel(who, w, b)
    xs = _check_image(who, x, channels=ks[2])
    _, _, _, out = _geometry(who, xs, ks[:2], stride, padding, dilation)
    if grad_output is not None:
        _checks.require_floating(who, "grad_output", grad_output)
        want = (xs[0], out[0], out[1], ks[3])
        if _checks.shape_of(grad_output) != want:
            raise ValueError(
                f"{who}: grad_output must have the shape of conv2d's output (N, H', W', O) = "
                f"{_checks.fmt(want)}; got {_checks.fmt(_checks.shape_of(grad_output))}."
            )


_GEOMETRY = ("stride", "padding", "dilation")


@_checks.checked(lambda x, w, b=None, *, stride=1, padding=0, dilation=1, **unknown: _check_conv(
    "conv2d", x, w, b, stride, padding, dilation, unknown), static_argnames=_GEOMETRY)
def conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1):
    r"""2-D convolution (cross-correlation, the kernel not flipped) of channels-last images:

    $${b}_{o} + \sum_{\substack{0 \leq u \leq K_{H} - 1\\0 \leq v \leq K_{W} -
    1\\0 \leq c \leq C - 1}} {w}_{u,v,c,o} {x}_{n,d u + i s - p,d v + j s - p,c}$$

    with stride $s$, dilation $d$ and low padding $p$ per axis (entries in the padding are
    0). Computed by XLA's convolution, ``lax.conv_general_dilated(x, w, stride, padding,
    rhs_dilation=dilation, dimension_numbers=("NHWC", "HWIO", "NHWC"))`` at full float32
    precision: the backend's tuned kernels, faster than a matrix product of the patches.
    :func:`conv2d_im2col` is the same sum as the chapter derives it
    (``im2col(x) @ w.reshape(KH·KW·C, O)``), tested equal to this function. Equal to flax's
    ``nn.Conv`` too; its gradient (JAX's transpose of the convolution) equals the
    hand-derived :func:`conv2d_backward`.

    Args:
        x: images ``(N, H, W, C)``, floating.
        w: kernel ``(KH, KW, C, O)``, floating.
        b: bias ``(O,)`` or ``None``.
        stride, padding, dilation: see the module docstring (static Python values).

    Returns:
        ``(N, H', W', O)`` in the dtype of ``w`` (``x`` and ``b`` are cast to it), with
        $H'$ and $W'$ from :func:`output_size`.

    Raises:
        ValueError: ``x`` not of rank 4 (an NCHW image is named as such when its axis 1 has the
            kernel's channels), channels of ``x`` and ``w`` that differ, ``b`` not ``(O,)``, a
            kernel that covers more than the padded image, ``stride`` or ``dilation < 1``, negative
            or malformed ``padding``.
        TypeError: non-floating arrays, non-integer hyper-parameters.

    Derived in ``notebooks/06_convolution.ipynb``.
    """
    stride, dilation, pads, _ = _geometry("conv2d", x.shape, w.shape[:2], stride, padding,
                                            dilation)
    y = lax.conv_general_dilated(x.astype(w.dtype), w, stride, pads, rhs_dilation=dilation,
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                 precision=lax.Precision.HIGHEST)
    return y if b is None else y + b.astype(w.dtype)


@_checks.checked(lambda x, w, b=None, *, stride=1, padding=0, dilation=1, **unknown: _check_conv(
    "conv2d_im2col", x, w, b, stride, padding, dilation, unknown), static_argnames=_GEOMETRY)
def conv2d_im2col(x, w, b=None, *, stride=1, padding=0, dilation=1):
    r"""The convolution of :func:`conv2d` computed as the chapter derives it:

    $${b}_{o} + \sum_{\substack{0 \leq u \leq K_{H} - 1\\0 \leq v \leq K_{W} -
    1\\0 \leq c \leq C - 1}} {w}_{u,v,c,o} {x}_{n,d u + i s - p,d v + j s - p,c}$$

    as ``im2col(x) @ w.reshape(KH·KW·C, O)``: the ``KH·KW`` strided slices of the padded
    image set side by side, times the reshaped kernel, one matrix product. Tested equal to
    :func:`conv2d` (which hands the same sum to XLA's convolution and is the faster one) and
    to ``lax.conv_general_dilated``; the patch matrix is the image written ``KH·KW`` times
    over, which is what makes this form slower. Derived in ``notebooks/06_convolution.ipynb``.

    Args, Returns, Raises: as :func:`conv2d`.
    """
    stride, dilation, pads, out = _geometry("conv2d_im2col", x.shape, w.shape[:2], stride,
                                            padding, dilation)
    y = _correlate(_pad(x.astype(w.dtype), pads), w, stride, dilation, out)
    return y if b is None else y + b.astype(w.dtype)


def _check_im2col(x, kernel_size, *, stride=1, padding=0, dilation=1, **unknown) -> None:
    who = "im2col"
    _peer_names(who, unknown)
    kernel = _checks.require_int_pair(who, "kernel_size", kernel_size)
    _geometry(who, _check_image(who, x), kernel, stride, padding, dilation,
              "kernel (kernel_size)")


@_checks.checked(_check_im2col, static_argnames=("kernel_size", *_GEOMETRY))
def im2col(x, kernel_size, *, stride=1, padding=0, dilation=1):
    r"""The patch matrix of a convolution: entry $(n, i, j, (u K_W + v) C + c)$ is
    $x_{n, si + du - p, sj + dv - p, c}$ (0 in the padding), so that

    ``conv2d(x, w) == im2col(x, w.shape[:2], ...) @ w.reshape(-1, O)``

    and the convolution is one matrix product of ``(N·H'·W', KH·KW·C)`` patches with the
    ``(KH·KW·C, O)`` kernel.

    Args:
        x: images ``(N, H, W, C)``, floating.
        kernel_size: ``KH`` (square) or ``(KH, KW)``.
        stride, padding, dilation: as :func:`conv2d`.

    Returns:
        ``(N, H', W', KH·KW·C)``, in the dtype of ``x``.

    Raises:
        ValueError, TypeError: as :func:`conv2d`.
    """
    kernel = _checks.require_int_pair("im2col", "kernel_size", kernel_size)
    stride, dilation, pads, out = _geometry("im2col", x.shape, kernel, stride, padding, dilation)
    return _patches(_pad(x, pads), kernel, stride, dilation, out)


@_checks.checked(lambda x, w, grad_output, *, stride=1, padding=0, dilation=1, **unknown:
                 _check_conv("conv2d_backward", x, w, None, stride, padding, dilation, unknown,
                             grad_output), static_argnames=_GEOMETRY)
def conv2d_backward(x, w, grad_output, *, stride=1, padding=0, dilation=1):
    r"""The backward pass of :func:`conv2d`, by hand: with $g = \partial L / \partial y$,

    $$\sum_{\substack{0 \leq n \leq N - 1\\0 \leq i \leq H' - 1\\0 \leq j \leq W' -
    1}} {g}_{n,i,j,o} {x}_{n,d u + i s - p,d v + j s - p,c}$$

    $$\sum_{\substack{0 \leq i \leq H' - 1\\0 \leq j \leq W' - 1\\0 \leq u \leq K_{H} -
    1\\0 \leq v \leq K_{W} - 1\\0 \leq o \leq O - 1}} \delta_{a, d u + i s - p} \delta_{b, d v +
    j s - p} {g}_{n,i,j,o} {w}_{u,v,c,o}$$

    and $\partial L / \partial b_o = \sum_{n,i,j} g_{nijo}$. The weight gradient is the
    correlation of the (padded) input with $g$ (one sum over kernel positions, as the
    forward pass); the input gradient is computed as a *transposed convolution*: $g$ with
    $s - 1$ zeros inserted between its entries, padded by $d(K - 1)$ on each side, is
    correlated (stride 1, dilation $d$) with the kernel flipped in both spatial axes and its
    channel axes swapped; the padding is then cut off. Equal to ``jax.vjp`` of
    :func:`conv2d` and of ``lax.conv_general_dilated``.

    Args:
        x: images ``(N, H, W, C)``. w: kernel ``(KH, KW, C, O)``.
        grad_output: $g$, ``(N, H', W', O)``.
        stride, padding, dilation: as :func:`conv2d`.

    Returns:
        ``(dx, dw, db)`` of shapes ``(N, H, W, C)``, ``(KH, KW, C, O)``, ``(O,)``, in the
        dtype of ``w``.

    Raises:
        ValueError: as :func:`conv2d`, and ``grad_output`` not ``(N, H', W', O)``.
        TypeError: as :func:`conv2d`.
    """
    ks, xs = w.shape, x.shape
    stride, dilation, pads, out = _geometry("conv2d_backward", xs, ks[:2], stride, padding,
                                            dilation)
    x, g = x.astype(w.dtype), grad_output.astype(w.dtype)
    xp = _pad(x, pads)
    # dw[u, v] = sum over n, i, j of the slice that w[u, v] met, times g: patches^T g
    cols = _patches(xp, ks[:2], stride, dilation, out)
    dw = jnp.einsum("nhwk,nhwo->ko", cols, g, precision=lax.Precision.HIGHEST).reshape(ks)
    db = g.sum(axis=(0, 1, 2))
    # dx: the transposed convolution. Zeros between g's entries (stride), a full padding of
    # d (K - 1), and the rows of the padded image that no output reads (at the high end).
    full = [dilation[k] * (ks[k] - 1) for k in range(2)]
    unread = [xp.shape[1 + k] - (stride[k] * (out[k] - 1) + full[k] + 1) for k in range(2)]
    zero = jnp.zeros((), g.dtype)
    gp = lax.pad(g, zero, [(0, 0, 0), (full[0], full[0] + unread[0], stride[0] - 1),
                           (full[1], full[1] + unread[1], stride[1] - 1), (0, 0, 0)])
    flipped = jnp.swapaxes(w[::-1, ::-1], 2, 3)  # (KH, KW, O, C)
    dxp = _correlate(gp, flipped, (1, 1), dilation, xp.shape[1:3])
    dx = dxp[:, pads[0][0]:pads[0][0] + xs[1], pads[1][0]:pads[1][0] + xs[2]]
    return dx, dw, db


def output_size(size, kernel_size, *, stride=1, padding=0, dilation=1) -> int:
    r"""The number of output rows (or columns) of a convolution or pooling along one axis:

    $$\left\lfloor{\frac{H + P - d \left(K - 1\right) - 1}{s}}\right\rfloor + 1$$

    with $P$ the total padding (low + high; $2p$ for a padding $p$ on both sides): the
    number of positions $i \ge 0$ at which the dilated kernel, which covers $d(K - 1) + 1$
    pixels, starts at row $si$ and still ends inside the padded image.

    Args:
        size: $H \ge 1$, a Python int.
        kernel_size: $K \ge 1$.
        stride: $s \ge 1$. dilation: $d \ge 1$.
        padding: an int $p$ (both sides), a pair ``(low, high)``, ``"VALID"`` or ``"SAME"``.

    Returns:
        $H' \ge 1$, a Python int.

    Raises:
        ValueError: sizes out of range, or a kernel that covers more than the padded input.
        TypeError: non-integer arguments.
    """
    who = "output_size"
    size = _int(who, "size", size, 1)
    kernel_size = _int(who, "kernel_size", kernel_size, 1)
    stride = _int(who, "stride", stride, 1)
    dilation = _int(who, "dilation", dilation, 1)
    if isinstance(padding, str):
        pads = _padding(who, padding, (size, size), (kernel_size,) * 2, (stride,) * 2,
                        (dilation,) * 2)[0]
    elif isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            raise ValueError(f"{who}: padding must be an int, a pair (low, high), 'VALID' or "
                             f"'SAME'; got {tuple(padding)!r}.")
        pads = (_int(who, "padding", padding[0], 0), _int(who, "padding", padding[1], 0))
    else:
        q = _int(who, "padding", padding, 0)
        pads = (q, q)
    return _out(who, size, kernel_size, stride, pads, dilation, "the axis",
                "kernel (kernel_size)")


def same_padding(size, kernel_size, *, stride=1, dilation=1) -> tuple[int, int]:
    r"""The ``"SAME"`` padding ``(low, high)`` of one axis: the total

    $$\max\left(0, - H + d \left(K - 1\right) + s \left(\left\lceil{\frac{H}{s}}\right\rceil -
    1\right) + 1\right)$$

    makes the output $\lceil H/s \rceil$ long; $\lfloor P/2 \rfloor$ goes to the low side and
    the rest (the odd pixel) to the high side, as ``lax.padtype_to_pads`` and TensorFlow.

    Args:
        size: $H \ge 1$. kernel_size: $K \ge 1$. stride: $s \ge 1$. dilation: $d \ge 1$.

    Returns:
        ``(low, high)``, Python ints.

    Raises:
        ValueError: sizes out of range.
        TypeError: non-integer arguments.
    """
    who = "same_padding"
    args = [_int(who, name, value, 1) for name, value in
            (("size", size), ("kernel_size", kernel_size), ("stride", stride),
             ("dilation", dilation))]
    return _same_pair(*args)


# ---------------------------------------------------------------- pooling


def _pool_geometry(who, xs, window_shape, stride, padding):
    window = _checks.require_int_pair(who, "window_shape", window_shape)
    stride = (1, 1) if stride is None else _checks.require_int_pair(who, "stride", stride)
    pads = _padding(who, padding, xs[1:3], window, stride, (1, 1))
    for k in range(2):
        if max(pads[k]) >= window[k]:
            raise ValueError(
                f"{who}: padding {pads[k]} on axis {'HW'[k]} must be smaller than the window "
                f"({window[k]}) on each side; otherwise a window lies wholly in the padding "
                "and has no pixel to pool. \"SAME\" padding always fits; PyTorch asks for at "
                "most half the window.")
    out = tuple(_out(who, xs[1 + k], window[k], stride[k], pads[k], 1, "HW"[k],
                     "window (window_shape)") for k in range(2))
    return window, stride, pads, out


def _check_pool(who: str, x, window_shape, stride, padding, unknown) -> None:
    _peer_names(who, unknown)
    _pool_geometry(who, _check_image(who, x), window_shape, stride, padding)


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
    total = sum(sl for _, sl in _slices(_pad(x.astype(wide), pads), window, stride, (1, 1), out))
    if count_include_pad:
        return (total / math.prod(window)).astype(x.dtype)
    ones = _pad(jnp.ones((1, x.shape[1], x.shape[2], 1), wide), pads)
    counts = sum(sl for _, sl in _slices(ones, window, stride, (1, 1), out))
    return (total / counts).astype(x.dtype)


def _check_global_pool(x) -> None:
    who = "global_avg_pool"
    xs = _check_image(who, x)
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
