"""dlmath.derivation: chains of steps in the book's notation, each proven after its
definitions are substituted, displayed with its scope, and listed in a chapter's table."""

from __future__ import annotations

import re

import pytest
import sympy as sp

from dlmath.derivation import (
    LINE_AT,
    WRAP_AT,
    Derivation,
    LinearDerivative,
    LinearIntegral,
    LinearSum,
    define,
    expand_definitions,
    latex_width,
    reset_ledger,
    verified_table,
)
from dlmath.proofs import ProofError
from dlmath.symbolic import latex_errors

z, y, x = sp.symbols("z y x", real=True)
sigma = sp.Function("sigma")
SIGMOID = {sigma: sp.Lambda(x, 1 / (1 + sp.exp(-x)))}
K = sp.Symbol("K", integer=True, positive=True)
i, j, k = sp.symbols("i j k", integer=True, nonnegative=True)
zs = sp.IndexedBase("z", real=True)
p = sp.IndexedBase("p")
SOFTMAX = {p: sp.Lambda(i, sp.exp(zs[i]) / sp.Sum(sp.exp(zs[k]), (k, 0, K - 1)))}
PRINTER_TEXT = re.compile(r"\b(Derivative|Sum|Piecewise|KroneckerDelta|Indexed)\(")


@pytest.fixture(autouse=True)
def _fresh_ledger():
    reset_ledger()
    yield
    reset_ledger()


def sigmoid_derivative():
    d = Derivation("the sigmoid's derivative", sp.Derivative(sigma(z), z), definitions=SIGMOID)
    d.step(sp.exp(-z) / (1 + sp.exp(-z)) ** 2, "quotient rule")
    return d.step(sigma(z) * (1 - sigma(z)), "factor")


def test_each_step_is_proven_with_the_definitions_substituted():
    d = sigmoid_derivative()
    assert [s.scope for s in d.steps] == ["proven", "proven"]
    assert d.equation == (sp.Derivative(sigma(z), z), sigma(z) * (1 - sigma(z)))
    # the display keeps the named function, the proof expanded it
    assert r"\sigma" in d.latex and "e^{- z}" in d.latex


def test_a_wrong_step_fails():
    d = Derivation("wrong", sp.Derivative(sigma(z), z), definitions=SIGMOID)
    with pytest.raises(ProofError):
        d.step(sigma(z) * (1 + sigma(z)), "a sign slipped")
    assert d.steps == []


def test_a_step_that_reads_x_equals_x_is_refused():
    d = Derivation("trivial", sigma(z), definitions=SIGMOID)
    with pytest.raises(ValueError, match="x = x"):
        d.step(sigma(z), "nothing")


def test_premises_resolve_collapsed_sums_for_every_size_and_are_shown():
    d = Derivation("the softmax Jacobian", sp.Derivative(p[i], zs[j]), definitions=SOFTMAX,
                   premises=[i <= K - 1, j <= K - 1])
    d.step(p[i] * (sp.KroneckerDelta(i, j) - p[j]), "quotient rule")
    assert d.scope == "proven"
    assert r"j \leq K - 1" in d.latex and "with" in d.text
    assert "K integer >= 1" in d.text
    # without the premise the same step is not proven (an index out of range gives 0)
    bare = Derivation("no premise", sp.Derivative(p[i], zs[j]), definitions=SOFTMAX)
    with pytest.raises(ProofError):
        bare.step(p[i] * (sp.KroneckerDelta(i, j) - p[j]), "quotient rule")


def test_using_rewrites_with_an_earlier_result_and_names_it():
    lemma = sigmoid_derivative()
    loss = -y * sp.log(sigma(z)) - (1 - y) * sp.log(1 - sigma(z))
    g = Derivation("the BCE gradient", sp.Derivative(loss, z))  # no definitions: only the lemma
    g.step(-y * sp.Derivative(sigma(z), z) / sigma(z)
           + (1 - y) * sp.Derivative(sigma(z), z) / (1 - sigma(z)), "chain rule")
    g.step(-y * (1 - sigma(z)) + (1 - y) * sigma(z), "$\\sigma' = \\sigma(1 - \\sigma)$",
           using=[lemma])
    g.step(sigma(z) - y, "expand")
    assert "by the sigmoid's derivative" in g.text
    assert r"\sigma' = \sigma(1 - \sigma)" in g.latex  # the reason's math is set as math
    # without the lemma (and without the definition) the middle step cannot be shown
    h = Derivation("unsupported", sp.Derivative(loss, z))
    h.step(-y * sp.Derivative(sigma(z), z) / sigma(z)
           + (1 - y) * sp.Derivative(sigma(z), z) / (1 - sigma(z)), "chain rule")
    with pytest.raises(ProofError):
        h.step(-y * (1 - sigma(z)) + (1 - y) * sigma(z), "no lemma")


