r"""One training loop for every model of the book: any loss, any optimizer with the optax
interface (:mod:`dlmath.optim`, a :func:`dlmath.transforms.chain`, or optax itself),
full-batch or mini-batch.

Every step is the same three lines, :func:`train_step`, for linear regression (chapter 01)
as for an MLP (chapter 04), an optimizer's path on a test function (chapter 05) or a step
on many devices (:mod:`dlmath.parallel`, chapter 12):

$$\ell_t, g_t = \nabla L(\theta_t; \text{batch}_t), \qquad
(u_t, s_{t+1}) = \text{update}(g_t, s_t, \theta_t), \qquad \theta_{t+1} = \theta_t + u_t$$

The steps run as one compiled ``jax.lax.scan`` per chunk of ``log_every`` steps; between
chunks the loop calls ``evaluate`` (held-out metrics) and ``callback`` (a progress bar).
Gradients come from ``jax.value_and_grad(loss_fn)``, or from a hand-written
``value_and_grad`` (the backpropagation of chapter 04, the closed forms of 01 and 03).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks, optim

__all__ = ["History", "train_step", "fit", "trajectory"]


class History(NamedTuple):
    """What :func:`fit` records.

    ``loss``: ``(T,)``, the training loss of step ``t`` at $\theta_t$ (before its update;
    on the step's mini-batch when ``batch_size`` is given). ``path``: the parameters with a
    leading axis of length $T + 1$ (``path[0]`` is the start) when ``keep_path``, else
    ``None``. ``evaluations``: ``[(step, metrics), ...]`` from ``evaluate``, at step 0 and
    after every chunk.
    """

    loss: Any
    path: Any
    evaluations: list


@functools.lru_cache(maxsize=128)
def _value_and_grad(loss_fn):
    """``jax.value_and_grad(loss_fn)``, whose loss is checked to be a scalar while it is
    traced (the check costs nothing at run time)."""
    def loss(params, *batch):
        value = loss_fn(params, *batch)
        _checks.require_scalar_loss("fit", "loss_fn(params, *batch)", value)
        return value

    return jax.value_and_grad(loss)


@functools.lru_cache(maxsize=128)
def _checked_value_and_grad(value_and_grad):
    """A hand-written ``value_and_grad`` whose output is checked while it is traced: the
    pair ``(loss, grads)`` with a scalar loss."""
    def checked(params, *batch):
        out = value_and_grad(params, *batch)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(f"fit: value_and_grad(params, *batch) must return the pair "
                            f"(loss, grads); got {type(out).__name__}.")
        _checks.require_scalar_loss("fit", "the loss of value_and_grad(params, *batch)",
                                    out[0])
        return out

    return checked


def _check_train_step(optimizer, value_and_grad, params, state, *batch):
    who = "train_step"
    _checks.require_optimizer(who, optimizer)
    _checks.require_callable(who, "value_and_grad", value_and_grad,
                             "a function params, *batch -> (loss, grads)")
    for name, value in (("optimizer", optimizer), ("value_and_grad", value_and_grad)):
        if not _hashable(value):
            raise TypeError(
                f"{who}: {name} must be hashable (the compiled step is specialised to it); got "
                f"{type(value).__name__}, which is not (a mutable @dataclass is not). Declare "
                "it @dataclass(frozen=True), or train with fit, which accepts it.")
    dtype = _checks.float_dtype_of_tree(who, "params", params)
    _checks.examples(who, "batch", tuple(a for a in batch if not _is_key(a)), dtype)


def _is_key(x) -> bool:
    dtype = getattr(x, "dtype", None)
    return dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key)


@_checks.checked(_check_train_step, static_argnames=("optimizer", "value_and_grad"))
def train_step(optimizer, value_and_grad, params, state, *batch):
    r"""One step of the book's training loop: the step that :func:`fit` repeats and that
    :func:`dlmath.parallel.data_parallel_step` runs on many devices.

    $(\ell, g)$ = ``value_and_grad(params, *batch)``, the loss and the gradient at
    $\theta$; $(u, s')$ = ``optimizer.update(g, state, params)``; $\theta' = \theta + u$
    (:func:`dlmath.optim.apply_updates`).

    Args:
        optimizer: an object with ``init``/``update``: :mod:`dlmath.optim`'s, a
            :func:`dlmath.transforms.chain`, or optax's; hashable (the compiled step is
            specialised to it).
        value_and_grad: ``value_and_grad(params, *batch) -> (loss, grads)``, e.g.
            ``jax.value_and_grad(loss_fn)`` or a hand-written gradient; hashable too.
        params: $\theta$, a pytree of floating arrays of one dtype.
        state: the optimizer's state $s$ (``optimizer.init(params)`` at the start).
        *batch: the arrays that ``value_and_grad`` takes after ``params``: real or bool
            arrays whose leading axes hold the same $N$ examples (floating ones are cast to
            the dtype of ``params``), and new-style ``jax.random.key`` keys.

    Returns:
        ``(params, state, loss)``: $\theta'$, $s'$ and the loss at $\theta$.

    Raises:
        TypeError: an optimizer without ``init``/``update``; a ``value_and_grad`` that is not
            callable; an optimizer or ``value_and_grad`` that cannot be hashed (:func:`fit`
            accepts those); non-floating parameters or parameters of mixed float dtypes; a
            batch entry that is not an array of real numbers or a key.
        ValueError: batch arrays without a leading axis, or with different $N$.
    """
    dtype = jnp.result_type(jax.tree_util.tree_leaves(params)[0])
    value, grads = value_and_grad(params, *_checks.cast_floats(dtype, *batch))
    updates, state = optimizer.update(grads, state, params)
    return optim.apply_updates(params, updates), state, value


def _batch(data, key, t, n, batch_size):
    """The mini-batch of step ``t``: epoch ``t // (N // B)`` shuffles the rows with a key
    folded from ``key``; its ``N // B`` batches are consecutive slices (the last, incomplete
    batch of each epoch is dropped), so every row is used once per epoch."""
    per_epoch = n // batch_size
    epoch, pos = t // per_epoch, t % per_epoch
    order = jax.random.permutation(jax.random.fold_in(key, epoch), n)
    idx = jax.lax.dynamic_slice_in_dim(order, pos * batch_size, batch_size)
    return tuple(jnp.take(a, idx, axis=0) for a in data)


#: The fold-in constant of the per-step keys (``step_key=True``): no epoch of the shuffles
#: reaches it, so the two streams of keys never coincide.
_STEP_STREAM = 2**31 - 1


def _steps(one_step, params, state, key, data, start, *, batch_size, keep_path, length,
           step_key=False):
    """``length`` steps ``one_step(params, state, *batch) -> (params, state, loss)`` from step
    ``start``, as one ``jax.lax.scan``."""
    n = data[0].shape[0] if data else 0

    def step(carry, t):
        p, s = carry
        batch = data if batch_size is None else _batch(data, key, t, n, batch_size)
        if step_key:
            batch = (*batch, jax.random.fold_in(jax.random.fold_in(key, _STEP_STREAM), t))
        p, s, value = one_step(p, s, *batch)
        return (p, s), (value, p if keep_path else None)

    (params, state), (values, path) = jax.lax.scan(step, (params, state),
                                                   start + jnp.arange(length))
    return params, state, values, path


_CHUNK_STATIC = ("batch_size", "keep_path", "length", "step_key")


@functools.partial(jax.jit, static_argnames=("optimizer", "value_and_grad", *_CHUNK_STATIC))
def _chunk(params, state, key, data, start, *, optimizer, value_and_grad, **options):
    """The chunk of steps, compiled once per (hashable) optimizer and gradient function."""
    return _steps(functools.partial(train_step.kernel, optimizer, value_and_grad), params,
                  state, key, data, start, **options)


def _closed_chunk(optimizer, value_and_grad):
    """The chunk of steps for an optimizer or a gradient function that cannot be hashed (a
    mutable ``@dataclass``, whose fields may change between calls): compiled for one call of
    :func:`fit`, closing over them instead of taking them as static arguments."""
    def one_step(p, s, *batch):
        return train_step.__wrapped__(optimizer, value_and_grad, p, s, *batch)

    return jax.jit(functools.partial(_steps, one_step), static_argnames=_CHUNK_STATIC)


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def fit(optimizer, loss_fn: Callable, params, data=(), *, steps: int,
        batch_size: int | None = None, key=None, value_and_grad: Callable | None = None,
        keep_path: bool = False, log_every: int | None = None,
        evaluate: Callable | None = None, callback: Callable | None = None,
        step_key: bool = False):
    r"""Minimise ``loss_fn(params, *data)`` with ``optimizer`` for ``steps`` updates.

    Step $t$ computes $\ell_t = L(\theta_t; \text{batch}_t)$ and its gradient $g_t$, asks
    the optimizer for the update, $(u_t, s_{t+1}) = \text{update}(g_t, s_t, \theta_t)$,
    and sets $\theta_{t+1} = \theta_t + u_t$: :func:`train_step`.

    Args:
        optimizer: an object with ``init(params)`` and ``update(grads, state, params)``:
            :mod:`dlmath.optim`'s, a :func:`dlmath.transforms.chain` (clipping before an
            optimizer), optax's unchanged, or a class of one's own. A hashable optimizer
            (those above, a ``@dataclass(frozen=True)``) is a static argument of the compiled
            steps, which later calls with the same optimizer reuse; one that cannot be hashed
            (a mutable ``@dataclass``, whose fields may change between calls) is closed over
            and compiled anew at each call of ``fit``. The same holds for ``loss_fn`` and
            ``value_and_grad``.
        loss_fn: ``loss_fn(params, *batch) -> scalar``, JAX-traceable; its output must be a
            real floating scalar (checked on its shape and dtype while the steps are
            compiled, as is the loss of a ``value_and_grad``).
        params: the start $\theta_0$, a pytree of floating arrays of one dtype.
        data: a tuple of arrays whose leading axes are the $N$ examples; each step passes a
            batch of them (all of them without ``batch_size``). Floating data of another
            dtype than the parameters is cast to theirs (the package's rule, see
            :mod:`dlmath._checks`); integer data (class ids) is left as it is.
        steps: the number of updates $T \ge 0$.
        batch_size: ``None`` for full-batch steps; else $B \in [1, N]$: each epoch shuffles
            the examples and takes $\lfloor N/B \rfloor$ batches of $B$ (the rest of the
            epoch is dropped).
        key: a ``jax.random`` key for the shuffles (needed with ``batch_size``) and for the
            steps' keys (needed with ``step_key``).
        value_and_grad: ``value_and_grad(params, *batch) -> (loss, grads)``, e.g. a
            hand-written gradient; default ``jax.value_and_grad(loss_fn)``.
        keep_path: also return every iterate $\theta_0, \dots, \theta_T$.
        log_every: steps per compiled chunk (default: all of them); ``evaluate`` and
            ``callback`` run after each chunk.
        evaluate: ``evaluate(params) -> dict`` of metrics (held-out accuracy), recorded at
            step 0 and after every chunk.
        callback: ``callback(step, history)`` after every chunk (a progress bar), where
            ``history`` is the :class:`History` so far.
        step_key: give the loss a fresh random key at every step, as its last argument,
            ``loss_fn(params, *batch, key_t)`` (and ``value_and_grad`` likewise), for losses
            that sample (a reparameterised latent, a generator's noise, dropout);
            ``key_t = fold_in(fold_in(key, 2**31 - 1), t)``, a stream apart from the
            shuffles'. Needs ``key``.

    Returns:
        ``(params, history)``: $\theta_T$ and a :class:`History`.

    Raises:
        TypeError: an optimizer without ``init``/``update``; a loss that is not callable;
            non-floating parameters or parameters of mixed float dtypes; data that is not a tuple of
            arrays; ``step_key`` or ``keep_path`` not a bool; a ``key`` that is not a
            ``jax.random`` key, or none with ``batch_size`` or ``step_key``; a loss (of
            ``loss_fn`` or ``value_and_grad``) that is not floating.
        ValueError: ``steps < 0``; ``batch_size`` outside ``[1, N]``; data whose leading axes
            differ; ``log_every < 1``; a loss that is not a scalar (a vector of per-example
            losses: take its mean).

    Chapters 01, 03, 04 and 05 train through it.

    Example:
        >>> import jax.numpy as jnp
        >>> from dlmath import optim, training
        >>> loss = lambda p: (p["w"] - 3.0) ** 2
        >>> params, history = training.fit(optim.sgd(0.1), loss, {"w": jnp.array(0.0)}, steps=100)
        >>> round(float(params["w"]), 4)
        3.0
    """
    who = "fit"
    _checks.require_optimizer(who, optimizer)
    _checks.require_callable(who, "loss_fn", loss_fn, "a function params, *batch -> scalar")
    if value_and_grad is not None:
        _checks.require_callable(who, "value_and_grad", value_and_grad,
                                 "a function params, *batch -> (loss, grads)")
    _checks.count(who, "steps", steps)
    if not isinstance(data, tuple):
        raise TypeError(
            f"{who}: data must be a tuple of arrays (X, y, ...); got {type(data).__name__}. "
            "A single array is (X,)."
        )
    dtype = _checks.float_dtype_of_tree(who, "params", params)
    data, n = _checks.examples(who, "data", data, dtype)
    if batch_size is not None:
        if n is None:
            raise ValueError(f"{who}: batch_size needs data to draw batches from; got data=().")
        _checks.count(who, "batch_size", batch_size, low=1, high=n)
    _checks.require_flag(who, "step_key", step_key)
    _checks.require_flag(who, "keep_path", keep_path)
    if key is not None or batch_size is not None or step_key:
        _checks.require_key(who, key, "the shuffles of batch_size and the keys of step_key")
    if log_every is None:
        log_every = max(steps, 1)
    _checks.count(who, "log_every", log_every, low=1)
    # compiled once per function, or for this call only where it cannot be hashed
    if value_and_grad is not None:
        vg = (_checked_value_and_grad if _hashable(value_and_grad)
              else _checked_value_and_grad.__wrapped__)(value_and_grad)
    else:
        vg = (_value_and_grad if _hashable(loss_fn) else _value_and_grad.__wrapped__)(loss_fn)
    if _hashable(optimizer) and _hashable(vg):
        chunk = functools.partial(_chunk, optimizer=optimizer, value_and_grad=vg)
    else:
        chunk = _closed_chunk(optimizer, vg)
    if key is None:
        key = jax.random.key(0)  # unused: full-batch steps draw nothing
    state = optimizer.init(params)
    losses, paths = [], [jax.tree_util.tree_map(lambda p: p[None], params)] if keep_path else []
    evaluations = [] if evaluate is None else [(0, evaluate(params))]
    done = 0
    while done < steps:
        length = min(log_every, steps - done)
        params, state, values, path = chunk(
            params, state, key, data, jnp.asarray(done), batch_size=batch_size,
            keep_path=keep_path, length=length, step_key=step_key)
        done += length
        losses.append(values)
        if keep_path:
            paths.append(path)
        if evaluate is not None:
            evaluations.append((done, evaluate(params)))
        if callback is not None:
            callback(done, _history(losses, paths, evaluations, keep_path, dtype))
    return params, _history(losses, paths, evaluations, keep_path, dtype)


def _history(losses, paths, evaluations, keep_path, dtype):
    loss = jnp.concatenate(losses) if losses else jnp.zeros((0,), dtype)
    path = None
    if keep_path:
        path = jax.tree_util.tree_map(lambda *a: jnp.concatenate(a, axis=0), *paths)
    return History(loss, path, list(evaluations))


# ---------------------------------------------------------------- an optimizer's path


def _is_number(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    return hasattr(value, "dtype") and np.shape(value) == ()


@functools.lru_cache(maxsize=64)
def _compiled_path(make_optimizer, loss_fn, steps: int, names: tuple):
    """One jitted ``(params, numbers) -> (path, losses)`` per factory, loss, step count and
    hyper-parameter names: the numbers are traced arguments, so new values reuse it."""
    def run(params, numbers):
        opt = make_optimizer(**dict(zip(names, numbers, strict=True)))
        last, history = fit(opt, loss_fn, params, steps=steps, keep_path=True)
        losses = jnp.concatenate([history.loss, jnp.reshape(loss_fn(last), (1,))])
        return history.path, losses

    return jax.jit(run)


def trajectory(optimizer, loss_fn: Callable, params, steps: int, **hyperparameters):
    r"""The path $\theta_0, \dots, \theta_T$ of ``steps`` full-batch updates on ``loss_fn``,
    through :func:`fit` (``keep_path=True``).

    Two ways to name the optimizer:

    * an optimizer object, ``trajectory(optim.sgd(0.1), loss, w0, 50)`` (this module's or
      optax's): compiled once per object;
    * a factory and its numeric hyper-parameters,
      ``trajectory(optim.adam, loss, w0, 50, learning_rate=0.1, b1=0.9)``: the factory is
      called inside one jitted function with the numbers as *traced* arguments, so calls
      with other values (an explorer's sliders) reuse the compiled code. The numbers are
      range-checked here first (the factory skips checks of traced values). Options that
      change the computation (``nesterov=True``, a mask) go into the factory:
      ``functools.partial(optim.sgd, nesterov=True)``, built once.

    Args:
        optimizer: an object with ``init``/``update``, or a callable returning one.
        loss_fn: a scalar JAX function of the params pytree.
        params: the start $\theta_0$ (a pytree of floating arrays of one dtype).
        steps: the number of updates $T \ge 0$.
        **hyperparameters: real scalars passed to the factory (only with a factory).

    Returns:
        ``(path, losses)``: ``path`` is the params pytree with a leading axis of length
        $T + 1$ (``path[0]`` is the start); ``losses`` is ``(T + 1,)``, the loss at each point.

    Raises:
        ValueError: ``steps < 0``; a hyper-parameter out of its range; a ``loss_fn`` whose
            output is not a scalar.
        TypeError: ``steps`` not an int; an optimizer object given hyper-parameters; a factory that
            does not return an optimizer; a hyper-parameter that is not a real scalar; ``loss_fn``
            not callable, or its output not floating; non-floating params.

    The explorations of ``notebooks/05_optimizers.ipynb`` (ill-conditioned quadratic,
    Rosenbrock) and :func:`dlmath.widgets.optimizer_explorer` are drawn from it.
    """
    who = "trajectory"
    _checks.count(who, "steps", steps)
    _checks.require_callable(who, "loss_fn", loss_fn, "a callable params -> scalar")
    _checks.float_dtype_of_tree(who, "params", params)
    _checks.require_scalar_loss(who, "loss_fn(params)", jax.eval_shape(loss_fn, params))
    try:
        _checks.require_optimizer(who, optimizer)
    except TypeError:
        pass  # a factory, below
    else:
        if hyperparameters:
            raise TypeError(
                f"{who}: hyper-parameters {sorted(hyperparameters)} were given with an "
                f"optimizer object ({type(optimizer).__name__}); pass its factory instead, "
                "e.g. trajectory(optim.adam, loss_fn, params, steps, learning_rate=0.1)."
            )
        last, history = fit(optimizer, loss_fn, params, steps=steps, keep_path=True)
        losses = jnp.concatenate([history.loss, jnp.reshape(loss_fn(last), (1,))])
        return history.path, losses
    if not callable(optimizer):
        raise TypeError(
            f"{who}: optimizer must have init and update functions, or be a factory that "
            f"returns such an object; got {type(optimizer).__name__}. Pass e.g. "
            "dlmath.optim.sgd(0.1), optax.adam(1e-3), or dlmath.optim.adam with "
            "learning_rate=..."
        )
    for name, value in hyperparameters.items():
        if not _is_number(value):
            raise TypeError(
                f"{who}: hyper-parameter {name} must be a real scalar (it becomes a traced "
                f"argument); got {type(value).__name__} {value!r}. Put options such as "
                "nesterov=True into the factory: functools.partial(optim.sgd, nesterov=True)."
            )
    try:
        probe = optimizer(**hyperparameters)  # the range checks, on the concrete values
    except TypeError as err:
        raise TypeError(
            f"{who}: optimizer must have init and update functions, or be a factory that "
            f"accepts the hyper-parameters {sorted(hyperparameters)}; calling "
            f"{getattr(optimizer, '__name__', type(optimizer).__name__)} with them raised: "
            f"{err}"
        ) from err
    _checks.require_optimizer(who, probe)
    names = tuple(sorted(hyperparameters))
    compiled = _compiled_path if _hashable(optimizer) and _hashable(loss_fn) \
        else _compiled_path.__wrapped__  # compiled for this call only
    run = compiled(optimizer, loss_fn, steps, names)
    return run(params, tuple(hyperparameters[k] for k in names))
