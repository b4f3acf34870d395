r"""Batch, layer and RMS normalisation, with their backward passes derived by hand.

Legend: ``C`` channels (features) on the last axis; ``*B`` any leading axes. Batch norm
normalises each channel with the mean and the biased variance over every axis but the last
(the $N$ values of a channel: the examples, and the pixels of an image ``(N, H, W, C)``),
as flax's ``BatchNorm`` and PyTorch's ``BatchNorm*d`` in training mode; layer norm and RMS
norm normalise each example over its last axis, as flax's ``LayerNorm`` and ``RMSNorm``.
flax calls the parameters ``scale`` and ``bias`` too; PyTorch calls them ``weight`` and
``bias``.

The ``*_backward`` functions are the compact hand-derived gradients (the formulas that
``notebooks/09_normalization.ipynb`` proves); the forward functions are plain JAX, so
``jax.grad`` of them is the reference the backward passes are tested against.

Results are in the dtype of ``scale``: an ``x`` (and a ``bias``) of another float dtype is
cast to it (the package's rule for functions with parameters), and the statistics are
computed in at least float32 (a float16 ``x`` with $|x - \mu| > 256$ would overflow its
squares), as flax does. ``eps >= 0``; with ``eps = 0`` a constant row (or a batch of one)
has $\sigma = 0$ and $\hat x = 0$: the output is the bias, never NaN.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from dlmath import _checks, _reduce

__all__ = ["batch_norm", "batch_norm_backward", "update_running_statistics",
           "batch_norm_inference", "layer_norm", "layer_norm_backward", "rms_norm",
           "rms_norm_backward"]


def _check(who: str, x, scale, bias=None, *, batch: bool, eps, grad_output=None) -> None:
    """x, the parameters (and grad_output) and eps; the kernels cast to the dtype of scale."""
    _checks.hyperparameter(who, "eps", eps, low=0.0)
    _checks.require_floating(who, "x", x)
    params = {"scale": scale} if bias is None else {"scale": scale, "bias": bias}
    for name, v in params.items():
        _checks.require_floating(who, name, v)
    s = _checks.shape_of(x)
    if batch and len(s) < 2:
        raise ValueError(f"{who}: x must have shape (N, ..., C) with a batch axis; got "
                         f"{_checks.fmt(s)}. A single example (C,) is x[None] (and its batch "
                         "statistics are then those of one value per channel).")
    if len(s) < 1:
        raise ValueError(f"{who}: x must have shape (*B, C); got a scalar, which has no "
                         "features to normalise.")
    c = s[-1]
    for name, v in params.items():
        if _checks.shape_of(v) != (c,):
            raise ValueError(
                f"{who}: {name} must have shape (C,) = ({c},), one entry per channel on the "
                f"last axis of x {_checks.fmt(s)}; got {name} {_checks.fmt(_checks.shape_of(v))}."
                " Channels are last (an NCHW image transposes with x.transpose(0, 2, 3, 1)).")
    if c == 0:
        raise ValueError(f"{who}: x {_checks.fmt(s)} has no channels (C = 0) to normalise.")
    if batch and any(d == 0 for d in s[:-1]):
        raise ValueError(f"{who}: x {_checks.fmt(s)} has no examples (an empty axis before the "
                         "channels); the batch statistics are a mean over them and are "
                         "undefined for none.")
    if grad_output is not None:
        _checks.require_floating(who, "grad_output", grad_output)
        _checks.require_same_shape(who, "x", x, "grad_output", grad_output, "(*B, C)")


def _forward_check(who: str, batch: bool):
    def check(x, scale, bias, *, eps=1e-5):
        _check(who, x, scale, bias, batch=batch, eps=eps)
    return check


def _backward_check(who: str, batch: bool, eps_default: float = 1e-5):
    def check(x, scale, grad_output, *, eps=eps_default):
        _check(who, x, scale, batch=batch, eps=eps, grad_output=grad_output)
    return check


def _cast(scale, *arrays):
    """``scale`` and the arrays in the dtype the statistics are computed in: that of
    ``scale`` (the package's rule for parameters), at least float32 (the rule for
    reductions: a float16 square overflows at 256). Results go back to ``scale.dtype``."""
    wide = _reduce.wide(scale.dtype)
    return (scale.astype(wide), *(a.astype(wide) for a in arrays))


def _root(var, eps):
    r"""$\sqrt{\sigma^2 + \epsilon}$, and 1 where that is 0 (only with ``eps = 0``, where
    every $x - \mu$ is 0 too): the package's $0/0 = 0$ (:func:`dlmath._checks.quotient`)
    taken on the per-row statistic, so a constant row gives $\hat x = 0$, not NaN. The
    forward kernels multiply by ``1 / _root(...)``: one division per row (or channel, or
    group) instead of one per element, in the forward pass and in the gradient that
    ``jax.grad`` derives from it (a division costs several multiplications). Where the
    statistic is per channel (batch and group norm), $\gamma/\sigma$ is formed first, a
    vector, so each element sees one multiply-add."""
    root = jnp.sqrt(var + eps)
    return jnp.where(root == 0, jnp.ones((), root.dtype), root)


def _axes(axes, ndim: int) -> tuple:
    """``axes`` (an int or a tuple, negative counted from the end) as a sorted tuple."""
    return tuple(sorted(ax % ndim for ax in ((axes,) if isinstance(axes, int) else axes)))


def _mean(a, axes, keepdims=False):
    """The mean over ``axes``, one run of adjacent axes at a time, the innermost last: group
    norm's axes (1, 3) of ``(N, positions, G, C/G)`` become a contiguous sum over the
    positions and then a short one over the channels of a group, which compiles to faster
    loops than one strided reduction over both (no difference for adjacent axes)."""
    axes = _axes(axes, a.ndim)
    runs = [[axes[0]]]
    for ax in axes[1:]:
        runs[-1].append(ax) if ax == runs[-1][-1] + 1 else runs.append([ax])
    for run in runs:
        a = jnp.mean(a, axis=tuple(run), keepdims=True)
    return a if keepdims else jnp.squeeze(a, axis=axes)


#: the one-pass variance is kept where every mean satisfies mu^2 <= 16 sigma^2
_ONE_PASS_SPREAD = 16.0


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _moments(x, axes):
    r"""The mean $\mu$ and the biased variance $\sigma^2$ over ``axes`` (kept as size-1 axes).

    The variance is first taken in one pass, $\sigma^2 = E[x^2] - \mu^2$: one read of
    ``x`` for both sums (what flax does by default). With $u$ the relative error of the two
    sums, $E[x^2] = \sigma^2 + \mu^2$ brings an error of $u(\sigma^2 + \mu^2)$ and $\mu^2$ one
    of $2u\mu^2$, so relative to $\sigma^2$ the error is up to $u\,(1 + 3\mu^2/\sigma^2)$:
    harmless while the mean is small against the spread, ruinous when it is large (a mean
    of 1000 and a spread of 1 leave about one digit in float32). So the one-pass value is
    kept only if every group has $\mu^2 \le 16\,\sigma^2$ (an error of at most $49u$) and
    it is finite; otherwise a ``lax.cond`` takes two passes for the batch: the mean and
    $E[(x - \mu)^2]$ of $x - x_0$, its first value $x_0$ taken off each group (exact), so a
    large mean cancels nothing and a constant group has $\sigma^2 = 0$ and $x - \mu = 0$
    exactly. (Under ``jax.vmap`` the ``cond`` becomes a select: both are computed.) The
    derivative is the exact $d\sigma^2 = \frac{2}{N}\sum (x - \mu)\,dx$ either way (a
    custom JVP, so the ``cond`` is not differentiated)."""
    mean = _mean(x, axes)
    one_pass = jnp.maximum(_mean(jnp.square(x), axes) - jnp.square(mean), 0)
    accurate = jnp.all(_small_mean(mean, one_pass) & jnp.isfinite(one_pass))

    def two_pass():
        reduced = _axes(axes, x.ndim)
        if all(x.shape[ax] for ax in reduced):
            first = x[tuple(slice(0, 1) if ax in reduced else slice(None)
                            for ax in range(x.ndim))]
        else:  # an empty batch: no first value, and a mean of nothing (NaN) either way
            first = jnp.zeros([1 if ax in reduced else n for ax, n in enumerate(x.shape)],
                              x.dtype)
        d = x - first
        d_mean = _mean(d, axes)
        var = _mean(jnp.square(d - jnp.expand_dims(d_mean, axes)), axes)
        return jnp.squeeze(first, reduced) + d_mean, var

    mean, var = jax.lax.cond(accurate, lambda: (mean, one_pass), two_pass)
    return jnp.expand_dims(mean, axes), jnp.expand_dims(var, axes)


def _small_mean(mean, var):
    r"""Where the mean is small against the spread, $\mu^2 \le 16\,\sigma^2$: the one-pass
    test of :func:`_moments`."""
    return jnp.square(mean) <= _ONE_PASS_SPREAD * var


def _shift(mean, var):
    """0 where the mean is small against the spread (:func:`_small_mean`), the mean
    elsewhere."""
    return jnp.where(_small_mean(mean, var), jnp.zeros((), mean.dtype), mean)


@_moments.defjvp
def _moments_jvp(axes, primals, tangents):
    r"""$d\mu = \frac1N\sum dx$ and $d\sigma^2 = \frac2N\sum (x - \mu)\,dx$, the latter
    written as $\frac2N\sum (x - k)\,dx - 2(\mu - k)\,d\mu$, equal for any shift $k$. Where
    the mean is small against the spread (the one-pass test above, per group) $k = 0$: the
    sum is over $x\,dx$ itself, which the compiler fuses into the other passes of the
    gradient; elsewhere $k = \mu$, the exact centring."""
    (x,), (dx,) = primals, tangents
    mean, var = _moments(x, axes)
    shift = _shift(mean, var)
    d_mean = _mean(dx, axes, keepdims=True)
    d_var = 2 * (_mean((x - shift) * dx, axes, keepdims=True) - (mean - shift) * d_mean)
    return (mean, var), (d_mean, d_var)


@_checks.checked(_forward_check("batch_norm", batch=True))
def batch_norm(x, scale, bias, *, eps=1e-5):
    r"""Batch normalisation in training mode: each channel $c$ normalised with the mean
    $\mu$ and biased variance $\sigma^2$ of its $N$ values in the batch,

    $$\beta + \frac{\gamma \left({x}_{j} - \frac{\sum_{i=0}^{N -
    1} {x}_{i}}{N}\right)}{\sqrt{\epsilon + \frac{\sum_{i=0}^{N -
    1} \left({x}_{i} - \frac{\sum_{i=0}^{N - 1} {x}_{i}}{N}\right)^{2}}{N}}}$$

    that is $y = \gamma (x - \mu)/\sqrt{\sigma^2 + \epsilon} + \beta$, with
    $\gamma$ = ``scale[c]`` and $\beta$ = ``bias[c]``. $N$ counts every axis but the last
    (examples and pixels). Equal to flax's ``nn.BatchNorm(use_running_average=False)`` with
    ``epsilon=eps`` (its ``scale`` and ``bias``) and to PyTorch's ``BatchNorm*d`` in
    training mode.

    A batch of one ($N = 1$) is allowed and degenerate: the variance is 0, $\hat x = 0$,
    so the output is ``bias`` whatever ``x`` is, and the gradient with respect to ``x``
    is 0 (flax does the same; PyTorch raises). Use :func:`layer_norm`, or running
    statistics (:func:`batch_norm_inference`), for single examples.

    Args:
        x: ``(N, ..., C)``, floating, at least 2-D.
        scale, bias: ``(C,)``, floating, one dtype.
        eps: $\epsilon \ge 0$, added to the variance.

    Returns:
        ``(N, ..., C)`` in the dtype of ``scale``.

    Raises:
        ValueError: ``x`` of rank < 2; ``scale`` or ``bias`` not ``(C,)``; an empty batch axis or no
            channels; ``eps`` negative or not finite.
        TypeError: non-floating arrays.
    """
    out_dtype = scale.dtype
    scale, x, bias = _cast(scale, x, bias)
    mean, var = _moments(x, tuple(range(x.ndim - 1)))
    return ((x - mean) * (scale * (1 / _root(var, eps))) + bias).astype(out_dtype)


@_checks.checked(_backward_check("batch_norm_backward", batch=True))
def batch_norm_backward(x, scale, grad_output, *, eps=1e-5):
    r"""The hand-derived backward pass of :func:`batch_norm`: for $g$ = ``grad_output``,

    $$\frac{\gamma \left(N {g}_{j} - {\hat{x}}_{j} \sum_{i=0}^{N -
    1} {\hat{x}}_{i} {g}_{i} - \sum_{i=0}^{N - 1} {g}_{i}\right)}{N \sigma}$$

    that is $\partial L/\partial x = \frac{\gamma}{N\sigma}(N g - \sum g - \hat x \sum g
    \hat x)$ with $\sigma = \sqrt{\sigma^2 + \epsilon}$ and the sums over the $N$ values of
    each channel; $\partial L/\partial\gamma = \sum g \hat x$, $\partial L/\partial\beta =
    \sum g$ (per channel).

    Args:
        x, scale, eps: as :func:`batch_norm` (the bias does not enter the gradients).
        grad_output: $g$, the gradient of the loss with respect to the output, the shape
            of ``x``.

    Returns:
        ``(grad_x, grad_scale, grad_bias)``: ``(N, ..., C)``, ``(C,)``, ``(C,)`` in the
        dtype of ``scale``; equal to ``jax.vjp`` of :func:`batch_norm`.

    Raises:
        ValueError, TypeError: as :func:`batch_norm`; ``grad_output`` not of the shape of ``x`` or
            not floating.
    """
    out_dtype = scale.dtype
    scale, x, g = _cast(scale, x, grad_output)
    axes = tuple(range(x.ndim - 1))
    n = x.size // x.shape[-1]
    mean, var = _moments(x, axes)
    sigma = _root(var, eps)
    x_hat = (x - mean) / sigma
    sum_g = jnp.sum(g, axis=axes, keepdims=True)
    sum_gx = jnp.sum(g * x_hat, axis=axes, keepdims=True)
    grad_x = scale / (n * sigma) * (n * g - sum_g - x_hat * sum_gx)
    return tuple(a.astype(out_dtype) for a in (grad_x, sum_gx.reshape(-1), sum_g.reshape(-1)))


def _check_statistics(who: str, x, vectors: dict, *, batch: bool) -> None:
    """Floating ``x`` and ``(C,)`` vectors (statistics or parameters) for its channels."""
    _checks.require_floating(who, "x", x)
    for name, v in vectors.items():
        _checks.require_floating(who, name, v)
    s = _checks.shape_of(x)
    if len(s) < (2 if batch else 1):
        raise ValueError(f"{who}: x must have shape "
                         + (f"(N, ..., C) with a batch axis; got {_checks.fmt(s)}. A single "
                            "example (C,) is x[None]." if batch else "(*B, C); got a scalar."))
    for name, v in vectors.items():
        if _checks.shape_of(v) != (s[-1],):
            raise ValueError(f"{who}: {name} must have shape (C,) = ({s[-1]},), one entry per "
                             f"channel of x {_checks.fmt(s)}; got "
                             f"{_checks.fmt(_checks.shape_of(v))}.")
    if batch and any(d == 0 for d in s[:-1]):
        raise ValueError(f"{who}: x {_checks.fmt(s)} has no examples; the batch statistics "
                         "are a mean over them and are undefined for none.")


def _check_update(running_mean, running_var, x, *, momentum=0.99) -> None:
    who = "update_running_statistics"
    _checks.hyperparameter(who, "momentum", momentum, low=0.0, high=1.0)
    _check_statistics(who, x, {"running_mean": running_mean, "running_var": running_var},
                      batch=True)


@_checks.checked(_check_update)
def update_running_statistics(running_mean, running_var, x, *, momentum=0.99):
    r"""The running statistics that batch norm uses at inference, updated with one batch:
    $\mu_r \leftarrow m\,\mu_r + (1 - m)\,\mu$ and $\sigma_r^2 \leftarrow m\,\sigma_r^2 +
    (1 - m)\,\sigma^2$, with $\mu, \sigma^2$ the batch's (biased) statistics over every
    axis but the last, as flax's ``BatchNorm`` (``momentum`` 0.99; its ``batch_stats``
    ``mean`` and ``var``). PyTorch's ``momentum`` is $1 - m$ (0.1), and it keeps the
    unbiased variance $\frac{N}{N - 1}\sigma^2$ instead.

    Args:
        running_mean, running_var: ``(C,)``, floating, one dtype (start: zeros and ones).
        x: the batch ``(N, ..., C)``, floating.
        momentum: $m \in [0, 1]$; 0 keeps only the last batch.

    Returns:
        ``(running_mean, running_var)``, ``(C,)`` each, in the dtype of ``running_mean``.

    Raises:
        ValueError: ``x`` of rank < 2, statistics not ``(C,)``, an empty batch, ``momentum`` outside
            ``[0, 1]``.
        TypeError: non-floating arrays.
    """
    out_dtype = running_mean.dtype
    running_mean, x, running_var = _cast(running_mean, x, running_var)
    mean, var = _moments(x, tuple(range(x.ndim - 1)))
    return ((momentum * running_mean + (1 - momentum) * mean.reshape(-1)).astype(out_dtype),
            (momentum * running_var + (1 - momentum) * var.reshape(-1)).astype(out_dtype))


def _check_inference(x, scale, bias, running_mean, running_var, *, eps=1e-5) -> None:
    who = "batch_norm_inference"
    _checks.hyperparameter(who, "eps", eps, low=0.0)
    _check_statistics(who, x, {"scale": scale, "bias": bias, "running_mean": running_mean,
                               "running_var": running_var}, batch=False)


@_checks.checked(_check_inference)
def batch_norm_inference(x, scale, bias, running_mean, running_var, *, eps=1e-5):
    r"""Batch normalisation at inference: $y = \gamma (x - \mu_r)/\sqrt{\sigma_r^2 +
    \epsilon} + \beta$ with the running statistics of :func:`update_running_statistics`
    instead of the batch's, so each example's output depends on that example only (and a
    batch of one is fine). flax's ``nn.BatchNorm(use_running_average=True)``.

    Args:
        x: ``(*B, C)``, floating (any batch shape, also none).
        scale, bias, running_mean, running_var: ``(C,)``, floating, one dtype.
        eps: $\epsilon \ge 0$.

    Returns:
        ``(*B, C)`` in the dtype of ``scale``.

    Raises:
        ValueError: a vector not ``(C,)``; ``x`` a scalar; ``eps`` out of range.
        TypeError: non-floating arrays.
    """
    out_dtype = scale.dtype
    scale, x, bias, mean, var = _cast(scale, x, bias, running_mean, running_var)
    return ((x - mean) * (scale * (1 / _root(var, eps))) + bias).astype(out_dtype)


@_checks.checked(_forward_check("layer_norm", batch=False))
def layer_norm(x, scale, bias, *, eps=1e-5):
    r"""Layer normalisation over the last axis, for each example on its own:

    $${\beta}_{j} + \frac{\left({x}_{j} - \frac{\sum_{a=0}^{D -
    1} {x}_{a}}{D}\right) {\gamma}_{j}}{\sqrt{\epsilon + \frac{\sum_{a=0}^{D -
    1} \left({x}_{a} - \frac{\sum_{a=0}^{D - 1} {x}_{a}}{D}\right)^{2}}{D}}}$$

    the mean and biased variance taken over the $D$ = ``C`` features of one example.
    flax's ``nn.LayerNorm(epsilon=eps)`` (whose default is 1e-6) and PyTorch's
    ``nn.LayerNorm`` (default 1e-5, its ``weight`` our ``scale``).

    Args:
        x: ``(*B, C)``, floating.
        scale, bias: ``(C,)``, floating, one dtype.
        eps: $\epsilon \ge 0$.

    Returns:
        ``(*B, C)`` in the dtype of ``scale``; an empty batch gives an empty result.

    Raises:
        ValueError: ``x`` a scalar; ``scale`` or ``bias`` not ``(C,)``; ``C = 0``; ``eps`` out of
            range.
        TypeError: non-floating arrays.

    Example:
        >>> import jax.numpy as jnp
        >>> from dlmath import normalization
        >>> y = normalization.layer_norm(jnp.array([1.0, 2.0, 3.0]), jnp.ones(3), jnp.zeros(3))
        >>> [round(float(v), 4) for v in y]                 # (x - 2) / sqrt(2/3 + eps)
        [-1.2247, 0.0, 1.2247]
    """
    out_dtype = scale.dtype
    scale, x, bias = _cast(scale, x, bias)
    mean, var = _moments(x, -1)
    return ((x - mean) * (1 / _root(var, eps)) * scale + bias).astype(out_dtype)


@_checks.checked(_backward_check("layer_norm_backward", batch=False))
def layer_norm_backward(x, scale, grad_output, *, eps=1e-5):
    r"""The hand-derived backward pass of :func:`layer_norm`. With $h = \gamma \odot g$
    (the output gradient through the scale), per example, over its $D$ features:
    $\partial L/\partial x = \frac{1}{D\sigma}(D h - \sum h - \hat x \sum h \hat x)$, batch
    norm's formula with $g \to h$, $\gamma \to 1$ and the sums over the features;
    $\partial L/\partial \gamma = \sum_{\text{examples}} g \hat x$, $\partial L/\partial
    \beta = \sum_{\text{examples}} g$.

    Args:
        x, scale, eps: as :func:`layer_norm`.
        grad_output: $g$, the shape of ``x``, floating.

    Returns:
        ``(grad_x, grad_scale, grad_bias)``: ``(*B, C)``, ``(C,)``, ``(C,)`` in the dtype of
        ``scale``; equal to ``jax.vjp`` of :func:`layer_norm`.

    Raises:
        ValueError, TypeError: as :func:`layer_norm`; ``grad_output`` of another shape.
    """
    out_dtype = scale.dtype
    scale, x, g = _cast(scale, x, grad_output)
    d = x.shape[-1]
    mean, var = _moments(x, -1)
    sigma = _root(var, eps)
    x_hat = (x - mean) / sigma
    h = g * scale
    grad_x = (d * h - jnp.sum(h, -1, keepdims=True)
              - x_hat * jnp.sum(h * x_hat, -1, keepdims=True)) / (d * sigma)
    batch = tuple(range(x.ndim - 1))
    return tuple(a.astype(out_dtype) for a in (grad_x, jnp.sum(g * x_hat, axis=batch),
                                               jnp.sum(g, axis=batch)))


@_checks.checked(lambda x, scale, *, eps=1e-6: _check("rms_norm", x, scale, batch=False,
                                                      eps=eps))
def rms_norm(x, scale, *, eps=1e-6):
    r"""RMS normalisation over the last axis (no centring, no bias):

    $$\frac{{\gamma}_{j} {x}_{j}}{\sqrt{\epsilon + \frac{\sum_{a=0}^{D - 1} {x}_{a}^{2}}{D}}}$$

    flax's ``nn.RMSNorm(epsilon=eps)`` (same default 1e-6).

    Args:
        x: ``(*B, C)``, floating.
        scale: ``(C,)``, floating.
        eps: $\epsilon \ge 0$.

    Returns:
        ``(*B, C)`` in the dtype of ``scale``.

    Raises:
        ValueError: ``x`` a scalar; ``scale`` not ``(C,)``; ``C = 0``; ``eps`` out of range.
        TypeError: non-floating arrays.
    """
    out_dtype = scale.dtype
    scale, x = _cast(scale, x)
    inverse = 1 / _root(jnp.mean(jnp.square(x), -1, keepdims=True), eps)
    return (x * inverse * scale).astype(out_dtype)


@_checks.checked(_backward_check("rms_norm_backward", batch=False, eps_default=1e-6))
def rms_norm_backward(x, scale, grad_output, *, eps=1e-6):
    r"""The hand-derived backward pass of :func:`rms_norm`: with $r = \sqrt{\frac{1}{D}
    \sum x^2 + \epsilon}$ and $h = \gamma \odot g$, per example,
    $\partial L/\partial x = \frac{1}{r}\left(h - x \frac{\sum h x}{D r^2}\right)$ and
    $\partial L/\partial \gamma = \sum_{\text{examples}} g\,x/r$.

    Args:
        x, scale, eps: as :func:`rms_norm`.
        grad_output: $g$, the shape of ``x``, floating.

    Returns:
        ``(grad_x, grad_scale)``: ``(*B, C)`` and ``(C,)`` in the dtype of ``scale``; equal
        to ``jax.vjp`` of :func:`rms_norm`.

    Raises:
        ValueError, TypeError: as :func:`rms_norm`; ``grad_output`` of another shape.
    """
    out_dtype = scale.dtype
    scale, x, g = _cast(scale, x, grad_output)
    r = _root(jnp.mean(jnp.square(x), -1, keepdims=True), eps)
    h = g * scale
    grad_x = (h - x * jnp.sum(h * x, -1, keepdims=True) / (x.shape[-1] * r**2)) / r
    return grad_x.astype(out_dtype), jnp.sum(g * x / r, axis=tuple(range(x.ndim - 1))).astype(
        out_dtype)


# ------------------------------------------------------------------ group norm
__all__ += ["group_norm"]


def _check_group_norm(x, scale, bias, num_groups, *, eps=1e-5) -> None:
    who = "group_norm"
    _check(who, x, scale, bias, batch=False, eps=eps)
    s = _checks.shape_of(x)
    if len(s) < 2:
        raise ValueError(f"{who}: x must have shape (N, ..., C) with a batch axis; got "
                         f"{_checks.fmt(s)}. A single example (..., C) is x[None].")
    _checks.require_divisor(who, "num_groups", num_groups, s[-1], "the channels C")
    if any(d == 0 for d in s[1:-1]):
        raise ValueError(f"{who}: x {_checks.fmt(s)} has an empty axis between the batch and "
                         "the channels; the statistics of a group are a mean over its values "
                         "and are undefined for none.")


@_checks.checked(_check_group_norm, static_argnames=("num_groups",))
def group_norm(x, scale, bias, num_groups, *, eps=1e-5):
    r"""Group normalisation (Wu and He), channels last: the $C$ channels of each example
    split into ``num_groups`` groups of $C/G$ consecutive channels, each group normalised
    with the mean $\mu$ and the biased variance $\sigma^2$ of its $M$ values (its channels
    at every position of the example: $M = H W C/G$ for an image ``(N, H, W, C)``),

    $$\beta + \frac{\gamma \left({x}_{j} - \frac{\sum_{i=0}^{M -
    1} {x}_{i}}{M}\right)}{\sqrt{\epsilon + \frac{\sum_{i=0}^{M -
    1} \left({x}_{i} - \frac{\sum_{i=0}^{M - 1} {x}_{i}}{M}\right)^{2}}{M}}}$$

    that is $y = \gamma_c (x - \mu)/\sqrt{\sigma^2 + \epsilon} + \beta_c$ with
    $\gamma_c$ = ``scale[c]`` and $\beta_c$ = ``bias[c]`` of the entry's channel $c$.
    ``torch.nn.GroupNorm(num_groups, C, eps)`` on the channels-first layout (its ``weight``
    our ``scale``) and flax's ``nn.GroupNorm(num_groups, epsilon=eps)`` (whose default
    ``epsilon`` is 1e-6). Each example is normalised on its own, so the output does not
    depend on the batch (a batch of one gives the same rows). One group is layer norm over
    all the non-batch axes (:func:`layer_norm` of an ``(N, C)`` input); ``num_groups = C``
    is instance norm (each channel of each example over its positions).

    Args:
        x: ``(N, ..., C)``, floating, at least 2-D: a batch axis, any positions, the
            channels last (an NCHW image transposes with ``x.transpose(0, 2, 3, 1)``).
        scale, bias: ``(C,)``, floating, one dtype.
        num_groups: $G$, a Python int >= 1 that divides $C$ (static under ``jit``).
        eps: $\epsilon \ge 0$, added to the variance; with ``eps = 0`` a constant group
            gives $\hat x = 0$ (the output is the bias), never NaN.

    Returns:
        ``(N, ..., C)`` in the dtype of ``scale`` (``x`` is cast to it; the statistics are
        taken in at least float32); an empty batch ``N = 0`` gives an empty result.

    Raises:
        ValueError: ``x`` of rank < 2; ``scale`` or ``bias`` not ``(C,)``; ``C = 0`` or an
            empty axis between the batch and the channels; ``num_groups`` < 1 or not a divisor
            of ``C``; ``eps`` negative or not finite.
        TypeError: non-floating arrays; a ``num_groups`` that is not an int.
    """
    out_dtype = scale.dtype
    scale, x, bias = _cast(scale, x, bias)
    per_group = (num_groups, x.shape[-1] // num_groups)
    positions = math.prod(x.shape[1:-1])
    grouped = x.reshape(x.shape[0], positions, *per_group)     # (N, positions, G, C/G)
    mean, var = _moments(grouped, (1, 3))
    a = scale.reshape(per_group) * (1 / _root(var, eps))       # gamma / sigma, per channel
    # (x - k) a + (beta - (mu - k) a) is (x - mu) a + beta for any k; with k = 0 where the
    # mean is small (_shift), the gradient's sums run over x itself, position by position,
    # instead of one strided sum over a group (the output does not depend on k: no gradient)
    shift = jax.lax.stop_gradient(_shift(mean, var))
    offset = bias.reshape(per_group) - (mean - shift) * a                 # (N, 1, G, C/G)
    return ((grouped - shift) * a + offset).reshape(x.shape).astype(out_dtype)
