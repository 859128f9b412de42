"""B3, what the robust model looks at: saliency and Grad-CAM of the standard and the adversarially
fine-tuned model on the same validation images, and how smooth and concentrated their saliency is.

Images are uint8 [N, C, H, W] as stored; maps are [H, W] in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import nn

from .. import explain
from ..evaluation.predict import predict
from ..evaluation.paired import difference_words, paired_bootstrap
from ..explain.map_statistics import concentration, roughness
from ..report import figures

TOP_SHARE = 0.1  # saliency concentration: the share of the map's mass in its top 10 % of pixels


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
            sal = explain.saliency(m, x, t)[0].cpu()
            maps.append((f"{label}\nsaliency\nfor {c}", sal, "saliency"))
            if explain.has_gradcam(m):
                maps.append((f"{label}\nGrad-CAM\nfor {c}", explain.gradcam(m, x, t)[0].cpu(), "gradcam"))
            out.stats.append({"class": c, "model": label, "correct": bool(pred[label][i] == ci),
                              "saliency concentration": concentration(sal, TOP_SHARE), "saliency roughness": roughness(sal)})
        file = valid.files[i].removeprefix(f"{valid.split}/")
        out.panels.append({"image": x[0].cpu(), "title": f"{c}\n{file}" + ("" if len(both) else "\n(not correct\nfor both)"),
                           "maps": maps})
    return out


def maps_figures(comparison: MapComparison) -> list:
    """The explanation rows in as many parts as it takes to print unscaled ([] when no class had an image)."""
    return figures.explanation_figures(comparison.panels) if comparison.panels else []


def maps_table(comparison: MapComparison) -> pd.DataFrame:
    return pd.DataFrame(comparison.stats)


def saliency_over_split(variants: dict[str, nn.Module], valid, device) -> dict[str, dict[str, torch.Tensor]]:
    """Per variant, the saliency roughness and concentration of every validation image for its true
    class: {variant: {'roughness': float [N], 'concentration': float [N]}} (the same images for both)."""
    out = {k: {"roughness": [], "concentration": []} for k in variants}
    for i in range(len(valid.labels)):
        x, t = valid.float_images(slice(i, i + 1)).to(device), valid.labels[i:i + 1].to(device)
        for label, m in variants.items():
            sal = explain.saliency(m, x, t)[0].cpu()
            out[label]["roughness"].append(roughness(sal))
            out[label]["concentration"].append(concentration(sal, TOP_SHARE))
    return {k: {q: torch.tensor(v) for q, v in d.items()} for k, d in out.items()}


def maps_sentence(over_split: dict[str, dict[str, torch.Tensor]], n_shown: int) -> str:
    """Is the robust model's saliency smoother than the standard one's? Mean roughness and concentration
    over every validation image, the robust minus the standard model's per image with its paired
    bootstrap interval; "smoother" only where the interval excludes 0."""
    r, s = over_split["robust"], over_split["standard"]
    rough, conc = (paired_bootstrap(r[q], s[q]) for q in ("roughness", "concentration"))
    verdict = ("smoother, as expected of an adversarially trained model" if rough["ci_high"] < 0 else
               "rougher, unlike what is usually reported for adversarially trained models" if rough["ci_low"] > 0 else
               "not resolvably smoother or rougher")
    return (f"Over all {rough['n']} validation images, each explained for its true class, the robust model's saliency "
            f"has a mean roughness of {rough['mean_a']:.3f} against {rough['mean_b']:.3f} for the standard model "
            f"(difference {rough['difference']:+.3f} [{rough['ci_low']:+.3f}, {rough['ci_high']:+.3f}], paired bootstrap) "
            f"and puts {conc['mean_a']:.0%} of its mass in the top {TOP_SHARE:.0%} of pixels against {conc['mean_b']:.0%} "
            f"({difference_words(conc['difference'], conc['ci_low'], conc['ci_high'])}): its gradients are "
            f"{verdict}." + (f" The appendix shows {n_shown} of these images ([Figure](#fig:B3_maps))." if n_shown else ""))
