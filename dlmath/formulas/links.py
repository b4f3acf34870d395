"""Where each registered formula is derived and which tests check it: the links of the HTML
book's formula index (``python -m book build``), named here rather than guessed from the
sources.

:data:`LINKS` maps a formula, by the constant that holds it in its topic module
(``"activations.SOFTMAX"`` is :data:`dlmath.formulas.activations.SOFTMAX`), to a
:class:`Link`: the chapter (``"03"``), the code cell of that chapter that derives the
formula, and the tests that compare it with the code. A cell is named by how one of its
lines begins (``"softmax_jacobian = Derivation("``), so it is found again when cells are
added or moved; :func:`cell_of` finds it. A test is named ``"module::test_name"`` for
``tests/test_module.py::test_name`` (:func:`location`); the docstring test
(:data:`DOCSTRING_TEST`) checks every formula and is not repeated.

``tests/test_formulas.py`` checks that every registered formula has a link, that each
named cell is one code cell of its chapter and that each named test exists.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Link", "LINKS", "DOCSTRING_TEST", "cell_of", "location"]

#: the test that compares every docstring with the registry
DOCSTRING_TEST = "formulas::test_docstring_math_is_the_registered_formula_both_ways"


@dataclass(frozen=True)
class Link:
    """The chapter that derives a formula (``"01"`` ... ; ``None``: no chapter), its cell
    (the start of one of the cell's lines; ``None``: the chapter's page) and its tests
    (``"module::test_name"``)."""

    chapter: str | None
    cell: str | None
    tests: tuple[str, ...]


def cell_of(notebook: dict, start: str) -> int:
    """The index (in ``notebook["cells"]``) of the one code cell that has a line beginning
    with ``start`` (leading spaces ignored).

    Raises:
        LookupError: when no code cell, or more than one, has such a line.
    """
    found = [k for k, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"
             and any(line.lstrip().startswith(start)
                     for line in "".join(cell["source"]).splitlines())]
    if len(found) != 1:
        raise LookupError(f"{len(found)} code cells have a line beginning with {start!r} "
                          f"(cells {found}); name the cell by a line only it has")
    return found[0]


def location(test: str) -> tuple[str, str]:
    """``"module::test_name"`` as ``("tests/test_module.py", "test_name")``."""
    module, name = test.split("::")
    return f"tests/test_{module}.py", name




def _link(chapter, cell, *tests) -> Link:
    return Link(chapter, cell, tests)


_ACT = "activations::test_values_and_derivatives_match_the_formula"
_SOFTMAX = ("activations::test_softmax_matches_its_formula",
            "formulas::test_softmax_formulas_equal_the_code_for_each_k")
_ATTENTION = "attention::test_documented_formulas_equal_the_code"
_BACKWARD = "layers::test_backward_matches_the_batched_formulas"
_INIT = "initializers::test_variance_matches_its_formula"
_CONV = "conv::test_documented_formulas_equal_the_code"
_BCE = "losses_cross_entropy::test_bce_values_match_optax_jaxnn_and_both_formulas"
_LOGISTIC = "logistic_regression::test_logistic_gradient_matches_autodiff_and_formula"
_SOFTREG = "logistic_regression::test_softmax_gradient_matches_autodiff_and_formula"
_INFO = "information::test_values_match_scipy_optax_and_the_formulas"
_GEN = "generative::test_documented_formulas_equal_the_code"
_NORMS = "normalization::test_layer_and_rms_norm_are_their_formulas"
_SGD = "optim::test_sgd_formulas_against_code"
_RMS = "optim::test_rmsprop_formulas_against_code"
_ADAM = "optim::test_adam_formulas_against_code"
_PAR = "parallel::test_documented_formulas_equal_the_code"
_MEM = ("parallel_sharded::test_documented_memory_formulas_equal_the_code",
        "parallel_sharded::test_memory_per_device_is_the_bytes_of_each_devices_shards")
_MEM3 = "parallel_sharded::test_the_fully_sharded_step_leaves_each_device_the_stage_3_bytes"
_REC = "recurrent::test_documented_formulas_equal_the_code"
_STACKED = "recurrent_stacked::test_documented_formulas_equal_the_code"
_REG = "formulas::test_regression_formulas_equal_the_code"
_DIF = "diffusion::test_documented_formulas_equal_the_code"
_DIF_SAMPLERS = "diffusion::test_samplers_with_the_exact_noise_prediction_recover_gaussian_data"
_SCHEDULES = ("test_linear_schedule_is_evenly_spaced_as_the_ddpm_paper",
              "test_cosine_schedule_matches_the_improved_ddpm_paper")

LINKS: dict[str, Link] = {
    # ---- activations (chapter 02; the softmax in chapter 03)
    "activations.SOFTMAX": _link("03", "softmax_jacobian = Derivation(", *_SOFTMAX),
    "activations.LOG_SOFTMAX": _link("03", "lse_shift = Derivation(", *_SOFTMAX),
    "activations.SIGMOID": _link(
        "02", "define(sigma(x), F.SIGMOID.expr", _ACT,
        "activations::test_silu_is_x_times_sigmoid_and_softplus_derivative_is_sigmoid"),
    "activations.SIGMOID_DERIVATIVE": _link("02", "d_sigma = Derivation(", _ACT),
    "activations.TANH": _link("02", "tanh_sigma = Derivation(", _ACT),
    "activations.TANH_DERIVATIVE": _link("02", "tanh_derivative = Derivation(", _ACT),
    "activations.RELU": _link("02", "relu_right = Derivation(", _ACT),
    "activations.RELU_DERIVATIVE": _link(
        "02", "relu_right = Derivation(", _ACT,
        "activations::test_relu_gradient_at_zero_is_zero_like_jax_nn"),
    "activations.LEAKY_RELU": _link("02", '"leaky_relu": (lambda t: act.leaky_relu(', _ACT),
    "activations.LEAKY_RELU_DERIVATIVE": _link(
        "02", '"leaky_relu": (lambda t: act.leaky_relu(', _ACT,
        "activations::test_leaky_relu_gradient_at_zero_is_one_like_jax_nn"),
    "activations.SOFTPLUS": _link("02", "softplus_derivative = Derivation(", _ACT),
    "activations.SOFTPLUS_DERIVATIVE": _link("02", "softplus_derivative = Derivation(", _ACT),
    "activations.GELU": _link("02", "gelu_derivative = Derivation(", _ACT),
    "activations.GELU_DERIVATIVE": _link("02", "gelu_derivative = Derivation(", _ACT),
    "activations.GELU_TANH": _link("02", "taylor = Derivation(", _ACT),
    "activations.SILU": _link("02", "silu_derivative = Derivation(", _ACT),
    # ---- attention (chapter 08)
    "attention.ATTENTION_WEIGHT": _link("08", "var_score = Derivation(", _ATTENTION),
    "attention.ATTENTION_OUTPUT": _link("08", "softmax_backward = Derivation(", _ATTENTION),
    "attention.STREAMING_SUM": _link("08", "sum_invariant = Derivation(", _ATTENTION),
    # ---- backpropagation (chapter 04)
    "backprop.DENSE": _link("04", None, "layers::test_dense_matches_its_formula"),
    "backprop.BACKWARD_DELTA": _link("04", "batched_delta = Derivation(", _BACKWARD),
    "backprop.BACKWARD_GRAD_W": _link("04", "batched_w = Derivation(", _BACKWARD),
    "backprop.BACKWARD_GRAD_B": _link("04", "batched_b = Derivation(", _BACKWARD),
    "backprop.LECUN_VARIANCE": _link("04", "moment = Derivation(", _INIT),
    "backprop.HE_VARIANCE": _link("04", "he_condition = Derivation(", _INIT),
    "backprop.GLOROT_VARIANCE": _link("04", None, _INIT),
    "backprop.LOG_SIGMOID_JACOBIAN_BOUND": _link(
        "04", 'bound = Derivation("the Jacobian bound through sigmoid layers"',
        "layers::test_sigmoid_jacobian_bound_matches_its_formula_and_holds"),
    # ---- convolution (chapter 06)
    "conv.CONV2D": _link("06", "define(y[FC.n, FC.i, FC.j, FC.o], FC.CONV2D.expr", _CONV),
    "conv.WEIGHT_GRADIENT": _link("06", "d_w = Derivation(", _CONV),
    "conv.INPUT_GRADIENT": _link("06", "d_x = Derivation(", _CONV),
    "conv.GROUPED_CONV2D": _link("06", "grouped = Derivation(",
                                 "conv_grouped::test_documented_grouped_formula_equals_the_code"),
    "conv.CONV_TRANSPOSE2D": _link("06", "adjoint = Derivation(",
                                   "conv_transpose::test_documented_formula_equals_the_code"),
    "conv.CONV1D": _link("06", "causal = Derivation(",
                         "conv1d::test_documented_formula_equals_the_code"),
    "conv.OUTPUT_SIZE": _link("06", "count_outputs = Derivation(", _CONV),
    "conv.SAME_PADDING_TOTAL": _link("06", 'define(sp.Symbol("P_{SAME}")', _CONV),
    "conv.AVG_POOL": _link("06", "avg_grad = Derivation(", _CONV),
    "conv.GLOBAL_AVG_POOL": _link("06", 'define(sp.IndexedBase("y", real=True)[FC.n, FC.c]',
                                  _CONV),
    # ---- cross-entropy, logistic and softmax regression, information (chapter 03)
    "cross_entropy.BCE_DEFINITION": _link("03", "bce_is_nll = Derivation(", _BCE),
    "cross_entropy.BCE_WITH_LOGITS": _link("03", "bce_stable_form = Derivation(", _BCE),
    "cross_entropy.BCE_GRADIENT": _link(
        "03", "bce_gradient = Derivation(",
        "losses_cross_entropy::test_bce_gradient_is_autodiff_of_the_loss_optax_and_the_formula"),
    "cross_entropy.SOFTMAX_CROSS_ENTROPY_INTEGER_GRADIENT": _link(
        "04", "top_error = Derivation(", "losses_cross_entropy::"
        "test_integer_ce_gradient_is_autodiff_of_the_loss_optax_and_the_formula"),
    "cross_entropy.SOFTMAX_CROSS_ENTROPY": _link(
        "03", "softmax_ce_gradient = Derivation(",
        "losses_cross_entropy::test_softmax_ce_values_match_optax_and_formula"),
    "cross_entropy.SOFTMAX_CROSS_ENTROPY_INTEGER": _link(
        "03", "int_ref = jax.vmap(",
        "losses_cross_entropy::test_integer_ce_values_match_optax_formula_and_one_hot"),
    "cross_entropy.LOGISTIC_GRADIENT_W": _link("03", "logistic_gradient_w = Derivation(",
                                               _LOGISTIC),
    "cross_entropy.LOGISTIC_GRADIENT_B": _link("03", "logistic_gradient_b = Derivation(",
                                               _LOGISTIC),
    "cross_entropy.SOFTMAX_GRADIENT_W": _link("03", "softmax_ce_gradient = Derivation(",
                                              _SOFTREG),
    "cross_entropy.SOFTMAX_GRADIENT_B": _link("03", "softmax_ce_gradient = Derivation(",
                                              _SOFTREG),
    "cross_entropy.SMOOTH_LABELS": _link(
        None, None, "smooth_labels::test_smooth_labels_is_its_formula_and_optax"),
    "cross_entropy.ENTROPY": _link("03", "entropy_plus_kl = Derivation(", _INFO),
    "cross_entropy.KL_DIVERGENCE": _link("03", "gibbs = Derivation(", _INFO),
    "cross_entropy.CROSS_ENTROPY": _link("03", "entropy_plus_kl = Derivation(", _INFO),
    # ---- generative models (chapter 10)
    "generative.GAUSSIAN_KL": _link("10", "diagonal = Derivation(", _GEN),
    "generative.REPARAMETERIZE": _link("10", "reparam = Derivation(", _GEN),
    "generative.ELBO_BERNOULLI": _link("10", "split = Derivation(", _GEN),
    "generative.ELBO_GAUSSIAN": _link("10", "split = Derivation(", _GEN),
    "generative.DISCRIMINATOR_LOSS": _link("10", "optimum = Derivation(", _GEN),
    "generative.GENERATOR_LOSS_NON_SATURATING": _link(
        "10", "grad_non_saturating = Derivation(", _GEN),
    "generative.GENERATOR_LOSS_SATURATING": _link("10", "grad_saturating = Derivation(", _GEN),
    "generative.GAN_GAME_LOSS": _link("14", "def gan_game(",
                                      "gan_game::test_gan_game_loss_is_its_formula"),
    # ---- graph neural networks (chapter 11)
    "graphs.GCN_NORMALIZE": _link("11", "similar = Derivation(",
                                  "graphs::test_gcn_normalize_is_the_formula_and_numpy"),
    "graphs.GCN_LAYER": _link("11", "equiv = Derivation(",
                              "graphs::test_gcn_layer_is_the_formula_and_numpy"),
    "graphs.MESSAGE_PASSING": _link(
        "11", "mp = Derivation(",
        "graphs::test_message_passing_is_the_formula_and_the_dense_product"),
    "graphs.GCN_EDGE_WEIGHT": _link(
        "11", 'define(sp.Symbol(r"\\hat{w}_e")',
        "graphs::test_gcn_normalize_edges_equals_the_dense_normalisation"),
    "graphs.DIRICHLET_ENERGY": _link("11", "define(E_(X_ms), FG.DIRICHLET_ENERGY.expr",
                                     "graphs::test_dirichlet_energy_pairwise_trace_and_formula"),
    "graphs.GAT_SCORE": _link("11", "segment_shift = Derivation(",
                              "graph_attention::test_gat_layer_is_the_registered_formulas"),
    "graphs.GAT_OUTPUT": _link("11", "segment_shift = Derivation(",
                               "graph_attention::test_gat_layer_is_the_registered_formulas"),
    "graphs.GIN_AGGREGATE": _link(
        "11", "gin_step = Derivation(",
        "graph_attention::test_gin_layer_is_the_dense_reference_and_the_formula"),
    "graphs.READOUT_SUM": _link(
        "11", "multisets = [",
        "graph_attention::test_readout_sum_is_the_formula_and_invariant_to_node_order"),
    # ---- normalisation and regularisation (chapter 09)
    "normalization.BATCH_NORM": _link("09", 'display(define("y_j", FN.BATCH_NORM.expr',
                                      "normalization::test_batch_norm_is_its_formula_and_numpy"),
    "normalization.BATCH_NORM_BACKWARD": _link(
        "09", "bn_backward = Derivation(",
        "normalization::test_batch_norm_backward_is_its_formula"),
    "normalization.LAYER_NORM": _link("09", "ln_backward = Derivation(", _NORMS),
    "normalization.RMS_NORM": _link("09", "rms_backward = Derivation(", _NORMS),
    "normalization.GROUP_NORM": _link(
        None, None, "group_norm::test_group_norm_is_its_formula_flax_and_numpy"),
    "normalization.DROPOUT": _link(
        "09", "dropout_mean = Derivation(",
        "regularization::test_dropout_mean_variance_formula_and_evaluation"),
    "normalization.SOFT_THRESHOLD": _link(
        "09", "branch_pos = Derivation(",
        "regularization::test_soft_threshold_is_its_formula_and_the_argmin"),
    # ---- language models (chapter 13)
    "language.ROTARY_FIRST": _link("13", "rotary_pairs = Derivation(",
                                   "rotary::test_rotary_is_the_registered_formula"),
    "language.ROTARY_SECOND": _link("13", "rotary_pairs = Derivation(",
                                    "rotary::test_rotary_is_the_registered_formula"),
    "language.TEMPERED_SOFTMAX": _link(
        "13", "cold = Derivation(",
        "sampling::test_sampling_distribution_is_the_tempered_softmax_formula"),
    "language.ENTROPY_RATE": _link(
        "13", "entropy_rate_def = FL.ENTROPY_RATE",
        "sampling::test_entropy_rate_is_its_formula_and_the_sampled_nll"),
    # ---- numerics (no chapter: the verification tool)
    "numerics.CENTRAL_DIFFERENCE": _link(
        None, None, "formulas::test_central_difference_formula_equals_the_code"),
    # ---- optimizers (chapter 05)
    "optim.SGD_STEP": _link("05", "one_step = Derivation(", _SGD),
    "optim.MOMENTUM_TRACE": _link("05", "heavy_ball = Derivation(", _SGD),
    "optim.HEAVY_BALL_STEP": _link("05", "heavy_ball = Derivation(", _SGD),
    "optim.NESTEROV_STEP": _link("05", "nesterov = Derivation(", _SGD),
    "optim.RMS_NU": _link("05", "define(FO.nu, FO.RMS_NU.expr", _RMS),
    "optim.RMS_STEP": _link("05", "define(FO.nu, FO.RMS_NU.expr", _RMS),
    "optim.RMS_STEP_EPS_OUTSIDE": _link("05", None, _RMS),
    "optim.RMS_STEP_CENTERED": _link("05", None, _RMS),
    "optim.ADAM_M": _link("05", "expectation = Derivation(", _ADAM),
    "optim.ADAM_V": _link("05", "expectation = Derivation(", _ADAM),
    "optim.ADAM_STEP": _link("05", "adam_first = Derivation(", _ADAM),
    "optim.NADAM_MHAT": _link("05", None, _ADAM),
    "optim.ADAMW_STEP": _link("05", "adamw_first = Derivation(", _ADAM),
    # ---- many devices (chapter 12)
    "parallel.DP_GRADIENT": _link(
        "12", "dp_gradient = Derivation(",
        "parallel::test_weighted_mean_of_shard_means_is_the_full_mean_for_unequal_shards"),
    "parallel.COLUMN_SPLIT": _link("12", "column_split = Derivation(", _PAR),
    "parallel.ROW_SPLIT": _link("12", "row_split = Derivation(", _PAR),
    "parallel.SPLIT_MLP": _link("12", "split_mlp = Derivation(", _PAR),
    "parallel.RING_BYTES": _link("12", "ring = Derivation(", _PAR),
    "parallel.STEP_COMPUTE": _link("12", "compute, communication = FP.STEP_COMPUTE.expr", _PAR),
    "parallel.STEP_COMMUNICATION": _link("12", "compute, communication = FP.STEP_COMPUTE.expr",
                                         _PAR),
    "parallel.MEMORY_REPLICATED": _link("12", "memory_stages = [", *_MEM),
    "parallel.MEMORY_ZERO1": _link("12", "memory_stages = [", *_MEM),
    "parallel.MEMORY_ZERO2": _link("12", "memory_stages = [", *_MEM),
    "parallel.MEMORY_ZERO3": _link("12", "memory_stages = [", *_MEM, _MEM3),
    # ---- recurrent networks (chapter 07)
    "recurrent.RNN_CELL": _link("07", "rnn_jac = Derivation(", _REC),
    "recurrent.LSTM_CELL_STATE": _link("07", "cell_path = Derivation(", _REC),
    "recurrent.LSTM_HIDDEN": _link("07", "lstm_hidden_step = Derivation(", _REC),
    "recurrent.GRU_CELL": _link("07", "gru_jac = Derivation(", _REC),
    "recurrent.RNN_STEP": _link("07", "elman_step = Derivation(", _REC),
    "recurrent.LSTM_STEP_CELL": _link("07", "lstm_cell_step = Derivation(", _REC),
    "recurrent.LSTM_STEP_HIDDEN": _link("07", "lstm_hidden_step = Derivation(", _REC),
    "recurrent.GRU_STEP": _link("07", "gru_seq_step = Derivation(", _REC),
    "recurrent.GLOBAL_NORM": _link("07", "clip_norm = Derivation(", _REC),
    "recurrent.CLIPPED": _link("07", "direction = Derivation(", _REC),
    "recurrent.PACKED_STATE": _link("07", "pad_copy = Derivation(", _STACKED),
    "recurrent.PACKED_OUTPUT": _link("07", "output_rule = define(", _STACKED),
    "recurrent.REVERSED_INPUT": _link("07", "reverse_twice = Derivation(", _STACKED),
    "recurrent.LAYER_INPUT": _link("07", "layer_rule = define(", _STACKED),
    # ---- diffusion models (chapter 14)
    "diffusion.LINEAR_SCHEDULE": _link(
        "14", "schedules_1000 = {", _DIF,
        "diffusion::" + _SCHEDULES[0]),
    "diffusion.COSINE_SCHEDULE": _link(
        "14", "schedules_1000 = {", _DIF,
        "diffusion::" + _SCHEDULES[1]),
    "diffusion.ALPHAS_CUMPROD": _link(
        "14", "variance_step = Derivation(", _DIF,
        "diffusion::test_alphas_cumprod_and_snr"),
    "diffusion.SNR": _link(
        "14", "schedules_1000 = {", _DIF,
        "diffusion::test_alphas_cumprod_and_snr"),
    "diffusion.Q_SAMPLE": _link(
        "14", "mean_step = Derivation(", _DIF,
        "diffusion::test_q_sample_is_the_closed_form_and_has_its_moments",
        "diffusion::test_closed_form_equals_the_steps_one_at_a_time"),
    "diffusion.POSTERIOR_MEAN": _link(
        "14", "square = Derivation(", _DIF,
        "diffusion::test_posterior_is_bayes_rule"),
    "diffusion.POSTERIOR_VARIANCE": _link(
        "14", "precision = Derivation(", _DIF,
        "diffusion::test_posterior_is_bayes_rule"),
    "diffusion.VLB_WEIGHTS": _link(
        "14", "kl_term = Derivation(", _DIF,
        "diffusion::test_vlb_weights_turn_the_kl_terms_into_squared_noise_errors"),
    "diffusion.NOISE_PREDICTION_LOSS": _link(
        "14", "kl_term = Derivation(", _DIF,
        "diffusion::test_noise_prediction_loss_values_and_gradient"),
    "diffusion.DDPM_STEP": _link(
        "14", "ddpm_mean = Derivation(", _DIF,
        "diffusion::test_ddpm_step_is_the_posterior_at_the_predicted_x0",
        _DIF_SAMPLERS),
    "diffusion.DDIM_STEP": _link(
        "14", "ddim_exact = Derivation(", _DIF,
        "diffusion::test_ddim_step_returns_x0_hat_at_minus_one_and_x_t_at_t",
        _DIF_SAMPLERS),
    # ---- linear regression (chapter 01)
    "regression.MSE": _link("01", "nll = Derivation(",
                            "formulas::test_mse_formula_equals_the_code"),
    "regression.MSE_GRADIENT": _link(
        "01", "gradient = Derivation(",
        "losses::test_mse_gradient_is_autodiff_of_mse_and_the_formula"),
    "regression.LINEAR_GRADIENT": _link(
        "01", "gradient = Derivation(", _REG,
        "linear_regression::test_mse_gradient_equals_autodiff_and_the_formula"),
    "regression.LINEAR_HESSIAN": _link(
        "01", "hessian = Derivation(", _REG,
        "linear_regression::test_hessian_equals_autodiff_and_the_formula"),
    "regression.NORMAL_EQUATIONS": _link("01", "normal = Derivation(", _REG,
                                         "linear_regression::test_normal_equations_equal_lstsq"),
    "regression.GD_STEP_BOUND": _link(
        "01", "bound = Derivation(", _REG,
        "linear_regression::test_max_stable_learning_rate_is_two_over_lambda_max"),
}
