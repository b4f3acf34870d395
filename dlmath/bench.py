r"""Timing JAX functions properly, and relating a time to what the machine can do.

:func:`time_fn` compiles separately from running (``jit(...).lower(...).compile()``), warms
up, calls ``block_until_ready`` (JAX dispatches asynchronously: without it one times the
dispatch, not the work) and reports the median of repeats. Throughput is FLOP/s
$= \text{FLOPs} / t$ or bytes/s $= \text{bytes} / t$; :func:`copy_bandwidth` and
:func:`matmul_rate` measure the machine's ceilings, so a time can be stated as a fraction
of what this machine, CPU or GPU, can reach. Works unchanged on CPU and GPU; the numbers
are machine-dependent by nature.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

__all__ = ["Timing", "time_fn", "copy_bandwidth", "read_bandwidth", "matmul_rate", "device_name",
           "cost"]


def _block(out):
    return jax.tree_util.tree_map(
        lambda x: x.block_until_ready() if hasattr(x, "block_until_ready") else x, out
    )


@dataclass(frozen=True)
class Timing:
    """Median time of a call, with optional work counts for throughput."""

    name: str
    seconds: float
    compile_seconds: float | None
    repeats: int
    flops: float | None = None
    bytes: float | None = None

    @property
    def flops_per_second(self) -> float | None:
        return None if self.flops is None else self.flops / self.seconds

    @property
    def bytes_per_second(self) -> float | None:
        return None if self.bytes is None else self.bytes / self.seconds

    def __str__(self) -> str:
        parts = [f"{self.name}: {_fmt_time(self.seconds)} (median of {self.repeats})"]
        if self.compile_seconds is not None:
            parts.append(f"compile {_fmt_time(self.compile_seconds)}")
        if self.flops_per_second is not None:
            parts.append(f"{self.flops_per_second / 1e9:.3g} GFLOP/s")
        if self.bytes_per_second is not None:
            parts.append(f"{self.bytes_per_second / 1e9:.3g} GB/s")
        return ", ".join(parts)


def _fmt_time(s: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def cost(fn: Callable, *args) -> dict[str, float]:
    """XLA's own estimate of ``flops`` and ``bytes accessed`` for ``jit(fn)(*args)``.

    Returns an empty dict when the backend gives no estimate.
    """
    compiled = jax.jit(fn).lower(*args).compile()
    analysis = compiled.cost_analysis()
    if isinstance(analysis, list):
        analysis = analysis[0] if analysis else {}
    analysis = analysis or {}
    return {k: float(analysis[k]) for k in ("flops", "bytes accessed") if k in analysis}


def time_fn(
    fn: Callable,
    *args,
    jit: bool = True,
    repeats: int = 20,
    warmup: int = 2,
    flops: float | None = None,
    bytes: float | None = None,
    name: str | None = None,
) -> Timing:
    """Median wall time of ``fn(*args)``, compiled once, warmed up, blocked until ready.

    Args:
        fn: the function. With ``jit=True`` it is compiled with ``jax.jit`` first and the
            compile time is reported separately; with ``jit=False`` it runs op by op (eager).
        *args: its arguments (arrays already on the device: transfers are not timed).
        repeats: timed calls; the median is reported (robust to the odd slow call).
        warmup: untimed calls first (caches, clocks).
        flops, bytes: the work per call, for throughput; see :func:`cost`.
        name: a label (default ``fn.__name__``).

    Returns:
        A :class:`Timing`.

    Raises:
        ValueError: if ``repeats < 1`` or ``warmup < 0``.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"time_fn: need repeats >= 1 and warmup >= 0; got {repeats}, {warmup}.")
    label = name or getattr(fn, "__name__", "fn")
    compile_s = None
    call = fn
    if jit:
        t0 = time.perf_counter()
        call = jax.jit(fn).lower(*args).compile()
        compile_s = time.perf_counter() - t0
    for _ in range(warmup):
        _block(call(*args))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _block(call(*args))
        times.append(time.perf_counter() - t0)
    return Timing(label, statistics.median(times), compile_s, repeats, flops, bytes)


def copy_bandwidth(n_bytes: int = 1 << 26, repeats: int = 10) -> float:
    """Measured memory bandwidth in bytes/s: a jitted ``x + 1`` over ``n_bytes`` of float32
    reads and writes each byte once (2 x ``n_bytes`` moved)."""
    x = jnp.zeros(n_bytes // 4, jnp.float32)
    t = time_fn(lambda a: a + 1.0, x, repeats=repeats, name="copy")
    return 2 * n_bytes / t.seconds


def read_bandwidth(n_bytes: int = 1 << 26, repeats: int = 10) -> float:
    """Measured read bandwidth in bytes/s: a jitted ``sum`` over ``n_bytes`` of float32 reads
    each byte once and writes almost nothing (the ceiling for read-bound kernels such as a
    matrix-vector product)."""
    x = jnp.ones(n_bytes // 4, jnp.float32)
    t = time_fn(jnp.sum, x, repeats=repeats, name="read")
    return n_bytes / t.seconds


def matmul_rate(n: int = 1024, dtype=jnp.float32, repeats: int = 10) -> float:
    """Measured float32 matmul rate in FLOP/s for ``(n, n) @ (n, n)`` (2n^3 FLOPs), at the
    current default precision (call :func:`dlmath.setup` first for ``"highest"``)."""
    a = jnp.ones((n, n), dtype)
    t = time_fn(lambda p, q: p @ q, a, a, repeats=repeats, name="matmul")
    return 2 * n**3 / t.seconds


def device_name() -> str:
    """The default device, e.g. ``"cpu"`` or ``"gpu: NVIDIA H100 80GB HBM3"``."""
    d = jax.devices()[0]
    kind = getattr(d, "device_kind", "")
    return d.platform if kind in ("", d.platform) else f"{d.platform}: {kind}"
