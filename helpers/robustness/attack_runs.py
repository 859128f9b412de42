"""Attacks over a whole split: one `AttackRun` per (attack, goal, ε), tensors on the CPU."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..attacks.base import Attack
from ..data.splits import batches


def eps_key(eps: float) -> str:
    """How an ε appears in metrics and summary keys: 0.03 -> 'eps0.03', 0.1 -> 'eps0.1'."""
    return f"eps{eps:g}"


@dataclass
class AttackRun:
    """Per-input results of one attack on a split; tensors are on the CPU.

    x_adv float [N, C, H, W] in [0, 1]; clean_logits, adv_logits float [N, C];
    first_success int64 [N] (see attacks.AttackResult); target int or None; iterative: the attack
    iterates, so first_success counts its iterations to success.
    """
    attack: str
    eps: float
    target: int | None
    x_adv: torch.Tensor
    clean_logits: torch.Tensor
    adv_logits: torch.Tensor
    first_success: torch.Tensor
    iterative: bool = False


def run_attack(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, attack: Attack, eps: float, *,
               target: int | None = None, seed: int = 0, device: torch.device = torch.device("cpu"),
               batch_size: int = 128, stop_on_success: bool = False) -> AttackRun:
    """Attack every image of a split. images uint8 [N, C, H, W]; labels int64 [N].

    attack: an `attacks.Attack` (random starts drawn from a generator seeded with `seed`); target:
    class index for a targeted attack, None for untargeted. stop_on_success: an iterative attack
    keeps each input's first iterate that meets the goal (see attacks.pgd).
    """
    gen = torch.Generator(device=device).manual_seed(seed)
    outs: dict[str, list[torch.Tensor]] = {"x": [], "clean": [], "adv": [], "first": []}
    for x, y in batches(images, labels, batch_size):
        x, y = x.to(device), y.to(device)
        t = torch.full_like(y, target) if target is not None else None
        r = attack(model, x, y, eps, target=t, generator=gen, stop_on_success=stop_on_success)
        outs["clean"].append(r.clean_logits.float().cpu())
        outs["adv"].append(r.adv_logits.float().cpu())
        outs["x"].append(r.x_adv.cpu())
        outs["first"].append(r.first_success.cpu())
    return AttackRun(attack.name, eps, target, torch.cat(outs["x"]), torch.cat(outs["clean"]),
                     torch.cat(outs["adv"]), torch.cat(outs["first"]), attack.iterative)
