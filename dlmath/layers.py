r"""Dense layers and multilayer perceptrons, with backpropagation written by hand.

Conventions (as flax's ``Dense``): a batch is a matrix whose **rows** are examples,
``x: (N, D_in)``; a layer's kernel is ``w: (D_in, D_out)`` and its bias ``b: (D_out,)``, so
a layer computes ``z = x @ w + b``. The chapter's math (``notebooks/04_backprop.ipynb``)
writes one example as a column, $z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$ with $W^{(l)}$ of
shape $(n_l, n_{l-1})$: **the code's ``w`` of layer l is the transpose of the math's**
$W^{(l)}$, and the code's row ``delta[n]`` is the math's column $\delta^{(l)}$ of example
``n``. Everything else (the recursion, the gradients) is the same equation transposed.

An MLP's parameters are a list of layers ``[{"w": (D_0, D_1), "b": (D_1,)}, ...]`` (a JAX
pytree). Hidden layers apply ``activation``, the last layer ``output_activation``
(``"identity"`` by default: the network returns logits).

:func:`backward` uses no automatic differentiation: it is the backward recursion, and the
tests and the chapter check it against ``jax.grad`` and ``jax.vjp`` in float64.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from dlmath import _checks
from dlmath.activations import log_softmax, relu, sigmoid, tanh

__all__ = [
    "ACTIVATIONS",
    "Cache",
    "dense",
    "init_variance",
    "init_mlp",
    "forward",
    "mlp",
    "backward",
    "mse_and_grad",
    "cross_entropy_and_grad",
    "loss_and_grad",
    "sgd_step",
    "train_step",
    "accuracy",
    "fit",
    "log_sigmoid_jacobian_bound",
]


# ------------------------------------------------------------------ activations
def _sigmoid_d(z, a):
    return a * (1.0 - a)          # sigma'(z) = sigma(z) (1 - sigma(z))


def _tanh_d(z, a):
    return 1.0 - a * a            # tanh'(z) = 1 - tanh(z)^2


def _relu_d(z, a):
    return (z > 0).astype(z.dtype)  # 0 at the kink z = 0, as jax.nn.relu's gradient


def _identity_d(z, a):
    return jnp.ones_like(z)


#: name -> (function, derivative as a function of (z, a = function(z))); the functions are
#: :mod:`dlmath.activations`' (the semantics of ``jax.nn``, ReLU's gradient 0 at the kink).
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigmoid, _sigmoid_d),
    "tanh": (tanh, _tanh_d),
    "relu": (relu, _relu_d),
    "identity": (lambda z: z, _identity_d),
}

_SCHEMES = ("lecun", "he", "xavier")


def _check_activation(who: str, name: str, value) -> None:
    if value not in ACTIVATIONS:
        raise ValueError(
            f"{who}: {name} must be one of {sorted(ACTIVATIONS)}; got {value!r}."
        )


def _check_params(who: str, params) -> list[tuple[int, int]]:
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise TypeError(
            f"{who}: params must be a non-empty list of layers {{'w': (D_in, D_out), "
            f"'b': (D_out,)}}; got {type(params).__name__}. Build one with init_mlp."
        )
    dims = []
    for k, layer in enumerate(params):
        if not isinstance(layer, dict) or set(layer) != {"w", "b"}:
            raise TypeError(f"{who}: params[{k}] must be a dict with keys 'w' and 'b'.")
        ws, bs = _checks.shape_of(layer["w"]), _checks.shape_of(layer["b"])
        if len(ws) != 2 or bs != ws[1:]:
            raise ValueError(
                f"{who}: params[{k}] must have w (D_in, D_out) and b (D_out,); got w "
                f"{_checks.fmt(ws)}, b {_checks.fmt(bs)}."
            )
        if dims and dims[-1][1] != ws[0]:
            raise ValueError(
                f"{who}: layer {k} takes D_in = {ws[0]} inputs but layer {k - 1} gives "
                f"D_out = {dims[-1][1]}; the kernels must chain (D_0, D_1), (D_1, D_2), ..."
            )
        dims.append(ws)
    return dims


def _check_x(who: str, params, x) -> None:
    dims = _check_params(who, params)
    _checks.require_floating(who, "x", x)
    _checks.require_ndim(who, "x", x, 2, "(N, D_in)",
                         "Put one example per row; a single example is x[None, :].")
    if _checks.shape_of(x)[1] != dims[0][0]:
        raise ValueError(
            f"{who}: x must have shape (N, D_in) with D_in = {dims[0][0]} (the first kernel's "
            f"rows); got {_checks.fmt(_checks.shape_of(x))}."
        )


# ------------------------------------------------------------------ one layer, init
def dense(params: dict, x):
    r"""A dense (fully connected) layer on a batch of row vectors.

    $$X W + 1 b^{T}$$

    with $1$ the column of $N$ ones (the bias is added to every row). This is the math's
    $W^{(l)} a + b^{(l)}$ for each example transposed: ``w`` is $W^{(l)T}$.

    Args:
        params: ``{"w": (D_in, D_out), "b": (D_out,)}``.
        x: floating array ``(N, D_in)``.

    Returns:
        ``(N, D_out)``, the pre-activations $Z$.

    Raises:
        TypeError: if ``params`` is not such a dict, or ``x`` is not floating.
        ValueError: if the shapes do not fit.
    """
    _check_x("dense", [params], x)
    return x @ params["w"] + params["b"]


def init_variance(scheme: str, n_in: int, n_out: int) -> float:
    r"""The weight variance that keeps signals at a constant scale through the layers.

    LeCun (``"lecun"``, forward pass, activations that are linear near 0 such as tanh):

    $$\frac{1}{n_{in}}$$

    He (``"he"``, ReLU halves the second moment):

    $$\frac{2}{n_{in}}$$

    Xavier/Glorot (``"xavier"``, the compromise between forward, $1/n_{in}$, and backward,
    $1/n_{out}$):

    $$\frac{2}{n_{in} + n_{out}}$$

    Derived from $\mathrm{Var}(z) = n_{in}\,\mathrm{Var}(W)\,\mathbb E[a^2]$ in
    ``notebooks/04_backprop.ipynb``.

    Args:
        scheme: ``"lecun"``, ``"he"`` or ``"xavier"``.
        n_in, n_out: fan-in $D_{in}$ and fan-out $D_{out}$ of the layer, ints >= 1.

    Returns:
        The variance, a Python float.

    Raises:
        ValueError: for an unknown scheme or a fan below 1.
    """
    if scheme not in _SCHEMES:
        raise ValueError(f"init_variance: scheme must be one of {_SCHEMES}; got {scheme!r}.")
    for name, n in (("n_in", n_in), ("n_out", n_out)):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"init_variance: {name} must be an int >= 1; got {n!r}.")
    return {"lecun": 1.0 / n_in, "he": 2.0 / n_in, "xavier": 2.0 / (n_in + n_out)}[scheme]


def init_mlp(key, sizes, *, scheme: str = "he", distribution: str = "normal",
             gain: float = 1.0, dtype=jnp.float32) -> list[dict]:
    r"""Random parameters of an MLP with layer widths ``sizes = (D_0, D_1, ..., D_L)``.

    Kernels are drawn with mean 0 and variance ``gain**2 * init_variance(scheme, D_in,
    D_out)``, from a normal, or from $\mathcal U[-r, r]$ with $r = \sqrt{3\,\mathrm{Var}}$
    (a uniform on $[-r, r]$ has variance $r^2/3$); biases are 0.

    Args:
        key: a ``jax.random`` key (one sub-key per layer is split from it).
        sizes: at least two ints >= 1.
        scheme: ``"lecun"``, ``"he"`` or ``"xavier"`` (see :func:`init_variance`).
        distribution: ``"normal"`` or ``"uniform"``.
        gain: multiplies the standard deviation (``gain != 1`` shows a badly scaled init).
        dtype: floating dtype of the arrays.

    Returns:
        ``[{"w": (D_0, D_1), "b": (D_1,)}, ..., {"w": (D_{L-1}, D_L), "b": (D_L,)}]``.

    Raises:
        ValueError: for fewer than two sizes, a size below 1, an unknown scheme or
            distribution, or ``gain < 0``.
    """
    sizes = tuple(sizes)
    if len(sizes) < 2 or not all(isinstance(n, int) and n >= 1 for n in sizes):
        raise ValueError(
            f"init_mlp: sizes must be at least two ints >= 1 (D_0, ..., D_L); got {sizes!r}."
        )
    if distribution not in ("normal", "uniform"):
        raise ValueError(
            f"init_mlp: distribution must be 'normal' or 'uniform'; got {distribution!r}."
        )
    if not gain >= 0:
        raise ValueError(f"init_mlp: gain must be >= 0; got {gain}.")
    params = []
    for k, (n_in, n_out) in zip(jax.random.split(key, len(sizes) - 1),
                                zip(sizes[:-1], sizes[1:], strict=True), strict=True):
        std = gain * init_variance(scheme, n_in, n_out) ** 0.5
        if distribution == "normal":
            w = std * jax.random.normal(k, (n_in, n_out), dtype)
        else:
            r = 3.0**0.5 * std
            w = jax.random.uniform(k, (n_in, n_out), dtype, -r, r)
        params.append({"w": w, "b": jnp.zeros((n_out,), dtype)})
    return params


# ------------------------------------------------------------------ forward, backward
class Cache(NamedTuple):
    """What the forward pass keeps for the backward pass.

    ``zs[l]``: pre-activations of layer ``l + 1``, ``(N, D_{l+1})``; ``activations[0]`` is the
    input ``x`` and ``activations[l + 1]`` the output of layer ``l + 1``, so
    ``activations[-1]`` is the network's output.
    """

    zs: list
    activations: list


@functools.partial(jax.jit, static_argnames=("activation", "output_activation"))
def _forward(params, x, activation, output_activation):
    zs, acts = [], [x]
    for k, layer in enumerate(params):
        z = acts[-1] @ layer["w"] + layer["b"]
        name = output_activation if k == len(params) - 1 else activation
        zs.append(z)
        acts.append(ACTIVATIONS[name][0](z))
    return Cache(zs, acts)


def forward(params, x, *, activation: str = "relu", output_activation: str = "identity"):
    r"""The forward pass, keeping every pre-activation and activation for :func:`backward`.

    Row form of $z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$, $a^{(l)} = \sigma(z^{(l)})$:
    ``Z = A @ w + b``, ``A' = activation(Z)``; the last layer uses ``output_activation``.

    Args:
        params: list of layers (see :func:`init_mlp`).
        x: floating ``(N, D_0)``.
        activation, output_activation: names in :data:`ACTIVATIONS`.

    Returns:
        A :class:`Cache` ``(zs, activations)``.

    Raises:
        TypeError, ValueError: for malformed ``params``, a non-floating or mis-shaped ``x``,
            or an unknown activation name.
    """
    _check_x("forward", params, x)
    _check_activation("forward", "activation", activation)
    _check_activation("forward", "output_activation", output_activation)
    return _forward(list(params), x, activation, output_activation)


def mlp(params, x, *, activation: str = "relu", output_activation: str = "identity"):
    r"""The network's output ``(N, D_L)``: ``forward(...).activations[-1]``.

    Row form of $a^{(l)} = \sigma(W^{(l)} a^{(l-1)} + b^{(l)})$ for $l = 1, \dots, L$
    (``notebooks/04_backprop.ipynb``).

    Args:
        params: list of layers (see :func:`init_mlp`). x: floating ``(N, D_0)``.
        activation, output_activation: names in :data:`ACTIVATIONS`.

    Returns:
        ``(N, D_L)``, the last layer's activations (logits with ``"identity"``).

    Raises:
        TypeError, ValueError: what :func:`forward` raises.
    """
    return forward(params, x, activation=activation,
                   output_activation=output_activation).activations[-1]


@functools.partial(jax.jit, static_argnames=("activation", "output_activation"))
def _backward(params, cache, grad_output, activation, output_activation):
    n_layers = len(params)
    d_out = ACTIVATIONS[output_activation][1]
    delta = grad_output * d_out(cache.zs[-1], cache.activations[-1])      # dL/dZ^(L)
    grads = [None] * n_layers
    for k in range(n_layers - 1, -1, -1):
        a_prev = cache.activations[k]
        grads[k] = {"w": a_prev.T @ delta, "b": jnp.sum(delta, axis=0)}  # A^T Delta, Delta^T 1
        if k > 0:
            d_act = ACTIVATIONS[activation][1]
            delta = (delta @ params[k]["w"].T) * d_act(cache.zs[k - 1], a_prev)
    return grads


def backward(params, cache: Cache, grad_output, *, activation: str = "relu",
             output_activation: str = "identity"):
    r"""Backpropagation by hand (no autodiff): the gradient of a loss with respect to every
    kernel and bias, given $\partial L / \partial a^{(L)}$.

    For each layer, from the last to the first, with $\Delta$ the ``(N, D_out)`` rows
    $\delta^{(l)T} = (\partial L / \partial z^{(l)})^T$ of the examples, $W$ the code's
    kernel ``(D_in, D_out)``, $A$ the layer's inputs ``(N, D_in)`` and $S = \sigma'(Z)$ of
    the layer below ``(N, D_in)``: the error of the layer below is

    $$\left(\Delta W^{T}\right) \circ S$$

    the kernel's gradient is

    $$A^{T} \Delta$$

    and the bias's gradient (with $1$ the column of $N$ ones, a sum over the examples) is

    $$\Delta^{T} 1$$

    These are the transposes of the chapter's column-vector results
    $\delta^{(l)} = (W^{(l+1)T}\delta^{(l+1)}) \circ \sigma'(z^{(l)})$,
    $\partial L/\partial W^{(l)} = \delta^{(l)} a^{(l-1)T}$, $\partial L/\partial b^{(l)} =
    \delta^{(l)}$, summed over the examples (``notebooks/04_backprop.ipynb`` proves them).
    The last layer starts the recursion with
    $\delta^{(L)} = \nabla_{a^{(L)}} L \circ \sigma_{out}'(z^{(L)})$.

    Args:
        params: list of layers (see :func:`init_mlp`).
        cache: the :class:`Cache` of :func:`forward` on the same ``params``.
        grad_output: $\partial L / \partial a^{(L)}$, the shape of the output ``(N, D_L)``
            (for a loss averaged over examples it already carries the $1/N$).
        activation, output_activation: as given to :func:`forward`.

    Returns:
        A list shaped like ``params``: ``[{"w": dL/dw, "b": dL/db}, ...]``.

    Raises:
        ValueError: if ``grad_output`` does not have the output's shape, or the cache does
            not belong to ``params``; an unknown activation name.
    """
    dims = _check_params("backward", params)
    _check_activation("backward", "activation", activation)
    _check_activation("backward", "output_activation", output_activation)
    if not isinstance(cache, Cache) or len(cache.zs) != len(dims):
        raise ValueError(
            f"backward: cache must be the Cache that forward returned for these {len(dims)} "
            "layers."
        )
    out = cache.activations[-1]
    _checks.require_same_shape(
        "backward", "the network's output", out, "grad_output", grad_output, "(N, D_L)",
        "grad_output is dL/d(output), one row per example.",
    )
    return _backward(list(params), cache, grad_output, activation, output_activation)


# ------------------------------------------------------------------ losses with gradients
def mse_and_grad(predictions, targets):
    r"""Mean squared error over all $M$ elements and its gradient, by hand.

    $L = \frac1M \sum_k (\hat y_k - y_k)^2$ (as :func:`dlmath.losses.mse`) and
    $\partial L / \partial \hat y_k = \frac2M (\hat y_k - y_k)$.

    Args:
        predictions: floating ``(*B,)``. targets: the same shape (never broadcast).

    Returns:
        ``(loss, grad)``: a scalar and an array shaped like ``predictions``.

    Raises:
        ValueError: if the shapes differ. TypeError: if ``predictions`` is not floating.
    """
    _checks.require_floating("mse_and_grad", "predictions", predictions)
    _checks.require_same_shape("mse_and_grad", "predictions", predictions, "targets", targets,
                               "(*B,)")
    r = predictions - targets
    return jnp.mean(r * r), 2.0 * r / r.size


def _check_labels(who: str, logits_shape, labels) -> None:
    if not jnp.issubdtype(_checks.dtype_of(labels, who, "labels"), jnp.integer):
        raise TypeError(
            f"{who}: labels must be integer class ids (N,); got dtype "
            f"{_checks.dtype_of(labels, who, "labels")}. For one-hot targets take argmax(axis=-1)."
        )
    n = logits_shape[0]
    if _checks.shape_of(labels) != (n,):
        raise ValueError(
            f"{who}: labels must have shape (N,) with N = {n} (the rows of the logits "
            f"(N, K)); got labels {_checks.fmt(_checks.shape_of(labels))}."
        )


def cross_entropy_and_grad(logits, labels):
    r"""Softmax cross-entropy with integer labels, averaged over the batch, and its gradient.

    $L = -\frac1N \sum_n \log \mathrm{softmax}(x_n)_{y_n}$ (computed with
    :func:`dlmath.activations.log_softmax`, stable for any logit) and
    $\partial L / \partial x_{nk} = \frac1N (\mathrm{softmax}(x_n)_k - [k = y_n])$.

    Args:
        logits: floating ``(N, K)``. labels: integer class ids ``(N,)`` in ``[0, K)``.

    Returns:
        ``(loss, grad)``: a scalar (the mean, reduced) and ``(N, K)``.

    Raises:
        ValueError: for mis-shaped arguments. TypeError: for non-floating logits or
            non-integer labels.
    """
    _checks.require_floating("cross_entropy_and_grad", "logits", logits)
    _checks.require_ndim("cross_entropy_and_grad", "logits", logits, 2, "(N, K)")
    _check_labels("cross_entropy_and_grad", _checks.shape_of(logits), labels)
    return _cross_entropy_and_grad(logits, labels)


@jax.jit
def _cross_entropy_and_grad(logits, labels):
    n, k = logits.shape
    logp = log_softmax(logits)
    onehot = jax.nn.one_hot(labels, k, dtype=logits.dtype)
    loss = -jnp.sum(onehot * logp) / n
    return loss, (jnp.exp(logp) - onehot) / n


_LOSSES = {"cross_entropy": cross_entropy_and_grad, "mse": mse_and_grad}


@functools.partial(jax.jit, static_argnames=("loss", "activation", "output_activation"))
def _loss_and_grad(params, x, targets, loss, activation, output_activation):
    cache = _forward(params, x, activation, output_activation)
    value, g_out = _LOSSES[loss](cache.activations[-1], targets)
    return value, _backward(params, cache, g_out, activation, output_activation)


def loss_and_grad(params, x, targets, *, loss: str = "cross_entropy",
                  activation: str = "relu", output_activation: str = "identity"):
    """Loss and gradient by hand: :func:`forward`, the loss's own gradient, :func:`backward`.

    The hand-written twin of ``jax.value_and_grad`` (jitted).

    Args:
        params: list of layers. x: ``(N, D_0)``.
        targets: integer labels ``(N,)`` for ``loss="cross_entropy"``, or an array of the
            output's shape ``(N, D_L)`` for ``loss="mse"``.
        loss: ``"cross_entropy"`` (:func:`cross_entropy_and_grad`) or ``"mse"``
            (:func:`mse_and_grad`).
        activation, output_activation: as :func:`forward`.

    Returns:
        ``(loss, grads)`` with ``grads`` shaped like ``params``.

    Raises:
        ValueError: for an unknown loss, and everything :func:`forward` and the loss raise.
    """
    if loss not in _LOSSES:
        raise ValueError(f"loss_and_grad: loss must be one of {sorted(_LOSSES)}; got {loss!r}.")
    _check_x("loss_and_grad", params, x)
    _check_activation("loss_and_grad", "activation", activation)
    _check_activation("loss_and_grad", "output_activation", output_activation)
    out_shape = (_checks.shape_of(x)[0], _checks.shape_of(params[-1]["w"])[1])
    if loss == "cross_entropy":
        _check_labels("loss_and_grad", out_shape, targets)
    elif _checks.shape_of(targets) != out_shape:
        raise ValueError(
            f"loss_and_grad: for loss='mse' targets must have the output's shape (N, D_L) = "
            f"{_checks.fmt(out_shape)}; got {_checks.fmt(_checks.shape_of(targets))}."
        )
    return _loss_and_grad(list(params), x, targets, loss, activation, output_activation)


# ------------------------------------------------------------------ training
def sgd_step(params, grads, learning_rate, velocity=None, momentum: float = 0.0):
    r"""One (heavy-ball) SGD step: $v \leftarrow \mu v + g$, $\theta \leftarrow \theta - \eta v$.

    With ``momentum = 0`` it is plain SGD, $\theta \leftarrow \theta - \eta g$ (the
    convention of ``optax.sgd(learning_rate, momentum)``; chapter 05 treats optimisers).

    Args:
        params, grads: pytrees of one structure. learning_rate: $\eta$.
        velocity: the buffer $v$, shaped like ``params``, or ``None`` for zeros.
        momentum: $\mu$, a float.

    Returns:
        ``(params, velocity)``, both shaped like ``params``.

    Raises:
        ValueError: if ``grads`` (or ``velocity``) is not shaped like ``params``.
    """
    p_struct = jax.tree_util.tree_structure(params)
    for name, tree in (("grads", grads), ("velocity", velocity)):
        if tree is None:
            continue
        shapes = [_checks.shape_of(t) for t in jax.tree_util.tree_leaves(tree)]
        if (jax.tree_util.tree_structure(tree) != p_struct or
                shapes != [_checks.shape_of(t) for t in jax.tree_util.tree_leaves(params)]):
            raise ValueError(
                f"sgd_step: {name} must be a pytree shaped like params (one array per "
                f"parameter); got {jax.tree_util.tree_structure(tree)} with shapes {shapes}."
            )
    if velocity is None:
        velocity = jax.tree_util.tree_map(jnp.zeros_like, params)
    velocity = jax.tree_util.tree_map(lambda v, g: momentum * v + g, velocity, grads)
    params = jax.tree_util.tree_map(lambda p, v: p - learning_rate * v, params, velocity)
    return params, velocity


@functools.partial(jax.jit, static_argnames=("activation",))
def _train_step(params, velocity, x, labels, learning_rate, momentum, weight_decay, activation):
    value, grads = _loss_and_grad(params, x, labels, "cross_entropy", activation, "identity")
    grads = [{"w": g["w"] + weight_decay * p["w"], "b": g["b"]}
             for g, p in zip(grads, params, strict=True)]
    params, velocity = sgd_step(params, grads, learning_rate, velocity, momentum)
    return params, velocity, value


def train_step(params, velocity, x, labels, learning_rate, momentum=0.0, weight_decay=0.0,
               activation="relu"):
    r"""One jitted training step of a classifier: hand-written gradient of the softmax
    cross-entropy (:func:`loss_and_grad`) plus, for ``weight_decay`` $\lambda > 0$, the
    gradient $\lambda w$ of the penalty $\frac\lambda2 \sum_l \|w_l\|^2$ on the kernels
    (not the biases), then :func:`sgd_step`.

    Args:
        params: list of layers. velocity: the momentum buffer, shaped like ``params``.
        x: ``(N, D_0)``. labels: integer class ids ``(N,)``.
        learning_rate, momentum: of :func:`sgd_step`. weight_decay: $\lambda \ge 0$.
        activation: of the hidden layers (the last layer gives logits).

    Returns:
        ``(params, velocity, loss)`` (the cross-entropy before the step, without the penalty).

    Raises:
        TypeError, ValueError: what :func:`forward` raises, and for mis-shaped or
            non-integer labels.
    """
    _check_x("train_step", params, x)
    _check_activation("train_step", "activation", activation)
    _check_labels("train_step", (_checks.shape_of(x)[0],), labels)
    return _train_step(list(params), velocity, x, labels, learning_rate, momentum,
                       weight_decay, activation)


def accuracy(params, x, labels, *, activation: str = "relu"):
    """Share of rows whose largest logit is the label, a scalar in [0, 1] (reduced).

    Args:
        params: list of layers. x: floating ``(N, D_0)``. labels: integer class ids ``(N,)``.
        activation: of the hidden layers (the last layer gives logits).

    Raises:
        TypeError, ValueError: what :func:`forward` raises, and for mis-shaped or
            non-integer labels.
    """
    logits = mlp(params, x, activation=activation)
    _check_labels("accuracy", _checks.shape_of(logits), labels)
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)


@functools.partial(jax.jit, static_argnames=("batch_size", "activation"))
def _epoch(params, velocity, key, x, y, learning_rate, momentum, weight_decay, batch_size,
           activation):
    n_batches = x.shape[0] // batch_size
    order = jax.random.permutation(key, x.shape[0])[: n_batches * batch_size]
    batches = order.reshape(n_batches, batch_size)

    def body(carry, idx):
        p, v = carry
        p, v, value = _train_step(p, v, x[idx], y[idx], learning_rate, momentum, weight_decay,
                                  activation)
        return (p, v), value

    (params, velocity), losses = jax.lax.scan(body, (params, velocity), batches)
    return params, velocity, jnp.mean(losses)


def fit(key, params, x, y, *, epochs: int, batch_size: int, learning_rate: float,
        momentum: float = 0.0, weight_decay: float = 0.0, activation: str = "relu",
        x_test=None, y_test=None,
        callback: Callable | None = None):
    """Train a classifier with mini-batch SGD (hand-written backprop), one jitted scan per epoch.

    Each epoch shuffles the training set with a key split from ``key`` and drops the last
    incomplete batch.

    Args:
        key: a ``jax.random`` key for the shuffles.
        params: the initial parameters. x: ``(N, D_0)``. y: integer labels ``(N,)``.
        epochs, batch_size: ints >= 1 (``batch_size <= N``).
        learning_rate, momentum: of :func:`sgd_step`; weight_decay: of :func:`train_step`.
        activation: of the hidden layers (the output gives logits).
        x_test, y_test: optional held-out set, scored after every epoch.
        callback: optional ``callback(epoch, history)`` after every epoch (a progress bar).

    Returns:
        ``(params, history)``; ``history`` has lists ``"loss"`` (mean training loss of the
        epoch), ``"train_accuracy"`` and, with a test set, ``"test_accuracy"``.

    Raises:
        ValueError: for ``epochs < 1``, ``batch_size`` outside ``[1, N]``, only one of
            ``x_test`` and ``y_test``, and what :func:`forward` raises (also for ``x_test``).
    """
    _check_x("fit", params, x)
    n = _checks.shape_of(x)[0]
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be an int >= 1; got {epochs!r}.")
    if not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise ValueError(f"fit: batch_size must be an int in [1, N = {n}]; got {batch_size!r}.")
    _check_activation("fit", "activation", activation)
    _check_labels("fit", (n,), y)
    if (x_test is None) != (y_test is None):
        raise ValueError("fit: give both x_test and y_test, or neither.")
    if x_test is not None:
        _check_x("fit", params, x_test)
        _check_labels("fit", (_checks.shape_of(x_test)[0],), y_test)
    params = list(params)
    velocity = jax.tree_util.tree_map(jnp.zeros_like, params)
    history = {"loss": [], "train_accuracy": []}
    if x_test is not None:
        history["test_accuracy"] = []
    for epoch, k in enumerate(jax.random.split(key, epochs)):
        params, velocity, loss = _epoch(params, velocity, k, x, y, learning_rate, momentum,
                                        weight_decay, batch_size, activation)
        history["loss"].append(float(loss))
        history["train_accuracy"].append(float(accuracy(params, x, y, activation=activation)))
        if x_test is not None:
            history["test_accuracy"].append(
                float(accuracy(params, x_test, y_test, activation=activation)))
        if callback is not None:
            callback(epoch, history)
    return params, history


# ------------------------------------------------------------------ vanishing gradients
def log_sigmoid_jacobian_bound(params):
    r"""Natural log of the bound on $\|\partial a^{(L)} / \partial a^{(0)}\|_2$ through $L$
    sigmoid layers, $(1/4)^L \prod_l \|W^{(l)}\|_2$:

    $$- L \log{\left(4 \right)} + \sum_{l=1}^{L} \log{\left({s}_{l} \right)}$$

    with $s_l = \|W^{(l)}\|_2$ the spectral norm (largest singular value; the code's
    transposed kernel has the same). Because $\max \sigma' = 1/4$, every layer's Jacobian
    $\mathrm{diag}(\sigma'(z^{(l)}))\,W^{(l)}$ has norm at most $s_l/4$, and the norm of
    the product of the layers' Jacobians is at most the product of their norms.
    ``notebooks/04_backprop.ipynb`` proves $\max \sigma' = 1/4$ and this log form (for
    every $L$) in SymPy; the two norm inequalities are standard linear algebra, argued there
    in prose and checked numerically. In logarithms so that deep networks do not underflow.

    Args:
        params: list of layers (biases do not enter the bound).

    Returns:
        A scalar.

    Raises:
        TypeError, ValueError: for malformed ``params``.
    """
    _check_params("log_sigmoid_jacobian_bound", params)
    norms = jnp.stack([jnp.linalg.norm(layer["w"], 2) for layer in params])
    return -len(params) * jnp.log(4.0) + jnp.sum(jnp.log(norms))
