"""Unit tests of dlmath.exercises: verdicts, and the two verdict builders."""

from __future__ import annotations

import os
import subprocess
import sys

import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import sympy as sp

from dlmath import exercises
from dlmath.exercises_expression import counterexample
from dlmath.exercises_search import allowed

x = sp.Symbol("x", real=True)
z = sp.Symbol("z", real=True)


def _sigma(t):
    return 1 / (1 + sp.exp(-t))


# ---------------------------------------------------------------- judge, check, Verdict


def test_judge_unanswered_right_wrong_and_crashing_verdicts():
    ok = lambda a: (a == 2, "two")
    assert exercises.judge("Ex", None, ok).ok is None
    assert exercises.judge("Ex", None, ok).status == "unanswered"
    assert "not answered yet" in exercises.judge("Ex", ..., ok).message
    assert exercises.judge("Ex", 2, ok) == exercises.Verdict(True, "Ex: right. two")
    assert exercises.judge("Ex", 2, ok).status == "right"
    assert exercises.judge("Ex", 3, ok).ok is False
    assert exercises.judge("Ex", 3, ok).status == "wrong"

    def crashes(a):
        raise ValueError("shape (3,) is not (2,)")

    v = exercises.judge("Ex", 1, crashes)
    assert v.ok is False and "ValueError: shape (3,) is not (2,)" in v.message
    assert v.status == "wrong"


def test_judge_maps_an_undecided_verdict_to_its_own_status():
    v = exercises.judge("Exercise 4", 1, lambda a: (None, "Nothing could be evaluated."))
    assert v.ok is None and v.status == "undecided"
    assert v.message == "Exercise 4: undecided. Nothing could be evaluated."
    unanswered = exercises.judge("Exercise 4", None, lambda a: (None, ""))
    assert unanswered.ok is None and unanswered.status == "unanswered"


def test_verdict_status_follows_ok_and_refuses_a_contradiction():
    assert exercises.Verdict(True, "m").status == "right"
    assert exercises.Verdict(False, "m").status == "wrong"
    assert exercises.Verdict(None, "m").status == "unanswered"
    assert exercises.Verdict(None, "m", "undecided").status == "undecided"
    for ok, status in ((False, "right"), (True, "undecided"), (None, "wrong"), (True, "maybe")):
        with pytest.raises(ValueError, match="status"):
            exercises.Verdict(ok, "m", status)


def test_check_prints_the_verdict(capsys):
    assert exercises.check("Exercise 9", 2, lambda a: (True, "fine")) is True
    assert capsys.readouterr().out == "Exercise 9: right. fine\n"
    assert exercises.check("Exercise 9", None, lambda a: (True, "")) is None
    assert "not answered yet" in capsys.readouterr().out
    assert exercises.check("Exercise 9", 2, lambda a: (None, "no proof")) is None
    assert capsys.readouterr().out == "Exercise 9: undecided. no proof\n"


# ---------------------------------------------------------------- same_expression


def test_counterexamples_respect_the_assumptions_and_never_reject_an_identity():
    p, n = sp.Symbol("p", positive=True), sp.Symbol("n", integer=True, negative=True)
    for answer, expected in ((sp.sqrt(p**2), p), (sp.Abs(x), sp.sqrt(x**2)), ((-1) ** (2 * n), 1),
                             (sp.log(p**2), 2 * sp.log(p)), (sp.exp(x) * sp.exp(-x), 1)):
        assert counterexample(answer, expected) is None
        assert exercises.same_expression(answer, expected)[0] is True
    point = counterexample(sp.sqrt(p**2) + n, p)
    assert point[p] > 0 and point[n] < 0 and point[n].is_integer
    assert exercises.same_expression(sp.sqrt(p**2) + n, p)[0] is False


def test_same_expression_proves_equivalent_forms_and_rejects_others():
    s = _sigma(x)
    ok, why = exercises.same_expression(sp.exp(-x) / (1 + sp.exp(-x)) ** 2, sp.diff(s, x))
    assert ok is True and why == "Proven equal to the result, for every value the symbols allow."
    wrong = -sp.exp(-x) / (1 + sp.exp(-x)) ** 2
    ok, why = exercises.same_expression(wrong, sp.diff(s, x))
    assert ok is False and why.startswith("It differs from the result: at x = ")
    assert "your expression is" in why and "and the result is" in why
    point = {x: sp.Rational(why.split("at x = ")[1].split(" ")[0])}  # a true counterexample
    assert point == why.point
    assert (wrong - sp.diff(s, x)).xreplace(point) != 0
    ok, why = exercises.same_expression("exp(-x)", sp.diff(s, x))
    assert ok is False and "SymPy expression" in why and "str" in why
    ok, why = exercises.same_expression(0.25, sp.diff(s, x))
    assert ok is False and "SymPy expression" in why and "float" in why
    ok, why = exercises.same_expression(sp.Eq(x, 1), x)  # a relation is not an expression
    assert ok is False and "Equality" in why
    y = sp.Symbol("y")
    ok, why = exercises.same_expression(x + y, x)
    assert ok is False and "uses symbols the result does not: y" in why
    ok, why = exercises.same_expression(sp.Matrix([x]), x)  # a shape mismatch is not a crash
    assert ok is False and "shape (1, 1)" in why and "scalar" in why


