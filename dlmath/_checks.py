"""The input checks of every public function: one rule across the package.

Each check raises ``ValueError`` (a shape, a size, a value out of range) or ``TypeError``
(a dtype, a kind of object), and its message names the function (``who``), the argument,
what was expected (shapes in legend letters), what was seen, and a hint. Checks of shapes
and dtypes are static, so they cost nothing under ``jit``; checks of *values* (a learning
rate's sign, a class id's range) run only where the value is concrete and are skipped when
it is traced (under ``jit`` the value is unknown; each function documents what it then
returns).

The rules, for every function:

* **Arrays.** An argument documented as an array must be one (jax or numpy, or a Python
  scalar where a scalar is documented); lists are refused with a hint.
* **Float dtypes.** Floating inputs may be float16, bfloat16, float32 or float64; complex
  and integer arrays are refused where floats are documented (an imaginary part is never
  dropped silently). A function *with parameters* (layers, optimizers, regressions, the
  training loop) computes in the dtype of its parameters: data, targets and gradients of
  another float dtype are cast to it (:func:`cast_floats`), so a float16 model trains on
  float32 data and a carried state never changes type (one opt-in exception: an optimizer
  built with ``state_dtype`` keeps its state, and casts gradients, in that dtype, so a float16
  model can have a float32 Adam state). A function without parameters
  (losses, activations) follows JAX's type promotion.
* **Class ids.** Labels are integers of any width (uint8 ... int64), compared and indexed
  in at least 32 bits (so uint8 ids and ``K >= 256`` classes never overflow). Concrete ids
  outside ``[0, K)`` raise ``ValueError``; under ``jit`` (unknown values) a loss is NaN for
  that example, so it shows in any mean.
* **Hyper-parameters.** Real scalars (never bools, complex numbers or callables), finite, in
  their documented range; a learning rate is ``> 0``. Range checks are skipped for traced
  values, so hyper-parameters may be ``jit`` arguments.
* **Empty axes.** A reduction over an empty axis (a mean over ``N = 0`` examples, a softmax
  over ``K = 0`` classes) raises, naming the axis; an empty *batch* axis that is not
  reduced passes through and returns an empty result, as ``jax.nn`` does.
* **Pytrees.** Gradients, updates and states must have the structure and leaf shapes of the
  parameters they belong to.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

# ---------------------------------------------------------------- shapes and dtypes


def shape_of(x) -> tuple[int, ...]:
    return tuple(np.shape(x))


def fmt(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def is_traced(x) -> bool:
    """True for a value that is being traced (under ``jit``, ``grad``, ``vmap``)."""
    return isinstance(x, jax.core.Tracer)


def dtype_of(x, who: str, name: str):
    """The dtype of an array argument; ``TypeError`` for lists and other objects."""
    if isinstance(x, (list, tuple, dict, str)) or x is None:
        raise TypeError(
            f"{who}: {name} must be an array (jax or numpy); got {type(x).__name__}. "
            "Wrap lists with jnp.asarray(...)."
        )
    try:
        return jnp.result_type(x)
    except TypeError as e:
        raise TypeError(
            f"{who}: {name} must be an array (jax or numpy); got {type(x).__name__}. "
            "Wrap lists with jnp.asarray(...)."
        ) from e


def require_floating(who: str, name: str, x, hint: str = "") -> None:
    dt = dtype_of(x, who, name)
    if not jnp.issubdtype(dt, jnp.floating):
        extra = " Complex numbers are not supported: pass the real part explicitly." \
            if jnp.issubdtype(dt, jnp.complexfloating) else ""
        raise TypeError(
            f"{who}: {name} must be a floating-point array (float16, bfloat16, float32 or "
            f"float64); got dtype {dt}.{extra}"
            + (f" {hint}" if hint else " Convert it with jnp.asarray(x, jnp.float32).")
        )


def require_real(who: str, name: str, x, *, allow_bool: bool = False) -> None:
    """Float or integer (or bool, with ``allow_bool``); never complex."""
    dt = dtype_of(x, who, name)
    if dt == jnp.bool_ and allow_bool:
        return
    if not (jnp.issubdtype(dt, jnp.floating) or jnp.issubdtype(dt, jnp.integer)):
        raise TypeError(f"{who}: {name} must hold real numbers (float or int); got dtype {dt}.")


def require_same_shape(who: str, a_name: str, a, b_name: str, b, legend: str, hint: str = ""):
    sa, sb = shape_of(a), shape_of(b)
    if sa != sb:
        raise ValueError(
            f"{who}: {b_name} must have the shape of {a_name} {legend}; got {b_name} {fmt(sb)}, "
            f"{a_name} {fmt(sa)}." + (f" {hint}" if hint else " Nothing is broadcast here.")
        )


def require_ndim(who: str, name: str, x, ndim: int, legend: str, hint: str = "") -> None:
    s = shape_of(x)
    if len(s) != ndim:
        raise ValueError(
            f"{who}: {name} must have shape {legend}; got {fmt(s)}." + (f" {hint}" if hint else "")
        )


def require_nonempty(who: str, name: str, x, axis: int, legend: str, what: str,
                     hint: str = "") -> None:
    """``x.shape[axis] >= 1``: the axis is reduced over (a mean of ``what``)."""
    s = shape_of(x)
    if len(s) > (axis if axis >= 0 else -axis - 1) and s[axis] == 0:
        raise ValueError(
            f"{who}: {name} {legend} has no {what} (shape {fmt(s)}); the result is a "
            f"reduction over them and is undefined for none." + (f" {hint}" if hint else "")
        )


def float_dtype_of_tree(who: str, name: str, tree):
    """The one floating dtype of every leaf of a parameter pytree.

    Raises:
        TypeError: a non-floating leaf, or leaves of several float dtypes.
        ValueError: a tree without leaves.
    """
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        raise ValueError(f"{who}: {name} has no arrays (an empty pytree).")
    dtypes = set()
    for leaf in leaves:
        require_floating(who, f"every leaf of {name}", leaf,
                         "Parameters are floating-point; convert with jnp.asarray(x, "
                         "jnp.float32).")
        dtypes.add(jnp.result_type(leaf))
    if len(dtypes) > 1:
        raise TypeError(
            f"{who}: every leaf of {name} must have one float dtype; got "
            f"{sorted(str(d) for d in dtypes)}. Cast them with jax.tree_util.tree_map("
            "lambda p: p.astype(jnp.float32), params)."
        )
    return dtypes.pop()


def require_float_dtype(who: str, name: str, dtype) -> None:
    """``dtype`` names a floating dtype (a ``dtype=`` argument of an initialiser)."""
    try:
        floating = jnp.issubdtype(dtype, jnp.floating)
    except TypeError:
        floating = False
    if not floating:
        raise TypeError(f"{who}: {name} must be a floating dtype (float16, bfloat16, float32 "
                        f"or float64); got {dtype!r}. Parameters are floating-point.")


def cast_floats(dtype, *arrays):
    """The package's mixed-dtype rule: floating arrays are cast to ``dtype`` (the
    parameters'); integer and bool arrays (class ids, masks) are left as they are."""
    out = []
    for a in arrays:
        a = jnp.asarray(a)
        out.append(a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a)
    return tuple(out)


