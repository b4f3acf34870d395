r"""Initialisers: how every model of the package draws its first weights.

One rule, variance scaling, named and shaped as ``jax.nn.initializers`` (flax re-exports
them): a factory returns ``init(key, shape, dtype)``, which draws an array of ``shape``
with mean 0 and variance ``scale / n``, where ``n`` counts the inputs (``"fan_in"``), the
outputs (``"fan_out"``), their mean (``"fan_avg"``) or their geometric mean
(``"fan_geo_avg"``) of one output unit. The inputs lie along ``in_axis`` (-2) and the
outputs along ``out_axis`` (-1), as in the package's kernels ``w: (D_in, D_out)`` and
``(KH, KW, C, O)`` (the other axes, a convolution's window, multiply both counts). The
distribution is ``"normal"``, ``"truncated_normal"`` (cut at two standard deviations and
rescaled, as flax's defaults) or ``"uniform"`` on $[-r, r]$ with $r = \sqrt{3\,\mathrm{scale}
/ n}$ (a uniform on $[-r, r]$ has variance $r^2/3$).

The named schemes (:data:`SCHEMES`, derived in ``notebooks/04_backprop.ipynb``): LeCun
(scale 1, fan-in), He (scale 2, fan-in: ReLU halves the second moment) and Glorot (scale 1,
fan-average: the compromise between the forward and the backward pass). PyTorch's default
for ``nn.Linear`` and its recurrent layers, $\mathcal U(-1/\sqrt{n}, 1/\sqrt{n})$, is
:func:`pytorch_uniform` (variance scaling with scale 1/3, fan-in).

Draws are reproducible: one ``key`` gives the same numbers in every call, and a model's
``init_*`` function splits its key in a fixed order.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks

__all__ = ["variance", "variance_scaling", "glorot_normal", "glorot_uniform", "he_normal",
           "he_uniform", "lecun_normal", "lecun_uniform", "pytorch_uniform", "SCHEMES"]

#: The named schemes: ``scheme -> (scale, mode)`` of :func:`variance_scaling`.
SCHEMES = {"lecun": (1.0, "fan_in"), "he": (2.0, "fan_in"), "glorot": (1.0, "fan_avg")}
MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")
#: The standard deviation of a standard normal truncated to (-2, 2), as jax's.
_TRUNCATED_STD = 0.87962566103423978


def variance(scheme: str, n_in: int, n_out: int) -> float:
    r"""The weight variance of a named scheme, which keeps signals at a constant scale
    through the layers.

    LeCun (``"lecun"``, forward pass, activations that are linear near 0 such as tanh):

    $$\frac{1}{n_{in}}$$

    He (``"he"``, ReLU halves the second moment):

    $$\frac{2}{n_{in}}$$

    Glorot (``"glorot"``, the compromise between forward, $1/n_{in}$, and backward,
    $1/n_{out}$):

    $$\frac{2}{n_{in} + n_{out}}$$

    Derived from the second moment of a sum of $n_{in}$ independent zero-mean products,
    $\mathbb E[z^2] = n_{in}\,\mathrm{Var}(W)\,\mathbb E[a^2]$, in
    ``notebooks/04_backprop.ipynb``. It is ``scale / n`` of the scheme's entry in
    :data:`SCHEMES`.

    Args:
        scheme: ``"lecun"``, ``"he"`` or ``"glorot"``.
        n_in, n_out: fan-in $D_{in}$ and fan-out $D_{out}$ of the layer, ints >= 1.

    Returns:
        The variance, a Python float.

    Raises:
        ValueError: for an unknown scheme or a fan below 1.
        TypeError: a fan that is not an int.
    """
    who = "variance"
    _check_scheme(who, scheme)
    _checks.count(who, "n_in", n_in, low=1)
    _checks.count(who, "n_out", n_out, low=1)
    scale, mode = SCHEMES[scheme]
    return scale / _denominator(mode, n_in, n_out)


def _check_scheme(who: str, scheme) -> None:
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        raise ValueError(f"{who}: scheme must be one of {list(SCHEMES)}; got {scheme!r}.")


def _denominator(mode: str, fan_in, fan_out):
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
            "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]


def _axes(who: str, name: str, axis, ndim: int) -> tuple[int, ...]:
    try:
        axes = (axis,) if isinstance(axis, (int, np.integer, str)) else tuple(axis)
    except TypeError:  # not a sequence of axes (None, a float): refused below
        axes = (axis,)
    for a in axes:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)) \
                or not -ndim <= a < ndim:
            raise ValueError(f"{who}: {name} must be an axis (or axes) of the shape, ints in "
                             f"[-{ndim}, {ndim}); got {axis!r}.")
    return tuple(int(a) % ndim for a in axes)


def _fans(who: str, shape, in_axis, out_axis, batch_axis) -> tuple[int, int]:
    """(fan_in, fan_out) of ``shape``: the sizes along ``in_axis`` and ``out_axis``, each
    times the receptive field (the axes in none of the three)."""
    if len(shape) < 2:
        raise ValueError(f"{who}: shape must have at least 2 axes, inputs (in_axis) and "
                         f"outputs (out_axis); got {_checks.fmt(shape)}.")
    named = [_axes(who, n, a, len(shape)) for n, a in (("in_axis", in_axis),
                                                       ("out_axis", out_axis),
                                                       ("batch_axis", batch_axis))]
    size = [math.prod(shape[a] for a in axes) for axes in named]
    field = math.prod(s for a, s in enumerate(shape) if not any(a in ax for ax in named))
    return size[0] * field, size[1] * field


def _factory(who, scale, mode, distribution, in_axis, out_axis, batch_axis, dtype,
             fan_in=None):
    """The checked ``init(key, shape, dtype)`` of every factory; ``fan_in`` given fixes the
    fan-in (PyTorch's biases and recurrent layers)."""
    _checks.hyperparameter(who, "scale", scale, low=0.0)
    if mode not in MODES:
        raise ValueError(f"{who}: mode must be one of {list(MODES)}; got {mode!r}.")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"{who}: distribution must be one of {list(DISTRIBUTIONS)}; got "
                         f"{distribution!r}.")
    _checks.require_float_dtype(who, "dtype", dtype)

    def init(key, shape, dtype=dtype):
        _checks.require_key(who, key, "the weights")
        shape = _shape(who, shape)
        _checks.require_float_dtype(who, "dtype", dtype)
        if fan_in is None:
            fans = _fans(who, shape, in_axis, out_axis, batch_axis)
        else:
            fans = (fan_in, fan_in)
        return _draw(key, shape, dtype, scale, _denominator(mode, *fans), distribution)

    return init


