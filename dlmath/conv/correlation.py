r"""2-D convolution (cross-correlation) of channels-last images, grouped or not: by XLA's
convolution (:func:`conv2d`), as the chapter derives it (:func:`im2col`,
:func:`conv2d_im2col`), and its hand-derived backward pass (:func:`conv2d_backward`).

``groups`` $G$ splits the channels into $G$ consecutive blocks: group $g$ reads the input
channels $g C/G, \dots, (g + 1) C/G - 1$ and writes the output channels
$g O/G, \dots, (g + 1) O/G - 1$ (PyTorch's and ``lax``'s grouping), with the kernel
``(KH, KW, C/G, O)``. It is the dense convolution with a block-diagonal kernel; $G = C$ is
the depthwise convolution. ``notebooks/06_convolution.ipynb`` derives every formula here.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from dlmath import _checks
from dlmath.conv.geometry import (
    GEOMETRY,
    check_image,
    check_kernel,
    geometry,
    groups_of,
    pad,
    peer_names,
    slices,
)

__all__ = ["conv2d", "conv2d_im2col", "conv2d_backward", "im2col"]


def patches(xp, kernel, stride, dilation, out):
    """The ``KH·KW`` slices side by side: ``(N, H', W', KH·KW·C)``, ordered ``(u, v, c)``."""
    return jnp.concatenate([sl for _, sl in slices(xp, kernel, stride, dilation, out)], -1)


def correlate(xp, w, stride, dilation, out, groups=1):
    """The sum over (u, v) of slice (u, v) @ ``w[u, v]``, as one matrix product of the
    patches with the kernel reshaped to ``(KH·KW·C, O)`` (per group: ``(KH·KW·C/G, O/G)``);
    ``xp`` already padded."""
    cols = patches(xp, w.shape[:2], stride, dilation, out)
    if groups == 1:
        return jnp.einsum("nhwk,ko->nhwo", cols, w.reshape(-1, w.shape[-1]),
                          precision=lax.Precision.HIGHEST)
    taps, c_g, o = w.shape[0] * w.shape[1], w.shape[2], w.shape[3]
    cols = cols.reshape(*cols.shape[:3], taps, groups, c_g)
    y = jnp.einsum("nhwkgc,kcgo->nhwgo", cols, w.reshape(taps, c_g, groups, o // groups),
                   precision=lax.Precision.HIGHEST)
    return y.reshape(*y.shape[:3], o)


def check_conv(who: str, x, w, b, stride, padding, dilation, groups, unknown,
               grad_output=None):
    peer_names(who, unknown)
    _checks.count(who, "groups", groups, low=1)
    ks, _ = check_kernel(who, w, b, "(KH, KW, C/groups, O)" if groups != 1 else
                         "(KH, KW, C, O)")
    groups = groups_of(who, groups, {"O": ks[3]})
    xs = check_image(who, x, channels=ks[2], groups=groups)
    _, _, _, out = geometry(who, xs, ks[:2], stride, padding, dilation)
    if grad_output is not None:
        _checks.require_floating(who, "grad_output", grad_output)
        want = (xs[0], out[0], out[1], ks[3])
        if _checks.shape_of(grad_output) != want:
            raise ValueError(
                f"{who}: grad_output must have the shape of conv2d's output (N, H', W', O) = "
                f"{_checks.fmt(want)}; got {_checks.fmt(_checks.shape_of(grad_output))}."
            )


@_checks.checked(lambda x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1, **unknown:
                 check_conv("conv2d", x, w, b, stride, padding, dilation, groups, unknown),
                 static_argnames=GEOMETRY)
def conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    r"""2-D convolution (cross-correlation, the kernel not flipped) of channels-last images:

    $${b}_{o} + \sum_{\substack{0 \leq u \leq K_{H} - 1\\0 \leq v \leq K_{W} -
    1\\0 \leq c \leq C - 1}} {w}_{u,v,c,o} {x}_{n,d u + i s - p,d v + j s - p,c}$$

    with stride $s$, dilation $d$ and low padding $p$ per axis (entries in the padding are
    0). With ``groups`` $G$ the kernel is ``(KH, KW, C/G, O)`` and output channel $o$ reads
    only the $C/G$ input channels of its group $\lfloor o G / O \rfloor$:

    $${b}_{o} + \sum_{\substack{0 \leq u \leq K_{H} - 1\\0 \leq v \leq K_{W} -
    1\\0 \leq c \leq \frac{C}{G} - 1}} {w}_{u,v,c,o} {x}_{n,d u + i s - p,d v + j s -
    p,\frac{C \left\lfloor{\frac{G o}{O}}\right\rfloor}{G} + c}$$

    Computed by XLA's convolution, ``lax.conv_general_dilated(x, w, stride, padding,
    rhs_dilation=dilation, feature_group_count=groups, dimension_numbers=("NHWC", "HWIO",
    "NHWC"))`` at full float32 precision: the backend's tuned kernels, faster than a matrix
    product of the patches. :func:`conv2d_im2col` is the same sum as the chapter derives it
    (``im2col(x) @ w.reshape(KH·KW·C, O)``, per group), tested equal to this function.
    Equal to flax's ``nn.Conv`` (``feature_group_count``) too; its gradient (JAX's
    transpose of the convolution) equals the hand-derived :func:`conv2d_backward`.

    Args:
        x: images ``(N, H, W, C)``, floating.
        w: kernel ``(KH, KW, C/groups, O)``, floating.
        b: bias ``(O,)`` or ``None``.
        stride, padding, dilation: see the module docstring of :mod:`dlmath.conv` (static
            Python values).
        groups: $G \ge 1$, a Python int that divides $C$ and $O$ (1: the dense
            convolution; $C$: depthwise).

    Returns:
        ``(N, H', W', O)`` in the dtype of ``w`` (``x`` and ``b`` are cast to it), with
        $H'$ and $W'$ from :func:`output_size`.

    Raises:
        ValueError: ``x`` not of rank 4 (an NCHW image is named as such when its axis 1 has the
            kernel's channels), channels of ``x`` other than ``groups`` times the kernel's,
            ``groups`` that does not divide ``O``, ``b`` not ``(O,)``, a kernel that covers more
            than the padded image, ``stride``, ``dilation`` or ``groups < 1``, negative or
            malformed ``padding``.
        TypeError: non-floating arrays, non-integer hyper-parameters.

    Derived in ``notebooks/06_convolution.ipynb``.
    """
    stride, dilation, pads, _ = geometry("conv2d", x.shape, w.shape[:2], stride, padding,
                                         dilation)
    y = lax.conv_general_dilated(x.astype(w.dtype), w, stride, pads, rhs_dilation=dilation,
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                 feature_group_count=groups, precision=lax.Precision.HIGHEST)
    return y if b is None else y + b.astype(w.dtype)


@_checks.checked(lambda x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1, **unknown:
                 check_conv("conv2d_im2col", x, w, b, stride, padding, dilation, groups,
                            unknown), static_argnames=GEOMETRY)
def conv2d_im2col(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    r"""The convolution of :func:`conv2d` computed as the chapter derives it:

    $${b}_{o} + \sum_{\substack{0 \leq u \leq K_{H} - 1\\0 \leq v \leq K_{W} -
    1\\0 \leq c \leq C - 1}} {w}_{u,v,c,o} {x}_{n,d u + i s - p,d v + j s - p,c}$$

    as ``im2col(x) @ w.reshape(KH·KW·C, O)``: the ``KH·KW`` strided slices of the padded
    image set side by side, times the reshaped kernel, one matrix product. With ``groups``
    $G$, one product per group (the patch columns of its $C/G$ channels times its
    ``(KH·KW·C/G, O/G)`` block of the kernel):

    $${b}_{o} + \sum_{\substack{0 \leq u \leq K_{H} - 1\\0 \leq v \leq K_{W} -
    1\\0 \leq c \leq \frac{C}{G} - 1}} {w}_{u,v,c,o} {x}_{n,d u + i s - p,d v + j s -
    p,\frac{C \left\lfloor{\frac{G o}{O}}\right\rfloor}{G} + c}$$

    Tested equal to :func:`conv2d` (which hands the same sum to XLA's convolution and is the
    faster one) and to ``lax.conv_general_dilated``; the patch matrix is the image written
    ``KH·KW`` times over, which is what makes this form slower. Derived in
    ``notebooks/06_convolution.ipynb``.

    Args, Returns, Raises: as :func:`conv2d`.
    """
    stride, dilation, pads, out = geometry("conv2d_im2col", x.shape, w.shape[:2], stride,
                                           padding, dilation)
    y = correlate(pad(x.astype(w.dtype), pads), w, stride, dilation, out, groups)
    return y if b is None else y + b.astype(w.dtype)


def _check_im2col(x, kernel_size, *, stride=1, padding=0, dilation=1, **unknown) -> None:
    who = "im2col"
    peer_names(who, unknown)
    kernel = _checks.require_int_pair(who, "kernel_size", kernel_size)
    geometry(who, check_image(who, x), kernel, stride, padding, dilation,
             "kernel (kernel_size)")


@_checks.checked(_check_im2col, static_argnames=("kernel_size", *GEOMETRY[:3]))
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
    stride, dilation, pads, out = geometry("im2col", x.shape, kernel, stride, padding, dilation)
    return patches(pad(x, pads), kernel, stride, dilation, out)


@_checks.checked(lambda x, w, grad_output, *, stride=1, padding=0, dilation=1, groups=1,
                 **unknown: check_conv("conv2d_backward", x, w, None, stride, padding,
                                       dilation, groups, unknown, grad_output),
                 static_argnames=GEOMETRY)
def conv2d_backward(x, w, grad_output, *, stride=1, padding=0, dilation=1, groups=1):
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
    channel axes swapped; the padding is then cut off. With ``groups`` $G$ the same holds
    group by group (the input channel $c$ above is the one of $o$'s group, and the sum over
    $o$ runs over that group's $O/G$ outputs). Equal to ``jax.vjp`` of :func:`conv2d` and of
    ``lax.conv_general_dilated``.

    Args:
        x: images ``(N, H, W, C)``. w: kernel ``(KH, KW, C/groups, O)``.
        grad_output: $g$, ``(N, H', W', O)``.
        stride, padding, dilation, groups: as :func:`conv2d`.

    Returns:
        ``(dx, dw, db)`` of shapes ``(N, H, W, C)``, ``(KH, KW, C/groups, O)``, ``(O,)``, in
        the dtype of ``w``.

    Raises:
        ValueError: as :func:`conv2d`, and ``grad_output`` not ``(N, H', W', O)``.
        TypeError: as :func:`conv2d`.
    """
    ks, xs = w.shape, x.shape
    stride, dilation, pads, out = geometry("conv2d_backward", xs, ks[:2], stride, padding,
                                           dilation)
    x, g = x.astype(w.dtype), grad_output.astype(w.dtype)
    xp = pad(x, pads)
    # dw[u, v] = sum over n, i, j of the slice that w[u, v] met, times g: patches^T g
    cols = patches(xp, ks[:2], stride, dilation, out)
    if groups == 1:
        dw = jnp.einsum("nhwk,nhwo->ko", cols, g, precision=lax.Precision.HIGHEST)
    else:  # per group: its patch columns against its outputs' gradients
        cols = cols.reshape(*cols.shape[:3], ks[0] * ks[1], groups, ks[2])
        dw = jnp.einsum("nhwkgc,nhwgo->kcgo", cols, g.reshape(*g.shape[:3], groups, -1),
                        precision=lax.Precision.HIGHEST)
    dw = dw.reshape(ks)
    db = g.sum(axis=(0, 1, 2))
    # dx: the transposed convolution. Zeros between g's entries (stride), a full padding of
    # d (K - 1), and the rows of the padded image that no output reads (at the high end).
    full = [dilation[k] * (ks[k] - 1) for k in range(2)]
    unread = [xp.shape[1 + k] - (stride[k] * (out[k] - 1) + full[k] + 1) for k in range(2)]
    zero = jnp.zeros((), g.dtype)
    gp = lax.pad(g, zero, [(0, 0, 0), (full[0], full[0] + unread[0], stride[0] - 1),
                           (full[1], full[1] + unread[1], stride[1] - 1), (0, 0, 0)])
    # the flipped kernel, each group's channel axes swapped: (KH, KW, O/G, C)
    flipped = w[::-1, ::-1].reshape(*ks[:3], groups, ks[3] // groups)
    flipped = flipped.transpose(0, 1, 4, 3, 2).reshape(ks[0], ks[1], ks[3] // groups, -1)
    dxp = correlate(gp, flipped, (1, 1), dilation, xp.shape[1:3], groups)
    dx = dxp[:, pads[0][0]:pads[0][0] + xs[1], pads[1][0]:pads[1][0] + xs[2]]
    return dx, dw, db
