"""A3, interpretability: the layer each model's Grad-CAM is computed at, saliency and Grad-CAM maps
of correctly classified and misclassified examples, and numbers read off the maps (how centred
the evidence is, how saliency and Grad-CAM agree, how the models agree)."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..core import progress
from ..evaluation.predict import predict
from ..explain import gradcam, gradcam_layer, gradcam_layer_name, has_gradcam, map_size, saliency
from ..explain.map_statistics import centre_fraction, correlation, mass_inside
from ..report import figures

# Grad-CAM needs a map coarse enough to be class-specific and fine enough to localise: at least
# MIN_MAP_SIZE cells per side.
MIN_MAP_SIZE = 4
CAM_REGION = 0.5        # a pixel is in a model's Grad-CAM region where the map is at least this
UNIFORM_CENTRE = 0.25   # the central quarter's share of a uniform map (half the width times half the height)
# Wording of a correlation between two Grad-CAMs: above AGREE_R "largely the same regions",
# below DISAGREE_R "different regions", in between "partly".
AGREE_R, DISAGREE_R = 0.5, 0.2
SEARCHED_SPLITS = ("valid", "train")  # examples are searched in this order
KIND = {"saliency": "saliency", "gradcam": "Grad-CAM"}  # how a map kind is named in a panel title
NO_CAM = "none"  # the layer table's entry for a model without a Grad-CAM layer (an MLP)


def _title(model: str, kind: str, explained: str, note: str = "") -> str:
    """A map's title in short lines (the panels of a full-width row are about 1 in wide)."""
    return f"{model}\n{KIND[kind]}\nfor {explained}{note}"


def load_models(stage, names: list[str]) -> dict[str, nn.Module]:
    """A2's trained models, on the stage's device."""
    return {n: stage.trained_model(n)[0] for n in names}


def shown_classes(explain_classes: list[str], classes: list[str]) -> list[str]:
    """The classes explained with one correct example each: `explain_classes`, or the first three."""
    shown = list(explain_classes) or classes[:3]
    unknown = [c for c in shown if c not in classes]
    if unknown:
        raise ValueError(f"parameter 'explain_classes' names unknown classes {unknown}; classes: {classes}")
    return shown


def layer_table(models: dict[str, nn.Module], data) -> pd.DataFrame:
    """Per model the Grad-CAM layer (its spec's), the layer's map size and the input size. Raises
    ValueError when a map is smaller than MIN_MAP_SIZE per side: its Grad-CAM could not localise."""
    rows = []
    for n, m in models.items():
        if not has_gradcam(m):
            rows.append({"model": n, "Grad-CAM layer": NO_CAM, "map size": "–",
                         "input": f"{data.image_size}x{data.image_size}"})
            continue
        h, w = map_size(m, gradcam_layer(m), (data.channels, data.image_size, data.image_size))
        if min(h, w) < MIN_MAP_SIZE:
            raise ValueError(f"the Grad-CAM layer '{gradcam_layer_name(m)}' of {n} gives a {h}x{w} map at "
                             f"{data.image_size} px, smaller than {MIN_MAP_SIZE}x{MIN_MAP_SIZE}: use larger images "
                             "or a model whose spec names an earlier layer")
        rows.append({"model": n, "Grad-CAM layer": gradcam_layer_name(m), "map size": f"{h}x{w}",
                     "input": f"{data.image_size}x{data.image_size}"})
    return pd.DataFrame(rows)


def describe_layers(layers: pd.DataFrame) -> str:
    """Which layer each model uses and how fine its map is relative to the input."""
    lines = []
    for row in layers.to_dict("records"):
        if row["Grad-CAM layer"] == NO_CAM:
            lines.append(f"- **{row['model']}** has no convolutional layer, so no Grad-CAM: it is explained by "
                         "saliency alone.")
            continue
        cells, side = (int(row[k].split("x")[0]) for k in ("map size", "input"))
        lines.append(f"- **{row['model']}**: layer `{row['Grad-CAM layer']}`, whose map is {row['map size']} for "
                     f"a {row['input']} input ({Fraction(cells, side)} of the input size per side).")
    return "\n".join(lines)


