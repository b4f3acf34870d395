r"""The geometry of a convolution or pooling: hyper-parameters (stride, dilation, padding,
groups), the output size, "SAME" padding, and the checks of images and kernels that every
function of :mod:`dlmath.conv` shares.

The helpers without a leading underscore (``padding_pairs``, ``geometry``, ``check_image``,
...) serve the sibling modules of :mod:`dlmath.conv`; the public functions are the two in
``__all__``. ``notebooks/06_convolution.ipynb`` derives the formulas.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from dlmath import _checks

__all__ = ["output_size", "same_padding"]

NHWC = ("Images are channels-last (N, H, W, C); an NCHW array converts with "
        "x.transpose(0, 2, 3, 1), a single image with x[None].")
#: the static hyper-parameters of the 2-D convolutions
GEOMETRY = ("stride", "padding", "dilation", "groups")


def to_int(who: str, name: str, value, low: int) -> int:
    _checks.count(who, name, value, low=low)
    return int(value)


def peer_names(who: str, unknown: dict) -> None:
    """A keyword that a peer library uses for one of ours gets an error that names ours."""
    ours = {"strides": "stride", "kernel_dilation": "dilation", "window_strides": "stride",
            "feature_group_count": "groups"}
    for name in unknown:
        hint = f" (flax's and lax's name); dlmath calls it {ours[name]}, as PyTorch does" \
            if name in ours else ""
        raise TypeError(f"{who}: unexpected argument {name}{hint}.")


def same_pair(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    total = max((-(-size // stride) - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return (total // 2, total - total // 2)


def padding_pairs(who: str, padding, sizes, kernel, stride, dilation):
    """``((low, high), (low, high))`` for the two spatial axes."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0), (0, 0))
        if mode == "SAME":
            return tuple(same_pair(*args) for args in zip(sizes, kernel, stride, dilation,
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
                out.append((to_int(who, "padding", entry[0], 0),
                            to_int(who, "padding", entry[1], 0)))
            else:
                q = to_int(who, "padding", entry, 0)
                out.append((q, q))
        return tuple(out)
    q = to_int(who, "padding", padding, 0)
    return ((q, q), (q, q))


def out_size(who: str, size: int, kernel: int, stride: int, pads, dilation: int, axis: str,
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


def groups_of(who: str, groups, channels: dict) -> int:
    """``groups`` an int >= 1 that divides each of ``channels`` (``{"C": 4, "O": 6}``)."""
    _checks.count(who, "groups", groups, low=1)
    for letter, total in channels.items():
        if total % groups:
            divisors = [k for k in range(1, total + 1) if total % k == 0 and all(
                t % k == 0 for t in channels.values())]
            raise ValueError(
                f"{who}: groups = {groups} must divide the channels {letter} = {total} (each "
                f"group takes {letter}/groups consecutive channels); choose groups among the "
                f"common divisors {divisors}.")
    return int(groups)


# ---------------------------------------------------------------- array checks


def check_image(who: str, x, name: str = "x", channels: int | None = None, groups: int = 1):
    _checks.require_floating(who, name, x)
    s = _checks.shape_of(x)
    if len(s) != 4:
        hint = NHWC
        if len(s) == 3:
            hint = "A single image (H, W, C) is x[None]. " + NHWC
        raise ValueError(f"{who}: {name} must have shape (N, H, W, C); got {_checks.fmt(s)}. "
                         + hint)
    if channels is not None and s[3] != channels * groups:
        looks = (" It looks like NCHW (axis 1 has the kernel's C): transpose with "
                 "x.transpose(0, 2, 3, 1).") if s[1] == channels * groups else ""
        kernel = ("w is (KH, KW, C, O)" if groups == 1 else
                  f"w is (KH, KW, C/groups, O): {channels} x groups = {groups}")
        raise ValueError(
            f"{who}: {name} must have C = {channels * groups} channels on its last axis, the "
            f"kernel's input channels ({kernel}); got {name} {_checks.fmt(s)}.{looks}"
        )
    return s


def check_kernel(who: str, w, b, legend: str = "(KH, KW, C, O)", bias_size=None,
                 layout: str = "Kernels are HWIO, as flax's Conv (an OIHW PyTorch weight "
                               "converts with dlmath.convert.conv_from_pytorch)."):
    _checks.require_floating(who, "w", w)
    s = _checks.shape_of(w)
    if len(s) != legend.count(",") + 1:
        raise ValueError(f"{who}: w must have shape {legend}; got {_checks.fmt(s)}. {layout}")
    if b is not None:
        size = s[-1] if bias_size is None else bias_size
        _checks.require_floating(who, "b", b)
        if _checks.shape_of(b) != (size,):
            raise ValueError(f"{who}: b must have shape (O,) = ({size},), one bias per output "
                             f"channel of w {_checks.fmt(s)}; got b "
                             f"{_checks.fmt(_checks.shape_of(b))}.")
    return s, jnp.result_type(w)


def geometry(who, x_shape, kernel, stride, padding, dilation, name="kernel w"):
    stride = _checks.require_int_pair(who, "stride", stride)
    dilation = _checks.require_int_pair(who, "dilation", dilation)
    pads = padding_pairs(who, padding, x_shape[1:3], kernel, stride, dilation)
    out = tuple(out_size(who, x_shape[1 + k], kernel[k], stride[k], pads[k], dilation[k],
                         "HW"[k], name) for k in range(2))
    return stride, dilation, pads, out


def pad(x, pads):
    return jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))


def slices(xp, kernel, stride, dilation, out):
    """``((u, v), xp[:, d_H u : ... : s_H, d_W v : ... : s_W, :])``: the ``H' x W'`` pixels that
    kernel position ``(u, v)`` meets, for every output position at once."""
    n, c = xp.shape[0], xp.shape[3]
    for u in range(kernel[0]):
        for v in range(kernel[1]):
            start = (0, dilation[0] * u, dilation[1] * v, 0)
            stop = (n, start[1] + stride[0] * (out[0] - 1) + 1,
                    start[2] + stride[1] * (out[1] - 1) + 1, c)
            yield (u, v), lax.slice(xp, start, stop, (1, stride[0], stride[1], 1))


# ---------------------------------------------------------------- sizes


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
    size = to_int(who, "size", size, 1)
    kernel_size = to_int(who, "kernel_size", kernel_size, 1)
    stride = to_int(who, "stride", stride, 1)
    dilation = to_int(who, "dilation", dilation, 1)
    if isinstance(padding, str):
        pads = padding_pairs(who, padding, (size, size), (kernel_size,) * 2, (stride,) * 2,
                             (dilation,) * 2)[0]
    elif isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            raise ValueError(f"{who}: padding must be an int, a pair (low, high), 'VALID' or "
                             f"'SAME'; got {tuple(padding)!r}.")
        pads = (to_int(who, "padding", padding[0], 0), to_int(who, "padding", padding[1], 0))
    else:
        q = to_int(who, "padding", padding, 0)
        pads = (q, q)
    return out_size(who, size, kernel_size, stride, pads, dilation, "the axis",
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
    args = [to_int(who, name, value, 1) for name, value in
            (("size", size), ("kernel_size", kernel_size), ("stride", stride),
             ("dilation", dilation))]
    return same_pair(*args)
