"""The fixed adversarial set: B1's adversarial inputs, saved once per source model and fed
unchanged to other models (B2: another architecture; C2: compressed versions)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..core.files import atomic_path
from ..evaluation.predict import predict
from .attack_runs import AttackRun


def replay(model: nn.Module, blob: dict[str, Any], device: torch.device) -> dict[str, AttackRun]:
    """Feed a fixed adversarial set (`load_adversarial_set`) unchanged to `model`: per attack key,
    an AttackRun whose logits are `model`'s on the clean and on the stored adversarial inputs (so
    `statistics` gives this model's success rates; first_success is −1, as nothing was iterated)."""
    clean = predict(model, blob["images"], device).float().cpu()
    out = {}
    for key, a in blob["attacks"].items():
        adv = predict(model, a["x_adv"], device).float().cpu()
        out[key] = AttackRun(a["attack"], a["eps"], a["target"], a["x_adv"], clean, adv,
                             torch.full((len(clean),), -1, dtype=torch.int64))
    return out


def save_adversarial_set(path, images: torch.Tensor, labels: torch.Tensor, classes: list[str],
                         runs: dict[str, AttackRun], **metadata: Any) -> None:
    """Write the fixed adversarial set: clean images uint8 [N, C, H, W], labels [N], and per
    attack key (e.g. 'pgd.targeted.eps0.03') its x_adv float [N, C, H, W], eps and target."""
    blob = {"images": images, "labels": labels, "classes": list(classes), "metadata": metadata,
            "attacks": {k: {"attack": r.attack, "eps": r.eps, "target": r.target, "x_adv": r.x_adv}
                        for k, r in runs.items()}}
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)


def load_adversarial_set(path) -> dict[str, Any]:
    """Read a set written by `save_adversarial_set` (weights_only: a file cannot run code)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"adversarial set {path} does not exist; run the B1_attacks notebook first")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated file, or pickled objects weights_only refuses
        raise ValueError(f"adversarial set {path} cannot be read safely: {e}") from e
    missing = {"images", "labels", "classes", "attacks"} - set(blob) if isinstance(blob, dict) else {"images"}
    if missing:
        raise ValueError(f"{path} is not an adversarial set: missing {sorted(missing)}")
    return blob