def _assert_right(answer, expected, **kw):
    ok, why = exercises.same_expression(answer, expected, **kw)
    assert ok is True, (answer, why)
    return why


def _assert_refuted(answer, expected, premises=()):
    """Not right, with a counterexample that satisfies the symbols' assumptions and every
    premise, and at which the two really differ (checked exactly, then at 40 digits)."""
    ok, why = exercises.same_expression(answer, expected, premises=premises)
    assert ok is False, (answer, why)
    point = why.point
    assert point, why
    assert why.startswith("It differs from the result: at ")
    for name, value in point.items():
        assert f"{name} = {value}" in why
        assert allowed(name, value), (name, value)
    for premise in premises:
        assert premise.xreplace(point) == sp.true, (premise, point)
    difference = (answer - expected).xreplace(point).doit()
    assert abs(sp.N(difference, 40)) > 1e-12, (answer, point)
    return why


def test_a_tanh_form_of_silus_derivative_is_right_and_its_slips_are_not():
    s = _sigma(x)
    expected = s + x * s * (1 - s)
    t = sp.tanh(x / 2)
    why = _assert_right((1 + t) / 2 + x * (1 - t**2) / 4, expected)
    assert why.startswith("Proven equal")
    _assert_refuted((1 + t) / 2 + x * (1 + t**2) / 4, expected)  # a sign in tanh'
    _assert_refuted((1 + t) / 2 + x * (1 - t**2) / 2, expected)  # the chain rule's 1/2 lost


def test_softplus_rewritten_with_logs_is_right_and_its_slips_are_not():
    softplus = sp.log(1 + sp.exp(x))
    _assert_right(x + sp.log(sp.exp(-x) * (sp.exp(x) + 1)), softplus)
    _assert_right(x - sp.log(sp.exp(x) / (1 + sp.exp(x))), softplus)
    _assert_right(x + sp.log(1 + sp.exp(-x)), softplus)
    _assert_refuted(x + sp.log(sp.exp(x) * (sp.exp(-x) + 1)), softplus)
    _assert_refuted(x - sp.log(1 / (1 + sp.exp(x))), softplus)
    _assert_refuted(-x + sp.log(1 + sp.exp(-x)), softplus)


def test_hyperbolic_forms_of_the_sigmoids_derivative_are_right_and_their_slips_are_not():
    s = _sigma(z)
    expected = s * (1 - s)
    _assert_right(1 / (4 * sp.cosh(z / 2) ** 2), expected)
    _assert_right(1 / (2 + 2 * sp.cosh(z)), expected)
    _assert_right((1 - sp.tanh(z / 2) ** 2) / 4, expected)
    _assert_refuted(1 / (4 * sp.cosh(z) ** 2), expected)  # z, not z/2
    _assert_refuted(1 / (2 + 2 * sp.cosh(z / 2)), expected)
    _assert_refuted(1 / (2 * sp.cosh(z / 2) ** 2), expected)  # 1/2, not 1/4


H, K, s_, d, p = sp.symbols("H K s d p", integer=True, positive=True)
CONV_PREMISES = [s_ >= 1, H + 2 * p >= d * (K - 1) + 1]
CONV_OUTPUT = sp.floor((H + 2 * p - d * (K - 1) - 1) / s_) + 1


