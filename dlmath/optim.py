r"""Optimizers as pure ``(init, update)`` function pairs on any pytree, optax-compatible.

Each factory (:func:`sgd`, :func:`rmsprop`, :func:`adam`, :func:`adamw`) returns an
:class:`Optimizer` whose ``init(params)`` builds the state (a ``NamedTuple`` of pytrees) and
whose ``update(grads, state, params=None)`` returns ``(updates, new_state)``; the updates
already carry the minus sign and the learning rate, so a step is
``params = apply_updates(params, updates)``, i.e. $\theta_{t+1} = \theta_t + u_t$. Both
functions are pure and jit-able (``jax.jit(opt.update)``); the hyper-parameters are Python
numbers fixed when the optimizer is built.

Argument names, defaults and the arithmetic follow optax 0.2 (checked against its source);
the tests compare 100 steps of every optimizer and option with optax. Where libraries
differ (the place of $\epsilon$ in RMSProp, Adam's $\epsilon$ vs $\bar\epsilon$, AdamW's
decay times the learning rate), each docstring says so. Not supported (use optax for
them): learning-rate and weight-decay *schedules* (callables), ``accumulator_dtype`` and
``mu_dtype`` (the state has the dtype of the parameters).

Derived and verified in ``notebooks/05_optimizers.ipynb``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from dlmath import _checks

__all__ = [
    "Optimizer",
    "SgdState",
    "RmspropState",
    "AdamState",
    "sgd",
    "rmsprop",
    "adam",
    "adamw",
    "apply_updates",
    "trajectory",
]


class Optimizer(NamedTuple):
    """A pair of pure functions, as ``optax.GradientTransformation``.

    ``init(params) -> state``; ``update(grads, state, params=None) -> (updates, state)``.
    """

    init: Callable
    update: Callable


class SgdState(NamedTuple):
    """State of :func:`sgd`: the momentum buffer $m_t$ (``None`` without momentum)."""

    trace: Any


class RmspropState(NamedTuple):
    """State of :func:`rmsprop`.

    ``count``: steps taken (int32 scalar); ``nu``: the moving average of $g^2$; ``mu``: the
    moving average of $g$ (``None`` unless ``centered``); ``trace``: the momentum buffer
    (``None`` unless ``momentum``).
    """

    count: Any
    nu: Any
    mu: Any
    trace: Any


class AdamState(NamedTuple):
    """State of :func:`adam` and :func:`adamw`: ``count`` (int32 scalar, steps taken), the
    moving averages ``mu`` $= m_t$ of $g$ and ``nu`` $= v_t$ of $g^2$ (as optax)."""

    count: Any
    mu: Any
    nu: Any


# ----------------------------------------------------------------------------- checks


def _number(who: str, name: str, value, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if callable(value):
        raise TypeError(
            f"{who}: {name} must be a number; got a callable. Schedules are not supported by "
            "dlmath.optim; use optax (optax.adam(optax.cosine_decay_schedule(...))) for them."
        )
    if isinstance(value, bool) or not isinstance(value, (int, float, jax.Array)) and not (
        hasattr(value, "dtype") and hasattr(value, "shape")
    ):
        raise TypeError(f"{who}: {name} must be a real number; got {type(value).__name__}.")
    if _checks.shape_of(value) != ():
        raise ValueError(
            f"{who}: {name} must be a scalar; got shape {_checks.fmt(_checks.shape_of(value))}."
        )


def _concrete(value) -> float | None:
    """The float value, or ``None`` when ``value`` is traced (then no range check)."""
    if isinstance(value, jax.core.Tracer):
        return None
    return float(value)


def _check_learning_rate(who: str, learning_rate) -> None:
    _number(who, "learning_rate", learning_rate)
    lr = _concrete(learning_rate)
    if lr is not None and not (lr > 0 and math.isfinite(lr)):
        raise ValueError(
            f"{who}: learning_rate must be a finite number > 0; got {learning_rate!r}. The "
            "update already carries the minus sign (u = -learning_rate * ...): do not negate it."
        )


def _check_range(who: str, name: str, value, lo: float, hi: float | None, hint: str = ""):
    """``lo <= value < hi`` (``hi=None``: no upper bound, but finite)."""
    _number(who, name, value)
    x = _concrete(value)
    if x is None:
        return
    ok = math.isfinite(x) and x >= lo and (hi is None or x < hi)
    if not ok:
        interval = f"[{lo}, {hi})" if hi is not None else f"[{lo}, inf)"
        raise ValueError(f"{who}: {name} must lie in {interval}; got {value!r}." +
                         (f" {hint}" if hint else ""))


def _check_params(who: str, name: str, tree) -> None:
    leaves = jax.tree_util.tree_leaves(tree)
    for leaf in leaves:
        _checks.require_floating(
            who, f"every leaf of {name}", leaf,
            "Optimizers act on floating-point parameters; convert with jnp.asarray(x, "
            "jnp.float32).")


def _check_like(who: str, name: str, tree, ref_name: str, ref) -> None:
    """``tree`` must have the structure and leaf shapes of ``ref``."""
    s, r = jax.tree_util.tree_structure(tree), jax.tree_util.tree_structure(ref)
    if s != r:
        raise ValueError(
            f"{who}: {name} must have the pytree structure of {ref_name}; got {name} {s}, "
            f"{ref_name} {r}. Pass the gradients of the same params that init() received."
        )
    for k, (a, b) in enumerate(zip(jax.tree_util.tree_leaves(tree),
                                   jax.tree_util.tree_leaves(ref), strict=True)):
        sa, sb = _checks.shape_of(a), _checks.shape_of(b)
        if sa != sb:
            raise ValueError(
                f"{who}: leaf {k} of {name} must have the shape of leaf {k} of {ref_name} "
                f"{_checks.fmt(sb)}; got {_checks.fmt(sa)}. Nothing is broadcast here."
            )


def _check_grads(who: str, grads, ref) -> None:
    _check_params(who, "grads", grads)
    if ref is not None:
        _check_like(who, "grads", grads, "the optimizer state (built by init(params))", ref)


def _increment(count):
    """``count + 1``, saturating at the int32 maximum as optax's ``safe_increment``."""
    top = jnp.iinfo(jnp.int32).max
    return jnp.where(count < top, count + 1, top).astype(count.dtype)


