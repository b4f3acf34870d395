r"""Sums that keep their precision, shared by the modules that reduce (penalties, the Gaussian
KL, the degrees and messages of a graph).

Two rules. A sum is formed in at least float32 (:func:`wide`): float16 squares overflow from
$|x| > 256$ and a float16 sum from 65504, so float16 and bfloat16 inputs are reduced in
float32 and the result cast back to the input's dtype. A sum of powers $\sum |x|^p$ is
formed as $s^p \sum |x/s|^p$ with $s$ a power of two near $\max |x|$ (:func:`scaled_sum`):
dividing by a power of two is exact, so away from the limits of the dtype the result is
the plain sum bit for bit, and at the limits the squares of $10^{20}$ (or $10^{-25}$) in
float32 neither overflow nor underflow before the result is formed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__: list[str] = []


def wide(*dtypes):
    """The dtype a sum is formed in: the promoted dtype of ``dtypes``, at least float32."""
    return jnp.promote_types(jnp.result_type(*dtypes), jnp.float32)


def _power_of_two_scale(largest):
    r"""$2^{e - 1}$ with ``largest`` $= m 2^e$, $m \in [1/2, 1)$ (so ``largest`` / scale lies
    in $[1, 2)$); 1 where ``largest`` is 0 or not finite (the plain sum then gives the inf or
    NaN it should). $2^{e-1}$ is finite for every finite ``largest``."""
    _, exponent = jnp.frexp(largest)
    ok = jnp.isfinite(largest) & (largest > 0)
    scale = jnp.ldexp(jnp.ones_like(largest), exponent - 1)
    return jnp.where(ok, scale, jnp.ones_like(largest))


def scaled_sum(leaves, power: int, dtype=None):
    r"""``(scale, total)`` with $\sum_\ell \sum_k |x_{\ell k}|^p$ = ``scale**p * total``, for
    $p$ = ``power`` (1 or 2), formed in ``wide(dtype)`` (``dtype`` defaults to the leaves'
    promoted dtype). ``scale`` is a power of two near the largest $|x|$ (a constant for
    autodiff), so ``total`` neither overflows nor underflows while the result is finite;
    multiply the factors of the result into ``scale`` before ``total`` (e.g.
    ``(lam * scale) * scale * total``). The derivative of $|x|$ at 0 is 0 (the subgradient
    $\operatorname{sign}(x)$, not JAX's 1). With no leaves, ``(1, 0)``."""
    leaves = [jnp.asarray(x) for x in leaves]
    if dtype is None:
        dtype = jnp.result_type(*leaves) if leaves else jnp.float32
    acc = wide(dtype)
    leaves = [x.astype(acc) for x in leaves]
    if not leaves:
        return jnp.ones((), acc), jnp.zeros((), acc)
    largest = jax.lax.stop_gradient(
        jnp.max(jnp.stack([jnp.max(jnp.abs(x), initial=0.0) for x in leaves])))
    scale = _power_of_two_scale(largest)
    if power == 2:
        total = sum(jnp.sum(jnp.square(x / scale)) for x in leaves)
    elif power == 1:
        total = sum(jnp.sum(x / scale * jnp.sign(x)) for x in leaves)
    else:  # pragma: no cover - a use the package does not have
        raise ValueError(f"scaled_sum: power must be 1 or 2; got {power!r}.")
    return scale, total
