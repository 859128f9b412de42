"""The contract of a compression method, and what every method returns.

A compression method is one module of this folder defining `METHOD`, a `CompressionMethod`
subclass (or a plugin's class passed to `register_method`). It takes a trained model, the data, a
target (a sparsity, a MAC reduction ...) and a fine-tuning budget, and returns the compressed model
with its `CompressionRecord`: non-zeros, MACs, parameters, checkpoint and compressed sizes, accuracy
before and after fine-tuning, and the checkpoint's path. C1 applies every method the parameters
name to every model; C2 attacks what they produced. Methods that start from the trained model and
fine-tune it derive from `PruneAndFineTune` and write only `prune`; methods that train from
scratch (sparsity training, lottery-ticket rewinding) override `apply`.
"""
from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, Iterator

import torch
from torch import nn

from ..core.layout import RunLayout
from ..training.config import TrainConfig


@dataclass(frozen=True)
class FineTuneBudget:
    """How much training a compressed model gets: epochs at peak learning rate `lr` (cosine decay
    after `warmup_epochs` of linear warm-up), optionally distilling the dense model (weight
    `distill_alpha`, 0 for labels only; softmax temperature `distill_temperature`)."""
    epochs: int
    lr: float
    warmup_epochs: int = 0
    distill_alpha: float = 0.0
    distill_temperature: float = 4.0

    def describe(self) -> str:
        text = f"{self.epochs} epoch{'' if self.epochs == 1 else 's'} at learning rate {self.lr:g}"
        if self.warmup_epochs:
            text += f" ({self.warmup_epochs} warm-up)"
        if self.distill_alpha > 0:
            text += (f", distilling the dense model (weight {self.distill_alpha:g}, "
                     f"temperature {self.distill_temperature:g})")
        return text + (", labels only" if self.distill_alpha == 0 and self.epochs else "")


@dataclass
class BaseModel:
    """A trained model to compress: its name, the model (eval mode), its checkpoint dict and path."""
    name: str
    model: nn.Module
    checkpoint: dict[str, Any]
    path: Path


@dataclass
class CompressionContext:
    """What every method needs around it: data, the study's training recipe (fine-tuning keeps its
    augmentation, batch size, precision and seed), where to write, the device, and one shared
    memory of each dense model's outputs for distillation (`training.losses.RememberingTeacher`), and
    the models the other methods made before (`made`)."""
    data: Any
    train_cfg: TrainConfig
    layout: RunLayout
    device: torch.device
    teachers: dict[str, nn.Module] = field(default_factory=dict)
    # every model made so far in this C1, by (model, method, point), with its record: a method that
    # `reads_points` (int8 quantizes the channel-pruned models) runs after the others and reads it
    made: dict[tuple[str, str, str], tuple[nn.Module, "CompressionRecord"]] = field(default_factory=dict)


@dataclass
class CompressionRecord:
    """What C1 reports of one compressed model (sizes in MB; `acc_pre_ft` and `acc` are fractions of
    the validation split, the reported one; `select_acc`, after fine-tuning, of the selection split,
    which C2's choices read). `path` and `compressed_path` are relative to the run directory."""
    model: str
    method: str
    family: str
    target: float
    point: str
    params: int = 0               # parameters of the stored model
    nonzero: int = 0              # non-zero parameters
    sparsity: float = 0.0         # zeros among the weights pruning may touch
    macs: int = 0                 # multiply-accumulates of one forward pass (dense arithmetic)
    acc_pre_ft: float | None = None
    acc: float | None = None      # after fine-tuning
    select_acc: float | None = None  # after fine-tuning, on the selection split
    correct: str = ""             # after fine-tuning, which validation images it gets right ('0'/'1' per image)
    select_correct: str = ""      # the same on the selection split (the paired tests of the choices read it)
    size_mb: float = 0.0          # the checkpoint
    size_compressed_mb: float = 0.0  # the smallest file that restores the model exactly
    path: str = ""
    compressed_path: str = ""
    finetune_s: float = 0.0
    finetune_epochs: int = 0
    reused: bool = False
    created_at: str = ""
    skipped: str = ""             # why no model was made for this target (e.g. same as another point)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Compressed:
    model: nn.Module | None
    record: CompressionRecord


