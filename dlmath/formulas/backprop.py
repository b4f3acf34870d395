"""Formulas of backpropagation through a multilayer perceptron (chapter 04)."""

from __future__ import annotations

DOCUMENTED: dict = {}
