"""A3, the maps read over a whole split instead of a few hand-picked examples: for every validation
image that every model classifies correctly, how much of each model's Grad-CAM lies in the central
quarter, how much of its saliency lies inside its Grad-CAM region, and how well the two models'
Grad-CAMs agree; for every image a model gets wrong, how the wrong class's Grad-CAM correlates with
the true class's. Each is a mean over images with its 95 % bootstrap interval (scipy, seeded), and
a statement ("centred", "agree") is made only where the interval clears the reference value.

Images are uint8 [N, C, H, W]; maps are [H, W] in [0, 1]; models in eval mode, on `device`.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import nn

from ..core import progress
from ..explain import gradcam, has_gradcam, saliency
from ..explain.map_statistics import centre_fraction, correlation, mass_inside

N_RESAMPLES = 5000


def mean_interval(values: list[float], seed: int = 0) -> dict[str, Any]:
    """Mean of `values` with its 95 % percentile bootstrap interval (n, mean, low, high)."""
    from scipy.stats import bootstrap

    clean = [v for v in values if v == v]
    if len(clean) < 2 or len(set(clean)) == 1:
        m = float(sum(clean) / len(clean)) if clean else float("nan")
        return {"n": len(clean), "mean": m, "low": m, "high": m}
    ci = bootstrap((clean,), lambda x, axis=-1: x.mean(axis=axis), vectorized=True, n_resamples=N_RESAMPLES,
                   method="percentile", rng=seed).confidence_interval
    return {"n": len(clean), "mean": float(sum(clean) / len(clean)), "low": float(ci.low), "high": float(ci.high)}


def _maps(model: nn.Module, x: torch.Tensor, target: int) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.tensor([target], device=x.device)
    return saliency(model, x, t)[0].cpu(), gradcam(model, x, t)[0].cpu()


def split_statistics(models: dict[str, nn.Module], split, preds: dict[str, torch.Tensor], cam_region: float,
                     device) -> dict[str, list[float]]:
    """Per-image values over `split` (`data.ImageSet`; `preds[model]` its predicted classes):
    '<model> centre' and '<model> saliency in CAM' on the images every model gets right, 'CAM
    agreement r' there (two models), '<model> wrong vs true CAM r' on the images that model gets wrong."""
    right_for_all = torch.stack([p == split.labels for p in preds.values()]).all(0)
    models = {n: m for n, m in models.items() if has_gradcam(m)}  # every quantity reads a Grad-CAM
    out: dict[str, list[float]] = {}
    task = progress.task("maps over the split", len(split.labels), min_interval=5)
    for i in range(len(split.labels)):
        x, y = split.float_images(slice(i, i + 1)).to(device), int(split.labels[i])
        cams = {}
        for name, model in models.items():
            if right_for_all[i]:
                sal, cams[name] = _maps(model, x, y)
                out.setdefault(f"{name} centre", []).append(centre_fraction(cams[name]))
                out.setdefault(f"{name} saliency in CAM", []).append(mass_inside(sal, cams[name], cam_region))
            elif int(preds[name][i]) != y:
                wrong, true = _maps(model, x, int(preds[name][i]))[1], _maps(model, x, y)[1]
                out.setdefault(f"{name} wrong vs true CAM r", []).append(correlation(wrong, true))
        if len(cams) == 2:
            out.setdefault("CAM agreement r", []).append(correlation(*cams.values()))
        task.step(f"image {i + 1}")
    return out


def intervals(values: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    """`mean_interval` of every quantity of `split_statistics`."""
    return {k: mean_interval(v) for k, v in values.items()}


def table(found: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per quantity: images, mean and its 95 % bootstrap interval."""
    return pd.DataFrame([{"quantity": k, "images": v["n"], "mean [95 % CI]": f"{v['mean']:.2f} [{v['low']:.2f}, "
                                                                          f"{v['high']:.2f}]"}
                         for k, v in found.items()])


def _where(v: dict[str, Any], reference: float, above: str, below: str, neither: str) -> str:
    return above if v["low"] > reference else below if v["high"] < reference else neither


def _reading(r: dict[str, Any], agree_r: float, disagree_r: float, same: str, different: str) -> str:
    """`same` where the interval of r lies above `agree_r`, `different` where it lies below `disagree_r`,
    partial overlap where it lies between the two, otherwise no reading."""
    return (same if r["low"] > agree_r else different if r["high"] < disagree_r else
            "the maps overlap only partly." if r["low"] >= disagree_r and r["high"] <= agree_r else
            "the interval spans more than one reading, so none is stated.")


def describe(found: dict[str, dict[str, Any]], names: list[str], uniform: float, agree_r: float,
             disagree_r: float) -> str:
    """The findings as bullet points, each stated only where the 95 % interval clears its reference:
    centred (Grad-CAM centre share above that of a uniform map, `uniform`), agreement (r above
    `agree_r`, below `disagree_r`)."""
    lines = []
    for n in names:
        c, s = found.get(f"{n} centre"), found.get(f"{n} saliency in CAM")
        if c is None:
            continue
        verdict = _where(c, uniform, "more central than a uniform map",
                         "less central than a uniform map: the evidence lies in the surroundings",
                         "not distinguishable from a uniform map on these images")
        lines.append(f"- **{n}**, over the {c['n']} validation images every model classifies correctly: "
                     f"{c['mean']:.2f} [{c['low']:.2f}, {c['high']:.2f}] of its Grad-CAM mass lies in the central quarter "
                     f"(a uniform map: {uniform:.2f}), {verdict}; {s['mean']:.2f} [{s['low']:.2f}, {s['high']:.2f}] of its "
                     "saliency lies inside its Grad-CAM region.")
    if "CAM agreement r" in found:
        r = found["CAM agreement r"]
        lines.append(f"- The two models' Grad-CAMs for the same image and class correlate with r = {r['mean']:.2f} "
                     f"[{r['low']:.2f}, {r['high']:.2f}]: " + _reading(
                         r, agree_r, disagree_r, "they look at largely the same regions.",
                         "they base their decisions on different regions."))
    for n in names:
        w = found.get(f"{n} wrong vs true CAM r")
        if w:
            lines.append(f"- On the {w['n']} validation images {n} gets wrong, the Grad-CAM of the wrong class and of the "
                         f"true class correlate with r = {w['mean']:.2f} [{w['low']:.2f}, {w['high']:.2f}]: " + _reading(
                             w, agree_r, disagree_r, "the model looks at the same region and reads it as the wrong class.",
                             "the wrong class is supported by other regions than the true one."))
    return "\n".join(lines)


def summary_part(found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A3.split.<quantity with _ for spaces>.{mean,low,high,n} for summary.json."""
    return {k.replace(" ", "_"): v for k, v in found.items()}