def predictions(models: dict[str, nn.Module], data, device: torch.device) -> dict[str, dict[str, torch.Tensor]]:
    """Predicted class int64 [N] of every model on the searched splits: {split: {model: classes}}."""
    splits = data.splits()
    return {s: {n: predict(m, splits[s].images, device).argmax(1) for n, m in models.items()} for s in SEARCHED_SPLITS}


def split_predictions(models: dict[str, nn.Module], image_set, device: torch.device) -> dict[str, torch.Tensor]:
    """Predicted class int64 [N] of every model on one ImageSet: {model: classes}."""
    return {n: predict(m, image_set.images, device).argmax(1) for n, m in models.items()}


def pick(masks: dict[str, torch.Tensor]) -> tuple[str, int] | None:
    """(split, index) of the first True of masks[split] (bool [N]), splits in SEARCHED_SPLITS order."""
    for s in SEARCHED_SPLITS:
        hits = masks[s].nonzero().flatten()
        if len(hits):
            return s, int(hits[0])
    return None


@dataclass
class Example:
    split: str
    index: int
    correct_for_all: bool


def pick_correct(class_index: int, data, preds: dict[str, dict[str, torch.Tensor]]) -> Example:
    """The first image of the class (validation first, then training) that every model classifies
    correctly; when there is none, the class's first image (correct_for_all False)."""
    splits = data.splits()
    right_for_all = {s: torch.stack([p == class_index for p in preds[s].values()]).all(0) for s in SEARCHED_SPLITS}
    found = pick({s: (splits[s].labels == class_index) & right_for_all[s] for s in SEARCHED_SPLITS})
    if found is not None:
        return Example(*found, True)
    found = pick({s: splits[s].labels == class_index for s in SEARCHED_SPLITS})
    if found is None:
        raise ValueError(f"class {data.classes[class_index]} has no image in {' or '.join(SEARCHED_SPLITS)}")
    return Example(*found, False)


def maps_for(models: dict[str, nn.Module], x: torch.Tensor,
             targets: dict[str, int]) -> list[tuple[str, str, int, torch.Tensor]]:
    """(model, 'saliency' | 'gradcam', explained class, map [H, W] on the CPU) of every model for one
    image x float [1, C, H, W] in [0, 1] on the models' device, explaining class targets[model]."""
    out = []
    for n, m in models.items():
        t = torch.tensor([targets[n]], device=x.device)
        out.append((n, "saliency", targets[n], saliency(m, x, t)[0].cpu()))
        if has_gradcam(m):
            out.append((n, "gradcam", targets[n], gradcam(m, x, t)[0].cpu()))
    return out


def _short(file: str) -> str:
    """A file name without its split folder."""
    return file.split("/", 1)[-1]


def _image(data, split: str, index: int, device) -> torch.Tensor:
    return data.splits()[split].float_images(slice(index, index + 1)).to(device)


