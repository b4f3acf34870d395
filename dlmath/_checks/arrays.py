"""Checks of arrays: shapes, dtypes, switches, keys, and the one shape of a public
numeric function (:func:`checked`)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np


def shape_of(x) -> tuple[int, ...]:
    return tuple(np.shape(x))


def fmt(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def is_traced(x) -> bool:
    """True for a value that is being traced (under ``jit``, ``grad``, ``vmap``)."""
    return isinstance(x, jax.core.Tracer)


def require_concrete(who: str, name: str, x, hint: str = "") -> None:
    """A value that a function reads element by element in Python (a combinatorial
    algorithm): ``TypeError`` for a traced one."""
    if is_traced(x):
        raise TypeError(f"{who}: {name} must be a concrete array; got a traced value (under "
                        f"jit, grad or vmap). {hint or f'Call {who} outside jax.jit.'}")


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


def eps_keeps_positive(eps, dtype) -> bool:
    """``eps`` is a number known now (not traced) and still > 0 in ``dtype`` (float16
    rounds 1e-8 to 0): a denominator ``(a root) + eps`` is then never 0."""
    return not is_traced(eps) and float(np.asarray(eps, dtype)) > 0


def quotient(numerator, denominator, eps=None):
    r"""``numerator / denominator`` with $0/0 = 0$: the package's one rule for ``eps``
    (``eps >= 0``; with ``eps = 0`` a zero denominator can meet a zero numerator: a zero
    gradient history in an optimizer). A nonzero numerator over 0 stays $\pm\infty$, so a
    broken computation still shows. Given the ``eps`` that the denominator (a non-negative
    root plus ``eps``) contains, and :func:`eps_keeps_positive`, the denominator cannot be
    0 and the plain quotient is taken, without the select in the compiled program."""
    if eps is not None and eps_keeps_positive(eps, denominator.dtype):
        return numerator / denominator
    return numerator / jnp.where((denominator == 0) & (numerator == 0),
                                 jnp.ones((), denominator.dtype), denominator)


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


def require_flag(who: str, name: str, value, why: str = "") -> None:
    """A switch argument: a Python ``bool`` (numpy's ``np.bool_`` too). It changes which
    computation is traced, so an array or a number is refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be a Python bool; got {type(value).__name__} "
                        f"{value!r}." + (f" {why}" if why else ""))


def require_optimizer(who: str, optimizer) -> None:
    """An optimizer as :mod:`dlmath.optim` and optax build them: ``init`` and ``update``. A
    class (whose ``init``/``update`` are unbound) is not one: its instances are."""
    if isinstance(optimizer, type):
        raise TypeError(
            f"{who}: optimizer must be an object with init(params) and update(grads, state, "
            f"params); got the class {optimizer.__name__} itself. Pass an instance, "
            f"{optimizer.__name__}(...).")
    if not all(callable(getattr(optimizer, f, None)) for f in ("init", "update")):
        raise TypeError(
            f"{who}: optimizer must have init(params) and update(grads, state, params), as "
            f"dlmath.optim's and optax's do; got {type(optimizer).__name__}.")


@functools.lru_cache(maxsize=8)
def _raw_key_shape(impl: str) -> tuple[int, ...]:
    """The shape of a raw ``jax.random.PRNGKey`` of the default generator ``impl`` (``(2,)``
    for threefry)."""
    return tuple(jax.eval_shape(lambda: jax.random.PRNGKey(0)).shape)


def require_key(who: str, key, what: str = "the random draws") -> None:
    """One ``jax.random`` key: a new-style ``jax.random.key`` (shape ``()``) or a raw
    ``jax.random.PRNGKey`` (a uint32 array of shape ``(2,)``). Anything else is a
    ``TypeError``: a missing key, a number (a seed is not a key), an array of another dtype
    or shape, and a batch of keys (no function of the package takes one: ``jax.vmap`` maps
    a function over keys)."""
    dtype = getattr(key, "dtype", None)
    shape = shape_of(key) if dtype is not None else None
    raw = _raw_key_shape(str(jax.config.jax_default_prng_impl))
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        if shape == ():
            return
        got = f"a batch of keys, a key array of shape {fmt(shape)}"
        hint = "Pass one key (keys[0]), or map the function over the keys with jax.vmap."
    elif dtype is not None and dtype == jnp.uint32 and shape == raw:
        return
    elif dtype is not None and dtype == jnp.uint32:
        got = f"a uint32 array of shape {fmt(shape)}"
        hint = (f"A raw jax.random.PRNGKey has shape {fmt(raw)}" +
                ("; a batch of raw keys is mapped over with jax.vmap." if shape[-1:] == raw
                 else "."))
        hint += " Pass key=jax.random.key(0)."
    else:
        got = (f"a {dtype} array of shape {fmt(shape)}" if dtype is not None
               else type(key).__name__ + (f" {key!r}" if isinstance(key, (int, float, str))
                                          else ""))
        hint = ("A seed is not a key: pass key=jax.random.key(seed)."
                if isinstance(key, (int, np.integer)) and not isinstance(key, bool)
                else "Pass key=jax.random.key(0).")
    raise TypeError(f"{who}: key must be a jax.random key (jax.random.key(seed), or a raw "
                    f"jax.random.PRNGKey(seed), uint32 {fmt(raw)}), for {what}; got {got}. "
                    f"{hint}")


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