def test_only_proven_results_may_be_used():
    weak = Derivation("checked only", sp.Derivative(p[i], zs[j]), definitions=SOFTMAX)
    weak.step(p[i] * (sp.KroneckerDelta(i, j) - p[j]), "quotient rule", at={K: 3, i: 0, j: 1})
    assert weak.scope == "checked" and "checked at K = 3" in weak.text
    d = Derivation("x", sp.Derivative(p[i], zs[j]), definitions=SOFTMAX)
    with pytest.raises(ValueError, match="not proven"):
        d.step(p[i] * (sp.KroneckerDelta(i, j) - p[j]), "reuse", using=[weak])


def test_argued_and_inequality_steps():
    d = Derivation("sigma' is at most 1/4", sigma(z) * (1 - sigma(z)), definitions=SIGMOID)
    d.step(sp.Rational(1, 4), "a square is non-negative", relation="<=",
           certificate=(sigma(z) - sp.Rational(1, 2)) ** 2)
    assert d.relation == "<=" and d.scope == "proven" and r"\le" in d.latex
    a = Derivation("argued", sp.Symbol("a", positive=True))
    a.step(sp.Integer(0), "a reason in the prose", relation=">", argued=True)
    assert a.scope == "argued" and "argued in the text" in a.text


def test_string_premises_are_conditions_shown_in_the_badge():
    N, D = sp.symbols("N D", integer=True, positive=True)
    X, Y = sp.MatrixSymbol("X", N, D), sp.MatrixSymbol("y", N, 1)
    w = (X.T * X).I * X.T * Y
    d = Derivation("normal equations", sp.MatMul(X.T, X, w, evaluate=False),
                   premises=[r"X^\top X \text{ invertible}"])
    d.step(X.T * Y, "the inverse cancels")
    assert r"\mathbb{R}^{N \times D}" in d.latex and "invertible" in d.latex


def test_the_display_typesets_wraps_and_has_no_printer_text():
    long = sum(sp.Function(f"f{n}")(z) ** 2 for n in range(12))
    d = Derivation("a long sum", sp.Derivative(long, z))
    d.step(sum(2 * sp.Function(f"f{n}")(z) * sp.Derivative(sp.Function(f"f{n}")(z), z)
               for n in range(12)), "chain rule, term by term")
    assert not latex_errors(d.latex)
    body = d.latex.removeprefix(r"\begin{aligned}").removesuffix(r"\end{aligned}")
    formula_lines = [line for line in body.split(r" \\ ") if r"\scriptsize" not in line]
    assert len(formula_lines) > 2  # broken over lines
    assert all(latex_width(line) <= WRAP_AT + 20 for line in formula_lines[1:]), formula_lines
    assert not PRINTER_TEXT.search(d.text), d.text


def test_latex_width_counts_the_wider_part_of_a_fraction():
    assert latex_width(r"\frac{a}{bcdef}") == pytest.approx(5.5)
    assert latex_width(r"x^{2}") == pytest.approx(1.7)


def test_define_and_expand_definitions():
    shown = define(r"\sigma(z)", 1 / (1 + sp.exp(-z)), "the logistic sigmoid")
    assert r"\textsf{" in shown.latex and "definition" in shown.text
    assert expand_definitions(sp.Derivative(sigma(z), z), SIGMOID) == sp.diff(
        1 / (1 + sp.exp(-z)), z)


def test_the_verified_table_lists_each_derivation_with_its_weakest_scope():
    sigmoid_derivative()
    mixed = Derivation("mixed", sp.Derivative(p[i], zs[j]), definitions=SOFTMAX)
    mixed.step(p[i] * (sp.KroneckerDelta(i, j) - p[j]), "quotient rule", at={K: 2, i: 0, j: 0})
    table = verified_table()
    assert [row[2] for row in table.rows] == ["the sigmoid's derivative", "mixed"]
    assert "proven for every" in table.rows[0][1] and "checked at" in table.rows[1][1]
    md = table._repr_markdown_()
    assert md.splitlines()[0] == "| claim | scope | where |" and len(md.splitlines()) == 4
    reset_ledger()
    assert verified_table().rows == ()


