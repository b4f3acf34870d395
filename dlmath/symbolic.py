"""SymPy helpers: symbols with assumptions, showing a result, proving an equality, and
turning the book's own expressions into JAX functions.

Every formula in the book goes through these three steps (the proofs live in
:mod:`dlmath.proofs` and are re-exported here, so a chapter imports this module alone):

* ``prove_equal(claim, derived)`` asserts that the residual ``claim - derived`` simplifies
  to zero, so a claimed step is a proven step;
* ``show(lhs, rhs)`` renders that same SymPy object as math (never retyped LaTeX);
* ``to_jax(expr, args)`` lambdifies it into a JAX function, used as the test reference for
  the hand-written implementation in :mod:`dlmath`.

``lambdify`` runs ``exec`` on the printed expression: only the book's own SymPy objects are
accepted here, never strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp

from dlmath.derivation import (
    Derivation,
    LinearDerivative,
    LinearIntegral,
    LinearSum,
    define,
    verified_table,
)
from dlmath.proofs import (
    ARGUED,
    CHECKED,
    PROVEN,
    Proof,
    ProofError,
    argued,
    as_sympy,
    prove_equal,
    prove_inequality,
)

__all__ = [
    "Derivation",
    "LinearSum",
    "LinearIntegral",
    "LinearDerivative",
    "define",
    "verified_table",
    "ProofError",
    "Proof",
    "PROVEN",
    "CHECKED",
    "ARGUED",
    "prove_inequality",
    "argued",
    "latex_errors",
    "Shown",
    "reals",
    "positives",
    "show",
    "prove_equal",
    "to_jax",
    "docstring_math",
]


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


def show(lhs, rhs=None, *, relation: str = "=") -> Shown:
    """Render ``lhs`` (or ``lhs = rhs``) as display math from the SymPy objects themselves.

    Args:
        lhs: a SymPy expression, matrix or ``Eq``; or, when ``rhs`` is given, the left-hand
            side: a SymPy object, or a string used verbatim as a LaTeX label (a name such
            as ``r"\\nabla_w L"``, never a formula).
        rhs: optional right-hand side, a SymPy object.
        relation: the LaTeX relation between the sides (``"="``, ``"<"``, ``"\\le"``, ...).

    Returns:
        A :class:`Shown`, which Jupyter displays as math and prints as SymPy's text form.

    Raises:
        TypeError: if ``rhs`` (or a lone ``lhs``) is not a SymPy object.
    """
    if rhs is None:
        lhs = as_sympy(lhs, "show", "lhs")
        return Shown(sp.latex(lhs), sp.sstr(lhs))
    rhs = as_sympy(rhs, "show", "rhs")
    if isinstance(lhs, str):
        lhs_latex, lhs_text = lhs, lhs
    else:
        lhs = as_sympy(lhs, "show", "lhs")
        lhs_latex, lhs_text = sp.latex(lhs), sp.sstr(lhs)
    text_rel = {"\\le": "<=", "\\ge": ">=", "\\approx": "~="}.get(relation, relation)
    return Shown(f"{lhs_latex} {relation} {sp.latex(rhs)}", f"{lhs_text} {text_rel} {sp.sstr(rhs)}")


# ---------------------------------------------------------------- LaTeX that typesets

_TEXT_COMMANDS = ("text", "textsf", "textrm", "textbf", "textit", "mathrm", "operatorname")


def latex_errors(latex: str) -> list[str]:
    r"""Problems that would make MathJax show an error box instead of the formula.

    Checks what goes wrong in practice: unbalanced braces, ``\left``/``\right`` pairs, a
    ``$`` inside math, and text-mode arguments (``\text{...}``) holding ``_``, ``^`` or an
    unescaped ``\`` command ("'_' allowed only in math mode"). It is a static check, not a
    TeX engine; the browser tests of the book typeset every page for real.

    Args:
        latex: the math, with or without surrounding ``$`` / ``$$``.

    Returns:
        A list of messages, empty when no problem was found.
    """
    s = latex.strip()
    for fence in ("$$", "$"):
        if s.startswith(fence) and s.endswith(fence) and len(s) >= 2 * len(fence):
            s = s[len(fence):-len(fence)]
            break
    errors = []
    depth, k = 0, 0
    while k < len(s):
        ch = s[k]
        if ch == "\\" and k + 1 < len(s):
            k += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                errors.append(f"unbalanced '}}' at character {k}")
                depth = 0
        elif ch == "$":
            errors.append(f"'$' inside math at character {k}")
        k += 1
    if depth:
        errors.append(f"{depth} unclosed '{{'")
    lefts = len(re.findall(r"\\left(?![a-zA-Z])", s))
    rights = len(re.findall(r"\\right(?![a-zA-Z])", s))
    if lefts != rights:
        errors.append(f"\\left x{lefts} but \\right x{rights}")
    for m in re.finditer(r"\\(" + "|".join(_TEXT_COMMANDS) + r")\{", s):
        if m.group(1) in ("mathrm", "operatorname"):
            continue
        body, j, d = [], m.end(), 1
        while j < len(s) and d:
            if s[j] == "\\" and j + 1 < len(s):
                body.append(s[j:j + 2])
                j += 2
                continue
            d += {"{": 1, "}": -1}.get(s[j], 0)
            if d:
                body.append(s[j])
            j += 1
        text = "".join(body)
        bad = re.sub(r"\\[_#%&${}]|\\\^\{\}|\\backslash\{\}|\\ ", "", text)
        for c in "_^":
            if c in bad:
                errors.append(f"'{c}' allowed only in math mode, inside \\{m.group(1)}"
                              f"{{{text}}}")
        if re.search(r"\\[a-zA-Z]", bad):
            errors.append(f"a command inside \\{m.group(1)}{{{text}}}")
    return errors


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

    expr = as_sympy(expr, "to_jax", "expr")
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
    """The display-math blocks (``$$ ... $$``) of an object's docstring, in order, each with
    its whitespace joined (:func:`dlmath.formulas.registry.math_blocks` of
    ``inspect.getdoc(obj)``; a ``$$`` inside an inline literal is text, not math).

    A chapter uses it to show that the formula a docstring states is the one it derives.
    """
    import inspect

    from dlmath.formulas.registry import math_blocks

    return math_blocks(inspect.getdoc(obj))
