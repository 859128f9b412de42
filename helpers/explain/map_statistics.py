"""Numbers read off explanation maps ([H, W] tensors), so the report's sentences about what a
model looks at are computed, not eyeballed."""
from __future__ import annotations

import torch


def centre_fraction(cam: torch.Tensor) -> float:
    """Share of the map's mass in the central quarter of the image area (half its width and
    height); a uniform map gives 0.25."""
    h, w = cam.shape
    return float(cam[h // 4: 3 * h // 4, w // 4: 3 * w // 4].sum() / cam.sum().clamp_min(1e-12))


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two maps of the same shape."""
    return float(torch.corrcoef(torch.stack([a.flatten().float(), b.flatten().float()]))[0, 1])


def mass_inside(saliency: torch.Tensor, cam: torch.Tensor, level: float = 0.5) -> float:
    """Share of the saliency mass where the Grad-CAM map is at least `level`."""
    return float(saliency[cam >= level].sum() / saliency.sum().clamp_min(1e-12))


def roughness(saliency: torch.Tensor) -> float:
    """Mean absolute difference between neighbouring pixels of the max-normalised map: high for
    speckled, high-frequency gradients, low for smooth ones."""
    m = saliency / saliency.max().clamp_min(1e-12)
    return float(((m[1:] - m[:-1]).abs().mean() + (m[:, 1:] - m[:, :-1]).abs().mean()) / 2)


def concentration(saliency: torch.Tensor, top: float = 0.1) -> float:
    """Share of the map's mass in its `top` fraction of pixels."""
    flat = saliency.flatten()
    return float(flat.topk(max(1, int(len(flat) * top))).values.sum() / flat.sum().clamp_min(1e-12))
