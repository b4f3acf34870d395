r"""The transposed convolution (PyTorch's ``ConvTranspose2d``, channels-last): the adjoint of
:func:`dlmath.conv.conv2d`, which maps an output's shape back to an input's.

``notebooks/06_convolution.ipynb`` derives it as the adjoint, counts its output size and
shows what ``output_padding`` chooses.
"""

from __future__ import annotations

from jax import lax

from dlmath import _checks
from dlmath.conv.geometry import check_image, check_kernel, groups_of, peer_names

__all__ = ["conv_transpose2d"]

_STATIC = ("stride", "padding", "output_padding", "dilation", "groups")


def transposed_geometry(who, x_shape, kernel, stride, padding, output_padding, dilation):
    """``(stride, padding, output_padding, dilation, out)`` as pairs; ``out`` the output's
    ``(H', W')``, each ``>= 1``."""
    if isinstance(padding, str):
        raise TypeError(f"{who}: padding must be an int or a pair of ints (PyTorch's "
                        f"ConvTranspose2d: p rows and columns cut from each side); got the "
                        f"string {padding!r}. For 'SAME' with stride s, p = (d(K - 1) + 1 - s) "
                        "/ 2 when that is an integer.")
    stride = _checks.require_int_pair(who, "stride", stride)
    dilation = _checks.require_int_pair(who, "dilation", dilation)
    padding = _checks.require_int_pair(who, "padding", padding, low=0)
    extra = _checks.require_int_pair(who, "output_padding", output_padding, low=0)
    out = []
    for k in range(2):
        if extra[k] >= max(stride[k], dilation[k]):
            raise ValueError(
                f"{who}: output_padding {extra[k]} along {'HW'[k]} must be smaller than the "
                f"stride ({stride[k]}) or the dilation ({dilation[k]}), as PyTorch asks; it "
                "picks one of the input sizes that a strided convolution maps to the same "
                "output size, and there are stride of them.")
        size = ((x_shape[1 + k] - 1) * stride[k] - 2 * padding[k]
                + dilation[k] * (kernel[k] - 1) + extra[k] + 1)
        if size < 1:
            raise ValueError(
                f"{who}: the output would have {size} pixels along {'HW'[k]}: (H - 1)·s - 2p + "
                f"d(K - 1) + output_padding + 1 with H = {x_shape[1 + k]}, s = {stride[k]}, "
                f"p = {padding[k]}, d = {dilation[k]}, K = {kernel[k]}, output_padding = "
                f"{extra[k]}. Use a smaller padding.")
        out.append(size)
    return stride, padding, extra, dilation, tuple(out)


def _check(x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1,
           **unknown):
    who = "conv_transpose2d"
    peer_names(who, unknown)
    layout = ("A PyTorch ConvTranspose2d weight (C, O/groups, KH, KW) converts with "
              "dlmath.convert.conv_from_pytorch(weight, 'conv_transpose2d').")
    ks, _ = check_kernel(who, w, None, "(KH, KW, C, O/groups)", layout=layout)
    groups = groups_of(who, groups, {"C": ks[2]})
    check_kernel(who, w, b, "(KH, KW, C, O/groups)", bias_size=ks[3] * groups, layout=layout)
    xs = check_image(who, x, channels=ks[2])
    transposed_geometry(who, xs, ks[:2], stride, padding, output_padding, dilation)


@_checks.checked(_check, static_argnames=_STATIC)
def conv_transpose2d(x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1,
                     groups=1):
    r"""The transposed convolution of channels-last images (PyTorch's ``ConvTranspose2d``):
    every input pixel scatters its kernel-weighted copy into the output,

    $${b}_{o} + \sum_{\substack{0 \leq i \leq H - 1\\0 \leq j \leq W -
    1\\0 \leq u \leq K_{H} - 1\\0 \leq v \leq K_{W} - 1\\0 \leq c \leq C - 1}} \delta_{a, d u +
    i s - p} \delta_{b, d v + j s - p} {w}_{u,v,c,o} {x}_{n,i,j,c}$$

    (for ``groups = 1``; $y$ is 0 outside the sum's terms). Input pixel $(i, j)$ lands at
    output $(si - p + du,\ sj - p + dv)$: the output has
    $H' = (H - 1)s - 2p + d(K_H - 1) + a + 1$ rows, with $a$ = ``output_padding`` extra rows
    at the high end. It is the adjoint of :func:`conv2d`: with ``conv2d``'s kernel ``w (KH,
    KW, C/G, O)``, ``conv_transpose2d(y, w.swapaxes(2, 3), stride=s, padding=p, ...)`` is
    the gradient of $\langle$ ``conv2d(x, w, stride=s, padding=p, ...)`` $, y\rangle$ by
    $x$, for the $a$ that gives $x$'s size. With ``groups`` $G$, group $g$ maps input
    channels $g C/G \dots$ to output channels $g O/G \dots$ (the kernel ``(KH, KW, C,
    O/G)``), as PyTorch.

    Computed by XLA's convolution of the input with $s - 1$ zeros between its pixels
    (``lhs_dilation``), padded by $d(K - 1) - p$ low and $d(K - 1) - p + a$ high (negative:
    cropped), with the kernel flipped and each group's channel axes swapped. Equal to
    ``jax.vjp`` of ``lax.conv_general_dilated`` and to flax's ``nn.ConvTranspose`` with
    ``transpose_kernel=True`` where their paddings agree.

    Args:
        x: images ``(N, H, W, C)``, floating.
        w: kernel ``(KH, KW, C, O/groups)``, floating: PyTorch's ``ConvTranspose2d.weight
            (C, O/groups, KH, KW)`` transposed by ``(2, 3, 0, 1)``
            (:func:`dlmath.convert.conv_from_pytorch`).
        b: bias ``(O,)`` or ``None``.
        stride, dilation: ints $\ge 1$ or pairs ``(for H, for W)``.
        padding: $p \ge 0$, an int or a pair: rows (columns) cut from each side.
        output_padding: $a$, an int or a pair, smaller than the stride or the dilation.
        groups: $G \ge 1$ dividing $C$.

    Returns:
        ``(N, H', W', O)`` in the dtype of ``w`` (``x`` and ``b`` cast to it).

    Raises:
        ValueError: ``x`` or ``w`` not of rank 4, channels of ``x`` other than ``w``'s axis
            2, ``groups`` that does not divide them, ``b`` not ``(O,)``, ``output_padding``
            not smaller than the stride or the dilation, an output of fewer than one pixel,
            sizes below their range.
        TypeError: non-floating arrays, non-integer hyper-parameters, a string padding.

    Derived in ``notebooks/06_convolution.ipynb``.
    """
    kh, kw, c, og = w.shape
    stride, padding, extra, dilation, _ = transposed_geometry(
        "conv_transpose2d", x.shape, (kh, kw), stride, padding, output_padding, dilation)
    full = [dilation[k] * ((kh, kw)[k] - 1) - padding[k] for k in range(2)]
    # the forward convolution's kernel (KH, KW, C/G, O): flipped, each group's axes swapped
    rhs = w[::-1, ::-1].reshape(kh, kw, groups, c // groups, og)
    rhs = rhs.transpose(0, 1, 3, 2, 4).reshape(kh, kw, c // groups, groups * og)
    y = lax.conv_general_dilated(x.astype(w.dtype), rhs, (1, 1),
                                 [(full[0], full[0] + extra[0]), (full[1], full[1] + extra[1])],
                                 lhs_dilation=stride, rhs_dilation=dilation,
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                 feature_group_count=groups, precision=lax.Precision.HIGHEST)
    return y if b is None else y + b.astype(w.dtype)
