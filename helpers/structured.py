"""Structured (channel) pruning: smaller layers, hence real speed on any hardware.

Unstructured sparsity leaves every tensor its dense shape, so dense kernels run as slowly as
before. Channel pruning removes whole filters, and with them the matching input channels of the
next layers, BatchNorm entries and, across a residual connection, every layer the channel is
added to. Torch-Pruning finds these coupled groups with its dependency graph (Fang et al.,
"DepGraph: Towards Any Structural Pruning", CVPR 2023) and ranks a group's channels by the L2 norm
of all its weights (the group version of Li et al., "Pruning Filters for Efficient ConvNets",
ICLR 2017). Every layer loses the same fraction of channels, with widths rounded to multiples
of `round_to` (default 8: on the CPU, a ResNetSmall with widths such as 76 and 152 ran slower
than one with fewer MACs and widths that are multiples of 8; the price is coarser MAC steps on
SimpleCNN's narrow layers). The classifier's outputs are never pruned.

A pruned model is saved as a plain state_dict with checkpoint metadata `structure:
channel-pruned`; `checkpoints.load_model` rebuilds the registered architecture and resizes its
layers to the saved tensors (`models.resize_to`), so it loads back exactly with weights_only.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from .runtime import eval_mode

ROUND_TO = 8


def macs_and_params(model: nn.Module, image_size: int) -> tuple[int, int]:
    """Multiply-accumulates of one forward pass on a 3×image_size×image_size input, and parameters."""
    import torch_pruning as tp

    device = next(model.parameters()).device
    with eval_mode(model):
        macs, params = tp.utils.count_ops_and_params(model, torch.rand(1, 3, image_size, image_size, device=device))
    return int(macs), int(params)


def prune_channels(model: nn.Module, ratio: float, image_size: int, round_to: int = ROUND_TO) -> nn.Module:
    """Remove the fraction `ratio` (0 ≤ ratio < 1) of output channels of every prunable layer, by
    group L2 magnitude and keeping residual groups consistent. The last Linear (the classes) keeps
    its outputs. Pruned in place and returned."""
    import torch_pruning as tp

    if not 0 <= ratio < 1:
        raise ValueError(f"channel pruning ratio must be in [0, 1), not {ratio}")
    classifier = [m for m in model.modules() if isinstance(m, nn.Linear)][-1:]
    device = next(model.parameters()).device
    with eval_mode(model):
        pruner = tp.pruner.MetaPruner(model, torch.rand(1, 3, image_size, image_size, device=device),
                                      importance=tp.importance.GroupMagnitudeImportance(p=2), pruning_ratio=ratio,
                                      ignored_layers=classifier, round_to=round_to)
        pruner.step()
    return model


def prune_to_macs(model: nn.Module, reduction: float, image_size: int, round_to: int = ROUND_TO,
                  steps: int = 12) -> tuple[nn.Module, float]:
    """A pruned copy of `model` whose MACs are about 1/`reduction` of its own (reduction > 1).

    Bisects the channel ratio (MACs fall roughly as (1 − ratio)²) and returns the copy whose MAC
    reduction is closest to the target, with its ratio; `model` is left unchanged. Rounding
    widths to multiples of `round_to` makes the reachable reductions discrete.
    """
    if reduction <= 1:
        raise ValueError(f"MAC reduction must be > 1, not {reduction}")
    macs0 = macs_and_params(model, image_size)[0]
    lo, hi = 0.0, 0.95
    best: tuple[float, nn.Module, float] | None = None
    for _ in range(steps):
        ratio = (lo + hi) / 2
        candidate = prune_channels(copy.deepcopy(model), ratio, image_size, round_to)
        got = macs0 / macs_and_params(candidate, image_size)[0]
        if best is None or abs(got - reduction) < best[0]:
            best = (abs(got - reduction), candidate, ratio)
        if got < reduction:
            lo = ratio
        else:
            hi = ratio
    return best[1], best[2]


def widths(model: nn.Module) -> dict[str, int]:
    """Output channels (Conv2d) or features (Linear) of every layer, in model order."""
    return {n: (m.out_channels if isinstance(m, nn.Conv2d) else m.out_features)
            for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