def _shape(who: str, shape) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{who}: shape must be a tuple of ints; got {type(shape).__name__}.")
    for k, n in enumerate(shape):
        _checks.count(who, f"shape[{k}]", n)
    return tuple(int(n) for n in shape)


def _draw(key, shape, dtype, scale, denominator, distribution):
    if denominator == 0:  # an empty kernel: nothing to draw, as jax's variance 0
        return jnp.zeros(shape, dtype)
    if distribution == "uniform":
        bound = (3.0 * scale / denominator) ** 0.5
        return jax.random.uniform(key, shape, dtype, -bound, bound)
    std = (scale / denominator) ** 0.5
    if distribution == "normal":
        return (std * jax.random.normal(key, shape, dtype)).astype(dtype)
    return (std / _TRUNCATED_STD * jax.random.truncated_normal(key, -2, 2, shape, dtype)
            ).astype(dtype)


def variance_scaling(scale, mode: str, distribution: str, in_axis=-2, out_axis=-1,
                     batch_axis=(), dtype=jnp.float32):
    r"""The initialiser of variance ``scale / n`` (``jax.nn.initializers.variance_scaling``).

    Args:
        scale: a real number $\ge 0$ (may be traced, then its range is not checked).
        mode: ``"fan_in"``, ``"fan_out"``, ``"fan_avg"`` or ``"fan_geo_avg"``: what $n$ counts.
        distribution: ``"normal"``, ``"truncated_normal"`` or ``"uniform"``.
        in_axis, out_axis, batch_axis: the axes (an int or a tuple) of the inputs, the
            outputs and of independent kernels (counted in neither fan).
        dtype: the default floating dtype of the draws.

    Returns:
        ``init(key, shape, dtype=dtype)``, which returns an array of ``shape`` and
        ``dtype`` with mean 0 and variance ``scale / n`` (a key gives the same draw in
        every call).

    Raises:
        ValueError: an unknown mode or distribution; a concrete ``scale < 0``. ``init``: a
            shape of fewer than 2 axes, axes outside the shape, negative sizes.
        TypeError: ``dtype`` not floating; ``init``: a missing key, a shape that is not a
            tuple of ints.
    """
    return _factory("variance_scaling", scale, mode, distribution, in_axis, out_axis,
                    batch_axis, dtype)


