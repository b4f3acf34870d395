"""The formulas in the docstrings are the formulas the book derives, and the code computes
them.

* Text, both ways: every formula registered in :data:`dlmath.formulas.DOCUMENTED` is quoted
  (``sympy.latex``, whitespace joined) in its object's docstring, in order, and every
  ``$$`` block in the own docstring of any public object of dlmath (functions, classes and
  their public methods and properties, in every module with an ``__all__``) is one of the
  formulas registered for that object. ``python -m dlmath.formulas.sync`` has nothing to do.
* Presence: every public function and class has a docstring of its own (written in its
  body: the one ``dataclass``/``NamedTuple`` generate does not count).
* Numbers: the registered regression, mse, softmax and central-difference formulas,
  lambdified, agree with the implementation in float64.
"""

from __future__ import annotations

import importlib
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlmath import formulas as F
from dlmath.formulas import sync
from dlmath.symbolic import docstring_math


def _resolve(key: str):
    """The object of a registry key (``"layers.dense"``, ``"optim.Optimizer.update"``)."""
    module_name, qualname = sync._locate(key)
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _quoted(formulas) -> list[str]:
    return [" ".join(f.latex.split()) for f in formulas]


def test_documented_is_not_empty():
    assert "losses.mse" in F.DOCUMENTED
    assert "linear_regression.mse_gradient" in F.DOCUMENTED


def test_docstring_math_is_the_registered_formula_both_ways():
    public = sync.public_docstrings()
    # the walk sees the registered objects, and more than them (the reverse direction)
    assert "losses.mse" in public and "formulas._formula.Formula.reference" in public
    assert len(public) > len(F.DOCUMENTED)
    problems = []
    # registered -> docstring: each formula quoted, in order, nothing else
    for key, formulas in sorted(F.DOCUMENTED.items()):
        expected = _quoted(formulas)
        if not expected:
            problems.append(f"{key}: DOCUMENTED lists no formula")
        obj = _resolve(key)
        if docstring_math(obj) != expected:
            problems.append(f"{key}: docstring {docstring_math(obj)} != registered {expected}")
        if key in public and sync.math_blocks(public[key]) != expected:
            problems.append(f"{key}: own docstring {sync.math_blocks(public[key])} != "
                            f"registered {expected}")
    # docstring -> registered: a $$ block in a public docstring belongs to its object's
    # registered formulas
    for key, doc in sorted(public.items()):
        blocks = sync.math_blocks(doc)
        if blocks and key not in F.DOCUMENTED:
            problems.append(f"{key}: $$ blocks {blocks} but no formula is registered for it")
    # and the sync command agrees that there is nothing to write
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
            assert sync.math_blocks(f.__doc__) == [want]


def test_math_blocks_skip_inline_literals():
    doc = "Quote ``$$...$$`` in code.\n\n$$a +\n   b$$ and $$c$$"
    assert sync.math_blocks(doc) == ["a + b", "c"]
    assert docstring_math(type("T", (), {"__doc__": doc})) == ["...", "a + b", "c"]


def _public_functions_and_classes():
    out = []
    for module_name in sync._dlmath_modules():
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
    doc = sync.own_docstring(obj)
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
        doc = sync.own_docstring(getattr(importlib.import_module(module), name)) or ""
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
    assert sync.own_docstring(m.Bare) is None
    assert sync.own_docstring(m.Pair) is None
    assert sync.own_docstring(m.Child) is None
    assert sync.own_docstring(m.Documented) == "Written in the body."
    assert sync.own_docstring(F.Formula).startswith("A named SymPy expression")


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


def test_central_difference_formula_equals_the_code(x64):
    from dlmath import testing
    from dlmath.formulas import numerics

    f = lambda v: jnp.sum(jnp.sin(v) * v**2)
    x = jnp.asarray(_rng(3).normal(size=4))
    eps = 1e-4
    got = testing.finite_difference_grad(f, x, eps=eps)
    for k in range(4):
        e_k = jnp.zeros(4).at[k].set(1.0)
        ref = numerics.CENTRAL_DIFFERENCE.reference(f(x + eps * e_k), f(x - eps * e_k), eps)
        assert float(ref) == pytest.approx(float(got[k]), rel=1e-12, abs=1e-14)
