"""The dense control: the trained model fine-tuned again, unpruned, with another method's budget.

Channel pruning gets several times the fine-tuning of unstructured pruning (10 epochs against 3, and
it distils the dense model), so a channel-pruned model that matches or beats its dense model may
owe that to the extra training rather than to pruning. The control answers that: the dense model
itself gets the same extra budget (same epochs, learning rate and distillation from its own
frozen copy), and is reported beside the pruned models. It is not a registered method (it
compresses nothing, so `compression_methods` cannot name it); C1 runs it after the sweep, with
the sweep's context, so a distilling budget reuses the teacher outputs the pruned models computed.
Its checkpoint is reused by the same reuse key as every compressed model (`finetune`).
"""
from __future__ import annotations

from typing import Any

from torch import nn

from .base import CompressionMethod, PruneAndFineTune

CONTROL = "dense_control"


class DenseControl(PruneAndFineTune):
    """Prunes nothing: `prune` returns the model unchanged; the budget is `like`'s."""
    name = CONTROL
    title = "dense model, fine-tuned again"
    family = "control"
    target_name = "none"
    default_targets = (0.0,)
    whitebox = False

    def __init__(self, like: CompressionMethod):
        super().__init__(like.budget)
        self.like = like.name
        self.default_budget = like.budget

    def label(self, target: float) -> str:
        return f"as-{self.like}"  # the file is checkpoints/dense_control/<Model>-as-<method>.pt

    def prune(self, model: nn.Module, target: float, ctx) -> tuple[nn.Module, dict[str, Any]]:
        return model, {"budget_of": self.like}
