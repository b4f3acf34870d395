"""Formulas of the cross-entropy losses, logistic and softmax regression, and the
information quantities behind them (chapter 03, ``notebooks/03_cross_entropy.ipynb``).

Symbols: ``z`` logits, ``y`` targets (a probability, or a probability vector over ``K``
classes), ``c`` a class id, ``p``/``q`` discrete distributions over ``K`` outcomes, and for
the models ``X: (N, D)``, ``W: (D, K)``, probabilities ``P: (N, K)``, one-hot ``Y: (N, K)``.
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula
from dlmath.formulas.symbols import D, K, N, c, i, j, k
from dlmath.formulas.symbols import lam as _lam

__all__ = [
    "BCE_DEFINITION", "BCE_WITH_LOGITS", "BCE_GRADIENT", "SOFTMAX_CROSS_ENTROPY",
    "SOFTMAX_CROSS_ENTROPY_INTEGER", "SOFTMAX_CROSS_ENTROPY_INTEGER_GRADIENT",
    "LOGISTIC_GRADIENT_W", "LOGISTIC_GRADIENT_B",
    "SOFTMAX_GRADIENT_W", "SOFTMAX_GRADIENT_B", "ENTROPY", "KL_DIVERGENCE", "CROSS_ENTROPY",
    "SMOOTH_LABELS",
    "K", "N", "D", "i", "j", "k", "c",
]

_z, _y = sp.symbols("z y", real=True)
_zs = sp.IndexedBase("z", real=True)
_ys = sp.IndexedBase("y", real=True)
_p = sp.IndexedBase("p", real=True)
_q = sp.IndexedBase("q", real=True)


def _sigmoid(t):
    return 1 / (1 + sp.exp(-t))


def _logsumexp(z):
    return sp.log(sp.Sum(sp.exp(z[j]), (j, 0, K - 1)))


# Binary cross-entropy of a logit z against a target y in [0, 1]: the definition as the
# negative Bernoulli log-likelihood, and the stable form the code evaluates.
BCE_DEFINITION = Formula(
    "losses.binary_cross_entropy_with_logits.definition",
    -_y * sp.log(_sigmoid(_z)) - (1 - _y) * sp.log(1 - _sigmoid(_z)),
    (_z, _y),
)
BCE_WITH_LOGITS = Formula(
    "losses.binary_cross_entropy_with_logits",
    sp.Max(_z, 0) - _z * _y + sp.log(1 + sp.exp(-sp.Abs(_z))),
    (_z, _y),
)
# Its derivative in the logit, the gradient that logistic regression carries back.
BCE_GRADIENT = Formula("losses.sigmoid_binary_cross_entropy_gradient", _sigmoid(_z) - _y,
                       (_z, _y))

# Softmax cross-entropy of logits z_0..z_{K-1} against probabilities y_0..y_{K-1}, and
# against a class id c.
SOFTMAX_CROSS_ENTROPY = Formula(
    "losses.softmax_cross_entropy",
    -sp.Sum(_ys[k] * (_zs[k] - _logsumexp(_zs)), (k, 0, K - 1)),
    (_zs, _ys, K),
)
SOFTMAX_CROSS_ENTROPY_INTEGER = Formula(
    "losses.softmax_cross_entropy_with_integer_labels",
    _logsumexp(_zs) - _zs[c],
    (_zs, c, K),
)
# Entry k of its gradient in the logits: softmax(z)_k - [k = c].
SOFTMAX_CROSS_ENTROPY_INTEGER_GRADIENT = Formula(
    "losses.softmax_cross_entropy_with_integer_labels_gradient",
    sp.exp(_zs[k]) / sp.Sum(sp.exp(_zs[j]), (j, 0, K - 1)) - sp.KroneckerDelta(k, c),
    (_zs, k, c, K),
)


def _model_gradients():
    X = sp.MatrixSymbol("X", N, D)
    w = sp.MatrixSymbol("w", D, 1)
    p = sp.MatrixSymbol("p", N, 1)
    y = sp.MatrixSymbol("y", N, 1)
    W = sp.MatrixSymbol("W", D, K)
    P = sp.MatrixSymbol("P", N, K)
    Y = sp.MatrixSymbol("Y", N, K)
    ones = sp.MatrixSymbol("1_N", N, 1)
    gw = Formula("logistic_regression.logistic_gradient.w",
                 X.T * (p - y) / N + _lam * w, (X, p, y, w, _lam, N))
    gb = Formula("logistic_regression.logistic_gradient.b",
                 sp.Sum(_p[i] - _ys[i], (i, 0, N - 1)) / N, (_p, _ys, N))
    sw = Formula("logistic_regression.softmax_gradient.W",
                 X.T * (P - Y) / N + _lam * W, (X, P, Y, W, _lam, N))
    sb = Formula("logistic_regression.softmax_gradient.b",
                 (P - Y).T * ones / N, (P, Y, ones, N))
    return gw, gb, sw, sb


LOGISTIC_GRADIENT_W, LOGISTIC_GRADIENT_B, SOFTMAX_GRADIENT_W, SOFTMAX_GRADIENT_B = (
    _model_gradients()
)

# Information quantities of discrete distributions p, q over K outcomes.
ENTROPY = Formula("information.entropy", -sp.Sum(_p[k] * sp.log(_p[k]), (k, 0, K - 1)),
                  (_p, K))
KL_DIVERGENCE = Formula("information.kl_divergence",
                        sp.Sum(_p[k] * sp.log(_p[k] / _q[k]), (k, 0, K - 1)), (_p, _q, K))
CROSS_ENTROPY = Formula("information.cross_entropy",
                        -sp.Sum(_p[k] * sp.log(_q[k]), (k, 0, K - 1)), (_p, _q, K))

# Label smoothing of probability labels y_0..y_{K-1} with weight alpha in [0, 1].
_alpha = sp.Symbol("alpha", nonnegative=True)
SMOOTH_LABELS = Formula("losses.smooth_labels", (1 - _alpha) * _ys[k] + _alpha / K,
                        (_ys, k, K, _alpha))

DOCUMENTED = {
    "losses.smooth_labels": (SMOOTH_LABELS,),
    "losses.binary_cross_entropy_with_logits": (BCE_DEFINITION, BCE_WITH_LOGITS),
    "losses.softmax_cross_entropy": (SOFTMAX_CROSS_ENTROPY,),
    "losses.sigmoid_binary_cross_entropy_gradient": (BCE_GRADIENT,),
    "losses.softmax_cross_entropy_with_integer_labels": (SOFTMAX_CROSS_ENTROPY_INTEGER,),
    "losses.softmax_cross_entropy_with_integer_labels_gradient": (
        SOFTMAX_CROSS_ENTROPY_INTEGER_GRADIENT,),
    "logistic_regression.logistic_gradient": (LOGISTIC_GRADIENT_W, LOGISTIC_GRADIENT_B),
    "logistic_regression.softmax_gradient": (SOFTMAX_GRADIENT_W, SOFTMAX_GRADIENT_B),
    "information.entropy": (ENTROPY,),
    "information.kl_divergence": (KL_DIVERGENCE,),
    "information.cross_entropy": (CROSS_ENTROPY,),
}