def test_a_ceiling_form_of_the_output_size_is_right_under_the_premises():
    why = _assert_right(sp.ceiling((H + 2 * p - d * (K - 1)) / s_), CONV_OUTPUT,
                        premises=CONV_PREMISES)
    assert why.startswith("Right at every one of the ")
    assert "points tried that satisfy the exercise's premises (not proven: SymPy could not " \
           "reduce the difference to 0)." in why
    assert why.points >= 20
    _assert_right(sp.floor((H - d * K + d + 2 * p - 1) / s_) + 1, CONV_OUTPUT,
                  premises=CONV_PREMISES)
    _assert_refuted(sp.ceiling((H + 2 * p - d * (K - 1)) / s_) + 1, CONV_OUTPUT, CONV_PREMISES)
    _assert_refuted(sp.ceiling((H + 2 * p - d * K) / s_), CONV_OUTPUT, CONV_PREMISES)
    _assert_refuted(sp.floor((H + 2 * p - d * (K - 1)) / s_), CONV_OUTPUT, CONV_PREMISES)
    _assert_refuted((H + 2 * p - d * (K - 1) - 1) / s_ + 1, CONV_OUTPUT, CONV_PREMISES)


lmin, lmax, eta = sp.symbols("lambda_min lambda_max eta", positive=True)
RATE_PREMISES = [lmin > 0, lmax > lmin, eta > 0]
CONTRACTION = sp.Max(sp.Abs(1 - eta * lmin), sp.Abs(1 - eta * lmax))


def test_a_max_without_abs_is_right_under_the_premises_and_refuted_only_inside_them():
    right = sp.Max(1 - eta * lmin, eta * lmax - 1)
    why = _assert_right(right, CONTRACTION, premises=RATE_PREMISES)
    assert "satisfy the exercise's premises" in why
    # without the premise lmax > lmin the same answer is wrong, at a point with lmin > lmax
    ok, why = exercises.same_expression(right, CONTRACTION)
    assert ok is False and why.point[lmin] > why.point[lmax]
    for wrong in (sp.Max(1 - eta * lmax, eta * lmin - 1),  # the ends swapped
                  sp.Abs(1 - eta * lmax),  # the largest eigenvalue only
                  sp.Max(1 - eta * lmin, eta * lmax)):  # forgot the 1
        _assert_refuted(wrong, CONTRACTION, RATE_PREMISES)


beta, g = sp.symbols("beta g", positive=True)
t = sp.Symbol("t", integer=True, positive=True)
k = sp.Symbol("k", integer=True)


def test_a_geometric_sum_and_its_piecewise_at_beta_1_are_right():
    expected = (1 - beta**t) * g
    unrolled = (1 - beta) * g * sp.Sum(beta ** (t - k), (k, 1, t))
    why = _assert_right(unrolled, expected)
    assert why.startswith("Proven equal")
    summed = unrolled.doit()
    assert summed.has(sp.Piecewise)  # the case beta = 1, left in by SymPy
    assert _assert_right(summed, expected).startswith("Proven equal")
    _assert_right(unrolled, expected, premises=[beta < 1])
    _assert_refuted((1 - beta) * g * sp.Sum(beta ** (t - k), (k, 0, t)), expected, [beta < 1])
    _assert_refuted((1 - beta ** (t - 1)) * g, expected, [beta < 1])


def test_a_proof_that_needs_no_premise_says_so():
    ok, why = exercises.same_expression(2 * lmax - lmax, lmax, premises=RATE_PREMISES)
    assert ok is True
    assert why == ("Proven equal to the result, for every value the symbols allow (without "
                   "needing the exercise's premises).")


def test_matrices_are_compared_entry_by_entry():
    m = sp.Matrix([[x, 2 * x], [x**2, 1]])
    _assert_right(sp.Matrix([[x, x + x], [x * x, sp.cos(x) ** 2 + sp.sin(x) ** 2]]), m)
    ok, why = exercises.same_expression(sp.Matrix([[x, 2 * x], [x**3, 1]]), m)
    assert ok is False and "entry (1, 0) of your expression is" in why
    ok, why = exercises.same_expression(sp.Matrix([[x, 2 * x]]), m)
    assert ok is False and "shape (1, 2)" in why and "shape (2, 2)" in why


def test_matrix_symbols_of_symbolic_size_are_evaluated_at_explicit_sizes():
    n, dim = sp.symbols("N D", integer=True, positive=True)
    X, w, y = sp.MatrixSymbol("X", n, dim), sp.MatrixSymbol("w", dim, 1), sp.MatrixSymbol("y", n, 1)
    expected = 2 * X.T * (X * w - y) / n
    _assert_right(2 / n * (X.T * X * w - X.T * y), expected)
    ok, why = exercises.same_expression(X.T * (X * w - y) / n, expected)
    assert ok is False and "entry (" in why
    assert set(why.point) >= {n, dim} and why.point[n] >= 1
    assert isinstance(why.point[sp.MatrixSymbol("X", why.point[n], why.point[dim])], sp.MatrixBase)


