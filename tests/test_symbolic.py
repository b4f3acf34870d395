"""Unit tests of dlmath.symbolic: proofs, display, lambdify to JAX, docstring math."""

from __future__ import annotations

import math
import re

import jax
import numpy as np
import pytest
import sympy as sp

from dlmath import symbolic
from dlmath.symbolic import ProofError, prove_equal, show, to_jax
from dlmath.testing import in_float64

x, y = symbolic.reals("x y")
a, b = symbolic.positives("a b")


# ---------------------------------------------------------------- symbol factories


def test_symbol_factories_carry_assumptions():
    assert x.is_real and y.is_real and x.is_positive is None
    assert a.is_positive and a.is_real
    (n,) = symbolic.reals("n,", integer=True)
    assert n.is_integer and n.is_real


# ---------------------------------------------------------------- prove_equal: true claims


def test_proves_a_scalar_identity():
    proof = prove_equal((x + y) ** 2, x**2 + 2 * x * y + y**2, name="square of a sum")
    # what is shown is the equation of the objects and its scope, never the label
    assert repr(proof) == "proven for every x, y real: (x + y)**2 = x**2 + 2*x*y + y**2"
    assert proof.lhs == (x + y) ** 2 and proof.scope == symbolic.PROVEN
    latex = proof._repr_latex_()
    assert latex == (r"$\textsf{proven for every } x, y \in \mathbb{R}:\quad \displaystyle "
                     + sp.latex((x + y) ** 2) + " = " + sp.latex(x**2 + 2 * x * y + y**2) + "$")
    assert "square of a sum" not in latex and symbolic.latex_errors(latex) == []


def test_proves_an_identity_that_needs_simplify():
    # expand alone leaves sin^2 + cos^2 - 1; simplify closes it.
    prove_equal(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1, name="Pythagoras")
    prove_equal(sp.diff(sp.exp(-(x**2)), x), -2 * x * sp.exp(-(x**2)), name="chain rule")


def test_proves_a_matrix_identity():
    A = sp.Matrix(2, 2, sp.symbols("a0:4", real=True))
    B = sp.Matrix(2, 2, sp.symbols("b0:4", real=True))
    prove_equal((A * B).T, B.T * A.T, name="transpose of a product")
    # unevaluated matrix expressions go through doit()
    prove_equal(sp.MatMul(A, B, evaluate=False).doit(), A * B, name="matmul")


def test_positive_symbols_make_a_claim_provable():
    prove_equal(sp.sqrt(a**2), a, name="sqrt of a square, a > 0")
    with pytest.raises(ProofError, match="Abs"):
        prove_equal(sp.sqrt(x**2), x, name="sqrt of a square, x real")


def test_custom_simplifiers_expand_log():
    claim = sp.log(a * b**2)
    derived = sp.log(a) + 2 * sp.log(b)
    prove_equal(claim, derived, name="log of a product",
                simplifiers=[lambda e: sp.expand_log(e, force=True)])
    # A simplifier that does nothing proves nothing: the same claim then fails.
    with pytest.raises(ProofError):
        prove_equal(claim, derived, name="log of a product", simplifiers=[lambda e: e])


def test_default_simplifiers_expand_logs_only_where_assumptions_allow():
    # log(a b^2) = log a + 2 log b holds for positive a, b ...
    prove_equal(sp.log(a * b**2), sp.log(a) + 2 * sp.log(b), name="log of a product, a, b > 0")
    # ... and is false for reals (x = y = -1: log 1 = 0 but log(-1) + 2 log(-1) = 3 i pi)
    with pytest.raises(ProofError):
        prove_equal(sp.log(x * y**2), sp.log(x) + 2 * sp.log(y), name="log of a product, reals")


