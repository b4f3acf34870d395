"""Unit tests of dlmath.bench: timing, throughput arithmetic, XLA cost, machine ceilings.

Times are machine-dependent, so only their sign, finiteness and the arithmetic built on them
are asserted. Sizes are small to keep the file fast.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import pytest

from dlmath import bench


def _matmul(p, q):
    return p @ q


def test_time_fn_with_jit_reports_compile_time():
    a = jnp.ones((32, 32), jnp.float32)
    t = bench.time_fn(_matmul, a, a, repeats=3, warmup=1)
    assert t.name == "_matmul"
    assert t.repeats == 3
    assert t.seconds > 0 and math.isfinite(t.seconds)
    assert t.compile_seconds is not None and t.compile_seconds > 0
    assert t.flops is None and t.flops_per_second is None and t.bytes_per_second is None
    assert "median of 3" in str(t) and "compile" in str(t)


def test_time_fn_without_jit_has_no_compile_time():
    a = jnp.ones((8,), jnp.float32)
    t = bench.time_fn(lambda v: v * 2.0, a, jit=False, repeats=2, warmup=0, name="eager")
    assert t.name == "eager"
    assert t.seconds > 0
    assert t.compile_seconds is None
    assert "compile" not in str(t)


def test_time_fn_returns_results_of_pytrees():
    # functions returning tuples/dicts are blocked leaf by leaf (tree_map), not rejected
    t = bench.time_fn(lambda v: {"a": v + 1, "b": (v, 2 * v)}, jnp.ones(4), repeats=1)
    assert t.seconds > 0


def test_throughput_arithmetic():
    t = bench.Timing("x", seconds=0.5, compile_seconds=None, repeats=1, flops=2e9, bytes=3e9)
    assert t.flops_per_second == pytest.approx(4e9)
    assert t.bytes_per_second == pytest.approx(6e9)
    s = str(t)
    assert "4 GFLOP/s" in s and "6 GB/s" in s and "500 ms" in s


def test_time_fn_passes_work_counts_through():
    a = jnp.ones((16, 16), jnp.float32)
    t = bench.time_fn(_matmul, a, a, repeats=2, flops=2 * 16**3, bytes=3 * 16 * 16 * 4)
    assert t.flops_per_second == pytest.approx(2 * 16**3 / t.seconds)
    assert t.bytes_per_second == pytest.approx(3 * 16 * 16 * 4 / t.seconds)


@pytest.mark.parametrize("repeats, warmup", [(0, 1), (-1, 1), (3, -1)])
def test_time_fn_refuses_bad_repeats(repeats, warmup):
    with pytest.raises(ValueError, match="repeats >= 1 and warmup >= 0"):
        bench.time_fn(_matmul, jnp.ones((2, 2)), jnp.ones((2, 2)), repeats=repeats,
                      warmup=warmup)


@pytest.mark.parametrize("n", [32, 64])
def test_cost_of_a_matmul_is_two_n_cubed(n):
    """XLA's cost analysis counts n^2 dot products of length n, a multiply and an add each:
    2 n^3 FLOPs. On CPU (XLA 0.12) the estimate is exactly 2 n^3 and the bytes accessed
    exactly the two float32 inputs and the output, 3 n^2 x 4 bytes."""
    a = jnp.ones((n, n), jnp.float32)
    c = bench.cost(_matmul, a, a)
    assert c["flops"] == pytest.approx(2 * n**3, rel=0.01)
    if jax.default_backend() == "cpu":
        assert c["flops"] == 2 * n**3
        assert c["bytes accessed"] == 3 * n * n * 4


def test_cost_scales_with_the_work():
    small = bench.cost(lambda v: v * 2.0 + 1.0, jnp.ones(1000))
    large = bench.cost(lambda v: v * 2.0 + 1.0, jnp.ones(4000))
    assert large["bytes accessed"] == pytest.approx(4 * small["bytes accessed"], rel=0.05)


def test_bandwidths_and_matmul_rate_are_positive_and_finite():
    bw = bench.copy_bandwidth(n_bytes=1 << 16, repeats=3)
    read = bench.read_bandwidth(n_bytes=1 << 16, repeats=3)
    rate = bench.matmul_rate(n=64, repeats=3)
    for v in (bw, read, rate):
        assert isinstance(v, float) and math.isfinite(v) and v > 0


def test_device_name_names_the_default_platform():
    d = jax.devices()[0]
    name = bench.device_name()
    assert name.startswith(d.platform)
    # "cpu", or "gpu: NVIDIA H100 ..." (the kind, when it says more than the platform)
    assert name == d.platform or name == f"{d.platform}: {d.device_kind}"


# ---- ceilings measured out of cache ----------------------------------------------------------

def _cache_dir(tmp_path, sizes):
    for k, size in enumerate(sizes):
        d = tmp_path / f"index{k}"
        d.mkdir()
        (d / "size").write_text(size + "\n")
    return str(tmp_path)


def test_last_level_cache_is_the_largest_cache_listed(tmp_path):
    d = _cache_dir(tmp_path, ["32K", "32K", "1024K", "32768K"])
    assert bench.last_level_cache_bytes(d) == 32 << 20
    (tmp_path / "none").mkdir()
    assert bench.last_level_cache_bytes(str(tmp_path / "none")) is None
    assert bench.last_level_cache_bytes(str(tmp_path / "absent")) is None
    (tmp_path / "odd").mkdir()
    assert bench.last_level_cache_bytes(_cache_dir(tmp_path / "odd", ["2M", "garbage"])) == 2 << 20


def test_ceiling_bytes_is_several_caches_and_bounded():
    MiB = 1 << 20
    assert bench.ceiling_bytes(32 * MiB, "cpu") == 128 * MiB  # 4 x the cache
    assert bench.ceiling_bytes(1 * MiB, "cpu") == 64 * MiB  # at least 64 MiB
    assert bench.ceiling_bytes(4096 * MiB, "cpu") == 1024 * MiB  # at most 1 GiB
    assert bench.ceiling_bytes(1 * MiB, "gpu") == 256 * MiB  # the CPU's cache says nothing
    # the default: larger than this machine's last-level cache, wherever it is known
    llc = bench.last_level_cache_bytes()
    if llc is not None:
        assert bench.ceiling_bytes() >= min(4 * llc, 1024 * MiB)
    assert bench.ceiling_bytes() % 4 == 0


def test_copy_bandwidth_refuses_bad_sizes():
    with pytest.raises(ValueError, match="copy_bandwidth: need repeats >= 1 and n_bytes >= 4"):
        bench.copy_bandwidth(n_bytes=1 << 12, repeats=0)
    with pytest.raises(ValueError, match="copy_bandwidth: need repeats >= 1 and n_bytes >= 4"):
        bench.copy_bandwidth(n_bytes=2)


def test_compare_turns_the_order_each_round(monkeypatch):
    """No function always runs first in a round: A B, then B A, ..."""
    import jax.numpy as jnp

    from dlmath import bench

    seen = []
    real_block = bench._block
    monkeypatch.setattr(bench, "_block", lambda out: seen.append(float(out)) or real_block(out))
    bench.compare({"a": lambda x: x + 1.0, "b": lambda x: x + 2.0}, jnp.float32(0.0),
                  rounds=3, repeats=1, warmup=0)
    assert seen == [1.0, 2.0, 2.0, 1.0, 1.0, 2.0]
