"""Formulas of the optimizers (chapter 05)."""

from __future__ import annotations

DOCUMENTED: dict = {}
