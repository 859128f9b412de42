"""Layers shared by the models of the zoo."""
from __future__ import annotations

import torch
from torch import nn


class Normalize(nn.Module):
    """(x - mean) / std per channel; x float [B, C, H, W] in [0, 1]. Buffers, not parameters.

    Every model's first layer: attacks and saliency then work in pixel space, where ε and norms
    mean the same for every model and clamping to [0, 1] is exact.
    """

    def __init__(self, mean: list[float], std: list[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std
