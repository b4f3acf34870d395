"""SymPy helpers: symbols with assumptions, showing a result, proving an equality, and
turning the book's own expressions into JAX functions.

Every formula in the book goes through these three steps:

* ``prove_equal(claim, derived)`` asserts that the residual ``claim - derived`` simplifies
  to zero, so a claimed step is a proven step;
* ``show(lhs, rhs)`` renders that same SymPy object as math (never retyped LaTeX);
* ``to_jax(expr, args)`` lambdifies it into a JAX function, used as the test reference for
  the hand-written implementation in :mod:`dlmath`.

``lambdify`` runs ``exec`` on the printed expression: only the book's own SymPy objects are
accepted here, never strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sympy as sp

__all__ = [
    "ProofError",
    "Proof",
    "Shown",
    "reals",
    "positives",
    "show",
    "prove_equal",
    "to_jax",
    "docstring_math",
]


class ProofError(AssertionError):
    """A claimed equality whose residual did not simplify to zero."""


def reals(names: str, **assumptions) -> tuple[sp.Symbol, ...] | sp.Symbol:
    """Real symbols, e.g. ``x, y = reals("x y")``. Extra assumptions pass to SymPy."""
    return sp.symbols(names, real=True, **assumptions)


def positives(names: str, **assumptions) -> tuple[sp.Symbol, ...] | sp.Symbol:
    """Positive (hence real) symbols, e.g. ``sigma = positives("sigma")``."""
    return sp.symbols(names, positive=True, **assumptions)


@dataclass(frozen=True)
class Shown:
    """A SymPy result rendered as display math (``text/latex``) with a plain-text twin.

    The LaTeX is produced by ``sympy.latex`` from the object itself, so what the reader
    sees is what was proven.
    """

    latex: str
    text: str

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex}$"

    def __repr__(self) -> str:
        return self.text


def _as_sympy(obj, who: str, arg: str):
    if isinstance(obj, str):
        raise TypeError(
            f"{who}: {arg} must be a SymPy object, got the string {obj!r}. "
            "Build expressions from symbols; strings are never parsed (lambdify runs exec)."
        )
    if isinstance(obj, (sp.Basic, sp.MatrixBase)):
        return obj
    if isinstance(obj, (int, float)):
        return sp.sympify(obj)
    raise TypeError(f"{who}: {arg} must be a SymPy expression or matrix, got {type(obj).__name__}.")


def show(lhs, rhs=None, *, relation: str = "=") -> Shown:
    """Render ``lhs`` (or ``lhs = rhs``) as display math from the SymPy objects themselves.

    Args:
        lhs: a SymPy expression, matrix or ``Eq``; or, when ``rhs`` is given, the left-hand
            side: a SymPy object, or a string used verbatim as a LaTeX label (a name such
            as ``r"\nabla_w L"``, never a formula).
        rhs: optional right-hand side, a SymPy object.
        relation: the LaTeX relation between the sides (``"="``, ``"<"``, ``"\\le"``, ...).

    Returns:
        A :class:`Shown`, which Jupyter displays as math and prints as SymPy's text form.

    Raises:
        TypeError: if ``rhs`` (or a lone ``lhs``) is not a SymPy object.
    """
    if rhs is None:
        lhs = _as_sympy(lhs, "show", "lhs")
        return Shown(sp.latex(lhs), sp.sstr(lhs))
    rhs = _as_sympy(rhs, "show", "rhs")
    if isinstance(lhs, str):
        lhs_latex, lhs_text = lhs, lhs
    else:
        lhs = _as_sympy(lhs, "show", "lhs")
        lhs_latex, lhs_text = sp.latex(lhs), sp.sstr(lhs)
    text_rel = {"\\le": "<=", "\\ge": ">=", "\\approx": "~="}.get(relation, relation)
    return Shown(f"{lhs_latex} {relation} {sp.latex(rhs)}", f"{lhs_text} {text_rel} {sp.sstr(rhs)}")


@dataclass(frozen=True)
class Proof:
    """The record of a proven equality; prints as a one-line check mark."""

    name: str
    lhs: object
    rhs: object

    def __repr__(self) -> str:
        return f"proven: {self.name}"

    def _repr_latex_(self) -> str:
        return (
            f"$\\text{{proven: {self.name}}}\\quad \\displaystyle {sp.latex(self.lhs)} "
            f"= {sp.latex(self.rhs)}$"
        )


def _zero(e) -> bool:
    if isinstance(e, sp.MatrixBase):
        return all(entry == 0 for entry in e)
    return e == 0 or bool(getattr(e, "is_ZeroMatrix", False))


def _is_zero(residual, simplifiers: Sequence[Callable]) -> tuple[bool, object]:
    last = residual
    for simplify in simplifiers:
        last = simplify(last)
        if _zero(last):
            return True, last
    return False, last


def _doit(e):
    return e.doit() if hasattr(e, "doit") else e


def _expand_logs(e):
    # log(a*b) -> log(a) + log(b) where SymPy's assumptions allow it (positive factors)
    if isinstance(e, sp.MatrixBase):
        return e.applyfunc(_expand_logs)
    return sp.expand(sp.expand_log(e))


DEFAULT_SIMPLIFIERS: tuple[Callable, ...] = (_doit, sp.expand, sp.simplify, _expand_logs,
                                             sp.simplify)


def prove_equal(lhs, rhs, name: str = "claim", *, simplifiers: Iterable[Callable] | None = None):
    """Prove ``lhs == rhs`` by showing that the residual ``lhs - rhs`` simplifies to zero.

    The residual is passed through ``doit``, ``expand``, ``simplify``, ``expand_log`` (safe
    form, with the symbols' assumptions) and ``simplify`` in turn (or through
    ``simplifiers`` when given, e.g. ``[lambda e: sp.expand_log(e, force=True)]``); the first
    that yields exactly ``0`` (every entry, for matrices) ends the proof.

    Args:
        lhs, rhs: SymPy expressions or matrices of the same shape.
        name: what is being proven, used in the report and in the error message.
        simplifiers: the functions to try on the residual, in order.

    Returns:
        A :class:`Proof`, which prints as ``proven: <name>``.

    Raises:
        ProofError: (an ``AssertionError``) when the residual does not simplify to zero; the
            message shows the simplified residual, which is the counterexample to study.
        TypeError: when an argument is not a SymPy object (strings are refused).
        ValueError: when two matrices have different shapes.
    """
    lhs = _as_sympy(lhs, "prove_equal", "lhs")
    rhs = _as_sympy(rhs, "prove_equal", "rhs")
    # a matrix expression (MatrixSymbol algebra) compared with 0 means its zero matrix
    if isinstance(lhs, sp.MatrixExpr) and rhs == 0:
        rhs = sp.ZeroMatrix(*lhs.shape)
    if isinstance(rhs, sp.MatrixExpr) and lhs == 0:
        lhs = sp.ZeroMatrix(*rhs.shape)
    matrix = (sp.MatrixBase, sp.MatrixExpr)
    lmat, rmat = isinstance(lhs, matrix), isinstance(rhs, matrix)
    if lmat != rmat or (lmat and lhs.shape != rhs.shape):
        raise ValueError(
            f"prove_equal: '{name}': both sides must be scalars or matrices of one shape; got "
            f"{getattr(lhs, 'shape', 'scalar')} and {getattr(rhs, 'shape', 'scalar')}."
        )
    simplifiers = DEFAULT_SIMPLIFIERS if simplifiers is None else tuple(simplifiers)
    ok, residual = _is_zero(lhs - rhs, simplifiers)
    if not ok:
        raise ProofError(
            f"prove_equal: '{name}' is not proven: the residual lhs - rhs simplifies to "
            f"{sp.sstr(residual)}, not 0. Either the claim is wrong, or it needs assumptions "
            "on the symbols (real=True, positive=True) or another simplifier."
        )
    return Proof(name, lhs, rhs)


def to_jax(expr, args: Sequence, *, modules=None) -> Callable:
    """Turn one of the book's SymPy expressions into a JAX function with ``sympy.lambdify``.

    ``erf`` is mapped to ``jax.scipy.special.erf`` (SymPy 1.14 would otherwise pick
    ``math.erf``, which fails on arrays). Use the result as a *reference* for tests: a
    lambdified formula is not numerically hardened (the naive softmax is not stable).

    Args:
        expr: a SymPy expression or matrix (never a string: lambdify runs ``exec``).
        args: the symbols (or ``IndexedBase``/``MatrixSymbol``) that become positional
            arguments, in order.
        modules: overrides the default ``[{"erf": jax.scipy.special.erf}, "jax"]``.

    Returns:
        A Python function of ``args`` built from ``jax.numpy`` operations; pass it float
        arrays (integer inputs break ``jax.grad``). A constant or ``Piecewise`` result can
        come back *weakly typed*, and JAX computes weak float64 times float32 in float32:
        compare references in float64 throughout (as :func:`dlmath.testing.verify` does).

    Raises:
        TypeError: when ``expr`` is not a SymPy object, or ``args`` holds a non-symbol.
    """
    import jax.scipy.special

    expr = _as_sympy(expr, "to_jax", "expr")
    args = list(args) if isinstance(args, (list, tuple)) else [args]
    for a in args:
        if not isinstance(a, (sp.Symbol, sp.IndexedBase, sp.MatrixSymbol, sp.Indexed)):
            raise TypeError(
                f"to_jax: every entry of args must be a SymPy Symbol, IndexedBase or "
                f"MatrixSymbol; got {a!r} ({type(a).__name__})."
            )
    if modules is None:
        modules = [{"erf": jax.scipy.special.erf}, "jax"]
    return sp.lambdify(args, expr, modules=modules)


def docstring_math(obj) -> list[str]:
    """The display-math blocks (``$$ ... $$``) of an object's docstring, in order.

    Tests use it to check that the formula a docstring states is the one the book derives.
    """
    import inspect
    import re

    doc = inspect.getdoc(obj) or ""
    return [" ".join(m.split()) for m in re.findall(r"\$\$(.+?)\$\$", doc, flags=re.S)]
