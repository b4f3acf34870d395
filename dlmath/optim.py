r"""Optimizers as pure ``(init, update)`` function pairs on any pytree, optax-compatible.

Each factory (:func:`sgd`, :func:`rmsprop`, :func:`adam`, :func:`adamw`) returns an
:class:`Optimizer` whose ``init(params)`` builds the state (a ``NamedTuple`` of pytrees) and
whose ``update(grads, state, params=None)`` returns ``(updates, new_state)``; the updates
already carry the minus sign and the learning rate, so a step is
``params = apply_updates(params, updates)``, i.e. $\theta_{t+1} = \theta_t + u_t$. Both
functions are pure and jit-able (``jax.jit(opt.update)``). The hyper-parameters are fixed
when the optimizer is built; they may be Python numbers or traced scalars (build the
optimizer inside a jitted function to make them arguments: :func:`trajectory` does).

Argument names, defaults and the arithmetic follow optax 0.2 (checked against its source);
the tests compare 100 steps of every optimizer and option with optax. Where libraries
differ (the place of $\epsilon$ in RMSProp, Adam's $\epsilon$ vs $\bar\epsilon$, AdamW's
decay times the learning rate), each docstring says so. Not supported (use optax for
them): learning-rate and weight-decay *schedules* (callables).

Dtypes (the package's rule, :mod:`dlmath._checks`): the state is built in the dtype of the
parameters (one float dtype per tree), and keeps its dtype at every step. Gradients of
another float dtype are cast, leaf by leaf, to the dtype of the state buffer they enter
(the parameters' dtype; for :func:`sgd` without momentum, the dtype of ``params`` when
they are passed). Float16 parameters and Adam or RMSProp: $\epsilon = 10^{-8}$ rounds to 0
in float16 and so do the squares of small gradients, so the division gives NaN or
infinity. Pass ``state_dtype=jnp.float32``: the moving averages, and the arithmetic of
the update, are then float32, and :func:`apply_updates` casts the update back to the
parameters' float16. (optax's ``mu_dtype``, also accepted by :func:`adam` and
:func:`adamw`, sets the dtype of the first moment only, as in optax; it does not prevent
the float16 failure.)

Clipping, and chaining an optimizer after it, are in :mod:`dlmath.transforms`.

Derived and verified in ``notebooks/05_optimizers.ipynb``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

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
# The generic checks live in dlmath._checks; what is here composes them for optimizers.

_FLOAT_HINT = ("Optimizers act on floating-point parameters; convert with jnp.asarray(x, "
               "jnp.float32).")
_LIKE_HINT = "Pass the gradients of the same params that init() received."
_STATE = "the optimizer state (built by init(params))"


def _unit_interval(who: str, name: str, value, hint: str = "") -> None:
    """A decay or momentum: a real scalar in ``[0, 1)`` (checked when concrete)."""
    _checks.hyperparameter(who, name, value, low=0.0, high=1.0, high_open=True, hint=hint)


def _non_negative(who: str, name: str, value) -> None:
    _checks.hyperparameter(who, name, value, low=0.0)


def _keep_dtype(new, old):
    """The new state, leaf by leaf in the dtype of the old one (a traced float32
    hyper-parameter must not promote a float16 state)."""
    return _tmap(lambda a, b: a.astype(b.dtype), new, old)


def _increment(count):
    """``count + 1``, saturating at the int32 maximum as optax's ``safe_increment``."""
    top = jnp.iinfo(jnp.int32).max
    return jnp.where(count < top, count + 1, top).astype(count.dtype)


def _tmap(fn, *trees):
    return jax.tree_util.tree_map(fn, *trees)


def _zeros(params, dtype=None):
    return _tmap(lambda p: jnp.zeros(jnp.shape(p), _dtype_or(dtype, p)), params)


def _dtype_or(dtype, p):
    """``dtype``, or the dtype of ``p`` when it is ``None`` (a NumPy dtype is falsy)."""
    return jnp.result_type(p) if dtype is None else dtype


def _trace(updates, trace, momentum, nesterov):
    """optax.trace: $m_t = u_t + \\mu m_{t-1}$; Nesterov returns $u_t + \\mu m_t$."""
    new = _keep_dtype(_tmap(lambda u, m: u + momentum * m, updates, trace), trace)
    out = _tmap(lambda u, m: u + momentum * m, updates, new) if nesterov else new
    return out, new