class CompressionMethod(ABC):
    """One compression method (see the module docstring).

    Class attributes: `name` (parameter and file name), `title` and `citation` (for the report),
    `family` ('unstructured', 'structured' ...), `target_name` (what a target means, e.g.
    'sparsity'), `default_targets`, `default_budget`, and `Settings`, a dataclass of the method's
    own settings with their defaults. `whitebox`: its models can be attacked with gradients.
    `narrative` (markdown) tells the report's reader what the method does; `family_narrative`, what
    all methods of its family share (shown once per family).
    """
    name: ClassVar[str]
    title: ClassVar[str]
    citation: ClassVar[str] = ""
    narrative: ClassVar[str] = ""
    family_narrative: ClassVar[str] = ""
    family: ClassVar[str]
    target_name: ClassVar[str]
    default_targets: ClassVar[tuple[float, ...]]
    default_budget: ClassVar[FineTuneBudget]
    whitebox: ClassVar[bool] = True
    reads_points: ClassVar[bool] = False  # compresses other methods' points (`CompressionContext.made`): runs last

    @dataclass(frozen=True)
    class Settings:
        pass

    def __init__(self, budget: FineTuneBudget | None = None, settings: Any = None):
        self.budget = budget or self.default_budget
        self.settings = settings or self.Settings()

    @classmethod
    def configure(cls, budget: dict[str, Any], settings: dict[str, Any]) -> "CompressionMethod":
        """The method with overrides of its budget and settings (plain dicts from the parameters)."""
        return cls(replace(cls.default_budget, **budget), replace(cls.Settings(), **settings))

    @classmethod
    def setting_names(cls) -> list[str]:
        return [f.name for f in fields(cls.Settings)]

    def label(self, target: float) -> str:
        """How a point is named in tables, files and summary keys, e.g. 's0.8' or '4x'."""
        return f"{target:g}"

    def check_target(self, target: float) -> str | None:
        """None when `target` is admissible, else what is wrong with it."""
        return None

    made_verb: ClassVar[str] = "fine-tuned"  # what making one point does, in C1's account of the work

    def narrative_after(self, described: list["CompressionMethod"]) -> str:
        """The narrative where C1 has already described the methods in `described`: by default the
        whole narrative; a variant of a described method says only how it differs."""
        return self.narrative

    def targets_text(self, targets: list[float]) -> str:
        """C1's words for the targets a study gave this method ('Targets (sparsity): s0.5, s0.8')."""
        return f"Targets ({self.target_name}): " + ", ".join(self.label(t) for t in targets)

    def budget_text(self) -> str:
        """The fine-tuning one point gets, in words for the report."""
        return self.budget.describe()

    def budget_words(self) -> str:
        """The budget in a few words, where C1 lists unequal budgets ('10 epochs with distillation')."""
        e = self.budget.epochs
        return f"{e} epoch{'' if e == 1 else 's'}{' with distillation' if self.budget.distill_alpha > 0 else ''}"

    def training_epochs(self) -> int:
        """Epochs of training one point costs (the plan counts them): the budget's, unless the
        method trains more than once per point."""
        return self.budget.epochs

    # what the dense model scores on the target's scale (sparsity 0, MAC reduction 1 ...)
    dense_value: ClassVar[float] = 0.0

    def achieved(self, record: "CompressionRecord", dense_macs: int) -> float:
        """Where a compressed model landed on the target's scale (measured, not asked for)."""
        return record.target

    @abstractmethod
    def apply(self, base: BaseModel, target: float, ctx: CompressionContext) -> Compressed:
        """Compress `base` to `target` within the method's budget; write its checkpoint(s)."""

    def sweep(self, base: BaseModel, targets: list[float], ctx: CompressionContext) -> Iterator[Compressed]:
        """Every point this method makes of `base`, in order: by default `apply` at each target. A
        method whose points share work (sparsity training per λ, lottery-ticket rounds) overrides it
        and yields each point as it is made, each cached under its own reuse key."""
        for target in targets:
            yield self.apply(base, target, ctx)

    def point_count(self, targets: list[float], made: tuple = ()) -> int:
        """How many points `sweep` yields for these targets (progress lines count them); `made`: the
        (model, method, point) keys made so far for this model, for a method that `reads_points`."""
        return len(targets)

    def shared_training(self, model_epochs: int, targets: list[float]) -> list[tuple[str, int]]:
        """Training beyond the points' own (`training_epochs` each), for the plan: (what, epochs)
        pairs, `model_epochs` being what the study trains the dense model for (e.g. slimming's
        sparsity training per λ, lottery-ticket rounds)."""
        return []

    def findings(self, records: list["CompressionRecord"], dense: dict[str, Any]) -> tuple[str, list]:
        """What this method shows beyond its points, for C1: (markdown, [(figure, what, caption)]),
        e.g. slimming's training curves and scale histograms per λ. `records`: its points made;
        `dense`: C1's dense models and their figures. Nothing by default."""
        return "", []

    def series(self, record: "CompressionRecord") -> str:
        """The line a point belongs to in C1's figures: the method, unless its points form several
        (slimming's, one per λ)."""
        return self.name

    def load(self, path: Path) -> nn.Module:
        """The model a checkpoint of this method holds (loaded with weights_only)."""
        from ..models.checkpoints import load_model
        return load_model(path)[0]


