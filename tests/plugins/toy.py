"""A toy plugin: one model, one dataset, one attack and one compression method, each registered the
way README's "Extending the study" says, so the tests can show they flow through the study without
editing a notebook."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from helpers.attacks import Attack, AttackResult, register_attack
from helpers.attacks.base import goal_met
from helpers.compression import FineTuneBudget, PruneAndFineTune, register_method
from helpers.core.device import eval_mode
from helpers.data import ImageSet, StudyData, channel_stats, register_dataset
from helpers.models import ModelSpec, register_model
from helpers.models.layers import Normalize


# --- a model -----------------------------------------------------------------------------------
class ToyNet(nn.Module):
    """Two 3×3 convolutions (8 and 16 channels) and a linear classifier on a 4×4 grid of their
    features: about ten thousand parameters."""

    def __init__(self, num_classes: int = 10, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)):
        super().__init__()
        self.normalize = Normalize(list(mean), list(std))
        self.features = nn.Sequential(nn.Conv2d(len(mean), 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(16 * 16, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.normalize(x)))


register_model(ModelSpec("ToyNet", ToyNet, gradcam_layer="features.4"))


# --- a dataset -----------------------------------------------------------------------------------
def load_toy_grey(data_dir: str, image_size: int, *, on_bad_image: str = "error", subset_per_class: int = 0,
                  cache_dir: str = "") -> StudyData:
    """Three classes of grey images, told apart by which third of the image is bright."""
    g = torch.Generator().manual_seed(0)
    classes = ["left", "middle", "right"]

    def split(name: str, per_class: int) -> ImageSet:
        n = per_class * len(classes)
        labels = torch.arange(n) % len(classes)
        images = torch.randint(0, 80, (n, 1, image_size, image_size), dtype=torch.uint8, generator=g)
        third = image_size // 3
        for i, y in enumerate(labels.tolist()):
            images[i, :, :, y * third:(y + 1) * third] += 150
        return ImageSet(name, images, labels, [f"{classes[y]}/{i}" for i, y in enumerate(labels.tolist())], classes)

    per_class = subset_per_class or 12
    train, valid = split("train", per_class), split("valid", max(2, per_class // 2))
    mean, std = channel_stats(train.images)
    return StudyData(Path(data_dir or "toy"), train, valid, None, mean, std)


register_dataset("toy_grey", load_toy_grey)


# --- an attack -----------------------------------------------------------------------------------
class RandomSignNoise(Attack):
    """Random-sign noise at the full budget: x' = clip[0,1](x + ε·s), s ∈ {−1, 1}^d uniform. No
    gradient, so it is the baseline any real attack must beat. x [B, C, H, W] in [0, 1]."""
    name, title = "toy_noise", "Noise"
    citation = "random signs of size ε"

    def __call__(self, model, x, y, eps, *, target=None, generator=None, stop_on_success=False) -> AttackResult:
        signs = torch.randint(0, 2, x.shape, generator=generator, device=x.device).float() * 2 - 1
        x_adv = (x + eps * signs).clamp(0, 1)
        with torch.no_grad(), eval_mode(model):
            clean, adv = model(x), model(x_adv)
        first = torch.where(goal_met(clean, y, target), 0, torch.where(goal_met(adv, y, target), 1, -1))
        return AttackResult(x_adv, first, clean, adv)


register_attack(RandomSignNoise)


# --- a compression method --------------------------------------------------------------------------
class HalveFilters(PruneAndFineTune):
    """Zero the second half of every convolution's filters: a crude structured sparsity."""
    name, title = "toy_halving", "filter halving"
    family, target_name = "unstructured", "fraction of filters zeroed"
    default_targets = (0.5,)
    default_budget = FineTuneBudget(epochs=1, lr=1e-4)
    narrative = ("**toy_halving**: the second half of every convolution's filters set to zero before fine-tuning "
                 "(a test plugin: without masks, fine-tuning may move them again).")

    def check_target(self, target: float) -> str | None:
        return None if 0 < target < 1 else "a fraction must lie in (0, 1)"

    def prune(self, model, target, ctx):
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.Conv2d):
                    m.weight[int(m.out_channels * (1 - target)):] = 0
        return model, {}


register_method(HalveFilters)
