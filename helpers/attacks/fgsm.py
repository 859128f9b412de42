"""FGSM: one signed-gradient step of the full budget."""
from __future__ import annotations

import torch
from torch import nn

from ..core.device import eval_mode
from .base import Attack, AttackResult, goal_met, loss_grad


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *,
         target: torch.Tensor | None = None) -> AttackResult:
    """Fast Gradient Sign Method (Goodfellow, Shlens & Szegedy, "Explaining and Harnessing
    Adversarial Examples", ICLR 2015).

    Untargeted: x' = clip[0,1](x + ε·sign(∇ₓ CE(f(x), y))); targeted at t:
    x' = clip[0,1](x − ε·sign(∇ₓ CE(f(x), t))). x [B, C, H, W] in [0, 1]; y, target int64 [B];
    ε in pixel units. One step, so first_success is 1 where the adversarial input meets the goal.
    Update rule as torchattacks (Kim 2020), against which it is tested.

    >>> result = fgsm(model, images, labels, eps=0.03)   # result.x_adv: [B, C, H, W]
    """
    with eval_mode(model):
        grad, clean_logits = loss_grad(model, x, y, target)
        x_adv = (x + eps * grad.sign()).clamp(0, 1).detach()
        with torch.no_grad():
            adv_logits = model(x_adv)
    met_before, met_after = goal_met(clean_logits, y, target), goal_met(adv_logits, y, target)
    first = torch.where(met_before, 0, torch.where(met_after, 1, -1))
    return AttackResult(x_adv, first, clean_logits, adv_logits)


class FGSM(Attack):
    name, title = "fgsm", "FGSM"
    citation = "one step of size ε, no random start (Goodfellow et al. 2015)"

    def __call__(self, model, x, y, eps, *, target=None, generator=None, stop_on_success=False) -> AttackResult:
        return fgsm(model, x, y, eps, target=target)


ATTACK = FGSM
