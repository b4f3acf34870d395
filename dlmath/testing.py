r"""Verification: float64 finite differences and one call that checks an implementation
against its lambdified derivation, ``jax.grad``, finite differences and a peer library.

Every comparison runs in float64 (inside ``jax.enable_x64``), so what is measured is the
formula, not float32 rounding. Errors are relative to the reference's scale:

$$e = \frac{\max_k |a_k - b_k|}{\max(1, \max_k |b_k|)}$$
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "in_float64",
    "finite_difference_grad",
    "relative_error",
    "Check",
    "Report",
    "VerificationError",
    "verify",
]


class VerificationError(AssertionError):
    """An implementation disagreed with a reference beyond the tolerance."""


def _to64(x):
    x = jnp.asarray(x)
    return x.astype(jnp.float64) if jnp.issubdtype(x.dtype, jnp.floating) else x


def _to_numpy(x):
    return np.asarray(x) if isinstance(x, jax.Array) else x


def in_float64(fn: Callable, *args):
    """``fn(*args)`` computed in float64, as every check of this module is.

    The floating arguments (arrays and Python floats) are promoted to float64 and ``fn``
    runs inside ``jax.enable_x64``; the JAX arrays of the result come back as NumPy arrays,
    so nothing computed in float64 is used outside that context. Tests evaluate a
    lambdified formula, a reference or a peer this way, as :func:`verify` runs each of its
    comparisons.

    Args:
        fn: a function (JAX-traceable or not).
        *args: its positional arguments; what is not floating (ints, integer arrays,
            symbols, callables) is passed as it is.

    Returns:
        ``fn(*args)``, with each JAX array of the pytree as a NumPy array.
    """
    with jax.enable_x64(True):
        args = [_to64(a) if isinstance(a, float) or (
            hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.floating)) else a
            for a in args]
        return jax.tree_util.tree_map(_to_numpy, fn(*args))


def finite_difference_grad(f: Callable, x, *, eps: float = 1e-6):
    r"""Gradient of a scalar function by float64 central differences: entry $k$ of the
    result approximates $\partial f / \partial x_k$ by

    $$\frac{f(x + \epsilon e_{k}) - f(x - \epsilon e_{k})}{2 \epsilon}$$

    The truncation error is $O(\epsilon^2)$ and the rounding error $O(u/\epsilon)$ with
    $u \approx 10^{-16}$, so $\epsilon = 10^{-6}$ gives about 10 correct digits.

    Args:
        f: a JAX-traceable function of one floating array returning a scalar.
        x: the point, any shape.
        eps: the step $\epsilon > 0$.

    Returns:
        A float64 NumPy array shaped like ``x``.

    Raises:
        ValueError: if ``eps <= 0`` or ``f(x)`` is not a scalar.
        TypeError: if ``x`` is not floating.
    """
    if not eps > 0:
        raise ValueError(f"finite_difference_grad: eps must be > 0; got {eps}.")
    with jax.enable_x64(True):
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(
                f"finite_difference_grad: x must be floating; got dtype {x.dtype}. "
                "Differences of an integer point are meaningless."
            )
        x = x.astype(jnp.float64)
        fx = jnp.asarray(f(x))
        if fx.shape != ():
            raise ValueError(
                f"finite_difference_grad: f must return a scalar; got shape {fx.shape}."
            )
        basis = jnp.eye(x.size, dtype=jnp.float64).reshape((x.size,) + x.shape)
        central = jax.vmap(lambda e: (f(x + eps * e) - f(x - eps * e)) / (2 * eps))
        return np.asarray(central(basis)).reshape(x.shape)


def relative_error(a, b) -> float:
    r"""$\max_k |a_k - b_k| \,/\, \max(1, \max_k |b_k|)$, in float64.

    Raises:
        ValueError: if the shapes differ (nothing is broadcast).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ: {a.shape} vs {b.shape}.")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def _error(a, b, *, same_shape: bool) -> float:
    """:func:`relative_error` of ``a`` against ``b`` for :func:`verify`: a result of the wrong
    size (or of the wrong shape, when ``same_shape``) is a failed check (error ``inf``), not
    an exception that hides which check it was. Otherwise ``b`` is reshaped to ``a``'s shape
    (a lambdified matrix formula returns columns ``(D, 1)`` where the code returns ``(D,)``).
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.size != b.size or (same_shape and a.shape != b.shape):
        return float("inf")
    return relative_error(a, b.reshape(a.shape))


@dataclass(frozen=True)
class Check:
    """One comparison: ``quantity`` of the implementation against ``reference``."""

    quantity: str
    reference: str
    error: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.error <= self.tolerance


@dataclass
class Report:
    """The result of :func:`verify`: one :class:`Check` per comparison.

    Its printed form states each check and the tolerance it met, not the raw error (which
    varies in the last bits between machines); the errors are in :attr:`errors`.
    """

    name: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def errors(self) -> dict[str, float]:
        return {f"{c.quantity} vs {c.reference}": c.error for c in self.checks}

    @property
    def max_error(self) -> float:
        return max((c.error for c in self.checks), default=0.0)

    def table(self, *, numbers: bool = False) -> str:
        rows = [("quantity", "compared with", "max rel. error", "")]
        for c in self.checks:
            err = f"{c.error:.1e}" if numbers else f"<= {c.tolerance:.0e}"
            if not c.passed:
                err = f"{c.error:.1e} > {c.tolerance:.0e}"
            rows.append((c.quantity, c.reference, err, "ok" if c.passed else "FAILED"))
        widths = [max(len(r[k]) for r in rows) for k in range(4)]
        n_ok = sum(c.passed for c in self.checks)
        lines = [f"{self.name}: {n_ok}/{len(self.checks)} checks passed"]
        for r in rows:
            cells = (s.ljust(w) for s, w in zip(r, widths, strict=True))
            lines.append(("  " + "  ".join(cells)).rstrip())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.table()


def verify(
    fn: Callable,
    args: Sequence,
    *,
    name: str | None = None,
    reference: Callable | None = None,
    peer: Callable | None = None,
    peer_name: str = "peer",
    grad: Callable | None = None,
    grad_reference: Callable | None = None,
    argnum: int = 0,
    finite_differences: bool = True,
    check_grads_order: int | None = 2,
    rtol: float = 1e-10,
    fd_rtol: float = 1e-6,
    raise_on_failure: bool = True,
) -> Report:
    r"""Check an implementation against everything it should agree with, in float64.

    Values: ``fn(*args)`` against ``reference(*args)`` (the lambdified derivation) and
    ``peer(*args)`` (e.g. optax). Gradients with respect to ``args[argnum]`` (when ``fn`` is
    scalar): ``jax.grad(fn)`` against ``grad(*args)`` (a hand-written gradient),
    ``grad_reference(*args)`` (the lambdified derived gradient) and float64 central finite
    differences; and ``jax.test_util.check_grads`` (forward and reverse mode, up to
    ``check_grads_order``), which tests ``jax.grad`` itself against finite differences.

    Args:
        fn: the implementation (JAX-traceable).
        args: its positional arguments; floating ones are promoted to float64.
        name: a label for the report (default ``fn.__name__``).
        reference, peer, grad, grad_reference: optional callables of ``*args``.
        peer_name: the peer's name in the report (``"optax"``).
        argnum: the argument to differentiate.
        finite_differences: also compare with :func:`finite_difference_grad`.
        check_grads_order: order for ``check_grads``; ``None`` skips it.
        rtol: tolerance for exact-arithmetic comparisons (relative, see module doc).
        fd_rtol: tolerance for the finite-difference comparison.
        raise_on_failure: raise :class:`VerificationError` when a check fails.

    Returns:
        A :class:`Report`; printing it gives the table of checks.

    Raises:
        VerificationError: when a check fails and ``raise_on_failure``; the message holds the full
            table with the offending errors.
    """
    from jax.test_util import check_grads

    report = Report(name or getattr(fn, "__name__", "fn"))
    with jax.enable_x64(True):
        args = [_to64(a) for a in args]
        value = np.asarray(fn(*args))
        for label, other in (("derivation", reference), (peer_name, peer)):
            if other is not None:
                err = _error(value, other(*args), same_shape=False)
                report.checks.append(Check("value", label, err, rtol))
        if value.shape == () and (grad or grad_reference or finite_differences
                                  or check_grads_order):
            autodiff = np.asarray(jax.grad(fn, argnums=argnum)(*args))
            if grad is not None:
                report.checks.append(Check(
                    "gradient (by hand)", "jax.grad",
                    _error(grad(*args), autodiff, same_shape=True), rtol))
            if grad_reference is not None:
                err = _error(autodiff, grad_reference(*args), same_shape=False)
                report.checks.append(Check("jax.grad", "derived gradient", err, rtol))
            if finite_differences:
                def f_of(x):
                    a = list(args)
                    a[argnum] = x
                    return fn(*a)

                fd = finite_difference_grad(f_of, args[argnum])
                report.checks.append(Check("jax.grad", "finite differences",
                                           relative_error(autodiff, fd), fd_rtol))
            if check_grads_order:
                diff = tuple(k for k, a in enumerate(args) if jnp.issubdtype(
                    jnp.asarray(a).dtype, jnp.floating))

                def g(*sub):
                    a = list(args)
                    for k, s in zip(diff, sub, strict=True):
                        a[k] = s
                    return fn(*a)

                try:
                    check_grads(g, tuple(args[k] for k in diff), order=check_grads_order,
                                modes=("fwd", "rev"), atol=fd_rtol, rtol=fd_rtol)
                    err = 0.0
                except AssertionError:
                    err = float("inf")
                report.checks.append(Check(f"jax derivatives (order {check_grads_order})",
                                           "jax.test_util.check_grads", err, fd_rtol))
    if raise_on_failure and not report.passed:
        raise VerificationError(report.table(numbers=True))
    return report
