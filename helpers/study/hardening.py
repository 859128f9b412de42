"""B3, a defense: adversarial fine-tuning (FGSM-RS) of the more accurate model, its history (and
whether it collapsed), clean against robust accuracy under worst-case PGD, and what the robust
model's saliency looks like next to the standard one's.

Images are uint8 [N, C, H, W] as stored; accuracies are fractions of the validation split.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..core import progress
from ..defense.fgsm_rs import DefenseConfig, adversarial_finetune_or_load
from ..evaluation.intervals import format_rate, wilson_of_rate
from ..evaluation.paired import as_summary, best_resolved, compare, encode, evidence
from ..evaluation.predict import predict
from ..report import figures
from ..report.wording import joined
from ..robustness import eps_key, worst_case_pgd
from ..training.cached import Trained
from ..training.config import TrainConfig
from .hardening_maps import MapComparison

CI = "95 % Wilson interval in brackets"
# Settings rows name the training recipe in words, not by its parameter names.
READABLE = {"lr": "peak learning rate", "amp": "training precision (autocast)", "rotation_deg": "rotation (degrees)",
            "scale": "random zoom (1 ± scale)", "translate": "random shift (fraction of the size)"}


def choose_model(models: list[str], a2: dict[str, Any], defense_model: str, alpha: float) -> str:
    """`defense_model`, or the model to harden chosen on resolved differences of A2's selection accuracy
    (`paired.best_resolved`: the most accurate and every model McNemar's test does not resolve below it
    are tied; the smaller, then the faster to train, wins); the validation split plays no part."""
    summary = a2["summary"]
    if defense_model:
        if defense_model not in summary:
            raise ValueError(f"parameter 'defense_model' is {defense_model!r}, which A2 did not train; trained: "
                             f"{sorted(m for m in summary if m in a2['scores'])}")
        return defense_model
    outcomes = {m: a2["scores"][m]["selection"]["correct"] for m in models}
    return best_resolved(outcomes, alpha, lambda m: (summary[m]["params"], summary[m]["epoch_s"]))[0]


def candidates(models: list[str], defense_among: list[str]) -> list[str]:
    """The models the rule chooses among: `defense_among` (each one of `models`), or all of `models`."""
    unknown = [m for m in defense_among if m not in models]
    if unknown:
        raise ValueError(f"parameter 'defense_among' names {unknown}, which are not among the study's models {models}")
    return list(defense_among) or list(models)


def choice_sentence(name: str, a2: dict[str, Any], defense_model: str, alpha: float,
                    among: list[str] | None = None, models: list[str] = ()) -> str:
    """Which model is hardened and why: the selection accuracies of the candidates `among` (all
    of A2's models when None; those of `models` not among them named), the paired test, the tie-break."""
    if defense_model:
        return f"The model hardened is **{name}**, as configured."
    summary, scores = a2["summary"], a2["scores"]
    among = list(among or scores)
    outcomes = {m: scores[m]["selection"]["correct"] for m in among}
    _, tied, tests = best_resolved(outcomes, alpha, lambda m: (summary[m]["params"], summary[m]["epoch_s"]))
    n = scores[name]["selection"]["n"]
    accs = ", ".join(f"{m} {format_rate(summary[m]['select_acc'], n)}" for m in among)
    left = [m for m in models if m not in among]
    accs += f"; {joined(left)} not among the candidates the parameter file names" if left else ""
    if len(tied) == 1:
        return (f"The model hardened is **{name}**, resolved the more accurate on the selection split in A2 ({accs}; "
                + "; ".join(f"against {m}: {evidence(t)}" for m, t in tests.items()) + ").")
    return (f"Which model to harden? On the selection split of A2 ({accs}), McNemar's test does not separate "
            f"{joined(tied)} (" + "; ".join(f"{m} minus {tied[0]}: {evidence(t)}" for m, t in tests.items())
            + "), so the tie-break decides: the smaller model, then the faster to train. The model hardened is "
            f"**{name}**.")


def configs(params: dict[str, Any]) -> tuple[TrainConfig, DefenseConfig]:
    """The study's training recipe as a fine-tuning of defense_epochs at defense_lr (one warm-up
    epoch, no early stopping), and the FGSM-RS budget defense_eps."""
    cfg = TrainConfig.from_params(params).finetuning(epochs=params["defense_epochs"], lr=params["defense_lr"],
                                                     warmup_epochs=1)
    return cfg, DefenseConfig(eps=params["defense_eps"], select_significance=params["alpha"])


def finetune(stage, name: str, data, cfg: TrainConfig, dcfg: DefenseConfig) -> Trained:
    """Fine-tune A2's `name` with FGSM-RS, or reuse the hardened checkpoint made the same way."""
    return adversarial_finetune_or_load(stage.layout.trained(name), data, cfg, dcfg,
                                        out_path=stage.layout.hardened(name), device=stage.device)


def settings_table(base_name: str, cfg: TrainConfig, dcfg: DefenseConfig, params: dict[str, Any],
                   device: torch.device) -> pd.DataFrame:
    """Every setting of the defense and of its evaluation, one (setting, value) row each."""
    settings = {"base model": base_name, "method": "FGSM-RS adversarial fine-tuning (Wong et al. 2020)",
                "training ε": dcfg.eps, "FGSM-RS step α": f"{dcfg.alpha_ratio:g} ε = {dcfg.alpha_ratio * dcfg.eps:.4g}",
                "epoch selection": (f"untargeted PGD-{dcfg.select_steps} robust accuracy on the selection split "
                                    f"(α = ε/4): the earliest epoch not resolved below the best (McNemar, p < "
                                    f"{dcfg.select_significance:g})"),
                **{READABLE.get(k, k.replace("_", " ")): v for k, v in asdict(cfg).items() if k != "patience"},
                "evaluation": (f"untargeted PGD-{params['defense_eval_steps']}, α = ε/{params['pgd_step_divisor']:g}, "
                               f"{params['defense_restarts']} random restarts, worst case over iterates and restarts"),
                "device": str(device), "threads": torch.get_num_threads()}
    return pd.DataFrame({"setting": list(settings), "value": [str(v) for v in settings.values()]})


def history_figure(trained: Trained, dcfg: DefenseConfig, n_train: int | None = None, n_select: int | None = None):
    series = {"train_acc": "training accuracy (on FGSM-RS inputs)", "select_acc": "selection accuracy (clean)",
              "select_score": f"selection accuracy under PGD-{dcfg.select_steps}, ε = {dcfg.eps:g}"}
    return figures.history_lines(trained.result["history"], series, "accuracy", mark_epoch=trained.result["best_epoch"],
                                 n={"train_acc": n_train, "select_acc": n_select, "select_score": n_select})


def collapsed_epochs(history: list[dict[str, Any]], collapse_fraction: float) -> list[int]:
    """Epochs after the peak whose robust selection accuracy fell below `collapse_fraction` of it."""
    scores = [h["select_score"] for h in history]
    peak = max(scores)
    return [h["epoch"] for h in history
            if h["epoch"] > scores.index(peak) + 1 and h["select_score"] < collapse_fraction * peak]


def _share(fraction: float) -> str:
    return "half" if fraction == 0.5 else f"{fraction:.0%}"


def finetuning_sentence(trained: Trained, collapse_fraction: float, n_select: int | None = None) -> str:
    """How long fine-tuning took (or when the reused checkpoint was made), the peak of robust
    accuracy on the selection split (with its interval over the `n_select` images when given), and
    whether it collapsed afterwards (catastrophic overfitting)."""
    result, hist = trained.result, trained.result["history"]
    scores = [h["select_score"] for h in hist]
    timing = f"{result['total_train_s']:.0f} s for {len(hist)} epochs ({result['epoch_s']:.1f} s per epoch)"
    text = (f"The fine-tuned checkpoint was reused: it was made at {trained.created_at}, when fine-tuning took {timing}. "
            if trained.reused else f"Fine-tuning took {timing}. ")
    text += kept_epoch_sentence(hist, result["best_epoch"], n_select)
    collapsed = collapsed_epochs(hist, collapse_fraction)
    if collapsed:
        return text + (f"It then fell below {_share(collapse_fraction)} of that in epoch {collapsed[0]}, while training "
                       f"accuracy on FGSM-RS inputs was {hist[collapsed[0] - 1]['train_acc']:.0%}: catastrophic "
                       "overfitting, which the selection by PGD avoided.")
    last = format_rate(scores[-1], n_select) if n_select else f"{scores[-1]:.0%}"
    return text + (f"It never fell below {_share(collapse_fraction)} of its peak afterwards (last epoch: {last}): "
                   "no sign of catastrophic overfitting.")


def kept_epoch_sentence(hist: list[dict[str, Any]], kept: int, n_select: int | None) -> str:
    """The kept epoch and why: the best-scoring epoch, and the paired test of the kept one against it."""
    rate = (lambda v: format_rate(v, n_select)) if n_select else (lambda v: f"{v:.0%}")  # noqa: E731
    best = max(hist, key=lambda r: (r["select_score"], -r["epoch"]))
    row = next(r for r in hist if r["epoch"] == kept)
    text = f"PGD robust accuracy on the selection split peaked at {rate(best['select_score'])} in epoch {best['epoch']}"
    if kept == best["epoch"] or "select_outcome" not in row:
        return text + f"; epoch {kept} is kept" + (", the earliest epoch" if kept == 1 else "") + ". "
    test = compare(row["select_outcome"], best["select_outcome"])
    return text + (f". Epoch {kept} ({rate(row['select_score'])}) is kept: the earliest epoch McNemar's test does not "
                   f"resolve below the peak ({evidence(test)}), so the rule takes the least fine-tuning among epochs "
                   "it cannot tell apart. ")


@dataclass
class Evaluation:
    """Accuracy of both variants: rows {model, variant, eps (0 = clean), accuracy[, robust 'k/n']}."""
    name: str
    rows: list[dict[str, Any]]
    seconds: float
    n_images: int
    attack: str  # e.g. 'PGD-50, 2 restarts'

    def outcome(self, variant: str, eps: float) -> str:
        """Per-image outcome of `variant` at `eps` (0: clean correctness), a `paired.encode` string."""
        return next(r["outcome"] for r in self.rows if r["variant"] == variant and r["eps"] == eps)

    @property
    def accuracy(self) -> dict[str, dict[float, float]]:
        """accuracy[variant][ε], ε = 0.0 being clean accuracy."""
        out: dict[str, dict[float, float]] = {}
        for r in self.rows:
            out.setdefault(r["variant"], {})[r["eps"]] = r["accuracy"]
        return out


def evaluate(name: str, variants: dict[str, nn.Module], images: torch.Tensor, labels: torch.Tensor,
             params: dict[str, Any], device: torch.device) -> Evaluation:
    """Clean accuracy and worst-case PGD robust accuracy (defense_eval_steps steps of ε /
    pgd_step_divisor, defense_restarts restarts) at every ε of attack_eps, per variant."""
    eps_grid, steps, restarts = params["attack_eps"], params["defense_eval_steps"], params["defense_restarts"]
    task = progress.task("B3 evaluation", len(variants) * len(eps_grid))
    rows, started = [], time.perf_counter()
    for label, model in variants.items():
        clean = predict(model, images, device).argmax(1) == labels
        rows.append({"model": f"{name} {label}", "variant": label, "eps": 0.0, "accuracy": float(clean.float().mean()),
                     "outcome": encode(clean)})
        for eps in eps_grid:
            ok = worst_case_pgd(model, images, labels, eps, alpha=eps / params["pgd_step_divisor"], steps=steps,
                                restarts=restarts, seed=params["seed"], device=device)
            rows.append({"model": f"{name} {label}", "variant": label, "eps": eps, "accuracy": int(ok.sum()) / len(labels),
                         "robust": f"{int(ok.sum())}/{len(labels)}", "outcome": encode(ok)})
            task.step(f"{label} ε={eps:g}")
    return Evaluation(name, rows, time.perf_counter() - started, len(labels),
                      f"PGD-{steps} with {restarts} random start{'s' if restarts != 1 else ''}")


def accuracy_table(evaluation: Evaluation) -> pd.DataFrame:
    """One row per variant: clean accuracy and robust accuracy at each ε, each with its Wilson
    interval over the evaluation's images."""
    wide = pd.DataFrame(evaluation.rows).pivot_table(index="variant", columns="eps", values="accuracy", sort=False)
    wide.columns = ["clean"] + [f"ε {e:g}" for e in wide.columns[1:]]
    return wide.map(lambda v: format_rate(v, evaluation.n_images)).reset_index()


def accuracy_figure(evaluation: Evaluation):
    """Accuracy against ε (0: clean) of both variants, with Wilson intervals."""
    table = pd.DataFrame(evaluation.rows).assign(attack=evaluation.attack)
    bounds = [wilson_of_rate(a, evaluation.n_images) for a in table.accuracy]
    table = table.assign(low=[b[0] for b in bounds], high=[b[1] for b in bounds])
    return figures.curves(table, "accuracy", "attack", "variant", None, "accuracy (ε = 0: clean)", low="low", high="high")


def evaluation_lines(evaluation: Evaluation, attack_eps: list[float], defense_eps: float, alpha: float) -> str:
    """What the defense costs in clean accuracy and buys in robust accuracy at each ε, each compared
    image by image (McNemar's exact test, paired bootstrap interval of the difference): a cost or a
    gain is stated only where the test resolves it at `alpha`."""
    acc, n = evaluation.accuracy, evaluation.n_images
    standard, robust = acc["standard"], acc["robust"]

    def test(eps: float) -> dict[str, Any]:
        return compare(evaluation.outcome("robust", eps), evaluation.outcome("standard", eps), alpha=alpha)

    clean = test(0.0)
    lines = [f"- Clean accuracy over the {n} validation images: {format_rate(standard[0.0], n)} for the standard model, "
             f"{format_rate(robust[0.0], n)} after adversarial fine-tuning ({evidence(clean)}): "
             + {"b": "a resolved cost in clean accuracy.", "a": "a resolved gain in clean accuracy."}.get(
                 clean["better"], "the change in clean accuracy is not resolved.")]
    gains = {e: test(e) for e in attack_eps}
    resolved = [e for e, t in gains.items() if t["better"] == "a"]
    lines.append(f"- Robust accuracy under {evaluation.attack} (an upper bound) "
                 "goes " + "; ".join(f"from {standard[e]:.2f} to {robust[e]:.2f} at ε = {e:g}" for e in attack_eps)
                 + " ([Table](#tab:B3_accuracy)). The gain is resolved at "
                 + (", ".join(f"ε = {e:g} ({evidence(gains[e])})" for e in resolved) if resolved else "no ε")
                 + (f" and not resolved at {', '.join(f'ε = {e:g}' for e in attack_eps if e not in resolved)}"
                    if len(resolved) < len(attack_eps) else "") + f"; the defense was trained at ε = {defense_eps:g}.")
    lines.append(f"The evaluation took {evaluation.seconds:.0f} s.")
    return "\n".join(lines)


def metrics(trained: Trained, evaluation: Evaluation, settings: pd.DataFrame, comparison: MapComparison,
            attack_eps: list[float], alpha: float) -> dict[str, Any]:
    """B3's metrics under the summary prefix 'B1.defense': the hardened model's clean and PGD robust
    accuracy, fine-tuning seconds and kept epoch, the standard model's accuracies, eval seconds;
    whether the checkpoint was reused and when it was made; history, settings, rows, map statistics
    and the denominators (every accuracy is over the evaluation's images)."""
    acc, name = evaluation.accuracy, evaluation.name
    standard, robust = acc["standard"], acc["robust"]
    summary = {name: {"clean_acc": robust[0.0], "pgd_robust_acc": {eps_key(e): robust[e] for e in attack_eps},
                      "finetune_s": trained.result["total_train_s"], "best_epoch": trained.result["best_epoch"],
                      # the hardened model against the standard one, image by image (clean, then each ε)
                      "paired": {"clean" if e == 0.0 else eps_key(e): as_summary(compare(
                          evaluation.outcome("robust", e), evaluation.outcome("standard", e), alpha=alpha))
                          for e in [0.0, *attack_eps]}},
               "standard": {name: {"clean_acc": standard[0.0],
                                   "pgd_robust_acc": {eps_key(e): standard[e] for e in attack_eps}}},
               "eval_s": evaluation.seconds}
    return {"summary_prefix": "B1.defense", "summary": summary, "reused": trained.reused,
            "created_at": trained.created_at, "history": trained.result["history"],
            "settings": dict(zip(settings["setting"], settings["value"])), "accuracy": evaluation.rows,
            "saliency": comparison.stats if comparison.panels else [],
            "denominators": {"*clean_acc": evaluation.n_images, "*pgd_robust_acc.*": evaluation.n_images},
            "per_image": {v: {eps_key(e): evaluation.outcome(v, e) for e in attack_eps} for v in ("standard", "robust")}}
