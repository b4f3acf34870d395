r"""1-D convolution of channels-last sequences ``(N, L, C)``, with the causal padding that
lets each output see only the past (the bridge from chapter 06 to the sequence models of
chapter 07).

``notebooks/06_convolution.ipynb`` derives it and checks its causality.
"""

from __future__ import annotations

from jax import lax

from dlmath import _checks
from dlmath.conv.geometry import check_kernel, groups_of, out_size, peer_names, same_pair, to_int

__all__ = ["conv1d"]

_STATIC = ("stride", "padding", "dilation", "groups")
_NLC = ("Sequences are channels-last (N, L, C); an NCL array converts with x.transpose(0, 2, 1), "
        "a single sequence with x[None].")


def padding_1d(who: str, padding, size: int, kernel: int, stride: int, dilation: int):
    """``(low, high)`` of the one axis."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode in ("VALID", "SAME", "CAUSAL"):
            return {"VALID": (0, 0), "CAUSAL": (dilation * (kernel - 1), 0)}.get(
                mode) or same_pair(size, kernel, stride, dilation)
        raise ValueError(f"{who}: padding must be an int, a pair (low, high), 'VALID', 'SAME' "
                         f"or 'CAUSAL'; got the string {padding!r}.")
    if isinstance(padding, list):
        raise TypeError(f"{who}: padding must be an int, a tuple (low, high) or a string; got "
                        f"the list {padding!r}. It is static under jit, so it must be "
                        "hashable: pass a tuple.")
    if isinstance(padding, tuple):
        if len(padding) != 2:
            raise ValueError(f"{who}: padding must be an int p or a pair (low, high) for the "
                             f"one axis L; got {len(padding)} entries {padding!r}.")
        return (to_int(who, "padding", padding[0], 0), to_int(who, "padding", padding[1], 0))
    q = to_int(who, "padding", padding, 0)
    return (q, q)


def _check(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1, **unknown):
    who = "conv1d"
    peer_names(who, unknown)
    _checks.count(who, "groups", groups, low=1)
    ks, _ = check_kernel(who, w, b, "(K, C/groups, O)" if groups != 1 else "(K, C, O)",
                         layout="Kernels are (K, C, O), as flax's Conv (a PyTorch Conv1d weight "
                                "(O, C, K) converts with dlmath.convert.conv_from_pytorch).")
    groups = groups_of(who, groups, {"O": ks[2]})
    _checks.require_floating(who, "x", x)
    xs = _checks.shape_of(x)
    if len(xs) != 3:
        raise ValueError(f"{who}: x must have shape (N, L, C); got {_checks.fmt(xs)}. " + _NLC)
    if xs[2] != ks[1] * groups:
        looks = (" It looks like NCL (axis 1 has the kernel's C): transpose with "
                 "x.transpose(0, 2, 1).") if xs[1] == ks[1] * groups else ""
        raise ValueError(f"{who}: x must have C = {ks[1] * groups} channels on its last axis "
                         f"(w is (K, C/groups, O) = {_checks.fmt(ks)} with groups = {groups}); "
                         f"got x {_checks.fmt(xs)}.{looks}")
    s = to_int(who, "stride", stride, 1)
    d = to_int(who, "dilation", dilation, 1)
    out_size(who, xs[1], ks[0], s, padding_1d(who, padding, xs[1], ks[0], s, d), d, "L",
             "kernel w")


@_checks.checked(_check, static_argnames=_STATIC)
def conv1d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    r"""1-D convolution (cross-correlation) of channels-last sequences:

    $${b}_{o} + \sum_{\substack{0 \leq u \leq K - 1\\0 \leq c \leq C -
    1}} {w}_{u,c,o} {x}_{n,d u + i s - p,c}$$

    (for ``groups = 1``; with ``groups`` $G$, output channel $o$ reads the $C/G$ channels of
    its group, as :func:`conv2d`). ``padding="CAUSAL"`` puts $p = d(K - 1)$ zeros before the
    sequence and none after: output $i$ reads positions $si + du - d(K - 1) \le si$, so with
    stride 1 it depends on $x_{\le i}$ only, and the output has the input's length.
    Computed by ``lax.conv_general_dilated`` with ``("NWC", "WIO", "NWC")``; equal to flax's
    ``nn.Conv`` on sequences (``padding="CAUSAL"`` too).

    Args:
        x: sequences ``(N, L, C)``, floating.
        w: kernel ``(K, C/groups, O)``, floating (PyTorch's ``Conv1d.weight (O, C/groups,
            K)`` transposed by ``(2, 1, 0)``: :func:`dlmath.convert.conv_from_pytorch`).
        b: bias ``(O,)`` or ``None``.
        stride, dilation: Python ints $\ge 1$.
        padding: an int $p$ (both ends), a pair ``(low, high)``, ``"VALID"``, ``"SAME"``
            (as :func:`same_padding`) or ``"CAUSAL"``.
        groups: $G \ge 1$ dividing $C$ and $O$.

    Returns:
        ``(N, L', O)`` in the dtype of ``w``, $L'$ from :func:`output_size`.

    Raises:
        ValueError: ``x`` not ``(N, L, C)`` (an NCL sequence is named as such), channels of
            ``x`` other than ``groups`` times the kernel's, ``groups`` that does not divide
            ``O``, ``b`` not ``(O,)``, a kernel longer than the padded sequence, sizes below
            their range, an unknown padding string.
        TypeError: non-floating arrays, non-integer hyper-parameters, a list for padding.

    Derived in ``notebooks/06_convolution.ipynb``.
    """
    k = w.shape[0]
    pads = padding_1d("conv1d", padding, x.shape[1], k, stride, dilation)
    y = lax.conv_general_dilated(x.astype(w.dtype), w, (stride,), [pads],
                                 rhs_dilation=(dilation,),
                                 dimension_numbers=("NWC", "WIO", "NWC"),
                                 feature_group_count=groups, precision=lax.Precision.HIGHEST)
    return y if b is None else y + b.astype(w.dtype)