def test_proves_matrix_symbol_identities():
    n, d = sp.symbols("n d", integer=True, positive=True)
    X = sp.MatrixSymbol("X", n, d)
    w = sp.MatrixSymbol("w", d, 1)
    t = sp.MatrixSymbol("t", n, 1)
    prove_equal((X * w).T, w.T * X.T, name="transpose of a product")
    prove_equal(X.T * (X * w - t), X.T * X * w - X.T * t, name="distributivity")
    prove_equal(X * w - X * w, 0, name="a matrix expression compared with 0")
    with pytest.raises(ProofError, match=r"X\.T\*X\*w - X\.T\*t"):
        prove_equal(X.T * (X * w - t), 0, name="not zero")
    with pytest.raises(ValueError, match="shape"):
        prove_equal(X * w, w, name="shapes (n, 1) and (d, 1)")


# ---------------------------------------------------------------- prove_equal: false claims


def test_false_scalar_claim_raises_with_the_residual():
    with pytest.raises(ProofError) as info:
        prove_equal((x + 1) ** 2, x**2 + 1, name="forgot the cross term")
    msg = str(info.value)
    assert "forgot the cross term" in msg
    assert "2*x" in msg  # the residual (x + 1)^2 - (x^2 + 1) = 2 x
    assert isinstance(info.value, AssertionError)


def test_false_matrix_claim_raises_with_the_residual():
    A = sp.Matrix([[x, 0], [0, y]])
    with pytest.raises(ProofError) as info:
        prove_equal(A * A, sp.Matrix([[x**2, 0], [0, y]]), name="square of a diagonal")
    # the residual diag(0, y^2 - y), as simplify leaves it
    assert re.search(r"y\*\*2 - y|y\*\(y - 1\)", str(info.value))


def test_refuses_strings():
    with pytest.raises(TypeError, match="string"):
        prove_equal("x + 1", x + 1)
    with pytest.raises(TypeError, match="string"):
        prove_equal(x, "x")
    with pytest.raises(TypeError):
        prove_equal(x, [x])


def test_refuses_shape_mismatch():
    A = sp.Matrix([[x, y], [y, x]])
    with pytest.raises(ValueError, match=r"\(2, 2\) and \(2, 1\)"):
        prove_equal(A, sp.Matrix([x, y]), name="shapes")
    with pytest.raises(ValueError, match="scalar"):
        prove_equal(A, x, name="matrix vs scalar")


# ---------------------------------------------------------------- show


def test_show_is_sympy_latex_of_the_object():
    expr = sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)
    shown = show(expr)
    assert shown.latex == sp.latex(expr)
    assert repr(shown) == sp.sstr(expr)
    assert shown._repr_latex_() == f"$\\displaystyle {sp.latex(expr)}$"


def test_show_of_two_sides_and_relations():
    lhs, rhs = sp.Symbol("L"), (x - y) ** 2
    shown = show(lhs, rhs)
    assert shown.latex == f"{sp.latex(lhs)} = {sp.latex(rhs)}"
    assert repr(shown) == f"L = {sp.sstr(rhs)}"
    le = show(x**2, 0, relation="\\ge")
    assert le.latex == f"{sp.latex(x**2)} \\ge 0"
    assert repr(le) == "x**2 >= 0"


def test_show_of_an_equation_and_a_matrix():
    eq = sp.Eq(sp.Symbol("f"), sp.sin(x))
    assert show(eq).latex == sp.latex(eq)
    M = sp.Matrix([[x, 1], [0, y]])
    assert show(M).latex == sp.latex(M)
    assert repr(show(M)) == sp.sstr(M)


def test_show_with_a_string_label_on_the_left():
    shown = show(r"\nabla_w L", 2 * x)
    assert shown.latex == r"\nabla_w L = 2 x"
    assert repr(shown) == r"\nabla_w L = 2*x"


def test_show_refuses_strings_as_formulas():
    with pytest.raises(TypeError):
        show("x^2")
    with pytest.raises(TypeError):
        show(x, "y")


# ---------------------------------------------------------------- to_jax


