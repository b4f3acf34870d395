"""The notebook set-up: one call, ``dlmath.setup()``, at the top of every chapter."""

from __future__ import annotations

__all__ = ["setup", "source"]


def setup(*, print_precision: int = 4) -> None:
    """Make a notebook's outputs the same on every machine, CPU or GPU.

    * float32 matmuls at precision ``"highest"`` (GPUs otherwise use TF32, about 3e-4
      relative error instead of 4e-7, which changes printed digits);
    * NumPy (and so JAX) arrays print with ``print_precision`` digits, no scientific noise;
    * SymPy prints LaTeX for MathJax plus plain text (no PNG rendering), its text form
      wrapped at 100 columns whatever the terminal's width.

    It changes global settings, so it runs only when called, never on import.
    """
    import jax
    import numpy as np
    import sympy

    jax.config.update("jax_default_matmul_precision", "highest")
    np.set_printoptions(precision=print_precision, suppress=True)
    sympy.init_printing(use_latex="mathjax", num_columns=100)
    from dlmath.derivation import reset_ledger

    reset_ledger()  # a chapter's "What is verified" table lists its own derivations


def source(fn) -> str:
    """The source of a function as a chapter shows it: its decorators, signature and body,
    without its docstring (the docstring is the API reference; the body is the formula).

    Works on a public function of the one shape (``@_checks.checked``: the body is the
    compiled kernel, the decorator names its checks), on its ``.kernel``, and on any plain
    function or method.

    Raises:
        TypeError: when ``fn`` has no Python source (a builtin, a lambda typed in a shell).
    """
    import ast
    import inspect
    import textwrap

    try:
        text = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as error:
        raise TypeError(f"source: {fn!r} has no Python source to show ({error}).") from None
    tree = ast.parse(text)
    node = tree.body[0] if tree.body else None
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body \
            and isinstance(node.body[0], ast.Expr) \
            and isinstance(getattr(node.body[0], "value", None), ast.Constant) \
            and isinstance(node.body[0].value.value, str):
        lines = text.splitlines(keepends=True)
        doc = node.body[0]
        text = "".join(lines[:doc.lineno - 1] + lines[doc.end_lineno:])
    return text.rstrip("\n")
