"""B2: how much of a source's perturbation a target model sees. A model that computes at a coarser
size than the study's grid shrinks the grid inside to the mean of each cell (`layers.resize_images`),
so a perturbation that alternates within a cell averages away: an L∞ budget of ε on the grid can
reach it as much less. Measured on the fixed sets: per source and target, the L∞ norm of the
perturbation as the target computes on it, as a fraction of ε (1: it sees all of it)."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..models.layers import resize_images
from ..models.registry import get_spec
from ..report.wording import joined
from ..robustness import eps_key


def seen_perturbation(fixed, attack: str, eps: float) -> pd.DataFrame:
    """Rows (source, target, target_px, linf_seen): the mean over images of ‖resize(x_adv − x)‖∞ / ε
    for each source's untargeted `attack` at `eps` and each target (`fixed`: transfer.FixedSets)."""
    rows = []
    for source, blob in fixed.sets.items():
        run = blob["attacks"].get(f"{attack}.untargeted.{eps_key(eps)}")
        if run is None:
            continue
        delta = run["x_adv"].float() - blob["images"].float() / 255
        grid = delta.shape[-1]
        for target in fixed.models:
            size = get_spec(target).native_size
            px = size if size is not None and size < grid else grid  # the grid a coarser model computes on
            seen = resize_images(delta, px).abs().amax(dim=(1, 2, 3)) / eps
            rows.append({"source": source, "target": target, "target_px": px, "grid_px": grid,
                         "linf_seen": float(seen.mean())})
    return pd.DataFrame(rows, columns=["source", "target", "target_px", "grid_px", "linf_seen"])


def seen_sentence(seen: pd.DataFrame, attack: str, eps: float) -> str:
    """What each model computing coarser than the grid sees of every source's perturbation; '' when
    every model computes on the grid itself."""
    coarse = seen[seen.target_px < seen.grid_px]
    if coarse.empty:
        return ""
    parts = []
    for target, rows in coarse.groupby("target", sort=False):
        px, grid = int(rows.target_px.iloc[0]), int(rows.grid_px.iloc[0])
        parts.append(f"{target} computes at {px} px, on the means of {grid // px}×{grid // px} cells of the "
                     f"{grid} px grid: of the untargeted {attack.upper()} perturbations at ε = {eps:g} it sees an L∞ "
                     "norm of " + joined([f"{r.linf_seen:.2f} ε from {r.source}" for r in rows.itertuples()])
                     + " on average")
    return ("How much of a perturbation reaches each model: " + "; ".join(parts) + ". A source whose perturbation "
            "alternates within those cells reaches such a model with a fraction of its budget, whatever its "
            "success on its own model.")


def with_seen(metrics: dict[str, Any], seen: pd.DataFrame) -> dict[str, Any]:
    """B2's metrics with the seen-perturbation rows added."""
    return {**metrics, "seen_perturbation": seen.to_dict("records")}
