"""Bad-input rows of dlmath.conv (chapter 06). Images ``(N, H, W, C)`` with H = 5, W = 4,
C = 2 channels; kernels ``(R, Q, C, O)`` of 2 x 2 with O = 3 outputs; the gradient of the
output ``(N, Ho, Wo, O)``. The peer is ``lax.conv_general_dilated`` (and its ``jax.vjp``)
in float64; the pools are compared with the same functions on float64 copies."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from bad_input_cases import A, H, Spec, normal
from jax import lax

SIZES = {"H": 5, "W": 4, "C": 2, "O": 3, "R": 2, "Q": 2, "Ho": 6, "Wo": 5}
STRIDE = H(count=True, low=1, static=True)
PADDING = H(count=True, low=0, static=True)
IMAGE = A(("N", "H", "W", "C"))
KERNEL = A(("R", "Q", "C", "O"), param=True)


def _lax(x, w, padding=1, stride=1, dilation=1):
    pads = [(padding, padding)] * 2
    return lax.conv_general_dilated(jnp.asarray(x), jnp.asarray(w), (stride, stride), pads,
                                    rhs_dilation=(dilation, dilation),
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                    precision=lax.Precision.HIGHEST)


def _conv_build(s, rng):
    return {"x": normal(rng, (s["N"], s["H"], s["W"], s["C"])),
            "w": normal(rng, (s["R"], s["Q"], s["C"], s["O"]), 0.5),
            "b": normal(rng, (s["O"],), 0.1), "stride": 1, "padding": 1, "dilation": 1}


def _conv_peer(kw):
    y = _lax(kw["x"], kw["w"], kw["padding"], kw["stride"], kw["dilation"])
    return y + jnp.asarray(kw["b"])


def _backward_build(s, rng):
    kw = _conv_build(s, rng)
    del kw["b"]
    # padding 1, stride 1, a 2 x 2 kernel: Ho = H + 1, Wo = W + 1
    kw["grad_output"] = normal(rng, (s["N"], s["H"] + 1, s["W"] + 1, s["O"]))
    return kw


def _backward_peer(kw):
    f = lambda x, w: _lax(x, w, kw["padding"], kw["stride"], kw["dilation"])  # noqa: E731
    y, vjp = jax.vjp(f, jnp.asarray(kw["x"]), jnp.asarray(kw["w"]))
    dx, dw = vjp(jnp.asarray(kw["grad_output"]))
    return dx, dw, jnp.sum(jnp.asarray(kw["grad_output"]), axis=(0, 1, 2))


def _pool_build(s, rng):
    return {"x": normal(rng, (s["N"], s["H"], s["W"], s["C"])), "window_shape": 2,
            "stride": 1, "padding": 0}


def _fits(v):
    return int(v) <= 4  # a window or kernel of at most W = 4 pixels


def _transpose_build(s, rng):
    return {"x": normal(rng, (s["N"], s["H"], s["W"], s["C"])),
            "w": normal(rng, (s["R"], s["Q"], s["C"], s["O"]), 0.5),
            "b": normal(rng, (s["O"],), 0.1), "stride": 2, "padding": 1, "output_padding": 0,
            "dilation": 1}


def _transpose_peer(kw):
    """The gradient of <lax's convolution, y> by its input: the adjoint, output_padding 0."""
    x, w = jnp.asarray(kw["x"]), jnp.asarray(kw["w"])
    s, p, d = kw["stride"], kw["padding"], kw["dilation"]
    n, h, wd, _ = x.shape
    size = [(m - 1) * s - 2 * p + d * (k - 1) + 1 for m, k in ((h, w.shape[0]), (wd, w.shape[1]))]
    fwd = lambda z: _lax(z, jnp.swapaxes(w, 2, 3), p, s, d)  # noqa: E731
    _, vjp = jax.vjp(fwd, jnp.zeros((n, *size, w.shape[3]), x.dtype))
    return vjp(x)[0] + jnp.asarray(kw["b"])


def _conv1d_build(s, rng):
    return {"x": normal(rng, (s["N"], s["L"], s["C"])),
            "w": normal(rng, (s["R"], s["C"], s["O"]), 0.5),
            "b": normal(rng, (s["O"],), 0.1), "stride": 1, "padding": 1, "dilation": 1}


def _conv1d_peer(kw):
    p = kw["padding"]
    y = lax.conv_general_dilated(jnp.asarray(kw["x"]), jnp.asarray(kw["w"]), (kw["stride"],),
                                 [(p, p)], rhs_dilation=(kw["dilation"],),
                                 dimension_numbers=("NWC", "WIO", "NWC"),
                                 precision=lax.Precision.HIGHEST)
    return y + jnp.asarray(kw["b"])


