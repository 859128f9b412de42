"""PGD: projected gradient descent under an L∞ bound, from a random start."""
from __future__ import annotations

import torch
from torch import nn

from ..core.device import eval_mode
from .base import Attack, AttackResult, goal_met, loss_grad


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int, *,
        target: torch.Tensor | None = None, random_start: bool = True,
        generator: torch.Generator | None = None, stop_on_success: bool = False) -> AttackResult:
    """Projected Gradient Descent under an L∞ bound (Madry et al., "Towards Deep Learning Models
    Resistant to Adversarial Attacks", ICLR 2018).

    Start at x + U[−ε, ε] (clipped to [0, 1]) when random_start, then `steps` times:
    x' ← clip[0,1](x + clip[−ε,ε](x' + α·sign(∇ₓ' objective) − x)), the objective as in `fgsm`.
    x [B, C, H, W] in [0, 1]; ε and α (step) in pixel units; the random start draws from
    `generator` (the global generator when None). Returns the last iterate; first_success records
    the first iteration whose iterate met the goal (iterates may leave success again).
    With stop_on_success, an input stops at its first iterate that meets the goal (the clean input
    itself when it already does) and only the others are attacked further: the worst case over iterates, as robustness evaluation counts it,
    at a fraction of the cost. Inputs are independent in eval mode, so an input that never
    succeeds follows exactly the trajectory it would follow without stopping. Update rule as
    torchattacks (Kim 2020), against which it is tested.

    >>> result = pgd(model, images, labels, eps=0.03, alpha=0.01, steps=40)
    """
    with eval_mode(model):
        x = x.detach()
        x_adv = x.clone()
        if random_start:
            x_adv = (x_adv + torch.empty_like(x).uniform_(-eps, eps, generator=generator)).clamp(0, 1)
        with torch.no_grad():
            clean_logits = model(x)
            adv_logits = model(x_adv) if steps == 0 or stop_on_success else None
        first = torch.where(goal_met(clean_logits, y, target), 0, -1)
        if stop_on_success:  # an input that meets the goal unperturbed stops at iterate 0: the clean one
            done = first == 0
            x_adv[done], adv_logits[done] = x[done], clean_logits[done]
        for step in range(1, steps + 1):
            i = (first < 0).nonzero().flatten() if stop_on_success else slice(None)
            if stop_on_success and len(i) == 0:
                break
            t = target[i] if target is not None else None
            grad, _ = loss_grad(model, x_adv[i], y[i], t)
            step_x = x_adv[i] + alpha * grad.sign()
            step_x = (x[i] + (step_x - x[i]).clamp(-eps, eps)).clamp(0, 1).detach()
            with torch.no_grad():
                step_logits = model(step_x)
            if stop_on_success:
                x_adv[i], adv_logits[i] = step_x, step_logits
            else:
                x_adv, adv_logits = step_x, step_logits
            first[i] = torch.where((first[i] < 0) & goal_met(step_logits, y[i], t), step, first[i])
    return AttackResult(x_adv, first, clean_logits, adv_logits)


class PGD(Attack):
    name, title = "pgd", "PGD"
    iterative = True
    at_least_as_strong_as = "fgsm"

    def describe(self) -> str:
        return (f"{self.steps} steps of size ε / {self.step_divisor:g} from a random start U[−ε, ε], "
                "last iterate kept (Madry et al. 2018)")

    def __call__(self, model, x, y, eps, *, target=None, generator=None, stop_on_success=False) -> AttackResult:
        return pgd(model, x, y, eps, self.step_size(eps), self.steps, target=target, generator=generator,
                   stop_on_success=stop_on_success)


ATTACK = PGD
