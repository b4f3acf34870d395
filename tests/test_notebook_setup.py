"""Unit test of dlmath.setup (dlmath.notebook): the settings that make outputs reproducible."""

from __future__ import annotations

import contextlib
import sys

import jax
import numpy as np
import pytest
from sympy.printing.printer import Printer

import dlmath


@contextlib.contextmanager
def _restored():
    """setup() changes process-wide settings: put back what was there before."""
    np_opts = np.get_printoptions()
    precision = jax.config.jax_default_matmul_precision
    displayhook = sys.displayhook
    printer_settings = dict(Printer._global_settings)
    try:
        yield
    finally:
        np.set_printoptions(**np_opts)
        jax.config.update("jax_default_matmul_precision", precision)
        sys.displayhook = displayhook
        Printer._global_settings.clear()
        Printer._global_settings.update(printer_settings)


@pytest.fixture
def restore_globals():
    with _restored():
        yield


def test_setup_sets_matmul_precision_and_print_precision(restore_globals):
    jax.config.update("jax_default_matmul_precision", None)
    np.set_printoptions(precision=8, suppress=False)
    assert dlmath.setup() is None
    assert jax.config.jax_default_matmul_precision == "highest"
    opts = np.get_printoptions()
    assert opts["precision"] == 4 and opts["suppress"] is True
    assert np.array2string(np.array([1 / 3, 2e-7])) == "[0.3333 0.    ]"


def test_setup_print_precision_argument(restore_globals):
    dlmath.setup(print_precision=2)
    assert np.get_printoptions()["precision"] == 2
    assert np.array2string(np.array([1 / 3])) == "[0.33]"


def test_the_settings_are_restored_for_the_other_tests():
    before = (np.get_printoptions(), jax.config.jax_default_matmul_precision)
    with _restored():
        dlmath.setup(print_precision=before[0]["precision"] + 2)
        assert np.get_printoptions()["precision"] == before[0]["precision"] + 2
        assert jax.config.jax_default_matmul_precision == "highest"
    assert (np.get_printoptions(), jax.config.jax_default_matmul_precision) == before
