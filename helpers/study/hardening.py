"""B3, a defense: adversarial fine-tuning (FGSM-RS) of the more accurate model, its history (and
whether it collapsed), clean against robust accuracy under worst-case PGD, and what the robust
model's saliency looks like next to the standard one's.

Images are uint8 [N, C, H, W] as stored; accuracies are fractions of the validation split.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import nn

from .. import explain
from ..core import progress
from ..defense.fgsm_rs import DefenseConfig, adversarial_finetune_or_load
from ..evaluation.intervals import format_rate, overlap, wilson_of_rate
from ..evaluation.predict import predict
from ..explain.map_statistics import concentration, roughness
from ..report import figures
from ..robustness import eps_key, worst_case_pgd
from ..training.cached import Trained
from ..training.config import TrainConfig

TOP_SHARE = 0.1  # saliency concentration: the share of the map's mass in its top 10 % of pixels
CI = "95 % Wilson interval in brackets"
# Settings rows name the training recipe in words, not by its parameter names.
READABLE = {"lr": "peak learning rate", "amp": "training precision (autocast)", "rotation_deg": "rotation (degrees)",
            "scale": "random zoom (1 ± scale)", "translate": "random shift (fraction of the size)"}


def choose_model(models: list[str], a2_summary: dict[str, Any], defense_model: str) -> str:
    """`defense_model`, or the model of `models` with the highest accuracy on the selection split in
    A2 (the earlier of `models` breaking a tie); the validation split plays no part in the choice."""
    name = defense_model or max(models, key=lambda n: a2_summary[n]["select_acc"])
    if name not in a2_summary:
        raise ValueError(f"parameter 'defense_model' is {name!r}, which A2 did not train; trained: {sorted(a2_summary)}")
    return name


def choice_sentence(name: str, a2_summary: dict[str, Any], defense_model: str, n_select: int | None = None) -> str:
    """Which model is hardened and why; with `n_select` (the selection images A2's selection
    accuracies are over), the accuracies carry intervals and an overlap with another model's is said."""
    if defense_model:
        return f"The model hardened is **{name}**, as configured."
    acc = a2_summary[name]["select_acc"]
    if not n_select:
        return f"The model hardened is **{name}**, the more accurate in A2 ({acc:.0%} accuracy on the selection split)."
    others = [m for m in a2_summary if m != name and isinstance(a2_summary[m], dict) and "select_acc" in a2_summary[m]]
    tied = [m for m in others
            if overlap(wilson_of_rate(acc, n_select), wilson_of_rate(a2_summary[m]["select_acc"], n_select))]
    return (f"The model hardened is **{name}**, the one with the higher accuracy on the selection split in A2 "
            f"({format_rate(acc, n_select)})" + (f"; its interval overlaps that of {', '.join(tied)} "
                                                 f"({', '.join(format_rate(a2_summary[m]['select_acc'], n_select) for m in tied)}), "
                                                 "so it is not shown to be the more accurate." if tied else "."))


def configs(params: dict[str, Any]) -> tuple[TrainConfig, DefenseConfig]:
    """The study's training recipe as a fine-tuning of defense_epochs at defense_lr (one warm-up
    epoch, no early stopping), and the FGSM-RS budget defense_eps."""
    cfg = TrainConfig.from_params(params).finetuning(epochs=params["defense_epochs"], lr=params["defense_lr"],
                                                     warmup_epochs=1)
    return cfg, DefenseConfig(eps=params["defense_eps"])


def finetune(stage, name: str, data, cfg: TrainConfig, dcfg: DefenseConfig) -> Trained:
    """Fine-tune A2's `name` with FGSM-RS, or reuse the hardened checkpoint made the same way."""
    return adversarial_finetune_or_load(stage.layout.trained(name), data, cfg, dcfg,
                                        out_path=stage.layout.hardened(name), device=stage.device)


def settings_table(base_name: str, cfg: TrainConfig, dcfg: DefenseConfig, params: dict[str, Any],
                   device: torch.device) -> pd.DataFrame:
    """Every setting of the defense and of its evaluation, one (setting, value) row each."""
    settings = {"base model": base_name, "method": "FGSM-RS adversarial fine-tuning (Wong et al. 2020)",
                "training ε": dcfg.eps, "FGSM-RS step α": f"{dcfg.alpha_ratio:g} ε = {dcfg.alpha_ratio * dcfg.eps:.4g}",
                "epoch selection": (f"highest untargeted PGD-{dcfg.select_steps} robust accuracy on the selection split "
                                    "(α = ε/4)"),
                **{READABLE.get(k, k.replace("_", " ")): v for k, v in asdict(cfg).items() if k != "patience"},
                "evaluation": (f"untargeted PGD-{params['defense_eval_steps']}, α = ε/{params['pgd_step_divisor']:g}, "
                               f"{params['defense_restarts']} random restarts, worst case over iterates and restarts"),
                "device": str(device), "threads": torch.get_num_threads()}
    return pd.DataFrame({"setting": list(settings), "value": [str(v) for v in settings.values()]})


