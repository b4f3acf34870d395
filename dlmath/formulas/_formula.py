"""The :class:`Formula` record shared by the formula modules."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from dlmath.symbolic import to_jax


@dataclass(frozen=True)
class Formula:
    """A named SymPy expression and the symbols that become its arguments.

    ``latex`` is what the matching docstring must quote between ``$$``; ``reference`` is
    the expression as a JAX function, the test reference for the implementation.
    """

    name: str
    expr: object
    args: tuple

    @property
    def latex(self) -> str:
        return sp.latex(self.expr)

    @cached_property
    def reference(self):
        """The formula as a JAX function of ``args`` (a test reference, not the code)."""
        return to_jax(self.expr, self.args)
