"""Layers shared by the models of the zoo."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def resize_images(x: torch.Tensor, size: int) -> torch.Tensor:
    """x float [B, C, H, W] resized to size × size: the mean of each cell when shrinking (area, so an
    L∞ perturbation of ε stays within ε), bilinear with antialiasing when enlarging."""
    if x.shape[-2:] == (size, size):
        return x
    if x.shape[-1] > size:
        return F.adaptive_avg_pool2d(x, size)
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class Normalize(nn.Module):
    """(x - mean) / std per channel, then (with `size`) resized to the model's own resolution;
    x float [B, C, H, W] in [0, 1]. Buffers, not parameters.

    Every model's first layer: attacks and saliency then work in pixel space, where ε and norms
    mean the same for every model and clamping to [0, 1] is exact. With `size`, every model of a
    study reads the same pixel grid (the study's image_size) and computes at its own resolution;
    `shrink_only` leaves a coarser grid as it is (a network that works at any size gains nothing
    from enlarged pixels but arithmetic). `view_size` first shrinks a finer grid to that size: the
    model then sees what a coarser grid would give it (a control for what the grid costs).
    """

    def __init__(self, mean: list[float], std: list[float], size: int | None = None, shrink_only: bool = False,
                 view_size: int | None = None):
        super().__init__()
        self.size, self.shrink_only, self.view_size = size, shrink_only, view_size
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        if self.view_size is not None and x.shape[-1] > self.view_size:
            x = resize_images(x, self.view_size)
        if self.size is None or (self.shrink_only and x.shape[-1] <= self.size):
            return x
        return resize_images(x, self.size)
