"""The exercise checkers of notebooks/02_activations.md, run on a reference answer (right)
and on plausible mistakes (not right), including answers of the wrong type, which must
give "not right", never an exception."""

from __future__ import annotations

import pytest
from exercise_harness import checkers, namespace

from dlmath.exercises import judge

CHAPTER = "02_activations"


@pytest.fixture(scope="module")
def verdicts():
    return checkers(CHAPTER)


@pytest.fixture(scope="module")
def ns():
    return namespace(CHAPTER)


def test_every_exercise_has_a_checker(verdicts):
    assert sorted(verdicts) == [f"Exercise {n}" for n in range(1, 6)]



# ---- Exercise 1 (derive): SiLU's derivative --------------------------------------------------

def test_exercise_1_silu_derivative(verdicts, ns):
    sp, x, F = ns["sp"], ns["x"], ns["F"]
    verdict = verdicts["Exercise 1"]
    s_named = sp.Function("sigma")(x)
    s = F.SIGMOID.expr
    for right in (s_named + x * s_named * (1 - s_named),  # with the named sigmoid
                  s + x * s * (1 - s),  # with its formula
                  sp.diff(F.SILU.expr, x),  # any equal form
                  s_named + x * sp.Derivative(s_named, x)):  # the product rule, unevaluated
        v = judge("Exercise 1", right, verdict)
        assert v.ok is True, v.message
    mistakes = [
        s_named + x * s_named * (1 + s_named),  # a sign in sigma'
        x * s_named * (1 - s_named),  # the first term of the product rule dropped
        s_named * (1 - s_named),  # differentiated sigma only
        2 * s_named + x * s_named * (1 - s_named),  # a factor
        "sigma(x) + x*sigma(x)*(1 - sigma(x))",  # a string, not a SymPy expression
        3,  # a wrong type
    ]
    for wrong in mistakes:
        v = judge("Exercise 1", wrong, verdict)
        assert v.ok is False, (wrong, v.message)


# ---- Exercise 2 (implement): SiLU's derivative in JAX ----------------------------------------

def test_exercise_2_silu_prime(verdicts, ns):
    jnp, act = ns["jnp"], ns["act"]
    verdict = verdicts["Exercise 2"]

    def right(t):
        s = act.sigmoid(t)
        return s + t * s * (1 - s)

    v = judge("Exercise 2", right, verdict)
    assert v.ok is True, v.message

    def wrong_sign(t):
        s = act.sigmoid(t)
        return s - t * s * (1 - s)

    def naive(t):  # exp(-x) overflows at x = -1e4: inf / inf = NaN
        e = jnp.exp(-t)
        return 1 / (1 + e) + t * e / (1 + e) ** 2

    def no_product_rule(t):
        s = act.sigmoid(t)
        return s * (1 - s)

    def float32_always(t):  # right values, but float16 input comes back as float32
        return right(t.astype(jnp.float32))

    def flattens(t):
        return right(t).ravel()

    mistakes = [("sign", wrong_sign), ("naive", naive), ("no product rule", no_product_rule),
                ("dtype", float32_always), ("shape", flattens), ("not a function", 1.0)]
    for label, wrong in mistakes:
        v = judge("Exercise 2", wrong, verdict)
        assert v.ok is False, (label, v.message)
    assert "-1e4" in judge("Exercise 2", naive, verdict).message
    assert "dtype" in judge("Exercise 2", float32_always, verdict).message


# ---- Exercise 3 (find): where tanh' peaks ------------------------------------------------------

def test_exercise_3_tanh_peak(verdicts, ns):
    sp = ns["sp"]
    verdict = verdicts["Exercise 3"]
    for right in [(sp.Integer(0), sp.Integer(1)), (0, 1), [sp.S.Zero, sp.Rational(4, 4)]]:
        v = judge("Exercise 3", right, verdict)
        assert v.ok is True, v.message
    mistakes = [
        (0, sp.Rational(1, 4)),  # the sigmoid's peak value
        (1, 1),  # the wrong place
        (0, 4),  # the factor 4 applied twice
        ("0", "1"),  # strings are not parsed
        (sp.Symbol("x"), 1),  # a symbol, not a number
        (sp.I, 1),  # not real
        (0,),  # not a pair
        {0: 1},  # a wrong type
        sp.Integer(0),
    ]
    for wrong in mistakes:
        v = judge("Exercise 3", wrong, verdict)
        assert v.ok is False, (wrong, v.message)
        assert "Error" not in v.message, (wrong, v.message)  # a verdict, not an exception


# ---- Exercise 4 (prove): softplus(x) = x + softplus(-x) ---------------------------------------

def test_exercise_4_softplus_rewritten(verdicts, ns):
    sp, x = ns["sp"], ns["x"]
    verdict = verdicts["Exercise 4"]
    right = x + sp.log(1 + sp.exp(-x))
    v = judge("Exercise 4", right, verdict)
    assert v.ok is True, v.message
    mistakes = [
        sp.log(1 + sp.exp(x)),  # equal, but not of the form x + softplus(-x)
        -x + sp.log(1 + sp.exp(-x)),  # a sign
        x + sp.log(1 + sp.exp(x)),  # factored wrongly
        x * sp.log(1 + sp.exp(-x)),  # a product, not a sum
        "x + log(1 + exp(-x))",  # a string
    ]
    for wrong in mistakes:
        v = judge("Exercise 4", wrong, verdict)
        assert v.ok is False, (wrong, v.message)
    assert "not written as" in judge("Exercise 4", mistakes[0], verdict).message


# ---- Exercise 5 (explore): the best beta for x sigma(beta x) ~ GELU ---------------------------

def test_exercise_5_best_beta(verdicts, ns):
    np = ns["np"]
    verdict = verdicts["Exercise 5"]
    for right in (1.77, 1.773, np.float64(1.775)):
        v = judge("Exercise 5", right, verdict)
        assert v.ok is True, (right, v.message)
    for wrong in (1.702, 1.0, 1.6, "1.77", True, [1.77]):
        v = judge("Exercise 5", wrong, verdict)
        assert v.ok is False, (wrong, v.message)
