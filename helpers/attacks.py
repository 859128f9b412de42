"""White-box evasion attacks in pixel space: FGSM and PGD (L∞), untargeted and targeted.

Inputs are images x float [B, 3, H, W] in [0, 1]; normalization is the model's first layer, so
ε, step sizes and the reported norms are in pixel units of [0, 1]. The model is put in eval mode
for the attack and given back in the mode it was in; its parameters and buffers are untouched.
Update rules follow torchattacks (Kim 2020) so the two can be checked against each other.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .runtime import eval_mode


@dataclass
class AttackResult:
    """x_adv: float [B, 3, H, W] in [0, 1]; first_success: int64 [B], the iteration (1-based) at
    which the input first met the goal, 0 if it already did before the attack, -1 if never;
    clean_logits, adv_logits: float [B, C], the model's outputs on x and on x_adv (eval mode)."""
    x_adv: torch.Tensor
    first_success: torch.Tensor
    clean_logits: torch.Tensor
    adv_logits: torch.Tensor


def _goal_met(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    pred = logits.argmax(1)
    return pred == target if target is not None else pred != y


def _loss_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None):
    """Gradient of the attack objective w.r.t. x (ascend it) and the logits at x."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    # untargeted: increase the loss of the true label; targeted: decrease the loss of the target
    loss = -F.cross_entropy(logits, target) if target is not None else F.cross_entropy(logits, y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad, logits.detach()


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *,
         target: torch.Tensor | None = None) -> AttackResult:
    """Fast Gradient Sign Method (Goodfellow, Shlens & Szegedy, "Explaining and Harnessing
    Adversarial Examples", ICLR 2015).

    Untargeted: x' = clip[0,1](x + ε·sign(∇ₓ CE(f(x), y))); targeted at t:
    x' = clip[0,1](x − ε·sign(∇ₓ CE(f(x), t))). x [B, 3, H, W] in [0, 1]; y, target int64 [B];
    ε in pixel units. One step, so first_success is 1 where the adversarial input meets the goal.
    """
    with eval_mode(model):
        grad, clean_logits = _loss_grad(model, x, y, target)
        x_adv = (x + eps * grad.sign()).clamp(0, 1).detach()
        with torch.no_grad():
            adv_logits = model(x_adv)
    met_before, met_after = _goal_met(clean_logits, y, target), _goal_met(adv_logits, y, target)
    first = torch.where(met_before, 0, torch.where(met_after, 1, -1))
    return AttackResult(x_adv, first, clean_logits, adv_logits)


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int, *,
        target: torch.Tensor | None = None, random_start: bool = True,
        generator: torch.Generator | None = None, stop_on_success: bool = False) -> AttackResult:
    """Projected Gradient Descent under an L∞ bound (Madry et al., "Towards Deep Learning Models
    Resistant to Adversarial Attacks", ICLR 2018).

    Start at x + U[−ε, ε] (clipped to [0, 1]) when random_start, then `steps` times:
    x' ← clip[0,1](x + clip[−ε,ε](x' + α·sign(∇ₓ' objective) − x)), the objective as in `fgsm`.
    x [B, 3, H, W] in [0, 1]; ε and α (step) in pixel units; the random start draws from
    `generator` (the global generator when None). Returns the last iterate; first_success records
    the first iteration whose iterate met the goal (iterates may leave success again).
    With stop_on_success, an input stops at its first iterate that meets the goal and only the
    others are attacked further: the worst case over iterates, as robustness evaluation counts it,
    at a fraction of the cost. Inputs are independent in eval mode, so an input that never
    succeeds follows exactly the trajectory it would follow without stopping.
    """
    with eval_mode(model):
        x = x.detach()
        x_adv = x.clone()
        if random_start:
            x_adv = (x_adv + torch.empty_like(x).uniform_(-eps, eps, generator=generator)).clamp(0, 1)
        with torch.no_grad():
            clean_logits = model(x)
            adv_logits = model(x_adv) if steps == 0 or stop_on_success else None
        first = torch.where(_goal_met(clean_logits, y, target), 0, -1)
        for step in range(1, steps + 1):
            i = (first < 0).nonzero().flatten() if stop_on_success else slice(None)
            if stop_on_success and len(i) == 0:
                break
            t = target[i] if target is not None else None
            grad, _ = _loss_grad(model, x_adv[i], y[i], t)
            step_x = x_adv[i] + alpha * grad.sign()
            step_x = (x[i] + (step_x - x[i]).clamp(-eps, eps)).clamp(0, 1).detach()
            with torch.no_grad():
                step_logits = model(step_x)
            if stop_on_success:
                x_adv[i], adv_logits[i] = step_x, step_logits
            else:
                x_adv, adv_logits = step_x, step_logits
            first[i] = torch.where((first[i] < 0) & _goal_met(step_logits, y[i], t), step, first[i])
    return AttackResult(x_adv, first, clean_logits, adv_logits)
