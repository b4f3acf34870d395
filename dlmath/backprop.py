r"""The gradients that start backpropagation, written by hand, and the hand-written
``value_and_grad`` of an MLP.

A loss $L$ of the network's output $\hat Y$ brings its own gradient
$\partial L/\partial \hat Y$ (the ``grad_output`` of :func:`dlmath.layers.backward`); the
backward pass does the rest. Here are two such losses, each returned with its gradient, and
:func:`loss_and_grad`, which chains :func:`dlmath.layers.forward`, the loss and
:func:`dlmath.layers.backward` under one ``jax.jit``: no automatic differentiation anywhere.
Its signature ``(params, x, targets)`` is what :func:`dlmath.training.fit` takes as
``value_and_grad`` (``notebooks/04_backprop.ipynb`` trains with it).

Input rules (:mod:`dlmath._checks`): floating predictions and logits (complex and integer
refused); a mean over no element raises; class ids are integers of any width, concrete ids
outside ``[0, K)`` raise ``ValueError``, and under ``jit`` such an example's loss (hence
the mean) and its gradient row are NaN.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from dlmath import _checks
from dlmath.activations import log_softmax
from dlmath.layers import _backward, _check_x, _forward, activation_named

__all__ = ["mse_and_grad", "cross_entropy_and_grad", "loss_and_grad"]


def _check_mse(who: str, predictions, targets) -> None:
    _checks.require_floating(who, "predictions", predictions)
    _checks.require_real(who, "targets", targets)
    _checks.require_same_shape(who, "predictions", predictions, "targets", targets, "(*B,)")
    if 0 in _checks.shape_of(predictions):
        raise ValueError(
            f"{who}: predictions {_checks.fmt(_checks.shape_of(predictions))} has no element; "
            "the mean squared error is a mean over them and is undefined for none."
        )


def mse_and_grad(predictions, targets):
    r"""Mean squared error over all $M$ elements and its gradient, by hand.

    $L = \frac1M \sum_k (\hat y_k - y_k)^2$ (as :func:`dlmath.losses.mse`) and
    $\partial L / \partial \hat y_k = \frac2M (\hat y_k - y_k)$.

    Args:
        predictions: floating ``(*B,)``. targets: real, the same shape (never broadcast).

    Returns:
        ``(loss, grad)``: a scalar and an array shaped like ``predictions`` (JAX's type
        promotion of the two dtypes).

    Raises:
        ValueError: if the shapes differ, or there is no element ($M = 0$).
        TypeError: if ``predictions`` is not floating or ``targets`` is complex.
    """
    _check_mse("mse_and_grad", predictions, targets)
    return _mse_and_grad(predictions, targets)


@jax.jit
def _mse_and_grad(predictions, targets):
    r = predictions - targets
    return jnp.mean(r * r), 2.0 * r / r.size


def _check_ce(who: str, logits, labels, name: str = "labels"):
    _checks.require_floating(who, "logits", logits)
    _checks.require_ndim(who, "logits", logits, 2, "(N, K)")
    n, k = _checks.shape_of(logits)
    if k == 0:
        raise ValueError(f"{who}: logits must have K >= 1 classes; got shape (N, K) = "
                         f"{_checks.fmt((n, k))}.")
    ids = _checks.labels(who, name, labels, k, (n,), "(N,)",
                         f"{name} are the class ids of the rows of the logits (N, K).")
    if n == 0:
        raise ValueError(f"{who}: logits (N, K) = {_checks.fmt((n, k))} holds no example; the "
                         "cross-entropy is a mean over them and is undefined for none.")
    return ids


def cross_entropy_and_grad(logits, labels):
    r"""Softmax cross-entropy with integer labels, averaged over the batch, and its gradient.

    $L = -\frac1N \sum_n \log \mathrm{softmax}(z_n)_{c_n}$ (computed with
    :func:`dlmath.activations.log_softmax`, stable for any logit) and
    $\partial L / \partial z_{nk} = \frac1N (\mathrm{softmax}(z_n)_k - [k = c_n])$.

    Args:
        logits: floating ``(N, K)``, $N, K \ge 1$.
        labels: integer class ids ``(N,)`` in ``[0, K)``, of any integer width.

    Returns:
        ``(loss, grad)``: a scalar (the mean, reduced) and ``(N, K)``. Under ``jit`` an id
        out of range makes that row of the gradient and the loss NaN.

    Raises:
        ValueError: mis-shaped arguments; $N = 0$ or $K = 0$; concrete ids outside ``[0, K)``.
        TypeError: non-floating logits; non-integer labels.
    """
    ids = _check_ce("cross_entropy_and_grad", logits, labels)
    return _cross_entropy_and_grad(logits, ids)


@jax.jit
def _cross_entropy_and_grad(logits, labels):
    n, k = logits.shape
    valid = (labels >= 0) & (labels < k)
    logp = log_softmax(logits)
    onehot = jax.nn.one_hot(labels, k, dtype=logits.dtype)
    per_example = jnp.where(valid, -jnp.sum(onehot * logp, axis=-1), jnp.nan)
    grad = jnp.where(valid[:, None], jnp.exp(logp) - onehot, jnp.nan) / n
    return jnp.mean(per_example), grad.astype(logits.dtype)


_LOSSES = {"cross_entropy": _cross_entropy_and_grad, "mse": _mse_and_grad}


@functools.partial(jax.jit, static_argnames=("loss", "activation", "output_activation"))
def _loss_and_grad(params, x, targets, loss, activation, output_activation):
    cache = _forward(params, x, activation, output_activation)
    value, g_out = _LOSSES[loss](cache.activations[-1], targets)
    return value, _backward(params, cache, g_out.astype(x.dtype), activation,
                            output_activation)


def loss_and_grad(params, x, targets, *, loss: str = "cross_entropy", activation="relu",
                  output_activation="identity"):
    """Loss and gradient by hand: forward pass, the loss's own gradient, backward pass.

    The hand-written twin of ``jax.value_and_grad`` of the loss of ``layers.mlp`` (jitted),
    and a ``value_and_grad`` for :func:`dlmath.training.fit` with ``data=(x, targets)``
    (bind the keywords with ``functools.partial``).

    Args:
        params: list of layers (:func:`dlmath.layers.init_mlp`). x: floating ``(N, D_0)``,
            cast to the dtype of ``params``.
        targets: integer class ids ``(N,)`` for ``loss="cross_entropy"``
            (:func:`cross_entropy_and_grad` on the logits), or a real array of the output's
            shape ``(N, D_L)`` for ``loss="mse"`` (:func:`mse_and_grad`).
        loss: ``"cross_entropy"`` or ``"mse"``.
        activation, output_activation: as :func:`dlmath.layers.forward`.

    Returns:
        ``(loss, grads)`` with ``grads`` shaped like ``params``, in their dtype.

    Raises:
        ValueError: an unknown loss, and everything the forward pass and the loss raise.
        TypeError: what the forward pass and the loss raise.
    """
    who = "loss_and_grad"
    if loss not in _LOSSES:
        raise ValueError(f"{who}: loss must be one of {sorted(_LOSSES)}; got {loss!r}.")
    dims, dtype, x = _check_x(who, params, x)
    act = activation_named(who, "activation", activation)
    out_act = activation_named(who, "output_activation", output_activation)
    out_shape = (_checks.shape_of(x)[0], dims[-1][1])
    if loss == "cross_entropy":
        targets = _check_ce(who, jax.ShapeDtypeStruct(out_shape, dtype), targets, "targets")
    else:
        _check_mse(who, jax.ShapeDtypeStruct(out_shape, dtype), targets)
        (targets,) = _checks.cast_floats(dtype, targets)
    return _loss_and_grad(list(params), x, targets, loss, act, out_act)
