"""What every attack shares: its result, its goal, the gradient it ascends, and its interface.

Inputs are images x float [B, C, H, W] in [0, 1]; normalization is the model's first layer, so
ε, step sizes and the reported norms are in pixel units of [0, 1]. The model is put in eval mode
for the attack and given back in the mode it was in; its parameters and buffers are untouched.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class AttackResult:
    """x_adv: float [B, C, H, W] in [0, 1]; first_success: int64 [B], the iteration (1-based) at
    which the input first met the goal, 0 if it already did before the attack, -1 if never;
    clean_logits, adv_logits: float [B, classes], the model's outputs on x and on x_adv (eval mode)."""
    x_adv: torch.Tensor
    first_success: torch.Tensor
    clean_logits: torch.Tensor
    adv_logits: torch.Tensor


def goal_met(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    """Untargeted: the prediction is not the label; targeted: the prediction is the target."""
    pred = logits.argmax(1)
    return pred == target if target is not None else pred != y


def loss_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None):
    """Gradient of the attack objective w.r.t. x (ascend it) and the logits at x."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        # untargeted: increase the loss of the true label; targeted: decrease the loss of the target
        loss = -F.cross_entropy(logits, target) if target is not None else F.cross_entropy(logits, y)
        (grad,) = torch.autograd.grad(loss, x)
    return grad, logits.detach()


class Attack(ABC):
    """One evasion attack under an L∞ budget, as the study runs it (see README, "Extending the study").

    Every attack is called with the study's protocol: budget ε, `steps` iterations of size
    α = ε / `step_divisor` (one-step attacks ignore both), a generator for random starts, and
    `stop_on_success` (keep each input's first iterate that meets the goal). `iterative` attacks
    report the iteration of first success; `at_least_as_strong_as` names an attack this one must
    beat or equal at every ε (a sanity check of B1).
    """
    name: ClassVar[str]
    title: ClassVar[str]
    citation: ClassVar[str] = ""
    iterative: ClassVar[bool] = False
    at_least_as_strong_as: ClassVar[str | None] = None

    def __init__(self, steps: int | None = None, step_divisor: float | None = None):
        # the study's defaults (helpers/config/defaults.py) when not given
        from ..config.schema import defaults
        self.steps = defaults()["pgd_steps"] if steps is None else steps
        self.step_divisor = defaults()["pgd_step_divisor"] if step_divisor is None else step_divisor

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "Attack":
        return cls(steps=params["pgd_steps"], step_divisor=params["pgd_step_divisor"])

    def step_size(self, eps: float) -> float:
        return eps / self.step_divisor

    def describe(self) -> str:
        """One line for the settings table."""
        return self.citation

    @abstractmethod
    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *,
                 target: torch.Tensor | None = None, generator: torch.Generator | None = None,
                 stop_on_success: bool = False) -> AttackResult:
        """Attack a batch x [B, C, H, W] in [0, 1] with labels y int64 [B] (target int64 [B] or None)."""