def first_bad(name: str, values, bad) -> str | None:
    """The first entry of ``values`` where the boolean array ``bad`` is ``True``, as an error
    message names it (``"labels[3] = -1"``, ``"X[1, 2] = nan"``); ``None`` where none is."""
    bad = np.asarray(bad)
    if not bad.any():
        return None
    where = tuple(int(k) for k in np.argwhere(bad)[0])
    value = np.asarray(values)[where]
    value = int(value) if np.issubdtype(value.dtype, np.integer) else float(value)
    return f"{name}[{', '.join(map(str, where))}] = {value!r}" if where else f"{name} = {value!r}"


# ---------------------------------------------------------------- hyper-parameters


def _reject_non_number(who: str, name: str, value) -> None:
    if callable(value):
        raise TypeError(
            f"{who}: {name} must be a number; got a callable. Schedules are not supported "
            "by dlmath; use optax (optax.adam(optax.cosine_decay_schedule(...))) for them."
        )
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be a real number; got the bool {value!r}.")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        dt = jnp.result_type(value)
        if not (jnp.issubdtype(dt, jnp.floating) or jnp.issubdtype(dt, jnp.integer)):
            raise TypeError(f"{who}: {name} must be a real number; got dtype {dt}.")
        if shape_of(value) != ():
            raise ValueError(
                f"{who}: {name} must be a scalar; got shape {fmt(shape_of(value))}."
            )
        return
    raise TypeError(f"{who}: {name} must be a real number; got {type(value).__name__}.")


