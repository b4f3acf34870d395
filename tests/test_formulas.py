"""The formulas in the docstrings are the formulas the book derives, and the code computes
them.

* Text: for every ``"module.function"`` in :data:`dlmath.formulas.DOCUMENTED`, the
  docstring's ``$$...$$`` blocks equal ``sympy.latex`` of the registered formulas, in order
  (this walks every topic module, so formulas registered later are covered automatically).
* Presence: every public name in the ``__all__`` of each dlmath module has a docstring.
* Numbers: the registered regression, mse and softmax formulas, lambdified, agree with the
  implementation in float64.
"""

from __future__ import annotations

import importlib
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import formulas as F
from dlmath.symbolic import docstring_math

MODULES = ["losses", "activations", "linear_regression", "data", "testing", "bench",
           "symbolic", "layers", "optim", "exercises",
           "plot", "widgets", "information", "logistic_regression"]


def _resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(f"dlmath.{module}"), name)


def test_documented_is_not_empty():
    assert "losses.mse" in F.DOCUMENTED
    assert "linear_regression.mse_gradient" in F.DOCUMENTED


@pytest.mark.parametrize("dotted", sorted(F.DOCUMENTED))
def test_docstring_math_is_the_registered_formula(dotted):
    fn = _resolve(dotted)
    expected = [" ".join(f.latex.split()) for f in F.DOCUMENTED[dotted]]
    assert expected, f"{dotted}: DOCUMENTED lists no formula"
    assert docstring_math(fn) == expected, (
        f"{dotted}: the docstring's $$...$$ blocks differ from sympy.latex of the registered "
        "formulas; paste the output of sympy.latex(formula.expr) into the docstring"
    )


PUBLIC = [
    (m, name)
    for m in MODULES
    for name in importlib.import_module(f"dlmath.{m}").__all__
]


@pytest.mark.parametrize("module, name", PUBLIC, ids=[f"{m}.{n}" for m, n in PUBLIC])
def test_every_public_name_has_a_docstring(module, name):
    obj = getattr(importlib.import_module(f"dlmath.{module}"), name)
    if callable(obj):
        doc = inspect.getdoc(obj)
        assert doc and doc.strip(), f"dlmath.{module}.{name} has no docstring"


# ---------------------------------------------------------------- numbers


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _rng(seed):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("n", [1, 5, 12])
def test_mse_formula_equals_the_code(x64, n):
    from dlmath import losses

    p, t = _rng(n).normal(size=n), _rng(n + 100).normal(size=n)
    ref = float(F.MSE.reference(jnp.asarray(p), jnp.asarray(t), n))
    assert ref == pytest.approx(float(losses.mse(jnp.asarray(p), jnp.asarray(t))), rel=1e-13)
    assert ref == pytest.approx(float(np.mean((p - t) ** 2)), rel=1e-13)


def test_regression_formulas_equal_the_code(x64):
    from dlmath import linear_regression as lr

    n, d = 9, 3
    rng = _rng(0)
    X, w, y = rng.normal(size=(n, d)), rng.normal(size=d), rng.normal(size=n)
    Xj, wj, yj = jnp.asarray(X), jnp.asarray(w), jnp.asarray(y)
    col = lambda v: jnp.asarray(v)[:, None]  # the MatrixSymbols are (., 1) columns

    grad = np.asarray(F.LINEAR_GRADIENT.reference(Xj, col(w), col(y), n))
    assert grad.shape == (d, 1)
    np.testing.assert_allclose(grad[:, 0], np.asarray(lr.mse_gradient(wj, Xj, yj)), rtol=1e-12)

    hess = np.asarray(F.LINEAR_HESSIAN.reference(Xj, n))
    np.testing.assert_allclose(hess, np.asarray(lr.hessian(Xj)), rtol=1e-12)

    normal = np.asarray(F.NORMAL_EQUATIONS.reference(Xj, col(y)))
    np.testing.assert_allclose(normal[:, 0], np.asarray(lr.normal_equations(Xj, yj)),
                               rtol=1e-10)

    lam_max = float(np.linalg.eigvalsh(hess)[-1])
    assert float(F.GD_STEP_BOUND.reference(lam_max)) == pytest.approx(
        float(lr.max_stable_learning_rate(Xj)), rel=1e-12)


@pytest.mark.parametrize("K", [1, 3, 6])
def test_softmax_formulas_equal_the_code_for_each_k(x64, K):
    from dlmath import activations

    x = jnp.asarray(_rng(K).normal(size=K) * 3)
    soft = np.asarray(activations.softmax(x))
    log_soft = np.asarray(activations.log_softmax(x))
    for k in range(K):
        assert float(F.SOFTMAX.reference(x, k, K)) == pytest.approx(soft[k], rel=1e-13)
        assert float(F.LOG_SOFTMAX.reference(x, k, K)) == pytest.approx(
            log_soft[k], rel=1e-13, abs=1e-15)
