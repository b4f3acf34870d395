"""Shared set-up of the unit tests.

Matplotlib draws off-screen (Agg) in this process only. The backend is chosen with
``matplotlib.use`` rather than the ``MPLBACKEND`` environment variable on purpose: the
notebook kernels that nbval starts inherit the environment, and they must keep their
inline backend so that their stored ``<Figure size ...>`` outputs reproduce.
"""

from __future__ import annotations

import os

import matplotlib
import pytest

matplotlib.use("Agg")


def _eight_cpu_devices() -> None:
    """Give this process 8 CPU devices (the meshes of tests/test_parallel.py), and only it.

    XLA reads ``--xla_force_host_platform_device_count`` once, when the CPU backend starts,
    so the flag is appended to ``XLA_FLAGS`` (keeping the flags already there, e.g. the GPU
    machine's ``--xla_gpu_deterministic_ops=true``), the CPU backend is started, and
    ``XLA_FLAGS`` is restored: the notebook kernels that nbval starts inherit the
    environment, and each chapter sets the flags it needs itself.
    """
    previous = os.environ.get("XLA_FLAGS")
    os.environ["XLA_FLAGS"] = ((previous + " ") if previous else "") + \
        "--xla_force_host_platform_device_count=8"
    try:
        import jax

        jax.devices("cpu")
    finally:
        if previous is None:
            del os.environ["XLA_FLAGS"]
        else:
            os.environ["XLA_FLAGS"] = previous


_eight_cpu_devices()


@pytest.fixture
def close_figures():
    """Close every figure a test opened, pass or fail."""
    import matplotlib.pyplot as plt

    yield
    plt.close("all")
