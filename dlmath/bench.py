r"""Timing JAX functions properly, and relating a time to what the machine can do.

:func:`time_fn` compiles separately from running (``jit(...).lower(...).compile()``), warms
up, calls ``block_until_ready`` (JAX dispatches asynchronously: without it one times the
dispatch, not the work) and reports the median of repeats. Throughput is FLOP/s
$= \text{FLOPs} / t$ or bytes/s $= \text{bytes} / t$; :func:`copy_bandwidth`,
:func:`read_bandwidth` and :func:`matmul_rate` measure the machine's ceilings, so a time
can be stated as a fraction of what this machine, CPU or GPU, can reach. Works unchanged on
CPU and GPU; the numbers are machine-dependent by nature.

A bandwidth is a ceiling only for data that does not fit in a cache. Measured on an array
that fits in the last-level cache, "bandwidth" is the cache's, and a kernel on a larger
array then appears to run at less than its true fraction of memory bandwidth, while a
kernel on a cache-sized array can appear to beat the "ceiling" (a fraction above 100 %).
So by default the bandwidths are measured on :func:`ceiling_bytes` bytes: four times the
CPU's last-level cache (read from ``/sys/devices/system/cpu/cpu0/cache``), at least
64 MiB (256 MiB on an accelerator, whose L2 cache the CPU's files do not describe, or where
the cache size is unknown), at most 1 GiB. A fraction of such a ceiling is meaningful for
kernels whose own arrays are also larger than the cache; for smaller arrays, compare with a
reference kernel on the same array instead (e.g. ``x + 1``: one read and one write).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

__all__ = ["Timing", "time_fn", "copy_bandwidth", "read_bandwidth", "matmul_rate", "device_name",
           "cost", "last_level_cache_bytes", "ceiling_bytes", "Comparison", "compare", "machine"]

_MiB = 1 << 20
_CACHE_DIR = "/sys/devices/system/cpu/cpu0/cache"


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


def last_level_cache_bytes(cache_dir: str = _CACHE_DIR) -> int | None:
    """The size in bytes of the CPU's largest cache (its last level), read from Linux's
    ``cache_dir/index*/size`` files (``"32768K"``); ``None`` where they are absent or
    unreadable (another OS, a container without ``/sys``)."""
    import glob

    sizes = []
    for path in glob.glob(f"{cache_dir}/index*/size"):
        try:
            with open(path) as f:
                text = f.read().strip().upper()
        except OSError:
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        digits = text[:-1] if text[-1:] in "KMG" else text
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes) if sizes else None


def ceiling_bytes(cache_bytes: int | None = None, platform: str | None = None) -> int:
    """The array size (bytes) on which :func:`copy_bandwidth` and :func:`read_bandwidth`
    measure by default: ``4 x`` the last-level cache, within ``[64 MiB, 1 GiB]``; 256 MiB
    at least on an accelerator (its own L2 is not in the CPU's files) or where the cache
    size is unknown. Rounded to a multiple of 4 bytes (float32 elements).

    Args:
        cache_bytes: the cache size (default :func:`last_level_cache_bytes`).
        platform: ``"cpu"``, ``"gpu"``, ... (default: JAX's default backend).
    """
    if cache_bytes is None:
        cache_bytes = last_level_cache_bytes()
    if platform is None:
        platform = jax.default_backend()
    low = 64 * _MiB if platform == "cpu" and cache_bytes is not None else 256 * _MiB
    n = 4 * cache_bytes if cache_bytes is not None else low
    return int(min(max(n, low), 1024 * _MiB)) // 4 * 4


def copy_bandwidth(n_bytes: int | None = None, repeats: int = 10) -> float:
    """Measured memory bandwidth in bytes/s: a jitted ``x + 1`` over ``n_bytes`` of float32
    reads and writes each byte once (2 x ``n_bytes`` moved).

    The update is done in place (the input buffer is donated and the result fed back), so
    what is timed is the traffic, not the operating system handing out fresh pages for a
    new output array (on a CPU that can cost more than the copy itself). A kernel that
    writes a new array pays for those pages too, so its fraction of this ceiling is below
    what its memory traffic alone would give.

    Args:
        n_bytes: the array size; default :func:`ceiling_bytes` (larger than the last-level
            cache, so this is memory bandwidth, not cache bandwidth). A smaller size
            measures a cache and is no ceiling for larger arrays.
        repeats: timed calls (median), at least 1.

    Raises:
        ValueError: if ``repeats < 1`` or ``n_bytes < 4``.
    """
    n_bytes = ceiling_bytes() if n_bytes is None else int(n_bytes)
    if repeats < 1 or n_bytes < 4:
        raise ValueError(f"copy_bandwidth: need repeats >= 1 and n_bytes >= 4; got {repeats}, "
                         f"{n_bytes}.")
    step = jax.jit(lambda a: a + 1.0, donate_argnums=0)
    x = _block(step(jnp.zeros(n_bytes // 4, jnp.float32)))  # compiled, and warmed up
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        x = _block(step(x))
        times.append(time.perf_counter() - t0)
    return 2 * (n_bytes // 4 * 4) / statistics.median(times[1:])


def read_bandwidth(n_bytes: int | None = None, repeats: int = 10) -> float:
    """Measured read bandwidth in bytes/s: a jitted ``sum`` over ``n_bytes`` of float32 reads
    each byte once and writes almost nothing (the ceiling for read-bound kernels such as a
    matrix-vector product).

    Args:
        n_bytes: the array size; default :func:`ceiling_bytes` (as :func:`copy_bandwidth`).
        repeats: timed calls (median).
    """
    n_bytes = ceiling_bytes() if n_bytes is None else int(n_bytes)
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


@dataclass(frozen=True)
class Comparison:
    """Interleaved timings of several functions on the same arguments (:func:`compare`):
    ``seconds[name]`` is the median over ``rounds`` rounds of each round's median."""

    seconds: dict
    rounds: int

    def ratio(self, peer: str, ours: str) -> float:
        """peer time / our time: above 1, ``ours`` is faster."""
        return self.seconds[peer] / self.seconds[ours]

    def __str__(self) -> str:
        return ", ".join(f"{k}: {_fmt_time(v)}" for k, v in self.seconds.items()) + \
            f" (median of {self.rounds} interleaved rounds)"


def compare(fns: dict, *args, rounds: int = 5, repeats: int = 5, warmup: int = 2) -> Comparison:
    """Time several functions against each other fairly: each is compiled (``jax.jit``) and
    warmed up first, then the rounds interleave them (A, B, then B, A, ...), so a change of
    the machine's speed during the run (another process, the clock) falls on all of them
    alike, and none of them always runs first in a round.
    Each round takes the median of ``repeats`` calls, blocked until ready; the result is the
    median over the rounds.

    Args:
        fns: ``{name: fn}``, each called as ``fn(*args)``; or ``{name: (fn, its_args)}``
            where the functions take their inputs in different layouts (a peer's own).
        *args: the arguments (arrays already on the device) of the plain ``fn`` entries.
        rounds, repeats, warmup: as above; ``warmup`` untimed calls per function.

    Returns:
        A :class:`Comparison`.

    Raises:
        ValueError: if ``fns`` is empty, ``rounds`` or ``repeats`` is below 1, or ``warmup``
            is negative.
    """
    if not fns or rounds < 1 or repeats < 1 or warmup < 0:
        raise ValueError(f"compare: need at least one function, rounds >= 1, repeats >= 1 "
                         f"and warmup >= 0; got {len(fns)}, {rounds}, {repeats}, {warmup}.")
    plan = {name: entry if isinstance(entry, tuple) else (entry, args)
            for name, entry in fns.items()}
    calls = {name: (jax.jit(fn).lower(*a).compile(), a) for name, (fn, a) in plan.items()}
    for call, a in calls.values():
        for _ in range(warmup):
            _block(call(*a))
    per_round = {name: [] for name in calls}
    order = list(calls.items())
    for r in range(rounds):
        # the order turns each round (A B, B A, ...): no function always runs first, right
        # after another's outputs were written
        for name, (call, a) in (order if r % 2 == 0 else order[::-1]):
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                _block(call(*a))
                times.append(time.perf_counter() - t0)
            per_round[name].append(statistics.median(times))
    return Comparison({k: statistics.median(v) for k, v in per_round.items()}, rounds)


def machine() -> str:
    """The machine a timing was taken on: the device, and for a CPU its model and cores."""
    import os
    import platform

    name = device_name()
    if jax.devices()[0].platform != "cpu":
        return name
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), model)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"cpu: {model}, {cores} cores"