def _tmap(fn, *trees):
    return jax.tree_util.tree_map(fn, *trees)


def _zeros(params):
    return _tmap(jnp.zeros_like, params)


def _trace(updates, trace, momentum, nesterov):
    """optax.trace: $m_t = u_t + \\mu m_{t-1}$; Nesterov returns $u_t + \\mu m_t$."""
    new = _tmap(lambda u, m: u + momentum * m, updates, trace)
    out = _tmap(lambda u, m: u + momentum * m, updates, new) if nesterov else new
    return out, new


def _bias_correction(tree, decay, count):
    corr = 1 - decay**count
    return _tmap(lambda x: x / corr.astype(x.dtype), tree)


# --------------------------------------------------------------------------------- SGD


def sgd(learning_rate, momentum=None, nesterov: bool = False) -> Optimizer:
    r"""Stochastic gradient descent, optionally with heavy-ball or Nesterov momentum.

    Without momentum the update is

    $$- \eta g_{t}$$

    With ``momentum`` $\mu$ the state keeps the buffer $m_t$ ($m_0 = 0$),

    $$g_{t} + m_{t-1} \mu$$

    and the update is (heavy ball)

    $$- \eta m_{t}$$

    or, with ``nesterov=True``,

    $$- \eta \left(g_{t} + m_{t} \mu\right)$$

    Conventions: this is optax's ``sgd`` and PyTorch's ``SGD`` (``dampening=0``) exactly.
    The textbook heavy ball $v_t = \mu v_{t-1} - \eta g_t$, $\theta_{t+1} = \theta_t + v_t$
    is the same sequence with $v_t = -\eta m_t$ while $\eta$ is constant (the two differ
    under a schedule). Nesterov's original method evaluates the gradient at the look-ahead
    point $\theta_t + \mu v_t$; the form above is the same method written for the
    look-ahead variable (proven in the notebook), so $g_t$ is taken at the current params.

    Args:
        learning_rate: $\eta > 0$ (a number; schedules are not supported).
        momentum: $\mu \in [0, 1)$, or ``None`` for plain SGD.
        nesterov: use Nesterov momentum (needs ``momentum``).

    Returns:
        An :class:`Optimizer`; the state is :class:`SgdState`. ``update`` ignores ``params``.
        Works on any pytree of floating arrays of any shapes ``(*S,)``.

    Raises:
        ValueError: ``learning_rate <= 0``; ``momentum`` outside $[0, 1)$; ``nesterov``
            without ``momentum``; grads whose structure or shapes differ from the state's.
        TypeError: a schedule (callable) or non-number hyper-parameter; non-float leaves.

    Derived in ``notebooks/05_optimizers.ipynb``.
    """
    who = "sgd"
    _check_learning_rate(who, learning_rate)
    if momentum is not None:
        _check_range(who, "momentum", momentum, 0.0, 1.0,
                     "Use None for plain SGD; mu >= 1 makes the buffer grow without bound.")
    elif nesterov:
        raise ValueError(
            "sgd: nesterov=True needs a momentum; got momentum=None. Pass e.g. momentum=0.9 "
            "(optax would silently ignore nesterov here)."
        )

    def init(params):
        _check_params(who, "params", params)
        return SgdState(trace=None if momentum is None else _zeros(params))

    def update(grads, state, params=None):
        del params
        _check_grads(who, grads, state.trace)
        trace = state.trace
        if momentum is not None:
            grads, trace = _trace(grads, trace, momentum, nesterov)
        updates = _tmap(lambda u: -learning_rate * u, grads)
        return updates, SgdState(trace=trace)

    return Optimizer(init, update)


