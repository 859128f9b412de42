"""One image through one model, clean and attacked: what the explorer shows, computed here.

Everything is in pixel space [0, 1] (normalization is inside the model), on the CPU, in fp32, with
the model in eval mode. The attack is the study's own (`attacks.build_attack` with the run's
parameters) and draws its random start from `seed`, so the same selection always shows the same
adversarial image.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..attacks import Attack
from ..explain.gradcam import gradcam, has_gradcam
from ..explain.saliency import saliency


@dataclass
class Inspection:
    """clean, adv: float [C, H, W] in [0, 1]; probs_*: float [classes], softmax of the variant's
    logits; saliency_* [H, W] (logit units per pixel unit) and gradcam_* [H, W] in [0, 1] explain
    each image's predicted class (None for a model without gradients or without a Grad-CAM layer);
    `crafted_on` names the model the attack differentiated (the variant itself, or the fp32 model
    an exported graph was made from)."""
    variant: str
    attack: str
    eps: float
    target: int | None
    label: int
    classes: list[str]
    crafted_on: str
    clean: torch.Tensor
    adv: torch.Tensor
    probs_clean: torch.Tensor
    probs_adv: torch.Tensor
    saliency_clean: torch.Tensor | None = None
    saliency_adv: torch.Tensor | None = None
    gradcam_clean: torch.Tensor | None = None
    gradcam_adv: torch.Tensor | None = None

    @property
    def delta(self) -> torch.Tensor:
        return self.adv - self.clean

    @property
    def l2(self) -> float:
        """‖x_adv − x‖₂ over all C·H·W pixel values, in [0, 1] pixel units."""
        return float(self.delta.flatten().norm(2))

    @property
    def linf(self) -> float:
        """‖x_adv − x‖∞, at most ε."""
        return float(self.delta.abs().max())

    @property
    def pred_clean(self) -> int:
        return int(self.probs_clean.argmax())

    @property
    def pred_adv(self) -> int:
        return int(self.probs_adv.argmax())

    def top(self, which: str, k: int = 5) -> list[tuple[str, float]]:
        """[(class, probability)] of the k most probable classes of the 'clean' or 'adv' image."""
        probs = self.probs_clean if which == "clean" else self.probs_adv
        p, i = probs.topk(min(k, len(probs)))
        return [(self.classes[j], float(q)) for q, j in zip(p, i)]

    def summary(self) -> str:
        """One line: predictions, their probabilities and the perturbation's norms."""
        c, a = self.pred_clean, self.pred_adv
        return (f"{self.variant}: {self.classes[c]} ({self.probs_clean[c]:.3f}) → {self.classes[a]} "
                f"({self.probs_adv[a]:.3f}); L2 = {self.l2:.4f}, L∞ = {self.linf:.4f}")


def _maps(model: nn.Module, x: torch.Tensor, cls: int, explain: bool) -> tuple:
    if not explain:
        return None, None
    target = torch.tensor([cls])
    sal = saliency(model, x[None], target)[0]
    cam = gradcam(model, x[None], target)[0] if has_gradcam(model) else None
    return sal, cam


def inspect(model: nn.Module, image: torch.Tensor, label: int, classes: list[str], attack: Attack, eps: float, *,
            variant: str = "", target: int | None = None, seed: int = 0, attack_model: nn.Module | None = None,
            crafted_on: str = "", explain: bool = True) -> Inspection:
    """`image` uint8 [C, H, W] (or float in [0, 1]) with its `label`, attacked with `attack` at L∞
    budget `eps` (untargeted when `target` is None), crafted on `attack_model` (default `model`) and
    shown through `model`. ε = 0 shows the clean image twice."""
    x = image.float() / 255 if image.dtype == torch.uint8 else image.float()
    crafter = model if attack_model is None else attack_model
    if eps > 0:
        t = None if target is None else torch.tensor([target])
        result = attack(crafter.eval(), x[None], torch.tensor([label]), eps, target=t,
                        generator=torch.Generator().manual_seed(seed))
        adv = result.x_adv[0].detach()
    else:
        adv = x.clone()
    with torch.no_grad():
        probs = torch.softmax(model.eval()(torch.stack([x, adv])).float(), dim=1)
    ins = Inspection(variant, attack.name, eps, target, label, list(classes), crafted_on or variant, x, adv,
                     probs[0], probs[1])
    ins.saliency_clean, ins.gradcam_clean = _maps(model, x, ins.pred_clean, explain)
    ins.saliency_adv, ins.gradcam_adv = _maps(model, adv, ins.pred_adv, explain)
    return ins
