"""The shared size and index symbols of the formula modules, each defined once.

SymPy treats two symbols of one name but different assumptions as *different* symbols, so a
formula built with ``n_in`` (integer, positive) and another built with a second ``n_in``
(positive only) would not cancel against each other in a proof. Every topic module imports
the symbols below instead of creating its own.

Sizes (integer, positive):

* :data:`N` examples in a batch, :data:`D` input features, :data:`K` classes (or outputs of
  a softmax), :data:`n_in` / :data:`n_out` the fan-in / fan-out of a layer, :data:`L` the
  number of layers.

Indices:

* :data:`i`, :data:`j`, :data:`k` (integer, nonnegative): 0-based, as the code's arrays
  (examples run over ``i = 0 .. N - 1``, classes over ``k = 0 .. K - 1``);
* :data:`c` (integer, nonnegative): a class id;
* :data:`l` (integer, positive): a layer, 1-based as in the chapters (``l = 1 .. L``);
* :data:`t` (integer, positive): an optimizer step, counted from 1.

Hyper-parameters shared by several topics:

* :data:`lam` ($\\lambda$, nonnegative): the L2 weight of the regularised models and the
  weight decay of AdamW.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["N", "D", "K", "n_in", "n_out", "L", "i", "j", "k", "c", "l", "t", "lam"]

N, D, K = sp.symbols("N D K", integer=True, positive=True)
n_in, n_out = sp.symbols("n_in n_out", integer=True, positive=True)
L = sp.Symbol("L", integer=True, positive=True)

i, j, k = sp.symbols("i j k", integer=True, nonnegative=True)
c = sp.Symbol("c", integer=True, nonnegative=True)
l = sp.Symbol("l", integer=True, positive=True)
t = sp.Symbol("t", integer=True, positive=True)

lam = sp.Symbol("lambda", nonnegative=True)
