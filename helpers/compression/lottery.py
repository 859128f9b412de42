"""`lottery`: lottery tickets by iterative magnitude pruning with rewinding.

Frankle & Carbin, "The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks", ICLR
2019: train; prune a fixed share of each layer's remaining weights by magnitude (their rates per
layer type: 20 % of a linear layer's, 10 % of a convolution's and of the output layer's); reset
the survivors to their initial values; train again with the same budget; repeat. Frankle, Dziugaite,
Roy & Carbin, "Linear Mode Connectivity and the Lottery Ticket Hypothesis", ICML 2020: rewind to
the weights after k training steps instead (`rewind_step`; 0 is the original paper).

Here round 0 is A2's own model (with k = 0 the initial weights are rebuilt from A2's seed; with
k > 0 the method trains the dense model once more, keeping the weights after k steps). Every round
trains with A2's recipe (epochs, learning rate, early stopping on the selection split), rounds
continue until the largest target sparsity is reached, and every round is a point. At the round
that first reaches each target, two controls with the same sparsities and the same training: the
ticket's mask with a new random initialisation (`reinit`), and a random mask with the ticket's
per-layer sparsities on the rewound weights (`random`). Accuracy "before fine-tuning" is the
trained weights of the previous round under the new mask, before rewinding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import nn

from ..models.registry import build_model, classifier_layer
from ..training.config import TrainConfig
from .base import BaseModel, Compressed, CompressionContext, CompressionMethod, FineTuneBudget
from .magnitude import MagnitudePruning, make_permanent, mask_weight, prunable

ARMS = ("ticket", "reinit", "random")


def layer_rates(model: nn.Module, conv: float, linear: float, output: float) -> dict[str, float]:
    """The share of each prunable layer's remaining weights a round removes, by layer type."""
    last = set(map(id, classifier_layer(model)))
    return {n: output if id(m) in last else conv if isinstance(m, nn.Conv2d) else linear for n, m in prunable(model)}


def next_masks(model: nn.Module, masks: dict[str, torch.Tensor], rates: dict[str, float]) -> dict[str, torch.Tensor]:
    """Each layer's mask after removing `rates[layer]` of its surviving weights, smallest |w| first
    (model: the trained weights; masks: 1 keeps, float like the weights)."""
    out = {}
    for name, layer in prunable(model):
        w, mask = layer.weight.detach().abs().flatten().cpu(), masks[name].flatten().cpu()
        alive = int(mask.sum())
        drop = round(alive * rates[name])
        scores = torch.where(mask.bool(), w, torch.full_like(w, float("inf")))
        new = mask.clone()
        new[torch.argsort(scores, stable=True)[:drop]] = 0  # pruned weights sort last: inf
        out[name] = new.view_as(masks[name])
    return out