def history_figure(trained: Trained, dcfg: DefenseConfig):
    series = {"train_acc": "training accuracy (on FGSM-RS inputs)", "select_acc": "selection accuracy (clean)",
              "select_score": f"selection accuracy under PGD-{dcfg.select_steps}, ε = {dcfg.eps:g}"}
    return figures.history_lines(trained.result["history"], series, "accuracy", mark_epoch=trained.result["best_epoch"])


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
    peak = format_rate(max(scores), n_select) if n_select else f"{max(scores):.0%}"
    text += (f"PGD robust accuracy on the selection split peaked at {peak} in epoch {result['best_epoch']}, "
             "the epoch kept. ")
    collapsed = collapsed_epochs(hist, collapse_fraction)
    if collapsed:
        return text + (f"It then fell below {_share(collapse_fraction)} of that in epoch {collapsed[0]}, while training "
                       f"accuracy on FGSM-RS inputs was {hist[collapsed[0] - 1]['train_acc']:.0%}: catastrophic "
                       "overfitting, which the selection by PGD avoided.")
    last = format_rate(scores[-1], n_select) if n_select else f"{scores[-1]:.0%}"
    return text + (f"It never fell below {_share(collapse_fraction)} of its peak afterwards (last epoch: {last}): "
                   "no sign of catastrophic overfitting.")


@dataclass
class Evaluation:
    """Accuracy of both variants: rows {model, variant, eps (0 = clean), accuracy[, robust 'k/n']}."""
    name: str
    rows: list[dict[str, Any]]
    seconds: float
    n_images: int
    attack: str  # e.g. 'PGD-50, 2 restarts'

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
        clean = int((predict(model, images, device).argmax(1) == labels).sum()) / len(labels)
        rows.append({"model": f"{name} {label}", "variant": label, "eps": 0.0, "accuracy": clean})
        for eps in eps_grid:
            ok = worst_case_pgd(model, images, labels, eps, alpha=eps / params["pgd_step_divisor"], steps=steps,
                                restarts=restarts, seed=params["seed"], device=device)
            rows.append({"model": f"{name} {label}", "variant": label, "eps": eps, "accuracy": int(ok.sum()) / len(labels),
                         "robust": f"{int(ok.sum())}/{len(labels)}"})
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


def evaluation_lines(evaluation: Evaluation, attack_eps: list[float], defense_eps: float, defense_min_gain: float) -> str:
    """What the defense costs in clean accuracy and buys in robust accuracy at each ε (with
    intervals); it "helps" at an ε where it gains at least `defense_min_gain` and the two
    intervals are apart."""
    acc, n = evaluation.accuracy, evaluation.n_images
    standard, robust = acc["standard"], acc["robust"]
    ci = lambda v: wilson_of_rate(v, n)  # noqa: E731
    rate = lambda v: format_rate(v, n)  # noqa: E731
    change = robust[0.0] - standard[0.0]
    lines = [f"- Clean accuracy over the {n} validation images goes from {rate(standard[0.0])} to {rate(robust[0.0])} "
             f"({100 * change:+.0f} points)" + (": the intervals overlap, so the cost in clean accuracy is not resolved."
                                               if overlap(ci(standard[0.0]), ci(robust[0.0])) else
                                               ": the price of robustness." if change < 0 else ".")]
    lines.append("- Robust accuracy under the evaluation attack goes " + "; ".join(
        f"from {rate(standard[e])} to {rate(robust[e])} at ε = {e:g}" for e in attack_eps)
        + f" ([Table](#tab:B3_accuracy)).")
    gain = [e for e in attack_eps if robust[e] - standard[e] >= defense_min_gain and not overlap(ci(robust[e]), ci(standard[e]))]
    lines.append(f"- Counting the defense as helpful where it raises robust accuracy by at least {100 * defense_min_gain:.0f} "
                 "points and the two intervals are apart, it helps at " + (", ".join(f"ε = {e:g}" for e in gain) if gain
                                                                          else "no ε")
                 + f"; it was trained at ε = {defense_eps:g}.")
    lines.append(f"The evaluation took {evaluation.seconds:.0f} s.")
    return "\n".join(lines)


@dataclass
class MapComparison:
    """Per shown class, one validation image (correct for both variants where possible): panels for
    `figures.explanation_rows`, saliency statistics per image and variant, and notes on classes
    without any validation image."""
    name: str
    panels: list[dict[str, Any]] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def notes_text(self) -> str:
        return "\n\n".join(self.notes)


