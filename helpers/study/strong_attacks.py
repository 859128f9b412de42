"""A stronger evaluation beside PGD (B1, B3): robust accuracy under APGD-CE and APGD-DLR (Croce &
Hein 2020) on the same images, and the worst case over the three attacks.

Robust accuracy under one attack is an upper bound on the true robust accuracy: a stronger attack
can only lower it. Per image (validation split, uint8 [N, C, H, W], ε in pixel units of [0, 1]):
clean correct; robust under the study's PGD (B1: its PGD-`pgd_steps` run, robust where the clean
input and the last iterate are both classified correctly; B3: its worst-case PGD with restarts);
robust under APGD-CE and under APGD-DLR (`apgd_steps` steps, one start seeded with `seed`; robust
where no iterate fools the model); worst case, correct and robust under all three. Everything runs
in fp32, as the study's attacks do. `apgd_steps: 0` skips it.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..attacks import build_attack
from ..attacks.apgd import LOSSES, apgd, full_precision
from ..config.model_overrides import for_model
from ..core import progress
from ..data.splits import batches
from ..evaluation.intervals import format_rate
from ..evaluation.paired import decode, mcnemar
from ..robustness import eps_key, run_attack, worst_case_pgd

ATTACKS = ("pgd", "apgd_ce", "apgd_dlr", "worst")  # metrics keys, in table order
ALPHA = 0.05  # significance level of the reading, unless the stage passes its own


@dataclass
class Outcome:
    """One model at one ε: `robust[k]` bool [N] for 'clean' (correct) and each of ATTACKS; `key`
    its metrics key ('SimpleCNN', 'SimpleCNN.robust'), `label` its table name, `apgd_s` seconds."""
    key: str
    label: str
    eps: float
    robust: dict[str, torch.Tensor]
    apgd_s: float

    @property
    def n(self) -> int:
        return len(self.robust["clean"])

    def rate(self, what: str) -> float:
        return int(self.robust[what].sum()) / self.n

    @functools.cached_property
    def test(self) -> dict[str, Any]:
        """McNemar on PGD-robust against worst-case-robust; only_a: images PGD leaves and APGD fools."""
        return mcnemar(self.robust["pgd"], self.robust["worst"])


@dataclass
class StrongEvaluation:
    pgd_title: str  # 'PGD-40', 'PGD-50, 2 restarts'
    pgd_note: str   # how PGD counts an image as robust
    steps: int      # APGD steps
    seed: int
    outcomes: list[Outcome] = field(default_factory=list)


def strong_eps(params: dict[str, Any]) -> list[float]:
    """B1's budgets: `example_eps` and the robustness ε, each once. The robustness ε is C2's
    (`robustness_discussion.rule_eps`; a test keeps the two equal): `robustness_eps`, or the smallest
    ε of attack_eps. It is not imported, so that B1's reuse key does not follow C2's modules."""
    robust = params.get("robustness_eps") or min(params["attack_eps"])
    if robust not in params["attack_eps"]:
        raise ValueError(f"the robustness ε {robust:g} is not in the attacked grid {params['attack_eps']}")
    return sorted({params["example_eps"], robust})


def apgd_robust(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, loss: str, steps: int,
                seed: int, device: torch.device, batch_size: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """(clean correct, robust under APGD with `loss`), bool [N] each, over uint8 images [N, C, H, W]."""
    clean, robust = [], []
    for x, y in batches(images, labels, batch_size):
        result = apgd(model, x.to(device), y.to(device), eps, loss=loss, steps=steps, seed=seed)
        clean.append((result.clean_logits.argmax(1) == y.to(device)).cpu())
        robust.append((result.first_success < 0).cpu())
    return torch.cat(clean), torch.cat(robust)


def outcome(model: nn.Module, key: str, label: str, images: torch.Tensor, labels: torch.Tensor, eps: float,
            pgd_robust: torch.Tensor, steps: int, seed: int, device: torch.device) -> Outcome:
    """APGD-CE and APGD-DLR on `model` at `eps`, beside the per-image PGD result `pgd_robust` bool [N]."""
    started = time.perf_counter()
    clean, ce = apgd_robust(model, images, labels, eps, "ce", steps, seed, device)
    _, dlr = apgd_robust(model, images, labels, eps, "dlr", steps, seed, device)
    pgd = pgd_robust.cpu() & clean
    robust = {"clean": clean, "pgd": pgd, "apgd_ce": ce & clean, "apgd_dlr": dlr & clean, "worst": pgd & ce & dlr}
    return Outcome(key, label, eps, robust, time.perf_counter() - started)


def _grid_pgd(grid, name: str, eps: float, params: dict[str, Any]) -> torch.Tensor:
    """B1's untargeted PGD run of `name` at `eps` (run again the same way when B1 did not run it):
    bool [N], the clean input and the last iterate both classified correctly."""
    run = grid.runs.get((name, "pgd", "untargeted", eps))
    if run is None:
        s = grid.setup
        run = run_attack(s.models[name], s.images, s.labels, build_attack("pgd", params), eps, seed=params["seed"],
                         device=s.device)
    labels = grid.setup.labels
    return (run.clean_logits.argmax(1) == labels) & (run.adv_logits.argmax(1) == labels)


def for_grid(grid, params: dict[str, Any]) -> StrongEvaluation:
    """B1: every model of `grid` (adversarial.Grid) at `strong_eps`, beside its PGD runs."""
    s, steps = grid.setup, params["apgd_steps"]
    result = StrongEvaluation(f"PGD-{params['pgd_steps']}", "robust where its last iterate is classified correctly, "
                              "as in the table above", steps, params["seed"])
    if steps <= 0:
        return result
    task = progress.task("B1 APGD", len(s.models) * len(strong_eps(params)), min_interval=0)
    for name, model in s.models.items():
        own = for_model(params, name)  # a model's own pgd_steps / apgd_steps (model_overrides), named in its label
        if own["apgd_steps"] <= 0:
            continue
        same = all(own[k] == params[k] for k in ("pgd_steps", "apgd_steps"))  # overrides of other keys change nothing here
        label = name if same else f"{name} (PGD-{own['pgd_steps']}, APGD {own['apgd_steps']} steps)"
        for eps in strong_eps(params):
            with full_precision(s.device):
                result.outcomes.append(outcome(model, name, label, s.images, s.labels, eps,
                                               _grid_pgd(grid, name, eps, own), own["apgd_steps"], params["seed"],
                                               s.device))
            task.step(f"{name} ε={eps:g}, {result.outcomes[-1].apgd_s:.0f} s")
    return result


def for_defense(name: str, variants: dict[str, nn.Module], images: torch.Tensor, labels: torch.Tensor,
                params: dict[str, Any], device: torch.device, evaluation=None) -> StrongEvaluation:
    """B3: each variant ('standard', 'robust') of `name` at `defense_eps`, beside B3's worst-case PGD
    (`defense_eval_steps` steps of ε / `pgd_step_divisor`, `defense_restarts` restarts, seeded as B3's),
    taken from B3's `evaluation` (`hardening.Evaluation`) where it attacked that ε, else run again."""
    eps, steps, seed = params["defense_eps"], params["apgd_steps"], params["seed"]
    pgd_steps, restarts = params["defense_eval_steps"], params["defense_restarts"]
    result = StrongEvaluation(f"PGD-{pgd_steps}" + (f", {restarts} restarts" if restarts > 1 else ""),
                              "robust where no iterate of any restart fools the model, as above", steps, seed)
    if steps <= 0:
        return result
    task = progress.task("B3 APGD", len(variants), min_interval=0)
    for variant, model in variants.items():
        with full_precision(device):
            done = evaluation is not None and any(r["variant"] == variant and r["eps"] == eps for r in evaluation.rows)
            pgd = decode(evaluation.outcome(variant, eps)) if done else worst_case_pgd(
                model, images, labels, eps, alpha=eps / params["pgd_step_divisor"], steps=pgd_steps,
                restarts=restarts, seed=seed, device=device)
            result.outcomes.append(outcome(model, f"{name}.{variant}", f"{name} {variant}", images, labels, eps, pgd,
                                           steps, seed, device))
        task.step(f"{name} {variant} ε={eps:g}, {result.outcomes[-1].apgd_s:.0f} s")
    return result


def titles(ev: StrongEvaluation) -> dict[str, str]:
    return {"pgd": ev.pgd_title, **{f"apgd_{k}": v for k, v in LOSSES.items()}, "worst": "worst case"}


def table(ev: StrongEvaluation) -> pd.DataFrame:
    """One row per (model, ε): clean accuracy, robust accuracy under PGD and under the worst case
    over the n images with Wilson intervals, under APGD-CE and APGD-DLR alone as values (the
    attacks are compared image by image, not by intervals); images PGD leaves and APGD fools;
    McNemar's p of PGD against the worst case."""
    titled = titles(ev)
    rows = [{"model": o.label, "ε": f"{o.eps:g}", "clean": f"{o.rate('clean'):.2f}",
             **{t: format_rate(o.rate(k), o.n) if k in ("pgd", "worst") else f"{o.rate(k):.2f}" for k, t in titled.items()},
             "only APGD": o.test["only_a"], "p": f"{o.test['p_value']:.2g}"}
            for o in ev.outcomes]
    columns = ["model", "ε", "clean", *titled.values(), "only APGD", "p"]
    return pd.DataFrame(rows, columns=columns)


def caption(ev: StrongEvaluation) -> str:
    n = ", ".join(dict.fromkeys(str(o.n) for o in ev.outcomes))
    return (f"Robust accuracy over the {n} validation images under {ev.pgd_title} ({ev.pgd_note}), under APGD-CE and "
            f"APGD-DLR ({ev.steps} steps, one seeded start; robust where no iterate fools the model), and the worst "
            "case (correct under all three); 95 % Wilson intervals for PGD and the worst case. 'only APGD': the images "
            "PGD leaves and APGD fools; p: McNemar's exact test of PGD against the worst case on the same images. APGD took "
            + ", ".join(f"{o.apgd_s:.1f} s for {o.label} at ε = {o.eps:g}" for o in ev.outcomes) + ".")


def _lowered(o: Outcome) -> str:
    k, before, after = o.test["only_a"], format_rate(o.rate("pgd"), o.n), format_rate(o.rate("worst"), o.n)
    return (f"for {o.label} at ε = {o.eps:g} from {before} to {after} on the same {o.n} images ({k} "
            f"image{'s' * (k != 1)} fooled only by APGD; McNemar p = {o.test['p_value']:.2g})")


def paragraph(ev: StrongEvaluation, alpha: float = ALPHA) -> str:
    """The reading: PGD's robust accuracy is an upper bound, and how far APGD lowers it (a reduction
    is resolved where McNemar's p < `alpha`)."""
    if not ev.outcomes:
        return "The stronger evaluation was skipped (`apgd_steps: 0`)."
    apgd_t = f"APGD-CE and APGD-DLR ({ev.steps} steps; Croce & Hein 2020)"
    text = f"Robust accuracy under {ev.pgd_title} is an upper bound: a stronger attack can only lower it. "
    lowered = [o for o in ev.outcomes if o.test["only_a"]]
    kept = [o for o in ev.outcomes if not o.test["only_a"]]
    if lowered:
        text += f"{apgd_t} reduce it " + "; ".join(_lowered(o) for o in lowered) + ". "
    if kept:
        text += ("They" if lowered else apgd_t) + " fool no image that PGD leaves " + "; ".join(
            f"for {o.label} at ε = {o.eps:g}, which keeps {format_rate(o.rate('pgd'), o.n)} on the same {o.n} images"
            for o in kept) + ". "
    if not lowered:
        return text + "PGD's figures stand against this stronger evaluation."
    resolved = sum(o.test["p_value"] < alpha for o in lowered)
    return text + (f"The reduction is resolved at the {alpha:g} level in {resolved} of the {len(lowered)} case"
                   f"{'s' * (len(lowered) != 1)} where APGD lowers it.")


def metrics_part(ev: StrongEvaluation) -> dict[str, Any]:
    """summary.strong_attacks.<key>.<eps key>: n, clean_acc, {pgd, apgd_ce, apgd_dlr, worst}.robust_acc,
    apgd_only, mcnemar_p, apgd_s; their denominators; the table's rows and the settings."""
    tree: dict[str, Any] = {}
    for o in ev.outcomes:
        node = tree
        for part in o.key.split("."):
            node = node.setdefault(part, {})
        node[eps_key(o.eps)] = {"n": o.n, "clean_acc": o.rate("clean"),
                                **{k: {"robust_acc": o.rate(k)} for k in ATTACKS},
                                "apgd_only": o.test["only_a"], "mcnemar_p": o.test["p_value"], "apgd_s": o.apgd_s}
    settings = {"pgd": ev.pgd_title, "apgd_steps": ev.steps, "apgd_restarts": 1, "seed": ev.seed, "precision": "fp32"}
    return {"summary": {"strong_attacks": tree} if tree else {},
            "denominators": {f"strong_attacks.{o.key}.{eps_key(o.eps)}.*": o.n for o in ev.outcomes},
            "strong_attacks": {"settings": settings, "rows": table(ev).to_dict("records")}}


def merged(metrics: dict[str, Any], ev: StrongEvaluation) -> dict[str, Any]:
    """A stage's metrics with `metrics_part(ev)` added (summary and denominators merged)."""
    part = metrics_part(ev)
    return {**metrics, "summary": {**metrics.get("summary", {}), **part["summary"]},
            "denominators": {**metrics.get("denominators", {}), **part["denominators"]},
            "strong_attacks": part["strong_attacks"]}