def test_to_jax_matches_numpy():
    f = to_jax(sp.sin(x) * y**2 + sp.exp(-x), [x, y])
    xs = np.linspace(-2.0, 2.0, 7)
    ys = np.linspace(0.5, 3.0, 7)
    got = in_float64(f, xs, ys)
    np.testing.assert_allclose(got, np.sin(xs) * ys**2 + np.exp(-xs), rtol=1e-14)


def test_to_jax_erf_works_on_arrays():
    f = to_jax(sp.erf(x / sp.sqrt(2)), [x])
    xs = np.linspace(-3.0, 3.0, 11)
    got = in_float64(f, xs)
    want = np.array([math.erf(v / math.sqrt(2)) for v in xs])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_to_jax_is_differentiable():
    f = to_jax(x**3, [x])
    assert float(in_float64(jax.grad(f), 2.0)) == pytest.approx(12.0, rel=1e-14)


def test_to_jax_matrix_symbol_expression():
    A = sp.MatrixSymbol("A", 3, 2)
    v = sp.MatrixSymbol("v", 2, 1)
    f = to_jax(A.T * (A * v), [A, v])
    rng = np.random.default_rng(0)
    An, vn = rng.normal(size=(3, 2)), rng.normal(size=(2, 1))
    got = in_float64(f, An, vn)
    np.testing.assert_allclose(got, An.T @ (An @ vn), rtol=1e-13)


def test_to_jax_single_symbol_arg():
    f = to_jax(2 * x, x)
    assert float(f(1.5)) == 3.0


def test_to_jax_refuses_strings_and_non_symbols():
    with pytest.raises(TypeError, match="string"):
        to_jax("x + 1", [x])
    with pytest.raises(TypeError, match="args"):
        to_jax(x + 1, [x + 1])
    with pytest.raises(TypeError, match="args"):
        to_jax(x + 1, ["x"])


# ---------------------------------------------------------------- docstring_math


def test_docstring_math_extracts_display_blocks_in_order():
    def f():
        r"""Inline $a + b$ is not display math.

        $$\frac{1}{N}
            \sum_i x_i$$

        Text between.
        $$e^{x}$$
        """

    assert symbolic.docstring_math(f) == [r"\frac{1}{N} \sum_i x_i", "e^{x}"]


def test_docstring_math_without_docstring():
    def g():
        pass

    assert symbolic.docstring_math(g) == []


# ---------------------------------------------------------------- scopes: checked, argued


def test_a_claim_checked_at_named_values_says_so_and_shows_what_was_checked():
    K = sp.Symbol("K", integer=True, positive=True)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    z = sp.IndexedBase("z", real=True)
    proof = prove_equal(sp.Sum(z[k], (k, 0, K - 1)), z[0] + z[1] + z[2], at={K: 3})
    assert proof.scope == symbolic.CHECKED
    assert repr(proof).startswith("checked at K = 3, every z real: ")
    assert "K - 1" not in repr(proof)  # the substituted objects are shown
    assert r"\textsf{checked at } K = 3" in proof.latex
    assert symbolic.latex_errors(proof._repr_latex_()) == []
    # at a value where the claim fails, it is not checked
    with pytest.raises(ProofError):
        prove_equal(sp.Sum(z[k], (k, 0, K - 1)), z[0] + z[1] + z[2], at={K: 4})


def test_a_claim_on_explicit_matrices_names_their_sizes():
    A = sp.Matrix(2, 2, sp.symbols("a0:4", real=True))
    proof = prove_equal((A * A).T, A.T * A.T, at="2 x 2 matrices")
    assert proof.scope == symbolic.CHECKED
    assert repr(proof).startswith("checked at 2 x 2 matrices")
    with pytest.raises(ValueError):
        prove_equal(A, A, at="  ")
    with pytest.raises(TypeError):
        prove_equal(A, A, at=3)


