"""The book's defining formulas as SymPy objects: one source for the docs and the tests.

Each public function of :mod:`dlmath` quotes its formula in its docstring as display math
(``$$...$$``). That text must equal ``sympy.latex`` of the matching :class:`Formula` (a
test checks it), the formula is evaluated numerically against the code (another test),
and the chapter notebook proves it equal to its derivation. A docstring, a derivation and
an implementation therefore cannot drift apart.

One submodule per topic (found by name: a new topic module needs no edit here); each
has a ``DOCUMENTED`` dict mapping ``"module.function"`` to
the formulas its docstring quotes as ``$$...$$``, in order. :data:`DOCUMENTED` here is
their union, which the tests walk. Shared sizes and indices (``N``, ``K``, ``n_in``, ``i``,
...) come from :mod:`dlmath.formulas.symbols`, so one name is one SymPy symbol everywhere.
``python -m dlmath.formulas.sync`` writes the registered formulas into the docstrings
(:mod:`dlmath.formulas.sync`); :mod:`dlmath.formulas.registry` reads them back (the ``$$``
blocks, the object of a key); :mod:`dlmath.formulas.links` names the chapter cell that
derives each formula and the tests that check it. Importing this package imports SymPy;
``import dlmath`` does not.
"""

from __future__ import annotations

import importlib
import pkgutil

from dlmath.formulas._formula import Formula
from dlmath.formulas.activations import LOG_SOFTMAX, SOFTMAX
from dlmath.formulas.regression import (
    GD_STEP_BOUND,
    LINEAR_GRADIENT,
    LINEAR_HESSIAN,
    MSE,
    NORMAL_EQUATIONS,
)

__all__ = ["Formula", "DOCUMENTED", "MSE", "LINEAR_GRADIENT", "LINEAR_HESSIAN",
           "NORMAL_EQUATIONS", "GD_STEP_BOUND", "SOFTMAX", "LOG_SOFTMAX"]

#: the modules that are not topics
_NOT_TOPICS = ("_formula", "links", "registry", "symbols", "sync")
#: every topic module of this package, found by name (a new topic needs no edit here)
TOPICS = tuple(importlib.import_module(f"{__name__}.{m.name}")
               for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
               if m.name not in _NOT_TOPICS)

DOCUMENTED: dict[str, tuple[Formula, ...]] = {}
for _topic in TOPICS:
    _clash = DOCUMENTED.keys() & _topic.DOCUMENTED.keys()
    if _clash:
        raise ValueError(f"{_topic.__name__} documents {sorted(_clash)} again")
    DOCUMENTED.update(_topic.DOCUMENTED)
