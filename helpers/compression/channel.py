"""`channel`: structured (channel) pruning to a MAC reduction — smaller layers, hence real speed.

Unstructured sparsity leaves every tensor its dense shape, so dense kernels run as slowly as
before. Channel pruning removes whole filters, and with them the matching input channels of the
next layers, BatchNorm entries and, across a residual connection, every layer the channel is
added to. Torch-Pruning finds these coupled groups with its dependency graph (Fang et al.,
"DepGraph: Towards Any Structural Pruning", CVPR 2023) and ranks a group's channels by the L2 norm
of all its weights (the group version of Li et al., "Pruning Filters for Efficient ConvNets",
ICLR 2017). Every layer loses the same fraction of channels, with widths rounded to multiples
of `round_to` (default 8: on the CPU, a ResNetSmall with widths such as 76 and 152 ran slower
than one with fewer MACs and widths that are multiples of 8; the price is coarser MAC steps on
SimpleCNN's narrow layers). The layers the model spec keeps whole (the classifier) keep their
outputs. Fine-tuning distils the dense model (Hinton, Vinyals & Dean 2015) by default.

A pruned model is saved as a plain state_dict with checkpoint metadata `structure:
channel-pruned`; `models.checkpoints.load_model` rebuilds the registered architecture and resizes
its layers to the saved tensors (`models.resize.resize_to`), so it loads back exactly with
weights_only.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..core.device import eval_mode
from ..data.splits import stratified_subset
from ..models.checkpoints import CHANNEL_PRUNED
from ..models.registry import spec_of
from .base import FineTuneBudget, PruneAndFineTune
from .criteria import CRITERIA, CRITERION_TEXT, RankOnce, check_setting, criterion
from .measure import macs_and_params

ROUND_TO = 8
ALLOCATIONS = ("uniform", "global")
# under global allocation no layer loses more than this fraction of its channels: a layer emptied
# would cut the network in two
GLOBAL_MAX_LAYER_RATIO = 0.9


def prune_channels(model: nn.Module, ratio: float, image_shape: tuple[int, int, int],
                   round_to: int = ROUND_TO, ranking: RankOnce | None = None,
                   allocation: str = "uniform") -> nn.Module:
    """Remove the fraction `ratio` (0 ≤ ratio < 1) of output channels, the lowest of `ranking`
    (default: group L2 magnitude, `criteria.CRITERIA`), keeping residual groups consistent: of every
    prunable layer alike (`allocation` "uniform"), or of all of them ranked together ("global", no
    layer losing more than GLOBAL_MAX_LAYER_RATIO). The layers the model spec keeps whole keep their
    outputs. image_shape: (C, H, W) of one input. Pruned in place and returned."""
    import torch_pruning as tp

    if not 0 <= ratio < 1:
        raise ValueError(f"channel pruning ratio must be in [0, 1), not {ratio}")
    check_setting("allocation", allocation, ALLOCATIONS)
    ranking = (ranking or criterion("l2")).bind(model)
    example = torch.rand(1, *image_shape, device=next(model.parameters()).device)
    ignored = spec_of(model).keep_whole(model)
    with eval_mode(model):
        per_layer = {} if allocation == "uniform" else global_ratios(model, ranking, ratio, example, ignored)
        pruner = tp.pruner.MetaPruner(model, example, importance=ranking, pruning_ratio=ratio,
                                      pruning_ratio_dict=per_layer, ignored_layers=ignored, round_to=round_to)
        pruner.step()
    return model


def scored_groups(model: nn.Module, importance, example: torch.Tensor, ignored: list[nn.Module]):
    """Torch-Pruning's dependency graph of `model` and, for every prunable group the importance
    scores, (root layer, its pruning function, scores per channel). example: one input batch."""
    import torch_pruning as tp

    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example)
    return graph, [(g[0].dep.target.module, g[0].dep.handler, imp) for g in graph.get_all_groups(ignored_layers=ignored)
                   if (imp := importance(g)) is not None]


def global_threshold(scores: list[torch.Tensor], fraction: float) -> torch.Tensor | None:
    """The score at or below which `fraction` of all the channels lie (None when that is none)."""
    everything = torch.cat(scores).sort().values
    count = round(fraction * len(everything))
    return everything[count - 1] if count else None


def global_ratios(model: nn.Module, ranking: RankOnce, ratio: float, example: torch.Tensor,
                  ignored: list[nn.Module]) -> dict[nn.Module, float]:
    """Each prunable layer's share of channels under one ranking over all layers: the channels at or
    below the score that removes `ratio` of them all, at most GLOBAL_MAX_LAYER_RATIO of a layer.
    (Torch-Pruning's own global pruning caps no layer within one step: asked for 80 % of SimpleCNN's
    channels it left one channel in the first convolution and skipped the third one whole.)"""
    _, scored = scored_groups(model, ranking, example, ignored)
    threshold = global_threshold([imp for *_, imp in scored], ratio)
    if threshold is None:
        return {module: 0.0 for module, *_ in scored}
    return {module: min(int((imp <= threshold).sum()), int(GLOBAL_MAX_LAYER_RATIO * len(imp))) / len(imp)
            for module, _, imp in scored}


def prune_to_macs(model: nn.Module, reduction: float, image_shape: tuple[int, int, int],
                  round_to: int = ROUND_TO, steps: int = 12,
                  ranking: RankOnce | None = None, allocation: str = "uniform") -> tuple[nn.Module, float]:
    """A pruned copy of `model` whose MACs are about 1/`reduction` of its own (reduction > 1).

    Bisects the channel ratio (MACs fall roughly as (1 − ratio)²) and returns the copy whose MAC
    reduction is closest to the target, with its ratio; `model` is left unchanged. Rounding
    widths to multiples of `round_to` makes the reachable reductions discrete. One `ranking`
    (default: group L2) serves every step, so the criterion scores each group once.
    """
    if reduction <= 1:
        raise ValueError(f"MAC reduction must be > 1, not {reduction}")
    macs0 = macs_and_params(model, image_shape)[0]
    lo, hi = 0.0, 0.95
    best: tuple[float, nn.Module, float] | None = None
    ranking = ranking or criterion("l2")
    for _ in range(steps):
        ratio = (lo + hi) / 2
        candidate = prune_channels(copy.deepcopy(model), ratio, image_shape, round_to, ranking, allocation)
        got = macs0 / macs_and_params(candidate, image_shape)[0]
        if best is None or abs(got - reduction) < best[0]:
            best = (abs(got - reduction), candidate, ratio)
        if got < reduction:
            lo = ratio
        else:
            hi = ratio
    return best[1], best[2]


def reference(split, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference batch a data-driven criterion reads: `per_class` images of each class of
    `split`, drawn with `seed` (`data.splits.stratified_subset`); (uint8 images, labels)."""
    chosen = stratified_subset(split, per_class, seed)
    return chosen.images, chosen.labels


