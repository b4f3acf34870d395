"""What a claim ranges over: the free symbols of SymPy objects and the values their
assumptions allow, in plain text and in LaTeX (the *for every ...* of a claim's scope).

Used by :mod:`dlmath.proofs` and :mod:`dlmath.derivation`.
"""

from __future__ import annotations

import sympy as sp


def _kind(sym) -> tuple[str, str]:
    """(plain text, LaTeX set) of the values a symbol's assumptions allow."""
    if sym.is_integer:
        if sym.is_positive:
            return "integer >= 1", r"\mathbb{Z}_{\ge 1}"
        if sym.is_nonnegative:
            return "integer >= 0", r"\mathbb{Z}_{\ge 0}"
        return "integer", r"\mathbb{Z}"
    if sym.is_positive:
        return "positive", r"\mathbb{R}_{> 0}"
    if sym.is_nonnegative:
        return "non-negative", r"\mathbb{R}_{\ge 0}"
    if sym.is_real:
        return "real", r"\mathbb{R}"
    return "complex", r"\mathbb{C}"


def _free(objs) -> list:
    """The free symbols of the objects, as the reader should see them: scalar symbols, the
    bases of indexed entries (``y`` for ``y[i]``) and matrix symbols; sorted by name."""
    found: dict[str, object] = {}
    for obj in objs:
        if not isinstance(obj, (sp.Basic, sp.MatrixBase)):
            continue
        # indexed entries first: Indexed.free_symbols holds both y[i] and the label y, and
        # set order (the hash seed) must not decide which of the two is shown
        bases = {ix.base for ix in obj.atoms(sp.Indexed)}
        labels = {b.label for b in bases}
        for b in sorted(bases, key=str):
            found.setdefault(str(b), b)
        for s in sorted(obj.free_symbols, key=str):
            if isinstance(s, sp.Indexed) or s in labels:
                continue
            if isinstance(s, (sp.Symbol, sp.MatrixSymbol)) and not isinstance(s, sp.Dummy):
                found.setdefault(str(s), s)
    return [found[k] for k in sorted(found)]


def domain_of(objs) -> tuple[str, str]:
    """The free symbols of ``objs`` and the values their assumptions allow: the plain text
    ``'x, y real; N integer >= 1; X an N x D matrix'`` and its LaTeX twin. Indexed entries
    (``y[i]``) are listed by their base, bound indices (of a sum) not at all."""
    groups: dict[tuple[str, str], list[str]] = {}
    texts: dict[tuple[str, str], list[str]] = {}
    matrices_text, matrices_latex = [], []
    for s in _free(objs):
        if isinstance(s, sp.MatrixSymbol):
            r, c = s.shape
            matrices_text.append(f"{s.name} an {sp.sstr(r)} x {sp.sstr(c)} matrix")
            matrices_latex.append(f"{sp.latex(s)} \\in \\mathbb{{C}}^{{{sp.latex(r)} \\times "
                                  f"{sp.latex(c)}}}")
            continue
        probe = s.label if isinstance(s, sp.IndexedBase) else s
        if isinstance(s, sp.IndexedBase):
            probe = s[sp.Dummy("i", integer=True)]
            name_latex = sp.latex(s.label)
            if "_" in name_latex or "^" in name_latex:  # a_{l-1}: brace it before its index
                name_latex = "{" + name_latex + "}"
            name_latex += r"_{\bullet}"
        else:
            name_latex = sp.latex(s)
        key = _kind(probe)
        groups.setdefault(key, []).append(name_latex)
        texts.setdefault(key, []).append(str(s))
    text_parts = [f"{', '.join(names)} {kind}" for (kind, _), names in texts.items()]
    latex_parts = [f"{', '.join(names)} \\in {latex_set}"
                   for (_, latex_set), names in groups.items()]
    text_parts += matrices_text
    latex_parts += matrices_latex
    return "; ".join(text_parts), r",\ ".join(latex_parts)

