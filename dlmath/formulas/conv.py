r"""Formulas of convolution and pooling (chapter 06): the cross-correlation sum (grouped
too), the output size, the backward pass, the transposed and the 1-D convolution, and
average pooling.

Entries are indexed as the code's arrays (0-based, channels-last): example $n$, output row
$i$ and column $j$, output channel $o$; kernel row $u = 0 \dots K_H - 1$, kernel column
$v = 0 \dots K_W - 1$, input channel $c = 0 \dots C - 1$. One stride $s$, dilation $d$ and
(low) padding $p$ are written for both axes; the code takes one per axis. An input entry
whose row or column falls in the padding (below 0 or at $H$, $W$ and beyond) is 0.
``notebooks/06_convolution.ipynb`` derives them and checks them against the code.
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula

__all__ = ["n", "i", "j", "o", "u", "v", "c", "a", "b_", "s", "d", "p", "P", "H", "W",
           "K_H", "K_W", "C", "K", "H_out", "W_out", "N_", "O_", "x", "w", "b", "g", "CONV2D",
           "OUTPUT_SIZE", "SAME_PADDING_TOTAL", "WEIGHT_GRADIENT", "INPUT_GRADIENT",
           "AVG_POOL", "GLOBAL_AVG_POOL", "input_row", "G", "group_start", "GROUPED_CONV2D",
           "CONV_TRANSPOSE2D", "CONV1D"]

#: example, output row and column, output channel, kernel row and column, input channel,
#: input row and column
n, i, j, o, u, v, c, a, b_ = sp.symbols("n i j o u v c a b", integer=True, nonnegative=True)
#: stride and dilation (>= 1), low padding (>= 0) and total padding P = p_low + p_high
s, d = sp.symbols("s d", integer=True, positive=True)
p, P = sp.symbols("p P", integer=True, nonnegative=True)
#: image height and width, kernel height and width, input channels; K a kernel size
H, W, K_H, K_W, C, K = sp.symbols("H W K_H K_W C K", integer=True, positive=True)
x, w, b, g = (sp.IndexedBase(name, real=True) for name in ("x", "w", "b", "g"))


def input_row(out_index, kernel_index):
    """$s i + d u - p$: the input row (or column) that kernel row ``u`` of output ``i``
    reads."""
    return s * out_index + d * kernel_index - p


#: $y_{nijo} = b_o + \sum_{u,v,c} x_{n, si + du - p, sj + dv - p, c}\, w_{uvco}$.
CONV2D = Formula(
    "conv.conv2d",
    b[o] + sp.Sum(x[n, input_row(i, u), input_row(j, v), c] * w[u, v, c, o],
                  (u, 0, K_H - 1), (v, 0, K_W - 1), (c, 0, C - 1)),
    (x, w, b, n, i, j, o, s, d, p, K_H, K_W, C),
)

#: $H' = \lfloor (H + P - d(K - 1) - 1)/s \rfloor + 1$, with $P$ the total padding.
OUTPUT_SIZE = Formula(
    "conv.output_size",
    sp.floor((H + P - d * (K - 1) - 1) / s) + 1,
    (H, K, s, P, d),
)

#: "SAME": $P = \max((\lceil H/s \rceil - 1)s + d(K - 1) + 1 - H, 0)$, split
#: $\lfloor P/2 \rfloor$ low and the rest high.
SAME_PADDING_TOTAL = Formula(
    "conv.same_padding",
    sp.Max((sp.ceiling(H / s) - 1) * s + d * (K - 1) + 1 - H, 0),
    (H, K, s, d),
)

#: $\partial L / \partial w_{uvco} = \sum_{n,i,j} x_{n, si + du - p, sj + dv - p, c}\, g_{nijo}$,
#: with $g = \partial L / \partial y$ of ``H_out x W_out`` rows and columns.
H_out, W_out, N_ = sp.symbols("H' W' N", integer=True, positive=True)
WEIGHT_GRADIENT = Formula(
    "conv.conv2d_backward.weight",
    sp.Sum(x[n, input_row(i, u), input_row(j, v), c] * g[n, i, j, o],
           (n, 0, N_ - 1), (i, 0, H_out - 1), (j, 0, W_out - 1)),
    (x, g, u, v, c, o, s, d, p, N_, H_out, W_out),
)

#: $\partial L / \partial x_{nabc} = \sum_{i,j,u,v,o} [si + du - p = a][sj + dv - p = b]\,
#: g_{nijo} w_{uvco}$: every output that read input entry $(a, b)$ sends its gradient back.
O_ = sp.Symbol("O", integer=True, positive=True)
INPUT_GRADIENT = Formula(
    "conv.conv2d_backward.input",
    sp.Sum(sp.KroneckerDelta(input_row(i, u), a) * sp.KroneckerDelta(input_row(j, v), b_)
           * g[n, i, j, o] * w[u, v, c, o],
           (i, 0, H_out - 1), (j, 0, W_out - 1), (u, 0, K_H - 1), (v, 0, K_W - 1),
           (o, 0, O_ - 1)),
    (g, w, n, a, b_, c, s, d, p, H_out, W_out, K_H, K_W, O_),
)

#: $y_{nijc} = \frac{1}{K_H K_W} \sum_{u,v} x_{n, si + u - p, sj + v - p, c}$ (padding counted).
_pool_row = lambda out_index, kernel_index: s * out_index + kernel_index - p  # noqa: E731
AVG_POOL = Formula(
    "conv.avg_pool",
    sp.Sum(x[n, _pool_row(i, u), _pool_row(j, v), c], (u, 0, K_H - 1), (v, 0, K_W - 1))
    / (K_H * K_W),
    (x, n, i, j, c, s, p, K_H, K_W),
)

#: $y_{nc} = \frac{1}{HW} \sum_{a,b} x_{nabc}$.
GLOBAL_AVG_POOL = Formula(
    "conv.global_avg_pool",
    sp.Sum(x[n, a, b_, c], (a, 0, H - 1), (b_, 0, W - 1)) / (H * W),
    (x, n, c, H, W),
)

#: groups $G$: output channel $o$ reads the $C/G$ input channels of its group
#: $\lfloor oG/O \rfloor$, the kernel ``(K_H, K_W, C/G, O)``:
#: $y_{nijo} = b_o + \sum_{u,v,c < C/G} x_{n, si + du - p, sj + dv - p, (C/G) \lfloor oG/O
#: \rfloor + c}\, w_{uvco}$.
G = sp.Symbol("G", integer=True, positive=True)


def group_start(out_channel, channels=C, outputs=O_, groups=G):
    r"""$(C/G) \lfloor o G / O \rfloor$: the first input channel of output ``o``'s group."""
    return channels / groups * sp.floor(out_channel * groups / outputs)


