"""C2, connecting B and C: B3's adversarially fine-tuned model, pruned, and attacked again.

B3 hardens one model; C compresses only the standard ones. Here the robust model is pruned by the
methods and targets of `robust_prune_targets`, fine-tuned with each method's usual budget (on
clean images, distilling the robust model where the method distils), and its clean accuracy and
worst-case PGD robust accuracy are measured at B3's training ε with B3's evaluation settings
(`defense_eval_steps` steps of ε / `pgd_step_divisor`, `defense_restarts` restarts), before
(the unpruned robust model) and after. The checkpoints are reused like C1's (same reuse key).
Accuracies are fractions of the validation split; images uint8 [N, C, H, W].
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..compression import BaseModel, CompressionContext, build_method
from ..core import progress
from ..data.splits import stratified_subset
from ..evaluation.intervals import format_rate
from ..evaluation.paired import as_summary, compare, encode, evidence
from ..evaluation.predict import predict
from ..models.checkpoints import load_model
from ..robustness import eps_key, worst_case_pgd
from ..training.config import TrainConfig

ROBUST = "robust"  # the unpruned robust model's row and key (C2.robust.<Model>.dense.*)


@dataclass
class RobustPruning:
    """The rows {variant, method, point, clean_acc, robust_acc, n, correct, robust, reused, created_at,
    finetune_s, epochs} of B3's model `name` and its pruned versions at ε `eps` (correct, robust:
    per-image '0'/'1' strings); `standard` is B3's figure for the standard model at that ε and
    `standard_robust` its per-image outcome (None when B3 did not attack it there)."""
    name: str
    eps: float
    attack: str
    alpha: float = 0.05
    rows: list[dict[str, Any]] = field(default_factory=list)
    standard: float | None = None
    standard_robust: str | None = None
    seconds: float = 0.0


def hardened_name(b3: dict[str, Any], models: list[str]) -> str | None:
    """The model B3 hardened (a key of its summary), or None when it hardened none."""
    return next((m for m in models if m in b3.get("summary", {})), None)


def _accuracies(model, images, labels, params: dict[str, Any], eps: float, device) -> dict[str, Any]:
    """Clean accuracy, and worst-case PGD robust accuracy at `eps` with B3's evaluation settings,
    with their per-image outcomes (`paired.encode`)."""
    clean = predict(model, images, device).argmax(1) == labels
    ok = worst_case_pgd(model, images, labels, eps, alpha=eps / params["pgd_step_divisor"],
                        steps=params["defense_eval_steps"], restarts=params["defense_restarts"], seed=params["seed"],
                        device=device)
    return {"clean_acc": float(clean.float().mean()), "robust_acc": float(ok.float().mean()),
            "correct": encode(clean), "robust": encode(ok)}


def run(stage, data, b3: dict[str, Any], params: dict[str, Any]) -> RobustPruning | None:
    """Prune B3's robust model at every (method, target) of `robust_prune_targets` and measure each
    version and the unpruned one; None when B3 hardened no model or no target is asked for."""
    name = hardened_name(b3, params["models"])
    targets = [(m, t) for m, ts in params["robust_prune_targets"].items() for t in ts]
    if name is None or not targets:
        return None
    model, ckpt = load_model(stage.layout.hardened(name), name)
    base = BaseModel(f"{name}-{ROBUST}", model.to(stage.device).eval(), ckpt, stage.layout.hardened(name))
    eps, t0 = params["defense_eps"], time.perf_counter()
    restarts = params["defense_restarts"]
    standard = b3["summary"].get("standard", {}).get(name, {}).get("pgd_robust_acc", {}).get(eps_key(eps))
    result = RobustPruning(name, eps, f"PGD-{params['defense_eval_steps']}, {restarts} restart{'' if restarts == 1 else 's'}",
                           params["alpha"], standard=standard,
                           standard_robust=b3.get("per_image", {}).get("standard", {}).get(eps_key(eps)))
    ctx = CompressionContext(data, TrainConfig.from_params(params), stage.layout, stage.device)
    attacked = stratified_subset(data.valid, params.get("attack_subset_per_class", 0), params.get("selection_seed", 0))
    images, labels = attacked.images, attacked.labels
    ticker = progress.task("robust model pruned", 1 + len(targets), min_interval=0)
    result.rows.append({"variant": "unpruned", "method": "dense", "point": "–",
                        **_accuracies(base.model, images, labels, params, eps, stage.device), "n": len(labels), "reused": True, "created_at": ckpt.get("created_at", ""), "finetune_s": 0.0,
                        "epochs": 0})
    ticker.step(f"{name} robust, unpruned")
    for method_name, target in targets:
        method = build_method(method_name, params)
        made = method.apply(base, target, ctx)
        rec = made.record
        result.rows.append({"variant": f"{method_name} {rec.point}", "method": method_name, "point": rec.point,
                            **_accuracies(made.model.to(stage.device).eval(), images, labels, params, eps, stage.device),
                            "n": len(labels), "reused": rec.reused,
                            "created_at": rec.created_at, "finetune_s": rec.finetune_s, "epochs": rec.finetune_epochs,
                            "budget": method.budget.describe().replace("the dense model", "the unpruned robust model")})
        ticker.step(f"{name} robust, {method_name} {rec.point}" + (", reused" if rec.reused else ""))
    result.seconds = time.perf_counter() - t0
    return result


def table(result: RobustPruning) -> pd.DataFrame:
    """One row per version: fine-tuning, clean and robust accuracy with 95 % Wilson intervals."""
    rows = pd.DataFrame(result.rows)
    return pd.DataFrame({"version": rows.variant, "fine-tuning after pruning": [
        "–" if r.method == "dense" else f"{r.epochs} epoch{'' if r.epochs == 1 else 's'}" for r in rows.itertuples()],
        "clean acc": [format_rate(a, n) for a, n in zip(rows.clean_acc, rows.n)],
        f"robust acc, ε {result.eps:g}": [format_rate(a, n) for a, n in zip(rows.robust_acc, rows.n)]})


def verdict(after: dict[str, Any], unpruned: dict[str, Any], standard_robust: str | None, alpha: float) -> str:
    """Whether robustness survives pruning: the pruned model's per-image robustness against the
    unpruned robust model's and the standard model's (None: not known), McNemar on the same images."""
    lost = compare(after["robust"], unpruned["robust"], alpha=alpha)
    text = {"b": f"robustness is lost against the unpruned robust model ({evidence(lost)})",
            "a": f"more robust than the unpruned robust model ({evidence(lost)})"}.get(
        lost["better"], f"no change in robust accuracy against the unpruned robust model is resolved ({evidence(lost)})")
    if standard_robust is None:
        return text
    above = compare(after["robust"], standard_robust, alpha=alpha)
    return text + {"a": f"; it stays above the standard model ({evidence(above)})",
                   "b": f"; it falls below the standard model ({evidence(above)})"}.get(
        above["better"], f"; nor is a difference from the standard model resolved ({evidence(above)})")


def text(result: RobustPruning) -> str:
    """Whether robustness survives pruning, in words, with the paired tests and the standard model's level."""
    base, n = result.rows[0], result.rows[0]["n"]
    lines = [f"B3's robust {result.name} ([Table](#tab:C2_robust_pruning)), attacked by untargeted {result.attack} at "
             f"ε = {result.eps:g} on the {n} validation images: clean accuracy {format_rate(base['clean_acc'], n)}, "
             f"robust accuracy {format_rate(base['robust_acc'], n)}, an upper bound as every robust accuracy here"
             + (f" (the standard model, in B3: {format_rate(result.standard, n)})." if result.standard is not None else ".")]
    for r in result.rows[1:]:
        how = (f"reused: its checkpoint was written at {r['created_at']}, when fine-tuning took {r['finetune_s']:.0f} s"
               if r["reused"] else f"fine-tuned in this run in {r['finetune_s']:.0f} s")
        lines.append(f"- {r['variant']}, fine-tuned on clean images for {r['budget']} ({how}): clean accuracy "
                     f"{format_rate(r['clean_acc'], n)}, robust accuracy {format_rate(r['robust_acc'], n)}; "
                     f"{verdict(r, base, result.standard_robust, result.alpha)}.")
    return "\n".join(lines)


