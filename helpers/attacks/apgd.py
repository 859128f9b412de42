"""APGD: Auto-PGD under an L∞ bound with the cross-entropy or the DLR loss, through torchattacks.

An evaluation attack, not an entry of the attack registry (this module defines no `ATTACK`): the
registry's protocol (B1 runs every attack untargeted *and* targeted, with `pgd_steps` steps of size
ε / `pgd_step_divisor`, and saves its iterates into the fixed adversarial set) does not fit an
attack that is untargeted here and chooses its own step sizes. The study runs it beside PGD as a
stronger evaluation of robust accuracy (`helpers.study.strong_attacks`).
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..core.device import eval_mode
from .base import AttackResult

LOSSES = {"ce": "APGD-CE", "dlr": "APGD-DLR"}  # loss -> title


def full_precision(device: torch.device):
    """A block that runs in fp32 even inside an autocast region (bf16 training, say)."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


def _torchattacks():
    try:
        import torchattacks
    except ImportError as e:  # an optional dependency: only the stronger evaluation needs it
        raise ImportError("APGD needs the package torchattacks (the Makefile installs it with --no-deps: "
                          ".venv/bin/pip install --no-deps torchattacks==3.5.1)") from e
    return torchattacks


def check_loss(loss: str, classes: int) -> None:
    """ValueError for an unknown loss, or for DLR on fewer than three classes."""
    if loss not in LOSSES:
        raise ValueError(f"APGD loss must be one of {sorted(LOSSES)}, not {loss!r}")
    if loss == "dlr" and classes < 3:
        raise ValueError(f"APGD with the DLR loss needs at least 3 classes (it divides by the gap between the "
                         f"largest and the third-largest logit); the model has {classes}")


def apgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, loss: str = "ce", steps: int = 100,
         restarts: int = 1, seed: int = 0, rho: float = 0.75) -> AttackResult:
    """Untargeted APGD under an L∞ bound (Croce & Hein, "Reliable evaluation of adversarial
    robustness with an ensemble of diverse parameter-free attacks", ICML 2020), as torchattacks 3.5.1
    (Kim 2020) implements it: `steps` sign-gradient steps with momentum 0.75, the step size starting
    at 2ε and halved where the loss stalls (checkpoints at 22 % of the steps, shrinking; `rho` the
    oscillation threshold), each step projected onto the ε-ball and [0, 1]; `restarts` random starts
    on the inputs no earlier start fooled. loss 'ce' ascends the cross-entropy, 'dlr' the
    Difference of Logits Ratio −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3), invariant to shifting and
    scaling the logits (so it needs at least 3 classes: ValueError otherwise).

    x float [B, C, H, W] in pixel space [0, 1]; y int64 [B]; ε in pixel units of [0, 1] (the model
    normalizes inside its first layer). The model runs in eval mode (given back in the mode it was
    in, parameters and buffers untouched) and in fp32: autocast is switched off inside, so a caller
    under bf16 autocast gets the same result as the study's PGD, which always runs in fp32 (the
    DLR denominator is a difference of nearby logits, which bf16 rounds to zero). The random start
    is seeded with `seed` (torchattacks reseeds torch's global generator; its state is restored
    afterwards, so the caller's random stream is unchanged), so a call is reproducible.

    Returns an `AttackResult`: x_adv [B, C, H, W], for each fooled input an iterate that fools the
    model, x itself for the others; first_success int64 [B] is 0 where the model already errs on x,
    -1 where no iterate of any start fooled it (robust, the criterion of AutoAttack), and `steps`
    where one did (torchattacks does not record which iteration; `steps` bounds it); clean_logits
    and adv_logits [B, classes] in eval mode.

    >>> result = apgd(model, images, labels, eps=0.03, loss="dlr", steps=100)
    >>> robust = result.first_success < 0   # bool [B]
    """
    torchattacks = _torchattacks()
    cuda = [x.device] if x.device.type == "cuda" else []
    with eval_mode(model), full_precision(x.device), torch.random.fork_rng(devices=cuda), torch.enable_grad():
        x = x.detach().float()
        with torch.no_grad():
            clean_logits = model(x)
        check_loss(loss, clean_logits.shape[1])
        attack = torchattacks.APGD(model, norm="Linf", eps=eps, steps=steps, n_restarts=restarts, seed=seed,
                                   loss=loss, rho=rho)
        robust, x_adv = attack.perturb(x, y, cheap=True)  # robust: correct at x and at every iterate
        x_adv = x_adv.detach()
        with torch.no_grad():
            adv_logits = model(x_adv)
    wrong = clean_logits.argmax(1) != y
    first = torch.where(wrong, 0, torch.where(robust, -1, steps))
    return AttackResult(x_adv, first, clean_logits, adv_logits)
