"""Unit tests of dlmath.testing: finite differences, relative_error, verify."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath.testing import (
    VerificationError,
    finite_difference_grad,
    in_float64,
    relative_error,
    verify,
)


def f(x):
    return jnp.sum(jnp.sin(x) * x**2)


def f_numpy(x):
    return np.sum(np.sin(x) * x**2)


def grad_f(x):
    """d/dx sin(x) x^2 = cos(x) x^2 + 2 x sin(x), elementwise (the closed form)."""
    return jnp.cos(x) * x**2 + 2 * x * jnp.sin(x)


def grad_f_missing_2(x):
    return jnp.cos(x) * x**2 + x * jnp.sin(x)


X_VEC = np.linspace(-2.0, 2.5, 7)
X_MAT = np.linspace(-1.5, 1.8, 12).reshape(3, 4)


# ---------------------------------------------------------------- finite_difference_grad


@pytest.mark.parametrize("x", [X_VEC, X_MAT], ids=["vector", "matrix"])
def test_finite_differences_match_the_closed_form(x):
    fd = finite_difference_grad(f, x)
    assert fd.shape == x.shape
    assert fd.dtype == np.float64
    exact = in_float64(grad_f, x)
    np.testing.assert_allclose(fd, exact, rtol=0, atol=1e-8)


def test_finite_differences_promote_float32_input_to_float64():
    # float32 differences with eps = 1e-6 would be wrong in the 2nd digit; float64 is not.
    fd = finite_difference_grad(f, X_VEC.astype(np.float32))
    exact = in_float64(grad_f, X_VEC.astype(np.float32))
    np.testing.assert_allclose(fd, exact, rtol=0, atol=1e-8)


# ---------------------------------------------------------------- in_float64


def test_in_float64_promotes_floats_passes_the_rest_and_returns_numpy():
    def f(x, n, y, key):
        return {"sum": x + 1e-10 * n, "y": y, "dtypes": (x.dtype, y.dtype), "key": key}

    key = ("not", "an", "array")
    out = in_float64(f, np.float32(1.0), 3, np.arange(3), key)
    assert isinstance(out["sum"], np.ndarray) and out["sum"].dtype == np.float64
    assert out["sum"] == 1.0 + 3e-10  # float32 would round the 3e-10 away
    assert out["dtypes"] == (jnp.float64, np.arange(3).dtype)  # ints are not promoted
    assert out["key"] == key
    assert float(in_float64(lambda a: a / 3, 1.0)) == 1 / 3  # a Python float: float64


@pytest.mark.parametrize("eps", [0.0, -1e-6])
def test_finite_differences_refuse_bad_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        finite_difference_grad(f, X_VEC, eps=eps)


def test_finite_differences_refuse_non_scalar_f():
    with pytest.raises(ValueError, match="scalar"):
        finite_difference_grad(lambda x: jnp.sin(x), X_VEC)


def test_finite_differences_refuse_integer_x():
    with pytest.raises(TypeError, match="floating"):
        finite_difference_grad(f, np.arange(3))


# ---------------------------------------------------------------- relative_error


def test_relative_error_basics():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    # small reference: absolute error (denominator max(1, .) = 1)
    assert relative_error([0.5], [0.25]) == pytest.approx(0.25)
    # large reference: relative to its largest entry
    assert relative_error([110.0, 1.0], [100.0, 1.0]) == pytest.approx(0.1)
    assert relative_error(np.zeros((0,)), np.zeros((0,))) == 0.0
    assert relative_error([np.nan], [1.0]) == float("inf")
    assert relative_error([1.0], [np.inf]) == float("inf")


def test_relative_error_refuses_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(3,\) vs \(3, 1\)"):
        relative_error(np.zeros(3), np.zeros((3, 1)))


# ---------------------------------------------------------------- verify


def _verify_f(**kwargs):
    defaults = dict(
        name="sin(x) x^2",
        reference=lambda x: f_numpy(np.asarray(x)),
        peer=lambda x: jnp.vdot(jnp.sin(x), x * x),
        peer_name="vdot",
        grad=grad_f,
    )
    defaults.update(kwargs)
    return verify(f, [X_VEC], **defaults)


def test_verify_passes_a_correct_implementation_and_lists_every_check():
    report = _verify_f()
    assert report.passed
    assert len(report.checks) == 5
    pairs = [(c.quantity, c.reference) for c in report.checks]
    assert pairs == [
        ("value", "derivation"),
        ("value", "vdot"),
        ("gradient (by hand)", "jax.grad"),
        ("jax.grad", "finite differences"),
        ("jax derivatives (order 2)", "jax.test_util.check_grads"),
    ]
    text = repr(report)
    assert text.splitlines()[0] == "sin(x) x^2: 5/5 checks passed"
    for quantity, reference in pairs:
        assert any(quantity in line and reference in line for line in text.splitlines())
    assert "FAILED" not in text
    assert report.max_error <= 1e-6
    assert set(report.errors) == {f"{q} vs {r}" for q, r in pairs}


def test_verify_grad_reference_check():
    report = verify(f, [X_VEC], grad_reference=grad_f, finite_differences=False,
                    check_grads_order=None)
    assert [(c.quantity, c.reference) for c in report.checks] == [
        ("jax.grad", "derived gradient")]
    with pytest.raises(VerificationError, match="derived gradient"):
        verify(f, [X_VEC], grad_reference=grad_f_missing_2, finite_differences=False,
               check_grads_order=None)


def test_verify_raises_for_a_wrong_hand_gradient():
    with pytest.raises(VerificationError) as info:
        _verify_f(grad=grad_f_missing_2)
    msg = str(info.value)
    assert "FAILED" in msg
    failed = [line for line in msg.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and "gradient (by hand)" in failed[0]


def test_verify_raises_for_a_wrong_reference():
    with pytest.raises(VerificationError) as info:
        _verify_f(reference=lambda x: f_numpy(np.asarray(x)) * (1 + 1e-6))
    failed = [line for line in str(info.value).splitlines() if "FAILED" in line]
    assert len(failed) == 1 and "derivation" in failed[0]


def test_verify_raises_for_a_wrong_peer():
    with pytest.raises(VerificationError) as info:
        _verify_f(peer=lambda x: jnp.vdot(jnp.cos(x), x * x))
    failed = [line for line in str(info.value).splitlines() if "FAILED" in line]
    assert len(failed) == 1 and "vdot" in failed[0]


def test_verify_catches_a_wrong_autodiff_rule():
    """A function whose jax.grad is wrong (a custom JVP missing the factor 2) is caught by
    the finite-difference and check_grads rows, with no hand gradient given."""

    @jax.custom_jvp
    def square_sum(x):
        return jnp.sum(x**2)

    @square_sum.defjvp
    def _jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return square_sum(x), jnp.sum(x * t)  # should be 2 x t

    report = verify(square_sum, [X_VEC], raise_on_failure=False)
    assert not report.passed
    failed = {c.reference for c in report.checks if not c.passed}
    assert failed == {"finite differences", "jax.test_util.check_grads"}
    assert "0/2 checks passed" in report.table()


def test_verify_without_raising_returns_the_failed_report():
    report = _verify_f(grad=grad_f_missing_2, raise_on_failure=False)
    assert not report.passed
    assert "4/5 checks passed" in report.table()
    assert "FAILED" in report.table()


def test_verify_runs_in_float64_and_restores_float32():
    seen = []

    def g(x):
        seen.append(x.dtype)
        return jnp.sum(x**2)

    verify(g, [X_VEC.astype(np.float32)], check_grads_order=None)
    assert seen and all(d == jnp.float64 for d in seen)
    assert jnp.ones(1).dtype == jnp.float32


def test_verify_non_scalar_fn_checks_values_only():
    report = verify(jnp.sin, [X_VEC], reference=np.sin, check_grads_order=None)
    assert [(c.quantity, c.reference) for c in report.checks] == [("value", "derivation")]


def test_verify_argnum_and_integer_argument():
    def h(scale, x, n):
        return jnp.sum(scale * x**n)

    report = verify(h, [2.0, X_VEC, 3], argnum=1, grad=lambda s, x, n: s * n * x ** (n - 1),
                    check_grads_order=1)
    assert report.passed
    assert [c.quantity for c in report.checks] == [
        "gradient (by hand)", "jax.grad", "jax derivatives (order 1)"]
    # with respect to the wrong argument the hand gradient (shape (7,) vs ()) is a failed
    # check, reported as such, not a bare shape error
    with pytest.raises(VerificationError, match=r"gradient \(by hand\).*inf.*FAILED"):
        verify(h, [2.0, X_VEC, 3], argnum=0, grad=lambda s, x, n: s * n * x ** (n - 1),
               finite_differences=False, check_grads_order=None)


def test_verify_reshapes_column_references_but_fails_wrong_sizes():
    # a lambdified matrix formula returns a column (D, 1) for the code's (D,): accepted
    report = verify(jnp.sin, [X_VEC], reference=lambda x: np.sin(np.asarray(x))[:, None])
    assert report.passed
    with pytest.raises(VerificationError, match="derivation.*inf.*FAILED"):
        verify(jnp.sin, [X_VEC], reference=lambda x: np.sin(np.asarray(x))[:-1])
    # a hand gradient must have the exact shape of the argument
    with pytest.raises(VerificationError, match=r"gradient \(by hand\).*inf.*FAILED"):
        verify(f, [X_VEC], grad=lambda x: grad_f(x)[:, None], finite_differences=False,
               check_grads_order=None)
