"""Robust accuracy under the strongest evaluation the study runs: PGD with random restarts."""
from __future__ import annotations

import torch
from torch import nn

from ..attacks.pgd import pgd


def worst_case_pgd(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
                   alpha: float, steps: int, restarts: int, seed: int = 0,
                   device: torch.device = torch.device("cpu"), batch_size: int = 128) -> torch.Tensor:
    """Robustness under untargeted L∞ PGD with random restarts, counted as the worst case.

    Each restart (random start seeded with seed + restart) attacks only the inputs no earlier
    restart has fooled, and an input counts as fooled at the first iterate the model gets wrong
    (`attacks.pgd(stop_on_success=True)`), the criterion of robustness benchmarks such as
    AutoAttack. images uint8 [N, C, H, W], labels int64 [N]; returns bool [N], True where the
    model classifies the input correctly and no iterate of any restart changes that.
    """
    robust = torch.ones(len(labels), dtype=torch.bool)
    for r in range(restarts):
        idx = robust.nonzero().flatten()
        if len(idx) == 0:
            break
        gen = torch.Generator(device=device).manual_seed(seed + r)
        for start in range(0, len(idx), batch_size):
            i = idx[start:start + batch_size]
            x, y = images[i].float().div(255).to(device), labels[i].to(device)
            res = pgd(model, x, y, eps, alpha, steps, generator=gen, stop_on_success=True)
            robust[i] = (res.first_success < 0).cpu()
    return robust
