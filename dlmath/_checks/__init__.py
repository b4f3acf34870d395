"""The input checks of every public function: one rule across the package.

Each check raises ``ValueError`` (a shape, a size, a value out of range) or ``TypeError``
(a dtype, a kind of object), and its message names the function (``who``), the argument,
what was expected (shapes in legend letters), what was seen, and a hint. Checks of shapes
and dtypes are static, so they cost nothing under ``jit``; checks of *values* (a learning
rate's sign, a class id's range) run only where the value is concrete and are skipped when
it is traced (under ``jit`` the value is unknown; each function documents what it then
returns).

The rules, for every function:

* **Arrays.** An argument documented as an array must be one (jax or numpy, or a Python
  scalar where a scalar is documented); lists are refused with a hint.
* **Float dtypes.** Floating inputs may be float16, bfloat16, float32 or float64; complex
  and integer arrays are refused where floats are documented (an imaginary part is never
  dropped silently). A function *with parameters* (layers, optimizers, regressions, the
  training loop) computes in the dtype of its parameters: data, targets and gradients of
  another float dtype are cast to it (:func:`cast_floats`), so a float16 model trains on
  float32 data and a carried state never changes type (one opt-in exception: an optimizer
  built with ``state_dtype`` keeps its state, and casts gradients, in that dtype, so a float16
  model can have a float32 Adam state). A function without parameters
  (losses, activations) follows JAX's type promotion. Reductions (sums, means, variances,
  norms) are taken in at least float32 (``dlmath._reduce``) and the result is
  returned in the input's dtype, so float16 data does not overflow in a sum of squares.
* **Class ids.** Labels are integers of any width (uint8 ... int64), compared and indexed
  in at least 32 bits (so uint8 ids and ``K >= 256`` classes never overflow). Concrete ids
  outside ``[0, K)`` raise ``ValueError``; under ``jit`` (unknown values) a loss is NaN for
  that example, so it shows in any mean.
* **Hyper-parameters.** Real scalars (never bools, complex numbers or callables), finite, in
  their documented range; a learning rate is ``> 0``. Range checks are skipped for traced
  values, so hyper-parameters may be ``jit`` arguments.
* **eps.** Every ``eps`` (normalisations, optimizers) is a real ``eps >= 0``; with
  ``eps = 0`` a denominator can be 0, and 0/0 is taken as 0 (:func:`quotient`): a constant
  row normalises to 0 (the output is the bias), a zero gradient history gives a zero
  update; a nonzero number over 0 stays infinite.
* **Empty axes.** A reduction over an empty axis (a mean over ``N = 0`` examples, a softmax
  over ``K = 0`` classes) raises, naming the axis; an empty *batch* axis that is not
  reduced passes through and returns an empty result, as ``jax.nn`` does.
* **Pytrees.** Gradients, updates and states must have the structure and leaf shapes of the
  parameters they belong to.
* **Keys.** A ``key`` argument is one ``jax.random`` key: ``jax.random.key(seed)`` or a raw
  ``jax.random.PRNGKey(seed)`` (uint32, shape ``(2,)``). A seed, an array of another dtype or
  shape and a batch of keys are a ``TypeError`` (a function is mapped over keys with
  ``jax.vmap``).
"""


from __future__ import annotations

from dlmath._checks.arrays import (  # noqa: F401
    cast_floats,
    checked,
    dtype_of,
    eps_keeps_positive,
    first_bad,
    float_dtype_of_tree,
    fmt,
    is_traced,
    quotient,
    require_concrete,
    require_flag,
    require_float_dtype,
    require_floating,
    require_key,
    require_ndim,
    require_nonempty,
    require_optimizer,
    require_real,
    require_same_shape,
    shape_of,
)
from dlmath._checks.trees import (  # noqa: F401
    cast_like,
    examples,
    mask_tree,
    mlp_input,
    optional_float_dtype,
    require_callable,
    require_dense,
    require_dense_stack,
    require_divisor,
    require_keys,
    require_like,
    require_mask,
    require_scalar_loss,
    require_shapes,
    require_state,
)
from dlmath._checks.values import (  # noqa: F401
    as_ids,
    choice,
    class_axis,
    count,
    hyperparameter,
    ids_in_range,
    labels,
    learning_rate,
    logits_and_labels,
    predictions_and_targets,
    regression_data,
    require_int_pair,
    sizes,
    transition_table,
    where_mask,
)