def test_bad_arguments():
    with pytest.raises(TypeError):
        Derivation("", z)
    with pytest.raises(TypeError):
        Derivation("t", "z")
    with pytest.raises(TypeError):
        Derivation("t", z, premises=[sp.Ne(z, 0)])
    d = Derivation("t", sp.Derivative(sigma(z), z), definitions=SIGMOID)
    with pytest.raises(ValueError):
        d.step(sigma(z), "r", relation="~")
    with pytest.raises(ValueError, match="unbalanced"):
        d.step(sigma(z) * (1 - sigma(z)), "a $ sign")


def test_indices_bound_by_a_sum_are_not_in_the_scope():
    KH, KW = sp.symbols("K_H K_W", integer=True, positive=True)
    a, b, u, v = sp.symbols("a b u v", integer=True, nonnegative=True)
    w, xs, flipped = sp.IndexedBase("w", real=True), sp.IndexedBase("x", real=True), \
        sp.IndexedBase("w'")
    d = Derivation("flip", sp.Sum(flipped[u, v] * xs[a + u, b + v], (u, 0, KH - 1), (v, 0, KW - 1)),
                   definitions={flipped: sp.Lambda((u, v), w[KH - u - 1, KW - v - 1])})
    d.step(sp.Sum(w[KH - u - 1, KW - v - 1] * xs[a + u, b + v], (u, 0, KH - 1), (v, 0, KW - 1)),
           "the flipped kernel")
    scope = d.steps[0].scope_text()
    assert "a, b integer >= 0" in scope and "u" not in scope.replace("proven", ""), scope
    assert "x_{a + u, b + v}" in d.text  # several indices, separated


def test_using_an_indexed_result_rewrites_each_entry():
    jac = Derivation("the softmax Jacobian", sp.Derivative(p[i], zs[j]), definitions=SOFTMAX,
                     premises=[i <= K - 1, j <= K - 1])
    jac.step(p[i] * (sp.KroneckerDelta(i, j) - p[j]), "quotient rule")
    g = sp.IndexedBase("g", real=True)
    m = sp.Symbol("m", integer=True, nonnegative=True)
    # no definitions: only the lemma can turn the derivatives into products
    d = Derivation("a row of the backward pass",
                   sp.Sum(g[k] * sp.Derivative(p[k], zs[m]), (k, 0, K - 1)))
    d.step(sp.Sum(g[k] * p[k] * (sp.KroneckerDelta(k, m) - p[m]), (k, 0, K - 1)),
           "the softmax Jacobian, entry by entry", using=[jac])
    assert d.scope == "proven" and "by the softmax Jacobian" in d.text


def test_the_text_form_writes_a_substitution_without_printer_text():
    f = sp.Function("f")
    d = Derivation("subs", sp.Derivative(f(z ** 2), z))
    d.step(2 * z * sp.Subs(sp.Derivative(f(x), x), x, z ** 2), "chain rule")
    assert not re.search(r"\bSubs\(", d.text), d.text


def _rows(latex):
    return latex.removeprefix(r"\begin{aligned}").removesuffix(r"\end{aligned}").split(r" \\ ")


def test_a_wide_definition_breaks_inside_a_function_and_a_sum():
    x, h, w = (sp.IndexedBase(n, real=True) for n in ("x", "h", "w"))
    a, b, n = sp.symbols("a b n", integer=True)
    inner = sum(sp.Sum(w[k, a] * x[a] * h[b] ** k, (a, 0, n - 1)) for k in range(4))
    shown = define(sp.Symbol("h_t"), sp.tanh(inner + sp.Symbol("c")), "a long step")
    rows = _rows(shown.latex)
    assert len(rows) > 2 and not latex_errors(shown.latex)
    assert r"\tanh\bigl(" in rows[0] and rows[-2].endswith(r"\bigr)")  # the brackets span rows
    assert all(latex_width(r) <= WRAP_AT + 4 for r in rows[:-1]), rows
    assert r"\textsf{a long step}" in rows[-1]  # the badge on a row of its own
    short = define(sp.Symbol("s"), sp.tanh(x[0]), "short")
    assert r"\begin{aligned}" not in short.latex


