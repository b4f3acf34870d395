"""What a row of the benchmark is, and the gradient form every gradient row uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax

__all__ = ["Case", "devices_label", "same", "vjp_of", "with_vjp"]


@dataclass(frozen=True)
class Case:
    """One row of the benchmark.

    ``build(key, size)`` returns ``(ours, peer, ours_args, peer_args)``: the two functions
    and the arguments each is called with (the peer's in its own layout). ``note`` says why
    dlmath computes differently from this peer where it does on purpose; the table prints
    it under a row that falls behind."""

    kernel: str
    shape: str
    peer_name: str
    build: Callable
    tiny_shape: str = ""
    note: str = ""


def devices_label(n: int) -> str:
    """``"1 device"``, ``"8 devices"``: how the table names a number of devices."""
    return f"{n} device" + ("" if n == 1 else "s")


def vjp_of(fn, argnums=(0,)):
    """``g(*args, cotangent)``: the gradient of ``<fn(*args), cotangent>`` with respect to
    the arguments ``argnums`` (reverse mode, as ``jax.grad`` of a loss through ``fn``)."""
    def g(*args_and_cotangent):
        *args, cotangent = args_and_cotangent
        def of(*chosen):
            full = list(args)
            for n, a in zip(argnums, chosen, strict=True):
                full[n] = a
            return fn(*full)
        _, pullback = jax.vjp(of, *[args[n] for n in argnums])
        return pullback(cotangent)
    return g


def with_vjp(ours, peer, args, key, argnums=(0,)):
    """The two gradients, and the arguments with a random cotangent of the output's shape."""
    out = jax.eval_shape(ours, *args)
    cotangent = jax.tree_util.tree_map(
        lambda s: jax.random.normal(key, s.shape, s.dtype), out)
    return vjp_of(ours, argnums), vjp_of(peer, argnums), (*args, cotangent)


def same(ours, peer, args):
    return ours, peer, args, args
