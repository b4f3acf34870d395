r"""Formulas of training on many devices (chapter 12): the data-parallel gradient, the
column and row splits of a matrix product, the split two-layer MLP, the ring all-reduce's
traffic and the step-time model.

Devices are counted by $n$ (:data:`n`) and indexed by $d = 0 \dots n - 1$ (:data:`d`);
device $d$ holds $m_d$ examples (:data:`m`) whose mean gradient is $\bar g_d$
(:data:`g_bar`). In the tensor-parallel formulas each device holds $C$ columns (:data:`C`)
of a kernel, or $R$ of its rows (:data:`R`); $i$ is an example, $j$ an output, $a$ an input
feature, $h$ a hidden unit within a device's block. ``notebooks/12_parallel.ipynb`` proves
them.
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula
from dlmath.formulas.symbols import D, i, j

__all__ = ["D", "i", "j", "n", "d", "a", "c", "h", "C", "R", "m", "g_bar", "x", "w", "w1",
           "b1", "w2", "b2", "M", "B", "F", "beta", "alpha", "bytes_per_param",
           "DP_GRADIENT", "COLUMN_SPLIT", "ROW_SPLIT", "SPLIT_MLP", "RING_BYTES",
           "STEP_COMPUTE", "STEP_COMMUNICATION", "k", "A", "MEMORY_REPLICATED", "MEMORY_ZERO1",
           "MEMORY_ZERO2", "MEMORY_ZERO3"]

#: the number of devices, and a device's index
n = sp.Symbol("n", integer=True, positive=True)
d = sp.Symbol("d", integer=True, nonnegative=True)
#: an input feature, a column within a block, a hidden unit within a block
a, c, h = sp.symbols("a c h", integer=True, nonnegative=True)
#: columns (or rows) of a kernel per device
C, R = sp.symbols("C R", integer=True, positive=True)
#: the examples on device d, and their mean gradient
m = sp.IndexedBase("m", positive=True)
g_bar = sp.IndexedBase(r"\bar{g}", real=True)
x, w, w1, b1, w2, b2 = (sp.IndexedBase(s, real=True) for s in ("x", "w", "w1", "b1", "w2", "b2"))

#: $\bar g = \sum_d m_d \bar g_d / \sum_d m_d$: the full batch's mean gradient.
DP_GRADIENT = Formula(
    "parallel.data_parallel_step",
    sp.Sum(m[d] * g_bar[d], (d, 0, n - 1)) / sp.Sum(m[d], (d, 0, n - 1)),
    (m, g_bar, n),
)

#: column $dC + c$ of $Y = XW$ is computed on device $d$ from its block of columns.
COLUMN_SPLIT = Formula(
    "parallel.tensor.column_parallel_matmul",
    sp.Sum(x[i, a] * w[a, d * C + c], (a, 0, D - 1)),
    (x, w, i, d, c, C, D),
)

#: $Y = \sum_d X_{:, dR:(d+1)R} W_{dR:(d+1)R, :}$: the partial products are summed.
ROW_SPLIT = Formula(
    "parallel.tensor.row_parallel_matmul",
    sp.Sum(sp.Sum(x[i, d * R + a] * w[d * R + a, j], (a, 0, R - 1)), (d, 0, n - 1)),
    (x, w, i, j, R, n),
)

#: the two-layer MLP with the hidden layer split into $n$ blocks of $R$ units.
SPLIT_MLP = Formula(
    "parallel.tensor.tensor_parallel_mlp",
    sp.Sum(sp.Sum(sp.Max(0, sp.Sum(x[i, a] * w1[a, d * R + h], (a, 0, D - 1)) + b1[d * R + h])
                  * w2[d * R + h, j], (h, 0, R - 1)), (d, 0, n - 1)) + b2[j],
    (x, w1, b1, w2, b2, i, j, D, R, n),
)

#: the model size in parameters, the batch, the device's rate (FLOP/s), the link's
#: bandwidth (bytes/s) and latency (s), and the bytes of one parameter
M, B, F, beta = sp.symbols("M B F beta", positive=True)
alpha = sp.Symbol("alpha", nonnegative=True)
bytes_per_param = sp.Symbol("b", positive=True)

#: the bytes that each device sends in a ring all-reduce of $M$ bytes.
RING_BYTES = Formula("parallel.cost.ring_all_reduce_bytes", 2 * (n - 1) * M / n, (M, n))

#: the seconds of compute of one step: $6BM$ FLOPs shared by $n$ devices.
STEP_COMPUTE = Formula("parallel.cost.step_time_model.compute", 6 * B * M / (n * F), (B, M, n, F))

#: the seconds of the gradient's ring all-reduce: $2(n-1)$ messages of $bM/n$ bytes.
STEP_COMMUNICATION = Formula(
    "parallel.cost.step_time_model.communication",
    2 * (n - 1) * (bytes_per_param * M / (n * beta) + alpha),
    (bytes_per_param, M, n, beta, alpha),
)

#: the optimizer's numbers per parameter (2 for Adam), a device's bytes of activations
k = sp.Symbol("k", integer=True, nonnegative=True)
A = sp.Symbol("A", nonnegative=True)
_WHOLE = bytes_per_param * M

#: bytes per device, data parallelism: parameters, gradients and k moments, all replicated.
MEMORY_REPLICATED = Formula("parallel.memory.memory_per_device.stage0", (2 + k) * _WHOLE + A,
                            (M, bytes_per_param, k, A))
#: ZeRO stage 1: the optimizer state split n ways.
MEMORY_ZERO1 = Formula("parallel.memory.memory_per_device.stage1",
                       2 * _WHOLE + k * _WHOLE / n + A, (M, bytes_per_param, k, n, A))
#: ZeRO stage 2: also the gradients.
MEMORY_ZERO2 = Formula("parallel.memory.memory_per_device.stage2",
                       _WHOLE + (1 + k) * _WHOLE / n + A, (M, bytes_per_param, k, n, A))
#: ZeRO stage 3 (fully sharded): also the parameters.
MEMORY_ZERO3 = Formula("parallel.memory.memory_per_device.stage3",
                       (2 + k) * _WHOLE / n + A, (M, bytes_per_param, k, n, A))

DOCUMENTED = {
    "parallel.data_parallel_step": (DP_GRADIENT,),
    "parallel.tensor.column_parallel_matmul": (COLUMN_SPLIT,),
    "parallel.tensor.row_parallel_matmul": (ROW_SPLIT,),
    "parallel.tensor.tensor_parallel_mlp": (SPLIT_MLP,),
    "parallel.cost.ring_all_reduce_bytes": (RING_BYTES,),
    "parallel.cost.step_time_model": (STEP_COMPUTE, STEP_COMMUNICATION),
    "parallel.memory.memory_per_device": (MEMORY_REPLICATED, MEMORY_ZERO1, MEMORY_ZERO2,
                                          MEMORY_ZERO3),
    "parallel.sharded.fully_sharded_step": (DP_GRADIENT,),
}