def test_a_line_is_not_broken_inside_a_fraction_or_an_exponent():
    z = sp.symbols("z0:30", real=True)
    wide = sp.exp(sum(z)) / (1 + sp.exp(-sum(z)))
    shown = define(sp.Symbol("q"), wide)
    assert not latex_errors(shown.latex)
    rows = _rows(shown.latex)
    assert len(rows) == 2  # the formula whole (it cannot break), then the badge
    assert r"\bigl" not in shown.latex


def test_a_wide_left_side_breaks_too():
    q = sp.symbols("q0:14", real=True)
    start = (sp.Mul(sum(q[:7]), sum(q[7:]), evaluate=False)
             + sp.Mul(sum(q[7:]), sum(q[:7]), evaluate=False))
    d = Derivation("a symmetric sum", start)
    d.step(2 * sp.Mul(sum(q[:7]), sum(q[7:]), evaluate=False), "the two products are equal")
    rows = _rows(d.latex)
    assert not latex_errors(d.latex)
    formula = [r for r in rows if r"\scriptsize" not in r]
    assert len(formula) >= 3 and all(latex_width(r) <= LINE_AT for r in formula), formula


# ---------------------------------------------------------------- evaluation by linearity


def _rational(e):
    return sp.cancel(sp.expand(e))


def test_a_linear_sum_takes_constants_out_and_names_its_index_once():
    N = sp.Symbol("N", integer=True, positive=True)
    a, b = sp.symbols("a b", real=True)
    xs = sp.IndexedBase("x", real=True)
    by_i = LinearSum(a * xs[i] + b, (i, 0, N - 1)).doit()
    by_j = LinearSum(a * xs[j] + b, (j, 0, N - 1)).doit()
    assert sp.expand(by_i - by_j) == 0  # one canonical index: the same sum cancels
    assert sp.expand(sp.Sum(xs[i], (i, 0, N - 1)) - sp.Sum(xs[j], (j, 0, N - 1))) != 0
    (inner,) = by_i.atoms(sp.Sum)  # a * sum of x, and N copies of b
    assert inner.function.base == xs and inner.limits[0][1:] == (0, N - 1)
    assert sp.expand(by_i - a * inner) == N * b
    assert LinearSum(b, (i, 0, N - 1)).doit() == N * b
    # what SymPy can sum it sums (a geometric series), what it cannot stays a sum
    beta = sp.Symbol("beta", positive=True)
    geometric = LinearSum((1 - beta) * beta**k, (k, 0, N - 1)).doit()
    assert geometric.subs({beta: sp.Rational(1, 2), N: 3}).doit() == sp.Rational(7, 8)


def test_nested_linear_sums_keep_their_indices_apart():
    N, M = sp.symbols("N M", integer=True, positive=True)
    xs, gs = sp.IndexedBase("x", real=True), sp.IndexedBase("g", real=True)
    nested = LinearSum(LinearSum(xs[i] * gs[j], (i, 0, N - 1)), (j, 0, M - 1)).doit()
    explicit = sum(xs[p] * gs[q] for p in range(2) for q in range(3))
    assert sp.expand(nested.subs({N: 2, M: 3}).doit() - explicit) == 0


def test_linear_operators_display_as_sympys_own():
    N = sp.Symbol("N", integer=True, positive=True)
    xs = sp.IndexedBase("x", real=True)
    line = (x, -sp.oo, sp.oo)
    for linear, plain in ((LinearSum(xs[i] ** 2, (i, 0, N - 1)), sp.Sum(xs[i] ** 2, (i, 0, N - 1))),
                          (LinearIntegral(sp.exp(-x**2), line), sp.Integral(sp.exp(-x**2), line)),
                          (LinearDerivative(sigma(z) ** 2, z), sp.Derivative(sigma(z) ** 2, z))):
        shown, expected = define(sp.Symbol("S"), linear), define(sp.Symbol("S"), plain)
        assert shown.latex == expected.latex and shown.text == expected.text