def _named(name: str, scheme: str, distribution: str):
    scale, mode = SCHEMES[scheme]

    def factory(in_axis=-2, out_axis=-1, batch_axis=(), dtype=jnp.float32):
        return _factory(name, scale, mode, distribution, in_axis, out_axis, batch_axis, dtype)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = (
        f"``jax.nn.initializers.{name}``: :func:`variance_scaling` with scale {scale:g}, "
        f"mode ``{mode!r}`` and distribution ``{distribution!r}`` (the {scheme} scheme of "
        ":data:`SCHEMES`).\n\n    Args:\n        in_axis, out_axis, batch_axis, dtype: as "
        ":func:`variance_scaling`.\n\n    Returns:\n        ``init(key, shape, dtype=dtype)``."
        "\n\n    Raises:\n        TypeError, ValueError: as :func:`variance_scaling`.\n")
    return factory


glorot_normal = _named("glorot_normal", "glorot", "truncated_normal")
glorot_uniform = _named("glorot_uniform", "glorot", "uniform")
he_normal = _named("he_normal", "he", "truncated_normal")
he_uniform = _named("he_uniform", "he", "uniform")
lecun_normal = _named("lecun_normal", "lecun", "truncated_normal")
lecun_uniform = _named("lecun_uniform", "lecun", "uniform")


def pytorch_uniform(fan_in: int | None = None, in_axis=-2, out_axis=-1, dtype=jnp.float32):
    r"""PyTorch's default initialisation, $\mathcal U(-1/\sqrt{n}, 1/\sqrt{n})$ with $n$ the
    fan-in: the weights and biases of ``nn.Linear`` (its ``kaiming_uniform_`` with
    $a = \sqrt 5$, whose bound is $\sqrt{2/(1 + a^2)}\sqrt{3/n} = 1/\sqrt n$) and every
    parameter of ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` (with $n = H$). It is
    :func:`variance_scaling` with scale 1/3, mode ``"fan_in"``, distribution
    ``"uniform"``: the variance $1/(3n)$, a sixth of He's.

    Args:
        fan_in: $n$, an int >= 1; ``None``: from the shape (``in_axis`` and the receptive
            field). PyTorch draws a bias with the fan-in of its layer's weight.
        in_axis, out_axis, dtype: as :func:`variance_scaling` (PyTorch's ``(out, in)``
            weights have ``in_axis=-1``, ``out_axis=-2``).

    Returns:
        ``init(key, shape, dtype=dtype)``.

    Raises:
        TypeError, ValueError: as :func:`variance_scaling`; a ``fan_in`` that is not an int
            >= 1.
    """
    if fan_in is not None:
        _checks.count("pytorch_uniform", "fan_in", fan_in, low=1)
    return _factory("pytorch_uniform", 1 / 3, "fan_in", "uniform", in_axis, out_axis, (),
                    dtype, fan_in)