# ----------------------------------------------------------------------------- RMSProp


def rmsprop(learning_rate, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt: bool = True,
            centered: bool = False, momentum=None, nesterov: bool = False,
            bias_correction: bool = False) -> Optimizer:
    r"""RMSProp: divide the gradient by the root of a moving average of its square.

    The state keeps $\nu_t$ ($\nu_0$ = ``initial_scale``):

    $$\nu_{t-1} \rho + g_{t}^{2} \left(1 - \rho\right)$$

    and the update is, with the default ``eps_in_sqrt=True`` ($\epsilon$ *inside* the
    square root, as optax),

    $$- \frac{\eta g_{t}}{\sqrt{\epsilon + \nu_{t}}}$$

    or, with ``eps_in_sqrt=False`` ($\epsilon$ outside, as PyTorch's ``RMSprop`` and Adam),

    $$- \frac{\eta g_{t}}{\epsilon + \sqrt{\nu_{t}}}$$

    With ``centered=True`` a moving average $\bar g_t$ of $g$ (same decay) is kept too and
    the variance replaces the second moment:

    $$- \frac{\eta g_{t}}{\sqrt{- \bar{g}_{t}^{2} + \epsilon + \nu_{t}}}$$

    (or $\epsilon + \sqrt{\nu_t - \bar g_t^2}$ with ``eps_in_sqrt=False``). With
    ``bias_correction=True``, $\nu_t$ (and $\bar g_t$) are divided by $1 - \rho^t$ first.
    With ``momentum`` $\mu$, the update above (learning rate included) goes through the
    buffer of :func:`sgd`: $m_t = u_t + \mu m_{t-1}$, returned as $m_t$ (or
    $u_t + \mu m_t$ with ``nesterov``).

    Conventions that differ between libraries (same ``eps=1e-8``, different optimizers):
    optax puts $\epsilon$ inside the root, so the denominator never drops below
    $\sqrt{\epsilon} = 10^{-4}$; PyTorch puts it outside, floor $10^{-8}$. Use
    ``eps_in_sqrt=False`` to match PyTorch. Defaults differ as well: PyTorch's ``alpha``
    (this ``decay``) is 0.99, optax's ``decay`` 0.9. PyTorch and optax start at
    $\nu_0 = 0$, TF1 at 1 (``initial_scale``). PyTorch multiplies the momentum buffer by
    $\eta$ after accumulating, optax (and this function) before: equal while $\eta$ is
    constant.
    Centered RMSProp can take the root of a slightly negative number after rounding
    (NaN), as in optax.

    Args:
        learning_rate: $\eta > 0$.
        decay: $\rho \in [0, 1)$.
        eps: $\epsilon \ge 0$.
        initial_scale: $\nu_0 \ge 0$.
        eps_in_sqrt: where $\epsilon$ sits (above).
        centered: divide by the root of the variance instead of the second moment.
        momentum: $\mu \in [0, 1)$ or ``None``.
        nesterov: Nesterov momentum (needs ``momentum``).
        bias_correction: divide the moving averages by $1 - \rho^t$.

    Returns:
        An :class:`Optimizer` with state :class:`RmspropState`; any pytree of float arrays.

    Raises:
        ValueError: ``learning_rate <= 0``, a hyper-parameter out of range, ``nesterov``
            without ``momentum``, grads that do not match the state.
        TypeError: a schedule or a non-number hyper-parameter; non-float leaves.

    Derived in ``notebooks/05_optimizers.ipynb``.
    """
    who = "rmsprop"
    _check_learning_rate(who, learning_rate)
    _check_range(who, "decay", decay, 0.0, 1.0)
    _check_range(who, "eps", eps, 0.0, None)
    _check_range(who, "initial_scale", initial_scale, 0.0, None)
    if momentum is not None:
        _check_range(who, "momentum", momentum, 0.0, 1.0)
    elif nesterov:
        raise ValueError("rmsprop: nesterov=True needs a momentum; got momentum=None. Pass "
                         "e.g. momentum=0.9 (optax would silently ignore nesterov here).")

    def init(params):
        _check_params(who, "params", params)
        return RmspropState(
            count=jnp.zeros([], jnp.int32),
            nu=_tmap(lambda p: jnp.full_like(p, initial_scale), params),
            mu=_zeros(params) if centered else None,
            trace=_zeros(params) if momentum is not None else None,
        )

    def update(grads, state, params=None):
        del params
        _check_grads(who, grads, state.nu)
        nu = _tmap(lambda g, n: (1 - decay) * g**2 + decay * n, grads, state.nu)
        mu = _tmap(lambda g, m: (1 - decay) * g + decay * m, grads, state.mu) if centered \
            else None
        count = _increment(state.count) if bias_correction else state.count
        nu_hat, mu_hat = nu, mu
        if bias_correction:
            nu_hat = _bias_correction(nu, decay, count)
            mu_hat = _bias_correction(mu, decay, count) if centered else None
        if centered:
            second = _tmap(lambda n, m: n - m * m, nu_hat, mu_hat)
        else:
            second = nu_hat
        if eps_in_sqrt:
            scale = _tmap(lambda s: jax.lax.rsqrt(s + eps), second)
        else:
            scale = _tmap(lambda s: 1 / (jnp.sqrt(s) + eps), second)
        updates = _tmap(lambda s, g: -learning_rate * (s * g), scale, grads)
        trace = state.trace
        if momentum is not None:
            updates, trace = _trace(updates, trace, momentum, nesterov)
        return updates, RmspropState(count=count, nu=nu, mu=mu, trace=trace)

    return Optimizer(init, update)


