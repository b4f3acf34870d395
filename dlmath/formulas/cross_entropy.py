"""Formulas of the cross-entropy losses (chapter 03)."""

from __future__ import annotations

DOCUMENTED: dict = {}