@dataclass
class Examples:
    """Figure rows ({'image', 'title', 'maps'} for figures.explanation_rows), one statistics dict
    per example, and notes (markdown) on examples that are not what was asked for."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def figures(self) -> list:
        """The explanation figure, in as many parts as it takes to print unscaled ([] without rows)."""
        return figures.explanation_figures(self.rows) if self.rows else []


def correct_examples(models: dict[str, nn.Module], data, classes: list[str], preds, device) -> Examples:
    """Per class, maps of every model for the true class on one image (see pick_correct), with the
    share of each Grad-CAM in the centre, of each saliency inside its Grad-CAM region and, for two
    models, the correlation of their Grad-CAMs."""
    out, task = Examples(), progress.task("maps of correct examples", len(classes), min_interval=0)
    for c in classes:
        ci = data.classes.index(c)
        ex = pick_correct(ci, data, preds)
        if not ex.correct_for_all:  # e.g. barely trained models: show the class's first image, and say so
            out.notes.append(f"No image of class {c} is classified correctly by every model; its first image is shown.")
        file = data.splits()[ex.split].files[ex.index]
        x = _image(data, ex.split, ex.index, device)
        maps = maps_for(models, x, {n: ci for n in models})
        note = "" if ex.correct_for_all else "\n(not correct\nfor every model)"
        out.rows.append({"image": x[0].cpu(), "title": f"{c}\n{_short(file)}\n({ex.split}){note}",
                         "maps": [(_title(n, k, data.classes[t]), mp, k) for n, k, t, mp in maps]})
        cams = {n: mp for n, k, t, mp in maps if k == "gradcam"}
        sal = {n: mp for n, k, t, mp in maps if k == "saliency"}
        out.stats.append({"class": c, "file": file, "correct for all": ex.correct_for_all,
                          **{f"{n} centre": centre_fraction(cams[n]) for n in cams},
                          **{f"{n} saliency in CAM": mass_inside(sal[n], cams[n], CAM_REGION) for n in cams},
                          **({"CAM agreement r": correlation(*cams.values())} if len(cams) == 2 else {})})
        task.step(c)
    return out


def error_examples(models: dict[str, nn.Module], data, preds, device) -> Examples:
    """Per model its first misclassified image (validation first): every model's maps for its own
    prediction, plus the erring model's Grad-CAM for the true class, and how centred the wrong
    class's Grad-CAM is and how it correlates with the true class's."""
    out, splits = Examples(), data.splits()
    for n in models:
        found = pick({s: preds[s][n] != splits[s].labels for s in SEARCHED_SPLITS})
        if found is None:
            out.notes.append(f"{n} classifies every validation and training image correctly.")
            continue
        s, i = found
        y, file = int(splits[s].labels[i]), splits[s].files[i]
        x = _image(data, s, i, device)
        predicted = {k: int(preds[s][k][i]) for k in models}
        maps = maps_for(models, x, predicted)
        panels = [(_title(k, kind, data.classes[t]), mp, kind) for k, kind, t, mp in maps]
        title = f"{n} error,\ntrue class:\n{data.classes[y]}\n{_short(file)}\n({s})"
        if not has_gradcam(models[n]):  # saliency only: no Grad-CAM to compare with the true class's
            out.rows.append({"image": x[0].cpu(), "title": title, "maps": panels})
            continue
        true_cam = gradcam(models[n], x, torch.tensor([y], device=device))[0].cpu()
        out.rows.append({"image": x[0].cpu(), "title": title,
                         "maps": panels + [(_title(n, "gradcam", data.classes[y], "\n(the true class)"), true_cam,
                                            "gradcam")]})
        pred_cam = next(mp for k, kind, t, mp in maps if k == n and kind == "gradcam")
        out.stats.append({"model": n, "file": file, "true": data.classes[y], "predicted": data.classes[predicted[n]],
                          "centre": centre_fraction(pred_cam),
                          "predicted vs true CAM r": correlation(pred_cam, true_cam)})
    return out


def stats_table(examples: Examples) -> pd.DataFrame:
    """The examples' statistics without the file column (empty when there are none)."""
    return pd.DataFrame(examples.stats).drop(columns=["file"], errors="ignore")


def summary(correct: Examples, errors: Examples, names: list[str]) -> dict[str, Any]:
    """A3's headline numbers: per model the mean Grad-CAM centre fraction and saliency-in-CAM
    fraction over the correct examples; the two models' mean Grad-CAM correlation (two models
    only); the mean correlation of wrong-class and true-class Grad-CAMs over the errors."""
    table = pd.DataFrame(correct.stats)
    out: dict[str, Any] = {n: {"gradcam_centre_fraction": float(table[f"{n} centre"].mean()),
                               "saliency_in_gradcam_fraction": float(table[f"{n} saliency in CAM"].mean())}
                           for n in names if f"{n} centre" in table}
    if "CAM agreement r" in table:
        out["gradcam_model_agreement"] = float(table["CAM agreement r"].mean())
    if errors.stats:
        out["error_pred_vs_true_cam_corr"] = float(pd.DataFrame(errors.stats)["predicted vs true CAM r"].mean())
    return out


def metrics(headline: dict[str, Any], correct: Examples, errors: Examples, layers: pd.DataFrame,
            split: dict[str, Any] | None = None) -> dict[str, Any]:
    """A3's metrics file: summary (the examples' means, and under `split` the whole-split means with
    their intervals, `map_summary.summary_part`), the statistics of every example and error, the
    layer table."""
    return {"summary": {**headline, **({"split": split} if split else {})}, "examples": correct.stats,
            "errors": errors.stats, "layers": layers.to_dict("records")}