# -------------------------------------------------------------------------------- Adam


def _adam_core(who, learning_rate, b1, b2, eps, eps_root, nesterov):
    _check_learning_rate(who, learning_rate)
    _check_range(who, "b1", b1, 0.0, 1.0)
    _check_range(who, "b2", b2, 0.0, 1.0)
    _check_range(who, "eps", eps, 0.0, None)
    _check_range(who, "eps_root", eps_root, 0.0, None)

    def init(params):
        _check_params(who, "params", params)
        return AdamState(count=jnp.zeros([], jnp.int32), mu=_zeros(params), nu=_zeros(params))

    def direction(grads, state):
        """$\\hat m_t / (\\sqrt{\\hat v_t + \\bar\\epsilon} + \\epsilon)$ and the new state."""
        _check_grads(who, grads, state.mu)
        mu = _tmap(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
        nu = _tmap(lambda g, v: (1 - b2) * g**2 + b2 * v, grads, state.nu)
        count = _increment(state.count)
        if nesterov:
            mu_hat = _tmap(lambda m, g: b1 * m + (1 - b1) * g,
                           _bias_correction(mu, b1, _increment(count)),
                           _bias_correction(grads, b1, count))
        else:
            mu_hat = _bias_correction(mu, b1, count)
        nu_hat = _bias_correction(nu, b2, count)
        d = _tmap(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
        return d, AdamState(count=count, mu=mu, nu=nu)

    return init, direction


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8, *, eps_root=0.0,
         nesterov: bool = False) -> Optimizer:
    r"""Adam: a bias-corrected moving average of the gradient, divided by the root of a
    bias-corrected moving average of its square.

    The state keeps $m_t$ and $v_t$ ($m_0 = v_0 = 0$) and the step count $t$:

    $$\beta_{1} m_{t-1} + g_{t} \left(1 - \beta_{1}\right)$$

    $$\beta_{2} v_{t-1} + g_{t}^{2} \left(1 - \beta_{2}\right)$$

    and the update is $-\eta\,\hat m_t / (\sqrt{\hat v_t + \bar\epsilon} + \epsilon)$ with
    $\hat m_t = m_t/(1-\beta_1^t)$, $\hat v_t = v_t / (1 - \beta_2^t)$:

    $$- \frac{\eta m_{t}}{\left(1 - \beta_{1}^{t}\right) \left(\epsilon +
    \sqrt{\bar{\epsilon} + \frac{v_{t}}{1 - \beta_{2}^{t}}}\right)}$$

    With ``nesterov=True`` (NAdam, as ``optax.nadam``) $\hat m_t$ becomes

    $$\frac{\beta_{1} m_{t}}{1 - \beta_{1}^{t + 1}} +
    \frac{g_{t} \left(1 - \beta_{1}\right)}{1 - \beta_{1}^{t}}$$

    Conventions: $\epsilon$ (``eps``) sits *outside* the root, as in the paper's
    Algorithm 1, optax and PyTorch; $\bar\epsilon$ (``eps_root``, default 0) inside,
    which keeps the derivative of the update finite at $v = 0$ (needed to differentiate
    through the optimizer). TensorFlow/Keras use the paper's "efficient" form
    $\eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)\cdot m_t/(\sqrt{v_t} + \hat\epsilon)$, which equals
    the above with $\epsilon = \hat\epsilon/\sqrt{1-\beta_2^t}$ (proven in the notebook).

    Args:
        learning_rate: $\eta > 0$.
        b1, b2: $\beta_1, \beta_2 \in [0, 1)$.
        eps: $\epsilon \ge 0$ (outside the square root).
        eps_root: $\bar\epsilon \ge 0$ (inside), keyword-only.
        nesterov: NAdam, keyword-only.

    Returns:
        An :class:`Optimizer` with state :class:`AdamState`; any pytree of float arrays.

    Raises:
        ValueError: ``learning_rate <= 0``, ``b1``/``b2`` outside $[0, 1)$, negative
            ``eps``/``eps_root``, grads that do not match the state.
        TypeError: a schedule or a non-number hyper-parameter; non-float leaves.

    Derived in ``notebooks/05_optimizers.ipynb``.
    """
    init, direction = _adam_core("adam", learning_rate, b1, b2, eps, eps_root, nesterov)

    def update(grads, state, params=None):
        del params
        d, state = direction(grads, state)
        return _tmap(lambda u: -learning_rate * u, d), state

    return Optimizer(init, update)


def _expand_mask(who: str, mask, params):
    tree = mask(params) if callable(mask) else mask
    try:
        full = jax.tree_util.tree_map(
            lambda flag, sub: jax.tree_util.tree_map(lambda _: flag, sub), tree, params)
    except ValueError as err:
        raise ValueError(
            f"{who}: mask must be a pytree with the structure of params, or a prefix of it, "
            "with bool leaves (True: decay this leaf); got mask "
            f"{jax.tree_util.tree_structure(tree)}, params {jax.tree_util.tree_structure(params)}."
        ) from err
    for flag in jax.tree_util.tree_leaves(full):
        if not isinstance(flag, (bool, jnp.bool_)):
            raise TypeError(f"{who}: the leaves of mask must be Python bools; got "
                            f"{type(flag).__name__}.")
    return full


def adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, *, eps_root=0.0, weight_decay=1e-4,
          mask=None, nesterov: bool = False) -> Optimizer:
    r"""AdamW: Adam with decoupled weight decay.

    $m_t$ and $v_t$ as :func:`adam`,

    $$\beta_{1} m_{t-1} + g_{t} \left(1 - \beta_{1}\right)$$

    $$\beta_{2} v_{t-1} + g_{t}^{2} \left(1 - \beta_{2}\right)$$

    and the decay $\lambda\theta_t$ is added to Adam's direction, not to the gradient, so
    it is not divided by $\sqrt{\hat v_t}$:

    $$- \eta \left(\lambda \theta_{t} + \frac{m_{t}}{\left(1 - \beta_{1}^{t}\right)
    \left(\epsilon + \sqrt{\bar{\epsilon} + \frac{v_{t}}{1 - \beta_{2}^{t}}}\right)}\right)$$

    Conventions: the decay is multiplied by the learning rate $\eta$, as in optax and
    PyTorch's ``AdamW``; the paper (Loshchilov & Hutter, 2019) multiplies it only by the
    schedule factor, so its $\lambda$ is this $\eta\lambda$. Defaults differ: optax (and
    this function) ``weight_decay=1e-4``, PyTorch ``1e-2``. Adding $\frac{\lambda}{2}
    \lVert\theta\rVert^2$ to the loss and using :func:`adam` is *not* the same (the notebook
    shows a counterexample); under :func:`sgd` it is.

    Args:
        learning_rate: $\eta > 0$.
        b1, b2, eps: as :func:`adam`. eps_root, nesterov: as :func:`adam` (keyword-only).
        weight_decay: $\lambda \ge 0$ (keyword-only).
        mask: ``None`` (decay every leaf), or a pytree of bools with the structure of
            params (or a prefix of it), or a callable ``params -> such a tree``; ``False``
            leaves are not decayed (Adam still updates them), as optax.

    Returns:
        An :class:`Optimizer` with state :class:`AdamState`. ``update`` needs ``params``.

    Raises:
        ValueError: as :func:`adam`; ``weight_decay < 0``; ``update`` called without
            ``params`` (it needs $\theta_t$), or with params that do not match the grads;
            a mask that does not fit params.
        TypeError: as :func:`adam`; mask leaves that are not bools.

    Derived in ``notebooks/05_optimizers.ipynb``.
    """
    who = "adamw"
    init, direction = _adam_core(who, learning_rate, b1, b2, eps, eps_root, nesterov)
    _check_range(who, "weight_decay", weight_decay, 0.0, None)

    def update(grads, state, params=None):
        if params is None:
            raise ValueError(
                "adamw: update needs params (the current parameters theta_t, for the weight "
                "decay term lambda * theta_t); got params=None. Call "
                "opt.update(grads, state, params)."
            )
        d, state = direction(grads, state)
        _check_params(who, "params", params)
        _check_like(who, "params", params, "grads", grads)
        if mask is None:
            d = _tmap(lambda u, p: u + weight_decay * p, d, params)
        else:
            flags = _expand_mask(who, mask, params)
            d = _tmap(lambda u, p, f: u + weight_decay * p if f else u, d, params, flags)
        return _tmap(lambda u: -learning_rate * u, d), state

    return Optimizer(init, update)


