r"""Weight conversion between PyTorch, dlmath and flax: the one place where names and layouts
are mapped.

dlmath keeps every dense layer as flax's ``Dense`` does, ``{"w": (D_in, D_out), "b":
(D_out,)}`` with $y = x w + b$; PyTorch's ``nn.Linear`` keeps ``weight`` of shape
``(D_out, D_in)`` with $y = x W^T + b$. So a PyTorch weight matrix is transposed here, and
nowhere else: the kernels of the package never transpose a parameter. The models and their
PyTorch modules (one layer, ``batch_first=True`` for the recurrent ones):

* ``"dense"``: ``nn.Linear`` (``weight``, ``bias``) <-> ``{"w", "b"}``;
* ``"multi_head_attention"``: ``nn.MultiheadAttention`` (``in_proj_weight`` ``(3E, E)``,
  ``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``) <-> ``{"in_proj": {"w": (E, 3E),
  "b"}, "out_proj": {"w": (E, E), "b"}}``;
* ``"transformer_block"``: ``nn.TransformerEncoderLayer(norm_first=True)``
  (``self_attn.*``, ``linear1.*``, ``linear2.*``, ``norm1.*``, ``norm2.*``) <->
  ``{"self_attn": ..., "linear1": {"w", "b"}, "linear2": {"w", "b"}, "norm1": {"scale",
  "bias"}, "norm2": {"scale", "bias"}}`` (a layer norm's ``weight`` is its ``scale``);
* ``"rnn"``, ``"lstm"``, ``"gru"``: ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (``weight_ih_l0``
  ``(G·H, D)``, ``weight_hh_l0`` ``(G·H, H)``, ``bias_ih_l0``, ``bias_hh_l0``; the cells
  ``nn.RNNCell`` ... without the ``_l0``) <-> ``{"ih": {"w": (D, G·H), "b"}, "hh": {"w":
  (H, G·H), "b"}}``, the gates in PyTorch's order.

A convolution's weight converts alone (its bias is the same vector in both):
:func:`conv_from_pytorch` takes ``nn.Conv1d`` / ``nn.Conv2d`` ``(O, C/groups, K...)`` and
``nn.ConvTranspose2d`` ``(C, O/groups, KH, KW)`` weights to the kernels of
:func:`dlmath.conv.conv1d`, :func:`~dlmath.conv.conv2d` and
:func:`~dlmath.conv.conv_transpose2d` (``(K, C/groups, O)``, ``(KH, KW, C/groups, O)``,
``(KH, KW, C, O/groups)``; flax's ``nn.Conv`` kernel is the same array).

A state_dict is a dict of NumPy arrays (``{k: v.numpy() for k, v in
module.state_dict().items()}``). flax's modules hold the same numbers in their own
layouts: :func:`to_flax` builds the ``params`` of ``nn.Dense``,
``nn.MultiHeadDotProductAttention(num_heads=H, qkv_features=E, out_features=E)`` (kernels
with a heads axis: ``(E, H, E/H)`` for query, key and value, ``(H, E/H, E)`` for the
output) and of the cells ``nn.SimpleCell``, ``nn.LSTMCell`` / ``nn.OptimizedLSTMCell``,
``nn.GRUCell`` (one kernel per gate, and one bias where flax adds one: the sum of PyTorch's
two, except the GRU's candidate, whose hidden bias stays apart because $r$ multiplies it).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from dlmath import _checks

__all__ = ["from_pytorch", "to_pytorch", "to_flax", "conv_from_pytorch", "MODELS",
           "CONV_MODELS"]

#: The models that convert, by the name of the dlmath function they feed.
MODELS = ("dense", "multi_head_attention", "transformer_block", "rnn", "lstm", "gru")
#: The convolutions whose PyTorch weight converts (:func:`conv_from_pytorch`): the axes of
#: PyTorch's layout, and the permutation that gives dlmath's.
CONV_MODELS = {"conv1d": ("(O, C/groups, K)", (2, 1, 0)),
               "conv2d": ("(O, C/groups, KH, KW)", (2, 3, 1, 0)),
               "conv_transpose2d": ("(C, O/groups, KH, KW)", (2, 3, 0, 1))}
#: Gate blocks of the recurrent cells, in PyTorch's order.
_GATES = {"rnn": "", "lstm": "ifgo", "gru": "rzn"}


def _dense(prefix: str, path: tuple) -> list:
    return [(prefix + "weight", (*path, "w"), True), (prefix + "bias", (*path, "b"), False)]


def _table(model: str, suffix: str = "") -> list:
    """``[(PyTorch key, dlmath path, transposed?)]`` of ``model``."""
    if model == "dense":
        return _dense("", ())
    if model == "multi_head_attention":
        return [("in_proj_weight", ("in_proj", "w"), True),
                ("in_proj_bias", ("in_proj", "b"), False),
                *_dense("out_proj.", ("out_proj",))]
    if model == "transformer_block":
        return ([(f"self_attn.{k}", ("self_attn", *p), t)
                 for k, p, t in _table("multi_head_attention")]
                + _dense("linear1.", ("linear1",)) + _dense("linear2.", ("linear2",))
                + [(f"{m}.{k}", (m, name), False) for m in ("norm1", "norm2")
                   for k, name in (("weight", "scale"), ("bias", "bias"))])
    return [(f"{kind}_{part}{suffix}", (part, name), kind == "weight")
            for part in ("ih", "hh") for kind, name in (("weight", "w"), ("bias", "b"))]


def _check_model(who: str, model) -> None:
    if not isinstance(model, str) or model not in MODELS:
        raise ValueError(f"{who}: model must be one of {list(MODELS)}; got {model!r}.")


def from_pytorch(state_dict, model: str):
    r"""dlmath's parameters from a PyTorch ``state_dict``: the same numbers, every weight
    matrix transposed to ``(D_in, D_out)``.

    Args:
        state_dict: a dict of floating arrays (NumPy or JAX) with exactly the keys of the
            PyTorch module of ``model`` (module docstring); a recurrent one may carry the
            ``_l0`` suffix of ``nn.RNN`` ... or none (the cells').
        model: one of :data:`MODELS`.

    Returns:
        The nested dict of JAX arrays that the ``model`` function takes (``"dense"``:
        :func:`dlmath.layers.dense`, ...).

    Raises:
        ValueError: an unknown ``model``; missing or extra keys; a weight that is not a
            matrix; shapes that do not fit together.
        TypeError: a non-floating array or arrays of mixed float dtypes; a state_dict that
            is not a dict.
    """
    who = "from_pytorch"
    _check_model(who, model)
    if not isinstance(state_dict, dict):
        raise TypeError(f"{who}: state_dict must be a dict of arrays; got "
                        f"{type(state_dict).__name__}. Pass {{k: v.numpy() for k, v in "
                        "module.state_dict().items()}.")
    suffix = "_l0" if any(str(k).endswith("_l0") for k in state_dict) else ""
    table = _table(model, suffix)
    _checks.require_keys(who, "state_dict", state_dict, [k for k, _, _ in table],
                         f"PyTorch's state_dict of the {model}",
                         "Pass module.state_dict() with its arrays as NumPy arrays.")
    params: dict = {}
    for key, path, transposed in table:
        value = state_dict[key]
        _checks.require_floating(who, f"state_dict['{key}']", value)
        if transposed:
            _checks.require_ndim(who, f"state_dict['{key}']", value, 2, "(D_out, D_in)")
        leaf = jnp.asarray(value)
        node = params
        for name in path[:-1]:
            node = node.setdefault(name, {})
        node[path[-1]] = leaf.T if transposed else leaf
    _require_shapes(who, "state_dict", params, model,
                    " (in dlmath's layout: every weight matrix transposed)")
    return params


def _leaves(who: str, params, model: str) -> dict:
    """``{PyTorch key: (array, transposed?)}`` of dlmath's ``params``; the structure checked."""
    table = _table(model, "_l0")
    out = {}
    for key, path, transposed in table:
        node = params
        for name in path:
            if not isinstance(node, dict) or name not in node:
                raise ValueError(
                    f"{who}: params must hold {'/'.join(map(str, path))} (the {model}'s "
                    f"parameters: {sorted('/'.join(p) for _, p, _ in table)}); it is missing."
                    f" Build them with the model's init function or from_pytorch.")
            node = node[name]
        out[key] = (node, transposed)
    _checks.float_dtype_of_tree(who, "params", params)
    if len(jax.tree_util.tree_leaves(params)) != len(table):
        raise ValueError(f"{who}: params has entries that a {model} does not have; expected "
                         f"exactly {sorted('/'.join(p) for _, p, _ in table)}.")
    _require_shapes(who, "params", params, model)
    return out


def _require_shapes(who: str, name: str, params, model: str, context: str = "") -> None:
    """The shapes of dlmath's ``params`` of ``model`` fit together: the sizes are read from
    its first kernels (``w``, ``in_proj``, ``linear1``, ``ih`` and ``hh``)."""
    def size(path, axis, legend):
        x = params
        for k in path:
            x = x[k]
        _checks.require_ndim(who, name + "".join(f"[{k!r}]" for k in path), x, 2, legend)
        return _checks.shape_of(x)[axis]

    if model == "dense":
        i, o = (size(("w",), a, "(D_in, D_out)") for a in (0, 1))
        shapes, sizes = {("w",): ("(D_in, D_out)", (i, o)), ("b",): ("(D_out,)", (o,))}, \
            f"D_in = {i}, D_out = {o}"
    elif model in ("multi_head_attention", "transformer_block"):
        pre = ("self_attn",) if model == "transformer_block" else ()
        E = size((*pre, "in_proj", "w"), 0, "(E, 3E)")
        shapes, sizes = {(*pre, "in_proj", "w"): ("(E, 3E)", (E, 3 * E)),
                         (*pre, "in_proj", "b"): ("(3E,)", (3 * E,)),
                         (*pre, "out_proj", "w"): ("(E, E)", (E, E)),
                         (*pre, "out_proj", "b"): ("(E,)", (E,))}, f"E = {E}"
        if pre:
            F = size(("linear1", "w"), 1, "(E, F)")
            shapes |= {("linear1", "w"): ("(E, F)", (E, F)), ("linear1", "b"): ("(F,)", (F,)),
                       ("linear2", "w"): ("(F, E)", (F, E)), ("linear2", "b"): ("(E,)", (E,)),
                       **{(n, k): ("(E,)", (E,)) for n in ("norm1", "norm2")
                          for k in ("scale", "bias")}}
            sizes += f", F = {F}"
    else:
        G = len(_GATES[model]) or 1
        D, H = size(("ih", "w"), 0, "(D, G·H)"), size(("hh", "w"), 0, "(H, G·H)")
        shapes = {("ih", "w"): ("(D, G·H)", (D, G * H)), ("ih", "b"): ("(G·H,)", (G * H,)),
                  ("hh", "w"): ("(H, G·H)", (H, G * H)), ("hh", "b"): ("(G·H,)", (G * H,))}
        sizes = f"G = {G} gate blocks ({model}), D = {D}, H = {H}"
    _checks.require_shapes(who, name, params, shapes, f" for the {model} with {sizes}{context}",
                           "Build them with the model's init function or from_pytorch.")


def to_pytorch(params, model: str) -> dict:
    r"""The PyTorch ``state_dict`` of dlmath's ``params`` (the inverse of
    :func:`from_pytorch`), as NumPy arrays: ``module.load_state_dict({k:
    torch.from_numpy(v) for k, v in to_pytorch(params, model).items()})``. Recurrent keys
    carry ``_l0`` (``nn.RNN`` ...; a cell's are without it).

    Args:
        params: the parameters of ``model``, floating, one dtype.
        model: one of :data:`MODELS`.

    Returns:
        A dict of NumPy arrays, every weight matrix ``(D_out, D_in)``.

    Raises:
        ValueError: an unknown ``model``; a parameter missing or extra, or of a shape that
            does not fit.
        TypeError: non-floating parameters or mixed float dtypes.
    """
    who = "to_pytorch"
    _check_model(who, model)
    return {key: np.asarray(leaf.T if transposed else leaf)
            for key, (leaf, transposed) in _leaves(who, params, model).items()}


def to_flax(params, model: str, *, num_heads: int | None = None) -> dict:
    r"""The same weights as the ``params`` of the matching flax.linen module (module
    docstring): use as ``module.apply({"params": to_flax(params, model)}, ...)``.

    Args:
        params: the parameters of ``model``, floating, one dtype.
        model: ``"dense"``, ``"multi_head_attention"``, ``"rnn"``, ``"lstm"`` or ``"gru"``
            (flax has no transformer block).
        num_heads: $H$, an int that divides ``E``; for ``"multi_head_attention"`` only.

    Returns:
        A dict of ``{"kernel": ..., "bias": ...}`` dicts named as flax's submodules.

    Raises:
        ValueError: an unknown ``model`` or ``"transformer_block"``; a parameter missing or
            extra, or of a shape that does not fit; ``E`` not divisible by ``num_heads``;
            ``num_heads`` given for another model.
        TypeError: non-floating parameters or mixed float dtypes; ``num_heads`` not an int.
    """
    who = "to_flax"
    _check_model(who, model)
    if model == "transformer_block":
        raise ValueError(f"{who}: flax.linen has no transformer block; convert its parts "
                         "(params['self_attn'] as 'multi_head_attention', ...).")
    if (num_heads is None) != (model != "multi_head_attention"):
        raise ValueError(f"{who}: num_heads is needed for 'multi_head_attention' and only "
                         f"there; got num_heads={num_heads!r} for {model!r}.")
    _leaves(who, params, model)
    if model == "dense":
        return {"kernel": params["w"], "bias": params["b"]}
    if model == "multi_head_attention":
        return _mha_to_flax(who, params, num_heads)
    return _cell_to_flax(who, params, model)


def _mha_to_flax(who: str, params, num_heads) -> dict:
    E = _checks.shape_of(params["in_proj"]["w"])[0]  # the shapes checked by _leaves
    _checks.require_divisor(who, "num_heads", num_heads, E, "the embedding size E")
    H, d = int(num_heads), E // int(num_heads)
    w_in, b_in = params["in_proj"]["w"], params["in_proj"]["b"]
    out = {name: {"kernel": w_in[:, q * E:(q + 1) * E].reshape(E, H, d),
                  "bias": b_in[q * E:(q + 1) * E].reshape(H, d)}
           for q, name in enumerate(("query", "key", "value"))}
    out["out"] = {"kernel": params["out_proj"]["w"].reshape(H, d, E),
                  "bias": params["out_proj"]["b"]}
    return out


def _cell_to_flax(who: str, params, cell: str) -> dict:
    gates = _GATES[cell] or "h"
    H = _checks.shape_of(params["hh"]["w"])[0]  # the shapes checked by _leaves

    def block(part, q, name):
        return params[part][name][..., q * H:(q + 1) * H]

    if cell == "rnn":
        return {"i": {"kernel": params["ih"]["w"], "bias": params["ih"]["b"] + params["hh"]["b"]},
                "h": {"kernel": params["hh"]["w"]}}
    out = {}
    for q, gate in enumerate(gates):
        both = block("ih", q, "b") + block("hh", q, "b")
        if cell == "lstm":
            out[f"i{gate}"] = {"kernel": block("ih", q, "w")}
            out[f"h{gate}"] = {"kernel": block("hh", q, "w"), "bias": both}
        elif gate == "n":  # the candidate: r multiplies the hidden part, bias included
            out["in"] = {"kernel": block("ih", q, "w"), "bias": block("ih", q, "b")}
            out["hn"] = {"kernel": block("hh", q, "w"), "bias": block("hh", q, "b")}
        else:
            out[f"i{gate}"] = {"kernel": block("ih", q, "w"), "bias": both}
            out[f"h{gate}"] = {"kernel": block("hh", q, "w")}
    return out


def conv_from_pytorch(weight, model: str):
    r"""dlmath's kernel of a convolution from PyTorch's weight: the same numbers, the spatial
    axes first and the channel axes last, channels-last as :mod:`dlmath.conv` computes.

    ========================  ==========================  ==========================
    ``model``                 PyTorch's ``weight``        dlmath's ``w``
    ========================  ==========================  ==========================
    ``"conv1d"``              ``(O, C/groups, K)``        ``(K, C/groups, O)``
    ``"conv2d"``              ``(O, C/groups, KH, KW)``   ``(KH, KW, C/groups, O)``
    ``"conv_transpose2d"``    ``(C, O/groups, KH, KW)``   ``(KH, KW, C, O/groups)``
    ========================  ==========================  ==========================

    (the axes permuted by ``(2, 1, 0)``, ``(2, 3, 1, 0)`` and ``(2, 3, 0, 1)``). A bias is
    the same vector in both. PyTorch's ``groups`` is passed to the dlmath function as it is.

    Args:
        weight: the floating weight array (NumPy or JAX), ``module.weight.detach().numpy()``.
        model: one of :data:`CONV_MODELS`, the name of the dlmath function it feeds.

    Returns:
        The kernel as a JAX array of ``weight``'s dtype.

    Raises:
        ValueError: an unknown ``model``; a weight of another rank than the model's.
        TypeError: a non-floating weight.
    """
    who = "conv_from_pytorch"
    if not isinstance(model, str) or model not in CONV_MODELS:
        raise ValueError(f"{who}: model must be one of {list(CONV_MODELS)}; got {model!r}.")
    legend, axes = CONV_MODELS[model]
    _checks.require_floating(who, "weight", weight)
    torch_name = {"conv1d": "Conv1d", "conv2d": "Conv2d"}.get(model, "ConvTranspose2d")
    _checks.require_ndim(who, "weight", weight, len(axes), legend,
                         f"Pass torch.nn.{torch_name}'s weight, "
                         f"module.weight.detach().numpy(), for model={model!r}.")
    return jnp.transpose(jnp.asarray(weight), axes)