def hyperparameter(who: str, name: str, value, *, low: float | None = None,
                   high: float | None = None, low_open: bool = False, high_open: bool = False,
                   hint: str = "") -> None:
    """A real scalar in ``[low, high]`` (``low_open``/``high_open`` exclude the ends;
    ``None``: no bound), always finite. The range is checked only for a concrete value."""
    _reject_non_number(who, name, value)
    if is_traced(value):
        return
    x = float(value)
    ok = math.isfinite(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = ("(" if low_open or low is None else "[") + f"{lo}, {hi}" + (
            ")" if high_open or high is None else "]")
        raise ValueError(
            f"{who}: {name} must be a finite number in {interval}; got {value!r}."
            + (f" {hint}" if hint else "")
        )


def learning_rate(who: str, value) -> None:
    """A learning rate: a finite real scalar ``> 0`` (checked when concrete)."""
    hyperparameter(
        who, "learning_rate", value, low=0.0, low_open=True,
        hint="The update already carries the minus sign (u = -learning_rate * ...): do not "
             "negate it.",
    )


def count(who: str, name: str, value, *, low: int = 0, high: int | None = None) -> None:
    """A Python int (not a bool) in ``[low, high]``: a number of steps, a size."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{who}: {name} must be an int; got {type(value).__name__} {value!r}.")
    if value < low or (high is not None and value > high):
        hi = "" if high is None else f", {high}]"
        interval = f"[{low}{hi}" if high is not None else f">= {low}"
        raise ValueError(f"{who}: {name} must be an int {interval}; got {value}.")


# ---------------------------------------------------------------- class ids


def labels(who: str, name: str, ids, num_classes: int, batch_shape: tuple, legend: str,
           hint: str = ""):
    """Integer class ids of shape ``batch_shape`` for ``num_classes`` classes.

    Returns the ids as a JAX array of at least 32 bits (uint8 or int16 ids are widened, so
    comparisons with ``K`` and one-hot indices never overflow).

    Raises:
        TypeError: ids that are not integers (floats, bools, one-hot rows).
        ValueError: the wrong shape; concrete ids outside ``[0, num_classes)``.
    """
    dt = dtype_of(ids, who, name)
    if dt == jnp.bool_ or not jnp.issubdtype(dt, jnp.integer):
        raise TypeError(
            f"{who}: {name} must be integer class ids {legend}; got dtype {dt}. "
            + (hint or "For one-hot or probability rows take argmax(axis=-1); for float ids "
               "convert with labels.astype(jnp.int32).")
        )
    s = shape_of(ids)
    if s != tuple(batch_shape):
        raise ValueError(
            f"{who}: {name} must have shape {legend} = {fmt(batch_shape)}; got {fmt(s)}."
            + (f" {hint}" if hint else "")
        )
    return ids_in_range(who, name, ids, num_classes, what="class", letter="K",
                        check="K (the last axis of the logits) and the data")


def ids_in_range(who: str, name: str, ids, bound: int, *, what: str, letter: str, check: str):
    """Integer ids (class ids, node ids) in ``[0, bound)``, checked where they are concrete
    (under ``jit`` the caller documents what an id out of range gives).

    Returns the ids as a JAX array of at least 32 bits (uint8 or int16 ids are widened, so
    comparisons with ``bound`` and indexing never overflow).

    Raises:
        ValueError: a concrete id outside ``[0, bound)``, naming the first one.
    """
    if not is_traced(ids):
        concrete = np.asarray(ids)
        first = first_bad(name, concrete, (concrete < 0) | (concrete >= bound))
        if first is not None:
            raise ValueError(
                f"{who}: {what} ids must lie in [0, {letter}) = [0, {bound}); got {first}. "
                f"Negative ids are not counted from the end; check {check}."
            )
    ids = jnp.asarray(ids)
    if jnp.issubdtype(ids.dtype, jnp.unsignedinteger) or ids.dtype.itemsize < 4:
        ids = ids.astype(jnp.int32)
    return ids


# ---------------------------------------------------------------- pytrees


def require_like(who: str, name: str, tree, ref_name: str, ref, hint: str = "") -> None:
    """``tree`` must have the pytree structure and the leaf shapes of ``ref``."""
    s, r = jax.tree_util.tree_structure(tree), jax.tree_util.tree_structure(ref)
    if s != r:
        raise ValueError(
            f"{who}: {name} must have the pytree structure of {ref_name}; got {name} {s}, "
            f"{ref_name} {r}." + (f" {hint}" if hint else "")
        )
    for k, (a, b) in enumerate(zip(jax.tree_util.tree_leaves(tree),
                                   jax.tree_util.tree_leaves(ref), strict=True)):
        sa, sb = shape_of(a), shape_of(b)
        if sa != sb:
            raise ValueError(
                f"{who}: leaf {k} of {name} must have the shape of leaf {k} of {ref_name} "
                f"{fmt(sb)}; got {fmt(sa)}. Nothing is broadcast here."
            )


def require_keys(who: str, name: str, params, keys, what: str, hint: str) -> None:
    """``params`` is a dict with exactly ``keys`` (a state_dict-like parameter set)."""
    if not isinstance(params, dict) or set(params) != set(keys):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(
            f"{who}: {name} must be a dict with exactly the keys {list(keys)} ({what}); got "
            f"{got}. {hint}"
        )


def require_state(who: str, state, state_type) -> None:
    """An optimizer state of the expected ``NamedTuple`` type (from this optimizer's
    ``init``)."""
    if not isinstance(state, state_type):
        raise TypeError(
            f"{who}: state must be the {state_type.__name__} that this optimizer's "
            f"init(params) returned; got {type(state).__name__}. Build it with "
            "state = opt.init(params), and do not mix the states of two optimizers."
        )


def require_callable(who: str, name: str, value, what: str) -> None:
    if not callable(value):
        raise TypeError(f"{who}: {name} must be {what}; got {type(value).__name__}.")


def require_flag(who: str, name: str, value, why: str = "") -> None:
    """A switch argument: a Python ``bool`` (numpy's ``np.bool_`` too). It changes which
    computation is traced, so an array or a number is refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be a Python bool; got {type(value).__name__} "
                        f"{value!r}." + (f" {why}" if why else ""))


def require_optimizer(who: str, optimizer) -> None:
    """An optimizer as :mod:`dlmath.optim` and optax build them: ``init`` and ``update``."""
    if not all(callable(getattr(optimizer, f, None)) for f in ("init", "update")):
        raise TypeError(
            f"{who}: optimizer must have init(params) and update(grads, state, params), as "
            f"dlmath.optim's and optax's do; got {type(optimizer).__name__}.")


def require_key(who: str, key, what: str = "the random draws") -> None:
    """A ``jax.random`` key (new-style ``jax.random.key`` or a raw ``PRNGKey`` array); a
    missing key is a ``TypeError`` everywhere."""
    dtype = getattr(key, "dtype", None)
    ok = dtype is not None and (jnp.issubdtype(dtype, jax.dtypes.prng_key)
                                or (dtype == jnp.uint32 and shape_of(key)[-1:] == (2,)))
    if not ok:
        raise TypeError(f"{who}: key must be a jax.random key, for {what}; got "
                        f"{type(key).__name__}. Pass key=jax.random.key(0).")


def checked(check, static_argnames=()):
    """The one shape of a public numeric function: the decorated function is the pure
    kernel, compiled with ``jax.jit`` (``static_argnames`` static); the public function
    runs ``check(*args, **kwargs)`` on the arguments as given (outside ``jit``, so a bad
    argument gets a message that names the function), then the kernel. The kernel is the
    public attribute ``.kernel``: a caller that has checked its inputs calls it directly,
    and ``inspect.getsource(f.kernel)`` shows the computation."""
    def decorate(body):
        kernel = jax.jit(body, static_argnames=static_argnames)

        @functools.wraps(body)
        def public(*args, **kwargs):
            check(*args, **kwargs)
            return kernel(*args, **kwargs)

        public.kernel = kernel
        return public

    return decorate
