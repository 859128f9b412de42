"""Predictions of a model over a split: eval mode, fp32, batched."""
from __future__ import annotations

import torch
from torch import nn

from ..core.device import eval_mode
from ..data.splits import batches


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, device: torch.device,
            batch_size: int = 256) -> torch.Tensor:
    """Logits float32 [N, classes] of images [N, C, H, W] (uint8, or float in [0, 1]), model in
    eval mode, fp32. The model's previous mode is restored afterwards."""
    with eval_mode(model):
        out = [model(x.to(device)).float().cpu()
               for x, _ in batches(images, torch.zeros(len(images), dtype=torch.int64), batch_size)]
    return torch.cat(out)


def correct(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device: torch.device) -> torch.Tensor:
    """bool [N]: which of `images` the model classifies as their `labels` (the per-image outcome a
    paired test between two models reads, `evaluation.paired`)."""
    return predict(model, images, device).argmax(1) == labels


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device: torch.device) -> float:
    """Fraction of `images` classified as `labels`."""
    return int(correct(model, images, labels, device).sum()) / len(labels)
