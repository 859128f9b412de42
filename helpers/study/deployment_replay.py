"""C2's deployment rule for models without gradients: an int8 graph cannot be attacked white-box, so
the rule attacks the fp32 model it was quantized from (white-box, on the selection split) and
replays those adversarial inputs on it. That is a transfer attack from the model's own fp32 twin:
its robust accuracy is an upper bound, looser than a white-box attack's, and the rule says so when
it picks such a model."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..attacks import build_attack
from ..compression import method_class
from ..config.model_overrides import for_model
from ..evaluation.predict import predict
from ..robustness.attack_runs import AttackRun, run_attack
from ..robustness.statistics import statistics
from .compressed_robustness import DENSE, _describe, keeps_accuracy


def replayable(v) -> bool:
    """Is `v` a model without gradients that the rule attacks through its source (int8)?"""
    if v.method == DENSE:
        return False
    method = method_class(v.method)
    return not method.whitebox and hasattr(method, "source_of")


def source_of(v, variants: list) -> Any:
    """The variant a replay-only variant `v` was made from (None when `v` takes gradients)."""
    if not replayable(v):
        return None
    source, point = method_class(v.method).source_of(v.point)
    return next((s for s in variants if s.method == source and (source == DENSE or s.point == point)), None)


def replay_candidates(by_model, params: dict[str, Any]) -> list:
    """Replay-only variants (`source_of`) whose loss of selection accuracy the paired test does not resolve."""
    return [v for vs in by_model.values() for v in vs[1:]
            if source_of(v, vs) is not None and keeps_accuracy(v, vs[0], params["alpha"])]


def replay_attack(v, source, images, labels, params: dict[str, Any], eps: float, device) -> pd.DataFrame:
    """The robustness attack (untargeted, at `eps`) crafted white-box on `source` over `images`, and
    replayed on `v`: one row like `attack_variants`', with `crafted_on` naming the source."""
    attack = build_attack(params["robustness_attack"], for_model(params, v.model))
    crafted = run_attack(source.load(device), images, labels, attack, eps, target=None, seed=params["seed"],
                         device=device, stop_on_success=False)
    model = v.load(device)
    run = AttackRun(crafted.attack, eps, None, crafted.x_adv, predict(model, images, device),
                    predict(model, crafted.x_adv, device), crafted.first_success.new_full(crafted.first_success.shape, -1),
                    False)
    st = statistics(run, images, labels)
    return pd.DataFrame([{**_describe(v), "attack": attack.name, "goal": "untargeted", "eps": eps, "crafted_on": source.name,
                          **{k: st.get(k) for k in ("n", "n_eligible", "n_success", "success_rate", "robust_acc",
                                                    "iterations_mean", "confidence_wrong", "robust")}}])
