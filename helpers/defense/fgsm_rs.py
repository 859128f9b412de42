"""Adversarial fine-tuning: the defense of Problem B.

FGSM with random start ("FGSM-RS", Wong, Rice & Kolter, "Fast is better than free: Revisiting
adversarial training", ICLR 2020): each training batch is replaced by x + δ, with δ drawn from
U[−ε, ε]^d and then moved one step α·sign(∇ₓ CE) and projected back to the ε-ball and [0, 1].
It costs one extra forward and backward pass per batch. Its known failure is catastrophic
overfitting: the model suddenly becomes robust to FGSM but not to PGD. The kept epoch is therefore
chosen by PGD robust accuracy on the selection split (Rice, Wong & Kolter, "Overfitting in
adversarially robust deep learning", ICML 2020), which also reveals the failure in the history:
the earliest epoch McNemar's test does not resolve below the best one (`training.selection`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ..attacks.pgd import pgd
from ..core.files import sha256_file
from ..core.reuse import reuse_key
from ..models.checkpoints import load_model
from ..robustness.worst_case import worst_case_pgd
from ..training.cached import Trained, fit_or_reuse
from ..training.config import TrainConfig


@dataclass
class DefenseConfig:
    eps: float                   # L∞ training budget, pixel units of [0, 1] (parameter defense_eps)
    alpha_ratio: float = 1.25    # FGSM-RS step α = alpha_ratio · ε (Wong et al.)
    select_steps: int = 10       # PGD steps of the per-epoch robust accuracy check on the selection split
    select_alpha_ratio: float = 0.25
    select_significance: float = 0.05  # the kept epoch: earliest not resolved below the best (McNemar, this level)


def fgsm_rs(eps: float, alpha: float):
    """The batch perturbation of FGSM-RS for `fit(perturb=...)`: x float [B, C, H, W] in [0, 1] ->
    x + δ with ‖δ‖∞ ≤ ε. The random start draws from the global generator, which `fit` seeds and
    saves with its resumable state."""
    def perturb(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return pgd(model, x, y, eps, alpha, 1, random_start=True).x_adv
    return perturb


def robust_accuracy_check(images: torch.Tensor, labels: torch.Tensor, cfg: DefenseConfig, device: torch.device,
                          seed: int = 0):
    """`fit(select_by=...)`: which selection images stay correct under untargeted PGD at the training
    ε (one restart), bool [N]; their mean is the robust accuracy."""
    def score(model: nn.Module) -> torch.Tensor:
        return worst_case_pgd(model, images, labels, cfg.eps, alpha=cfg.select_alpha_ratio * cfg.eps,
                              steps=cfg.select_steps, restarts=1, seed=seed, device=device)
    return score


def adversarial_finetune_or_load(base_checkpoint: Path, data, train_cfg: TrainConfig, defense: DefenseConfig, *,
                                 out_path: Path, device: torch.device) -> Trained:
    """Fine-tune the model of `base_checkpoint` with FGSM-RS and save it to `out_path`, or reuse
    `out_path` when it was made from the same base checkpoint, configs, data and code.

    data: `data.StudyData` (trains on train, chooses the epoch on selection). The fit result's
    history gives each epoch's `select_score`, its PGD robust accuracy on the selection split.
    """
    key = reuse_key(code=[__name__], kind="adversarial fine-tuning", base=sha256_file(base_checkpoint),
                    config=train_cfg, defense=defense, data=data.content_key())
    model, base = load_model(base_checkpoint)
    return fit_or_reuse(out_path, key, lambda: (model, base["arch"], base["arch_args"]), data.train, data.selection,
                        train_cfg, device=device, name=f"{base['arch']} adversarial fine-tuning",
                        perturb=fgsm_rs(defense.eps, defense.alpha_ratio * defense.eps),
                        select_by=robust_accuracy_check(data.selection.images, data.selection.labels, defense, device,
                                                        train_cfg.seed),
                        select_alpha=defense.select_significance,
                        defense=asdict(defense), base=str(base_checkpoint), classes=base.get("classes"))
