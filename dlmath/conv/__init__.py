r"""Convolution and pooling on channels-last images and sequences, written out by hand.

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
entries) with the flipped kernel. :func:`conv_transpose2d` is that map as a layer
(PyTorch's ``ConvTranspose2d``), the adjoint of :func:`conv2d`; :func:`conv1d` convolves
sequences ``(N, L, C)``, with ``"CAUSAL"`` padding among its choices. ``groups`` splits the
channels into consecutive blocks convolved apart (a block-diagonal kernel; depthwise when
``groups = C``).

``stride`` and ``dilation`` are an int or a pair ``(for H, for W)``, each ``>= 1`` (one
name for the convolutions and the poolings, PyTorch's; flax's ``strides`` and
``kernel_dilation`` are refused with a message that names ours). ``padding`` is an int
``p >= 0`` (``p`` on every side), a pair of ints (per axis), a pair of ``(low, high)``
pairs, ``"VALID"`` (none) or ``"SAME"`` (:func:`same_padding`: the output has
``ceil(H / stride)`` rows; the odd pixel of padding goes to the high side, as in ``lax``).
Pairs are tuples: the hyper-parameters are static under ``jit``, so they must be hashable.
The module is a package split along these ideas: :mod:`dlmath.conv.geometry` (sizes,
padding), :mod:`dlmath.conv.correlation` (:func:`conv2d`, im2col, the backward pass),
:mod:`dlmath.conv.transposed`, :mod:`dlmath.conv.sequence` (1-D) and
:mod:`dlmath.conv.pooling`; every public name is here. Computation is in the parameters'
float dtype (an image of another float dtype is cast to
it, the package's rule). Everything is jit-able.
``notebooks/06_convolution.ipynb`` derives and checks every formula here.
"""

from __future__ import annotations

from dlmath.conv.correlation import conv2d, conv2d_backward, conv2d_im2col, im2col
from dlmath.conv.geometry import output_size, same_padding
from dlmath.conv.pooling import avg_pool, global_avg_pool, max_pool
from dlmath.conv.sequence import conv1d
from dlmath.conv.transposed import conv_transpose2d

__all__ = ["conv2d", "conv2d_im2col", "conv2d_backward", "conv_transpose2d", "conv1d",
           "im2col", "output_size", "same_padding", "max_pool", "avg_pool", "global_avg_pool"]