# ---------------------------------------------------------------------------- applying


def apply_updates(params, updates):
    r"""$\theta_{t+1} = \theta_t + u_t$, leaf by leaf, keeping each parameter's dtype.

    Args:
        params: a pytree of arrays. updates: a pytree of the same structure and shapes.

    Returns:
        The new params, same structure and dtypes as ``params`` (as
        ``optax.apply_updates``: the sum is cast back to each parameter's dtype).

    Raises:
        ValueError: when the structures or leaf shapes differ.

    Used throughout ``notebooks/05_optimizers.ipynb``.
    """
    _check_like("apply_updates", "updates", updates, "params", params)
    return _tmap(lambda p, u: jnp.asarray(p + u).astype(jnp.asarray(p).dtype), params, updates)


def trajectory(optimizer: Optimizer, loss_fn: Callable, params, steps: int):
    r"""Run ``steps`` updates of ``optimizer`` on ``loss_fn`` from ``params`` (full-batch
    gradients by ``jax.grad``), as one compiled ``jax.lax.scan``.

    Args:
        optimizer: an :class:`Optimizer` (from this module or optax).
        loss_fn: a scalar JAX function of the params pytree.
        params: the start $\theta_0$.
        steps: the number of updates $T \ge 0$ (static).

    Returns:
        ``(path, losses)``: ``path`` is the params pytree with a leading axis of length
        $T + 1$ (``path[0]`` is the start); ``losses`` is ``(T + 1,)``, the loss at each point.

    Raises:
        ValueError: if ``steps`` is not an int >= 0.
        TypeError: if ``optimizer`` has no ``init``/``update`` or ``loss_fn`` is not callable.

    The explorations of ``notebooks/05_optimizers.ipynb`` (ill-conditioned quadratic,
    Rosenbrock) are drawn from it.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"trajectory: steps must be an int >= 0; got {steps!r}.")
    if not all(callable(getattr(optimizer, name, None)) for name in ("init", "update")):
        raise TypeError(
            f"trajectory: optimizer must have init and update functions; got "
            f"{type(optimizer).__name__}. Pass e.g. dlmath.optim.sgd(0.1) or optax.adam(1e-3)."
        )
    if not callable(loss_fn):
        raise TypeError(f"trajectory: loss_fn must be a callable params -> scalar; got "
                        f"{type(loss_fn).__name__}.")

    @jax.jit
    def run(p0):
        def step(carry, _):
            p, s = carry
            u, s = optimizer.update(jax.grad(loss_fn)(p), s, p)
            p = apply_updates(p, u)
            return (p, s), p

        _, ps = jax.lax.scan(step, (p0, optimizer.init(p0)), None, length=steps)
        path = _tmap(lambda a, b: jnp.concatenate([a[None], b], axis=0), p0, ps)
        return path, jax.vmap(loss_fn)(path)

    return run(params)
