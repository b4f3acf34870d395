"""The book's API reference (``api/``): one page per public dlmath module, from its
docstrings (Sphinx's autodoc renders them; ``book/sphinxext.py`` turns their math and
chapter references into RST), and an index page with each module's summary line.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

__all__ = ["api_modules", "members", "api_pages"]


def api_modules() -> list[str]:
    """dlmath's public modules (no leading underscore), the package itself first.

    The topic modules of :mod:`dlmath.formulas` hold SymPy objects, not API: the formula
    index shows them, rendered.
    """
    import dlmath
    from dlmath import formulas

    topics = {t.__name__ for t in formulas.TOPICS}
    names = [m.name for m in pkgutil.walk_packages(dlmath.__path__, "dlmath.")
             if not any(part.startswith("_") for part in m.name.split("."))
             and m.name not in topics]
    return ["dlmath"] + sorted(names)


def _summary(module_name: str) -> str:
    try:
        doc = importlib.import_module(module_name).__doc__ or ""
    except Exception as exc:  # a module that does not import is reported, not fatal
        return f"(does not import: {type(exc).__name__})"
    return doc.strip().splitlines()[0] if doc.strip() else ""


def members(module_name: str, public: set[str]) -> tuple[list[str], list[str]]:
    """``(names documented on the module's page, names it re-exports from another public
    dlmath module)``, the latter as ``"dlmath.other.name"``, documented there. Each object
    is documented once, where it is defined, so its [source] link and the link back from
    the source agree.

    Args:
        module_name: ``"dlmath.symbolic"``.
        public: the modules that have a page (:func:`api_modules`).
    """
    try:
        module = importlib.import_module(module_name)
    except Exception:
        return [], []
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and getattr(v, "__module__", module_name) == module_name
                 and (callable(v) or isinstance(v, type))]
    own, elsewhere = [], []
    for n in names:
        origin = getattr(getattr(module, n, None), "__module__", None)
        if isinstance(origin, str) and origin.startswith("dlmath") and origin != module_name \
                and origin in public:
            elsewhere.append(f"{origin}.{n}")
        else:
            own.append(n)
    return own, elsewhere


def api_pages(src: Path) -> list[str]:
    """Write ``src/api/<module>.rst`` for every public module and ``src/api/index.rst``;
    returns the modules."""
    (src / "api").mkdir(parents=True, exist_ok=True)
    mods = api_modules()
    for name in mods:
        title = f"``{name}``"
        own, elsewhere = members(name, set(mods))
        text = f"{title}\n{'=' * len(title)}\n\n.. automodule:: {name}\n"
        if elsewhere:
            short = ", ".join(e.rsplit(".", 1)[1] for e in elsewhere)
            text += f"   :exclude-members: {short}\n"
            text += ("\nAlso exported here (documented where they are defined): " +
                     ", ".join(f":py:obj:`{e}`" for e in elsewhere) + ".\n")
        (src / "api" / f"{name}.rst").write_text(text, encoding="utf-8")
    lines = ["API reference", "=============", "",
             "Every public module of ``dlmath``, from its docstrings: the formula each function",
             "implements (the one the book derives; a test keeps them equal), its shapes and",
             "errors, a link to the chapter that derives it and to its source.", "",
             ".. toctree::", "   :maxdepth: 1", ""]
    lines += [f"   {name} <{name}>" for name in mods]
    lines += ["", ".. list-table::", "   :header-rows: 0", ""]
    for name in mods:
        lines += [f"   * - :mod:`{name}`", f"     - {_rst_text(_summary(name))}"]
    (src / "api" / "index.rst").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return mods


def _rst_text(text: str) -> str:
    """One line of a docstring, safe as plain RST text (math left as a role)."""
    from sphinxext import convert

    return convert(text, {}).replace("\n", " ")
