"""Unstructured magnitude pruning: the primitives of the `global` and `layerwise` methods.

Magnitude pruning (Han, Pool, Tran & Dally, "Learning both Weights and Connections for Efficient
Neural Networks", NeurIPS 2015): the weights of smallest |w| are set to zero, either by one
threshold over all pruned layers (**global**) or by the same fraction in every layer
(**layerwise**). Pruned layers are those the model spec calls prunable (by default every Conv2d
and Linear weight; biases and BatchNorm are kept). Masks are torch.nn.utils.prune's: during
fine-tuning the layer computes with weight_orig · mask, so pruned weights stay exactly zero;
`make_permanent` folds the masks in before saving.
"""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch
from torch import nn
from torch.nn.utils import prune

from ..models.registry import spec_of
from .base import FineTuneBudget, PruneAndFineTune


def prunable(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of the layers whose weights pruning may zero, as the model's spec says."""
    return spec_of(model).prunable(model)


class LayoutKeepingMask(prune.CustomFromMask):
    """torch's fixed-mask hook whose masked weight keeps the strides of `weight_orig`. A convolution
    with one input channel (LeNet-5's first layer on grey images) has a weight that is both NCHW- and
    channels-last-contiguous; `orig · mask` comes out with NCHW strides, and oneDNN then runs that
    layer on a slow path for channels-last inputs: masked LeNet-5 trained 1.6x slower than dense
    (75 against 47 ms per batch of 128, fp32, AVX2 CPU) until the layout was kept."""

    def apply_mask(self, module: nn.Module) -> torch.Tensor:
        masked = super().apply_mask(module)
        orig = getattr(module, self._tensor_name + "_orig")
        if masked.stride() == orig.stride():
            return masked
        return torch.empty_strided(orig.size(), orig.stride(), dtype=masked.dtype,
                                   device=masked.device).copy_(masked)


def mask_weight(module: nn.Module, mask: torch.Tensor) -> nn.Module:
    """Prune `module.weight` with a fixed 0/1 `mask` of its shape, as torch.nn.utils.prune does
    (weight_orig and weight_mask, a forward pre-hook), the masked weight keeping its layout."""
    LayoutKeepingMask.apply(module, "weight", mask=mask)
    return module


def magnitude_masks(weights: list[torch.Tensor], amount: float, method: str) -> list[torch.Tensor]:
    """0/1 masks zeroing the fraction `amount` of smallest |w|: over all `weights` together
    ('global', torch's global_unstructured) or in each alike ('layerwise', torch's l1_unstructured)."""
    rule = prune.L1Unstructured(amount)
    if method == "layerwise":  # contiguous: compute_mask views the weight flat
        return [rule.compute_mask(w.detach().contiguous(), torch.ones(w.shape, device=w.device)) for w in weights]
    scores = torch.cat([w.detach().abs().flatten() for w in weights])
    keep = rule.compute_mask(scores, torch.ones(scores.shape, device=scores.device))
    return [part.view(w.shape) for part, w in zip(keep.split([w.numel() for w in weights]), weights)]


def prune_magnitude(model: nn.Module, amount: float, method: str,
                    only: list[str] | None = None) -> nn.Module:
    """Zero the fraction `amount` (0 ≤ amount < 1) of smallest-magnitude weights, globally over the
    layers or in each layer alike; `only` restricts pruning to the named layers (e.g. one layer
    for a sensitivity scan). The model is pruned in place, with masks, and returned."""
    if method not in ("global", "layerwise"):
        raise ValueError(f"pruning method must be 'global' or 'layerwise', not {method!r}")
    if not 0 <= amount < 1:
        raise ValueError(f"pruning amount must be in [0, 1), not {amount}")
    layers = [(n, m) for n, m in prunable(model) if only is None or n in only]
    if only is not None and len(layers) != len(only):
        known = [n for n, _ in prunable(model)]
        raise ValueError(f"unknown layers {sorted(set(only) - set(known))}; prunable layers: {known}")
    for (_, m), mask in zip(layers, magnitude_masks([m.weight for _, m in layers], amount, method)):
        mask_weight(m, mask)
    return model


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold every pruning mask into its weight (weight = weight_orig · mask) and drop the mask."""
    for _, m in prunable(model):
        if prune.is_pruned(m) and hasattr(m, "weight_mask"):
            prune.remove(m, "weight")
    return model


class MagnitudePruning(PruneAndFineTune):
    """Unstructured magnitude pruning to a sparsity, fine-tuned with its masks kept, saved dense
    and as a sparse twin (`sparse_checkpoint`). Subclasses choose `mode`: one threshold over all
    prunable layers ('global') or the same fraction in each ('layerwise')."""
    mode: ClassVar[str]
    family = "unstructured"
    target_name = "sparsity"
    citation = "Han, Pool, Tran & Dally, NeurIPS 2015"
    default_targets = (0.5, 0.8, 0.9, 0.95)
    default_budget = FineTuneBudget(epochs=3, lr=5e-4, warmup_epochs=0)
    family_narrative = (
        "**Unstructured magnitude pruning** (Han et al. 2015) sets the weights of smallest magnitude to zero in "
        "every convolutional and linear layer. Each pruned model is fine-tuned for a few epochs at a smaller "
        "learning rate with its masks kept, so the pruned weights stay exactly zero, and the pruning is then made "
        "permanent. Zeros alone make a model neither smaller nor faster: a dense checkpoint stores them, and dense "
        "kernels multiply by them. So each pruned model is also saved in a **sparse checkpoint** (a 1-bit mask per "
        "weight plus the non-zero values), and its latency is measured. **Sparsity** is the fraction of zeros among "
        "the weights of the pruned layers; over all parameters (biases, BatchNorm) it is a little lower.")

    def label(self, target: float) -> str:
        return f"s{target:g}"

    def check_target(self, target: float) -> str | None:
        return None if 0 < target < 1 else "a sparsity must lie in (0, 1)"

    def achieved(self, record, dense_macs: int) -> float:
        return record.sparsity

    def prune(self, model: nn.Module, target: float, ctx) -> tuple[nn.Module, dict]:
        return prune_magnitude(model, target, self.mode), {}

    def finish(self, model: nn.Module) -> nn.Module:
        return make_permanent(model)

    def save_twins(self, model: nn.Module, path: Path, base) -> Path:
        from .sparse_checkpoint import save_sparse
        twin = path.with_name(f"{path.stem}-sparse.pt")
        return save_sparse(twin, model, base.checkpoint["arch"], base.checkpoint["arch_args"],
                           classes=base.checkpoint.get("classes"))