def test_linear_sums_prove_what_sympys_sums_cannot():
    N = sp.Symbol("N", integer=True, positive=True)
    gs, dev = sp.IndexedBase("g", real=True), sp.IndexedBase("d")

    def centred(total):  # d_j = g_j - (sum_i g_i) / N
        return {dev: sp.Lambda(j, gs[j] - total(gs[i], (i, 0, N - 1)) / N)}

    d = Derivation("deviations sum to 0", LinearSum(dev[j], (j, 0, N - 1)),
                   definitions=centred(LinearSum))
    d.step(sp.Integer(0), "the sum is linear", simplifiers=[_rational])
    assert d.scope == "proven"
    plain = Derivation("plain sums", sp.Sum(dev[j], (j, 0, N - 1)), definitions=centred(sp.Sum))
    with pytest.raises(ProofError):  # SymPy's sums over i and over j do not cancel
        plain.step(sp.Integer(0), "the sum is linear", simplifiers=[_rational])


def test_linear_sums_prove_that_the_batch_norm_gradient_sums_to_zero():
    N = sp.Symbol("N", integer=True, positive=True)
    gamma, mu = sp.symbols("gamma mu", real=True)
    sd, S = sp.Symbol("sigma", positive=True), sp.Symbol("S")
    xs, gs, xh = (sp.IndexedBase(n, real=True) for n in ("x", "g", "xhat"))
    dL = sp.IndexedBase("dL")
    compact = sp.Lambda(j, gamma / (N * sd) * (N * gs[j] - LinearSum(gs[i], (i, 0, N - 1))
                                               - xh[j] * S))
    defs = {dL: compact, xh: sp.Lambda(j, (xs[j] - mu) / sd),
            mu: LinearSum(xs[i], (i, 0, N - 1)) / N}
    d = Derivation("sums to zero", LinearSum(dL[j], (j, 0, N - 1)), definitions=defs)
    d.step(-gamma * S / (N * sd) * LinearSum(xh[j], (j, 0, N - 1)), "the sum is linear",
           simplifiers=[_rational])
    d.step(sp.Integer(0), r"$\sum_j x_j = N\mu$", simplifiers=[_rational])
    assert d.scope == "proven"


def test_a_linear_integral_integrates_a_polynomial_against_a_gaussian_term_by_term():
    mu, eps, u = sp.symbols("mu epsilon u", real=True)
    s = sp.Symbol("sigma", positive=True)
    c = sp.symbols("c_0:4", real=True)
    f, phi = sp.Function("f"), sp.Function("phi")
    cubic = {f: sp.Lambda(u, sum(c_i * u**n for n, c_i in enumerate(c))),
             phi: sp.Lambda(eps, sp.exp(-eps**2 / 2) / sp.sqrt(2 * sp.pi))}
    line = (eps, -sp.oo, sp.oo)
    d = Derivation("reparameterised gradient",
                   sp.Derivative(LinearIntegral(f(mu + s * eps) * phi(eps), line), mu),
                   definitions=cubic)
    d.step(LinearIntegral(sp.Derivative(f(mu + s * eps), mu) * phi(eps), line),
           "differentiate under the integral")
    assert d.scope == "proven"
    mean = expand_definitions(LinearIntegral(f(mu + s * eps) * phi(eps), line), cubic)
    assert sp.expand(mean - (c[0] + c[1] * mu + c[2] * (mu**2 + s**2)
                             + c[3] * (mu**3 + 3 * mu * s**2))) == 0  # the Gaussian moments


def test_a_linear_derivative_of_a_matrix_expression_uses_matrix_calculus():
    n = sp.Symbol("n", integer=True, positive=True)
    H = sp.MatrixSymbol("H", n, n)
    th, ts = sp.MatrixSymbol("theta", n, 1), sp.MatrixSymbol("theta^*", n, 1)
    quadratic = (th - ts).T * H * (th - ts) / 2
    with pytest.raises(NotImplementedError):  # SymPy's own Derivative cannot evaluate it
        sp.Derivative(quadratic, th).doit()
    d = Derivation("gradient of the quadratic", LinearDerivative(quadratic, th))
    d.step(sp.MatMul(sp.Rational(1, 2), sp.MatAdd(H, H.T), th - ts, evaluate=False),
           "product rule")
    assert d.scope == "proven"
    a = sp.Symbol("a", real=True)
    scalar = LinearDerivative(a * sigma(z) + a * z**2, z).doit()
    assert sp.expand(scalar - (a * sp.Derivative(sigma(z), z) + 2 * a * z)) == 0