def test_indexed_entries_get_values_their_base_allows():
    zz = sp.IndexedBase("z", real=True)
    lse = sp.log(sp.exp(zz[0]) + sp.exp(zz[1]))
    ok, why = exercises.same_expression(lse - zz[0], sp.log(1 + sp.exp(zz[1] - zz[0])))
    assert ok is True
    ok, why = exercises.same_expression(lse - zz[1], sp.log(1 + sp.exp(zz[1] - zz[0])))
    assert ok is False and set(why.point) == {zz[0], zz[1]}
    q = sp.IndexedBase("q", positive=True)
    assert exercises.same_expression(sp.sqrt(q[0] ** 2), q[0])[0] is True


def test_an_undefined_function_is_undecided_unless_defined_or_cancelled():
    f = sp.Function("f")
    ok, why = exercises.same_expression(f(x) * (1 - f(x)), sp.Derivative(f(x), x))
    assert ok is None
    assert why == "No proof was found, and no point could be evaluated (f has no values here)."
    v = exercises.judge("Exercise 1", f(x) * (1 - f(x)),
                        lambda a: exercises.same_expression(a, sp.Derivative(f(x), x)))
    assert v.status == "undecided" and v.ok is None
    assert v.message.startswith("Exercise 1: undecided. No proof was found")
    sigmoid = {f: sp.Lambda(x, _sigma(x))}
    assert exercises.same_expression(f(x) * (1 - f(x)), sp.Derivative(f(x), x),
                                     definitions=sigmoid)[0] is True
    _, why = exercises.same_expression(f(x) * (1 + f(x)), sp.Derivative(f(x), x),
                                       definitions=sigmoid)
    assert why.startswith("It differs from the result: at x = ")
    ok, why = exercises.same_expression(f(x) + 1, f(x))  # f cancels in the difference
    assert ok is False and "minus the result is 1" in why


def test_premises_no_point_satisfies_leave_an_unproven_answer_undecided():
    ok, why = exercises.same_expression(sp.ceiling(x), sp.floor(x) + 1, premises=[x > 2, x < 1])
    assert ok is None
    assert why.startswith("No proof was found, and no point could be evaluated (200 of the "
                          "200 points drawn failed the exercise's premises")


def test_constants_are_evaluated_once():
    assert exercises.same_expression(sp.pi, sp.Rational(22, 7)) == (
        False, "It differs from the result: your expression is 3.142 and the result is 3.143.")
    assert exercises.same_expression(sp.sqrt(2) * sp.sqrt(3), sp.sqrt(6))[0] is True


def test_bad_premises_and_definitions_are_the_checkers_fault():
    with pytest.raises(TypeError, match="premise"):
        exercises.same_expression(x, x, premises=["x > 0"])
    with pytest.raises(ValueError, match="False"):
        exercises.same_expression(x, x, premises=[sp.false])
    with pytest.raises(TypeError, match="definitions"):
        exercises.same_expression(x, x, definitions={"f": 1})
    with pytest.raises(TypeError, match="expected"):
        exercises.same_expression(x, "x")


def test_the_counterexample_is_the_same_on_every_run():
    answer = sp.Max(1 - eta * lmax, eta * lmin - 1)
    first = exercises.same_expression(answer, CONTRACTION, premises=RATE_PREMISES)
    second = exercises.same_expression(answer, CONTRACTION, premises=RATE_PREMISES)
    assert first == second and first[1].point == second[1].point
    code = ("import sympy as sp; from dlmath.exercises import same_expression as s; "
            "a, b = sp.symbols('a b', positive=True); n = sp.Symbol('n', integer=True); "
            "print(s(sp.Max(a, b) + n * sp.log(a), b + n * sp.log(b), premises=[b > 1])[1])")
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, timeout=300, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1 and next(iter(outputs)).startswith("It differs from the result: at ")


# ---------------------------------------------------------------- same_function


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
    assert "agree to within atol + rtol·|ref| (rtol=1e-05, atol=1e-06)" in why
    ok, why = exercises.same_function(lambda z: ref(z)[None], ref, cases)
    assert not ok and "shape" in why
    ok, why = exercises.same_function(lambda z: 1 / 0, ref, cases)
    assert not ok and "ZeroDivisionError" in why
    ok, why = exercises.same_function(3, ref, cases)
    assert not ok and "function" in why