def _bias_correction(tree, decay, count):
    corr = 1 - decay**count
    return _tmap(lambda x: x / corr.astype(x.dtype), tree)


def _scale(learning_rate, tree, like):
    """$-\\eta u$, leaf by leaf in the dtype of ``like``."""
    return _tmap(lambda u, r: (-learning_rate * u).astype(jnp.result_type(r)), tree, like)


_PLAIN = (int, float, bool, str, type(None), np.dtype, type)


def _reuse(factory):
    """Built with the same Python hyper-parameters, a factory returns the same
    :class:`Optimizer` object (its functions are pure), so a compiled training loop that
    takes it as a static argument (:func:`dlmath.training.fit`) is compiled once, not on
    every call, whether the arguments are passed by position or by name. Arrays or traced
    values as hyper-parameters bypass the reuse."""
    cache: dict = {}
    signature = inspect.signature(factory)

    @functools.wraps(factory)
    def build(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return factory(*args, **kwargs)  # raises the factory's own TypeError
        bound.apply_defaults()
        values = tuple(bound.arguments.values())
        if not all(isinstance(v, _PLAIN) for v in values):
            return factory(*args, **kwargs)
        key = tuple((type(v), v) for v in values)
        if key not in cache:
            if len(cache) >= 256:
                cache.clear()
            cache[key] = factory(*args, **kwargs)
        return cache[key]

    return build


# --------------------------------------------------------------------------------- SGD


@_reuse
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
        learning_rate: $\eta > 0$ (a number or a traced scalar; schedules are not
            supported).
        momentum: $\mu \in [0, 1)$, or ``None`` for plain SGD.
        nesterov: use Nesterov momentum (needs ``momentum``).

    Returns:
        An :class:`Optimizer`; the state is :class:`SgdState`. Without momentum the state
        holds nothing to compare the gradients with: ``update`` then checks them against
        ``params`` when they are passed (structure, shapes; the gradients are cast to the
        params' dtype), and otherwise only that they are floating. Works on any pytree of
        floating arrays of any shapes ``(*S,)``.

    Raises:
        ValueError: ``learning_rate <= 0``; ``momentum`` outside $[0, 1)$; ``nesterov`` without
            ``momentum``; grads whose structure or shapes differ from the state's (or from
            ``params``).
        TypeError: a schedule (callable) or non-number hyper-parameter; non-float leaves; a state
            that is not the :class:`SgdState` of ``init``.

    Derived in ``notebooks/05_optimizers.ipynb``.
    """
    who = "sgd"
    _checks.learning_rate(who, learning_rate)
    _checks.require_flag(who, "nesterov", nesterov)
    if momentum is not None:
        _unit_interval(who, "momentum", momentum,
                       "Use None for plain SGD; mu >= 1 makes the buffer grow without bound.")
    elif nesterov:
        raise ValueError(
            "sgd: nesterov=True needs a momentum; got momentum=None. Pass e.g. momentum=0.9 "
            "(optax would silently ignore nesterov here)."
        )

    def init(params):
        _checks.float_dtype_of_tree(who, "params", params)
        return SgdState(trace=None if momentum is None else _zeros(params))

    def update(grads, state, params=None):
        _checks.require_state(who, state, SgdState)
        if momentum is None:
            if params is not None:
                _checks.float_dtype_of_tree(who, "params", params)
            grads = _checks.cast_like(who, "grads", grads, "params", params, _LIKE_HINT)
            return _scale(learning_rate, grads, grads), SgdState(trace=None)
        grads = _checks.cast_like(who, "grads", grads, _STATE, state.trace, _LIKE_HINT)
        direction, trace = _trace(grads, state.trace, momentum, nesterov)
        return _scale(learning_rate, direction, trace), SgdState(trace=trace)

    return Optimizer(init, update)


# ----------------------------------------------------------------------------- RMSProp


@_reuse
def rmsprop(learning_rate, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt: bool = True,
            centered: bool = False, momentum=None, nesterov: bool = False,
            bias_correction: bool = False, *, state_dtype=None) -> Optimizer:
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
        eps: $\epsilon \ge 0$ (with 0, a zero gradient history gives a zero update, not NaN).
        initial_scale: $\nu_0 \ge 0$.
        eps_in_sqrt: where $\epsilon$ sits (above).
        centered: divide by the root of the variance instead of the second moment.
        momentum: $\mu \in [0, 1)$ or ``None``.
        nesterov: Nesterov momentum (needs ``momentum``).
        bias_correction: divide the moving averages by $1 - \rho^t$.
        state_dtype: ``None`` (the params' dtype) or a float dtype for $\nu_t$, $\bar g_t$,
            the momentum buffer and the update's arithmetic (keyword-only);
            ``jnp.float32`` for float16 params (module docstring).

    Returns:
        An :class:`Optimizer` with state :class:`RmspropState`; any pytree of float arrays.

    Raises:
        ValueError: ``learning_rate <= 0``, a hyper-parameter out of range, ``nesterov`` without
            ``momentum``, grads that do not match the state.
        TypeError: a schedule or a non-number hyper-parameter; a switch that is not a bool;
            non-float leaves; a state that is not the :class:`RmspropState` of ``init``.

    Derived in ``notebooks/05_optimizers.ipynb``.
    """
    who = "rmsprop"
    _checks.learning_rate(who, learning_rate)
    _unit_interval(who, "decay", decay)
    _non_negative(who, "eps", eps)
    _non_negative(who, "initial_scale", initial_scale)
    for name, flag in [("eps_in_sqrt", eps_in_sqrt), ("centered", centered),
                       ("nesterov", nesterov), ("bias_correction", bias_correction)]:
        _checks.require_flag(who, name, flag)
    dtype = _checks.optional_float_dtype(who, "state_dtype", state_dtype)
    if momentum is not None:
        _unit_interval(who, "momentum", momentum)
    elif nesterov:
        raise ValueError("rmsprop: nesterov=True needs a momentum; got momentum=None. Pass "
                         "e.g. momentum=0.9 (optax would silently ignore nesterov here).")

    def init(params):
        _checks.float_dtype_of_tree(who, "params", params)
        return RmspropState(
            count=jnp.zeros([], jnp.int32),
            nu=_tmap(lambda p: jnp.full(jnp.shape(p), initial_scale, _dtype_or(dtype, p)),
                     params),
            mu=_zeros(params, dtype) if centered else None,
            trace=_zeros(params, dtype) if momentum is not None else None,
        )

    def update(grads, state, params=None):
        del params
        _checks.require_state(who, state, RmspropState)
        grads = _checks.cast_like(who, "grads", grads, _STATE, state.nu, _LIKE_HINT)
        nu = _keep_dtype(_tmap(lambda g, n: (1 - decay) * g**2 + decay * n, grads, state.nu),
                         state.nu)
        mu = _keep_dtype(_tmap(lambda g, m: (1 - decay) * g + decay * m, grads, state.mu),
                         state.mu) if centered else None
        count = _increment(state.count) if bias_correction else state.count
        nu_hat, mu_hat = nu, mu
        if bias_correction:
            nu_hat = _bias_correction(nu, decay, count)
            mu_hat = _bias_correction(mu, decay, count) if centered else None
        if centered:
            second = _tmap(lambda n, m: n - m * m, nu_hat, mu_hat)
        else:
            second = nu_hat
        def direction(g, s):
            if _checks.eps_keeps_positive(eps, s.dtype):  # never 0: the plain formulas
                return g * (jax.lax.rsqrt(s + eps) if eps_in_sqrt else 1 / (jnp.sqrt(s) + eps))
            # eps = 0 (also after rounding to the state's dtype, or traced): a zero gradient
            # history gives 0 / 0 = 0, not NaN
            return _checks.quotient(g, jnp.sqrt(s + eps) if eps_in_sqrt else jnp.sqrt(s) + eps)

        updates = _scale(learning_rate, _tmap(direction, grads, second), nu)
        trace = state.trace
        if momentum is not None:
            updates, trace = _trace(updates, trace, momentum, nesterov)
        return updates, RmspropState(count=count, nu=nu, mu=mu, trace=trace)

    return Optimizer(init, update)


# -------------------------------------------------------------------------------- Adam


def _adam_core(who, learning_rate, b1, b2, eps, eps_root, nesterov, mu_dtype, state_dtype):
    """The checks, ``init`` and the direction $\\hat m_t / (\\sqrt{\\hat v_t + \\bar\\epsilon}
    + \\epsilon)$ shared by :func:`adam` and :func:`adamw`."""
    _checks.learning_rate(who, learning_rate)
    _unit_interval(who, "b1", b1)
    _unit_interval(who, "b2", b2)
    _non_negative(who, "eps", eps)
    _non_negative(who, "eps_root", eps_root)
    _checks.require_flag(who, "nesterov", nesterov)
    state_dtype = _checks.optional_float_dtype(who, "state_dtype", state_dtype)
    mu_dtype = _checks.optional_float_dtype(who, "mu_dtype", mu_dtype)
    if mu_dtype is None:
        mu_dtype = state_dtype

    def init(params):
        _checks.float_dtype_of_tree(who, "params", params)
        return AdamState(count=jnp.zeros([], jnp.int32), mu=_zeros(params, mu_dtype),
                         nu=_zeros(params, state_dtype))

    def direction(grads, state):
        """$\\hat m_t / (\\sqrt{\\hat v_t + \\bar\\epsilon} + \\epsilon)$ and the new state."""
        _checks.require_state(who, state, AdamState)
        grads = _checks.cast_like(who, "grads", grads, _STATE, state.nu, _LIKE_HINT)
        _checks.require_like(who, "state.mu", state.mu, "state.nu", state.nu)
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
        # 0 / 0 = 0 where the denominator can be 0 (eps = 0): _checks.quotient
        d = _tmap(lambda m, v: _checks.quotient(m, jnp.sqrt(v + eps_root) + eps, eps), mu_hat,
                  nu_hat)
        return d, AdamState(count=count, mu=_keep_dtype(mu, state.mu),
                            nu=_keep_dtype(nu, state.nu))

    return init, direction


@_reuse
def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None, *,
         nesterov: bool = False, state_dtype=None) -> Optimizer:
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

    The positional arguments are optax's, in optax's order (``optax.adam(learning_rate,
    b1, b2, eps, eps_root, mu_dtype)``); ``nesterov`` and ``state_dtype`` are keyword-only.

    Args:
        learning_rate: $\eta > 0$.
        b1, b2: $\beta_1, \beta_2 \in [0, 1)$.
        eps: $\epsilon \ge 0$ (outside the square root; with 0, a zero gradient history gives
            a zero update, not NaN).
        eps_root: $\bar\epsilon \ge 0$ (inside).
        mu_dtype: as optax: ``None`` or the float dtype of $m_t$ only.
        nesterov: NAdam, keyword-only.
        state_dtype: ``None`` (the params' dtype) or the float dtype of $m_t$, $v_t$ and of
            the update's arithmetic (keyword-only; not in optax). ``jnp.float32`` for
            float16 params, where $\epsilon = 10^{-8}$ rounds to 0 (module docstring).
            ``mu_dtype``, when given too, overrides it for $m_t$.

    Returns:
        An :class:`Optimizer` with state :class:`AdamState`; any pytree of float arrays.

    Raises:
        ValueError: ``learning_rate <= 0``, ``b1``/``b2`` outside $[0, 1)$, negative
            ``eps``/``eps_root``, grads that do not match the state.
        TypeError: a schedule or a non-number hyper-parameter; a non-float dtype; a ``nesterov``
            that is not a bool; non-float leaves; a state that is not the :class:`AdamState` of
            ``init``.

    Derived in ``notebooks/05_optimizers.ipynb``.

    Example:
        >>> import jax.numpy as jnp
        >>> from dlmath import optim
        >>> opt = optim.adam(learning_rate=0.1)
        >>> params = {"w": jnp.array(1.0)}
        >>> updates, state = opt.update({"w": jnp.array(2.0)}, opt.init(params))
        >>> round(float(updates["w"]), 4)                  # the first step is -lr * sign(g)
        -0.1
        >>> round(float(optim.apply_updates(params, updates)["w"]), 4)
        0.9
    """
    init, direction = _adam_core("adam", learning_rate, b1, b2, eps, eps_root, nesterov,
                                 mu_dtype, state_dtype)

    def update(grads, state, params=None):
        del params
        d, state = direction(grads, state)
        return _scale(learning_rate, d, state.nu), state

    return Optimizer(init, update)


@_reuse
def adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None,
          weight_decay=1e-4, mask=None, *, nesterov: bool = False,
          state_dtype=None) -> Optimizer:
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

    The positional arguments are optax's, in optax's order (``optax.adamw(learning_rate,
    b1, b2, eps, eps_root, mu_dtype, weight_decay, mask)``); ``nesterov`` and
    ``state_dtype`` are keyword-only.

    Args:
        learning_rate: $\eta > 0$.
        b1, b2, eps, eps_root, mu_dtype: as :func:`adam`. nesterov, state_dtype: as
            :func:`adam` (keyword-only).
        weight_decay: $\lambda \ge 0$.
        mask: ``None`` (decay every leaf), or a pytree of bools with the structure of
            params (or a prefix of it), or a callable ``params -> such a tree``; ``False``
            leaves are not decayed (Adam still updates them), as optax.

    Returns:
        An :class:`Optimizer` with state :class:`AdamState`. ``update`` needs ``params``.

    Raises:
        ValueError: as :func:`adam`; ``weight_decay < 0``; ``update`` called without ``params`` (it
            needs $\theta_t$), or with params that do not match the grads; a mask that does not fit
            params.
        TypeError: as :func:`adam`; mask leaves that are not bools.

    Derived in ``notebooks/05_optimizers.ipynb``.
    """
    who = "adamw"
    init, direction = _adam_core(who, learning_rate, b1, b2, eps, eps_root, nesterov,
                                 mu_dtype, state_dtype)
    _non_negative(who, "weight_decay", weight_decay)

    def update(grads, state, params=None):
        if params is None:
            raise ValueError(
                "adamw: update needs params (the current parameters theta_t, for the weight "
                "decay term lambda * theta_t); got params=None. Call "
                "opt.update(grads, state, params)."
            )
        d, state = direction(grads, state)
        _checks.float_dtype_of_tree(who, "params", params)
        _checks.require_like(who, "params", params, "grads", grads,
                             "Pass the params whose gradients these are.")
        params = _tmap(lambda p, u: jnp.asarray(p).astype(u.dtype), params, d)
        flags = _checks.mask_tree(who, mask, params)
        d = _tmap(lambda u, p, f: u + weight_decay * p if f else u, d, params, flags)
        return _scale(learning_rate, d, state.nu), state

    return Optimizer(init, update)


# ---------------------------------------------------------------------------- applying


def _check_apply_updates(params, updates):
    who = "apply_updates"
    if params is None:
        return  # as optax: no parameters, nothing to update
    _checks.require_like(who, "updates", updates, "params", params,
                         "Apply the updates that update(grads, state, params) returned.")
    for p, u in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(updates),
                    strict=True):
        _checks.require_floating(who, "every leaf of params", p, _FLOAT_HINT)
        _checks.require_floating(who, "every leaf of updates", u,
                                 "Updates are floating; an optimizer's update returns them so.")


@_checks.checked(_check_apply_updates)
def apply_updates(params, updates):
    r"""$\theta_{t+1} = \theta_t + u_t$, leaf by leaf, keeping each parameter's dtype.

    Args:
        params: a pytree of arrays (``None`` leaves stay ``None``), or ``None``.
        updates: a pytree of the same structure and shapes.

    Returns:
        The new params, same structure and dtypes as ``params`` (as
        ``optax.apply_updates``: the sum is cast back to each parameter's dtype);
        ``None`` for ``params=None``, as optax.

    Raises:
        ValueError: when the structures or leaf shapes differ.
        TypeError: a leaf of params or updates that is not floating (integer parameters would
            truncate the update silently, complex updates lose their imaginary part; optax's
            ``apply_updates`` casts both silently).

    Used throughout ``notebooks/05_optimizers.ipynb``.
    """
    return jax.tree_util.tree_map(
        lambda p, u: None if p is None else jnp.asarray(p + u).astype(jnp.asarray(p).dtype),
        params, updates, is_leaf=lambda x: x is None)
