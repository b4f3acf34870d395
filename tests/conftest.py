"""Shared set-up of the unit tests.

Matplotlib draws off-screen (Agg) in this process only. The backend is chosen with
``matplotlib.use`` rather than the ``MPLBACKEND`` environment variable on purpose: the
notebook kernels that nbval starts inherit the environment, and they must keep their
inline backend so that their stored ``<Figure size ...>`` outputs reproduce.
"""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture
def close_figures():
    """Close every figure a test opened, pass or fail."""
    import matplotlib.pyplot as plt

    yield
    plt.close("all")
