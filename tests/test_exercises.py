"""Unit tests of dlmath.exercises: verdicts, and the two verdict builders."""

from __future__ import annotations

import jax.numpy as jnp
import sympy as sp

from dlmath import exercises

x = sp.Symbol("x", real=True)


def test_judge_unanswered_right_wrong_and_crashing_verdicts():
    ok = lambda a: (a == 2, "two")
    assert exercises.judge("Ex", None, ok).ok is None
    assert "not answered yet" in exercises.judge("Ex", ..., ok).message
    assert exercises.judge("Ex", 2, ok) == exercises.Verdict(True, "Ex: right. two")
    assert exercises.judge("Ex", 3, ok).ok is False

    def crashes(a):
        raise ValueError("shape (3,) is not (2,)")

    v = exercises.judge("Ex", 1, crashes)
    assert v.ok is False and "ValueError: shape (3,) is not (2,)" in v.message


def test_counterexamples_respect_the_assumptions_and_never_reject_an_identity():
    p, n = sp.Symbol("p", positive=True), sp.Symbol("n", integer=True, negative=True)
    for answer, expected in ((sp.sqrt(p**2), p), (sp.Abs(x), sp.sqrt(x**2)), ((-1) ** (2 * n), 1),
                             (sp.log(p**2), 2 * sp.log(p)), (sp.exp(x) * sp.exp(-x), 1)):
        assert exercises._counterexample(answer, expected) is None
        assert exercises.same_expression(answer, expected)[0] is True
    point = exercises._counterexample(sp.sqrt(p**2) + n, p)
    assert point[p] > 0 and point[n] < 0 and point[n].is_integer
    assert exercises.same_expression(sp.sqrt(p**2) + n, p)[0] is False


def test_check_prints_the_verdict(capsys):
    assert exercises.check("Exercise 9", 2, lambda a: (True, "fine")) is True
    assert capsys.readouterr().out == "Exercise 9: right. fine\n"
    assert exercises.check("Exercise 9", None, lambda a: (True, "")) is None
    assert "not answered yet" in capsys.readouterr().out


def test_same_expression_proves_equivalent_forms_and_rejects_others():
    s = 1 / (1 + sp.exp(-x))
    ok, _ = exercises.same_expression(sp.exp(-x) / (1 + sp.exp(-x)) ** 2, sp.diff(s, x))
    assert ok
    wrong = -sp.exp(-x) / (1 + sp.exp(-x)) ** 2
    ok, why = exercises.same_expression(wrong, sp.diff(s, x))
    assert not ok and why.startswith("It differs from the result: at x = ")
    point = {x: sp.Rational(why.split("at x = ")[1].split(" ")[0])}  # a true counterexample
    assert (wrong - sp.diff(s, x)).xreplace(point) != 0
    f = sp.Function("f")  # an undefined function cannot be evaluated: the proof decides
    ok, why = exercises.same_expression(f(x) + 1, f(x))
    assert not ok and "residual" in why
    ok, why = exercises.same_expression("exp(-x)", sp.diff(s, x))
    assert not ok and "SymPy expression" in why
    y = sp.Symbol("y")
    ok, why = exercises.same_expression(x + y, x)
    assert not ok and "y" in why
    ok, why = exercises.same_expression(sp.Matrix([x]), x)  # a shape mismatch is not a crash
    assert not ok


def test_same_function_compares_on_every_case_and_names_the_failing_one():
    ref = lambda z: jnp.log1p(jnp.exp(-jnp.abs(z))) + jnp.maximum(z, 0)
    cases = [("random logits", (jnp.linspace(-3.0, 3.0, 7),)),
             ("logits of 1e4", (jnp.array([1e4, -1e4]),))]
    ok, why = exercises.same_function(ref, ref, cases)
    assert ok and "2 cases" in why
    naive = lambda z: jnp.log(1 + jnp.exp(z))  # overflows at 1e4
    ok, why = exercises.same_function(naive, ref, cases)
    assert not ok and "logits of 1e4" in why
    ok, why = exercises.same_function(lambda z: ref(z) + 1e-3, ref, cases)
    assert not ok and "off by" in why
    ok, why = exercises.same_function(lambda z: ref(z)[None], ref, cases)
    assert not ok and "shape" in why
    ok, why = exercises.same_function(lambda z: 1 / 0, ref, cases)
    assert not ok and "ZeroDivisionError" in why
    ok, why = exercises.same_function(3, ref, cases)
    assert not ok and "function" in why