def specs():
    pool_hypers = {"window_shape": H(count=True, low=1, static=True, pred=_fits),
                   "stride": H(count=True, low=1, static=True, allow_none=True),
                   "padding": PADDING}
    # C = 2 and O = 3 have no common divisor but 1: groups 2, 3, 5 ... must be refused
    only_one = H(count=True, low=1, static=True, pred=lambda v: int(v) == 1)
    geometry = {"stride": STRIDE, "padding": PADDING, "dilation": STRIDE, "groups": only_one}
    return [
        Spec("conv.conv_transpose2d", _transpose_build,
             {("x",): IMAGE, ("w",): KERNEL, ("b",): A(("O",))},
             {"stride": STRIDE, "dilation": STRIDE, "groups": only_one,
              # (5 - 1)·2 - 2p + 1 + 1 >= 1 rows: p <= 4
              "padding": H(count=True, low=0, static=True, pred=lambda v: int(v) <= 4),
              "output_padding": H(count=True, low=0, static=True,
                                  pred=lambda v: int(v) < 2)},
             sizes=SIZES, empty={"N": "pass"}, out_dtype="params", grad_of=(("x",), ("w",)),
             peer=_transpose_peer, names_ok=("b",), examples=1,
             note="stride 2: output_padding 0 or 1; groups 2 divides C = 2 but asks for a "
                  "bias of 2·O, so its error names b"),
        Spec("conv.conv1d", _conv1d_build,
             {("x",): A(("N", "L", "C")), ("w",): A(("R", "C", "O"), param=True),
              ("b",): A(("O",))},
             {"stride": STRIDE, "padding": PADDING, "groups": only_one,
              "dilation": H(count=True, low=1, static=True, pred=lambda v: int(v) <= 6)},
             sizes={**SIZES, "L": 5}, empty={"N": "pass"}, out_dtype="params",
             grad_of=(("x",), ("w",)), peer=_conv1d_peer, examples=1,
             note="a kernel of 2 taps on 5 + 2 padded positions: dilation <= 6"),
        *[Spec(name, _conv_build, {("x",): IMAGE, ("w",): KERNEL, ("b",): A(("O",))},
               geometry, sizes=SIZES, empty={"N": "pass"}, out_dtype="params",
               grad_of=(("x",), ("w",)), peer=_conv_peer, examples=1)
                for name in ("conv.conv2d", "conv.conv2d_im2col")],
        Spec("conv.conv2d_backward", _backward_build,
             {("x",): IMAGE, ("w",): KERNEL, ("grad_output",): A(("N", "Ho", "Wo", "O"))},
             {**geometry, "padding": H(count=True, low=0, static=True,
                                       pred=lambda v: int(v) == 1)},
             sizes=SIZES, empty={"N": "pass"}, out_dtype="params", peer=_backward_peer,
             names_ok=("grad_output",), examples=1,
             note="grad_output is built for padding 1, stride 1, dilation 1"),
        Spec("conv.im2col",
             lambda s, rng: {"x": normal(rng, (s["N"], s["H"], s["W"], s["C"])),
                             "kernel_size": 2, "stride": 1, "padding": 1, "dilation": 1},
             {("x",): IMAGE},
             {"kernel_size": H(count=True, low=1, static=True, pred=lambda v: int(v) <= 6),
              "stride": STRIDE, "padding": PADDING, "dilation": STRIDE},  # W = 4 padded by 1
             sizes=SIZES, empty={"N": "pass", "C": "pass"}, out_dtype="promote",
             grad_of=(("x",),), examples=1),
        Spec("conv.max_pool", _pool_build, {("x",): IMAGE}, pool_hypers, sizes=SIZES,
             empty={"N": "pass", "C": "pass"}, out_dtype="promote", grad_of=(("x",),),
             examples=1),
        Spec("conv.avg_pool", lambda s, rng: {**_pool_build(s, rng), "count_include_pad": True},
             {("x",): IMAGE},
             {**pool_hypers, "count_include_pad": H(boolean=True, static=True)}, sizes=SIZES,
             empty={"N": "pass", "C": "pass"}, out_dtype="promote", grad_of=(("x",),),
             examples=1),
        Spec("conv.global_avg_pool",
             lambda s, rng: {"x": normal(rng, (s["N"], s["H"], s["W"], s["C"]))},
             {("x",): IMAGE}, sizes=SIZES, empty={"N": "pass", "C": "pass", "H": "raise"},
             out_dtype="promote", grad_of=(("x",),),
             ref=lambda kw: np.mean(np.asarray(kw["x"], np.float64), axis=(1, 2))),
        Spec("conv.output_size",
             lambda s, rng: {"size": 5, "kernel_size": 3, "stride": 1, "padding": 0,
                             "dilation": 1}, {},
             {"size": H(count=True, low=1, static=True, pred=lambda v: int(v) >= 3),
              "kernel_size": H(count=True, low=1, static=True, pred=lambda v: int(v) <= 5),
              "stride": STRIDE, "padding": PADDING,
              "dilation": H(count=True, low=1, static=True, pred=lambda v: int(v) <= 2)}),
        Spec("conv.same_padding",
             lambda s, rng: {"size": 5, "kernel_size": 3, "stride": 1, "dilation": 1}, {},
             {"size": STRIDE, "kernel_size": STRIDE, "stride": STRIDE, "dilation": STRIDE}),
    ]
