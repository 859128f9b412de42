"""How channel pruning ranks channels: the criterion, and a ranking computed once per target.

Torch-Pruning's `MetaPruner` asks its importance for a score per channel of every coupled group
(the convolution that produces a channel, its BatchNorm, the layers that consume it) and removes
the lowest-scored channels. `channel.prune_to_macs` bisects the pruning ratio on deep copies of
one model, so without care the criterion is evaluated again at each of its steps: wasted work for
a weight norm, and for a random criterion a different ranking at each step. `RankOnce` scores each
group once (keyed by its layer's name and channel indices, which the copies share) and answers
every later step from that record.

Criteria (`CRITERIA`; each a Torch-Pruning importance, so every group's members are scored alike):
- `l2`: the L2 norm of all the group's weights (the group version of Li et al., "Pruning Filters for
  Efficient ConvNets", ICLR 2017). The default.
- `bn_scale`: |γ| of the group's BatchNorm layers, network slimming's criterion (Liu et al.,
  "Learning Efficient Convolutional Networks through Network Slimming", ICCV 2017), here on a normally
  trained model.
- `relevance`: the relevance each channel receives by layer-wise relevance propagation on a small
  reference batch of training images (Yeom et al., "Pruning by Explaining", Pattern Recognition
  2021; `explain.relevance`), normalised per layer.
- `random`: uniform scores from a generator seeded by the study's seed: the control every criterion
  must beat.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn


def _l2() -> Any:
    import torch_pruning as tp
    return tp.importance.GroupMagnitudeImportance(p=2)


def _bn_scale() -> Any:
    import torch_pruning as tp
    return tp.importance.BNScaleImportance()


class SeededRandom:
    """Uniform scores in [0, 1) from a generator of its own (so the ranking depends on `seed` only)."""

    def __init__(self, seed: int = 0):
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, group, **_: Any) -> torch.Tensor:
        return torch.rand(len(group[0].idxs), generator=self.generator)


class Relevance:
    """Yeom et al.'s filter relevance: per layer, the |relevance| each output channel receives on the
    reference batch (`explain.relevance.filter_relevance`), divided by the layer's total, so that
    layers compare in one global ranking. A group's score is the mean over its convolutions and
    linear layers whose outputs it removes (a residual group couples several). Computed once, on
    the first model bound (`bind`): the bisection's copies are that model, unpruned."""

    def __init__(self, reference: Callable[[], tuple[torch.Tensor, torch.Tensor]]):
        self.reference = reference
        self.model: nn.Module | None = None
        self.per_layer: dict[str, torch.Tensor] | None = None
        self._names: dict[nn.Module, str] = {}

    def bind(self, model: nn.Module) -> None:
        self.model, self._names = model, {m: n for n, m in model.named_modules()}

    def _relevance(self) -> dict[str, torch.Tensor]:
        if self.per_layer is None:
            from ..explain.relevance import filter_relevance
            images, labels = self.reference()
            raw = filter_relevance(self.model, images, labels, next(self.model.parameters()).device)
            self.per_layer = {n: r / r.sum().clamp_min(1e-12) for n, r in raw.items()}
        return self.per_layer

    def __call__(self, group, **_: Any) -> torch.Tensor:
        import torch_pruning as tp
        out_fns = (tp.pruner.function.prune_conv_out_channels, tp.pruner.function.prune_linear_out_channels)
        relevance = self._relevance()
        total, members = torch.zeros(len(group[0].idxs)), 0
        for i, (dep, idxs) in enumerate(group):
            name, root = self._names.get(dep.layer), group[i].root_idxs
            if any(r is None for r in root):  # Torch-Pruning's own importances skip such members too
                continue
            if dep.pruning_fn in out_fns and name in relevance:  # root_idxs: the channel's place in the group
                total.scatter_add_(0, torch.tensor(root), relevance[name][torch.tensor(idxs)])
                members += 1
        return total / max(members, 1)


CRITERIA: dict[str, Callable[..., Any]] = {
    "l2": lambda seed, reference: _l2(),
    "bn_scale": lambda seed, reference: _bn_scale(),
    "relevance": lambda seed, reference: Relevance(reference),
    "random": lambda seed, reference: SeededRandom(seed),
}

# the report's sentence for each criterion (`channel.ChannelPruning.narrative`)
CRITERION_TEXT = {
    "l2": "Channels are ranked by the L2 norm of their group's weights",
    "bn_scale": ("Channels are ranked by the magnitude |γ| of their BatchNorm scales (network slimming's criterion, "
                 "Liu et al. 2017, here on a normally trained model)"),
    "relevance": ("Channels are ranked by the relevance they receive in layer-wise relevance propagation (Yeom et "
                  "al. 2021): the logit of each reference image's true class is propagated down with zennit's z+ "
                  "rule on convolutions and ε rule on dense layers (BatchNorm merged, residual sums split in "
                  "proportion), |R| is summed per channel over a small batch of training images and divided by its "
                  "layer's total"),
    "random": "Channels are ranked at random (a seeded control: any criterion worth its cost must beat it)",
}


def check_setting(setting: str, value: str, known) -> None:
    """A channel-pruning setting's value must be one of `known`: the error names the parameter."""
    if value not in known:
        raise ValueError(f"compression_settings: channel {setting} {value!r} is unknown; known: {', '.join(known)}")


def criterion(name: str, seed: int = 0,
              reference: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None) -> "RankOnce":
    """The named criterion (`CRITERIA`), wrapped so each group is scored once. `reference()` gives
    the (uint8 images, labels) a data-driven criterion (relevance) reads; it is called only then."""
    check_setting("criterion", name, sorted(CRITERIA))
    if name == "relevance" and reference is None:
        raise ValueError("the relevance criterion needs reference images")
    return RankOnce(CRITERIA[name](seed, reference))


class RankOnce:
    """A Torch-Pruning importance that scores each group once and replays the scores.

    `bind(model)` before each pruner step names the modules of the copy being pruned; a group is
    then known by (its first layer's name, its channel indices), the same in every deep copy of the
    model. Scores are cloned on the way out, so the pruner cannot alter the record."""

    def __init__(self, importance: Any):
        self.importance = importance
        self.scores: dict[tuple[str, tuple[int, ...]], torch.Tensor] = {}
        self._names: dict[nn.Module, str] = {}

    def bind(self, model: nn.Module) -> "RankOnce":
        self._names = {m: n for n, m in model.named_modules()}
        if hasattr(self.importance, "bind"):
            self.importance.bind(model)
        return self

    def __call__(self, group, **kwargs: Any) -> torch.Tensor:
        first = group[0]
        key = (self._names[first.dep.target.module], tuple(int(i) for i in first.idxs))
        if key not in self.scores:
            score = self.importance(group, **kwargs)
            if score is None:  # Torch-Pruning's importances skip groups they cannot score
                return None
            self.scores[key] = score.detach().clone()
        return self.scores[key].clone()
