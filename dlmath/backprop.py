r"""The hand-written ``value_and_grad`` of an MLP, and the two mean losses that start its
backward pass.

A loss $L$ of the network's output $\hat Y$ brings its own gradient
$\partial L/\partial \hat Y$ (the ``grad_output`` of :func:`dlmath.layers.backward`); the
backward pass does the rest. The gradients are written beside their losses in
:mod:`dlmath.losses`; here are the two mean losses of a batch, each returned with its
gradient, and :func:`loss_and_grad`, which chains :func:`dlmath.layers.forward`, the loss
and :func:`dlmath.layers.backward` under one ``jax.jit``: no automatic differentiation
anywhere. Its signature ``(params, x, targets)`` is what :func:`dlmath.training.fit` takes
as ``value_and_grad`` (``notebooks/04_backprop.ipynb`` trains with it).

Input rules (:mod:`dlmath._checks`): floating predictions and logits (complex and integer
refused); a mean over no element raises; class ids are integers of any width, concrete ids
outside ``[0, K)`` raise ``ValueError``, and under ``jit`` such an example's loss (hence
the mean) and its gradient row are NaN.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dlmath import _checks, layers, losses
from dlmath.activations import activation_named

__all__ = ["mse_and_grad", "cross_entropy_and_grad", "loss_and_grad"]


@_checks.checked(lambda predictions, targets: _checks.predictions_and_targets(
    "mse_and_grad", predictions, targets))
def mse_and_grad(predictions, targets):
    r"""Mean squared error over all $M$ elements and its gradient, by hand.

    $L = \frac1M \sum_k (\hat y_k - y_k)^2$ (:func:`dlmath.losses.mse`) and
    $\partial L / \partial \hat y_k = \frac2M (\hat y_k - y_k)$
    (:func:`dlmath.losses.mse_gradient`).

    Args:
        predictions: floating ``(*B,)``. targets: real, the same shape (never broadcast).

    Returns:
        ``(loss, grad)``: a scalar and an array shaped like ``predictions`` (JAX's type
        promotion of the two dtypes).

    Raises:
        ValueError: if the shapes differ, or there is no element ($M = 0$).
        TypeError: if ``predictions`` is not floating or ``targets`` is complex.
    """
    return losses.mse.kernel(predictions, targets), losses.mse_gradient.kernel(predictions, targets)


def _check_ce(who: str, logits, labels, name: str = "labels") -> None:
    _checks.require_floating(who, "logits", logits)
    _checks.require_ndim(who, "logits", logits, 2, "(N, K)")
    _checks.logits_and_labels(who, logits, labels, name=name,
                              hint=f"{name} are the class ids of the rows of the logits (N, K).")
    _checks.require_nonempty(who, "logits", logits, 0, "(N, K)", "examples (N = 0)")


@_checks.checked(lambda logits, labels: _check_ce("cross_entropy_and_grad", logits, labels))
def cross_entropy_and_grad(logits, labels):
    r"""Softmax cross-entropy with integer labels, averaged over the batch, and its gradient.

    $L = -\frac1N \sum_n \log \mathrm{softmax}(z_n)_{c_n}$
    (:func:`dlmath.losses.softmax_cross_entropy_with_integer_labels`, stable for any logit)
    and $\partial L / \partial z_{nk} = \frac1N (\mathrm{softmax}(z_n)_k - [k = c_n])$
    (:func:`dlmath.losses.softmax_cross_entropy_with_integer_labels_gradient`).

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
    per_example = losses.softmax_cross_entropy_with_integer_labels.kernel(logits, labels)
    grad = losses.softmax_cross_entropy_with_integer_labels_gradient.kernel(logits, labels)
    return jnp.mean(per_example), grad / logits.shape[0]


_LOSSES = {"cross_entropy": cross_entropy_and_grad, "mse": mse_and_grad}


def _check_loss_and_grad(params, x, targets, *, loss="cross_entropy", activation="relu",
                         output_activation="identity") -> None:
    who = "loss_and_grad"
    if loss not in _LOSSES:
        raise ValueError(f"{who}: loss must be one of {sorted(_LOSSES)}; got {loss!r}.")
    dims, dtype = _checks.mlp_input(who, params, x)
    activation_named(who, "activation", activation)
    activation_named(who, "output_activation", output_activation)
    output = jax.ShapeDtypeStruct((_checks.shape_of(x)[0], dims[-1][1]), dtype)
    if loss == "cross_entropy":
        _check_ce(who, output, targets, "targets")
    else:
        _checks.predictions_and_targets(who, output, targets)


@_checks.checked(_check_loss_and_grad, static_argnames=("loss", "activation",
                                                        "output_activation"))
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
    dtype = params[0]["w"].dtype
    if jnp.issubdtype(targets.dtype, jnp.floating):    # the parameters' dtype (_checks)
        targets = targets.astype(dtype)
    kw = {"activation": activation, "output_activation": output_activation}
    cache = layers.forward.kernel(params, x, **kw)
    value, g_out = _LOSSES[loss].kernel(cache.activations[-1], targets)
    return value, layers.backward.kernel(params, cache, g_out.astype(dtype), **kw)