def metrics_part(result: RobustPruning | None) -> dict[str, Any] | None:
    """C2.robust.<Model>.dense.* and C2.robust.<Model>.<method>.<point>.* (clean_acc, robust_acc,
    reused, finetune_s), C2.robust.<Model>.eps, with the denominators of the accuracies."""
    if result is None:
        return None
    node: dict[str, Any] = {"eps": result.eps, "seconds": result.seconds}
    unpruned = result.rows[0]
    for r in result.rows:
        values = {"clean_acc": r["clean_acc"], "robust_acc": r["robust_acc"], "reused": r["reused"],
                  "finetune_s": r["finetune_s"]}
        if r is not unpruned:  # robustness after pruning against before, and against the standard model, paired
            values["vs_unpruned"] = as_summary(compare(r["robust"], unpruned["robust"], alpha=result.alpha))
            if result.standard_robust:
                values["vs_standard"] = as_summary(compare(r["robust"], result.standard_robust, alpha=result.alpha))
        if r["method"] == "dense":
            node["dense"] = values
        else:
            node.setdefault(r["method"], {})[r["point"]] = values
    n = result.rows[0]["n"]
    return {"summary": {result.name: node}, "rows": result.rows,
            "denominators": {"robust.*.clean_acc": n, "robust.*.robust_acc": n}}