def shown_classes(classes: list[str], explain_classes: list[str]) -> list[str]:
    """`explain_classes`, or the first three classes; ValueError naming unknown ones."""
    shown = explain_classes or classes[:3]
    unknown = [c for c in shown if c not in classes]
    if unknown:
        raise ValueError(f"parameter 'explain_classes' names unknown classes {unknown}; classes: {classes}")
    return shown


def compare_maps(name: str, variants: dict[str, nn.Module], valid, shown: list[str], device: torch.device) -> MapComparison:
    """Saliency and Grad-CAM of each variant for the true class of the same image per shown class.
    valid: `data.ImageSet` (images uint8 [N, C, H, W], labels, files)."""
    images, labels, out = valid.images, valid.labels, MapComparison(name)
    pred = {k: predict(m, images, device).argmax(1) for k, m in variants.items()}
    for c in shown:
        ci = valid.classes.index(c)
        both = ((labels == ci) & (pred["standard"] == ci) & (pred["robust"] == ci)).nonzero().flatten()
        idx = both if len(both) else (labels == ci).nonzero().flatten()
        if not len(idx):
            out.notes.append(f"The validation split has no image of {c}.")
            continue
        i = int(idx[0])
        x, t = images[i:i + 1].float().div(255).to(device), torch.tensor([ci], device=device)
        maps = []
        for label, m in variants.items():
            sal, cam = explain.saliency(m, x, t)[0].cpu(), explain.gradcam(m, x, t)[0].cpu()
            maps += [(f"{label}\nsaliency\nfor {c}", sal, "saliency"), (f"{label}\nGrad-CAM\nfor {c}", cam, "gradcam")]
            out.stats.append({"class": c, "model": label, "correct": bool(pred[label][i] == ci),
                              "saliency concentration": concentration(sal, TOP_SHARE), "saliency roughness": roughness(sal)})
        file = valid.files[i].removeprefix(f"{valid.split}/")
        out.panels.append({"image": x[0].cpu(), "title": f"{c}\n{file}" + ("" if len(both) else "\n(not correct\nfor both)"),
                           "maps": maps})
    return out


def maps_figure(comparison: MapComparison):
    """The explanation rows, or None when no class had an image."""
    return figures.explanation_rows(comparison.panels) if comparison.panels else None


def maps_table(comparison: MapComparison) -> pd.DataFrame:
    return pd.DataFrame(comparison.stats)


def maps_sentence(comparison: MapComparison) -> str:
    """Mean saliency roughness and concentration of both variants, and whether the robust one is smoother."""
    if not comparison.stats:
        return ""
    m = maps_table(comparison).groupby("model")[["saliency concentration", "saliency roughness"]].mean()
    smoother = m.loc["robust", "saliency roughness"] < m.loc["standard", "saliency roughness"]
    return (f"On average over the {len(comparison.panels)} images of [Figure](#fig:B3_maps), the robust model's saliency has roughness {m.loc['robust', 'saliency roughness']:.3f} against "
            f"{m.loc['standard', 'saliency roughness']:.3f} for the standard model, and puts "
            f"{m.loc['robust', 'saliency concentration']:.0%} of its mass in the top {TOP_SHARE:.0%} of pixels against "
            f"{m.loc['standard', 'saliency concentration']:.0%}: on these few images its gradients are "
            + ("smoother, as expected of an adversarially trained model." if smoother else
               "not smoother on these images, unlike what is usually reported for adversarially trained models."))


def metrics(trained: Trained, evaluation: Evaluation, settings: pd.DataFrame, comparison: MapComparison,
            attack_eps: list[float]) -> dict[str, Any]:
    """B3's metrics under the summary prefix 'B1.defense': the hardened model's clean and PGD robust
    accuracy, fine-tuning seconds and kept epoch, the standard model's accuracies, eval seconds;
    whether the checkpoint was reused and when it was made; history, settings, rows, map statistics
    and the denominators (every accuracy is over the evaluation's images)."""
    acc, name = evaluation.accuracy, evaluation.name
    standard, robust = acc["standard"], acc["robust"]
    summary = {name: {"clean_acc": robust[0.0], "pgd_robust_acc": {eps_key(e): robust[e] for e in attack_eps},
                      "finetune_s": trained.result["total_train_s"], "best_epoch": trained.result["best_epoch"]},
               "standard": {name: {"clean_acc": standard[0.0],
                                   "pgd_robust_acc": {eps_key(e): standard[e] for e in attack_eps}}},
               "eval_s": evaluation.seconds}
    return {"summary_prefix": "B1.defense", "summary": summary, "reused": trained.reused,
            "created_at": trained.created_at, "history": trained.result["history"],
            "settings": dict(zip(settings["setting"], settings["value"])), "accuracy": evaluation.rows,
            "saliency": comparison.stats if comparison.panels else [],
            "denominators": {"*clean_acc": evaluation.n_images, "*pgd_robust_acc.*": evaluation.n_images}}
