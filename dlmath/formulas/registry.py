"""The formula registry, read: the ``$$`` blocks of a docstring, the own docstring of an
object, and the object a registry key names.

The registry (:data:`dlmath.formulas.DOCUMENTED`) maps ``"module.function"`` (or
``"module.Class.method"``) to the formulas that the object's docstring quotes as display
math, in order. This module is the package's one reader of display math: the sync command
(:mod:`dlmath.formulas.sync`), :func:`dlmath.symbolic.docstring_math`, the tests and the
HTML book's Sphinx extension all find the blocks with :func:`math_spans`.

A ``$$`` inside an inline literal (double backquotes, as in this docstring) is text, not
math, and is ignored.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import sys
from functools import cached_property
from pathlib import Path

__all__ = ["math_spans", "math_blocks", "dlmath_modules", "find_def", "own_docstring",
           "public_docstrings", "locate", "resolve", "constant_names"]

_LITERAL = re.compile(r"``.*?``", flags=re.S)
_BLOCK = re.compile(r"\$\$(.+?)\$\$", flags=re.S)


# ------------------------------------------------------------------ display math


def math_spans(text: str) -> list[tuple[int, int]]:
    """Where the display-math blocks of a docstring are.

    Args:
        text: a docstring, or the text of its string literal in a source file.

    Returns:
        ``(start, end)`` of the text between each pair of ``$$``, in order (the ``$$``
        themselves are ``text[start - 2:start]`` and ``text[end:end + 2]``); pairs inside
        inline literals are skipped.
    """
    masked = _LITERAL.sub(lambda m: " " * len(m.group()), text)
    return [m.span(1) for m in _BLOCK.finditer(masked)]


def math_blocks(doc: str | None) -> list[str]:
    """The display-math blocks of a docstring, in order, with whitespace joined.

    Args:
        doc: a docstring, or ``None``.

    Returns:
        One string per block (:func:`math_spans`), each as ``" ".join(block.split())``:
        what a registered formula's ``latex`` is compared with.
    """
    doc = doc or ""
    return [" ".join(doc[s:e].split()) for s, e in math_spans(doc)]


# ------------------------------------------------------------------ the public objects


def dlmath_modules() -> list[str]:
    """Every importable module of the dlmath package (``"dlmath"``, ``"dlmath.losses"``,
    ...), sorted."""
    import dlmath

    return sorted(["dlmath"] + [m.name for m in pkgutil.walk_packages(dlmath.__path__, "dlmath.")])


def _tree(module_name: str) -> ast.Module | None:
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    path = getattr(module, "__file__", None)
    if not path or not path.endswith(".py"):
        return None
    return ast.parse(Path(path).read_text(encoding="utf-8"))


def find_def(tree: ast.AST, qualname: str):
    """The ``def`` or ``class`` node of ``qualname`` (``"f"``, ``"Cls.method"``) in a parsed
    module, or ``None``. Of a property's getter and setter, the one with the docstring."""
    node = tree
    for part in qualname.split("."):
        found = None
        for child in getattr(node, "body", []):
            if (isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                    and child.name == part):
                found = child
                if ast.get_docstring(child, clean=False) is not None:
                    break  # a property's getter over its docstring-less setter
        if found is None:
            return None
        node = found
    return node


def _function_of(attr):
    """The function behind a method, property, cached_property, static/class method."""
    if isinstance(attr, property):
        return attr.fget
    if isinstance(attr, cached_property):
        return attr.func
    if isinstance(attr, (staticmethod, classmethod)):
        return attr.__func__
    return attr


