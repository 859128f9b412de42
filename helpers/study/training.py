"""A2, training and evaluation: the recipe, the models, training (or reusing) each of them,
accuracy per split, per-class scores, confusion matrices, the most confident mistakes, latency,
and the comparison of the models."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..core import progress
from ..evaluation.latency import latency_ms
from ..evaluation.metrics import classification_metrics, misclassified, reading_of_error
from ..evaluation.predict import predict
from ..models.registry import count_parameters, get_spec
from ..report import figures
from ..training.cached import Trained, train_or_load
from ..training.config import TrainConfig

SPLIT_TITLES = {"train": "training", "valid": "validation", "test": "test"}
MISTAKE_PX = 128  # misclassified images are shown from the stored file at this size, for legibility
Scores = dict[str, dict[str, dict[str, Any]]]  # {model: {split: classification_metrics(...)}}


def arch_args(name: str, data) -> dict[str, Any]:
    """Constructor arguments of registered model `name` for this data; raises ParameterError when
    the model cannot take the data's image size or channel count."""
    spec = get_spec(name)
    spec.check_input(data.image_size, data.channels)
    return spec.arch_args(len(data.classes), data.mean, data.std)


def recipe(params: dict[str, Any], data, device: torch.device) -> dict[str, Any]:
    """Every setting of this run's training: image size, the TrainConfig fields, per-model epoch
    budgets, threads, device and split sizes (the 'recipe' entry of the metrics)."""
    return {"image size (px)": data.image_size, **TrainConfig.from_params(params).as_dict(),
            **{f"epochs ({m})": e for m, e in params["epochs_by_model"].items()},
            "threads": torch.get_num_threads(), "device": str(device),
            "training images": len(data.train), "validation images": len(data.valid)}


