"""The exercise checkers of notebooks/02_activations.md, run on a reference answer and on
equivalent rewritings of it (right), and on plausible mistakes (not right), including
answers of the wrong type, which must give "not right", never an exception."""

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


# ---- Exercise 1 (derive): the derivative of x sigma(beta x) ---------------------------------

def test_exercise_1_swish_derivative(verdicts, ns):
    sp, x, F = ns["sp"], ns["x"], ns["F"]
    verdict = verdicts["Exercise 1"]
    beta = sp.Symbol("beta", positive=True)
    sigma = sp.Function("sigma")
    s = sigma(beta * x)
    s_formula = F.SIGMOID.expr.subs(x, beta * x)
    rights = [
        s + beta * x * s * (1 - s),  # the reference, with the named sigmoid
        s_formula + beta * x * s_formula * (1 - s_formula),  # with its formula
        sp.diff(x * s_formula, x),  # SymPy's own form
        s + x * sp.Derivative(s, x),  # the product rule, left unevaluated
        # tanh form: sigma(t) = (1 + tanh(t/2))/2
        (1 + sp.tanh(beta * x / 2)) / 2 + beta * x * (1 - sp.tanh(beta * x / 2) ** 2) / 4,
        # plain symbols without assumptions, as a reader may write them
        (lambda b, y: sigma(b * y) + b * y * sigma(b * y) * (1 - sigma(b * y)))(
            sp.Symbol("beta"), sp.Symbol("x")),
    ]
    for right in rights:
        v = judge("Exercise 1", right, verdict)
        assert v.ok is True, (right, v.message)
    # beta = 1: the tanh rewriting that an earlier checker rejected
    silu_tanh = (1 + sp.tanh(x / 2)) / 2 + x * (1 - sp.tanh(x / 2) ** 2) / 4
    assert judge("Exercise 1", silu_tanh, verdict).ok is False  # right for beta = 1 only
    mistakes = [
        s + x * s * (1 - s),  # the inner factor beta of the chain rule dropped
        s + beta * x * s * (1 + s),  # a sign in sigma'
        beta * x * s * (1 - s),  # the first term of the product rule dropped
        s + beta**2 * x * s * (1 - s),  # beta twice
        "sigma(beta*x) + beta*x*sigma(beta*x)*(1 - sigma(beta*x))",  # a string
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

    def right_tanh(t):  # sigma(t) = (1 + tanh(t/2))/2, an equivalent stable form
        th = jnp.tanh(t / 2)
        return (1 + th) / 2 + t * (1 - th**2) / 4

    for label, answer in [("reference", right), ("tanh form", right_tanh)]:
        v = judge("Exercise 2", answer, verdict)
        assert v.ok is True, (label, v.message)

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


# ---- Exercise 3 (predict, then run): ten layers tanh(2h) at 0 ---------------------------------

def test_exercise_3_deep_tanh(verdicts, ns):
    sp, np, jnp = ns["sp"], ns["np"], ns["jnp"]
    verdict = verdicts["Exercise 3"]
    for right in (1024, 1024.0, 2**10, sp.Integer(2) ** 10, np.float32(1024), jnp.array(1024.0)):
        v = judge("Exercise 3", right, verdict)
        assert v.ok is True, (right, v.message)
    mistakes = [
        1.0,  # tanh'(0) = 1, the weight 2 forgotten
        2.0,  # one layer only
        20.0,  # added instead of multiplied
        0.25**10,  # the sigmoid's bound
        "1024", True, [1024.0], jnp.array([1024.0]), sp.Symbol("x"), sp.I,
    ]
    for wrong in mistakes:
        v = judge("Exercise 3", wrong, verdict)
        assert v.ok is False, (wrong, v.message)
        assert "Error" not in v.message, (wrong, v.message)


# ---- Exercise 4 (prove): softplus(x) = x + softplus(-x) ---------------------------------------

def test_exercise_4_softplus_rewritten(verdicts, ns):
    sp, x = ns["sp"], ns["x"]
    verdict = verdicts["Exercise 4"]
    rights = [
        x + sp.log(1 + sp.exp(-x)),  # the reference
        x + sp.log(sp.exp(-x) * (sp.exp(x) + 1)),  # factored the other way round
        x - sp.log(sp.exp(x) / (1 + sp.exp(x))),  # minus the log of the sigmoid
        sp.log(sp.exp(-x) + 1) + sp.Symbol("x"),  # a plain Symbol("x")
    ]
    for right in rights:
        v = judge("Exercise 4", right, verdict)
        assert v.ok is True, (right, v.message)
    mistakes = [
        sp.log(1 + sp.exp(x)),  # equal, but not of the form x + softplus(-x)
        -x + sp.log(1 + sp.exp(-x)),  # a sign
        x + sp.log(1 + sp.exp(x)),  # factored wrongly
        x + sp.log(1 - sp.exp(-x)),  # a sign inside the log
        x * sp.log(1 + sp.exp(-x)),  # a product, not a sum
        "x + log(1 + exp(-x))",  # a string
    ]
    for wrong in mistakes:
        v = judge("Exercise 4", wrong, verdict)
        assert v.ok is False, (wrong, v.message)
    assert "x + (...)" in judge("Exercise 4", mistakes[0], verdict).message


# ---- Exercise 5 (explore): the best beta for x sigma(beta x) ~ GELU ---------------------------

def test_exercise_5_best_beta(verdicts, ns):
    np, jnp, sp = ns["np"], ns["jnp"], ns["sp"]
    verdict = verdicts["Exercise 5"]
    for right in (1.77, 1.773, np.float64(1.775), jnp.array(1.77), sp.Float(1.77),
                  sp.Rational(177, 100)):
        v = judge("Exercise 5", right, verdict)
        assert v.ok is True, (right, v.message)
    for wrong in (1.702, 1.0, 1.6, "1.77", True, [1.77], jnp.array([1.77]), jnp.array(1.77 + 0j)):
        v = judge("Exercise 5", wrong, verdict)
        assert v.ok is False, (wrong, v.message)
