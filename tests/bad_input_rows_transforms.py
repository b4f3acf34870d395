"""Bad-input rows of dlmath.transforms: the global norm of a gradient tree, clipping by it
(one update of the transformation), and a chain of clipping and SGD with momentum (one
update)."""

from __future__ import annotations

from bad_input_cases import A, H, Spec, normal


def _tree(s, rng):
    return {"w": normal(rng, (s["D"], s["K"])), "b": normal(rng, (s["K"],))}


_TREE = {"w": A(("D", "K"), ranks=(0, 1, 2, 3)), "b": A(("K",), ranks=(0, 1, 2, 3))}


def _clip_call(fn, grads, max_norm):
    clip = fn(max_norm)
    return clip.update(grads, clip.init(grads))[0]


def _chain_call(fn, params, grads):
    from dlmath import optim, transforms

    opt = fn(transforms.clip_by_global_norm(1.0), optim.sgd(0.1, momentum=0.9))
    return opt.update(grads, opt.init(params), params)[0]


def specs():
    return [
        Spec("transforms.global_norm", lambda s, rng: {"tree": _tree(s, rng)},
             {("tree", k): a for k, a in _TREE.items()}, out_dtype="promote",
             free_letters=("D", "K"), empty={"D": "pass", "K": "pass"}),
        Spec("transforms.clip_by_global_norm",
             lambda s, rng: {"grads": _tree(s, rng), "max_norm": 0.5},
             {("grads", k): a for k, a in _TREE.items()},
             {"max_norm": H(low=0.0, low_open=True)}, call=_clip_call, free_letters=("D", "K"),
             empty={"D": "pass", "K": "pass"},
             note="one update of clip_by_global_norm(max_norm); each leaf keeps its own dtype "
                  "(checked in test_transforms)"),
        Spec("transforms.chain",
             lambda s, rng: {"params": _tree(s, rng), "grads": _tree(s, rng)},
             {("params", "w"): A(("D", "K"), param=True), ("params", "b"): A(("K",), param=True),
              ("grads", "w"): A(("D", "K")), ("grads", "b"): A(("K",))},
             call=_chain_call, empty={"D": "pass", "K": "pass"}, out_dtype="params",
             who_ok=("clip_by_global_norm", "sgd"),
             note="chain(clip_by_global_norm(1.0), sgd(0.1, momentum=0.9)): init, one update; "
                  "the messages name the transformation that refuses the input"),
    ]
