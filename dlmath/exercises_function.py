"""The verdict of an *implement* exercise: :func:`same_function` (re-exported by
:mod:`dlmath.exercises`) compares the reader's function with the book's on random and
edge-case inputs, output by output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _leaves(tree):
    """``[(path, leaf), ...]`` of a pytree; ``None`` is a leaf (a missing output)."""
    import jax

    return jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda v: v is None)[0]


def _key(path) -> tuple:
    """A path with its container types forgotten (a list answers for a tuple)."""
    out = []
    for p in path:
        for attr in ("idx", "key", "name"):
            if hasattr(p, attr):
                out.append(getattr(p, attr))
                break
        else:
            out.append(str(p))
    return tuple(out)


def _leaf_label(k: int, path, names) -> str:
    import jax

    text = f"the {_ordinal(k + 1)} output"
    if names is not None:
        return f"{text} ({names[k]})"
    if len(path) == 1 and not isinstance(path[0], jax.tree_util.SequenceKey):
        return f"{text} ({_key(path)[0]})"
    if len(path) > 1:
        return f"{text} ({jax.tree_util.keystr(path)})"
    return text


def _as_numbers(x):
    """``(float64 or complex128 array, original dtype)`` of an array-like of numbers of any
    array type and dtype (bfloat16 included), or ``None`` for anything else."""
    import jax.numpy as jnp
    import numpy as np

    if x is None or isinstance(x, (str, bytes, dict, set)):
        return None
    try:
        a = np.asarray(x)
    except Exception:
        return None
    dtype = a.dtype
    if dtype.kind in "biuf":
        return a.astype(np.float64), dtype
    if dtype.kind == "c":
        return a.astype(np.complex128), dtype
    try:
        floating = bool(jnp.issubdtype(dtype, jnp.floating))
    except Exception:
        floating = False
    if floating or dtype.kind == "O":
        try:
            return a.astype(np.float64), dtype
        except (TypeError, ValueError):
            return None
    return None


def _type_name(x) -> str:
    dtype = getattr(x, "dtype", None)
    name = type(x).__name__
    return f"{name} of dtype {dtype}" if dtype is not None and hasattr(x, "shape") else name


def same_function(candidate: Callable, reference: Callable, cases: Sequence[tuple],
                  *, rtol: float = 1e-5, atol: float = 1e-6,
                  names: Sequence[str] | None = None) -> tuple[bool, str]:
    """Verdict of an *implement* exercise: does ``candidate`` compute what ``reference`` does?

    Each case is ``(label, args)``; both functions are called with ``*args``. The reference
    returns an array or a pytree of arrays (a tuple, list or dict, e.g. four gradients), and
    the candidate must return the same number of outputs (a list answers for a tuple), each
    compared with its own: never flattened together first. An output may be of any array
    type (a NumPy or JAX array, 0-d included, a Python or NumPy scalar) and any numeric dtype
    (float16 and bfloat16 included: it is compared in float64), and must have the
    reference's shape, the same entries NaN or infinite, and its finite entries within
    ``atol + rtol * |reference|``. Edge cases (large logits, zeros, a batch of one) belong in
    ``cases`` with a label that tells the reader what failed.

    Messages name the case and, for a pytree, the output: ``"On <case> the 3rd output (db1)
    has shape (1, 5); expected (5,)."``; a non-numeric output gets ``"expected an array of
    numbers; got str"``; an output off the tolerance gets the error, where, and the precision
    needed (``"agree to within atol + rtol·|ref| (rtol=..., atol=...)"``, and the significant
    digits its dtype keeps when that is too few).

    Args:
        candidate: the reader's function.
        reference: the book's (a :mod:`dlmath` function).
        cases: ``[(label, args), ...]``, at least one.
        rtol, atol: tolerances.
        names: optional names of the reference's outputs, in pytree leaf order (e.g.
            ``["dW1", "db1", "dW2", "db2"]``), shown in messages.

    Returns:
        ``(ok, explanation)``; the explanation names the first case (and output) that failed.

    Raises:
        ValueError: when ``cases`` is empty, or ``names`` does not name every output of the
            reference.
        TypeError: when the reference returns something that is not numbers.
    """
    if not callable(candidate):
        return False, f"the answer must be a function; got {type(candidate).__name__}."
    if not cases:
        raise ValueError("same_function: cases must hold at least one (label, args) pair.")
    names = None if names is None else [str(n) for n in names]
    for label, args in cases:
        want_leaves = _leaves(reference(*args))
        if names is not None and len(names) != len(want_leaves):
            raise ValueError(f"same_function: names has {len(names)} entries; the reference "
                             f"returns {len(want_leaves)} outputs.")
        try:
            got_tree = candidate(*args)
        except Exception as e:
            return False, f"On {label} it raised {type(e).__name__}: {e}"
        single = len(want_leaves) == 1 and want_leaves[0][0] == ()
        got_leaves = _leaves(got_tree)
        if single and len(got_leaves) != 1:
            got = _as_numbers(got_tree) if not isinstance(got_tree, dict) else None
            if got is None:
                return False, (f"On {label} it returned {len(got_leaves)} outputs; expected "
                               "one array.")
            got_leaves = [((), got_tree)]
        if len(got_leaves) != len(want_leaves):
            return False, (f"On {label} it returned {len(got_leaves)} output"
                           f"{'' if len(got_leaves) == 1 else 's'}; expected "
                           f"{len(want_leaves)}.")
        if not single and [_key(p) for p, _ in got_leaves] != [_key(p) for p, _ in want_leaves]:
            return False, (f"On {label} its outputs are laid out as "
                           f"{[_key(p) for p, _ in got_leaves]}; expected "
                           f"{[_key(p) for p, _ in want_leaves]}.")
        for k, ((path, w), (_, g)) in enumerate(zip(want_leaves, got_leaves, strict=True)):
            subject = "it" if single else _leaf_label(k, path, names)
            want = _as_numbers(w)
            if want is None:
                raise TypeError(f"same_function: the reference returned {_type_name(w)} on "
                                f"{label}; it must return arrays of numbers.")
            want64, _ = want
            got = _as_numbers(g)
            if got is None:
                where = f"On {label}" if single else f"On {label}, {subject}"
                return False, f"{where}: expected an array of numbers; got {_type_name(g)}."
            got64, got_dtype = got
            if got64.shape != want64.shape:
                verb = "returned shape" if single else "has shape"
                return False, (f"On {label} {subject} {verb} {got64.shape}; expected "
                               f"{want64.shape}.")
            why = _off(got64, want64, got_dtype, rtol, atol)
            if why is not None:
                if why.startswith("NaN"):
                    whose = "its" if single else f"the {subject[4:]}'s"
                    return False, f"On {label} {whose} {why}"
                return False, f"On {label} {subject} {why}"
    return True, f"Agrees with the reference on all {len(cases)} cases."


def _off(got, want, got_dtype, rtol, atol) -> str | None:
    """Why ``got`` is not ``want`` (same shapes), or ``None``."""
    import jax.numpy as jnp
    import numpy as np

    same_nonfinite = np.array_equal(np.isnan(got), np.isnan(want)) and np.array_equal(
        np.where(np.isinf(want), want, 0), np.where(np.isinf(got), got, 0))
    if not same_nonfinite:
        return "NaN/infinite entries differ from the reference's."
    fin = np.isfinite(want)
    bound = atol + rtol * np.abs(want)
    excess = np.where(fin, np.abs(got - want) - bound, -np.inf)
    if not np.any(excess > 0) and np.all(np.isfinite(got[fin])):
        return None
    err = float(np.max(np.abs(got[fin] - want[fin])))
    idx = np.unravel_index(int(np.argmax(excess)), want.shape) if want.ndim else ()
    at = f" (at index {tuple(int(i) for i in idx)}: {got[idx]:.6g} instead of {want[idx]:.6g})" \
        if want.ndim else f" ({complex(got).real if np.iscomplexobj(got) else float(got):.6g} " \
        f"instead of {complex(want).real if np.iscomplexobj(want) else float(want):.6g})"
    text = (f"is off by up to {err:.2e}{at}; it must agree to within atol + rtol·|ref| "
            f"(rtol={rtol:g}, atol={atol:g}).")
    try:
        if jnp.issubdtype(got_dtype, jnp.floating):
            digits = int(jnp.finfo(got_dtype).precision)
            needed = int(np.ceil(-np.log10(rtol))) if rtol > 0 else None
            if needed is not None and digits < needed:
                text += (f" Its dtype {got_dtype} keeps about {digits} significant digits; "
                         f"this case needs about {needed}.")
    except Exception:
        pass
    return text
