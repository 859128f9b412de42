"""Training augmentation on tensor batches: random flip, rotation, zoom, shift, colour jitter.

The course's recipe (torchvision RandomHorizontalFlip, RandomRotation(15), ColorJitter) drawn
independently for every image of a batch, but computed on the whole batch at once instead of one
PIL image at a time, so it costs little next to the forward/backward pass. Zoom and shift
(RandomAffine's scale and translate) are optional extras of the study's better recipe.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=generator) * (high - low) + low


def _gray(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, as torchvision's rgb_to_grayscale: [B, 3, H, W] -> [B, 1, H, W]; grey images
    [B, 1, H, W] are their own luma."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


def augment(x: torch.Tensor, *, flip: bool = True, rotation_deg: float = 15.0,
            scale: float = 0.0, translate: float = 0.0,
            brightness: float = 0.2, contrast: float = 0.2, saturation: float = 0.2,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Augment a batch x float [B, C, H, W] in [0, 1] (C = 3, or 1 for grey images, which have no
    saturation to jitter); returns a new tensor in [0, 1].

    rotation_deg: angle drawn uniformly in [-rotation_deg, rotation_deg]; corners are filled
    with black, as torchvision's RandomRotation does. scale: zoom factor drawn in
    [1 - scale, 1 + scale]; translate: shift drawn in [-translate, translate] of the image size
    per axis. brightness/contrast/saturation: factors
    drawn uniformly in [1 - v, 1 + v], as ColorJitter(v, v, v).
    """
    b = x.shape[0]
    if flip:
        flipped = torch.rand(b, generator=generator) < 0.5
        x = torch.where(flipped[:, None, None, None], x.flip(-1), x)
    if rotation_deg or scale or translate:
        # affine_grid maps output to input coordinates in [-1, 1]: rotate, divide by the zoom, shift.
        angle = _uniform(b, -rotation_deg, rotation_deg, generator) * (math.pi / 180)
        zoom = _uniform(b, 1 - scale, 1 + scale, generator)
        tx, ty = (_uniform(b, -2 * translate, 2 * translate, generator) for _ in range(2))
        cos, sin = angle.cos() / zoom, angle.sin() / zoom
        theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if brightness:
        x = x * _uniform(b, 1 - brightness, 1 + brightness, generator)[:, None, None, None]
    if contrast:
        mean = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
        c = _uniform(b, 1 - contrast, 1 + contrast, generator)[:, None, None, None]
        x = (x - mean) * c + mean
    if saturation and x.shape[1] == 3:
        s = _uniform(b, 1 - saturation, 1 + saturation, generator)[:, None, None, None]
        gray = _gray(x)
        x = (x - gray) * s + gray
    return x.clamp_(0, 1)