def random_masks(masks: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Masks with the same number of survivors per layer as `masks`, at random positions."""
    out = {}
    for name, mask in masks.items():
        keep = int(mask.sum())
        new = torch.zeros(mask.numel())
        new[torch.randperm(mask.numel(), generator=generator)[:keep]] = 1
        out[name] = new.view_as(mask)
    return out


def sparsity_of(masks: dict[str, torch.Tensor]) -> float:
    return 1 - sum(float(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())


def masked_model(arch: str, arch_args: dict[str, Any], state: dict[str, torch.Tensor],
                 masks: dict[str, torch.Tensor]) -> nn.Module:
    """A fresh model with `state` loaded and every prunable layer masked (torch.nn.utils.prune)."""
    model = build_model(arch, **arch_args)
    model.load_state_dict(state)
    for name, layer in prunable(model):
        mask_weight(layer, masks[name].to(layer.weight.dtype))
    return model


class LotteryTicket(CompressionMethod):
    """See the module docstring."""
    name = "lottery"
    title = "lottery tickets (Frankle & Carbin)"
    citation = "Frankle & Carbin, ICLR 2019; Frankle et al., ICML 2020"
    family = "unstructured"
    target_name = "sparsity"
    default_targets = (0.8, 0.9)
    default_budget = FineTuneBudget(epochs=0, lr=0.0)  # every round trains with A2's recipe instead
    whitebox = True
    narrative = ("**lottery**: lottery tickets (Frankle & Carbin 2019): iterative magnitude pruning in which every "
                 "round removes a fixed share of each layer's remaining weights, resets the survivors to their values "
                 "at initialisation (or after a few training steps, Frankle et al. 2020) and trains again with the "
                 "dense model's own recipe; controls with the same sparsities re-initialise the ticket's mask at "
                 "random, or draw a random mask.")

    @dataclass(frozen=True)
    class Settings:
        conv_rate: float = 0.1     # share of a convolution's remaining weights pruned per round
        linear_rate: float = 0.2   # of a hidden linear layer's
        output_rate: float = 0.1   # of the output layer's
        rewind_step: int = 0       # optimizer steps of training the survivors are reset to (0: initialisation)
        controls: bool = True      # train the re-initialised and random-mask controls at each target

        def __post_init__(self):
            for key in ("conv_rate", "linear_rate", "output_rate"):
                if not 0 < getattr(self, key) < 1:
                    raise ValueError(f"compression_settings: lottery {key} must lie in (0, 1), not {getattr(self, key)}")
            if self.rewind_step < 0:
                raise ValueError(f"compression_settings: lottery rewind_step must be ≥ 0, not {self.rewind_step}")

    label = MagnitudePruning.label
    check_target = MagnitudePruning.check_target
    achieved = MagnitudePruning.achieved
    save_twins = MagnitudePruning.save_twins

    def rounds_for(self, sparsity: float) -> int:
        """Rounds until the hidden linear layers (most of the weights) reach `sparsity`: the plan's count."""
        return math.ceil(math.log(1 - sparsity) / math.log(1 - self.settings.linear_rate))

    def point_count(self, targets: list[float], made: tuple = ()) -> int:
        return self.rounds_for(max(targets)) + (2 * len(targets) if self.settings.controls else 0)

    def training_epochs(self) -> int:
        return 0  # counted per model by shared_training

    def budget_text(self) -> str:
        return ("none: every round, and every control, is trained from its reset weights with the dense model's own "
                "training recipe (A2's epochs, learning rate and early stopping on the selection split)")

    def budget_words(self) -> str:
        return "a whole training per round (A2's recipe)"

    def shared_training(self, model_epochs: int, targets: list[float]) -> list[tuple[str, int]]:
        work = [(f"{self.rounds_for(max(targets))} ticket rounds", model_epochs * self.rounds_for(max(targets)))]
        controls = [(f"{2 * len(targets)} controls", model_epochs * 2 * len(targets))]
        return work + (controls if self.settings.controls else []) + (
            [("the dense model again", model_epochs)] if self.settings.rewind_step else [])

    def series(self, record) -> str:
        return {"ticket": "lottery ticket", "reinit": "lottery re-init", "random": "lottery random mask"}[
            record.details["arm"]]

    def apply(self, base: BaseModel, target: float, ctx: CompressionContext) -> Compressed:
        raise NotImplementedError("lottery tickets are made in rounds: see sweep")

    def sweep(self, base: BaseModel, targets: list[float], ctx: CompressionContext) -> Iterator[Compressed]:
        from .lottery_rounds import run_rounds
        yield from run_rounds(self, base, sorted(targets), ctx)

    def finish(self, model: nn.Module) -> nn.Module:
        return make_permanent(model)

    def findings(self, records, dense) -> tuple[str, list]:
        from .lottery_report import findings
        return findings(records, dense)

    @staticmethod
    def recipe(base: BaseModel) -> TrainConfig:
        """A2's training recipe of `base`: every round trains with it."""
        return TrainConfig(**base.checkpoint["train_config"])


METHOD = LotteryTicket
