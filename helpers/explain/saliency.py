"""Vanilla-gradient saliency in pixel space."""
from __future__ import annotations

import torch
from torch import nn

from ..core.device import eval_mode


def saliency(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Vanilla gradient saliency (Simonyan, Vedaldi & Zisserman, "Deep Inside Convolutional
    Networks", ICLR workshop 2014): max over colour channels of |∂ logit_target / ∂ x|.

    x float [B, C, H, W] in [0, 1] (normalization is inside the model); target int64 [B], the class
    each map explains; returns [B, H, W], in logit units per pixel unit. The model is given back in
    the mode it was in.
    """
    x = x.detach().clone().requires_grad_(True)
    with eval_mode(model):
        logits = model(x)
        (grad,) = torch.autograd.grad(logits.gather(1, target.view(-1, 1)).sum(), x)
    return grad.abs().amax(dim=1)