def own_docstring(obj) -> str | None:
    """The docstring written in the object's own body, cleaned, or ``None``.

    For a class this is the string literal in its ``class`` body, read from the source:
    the ``__doc__`` that ``dataclass`` or ``NamedTuple`` generate (``"Cache(zs,
    activations)"``) does not count, nor a docstring inherited from a base. For a
    function (also one wrapped by ``jax.jit`` or ``functools.wraps``) it is its own
    ``__doc__``.

    Args:
        obj: a class, a function, or a wrapper of one.

    Returns:
        The cleaned docstring (as :func:`inspect.cleandoc`), or ``None`` when there is none.
    """
    if inspect.isclass(obj):
        tree = _tree(obj.__module__)
        node = find_def(tree, obj.__qualname__) if tree is not None else None
        if node is None:
            return None
        return ast.get_docstring(node)
    fn = inspect.unwrap(_function_of(obj))
    doc = getattr(fn, "__doc__", None)
    if not isinstance(doc, str) or doc is getattr(type(fn), "__doc__", None):
        return None
    return inspect.cleandoc(doc)


def _key(obj) -> str | None:
    module = getattr(obj, "__module__", None) or ""
    if not module.startswith("dlmath."):
        return None
    return f"{module.removeprefix('dlmath.')}.{obj.__qualname__}"


def public_docstrings() -> dict[str, str | None]:
    """Own docstring of every public object of dlmath, by registry key.

    Walks every dlmath module that has an ``__all__``; takes each function and class it
    lists (defined in dlmath; re-exports count once, under the module that defines them)
    and each public method, property and cached property in a class body.

    Returns:
        ``{"module.name": docstring, "module.Class.member": docstring, ...}`` with the
        docstring as :func:`own_docstring` (``None`` where there is none).
    """
    out: dict[str, str | None] = {}
    for module_name in dlmath_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            target = inspect.unwrap(obj) if callable(obj) else obj
            if not (inspect.isclass(target) or inspect.isfunction(target)):
                continue  # data: symbols, formulas, constants
            key = _key(target)
            if key is None or key in out:
                continue
            out[key] = own_docstring(obj)
            if inspect.isclass(target):
                for member, attr in vars(target).items():
                    fn = _function_of(attr)
                    if member.startswith("_") or not inspect.isfunction(inspect.unwrap(fn)):
                        continue
                    out[f"{key}.{member}"] = own_docstring(attr)
    return out


# ------------------------------------------------------------------ registry keys


def locate(key: str) -> tuple[str, str]:
    """Where a registry key's object is defined.

    Args:
        key: ``"module.function"`` or ``"module.Class.method"`` (the module may be a
            sub-module: ``"formulas.sync.main"``).

    Returns:
        ``(module name, qualname)``: the longest importable ``dlmath.`` prefix and the rest,
        e.g. ``("dlmath.optim", "Optimizer.update")``.

    Raises:
        LookupError: when no prefix of the key is a dlmath module.
    """
    parts = key.split(".")
    for n in range(len(parts) - 1, 0, -1):
        module_name = "dlmath." + ".".join(parts[:n])
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name is not None and module_name.startswith(e.name):
                continue
            raise
        return module_name, ".".join(parts[n:])
    raise LookupError(f"{key}: no dlmath module in this name")


def resolve(key: str):
    """The object a registry key names (``"layers.dense"``, ``"optim.Optimizer.update"``).

    Raises:
        LookupError: when no prefix of the key is a dlmath module.
        AttributeError: when the module has no such object.
    """
    module_name, qualname = locate(key)
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def constant_names(topic) -> dict[int, str]:
    """The names of a topic module's formulas, as :data:`dlmath.formulas.links.LINKS` keys.

    Args:
        topic: a topic module of :mod:`dlmath.formulas` (``dlmath.formulas.activations``).

    Returns:
        ``{id(formula): "activations.SOFTMAX", ...}`` for every public constant of the module
        that holds a :class:`~dlmath.formulas.Formula` (the first name, where one formula has
        two).
    """
    from dlmath.formulas._formula import Formula

    short = topic.__name__.rsplit(".", 1)[-1]
    names: dict[int, str] = {}
    for attr, value in vars(topic).items():
        if isinstance(value, Formula) and not attr.startswith("_"):
            names.setdefault(id(value), f"{short}.{attr}")
    return names