GROUPED_CONV2D = Formula(
    "conv.conv2d.groups",
    b[o] + sp.Sum(x[n, input_row(i, u), input_row(j, v), group_start(o) + c] * w[u, v, c, o],
                  (u, 0, K_H - 1), (v, 0, K_W - 1), (c, 0, C / G - 1)),
    (x, w, b, n, i, j, o, s, d, p, K_H, K_W, C, O_, G),
)

#: the transposed convolution (PyTorch's scatter form, ``groups = 1``): input pixel
#: $(i, j)$ adds $x_{nijc} w_{uvco}$ to output $(si - p + du, sj - p + dv)$:
#: $y_{nabo} = b_o + \sum_{i,j,u,v,c} [si + du - p = a][sj + dv - p = b]\, x_{nijc} w_{uvco}$.
CONV_TRANSPOSE2D = Formula(
    "conv.conv_transpose2d",
    b[o] + sp.Sum(sp.KroneckerDelta(input_row(i, u), a) * sp.KroneckerDelta(input_row(j, v), b_)
                  * x[n, i, j, c] * w[u, v, c, o],
                  (i, 0, H - 1), (j, 0, W - 1), (u, 0, K_H - 1), (v, 0, K_W - 1),
                  (c, 0, C - 1)),
    (x, w, b, n, a, b_, o, s, d, p, H, W, K_H, K_W, C),
)

#: 1-D: $y_{nio} = b_o + \sum_{u,c} x_{n, si + du - p, c}\, w_{uco}$ (``"CAUSAL"``:
#: $p = d(K - 1)$, none after).
CONV1D = Formula(
    "conv.conv1d",
    b[o] + sp.Sum(x[n, input_row(i, u), c] * w[u, c, o], (u, 0, K - 1), (c, 0, C - 1)),
    (x, w, b, n, i, o, s, d, p, K, C),
)

DOCUMENTED = {
    "conv.correlation.conv2d": (CONV2D, GROUPED_CONV2D),
    "conv.correlation.conv2d_im2col": (CONV2D, GROUPED_CONV2D),
    "conv.correlation.conv2d_backward": (WEIGHT_GRADIENT, INPUT_GRADIENT),
    "conv.transposed.conv_transpose2d": (CONV_TRANSPOSE2D,),
    "conv.sequence.conv1d": (CONV1D,),
    "conv.geometry.output_size": (OUTPUT_SIZE,),
    "conv.geometry.same_padding": (SAME_PADDING_TOTAL,),
    "conv.pooling.avg_pool": (AVG_POOL,),
    "conv.pooling.global_avg_pool": (GLOBAL_AVG_POOL,),
}
