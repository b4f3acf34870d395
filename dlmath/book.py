"""The notebook setup helper: one call at the top of every chapter."""

from __future__ import annotations

__all__ = ["setup"]


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
