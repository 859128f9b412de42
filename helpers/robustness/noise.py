"""The random-sign noise baseline: how often a perturbation of the same L∞ budget, but with no
knowledge of the model, changes its prediction. It tells whether a transfer success rate says
more than "any perturbation of size ε fools this model that often"."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..evaluation.predict import predict


def random_sign_noise(images: torch.Tensor, eps: float, seed: int) -> torch.Tensor:
    """x + ε · sign(u), u uniform in [-1, 1] per pixel and channel (each sign + or − with
    probability 1/2), clipped to [0, 1]: a corner of
    the L∞ ball, as far from x as an FGSM step but in a random direction. images uint8
    [N, C, H, W]; returns float [N, C, H, W] in [0, 1]. The same seed gives the same signs at
    every ε, so the budgets differ only in size."""
    generator = torch.Generator().manual_seed(seed)
    signs = torch.where(torch.rand(images.shape, generator=generator) < 0.5, -1.0, 1.0)
    return (images.float() / 255 + eps * signs).clamp(0, 1)


def noise_statistics(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, seed: int,
                     device: torch.device, clean_logits: torch.Tensor | None = None) -> dict[str, Any]:
    """Untargeted success of random-sign noise on `model`: among the inputs it classifies
    correctly (n_eligible), the fraction whose noisy input it classifies as another class."""
    clean = predict(model, images, device).float().cpu() if clean_logits is None else clean_logits
    noisy = predict(model, random_sign_noise(images, eps, seed), device).float().cpu()
    eligible = clean.argmax(1) == labels
    fooled = eligible & (noisy.argmax(1) != labels)
    n, k = int(eligible.sum()), int(fooled.sum())
    return {"eps": eps, "n_eligible": n, "n_success": k, "success_rate": k / n if n else None}