def test_same_function_accepts_any_array_type_that_holds_the_right_numbers():
    v = jnp.linspace(-2.0, 3.0, 6)
    cases = [("six values", (v,))]
    total = lambda a: jnp.sum(jnp.tanh(a))  # a 0-d array
    as_float = lambda a: float(jnp.sum(jnp.tanh(a)))
    for answer in (total, as_float, lambda a: np.float32(total(a)),
                   lambda a: np.asarray(total(a), np.float64)):
        assert exercises.same_function(answer, total, cases) == (
            True, "Agrees with the reference on all 1 cases.")
    assert exercises.same_function(total, as_float, cases)[0] is True  # a float reference
    assert exercises.same_function(total, lambda a: np.tanh(np.asarray(a)).sum(), cases)[0]


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16], ids=["float16", "bfloat16"])
def test_same_function_accepts_half_precision_within_the_tolerance_and_says_the_precision(dtype):
    cases = [("six values", (jnp.linspace(-2.0, 3.0, 6),))]
    low = lambda a: jnp.tanh(a).astype(dtype)
    ok, why = exercises.same_function(low, jnp.tanh, cases, rtol=2e-2, atol=1e-3)
    assert ok is True, why
    assert exercises.same_function(lambda a: np.asarray(low(a)), jnp.tanh, cases,
                                   rtol=2e-2, atol=1e-3)[0] is True
    ok, why = exercises.same_function(low, jnp.tanh, cases, rtol=1e-6, atol=1e-7)
    assert ok is False and "off by up to" in why
    assert "agree to within atol + rtol·|ref| (rtol=1e-06, atol=1e-07)" in why
    digits = 3 if dtype == jnp.float16 else 2
    assert f"keeps about {digits} significant digits; this case needs about 6" in why
    assert np.asarray(low(jnp.ones(1))).dtype in (np.float16, ml_dtypes.bfloat16)


def test_same_function_compares_each_output_of_a_pytree_with_its_own_shape():
    def reference(a):
        return a * 2, a.sum(), jnp.ones(5), jnp.zeros((2, 2))

    def keeps_dims(a):  # db1 with a leading axis of 1
        return a * 2, a.sum(), jnp.ones((1, 5)), jnp.zeros((2, 2))

    cases = [("a batch of 3", (jnp.arange(3.0),))]
    names = ["dW1", "dW2", "db1", "db2"]
    ok, why = exercises.same_function(keeps_dims, reference, cases, names=names)
    assert ok is False
    assert why == "On a batch of 3 the 3rd output (db1) has shape (1, 5); expected (5,)."
    ok, why = exercises.same_function(keeps_dims, reference, cases)
    assert why == "On a batch of 3 the 3rd output has shape (1, 5); expected (5,)."
    as_list = lambda a: list(reference(a))  # a list answers for a tuple
    assert exercises.same_function(as_list, reference, cases, names=names)[0] is True
    ok, why = exercises.same_function(lambda a: reference(a)[:3], reference, cases)
    assert ok is False and "returned 3 outputs; expected 4" in why
    off = lambda a: (a * 2, a.sum() + 1, jnp.ones(5), jnp.zeros((2, 2)))
    ok, why = exercises.same_function(off, reference, cases, names=names)
    assert ok is False
    assert why.startswith("On a batch of 3 the 2nd output (dW2) is off by up to 1.00e+00")
    nan = lambda a: (a * 2, a.sum(), jnp.ones(5), jnp.full((2, 2), jnp.nan))
    ok, why = exercises.same_function(nan, reference, cases, names=names)
    assert ok is False and "the 4th output (db2)'s NaN/infinite entries" in why
    # a dict of outputs: the key names the output
    ok, why = exercises.same_function(lambda a: {"w": a, "b": a.sum() + 1},
                                      lambda a: {"w": a, "b": a.sum()}, cases)
    assert ok is False and "(b) is off by" in why
    with pytest.raises(ValueError, match="names"):
        exercises.same_function(reference, reference, cases, names=["dW1"])


def test_same_function_refuses_an_output_that_is_not_numbers():
    cases = [("x = 0", (jnp.zeros(3),))]
    for answer, kind in ((lambda a: "tanh", "str"), (lambda a: None, "NoneType"),
                         (lambda a: object(), "object"),
                         (lambda a: np.array(["a", "b", "c"]), "ndarray of dtype <U1")):
        ok, why = exercises.same_function(answer, jnp.tanh, cases)
        assert ok is False and why == f"On x = 0: expected an array of numbers; got {kind}."
    ok, why = exercises.same_function(lambda a: (a, "b"), lambda a: (a, a), cases)
    assert why == "On x = 0, the 2nd output: expected an array of numbers; got str."