def widths(model: nn.Module) -> dict[str, int]:
    """Output channels (Conv2d) or features (Linear) of every layer, in model order."""
    return {n: (m.out_channels if isinstance(m, nn.Conv2d) else m.out_features)
            for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}


class ChannelPruning(PruneAndFineTune):
    name = "channel"
    title = "channel pruning"
    citation = "Torch-Pruning, Fang et al. CVPR 2023; group L2 ranking after Li et al. ICLR 2017"
    family = "structured"
    target_name = "MAC reduction"
    signature_name = "widths"
    default_targets = (2.0, 4.0, 8.0)
    default_budget = FineTuneBudget(epochs=10, lr=1e-3, warmup_epochs=1, distill_alpha=0.9, distill_temperature=4.0)
    family_narrative = (
        "**Structured pruning** removes whole channels, so every layer becomes a smaller dense layer: the way to "
        "real speed on any hardware.")
    narrative_template = (
        "**{name}**: channel pruning with Torch-Pruning (Fang et al. 2023). Its dependency graph groups every "
        "layer a channel touches (the convolution that produces it, its BatchNorm, the layers that consume it, and "
        "everything joined by a residual addition), so removing a channel keeps the network consistent. {ranking}, "
        "{allocation}, widths are "
        "rounded to multiples of a fixed step (the CPU's kernels ran widths such as 76 or 152 markedly slower than "
        "multiples of 8), and the fraction is searched so that the multiply-accumulates (MACs) fall by about each "
        "targeted factor. Removing whole channels costs more accuracy than zeroing single weights, and labels alone "
        "recover it slowly, so the fine-tuning also **distils** the dense model the channels were cut from (Hinton, "
        "Vinyals & Dean 2015): the loss mixes the cross-entropy with the labels and the divergence from the dense "
        "model's softened predictions on the same augmented images. Each model is loaded back from its checkpoint "
        "(weights_only) to check that it reproduces its outputs exactly.")

    @property
    def narrative(self) -> str:  # the ranking sentence follows the criterion chosen
        return self.narrative_template.format(name=self.name, ranking=CRITERION_TEXT[self.settings.criterion],
                                              allocation=self._allocation_text())

    def narrative_after(self, described: list["CompressionMethod"]) -> str:
        """Once one channel-pruning method is described, another says only its ranking and allocation
        (the relevance and random controls would otherwise repeat the whole paragraph)."""
        first = next((m for m in described if isinstance(m, ChannelPruning)), None)
        if first is None:
            return self.narrative
        ranking = CRITERION_TEXT[self.settings.criterion]
        return (f"**{self.name}**: channel pruning as **{first.name}**, with its fine-tuning, except that "
                f"{ranking[0].lower()}{ranking[1:]}; {self._allocation_text()}.")

    def _allocation_text(self) -> str:
        return ("every layer loses the same fraction" if self.settings.allocation == "uniform" else
                "one ranking over all layers decides which channels go (no layer loses more than "
                f"{GLOBAL_MAX_LAYER_RATIO:.0%} of its own)")

    @dataclass(frozen=True)
    class Settings:
        round_to: int = ROUND_TO  # channel counts after pruning are multiples of this
        # prune each target from the previous target's fine-tuned model, not the dense one. Off by default:
        # chained down to 8 stem channels, ResNetSmall has a 1x1 stride-2 convolution from 8 channels whose
        # channels-last backward pass crashes torch 2.15's CPU kernels at odd batch sizes (35, the last
        # training batch of Sports-10; PGD's subsets)
        chain: bool = False
        # how channels are ranked (helpers/compression/criteria.py): l2 (group weight norm), bn_scale
        # (|γ| of the group's BatchNorm, network slimming's criterion) or random (seeded by the study's seed)
        criterion: str = "l2"
        # uniform: every layer loses the same fraction; global: one ranking over all layers decides
        allocation: str = "uniform"
        # the relevance criterion's reference batch: this many training images of each class (Yeom et al.
        # show the criterion works from a few per class; seeded by the study's seed)
        reference_per_class: int = 10

        def __post_init__(self):  # an unknown name fails here, naming compression_settings
            check_setting("criterion", self.criterion, sorted(CRITERIA))
            check_setting("allocation", self.allocation, ALLOCATIONS)
            if self.reference_per_class < 1:
                raise ValueError("compression_settings: channel reference_per_class must be ≥ 1, "
                                 f"not {self.reference_per_class}")

    def label(self, target: float) -> str:
        return f"{target:g}x"

    dense_value = 1.0

    def check_target(self, target: float) -> str | None:
        return None if target > 1 else "a MAC reduction must be > 1"

    def achieved(self, record, dense_macs: int) -> float:
        return dense_macs / record.macs

    def chained_target(self, target: float, previous, base, ctx) -> float:
        """The MAC reduction to ask of the previous point's model so the result is `target` times
        smaller than the dense model (at least a little further, or the widths repeat and the point
        is skipped as the same)."""
        image_shape = (ctx.data.channels, ctx.data.image_size, ctx.data.image_size)
        dense_macs = macs_and_params(base.model, image_shape)[0]
        return max(target * previous.macs / dense_macs, 1.01)

    def prune(self, model: nn.Module, target: float, ctx) -> tuple[nn.Module, dict[str, Any]]:
        image_shape = (ctx.data.channels, ctx.data.image_size, ctx.data.image_size)
        seed = ctx.train_cfg.seed
        ranking = criterion(self.settings.criterion, seed,
                            lambda: reference(ctx.data.train, self.settings.reference_per_class, seed))
        before = widths(model)
        pruned, ratio = prune_to_macs(model, target, image_shape, round_to=self.settings.round_to, ranking=ranking,
                                      allocation=self.settings.allocation)
        if widths(pruned) == before:  # e.g. bn_scale on a network without BatchNorm: no group was scored
            raise ValueError(f"compression method {self.name}: the {self.settings.criterion} criterion scored no "
                             f"channel of {type(model).__name__}, so nothing can be pruned to {target:g}x"
                             + (" (bn_scale needs BatchNorm layers)" if self.settings.criterion == "bn_scale" else ""))
        return pruned, {"channel_ratio": ratio, "widths": widths(pruned), "criterion": self.settings.criterion,
                        "allocation": self.settings.allocation}

    def signature(self, pruned: nn.Module) -> Any:
        return tuple(widths(pruned).values())  # two targets may round to the same widths

    def checkpoint_metadata(self, details: dict[str, Any]) -> dict[str, Any]:
        return {"structure": CHANNEL_PRUNED, "channel_ratio": details["channel_ratio"]}


METHOD = ChannelPruning
