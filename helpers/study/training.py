"""A2, training and evaluation: the recipe, the models, training (or reusing) each of them,
accuracy per split with 95 % Wilson intervals, per-class scores, confusion matrices, the most
confident mistakes, and the comparison of the models, their batch-1 latencies timed side by side.
(The seed variance is `training_seeds`; C1 times each model again beside its compressed versions.)"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..config import notebook_cells
from ..core import progress
from ..evaluation.intervals import format_rate
from ..evaluation.metrics import classification_metrics, confusion_summary, misclassified, reading_of_error
from ..evaluation.predict import predict
from ..models.registry import count_parameters, count_trained_parameters, get_spec
from ..report import figures
from ..report.wording import counted, joined
from ..training.cached import Trained, train_or_load
from ..training.config import TrainConfig
from .model_setup import a2_models, batch1_latency, model_recipe, own_recipes, questions_text  # noqa: F401 (the notebook's names)

SPLIT_TITLES = {"train": "training", "selection": "selection", "valid": "validation", "test": "test"}
# summary key of each split's accuracy
ACC_KEY = {"train": "train_acc", "selection": "select_acc", "valid": "val_acc", "test": "test_acc"}
MISTAKE_PX = 128  # misclassified images are shown from the stored file at this size, for legibility
# The recipe's settings in words, for the table (the parameters keep their names in the metrics).
SETTING_NAMES = {"epochs": "maximum epochs", "batch_size": "batch size", "lr": "peak learning rate",
                 "weight_decay": "weight decay", "label_smoothing": "label smoothing",
                 "warmup_epochs": "warm-up epochs", "patience": "early stop after epochs without improvement",
                 "amp": "training precision", "seed": "seed", "augment": "augmentation",
                 "rotation_deg": "rotation (degrees)", "scale": "random zoom (±)",
                 "translate": "random shift (fraction)", "jitter": "colour jitter strength"}
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
    base = TrainConfig.from_params(params).as_dict()
    recipes = {m: model_recipe(m, params) for m in a2_models(params)}
    own = {m: {k: v for k, v in r.as_dict().items() if v != base[k] and k != "epochs"} for m, r in recipes.items()}
    return {"image size (px)": data.image_size, **base,
            **{f"epochs ({m})": e for m, e in params["epochs_by_model"].items()},
            **{f"epochs ({m})": r.epochs for m, r in recipes.items()
               if m not in params["epochs_by_model"] and r.epochs != base["epochs"]},
            **{f"recipe ({m})": ", ".join(f"{k} {v}" for k, v in changes.items()) for m, changes in own.items() if changes},
            "threads": torch.get_num_threads(), "device": str(device),
            "training images": len(data.train), "selection images": len(data.selection),
            "validation images": len(data.valid)}


PRECISION_WORDS = {"bf16": "a bf16 autocast forward pass (bf16 is native on this machine)",
                   "fp16": "an fp16 autocast forward pass with a gradient scaler",
                   "fp32": "fp32 throughout"}


def precision_words(params: dict[str, Any]) -> str:
    """The training precision in words (the stage resolved amp: auto to the machine's native one)."""
    return PRECISION_WORDS.get(params["amp"], f"amp {params['amp']}")


def recipe_text(params: dict[str, Any]) -> str:
    """The recipe in words with its values (no parameter names): optimizer, schedule, loss,
    precision, epoch budgets and early stopping."""
    cfg = TrainConfig.from_params(params)
    by_model = params["epochs_by_model"]
    budget = f"at most {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} per model" + (
        f" ({', '.join(f'{m}: {e}' for m, e in by_model.items())})" if by_model else "")
    decay = (f"weight decay {cfg.weight_decay:g} (not on biases and BatchNorm)" if cfg.weight_decay
             else "no weight decay")
    warmup = (f"a linear warm-up over the first {counted(cfg.warmup_epochs, 'epoch')}, then" if cfg.warmup_epochs
              else "no warm-up,")
    precision = precision_words(params)
    own = own_recipes(params)
    return ((f"Every model trains with the study's recipe, except for the settings [Table](#tab:A2_recipe) lists on a "
             f"line of its own for {joined(own)}. The recipe: " if own else "Every model trains with the same recipe: ") +
            f"AdamW (Adam with decoupled weight decay; Loshchilov & Hutter 2019) at a peak learning rate of {cfg.lr:g} with {decay}; "
            f"{warmup} a cosine decay of the learning rate per step; cross-entropy with label smoothing "
            f"{cfg.label_smoothing:g}; batches of {cfg.batch_size}; {precision}. Training runs {budget} and "
            f"stops early after {cfg.patience} epochs without a lower loss on the selection split; the weights of "
            "the epoch with the lowest selection loss are kept. The settings are listed in [Table](#tab:A2_recipe).")


def recipe_table(settings: dict[str, Any]) -> pd.DataFrame:
    """The recipe as (setting, value) rows, each setting named in words (SETTING_NAMES)."""
    return pd.DataFrame({"setting": [SETTING_NAMES.get(k, k) for k in settings],
                         "value": [str(v) for v in settings.values()]})


def model_table(names: list[str], data) -> pd.DataFrame:
    """One row per model: name, parameter count, the first paragraph of its docstring."""
    rows = []
    for name in names:
        model = get_spec(name).build(**arch_args(name, data))
        rows.append({"model": name, "parameters": count_parameters(model), "description": get_spec(name).description})
    return pd.DataFrame(rows)


def model_caption(data) -> str:
    """The caption of the model table: input size, channels and classes."""
    return (f"the models (input {data.image_size}×{data.image_size} px, {counted(data.channels, 'channel')}, "
            f"{counted(len(data.classes), 'class', 'classes')})")


def protocol_text(data, params: dict[str, Any]) -> str:
    """The three roles of the data, with this run's sizes, and what one image is worth; the choices
    named are those of the stages the study runs (`stages`, empty for all)."""
    n_sel, n_train, n_valid = len(data.selection), len(data.train), len(data.valid)
    stages = {p.stem.split("_", 1)[0] for p in notebook_cells.study_notebooks(params)}
    choices = (["the kept epoch and early stopping here"] + (["B3's kept epoch and hardened model"] if "B3" in stages else [])
               + (["the compressed models C2 attacks and the deployment rule"] if "C2" in stages else []))
    return (f"The models train on {n_train} images. The **selection split**, {n_sel} images "
            f"({params['selection_per_class']} per class, drawn with seed {params['selection_seed']} from the dataset's "
            "training images, which the models never train on), makes every choice of the study: "
            f"{', '.join(choices)}. "
            f"The {n_valid} validation images only report: one of them is {100 / n_valid:.2g} points "
            f"of validation accuracy (one selection image is {100 / n_sel:.2g} points). Training therefore uses {n_train} "
            f"of the dataset's {n_train + n_sel} training images ({n_sel / (n_train + n_sel):.0%} fewer).")


def train_all(names: list[str], data, params: dict[str, Any], layout, device: torch.device) -> dict[str, Trained]:
    """Train every model (or reuse its checkpoint at `layout.trained(name)` when recipe, data,
    model and code are unchanged), each with its own recipe (`model_recipe`)."""
    task = progress.task("training the models", len(names), min_interval=0)
    trained = {}
    for name in names:
        cfg = model_recipe(name, params)
        trained[name] = train_or_load(name, arch_args(name, data), data, cfg, path=layout.trained(name),
                                      device=device, log_dir=layout.tensorboard(name), image_size=data.image_size)
        task.step(f"{name} {'reused' if trained[name].reused else 'trained'}")
    return trained


def models_of(trained: dict[str, Trained]) -> dict[str, nn.Module]:
    """The trained models by name, on the device they were trained on."""
    return {n: t.model for n, t in trained.items()}


def curves_figure(trained: dict[str, Trained], n_train: int | None = None, n_select: int | None = None):
    return figures.training_curves({n: t.result["history"] for n, t in trained.items()}, n_train, n_select)


def training_table(trained: dict[str, Trained], data) -> pd.DataFrame:
    """One row per training run: parameters training updated, epochs, kept epoch, early stop, seconds
    (training s includes computing a frozen part's features once), images per second, and whether
    the checkpoint was reused (and when it was made)."""
    return pd.DataFrame([{"model": n, "trained parameters": count_trained_parameters(t.model),
                          "epochs run": len(t.result["history"]), "best epoch": t.result["best_epoch"],
                          "stopped early": t.result["stopped_early"], "s / epoch": t.result["epoch_s"],
                          "frozen features s": t.result["inputs_s"] if t.result.get("cached_features") else None,
                          "training s": t.result["total_train_s"], "img / s": len(data.train) / t.result["epoch_s"],
                          "reused": t.reused, "made at": t.created_at} for n, t in trained.items()])


def describe_training(trained: dict[str, Trained]) -> str:
    """Which models were trained now and which reused a checkpoint of an earlier run (with the
    time that run wrote it), so the seconds of [Table](#tab:A2_runs) are read right."""
    reused = [n for n, t in trained.items() if t.reused]
    if not reused:
        return "Every model was trained in this run; [Table](#tab:A2_runs) gives the seconds."
    return "\n".join(f"- **{n}** reused the checkpoint made at {trained[n].created_at} (same recipe, data, model "
                     "and training code): its seconds in [Table](#tab:A2_runs) are those of that run, not of this "
                     "one." for n in reused)


def predictions(models: dict[str, nn.Module], data, device: torch.device) -> dict[str, dict[str, torch.Tensor]]:
    """Logits float32 [N, classes] of every model on every split: {model: {split: logits}}."""
    return {n: {s: predict(m, split.images, device) for s, split in data.splits().items()} for n, m in models.items()}


def scores(logits: dict[str, dict[str, torch.Tensor]], data) -> Scores:
    """classification_metrics of every model on every split: {model: {split: metrics}}."""
    splits = data.splits()
    return {n: {s: classification_metrics(splits[s].labels, lg, data.classes) for s, lg in per_split.items()}
            for n, per_split in logits.items()}


def accuracy_table(model_scores: Scores) -> pd.DataFrame:
    """One row per model: the accuracy on each split with its 95 % Wilson interval ('0.62 [0.48,
    0.74]', n = the split's size, in the header), and the validation macro-F1."""
    return pd.DataFrame([{"model": n, **{f"{SPLIT_TITLES[s]} accuracy (n={v['n']})": format_rate(v["accuracy"], v["n"])
                                         for s, v in per_split.items()},
                          "validation macro-F1": per_split["valid"]["macro_f1"]}
                         for n, per_split in model_scores.items()])


def per_class_table(model_scores: Scores, classes: list[str]) -> pd.DataFrame:
    """Per class (rows) the validation support and, per model, precision, recall and F1 (columns
    '<model> P', '<model> R', '<model> F1')."""
    first = next(iter(model_scores.values()))["valid"]["per_class"]
    rows = []
    for c in classes:
        row = {"class": c, "support": first[c]["support"]}
        for n, per_split in model_scores.items():
            m = per_split["valid"]["per_class"][c]
            row.update({f"{n} P": m["precision"], f"{n} R": m["recall"], f"{n} F1": m["f1"]})
        rows.append(row)
    return pd.DataFrame(rows)


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
            reading = ("\n".join(f"{i + 1}. `{splits[split].files[e['index']]}`: "
                                  + reading_of_error(e, data.classes) for i, e in enumerate(errors))
                       + "\n\n" + confusion_summary(errors, data.classes, confusion, other_confusion,
                                                    SPLIT_TITLES[other] if other else ""))
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
    """Show each model's figure `misclassified_<model>` and the reading of its mistakes, which
    refers to the figure."""
    found = [mistakes(n, logits[n], model_scores[n], data, k) for n in logits]
    for m in found:
        if m.errors:
            what = f"misclassified_{m.model}"
            stage.show_figure(mistakes_figure(m, data), what,
                              f"{m.model}: the {len(m.errors)} most confident mistakes on the "
                              f"{SPLIT_TITLES[m.split]} split, each with its true class and the top-3 probabilities "
                              f"(shown at {MISTAKE_PX} px; the model saw {data.image_size} px).")
            stage.say(f"**{m.model}** ([Figure](#fig:A2_{what})), most confident first:\n\n{m.reading}")
        else:
            stage.say(m.reading)


def summary(trained: dict[str, Trained], model_scores: Scores, data,
            latency: dict[str, tuple[float, float]] | None = None) -> dict[str, dict[str, Any]]:
    """Per model the headline numbers (the A2.<model>.* keys of summary.json): accuracies, size,
    parameters (and those training updated), training time (of the run that made the checkpoint),
    reused and created_at, and with `latency` (`batch1_latency`) the batch-1 milliseconds."""
    out = {}
    for n, t in trained.items():
        per_split, r = model_scores[n], t.result
        out[n] = {**{ACC_KEY[split]: per_split[split]["accuracy"] for split in per_split},
                  "params": count_parameters(t.model),
                  "trained_params": count_trained_parameters(t.model),
                  **({"batch1_ms": latency[n][0], "batch1_ms_sd": latency[n][1]} if latency else {}),
                  "size_mb": t.path.stat().st_size / 1e6,
                  "epoch_s": r["epoch_s"], "total_train_s": r["total_train_s"],
                  **({"features_s": r["inputs_s"]} if r.get("cached_features") else {}),
                  "train_img_s": len(data.train) / r["epoch_s"], "epochs_run": len(r["history"]),
                  "best_epoch": r["best_epoch"], "reused": t.reused, "created_at": t.created_at}
    return out


def split_sizes(data) -> dict[str, int]:
    """{'train': n, 'valid': n[, 'test': n]}: the denominators of the accuracies."""
    return {s: len(split) for s, split in data.splits().items()}


def metrics(headline: dict[str, dict[str, Any]], model_scores: Scores, data, trained: dict[str, Trained],
            settings: dict[str, Any], seeds: dict[str, Any] | None = None,
            pairs: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A2's metrics file: summary (per model), the denominators of its accuracies (summary.json
    gives each its Wilson interval), scores (per model and split), classes, the fit result of each
    training run, the recipe and the seed sweep (`training_seeds.seed_metrics`)."""
    return {"summary": {**headline, **({"paired": pairs} if pairs else {})}, "denominators": {f"*.{ACC_KEY[s]}": n for s, n in split_sizes(data).items()},
            "scores": model_scores, "classes": data.classes,
            "training": {n: t.result for n, t in trained.items()}, "recipe": settings, "seed_sweep": seeds or {}}
