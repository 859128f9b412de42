"""Training losses beyond the label-smoothed cross-entropy: distillation from a teacher, and an L1
penalty on BatchNorm scales (network slimming's sparsity training)."""
from __future__ import annotations

import hashlib

import torch
import torch.nn.functional as F
from torch import nn

from ..core.device import eval_mode
from .loop import LossFn


class RememberingTeacher(nn.Module):
    """A teacher that remembers its logits for every input batch it has seen.

    Several students distilled from one teacher with the same recipe and seed (the channel-pruned
    models of one dense model, say) are trained on exactly the same shuffled and augmented
    batches, so the teacher's outputs repeat from one student to the next. Remembering them by a
    digest of the batch's bytes computes each once; a batch it has not seen is computed. Eval mode,
    no gradients; logits float [B, classes] on the batch's device.
    """

    def __init__(self, teacher: nn.Module):
        super().__init__()
        self.teacher = teacher
        self.memory: dict[str, torch.Tensor] = {}
        self.hits = 0

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        autocast = torch.is_autocast_enabled(x.device.type)
        key = hashlib.blake2b(x.detach().cpu().numpy().tobytes(), digest_size=20).hexdigest() + f"|{x.shape}|{autocast}"
        if key in self.memory:
            self.hits += 1
            return self.memory[key].to(x.device)
        with eval_mode(self.teacher):
            logits = self.teacher(x)
        self.memory[key] = logits.detach().cpu()
        return logits


def distillation_loss(teacher: nn.Module, *, temperature: float = 4.0, alpha: float = 0.9,
                      label_smoothing: float = 0.0) -> LossFn:
    """Knowledge distillation (Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural
    Network", arXiv:1503.02531, 2015) as a `fit` loss_fn: alpha · T² · KL(softmax(teacher/T) ‖ softmax(student/T))
    + (1 − alpha) · cross-entropy with the labels, T = `temperature`.

    The teacher sees the student's own augmented batch x [B, C, H, W] in [0, 1], in eval mode and
    without gradients; logits are [B, classes]. The T² keeps the soft term's gradients on the scale
    of the hard one. A pruned model distilled from the dense model it came from recovers more of
    its accuracy than one fine-tuned on labels alone.
    """
    if not 0 <= alpha <= 1 or temperature <= 0:
        raise ValueError(f"distillation needs 0 ≤ alpha ≤ 1 and temperature > 0, not {alpha}, {temperature}")

    def loss(logits: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), eval_mode(teacher):
            soft = F.log_softmax(teacher(x).float() / temperature, 1)
        kl = F.kl_div(F.log_softmax(logits.float() / temperature, 1), soft, log_target=True, reduction="batchmean")
        return alpha * temperature ** 2 * kl + (1 - alpha) * F.cross_entropy(logits, y, label_smoothing=label_smoothing)

    return loss


def with_bn_l1(model: nn.Module, lam: float, label_smoothing: float = 0.0) -> LossFn:
    """Network slimming's sparsity-training loss (Liu et al., "Learning Efficient Convolutional
    Networks through Network Slimming", ICCV 2017, eq. 1): the label-smoothed cross-entropy plus
    lam · Σ|γ| over the scales γ of every BatchNorm layer of `model` (the model being trained: the
    loss holds its scales, which is how a loss sees the model). Its gradient adds lam · sign(γ), the
    paper's subgradient step; under a gradient scaler the penalty is scaled with the loss."""
    scales = [m.weight for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None]
    if not scales:
        raise ValueError(f"an L1 penalty on BatchNorm scales needs BatchNorm layers; {type(model).__name__} has none")

    def loss(logits: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        penalty = sum(g.abs().sum() for g in scales)
        return F.cross_entropy(logits, y, label_smoothing=label_smoothing) + lam * penalty

    return loss