class PruneAndFineTune(CompressionMethod):
    """Methods that remove weights or channels from the trained model, then fine-tune it.

    `prune(model, target)` returns the pruned model (not fine-tuned) and plain-data details; a
    `signature` equal to an earlier point's (the same widths after rounding, say) skips the point.
    `finish` prepares the fine-tuned model for saving; `save_twins` writes compact copies.
    `signature_name` says what the signature is, for the report ("widths").

    A method whose Settings has `chain = True` prunes each target (in the order given) from the
    fine-tuned model of its previous target rather than from the dense model, so every point
    starts from weights that already recovered from the last cut; `chained_target` says what the
    target means relative to that starting point.
    """
    signature_name: ClassVar[str] = "model"

    def __init__(self, budget: FineTuneBudget | None = None, settings: Any = None):
        super().__init__(budget, settings)
        self._seen: dict[tuple[str, Any], str] = {}
        self._previous: dict[str, tuple[nn.Module, CompressionRecord, str]] = {}  # per base model, when chaining

    @property
    def chains(self) -> bool:
        return bool(getattr(self.settings, "chain", False))

    def chained_target(self, target: float, previous: CompressionRecord, base: BaseModel, ctx) -> float:
        """The target to prune the previous point's model to, so that the result reaches `target`
        relative to the dense model (sparsity: the same, as zeros stay zero and rank first)."""
        return target

    @abstractmethod
    def prune(self, model: nn.Module, target: float, ctx: CompressionContext) -> tuple[nn.Module, dict[str, Any]]:
        """Prune `model` (a copy, free to change) to `target`; returns it and plain-data details."""

    def signature(self, pruned: nn.Module) -> Any:
        return None

    def finish(self, model: nn.Module) -> nn.Module:
        return model

    def checkpoint_metadata(self, details: dict[str, Any]) -> dict[str, Any]:
        return {}

    def save_twins(self, model: nn.Module, path: Path, base: BaseModel) -> Path:
        """Write compact copies of the saved model; returns the smallest file that restores it."""
        return path

    def apply(self, base: BaseModel, target: float, ctx: CompressionContext) -> Compressed:
        from .measure import measure
        from .finetune import finetune_or_load

        point = self.label(target)
        start, relative, after = base.model, target, ""
        if self.chains and base.name in self._previous:
            start, previous, after = self._previous[base.name]
            relative = self.chained_target(target, previous, base, ctx)
        pruned, details = self.prune(copy.deepcopy(start), relative, ctx)
        signature = self.signature(pruned)
        if signature is not None:
            earlier = self._seen.setdefault((base.name, signature), point)
            if earlier != point:
                return Compressed(None, CompressionRecord(base.name, self.name, self.family, target, point,
                                                          skipped=f"the same {self.signature_name} as {earlier}"))
        from ..evaluation.predict import accuracy
        acc_pre = accuracy(pruned, ctx.data.valid.images, ctx.data.valid.labels, ctx.device)
        path = ctx.layout.compressed(self.name, base.name, point)
        trained = finetune_or_load(self, path, pruned, base, target, details, ctx, after=after)
        smallest = self.save_twins(trained.model, path, base)
        record = measure(self, trained, base, target, point, acc_pre, smallest, ctx)
        record.details.update(details, **({"chained_from": self._previous[base.name][1].point}
                                          if after else {}))
        if self.chains:
            self._previous[base.name] = (trained.model, record, trained.key)
        return Compressed(trained.model, record)
