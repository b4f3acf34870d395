"""Matplotlib figures used across the chapters. Each function draws on a given ``ax`` (or
a new one) and returns it; nothing changes matplotlib's global style."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["new_axes", "loss_surface", "path", "loss_curve"]


def new_axes(ax=None, figsize=(5, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def loss_surface(loss_fn, center, span, *, ax=None, levels=25, resolution=121,
                 labels=("$w_0$", "$w_1$")):
    """Filled contours of a loss of two parameters around ``center``.

    Args:
        loss_fn: JAX function of a ``(2,)`` parameter vector returning a scalar.
        center: ``(2,)`` the middle of the view (e.g. the minimiser).
        span: half-width of the view, a float or ``(2,)``.
        levels: number of contour levels (spaced on a log scale above the minimum).
        resolution: grid points per axis.

    Returns:
        The axes.
    """
    ax = new_axes(ax)
    center = np.asarray(center, np.float64)
    span = np.broadcast_to(np.asarray(span, np.float64), (2,))
    a = np.linspace(center[0] - span[0], center[0] + span[0], resolution)
    b = np.linspace(center[1] - span[1], center[1] + span[1], resolution)
    A, B = np.meshgrid(a, b)
    grid = jnp.stack([A.ravel(), B.ravel()], axis=1).astype(jnp.float32)
    Z = np.asarray(jax.vmap(loss_fn)(grid)).reshape(A.shape)
    lo, hi = float(Z.min()), float(Z.max())
    lv = lo + (hi - lo) * np.geomspace(1e-3, 1.0, levels)
    ax.contourf(A, B, Z, levels=np.concatenate([[lo], lv]), cmap="viridis", alpha=0.85)
    ax.contour(A, B, Z, levels=lv, colors="white", linewidths=0.4, alpha=0.6)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_xlim(a[0], a[-1])
    ax.set_ylim(b[0], b[-1])
    return ax


def path(points, *, ax=None, color="tab:red", label=None, marker="o", markersize=3):
    """A parameter path ``(T, 2)`` as a line with markers, the start marked by a square."""
    ax = new_axes(ax)
    p = np.asarray(points)
    ax.plot(p[:, 0], p[:, 1], marker=marker, markersize=markersize, color=color, lw=1.2,
            label=label)
    ax.plot(p[0, 0], p[0, 1], "s", color=color, markersize=6)
    return ax


def loss_curve(losses, *, ax=None, label=None, log=True, color=None):
    """Loss against step, on a log scale by default (linear convergence is a straight line)."""
    ax = new_axes(ax)
    ax.plot(np.arange(len(losses)), np.asarray(losses), label=label, color=color)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    return ax