def test_scope_lists_the_domains_of_the_symbols():
    n = sp.Symbol("n", integer=True, positive=True)
    proof = prove_equal(a * n, n * a)
    assert repr(proof) == "proven for every a positive; n integer >= 1: a*n = a*n"
    assert r"a \in \mathbb{R}_{> 0}" in proof.latex and r"n \in \mathbb{Z}_{\ge 1}" in proof.latex


def test_inequality_from_a_certificate_and_from_assumptions():
    proof = symbolic.prove_inequality(x**2 + 1, 2 * x, ">=", certificate=(x - 1) ** 2)
    assert repr(proof) == "proven for every x real: x**2 + 1 >= 2*x"
    assert r"\ge" in proof.latex
    assert repr(symbolic.prove_inequality(a + b, 0, ">")).endswith("a + b > 0")
    # a certificate that is not the difference proves nothing
    with pytest.raises(ProofError, match="certificate"):
        symbolic.prove_inequality(x**2 + 1, 2 * x, ">=", certificate=x**2)
    # a sign the assumptions do not decide is not proven
    with pytest.raises(ProofError, match="cannot decide"):
        symbolic.prove_inequality(x, 0, ">=")
    with pytest.raises(ProofError):
        symbolic.prove_inequality(x**2, 1, "<=")
    with pytest.raises(ValueError, match="prove_equal"):
        symbolic.prove_inequality(x, x, "=")
    # sides built from explicit matrices of a named size: checked at that size, not proven
    m = sp.Matrix(sp.symbols("m_0:2", real=True))
    named = symbolic.prove_inequality((m.T * m)[0], 0, ">=", certificate=m[0] ** 2 + m[1] ** 2,
                                      at="N = 2")
    assert named.scope == symbolic.CHECKED and named.at == "N = 2"
    assert repr(named).startswith("checked at N = 2")


def test_argued_claims_are_labelled_as_prose():
    claim = symbolic.argued(x, y, "<=")
    assert claim.scope == symbolic.ARGUED
    assert repr(claim) == "argued in the text, not checked here: x <= y"
    assert symbolic.latex_errors(claim._repr_latex_()) == []
    with pytest.raises(ValueError):
        symbolic.argued(x, y, "~")


def test_latex_errors_finds_what_mathjax_rejects():
    assert symbolic.latex_errors(r"\text{proven: sigma_hat^2 = MSE}\quad x") != []
    assert symbolic.latex_errors(r"\frac{1}{x") == ["1 unclosed '{'"]
    assert symbolic.latex_errors(r"\left( x") != []
    assert symbolic.latex_errors(r"x $ y") != []
    assert symbolic.latex_errors(r"\text{a \_ b}\ \frac{x}{y} \left( x \right)") == []
    assert symbolic.latex_errors("$" + sp.latex(sp.Sum(x, (y, 0, 3))) + "$") == []


def test_a_proof_without_free_symbols_says_so():
    proof = prove_equal(sp.Subs(x - sp.log(x) - 1, x, 1), 0)
    assert repr(proof) == "proven (no free symbols): Subs(x - log(x) - 1, x, 1) = 0"
    assert symbolic.latex_errors(proof._repr_latex_()) == []


def test_indexed_symbols_show_as_their_base_whatever_the_hash_seed():
    import subprocess
    import sys

    code = ("import sympy as sp; from dlmath.symbolic import prove_equal; "
            "i = sp.Symbol('i', integer=True, nonnegative=True); "
            "y = sp.IndexedBase('y', real=True); W = sp.IndexedBase('W', real=True); "
            "print(prove_equal(y[i] * W[i, i], W[i, i] * y[i]).latex)")
    seen = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={"PYTHONHASHSEED": str(seed), "JAX_PLATFORMS": "cpu"},
                           check=True).stdout for seed in range(6)}
    assert len(seen) == 1, seen
    assert r"W_{\bullet}, y_{\bullet} \in \mathbb{R}" in seen.pop()