def recipe_table(settings: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({"setting": list(settings), "value": [str(v) for v in settings.values()]})


def model_table(names: list[str], data) -> pd.DataFrame:
    """One row per model: name, parameter count, the first paragraph of its docstring."""
    rows = []
    for name in names:
        model = get_spec(name).build(**arch_args(name, data))
        rows.append({"model": name, "parameters": count_parameters(model), "description": get_spec(name).description})
    return pd.DataFrame(rows)


def validation_note(data) -> str:
    """What one validation image is worth, in accuracy points."""
    return (f"With {len(data.valid)} validation images one image is {100 / len(data.valid):.2g} points of "
            "validation accuracy.")


def train_all(names: list[str], data, params: dict[str, Any], layout, device: torch.device) -> dict[str, Trained]:
    """Train every model (or reuse its checkpoint at `layout.trained(name)` when recipe, data,
    model and code are unchanged); `epochs_by_model` overrides `epochs` per model."""
    base = TrainConfig.from_params(params)
    task = progress.task("training the models", len(names), min_interval=0)
    trained = {}
    for name in names:
        cfg = TrainConfig.from_params(params, epochs=params["epochs_by_model"].get(name, base.epochs))
        trained[name] = train_or_load(name, arch_args(name, data), data, cfg, path=layout.trained(name),
                                      device=device, log_dir=layout.tensorboard(name), image_size=data.image_size)
        task.step(f"{name} {'reused' if trained[name].reused else 'trained'}")
    return trained


def models_of(trained: dict[str, Trained]) -> dict[str, nn.Module]:
    """The trained models by name, on the device they were trained on."""
    return {n: t.model for n, t in trained.items()}


def curves_figure(trained: dict[str, Trained]):
    return figures.training_curves({n: t.result["history"] for n, t in trained.items()})


def training_table(trained: dict[str, Trained], data) -> pd.DataFrame:
    """One row per training run: epochs, kept epoch, early stop, seconds, images per second, and
    whether the checkpoint was reused (and when it was made)."""
    return pd.DataFrame([{"model": n, "epochs run": len(t.result["history"]), "best epoch": t.result["best_epoch"],
                          "stopped early": t.result["stopped_early"], "s / epoch": t.result["epoch_s"],
                          "training s": t.result["total_train_s"], "img / s": len(data.train) / t.result["epoch_s"],
                          "reused": t.reused, "made at": t.created_at} for n, t in trained.items()])


def describe_training(trained: dict[str, Trained]) -> str:
    """Which models were trained now and which reused a checkpoint of an earlier run."""
    reused = [n for n, t in trained.items() if t.reused]
    if not reused:
        return "Every model was trained in this run."
    return "\n".join(f"- **{n}** reused the checkpoint made at {trained[n].created_at} (same recipe, data, model "
                     "and training code): its seconds above are those of that run, not of this one." for n in reused)


def predictions(models: dict[str, nn.Module], data, device: torch.device) -> dict[str, dict[str, torch.Tensor]]:
    """Logits float32 [N, classes] of every model on every split: {model: {split: logits}}."""
    return {n: {s: predict(m, split.images, device) for s, split in data.splits().items()} for n, m in models.items()}


def scores(logits: dict[str, dict[str, torch.Tensor]], data) -> Scores:
    """classification_metrics of every model on every split: {model: {split: metrics}}."""
    splits = data.splits()
    return {n: {s: classification_metrics(splits[s].labels, lg, data.classes) for s, lg in per_split.items()}
            for n, per_split in logits.items()}


def accuracy_table(model_scores: Scores) -> pd.DataFrame:
    return pd.DataFrame([{"model": n, **{f"{s} accuracy": v["accuracy"] for s, v in per_split.items()},
                          "validation macro-F1": per_split["valid"]["macro_f1"]}
                         for n, per_split in model_scores.items()])


def per_class_tables(model_scores: Scores, classes: list[str]) -> list[tuple[str, pd.DataFrame]]:
    """(caption, table of precision, recall, F1, support per class on the validation split) per model."""
    return [(f"{n}: per-class precision, recall and F1 on the validation split",
             pd.DataFrame([{"class": c, **per_split["valid"]["per_class"][c]} for c in classes]))
            for n, per_split in model_scores.items()]


def confusion_figure(model_scores: Scores, classes: list[str], split: str):
    """The confusion matrices of every model on `split`, side by side."""
    return figures.confusion_matrices({f"{n} ({SPLIT_TITLES[split]})": per_split[split]["confusion"]
                                       for n, per_split in model_scores.items()}, classes)


@dataclass
class Mistakes:
    """A model's most confident mistakes on one split (validation, or training when validation has none)."""
    model: str
    split: str | None          # None: no mistake on validation or training
    errors: list[dict[str, Any]]
    reading: str               # markdown: a numbered reading of each mistake, or why there is none


def mistakes(name: str, logits: dict[str, torch.Tensor], per_split: dict[str, dict[str, Any]], data,
             k: int) -> Mistakes:
    """Up to k most confident mistakes of model `name` on the validation split; a perfect
    validation score falls back to training mistakes. logits/per_split: that model's by split."""
    splits = data.splits()
    for split, other in (("valid", "train"), ("train", None)):
        errors = misclassified(splits[split].labels, logits[split], k)
        if errors:
            confusion = per_split[split]["confusion"]
            other_confusion = per_split[other]["confusion"] if other else None
            reading = "\n".join(f"{i + 1}. `{splits[split].files[e['index']]}` — "
                                + reading_of_error(e, data.classes, confusion, other_confusion)
                                for i, e in enumerate(errors))
            return Mistakes(name, split, errors, reading)
    return Mistakes(name, None, [], f"**{name}** makes no mistake on the validation or training split.")


def mistakes_figure(found: Mistakes, data):
    """The mistakes from the stored originals at MISTAKE_PX, each with its true class and top-3."""
    image_set = data.splits()[found.split]
    images = [data.source.original(image_set, e["index"], MISTAKE_PX) for e in found.errors]
    texts = [f"true: {data.classes[e['true']]}\n" + "\n".join(f"{data.classes[c]}: {p:.2f}" for c, p in e["top3"])
             for e in found.errors]
    return figures.image_grid(images, texts, ncols=min(len(images), 6), size=1.9, text_lines=4)


def show_mistakes(stage, logits: dict[str, dict[str, torch.Tensor]], model_scores: Scores, data, k: int) -> None:
    """Show each model's figure `misclassified_<model>` and the reading of its mistakes."""
    found = [mistakes(n, logits[n], model_scores[n], data, k) for n in logits]
    for m in found:
        if m.errors:
            stage.show_figure(mistakes_figure(m, data), f"misclassified_{m.model}",
                              f"{m.model}: the {len(m.errors)} most confident mistakes on the {m.split} split "
                              f"(shown at {MISTAKE_PX} px; the model saw {data.image_size} px).")
        stage.say(m.reading)


def latencies(models: dict[str, nn.Module], data, device: torch.device, runs: int,
              warmup: int) -> dict[str, tuple[float, float]]:
    """(mean, std) in ms of one batch-1 forward pass of each model, timed one model after another."""
    shape = (1, data.channels, data.image_size, data.image_size)
    task = progress.task("latency", len(models), min_interval=0)
    out = {}
    for n, m in models.items():
        out[n] = latency_ms(m, shape, device, runs=runs, warmup=warmup)
        task.step(n)
    return out


def summary(trained: dict[str, Trained], model_scores: Scores, latency: dict[str, tuple[float, float]],
            data) -> dict[str, dict[str, Any]]:
    """Per model the headline numbers (the A2.<model>.* keys of summary.json): accuracies, size,
    training time (of the run that made the checkpoint) and latency, plus reused and created_at."""
    out = {}
    for n, t in trained.items():
        per_split, r = model_scores[n], t.result
        out[n] = {"val_acc": per_split["valid"]["accuracy"], "train_acc": per_split["train"]["accuracy"],
                  **({"test_acc": per_split["test"]["accuracy"]} if "test" in per_split else {}),
                  "params": count_parameters(t.model), "size_mb": t.path.stat().st_size / 1e6,
                  "epoch_s": r["epoch_s"], "total_train_s": r["total_train_s"],
                  "train_img_s": len(data.train) / r["epoch_s"], "epochs_run": len(r["history"]),
                  "best_epoch": r["best_epoch"], "latency_b1_ms": latency[n][0], "latency_b1_std_ms": latency[n][1],
                  "reused": t.reused, "created_at": t.created_at}
    return out


def comparison_table(headline: dict[str, dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{"model": n, "train acc": s["train_acc"], "val acc": s["val_acc"],
                          **({"test acc": s["test_acc"]} if "test_acc" in s else {}),
                          "parameters": f"{s['params']:,}", "size (MB)": s["size_mb"], "s / epoch": s["epoch_s"],
                          "training s": s["total_train_s"],
                          "latency b1 (ms)": f"{s['latency_b1_ms']:.2f} ± {s['latency_b1_std_ms']:.2f}"}
                         for n, s in headline.items()])


def comparison_text(headline: dict[str, dict[str, Any]], reference_val_acc: dict[str, float], n_valid: int) -> str:
    """One line per model, most accurate first (gap to training, speed, the course report's
    accuracy when `reference_val_acc` has one), then the most against the least accurate model."""
    ranked = sorted(headline, key=lambda n: headline[n]["val_acc"], reverse=True)
    lines = []
    for n in ranked:
        s = headline[n]
        line = (f"- **{n}**: {s['val_acc']:.1%} validation accuracy ({s['train_acc']:.1%} on training, a gap of "
                f"{100 * (s['train_acc'] - s['val_acc']):.1f} points), {s['epoch_s']:.2f} s per epoch "
                f"({s['train_img_s']:.0f} img/s), {s['latency_b1_ms']:.2f} ms per image")
        if n in reference_val_acc:
            line += (f"; the course report had {reference_val_acc[n]:.0%}, this run is "
                     f"{100 * (s['val_acc'] - reference_val_acc[n]):+.0f} points from it")
        lines.append(line + ".")
    text = "\n".join(lines)
    if len(ranked) > 1:
        a, b = headline[ranked[0]], headline[ranked[-1]]
        gap = a["val_acc"] - b["val_acc"]
        text += (f"\n\n{ranked[0]} is the more accurate by {100 * gap:.0f} points ({round(gap * n_valid)} of "
                 f"{n_valid} validation images) at {a['params'] / b['params']:.2g}x the parameters and "
                 f"{a['latency_b1_ms'] / b['latency_b1_ms']:.2g}x the latency of {ranked[-1]}.")
    return text


def metrics(headline: dict[str, dict[str, Any]], model_scores: Scores, data, trained: dict[str, Trained],
            settings: dict[str, Any]) -> dict[str, Any]:
    """A2's metrics file: summary (per model), scores (per model and split), classes, the fit
    result of each training run, and the recipe."""
    return {"summary": headline, "scores": model_scores, "classes": data.classes,
            "training": {n: t.result for n, t in trained.items()}, "recipe": settings}
