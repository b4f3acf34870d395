"""The formulas in the docstrings are the formulas the book derives, and the code computes
them.

* Text, both ways: every formula registered in :data:`dlmath.formulas.DOCUMENTED` is quoted
  (``sympy.latex``, whitespace joined) in its object's docstring, in order, and every
  ``$$`` block in the own docstring of any public object of dlmath (functions, classes and
  their public methods and properties, in every module with an ``__all__``) is one of the
  formulas registered for that object. ``python -m dlmath.formulas.sync`` has nothing to do.
* Presence: every public function and class has a docstring of its own (written in its
  body: the one ``dataclass``/``NamedTuple`` generate does not count).
* Links: every registered formula names the chapter cell that derives it and the tests that
  check it (:mod:`dlmath.formulas.links`), and they exist.
* Numbers: the registered regression, mse, softmax and central-difference formulas,
  lambdified, agree with the implementation in float64 (:func:`dlmath.testing.verify`).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import formulas as F
from dlmath.formulas import links, registry, sync
from dlmath.symbolic import docstring_math
from dlmath.testing import verify

ROOT = Path(__file__).resolve().parent.parent


def _quoted(formulas) -> list[str]:
    return [" ".join(f.latex.split()) for f in formulas]


def test_documented_is_not_empty():
    assert "losses.mse" in F.DOCUMENTED
    assert "linear_regression.mse_gradient" in F.DOCUMENTED


def test_docstring_math_is_the_registered_formula_both_ways():
    """The one test of docstrings against the registry (a topic's tests need not repeat it)."""
    public = registry.public_docstrings()
    # the walk sees the registered objects, and more than them (the reverse direction)
    assert "losses.mse" in public and "formulas._formula.Formula.reference" in public
    assert len(public) > len(F.DOCUMENTED)
    problems = []
    # registered -> docstring: each formula quoted, in order, nothing else
    for key, formulas in sorted(F.DOCUMENTED.items()):
        expected = _quoted(formulas)
        if not expected:
            problems.append(f"{key}: DOCUMENTED lists no formula")
        quoted = registry.math_blocks(registry.own_docstring(registry.resolve(key)))
        if quoted != expected:
            problems.append(f"{key}: docstring {quoted} != registered {expected}")
    # docstring -> registered (a $$ block in a public docstring belongs to its object's
    # registered formulas), and the sync command agrees that there is nothing to write
    problems += sync.out_of_sync()
    assert not problems, (
        "docstrings and dlmath.formulas disagree; fix the Formula or its registration and "
        "run python -m dlmath.formulas.sync:\n" + "\n".join(problems)
    )


@pytest.mark.parametrize("key", sorted(F.DOCUMENTED))
def test_sync_wraps_each_formula_so_it_reads_back_identically(key):
    for formula in F.DOCUMENTED[key]:
        want = " ".join(formula.latex.split())
        for indent in ("    ", "        "):
            text = sync.format_block(want, len(indent), indent)
            lines = text.split("\n")
            fits = [len(indent) + 2 + len(lines[0]) + 2 <= sync.WIDTH] + [
                len(line) + 2 <= sync.WIDTH for line in lines[1:]]
            # a line may only overflow when it is one word that cannot be broken
            assert all(ok or " " not in line.strip() for ok, line in
                       zip(fits, lines, strict=True)), text
            assert not any(line.strip()[:1] in "+-" for line in lines[1:]), text

            def f():
                pass

            f.__doc__ = f"Summary.\n\n{indent}$${text}$$\n\n{indent}More text.\n"
            assert docstring_math(f) == [want]


def test_math_blocks_skip_inline_literals_wherever_they_are_read():
    doc = "Quote ``$$...$$`` in code.\n\n$$a +\n   b$$ and $$c$$"
    assert registry.math_blocks(doc) == ["a + b", "c"]
    assert [doc[s:e] for s, e in registry.math_spans(doc)] == ["a +\n   b", "c"]
    assert docstring_math(type("T", (), {"__doc__": doc})) == ["a + b", "c"]  # one parser


def _public_functions_and_classes():
    out = []
    for module_name in registry.dlmath_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            target = inspect.unwrap(obj) if callable(obj) else obj
            if inspect.isclass(target) or inspect.isfunction(target):
                out.append((module_name, name))
    return out


PUBLIC = _public_functions_and_classes()


@pytest.mark.parametrize("module, name", PUBLIC, ids=[f"{m}.{n}" for m, n in PUBLIC])
def test_every_public_function_and_class_has_its_own_docstring(module, name):
    obj = getattr(importlib.import_module(module), name)
    doc = registry.own_docstring(obj)
    assert doc and doc.strip(), (
        f"{module}.{name} has no docstring of its own (a dataclass's or NamedTuple's "
        "generated signature does not count): write one in its body"
    )


#: a Raises entry as the API reference renders it: ``:raises TypeError, ValueError: text``
_RAISES_NAME = r"[A-Z]\w*(?:Error|Exception|Warning)"


def test_every_raises_section_renders_one_entry_per_exception():
    """The API reference (``python -m book build``) turns each Raises section into
    ``:raises Name: text`` entries with napoleon. A continuation line not indented under its
    entry, or a second exception inside one entry's text, renders as a bogus entry."""
    import re

    from sphinx.ext.napoleon import Config
    from sphinx.ext.napoleon.docstring import GoogleDocstring

    problems = []
    for module, name in PUBLIC:
        doc = registry.own_docstring(getattr(importlib.import_module(module), name)) or ""
        rendered = str(GoogleDocstring(inspect.cleandoc(doc), Config()))
        for names, text in re.findall(r"^:raises ([^:]*):(.*(?:\n(?!:|\n).*)*)", rendered,
                                      re.M):
            if not re.fullmatch(f"{_RAISES_NAME}(?:, {_RAISES_NAME})*", names.strip()):
                problems.append(f"{module}.{name}: an entry named {names.strip()!r}")
            elif re.search(rf"\b{_RAISES_NAME}:", text):
                problems.append(f"{module}.{name}: a second exception inside {text.strip()!r}")
    assert not problems, "\n".join(problems)


def test_own_docstring_ignores_generated_and_inherited_ones(tmp_path, monkeypatch):
    (tmp_path / "own_doc_example.py").write_text(
        "from dataclasses import dataclass\n"
        "from typing import NamedTuple\n\n"
        "@dataclass\nclass Bare:\n    a: int\n\n"
        "class Pair(NamedTuple):\n    a: int\n\n"
        "class Child(Pair):\n    pass\n\n"
        "@dataclass\nclass Documented:\n    \"\"\"Written in the body.\"\"\"\n\n    a: int\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    m = importlib.import_module("own_doc_example")
    assert m.Bare.__doc__ and m.Pair.__doc__ and inspect.getdoc(m.Child)  # what getdoc sees
    assert registry.own_docstring(m.Bare) is None
    assert registry.own_docstring(m.Pair) is None
    assert registry.own_docstring(m.Child) is None
    assert registry.own_docstring(m.Documented) == "Written in the body."
    assert registry.own_docstring(F.Formula).startswith("A named SymPy expression")


# ---------------------------------------------------------------- links


def _defined_tests(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {node.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef)}


def test_every_registered_formula_links_one_cell_of_its_chapter_and_tests_that_exist():
    registered = {registry.constant_names(topic)[id(formula)] for topic in F.TOPICS
                  for formulas in topic.DOCUMENTED.values() for formula in formulas}
    assert set(links.LINKS) == registered, (
        "dlmath.formulas.links.LINKS must name every registered formula, and no other: "
        f"missing {sorted(registered - set(links.LINKS))}, "
        f"extra {sorted(set(links.LINKS) - registered)}")
    chapters = {p.name[:2]: p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    notebooks, tests, problems = {}, {}, []
    for constant, link in sorted(links.LINKS.items()):
        if link.chapter is not None and link.chapter not in chapters:
            problems.append(f"{constant}: there is no chapter {link.chapter}")
        elif link.cell is not None:
            if link.chapter not in notebooks:
                notebooks[link.chapter] = json.loads(chapters[link.chapter].read_text())
            try:
                links.cell_of(notebooks[link.chapter], link.cell)
            except LookupError as e:
                problems.append(f"{constant}: chapter {link.chapter}: {e}")
        for test in (links.DOCSTRING_TEST, *link.tests):
            path, name = links.location(test)
            if path not in tests:
                tests[path] = _defined_tests(ROOT / path)
            if name not in tests[path]:
                problems.append(f"{constant}: {path} has no test {name}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- numbers


def _rng(seed):
    return np.random.default_rng(seed)


def _values(fn, args, reference, rtol, **kw):
    """``fn(*args)`` against the lambdified formula (and a peer), in float64: the values
    alone, which is what these formulas state."""
    return verify(fn, args, reference=reference, rtol=rtol, finite_differences=False,
                  check_grads_order=None, **kw)


@pytest.mark.parametrize("n", [1, 5, 12])
def test_mse_formula_equals_the_code(n):
    from dlmath import losses

    p, t = _rng(n).normal(size=n), _rng(n + 100).normal(size=n)
    _values(losses.mse, [p, t], lambda p, t: F.MSE.reference(p, t, n), 1e-13,
            peer=lambda p, t: np.mean((np.asarray(p) - np.asarray(t)) ** 2), peer_name="NumPy")


def test_regression_formulas_equal_the_code():
    from dlmath import linear_regression as lr

    n, d = 9, 3
    rng = _rng(0)
    X, w, y = rng.normal(size=(n, d)), rng.normal(size=d), rng.normal(size=n)
    col = lambda v: v[:, None]  # the MatrixSymbols are (., 1) columns

    _values(lr.mse_gradient, [w, X, y],
            lambda w, X, y: F.LINEAR_GRADIENT.reference(X, col(w), col(y), n), 1e-12)
    _values(lr.hessian, [X], lambda X: F.LINEAR_HESSIAN.reference(X, n), 1e-12)
    _values(lr.normal_equations, [X, y],
            lambda X, y: F.NORMAL_EQUATIONS.reference(X, col(y)), 1e-10)
    _values(lr.max_stable_learning_rate, [X], lambda X: F.GD_STEP_BOUND.reference(
        jnp.linalg.eigvalsh(F.LINEAR_HESSIAN.reference(X, n))[-1]), 1e-12)


@pytest.mark.parametrize("K", [1, 3, 6])
def test_softmax_formulas_equal_the_code_for_each_k(K):
    from dlmath import activations

    def each_k(formula):
        return lambda x: jnp.stack([formula.reference(x, k, K) for k in range(K)])

    x = _rng(K).normal(size=K) * 3
    _values(activations.softmax, [x], each_k(F.SOFTMAX), 1e-13)
    _values(activations.log_softmax, [x], each_k(F.LOG_SOFTMAX), 1e-13)


def test_central_difference_formula_equals_the_code():
    from dlmath import testing
    from dlmath.formulas import numerics

    f = lambda v: jnp.sum(jnp.sin(v) * v**2)
    eps = 1e-4

    def by_formula(x):
        e = jnp.eye(x.size, dtype=x.dtype)
        return jnp.stack([numerics.CENTRAL_DIFFERENCE.reference(f(x + eps * e[k]),
                                                                f(x - eps * e[k]), eps)
                          for k in range(x.size)])

    _values(lambda x: testing.finite_difference_grad(f, x, eps=eps), [_rng(3).normal(size=4)],
            by_formula, 1e-12)
